/* saml_response.c - Response verification for the HTTP-POST binding (ACS).
 *
 * Order: size bound, base64, safe parse (no DTD), structure (one Assertion, in place, unique
 * IDs), signature shape and algorithm allow-list, xmlsec1 verification with the IdP metadata
 * certificates only, then the SAML semantics on that same Assertion node. */
#include "saml_internal.h"

#include <libxml/valid.h>
#include <stdlib.h>
#include <string.h>
#include <xmlsec/crypto.h>
#include <xmlsec/keys.h>
#include <xmlsec/transforms.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmltree.h>

#define STATUS_SUCCESS "urn:oasis:names:tc:SAML:2.0:status:Success"
#define CM_BEARER "urn:oasis:names:tc:SAML:2.0:cm:bearer"
#define NAMEID_ENTITY "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
#define ALG_EXC_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"
#define ALG_ENVELOPED "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
#define MAX_NAME_ID 256
#define MAX_ID 256
#define MAX_ATTRIBUTES 64
#define MAX_VALUES 64
#define MAX_VALUE_LEN 4096
#define MAX_ELEMENTS 4096

static const char *const sig_algs[] = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    NULL,
};
static const char *const digest_algs[] = {
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmlenc#sha512",
    NULL,
};

static int in_list(const char *v, const char *const *list)
{
    for (; v && *list; list++) {
        if (strcmp(v, *list) == 0)
            return 1;
    }
    return 0;
}

void wl_saml_result_free(struct wl_saml_result *r)
{
    if (!r)
        return;
    free(r->name_id);
    free(r->name_id_format);
    free(r->issuer);
    free(r->assertion_id);
    free(r->in_response_to);
    for (size_t i = 0; i < r->attribute_count; i++) {
        free(r->attributes[i].name);
        for (size_t j = 0; j < r->attributes[i].value_count; j++)
            free(r->attributes[i].values[j]);
        free(r->attributes[i].values);
    }
    free(r->attributes);
    free(r);
}

/* Context of one verification. */
struct vctx {
    const struct wl_saml_idp *idp;
    const struct wl_saml_expect *exp;
    int64_t skew;
    xmlDocPtr doc;
    xmlNodePtr response;
    xmlNodePtr assertion;
    xmlNodePtr signatures[2]; /* Signature under Response, under Assertion */
    int assertions, encrypted, elements, misplaced_signature;
    char *detail;
    size_t detail_len;
};

#define FAIL(c, code, ...) saml_fail((c)->detail, (c)->detail_len, (code), __VA_ARGS__)

/* Walks the whole tree (signatures included): registers every ID attribute (refusing
 * duplicates), counts Assertions and finds every ds:Signature, which must be a direct child of
 * the Response or of its Assertion (at most one each). */
static int walk(struct vctx *c, xmlNodePtr node)
{
    for (xmlNodePtr n = node; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (++c->elements > MAX_ELEMENTS)
            return FAIL(c, WL_SAML_E_TOO_LARGE, "more than %d elements", MAX_ELEMENTS);
        xmlAttrPtr id = xmlHasNsProp(n, (const xmlChar *)"ID", NULL);
        if (id && id->ns == NULL) {
            xmlChar *v = xmlNodeListGetString(c->doc, id->children, 1);
            if (!v)
                return FAIL(c, WL_SAML_E_INTERNAL, "out of memory");
            if (xmlGetID(c->doc, v) != NULL) {
                xmlFree(v);
                return FAIL(c, WL_SAML_E_DUPLICATE_ID, "two elements share one ID");
            }
            if (!xmlAddID(NULL, c->doc, v, id)) {
                xmlFree(v);
                return FAIL(c, WL_SAML_E_DUPLICATE_ID, "ID attribute could not be registered");
            }
            xmlFree(v);
        }
        if (saml_is(n, SAML_NS_ASSERTION, "Assertion")) {
            c->assertions++;
        } else if (saml_is(n, SAML_NS_ASSERTION, "EncryptedAssertion")) {
            c->encrypted++;
        } else if (saml_is(n, SAML_NS_DSIG, "Signature")) {
            int slot = -1;
            if (n->parent == (xmlNodePtr)c->response)
                slot = 0;
            else if (saml_is(n->parent, SAML_NS_ASSERTION, "Assertion") &&
                     n->parent->parent == c->response)
                slot = 1;
            /* reported after the Assertion count, which names XSW attempts better */
            if (slot < 0 || c->signatures[slot])
                c->misplaced_signature = 1;
            else
                c->signatures[slot] = n;
        }
        int rc = walk(c, n->children);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > MAX_ID)
        return 0;
    for (; *s; s++) {
        char ch = *s;
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

/* Checks a Signature's shape before xmlsec sees it: exclusive C14N, allowed algorithms, one
 * Reference to the ID of the signature's own parent, only enveloped + exc-c14n transforms. */
static int check_signature_shape(struct vctx *c, xmlNodePtr sig)
{
    int rc = 0, count = 0;
    char *alg = NULL, *uri = NULL, *parent_id = NULL;
    xmlNodePtr si = saml_child(sig, SAML_NS_DSIG, "SignedInfo", &count);
    if (!si || count != 1) {
        rc = FAIL(c, WL_SAML_E_SIGNATURE_SHAPE, "Signature needs exactly one SignedInfo");
        goto out;
    }
    if (saml_child(sig, SAML_NS_DSIG, "Object", NULL)) {
        rc = FAIL(c, WL_SAML_E_SIGNATURE_SHAPE, "ds:Object inside a Signature is not allowed");
        goto out;
    }
    xmlNodePtr cm = saml_child(si, SAML_NS_DSIG, "CanonicalizationMethod", &count);
    alg = cm && count == 1 ? saml_attr(cm, "Algorithm") : NULL;
    if (!alg || strcmp(alg, ALG_EXC_C14N) != 0) {
        rc = FAIL(c, WL_SAML_E_ALGORITHM, "canonicalization %s is not exclusive C14N",
                  alg ? alg : "(missing)");
        goto out;
    }
    xmlFree(alg);
    xmlNodePtr sm = saml_child(si, SAML_NS_DSIG, "SignatureMethod", &count);
    alg = sm && count == 1 ? saml_attr(sm, "Algorithm") : NULL;
    if (!in_list(alg, sig_algs)) {
        rc = FAIL(c, WL_SAML_E_ALGORITHM, "signature algorithm %s is not allowed",
                  alg ? alg : "(missing)");
        goto out;
    }
    xmlFree(alg);
    alg = NULL;
    xmlNodePtr ref = saml_child(si, SAML_NS_DSIG, "Reference", &count);
    if (!ref || count != 1) {
        rc = FAIL(c, WL_SAML_E_SIGNATURE_SHAPE, "SignedInfo needs exactly one Reference");
        goto out;
    }
    uri = saml_attr(ref, "URI");
    parent_id = saml_attr(sig->parent, "ID");
    /* id_ok: a plain NCName-like id, so "#..." can only be a bare-name (ID) reference, never
     * an XPointer expression */
    if (!uri || !id_ok(parent_id) || uri[0] != '#' || strcmp(uri + 1, parent_id) != 0) {
        rc = FAIL(c, WL_SAML_E_SIGNATURE_SHAPE,
                  "signature Reference does not point at the signed element's own ID");
        goto out;
    }
    xmlNodePtr dm = saml_child(ref, SAML_NS_DSIG, "DigestMethod", &count);
    alg = dm && count == 1 ? saml_attr(dm, "Algorithm") : NULL;
    if (!in_list(alg, digest_algs)) {
        rc = FAIL(c, WL_SAML_E_ALGORITHM, "digest algorithm %s is not allowed",
                  alg ? alg : "(missing)");
        goto out;
    }
    xmlFree(alg);
    alg = NULL;
    xmlNodePtr tr = saml_child(ref, SAML_NS_DSIG, "Transforms", &count);
    if (count > 1) {
        rc = FAIL(c, WL_SAML_E_SIGNATURE_SHAPE, "two Transforms lists");
        goto out;
    }
    int enveloped = 0;
    for (xmlNodePtr t = tr ? tr->children : NULL; t; t = t->next) {
        if (t->type != XML_ELEMENT_NODE)
            continue;
        if (!saml_is(t, SAML_NS_DSIG, "Transform")) {
            rc = FAIL(c, WL_SAML_E_SIGNATURE_SHAPE, "unexpected element in Transforms");
            goto out;
        }
        alg = saml_attr(t, "Algorithm");
        if (alg && strcmp(alg, ALG_ENVELOPED) == 0) {
            enveloped = 1;
        } else if (!alg || strcmp(alg, ALG_EXC_C14N) != 0) {
            rc = FAIL(c, WL_SAML_E_SIGNATURE_SHAPE, "transform %s is not allowed",
                      alg ? alg : "(missing)");
            goto out;
        }
        xmlFree(alg);
        alg = NULL;
    }
    if (!enveloped)
        rc = FAIL(c, WL_SAML_E_SIGNATURE_SHAPE, "signature is not an enveloped signature");
out:
    xmlFree(alg);
    xmlFree(uri);
    xmlFree(parent_id);
    return rc;
}

/* Verifies one signature with each IdP certificate in turn; KeyInfo in the message is never
 * read (the key is preset and there is no keys manager). */
static int verify_signature(struct vctx *c, xmlNodePtr sig)
{
    for (size_t i = 0; i < c->idp->cert_count; i++) {
        xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(NULL);
        if (!ctx)
            return FAIL(c, WL_SAML_E_INTERNAL, "out of memory");
        int ok = 0;
        ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
        ctx->flags |= XMLSEC_DSIG_FLAGS_IGNORE_MANIFESTS;
        if (xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformExclC14NId) < 0 ||
            xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformRsaSha256Id) < 0 ||
            xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformRsaSha512Id) < 0 ||
            xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformEcdsaSha256Id) < 0 ||
            xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformExclC14NId) < 0 ||
            xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformEnvelopedId) < 0 ||
            xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha256Id) < 0 ||
            xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha512Id) < 0) {
            xmlSecDSigCtxDestroy(ctx);
            return FAIL(c, WL_SAML_E_INTERNAL, "xmlsec transform setup failed");
        }
        ctx->signKey =
            xmlSecCryptoAppKeyLoadMemory(c->idp->certs[i].der, (xmlSecSize)c->idp->certs[i].len,
                                         xmlSecKeyDataFormatCertDer, NULL, NULL, NULL);
        if (ctx->signKey && xmlSecDSigCtxVerify(ctx, sig) == 0 &&
            ctx->status == xmlSecDSigStatusSucceeded)
            ok = 1;
        xmlSecDSigCtxDestroy(ctx);
        if (ok)
            return 0;
    }
    return FAIL(c, WL_SAML_E_SIGNATURE,
                "signature on %s does not verify with the IdP's %zu "
                "certificate(s)",
                (const char *)sig->parent->name, c->idp->cert_count);
}

static int check_issuer(struct vctx *c, xmlNodePtr parent, int required, const char *what)
{
    int count = 0;
    xmlNodePtr is = saml_child(parent, SAML_NS_ASSERTION, "Issuer", &count);
    if (!is)
        return required ? FAIL(c, WL_SAML_E_ISSUER, "%s has no Issuer", what) : 0;
    if (count != 1)
        return FAIL(c, WL_SAML_E_ISSUER, "%s has %d Issuers", what, count);
    char *fmt = saml_attr(is, "Format");
    int fmt_ok = !fmt || strcmp(fmt, NAMEID_ENTITY) == 0;
    xmlFree(fmt);
    char *v = saml_text(is, 1);
    int ok = fmt_ok && v && strcmp(v, c->idp->entity_id) == 0;
    int rc = ok ? 0
                : FAIL(c, WL_SAML_E_ISSUER, "%s Issuer %.80s is not the fleet's IdP %.80s", what,
                       v ? v : "(malformed)", c->idp->entity_id);
    free(v);
    return rc;
}

/* Reads a time attribute: 0 and *out_ms, 1 when absent, or -1 when malformed. */
static int time_attr(const xmlNode *n, const char *name, int64_t *out_ms)
{
    char *v = saml_attr(n, name);
    if (!v)
        return 1;
    int rc = wl_saml_time_parse(v, out_ms);
    xmlFree(v);
    return rc;
}

/* NotBefore/NotOnOrAfter of one element; updates *end with the earliest end seen. */
static int check_window(struct vctx *c, const xmlNode *n, const char *what, int need_end,
                        int64_t *end, int64_t *latest_end)
{
    int64_t nb = 0, noa = 0;
    int r = time_attr(n, "NotBefore", &nb);
    if (r < 0)
        return FAIL(c, WL_SAML_E_CONDITION, "%s NotBefore is malformed", what);
    if (r == 0 && nb - c->skew > c->exp->now_ms)
        return FAIL(c, WL_SAML_E_NOT_YET_VALID, "%s is not valid before %lld (now %lld)", what,
                    (long long)nb, (long long)c->exp->now_ms);
    r = time_attr(n, "NotOnOrAfter", &noa);
    if (r < 0)
        return FAIL(c, WL_SAML_E_CONDITION, "%s NotOnOrAfter is malformed", what);
    if (r == 1)
        return need_end ? FAIL(c, WL_SAML_E_SUBJECT, "%s has no NotOnOrAfter", what) : 0;
    if (noa + c->skew <= c->exp->now_ms)
        return FAIL(c, WL_SAML_E_EXPIRED, "%s expired at %lld (now %lld)", what, (long long)noa,
                    (long long)c->exp->now_ms);
    if (*end == 0 || noa < *end)
        *end = noa;
    if (noa > *latest_end)
        *latest_end = noa;
    return 0;
}

static int check_conditions(struct vctx *c, int64_t *end, int64_t *latest_end)
{
    int count = 0;
    xmlNodePtr cond = saml_child(c->assertion, SAML_NS_ASSERTION, "Conditions", &count);
    if (!cond || count != 1)
        return FAIL(c, WL_SAML_E_CONDITION, "Assertion needs exactly one Conditions");
    int rc = check_window(c, cond, "Conditions", 0, end, latest_end);
    if (rc != 0)
        return rc;
    int restrictions = 0;
    for (xmlNodePtr n = cond->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (saml_is(n, SAML_NS_ASSERTION, "AudienceRestriction")) {
            restrictions++;
            int found = 0;
            for (xmlNodePtr a = n->children; a; a = a->next) {
                if (!saml_is(a, SAML_NS_ASSERTION, "Audience"))
                    continue;
                char *v = saml_text(a, 1);
                if (v && strcmp(v, c->exp->sp_entity_id) == 0)
                    found = 1;
                free(v);
            }
            if (!found)
                return FAIL(c, WL_SAML_E_AUDIENCE,
                            "an AudienceRestriction does not name the SP %.100s",
                            c->exp->sp_entity_id);
        } else if (saml_is(n, SAML_NS_ASSERTION, "OneTimeUse") ||
                   saml_is(n, SAML_NS_ASSERTION, "ProxyRestriction")) {
            continue; /* one-time use is what the replay cache enforces anyway */
        } else {
            return FAIL(c, WL_SAML_E_CONDITION, "unknown condition %.64s", (const char *)n->name);
        }
    }
    if (restrictions == 0)
        return FAIL(c, WL_SAML_E_AUDIENCE, "Assertion has no AudienceRestriction");
    return 0;
}

/* One bearer SubjectConfirmation must be valid for us: Recipient exactly the ACS URL, a future
 * NotOnOrAfter, and InResponseTo (when present) equal to the Response's. */
static int check_confirmation(struct vctx *c, xmlNodePtr subject, const char *irt, int64_t *end,
                              int64_t *latest_end)
{
    int first_error = 0;
    char saved[WL_SAML_DETAIL_MAX] = "";
    for (xmlNodePtr sc = subject->children; sc; sc = sc->next) {
        if (!saml_is(sc, SAML_NS_ASSERTION, "SubjectConfirmation"))
            continue;
        char *method = saml_attr(sc, "Method");
        int bearer = method && strcmp(method, CM_BEARER) == 0;
        xmlFree(method);
        if (!bearer)
            continue;
        int count = 0, rc = 0;
        xmlNodePtr scd = saml_child(sc, SAML_NS_ASSERTION, "SubjectConfirmationData", &count);
        char *recipient = scd && count == 1 ? saml_attr(scd, "Recipient") : NULL;
        char *scd_irt = scd && count == 1 ? saml_attr(scd, "InResponseTo") : NULL;
        int64_t e = 0, le = 0;
        if (!scd || count != 1)
            rc = FAIL(c, WL_SAML_E_SUBJECT,
                      "bearer SubjectConfirmation without one "
                      "SubjectConfirmationData");
        else if (!recipient || strcmp(recipient, c->exp->acs_url) != 0)
            rc = FAIL(c, WL_SAML_E_RECIPIENT, "Recipient %.100s is not the ACS URL %.100s",
                      recipient ? recipient : "(missing)", c->exp->acs_url);
        else if (scd_irt && (!irt || strcmp(scd_irt, irt) != 0))
            rc = FAIL(c, WL_SAML_E_IN_RESPONSE_TO,
                      "SubjectConfirmationData InResponseTo differs from the Response's");
        else
            rc = check_window(c, scd, "SubjectConfirmationData", 1, &e, &le);
        xmlFree(recipient);
        xmlFree(scd_irt);
        if (rc == 0) {
            if (*end == 0 || e < *end)
                *end = e;
            if (le > *latest_end)
                *latest_end = le;
            return 0;
        }
        if (!first_error) {
            first_error = rc;
            if (c->detail)
                snprintf(saved, sizeof saved, "%s", c->detail);
        }
    }
    if (!first_error)
        return FAIL(c, WL_SAML_E_SUBJECT, "no bearer SubjectConfirmation");
    return FAIL(c, first_error, "%s", saved);
}

static int name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    }
    return 1;
}

static int read_attributes(struct vctx *c, struct wl_saml_result *r)
{
    for (xmlNodePtr st = c->assertion->children; st; st = st->next) {
        if (!saml_is(st, SAML_NS_ASSERTION, "AttributeStatement"))
            continue;
        for (xmlNodePtr a = st->children; a; a = a->next) {
            if (!saml_is(a, SAML_NS_ASSERTION, "Attribute"))
                continue;
            char *name = saml_attr(a, "Name");
            if (!name || !name_ok(name, 256)) {
                xmlFree(name);
                return FAIL(c, WL_SAML_E_ATTRIBUTE, "attribute without a valid Name");
            }
            for (size_t i = 0; i < r->attribute_count; i++) {
                if (strcmp(r->attributes[i].name, name) == 0) {
                    int rc = FAIL(c, WL_SAML_E_ATTRIBUTE, "attribute %.64s appears twice", name);
                    xmlFree(name);
                    return rc;
                }
            }
            if (r->attribute_count == MAX_ATTRIBUTES) {
                xmlFree(name);
                return FAIL(c, WL_SAML_E_ATTRIBUTE, "more than %d attributes", MAX_ATTRIBUTES);
            }
            struct wl_saml_attribute *na =
                realloc(r->attributes, (r->attribute_count + 1) * sizeof *na);
            if (!na) {
                xmlFree(name);
                return FAIL(c, WL_SAML_E_INTERNAL, "out of memory");
            }
            r->attributes = na;
            struct wl_saml_attribute *at = &r->attributes[r->attribute_count];
            memset(at, 0, sizeof *at);
            at->name = strdup(name);
            xmlFree(name);
            r->attribute_count++;
            if (!at->name)
                return FAIL(c, WL_SAML_E_INTERNAL, "out of memory");
            for (xmlNodePtr v = a->children; v; v = v->next) {
                if (!saml_is(v, SAML_NS_ASSERTION, "AttributeValue"))
                    continue;
                if (at->value_count == MAX_VALUES)
                    return FAIL(c, WL_SAML_E_ATTRIBUTE,
                                "attribute %.64s has more than %d "
                                "values",
                                at->name, MAX_VALUES);
                char *text = saml_text(v, 0);
                if (!text)
                    continue; /* structured value: not used by the gateway */
                if (strlen(text) > MAX_VALUE_LEN) {
                    free(text);
                    return FAIL(c, WL_SAML_E_ATTRIBUTE, "attribute %.64s value too long", at->name);
                }
                char **nv = realloc(at->values, (at->value_count + 1) * sizeof *nv);
                if (!nv) {
                    free(text);
                    return FAIL(c, WL_SAML_E_INTERNAL, "out of memory");
                }
                at->values = nv;
                at->values[at->value_count++] = text;
            }
        }
    }
    return 0;
}

/* The SAML checks on the verified Assertion; fills r. */
static int check_semantics(struct vctx *c, struct wl_saml_result *r)
{
    int rc, count = 0;
    char *v = NULL;
    /* Response */
    if ((rc = check_issuer(c, c->response, 0, "Response")) != 0)
        return rc;
    v = saml_attr(c->response, "Destination");
    if (!v || strcmp(v, c->exp->acs_url) != 0) {
        rc = FAIL(c, WL_SAML_E_DESTINATION, "Destination %.100s is not the ACS URL %.100s",
                  v ? v : "(missing)", c->exp->acs_url);
        xmlFree(v);
        return rc;
    }
    xmlFree(v);
    v = saml_attr(c->response, "InResponseTo");
    if (v) {
        if (!id_ok(v)) {
            xmlFree(v);
            return FAIL(c, WL_SAML_E_IN_RESPONSE_TO, "InResponseTo is malformed");
        }
        r->in_response_to = strdup(v);
        xmlFree(v);
        if (!r->in_response_to)
            return FAIL(c, WL_SAML_E_INTERNAL, "out of memory");
    } else if (!c->exp->allow_unsolicited) {
        return FAIL(c, WL_SAML_E_IN_RESPONSE_TO,
                    "unsolicited Response (no InResponseTo) and IdP-initiated sign-in is off");
    }
    /* Assertion */
    v = saml_attr(c->assertion, "Version");
    int version_ok = v && strcmp(v, "2.0") == 0;
    xmlFree(v);
    if (!version_ok)
        return FAIL(c, WL_SAML_E_NOT_RESPONSE, "Assertion Version is not 2.0");
    v = saml_attr(c->assertion, "ID");
    if (!id_ok(v)) {
        xmlFree(v);
        return FAIL(c, WL_SAML_E_SIGNATURE_SHAPE, "Assertion ID is missing or malformed");
    }
    r->assertion_id = strdup(v);
    xmlFree(v);
    if ((rc = check_issuer(c, c->assertion, 1, "Assertion")) != 0)
        return rc;
    r->issuer = strdup(c->idp->entity_id);
    if (!r->assertion_id || !r->issuer)
        return FAIL(c, WL_SAML_E_INTERNAL, "out of memory");
    int64_t end = 0, latest_end = 0;
    if ((rc = check_conditions(c, &end, &latest_end)) != 0)
        return rc;
    xmlNodePtr subject = saml_child(c->assertion, SAML_NS_ASSERTION, "Subject", &count);
    if (!subject || count != 1)
        return FAIL(c, WL_SAML_E_SUBJECT, "Assertion needs exactly one Subject");
    xmlNodePtr nid = saml_child(subject, SAML_NS_ASSERTION, "NameID", &count);
    if (!nid || count != 1)
        return FAIL(c, WL_SAML_E_SUBJECT,
                    "Subject needs exactly one NameID (EncryptedID and "
                    "BaseID are not supported)");
    /* whole text of the element: a comment inside cannot truncate it */
    r->name_id = saml_text(nid, 1);
    if (!r->name_id || !name_ok(r->name_id, MAX_NAME_ID))
        return FAIL(c, WL_SAML_E_SUBJECT,
                    "NameID is empty, structured, too long or has "
                    "control characters");
    v = saml_attr(nid, "Format");
    r->name_id_format = saml_strdup(v);
    xmlFree(v);
    if ((rc = check_confirmation(c, subject, r->in_response_to, &end, &latest_end)) != 0)
        return rc;
    xmlNodePtr authn = saml_child(c->assertion, SAML_NS_ASSERTION, "AuthnStatement", &count);
    if (!authn)
        return FAIL(c, WL_SAML_E_SUBJECT, "Assertion has no AuthnStatement");
    int64_t snoa = 0;
    int tr = time_attr(authn, "SessionNotOnOrAfter", &snoa);
    if (tr < 0)
        return FAIL(c, WL_SAML_E_CONDITION, "SessionNotOnOrAfter is malformed");
    if (tr == 0 && snoa <= c->exp->now_ms)
        return FAIL(c, WL_SAML_E_EXPIRED, "SessionNotOnOrAfter is in the past");
    r->session_not_on_or_after_ms = tr == 0 ? snoa : 0;
    if ((rc = read_attributes(c, r)) != 0)
        return rc;
    r->not_on_or_after_ms = end;
    r->replay_ttl_ms = latest_end + c->skew - c->exp->now_ms;
    if (r->replay_ttl_ms < 1000)
        r->replay_ttl_ms = 1000;
    return 0;
}

static int check_structure(struct vctx *c)
{
    xmlNodePtr root = xmlDocGetRootElement(c->doc);
    if (!saml_is(root, SAML_NS_PROTOCOL, "Response"))
        return FAIL(c, WL_SAML_E_NOT_RESPONSE, "root element is not samlp:Response");
    c->response = root;
    char *v = saml_attr(root, "Version");
    int ok = v && strcmp(v, "2.0") == 0;
    xmlFree(v);
    if (!ok)
        return FAIL(c, WL_SAML_E_NOT_RESPONSE, "Response Version is not 2.0");
    int rc = walk(c, root);
    if (rc != 0)
        return rc;
    /* Status */
    int count = 0;
    xmlNodePtr st = saml_child(root, SAML_NS_PROTOCOL, "Status", &count);
    xmlNodePtr sc = st && count == 1 ? saml_child(st, SAML_NS_PROTOCOL, "StatusCode", NULL) : NULL;
    v = sc ? saml_attr(sc, "Value") : NULL;
    ok = v && strcmp(v, STATUS_SUCCESS) == 0;
    if (!ok) {
        rc = FAIL(c, WL_SAML_E_STATUS, "Status is %.120s", v ? v : "(missing)");
        xmlFree(v);
        return rc;
    }
    xmlFree(v);
    if (c->encrypted)
        return FAIL(c, WL_SAML_E_ENCRYPTED,
                    "EncryptedAssertion is not supported (the SP "
                    "metadata publishes no encryption key)");
    xmlNodePtr a = saml_child(root, SAML_NS_ASSERTION, "Assertion", &count);
    if (c->assertions != 1 || count != 1)
        return FAIL(c, WL_SAML_E_ASSERTION_COUNT,
                    "Response holds %d Assertion elements (%d in place); exactly one is allowed",
                    c->assertions, count);
    c->assertion = a;
    if (c->misplaced_signature)
        return FAIL(c, WL_SAML_E_SIGNATURE_SHAPE,
                    "a ds:Signature outside the Response or its Assertion, or two on one");
    return 0;
}

int wl_saml_response_verify(const struct wl_saml_idp *idp, const struct wl_saml_expect *expect,
                            const char *saml_response, size_t len, struct wl_saml_result **out,
                            char *detail, size_t detail_len)
{
    if (!idp || !expect || !expect->sp_entity_id || !expect->acs_url || !out || !saml_response)
        return saml_fail(detail, detail_len, WL_SAML_E_ARGUMENT, "missing argument");
    if (len > WL_SAML_MAX_MESSAGE)
        return saml_fail(detail, detail_len, WL_SAML_E_TOO_LARGE,
                         "SAMLResponse of %zu bytes is over the %d-byte limit", len,
                         WL_SAML_MAX_MESSAGE);
    if (wl_saml_global_init() != 0)
        return saml_fail(detail, detail_len, WL_SAML_E_INTERNAL, "XML library init failed");
    struct vctx c;
    memset(&c, 0, sizeof c);
    c.idp = idp;
    c.exp = expect;
    c.skew = expect->skew_ms > 0 ? expect->skew_ms : WL_SAML_DEFAULT_SKEW_MS;
    c.detail = detail;
    c.detail_len = detail_len;
    struct wl_saml_result *r = NULL;
    size_t xml_len = 0;
    unsigned char *xml = saml_b64_decode(saml_response, len, &xml_len);
    int rc;
    if (!xml) {
        rc = FAIL(&c, WL_SAML_E_ENCODING, "SAMLResponse is not base64");
        goto out;
    }
    rc = saml_xml_parse((const char *)xml, xml_len, &c.doc, detail, detail_len);
    if (rc != 0)
        goto out;
    if ((rc = check_structure(&c)) != 0)
        goto out;
    if (!c.signatures[0] && !c.signatures[1]) {
        rc = FAIL(&c, WL_SAML_E_UNSIGNED, "neither the Assertion nor the Response is signed");
        goto out;
    }
    for (int i = 0; i < 2; i++) {
        if (c.signatures[i] && (rc = check_signature_shape(&c, c.signatures[i])) != 0)
            goto out;
    }
    for (int i = 0; i < 2; i++) {
        if (c.signatures[i] && (rc = verify_signature(&c, c.signatures[i])) != 0)
            goto out;
    }
    r = calloc(1, sizeof *r);
    if (!r) {
        rc = FAIL(&c, WL_SAML_E_INTERNAL, "out of memory");
        goto out;
    }
    if ((rc = check_semantics(&c, r)) != 0)
        goto out;
    *out = r;
    r = NULL;
    if (detail && detail_len)
        detail[0] = '\0';
out:
    wl_saml_result_free(r);
    xmlFreeDoc(c.doc);
    free(xml);
    return rc;
}
