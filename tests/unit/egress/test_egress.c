/* Unit tests: network inventory parsing and checks, the egress policy (rules, guarded ranges,
 * IPv4-mapped IPv6, source rotation and failover), audit stream key naming. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "egress.h"
#include "network_inventory.h"

static const char inv_text[] =
    "{\"vpcs\": [{\"id\": \"vpc-0000000a\"}, \"vpc-0000000b\"],"
    " \"subnets\": ["
    "  {\"id\": \"subnet-0000000a\", \"vpc\": \"vpc-0000000a\", \"cidr\": \"10.1.0.0/16\","
    "   \"source_address\": \"10.1.0.5\"},"
    "  {\"id\": \"subnet-0000000b\", \"vpc\": \"vpc-0000000a\", \"cidr\": \"10.2.0.0/16\","
    "   \"source_address\": \"10.2.0.5\"},"
    "  {\"id\": \"subnet-0000000c\", \"vpc\": \"vpc-0000000b\", \"cidr\": \"10.3.0.0/16\","
    "   \"source_address\": \"10.3.0.5\"}],"
    " \"security_groups\": ["
    "  {\"id\": \"sg-0000000a\", \"vpc\": \"vpc-0000000a\", \"egress\": ["
    "   {\"protocol\": \"tcp\", \"from_port\": 443, \"to_port\": 443, \"cidr\": \"10.50.0.0/16\"},"
    "   {\"protocol\": \"tcp\", \"from_port\": 80, \"to_port\": 80, \"cidr\": \"2001:db8::/32\"}]},"
    "  {\"id\": \"sg-0000000b\", \"vpc\": \"vpc-0000000a\", \"egress\": ["
    "   {\"protocol\": \"all\", \"cidr\": \"0.0.0.0/0\"}, {\"protocol\": \"all\", \"cidr\": "
    "\"::/0\"}]},"
    "  {\"id\": \"sg-0000000c\", \"vpc\": \"vpc-0000000a\", \"egress\": ["
    "   {\"protocol\": \"tcp\", \"from_port\": 80, \"to_port\": 80, \"cidr\": "
    "\"169.254.169.254/32\"}]},"
    "  {\"id\": \"sg-0000000e\", \"vpc\": \"vpc-0000000b\", \"egress\": []}]}";

static char inv_path[64];

static int setup(void **state)
{
    (void)state;
    snprintf(inv_path, sizeof inv_path, "/tmp/wl-egress-unit-XXXXXX");
    int fd = mkstemp(inv_path);
    if (fd < 0 || write(fd, inv_text, sizeof inv_text - 1) != (ssize_t)(sizeof inv_text - 1))
        return -1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(inv_path);
    return 0;
}

static void test_parse_and_check(void **state)
{
    (void)state;
    struct wl_net_inventory *inv = NULL;
    char err[300];
    assert_int_equal(wl_net_inventory_load(inv_path, &inv, err, sizeof err), 0);
    assert_int_equal(inv->nvpcs, 2);
    assert_int_equal(inv->nsubnets, 3);
    assert_int_equal(inv->ngroups, 4);
    const char *sn[] = {"subnet-0000000a", "subnet-0000000b"}, *sg[] = {"sg-0000000a"};
    assert_int_equal(wl_net_check(inv, "vpc-0000000a", sn, 2, sg, 1, err, sizeof err), 0);
    const char *bad[] = {"subnet-0000000a", "subnet-0000dead"};
    assert_int_equal(wl_net_check(inv, "vpc-0000000a", bad, 2, sg, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "subnet-0000dead"));
    const char *other[] = {"subnet-0000000c"};
    assert_int_equal(wl_net_check(inv, "vpc-0000000a", other, 1, sg, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "subnet-0000000c"));
    assert_non_null(strstr(err, "vpc-0000000b"));
    assert_int_equal(wl_net_check(inv, "vpc-0000000a", sn, 0, sg, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "SubnetIds"));
    assert_int_equal(wl_net_check(inv, "vpc-0000000a", sn, 1, sg, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "SecurityGroupIds"));
    const char *sgx[] = {"sg-0000000e"};
    assert_int_equal(wl_net_check(inv, "vpc-0000000a", sn, 1, sgx, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "sg-0000000e"));
    assert_int_equal(wl_net_check(inv, "vpc-0000dead", sn, 1, sg, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "vpc-0000dead"));
    wl_net_inventory_free(inv);
}

static void test_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"not json", "not JSON"},
        {"[]", "top level"},
        {"{\"vpcs\": [], \"subnets\": []}", "security_groups"},
        {"{\"vpcs\": [\"vpc-1\"], \"subnets\": [], \"security_groups\": []}", "vpc-1"},
        {"{\"vpcs\": [\"vpc-0000000a\", \"vpc-0000000a\"], \"subnets\": [], "
         "\"security_groups\": []}",
         "twice"},
        {"{\"vpcs\": [\"vpc-0000000a\"], \"subnets\": [{\"id\": \"subnet-0000000a\", \"vpc\": "
         "\"vpc-0000000a\", \"cidr\": \"10.0.0.0/33\", \"source_address\": \"10.0.0.1\"}], "
         "\"security_groups\": []}",
         "cidr"},
        {"{\"vpcs\": [\"vpc-0000000a\"], \"subnets\": [{\"id\": \"subnet-0000000a\", \"vpc\": "
         "\"vpc-0000000a\", \"cidr\": \"10.0.0.0/24\", \"source_address\": \"10.0.1.1\"}], "
         "\"security_groups\": []}",
         "outside"},
        {"{\"vpcs\": [\"vpc-0000000a\"], \"subnets\": [], \"security_groups\": [{\"id\": "
         "\"sg-0000000a\", \"vpc\": \"vpc-0000000a\", \"egress\": [{\"protocol\": \"icmp\", "
         "\"cidr\": \"0.0.0.0/0\"}]}]}",
         "protocol"},
        {"{\"vpcs\": [\"vpc-0000000a\"], \"subnets\": [], \"security_groups\": [{\"id\": "
         "\"sg-0000000a\", \"vpc\": \"vpc-0000000a\", \"egress\": [{\"protocol\": \"tcp\", "
         "\"from_port\": 90, \"to_port\": 80, \"cidr\": \"0.0.0.0/0\"}]}]}",
         "from_port"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct wl_net_inventory *inv = NULL;
        char err[300] = "";
        assert_int_equal(
            wl_net_inventory_parse(cases[i].text, strlen(cases[i].text), &inv, err, sizeof err),
            -1);
        assert_null(inv);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: %s lacks %s", i, err, cases[i].want);
    }
}

static void test_prefix(void **state)
{
    (void)state;
    struct wl_net_prefix p, a;
    assert_int_equal(wl_net_prefix_parse("::ffff:10.0.0.0/104", &p), 0);
    assert_int_equal(p.family, 4);
    assert_int_equal(p.len, 8);
    assert_int_equal(wl_net_prefix_parse("10.1.2.3", &a), 0);
    assert_true(wl_net_prefix_contains(&p, &a));
    assert_int_equal(wl_net_prefix_parse("10.0.0.0/x", &p), -1);
    assert_int_equal(wl_net_prefix_parse("10.0.0.0/", &p), -1);
    assert_int_equal(wl_net_prefix_parse("300.0.0.0/8", &p), -1);
    assert_int_equal(wl_net_prefix_parse("fe80::/129", &p), -1);
}

static struct sockaddr_storage v4(const char *a, int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s = (struct sockaddr_in *)&ss;
    s->sin_family = AF_INET;
    s->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, a, &s->sin_addr);
    return ss;
}

static struct sockaddr_storage v6(const char *a, int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
    s->sin6_family = AF_INET6;
    s->sin6_port = htons((uint16_t)port);
    inet_pton(AF_INET6, a, &s->sin6_addr);
    return ss;
}

static bool allowed(const struct gw_egress *e, struct sockaddr_storage ss)
{
    const char *why = NULL;
    int rc = gw_egress_allow(e, (struct sockaddr *)&ss, &why);
    assert_true(rc == 0 ? why == NULL || true : why != NULL);
    return rc == 0;
}

static void test_policy(void **state)
{
    (void)state;
    struct gw_egress *e = gw_egress_new(
        inv_path, "vpc-0000000a", "[\"subnet-0000000a\",\"subnet-0000000b\"]", "[\"sg-0000000a\"]");
    assert_null(gw_egress_reason(e));
    assert_true(allowed(e, v4("10.50.3.4", 443)));
    assert_false(allowed(e, v4("10.50.3.4", 444)));
    assert_false(allowed(e, v4("10.51.3.4", 443)));
    assert_true(allowed(e, v6("::ffff:10.50.3.4", 443))); /* mapped: judged as IPv4 */
    assert_false(allowed(e, v6("::ffff:10.51.3.4", 443)));
    assert_true(allowed(e, v6("2001:db8::1", 80)));
    assert_false(allowed(e, v6("2001:db9::1", 80)));
    gw_egress_free(e);

    /* 0.0.0.0/0 and ::/0 do not name link-local or metadata addresses */
    e = gw_egress_new(inv_path, "vpc-0000000a", "[\"subnet-0000000a\"]", "[\"sg-0000000b\"]");
    assert_true(allowed(e, v4("8.8.8.8", 53)));
    assert_false(allowed(e, v4("169.254.169.254", 80)));
    assert_false(allowed(e, v4("169.254.1.1", 80)));
    assert_false(allowed(e, v6("::ffff:169.254.169.254", 80)));
    assert_false(allowed(e, v6("fe80::1", 80)));
    assert_false(allowed(e, v6("fd00:ec2::254", 80)));
    assert_true(allowed(e, v6("fd00:ec2::253", 80)));
    const char *why = NULL;
    struct sockaddr_storage md = v4("169.254.169.254", 80);
    assert_int_equal(gw_egress_allow(e, (struct sockaddr *)&md, &why), -1);
    assert_non_null(strstr(why, "link-local"));
    gw_egress_free(e);

    /* a rule naming the metadata address opens it (and only it, only its port) */
    e = gw_egress_new(inv_path, "vpc-0000000a", "[\"subnet-0000000a\"]",
                      "[\"sg-0000000b\",\"sg-0000000c\"]");
    assert_true(allowed(e, v4("169.254.169.254", 80)));
    assert_false(allowed(e, v4("169.254.169.254", 81)));
    assert_false(allowed(e, v4("169.254.169.253", 80)));
    gw_egress_free(e);
}

static void test_fail_closed(void **state)
{
    (void)state;
    struct gw_egress *e = gw_egress_new(inv_path, NULL, NULL, NULL);
    assert_non_null(strstr(gw_egress_reason(e), "no company network"));
    assert_false(allowed(e, v4("10.50.0.1", 443)));
    gw_egress_free(e);
    e = gw_egress_new("/nonexistent/inventory.json", "vpc-0000000a", "[\"subnet-0000000a\"]",
                      "[\"sg-0000000a\"]");
    assert_non_null(strstr(gw_egress_reason(e), "cannot open"));
    assert_false(allowed(e, v4("10.50.0.1", 443)));
    gw_egress_free(e);
    e = gw_egress_new(inv_path, "vpc-0000000a", "[\"subnet-0000dead\"]", "[\"sg-0000000a\"]");
    assert_non_null(strstr(gw_egress_reason(e), "subnet-0000dead"));
    gw_egress_free(e);
    e = gw_egress_new(inv_path, "vpc-0000000a", "not json", "[\"sg-0000000a\"]");
    assert_non_null(gw_egress_reason(e));
    gw_egress_free(e);
}

static void test_sources(void **state)
{
    (void)state;
    struct gw_egress *e = gw_egress_new(
        inv_path, "vpc-0000000a", "[\"subnet-0000000a\",\"subnet-0000000b\"]", "[\"sg-0000000a\"]");
    struct sockaddr_storage src;
    int idx, seen[2] = {0, 0};
    for (int i = 0; i < 10; i++) {
        assert_int_equal(gw_egress_source(e, AF_INET, 0, &src, &idx), 0);
        seen[idx]++;
    }
    assert_int_equal(seen[0], 5); /* round robin */
    assert_int_equal(seen[1], 5);
    char txt[80];
    assert_int_equal(gw_egress_source(e, AF_INET, 1, &src, &idx), 0); /* subnet 0 tried */
    assert_int_equal(idx, 1);
    gw_egress_addr_text((struct sockaddr *)&src, txt, sizeof txt);
    assert_string_equal(txt, "10.2.0.5:0");
    assert_int_equal(gw_egress_source(e, AF_INET, 3, &src, &idx), -1);  /* both tried */
    assert_int_equal(gw_egress_source(e, AF_INET6, 0, &src, &idx), -1); /* no IPv6 subnet */
    gw_egress_source_failed(e, 1);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(gw_egress_source(e, AF_INET, 0, &src, &idx), 0);
        assert_int_equal(idx, 0); /* the failed subnet is avoided */
    }
    assert_int_equal(gw_egress_source(e, AF_INET, 1, &src, &idx), 0);
    assert_int_equal(idx, 1); /* ... unless nothing else is left */
    gw_egress_free(e);

    struct sockaddr_storage m = v6("::ffff:10.1.2.3", 8080);
    gw_egress_normalise(&m);
    assert_int_equal(m.ss_family, AF_INET);
    gw_egress_addr_text((struct sockaddr *)&m, txt, sizeof txt);
    assert_string_equal(txt, "10.1.2.3:8080");
}

static void test_audit_key(void **state)
{
    (void)state;
    char *k = gw_audit_stream_key("arn:aws:kinesis:us-east-1:123456789012:stream/AmazonWorkLink-x");
    assert_string_equal(k, "wl:audit:AmazonWorkLink-x");
    free(k);
    assert_null(gw_audit_stream_key(NULL));
    assert_null(gw_audit_stream_key(""));
    assert_null(gw_audit_stream_key("arn:aws:kinesis:us-east-1:123456789012:stream/"));
    assert_null(gw_audit_stream_key("arn:aws:s3:::bucket"));
    assert_null(gw_audit_stream_key("arn:aws:kinesis:us-east-1:1:stream/a b"));
    assert_null(gw_audit_stream_key("arn:aws:kinesis:us-east-1:1:stream/a}{b"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_check), cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_prefix),          cmocka_unit_test(test_policy),
        cmocka_unit_test(test_fail_closed),     cmocka_unit_test(test_sources),
        cmocka_unit_test(test_audit_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
