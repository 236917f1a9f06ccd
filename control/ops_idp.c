/* ops_idp.c - UpdateIdentityProviderConfiguration, DescribeIdentityProviderConfiguration.
 *
 * The IdP metadata is parsed with libxml2 just enough to refuse what is not SAML IdP metadata
 * (not well-formed XML, a DTD, no md:IDPSSODescriptor); full SAML handling is the gateway's.
 * The fleet's service-provider side is generated here: a per-fleet EC P-256 signing key and
 * self-signed certificate (OpenSSL; the key envelope-sealed with aad "F/sp") and the SP metadata
 * (libxml2): EntityDescriptor entityID = <gateway base>/saml/metadata, SPSSODescriptor with a
 * signing KeyDescriptor and the HTTP-POST AssertionConsumerService <gateway base>/saml/acs. The
 * gateway base is cfg->gateway_url_base with "%s" replaced by the fleet name. */
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
#include "store.h"

#define MD_NS "urn:oasis:names:tc:SAML:2.0:metadata"
#define DS_NS "http://www.w3.org/2000/09/xmldsig#"
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

static char *bio_string(BIO *b)
{
    char *data = NULL;
    long len = BIO_get_mem_data(b, &data);
    return len > 0 ? strndup(data, (size_t)len) : NULL;
}

/* A new self-signed SP certificate and key (PEM strings). Returns 0 or -1. */
static int sp_generate(const char *fleet, char **cert_pem, char **key_pem)
{
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
    BIGNUM *serial = BN_new();
    char cn[96];
    int rc = -1;
    if (pk == NULL || x == NULL || cb == NULL || kb == NULL || serial == NULL)
        goto out;
    snprintf(cn, sizeof cn, "worklink-sp-%s", fleet);
    X509_NAME *name = X509_get_subject_name(x);
    if (X509_set_version(x, 2) != 1 ||
        BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
        BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) == NULL ||
        X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), SP_CERT_DAYS, 0, NULL) == NULL ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, pk) != 1 ||
        X509_sign(x, pk, EVP_sha256()) <= 0 || PEM_write_bio_X509(cb, x) != 1 ||
        PEM_write_bio_PrivateKey(kb, pk, NULL, NULL, 0, NULL, NULL) != 1)
        goto out;
    *cert_pem = bio_string(cb);
    *key_pem = bio_string(kb);
    if (*cert_pem == NULL || *key_pem == NULL) {
        free(*cert_pem);
        free(*key_pem);
        goto out;
    }
    rc = 0;
out:
    BN_free(serial);
    BIO_free(cb);
    BIO_free(kb);
    X509_free(x);
    EVP_PKEY_free(pk);
    return rc;
}

/* The base64 DER body of a PEM certificate (the text between the armour lines, no newlines).
 * New string or NULL. */
static char *pem_body(const char *pem)
{
    const char *b = strstr(pem, "-----BEGIN CERTIFICATE-----");
    const char *e = strstr(pem, "-----END CERTIFICATE-----");
    if (b == NULL || e == NULL || e < b)
        return NULL;
    b += strlen("-----BEGIN CERTIFICATE-----");
    char *out = malloc((size_t)(e - b) + 1), *o = out;
    if (out == NULL)
        abort();
    for (; b < e; b++)
        if (*b != '\n' && *b != '\r')
            *o++ = *b;
    *o = '\0';
    return out;
}

/* SP metadata XML (new string). */
static char *sp_metadata(const char *entity_id, const char *acs, const char *cert_pem)
{
    char *body = pem_body(cert_pem);
    xmlChar *mem = NULL;
    int len = 0;
    char *s = NULL;
    if (body == NULL)
        return NULL;
    xmlDoc *doc = xmlNewDoc((const xmlChar *)"1.0");
    xmlNode *ed = xmlNewNode(NULL, (const xmlChar *)"EntityDescriptor");
    xmlNs *md = xmlNewNs(ed, (const xmlChar *)MD_NS, (const xmlChar *)"md");
    xmlSetNs(ed, md);
    xmlDocSetRootElement(doc, ed);
    xmlNewProp(ed, (const xmlChar *)"entityID", (const xmlChar *)entity_id);
    xmlNode *sp = xmlNewChild(ed, md, (const xmlChar *)"SPSSODescriptor", NULL);
    xmlNewProp(sp, (const xmlChar *)"AuthnRequestsSigned", (const xmlChar *)"true");
    xmlNewProp(sp, (const xmlChar *)"WantAssertionsSigned", (const xmlChar *)"true");
    xmlNewProp(sp, (const xmlChar *)"protocolSupportEnumeration",
               (const xmlChar *)"urn:oasis:names:tc:SAML:2.0:protocol");
    xmlNode *kd = xmlNewChild(sp, md, (const xmlChar *)"KeyDescriptor", NULL);
    xmlNewProp(kd, (const xmlChar *)"use", (const xmlChar *)"signing");
    xmlNode *ki = xmlNewChild(kd, NULL, (const xmlChar *)"KeyInfo", NULL);
    xmlNs *ds = xmlNewNs(ki, (const xmlChar *)DS_NS, (const xmlChar *)"ds");
    xmlSetNs(ki, ds);
    xmlNode *xd = xmlNewChild(ki, ds, (const xmlChar *)"X509Data", NULL);
    xmlNewTextChild(xd, ds, (const xmlChar *)"X509Certificate", (const xmlChar *)body);
    xmlNewTextChild(sp, md, (const xmlChar *)"NameIDFormat",
                    (const xmlChar *)"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified");
    xmlNode *acsn = xmlNewChild(sp, md, (const xmlChar *)"AssertionConsumerService", NULL);
    xmlNewProp(acsn, (const xmlChar *)"Binding",
               (const xmlChar *)"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST");
    xmlNewProp(acsn, (const xmlChar *)"Location", (const xmlChar *)acs);
    xmlNewProp(acsn, (const xmlChar *)"index", (const xmlChar *)"0");
    xmlNewProp(acsn, (const xmlChar *)"isDefault", (const xmlChar *)"true");
    xmlDocDumpFormatMemoryEnc(doc, &mem, &len, "UTF-8", 1);
    if (mem != NULL)
        s = strndup((const char *)mem, (size_t)len);
    xmlFree(mem);
    xmlFreeDoc(doc);
    free(body);
    return s;
}

int ctl_op_update_idp(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    const char *type = ctl_in_str(in, "IdentityProviderType");
    const char *idp = ctl_in_str(in, "IdentityProviderSamlMetadata");
    char *base = NULL, *entity = NULL, *acs = NULL, *md = NULL;
    char *cert = NULL, *key = NULL, *sealed = NULL, aad[80];
    int rc = -1;
    pthread_once(&xml_once, xml_init);
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
        if (sp_generate(f.name, &cert, &key) < 0) {
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
    md = sp_metadata(entity, acs, cert);
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
