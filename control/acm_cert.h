/* acm_cert.h - the certificate store's X.509 side: parsing of PEM certificates, keys and chains
 * with OpenSSL, the facts DescribeCertificate shows, and ACM ARNs.
 * Pure functions (no Redis); borrow their arguments; any thread. */
#ifndef CTL_ACM_CERT_H
#define CTL_ACM_CERT_H

#include <jansson.h>
#include <openssl/x509.h>
#include <stddef.h>

#include "op.h"

/* What the store keeps about a certificate (see wl:acm:cert:<uuid> in docs/redis-schema.md). */
struct ctl_cert_info {
    char *pem;    /* the certificate re-encoded as PEM (owned) */
    char *domain; /* subject CN, or the first DNS SAN when there is no CN (owned) */
    json_t *sans; /* JSON array of DNS SANs (owned) */
    long long not_before_ms, not_after_ms;
    char key_algorithm[32]; /* RSA_2048, EC_prime256v1, ... */
    char serial[128];       /* colon-separated hex */
    char *subject, *issuer; /* RFC 2253 (owned) */
    char signature_algorithm[48];
};

/* Parses exactly one PEM certificate (surrounding whitespace allowed). Returns a new X509 or
 * NULL. */
X509 *ctl_cert_parse(const char *pem, size_t len);

/* Parses a PEM chain: 1..n certificates and nothing else. Returns the count, or -1 when any
 * part is not a valid certificate. When out is not NULL it receives a new stack. */
int ctl_cert_chain_parse(const char *pem, size_t len, STACK_OF(X509) * *out);

/* Fills *info from x. Returns 0 or -1 (out of memory / unreadable dates). Dispose with
 * ctl_cert_info_dispose. */
int ctl_cert_info_get(X509 *x, struct ctl_cert_info *info);
void ctl_cert_info_dispose(struct ctl_cert_info *info);

/* Whether certificate x (PEM) covers DNS name `host` (RFC 6125: SAN DNS names, else the CN; a
 * wildcard only as the whole left-most label). */
int ctl_cert_covers(const char *pem, const char *host);

/* Parses an ACM ARN "arn:aws:acm:<region>:<account>:certificate/<uuid>" into uuid (37 bytes).
 * A malformed ARN -> -1 after ctl_error(invalid_type); another region or account than ctx's ->
 * -1 after ctl_error(notfound_type). */
int ctl_acm_arn_parse(struct ctl_ctx *ctx, const char *arn, const char *member,
                      const char *invalid_type, const char *notfound_type, char uuid[37]);

/* Writes the ARN of certificate uuid of ctx's account into out. */
void ctl_acm_arn(const struct ctl_ctx *ctx, char *out, size_t outlen, const char *uuid);

#endif
