/* origin.c - the HTTP/1.1 client toward origins: asynchronous DNS, the egress decision, TCP and
 * TLS (verified against the system roots plus the fleet's website CAs), a per-worker keep-alive
 * pool, timeouts (connect, response head, idle body), request bodies streamed with chunked
 * framing when their length is unknown, and responses streamed to the device with backpressure
 * (origin reads pause while the device side is above its high-water mark). Worker thread only. */
#include "gw_internal.h"

#include "egress.h"
#include "log.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum up_state {
    UP_RESOLVING,
    UP_CONNECTING,
    UP_HANDSHAKE,
    UP_HEAD,
    UP_BODY,
    UP_TUNNEL, /* WebSocket: bytes relayed both ways (ws.c) */
    UP_IDLE,
    UP_DEAD
};

struct gw_up {
    struct gw_sock sock; /* first */
    struct gw_worker *w;
    struct gw_req *req;
    struct gw_list link; /* pool */
    char key[300];
    char host[256];
    int port;
    bool tls;
    enum up_state state;
    uv_getaddrinfo_t gai;
    bool gai_active;
    uv_connect_t creq;
    uv_timer_t timer;
    int handles;
    bool reused;
    bool head_sent;
    bool req_chunked;
    bool body_end_sent;
    bool got_bytes;
    char *hbuf;
    size_t hlen;
    int64_t body_left;
    bool resp_chunked;
    bool until_close;
    bool keepalive;
    bool no_body;
    struct wl_http1_chunked ch;
    /* egress (issue 6): the checked destination and the subnets tried for it */
    struct sockaddr_storage dst;
    uint64_t tried;
    int subnet;
    int64_t net_version; /* snapshot version the connection was checked under */
};

static void up_close(struct gw_up *u);
static void up_send_head(struct gw_up *u);
static void up_fail(struct gw_up *u, int status, const char *title, const char *text);
static bool failover(struct gw_up *old, int status);

int gw_egress_check(struct gw_worker *w, const char *host, const struct sockaddr *addr)
{
    const char *why;
    return gw_egress_verdict(w, host, addr, &why);
}

int gw_egress_verdict(struct gw_worker *w, const char *host, const struct sockaddr *addr,
                      const char **why)
{
    const struct gw_egress *eg = w->snap ? w->snap->egress : NULL;
    *why = NULL;
    if (!w->srv->opt->network_file[0]) /* fail closed: no inventory, no company network */
        *why = "This gateway has no company network inventory (worklink-gateway --network FILE, "
               "deploy/network.md), so it reaches no website.";
    else if (!eg)
        *why = "The company network configuration is not loaded yet.";
    else if (gw_egress_allow(eg, addr, why) == 0)
        return 0;
    char a[80];
    gw_egress_addr_text(addr, a, sizeof a);
    GW_INC(w->m.egress_denied);
    WL_WARN(NULL, "egress refused: %s -> %s: %s", host, a, *why);
    return -1;
}

size_t gw_up_wq(struct gw_up *u)
{
    return u->sock.wq;
}

static void up_maybe_free(struct gw_up *u)
{
    if (u->handles == 0 && !u->gai_active) {
        free(u->hbuf);
        free(u);
    }
}

static void up_sock_closed(struct gw_sock *s)
{
    struct gw_up *u = (struct gw_up *)s;
    u->handles--;
    up_maybe_free(u);
}

static void up_timer_closed(uv_handle_t *h)
{
    struct gw_up *u = h->data;
    u->handles--;
    up_maybe_free(u);
}

static void up_close(struct gw_up *u)
{
    if (u->state == UP_DEAD)
        return;
    if (u->state == UP_IDLE) {
        gw_list_remove(&u->link);
        u->w->npool--;
        GW_SUB(u->w->m.origin_idle, 1);
    }
    u->state = UP_DEAD;
    u->req = NULL;
    if (u->gai_active)
        uv_cancel((uv_req_t *)&u->gai);
    uv_close((uv_handle_t *)&u->timer, up_timer_closed);
    gw_sock_abort(&u->sock);
}

void gw_up_detach(struct gw_up *u)
{
    u->req = NULL;
    up_close(u);
}

static void up_fail(struct gw_up *u, int status, const char *title, const char *text)
{
    struct gw_req *r = u->req;
    GW_INC(u->w->m.origin_errors);
    if (status == 504)
        GW_INC(u->w->m.origin_timeouts);
    if (r) {
        WL_INFO(r->conn->idstr, "origin %s:%d: %s", u->host, u->port, text);
        r->up = NULL;
    }
    up_close(u);
    if (!r)
        return;
    if (r->resp_started)
        gw_req_abort(r);
    else
        gw_req_error_page(r, status, title, text);
}

static void timer_cb(uv_timer_t *t)
{
    struct gw_up *u = t->data;
    switch (u->state) {
    case UP_CONNECTING:
        if (failover(u, UV_ETIMEDOUT))
            break; /* egress: the next subnet gets its own connect timeout */
        /* fall through */
    case UP_RESOLVING:
    case UP_HANDSHAKE:
        up_fail(u, 504, "Gateway timeout", "The website did not accept a connection in time.");
        break;
    case UP_HEAD:
        up_fail(u, 504, "Gateway timeout", "The website did not answer in time.");
        break;
    case UP_BODY:
        up_fail(u, 504, "Gateway timeout", "The website stopped sending the page.");
        break;
    default:
        up_close(u);
    }
}

static void arm(struct gw_up *u, int64_t ms)
{
    uv_timer_start(&u->timer, timer_cb, (uint64_t)ms, 0);
}

/* Longest origin silence mid-body: streams (server-sent events) have their own limit. */
static int64_t body_idle_ms(const struct gw_up *u)
{
    const struct gw_options *o = u->w->srv->opt;
    return u->req && u->req->streaming ? o->stream_idle_timeout_ms : o->idle_timeout_ms;
}

/* ---------------- response ---------------- */

static void up_release(struct gw_up *u)
{
    struct gw_worker *w = u->w;
    struct gw_req *r = u->req;
    if (r)
        r->up = NULL;
    u->req = NULL;
    if (!u->keepalive || u->until_close || !u->body_end_sent || w->draining || w->npool >= 256) {
        up_close(u);
        return;
    }
    u->state = UP_IDLE;
    u->hlen = 0;
    u->head_sent = false;
    u->body_end_sent = false;
    u->got_bytes = false;
    gw_list_insert(&w->pool, &u->link);
    w->npool++;
    GW_INC(w->m.origin_idle);
    arm(u, w->srv->opt->idle_timeout_ms < 30000 ? w->srv->opt->idle_timeout_ms : 30000);
    gw_sock_read_start(&u->sock);
}

static void up_finish(struct gw_up *u)
{
    struct gw_req *r = u->req;
    uv_timer_stop(&u->timer);
    up_release(u); /* detaches r first: resp_end may free it */
    if (r)
        gw_req_resp_end(r);
}

static void deliver(struct gw_up *u, char *data, size_t len)
{
    struct gw_req *r = u->req;
    while (len > 0 && u->req == r && u->state == UP_BODY) {
        if (u->until_close) {
            gw_req_resp_body(r, data, len);
            break;
        }
        if (!u->resp_chunked) {
            size_t n = (uint64_t)u->body_left < len ? (size_t)u->body_left : len;
            u->body_left -= (int64_t)n;
            gw_req_resp_body(r, data, n);
            if (u->body_left == 0) {
                if (n < len)
                    u->keepalive = false; /* origin sent more than it announced */
                up_finish(u);
                return;
            }
            break;
        }
        size_t used, out;
        int rc = wl_http1_chunked_decode(&u->ch, data, len, &used, &out);
        if (rc < 0) {
            up_fail(u, 502, "Bad gateway", "The website sent a malformed response.");
            return;
        }
        if (out)
            gw_req_resp_body(r, data, out);
        if (rc == 1) {
            if (used < len)
                u->keepalive = false;
            up_finish(u);
            return;
        }
        break;
    }
    if (u->req == r && r && u->state == UP_BODY) {
        arm(u, body_idle_ms(u));
        if (gw_req_congested(r)) {
            r->up_paused = true;
            gw_sock_read_stop(&u->sock);
        }
    }
}

#define UP_HBUF_CAP (GW_MAX_HEAD * 2 + 65536) /* a head limit plus one whole socket read */

static void on_head(struct gw_up *u, char *data, size_t len)
{
    struct gw_req *r = u->req;
    if (u->hlen + len > UP_HBUF_CAP) {
        up_fail(u, 502, "Bad gateway", "The website sent a response head that is too large.");
        return;
    }
    if (!u->hbuf) {
        u->hbuf = malloc(UP_HBUF_CAP);
        if (!u->hbuf)
            abort();
    }
    memcpy(u->hbuf + u->hlen, data, len);
    u->hlen += len;
    for (;;) {
        struct wl_http1_limits lim;
        wl_http1_limits_default(&lim);
        lim.max_header_bytes = GW_MAX_HEAD * 2;
        struct wl_http1_message *msg = malloc(sizeof *msg);
        if (!msg)
            abort();
        int rc = wl_http1_parse_response(u->hbuf, u->hlen, &lim, msg);
        if (rc == WL_HTTP1_INCOMPLETE) {
            free(msg);
            if (u->hlen >= GW_MAX_HEAD * 2)
                up_fail(u, 502, "Bad gateway", "The website's response head is too large.");
            return;
        }
        if (rc < 0 || msg->status < 100 || msg->status > 599) {
            free(msg);
            up_fail(u, 502, "Bad gateway", "The website sent a malformed response.");
            return;
        }
        if (msg->status >= 100 && msg->status < 200 && !(r->ws_req && msg->status == 101)) {
            /* interim: skip it */
            memmove(u->hbuf, u->hbuf + rc, u->hlen - (size_t)rc);
            u->hlen -= (size_t)rc;
            free(msg);
            if (u->hlen == 0)
                return;
            continue;
        }
        int status = msg->status;
        if (r->ws_req && status == 101) {
            u->state = UP_TUNNEL;
            u->keepalive = false;
            uv_timer_stop(&u->timer); /* ws.c keeps the tunnel's own timers */
            size_t rest = u->hlen - (size_t)rc;
            int ok = gw_ws_open(r, msg, u->hbuf + rc, rest);
            free(msg);
            if (ok < 0) {
                u->state = UP_HEAD;
                up_fail(u, 502, "Bad gateway", "The website's WebSocket handshake is invalid.");
                return;
            }
            if (u->state != UP_DEAD) {
                free(u->hbuf);
                u->hbuf = NULL;
                u->hlen = 0;
            }
            return;
        }
        if (r->ws_req && status < 300) {
            free(msg);
            up_fail(u, 502, "Bad gateway", "The website did not accept the WebSocket.");
            return;
        }
        const struct wl_http1_header *ct = wl_http1_find_header(msg, "content-type");
        r->streaming = ct && ct->value.len >= 17 &&
                       memmem(ct->value.base, ct->value.len, "text/event-stream", 17) != NULL;
        u->keepalive = msg->keep_alive;
        u->no_body = r->is_head || status == 204 || status == 304;
        u->resp_chunked = !u->no_body && msg->chunked;
        u->body_left = u->no_body ? 0 : msg->content_length;
        u->until_close = !u->no_body && !msg->chunked && msg->content_length < 0;
        if (u->resp_chunked)
            wl_http1_chunked_init(&u->ch, 0);
        struct gw_hdrs h = {0};
        gw_hdr_origin_response(&r->arena, msg, &h);
        size_t rest = u->hlen - (size_t)rc;
        char *body = u->hbuf + rc;
        free(msg);
        u->state = UP_BODY;
        arm(u, body_idle_ms(u));
        gw_req_resp_head(r, status, &h);
        if (u->req != r)
            return;
        if (u->no_body || (!u->resp_chunked && !u->until_close && u->body_left == 0)) {
            up_finish(u);
            return;
        }
        if (rest)
            deliver(u, body, rest);
        if (u->state != UP_DEAD) {
            free(u->hbuf); /* only the head phase needs it */
            u->hbuf = NULL;
            u->hlen = 0;
        }
        return;
    }
}

static void up_on_data(struct gw_sock *s, char *data, size_t len)
{
    struct gw_up *u = (struct gw_up *)s;
    u->got_bytes = true;
    if (u->state == UP_IDLE || !u->req) {
        up_close(u); /* unsolicited bytes: this connection is out of sync */
        return;
    }
    if (u->state == UP_HEAD) {
        on_head(u, data, len);
    } else if (u->state == UP_BODY) {
        deliver(u, data, len);
    } else if (u->state == UP_TUNNEL) {
        struct gw_req *r = u->req;
        if (gw_ws_origin_data(r, data, len) == 0 && u->req == r && gw_req_congested(r)) {
            r->up_paused = true;
            gw_sock_read_stop(&u->sock);
        }
    }
}

static void retry_fresh(struct gw_up *u);

static void up_on_error(struct gw_sock *s, int status)
{
    struct gw_up *u = (struct gw_up *)s;
    if (u->state == UP_IDLE || !u->req) {
        up_close(u);
        return;
    }
    if (u->state == UP_TUNNEL) {
        struct gw_req *r = u->req;
        r->up = NULL;
        up_close(u);
        gw_ws_origin_closed(r);
        return;
    }
    if (u->state == UP_BODY && u->until_close && status == UV_EOF) {
        up_finish(u);
        return;
    }
    if (u->state == UP_HEAD && u->reused && !u->got_bytes && u->req->bytes_in == 0) {
        retry_fresh(u); /* the pooled connection had been closed by the origin */
        return;
    }
    if (u->state == UP_HANDSHAKE) {
        long v = SSL_get_verify_result(u->sock.ssl);
        char text[300];
        if (v != X509_V_OK)
            snprintf(text, sizeof text, "The website's certificate is not trusted (%s).",
                     X509_verify_cert_error_string(v));
        else
            snprintf(text, sizeof text, "The secure connection to the website failed.");
        up_fail(u, 502, "Bad gateway", text);
        return;
    }
    up_fail(u, 502, "Bad gateway",
            u->state == UP_BODY ? "The website closed the connection mid-response."
                                : "The website closed the connection without answering.");
}

static void up_on_drain(struct gw_sock *s, int status)
{
    (void)status;
    struct gw_up *u = (struct gw_up *)s;
    if (u->req)
        gw_req_body_drained(u->req);
}

/* ---------------- request ---------------- */

static void write_body(struct gw_up *u)
{
    struct gw_req *r = u->req;
    char *buf = u->w->sbuf;
    while (r->in.len > 0 && !u->sock.closing) {
        size_t off = u->req_chunked ? 16 : 0;
        size_t n = gw_bufq_pop(&r->in, buf + off, sizeof u->w->sbuf - off - 2);
        if (u->req_chunked) {
            char hdr[16];
            int hl = snprintf(hdr, sizeof hdr, "%zx\r\n", n);
            memcpy(buf + off - (size_t)hl, hdr, (size_t)hl);
            memcpy(buf + off + n, "\r\n", 2);
            gw_sock_write(&u->sock, buf + off - (size_t)hl, (size_t)hl + n + 2);
        } else {
            gw_sock_write(&u->sock, buf, n);
        }
    }
    if (r->body_done && !u->body_end_sent) {
        u->body_end_sent = true;
        if (u->req_chunked)
            gw_sock_write(&u->sock, "0\r\n\r\n", 5);
    } else if (r->has_body && !r->body_done && !u->sock.closing) {
        gw_req_body_drained(r); /* most of it may have left at once: read the device again */
    }
}

void gw_up_body_ready(struct gw_up *u)
{
    if (u->head_sent && u->req &&
        (u->state == UP_HEAD || u->state == UP_BODY || u->state == UP_TUNNEL))
        write_body(u);
}

static void up_send_head(struct gw_up *u)
{
    struct gw_req *r = u->req;
    struct gw_head_in in = {.method = r->method,
                            .method_len = r->method_len,
                            .target = r->target,
                            .target_len = r->target_len,
                            .authority = r->authority,
                            .authority_len = r->authority_len,
                            .peer = r->conn->sock.peer,
                            .hdrs = &r->hdrs,
                            .has_body = r->has_body && !r->ws_req,
                            .content_length = r->content_length,
                            .websocket = r->ws_req,
                            .ws_key = r->ws_key};
    size_t len = 0;
    char *head = gw_hdr_origin_request(&in, &len, &u->req_chunked);
    if (!head) {
        r->up = NULL;
        up_close(u);
        r->close_after = true;
        gw_req_error_page(r, 400, "Bad request", "The request cannot be forwarded.");
        return;
    }
    u->state = UP_HEAD;
    u->head_sent = true;
    u->body_end_sent = !r->has_body;
    gw_sock_write(&u->sock, head, len);
    free(head);
    arm(u, u->w->srv->opt->header_timeout_ms);
    gw_sock_read_start(&u->sock);
    write_body(u);
}

static void up_on_handshake(struct gw_sock *s, int status)
{
    (void)status;
    struct gw_up *u = (struct gw_up *)s;
    if (!u->req) {
        up_close(u);
        return;
    }
    up_send_head(u);
}

static void connect_dst(struct gw_up *u);
static struct gw_up *up_new(struct gw_worker *w, const char *key, const char *host, int port,
                            bool tls);

/* A connect from one subnet failed: move to another subnet of the fleet (a new socket), unless
 * every subnet was tried. Returns true when the request went on elsewhere. */
static bool failover(struct gw_up *old, int status)
{
    struct gw_egress *eg = old->w->snap ? old->w->snap->egress : NULL;
    if (!old->w->srv->opt->network_file[0] || !eg || !old->req)
        return false;
    if (status != UV_ECONNREFUSED && status != UV_ECONNRESET)
        gw_egress_source_failed(eg, old->subnet);
    int n = gw_egress_nsubnets(eg);
    uint64_t all = n >= 64 ? ~0ULL : (1ULL << n) - 1;
    if (n <= 0 || (old->tried & all) == all)
        return false;
    WL_WARN(NULL, "egress: connect from subnet %s failed (%s): trying another subnet",
            gw_egress_subnet_id(eg, old->subnet), uv_strerror(status));
    struct gw_req *r = old->req;
    struct gw_up *u = up_new(old->w, old->key, old->host, old->port, old->tls);
    u->dst = old->dst;
    u->tried = old->tried;
    old->req = NULL;
    up_close(old);
    u->req = r;
    r->up = u;
    arm(u, u->w->srv->opt->connect_timeout_ms);
    connect_dst(u);
    return true;
}

static void connect_cb(uv_connect_t *cr, int status)
{
    struct gw_up *u = cr->data;
    if (status == UV_ECANCELED || u->state == UP_DEAD)
        return;
    if (status < 0) {
        if (failover(u, status))
            return;
        char text[200];
        snprintf(text, sizeof text, "The website cannot be reached (%s).", uv_strerror(status));
        up_fail(u, 502, "Bad gateway", text);
        return;
    }
    GW_INC(u->w->m.origin_connects);
    uv_tcp_nodelay(&u->sock.tcp, 1);
    if (!u->tls) {
        up_send_head(u);
        return;
    }
    struct gw_snapshot *snap = u->w->snap;
    SSL *ssl = snap && snap->origin_ctx ? SSL_new(snap->origin_ctx) : NULL;
    if (!ssl) {
        up_fail(u, 502, "Bad gateway", "TLS toward the website is not available.");
        return;
    }
    struct in6_addr tmp;
    bool ip = inet_pton(AF_INET, u->host, &tmp) == 1 || inet_pton(AF_INET6, u->host, &tmp) == 1;
    if (ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), u->host);
    } else {
        SSL_set_tlsext_host_name(ssl, u->host);
        SSL_set1_host(ssl, u->host);
    }
    gw_sock_set_tls(&u->sock, ssl, false);
    u->sock.on_handshake = up_on_handshake;
    u->state = UP_HANDSHAKE;
    gw_sock_read_start(&u->sock);
    gw_sock_connect_tls(&u->sock);
}

/* Binds the socket to the source address of one of the fleet's subnets (rotation; subnets that
 * fail are skipped), then connects to u->dst. Without --network nothing is bound. */
static void connect_dst(struct gw_up *u)
{
    struct gw_egress *eg = u->w->snap ? u->w->snap->egress : NULL;
    const struct sockaddr *sa = (const struct sockaddr *)&u->dst;
    if (u->w->srv->opt->network_file[0]) {
        struct sockaddr_storage src;
        int idx, rc = -1;
        while (eg && gw_egress_source(eg, sa->sa_family, u->tried, &src, &idx) == 0) {
            u->tried |= 1ULL << idx;
            u->subnet = idx;
            rc = uv_tcp_bind(&u->sock.tcp, (const struct sockaddr *)&src, 0);
            if (rc == 0)
                break;
            char a[80];
            gw_egress_addr_text((const struct sockaddr *)&src, a, sizeof a);
            WL_WARN(NULL, "egress: subnet %s: cannot bind source %s (%s): trying another",
                    gw_egress_subnet_id(eg, idx), a, uv_strerror(rc));
            gw_egress_source_failed(eg, idx);
        }
        if (rc != 0) {
            if (u->req)
                u->req->egress_error = "no usable subnet";
            up_fail(u, 502, "Bad gateway",
                    u->tried ? "No subnet of the company network can reach the website (every "
                               "source address failed)."
                             : "No subnet of the company network has a source address of this "
                               "website's address family.");
            return;
        }
    }
    u->net_version = u->w->snap ? u->w->snap->version : -1;
    u->state = UP_CONNECTING;
    u->creq.data = u;
    int rc = uv_tcp_connect(&u->creq, &u->sock.tcp, sa, connect_cb);
    if (rc < 0) {
        char text[200];
        snprintf(text, sizeof text, "The website cannot be reached (%s).", uv_strerror(rc));
        up_fail(u, 502, "Bad gateway", text);
    }
}

static void connect_addr(struct gw_up *u, const struct sockaddr *sa)
{
    struct sockaddr_storage ss;
    const char *why;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, sa,
           sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
    gw_egress_normalise(&ss); /* ::ffff:a.b.c.d is judged and dialled as a.b.c.d */
    if (gw_egress_verdict(u->w, u->host, (const struct sockaddr *)&ss, &why) != 0) {
        if (u->req)
            u->req->egress_error = gw_arena_strndup(&u->req->arena, why, strlen(why));
        up_fail(u, 502, "Blocked by the company network", why);
        return;
    }
    u->dst = ss;
    connect_dst(u);
}

static void gai_cb(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
    struct gw_up *u = g->data;
    u->gai_active = false;
    if (u->state == UP_DEAD) {
        uv_freeaddrinfo(res);
        up_maybe_free(u);
        return;
    }
    if (status < 0 || !res) {
        uv_freeaddrinfo(res);
        up_fail(u, 502, "Bad gateway", "The website's name does not resolve.");
        return;
    }
    /* the first answer the egress policy allows; none: the first one's refusal is shown */
    struct addrinfo *pick = res;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        struct sockaddr_storage t;
        const char *why;
        if (ai->ai_addrlen > sizeof t)
            continue;
        memset(&t, 0, sizeof t);
        memcpy(&t, ai->ai_addr, ai->ai_addrlen);
        gw_egress_normalise(&t);
        const struct gw_egress *eg = u->w->snap ? u->w->snap->egress : NULL;
        if (eg && gw_egress_allow(eg, (const struct sockaddr *)&t, &why) == 0) {
            pick = ai;
            break;
        }
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, pick->ai_addr, pick->ai_addrlen <= sizeof ss ? pick->ai_addrlen : sizeof ss);
    uv_freeaddrinfo(res);
    connect_addr(u, (struct sockaddr *)&ss);
}

static struct gw_up *up_new(struct gw_worker *w, const char *key, const char *host, int port,
                            bool tls)
{
    struct gw_up *u = calloc(1, sizeof *u);
    if (!u)
        abort();
    u->w = w;
    gw_sock_init(w, &u->sock);
    uv_timer_init(&w->loop, &u->timer);
    u->timer.data = u;
    u->handles = 2;
    snprintf(u->key, sizeof u->key, "%s", key);
    snprintf(u->host, sizeof u->host, "%s", host);
    u->port = port;
    u->tls = tls;
    u->sock.on_data = up_on_data;
    u->sock.on_error = up_on_error;
    u->sock.on_drain = up_on_drain;
    u->sock.on_close = up_sock_closed;
    return u;
}

static void up_start_connect(struct gw_up *u)
{
    struct gw_worker *w = u->w;
    const struct gw_options *o = w->srv->opt;
    arm(u, o->connect_timeout_ms);
    const char *addr = u->host;
    for (int i = 0; i < o->nresolves; i++)
        if (strcasecmp(o->resolves[i].host, u->host) == 0)
            addr = o->resolves[i].addr;
    struct sockaddr_in6 s6;
    struct sockaddr_in s4;
    if (uv_ip4_addr(addr, u->port, &s4) == 0) {
        connect_addr(u, (struct sockaddr *)&s4);
        return;
    }
    if (uv_ip6_addr(addr, u->port, &s6) == 0) {
        connect_addr(u, (struct sockaddr *)&s6);
        return;
    }
    char port[8];
    snprintf(port, sizeof port, "%d", u->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    u->state = UP_RESOLVING;
    u->gai.data = u;
    if (uv_getaddrinfo(&w->loop, &u->gai, gai_cb, addr, port, &hints) == 0)
        u->gai_active = true;
    else
        up_fail(u, 502, "Bad gateway", "The website's name cannot be resolved.");
}

static void retry_fresh(struct gw_up *old)
{
    struct gw_req *r = old->req;
    struct gw_up *u = up_new(old->w, old->key, old->host, old->port, old->tls);
    old->req = NULL;
    up_close(old);
    u->req = r;
    r->up = u;
    up_start_connect(u);
}

void gw_up_pause(struct gw_up *u, bool pause)
{
    if (pause)
        gw_sock_read_stop(&u->sock);
    else if (u->state == UP_BODY || u->state == UP_HEAD || u->state == UP_TUNNEL)
        gw_sock_read_start(&u->sock);
}

void gw_up_fetch(struct gw_req *r)
{
    struct gw_worker *w = r->conn->w;
    const struct gw_options *o = w->srv->opt;
    char host[256];
    size_t hl = r->authority_len;
    const char *colon = memchr(r->authority, ':', hl);
    if (colon)
        hl = (size_t)(colon - r->authority);
    if (hl >= sizeof host)
        hl = sizeof host - 1;
    memcpy(host, r->authority, hl);
    host[hl] = '\0';
    const char *ohost = host;
    int port = 443;
    bool tls = true;
    for (int i = 0; i < o->norigins; i++) {
        if (strcasecmp(o->origins[i].domain, host) == 0) {
            ohost = o->origins[i].host;
            port = o->origins[i].port;
            tls = o->origins[i].tls;
            break;
        }
    }
    char key[300];
    snprintf(key, sizeof key, "%c|%s|%d", tls ? 's' : 'p', ohost, port);
    for (struct gw_list *l = w->pool.next; l != &w->pool; l = l->next) {
        struct gw_up *u = GW_CONTAINER(l, struct gw_up, link);
        if (strcmp(u->key, key) != 0)
            continue;
        if (o->network_file[0] && (!w->snap || u->net_version != w->snap->version))
            continue; /* checked under an older configuration: not reused (idle timer closes it) */
        gw_list_remove(&u->link);
        w->npool--;
        GW_SUB(w->m.origin_idle, 1);
        GW_INC(w->m.origin_reused);
        u->req = r;
        u->reused = true;
        r->up = u;
        up_send_head(u);
        return;
    }
    struct gw_up *u = up_new(w, key, ohost, port, tls);
    u->req = r;
    r->up = u;
    up_start_connect(u);
}

void gw_pool_expire(struct gw_worker *w, bool all)
{
    if (!all)
        return; /* idle timers expire pooled connections one by one */
    while (!gw_list_empty(&w->pool)) {
        struct gw_up *u = GW_CONTAINER(w->pool.next, struct gw_up, link);
        up_close(u);
    }
}
