/* h2.c - the HTTP/2 server side of a device connection, on nghttp2.
 *
 * Each stream is a gw_req. Request DATA is acknowledged (WINDOW_UPDATE, via
 * nghttp2_session_consume) only once the origin can take it, so a slow origin slows the device's
 * upload instead of growing a buffer. Response bytes wait in the stream's queue (bounded by
 * GW_HWM: the origin is paused above it) and are pulled by nghttp2's data provider. Output is
 * written from the worker's check callback, once per loop iteration and never re-entrantly, so
 * no nghttp2 callback can free a request under a caller's feet. Worker thread only. */
#include "gw_internal.h"

#include "log.h"

#include <stdlib.h>
#include <string.h>

static struct gw_req *stream_req(struct gw_conn *c, int32_t id)
{
    return nghttp2_session_get_stream_user_data(c->h2, id);
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct gw_conn *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct gw_req *r = gw_req_new(c, f->hd.stream_id);
    gw_list_insert(&c->streams, &r->link);
    nghttp2_session_set_stream_user_data(s, f->hd.stream_id, r);
    GW_INC(c->w->m.h2_streams);
    return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    (void)s;
    (void)flags;
    struct gw_conn *c = ud;
    struct gw_req *r = stream_req(c, f->hd.stream_id);
    if (!r || r->resp_started)
        return 0;
    r->head_bytes += nlen + vlen + 32;
    if (r->head_bytes > GW_MAX_HEAD)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM */
    const char *n = (const char *)name, *v = (const char *)value;
    if (nlen > 0 && n[0] == ':') {
        if (nlen == 7 && memcmp(n, ":method", 7) == 0) {
            r->method = gw_arena_strndup(&r->arena, v, vlen);
            r->method_len = vlen;
        } else if (nlen == 5 && memcmp(n, ":path", 5) == 0) {
            r->target = gw_arena_strndup(&r->arena, v, vlen);
            r->target_len = vlen;
        } else if (nlen == 9 && memcmp(n, ":protocol", 9) == 0) {
            /* RFC 8441 extended CONNECT; other protocols are refused (405) by gw_req_start */
            r->ws_req = vlen == 9 && memcmp(v, "websocket", 9) == 0;
        } else if (nlen == 10 && memcmp(n, ":authority", 10) == 0) {
            r->authority = gw_arena_strndup(&r->arena, v, vlen);
            r->authority_len = vlen;
        }
        return 0;
    }
    if (nlen == 4 && memcmp(n, "host", 4) == 0 && !r->authority) {
        r->authority = gw_arena_strndup(&r->arena, v, vlen);
        r->authority_len = vlen;
        return 0;
    }
    if (nlen == 14 && memcmp(n, "content-length", 14) == 0) {
        char tmp[24];
        size_t k = vlen < sizeof tmp - 1 ? vlen : sizeof tmp - 1;
        memcpy(tmp, v, k);
        tmp[k] = '\0';
        r->content_length = strtoll(tmp, NULL, 10);
        return 0;
    }
    gw_hdrs_add(&r->arena, &r->hdrs, n, nlen, v, vlen);
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)s;
    struct gw_conn *c = ud;
    if (f->hd.stream_id == 0)
        return 0;
    struct gw_req *r = stream_req(c, f->hd.stream_id);
    if (!r)
        return 0;
    bool end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
        r->has_body = !end;
        r->body_done = end;
        if (r->content_length > (int64_t)c->w->srv->opt->max_body) {
            gw_req_error_page(r, 413, "Payload too large", "The request body is too large.");
            return 0;
        }
        gw_req_start(r);
        return 0;
    }
    if (end && (f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS))
        gw_req_body_end(r);
    return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud)
{
    (void)flags;
    struct gw_conn *c = ud;
    struct gw_req *r = stream_req(c, id);
    if (!r) {
        nghttp2_session_consume(s, id, len);
        return 0;
    }
    r->unconsumed += len;
    if (!r->ws_req && r->bytes_in + len > c->w->srv->opt->max_body) {
        nghttp2_session_consume(s, id, len);
        r->unconsumed -= len;
        if (!r->resp_started)
            gw_req_error_page(r, 413, "Payload too large", "The request body is too large.");
        else
            nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
        return 0;
    }
    gw_req_body(r, (const char *)data, len);
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    (void)code;
    struct gw_conn *c = ud;
    struct gw_req *r = stream_req(c, id);
    if (!r)
        return 0;
    nghttp2_session_set_stream_user_data(s, id, NULL);
    gw_list_remove(&r->link);
    if (!r->resp_done && r->status == 0)
        r->status = 499; /* closed by the device before an answer */
    gw_req_log(r);
    gw_req_free(r);
    return 0;
}

int gw_h2_init(struct gw_conn *c)
{
    nghttp2_session_callbacks *cb;
    nghttp2_option *opt;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -1;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_option_set_max_send_header_block_length(opt, 65536);
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    nghttp2_option_set_max_settings(opt, 32);
    int rc = nghttp2_session_server_new2(&c->h2, cb, c, opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_option_del(opt);
    if (rc != 0)
        return -1;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, (uint32_t)c->w->srv->opt->max_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 256 * 1024},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, GW_MAX_HEAD},
        {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1}, /* WebSockets over HTTP/2 (RFC 8441) */
    };
    nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, 4 * 1024 * 1024);
    gw_h2_flush(c);
    return 0;
}

void gw_h2_recv(struct gw_conn *c, const char *data, size_t len)
{
    ssize_t n = nghttp2_session_mem_recv(c->h2, (const uint8_t *)data, len);
    if (n < 0) {
        WL_DEBUG(c->idstr, "http/2 error: %s", nghttp2_strerror((int)n));
        gw_conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, c->timer.timer_cb, c->w->srv->opt->idle_timeout_ms, 0);
    gw_h2_flush(c);
}

void gw_h2_flush(struct gw_conn *c)
{
    if (c->flush_queued || c->closing)
        return;
    c->flush_queued = true;
    /* Queued from a callback that runs before the poll phase (a write completion, a timer),
     * the check would only run once the poll returns: up to the next timer, 200 ms later. */
    gw_worker_poll_now(c->w);
    gw_list_insert(&c->w->flushq, &c->flink);
}

static void do_flush(struct gw_conn *c)
{
    char *buf = c->w->sbuf;
    size_t cap = sizeof c->w->sbuf, o = 0;
    while (!c->closing && c->sock.wq < GW_HWM) {
        const uint8_t *d;
        ssize_t n = nghttp2_session_mem_send(c->h2, &d);
        if (n < 0) {
            gw_conn_close(c);
            return;
        }
        if (n == 0)
            break;
        if (o + (size_t)n > cap) {
            gw_sock_write(&c->sock, buf, o);
            o = 0;
        }
        if ((size_t)n > cap) {
            gw_sock_write(&c->sock, d, (size_t)n);
            continue;
        }
        memcpy(buf + o, d, (size_t)n);
        o += (size_t)n;
    }
    if (o && !c->closing)
        gw_sock_write(&c->sock, buf, o);
    if (c->closing)
        return;
    if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2)) {
        gw_conn_close(c);
        return;
    }
    if (c->draining && gw_list_empty(&c->streams) && !nghttp2_session_want_write(c->h2)) {
        gw_conn_close(c);
        return;
    }
    /* resume origins whose streams drained */
    if (c->sock.wq < GW_LWM) {
        for (struct gw_list *l = c->streams.next; l != &c->streams; l = l->next) {
            struct gw_req *r = GW_CONTAINER(l, struct gw_req, link);
            if (r->up_paused && r->out.len < GW_LWM)
                gw_req_resume_origin(r);
        }
    }
}

void gw_h2_flush_all(struct gw_worker *w)
{
    while (!gw_list_empty(&w->flushq)) {
        struct gw_list *l = w->flushq.next;
        struct gw_conn *c = GW_CONTAINER(l, struct gw_conn, flink);
        gw_list_remove(l);
        c->flush_queued = false;
        if (!c->closing && c->h2)
            do_flush(c);
    }
}

static ssize_t read_cb(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                       nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)id;
    (void)ud;
    struct gw_req *r = src->ptr;
    size_t n = gw_bufq_pop(&r->out, buf, length);
    if (r->out_eof && r->out.len == 0) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        r->resp_done = true;
        return (ssize_t)n;
    }
    if (n == 0) {
        r->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

void gw_h2_resp_head(struct gw_req *r, int status, struct gw_hdrs *h)
{
    struct gw_conn *c = r->conn;
    nghttp2_nv *nv = gw_arena_alloc(&r->arena, (h->n + 1) * sizeof *nv);
    char *st = gw_arena_alloc(&r->arena, 4);
    snprintf(st, 4, "%03d", status);
    nv[0] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)st, 7, 3, NGHTTP2_NV_FLAG_NONE};
    size_t k = 1;
    for (size_t i = 0; i < h->n; i++) {
        char *name = (char *)h->v[i].name; /* arena copy: lowercase in place */
        for (size_t j = 0; j < h->v[i].nlen; j++)
            if (name[j] >= 'A' && name[j] <= 'Z')
                name[j] = (char)(name[j] + 32);
        nv[k++] =
            (nghttp2_nv){(uint8_t *)name, (uint8_t *)h->v[i].value, h->v[i].nlen, h->v[i].vlen,
                         NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
    }
    bool bodyless = r->is_head || status == 204 || status == 304;
    nghttp2_data_provider prd = {.source.ptr = r, .read_callback = read_cb};
    nghttp2_submit_response(c->h2, r->stream_id, nv, k, bodyless ? NULL : &prd);
    if (bodyless)
        r->resp_done = true;
    gw_h2_flush(c);
}

void gw_h2_resp_body_ready(struct gw_req *r)
{
    struct gw_conn *c = r->conn;
    if (r->deferred) {
        r->deferred = false;
        nghttp2_session_resume_data(c->h2, r->stream_id);
    }
    gw_h2_flush(c);
}

void gw_h2_consume(struct gw_req *r)
{
    if (r->unconsumed == 0)
        return;
    nghttp2_session_consume(r->conn->h2, r->stream_id, (size_t)r->unconsumed);
    r->unconsumed = 0;
    gw_h2_flush(r->conn);
}

void gw_h2_drain(struct gw_conn *c)
{
    nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(c->h2),
                          NGHTTP2_NO_ERROR, NULL, 0);
    gw_h2_flush(c);
}

void gw_h2_dispose(struct gw_conn *c)
{
    while (!gw_list_empty(&c->streams)) {
        struct gw_req *r = GW_CONTAINER(c->streams.next, struct gw_req, link);
        gw_list_remove(&r->link);
        if (c->h2)
            nghttp2_session_set_stream_user_data(c->h2, r->stream_id, NULL);
        if (r->status == 0)
            r->status = 499;
        gw_req_log(r);
        gw_req_free(r);
    }
    nghttp2_session_del(c->h2);
    c->h2 = NULL;
}
