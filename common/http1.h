/* http1.h - strict, incremental HTTP/1.1 message-head parser and chunked decoder (no I/O).
 *
 * Shared by control (admin API) and gateway (device and origin sides). The parser is a pure
 * function over a caller-owned buffer: call wl_http1_parse_request() each time more bytes
 * arrived; it returns WL_HTTP1_INCOMPLETE until the whole head (through the blank line) is
 * there. All slices point into the caller's buffer (borrowed; valid while the buffer is).
 *
 * Smuggling defences (RFC 9112): duplicate Content-Length (even equal), Content-Length together
 * with Transfer-Encoding, any Transfer-Encoding other than a single "chunked", whitespace before
 * the colon, obs-fold, bare CR or bare LF line endings, control characters in values, invalid
 * token characters, missing or repeated Host on HTTP/1.1: all rejected. */
#ifndef WL_HTTP1_H
#define WL_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WL_HTTP1_MAX_HEADERS 100

struct wl_slice {
    const char *base;
    size_t len;
};

enum wl_http1_status {
    WL_HTTP1_INCOMPLETE = 0,
    WL_HTTP1_E_BAD_REQUEST = -1,      /* malformed: answer 400 */
    WL_HTTP1_E_HEADER_TOO_LARGE = -2, /* head > max_header_bytes or too many headers: 431 */
    WL_HTTP1_E_BAD_FRAMING = -3,      /* CL/TE conflicts, duplicate CL (smuggling shape): 400 */
    WL_HTTP1_E_UNSUPPORTED_TE = -4,   /* Transfer-Encoding other than chunked: 501 */
    WL_HTTP1_E_VERSION = -5,          /* not HTTP/1.0 or HTTP/1.1: 505 */
    WL_HTTP1_E_BODY_TOO_LARGE = -6,   /* Content-Length or chunked total > max_body_bytes: 413 */
};

struct wl_http1_limits {
    size_t max_header_bytes; /* whole head including request line; default 16384 */
    size_t max_headers;      /* <= WL_HTTP1_MAX_HEADERS; default 100 */
    uint64_t max_body_bytes; /* default 1 MiB */
};

struct wl_http1_header {
    struct wl_slice name;
    struct wl_slice value; /* leading/trailing OWS stripped */
};

struct wl_http1_message {
    /* request line (requests) */
    struct wl_slice method;
    struct wl_slice target; /* as sent: origin-form "/p?q", absolute-form, or "*" */
    struct wl_slice path;   /* target up to '?' */
    struct wl_slice query;  /* after '?', without it; len 0 if none */
    /* status line (responses) */
    int status;
    struct wl_slice reason;

    int minor_version; /* 0 or 1 */
    struct wl_http1_header headers[WL_HTTP1_MAX_HEADERS];
    size_t nheaders;
    struct wl_slice host;   /* Host header value (requests), len 0 if none */
    int64_t content_length; /* -1 when absent */
    bool chunked;           /* Transfer-Encoding: chunked */
    bool keep_alive;        /* after Connection header and version defaults */
    bool expect_continue;   /* Expect: 100-continue */
    bool upgrade;           /* Connection: upgrade and an Upgrade header present */
    size_t head_len;        /* bytes of the head, including the final CRLF CRLF */
};

/* Fills *lim with the defaults documented above. */
void wl_http1_limits_default(struct wl_http1_limits *lim);

/* Parses a request head from buf[0..len). Returns the head length (> 0) when complete,
 * WL_HTTP1_INCOMPLETE when more bytes are needed, or a negative wl_http1_status. *msg is
 * written in all cases but only meaningful on success. Content-Length above
 * lim->max_body_bytes gives WL_HTTP1_E_BODY_TOO_LARGE. */
int wl_http1_parse_request(const char *buf, size_t len, const struct wl_http1_limits *lim,
                           struct wl_http1_message *msg);

/* Same for a response head ("HTTP/1.1 200 OK"). Host is not required; max_body_bytes is not
 * applied (origin bodies are streamed). */
int wl_http1_parse_response(const char *buf, size_t len, const struct wl_http1_limits *lim,
                            struct wl_http1_message *msg);

/* Case-insensitive lookup of the first header named `name`; NULL if absent. Borrowed. */
const struct wl_http1_header *wl_http1_find_header(const struct wl_http1_message *msg,
                                                   const char *name);

/* HTTP status to answer for a negative parse result (400, 413, 431, 501, 505). */
int wl_http1_error_status(int parse_result);

/* Incremental chunked-body decoder. Zero-initialise (or wl_http1_chunked_init) per body. */
struct wl_http1_chunked {
    int state;
    uint64_t chunk_remaining;
    uint64_t total;       /* decoded bytes so far */
    uint64_t max_body;    /* 0 = unlimited */
    size_t line_len;      /* bytes of the current size/trailer line, bounded */
    size_t trailer_bytes; /* bounded */
    int size_digits;
    bool done;
};

void wl_http1_chunked_init(struct wl_http1_chunked *d, uint64_t max_body);

/* Decodes buf[0..len) in place: the decoded data is written to buf[0..*decoded). *consumed is
 * how many input bytes were used (less than len only when the body ended: the rest belongs to
 * the next message). Returns 1 when the final chunk and trailers are done, 0 when more input is
 * needed, or a negative wl_http1_status (WL_HTTP1_E_BAD_REQUEST, WL_HTTP1_E_BODY_TOO_LARGE). */
int wl_http1_chunked_decode(struct wl_http1_chunked *d, char *buf, size_t len, size_t *consumed,
                            size_t *decoded);

/* Reason phrase for a status code ("Not Found"); "Unknown" for unknown codes. */
const char *wl_http_reason(int status);

#endif
