/* sock.c - a TCP stream with optional TLS through memory BIOs, with write-queue accounting so the
 * owner can apply backpressure. Worker thread only.
 *
 * Reads land in the worker's rbuf (consumed before the callback returns); TLS plaintext is read
 * record by record into a stack buffer and handed to on_data, which must consume it all. When the
 * owner stops reading, decrypted-but-unread data stays inside OpenSSL and is pumped again by
 * gw_sock_read_start(). */
#include "gw_internal.h"

#include <openssl/buffer.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

struct wreq {
    uv_write_t req;
    struct gw_sock *s;
    size_t len;
    char data[];
};

static void pump(struct gw_sock *s);
static void fail(struct gw_sock *s, int status);
void gw_sock_trim(struct gw_sock *s);

int gw_sock_init(struct gw_worker *w, struct gw_sock *s)
{
    memset(s, 0, sizeof *s);
    s->w = w;
    int rc = uv_tcp_init(&w->loop, &s->tcp);
    if (rc == 0)
        s->tcp.data = s;
    return rc;
}

void gw_sock_set_tls(struct gw_sock *s, SSL *ssl, bool server)
{
    s->ssl = ssl;
    s->rbio = BIO_new(BIO_s_mem());
    s->wbio = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(s->rbio, -1);
    SSL_set_bio(ssl, s->rbio, s->wbio);
    if (server)
        SSL_set_accept_state(ssl);
    else
        SSL_set_connect_state(ssl);
}

static void note_sent(struct gw_sock *s, size_t n);

static void write_cb(uv_write_t *req, int status)
{
    struct wreq *wr = (struct wreq *)req;
    struct gw_sock *s = wr->s;
    size_t len = wr->len;
    free(wr);
    s->wq_uv -= len;
    if (status < 0 || s->closing) {
        s->wq -= len;
        return;
    }
    note_sent(s, len);
    if (s->want_trim && s->wq_uv == 0 && !s->closing)
        gw_sock_trim(s);
}

/* on_drain fires when wq falls below GW_LWM after having reached it: owners that paused a
 * producer (at GW_HWM, or on a full stream buffer of their own) resume it there. */
static void note_queued(struct gw_sock *s, size_t n)
{
    s->wq += n;
    if (s->wq >= GW_LWM)
        s->above_hwm = true;
}

static void note_sent(struct gw_sock *s, size_t n)
{
    s->wq -= n;
    if (s->above_hwm && s->wq < GW_LWM && !s->closing) {
        s->above_hwm = false;
        if (s->on_drain)
            s->on_drain(s, 0);
    }
}

/* Sends bytes (already encrypted when TLS) that are not yet counted in wq: written at once when
 * nothing is queued before them (no write request, no epoll change), the rest queued. */
static int send_bytes(struct gw_sock *s, const char *data, size_t len)
{
    if (s->wq_uv == 0) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        int n = uv_try_write((uv_stream_t *)&s->tcp, &b, 1);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        }
        if (len == 0)
            return 0;
    }
    struct wreq *wr = malloc(sizeof *wr + len);
    if (!wr)
        return UV_ENOMEM;
    wr->s = s;
    wr->len = len;
    memcpy(wr->data, data, len);
    uv_buf_t b = uv_buf_init(wr->data, (unsigned)len);
    int rc = uv_write(&wr->req, (uv_stream_t *)&s->tcp, &b, 1, write_cb);
    if (rc < 0) {
        free(wr);
        return rc;
    }
    s->wq_uv += len;
    note_queued(s, len);
    return 0;
}

/* Sends whatever OpenSSL produced (its bytes were counted in wq when they were produced by
 * gw_sock_write, or are new: handshake, alerts). */
static int flush_tls(struct gw_sock *s)
{
    if (s->flush_queued) {
        gw_list_remove(&s->flink);
        s->flush_queued = false;
    }
    char *p = NULL;
    long n = BIO_get_mem_data(s->wbio, &p);
    size_t counted = s->tls_pending < (size_t)(n > 0 ? n : 0) ? s->tls_pending : (size_t)n;
    s->tls_pending = 0;
    if (n <= 0 || s->closing) {
        if (counted)
            note_sent(s, counted);
        return 0;
    }
    int rc = send_bytes(s, p, (size_t)n);
    (void)BIO_reset(s->wbio);
    if (counted)
        note_sent(s, counted); /* what is still queued was counted again by send_bytes */
    if (s->want_trim && !s->closing)
        gw_sock_trim(s);
    return rc;
}

int gw_sock_write(struct gw_sock *s, const void *data, size_t len)
{
    if (s->closing)
        return UV_ECANCELED;
    if (len == 0)
        return 0;
    if (!s->ssl)
        return send_bytes(s, data, len);
    size_t before = BIO_ctrl_pending(s->wbio);
    const char *p = data;
    while (len > 0) {
        int chunk = len > (1 << 30) ? (1 << 30) : (int)len;
        int n = SSL_write(s->ssl, p, chunk);
        if (n <= 0) {
            ERR_clear_error();
            return UV_EPROTO;
        }
        p += n;
        len -= (size_t)n;
    }
    /* Records wait until the end of this loop iteration (gw_sock_flush_all), so a response head
     * and its body written by one callback leave in one write. */
    size_t added = BIO_ctrl_pending(s->wbio) - before;
    s->tls_pending += added;
    note_queued(s, added);
    if (!s->flush_queued) {
        s->flush_queued = true;
        gw_list_insert(&s->w->sockq, &s->flink);
        gw_worker_poll_now(s->w);
    }
    return 0;
}

/* A fresh memory BIO in place of one that grew beyond `keep` bytes while it is empty. */
static BIO *trimmed(BIO *b, size_t keep, bool rbio)
{
    BUF_MEM *bm = NULL;
    if (BIO_ctrl_pending(b) != 0 || BIO_get_mem_ptr(b, &bm) != 1 || !bm || bm->max <= keep)
        return NULL;
    BIO *n = BIO_new(BIO_s_mem());
    if (n && rbio)
        BIO_set_mem_eof_return(n, -1);
    return n;
}

void gw_sock_trim(struct gw_sock *s)
{
    if (!s->ssl || s->closing || !s->handshake_done)
        return;
    s->want_trim = true;
    if (s->flush_queued || s->wq_uv != 0 || s->in_pump)
        return; /* again once the queued bytes left (flush_tls, write_cb) */
    s->want_trim = false;
    BIO *r = trimmed(s->rbio, 512, true);
    if (r) {
        SSL_set0_rbio(s->ssl, r); /* frees the old one */
        s->rbio = r;
    }
    BIO *w = trimmed(s->wbio, 512, false);
    if (w) {
        SSL_set0_wbio(s->ssl, w);
        s->wbio = w;
    }
}

void gw_sock_flush_all(struct gw_worker *w)
{
    while (!gw_list_empty(&w->sockq)) {
        struct gw_sock *s = GW_CONTAINER(w->sockq.next, struct gw_sock, flink);
        int rc = flush_tls(s); /* takes s off the list */
        if (rc < 0 && !s->closing)
            fail(s, rc);
    }
}

static void fail(struct gw_sock *s, int status)
{
    if (s->closing)
        return;
    s->reading = false;
    s->failed = status != UV_EOF;
    uv_read_stop((uv_stream_t *)&s->tcp);
    if (s->on_error)
        s->on_error(s, status);
}

static void pump(struct gw_sock *s)
{
    if (s->in_pump || s->closing)
        return;
    s->in_pump = true;
    if (!s->handshake_done) {
        ERR_clear_error();
        int r = SSL_do_handshake(s->ssl);
        flush_tls(s);
        if (r == 1) {
            s->handshake_done = true;
            if (s->on_handshake)
                s->on_handshake(s, 0);
        } else {
            int e = SSL_get_error(s->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                s->in_pump = false;
                ERR_clear_error();
                fail(s, UV_EPROTO);
                return;
            }
        }
    }
    char buf[16384];
    while (s->handshake_done && s->reading && !s->closing) {
        int n = SSL_read(s->ssl, buf, sizeof buf);
        if (n > 0) {
            s->on_data(s, buf, (size_t)n);
            continue;
        }
        int e = SSL_get_error(s->ssl, n);
        ERR_clear_error();
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (s->eof) {
                s->in_pump = false;
                fail(s, UV_EOF);
                return;
            }
            break;
        }
        s->in_pump = false;
        fail(s, e == SSL_ERROR_ZERO_RETURN ? UV_EOF : UV_EPROTO);
        return;
    }
    if (!s->closing)
        flush_tls(s);
    s->in_pump = false;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct gw_sock *s = h->data;
    buf->base = s->w->rbuf;
    buf->len = sizeof s->w->rbuf;
}

/* PROXY protocol v2: returns bytes consumed from data, or -1 on a malformed header. */
static ssize_t proxy_feed(struct gw_sock *s, const char *data, size_t len)
{
    static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    size_t need = 16;
    if (s->proxy_len >= 16)
        need = 16 + ((size_t)s->proxy_buf[14] << 8 | s->proxy_buf[15]);
    size_t used = 0;
    while (used < len && s->proxy_len < need) {
        s->proxy_buf[s->proxy_len++] = (uint8_t)data[used++];
        if (s->proxy_len == 12 && memcmp(s->proxy_buf, sig, 12) != 0)
            return -1;
        if (s->proxy_len == 16) {
            if ((s->proxy_buf[12] & 0xF0) != 0x20)
                return -1;
            need = 16 + ((size_t)s->proxy_buf[14] << 8 | s->proxy_buf[15]);
            if (need > sizeof s->proxy_buf)
                return -1;
        }
    }
    if (s->proxy_len < need)
        return (ssize_t)used;
    s->proxy_pending = false;
    uint8_t cmd = s->proxy_buf[12] & 0x0F, fam = s->proxy_buf[13];
    if (cmd == 1 && fam == 0x11 && need >= 16 + 12)
        inet_ntop(AF_INET, s->proxy_buf + 16, s->peer, sizeof s->peer);
    else if (cmd == 1 && fam == 0x21 && need >= 16 + 36)
        inet_ntop(AF_INET6, s->proxy_buf + 16, s->peer, sizeof s->peer);
    return (ssize_t)used;
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct gw_sock *s = st->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        if (s->ssl && s->handshake_done && nread == UV_EOF) {
            s->eof = true;
            pump(s); /* deliver what is buffered, then report EOF */
            if (!s->closing && s->reading)
                fail(s, UV_EOF);
            return;
        }
        fail(s, (int)nread);
        return;
    }
    const char *data = buf->base;
    size_t len = (size_t)nread;
    if (s->proxy_pending) {
        ssize_t used = proxy_feed(s, data, len);
        if (used < 0) {
            fail(s, UV_EPROTO);
            return;
        }
        data += used;
        len -= (size_t)used;
        if (len == 0)
            return;
    }
    if (!s->ssl) {
        s->on_data(s, (char *)data, len);
        return;
    }
    BIO_write(s->rbio, data, (int)len);
    pump(s);
}

int gw_sock_read_start(struct gw_sock *s)
{
    if (s->closing)
        return UV_ECANCELED;
    if (s->reading)
        return 0;
    s->reading = true;
    int rc = uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb);
    if (rc < 0 && rc != UV_EALREADY)
        return rc;
    if (s->ssl && (SSL_pending(s->ssl) > 0 || BIO_ctrl_pending(s->rbio) > 0))
        pump(s);
    return 0;
}

void gw_sock_read_stop(struct gw_sock *s)
{
    if (!s->reading)
        return;
    s->reading = false;
    uv_read_stop((uv_stream_t *)&s->tcp);
}

void gw_sock_connect_tls(struct gw_sock *s)
{
    pump(s);
}

static void close_cb(uv_handle_t *h)
{
    struct gw_sock *s = h->data;
    if (s->ssl) {
        SSL_free(s->ssl); /* frees both BIOs */
        s->ssl = NULL;
    }
    if (s->on_close)
        s->on_close(s);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    (void)status;
    struct gw_sock *s = req->data;
    if (!uv_is_closing((uv_handle_t *)&s->tcp))
        uv_close((uv_handle_t *)&s->tcp, close_cb);
}

void gw_sock_close(struct gw_sock *s)
{
    if (s->closing)
        return;
    s->above_hwm = false; /* no on_drain while closing */
    if (s->ssl && s->handshake_done && !s->eof && !s->failed) {
        SSL_shutdown(s->ssl);
        flush_tls(s);
    } else if (s->ssl)
        flush_tls(s); /* records written earlier in this iteration leave before the close */
    ERR_clear_error();
    s->closing = true;
    if (s->reading)
        uv_read_stop((uv_stream_t *)&s->tcp);
    s->reading = false;
    if (s->wq > 0 && !s->failed) {
        s->shut.data = s;
        if (uv_shutdown(&s->shut, (uv_stream_t *)&s->tcp, shutdown_cb) == 0)
            return; /* queued writes finish first; the owner's timer bounds the wait */
    }
    uv_close((uv_handle_t *)&s->tcp, close_cb);
}

void gw_sock_abort(struct gw_sock *s)
{
    if (s->flush_queued) {
        gw_list_remove(&s->flink);
        s->flush_queued = false;
    }
    s->closing = true;
    s->reading = false;
    if (!uv_is_closing((uv_handle_t *)&s->tcp))
        uv_close((uv_handle_t *)&s->tcp, close_cb);
}

void gw_bufq_push(struct gw_bufq *q, const void *data, size_t len)
{
    if (len == 0)
        return;
    struct gw_bufq_chunk *c = malloc(sizeof *c + len);
    if (!c)
        abort(); /* out of memory is fatal (STYLE) */
    c->next = NULL;
    c->len = len;
    c->off = 0;
    memcpy(c->data, data, len);
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->len += len;
}

size_t gw_bufq_pop(struct gw_bufq *q, void *out, size_t max)
{
    size_t got = 0;
    while (got < max && q->head) {
        struct gw_bufq_chunk *c = q->head;
        size_t n = c->len - c->off;
        if (n > max - got)
            n = max - got;
        memcpy((char *)out + got, c->data + c->off, n);
        c->off += n;
        got += n;
        if (c->off == c->len) {
            q->head = c->next;
            if (!q->head)
                q->tail = NULL;
            free(c);
        }
    }
    q->len -= got;
    return got;
}

void gw_bufq_dispose(struct gw_bufq *q)
{
    while (q->head) {
        struct gw_bufq_chunk *c = q->head;
        q->head = c->next;
        free(c);
    }
    q->tail = NULL;
    q->len = 0;
}
