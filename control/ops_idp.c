/* ops_idp.c - UpdateIdentityProviderConfiguration, DescribeIdentityProviderConfiguration.
 *
 * The IdP metadata is checked with the SAML core's parser (gateway/saml), the same one the
 * gateway signs in with, so what control accepts is what sign-in can use.
 * The fleet's service-provider side is generated here with wl_saml (gateway/saml): a per-fleet
 * RSA-2048 signing key and self-signed certificate (RSA-SHA256 redirect signatures are what every
 * IdP verifies; the key envelope-sealed with aad "F/sp") and the SP metadata: EntityDescriptor
 * entityID = <gateway base>/saml/metadata, SPSSODescriptor with a signing KeyDescriptor and the
 * HTTP-POST AssertionConsumerService <gateway base>/saml/acs. The gateway base is
 * cfg->gateway_url_base with "%s" replaced by the fleet name. */
#include "ops.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "saml.h"
#include "store.h"

#define DEFAULT_BASE "https://%s.gateway.worklink.local"
#define SP_CERT_DAYS 3650

/* Checks the IdP metadata with the SAML core (the parser the gateway signs in with): well-formed,
 * no DTD, an IDPSSODescriptor with a SingleSignOnService and at least one X.509 signing
 * certificate. 0, or -1 after ctl_error(InvalidRequestException) carrying the parser's detail. */
static int idp_metadata_check(struct ctl_ctx *ctx, const char *xml)
{
    struct wl_saml_idp *idp = NULL;
    char detail[WL_SAML_DETAIL_MAX];
    if (wl_saml_idp_parse(xml, strlen(xml), &idp, detail, sizeof detail) != 0)
        return ctl_error(ctx, "InvalidRequestException", "IdentityProviderSamlMetadata: %s",
                         detail);
    wl_saml_idp_free(idp);
    return 0;
}

/* The gateway base URL of fleet F (cfg->gateway_url_base with "%s" -> F). New string. */
static char *gateway_base(const struct ctl_ctx *ctx, const char *fleet)
{
    const char *tmpl = ctx->cfg->gateway_url_base[0] ? ctx->cfg->gateway_url_base : DEFAULT_BASE;
    const char *pct = strstr(tmpl, "%s");
    char *s = NULL;
    int n = pct ? asprintf(&s, "%.*s%s%s", (int)(pct - tmpl), tmpl, fleet, pct + 2)
                : asprintf(&s, "%s", tmpl);
    if (n < 0)
        abort();
    while (n > 0 && s[n - 1] == '/')
        s[--n] = '\0';
    return s;
}

int ctl_op_update_idp(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    const char *type = ctl_in_str(in, "IdentityProviderType");
    const char *idp = ctl_in_str(in, "IdentityProviderSamlMetadata");
    char *base = NULL, *entity = NULL, *acs = NULL, *md = NULL;
    char *cert = NULL, *key = NULL, *sealed = NULL, aad[80], detail[WL_SAML_DETAIL_MAX];
    int rc = -1;
    if (wl_saml_global_init() != 0)
        return ctl_error(ctx, "InternalServerErrorException", "SAML library initialisation failed");
    if (type == NULL || strcmp(type, "SAML") != 0)
        return ctl_error(ctx, "InvalidRequestException", "IdentityProviderType must be SAML");
    if (idp != NULL && idp_metadata_check(ctx, idp) < 0)
        return -1;
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_LIVE, &f) < 0)
        return -1;
    snprintf(aad, sizeof aad, "%s/sp", f.name);
    if (ctl_hstr(f.h, "sp_cert") != NULL && ctl_hstr(f.h, "sp_key") != NULL) {
        cert = strdup(ctl_hstr(f.h, "sp_cert"));
        sealed = strdup(ctl_hstr(f.h, "sp_key"));
        if (cert == NULL || sealed == NULL)
            abort();
    } else {
        char cn[96];
        snprintf(cn, sizeof cn, "worklink-sp-%s", f.name);
        if (wl_saml_sp_credentials_new(cn, SP_CERT_DAYS, &key, &cert, detail, sizeof detail) != 0) {
            ctl_error(ctx, "InternalServerErrorException", "cannot generate the SP certificate");
            goto out;
        }
        sealed = wl_envelope_seal(&ctx->cfg->master_key, key, strlen(key), aad);
        if (sealed == NULL) {
            ctl_error(ctx, "InternalServerErrorException", "cannot seal the SP key");
            goto out;
        }
    }
    base = gateway_base(ctx, f.name);
    if (asprintf(&entity, "%s/saml/metadata", base) < 0 || asprintf(&acs, "%s/saml/acs", base) < 0)
        abort();
    md = wl_saml_sp_metadata(entity, acs, cert, detail, sizeof detail);
    if (md == NULL) {
        ctl_error(ctx, "InternalServerErrorException", "cannot write the SP metadata");
        goto out;
    }
    const char *fields[7] = {"idp_type", "idp_metadata", "sp_metadata", "sp_key",
                             "sp_cert",  "sp_entity_id", "sp_acs_url"};
    const char *values[7] = {type, idp, md, sealed, cert, entity, acs};
    rc = ctl_fleet_set(ctx, &f, "idp", "update", 7, fields, values);
    *out = NULL;
out:
    if (key != NULL)
        OPENSSL_cleanse(key, strlen(key));
    free(key);
    free(sealed);
    free(cert);
    free(md);
    free(entity);
    free(acs);
    free(base);
    ctl_fleet_dispose(&f);
    return rc;
}

int ctl_op_describe_idp(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    static const char *const map[][2] = {
        {"idp_type", "IdentityProviderType"},
        {"sp_metadata", "ServiceProviderSamlMetadata"},
        {"idp_metadata", "IdentityProviderSamlMetadata"},
    };
    struct ctl_fleet f;
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_ANY, &f) < 0)
        return -1;
    *out = json_object();
    for (size_t i = 0; i < 3; i++)
        if (ctl_hstr(f.h, map[i][0]) != NULL)
            json_object_set_new(*out, map[i][1], json_string(ctl_hstr(f.h, map[i][0])));
    ctl_fleet_dispose(&f);
    return 0;
}
