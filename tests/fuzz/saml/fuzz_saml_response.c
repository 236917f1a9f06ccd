/* fuzz_saml_response.c - feeds the ACS entry point: the input is a POST body
 * (application/x-www-form-urlencoded) or, when it holds no SAMLResponse field, the SAMLResponse
 * value itself; both go through wl_saml_form_field and wl_saml_response_verify against a fixed
 * IdP metadata (its certificate is a throwaway self-signed one, public data only). The first
 * byte also picks the clock (when the seeds were made, epoch, 2100) and unsolicited mode.
 * Seeds: make_corpus.py (responses signed by pysaml2 with the key of that certificate). */
#include "saml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_clock.inc"

static const char idp_metadata[] =
    "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
    "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"https://idp.fuzz/idp\">"
    "<md:IDPSSODescriptor WantAuthnRequestsSigned=\"true\" "
    "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">"
    "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>"
#include "fuzz_idp_cert.inc"
    "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
    "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" "
    "Location=\"https://idp.fuzz/sso\"/>"
    "</md:IDPSSODescriptor></md:EntityDescriptor>";

static struct wl_saml_idp *idp;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!idp) {
        char detail[WL_SAML_DETAIL_MAX];
        if (wl_saml_global_init() != 0 || wl_saml_idp_parse(idp_metadata, sizeof idp_metadata - 1,
                                                            &idp, detail, sizeof detail) != 0)
            abort();
    }
    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    size_t vlen = 0;
    char *value = wl_saml_form_field(body, len, "SAMLResponse", WL_SAML_MAX_MESSAGE, &vlen);
    struct wl_saml_expect exp = {
        .sp_entity_id = "https://gw.fuzz/saml/metadata",
        .acs_url = "https://gw.fuzz/saml/acs",
        .now_ms = (mode & 3) == 0   ? FUZZ_NOW_MS
                  : (mode & 3) == 1 ? 0
                                    : 4102444800000LL,
        .allow_unsolicited = (mode & 4) != 0,
    };
    struct wl_saml_result *r = NULL;
    char detail[WL_SAML_DETAIL_MAX];
    int rc = value ? wl_saml_response_verify(idp, &exp, value, vlen, &r, detail, sizeof detail)
                   : wl_saml_response_verify(idp, &exp, body, len, &r, detail, sizeof detail);
    if (rc == 0) {
        char key[1024];
        wl_saml_replay_key("fuzz", r, key, sizeof key);
    }
    wl_saml_result_free(r);
    free(value);
    return 0;
}
