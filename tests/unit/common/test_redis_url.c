/* test_redis_url.c - the three URL forms and their errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "redis_url.h"

static void test_forms(void **state)
{
    (void)state;
    struct wl_redis_url u;
    char err[256];
    assert_int_equal(wl_redis_url_parse("redis://127.0.0.1:6380/2", &u, err, sizeof err), 0);
    assert_int_equal(u.kind, WL_REDIS_TCP);
    assert_string_equal(u.addr.host, "127.0.0.1");
    assert_int_equal(u.addr.port, 6380);
    assert_int_equal(u.db, 2);
    assert_int_equal(wl_redis_url_parse("redis://[::1]:6379", &u, err, sizeof err), 0);
    assert_string_equal(u.addr.host, "::1");
    assert_int_equal(u.db, 0);
    assert_int_equal(wl_redis_url_parse("unix:///run/redis.sock", &u, err, sizeof err), 0);
    assert_int_equal(u.kind, WL_REDIS_UNIX);
    assert_string_equal(u.path, "/run/redis.sock");
    assert_int_equal(wl_redis_url_parse("sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster", &u,
                                        err, sizeof err),
                     0);
    assert_int_equal(u.kind, WL_REDIS_SENTINEL);
    assert_int_equal(u.nsentinels, 2);
    assert_string_equal(u.sentinels[1].host, "10.0.0.2");
    assert_string_equal(u.master, "mymaster");
}

static void test_errors(void **state)
{
    (void)state;
    struct wl_redis_url u;
    char err[256];
    const char *bad[] = {"",
                         "http://x:1",
                         "redis://host",
                         "redis://host:0",
                         "redis://host:99999",
                         "redis://host:12/x",
                         "unix://relative",
                         "sentinel://h:1",
                         "sentinel:///m",
                         "redis://:6379"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(wl_redis_url_parse(bad[i], &u, err, sizeof err), -1);
        assert_non_null(strstr(err, "invalid Redis URL"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
