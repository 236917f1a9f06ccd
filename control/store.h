/* store.h - Redis helpers of the operations (docs/redis-schema.md is the key schema).
 *
 * Every write is one Lua script run with EVAL, so a fleet or a domain is written whole or not at
 * all, and the same script INCRs `wl:{F}:version` and PUBLISHes the change on `wl:{F}:events`.
 * Scripts are prefixed with a prelude (see store.c) that gives them:
 *   F, P            ARGV[1] (the fleet name) and the key prefix "wl:{F}:"
 *   bump(kind, op, id)   INCR the version, PUBLISH {"version","kind","op","id"}; returns version
 *   fail(type, msg)      an error reply that ctl_store_eval() turns into ctl_error(type, msg)
 *   live()               true when the fleet exists and is CREATING or ACTIVE
 *   wrongtype({[key] = 'hash', ...})  an error reply when a key the script will write exists
 *                        with another type (such a write would fail midway), else nil
 * A script must check everything before its first write (Redis does not roll back).
 * By convention KEYS[1] is "wl:{F}:fleet" (routes the script to the fleet's slot) and ARGV[1] is
 * F; fleet-less scripts (ACM) pass "" for both.
 *
 * All functions run on the calling thread with ctx->redis, borrow their arguments, and on a
 * Redis failure return NULL / -1 after ctl_error(ctx, "InternalServerErrorException", ...). */
#ifndef CTL_STORE_H
#define CTL_STORE_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stddef.h>

#include "op.h"

#define CTL_FLEET_NAME_MAX 48

/* Lua: sweep(keep) deletes every key of the fleet ("wl:{F}:*") whose name is not a key of the
 * table `keep`; release_domains() drops the fleet's domains from their certificates' users sets
 * and from wl:pending. Concatenate into scripts that need them. */
#define CTL_LUA_SWEEP                                                                              \
    "local function sweep(keep)\n"                                                                 \
    "  local cur = '0'\n"                                                                          \
    "  repeat\n"                                                                                   \
    "    local r = redis.call('SCAN', cur, 'MATCH', P .. '*', 'COUNT', 1000)\n"                    \
    "    cur = r[1]\n"                                                                             \
    "    for _, k in ipairs(r[2]) do\n"                                                            \
    "      if not keep[k] then redis.call('DEL', k) end\n"                                         \
    "    end\n"                                                                                    \
    "  until cur == '0'\n"                                                                         \
    "end\n"                                                                                        \
    "local function release_domains()\n"                                                           \
    "  for _, d in ipairs(redis.call('ZRANGE', P .. 'domains', 0, -1)) do\n"                       \
    "    local acm = redis.call('HGET', P .. 'domain:' .. d, 'acm_arn')\n"                         \
    "    local id = acm and string.match(acm, '/([^/]+)$')\n"                                      \
    "    if id then redis.call('SREM', 'wl:acm:cert:' .. id .. ':users', F .. '/' .. d) end\n"     \
    "    redis.call('ZREM', 'wl:pending', 'domain:' .. F .. ':' .. d)\n"                           \
    "  end\n"                                                                                      \
    "end\n"

/* Runs one command given as NUL-terminated strings (argv[0..argc)). Returns a new reply (free
 * with freeReplyObject) or NULL after ctl_error() when Redis fails or answers an error. */
redisReply *ctl_store_cmdv(struct ctl_ctx *ctx, int argc, const char **argv);

/* ctl_store_cmdv() with the strings given as arguments, terminated by NULL. */
redisReply *ctl_store_cmd(struct ctl_ctx *ctx, const char *arg0, ...) __attribute__((sentinel));

/* Runs `script` (prelude prepended) with keys[0..nkeys) and args[0..nargs). Returns a new reply,
 * or NULL after ctl_error(): fail(type, msg) in the script becomes ctl_error(type, msg), any
 * other error InternalServerErrorException. */
redisReply *ctl_store_eval(struct ctl_ctx *ctx, const char *script, int nkeys, const char **keys,
                           int nargs, const char **args);

/* HGETALL key into *out (a new JSON object of string values; empty when the key is missing).
 * Returns 0 or -1. */
int ctl_store_hgetall(struct ctl_ctx *ctx, const char *key, json_t **out);

/* HGETALL of n keys in one round trip (pipelined): *out = new array of n objects. */
int ctl_store_hgetall_many(struct ctl_ctx *ctx, const char *const *keys, size_t n, json_t **out);

/* Field helpers on a hash loaded by ctl_store_hgetall(): the string value or NULL (borrowed),
 * and the value as an integer (0 when absent or not a number). */
const char *ctl_hstr(const json_t *h, const char *field);
long long ctl_hint(const json_t *h, const char *field);

/* Epoch milliseconds -> the JSON number of epoch seconds the wire format uses. New reference. */
json_t *ctl_json_time(long long ms);

/* The fleet a request names. */
struct ctl_fleet {
    char name[CTL_FLEET_NAME_MAX + 1];
    char arn[128];
    json_t *h; /* the fleet hash (owned) */
};

enum {
    CTL_FLEET_ANY = 0,  /* any status (Describe/List) */
    CTL_FLEET_LIVE = 1, /* CREATING or ACTIVE, else InvalidRequestException */
};

/* Parses a fleet ARN ("arn:aws:worklink::<account>:fleet/<name>") and loads the fleet, which must
 * exist and belong to ctx->account_id. `member` names the input member for messages and
 * `notfound` is the exception to use when it does not exist (the tag operations' model only
 * allows InvalidRequestException). On success fills *f (dispose with ctl_fleet_dispose). */
int ctl_fleet_load(struct ctl_ctx *ctx, const char *arn, const char *member, const char *notfound,
                   int flags, struct ctl_fleet *f);
void ctl_fleet_dispose(struct ctl_fleet *f);

/* Sets (value non-NULL) or removes (value NULL) fields of fleet f's hash in one script, which
 * requires the fleet to be CREATING or ACTIVE, updates `modified`, bumps the version and
 * publishes {kind, op, id = F}. Returns 0 or -1 after ctl_error(). */
int ctl_fleet_set(struct ctl_ctx *ctx, const struct ctl_fleet *f, const char *kind, const char *op,
                  int n, const char *const *fields, const char *const *values);

/* Writes the ARN of fleet `name` of `account` into out. */
void ctl_fleet_arn(char *out, size_t outlen, const char *account, const char *name);

/* Key of fleet F: writes "wl:{F}:<suffix>" into out. Returns out. */
char *ctl_key(char *out, size_t outlen, const char *fleet, const char *suffix);

/* Fills out[0..len) with random characters of `alphabet` (NUL-terminated at out[len]).
 * Returns 0, or -1 after ctl_error() when the random generator fails. */
int ctl_random_string(struct ctl_ctx *ctx, char *out, size_t len, const char *alphabet);

/* Writes a random (version 4) UUID into out[37]. Returns 0 or -1 after ctl_error(). */
int ctl_uuid(struct ctl_ctx *ctx, char out[37]);

/* Formats a decimal integer into out (at least 24 bytes). Returns out. */
char *ctl_itoa(char *out, long long v);

#endif
