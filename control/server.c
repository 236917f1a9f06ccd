/* server.c - HTTP/1.1 server of the admin API (see server.h). */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define READ_CHUNK 65536

enum conn_state { ST_HEAD, ST_BODY_CL, ST_BODY_CHUNKED, ST_STOPPED };

struct ctl_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    struct ctl_server *srv;
    struct ctl_conn *prev, *next;
    char id[24];
    char peer_ip[64];
    /* plaintext input not yet consumed */
    char *in;
    size_t in_len, in_cap;
    enum conn_state state;
    struct ctl_http_req *cur; /* request whose body is being read */
    uint64_t body_remaining;  /* ST_BODY_CL */
    struct wl_http1_chunked chunked;
    /* requests in order: queued (complete, waiting for or holding their response) */
    struct ctl_http_req *qhead, *qtail;
    size_t nqueued;
    size_t nhanded; /* handed to the handler, not yet answered */
    size_t pending_writes;
    SSL *ssl;
    BIO *rbio, *wbio; /* rbio: network -> SSL; wbio: SSL -> network */
    int open_handles;
    bool closing;        /* uv_close started or about to */
    bool reading;        /* uv_read_start active */
    bool close_on_flush; /* close once the queue is written */
    bool shutting_down;
    bool write_blocked;   /* reading paused: too many answers the peer has not taken */
    uint64_t last_active; /* uv_now of the last read */
    uint64_t req_start;   /* uv_now of the first byte of the request being read; 0 = none */
};

struct ctl_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    struct ctl_server_opts opts;
    ctl_http_handler handler;
    void *handler_arg;
    struct ctl_conn *conns;
    size_t nconns;
    size_t nalloc; /* connections not yet freed (closed ones may still be releasing) */
    uint64_t next_conn_id;
    bool draining;
    bool listener_closed;
    void (*drain_done)(void *);
    void *drain_arg;
};

struct write_req {
    uv_write_t req;
    struct ctl_conn *conn;
    char *data;
};

static void conn_close(struct ctl_conn *c);
static void conn_process(struct ctl_conn *c);
static void conn_flush(struct ctl_conn *c);
static void conn_read_start(struct ctl_conn *c);
static void server_maybe_done(struct ctl_server *srv);

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        WL_ERROR(NULL, "out of memory");
        abort();
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        WL_ERROR(NULL, "out of memory");
        abort();
    }
    return q;
}

/* ---- requests ---------------------------------------------------------------------------- */

static void req_free(struct ctl_http_req *r)
{
    if (!r)
        return;
    free(r->head);
    free(r->body);
    free(r->out);
    free(r);
}

static void conn_maybe_free(struct ctl_conn *c)
{
    if (c->open_handles > 0 || c->nhanded > 0 || c->pending_writes > 0)
        return;
    struct ctl_server *srv = c->srv;
    struct ctl_http_req *r = c->qhead;
    while (r) {
        struct ctl_http_req *n = r->next;
        req_free(r);
        r = n;
    }
    req_free(c->cur);
    if (c->ssl)
        SSL_free(c->ssl); /* frees both BIOs */
    free(c->in);
    free(c);
    srv->nalloc--;
    server_maybe_done(srv);
}

static void queue_push(struct ctl_conn *c, struct ctl_http_req *r)
{
    r->next = NULL;
    if (c->qtail)
        c->qtail->next = r;
    else
        c->qhead = r;
    c->qtail = r;
    c->nqueued++;
}

static const char *http_date(char buf[64])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 64, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return buf;
}

/* Serialises the response into r->out. Takes ownership of body. */
static void req_set_response(struct ctl_http_req *r, int status, const char *ctype,
                             const char *extra, char *body, size_t len, bool close)
{
    /* a HEAD answer carries the length of the body it would have, but no body */
    bool is_head = r->msg.method.len == 4 && memcmp(r->msg.method.base, "HEAD", 4) == 0;
    char date[64];
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: %s\r\n",
                     status, wl_http_reason(status), http_date(date),
                     ctype ? ctype : "application/json", len, close ? "close" : "keep-alive");
    size_t elen = extra ? strlen(extra) : 0;
    size_t total = (size_t)n + elen + 2 + (is_head ? 0 : len);
    r->out = xmalloc(total);
    memcpy(r->out, head, (size_t)n);
    if (elen)
        memcpy(r->out + n, extra, elen);
    memcpy(r->out + n + elen, "\r\n", 2);
    if (len && !is_head)
        memcpy(r->out + n + elen + 2, body, len);
    r->out_len = total;
    r->responded = true;
    r->close_after = close;
    free(body);
}

void ctl_http_respond(struct ctl_http_req *req, int status, const char *content_type,
                      const char *extra_headers, char *body, size_t len)
{
    struct ctl_conn *c = req->conn;
    c->nhanded--;
    if (c->closing || c->shutting_down) {
        /* the connection went away meanwhile: drop the answer */
        free(body);
        req->responded = true;
        conn_maybe_free(c);
        return;
    }
    bool close = !req->msg.keep_alive || c->srv->draining;
    req_set_response(req, status, content_type, extra_headers, body, len, close);
    conn_flush(c);
}

/* ---- writing ------------------------------------------------------------------------------- */

static void on_write(uv_write_t *wr, int status)
{
    struct write_req *w = (struct write_req *)wr;
    struct ctl_conn *c = w->conn;
    free(w->data);
    free(w);
    c->pending_writes--;
    if (status < 0 && !c->closing)
        conn_close(c);
    if (!c->closing && c->write_blocked &&
        uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) <= c->srv->opts.max_unsent / 2) {
        c->write_blocked = false;
        conn_process(c);
        if (!c->closing && !c->shutting_down && c->state != ST_STOPPED &&
            c->nqueued < c->srv->opts.max_pipeline)
            conn_read_start(c);
    }
    conn_maybe_free(c);
}

static void raw_write(struct ctl_conn *c, char *data, size_t len)
{
    struct write_req *w = xmalloc(sizeof *w);
    w->conn = c;
    w->data = data;
    uv_buf_t b = uv_buf_init(data, (unsigned)len);
    c->pending_writes++;
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc < 0) {
        c->pending_writes--;
        free(data);
        free(w);
        conn_close(c);
    }
}

/* Moves whatever TLS produced to the socket. */
static void tls_flush_wbio(struct ctl_conn *c)
{
    size_t pending;
    while ((pending = BIO_ctrl_pending(c->wbio)) > 0) {
        char *buf = xmalloc(pending);
        int n = BIO_read(c->wbio, buf, (int)pending);
        if (n <= 0) {
            free(buf);
            break;
        }
        raw_write(c, buf, (size_t)n);
        if (c->closing)
            break;
    }
}

static void conn_send(struct ctl_conn *c, char *data, size_t len)
{
    if (!c->ssl) {
        raw_write(c, data, len);
        return;
    }
    size_t off = 0;
    while (off < len) {
        int n = SSL_write(c->ssl, data + off, (int)(len - off));
        if (n <= 0) {
            free(data);
            conn_close(c);
            return;
        }
        off += (size_t)n;
    }
    free(data);
    tls_flush_wbio(c);
}

static void on_shutdown(uv_shutdown_t *sr, int status)
{
    struct ctl_conn *c = sr->data;
    (void)status;
    free(sr);
    c->pending_writes--;
    conn_close(c);
    conn_maybe_free(c);
}

/* Graceful close: TLS close_notify, then FIN after pending writes, then close. */
static void conn_shutdown(struct ctl_conn *c)
{
    if (c->closing || c->shutting_down)
        return;
    c->shutting_down = true;
    c->state = ST_STOPPED;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    if (c->ssl && SSL_is_init_finished(c->ssl)) {
        SSL_shutdown(c->ssl);
        tls_flush_wbio(c);
        if (c->closing)
            return;
    }
    uv_shutdown_t *sr = xmalloc(sizeof *sr);
    sr->data = c;
    c->pending_writes++;
    if (uv_shutdown(sr, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        c->pending_writes--;
        free(sr);
        conn_close(c);
    }
}

static void conn_idle_check(struct ctl_conn *c);

/* Writes every answered request at the head of the queue, in order. */
static void conn_flush(struct ctl_conn *c)
{
    while (c->qhead && c->qhead->responded && !c->closing && !c->shutting_down) {
        struct ctl_http_req *r = c->qhead;
        c->qhead = r->next;
        if (!c->qhead)
            c->qtail = NULL;
        c->nqueued--;
        char *out = r->out;
        size_t out_len = r->out_len;
        bool close = r->close_after;
        r->out = NULL;
        req_free(r);
        conn_send(c, out, out_len);
        if (close) {
            c->close_on_flush = true;
            break;
        }
    }
    if (c->closing || c->shutting_down)
        return;
    if (c->close_on_flush) {
        if (!c->qhead || c->state == ST_STOPPED)
            conn_shutdown(c);
        return;
    }
    /* room again in the pipeline: continue with buffered input and reading */
    if (c->state != ST_STOPPED && c->nqueued < c->srv->opts.max_pipeline) {
        conn_process(c);
        if (!c->closing && !c->reading && c->state != ST_STOPPED &&
            c->nqueued < c->srv->opts.max_pipeline)
            conn_idle_check(c);
    }
}

/* ---- reading and parsing ------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = xmalloc(READ_CHUNK);
    buf->len = READ_CHUNK;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void conn_read_start(struct ctl_conn *c)
{
    if (c->reading || c->closing || c->state == ST_STOPPED || c->write_blocked)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = true;
}

static void conn_read_stop(struct ctl_conn *c)
{
    if (!c->reading)
        return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

static void in_append(struct ctl_conn *c, const char *data, size_t len)
{
    if (c->in_len + len + 1 > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : 4096;
        while (cap < c->in_len + len + 1)
            cap *= 2;
        c->in = xrealloc(c->in, cap);
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, data, len);
    c->in_len += len;
}

static void in_consume(struct ctl_conn *c, size_t n)
{
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
}

/* Queues an error answer (parser error) and stops reading: the connection closes after it. */
static void conn_fail(struct ctl_conn *c, int status, const char *why)
{
    WL_INFO(c->id, "http error %d from %s: %s", status, c->peer_ip, why);
    struct ctl_http_req *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->conn = c;
    char body[256];
    int n = snprintf(body, sizeof body, "{\"message\":\"%s\"}", why);
    char *b = xmalloc((size_t)n);
    memcpy(b, body, (size_t)n);
    req_set_response(r, status, NULL, NULL, b, (size_t)n, true);
    req_free(c->cur);
    c->cur = NULL;
    c->state = ST_STOPPED;
    c->in_len = 0;
    conn_read_stop(c);
    queue_push(c, r);
    conn_flush(c);
}

static const char *parse_error_text(int rc)
{
    switch (rc) {
    case WL_HTTP1_E_HEADER_TOO_LARGE:
        return "request header fields too large";
    case WL_HTTP1_E_BAD_FRAMING:
        return "conflicting or duplicate message framing headers";
    case WL_HTTP1_E_UNSUPPORTED_TE:
        return "unsupported transfer-encoding";
    case WL_HTTP1_E_VERSION:
        return "HTTP version not supported";
    case WL_HTTP1_E_BODY_TOO_LARGE:
        return "request body too large";
    default:
        return "malformed request";
    }
}

/* The current request is complete: queue it and hand it to the handler. */
static void conn_dispatch(struct ctl_conn *c)
{
    struct ctl_http_req *r = c->cur;
    c->cur = NULL;
    c->state = ST_HEAD;
    if (!r->body) {
        r->body = xmalloc(1);
        r->body_len = 0;
    }
    r->body[r->body_len] = '\0';
    queue_push(c, r);
    c->nhanded++;
    c->req_start = c->in_len > 0 ? uv_now(c->srv->loop) : 0;
    if (!r->msg.keep_alive) {
        /* nothing after a "Connection: close" request is read */
        c->state = ST_STOPPED;
        conn_read_stop(c);
    }
    c->srv->handler(c->srv->handler_arg, r);
}

static void send_continue(struct ctl_conn *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char *d = xmalloc(sizeof cont - 1);
    memcpy(d, cont, sizeof cont - 1);
    conn_send(c, d, sizeof cont - 1);
}

static void conn_process(struct ctl_conn *c)
{
    const struct wl_http1_limits *lim = &c->srv->opts.limits;
    while (!c->closing && c->state != ST_STOPPED) {
        if (c->state == ST_HEAD) {
            if (c->nqueued >= c->srv->opts.max_pipeline) {
                conn_read_stop(c); /* back-pressure: resume when answers are written */
                return;
            }
            if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > c->srv->opts.max_unsent) {
                c->write_blocked = true; /* the peer does not read: stop taking requests */
                conn_read_stop(c);
                return;
            }
            if (c->in_len == 0) {
                c->req_start = 0;
                return;
            }
            if (c->req_start == 0)
                c->req_start = uv_now(c->srv->loop);
            struct wl_http1_message probe;
            int rc = wl_http1_parse_request(c->in, c->in_len, lim, &probe);
            if (rc == WL_HTTP1_INCOMPLETE) {
                if (c->in_len > lim->max_header_bytes)
                    conn_fail(c, 431, parse_error_text(WL_HTTP1_E_HEADER_TOO_LARGE));
                return;
            }
            if (rc < 0) {
                conn_fail(c, wl_http1_error_status(rc), parse_error_text(rc));
                return;
            }
            struct ctl_http_req *r = calloc(1, sizeof *r);
            if (!r)
                abort();
            r->conn = c;
            r->tls = c->ssl != NULL;
            snprintf(r->peer_ip, sizeof r->peer_ip, "%s", c->peer_ip);
            snprintf(r->conn_id, sizeof r->conn_id, "%s", c->id);
            r->head = xmalloc((size_t)rc + 1);
            memcpy(r->head, c->in, (size_t)rc);
            r->head[rc] = '\0';
            if (wl_http1_parse_request(r->head, (size_t)rc, lim, &r->msg) != rc) {
                req_free(r);
                conn_fail(c, 400, "malformed request");
                return;
            }
            in_consume(c, (size_t)rc);
            c->cur = r;
            if (r->msg.chunked) {
                wl_http1_chunked_init(&c->chunked, lim->max_body_bytes);
                c->state = ST_BODY_CHUNKED;
            } else if (r->msg.content_length > 0) {
                c->body_remaining = (uint64_t)r->msg.content_length;
                r->body_cap = (size_t)r->msg.content_length + 1;
                r->body = xmalloc(r->body_cap);
                c->state = ST_BODY_CL;
            } else {
                conn_dispatch(c);
                continue;
            }
            if (r->msg.expect_continue && c->in_len == 0 && c->qhead == NULL)
                send_continue(c);
        } else if (c->state == ST_BODY_CL) {
            struct ctl_http_req *r = c->cur;
            size_t take = c->in_len < c->body_remaining ? c->in_len : (size_t)c->body_remaining;
            memcpy(r->body + r->body_len, c->in, take);
            r->body_len += take;
            c->body_remaining -= take;
            in_consume(c, take);
            if (c->body_remaining > 0)
                return;
            conn_dispatch(c);
        } else if (c->state == ST_BODY_CHUNKED) {
            if (c->in_len == 0)
                return;
            struct ctl_http_req *r = c->cur;
            size_t consumed = 0, decoded = 0;
            int rc = wl_http1_chunked_decode(&c->chunked, c->in, c->in_len, &consumed, &decoded);
            if (rc < 0) {
                conn_fail(c, wl_http1_error_status(rc), parse_error_text(rc));
                return;
            }
            if (r->body_len + decoded + 1 > r->body_cap) {
                size_t cap = r->body_cap ? r->body_cap : 1024;
                while (cap < r->body_len + decoded + 1)
                    cap *= 2;
                r->body = xrealloc(r->body, cap);
                r->body_cap = cap;
            }
            memcpy(r->body + r->body_len, c->in, decoded);
            r->body_len += decoded;
            in_consume(c, consumed);
            if (rc == 1)
                conn_dispatch(c);
            else if (consumed == 0)
                return;
        }
    }
}

static void conn_touch(struct ctl_conn *c)
{
    c->last_active = uv_now(c->srv->loop);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct ctl_conn *c = s->data;
    if (nread == 0) {
        free(buf->base);
        return;
    }
    if (nread < 0) {
        free(buf->base);
        conn_read_stop(c);
        if (c->nhanded > 0 && nread == UV_EOF && !c->ssl) {
            /* half-close: the client may still read the answers of what it sent */
            c->state = ST_STOPPED;
            c->close_on_flush = true;
            return;
        }
        conn_close(c);
        return;
    }
    conn_touch(c);
    if (!c->ssl) {
        if (c->state != ST_STOPPED)
            in_append(c, buf->base, (size_t)nread);
        free(buf->base);
    } else {
        BIO_write(c->rbio, buf->base, (int)nread);
        free(buf->base);
        if (!SSL_is_init_finished(c->ssl)) {
            int rc = SSL_do_handshake(c->ssl);
            tls_flush_wbio(c);
            if (c->closing)
                return;
            if (rc <= 0) {
                int e = SSL_get_error(c->ssl, rc);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                    unsigned long ec = ERR_peek_last_error();
                    char eb[256];
                    ERR_error_string_n(ec, eb, sizeof eb);
                    ERR_clear_error();
                    WL_INFO(c->id, "TLS handshake with %s failed: %s", c->peer_ip, eb);
                    conn_close(c);
                    return;
                }
                return;
            }
        }
        char tmp[16384];
        for (;;) {
            int n = SSL_read(c->ssl, tmp, sizeof tmp);
            if (n > 0) {
                if (c->state != ST_STOPPED)
                    in_append(c, tmp, (size_t)n);
                continue;
            }
            int e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                break;
            ERR_clear_error();
            tls_flush_wbio(c);
            if (e == SSL_ERROR_ZERO_RETURN && c->nhanded > 0) {
                c->state = ST_STOPPED;
                c->close_on_flush = true;
                conn_read_stop(c);
                return;
            }
            conn_close(c);
            return;
        }
        tls_flush_wbio(c);
        if (c->closing)
            return;
    }
    conn_process(c);
}

/* ---- connection lifecycle ------------------------------------------------------------------ */

static void on_handle_closed(uv_handle_t *h)
{
    struct ctl_conn *c = h->data;
    c->open_handles--;
    conn_maybe_free(c);
}

static void conn_close(struct ctl_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    c->reading = false;
    struct ctl_server *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    WL_DEBUG(c->id, "connection closed");
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void conn_idle_check(struct ctl_conn *c)
{
    if (c->closing)
        return;
    if (c->srv->draining && c->qhead == NULL && c->cur == NULL && c->in_len == 0) {
        conn_shutdown(c);
        return;
    }
    conn_read_start(c);
}

/* Ticks every second: closes idle keep-alive connections, and answers 408 to requests that
 * take longer than request_ms to arrive (slow-header and slow-body clients). */
static void on_timer(uv_timer_t *t)
{
    struct ctl_conn *c = t->data;
    if (c->closing || c->shutting_down)
        return;
    uint64_t now = uv_now(c->srv->loop);
    bool reading_request = c->state != ST_STOPPED && (c->cur != NULL || c->in_len > 0);
    if (reading_request && c->req_start && now - c->req_start > c->srv->opts.request_ms) {
        conn_fail(c, 408, "request not received in time");
        return;
    }
    if (c->nhanded > 0 || c->qhead || reading_request)
        return; /* an answer is being computed or written: not idle */
    if (now - c->last_active > c->srv->opts.idle_ms) {
        WL_DEBUG(c->id, "idle timeout");
        conn_close(c);
    }
}

static void on_connection(uv_stream_t *ls, int status)
{
    struct ctl_server *srv = ls->data;
    if (status < 0) {
        WL_WARN(NULL, "accept failed: %s", uv_strerror(status));
        return;
    }
    struct ctl_conn *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->srv = srv;
    srv->nalloc++;
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    c->open_handles = 1;
    if (uv_accept(ls, (uv_stream_t *)&c->tcp) < 0) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
        return;
    }
    uv_timer_init(srv->loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 2;
    snprintf(c->id, sizeof c->id, "c%llu", (unsigned long long)++srv->next_conn_id);
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    snprintf(c->peer_ip, sizeof c->peer_ip, "unknown");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)&ss, c->peer_ip, sizeof c->peer_ip);
        else if (ss.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer_ip, sizeof c->peer_ip);
    }
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    if (srv->draining || srv->nconns > srv->opts.max_conns) {
        WL_WARN(c->id, "refusing connection from %s (%s)", c->peer_ip,
                srv->draining ? "draining" : "too many connections");
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (srv->opts.tls) {
        c->ssl = SSL_new(srv->opts.tls);
        c->rbio = BIO_new(BIO_s_mem());
        c->wbio = BIO_new(BIO_s_mem());
        if (!c->ssl || !c->rbio || !c->wbio)
            abort();
        SSL_set_bio(c->ssl, c->rbio, c->wbio);
        SSL_set_accept_state(c->ssl);
    }
    c->last_active = uv_now(srv->loop);
    uint64_t tick = srv->opts.idle_ms < 1000 ? srv->opts.idle_ms : 1000;
    uv_timer_start(&c->timer, on_timer, tick, tick);
    WL_DEBUG(c->id, "connection from %s", c->peer_ip);
    conn_read_start(c);
}

int ctl_server_new(uv_loop_t *loop, const struct ctl_server_opts *opts, ctl_http_handler handler,
                   void *arg, struct ctl_server **out, char *err, size_t errlen)
{
    struct ctl_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        abort();
    srv->loop = loop;
    srv->opts = *opts;
    if (!srv->opts.max_conns)
        srv->opts.max_conns = 1024;
    if (!srv->opts.idle_ms)
        srv->opts.idle_ms = 60000;
    if (!srv->opts.request_ms)
        srv->opts.request_ms = 30000;
    if (!srv->opts.max_unsent)
        srv->opts.max_unsent = 1 << 20;
    if (!srv->opts.max_pipeline)
        srv->opts.max_pipeline = 16;
    srv->handler = handler;
    srv->handler_arg = arg;

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (uv_ip4_addr(opts->host, opts->port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(opts->host, opts->port, (struct sockaddr_in6 *)&ss) != 0) {
        snprintf(err, errlen, "%s is not an IP address", opts->host);
        free(srv);
        return -1;
    }
    uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    int rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection);
    if (rc < 0) {
        snprintf(err, errlen, "%s:%d: %s", opts->host, opts->port, uv_strerror(rc));
        srv->listener_closed = true;
        uv_close((uv_handle_t *)&srv->listener, NULL);
        /* the listener's memory must outlive uv_close: run the loop once to finish it */
        uv_run(loop, UV_RUN_NOWAIT);
        free(srv);
        return -1;
    }
    *out = srv;
    return 0;
}

size_t ctl_server_conn_count(const struct ctl_server *srv)
{
    return srv->nconns;
}

static void server_maybe_done(struct ctl_server *srv)
{
    if (!srv->draining || !srv->listener_closed || srv->nalloc != 0)
        return;
    void (*done)(void *) = srv->drain_done;
    void *arg = srv->drain_arg;
    srv->drain_done = NULL;
    if (done) {
        free(srv);
        done(arg);
    }
}

static void on_listener_closed(uv_handle_t *h)
{
    struct ctl_server *srv = h->data;
    srv->listener_closed = true;
    server_maybe_done(srv);
}

void ctl_server_drain(struct ctl_server *srv, void (*done)(void *), void *arg)
{
    if (srv->draining)
        return;
    srv->draining = true;
    srv->drain_done = done;
    srv->drain_arg = arg;
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
    struct ctl_conn *c = srv->conns;
    while (c) {
        struct ctl_conn *n = c->next;
        if (c->qhead == NULL && c->cur == NULL && c->in_len == 0)
            conn_shutdown(c);
        else
            c->close_on_flush = true;
        c = n;
    }
}

/* ---- TLS context ------------------------------------------------------------------------- */

SSL_CTX *ctl_tls_ctx_new(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, errlen, "TLS: cannot create context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_num_tickets(ctx, 1);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
        snprintf(err, errlen, "--tls-cert %s: cannot load a PEM certificate chain", cert_path);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
        snprintf(err, errlen, "--tls-key %s: cannot load a PEM private key", key_path);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "--tls-key %s does not match --tls-cert %s", key_path, cert_path);
        goto fail;
    }
    return ctx;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}
