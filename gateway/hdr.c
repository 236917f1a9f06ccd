/* hdr.c - header handling of the proxy, with no I/O (unit-tested and fuzzed alone): finding the
 * gateway's session credential, building the request head toward the origin (hop-by-hop
 * headers and the gateway's own credentials removed, forwarding headers set, framing chosen), and
 * filtering the origin's response headers. */
#include "gw_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool name_is(const char *n, size_t l, const char *lit)
{
    return strlen(lit) == l && strncasecmp(n, lit, l) == 0;
}

bool gw_hdr_find_token(const struct gw_hdrs *h, struct gw_token *out)
{
    static const char ck[] = GW_SESSION_COOKIE "=";
    const size_t cl = sizeof ck - 1;
    struct gw_token bearer = {0};
    for (size_t i = 0; i < h->n; i++) {
        const struct gw_hdr *e = &h->v[i];
        if (name_is(e->name, e->nlen, "cookie")) {
            const char *p = e->value, *end = e->value + e->vlen;
            while (p < end) {
                while (p < end && (*p == ' ' || *p == ';'))
                    p++;
                const char *s = memchr(p, ';', (size_t)(end - p));
                if (!s)
                    s = end;
                if ((size_t)(s - p) > cl && memcmp(p, ck, cl) == 0) {
                    out->base = p + cl;
                    out->len = (size_t)(s - p) - cl;
                    out->from_cookie = true;
                    return true;
                }
                p = s;
            }
        } else if (name_is(e->name, e->nlen, "authorization") && e->vlen > 7 &&
                   strncasecmp(e->value, "Bearer ", 7) == 0 && !bearer.base) {
            bearer.base = e->value + 7;
            bearer.len = e->vlen - 7;
        }
    }
    if (!bearer.base)
        return false;
    *out = bearer;
    return true;
}

bool gw_hdr_is_hop_by_hop(const char *n, size_t l)
{
    static const char *const names[] = {
        "connection", "keep-alive", "proxy-connection", "transfer-encoding",
        "te",         "trailer",    "upgrade",          "proxy-authenticate"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (name_is(n, l, names[i]))
            return true;
    return false;
}

static bool skip_request_header(const struct gw_hdr *h)
{
    static const char *const names[] = {
        "connection", "keep-alive",      "proxy-connection",    "transfer-encoding", "te",
        "trailer",    "upgrade",         "proxy-authorization", "content-length",    "expect",
        "host",       "x-forwarded-for", "x-forwarded-proto",   "x-forwarded-host",  "forwarded"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (name_is(h->name, h->nlen, names[i]))
            return true;
    if (name_is(h->name, h->nlen, "authorization") && h->vlen >= 7 &&
        strncasecmp(h->value, "Bearer ", 7) == 0)
        return true; /* the gateway's own credential */
    return false;
}

/* No byte that could end a line or a field early. */
static bool clean(const char *s, size_t n, bool allow_space)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 ? ch != '\t' || !allow_space : ch == 0x7f)
            return false;
        if (ch == ' ' && !allow_space)
            return false;
    }
    return true;
}

static bool token_name(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", ch))
            return false;
    }
    return true;
}

struct hbuf {
    char *p;
    size_t len, cap;
};

static void hb_add(struct hbuf *b, const char *s, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 2048;
        while (cap < b->len + n)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np)
            abort();
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void hb_str(struct hbuf *b, const char *s)
{
    hb_add(b, s, strlen(s));
}

/* Cookie header without the gateway's session cookie (nothing when no other cookie is left). */
static void add_cookie_header(struct hbuf *b, const struct gw_hdr *h)
{
    static const char ck[] = GW_SESSION_COOKIE "=";
    const char *p = h->value, *end = h->value + h->vlen;
    bool any = false;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ';'))
            p++;
        if (p >= end)
            break;
        const char *e = memchr(p, ';', (size_t)(end - p));
        if (!e)
            e = end;
        if (e > p && !((size_t)(e - p) >= sizeof ck - 1 && memcmp(p, ck, sizeof ck - 1) == 0)) {
            hb_str(b, any ? "; " : "Cookie: ");
            hb_add(b, p, (size_t)(e - p));
            any = true;
        }
        p = e;
    }
    if (any)
        hb_str(b, "\r\n");
}

char *gw_hdr_origin_request(const struct gw_head_in *in, size_t *len, bool *chunked)
{
    if (!token_name(in->method, in->method_len) || in->target_len == 0 ||
        !clean(in->target, in->target_len, false) || in->authority_len == 0 ||
        !clean(in->authority, in->authority_len, false) ||
        !clean(in->peer, strlen(in->peer), false))
        return NULL;
    struct hbuf b = {0};
    hb_add(&b, in->method, in->method_len);
    hb_str(&b, " ");
    hb_add(&b, in->target, in->target_len);
    hb_str(&b, " HTTP/1.1\r\nHost: ");
    hb_add(&b, in->authority, in->authority_len);
    hb_str(&b, "\r\n");
    const struct gw_hdr *conn_h = NULL;
    for (size_t i = 0; i < in->hdrs->n; i++)
        if (name_is(in->hdrs->v[i].name, in->hdrs->v[i].nlen, "connection"))
            conn_h = &in->hdrs->v[i];
    for (size_t i = 0; i < in->hdrs->n; i++) {
        const struct gw_hdr *h = &in->hdrs->v[i];
        if (!token_name(h->name, h->nlen) || !clean(h->value, h->vlen, true)) {
            free(b.p);
            return NULL;
        }
        if (skip_request_header(h))
            continue;
        if (in->ws_key && name_is(h->name, h->nlen, "sec-websocket-key"))
            continue; /* h2: the gateway's own key goes to the origin */
        if (conn_h && memmem(conn_h->value, conn_h->vlen, h->name, h->nlen))
            continue; /* named in Connection: hop-by-hop */
        if (name_is(h->name, h->nlen, "cookie")) {
            add_cookie_header(&b, h);
            continue;
        }
        hb_add(&b, h->name, h->nlen);
        hb_str(&b, ": ");
        hb_add(&b, h->value, h->vlen);
        hb_str(&b, "\r\n");
    }
    bool v6 = strchr(in->peer, ':') != NULL;
    char line[300];
    int n = snprintf(line, sizeof line,
                     "X-Forwarded-For: %s\r\nX-Forwarded-Proto: https\r\n"
                     "Forwarded: for=%s%s%s;proto=https\r\n",
                     in->peer, v6 ? "\"[" : "", in->peer, v6 ? "]\"" : "");
    hb_add(&b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    *chunked = false;
    if (in->has_body) {
        if (in->content_length >= 0) {
            n = snprintf(line, sizeof line, "Content-Length: %lld\r\n",
                         (long long)in->content_length);
            hb_add(&b, line, (size_t)n);
        } else {
            *chunked = true;
            hb_str(&b, "Transfer-Encoding: chunked\r\n");
        }
    }
    if (in->websocket) {
        if (in->ws_key) {
            hb_str(&b, "Sec-WebSocket-Key: ");
            hb_str(&b, in->ws_key);
            hb_str(&b, "\r\n");
        }
        hb_str(&b, "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    } else {
        hb_str(&b, "Connection: keep-alive\r\n\r\n");
    }
    *len = b.len;
    return b.p;
}

void gw_hdr_origin_response(struct gw_arena *a, const struct wl_http1_message *msg,
                            struct gw_hdrs *h)
{
    const struct wl_http1_header *conn_h = wl_http1_find_header(msg, "connection");
    for (size_t i = 0; i < msg->nheaders; i++) {
        const struct wl_http1_header *e = &msg->headers[i];
        if (gw_hdr_is_hop_by_hop(e->name.base, e->name.len))
            continue;
        if (conn_h && e->name.len > 0 &&
            memmem(conn_h->value.base, conn_h->value.len, e->name.base, e->name.len))
            continue; /* named in Connection: hop-by-hop too */
        gw_hdrs_add(a, h, e->name.base, e->name.len, e->value.base, e->value.len);
    }
}
