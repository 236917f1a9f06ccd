/* test_ops.c - the operations (op_table.c) against a real redis-server this test starts on a
 * free port: state machines through ctl_reconcile(), atomic uniqueness, pagination tokens,
 * certificate checks, DeleteFleet cleanup, sign-out. The admin API front is not involved (the
 * AWS CLI test tests/integration/control/test_operations.py covers the whole path). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "op.h"
#include "saml.h"

static pid_t redis_pid;
static int redis_port;
static char tmp_dir[] = "/tmp/wl-test-ops-XXXXXX";
static struct ctl_config cfg;
static redisContext *rc;
static int64_t clock_ms;

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) < 0)
        abort();
    close(s);
    return ntohs(a.sin_port);
}

static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0) {
        fprintf(stderr, "command failed: %s\n", cmd);
        abort();
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (f == NULL)
        abort();
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n)
        abort();
    fclose(f);
    return buf;
}

static int setup_all(void **state)
{
    (void)state;
    char port[16];
    if (mkdtemp(tmp_dir) == NULL)
        return -1;
    redis_port = free_port();
    snprintf(port, sizeof port, "%d", redis_port);
    redis_pid = fork();
    if (redis_pid == 0) {
        int devnull = open("/dev/null", 1);
        dup2(devnull, 1);
        execlp("redis-server", "redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "",
               "--appendonly", "no", "--dir", tmp_dir, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        rc = redisConnect("127.0.0.1", redis_port);
        if (rc != NULL && rc->err == 0)
            break;
        redisFree(rc);
        rc = NULL;
        usleep(25000);
    }
    if (rc == NULL)
        return -1;
    snprintf(cfg.account_id, sizeof cfg.account_id, "123456789012");
    snprintf(cfg.region, sizeof cfg.region, "us-east-1");
    for (size_t i = 0; i < sizeof cfg.master_key.key; i++)
        cfg.master_key.key[i] = (uint8_t)(i * 7 + 1);
    snprintf(cfg.gateway_url_base, sizeof cfg.gateway_url_base, "https://%%s.gw.example.com");
    cfg.fleet_create_delay_ms = 1000;
    cfg.domain_associate_delay_ms = 1000;
    cfg.fleet_delete_delay_ms = 1000;
    cfg.gateway_ttl_ms = 5000;
    cfg.fleet_drain_ms = 60000;
    clock_ms = (int64_t)time(NULL) * 1000;
    /* certificates made with the openssl tool */
    sh("cd %s && openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null && "
       "openssl req -x509 -new -key ca.key -out ca.crt -days 30 -subj /CN=TestCA 2>/dev/null && "
       "openssl ecparam -name prime256v1 -genkey -noout -out leaf.key && "
       "openssl req -new -key leaf.key -out leaf.csr -subj /CN=example.com && "
       "printf 'subjectAltName=DNS:*.example.com,DNS:example.com\\n' > leaf.ext && "
       "openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out leaf.crt "
       "-days 30 -extfile leaf.ext 2>/dev/null && "
       "openssl ecparam -name prime256v1 -genkey -noout -out other.key",
       tmp_dir);
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    redisFree(rc);
    if (redis_pid > 0) {
        kill(redis_pid, SIGTERM);
        waitpid(redis_pid, NULL, 0);
    }
    sh("rm -rf %s", tmp_dir);
    return 0;
}

struct result {
    int rc;
    char err[64];
    char msg[512];
    json_t *out;
};

/* Runs operation `name` with the JSON input text; the result's out is a new reference. */
static struct result call(const char *service, const char *name, json_t *in)
{
    struct result r = {0};
    struct ctl_ctx ctx = {.redis = rc,
                          .cfg = &cfg,
                          .account_id = "123456789012",
                          .principal = "admin",
                          .request_id = "test",
                          .now_ms = clock_ms};
    const struct ctl_op *op = ctl_op_find(service, name);
    assert_non_null(op);
    r.rc = op->fn(&ctx, in, &r.out);
    snprintf(r.err, sizeof r.err, "%s", r.rc ? ctx.err_type : "");
    snprintf(r.msg, sizeof r.msg, "%s", r.rc ? ctx.err_message : "");
    if (r.rc == 0)
        assert_int_equal(ctx.err_status, 0);
    json_decref(in);
    return r;
}

static struct result wl(const char *name, json_t *in)
{
    return call("worklink", name, in);
}

static void expect_ok(struct result r)
{
    if (r.rc != 0)
        fail_msg("unexpected %s: %s", r.err, r.msg);
}

/* expect_ok() for a result whose output is not needed */
static void expect_done(struct result r)
{
    expect_ok(r);
    json_decref(r.out);
}

static void expect_err(struct result r, const char *type)
{
    assert_int_equal(r.rc, -1);
    if (strcmp(r.err, type) != 0)
        fail_msg("want %s, got %s: %s", type, r.err, r.msg);
    json_decref(r.out);
}

static void reconcile_after(int64_t ms)
{
    struct ctl_ctx ctx = {.redis = rc, .cfg = &cfg, .request_id = "reconcile"};
    clock_ms += ms;
    ctx.now_ms = clock_ms;
    assert_int_equal(ctl_reconcile(&ctx), 0);
}

/* A gateway of fleet F beats (member id, at the test clock), the way gateway/heartbeat.c does. */
static void beat(const char *fleet, const char *id)
{
    freeReplyObject(
        redisCommand(rc, "ZADD wl:{%s}:gateways %lld %s", fleet, (long long)clock_ms, id));
}

static void gateway_left(const char *fleet, const char *id)
{
    freeReplyObject(redisCommand(rc, "ZREM wl:{%s}:gateways %s", fleet, id));
}

static const char *fleet_status(const char *name);

static const char *fleet_arn(const char *name)
{
    static char arn[128];
    snprintf(arn, sizeof arn, "arn:aws:worklink::123456789012:fleet/%s", name);
    return arn;
}

static char *str_of(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? strdup(s) : NULL;
}

static void test_fleet_lifecycle(void **state)
{
    (void)state;
    struct result r = wl("CreateFleet", json_pack("{s:s, s:s, s:{s:s}}", "FleetName", "alpha",
                                                  "DisplayName", "Alpha", "Tags", "team", "a"));
    expect_ok(r);
    assert_string_equal(json_string_value(json_object_get(r.out, "FleetArn")), fleet_arn("alpha"));
    json_decref(r.out);
    expect_err(wl("CreateFleet", json_pack("{s:s}", "FleetName", "alpha")),
               "ResourceAlreadyExistsException");

    r = wl("DescribeFleetMetadata", json_pack("{s:s}", "FleetArn", fleet_arn("alpha")));
    expect_ok(r);
    assert_string_equal(json_string_value(json_object_get(r.out, "FleetStatus")), "CREATING");
    const char *code = json_string_value(json_object_get(r.out, "CompanyCode"));
    assert_non_null(code);
    assert_int_equal(strlen(code), 10);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.out, "Tags"), "team")),
                        "a");
    json_decref(r.out);

    /* no gateway of the fleet beats yet: it stays CREATING */
    reconcile_after(1500);
    assert_string_equal(fleet_status("alpha"), "CREATING");
    beat("alpha", "gw-stale");
    reconcile_after(5001); /* a heartbeat older than the TTL does not count */
    assert_string_equal(fleet_status("alpha"), "CREATING");
    beat("alpha", "gw-1");
    reconcile_after(300);
    assert_string_equal(fleet_status("alpha"), "ACTIVE");

    expect_done(wl("UpdateFleetMetadata", json_pack("{s:s, s:b}", "FleetArn", fleet_arn("alpha"),
                                                    "OptimizeForEndUserLocation", 1)));
    r = wl("DescribeFleetMetadata", json_pack("{s:s}", "FleetArn", fleet_arn("alpha")));
    assert_null(json_object_get(r.out, "DisplayName")); /* absent DisplayName unsets it */
    assert_true(json_is_true(json_object_get(r.out, "OptimizeForEndUserLocation")));
    json_decref(r.out);

    /* another account sees nothing */
    expect_err(wl("DescribeFleetMetadata",
                  json_pack("{s:s}", "FleetArn", "arn:aws:worklink::999999999999:fleet/alpha")),
               "ResourceNotFoundException");
    expect_err(wl("DescribeFleetMetadata", json_pack("{s:s}", "FleetArn", "not-an-arn")),
               "InvalidRequestException");
}

static void test_list_fleets_paging(void **state)
{
    (void)state;
    const char *names[] = {"p1", "p2", "p3", "p4", "p5"};
    for (size_t i = 0; i < 5; i++)
        expect_done(wl("CreateFleet", json_pack("{s:s}", "FleetName", names[i])));
    /* alpha, p1..p5: pages of 2 */
    struct result r = wl("ListFleets", json_pack("{s:i}", "MaxResults", 2));
    expect_ok(r);
    json_t *l = json_object_get(r.out, "FleetSummaryList");
    assert_int_equal(json_array_size(l), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 1), "FleetName")),
                        "p1");
    char *tok = str_of(r.out, "NextToken");
    assert_non_null(tok);
    json_decref(r.out);
    /* p2 removed and p15 added between pages: the next page starts right after p1 */
    expect_done(wl("DeleteFleet", json_pack("{s:s}", "FleetArn", fleet_arn("p3"))));
    expect_done(wl("CreateFleet", json_pack("{s:s}", "FleetName", "p15")));
    r = wl("ListFleets", json_pack("{s:i, s:s}", "MaxResults", 2, "NextToken", tok));
    expect_ok(r);
    l = json_object_get(r.out, "FleetSummaryList");
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "FleetName")),
                        "p15");
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 1), "FleetName")),
                        "p2");
    free(tok);
    tok = str_of(r.out, "NextToken");
    json_decref(r.out);
    r = wl("ListFleets", json_pack("{s:i, s:s}", "MaxResults", 10, "NextToken", tok));
    expect_ok(r);
    l = json_object_get(r.out, "FleetSummaryList");
    assert_int_equal(json_array_size(l), 3); /* p3 (DELETING), p4, p5 */
    assert_null(json_object_get(r.out, "NextToken"));
    json_decref(r.out);
    /* tampered token, token of another list */
    tok[2] = tok[2] == 'A' ? 'B' : 'A';
    expect_err(wl("ListFleets", json_pack("{s:s}", "NextToken", tok)), "InvalidRequestException");
    expect_err(wl("ListFleets", json_pack("{s:s}", "NextToken", "!!")), "InvalidRequestException");
    free(tok);
    r = wl("ListFleets", json_pack("{s:i}", "MaxResults", 1));
    tok = str_of(r.out, "NextToken");
    json_decref(r.out);
    expect_err(wl("ListDomains",
                  json_pack("{s:s, s:s}", "FleetArn", fleet_arn("alpha"), "NextToken", tok)),
               "InvalidRequestException");
    free(tok);
}

static char *import_cert(const char *crt, const char *key)
{
    char p1[256], p2[256];
    snprintf(p1, sizeof p1, "%s/%s", tmp_dir, crt);
    snprintf(p2, sizeof p2, "%s/%s", tmp_dir, key);
    char *c = slurp(p1), *k = slurp(p2);
    struct result r = call("acm", "ImportCertificate",
                           json_pack("{s:s, s:s}", "Certificate", c, "PrivateKey", k));
    free(c);
    free(k);
    if (r.rc != 0) {
        json_decref(r.out);
        return NULL;
    }
    char *arn = str_of(r.out, "CertificateArn");
    json_decref(r.out);
    return arn;
}

static void test_domains_and_certificates(void **state)
{
    (void)state;
    assert_null(import_cert("leaf.crt", "other.key")); /* key of another certificate */
    char *arn = import_cert("leaf.crt", "leaf.key");
    assert_non_null(arn);
    assert_true(strncmp(arn, "arn:aws:acm:us-east-1:123456789012:certificate/", 47) == 0);

    struct result r = call("acm", "DescribeCertificate", json_pack("{s:s}", "CertificateArn", arn));
    expect_ok(r);
    json_t *c = json_object_get(r.out, "Certificate");
    assert_string_equal(json_string_value(json_object_get(c, "DomainName")), "example.com");
    assert_string_equal(json_string_value(json_object_get(c, "KeyAlgorithm")), "EC_prime256v1");
    assert_string_equal(json_string_value(json_object_get(c, "Status")), "ISSUED");
    assert_int_equal(json_array_size(json_object_get(c, "SubjectAlternativeNames")), 2);
    json_decref(r.out);
    r = call("acm", "GetCertificate", json_pack("{s:s}", "CertificateArn", arn));
    expect_ok(r);
    assert_non_null(strstr(json_string_value(json_object_get(r.out, "Certificate")), "BEGIN"));
    assert_null(json_object_get(r.out, "PrivateKey"));
    json_decref(r.out);

    const char *fa = fleet_arn("alpha");
    /* wildcard covers one label only */
    expect_err(wl("AssociateDomain", json_pack("{s:s, s:s, s:s}", "FleetArn", fa, "DomainName",
                                               "a.b.example.com", "AcmCertificateArn", arn)),
               "InvalidRequestException");
    expect_err(wl("AssociateDomain", json_pack("{s:s, s:s, s:s}", "FleetArn", fa, "DomainName",
                                               "example.org", "AcmCertificateArn", arn)),
               "InvalidRequestException");
    expect_err(wl("AssociateDomain", json_pack("{s:s, s:s, s:s}", "FleetArn", fa, "DomainName",
                                               "wiki.example.com", "AcmCertificateArn",
                                               "arn:aws:acm:us-east-1:123456789012:certificate/"
                                               "00000000-0000-4000-8000-000000000000")),
               "ResourceNotFoundException");
    /* 40 days later the 30-day certificate has expired */
    clock_ms += 40LL * 86400 * 1000;
    expect_err(wl("AssociateDomain", json_pack("{s:s, s:s, s:s}", "FleetArn", fa, "DomainName",
                                               "wiki.example.com", "AcmCertificateArn", arn)),
               "InvalidRequestException");
    r = call("acm", "DescribeCertificate", json_pack("{s:s}", "CertificateArn", arn));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.out, "Certificate"), "Status")),
        "EXPIRED");
    json_decref(r.out);
    clock_ms -= 40LL * 86400 * 1000;
    expect_done(wl("AssociateDomain",
                   json_pack("{s:s, s:s, s:s, s:s}", "FleetArn", fa, "DomainName",
                             "Wiki.Example.com", "AcmCertificateArn", arn, "DisplayName", "Wiki")));
    expect_err(wl("AssociateDomain", json_pack("{s:s, s:s, s:s}", "FleetArn", fa, "DomainName",
                                               "wiki.example.com", "AcmCertificateArn", arn)),
               "ResourceAlreadyExistsException");
    r = wl("DescribeDomain",
           json_pack("{s:s, s:s}", "FleetArn", fa, "DomainName", "wiki.example.com"));
    expect_ok(r);
    assert_string_equal(json_string_value(json_object_get(r.out, "DomainStatus")), "ASSOCIATING");
    assert_string_equal(json_string_value(json_object_get(r.out, "AcmCertificateArn")), arn);
    json_decref(r.out);
    expect_err(wl("RevokeDomainAccess",
                  json_pack("{s:s, s:s}", "FleetArn", fa, "DomainName", "wiki.example.com")),
               "InvalidRequestException"); /* ASSOCIATING, not ACTIVE */
    reconcile_after(1500);
    expect_done(wl("RevokeDomainAccess",
                   json_pack("{s:s, s:s}", "FleetArn", fa, "DomainName", "wiki.example.com")));
    expect_err(wl("RevokeDomainAccess",
                  json_pack("{s:s, s:s}", "FleetArn", fa, "DomainName", "wiki.example.com")),
               "InvalidRequestException");
    expect_done(wl("RestoreDomainAccess",
                   json_pack("{s:s, s:s}", "FleetArn", fa, "DomainName", "wiki.example.com")));
    r = wl("ListDomains", json_pack("{s:s}", "FleetArn", fa));
    expect_ok(r);
    json_t *d0 = json_array_get(json_object_get(r.out, "Domains"), 0);
    assert_string_equal(json_string_value(json_object_get(d0, "DomainStatus")), "ACTIVE");
    assert_string_equal(json_string_value(json_object_get(d0, "DisplayName")), "Wiki");
    json_decref(r.out);

    expect_err(call("acm", "DeleteCertificate", json_pack("{s:s}", "CertificateArn", arn)),
               "ResourceInUseException");
    r = call("acm", "DescribeCertificate", json_pack("{s:s}", "CertificateArn", arn));
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(r.out, "Certificate"), "InUseBy"), 0)),
                        fa);
    json_decref(r.out);
    expect_done(wl("DisassociateDomain",
                   json_pack("{s:s, s:s}", "FleetArn", fa, "DomainName", "wiki.example.com")));
    expect_err(wl("DescribeDomain",
                  json_pack("{s:s, s:s}", "FleetArn", fa, "DomainName", "wiki.example.com")),
               "ResourceNotFoundException");
    expect_done(call("acm", "DeleteCertificate", json_pack("{s:s}", "CertificateArn", arn)));
    expect_err(call("acm", "DescribeCertificate", json_pack("{s:s}", "CertificateArn", arn)),
               "ResourceNotFoundException");
    free(arn);
}

static void test_fleet_config(void **state)
{
    (void)state;
    const char *fa = fleet_arn("alpha");
    char path[256];
    snprintf(path, sizeof path, "%s/ca.crt", tmp_dir);
    char *ca = slurp(path);
    struct result r = wl(
        "AssociateWebsiteCertificateAuthority",
        json_pack("{s:s, s:s, s:s}", "FleetArn", fa, "Certificate", ca, "DisplayName", "Corp CA"));
    expect_ok(r);
    char *id = str_of(r.out, "WebsiteCaId");
    json_decref(r.out);
    expect_err(wl("AssociateWebsiteCertificateAuthority",
                  json_pack("{s:s, s:s}", "FleetArn", fa, "Certificate", ca)),
               "ResourceAlreadyExistsException");
    expect_err(wl("AssociateWebsiteCertificateAuthority",
                  json_pack("{s:s, s:s}", "FleetArn", fa, "Certificate",
                            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")),
               "InvalidRequestException");
    r = wl("DescribeWebsiteCertificateAuthority",
           json_pack("{s:s, s:s}", "FleetArn", fa, "WebsiteCaId", id));
    expect_ok(r);
    assert_string_equal(json_string_value(json_object_get(r.out, "DisplayName")), "Corp CA");
    json_decref(r.out);
    expect_done(wl("DisassociateWebsiteCertificateAuthority",
                   json_pack("{s:s, s:s}", "FleetArn", fa, "WebsiteCaId", id)));
    expect_err(wl("DisassociateWebsiteCertificateAuthority",
                  json_pack("{s:s, s:s}", "FleetArn", fa, "WebsiteCaId", id)),
               "ResourceNotFoundException");
    free(id);

    expect_done(wl("UpdateDevicePolicyConfiguration",
                   json_pack("{s:s, s:s}", "FleetArn", fa, "DeviceCaCertificate", ca)));
    r = wl("DescribeDevicePolicyConfiguration", json_pack("{s:s}", "FleetArn", fa));
    assert_string_equal(json_string_value(json_object_get(r.out, "DeviceCaCertificate")), ca);
    json_decref(r.out);
    expect_done(wl("UpdateDevicePolicyConfiguration", json_pack("{s:s}", "FleetArn", fa)));
    r = wl("DescribeDevicePolicyConfiguration", json_pack("{s:s}", "FleetArn", fa));
    assert_null(json_object_get(r.out, "DeviceCaCertificate"));
    json_decref(r.out);
    free(ca);

    expect_err(wl("UpdateIdentityProviderConfiguration",
                  json_pack("{s:s, s:s, s:s}", "FleetArn", fa, "IdentityProviderType", "SAML",
                            "IdentityProviderSamlMetadata", "<not xml")),
               "InvalidRequestException");
    expect_err(wl("UpdateIdentityProviderConfiguration",
                  json_pack("{s:s, s:s, s:s}", "FleetArn", fa, "IdentityProviderType", "SAML",
                            "IdentityProviderSamlMetadata", "<a xmlns='x'/>")),
               "InvalidRequestException");
    /* IdP metadata with a signing certificate (made here with the SAML core's generator) */
    char *idp_key = NULL, *idp_cert = NULL, detail[256];
    assert_int_equal(wl_saml_sp_credentials_new("idp.example.com", 30, &idp_key, &idp_cert, detail,
                                                sizeof detail),
                     0);
    char b64[4096] = "";
    for (const char *l = idp_cert; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        if (n && strncmp(l, "-----", 5) != 0)
            strncat(b64, l, n);
        l += n + (e ? 1 : 0);
    }
    char idp_no_key[1024], idp[6144];
    snprintf(
        idp_no_key, sizeof idp_no_key, "%s",
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
        "entityID=\"https://idp.example.com\"><md:IDPSSODescriptor "
        "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">"
        "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\""
        " Location=\"https://idp.example.com/sso\"/></md:IDPSSODescriptor>"
        "</md:EntityDescriptor>");
    snprintf(
        idp, sizeof idp,
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
        "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" "
        "entityID=\"https://idp.example.com\"><md:IDPSSODescriptor "
        "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">"
        "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s"
        "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\""
        " Location=\"https://idp.example.com/sso\"/></md:IDPSSODescriptor>"
        "</md:EntityDescriptor>",
        b64);
    free(idp_key);
    free(idp_cert);
    expect_err(wl("UpdateIdentityProviderConfiguration",
                  json_pack("{s:s, s:s, s:s}", "FleetArn", fa, "IdentityProviderType", "SAML",
                            "IdentityProviderSamlMetadata", idp_no_key)),
               "InvalidRequestException");
    expect_done(wl("UpdateIdentityProviderConfiguration",
                   json_pack("{s:s, s:s, s:s}", "FleetArn", fa, "IdentityProviderType", "SAML",
                             "IdentityProviderSamlMetadata", idp)));
    r = wl("DescribeIdentityProviderConfiguration", json_pack("{s:s}", "FleetArn", fa));
    expect_ok(r);
    const char *sp = json_string_value(json_object_get(r.out, "ServiceProviderSamlMetadata"));
    assert_non_null(sp);
    assert_non_null(strstr(sp, "entityID=\"https://alpha.gw.example.com/saml/metadata\""));
    assert_non_null(strstr(sp, "Location=\"https://alpha.gw.example.com/saml/acs\""));
    assert_non_null(strstr(sp, "X509Certificate>MII"));
    assert_string_equal(json_string_value(json_object_get(r.out, "IdentityProviderSamlMetadata")),
                        idp);
    json_decref(r.out);

    expect_done(wl("UpdateCompanyNetworkConfiguration",
                   json_pack("{s:s, s:s, s:[s,s], s:[s]}", "FleetArn", fa, "VpcId", "vpc-0123abcd",
                             "SubnetIds", "subnet-0123abcd", "subnet-0123abce", "SecurityGroupIds",
                             "sg-0123abcd")));
    r = wl("DescribeCompanyNetworkConfiguration", json_pack("{s:s}", "FleetArn", fa));
    assert_string_equal(json_string_value(json_object_get(r.out, "VpcId")), "vpc-0123abcd");
    assert_int_equal(json_array_size(json_object_get(r.out, "SubnetIds")), 2);
    json_decref(r.out);

    const char *stream = "arn:aws:kinesis:us-east-1:123456789012:stream/AmazonWorkLink-audit";
    expect_done(wl("UpdateAuditStreamConfiguration",
                   json_pack("{s:s, s:s}", "FleetArn", fa, "AuditStreamArn", stream)));
    r = wl("DescribeAuditStreamConfiguration", json_pack("{s:s}", "FleetArn", fa));
    assert_string_equal(json_string_value(json_object_get(r.out, "AuditStreamArn")), stream);
    json_decref(r.out);

    r = wl("AssociateWebsiteAuthorizationProvider",
           json_pack("{s:s, s:s, s:s}", "FleetArn", fa, "AuthorizationProviderType", "SAML",
                     "DomainName", "wiki.example.com"));
    expect_ok(r);
    char *apid = str_of(r.out, "AuthorizationProviderId");
    json_decref(r.out);
    expect_err(wl("AssociateWebsiteAuthorizationProvider",
                  json_pack("{s:s, s:s, s:s}", "FleetArn", fa, "AuthorizationProviderType", "SAML",
                            "DomainName", "wiki.example.com")),
               "ResourceAlreadyExistsException");
    r = wl("ListWebsiteAuthorizationProviders", json_pack("{s:s}", "FleetArn", fa));
    assert_int_equal(json_array_size(json_object_get(r.out, "WebsiteAuthorizationProviders")), 1);
    json_decref(r.out);
    expect_done(wl("DisassociateWebsiteAuthorizationProvider",
                   json_pack("{s:s, s:s}", "FleetArn", fa, "AuthorizationProviderId", apid)));
    free(apid);

    /* tags: at most 50 in all */
    json_t *tags = json_object();
    for (int i = 0; i < 49; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%02d", i);
        json_object_set_new(tags, k, json_string("v"));
    }
    expect_done(wl("TagResource", json_pack("{s:s, s:o}", "ResourceArn", fa, "Tags", tags)));
    expect_err(wl("TagResource", json_pack("{s:s, s:{s:s, s:s}}", "ResourceArn", fa, "Tags", "x1",
                                           "1", "x2", "2")),
               "InvalidRequestException"); /* 'team' + 49 + 2 = 52 */
    expect_done(wl("UntagResource",
                   json_pack("{s:s, s:[s,s]}", "ResourceArn", fa, "TagKeys", "k00", "k01")));
    r = wl("ListTagsForResource", json_pack("{s:s}", "ResourceArn", fa));
    assert_int_equal(json_object_size(json_object_get(r.out, "Tags")), 48);
    json_decref(r.out);
    expect_err(
        wl("ListTagsForResource", json_pack("{s:s}", "ResourceArn", fleet_arn("nosuchfleet"))),
        "InvalidRequestException");
}

static redisReply *cmd(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(rc, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    return r;
}

static void test_devices_and_sign_out(void **state)
{
    (void)state;
    const char *fa = fleet_arn("alpha");
    /* records as the gateway writes them at sign-in */
    freeReplyObject(cmd("HSET wl:{alpha}:device:dev1 id dev1 status ACTIVE manufacturer Apple "
                        "model iPhone os iOS os_version 17.1 patch_level 1 username alice "
                        "first_accessed 1700000000000 last_accessed 1700000100000"));
    freeReplyObject(cmd("ZADD wl:{alpha}:devices 0 dev1"));
    freeReplyObject(cmd("SADD wl:{alpha}:user:alice:devices dev1"));
    freeReplyObject(cmd("HSET wl:{alpha}:session:s1 username alice device_id dev1"));
    freeReplyObject(cmd("SADD wl:{alpha}:user:alice:sessions s1"));
    freeReplyObject(cmd("SET wl:{alpha}:jar:s1 WLJAR1"));
    struct result r = wl("ListDevices", json_pack("{s:s}", "FleetArn", fa));
    expect_ok(r);
    json_t *d = json_array_get(json_object_get(r.out, "Devices"), 0);
    assert_string_equal(json_string_value(json_object_get(d, "DeviceId")), "dev1");
    assert_string_equal(json_string_value(json_object_get(d, "DeviceStatus")), "ACTIVE");
    json_decref(r.out);
    r = wl("DescribeDevice", json_pack("{s:s, s:s}", "FleetArn", fa, "DeviceId", "dev1"));
    expect_ok(r);
    assert_string_equal(json_string_value(json_object_get(r.out, "Username")), "alice");
    assert_int_equal(json_integer_value(json_object_get(r.out, "FirstAccessedTime")), 1700000000);
    json_decref(r.out);
    expect_err(wl("DescribeDevice", json_pack("{s:s, s:s}", "FleetArn", fa, "DeviceId", "nope")),
               "ResourceNotFoundException");
    expect_done(wl("SignOutUser", json_pack("{s:s, s:s}", "FleetArn", fa, "Username", "alice")));
    redisReply *x = cmd("EXISTS wl:{alpha}:session:s1 wl:{alpha}:jar:s1");
    assert_int_equal(x->integer, 0);
    freeReplyObject(x);
    x = cmd("HGET wl:{alpha}:device:dev1 status");
    assert_string_equal(x->str, "SIGNED_OUT");
    freeReplyObject(x);
    expect_done(wl("SignOutUser", json_pack("{s:s, s:s}", "FleetArn", fa, "Username", "nobody")));
}

static void test_delete_fleet_removes_everything(void **state)
{
    (void)state;
    const char *fa = fleet_arn("alpha");
    char *arn = import_cert("leaf.crt", "leaf.key");
    assert_non_null(arn);
    expect_done(wl("AssociateDomain", json_pack("{s:s, s:s, s:s}", "FleetArn", fa, "DomainName",
                                                "docs.example.com", "AcmCertificateArn", arn)));
    struct result r = wl("DescribeFleetMetadata", json_pack("{s:s}", "FleetArn", fa));
    char *code = str_of(r.out, "CompanyCode");
    json_decref(r.out);
    expect_done(wl("DeleteFleet", json_pack("{s:s}", "FleetArn", fa)));
    expect_err(wl("DeleteFleet", json_pack("{s:s}", "FleetArn", fa)), "InvalidRequestException");
    expect_err(wl("AssociateDomain", json_pack("{s:s, s:s, s:s}", "FleetArn", fa, "DomainName",
                                               "x.example.com", "AcmCertificateArn", arn)),
               "InvalidRequestException");
    r = wl("DescribeFleetMetadata", json_pack("{s:s}", "FleetArn", fa));
    assert_string_equal(json_string_value(json_object_get(r.out, "FleetStatus")), "DELETING");
    json_decref(r.out);
    /* the certificate is free again, the company code too, the sessions are gone */
    expect_done(call("acm", "DeleteCertificate", json_pack("{s:s}", "CertificateArn", arn)));
    redisReply *x = cmd("EXISTS wl:companycode:%s wl:{alpha}:device:dev1 wl:{alpha}:tags", code);
    assert_int_equal(x->integer, 0);
    freeReplyObject(x);
    /* a gateway still beating keeps the fleet DELETING; once it has left: DELETED */
    beat("alpha", "gw-1");
    reconcile_after(1500);
    assert_string_equal(fleet_status("alpha"), "DELETING");
    gateway_left("alpha", "gw-1");
    reconcile_after(300);
    assert_string_equal(fleet_status("alpha"), "DELETED");
    reconcile_after(1500);
    expect_err(wl("DescribeFleetMetadata", json_pack("{s:s}", "FleetArn", fa)),
               "ResourceNotFoundException");
    x = cmd("KEYS wl:{alpha}:*");
    assert_int_equal(x->elements, 1); /* the version counter only */
    assert_string_equal(x->element[0]->str, "wl:{alpha}:version");
    freeReplyObject(x);
    /* the name can be used again */
    expect_done(wl("CreateFleet", json_pack("{s:s}", "FleetName", "alpha")));
    free(code);
    free(arn);
}

/* A gateway that dies (stops beating) or never exits cannot hold a deleted fleet forever. */
static void test_delete_waits_for_gateways_boundedly(void **state)
{
    (void)state;
    const char *names[2] = {"dead-gw", "stuck-gw"};
    for (int i = 0; i < 2; i++) {
        expect_done(wl("CreateFleet", json_pack("{s:s}", "FleetName", names[i])));
        beat(names[i], "g");
    }
    reconcile_after(1000);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(fleet_status(names[i]), "ACTIVE");
        beat(names[i], "g");
        expect_done(wl("DeleteFleet", json_pack("{s:s}", "FleetArn", fleet_arn(names[i]))));
    }
    reconcile_after(1000);
    assert_string_equal(fleet_status("dead-gw"), "DELETING");
    beat("stuck-gw", "g");
    reconcile_after(4100); /* dead-gw's last beat is now older than the TTL */
    assert_string_equal(fleet_status("dead-gw"), "DELETED");
    assert_string_equal(fleet_status("stuck-gw"), "DELETING");
    for (int t = 0; t < 54; t++) { /* stuck-gw beats on... */
        beat("stuck-gw", "g");
        reconcile_after(1000);
    }
    assert_string_equal(fleet_status("stuck-gw"), "DELETING");
    beat("stuck-gw", "g");
    reconcile_after(1000); /* ... until the drain timeout (60 s after DeleteFleet) */
    assert_string_equal(fleet_status("stuck-gw"), "DELETED");
}

static const char *fleet_status(const char *name)
{
    static char st[32];
    struct result r = wl("DescribeFleetMetadata", json_pack("{s:s}", "FleetArn", fleet_arn(name)));
    expect_ok(r);
    snprintf(st, sizeof st, "%s", json_string_value(json_object_get(r.out, "FleetStatus")));
    json_decref(r.out);
    return st;
}

static void test_store_failure_is_internal_error(void **state)
{
    (void)state;
    /* an operation whose Redis connection is gone answers InternalServerErrorException */
    redisContext *lost = redisConnect("127.0.0.1", redis_port);
    assert_non_null(lost);
    redisReply *id = redisCommand(lost, "CLIENT ID");
    freeReplyObject(cmd("CLIENT KILL ID %lld", id->integer));
    freeReplyObject(id);
    struct ctl_ctx ctx = {.redis = lost,
                          .cfg = &cfg,
                          .account_id = "123456789012",
                          .principal = "admin",
                          .request_id = "test",
                          .now_ms = clock_ms};
    json_t *in = json_pack("{s:s}", "FleetName", "lost"), *out = NULL;
    assert_int_equal(ctl_op_find("worklink", "CreateFleet")->fn(&ctx, in, &out), -1);
    assert_string_equal(ctx.err_type, "InternalServerErrorException");
    assert_int_equal(ctx.err_status, 500);
    assert_null(out);
    json_decref(in);
    redisFree(lost);
    redisReply *x = cmd("EXISTS wl:{lost}:fleet");
    assert_int_equal(x->integer, 0);
    freeReplyObject(x);
}

static void test_refused_write_leaves_nothing(void **state)
{
    (void)state;
    /* a key the script would write holds another type: the whole write is refused up front */
    freeReplyObject(cmd("SET wl:{broken}:tags oops"));
    expect_err(
        wl("CreateFleet", json_pack("{s:s, s:{s:s}}", "FleetName", "broken", "Tags", "a", "b")),
        "InternalServerErrorException");
    redisReply *x = cmd("EXISTS wl:{broken}:fleet wl:{broken}:version");
    assert_int_equal(x->integer, 0);
    freeReplyObject(x);
    x = cmd("ZSCORE wl:fleets broken");
    assert_int_equal(x->type, REDIS_REPLY_NIL);
    freeReplyObject(x);
    freeReplyObject(cmd("DEL wl:{broken}:tags"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fleet_lifecycle),
        cmocka_unit_test(test_list_fleets_paging),
        cmocka_unit_test(test_domains_and_certificates),
        cmocka_unit_test(test_fleet_config),
        cmocka_unit_test(test_devices_and_sign_out),
        cmocka_unit_test(test_delete_fleet_removes_everything),
        cmocka_unit_test(test_delete_waits_for_gateways_boundedly),
        cmocka_unit_test(test_store_failure_is_internal_error),
        cmocka_unit_test(test_refused_write_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
