/* test_header_policy.c - response header policy: no-store, cookies out, CSP merge, downloads,
 * redirects, body decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "header_policy.h"

#include <string.h>

#define H(n, v)                                                                                    \
    {                                                                                              \
        n, sizeof(n) - 1, v, sizeof(v) - 1                                                         \
    }

static const char *const domains[] = {"wiki.example.com", "*.corp.example.com"};

static struct rnd_url_policy urls(void)
{
    struct rnd_url_policy p;
    memset(&p, 0, sizeof p);
    p.domains = domains;
    p.ndomains = 2;
    return p;
}

/* Value of the n-th header called `name` in the result, or NULL. */
static const char *get(const struct rnd_hp_result *r, const char *name, int nth, char *buf)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        const struct rnd_header *h = &r->headers[i];
        if (h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0 &&
            nth-- == 0) {
            memcpy(buf, h->value, h->value_len);
            buf[h->value_len] = 0;
            return buf;
        }
    }
    return NULL;
}

static void test_no_cacheable_response(void **state)
{
    (void)state;
    struct rnd_url_policy u = urls();
    struct rnd_hp_config cfg = {.urls = &u, .accept_encoding = "gzip, br"};
    struct rnd_header in[] = {
        H("Content-Type", "text/html; charset=utf-8"),
        H("Cache-Control", "public, max-age=3600"),
        H("ETag", "\"abc\""),
        H("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"),
        H("Expires", "Tue, 01 Jan 2030 00:00:00 GMT"),
        H("Pragma", "cache"),
        H("Age", "10"),
        H("Content-Length", "1234"),
        H("X-Custom", "kept"),
    };
    struct rnd_hp_result r;
    char buf[4096];
    assert_int_equal(rnd_headers_apply(&cfg, in, sizeof in / sizeof in[0], &r), 0);
    assert_string_equal(get(&r, "Cache-Control", 0, buf), "no-store");
    assert_null(get(&r, "Cache-Control", 1, buf));
    assert_null(get(&r, "ETag", 0, buf));
    assert_null(get(&r, "Last-Modified", 0, buf));
    assert_null(get(&r, "Expires", 0, buf));
    assert_null(get(&r, "Pragma", 0, buf));
    assert_null(get(&r, "Content-Length", 0, buf)); /* body is rewritten */
    assert_string_equal(get(&r, "Content-Encoding", 0, buf), "gzip");
    assert_string_equal(get(&r, "X-Custom", 0, buf), "kept");
    assert_string_equal(get(&r, "X-Content-Type-Options", 0, buf), "nosniff");
    assert_string_equal(get(&r, "Referrer-Policy", 0, buf), "same-origin");
    assert_null(get(&r, "Clear-Site-Data", 0, buf));
    assert_int_equal(r.body, RND_BODY_REWRITE_HTML);
    assert_int_equal(r.in_coding, RND_CODING_IDENTITY);
    assert_int_equal(r.out_coding, RND_CODING_GZIP);
    rnd_hp_result_dispose(&r);
}

static void test_set_cookie_goes_to_jar(void **state)
{
    (void)state;
    struct rnd_url_policy u = urls();
    struct rnd_hp_config cfg = {.urls = &u};
    struct rnd_header in[] = {
        H("Content-Type", "image/png"),
        H("Set-Cookie", "a=1; Path=/"),
        H("set-cookie", "b=2; HttpOnly"),
        H("Content-Length", "10"),
    };
    struct rnd_hp_result r;
    char buf[4096];
    assert_int_equal(rnd_headers_apply(&cfg, in, 4, &r), 0);
    assert_null(get(&r, "Set-Cookie", 0, buf));
    assert_int_equal(r.nset_cookies, 2);
    assert_memory_equal(r.set_cookies[1].value, "b=2; HttpOnly", 13);
    assert_int_equal(r.body, RND_BODY_PASS);
    assert_string_equal(get(&r, "Content-Length", 0, buf), "10"); /* untouched body */
    rnd_hp_result_dispose(&r);
}

static void test_csp_merged_never_weaker(void **state)
{
    (void)state;
    struct rnd_url_policy u = urls();
    u.tunnel_port = 8443;
    struct rnd_hp_config cfg = {.urls = &u};
    struct rnd_header in[] = {
        H("Content-Type", "text/html"),
        H("Content-Security-Policy", "default-src 'self'; script-src 'nonce-abc'"),
    };
    struct rnd_hp_result r;
    char buf[4096];
    assert_int_equal(rnd_headers_apply(&cfg, in, 2, &r), 0);
    /* the origin's policy is kept as is, ours is added: browsers enforce both */
    assert_string_equal(get(&r, "Content-Security-Policy", 0, buf),
                        "default-src 'self'; script-src 'nonce-abc'");
    const char *ours = get(&r, "Content-Security-Policy", 1, buf);
    assert_non_null(ours);
    assert_non_null(strstr(ours, "connect-src 'self' https://wiki.example.com:8443 "
                                 "https://*.corp.example.com:8443 wss://wiki.example.com:8443"));
    assert_non_null(strstr(ours, "form-action 'self' https://wiki.example.com:8443"));
    assert_non_null(strstr(ours, "frame-src 'self'"));
    assert_non_null(strstr(ours, "img-src 'self' data: blob: https://wiki.example.com:8443"));
    assert_non_null(strstr(ours, "script-src 'self'"));
    assert_null(strstr(ours, "*;"));
    assert_null(strstr(ours, "http:"));
    rnd_hp_result_dispose(&r);
}

static void test_sign_out_clears_site_data(void **state)
{
    (void)state;
    struct rnd_url_policy u = urls();
    struct rnd_hp_config cfg = {.urls = &u, .sign_out = 1};
    struct rnd_header in[] = {H("Content-Type", "text/html")};
    struct rnd_hp_result r;
    char buf[4096];
    assert_int_equal(rnd_headers_apply(&cfg, in, 1, &r), 0);
    assert_string_equal(get(&r, "Clear-Site-Data", 0, buf), "\"cache\", \"cookies\", \"storage\"");
    rnd_hp_result_dispose(&r);
}

static void test_downloads_follow_fleet_setting(void **state)
{
    (void)state;
    struct rnd_url_policy u = urls();
    struct rnd_hp_config cfg = {.urls = &u, .allow_downloads = 0};
    struct rnd_header in[] = {
        H("Content-Type", "application/pdf"),
        H("Content-Disposition", "Attachment; filename=\"x.pdf\""),
        H("Content-Length", "99"),
    };
    struct rnd_hp_result r;
    char buf[4096];
    assert_int_equal(rnd_headers_apply(&cfg, in, 3, &r), 0);
    assert_int_equal(r.body, RND_BODY_BLOCK);
    assert_int_equal(r.status, 403);
    assert_null(get(&r, "Content-Disposition", 0, buf));
    assert_string_equal(get(&r, "Content-Type", 0, buf), "text/html; charset=utf-8");
    rnd_hp_result_dispose(&r);
    cfg.allow_downloads = 1;
    assert_int_equal(rnd_headers_apply(&cfg, in, 3, &r), 0);
    assert_int_equal(r.body, RND_BODY_PASS);
    assert_int_equal(r.status, 0);
    assert_non_null(get(&r, "Content-Disposition", 0, buf));
    assert_string_equal(get(&r, "Content-Length", 0, buf), "99");
    rnd_hp_result_dispose(&r);
}

static void test_redirects_follow_link_policy(void **state)
{
    (void)state;
    struct rnd_url_policy u = urls();
    u.tunnel_port = 8443;
    struct rnd_hp_config cfg = {.urls = &u};
    struct rnd_header in[] = {
        H("Location", "http://wiki.example.com/login?next=/a"),
        H("Content-Location", "https://evil.example.net/x"),
        H("Refresh", "5; url=/relative"),
    };
    struct rnd_hp_result r;
    char buf[4096];
    assert_int_equal(rnd_headers_apply(&cfg, in, 3, &r), 0);
    assert_string_equal(get(&r, "Location", 0, buf), "https://wiki.example.com:8443/login?next=/a");
    assert_string_equal(get(&r, "Content-Location", 0, buf),
                        "/__worklink/blocked?url=https%3A%2F%2Fevil.example.net%2Fx");
    assert_string_equal(get(&r, "Refresh", 0, buf), "5; url=/relative");
    rnd_hp_result_dispose(&r);
}

static void test_body_decisions(void **state)
{
    (void)state;
    struct rnd_url_policy u = urls();
    struct rnd_hp_config cfg = {.urls = &u, .accept_encoding = "br;q=1, gzip;q=0"};
    struct rnd_header gz[] = {H("Content-Type", "text/html"), H("Content-Encoding", "gzip")};
    struct rnd_header utf16[] = {H("Content-Type", "text/html; charset=UTF-16LE")};
    struct rnd_header zstd[] = {H("Content-Type", "text/html"), H("Content-Encoding", "zstd")};
    struct rnd_header bad[] = {H("Bad Name", "x")};
    struct rnd_hp_result r;
    assert_int_equal(rnd_headers_apply(&cfg, gz, 2, &r), 0);
    assert_int_equal(r.body, RND_BODY_REWRITE_HTML);
    assert_int_equal(r.in_coding, RND_CODING_GZIP);
    assert_int_equal(r.out_coding, RND_CODING_BR);
    rnd_hp_result_dispose(&r);
    assert_int_equal(rnd_headers_apply(&cfg, utf16, 1, &r), 0);
    assert_int_equal(r.body, RND_BODY_PASS);
    rnd_hp_result_dispose(&r);
    assert_int_equal(rnd_headers_apply(&cfg, zstd, 2, &r), 0);
    assert_int_equal(r.body, RND_BODY_PASS);
    rnd_hp_result_dispose(&r);
    assert_int_equal(rnd_headers_apply(&cfg, bad, 1, &r), -1);
    assert_true(rnd_accept_encoding_has("gzip, deflate", "gzip"));
    assert_false(rnd_accept_encoding_has("gzip;q=0", "gzip"));
    assert_true(rnd_accept_encoding_has("*", "br"));
    assert_false(rnd_accept_encoding_has(NULL, "gzip"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_cacheable_response),
        cmocka_unit_test(test_set_cookie_goes_to_jar),
        cmocka_unit_test(test_csp_merged_never_weaker),
        cmocka_unit_test(test_sign_out_clears_site_data),
        cmocka_unit_test(test_downloads_follow_fleet_setting),
        cmocka_unit_test(test_redirects_follow_link_policy),
        cmocka_unit_test(test_body_decisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
