/* saml.h - SAML 2.0 service-provider core: IdP metadata, SP metadata, AuthnRequest (HTTP-Redirect
 * binding, signed), Response verification (HTTP-POST binding).
 *
 * No I/O: no sockets, no event loop, no Redis. The caller passes what Redis returned (the fleet's
 * idp_metadata, the opened sp_key, sp_cert) and gets back what to store (the AuthnRequest id, the
 * replay-cache key of an accepted assertion). XML signatures are verified with xmlsec1 (OpenSSL
 * backend) on documents parsed by libxml2 with DTDs refused, no entity substitution and no
 * network; every SAML rule (signature placement, algorithms, issuer, destination, recipient,
 * audience, times, InResponseTo) is checked here, on the very element whose data is returned.
 *
 * Threads: call wl_saml_global_init() once before anything else (it is idempotent and
 * thread-safe). After that every function may run on any thread; objects (struct wl_saml_idp,
 * struct wl_saml_sp) are immutable after creation and may be shared between threads. */
#ifndef WL_SAML_H
#define WL_SAML_H

#include <stddef.h>
#include <stdint.h>

/* Error codes: 0 on success, one of these (negative) otherwise. The `detail` strings written by
 * the functions below are for the log and for administrators (they name the field and the value
 * that failed); users only ever see wl_saml_user_message(). */
enum wl_saml_error {
    WL_SAML_OK = 0,
    WL_SAML_E_INTERNAL = -1,         /* out of memory, library failure */
    WL_SAML_E_ARGUMENT = -2,         /* bad argument from the caller (configuration) */
    WL_SAML_E_TOO_LARGE = -3,        /* message over WL_SAML_MAX_MESSAGE */
    WL_SAML_E_ENCODING = -4,         /* not base64 / not UTF-8 / not deflate */
    WL_SAML_E_XML = -5,              /* not well-formed XML */
    WL_SAML_E_DTD = -6,              /* DOCTYPE / entity declarations */
    WL_SAML_E_METADATA = -7,         /* IdP metadata refused (detail says why) */
    WL_SAML_E_CERT = -8,             /* certificate not X.509 / unusable key */
    WL_SAML_E_NOT_RESPONSE = -9,     /* root is not samlp:Response, or Version != 2.0 */
    WL_SAML_E_STATUS = -10,          /* Status is not Success */
    WL_SAML_E_ASSERTION_COUNT = -11, /* not exactly one Assertion, or one out of place (XSW) */
    WL_SAML_E_ENCRYPTED = -12,       /* EncryptedAssertion: not supported (no SP encryption key) */
    WL_SAML_E_UNSIGNED = -13,        /* neither the Assertion nor the Response is signed */
    WL_SAML_E_SIGNATURE = -14,       /* a signature does not verify with the IdP's certificates */
    WL_SAML_E_ALGORITHM = -15,       /* SHA-1 or another algorithm outside the allow-list */
    WL_SAML_E_SIGNATURE_SHAPE = -16, /* reference/transform/placement refused (XSW defences) */
    WL_SAML_E_DUPLICATE_ID = -17,    /* two elements share one ID (XSW defences) */
    WL_SAML_E_ISSUER = -18,          /* Issuer is not the fleet's IdP */
    WL_SAML_E_DESTINATION = -19,     /* Response Destination missing or not our ACS URL */
    WL_SAML_E_IN_RESPONSE_TO = -20,  /* unsolicited, or InResponseTo inconsistent */
    WL_SAML_E_UNKNOWN_REQUEST = -21, /* caller: InResponseTo is not a request we issued */
    WL_SAML_E_SUBJECT = -22,         /* no bearer SubjectConfirmation / no NameID */
    WL_SAML_E_RECIPIENT = -23,       /* SubjectConfirmationData Recipient is not our ACS URL */
    WL_SAML_E_EXPIRED = -24,         /* NotOnOrAfter passed */
    WL_SAML_E_NOT_YET_VALID = -25,   /* NotBefore in the future */
    WL_SAML_E_AUDIENCE = -26,        /* an AudienceRestriction does not name our SP */
    WL_SAML_E_CONDITION = -27,       /* unknown Condition / malformed Conditions */
    WL_SAML_E_ATTRIBUTE = -28,       /* duplicate attribute names / malformed attribute */
    WL_SAML_E_REPLAY = -29,          /* caller: assertion id already in the replay cache */
    WL_SAML_E_UNSUPPORTED = -30,     /* e.g. IdP offers no HTTP-Redirect SSO endpoint */
};

/* Largest SAMLResponse accepted, in base64 characters (checked before decoding). */
#define WL_SAML_MAX_MESSAGE (256 * 1024)
/* Default clock skew allowed on NotBefore/NotOnOrAfter. */
#define WL_SAML_DEFAULT_SKEW_MS 120000
/* Suggested TTL for a stored AuthnRequest id (wl:{F}:authn:<id>). */
#define WL_SAML_REQUEST_TTL_MS 600000
/* Size of a buffer holding a detail message. */
#define WL_SAML_DETAIL_MAX 256

/* Short stable name of an error code ("signature", "expired", ...) for logs and metrics. */
const char *wl_saml_strerror(int code);

/* The one message shown to users for any refusal (details go to the log only). */
const char *wl_saml_user_message(void);

/* Initialises libxml2 and xmlsec1 (OpenSSL backend) once per process, and refuses entity
 * substitution and network access globally. Returns 0 or WL_SAML_E_INTERNAL. Thread-safe. */
int wl_saml_global_init(void);

/* ------------------------------------------------------------------------------------------ */
/* IdP metadata                                                                                */

enum wl_saml_binding {
    WL_SAML_BINDING_REDIRECT = 1, /* urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect */
    WL_SAML_BINDING_POST = 2,     /* urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST */
};

struct wl_saml_idp; /* opaque, immutable once parsed */

/* Parses and validates IdP metadata (an EntityDescriptor, or an EntitiesDescriptor holding
 * exactly one EntityDescriptor with an IDPSSODescriptor). Checks: well-formed, no DTD, an
 * entityID, an IDPSSODescriptor supporting SAML 2.0, a SingleSignOnService with the HTTP-Redirect
 * binding (preferred) or HTTP-POST binding and an https:// (or http://) Location, at least one
 * signing certificate (KeyDescriptor use="signing" or without use), each a valid X.509
 * certificate with an RSA or EC key. Needs no gateway state (the control plane calls it too).
 * On success writes a new object to *out (free with wl_saml_idp_free) and returns 0; otherwise
 * returns an error and writes a message naming the problem to detail[0..detail_len). */
int wl_saml_idp_parse(const char *xml, size_t len, struct wl_saml_idp **out, char *detail,
                      size_t detail_len);
void wl_saml_idp_free(struct wl_saml_idp *idp);

/* Accessors: borrowed strings, valid while idp lives. */
const char *wl_saml_idp_entity_id(const struct wl_saml_idp *idp);
const char *wl_saml_idp_sso_url(const struct wl_saml_idp *idp);
enum wl_saml_binding wl_saml_idp_sso_binding(const struct wl_saml_idp *idp);
int wl_saml_idp_wants_signed_requests(const struct wl_saml_idp *idp);
size_t wl_saml_idp_cert_count(const struct wl_saml_idp *idp);

/* ------------------------------------------------------------------------------------------ */
/* Service provider                                                                            */

/* Builds SP metadata (an EntityDescriptor with an SPSSODescriptor, AuthnRequestsSigned="true",
 * WantAssertionsSigned="true", the signing certificate, and one HTTP-POST
 * AssertionConsumerService) from a template. `cert_pem` is the SP signing certificate (PEM).
 * Returns a new NUL-terminated string (caller frees with free()), or NULL with a message in
 * detail when an argument is invalid (entity id/ACS URL empty, too long or not a URL; cert not
 * X.509). */
char *wl_saml_sp_metadata(const char *entity_id, const char *acs_url, const char *cert_pem,
                          char *detail, size_t detail_len);

/* Generates SP signing credentials: an RSA-2048 key (PEM, PKCS#8) and a self-signed X.509
 * certificate (PEM, SHA-256, subject CN = `common_name`, valid `days` days from now) - what the
 * control plane stores as sp_key (after envelope sealing, aad "F/sp") and sp_cert. Writes new
 * strings to *key_pem and *cert_pem (caller frees both with free(); wipe the key first) and
 * returns 0, or an error with a message in detail. */
int wl_saml_sp_credentials_new(const char *common_name, int days, char **key_pem, char **cert_pem,
                               char *detail, size_t detail_len);

struct wl_saml_sp; /* opaque, immutable: entity id, ACS URL, signing key */

/* Creates the SP of one fleet. `key_pem` (the opened sp_key, PEM private key, may be NULL: then
 * AuthnRequests are unsigned, which wl_saml_authn_request refuses for IdPs that want signed
 * requests) is copied into an OpenSSL key; the caller may wipe its copy afterwards. Returns 0
 * and a new object in *out, or an error with a message in detail. */
int wl_saml_sp_new(const char *entity_id, const char *acs_url, const char *key_pem, size_t key_len,
                   struct wl_saml_sp **out, char *detail, size_t detail_len);
void wl_saml_sp_free(struct wl_saml_sp *sp);
const char *wl_saml_sp_entity_id(const struct wl_saml_sp *sp);
const char *wl_saml_sp_acs_url(const struct wl_saml_sp *sp);

/* An AuthnRequest id: "id" + 32 lowercase hex digits (128 random bits from OpenSSL's CSPRNG);
 * starts with a letter, so it is a valid xs:ID and safe in a Redis key. */
#define WL_SAML_ID_LEN 34

struct wl_saml_authn {
    char *url;                           /* full redirect URL (Location), caller frees */
    char request_id[WL_SAML_ID_LEN + 1]; /* store as wl:{F}:authn:<request_id> with a short TTL */
};

/* Builds an AuthnRequest for the IdP's HTTP-Redirect SingleSignOnService: DEFLATE, base64,
 * URL-encode, then (when the SP has a key) SigAlg=rsa-sha256 (or ecdsa-sha256 for an EC key)
 * and Signature over "SAMLRequest=..&RelayState=..&SigAlg=.." as the binding specifies.
 * `relay_state` (may be NULL) must be at most 80 bytes (binding rule): use an opaque key.
 * `now_ms` is the current time (ms since the epoch) for IssueInstant. On success fills *out and
 * returns 0; free out->url with free(). */
int wl_saml_authn_request(const struct wl_saml_sp *sp, const struct wl_saml_idp *idp,
                          const char *relay_state, int64_t now_ms, struct wl_saml_authn *out,
                          char *detail, size_t detail_len);

/* ------------------------------------------------------------------------------------------ */
/* Response (ACS, HTTP-POST binding)                                                           */

struct wl_saml_expect {
    const char *sp_entity_id; /* the Audience we require */
    const char *acs_url;      /* exact Destination and Recipient (from configuration) */
    int64_t now_ms;           /* current time, ms since the epoch */
    int64_t skew_ms;          /* allowed clock skew; 0 = WL_SAML_DEFAULT_SKEW_MS */
    int allow_unsolicited;    /* accept responses without InResponseTo (IdP-initiated) */
};

struct wl_saml_attribute {
    char *name;
    char **values;
    size_t value_count;
};

struct wl_saml_result {
    char *name_id;                      /* the user name: the NameID's whole text */
    char *name_id_format;               /* may be NULL */
    char *issuer;                       /* the IdP entity id */
    char *assertion_id;                 /* for the replay cache */
    char *in_response_to;               /* NULL for an (allowed) unsolicited response */
    int64_t not_on_or_after_ms;         /* assertion validity end (min of Conditions and
                                           SubjectConfirmationData), ms since the epoch */
    int64_t session_not_on_or_after_ms; /* AuthnStatement SessionNotOnOrAfter, 0 when absent */
    int64_t replay_ttl_ms;              /* how long to keep the replay-cache key (> 0) */
    struct wl_saml_attribute *attributes;
    size_t attribute_count;
};

/* Verifies a POSTed SAMLResponse (base64 text as sent, whitespace allowed) against the fleet's
 * IdP and the SP's expectations, implementing the checks of docs (gateway/saml/README.md):
 * size bound, no DTD, Response/Version/Status, exactly one Assertion in place, signature(s) by
 * one of the IdP metadata certificates only (KeyInfo ignored), algorithm and transform
 * allow-lists, signature bound to the element whose data is used, unique IDs, Issuer,
 * Destination, bearer SubjectConfirmation with exact Recipient, times with skew, Audience,
 * NameID as whole text, unique attribute names.
 *
 * Redis stays with the caller: on success the caller MUST still (1) GETDEL
 * wl:{F}:authn:<in_response_to> and refuse with WL_SAML_E_UNKNOWN_REQUEST when it was absent,
 * and (2) SET wl:{F}:replay:<...> (see wl_saml_replay_key) NX PX replay_ttl_ms and refuse with
 * WL_SAML_E_REPLAY when it existed (and fail closed when Redis is down).
 *
 * On success writes a new result to *out (free with wl_saml_result_free) and returns 0;
 * otherwise returns an error code and writes the detail for the log. Bad input never crashes,
 * hangs or allocates without bound. */
int wl_saml_response_verify(const struct wl_saml_idp *idp, const struct wl_saml_expect *expect,
                            const char *saml_response, size_t len, struct wl_saml_result **out,
                            char *detail, size_t detail_len);
void wl_saml_result_free(struct wl_saml_result *result);

/* Redis keys (docs/redis-schema.md). Each writes a NUL-terminated key into buf and returns its
 * length, or -1 when it does not fit or an argument is invalid (fleet name or id with characters
 * outside [A-Za-z0-9._-], which cannot come from this library). */
int wl_saml_authn_key(const char *fleet, const char *request_id, char *buf, size_t buf_len);
/* wl:{F}:replay:<first 32 hex digits of SHA-256(issuer)>:<assertion id> */
int wl_saml_replay_key(const char *fleet, const struct wl_saml_result *result, char *buf,
                       size_t buf_len);

/* Finds field `name` in an application/x-www-form-urlencoded body and URL-decodes it ('+' is a
 * space). Returns a new NUL-terminated string (caller frees) and its length in *out_len, or NULL
 * when absent, duplicated, malformed, or longer than max_len. */
char *wl_saml_form_field(const char *body, size_t len, const char *name, size_t max_len,
                         size_t *out_len);

/* Parses an xs:dateTime in UTC ("2026-11-23T15:26:43Z", optional fraction, "Z" or "+00:00")
 * into ms since the epoch. Returns 0 or -1. Exposed for tests. */
int wl_saml_time_parse(const char *s, int64_t *out_ms);

#endif
