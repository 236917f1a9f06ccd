/* sigv4.h - AWS Signature Version 4 verification (Authorization header and presigned query).
 *
 * Pure functions over a parsed request (no I/O, no global state): safe on any thread. The
 * canonical request follows the AWS rules for non-S3 services: the path has dot segments and
 * empty segments removed and is URI-encoded again (so "%3A" is signed as "%253A"), query
 * parameters are decoded, re-encoded (RFC 3986 unreserved kept) and sorted, header values are
 * trimmed with inner whitespace runs collapsed and repeated headers joined by ','. */
#ifndef CTL_SIGV4_H
#define CTL_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "credentials.h"
#include "http1.h"

#define CTL_SIGV4_MAX_SKEW_S 300

struct ctl_sigv4_input {
    struct wl_slice method, path, query; /* as sent (path and query still percent-encoded) */
    const struct wl_http1_header *headers;
    size_t nheaders;
    const void *body;
    size_t body_len;
    const char *service; /* signing name the route expects: "worklink" or "acm" */
    const char *region;
    int64_t now; /* epoch seconds */
};

/* Why a request was refused, in the AWS shape (status, exception name, message). */
struct ctl_sigv4_error {
    int status;
    char type[64];
    char message[320];
    char access_key[129]; /* the key the request named, when it could be read ("" otherwise) */
};

/* Verifies the request's signature against creds. Returns 0 and sets *who (borrowed from creds),
 * or -1 and fills *err: MissingAuthenticationTokenException (no signature at all),
 * IncompleteSignatureException (malformed Authorization / query), UnrecognizedClientException
 * (unknown access key), InvalidSignatureException (wrong signature, scope, clock skew beyond 5
 * minutes, expired presigned URL). */
int ctl_sigv4_verify(const struct ctl_sigv4_input *in, const struct ctl_credentials *creds,
                     const struct ctl_principal **who, struct ctl_sigv4_error *err);

/* Computes the hex signature of `in` for the given secret, ISO-8601 basic time (e.g.
 * "20261123T120000Z") and signed header list ("host;x-amz-date"), as a client would; for
 * presigned requests the X-Amz-Signature parameter is left out of the query. Writes 65 bytes.
 * Returns 0, or -1 when a signed header is missing. Exposed for tests and the fuzz target. */
int ctl_sigv4_sign(const struct ctl_sigv4_input *in, const char *secret, const char *amz_date,
                   const char *signed_headers, const char *payload_hash, char out[65]);

/* Lowercase hex SHA-256 of data (65 bytes with the NUL). */
void ctl_sha256_hex(const void *data, size_t len, char out[65]);

#endif
