/* test_saml.c - unit tests of wl_saml that need no IdP: metadata validation, SP metadata,
 * AuthnRequest encoding and signature (checked with OpenSSL and zlib, independently of the
 * library), time parsing, form decoding, Redis keys, and refusals that come before any
 * signature (DTD, size, encoding). Keys and certificates are generated here with OpenSSL.
 * Responses signed by a real IdP are tested in tests/integration/saml (pysaml2). */
#include "saml.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

static EVP_PKEY *key;
static char *cert_pem;
static char *cert_b64; /* body of the PEM, one line */
static char *key_pem;

static int setup(void **state)
{
    (void)state;
    if (wl_saml_global_init() != 0)
        return -1;
    key = EVP_RSA_gen(2048);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"unit idp", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_sign(x, key, EVP_sha256());
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    cert_pem = strndup(p, (size_t)n);
    BIO_free(b);
    cert_b64 = malloc(strlen(cert_pem) + 1);
    size_t o = 0;
    for (const char *l = cert_pem; *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        if (strncmp(l, "-----", 5) != 0) {
            memcpy(cert_b64 + o, l, len);
            o += len;
        }
        l += len + (e ? 1 : 0);
    }
    cert_b64[o] = '\0';
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(b, &p);
    key_pem = strndup(p, (size_t)n);
    BIO_free(b);
    X509_free(x);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(key);
    free(cert_pem);
    free(cert_b64);
    free(key_pem);
    return 0;
}

/* IdP metadata with the test certificate; `extra_sso` replaces the SSO element when set. */
static char *metadata(const char *want, const char *sso, const char *cert)
{
#define MD_FMT                                                                                     \
    "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "                      \
    "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"https://idp.unit/idp\">"           \
    "<md:IDPSSODescriptor WantAuthnRequestsSigned=\"%s\" "                                         \
    "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">"                         \
    "<md:KeyDescriptor use=\"encryption\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>"           \
    "bm90IGEgY2VydA==</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"          \
    "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>"              \
    "%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>%s"                      \
    "</md:IDPSSODescriptor></md:EntityDescriptor>"
    size_t n = sizeof MD_FMT + strlen(want) + strlen(sso) + strlen(cert) + 1;
    char *s = malloc(n);
    snprintf(s, n, MD_FMT, want, cert, sso);
    return s;
}

#define SSO_REDIRECT                                                                               \
    "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" "          \
    "Location=\"https://idp.unit/sso-post\"/>"                                                     \
    "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" "      \
    "Location=\"https://idp.unit/sso?tenant=1\"/>"
#define SSO_POST_ONLY                                                                              \
    "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" "          \
    "Location=\"https://idp.unit/sso-post\"/>"

static int parse(const char *xml, struct wl_saml_idp **idp, char *detail)
{
    return wl_saml_idp_parse(xml, strlen(xml), idp, detail, WL_SAML_DETAIL_MAX);
}

static void test_idp_metadata_good(void **state)
{
    (void)state;
    char detail[WL_SAML_DETAIL_MAX];
    struct wl_saml_idp *idp = NULL;
    char *md = metadata("true", SSO_REDIRECT, cert_b64);
    assert_int_equal(parse(md, &idp, detail), 0);
    assert_string_equal(wl_saml_idp_entity_id(idp), "https://idp.unit/idp");
    assert_string_equal(wl_saml_idp_sso_url(idp), "https://idp.unit/sso?tenant=1");
    assert_int_equal(wl_saml_idp_sso_binding(idp), WL_SAML_BINDING_REDIRECT);
    assert_true(wl_saml_idp_wants_signed_requests(idp));
    assert_int_equal(wl_saml_idp_cert_count(idp), 1); /* the encryption key is not used */
    wl_saml_idp_free(idp);
    free(md);
    md = metadata("false", SSO_POST_ONLY, cert_b64);
    assert_int_equal(parse(md, &idp, detail), 0);
    assert_int_equal(wl_saml_idp_sso_binding(idp), WL_SAML_BINDING_POST);
    assert_false(wl_saml_idp_wants_signed_requests(idp));
    wl_saml_idp_free(idp);
    /* an EntitiesDescriptor with one IdP (and an SP) is accepted; with two IdPs it is not */
    const char *open_tag =
        "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\">"
        "<md:EntityDescriptor entityID=\"https://sp\"><md:SPSSODescriptor/></md:EntityDescriptor>";
    size_t n = strlen(open_tag) + 2 * strlen(md) + 64;
    char *agg = malloc(n);
    snprintf(agg, n, "%s%s</md:EntitiesDescriptor>", open_tag, md);
    assert_int_equal(parse(agg, &idp, detail), 0);
    assert_string_equal(wl_saml_idp_entity_id(idp), "https://idp.unit/idp");
    wl_saml_idp_free(idp);
    idp = NULL;
    snprintf(agg, n, "%s%s%s</md:EntitiesDescriptor>", open_tag, md, md);
    assert_int_equal(parse(agg, &idp, detail), WL_SAML_E_METADATA);
    assert_non_null(strstr(detail, "exactly one"));
    assert_null(idp);
    free(agg);
    free(md);
    wl_saml_idp_free(NULL);
}

static void expect_md_error(const char *xml, int code, const char *needle)
{
    char detail[WL_SAML_DETAIL_MAX] = "";
    struct wl_saml_idp *idp = NULL;
    assert_int_equal(parse(xml, &idp, detail), code);
    assert_null(idp);
    if (!strstr(detail, needle))
        fail_msg("detail %s lacks %s", detail, needle);
}

static void test_idp_metadata_refused(void **state)
{
    (void)state;
    expect_md_error("<md:EntityDescriptor", WL_SAML_E_XML, "not well-formed");
    expect_md_error("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>",
                    WL_SAML_E_DTD, "DOCTYPE");
    expect_md_error("<x xmlns=\"urn:other\"/>", WL_SAML_E_METADATA, "EntityDescriptor");
    expect_md_error("<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
                    "entityID=\"x\"><md:SPSSODescriptor/></md:EntityDescriptor>",
                    WL_SAML_E_METADATA, "IDPSSODescriptor");
    char *md = metadata("true", SSO_REDIRECT, "");
    expect_md_error(md, WL_SAML_E_CERT, "not base64");
    free(md);
    md = metadata("true", SSO_REDIRECT, "aGVsbG8gd29ybGQ=");
    expect_md_error(md, WL_SAML_E_CERT, "not an X.509");
    free(md);
    md = metadata("true", "", cert_b64);
    expect_md_error(md, WL_SAML_E_METADATA, "SingleSignOnService");
    free(md);
    md = metadata("true",
                  "<md:SingleSignOnService "
                  "Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" "
                  "Location=\"javascript:alert(1)\"/>",
                  cert_b64);
    expect_md_error(md, WL_SAML_E_METADATA, "Location");
    free(md);
    /* no signing certificate at all */
    expect_md_error(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
        "entityID=\"https://idp\"><md:IDPSSODescriptor "
        "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">" SSO_REDIRECT
        "</md:IDPSSODescriptor></md:EntityDescriptor>",
        WL_SAML_E_METADATA, "signing certificate");
    char detail[WL_SAML_DETAIL_MAX];
    struct wl_saml_idp *idp = NULL;
    assert_int_equal(wl_saml_idp_parse("", 0, &idp, detail, sizeof detail), WL_SAML_E_METADATA);
}

static void test_sp_metadata(void **state)
{
    (void)state;
    char detail[WL_SAML_DETAIL_MAX];
    char *md = wl_saml_sp_metadata("https://gw.unit/sp?a=1&b=2", "https://gw.unit/saml/acs",
                                   cert_pem, detail, sizeof detail);
    assert_non_null(md);
    assert_non_null(strstr(md, "entityID=\"https://gw.unit/sp?a=1&amp;b=2\""));
    assert_non_null(strstr(md, "Location=\"https://gw.unit/saml/acs\""));
    assert_non_null(strstr(md, cert_b64));
    assert_non_null(strstr(md, "AuthnRequestsSigned=\"true\""));
    free(md);
    assert_null(wl_saml_sp_metadata(
        "https://gw.unit/sp", "https://gw.unit/acs",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", detail, sizeof detail));
    assert_non_null(strstr(detail, "X.509"));
    assert_null(wl_saml_sp_metadata("", "https://gw.unit/acs", cert_pem, detail, sizeof detail));
    assert_null(
        wl_saml_sp_metadata("https://gw.unit/sp", "ftp://x/acs", cert_pem, detail, sizeof detail));
    assert_null(wl_saml_sp_metadata("https://gw.unit/sp\"><x", "https://gw.unit/acs", cert_pem,
                                    detail, sizeof detail));
}

/* Returns the URL-decoded value of query parameter name (new string), or NULL. */
static char *query_param(const char *url, const char *name)
{
    const char *q = strchr(url, '?');
    size_t len = 0;
    return wl_saml_form_field(q + 1, strlen(q + 1), name, 1 << 20, &len);
}

static void test_authn_request(void **state)
{
    (void)state;
    char detail[WL_SAML_DETAIL_MAX];
    struct wl_saml_idp *idp = NULL;
    char *md = metadata("true", SSO_REDIRECT, cert_b64);
    assert_int_equal(parse(md, &idp, detail), 0);
    free(md);
    struct wl_saml_sp *sp = NULL;
    assert_int_equal(wl_saml_sp_new("https://gw.unit/sp", "https://gw.unit/saml/acs", key_pem,
                                    strlen(key_pem), &sp, detail, sizeof detail),
                     0);
    struct wl_saml_authn a, b;
    assert_int_equal(
        wl_saml_authn_request(sp, idp, "r/1 2", 1795450000000LL, &a, detail, sizeof detail), 0);
    assert_int_equal(
        wl_saml_authn_request(sp, idp, NULL, 1795450000000LL, &b, detail, sizeof detail), 0);
    /* ids: "id" + 32 hex, different each time */
    assert_int_equal(strlen(a.request_id), WL_SAML_ID_LEN);
    assert_memory_equal(a.request_id, "id", 2);
    assert_true(strspn(a.request_id + 2, "0123456789abcdef") == 32);
    assert_string_not_equal(a.request_id, b.request_id);
    /* the existing query of the SSO URL is kept */
    assert_memory_equal(a.url, "https://idp.unit/sso?tenant=1&SAMLRequest=", 42);
    char *rs = query_param(a.url, "RelayState");
    assert_string_equal(rs, "r/1 2");
    free(rs);
    char *alg = query_param(a.url, "SigAlg");
    assert_string_equal(alg, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256");
    free(alg);
    assert_null(strstr(b.url, "RelayState="));

    /* signature over the exact octets SAMLRequest=..&RelayState=..&SigAlg=.. */
    const char *start = strstr(a.url, "SAMLRequest=");
    const char *sig_at = strstr(a.url, "&Signature=");
    assert_non_null(sig_at);
    char *sig_b64 = query_param(a.url, "Signature");
    unsigned char sig[512];
    int sig_len = EVP_DecodeBlock(sig, (unsigned char *)sig_b64, (int)strlen(sig_b64));
    assert_true(sig_len >= 256);
    EVP_MD_CTX *mdc = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(mdc, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(
        EVP_DigestVerify(mdc, sig, 256, (const unsigned char *)start, (size_t)(sig_at - start)), 1);
    /* one flipped byte no longer verifies */
    sig[10] ^= 1;
    assert_int_equal(EVP_DigestVerifyInit(mdc, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_not_equal(
        EVP_DigestVerify(mdc, sig, 256, (const unsigned char *)start, (size_t)(sig_at - start)), 1);
    EVP_MD_CTX_free(mdc);
    free(sig_b64);

    /* SAMLRequest: base64 of raw DEFLATE of the AuthnRequest XML */
    char *req_b64 = query_param(a.url, "SAMLRequest");
    unsigned char *z = malloc(strlen(req_b64));
    int zlen = EVP_DecodeBlock(z, (unsigned char *)req_b64, (int)strlen(req_b64));
    assert_true(zlen > 0);
    while (zlen > 0 && req_b64[strlen(req_b64) - 1] == '=' && z[zlen - 1] == 0) {
        zlen--;
        req_b64[strlen(req_b64) - 1] = '\0';
    }
    char xml[4096];
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, -15), Z_OK);
    zs.next_in = z;
    zs.avail_in = (uInt)zlen;
    zs.next_out = (Bytef *)xml;
    zs.avail_out = sizeof xml - 1;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    xml[zs.total_out] = '\0';
    inflateEnd(&zs);
    free(z);
    free(req_b64);
    char want[128];
    snprintf(want, sizeof want, "ID=\"%s\"", a.request_id);
    assert_non_null(strstr(xml, want));
    if (!strstr(xml, "IssueInstant=\"2026-11-23T16:06:40Z\""))
        fail_msg("%s", xml);
    assert_non_null(strstr(xml, "Destination=\"https://idp.unit/sso?tenant=1\""));
    assert_non_null(strstr(xml, "AssertionConsumerServiceURL=\"https://gw.unit/saml/acs\""));
    assert_non_null(strstr(xml, "<saml:Issuer>https://gw.unit/sp</saml:Issuer>"));
    free(a.url);
    free(b.url);

    /* RelayState over 80 bytes refused (binding rule) */
    char long_rs[100];
    memset(long_rs, 'a', sizeof long_rs - 1);
    long_rs[sizeof long_rs - 1] = '\0';
    assert_int_equal(wl_saml_authn_request(sp, idp, long_rs, 0, &a, detail, sizeof detail),
                     WL_SAML_E_ARGUMENT);
    wl_saml_sp_free(sp);

    /* no key while the IdP wants signed requests */
    assert_int_equal(wl_saml_sp_new("https://gw.unit/sp", "https://gw.unit/saml/acs", NULL, 0, &sp,
                                    detail, sizeof detail),
                     0);
    assert_int_equal(wl_saml_authn_request(sp, idp, NULL, 0, &a, detail, sizeof detail),
                     WL_SAML_E_ARGUMENT);
    wl_saml_sp_free(sp);
    wl_saml_idp_free(idp);

    /* POST-only IdP: the redirect builder says so */
    md = metadata("false", SSO_POST_ONLY, cert_b64);
    assert_int_equal(parse(md, &idp, detail), 0);
    free(md);
    assert_int_equal(wl_saml_sp_new("https://gw.unit/sp", "https://gw.unit/saml/acs", key_pem,
                                    strlen(key_pem), &sp, detail, sizeof detail),
                     0);
    assert_int_equal(wl_saml_authn_request(sp, idp, NULL, 0, &a, detail, sizeof detail),
                     WL_SAML_E_UNSUPPORTED);
    wl_saml_sp_free(sp);
    wl_saml_idp_free(idp);

    assert_int_equal(wl_saml_sp_new("https://gw.unit/sp", "https://gw.unit/saml/acs", "not a key",
                                    9, &sp, detail, sizeof detail),
                     WL_SAML_E_ARGUMENT);
}

static void test_time_parse(void **state)
{
    (void)state;
    int64_t t = 0;
    assert_int_equal(wl_saml_time_parse("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(wl_saml_time_parse("2026-11-23T15:26:43Z", &t), 0);
    assert_int_equal(t, 1795447603000LL);
    assert_int_equal(wl_saml_time_parse("2026-11-23T15:26:43.5Z", &t), 0);
    assert_int_equal(t, 1795447603500LL);
    assert_int_equal(wl_saml_time_parse("2024-02-29T00:00:00.123456+00:00", &t), 0);
    assert_int_equal(t, 1709164800123LL);
    const char *bad[] = {"",
                         "2026-11-23",
                         "2026-11-23T15:26:43",
                         "2026-11-23T15:26:43+01:00",
                         "2026-13-23T15:26:43Z",
                         "2026-02-30T15:26:43Z",
                         "2026-11-23T25:26:43Z",
                         "2026-11-23T15:26:43.Z",
                         "2026-11-23 15:26:43Z",
                         "２026-11-23T15:26:43Z",
                         "1969-12-31T23:59:59Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (wl_saml_time_parse(bad[i], &t) != -1)
            fail_msg("accepted %s", bad[i]);
    }
}

static void test_form_field(void **state)
{
    (void)state;
    size_t n = 0;
    const char *body = "RelayState=x&SAMLResponse=PD94%2Bb+Q%3D%3D&z=1";
    char *v = wl_saml_form_field(body, strlen(body), "SAMLResponse", 100, &n);
    assert_string_equal(v, "PD94+b Q==");
    assert_int_equal(n, 10);
    free(v);
    assert_null(wl_saml_form_field(body, strlen(body), "Missing", 100, &n));
    assert_null(wl_saml_form_field(body, strlen(body), "SAMLResponse", 5, &n));
    const char *dup = "SAMLResponse=a&SAMLResponse=b";
    assert_null(wl_saml_form_field(dup, strlen(dup), "SAMLResponse", 100, &n));
    const char *bad[] = {"SAMLResponse=%", "SAMLResponse=%4", "SAMLResponse=%zz",
                         "SAMLResponse=a%00b"};
    for (size_t i = 0; i < 4; i++)
        assert_null(wl_saml_form_field(bad[i], strlen(bad[i]), "SAMLResponse", 100, &n));
    /* not a prefix match */
    const char *pre = "XSAMLResponse=a";
    assert_null(wl_saml_form_field(pre, strlen(pre), "SAMLResponse", 100, &n));
}

static void test_keys(void **state)
{
    (void)state;
    char buf[256];
    assert_int_equal(wl_saml_authn_key("f1", "id00ff", buf, sizeof buf), 20);
    assert_string_equal(buf, "wl:{f1}:authn:id00ff");
    assert_int_equal(wl_saml_authn_key("f{1}", "id", buf, sizeof buf), -1);
    assert_int_equal(wl_saml_authn_key("f1", "id 1", buf, sizeof buf), -1);
    assert_int_equal(wl_saml_authn_key("f1", "id", buf, 5), -1);
    struct wl_saml_result r = {.issuer = "https://idp", .assertion_id = "_abc-1"};
    assert_true(wl_saml_replay_key("f1", &r, buf, sizeof buf) > 0);
    /* SHA-256("https://idp") first 16 bytes */
    assert_memory_equal(buf, "wl:{f1}:replay:", 15);
    assert_int_equal(strlen(buf), 15 + 32 + 1 + 6);
    assert_string_equal(buf + 15 + 32, ":_abc-1");
    struct wl_saml_result r2 = {.issuer = "https://idp2", .assertion_id = "_abc-1"};
    char buf2[256];
    wl_saml_replay_key("f1", &r2, buf2, sizeof buf2);
    assert_string_not_equal(buf, buf2);
}

static void expect_verify(const char *b64, size_t len, int code)
{
    char detail[WL_SAML_DETAIL_MAX] = "";
    struct wl_saml_idp *idp = NULL;
    char *md = metadata("true", SSO_REDIRECT, cert_b64);
    assert_int_equal(parse(md, &idp, detail), 0);
    free(md);
    struct wl_saml_expect exp = {.sp_entity_id = "https://gw.unit/sp",
                                 .acs_url = "https://gw.unit/saml/acs",
                                 .now_ms = 1795450000000LL};
    struct wl_saml_result *r = NULL;
    int rc = wl_saml_response_verify(idp, &exp, b64, len, &r, detail, sizeof detail);
    if (rc != code)
        fail_msg("want %s, got %s (%s)", wl_saml_strerror(code), wl_saml_strerror(rc), detail);
    assert_null(r);
    assert_true(detail[0] != '\0');
    wl_saml_idp_free(idp);
}

static char *b64(const char *s)
{
    char *out = malloc(strlen(s) * 2 + 8);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)strlen(s));
    return out;
}

static void test_verify_refusals_before_signature(void **state)
{
    (void)state;
    const char *resp = "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
                       "Version=\"2.0\" ID=\"r1\"><samlp:Status><samlp:StatusCode "
                       "Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>"
                       "</samlp:Response>";
    char *s = b64(resp);
    expect_verify(s, strlen(s), WL_SAML_E_ASSERTION_COUNT);
    free(s);
    s = b64("<?xml version=\"1.0\"?><!DOCTYPE samlp:Response [<!ENTITY e \"x\">]>"
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>");
    expect_verify(s, strlen(s), WL_SAML_E_DTD);
    free(s);
    s = b64("<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
            "Version=\"1.1\"/>");
    expect_verify(s, strlen(s), WL_SAML_E_NOT_RESPONSE);
    free(s);
    s = b64("<a><b></a>");
    expect_verify(s, strlen(s), WL_SAML_E_XML);
    free(s);
    expect_verify("@@@@", 4, WL_SAML_E_ENCODING);
    expect_verify("", 0, WL_SAML_E_ENCODING);
    expect_verify("QQ=A", 4, WL_SAML_E_ENCODING);
    size_t big = WL_SAML_MAX_MESSAGE + 4;
    char *huge = malloc(big);
    memset(huge, 'A', big);
    expect_verify(huge, big, WL_SAML_E_TOO_LARGE);
    free(huge);
    /* status other than Success, reported with the code */
    s = b64("<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
            "Version=\"2.0\"><samlp:Status><samlp:StatusCode "
            "Value=\"urn:oasis:names:tc:SAML:2.0:status:Responder\"/></samlp:Status>"
            "</samlp:Response>");
    expect_verify(s, strlen(s), WL_SAML_E_STATUS);
    free(s);
    /* duplicate IDs */
    s = b64("<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
            "Version=\"2.0\" ID=\"a\"><x ID=\"a\"/></samlp:Response>");
    expect_verify(s, strlen(s), WL_SAML_E_DUPLICATE_ID);
    free(s);
    /* one assertion, no signature anywhere */
    s = b64("<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
            "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" Version=\"2.0\" ID=\"r\">"
            "<samlp:Status><samlp:StatusCode "
            "Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>"
            "<saml:Assertion ID=\"a\" Version=\"2.0\"/></samlp:Response>");
    expect_verify(s, strlen(s), WL_SAML_E_UNSIGNED);
    free(s);
    s = b64("<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
            "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" Version=\"2.0\" ID=\"r\">"
            "<samlp:Status><samlp:StatusCode "
            "Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>"
            "<saml:EncryptedAssertion/></samlp:Response>");
    expect_verify(s, strlen(s), WL_SAML_E_ENCRYPTED);
    free(s);
}

static void test_sp_credentials(void **state)
{
    (void)state;
    char detail[WL_SAML_DETAIL_MAX];
    char *k = NULL, *crt = NULL;
    assert_int_equal(wl_saml_sp_credentials_new("fleet1 SP", 3650, &k, &crt, detail, sizeof detail),
                     0);
    assert_non_null(strstr(k, "BEGIN PRIVATE KEY"));
    /* the certificate makes SP metadata, the key signs requests that the cert verifies */
    char *md = wl_saml_sp_metadata("https://gw.unit/sp", "https://gw.unit/acs", crt, detail,
                                   sizeof detail);
    assert_non_null(md);
    free(md);
    struct wl_saml_sp *sp = NULL;
    assert_int_equal(wl_saml_sp_new("https://gw.unit/sp", "https://gw.unit/acs", k, strlen(k), &sp,
                                    detail, sizeof detail),
                     0);
    wl_saml_sp_free(sp);
    BIO *b = BIO_new_mem_buf(crt, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    b = BIO_new_mem_buf(k, -1);
    EVP_PKEY *pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_int_equal(X509_check_private_key(x, pk), 1);
    assert_int_equal(X509_verify(x, pk), 1); /* self-signed */
    EVP_PKEY_free(pk);
    X509_free(x);
    free(k);
    free(crt);
    k = crt = NULL;
    assert_int_equal(wl_saml_sp_credentials_new("", 10, &k, &crt, detail, sizeof detail),
                     WL_SAML_E_ARGUMENT);
    assert_int_equal(wl_saml_sp_credentials_new("x", 0, &k, &crt, detail, sizeof detail),
                     WL_SAML_E_ARGUMENT);
    assert_null(k);
}

static void test_error_names(void **state)
{
    (void)state;
    for (int a = 0; a >= WL_SAML_E_UNSUPPORTED; a--) {
        assert_string_not_equal(wl_saml_strerror(a), "unknown");
        for (int b = a - 1; b >= WL_SAML_E_UNSUPPORTED; b--)
            assert_string_not_equal(wl_saml_strerror(a), wl_saml_strerror(b));
    }
    assert_string_equal(wl_saml_strerror(-1000), "unknown");
    assert_null(strstr(wl_saml_user_message(), "signature"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idp_metadata_good),
        cmocka_unit_test(test_idp_metadata_refused),
        cmocka_unit_test(test_sp_metadata),
        cmocka_unit_test(test_authn_request),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_form_field),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_verify_refusals_before_signature),
        cmocka_unit_test(test_sp_credentials),
        cmocka_unit_test(test_error_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
