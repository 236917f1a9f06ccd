/* console.h - the web console (console/ in the source tree), served by worklink-control.
 *
 * In: GET/HEAD requests for "/", "/console" and "/console/..." on the API listener. Out: the
 * console's static files, embedded in the binary at build time (console/embed_assets.cmake),
 * with their Content-Type, an ETag (If-None-Match -> 304), Cache-Control: no-cache and the
 * security headers (a strict Content-Security-Policy, nosniff, frame-ancestors 'none' /
 * X-Frame-Options: DENY, no referrer; HSTS on TLS); plus two small JSON endpoints:
 *   GET /console/settings.json  region and account of the endpoint (not secret; pre-fills the
 *                               sign-in form)
 *   GET /console/whoami         SigV4-signed like any worklink call (service "worklink"):
 *                               the principal, its account and its policy (full / readonly),
 *                               so the console hides what the principal may not do. Refusals
 *                               are the AWS errors of the API (InvalidSignatureException, ...).
 * The console signs every API call in the browser (WebCrypto); the secret never reaches here.
 * Loop thread only. */
#ifndef CTL_CONSOLE_H
#define CTL_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "server.h"

/* One embedded file (the table is generated at build time). */
struct ctl_console_asset {
    const char *path; /* "/console/app.js" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
    const char *etag; /* quoted */
};

extern const struct ctl_console_asset ctl_console_assets[];
extern const size_t ctl_console_nassets;

/* Answers req when it is a console request (GET/HEAD of "/", "/console" or "/console/...") and
 * returns true; returns false (req untouched) for everything else, which is the API's. api is
 * borrowed (credentials and region for /console/whoami). */
bool ctl_console_handle(struct ctl_api *api, struct ctl_http_req *req);

#endif
