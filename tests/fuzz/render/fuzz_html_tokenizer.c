/* fuzz_html_tokenizer.c - the tokenizer must give the same events (chunks merged) whatever
 * the split, and never crash, hang or read out of bounds. The first input byte picks the
 * initial state and the split pattern. */
#include "html_tokenizer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct trace {
    unsigned char *p;
    size_t len, cap;
    int last_chunk_kind;
};

static void add(struct trace *t, const void *p, size_t n)
{
    if (t->len + n > t->cap) {
        t->cap = (t->len + n) * 2 + 64;
        t->p = realloc(t->p, t->cap);
        if (!t->p)
            abort();
    }
    memcpy(t->p + t->len, p, n);
    t->len += n;
}

static void on_event(void *ud, const struct rnd_tok_event *ev)
{
    struct trace *t = ud;
    int chunk =
        ev->kind == RND_EV_TEXT || ev->kind == RND_EV_ATTR_VALUE || ev->kind == RND_EV_COMMENT;
    if (!chunk || t->last_chunk_kind != (int)ev->kind) {
        unsigned char k[2] = {0xff, (unsigned char)ev->kind};
        add(t, k, 2);
        if (!chunk && ev->kind != RND_EV_ATTR_VALUE_START)
            add(t, &ev->raw, sizeof ev->raw);
        if (ev->kind == RND_EV_ATTR_VALUE_START || ev->kind == RND_EV_ATTR_VALUE_END)
            add(t, &ev->raw, sizeof ev->raw);
    }
    t->last_chunk_kind = chunk ? (int)ev->kind : -1;
    if (ev->data && ev->kind != RND_EV_DOCTYPE)
        add(t, ev->data, ev->len);
    if (ev->kind == RND_EV_DOCTYPE) {
        add(t, ev->data, ev->len);
        add(t, ev->public_id, ev->public_len);
        add(t, ev->system_id, ev->system_len);
    }
}

static void run(const uint8_t *data, size_t size, int state, size_t step, struct trace *t)
{
    struct rnd_tok *tok = rnd_tok_new(on_event, t);
    t->last_chunk_kind = -1;
    rnd_tok_set_state(tok, (enum rnd_tok_state)state, "script");
    for (size_t i = 0; i < size; i += step)
        rnd_tok_feed(tok, data + i, size - i < step ? size - i : step);
    rnd_tok_finish(tok);
    rnd_tok_free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int state = data[0] % 6;
    size_t step = 1 + (data[0] >> 3) % 7;
    data++;
    size--;
    struct trace a = {0}, b = {0};
    run(data, size, state, size ? size : 1, &a);
    run(data, size, state, step, &b);
    if (a.len != b.len || (a.len && memcmp(a.p, b.p, a.len) != 0))
        abort(); /* split dependence */
    free(a.p);
    free(b.p);
    return 0;
}
