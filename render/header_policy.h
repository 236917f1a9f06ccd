/* header_policy.h - the response header policy applied to every origin response.
 *
 * Headers in (the origin's), headers out (for the device), plus the decisions the body path
 * needs. What it does:
 * - caching: Cache-Control, Expires, Pragma, ETag, Last-Modified and Age are removed and
 *   "Cache-Control: no-store" is added, so the device keeps nothing and has no validator;
 * - cookies: every Set-Cookie/Set-Cookie2 is removed and returned in `set_cookies` for the
 *   session's server-side cookie jar (cookie_jar.h); none reaches the device;
 * - CSP: the origin's Content-Security-Policy headers are kept as they are and one more is added
 *   that limits connect-src, form-action, frame-src, img-src and script-src to 'self' and the
 *   fleet's associated domains. Browsers enforce every CSP header of a response (a resource
 *   must pass all of them), so the result is never weaker than the origin's policy nor ours;
 * - Clear-Site-Data: "cache", "cookies", "storage" on responses that end a session (sign_out);
 * - Referrer-Policy: same-origin and X-Content-Type-Options: nosniff replace the origin's;
 * - redirects: Location, Content-Location and Refresh go through the link policy (url.h);
 * - downloads: a response with Content-Disposition: attachment is blocked (status 403, body
 *   RND_BODY_BLOCK: the gateway sends its own page) unless the fleet allows downloads;
 * - hop-by-hop headers (Connection, Keep-Alive, Transfer-Encoding, Upgrade, Proxy-*, TE,
 *   Trailer) and Alt-Svc/Link are dropped (the gateway frames the response itself);
 * - body: text/html and application/xhtml+xml in UTF-8 or an ASCII-compatible charset, coded
 *   identity, gzip, deflate or br, are rewritten (RND_BODY_REWRITE_HTML): Content-Length,
 *   Content-MD5 and Digest are dropped, Content-Encoding is set to `out_coding` (gzip when the
 *   device accepts it, else br, else identity) with Vary: Accept-Encoding. Anything else passes
 *   untouched (RND_BODY_PASS) with its own Content-Length and Content-Encoding.
 * Thread-safe: no global state. */
#ifndef RND_HEADER_POLICY_H
#define RND_HEADER_POLICY_H

#include "url.h"

#include <stddef.h>

struct rnd_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

enum rnd_body_mode { RND_BODY_PASS = 0, RND_BODY_REWRITE_HTML, RND_BODY_BLOCK };

enum rnd_coding {
    RND_CODING_IDENTITY = 0,
    RND_CODING_GZIP,
    RND_CODING_DEFLATE,
    RND_CODING_BR,
    RND_CODING_OTHER,
};

struct rnd_hp_config {
    const struct rnd_url_policy *urls; /* borrowed: domains, tunnel port, link policy */
    int allow_downloads;
    int sign_out;                /* this response ends the session */
    const char *accept_encoding; /* the device's Accept-Encoding (borrowed), NULL = none */
};

struct rnd_hp_result {
    struct rnd_header *headers; /* headers for the device */
    size_t nheaders;
    struct rnd_header *set_cookies; /* the origin's Set-Cookie headers, for the cookie jar */
    size_t nset_cookies;
    enum rnd_body_mode body;
    enum rnd_coding in_coding, out_coding;
    int status; /* 0: keep the origin's status; else the status to send (403) */
    void **owned;
    size_t nowned;
};

/* Applies the policy to the origin's `n` headers `in` (borrowed). On success returns 0 and fills
 * *out; the names and values in out point either into `in` (which must outlive *out) or into
 * memory owned by *out (release with rnd_hp_result_dispose). Returns -1 on a malformed header
 * set (a header name that is empty or holds bytes not allowed in a token), *out untouched. */
int rnd_headers_apply(const struct rnd_hp_config *cfg, const struct rnd_header *in, size_t n,
                      struct rnd_hp_result *out);

/* Frees what rnd_headers_apply allocated. Safe on a zeroed result. */
void rnd_hp_result_dispose(struct rnd_hp_result *r);

/* Parses an Accept-Encoding value: 1 when `coding` ("gzip", "br") is acceptable (q > 0). */
int rnd_accept_encoding_has(const char *accept, const char *coding);

/* The Accept-Encoding the gateway should send to origins ("gzip, identity" ...). */
const char *rnd_origin_accept_encoding(void);

#endif
