/* stream.c - decode / rewrite / encode pipeline with an output queue (see stream.h). */
#include "stream.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* gzip output: level 1, a 1 KiB window, memLevel 3: zlib then holds (1 << (GZ_WBITS + 2)) +
 * (1 << (GZ_MEMLEVEL + 9)) bytes plus ~5.8 KiB of state, 13.8 KiB in all (the 16 + 12 bits,
 * memLevel 5 used before held 37.8 KiB). On the bench corpus: 4.2x instead of 5.1x. */
#define GZ_WBITS 10
#define GZ_MEMLEVEL 3
/* brotli output: quality 1 with the smallest window brotli has (1 KiB): 6.4 KiB of encoder
 * state plus the 1 KiB stage (lgwin 11 holds ~12 KiB more, the lgwin 16 used before ~27 KiB
 * more); 2.3x on the bench corpus instead of 4.1x. br is only sent to devices without gzip. */
#define BR_LGWIN 10

struct rnd_stream {
    struct rnd_stream_config cfg;
    struct rnd_rewriter *rw;
    /* decoder */
    z_stream zin;
    int zin_live, zin_done;
    BrotliDecoderState *bin;
    int bin_done;
    /* encoder */
    z_stream zout;
    int zout_live;
    BrotliEncoderState *bout;
    /* output queue */
    char *q;
    size_t qstart, qlen, qcap, high;
    /* state */
    int failed, finished, enc_finished, sync_pending;
    size_t unflushed; /* bytes given to the encoder since its last flush */
    /* brotli output: the rewriter's output is staged so that the encoder sees pieces of a
     * block's size (allocated through the counting allocator; NULL for other codings) */
    char *stage;
    size_t stage_len, stage_cap;
    uint64_t decoded, written;
    size_t held; /* bytes allocated through the counting allocator */
};

/* ---- counting allocator for the codecs ---- */

static void *cnt_alloc(struct rnd_stream *s, size_t n)
{
    size_t *p = malloc(n + sizeof(size_t) * 2);
    if (!p)
        return NULL;
    p[0] = n;
    s->held += n;
    return p + 2;
}

static void cnt_free(struct rnd_stream *s, void *ptr)
{
    if (!ptr)
        return;
    size_t *p = (size_t *)ptr - 2;
    s->held -= p[0];
    free(p);
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    return cnt_alloc(opaque, (size_t)items * size);
}

static void z_free(voidpf opaque, voidpf address)
{
    cnt_free(opaque, address);
}

static void *b_alloc(void *opaque, size_t size)
{
    return cnt_alloc(opaque, size);
}

static void b_free(void *opaque, void *address)
{
    cnt_free(opaque, address);
}

/* ---- queue ---- */

static void q_add(struct rnd_stream *s, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (s->qstart && s->qstart + s->qlen + n > s->qcap) {
        memmove(s->q, s->q + s->qstart, s->qlen);
        s->qstart = 0;
    }
    if (s->qlen + n > s->qcap) {
        /* grow to what is needed (in 512-byte steps: a few reallocs per fill, no slack): the
         * queue is bounded by the high-water mark plus one step's output, and is freed
         * whenever it is drained */
        size_t cap = (s->qlen + n + 511) & ~(size_t)511;
        char *nq = realloc(s->q, cap);
        if (!nq)
            abort();
        s->q = nq;
        s->qcap = cap;
    }
    memcpy(s->q + s->qstart + s->qlen, p, n);
    s->qlen += n;
    s->written += n;
}

/* ---- encoder ---- */

static void enc_write(struct rnd_stream *s, const void *p, size_t n, int op)
{
    unsigned char buf[4096];
    if (s->cfg.out_coding == RND_CODING_IDENTITY || s->cfg.mode == RND_BODY_PASS) {
        q_add(s, p, n);
        return;
    }
    if (s->cfg.out_coding == RND_CODING_GZIP) {
        s->zout.next_in = (Bytef *)(uintptr_t)p;
        s->zout.avail_in = (uInt)n;
        int flush = op == 0 ? Z_NO_FLUSH : op == 1 ? Z_SYNC_FLUSH : Z_FINISH;
        for (;;) {
            s->zout.next_out = buf;
            s->zout.avail_out = sizeof buf;
            int r = deflate(&s->zout, flush);
            q_add(s, buf, sizeof buf - s->zout.avail_out);
            if (r == Z_STREAM_END || r == Z_STREAM_ERROR)
                break;
            if (s->zout.avail_out != 0 && s->zout.avail_in == 0)
                break;
        }
        return;
    }
    /* brotli */
    const uint8_t *in = p;
    size_t avail_in = n;
    BrotliEncoderOperation bop = op == 0   ? BROTLI_OPERATION_PROCESS
                                 : op == 1 ? BROTLI_OPERATION_FLUSH
                                           : BROTLI_OPERATION_FINISH;
    for (;;) {
        uint8_t *out = buf;
        size_t avail_out = sizeof buf;
        if (!BrotliEncoderCompressStream(s->bout, bop, &avail_in, &in, &avail_out, &out, NULL))
            break;
        q_add(s, buf, sizeof buf - avail_out);
        if (avail_in == 0 && !BrotliEncoderHasMoreOutput(s->bout) &&
            (op != 2 || BrotliEncoderIsFinished(s->bout)))
            break;
    }
}

static void stage_flush(struct rnd_stream *s)
{
    if (s->stage_len) {
        enc_write(s, s->stage, s->stage_len, 0);
        s->stage_len = 0;
    }
}

static void rw_write(void *ud, const void *p, size_t n)
{
    struct rnd_stream *s = ud;
    s->sync_pending = 1;
    s->unflushed += n;
    if (!s->stage_cap) {
        enc_write(s, p, n, 0);
        return;
    }
    if (s->stage_len + n > s->stage_cap)
        stage_flush(s);
    if (n >= s->stage_cap) {
        enc_write(s, p, n, 0);
        return;
    }
    memcpy(s->stage + s->stage_len, p, n);
    s->stage_len += n;
}

/* ---- decoded bytes into the rewriter ---- */

static int take_decoded(struct rnd_stream *s, const void *p, size_t n)
{
    s->decoded += n;
    if (s->decoded > s->cfg.max_decoded)
        return RND_STREAM_ETOOBIG;
    if (s->cfg.mode == RND_BODY_PASS)
        rw_write(s, p, n);
    else
        rnd_rewriter_feed(s->rw, p, n);
    return 0;
}

struct rnd_stream *rnd_stream_new(const struct rnd_stream_config *cfg)
{
    if (cfg->in_coding == RND_CODING_OTHER || cfg->out_coding == RND_CODING_OTHER ||
        cfg->out_coding == RND_CODING_DEFLATE)
        return NULL;
    struct rnd_stream *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->cfg = *cfg;
    /* compressed output is small per step: a low mark keeps the queue small (identity output
     * is sent in larger writes) */
    s->high = cfg->mode == RND_BODY_REWRITE_HTML && cfg->out_coding != RND_CODING_IDENTITY
                  ? RND_STREAM_HIGH_WATER_ENC
                  : RND_STREAM_HIGH_WATER;
    if (!s->cfg.max_decoded)
        s->cfg.max_decoded = RND_STREAM_DEFAULT_MAX_DECODED;
    if (cfg->mode == RND_BODY_PASS) {
        s->cfg.in_coding = RND_CODING_IDENTITY;
        s->cfg.out_coding = RND_CODING_IDENTITY;
        s->cfg.max_decoded = UINT64_MAX;
        return s;
    }
    s->rw = rnd_rewriter_new(cfg->urls, rw_write, s);
    if (cfg->in_coding == RND_CODING_GZIP || cfg->in_coding == RND_CODING_DEFLATE) {
        s->zin.zalloc = z_alloc;
        s->zin.zfree = z_free;
        s->zin.opaque = s;
        /* gzip: auto-detect gzip/zlib headers; deflate: decided on the first byte */
        if (cfg->in_coding == RND_CODING_GZIP && inflateInit2(&s->zin, 15 + 32) != Z_OK)
            goto fail;
        s->zin_live = cfg->in_coding == RND_CODING_GZIP;
    } else if (cfg->in_coding == RND_CODING_BR) {
        s->bin = BrotliDecoderCreateInstance(b_alloc, b_free, s);
        if (!s->bin)
            goto fail;
    }
    if (cfg->out_coding == RND_CODING_GZIP) {
        s->zout.zalloc = z_alloc;
        s->zout.zfree = z_free;
        s->zout.opaque = s;
        if (deflateInit2(&s->zout, 1, Z_DEFLATED, 16 + GZ_WBITS, GZ_MEMLEVEL, Z_DEFAULT_STRATEGY) !=
            Z_OK)
            goto fail;
        s->zout_live = 1;
    } else if (cfg->out_coding == RND_CODING_BR) {
        s->bout = BrotliEncoderCreateInstance(b_alloc, b_free, s);
        if (!s->bout)
            goto fail;
        BrotliEncoderSetParameter(s->bout, BROTLI_PARAM_QUALITY, 1);
        BrotliEncoderSetParameter(s->bout, BROTLI_PARAM_LGWIN, BR_LGWIN);
        /* brotli's fast levels compress each call's input on its own (in blocks of at most
         * 1 << BR_LGWIN bytes): the rewriter's small writes are staged to that size */
        s->stage_cap = (size_t)1 << BR_LGWIN;
        s->stage = cnt_alloc(s, s->stage_cap);
        if (!s->stage)
            goto fail;
    }
    return s;
fail:
    rnd_stream_free(s);
    return NULL;
}

void rnd_stream_free(struct rnd_stream *s)
{
    if (!s)
        return;
    rnd_rewriter_free(s->rw);
    if (s->zin_live)
        inflateEnd(&s->zin);
    if (s->zout_live)
        deflateEnd(&s->zout);
    if (s->bin)
        BrotliDecoderDestroyInstance(s->bin);
    if (s->bout)
        BrotliEncoderDestroyInstance(s->bout);
    cnt_free(s, s->stage);
    free(s->q);
    free(s);
}

static int queue_full(const struct rnd_stream *s)
{
    return s->qlen >= s->high;
}

/* Decodes up to n bytes (one slice); returns bytes consumed or a negative code. Stops early
 * when the queue fills (the decoder keeps what it already took). */
static ssize_t decode_slice(struct rnd_stream *s, const unsigned char *p, size_t n)
{
    unsigned char buf[RND_STREAM_SLICE];
    if (s->cfg.in_coding == RND_CODING_IDENTITY || s->cfg.mode == RND_BODY_PASS) {
        int r = take_decoded(s, p, n);
        return r < 0 ? r : (ssize_t)n;
    }
    if (s->cfg.in_coding == RND_CODING_BR) {
        size_t avail_in = n;
        const uint8_t *in = p;
        while (!s->bin_done) {
            uint8_t *out = buf;
            size_t avail_out = sizeof buf;
            BrotliDecoderResult r =
                BrotliDecoderDecompressStream(s->bin, &avail_in, &in, &avail_out, &out, NULL);
            if (r == BROTLI_DECODER_RESULT_ERROR)
                return RND_STREAM_EDECODE;
            int e = take_decoded(s, buf, sizeof buf - avail_out);
            if (e < 0)
                return e;
            if (r == BROTLI_DECODER_RESULT_SUCCESS) {
                s->bin_done = 1;
                avail_in = 0; /* trailing bytes after the end are ignored */
            }
            if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT || queue_full(s))
                break;
        }
        return (ssize_t)(n - avail_in);
    }
    /* gzip / deflate */
    if (!s->zin_live) {
        if (n == 0)
            return 0;
        /* deflate: zlib wrapper if the first two bytes are a valid zlib header, else raw */
        int zlib = n >= 2 && (p[0] & 0x0f) == 8 && ((p[0] << 8) | p[1]) % 31 == 0;
        if (n < 2 && (p[0] & 0x0f) == 8)
            return 0; /* wait for the second byte */
        if (inflateInit2(&s->zin, zlib ? 15 : -15) != Z_OK)
            return RND_STREAM_EDECODE;
        s->zin_live = 1;
    }
    s->zin.next_in = (Bytef *)(uintptr_t)p;
    s->zin.avail_in = (uInt)n;
    while (!s->zin_done) {
        s->zin.next_out = buf;
        s->zin.avail_out = sizeof buf;
        int r = inflate(&s->zin, Z_NO_FLUSH);
        if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
            return RND_STREAM_EDECODE;
        size_t got = sizeof buf - s->zin.avail_out;
        int e = take_decoded(s, buf, got);
        if (e < 0)
            return e;
        if (r == Z_STREAM_END) {
            s->zin_done = 1;
            s->zin.avail_in = 0; /* trailing bytes after the end are ignored */
        }
        if (s->zin.avail_out != 0 || queue_full(s))
            break;
    }
    return (ssize_t)(n - s->zin.avail_in);
}

ssize_t rnd_stream_feed(struct rnd_stream *s, const void *p, size_t n)
{
    if (s->failed)
        return s->failed;
    if (s->finished)
        return RND_STREAM_ESTATE;
    const unsigned char *in = p;
    size_t taken = 0;
    while (taken < n && !queue_full(s)) {
        size_t k = n - taken < RND_STREAM_SLICE ? n - taken : RND_STREAM_SLICE;
        ssize_t r = decode_slice(s, in + taken, k);
        if (r < 0) {
            s->failed = (int)r;
            return r;
        }
        stage_flush(s);
        taken += (size_t)r;
        if ((size_t)r < k)
            break; /* the decoder stopped: queue full, or waiting for a header byte */
    }
    /* flush so that the device sees the page as it streams: gzip after every call (5 bytes),
     * brotli (whose flushes cost more) once 32 KiB are pending */
    /* (only when all input was taken: when backpressure stopped us, the queue already has data
     * for the device and the encoder's buffer will be flushed by a later call) */
    if (taken == n && s->sync_pending && s->cfg.mode != RND_BODY_PASS &&
        (s->cfg.out_coding == RND_CODING_GZIP ||
         (s->cfg.out_coding == RND_CODING_BR && s->unflushed >= 32 * 1024))) {
        enc_write(s, NULL, 0, 1);
        s->sync_pending = 0;
        s->unflushed = 0;
    }
    return (ssize_t)taken;
}

int rnd_stream_finish(struct rnd_stream *s)
{
    if (s->failed)
        return s->failed;
    if (s->enc_finished)
        return 0;
    /* drain what the decoder still holds */
    if (s->zin_live && !s->zin_done) {
        while (!queue_full(s)) {
            ssize_t before = (ssize_t)s->decoded;
            ssize_t r = decode_slice(s, (const unsigned char *)"", 0);
            if (r < 0)
                return s->failed = (int)r;
            stage_flush(s);
            if ((ssize_t)s->decoded == before)
                break;
        }
        if (queue_full(s))
            return RND_STREAM_AGAIN;
        if (!s->zin_done)
            return s->failed = RND_STREAM_EDECODE; /* truncated */
    }
    if (s->bin && !s->bin_done) {
        while (!queue_full(s) && BrotliDecoderHasMoreOutput(s->bin)) {
            if (decode_slice(s, (const unsigned char *)"", 0) < 0)
                return s->failed = RND_STREAM_EDECODE;
            stage_flush(s);
        }
        if (queue_full(s))
            return RND_STREAM_AGAIN;
        if (!s->bin_done)
            return s->failed = RND_STREAM_EDECODE;
    }
    if (!s->finished) {
        s->finished = 1;
        if (s->rw)
            rnd_rewriter_finish(s->rw);
        stage_flush(s);
    }
    if (s->cfg.mode != RND_BODY_PASS && s->cfg.out_coding != RND_CODING_IDENTITY)
        enc_write(s, NULL, 0, 2);
    s->enc_finished = 1;
    return 0;
}

size_t rnd_stream_peek(struct rnd_stream *s, const void **p)
{
    *p = s->q ? s->q + s->qstart : ""; /* never NULL, even when the queue is empty */
    return s->qlen;
}

void rnd_stream_consume(struct rnd_stream *s, size_t n)
{
    if (n > s->qlen)
        n = s->qlen;
    s->qstart += n;
    s->qlen -= n;
    if (s->qlen == 0) {
        /* an idle stream (waiting for the origin) holds no queue */
        free(s->q);
        s->q = NULL;
        s->qstart = 0;
        s->qcap = 0;
    }
}

int rnd_stream_done(const struct rnd_stream *s)
{
    return s->enc_finished && s->qlen == 0;
}

size_t rnd_stream_bytes_held(const struct rnd_stream *s)
{
    return sizeof *s + s->held + s->qcap + (s->rw ? rnd_rewriter_bytes_held(s->rw) : 0);
}

uint64_t rnd_stream_decoded(const struct rnd_stream *s)
{
    return s->decoded;
}

uint64_t rnd_stream_written(const struct rnd_stream *s)
{
    return s->written;
}

void rnd_stream_stats(const struct rnd_stream *s, struct rnd_rewrite_stats *out)
{
    if (s->rw)
        rnd_rewriter_stats(s->rw, out);
    else
        memset(out, 0, sizeof *out);
}
