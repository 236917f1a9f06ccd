/* test_http1.c - the strict HTTP/1 parser: valid shapes, smuggling shapes, limits, chunked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

static int parse(const char *s, struct wl_http1_message *m)
{
    struct wl_http1_limits lim;
    wl_http1_limits_default(&lim);
    return wl_http1_parse_request(s, strlen(s), &lim, m);
}

static int slice_is(struct wl_slice s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.base, lit, s.len) == 0;
}

static void test_simple_get(void **state)
{
    (void)state;
    struct wl_http1_message m;
    const char *req = "GET /a/b?x=1&y HTTP/1.1\r\nHost: example.com\r\nX-A:  v  \r\n\r\nrest";
    int rc = parse(req, &m);
    assert_int_equal(rc, (int)(strstr(req, "rest") - req));
    assert_true(slice_is(m.method, "GET"));
    assert_true(slice_is(m.path, "/a/b"));
    assert_true(slice_is(m.query, "x=1&y"));
    assert_true(slice_is(m.host, "example.com"));
    assert_int_equal(m.minor_version, 1);
    assert_true(m.keep_alive);
    assert_int_equal(m.content_length, -1);
    const struct wl_http1_header *h = wl_http1_find_header(&m, "x-a");
    assert_non_null(h);
    assert_true(slice_is(h->value, "v"));
}

static void test_incomplete_at_every_byte(void **state)
{
    (void)state;
    const char *req = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n";
    struct wl_http1_limits lim;
    wl_http1_limits_default(&lim);
    struct wl_http1_message m;
    size_t n = strlen(req);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(wl_http1_parse_request(req, i, &lim, &m), WL_HTTP1_INCOMPLETE);
    assert_int_equal(wl_http1_parse_request(req, n, &lim, &m), (int)n);
    assert_int_equal(m.content_length, 3);
}

static void test_keep_alive_rules(void **state)
{
    (void)state;
    struct wl_http1_message m;
    assert_true(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", &m) > 0);
    assert_false(m.keep_alive);
    assert_true(parse("GET / HTTP/1.0\r\n\r\n", &m) > 0);
    assert_false(m.keep_alive);
    assert_true(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &m) > 0);
    assert_true(m.keep_alive);
    assert_true(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n"
                      "Upgrade: websocket\r\n\r\n",
                      &m) > 0);
    assert_true(m.upgrade);
}

static void test_smuggling_shapes_rejected(void **state)
{
    (void)state;
    struct wl_http1_message m;
    /* duplicate Content-Length, even equal */
    assert_int_equal(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                           "Content-Length: 5\r\n\r\n",
                           &m),
                     WL_HTTP1_E_BAD_FRAMING);
    /* CL + TE */
    assert_int_equal(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n",
                           &m),
                     WL_HTTP1_E_BAD_FRAMING);
    /* TE other than chunked, and chunked not alone */
    assert_int_equal(
        parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &m),
        WL_HTTP1_E_UNSUPPORTED_TE);
    assert_int_equal(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n",
                           &m),
                     WL_HTTP1_E_BAD_FRAMING);
    /* whitespace before the colon */
    assert_int_equal(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length : 5\r\n\r\n", &m),
                     WL_HTTP1_E_BAD_REQUEST);
    /* obs-fold */
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", &m),
                     WL_HTTP1_E_BAD_REQUEST);
    /* bare LF and bare CR */
    assert_int_equal(parse("GET / HTTP/1.1\nHost: h\n\n", &m), WL_HTTP1_E_BAD_REQUEST);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", &m), WL_HTTP1_E_BAD_REQUEST);
    /* signs and junk in Content-Length */
    assert_int_equal(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", &m),
                     WL_HTTP1_E_BAD_FRAMING);
    assert_int_equal(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", &m),
                     WL_HTTP1_E_BAD_FRAMING);
    /* missing and duplicate Host on 1.1 */
    assert_int_equal(parse("GET / HTTP/1.1\r\n\r\n", &m), WL_HTTP1_E_BAD_REQUEST);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", &m),
                     WL_HTTP1_E_BAD_REQUEST);
    /* TE on HTTP/1.0 */
    assert_int_equal(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", &m),
                     WL_HTTP1_E_BAD_FRAMING);
    /* control characters in values, NUL in the target */
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nX: a\001b\r\n\r\n", &m),
                     WL_HTTP1_E_BAD_REQUEST);
    const char nul[] = "GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n";
    struct wl_http1_limits lim;
    wl_http1_limits_default(&lim);
    assert_int_equal(wl_http1_parse_request(nul, sizeof nul - 1, &lim, &m), WL_HTTP1_E_BAD_REQUEST);
    /* versions */
    assert_int_equal(parse("GET / HTTP/2.0\r\nHost: h\r\n\r\n", &m), WL_HTTP1_E_VERSION);
    assert_int_equal(parse("GET / HTTX/1.1\r\nHost: h\r\n\r\n", &m), WL_HTTP1_E_BAD_REQUEST);
    /* double space in the request line */
    assert_int_equal(parse("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", &m), WL_HTTP1_E_BAD_REQUEST);
}

static void test_limits(void **state)
{
    (void)state;
    struct wl_http1_limits lim;
    wl_http1_limits_default(&lim);
    lim.max_header_bytes = 64;
    lim.max_headers = 2;
    lim.max_body_bytes = 10;
    struct wl_http1_message m;
    char big[200];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET /", 5);
    assert_int_equal(wl_http1_parse_request(big, sizeof big, &lim, &m),
                     WL_HTTP1_E_HEADER_TOO_LARGE);
    const char *many = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n";
    assert_int_equal(wl_http1_parse_request(many, strlen(many), &lim, &m),
                     WL_HTTP1_E_HEADER_TOO_LARGE);
    const char *body = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n";
    assert_int_equal(wl_http1_parse_request(body, strlen(body), &lim, &m),
                     WL_HTTP1_E_BODY_TOO_LARGE);
    assert_int_equal(wl_http1_error_status(WL_HTTP1_E_BODY_TOO_LARGE), 413);
    assert_int_equal(wl_http1_error_status(WL_HTTP1_E_HEADER_TOO_LARGE), 431);
}

static void test_response(void **state)
{
    (void)state;
    struct wl_http1_limits lim;
    wl_http1_limits_default(&lim);
    struct wl_http1_message m;
    const char *r = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(wl_http1_parse_response(r, strlen(r), &lim, &m), (int)strlen(r));
    assert_int_equal(m.status, 404);
    assert_true(slice_is(m.reason, "Not Found"));
    const char *r2 = "HTTP/1.1 200\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_int_equal(wl_http1_parse_response(r2, strlen(r2), &lim, &m), (int)strlen(r2));
    assert_true(m.chunked);
    const char *bad = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_int_equal(wl_http1_parse_response(bad, strlen(bad), &lim, &m), WL_HTTP1_E_BAD_FRAMING);
}

/* Decodes `in` fed in pieces of `step` bytes; returns the decoded string (static). */
static const char *chunked_in_steps(const char *in, size_t step, int *rc_out, size_t *rest)
{
    static char out[4096];
    size_t outlen = 0, pos = 0, n = strlen(in);
    struct wl_http1_chunked d;
    wl_http1_chunked_init(&d, 1000);
    int rc = 0;
    while (pos < n && rc == 0) {
        char buf[64];
        size_t take = n - pos < step ? n - pos : step;
        memcpy(buf, in + pos, take);
        size_t consumed, decoded;
        rc = wl_http1_chunked_decode(&d, buf, take, &consumed, &decoded);
        memcpy(out + outlen, buf, decoded);
        outlen += decoded;
        pos += consumed;
        if (rc == 0 && consumed != take)
            rc = -100; /* must consume everything unless done */
    }
    out[outlen] = '\0';
    *rc_out = rc;
    *rest = n - pos;
    return out;
}

static void test_chunked_any_split(void **state)
{
    (void)state;
    const char *body = "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n"
                       "Trailer: x\r\n\r\nNEXT";
    for (size_t step = 1; step <= 40; step++) {
        int rc;
        size_t rest;
        const char *out = chunked_in_steps(body, step, &rc, &rest);
        assert_int_equal(rc, 1);
        assert_string_equal(out, "helloabcdefghijklmnopqrstuvwxyz");
        assert_int_equal(rest, 4); /* "NEXT" belongs to the next message */
    }
}

static void test_chunked_errors(void **state)
{
    (void)state;
    int rc;
    size_t rest;
    chunked_in_steps("5\r\nhelloX\r\n0\r\n\r\n", 3, &rc, &rest);
    assert_int_equal(rc, WL_HTTP1_E_BAD_REQUEST);
    chunked_in_steps("zz\r\n", 3, &rc, &rest);
    assert_int_equal(rc, WL_HTTP1_E_BAD_REQUEST);
    chunked_in_steps("11111111111111111\r\n", 5, &rc, &rest); /* 17 hex digits: overflow */
    assert_int_equal(rc, WL_HTTP1_E_BAD_REQUEST);
    chunked_in_steps("3E9\r\n", 5, &rc, &rest); /* 1001 > max 1000 */
    assert_int_equal(rc, WL_HTTP1_E_BODY_TOO_LARGE);
    chunked_in_steps("5\nhello\r\n", 5, &rc, &rest); /* bare LF */
    assert_int_equal(rc, WL_HTTP1_E_BAD_REQUEST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_incomplete_at_every_byte),
        cmocka_unit_test(test_keep_alive_rules),
        cmocka_unit_test(test_smuggling_shapes_rejected),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_response),
        cmocka_unit_test(test_chunked_any_split),
        cmocka_unit_test(test_chunked_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
