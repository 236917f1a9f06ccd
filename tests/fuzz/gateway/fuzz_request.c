/* fuzz_request.c - the gateway's HTTP/1 request path and header handling: a device request head
 * (parsed by common/http1.h) becomes the head sent to the origin; an origin response head becomes
 * the headers sent to the device. Invariants: the origin head always parses back as one valid
 * request, never carries the gateway's session cookie or a Bearer credential, and no hop-by-hop
 * header reaches the device. */
#include "gw_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True when a cookie-pair of the header value is named like the gateway's session cookie. */
static bool has_session_cookie(const char *v, size_t n)
{
    static const char ck[] = GW_SESSION_COOKIE "=";
    const char *p = v, *end = v + n;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ';'))
            p++;
        const char *e = memchr(p, ';', (size_t)(end - p));
        if (!e)
            e = end;
        if ((size_t)(e - p) >= sizeof ck - 1 && memcmp(p, ck, sizeof ck - 1) == 0)
            return true;
        p = e;
    }
    return false;
}

static void check_request(const char *buf, size_t size)
{
    struct wl_http1_limits lim;
    wl_http1_limits_default(&lim);
    struct wl_http1_message *msg = malloc(sizeof *msg);
    struct wl_http1_message *m2 = malloc(sizeof *m2);
    if (!msg || !m2)
        abort();
    int rc = wl_http1_parse_request(buf, size, &lim, msg);
    if (rc > 0) {
        struct gw_arena a = {0};
        struct gw_hdrs h = {0};
        for (size_t i = 0; i < msg->nheaders; i++)
            gw_hdrs_add(&a, &h, msg->headers[i].name.base, msg->headers[i].name.len,
                        msg->headers[i].value.base, msg->headers[i].value.len);
        struct gw_token tok;
        if (gw_hdr_find_token(&h, &tok) && tok.len > msg->head_len)
            abort();
        struct gw_head_in in = {.method = msg->method.base,
                                .method_len = msg->method.len,
                                .target = msg->target.base,
                                .target_len = msg->target.len,
                                .authority = msg->host.len ? msg->host.base : "h",
                                .authority_len = msg->host.len ? msg->host.len : 1,
                                .peer = "127.0.0.1",
                                .hdrs = &h,
                                .has_body = msg->chunked || msg->content_length > 0,
                                .content_length = msg->chunked ? -1 : msg->content_length};
        size_t len = 0;
        bool chunked = false;
        char *out = gw_hdr_origin_request(&in, &len, &chunked);
        if (out) {
            struct wl_http1_limits big = lim;
            big.max_header_bytes = 1 << 20;
            big.max_body_bytes = UINT64_MAX;
            int rc2 = wl_http1_parse_request(out, len, &big, m2);
            if (msg->nheaders < 90 && rc2 != (int)len)
                abort(); /* the origin head must parse back, whole */
            if (rc2 > 0) {
                for (size_t i = 0; i < m2->nheaders; i++) {
                    const struct wl_http1_header *e = &m2->headers[i];
                    if (e->name.len == 13 && strncasecmp(e->name.base, "authorization", 13) == 0 &&
                        e->value.len >= 7 && strncasecmp(e->value.base, "bearer ", 7) == 0)
                        abort();
                    if (e->name.len == 6 && strncasecmp(e->name.base, "cookie", 6) == 0 &&
                        has_session_cookie(e->value.base, e->value.len))
                        abort(); /* the session cookie never reaches the origin */
                }
                if (m2->chunked != chunked)
                    abort();
            }
            free(out);
        }
        gw_arena_dispose(&a);
    }
    rc = wl_http1_parse_response(buf, size, &lim, msg);
    if (rc > 0) {
        struct gw_arena a = {0};
        struct gw_hdrs h = {0};
        gw_hdr_origin_response(&a, msg, &h);
        for (size_t i = 0; i < h.n; i++)
            if (gw_hdr_is_hop_by_hop(h.v[i].name, h.v[i].nlen))
                abort();
        gw_arena_dispose(&a);
    }
    free(msg);
    free(m2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_request((const char *)data, size);
    return 0;
}
