/* test_model_validate.c - routing and validation driven by the embedded botocore models: each
 * kind of constraint on real operations, the error message naming member and rule, path and
 * query binding, ACM targets and exception names, redaction of secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "model.h"

static struct ctl_model *model;

static int setup(void **state)
{
    (void)state;
    char err[256];
    if (ctl_model_load(&model, err, sizeof err) != 0) {
        fprintf(stderr, "model: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ctl_model_free(model);
    return 0;
}

static struct wl_slice S(const char *s) {
    struct wl_slice x = {s, strlen(s)};
    return x;
}

static struct ctl_route
route(const char *method, const char *path, const char *target)
{
    struct ctl_route r;
    char msg[256];
    if (ctl_model_route(model, S(method), S(path), target, &r, msg, sizeof msg) != 0)
        fail_msg("route %s %s: %s", method, path, msg);
    return r;
}

/* Validates body (JSON text) for the operation at method+path; returns the message or "" */
static const char *check(const char *method, const char *path, const char *query, const char *body)
{
    static char msg[512];
    struct ctl_route r = route(method, path, NULL);
    json_t *in = NULL;
    msg[0] = '\0';
    if (ctl_model_input(model, &r, S(path), S(query), body, strlen(body), &in, msg, sizeof msg) < 0)
        return msg;
    if (ctl_model_validate(model, &r, in, msg, sizeof msg) < 0) {
        json_decref(in);
        return msg;
    }
    json_decref(in);
    return "";
}

static void expect(const char *got, const char *want_part)
{
    if (!strstr(got, want_part))
        fail_msg("got '%s', want it to contain '%s'", got, want_part);
}

static void test_routes_follow_the_model(void **state)
{
    (void)state;
    struct ctl_route r = route("POST", "/createFleet", NULL);
    assert_string_equal(r.op, "CreateFleet");
    assert_string_equal(r.signing_name, "worklink");
    r = route("POST", "/UpdateFleetMetadata", NULL);
    assert_string_equal(r.op, "UpdateFleetMetadata");
    r = route("GET", "/tags/arn%3Aaws%3Aworklink%3A%3A123456789012%3Afleet%2Fa", NULL);
    assert_string_equal(r.op, "ListTagsForResource");
    r = route("POST", "/tags/arn%3Aaws%3Aworklink%3A%3A123456789012%3Afleet%2Fa", NULL);
    assert_string_equal(r.op, "TagResource");
    r = route("DELETE", "/tags/arn%3Aaws%3Aworklink%3A%3A123456789012%3Afleet%2Fa", NULL);
    assert_string_equal(r.op, "UntagResource");
    r = route("POST", "/", "CertificateManager.ImportCertificate");
    assert_string_equal(r.op, "ImportCertificate");
    assert_string_equal(r.service, "acm");
    assert_string_equal(r.signing_name, "acm");

    char msg[256];
    assert_int_equal(
        ctl_model_route(model, S("POST"), S("/updateFleetMetadata"), NULL, &r, msg, sizeof msg),
        -1);
    assert_int_equal(ctl_model_route(model, S("GET"), S("/createFleet"), NULL, &r, msg, sizeof msg),
                     -1);
    assert_int_equal(
        ctl_model_route(model, S("POST"), S("/"), "CertificateManager.Nope", &r, msg, sizeof msg),
        -1);
    assert_int_equal(
        ctl_model_route(model, S("POST"), S("/"), "Other.ListCertificates", &r, msg, sizeof msg),
        -1);
    assert_int_equal(ctl_model_route(model, S("GET"), S("/tags/"), NULL, &r, msg, sizeof msg), -1);
}

static void test_path_and_query_members_are_bound(void **state)
{
    (void)state;
    const char *path = "/tags/arn%3Aaws%3Aworklink%3A%3A123456789012%3Afleet%2Fa";
    struct ctl_route r = route("DELETE", path, NULL);
    json_t *in = NULL;
    char msg[256];
    assert_int_equal(ctl_model_input(model, &r, S(path), S("tagKeys=k1&tagKeys=k%3A2&other=x"), "",
                                     0, &in, msg, sizeof msg),
                     0);
    assert_string_equal(json_string_value(json_object_get(in, "ResourceArn")),
                        "arn:aws:worklink::123456789012:fleet/a");
    json_t *keys = json_object_get(in, "TagKeys");
    assert_int_equal(json_array_size(keys), 2);
    assert_string_equal(json_string_value(json_array_get(keys, 1)), "k:2");
    assert_int_equal(ctl_model_validate(model, &r, in, msg, sizeof msg), 0);
    json_decref(in);
}

static void test_required(void **state)
{
    (void)state;
    expect(check("POST", "/createFleet", "", "{}"), "FleetName: is required");
    expect(check("POST", "/createFleet", "", "{\"FleetName\":null}"), "FleetName: is required");
    expect(check("POST", "/associateDomain", "", "{\"FleetArn\":\"arn:aws:worklink::1:fleet/a\"}"),
           "is required");
    expect(check("POST", "/listFleets", "", ""), "");
}

static void test_types(void **state)
{
    (void)state;
    expect(check("POST", "/createFleet", "", "{\"FleetName\":5}"), "FleetName: must be a string");
    expect(check("POST", "/createFleet", "",
                 "{\"FleetName\":\"a\",\"OptimizeForEndUserLocation\":"
                 "\"yes\"}"),
           "OptimizeForEndUserLocation: must be a boolean");
    expect(check("POST", "/listFleets", "", "{\"MaxResults\":\"3\"}"),
           "MaxResults: must be an integer");
    expect(check("POST", "/createFleet", "", "[1]"), "JSON object");
    expect(check("POST", "/createFleet", "", "{\"FleetName\":"), "not valid JSON");
    expect(check("POST", "/createFleet", "", "{\"FleetName\":\"a\",\"FleetName\":\"b\"}"),
           "not valid JSON");
}

static void test_lengths(void **state)
{
    (void)state;
    char body[1500];
    char name[64];
    memset(name, 'a', 49);
    name[49] = '\0';
    snprintf(body, sizeof body, "{\"FleetName\":\"%s\"}", name);
    expect(check("POST", "/createFleet", "", body), "FleetName: must have at most 48 characters");
    char disp[700] = "";
    for (int i = 0; i < 100; i++)
        strcat(disp, "\\u00e9"); /* 100 code points, 200 UTF-8 bytes: fits */
    snprintf(body, sizeof body, "{\"FleetName\":\"a\",\"DisplayName\":\"%s\"}", disp);
    expect(check("POST", "/createFleet", "", body), "");
    snprintf(body, sizeof body, "{\"FleetName\":\"a\",\"DisplayName\":\"%sx\"}", disp);
    expect(check("POST", "/createFleet", "", body), "DisplayName: must have at most 100");
    expect(check("POST", "/createFleet", "", "{\"FleetName\":\"\"}"),
           "FleetName: must have at least 1 characters");
}

static void test_patterns_match_whole_value(void **state)
{
    (void)state;
    expect(check("POST", "/createFleet", "", "{\"FleetName\":\"Bad_Name\"}"),
           "FleetName: must match pattern ^[a-z0-9]");
    expect(check("POST", "/createFleet", "", "{\"FleetName\":\"abc\\n\"}"), "must match pattern");
    expect(check("POST", "/createFleet", "", "{\"FleetName\":\"-abc\"}"), "must match pattern");
    expect(check("POST", "/createFleet", "", "{\"FleetName\":\"abc-1\"}"), "");
    expect(check("POST", "/updateCompanyNetworkConfiguration", "",
                 "{\"FleetArn\":\"arn:aws:worklink::123456789012:fleet/a\",\"VpcId\":\"vpc-123\","
                 "\"SubnetIds\":[],\"SecurityGroupIds\":[]}"),
           "VpcId: must match pattern");
    expect(check("POST", "/associateDomain", "",
                 "{\"FleetArn\":\"arn:aws:worklink::123456789012:fleet/a\",\"DomainName\":"
                 "\"a..b\",\"AcmCertificateArn\":\"arn:aws:acm:us-east-1:123456789012:"
                 "certificate/x\"}"),
           "DomainName: must match pattern");
    expect(check("POST", "/associateDomain", "",
                 "{\"FleetArn\":\"arn:aws:worklink::123456789012:fleet/a\",\"DomainName\":"
                 "\"wiki.example.com\",\"AcmCertificateArn\":\"arn:aws:acm:us-east-1:"
                 "123456789012:certificate/x\"}"),
           "");
}

static const char pem_ok[] = "-----BEGIN CERTIFICATE-----\\n"
                             "MIIBqTCCAU6gAwIBAgIUZm0CLsA1Py+Baxg0nMASVBj65wcwCgYIKoZIzj0EAwIw\\n"
                             "GzEZMBcGA1UEAwwQd2lraS5leGFtcGxlLmNvbQ==\\n"
                             "-----END CERTIFICATE-----\\n";

static void test_pem_certificate_pattern(void **state)
{
    (void)state;
    char body[2048];
    snprintf(body, sizeof body,
             "{\"FleetArn\":\"arn:aws:worklink::123456789012:fleet/a\",\"Certificate\":\"%s\"}",
             pem_ok);
    expect(check("POST", "/associateWebsiteCertificateAuthority", "", body), "");
    expect(check("POST", "/associateWebsiteCertificateAuthority", "",
                 "{\"FleetArn\":\"arn:aws:worklink::123456789012:fleet/a\",\"Certificate\":"
                 "\"-----BEGIN CERTIFICATE-----\\nnot base64!\\n-----END CERTIFICATE-----\\n\"}"),
           "Certificate: must match pattern");
    expect(check("POST", "/associateWebsiteCertificateAuthority", "",
                 "{\"FleetArn\":\"arn:aws:worklink::123456789012:fleet/a\",\"Certificate\":"
                 "\"hello\"}"),
           "Certificate: must match pattern");
}

static void test_enum(void **state)
{
    (void)state;
    expect(check("POST", "/associateWebsiteAuthorizationProvider", "",
                 "{\"FleetArn\":\"arn:aws:worklink::123456789012:fleet/a\","
                 "\"AuthorizationProviderType\":\"OIDC\"}"),
           "AuthorizationProviderType: must be one of: SAML");
}

static void test_max_results_and_tags(void **state)
{
    (void)state;
    expect(check("POST", "/listFleets", "", "{\"MaxResults\":0}"),
           "MaxResults: must be at least 1");
    expect(check("POST", "/listFleets", "", "{\"MaxResults\":1}"), "");
    const char *tp = "/tags/arn%3Aaws%3Aworklink%3A%3A123456789012%3Afleet%2Fa";
    char body[4096] = "{\"Tags\":{";
    for (int i = 0; i < 51; i++) {
        char kv[32];
        snprintf(kv, sizeof kv, "%s\"k%d\":\"v\"", i ? "," : "", i);
        strcat(body, kv);
    }
    strcat(body, "}}");
    expect(check("POST", tp, "", body), "Tags: must have at most 50 entries");
    expect(check("POST", tp, "", "{\"Tags\":{}}"), "Tags: must have at least 1 entries");
    expect(check("POST", tp, "", "{\"Tags\":{\"aws:owner\":\"x\"}}"),
           "Tags key 'aws:owner': tag keys must not start with 'aws:'");
    expect(check("POST", tp, "", "{\"Tags\":{\"ok\":\"x\"}}"), "");
    expect(check("DELETE", tp, "", ""), "TagKeys: is required");
    expect(check("POST", "/tags/short", "", "{\"Tags\":{\"ok\":\"x\"}}"),
           "ResourceArn: must have at least 20 characters");
}

static void test_unknown_members_dropped(void **state)
{
    (void)state;
    struct ctl_route r = route("POST", "/createFleet", NULL);
    json_t *in = json_pack("{s:s, s:i}", "FleetName", "abc", "Surprise", 1);
    char msg[256];
    assert_int_equal(ctl_model_validate(model, &r, in, msg, sizeof msg), 0);
    assert_null(json_object_get(in, "Surprise"));
    assert_non_null(json_object_get(in, "FleetName"));
    json_decref(in);
}

static void test_acm_validation_exception_names(void **state)
{
    (void)state;
    struct ctl_route r = route("POST", "/", "CertificateManager.DescribeCertificate");
    assert_string_equal(ctl_model_validation_error(&r, "CertificateArn"), "InvalidArnException");
    r = route("POST", "/", "CertificateManager.ListCertificates");
    assert_string_equal(ctl_model_validation_error(&r, "MaxItems"), "ValidationException");
    r = route("POST", "/", "CertificateManager.ImportCertificate");
    assert_string_equal(ctl_model_validation_error(&r, "Certificate"), "InvalidParameterException");
    json_t *in = json_pack("{s:s}", "Certificate", "not base64!");
    char msg[256];
    assert_int_equal(ctl_model_validate(model, &r, in, msg, sizeof msg), -1);
    expect(msg, "PrivateKey: is required");
    json_object_set_new(in, "PrivateKey", json_string("a2V5"));
    assert_int_equal(ctl_model_validate(model, &r, in, msg, sizeof msg), -1);
    expect(msg, "Certificate: must be valid base64");
    json_decref(in);
    route("POST", "/", "CertificateManager.ListCertificates");
    expect(check("POST", "/createFleet", "", "{\"FleetName\":\"ok\"}"), "");
}

static void test_redaction_of_secrets(void **state)
{
    (void)state;
    struct ctl_route r = route("POST", "/", "CertificateManager.ImportCertificate");
    json_t *in = json_pack("{s:s, s:s}", "Certificate", "Y2VydA==", "PrivateKey", "c2VjcmV0");
    json_t *red = ctl_model_redact(model, &r, in, false);
    assert_string_equal(json_string_value(json_object_get(red, "Certificate")), "Y2VydA==");
    expect(json_string_value(json_object_get(red, "PrivateKey")), "redacted:");
    json_decref(red);
    json_decref(in);
    r = route("POST", "/updateIdentityProviderConfiguration", NULL);
    in = json_pack("{s:s, s:s}", "IdentityProviderType", "SAML", "IdentityProviderSamlMetadata",
                   "<EntityDescriptor/>");
    red = ctl_model_redact(model, &r, in, false);
    expect(json_string_value(json_object_get(red, "IdentityProviderSamlMetadata")), "redacted:");
    assert_string_equal(json_string_value(json_object_get(red, "IdentityProviderType")), "SAML");
    json_decref(red);
    json_decref(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_follow_the_model),
        cmocka_unit_test(test_path_and_query_members_are_bound),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_patterns_match_whole_value),
        cmocka_unit_test(test_pem_certificate_pattern),
        cmocka_unit_test(test_enum),
        cmocka_unit_test(test_max_results_and_tags),
        cmocka_unit_test(test_unknown_members_dropped),
        cmocka_unit_test(test_acm_validation_exception_names),
        cmocka_unit_test(test_redaction_of_secrets),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
