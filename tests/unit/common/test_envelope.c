/* test_envelope.c - envelope encryption round trip, tamper and wrong-key/aad refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void load_key(struct wl_master_key *mk, const char *hex)
{
    char path[] = "/tmp/wlkeyXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, hex);
    char err[256];
    assert_int_equal(wl_master_key_load(path, mk, err, sizeof err), 0);
    unlink(path);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct wl_master_key mk;
    load_key(&mk, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
    const char *secret = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n";
    char *sealed = wl_envelope_seal(&mk, secret, strlen(secret), "arn:a");
    assert_non_null(sealed);
    assert_int_equal(strncmp(sealed, "wlenv1:", 7), 0);
    assert_null(strstr(sealed, "PRIVATE"));
    size_t len = 0;
    uint8_t *plain = wl_envelope_open(&mk, sealed, "arn:a", &len);
    assert_non_null(plain);
    assert_int_equal(len, strlen(secret));
    assert_memory_equal(plain, secret, len);
    free(plain);
    /* every length of padding works */
    for (size_t n = 0; n < 5; n++) {
        char *s = wl_envelope_seal(&mk, "abcd", n, "x");
        uint8_t *p = wl_envelope_open(&mk, s, "x", &len);
        assert_non_null(p);
        assert_int_equal(len, n);
        free(p);
        free(s);
    }
    free(sealed);
}

static void test_refusals(void **state)
{
    (void)state;
    struct wl_master_key mk, other;
    load_key(&mk, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    load_key(&other, "ff112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    char *sealed = wl_envelope_seal(&mk, "secret", 6, "arn:a");
    size_t len;
    assert_null(wl_envelope_open(&mk, sealed, "arn:b", &len));    /* moved to another record */
    assert_null(wl_envelope_open(&other, sealed, "arn:a", &len)); /* wrong key */
    char *t = strdup(sealed);
    size_t n = strlen(t);
    t[n - 6] = t[n - 6] == 'A' ? 'B' : 'A'; /* tamper with the ciphertext */
    assert_null(wl_envelope_open(&mk, t, "arn:a", &len));
    assert_null(wl_envelope_open(&mk, "wlenv1:", "arn:a", &len));
    assert_null(wl_envelope_open(&mk, "wlenv1:!!!!", "arn:a", &len));
    assert_null(wl_envelope_open(&mk, "plaintext", "arn:a", &len));
    free(t);
    free(sealed);
}

static void test_bad_key_files(void **state)
{
    (void)state;
    struct wl_master_key mk;
    char err[256];
    assert_int_equal(wl_master_key_load("/nonexistent/key", &mk, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot read"));
    char path[] = "/tmp/wlkeyXXXXXX";
    int fd = mkstemp(path);
    close(fd);
    write_file(path, "abcd");
    assert_int_equal(wl_master_key_load(path, &mk, err, sizeof err), -1);
    assert_non_null(strstr(err, "64 hex digits"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_bad_key_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
