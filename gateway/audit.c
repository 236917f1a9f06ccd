/* audit.c - per-worker audit queue and its asynchronous Redis writer (see audit.h). */
#include "audit.h"

#include "gw_internal.h"
#include "log.h"

#include <hiredis/adapters/libuv.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_BATCH 256       /* XADDs pipelined per round trip */
#define AUDIT_RETRY_MS 250    /* reconnect / retry period */
#define AUDIT_CONNECT_MS 1000 /* a connection attempt taking longer is abandoned */

struct audit_item {
    char *key;  /* stream key */
    char *json; /* the event */
};

struct gw_audit {
    struct gw_worker *w;
    struct audit_item *ring;
    size_t cap, head, len; /* queued events: ring[head .. head+len) */
    size_t sent;           /* of those, the first `sent` are in flight */
    uint64_t gen;          /* bumped when a batch is abandoned: its late replies are ignored */
    redisAsyncContext *ac;
    bool ready;
    bool disposing;
    int handles; /* timer + connection */
    uv_timer_t timer;
    int64_t last_drop_log_ms;
    int64_t last_err_log_ms;
    uint64_t dropped_since_log;
};

static void flush(struct gw_audit *a);
static void audit_connect(struct gw_audit *a);

char *gw_audit_stream_key(const char *arn)
{
    static const char pre[] = "arn:aws:kinesis:";
    if (!arn || strncmp(arn, pre, sizeof pre - 1) != 0)
        return NULL;
    const char *s = strstr(arn + sizeof pre - 1, ":stream/");
    if (!s || !s[8] || strlen(s + 8) > 128)
        return NULL;
    const char *name = s + 8;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return NULL;
    size_t n = strlen(name) + 10;
    char *k = malloc(n);
    if (!k)
        abort();
    snprintf(k, n, "wl:audit:%s", name);
    return k;
}

static void maybe_free(struct gw_audit *a)
{
    if (!a->disposing || a->handles > 0)
        return;
    for (size_t i = 0; i < a->len; i++) {
        struct audit_item *it = &a->ring[(a->head + i) % a->cap];
        free(it->key);
        free(it->json);
    }
    free(a->ring);
    free(a);
}

static void timer_closed(uv_handle_t *h)
{
    struct gw_audit *a = h->data;
    a->handles--;
    maybe_free(a);
}

/* Gives up a connection attempt that never completed (hiredis 0.14's libuv adapter ignores a
 * failed poll, so a refused connect may never call back). */
static void note_error(struct gw_audit *a, const char *why)
{
    GW_INC(a->w->m.audit_errors);
    int64_t now = gw_wall_ms();
    if (now - a->last_err_log_ms >= 5000) {
        WL_WARN(NULL, "audit: Redis unavailable (%s): %zu events queued, retrying", why, a->len);
        a->last_err_log_ms = now;
    }
}

static void abandon_connect(struct gw_audit *a)
{
    note_error(a, "connect timed out");
    redisAsyncContext *ac = a->ac;
    a->ac = NULL; /* its callbacks, if any, now see a different context and are ignored */
    a->ready = false;
    a->handles--;
    ac->data = NULL;
    redisAsyncFree(ac);
}

static void retry_cb(uv_timer_t *t)
{
    struct gw_audit *a = t->data;
    if (a->ac && !a->ready)
        abandon_connect(a);
    if (!a->ac)
        audit_connect(a);
    else
        flush(a);
}

static void schedule(struct gw_audit *a)
{
    if (!a->disposing && a->len > 0 && !uv_is_active((uv_handle_t *)&a->timer))
        uv_timer_start(&a->timer, retry_cb, AUDIT_RETRY_MS, 0);
}

static void drop_head(struct gw_audit *a)
{
    struct audit_item *it = &a->ring[a->head];
    free(it->key);
    free(it->json);
    it->key = it->json = NULL;
    a->head = (a->head + 1) % a->cap;
    a->len--;
    GW_SUB(a->w->m.audit_queued, 1);
}

/* Replies arrive in the order the XADDs were sent: each one settles the head of the queue. */
static void xadd_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    struct gw_audit *a = ac->data;
    redisReply *r = reply;
    uint64_t gen = (uint64_t)(uintptr_t)priv;
    if (!a || a->ac != ac || gen != a->gen)
        return; /* a late reply of an abandoned batch */
    if (r && r->type != REDIS_REPLY_ERROR) {
        drop_head(a);
        a->sent--;
        GW_INC(a->w->m.audit_written);
        if (a->sent == 0)
            flush(a);
        return;
    }
    /* failure: keep the events (retried until Redis takes them), abandon the rest of the batch */
    GW_INC(a->w->m.audit_errors);
    a->gen++;
    a->sent = 0;
    int64_t now = gw_wall_ms();
    if (now - a->last_err_log_ms >= 5000) {
        WL_WARN(NULL, "audit: writing to %s failed (%s): %zu events queued, retrying",
                a->ring[a->head].key, r && r->str ? r->str : "connection lost", a->len);
        a->last_err_log_ms = now;
    }
    schedule(a);
}

static void flush(struct gw_audit *a)
{
    if (!a->ac || !a->ready || a->sent > 0 || a->len == 0)
        return;
    char maxlen[24];
    snprintf(maxlen, sizeof maxlen, "%lld", (long long)a->w->srv->opt->audit_maxlen);
    size_t n = a->len < AUDIT_BATCH ? a->len : AUDIT_BATCH;
    for (size_t i = 0; i < n; i++) {
        struct audit_item *it = &a->ring[(a->head + i) % a->cap];
        const char *argv[] = {"XADD", it->key, "MAXLEN", "~", maxlen, "*", "event", it->json};
        size_t lens[] = {4, strlen(it->key), 6, 1, strlen(maxlen), 1, 5, strlen(it->json)};
        if (redisAsyncCommandArgv(a->ac, xadd_cb, (void *)(uintptr_t)a->gen, 8, argv, lens) !=
            REDIS_OK)
            break;
        a->sent++;
    }
    if (a->sent == 0)
        schedule(a);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct gw_audit *a = ac->data;
    if (!a || a->ac != ac)
        return; /* abandoned */
    uv_timer_stop(&a->timer);
    if (status != REDIS_OK) {
        note_error(a, ac->errstr[0] ? ac->errstr : "connect failed");
        a->ac = NULL; /* hiredis frees the context */
        a->handles--;
        if (a->disposing) {
            maybe_free(a);
            return;
        }
        schedule(a);
        return;
    }
    a->ready = true;
    flush(a);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    struct gw_audit *a = ac->data;
    if (!a || a->ac != ac)
        return; /* abandoned */
    a->ac = NULL;
    a->ready = false;
    a->sent = 0;
    a->gen++;
    a->handles--;
    if (a->disposing) {
        maybe_free(a);
        return;
    }
    schedule(a);
}

static void audit_connect(struct gw_audit *a)
{
    const struct gw_snapshot *s = a->w->snap;
    if (a->ac || a->disposing || !s)
        return;
    redisAsyncContext *ac = s->redis_path[0] ? redisAsyncConnectUnix(s->redis_path)
                                             : redisAsyncConnect(s->redis_host, s->redis_port);
    if (!ac || ac->err) {
        note_error(a, ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule(a);
        return;
    }
    ac->data = a;
    redisLibuvAttach(ac, &a->w->loop);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    a->ac = ac;
    a->handles++;
    uv_timer_start(&a->timer, retry_cb, AUDIT_CONNECT_MS, 0); /* connect timeout */
    if (a->w->srv->rurl.db)
        redisAsyncCommand(ac, NULL, NULL, "SELECT %d", a->w->srv->rurl.db);
}

static struct gw_audit *audit_get(struct gw_worker *w)
{
    if (w->audit)
        return w->audit;
    struct gw_audit *a = calloc(1, sizeof *a);
    if (!a)
        abort();
    a->w = w;
    a->cap = (size_t)w->srv->opt->audit_queue;
    a->ring = calloc(a->cap, sizeof *a->ring);
    if (!a->ring)
        abort();
    uv_timer_init(&w->loop, &a->timer);
    a->timer.data = a;
    a->handles = 1;
    w->audit = a;
    return a;
}

static json_t *jstrn(const char *s, size_t n)
{
    json_t *v = s ? json_stringn(s, n) : json_null();
    return v ? v : json_string("(not UTF-8)");
}

void gw_audit_req(struct gw_req *r)
{
    struct gw_worker *w = r->conn->w;
    const struct gw_snapshot *s = w->snap;
    if (!s || !s->audit_stream || w->stopping)
        return;
    struct gw_audit *a = audit_get(w);
    if (a->len >= a->cap) {
        GW_INC(w->m.audit_dropped);
        a->dropped_since_log++;
        int64_t now = gw_wall_ms();
        if (now - a->last_drop_log_ms >= 1000) {
            WL_WARN(NULL, "audit: queue full (%zu events, Redis slow or down): %llu events dropped",
                    a->cap, (unsigned long long)a->dropped_since_log);
            a->last_drop_log_ms = now;
            a->dropped_since_log = 0;
        }
        return;
    }
    uint64_t us = uv_hrtime() / 1000 - r->start_us;
    size_t plen = r->target ? r->target_len : 0;
    const char *q = r->target ? memchr(r->target, '?', r->target_len) : NULL;
    if (q)
        plen = (size_t)(q - r->target); /* queries may carry login tickets: never recorded */
    size_t dlen = r->authority ? r->authority_len : 0;
    const char *colon = r->authority ? memchr(r->authority, ':', r->authority_len) : NULL;
    if (colon)
        dlen = (size_t)(colon - r->authority);
    const char *domain = r->authority ? r->authority : r->conn->sni;
    if (!r->authority)
        dlen = strlen(r->conn->sni);
    char dom[256];
    if (dlen >= sizeof dom)
        dlen = sizeof dom - 1;
    for (size_t i = 0; i < dlen; i++)
        dom[i] = (char)(domain[i] >= 'A' && domain[i] <= 'Z' ? domain[i] + 32 : domain[i]);
    json_t *ev = json_object();
    json_object_set_new(ev, "version", json_integer(1));
    json_object_set_new(ev, "time", json_integer(gw_wall_ms()));
    json_object_set_new(ev, "fleet", json_string(w->srv->opt->fleet));
    json_object_set_new(ev, "user", r->user ? jstrn(r->user, strlen(r->user)) : json_null());
    json_object_set_new(ev, "device_id",
                        r->device_id ? jstrn(r->device_id, strlen(r->device_id)) : json_null());
    json_object_set_new(ev, "domain", jstrn(dom, dlen));
    json_object_set_new(ev, "method", jstrn(r->method, r->method ? r->method_len : 0));
    json_object_set_new(ev, "path", jstrn(r->target, plen));
    json_object_set_new(ev, "status", json_integer(r->status));
    json_object_set_new(ev, "bytes_in", json_integer((json_int_t)(r->bytes_in + r->head_bytes)));
    json_object_set_new(ev, "bytes_out", json_integer((json_int_t)r->bytes_out));
    json_object_set_new(ev, "latency_ms", json_real((double)us / 1000.0));
    json_object_set_new(ev, "client", json_string(r->conn->sock.peer));
    json_object_set_new(ev, "protocol",
                        json_string(r->conn->proto == GW_PROTO_H2 ? "h2" : "http/1.1"));
    char rid[48];
    snprintf(rid, sizeof rid, "%d-%llu-%llu", w->id, (unsigned long long)r->conn->id,
             (unsigned long long)r->id);
    json_object_set_new(ev, "request_id", json_string(rid));
    if (r->egress_error)
        json_object_set_new(ev, "egress_denied", json_string(r->egress_error));
    if (r->ws_event) /* issue 7: a WebSocket's open and close events */
        json_object_set_new(ev, "websocket", json_string(r->ws_event));
    if (r->cut_reason)
        json_object_set_new(ev, "cut", json_string(r->cut_reason));
    char *js = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (!js)
        abort();
    struct audit_item *it = &a->ring[(a->head + a->len) % a->cap];
    it->key = strdup(s->audit_stream);
    it->json = js;
    if (!it->key)
        abort();
    a->len++;
    GW_INC(w->m.audit_queued);
    if (!a->ac && !uv_is_active((uv_handle_t *)&a->timer))
        audit_connect(a); /* while Redis is down the retry timer reconnects */
    else
        flush(a);
}

void gw_audit_dispose(struct gw_worker *w)
{
    struct gw_audit *a = w->audit;
    if (!a)
        return;
    w->audit = NULL;
    flush(a); /* best effort: hiredis sends what is queued before it disconnects */
    a->disposing = true;
    uv_close((uv_handle_t *)&a->timer, timer_closed);
    if (a->ac)
        redisAsyncDisconnect(a->ac); /* replies first, then on_disconnect frees */
}

void gw_audit_redis_moved(struct gw_worker *w)
{
    struct gw_audit *a = w->audit;
    if (!a || !a->ac || a->disposing)
        return;
    redisAsyncContext *ac = a->ac;
    a->ac = NULL; /* its callbacks, if any, see no state and are ignored */
    a->ready = false;
    a->sent = 0;
    a->gen++;
    a->handles--;
    ac->data = NULL;
    redisAsyncFree(ac);
    audit_connect(a);
}
