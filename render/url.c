/* url.c - link policy decisions on the start of a URL (see url.h). */
#include "url.h"

#include <string.h>

static int lc(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int is_alpha(int c)
{
    c = lc(c);
    return c >= 'a' && c <= 'z';
}

static int is_scheme_char(int c)
{
    return is_alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lc(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int rnd_url_host_associated(const struct rnd_url_policy *p, const char *host, size_t n)
{
    for (size_t i = 0; i < p->ndomains; i++) {
        const char *d = p->domains[i];
        size_t dl = strlen(d);
        if (dl > 2 && d[0] == '*' && d[1] == '.') {
            size_t sl = dl - 1; /* ".suffix" */
            if (n > sl && memcmp(host + n - sl, d + 1, sl) == 0)
                return 1;
        } else if (dl == n && memcmp(host, d, n) == 0) {
            return 1;
        }
    }
    return 0;
}

static void put(struct rnd_url_decision *d, const char *s, size_t n)
{
    if (d->repl_len + n > sizeof d->repl)
        n = sizeof d->repl - d->repl_len;
    memcpy(d->repl + d->repl_len, s, n);
    d->repl_len += n;
}

static void put_pct(struct rnd_url_decision *d, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_alpha(c) || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
            put(d, (const char *)&s[i], 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            put(d, e, 3);
        }
    }
}

/* http https ws wss ftp file */
static int is_special(const char *scheme, size_t n)
{
    switch (n) {
    case 2:
        return memcmp(scheme, "ws", 2) == 0;
    case 3:
        return memcmp(scheme, "wss", 3) == 0 || memcmp(scheme, "ftp", 3) == 0;
    case 4:
        return memcmp(scheme, "http", 4) == 0 || memcmp(scheme, "file", 4) == 0;
    case 5:
        return memcmp(scheme, "https", 5) == 0;
    default:
        return 0;
    }
}

/* Cleaned view of the input: tab/LF/CR removed, with positions into the original. */
struct view {
    const char *c; /* the cleaned characters: s itself when nothing was removed */
    size_t n;
    size_t off;         /* at == NULL: c[k] is s[off + k] */
    unsigned short *at; /* otherwise c[k] is s[at[k]] (at[n] == n of the input) */
    char cbuf[RND_URL_PREFIX_MAX + 1];
    unsigned short atbuf[RND_URL_PREFIX_MAX + 2];
};

/* Position in the input of the view's character k (k == v->n: the end). */
static size_t vat(const struct view *v, size_t k)
{
    return v->at ? v->at[k] : v->off + k;
}

static int decide_foreign(const struct rnd_url_policy *p, const char *s, size_t start,
                          size_t consumed, struct rnd_url_decision *d)
{
    d->kind = RND_URL_FOREIGN;
    if (p->foreign == RND_FOREIGN_KEEP)
        return RND_URL_KEEP;
    const char *bp = p->block_prefix ? p->block_prefix : "/__worklink/blocked?url=";
    d->repl_len = 0;
    put(d, bp, strlen(bp));
    put_pct(d, s + start, consumed - start);
    d->consumed = consumed;
    d->rest = RND_REST_PCT;
    return RND_URL_REPLACE;
}

int rnd_url_is_path(const char *s, size_t n)
{
    return n >= 2 && s[0] == '/' && s[1] != '/' && s[1] != '\\' && s[1] != '\t' && s[1] != '\n' &&
           s[1] != '\r';
}

int rnd_url_decide(const struct rnd_url_policy *p, const char *s, size_t n, int complete,
                   struct rnd_url_decision *d)
{
    const char *tscheme = p->tunnel_scheme ? p->tunnel_scheme : "https";
    const char *bscheme = p->base_scheme ? p->base_scheme : "https";
    int overlong = 0;
    if (n >= RND_URL_PREFIX_MAX) {
        n = RND_URL_PREFIX_MAX;
        if (!complete)
            overlong = 1;
        complete = 1;
    }
    d->repl_len = 0;
    d->consumed = 0;
    d->rest = RND_REST_COPY;
    d->kind = RND_URL_RELATIVE;
    if (rnd_url_is_path(s, n))
        return RND_URL_KEEP;

    size_t start = 0;
    while (start < n && (unsigned char)s[start] <= 0x20)
        start++;
    struct view v;
    size_t first_tnr = start;
    while (first_tnr < n && s[first_tnr] != '\t' && s[first_tnr] != '\n' && s[first_tnr] != '\r')
        first_tnr++;
    if (first_tnr == n) {
        /* the common case: nothing to remove, the view is the input */
        v.c = s + start;
        v.n = n - start;
        v.off = start;
        v.at = NULL;
    } else {
        v.n = 0;
        for (size_t i = start; i < n; i++) {
            if (s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
                continue;
            v.cbuf[v.n] = s[i];
            v.atbuf[v.n] = (unsigned short)i;
            v.n++;
        }
        v.atbuf[v.n] = (unsigned short)n;
        v.c = v.cbuf;
        v.at = v.atbuf;
    }
    if (v.n == 0)
        return complete ? RND_URL_KEEP : RND_URL_NEED_MORE;

    /* scheme */
    size_t i = 0;
    char scheme[24];
    size_t slen = 0;
    int has_scheme = 0;
    if (is_alpha(v.c[0])) {
        while (i < v.n && is_scheme_char(v.c[i]) && i < 20)
            i++;
        if (i < v.n && v.c[i] == ':') {
            has_scheme = 1;
            slen = i;
            for (size_t k = 0; k < slen; k++)
                scheme[k] = (char)lc(v.c[k]);
            scheme[slen] = 0;
            i++;
        } else if (i == v.n && !complete && i < 20) {
            return RND_URL_NEED_MORE;
        } else {
            i = 0; /* relative */
        }
    }
    size_t auth;
    int special_scheme = 0;
    int scheme_relative = 0;
    if (!has_scheme) {
        int slashes = 0;
        while (i < v.n && slashes < 2 && (v.c[i] == '/' || v.c[i] == '\\')) {
            i++;
            slashes++;
        }
        if (slashes < 2) {
            if (i == v.n && !complete)
                return RND_URL_NEED_MORE;
            return RND_URL_KEEP;
        }
        scheme_relative = 1;
        memcpy(scheme, bscheme, strlen(bscheme) + 1);
        slen = strlen(scheme);
        auth = i;
    } else {
        special_scheme = is_special(scheme, slen);
        if (!special_scheme) {
            d->kind = strcmp(scheme, "javascript") == 0 ? RND_URL_SCRIPT : RND_URL_OTHER;
            if (d->kind == RND_URL_SCRIPT && p->strip_scripts) {
                put(d, "about:blank#blocked", 19);
                d->consumed = vat(&v, i);
                d->rest = RND_REST_DROP;
                return RND_URL_REPLACE;
            }
            return RND_URL_KEEP;
        }
        size_t j = i;
        int slashes = 0;
        while (j < v.n && (v.c[j] == '/' || v.c[j] == '\\')) {
            j++;
            slashes++;
        }
        if (j == v.n && !complete)
            return RND_URL_NEED_MORE;
        if (strcmp(scheme, bscheme) == 0 && slashes < 2)
            return RND_URL_KEEP; /* "https:foo" on an https page is relative */
        auth = j;
    }
    if (strcmp(scheme, "file") == 0 || strcmp(scheme, "ftp") == 0)
        return decide_foreign(p, s, start, n, d);

    /* authority: up to / \ ? # */
    size_t e = auth;
    while (e < v.n && v.c[e] != '/' && v.c[e] != '\\' && v.c[e] != '?' && v.c[e] != '#')
        e++;
    if (e == v.n && !complete)
        return RND_URL_NEED_MORE;
    if (overlong)
        return decide_foreign(p, s, start, n, d);
    size_t hs = auth;
    int userinfo = 0;
    for (size_t k = auth; k < e; k++)
        if (v.c[k] == '@') {
            hs = k + 1;
            userinfo = 1;
        }
    size_t he = e;
    int port = 0;
    if (hs < e && v.c[hs] == '[') {
        while (he > hs && v.c[he - 1] != ']' && v.c[he - 1] != ':')
            he--;
        /* IPv6 literal: never an associated domain */
    } else {
        for (size_t k = hs; k < e; k++)
            if (v.c[k] == ':') {
                he = k;
                port = 1;
                break;
            }
    }
    /* host: percent-decoded, lowercased */
    char host[RND_URL_PREFIX_MAX];
    size_t hl = 0;
    int ascii = 1;
    for (size_t k = hs; k < he; k++) {
        int c = (unsigned char)v.c[k];
        if (c == '%' && k + 2 < he && hexv(v.c[k + 1]) >= 0 && hexv(v.c[k + 2]) >= 0) {
            c = hexv(v.c[k + 1]) * 16 + hexv(v.c[k + 2]);
            k += 2;
        }
        if (c >= 0x80)
            ascii = 0;
        host[hl++] = (char)lc(c);
    }
    if (hl > 0 && host[hl - 1] == '.')
        hl--;
    if (hl == 0) {
        d->kind = RND_URL_OTHER; /* no host: the browser rejects it */
        return RND_URL_KEEP;
    }
    size_t consumed = vat(&v, e);
    if (!ascii || !rnd_url_host_associated(p, host, hl))
        return decide_foreign(p, s, start, consumed, d);

    d->kind = RND_URL_INTERNAL;
    int ws = strcmp(scheme, "ws") == 0 || strcmp(scheme, "wss") == 0;
    const char *out_scheme = ws ? "wss" : tscheme;
    if (scheme_relative && !userinfo && !port && p->tunnel_port == 0 &&
        strcmp(bscheme, tscheme) == 0 && !ws)
        return RND_URL_KEEP;
    put(d, out_scheme, strlen(out_scheme));
    put(d, "://", 3);
    put(d, host, hl);
    if (p->tunnel_port) {
        char num[16];
        size_t m = 0;
        unsigned pt = p->tunnel_port;
        char tmp[16];
        while (pt) {
            tmp[m++] = (char)('0' + pt % 10);
            pt /= 10;
        }
        num[0] = ':';
        for (size_t k = 0; k < m; k++)
            num[1 + k] = tmp[m - 1 - k];
        put(d, num, m + 1);
    }
    d->consumed = consumed;
    d->rest = RND_REST_COPY;
    /* already canonical, byte for byte? */
    if (consumed - start == d->repl_len && start == 0 && memcmp(s, d->repl, d->repl_len) == 0)
        return RND_URL_KEEP;
    return RND_URL_REPLACE;
}
