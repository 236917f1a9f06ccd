/* saml_util.c - errors, process-wide initialisation, safe XML parsing, text helpers. */
#include "saml_internal.h"

#include <libxml/parser.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/xmlsec.h>

static const struct {
    int code;
    const char *name;
} error_names[] = {
    {WL_SAML_OK, "ok"},
    {WL_SAML_E_INTERNAL, "internal"},
    {WL_SAML_E_ARGUMENT, "argument"},
    {WL_SAML_E_TOO_LARGE, "too_large"},
    {WL_SAML_E_ENCODING, "encoding"},
    {WL_SAML_E_XML, "xml"},
    {WL_SAML_E_DTD, "dtd"},
    {WL_SAML_E_METADATA, "metadata"},
    {WL_SAML_E_CERT, "certificate"},
    {WL_SAML_E_NOT_RESPONSE, "not_response"},
    {WL_SAML_E_STATUS, "status"},
    {WL_SAML_E_ASSERTION_COUNT, "assertion_count"},
    {WL_SAML_E_ENCRYPTED, "encrypted"},
    {WL_SAML_E_UNSIGNED, "unsigned"},
    {WL_SAML_E_SIGNATURE, "signature"},
    {WL_SAML_E_ALGORITHM, "algorithm"},
    {WL_SAML_E_SIGNATURE_SHAPE, "signature_shape"},
    {WL_SAML_E_DUPLICATE_ID, "duplicate_id"},
    {WL_SAML_E_ISSUER, "issuer"},
    {WL_SAML_E_DESTINATION, "destination"},
    {WL_SAML_E_IN_RESPONSE_TO, "in_response_to"},
    {WL_SAML_E_UNKNOWN_REQUEST, "unknown_request"},
    {WL_SAML_E_SUBJECT, "subject"},
    {WL_SAML_E_RECIPIENT, "recipient"},
    {WL_SAML_E_EXPIRED, "expired"},
    {WL_SAML_E_NOT_YET_VALID, "not_yet_valid"},
    {WL_SAML_E_AUDIENCE, "audience"},
    {WL_SAML_E_CONDITION, "condition"},
    {WL_SAML_E_ATTRIBUTE, "attribute"},
    {WL_SAML_E_REPLAY, "replay"},
    {WL_SAML_E_UNSUPPORTED, "unsupported"},
};

const char *wl_saml_strerror(int code)
{
    for (size_t i = 0; i < sizeof error_names / sizeof error_names[0]; i++) {
        if (error_names[i].code == code)
            return error_names[i].name;
    }
    return "unknown";
}

const char *wl_saml_user_message(void)
{
    return "Sign-in failed. Please try again, or contact your administrator if it keeps "
           "happening.";
}

int saml_fail(char *detail, size_t detail_len, int code, const char *fmt, ...)
{
    if (detail && detail_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, detail_len, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* libxml2 and xmlsec report errors through global callbacks that print to stderr; the detail
 * strings carry what matters, so both are silenced. */
static void silent_generic(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static void silent_xmlsec(const char *file, int line, const char *func, const char *obj,
                          const char *subj, int reason, const char *msg)
{
    (void)file;
    (void)line;
    (void)func;
    (void)obj;
    (void)subj;
    (void)reason;
    (void)msg;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result = WL_SAML_E_INTERNAL;

static void global_init_once(void)
{
    xmlInitParser();
    xmlSetGenericErrorFunc(NULL, silent_generic);
    /* never load external DTDs or substitute entities by default, whatever another library of
     * the process asked for */
    xmlSubstituteEntitiesDefault(0);
    xmlLoadExtDtdDefaultValue = 0;
    xmlSecErrorsSetCallback(silent_xmlsec);
    if (xmlSecInit() < 0)
        return;
    if (xmlSecCheckVersion() != 1)
        return;
    if (xmlSecCryptoAppInit(NULL) < 0)
        return;
    if (xmlSecCryptoInit() < 0)
        return;
    init_result = 0;
}

int wl_saml_global_init(void)
{
    pthread_once(&init_once, global_init_once);
    return init_result;
}

/* SAX hook: a document with a DOCTYPE is refused before its declarations are read. */
static void refuse_internal_subset(void *ctx, const xmlChar *name, const xmlChar *ext_id,
                                   const xmlChar *sys_id)
{
    (void)name;
    (void)ext_id;
    (void)sys_id;
    xmlParserCtxtPtr ctxt = ctx;
    ctxt->_private = (void *)1;
    xmlStopParser(ctxt);
}

static void refuse_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
                               const xmlChar *system_id, xmlChar *content)
{
    (void)name;
    (void)type;
    (void)public_id;
    (void)system_id;
    (void)content;
    xmlParserCtxtPtr ctxt = ctx;
    ctxt->_private = (void *)1;
    xmlStopParser(ctxt);
}

int saml_xml_parse(const char *buf, size_t len, xmlDocPtr *out, char *detail, size_t detail_len)
{
    if (len > INT32_MAX)
        return saml_fail(detail, detail_len, WL_SAML_E_TOO_LARGE, "document too large");
    /* cheap early refusal; the SAX hooks below are what enforces it (other encodings) */
    if (memmem(buf, len, "<!DOCTYPE", 9) || memmem(buf, len, "<!ENTITY", 8))
        return saml_fail(detail, detail_len, WL_SAML_E_DTD,
                         "document has a DOCTYPE or entity declaration");
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return saml_fail(detail, detail_len, WL_SAML_E_INTERNAL, "out of memory");
    ctxt->sax->internalSubset = refuse_internal_subset;
    ctxt->sax->externalSubset = refuse_internal_subset;
    ctxt->sax->entityDecl = refuse_entity_decl;
    ctxt->_private = NULL;
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    int dtd = ctxt->_private != NULL;
    int wf = ctxt->wellFormed;
    xmlFreeParserCtxt(ctxt);
    if (dtd || (doc && (doc->intSubset || doc->extSubset))) {
        xmlFreeDoc(doc);
        return saml_fail(detail, detail_len, WL_SAML_E_DTD, "document has a DOCTYPE");
    }
    if (!doc || !wf || !xmlDocGetRootElement(doc)) {
        xmlFreeDoc(doc);
        return saml_fail(detail, detail_len, WL_SAML_E_XML, "document is not well-formed XML");
    }
    *out = doc;
    return 0;
}

int saml_is(const xmlNode *node, const char *ns, const char *name)
{
    return node && node->type == XML_ELEMENT_NODE && node->ns && node->ns->href &&
           strcmp((const char *)node->ns->href, ns) == 0 &&
           strcmp((const char *)node->name, name) == 0;
}

xmlNodePtr saml_child(const xmlNode *parent, const char *ns, const char *name, int *count)
{
    xmlNodePtr first = NULL;
    int n = 0;
    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next) {
        if (saml_is(c, ns, name)) {
            if (!first)
                first = c;
            n++;
        }
    }
    if (count)
        *count = n;
    return first;
}

char *saml_attr(const xmlNode *node, const char *name)
{
    return (char *)xmlGetNoNsProp(node, (const xmlChar *)name);
}

char *saml_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int is_xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Appends the text of node's subtree to buf; returns -1 on an element child or overflow. */
static int text_append(const xmlNode *node, char **buf, size_t *len, size_t *cap)
{
    for (const xmlNode *c = node->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE)
            return -1;
        if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE)
            continue; /* comments and processing instructions carry no text */
        size_t n = c->content ? strlen((const char *)c->content) : 0;
        if (*len + n + 1 > *cap) {
            size_t ncap = (*len + n + 1) * 2;
            char *nb = realloc(*buf, ncap);
            if (!nb)
                return -1;
            *buf = nb;
            *cap = ncap;
        }
        memcpy(*buf + *len, c->content, n);
        *len += n;
        (*buf)[*len] = '\0';
    }
    return 0;
}

char *saml_text(const xmlNode *node, int trim)
{
    size_t len = 0, cap = 64;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    buf[0] = '\0';
    if (text_append(node, &buf, &len, &cap) != 0) {
        free(buf);
        return NULL;
    }
    if (trim) {
        size_t start = 0;
        while (start < len && is_xml_space(buf[start]))
            start++;
        while (len > start && is_xml_space(buf[len - 1]))
            len--;
        memmove(buf, buf + start, len - start);
        buf[len - start] = '\0';
    }
    return buf;
}

unsigned char *saml_b64_decode(const char *src, size_t len, size_t *out_len)
{
    char *clean = malloc(len + 1);
    if (!clean)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (is_xml_space(c))
            continue;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '=')) {
            free(clean);
            return NULL;
        }
        clean[n++] = c;
    }
    size_t pad = 0;
    if (n >= 1 && clean[n - 1] == '=')
        pad++;
    if (n >= 2 && clean[n - 2] == '=')
        pad++;
    /* '=' only as trailing padding */
    for (size_t i = 0; i + pad < n; i++) {
        if (clean[i] == '=') {
            free(clean);
            return NULL;
        }
    }
    if (n == 0 || n % 4 != 0 || n > INT32_MAX) {
        free(clean);
        return NULL;
    }
    unsigned char *out = malloc(n / 4 * 3 + 1);
    if (!out) {
        free(clean);
        return NULL;
    }
    int r = EVP_DecodeBlock(out, (const unsigned char *)clean, (int)n);
    free(clean);
    if (r < 0 || (size_t)r < pad) {
        free(out);
        return NULL;
    }
    *out_len = (size_t)r - pad;
    out[*out_len] = '\0';
    return out;
}

char *saml_b64_encode(const unsigned char *src, size_t len)
{
    if (len > (size_t)INT32_MAX / 2)
        return NULL;
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, src, (int)len);
    return out;
}

/* ---------------------------------------------------------------------------------------- */

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int wl_saml_time_parse(const char *s, int64_t *out_ms)
{
    /* YYYY-MM-DDThh:mm:ss[.fff...](Z|+00:00|-00:00) */
    int y, mo, d, h, mi, sec;
    if (!s || strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
        s[7] != '-' || digits(s + 8, 2, &d) || s[10] != 'T' || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60)
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (d > mdays[mo - 1])
        return -1;
    const char *p = s + 19;
    int ms = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (*p >= '0' && *p <= '9') {
            if (nd < 3)
                ms = ms * 10 + (*p - '0');
            nd++;
            p++;
            if (nd > 12)
                return -1;
        }
        if (nd == 0)
            return -1;
        for (int i = nd; i < 3; i++)
            ms *= 10;
    }
    if (!(strcmp(p, "Z") == 0 || strcmp(p, "+00:00") == 0 || strcmp(p, "-00:00") == 0))
        return -1;
    /* days since the epoch (civil calendar), no timegm/TZ dependence */
    int yy = y - (mo <= 2);
    int era = yy / 400;
    int yoe = yy - era * 400;
    int mp = (mo + 9) % 12;
    int doy = (153 * mp + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + doe - 719468;
    if (sec == 60)
        sec = 59;
    *out_ms = ((days * 86400) + h * 3600 + mi * 60 + sec) * 1000 + ms;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *wl_saml_form_field(const char *body, size_t len, const char *name, size_t max_len,
                         size_t *out_len)
{
    size_t nlen = strlen(name);
    const char *found = NULL;
    size_t found_len = 0;
    size_t i = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && body[j] != '&')
            j++;
        if (j - i > nlen && memcmp(body + i, name, nlen) == 0 && body[i + nlen] == '=') {
            if (found)
                return NULL; /* duplicated: refuse rather than guess */
            found = body + i + nlen + 1;
            found_len = j - (i + nlen + 1);
        }
        i = j + 1;
    }
    if (!found || found_len > max_len * 3)
        return NULL;
    char *out = malloc(found_len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t k = 0; k < found_len; k++) {
        char c = found[k];
        if (c == '+') {
            out[o++] = ' ';
        } else if (c == '%') {
            int hi = k + 2 < found_len ? hexval(found[k + 1]) : -1;
            int lo = k + 2 < found_len ? hexval(found[k + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            k += 2;
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    if (o > max_len) {
        free(out);
        return NULL;
    }
    *out_len = o;
    return out;
}

/* ---------------------------------------------------------------------------------------- */

static int key_safe(const char *s, size_t max)
{
    size_t n = 0;
    if (!s || !*s)
        return 0;
    for (; *s; s++, n++) {
        char c = *s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n <= max;
}

int wl_saml_authn_key(const char *fleet, const char *request_id, char *buf, size_t buf_len)
{
    if (!key_safe(fleet, 256) || !key_safe(request_id, 256))
        return -1;
    int n = snprintf(buf, buf_len, "wl:{%s}:authn:%s", fleet, request_id);
    return n < 0 || (size_t)n >= buf_len ? -1 : n;
}

int wl_saml_replay_key(const char *fleet, const struct wl_saml_result *result, char *buf,
                       size_t buf_len)
{
    if (!result || !result->issuer || !key_safe(fleet, 256) || !key_safe(result->assertion_id, 256))
        return -1;
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)result->issuer, strlen(result->issuer), md);
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    int n = snprintf(buf, buf_len, "wl:{%s}:replay:%s:%s", fleet, hex, result->assertion_id);
    return n < 0 || (size_t)n >= buf_len ? -1 : n;
}
