/* http1.c - see http1.h. A strict single-pass parser over a complete-or-partial head. */
#include "http1.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

void wl_http1_limits_default(struct wl_http1_limits *lim)
{
    lim->max_header_bytes = 16384;
    lim->max_headers = WL_HTTP1_MAX_HEADERS;
    lim->max_body_bytes = 1024 * 1024;
}

/* RFC 9110 tchar */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar, obs-text, SP, HTAB */
static int is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int slice_ieq(struct wl_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && strncasecmp(s.base, lit, n) == 0;
}

/* Finds the end of the head: the offset just after CRLF CRLF, 0 if not there yet, -1 on a bare
 * CR or bare LF (strict line endings). Scans at most `limit` bytes. */
static long find_head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\r') {
            if (i + 1 == len)
                return 0;
            if (buf[i + 1] != '\n')
                return -1;
            if (i + 3 < len && buf[i + 2] == '\r' && buf[i + 3] == '\n')
                return (long)(i + 4);
            if (i + 2 < len && buf[i + 2] == '\r' && i + 3 == len)
                return 0;
            i++;
        } else if (buf[i] == '\n') {
            return -1;
        }
    }
    return 0;
}

/* Splits a comma list and calls back with each trimmed, non-empty element. */
static int list_has_token(struct wl_slice v, const char *token)
{
    size_t i = 0;
    while (i < v.len) {
        while (i < v.len && (v.base[i] == ' ' || v.base[i] == '\t' || v.base[i] == ','))
            i++;
        size_t start = i;
        while (i < v.len && v.base[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (v.base[end - 1] == ' ' || v.base[end - 1] == '\t'))
            end--;
        struct wl_slice el = {v.base + start, end - start};
        if (el.len && slice_ieq(el, token))
            return 1;
    }
    return 0;
}

/* Parses one "HTTP/1.x" token; returns the minor version, or -1. */
static int parse_version(const char *p, size_t n)
{
    if (n != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.')
        return -2;
    if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
        return -1;
    return p[7] - '0';
}

/* Parses the header lines in [p, end) (end points at the final CRLF of the head). */
static int parse_headers(const char *p, const char *end, const struct wl_http1_limits *lim,
                         struct wl_http1_message *msg, int is_request)
{
    int cl_seen = 0, te_seen = 0, host_seen = 0;
    int conn_close = 0, conn_keep = 0, conn_upgrade = 0, upgrade_hdr = 0;
    size_t max_headers = lim->max_headers;
    if (max_headers > WL_HTTP1_MAX_HEADERS)
        max_headers = WL_HTTP1_MAX_HEADERS;

    while (p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p) + 1);
        if (!eol)
            return WL_HTTP1_E_BAD_REQUEST;
        if (*p == ' ' || *p == '\t') /* obs-fold */
            return WL_HTTP1_E_BAD_REQUEST;
        const char *colon = p;
        while (colon < eol && is_tchar((unsigned char)*colon))
            colon++;
        if (colon == p || colon == eol || *colon != ':') /* empty name, bad char, or space */
            return WL_HTTP1_E_BAD_REQUEST;
        if (msg->nheaders == max_headers)
            return WL_HTTP1_E_HEADER_TOO_LARGE;
        struct wl_http1_header *h = &msg->headers[msg->nheaders++];
        h->name.base = p;
        h->name.len = (size_t)(colon - p);
        const char *v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        const char *ve = eol;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        for (const char *c = v; c < ve; c++)
            if (!is_value_char((unsigned char)*c))
                return WL_HTTP1_E_BAD_REQUEST;
        h->value.base = v;
        h->value.len = (size_t)(ve - v);

        if (slice_ieq(h->name, "content-length")) {
            if (cl_seen++)
                return WL_HTTP1_E_BAD_FRAMING;
            if (h->value.len == 0 || h->value.len > 18)
                return WL_HTTP1_E_BAD_FRAMING;
            int64_t n = 0;
            for (size_t i = 0; i < h->value.len; i++) {
                char c = h->value.base[i];
                if (c < '0' || c > '9')
                    return WL_HTTP1_E_BAD_FRAMING;
                n = n * 10 + (c - '0');
            }
            msg->content_length = n;
        } else if (slice_ieq(h->name, "transfer-encoding")) {
            if (te_seen++)
                return WL_HTTP1_E_BAD_FRAMING;
            if (!slice_ieq(h->value, "chunked"))
                return WL_HTTP1_E_UNSUPPORTED_TE;
            msg->chunked = true;
        } else if (slice_ieq(h->name, "host")) {
            if (host_seen++)
                return WL_HTTP1_E_BAD_REQUEST;
            msg->host = h->value;
        } else if (slice_ieq(h->name, "connection")) {
            conn_close |= list_has_token(h->value, "close");
            conn_keep |= list_has_token(h->value, "keep-alive");
            conn_upgrade |= list_has_token(h->value, "upgrade");
        } else if (slice_ieq(h->name, "upgrade")) {
            upgrade_hdr = 1;
        } else if (slice_ieq(h->name, "expect")) {
            if (slice_ieq(h->value, "100-continue"))
                msg->expect_continue = true;
        }
        p = eol + 2;
    }

    if (cl_seen && te_seen)
        return WL_HTTP1_E_BAD_FRAMING;
    if (te_seen && msg->minor_version == 0)
        return WL_HTTP1_E_BAD_FRAMING;
    if (is_request && msg->minor_version == 1 && !host_seen)
        return WL_HTTP1_E_BAD_REQUEST;
    if (msg->minor_version == 1)
        msg->keep_alive = !conn_close;
    else
        msg->keep_alive = conn_keep && !conn_close;
    msg->upgrade = conn_upgrade && upgrade_hdr;
    return 0;
}

static void msg_reset(struct wl_http1_message *msg)
{
    memset(msg, 0, offsetof(struct wl_http1_message, headers));
    msg->nheaders = 0;
    msg->host.base = NULL;
    msg->host.len = 0;
    msg->content_length = -1;
    msg->chunked = msg->keep_alive = msg->expect_continue = msg->upgrade = false;
    msg->head_len = 0;
}

/* Common prologue: finds the head, enforces the size limit. Returns head length, 0, or error. */
static long head_bounds(const char *buf, size_t len, const struct wl_http1_limits *lim)
{
    size_t scan = len < lim->max_header_bytes ? len : lim->max_header_bytes;
    long end = find_head_end(buf, scan);
    if (end < 0)
        return WL_HTTP1_E_BAD_REQUEST;
    if (end == 0 && len >= lim->max_header_bytes)
        return WL_HTTP1_E_HEADER_TOO_LARGE;
    return end;
}

int wl_http1_parse_request(const char *buf, size_t len, const struct wl_http1_limits *lim,
                           struct wl_http1_message *msg)
{
    msg_reset(msg);
    long end = head_bounds(buf, len, lim);
    if (end <= 0)
        return (int)end;
    const char *p = buf, *head_end = buf + end - 2; /* at the final CRLF */
    const char *eol = memchr(p, '\r', (size_t)(head_end - p) + 1);

    /* method SP request-target SP HTTP-version */
    const char *sp1 = p;
    while (sp1 < eol && is_tchar((unsigned char)*sp1))
        sp1++;
    if (sp1 == p || sp1 >= eol || *sp1 != ' ')
        return WL_HTTP1_E_BAD_REQUEST;
    msg->method.base = p;
    msg->method.len = (size_t)(sp1 - p);
    const char *t = sp1 + 1, *sp2 = t;
    while (sp2 < eol && *sp2 != ' ') {
        unsigned char c = (unsigned char)*sp2;
        if (c <= 0x20 || c == 0x7f)
            return WL_HTTP1_E_BAD_REQUEST;
        sp2++;
    }
    if (sp2 == t || sp2 >= eol)
        return WL_HTTP1_E_BAD_REQUEST;
    msg->target.base = t;
    msg->target.len = (size_t)(sp2 - t);
    int minor = parse_version(sp2 + 1, (size_t)(eol - sp2 - 1));
    if (minor == -2)
        return WL_HTTP1_E_BAD_REQUEST;
    if (minor < 0)
        return WL_HTTP1_E_VERSION;
    msg->minor_version = minor;
    const char *q = memchr(t, '?', msg->target.len);
    msg->path.base = t;
    msg->path.len = q ? (size_t)(q - t) : msg->target.len;
    if (q) {
        msg->query.base = q + 1;
        msg->query.len = (size_t)(sp2 - q - 1);
    } else {
        msg->query.base = sp2;
        msg->query.len = 0;
    }
    if (*t != '/' && !(msg->target.len == 1 && *t == '*') &&
        !(msg->target.len > 7 &&
          (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0)) &&
        !slice_ieq(msg->method, "CONNECT"))
        return WL_HTTP1_E_BAD_REQUEST;

    int rc = parse_headers(eol + 2, head_end, lim, msg, 1);
    if (rc < 0)
        return rc;
    if (msg->content_length >= 0 && (uint64_t)msg->content_length > lim->max_body_bytes)
        return WL_HTTP1_E_BODY_TOO_LARGE;
    msg->head_len = (size_t)end;
    return (int)end;
}

int wl_http1_parse_response(const char *buf, size_t len, const struct wl_http1_limits *lim,
                            struct wl_http1_message *msg)
{
    msg_reset(msg);
    long end = head_bounds(buf, len, lim);
    if (end <= 0)
        return (int)end;
    const char *p = buf, *head_end = buf + end - 2;
    const char *eol = memchr(p, '\r', (size_t)(head_end - p) + 1);
    /* HTTP-version SP 3DIGIT SP [reason] */
    if (eol - p < 12 || p[8] != ' ' || (eol - p > 12 && p[12] != ' '))
        return WL_HTTP1_E_BAD_REQUEST;
    int minor = parse_version(p, 8);
    if (minor == -2)
        return WL_HTTP1_E_BAD_REQUEST;
    if (minor < 0)
        return WL_HTTP1_E_VERSION;
    msg->minor_version = minor;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            return WL_HTTP1_E_BAD_REQUEST;
        status = status * 10 + (p[i] - '0');
    }
    if (status < 100)
        return WL_HTTP1_E_BAD_REQUEST;
    msg->status = status;
    msg->reason.base = eol - p > 12 ? p + 13 : eol;
    msg->reason.len = eol - p > 12 ? (size_t)(eol - p - 13) : 0;
    for (size_t i = 0; i < msg->reason.len; i++)
        if (!is_value_char((unsigned char)msg->reason.base[i]))
            return WL_HTTP1_E_BAD_REQUEST;
    int rc = parse_headers(eol + 2, head_end, lim, msg, 0);
    if (rc < 0)
        return rc;
    msg->head_len = (size_t)end;
    return (int)end;
}

const struct wl_http1_header *wl_http1_find_header(const struct wl_http1_message *msg,
                                                   const char *name)
{
    for (size_t i = 0; i < msg->nheaders; i++)
        if (slice_ieq(msg->headers[i].name, name))
            return &msg->headers[i];
    return NULL;
}

int wl_http1_error_status(int parse_result)
{
    switch (parse_result) {
    case WL_HTTP1_E_HEADER_TOO_LARGE:
        return 431;
    case WL_HTTP1_E_UNSUPPORTED_TE:
        return 501;
    case WL_HTTP1_E_VERSION:
        return 505;
    case WL_HTTP1_E_BODY_TOO_LARGE:
        return 413;
    default:
        return 400;
    }
}

/* ---- chunked ---- */

enum {
    CH_SIZE = 0, /* hex digits */
    CH_EXT,      /* chunk extension until CR */
    CH_SIZE_LF,  /* expecting LF after size line */
    CH_DATA,     /* chunk_remaining bytes */
    CH_DATA_CR,  /* CR after data */
    CH_DATA_LF,  /* LF after data */
    CH_TRAILER,  /* start of a trailer line (or the final CRLF) */
    CH_TRAILER_LINE,
    CH_TRAILER_LF,
    CH_FINAL_LF,
    CH_DONE,
};

#define CH_MAX_LINE 4096
#define CH_MAX_TRAILERS 16384

void wl_http1_chunked_init(struct wl_http1_chunked *d, uint64_t max_body)
{
    memset(d, 0, sizeof *d);
    d->max_body = max_body;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int wl_http1_chunked_decode(struct wl_http1_chunked *d, char *buf, size_t len, size_t *consumed,
                            size_t *decoded)
{
    size_t in = 0, out = 0;
    int rc = 0;
    while (in < len && d->state != CH_DONE) {
        unsigned char c = (unsigned char)buf[in];
        switch (d->state) {
        case CH_SIZE: {
            int h = hexval(c);
            if (h >= 0) {
                if (d->size_digits == 16) {
                    rc = WL_HTTP1_E_BAD_REQUEST;
                    goto out;
                }
                d->chunk_remaining = d->chunk_remaining * 16 + (uint64_t)h;
                d->size_digits++;
                in++;
            } else if (d->size_digits == 0) {
                rc = WL_HTTP1_E_BAD_REQUEST;
                goto out;
            } else if (c == ';' || c == ' ' || c == '\t') {
                d->state = CH_EXT;
                d->line_len = 0;
                in++;
            } else if (c == '\r') {
                d->state = CH_SIZE_LF;
                in++;
            } else {
                rc = WL_HTTP1_E_BAD_REQUEST;
                goto out;
            }
            break;
        }
        case CH_EXT:
            if (c == '\r') {
                d->state = CH_SIZE_LF;
            } else if (c == '\n' || (c < 0x20 && c != '\t') || c == 0x7f ||
                       ++d->line_len > CH_MAX_LINE) {
                rc = WL_HTTP1_E_BAD_REQUEST;
                goto out;
            }
            in++;
            break;
        case CH_SIZE_LF:
            if (c != '\n') {
                rc = WL_HTTP1_E_BAD_REQUEST;
                goto out;
            }
            in++;
            if (d->max_body && d->total + d->chunk_remaining > d->max_body) {
                rc = WL_HTTP1_E_BODY_TOO_LARGE;
                goto out;
            }
            d->size_digits = 0;
            if (d->chunk_remaining == 0) {
                d->state = CH_TRAILER;
            } else {
                d->state = CH_DATA;
            }
            break;
        case CH_DATA: {
            size_t n = len - in;
            if (n > d->chunk_remaining)
                n = (size_t)d->chunk_remaining;
            memmove(buf + out, buf + in, n);
            out += n;
            in += n;
            d->chunk_remaining -= n;
            d->total += n;
            if (d->chunk_remaining == 0)
                d->state = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            if (c != '\r') {
                rc = WL_HTTP1_E_BAD_REQUEST;
                goto out;
            }
            d->state = CH_DATA_LF;
            in++;
            break;
        case CH_DATA_LF:
            if (c != '\n') {
                rc = WL_HTTP1_E_BAD_REQUEST;
                goto out;
            }
            d->state = CH_SIZE;
            in++;
            break;
        case CH_TRAILER:
            if (c == '\r') {
                d->state = CH_FINAL_LF;
            } else if (is_tchar(c)) {
                d->state = CH_TRAILER_LINE;
                d->line_len = 1;
                d->trailer_bytes++;
            } else {
                rc = WL_HTTP1_E_BAD_REQUEST;
                goto out;
            }
            in++;
            break;
        case CH_TRAILER_LINE:
            if (c == '\r') {
                d->state = CH_TRAILER_LF;
            } else if (c == '\n' || (c < 0x20 && c != '\t') || c == 0x7f ||
                       ++d->trailer_bytes > CH_MAX_TRAILERS) {
                rc = WL_HTTP1_E_BAD_REQUEST;
                goto out;
            }
            in++;
            break;
        case CH_TRAILER_LF:
            if (c != '\n') {
                rc = WL_HTTP1_E_BAD_REQUEST;
                goto out;
            }
            d->state = CH_TRAILER;
            in++;
            break;
        case CH_FINAL_LF:
            if (c != '\n') {
                rc = WL_HTTP1_E_BAD_REQUEST;
                goto out;
            }
            d->state = CH_DONE;
            d->done = true;
            in++;
            break;
        default:
            rc = WL_HTTP1_E_BAD_REQUEST;
            goto out;
        }
    }
    rc = d->state == CH_DONE ? 1 : 0;
out:
    *consumed = in;
    *decoded = out;
    return rc;
}

const char *wl_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 421:
        return "Misdirected Request";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}
