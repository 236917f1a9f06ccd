/* network_inventory.c - parser and checks for the company network inventory file. */
#include "network_inventory.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static void normalise(struct wl_net_prefix *p)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (p->family == 6 && memcmp(p->addr, mapped, 12) == 0 && p->len >= 96) {
        memmove(p->addr, p->addr + 12, 4);
        memset(p->addr + 4, 0, 12);
        p->family = 4;
        p->len -= 96;
    }
    /* clear host bits so that equal prefixes compare equal */
    int bits = p->family == 4 ? 32 : 128;
    for (int i = p->len; i < bits; i++)
        p->addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
}

int wl_net_prefix_parse(const char *s, struct wl_net_prefix *out)
{
    char buf[64];
    struct wl_net_prefix p;
    memset(&p, 0, sizeof p);
    if (!s || strlen(s) >= sizeof buf)
        return -1;
    strcpy(buf, s);
    char *slash = strchr(buf, '/');
    int len = -1;
    if (slash) {
        *slash = '\0';
        const char *d = slash + 1;
        if (*d == '\0' || strlen(d) > 3)
            return -1;
        len = 0;
        for (; *d; d++) {
            if (*d < '0' || *d > '9')
                return -1;
            len = len * 10 + (*d - '0');
        }
    }
    if (inet_pton(AF_INET, buf, p.addr) == 1) {
        p.family = 4;
        if (len > 32)
            return -1;
        p.len = len < 0 ? 32 : len;
    } else if (inet_pton(AF_INET6, buf, p.addr) == 1) {
        p.family = 6;
        if (len > 128)
            return -1;
        p.len = len < 0 ? 128 : len;
    } else {
        return -1;
    }
    normalise(&p);
    *out = p;
    return 0;
}

void wl_net_prefix_from_addr(int family, const void *addr, struct wl_net_prefix *out)
{
    memset(out, 0, sizeof *out);
    out->family = family;
    memcpy(out->addr, addr, family == 4 ? 4 : 16);
    out->len = family == 4 ? 32 : 128;
    normalise(out);
}

bool wl_net_prefix_contains(const struct wl_net_prefix *p, const struct wl_net_prefix *a)
{
    if (p->family != a->family || a->len < p->len)
        return false;
    int full = p->len / 8, rest = p->len % 8;
    if (memcmp(p->addr, a->addr, (size_t)full) != 0)
        return false;
    if (rest) {
        uint8_t m = (uint8_t)(0xffu << (8 - rest));
        if ((p->addr[full] & m) != (a->addr[full] & m))
            return false;
    }
    return true;
}

/* ---------------- file ---------------- */

static int get_id(json_t *o, const char *member, char out[64], const char *what, size_t idx,
                  char *err, size_t errlen)
{
    const char *s = json_string_value(json_object_get(o, member));
    if (!s || !*s)
        return fail(err, errlen, "%s[%zu]: \"%s\" must be a non-empty string", what, idx, member);
    if (strlen(s) >= 64)
        return fail(err, errlen, "%s[%zu]: \"%s\" is longer than 63 characters", what, idx, member);
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\\' || (unsigned char)*p >= 0x7f)
            return fail(err, errlen, "%s[%zu]: \"%s\" has a character ids may not have", what, idx,
                        member);
    strcpy(out, s);
    return 0;
}

/* The model's id patterns: ^vpc-, ^subnet-, ^sg- then 8 or 17 lowercase hex digits. */
static int check_pattern(const char *id, const char *prefix, const char *what, char *err,
                         size_t errlen)
{
    size_t pl = strlen(prefix), n = strlen(id);
    bool ok = strncmp(id, prefix, pl) == 0 && (n - pl == 8 || n - pl == 17);
    for (size_t i = pl; ok && i < n; i++)
        ok = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
    if (!ok)
        return fail(err, errlen, "%s id %s must be %s followed by 8 or 17 hex digits", what, id,
                    prefix);
    return 0;
}

static json_t *get_list(json_t *root, const char *member, char *err, size_t errlen)
{
    json_t *a = json_object_get(root, member);
    if (!json_is_array(a)) {
        fail(err, errlen, "\"%s\" must be a list", member);
        return NULL;
    }
    if (json_array_size(a) > WL_NET_MAX_ITEMS) {
        fail(err, errlen, "\"%s\" has more than %d entries", member, WL_NET_MAX_ITEMS);
        return NULL;
    }
    return a;
}

static int parse_port(json_t *v, int *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535)
        return -1;
    *out = (int)json_integer_value(v);
    return 0;
}

static int parse_rule(json_t *o, struct wl_net_rule *r, const char *gid, size_t idx, char *err,
                      size_t errlen)
{
    if (!json_is_object(o))
        return fail(err, errlen, "security group %s: egress[%zu] must be an object", gid, idx);
    const char *proto = json_string_value(json_object_get(o, "protocol"));
    if (proto && strcmp(proto, "tcp") == 0)
        r->proto = WL_NET_TCP;
    else if (proto && strcmp(proto, "udp") == 0)
        r->proto = WL_NET_UDP;
    else if (proto && (strcmp(proto, "all") == 0 || strcmp(proto, "-1") == 0))
        r->proto = WL_NET_ALL;
    else
        return fail(err, errlen, "security group %s: egress[%zu]: protocol must be tcp, udp or all",
                    gid, idx);
    json_t *fp = json_object_get(o, "from_port"), *tp = json_object_get(o, "to_port");
    if (r->proto == WL_NET_ALL && !fp && !tp) {
        r->from_port = 0;
        r->to_port = 65535;
    } else if (parse_port(fp, &r->from_port) < 0 || parse_port(tp, &r->to_port) < 0 ||
               r->from_port > r->to_port) {
        return fail(err, errlen,
                    "security group %s: egress[%zu]: from_port and to_port must be 0..65535 with "
                    "from_port <= to_port",
                    gid, idx);
    }
    const char *cidr = json_string_value(json_object_get(o, "cidr"));
    if (!cidr || wl_net_prefix_parse(cidr, &r->cidr) < 0)
        return fail(err, errlen, "security group %s: egress[%zu]: cidr is not an IP prefix", gid,
                    idx);
    return 0;
}

int wl_net_inventory_parse(const char *data, size_t len, struct wl_net_inventory **out, char *err,
                           size_t errlen)
{
    json_error_t je;
    struct wl_net_inventory *inv = NULL;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    int rc = -1;
    if (!root) {
        fail(err, errlen, "not JSON (line %d: %s)", je.line, je.text);
        goto out;
    }
    if (!json_is_object(root)) {
        fail(err, errlen, "the top level must be an object");
        goto out;
    }
    json_t *vpcs = get_list(root, "vpcs", err, errlen);
    json_t *subnets = vpcs ? get_list(root, "subnets", err, errlen) : NULL;
    json_t *groups = subnets ? get_list(root, "security_groups", err, errlen) : NULL;
    if (!groups)
        goto out;
    inv = calloc(1, sizeof *inv);
    if (!inv)
        abort();
    inv->vpcs = calloc(json_array_size(vpcs) + 1, sizeof *inv->vpcs);
    inv->subnets = calloc(json_array_size(subnets) + 1, sizeof *inv->subnets);
    inv->groups = calloc(json_array_size(groups) + 1, sizeof *inv->groups);
    if (!inv->vpcs || !inv->subnets || !inv->groups)
        abort();
    size_t i;
    json_t *e;
    json_array_foreach(vpcs, i, e)
    {
        if (json_is_string(e)) { /* a bare id is fine too */
            json_t *tmp = json_pack("{sO}", "id", e);
            int r = get_id(tmp, "id", inv->vpcs[i], "vpcs", i, err, errlen);
            json_decref(tmp);
            if (r < 0)
                goto out;
        } else if (get_id(e, "id", inv->vpcs[i], "vpcs", i, err, errlen) < 0) {
            goto out;
        }
        if (check_pattern(inv->vpcs[i], "vpc-", "vpc", err, errlen) < 0)
            goto out;
        if (wl_net_vpc_exists(inv, inv->vpcs[i])) {
            fail(err, errlen, "vpc %s is listed twice", inv->vpcs[i]);
            goto out;
        }
        inv->nvpcs++;
    }
    json_array_foreach(subnets, i, e)
    {
        struct wl_net_subnet *s = &inv->subnets[i];
        if (get_id(e, "id", s->id, "subnets", i, err, errlen) < 0 ||
            get_id(e, "vpc", s->vpc, "subnets", i, err, errlen) < 0)
            goto out;
        if (check_pattern(s->id, "subnet-", "subnet", err, errlen) < 0)
            goto out;
        if (wl_net_subnet_find(inv, s->id)) {
            fail(err, errlen, "subnet %s is listed twice", s->id);
            goto out;
        }
        if (!wl_net_vpc_exists(inv, s->vpc)) {
            fail(err, errlen, "subnet %s: vpc %s is not in \"vpcs\"", s->id, s->vpc);
            goto out;
        }
        const char *cidr = json_string_value(json_object_get(e, "cidr"));
        if (!cidr || wl_net_prefix_parse(cidr, &s->cidr) < 0) {
            fail(err, errlen, "subnet %s: cidr is not an IP prefix", s->id);
            goto out;
        }
        const char *src = json_string_value(json_object_get(e, "source_address"));
        if (!src || strchr(src, '/') || wl_net_prefix_parse(src, &s->source) < 0) {
            fail(err, errlen, "subnet %s: source_address is not an IP address", s->id);
            goto out;
        }
        if (!wl_net_prefix_contains(&s->cidr, &s->source)) {
            fail(err, errlen, "subnet %s: source_address %s is outside its cidr %s", s->id, src,
                 cidr);
            goto out;
        }
        snprintf(s->source_text, sizeof s->source_text, "%s", src);
        inv->nsubnets++;
    }
    json_array_foreach(groups, i, e)
    {
        struct wl_net_group *g = &inv->groups[i];
        if (get_id(e, "id", g->id, "security_groups", i, err, errlen) < 0 ||
            get_id(e, "vpc", g->vpc, "security_groups", i, err, errlen) < 0)
            goto out;
        if (check_pattern(g->id, "sg-", "security group", err, errlen) < 0)
            goto out;
        if (wl_net_group_find(inv, g->id)) {
            fail(err, errlen, "security group %s is listed twice", g->id);
            goto out;
        }
        if (!wl_net_vpc_exists(inv, g->vpc)) {
            fail(err, errlen, "security group %s: vpc %s is not in \"vpcs\"", g->id, g->vpc);
            goto out;
        }
        json_t *rules = json_object_get(e, "egress");
        if (!json_is_array(rules) || json_array_size(rules) > WL_NET_MAX_ITEMS) {
            fail(err, errlen, "security group %s: \"egress\" must be a list (at most %d rules)",
                 g->id, WL_NET_MAX_ITEMS);
            goto out;
        }
        g->rules = calloc(json_array_size(rules) + 1, sizeof *g->rules);
        if (!g->rules)
            abort();
        inv->ngroups++;
        size_t k;
        json_t *re;
        json_array_foreach(rules, k, re)
        {
            if (parse_rule(re, &g->rules[k], g->id, k, err, errlen) < 0)
                goto out;
            g->nrules++;
        }
    }
    *out = inv;
    inv = NULL;
    rc = 0;
out:
    wl_net_inventory_free(inv);
    json_decref(root);
    return rc;
}

int wl_net_inventory_load(const char *path, struct wl_net_inventory **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, errlen, "%s: cannot open", path);
    char *buf = malloc(WL_NET_MAX_FILE + 1);
    if (!buf)
        abort();
    size_t n = fread(buf, 1, WL_NET_MAX_FILE + 1, f);
    int rerr = ferror(f);
    fclose(f);
    int rc;
    if (rerr)
        rc = fail(err, errlen, "%s: read error", path);
    else if (n > WL_NET_MAX_FILE)
        rc = fail(err, errlen, "%s: larger than %d bytes", path, WL_NET_MAX_FILE);
    else {
        char e2[300];
        rc = wl_net_inventory_parse(buf, n, out, e2, sizeof e2);
        if (rc < 0)
            fail(err, errlen, "%s: %s", path, e2);
    }
    free(buf);
    return rc;
}

void wl_net_inventory_free(struct wl_net_inventory *inv)
{
    if (!inv)
        return;
    for (size_t i = 0; i < inv->ngroups; i++)
        free(inv->groups[i].rules);
    free(inv->vpcs);
    free(inv->subnets);
    free(inv->groups);
    free(inv);
}

const struct wl_net_subnet *wl_net_subnet_find(const struct wl_net_inventory *inv, const char *id)
{
    for (size_t i = 0; i < inv->nsubnets; i++)
        if (strcmp(inv->subnets[i].id, id) == 0)
            return &inv->subnets[i];
    return NULL;
}

const struct wl_net_group *wl_net_group_find(const struct wl_net_inventory *inv, const char *id)
{
    for (size_t i = 0; i < inv->ngroups; i++)
        if (strcmp(inv->groups[i].id, id) == 0)
            return &inv->groups[i];
    return NULL;
}

bool wl_net_vpc_exists(const struct wl_net_inventory *inv, const char *id)
{
    for (size_t i = 0; i < inv->nvpcs; i++)
        if (strcmp(inv->vpcs[i], id) == 0)
            return true;
    return false;
}

int wl_net_check(const struct wl_net_inventory *inv, const char *vpc, const char *const *subnets,
                 size_t nsubnets, const char *const *groups, size_t ngroups, char *err,
                 size_t errlen)
{
    if (!vpc || !wl_net_vpc_exists(inv, vpc))
        return fail(err, errlen, "VpcId %s does not exist in the network inventory",
                    vpc ? vpc : "(none)");
    if (nsubnets == 0)
        return fail(err, errlen, "SubnetIds must name at least one subnet of %s", vpc);
    if (ngroups == 0)
        return fail(err, errlen, "SecurityGroupIds must name at least one security group of %s",
                    vpc);
    for (size_t i = 0; i < nsubnets; i++) {
        const struct wl_net_subnet *s = wl_net_subnet_find(inv, subnets[i]);
        if (!s)
            return fail(err, errlen, "SubnetIds: subnet %s does not exist", subnets[i]);
        if (strcmp(s->vpc, vpc) != 0)
            return fail(err, errlen, "SubnetIds: subnet %s belongs to %s, not to %s", subnets[i],
                        s->vpc, vpc);
        for (size_t j = 0; j < i; j++)
            if (strcmp(subnets[j], subnets[i]) == 0)
                return fail(err, errlen, "SubnetIds: subnet %s is named twice", subnets[i]);
    }
    for (size_t i = 0; i < ngroups; i++) {
        const struct wl_net_group *g = wl_net_group_find(inv, groups[i]);
        if (!g)
            return fail(err, errlen, "SecurityGroupIds: security group %s does not exist",
                        groups[i]);
        if (strcmp(g->vpc, vpc) != 0)
            return fail(err, errlen, "SecurityGroupIds: security group %s belongs to %s, not to %s",
                        groups[i], g->vpc, vpc);
        for (size_t j = 0; j < i; j++)
            if (strcmp(groups[j], groups[i]) == 0)
                return fail(err, errlen, "SecurityGroupIds: security group %s is named twice",
                            groups[i]);
    }
    return 0;
}
