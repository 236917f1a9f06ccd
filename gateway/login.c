/* login.c - the sign-in path of a worker: login entry point, ACS, one-time tickets, and website
 * authorization provider domains. Every step is one Redis round trip on the worker's own async
 * context; multi-key steps are one Lua script each (same hash slot: all keys carry {F}).
 *
 *   GET  /_wl/login?return=PATH   HMGET fleet SAML settings -> signed AuthnRequest; store
 *                                 wl:{F}:authn:<id> = relay key and wl:{F}:relay:<key> =
 *                                 "domain\npath" (PX 10 min) -> 302 to the IdP
 *   POST <acs path>               (host + path must equal the fleet's sp_acs_url) verify with
 *                                 wl_saml -> script A: replay SET NX, GETDEL authn, GETDEL relay
 *                                 (fail closed) -> script B: session, device, tickets -> 302 to
 *                                 the first ticket
 *   GET  /_wl/ticket?t=T          GETDEL wl:{F}:ticket:<sha256(T)> -> Set-Cookie on this domain
 *                                 -> 302 to the next domain's ticket, finally to the page
 *   GET  /_wl/signout             a page with a sign-out button (POST: a cross-site form cannot
 *                                 sign anyone out, the SameSite=Lax cookie is not sent with it)
 *   POST /_wl/signout             script: the session and its cookie jar deleted, change-feed
 *                                 event session/signout -> page with Clear-Site-Data and the
 *                                 session cookie expired
 *
 * The session token (256 bits) reaches Redis only sealed inside a ticket (envelope, aad
 * "F/ticket", 60 s, consumed by GETDEL); sessions are stored under its SHA-256. Worker thread
 * only. */
#include "identity.h"

#include "log.h"
#include "saml.h"

#include <ctype.h>
#include <hiredis/async.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum op_kind {
    OP_LOGIN,
    OP_ACS,
    OP_TICKET,
    OP_AUTHP,
    OP_DISCOVERY,
    OP_PUBLISH,
    OP_JWKS,
    OP_SIGNOUT
};

struct gw_ident {
    struct gw_req *req; /* NULL once the request went away */
    struct gw_worker *w;
    enum op_kind kind;
    int pending; /* Redis replies outstanding */
    char *body;
    size_t blen;
    char host[256];       /* request host, lowercase, no port */
    char port[8];         /* ":PORT" of the authority, or "" */
    char path[1024];      /* return path (login) */
    char *location;       /* login: IdP redirect URL */
    char relay[96];       /* ACS: posted RelayState */
    char dom[256];        /* ACS: domain to return to */
    char ret[1024];       /* ACS: path to return to */
    char first_url[2048]; /* ACS: first ticket URL */
    char device_id[72];   /* ACS */
    bool new_device;      /* ACS: set the device cookie */
    struct wl_saml_result *res;
    struct gw_jwt_key *key; /* OP_PUBLISH: the key being published */
};

/* ---------------- plumbing ---------------- */

static void op_free(struct gw_ident *op)
{
    free(op->body);
    free(op->location);
    wl_saml_result_free(op->res);
    gw_jwt_key_free(op->key);
    free(op);
}

static struct gw_ident *op_new(struct gw_req *r, enum op_kind kind)
{
    struct gw_ident *op = calloc(1, sizeof *op);
    if (op == NULL)
        abort();
    op->req = r;
    op->w = r->conn->w;
    op->kind = kind;
    r->ident = op;
    size_t hl = r->authority_len;
    const char *colon = memchr(r->authority, ':', hl);
    if (colon) {
        hl = (size_t)(colon - r->authority);
        size_t pl = r->authority_len - hl;
        if (pl < sizeof op->port)
            memcpy(op->port, colon, pl);
    }
    if (hl >= sizeof op->host)
        hl = sizeof op->host - 1;
    for (size_t i = 0; i < hl; i++) {
        char ch = r->authority[i];
        op->host[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
    }
    return op;
}

/* Detaches op from its request, answers, frees op. The answer may free the request. */
static void finish(struct gw_ident *op, int status, const char *extra, const char *body,
                   size_t blen)
{
    struct gw_req *r = op->req;
    r->ident = NULL;
    op->req = NULL;
    if (body == NULL) {
        char page[512];
        int n = snprintf(page, sizeof page,
                         "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>"
                         "</head><body><p>%s</p></body></html>\n",
                         wl_http_reason(status), wl_http_reason(status));
        gw_req_respond(r, status, extra, page, (size_t)n);
    } else {
        gw_req_respond(r, status, extra, body, blen);
    }
    op_free(op);
}

static void finish_page(struct gw_ident *op, int status, const char *title, const char *text)
{
    struct gw_req *r = op->req;
    r->ident = NULL;
    op->req = NULL;
    gw_req_error_page(r, status, title, text);
    op_free(op);
}

static void fail_unavailable(struct gw_ident *op)
{
    GW_INC(op->w->m.redis_errors);
    finish_page(op, 503, "Sign-in unavailable",
                "The sign-in service cannot be reached right now. Try again in a moment.");
}

/* A reply arrived: returns the request, or NULL when it went away (op freed when idle). */
static struct gw_req *op_reply(struct gw_ident *op)
{
    op->pending--;
    if (op->req == NULL) {
        if (op->pending == 0)
            op_free(op);
        return NULL;
    }
    return op->req;
}

/* op_reply(), and a Redis error or a lost connection answered with 503: returns the request
 * when the reply is there to be read, else NULL (nothing more to do). */
static struct gw_req *op_reply_ok(struct gw_ident *op, const redisReply *rep)
{
    struct gw_req *r = op_reply(op);
    if (r != NULL && (rep == NULL || rep->type == REDIS_REPLY_ERROR)) {
        fail_unavailable(op); /* nothing was changed for the device: it can try again */
        return NULL;
    }
    return r;
}

static bool op_send(struct gw_ident *op, redisCallbackFn *cb, int argc, const char **argv)
{
    struct gw_worker *w = op->w;
    if (w->redis == NULL || !w->redis_ready)
        return false;
    op->pending++;
    if (redisAsyncCommandArgv(w->redis, cb, op, argc, argv, NULL) != REDIS_OK) {
        op->pending--;
        return false;
    }
    return true;
}

void gw_ident_cancel(struct gw_req *r)
{
    struct gw_ident *op = r->ident;
    if (op == NULL)
        return;
    r->ident = NULL;
    op->req = NULL;
    if (op->pending == 0)
        op_free(op);
}

static const char *fleet(const struct gw_ident *op)
{
    return op->w->srv->opt->fleet;
}

/* Per-client budget of one kind of sign-in work (anonymous requests that cost Redis memory or
 * XML signature checks). True when the request may go on; otherwise answers 429. */
static bool within_budget(struct gw_ident *op, char kind, double rate, double burst)
{
    struct gw_req *r = op->req;
    char who[80];
    snprintf(who, sizeof who, "%c|%s", kind, r->conn->sock.peer);
    if (gw_ident_rate_take(who, gw_wall_ms(), rate, burst))
        return true;
    WL_WARN(NULL, "fleet %s: sign-in rate limit (%c) for %s", fleet(op), kind, r->conn->sock.peer);
    finish_page(op, 429, "Too many sign-in attempts",
                "Too many sign-in attempts from this device. Wait a moment and try again.");
    return false;
}

/* ---------------- the fleet's SAML settings ---------------- */

struct saml_cfg {
    struct wl_saml_idp *idp;
    struct wl_saml_sp *sp;
    const char *acs_url; /* borrowed from the reply */
    const char *entity_id;
};

static void saml_cfg_dispose(struct saml_cfg *c)
{
    wl_saml_idp_free(c->idp);
    wl_saml_sp_free(c->sp);
}

static bool send_config(struct gw_ident *op, redisCallbackFn *cb)
{
    char key[200];
    snprintf(key, sizeof key, "wl:{%s}:fleet", fleet(op));
    const char *argv[] = {"HMGET", key, "idp_metadata", "sp_key", "sp_entity_id", "sp_acs_url"};
    return op_send(op, cb, 6, argv);
}

static bool is_str(const redisReply *x)
{
    return x && x->type == REDIS_REPLY_STRING && x->len > 0;
}

/* Builds the IdP and SP from the HMGET reply. 0; 1 = not configured; -1 = broken settings. */
static int saml_cfg_load(struct gw_ident *op, const redisReply *rep, bool with_key,
                         struct saml_cfg *c)
{
    memset(c, 0, sizeof *c);
    char detail[WL_SAML_DETAIL_MAX] = "";
    if (wl_saml_global_init() != 0)
        return -1;
    if (!is_str(rep->element[0]) || !is_str(rep->element[2]) || !is_str(rep->element[3]))
        return 1;
    c->entity_id = rep->element[2]->str;
    c->acs_url = rep->element[3]->str;
    if (wl_saml_idp_parse(rep->element[0]->str, rep->element[0]->len, &c->idp, detail,
                          sizeof detail) != 0) {
        WL_ERROR(NULL, "fleet %s: IdP metadata refused: %s", fleet(op), detail);
        return -1;
    }
    char *key = NULL;
    size_t klen = 0;
    if (with_key && is_str(rep->element[1])) {
        char aad[96];
        snprintf(aad, sizeof aad, "%s/sp", fleet(op));
        key = (char *)wl_envelope_open(&op->w->srv->mk, rep->element[1]->str, aad, &klen);
        if (key == NULL) {
            WL_ERROR(NULL, "fleet %s: the SP key cannot be opened with this key file", fleet(op));
            saml_cfg_dispose(c);
            return -1;
        }
    }
    int rc = wl_saml_sp_new(c->entity_id, c->acs_url, key, klen, &c->sp, detail, sizeof detail);
    if (key) {
        OPENSSL_cleanse(key, klen);
        free(key);
    }
    if (rc != 0) {
        WL_ERROR(NULL, "fleet %s: SP settings refused: %s", fleet(op), detail);
        saml_cfg_dispose(c);
        return -1;
    }
    return 0;
}

static bool config_reply(struct gw_ident *op, const redisReply *rep)
{
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 4) {
        fail_unavailable(op);
        return false;
    }
    return true;
}

static void config_problem(struct gw_ident *op, int rc)
{
    if (rc == 1)
        finish_page(op, 503, "Sign-in not configured",
                    "Single sign-on has not been set up for this fleet yet. Ask your "
                    "administrator to configure the identity provider.");
    else
        finish_page(op, 500, "Sign-in unavailable",
                    "The sign-in settings of this fleet cannot be used. Your administrator "
                    "has been told (see the gateway log).");
}

/* ---------------- login ---------------- */

static void login_stored(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct gw_ident *op = priv;
    redisReply *rep = reply;
    if (op_reply(op) == NULL)
        return;
    if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
        fail_unavailable(op);
        return;
    }
    char *hdr = NULL;
    if (asprintf(&hdr, "Location: %s\r\n", op->location) < 0)
        abort();
    finish(op, 302, hdr, NULL, 0);
    free(hdr);
}

static void login_config(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct gw_ident *op = priv;
    redisReply *rep = reply;
    if (op_reply(op) == NULL || !config_reply(op, rep))
        return;
    struct saml_cfg c;
    int rc = saml_cfg_load(op, rep, true, &c);
    if (rc != 0) {
        config_problem(op, rc);
        return;
    }
    char relay[64], detail[WL_SAML_DETAIL_MAX] = "";
    struct wl_saml_authn a;
    if (gw_ident_random_b64url(18, relay, sizeof relay) != 0 ||
        wl_saml_authn_request(c.sp, c.idp, relay, gw_wall_ms(), &a, detail, sizeof detail) != 0) {
        WL_ERROR(NULL, "fleet %s: cannot build the AuthnRequest: %s", fleet(op), detail);
        saml_cfg_dispose(&c);
        config_problem(op, -1);
        return;
    }
    saml_cfg_dispose(&c);
    op->location = a.url;
    char akey[200], rkey[200], ttl[24], val[1400];
    wl_saml_authn_key(fleet(op), a.request_id, akey, sizeof akey);
    snprintf(rkey, sizeof rkey, "wl:{%s}:relay:%s", fleet(op), relay);
    snprintf(ttl, sizeof ttl, "%d", WL_SAML_REQUEST_TTL_MS);
    snprintf(val, sizeof val, "%s\n%s", op->host, op->path);
    static const char lua[] = "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])\n"
                              "redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])\n"
                              "return 1\n";
    const char *argv[] = {"EVAL", lua, "2", akey, rkey, relay, val, ttl};
    if (!op_send(op, login_stored, 8, argv))
        fail_unavailable(op);
}

static void login_start(struct gw_req *r)
{
    struct gw_ident *op = op_new(r, OP_LOGIN);
    if (!within_budget(op, 'l', 1.0, 20.0))
        return;
    char ret[1024];
    if (gw_ident_query_param(r->target, r->target_len, "return", ret, sizeof ret) < 0)
        ret[0] = '\0';
    gw_ident_return_path(ret, op->path, sizeof op->path);
    if (!send_config(op, login_config))
        fail_unavailable(op);
}

/* ---------------- ACS ---------------- */

static const struct gw_hdr *hdr_find(const struct gw_req *r, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < r->hdrs.n; i++)
        if (r->hdrs.v[i].nlen == nl && strncasecmp(r->hdrs.v[i].name, name, nl) == 0)
            return &r->hdrs.v[i];
    return NULL;
}

/* A header value as a new arena string, or NULL. */
static const char *hdr_str(struct gw_req *r, const char *name)
{
    const struct gw_hdr *h = hdr_find(r, name);
    return h ? gw_arena_strndup(&r->arena, h->value, h->vlen) : NULL;
}

/* The value of cookie `name` (arena string) or NULL. */
static const char *cookie_str(struct gw_req *r, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < r->hdrs.n; i++) {
        const struct gw_hdr *h = &r->hdrs.v[i];
        if (h->nlen != 6 || strncasecmp(h->name, "cookie", 6) != 0)
            continue;
        const char *p = h->value, *end = h->value + h->vlen;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == ';'))
                p++;
            const char *e = memchr(p, ';', (size_t)(end - p));
            if (!e)
                e = end;
            if ((size_t)(e - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=')
                return gw_arena_strndup(&r->arena, p + nl + 1, (size_t)(e - p) - nl - 1);
            p = e;
        }
    }
    return NULL;
}

static void refuse(struct gw_ident *op, int code, const char *detail)
{
    WL_WARN(NULL, "fleet %s: sign-in refused: %s: %s", fleet(op), wl_saml_strerror(code),
            detail ? detail : "");
    finish_page(op, 403, "Sign-in failed", wl_saml_user_message());
}

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char h[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = h[d[i] >> 4];
        out[2 * i + 1] = h[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static void acs_created(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct gw_ident *op = priv;
    redisReply *rep = reply;
    if (op_reply(op) == NULL)
        return;
    if (rep == NULL || rep->type != REDIS_REPLY_INTEGER) {
        if (rep && rep->type == REDIS_REPLY_ERROR)
            WL_ERROR(NULL, "fleet %s: session script: %s", fleet(op), rep->str);
        fail_unavailable(op);
        return;
    }
    char hdr[2600];
    int n = snprintf(hdr, sizeof hdr, "Location: %s\r\n", op->first_url);
    if (op->new_device)
        snprintf(hdr + n, sizeof hdr - (size_t)n,
                 "Set-Cookie: " GW_DEVICE_COOKIE "=%s; Path=/; Secure; HttpOnly; SameSite=Lax; "
                 "Max-Age=31536000\r\n",
                 op->device_id);
    WL_INFO(NULL, "fleet %s: user signed in on device %s", fleet(op), op->device_id);
    finish(op, 302, hdr, NULL, 0);
}

/* Script B: the session, the device and the tickets, in one step. */
static const char create_lua[] =
    "redis.call('HSET', KEYS[1], 'username', ARGV[1], 'device_id', ARGV[2], 'created', ARGV[3],"
    " 'expires', ARGV[4], 'idle_timeout_ms', ARGV[5], 'last_seen', ARGV[3])\n"
    "redis.call('PEXPIREAT', KEYS[1], ARGV[4])\n"
    "redis.call('SADD', KEYS[2], ARGV[6])\n"
    "local prev = redis.call('HGET', KEYS[3], 'username')\n"
    "if prev and prev ~= ARGV[1] then redis.call('SREM', ARGV[14] .. prev .. ':devices', ARGV[2])"
    " end\n"
    "redis.call('HSET', KEYS[3], 'id', ARGV[2], 'status', 'ACTIVE', 'manufacturer', ARGV[7],"
    " 'model', ARGV[8], 'os', ARGV[9], 'os_version', ARGV[10], 'patch_level', ARGV[11],"
    " 'username', ARGV[1], 'last_accessed', ARGV[3])\n"
    "if ARGV[12] ~= '' then redis.call('HSET', KEYS[3], 'cert_fingerprint', ARGV[12]) end\n"
    "redis.call('HSETNX', KEYS[3], 'first_accessed', ARGV[3])\n"
    "redis.call('ZADD', KEYS[4], 0, ARGV[2])\n"
    "redis.call('SADD', KEYS[5], ARGV[2])\n"
    "for i = 6, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 9], 'PX', ARGV[13]) end\n"
    "return 1\n";

static void acs_create(struct gw_ident *op)
{
    struct gw_req *r = op->req;
    struct gw_worker *w = op->w;
    const char *F = fleet(op);
    int64_t now = gw_wall_ms();
    int64_t expires = now + GW_SESSION_TTL_MS;
    if (op->res->session_not_on_or_after_ms > 0 && op->res->session_not_on_or_after_ms < expires)
        expires = op->res->session_not_on_or_after_ms;
    if (expires <= now + 1000) {
        refuse(op, WL_SAML_E_EXPIRED, "SessionNotOnOrAfter already passed");
        return;
    }
    const char *user = op->res->name_id;
    if (user == NULL || strlen(user) == 0 || strlen(user) > 256) {
        refuse(op, WL_SAML_E_SUBJECT, "NameID empty or longer than 256 characters");
        return;
    }
    /* device: the app's id, the device cookie, or a new one */
    const char *dev = hdr_str(r, "x-worklink-device-id");
    if (dev == NULL || !gw_ident_device_id_ok(dev, strlen(dev)))
        dev = cookie_str(r, GW_DEVICE_COOKIE);
    if (dev != NULL && gw_ident_device_id_ok(dev, strlen(dev))) {
        snprintf(op->device_id, sizeof op->device_id, "%s", dev);
    } else {
        unsigned char rnd[16];
        if (RAND_bytes(rnd, sizeof rnd) != 1) {
            fail_unavailable(op);
            return;
        }
        hex(rnd, sizeof rnd, op->device_id);
        op->new_device = true;
    }
    struct gw_device_info di;
    gw_ident_device_info(hdr_str(r, "user-agent"), hdr_str(r, "x-worklink-device-manufacturer"),
                         hdr_str(r, "x-worklink-device-model"), hdr_str(r, "x-worklink-device-os"),
                         hdr_str(r, "x-worklink-device-os-version"),
                         hdr_str(r, "x-worklink-device-patch-level"), &di);
    char fp[65] = "";
    if (w->snap && w->snap->device_store && r->conn->sock.ssl) {
        X509 *peer = SSL_get0_peer_certificate(r->conn->sock.ssl);
        unsigned char md[32];
        unsigned int mdl = 0;
        if (peer && X509_digest(peer, EVP_sha256(), md, &mdl) == 1 && mdl == 32)
            hex(md, 32, fp);
    }
    /* the session token: 256 bits, kept by Redis only as its hash and sealed in tickets */
    char token[64], sid[65];
    if (gw_ident_random_b64url(32, token, sizeof token) != 0) {
        fail_unavailable(op);
        return;
    }
    gw_ident_sha256_hex(token, strlen(token), sid);
    char aad[96], exps[24], nows[24], idles[24], ttl[24];
    snprintf(aad, sizeof aad, "%s/ticket", F);
    snprintf(exps, sizeof exps, "%lld", (long long)expires);
    snprintf(nows, sizeof nows, "%lld", (long long)now);
    snprintf(idles, sizeof idles, "%lld", (long long)GW_SESSION_IDLE_MS);
    snprintf(ttl, sizeof ttl, "%d", GW_TICKET_TTL_MS);
    char *sealed = wl_envelope_seal(&w->srv->mk, token, strlen(token), aad);
    OPENSSL_cleanse(token, sizeof token);
    if (sealed == NULL) {
        fail_unavailable(op);
        return;
    }
    /* the ticket chain: every other usable domain first, the page's own domain last */
    const char *doms[GW_TICKET_CHAIN_MAX];
    size_t nd = 0;
    const struct gw_snapshot *s = w->snap;
    for (size_t i = 0; s && i < s->ndomains && nd + 1 < GW_TICKET_CHAIN_MAX; i++)
        if (s->domains[i].status == GW_DOM_ACTIVE && s->domains[i].ctx != NULL &&
            strcasecmp(s->domains[i].name, op->dom) != 0)
            doms[nd++] = s->domains[i].name;
    doms[nd++] = op->dom;
    char tickets[GW_TICKET_CHAIN_MAX][64];
    char tkeys[GW_TICKET_CHAIN_MAX][200];
    char *tvals[GW_TICKET_CHAIN_MAX] = {0};
    for (size_t i = 0; i < nd; i++) {
        char th[65];
        if (gw_ident_random_b64url(32, tickets[i], sizeof tickets[i]) != 0)
            abort();
        gw_ident_sha256_hex(tickets[i], strlen(tickets[i]), th);
        snprintf(tkeys[i], sizeof tkeys[i], "wl:{%s}:ticket:%s", F, th);
    }
    for (size_t i = 0; i < nd; i++) {
        char next[1400];
        if (i + 1 < nd)
            snprintf(next, sizeof next, "https://%s%s" GW_TICKET_PATH "?t=%s", doms[i + 1],
                     op->port, tickets[i + 1]);
        else
            snprintf(next, sizeof next, "%s", op->ret);
        if (asprintf(&tvals[i], "%s\t%s\t%s\t%s", sealed, exps, doms[i], next) < 0)
            abort();
    }
    snprintf(op->first_url, sizeof op->first_url, "https://%s%s" GW_TICKET_PATH "?t=%s", doms[0],
             op->port, tickets[0]);
    free(sealed);

    char k_sess[200], k_usess[600], k_dev[200], k_devs[200], k_udev[600], upfx[120];
    snprintf(k_sess, sizeof k_sess, "wl:{%s}:session:%s", F, sid);
    snprintf(k_usess, sizeof k_usess, "wl:{%s}:user:%s:sessions", F, user);
    snprintf(k_dev, sizeof k_dev, "wl:{%s}:device:%s", F, op->device_id);
    snprintf(k_devs, sizeof k_devs, "wl:{%s}:devices", F);
    snprintf(k_udev, sizeof k_udev, "wl:{%s}:user:%s:devices", F, user);
    snprintf(upfx, sizeof upfx, "wl:{%s}:user:", F);
    char nkeys[8];
    snprintf(nkeys, sizeof nkeys, "%zu", 5 + nd);
    const char *argv[3 + 5 + GW_TICKET_CHAIN_MAX + 14 + GW_TICKET_CHAIN_MAX];
    int argc = 0;
    argv[argc++] = "EVAL";
    argv[argc++] = create_lua;
    argv[argc++] = nkeys;
    argv[argc++] = k_sess;
    argv[argc++] = k_usess;
    argv[argc++] = k_dev;
    argv[argc++] = k_devs;
    argv[argc++] = k_udev;
    for (size_t i = 0; i < nd; i++)
        argv[argc++] = tkeys[i];
    const char *args[14] = {
        user,     op->device_id, nows,          exps,           idles, sid, di.manufacturer,
        di.model, di.os,         di.os_version, di.patch_level, fp,    ttl, upfx};
    for (int i = 0; i < 14; i++)
        argv[argc++] = args[i];
    for (size_t i = 0; i < nd; i++)
        argv[argc++] = tvals[i];
    bool sent = op_send(op, acs_created, argc, argv);
    for (size_t i = 0; i < nd; i++) {
        OPENSSL_cleanse(tvals[i], strlen(tvals[i]));
        free(tvals[i]);
    }
    OPENSSL_cleanse(tickets, sizeof tickets);
    if (!sent)
        fail_unavailable(op);
}

static void acs_consumed(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct gw_ident *op = priv;
    redisReply *rep = reply;
    if (op_reply(op) == NULL)
        return;
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER) {
        fail_unavailable(op); /* fail closed: no session without the one-time checks */
        return;
    }
    long long code = rep->element[0]->integer;
    if (code == WL_SAML_E_REPLAY) {
        refuse(op, WL_SAML_E_REPLAY, op->res->assertion_id);
        return;
    }
    if (code == WL_SAML_E_UNKNOWN_REQUEST) {
        refuse(op, WL_SAML_E_UNKNOWN_REQUEST, "InResponseTo unknown, expired or already used");
        return;
    }
    if (code != 1) {
        refuse(op, WL_SAML_E_IN_RESPONSE_TO, "RelayState does not belong to the request");
        return;
    }
    /* where to go: the relay record ("domain\npath"), else this host's root */
    snprintf(op->dom, sizeof op->dom, "%s", op->host);
    snprintf(op->ret, sizeof op->ret, "/");
    if (rep->elements >= 2 && rep->element[1]->type == REDIS_REPLY_STRING) {
        const char *v = rep->element[1]->str;
        const char *nl = strchr(v, '\n');
        if (nl && (size_t)(nl - v) < sizeof op->dom) {
            char dom[256], path[1024];
            memcpy(dom, v, (size_t)(nl - v));
            dom[nl - v] = '\0';
            const struct gw_domain *d = gw_snapshot_find(op->w->snap, dom, strlen(dom));
            if (d && d->status == GW_DOM_ACTIVE) {
                snprintf(op->dom, sizeof op->dom, "%s", d->name);
                gw_ident_return_path(nl + 1, path, sizeof path);
                snprintf(op->ret, sizeof op->ret, "%s", path);
            }
        }
    }
    acs_create(op);
}

static const char consume_lua[] =
    "if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return {-29} end\n"
    "local v = redis.call('GETDEL', KEYS[2])\n"
    "if not v then return {-21} end\n"
    "if v == '1' then return {1} end\n"
    "if v ~= ARGV[2] then return {-31} end\n"
    "local rel = redis.call('GETDEL', ARGV[3] .. v)\n"
    "if not rel then return {1} end\n"
    "return {1, rel}\n";

static void acs_config(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct gw_ident *op = priv;
    redisReply *rep = reply;
    struct gw_req *r = op_reply(op);
    if (r == NULL || !config_reply(op, rep))
        return;
    struct saml_cfg c;
    int rc = saml_cfg_load(op, rep, false, &c);
    if (rc != 0) {
        config_problem(op, rc);
        return;
    }
    /* this request must be the configured ACS: host and path from configuration, not Host */
    char host[256], path[1024], rpath[1024];
    size_t pl = strcspn(r->target, "?");
    if (pl >= sizeof rpath)
        pl = sizeof rpath - 1;
    memcpy(rpath, r->target, pl);
    rpath[pl] = '\0';
    if (gw_ident_url_split(c.acs_url, host, sizeof host, path, sizeof path) != 0 ||
        strcmp(host, op->host) != 0 || strcmp(path, rpath) != 0) {
        saml_cfg_dispose(&c);
        finish_page(op, 404, "Not found", "There is no such gateway page.");
        return;
    }
    size_t n = 0, rn = 0;
    char detail[WL_SAML_DETAIL_MAX] = "";
    char *b64 =
        op->body ? wl_saml_form_field(op->body, op->blen, "SAMLResponse", WL_SAML_MAX_MESSAGE, &n)
                 : NULL;
    char *relay = op->body ? wl_saml_form_field(op->body, op->blen, "RelayState", 80, &rn) : NULL;
    if (b64 == NULL) {
        free(relay);
        saml_cfg_dispose(&c);
        refuse(op, WL_SAML_E_ENCODING, "no single SAMLResponse field in the POST body");
        return;
    }
    snprintf(op->relay, sizeof op->relay, "%s", relay ? relay : "");
    free(relay);
    struct wl_saml_expect exp = {.sp_entity_id = c.entity_id,
                                 .acs_url = c.acs_url,
                                 .now_ms = gw_wall_ms(),
                                 .skew_ms = 0,
                                 .allow_unsolicited = 0};
    rc = wl_saml_response_verify(c.idp, &exp, b64, n, &op->res, detail, sizeof detail);
    free(b64);
    saml_cfg_dispose(&c);
    if (rc != 0) {
        refuse(op, rc, detail);
        return;
    }
    char rkey[300], akey[200], relpfx[120], ttl[24];
    if (wl_saml_replay_key(fleet(op), op->res, rkey, sizeof rkey) < 0 ||
        op->res->in_response_to == NULL ||
        wl_saml_authn_key(fleet(op), op->res->in_response_to, akey, sizeof akey) < 0) {
        refuse(op, WL_SAML_E_UNKNOWN_REQUEST, "InResponseTo or assertion id unusable as a key");
        return;
    }
    snprintf(relpfx, sizeof relpfx, "wl:{%s}:relay:", fleet(op));
    snprintf(ttl, sizeof ttl, "%lld", (long long)op->res->replay_ttl_ms);
    const char *argv[] = {"EVAL", consume_lua, "2", rkey, akey, ttl, op->relay, relpfx};
    if (!op_send(op, acs_consumed, 8, argv))
        fail_unavailable(op);
}

static void acs_body_done(struct gw_ident *op)
{
    if (!send_config(op, acs_config))
        fail_unavailable(op);
}

static void acs_start(struct gw_req *r)
{
    struct gw_ident *op = op_new(r, OP_ACS);
    if (!within_budget(op, 'a', 1.0, 20.0))
        return;
    if (r->content_length > GW_ACS_MAX_BODY) {
        finish_page(op, 413, "Payload too large", "The sign-in response is too large.");
        return;
    }
    /* h1 hands over body bytes that came with the head before the request starts */
    while (r->in.len > 0) {
        char buf[16384];
        size_t n = gw_bufq_pop(&r->in, buf, sizeof buf);
        gw_ident_body(r, buf, n);
        if (r->ident != op)
            return; /* answered (too large) */
    }
    if (!r->has_body || r->body_done)
        acs_body_done(op);
}

void gw_ident_body(struct gw_req *r, const char *data, size_t len)
{
    struct gw_ident *op = r->ident;
    if (op == NULL)
        return;
    if (op->kind != OP_ACS) {
        gw_bufq_push(&r->in, data, len); /* an authorized request waiting for us: keep it */
        return;
    }
    if (op->pending > 0)
        return;
    if (op->blen + len > GW_ACS_MAX_BODY) {
        finish_page(op, 413, "Payload too large", "The sign-in response is too large.");
        return;
    }
    char *b = realloc(op->body, op->blen + len + 1);
    if (b == NULL)
        abort();
    memcpy(b + op->blen, data, len);
    op->blen += len;
    b[op->blen] = '\0';
    op->body = b;
}

void gw_ident_body_end(struct gw_req *r)
{
    struct gw_ident *op = r->ident;
    if (op != NULL && op->kind == OP_ACS && op->pending == 0)
        acs_body_done(op);
}

/* ---------------- ticket ---------------- */

static void ticket_got(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct gw_ident *op = priv;
    redisReply *rep = reply;
    struct gw_req *r = op_reply_ok(op, rep);
    if (r == NULL)
        return;
    if (rep->type != REDIS_REPLY_STRING) {
        finish_page(op, 400, "Sign-in link expired",
                    "This sign-in link has expired or was already used. Open the page again to "
                    "sign in.");
        return;
    }
    /* sealed \t expires \t domain \t next */
    char *v = gw_arena_strndup(&r->arena, rep->str, rep->len);
    char *f[4];
    int nf = 0;
    for (char *p = v; nf < 4; nf++) {
        f[nf] = p;
        char *t = nf < 3 ? strchr(p, '\t') : NULL;
        if (nf < 3 && t == NULL)
            break;
        if (t) {
            *t = '\0';
            p = t + 1;
        }
    }
    if (nf != 4 || strcasecmp(f[2], op->host) != 0) {
        finish_page(op, 400, "Sign-in link invalid", "This sign-in link is not for this site.");
        return;
    }
    char aad[96];
    snprintf(aad, sizeof aad, "%s/ticket", fleet(op));
    size_t tl = 0;
    char *token = (char *)wl_envelope_open(&op->w->srv->mk, f[0], aad, &tl);
    if (token == NULL) {
        finish_page(op, 400, "Sign-in link invalid", "This sign-in link cannot be used.");
        return;
    }
    long long maxage = (strtoll(f[1], NULL, 10) - gw_wall_ms()) / 1000;
    if (maxage < 1)
        maxage = 1;
    char ret[1400];
    if (strncmp(f[3], "https://", 8) == 0)
        snprintf(ret, sizeof ret, "%s", f[3]); /* the next domain's ticket (built by us) */
    else
        gw_ident_return_path(f[3], ret, sizeof ret);
    char fmt[16];
    bool json = gw_ident_query_param(r->target, r->target_len, "format", fmt, sizeof fmt) > 0 &&
                strcmp(fmt, "token") == 0;
    if (json) {
        /* the app: the token comes back in the body; it then sends Authorization: Bearer */
        char body[512];
        int n = snprintf(body, sizeof body, "{\"session_token\":\"%s\",\"expires_in\":%lld}\n",
                         token, maxage);
        OPENSSL_cleanse(token, tl);
        free(token);
        struct gw_ident *o = op;
        r->ident = NULL;
        o->req = NULL;
        gw_req_respond(r, 200, "Content-Type: application/json\r\n", body, (size_t)n);
        OPENSSL_cleanse(body, sizeof body);
        op_free(o);
        return;
    }
    char hdr[2200];
    snprintf(hdr, sizeof hdr,
             "Location: %s\r\nSet-Cookie: " GW_SESSION_COOKIE
             "=%s; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=%lld\r\n",
             ret, token, maxage);
    OPENSSL_cleanse(token, tl);
    free(token);
    finish(op, 302, hdr, NULL, 0);
    OPENSSL_cleanse(hdr, sizeof hdr);
}

static void ticket_start(struct gw_req *r)
{
    struct gw_ident *op = op_new(r, OP_TICKET);
    char t[96], th[65], key[200];
    int n = gw_ident_query_param(r->target, r->target_len, "t", t, sizeof t);
    if (n != 43) {
        finish_page(op, 400, "Sign-in link invalid", "This sign-in link is malformed.");
        return;
    }
    gw_ident_sha256_hex(t, (size_t)n, th);
    snprintf(key, sizeof key, "wl:{%s}:ticket:%s", fleet(op), th);
    const char *argv[] = {"GETDEL", key};
    if (!op_send(op, ticket_got, 2, argv))
        fail_unavailable(op);
}

/* ---------------- sign-out ---------------- */

/* KEYS: session, jar, version. ARGV: sid, key prefix "wl:{F}:". Deletes the session wherever it
 * is used (every domain of the fleet shares it) and tells every gateway (change feed). */
static const char signout_lua[] =
    "local u = redis.call('HGET', KEYS[1], 'username')\n"
    "redis.call('DEL', KEYS[1], KEYS[2])\n"
    "if not u then return 0 end\n"
    "redis.call('SREM', ARGV[2] .. 'user:' .. u .. ':sessions', ARGV[1])\n"
    "local v = redis.call('INCR', KEYS[3])\n"
    "redis.call('PUBLISH', ARGV[2] .. 'events', cjson.encode({version = v, kind = 'session',\n"
    "  op = 'signout', id = ARGV[1]}))\n"
    "return 1\n";

static void signed_out(struct gw_ident *op)
{
    /* "cookies" is left out of Clear-Site-Data: it would also drop the device cookie that
     * identifies this device to the fleet; the session cookie is expired explicitly instead. */
    static const char body[] =
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width\"><title>Signed out</title></head>\n"
        "<body><h1>Signed out</h1>\n<p>You are signed out of WorkLink. Pages and data of this "
        "site were removed from this device.</p>\n<p><a href=\"" GW_LOGIN_PATH "\">Sign in "
        "again</a></p></body></html>\n";
    finish(op, 200, GW_SESSION_ENDED_HEADERS, body, sizeof body - 1);
}

static void signout_done(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct gw_ident *op = priv;
    redisReply *rep = reply;
    struct gw_req *r = op_reply_ok(op, rep);
    if (r == NULL)
        return;
    if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 1)
        WL_INFO(NULL, "sign-out: session ended by its device");
    signed_out(op);
}

static void signout_start(struct gw_req *r, bool post)
{
    struct gw_ident *op = op_new(r, OP_SIGNOUT);
    if (!post) {
        static const char form[] =
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width\"><title>Sign out</title>"
            "</head>\n<body><h1>Sign out</h1>\n<form method=\"post\" action=\"" GW_SIGNOUT_PATH
            "\"><button type=\"submit\">Sign out of WorkLink</button></form></body></html>\n";
        finish(op, 200, NULL, form, sizeof form - 1);
        return;
    }
    struct gw_token t;
    if (!gw_hdr_find_token(&r->hdrs, &t) || t.len == 0 || t.len > 512) {
        signed_out(op); /* no session here: still clear what the device holds */
        return;
    }
    char sid[65], skey[224], jkey[224], vkey[160], pfx[140];
    gw_ident_sha256_hex(t.base, t.len, sid);
    snprintf(pfx, sizeof pfx, "wl:{%s}:", fleet(op));
    snprintf(skey, sizeof skey, "%ssession:%s", pfx, sid);
    snprintf(jkey, sizeof jkey, "%sjar:%s", pfx, sid);
    snprintf(vkey, sizeof vkey, "%sversion", pfx);
    const char *argv[] = {"EVAL", signout_lua, "3", skey, jkey, vkey, sid, pfx};
    if (!op_send(op, signout_done, 8, argv))
        fail_unavailable(op);
}

/* ---------------- authorization providers and denial ---------------- */

/* No session: HTML navigation goes to the login page, anything else gets 401. */
static void deny(struct gw_ident *op)
{
    struct gw_req *r = op->req;
    r->ident = NULL;
    op->req = NULL;
    gw_req_sign_in_required(r);
    op_free(op);
}

static void authp_got(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct gw_ident *op = priv;
    redisReply *rep = reply;
    struct gw_req *r = op_reply(op);
    if (r == NULL)
        return;
    if (rep != NULL && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1) {
        r->ident = NULL;
        op->req = NULL;
        op_free(op);
        r->authorized = true; /* the IdP's own pages: reachable during sign-in */
        gw_ident_fetch(r);
        return;
    }
    deny(op);
}

static const char authp_lua[] =
    "for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do\n"
    "  if redis.call('HGET', ARGV[1] .. id, 'domain_name') == ARGV[2] then return 1 end\n"
    "end\n"
    "return 0\n";

bool gw_ident_no_session(struct gw_req *r)
{
    if (r->ident != NULL || r->authp_checked)
        return false;
    r->authp_checked = true;
    struct gw_worker *w = r->conn->w;
    if (w->redis == NULL || !w->redis_ready)
        return false;
    struct gw_ident *op = op_new(r, OP_AUTHP);
    char key[200], pfx[200];
    snprintf(key, sizeof key, "wl:{%s}:authps", fleet(op));
    snprintf(pfx, sizeof pfx, "wl:{%s}:authp:", fleet(op));
    const char *argv[] = {"EVAL", authp_lua, "1", key, pfx, op->host};
    if (!op_send(op, authp_got, 6, argv)) {
        r->ident = NULL;
        op_free(op);
        return false;
    }
    return true;
}

/* ---------------- company-code discovery ---------------- */

static void json_answer(struct gw_ident *op, int status, json_t *o)
{
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (body == NULL)
        abort();
    finish(op, status, "Content-Type: application/json\r\nAccess-Control-Allow-Origin: *\r\n", body,
           strlen(body));
    free(body);
}

static void disc_error(struct gw_ident *op, int status, const char *type, const char *msg)
{
    json_answer(op, status, json_pack("{s:s, s:s}", "error", type, "message", msg));
}

static void disc_unknown(struct gw_ident *op)
{
    char msg[160];
    snprintf(msg, sizeof msg, "No fleet has the company code %s.", op->relay);
    disc_error(op, 404, "UnknownCompanyCode", msg);
}

static void disc_fleet(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct gw_ident *op = priv;
    redisReply *rep = reply;
    struct gw_req *r = op_reply(op);
    if (r == NULL)
        return;
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 4) {
        disc_error(op, 503, "ServiceUnavailable", "Discovery is unavailable; try again soon.");
        return;
    }
    const char *v[4];
    for (int i = 0; i < 4; i++)
        v[i] = rep->element[i]->type == REDIS_REPLY_STRING ? rep->element[i]->str : "";
    if (strcmp(v[2], "ACTIVE") != 0) {
        disc_unknown(op);
        return;
    }
    char login[400], ep[300];
    snprintf(ep, sizeof ep, "%s%s", op->host, op->port);
    snprintf(login, sizeof login, "https://%s%s", ep, GW_LOGIN_PATH);
    json_answer(op, 200,
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "CompanyCode", op->relay,
                          "FleetName", fleet(op), "FleetArn", v[0], "DisplayName", v[1], "LoginUrl",
                          login, "GatewayEndpoint", ep, "IdentityProviderConfigured",
                          v[3][0] != '\0'));
}

static void disc_code(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct gw_ident *op = priv;
    redisReply *rep = reply;
    if (op_reply(op) == NULL)
        return;
    if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
        disc_error(op, 503, "ServiceUnavailable", "Discovery is unavailable; try again soon.");
        return;
    }
    if (rep->type != REDIS_REPLY_STRING || strcmp(rep->str, fleet(op)) != 0) {
        disc_unknown(op); /* unknown, or another fleet's: the same answer */
        return;
    }
    char key[200];
    snprintf(key, sizeof key, "wl:{%s}:fleet", fleet(op));
    const char *argv[] = {"HMGET", key, "arn", "display_name", "status", "idp_metadata"};
    if (!op_send(op, disc_fleet, 6, argv))
        disc_error(op, 503, "ServiceUnavailable", "Discovery is unavailable; try again soon.");
}

static void discovery_start(struct gw_req *r)
{
    struct gw_ident *op = op_new(r, OP_DISCOVERY);
    char who[80];
    snprintf(who, sizeof who, "d|%s", r->conn->sock.peer);
    if (!gw_ident_rate_take(who, gw_wall_ms(), 0.5, 5.0)) {
        finish(op, 429, "Content-Type: application/json\r\nRetry-After: 5\r\n",
               "{\"error\":\"TooManyRequests\",\"message\":\"Too many discovery requests; retry "
               "in a few seconds.\"}\n",
               sizeof "{\"error\":\"TooManyRequests\",\"message\":\"Too many discovery requests; "
                      "retry in a few seconds.\"}\n" -
                   1);
        return;
    }
    char code[64];
    int n = gw_ident_query_param(r->target, r->target_len, "code", code, sizeof code);
    bool ok = n >= 1 && n <= 32;
    for (int i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)code[i]) != 0;
    if (!ok) {
        disc_error(op, 400, "InvalidCompanyCode",
                   "The company code must be 1 to 32 letters or digits (?code=...).");
        return;
    }
    memcpy(op->relay, code, (size_t)n + 1);
    char key[120];
    snprintf(key, sizeof key, "wl:companycode:%s", code);
    const char *argv[] = {"GET", key};
    if (!op_send(op, disc_code, 2, argv))
        disc_error(op, 503, "ServiceUnavailable", "Discovery is unavailable; try again soon.");
}

/* ---------------- identity to the origin: JWT and JWKS ---------------- */

/* This worker thread's published signing key, freed when the thread exits. */
static pthread_key_t jwt_tls;
static pthread_once_t jwt_once = PTHREAD_ONCE_INIT;

static void jwt_tls_free(void *k)
{
    gw_jwt_key_free(k);
}

/* Per worker: identity JWTs already signed, reused for JWT_REUSE_MS (a token lives
 * GW_JWT_TTL_MS, so a reused one still has most of its life). ECDSA signing per request was the
 * gateway's largest CPU cost on keep-alive loads (bench/README.md). Keyed by signing key id, user,
 * device and domain, so a rotated key or another audience never reuses a token. */
#define JWT_CACHE_SLOTS 1024
#define JWT_REUSE_MS (60LL * 1000)

struct jwt_cache_ent {
    char *id; /* "kid\nuser\ndevice\nhost" */
    char *jwt;
    int64_t issued;
};

struct jwt_cache {
    struct jwt_cache_ent e[JWT_CACHE_SLOTS];
};

static pthread_key_t jwt_cache_tls;

static void jwt_cache_free(void *p)
{
    struct jwt_cache *c = p;
    for (size_t i = 0; i < JWT_CACHE_SLOTS; i++) {
        free(c->e[i].id);
        free(c->e[i].jwt);
    }
    free(c);
}

static void jwt_tls_init(void)
{
    if (pthread_key_create(&jwt_tls, jwt_tls_free) != 0 ||
        pthread_key_create(&jwt_cache_tls, jwt_cache_free) != 0)
        abort();
}

/* This worker's token cache (created on first use). */
static struct jwt_cache *jwt_cache_get(void)
{
    pthread_once(&jwt_once, jwt_tls_init);
    struct jwt_cache *c = pthread_getspecific(jwt_cache_tls);
    if (c == NULL) {
        c = calloc(1, sizeof *c);
        if (c == NULL || pthread_setspecific(jwt_cache_tls, c) != 0)
            abort();
    }
    return c;
}

static struct gw_jwt_key *jwt_get(void)
{
    pthread_once(&jwt_once, jwt_tls_init);
    return pthread_getspecific(jwt_tls);
}

static void jwt_set(struct gw_jwt_key *k)
{
    pthread_once(&jwt_once, jwt_tls_init);
    if (pthread_setspecific(jwt_tls, k) != 0)
        abort();
}

/* Removes every identity header the device sent (they would impersonate anyone). */
static void strip_identity(struct gw_req *r)
{
    size_t nl = strlen(GW_IDENTITY_HEADER), o = 0;
    for (size_t i = 0; i < r->hdrs.n; i++) {
        const struct gw_hdr *h = &r->hdrs.v[i];
        if (h->nlen == nl && strncasecmp(h->name, GW_IDENTITY_HEADER, nl) == 0)
            continue;
        r->hdrs.v[o++] = r->hdrs.v[i];
    }
    r->hdrs.n = o;
}

static void add_identity(struct gw_req *r, const char *host)
{
    const char *F = r->conn->w->srv->opt->fleet;
    char iss[120];
    snprintf(iss, sizeof iss, "urn:worklink:gateway:%s", F);
    const struct gw_jwt_key *k = jwt_get();
    char id[1200];
    int n = snprintf(id, sizeof id, "%s\n%s\n%s\n%s", gw_jwt_key_id(k), r->user,
                     r->device_id ? r->device_id : "", host);
    if (n < 0 || (size_t)n >= sizeof id)
        return;
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = id; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    struct jwt_cache_ent *e = &jwt_cache_get()->e[h % JWT_CACHE_SLOTS];
    int64_t now = gw_wall_ms();
    if (e->id == NULL || strcmp(e->id, id) != 0 || now - e->issued >= JWT_REUSE_MS) {
        char *jwt = gw_jwt_sign(k, iss, r->user, r->device_id, F, host, now, GW_JWT_TTL_MS);
        char *idc = jwt ? strdup(id) : NULL;
        if (idc == NULL) {
            free(jwt);
            return;
        }
        free(e->id);
        free(e->jwt);
        e->id = idc;
        e->jwt = jwt;
        e->issued = now;
    }
    gw_hdrs_add(&r->arena, &r->hdrs, GW_IDENTITY_HEADER, strlen(GW_IDENTITY_HEADER), e->jwt,
                strlen(e->jwt));
}

static const char publish_lua[] =
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "local all = redis.call('HGETALL', KEYS[1])\n"
    "for i = 1, #all, 2 do\n"
    "  local ok, v = pcall(cjson.decode, all[i + 1])\n"
    "  if not ok or type(v) ~= 'table' or tonumber(v.expires) == nil or\n"
    "     tonumber(v.expires) < tonumber(ARGV[3]) then redis.call('HDEL', KEYS[1], all[i]) end\n"
    "end\n"
    "return 1\n";

static void key_published(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct gw_ident *op = priv;
    redisReply *rep = reply;
    bool ok = rep != NULL && rep->type == REDIS_REPLY_INTEGER;
    if (ok && op->key != NULL) {
        gw_jwt_key_free(jwt_get()); /* tokens it signed still verify: its JWK stays published */
        jwt_set(op->key);
        op->key = NULL;
        WL_INFO(NULL, "fleet %s: identity signing key %s published", fleet(op),
                gw_jwt_key_id(jwt_get()));
    }
    struct gw_req *r = op_reply(op);
    if (r == NULL)
        return;
    if (!ok || jwt_get() == NULL) {
        fail_unavailable(op);
        return;
    }
    char host[256];
    snprintf(host, sizeof host, "%s", op->host);
    r->ident = NULL;
    op->req = NULL;
    op_free(op);
    add_identity(r, host);
    gw_up_fetch(r);
}

void gw_ident_fetch(struct gw_req *r)
{
    strip_identity(r);
    if (r->user == NULL) {
        gw_up_fetch(r);
        return;
    }
    int64_t now = gw_wall_ms();
    struct gw_ident *op = op_new(r, OP_PUBLISH);
    struct gw_jwt_key *cur = jwt_get();
    if (cur != NULL && now - gw_jwt_key_created(cur) < GW_JWT_ROTATE_MS) {
        char host[256];
        snprintf(host, sizeof host, "%s", op->host);
        r->ident = NULL;
        op->req = NULL;
        op_free(op);
        add_identity(r, host);
        gw_up_fetch(r);
        return;
    }
    /* first use or rotation: the new key's JWK is published before it signs anything */
    op->key = gw_jwt_key_new(now);
    char *jwk = op->key ? gw_jwt_key_jwk(op->key) : NULL;
    json_t *jv = jwk ? json_loads(jwk, 0, NULL) : NULL;
    free(jwk);
    json_t *rec = jv ? json_pack("{s:I, s:o}", "expires",
                                 (json_int_t)(now + GW_JWT_ROTATE_MS + GW_JWT_GRACE_MS), "jwk", jv)
                     : NULL;
    char *val = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    if (val == NULL) {
        finish_page(op, 500, "Internal error", "The gateway cannot create its signing key.");
        return;
    }
    char key[200], nows[24];
    snprintf(key, sizeof key, "wl:{%s}:jwks", fleet(op));
    snprintf(nows, sizeof nows, "%lld", (long long)now);
    const char *argv[] = {"EVAL", publish_lua, "1", key, gw_jwt_key_id(op->key), val, nows};
    bool sent = op_send(op, key_published, 7, argv);
    free(val);
    if (!sent)
        fail_unavailable(op);
}

static void jwks_got(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct gw_ident *op = priv;
    redisReply *rep = reply;
    if (op_reply(op) == NULL)
        return;
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
        fail_unavailable(op);
        return;
    }
    int64_t now = gw_wall_ms();
    json_t *keys = json_array();
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        if (rep->element[i + 1]->type != REDIS_REPLY_STRING)
            continue;
        json_t *rec = json_loads(rep->element[i + 1]->str, 0, NULL);
        json_t *jwk = json_object_get(rec, "jwk");
        json_int_t exp = json_integer_value(json_object_get(rec, "expires"));
        if (json_is_object(jwk) && exp > now)
            json_array_append(keys, jwk);
        json_decref(rec);
    }
    json_t *o = json_pack("{s:o}", "keys", keys);
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (body == NULL)
        abort();
    finish(op, 200, "Content-Type: application/jwk-set+json\r\n", body, strlen(body));
    free(body);
}

static void jwks_start(struct gw_req *r)
{
    struct gw_ident *op = op_new(r, OP_JWKS);
    char key[200];
    snprintf(key, sizeof key, "wl:{%s}:jwks", fleet(op));
    const char *argv[] = {"HGETALL", key};
    if (!op_send(op, jwks_got, 2, argv))
        fail_unavailable(op);
}

/* ---------------- routing ---------------- */

bool gw_ident_route(struct gw_req *r, const struct gw_domain *d)
{
    (void)d;
    size_t pl = 0;
    while (pl < r->target_len && r->target[pl] != '?')
        pl++;
    const char *p = r->target;
    bool get = (r->method_len == 3 && memcmp(r->method, "GET", 3) == 0) || r->is_head;
    bool post = r->method_len == 4 && memcmp(r->method, "POST", 4) == 0;
    size_t ll = strlen(GW_LOGIN_PATH), tl = strlen(GW_TICKET_PATH), al = strlen(GW_ACS_SUFFIX);
    if (pl == ll && memcmp(p, GW_LOGIN_PATH, ll) == 0) {
        if (!get)
            return false;
        login_start(r);
        return true;
    }
    if (pl == tl && memcmp(p, GW_TICKET_PATH, tl) == 0) {
        if (!get)
            return false;
        ticket_start(r);
        return true;
    }
    size_t sl = strlen(GW_SIGNOUT_PATH);
    if (pl == sl && memcmp(p, GW_SIGNOUT_PATH, sl) == 0 && (get || post)) {
        signout_start(r, post);
        return true;
    }
    size_t jl = strlen(GW_JWKS_PATH);
    if (pl == jl && memcmp(p, GW_JWKS_PATH, jl) == 0 && get) {
        jwks_start(r);
        return true;
    }
    size_t dl = strlen(GW_DISCOVERY_PATH);
    if (pl == dl && memcmp(p, GW_DISCOVERY_PATH, dl) == 0 && get) {
        discovery_start(r);
        return true;
    }
    if (pl >= al && memcmp(p + pl - al, GW_ACS_SUFFIX, al) == 0 && post) {
        acs_start(r);
        return true;
    }
    return false;
}
