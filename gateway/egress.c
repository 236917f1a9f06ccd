/* egress.c - the fleet's egress policy: the union of its security groups' egress rules, guarded
 * address ranges (link-local, cloud metadata) that need a rule naming them, and source address
 * rotation across the fleet's subnets with failover. See egress.h. */
#include "egress.h"

#include "network_inventory.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAIL_MS 10000 /* a failing subnet is avoided this long */

struct egress_subnet {
    char id[64];
    struct wl_net_prefix source;
    _Atomic int64_t failed_until;
};

struct gw_egress {
    char reason[700]; /* non-empty: refuse everything */
    struct wl_net_rule *rules;
    size_t nrules;
    struct egress_subnet subnets[GW_EGRESS_MAX_SUBNETS];
    int nsubnets;
    _Atomic uint64_t rr;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads a JSON array of strings; returns the count or -1. *out is a new array of borrowed
 * strings of *doc (free both). */
static int id_list(const char *s, json_t **doc, const char ***out)
{
    *doc = s ? json_loads(s, 0, NULL) : NULL;
    *out = NULL;
    if (!json_is_array(*doc))
        return -1;
    size_t n = json_array_size(*doc);
    *out = calloc(n + 1, sizeof **out);
    if (!*out)
        abort();
    for (size_t i = 0; i < n; i++) {
        (*out)[i] = json_string_value(json_array_get(*doc, i));
        if (!(*out)[i])
            return -1;
    }
    return (int)n;
}

struct gw_egress *gw_egress_new(const char *inventory, const char *vpc_id, const char *subnet_ids,
                                const char *security_group_ids)
{
    struct gw_egress *e = calloc(1, sizeof *e);
    struct wl_net_inventory *inv = NULL;
    json_t *sdoc = NULL, *gdoc = NULL;
    const char **sv = NULL, **gv = NULL;
    char err[256];
    if (!e)
        abort();
    if (!vpc_id || !*vpc_id) {
        snprintf(e->reason, sizeof e->reason,
                 "The fleet has no company network configured, so no website can be reached.");
        goto out;
    }
    if (!inventory || wl_net_inventory_load(inventory, &inv, err, sizeof err) < 0) {
        snprintf(e->reason, sizeof e->reason, "The gateway's network inventory is unusable (%s).",
                 inventory ? err : "no --network file");
        goto out;
    }
    int ns = id_list(subnet_ids, &sdoc, &sv);
    int ng = id_list(security_group_ids, &gdoc, &gv);
    if (ns < 0 || ng < 0) {
        snprintf(e->reason, sizeof e->reason,
                 "The fleet's company network configuration is incomplete.");
        goto out;
    }
    if (wl_net_check(inv, vpc_id, sv, (size_t)ns, gv, (size_t)ng, err, sizeof err) < 0) {
        snprintf(e->reason, sizeof e->reason,
                 "The fleet's company network does not match the inventory (%s).", err);
        goto out;
    }
    if (ns > GW_EGRESS_MAX_SUBNETS)
        ns = GW_EGRESS_MAX_SUBNETS;
    for (int i = 0; i < ns; i++) {
        const struct wl_net_subnet *s = wl_net_subnet_find(inv, sv[i]);
        snprintf(e->subnets[i].id, sizeof e->subnets[i].id, "%s", s->id);
        e->subnets[i].source = s->source;
        atomic_init(&e->subnets[i].failed_until, 0);
    }
    e->nsubnets = ns;
    size_t total = 0;
    for (int i = 0; i < ng; i++)
        total += wl_net_group_find(inv, gv[i])->nrules;
    e->rules = calloc(total + 1, sizeof *e->rules);
    if (!e->rules)
        abort();
    for (int i = 0; i < ng; i++) {
        const struct wl_net_group *g = wl_net_group_find(inv, gv[i]);
        memcpy(e->rules + e->nrules, g->rules, g->nrules * sizeof *g->rules);
        e->nrules += g->nrules;
    }
out:
    free(sv);
    free(gv);
    json_decref(sdoc);
    json_decref(gdoc);
    wl_net_inventory_free(inv);
    return e;
}

void gw_egress_free(struct gw_egress *e)
{
    if (!e)
        return;
    free(e->rules);
    free(e);
}

const char *gw_egress_reason(const struct gw_egress *e)
{
    return e->reason[0] ? e->reason : NULL;
}

static int sa_prefix(const struct sockaddr *sa, struct wl_net_prefix *p, int *port)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        wl_net_prefix_from_addr(4, &s4->sin_addr, p);
        *port = ntohs(s4->sin_port);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        wl_net_prefix_from_addr(6, &s6->sin6_addr, p);
        *port = ntohs(s6->sin6_port);
        return 0;
    }
    return -1;
}

/* Ranges that a catch-all rule does not open: a rule must lie inside one to reach it. */
static const char *const guarded[] = {"169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128"};

static const struct wl_net_prefix *guarded_range(const struct wl_net_prefix *a)
{
    static struct wl_net_prefix g[sizeof guarded / sizeof guarded[0]];
    static _Atomic int ready;
    if (!atomic_load(&ready)) {
        for (size_t i = 0; i < sizeof guarded / sizeof guarded[0]; i++)
            wl_net_prefix_parse(guarded[i], &g[i]); /* idempotent: races write equal values */
        atomic_store(&ready, 1);
    }
    for (size_t i = 0; i < sizeof guarded / sizeof guarded[0]; i++)
        if (wl_net_prefix_contains(&g[i], a))
            return &g[i];
    return NULL;
}

int gw_egress_allow(const struct gw_egress *e, const struct sockaddr *sa, const char **why)
{
    struct wl_net_prefix a;
    int port;
    if (e->reason[0]) {
        *why = e->reason;
        return -1;
    }
    if (sa_prefix(sa, &a, &port) < 0) {
        *why = "The website's address is not an IP address.";
        return -1;
    }
    const struct wl_net_prefix *g = guarded_range(&a);
    bool port_ok = false;
    for (size_t i = 0; i < e->nrules; i++) {
        const struct wl_net_rule *r = &e->rules[i];
        if (r->proto == WL_NET_UDP || port < r->from_port || port > r->to_port)
            continue;
        if (!wl_net_prefix_contains(&r->cidr, &a))
            continue;
        port_ok = true;
        if (g && !wl_net_prefix_contains(g, &r->cidr))
            continue; /* a wider rule does not name a guarded range */
        return 0;
    }
    if (g && port_ok)
        *why = "The website resolves to a link-local or cloud metadata address, which the "
               "company network only allows when a rule names it.";
    else
        *why = "The company network's security groups do not allow this website's address.";
    return -1;
}

int gw_egress_source(struct gw_egress *e, int family, uint64_t tried, struct sockaddr_storage *out,
                     int *index)
{
    int want = family == AF_INET6 ? 6 : 4;
    if (e->reason[0] || e->nsubnets == 0)
        return -1;
    uint64_t start = atomic_fetch_add_explicit(&e->rr, 1, memory_order_relaxed);
    int64_t now = mono_ms();
    int pick = -1, fallback = -1;
    for (int k = 0; k < e->nsubnets; k++) {
        int i = (int)((start + (uint64_t)k) % (uint64_t)e->nsubnets);
        if ((tried >> i) & 1 || e->subnets[i].source.family != want)
            continue;
        if (atomic_load_explicit(&e->subnets[i].failed_until, memory_order_relaxed) > now) {
            if (fallback < 0)
                fallback = i;
            continue;
        }
        pick = i;
        break;
    }
    if (pick < 0)
        pick = fallback;
    if (pick < 0)
        return -1;
    memset(out, 0, sizeof *out);
    const struct wl_net_prefix *p = &e->subnets[pick].source;
    if (p->family == 4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)out;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, p->addr, 4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, p->addr, 16);
    }
    *index = pick;
    return 0;
}

void gw_egress_source_failed(struct gw_egress *e, int index)
{
    if (index >= 0 && index < e->nsubnets)
        atomic_store_explicit(&e->subnets[index].failed_until, mono_ms() + FAIL_MS,
                              memory_order_relaxed);
}

int gw_egress_nsubnets(const struct gw_egress *e)
{
    return e->nsubnets;
}

const char *gw_egress_subnet_id(const struct gw_egress *e, int index)
{
    return index >= 0 && index < e->nsubnets ? e->subnets[index].id : "";
}

void gw_egress_addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
    struct wl_net_prefix p = {.family = 4};
    int port = 0;
    char a[INET6_ADDRSTRLEN] = "?";
    if (sa_prefix(sa, &p, &port) == 0)
        inet_ntop(p.family == 4 ? AF_INET : AF_INET6, p.addr, a, sizeof a);
    snprintf(buf, len, p.family == 6 ? "[%s]:%d" : "%s:%d", a, port);
}

void gw_egress_normalise(struct sockaddr_storage *ss)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (ss->ss_family != AF_INET6)
        return;
    struct sockaddr_in6 s6;
    memcpy(&s6, ss, sizeof s6);
    if (memcmp(s6.sin6_addr.s6_addr, mapped, 12) != 0)
        return;
    struct sockaddr_in s4;
    memset(&s4, 0, sizeof s4);
    s4.sin_family = AF_INET;
    s4.sin_port = s6.sin6_port;
    memcpy(&s4.sin_addr, s6.sin6_addr.s6_addr + 12, 4);
    memset(ss, 0, sizeof *ss);
    memcpy(ss, &s4, sizeof s4);
}
