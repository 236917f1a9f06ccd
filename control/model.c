/* model.c - routing and validation driven by the botocore service models (see model.h). */
#include "model.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <openssl/evp.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

extern const char ctl_model_worklink_json[];
extern const char ctl_model_acm_json[];

#define MATCH_LIMIT 200000
#define MAX_DEPTH 32

struct pattern {
    const char *shape; /* borrowed from the model JSON */
    pcre2_code *re;
};

struct route {
    const char *op;
    const char *method;
    const char *uri;
    json_t *opj;
};

struct svc {
    const char *name;
    const char *signing_name;
    const char *event_source;
    const char *target_prefix; /* JSON 1.1 services */
    json_t *root;
    json_t *shapes;
    struct pattern *pats;
    size_t npats;
    struct route *routes;
    size_t nroutes;
};

struct ctl_model {
    struct svc wl, acm;
};

/* ---- loading ------------------------------------------------------------------------------- */

static int svc_load(struct svc *s, const char *name, const char *text, char *err, size_t errlen)
{
    json_error_t je;
    s->name = name;
    s->root = json_loads(text, 0, &je);
    if (!s->root) {
        snprintf(err, errlen, "%s model: %s (line %d)", name, je.text, je.line);
        return -1;
    }
    s->shapes = json_object_get(s->root, "shapes");
    json_t *ops = json_object_get(s->root, "operations");
    json_t *meta = json_object_get(s->root, "metadata");
    if (!json_is_object(s->shapes) || !json_is_object(ops) || !json_is_object(meta)) {
        snprintf(err, errlen, "%s model: no shapes/operations/metadata", name);
        return -1;
    }
    s->signing_name = json_string_value(json_object_get(meta, "signingName"));
    if (!s->signing_name)
        s->signing_name = json_string_value(json_object_get(meta, "endpointPrefix"));
    s->target_prefix = json_string_value(json_object_get(meta, "targetPrefix"));
    s->event_source = strcmp(name, "acm") == 0 ? "acm.amazonaws.com" : "worklink.amazonaws.com";
    if (!s->signing_name) {
        snprintf(err, errlen, "%s model: no signingName", name);
        return -1;
    }
    s->routes = calloc(json_object_size(ops) + 1, sizeof *s->routes);
    const char *k;
    json_t *v;
    json_object_foreach(ops, k, v)
    {
        json_t *http = json_object_get(v, "http");
        struct route *r = &s->routes[s->nroutes++];
        r->op = k;
        r->opj = v;
        r->method = json_string_value(json_object_get(http, "method"));
        r->uri = json_string_value(json_object_get(http, "requestUri"));
        if (!r->method || !r->uri) {
            snprintf(err, errlen, "%s model: operation %s has no http binding", name, k);
            return -1;
        }
    }
    s->pats = calloc(json_object_size(s->shapes) + 1, sizeof *s->pats);
    json_object_foreach(s->shapes, k, v)
    {
        const char *p = json_string_value(json_object_get(v, "pattern"));
        if (!p)
            continue;
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)p, PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_ANCHORED |
                                           PCRE2_ENDANCHORED | PCRE2_DOLLAR_ENDONLY,
                                       &ec, &eo, NULL);
        if (!re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            snprintf(err, errlen, "%s model: pattern of %s does not compile: %s", name, k,
                     (char *)msg);
            return -1;
        }
        s->pats[s->npats].shape = k;
        s->pats[s->npats].re = re;
        s->npats++;
    }
    if (!s->routes || !s->pats)
        abort();
    return 0;
}

static void svc_dispose(struct svc *s)
{
    for (size_t i = 0; i < s->npats; i++)
        pcre2_code_free(s->pats[i].re);
    free(s->pats);
    free(s->routes);
    json_decref(s->root);
}

int ctl_model_load_from(const char *worklink_json, const char *acm_json, struct ctl_model **out,
                        char *err, size_t errlen)
{
    struct ctl_model *m = calloc(1, sizeof *m);
    if (!m)
        abort();
    if (svc_load(&m->wl, "worklink", worklink_json, err, errlen) < 0 ||
        svc_load(&m->acm, "acm", acm_json, err, errlen) < 0) {
        ctl_model_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

int ctl_model_load(struct ctl_model **out, char *err, size_t errlen)
{
    return ctl_model_load_from(ctl_model_worklink_json, ctl_model_acm_json, out, err, errlen);
}

void ctl_model_free(struct ctl_model *m)
{
    if (!m)
        return;
    svc_dispose(&m->wl);
    svc_dispose(&m->acm);
    free(m);
}

static const struct svc *svc_of(const struct ctl_model *m, const char *service)
{
    return strcmp(service, "acm") == 0 ? &m->acm : &m->wl;
}

static const pcre2_code *pattern_of(const struct svc *s, const char *shape)
{
    for (size_t i = 0; i < s->npats; i++)
        if (strcmp(s->pats[i].shape, shape) == 0)
            return s->pats[i].re;
    return NULL;
}

/* ---- routing ------------------------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into a new string; NULL when an escape is malformed or decodes to NUL. */
static char *pct_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        abort();
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* Matches a REST path against a template like "/tags/{ResourceArn}". A label in the last
 * segment takes the rest of the path. Returns true on a match; captures (label name and raw
 * value slices) are written when caps != NULL. */
struct capture {
    const char *name;
    size_t name_len;
    struct wl_slice raw;
};

static bool uri_match(const char *tmpl, struct wl_slice path, struct capture *caps, size_t maxcaps,
                      size_t *ncaps)
{
    size_t ti = 0, pi = 0, tn = strlen(tmpl), nc = 0;
    while (ti < tn) {
        if (tmpl[ti] == '{') {
            const char *close = strchr(tmpl + ti, '}');
            if (!close)
                return false;
            size_t name_len = (size_t)(close - (tmpl + ti + 1));
            size_t after = (size_t)(close - tmpl) + 1;
            size_t start = pi;
            if (after >= tn) {
                pi = path.len; /* last label: the rest */
            } else {
                while (pi < path.len && path.base[pi] != '/')
                    pi++;
            }
            if (pi == start)
                return false;
            if (caps && nc < maxcaps) {
                caps[nc].name = tmpl + ti + 1;
                caps[nc].name_len = name_len;
                caps[nc].raw.base = path.base + start;
                caps[nc].raw.len = pi - start;
                nc++;
            }
            ti = after;
            continue;
        }
        if (tmpl[ti] == '?')
            break; /* literal query part of a template (none in our models) */
        if (pi >= path.len || path.base[pi] != tmpl[ti])
            return false;
        ti++;
        pi++;
    }
    if (ncaps)
        *ncaps = nc;
    return pi == path.len;
}

static bool slice_eq(struct wl_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.base, lit, n) == 0;
}

int ctl_model_route(const struct ctl_model *m, struct wl_slice method, struct wl_slice path,
                    const char *amz_target, struct ctl_route *out, char *msg, size_t msglen)
{
    if (amz_target) {
        const struct svc *s = &m->acm;
        size_t pl = strlen(s->target_prefix);
        if (strncmp(amz_target, s->target_prefix, pl) != 0 || amz_target[pl] != '.') {
            snprintf(msg, msglen, "unknown X-Amz-Target %.100s", amz_target);
            return -1;
        }
        if (!slice_eq(method, "POST") || !slice_eq(path, "/")) {
            snprintf(msg, msglen, "%s requests are POST /", s->target_prefix);
            return -1;
        }
        const char *op = amz_target + pl + 1;
        for (size_t i = 0; i < s->nroutes; i++)
            if (strcmp(s->routes[i].op, op) == 0) {
                out->service = s->name;
                out->op = s->routes[i].op;
                out->signing_name = s->signing_name;
                out->event_source = s->event_source;
                out->op_model = &s->routes[i];
                return 0;
            }
        snprintf(msg, msglen, "unknown operation %.100s", amz_target);
        return -1;
    }
    const struct svc *s = &m->wl;
    bool path_known = false;
    for (size_t i = 0; i < s->nroutes; i++) {
        if (!uri_match(s->routes[i].uri, path, NULL, 0, NULL))
            continue;
        path_known = true;
        if (!slice_eq(method, s->routes[i].method))
            continue;
        out->service = s->name;
        out->op = s->routes[i].op;
        out->signing_name = s->signing_name;
        out->event_source = s->event_source;
        out->op_model = &s->routes[i];
        return 0;
    }
    snprintf(msg, msglen, "%s %.*s: %s", path_known ? "method not allowed for" : "no operation at",
             (int)(path.len > 200 ? 200 : path.len), path.base,
             path_known ? "see the service model" : "unknown path");
    return -1;
}

/* ---- input building ------------------------------------------------------------------------ */

static json_t *shape_of(const struct svc *s, const char *name)
{
    return json_object_get(s->shapes, name);
}

static const char *shape_type(const struct svc *s, const char *name)
{
    return json_string_value(json_object_get(shape_of(s, name), "type"));
}

int ctl_model_input(const struct ctl_model *m, const struct ctl_route *r, struct wl_slice path,
                    struct wl_slice query, const char *body, size_t body_len, json_t **out,
                    char *msg, size_t msglen)
{
    const struct svc *s = svc_of(m, r->service);
    const struct route *rt = r->op_model;
    json_t *in = NULL;
    size_t i = 0;
    while (i < body_len && isspace((unsigned char)body[i]))
        i++;
    if (i == body_len) {
        in = json_object();
    } else {
        json_error_t je;
        in = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &je);
        if (!in) {
            snprintf(msg, msglen, "request body is not valid JSON: %s", je.text);
            return -1;
        }
        if (!json_is_object(in)) {
            json_decref(in);
            snprintf(msg, msglen, "request body must be a JSON object");
            return -1;
        }
    }
    const char *in_shape =
        json_string_value(json_object_get(json_object_get(rt->opj, "input"), "shape"));
    json_t *members = json_object_get(shape_of(s, in_shape ? in_shape : ""), "members");
    if (!members)
        goto done;

    /* URI labels */
    struct capture caps[4];
    size_t ncaps = 0;
    uri_match(rt->uri, path, caps, 4, &ncaps);
    for (size_t c = 0; c < ncaps; c++) {
        const char *mk;
        json_t *mv;
        json_object_foreach(members, mk, mv)
        {
            const char *ln = json_string_value(json_object_get(mv, "locationName"));
            const char *loc = json_string_value(json_object_get(mv, "location"));
            if (!loc || strcmp(loc, "uri") != 0 || !ln || strlen(ln) != caps[c].name_len ||
                memcmp(ln, caps[c].name, caps[c].name_len) != 0)
                continue;
            char *v = pct_decode(caps[c].raw.base, caps[c].raw.len);
            if (!v) {
                json_decref(in);
                snprintf(msg, msglen, "%s: malformed percent-encoding in the path", mk);
                return -1;
            }
            json_object_set_new(in, mk, json_string(v));
            free(v);
        }
    }

    /* query string members */
    const char *mk;
    json_t *mv;
    json_object_foreach(members, mk, mv)
    {
        const char *loc = json_string_value(json_object_get(mv, "location"));
        const char *ln = json_string_value(json_object_get(mv, "locationName"));
        if (!loc || strcmp(loc, "querystring") != 0 || !ln)
            continue;
        const char *mshape = json_string_value(json_object_get(mv, "shape"));
        const char *type = shape_type(s, mshape ? mshape : "");
        bool is_list = type && strcmp(type, "list") == 0;
        json_t *vals = json_array();
        size_t ln_len = strlen(ln), q = 0;
        while (q < query.len) {
            size_t e = q;
            while (e < query.len && query.base[e] != '&')
                e++;
            const char *eq = memchr(query.base + q, '=', e - q);
            size_t klen = eq ? (size_t)(eq - (query.base + q)) : e - q;
            char *key = pct_decode(query.base + q, klen);
            if (key && strlen(key) == ln_len && memcmp(key, ln, ln_len) == 0) {
                char *val = eq ? pct_decode(eq + 1, (size_t)(query.base + e - eq - 1)) : strdup("");
                if (!val) {
                    free(key);
                    json_decref(vals);
                    json_decref(in);
                    snprintf(msg, msglen, "%s: malformed percent-encoding in the query", mk);
                    return -1;
                }
                json_array_append_new(vals, json_string(val));
                free(val);
            }
            free(key);
            q = e + 1;
        }
        if (json_array_size(vals) > 0) {
            if (is_list) {
                json_object_set(in, mk, vals);
            } else if (type && (strcmp(type, "integer") == 0 || strcmp(type, "long") == 0)) {
                const char *sv = json_string_value(json_array_get(vals, 0));
                char *end = NULL;
                long long n = strtoll(sv, &end, 10);
                if (!*sv || *end) {
                    json_decref(vals);
                    json_decref(in);
                    snprintf(msg, msglen, "%s: must be an integer", mk);
                    return -1;
                }
                json_object_set_new(in, mk, json_integer(n));
            } else {
                json_object_set(in, mk, json_array_get(vals, json_array_size(vals) - 1));
            }
        }
        json_decref(vals);
    }
done:
    *out = in;
    return 0;
}

/* ---- validation ---------------------------------------------------------------------------- */

static size_t utf8_len(const char *s, size_t n)
{
    size_t cps = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            cps++;
    return cps;
}

static bool get_int(json_t *shape, const char *k, long long *out)
{
    json_t *v = json_object_get(shape, k);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        *out = (long long)json_real_value(v);
        return true;
    }
    return false;
}

static int vfail(char *msg, size_t msglen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int vfail(char *msg, size_t msglen, const char *path, const char *fmt, ...)
{
    char rule[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rule, sizeof rule, fmt, ap);
    va_end(ap);
    snprintf(msg, msglen, "%s: %s", path, rule);
    return -1;
}

static int validate(const struct svc *s, const char *shape_name, json_t *v, const char *path,
                    int depth, char *msg, size_t msglen);

static int check_length(long long n, json_t *shape, const char *path, const char *unit, char *msg,
                        size_t msglen)
{
    long long lo, hi;
    if (get_int(shape, "min", &lo) && n < lo)
        return vfail(msg, msglen, path, "must have at least %lld %s (has %lld)", lo, unit, n);
    if (get_int(shape, "max", &hi) && n > hi)
        return vfail(msg, msglen, path, "must have at most %lld %s (has %lld)", hi, unit, n);
    return 0;
}

static size_t b64_decoded_len(const char *s, size_t n, bool *ok)
{
    *ok = false;
    if (n % 4 != 0)
        return 0;
    size_t pad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '=') {
            if (i < n - 2)
                return 0;
            pad++;
        } else if (pad || !(isalnum(c) || c == '+' || c == '/')) {
            return 0;
        }
    }
    *ok = true;
    return n / 4 * 3 - pad;
}

static int validate_string(const struct svc *s, const char *shape_name, json_t *shape, json_t *v,
                           const char *path, char *msg, size_t msglen)
{
    if (!json_is_string(v))
        return vfail(msg, msglen, path, "must be a string");
    const char *str = json_string_value(v);
    size_t n = json_string_length(v);
    if (memchr(str, '\0', n))
        return vfail(msg, msglen, path, "must not contain NUL characters");
    if (check_length((long long)utf8_len(str, n), shape, path, "characters", msg, msglen) < 0)
        return -1;
    json_t *en = json_object_get(shape, "enum");
    if (json_is_array(en)) {
        size_t i;
        json_t *e;
        bool found = false;
        json_array_foreach(en, i, e)
        {
            if (json_is_string(e) && strcmp(json_string_value(e), str) == 0)
                found = true;
        }
        if (!found) {
            char list[300] = "";
            size_t off = 0;
            json_array_foreach(en, i, e)
            {
                int w = snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "",
                                 json_string_value(e) ? json_string_value(e) : "");
                if (w < 0 || (size_t)w >= sizeof list - off)
                    break;
                off += (size_t)w;
            }
            return vfail(msg, msglen, path, "must be one of: %s", list);
        }
    }
    const pcre2_code *re = pattern_of(s, shape_name);
    if (re) {
        if (strcmp(shape_name, "TagKey") == 0 && strncmp(str, "aws:", 4) == 0)
            return vfail(msg, msglen, path,
                         "tag keys must not start with 'aws:' (must match pattern %s)",
                         json_string_value(json_object_get(shape, "pattern")));
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
        pcre2_match_context *mc = pcre2_match_context_create(NULL);
        if (!md || !mc)
            abort();
        pcre2_set_match_limit(mc, MATCH_LIMIT);
        int rc = pcre2_match(re, (PCRE2_SPTR)str, n, 0, 0, md, mc);
        pcre2_match_data_free(md);
        pcre2_match_context_free(mc);
        if (rc < 0)
            return vfail(msg, msglen, path, "must match pattern %s",
                         json_string_value(json_object_get(shape, "pattern")));
    }
    return 0;
}

static int validate(const struct svc *s, const char *shape_name, json_t *v, const char *path,
                    int depth, char *msg, size_t msglen)
{
    json_t *shape = shape_of(s, shape_name);
    const char *type = json_string_value(json_object_get(shape, "type"));
    if (!type)
        return 0;
    if (depth > MAX_DEPTH)
        return vfail(msg, msglen, path, "nested too deeply");
    char sub[600];
    if (strcmp(type, "structure") == 0) {
        if (!json_is_object(v))
            return vfail(msg, msglen, path, "must be an object");
        json_t *members = json_object_get(shape, "members");
        const char *k;
        json_t *mv;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, mv)
        {
            if (!json_object_get(members, k) || json_is_null(mv))
                json_object_del(v, k); /* unknown members are ignored, like AWS */
        }
        json_t *req = json_object_get(shape, "required");
        size_t i;
        json_t *rn;
        json_array_foreach(req, i, rn)
        {
            const char *name = json_string_value(rn);
            if (name && !json_object_get(v, name)) {
                snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", name);
                return vfail(msg, msglen, sub, "is required");
            }
        }
        json_object_foreach(v, k, mv)
        {
            json_t *mdef = json_object_get(members, k);
            const char *ms = json_string_value(json_object_get(mdef, "shape"));
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", k);
            if (ms && validate(s, ms, mv, sub, depth + 1, msg, msglen) < 0)
                return -1;
        }
        return 0;
    }
    if (strcmp(type, "list") == 0) {
        if (!json_is_array(v))
            return vfail(msg, msglen, path, "must be a list");
        if (check_length((long long)json_array_size(v), shape, path, "items", msg, msglen) < 0)
            return -1;
        const char *ms =
            json_string_value(json_object_get(json_object_get(shape, "member"), "shape"));
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            if (ms && validate(s, ms, e, sub, depth + 1, msg, msglen) < 0)
                return -1;
        }
        return 0;
    }
    if (strcmp(type, "map") == 0) {
        if (!json_is_object(v))
            return vfail(msg, msglen, path, "must be a map (JSON object)");
        if (check_length((long long)json_object_size(v), shape, path, "entries", msg, msglen) < 0)
            return -1;
        const char *ks = json_string_value(json_object_get(json_object_get(shape, "key"), "shape"));
        const char *vs =
            json_string_value(json_object_get(json_object_get(shape, "value"), "shape"));
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e)
        {
            snprintf(sub, sizeof sub, "%s key '%.200s'", path, k);
            json_t *kj = json_string(k);
            int rc = ks ? validate(s, ks, kj, sub, depth + 1, msg, msglen) : 0;
            json_decref(kj);
            if (rc < 0)
                return -1;
            snprintf(sub, sizeof sub, "%s['%.200s']", path, k);
            if (vs && validate(s, vs, e, sub, depth + 1, msg, msglen) < 0)
                return -1;
        }
        return 0;
    }
    if (strcmp(type, "string") == 0)
        return validate_string(s, shape_name, shape, v, path, msg, msglen);
    if (strcmp(type, "integer") == 0 || strcmp(type, "long") == 0) {
        if (!json_is_integer(v))
            return vfail(msg, msglen, path, "must be an integer");
        long long n = json_integer_value(v), lo, hi;
        if (get_int(shape, "min", &lo) && n < lo)
            return vfail(msg, msglen, path, "must be at least %lld", lo);
        if (get_int(shape, "max", &hi) && n > hi)
            return vfail(msg, msglen, path, "must be at most %lld", hi);
        return 0;
    }
    if (strcmp(type, "boolean") == 0) {
        if (!json_is_boolean(v))
            return vfail(msg, msglen, path, "must be a boolean");
        return 0;
    }
    if (strcmp(type, "timestamp") == 0 || strcmp(type, "double") == 0 ||
        strcmp(type, "float") == 0) {
        if (!json_is_number(v))
            return vfail(msg, msglen, path, "must be a number");
        return 0;
    }
    if (strcmp(type, "blob") == 0) {
        if (!json_is_string(v))
            return vfail(msg, msglen, path, "must be a base64 string");
        bool ok;
        size_t n = b64_decoded_len(json_string_value(v), json_string_length(v), &ok);
        if (!ok)
            return vfail(msg, msglen, path, "must be valid base64");
        return check_length((long long)n, shape, path, "bytes", msg, msglen);
    }
    return 0;
}

int ctl_model_validate(const struct ctl_model *m, const struct ctl_route *r, json_t *in, char *msg,
                       size_t msglen)
{
    const struct svc *s = svc_of(m, r->service);
    const struct route *rt = r->op_model;
    const char *in_shape =
        json_string_value(json_object_get(json_object_get(rt->opj, "input"), "shape"));
    if (!in_shape)
        return 0;
    return validate(s, in_shape, in, "", 0, msg, msglen);
}

int ctl_model_validate_shape(const struct ctl_model *m, const char *service, const char *shape,
                             json_t *v, char *msg, size_t msglen)
{
    const struct svc *s = svc_of(m, service);
    if (!shape_of(s, shape)) {
        snprintf(msg, msglen, "unknown shape %s", shape);
        return -1;
    }
    return validate(s, shape, v, shape, 0, msg, msglen);
}

static bool op_lists_error(const struct ctl_route *r, const char *name)
{
    const struct route *rt = r->op_model;
    json_t *errs = json_object_get(rt->opj, "errors");
    size_t i;
    json_t *e;
    json_array_foreach(errs, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "shape"));
        if (n && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

const char *ctl_model_validation_error(const struct ctl_route *r, const char *member)
{
    if (strcmp(r->service, "acm") != 0)
        return "InvalidRequestException";
    if (member && strstr(member, "Arn") && op_lists_error(r, "InvalidArnException"))
        return "InvalidArnException";
    if (op_lists_error(r, "ValidationException"))
        return "ValidationException";
    if (op_lists_error(r, "InvalidParameterException"))
        return "InvalidParameterException";
    return "ValidationException";
}

int ctl_model_error_status(const struct ctl_model *m, const struct ctl_route *r, const char *type,
                           int fallback)
{
    const struct svc *s = svc_of(m, r->service);
    json_t *sh = shape_of(s, type);
    long long st;
    if (sh && json_is_true(json_object_get(sh, "exception")) &&
        get_int(json_object_get(sh, "error"), "httpStatusCode", &st))
        return (int)st;
    return fallback;
}

/* ---- redaction ----------------------------------------------------------------------------- */

static json_t *redacted(const char *s, size_t n, bool keep_size)
{
    char fp[18];
    wl_log_redact(fp, s, n);
    if (!keep_size)
        return json_string(fp);
    char buf[80];
    snprintf(buf, sizeof buf, "<%zu characters, %s>", n, fp);
    return json_string(buf);
}

static json_t *redact(const struct svc *s, const char *shape_name, const char *member,
                      const json_t *v, int depth)
{
    json_t *shape = shape_name ? shape_of(s, shape_name) : NULL;
    if (json_is_string(v)) {
        const char *str = json_string_value(v);
        size_t n = json_string_length(v);
        if ((shape && json_is_true(json_object_get(shape, "sensitive"))) ||
            (member && strstr(member, "SamlMetadata")) || (member && strstr(member, "PrivateKey")))
            return redacted(str, n, false);
        if (n > 2048)
            return redacted(str, n, true);
        return json_deep_copy(v);
    }
    if (depth > MAX_DEPTH)
        return json_null();
    if (json_is_object(v)) {
        json_t *out = json_object();
        json_t *members = json_object_get(shape, "members");
        const char *type = json_string_value(json_object_get(shape, "type"));
        bool is_map = type && strcmp(type, "map") == 0;
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e)
        {
            const char *ms = NULL;
            if (is_map)
                ms = json_string_value(json_object_get(json_object_get(shape, "value"), "shape"));
            else
                ms = json_string_value(json_object_get(json_object_get(members, k), "shape"));
            json_object_set_new(out, k, redact(s, ms, is_map ? member : k, e, depth + 1));
        }
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        const char *ms =
            json_string_value(json_object_get(json_object_get(shape, "member"), "shape"));
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) json_array_append_new(out, redact(s, ms, member, e, depth + 1));
        return out;
    }
    return json_deep_copy(v);
}

json_t *ctl_model_redact(const struct ctl_model *m, const struct ctl_route *r, const json_t *v,
                         bool output)
{
    const struct svc *s = svc_of(m, r->service);
    const struct route *rt = r->op_model;
    const char *sh = json_string_value(
        json_object_get(json_object_get(rt->opj, output ? "output" : "input"), "shape"));
    return redact(s, sh, NULL, v, 0);
}
