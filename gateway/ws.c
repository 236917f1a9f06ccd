/* ws.c - WebSocket tunnels (issue 7): a device's HTTP/1.1 Upgrade or HTTP/2 extended CONNECT
 * (RFC 8441) relayed to the origin's HTTP/1.1 Upgrade once the origin switched protocols.
 *
 * Bytes are relayed as they come, in both directions, with the same backpressure as bodies (the
 * side that cannot write pauses the other's reads). Frame headers are parsed in both directions
 * (RFC 6455 section 5.2) without unmasking payloads, so that the gateway knows frame boundaries:
 * messages above --ws-max-message end the tunnel with close 1009, a close frame (1008 when access
 * ends) is injected toward the device only at a frame boundary, and pings go to idle devices at a
 * boundary. Control frames from the device are held whole (at most 131 bytes) so that the pong
 * answering the gateway's own ping is swallowed and never reaches the origin. Worker thread only.
 */
#include "gw_internal.h"

#include "audit.h"
#include "log.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum { OP_CONT = 0, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };

/* The frame parser of one direction. */
struct ws_dir {
    uint8_t hdr[14];
    size_t hlen;   /* header bytes collected; 0 at a frame boundary */
    uint64_t left; /* payload bytes left in the current frame */
    uint64_t msg;  /* bytes of the current message so far */
    bool ctrl;     /* holding a control frame whole (device side) */
    uint8_t cbuf[14 + 125];
    size_t clen;
};

struct gw_ws {
    struct gw_req *req;
    uv_timer_t timer;
    struct ws_dir down; /* origin -> device */
    struct ws_dir up;   /* device -> origin */
    uint64_t last_rx;   /* uv_now: last bytes from the device */
    uint64_t last_data; /* uv_now: last data frame either way */
    uint8_t ping[8];
    bool ping_out;
    uint64_t ping_sent;
    uint32_t nping;
};

/* ---------------- handshake helpers ---------------- */

static void accept_for(const char *key, char out[40])
{
    unsigned char d[SHA_DIGEST_LENGTH];
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%s%s", key, WS_GUID);
    SHA1((const unsigned char *)buf, (size_t)n, d);
    EVP_EncodeBlock((unsigned char *)out, d, sizeof d);
}

void gw_ws_h2_prepare(struct gw_req *r)
{
    unsigned char raw[16];
    char *key = gw_arena_alloc(&r->arena, 32);
    if (RAND_bytes(raw, sizeof raw) != 1)
        abort();
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof raw);
    r->ws_key = key;
    r->method = "GET";
    r->method_len = 3;
    bool have_version = false;
    for (size_t i = 0; i < r->hdrs.n; i++)
        if (r->hdrs.v[i].nlen == 21 &&
            strncasecmp(r->hdrs.v[i].name, "sec-websocket-version", 21) == 0)
            have_version = true;
    if (!have_version)
        gw_hdrs_add(&r->arena, &r->hdrs, "Sec-WebSocket-Version", 21, "13", 2);
}

static bool has_token(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i + tl <= n; i++)
        if (strncasecmp(v + i, tok, tl) == 0)
            return true;
    return false;
}

/* ---------------- output ---------------- */

static void to_device(struct gw_ws *ws, const void *p, size_t n)
{
    struct gw_req *r = ws->req;
    if (n == 0)
        return;
    if (r->conn->proto == GW_PROTO_H2) {
        gw_req_emit_body(r, p, n);
        return;
    }
    r->bytes_out += n;
    gw_sock_write(&r->conn->sock, p, n);
}

static void to_origin(struct gw_ws *ws, const void *p, size_t n)
{
    struct gw_req *r = ws->req;
    if (n == 0)
        return;
    gw_bufq_push(&r->in, p, n);
    if (r->up)
        gw_up_body_ready(r->up);
}

static bool at_boundary(const struct ws_dir *d)
{
    return d->hlen == 0 && d->left == 0;
}

static size_t frame_head(uint8_t *b, int op, size_t len)
{
    b[0] = (uint8_t)(0x80 | op);
    b[1] = (uint8_t)len; /* control frames only: len <= 125, unmasked (server to client) */
    return 2;
}

/* ---------------- closing ---------------- */

void gw_ws_close(struct gw_req *r, int code, const char *reason)
{
    struct gw_ws *ws = r->ws;
    struct gw_conn *c = r->conn;
    if (r->up) { /* not one more byte from the origin */
        gw_up_detach(r->up);
        r->up = NULL;
    }
    bool boundary = ws && at_boundary(&ws->down);
    uint8_t f[2 + 125];
    size_t rl = reason ? strlen(reason) : 0;
    if (rl > 100)
        rl = 100;
    size_t fl = frame_head(f, OP_CLOSE, 2 + rl);
    f[fl++] = (uint8_t)(code >> 8);
    f[fl++] = (uint8_t)code;
    memcpy(f + fl, reason, rl);
    fl += rl;
    if (r->cut_reason) /* a cut: live.c logs one line per instruction */
        WL_DEBUG(c->idstr, "websocket closed by the gateway: %d %s", code, reason ? reason : "");
    else
        WL_INFO(c->idstr, "websocket closed by the gateway: %d %s", code, reason ? reason : "");
    if (c->proto == GW_PROTO_H2) {
        gw_bufq_dispose(&r->out);
        if (code == 1008 || !boundary) {
            /* access ended: the stream is reset at once (RST_STREAM goes before any DATA) */
            nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, r->stream_id, NGHTTP2_CANCEL);
        } else {
            gw_bufq_push(&r->out, f, fl);
            r->out_eof = true;
            gw_h2_resp_body_ready(r);
        }
        gw_h2_flush(c);
        return;
    }
    /* bytes already handed to the kernel left before the cut; bytes libuv still holds would
     * arrive after it: then no close frame, the connection ends at once */
    if (boundary && uv_stream_get_write_queue_size((uv_stream_t *)&c->sock.tcp) == 0) {
        gw_sock_write(&c->sock, f, fl);
        gw_conn_close(c); /* the close frame, then close_notify */
        return;
    }
    /* mid-frame, or bytes still queued toward the device: they must not arrive after the end */
    gw_conn_close(c);
    gw_sock_abort(&c->sock);
}

void gw_ws_origin_closed(struct gw_req *r)
{
    struct gw_conn *c = r->conn;
    if (c->proto == GW_PROTO_H2) {
        r->out_eof = true;
        gw_h2_resp_body_ready(r);
        return;
    }
    gw_conn_close(c); /* what the origin sent (its close frame) is flushed first */
}

/* ---------------- frame parsing ---------------- */

static size_t head_need(const struct ws_dir *d)
{
    if (d->hlen < 2)
        return 2;
    size_t n = 2 + ((d->hdr[1] & 0x80) ? 4 : 0);
    uint8_t l7 = d->hdr[1] & 0x7f;
    return n + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0);
}

static uint64_t head_len(const struct ws_dir *d)
{
    uint8_t l7 = d->hdr[1] & 0x7f;
    if (l7 < 126)
        return l7;
    uint64_t v = 0;
    for (int i = 0; i < (l7 == 126 ? 2 : 8); i++)
        v = (v << 8) | d->hdr[2 + i];
    return v;
}

/* The device's control frame is complete: swallow the pong to our ping, pass the rest. */
static void ctrl_done(struct gw_ws *ws, struct ws_dir *d)
{
    d->ctrl = false;
    uint8_t op = d->cbuf[0] & 0x0f;
    size_t hl = 2 + 4, pl = d->clen - hl;
    if (op == OP_PONG && ws->ping_out && pl == sizeof ws->ping && (d->cbuf[1] & 0x80)) {
        uint8_t p[sizeof ws->ping];
        const uint8_t *mask = d->cbuf + 2;
        for (size_t i = 0; i < pl; i++)
            p[i] = d->cbuf[hl + i] ^ mask[i & 3];
        if (memcmp(p, ws->ping, sizeof p) == 0) {
            ws->ping_out = false;
            return; /* ours: the origin never sees it */
        }
    }
    to_origin(ws, d->cbuf, d->clen);
}

/* Walks `len` bytes of one direction, relaying them. Returns 0, or a close code (1002, 1009)
 * after relaying everything before the offending frame. */
static int feed(struct gw_ws *ws, struct ws_dir *d, bool from_device, const char *p, size_t len)
{
    const struct gw_options *o = ws->req->conn->w->srv->opt;
    void (*out)(struct gw_ws *, const void *, size_t) = from_device ? to_origin : to_device;
    const char *end = p + len, *run = p; /* run: start of the bytes still to relay */
    while (p < end) {
        if (d->left > 0) {
            size_t n = (uint64_t)(end - p) < d->left ? (size_t)(end - p) : (size_t)d->left;
            if (d->ctrl) {
                memcpy(d->cbuf + d->clen, p, n);
                d->clen += n;
            }
            d->left -= n;
            p += n;
            if (d->ctrl) {
                run = p;
                if (d->left == 0)
                    ctrl_done(ws, d);
            }
            continue;
        }
        /* frame header */
        bool fresh = d->hlen == 0;
        const char *hstart = p;
        while (p < end && d->hlen < head_need(d))
            d->hdr[d->hlen++] = (uint8_t)*p++;
        if (d->hlen < head_need(d)) {
            if (fresh)
                out(ws, run, (size_t)(hstart - run));
            run = end; /* the partial header waits in d->hdr */
            break;
        }
        uint8_t op = d->hdr[0] & 0x0f;
        bool fin = (d->hdr[0] & 0x80) != 0, masked = (d->hdr[1] & 0x80) != 0;
        uint64_t fl = head_len(d);
        size_t hl = d->hlen;
        d->hlen = 0;
        const char *before = fresh ? hstart : run; /* bytes before this header */
        if (masked != from_device || (op >= 8 && (fl > 125 || !fin)) || (op > 2 && op < 8) ||
            op > 10) {
            out(ws, run, (size_t)(before - run));
            return 1002;
        }
        if (op < 8) {
            d->msg = op == OP_CONT ? d->msg + fl : fl;
            if (fl > o->ws_max_message || d->msg > o->ws_max_message) {
                out(ws, run, (size_t)(before - run));
                return 1009;
            }
            ws->last_data = uv_now(&ws->req->conn->w->loop);
        }
        if (op >= 8 && from_device) {
            out(ws, run, (size_t)(before - run));
            memcpy(d->cbuf, d->hdr, hl);
            d->clen = hl;
            d->ctrl = true;
            d->left = fl;
            run = p;
            if (fl == 0)
                ctrl_done(ws, d);
            continue;
        }
        if (!fresh) { /* the header began in an earlier read: relay the held copy */
            out(ws, d->hdr, hl);
            run = p;
        }
        d->left = fl;
    }
    out(ws, run, (size_t)(end - run));
    return 0;
}

int gw_ws_origin_data(struct gw_req *r, const char *data, size_t len)
{
    struct gw_ws *ws = r->ws;
    int rc = feed(ws, &ws->down, false, data, len);
    if (rc == 0)
        return 0;
    WL_INFO(r->conn->idstr, "websocket: the website sent %s",
            rc == 1009 ? "a message over the size limit" : "a malformed frame");
    gw_ws_close(r, rc, rc == 1009 ? "message too big" : "protocol error");
    return -1;
}

int gw_ws_device_data(struct gw_req *r, const char *data, size_t len)
{
    struct gw_ws *ws = r->ws;
    ws->last_rx = uv_now(&r->conn->w->loop);
    int rc = feed(ws, &ws->up, true, data, len);
    if (rc == 0)
        return 0;
    gw_ws_close(r, rc, rc == 1009 ? "message too big" : "protocol error");
    return -1;
}

/* ---------------- keep-alive and idle ---------------- */

static void timer_cb(uv_timer_t *t)
{
    struct gw_ws *ws = t->data;
    struct gw_req *r = ws->req;
    if (!r || r->cut_reason)
        return;
    const struct gw_options *o = r->conn->w->srv->opt;
    uint64_t now = uv_now(&r->conn->w->loop);
    if (now - ws->last_data >= (uint64_t)o->ws_idle_timeout_ms) {
        gw_ws_close(r, 1001, "idle");
        return;
    }
    if (o->ws_ping_interval_ms <= 0)
        return;
    if (ws->ping_out) {
        if (now - ws->ping_sent >= (uint64_t)o->ws_ping_interval_ms) {
            WL_INFO(r->conn->idstr, "websocket: no pong from the device");
            gw_ws_close(r, 1001, "no pong");
        }
        return;
    }
    if (now - ws->last_rx >= (uint64_t)o->ws_ping_interval_ms && at_boundary(&ws->down)) {
        uint8_t f[2 + sizeof ws->ping];
        ws->nping++;
        char tag[12]; /* 8 bytes exactly: "wl" and 6 hex digits */
        snprintf(tag, sizeof tag, "wl%06x", ws->nping & 0xffffff);
        memcpy(ws->ping, tag, sizeof ws->ping);
        size_t fl = frame_head(f, OP_PING, sizeof ws->ping);
        memcpy(f + fl, ws->ping, sizeof ws->ping);
        to_device(ws, f, fl + sizeof ws->ping);
        ws->ping_out = true;
        ws->ping_sent = now;
    }
}

static void timer_closed(uv_handle_t *h)
{
    free(h->data);
}

/* ---------------- open / dispose ---------------- */

int gw_ws_open(struct gw_req *r, const struct wl_http1_message *msg, const char *rest,
               size_t restlen)
{
    struct gw_conn *c = r->conn;
    struct gw_worker *w = c->w;
    const struct wl_http1_header *up = wl_http1_find_header(msg, "upgrade");
    if (!up || !has_token(up->value.base, up->value.len, "websocket"))
        return -1;
    if (r->ws_key) {
        char want[40];
        accept_for(r->ws_key, want);
        const struct wl_http1_header *acc = wl_http1_find_header(msg, "sec-websocket-accept");
        if (!acc || acc->value.len != strlen(want) ||
            memcmp(acc->value.base, want, acc->value.len) != 0)
            return -1;
    }
    struct gw_hdrs h = {0}, all = {0};
    gw_hdr_origin_response(&r->arena, msg, &all);
    for (size_t i = 0; i < all.n; i++) {
        const struct gw_hdr *e = &all.v[i];
        if (e->nlen == 10 && strncasecmp(e->name, "set-cookie", 10) == 0)
            continue; /* origin cookies never reach the device */
        if (r->ws_key && e->nlen == 20 && strncasecmp(e->name, "sec-websocket-accept", 20) == 0)
            continue; /* HTTP/2: no accept header */
        gw_hdrs_add(&r->arena, &h, e->name, e->nlen, e->value, e->vlen);
    }
    struct gw_ws *ws = calloc(1, sizeof *ws);
    if (!ws)
        abort();
    ws->req = r;
    ws->last_rx = ws->last_data = uv_now(&w->loop);
    uv_timer_init(&w->loop, &ws->timer);
    ws->timer.data = ws;
    const struct gw_options *o = w->srv->opt;
    int64_t tick = o->ws_idle_timeout_ms;
    if (o->ws_ping_interval_ms > 0 && o->ws_ping_interval_ms < tick)
        tick = o->ws_ping_interval_ms;
    tick /= 4;
    tick = tick < 50 ? 50 : tick > 1000 ? 1000 : tick;
    uv_timer_start(&ws->timer, timer_cb, (uint64_t)tick, (uint64_t)tick);
    r->ws = ws;
    r->resp_started = true;
    GW_INC(w->m.ws_total);
    GW_INC(w->m.ws_open);
    if (c->proto == GW_PROTO_H2) {
        r->status = 200;
        gw_h2_resp_head(r, 200, &h);
    } else {
        r->status = 101;
        size_t cap = 128;
        for (size_t i = 0; i < h.n; i++)
            cap += h.v[i].nlen + h.v[i].vlen + 4;
        char *buf = gw_arena_alloc(&r->arena, cap);
        size_t n = (size_t)snprintf(buf, cap,
                                    "HTTP/1.1 101 Switching Protocols\r\n"
                                    "Upgrade: websocket\r\nConnection: Upgrade\r\n");
        for (size_t i = 0; i < h.n; i++) {
            memcpy(buf + n, h.v[i].name, h.v[i].nlen);
            n += h.v[i].nlen;
            memcpy(buf + n, ": ", 2);
            n += 2;
            memcpy(buf + n, h.v[i].value, h.v[i].vlen);
            n += h.v[i].vlen;
            memcpy(buf + n, "\r\n", 2);
            n += 2;
        }
        memcpy(buf + n, "\r\n", 2);
        gw_h1_resp_head(r, 101, buf, n + 2);
    }
    r->ws_event = "open";
    gw_audit_req(r);
    r->ws_event = "close"; /* the request's final audit event is the close */
    WL_INFO(c->idstr, "websocket open: %.*s", (int)r->target_len, r->target);
    if (restlen && gw_ws_origin_data(r, rest, restlen) < 0)
        return 0;
    if (c->proto == GW_PROTO_H1) {
        c->in_body = false;
        gw_sock_read_start(&c->sock);
        if (c->inlen > 0) { /* the device did not wait for the 101 */
            size_t n = c->inlen;
            c->inlen = 0;
            char *tmp = malloc(n);
            if (!tmp)
                abort();
            memcpy(tmp, c->inbuf, n);
            gw_req_body(r, tmp, n); /* may end the tunnel */
            free(tmp);
        }
    }
    return 0;
}

void gw_ws_dispose(struct gw_req *r)
{
    struct gw_ws *ws = r->ws;
    if (!ws)
        return;
    r->ws = NULL;
    ws->req = NULL;
    GW_SUB(r->conn->w->m.ws_open, 1);
    uv_timer_stop(&ws->timer);
    uv_close((uv_handle_t *)&ws->timer, timer_closed);
}
