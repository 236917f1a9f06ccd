/* saml_idp.c - IdP metadata parsing and validation. */
#include "saml_internal.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#define MAX_METADATA (1024 * 1024)
#define MAX_CERTS 8
#define MAX_URL 2048
#define MAX_ENTITY_ID 1024

void wl_saml_idp_free(struct wl_saml_idp *idp)
{
    if (!idp)
        return;
    free(idp->entity_id);
    free(idp->sso_url);
    for (size_t i = 0; i < idp->cert_count; i++)
        free(idp->certs[i].der);
    free(idp->certs);
    free(idp);
}

const char *wl_saml_idp_entity_id(const struct wl_saml_idp *idp)
{
    return idp->entity_id;
}

const char *wl_saml_idp_sso_url(const struct wl_saml_idp *idp)
{
    return idp->sso_url;
}

enum wl_saml_binding wl_saml_idp_sso_binding(const struct wl_saml_idp *idp)
{
    return idp->binding;
}

int wl_saml_idp_wants_signed_requests(const struct wl_saml_idp *idp)
{
    return idp->want_signed;
}

size_t wl_saml_idp_cert_count(const struct wl_saml_idp *idp)
{
    return idp->cert_count;
}

/* A URL we may redirect a device to: http(s)://, printable ASCII, no spaces, bounded. */
static int url_ok(const char *u)
{
    if (!u || (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0))
        return 0;
    size_t n = strlen(u);
    if (n > MAX_URL || n <= 8)
        return 0;
    for (const char *p = u; *p; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '"' || *p == '<' ||
            *p == '>' || *p == '\\')
            return 0;
    }
    return 1;
}

static int is_true(const char *v)
{
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* Validates one base64 X.509 certificate and appends it to idp->certs. */
static int add_cert(struct wl_saml_idp *idp, const xmlNode *node, char *detail, size_t detail_len)
{
    char *b64 = saml_text(node, 1);
    if (!b64)
        return saml_fail(detail, detail_len, WL_SAML_E_CERT,
                         "IdP metadata: X509Certificate %zu is malformed", idp->cert_count + 1);
    size_t der_len = 0;
    unsigned char *der = saml_b64_decode(b64, strlen(b64), &der_len);
    free(b64);
    if (!der)
        return saml_fail(detail, detail_len, WL_SAML_E_CERT,
                         "IdP metadata: X509Certificate %zu is not base64", idp->cert_count + 1);
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)der_len);
    if (!x || p != der + der_len) {
        X509_free(x);
        free(der);
        return saml_fail(detail, detail_len, WL_SAML_E_CERT,
                         "IdP metadata: X509Certificate %zu is not an X.509 certificate",
                         idp->cert_count + 1);
    }
    EVP_PKEY *pk = X509_get0_pubkey(x);
    int type = pk ? EVP_PKEY_get_base_id(pk) : 0;
    int bits = pk ? EVP_PKEY_get_bits(pk) : 0;
    X509_free(x);
    if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
        free(der);
        return saml_fail(detail, detail_len, WL_SAML_E_CERT,
                         "IdP metadata: certificate %zu has no RSA or EC public key",
                         idp->cert_count + 1);
    }
    if (type == EVP_PKEY_RSA && bits < 2048) {
        free(der);
        return saml_fail(detail, detail_len, WL_SAML_E_CERT,
                         "IdP metadata: certificate %zu has a %d-bit RSA key (2048 at least)",
                         idp->cert_count + 1, bits);
    }
    if (idp->cert_count == MAX_CERTS) {
        free(der);
        return saml_fail(detail, detail_len, WL_SAML_E_METADATA,
                         "IdP metadata: more than %d signing certificates", MAX_CERTS);
    }
    struct saml_cert *nc = realloc(idp->certs, (idp->cert_count + 1) * sizeof *nc);
    if (!nc) {
        free(der);
        return saml_fail(detail, detail_len, WL_SAML_E_INTERNAL, "out of memory");
    }
    idp->certs = nc;
    idp->certs[idp->cert_count].der = der;
    idp->certs[idp->cert_count].len = der_len;
    idp->cert_count++;
    return 0;
}

static int read_key_descriptors(struct wl_saml_idp *idp, const xmlNode *sso, char *detail,
                                size_t detail_len)
{
    for (xmlNodePtr kd = sso->children; kd; kd = kd->next) {
        if (!saml_is(kd, SAML_NS_METADATA, "KeyDescriptor"))
            continue;
        char *use = saml_attr(kd, "use");
        int signing = !use || strcmp(use, "signing") == 0;
        xmlFree(use);
        if (!signing)
            continue;
        xmlNodePtr ki = saml_child(kd, SAML_NS_DSIG, "KeyInfo", NULL);
        for (xmlNodePtr xd = ki ? ki->children : NULL; xd; xd = xd->next) {
            if (!saml_is(xd, SAML_NS_DSIG, "X509Data"))
                continue;
            for (xmlNodePtr xc = xd->children; xc; xc = xc->next) {
                if (!saml_is(xc, SAML_NS_DSIG, "X509Certificate"))
                    continue;
                int rc = add_cert(idp, xc, detail, detail_len);
                if (rc != 0)
                    return rc;
            }
        }
    }
    return 0;
}

/* Finds the one EntityDescriptor holding an IDPSSODescriptor. */
static int find_entity(xmlNodePtr root, xmlNodePtr *entity, xmlNodePtr *sso, char *detail,
                       size_t detail_len)
{
    xmlNodePtr found = NULL, found_sso = NULL;
    int n = 0;
    xmlNodePtr candidates_parent = NULL;
    if (saml_is(root, SAML_NS_METADATA, "EntityDescriptor")) {
        found = root;
        n = 1;
    } else if (saml_is(root, SAML_NS_METADATA, "EntitiesDescriptor")) {
        candidates_parent = root;
    } else {
        return saml_fail(detail, detail_len, WL_SAML_E_METADATA,
                         "IdP metadata: root element is not md:EntityDescriptor");
    }
    if (candidates_parent) {
        for (xmlNodePtr c = candidates_parent->children; c; c = c->next) {
            if (saml_is(c, SAML_NS_METADATA, "EntityDescriptor") &&
                saml_child(c, SAML_NS_METADATA, "IDPSSODescriptor", NULL)) {
                found = c;
                n++;
            }
        }
        if (n > 1)
            return saml_fail(detail, detail_len, WL_SAML_E_METADATA,
                             "IdP metadata: %d identity providers; upload exactly one", n);
    }
    if (found) {
        for (xmlNodePtr c = found->children; c; c = c->next) {
            if (!saml_is(c, SAML_NS_METADATA, "IDPSSODescriptor"))
                continue;
            char *pse = saml_attr(c, "protocolSupportEnumeration");
            int v2 = pse && strstr(pse, SAML_NS_PROTOCOL) != NULL;
            xmlFree(pse);
            if (v2) {
                found_sso = c;
                break;
            }
        }
    }
    if (!found || !found_sso)
        return saml_fail(detail, detail_len, WL_SAML_E_METADATA,
                         "IdP metadata: no IDPSSODescriptor supporting SAML 2.0");
    *entity = found;
    *sso = found_sso;
    return 0;
}

int wl_saml_idp_parse(const char *xml, size_t len, struct wl_saml_idp **out, char *detail,
                      size_t detail_len)
{
    if (!xml || len == 0)
        return saml_fail(detail, detail_len, WL_SAML_E_METADATA, "IdP metadata is empty");
    if (len > MAX_METADATA)
        return saml_fail(detail, detail_len, WL_SAML_E_TOO_LARGE,
                         "IdP metadata is larger than %d bytes", MAX_METADATA);
    if (wl_saml_global_init() != 0)
        return saml_fail(detail, detail_len, WL_SAML_E_INTERNAL, "XML library init failed");
    xmlDocPtr doc = NULL;
    int rc = saml_xml_parse(xml, len, &doc, detail, detail_len);
    if (rc != 0) {
        if (rc == WL_SAML_E_DTD)
            saml_fail(detail, detail_len, rc, "IdP metadata: DOCTYPE/entities are not allowed");
        else if (rc == WL_SAML_E_XML)
            saml_fail(detail, detail_len, rc, "IdP metadata is not well-formed XML");
        return rc;
    }
    struct wl_saml_idp *idp = calloc(1, sizeof *idp);
    char *entity_id = NULL, *want = NULL;
    xmlNodePtr entity = NULL, sso = NULL;
    if (!idp) {
        rc = saml_fail(detail, detail_len, WL_SAML_E_INTERNAL, "out of memory");
        goto out;
    }
    rc = find_entity(xmlDocGetRootElement(doc), &entity, &sso, detail, detail_len);
    if (rc != 0)
        goto out;
    entity_id = saml_attr(entity, "entityID");
    if (!entity_id || !*entity_id || strlen(entity_id) > MAX_ENTITY_ID) {
        rc = saml_fail(detail, detail_len, WL_SAML_E_METADATA,
                       "IdP metadata: entityID is missing or longer than %d", MAX_ENTITY_ID);
        goto out;
    }
    idp->entity_id = strdup(entity_id);
    want = saml_attr(sso, "WantAuthnRequestsSigned");
    idp->want_signed = is_true(want);
    /* SingleSignOnService: HTTP-Redirect preferred, else HTTP-POST */
    for (int pass = 0; pass < 2 && !idp->sso_url; pass++) {
        const char *binding = pass == 0 ? SAML_BINDING_REDIRECT : SAML_BINDING_POST;
        for (xmlNodePtr c = sso->children; c && !idp->sso_url; c = c->next) {
            if (!saml_is(c, SAML_NS_METADATA, "SingleSignOnService"))
                continue;
            char *b = saml_attr(c, "Binding");
            char *loc = saml_attr(c, "Location");
            if (b && strcmp(b, binding) == 0) {
                if (!url_ok(loc)) {
                    rc = saml_fail(detail, detail_len, WL_SAML_E_METADATA,
                                   "IdP metadata: SingleSignOnService Location is not an "
                                   "http(s) URL");
                    xmlFree(b);
                    xmlFree(loc);
                    goto out;
                }
                idp->sso_url = strdup(loc);
                idp->binding = pass == 0 ? WL_SAML_BINDING_REDIRECT : WL_SAML_BINDING_POST;
            }
            xmlFree(b);
            xmlFree(loc);
        }
    }
    if (!idp->sso_url) {
        rc = saml_fail(detail, detail_len, WL_SAML_E_METADATA,
                       "IdP metadata: no SingleSignOnService with the HTTP-Redirect or "
                       "HTTP-POST binding");
        goto out;
    }
    rc = read_key_descriptors(idp, sso, detail, detail_len);
    if (rc != 0)
        goto out;
    if (idp->cert_count == 0) {
        rc = saml_fail(detail, detail_len, WL_SAML_E_METADATA,
                       "IdP metadata: no signing certificate (KeyDescriptor with "
                       "ds:X509Certificate)");
        goto out;
    }
    if (!idp->entity_id) {
        rc = saml_fail(detail, detail_len, WL_SAML_E_INTERNAL, "out of memory");
        goto out;
    }
    *out = idp;
    idp = NULL;
    rc = 0;
out:
    xmlFree(entity_id);
    xmlFree(want);
    wl_saml_idp_free(idp);
    xmlFreeDoc(doc);
    return rc;
}
