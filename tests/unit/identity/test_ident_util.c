/* Unit tests of the sign-in helpers (gateway/ident_util.c): query parameters, the return-path
 * check that keeps RelayState from being an open redirect, tokens, URL splitting, device
 * description from the app's headers or the User-Agent. */
#include "identity.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void test_query_param(void **state)
{
    (void)state;
    char out[64];
    const char *t = "/_wl/login?a=1&return=%2Fhello%3Fx%3D1&b=+sp";
    assert_int_equal(gw_ident_query_param(t, strlen(t), "return", out, sizeof out), 10);
    assert_string_equal(out, "/hello?x=1");
    assert_int_equal(gw_ident_query_param(t, strlen(t), "b", out, sizeof out), 3);
    assert_string_equal(out, " sp");
    assert_int_equal(gw_ident_query_param(t, strlen(t), "ret", out, sizeof out), -1);
    assert_int_equal(gw_ident_query_param("/x", 2, "a", out, sizeof out), -1);
    const char *bad = "/x?a=%zz";
    assert_int_equal(gw_ident_query_param(bad, strlen(bad), "a", out, sizeof out), -1);
    const char *trunc = "/x?a=%4";
    assert_int_equal(gw_ident_query_param(trunc, strlen(trunc), "a", out, sizeof out), -1);
    const char *lng = "/x?a=0123456789";
    assert_int_equal(gw_ident_query_param(lng, strlen(lng), "a", out, 5), -1);
}

static void test_return_path_refuses_open_redirects(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(gw_ident_return_path("/hello?x=1", out, sizeof out), 0);
    assert_string_equal(out, "/hello?x=1");
    const char *bad[] = {"https://evil.example/",
                         "//evil.example/",
                         "/\\evil.example",
                         "",
                         "evil",
                         "/a b",
                         "/a\r\nSet-Cookie: x",
                         NULL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(gw_ident_return_path(bad[i], out, sizeof out), -1);
        assert_string_equal(out, "/");
    }
    char lng[200];
    memset(lng, 'a', sizeof lng);
    lng[0] = '/';
    lng[199] = '\0';
    assert_int_equal(gw_ident_return_path(lng, out, sizeof out), -1);
}

static void test_random_tokens(void **state)
{
    (void)state;
    char a[64], b[64];
    assert_int_equal(gw_ident_random_b64url(32, a, sizeof a), 0);
    assert_int_equal(gw_ident_random_b64url(32, b, sizeof b), 0);
    assert_int_equal(strlen(a), 43); /* 256 bits */
    assert_string_not_equal(a, b);
    for (size_t i = 0; a[i]; i++)
        assert_true(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                           a[i]) != NULL);
    assert_int_equal(gw_ident_random_b64url(32, a, 20), -1);
    char h[65];
    gw_ident_sha256_hex("abc", 3, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_url_split(void **state)
{
    (void)state;
    char host[64], path[64];
    assert_int_equal(gw_ident_url_split("https://SSO.Example.test:8443/_wl/corp/saml/acs?x", host,
                                        sizeof host, path, sizeof path),
                     0);
    assert_string_equal(host, "sso.example.test");
    assert_string_equal(path, "/_wl/corp/saml/acs");
    assert_int_equal(gw_ident_url_split("http://h", host, sizeof host, path, sizeof path), 0);
    assert_string_equal(path, "/");
    assert_int_equal(gw_ident_url_split("ftp://h/x", host, sizeof host, path, sizeof path), -1);
    assert_int_equal(gw_ident_url_split("https:///x", host, sizeof host, path, sizeof path), -1);
}

static void test_device_info(void **state)
{
    (void)state;
    struct gw_device_info d;
    gw_ident_device_info("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit", NULL,
                         NULL, NULL, NULL, NULL, &d);
    assert_string_equal(d.manufacturer, "Apple");
    assert_string_equal(d.model, "iPhone");
    assert_string_equal(d.os, "iOS");
    assert_string_equal(d.os_version, "17.4");
    gw_ident_device_info("Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UQ1A) Chrome/120", NULL,
                         NULL, NULL, NULL, NULL, &d);
    assert_string_equal(d.os, "Android");
    assert_string_equal(d.os_version, "14");
    assert_string_equal(d.model, "Pixel 8");
    /* the app's headers win over the User-Agent */
    gw_ident_device_info("curl/7.88.1", "Samsung", "SM-S911B", "Android", "14", "2026-10-01", &d);
    assert_string_equal(d.manufacturer, "Samsung");
    assert_string_equal(d.model, "SM-S911B");
    assert_string_equal(d.patch_level, "2026-10-01");
    gw_ident_device_info(NULL, NULL, NULL, NULL, NULL, NULL, &d);
    assert_string_equal(d.manufacturer, "Unknown");
    assert_string_equal(d.os, "Unknown");
    /* control characters never reach Redis; long values are cut */
    char lng[300];
    memset(lng, 'M', sizeof lng);
    lng[299] = '\0';
    gw_ident_device_info("x", "A\r\nB", lng, NULL, NULL, NULL, &d);
    assert_string_equal(d.manufacturer, "A??B");
    assert_int_equal(strlen(d.model), sizeof d.model - 1);
}

static void test_device_id(void **state)
{
    (void)state;
    assert_true(gw_ident_device_id_ok("0123456789abcdef", 16));
    assert_true(gw_ident_device_id_ok("dev-ABC_123", 11));
    assert_false(gw_ident_device_id_ok("short", 5));
    assert_false(gw_ident_device_id_ok("has space here", 14));
    assert_false(gw_ident_device_id_ok("../../etc/passwd", 16));
    assert_false(gw_ident_device_id_ok("wl:{x}:session", 14));
}

static void test_rate_limit(void **state)
{
    (void)state;
    int64_t now = 1000000;
    for (int i = 0; i < 10; i++)
        assert_true(gw_ident_rate_take("10.0.0.1", now, 1.0, 10.0));
    assert_false(gw_ident_rate_take("10.0.0.1", now, 1.0, 10.0));
    assert_true(gw_ident_rate_take("10.0.0.2", now, 1.0, 10.0)); /* another client */
    assert_false(gw_ident_rate_take("10.0.0.1", now + 500, 1.0, 10.0));
    assert_true(gw_ident_rate_take("10.0.0.1", now + 1000, 1.0, 10.0)); /* refilled one */
    assert_false(gw_ident_rate_take("10.0.0.1", now + 1000, 1.0, 10.0));
    /* a clock step backwards never adds tokens */
    assert_false(gw_ident_rate_take("10.0.0.1", now - 60000, 1.0, 10.0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_param),
        cmocka_unit_test(test_return_path_refuses_open_redirects),
        cmocka_unit_test(test_random_tokens),
        cmocka_unit_test(test_url_split),
        cmocka_unit_test(test_device_info),
        cmocka_unit_test(test_device_id),
        cmocka_unit_test(test_rate_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
