/* worker.c - thread pool work with thread-local Redis connections (see worker.h). */
#include "worker.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"

#define CONNECT_TIMEOUT_MS 2000
#define COMMAND_TIMEOUT_MS 5000

static _Thread_local redisContext *tl_redis;

int64_t ctl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ctl_worker_init(struct ctl_worker *w, uv_loop_t *loop, const struct wl_redis_url *url,
                     const struct ctl_config *cfg)
{
    memset(w, 0, sizeof *w);
    w->loop = loop;
    w->url = *url;
    w->cfg = cfg;
}

static struct timeval tv_ms(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

static redisContext *connect_tcp(const char *host, int port, char *err, size_t errlen)
{
    redisContext *c = redisConnectWithTimeout(host, port, tv_ms(CONNECT_TIMEOUT_MS));
    if (!c || c->err) {
        snprintf(err, errlen, "redis %s:%d: %s", host, port, c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv_ms(COMMAND_TIMEOUT_MS));
    return c;
}

/* Asks the sentinels, in order, for the master's address. */
static redisContext *connect_sentinel(const struct wl_redis_url *u, char *err, size_t errlen)
{
    snprintf(err, errlen, "no sentinel answered for master %s", u->master);
    for (int i = 0; i < u->nsentinels; i++) {
        char e[256];
        redisContext *s = connect_tcp(u->sentinels[i].host, u->sentinels[i].port, e, sizeof e);
        if (!s) {
            snprintf(err, errlen, "sentinel: %s", e);
            continue;
        }
        redisReply *r = redisCommand(s, "SENTINEL get-master-addr-by-name %s", u->master);
        char host[256] = "";
        int port = 0;
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[1]->type == REDIS_REPLY_STRING) {
            snprintf(host, sizeof host, "%s", r->element[0]->str);
            port = atoi(r->element[1]->str);
        }
        if (r)
            freeReplyObject(r);
        redisFree(s);
        if (!host[0] || port <= 0) {
            snprintf(err, errlen, "sentinel %s:%d does not know master %s", u->sentinels[i].host,
                     u->sentinels[i].port, u->master);
            continue;
        }
        redisContext *m = connect_tcp(host, port, e, sizeof e);
        if (!m) {
            snprintf(err, errlen, "master of %s: %s", u->master, e);
            continue;
        }
        redisReply *role = redisCommand(m, "ROLE");
        bool is_master = role && role->type == REDIS_REPLY_ARRAY && role->elements > 0 &&
                         role->element[0]->type == REDIS_REPLY_STRING &&
                         strcmp(role->element[0]->str, "master") == 0;
        if (role)
            freeReplyObject(role);
        if (!is_master) {
            redisFree(m);
            snprintf(err, errlen, "%s:%d named by the sentinels is not a master", host, port);
            continue;
        }
        return m;
    }
    return NULL;
}

redisContext *ctl_worker_redis(const struct ctl_worker *w, char *err, size_t errlen)
{
    if (tl_redis && tl_redis->err) {
        redisFree(tl_redis);
        tl_redis = NULL;
    }
    if (tl_redis)
        return tl_redis;
    const struct wl_redis_url *u = &w->url;
    redisContext *c = NULL;
    if (u->kind == WL_REDIS_TCP) {
        c = connect_tcp(u->addr.host, u->addr.port, err, errlen);
    } else if (u->kind == WL_REDIS_UNIX) {
        c = redisConnectUnixWithTimeout(u->path, tv_ms(CONNECT_TIMEOUT_MS));
        if (!c || c->err) {
            snprintf(err, errlen, "redis unix:%s: %s", u->path, c ? c->errstr : "out of memory");
            redisFree(c);
            c = NULL;
        } else {
            redisSetTimeout(c, tv_ms(COMMAND_TIMEOUT_MS));
        }
    } else {
        c = connect_sentinel(u, err, errlen);
    }
    if (!c)
        return NULL;
    if (u->kind != WL_REDIS_SENTINEL && u->db != 0) {
        redisReply *r = redisCommand(c, "SELECT %d", u->db);
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        if (r)
            freeReplyObject(r);
        if (!ok) {
            snprintf(err, errlen, "redis: SELECT %d failed", u->db);
            redisFree(c);
            return NULL;
        }
    }
    tl_redis = c;
    return c;
}

void ctl_worker_redis_check(void)
{
    if (tl_redis && tl_redis->err) {
        redisFree(tl_redis);
        tl_redis = NULL;
    }
}

void ctl_worker_redis_close(void)
{
    redisFree(tl_redis);
    tl_redis = NULL;
}

/* ---- reconciler ---------------------------------------------------------------------------- */

struct reconcile_result {
    int rc;
    char msg[512];
};

static _Thread_local struct reconcile_result tl_result;

static void reconcile_work(uv_work_t *wk)
{
    struct ctl_worker *w = wk->data;
    char err[256];
    redisContext *r = ctl_worker_redis(w, err, sizeof err);
    struct reconcile_result *res = &tl_result;
    if (!r) {
        res->rc = -1;
        snprintf(res->msg, sizeof res->msg, "%s", err);
    } else {
        struct ctl_ctx ctx;
        memset(&ctx, 0, sizeof ctx);
        ctx.redis = r;
        ctx.cfg = w->cfg;
        ctx.request_id = "reconciler";
        ctx.now_ms = ctl_now_ms();
        res->rc = ctl_reconcile(&ctx);
        snprintf(res->msg, sizeof res->msg, "%.60s: %.400s", ctx.err_type, ctx.err_message);
        ctl_worker_redis_check();
    }
    /* one reconcile at a time: reconcile_failing is only touched by the running one */
    if (res->rc != 0 && !w->reconcile_failing)
        WL_WARN("reconciler", "reconcile failed: %s", res->msg);
    else if (res->rc == 0 && w->reconcile_failing)
        WL_INFO("reconciler", "reconcile recovered");
    w->reconcile_failing = res->rc != 0;
    if (res->rc != 0)
        w->reconcile_errors++;
}

static void reconcile_after(uv_work_t *wk, int status)
{
    struct ctl_worker *w = wk->data;
    (void)status;
    w->reconcile_running = false;
}

static void on_reconcile_timer(uv_timer_t *t)
{
    struct ctl_worker *w = t->data;
    if (w->reconcile_running || w->stopped)
        return;
    w->reconcile_running = true;
    w->reconcile_work.data = w;
    if (uv_queue_work(w->loop, &w->reconcile_work, reconcile_work, reconcile_after) < 0)
        w->reconcile_running = false;
}

void ctl_worker_start_reconciler(struct ctl_worker *w, uint64_t interval_ms)
{
    w->reconcile_interval_ms = interval_ms;
    uv_timer_init(w->loop, &w->reconcile_timer);
    w->reconcile_timer.data = w;
    uv_timer_start(&w->reconcile_timer, on_reconcile_timer, interval_ms, interval_ms);
}

void ctl_worker_stop(struct ctl_worker *w)
{
    if (w->stopped)
        return;
    w->stopped = true;
    if (w->reconcile_interval_ms) {
        uv_timer_stop(&w->reconcile_timer);
        uv_close((uv_handle_t *)&w->reconcile_timer, NULL);
    }
}
