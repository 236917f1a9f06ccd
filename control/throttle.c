/* throttle.c - token buckets (see throttle.h). */
#include "throttle.h"

#include <stdlib.h>

struct bucket {
    double tokens;
    int64_t ts_ms;
    bool used;
};

struct ctl_throttle {
    double rate, burst;
    size_t n;
    struct bucket *b;
};

struct ctl_throttle *ctl_throttle_new(double rate, double burst, size_t nkeys)
{
    struct ctl_throttle *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    t->rate = rate;
    t->burst = burst < 1 ? 1 : burst;
    t->n = nkeys;
    t->b = calloc(nkeys ? nkeys : 1, sizeof *t->b);
    if (!t->b)
        abort();
    return t;
}

void ctl_throttle_free(struct ctl_throttle *t)
{
    if (!t)
        return;
    free(t->b);
    free(t);
}

bool ctl_throttle_take(struct ctl_throttle *t, size_t key, int64_t now_ms, int64_t *retry_ms)
{
    if (t->rate <= 0 || key >= t->n)
        return true;
    struct bucket *b = &t->b[key];
    if (!b->used) {
        b->used = true;
        b->tokens = t->burst;
        b->ts_ms = now_ms;
    }
    if (now_ms > b->ts_ms) {
        b->tokens += (double)(now_ms - b->ts_ms) * t->rate / 1000.0;
        if (b->tokens > t->burst)
            b->tokens = t->burst;
        b->ts_ms = now_ms;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return true;
    }
    if (retry_ms)
        *retry_ms = (int64_t)((1.0 - b->tokens) * 1000.0 / t->rate) + 1;
    return false;
}
