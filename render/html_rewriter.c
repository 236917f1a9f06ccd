/* html_rewriter.c - streaming link rewriter (see html_rewriter.h).
 *
 * Raw bytes flow from the input to the output lazily: out_raw is the offset up to which input
 * bytes have been written (or deliberately dropped). Inside a value that may hold URLs, the
 * tokenizer's value/text events carry the raw offset their decoded bytes stand for, which gives
 * "sync points" where decoded and raw positions agree. Between two sync points a stretch is
 * either CLEAN (nothing changed: its raw bytes will be copied) or DIRTY (it is written from the
 * decoded text, escaped, and its raw bytes are dropped at the next sync point). */
#include "html_rewriter.h"

#include "html_tokenizer.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

struct hbuf {
    char *p;
    size_t len, cap;
};

static void hbuf_add(struct hbuf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np)
            abort();
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* Drops the first n bytes. */
static void hbuf_shift(struct hbuf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

/* Releases a buffer that grew large once it is empty, so that memory stays bounded over time. */
static void hbuf_trim(struct hbuf *b)
{
    if (b->len == 0 && b->cap > 4096) {
        free(b->p);
        b->p = NULL;
        b->cap = 0;
    }
}

/* scanner states: CSS (url( and @import), srcset candidates */
enum { CSS_N, CSS_AU, CSS_QS, CSS_Q, CSS_UQ, CSS_AI };
enum { SS_SEP, SS_URL, SS_DESC, SS_PAREN };
enum vkind { V_NONE, V_URL, V_SRCSET, V_PING, V_CSS, V_REFRESH, V_SRCDOC, V_DROP };
enum { U_NONE, U_PENDING, U_DECIDED };
enum { SC_START = 1, SC_END = 2 };

/* A cached URL decision (see decide_cached). */
#define DC_N 4
#define DC_KEY 64
#define DC_REPL 128
struct dcache {
    uint8_t used, key_len, complete, kind, rest, repl_len;
    int8_t r;
    uint16_t consumed;
    char key[DC_KEY];
    char repl[DC_REPL];
};

/* What deciding URLs needs: the start of the URL being collected, the latest decision and the
 * cache of recent ones. A nested (srcdoc) rewriter uses its parent's: while the parent is in its
 * srcdoc value it scans no URL, and the decisions are a pure function of the same policy. */
struct url_state {
    char pfx[RND_URL_PREFIX_MAX];
    struct rnd_url_decision d;
    struct dcache dc[DC_N];
    unsigned dc_next, dc_hit;
};

struct rnd_rewriter {
    struct rnd_tok *tok;
    struct rnd_url_policy pol;
    rnd_write_cb write;
    void *wud;
    int depth;
    int noskip; /* rnd_rewriter_set_skipping(rw, 0): every event from the tokenizer */
    /* raw bookkeeping */
    uint64_t pos, out_raw;
    const char *slice;
    uint64_t slice_base;
    size_t slice_len;
    struct hbuf hold;
    uint64_t hold_base;
    /* tag context */
    unsigned tag_cls; /* TC_* of the current tag */
    int end_tag;
    int foreign; /* last value given to rnd_tok_set_foreign */
    int next_vk;
    unsigned char ns[32];
    size_t ns_len, ns_overflow;
    int in_style;
    /* value or <style> text being scanned */
    int vk;
    char quote; /* '"', '\'', 0 (unquoted), 'T' (raw text: no escaping) */
    int dirty;
    uint64_t ivl_raw, last_raw_end;
    struct hbuf dec;
    const char *cur;
    size_t cur_n;
    /* scanner */
    int sc, m1, m2;
    int kw_end; /* the refresh scanner's END means "that was the url= keyword" */
    char css_q;
    /* URL */
    int url;
    enum rnd_url_rest rest;
    size_t url_at;
    size_t pfx_len; /* of us->pfx */
    struct url_state *us;
    struct rnd_rewriter *nested;
    struct rnd_rewrite_stats stats;
    struct url_state own; /* last: a nested rewriter is allocated without it */
};

/* The caps on what a rewriter keeps (raw bytes not written yet, decoded text): halved while a
 * srcdoc runs (in the parent, for its srcdoc value, and in the nested rewriter), where two
 * rewriters share the stream's budget. */
static size_t raw_cap(const struct rnd_rewriter *rw)
{
    return rw->depth || rw->vk == V_SRCDOC ? RND_RW_RAW_MAX / 2 : RND_RW_RAW_MAX;
}

static size_t dec_cap(const struct rnd_rewriter *rw)
{
    return rw->depth || rw->vk == V_SRCDOC ? RND_RW_DEC_MAX / 2 : RND_RW_DEC_MAX;
}

/* ---- output ---- */

static void out(struct rnd_rewriter *rw, const char *p, size_t n)
{
    if (n)
        rw->write(rw->wud, p, n);
}

/* Writes decoded text escaped for the current context. */
static void esc_out(struct rnd_rewriter *rw, const char *p, size_t n)
{
    if (n == 0)
        return;
    if (rw->quote == 'T') {
        out(rw, p, n);
        return;
    }
    size_t s = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = NULL;
        unsigned char c = (unsigned char)p[i];
        if (c == '&')
            e = "&amp;";
        else if (c == '"' && rw->quote != '\'')
            e = "&quot;";
        else if (c == '\'' && rw->quote != '"')
            e = "&#39;";
        else if (c == '\r')
            e = "&#13;"; /* only a reference gives a CR here (raw CRs became LF): keep it a CR */
        else if (rw->quote == 0) {
            switch (c) {
            case '<':
                e = "&lt;";
                break;
            case '>':
                e = "&gt;";
                break;
            case '=':
                e = "&#61;";
                break;
            case '`':
                e = "&#96;";
                break;
            case ' ':
                e = "&#32;";
                break;
            case '\t':
                e = "&#9;";
                break;
            case '\n':
                e = "&#10;";
                break;
            case '\f':
                e = "&#12;";
                break;
            default:
                break;
            }
        }
        if (e) {
            out(rw, p + s, i - s);
            out(rw, e, strlen(e));
            s = i + 1;
        }
    }
    out(rw, p + s, n - s);
}

static void pct_out(struct rnd_rewriter *rw, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    char buf[768]; /* written in pieces, not a call per byte */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (k > sizeof buf - 3) {
            out(rw, buf, k);
            k = 0;
        }
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            buf[k++] = (char)c;
        } else {
            buf[k++] = '%';
            buf[k++] = hex[c >> 4];
            buf[k++] = hex[c & 15];
        }
    }
    out(rw, buf, k);
}

static void rest_out(struct rnd_rewriter *rw, const char *p, size_t n)
{
    if (rw->rest == RND_REST_PCT)
        pct_out(rw, p, n);
    else if (rw->rest == RND_REST_COPY)
        esc_out(rw, p, n);
}

/* ---- raw bytes ---- */

static void emit_raw_upto(struct rnd_rewriter *rw, uint64_t x)
{
    if (x <= rw->out_raw)
        return;
    if (rw->out_raw < rw->slice_base) {
        uint64_t e = x < rw->slice_base ? x : rw->slice_base;
        out(rw, rw->hold.p + (rw->out_raw - rw->hold_base), (size_t)(e - rw->out_raw));
        rw->out_raw = e;
    }
    if (x > rw->out_raw) {
        out(rw, rw->slice + (rw->out_raw - rw->slice_base), (size_t)(x - rw->out_raw));
        rw->out_raw = x;
    }
}

static void drop_raw_upto(struct rnd_rewriter *rw, uint64_t x)
{
    if (x > rw->out_raw)
        rw->out_raw = x;
}

/* ---- values ---- */

/* Writes the stretch's decoded text before the URL start (the stretch becomes DIRTY). */
static void go_dirty(struct rnd_rewriter *rw)
{
    if (rw->dirty)
        return;
    emit_raw_upto(rw, rw->ivl_raw);
    size_t upto = rw->url == U_NONE ? rw->dec.len + rw->cur_n : rw->url_at;
    size_t a = upto < rw->dec.len ? upto : rw->dec.len;
    esc_out(rw, rw->dec.p, a);
    if (upto > rw->dec.len)
        esc_out(rw, rw->cur, upto - rw->dec.len);
    rw->dec.len = 0;
    rw->dirty = 1;
}

/* rnd_url_decide on the prefix key[0..n) through the cache of recent decisions (a pure function
 * of the policy, the prefix and `complete`; pages repeat the same few scheme+host prefixes
 * thousands of times). The entry that answered last is tried first. */
static int decide_cached(struct rnd_rewriter *rw, const char *key, size_t n, int complete)
{
    if (n <= DC_KEY) {
        unsigned at = rw->us->dc_hit;
        for (int i = 0; i < DC_N; i++, at = (at + 1) % DC_N) {
            struct dcache *e = &rw->us->dc[at];
            if (e->used && e->key_len == n && e->complete == complete &&
                (n == 0 || e->key[0] == key[0]) && memcmp(e->key, key, n) == 0) {
                rw->us->dc_hit = at;
                if (e->r != RND_URL_REPLACE)
                    return e->r; /* rw->d is read only for a replacement */
                rw->us->d.kind = (enum rnd_url_kind)e->kind;
                rw->us->d.consumed = e->consumed;
                rw->us->d.rest = (enum rnd_url_rest)e->rest;
                rw->us->d.repl_len = e->repl_len;
                memcpy(rw->us->d.repl, e->repl, e->repl_len);
                return e->r;
            }
        }
    }
    int r = rnd_url_decide(&rw->pol, key, n, complete, &rw->us->d);
    if (n <= DC_KEY && (r != RND_URL_REPLACE || rw->us->d.repl_len <= DC_REPL)) {
        struct dcache *e = &rw->us->dc[rw->us->dc_next];
        rw->us->dc_next = (rw->us->dc_next + 1) % DC_N;
        e->used = 1;
        e->key_len = (uint8_t)n;
        e->complete = (uint8_t)complete;
        e->r = (int8_t)r;
        memcpy(e->key, key, n);
        if (r != RND_URL_NEED_MORE) {
            e->kind = (uint8_t)rw->us->d.kind;
            e->consumed = (uint16_t)rw->us->d.consumed;
            e->rest = (uint8_t)rw->us->d.rest;
            e->repl_len = r == RND_URL_REPLACE ? (uint8_t)rw->us->d.repl_len : 0;
            memcpy(e->repl, rw->us->d.repl, e->repl_len);
        }
    }
    return r;
}

/* Counts a decided URL (rw->us->d holds a replacement's kind). */
static void count_url(struct rnd_rewriter *rw, int r)
{
    rw->stats.urls++;
    if (r == RND_URL_REPLACE) {
        if (rw->us->d.kind == RND_URL_INTERNAL)
            rw->stats.rewritten++;
        else
            rw->stats.blocked++;
    }
}

/* Writes the replacement rw->us->d for the URL start u[0..n): the replacement text, then what
 * follows the part it stands for, per the decision's rest (which becomes rw->rest). */
static void write_replacement(struct rnd_rewriter *rw, const char *u, size_t n)
{
    out(rw, rw->us->d.repl, rw->us->d.repl_len);
    rw->rest = rw->us->d.rest;
    rest_out(rw, u + rw->us->d.consumed, n - rw->us->d.consumed);
}

static void decide(struct rnd_rewriter *rw, int complete)
{
    int r = decide_cached(rw, rw->us->pfx, rw->pfx_len, complete);
    if (r == RND_URL_NEED_MORE)
        return;
    count_url(rw, r);
    if (r == RND_URL_KEEP) {
        if (rw->dirty)
            esc_out(rw, rw->us->pfx, rw->pfx_len);
        rw->url = U_NONE;
        return;
    }
    go_dirty(rw);
    write_replacement(rw, rw->us->pfx, rw->pfx_len);
    rw->url = rw->rest == RND_REST_COPY ? U_NONE : U_DECIDED;
}

/* Byte classes of the value scanners. */
enum { B_WS = 1, B_TRIGGER = 2 };
static const uint8_t bcls[256] = {
    [' '] = B_WS,      ['\t'] = B_WS,     ['\n'] = B_WS,      ['\r'] = B_WS,     ['\f'] = B_WS,
    [':'] = B_TRIGGER, ['/'] = B_TRIGGER, ['\\'] = B_TRIGGER, ['?'] = B_TRIGGER, ['#'] = B_TRIGGER,
};

static int is_css_ws(int c)
{
    return bcls[(unsigned char)c] & B_WS;
}

static int lc(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* Scanners: where URLs start and end in a value. Return SC_* flags for byte c. */
static int scan_css(struct rnd_rewriter *rw, int c)
{
    switch (rw->sc) {
    case CSS_N: {
        static const char u[] = "url(", im[] = "@import";
        int lcc = lc(c);
        if (lcc == u[rw->m1]) {
            if (++rw->m1 == 4) {
                rw->m1 = 0;
                rw->m2 = 0;
                rw->sc = CSS_AU;
                return 0;
            }
        } else {
            rw->m1 = lcc == 'u' ? 1 : 0;
        }
        if (lcc == im[rw->m2]) {
            if (++rw->m2 == 7) {
                rw->m1 = rw->m2 = 0;
                rw->sc = CSS_AI;
            }
        } else {
            rw->m2 = c == '@' ? 1 : 0;
        }
        return 0;
    }
    case CSS_AU:
        if (is_css_ws(c))
            return 0;
        if (c == '"' || c == '\'') {
            rw->css_q = (char)c;
            rw->sc = CSS_QS;
            return 0;
        }
        if (c == ')') {
            rw->sc = CSS_N;
            return 0;
        }
        rw->sc = CSS_UQ;
        return SC_START;
    case CSS_QS:
        if (c == rw->css_q) {
            rw->sc = CSS_N;
            return 0;
        }
        rw->sc = CSS_Q;
        return SC_START;
    case CSS_Q:
        if (c == rw->css_q || c == '\n') {
            rw->sc = CSS_N;
            return SC_END;
        }
        return 0;
    case CSS_UQ:
        if (c == ')' || is_css_ws(c)) {
            rw->sc = CSS_N;
            return SC_END;
        }
        return 0;
    case CSS_AI:
        if (is_css_ws(c))
            return 0;
        if (c == '"' || c == '\'') {
            rw->css_q = (char)c;
            rw->sc = CSS_QS;
            return 0;
        }
        rw->sc = CSS_N;
        return scan_css(rw, c);
    }
    return 0;
}

static int scan(struct rnd_rewriter *rw, int c)
{
    switch (rw->vk) {
    case V_URL:
        if (rw->sc == 0) {
            rw->sc = 1;
            return SC_START;
        }
        return 0;
    case V_SRCSET: {
        switch (rw->sc) {
        case SS_SEP:
            if (is_css_ws(c) || c == ',')
                return 0;
            rw->sc = SS_URL;
            return SC_START;
        case SS_URL:
            if (is_css_ws(c)) {
                rw->sc = SS_DESC;
                return SC_END;
            }
            return 0;
        case SS_DESC:
            if (c == '(')
                rw->sc = SS_PAREN;
            else if (c == ',')
                rw->sc = SS_SEP;
            return 0;
        default:
            if (c == ')')
                rw->sc = SS_DESC;
            return 0;
        }
    }
    case V_PING:
        if (rw->sc == 0) {
            if (is_css_ws(c))
                return 0;
            rw->sc = 1;
            return SC_START;
        }
        if (is_css_ws(c)) {
            rw->sc = 0;
            return SC_END;
        }
        return 0;
    case V_CSS:
        return scan_css(rw, c);
    case V_REFRESH: {
        /* "N[.N] [;,] [url =] ['"]URL": 0 ws, 1 number, 2 sep, 3 ws, 4.. url= matching, 9 done */
        switch (rw->sc) {
        case 0:
            if (is_css_ws(c))
                return 0;
            if ((c >= '0' && c <= '9') || c == '.') {
                rw->sc = 1;
                return 0;
            }
            rw->sc = 9;
            return 0;
        case 1:
            if ((c >= '0' && c <= '9') || c == '.')
                return 0;
            rw->sc = 2;
            return scan(rw, c);
        case 2:
            if (is_css_ws(c))
                return 0;
            rw->sc = 3;
            if (c == ';' || c == ',')
                return 0;
            return scan(rw, c);
        case 3:
            if (is_css_ws(c))
                return 0;
            if (c == '"' || c == '\'') {
                rw->sc = 8; /* URL starts after the quote */
                return 0;
            }
            rw->sc = lc(c) == 'u' ? 4 : 9;
            return SC_START;
        case 4:
            rw->sc = lc(c) == 'r' ? 5 : 9;
            return 0;
        case 5:
            rw->sc = lc(c) == 'l' ? 6 : 9;
            return 0;
        case 6:
            if (is_css_ws(c))
                return 0;
            rw->sc = c == '=' ? 7 : 9;
            return 0;
        case 7:
            if (is_css_ws(c))
                return 0;
            rw->kw_end = 1;
            if (c == '"' || c == '\'') {
                rw->sc = 8;
                return SC_END;
            }
            rw->sc = 9;
            return SC_END | SC_START;
        case 8:
            rw->sc = 9;
            return SC_START;
        default:
            return 0;
        }
    }
    default:
        return 0;
    }
}

/* How many bytes at the start of p[0..n) the current scanner passes over: bytes for which scan()
 * returns 0 without changing its state (so they can be taken as one run). */
static size_t scan_skip(const struct rnd_rewriter *rw, const unsigned char *p, size_t n)
{
    size_t k = 0;
    switch (rw->vk) {
    case V_URL:
        return rw->sc == 1 ? n : 0;
    case V_SRCSET:
        switch (rw->sc) {
        case SS_SEP:
            while (k < n && (is_css_ws(p[k]) || p[k] == ','))
                k++;
            return k;
        case SS_URL:
            while (k < n && !is_css_ws(p[k]))
                k++;
            return k;
        case SS_DESC:
            while (k < n && p[k] != '(' && p[k] != ',')
                k++;
            return k;
        default:
            while (k < n && p[k] != ')')
                k++;
            return k;
        }
    case V_PING:
        if (rw->sc == 0) {
            while (k < n && is_css_ws(p[k]))
                k++;
        } else {
            while (k < n && !is_css_ws(p[k]))
                k++;
        }
        return k;
    case V_CSS:
        switch (rw->sc) {
        case CSS_N:
            if (rw->m1 || rw->m2)
                return 0;
            while (k < n && p[k] != 'u' && p[k] != 'U' && p[k] != '@')
                k++;
            return k;
        case CSS_Q:
            while (k < n && p[k] != (unsigned char)rw->css_q && p[k] != '\n')
                k++;
            return k;
        case CSS_UQ:
            while (k < n && p[k] != ')' && !is_css_ws(p[k]))
                k++;
            return k;
        default:
            return 0;
        }
    case V_REFRESH:
        return rw->sc == 9 ? n : 0;
    default:
        return 0;
    }
}

/* A URL ended before the current byte; its prefix is complete. For the refresh scanner an END
 * while pending means "that was the url= keyword": the text stays as it is. */
static void url_end(struct rnd_rewriter *rw)
{
    if (rw->url == U_PENDING) {
        if (rw->kw_end) {
            rw->kw_end = 0;
            if (rw->dirty)
                esc_out(rw, rw->us->pfx, rw->pfx_len);
            rw->url = U_NONE;
            return;
        } else {
            decide(rw, 1);
        }
        if (rw->url == U_PENDING && rw->dirty) /* still undecided: keep it */
            esc_out(rw, rw->us->pfx, rw->pfx_len);
    }
    rw->url = U_NONE;
    rw->kw_end = 0;
}

/* Bytes after which a decision may become possible: the end of a scheme or of an authority (a
 * URL without any is decided when it ends, or at RND_URL_PREFIX_MAX). */
static int is_trigger(int c)
{
    return bcls[(unsigned char)c] & B_TRIGGER;
}

/* Prefixes on which rnd_url_decide certainly answers RND_URL_NEED_MORE (so it is not asked):
 * a lone leading slash, and "http:" / "https:" with nothing after the colon. */
/* Whether q[k] is a slash in a run of slashes ("https://", "//"): no decision there, the host
 * comes next. */
static int in_slashes(const char *q, size_t k)
{
    return (q[k] == '/' || q[k] == '\\') && k >= 1 &&
           (q[k - 1] == ':' || q[k - 1] == '/' || q[k - 1] == '\\');
}

static int surely_more(const char *q, size_t n)
{
    if (n == 1)
        return q[0] == '/' || q[0] == '\\';
    if ((n == 5 || n == 6) && q[n - 1] == ':' && (q[0] | 32) == 'h' && (q[1] | 32) == 't' &&
        (q[2] | 32) == 't' && (q[3] | 32) == 'p')
        return n == 5 || (q[4] | 32) == 's';
    return 0;
}

static int srcdoc_changed(const struct rnd_rewriter *rw);
static void srcdoc_dirty(struct rnd_rewriter *rw);

/* The one URL of a V_URL value is decided and written: the rest of the value passes through as
 * raw bytes, so the tokenizer need not decode it and the value needs no more events. */
static void vskip(struct rnd_rewriter *rw)
{
    rnd_tok_skip_value(rw->tok);
    rw->vk = V_NONE;
    rw->dec.len = 0;
    hbuf_trim(&rw->dec);
}

static void vchunk(struct rnd_rewriter *rw, const char *p, size_t n, uint64_t raw_end)
{
    if (rw->vk == V_SRCDOC) {
        if (rw->nested)
            rnd_rewriter_feed(rw->nested, p, n);
        rw->last_raw_end = raw_end;
        if (!rw->dirty && (srcdoc_changed(rw) || rw->dec.len > dec_cap(rw)))
            srcdoc_dirty(rw);
        if (rw->dirty)
            drop_raw_upto(rw, raw_end);
        return;
    }
    if (rw->vk == V_DROP) {
        drop_raw_upto(rw, raw_end);
        return;
    }
    rw->cur = p;
    rw->cur_n = 0;
    /* dirty bytes are written in runs: [run, k) with run_rest saying escaped or URL rest */
    size_t run = SIZE_MAX;
    int run_rest = 0;
#define FLUSH_RUN(end)                                                                             \
    do {                                                                                           \
        if (run != SIZE_MAX) {                                                                     \
            if (run_rest)                                                                          \
                rest_out(rw, p + run, (end)-run);                                                  \
            else                                                                                   \
                esc_out(rw, p + run, (end)-run);                                                   \
            run = SIZE_MAX;                                                                        \
        }                                                                                          \
    } while (0)
    /* the byte at `at` joins the dirty run (a run is written either as the URL's rest or
     * escaped: a change of kind ends it) */
#define EXTEND_RUN(at)                                                                             \
    do {                                                                                           \
        int rest_ = rw->url == U_DECIDED;                                                          \
        if (run != SIZE_MAX && run_rest != rest_)                                                  \
            FLUSH_RUN(at);                                                                         \
        if (run == SIZE_MAX) {                                                                     \
            run = (at);                                                                            \
            run_rest = rest_;                                                                      \
        }                                                                                          \
    } while (0)
    for (size_t k = 0; k < n; k++) {
        if (rw->vk == V_URL && rw->url != U_PENDING && rw->sc == 1) {
            /* one URL per value, already decided: the rest needs no scanning */
            FLUSH_RUN(k);
            if (rw->dirty) {
                if (rw->url == U_DECIDED)
                    rest_out(rw, p + k, n - k);
                else
                    esc_out(rw, p + k, n - k);
            }
            break;
        }
        if (rw->url == U_PENDING) {
            /* inside the start of a URL: collect up to the next possible decision point (a
             * trigger byte, a byte the scanner acts on, or the prefix limit) */
            size_t e = n, t = k;
            if (e - k > RND_URL_PREFIX_MAX - 1 - rw->pfx_len)
                e = k + (RND_URL_PREFIX_MAX - 1 - rw->pfx_len);
            while (t < e && !(bcls[(unsigned char)p[t]] & B_TRIGGER))
                t++;
            size_t m = scan_skip(rw, (const unsigned char *)p + k, t - k);
            memcpy(rw->us->pfx + rw->pfx_len, p + k, m);
            rw->pfx_len += m;
            k += m;
            if (k == n) {
                rw->cur_n = n;
                break;
            }
        }
        size_t m = rw->url == U_PENDING ? 0 : scan_skip(rw, (const unsigned char *)p + k, n - k);
        if (m) {
            /* bytes the scanner passes over: nothing to do, or one more stretch of a dirty run */
            if (rw->dirty)
                EXTEND_RUN(k);
            k += m;
            if (k == n)
                break;
        }
        int c = (unsigned char)p[k];
        rw->cur_n = k;
        int f = scan(rw, c);
        if (f)
            FLUSH_RUN(k);
        if (f & SC_END)
            url_end(rw);
        if (f & SC_START) {
            if (rw->url == U_PENDING && rw->dirty)
                esc_out(rw, rw->us->pfx, rw->pfx_len);
            rw->url = U_PENDING;
            rw->pfx_len = 0;
            rw->url_at = rw->dec.len + k;
        }
        if (rw->url == U_PENDING) {
            FLUSH_RUN(k);
            rw->us->pfx[rw->pfx_len++] = (char)c;
            rw->cur_n = k + 1;
            if (((is_trigger(c) && !in_slashes(rw->us->pfx, rw->pfx_len - 1)) ||
                 rw->pfx_len == RND_URL_PREFIX_MAX) &&
                !surely_more(rw->us->pfx, rw->pfx_len))
                decide(rw, 0);
            if (rw->url == U_PENDING && rw->pfx_len == RND_URL_PREFIX_MAX)
                decide(rw, 1);
        } else if (rw->dirty) {
            EXTEND_RUN(k);
        }
    }
    FLUSH_RUN(n);
#undef EXTEND_RUN
#undef FLUSH_RUN
    rw->cur = NULL;
    rw->cur_n = 0;
    rw->last_raw_end = raw_end;
    if (rw->dirty) {
        drop_raw_upto(rw, raw_end);
        if (rw->url == U_NONE) {
            rw->dirty = 0;
            rw->ivl_raw = raw_end;
            rw->dec.len = 0;
        }
    } else if (rw->url == U_PENDING) {
        if (rw->dec.len + n > dec_cap(rw)) {
            /* too much held: write this stretch from the decoded text from now on */
            rw->cur = p;
            rw->cur_n = n;
            go_dirty(rw);
            rw->cur = NULL;
            rw->cur_n = 0;
            drop_raw_upto(rw, raw_end);
        } else {
            hbuf_add(&rw->dec, p, n);
        }
    } else {
        rw->ivl_raw = raw_end;
        rw->dec.len = 0;
    }
    if (rw->vk == V_URL && rw->url == U_NONE && !rw->dirty && !rw->noskip)
        vskip(rw);
}

static struct rnd_rewriter *rewriter_new_depth(const struct rnd_url_policy *policy,
                                               rnd_write_cb write, void *ud, int depth,
                                               struct url_state *shared);

/* srcdoc: the nested document's output is kept (in dec) while nothing in it changed, so that
 * an unchanged srcdoc keeps its bytes; once something changes, or too much is held, the value
 * is written from the nested output, escaped. */
static void srcdoc_dirty(struct rnd_rewriter *rw);

static void nested_write(void *ud, const void *p, size_t n)
{
    struct rnd_rewriter *rw = ud;
    if (!rw->dirty && rw->dec.len + n > dec_cap(rw))
        srcdoc_dirty(rw); /* too much kept: written from the nested output from now on */
    if (rw->dirty)
        esc_out(rw, p, n);
    else
        hbuf_add(&rw->dec, p, n);
}

static int srcdoc_changed(const struct rnd_rewriter *rw)
{
    return rw->nested && (rw->nested->stats.rewritten || rw->nested->stats.blocked);
}

static void srcdoc_dirty(struct rnd_rewriter *rw)
{
    emit_raw_upto(rw, rw->ivl_raw);
    rw->dirty = 1;
    esc_out(rw, rw->dec.p, rw->dec.len);
    rw->dec.len = 0;
    hbuf_trim(&rw->dec);
    drop_raw_upto(rw, rw->last_raw_end);
}

static void vbegin(struct rnd_rewriter *rw, int vk, char quote, uint64_t raw)
{
    rw->vk = vk;
    rw->quote = quote;
    rw->dirty = 0;
    rw->ivl_raw = raw;
    rw->last_raw_end = raw;
    rw->dec.len = 0;
    rw->sc = rw->m1 = rw->m2 = 0;
    rw->kw_end = 0;
    rw->url = U_NONE;
    rw->pfx_len = 0;
    /* the raw bytes before the value are written lazily (at the end of the slice, or when the
     * value turns dirty) */
    if (vk == V_SRCDOC) {
        if (rw->depth < 1) {
            rw->nested = rewriter_new_depth(&rw->pol, nested_write, rw, rw->depth + 1, rw->us);
            rw->nested->noskip = rw->noskip;
            if (rw->noskip)
                rnd_tok_set_filter(rw->nested->tok, 0, NULL, NULL);
        } else {
            emit_raw_upto(rw, raw);
            rw->dirty = 1; /* too deep: the value is dropped */
            rw->stats.blocked++;
        }
    } else if (vk == V_DROP) {
        emit_raw_upto(rw, raw);
        rw->dirty = 1;
        rw->stats.blocked++;
    }
}

static void vend(struct rnd_rewriter *rw, uint64_t raw)
{
    if (rw->vk == V_SRCDOC && rw->nested) {
        rw->last_raw_end = raw;
        rnd_rewriter_finish(rw->nested);
        if (!rw->dirty && srcdoc_changed(rw))
            srcdoc_dirty(rw);
        struct rnd_rewrite_stats s;
        rnd_rewriter_stats(rw->nested, &s);
        rw->stats.urls += s.urls;
        rw->stats.rewritten += s.rewritten;
        rw->stats.blocked += s.blocked;
        rnd_rewriter_free(rw->nested);
        rw->nested = NULL;
    }
    url_end(rw);
    if (rw->dirty)
        drop_raw_upto(rw, raw);
    rw->dirty = 0;
    rw->vk = V_NONE;
    rw->dec.len = 0;
    hbuf_trim(&rw->dec);
}

/* EOF inside a tag: browsers drop the tag; write what is pending and stop scanning. */
static void vabort(struct rnd_rewriter *rw)
{
    if (rw->vk == V_NONE)
        return;
    if (rw->vk == V_SRCDOC && rw->nested) {
        rnd_rewriter_finish(rw->nested);
        rnd_rewriter_free(rw->nested);
        rw->nested = NULL;
    }
    if (rw->dirty && rw->url == U_PENDING)
        esc_out(rw, rw->us->pfx, rw->pfx_len);
    rw->url = U_NONE;
    rw->dirty = 0;
    rw->vk = V_NONE;
    rw->dec.len = 0;
}

/* ---- tree-builder model ---- */

struct name {
    const char *s;
    size_t n;
};
#define NM(x)                                                                                      \
    {                                                                                              \
        x, sizeof(x) - 1                                                                           \
    }

static int in_list(const struct rnd_tok_event *ev, const struct name *list)
{
    for (; list->s; list++)
        if (ev->len == list->n && memcmp(ev->data, list->s, list->n) == 0)
            return 1;
    return 0;
}

static const struct name breakout_tags[] = {
    NM("b"),       NM("big"),  NM("blockquote"), NM("body"),  NM("br"),   NM("center"),
    NM("code"),    NM("dd"),   NM("div"),        NM("dl"),    NM("dt"),   NM("em"),
    NM("embed"),   NM("h1"),   NM("h2"),         NM("h3"),    NM("h4"),   NM("h5"),
    NM("h6"),      NM("head"), NM("hr"),         NM("i"),     NM("img"),  NM("li"),
    NM("listing"), NM("menu"), NM("meta"),       NM("nobr"),  NM("ol"),   NM("p"),
    NM("pre"),     NM("ruby"), NM("s"),          NM("small"), NM("span"), NM("strong"),
    NM("strike"),  NM("sub"),  NM("sup"),        NM("table"), NM("tt"),   NM("u"),
    NM("ul"),      NM("var"),  {NULL, 0},
};

/* What the tree-builder model and attr_kind need to know about a tag name. */
enum {
    TC_SCRIPT = 1,
    TC_RAWTEXT = 2,
    TC_STYLE = 4,
    TC_RCDATA = 8,
    TC_PLAINTEXT = 16,
    TC_SVGMATH = 32,
    TC_INTEGRATION = 64, /* HTML integration point in SVG (foreignObject, desc, title) */
    TC_OBJECT = 128,
    TC_META = 256,
    TC_IFRAME = 512,
};
#define TC_STATE (TC_SCRIPT | TC_RAWTEXT | TC_RCDATA | TC_PLAINTEXT | TC_SVGMATH)

/* The class of a (lowercased) tag name: a switch on the length first, as most tags are none of
 * these. RAWTEXT: style xmp iframe noembed noframes noscript (scripting on); RCDATA: title
 * textarea. */
static unsigned tag_class(const char *s, size_t n)
{
#define IS(lit) (memcmp(s, lit, sizeof(lit) - 1) == 0)
    switch (n) {
    case 3:
        return IS("xmp") ? TC_RAWTEXT : IS("svg") ? TC_SVGMATH : 0;
    case 4:
        return IS("math") ? TC_SVGMATH : IS("desc") ? TC_INTEGRATION : IS("meta") ? TC_META : 0;
    case 5:
        return IS("style") ? TC_RAWTEXT | TC_STYLE : IS("title") ? TC_RCDATA | TC_INTEGRATION : 0;
    case 6:
        return IS("script")   ? TC_SCRIPT
               : IS("iframe") ? TC_RAWTEXT | TC_IFRAME
               : IS("object") ? TC_OBJECT
                              : 0;
    case 7:
        return IS("noembed") ? TC_RAWTEXT : 0;
    case 8:
        return IS("noframes") || IS("noscript") ? TC_RAWTEXT : IS("textarea") ? TC_RCDATA : 0;
    case 9:
        return IS("plaintext") ? TC_PLAINTEXT : 0;
    case 13:
        return IS("foreignobject") ? TC_INTEGRATION : 0;
    default:
        return 0;
    }
#undef IS
}

static void set_foreign(struct rnd_rewriter *rw, int foreign)
{
    if (rw->foreign != foreign) {
        rw->foreign = foreign;
        rnd_tok_set_foreign(rw->tok, foreign);
    }
}

static int top_ns(const struct rnd_rewriter *rw)
{
    if (rw->ns_overflow)
        return 'F';
    return rw->ns_len ? rw->ns[rw->ns_len - 1] : 'H';
}

static void tok_filter(struct rnd_rewriter *rw);
static int on_tag(void *ud, const struct rnd_tok_tag *tg);

/* The stack changes what the tokenizer must deliver (end tags matter inside foreign content). */
static void ns_push(struct rnd_rewriter *rw, unsigned char k)
{
    if (rw->ns_len < sizeof rw->ns && !rw->ns_overflow)
        rw->ns[rw->ns_len++] = k;
    else
        rw->ns_overflow++;
    tok_filter(rw);
}

static void ns_pop(struct rnd_rewriter *rw)
{
    if (rw->ns_overflow)
        rw->ns_overflow--;
    else if (rw->ns_len)
        rw->ns_len--;
    tok_filter(rw);
}

/* What an attribute name may hold, whatever the tag (attr_kind adds the tag's part). */
enum { AN_NONE, AN_URL, AN_SRCSET, AN_PING, AN_STYLE, AN_DATA, AN_CONTENT, AN_SRCDOC, AN_ON };

static int attr_name_class(const char *name, size_t len)
{
#define IS(lit) (memcmp(name, lit, sizeof(lit) - 1) == 0)
    switch (len) {
    case 3:
        return IS("src") ? AN_URL : AN_NONE;
    case 4:
        return IS("href") ? AN_URL : IS("ping") ? AN_PING : IS("data") ? AN_DATA : AN_NONE;
    case 5:
        return IS("style") ? AN_STYLE : AN_NONE;
    case 6:
        return IS("action") || IS("poster") || IS("lowsrc") || IS("dynsrc") ? AN_URL
               : IS("srcset")                                               ? AN_SRCSET
               : IS("srcdoc")                                               ? AN_SRCDOC
                                                                            : AN_NONE;
    case 7:
        return IS("content") ? AN_CONTENT : AN_NONE;
    case 8:
        return IS("manifest") || IS("codebase") ? AN_URL : AN_NONE;
    case 10:
        return IS("formaction") || IS("background") || IS("xlink:href") ? AN_URL : AN_NONE;
    case 11:
        return IS("imagesrcset") ? AN_SRCSET : AN_NONE;
    default:
        return AN_NONE;
    }
#undef IS
}

/* The tokenizer's attribute filter: the names attr_kind may care about (whatever the tag), so
 * that the attributes of no interest (class, id, title, alt...) cost no events and no decoding. */
static int want_attr(void *ud, const char *name, size_t len, int end_tag)
{
    struct rnd_rewriter *rw = ud;
    if (end_tag)
        return 0;
    if (rw->pol.strip_scripts && len > 2 && name[0] == 'o' && name[1] == 'n')
        return AN_ON;
    return attr_name_class(name, len);
}

/* The tokenizer's tag filter: tags the tree-builder model needs to see. Inside SVG/MathML every
 * tag counts (break-out tags, nesting, integration points), and inside <style> the end tag ends
 * the CSS; otherwise only start tags that switch the content state or open foreign content.
 * Tags with attributes that may hold URLs are delivered anyway (see rnd_tok_tag_filter). */
static int want_tag(void *ud, const char *name, size_t len, int end_tag)
{
    struct rnd_rewriter *rw = ud;
    if (rw->ns_len || rw->ns_overflow || rw->in_style)
        return 1;
    return !end_tag && (tag_class(name, len) & TC_STATE);
}

/* Text events are wanted only inside <style> (its CSS is scanned for URLs). */
static void tok_filter(struct rnd_rewriter *rw)
{
    rnd_tok_set_tag_cb(rw->tok, rw->noskip ? NULL : on_tag);
    if (!rw->noskip)
        rnd_tok_set_filter(
            rw->tok,
            (rw->in_style ? 0 : RND_TOK_SKIP_TEXT) | RND_TOK_SKIP_COMMENTS |
                (rw->in_style || rw->ns_len || rw->ns_overflow ? 0 : RND_TOK_SKIP_END_TAGS),
            want_tag, want_attr);
}

static int attr_kind(const struct rnd_rewriter *rw, const char *name, size_t len, int dup_or_trunc,
                     int cls)
{
    if (dup_or_trunc || rw->end_tag)
        return V_NONE;
    switch (cls) {
    case AN_URL:
        return V_URL;
    case AN_SRCSET:
        return V_SRCSET;
    case AN_PING:
        return V_PING;
    case AN_STYLE:
        return V_CSS;
    case AN_DATA:
        if (rw->tag_cls & TC_OBJECT)
            return V_URL;
        break;
    case AN_CONTENT:
        if (rw->tag_cls & TC_META)
            return V_REFRESH;
        break;
    case AN_SRCDOC:
        if (rw->tag_cls & TC_IFRAME)
            return V_SRCDOC;
        break;
    default:
        break;
    }
    if (rw->pol.strip_scripts && len > 2 && name[0] == 'o' && name[1] == 'n')
        return V_DROP;
    return V_NONE;
}

static void on_tag_end(struct rnd_rewriter *rw, const struct rnd_tok_event *ev)
{
    if (ev->end_tag)
        return;
    unsigned cls = rw->tag_cls;
    int top = top_ns(rw);
    if (top == 'F') {
        if (in_list(ev, breakout_tags)) {
            while (rw->ns_len || rw->ns_overflow) {
                if (top_ns(rw) == 'H')
                    break;
                ns_pop(rw);
            }
            top = top_ns(rw);
        } else {
            if (!ev->self_closing) {
                if (cls & TC_INTEGRATION)
                    ns_push(rw, 'H');
                else if (cls & TC_SVGMATH)
                    ns_push(rw, 'F');
            }
            set_foreign(rw, top_ns(rw) == 'F');
            return;
        }
    }
    if (cls & TC_SVGMATH) {
        if (!ev->self_closing)
            ns_push(rw, 'F');
    } else if (cls & TC_SCRIPT) {
        rnd_tok_set_state(rw->tok, RND_TOK_STATE_SCRIPT_DATA, NULL);
    } else if (cls & TC_RAWTEXT) {
        rnd_tok_set_state(rw->tok, RND_TOK_STATE_RAWTEXT, NULL);
        if (cls & TC_STYLE) {
            rw->in_style = 1;
            tok_filter(rw);
            vbegin(rw, V_CSS, 'T', ev->raw);
        }
    } else if (cls & TC_RCDATA) {
        rnd_tok_set_state(rw->tok, RND_TOK_STATE_RCDATA, NULL);
    } else if (cls & TC_PLAINTEXT) {
        rnd_tok_set_state(rw->tok, RND_TOK_STATE_PLAINTEXT, NULL);
    }
    set_foreign(rw, top_ns(rw) == 'F');
}

/* Index of the first trigger byte (is_trigger) in v[k..m), or m. */
static size_t find_trigger(const char *v, size_t k, size_t m)
{
#if defined(__SSE2__)
    while (k + 16 <= m) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(v + k));
        __m128i t = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(':')),
                                              _mm_cmpeq_epi8(x, _mm_set1_epi8('/'))),
                                 _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\\')),
                                                           _mm_cmpeq_epi8(x, _mm_set1_epi8('?'))),
                                              _mm_cmpeq_epi8(x, _mm_set1_epi8('#'))));
        unsigned mask = (unsigned)_mm_movemask_epi8(t);
        if (mask)
            return k + (size_t)__builtin_ctz(mask);
        k += 16;
    }
#endif
    while (k < m && !is_trigger(v[k]))
        k++;
    return k;
}

/* Decides the URL v[0..m) (raw = decoded; m is the value's end when `complete`, else the first
 * '&') as vchunk would: at the same prefixes, through the decision cache (a pure memo, so asking
 * twice changes nothing). Returns RND_URL_KEEP or RND_URL_REPLACE (rw->d holds the decision,
 * *plen the prefix length it was taken at), or -2 when only the events path can tell (the
 * decision needs bytes past a character reference, or the prefix limit is reached). */
static int url_decide_whole(struct rnd_rewriter *rw, const char *v, size_t m, int complete,
                            size_t *plen)
{
    if (m == 0 || m >= RND_URL_PREFIX_MAX - 1)
        return -2;
    if (rnd_url_is_path(v, m))
        return RND_URL_KEEP;
    /* after "http://" or "https://" the next decision point is the end of the host (on the
     * scheme's ':' and in the run of slashes nothing is decided) */
    size_t from = 0;
    if (m > 8 && memcmp(v, "https://", 8) == 0)
        from = 8;
    else if (m > 7 && memcmp(v, "http://", 7) == 0)
        from = 7;
    for (size_t k = find_trigger(v, from, m); k < m; k = find_trigger(v, k + 1, m)) {
        if (in_slashes(v, k) || surely_more(v, k + 1))
            continue;
        int r = decide_cached(rw, v, k + 1, 0);
        if (r != RND_URL_NEED_MORE) {
            *plen = k + 1;
            return r;
        }
    }
    if (!complete)
        return -2;
    *plen = m;
    int r = decide_cached(rw, v, m, 1);
    return r == RND_URL_NEED_MORE ? -2 : r;
}

/* Writes, through rest_out, the decoded bytes of v[0..n) when every '&' in it starts one of the
 * references the tokenizer resolves on its own (rnd_tok_common_ref); with write 0 only checks.
 * 0: another reference (the events path decodes it). */
static int rest_decoded(struct rnd_rewriter *rw, const char *v, size_t n, int write)
{
    size_t i = 0;
    while (i < n) {
        const char *amp = memchr(v + i, '&', n - i);
        size_t e = amp ? (size_t)(amp - v) : n;
        if (write)
            rest_out(rw, v + i, e - i);
        if (e == n)
            break;
        const char *o;
        size_t olen, k = rnd_tok_common_ref(v + e, n - e, &o, &olen);
        if (!k)
            return 0;
        if (write)
            rest_out(rw, o, olen);
        i = e + k;
    }
    return 1;
}

/* A srcset value v[0..n) (raw = decoded: no '&' in it) on the whole-tag path: every candidate URL,
 * as the srcset scanner delimits them, decided as vchunk would. With write 0 only decides:
 * returns the number of URLs to replace (adds the URLs decided to *urls), or -1 when the events
 * path is needed. With write 1 (then it counts the URLs in rw->stats itself)
 * (quoted values only: there the escaping of the dirty stretch changes no byte) writes the value
 * as the events path does: the raw bytes, each replaced URL as its replacement and its rest,
 * and counts the URLs. */
static int srcset_whole(struct rnd_rewriter *rw, const struct rnd_tok_tag_attr *at, int write,
                        uint64_t *urls)
{
    const char *v = at->value;
    size_t n = at->value_len, k = 0, done = 0;
    int replace = 0;
    if (write)
        emit_raw_upto(rw, at->raw);
    while (k < n) {
        /* SS_SEP: whitespace and commas, then a URL up to whitespace */
        while (k < n && (is_css_ws(v[k]) || v[k] == ','))
            k++;
        if (k == n)
            break;
        size_t e = k, plen;
        while (e < n && !is_css_ws(v[e]))
            e++;
        int r = url_decide_whole(rw, v + k, e - k, 1, &plen);
        if (r < 0)
            return -1;
        if (r == RND_URL_REPLACE)
            replace++;
        if (!write)
            (*urls)++;
        else
            count_url(rw, r);
        if (write) {
            if (r == RND_URL_REPLACE) {
                out(rw, v + done, k - done);
                rw->quote = at->quote;
                write_replacement(rw, v + k, e - k); /* the whole URL: its rest too */
                done = e;
            }
        }
        if (e == n)
            break;
        /* SS_DESC (from the whitespace that ended the URL), SS_PAREN: up to a ',' outside
         * parentheses */
        int paren = 0;
        for (k = e + 1; k < n; k++) {
            if (paren) {
                paren = v[k] != ')';
            } else if (v[k] == '(') {
                paren = 1;
            } else if (v[k] == ',') {
                break;
            }
        }
    }
    if (write) {
        out(rw, v + done, n - done);
        drop_raw_upto(rw, at->raw + n);
    }
    return replace;
}

/* Writes a URL value whose URL is replaced as the events path writes it: the raw bytes up to the
 * value, the replacement, the rest of the prefix and of the first value chunk (up to the '&' at
 * amp, or the value's end) per the decision's rest; after amp the value stays raw bytes when the
 * rest is copied, else its decoded bytes go through rest_out too. */
static void url_replace_whole(struct rnd_rewriter *rw, const struct rnd_tok_tag_attr *at)
{
    size_t plen = 0;
    int r = url_decide_whole(rw, at->value, at->amp, at->amp == at->value_len, &plen);
    count_url(rw, r);
    rw->quote = at->quote;
    emit_raw_upto(rw, at->raw);
    write_replacement(rw, at->value, plen);
    if (rw->rest == RND_REST_COPY) {
        esc_out(rw, at->value + plen, at->amp - plen);
        drop_raw_upto(rw, at->raw + at->amp);
    } else {
        rest_out(rw, at->value + plen, at->amp - plen);
        rest_decoded(rw, at->value + at->amp, at->value_len - at->amp, 1);
        drop_raw_upto(rw, at->raw + at->value_len);
    }
}

/* The tokenizer's whole-tag path (rnd_tok_set_tag_cb): a start tag outside foreign content that
 * needs no state switch, whose URL and srcset values are decided on their raw bytes, is taken
 * here without events: nothing to write when every URL stays, else each value with a URL to
 * replace is written as the events path writes it. Anything else (another kind of value, a
 * decision that needs bytes the tokenizer would decode in another way) asks for the events.
 * Decides everything before writing anything, so that asking for the events never follows
 * output; writing decides again (through the cache: the same answers). */
static int on_tag(void *ud, const struct rnd_tok_tag *tg)
{
    struct rnd_rewriter *rw = ud;
    if (tg->end_tag || rw->ns_len || rw->ns_overflow || rw->in_style)
        return 1;
    unsigned cls = tag_class(tg->name, tg->len);
    if (cls & TC_STATE)
        return 1;
    rw->end_tag = 0;
    rw->tag_cls = cls;
    uint64_t urls = 0;
    unsigned url = 0, srcset = 0, replace = 0; /* bit a: attrs[a] is such a value */
    for (size_t a = 0; a < tg->nattrs; a++) {
        const struct rnd_tok_tag_attr *at = &tg->attrs[a];
        if (!at->value)
            continue; /* no value: no value events either */
        int vk = attr_kind(rw, at->name, at->name_len, (int)at->duplicate, at->want);
        if (at->value_len == 0 && (vk == V_URL || vk == V_SRCSET))
            continue; /* no URL in it */
        int complete = at->amp == at->value_len;
        if (vk == V_URL) {
            size_t plen;
            int r = url_decide_whole(rw, at->value, at->amp, complete, &plen);
            if (r == RND_URL_REPLACE &&
                (complete || rw->us->d.rest == RND_REST_COPY ||
                 rest_decoded(rw, at->value + at->amp, at->value_len - at->amp, 0)))
                replace |= 1u << a;
            else if (r != RND_URL_KEEP)
                return 1;
            url |= 1u << a;
            urls++;
        } else if (vk == V_SRCSET) {
            int r = complete ? srcset_whole(rw, at, 0, &urls) : -1;
            if (r < 0 || (r > 0 && !at->quote))
                return 1;
            if (r > 0)
                replace |= 1u << a;
            srcset |= 1u << a;
        } else if (vk != V_NONE) {
            return 1;
        }
    }
    if (!replace) {
        rw->stats.urls += urls; /* nothing to write: count what was decided */
        return 0;
    }
    /* write (and count) again, in order */
    for (size_t a = 0; a < tg->nattrs; a++) {
        unsigned bit = 1u << a;
        uint64_t n = 0;
        if ((replace & bit) && (url & bit))
            url_replace_whole(rw, &tg->attrs[a]);
        else if (url & bit)
            rw->stats.urls++;
        else if (srcset & bit)
            srcset_whole(rw, &tg->attrs[a], (replace & bit) != 0, &n);
        rw->stats.urls += n;
    }
    return 0;
}

static void on_event(void *ud, const struct rnd_tok_event *ev)
{
    struct rnd_rewriter *rw = ud;
    switch (ev->kind) {
    case RND_EV_TEXT:
        if (rw->in_style)
            vchunk(rw, ev->data, ev->len, ev->raw);
        break;
    case RND_EV_TAG_START:
        if (rw->in_style) {
            vend(rw, ev->raw);
            rw->in_style = 0;
            tok_filter(rw);
        }
        rw->end_tag = ev->end_tag;
        rw->tag_cls = tag_class(ev->data, ev->len);
        rw->next_vk = V_NONE;
        if (ev->end_tag) {
            int top = top_ns(rw);
            if ((top == 'F' && (rw->tag_cls & TC_SVGMATH)) ||
                (top == 'H' && rw->ns_len && (rw->tag_cls & TC_INTEGRATION)))
                ns_pop(rw);
            set_foreign(rw, top_ns(rw) == 'F');
        }
        break;
    case RND_EV_ATTR_NAME:
        rw->next_vk = attr_kind(rw, ev->data, ev->len, ev->duplicate || ev->truncated,
                                attr_name_class(ev->data, ev->len));
        break;
    case RND_EV_ATTR_VALUE_START:
        if (rw->next_vk != V_NONE)
            vbegin(rw, rw->next_vk, ev->quote, ev->raw);
        rw->next_vk = V_NONE;
        break;
    case RND_EV_ATTR_VALUE:
        if (rw->vk != V_NONE)
            vchunk(rw, ev->data, ev->len, ev->raw);
        break;
    case RND_EV_ATTR_VALUE_END:
        if (rw->vk != V_NONE)
            vend(rw, ev->raw);
        break;
    case RND_EV_TAG_END:
        on_tag_end(rw, ev);
        break;
    case RND_EV_TAG_ABORT:
        vabort(rw);
        break;
    default:
        break;
    }
}

/* ---- lifecycle ---- */

static struct rnd_rewriter *rewriter_new_depth(const struct rnd_url_policy *policy,
                                               rnd_write_cb write, void *ud, int depth,
                                               struct url_state *shared)
{
    struct rnd_rewriter *rw =
        calloc(1, shared ? offsetof(struct rnd_rewriter, own) : sizeof(struct rnd_rewriter));
    if (!rw)
        abort();
    rw->us = shared ? shared : &rw->own;
    rw->pol = *policy;
    rw->write = write;
    rw->wud = ud;
    rw->depth = depth;
    rw->tok = rnd_tok_new(on_event, rw);
    tok_filter(rw);
    return rw;
}

struct rnd_rewriter *rnd_rewriter_new(const struct rnd_url_policy *policy, rnd_write_cb write,
                                      void *ud)
{
    return rewriter_new_depth(policy, write, ud, 0, NULL);
}

void rnd_rewriter_set_skipping(struct rnd_rewriter *rw, int on)
{
    rw->noskip = !on;
    if (rw->noskip) {
        rnd_tok_set_filter(rw->tok, 0, NULL, NULL);
        rnd_tok_set_tag_cb(rw->tok, NULL);
    } else
        tok_filter(rw);
}

void rnd_rewriter_free(struct rnd_rewriter *rw)
{
    if (!rw)
        return;
    rnd_rewriter_free(rw->nested);
    rnd_tok_free(rw->tok);
    free(rw->hold.p);
    free(rw->dec.p);
    free(rw);
}

/* Keeps the raw bytes [out_raw, end of slice) that may still be needed. */
static void slice_end(struct rnd_rewriter *rw)
{
    uint64_t end = rw->slice_base + rw->slice_len;
    if (rw->vk == V_NONE) {
        emit_raw_upto(rw, end);
    } else {
        if (!rw->dirty)
            emit_raw_upto(rw, rw->ivl_raw);
        if (end - rw->out_raw > raw_cap(rw)) {
            /* the raw bytes not written yet (a URL's start, a srcdoc kept as it is, or the bytes
             * of a character reference still being read) would grow too large: the stretch is
             * written from the decoded text (from the nested output for srcdoc) instead, and
             * a dirty stretch never needs its raw bytes: the chunk that covers them is written
             * from its decoded text, while the stretch is still dirty */
            if (!rw->dirty && rw->vk == V_SRCDOC)
                srcdoc_dirty(rw);
            else if (!rw->dirty)
                go_dirty(rw);
            drop_raw_upto(rw, end);
        }
    }
    /* hold = exactly [out_raw, end) */
    if (rw->out_raw < end) {
        if (rw->hold.len && rw->out_raw > rw->hold_base)
            hbuf_shift(&rw->hold, (size_t)(rw->out_raw - rw->hold_base));
        if (rw->hold.len == 0)
            rw->hold_base = rw->out_raw > rw->slice_base ? rw->out_raw : rw->slice_base;
        uint64_t from = rw->out_raw > rw->slice_base ? rw->out_raw : rw->slice_base;
        hbuf_add(&rw->hold, rw->slice + (from - rw->slice_base), (size_t)(end - from));
        rw->hold_base = end - rw->hold.len;
    } else {
        rw->hold.len = 0;
        hbuf_trim(&rw->hold);
    }
}

void rnd_rewriter_feed(struct rnd_rewriter *rw, const void *p, size_t n)
{
    rw->slice = p;
    rw->slice_base = rw->pos;
    rw->slice_len = n;
    rnd_tok_feed(rw->tok, p, n);
    slice_end(rw);
    rw->pos += n;
    rw->slice = NULL;
    rw->slice_base = rw->pos;
    rw->slice_len = 0;
}

void rnd_rewriter_finish(struct rnd_rewriter *rw)
{
    rw->slice = NULL;
    rw->slice_base = rw->pos;
    rw->slice_len = 0;
    rnd_tok_finish(rw->tok);
    if (rw->vk != V_NONE) {
        if (rw->in_style)
            vend(rw, rw->pos);
        else
            vabort(rw);
        rw->in_style = 0;
    }
    emit_raw_upto(rw, rw->pos);
    rw->hold.len = 0;
    hbuf_trim(&rw->hold);
}

size_t rnd_rewriter_bytes_held(const struct rnd_rewriter *rw)
{
    size_t n = (rw->us == &rw->own ? sizeof *rw : offsetof(struct rnd_rewriter, own)) +
               rnd_tok_bytes_held(rw->tok) + rw->hold.cap + rw->dec.cap;
    if (rw->nested)
        n += rnd_rewriter_bytes_held(rw->nested);
    return n;
}

void rnd_rewriter_stats(const struct rnd_rewriter *rw, struct rnd_rewrite_stats *out)
{
    *out = rw->stats;
}
