/* discovery.c - the rate limiter of the public company-code discovery endpoint (login.c serves
 * it): a token bucket per client address in a bounded table per worker thread (no locks; a new
 * address takes a colliding slot over, so memory never grows). */
#include "identity.h"

#include <string.h>

#define RL_SLOTS 1024

struct rl_slot {
    uint64_t addr_hash;
    double tokens;
    int64_t ts_ms;
};

/* One table per worker thread: no locks. */
static _Thread_local struct rl_slot rl_table[RL_SLOTS];

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h | 1;
}

bool gw_ident_rate_take(const char *addr, int64_t now_ms, double rate_per_s, double burst)
{
    uint64_t h = fnv(addr);
    struct rl_slot *s = &rl_table[h % RL_SLOTS];
    if (s->addr_hash != h) { /* a new address takes the slot over (bounded memory) */
        s->addr_hash = h;
        s->tokens = burst;
        s->ts_ms = now_ms;
    }
    double add = (double)(now_ms - s->ts_ms) / 1000.0 * rate_per_s;
    if (add > 0) {
        s->tokens = s->tokens + add > burst ? burst : s->tokens + add;
        s->ts_ms = now_ms;
    }
    if (s->tokens < 1.0)
        return false;
    s->tokens -= 1.0;
    return true;
}
