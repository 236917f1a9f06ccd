/* url.h - the link policy: decide, from the start of a URL, whether it stays as it is, is
 * moved inside the tunnel, or is neutralised.
 *
 * The decision is taken on the decoded value (character references already resolved) and
 * follows how browsers parse URLs (WHATWG URL): leading C0 controls and spaces are ignored,
 * tabs and newlines anywhere are ignored, '\' counts as '/' for special schemes, "http:host"
 * (no slashes) names a host unless the page's own scheme is http, "//host" inherits the page's
 * scheme, the host is percent-decoded and lowercased, userinfo and port are not part of the host.
 * Only the start of a URL, up to the end of its host (and port), is needed: the rest streams.
 *
 * Policy, for links whose host is:
 * - an associated domain of the fleet (exact name, or "*.suffix" for any subdomain): kept inside
 *   the tunnel: "<tunnel scheme>://host[:tunnel port]" (http -> https, ws -> wss, userinfo and
 *   origin port dropped); left byte for byte when already in that form;
 * - any other host: RND_FOREIGN_KEEP leaves it (the CSP still stops the page from loading from or
 *   sending to it); RND_FOREIGN_BLOCK points it to `block_prefix` followed by the
 *   percent-encoded original URL (a gateway page that says the site is outside the fleet);
 * - relative URLs and non-network schemes (mailto:, tel:, data:, blob:, about:, custom app
 *   schemes): kept; javascript: is kept unless strip_scripts, which replaces it with
 *   "about:blank#blocked" (the rest of the URL is dropped). file: and ftp: count as other hosts.
 * Thread-safe: pure functions over the caller's data. */
#ifndef RND_URL_H
#define RND_URL_H

#include <stddef.h>

enum rnd_foreign_policy { RND_FOREIGN_BLOCK = 0, RND_FOREIGN_KEEP = 1 };

struct rnd_url_policy {
    const char *const *domains; /* borrowed; lowercase names or "*.suffix" */
    size_t ndomains;
    const char *tunnel_scheme; /* NULL: "https" */
    unsigned tunnel_port;      /* 0: the scheme's default port */
    enum rnd_foreign_policy foreign;
    const char *block_prefix; /* NULL: "/__worklink/blocked?url=" */
    int strip_scripts;
    const char *base_scheme; /* the page's scheme as the device sees it; NULL: "https" */
};

/* Longest start of a URL ever held back, in decoded bytes; a longer authority counts as a
 * foreign host. */
#define RND_URL_PREFIX_MAX 512
/* Room the replacement text of a decision may need. */
#define RND_URL_REPL_MAX (3 * RND_URL_PREFIX_MAX + 512)

enum rnd_url_rest {
    RND_REST_COPY = 0, /* the rest of the URL follows unchanged */
    RND_REST_PCT,      /* the rest is percent-encoded (it became a query parameter) */
    RND_REST_DROP,     /* the rest is dropped */
};

enum rnd_url_kind {
    RND_URL_RELATIVE = 0,
    RND_URL_INTERNAL,
    RND_URL_FOREIGN,
    RND_URL_SCRIPT,
    RND_URL_OTHER,
};

struct rnd_url_decision {
    enum rnd_url_kind kind;
    size_t consumed;        /* bytes of the input the replacement stands for */
    enum rnd_url_rest rest; /* what happens to the URL after `consumed` */
    size_t repl_len;        /* replacement text (ASCII, safe in any attribute or CSS) */
    char repl[RND_URL_REPL_MAX];
};

/* Whether s[0..n) starts a path ("/" and a byte that is not "/", "\\", tab, LF or CR): such a
 * URL is relative whatever follows, and rnd_url_decide keeps it under any policy. */
int rnd_url_is_path(const char *s, size_t n);

#define RND_URL_NEED_MORE (-1)
#define RND_URL_KEEP 0
#define RND_URL_REPLACE 1

/* Decides on the URL that starts s[0..n) (borrowed). `complete` says the URL ends at n.
 * Returns RND_URL_NEED_MORE (only when !complete and n is too short to know), RND_URL_KEEP, or
 * RND_URL_REPLACE with d filled in (d->kind is set in every case but NEED_MORE). */
int rnd_url_decide(const struct rnd_url_policy *p, const char *s, size_t n, int complete,
                   struct rnd_url_decision *d);

/* 1 when host[0..n) (lowercase, no trailing dot) is an associated domain of the policy. */
int rnd_url_host_associated(const struct rnd_url_policy *p, const char *host, size_t n);

#endif
