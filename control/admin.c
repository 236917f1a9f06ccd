/* admin.c - /healthz and /metrics (see admin.h). */
#include "admin.h"

#include <stdlib.h>
#include <string.h>

static bool slice_is(struct wl_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.base, lit, n) == 0;
}

static char *dup_str(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

void ctl_admin_handle(void *arg, struct ctl_http_req *req)
{
    struct ctl_admin *a = arg;
    bool get = slice_is(req->msg.method, "GET") || slice_is(req->msg.method, "HEAD");
    if (get && slice_is(req->msg.path, "/healthz")) {
        bool up = !a->api->worker->reconcile_failing;
        char *b = dup_str(up ? "{\"status\":\"ok\"}" : "{\"status\":\"redis unreachable\"}");
        ctl_http_respond(req, up ? 200 : 503, NULL, NULL, b, strlen(b));
        return;
    }
    if (get && slice_is(req->msg.path, "/metrics")) {
        size_t conns = a->api_srv && *a->api_srv ? ctl_server_conn_count(*a->api_srv) : 0;
        char *b = ctl_api_metrics(a->api, conns);
        ctl_http_respond(req, 200, "text/plain; version=0.0.4", NULL, b, strlen(b));
        return;
    }
    char *b = dup_str("{\"message\":\"not found: use GET /healthz or GET /metrics\"}");
    ctl_http_respond(req, 404, NULL, NULL, b, strlen(b));
}
