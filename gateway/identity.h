/* identity.h - sign-in on the gateway: the login entry point (signed SAML AuthnRequest by
 * HTTP-Redirect), the ACS (SAMLResponse by HTTP-POST, verified by wl_saml), session and device
 * creation in Redis (docs/redis-schema.md), one-time tickets that carry the new session to the
 * cookie of every associated domain, and website authorization provider domains reachable
 * without a session.
 *
 * Worker thread only (each call runs on the loop of r->conn->w). Requests are borrowed; an
 * in-flight operation is detached by gw_ident_cancel() when its request goes away. */
#ifndef GW_IDENTITY_H
#define GW_IDENTITY_H

#include "gw_internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_DEVICE_COOKIE "__Host-wl_device"
#define GW_TICKET_PATH "/_wl/ticket"
#define GW_DISCOVERY_PATH "/_wl/discovery"
#define GW_SIGNOUT_PATH "/_wl/signout"
/* Extra response headers when a session ended (sign-out page; a request whose session cookie
 * is no longer valid): the device drops what it kept of the site and the dead cookie. */
#define GW_SESSION_ENDED_HEADERS                                                                   \
    "Clear-Site-Data: \"cache\", \"storage\"\r\nSet-Cookie: " GW_SESSION_COOKIE                    \
    "=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0\r\n"
#define GW_JWKS_PATH "/_wl/.well-known/jwks.json"
#define GW_IDENTITY_HEADER "X-WorkLink-Identity"
#define GW_JWT_TTL_MS (5LL * 60 * 1000)      /* lifetime of one identity JWT */
#define GW_JWT_ROTATE_MS (6LL * 3600 * 1000) /* a worker's signing key is replaced this often */
#define GW_JWT_GRACE_MS (3600LL * 1000)      /* a replaced key stays in the JWKS this long */
#define GW_ACS_SUFFIX "/saml/acs"
#define GW_SESSION_TTL_MS (12LL * 3600 * 1000) /* absolute session lifetime (capped by the IdP) */
#define GW_SESSION_IDLE_MS (3600LL * 1000)     /* idle timeout */
#define GW_TICKET_TTL_MS 60000                 /* one-time ticket lifetime */
#define GW_ACS_MAX_BODY (1024 * 1024)          /* POST body bound before any decoding */
#define GW_TICKET_CHAIN_MAX 16                 /* domains given the cookie by one sign-in */

/* Routes the gateway's own sign-in pages (login, ACS, ticket). Returns true when it took the
 * request (it answers now or later), false to let the caller continue. `d` is the request's
 * associated domain (borrowed, from the worker's snapshot). */
bool gw_ident_route(struct gw_req *r, const struct gw_domain *d);

/* The request has no valid session: returns true when the identity module took the request
 * (an authorization-provider domain lookup is under way and will fetch or deny), false when the
 * caller must deny now. */
bool gw_ident_no_session(struct gw_req *r);

/* The request is authorized (session valid, or an authorization-provider domain): removes any
 * identity header the device sent, adds the gateway's signed JWT when the request has a user
 * (publishing a new worker key in wl:{F}:jwks first when needed), then fetches from the origin. */
void gw_ident_fetch(struct gw_req *r);

/* Request body bytes for an ACS request (copied, bounded by GW_ACS_MAX_BODY). */
void gw_ident_body(struct gw_req *r, const char *data, size_t len);
void gw_ident_body_end(struct gw_req *r);

/* The request is going away: detach its pending operation (the Redis callback frees it). */
void gw_ident_cancel(struct gw_req *r);

/* ---- pure helpers (ident_util.c; unit-tested) ---- */

/* Copies the value of query parameter `name` from target (a request target "path?query"),
 * percent-decoded, into out (NUL-terminated). Returns its length or -1 when absent, malformed
 * or too long for out. */
int gw_ident_query_param(const char *target, size_t target_len, const char *name, char *out,
                         size_t cap);

/* Checks that `path` is a same-origin path to return to after sign-in: starts with one '/',
 * not "//" or "/\", printable ASCII only, at most cap-1 bytes. Writes it (or "/" when it is
 * refused) to out and returns 0 when accepted, -1 when "/" was substituted. */
int gw_ident_return_path(const char *path, char *out, size_t cap);

/* `n` random bytes from OpenSSL's CSPRNG as unpadded base64url (out holds 4*n/3+4). 0 or -1. */
int gw_ident_random_b64url(size_t n, char *out, size_t cap);

/* Lowercase hex SHA-256 of s[0..n). */
void gw_ident_sha256_hex(const void *s, size_t n, char out[65]);

/* Splits an absolute https/http URL into host (lowercase, no port) and path (no query). 0/-1. */
int gw_ident_url_split(const char *url, char *host, size_t hcap, char *path, size_t pcap);

struct gw_device_info {
    char manufacturer[64];
    char model[64];
    char os[32];
    char os_version[32];
    char patch_level[32];
};

/* Device description from the app's headers (X-WorkLink-Device-Manufacturer, -Model, -OS,
 * -OS-Version, -Patch-Level: each given value wins) or, for a browser, from the User-Agent.
 * Any argument may be NULL (absent). Values are printable ASCII, truncated to the fields. */
void gw_ident_device_info(const char *ua, const char *manufacturer, const char *model,
                          const char *os, const char *os_version, const char *patch,
                          struct gw_device_info *out);

/* Token bucket of client `addr` (per worker thread): true when one request may pass now.
 * `rate_per_s` tokens are added per second up to `burst`. */
bool gw_ident_rate_take(const char *addr, int64_t now_ms, double rate_per_s, double burst);

/* True when id is an acceptable device id sent by the app or a cookie: 8..48 of
 * [A-Za-z0-9_-]. */
bool gw_ident_device_id_ok(const char *id, size_t n);

/* ---- identity JWT (jwt.c; no I/O) ---- */
struct gw_jwt_key; /* a P-256 signing key with its key id */

/* A new key created now (kid = hex ms + random). NULL on failure. Free with gw_jwt_key_free. */
struct gw_jwt_key *gw_jwt_key_new(int64_t now_ms);
void gw_jwt_key_free(struct gw_jwt_key *k);
const char *gw_jwt_key_id(const struct gw_jwt_key *k);
int64_t gw_jwt_key_created(const struct gw_jwt_key *k);
/* The public JWK (RFC 7517: kty EC, crv P-256, x, y, kid, use sig, alg ES256) as a new JSON
 * string (free()), or NULL. */
char *gw_jwt_key_jwk(const struct gw_jwt_key *k);
/* A JWS compact ES256 token: header {alg, typ, kid}; claims iss, sub = user, aud, device_id
 * (omitted when NULL), fleet, iat, nbf (now - 30 s), exp (now + ttl), jti. New string (free())
 * or NULL. */
char *gw_jwt_sign(const struct gw_jwt_key *k, const char *issuer, const char *user,
                  const char *device, const char *fleet, const char *aud, int64_t now_ms,
                  int64_t ttl_ms);

#endif
