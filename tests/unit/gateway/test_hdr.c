/* test_hdr.c - the gateway's header handling (gateway/hdr.c) and snapshot lookup. */
#include "gw_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void add(struct gw_arena *a, struct gw_hdrs *h, const char *n, const char *v)
{
    gw_hdrs_add(a, h, n, strlen(n), v, strlen(v));
}

static char *origin_head(struct gw_hdrs *h, bool has_body, int64_t cl, bool *chunked)
{
    struct gw_head_in in = {.method = "GET",
                            .method_len = 3,
                            .target = "/p?q=1",
                            .target_len = 6,
                            .authority = "wiki.example.com",
                            .authority_len = 16,
                            .peer = "10.1.2.3",
                            .hdrs = h,
                            .has_body = has_body,
                            .content_length = cl};
    size_t len = 0;
    char *out = gw_hdr_origin_request(&in, &len, chunked);
    if (out) {
        char *s = malloc(len + 1);
        memcpy(s, out, len);
        s[len] = '\0';
        free(out);
        return s;
    }
    return NULL;
}

static void token_from_cookie_wins_over_bearer(void **state)
{
    (void)state;
    struct gw_arena a = {0};
    struct gw_hdrs h = {0};
    add(&a, &h, "Authorization", "Bearer bbb");
    add(&a, &h, "Cookie", "x=1; __Host-wl_session=ccc; y=2");
    struct gw_token t;
    assert_true(gw_hdr_find_token(&h, &t));
    assert_int_equal(t.len, 3);
    assert_memory_equal(t.base, "ccc", 3);
    assert_true(t.from_cookie);
    gw_arena_dispose(&a);
}

static void token_bearer_and_none(void **state)
{
    (void)state;
    struct gw_arena a = {0};
    struct gw_hdrs h = {0};
    struct gw_token t;
    add(&a, &h, "Cookie", "__Host-wl_sessionX=1; wl_session=2");
    assert_false(gw_hdr_find_token(&h, &t));
    add(&a, &h, "authorization", "bearer tok123");
    assert_true(gw_hdr_find_token(&h, &t));
    assert_int_equal(t.len, 6);
    assert_false(t.from_cookie);
    gw_arena_dispose(&a);
}

static void origin_head_strips_credentials_and_hop_by_hop(void **state)
{
    (void)state;
    struct gw_arena a = {0};
    struct gw_hdrs h = {0};
    add(&a, &h, "Cookie", "app=1; __Host-wl_session=secret; other=2");
    add(&a, &h, "Authorization", "Bearer secret");
    add(&a, &h, "Connection", "keep-alive, X-Private");
    add(&a, &h, "X-Private", "1");
    add(&a, &h, "TE", "trailers");
    add(&a, &h, "X-Forwarded-For", "6.6.6.6");
    add(&a, &h, "Accept", "text/html");
    bool chunked = true;
    char *s = origin_head(&h, false, -1, &chunked);
    assert_non_null(s);
    assert_false(chunked);
    assert_non_null(strstr(s, "GET /p?q=1 HTTP/1.1\r\nHost: wiki.example.com\r\n"));
    assert_non_null(strstr(s, "Cookie: app=1; other=2\r\n"));
    assert_null(strstr(s, "secret"));
    assert_null(strstr(s, "X-Private"));
    assert_null(strstr(s, "TE:"));
    assert_null(strstr(s, "6.6.6.6"));
    assert_non_null(strstr(s, "X-Forwarded-For: 10.1.2.3\r\n"));
    assert_non_null(strstr(s, "Forwarded: for=10.1.2.3;proto=https\r\n"));
    assert_non_null(strstr(s, "Accept: text/html\r\n"));
    assert_non_null(strstr(s, "\r\n\r\n"));
    free(s);
    gw_arena_dispose(&a);
}

static void origin_head_only_session_cookie_drops_header(void **state)
{
    (void)state;
    struct gw_arena a = {0};
    struct gw_hdrs h = {0};
    add(&a, &h, "Cookie", "__Host-wl_session=secret");
    bool chunked;
    char *s = origin_head(&h, true, -1, &chunked);
    assert_non_null(s);
    assert_true(chunked);
    assert_null(strstr(s, "Cookie"));
    assert_non_null(strstr(s, "Transfer-Encoding: chunked\r\n"));
    free(s);
    s = origin_head(&h, true, 42, &chunked);
    assert_false(chunked);
    assert_non_null(strstr(s, "Content-Length: 42\r\n"));
    free(s);
    gw_arena_dispose(&a);
}

static void origin_head_refuses_line_breaks(void **state)
{
    (void)state;
    struct gw_arena a = {0};
    struct gw_hdrs h = {0};
    add(&a, &h, "X-Evil", "a\r\nHost: other");
    bool chunked;
    assert_null(origin_head(&h, false, -1, &chunked));
    struct gw_hdrs h2 = {0};
    add(&a, &h2, "Bad Name", "v");
    assert_null(origin_head(&h2, false, -1, &chunked));
    gw_arena_dispose(&a);
}

static void response_filter_drops_hop_by_hop(void **state)
{
    (void)state;
    const char resp[] = "HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\n"
                        "Content-Length: 2\r\nX-Keep: yes\r\n\r\n";
    struct wl_http1_limits lim;
    wl_http1_limits_default(&lim);
    struct wl_http1_message *m = malloc(sizeof *m);
    assert_true(wl_http1_parse_response(resp, sizeof resp - 1, &lim, m) > 0);
    struct gw_arena a = {0};
    struct gw_hdrs h = {0};
    gw_hdr_origin_response(&a, m, &h);
    assert_int_equal(h.n, 2);
    assert_string_equal(h.v[0].name, "Content-Length");
    assert_string_equal(h.v[1].name, "X-Keep");
    free(m);
    gw_arena_dispose(&a);
}

static void snapshot_find_is_case_insensitive(void **state)
{
    (void)state;
    struct gw_snapshot *s = gw_snapshot_new();
    s->domains = calloc(2, sizeof *s->domains);
    s->domains[0].name = strdup("a.example.com");
    s->domains[1].name = strdup("wiki.example.com");
    s->domains[1].status = GW_DOM_INACTIVE;
    s->ndomains = 2;
    const struct gw_domain *d = gw_snapshot_find(s, "WIKI.Example.com", 16);
    assert_non_null(d);
    assert_int_equal(d->status, GW_DOM_INACTIVE);
    assert_non_null(gw_snapshot_find(s, "a.example.com.", 14));
    assert_null(gw_snapshot_find(s, "b.example.com", 13));
    assert_null(gw_snapshot_find(s, "", 0));
    gw_snapshot_unref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_from_cookie_wins_over_bearer),
        cmocka_unit_test(token_bearer_and_none),
        cmocka_unit_test(origin_head_strips_credentials_and_hop_by_hop),
        cmocka_unit_test(origin_head_only_session_cookie_drops_header),
        cmocka_unit_test(origin_head_refuses_line_breaks),
        cmocka_unit_test(response_filter_drops_hop_by_hop),
        cmocka_unit_test(snapshot_find_is_case_insensitive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
