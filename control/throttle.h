/* throttle.h - per-principal token buckets (rate limiting of the admin API).
 * Each principal has a bucket of `burst` tokens refilled at `rate` tokens per second; a call
 * takes one token or is refused (TooManyRequestsException). Buckets live in this process's
 * memory (one control process holds one set); loop thread only, no locking. */
#ifndef CTL_THROTTLE_H
#define CTL_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ctl_throttle;

/* rate <= 0 disables throttling. nkeys: number of principals (keys are 0..nkeys-1). */
struct ctl_throttle *ctl_throttle_new(double rate, double burst, size_t nkeys);
void ctl_throttle_free(struct ctl_throttle *t);

/* Takes one token of key at now_ms. Returns true when allowed; otherwise false and, when
 * retry_ms is not NULL, how long until a token is back. */
bool ctl_throttle_take(struct ctl_throttle *t, size_t key, int64_t now_ms, int64_t *retry_ms);

#endif
