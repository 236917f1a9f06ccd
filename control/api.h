/* api.h - the admin API request pipeline, from an HTTP request to an AWS-shaped answer:
 *   route (model) -> authenticate (SigV4, credentials) -> authorize (read-only policy) -> build
 *   and validate the input (model) -> on the pool (worker): throttle (per principal, in Redis),
 *   run the operation -> CloudTrail event (every routed call, failures included) -> answer
 * (response). Everything but the operation and the CloudTrail write runs on the loop thread. */
#ifndef CTL_API_H
#define CTL_API_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "credentials.h"
#include "model.h"
#include "op.h"
#include "server.h"
#include "throttle.h"
#include "worker.h"

struct ctl_api {
    uv_loop_t *loop;
    const struct ctl_model *model; /* borrowed */
    const struct ctl_config *cfg;  /* borrowed */
    struct ctl_worker *worker;     /* borrowed */
    struct ctl_credentials creds;  /* owned; replaced by ctl_api_set_credentials */
    double rate, burst;
    long long trail_maxlen;
    size_t inflight;
    size_t max_inflight;
    /* counters for /metrics (loop thread only) */
    uint64_t answers[6]; /* by status class: [2] 2xx, [4] 4xx, [5] 5xx */
    uint64_t auth_failures, throttled, denied, invalid, unknown_ops;
};

/* Writes the Prometheus text exposition of the counters (plus the given gauges) into a new
 * malloc'd string. Loop thread. */
char *ctl_api_metrics(const struct ctl_api *api, size_t connections);

/* Initialises api; takes ownership of creds. */
void ctl_api_init(struct ctl_api *api, uv_loop_t *loop, const struct ctl_model *model,
                  const struct ctl_config *cfg, struct ctl_worker *worker,
                  struct ctl_credentials *creds, double rate, double burst, long long trail_maxlen);

/* Replaces the principals (SIGHUP reload); takes ownership of creds. */
void ctl_api_set_credentials(struct ctl_api *api, struct ctl_credentials *creds);

void ctl_api_dispose(struct ctl_api *api);

/* The server's request handler (arg = struct ctl_api *). */
void ctl_api_handle(void *arg, struct ctl_http_req *req);

#endif
