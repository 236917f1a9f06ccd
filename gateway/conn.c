/* conn.c - device connections: accept, TLS handshake, ALPN dispatch, and the HTTP/1.1 server
 * (keep-alive, pipelining, chunked and Content-Length bodies, strict parsing by common/http1.h).
 * Worker thread only. A connection is freed when its socket and timer handles are both closed. */
#include "gw_internal.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void h1_process(struct gw_conn *c);

static void conn_handle_closed(struct gw_conn *c)
{
    if (--c->handles > 0)
        return;
    GW_SUB(c->w->m.active_conns, 1);
    free(c->inbuf);
    free(c);
}

static void sock_closed(struct gw_sock *s)
{
    conn_handle_closed((struct gw_conn *)s);
}

static void timer_closed(uv_handle_t *h)
{
    conn_handle_closed(h->data);
}

void gw_conn_close(struct gw_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    gw_list_remove(&c->link);
    gw_list_remove(&c->flink);
    if (c->req) {
        struct gw_req *r = c->req;
        c->req = NULL;
        if (r->ws)
            gw_req_log(r); /* a WebSocket ends with its connection: audit the close */
        gw_req_free(r);
    }
    if (c->proto == GW_PROTO_H2)
        gw_h2_dispose(c);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, timer_closed);
    gw_sock_close(&c->sock);
    /* a peer that never reads must not keep a closing connection: abort after a bound */
}

#define GW_IDLE_TRIM_MS 100 /* a keep-alive connection idle this long gives back its buffers */

static void arm_timer(struct gw_conn *c, int64_t ms);

static void timer_cb(uv_timer_t *t)
{
    struct gw_conn *c = t->data;
    if (c->idle_trim) { /* first the trim of an idle connection, then its keep-alive timeout */
        c->idle_trim = false;
        if (!c->req && c->inlen == 0) {
            free(c->inbuf);
            c->inbuf = NULL;
            c->incap = 0;
            gw_sock_trim(&c->sock);
        }
        arm_timer(c, c->w->srv->opt->keepalive_timeout_ms - GW_IDLE_TRIM_MS);
        return;
    }
    if (c->proto == GW_PROTO_H2 && !gw_list_empty(&c->streams) && !c->draining) {
        /* live streams (SSE, WebSockets, long polls) have their own limits on the origin side */
        arm_timer(c, c->w->srv->opt->idle_timeout_ms);
        return;
    }
    WL_DEBUG(c->idstr, "connection timed out");
    if (c->proto == GW_PROTO_H1 && c->req && !c->req->resp_started && !c->in_body) {
        gw_req_error_page(c->req, 408, "Request timeout", "The request took too long.");
        gw_sock_abort(&c->sock);
    }
    gw_conn_close(c);
    gw_sock_abort(&c->sock);
}

static void arm_timer(struct gw_conn *c, int64_t ms)
{
    c->idle_trim = false;
    if (!c->closing)
        uv_timer_start(&c->timer, timer_cb, (uint64_t)(ms > 0 ? ms : 1), 0);
}

static void on_sock_error(struct gw_sock *s, int status)
{
    struct gw_conn *c = (struct gw_conn *)s;
    if (status != UV_EOF)
        WL_DEBUG(c->idstr, "connection error: %s", uv_strerror(status));
    if (!s->handshake_done)
        GW_INC(c->w->m.handshake_failures);
    gw_conn_close(c);
}

static void on_sock_drain(struct gw_sock *s, int status)
{
    (void)status;
    struct gw_conn *c = (struct gw_conn *)s;
    if (c->proto == GW_PROTO_H2) {
        gw_h2_flush(c);
        return;
    }
    if (c->req)
        gw_req_resume_origin(c->req);
}

/* ---------------- HTTP/1.1 ---------------- */

void gw_h1_pause_body(struct gw_conn *c, bool pause)
{
    if (pause)
        gw_sock_read_stop(&c->sock);
    else if (!c->closing)
        gw_sock_read_start(&c->sock);
}

void gw_h1_resp_head(struct gw_req *r, int status, const char *head, size_t len)
{
    (void)status;
    gw_sock_write(&r->conn->sock, head, len);
}

void gw_h1_resp_body(struct gw_req *r, const char *data, size_t len)
{
    struct gw_conn *c = r->conn;
    if (!r->resp_chunked) {
        gw_sock_write(&c->sock, data, len);
        return;
    }
    /* one TLS record per chunk: frame into the worker's scratch buffer when it fits */
    char *sb = c->w->sbuf;
    size_t room = sizeof c->w->sbuf - 32;
    while (len > 0) {
        size_t n = len < room ? len : room;
        int h = snprintf(sb, 20, "%zx\r\n", n);
        memcpy(sb + h, data, n);
        memcpy(sb + h + n, "\r\n", 2);
        gw_sock_write(&c->sock, sb, (size_t)h + n + 2);
        data += n;
        len -= n;
    }
}

void gw_h1_req_done(struct gw_req *r)
{
    struct gw_conn *c = r->conn;
    bool close = r->close_after || c->in_body || c->draining || c->w->draining;
    gw_req_log(r);
    c->req = NULL;
    gw_req_free(r);
    if (close) {
        gw_conn_close(c);
        return;
    }
    if (c->inlen == 0 && c->w->srv->opt->keepalive_timeout_ms > GW_IDLE_TRIM_MS) {
        arm_timer(c, GW_IDLE_TRIM_MS);
        c->idle_trim = true; /* timer_cb: trim, then the rest of the keep-alive timeout */
    } else if (c->inlen == 0) {
        arm_timer(c, c->w->srv->opt->keepalive_timeout_ms);
    } else {
        arm_timer(c, c->w->srv->opt->client_header_timeout_ms);
    }
    gw_sock_read_start(&c->sock);
    h1_process(c);
}

void gw_h1_resp_end(struct gw_req *r)
{
    if (r->resp_done)
        return;
    r->resp_done = true;
    if (r->resp_chunked && !r->is_head)
        gw_sock_write(&r->conn->sock, "0\r\n\r\n", 5);
    if (!r->body_done)
        r->close_after = true;
    gw_h1_req_done(r);
}

/* Body bytes of the current request; returns how many input bytes belonged to it. */
static size_t h1_body(struct gw_conn *c, char *data, size_t len)
{
    struct gw_req *r = c->req;
    size_t used, out;
    if (!c->body_chunked) {
        used = (uint64_t)c->body_left < len ? (size_t)c->body_left : len;
        c->body_left -= (int64_t)used;
        if (r)
            gw_req_body(r, data, used);
        if (c->body_left == 0) {
            c->in_body = false;
            if (r)
                gw_req_body_end(r);
        }
        return used;
    }
    int rc = wl_http1_chunked_decode(&c->chunked, data, len, &used, &out);
    if (rc < 0) {
        c->in_body = false;
        if (r && !r->resp_started) {
            r->close_after = true;
            gw_req_error_page(r, wl_http1_error_status(rc), "Bad request",
                              "The request body is malformed or too large.");
        } else {
            gw_conn_close(c);
        }
        return len;
    }
    if (r && out)
        gw_req_body(r, data, out);
    if (rc == 1) {
        c->in_body = false;
        if (r)
            gw_req_body_end(r);
    }
    return used;
}

static void h1_parse_error(struct gw_conn *c, int rc)
{
    struct gw_req *r = gw_req_new(c, 0);
    c->req = r;
    r->close_after = true;
    int st = wl_http1_error_status(rc);
    gw_req_error_page(r, st, wl_http_reason(st), "The request could not be understood.");
}

static void h1_process(struct gw_conn *c)
{
    struct gw_worker *w = c->w;
    while (!c->closing && !c->req && c->inlen > 0) {
        struct wl_http1_limits lim;
        wl_http1_limits_default(&lim);
        lim.max_header_bytes = GW_MAX_HEAD;
        lim.max_body_bytes = w->srv->opt->max_body;
        struct wl_http1_message *msg = (struct wl_http1_message *)w->sbuf;
        _Static_assert(sizeof(struct wl_http1_message) <= sizeof(w->sbuf), "sbuf too small");
        int rc = wl_http1_parse_request(c->inbuf, c->inlen, &lim, msg);
        if (rc == WL_HTTP1_INCOMPLETE) {
            if (c->inlen > GW_MAX_HEAD)
                h1_parse_error(c, WL_HTTP1_E_HEADER_TOO_LARGE);
            return;
        }
        if (rc < 0) {
            h1_parse_error(c, rc);
            return;
        }
        uv_timer_stop(&c->timer);
        struct gw_req *r = gw_req_new(c, 0);
        c->req = r;
        r->method = gw_arena_strndup(&r->arena, msg->method.base, msg->method.len);
        r->method_len = msg->method.len;
        struct wl_slice t = msg->target;
        if (t.len > 8 &&
            (memcmp(t.base, "https://", 8) == 0 || memcmp(t.base, "http://", 7) == 0)) {
            const char *p = memchr(t.base + 8, '/', t.len - 8);
            t.len = p ? t.len - (size_t)(p - t.base) : 1;
            t.base = p ? p : "/";
        }
        r->target = gw_arena_strndup(&r->arena, t.base, t.len);
        r->target_len = t.len;
        if (msg->host.len) {
            r->authority = gw_arena_strndup(&r->arena, msg->host.base, msg->host.len);
            r->authority_len = msg->host.len;
        }
        for (size_t i = 0; i < msg->nheaders; i++)
            gw_hdrs_add(&r->arena, &r->hdrs, msg->headers[i].name.base, msg->headers[i].name.len,
                        msg->headers[i].value.base, msg->headers[i].value.len);
        r->content_length = msg->content_length;
        r->has_body = msg->chunked || msg->content_length > 0;
        r->body_done = !r->has_body;
        r->close_after = !msg->keep_alive;
        r->expect_continue = msg->expect_continue;
        if (msg->upgrade && !r->has_body && r->method_len == 3 &&
            memcmp(r->method, "GET", 3) == 0) {
            for (size_t i = 0; i < r->hdrs.n; i++) {
                const struct gw_hdr *h = &r->hdrs.v[i];
                if (h->nlen == 7 && strncasecmp(h->name, "upgrade", 7) == 0 && h->vlen >= 9 &&
                    memmem(h->value, h->vlen, "ebsocket", 8))
                    r->ws_req = true; /* the connection ends with the tunnel or the answer */
            }
            r->close_after = r->close_after || r->ws_req;
        }
        r->head_bytes = (size_t)rc;
        c->in_body = r->has_body;
        c->body_chunked = msg->chunked;
        c->body_left = msg->chunked ? 0 : msg->content_length;
        if (msg->chunked)
            wl_http1_chunked_init(&c->chunked, w->srv->opt->max_body);
        /* bytes after the head */
        size_t rest = c->inlen - (size_t)rc;
        memmove(c->inbuf, c->inbuf + rc, rest);
        c->inlen = rest;
        if (c->in_body && c->inlen > 0) {
            size_t used = h1_body(c, c->inbuf, c->inlen);
            if (c->closing)
                return;
            memmove(c->inbuf, c->inbuf + used, c->inlen - used);
            c->inlen -= used;
        }
        if (c->req != r)
            return;      /* answered by the body check (error page) */
        gw_req_start(r); /* may finish r synchronously and loop for a pipelined request */
    }
}

static void h1_on_data(struct gw_sock *s, char *data, size_t len)
{
    struct gw_conn *c = (struct gw_conn *)s;
    if (c->req && c->req->ws) {
        gw_req_body(c->req, data, len); /* WebSocket tunnel */
        return;
    }
    if (!c->req && c->inlen == 0 && !c->in_body)
        arm_timer(c, c->w->srv->opt->client_header_timeout_ms); /* a new request begins */
    if (c->in_body) {
        size_t used = h1_body(c, data, len);
        data += used;
        len -= used;
        if (len == 0 || c->closing)
            return;
    }
    if (c->inlen + len > GW_MAX_HEAD + 65536) {
        if (c->req) {
            gw_sock_read_stop(&c->sock); /* pipelining beyond reason: wait */
            gw_conn_close(c);
            return;
        }
        h1_parse_error(c, WL_HTTP1_E_HEADER_TOO_LARGE);
        return;
    }
    if (c->inlen + len > c->incap) {
        size_t cap = c->incap ? c->incap : 4096;
        while (cap < c->inlen + len)
            cap *= 2;
        char *nb = realloc(c->inbuf, cap);
        if (!nb)
            abort();
        c->inbuf = nb;
        c->incap = cap;
    }
    memcpy(c->inbuf + c->inlen, data, len);
    c->inlen += len;
    if (c->req) {
        if (c->inlen > GW_MAX_HEAD)
            gw_sock_read_stop(&c->sock);
        return;
    }
    h1_process(c);
}

/* ---------------- accept and handshake ---------------- */

static void h2_on_data(struct gw_sock *s, char *data, size_t len)
{
    gw_h2_recv((struct gw_conn *)s, data, len);
}

static void on_handshake(struct gw_sock *s, int status)
{
    (void)status;
    struct gw_conn *c = (struct gw_conn *)s;
    GW_INC(c->w->m.handshakes);
    if (SSL_session_reused(s->ssl))
        GW_INC(c->w->m.resumed);
    const unsigned char *alpn = NULL;
    unsigned int alen = 0;
    SSL_get0_alpn_selected(s->ssl, &alpn, &alen);
    if (alen == 2 && memcmp(alpn, "h2", 2) == 0) {
        c->proto = GW_PROTO_H2;
        s->on_data = h2_on_data;
        if (gw_h2_init(c) < 0) {
            gw_conn_close(c);
            return;
        }
        arm_timer(c, c->w->srv->opt->idle_timeout_ms);
        return;
    }
    c->proto = GW_PROTO_H1;
    s->on_data = h1_on_data;
    arm_timer(c, c->w->srv->opt->client_header_timeout_ms);
}

static void hs_on_data(struct gw_sock *s, char *data, size_t len)
{
    (void)s;
    (void)data;
    (void)len;
}

void gw_conn_accept(struct gw_worker *w, uv_stream_t *server)
{
    struct gw_conn *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->w = w;
    gw_sock_init(w, &c->sock);
    c->handles = 2;
    uv_timer_init(&w->loop, &c->timer);
    c->timer.data = c;
    GW_INC(w->m.active_conns);
    if (uv_accept(server, (uv_stream_t *)&c->sock.tcp) != 0) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->timer, timer_closed);
        gw_sock_abort(&c->sock);
        c->sock.on_close = sock_closed;
        return;
    }
    GW_INC(w->m.accepts);
    c->id = ++w->next_id;
    snprintf(c->idstr, sizeof c->idstr, "c%d-%llu", w->id, (unsigned long long)c->id);
    c->sock.on_close = sock_closed;
    c->sock.on_error = on_sock_error;
    c->sock.on_drain = on_sock_drain;
    c->sock.on_handshake = on_handshake;
    c->sock.on_data = hs_on_data;
    gw_list_insert(&w->conns, &c->link);
    gw_list_init(&c->streams);
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (uv_tcp_getpeername(&c->sock.tcp, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)&ss, c->sock.peer, sizeof c->sock.peer);
        else
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->sock.peer, sizeof c->sock.peer);
    }
    uv_tcp_nodelay(&c->sock.tcp, 1);
    if ((int64_t)GW_GET(w->m.active_conns) > w->srv->opt->max_conns || w->draining) {
        gw_conn_close(c);
        gw_sock_abort(&c->sock);
        return;
    }
    SSL *ssl = SSL_new(w->srv->base_ctx);
    if (!ssl) {
        gw_conn_close(c);
        return;
    }
    SSL_set_app_data(ssl, c);
    gw_sock_set_tls(&c->sock, ssl, true);
    c->sock.proxy_pending = w->srv->opt->proxy_protocol;
    arm_timer(c, w->srv->opt->client_header_timeout_ms);
    gw_sock_read_start(&c->sock);
}

/* Draining: WebSockets and event streams never finish by themselves; they end now (close
 * 1001 going away / reset) so that clients reconnect through another gateway process. */
static void drain_live(struct gw_req *r)
{
    if (r->ws)
        gw_ws_close(r, 1001, "gateway restarting");
    else if (r->streaming && r->resp_started && !r->resp_done)
        gw_req_abort(r);
}

void gw_conn_drain(struct gw_conn *c)
{
    c->draining = true;
    if (c->proto == GW_PROTO_H2) {
        for (struct gw_list *l = c->streams.next; l != &c->streams; l = l->next)
            drain_live(GW_CONTAINER(l, struct gw_req, link)); /* h2: nothing is freed here */
        gw_h2_drain(c);
        return;
    }
    if (!c->req)
        gw_conn_close(c);
    else
        drain_live(c->req);
}
