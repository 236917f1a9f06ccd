/* html_tokenizer.c - streaming WHATWG HTML tokenizer (see html_tokenizer.h).
 *
 * One state per WHATWG tokenizer state. step() consumes one preprocessed character (CR and CR LF
 * already turned into LF by rnd_tok_feed) or EOF; "reconsume" is a jump back into the switch.
 * Runs of characters that cannot change the state (text, attribute values, comments) are found
 * with a per-state lookup table and delivered as one event, which is where the speed comes from.
 * Look-ahead ("--", "DOCTYPE", "[CDATA[", "PUBLIC", "SYSTEM") and character references keep at
 * most a few dozen bytes between calls, so any split of the input gives the same events. */
#include "html_tokenizer.h"

#include "entities.h"

#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define C_EOF (-1)

enum st {
    S_DATA,
    S_RCDATA,
    S_RAWTEXT,
    S_SCRIPT,
    S_PLAINTEXT,
    S_CDATA,
    S_CDATA_BRACKET,
    S_CDATA_END,
    S_TAG_OPEN,
    S_END_TAG_OPEN,
    S_TAG_NAME,
    S_RCDATA_LT,
    S_RCDATA_END_OPEN,
    S_RCDATA_END_NAME,
    S_RAWTEXT_LT,
    S_RAWTEXT_END_OPEN,
    S_RAWTEXT_END_NAME,
    S_SCRIPT_LT,
    S_SCRIPT_END_OPEN,
    S_SCRIPT_END_NAME,
    S_SCRIPT_ESC_START,
    S_SCRIPT_ESC_START_DASH,
    S_SCRIPT_ESC,
    S_SCRIPT_ESC_DASH,
    S_SCRIPT_ESC_DASH_DASH,
    S_SCRIPT_ESC_LT,
    S_SCRIPT_ESC_END_OPEN,
    S_SCRIPT_ESC_END_NAME,
    S_SCRIPT_DESC_START,
    S_SCRIPT_DESC,
    S_SCRIPT_DESC_DASH,
    S_SCRIPT_DESC_DASH_DASH,
    S_SCRIPT_DESC_LT,
    S_SCRIPT_DESC_END,
    S_BEFORE_ATTR_NAME,
    S_ATTR_NAME,
    S_AFTER_ATTR_NAME,
    S_BEFORE_ATTR_VALUE,
    S_ATTR_VALUE_DQ,
    S_ATTR_VALUE_SQ,
    S_ATTR_VALUE_UQ,
    S_AFTER_ATTR_VALUE_Q,
    S_SELF_CLOSING,
    S_BOGUS_COMMENT,
    S_MARKUP_DECL,
    S_COMMENT_START,
    S_COMMENT_START_DASH,
    S_COMMENT,
    S_COMMENT_LT,
    S_COMMENT_LT_BANG,
    S_COMMENT_LT_BANG_DASH,
    S_COMMENT_LT_BANG_DASH_DASH,
    S_COMMENT_END_DASH,
    S_COMMENT_END,
    S_COMMENT_END_BANG,
    S_DOCTYPE,
    S_BEFORE_DOCTYPE_NAME,
    S_DOCTYPE_NAME,
    S_AFTER_DOCTYPE_NAME,
    S_AFTER_DOCTYPE_NAME_KW,
    S_AFTER_PUBLIC_KW,
    S_BEFORE_PUBLIC_ID,
    S_PUBLIC_ID_DQ,
    S_PUBLIC_ID_SQ,
    S_AFTER_PUBLIC_ID,
    S_BETWEEN_PUBLIC_SYSTEM,
    S_AFTER_SYSTEM_KW,
    S_BEFORE_SYSTEM_ID,
    S_SYSTEM_ID_DQ,
    S_SYSTEM_ID_SQ,
    S_AFTER_SYSTEM_ID,
    S_BOGUS_DOCTYPE,
    S_CHARREF,
    S_NAMED_REF,
    S_NUMERIC_REF,
    S_HEX_START,
    S_DEC_START,
    S_HEX,
    S_DEC,
};

struct rnd_tok {
    rnd_tok_cb cb;
    void *ud;
    uint64_t pos; /* raw offset of the next byte rnd_tok_feed will see */
    uint8_t state, ret_state;
    uint8_t foreign, finished;
    /* CR handling: a CR is turned into one LF that stands for the CR and, when one follows, the
     * LF too (crlf: the raw range of the character being stepped is 2 bytes). A CR at the end
     * of a feed waits for the next byte (cr_pending). */
    uint8_t cr_pending, crlf;
    /* filtering (rnd_tok_set_filter): flags, attribute filter; skip: SKIP_ATTR (the current
     * attribute is not wanted), SKIP_VALUE (the rest of the current value is not wanted); one
     * byte, written and read whole (no store-forwarding stalls on the hot path) */
    unsigned flags;
    rnd_tok_tag_filter tag_filter;
    rnd_tok_attr_filter filter;
    rnd_tok_tag_cb tag_cb;
    uint8_t skip;
    uint8_t tag_out; /* TAG_START of the current tag was delivered */
    uint64_t rend;   /* raw offset the next text/value event represents the input up to */
    /* current tag */
    char tag[RND_TOK_NAME_MAX];
    size_t tag_len;
    uint64_t lt_raw;
    unsigned tag_trunc : 1, end_tag : 1, self_closing : 1;
    /* current attribute name */
    char attr[RND_TOK_NAME_MAX];
    size_t attr_len;
    uint64_t attr_raw;
    unsigned attr_trunc : 1;
    /* names of the tag's attributes so far: [len][bytes]... */
    unsigned char attrset[RND_TOK_ATTRSET_MAX];
    size_t attrset_len;
    /* last start tag name, for the appropriate end tag check */
    char last[RND_TOK_NAME_MAX];
    size_t last_len;
    /* temporary buffer (end tag names in RCDATA/RAWTEXT/script, "script" double escapes) */
    char tmp[RND_TOK_NAME_MAX + 8];
    size_t tmp_len;
    /* look-ahead for "--", "DOCTYPE", "[CDATA[", "PUBLIC", "SYSTEM" */
    char la[8];
    uint8_t la_len;
    /* character reference */
    char ref[40];
    uint8_t ref_len;
    uint8_t ref_match_len;
    int ref_match;
    unsigned ref_lo, ref_hi;
    uint32_t code;
    /* DOCTYPE */
    /* held only while a DOCTYPE is read (one per document): dt_name, dt_pub and dt_sys point into
     * dt, RND_TOK_DOCTYPE_MAX bytes each */
    char *dt, *dt_name, *dt_pub, *dt_sys;
    size_t dt_name_len, dt_pub_len, dt_sys_len;
    unsigned dt_has_name : 1, dt_has_pub : 1, dt_has_sys : 1, dt_fq : 1;
};

enum { SKIP_ATTR = 1, SKIP_VALUE = 2 };

static const char FFFD[3] = {'\xEF', '\xBF', '\xBD'};

/* Bytes that end a fast run, per state family. */
static const uint8_t sp_data[256] = {[0] = 1, ['\r'] = 1, ['<'] = 1, ['&'] = 1};
static const uint8_t sp_raw[256] = {[0] = 1, ['\r'] = 1, ['<'] = 1};
static const uint8_t sp_plain[256] = {[0] = 1, ['\r'] = 1};
static const uint8_t sp_dq[256] = {[0] = 1, ['\r'] = 1, ['"'] = 1, ['&'] = 1};
static const uint8_t sp_sq[256] = {[0] = 1, ['\r'] = 1, ['\''] = 1, ['&'] = 1};
static const uint8_t sp_uq[256] = {
    [0] = 1, ['\r'] = 1, ['\t'] = 1, ['\n'] = 1, ['\f'] = 1, [' '] = 1, ['&'] = 1, ['>'] = 1};
static const uint8_t sp_comment[256] = {[0] = 1, ['\r'] = 1, ['<'] = 1, ['-'] = 1};
static const uint8_t sp_bogus[256] = {[0] = 1, ['\r'] = 1, ['>'] = 1};
static const uint8_t sp_esc[256] = {[0] = 1, ['\r'] = 1, ['<'] = 1, ['-'] = 1};
static const uint8_t sp_cdata[256] = {[0] = 1, ['\r'] = 1, [']'] = 1};

static int is_ws(int c)
{
    return c == '\t' || c == '\n' || c == '\f' || c == ' ';
}

static int is_upper(int c)
{
    return c >= 'A' && c <= 'Z';
}

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || is_upper(c);
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(int c)
{
    return is_alpha(c) || is_digit(c);
}

static int hex_val(int c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int lower(int c)
{
    return is_upper(c) ? c + 32 : c;
}

/* ---- event helpers ---- */

static void ev_simple(struct rnd_tok *t, enum rnd_tok_event_kind kind, const char *p, size_t n,
                      uint64_t raw)
{
    struct rnd_tok_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.data = p;
    ev.len = n;
    ev.raw = raw;
    t->cb(t->ud, &ev);
}

static void text(struct rnd_tok *t, const char *p, size_t n)
{
    if (n && !(t->flags & RND_TOK_SKIP_TEXT))
        ev_simple(t, RND_EV_TEXT, p, n, t->rend);
}

static void text_c(struct rnd_tok *t, int c)
{
    char b = (char)c;
    text(t, &b, 1);
}

static void comment(struct rnd_tok *t, const char *p, size_t n)
{
    if (n && !(t->flags & RND_TOK_SKIP_COMMENTS))
        ev_simple(t, RND_EV_COMMENT, p, n, 0);
}

static void comment_c(struct rnd_tok *t, int c)
{
    char b = (char)c;
    comment(t, &b, 1);
}

static void comment_start(struct rnd_tok *t, uint64_t raw)
{
    ev_simple(t, RND_EV_COMMENT_START, NULL, 0, raw);
}

static void comment_end(struct rnd_tok *t, uint64_t raw)
{
    ev_simple(t, RND_EV_COMMENT_END, NULL, 0, raw);
}

static void value(struct rnd_tok *t, const char *p, size_t n)
{
    if (n && !t->skip)
        ev_simple(t, RND_EV_ATTR_VALUE, p, n, t->rend);
}

static int ret_in_attr(const struct rnd_tok *t)
{
    return t->ret_state == S_ATTR_VALUE_DQ || t->ret_state == S_ATTR_VALUE_SQ ||
           t->ret_state == S_ATTR_VALUE_UQ;
}

/* Characters produced by a character reference go to the value or the text. */
static void ref_out(struct rnd_tok *t, const char *p, size_t n)
{
    if (ret_in_attr(t))
        value(t, p, n);
    else
        text(t, p, n);
}

static void name_add(char *buf, size_t *len, int c)
{
    if (*len < RND_TOK_NAME_MAX)
        buf[*len] = (char)c;
    (*len)++;
}

static void name_add_fffd(char *buf, size_t *len)
{
    for (int i = 0; i < 3; i++)
        name_add(buf, len, (unsigned char)FFFD[i]);
}

static void dt_add(char *buf, size_t *len, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (*len < RND_TOK_DOCTYPE_MAX)
            buf[*len] = p[i];
        (*len)++;
    }
}

static size_t capped(size_t len, size_t max)
{
    return len < max ? len : max;
}

/* ---- tags ---- */

static void tag_new(struct rnd_tok *t, int end)
{
    t->tag_len = 0;
    t->end_tag = (unsigned)end;
    t->self_closing = 0;
    t->attrset_len = 0;
    t->attr_len = 0;
    t->skip = 0;
    t->tag_out = 0;
}

static void tag_start_deliver(struct rnd_tok *t)
{
    struct rnd_tok_event ev;
    t->tag_out = 1;
    memset(&ev, 0, sizeof ev);
    ev.kind = RND_EV_TAG_START;
    ev.data = t->tag;
    ev.len = capped(t->tag_len, RND_TOK_NAME_MAX);
    ev.truncated = t->tag_len > RND_TOK_NAME_MAX;
    ev.end_tag = t->end_tag;
    ev.raw = t->lt_raw;
    t->cb(t->ud, &ev);
}

/* The tag name is complete: TAG_START, unless the tag filter says the tag is not wanted (then it
 * is delivered later, before the first wanted attribute, if any). */
static void tag_start_ev(struct rnd_tok *t)
{
    t->tag_out = 0;
    if (t->end_tag && (t->flags & RND_TOK_SKIP_END_TAGS))
        return;
    if (!t->tag_filter ||
        t->tag_filter(t->ud, t->tag, capped(t->tag_len, RND_TOK_NAME_MAX), t->end_tag))
        tag_start_deliver(t);
}

/* The current tag is a start tag: its name becomes the last start tag name. */
static void set_last(struct rnd_tok *t)
{
    size_t n = capped(t->tag_len, RND_TOK_NAME_MAX);
    if (n <= 16)
        memcpy(t->last, t->tag, 16); /* a fixed size: no call for the common short names */
    else
        memcpy(t->last, t->tag, n);
    t->last_len = t->tag_len > RND_TOK_NAME_MAX ? 0 : n;
}

/* Emits the tag. The state is set to DATA before the callback so that the callback may switch
 * it (script, style, title...). */
static void tag_emit(struct rnd_tok *t, uint64_t raw_after)
{
    struct rnd_tok_event ev;
    t->state = S_DATA;
    if (!t->end_tag)
        set_last(t);
    if (!t->tag_out)
        return;
    memset(&ev, 0, sizeof ev);
    ev.kind = RND_EV_TAG_END;
    ev.end_tag = t->end_tag;
    ev.self_closing = t->self_closing;
    ev.raw = raw_after;
    ev.data = t->tag;
    ev.len = capped(t->tag_len, RND_TOK_NAME_MAX);
    t->cb(t->ud, &ev);
}

static void tag_abort(struct rnd_tok *t)
{
    if (t->tag_out)
        ev_simple(t, RND_EV_TAG_ABORT, NULL, 0, 0);
}

static void attr_begin(struct rnd_tok *t, uint64_t raw)
{
    t->attr_len = 0;
    t->attr_raw = raw;
}

/* Leaving the attribute name state: check for a duplicate and announce the name. */
static void attr_name_done(struct rnd_tok *t)
{
    size_t n = capped(t->attr_len, RND_TOK_NAME_MAX);
    t->skip = (t->end_tag && (t->flags & RND_TOK_SKIP_END_TAGS)) ||
                      (t->filter && !t->filter(t->ud, t->attr, n, t->end_tag))
                  ? SKIP_ATTR
                  : 0;
    if (t->skip)
        return;
    if (!t->tag_out)
        tag_start_deliver(t);
    int dup = 0;
    size_t i = 0;
    while (i < t->attrset_len) {
        size_t l = t->attrset[i];
        if (l == n && memcmp(t->attrset + i + 1, t->attr, n) == 0) {
            dup = 1;
            break;
        }
        i += 1 + l;
    }
    if (!dup && n < 256 && t->attrset_len + 1 + n <= sizeof t->attrset) {
        t->attrset[t->attrset_len] = (unsigned char)n;
        memcpy(t->attrset + t->attrset_len + 1, t->attr, n);
        t->attrset_len += 1 + n;
    }
    struct rnd_tok_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = RND_EV_ATTR_NAME;
    ev.data = t->attr;
    ev.len = n;
    ev.truncated = t->attr_len > RND_TOK_NAME_MAX;
    ev.duplicate = (unsigned)dup;
    ev.raw = t->attr_raw;
    ev.end_tag = t->end_tag;
    t->cb(t->ud, &ev);
}

static void value_start(struct rnd_tok *t, char quote, uint64_t raw)
{
    t->skip &= SKIP_ATTR;
    if (t->skip)
        return;
    struct rnd_tok_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = RND_EV_ATTR_VALUE_START;
    ev.quote = quote;
    ev.raw = raw;
    t->cb(t->ud, &ev);
}

static void value_end(struct rnd_tok *t, uint64_t raw)
{
    if (!t->skip)
        ev_simple(t, RND_EV_ATTR_VALUE_END, NULL, 0, raw);
}

/* ---- DOCTYPE ---- */

static void dt_new(struct rnd_tok *t)
{
    if (!t->dt) {
        t->dt = malloc(3 * RND_TOK_DOCTYPE_MAX);
        if (!t->dt)
            abort();
        t->dt_name = t->dt;
        t->dt_pub = t->dt + RND_TOK_DOCTYPE_MAX;
        t->dt_sys = t->dt + 2 * RND_TOK_DOCTYPE_MAX;
    }
    t->dt_name_len = t->dt_pub_len = t->dt_sys_len = 0;
    t->dt_has_name = t->dt_has_pub = t->dt_has_sys = t->dt_fq = 0;
}

static void dt_emit(struct rnd_tok *t)
{
    struct rnd_tok_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = RND_EV_DOCTYPE;
    ev.data = t->dt_name;
    ev.len = capped(t->dt_name_len, RND_TOK_DOCTYPE_MAX);
    ev.has_name = t->dt_has_name;
    ev.public_id = t->dt_pub;
    ev.public_len = capped(t->dt_pub_len, RND_TOK_DOCTYPE_MAX);
    ev.has_public = t->dt_has_pub;
    ev.system_id = t->dt_sys;
    ev.system_len = capped(t->dt_sys_len, RND_TOK_DOCTYPE_MAX);
    ev.has_system = t->dt_has_sys;
    ev.force_quirks = t->dt_fq;
    ev.truncated = t->dt_name_len > RND_TOK_DOCTYPE_MAX || t->dt_pub_len > RND_TOK_DOCTYPE_MAX ||
                   t->dt_sys_len > RND_TOK_DOCTYPE_MAX;
    t->state = S_DATA;
    t->cb(t->ud, &ev);
    free(t->dt);
    t->dt = t->dt_name = t->dt_pub = t->dt_sys = NULL;
}

/* ---- character references ---- */

static void ref_begin(struct rnd_tok *t, uint8_t ret)
{
    t->ret_state = ret;
    t->ref_len = 0;
    t->ref_match = -1;
    t->ref_match_len = 0;
    t->ref_lo = 0;
    t->ref_hi = rnd_entities_count;
    t->code = 0;
}

static int ent_key(unsigned i, unsigned d)
{
    const struct rnd_entity *e = &rnd_entities[i];
    return e->name_len <= d ? -1 : (unsigned char)e->name[d];
}

/* Narrows the candidate range by one more character; returns 0 when nothing matches. */
static int ent_narrow(struct rnd_tok *t, int c)
{
    unsigned d = t->ref_len, lo = t->ref_lo, hi = t->ref_hi;
    if (d >= sizeof t->ref - 1)
        return 0;
    if (d == 0) {
        if (c >= 128 || rnd_entities_first[c][0] == rnd_entities_first[c][1])
            return 0;
        lo = rnd_entities_first[c][0];
        hi = rnd_entities_first[c][1];
    }
    unsigned a = lo, b = hi;
    while (a < b) {
        unsigned m = a + (b - a) / 2;
        if (ent_key(m, d) < c)
            a = m + 1;
        else
            b = m;
    }
    unsigned first = a;
    b = hi;
    while (a < b) {
        unsigned m = a + (b - a) / 2;
        if (ent_key(m, d) <= c)
            a = m + 1;
        else
            b = m;
    }
    if (first == a)
        return 0;
    t->ref_lo = first;
    t->ref_hi = a;
    t->ref[t->ref_len++] = (char)c;
    if (rnd_entities[first].name_len == d + 1) {
        t->ref_match = (int)first;
        t->ref_match_len = (uint8_t)(d + 1);
    }
    return 1;
}

/* The named reference ended at c (not consumed): emit the match or the raw characters. */
static void named_resolve(struct rnd_tok *t, int c)
{
    char out[80];
    size_t n = 0;
    if (t->ref_match >= 0) {
        const struct rnd_entity *e = &rnd_entities[t->ref_match];
        size_t ml = t->ref_match_len;
        int next = ml < t->ref_len ? (unsigned char)t->ref[ml] : c;
        int semi = e->name[e->name_len - 1] == ';';
        if (ret_in_attr(t) && !semi && (next == '=' || is_alnum(next))) {
            out[n++] = '&';
            memcpy(out + n, t->ref, t->ref_len);
            n += t->ref_len;
        } else {
            memcpy(out, e->value, e->value_len);
            n = e->value_len;
            memcpy(out + n, t->ref + ml, t->ref_len - ml);
            n += t->ref_len - ml;
        }
    } else {
        out[n++] = '&';
        memcpy(out + n, t->ref, t->ref_len);
        n += t->ref_len;
    }
    ref_out(t, out, n);
}

/* Flushes "&" and the characters consumed so far as plain characters. */
static void ref_flush(struct rnd_tok *t)
{
    char out[48];
    out[0] = '&';
    memcpy(out + 1, t->ref, t->ref_len);
    ref_out(t, out, 1 + (size_t)t->ref_len);
}

static size_t utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static const uint16_t c1_table[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static void numeric_end(struct rnd_tok *t)
{
    uint32_t cp = t->code;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    else if (cp >= 0x80 && cp <= 0x9F)
        cp = c1_table[cp - 0x80];
    char buf[4];
    size_t n = utf8_put(buf, cp);
    ref_out(t, buf, n);
}

/* ---- look-ahead ---- */

static int prefix_ci(const char *s, size_t n, const char *kw)
{
    for (size_t i = 0; i < n; i++)
        if (kw[i] == 0 || lower((unsigned char)s[i]) != lower((unsigned char)kw[i]))
            return 0;
    return 1;
}

static int prefix_cs(const char *s, size_t n, const char *kw)
{
    for (size_t i = 0; i < n; i++)
        if (kw[i] == 0 || s[i] != kw[i])
            return 0;
    return 1;
}

static void step(struct rnd_tok *t, int c, uint64_t raw);

/* Re-processes look-ahead characters (already preprocessed) after a state change, then c. */
static void replay(struct rnd_tok *t, size_t n, int c, uint64_t raw)
{
    char copy[8];
    memcpy(copy, t->la, n);
    for (size_t i = 0; i < n; i++)
        step(t, (unsigned char)copy[i], raw);
    if (c != C_EOF)
        return;
    step(t, c, raw);
}

/* Appropriate end tag: the end tag name equals the last start tag's. */
static int appropriate(const struct rnd_tok *t)
{
    return t->last_len > 0 && t->tag_len == t->last_len &&
           memcmp(t->tag, t->last, t->last_len) == 0;
}

/* Emits "</" and the temporary buffer as one text event. */
static void end_tag_flush(struct rnd_tok *t)
{
    char out[RND_TOK_NAME_MAX + 16];
    size_t n = capped(t->tmp_len, sizeof t->tmp);
    out[0] = '<';
    out[1] = '/';
    memcpy(out + 2, t->tmp, n);
    text(t, out, n + 2);
}

/* Shared body of the three "... end tag name" states. Returns 1 when c was handled. */
static int end_tag_name(struct rnd_tok *t, int c, uint64_t raw, uint8_t fallback)
{
    if (is_ws(c) || c == '/' || c == '>') {
        if (appropriate(t)) {
            tag_start_ev(t);
            if (c == '>')
                tag_emit(t, raw + 1);
            else
                t->state = is_ws(c) ? S_BEFORE_ATTR_NAME : S_SELF_CLOSING;
            return 1;
        }
    } else if (is_alpha(c)) {
        name_add(t->tag, &t->tag_len, lower(c));
        if (t->tmp_len < sizeof t->tmp)
            t->tmp[t->tmp_len] = (char)c;
        t->tmp_len++;
        if (t->tag_len > t->last_len) {
            /* can never be appropriate: flush now (bounded memory), same output */
            end_tag_flush(t);
            t->state = fallback;
        }
        return 1;
    }
    t->rend = raw;
    end_tag_flush(t);
    t->state = fallback;
    return 0;
}

#define RECONSUME(s)                                                                               \
    do {                                                                                           \
        t->state = (s);                                                                            \
        goto again;                                                                                \
    } while (0)

static void step(struct rnd_tok *t, int c, uint64_t raw)
{
again:
    t->rend = c == C_EOF ? raw : raw + 1 + t->crlf;
    switch ((enum st)t->state) {
    case S_DATA:
        if (c == '&') {
            ref_begin(t, S_DATA);
            t->state = S_CHARREF;
        } else if (c == '<') {
            t->lt_raw = raw;
            t->state = S_TAG_OPEN;
        } else if (c != C_EOF) {
            text_c(t, c);
        }
        return;
    case S_RCDATA:
        if (c == '&') {
            ref_begin(t, S_RCDATA);
            t->state = S_CHARREF;
        } else if (c == '<') {
            t->lt_raw = raw;
            t->state = S_RCDATA_LT;
        } else if (c == 0) {
            text(t, FFFD, 3);
        } else if (c != C_EOF) {
            text_c(t, c);
        }
        return;
    case S_RAWTEXT:
        if (c == '<') {
            t->lt_raw = raw;
            t->state = S_RAWTEXT_LT;
        } else if (c == 0) {
            text(t, FFFD, 3);
        } else if (c != C_EOF) {
            text_c(t, c);
        }
        return;
    case S_SCRIPT:
        if (c == '<') {
            t->lt_raw = raw;
            t->state = S_SCRIPT_LT;
        } else if (c == 0) {
            text(t, FFFD, 3);
        } else if (c != C_EOF) {
            text_c(t, c);
        }
        return;
    case S_PLAINTEXT:
        if (c == 0)
            text(t, FFFD, 3);
        else if (c != C_EOF)
            text_c(t, c);
        return;
    case S_CDATA:
        if (c == ']')
            t->state = S_CDATA_BRACKET;
        else if (c != C_EOF)
            text_c(t, c);
        return;
    case S_CDATA_BRACKET:
        if (c == ']') {
            t->state = S_CDATA_END;
            return;
        }
        t->rend = raw;
        text(t, "]", 1);
        RECONSUME(S_CDATA);
    case S_CDATA_END:
        if (c == ']') {
            t->rend = raw - 1;
            text(t, "]", 1);
            return;
        }
        if (c == '>') {
            t->state = S_DATA;
            return;
        }
        t->rend = raw;
        text(t, "]]", 2);
        RECONSUME(S_CDATA);
    case S_TAG_OPEN:
        if (c == '!') {
            t->la_len = 0;
            t->state = S_MARKUP_DECL;
        } else if (c == '/') {
            t->state = S_END_TAG_OPEN;
        } else if (is_alpha(c)) {
            tag_new(t, 0);
            RECONSUME(S_TAG_NAME);
        } else if (c == '?') {
            comment_start(t, t->lt_raw);
            RECONSUME(S_BOGUS_COMMENT);
        } else {
            t->rend = raw;
            text(t, "<", 1);
            RECONSUME(S_DATA);
        }
        return;
    case S_END_TAG_OPEN:
        if (is_alpha(c)) {
            tag_new(t, 1);
            RECONSUME(S_TAG_NAME);
        } else if (c == '>') {
            t->state = S_DATA;
        } else if (c == C_EOF) {
            text(t, "</", 2);
        } else {
            comment_start(t, t->lt_raw);
            RECONSUME(S_BOGUS_COMMENT);
        }
        return;
    case S_TAG_NAME:
        if (is_ws(c)) {
            tag_start_ev(t);
            t->state = S_BEFORE_ATTR_NAME;
        } else if (c == '/') {
            tag_start_ev(t);
            t->state = S_SELF_CLOSING;
        } else if (c == '>') {
            tag_start_ev(t);
            tag_emit(t, raw + 1);
        } else if (c == 0) {
            name_add_fffd(t->tag, &t->tag_len);
        } else if (c == C_EOF) {
            /* eof-in-tag: the tag is dropped; nothing was announced yet */
        } else {
            name_add(t->tag, &t->tag_len, lower(c));
        }
        return;
    case S_RCDATA_LT:
        if (c == '/') {
            t->tmp_len = 0;
            t->state = S_RCDATA_END_OPEN;
            return;
        }
        t->rend = raw;
        text(t, "<", 1);
        RECONSUME(S_RCDATA);
    case S_RCDATA_END_OPEN:
        if (is_alpha(c)) {
            tag_new(t, 1);
            RECONSUME(S_RCDATA_END_NAME);
        }
        t->rend = raw;
        text(t, "</", 2);
        RECONSUME(S_RCDATA);
    case S_RCDATA_END_NAME:
        if (end_tag_name(t, c, raw, S_RCDATA))
            return;
        goto again;
    case S_RAWTEXT_LT:
        if (c == '/') {
            t->tmp_len = 0;
            t->state = S_RAWTEXT_END_OPEN;
            return;
        }
        t->rend = raw;
        text(t, "<", 1);
        RECONSUME(S_RAWTEXT);
    case S_RAWTEXT_END_OPEN:
        if (is_alpha(c)) {
            tag_new(t, 1);
            RECONSUME(S_RAWTEXT_END_NAME);
        }
        t->rend = raw;
        text(t, "</", 2);
        RECONSUME(S_RAWTEXT);
    case S_RAWTEXT_END_NAME:
        if (end_tag_name(t, c, raw, S_RAWTEXT))
            return;
        goto again;
    case S_SCRIPT_LT:
        if (c == '/') {
            t->tmp_len = 0;
            t->state = S_SCRIPT_END_OPEN;
            return;
        }
        if (c == '!') {
            text(t, "<!", 2);
            t->state = S_SCRIPT_ESC_START;
            return;
        }
        t->rend = raw;
        text(t, "<", 1);
        RECONSUME(S_SCRIPT);
    case S_SCRIPT_END_OPEN:
        if (is_alpha(c)) {
            tag_new(t, 1);
            RECONSUME(S_SCRIPT_END_NAME);
        }
        t->rend = raw;
        text(t, "</", 2);
        RECONSUME(S_SCRIPT);
    case S_SCRIPT_END_NAME:
        if (end_tag_name(t, c, raw, S_SCRIPT))
            return;
        goto again;
    case S_SCRIPT_ESC_START:
        if (c == '-') {
            text(t, "-", 1);
            t->state = S_SCRIPT_ESC_START_DASH;
            return;
        }
        RECONSUME(S_SCRIPT);
    case S_SCRIPT_ESC_START_DASH:
        if (c == '-') {
            text(t, "-", 1);
            t->state = S_SCRIPT_ESC_DASH_DASH;
            return;
        }
        RECONSUME(S_SCRIPT);
    case S_SCRIPT_ESC:
        if (c == '-') {
            text(t, "-", 1);
            t->state = S_SCRIPT_ESC_DASH;
        } else if (c == '<') {
            t->lt_raw = raw;
            t->state = S_SCRIPT_ESC_LT;
        } else if (c == 0) {
            text(t, FFFD, 3);
        } else if (c != C_EOF) {
            text_c(t, c);
        }
        return;
    case S_SCRIPT_ESC_DASH:
        if (c == '-') {
            text(t, "-", 1);
            t->state = S_SCRIPT_ESC_DASH_DASH;
        } else if (c == '<') {
            t->lt_raw = raw;
            t->state = S_SCRIPT_ESC_LT;
        } else if (c == 0) {
            text(t, FFFD, 3);
            t->state = S_SCRIPT_ESC;
        } else if (c != C_EOF) {
            text_c(t, c);
            t->state = S_SCRIPT_ESC;
        }
        return;
    case S_SCRIPT_ESC_DASH_DASH:
        if (c == '-') {
            text(t, "-", 1);
        } else if (c == '<') {
            t->lt_raw = raw;
            t->state = S_SCRIPT_ESC_LT;
        } else if (c == '>') {
            text(t, ">", 1);
            t->state = S_SCRIPT;
        } else if (c == 0) {
            text(t, FFFD, 3);
            t->state = S_SCRIPT_ESC;
        } else if (c != C_EOF) {
            text_c(t, c);
            t->state = S_SCRIPT_ESC;
        }
        return;
    case S_SCRIPT_ESC_LT:
        if (c == '/') {
            t->tmp_len = 0;
            t->state = S_SCRIPT_ESC_END_OPEN;
            return;
        }
        if (is_alpha(c)) {
            t->tmp_len = 0;
            t->rend = raw;
            text(t, "<", 1);
            RECONSUME(S_SCRIPT_DESC_START);
        }
        t->rend = raw;
        text(t, "<", 1);
        RECONSUME(S_SCRIPT_ESC);
    case S_SCRIPT_ESC_END_OPEN:
        if (is_alpha(c)) {
            tag_new(t, 1);
            RECONSUME(S_SCRIPT_ESC_END_NAME);
        }
        t->rend = raw;
        text(t, "</", 2);
        RECONSUME(S_SCRIPT_ESC);
    case S_SCRIPT_ESC_END_NAME:
        if (end_tag_name(t, c, raw, S_SCRIPT_ESC))
            return;
        goto again;
    case S_SCRIPT_DESC_START:
        if (is_ws(c) || c == '/' || c == '>') {
            t->state = (t->tmp_len == 6 && memcmp(t->tmp, "script", 6) == 0) ? S_SCRIPT_DESC
                                                                             : S_SCRIPT_ESC;
            text_c(t, c);
            return;
        }
        if (is_alpha(c)) {
            if (t->tmp_len < sizeof t->tmp)
                t->tmp[t->tmp_len] = (char)lower(c);
            t->tmp_len++;
            text_c(t, c);
            return;
        }
        RECONSUME(S_SCRIPT_ESC);
    case S_SCRIPT_DESC:
        if (c == '-') {
            text(t, "-", 1);
            t->state = S_SCRIPT_DESC_DASH;
        } else if (c == '<') {
            text(t, "<", 1);
            t->state = S_SCRIPT_DESC_LT;
        } else if (c == 0) {
            text(t, FFFD, 3);
        } else if (c != C_EOF) {
            text_c(t, c);
        }
        return;
    case S_SCRIPT_DESC_DASH:
        if (c == '-') {
            text(t, "-", 1);
            t->state = S_SCRIPT_DESC_DASH_DASH;
        } else if (c == '<') {
            text(t, "<", 1);
            t->state = S_SCRIPT_DESC_LT;
        } else if (c == 0) {
            text(t, FFFD, 3);
            t->state = S_SCRIPT_DESC;
        } else if (c != C_EOF) {
            text_c(t, c);
            t->state = S_SCRIPT_DESC;
        }
        return;
    case S_SCRIPT_DESC_DASH_DASH:
        if (c == '-') {
            text(t, "-", 1);
        } else if (c == '<') {
            text(t, "<", 1);
            t->state = S_SCRIPT_DESC_LT;
        } else if (c == '>') {
            text(t, ">", 1);
            t->state = S_SCRIPT;
        } else if (c == 0) {
            text(t, FFFD, 3);
            t->state = S_SCRIPT_DESC;
        } else if (c != C_EOF) {
            text_c(t, c);
            t->state = S_SCRIPT_DESC;
        }
        return;
    case S_SCRIPT_DESC_LT:
        if (c == '/') {
            t->tmp_len = 0;
            text(t, "/", 1);
            t->state = S_SCRIPT_DESC_END;
            return;
        }
        RECONSUME(S_SCRIPT_DESC);
    case S_SCRIPT_DESC_END:
        if (is_ws(c) || c == '/' || c == '>') {
            t->state = (t->tmp_len == 6 && memcmp(t->tmp, "script", 6) == 0) ? S_SCRIPT_ESC
                                                                             : S_SCRIPT_DESC;
            text_c(t, c);
            return;
        }
        if (is_alpha(c)) {
            if (t->tmp_len < sizeof t->tmp)
                t->tmp[t->tmp_len] = (char)lower(c);
            t->tmp_len++;
            text_c(t, c);
            return;
        }
        RECONSUME(S_SCRIPT_DESC);
    case S_BEFORE_ATTR_NAME:
        if (is_ws(c))
            return;
        if (c == '/' || c == '>' || c == C_EOF)
            RECONSUME(S_AFTER_ATTR_NAME);
        attr_begin(t, raw);
        if (c == '=') {
            name_add(t->attr, &t->attr_len, '=');
            t->state = S_ATTR_NAME;
            return;
        }
        RECONSUME(S_ATTR_NAME);
    case S_ATTR_NAME:
        if (is_ws(c) || c == '/' || c == '>' || c == C_EOF) {
            attr_name_done(t);
            RECONSUME(S_AFTER_ATTR_NAME);
        }
        if (c == '=') {
            attr_name_done(t);
            t->state = S_BEFORE_ATTR_VALUE;
        } else if (c == 0) {
            name_add_fffd(t->attr, &t->attr_len);
        } else {
            name_add(t->attr, &t->attr_len, lower(c));
        }
        return;
    case S_AFTER_ATTR_NAME:
        if (is_ws(c))
            return;
        if (c == '/') {
            t->state = S_SELF_CLOSING;
        } else if (c == '=') {
            t->state = S_BEFORE_ATTR_VALUE;
        } else if (c == '>') {
            tag_emit(t, raw + 1);
        } else if (c == C_EOF) {
            tag_abort(t);
        } else {
            attr_begin(t, raw);
            RECONSUME(S_ATTR_NAME);
        }
        return;
    case S_BEFORE_ATTR_VALUE:
        if (is_ws(c))
            return;
        if (c == '"') {
            value_start(t, '"', raw + 1);
            t->state = S_ATTR_VALUE_DQ;
        } else if (c == '\'') {
            value_start(t, '\'', raw + 1);
            t->state = S_ATTR_VALUE_SQ;
        } else if (c == '>') {
            tag_emit(t, raw + 1);
        } else {
            value_start(t, 0, raw);
            RECONSUME(S_ATTR_VALUE_UQ);
        }
        return;
    case S_ATTR_VALUE_DQ:
    case S_ATTR_VALUE_SQ:
        if (c == (t->state == S_ATTR_VALUE_DQ ? '"' : '\'')) {
            value_end(t, raw);
            t->state = S_AFTER_ATTR_VALUE_Q;
        } else if (c == '&') {
            ref_begin(t, t->state);
            t->state = S_CHARREF;
        } else if (c == 0) {
            value(t, FFFD, 3);
        } else if (c == C_EOF) {
            tag_abort(t);
        } else {
            char b = (char)c;
            value(t, &b, 1);
        }
        return;
    case S_ATTR_VALUE_UQ:
        if (is_ws(c)) {
            value_end(t, raw);
            t->state = S_BEFORE_ATTR_NAME;
        } else if (c == '&') {
            ref_begin(t, S_ATTR_VALUE_UQ);
            t->state = S_CHARREF;
        } else if (c == '>') {
            value_end(t, raw);
            tag_emit(t, raw + 1);
        } else if (c == 0) {
            value(t, FFFD, 3);
        } else if (c == C_EOF) {
            tag_abort(t);
        } else {
            char b = (char)c;
            value(t, &b, 1);
        }
        return;
    case S_AFTER_ATTR_VALUE_Q:
        if (is_ws(c)) {
            t->state = S_BEFORE_ATTR_NAME;
        } else if (c == '/') {
            t->state = S_SELF_CLOSING;
        } else if (c == '>') {
            tag_emit(t, raw + 1);
        } else if (c == C_EOF) {
            tag_abort(t);
        } else {
            RECONSUME(S_BEFORE_ATTR_NAME);
        }
        return;
    case S_SELF_CLOSING:
        if (c == '>') {
            t->self_closing = 1;
            tag_emit(t, raw + 1);
        } else if (c == C_EOF) {
            tag_abort(t);
        } else {
            RECONSUME(S_BEFORE_ATTR_NAME);
        }
        return;
    case S_BOGUS_COMMENT:
        if (c == '>') {
            t->state = S_DATA;
            comment_end(t, raw + 1);
        } else if (c == C_EOF) {
            comment_end(t, raw);
        } else if (c == 0) {
            comment(t, FFFD, 3);
        } else {
            comment_c(t, c);
        }
        return;
    case S_MARKUP_DECL: {
        if (c != C_EOF)
            t->la[t->la_len++] = (char)c;
        size_t n = t->la_len;
        int more = c != C_EOF;
        if (more && prefix_cs(t->la, n, "--")) {
            if (n == 2) {
                comment_start(t, t->lt_raw);
                t->state = S_COMMENT_START;
            }
            return;
        }
        if (more && prefix_ci(t->la, n, "doctype")) {
            if (n == 7)
                t->state = S_DOCTYPE;
            return;
        }
        if (more && prefix_cs(t->la, n, "[CDATA[")) {
            if (n == 7) {
                if (t->foreign) {
                    t->state = S_CDATA;
                } else {
                    comment_start(t, t->lt_raw);
                    comment(t, "[CDATA[", 7);
                    t->state = S_BOGUS_COMMENT;
                }
            }
            return;
        }
        /* incorrectly-opened-comment: bogus comment, re-process the look-ahead */
        comment_start(t, t->lt_raw);
        t->state = S_BOGUS_COMMENT;
        replay(t, n, c, raw);
        return;
    }
    case S_COMMENT_START:
        if (c == '-') {
            t->state = S_COMMENT_START_DASH;
            return;
        }
        if (c == '>') {
            t->state = S_DATA;
            comment_end(t, raw + 1);
            return;
        }
        RECONSUME(S_COMMENT);
    case S_COMMENT_START_DASH:
        if (c == '-') {
            t->state = S_COMMENT_END;
            return;
        }
        if (c == '>') {
            t->state = S_DATA;
            comment_end(t, raw + 1);
            return;
        }
        if (c == C_EOF) {
            comment_end(t, raw);
            return;
        }
        comment(t, "-", 1);
        RECONSUME(S_COMMENT);
    case S_COMMENT:
        if (c == '<') {
            comment(t, "<", 1);
            t->state = S_COMMENT_LT;
        } else if (c == '-') {
            t->state = S_COMMENT_END_DASH;
        } else if (c == 0) {
            comment(t, FFFD, 3);
        } else if (c == C_EOF) {
            comment_end(t, raw);
        } else {
            comment_c(t, c);
        }
        return;
    case S_COMMENT_LT:
        if (c == '!') {
            comment(t, "!", 1);
            t->state = S_COMMENT_LT_BANG;
            return;
        }
        if (c == '<') {
            comment(t, "<", 1);
            return;
        }
        RECONSUME(S_COMMENT);
    case S_COMMENT_LT_BANG:
        if (c == '-') {
            t->state = S_COMMENT_LT_BANG_DASH;
            return;
        }
        RECONSUME(S_COMMENT);
    case S_COMMENT_LT_BANG_DASH:
        if (c == '-') {
            t->state = S_COMMENT_LT_BANG_DASH_DASH;
            return;
        }
        RECONSUME(S_COMMENT_END_DASH);
    case S_COMMENT_LT_BANG_DASH_DASH:
        RECONSUME(S_COMMENT_END);
    case S_COMMENT_END_DASH:
        if (c == '-') {
            t->state = S_COMMENT_END;
            return;
        }
        if (c == C_EOF) {
            comment_end(t, raw);
            return;
        }
        comment(t, "-", 1);
        RECONSUME(S_COMMENT);
    case S_COMMENT_END:
        if (c == '>') {
            t->state = S_DATA;
            comment_end(t, raw + 1);
        } else if (c == '!') {
            t->state = S_COMMENT_END_BANG;
        } else if (c == '-') {
            comment(t, "-", 1);
        } else if (c == C_EOF) {
            comment_end(t, raw);
        } else {
            comment(t, "--", 2);
            RECONSUME(S_COMMENT);
        }
        return;
    case S_COMMENT_END_BANG:
        if (c == '-') {
            comment(t, "--!", 3);
            t->state = S_COMMENT_END_DASH;
        } else if (c == '>') {
            t->state = S_DATA;
            comment_end(t, raw + 1);
        } else if (c == C_EOF) {
            comment_end(t, raw);
        } else {
            comment(t, "--!", 3);
            RECONSUME(S_COMMENT);
        }
        return;
    case S_DOCTYPE:
        dt_new(t);
        if (is_ws(c)) {
            t->state = S_BEFORE_DOCTYPE_NAME;
            return;
        }
        if (c == C_EOF) {
            t->dt_fq = 1;
            dt_emit(t);
            return;
        }
        RECONSUME(S_BEFORE_DOCTYPE_NAME);
    case S_BEFORE_DOCTYPE_NAME:
        if (is_ws(c))
            return;
        if (c == '>') {
            t->dt_fq = 1;
            dt_emit(t);
            return;
        }
        if (c == C_EOF) {
            t->dt_fq = 1;
            dt_emit(t);
            return;
        }
        t->dt_has_name = 1;
        RECONSUME(S_DOCTYPE_NAME);
    case S_DOCTYPE_NAME:
        if (is_ws(c)) {
            t->state = S_AFTER_DOCTYPE_NAME;
        } else if (c == '>') {
            dt_emit(t);
        } else if (c == 0) {
            dt_add(t->dt_name, &t->dt_name_len, FFFD, 3);
        } else if (c == C_EOF) {
            t->dt_fq = 1;
            dt_emit(t);
        } else {
            char b = (char)lower(c);
            dt_add(t->dt_name, &t->dt_name_len, &b, 1);
        }
        return;
    case S_AFTER_DOCTYPE_NAME:
        if (is_ws(c))
            return;
        if (c == '>') {
            dt_emit(t);
            return;
        }
        if (c == C_EOF) {
            t->dt_fq = 1;
            dt_emit(t);
            return;
        }
        t->la_len = 0;
        RECONSUME(S_AFTER_DOCTYPE_NAME_KW);
    case S_AFTER_DOCTYPE_NAME_KW: {
        if (c != C_EOF) {
            t->la[t->la_len++] = (char)c;
            size_t n = t->la_len;
            if (prefix_ci(t->la, n, "public")) {
                if (n == 6)
                    t->state = S_AFTER_PUBLIC_KW;
                return;
            }
            if (prefix_ci(t->la, n, "system")) {
                if (n == 6)
                    t->state = S_AFTER_SYSTEM_KW;
                return;
            }
        }
        t->dt_fq = 1;
        t->state = S_BOGUS_DOCTYPE;
        replay(t, t->la_len, c, raw);
        return;
    }
    case S_AFTER_PUBLIC_KW:
    case S_AFTER_SYSTEM_KW:
    case S_BEFORE_PUBLIC_ID:
    case S_BEFORE_SYSTEM_ID:
    case S_BETWEEN_PUBLIC_SYSTEM:
    case S_AFTER_PUBLIC_ID: {
        enum st s = (enum st)t->state;
        int pub = s == S_AFTER_PUBLIC_KW || s == S_BEFORE_PUBLIC_ID;
        if (is_ws(c)) {
            if (s == S_AFTER_PUBLIC_KW)
                t->state = S_BEFORE_PUBLIC_ID;
            else if (s == S_AFTER_SYSTEM_KW)
                t->state = S_BEFORE_SYSTEM_ID;
            else if (s == S_AFTER_PUBLIC_ID)
                t->state = S_BETWEEN_PUBLIC_SYSTEM;
            return;
        }
        if (c == '"' || c == '\'') {
            if (pub) {
                t->dt_has_pub = 1;
                t->state = c == '"' ? S_PUBLIC_ID_DQ : S_PUBLIC_ID_SQ;
            } else {
                t->dt_has_sys = 1;
                t->state = c == '"' ? S_SYSTEM_ID_DQ : S_SYSTEM_ID_SQ;
            }
            return;
        }
        if (c == '>') {
            if (s != S_AFTER_PUBLIC_ID && s != S_BETWEEN_PUBLIC_SYSTEM)
                t->dt_fq = 1;
            dt_emit(t);
            return;
        }
        if (c == C_EOF) {
            t->dt_fq = 1;
            dt_emit(t);
            return;
        }
        t->dt_fq = 1;
        RECONSUME(S_BOGUS_DOCTYPE);
    }
    case S_PUBLIC_ID_DQ:
    case S_PUBLIC_ID_SQ:
    case S_SYSTEM_ID_DQ:
    case S_SYSTEM_ID_SQ: {
        enum st s = (enum st)t->state;
        int pub = s == S_PUBLIC_ID_DQ || s == S_PUBLIC_ID_SQ;
        int q = (s == S_PUBLIC_ID_DQ || s == S_SYSTEM_ID_DQ) ? '"' : '\'';
        char *buf = pub ? t->dt_pub : t->dt_sys;
        size_t *len = pub ? &t->dt_pub_len : &t->dt_sys_len;
        if (c == q) {
            t->state = pub ? S_AFTER_PUBLIC_ID : S_AFTER_SYSTEM_ID;
        } else if (c == 0) {
            dt_add(buf, len, FFFD, 3);
        } else if (c == '>' || c == C_EOF) {
            t->dt_fq = 1;
            dt_emit(t);
        } else {
            char b = (char)c;
            dt_add(buf, len, &b, 1);
        }
        return;
    }
    case S_AFTER_SYSTEM_ID:
        if (is_ws(c))
            return;
        if (c == '>') {
            dt_emit(t);
            return;
        }
        if (c == C_EOF) {
            t->dt_fq = 1;
            dt_emit(t);
            return;
        }
        RECONSUME(S_BOGUS_DOCTYPE);
    case S_BOGUS_DOCTYPE:
        if (c == '>' || c == C_EOF)
            dt_emit(t);
        return;
    case S_CHARREF:
        if (is_alnum(c))
            RECONSUME(S_NAMED_REF);
        if (c == '#') {
            t->ref[t->ref_len++] = '#';
            t->state = S_NUMERIC_REF;
            return;
        }
        t->rend = raw;
        ref_out(t, "&", 1);
        RECONSUME(t->ret_state);
    case S_NAMED_REF:
        if (c != C_EOF && ent_narrow(t, c))
            return;
        t->rend = raw;
        named_resolve(t, c);
        RECONSUME(t->ret_state);
    case S_NUMERIC_REF:
        if (c == 'x' || c == 'X') {
            t->ref[t->ref_len++] = (char)c;
            t->state = S_HEX_START;
            return;
        }
        RECONSUME(S_DEC_START);
    case S_HEX_START:
        if (hex_val(c) >= 0)
            RECONSUME(S_HEX);
        t->rend = raw;
        ref_flush(t);
        RECONSUME(t->ret_state);
    case S_DEC_START:
        if (is_digit(c))
            RECONSUME(S_DEC);
        t->rend = raw;
        ref_flush(t);
        RECONSUME(t->ret_state);
    case S_HEX:
    case S_DEC: {
        int v = t->state == S_HEX ? hex_val(c) : (is_digit(c) ? c - '0' : -1);
        if (v >= 0) {
            uint32_t base = t->state == S_HEX ? 16 : 10;
            if (t->code <= 0x10FFFF)
                t->code = t->code * base + (uint32_t)v;
            return;
        }
        if (c != ';')
            t->rend = raw;
        numeric_end(t);
        if (c == ';') {
            t->state = t->ret_state;
            return;
        }
        RECONSUME(t->ret_state);
    }
    }
}

struct rnd_tok *rnd_tok_new(rnd_tok_cb cb, void *ud)
{
    struct rnd_tok *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    t->cb = cb;
    t->ud = ud;
    t->state = S_DATA;
    return t;
}

void rnd_tok_free(struct rnd_tok *t)
{
    if (t)
        free(t->dt);
    free(t);
}

size_t rnd_tok_bytes_held(const struct rnd_tok *t)
{
    return sizeof(struct rnd_tok) + (t->dt ? 3 * RND_TOK_DOCTYPE_MAX : 0);
}

void rnd_tok_set_state(struct rnd_tok *t, enum rnd_tok_state state, const char *last_start_tag)
{
    static const uint8_t map[] = {S_DATA, S_RCDATA, S_RAWTEXT, S_SCRIPT, S_PLAINTEXT, S_CDATA};
    if ((unsigned)state >= sizeof map)
        return;
    t->state = map[state];
    if (last_start_tag) {
        size_t n = strlen(last_start_tag);
        if (n > RND_TOK_NAME_MAX)
            n = 0;
        memcpy(t->last, last_start_tag, n);
        t->last_len = n;
    }
}

void rnd_tok_set_foreign(struct rnd_tok *t, int foreign)
{
    t->foreign = foreign ? 1 : 0;
}

void rnd_tok_set_filter(struct rnd_tok *t, unsigned flags, rnd_tok_tag_filter tf,
                        rnd_tok_attr_filter af)
{
    t->flags = flags;
    t->tag_filter = tf;
    t->filter = af;
}

void rnd_tok_set_tag_cb(struct rnd_tok *t, rnd_tok_tag_cb cb)
{
    t->tag_cb = cb;
}

void rnd_tok_skip_value(struct rnd_tok *t)
{
    t->skip |= SKIP_VALUE;
}

/* Bytes that end a fast run in a state: the lookup table, and the same set as (at most) four
 * bytes for the SSE2 scan (nset 0: table only). */
struct fast {
    const uint8_t *tab;
    char set[4];
    int nset;
};

static const struct fast f_data = {sp_data, {0, '\r', '<', '&'}, 4};
static const struct fast f_raw = {sp_raw, {0, '\r', '<', '<'}, 4};
static const struct fast f_plain = {sp_plain, {0, '\r', 0, 0}, 4};
static const struct fast f_dq = {sp_dq, {0, '\r', '"', '&'}, 4};
static const struct fast f_sq = {sp_sq, {0, '\r', '\'', '&'}, 4};
static const struct fast f_uq = {sp_uq, {0}, 0};
static const struct fast f_comment = {sp_comment, {0, '\r', '<', '-'}, 4};
static const struct fast f_bogus = {sp_bogus, {0, '\r', '>', '>'}, 4};
static const struct fast f_esc = {sp_esc, {0, '\r', '<', '-'}, 4};
static const struct fast f_cdata = {sp_cdata, {0, '\r', ']', ']'}, 4};

/* The fast-run description of state s, or NULL when s has no fast path. */
static const struct fast *fast_table(uint8_t s)
{
    switch ((enum st)s) {
    case S_DATA:
    case S_RCDATA:
        return &f_data;
    case S_RAWTEXT:
    case S_SCRIPT:
        return &f_raw;
    case S_PLAINTEXT:
        return &f_plain;
    case S_ATTR_VALUE_DQ:
        return &f_dq;
    case S_ATTR_VALUE_SQ:
        return &f_sq;
    case S_ATTR_VALUE_UQ:
        return &f_uq;
    case S_COMMENT:
        return &f_comment;
    case S_BOGUS_COMMENT:
        return &f_bogus;
    case S_SCRIPT_ESC:
    case S_SCRIPT_DESC:
        return &f_esc;
    case S_CDATA:
        return &f_cdata;
    default:
        return NULL;
    }
}

/* Index of the first byte of p[i..n) in the set, or n. */
static size_t scan_run(const struct fast *f, const unsigned char *p, size_t i, size_t n)
{
#if defined(__SSE2__)
    if (f->nset) {
        __m128i a = _mm_set1_epi8(f->set[0]), b = _mm_set1_epi8(f->set[1]);
        __m128i c = _mm_set1_epi8(f->set[2]), d = _mm_set1_epi8(f->set[3]);
        while (i + 16 <= n) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
            __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, a), _mm_cmpeq_epi8(v, b)),
                                     _mm_or_si128(_mm_cmpeq_epi8(v, c), _mm_cmpeq_epi8(v, d)));
            unsigned mask = (unsigned)_mm_movemask_epi8(m);
            if (mask)
                return i + (size_t)__builtin_ctz(mask);
            i += 16;
        }
    }
#endif
    while (i < n && !f->tab[p[i]])
        i++;
    return i;
}

/* Index of the first c in p[i..n), or n. Inline: the distances between markup bytes are short
 * (tens of bytes), where a call to memchr costs more than the scan. */
static inline size_t find_byte(const unsigned char *p, size_t i, size_t n, int c)
{
#if defined(__SSE2__)
    __m128i k = _mm_set1_epi8((char)c);
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, k));
        if (mask)
            return i + (size_t)__builtin_ctz(mask);
        i += 16;
    }
#endif
    while (i < n && p[i] != c)
        i++;
    return i;
}

/* Byte classes inside tags (the fast paths stop at NUL and CR: step() handles them). */
enum {
    K_WS = 1,      /* \t \n \f space */
    K_TAGNAME = 2, /* ends a tag name: whitespace, '/', '>', NUL, CR */
    K_ATTR = 4,    /* ends an attribute name: as K_TAGNAME and '=' */
    K_UQ = 8,      /* ends a run of an unquoted value: whitespace, '>', '&', NUL, CR */
    K_UQSKIP = 16, /* ends an unquoted value not decoded: whitespace, '>', CR */
};
#define K_ENDS (K_TAGNAME | K_ATTR | K_UQ | K_UQSKIP)
static const uint8_t kcls[256] = {
    ['\t'] = K_WS | K_ENDS,
    ['\n'] = K_WS | K_ENDS,
    ['\f'] = K_WS | K_ENDS,
    [' '] = K_WS | K_ENDS,
    ['\r'] = K_ENDS,
    [0] = K_TAGNAME | K_ATTR | K_UQ,
    ['/'] = K_TAGNAME | K_ATTR,
    ['>'] = K_ENDS,
    ['='] = K_ATTR,
    ['&'] = K_UQ,
};

/* Appends the lowercased name run p[i..j) to buf (capped as name_add does). */
static void name_run(char *buf, size_t *len, const unsigned char *p, size_t i, size_t j)
{
    size_t have = *len;
    if (have < RND_TOK_NAME_MAX) {
        size_t k = j - i < RND_TOK_NAME_MAX - have ? j - i : RND_TOK_NAME_MAX - have;
        for (size_t q = 0; q < k; q++) {
            unsigned char c = p[i + q];
            buf[have + q] = (char)((unsigned)(c - 'A') < 26u ? c + 32 : c);
        }
    }
    *len = have + (j - i);
}

/* Scans a tag name (with_eq 0) or attribute name (with_eq 1) run from p[i]: appends it
 * lowercased to buf (capped as name_add does) and returns the index of the byte that ends it
 * (K_TAGNAME, or K_ATTR with '='), or n. Real names are short: one 16-byte block holds the whole
 * name and its end. Candidates for the end are the bytes <= 0x20, '/', '>' (and '='); the class
 * table rejects the control characters that are name bytes (then the byte loop goes on). */
static inline __attribute__((always_inline)) size_t
name_scan(char *buf, size_t *len, const unsigned char *p, size_t i, size_t n, int with_eq)
{
    const uint8_t end = with_eq ? K_ATTR : K_TAGNAME;
#if defined(__SSE2__)
    if (i + 16 <= n && *len <= RND_TOK_NAME_MAX - 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i m = _mm_or_si128(
            _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x20)), v),
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('/')),
                         _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('>')),
                                      _mm_cmpeq_epi8(v, _mm_set1_epi8(with_eq ? '=' : '>')))));
        unsigned mask = (unsigned)_mm_movemask_epi8(m);
        if (mask) {
            size_t k = (size_t)__builtin_ctz(mask);
            if (kcls[p[i + k]] & end) {
                __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('A' - 1)),
                                              _mm_cmplt_epi8(v, _mm_set1_epi8('Z' + 1)));
                _mm_storeu_si128((__m128i *)(void *)(buf + *len),
                                 _mm_or_si128(v, _mm_and_si128(upper, _mm_set1_epi8(0x20))));
                *len += k;
                return i + k;
            }
        }
    }
#endif
    size_t j = i;
    while (j < n && !(kcls[p[j]] & end))
        j++;
    name_run(buf, len, p, i, j);
    return j;
}

size_t rnd_tok_common_ref(const char *p, size_t n, const char **out, size_t *out_len)
{
    static const struct {
        const char *in, *out;
        size_t in_len, out_len;
    } refs[] = {
        {"&amp;", "&", 5, 1}, {"&quot;", "\"", 6, 1}, {"&lt;", "<", 4, 1},
        {"&gt;", ">", 4, 1},  {"&#39;", "'", 5, 1},   {"&nbsp;", "\xC2\xA0", 6, 2},
    };
    for (size_t r = 0; r < sizeof refs / sizeof refs[0]; r++) {
        size_t k = refs[r].in_len;
        if (n >= k && memcmp(p, refs[r].in, k) == 0) {
            *out = refs[r].out;
            *out_len = refs[r].out_len;
            return k;
        }
    }
    return 0;
}

/* The character references that make up most of real pages (rnd_tok_common_ref), resolved
 * without the general machinery when they are whole in the buffer. Returns the length consumed
 * from p[i] ('&'), or 0. */
static size_t quick_ref(struct rnd_tok *t, const unsigned char *p, size_t i, size_t n)
{
    const char *o;
    size_t olen, k = rnd_tok_common_ref((const char *)p + i, n - i, &o, &olen);
    if (!k)
        return 0;
    t->rend = t->pos + i + k;
    if (t->state == S_ATTR_VALUE_DQ || t->state == S_ATTR_VALUE_SQ || t->state == S_ATTR_VALUE_UQ)
        value(t, o, olen);
    else
        text(t, o, olen);
    return k;
}

/* The whole-tag path (rnd_tok_set_tag_cb): lexes the tag that starts with the '<' at p[lt] as the
 * tag states would, without events. Returns the index after its '>' when the tag was taken
 * (whole in p, no NUL or CR, the consumer took it or needs no call), or 0: then the tag is
 * tokenized as usual from the '<' (nothing here has changed what that path sees: t->tag and
 * t->attr are scratch until a tag starts). */
static size_t whole_tag(struct rnd_tok *t, const unsigned char *p, size_t lt, size_t n)
{
    struct rnd_tok_tag tg;
    char names[RND_TOK_TAG_ATTRS][RND_TOK_TAG_NAME];
    size_t i = lt + 1;
    unsigned end = 0;
    if (i < n && p[i] == '/') {
        end = 1;
        i++;
    }
    if (i >= n || !is_alpha(p[i]) || (end && !(t->flags & RND_TOK_SKIP_END_TAGS)))
        return 0;
    if (end) {
        /* an end tag the consumer does not want: its name only has to be passed over */
        while (i < n && !(kcls[p[i]] & K_TAGNAME))
            i++;
        if (i < n && p[i] == '>')
            return i + 1;
    } else {
        t->tag_len = 0;
        i = name_scan(t->tag, &t->tag_len, p, i, n, 0);
    }
    if (i >= n || p[i] == 0 || p[i] == '\r' || t->tag_len > RND_TOK_NAME_MAX)
        return 0;
    tg.nattrs = 0;
    tg.self_closing = 0;
    for (;;) {
        /* before attribute name (also after a value, and the self-closing state's "else") */
        while (i < n && (kcls[p[i]] & K_WS))
            i++;
        if (i >= n)
            return 0;
        int c = p[i];
        if (c == '>')
            break;
        if (c == '/') {
            if (++i >= n)
                return 0;
            if (p[i] == '>') {
                tg.self_closing = 1;
                break;
            }
            continue;
        }
        if (c == 0 || c == '\r' || c == '=')
            return 0;
        t->attr_len = 0;
        i = name_scan(t->attr, &t->attr_len, p, i, n, 1);
        if (i >= n || p[i] == 0 || p[i] == '\r' || t->attr_len > RND_TOK_NAME_MAX)
            return 0;
        struct rnd_tok_tag_attr *a = NULL;
        int want = end ? 0 : t->filter ? t->filter(t->ud, t->attr, t->attr_len, 0) : 1;
        if (want) {
            if (tg.nattrs == RND_TOK_TAG_ATTRS || t->attr_len > RND_TOK_TAG_NAME)
                return 0;
            a = &tg.attrs[tg.nattrs];
            memcpy(names[tg.nattrs], t->attr, t->attr_len);
            a->name = names[tg.nattrs];
            a->name_len = t->attr_len;
            a->want = want;
            a->duplicate = 0;
            for (size_t k = 0; k < tg.nattrs; k++)
                if (tg.attrs[k].name_len == a->name_len &&
                    memcmp(tg.attrs[k].name, a->name, a->name_len) == 0)
                    a->duplicate = 1;
            a->value = NULL;
            a->value_len = a->amp = 0;
            a->quote = 0;
            tg.nattrs++;
        }
        /* after attribute name */
        while (i < n && (kcls[p[i]] & K_WS))
            i++;
        if (i >= n)
            return 0;
        if (p[i] != '=')
            continue; /* '>', '/', or the next attribute's name */
        i++;
        /* before attribute value */
        while (i < n && (kcls[p[i]] & K_WS))
            i++;
        if (i >= n)
            return 0;
        c = p[i];
        if (c == '>')
            break; /* missing value: no value events */
        if (c == 0 || c == '\r')
            return 0;
        size_t vs, ve;
        char quote = 0;
        if (c == '"' || c == '\'') {
            quote = (char)c;
            vs = i + 1;
            ve = find_byte(p, vs, n, c);
            if (ve >= n || ve + 1 >= n)
                return 0;
            i = ve + 1;
            /* after a quoted value: whitespace, '/', '>' or (an error) the next name */
            c = p[i];
            if (c == 0 || c == '\r')
                return 0;
        } else {
            vs = i;
            while (i < n && !(kcls[p[i]] & K_UQSKIP))
                i++;
            if (i >= n || p[i] == '\r')
                return 0;
            ve = i;
        }
        if (a) {
            /* the first '&', NUL or CR (either of the last two: the events path) */
            size_t k = vs;
            if (quote == '"')
                k = scan_run(&f_dq, p, vs, ve);
            else if (quote)
                k = scan_run(&f_sq, p, vs, ve);
            else
                while (k < ve && !(kcls[p[k]] & K_UQ))
                    k++;
            if (k < ve && p[k] != '&')
                return 0;
            if (k < ve && (memchr(p + k, 0, ve - k) || memchr(p + k, '\r', ve - k)))
                return 0;
            a->value = (const char *)p + vs;
            a->value_len = ve - vs;
            a->raw = t->pos + vs;
            a->amp = k - vs;
            a->quote = quote;
        }
    }
    /* p[i] is the tag's '>' */
    if (!end) {
        tg.name = t->tag;
        tg.len = t->tag_len;
        tg.end_tag = end;
        if (t->tag_cb(t->ud, &tg))
            return 0;
    }
    if (!end)
        set_last(t);
    return i + 1;
}

/* Index of the first byte of p[i..n) that ends a run of an unquoted value (K_UQ), or n. */
static inline size_t uq_run(const unsigned char *p, size_t i, size_t n)
{
    while (i < n && !(kcls[p[i]] & K_UQ))
        i++;
    return i;
}

/* Whether name[0..n) (ASCII letters) is, case-insensitively, the last start tag's name: an
 * "appropriate end tag" in RCDATA, RAWTEXT and script data. */
static int rawtext_end_tag(const struct rnd_tok *t, const unsigned char *name, size_t n)
{
    if (n != t->last_len || n == 0)
        return 0;
    for (size_t k = 0; k < n; k++)
        if ((name[k] | 0x20) != (unsigned char)t->last[k])
            return 0;
    return 1;
}

/* Runs the states where (nearly) all the bytes of real pages go without per-character dispatch:
 * text, tags, attribute names and values. Equivalent to calling step() on each byte; returns
 * the index of the first byte it leaves to step() (NUL, CR, character references, rare states),
 * or n. The states of a tag follow each other by
 * direct jumps; t->state always names the label being run. After an event whose callback may
 * switch the state (TAG_END, text and value chunks), the state is dispatched afresh; after the
 * others the state is set as step() sets it (after the event). */
static size_t fast(struct rnd_tok *t, const unsigned char *p, size_t i, size_t n)
{
    const uint64_t pos = t->pos;
    size_t j;
    int c;
    /* A run of bytes up to the state's next special byte (scan) becomes one event (emit: text or
     * value); else a common character reference at p[i] is resolved; else p[i] is left to the
     * code that follows (or to step() when no reference matched). */
#define RUN_OR_REF(scan, emit)                                                                     \
    do {                                                                                           \
        j = (scan);                                                                                \
        if (j > i) {                                                                               \
            t->rend = pos + j;                                                                     \
            emit(t, (const char *)p + i, j - i);                                                   \
            i = j;                                                                                 \
            goto dispatch;                                                                         \
        }                                                                                          \
        if (p[i] == '&') {                                                                         \
            j = quick_ref(t, p, i, n);                                                             \
            if (!j)                                                                                \
                return i;                                                                          \
            i += j;                                                                                \
            goto dispatch;                                                                         \
        }                                                                                          \
    } while (0)
#define EMIT_TAG(at)                                                                               \
    do {                                                                                           \
        i = (at) + 1;                                                                              \
        tag_emit(t, pos + i);                                                                      \
        if (t->state == S_DATA)                                                                    \
            goto data;                                                                             \
        goto dispatch;                                                                             \
    } while (0)
dispatch:
    if (i >= n)
        return n;
    switch ((enum st)t->state) {
    case S_DATA:
    case S_RCDATA:
        goto data;
    case S_RAWTEXT:
    case S_SCRIPT:
        goto rawtext;
    case S_PLAINTEXT:
        if (t->flags & RND_TOK_SKIP_TEXT)
            return n;
        goto generic;
    case S_TAG_OPEN:
        goto tag_open;
    case S_END_TAG_OPEN:
        goto end_tag_open;
    case S_TAG_NAME:
        goto tag_name;
    case S_BEFORE_ATTR_NAME:
        goto before_attr_name;
    case S_ATTR_NAME:
        goto attr_name;
    case S_AFTER_ATTR_NAME:
        goto after_attr_name;
    case S_BEFORE_ATTR_VALUE:
        goto before_attr_value;
    case S_ATTR_VALUE_DQ:
    case S_ATTR_VALUE_SQ:
        goto value_q;
    case S_ATTR_VALUE_UQ:
        goto value_uq;
    case S_AFTER_ATTR_VALUE_Q:
        goto after_value_q;
    case S_SELF_CLOSING:
        goto self_closing;
    default:
        goto generic;
    }

data: /* S_DATA or S_RCDATA */
    if (i >= n)
        return n;
    if (t->flags & RND_TOK_SKIP_TEXT) {
        /* no text wanted: nothing but '<' can change the state (references consume only
         * alphanumerics, '#' and ';'; NUL and CR are text) */
        i = find_byte(p, i, n, '<');
        if (i == n)
            return n;
        if (t->tag_cb && t->state == S_DATA) {
            if ((t->flags & RND_TOK_SKIP_END_TAGS) && i + 2 < n && p[i + 1] == '/' &&
                is_alpha(p[i + 2])) {
                /* an end tag nobody wants, "</name>": nothing to do */
                j = i + 3;
                while (j < n && !(kcls[p[j]] & K_TAGNAME))
                    j++;
                if (j < n && p[j] == '>') {
                    i = j + 1;
                    goto data;
                }
            }
            j = whole_tag(t, p, i, n);
            if (j) {
                i = j;
                goto data;
            }
        }
    } else {
        RUN_OR_REF(scan_run(&f_data, p, i, n), text);
        if (p[i] != '<')
            return i;
    }
    t->lt_raw = pos + i;
    i++;
    if (t->state == S_RCDATA) {
        t->state = S_RCDATA_LT;
        return i;
    }
    t->state = S_TAG_OPEN;
    goto tag_open;

rawtext: /* S_RAWTEXT or S_SCRIPT */
    if (t->flags & RND_TOK_SKIP_TEXT) {
        i = find_byte(p, i, n, '<');
        if (i == n)
            return n;
    } else {
        j = scan_run(&f_raw, p, i, n);
        if (j > i) {
            t->rend = pos + j;
            text(t, (const char *)p + i, j - i);
            i = j;
            goto dispatch;
        }
        if (p[i] != '<')
            return i;
    }
    if ((t->flags & RND_TOK_SKIP_TEXT) && i + 1 < n) {
        /* no text wanted: a '<' that starts no end tag of the element changes nothing */
        c = p[i + 1];
        if (c != '/' && !(c == '!' && t->state == S_SCRIPT)) {
            i++;
            goto rawtext;
        }
        if (c == '/' && i + 2 < n) {
            j = i + 2;
            while (j < n && is_alpha(p[j]))
                j++;
            if (j < n && !(rawtext_end_tag(t, p + i + 2, j - i - 2) &&
                           ((kcls[p[j]] & K_WS) || p[j] == '\r' || p[j] == '/' || p[j] == '>'))) {
                i = j; /* "</" and a name that is not the element's: text */
                goto rawtext;
            }
        }
    }
    t->lt_raw = pos + i;
    t->state = t->state == S_RAWTEXT ? S_RAWTEXT_LT : S_SCRIPT_LT;
    return i + 1;

tag_open:
    if (i >= n)
        return n;
    c = p[i];
    if (is_alpha(c)) {
        tag_new(t, 0);
        t->state = S_TAG_NAME;
        goto tag_name;
    }
    if (c != '/')
        return i;
    i++;
    t->state = S_END_TAG_OPEN;
    /* fall through */
end_tag_open:
    if (i >= n)
        return n;
    if (!is_alpha(p[i]))
        return i;
    tag_new(t, 1);
    t->state = S_TAG_NAME;
    /* fall through */
tag_name:
    i = name_scan(t->tag, &t->tag_len, p, i, n, 0);
    if (i == n)
        return n;
    c = p[i];
    if (c == '>') {
        tag_start_ev(t);
        EMIT_TAG(i);
    }
    if (c == '/') {
        tag_start_ev(t);
        i++;
        t->state = S_SELF_CLOSING;
        goto self_closing;
    }
    if (!(kcls[c] & K_WS))
        return i;
    tag_start_ev(t);
    i++;
    t->state = S_BEFORE_ATTR_NAME;
    /* fall through */
before_attr_name:
    while (i < n && (kcls[p[i]] & K_WS))
        i++;
    if (i == n)
        return n;
    c = p[i];
    if (c == '>')
        EMIT_TAG(i);
    if (c == '/') {
        i++;
        t->state = S_SELF_CLOSING;
        goto self_closing;
    }
    if (c == 0 || c == '\r' || c == '=')
        return i;
    attr_begin(t, pos + i);
    t->state = S_ATTR_NAME;
    /* fall through */
attr_name:
    i = name_scan(t->attr, &t->attr_len, p, i, n, 1);
    if (i == n)
        return n;
    c = p[i];
    if (c == 0 || c == '\r')
        return i;
    attr_name_done(t);
    i++;
    if (c == '=') {
        t->state = S_BEFORE_ATTR_VALUE;
        goto before_attr_value;
    }
    if (c == '/') {
        t->state = S_SELF_CLOSING;
        goto self_closing;
    }
    if (c == '>')
        EMIT_TAG(i - 1);
    t->state = S_AFTER_ATTR_NAME;
    /* fall through */
after_attr_name:
    while (i < n && (kcls[p[i]] & K_WS))
        i++;
    if (i == n)
        return n;
    c = p[i];
    if (c == '>')
        EMIT_TAG(i);
    if (c == 0 || c == '\r')
        return i;
    if (c == '/') {
        i++;
        t->state = S_SELF_CLOSING;
        goto self_closing;
    }
    if (c != '=') {
        attr_begin(t, pos + i);
        t->state = S_ATTR_NAME;
        goto attr_name;
    }
    i++;
    t->state = S_BEFORE_ATTR_VALUE;
    /* fall through */
before_attr_value:
    while (i < n && (kcls[p[i]] & K_WS))
        i++;
    if (i == n)
        return n;
    c = p[i];
    if (c == '"' || c == '\'') {
        value_start(t, (char)c, pos + i + 1);
        i++;
        t->state = c == '"' ? S_ATTR_VALUE_DQ : S_ATTR_VALUE_SQ;
        goto value_q;
    }
    if (c == '>')
        EMIT_TAG(i);
    if (c == 0 || c == '\r')
        return i;
    value_start(t, 0, pos + i);
    t->state = S_ATTR_VALUE_UQ;
    goto value_uq;

value_q : { /* S_ATTR_VALUE_DQ or S_ATTR_VALUE_SQ */
    int q = t->state == S_ATTR_VALUE_DQ ? '"' : '\'';
    if (i >= n)
        return n;
    if (t->skip) {
        /* not decoded: only the closing quote matters */
        i = find_byte(p, i, n, q);
        if (i == n)
            return n;
    } else {
        RUN_OR_REF(scan_run(q == '"' ? &f_dq : &f_sq, p, i, n), value);
        if (p[i] != q)
            return i;
    }
    value_end(t, pos + i);
    i++;
    t->state = S_AFTER_ATTR_VALUE_Q;
}
    /* fall through */
after_value_q:
    if (i >= n)
        return n;
    c = p[i];
    if (c == '>')
        EMIT_TAG(i);
    if (kcls[c] & K_WS) {
        i++;
        t->state = S_BEFORE_ATTR_NAME;
        goto before_attr_name;
    }
    if (c == '/') {
        i++;
        t->state = S_SELF_CLOSING;
        goto self_closing;
    }
    if (c == 0 || c == '\r')
        return i;
    t->state = S_BEFORE_ATTR_NAME;
    goto before_attr_name;

value_uq:
    if (i >= n)
        return n;
    if (t->skip) {
        while (i < n && !(kcls[p[i]] & K_UQSKIP))
            i++;
        if (i == n)
            return n;
    } else {
        RUN_OR_REF(uq_run(p, i, n), value);
    }
    c = p[i];
    if (c == '>') {
        value_end(t, pos + i);
        EMIT_TAG(i);
    }
    if (!(kcls[c] & K_WS))
        return i;
    value_end(t, pos + i);
    i++;
    t->state = S_BEFORE_ATTR_NAME;
    goto before_attr_name;

self_closing:
    if (i >= n)
        return n;
    if (p[i] != '>')
        return i;
    t->self_closing = 1;
    EMIT_TAG(i);

generic : { /* the other states with runs (comments, script escapes, CDATA, PLAINTEXT) */
    const struct fast *f = fast_table(t->state);
    if (!f)
        return i;
    j = scan_run(f, p, i, n);
    if (j == i)
        return i;
    t->rend = pos + j;
    if (t->state == S_COMMENT || t->state == S_BOGUS_COMMENT)
        comment(t, (const char *)p + i, j - i);
    else
        text(t, (const char *)p + i, j - i);
    i = j;
    goto dispatch;
}
#undef EMIT_TAG
#undef RUN_OR_REF
}

void rnd_tok_feed(struct rnd_tok *t, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    size_t i = 0;
    if (t->cr_pending && n) {
        t->cr_pending = 0;
        t->crlf = p[0] == '\n';
        i = t->crlf;
        step(t, '\n', t->pos - 1);
        t->crlf = 0;
    }
    while (i < n) {
        i = fast(t, p, i, n);
        if (i == n)
            break;
        int c = p[i];
        uint64_t raw = t->pos + i;
        i++;
        if (c == '\r') {
            if (i == n) {
                t->cr_pending = 1; /* CR LF or CR alone: known with the next byte */
                break;
            }
            t->crlf = p[i] == '\n';
            i += t->crlf;
            step(t, '\n', raw);
            t->crlf = 0;
            continue;
        }
        step(t, c, raw);
    }
    t->pos += n;
}

void rnd_tok_finish(struct rnd_tok *t)
{
    if (t->finished)
        return;
    t->finished = 1;
    if (t->cr_pending) {
        t->cr_pending = 0;
        step(t, '\n', t->pos - 1);
    }
    step(t, C_EOF, t->pos);
}
