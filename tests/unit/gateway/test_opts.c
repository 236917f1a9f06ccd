/* test_opts.c - worklink-gateway command line: required settings, origins, bad values. */
#include "gw.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define BASE                                                                                       \
    "worklink-gateway", "--fleet", "f1", "--listen", "127.0.0.1:8443", "--admin-listen",           \
        "127.0.0.1:9000", "--redis", "redis://127.0.0.1:6379", "--key-file", "/k"

static int parse(struct gw_options *o, char *err, int argc, char **argv)
{
    return gw_options_parse(argc, argv, o, err, 256);
}

static void required_and_defaults(void **state)
{
    (void)state;
    struct gw_options *o = malloc(sizeof *o);
    char err[256];
    char *ok[] = {BASE};
    assert_int_equal(parse(o, err, 11, ok), 0);
    assert_string_equal(o->fleet, "f1");
    assert_int_equal(o->listen_port, 8443);
    assert_true(o->workers >= 1);
    assert_true(o->access_log);
    char *missing[] = {"worklink-gateway", "--fleet", "f1"};
    assert_int_equal(parse(o, err, 3, missing), -1);
    assert_non_null(strstr(err, "--listen"));
    free(o);
}

static void origins_and_resolve(void **state)
{
    (void)state;
    struct gw_options *o = malloc(sizeof *o);
    char err[256];
    char *argv[] = {BASE,
                    "--origin",
                    "wiki.example.com=https://app.internal:8443",
                    "--origin",
                    "mail.example.com=http://10.0.0.5",
                    "--resolve",
                    "app.internal:127.0.0.1",
                    "--workers",
                    "3",
                    "--no-access-log"};
    assert_int_equal(parse(o, err, 20, argv), 0);
    assert_int_equal(o->norigins, 2);
    assert_true(o->origins[0].tls);
    assert_string_equal(o->origins[0].host, "app.internal");
    assert_int_equal(o->origins[0].port, 8443);
    assert_false(o->origins[1].tls);
    assert_int_equal(o->origins[1].port, 80);
    assert_string_equal(o->resolves[0].addr, "127.0.0.1");
    assert_int_equal(o->workers, 3);
    assert_false(o->access_log);
    free(o);
}

static void bad_values(void **state)
{
    (void)state;
    struct gw_options *o = malloc(sizeof *o);
    char err[256];
    char *a[] = {BASE, "--workers", "0"};
    assert_int_equal(parse(o, err, 13, a), -1);
    assert_non_null(strstr(err, "--workers"));
    char *b[] = {BASE, "--origin", "wiki.example.com=ftp://x"};
    assert_int_equal(parse(o, err, 13, b), -1);
    char *c[] = {BASE, "--listen", "nohostport"};
    assert_int_equal(parse(o, err, 13, c), -1);
    char *d[] = {BASE, "--fleet", "a{b}"};
    assert_int_equal(parse(o, err, 13, d), -1);
    char *e[] = {BASE, "--stale-ms"};
    assert_int_equal(parse(o, err, 12, e), -1);
    free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(required_and_defaults),
        cmocka_unit_test(origins_and_resolve),
        cmocka_unit_test(bad_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
