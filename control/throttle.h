/* throttle.h - per-principal token buckets (rate limiting of the admin API), shared by every
 * control process through Redis (key wl:throttle:<access-key-id>, see docs/redis-schema.md), so
 * that replicas behind a load balancer enforce one limit together.
 *
 * Each principal has a bucket of `burst` tokens refilled at `rate` tokens per second; a call
 * takes one token or is refused (TooManyRequestsException). The refill and take happen in one
 * Lua script (atomic). Runs on a pool thread with that thread's synchronous connection. */
#ifndef CTL_THROTTLE_H
#define CTL_THROTTLE_H

#include <stdint.h>

struct redisContext;

/* Takes one token of access_key's bucket at now_ms. Returns 1 when allowed, 0 when refused
 * (*retry_ms = time until a token is back), -1 on a Redis error. rate <= 0 always allows. */
int ctl_throttle_take(struct redisContext *redis, const char *access_key, double rate, double burst,
                      int64_t now_ms, int64_t *retry_ms);

#endif
