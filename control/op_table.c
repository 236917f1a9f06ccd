/* op_table.c - the table of every operation (op.h): 33 worklink operations + the ACM subset. */
#include "op.h"

#include "ops.h"

#include <string.h>

const struct ctl_op ctl_ops[] = {
    {"worklink", "AssociateDomain", ctl_op_associate_domain, false},
    {"worklink", "AssociateWebsiteAuthorizationProvider", ctl_op_associate_authp, false},
    {"worklink", "AssociateWebsiteCertificateAuthority", ctl_op_associate_website_ca, false},
    {"worklink", "CreateFleet", ctl_op_create_fleet, false},
    {"worklink", "DeleteFleet", ctl_op_delete_fleet, false},
    {"worklink", "DescribeAuditStreamConfiguration", ctl_op_describe_audit, true},
    {"worklink", "DescribeCompanyNetworkConfiguration", ctl_op_describe_network, true},
    {"worklink", "DescribeDevice", ctl_op_describe_device, true},
    {"worklink", "DescribeDevicePolicyConfiguration", ctl_op_describe_device_policy, true},
    {"worklink", "DescribeDomain", ctl_op_describe_domain, true},
    {"worklink", "DescribeFleetMetadata", ctl_op_describe_fleet_metadata, true},
    {"worklink", "DescribeIdentityProviderConfiguration", ctl_op_describe_idp, true},
    {"worklink", "DescribeWebsiteCertificateAuthority", ctl_op_describe_website_ca, true},
    {"worklink", "DisassociateDomain", ctl_op_disassociate_domain, false},
    {"worklink", "DisassociateWebsiteAuthorizationProvider", ctl_op_disassociate_authp, false},
    {"worklink", "DisassociateWebsiteCertificateAuthority", ctl_op_disassociate_website_ca, false},
    {"worklink", "ListDevices", ctl_op_list_devices, true},
    {"worklink", "ListDomains", ctl_op_list_domains, true},
    {"worklink", "ListFleets", ctl_op_list_fleets, true},
    {"worklink", "ListTagsForResource", ctl_op_list_tags, true},
    {"worklink", "ListWebsiteAuthorizationProviders", ctl_op_list_authps, true},
    {"worklink", "ListWebsiteCertificateAuthorities", ctl_op_list_website_cas, true},
    {"worklink", "RestoreDomainAccess", ctl_op_restore_domain_access, false},
    {"worklink", "RevokeDomainAccess", ctl_op_revoke_domain_access, false},
    {"worklink", "SignOutUser", ctl_op_sign_out_user, false},
    {"worklink", "TagResource", ctl_op_tag_resource, false},
    {"worklink", "UntagResource", ctl_op_untag_resource, false},
    {"worklink", "UpdateAuditStreamConfiguration", ctl_op_update_audit, false},
    {"worklink", "UpdateCompanyNetworkConfiguration", ctl_op_update_network, false},
    {"worklink", "UpdateDevicePolicyConfiguration", ctl_op_update_device_policy, false},
    {"worklink", "UpdateDomainMetadata", ctl_op_update_domain_metadata, false},
    {"worklink", "UpdateFleetMetadata", ctl_op_update_fleet_metadata, false},
    {"worklink", "UpdateIdentityProviderConfiguration", ctl_op_update_idp, false},
    {"acm", "ImportCertificate", ctl_op_acm_import, false},
    {"acm", "DescribeCertificate", ctl_op_acm_describe, true},
    {"acm", "ListCertificates", ctl_op_acm_list, true},
    {"acm", "GetCertificate", ctl_op_acm_get, true},
    {"acm", "DeleteCertificate", ctl_op_acm_delete, false},
    {NULL, NULL, NULL, false},
};

const char *ctl_in_str(const json_t *in, const char *name)
{
    return json_string_value(json_object_get(in, name));
}

json_t *ctl_tags_json(const json_t *h)
{
    return h != NULL ? json_deep_copy(h) : json_object();
}
