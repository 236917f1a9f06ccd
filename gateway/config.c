/* config.c - the config thread: loads the fleet from Redis into immutable snapshots, follows the
 * change feed (SUBSCRIBE wl:{F}:events on hiredis' libuv adapter), and hands every new snapshot
 * to the workers. Loads use a synchronous hiredis context with short timeouts: they run on this
 * thread only, never on a worker's request path.
 *
 * Every event bumps srv->session_gen first (workers' session caches invalidate at once), then
 * anything but a session/user/device event triggers a full reload (coalesced). A version gap, a
 * reconnect or SIGHUP also reloads. While Redis is down the last snapshot stays in force; workers
 * fail closed after --stale-ms (gw_server_stale). Domain certificate contexts are cached by ARN
 * and content digest, so a reload after a status change costs a few Redis round trips. The same
 * thread registers the process in wl:{F}:gateways and drains it when the fleet goes away
 * (heartbeat.h). */
#include "gw_internal.h"

#include "audit.h"
#include "egress.h"
#include "heartbeat.h"

#include "log.h"

#include <hiredis/adapters/libuv.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct cert_entry {
    char *arn;
    unsigned char digest[32];
    SSL_CTX *ctx;
    bool used;
};

struct gw_config {
    struct gw_server *srv;
    uv_loop_t loop;
    uv_async_t cmd;
    atomic_int want_stop;
    atomic_int want_reload;
    uv_timer_t retry;
    uv_timer_t poll;
    uv_timer_t soon;
    uv_timer_t beat;
    struct gw_heartbeat hb;
    char fleet_status[16]; /* status field of the last load; "" when the fleet hash is absent */
    redisContext *sync;
    redisAsyncContext *sub;
    bool sub_ready;
    uint64_t sub_started; /* uv_now() of the subscriber's connect */
    int64_t version;
    struct cert_entry *certs;
    size_t ncerts;
    SSL_CTX *origin_ctx; /* cached: loading the system roots costs hundreds of ms */
    unsigned char origin_digest[32];
    char host[256];
    int port;
    char path[256];
};

/* ---------------- snapshots ---------------- */

struct gw_snapshot *gw_snapshot_new(void)
{
    struct gw_snapshot *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    atomic_init(&s->refs, 1);
    return s;
}

struct gw_snapshot *gw_snapshot_ref(struct gw_snapshot *s)
{
    atomic_fetch_add(&s->refs, 1);
    return s;
}

void gw_snapshot_unref(struct gw_snapshot *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (size_t i = 0; i < s->ndomains; i++) {
        free(s->domains[i].name);
        SSL_CTX_free(s->domains[i].ctx);
    }
    free(s->domains);
    X509_STORE_free(s->device_store);
    sk_X509_NAME_pop_free(s->device_names, X509_NAME_free);
    SSL_CTX_free(s->origin_ctx);
    gw_egress_free(s->egress);
    free(s->audit_stream);
    free(s);
}

static int dom_cmp(const void *a, const void *b)
{
    return strcmp(((const struct gw_domain *)a)->name, ((const struct gw_domain *)b)->name);
}

const struct gw_domain *gw_snapshot_find(const struct gw_snapshot *s, const char *name, size_t len)
{
    char key[256];
    if (!s || len == 0 || len >= sizeof key)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        key[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
    }
    if (key[len - 1] == '.') /* absolute form "wiki.example.com." */
        len--;
    key[len] = '\0';
    size_t lo = 0, hi = s->ndomains;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(key, s->domains[mid].name);
        if (c == 0)
            return &s->domains[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

void gw_server_publish(struct gw_server *srv, struct gw_snapshot *s)
{
    for (int i = 0; i < srv->nworkers; i++) {
        struct gw_worker *w = srv->workers[i];
        if (!w)
            continue;
        struct gw_snapshot *old = atomic_exchange(&w->pending, gw_snapshot_ref(s));
        gw_snapshot_unref(old);
        gw_worker_wake(w);
    }
    atomic_store(&srv->snap_version, s->version);
    atomic_store(&srv->snap_loaded_ms, s->loaded_ms);
    atomic_store(&srv->last_apply_ms, gw_wall_ms());
    atomic_store(&srv->loaded, true);
}

bool gw_server_stale(struct gw_server *srv)
{
    if (atomic_load_explicit(&srv->redis_up, memory_order_relaxed))
        return false;
    int64_t since = atomic_load_explicit(&srv->redis_down_since, memory_order_relaxed);
    return since != 0 && gw_wall_ms() - since > srv->opt->stale_ms;
}

/* ---------------- Redis helpers (config thread) ---------------- */

static const char *hfield(const redisReply *r, const char *name)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        if (r->element[i]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, name) == 0 &&
            r->element[i + 1]->type == REDIS_REPLY_STRING)
            return r->element[i + 1]->str;
    }
    return NULL;
}

static void mark_down(struct gw_config *cfg, const char *why)
{
    struct gw_server *srv = cfg->srv;
    if (atomic_load(&srv->redis_up)) {
        atomic_store(&srv->redis_down_since, gw_wall_ms());
        atomic_store(&srv->redis_up, false);
        WL_WARN(NULL, "redis unreachable (%s): serving from the snapshot for %lld ms", why,
                (long long)srv->opt->stale_ms);
    }
    if (cfg->sync) {
        redisFree(cfg->sync);
        cfg->sync = NULL;
    }
}

static void mark_up(struct gw_config *cfg)
{
    struct gw_server *srv = cfg->srv;
    if (!atomic_load(&srv->redis_up)) {
        atomic_store(&srv->redis_up, true);
        atomic_store(&srv->redis_down_since, 0);
        WL_INFO(NULL, "redis reachable at %s:%d", cfg->path[0] ? cfg->path : cfg->host, cfg->port);
    }
}

static redisContext *connect_sync(const char *host, int port, const char *path)
{
    struct timeval tv = {1, 0};
    redisContext *c = path && path[0] ? redisConnectUnixWithTimeout(path, tv)
                                      : redisConnectWithTimeout(host, port, tv);
    if (!c)
        return NULL;
    if (c->err) {
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

/* Finds the Redis address (asks the sentinels for a sentinel:// URL). */
static int resolve_redis(struct gw_config *cfg, char *err, size_t errlen)
{
    const struct wl_redis_url *u = &cfg->srv->rurl;
    cfg->path[0] = '\0';
    if (u->kind == WL_REDIS_TCP) {
        snprintf(cfg->host, sizeof cfg->host, "%s", u->addr.host);
        cfg->port = u->addr.port;
        return 0;
    }
    if (u->kind == WL_REDIS_UNIX) {
        snprintf(cfg->path, sizeof cfg->path, "%s", u->path);
        cfg->port = 0;
        return 0;
    }
    for (int i = 0; i < u->nsentinels; i++) {
        redisContext *c = connect_sync(u->sentinels[i].host, u->sentinels[i].port, NULL);
        if (!c)
            continue;
        redisReply *r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", u->master);
        bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2;
        if (ok) {
            snprintf(cfg->host, sizeof cfg->host, "%s", r->element[0]->str);
            cfg->port = atoi(r->element[1]->str);
        }
        freeReplyObject(r);
        redisFree(c);
        if (ok)
            return 0;
    }
    snprintf(err, errlen, "no sentinel knows master %s", u->master);
    return -1;
}

static int ensure_sync(struct gw_config *cfg, char *err, size_t errlen)
{
    if (cfg->sync)
        return 0;
    if (resolve_redis(cfg, err, errlen) < 0)
        return -1;
    cfg->sync = connect_sync(cfg->host, cfg->port, cfg->path);
    if (!cfg->sync) {
        snprintf(err, errlen, "cannot connect to redis %s:%d", cfg->path[0] ? cfg->path : cfg->host,
                 cfg->port);
        return -1;
    }
    if (cfg->srv->rurl.db) {
        redisReply *r = redisCommand(cfg->sync, "SELECT %d", cfg->srv->rurl.db);
        bool ok = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (!ok) {
            snprintf(err, errlen, "redis SELECT %d failed", cfg->srv->rurl.db);
            redisFree(cfg->sync);
            cfg->sync = NULL;
            return -1;
        }
    }
    return 0;
}

static redisReply *cmd(struct gw_config *cfg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(cfg->sync, fmt, ap);
    va_end(ap);
    return r;
}

static SSL_CTX *cert_ctx(struct gw_config *cfg, const char *fleet, const char *domain,
                         const char *arn)
{
    const char *slash = strrchr(arn, '/');
    if (!slash || !strstr(arn, ":certificate/")) {
        WL_WARN(NULL, "domain %s: acm_arn %s is not a certificate ARN", domain, arn);
        return NULL;
    }
    redisReply *r = cmd(cfg, "HGETALL wl:acm:cert:%s", slash + 1);
    if (!r)
        return NULL;
    const char *pem = hfield(r, "certificate"), *chain = hfield(r, "chain"),
               *sealed = hfield(r, "key"), *rarn = hfield(r, "arn");
    SSL_CTX *ctx = NULL;
    if (!pem || !sealed || !rarn || strcmp(rarn, arn) != 0) {
        WL_WARN(NULL, "domain %s: certificate %s not found in the store", domain, arn);
        goto out;
    }
    unsigned char dg[32];
    EVP_MD_CTX *sh = EVP_MD_CTX_new();
    EVP_DigestInit_ex(sh, EVP_sha256(), NULL);
    EVP_DigestUpdate(sh, pem, strlen(pem));
    EVP_DigestUpdate(sh, "|", 1);
    EVP_DigestUpdate(sh, chain ? chain : "", chain ? strlen(chain) : 0);
    EVP_DigestUpdate(sh, "|", 1);
    EVP_DigestUpdate(sh, sealed, strlen(sealed));
    EVP_DigestFinal_ex(sh, dg, NULL);
    EVP_MD_CTX_free(sh);
    for (size_t i = 0; i < cfg->ncerts; i++) {
        if (strcmp(cfg->certs[i].arn, arn) == 0 && memcmp(cfg->certs[i].digest, dg, 32) == 0) {
            cfg->certs[i].used = true;
            SSL_CTX_up_ref(cfg->certs[i].ctx);
            ctx = cfg->certs[i].ctx;
            goto out;
        }
    }
    size_t klen = 0;
    uint8_t *key = wl_envelope_open(&cfg->srv->mk, sealed, arn, &klen);
    if (!key) {
        WL_WARN(NULL, "domain %s: private key of %s does not open with the key file", domain, arn);
        goto out;
    }
    char err[200];
    ctx = gw_tls_domain_ctx_new(cfg->srv, pem, chain, (const char *)key, klen, err, sizeof err);
    OPENSSL_cleanse(key, klen);
    free(key);
    if (!ctx) {
        WL_WARN(NULL, "domain %s: certificate %s: %s", domain, arn, err);
        goto out;
    }
    struct cert_entry *ne = realloc(cfg->certs, (cfg->ncerts + 1) * sizeof *ne);
    if (!ne)
        abort();
    cfg->certs = ne;
    ne[cfg->ncerts].arn = strdup(arn);
    memcpy(ne[cfg->ncerts].digest, dg, 32);
    ne[cfg->ncerts].ctx = ctx;
    ne[cfg->ncerts].used = true;
    cfg->ncerts++;
    SSL_CTX_up_ref(ctx);
    (void)fleet;
out:
    freeReplyObject(r);
    return ctx;
}

static void cert_cache_sweep(struct gw_config *cfg)
{
    size_t j = 0;
    for (size_t i = 0; i < cfg->ncerts; i++) {
        if (cfg->certs[i].used) {
            cfg->certs[i].used = false;
            cfg->certs[j++] = cfg->certs[i];
        } else {
            free(cfg->certs[i].arn);
            SSL_CTX_free(cfg->certs[i].ctx);
        }
    }
    cfg->ncerts = j;
}

static enum gw_domain_status parse_status(const char *s)
{
    if (s && strcmp(s, "ACTIVE") == 0)
        return GW_DOM_ACTIVE;
    if (s && strcmp(s, "INACTIVE") == 0)
        return GW_DOM_INACTIVE;
    return GW_DOM_OTHER;
}

/* Reads the whole fleet. Returns a new snapshot, or NULL when Redis failed (err says why). */
static struct gw_snapshot *load(struct gw_config *cfg, char *err, size_t errlen)
{
    const char *F = cfg->srv->opt->fleet;
    struct gw_snapshot *s = NULL;
    redisReply *ver = NULL, *fleet = NULL, *doms = NULL, *cas = NULL;
    const char **ca_pems = NULL;
    redisReply **ca_replies = NULL;
    if (ensure_sync(cfg, err, errlen) < 0)
        return NULL;
    ver = cmd(cfg, "GET wl:{%s}:version", F);
    fleet = cmd(cfg, "HGETALL wl:{%s}:fleet", F);
    doms = cmd(cfg, "ZRANGE wl:{%s}:domains 0 -1", F);
    cas = cmd(cfg, "ZRANGE wl:{%s}:cas 0 -1", F);
    if (!ver || !fleet || !doms || !cas || doms->type != REDIS_REPLY_ARRAY ||
        cas->type != REDIS_REPLY_ARRAY || fleet->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "redis read failed: %s",
                 cfg->sync->err ? cfg->sync->errstr : "unexpected reply");
        goto fail;
    }
    s = gw_snapshot_new();
    s->version = ver->type == REDIS_REPLY_STRING ? strtoll(ver->str, NULL, 10) : 0;
    s->loaded_ms = gw_wall_ms();
    const char *fstatus = hfield(fleet, "status");
    snprintf(cfg->fleet_status, sizeof cfg->fleet_status, "%s", fstatus ? fstatus : "");
    /* CREATING: no gateway had registered yet; this one is registering (heartbeat.h) */
    s->fleet_exists = fleet->elements > 0 && fstatus &&
                      (strcmp(fstatus, "ACTIVE") == 0 || strcmp(fstatus, "CREATING") == 0);
    snprintf(s->redis_host, sizeof s->redis_host, "%s", cfg->host);
    s->redis_port = cfg->port;
    snprintf(s->redis_path, sizeof s->redis_path, "%s", cfg->path);
    if (cfg->srv->opt->network_file[0]) /* issue 6: egress policy, re-read on every reload */
        s->egress =
            s->fleet_exists
                ? gw_egress_new(cfg->srv->opt->network_file, hfield(fleet, "vpc_id"),
                                hfield(fleet, "subnet_ids"), hfield(fleet, "security_group_ids"))
                : gw_egress_new(NULL, NULL, NULL, NULL);
    const char *audit_arn = s->fleet_exists ? hfield(fleet, "audit_stream_arn") : NULL;
    s->audit_stream = gw_audit_stream_key(audit_arn);
    const char *downloads = s->fleet_exists ? hfield(fleet, "downloads") : NULL;
    s->downloads_blocked = downloads && strcmp(downloads, "block") == 0; /* render_hook.c */
    if (audit_arn && *audit_arn && !s->audit_stream)
        WL_WARN(NULL, "fleet %s: audit_stream_arn %s is not a Kinesis stream ARN: no audit events",
                F, audit_arn);

    if (s->fleet_exists && doms->elements > 0) {
        s->domains = calloc(doms->elements, sizeof *s->domains);
        if (!s->domains)
            abort();
        for (size_t i = 0; i < doms->elements; i++) {
            const char *dn = doms->element[i]->str;
            redisReply *d = cmd(cfg, "HGETALL wl:{%s}:domain:%s", F, dn);
            if (!d) {
                snprintf(err, errlen, "redis read failed");
                goto fail;
            }
            struct gw_domain *gd = &s->domains[s->ndomains];
            gd->name = strdup(dn);
            for (char *p = gd->name; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p + 32);
            gd->status = parse_status(hfield(d, "status"));
            const char *arn = hfield(d, "acm_arn");
            if (arn && d->elements > 0)
                gd->ctx = cert_ctx(cfg, F, dn, arn);
            if (cfg->sync->err) { /* connection died in the middle (cert_ctx got no reply) */
                freeReplyObject(d);
                s->ndomains++;
                snprintf(err, errlen, "redis read failed");
                goto fail;
            }
            freeReplyObject(d);
            s->ndomains++;
        }
        qsort(s->domains, s->ndomains, sizeof *s->domains, dom_cmp);
    }
    const char *dca = hfield(fleet, "device_ca");
    if (s->fleet_exists && dca && *dca) {
        if (gw_tls_load_ca_pem(dca, &s->device_store, &s->device_names) < 0) {
            /* fail closed: an unreadable device policy must not turn into "no policy" */
            WL_ERROR(NULL, "fleet %s: device_ca is not a PEM certificate chain: refusing devices",
                     F);
            for (size_t i = 0; i < s->ndomains; i++) {
                SSL_CTX_free(s->domains[i].ctx);
                s->domains[i].ctx = NULL;
            }
        }
    }
    ca_pems = calloc(cas->elements + 1, sizeof *ca_pems);
    ca_replies = calloc(cas->elements + 1, sizeof *ca_replies);
    size_t nca = 0;
    for (size_t i = 0; i < cas->elements; i++) {
        redisReply *c = cmd(cfg, "HGET wl:{%s}:ca:%s certificate", F, cas->element[i]->str);
        if (!c) {
            snprintf(err, errlen, "redis read failed");
            goto fail;
        }
        ca_replies[i] = c;
        if (c->type == REDIS_REPLY_STRING)
            ca_pems[nca++] = c->str;
    }
    unsigned char od[32];
    EVP_MD_CTX *oh = EVP_MD_CTX_new();
    EVP_DigestInit_ex(oh, EVP_sha256(), NULL);
    for (size_t i = 0; i < nca; i++)
        EVP_DigestUpdate(oh, ca_pems[i], strlen(ca_pems[i]) + 1);
    EVP_DigestFinal_ex(oh, od, NULL);
    EVP_MD_CTX_free(oh);
    if (!cfg->origin_ctx || memcmp(od, cfg->origin_digest, 32) != 0) {
        SSL_CTX *nc = gw_tls_origin_ctx_new(ca_pems, nca);
        if (nc) {
            SSL_CTX_free(cfg->origin_ctx);
            cfg->origin_ctx = nc;
            memcpy(cfg->origin_digest, od, 32);
        }
    }
    if (cfg->origin_ctx) {
        SSL_CTX_up_ref(cfg->origin_ctx);
        s->origin_ctx = cfg->origin_ctx;
    }
    for (size_t i = 0; i < cas->elements; i++)
        freeReplyObject(ca_replies[i]);
    free(ca_replies);
    free(ca_pems);
    freeReplyObject(ver);
    freeReplyObject(fleet);
    freeReplyObject(doms);
    freeReplyObject(cas);
    cert_cache_sweep(cfg);
    return s;
fail:
    if (ca_replies) {
        for (size_t i = 0; i < cas->elements; i++)
            freeReplyObject(ca_replies[i]);
    }
    free(ca_replies);
    free(ca_pems);
    freeReplyObject(ver);
    freeReplyObject(fleet);
    freeReplyObject(doms);
    freeReplyObject(cas);
    gw_snapshot_unref(s);
    for (size_t i = 0; i < cfg->ncerts; i++)
        cfg->certs[i].used = true; /* keep the cache on failure */
    mark_down(cfg, err);
    return NULL;
}

static void sub_connect(struct gw_config *cfg);

/* Reloads and publishes. Returns 0, or -1 (Redis down: retry timer armed). */
static int reload(struct gw_config *cfg)
{
    char err[256];
    uint64_t t0 = uv_hrtime();
    struct gw_snapshot *s = load(cfg, err, sizeof err);
    WL_DEBUG(NULL, "reload took %.2f ms (%s)", (double)(uv_hrtime() - t0) / 1e6, s ? "ok" : err);
    if (!s)
        return -1; /* the caller arms the retry timer */
    mark_up(cfg);
    bool changed = s->version != cfg->version;
    cfg->version = s->version;
    atomic_fetch_add(&cfg->srv->reloads, 1);
    gw_server_publish(cfg->srv, s);
    gw_snapshot_unref(s);
    gw_heartbeat_fleet_gone(&cfg->hb, cfg->fleet_status[0] ? cfg->fleet_status : NULL);
    if (changed)
        WL_DEBUG(NULL, "snapshot version %lld published", (long long)cfg->version);
    return 0;
}

static void retry_cb(uv_timer_t *t);

static void schedule_retry(struct gw_config *cfg)
{
    uv_timer_start(&cfg->retry, retry_cb, 250, 0);
}

static void retry_cb(uv_timer_t *t)
{
    struct gw_config *cfg = t->data;
    if (reload(cfg) < 0) {
        schedule_retry(cfg);
        return;
    }
    if (!cfg->sub)
        sub_connect(cfg);
}

static void soon_cb(uv_timer_t *t)
{
    struct gw_config *cfg = t->data;
    if (reload(cfg) < 0)
        schedule_retry(cfg);
}

static void reload_soon(struct gw_config *cfg)
{
    uv_timer_start(&cfg->soon, soon_cb, 0, 0); /* (again at 0 if the poll deferred it) */
}

static void on_message(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct gw_config *cfg = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3)
        return;
    const char *type = r->element[0]->str;
    if (type && strcmp(type, "subscribe") == 0) {
        cfg->sub_ready = true;
        reload_soon(cfg); /* whatever changed between the load and the subscription */
        return;
    }
    if (!type || strcmp(type, "message") != 0 || r->element[2]->type != REDIS_REPLY_STRING)
        return;
    struct gw_server *srv = cfg->srv;
    atomic_store(&srv->last_event_ms, gw_wall_ms());
    WL_DEBUG(NULL, "event %.*s", (int)r->element[2]->len, r->element[2]->str);
    atomic_fetch_add(&srv->session_gen, 1);
    atomic_fetch_add(&srv->events, 1);
    json_error_t jerr;
    json_t *ev = json_loadb(r->element[2]->str, r->element[2]->len, 0, &jerr);
    json_int_t version = ev ? json_integer_value(json_object_get(ev, "version")) : 0;
    const char *kind = ev ? json_string_value(json_object_get(ev, "kind")) : NULL;
    /* live channels of whoever lost access are cut at once, on every worker (live.c) */
    gw_live_event(srv, kind, ev ? json_string_value(json_object_get(ev, "op")) : NULL,
                  ev ? json_string_value(json_object_get(ev, "id")) : NULL);
    bool session_only = kind && (strcmp(kind, "session") == 0 || strcmp(kind, "user") == 0 ||
                                 strcmp(kind, "device") == 0);
    if (session_only && version == cfg->version + 1) {
        cfg->version = version; /* caches invalidated above; no config change */
        atomic_store(&srv->snap_version, version);
    } else {
        reload_soon(cfg);
    }
    json_decref(ev);
}

static void on_sub_connect(const redisAsyncContext *ac, int status)
{
    struct gw_config *cfg = ac->data;
    if (status != REDIS_OK) {
        cfg->sub = NULL; /* hiredis frees the context */
        mark_down(cfg, "subscriber connect failed");
        schedule_retry(cfg);
    }
}

static void on_sub_disconnect(const redisAsyncContext *ac, int status)
{
    struct gw_config *cfg = ac->data;
    cfg->sub = NULL;
    cfg->sub_ready = false;
    if (atomic_load(&cfg->want_stop))
        return;
    (void)status;
    mark_down(cfg, "subscriber disconnected");
    schedule_retry(cfg);
}

static void sub_connect(struct gw_config *cfg)
{
    redisAsyncContext *ac =
        cfg->path[0] ? redisAsyncConnectUnix(cfg->path) : redisAsyncConnect(cfg->host, cfg->port);
    if (!ac || ac->err) {
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(cfg);
        return;
    }
    ac->data = cfg;
    cfg->sub_started = uv_now(&cfg->loop);
    redisLibuvAttach(ac, &cfg->loop);
    redisAsyncSetConnectCallback(ac, on_sub_connect);
    redisAsyncSetDisconnectCallback(ac, on_sub_disconnect);
    cfg->sub = ac;
    redisAsyncCommand(ac, on_message, cfg, "SUBSCRIBE wl:{%s}:events", cfg->srv->opt->fleet);
}

static void poll_cb(uv_timer_t *t)
{
    struct gw_config *cfg = t->data;
    if (cfg->sub && !cfg->sub_ready && uv_now(&cfg->loop) - cfg->sub_started > 2000) {
        /* hiredis 0.14's libuv adapter drops poll errors: a failed connect can stall silently */
        redisAsyncContext *ac = cfg->sub;
        cfg->sub = NULL;
        redisAsyncFree(ac);
        if (!cfg->sub)
            schedule_retry(cfg);
        return;
    }
    if (!cfg->sync)
        return; /* the retry timer is at work */
    redisReply *r = cmd(cfg, "GET wl:{%s}:version", cfg->srv->opt->fleet);
    if (!r) {
        mark_down(cfg, "poll failed");
        schedule_retry(cfg);
        return;
    }
    int64_t v = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    /* A version ahead of ours is usually an event still unread on the subscriber: a reload now
     * (synchronous, on this thread) would hold that event back, and with it the cut of live
     * channels (live.c). Reload a little later; an event in between reloads at once. */
    if (v != cfg->version && !uv_is_active((uv_handle_t *)&cfg->soon))
        uv_timer_start(&cfg->soon, soon_cb, 50, 0);
}

static void beat_cb(uv_timer_t *t)
{
    struct gw_config *cfg = t->data;
    if (!cfg->sync)
        return; /* the retry timer is at work */
    if (gw_heartbeat_beat(&cfg->hb, cfg->sync, gw_wall_ms()) < 0) {
        mark_down(cfg, "heartbeat failed");
        schedule_retry(cfg);
    }
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void cmd_cb(uv_async_t *a)
{
    struct gw_config *cfg = a->data;
    if (atomic_exchange(&cfg->want_reload, 0))
        reload_soon(cfg);
    if (atomic_load(&cfg->want_stop)) {
        gw_heartbeat_leave(&cfg->hb, cfg->sync);
        if (cfg->sub) {
            redisAsyncContext *ac = cfg->sub;
            cfg->sub = NULL;
            redisAsyncFree(ac);
        }
        uv_walk(&cfg->loop, close_walk, NULL);
    }
}

static void thread_main(void *arg)
{
    struct gw_config *cfg = arg;
    uv_run(&cfg->loop, UV_RUN_DEFAULT);
}

int gw_config_start(struct gw_server *srv, char *err, size_t errlen)
{
    struct gw_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        abort();
    cfg->srv = srv;
    cfg->version = -1;
    srv->cfg = cfg;
    atomic_store(&srv->redis_up, true);
    uv_loop_init(&cfg->loop);
    uv_async_init(&cfg->loop, &cfg->cmd, cmd_cb);
    cfg->cmd.data = cfg;
    uv_timer_init(&cfg->loop, &cfg->retry);
    uv_timer_init(&cfg->loop, &cfg->poll);
    uv_timer_init(&cfg->loop, &cfg->soon);
    uv_timer_init(&cfg->loop, &cfg->beat);
    cfg->retry.data = cfg->poll.data = cfg->soon.data = cfg->beat.data = cfg;
    gw_heartbeat_init(&cfg->hb, srv->opt->fleet);
    struct gw_snapshot *s = load(cfg, err, errlen);
    if (!s)
        return -1;
    if (gw_heartbeat_start_refusal(srv->opt->fleet, cfg->fleet_status[0] ? cfg->fleet_status : NULL,
                                   err, errlen)) {
        gw_snapshot_unref(s);
        return -1;
    }
    cfg->version = s->version;
    gw_server_publish(srv, s);
    gw_snapshot_unref(s);
    WL_INFO(NULL, "fleet %s loaded: version %lld", srv->opt->fleet, (long long)cfg->version);
    if (gw_heartbeat_beat(&cfg->hb, cfg->sync, gw_wall_ms()) < 0)
        WL_WARN(NULL, "fleet %s: first heartbeat failed (retried)", srv->opt->fleet);
    WL_INFO(NULL, "fleet %s: registered as gateway instance %s", srv->opt->fleet, cfg->hb.id);
    sub_connect(cfg);
    uv_timer_start(&cfg->poll, poll_cb, 5000, 5000);
    uv_timer_start(&cfg->beat, beat_cb, GW_HEARTBEAT_MS, GW_HEARTBEAT_MS);
    if (uv_thread_create(&srv->cfg_thread, thread_main, cfg) != 0) {
        snprintf(err, errlen, "cannot start the config thread");
        return -1;
    }
    return 0;
}

void gw_config_reload(struct gw_server *srv)
{
    if (!srv->cfg)
        return;
    atomic_store(&srv->cfg->want_reload, 1);
    uv_async_send(&srv->cfg->cmd);
}

void gw_config_stop(struct gw_server *srv)
{
    struct gw_config *cfg = srv->cfg;
    if (!cfg)
        return;
    atomic_store(&cfg->want_stop, 1);
    uv_async_send(&cfg->cmd);
    uv_thread_join(&srv->cfg_thread);
    uv_loop_close(&cfg->loop);
    if (cfg->sync)
        redisFree(cfg->sync);
    for (size_t i = 0; i < cfg->ncerts; i++) {
        free(cfg->certs[i].arn);
        SSL_CTX_free(cfg->certs[i].ctx);
    }
    free(cfg->certs);
    SSL_CTX_free(cfg->origin_ctx);
    free(cfg);
    srv->cfg = NULL;
}
