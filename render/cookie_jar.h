/* cookie_jar.h - the server-side cookie jar of one session (RFC 6265 storage model).
 *
 * Origin Set-Cookie headers never reach the device (header_policy.h hands them here); the
 * gateway keeps them per session and sends them back to the origin in a Cookie header, as a
 * browser would: domain matching (host-only unless a Domain attribute names a parent domain of
 * the request host; a Domain without a dot, an IP address or a foreign domain is refused), path
 * matching (default path = the request path's directory), Expires/Max-Age (Max-Age wins; a past
 * date deletes), Secure (only over https, and only set from https), HttpOnly and SameSite kept as
 * attributes, __Secure-/__Host- prefixes enforced. Cookies with control characters are refused.
 *
 * Limits (bounded memory per session): a cookie's name + value at most RND_JAR_COOKIE_MAX bytes,
 * at most RND_JAR_PER_DOMAIN cookies per domain and RND_JAR_MAX_COOKIES in all, at most
 * RND_JAR_MAX_BYTES bytes in all; when full, the least recently created cookie goes first
 * (expired ones before that).
 *
 * The jar serialises to a text form (see rnd_jar_serialize) that the gateway stores in Redis as
 * the STRING `wl:{F}:jar:<sid>` (docs/redis-schema.md), deleted with the session.
 * Threading: one thread at a time per jar; no global state. Times are ms since the epoch. */
#ifndef RND_COOKIE_JAR_H
#define RND_COOKIE_JAR_H

#include <stddef.h>
#include <stdint.h>

#define RND_JAR_COOKIE_MAX 4096
#define RND_JAR_PER_DOMAIN 50
#define RND_JAR_MAX_COOKIES 150
#define RND_JAR_MAX_BYTES (128 * 1024)

enum rnd_samesite {
    RND_SAMESITE_DEFAULT = 0,
    RND_SAMESITE_LAX,
    RND_SAMESITE_STRICT,
    RND_SAMESITE_NONE
};

struct rnd_cookie {
    char *name, *value, *domain, *path;
    int64_t expires; /* ms; INT64_MAX for a session cookie */
    int64_t created;
    unsigned host_only : 1, secure : 1, http_only : 1, persistent : 1;
    enum rnd_samesite same_site;
};

struct rnd_jar;

/* A new empty jar. Never returns NULL. */
struct rnd_jar *rnd_jar_new(void);

/* Frees the jar and its cookies. rnd_jar_free(NULL) does nothing. */
void rnd_jar_free(struct rnd_jar *jar);

/* Stores the cookie of one Set-Cookie header value (borrowed), received from a response to a
 * request for https?://host/path (borrowed; host lowercase). Returns 0 when stored or when it
 * deleted a cookie, -1 when the cookie was refused (malformed, wrong domain, limits). */
int rnd_jar_set(struct rnd_jar *jar, const char *set_cookie, size_t n, int https, const char *host,
                const char *path, int64_t now);

/* The Cookie header value for a request to https?://host/path at `now`, as a new string the
 * caller frees, or NULL when no cookie applies. Expired cookies are dropped on the way. */
char *rnd_jar_cookie_header(struct rnd_jar *jar, int https, const char *host, const char *path,
                            int64_t now);

/* Number of cookies and bytes (names + values + domains + paths) held. */
size_t rnd_jar_count(const struct rnd_jar *jar);
size_t rnd_jar_bytes(const struct rnd_jar *jar);

/* Read access for tests and the admin page: the i-th cookie (borrowed), i < rnd_jar_count. */
const struct rnd_cookie *rnd_jar_get(const struct rnd_jar *jar, size_t i);

/* Serialises the jar (persistent and session cookies alike, expired ones left out) as a new
 * string the caller frees: "WLJAR1\n" then one line per cookie, tab-separated:
 * name, value, domain, path, expires, created, flags (h s o p = host-only, secure, http-only,
 * persistent), samesite (d l s n). *len receives the length. */
char *rnd_jar_serialize(const struct rnd_jar *jar, int64_t now, size_t *len);

/* Replaces the jar's content with a serialised form (borrowed). Returns 0, or -1 when the text
 * is not a valid serialised jar (the jar is then left empty). Limits apply as in rnd_jar_set. */
int rnd_jar_deserialize(struct rnd_jar *jar, const char *p, size_t n);

/* Parses an RFC 6265 cookie-date (section 5.1.1). Returns 0 and writes ms since the epoch. */
int rnd_cookie_date_parse(const char *s, size_t n, int64_t *out);

#endif
