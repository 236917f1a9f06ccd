/* ops.h - the operations of op_table.c (each follows ctl_op_fn in op.h) and small helpers shared
 * by the ops_*.c and acm_*.c files. */
#ifndef CTL_OPS_H
#define CTL_OPS_H

#include <jansson.h>

#include "op.h"

/* worklink: fleets (ops_fleet.c) */
int ctl_op_create_fleet(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_delete_fleet(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_describe_fleet_metadata(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_update_fleet_metadata(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_list_fleets(struct ctl_ctx *ctx, json_t *in, json_t **out);

/* domains (ops_domain.c) */
int ctl_op_associate_domain(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_describe_domain(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_list_domains(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_update_domain_metadata(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_revoke_domain_access(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_restore_domain_access(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_disassociate_domain(struct ctl_ctx *ctx, json_t *in, json_t **out);

/* website certificate authorities (ops_ca.c) */
int ctl_op_associate_website_ca(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_describe_website_ca(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_list_website_cas(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_disassociate_website_ca(struct ctl_ctx *ctx, json_t *in, json_t **out);

/* device policy (ops_device_policy.c) */
int ctl_op_update_device_policy(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_describe_device_policy(struct ctl_ctx *ctx, json_t *in, json_t **out);

/* identity provider (ops_idp.c) */
int ctl_op_update_idp(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_describe_idp(struct ctl_ctx *ctx, json_t *in, json_t **out);

/* company network (ops_network.c) */
int ctl_op_update_network(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_describe_network(struct ctl_ctx *ctx, json_t *in, json_t **out);

/* audit stream (ops_audit.c) */
int ctl_op_update_audit(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_describe_audit(struct ctl_ctx *ctx, json_t *in, json_t **out);

/* website authorization providers (ops_authp.c) */
int ctl_op_associate_authp(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_list_authps(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_disassociate_authp(struct ctl_ctx *ctx, json_t *in, json_t **out);

/* tags (ops_tags.c) */
int ctl_op_tag_resource(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_untag_resource(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_list_tags(struct ctl_ctx *ctx, json_t *in, json_t **out);

/* devices and users (ops_device.c) */
int ctl_op_list_devices(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_describe_device(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_sign_out_user(struct ctl_ctx *ctx, json_t *in, json_t **out);

/* acm: certificate store (acm_ops.c) */
int ctl_op_acm_import(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_acm_describe(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_acm_list(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_acm_get(struct ctl_ctx *ctx, json_t *in, json_t **out);
int ctl_op_acm_delete(struct ctl_ctx *ctx, json_t *in, json_t **out);

/* The string value of input member `name`, or NULL when absent or not a string. Borrowed. */
const char *ctl_in_str(const json_t *in, const char *name);

/* A new JSON object holding every field of a Redis hash loaded as JSON (tags), or an empty one. */
json_t *ctl_tags_json(const json_t *h);

#endif
