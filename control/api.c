/* api.c - the admin API request pipeline (see api.h). */
#include "api.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cloudtrail.h"
#include "console.h"
#include "log.h"
#include "response.h"
#include "sigv4.h"

/* One call travelling from the loop to the pool and back. */
struct job {
    uv_work_t work;
    struct ctl_api *api;
    struct ctl_http_req *req;
    struct ctl_route route;
    bool routed;
    const struct ctl_op *op;
    bool read_only;
    /* the caller (copied: credentials may be reloaded meanwhile) */
    char principal[64];
    char account_id[16];
    char access_key[129];
    json_t *in;     /* validated input, NULL when the call failed before */
    json_t *params; /* redacted input for CloudTrail */
    json_t *out;
    /* result */
    int status; /* 0 = success */
    char type[64];
    char message[512];
    char request_id[37];
    char user_agent[256];
    int64_t start_ms;
    bool throttle; /* authenticated: take a token before running */
};

void ctl_api_init(struct ctl_api *api, uv_loop_t *loop, const struct ctl_model *model,
                  const struct ctl_config *cfg, struct ctl_worker *worker,
                  struct ctl_credentials *creds, double rate, double burst, long long trail_maxlen)
{
    memset(api, 0, sizeof *api);
    api->loop = loop;
    api->model = model;
    api->cfg = cfg;
    api->worker = worker;
    api->creds = *creds;
    creds->v = NULL;
    creds->n = 0;
    api->rate = rate;
    api->burst = burst;
    api->trail_maxlen = trail_maxlen;
    api->max_inflight = 4096;
}

void ctl_api_set_credentials(struct ctl_api *api, struct ctl_credentials *creds)
{
    ctl_credentials_dispose(&api->creds);
    api->creds = *creds;
    creds->v = NULL;
    creds->n = 0;
}

void ctl_api_dispose(struct ctl_api *api)
{
    ctl_credentials_dispose(&api->creds);
}

static void job_fail(struct job *j, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void job_fail(struct job *j, int status, const char *type, const char *fmt, ...)
{
    va_list ap;
    j->status = status;
    snprintf(j->type, sizeof j->type, "%s", type);
    va_start(ap, fmt);
    vsnprintf(j->message, sizeof j->message, fmt, ap);
    va_end(ap);
}

static void job_free(struct job *j)
{
    json_decref(j->in);
    json_decref(j->params);
    json_decref(j->out);
    free(j);
}

/* ---- pool side ----------------------------------------------------------------------------- */

static void job_work(uv_work_t *w)
{
    struct job *j = w->data;
    struct ctl_api *api = j->api;
    char err[256];
    redisContext *r = ctl_worker_redis(api->worker, err, sizeof err);
    if (r && j->throttle) {
        int64_t retry_ms = 0;
        int t = ctl_throttle_take(r, j->access_key, api->rate, api->burst, j->start_ms, &retry_ms);
        if (t == 0)
            job_fail(j, 429,
                     strcmp(j->route.service, "acm") == 0 ? "ThrottlingException"
                                                          : "TooManyRequestsException",
                     "Rate exceeded for %s: retry in %lld ms", j->principal, (long long)retry_ms);
        else if (t < 0)
            WL_WARN(j->request_id, "throttle check failed: %s",
                    r->err ? r->errstr : "script refused");
    }
    if (j->status == 0) {
        if (!r) {
            WL_WARN(j->request_id, "state store unavailable: %s", err);
            job_fail(j, 500, "InternalServerErrorException",
                     "the configuration store is unavailable; retry later");
        } else {
            struct ctl_ctx ctx;
            memset(&ctx, 0, sizeof ctx);
            ctx.redis = r;
            ctx.cfg = api->cfg;
            ctx.account_id = j->account_id;
            ctx.principal = j->principal;
            ctx.request_id = j->request_id;
            ctx.now_ms = ctl_now_ms();
            json_t *out = NULL;
            int rc = j->op->fn(&ctx, j->in, &out);
            if (rc != 0) {
                json_decref(out);
                if (ctx.err_status == 0)
                    ctl_error(&ctx, "InternalServerErrorException", "the operation failed");
                int status =
                    ctl_model_error_status(api->model, &j->route, ctx.err_type, ctx.err_status);
                job_fail(j, status, ctx.err_type, "%s", ctx.err_message);
                if (status >= 500)
                    WL_ERROR(j->request_id, "%s failed: %s: %s", j->route.op, ctx.err_type,
                             ctx.err_message);
            } else {
                j->out = out;
            }
        }
    }
    /* CloudTrail: every routed call, successful or not */
    if (r) {
        json_t *resp = NULL;
        if (j->status == 0 && j->out && !j->read_only)
            resp = ctl_model_redact(api->model, &j->route, j->out, true);
        struct ctl_trail_call c = {
            .principal = j->principal,
            .account_id = j->account_id,
            .access_key = j->access_key,
            .event_source = j->route.event_source,
            .event_name = j->route.op,
            .region = api->cfg->region,
            .source_ip = j->req->peer_ip,
            .user_agent = j->user_agent,
            .request_id = j->request_id,
            .time_ms = j->start_ms,
            .read_only = j->read_only,
            .request_params = j->params,
            .response_elements = resp,
            .error_code = j->status ? j->type : NULL,
            .error_message = j->status ? j->message : NULL,
            .recipient_account = j->account_id[0] ? j->account_id : api->cfg->account_id,
        };
        json_t *ev = ctl_cloudtrail_event(&c);
        if (ctl_cloudtrail_write(r, ev, api->trail_maxlen) < 0)
            WL_WARN(j->request_id, "CloudTrail event of %s not recorded: %s", j->route.op,
                    r->err ? r->errstr : "XADD refused");
        json_decref(ev);
        json_decref(resp);
    }
    ctl_worker_redis_check();
}

/* ---- loop side ----------------------------------------------------------------------------- */

static void job_done(uv_work_t *w, int status)
{
    struct job *j = w->data;
    struct ctl_api *api = j->api;
    (void)status;
    api->inflight--;
    int64_t ms = ctl_now_ms() - j->start_ms;
    int cls = j->status == 0 ? 2 : j->status / 100;
    if (cls >= 0 && cls < 6)
        api->answers[cls]++;
    if (j->status == 429)
        api->throttled++;
    else if (j->status && !j->principal[0])
        api->auth_failures++;
    else if (strcmp(j->type, "UnauthorizedException") == 0 ||
             strcmp(j->type, "AccessDeniedException") == 0)
        api->denied++;
    else if (j->status == 400 && j->in == NULL)
        api->invalid++;
    if (j->status == 0) {
        WL_INFO(j->request_id, "%s by %s from %s: 200 in %lld ms", j->route.op, j->principal,
                j->req->peer_ip, (long long)ms);
        ctl_response_ok(j->req, j->route.service, j->out, j->request_id);
    } else {
        WL_INFO(j->request_id, "%s by %s from %s: %d %s in %lld ms", j->route.op,
                j->principal[0] ? j->principal : "-", j->req->peer_ip, j->status, j->type,
                (long long)ms);
        ctl_response_error(j->req, j->route.service, j->status, j->type, j->message, j->request_id);
    }
    job_free(j);
}

static const char *header_value(const struct ctl_http_req *req, const char *name, char *buf,
                                size_t cap)
{
    const struct wl_http1_header *h = wl_http1_find_header(&req->msg, name);
    if (!h)
        return NULL;
    size_t n = h->value.len < cap - 1 ? h->value.len : cap - 1;
    memcpy(buf, h->value.base, n);
    buf[n] = '\0';
    return buf;
}

static bool name_is_read(const char *op)
{
    return strncmp(op, "Describe", 8) == 0 || strncmp(op, "List", 4) == 0 ||
           strncmp(op, "Get", 3) == 0;
}

/* First member named by a validation message ("Tags key 'x': ..." -> "Tags"). */
static void message_member(const char *msg, char *out, size_t cap)
{
    size_t n = strcspn(msg, ".[: ");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, msg, n);
    out[n] = '\0';
}

void ctl_api_handle(void *arg, struct ctl_http_req *req)
{
    struct ctl_api *api = arg;
    if (ctl_console_handle(api, req)) /* GET /, /console/...: the web console */
        return;
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->api = api;
    j->req = req;
    j->work.data = j;
    j->start_ms = ctl_now_ms();
    ctl_request_id_new(j->request_id);
    header_value(req, "user-agent", j->user_agent, sizeof j->user_agent);

    char target[160];
    const char *tgt = header_value(req, "x-amz-target", target, sizeof target);
    char msg[512];
    if (ctl_model_route(api->model, req->msg.method, req->msg.path, tgt, &j->route, msg,
                        sizeof msg) < 0) {
        WL_INFO(j->request_id, "unknown operation from %s: %s", req->peer_ip, msg);
        api->unknown_ops++;
        api->answers[4]++;
        ctl_response_error(req, tgt ? "acm" : "worklink", tgt ? 400 : 404,
                           "UnknownOperationException", msg, j->request_id);
        job_free(j);
        return;
    }
    j->routed = true;
    j->op = ctl_op_find(j->route.service, j->route.op);
    j->read_only = j->op ? j->op->read_only : name_is_read(j->route.op);

    /* authenticate */
    struct ctl_sigv4_input si = {
        .method = req->msg.method,
        .path = req->msg.path,
        .query = req->msg.query,
        .headers = req->msg.headers,
        .nheaders = req->msg.nheaders,
        .body = req->body,
        .body_len = req->body_len,
        .service = j->route.signing_name,
        .region = api->cfg->region,
        .now = j->start_ms / 1000,
    };
    const struct ctl_principal *who = NULL;
    struct ctl_sigv4_error se;
    if (ctl_sigv4_verify(&si, &api->creds, &who, &se) < 0) {
        snprintf(j->access_key, sizeof j->access_key, "%s", se.access_key);
        job_fail(j, se.status, se.type, "%s", se.message);
        goto queue;
    }
    snprintf(j->principal, sizeof j->principal, "%s", who->name);
    snprintf(j->account_id, sizeof j->account_id, "%s", who->account_id);
    snprintf(j->access_key, sizeof j->access_key, "%s", who->access_key);

    j->throttle = true; /* a token is taken on the pool, before anything else runs */
    if (!j->op) {
        job_fail(j, 400, "UnknownOperationException", "%s is not supported by this endpoint",
                 j->route.op);
        goto queue;
    }
    /* authorize */
    if (who->read_only && !j->op->read_only) {
        bool acm = strcmp(j->route.service, "acm") == 0;
        job_fail(j, 403, acm ? "AccessDeniedException" : "UnauthorizedException",
                 "User: arn:aws:iam::%s:user/%s is not authorized to perform: %s:%s (read-only "
                 "policy)",
                 who->account_id, who->name, j->route.signing_name, j->route.op);
        goto queue;
    }
    /* input */
    json_t *in = NULL;
    if (ctl_model_input(api->model, &j->route, req->msg.path, req->msg.query, req->body,
                        req->body_len, &in, msg, sizeof msg) < 0) {
        job_fail(j, 400, ctl_model_validation_error(&j->route, NULL), "%s", msg);
        goto queue;
    }
    j->params = ctl_model_redact(api->model, &j->route, in, false);
    if (ctl_model_validate(api->model, &j->route, in, msg, sizeof msg) < 0) {
        char member[64];
        message_member(msg, member, sizeof member);
        job_fail(j, 400, ctl_model_validation_error(&j->route, member), "%s", msg);
        json_decref(in);
        goto queue;
    }
    json_decref(j->params);
    j->params = ctl_model_redact(api->model, &j->route, in, false);
    j->in = in;

queue:
    if (api->inflight >= api->max_inflight && j->status == 0)
        job_fail(j, 429, "TooManyRequestsException", "the server is busy; retry later");
    api->inflight++;
    if (uv_queue_work(api->loop, &j->work, job_work, job_done) < 0) {
        api->inflight--;
        ctl_response_error(req, j->route.service, 500, "InternalServerErrorException",
                           "cannot schedule the operation", j->request_id);
        job_free(j);
    }
}

char *ctl_api_metrics(const struct ctl_api *api, size_t connections)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        abort();
    fprintf(f, "# HELP worklink_control_answers_total Admin API answers by status class.\n"
               "# TYPE worklink_control_answers_total counter\n");
    for (int c = 2; c <= 5; c++)
        fprintf(f, "worklink_control_answers_total{class=\"%dxx\"} %llu\n", c,
                (unsigned long long)api->answers[c]);
    fprintf(f,
            "# HELP worklink_control_refusals_total Calls refused by the front, by reason.\n"
            "# TYPE worklink_control_refusals_total counter\n"
            "worklink_control_refusals_total{reason=\"authentication\"} %llu\n"
            "worklink_control_refusals_total{reason=\"throttled\"} %llu\n"
            "worklink_control_refusals_total{reason=\"read_only\"} %llu\n"
            "worklink_control_refusals_total{reason=\"invalid_input\"} %llu\n"
            "worklink_control_refusals_total{reason=\"unknown_operation\"} %llu\n"
            "# HELP worklink_control_inflight Calls queued or running on the pool.\n"
            "# TYPE worklink_control_inflight gauge\n"
            "worklink_control_inflight %zu\n"
            "# HELP worklink_control_connections Open API connections.\n"
            "# TYPE worklink_control_connections gauge\n"
            "worklink_control_connections %zu\n"
            "# HELP worklink_control_reconcile_errors_total Failed reconciler runs.\n"
            "# TYPE worklink_control_reconcile_errors_total counter\n"
            "worklink_control_reconcile_errors_total %llu\n"
            "# HELP worklink_control_redis_up 1 when the last reconciler run reached Redis.\n"
            "# TYPE worklink_control_redis_up gauge\n"
            "worklink_control_redis_up %d\n",
            (unsigned long long)api->auth_failures, (unsigned long long)api->throttled,
            (unsigned long long)api->denied, (unsigned long long)api->invalid,
            (unsigned long long)api->unknown_ops, api->inflight, connections,
            (unsigned long long)api->worker->reconcile_errors,
            api->worker->reconcile_failing ? 0 : 1);
    fclose(f);
    return out;
}
