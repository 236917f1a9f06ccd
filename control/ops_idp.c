/* ops_idp.c - UpdateIdentityProviderConfiguration, DescribeIdentityProviderConfiguration.
 *
 * The IdP metadata is parsed with libxml2 just enough to refuse what is not SAML IdP metadata
 * (not well-formed XML, a DTD, no md:IDPSSODescriptor); full SAML handling is the gateway's.
 * The fleet's service-provider side is generated here with wl_saml (gateway/saml): a per-fleet
 * RSA-2048 signing key and self-signed certificate (RSA-SHA256 redirect signatures are what every
 * IdP verifies; the key envelope-sealed with aad "F/sp") and the SP metadata: EntityDescriptor
 * entityID = <gateway base>/saml/metadata, SPSSODescriptor with a signing KeyDescriptor and the
 * HTTP-POST AssertionConsumerService <gateway base>/saml/acs. The gateway base is
 * cfg->gateway_url_base with "%s" replaced by the fleet name. */
#include "ops.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
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

#define MD_NS "urn:oasis:names:tc:SAML:2.0:metadata"
#define DEFAULT_BASE "https://%s.gateway.worklink.local"
#define SP_CERT_DAYS 3650

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
    xmlInitParser();
}

static int has_idp_descriptor(const xmlNode *n)
{
    for (; n != NULL; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (xmlStrcmp(n->name, (const xmlChar *)"IDPSSODescriptor") == 0 && n->ns != NULL &&
            xmlStrcmp(n->ns->href, (const xmlChar *)MD_NS) == 0)
            return 1;
        if (has_idp_descriptor(n->children))
            return 1;
    }
    return 0;
}

/* Checks the IdP metadata; 0 or -1 after ctl_error(InvalidRequestException). */
static int idp_metadata_check(struct ctl_ctx *ctx, const char *xml)
{
    size_t len = strlen(xml);
    xmlDoc *doc = xmlReadMemory(xml, (int)len, "idp-metadata.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    int rc = 0;
    if (doc == NULL)
        return ctl_error(ctx, "InvalidRequestException",
                         "IdentityProviderSamlMetadata is not well-formed XML");
    if (doc->intSubset != NULL || doc->extSubset != NULL)
        rc = ctl_error(ctx, "InvalidRequestException",
                       "IdentityProviderSamlMetadata must not contain a DTD");
    else if (!has_idp_descriptor(xmlDocGetRootElement(doc)))
        rc = ctl_error(ctx, "InvalidRequestException",
                       "IdentityProviderSamlMetadata has no md:IDPSSODescriptor element (namespace "
                       "%s)",
                       MD_NS);
    xmlFreeDoc(doc);
    return rc;
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
    pthread_once(&xml_once, xml_init);
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
