/* worker.h - runs blocking work (operations, CloudTrail writes, the reconciler) on the libuv
 * thread pool, each pool thread with its own synchronous hiredis connection (thread-local,
 * created on first use and re-created after an error), so the event loop never waits on Redis.
 *
 * The Redis location is a common/redis_url.h URL: redis://, unix://, or sentinel:// (the
 * sentinels are asked for the master with SENTINEL get-master-addr-by-name, and the answer is
 * checked with ROLE). */
#ifndef CTL_WORKER_H
#define CTL_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "op.h"
#include "redis_url.h"

struct redisContext;

struct ctl_worker {
    uv_loop_t *loop;
    struct wl_redis_url url;
    const struct ctl_config *cfg;
    uv_timer_t reconcile_timer;
    uv_work_t reconcile_work;
    bool reconcile_running;
    atomic_bool reconcile_failing;  /* written by the pool, read by /healthz on the loop */
    atomic_ullong reconcile_errors; /* failed reconcile runs (metrics) */
    bool stopped;
    uint64_t reconcile_interval_ms;
};

/* Initialises w on loop (url and cfg borrowed for w's lifetime). No connection is made yet. */
void ctl_worker_init(struct ctl_worker *w, uv_loop_t *loop, const struct wl_redis_url *url,
                     const struct ctl_config *cfg);

/* The calling thread's connection to the current master, connecting when needed. Returns NULL
 * with a reason in err when Redis cannot be reached. Borrowed; valid until the next call on this
 * thread. Pool threads only (and main before the loop runs). */
struct redisContext *ctl_worker_redis(const struct ctl_worker *w, char *err, size_t errlen);

/* Drops the calling thread's connection when it is in an error state (call after each job). */
void ctl_worker_redis_check(void);

/* Frees the calling thread's connection. */
void ctl_worker_redis_close(void);

/* Starts the reconciler timer: every interval_ms, ctl_reconcile() runs on the pool (never two at
 * once). */
void ctl_worker_start_reconciler(struct ctl_worker *w, uint64_t interval_ms);

/* Stops the timer (its handle is closed); pool work already queued completes. Loop thread. */
void ctl_worker_stop(struct ctl_worker *w);

/* Current time in milliseconds since the epoch. */
int64_t ctl_now_ms(void);

#endif
