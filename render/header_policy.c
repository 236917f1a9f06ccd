/* header_policy.c - response header policy (see header_policy.h). */
#include "header_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strbuf.h"

static int lc(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int name_eq(const struct rnd_header *h, const char *s)
{
    size_t n = strlen(s);
    return h->name_len == n && strncasecmp(h->name, s, n) == 0;
}

static int is_tchar(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Trimmed, lowercased first token of a value ("text/html; charset=x" -> "text/html"). */
static size_t first_token(const char *v, size_t n, char *buf, size_t cap)
{
    size_t i = 0, k = 0;
    while (i < n && (v[i] == ' ' || v[i] == '\t'))
        i++;
    while (i < n && v[i] != ';' && v[i] != ',' && v[i] != ' ' && v[i] != '\t' && k + 1 < cap)
        buf[k++] = (char)lc((unsigned char)v[i++]);
    buf[k] = 0;
    return k;
}

/* Finds parameter `param` (e.g. "charset") in a header value; copies it lowercased. */
static int find_param(const char *v, size_t n, const char *param, char *buf, size_t cap)
{
    size_t pl = strlen(param);
    for (size_t i = 0; i < n; i++) {
        if (v[i] != ';')
            continue;
        size_t j = i + 1;
        while (j < n && (v[j] == ' ' || v[j] == '\t'))
            j++;
        if (j + pl < n && strncasecmp(v + j, param, pl) == 0 && v[j + pl] == '=') {
            j += pl + 1;
            if (j < n && v[j] == '"')
                j++;
            size_t k = 0;
            while (j < n && v[j] != ';' && v[j] != '"' && v[j] != ' ' && k + 1 < cap)
                buf[k++] = (char)lc((unsigned char)v[j++]);
            buf[k] = 0;
            return 1;
        }
    }
    return 0;
}

int rnd_accept_encoding_has(const char *accept, const char *coding)
{
    if (!accept)
        return 0;
    size_t cl = strlen(coding);
    const char *p = accept;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *s = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t tl = (size_t)(p - s);
        int match = (tl == cl && strncasecmp(s, coding, cl) == 0) || (tl == 1 && *s == '*');
        double q = 1.0;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        for (const char *x = p; x < e; x++) {
            if ((*x == 'q' || *x == 'Q') && x[1] == '=') {
                q = strtod(x + 2, NULL);
                break;
            }
        }
        if (match && q > 0)
            return 1;
        p = e;
    }
    return 0;
}

const char *rnd_origin_accept_encoding(void)
{
    return "gzip, identity";
}

static void *own(struct rnd_hp_result *r, size_t n)
{
    void *p = malloc(n);
    if (!p)
        abort();
    void **o = realloc(r->owned, (r->nowned + 1) * sizeof *o);
    if (!o)
        abort();
    r->owned = o;
    r->owned[r->nowned++] = p;
    return p;
}

static void add(struct rnd_hp_result *r, size_t *cap, const char *name, size_t nl,
                const char *value, size_t vl)
{
    if (r->nheaders == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        struct rnd_header *h = realloc(r->headers, *cap * sizeof *h);
        if (!h)
            abort();
        r->headers = h;
    }
    r->headers[r->nheaders++] = (struct rnd_header){name, nl, value, vl};
}

static void add_s(struct rnd_hp_result *r, size_t *cap, const char *name, const char *value)
{
    add(r, cap, name, strlen(name), value, strlen(value));
}

static const char *sb_own(struct rnd_hp_result *r, struct rnd_sb *b)
{
    char *p = own(r, b->len + 1);
    memcpy(p, b->p ? b->p : "", b->len);
    p[b->len] = 0;
    free(b->p);
    b->p = NULL;
    return p;
}

/* "https://host[:port]" sources for each associated domain (and wss: when ws is set). */
static void add_sources(struct rnd_sb *b, const struct rnd_url_policy *u, int ws)
{
    const char *scheme = ws ? "wss" : (u->tunnel_scheme ? u->tunnel_scheme : "https");
    for (size_t i = 0; i < u->ndomains; i++) {
        char port[16] = "";
        if (u->tunnel_port)
            snprintf(port, sizeof port, ":%u", u->tunnel_port);
        rnd_sb_str(b, " ");
        rnd_sb_str(b, scheme);
        rnd_sb_str(b, "://");
        rnd_sb_str(b, u->domains[i]);
        rnd_sb_str(b, port);
    }
}

static const char *build_csp(struct rnd_hp_result *r, const struct rnd_url_policy *u)
{
    struct rnd_sb b = {0};
    rnd_sb_str(&b, "connect-src 'self'");
    add_sources(&b, u, 0);
    add_sources(&b, u, 1);
    rnd_sb_str(&b, "; form-action 'self'");
    add_sources(&b, u, 0);
    rnd_sb_str(&b, "; frame-src 'self' blob: data:");
    add_sources(&b, u, 0);
    rnd_sb_str(&b, "; img-src 'self' data: blob:");
    add_sources(&b, u, 0);
    rnd_sb_str(&b, "; script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:");
    add_sources(&b, u, 0);
    return sb_own(r, &b);
}

/* Rewrites a Location-like value with the link policy; returns NULL to keep it. */
static const char *rewrite_location(struct rnd_hp_result *r, const struct rnd_url_policy *u,
                                    const char *v, size_t n, size_t *outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    struct rnd_url_decision *d = malloc(sizeof *d);
    if (!d)
        abort();
    const char *res = NULL;
    if (rnd_url_decide(u, v, n, 1, d) == RND_URL_REPLACE) {
        struct rnd_sb b = {0};
        rnd_sb_add(&b, d->repl, d->repl_len);
        for (size_t i = d->consumed; i < n; i++) {
            unsigned char c = (unsigned char)v[i];
            if (d->rest == RND_REST_DROP)
                break;
            if (d->rest == RND_REST_COPY || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
                rnd_sb_add(&b, (const char *)&v[i], 1);
            } else {
                char e[3] = {'%', hex[c >> 4], hex[c & 15]};
                rnd_sb_add(&b, e, 3);
            }
        }
        *outlen = b.len;
        res = sb_own(r, &b);
    }
    free(d);
    return res;
}

static int is_attachment(const char *v, size_t n)
{
    char tok[32];
    first_token(v, n, tok, sizeof tok);
    return strcmp(tok, "attachment") == 0;
}

int rnd_headers_apply(const struct rnd_hp_config *cfg, const struct rnd_header *in, size_t n,
                      struct rnd_hp_result *out)
{
    static const char *const drop[] = {
        "cache-control",
        "expires",
        "pragma",
        "etag",
        "last-modified",
        "age",
        "set-cookie",
        "set-cookie2",
        "clear-site-data",
        "referrer-policy",
        "x-content-type-options",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
        "proxy-authenticate",
        "te",
        "trailer",
        "alt-svc",
        "link",
        "public-key-pins",
        NULL,
    };
    struct rnd_hp_result r;
    memset(&r, 0, sizeof r);
    size_t cap = 0, ccap = 0;
    int html = 0, charset_ok = 1, attachment = 0, codings = 0;
    enum rnd_coding in_coding = RND_CODING_IDENTITY;

    for (size_t i = 0; i < n; i++) {
        const struct rnd_header *h = &in[i];
        if (h->name_len == 0)
            goto fail;
        for (size_t k = 0; k < h->name_len; k++)
            if (!is_tchar((unsigned char)h->name[k]))
                goto fail;
        if (name_eq(h, "content-type")) {
            char tok[64], cs[32];
            first_token(h->value, h->value_len, tok, sizeof tok);
            html = strcmp(tok, "text/html") == 0 || strcmp(tok, "application/xhtml+xml") == 0;
            if (find_param(h->value, h->value_len, "charset", cs, sizeof cs))
                charset_ok = strncmp(cs, "utf-16", 6) != 0 && strncmp(cs, "utf-32", 6) != 0 &&
                             strncmp(cs, "ucs-", 4) != 0;
        } else if (name_eq(h, "content-encoding")) {
            char tok[32];
            for (size_t k = 0; k < h->value_len; k++)
                if (h->value[k] == ',')
                    codings++;
            first_token(h->value, h->value_len, tok, sizeof tok);
            codings++;
            if (strcmp(tok, "gzip") == 0 || strcmp(tok, "x-gzip") == 0)
                in_coding = RND_CODING_GZIP;
            else if (strcmp(tok, "deflate") == 0)
                in_coding = RND_CODING_DEFLATE;
            else if (strcmp(tok, "br") == 0)
                in_coding = RND_CODING_BR;
            else if (strcmp(tok, "identity") == 0 || tok[0] == 0)
                in_coding = RND_CODING_IDENTITY;
            else
                in_coding = RND_CODING_OTHER;
        } else if (name_eq(h, "content-disposition")) {
            attachment |= is_attachment(h->value, h->value_len);
        }
    }
    if (codings > 1)
        in_coding = RND_CODING_OTHER;
    r.in_coding = in_coding;
    r.out_coding = in_coding;
    if (attachment && !cfg->allow_downloads) {
        r.body = RND_BODY_BLOCK;
        r.status = 403;
    } else if (html && charset_ok && in_coding != RND_CODING_OTHER) {
        r.body = RND_BODY_REWRITE_HTML;
        if (rnd_accept_encoding_has(cfg->accept_encoding, "gzip"))
            r.out_coding = RND_CODING_GZIP;
        else if (rnd_accept_encoding_has(cfg->accept_encoding, "br"))
            r.out_coding = RND_CODING_BR;
        else
            r.out_coding = RND_CODING_IDENTITY;
    }

    for (size_t i = 0; i < n; i++) {
        const struct rnd_header *h = &in[i];
        int dropped = 0;
        for (size_t k = 0; drop[k]; k++)
            if (name_eq(h, drop[k]))
                dropped = 1;
        if (name_eq(h, "set-cookie") || name_eq(h, "set-cookie2")) {
            if (r.nset_cookies == ccap) {
                ccap = ccap ? ccap * 2 : 8;
                struct rnd_header *c = realloc(r.set_cookies, ccap * sizeof *c);
                if (!c)
                    abort();
                r.set_cookies = c;
            }
            r.set_cookies[r.nset_cookies++] = *h;
        }
        if (dropped || (h->name_len > 6 && strncasecmp(h->name, "proxy-", 6) == 0))
            continue;
        if (r.body != RND_BODY_PASS &&
            (name_eq(h, "content-length") || name_eq(h, "content-md5") || name_eq(h, "digest") ||
             name_eq(h, "content-encoding") || name_eq(h, "vary") ||
             (r.body == RND_BODY_BLOCK &&
              (name_eq(h, "content-type") || name_eq(h, "content-disposition")))))
            continue;
        if (name_eq(h, "location") || name_eq(h, "content-location") || name_eq(h, "refresh")) {
            size_t off = 0;
            if (name_eq(h, "refresh")) {
                /* "N; url=..." : rewrite what follows url= (or the first ';') */
                const char *v = h->value;
                size_t k = 0;
                while (k < h->value_len && v[k] != ';' && v[k] != ',')
                    k++;
                if (k < h->value_len)
                    k++;
                while (k < h->value_len && (v[k] == ' ' || v[k] == '\t'))
                    k++;
                if (k + 4 <= h->value_len && strncasecmp(v + k, "url=", 4) == 0)
                    k += 4;
                off = k;
            }
            size_t nl = 0;
            const char *nv =
                rewrite_location(&r, cfg->urls, h->value + off, h->value_len - off, &nl);
            if (nv) {
                char *full = own(&r, off + nl + 1);
                memcpy(full, h->value, off);
                memcpy(full + off, nv, nl);
                full[off + nl] = 0;
                add(&r, &cap, h->name, h->name_len, full, off + nl);
                continue;
            }
        }
        add(&r, &cap, h->name, h->name_len, h->value, h->value_len);
    }
    if (r.body == RND_BODY_REWRITE_HTML) {
        static const char *const names[] = {"identity", "gzip", "deflate", "br", ""};
        if (r.out_coding != RND_CODING_IDENTITY)
            add_s(&r, &cap, "Content-Encoding", names[r.out_coding]);
        add_s(&r, &cap, "Vary", "Accept-Encoding");
    }
    if (r.body == RND_BODY_BLOCK)
        add_s(&r, &cap, "Content-Type", "text/html; charset=utf-8");
    add_s(&r, &cap, "Cache-Control", "no-store");
    add_s(&r, &cap, "Content-Security-Policy", build_csp(&r, cfg->urls));
    add_s(&r, &cap, "Referrer-Policy", "same-origin");
    add_s(&r, &cap, "X-Content-Type-Options", "nosniff");
    if (cfg->sign_out)
        add_s(&r, &cap, "Clear-Site-Data", "\"cache\", \"cookies\", \"storage\"");
    *out = r;
    return 0;
fail:
    free(r.headers);
    free(r.set_cookies);
    for (size_t i = 0; i < r.nowned; i++)
        free(r.owned[i]);
    free(r.owned);
    return -1;
}

void rnd_hp_result_dispose(struct rnd_hp_result *r)
{
    free(r->headers);
    free(r->set_cookies);
    for (size_t i = 0; i < r->nowned; i++)
        free(r->owned[i]);
    free(r->owned);
    memset(r, 0, sizeof *r);
}
