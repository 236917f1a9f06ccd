/* test_html_tokenizer.c - tokenizer behaviour beyond html5lib: raw offsets, the caps of the
 * bounded-memory policy, content state switching, huge tokens fed in pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "html_tokenizer.h"

#include <stdlib.h>
#include <string.h>

struct rec {
    int kinds[64];
    uint64_t raws[64];
    size_t n;
    size_t text_bytes, value_bytes, comment_bytes;
    size_t max_name;
    int truncated, aborted;
};

static void on_event(void *ud, const struct rnd_tok_event *ev)
{
    struct rec *r = ud;
    if (r->n < 64) {
        r->kinds[r->n] = (int)ev->kind;
        r->raws[r->n] = ev->raw;
        r->n++;
    }
    if (ev->kind == RND_EV_TEXT)
        r->text_bytes += ev->len;
    if (ev->kind == RND_EV_ATTR_VALUE)
        r->value_bytes += ev->len;
    if (ev->kind == RND_EV_COMMENT)
        r->comment_bytes += ev->len;
    if (ev->kind == RND_EV_TAG_START || ev->kind == RND_EV_ATTR_NAME ||
        ev->kind == RND_EV_DOCTYPE) {
        if (ev->len > r->max_name)
            r->max_name = ev->len;
        r->truncated |= ev->truncated;
    }
    if (ev->kind == RND_EV_TAG_ABORT)
        r->aborted = 1;
}

static void test_raw_offsets(void **state)
{
    (void)state;
    struct rec r = {0};
    struct rnd_tok *t = rnd_tok_new(on_event, &r);
    const char *in = "ab<a href=\"x&amp;y\" id=z>";
    rnd_tok_feed(t, in, strlen(in));
    rnd_tok_finish(t);
    rnd_tok_free(t);
    /* TEXT ab, TAG_START a @2, ATTR_NAME href @5, VALUE_START @11, VALUE x, VALUE &, VALUE y,
     * VALUE_END @18, ATTR_NAME id @20, VALUE_START @23, VALUE z, VALUE_END @24, TAG_END @25 */
    assert_int_equal(r.kinds[0], RND_EV_TEXT);
    assert_int_equal(r.raws[0], 2);
    assert_int_equal(r.kinds[1], RND_EV_TAG_START);
    assert_int_equal(r.raws[1], 2);
    assert_int_equal(r.kinds[2], RND_EV_ATTR_NAME);
    assert_int_equal(r.raws[2], 5);
    assert_int_equal(r.kinds[3], RND_EV_ATTR_VALUE_START);
    assert_int_equal(r.raws[3], 11);
    size_t i = 4;
    while (r.kinds[i] == RND_EV_ATTR_VALUE)
        i++;
    assert_int_equal(r.raws[i - 1], 18); /* the last value chunk stands for the input to 18 */
    assert_int_equal(r.kinds[i], RND_EV_ATTR_VALUE_END);
    assert_int_equal(r.raws[i], 18);
    assert_int_equal(r.kinds[r.n - 1], RND_EV_TAG_END);
    assert_int_equal(r.raws[r.n - 1], strlen(in));
    assert_int_equal(r.value_bytes, 4); /* "x&y" + "z" */
}

/* Feeds head, then `total` bytes of `fill` in 64 KiB pieces, then tail. */
static void feed_huge(struct rec *r, const char *head, char fill, size_t total, const char *tail,
                      enum rnd_tok_state st)
{
    static char piece[65536];
    memset(piece, fill, sizeof piece);
    struct rnd_tok *t = rnd_tok_new(on_event, r);
    rnd_tok_set_state(t, st, "title");
    size_t held = rnd_tok_bytes_held(t);
    rnd_tok_feed(t, head, strlen(head));
    for (size_t done = 0; done < total; done += sizeof piece)
        rnd_tok_feed(t, piece, sizeof piece);
    rnd_tok_feed(t, tail, strlen(tail));
    rnd_tok_finish(t);
    assert_int_equal(rnd_tok_bytes_held(t), held); /* fixed memory */
    assert_true(held < 16 * 1024);
    rnd_tok_free(t);
}

static void test_huge_tokens_capped_or_streamed(void **state)
{
    (void)state;
    const size_t total = 32u << 20;
    struct rec r;

    memset(&r, 0, sizeof r);
    feed_huge(&r, "<a", 'b', total, " x=1>", RND_TOK_STATE_DATA); /* 32 MiB tag name */
    assert_true(r.truncated);
    assert_int_equal(r.max_name, RND_TOK_NAME_MAX);

    memset(&r, 0, sizeof r);
    feed_huge(&r, "<a ", 'b', total, "=1>", RND_TOK_STATE_DATA); /* 32 MiB attribute name */
    assert_true(r.truncated);
    assert_int_equal(r.value_bytes, 1);

    memset(&r, 0, sizeof r);
    feed_huge(&r, "<!DOCTYPE ", 'h', total, ">", RND_TOK_STATE_DATA);
    assert_true(r.truncated);
    assert_int_equal(r.max_name, RND_TOK_DOCTYPE_MAX);

    memset(&r, 0, sizeof r);
    feed_huge(&r, "<a title='", 'v', total, "'>", RND_TOK_STATE_DATA);
    assert_int_equal(r.value_bytes, total);

    memset(&r, 0, sizeof r);
    feed_huge(&r, "<!--", '-', total, ">", RND_TOK_STATE_DATA);
    assert_int_equal(r.comment_bytes, total - 2);

    memset(&r, 0, sizeof r);
    feed_huge(&r, "x", '&', total, "", RND_TOK_STATE_DATA); /* 32 M bare ampersands */
    assert_int_equal(r.text_bytes, total + 1);

    memset(&r, 0, sizeof r);
    feed_huge(&r, "</titl", 'e', total, ">", RND_TOK_STATE_RCDATA); /* endless end tag name */
    assert_int_equal(r.text_bytes, total + 7);

    memset(&r, 0, sizeof r);
    feed_huge(&r, "<a href='", 'x', total, "", RND_TOK_STATE_DATA); /* EOF inside the tag */
    assert_true(r.aborted);
}

static void test_state_switch_and_last_start_tag(void **state)
{
    (void)state;
    struct rec r = {0};
    struct rnd_tok *t = rnd_tok_new(on_event, &r);
    rnd_tok_set_state(t, RND_TOK_STATE_RAWTEXT, "style");
    const char *in = "a</b>c</style>";
    rnd_tok_feed(t, in, strlen(in));
    rnd_tok_finish(t);
    rnd_tok_free(t);
    assert_int_equal(r.text_bytes, 6); /* "a</b>c" */
    assert_int_equal(r.kinds[r.n - 1], RND_EV_TAG_END);
    /* an invalid state is ignored */
    t = rnd_tok_new(on_event, &r);
    rnd_tok_set_state(t, (enum rnd_tok_state)99, NULL);
    rnd_tok_feed(t, "x", 1);
    rnd_tok_finish(t);
    rnd_tok_free(t);
    rnd_tok_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_offsets),
        cmocka_unit_test(test_huge_tokens_capped_or_streamed),
        cmocka_unit_test(test_state_switch_and_last_start_tag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
