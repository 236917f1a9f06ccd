/* render_hook.c - the one place where the render stage (render/, issue 5) plugs into the data
 * path. Worker thread only.
 *
 * Request side (gw_render_request, after the session check, before the origin fetch): the
 * device's Accept-Encoding is kept for the response and replaced by what the renderer can decode
 * (rnd_origin_accept_encoding); the session's cookie jar is loaded from Redis
 * (`wl:{F}:jar:<sid>`, asynchronously on the worker's hiredis context) and its Cookie header is
 * merged into the request toward the origin.
 *
 * Response side, following render/README.md: gw_render_headers applies the header policy
 * (no-store, Set-Cookie into the jar (written back to Redis with the session's expiry as TTL,
 * never to the device), CSP naming the fleet's ACTIVE domains, downloads per the fleet's
 * `downloads` field) and opens an rnd_stream for HTML; gw_render_body feeds the stream and drains
 * its queue into the device side at once (gw_req_emit_body copies), so the stream never holds
 * more than one slice of output; backpressure toward the origin is the existing
 * gw_req_congested() check after every origin chunk. Non-HTML bodies never touch a stream. */
#include "gw_internal.h"

#include "cookie_jar.h"
#include "header_policy.h"
#include "identity.h"
#include "log.h"
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct gw_jar_op {
    struct gw_req *req; /* NULL once the request went away */
};

struct gw_render {
    struct rnd_url_policy urls; /* domains in the request's arena */
    struct rnd_stream *stream;  /* owned; NULL: body passes untouched */
    struct rnd_jar *jar;        /* owned; NULL: not loaded */
    struct gw_jar_op *op;       /* jar load in flight */
    const char *device_ae;      /* the device's Accept-Encoding (arena), NULL: none */
    const char *page;           /* static: a gateway body replacing the origin's */
    char sid[65];               /* session id, "" when none */
    char host[256];             /* lowercase, no port */
    const char *path;           /* arena, no query */
    bool prepared;              /* gw_render_request ran */
    bool failed;
};

static const char blocked_download_page[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width\"><title>Download blocked</title>"
    "</head>\n<body><h1>Download blocked</h1>\n<p>Your administrator does not allow files to be "
    "downloaded to this device.</p>\n<p><small>WorkLink gateway</small></p></body></html>\n";

static const char bad_response_page[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Bad gateway</title></head>\n"
    "<body><h1>Bad gateway</h1>\n<p>The website sent a response the gateway cannot render.</p>\n"
    "<p><small>WorkLink gateway &middot; 502 Bad Gateway</small></p></body></html>\n";

static struct gw_render *state(struct gw_req *r)
{
    if (!r->render) {
        r->render = calloc(1, sizeof *r->render);
        if (!r->render)
            abort();
    }
    return r->render;
}

static bool name_eq(const struct gw_hdr *h, const char *name)
{
    size_t n = strlen(name);
    return h->nlen == n && strncasecmp(h->name, name, n) == 0;
}

/* host (lowercase, no port), tunnel port (the port the device named, 0 when none) and path. */
static void request_target(struct gw_req *r, struct gw_render *g)
{
    size_t hl = r->authority_len;
    const char *colon = r->authority ? memchr(r->authority, ':', hl) : NULL;
    if (colon) {
        hl = (size_t)(colon - r->authority);
        unsigned long p = strtoul(colon + 1, NULL, 10);
        g->urls.tunnel_port = p > 0 && p < 65536 && p != 443 ? (unsigned)p : 0;
    }
    if (hl >= sizeof g->host)
        hl = sizeof g->host - 1;
    for (size_t i = 0; i < hl; i++) {
        char ch = r->authority[i];
        g->host[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
    }
    g->host[hl] = '\0';
    size_t pl = r->target_len;
    const char *q = r->target ? memchr(r->target, '?', pl) : NULL;
    if (q)
        pl = (size_t)(q - r->target);
    g->path = pl && r->target[0] == '/' ? gw_arena_strndup(&r->arena, r->target, pl) : "/";
}

/* ---------------- cookie jar in Redis ---------------- */

static void merge_jar_cookies(struct gw_req *r, struct gw_render *g)
{
    if (!g->jar)
        return;
    char *ck = rnd_jar_cookie_header(g->jar, 1, g->host, g->path, gw_wall_ms());
    if (!ck)
        return;
    size_t cl = strlen(ck);
    for (size_t i = 0; i < r->hdrs.n; i++) {
        struct gw_hdr *h = &r->hdrs.v[i];
        if (!name_eq(h, "cookie"))
            continue;
        char *v = gw_arena_alloc(&r->arena, h->vlen + 2 + cl + 1);
        memcpy(v, h->value, h->vlen);
        memcpy(v + h->vlen, "; ", 2);
        memcpy(v + h->vlen + 2, ck, cl + 1);
        h->value = v;
        h->vlen = h->vlen + 2 + cl;
        free(ck);
        return;
    }
    gw_hdrs_add(&r->arena, &r->hdrs, "cookie", 6, ck, cl);
    free(ck);
}

static void jar_loaded(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct gw_jar_op *op = priv;
    struct gw_req *r = op->req;
    free(op);
    if (!r)
        return;
    struct gw_render *g = r->render;
    g->op = NULL;
    redisReply *rep = reply;
    g->jar = rnd_jar_new();
    if (rep && rep->type == REDIS_REPLY_STRING) {
        if (rnd_jar_deserialize(g->jar, rep->str, rep->len) != 0)
            WL_WARN(r->conn->idstr, "cookie jar of the session is unreadable: starting empty");
    } else if (!rep || rep->type == REDIS_REPLY_ERROR) {
        GW_INC(r->conn->w->m.redis_errors);
        rnd_jar_free(g->jar); /* unknown content: never overwrite it */
        g->jar = NULL;
    }
    merge_jar_cookies(r, g);
    gw_ident_fetch(r);
}

/* KEYS: session, jar, version. ARGV: jar text, events channel, sid. The first jar of a session
 * marks the session (`jar` = 1) and publishes session/jar, so that every worker's session cache
 * learns that requests of this session must load it (until then they start with an empty jar and
 * cost no Redis round trip). */
static const char jar_store_lua[] =
    "local e = redis.call('HGET', KEYS[1], 'expires')\n"
    "if not e then return 0 end\n"
    "redis.call('SET', KEYS[2], ARGV[1])\n"
    "redis.call('PEXPIREAT', KEYS[2], e)\n"
    "if redis.call('HSETNX', KEYS[1], 'jar', '1') == 1 then\n"
    "  local v = redis.call('INCR', KEYS[3])\n"
    "  redis.call('PUBLISH', ARGV[2], cjson.encode({version = v, kind = 'session', op = 'jar',\n"
    "    id = ARGV[3]}))\n"
    "end\n"
    "return 1\n";

/* Writes the jar back (fire and forget); only while the session exists, expiring with it. */
static void jar_store(struct gw_req *r, struct gw_render *g)
{
    struct gw_worker *w = r->conn->w;
    if (!w->redis || !w->redis_ready)
        return;
    size_t len = 0;
    char *text = rnd_jar_serialize(g->jar, gw_wall_ms(), &len);
    if (!text)
        return;
    const char *F = w->srv->opt->fleet;
    char skey[200], jkey[200], vkey[160], chan[160];
    snprintf(skey, sizeof skey, "wl:{%s}:session:%s", F, g->sid);
    snprintf(jkey, sizeof jkey, "wl:{%s}:jar:%s", F, g->sid);
    snprintf(vkey, sizeof vkey, "wl:{%s}:version", F);
    snprintf(chan, sizeof chan, "wl:{%s}:events", F);
    const char *argv[] = {"EVAL", jar_store_lua, "3", skey, jkey, vkey, text, chan, g->sid};
    size_t lens[] = {4,
                     sizeof jar_store_lua - 1,
                     1,
                     strlen(skey),
                     strlen(jkey),
                     strlen(vkey),
                     len,
                     strlen(chan),
                     strlen(g->sid)};
    if (redisAsyncCommandArgv(w->redis, NULL, NULL, 9, argv, lens) != REDIS_OK)
        GW_INC(w->m.redis_errors);
    else
        gw_session_note_jar(w, g->sid);
    free(text);
}

/* ---------------- request side ---------------- */

void gw_render_request(struct gw_req *r)
{
    struct gw_render *g = state(r);
    g->prepared = true;
    request_target(r, g);
    static const char bp[] = "/__worklink/blocked";
    if (r->target_len >= sizeof bp - 1 && memcmp(r->target, bp, sizeof bp - 1) == 0 &&
        (r->target_len == sizeof bp - 1 || r->target[sizeof bp - 1] == '?')) {
        gw_req_error_page(r, 403, "Link blocked",
                          "This link leads to a site outside your company's WorkLink sites.");
        return;
    }
    const char *oae = rnd_origin_accept_encoding();
    bool have_ae = false;
    for (size_t i = 0; i < r->hdrs.n; i++) {
        struct gw_hdr *h = &r->hdrs.v[i];
        if (!name_eq(h, "accept-encoding"))
            continue;
        if (!g->device_ae)
            g->device_ae = gw_arena_strndup(&r->arena, h->value, h->vlen);
        h->value = oae;
        h->vlen = strlen(oae);
        have_ae = true;
    }
    if (!have_ae)
        gw_hdrs_add(&r->arena, &r->hdrs, "accept-encoding", 15, oae, strlen(oae));
    struct gw_worker *w = r->conn->w;
    if (!r->token || r->token_len == 0) {
        gw_ident_fetch(r);
        return;
    }
    memcpy(g->sid, r->sid, sizeof g->sid); /* hashed once, by the session check */
    if (!r->session_has_jar) {
        g->jar = rnd_jar_new(); /* nothing stored yet: no round trip (see jar_store_lua) */
        gw_ident_fetch(r);
        return;
    }
    if (!w->redis || !w->redis_ready) {
        gw_ident_fetch(r); /* no jar this time; responses' cookies are not stored either */
        return;
    }
    char key[200];
    snprintf(key, sizeof key, "wl:{%s}:jar:%s", w->srv->opt->fleet, g->sid);
    struct gw_jar_op *op = calloc(1, sizeof *op);
    if (!op)
        abort();
    op->req = r;
    g->op = op;
    const char *argv[] = {"GET", key};
    if (redisAsyncCommandArgv(w->redis, jar_loaded, op, 2, argv, NULL) != REDIS_OK) {
        g->op = NULL;
        free(op);
        gw_ident_fetch(r);
    }
}

void gw_render_dispose(struct gw_req *r)
{
    struct gw_render *g = r->render;
    if (!g)
        return;
    if (g->op)
        g->op->req = NULL;
    rnd_stream_free(g->stream);
    rnd_jar_free(g->jar);
    free(g);
    r->render = NULL;
}

/* ---------------- response side ---------------- */

static bool bodyless(const struct gw_req *r, int status)
{
    return r->is_head || (status >= 100 && status < 200) || status == 204 || status == 304;
}

/* The fleet's ACTIVE associated domains, copied into the request's arena. */
static void fleet_domains(struct gw_req *r, struct gw_render *g)
{
    const struct gw_snapshot *s = r->conn->w->snap;
    size_t n = 0;
    const char **v = gw_arena_alloc(&r->arena, (s ? s->ndomains : 0) * sizeof *v + 1);
    for (size_t i = 0; s && i < s->ndomains; i++)
        if (s->domains[i].status == GW_DOM_ACTIVE)
            v[n++] = gw_arena_strndup(&r->arena, s->domains[i].name, strlen(s->domains[i].name));
    g->urls.domains = v;
    g->urls.ndomains = n;
    g->urls.foreign = RND_FOREIGN_BLOCK;
}

static void replace_with_page(struct gw_req *r, struct gw_render *g, struct gw_hdrs *h,
                              const char *page)
{
    size_t j = 0;
    for (size_t i = 0; i < h->n; i++) {
        const struct gw_hdr *e = &h->v[i];
        if (name_eq(e, "content-type") || name_eq(e, "content-length") ||
            name_eq(e, "content-encoding") || name_eq(e, "content-disposition"))
            continue;
        h->v[j++] = *e;
    }
    h->n = j;
    gw_hdrs_add(&r->arena, h, "Content-Type", 12, "text/html; charset=utf-8", 24);
    char cl[24];
    int n = snprintf(cl, sizeof cl, "%zu", strlen(page));
    gw_hdrs_add(&r->arena, h, "Content-Length", 14, cl, (size_t)n);
    g->page = page;
}

void gw_render_headers(struct gw_req *r, int *status, struct gw_hdrs *h)
{
    struct gw_render *g = state(r);
    if (!g->prepared)
        request_target(r, g);
    fleet_domains(r, g);
    const struct gw_snapshot *snap = r->conn->w->snap;
    struct rnd_hp_config hp = {.urls = &g->urls,
                               .allow_downloads = !(snap && snap->downloads_blocked),
                               .sign_out = 0,
                               .accept_encoding = g->device_ae};
    struct rnd_header *in = gw_arena_alloc(&r->arena, h->n * sizeof *in + 1);
    for (size_t i = 0; i < h->n; i++)
        in[i] = (struct rnd_header){h->v[i].name, h->v[i].nlen, h->v[i].value, h->v[i].vlen};
    struct rnd_hp_result res = {0};
    if (rnd_headers_apply(&hp, in, h->n, &res) != 0) {
        WL_INFO(r->conn->idstr, "origin response headers malformed: 502");
        h->n = 0;
        gw_hdrs_add(&r->arena, h, "Cache-Control", 13, "no-store", 8);
        *status = 502;
        replace_with_page(r, g, h, bad_response_page);
        return;
    }
    struct gw_hdrs out = {0};
    for (size_t i = 0; i < res.nheaders; i++)
        gw_hdrs_add(&r->arena, &out, res.headers[i].name, res.headers[i].name_len,
                    res.headers[i].value, res.headers[i].value_len);
    *h = out;
    if (res.status)
        *status = res.status;
    if (res.nset_cookies && g->sid[0]) {
        if (g->jar) { /* NULL: the jar could not be read, leave Redis as it is */
            int64_t now = gw_wall_ms();
            int stored = 0;
            for (size_t i = 0; i < res.nset_cookies; i++)
                stored += rnd_jar_set(g->jar, res.set_cookies[i].value,
                                      res.set_cookies[i].value_len, 1, g->host, g->path, now) == 0;
            if (stored)
                jar_store(r, g);
        }
    }
    if (res.body == RND_BODY_BLOCK) {
        WL_INFO(r->conn->idstr, "download blocked by the fleet's policy");
        replace_with_page(r, g, h, blocked_download_page);
    } else if (res.body == RND_BODY_REWRITE_HTML && !bodyless(r, *status)) {
        struct rnd_stream_config sc = {.urls = &g->urls,
                                       .mode = RND_BODY_REWRITE_HTML,
                                       .in_coding = res.in_coding,
                                       .out_coding = res.out_coding,
                                       /* the bomb limit is for decoding: plain HTML streams */
                                       .max_decoded =
                                           res.in_coding == RND_CODING_IDENTITY ? UINT64_MAX : 0};
        g->stream = rnd_stream_new(&sc);
        if (!g->stream) {
            *status = 502;
            replace_with_page(r, g, h, bad_response_page);
        }
    }
    rnd_hp_result_dispose(&res);
}

/* Moves everything the stream produced to the device side (which copies). */
static void drain(struct gw_req *r, struct rnd_stream *s)
{
    const void *p;
    size_t n;
    while ((n = rnd_stream_peek(s, &p)) > 0) {
        gw_req_emit_body(r, p, n);
        rnd_stream_consume(s, n);
    }
}

static void fail(struct gw_req *r, struct gw_render *g, long rc)
{
    g->failed = true;
    WL_INFO(r->conn->idstr, "render: %s (%ld): response aborted",
            rc == RND_STREAM_ETOOBIG   ? "decoded body over the limit"
            : rc == RND_STREAM_EDECODE ? "body cannot be decoded"
                                       : "stream error",
            rc);
    gw_req_abort(r); /* may free r */
}

void gw_render_body(struct gw_req *r, const char *data, size_t len)
{
    struct gw_render *g = r->render;
    if (g && (g->page || g->failed))
        return; /* replaced by a gateway page: the origin's body is dropped */
    if (!g || !g->stream) {
        gw_req_emit_body(r, data, len);
        return;
    }
    while (len > 0) {
        ssize_t n = rnd_stream_feed(g->stream, data, len);
        if (n < 0) {
            fail(r, g, (long)n);
            return;
        }
        data += n;
        len -= (size_t)n;
        drain(r, g->stream);
    }
}

void gw_render_end(struct gw_req *r)
{
    struct gw_render *g = r->render;
    if (g && g->failed)
        return;
    if (g && g->page) {
        if (!bodyless(r, r->status))
            gw_req_emit_body(r, g->page, strlen(g->page));
    } else if (g && g->stream) {
        int rc;
        while ((rc = rnd_stream_finish(g->stream)) == RND_STREAM_AGAIN)
            drain(r, g->stream);
        if (rc < 0) {
            fail(r, g, rc);
            return;
        }
        drain(r, g->stream);
    }
    gw_req_emit_end(r);
}
