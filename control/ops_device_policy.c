/* ops_device_policy.c - UpdateDevicePolicyConfiguration, DescribeDevicePolicyConfiguration.
 *
 * The device policy is the PEM chain in the fleet's `device_ca` field: when present, gateways
 * require device client certificates that chain to it. Every certificate of the chain is
 * parsed with OpenSSL before it is stored; an update without DeviceCaCertificate removes it. */
#include "ops.h"

#include <string.h>

#include "acm_cert.h"
#include "store.h"

int ctl_op_update_device_policy(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    const char *pem = ctl_in_str(in, "DeviceCaCertificate");
    if (pem != NULL && ctl_cert_chain_parse(pem, strlen(pem), NULL) < 1)
        return ctl_error(ctx, "InvalidRequestException",
                         "DeviceCaCertificate must be a chain of valid PEM X.509 certificates");
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_LIVE, &f) < 0)
        return -1;
    const char *fields[1] = {"device_ca"};
    const char *values[1] = {pem};
    int rc = ctl_fleet_set(ctx, &f, "device_policy", pem ? "update" : "delete", 1, fields, values);
    ctl_fleet_dispose(&f);
    *out = NULL;
    return rc;
}

int ctl_op_describe_device_policy(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_ANY, &f) < 0)
        return -1;
    *out = json_object();
    if (ctl_hstr(f.h, "device_ca") != NULL)
        json_object_set_new(*out, "DeviceCaCertificate", json_string(ctl_hstr(f.h, "device_ca")));
    ctl_fleet_dispose(&f);
    return 0;
}
