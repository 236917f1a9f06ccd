/* ops_audit.c - UpdateAuditStreamConfiguration, DescribeAuditStreamConfiguration.
 *
 * The fleet's `audit_stream_arn` names the Redis Stream gateways append audit events to (the
 * stream is named after the ARN); an update without AuditStreamArn turns auditing off. */
#include "ops.h"

#include "store.h"

int ctl_op_update_audit(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    const char *arn = ctl_in_str(in, "AuditStreamArn");
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_LIVE, &f) < 0)
        return -1;
    const char *fields[1] = {"audit_stream_arn"};
    const char *values[1] = {arn};
    int rc = ctl_fleet_set(ctx, &f, "audit", arn ? "update" : "delete", 1, fields, values);
    ctl_fleet_dispose(&f);
    *out = NULL;
    return rc;
}

int ctl_op_describe_audit(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_ANY, &f) < 0)
        return -1;
    *out = json_object();
    if (ctl_hstr(f.h, "audit_stream_arn") != NULL)
        json_object_set_new(*out, "AuditStreamArn", json_string(ctl_hstr(f.h, "audit_stream_arn")));
    ctl_fleet_dispose(&f);
    return 0;
}
