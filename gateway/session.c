/* session.c - session validation for a worker: a direct-mapped cache (bounded, per worker) in
 * front of one Lua script per lookup on the worker's own hiredis async context (libuv adapter).
 *
 * The script reads the session hash, checks expiry and idle time against the gateway's clock,
 * checks that the device is ACTIVE, and refreshes last_seen (at most once a second), all in one
 * round trip. Cache entries carry the server's session generation, which the config thread bumps
 * on every change-feed event, so a sign-out or device revoke invalidates every worker's cache at
 * once (no message to each worker needed). Worker thread only. */
#include "gw_internal.h"

#include "identity.h"

#include "log.h"

#include <hiredis/adapters/libuv.h>
#include <stdlib.h>
#include <string.h>

struct gw_lookup {
    struct gw_req *req;
    struct gw_worker *w;
    gw_session_cb cb;
    char sid[65];
    uint64_t gen;
};

static const char session_lua[] =
    "local s = redis.call('HMGET', KEYS[1], 'username', 'device_id', 'expires', "
    "'idle_timeout_ms', 'last_seen', 'jar')\n"
    "if not s[2] or not s[3] or not s[4] or not s[5] then return {0, 'missing'} end\n"
    "local now = tonumber(ARGV[1])\n"
    "local exp = tonumber(s[3]) or 0\n"
    "local idle = tonumber(s[4]) or 0\n"
    "local last = tonumber(s[5]) or 0\n"
    "if now >= exp then return {0, 'expired'} end\n"
    "if now >= last + idle then return {0, 'idle'} end\n"
    "local st = redis.call('HGET', ARGV[2] .. s[2], 'status')\n"
    "if st ~= 'ACTIVE' then return {0, 'device'} end\n"
    "if now - last >= 1000 then redis.call('HSET', KEYS[1], 'last_seen', ARGV[1]); "
    "redis.call('HSET', ARGV[2] .. s[2], 'last_accessed', ARGV[1]); last = now end\n"
    "return {1, s[1], s[2], tostring(exp), tostring(idle), tostring(last), s[6] or '0'}\n";

static struct gw_cache_entry *slot(struct gw_worker *w, const char *sid)
{
    uint32_t h = 0;
    for (int i = 0; i < 8; i++)
        h = (h << 4) | (uint32_t)(sid[i] <= '9' ? sid[i] - '0' : sid[i] - 'a' + 10);
    return &w->cache[h % GW_CACHE_SLOTS];
}

/* Who the request is (audit): copies the entry's user and device into the request's arena. */
static void session_ident(struct gw_req *r, const struct gw_cache_entry *e)
{
    r->user = e->user[0] ? gw_arena_strndup(&r->arena, e->user, strlen(e->user)) : NULL;
    r->device_id = e->device[0] ? gw_arena_strndup(&r->arena, e->device, strlen(e->device)) : NULL;
    r->session_has_jar = e->has_jar;
    r->sess_expires = e->expires; /* live.c: channels are cut at the absolute expiry */
}

static void lookup_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct gw_lookup *lk = priv;
    redisReply *r = reply;
    struct gw_worker *w = lk->w;
    int result = -1;
    int64_t now = gw_wall_ms();
    int64_t until = now + w->srv->opt->session_cache_ms;
    int64_t expires = 0;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_INTEGER) {
        result = r->element[0]->integer == 1 ? 1 : 0;
        if (result == 1 && r->elements >= 6) {
            int64_t exp = strtoll(r->element[3]->str, NULL, 10);
            expires = exp;
            int64_t idle = strtoll(r->element[4]->str, NULL, 10);
            int64_t last = strtoll(r->element[5]->str, NULL, 10);
            if (exp < until)
                until = exp;
            if (last + idle < until)
                until = last + idle;
        }
    } else {
        GW_INC(w->m.redis_errors);
    }
    struct gw_cache_entry *e = NULL;
    if (result >= 0) {
        e = slot(w, lk->sid);
        memcpy(e->sid, lk->sid, 64);
        e->used = true;
        e->valid = result == 1;
        e->until_ms = until;
        e->gen = lk->gen;
        e->expires = expires;
        e->user[0] = e->device[0] = '\0';
        /* whether the session has a cookie jar in Redis (the first jar write publishes an event,
         * which invalidates this entry on every worker) */
        e->has_jar = result == 1 && r->elements >= 7 && r->element[6]->type == REDIS_REPLY_STRING &&
                     strcmp(r->element[6]->str, "1") == 0;
        if (result == 1 && r->elements >= 3 && r->element[1]->type == REDIS_REPLY_STRING &&
            r->element[2]->type == REDIS_REPLY_STRING) {
            snprintf(e->user, sizeof e->user, "%s", r->element[1]->str);
            snprintf(e->device, sizeof e->device, "%s", r->element[2]->str);
        }
    }
    struct gw_req *req = lk->req;
    if (req && e && e->valid)
        session_ident(req, e);
    gw_session_cb cb = lk->cb;
    if (req)
        req->lookup = NULL;
    free(lk);
    if (req)
        cb(req, result);
}

void gw_session_note_jar(struct gw_worker *w, const char *sid)
{
    struct gw_cache_entry *e = slot(w, sid);
    if (e->used && memcmp(e->sid, sid, 64) == 0)
        e->has_jar = true;
}

void gw_session_check(struct gw_req *r, gw_session_cb cb)
{
    struct gw_worker *w = r->conn->w;
    const char *sid = r->sid; /* also for live.c (session-scoped cuts) and the cookie jar */
    gw_ident_sha256_hex(r->token, r->token_len, r->sid);
    uint64_t gen = atomic_load_explicit(&w->srv->session_gen, memory_order_acquire);
    struct gw_cache_entry *e = slot(w, sid);
    int64_t now = gw_wall_ms();
    if (e->used && e->gen == gen && now < e->until_ms && memcmp(e->sid, sid, 64) == 0) {
        GW_INC(w->m.session_cache_hits);
        if (e->valid)
            session_ident(r, e);
        cb(r, e->valid ? 1 : 0);
        return;
    }
    if (!w->redis || !w->redis_ready) {
        cb(r, -1);
        return;
    }
    struct gw_lookup *lk = calloc(1, sizeof *lk);
    if (!lk)
        abort();
    lk->req = r;
    lk->w = w;
    lk->cb = cb;
    lk->gen = gen;
    memcpy(lk->sid, sid, 65);
    r->lookup = lk;
    GW_INC(w->m.session_lookups);
    const char *F = w->srv->opt->fleet;
    char key[200], devp[120], nowbuf[24];
    snprintf(key, sizeof key, "wl:{%s}:session:%s", F, sid);
    snprintf(devp, sizeof devp, "wl:{%s}:device:", F);
    snprintf(nowbuf, sizeof nowbuf, "%lld", (long long)now);
    const char *argv[] = {"EVAL", session_lua, "1", key, nowbuf, devp};
    if (redisAsyncCommandArgv(w->redis, lookup_cb, lk, 6, argv, NULL) != REDIS_OK) {
        r->lookup = NULL;
        free(lk);
        cb(r, -1);
    }
}

void gw_session_cancel(struct gw_req *r)
{
    if (r->lookup) {
        r->lookup->req = NULL;
        r->lookup = NULL;
    }
}

/* ---------------- the worker's Redis connection ---------------- */

static void reconnect_cb(uv_timer_t *t)
{
    gw_worker_redis_connect(t->data);
}

static void schedule(struct gw_worker *w)
{
    if (!w->stopping)
        uv_timer_start(&w->redis_timer, reconnect_cb, 250, 0);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct gw_worker *w = ac->data;
    if (status != REDIS_OK) {
        WL_DEBUG(NULL, "worker %d: redis connect failed: %s", w->id, ac->errstr);
        w->redis = NULL;
        w->redis_ready = false;
        schedule(w);
        return;
    }
    WL_INFO(NULL, "worker %d: redis connected", w->id);
    w->redis_ready = true;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct gw_worker *w = ac->data;
    WL_INFO(NULL, "worker %d: redis disconnected (%d %s)", w->id, status, ac->errstr);
    w->redis = NULL;
    w->redis_ready = false;
    schedule(w);
}

void gw_worker_redis_connect(struct gw_worker *w)
{
    if (w->redis || w->stopping || !w->snap)
        return;
    const struct gw_snapshot *s = w->snap;
    redisAsyncContext *ac = s->redis_path[0] ? redisAsyncConnectUnix(s->redis_path)
                                             : redisAsyncConnect(s->redis_host, s->redis_port);
    if (!ac || ac->err) {
        WL_DEBUG(NULL, "worker %d: redis connect failed at once: %s", w->id,
                 ac ? ac->errstr : "no memory");
        if (ac)
            redisAsyncFree(ac);
        schedule(w);
        return;
    }
    ac->data = w;
    w->redis_started = uv_now(&w->loop);
    redisLibuvAttach(ac, &w->loop);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    w->redis = ac;
    if (w->srv->rurl.db)
        redisAsyncCommand(ac, NULL, NULL, "SELECT %d", w->srv->rurl.db);
}

void gw_worker_redis_watchdog(struct gw_worker *w)
{
    /* hiredis 0.14's libuv adapter drops poll errors (status != 0), so a connect that fails with
     * POLLERR never reports back: give up on a connect that did not finish within a second */
    if (!w->redis || w->redis_ready || uv_now(&w->loop) - w->redis_started < 1000)
        return;
    WL_DEBUG(NULL, "worker %d: redis connect stalled, retrying", w->id);
    redisAsyncContext *ac = w->redis;
    w->redis = NULL;
    redisAsyncFree(ac);
    schedule(w);
}

void gw_worker_redis_dispose(struct gw_worker *w)
{
    w->stopping = true;
    uv_timer_stop(&w->redis_timer);
    if (w->redis) {
        redisAsyncContext *ac = w->redis;
        w->redis = NULL;
        w->redis_ready = false;
        redisAsyncDisconnect(ac);
    }
}
