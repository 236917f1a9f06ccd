/* egress.h - the company-network egress policy of a fleet (issue 6): which resolved origin
 * addresses a gateway may connect to (the union of the fleet's security groups' egress rules)
 * and which local source address (one per subnet) it binds to.
 *
 * A policy is built by the config thread for each snapshot and is immutable but for the source
 * rotation and failure marks (relaxed atomics), so every worker may use it without a lock. No I/O
 * but reading the inventory file in gw_egress_new. */
#ifndef GW_EGRESS_H
#define GW_EGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define GW_EGRESS_MAX_SUBNETS 64

struct gw_egress;

/* Builds the policy of a fleet from the inventory file `inventory` and the fleet hash fields
 * `vpc_id`, `subnet_ids`, `security_group_ids` (JSON arrays as control stores them; any may be
 * NULL). Never returns NULL: when the fleet has no network, or the inventory cannot be read, or
 * the fleet names ids the inventory lacks, the policy refuses every address and
 * gw_egress_reason() says why (fail closed). Returns a new object; borrows its arguments. */
struct gw_egress *gw_egress_new(const char *inventory, const char *vpc_id, const char *subnet_ids,
                                const char *security_group_ids);
void gw_egress_free(struct gw_egress *e); /* NULL is fine */

/* Why everything is refused (borrowed), or NULL when the policy is usable. */
const char *gw_egress_reason(const struct gw_egress *e);

/* Decides whether a TCP connection to sa (AF_INET or AF_INET6 with the port set) is allowed.
 * IPv4-mapped IPv6 addresses are judged as IPv4. Link-local (169.254.0.0/16, fe80::/10) and
 * cloud metadata addresses (169.254.169.254, fd00:ec2::254) are allowed only by a rule whose
 * CIDR lies entirely inside such a range (0.0.0.0/0 does not name them). Returns 0 when
 * allowed, -1 with a borrowed reason in *why. Any thread. */
int gw_egress_allow(const struct gw_egress *e, const struct sockaddr *sa, const char **why);

/* Picks the source address to bind for a connection to an address of `family` (AF_INET or
 * AF_INET6): the next subnet in rotation, skipping subnets whose bit is set in `tried` and
 * subnets that failed recently (unless nothing else is left). Writes the address (port 0) and
 * the subnet index. Returns 0, or -1 when no subnet of that family is left. Any thread. */
int gw_egress_source(struct gw_egress *e, int family, uint64_t tried, struct sockaddr_storage *out,
                     int *index);
/* Marks subnet `index` as failing for a while (bind or network errors). Any thread. */
void gw_egress_source_failed(struct gw_egress *e, int index);
/* The number of subnets of the policy. */
int gw_egress_nsubnets(const struct gw_egress *e);
/* The id of subnet `index` (borrowed; "" when out of range). */
const char *gw_egress_subnet_id(const struct gw_egress *e, int index);

/* The textual form of the address and the port of sa, normalised (mapped IPv6 as IPv4). */
void gw_egress_addr_text(const struct sockaddr *sa, char *buf, size_t len);

/* Rewrites an IPv4-mapped IPv6 socket address (::ffff:a.b.c.d) as AF_INET in place. */
void gw_egress_normalise(struct sockaddr_storage *ss);

#endif
