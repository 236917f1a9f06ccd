/* saml_internal.h - helpers shared by the files of wl_saml; not part of the public API. */
#ifndef WL_SAML_INTERNAL_H
#define WL_SAML_INTERNAL_H

#include "saml.h"

#include <libxml/tree.h>
#include <stdarg.h>
#include <stdint.h>

#define SAML_NS_PROTOCOL "urn:oasis:names:tc:SAML:2.0:protocol"
#define SAML_NS_ASSERTION "urn:oasis:names:tc:SAML:2.0:assertion"
#define SAML_NS_METADATA "urn:oasis:names:tc:SAML:2.0:metadata"
#define SAML_NS_DSIG "http://www.w3.org/2000/09/xmldsig#"
#define SAML_BINDING_REDIRECT "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
#define SAML_BINDING_POST "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"

/* An IdP signing certificate: DER bytes (validated X.509 with an RSA or EC key). */
struct saml_cert {
    unsigned char *der;
    size_t len;
};

struct wl_saml_idp {
    char *entity_id;
    char *sso_url;
    enum wl_saml_binding binding;
    int want_signed;
    struct saml_cert *certs;
    size_t cert_count;
};

/* Writes a printf-formatted message into detail (if non-NULL) and returns code. */
int saml_fail(char *detail, size_t detail_len, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Parses XML safely: no DTD (refused as soon as a DOCTYPE is seen, before any declaration is
 * read), no entity substitution, no network, size-bounded by the caller. Returns 0 and a new
 * document in *out (free with xmlFreeDoc), or WL_SAML_E_DTD / WL_SAML_E_XML. */
int saml_xml_parse(const char *buf, size_t len, xmlDocPtr *out, char *detail, size_t detail_len);

/* True when node is an element named `name` in namespace `ns`. */
int saml_is(const xmlNode *node, const char *ns, const char *name);
/* First element child of parent named ns:name, or NULL; *count (if non-NULL) gets how many. */
xmlNodePtr saml_child(const xmlNode *parent, const char *ns, const char *name, int *count);
/* Attribute value (no namespace) as a new string (free with xmlFree), or NULL. */
char *saml_attr(const xmlNode *node, const char *name);
/* The element's whole text content (all text and CDATA descendants, comments skipped), as a new
 * malloc'ed string with surrounding XML whitespace trimmed when trim is set; NULL when the
 * element has element children (mixed content refused) or on allocation failure. */
char *saml_text(const xmlNode *node, int trim);

/* Base64-decodes src (whitespace ignored). Returns a new buffer (NUL-terminated) and its length,
 * or NULL when src is not base64. */
unsigned char *saml_b64_decode(const char *src, size_t len, size_t *out_len);
/* Base64-encodes without line breaks. Returns a new NUL-terminated string or NULL. */
char *saml_b64_encode(const unsigned char *src, size_t len);

/* strdup that returns NULL for NULL. */
char *saml_strdup(const char *s);

#endif
