/* test_sigv4.c - SigV4 verification against known answers: requests signed by botocore
 * (Debian python3-botocore, SigV4Auth / SigV4QueryAuth at the fixed time 2026-11-23T12:00:00Z,
 * generated once and pasted here) and the AWS test-suite "get-vanilla" case; then every way a
 * request must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "credentials.h"
#include "http1.h"
#include "sigv4.h"

static const char *vectors[] = {
    /* POST http://127.0.0.1:8443/createFleet */
    "POST /createFleet HTTP/1.1\r\n"
    "Host: 127.0.0.1:8443\r\n"
    "Content-Type: application/json\r\n"
    "User-Agent: test\r\n"
    "X-Amz-Date: 20261123T120000Z\r\n"
    "Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20261123/us-east-1/worklink/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date, "
    "Signature=676499695f728e4b0738539796177a7d41b1a8256c48cf1a7f1e3b81237350fc\r\n"
    "Content-Length: 47\r\n"
    "\r\n"
    "{\"FleetName\": \"fleet-1\", \"DisplayName\": \"A  b\"}",
    /* GET http://127.0.0.1:8443/tags/arn%3Aaws%3Aworklink%3A%3A123456789012%3Afleet%2Ffleet-1 */
    "GET /tags/arn%3Aaws%3Aworklink%3A%3A123456789012%3Afleet%2Ffleet-1 HTTP/1.1\r\n"
    "Host: 127.0.0.1:8443\r\n"
    "X-Amz-Date: 20261123T120000Z\r\n"
    "Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20261123/us-east-1/worklink/aws4_request, "
    "SignedHeaders=host;x-amz-date, "
    "Signature=59651a63c4f48262e001ae934a5674c4f9025eebaa47a00491fd5efe06bc3a47\r\n"
    "\r\n"
    "",
    /* DELETE
       http://127.0.0.1:8443/tags/arn%3Aaws%3Aworklink%3A%3A123456789012%3Afleet%2Ffleet-1?tagKeys=b&tagKeys=a%20c
     */
    "DELETE /tags/arn%3Aaws%3Aworklink%3A%3A123456789012%3Afleet%2Ffleet-1?tagKeys=b&tagKeys=a%20c "
    "HTTP/1.1\r\n"
    "Host: 127.0.0.1:8443\r\n"
    "X-Amz-Date: 20261123T120000Z\r\n"
    "Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20261123/us-east-1/worklink/aws4_request, "
    "SignedHeaders=host;x-amz-date, "
    "Signature=400ce91ed20cd59a276420db3d4011a65fa3f64f5792ba5f903f1784ec680694\r\n"
    "\r\n"
    "",
    /* POST http://127.0.0.1:8443/ */
    "POST / HTTP/1.1\r\n"
    "Host: 127.0.0.1:8443\r\n"
    "X-Amz-Target: CertificateManager.DescribeCertificate\r\n"
    "Content-Type: application/x-amz-json-1.1\r\n"
    "X-Amz-Date: 20261123T120000Z\r\n"
    "Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20261123/us-east-1/acm/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
    "Signature=61dcd9db67327ea318fb36c834040e4a666a668f2e1ec29fd46fab1fca89dcd3\r\n"
    "Content-Length: 70\r\n"
    "\r\n"
    "{\"CertificateArn\": \"arn:aws:acm:us-east-1:123456789012:certificate/x\"}",
    /* presigned GET
       http://127.0.0.1:8443/tags/arn%3Aaws%3Aworklink%3A%3A123456789012%3Afleet%2Ffleet-1 */
    "GET "
    "/tags/"
    "arn%3Aaws%3Aworklink%3A%3A123456789012%3Afleet%2Ffleet-1?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-"
    "Amz-Credential=AKIDTEST%2F20261123%2Fus-east-1%2Fworklink%2Faws4_request&X-Amz-Date="
    "20261123T120000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature="
    "dc28fbcbf0c2bd6e8552326cb0281ab3754d70c4ff2c2e154403bd9658ce32d3 HTTP/1.1\r\n"
    "Host: 127.0.0.1:8443\r\n"
    "\r\n"
    "",
};
static const char *vector_service[] = {"worklink", "worklink", "worklink", "acm", "worklink"};

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static struct ctl_credentials creds(const char *ak, const char *secret, bool ro)
{
    char text[512], err[256];
    snprintf(text, sizeof text,
             "[tester]\naws_access_key_id = %s\naws_secret_access_key = %s\naccount_id = "
             "123456789012\npolicy = %s\n",
             ak, secret, ro ? "readonly" : "full");
    struct ctl_credentials c;
    assert_int_equal(ctl_credentials_parse(text, "test", NULL, &c, err, sizeof err), 0);
    return c;
}

static int64_t signing_time(void)
{
    struct tm tm = {.tm_year = 2026 - 1900, .tm_mon = 10, .tm_mday = 23, .tm_hour = 12};
    return (int64_t)timegm(&tm);
}

struct parsed {
    char buf[4096];
    struct wl_http1_message msg;
    struct ctl_sigv4_input in;
};

static void parse(struct parsed *p, const char *raw, const char *service, int64_t now)
{
    size_t len = strlen(raw);
    assert_true(len < sizeof p->buf);
    memcpy(p->buf, raw, len + 1);
    struct wl_http1_limits lim;
    wl_http1_limits_default(&lim);
    int rc = wl_http1_parse_request(p->buf, len, &lim, &p->msg);
    assert_true(rc > 0);
    memset(&p->in, 0, sizeof p->in);
    p->in.method = p->msg.method;
    p->in.path = p->msg.path;
    p->in.query = p->msg.query;
    p->in.headers = p->msg.headers;
    p->in.nheaders = p->msg.nheaders;
    p->in.body = p->buf + rc;
    p->in.body_len = len - (size_t)rc;
    p->in.service = service;
    p->in.region = "us-east-1";
    p->in.now = now;
}

static int verify(struct parsed *p, const struct ctl_credentials *c, struct ctl_sigv4_error *e)
{
    const struct ctl_principal *who = NULL;
    int rc = ctl_sigv4_verify(&p->in, c, &who, e);
    if (rc == 0) {
        assert_non_null(who);
        assert_string_equal(who->name, "tester");
    }
    return rc;
}

static void test_botocore_vectors_verify(void **state)
{
    (void)state;
    struct ctl_credentials c = creds("AKIDTEST", SECRET, false);
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        struct parsed p;
        struct ctl_sigv4_error e;
        parse(&p, vectors[i], vector_service[i], signing_time());
        int rc = verify(&p, &c, &e);
        if (rc != 0)
            fail_msg("vector %zu: %s: %s", i, e.type, e.message);
        /* still valid 4 minutes later */
        p.in.now = signing_time() + 240;
        assert_int_equal(verify(&p, &c, &e), 0);
    }
    ctl_credentials_dispose(&c);
}

/* AWS SigV4 test suite, get-vanilla (independent of botocore). */
static void test_aws_suite_get_vanilla(void **state)
{
    (void)state;
    struct ctl_credentials c = creds("AKIDEXAMPLE", SECRET, false);
    static const char raw[] =
        "GET / HTTP/1.1\r\nHost: example.amazonaws.com\r\nX-Amz-Date: 20150830T123600Z\r\n"
        "Authorization: AWS4-HMAC-SHA256 "
        "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\r\n\r\n";
    struct tm tm = {
        .tm_year = 2015 - 1900, .tm_mon = 7, .tm_mday = 30, .tm_hour = 12, .tm_min = 36};
    struct parsed p;
    struct ctl_sigv4_error e;
    parse(&p, raw, "service", (int64_t)timegm(&tm));
    if (verify(&p, &c, &e) != 0)
        fail_msg("%s: %s", e.type, e.message);
    ctl_credentials_dispose(&c);
}

static void expect_refusal(const char *raw, const char *service, int64_t now,
                           const struct ctl_credentials *c, const char *region, int status,
                           const char *type, const char *msg_part)
{
    struct parsed p;
    struct ctl_sigv4_error e;
    parse(&p, raw, service, now);
    if (region)
        p.in.region = region;
    assert_int_equal(verify(&p, c, &e), -1);
    assert_int_equal(e.status, status);
    assert_string_equal(e.type, type);
    if (msg_part && !strstr(e.message, msg_part))
        fail_msg("message '%s' lacks '%s'", e.message, msg_part);
}

static void test_wrong_secret_is_invalid_signature(void **state)
{
    (void)state;
    struct ctl_credentials c = creds("AKIDTEST", "not-the-secret", false);
    expect_refusal(vectors[0], "worklink", signing_time(), &c, NULL, 403,
                   "InvalidSignatureException", "does not match");
    ctl_credentials_dispose(&c);
}

static void test_unknown_key_is_unrecognized_client(void **state)
{
    (void)state;
    struct ctl_credentials c = creds("AKIDOTHER", SECRET, false);
    expect_refusal(vectors[0], "worklink", signing_time(), &c, NULL, 403,
                   "UnrecognizedClientException", "security token");
    ctl_credentials_dispose(&c);
}

static void test_tampered_body_and_path_are_refused(void **state)
{
    (void)state;
    struct ctl_credentials c = creds("AKIDTEST", SECRET, false);
    char raw[4096];
    snprintf(raw, sizeof raw, "%s", vectors[0]);
    char *b = strstr(raw, "fleet-1");
    b[6] = '2';
    expect_refusal(raw, "worklink", signing_time(), &c, NULL, 403, "InvalidSignatureException",
                   NULL);
    snprintf(raw, sizeof raw, "%s", vectors[2]);
    char *q = strstr(raw, "tagKeys=b");
    q[8] = 'd';
    expect_refusal(raw, "worklink", signing_time(), &c, NULL, 403, "InvalidSignatureException",
                   NULL);
    ctl_credentials_dispose(&c);
}

static void test_clock_skew_beyond_five_minutes(void **state)
{
    (void)state;
    struct ctl_credentials c = creds("AKIDTEST", SECRET, false);
    expect_refusal(vectors[0], "worklink", signing_time() + 301, &c, NULL, 403,
                   "InvalidSignatureException", "Signature expired");
    expect_refusal(vectors[0], "worklink", signing_time() - 301, &c, NULL, 403,
                   "InvalidSignatureException", "not yet current");
    ctl_credentials_dispose(&c);
}

static void test_scope_must_match_region_and_service(void **state)
{
    (void)state;
    struct ctl_credentials c = creds("AKIDTEST", SECRET, false);
    expect_refusal(vectors[0], "worklink", signing_time(), &c, "eu-west-1", 403,
                   "InvalidSignatureException", "region");
    expect_refusal(vectors[0], "acm", signing_time(), &c, NULL, 403, "InvalidSignatureException",
                   "service");
    ctl_credentials_dispose(&c);
}

static void test_presigned_expiry(void **state)
{
    (void)state;
    struct ctl_credentials c = creds("AKIDTEST", SECRET, false);
    struct parsed p;
    struct ctl_sigv4_error e;
    parse(&p, vectors[4], "worklink", signing_time() + 299);
    assert_int_equal(verify(&p, &c, &e), 0);
    expect_refusal(vectors[4], "worklink", signing_time() + 301, &c, NULL, 403,
                   "InvalidSignatureException", "expired");
    ctl_credentials_dispose(&c);
}

static void test_missing_and_malformed_authorization(void **state)
{
    (void)state;
    struct ctl_credentials c = creds("AKIDTEST", SECRET, false);
    expect_refusal("POST /createFleet HTTP/1.1\r\nHost: x\r\n\r\n", "worklink", signing_time(), &c,
                   NULL, 403, "MissingAuthenticationTokenException", NULL);
    expect_refusal("POST /createFleet HTTP/1.1\r\nHost: x\r\nAuthorization: Basic Zm9vOmJhcg==\r\n"
                   "\r\n",
                   "worklink", signing_time(), &c, NULL, 400, "IncompleteSignatureException", NULL);
    expect_refusal("POST /createFleet HTTP/1.1\r\nHost: x\r\nX-Amz-Date: 20261123T120000Z\r\n"
                   "Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20261123/us-east-1/"
                   "worklink/aws4_request, Signature=00\r\n\r\n",
                   "worklink", signing_time(), &c, NULL, 400, "IncompleteSignatureException", NULL);
    /* host must be signed */
    expect_refusal("POST /createFleet HTTP/1.1\r\nHost: x\r\nX-Amz-Date: 20261123T120000Z\r\n"
                   "Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20261123/us-east-1/"
                   "worklink/aws4_request, SignedHeaders=x-amz-date, Signature=00\r\n\r\n",
                   "worklink", signing_time(), &c, NULL, 400, "IncompleteSignatureException",
                   "host");
    ctl_credentials_dispose(&c);
}

static void test_sign_helper_round_trip(void **state)
{
    (void)state;
    /* ctl_sigv4_sign computes what botocore computed for vector 1 */
    struct ctl_credentials c = creds("AKIDTEST", SECRET, false);
    struct parsed p;
    parse(&p, vectors[1], "worklink", signing_time());
    char sig[65], hash[65];
    ctl_sha256_hex("", 0, hash);
    assert_int_equal(
        ctl_sigv4_sign(&p.in, SECRET, "20261123T120000Z", "host;x-amz-date", hash, sig), 0);
    assert_non_null(strstr(vectors[1], sig));
    ctl_credentials_dispose(&c);
}

static void test_credentials_file_errors_name_the_field(void **state)
{
    (void)state;
    struct ctl_credentials c;
    char err[256];
    assert_int_equal(ctl_credentials_parse("[a]\naws_access_key_id = K\naws_secret_access_key = "
                                           "s\naccount_id = 12\npolicy = full\n",
                                           "f", NULL, &c, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "account_id"));
    assert_int_equal(ctl_credentials_parse("[a]\naws_access_key_id = K\naws_secret_access_key = "
                                           "s\naccount_id = 123456789012\npolicy = admin\n",
                                           "f", NULL, &c, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "policy"));
    assert_int_equal(ctl_credentials_parse("[a]\naws_access_key_id = K\npolicy = full\n", "f", NULL,
                                           &c, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "aws_secret_access_key"));
    assert_int_equal(ctl_credentials_parse("[a]\naws_access_key_id = K\naws_secret_access_key = "
                                           "s\npolicy = readonly\n[b]\naws_access_key_id = K\n"
                                           "aws_secret_access_key = t\npolicy = full\n",
                                           "f", "123456789012", &c, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "share"));
    assert_int_equal(ctl_credentials_parse("# principals\n[a]\naws_access_key_id = K\n"
                                           "aws_secret_access_key = s\npolicy = readonly\n",
                                           "f", "123456789012", &c, err, sizeof err),
                     0);
    assert_int_equal(c.n, 1);
    assert_true(c.v[0].read_only);
    assert_string_equal(c.v[0].account_id, "123456789012");
    ctl_credentials_dispose(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_botocore_vectors_verify),
        cmocka_unit_test(test_aws_suite_get_vanilla),
        cmocka_unit_test(test_wrong_secret_is_invalid_signature),
        cmocka_unit_test(test_unknown_key_is_unrecognized_client),
        cmocka_unit_test(test_tampered_body_and_path_are_refused),
        cmocka_unit_test(test_clock_skew_beyond_five_minutes),
        cmocka_unit_test(test_scope_must_match_region_and_service),
        cmocka_unit_test(test_presigned_expiry),
        cmocka_unit_test(test_missing_and_malformed_authorization),
        cmocka_unit_test(test_sign_helper_round_trip),
        cmocka_unit_test(test_credentials_file_errors_name_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
