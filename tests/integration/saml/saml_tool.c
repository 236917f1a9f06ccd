/* saml_tool.c - command-line driver of wl_saml for the integration tests (python + pysaml2).
 *
 *   saml_tool idp METADATA_FILE
 *   saml_tool spmeta ENTITY_ID ACS_URL CERT_PEM_FILE
 *   saml_tool authn METADATA_FILE ENTITY_ID ACS_URL KEY_PEM_FILE RELAY_STATE NOW_MS
 *   saml_tool verify METADATA_FILE ENTITY_ID ACS_URL NOW_MS RESPONSE_FILE FLEET [unsolicited]
 *
 * Prints one JSON object on stdout ("rc", "error", "detail", and the results). RESPONSE_FILE
 * holds either the base64 SAMLResponse or a whole x-www-form-urlencoded POST body. */
#include "saml.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

static int emit(json_t *o, int rc, const char *detail)
{
    json_object_set_new(o, "rc", json_integer(rc));
    json_object_set_new(o, "error", json_string(wl_saml_strerror(rc)));
    json_object_set_new(o, "detail", json_string(detail ? detail : ""));
    char *s = json_dumps(o, JSON_COMPACT);
    puts(s);
    free(s);
    json_decref(o);
    return 0;
}

static struct wl_saml_idp *load_idp(const char *path, int *rc, char *detail)
{
    size_t len = 0;
    char *xml = slurp(path, &len);
    if (!xml) {
        *rc = WL_SAML_E_ARGUMENT;
        snprintf(detail, WL_SAML_DETAIL_MAX, "cannot read %s", path);
        return NULL;
    }
    struct wl_saml_idp *idp = NULL;
    *rc = wl_saml_idp_parse(xml, len, &idp, detail, WL_SAML_DETAIL_MAX);
    free(xml);
    return idp;
}

int main(int argc, char **argv)
{
    char detail[WL_SAML_DETAIL_MAX] = "";
    json_t *o = json_object();
    int rc = 0;
    if (wl_saml_global_init() != 0)
        return 2;
    if (argc == 3 && strcmp(argv[1], "idp") == 0) {
        struct wl_saml_idp *idp = load_idp(argv[2], &rc, detail);
        if (idp) {
            json_object_set_new(o, "entity_id", json_string(wl_saml_idp_entity_id(idp)));
            json_object_set_new(o, "sso_url", json_string(wl_saml_idp_sso_url(idp)));
            json_object_set_new(o, "binding",
                                json_string(wl_saml_idp_sso_binding(idp) == WL_SAML_BINDING_REDIRECT
                                                ? "redirect"
                                                : "post"));
            json_object_set_new(o, "want_signed",
                                json_boolean(wl_saml_idp_wants_signed_requests(idp)));
            json_object_set_new(o, "certs", json_integer((json_int_t)wl_saml_idp_cert_count(idp)));
        }
        wl_saml_idp_free(idp);
        return emit(o, rc, detail);
    }
    if (argc == 5 && strcmp(argv[1], "spmeta") == 0) {
        size_t len = 0;
        char *pem = slurp(argv[4], &len);
        char *md = pem ? wl_saml_sp_metadata(argv[2], argv[3], pem, detail, sizeof detail) : NULL;
        free(pem);
        if (md)
            json_object_set_new(o, "metadata", json_string(md));
        free(md);
        return emit(o, md ? 0 : WL_SAML_E_ARGUMENT, detail);
    }
    if (argc == 8 && strcmp(argv[1], "authn") == 0) {
        struct wl_saml_idp *idp = load_idp(argv[2], &rc, detail);
        struct wl_saml_sp *sp = NULL;
        size_t klen = 0;
        char *key = strcmp(argv[5], "-") == 0 ? NULL : slurp(argv[5], &klen);
        if (idp)
            rc = wl_saml_sp_new(argv[3], argv[4], key, klen, &sp, detail, sizeof detail);
        free(key);
        if (idp && rc == 0) {
            struct wl_saml_authn a;
            rc = wl_saml_authn_request(sp, idp, argv[6][0] ? argv[6] : NULL,
                                       strtoll(argv[7], NULL, 10), &a, detail, sizeof detail);
            if (rc == 0) {
                json_object_set_new(o, "url", json_string(a.url));
                json_object_set_new(o, "request_id", json_string(a.request_id));
                char k[512];
                if (wl_saml_authn_key("fleet1", a.request_id, k, sizeof k) > 0)
                    json_object_set_new(o, "authn_key", json_string(k));
                free(a.url);
            }
        }
        wl_saml_sp_free(sp);
        wl_saml_idp_free(idp);
        return emit(o, rc, detail);
    }
    if ((argc == 8 || argc == 9) && strcmp(argv[1], "verify") == 0) {
        struct wl_saml_idp *idp = load_idp(argv[2], &rc, detail);
        if (!idp)
            return emit(o, rc, detail);
        size_t len = 0, vlen = 0;
        char *body = slurp(argv[6], &len);
        char *value = body;
        if (body && (strncmp(body, "SAMLResponse=", 13) == 0 || strstr(body, "&SAMLResponse="))) {
            value = wl_saml_form_field(body, len, "SAMLResponse", WL_SAML_MAX_MESSAGE, &vlen);
            free(body);
            body = NULL;
            len = vlen;
            if (!value) {
                wl_saml_idp_free(idp);
                return emit(o, WL_SAML_E_ENCODING, "form field SAMLResponse malformed");
            }
        }
        struct wl_saml_expect exp = {
            .sp_entity_id = argv[3],
            .acs_url = argv[4],
            .now_ms = strtoll(argv[5], NULL, 10),
            .allow_unsolicited = argc == 9 && strcmp(argv[8], "unsolicited") == 0,
        };
        struct wl_saml_result *r = NULL;
        rc = value ? wl_saml_response_verify(idp, &exp, value, len, &r, detail, sizeof detail)
                   : WL_SAML_E_ARGUMENT;
        free(value);
        if (rc == 0) {
            json_object_set_new(o, "name_id", json_string(r->name_id));
            json_object_set_new(o, "name_id_format",
                                r->name_id_format ? json_string(r->name_id_format) : json_null());
            json_object_set_new(o, "issuer", json_string(r->issuer));
            json_object_set_new(o, "assertion_id", json_string(r->assertion_id));
            json_object_set_new(o, "in_response_to",
                                r->in_response_to ? json_string(r->in_response_to) : json_null());
            json_object_set_new(o, "not_on_or_after_ms", json_integer(r->not_on_or_after_ms));
            json_object_set_new(o, "session_not_on_or_after_ms",
                                json_integer(r->session_not_on_or_after_ms));
            json_object_set_new(o, "replay_ttl_ms", json_integer(r->replay_ttl_ms));
            json_t *attrs = json_object();
            for (size_t i = 0; i < r->attribute_count; i++) {
                json_t *vals = json_array();
                for (size_t j = 0; j < r->attributes[i].value_count; j++)
                    json_array_append_new(vals, json_string(r->attributes[i].values[j]));
                json_object_set_new(attrs, r->attributes[i].name, vals);
            }
            json_object_set_new(o, "attributes", attrs);
            char k[1024];
            if (wl_saml_replay_key(argv[7], r, k, sizeof k) > 0)
                json_object_set_new(o, "replay_key", json_string(k));
            if (r->in_response_to && wl_saml_authn_key(argv[7], r->in_response_to, k, sizeof k) > 0)
                json_object_set_new(o, "authn_key", json_string(k));
        }
        wl_saml_result_free(r);
        wl_saml_idp_free(idp);
        return emit(o, rc, detail);
    }
    fprintf(stderr, "usage: see the head of saml_tool.c\n");
    json_decref(o);
    return 2;
}
