/* req.c - one device request, whatever the protocol: the access checks (domain, session), the
 * gateway's own pages, and the response path origin -> render hook -> h1/h2 framing.
 * Worker thread only. Request-scoped strings live in the request's arena, freed in one go. */
#include "gw_internal.h"

#include "audit.h"

#include "identity.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---------------- arena ---------------- */

void *gw_arena_alloc(struct gw_arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    struct gw_arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 3072 ? n : 3072;
        b = malloc(sizeof *b + cap);
        if (!b)
            abort();
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

char *gw_arena_strndup(struct gw_arena *a, const char *s, size_t n)
{
    char *p = gw_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void gw_arena_dispose(struct gw_arena *a)
{
    while (a->head) {
        struct gw_arena_block *b = a->head;
        a->head = b->next;
        free(b);
    }
}

void gw_hdrs_add(struct gw_arena *a, struct gw_hdrs *h, const char *name, size_t nlen,
                 const char *value, size_t vlen)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        struct gw_hdr *v = gw_arena_alloc(a, cap * sizeof *v);
        if (h->n)
            memcpy(v, h->v, h->n * sizeof *v);
        h->v = v;
        h->cap = cap;
    }
    struct gw_hdr *e = &h->v[h->n++];
    e->name = gw_arena_strndup(a, name, nlen);
    e->nlen = nlen;
    e->value = gw_arena_strndup(a, value, vlen);
    e->vlen = vlen;
}

/* ---------------- lifecycle ---------------- */

struct gw_req *gw_req_new(struct gw_conn *c, int32_t stream_id)
{
    struct gw_req *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->conn = c;
    r->stream_id = stream_id;
    r->id = ++c->w->next_id;
    r->content_length = -1;
    r->start_us = uv_hrtime() / 1000;
    r->scheme = "https";
    return r;
}

void gw_req_free(struct gw_req *r)
{
    if (!r)
        return;
    gw_session_cancel(r);
    gw_ident_cancel(r);
    gw_render_dispose(r);
    gw_ws_dispose(r);
    gw_live_remove(r);
    if (r->ws_slot)
        gw_ws_limit_release(r->conn->w->srv, r->sid);
    if (r->up) {
        gw_up_detach(r->up);
        r->up = NULL;
    }
    gw_bufq_dispose(&r->in);
    gw_bufq_dispose(&r->out);
    gw_arena_dispose(&r->arena);
    free(r);
}

const double gw_lat_bounds[GW_LAT_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                              0.1,   0.25,   0.5,   1,    2.5,   10};

static size_t json_esc(char *out, size_t cap, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n && o + 7 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            memcpy(out + o, "\\u00", 4);
            o += 4;
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
    return o;
}

void gw_req_log(struct gw_req *r)
{
    struct gw_worker *w = r->conn->w;
    uint64_t us = uv_hrtime() / 1000 - r->start_us;
    int st = r->status > 0 && r->status < 600 ? r->status : 0;
    GW_INC(w->m.requests);
    GW_INC(w->m.status[st]);
    GW_ADD(w->m.lat_sum_us, us);
    int b = 0;
    while (b < GW_LAT_BUCKETS && (double)us / 1e6 > gw_lat_bounds[b])
        b++;
    GW_INC(w->m.lat_bucket[b]);
    GW_ADD(w->m.bytes_out, r->bytes_out);
    gw_audit_req(r); /* issue 6: one audit event per device request */
    if (!w->srv->opt->access_log)
        return;
    char path[1024], auth[600], meth[64];
    size_t plen = r->target_len;
    const char *q = r->target ? memchr(r->target, '?', r->target_len) : NULL;
    if (q)
        plen = (size_t)(q - r->target); /* queries may carry login tickets: never logged */
    json_esc(path, sizeof path, r->target ? r->target : "", r->target ? plen : 0);
    json_esc(auth, sizeof auth, r->authority ? r->authority : "", r->authority_len);
    json_esc(meth, sizeof meth, r->method ? r->method : "", r->method_len);
    char line[2400];
    int n =
        snprintf(line, sizeof line,
                 "{\"ts\":%lld,\"type\":\"access\",\"worker\":%d,\"conn\":%llu,\"req\":%llu,"
                 "\"proto\":\"%s\",\"client\":\"%s\",\"method\":\"%s\",\"authority\":\"%s\","
                 "\"path\":\"%s\",\"status\":%d,\"bytes_in\":%llu,\"bytes_out\":%llu,"
                 "\"us\":%llu}\n",
                 (long long)gw_wall_ms(), w->id, (unsigned long long)r->conn->id,
                 (unsigned long long)r->id, r->conn->proto == GW_PROTO_H2 ? "h2" : "http/1.1",
                 r->conn->sock.peer, meth, auth, path, r->status, (unsigned long long)r->bytes_in,
                 (unsigned long long)r->bytes_out, (unsigned long long)us);
    if (n > 0) {
        ssize_t wr = write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        (void)wr;
    }
}

/* ---------------- response emission ---------------- */

static bool no_body_status(int status)
{
    return (status >= 100 && status < 200) || status == 204 || status == 304;
}

static const struct gw_hdr *find_hdr(const struct gw_hdrs *h, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i].nlen == nl && strncasecmp(h->v[i].name, name, nl) == 0)
            return &h->v[i];
    return NULL;
}

/* Status line and headers toward the device. Takes the framing decision for HTTP/1.1. */
static void emit_head(struct gw_req *r, int status, struct gw_hdrs *h)
{
    r->status = status;
    r->resp_started = true;
    if (r->conn->proto == GW_PROTO_H2) {
        gw_h2_resp_head(r, status, h);
        return;
    }
    size_t cap = 256;
    for (size_t i = 0; i < h->n; i++)
        cap += h->v[i].nlen + h->v[i].vlen + 4;
    char *buf = gw_arena_alloc(&r->arena, cap);
    size_t o = (size_t)snprintf(buf, cap, "HTTP/1.1 %d %s\r\n", status, wl_http_reason(status));
    for (size_t i = 0; i < h->n; i++) {
        memcpy(buf + o, h->v[i].name, h->v[i].nlen);
        o += h->v[i].nlen;
        buf[o++] = ':';
        buf[o++] = ' ';
        memcpy(buf + o, h->v[i].value, h->v[i].vlen);
        o += h->v[i].vlen;
        buf[o++] = '\r';
        buf[o++] = '\n';
    }
    bool bodyless = r->is_head || no_body_status(status);
    if (!bodyless && !find_hdr(h, "content-length")) {
        r->resp_chunked = true;
        memcpy(buf + o, "Transfer-Encoding: chunked\r\n", 28);
        o += 28;
    }
    if (r->conn->draining || r->conn->w->draining)
        r->close_after = true;
    const char *ka = r->close_after ? "Connection: close\r\n\r\n" : "\r\n";
    size_t kl = strlen(ka);
    memcpy(buf + o, ka, kl);
    o += kl;
    gw_h1_resp_head(r, status, buf, o);
}

void gw_req_emit_body(struct gw_req *r, const char *data, size_t len)
{
    if (len == 0 || r->resp_done)
        return;
    r->bytes_out += len;
    if (r->conn->proto == GW_PROTO_H2) {
        gw_bufq_push(&r->out, data, len);
        gw_h2_resp_body_ready(r);
        return;
    }
    if (r->is_head)
        return;
    gw_h1_resp_body(r, data, len);
}

void gw_req_emit_end(struct gw_req *r)
{
    if (r->resp_done)
        return;
    if (r->conn->proto == GW_PROTO_H2) {
        r->out_eof = true;
        gw_h2_resp_body_ready(r);
        return;
    }
    gw_h1_resp_end(r);
}

void gw_req_abort(struct gw_req *r)
{
    struct gw_conn *c = r->conn;
    if (c->proto == GW_PROTO_H2) {
        if (r->up) {
            gw_up_detach(r->up);
            r->up = NULL;
        }
        nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, r->stream_id, NGHTTP2_INTERNAL_ERROR);
        gw_h2_flush(c);
        return;
    }
    gw_conn_close(c);
}

void gw_req_cut(struct gw_req *r, const char *why)
{
    struct gw_conn *c = r->conn;
    if (r->cut_reason)
        return;
    r->cut_reason = why;
    GW_INC(c->w->m.live_cuts);
    WL_DEBUG(c->idstr, "access ended (%s): live channel cut", why); /* live.c logs the sum */
    if (r->ws) {
        gw_ws_close(r, 1008, why); /* close frame 1008 at a frame boundary, or at once */
        return;
    }
    if (r->up) {
        gw_up_detach(r->up); /* not one more byte from the origin */
        r->up = NULL;
    }
    if (c->proto == GW_PROTO_H2) {
        gw_bufq_dispose(&r->out);
        r->out_eof = false;
        nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, r->stream_id, NGHTTP2_CANCEL);
        gw_h2_flush(c);
        return;
    }
    gw_conn_close(c); /* frees r */
    gw_sock_abort(&c->sock);
}

void gw_req_respond(struct gw_req *r, int status, const char *extra_headers, const char *body,
                    size_t body_len)
{
    if (r->resp_started)
        return;
    if (r->up) {
        gw_up_detach(r->up);
        r->up = NULL;
    }
    if (r->has_body && !r->body_done)
        r->close_after = true; /* h1: the rest of the body cannot be read reliably */
    struct gw_hdrs h = {0};
    gw_hdrs_add(&r->arena, &h, "Content-Type", 12, "text/html; charset=utf-8", 24);
    gw_hdrs_add(&r->arena, &h, "Cache-Control", 13, "no-store", 8);
    char cl[24];
    int n = snprintf(cl, sizeof cl, "%zu", body_len);
    gw_hdrs_add(&r->arena, &h, "Content-Length", 14, cl, (size_t)n);
    for (const char *p = extra_headers; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        const char *colon = memchr(p, ':', eol ? (size_t)(eol - p) : strlen(p));
        if (!eol || !colon)
            break;
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        gw_hdrs_add(&r->arena, &h, p, (size_t)(colon - p), v, (size_t)(eol - v));
        p = eol + 2;
    }
    emit_head(r, status, &h);
    if (r->conn->proto == GW_PROTO_H2 && (r->is_head || body_len == 0)) {
        r->out_eof = true;
        gw_h2_resp_body_ready(r);
        return;
    }
    gw_req_emit_body(r, body, body_len);
    gw_req_emit_end(r);
}

static size_t html_esc(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < cap; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '&':
            rep = "&amp;";
            break;
        case '"':
            rep = "&quot;";
            break;
        default:
            break;
        }
        if (rep) {
            size_t l = strlen(rep);
            memcpy(out + o, rep, l);
            o += l;
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
    return o;
}

static void page(struct gw_req *r, int status, const char *extra, const char *title,
                 const char *text)
{
    char t[256], x[1024], body[2048];
    html_esc(t, sizeof t, title);
    html_esc(x, sizeof x, text);
    int n = snprintf(body, sizeof body,
                     "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width\">"
                     "<title>%s</title></head>\n<body><h1>%s</h1>\n<p>%s</p>\n"
                     "<p><small>WorkLink gateway &middot; %d %s</small></p></body></html>\n",
                     t, t, x, status, wl_http_reason(status));
    gw_req_respond(r, status, extra, body, (size_t)n);
}

void gw_req_error_page(struct gw_req *r, int status, const char *title, const char *text)
{
    page(r, status, NULL, title, text);
}

/* Origin response: hop-by-hop headers removed, then the render hook, then the device. */
void gw_req_resp_head(struct gw_req *r, int status, struct gw_hdrs *h)
{
    r->resp_unbounded = !find_hdr(h, "content-length");
    gw_render_headers(r, &status, h);
    emit_head(r, status, h);
    if (r->conn->proto == GW_PROTO_H2 && (r->is_head || no_body_status(status)))
        r->out_eof = true;
}

void gw_req_resp_body(struct gw_req *r, const char *data, size_t len)
{
    gw_render_body(r, data, len);
}

void gw_req_resp_end(struct gw_req *r)
{
    gw_render_end(r);
}

bool gw_req_congested(struct gw_req *r)
{
    if (r->conn->sock.wq >= GW_HWM)
        return true;
    return r->conn->proto == GW_PROTO_H2 && r->out.len >= GW_HWM;
}

void gw_req_resume_origin(struct gw_req *r)
{
    if (r->up_paused && r->up) {
        r->up_paused = false;
        gw_up_pause(r->up, false);
    }
}

/* ---------------- request body ---------------- */

static void body_backpressure(struct gw_req *r)
{
    size_t queued = r->in.len + (r->up ? gw_up_wq(r->up) : 0);
    /* a tunnel keeps backpressure for its whole life; a request body only until the answer */
    bool answered = r->resp_started && !r->ws_req;
    if (r->conn->proto == GW_PROTO_H2) {
        if (queued < GW_HWM || answered)
            gw_h2_consume(r);
        return;
    }
    gw_h1_pause_body(r->conn, queued >= GW_HWM && !answered);
}

void gw_req_body(struct gw_req *r, const char *data, size_t len)
{
    r->bytes_in += len;
    if (r->ws) {
        if (gw_ws_device_data(r, data, len) == 0)
            body_backpressure(r);
        return;
    }
    if (r->ident) {
        gw_ident_body(r, data, len); /* sign-in POST: bounded, consumed here */
        body_backpressure(r);
        return;
    }
    if (r->resp_started && !r->up) {
        body_backpressure(r); /* answered already: discard */
        return;
    }
    gw_bufq_push(&r->in, data, len);
    if (r->up)
        gw_up_body_ready(r->up);
    body_backpressure(r);
}

void gw_req_body_end(struct gw_req *r)
{
    r->body_done = true;
    if (r->ident)
        gw_ident_body_end(r);
    else if (r->up)
        gw_up_body_ready(r->up);
}

void gw_req_body_drained(struct gw_req *r)
{
    body_backpressure(r);
}

/* ---------------- checks ---------------- */

void gw_url_encode(char *out, size_t cap, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == '/') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = '\0';
}

void gw_req_sign_in_required(struct gw_req *r)
{
    if (r->wants_html && r->method_len == 3 && memcmp(r->method, "GET", 3) == 0) {
        char ret[3000], hdr[3200];
        gw_url_encode(ret, sizeof ret, r->target, r->target_len < 900 ? r->target_len : 900);
        snprintf(hdr, sizeof hdr, "Location: %s?return=%s\r\n%s", GW_LOGIN_PATH, ret,
                 r->token_from_cookie ? GW_SESSION_ENDED_HEADERS : "");
        page(r, 302, hdr, "Sign-in required", "Sign in to continue to this site.");
        return;
    }
    page(r, 401,
         r->token_from_cookie
             ? "WWW-Authenticate: Bearer realm=\"worklink\"\r\n" GW_SESSION_ENDED_HEADERS
             : "WWW-Authenticate: Bearer realm=\"worklink\"\r\n",
         "Sign-in required", "This request needs a valid WorkLink session.");
}

static void deny(struct gw_req *r)
{
    if (gw_ident_no_session(r))
        return; /* website authorization provider domain lookup: fetches or denies */
    gw_req_sign_in_required(r);
}

static void on_session(struct gw_req *r, int result)
{
    if (result < 0) {
        page(r, 503, "Retry-After: 2\r\n", "Service unavailable",
             "The sign-in service cannot be reached right now. Try again in a moment.");
        return;
    }
    if (result == 0) {
        deny(r);
        return;
    }
    int ended = gw_live_add(r); /* access ended while the session was being checked */
    if (ended == 1 + GW_CUT_DOMAIN || ended == 1 + GW_CUT_ALL) {
        gw_req_error_page(r, 403, "Access revoked",
                          "Access to this site has been revoked by your administrator.");
        return;
    }
    if (ended) {
        deny(r);
        return;
    }
    if (r->ws_req) {
        if (gw_ws_limit_acquire(r->conn->w->srv, r->sid) < 0) {
            page(r, 429, "Retry-After: 5\r\n", "Too many connections",
                 "Too many live connections (WebSockets) are open for this session or gateway.");
            return;
        }
        r->ws_slot = true;
    }
    r->authorized = true;
    if (r->expect_continue && r->conn->proto == GW_PROTO_H1 && !r->body_done)
        gw_h1_resp_head(r, 100, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    gw_render_request(r); /* cookie jar, then gw_ident_fetch: identity JWT, gw_up_fetch */
}

/* Finds the session token: our cookie, or Authorization: Bearer. */
static void find_token(struct gw_req *r)
{
    struct gw_token t;
    if (!gw_hdr_find_token(&r->hdrs, &t))
        return;
    r->token = t.base;
    r->token_len = t.len;
    r->token_from_cookie = t.from_cookie;
}

static void gateway_path(struct gw_req *r)
{
    size_t ll = strlen(GW_LOGIN_PATH);
    if (r->target_len >= ll && memcmp(r->target, GW_LOGIN_PATH, ll) == 0 &&
        (r->target_len == ll || r->target[ll] == '?')) {
        page(r, 200, NULL, "Sign-in required",
             "Sign in with your company account to reach this site. (Single sign-on is being "
             "set up for this fleet.)");
        return;
    }
    gw_req_error_page(r, 404, "Not found", "There is no such gateway page.");
}

void gw_req_start(struct gw_req *r)
{
    struct gw_conn *c = r->conn;
    struct gw_worker *w = c->w;
    if (!r->method || !r->target || r->target_len == 0) {
        r->close_after = true;
        gw_req_error_page(r, 400, "Bad request", "The request is malformed.");
        return;
    }
    r->is_head = r->method_len == 4 && memcmp(r->method, "HEAD", 4) == 0;
    r->cut_seq = gw_live_seq(w);
    if (r->method_len == 7 && memcmp(r->method, "CONNECT", 7) == 0) {
        if (!r->ws_req || c->proto != GW_PROTO_H2) {
            r->close_after = true;
            gw_req_error_page(r, 405, "Method not allowed",
                              "Only WebSocket tunnels (extended CONNECT) are relayed.");
            return;
        }
        gw_ws_h2_prepare(r); /* GET with Upgrade toward the origin */
    }
    const struct gw_hdr *acc = find_hdr(&r->hdrs, "accept");
    r->wants_html = acc && memmem(acc->value, acc->vlen, "text/html", 9) != NULL;
    if (!r->authority || r->authority_len == 0) {
        r->close_after = true;
        gw_req_error_page(r, 400, "Bad request", "The request names no site.");
        return;
    }
    if (gw_server_stale(w->srv)) {
        page(r, 503, "Retry-After: 5\r\n", "Service unavailable",
             "The gateway cannot reach its configuration store. Try again in a moment.");
        return;
    }
    /* host part of the authority (no port, no IPv6 brackets handling needed: names only) */
    size_t hl = r->authority_len;
    const char *colon = memchr(r->authority, ':', hl);
    if (colon)
        hl = (size_t)(colon - r->authority);
    if (c->has_sni && (hl != strlen(c->sni) || strncasecmp(r->authority, c->sni, hl) != 0)) {
        gw_req_error_page(r, 421, "Misdirected request",
                          "This connection cannot serve that site. Reconnect and try again.");
        return;
    }
    const struct gw_domain *d = gw_snapshot_find(w->snap, r->authority, hl);
    if (!d || d->status == GW_DOM_OTHER) {
        gw_req_error_page(r, 404, "Site not available",
                          "This site is not available through WorkLink.");
        return;
    }
    if (d->status == GW_DOM_INACTIVE) {
        gw_req_error_page(r, 403, "Access revoked",
                          "Access to this site has been revoked by your administrator.");
        return;
    }
    if (gw_ident_route(r, d))
        return; /* sign-in: login, ACS, ticket */
    if (r->target_len >= 5 && memcmp(r->target, "/_wl/", 5) == 0) {
        gateway_path(r);
        return;
    }
    find_token(r);
    if (!r->token || r->token_len == 0 || r->token_len > 512) {
        deny(r);
        return;
    }
    gw_session_check(r, on_session);
}
