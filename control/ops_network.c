/* ops_network.c - UpdateCompanyNetworkConfiguration, DescribeCompanyNetworkConfiguration.
 *
 * Stores the VPC, subnets and security groups the gateway uses for egress (fleet fields
 * `vpc_id`, `subnet_ids`, `security_group_ids`; lists as JSON arrays). Checking the ids
 * against the network inventory file (cfg->network) is the job of network_check() below. */
#include "ops.h"

#include <stdlib.h>
#include <string.h>

#include "network_inventory.h"
#include "store.h"

/* The network inventory check (--network): refuses an unknown VPC, unknown ids, subnets or
 * groups of another VPC and empty lists with InvalidRequestException naming the bad id. Without
 * an inventory everything the model allows is accepted. Borrows everything. */
static int network_check(struct ctl_ctx *ctx, const char *vpc, const json_t *subnets,
                         const json_t *sgs)
{
    const struct wl_net_inventory *inv = ctx->cfg->network;
    if (inv == NULL)
        return 0;
    size_t ns = json_array_size(subnets), ng = json_array_size(sgs);
    const char **sv = calloc(ns + 1, sizeof *sv), **gv = calloc(ng + 1, sizeof *gv);
    if (sv == NULL || gv == NULL)
        abort();
    for (size_t i = 0; i < ns; i++)
        sv[i] = json_string_value(json_array_get(subnets, i));
    for (size_t i = 0; i < ng; i++)
        gv[i] = json_string_value(json_array_get(sgs, i));
    char err[300];
    int rc = wl_net_check(inv, vpc, sv, ns, gv, ng, err, sizeof err);
    free(sv);
    free(gv);
    if (rc < 0)
        return ctl_error(ctx, "InvalidRequestException", "%s", err);
    return 0;
}

static int string_list(struct ctl_ctx *ctx, const json_t *v, const char *member)
{
    size_t i;
    json_t *e;
    if (!json_is_array(v))
        return ctl_error(ctx, "InvalidRequestException", "%s must be a list of ids", member);
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e))
            return ctl_error(ctx, "InvalidRequestException", "%s must be a list of ids", member);
    }
    return 0;
}

int ctl_op_update_network(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    const char *vpc = ctl_in_str(in, "VpcId");
    json_t *subnets = json_object_get(in, "SubnetIds");
    json_t *sgs = json_object_get(in, "SecurityGroupIds");
    char *sub_s = NULL, *sg_s = NULL;
    int rc = -1;
    if (vpc == NULL)
        return ctl_error(ctx, "InvalidRequestException", "VpcId is required");
    if (string_list(ctx, subnets, "SubnetIds") < 0 || string_list(ctx, sgs, "SecurityGroupIds") < 0)
        return -1;
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_LIVE, &f) < 0)
        return -1;
    if (network_check(ctx, vpc, subnets, sgs) < 0)
        goto out;
    sub_s = json_dumps(subnets, JSON_COMPACT);
    sg_s = json_dumps(sgs, JSON_COMPACT);
    if (sub_s == NULL || sg_s == NULL)
        abort();
    const char *fields[3] = {"vpc_id", "subnet_ids", "security_group_ids"};
    const char *values[3] = {vpc, sub_s, sg_s};
    rc = ctl_fleet_set(ctx, &f, "network", "update", 3, fields, values);
    *out = NULL;
out:
    free(sub_s);
    free(sg_s);
    ctl_fleet_dispose(&f);
    return rc;
}

int ctl_op_describe_network(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    static const char *const map[][2] = {{"subnet_ids", "SubnetIds"},
                                         {"security_group_ids", "SecurityGroupIds"}};
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_ANY, &f) < 0)
        return -1;
    *out = json_object();
    if (ctl_hstr(f.h, "vpc_id") != NULL)
        json_object_set_new(*out, "VpcId", json_string(ctl_hstr(f.h, "vpc_id")));
    for (size_t i = 0; i < 2; i++) {
        const char *s = ctl_hstr(f.h, map[i][0]);
        json_t *v = s ? json_loads(s, 0, NULL) : NULL;
        if (json_is_array(v))
            json_object_set_new(*out, map[i][1], v);
        else
            json_decref(v);
    }
    ctl_fleet_dispose(&f);
    return 0;
}
