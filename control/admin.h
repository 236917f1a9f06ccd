/* admin.h - the operations endpoint of worklink-control (--admin-listen): GET /healthz (200 while
 * the reconciler reaches Redis, 503 otherwise) and GET /metrics (Prometheus text format).
 * Unauthenticated, so bind it to a private address. Loop thread only. */
#ifndef CTL_ADMIN_H
#define CTL_ADMIN_H

#include "api.h"
#include "server.h"

struct ctl_admin {
    struct ctl_api *api;         /* borrowed */
    struct ctl_server **api_srv; /* borrowed: the API server, for its connection count */
};

/* The admin server's request handler (arg = struct ctl_admin *). */
void ctl_admin_handle(void *arg, struct ctl_http_req *req);

#endif
