/* stream.h - one response body through the renderer: decode, rewrite, re-encode, with
 * backpressure. This is what the gateway's HTTP/1 and HTTP/2 response paths call.
 *
 *   origin bytes --rnd_stream_feed--> [gunzip/brotli] -> rewriter -> [gzip/brotli] -> queue
 *   queue --rnd_stream_peek/rnd_stream_consume--> device
 *
 * Push/pull with backpressure: rnd_stream_feed accepts input only while the output queue is
 * below its high-water mark (RND_STREAM_HIGH_WATER for identity output, RND_STREAM_HIGH_WATER_ENC
 * for gzip/br output); it returns how many bytes it took (possibly fewer than offered, possibly
 * 0): drain the queue (peek + consume, e.g. when the socket is writable or the HTTP/2
 * flow-control window opens) and offer the rest again. Input is processed in slices of at most
 * RND_STREAM_SLICE bytes (and decoded in pieces of that size), so the queue never exceeds the
 * high-water mark by more than what one slice can produce. The queue grows only as needed and
 * is freed whenever it is drained. rnd_stream_finish likewise returns RND_STREAM_AGAIN until
 * everything is flushed into the queue.
 *
 * Memory per stream is bounded whatever the input (rnd_stream_bytes_held counts every byte the
 * stream allocated, codec state included): the rewriter (html_rewriter.h, ~6.5 KiB), the queue,
 * and the codecs (inflate: 39 KiB, of which 32 KiB is the window a gzip stream may use; gzip out:
 * level 1, 1 KiB window, memLevel 3, 13.8 KiB; brotli out: quality 1, 1 KiB window, 6.4 KiB plus
 * a 1 KiB stage). Measured peaks (test_stream.c, bench_render): below 64 KiB for identity or
 * gzip in with identity, gzip or br out. The exception is brotli input: its window is what its
 * sender chose, up to 16 MiB by the format (the gateway asks origins only for gzip/identity).
 * Decoded size is bounded by max_decoded (decompression bombs): past it, feed fails with
 * RND_STREAM_ETOOBIG.
 *
 * Bodies that the header policy does not rewrite (RND_BODY_PASS) should not go through a stream
 * at all: send them as they are (no copy). A stream in pass mode copies input to the queue.
 * Threading: one thread at a time per stream; no I/O, no global state. */
#ifndef RND_STREAM_H
#define RND_STREAM_H

#include "header_policy.h"
#include "html_rewriter.h"
#include "url.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RND_STREAM_SLICE 2048
#define RND_STREAM_HIGH_WATER (4 * 1024) /* identity output (and pass mode) */
#define RND_STREAM_HIGH_WATER_ENC 512    /* gzip / br output */
#define RND_STREAM_DEFAULT_MAX_DECODED ((uint64_t)256 << 20)

#define RND_STREAM_AGAIN 1
#define RND_STREAM_EDECODE (-2)
#define RND_STREAM_ETOOBIG (-3)
#define RND_STREAM_ESTATE (-4)

struct rnd_stream_config {
    const struct rnd_url_policy *urls; /* borrowed, must outlive the stream */
    enum rnd_body_mode mode;           /* RND_BODY_REWRITE_HTML or RND_BODY_PASS */
    enum rnd_coding in_coding;         /* the origin's Content-Encoding */
    enum rnd_coding out_coding;        /* what to send (header policy's out_coding) */
    uint64_t max_decoded;              /* 0: RND_STREAM_DEFAULT_MAX_DECODED */
};

struct rnd_stream;

/* A new stream for one response body. Returns NULL for a configuration it cannot serve
 * (RND_CODING_OTHER, deflate output). */
struct rnd_stream *rnd_stream_new(const struct rnd_stream_config *cfg);

/* Frees s. rnd_stream_free(NULL) does nothing. */
void rnd_stream_free(struct rnd_stream *s);

/* Offers n body bytes (borrowed for the call). Returns how many were taken (0..n), or a negative
 * RND_STREAM_E* code (the stream is then failed: abort the response). */
ssize_t rnd_stream_feed(struct rnd_stream *s, const void *p, size_t n);

/* End of the body. Returns 0 when all output is in the queue, RND_STREAM_AGAIN when the queue
 * must be drained first (call again), or a negative RND_STREAM_E* code (a truncated gzip body
 * is RND_STREAM_EDECODE). */
int rnd_stream_finish(struct rnd_stream *s);

/* Output waiting to be sent: *p (borrowed, valid until the next call on s) and its length. */
size_t rnd_stream_peek(struct rnd_stream *s, const void **p);

/* Marks n bytes of the peeked output as sent. */
void rnd_stream_consume(struct rnd_stream *s, size_t n);

/* 1 when rnd_stream_finish returned 0 and the queue is empty. */
int rnd_stream_done(const struct rnd_stream *s);

/* Bytes of memory the stream holds now (everything it allocated, codecs included). */
size_t rnd_stream_bytes_held(const struct rnd_stream *s);

/* Bytes decoded / written so far (for logs and tests). */
uint64_t rnd_stream_decoded(const struct rnd_stream *s);
uint64_t rnd_stream_written(const struct rnd_stream *s);

/* Rewriter counters (zero in pass mode). */
void rnd_stream_stats(const struct rnd_stream *s, struct rnd_rewrite_stats *out);

#endif
