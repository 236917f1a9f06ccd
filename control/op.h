/* op.h - the contract between the admin API front (HTTP server, SigV4, model validation,
 * routing, errors, throttling, CloudTrail) and the operations (the Redis-backed semantics).
 *
 * The front parses and authenticates a request, builds the operation's input as a JSON object
 * with the service model's member names (path and query members such as ResourceArn and
 * tagKeys are moved into it), validates it against the model (required, lengths, patterns,
 * enums, ranges), then runs the operation on a libuv thread-pool thread with that thread's own
 * synchronous Redis connection, so the event loop never waits on Redis. The operation returns
 * its output as a JSON object with model member names (timestamps as JSON numbers of epoch
 * seconds); the front serialises it, or the error, in the AWS shape. */
#ifndef CTL_OP_H
#define CTL_OP_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "envelope.h"

struct redisContext;
struct wl_net_inventory; /* --network (common/network_inventory.h); may be NULL */

/* Process-wide settings; read-only after start-up, shared by all threads. */
struct ctl_config {
    char account_id[16]; /* default account id (12 digits) */
    char region[32];
    struct wl_master_key master_key;
    const struct wl_net_inventory *network;
    char gateway_url_base[256];    /* e.g. "https://%s.gateway.example.com" style base for SP ACS */
    int64_t fleet_create_delay_ms; /* CREATING -> ACTIVE (reconciler) */
    int64_t domain_associate_delay_ms; /* ASSOCIATING -> ACTIVE (reconciler) */
    int64_t fleet_delete_delay_ms;     /* DELETING -> DELETED (reconciler) */
    int64_t gateway_ttl_ms; /* a gateway whose last heartbeat is older is gone (reconciler) */
    int64_t fleet_drain_ms; /* DELETING -> DELETED at the latest this long after DeleteFleet */
    int wait_replicas;      /* writes: WAIT for this many replicas (0 = single node) ... */
    int64_t wait_ms;        /* ... at most this long, else InternalServerErrorException */
};

/* One call. Owned by the front; borrowed by the operation for the duration of the call. */
struct ctl_ctx {
    struct redisContext *redis; /* synchronous connection of this thread; never NULL */
    const struct ctl_config *cfg;
    const char *account_id; /* the calling principal's account */
    const char *principal;  /* principal name from the credentials file */
    const char *request_id;
    int64_t now_ms;
    /* error result, set with ctl_error() */
    int err_status;    /* HTTP status, 0 = none */
    char err_type[64]; /* e.g. "ResourceNotFoundException" */
    char err_message[512];
};

/* Sets the error of the call and returns -1, so that operations can `return ctl_error(...)`.
 * The status comes from the exception name: InvalidRequestException 400,
 * UnauthorizedException 403, ResourceNotFoundException 404, ResourceAlreadyExistsException 400,
 * ResourceInUseException 400 (ACM), TooManyRequestsException 429,
 * InternalServerErrorException 500. */
int ctl_error(struct ctl_ctx *ctx, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An operation: borrows ctx and in; on success returns 0 and sets *out to a new reference (or
 * NULL for the empty 200 body "{}"); on failure returns -1 after ctl_error(). Runs on a
 * thread-pool thread. Redis errors become InternalServerErrorException. */
typedef int (*ctl_op_fn)(struct ctl_ctx *ctx, json_t *in, json_t **out);

struct ctl_op {
    const char *service; /* "worklink" or "acm" */
    const char *name;    /* model operation name, e.g. "CreateFleet", "ImportCertificate" */
    ctl_op_fn fn;
    bool read_only; /* allowed for read-only principals */
};

/* The table of every operation, terminated by an entry with name == NULL. */
extern const struct ctl_op ctl_ops[];

/* Finds an operation by service and name; NULL if unknown. */
const struct ctl_op *ctl_op_find(const char *service, const char *name);

/* Reconciler: performs the state transitions that are due (fleet CREATING -> ACTIVE,
 * DELETING -> DELETED and removal, domain ASSOCIATING -> ACTIVE, ...) from `wl:pending`.
 * The front calls it every 200 ms on a thread-pool thread with a ctx like an operation's
 * (account_id and principal NULL). Returns 0, or -1 after ctl_error() on a Redis error. */
int ctl_reconcile(struct ctl_ctx *ctx);

#endif
