/* fuzz_html_rewriter.c - rewriter invariants on any input:
 * 1. with no associated domain and the KEEP policy nothing is rewritten, so the output equals
 *    the input byte for byte, whatever the split (srcdoc values excepted: see below);
 * 2. with the BLOCK policy the output does not depend on how the input is split: the two outputs
 *    tokenize to the same tokens (the bytes may differ in how a rewritten stretch is escaped,
 *    e.g. "=" or "&#61;" in an unquoted value, '"' or "&quot;", which browsers read the same);
 * 3. memory held stays under the bound;
 * 4. skipping (the tokenizer filters the rewriter asks for: no events for text, comments, tags
 *    and attributes it ignores, no decoding of the rest of a decided URL, whole tags taken
 *    without events) changes nothing: the output equals, byte for byte, the output with every
 *    event produced and looked at, fed in small pieces and fed whole (where tags lie whole in
 *    the buffer and the whole-tag path runs). */
#include "html_rewriter.h"
#include "html_tokenizer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct out {
    unsigned char *p;
    size_t len, cap;
};

static void sink(void *ud, const void *p, size_t n)
{
    struct out *o = ud;
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2 + 64;
        o->p = realloc(o->p, o->cap);
        if (!o->p)
            abort();
    }
    memcpy(o->p + o->len, p, n);
    o->len += n;
}

struct trace {
    struct out o;
    int last;
};

static void on_event(void *ud, const struct rnd_tok_event *ev)
{
    struct trace *t = ud;
    int chunk =
        ev->kind == RND_EV_TEXT || ev->kind == RND_EV_ATTR_VALUE || ev->kind == RND_EV_COMMENT;
    if (!chunk || t->last != (int)ev->kind) {
        unsigned char k[2] = {0xff, (unsigned char)ev->kind};
        sink(&t->o, k, 2);
    }
    t->last = chunk ? (int)ev->kind : -1;
    if (!ev->data || !ev->len)
        return;
    if (ev->kind != RND_EV_TEXT) {
        sink(&t->o, ev->data, ev->len);
        return;
    }
    /* raw text (<style>) written from decoded text has U+FFFD where the input had NUL: the
     * same for a browser; this data-state re-tokenization cannot tell, so treat them alike */
    for (size_t i = 0; i < ev->len; i++) {
        if (ev->data[i] == 0)
            sink(&t->o, "\xEF\xBF\xBD", 3);
        else
            sink(&t->o, ev->data + i, 1);
    }
}

/* The token stream of an output (data-state tokenization, chunks merged). */
static void tokens(const struct out *o, struct trace *t)
{
    t->last = -1;
    struct rnd_tok *tok = rnd_tok_new(on_event, t);
    if (o->len)
        rnd_tok_feed(tok, o->p, o->len);
    rnd_tok_finish(tok);
    rnd_tok_free(tok);
}

static struct rnd_rewrite_stats last_stats; /* of the latest run() */

static void run(const struct rnd_url_policy *pol, const uint8_t *d, size_t n, size_t step,
                struct out *o, int skipping)
{
    struct rnd_rewriter *rw = rnd_rewriter_new(pol, sink, o);
    rnd_rewriter_set_skipping(rw, skipping);
    for (size_t i = 0; i < n; i += step) {
        rnd_rewriter_feed(rw, d + i, n - i < step ? n - i : step);
        if (rnd_rewriter_bytes_held(rw) > 64 * 1024)
            abort();
    }
    rnd_rewriter_finish(rw);
    rnd_rewriter_stats(rw, &last_stats);
    rnd_rewriter_free(rw);
}

/* The one known, harmless split dependence (render/README.md): which stretch of a rewritten value
 * is written from decoded text depends on chunk boundaries, so a character there may be written
 * as itself or as the reference the rewriter escapes it with ("=" or "&#61;" in an unquoted
 * value, '"' or "&quot;"...), which browsers read the same in the value; the re-tokenizer above
 * (no tree-builder model) may see the byte in another state (a comment, a quoted value of a tag
 * that only it sees). True when the outputs are equal once each of those references is read as
 * its character, a NUL as the U+FFFD it decodes to in a value, and CR or CR LF as LF (a CR at
 * the end of a rewritten stretch is written as the LF it is read as). */
static size_t unescape_equals(const struct out *o, unsigned char *dst)
{
    static const struct {
        const char *ref;
        size_t len;
        char c;
    } refs[] = {{"&#61;", 5, '='},  {"&quot;", 6, '"'}, {"&#39;", 5, '\''}, {"&lt;", 4, '<'},
                {"&gt;", 4, '>'},   {"&#96;", 5, '`'},  {"&#32;", 5, ' '},  {"&#9;", 4, '\t'},
                {"&#10;", 5, '\n'}, {"&#12;", 5, '\f'}, {"&amp;", 5, '&'}};
    size_t n = 0;
    for (size_t i = 0; i < o->len; i++) {
        size_t r = 0, nr = sizeof refs / sizeof refs[0];
        if (o->p[i] == '&')
            while (r < nr &&
                   !(i + refs[r].len <= o->len && memcmp(o->p + i, refs[r].ref, refs[r].len) == 0))
                r++;
        if (o->p[i] == '&' && r < nr) {
            dst[n++] = (unsigned char)refs[r].c;
            i += refs[r].len - 1;
        } else if (o->p[i] == '\r') {
            dst[n++] = '\n'; /* CR and CR LF: LF, as the input stream is read */
            if (i + 1 < o->len && o->p[i + 1] == '\n')
                i++;
        } else if (o->p[i] == 0) {
            memcpy(dst + n, "\xEF\xBF\xBD", 3); /* NUL: decoded as U+FFFD in a value */
            n += 3;
        } else {
            dst[n++] = o->p[i];
        }
    }
    return n;
}

static int same_but_equals_escape(const struct out *x, const struct out *y)
{
    unsigned char *a = malloc(x->len * 3 + 1), *b = malloc(y->len * 3 + 1);
    if (!a || !b)
        abort();
    size_t na = unescape_equals(x, a), nb = unescape_equals(y, b);
    int same = na == nb && (na == 0 || memcmp(a, b, na) == 0);
    free(a);
    free(b);
    return same;
}

/* Whether the input holds "srcdoc" in any case. */
static int has_srcdoc(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i + 6 <= n; i++) {
        size_t k = 0;
        while (k < 6 && (d[i + k] | 0x20) == (uint8_t) "srcdoc"[k])
            k++;
        if (k == 6)
            return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const domains[] = {"wiki.example.com", "*.corp.example.com"};
    if (size < 1)
        return 0;
    size_t step = 1 + data[0] % 13;
    int strip = data[0] & 0x80;
    data++;
    size--;
    struct rnd_url_policy keep;
    memset(&keep, 0, sizeof keep);
    keep.foreign = RND_FOREIGN_KEEP;
    struct out a = {0}, b = {0}, c = {0}, e = {0}, f = {0}, w = {0};
    /* (a srcdoc is exempt: one inside a srcdoc is dropped whatever the policy, too deep to
     * rewrite, and one longer than the rewriter may keep is written from the nested document's
     * output: the same value, other bytes) */
    int exact = !has_srcdoc(data, size);
    run(&keep, data, size, step, &a, 1);
    if (exact && (a.len != size || (size && memcmp(a.p, data, size) != 0)))
        abort(); /* changed bytes although nothing is to be rewritten */
    run(&keep, data, size, size ? size : 1, &w, 1);
    if (exact && (w.len != size || (size && memcmp(w.p, data, size) != 0)))
        abort(); /* the same, fed whole */
    struct rnd_url_policy block = keep;
    block.domains = domains;
    block.ndomains = 2;
    block.foreign = RND_FOREIGN_BLOCK;
    block.tunnel_port = 8443;
    block.strip_scripts = strip != 0;
    run(&block, data, size, size ? size : 1, &b, 1);
    struct rnd_rewrite_stats sb = last_stats;
    run(&block, data, size, step, &c, 1);
    run(&block, data, size, step, &e, 0);
    if (c.len != e.len || (c.len && memcmp(c.p, e.p, c.len) != 0))
        abort(); /* skipping changed the output */
    run(&block, data, size, size ? size : 1, &f, 0);
    if (b.len != f.len || (b.len && memcmp(b.p, f.p, b.len) != 0))
        abort(); /* skipping changed the output of the input fed whole */
    if (sb.urls != last_stats.urls || sb.rewritten != last_stats.rewritten ||
        sb.blocked != last_stats.blocked)
        abort(); /* ... or what it counted */
    struct trace tb = {{0}, 0}, tc = {{0}, 0};
    tokens(&b, &tb);
    tokens(&c, &tc);
    if ((tb.o.len != tc.o.len || (tb.o.len && memcmp(tb.o.p, tc.o.p, tb.o.len) != 0)) &&
        !same_but_equals_escape(&b, &c))
        abort(); /* split dependence */
    free(tb.o.p);
    free(tc.o.p);
    free(a.p);
    free(b.p);
    free(c.p);
    free(e.p);
    free(f.p);
    free(w.p);
    return 0;
}
