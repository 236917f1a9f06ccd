/* render_hook.c - the one place where the render stage (render/, issue 5) plugs into the response
 * path: headers first (the policy may rewrite status and headers), then body chunks, then the end.
 * Backpressure needs nothing here: gw_req_emit_body() queues toward the device and the origin side
 * checks gw_req_congested() after every chunk. Until the render library lands this is a
 * pass-through that only enforces what the device must never keep: no-store. Worker thread. */
#include "gw_internal.h"

#include <string.h>
#include <strings.h>

void gw_render_headers(struct gw_req *r, int *status, struct gw_hdrs *h)
{
    (void)status;
    size_t j = 0;
    for (size_t i = 0; i < h->n; i++) {
        const struct gw_hdr *e = &h->v[i];
        if ((e->nlen == 13 && strncasecmp(e->name, "cache-control", 13) == 0) ||
            (e->nlen == 7 && strncasecmp(e->name, "expires", 7) == 0) ||
            (e->nlen == 6 && strncasecmp(e->name, "pragma", 6) == 0))
            continue;
        h->v[j++] = *e;
    }
    h->n = j;
    gw_hdrs_add(&r->arena, h, "Cache-Control", 13, "no-store", 8);
}

void gw_render_body(struct gw_req *r, const char *data, size_t len)
{
    gw_req_emit_body(r, data, len);
}

void gw_render_end(struct gw_req *r)
{
    gw_req_emit_end(r);
}
