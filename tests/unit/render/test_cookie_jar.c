/* test_cookie_jar.c - RFC 6265 storage model of the server-side cookie jar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cookie_jar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW ((int64_t)1790000000000) /* fixed clock */

static int set(struct rnd_jar *j, const char *sc, const char *host, const char *path)
{
    return rnd_jar_set(j, sc, strlen(sc), 1, host, path, NOW);
}

/* Cookie header for a request, "" when none (static buffer). */
static const char *hdr(struct rnd_jar *j, int https, const char *host, const char *path,
                       int64_t now)
{
    static char buf[65536];
    char *h = rnd_jar_cookie_header(j, https, host, path, now);
    snprintf(buf, sizeof buf, "%s", h ? h : "");
    free(h);
    return buf;
}

static void test_domain_and_host_only(void **state)
{
    (void)state;
    struct rnd_jar *j = rnd_jar_new();
    assert_int_equal(set(j, "host=1", "app.corp.example.com", "/"), 0);
    assert_int_equal(set(j, "dom=2; Domain=.corp.example.com", "app.corp.example.com", "/"), 0);
    assert_int_equal(set(j, "evil=3; Domain=example.net", "app.corp.example.com", "/"), -1);
    assert_int_equal(set(j, "tld=4; Domain=com", "app.corp.example.com", "/"), -1);
    assert_string_equal(hdr(j, 1, "app.corp.example.com", "/", NOW), "host=1; dom=2");
    assert_string_equal(hdr(j, 1, "other.corp.example.com", "/", NOW), "dom=2");
    assert_string_equal(hdr(j, 1, "corp.example.com", "/", NOW), "dom=2");
    assert_string_equal(hdr(j, 1, "xcorp.example.com", "/", NOW), "");
    rnd_jar_free(j);
}

static void test_path_matching_and_order(void **state)
{
    (void)state;
    struct rnd_jar *j = rnd_jar_new();
    assert_int_equal(set(j, "a=root; Path=/", "h.example.com", "/x/y"), 0);
    assert_int_equal(set(j, "b=docs; Path=/docs", "h.example.com", "/"), 0);
    assert_int_equal(set(j, "c=default", "h.example.com", "/app/page?q=/z"), 0);
    assert_string_equal(hdr(j, 1, "h.example.com", "/docs/a", NOW), "b=docs; a=root");
    assert_string_equal(hdr(j, 1, "h.example.com", "/docsx", NOW), "a=root");
    assert_string_equal(hdr(j, 1, "h.example.com", "/app/other", NOW), "c=default; a=root");
    assert_string_equal(hdr(j, 1, "h.example.com", "/application", NOW), "a=root");
    rnd_jar_free(j);
}

static void test_expiry_max_age_and_deletion(void **state)
{
    (void)state;
    struct rnd_jar *j = rnd_jar_new();
    assert_int_equal(
        set(j, "m=1; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "h.example.com", "/"), 0);
    assert_int_equal(set(j, "e=2; Expires=Wed, 21 Oct 2099 07:28:00 GMT", "h.example.com", "/"), 0);
    assert_string_equal(hdr(j, 1, "h.example.com", "/", NOW), "m=1; e=2");
    assert_string_equal(hdr(j, 1, "h.example.com", "/", NOW + 61000), "e=2");
    assert_int_equal(set(j, "e=gone; Max-Age=0", "h.example.com", "/"), 0);
    assert_string_equal(hdr(j, 1, "h.example.com", "/", NOW), "");
    assert_int_equal(rnd_jar_count(j), 0);
    int64_t t;
    assert_int_equal(rnd_cookie_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", 29, &t), 0);
    assert_int_equal(t, (int64_t)784111777000);
    assert_int_equal(rnd_cookie_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", 30, &t), 0);
    assert_int_equal(t, (int64_t)784111777000);
    assert_int_equal(rnd_cookie_date_parse("not a date", 10, &t), -1);
    rnd_jar_free(j);
}

static void test_secure_httponly_samesite_prefixes(void **state)
{
    (void)state;
    struct rnd_jar *j = rnd_jar_new();
    assert_int_equal(set(j, "s=1; Secure; HttpOnly; SameSite=Strict", "h.example.com", "/"), 0);
    assert_int_equal(rnd_jar_set(j, "t=2; Secure", 11, 0, "h.example.com", "/", NOW), -1);
    assert_string_equal(hdr(j, 0, "h.example.com", "/", NOW), "");
    assert_string_equal(hdr(j, 1, "h.example.com", "/", NOW), "s=1");
    const struct rnd_cookie *c = rnd_jar_get(j, 0);
    assert_true(c->secure && c->http_only && c->host_only);
    assert_int_equal(c->same_site, RND_SAMESITE_STRICT);
    assert_int_equal(set(j, "__Host-x=1; Secure; Path=/", "h.example.com", "/"), 0);
    assert_int_equal(set(j, "__Host-y=1; Secure; Path=/; Domain=example.com", "h.example.com", "/"),
                     -1);
    assert_int_equal(set(j, "__Secure-z=1", "h.example.com", "/"), -1);
    assert_int_equal(set(j, "ctl=a\x01b", "h.example.com", "/"), -1);
    assert_int_equal(set(j, "novalue", "h.example.com", "/"), -1);
    assert_int_equal(set(j, "=x", "h.example.com", "/"), -1);
    rnd_jar_free(j);
}

static void test_replace_keeps_one(void **state)
{
    (void)state;
    struct rnd_jar *j = rnd_jar_new();
    assert_int_equal(set(j, "a=1", "h.example.com", "/"), 0);
    assert_int_equal(set(j, "a=2", "h.example.com", "/"), 0);
    assert_int_equal(rnd_jar_count(j), 1);
    assert_string_equal(hdr(j, 1, "h.example.com", "/", NOW), "a=2");
    rnd_jar_free(j);
}

static void test_limits_bound_memory(void **state)
{
    (void)state;
    struct rnd_jar *j = rnd_jar_new();
    char big[RND_JAR_COOKIE_MAX + 16];
    memset(big, 'v', sizeof big);
    memcpy(big, "big=", 4);
    big[sizeof big - 1] = 0;
    assert_int_equal(set(j, big, "h.example.com", "/"), -1);
    char sc[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(sc, sizeof sc, "c%d=%d", i, i);
        assert_int_equal(rnd_jar_set(j, sc, strlen(sc), 1,
                                     i % 2 ? "a.example.com" : "b.example.com", "/", NOW + i),
                         0);
    }
    assert_true(rnd_jar_count(j) <= RND_JAR_MAX_COOKIES);
    assert_true(rnd_jar_count(j) <= 2 * RND_JAR_PER_DOMAIN);
    assert_true(rnd_jar_bytes(j) <= RND_JAR_MAX_BYTES);
    /* the newest survive */
    assert_non_null(strstr(hdr(j, 1, "a.example.com", "/", NOW), "c999=999"));
    assert_null(strstr(hdr(j, 1, "a.example.com", "/", NOW), "c1=1;"));
    rnd_jar_free(j);
}

static void test_serialise_round_trip(void **state)
{
    (void)state;
    struct rnd_jar *j = rnd_jar_new();
    assert_int_equal(
        set(j, "a=1; Max-Age=3600; Secure; HttpOnly; SameSite=Lax", "h.example.com", "/x/y"), 0);
    assert_int_equal(set(j, "b=\"q v\"; Domain=example.com; Path=/", "h.example.com", "/"), 0);
    size_t len;
    char *s = rnd_jar_serialize(j, NOW, &len);
    struct rnd_jar *k = rnd_jar_new();
    assert_int_equal(rnd_jar_deserialize(k, s, len), 0);
    assert_int_equal(rnd_jar_count(k), 2);
    assert_string_equal(hdr(k, 1, "h.example.com", "/x/z", NOW), "a=1; b=\"q v\"");
    size_t len2;
    char *s2 = rnd_jar_serialize(k, NOW, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(s, s2, len);
    free(s2);
    /* bad input: clear error, empty jar, no crash */
    const char *bad[] = {"",
                         "WLJAR2\n",
                         "WLJAR1\nx\t1\n",
                         "WLJAR1\na\t1\th\t/\tNaN\t1\th\td\n",
                         "WLJAR1\na\t1\th\t/\t1\t1\tz\td\n",
                         "WLJAR1\na\t1\th\t/\t1\t1\th\td"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(rnd_jar_deserialize(k, bad[i], strlen(bad[i])), -1);
        assert_int_equal(rnd_jar_count(k), 0);
    }
    free(s);
    rnd_jar_free(k);
    rnd_jar_free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_domain_and_host_only),
        cmocka_unit_test(test_path_matching_and_order),
        cmocka_unit_test(test_expiry_max_age_and_deletion),
        cmocka_unit_test(test_secure_httponly_samesite_prefixes),
        cmocka_unit_test(test_replace_keeps_one),
        cmocka_unit_test(test_limits_bound_memory),
        cmocka_unit_test(test_serialise_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
