/* test_log.c - log lines are single JSON objects with escaped text; redaction hides secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static void test_json_line_and_level(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    wl_log_init("test", WL_LOG_INFO);
    WL_DEBUG(NULL, "hidden %d", 1);
    WL_INFO("req-1", "quote \" backslash \\ newline \n ctl \001 end");
    dup2(saved, STDERR_FILENO);
    close(fds[1]);
    char buf[4096] = {0};
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    assert_true(n > 0);
    assert_null(strstr(buf, "hidden"));
    assert_non_null(strstr(buf, "\"component\":\"test\""));
    assert_non_null(strstr(buf, "\"id\":\"req-1\""));
    assert_non_null(strstr(buf, "quote \\\" backslash \\\\ newline \\n ctl \\u0001 end\"}\n"));
    assert_int_equal(strchr(buf, '\n') - buf, n - 1); /* exactly one line */
}

static void test_redact(void **state)
{
    (void)state;
    char out[18];
    const char *tok = "supersecrettoken";
    wl_log_redact(out, tok, strlen(tok));
    assert_int_equal(strncmp(out, "redacted:", 9), 0);
    assert_int_equal(strlen(out), 17);
    assert_null(strstr(out, "secret"));
    enum wl_log_level l;
    assert_int_equal(wl_log_level_parse("warn", &l), 0);
    assert_int_equal(l, WL_LOG_WARN);
    assert_int_equal(wl_log_level_parse("loud", &l), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_line_and_level),
        cmocka_unit_test(test_redact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
