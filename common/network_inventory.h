/* network_inventory.h - the company network inventory file (deploy/network.md) shared by control
 * (UpdateCompanyNetworkConfiguration validation) and the gateway (egress rules, source addresses).
 *
 * The file is JSON: {"vpcs": [{"id"}], "subnets": [{"id", "vpc", "cidr", "source_address"}],
 * "security_groups": [{"id", "vpc", "egress": [{"protocol", "from_port", "to_port", "cidr"}]}]}.
 * A loaded inventory is immutable: any thread may read it. No I/O but the file read. */
#ifndef WL_NETWORK_INVENTORY_H
#define WL_NETWORK_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WL_NET_MAX_ITEMS 1024 /* per list (vpcs, subnets, groups); rules per group */
#define WL_NET_MAX_FILE (4 * 1024 * 1024)

/* An IPv4 or IPv6 prefix. IPv4 is kept as family 4 (never as a mapped IPv6 address). */
struct wl_net_prefix {
    int family; /* 4 or 6 */
    uint8_t addr[16];
    int len; /* prefix length in bits */
};

enum wl_net_proto { WL_NET_TCP, WL_NET_UDP, WL_NET_ALL };

struct wl_net_rule {
    enum wl_net_proto proto;
    int from_port, to_port; /* inclusive; 0..65535 */
    struct wl_net_prefix cidr;
};

struct wl_net_subnet {
    char id[64];
    char vpc[64];
    struct wl_net_prefix cidr;
    struct wl_net_prefix source; /* a full-length prefix: the address to bind */
    char source_text[64];
};

struct wl_net_group {
    char id[64];
    char vpc[64];
    struct wl_net_rule *rules;
    size_t nrules;
};

struct wl_net_inventory {
    char (*vpcs)[64];
    size_t nvpcs;
    struct wl_net_subnet *subnets;
    size_t nsubnets;
    struct wl_net_group *groups;
    size_t ngroups;
};

/* Reads and validates the file at path into a new inventory (*out, free with
 * wl_net_inventory_free). Returns 0, or -1 with a one-line reason naming the bad entry in err. */
int wl_net_inventory_load(const char *path, struct wl_net_inventory **out, char *err,
                          size_t errlen);
/* Same from a buffer (tests, fuzzing). Borrows data. */
int wl_net_inventory_parse(const char *data, size_t len, struct wl_net_inventory **out, char *err,
                           size_t errlen);
void wl_net_inventory_free(struct wl_net_inventory *inv); /* NULL is fine */

/* Borrowed lookups; NULL when the id is unknown. */
const struct wl_net_subnet *wl_net_subnet_find(const struct wl_net_inventory *inv, const char *id);
const struct wl_net_group *wl_net_group_find(const struct wl_net_inventory *inv, const char *id);
bool wl_net_vpc_exists(const struct wl_net_inventory *inv, const char *id);

/* Checks a fleet's choice: the VPC exists, the lists are non-empty, every subnet and group exists
 * and belongs to the VPC. Returns 0, or -1 with a message naming the bad id in err. */
int wl_net_check(const struct wl_net_inventory *inv, const char *vpc, const char *const *subnets,
                 size_t nsubnets, const char *const *groups, size_t ngroups, char *err,
                 size_t errlen);

/* Parses "a.b.c.d/n", "x::y/n" or a bare address (full length). IPv4-mapped IPv6 is normalised
 * to IPv4 (the prefix length minus 96). Returns 0 or -1. */
int wl_net_prefix_parse(const char *s, struct wl_net_prefix *out);
/* Makes a full-length prefix from a raw address (4 or 16 bytes); mapped IPv6 becomes IPv4. */
void wl_net_prefix_from_addr(int family, const void *addr, struct wl_net_prefix *out);
/* True when addr (a full-length prefix) lies inside p (same family). */
bool wl_net_prefix_contains(const struct wl_net_prefix *p, const struct wl_net_prefix *addr);

#endif
