/* fuzz_inventory.c - the network inventory parser (common/network_inventory.c) on any bytes; when
 * the input parses, every id check and prefix containment runs on what was read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "network_inventory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wl_net_inventory *inv = NULL;
    char err[300];
    if (wl_net_inventory_parse((const char *)data, size, &inv, err, sizeof err) < 0) {
        if (inv != NULL || memchr(err, '\0', sizeof err) == NULL)
            abort(); /* a refusal leaves nothing behind and a terminated message */
        return 0;
    }
    const char *sn[4] = {0}, *sg[4] = {0};
    size_t ns = 0, ng = 0;
    for (size_t i = 0; i < inv->nsubnets && ns < 4; i++)
        sn[ns++] = inv->subnets[i].id;
    for (size_t i = 0; i < inv->ngroups && ng < 4; i++)
        sg[ng++] = inv->groups[i].id;
    for (size_t v = 0; v < inv->nvpcs; v++)
        (void)wl_net_check(inv, inv->vpcs[v], sn, ns, sg, ng, err, sizeof err);
    for (size_t i = 0; i < inv->nsubnets; i++) {
        if (!wl_net_prefix_contains(&inv->subnets[i].cidr, &inv->subnets[i].source))
            abort(); /* the parser promised source_address inside cidr */
        for (size_t g = 0; g < inv->ngroups; g++)
            for (size_t r = 0; r < inv->groups[g].nrules; r++)
                (void)wl_net_prefix_contains(&inv->groups[g].rules[r].cidr,
                                             &inv->subnets[i].source);
    }
    wl_net_inventory_free(inv);
    return 0;
}
