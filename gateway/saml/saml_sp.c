/* saml_sp.c - SP metadata (template) and AuthnRequest for the HTTP-Redirect binding. */
#include "saml_internal.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define MAX_URL 2048
#define MAX_RELAY_STATE 80

#define ALG_RSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
#define ALG_ECDSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"

struct wl_saml_sp {
    char *entity_id;
    char *acs_url;
    EVP_PKEY *key; /* NULL: unsigned requests */
};

/* A URL or URI we accept from configuration: printable ASCII, no quotes or angle brackets. */
static int config_uri_ok(const char *s, int need_url)
{
    if (!s || !*s || strlen(s) > MAX_URL)
        return 0;
    if (need_url && strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
        return 0;
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '"' || *p == '<' ||
            *p == '>' || *p == '\\' || *p == '\'')
            return 0;
    }
    return 1;
}

/* XML-escapes s (attribute or text). Returns a new string or NULL. */
static char *xml_escape(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += (*p == '&') ? 5 : (*p == '<' || *p == '>') ? 4 : (*p == '"') ? 6 : 1;
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = s; *p; p++) {
        const char *r = *p == '&'   ? "&amp;"
                        : *p == '<' ? "&lt;"
                        : *p == '>' ? "&gt;"
                        : *p == '"' ? "&quot;"
                                    : NULL;
        if (r) {
            memcpy(o, r, strlen(r));
            o += strlen(r);
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

char *wl_saml_sp_metadata(const char *entity_id, const char *acs_url, const char *cert_pem,
                          char *detail, size_t detail_len)
{
    if (!config_uri_ok(entity_id, 0)) {
        saml_fail(detail, detail_len, WL_SAML_E_ARGUMENT, "SP entityID is empty or invalid");
        return NULL;
    }
    if (!config_uri_ok(acs_url, 1)) {
        saml_fail(detail, detail_len, WL_SAML_E_ARGUMENT, "ACS URL is not an http(s) URL");
        return NULL;
    }
    if (!cert_pem) {
        saml_fail(detail, detail_len, WL_SAML_E_CERT, "SP certificate is missing");
        return NULL;
    }
    char *result = NULL, *b64 = NULL, *eid = NULL, *acs = NULL;
    unsigned char *der = NULL;
    BIO *bio = BIO_new_mem_buf(cert_pem, -1);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    int der_len = x ? i2d_X509(x, &der) : -1;
    if (der_len <= 0) {
        saml_fail(detail, detail_len, WL_SAML_E_CERT,
                  "SP certificate is not a PEM X.509 "
                  "certificate");
        goto out;
    }
    b64 = saml_b64_encode(der, (size_t)der_len);
    eid = xml_escape(entity_id);
    acs = xml_escape(acs_url);
    if (!b64 || !eid || !acs) {
        saml_fail(detail, detail_len, WL_SAML_E_INTERNAL, "out of memory");
        goto out;
    }
    static const char tmpl[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
        "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"%s\">\n"
        "  <md:SPSSODescriptor AuthnRequestsSigned=\"true\" WantAssertionsSigned=\"true\" "
        "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n"
        "    <md:KeyDescriptor use=\"signing\">\n"
        "      <ds:KeyInfo>\n"
        "        <ds:X509Data>\n"
        "          <ds:X509Certificate>%s</ds:X509Certificate>\n"
        "        </ds:X509Data>\n"
        "      </ds:KeyInfo>\n"
        "    </md:KeyDescriptor>\n"
        "    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
        "</md:NameIDFormat>\n"
        "    <md:AssertionConsumerService "
        "Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"%s\" "
        "index=\"0\" isDefault=\"true\"/>\n"
        "  </md:SPSSODescriptor>\n"
        "</md:EntityDescriptor>\n";
    size_t n = sizeof tmpl + strlen(eid) + strlen(b64) + strlen(acs);
    result = malloc(n);
    if (!result) {
        saml_fail(detail, detail_len, WL_SAML_E_INTERNAL, "out of memory");
        goto out;
    }
    snprintf(result, n, tmpl, eid, b64, acs);
out:
    OPENSSL_free(der);
    X509_free(x);
    BIO_free(bio);
    free(b64);
    free(eid);
    free(acs);
    return result;
}

void wl_saml_sp_free(struct wl_saml_sp *sp)
{
    if (!sp)
        return;
    free(sp->entity_id);
    free(sp->acs_url);
    EVP_PKEY_free(sp->key);
    free(sp);
}

const char *wl_saml_sp_entity_id(const struct wl_saml_sp *sp)
{
    return sp->entity_id;
}

const char *wl_saml_sp_acs_url(const struct wl_saml_sp *sp)
{
    return sp->acs_url;
}

int wl_saml_sp_new(const char *entity_id, const char *acs_url, const char *key_pem, size_t key_len,
                   struct wl_saml_sp **out, char *detail, size_t detail_len)
{
    if (!config_uri_ok(entity_id, 0))
        return saml_fail(detail, detail_len, WL_SAML_E_ARGUMENT,
                         "SP entityID is empty or "
                         "invalid");
    if (!config_uri_ok(acs_url, 1))
        return saml_fail(detail, detail_len, WL_SAML_E_ARGUMENT, "ACS URL is not an http(s) URL");
    EVP_PKEY *key = NULL;
    if (key_pem) {
        if (key_len > 64 * 1024)
            return saml_fail(detail, detail_len, WL_SAML_E_ARGUMENT, "SP key is too large");
        BIO *bio = BIO_new_mem_buf(key_pem, (int)key_len);
        key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        int type = key ? EVP_PKEY_get_base_id(key) : 0;
        if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
            EVP_PKEY_free(key);
            return saml_fail(detail, detail_len, WL_SAML_E_ARGUMENT,
                             "SP key is not a PEM RSA or EC private key");
        }
    }
    struct wl_saml_sp *sp = calloc(1, sizeof *sp);
    if (sp) {
        sp->entity_id = strdup(entity_id);
        sp->acs_url = strdup(acs_url);
    }
    if (!sp || !sp->entity_id || !sp->acs_url) {
        EVP_PKEY_free(key);
        wl_saml_sp_free(sp);
        return saml_fail(detail, detail_len, WL_SAML_E_INTERNAL, "out of memory");
    }
    sp->key = key;
    *out = sp;
    return 0;
}

/* Percent-encodes everything but RFC 3986 unreserved characters. Returns a new string. */
static char *url_encode(const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(len * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

/* Raw DEFLATE (RFC 1951) of src. Returns a new buffer and its length, or NULL. */
static unsigned char *deflate_raw(const char *src, size_t len, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    uLong cap = deflateBound(&zs, (uLong)len);
    unsigned char *out = malloc(cap);
    if (!out) {
        deflateEnd(&zs);
        return NULL;
    }
    zs.next_in = (Bytef *)src;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    int r = deflate(&zs, Z_FINISH);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    if (r != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

/* Signs msg with SHA-256; for EC keys converts the DER signature to r||s (XML DSig form).
 * Returns a new base64 string or NULL. */
static char *sign_b64(EVP_PKEY *key, const char *msg, size_t len)
{
    char *result = NULL;
    unsigned char *sig = NULL, *raw = NULL;
    size_t sig_len = 0;
    ECDSA_SIG *es = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, NULL, &sig_len, (const unsigned char *)msg, len) != 1)
        goto out;
    sig = malloc(sig_len);
    if (!sig || EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)msg, len) != 1)
        goto out;
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
        const unsigned char *p = sig;
        es = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
        int half = (EVP_PKEY_get_bits(key) + 7) / 8;
        raw = es ? malloc((size_t)half * 2) : NULL;
        if (!raw || BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, half) != half ||
            BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + half, half) != half)
            goto out;
        result = saml_b64_encode(raw, (size_t)half * 2);
    } else {
        result = saml_b64_encode(sig, sig_len);
    }
out:
    ECDSA_SIG_free(es);
    free(raw);
    free(sig);
    EVP_MD_CTX_free(md);
    return result;
}

static void format_instant(int64_t now_ms, char out[32])
{
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int wl_saml_authn_request(const struct wl_saml_sp *sp, const struct wl_saml_idp *idp,
                          const char *relay_state, int64_t now_ms, struct wl_saml_authn *out,
                          char *detail, size_t detail_len)
{
    if (!sp || !idp || !out)
        return saml_fail(detail, detail_len, WL_SAML_E_ARGUMENT, "missing argument");
    if (idp->binding != WL_SAML_BINDING_REDIRECT)
        return saml_fail(detail, detail_len, WL_SAML_E_UNSUPPORTED,
                         "IdP has no HTTP-Redirect SingleSignOnService");
    if (idp->want_signed && !sp->key)
        return saml_fail(detail, detail_len, WL_SAML_E_ARGUMENT,
                         "IdP wants signed AuthnRequests but the SP has no key");
    if (relay_state && strlen(relay_state) > MAX_RELAY_STATE)
        return saml_fail(detail, detail_len, WL_SAML_E_ARGUMENT, "RelayState longer than %d bytes",
                         MAX_RELAY_STATE);
    int rc = WL_SAML_E_INTERNAL;
    char id[WL_SAML_ID_LEN + 1];
    unsigned char rnd[16];
    char *xml = NULL, *eid = NULL, *acs = NULL, *dest = NULL, *b64 = NULL, *enc = NULL;
    char *query = NULL, *sig = NULL, *sig_enc = NULL, *url = NULL, *rs_enc = NULL;
    char *alg_enc = NULL;
    unsigned char *z = NULL;
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        goto out;
    id[0] = 'i';
    id[1] = 'd';
    for (int i = 0; i < 16; i++)
        snprintf(id + 2 + 2 * i, 3, "%02x", rnd[i]);
    char instant[32];
    format_instant(now_ms, instant);
    eid = xml_escape(sp->entity_id);
    acs = xml_escape(sp->acs_url);
    dest = xml_escape(idp->sso_url);
    if (!eid || !acs || !dest)
        goto out;
    static const char tmpl[] =
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
        "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"%s\" Version=\"2.0\" "
        "IssueInstant=\"%s\" Destination=\"%s\" AssertionConsumerServiceURL=\"%s\" "
        "ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\">"
        "<saml:Issuer>%s</saml:Issuer>"
        "<samlp:NameIDPolicy AllowCreate=\"true\"/>"
        "</samlp:AuthnRequest>";
    size_t n =
        sizeof tmpl + strlen(id) + strlen(instant) + strlen(dest) + strlen(acs) + strlen(eid);
    xml = malloc(n);
    if (!xml)
        goto out;
    int xml_len = snprintf(xml, n, tmpl, id, instant, dest, acs, eid);
    size_t z_len = 0;
    z = deflate_raw(xml, (size_t)xml_len, &z_len);
    b64 = z ? saml_b64_encode(z, z_len) : NULL;
    enc = b64 ? url_encode(b64, strlen(b64)) : NULL;
    if (relay_state)
        rs_enc = url_encode(relay_state, strlen(relay_state));
    if (!enc || (relay_state && !rs_enc))
        goto out;
    const char *alg = NULL;
    if (sp->key) {
        alg = EVP_PKEY_get_base_id(sp->key) == EVP_PKEY_EC ? ALG_ECDSA_SHA256 : ALG_RSA_SHA256;
        alg_enc = url_encode(alg, strlen(alg));
        if (!alg_enc)
            goto out;
    }
    size_t qn = strlen(enc) + (rs_enc ? strlen(rs_enc) : 0) + (alg_enc ? strlen(alg_enc) : 0) + 64;
    query = malloc(qn);
    if (!query)
        goto out;
    /* the binding fixes the order: SAMLRequest, RelayState, SigAlg */
    snprintf(query, qn, "SAMLRequest=%s%s%s%s%s", enc, rs_enc ? "&RelayState=" : "",
             rs_enc ? rs_enc : "", alg_enc ? "&SigAlg=" : "", alg_enc ? alg_enc : "");
    if (sp->key) {
        sig = sign_b64(sp->key, query, strlen(query));
        sig_enc = sig ? url_encode(sig, strlen(sig)) : NULL;
        if (!sig_enc)
            goto out;
    }
    size_t un = strlen(idp->sso_url) + strlen(query) + (sig_enc ? strlen(sig_enc) : 0) + 32;
    url = malloc(un);
    if (!url)
        goto out;
    snprintf(url, un, "%s%c%s%s%s", idp->sso_url, strchr(idp->sso_url, '?') ? '&' : '?', query,
             sig_enc ? "&Signature=" : "", sig_enc ? sig_enc : "");
    out->url = url;
    url = NULL;
    memcpy(out->request_id, id, sizeof id);
    rc = 0;
out:
    if (rc != 0)
        saml_fail(detail, detail_len, rc, "could not build the AuthnRequest");
    free(xml);
    free(eid);
    free(acs);
    free(dest);
    free(z);
    free(b64);
    free(enc);
    free(rs_enc);
    free(alg_enc);
    free(query);
    free(sig);
    free(sig_enc);
    free(url);
    return rc;
}

/* Returns the contents of a memory BIO as a new NUL-terminated string, or NULL. */
static char *bio_string(BIO *b)
{
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    if (n <= 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
    return s;
}

int wl_saml_sp_credentials_new(const char *common_name, int days, char **key_pem, char **cert_pem,
                               char *detail, size_t detail_len)
{
    if (!common_name || !*common_name || strlen(common_name) > 64 || days < 1 || days > 36500)
        return saml_fail(detail, detail_len, WL_SAML_E_ARGUMENT,
                         "common name must be 1..64 bytes and days 1..36500");
    int rc = WL_SAML_E_INTERNAL;
    EVP_PKEY *key = EVP_RSA_gen(2048);
    X509 *x = X509_new();
    BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
    BIGNUM *serial = BN_new();
    char *k = NULL, *c = NULL;
    if (!key || !x || !kb || !cb || !serial ||
        !BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY))
        goto out;
    X509_NAME *name = X509_get_subject_name(x);
    if (X509_set_version(x, 2) != 1 || !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -300) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) ||
        X509_set_pubkey(x, key) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)common_name,
                                   -1, -1, 0) != 1 ||
        X509_set_issuer_name(x, name) != 1 || X509_sign(x, key, EVP_sha256()) <= 0)
        goto out;
    if (PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1 ||
        PEM_write_bio_X509(cb, x) != 1)
        goto out;
    k = bio_string(kb);
    c = bio_string(cb);
    if (!k || !c)
        goto out;
    *key_pem = k;
    *cert_pem = c;
    k = c = NULL;
    rc = 0;
out:
    if (rc != 0)
        saml_fail(detail, detail_len, rc, "could not generate SP credentials");
    if (k)
        OPENSSL_cleanse(k, strlen(k));
    free(k);
    free(c);
    BN_free(serial);
    BIO_free(kb);
    BIO_free(cb);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}
