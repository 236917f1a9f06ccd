/* live.c - the registry of live channels (issue 7): every authorized request of a worker, from
 * the session check until it ends (streaming responses, uploads, WebSockets, plain requests).
 *
 * When access ends, the config thread posts a cut instruction (user, device, session, domain,
 * whole fleet) to every worker: a lock-free list (push by compare-and-swap, the worker takes the
 * whole list with one exchange) and the worker's uv_async. The worker cuts every matching channel
 * at once (gw_req_cut). Instructions are also kept in a small ring so that a request whose session
 * check was in flight when one arrived is refused instead of listed. Belt and braces: after any
 * session/user/device event every live session is re-validated against Redis; a new snapshot
 * cuts channels of domains that are no longer ACTIVE; a per-worker timer cuts channels at their
 * session's absolute expiry. Worker thread only, but gw_live_event (config thread) and the
 * WebSocket limits (any worker; a mutex taken only when a WebSocket opens or closes). */
#include "gw_internal.h"

#include "log.h"

#include <hiredis/async.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RECENT 64

struct gw_cut {
    struct gw_cut *next;
    enum gw_cut_scope scope;
    char id[256];
};

struct recent_cut {
    uint64_t seq;
    enum gw_cut_scope scope;
    char id[256];
};

struct gw_live_state {
    struct gw_worker *w;
    struct gw_list chans; /* struct gw_req.live */
    _Atomic(struct gw_cut *) inbox;
    uint64_t seq; /* instructions applied */
    struct recent_cut recent[RECENT];
    uv_timer_t expiry;
    int64_t next_expiry; /* wall ms the timer is set for, 0: not set */
    int rechecks;        /* re-validations in flight */
    bool recheck_again;
};

/* ---------------- config thread ---------------- */

static void post(struct gw_server *srv, enum gw_cut_scope scope, const char *id)
{
    for (int i = 0; i < srv->nworkers; i++) {
        struct gw_worker *w = srv->workers[i];
        if (!w || !w->live)
            continue;
        struct gw_cut *c = calloc(1, sizeof *c);
        if (!c)
            abort();
        c->scope = scope;
        snprintf(c->id, sizeof c->id, "%s", id ? id : "");
        struct gw_cut *head = atomic_load(&w->live->inbox);
        do
            c->next = head;
        while (!atomic_compare_exchange_weak(&w->live->inbox, &head, c));
        gw_worker_wake(w);
    }
}

static bool op_is(const char *op, const char *a, const char *b, const char *c)
{
    return op &&
           ((a && strcmp(op, a) == 0) || (b && strcmp(op, b) == 0) || (c && strcmp(op, c) == 0));
}

void gw_live_event(struct gw_server *srv, const char *kind, const char *op, const char *id)
{
    if (!kind)
        return;
    bool recheck = false;
    if (strcmp(kind, "user") == 0) {
        if (id && op_is(op, "signout", "delete", NULL))
            post(srv, GW_CUT_USER, id);
        recheck = true;
    } else if (strcmp(kind, "device") == 0) {
        if (id && op_is(op, "signout", "delete", "revoke"))
            post(srv, GW_CUT_DEVICE, id);
        recheck = true;
    } else if (strcmp(kind, "session") == 0) {
        if (id && op_is(op, "delete", "signout", "revoke"))
            post(srv, GW_CUT_SESSION, id);
        recheck = true;
    } else if (strcmp(kind, "domain") == 0) {
        if (id && op_is(op, "revoke", "disassociate", "delete"))
            post(srv, GW_CUT_DOMAIN, id);
    } else if (strcmp(kind, "fleet") == 0) {
        if (op_is(op, "delete", "deleted", "purge"))
            post(srv, GW_CUT_ALL, NULL);
    }
    if (recheck && !op_is(op, "jar", "create", NULL)) /* those never end access */
        post(srv, GW_CUT_RECHECK, NULL);
}

/* ---------------- matching and cutting (worker) ---------------- */

static bool domain_is(const struct gw_req *r, const char *d)
{
    if (!r->authority)
        return false;
    size_t hl = r->authority_len;
    const char *colon = memchr(r->authority, ':', hl);
    if (colon)
        hl = (size_t)(colon - r->authority);
    if (hl > 0 && r->authority[hl - 1] == '.')
        hl--;
    return strlen(d) == hl && strncasecmp(r->authority, d, hl) == 0;
}

static bool matches(const struct gw_req *r, enum gw_cut_scope scope, const char *id)
{
    switch (scope) {
    case GW_CUT_USER:
        return r->user && strcmp(r->user, id) == 0;
    case GW_CUT_DEVICE:
        return r->device_id && strcmp(r->device_id, id) == 0;
    case GW_CUT_SESSION:
        return r->sid[0] && strcasecmp(r->sid, id) == 0;
    case GW_CUT_DOMAIN:
        return domain_is(r, id);
    case GW_CUT_ALL:
        return true;
    default:
        return false;
    }
}

static const char *scope_reason(enum gw_cut_scope scope)
{
    switch (scope) {
    case GW_CUT_USER:
        return "user signed out";
    case GW_CUT_DEVICE:
        return "device signed out";
    case GW_CUT_SESSION:
        return "session ended";
    case GW_CUT_DOMAIN:
        return "domain access revoked";
    case GW_CUT_ALL:
        return "fleet deleted";
    default:
        return "access ended";
    }
}

/* A long-lived channel: a WebSocket, an event stream, a response without a length, an upload in
 * progress, or a request waiting for its answer for more than a second (long poll). A short
 * request in flight was authorized before the change: it finishes, the next one is refused. */
static bool long_lived(const struct gw_req *r)
{
    if (r->ws_req || r->streaming || (r->has_body && !r->body_done))
        return true;
    if (r->resp_started)
        return r->resp_unbounded && !r->resp_done;
    return uv_hrtime() / 1000 - r->start_us > 1000000;
}

/* Cuts every listed long-lived channel for which pred holds. gw_req_cut may free the request it is
 * given (h1) and nothing else, so the walk keeps the next element first. */
static void cut_where(struct gw_live_state *st, enum gw_cut_scope scope, const char *id,
                      const char *why)
{
    size_t n = 0;
    struct gw_list *l = st->chans.next;
    while (l != &st->chans) {
        struct gw_list *next = l->next;
        struct gw_req *r = GW_CONTAINER(l, struct gw_req, live);
        if (!r->cut_reason && long_lived(r) && matches(r, scope, id)) {
            gw_req_cut(r, why);
            n++;
        }
        l = next;
    }
    if (n)
        WL_INFO(NULL, "worker %d: %s (%s): %zu live channels cut", st->w->id, why,
                scope == GW_CUT_ALL ? "all" : id, n);
}

static void recheck(struct gw_live_state *st);

void gw_live_run(struct gw_worker *w)
{
    struct gw_live_state *st = w->live;
    if (!st)
        return;
    struct gw_cut *list = atomic_exchange(&st->inbox, NULL), *fifo = NULL;
    while (list) { /* the list is newest first: reverse it */
        struct gw_cut *n = list->next;
        list->next = fifo;
        fifo = list;
        list = n;
    }
    while (fifo) {
        struct gw_cut *c = fifo;
        fifo = c->next;
        if (c->scope == GW_CUT_RECHECK) {
            recheck(st);
        } else {
            st->seq++;
            struct recent_cut *rc = &st->recent[st->seq % RECENT];
            rc->seq = st->seq;
            rc->scope = c->scope;
            memcpy(rc->id, c->id, sizeof rc->id);
            cut_where(st, c->scope, c->id, scope_reason(c->scope));
        }
        free(c);
    }
}

void gw_live_snapshot(struct gw_worker *w)
{
    struct gw_live_state *st = w->live;
    const struct gw_snapshot *s = w->snap;
    if (!st || !s)
        return;
    struct gw_list *l = st->chans.next;
    while (l != &st->chans) {
        struct gw_list *next = l->next;
        struct gw_req *r = GW_CONTAINER(l, struct gw_req, live);
        if (!r->cut_reason && long_lived(r)) {
            size_t hl = r->authority_len;
            const char *colon = r->authority ? memchr(r->authority, ':', hl) : NULL;
            if (colon)
                hl = (size_t)(colon - r->authority);
            const struct gw_domain *d = gw_snapshot_find(s, r->authority, hl);
            if (!s->fleet_exists || !d || d->status != GW_DOM_ACTIVE) {
                WL_INFO(NULL, "worker %d: configuration version %lld: a live channel of %.*s cut",
                        w->id, (long long)s->version, (int)hl, r->authority);
                gw_req_cut(r, !s->fleet_exists ? "fleet deleted" : "domain access revoked");
            }
        }
        l = next;
    }
}

/* ---------------- session expiry ---------------- */

static void expiry_cb(uv_timer_t *t);

static void arm_expiry(struct gw_live_state *st, int64_t at)
{
    int64_t now = gw_wall_ms();
    if (st->next_expiry && st->next_expiry <= at && st->next_expiry > now)
        return; /* an earlier (or equal) deadline is already set */
    st->next_expiry = at;
    uv_timer_start(&st->expiry, expiry_cb, (uint64_t)(at > now ? at - now : 0), 0);
}

static void expiry_cb(uv_timer_t *t)
{
    struct gw_live_state *st = t->data;
    int64_t now = gw_wall_ms(), next = 0;
    st->next_expiry = 0;
    struct gw_list *l = st->chans.next;
    while (l != &st->chans) {
        struct gw_list *nl = l->next;
        struct gw_req *r = GW_CONTAINER(l, struct gw_req, live);
        if (!r->cut_reason && r->sess_expires > 0) {
            int64_t due = r->sess_expires;
            if (now >= due && long_lived(r)) {
                WL_INFO(NULL, "worker %d: session of %s expired: live channel cut", st->w->id,
                        r->user ? r->user : "?");
                gw_req_cut(r, "session expired");
                due = 0;
            } else if (now >= due) {
                due = now + 250; /* a short request: looked at again until it ends */
            }
            if (due && (!next || due < next))
                next = due;
        }
        l = nl;
    }
    if (next)
        arm_expiry(st, next);
}

/* ---------------- re-validation against Redis ---------------- */

/* Like the session check (session.c) without touching last_seen: an open channel is use of the
 * session until its absolute expiry; channels have their own idle limits. */
static const char recheck_lua[] =
    "local s = redis.call('HMGET', KEYS[1], 'device_id', 'expires')\n"
    "if not s[1] or not s[2] then return 0 end\n"
    "if tonumber(ARGV[1]) >= (tonumber(s[2]) or 0) then return 0 end\n"
    "if redis.call('HGET', ARGV[2] .. s[1], 'status') ~= 'ACTIVE' then return 0 end\n"
    "return 1\n";

struct recheck_op {
    struct gw_worker *w;
    char sid[65];
};

static void recheck_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct recheck_op *op = priv;
    struct gw_worker *w = op->w;
    redisReply *r = reply;
    struct gw_live_state *st = w->live;
    if (st) {
        st->rechecks--;
        if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 0)
            cut_where(st, GW_CUT_SESSION, op->sid, "session no longer valid");
        if (st->rechecks == 0 && st->recheck_again) {
            st->recheck_again = false;
            recheck(st);
        }
    }
    free(op);
}

/* Adds sid to an open-addressing set of cap slots (a power of two); false when present. */
static bool sid_set_add(const char **set, size_t cap, const char *sid)
{
    uint32_t h = 2166136261u;
    for (const char *p = sid; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (!set[i]) {
            set[i] = sid;
            return true;
        }
        if (strcmp(set[i], sid) == 0)
            return false;
    }
}

static void recheck(struct gw_live_state *st)
{
    struct gw_worker *w = st->w;
    if (st->rechecks > 0) {
        st->recheck_again = true; /* one sweep at a time; the next one sees this event too */
        return;
    }
    if (!w->redis || !w->redis_ready)
        return;
    size_t n = 0;
    for (struct gw_list *l = st->chans.next; l != &st->chans; l = l->next)
        n++;
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    const char **seen = calloc(cap, sizeof *seen); /* one query per session, in O(channels) */
    if (!seen)
        abort();
    const char *F = w->srv->opt->fleet;
    char devp[120], nowbuf[24];
    snprintf(devp, sizeof devp, "wl:{%s}:device:", F);
    snprintf(nowbuf, sizeof nowbuf, "%lld", (long long)gw_wall_ms());
    for (struct gw_list *l = st->chans.next; l != &st->chans; l = l->next) {
        struct gw_req *r = GW_CONTAINER(l, struct gw_req, live);
        if (!r->sid[0] || r->cut_reason || !sid_set_add(seen, cap, r->sid))
            continue;
        struct recheck_op *op = calloc(1, sizeof *op);
        if (!op)
            abort();
        op->w = w;
        memcpy(op->sid, r->sid, sizeof op->sid);
        char key[200];
        snprintf(key, sizeof key, "wl:{%s}:session:%s", F, r->sid);
        const char *argv[] = {"EVAL", recheck_lua, "1", key, nowbuf, devp};
        if (redisAsyncCommandArgv(w->redis, recheck_cb, op, 6, argv, NULL) != REDIS_OK) {
            free(op);
            break;
        }
        st->rechecks++;
    }
    free(seen);
}

/* ---------------- listing ---------------- */

uint64_t gw_live_seq(struct gw_worker *w)
{
    return w->live ? w->live->seq : 0;
}

int gw_live_add(struct gw_req *r)
{
    struct gw_live_state *st = r->conn->w->live;
    if (!st || r->live.next)
        return 0;
    uint64_t from = r->cut_seq;
    if (st->seq - from > RECENT - 1)
        from = st->seq - (RECENT - 1);
    for (uint64_t s = from + 1; s <= st->seq; s++) {
        const struct recent_cut *rc = &st->recent[s % RECENT];
        if (rc->seq == s && matches(r, rc->scope, rc->id))
            return 1 + (int)rc->scope; /* access ended while the session check was in flight */
    }
    gw_list_insert(&st->chans, &r->live);
    if (r->sess_expires > 0)
        arm_expiry(st, r->sess_expires);
    return 0;
}

void gw_live_remove(struct gw_req *r)
{
    gw_list_remove(&r->live);
}

void gw_live_init(struct gw_worker *w)
{
    struct gw_live_state *st = calloc(1, sizeof *st);
    if (!st)
        abort();
    st->w = w;
    gw_list_init(&st->chans);
    uv_timer_init(&w->loop, &st->expiry);
    st->expiry.data = st;
    w->live = st;
}

void gw_live_stop(struct gw_worker *w)
{
    if (w->live)
        uv_close((uv_handle_t *)&w->live->expiry, NULL);
}

void gw_live_free(struct gw_worker *w)
{
    struct gw_live_state *st = w->live;
    if (!st)
        return;
    w->live = NULL;
    struct gw_cut *c = atomic_exchange(&st->inbox, NULL);
    while (c) {
        struct gw_cut *n = c->next;
        free(c);
        c = n;
    }
    free(st);
}

/* ---------------- WebSocket limits ---------------- */

#define WS_BUCKETS 1024

struct ws_count {
    struct ws_count *next;
    char sid[65];
    int n;
};

struct gw_ws_limits {
    uv_mutex_t mu;
    int total;
    struct ws_count *b[WS_BUCKETS];
};

static unsigned sid_bucket(const char *sid)
{
    unsigned h = 2166136261u;
    for (const char *p = sid; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % WS_BUCKETS;
}

int gw_ws_limits_init(struct gw_server *srv)
{
    struct gw_ws_limits *l = calloc(1, sizeof *l);
    if (!l || uv_mutex_init(&l->mu) != 0) {
        free(l);
        return -1;
    }
    srv->ws_limits = l;
    return 0;
}

int gw_ws_limit_acquire(struct gw_server *srv, const char *sid)
{
    struct gw_ws_limits *l = srv->ws_limits;
    if (!l)
        return 0;
    int rc = -1;
    uv_mutex_lock(&l->mu);
    struct ws_count **pp = &l->b[sid_bucket(sid)], *e = *pp;
    while (e && strcmp(e->sid, sid) != 0)
        e = e->next;
    if (l->total < srv->opt->max_ws_per_fleet && (!e || e->n < srv->opt->max_ws_per_session)) {
        if (!e) {
            e = calloc(1, sizeof *e);
            if (!e)
                abort();
            snprintf(e->sid, sizeof e->sid, "%s", sid);
            e->next = *pp;
            *pp = e;
        }
        e->n++;
        l->total++;
        rc = 0;
    }
    uv_mutex_unlock(&l->mu);
    return rc;
}

void gw_ws_limit_release(struct gw_server *srv, const char *sid)
{
    struct gw_ws_limits *l = srv->ws_limits;
    if (!l)
        return;
    uv_mutex_lock(&l->mu);
    struct ws_count **pp = &l->b[sid_bucket(sid)];
    while (*pp && strcmp((*pp)->sid, sid) != 0)
        pp = &(*pp)->next;
    if (*pp) {
        l->total--;
        if (--(*pp)->n == 0) {
            struct ws_count *e = *pp;
            *pp = e->next;
            free(e);
        }
    }
    uv_mutex_unlock(&l->mu);
}
