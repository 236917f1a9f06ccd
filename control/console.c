/* console.c - the web console's static files and its two JSON endpoints (see console.h). */
#include "console.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "response.h"
#include "sigv4.h"

/* The console runs only its own scripts and styles, talks only to this origin (the API), and
 * may not be framed. Downloads are blob: URLs, which need no CSP source. */
#define CSP                                                                                        \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

static bool slice_is(struct wl_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.base, lit, n) == 0;
}

static bool slice_prefix(struct wl_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len >= n && memcmp(s.base, lit, n) == 0;
}

static char *dup_mem(const void *p, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        abort();
    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

/* Security headers of every console answer (extra lines for ctl_http_respond). */
static void headers(char *out, size_t cap, const struct ctl_http_req *req, const char *cache,
                    const char *more)
{
    snprintf(out, cap,
             "Content-Security-Policy: " CSP "\r\n"
             "X-Content-Type-Options: nosniff\r\n"
             "X-Frame-Options: DENY\r\n"
             "Referrer-Policy: no-referrer\r\n"
             "Cross-Origin-Opener-Policy: same-origin\r\n"
             "Cross-Origin-Resource-Policy: same-origin\r\n"
             "Cache-Control: %s\r\n%s%s",
             cache, req->tls ? "Strict-Transport-Security: max-age=31536000\r\n" : "",
             more ? more : "");
}

static void respond_text(struct ctl_http_req *req, int status, const char *text,
                         const char *more_headers)
{
    char h[1024];
    headers(h, sizeof h, req, "no-store", more_headers);
    ctl_http_respond(req, status, "text/plain; charset=utf-8", h, dup_mem(text, strlen(text)),
                     strlen(text));
}

static void respond_json(struct ctl_http_req *req, json_t *obj)
{
    char *body = json_dumps(obj, JSON_COMPACT);
    if (!body)
        abort();
    char h[1024];
    headers(h, sizeof h, req, "no-store", NULL);
    ctl_http_respond(req, 200, "application/json", h, body, strlen(body));
}

/* Does If-None-Match name etag (a list of quoted tags, or "*")? */
static bool etag_matches(const struct ctl_http_req *req, const char *etag)
{
    const struct wl_http1_header *h = wl_http1_find_header(&req->msg, "if-none-match");
    if (!h)
        return false;
    size_t n = strlen(etag);
    for (size_t i = 0; i + n <= h->value.len; i++)
        if (memcmp(h->value.base + i, etag, n) == 0)
            return true;
    return h->value.len == 1 && h->value.base[0] == '*';
}

static void serve_asset(struct ctl_http_req *req, const struct ctl_console_asset *a)
{
    char more[128];
    snprintf(more, sizeof more, "ETag: %s\r\n", a->etag);
    char h[1024];
    headers(h, sizeof h, req, "no-cache", more);
    if (etag_matches(req, a->etag)) {
        ctl_http_respond(req, 304, a->content_type, h, NULL, 0);
        return;
    }
    ctl_http_respond(req, 200, a->content_type, h, dup_mem(a->data, a->len), a->len);
}

static void serve_whoami(struct ctl_api *api, struct ctl_http_req *req)
{
    char rid[37];
    ctl_request_id_new(rid);
    struct ctl_sigv4_input si = {
        .method = req->msg.method,
        .path = req->msg.path,
        .query = req->msg.query,
        .headers = req->msg.headers,
        .nheaders = req->msg.nheaders,
        .body = req->body,
        .body_len = req->body_len,
        .service = "worklink",
        .region = api->cfg->region,
        .now = ctl_now_ms() / 1000,
    };
    const struct ctl_principal *who = NULL;
    struct ctl_sigv4_error se;
    if (ctl_sigv4_verify(&si, &api->creds, &who, &se) < 0) {
        api->auth_failures++;
        WL_INFO(rid, "console sign-in refused from %s: %s", req->peer_ip, se.type);
        ctl_response_error(req, "worklink", se.status, se.type, se.message, rid);
        return;
    }
    WL_INFO(rid, "console sign-in of %s from %s (%s)", who->name, req->peer_ip,
            who->read_only ? "readonly" : "full");
    char arn[160];
    snprintf(arn, sizeof arn, "arn:aws:iam::%s:user/%s", who->account_id, who->name);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "Principal", who->name,
                          "AccountId", who->account_id, "Arn", arn, "AccessKeyId", who->access_key,
                          "Policy", who->read_only ? "readonly" : "full", "ReadOnly",
                          who->read_only, "Region", api->cfg->region);
    if (!o)
        abort();
    respond_json(req, o);
    json_decref(o);
}

bool ctl_console_handle(struct ctl_api *api, struct ctl_http_req *req)
{
    struct wl_slice path = req->msg.path;
    bool root = slice_is(path, "/");
    if (!root && !slice_is(path, "/console") && !slice_prefix(path, "/console/"))
        return false;
    bool get = slice_is(req->msg.method, "GET") || slice_is(req->msg.method, "HEAD");
    if (root && !get)
        return false; /* POST / is the ACM API (JSON 1.1) */
    if (!get) {
        respond_text(req, 405, "method not allowed: the console is read with GET\n",
                     "Allow: GET, HEAD\r\n");
        return true;
    }
    if (root || slice_is(path, "/console")) {
        respond_text(req, 302, "the console is at /console/\n", "Location: /console/\r\n");
        return true;
    }
    if (slice_is(path, "/console/whoami")) {
        serve_whoami(api, req);
        return true;
    }
    if (slice_is(path, "/console/settings.json")) {
        json_t *o =
            json_pack("{s:s, s:s}", "Region", api->cfg->region, "AccountId", api->cfg->account_id);
        if (!o)
            abort();
        respond_json(req, o);
        json_decref(o);
        return true;
    }
    /* "/console/" is the app; any other name must be one of the embedded files exactly */
    const char *want = slice_is(path, "/console/") ? "/console/index.html" : NULL;
    for (size_t i = 0; i < ctl_console_nassets; i++) {
        const struct ctl_console_asset *a = &ctl_console_assets[i];
        if (want ? strcmp(a->path, want) == 0 : slice_is(path, a->path)) {
            serve_asset(req, a);
            return true;
        }
    }
    respond_text(req, 404, "not found\n", NULL);
    return true;
}
