/* worker.c - process lifecycle: worker threads (own loop, own SO_REUSEPORT listener), the main
 * thread (signals: SIGTERM/SIGINT drain, SIGHUP reload) and the admin listener (/healthz,
 * /readyz, /metrics). */
#include "gw_internal.h"

#include "audit.h"

#include "log.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int64_t gw_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A listening socket with SO_REUSEPORT (libuv 1.44 has no UV_TCP_REUSEPORT). */
static int make_listener(const char *host, int port, bool reuseport, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char ps[8];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve listen address %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* ---------------- workers ---------------- */

static void on_connection(uv_stream_t *server, int status)
{
    struct gw_worker *w = server->data;
    if (status < 0)
        return;
    gw_conn_accept(w, server);
}

static void worker_finish(struct gw_worker *w);

static void maybe_done(struct gw_worker *w)
{
    if (w->draining && !w->stopping && gw_list_empty(&w->conns))
        worker_finish(w);
}

static void start_drain(struct gw_worker *w)
{
    w->draining = true;
    if (w->listening) {
        w->listening = false;
        uv_close((uv_handle_t *)&w->listener, NULL);
    }
    struct gw_list *l = w->conns.next;
    while (l != &w->conns) {
        struct gw_list *next = l->next;
        gw_conn_drain(GW_CONTAINER(l, struct gw_conn, link));
        l = next;
    }
    maybe_done(w);
}

/* Whether two snapshots name the same Redis (a Sentinel failover changes it). */
static bool same_redis(const struct gw_snapshot *a, const struct gw_snapshot *b)
{
    return a->redis_port == b->redis_port && strcmp(a->redis_host, b->redis_host) == 0 &&
           strcmp(a->redis_path, b->redis_path) == 0;
}

static void wake_cb(uv_async_t *a)
{
    struct gw_worker *w = a->data;
    struct gw_snapshot *s = atomic_exchange(&w->pending, NULL);
    if (s) {
        bool moved = w->snap && !same_redis(w->snap, s);
        gw_snapshot_unref(w->snap);
        w->snap = s;
        if (moved && w->redis) {
            /* the master moved: this connection leads to the old one, which may never report
             * its death (hiredis 0.14's libuv adapter drops poll errors): lookups waiting on it
             * fail now (503) and the next ones go to the new master */
            WL_INFO(NULL, "worker %d: redis moved to %s:%d, reconnecting", w->id, s->redis_host,
                    s->redis_port);
            redisAsyncContext *ac = w->redis;
            w->redis = NULL;
            w->redis_ready = false;
            redisAsyncFree(ac);
        }
        if (moved)
            gw_audit_redis_moved(w);
        gw_worker_redis_connect(w);
        gw_live_snapshot(w); /* channels of domains no longer ACTIVE are cut */
    }
    gw_live_run(w); /* cut instructions from the change feed */
    if (atomic_load(&w->srv->draining) && !w->draining)
        start_drain(w);
}

static void tick_cb(uv_timer_t *t)
{
    struct gw_worker *w = t->data;
    gw_worker_redis_watchdog(w);
    maybe_done(w);
}

static void idle_cb(uv_idle_t *h)
{
    (void)h; /* only there so that the loop polls without blocking: the check writes */
}

void gw_worker_poll_now(struct gw_worker *w)
{
    /* Work queued from a callback that runs before the poll phase (a write completion, a
     * timer) would otherwise wait for the poll to return: up to the next timer, 200 ms. */
    if (!uv_is_active((uv_handle_t *)&w->flush_idle))
        uv_idle_start(&w->flush_idle, idle_cb);
}

static void check_cb(uv_check_t *c)
{
    struct gw_worker *w = c->data;
    gw_h2_flush_all(w);
    gw_sock_flush_all(w);
    if (gw_list_empty(&w->flushq) && gw_list_empty(&w->sockq))
        uv_idle_stop(&w->flush_idle);
}

static void worker_finish(struct gw_worker *w)
{
    gw_pool_expire(w, true);
    gw_worker_redis_dispose(w);
    gw_audit_dispose(w);
    gw_live_stop(w);
    uv_close((uv_handle_t *)&w->tick, NULL);
    uv_close((uv_handle_t *)&w->wake, NULL);
    uv_close((uv_handle_t *)&w->flush_check, NULL);
    uv_close((uv_handle_t *)&w->flush_idle, NULL);
    uv_close((uv_handle_t *)&w->redis_timer, NULL);
}

static atomic_int workers_done;

static void worker_main(void *arg)
{
    struct gw_worker *w = arg;
    wake_cb(&w->wake);
    gw_worker_redis_connect(w);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    atomic_fetch_add(&workers_done, 1);
}

static struct gw_worker *worker_new(struct gw_server *srv, int id, char *err, size_t errlen)
{
    const struct gw_options *o = srv->opt;
    struct gw_worker *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    w->srv = srv;
    w->id = id;
    uv_loop_init(&w->loop);
    gw_list_init(&w->conns);
    gw_list_init(&w->pool);
    gw_list_init(&w->flushq);
    gw_list_init(&w->sockq);
    uv_async_init(&w->loop, &w->wake, wake_cb);
    w->wake.data = w;
    uv_timer_init(&w->loop, &w->tick);
    w->tick.data = w;
    uv_timer_init(&w->loop, &w->redis_timer);
    w->redis_timer.data = w;
    uv_check_init(&w->loop, &w->flush_check);
    w->flush_check.data = w;
    uv_check_start(&w->flush_check, check_cb);
    uv_idle_init(&w->loop, &w->flush_idle);
    w->flush_idle.data = w;
    uv_timer_start(&w->tick, tick_cb, 200, 200);
    gw_live_init(w);
    int fd = make_listener(o->listen_host, o->listen_port, true, err, errlen);
    if (fd < 0)
        return NULL;
    uv_tcp_init(&w->loop, &w->listener);
    w->listener.data = w;
    if (uv_tcp_open(&w->listener, fd) != 0 ||
        uv_listen((uv_stream_t *)&w->listener, 1024, on_connection) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d", o->listen_host, o->listen_port);
        return NULL;
    }
    w->listening = true;
    return w;
}

void gw_worker_wake(struct gw_worker *w)
{
    uv_async_send(&w->wake);
}

/* ---------------- metrics ---------------- */

struct out {
    char *buf;
    size_t cap, len;
};

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct out *o, const char *fmt, ...)
{
    if (o->len >= o->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n < o->cap - o->len ? (size_t)n : o->cap - o->len - 1;
}

int gw_admin_render_metrics(struct gw_server *srv, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0};
    static const struct {
        const char *name, *help;
        size_t off;
    } per_worker[] = {
        {"worklink_gateway_accepts_total", "Connections accepted, by worker (accept fairness)",
         offsetof(struct gw_metrics, accepts)},
        {"worklink_gateway_active_connections", "Open device connections, by worker",
         offsetof(struct gw_metrics, active_conns)},
        {"worklink_gateway_requests_by_worker_total", "Requests finished, by worker",
         offsetof(struct gw_metrics, requests)},
    };
    for (size_t k = 0; k < sizeof per_worker / sizeof per_worker[0]; k++) {
        bool gauge = strstr(per_worker[k].name, "_total") == NULL;
        outf(&o, "# HELP %s %s\n# TYPE %s %s\n", per_worker[k].name, per_worker[k].help,
             per_worker[k].name, gauge ? "gauge" : "counter");
        for (int i = 0; i < srv->nworkers; i++) {
            gw_counter *c = (gw_counter *)((char *)&srv->workers[i]->m + per_worker[k].off);
            outf(&o, "%s{worker=\"%d\"} %llu\n", per_worker[k].name, i,
                 (unsigned long long)GW_GET(*c));
        }
    }
    outf(&o, "# HELP worklink_gateway_requests_total Requests by status\n"
             "# TYPE worklink_gateway_requests_total counter\n");
    for (int st = 0; st < 600; st++) {
        uint64_t s = 0;
        for (int i = 0; i < srv->nworkers; i++)
            s += GW_GET(srv->workers[i]->m.status[st]);
        if (s)
            outf(&o, "worklink_gateway_requests_total{status=\"%d\"} %llu\n", st,
                 (unsigned long long)s);
    }
    outf(&o, "# HELP worklink_gateway_request_duration_seconds Request latency\n"
             "# TYPE worklink_gateway_request_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (int b = 0; b <= GW_LAT_BUCKETS; b++) {
        uint64_t s = 0;
        for (int i = 0; i < srv->nworkers; i++)
            s += GW_GET(srv->workers[i]->m.lat_bucket[b]);
        cum += s;
        if (b < GW_LAT_BUCKETS)
            outf(&o, "worklink_gateway_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                 gw_lat_bounds[b], (unsigned long long)cum);
        else
            outf(&o, "worklink_gateway_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                 (unsigned long long)cum);
    }
    uint64_t sum_us = 0;
    for (int i = 0; i < srv->nworkers; i++)
        sum_us += GW_GET(srv->workers[i]->m.lat_sum_us);
    outf(&o, "worklink_gateway_request_duration_seconds_sum %.6f\n", (double)sum_us / 1e6);
    outf(&o, "worklink_gateway_request_duration_seconds_count %llu\n", (unsigned long long)cum);
    static const struct {
        const char *name, *type;
        size_t off;
    } totals[] = {
        {"worklink_gateway_tls_handshakes_total", "counter",
         offsetof(struct gw_metrics, handshakes)},
        {"worklink_gateway_tls_handshake_failures_total", "counter",
         offsetof(struct gw_metrics, handshake_failures)},
        {"worklink_gateway_tls_resumed_total", "counter", offsetof(struct gw_metrics, resumed)},
        {"worklink_gateway_tls_unknown_sni_total", "counter",
         offsetof(struct gw_metrics, unknown_sni)},
        {"worklink_gateway_h2_streams_total", "counter", offsetof(struct gw_metrics, h2_streams)},
        {"worklink_gateway_response_bytes_total", "counter",
         offsetof(struct gw_metrics, bytes_out)},
        {"worklink_gateway_origin_connects_total", "counter",
         offsetof(struct gw_metrics, origin_connects)},
        {"worklink_gateway_origin_reused_total", "counter",
         offsetof(struct gw_metrics, origin_reused)},
        {"worklink_gateway_origin_errors_total", "counter",
         offsetof(struct gw_metrics, origin_errors)},
        {"worklink_gateway_origin_timeouts_total", "counter",
         offsetof(struct gw_metrics, origin_timeouts)},
        {"worklink_gateway_origin_pool_idle", "gauge", offsetof(struct gw_metrics, origin_idle)},
        {"worklink_gateway_session_lookups_total", "counter",
         offsetof(struct gw_metrics, session_lookups)},
        {"worklink_gateway_session_cache_hits_total", "counter",
         offsetof(struct gw_metrics, session_cache_hits)},
        {"worklink_gateway_redis_errors_total", "counter",
         offsetof(struct gw_metrics, redis_errors)},
        {"worklink_gateway_audit_events_total", "counter",
         offsetof(struct gw_metrics, audit_written)},
        {"worklink_gateway_audit_dropped_total", "counter",
         offsetof(struct gw_metrics, audit_dropped)},
        {"worklink_gateway_audit_errors_total", "counter",
         offsetof(struct gw_metrics, audit_errors)},
        {"worklink_gateway_audit_queued", "gauge", offsetof(struct gw_metrics, audit_queued)},
        {"worklink_gateway_websockets_open", "gauge", offsetof(struct gw_metrics, ws_open)},
        {"worklink_gateway_websockets_total", "counter", offsetof(struct gw_metrics, ws_total)},
        {"worklink_gateway_live_cuts_total", "counter", offsetof(struct gw_metrics, live_cuts)},
        {"worklink_gateway_egress_denied_total", "counter",
         offsetof(struct gw_metrics, egress_denied)},
    };
    for (size_t k = 0; k < sizeof totals / sizeof totals[0]; k++) {
        uint64_t s = 0;
        for (int i = 0; i < srv->nworkers; i++)
            s += GW_GET(*(gw_counter *)((char *)&srv->workers[i]->m + totals[k].off));
        outf(&o, "# TYPE %s %s\n%s %llu\n", totals[k].name, totals[k].type, totals[k].name,
             (unsigned long long)s);
    }
    int64_t now = gw_wall_ms();
    outf(&o, "# TYPE worklink_gateway_config_version gauge\nworklink_gateway_config_version %lld\n",
         (long long)atomic_load(&srv->snap_version));
    outf(&o,
         "# TYPE worklink_gateway_config_age_seconds gauge\n"
         "worklink_gateway_config_age_seconds %.3f\n",
         (double)(now - atomic_load(&srv->snap_loaded_ms)) / 1000.0);
    outf(&o,
         "# TYPE worklink_gateway_config_reloads_total counter\n"
         "worklink_gateway_config_reloads_total %lld\n",
         (long long)atomic_load(&srv->reloads));
    outf(&o,
         "# TYPE worklink_gateway_change_events_total counter\n"
         "worklink_gateway_change_events_total %lld\n",
         (long long)atomic_load(&srv->events));
    outf(&o, "# TYPE worklink_gateway_redis_up gauge\nworklink_gateway_redis_up %d\n",
         atomic_load(&srv->redis_up) ? 1 : 0);
    outf(&o, "# TYPE worklink_gateway_workers gauge\nworklink_gateway_workers %d\n", srv->nworkers);
    outf(&o, "# TYPE worklink_gateway_draining gauge\nworklink_gateway_draining %d\n",
         atomic_load(&srv->draining) ? 1 : 0);
    return (int)o.len;
}

/* ---------------- admin listener (main thread) ---------------- */

struct admin_conn {
    uv_tcp_t tcp;
    struct gw_server *srv;
    char buf[4096];
    size_t len;
    uv_write_t wr;
    char *out;
};

static void admin_closed(uv_handle_t *h)
{
    struct admin_conn *a = h->data;
    free(a->out);
    free(a);
}

static void admin_written(uv_write_t *wr, int status)
{
    (void)status;
    struct admin_conn *a = wr->data;
    uv_close((uv_handle_t *)&a->tcp, admin_closed);
}

static void admin_reply(struct admin_conn *a, int status, const char *ctype, const char *body,
                        size_t blen)
{
    a->out = malloc(blen + 256);
    if (!a->out)
        abort();
    int n = snprintf(a->out, 256,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                     status, wl_http_reason(status), ctype, blen);
    memcpy(a->out + n, body, blen);
    uv_buf_t b = uv_buf_init(a->out, (unsigned)(n + (int)blen));
    a->wr.data = a;
    uv_read_stop((uv_stream_t *)&a->tcp);
    if (uv_write(&a->wr, (uv_stream_t *)&a->tcp, &b, 1, admin_written) != 0)
        uv_close((uv_handle_t *)&a->tcp, admin_closed);
}

static void admin_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    (void)s;
    struct admin_conn *a = h->data;
    b->base = a->buf + a->len;
    b->len = sizeof a->buf - a->len - 1;
}

static void admin_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    struct admin_conn *a = st->data;
    if (n < 0) {
        uv_close((uv_handle_t *)&a->tcp, admin_closed);
        return;
    }
    a->len += (size_t)n;
    struct wl_http1_limits lim;
    wl_http1_limits_default(&lim);
    struct wl_http1_message *msg = malloc(sizeof *msg);
    if (!msg)
        abort();
    int rc = wl_http1_parse_request(a->buf, a->len, &lim, msg);
    if (rc == WL_HTTP1_INCOMPLETE && a->len < sizeof a->buf - 1) {
        free(msg);
        return;
    }
    struct gw_server *srv = a->srv;
    if (rc <= 0) {
        free(msg);
        admin_reply(a, 400, "text/plain", "bad request\n", 12);
        return;
    }
    struct wl_slice p = msg->path;
    bool get = msg->method.len == 3 && memcmp(msg->method.base, "GET", 3) == 0;
    free(msg);
    if (!get) {
        admin_reply(a, 405, "text/plain", "method not allowed\n", 19);
    } else if (p.len == 8 && memcmp(p.base, "/healthz", 8) == 0) {
        admin_reply(a, 200, "text/plain", "ok\n", 3);
    } else if (p.len == 7 && memcmp(p.base, "/readyz", 7) == 0) {
        bool ready =
            atomic_load(&srv->loaded) && !atomic_load(&srv->draining) && !gw_server_stale(srv);
        if (ready)
            admin_reply(a, 200, "text/plain", "ready\n", 6);
        else
            admin_reply(a, 503, "text/plain", "not ready\n", 10);
    } else if (p.len == 8 && memcmp(p.base, "/metrics", 8) == 0) {
        size_t cap = 64 * 1024 + (size_t)srv->nworkers * 512;
        char *m = malloc(cap);
        if (!m)
            abort();
        int n2 = gw_admin_render_metrics(srv, m, cap);
        admin_reply(a, 200, "text/plain; version=0.0.4", m, (size_t)n2);
        free(m);
    } else {
        admin_reply(a, 404, "text/plain", "not found\n", 10);
    }
}

static void admin_conn_cb(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct admin_conn *a = calloc(1, sizeof *a);
    if (!a)
        abort();
    a->srv = server->data;
    uv_tcp_init(server->loop, &a->tcp);
    a->tcp.data = a;
    if (uv_accept(server, (uv_stream_t *)&a->tcp) != 0) {
        uv_close((uv_handle_t *)&a->tcp, admin_closed);
        return;
    }
    uv_read_start((uv_stream_t *)&a->tcp, admin_alloc, admin_read);
}

/* ---------------- main thread ---------------- */

struct main_state {
    struct gw_server *srv;
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t drain_timer;
    uv_tcp_t admin;
    int64_t drain_deadline;
    bool draining;
};

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void drain_check(uv_timer_t *t)
{
    struct main_state *ms = t->data;
    if (atomic_load(&workers_done) >= ms->srv->nworkers || gw_wall_ms() > ms->drain_deadline)
        uv_walk(t->loop, close_walk, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct main_state *ms = s->data;
    if (signum == SIGHUP) {
        WL_INFO(NULL, "SIGHUP: reloading the fleet configuration");
        gw_config_reload(ms->srv);
        return;
    }
    if (ms->draining)
        return;
    ms->draining = true;
    WL_INFO(NULL, "draining: no new connections, finishing in-flight requests");
    atomic_store(&ms->srv->draining, true);
    for (int i = 0; i < ms->srv->nworkers; i++)
        gw_worker_wake(ms->srv->workers[i]);
    ms->drain_deadline = gw_wall_ms() + ms->srv->opt->drain_timeout_ms;
    uv_timer_start(&ms->drain_timer, drain_check, 20, 20);
}

int gw_run(const struct gw_options *o)
{
    static struct gw_server srv_storage;
    struct gw_server *srv = &srv_storage;
    char err[512];
    int code = 2;
    srv->opt = o;
    signal(SIGPIPE, SIG_IGN);
    if (wl_master_key_load(o->key_file, &srv->mk, err, sizeof err) < 0) {
        fprintf(stderr, "worklink-gateway: --key-file: %s\n", err);
        return 2;
    }
    if (wl_redis_url_parse(o->redis_url, &srv->rurl, err, sizeof err) < 0) {
        fprintf(stderr, "worklink-gateway: --redis: %s\n", err);
        return 2;
    }
    srv->base_ctx = gw_tls_base_ctx_new(srv, err, sizeof err);
    if (!srv->base_ctx) {
        fprintf(stderr, "worklink-gateway: %s\n", err);
        return 2;
    }
    if (gw_ws_limits_init(srv) < 0)
        abort();
    srv->nworkers = o->workers;
    srv->workers = calloc((size_t)o->workers, sizeof *srv->workers);
    if (!srv->workers)
        abort();
    for (int i = 0; i < o->workers; i++) {
        srv->workers[i] = worker_new(srv, i, err, sizeof err);
        if (!srv->workers[i]) {
            fprintf(stderr, "worklink-gateway: --listen: %s\n", err);
            return 2;
        }
    }
    if (gw_config_start(srv, err, sizeof err) < 0) {
        fprintf(stderr, "worklink-gateway: %s\n", err); /* names redis or the fleet */
        return 2;
    }
    uv_loop_t *loop = uv_default_loop();
    struct main_state ms = {.srv = srv};
    uv_tcp_init(loop, &ms.admin);
    ms.admin.data = srv;
    int afd = make_listener(o->admin_host, o->admin_port, false, err, sizeof err);
    if (afd < 0 || uv_tcp_open(&ms.admin, afd) != 0 ||
        uv_listen((uv_stream_t *)&ms.admin, 128, admin_conn_cb) != 0) {
        fprintf(stderr, "worklink-gateway: --admin-listen: %s\n", err);
        return 2;
    }
    for (int i = 0; i < o->workers; i++) {
        if (uv_thread_create(&srv->workers[i]->thread, worker_main, srv->workers[i]) != 0) {
            fprintf(stderr, "worklink-gateway: cannot start worker threads\n");
            return 2;
        }
    }
    uv_signal_init(loop, &ms.sigterm);
    uv_signal_init(loop, &ms.sigint);
    uv_signal_init(loop, &ms.sighup);
    ms.sigterm.data = ms.sigint.data = ms.sighup.data = &ms;
    uv_signal_start(&ms.sigterm, on_signal, SIGTERM);
    uv_signal_start(&ms.sigint, on_signal, SIGINT);
    uv_signal_start(&ms.sighup, on_signal, SIGHUP);
    uv_timer_init(loop, &ms.drain_timer);
    ms.drain_timer.data = &ms;
    WL_INFO(NULL, "gateway for fleet %s listening on %s:%d (admin %s:%d), %d workers", o->fleet,
            o->listen_host, o->listen_port, o->admin_host, o->admin_port, o->workers);
    printf("ready\n");
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT);
    code = 0;
    if (atomic_load(&workers_done) < srv->nworkers) {
        WL_WARN(NULL, "drain timeout: closing %d busy workers",
                srv->nworkers - atomic_load(&workers_done));
        fflush(stderr);
        _exit(0);
    }
    for (int i = 0; i < srv->nworkers; i++)
        uv_thread_join(&srv->workers[i]->thread);
    gw_config_stop(srv); /* no more publishing into the workers */
    for (int i = 0; i < srv->nworkers; i++) {
        struct gw_worker *w = srv->workers[i];
        uv_loop_close(&w->loop);
        gw_snapshot_unref(w->snap);
        gw_snapshot_unref(atomic_exchange(&w->pending, NULL));
        gw_live_free(w);
        free(w);
    }
    free(srv->workers);
    SSL_CTX_free(srv->base_ctx);
    uv_loop_close(loop);
    WL_INFO(NULL, "drained, exiting");
    return code;
}
