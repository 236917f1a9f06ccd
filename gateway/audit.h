/* audit.h - the device audit stream (issue 6, deploy/audit.md): one JSON event per device request
 * appended with XADD (MAXLEN ~ --audit-maxlen) to the Redis Stream named after the fleet's
 * audit_stream_arn.
 *
 * Each worker keeps a bounded queue (--audit-queue events) flushed by its own hiredis async
 * connection on the worker's loop: the data path only appends to memory. Replies are matched in
 * order; an event leaves the queue only when Redis acknowledged it, so a Redis outage loses
 * nothing up to the bound (at-least-once: an event may be written twice around a failure).
 * Beyond the bound new events are dropped, counted (worklink_gateway_audit_dropped_total) and
 * logged. Worker thread only. */
#ifndef GW_AUDIT_H
#define GW_AUDIT_H

#include <stddef.h>

struct gw_worker;
struct gw_req;

/* The Redis key of the stream named by a Kinesis ARN
 * `arn:aws:kinesis:REGION:ACCOUNT:stream/NAME`: "wl:audit:NAME". Returns a new string, or NULL
 * when arn is NULL, empty or not of that form. Any thread. */
char *gw_audit_stream_key(const char *arn);

/* Records the audit event of a finished request when the worker's snapshot names an audit
 * stream. Borrows r. */
void gw_audit_req(struct gw_req *r);

/* The worker's snapshot names another Redis (a Sentinel failover): drops the connection to the
 * old one, which may never report its death, and connects to the new one; events in flight stay
 * queued and are sent again (at least once). Worker thread. */
void gw_audit_redis_moved(struct gw_worker *w);

/* Flushes what can be flushed and closes the worker's audit connection (worker shutdown); the
 * state is freed once its handles are closed. */
void gw_audit_dispose(struct gw_worker *w);

#endif
