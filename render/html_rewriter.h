/* html_rewriter.h - streaming HTML link rewriter on top of html_tokenizer.
 *
 * HTML bytes in, HTML bytes out through a write callback. Links are decided by url.h's policy on
 * the decoded value of:
 *   href, src, action, formaction, poster, background, manifest, lowsrc, dynsrc, codebase,
 *   xlink:href (any element), data (<object>), srcset/imagesrcset (each candidate), ping (each
 *   URL), content of <meta> (refresh syntax "N; url=..."), style attributes and <style> elements
 *   (url(...) and @import "..."), srcdoc of <iframe> (rewritten as a nested document), and, with
 *   strip_scripts, on* event handler attributes (emptied).
 * Only the first of duplicate attributes is rewritten (the one browsers use). The tokenizer's
 * content states follow a small tree-builder model (script, style, textarea, title, plaintext,
 * svg/math foreign content and its HTML integration points).
 *
 * Byte preservation: bytes are copied from the input unchanged except inside an attribute value
 * (or <style> text) where a URL is replaced; there, the stretch of the value around the URL (from
 * the last chunk boundary before it to the next one) is written from the decoded text, escaped
 * for its quoting. Where nothing is rewritten the output equals the input byte for byte.
 *
 * Memory per rewriter is bounded whatever the input (see rnd_rewriter_bytes_held): the only data
 * held back is the start of a URL up to its host (at most RND_URL_PREFIX_MAX decoded bytes) and
 * the raw bytes of that stretch (at most RND_RW_RAW_MAX, after which the stretch is written from
 * the decoded text instead).
 * Threading: one thread at a time per rewriter. */
#ifndef RND_HTML_REWRITER_H
#define RND_HTML_REWRITER_H

#include "url.h"

#include <stddef.h>
#include <stdint.h>

#define RND_RW_RAW_MAX (2 * 1024)
#define RND_RW_DEC_MAX (1 * 1024)

/* Receives output bytes (borrowed for the call). Called synchronously from rnd_rewriter_feed /
 * rnd_rewriter_finish. The return value is ignored: bound the output by bounding the input of
 * each feed call (rnd_stream does that). */
typedef void (*rnd_write_cb)(void *ud, const void *p, size_t n);

struct rnd_rewrite_stats {
    uint64_t urls;      /* URLs decided */
    uint64_t rewritten; /* moved inside the tunnel */
    uint64_t blocked;   /* foreign links neutralised, javascript: URLs and handlers stripped */
};

struct rnd_rewriter;

/* Returns a new rewriter. Copies *policy but borrows the strings it points to (domains,
 * prefixes), which must outlive the rewriter; borrows ud. Never returns NULL. */
struct rnd_rewriter *rnd_rewriter_new(const struct rnd_url_policy *policy, rnd_write_cb write,
                                      void *ud);

/* Skipping (on by default): the rewriter asks its tokenizer only for the events it needs (no
 * text outside <style>, no comment data, only attributes that may hold URLs, no decoding of a
 * URL's rest once it is decided), which is where most of its speed comes from. 0 turns it off
 * (every event is produced and looked at); the output is the same either way, which the fuzz
 * target checks. Call before the first rnd_rewriter_feed. */
void rnd_rewriter_set_skipping(struct rnd_rewriter *rw, int on);

/* Frees rw. rnd_rewriter_free(NULL) does nothing. */
void rnd_rewriter_free(struct rnd_rewriter *rw);

/* Rewrites n bytes (borrowed for the call). Output for them (except what is held back, see
 * above) is written before it returns. */
void rnd_rewriter_feed(struct rnd_rewriter *rw, const void *p, size_t n);

/* End of input: writes everything still held. Call once. */
void rnd_rewriter_finish(struct rnd_rewriter *rw);

/* Bytes of memory the rewriter holds now (tokenizer, buffers, nested srcdoc rewriter). */
size_t rnd_rewriter_bytes_held(const struct rnd_rewriter *rw);

/* Counters since rnd_rewriter_new. */
void rnd_rewriter_stats(const struct rnd_rewriter *rw, struct rnd_rewrite_stats *out);

#endif
