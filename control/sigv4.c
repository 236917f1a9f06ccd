/* sigv4.c - AWS Signature Version 4 verification (see sigv4.h). */
#include "sigv4.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_QUERY_PARAMS 256
#define MAX_SIGNED_HEADERS 64
#define MAX_PRESIGN_EXPIRES 604800

/* ---- growable string ---------------------------------------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np)
            abort();
        b->p = np;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void buf_ch(struct buf *b, char c)
{
    buf_add(b, &c, 1);
}

/* ---- encoding helpers ---------------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* AWS URI encoding: unreserved characters kept, everything else %XX (uppercase); '/' kept when
 * keep_slash. */
static void uri_encode(struct buf *b, const char *s, size_t n, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            buf_ch(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_add(b, e, 3);
        }
    }
}

/* Percent-decodes s[0..n) into b (a '%' not followed by two hex digits stays as is; '+' stays). */
static void uri_decode(struct buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n) {
            int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
            if (h >= 0 && l >= 0) {
                buf_ch(b, (char)(h * 16 + l));
                i += 2;
                continue;
            }
        }
        buf_ch(b, s[i]);
    }
}

void ctl_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

static void hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int olen = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &olen);
}

/* ---- canonical request --------------------------------------------------------------------- */

/* RFC 3986 remove_dot_segments plus removal of empty segments, as botocore does. */
static void normalize_path(struct buf *out, const char *p, size_t n)
{
    if (n == 0) {
        buf_ch(out, '/');
        return;
    }
    size_t segs[512][2];
    size_t nseg = 0;
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        size_t len = j - i;
        if (len == 0 || (len == 1 && p[i] == '.')) {
            /* skip */
        } else if (len == 2 && p[i] == '.' && p[i + 1] == '.') {
            if (nseg > 0)
                nseg--;
        } else if (nseg < 512) {
            segs[nseg][0] = i;
            segs[nseg][1] = len;
            nseg++;
        }
        i = j + 1;
    }
    struct buf tmp = {0};
    if (p[0] == '/')
        buf_ch(&tmp, '/');
    for (size_t k = 0; k < nseg; k++) {
        if (k)
            buf_ch(&tmp, '/');
        buf_add(&tmp, p + segs[k][0], segs[k][1]);
    }
    if (p[n - 1] == '/' && nseg > 0)
        buf_ch(&tmp, '/');
    if (tmp.len == 0)
        buf_ch(&tmp, '/');
    uri_encode(out, tmp.p, tmp.len, true);
    free(tmp.p);
}

struct qparam {
    char *key; /* canonical (re-encoded) */
    char *val;
};

static int qparam_cmp(const void *a, const void *b)
{
    const struct qparam *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->val, y->val);
}

/* Splits the query into decoded-and-re-encoded pairs. Returns the count, or -1 if too many. */
static int query_params(struct wl_slice q, struct qparam *out, size_t max, bool skip_signature)
{
    size_t n = 0, i = 0;
    while (i < q.len) {
        size_t j = i;
        while (j < q.len && q.base[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(q.base + i, '=', j - i);
            size_t klen = eq ? (size_t)(eq - (q.base + i)) : j - i;
            const char *v = eq ? eq + 1 : q.base + j;
            size_t vlen = eq ? (size_t)(q.base + j - v) : 0;
            struct buf dk = {0}, dv = {0}, ek = {0}, ev = {0};
            uri_decode(&dk, q.base + i, klen);
            uri_decode(&dv, v, vlen);
            uri_encode(&ek, dk.p ? dk.p : "", dk.len, false);
            uri_encode(&ev, dv.p ? dv.p : "", dv.len, false);
            bool skip = skip_signature && dk.p && strcmp(dk.p, "X-Amz-Signature") == 0;
            free(dk.p);
            free(dv.p);
            if (skip) {
                free(ek.p);
                free(ev.p);
            } else {
                if (n == max) {
                    free(ek.p);
                    free(ev.p);
                    for (size_t k = 0; k < n; k++) {
                        free(out[k].key);
                        free(out[k].val);
                    }
                    return -1;
                }
                out[n].key = ek.p ? ek.p : strdup("");
                out[n].val = ev.p ? ev.p : strdup("");
                if (!out[n].key || !out[n].val)
                    abort();
                n++;
            }
        }
        i = j + 1;
    }
    qsort(out, n, sizeof *out, qparam_cmp);
    return (int)n;
}

/* Appends the trimmed, whitespace-collapsed value. */
static void header_value(struct buf *b, struct wl_slice v)
{
    bool space = false, any = false;
    for (size_t i = 0; i < v.len; i++) {
        char c = v.base[i];
        if (c == ' ' || c == '\t') {
            space = true;
            continue;
        }
        if (space && any)
            buf_ch(b, ' ');
        space = false;
        any = true;
        buf_ch(b, c);
    }
}

/* Appends "name:value\n" for a signed header; returns -1 if the header is absent. */
static int canonical_header(struct buf *b, const struct ctl_sigv4_input *in, const char *name,
                            size_t nlen)
{
    bool found = false;
    for (size_t i = 0; i < in->nheaders; i++) {
        const struct wl_http1_header *h = &in->headers[i];
        if (h->name.len != nlen || strncasecmp(h->name.base, name, nlen) != 0)
            continue;
        if (!found) {
            for (size_t k = 0; k < nlen; k++)
                buf_ch(b, (char)tolower((unsigned char)name[k]));
            buf_ch(b, ':');
        } else {
            buf_ch(b, ',');
        }
        header_value(b, h->value);
        found = true;
    }
    if (!found)
        return -1;
    buf_ch(b, '\n');
    return 0;
}

static int canonical_request(const struct ctl_sigv4_input *in, const char *signed_headers,
                             const char *payload_hash, bool presigned, struct buf *cr)
{
    buf_add(cr, in->method.base, in->method.len);
    buf_ch(cr, '\n');
    normalize_path(cr, in->path.base, in->path.len);
    buf_ch(cr, '\n');
    struct qparam *qp = calloc(MAX_QUERY_PARAMS, sizeof *qp);
    if (!qp)
        abort();
    int nq = query_params(in->query, qp, MAX_QUERY_PARAMS, presigned);
    if (nq < 0) {
        free(qp);
        return -1;
    }
    for (int i = 0; i < nq; i++) {
        if (i)
            buf_ch(cr, '&');
        buf_str(cr, qp[i].key);
        buf_ch(cr, '=');
        buf_str(cr, qp[i].val);
        free(qp[i].key);
        free(qp[i].val);
    }
    free(qp);
    buf_ch(cr, '\n');
    const char *s = signed_headers;
    while (*s) {
        const char *e = strchr(s, ';');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0 || canonical_header(cr, in, s, len) < 0)
            return -1;
        s += len;
        if (*s == ';')
            s++;
    }
    buf_ch(cr, '\n');
    buf_str(cr, signed_headers);
    buf_ch(cr, '\n');
    buf_str(cr, payload_hash);
    return 0;
}

static void signature(const struct ctl_sigv4_input *in, const char *secret, const char *amz_date,
                      const char *canon, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    char date[9];
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    char crhash[65];
    ctl_sha256_hex(canon, strlen(canon), crhash);
    struct buf sts = {0};
    buf_str(&sts, "AWS4-HMAC-SHA256\n");
    buf_str(&sts, amz_date);
    buf_ch(&sts, '\n');
    buf_str(&sts, date);
    buf_ch(&sts, '/');
    buf_str(&sts, in->region);
    buf_ch(&sts, '/');
    buf_str(&sts, in->service);
    buf_str(&sts, "/aws4_request\n");
    buf_str(&sts, crhash);

    char k0[140];
    int kl = snprintf(k0, sizeof k0, "AWS4%s", secret);
    unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
    hmac(k0, (size_t)kl, date, k1);
    hmac(k1, 32, in->region, k2);
    hmac(k2, 32, in->service, k3);
    hmac(k3, 32, "aws4_request", k4);
    hmac(k4, 32, sts.p, sig);
    OPENSSL_cleanse(k0, sizeof k0);
    OPENSSL_cleanse(k1, sizeof k1);
    OPENSSL_cleanse(k4, sizeof k4);
    free(sts.p);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[sig[i] >> 4];
        out[2 * i + 1] = hex[sig[i] & 15];
    }
    out[64] = '\0';
}

int ctl_sigv4_sign(const struct ctl_sigv4_input *in, const char *secret, const char *amz_date,
                   const char *signed_headers, const char *payload_hash, char out[65])
{
    struct buf cr = {0};
    bool presigned = false;
    /* a query carrying X-Amz-Signature is a presigned request: the parameter is not signed */
    for (size_t i = 0; i + 15 <= in->query.len; i++)
        if (memcmp(in->query.base + i, "X-Amz-Signature", 15) == 0)
            presigned = true;
    int rc = canonical_request(in, signed_headers, payload_hash, presigned, &cr);
    if (rc == 0)
        signature(in, secret, amz_date, cr.p, out);
    free(cr.p);
    return rc;
}

/* ---- verification -------------------------------------------------------------------------- */

static int fail(struct ctl_sigv4_error *err, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct ctl_sigv4_error *err, int status, const char *type, const char *fmt, ...)
{
    va_list ap;
    err->status = status;
    snprintf(err->type, sizeof err->type, "%s", type);
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

static const struct wl_http1_header *find_header(const struct ctl_sigv4_input *in, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < in->nheaders; i++)
        if (in->headers[i].name.len == n && strncasecmp(in->headers[i].name.base, name, n) == 0)
            return &in->headers[i];
    return NULL;
}

/* Copies a slice into a bounded NUL-terminated buffer; -1 if it does not fit. */
static int slice_copy(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* Parses "YYYYMMDDTHHMMSSZ". */
static int parse_amz_date(const char *s, int64_t *out)
{
    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return -1;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)s[i]))
            return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0') - 1900;
    tm.tm_mon = (s[4] - '0') * 10 + (s[5] - '0') - 1;
    tm.tm_mday = (s[6] - '0') * 10 + (s[7] - '0');
    tm.tm_hour = (s[9] - '0') * 10 + (s[10] - '0');
    tm.tm_min = (s[11] - '0') * 10 + (s[12] - '0');
    tm.tm_sec = (s[13] - '0') * 10 + (s[14] - '0');
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

static void fmt_amz_date(int64_t t, char out[17])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* Finds a query parameter (decoded) by exact name. */
static int query_get(struct wl_slice q, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name), i = 0;
    while (i < q.len) {
        size_t j = i;
        while (j < q.len && q.base[j] != '&')
            j++;
        if (j - i > nlen && memcmp(q.base + i, name, nlen) == 0 && q.base[i + nlen] == '=') {
            struct buf d = {0};
            uri_decode(&d, q.base + i + nlen + 1, j - i - nlen - 1);
            int rc = slice_copy(out, cap, d.p ? d.p : "", d.len);
            free(d.p);
            return rc;
        }
        i = j + 1;
    }
    return -1;
}

static bool query_has(struct wl_slice q, const char *name)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i + nlen <= q.len; i++)
        if ((i == 0 || q.base[i - 1] == '&') && memcmp(q.base + i, name, nlen) == 0 &&
            (i + nlen == q.len || q.base[i + nlen] == '=' || q.base[i + nlen] == '&'))
            return true;
    return false;
}

/* Reads "Credential=..., SignedHeaders=..., Signature=..." from the Authorization value. */
static int parse_authorization(struct wl_slice v, char *cred, size_t credcap, char *sh,
                               size_t shcap, char *sig, size_t sigcap)
{
    bool got_c = false, got_h = false, got_s = false;
    size_t i = 0;
    while (i < v.len) {
        while (i < v.len && (v.base[i] == ' ' || v.base[i] == ','))
            i++;
        size_t j = i;
        while (j < v.len && v.base[j] != ',')
            j++;
        size_t n = j - i;
        while (n > 0 && v.base[i + n - 1] == ' ')
            n--;
        const char *p = v.base + i;
        if (n > 11 && memcmp(p, "Credential=", 11) == 0) {
            if (got_c || slice_copy(cred, credcap, p + 11, n - 11) < 0)
                return -1;
            got_c = true;
        } else if (n > 14 && memcmp(p, "SignedHeaders=", 14) == 0) {
            if (got_h || slice_copy(sh, shcap, p + 14, n - 14) < 0)
                return -1;
            got_h = true;
        } else if (n > 10 && memcmp(p, "Signature=", 10) == 0) {
            if (got_s || slice_copy(sig, sigcap, p + 10, n - 10) < 0)
                return -1;
            got_s = true;
        } else if (n > 0) {
            return -1;
        }
        i = j;
    }
    return got_c && got_h && got_s ? 0 : -1;
}

/* SignedHeaders must be lowercase, sorted, unique, and include host. */
static bool signed_headers_ok(const char *sh)
{
    const char *prev = NULL;
    size_t prevlen = 0;
    bool host = false;
    int count = 0;
    const char *s = sh;
    if (!*s)
        return false;
    while (*s) {
        const char *e = strchr(s, ';');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0 || ++count > MAX_SIGNED_HEADERS)
            return false;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)s[i];
            if (isupper(c) || c <= ' ' || c == ':' || c >= 127)
                return false;
        }
        if (prev) {
            size_t m = prevlen < len ? prevlen : len;
            int c = memcmp(prev, s, m);
            if (c > 0 || (c == 0 && prevlen >= len))
                return false;
        }
        if (len == 4 && memcmp(s, "host", 4) == 0)
            host = true;
        prev = s;
        prevlen = len;
        s += len;
        if (*s == ';')
            s++;
    }
    return host;
}

int ctl_sigv4_verify(const struct ctl_sigv4_input *in, const struct ctl_credentials *creds,
                     const struct ctl_principal **who, struct ctl_sigv4_error *err)
{
    char cred[512], sh[1024], sig[128], amz_date[32], expires_s[32];
    int64_t expires = 0;
    bool presigned = false;
    err->access_key[0] = '\0';

    const struct wl_http1_header *auth = find_header(in, "authorization");
    if (auth) {
        if (auth->value.len < 17 || memcmp(auth->value.base, "AWS4-HMAC-SHA256 ", 17) != 0)
            return fail(err, 400, "IncompleteSignatureException",
                        "Authorization header must use the AWS4-HMAC-SHA256 algorithm");
        struct wl_slice rest = {auth->value.base + 17, auth->value.len - 17};
        if (parse_authorization(rest, cred, sizeof cred, sh, sizeof sh, sig, sizeof sig) < 0)
            return fail(err, 400, "IncompleteSignatureException",
                        "Authorization header requires 'Credential', 'SignedHeaders' and "
                        "'Signature' parameters, each once");
        const struct wl_http1_header *d = find_header(in, "x-amz-date");
        if (!d || slice_copy(amz_date, sizeof amz_date, d->value.base, d->value.len) < 0)
            return fail(err, 400, "IncompleteSignatureException",
                        "Authorization header requires existence of a 'X-Amz-Date' header");
    } else if (query_has(in->query, "X-Amz-Signature") || query_has(in->query, "X-Amz-Algorithm") ||
               query_has(in->query, "X-Amz-Credential")) {
        presigned = true;
        char alg[64];
        if (query_get(in->query, "X-Amz-Algorithm", alg, sizeof alg) < 0 ||
            strcmp(alg, "AWS4-HMAC-SHA256") != 0)
            return fail(err, 400, "IncompleteSignatureException",
                        "X-Amz-Algorithm must be AWS4-HMAC-SHA256");
        if (query_get(in->query, "X-Amz-Credential", cred, sizeof cred) < 0 ||
            query_get(in->query, "X-Amz-SignedHeaders", sh, sizeof sh) < 0 ||
            query_get(in->query, "X-Amz-Signature", sig, sizeof sig) < 0 ||
            query_get(in->query, "X-Amz-Date", amz_date, sizeof amz_date) < 0 ||
            query_get(in->query, "X-Amz-Expires", expires_s, sizeof expires_s) < 0)
            return fail(err, 400, "IncompleteSignatureException",
                        "a presigned request requires X-Amz-Credential, X-Amz-Date, "
                        "X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature");
        char *end = NULL;
        long long e = strtoll(expires_s, &end, 10);
        if (!*expires_s || *end || e < 1 || e > MAX_PRESIGN_EXPIRES)
            return fail(err, 400, "IncompleteSignatureException",
                        "X-Amz-Expires must be an integer between 1 and 604800");
        expires = e;
    } else {
        return fail(err, 403, "MissingAuthenticationTokenException",
                    "Missing Authentication Token");
    }

    /* Credential = AK/YYYYMMDD/region/service/aws4_request */
    char *parts[5];
    int np = 0;
    char *save = NULL;
    for (char *t = strtok_r(cred, "/", &save); t && np < 5; t = strtok_r(NULL, "/", &save))
        parts[np++] = t;
    if (np != 5 || strtok_r(NULL, "/", &save) != NULL)
        return fail(err, 400, "IncompleteSignatureException",
                    "Credential must have the form <key>/<date>/<region>/<service>/aws4_request");
    snprintf(err->access_key, sizeof err->access_key, "%s", parts[0]);
    int64_t t;
    if (parse_amz_date(amz_date, &t) < 0)
        return fail(err, 400, "IncompleteSignatureException",
                    "X-Amz-Date must be in the ISO 8601 basic format YYYYMMDD'T'HHMMSS'Z'");
    if (strcmp(parts[4], "aws4_request") != 0)
        return fail(err, 403, "InvalidSignatureException",
                    "Credential should be scoped with a valid terminator: 'aws4_request', not "
                    "'%.40s'.",
                    parts[4]);
    if (strlen(parts[1]) != 8 || strncmp(parts[1], amz_date, 8) != 0)
        return fail(err, 403, "InvalidSignatureException",
                    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                    "date from HTTP: '%.8s' != '%.8s'",
                    parts[1], amz_date);
    if (strcmp(parts[2], in->region) != 0)
        return fail(err, 403, "InvalidSignatureException",
                    "Credential should be scoped to a valid region, not '%.40s'.", parts[2]);
    if (strcmp(parts[3], in->service) != 0)
        return fail(err, 403, "InvalidSignatureException",
                    "Credential should be scoped to correct service: '%s'.", in->service);

    const struct ctl_principal *p = ctl_credentials_find(creds, parts[0]);
    if (!p)
        return fail(err, 403, "UnrecognizedClientException",
                    "The security token included in the request is invalid.");

    char now_s[17], lim_s[17];
    fmt_amz_date(in->now, now_s);
    if (!presigned) {
        if (t < in->now - CTL_SIGV4_MAX_SKEW_S) {
            fmt_amz_date(in->now - CTL_SIGV4_MAX_SKEW_S, lim_s);
            return fail(err, 403, "InvalidSignatureException",
                        "Signature expired: %s is now earlier than %s (%s - 5 min.)", amz_date,
                        lim_s, now_s);
        }
        if (t > in->now + CTL_SIGV4_MAX_SKEW_S) {
            fmt_amz_date(in->now + CTL_SIGV4_MAX_SKEW_S, lim_s);
            return fail(err, 403, "InvalidSignatureException",
                        "Signature not yet current: %s is still later than %s (%s + 5 min.)",
                        amz_date, lim_s, now_s);
        }
    } else {
        if (t > in->now + CTL_SIGV4_MAX_SKEW_S) {
            fmt_amz_date(in->now + CTL_SIGV4_MAX_SKEW_S, lim_s);
            return fail(err, 403, "InvalidSignatureException",
                        "Signature not yet current: %s is still later than %s (%s + 5 min.)",
                        amz_date, lim_s, now_s);
        }
        if (in->now > t + expires)
            return fail(err, 403, "InvalidSignatureException",
                        "Signature expired: the presigned request of %s was valid for %lld "
                        "seconds (now %s)",
                        amz_date, (long long)expires, now_s);
    }

    if (!signed_headers_ok(sh))
        return fail(err, 400, "IncompleteSignatureException",
                    "SignedHeaders must be lowercase, sorted, and include 'host'");

    char body_hash[65];
    ctl_sha256_hex(in->body, in->body_len, body_hash);
    char payload[80];
    snprintf(payload, sizeof payload, "%s", body_hash);
    const struct wl_http1_header *ch = find_header(in, "x-amz-content-sha256");
    if (ch) {
        if (ch->value.len == 16 && memcmp(ch->value.base, "UNSIGNED-PAYLOAD", 16) == 0)
            snprintf(payload, sizeof payload, "UNSIGNED-PAYLOAD");
        else if (ch->value.len != 64 || strncasecmp(ch->value.base, body_hash, 64) != 0)
            return fail(err, 400, "InvalidSignatureException",
                        "The provided 'x-amz-content-sha256' header does not match what was "
                        "computed.");
        else
            slice_copy(payload, sizeof payload, ch->value.base, 64);
    }

    char want[65];
    struct buf cr = {0};
    if (canonical_request(in, sh, payload, presigned, &cr) < 0) {
        free(cr.p);
        return fail(err, 403, "InvalidSignatureException",
                    "The request signature we calculated does not match the signature you "
                    "provided: a signed header is missing or the query is too long.");
    }
    signature(in, p->secret, amz_date, cr.p, want);
    free(cr.p);
    if (strlen(sig) != 64 || CRYPTO_memcmp(sig, want, 64) != 0)
        return fail(err, 403, "InvalidSignatureException",
                    "The request signature we calculated does not match the signature you "
                    "provided. Check your AWS Secret Access Key and signing method. Consult the "
                    "service documentation for details.");
    *who = p;
    return 0;
}
