/* store.c - Redis helpers of the operations: commands, Lua scripts with the change-feed prelude,
 * hash loading, fleet lookup by ARN. */
#include "store.h"

#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 64

/* The prelude every script gets (see store.h). */
static const char prelude[] =
    "local F = ARGV[1]\n"
    "local P = 'wl:{' .. F .. '}:'\n"
    "local function bump(kind, op, id)\n"
    "  local v = redis.call('INCR', P .. 'version')\n"
    "  redis.call('PUBLISH', P .. 'events', cjson.encode({version = v, kind = kind, op = op, "
    "id = id}))\n"
    "  return v\n"
    "end\n"
    "local function fail(t, msg) return redis.error_reply('WL:' .. t .. ':' .. msg) end\n"
    "local function wrongtype(spec)\n"
    "  for k, t in pairs(spec) do\n"
    "    local got = redis.call('TYPE', k).ok\n"
    "    if got ~= 'none' and got ~= t then\n"
    "      return fail('InternalServerErrorException', 'the store holds ' .. k .. ' as a ' .. got "
    ".. ', not a ' .. t)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local function live()\n"
    "  local st = redis.call('HGET', P .. 'fleet', 'status')\n"
    "  return st == 'CREATING' or st == 'ACTIVE'\n"
    "end\n";

static redisReply *check_reply(struct ctl_ctx *ctx, redisReply *r)
{
    if (r == NULL) {
        ctl_error(ctx, "InternalServerErrorException", "the store is unavailable: %s",
                  ctx->redis->errstr[0] ? ctx->redis->errstr : "no reply");
        return NULL;
    }
    if (r->type != REDIS_REPLY_ERROR)
        return r;
    const char *s = r->str;
    if (strncmp(s, "WL:", 3) == 0) {
        /* "WL:<Type>:<message>" from fail() */
        const char *colon = strchr(s + 3, ':');
        if (colon != NULL && (size_t)(colon - (s + 3)) < sizeof ctx->err_type) {
            char type[64];
            memcpy(type, s + 3, (size_t)(colon - (s + 3)));
            type[colon - (s + 3)] = '\0';
            ctl_error(ctx, type, "%s", colon + 1);
            freeReplyObject(r);
            return NULL;
        }
    }
    ctl_error(ctx, "InternalServerErrorException", "the store failed: %.200s", s);
    freeReplyObject(r);
    return NULL;
}

/* With --redis-wait-replicas N: a script's effects count as done only once N replicas have
 * them (WAIT), so that what the API acknowledged survives a failover that promotes one of them.
 * A script that wrote nothing returns at once (WAIT waits for this connection's writes only). */
static redisReply *replicated(struct ctl_ctx *ctx, redisReply *r)
{
    if (r == NULL || ctx->cfg == NULL || ctx->cfg->wait_replicas <= 0)
        return r;
    redisReply *w = redisCommand(ctx->redis, "WAIT %d %lld", ctx->cfg->wait_replicas,
                                 (long long)ctx->cfg->wait_ms);
    long long got = w != NULL && w->type == REDIS_REPLY_INTEGER ? w->integer : -1;
    if (w != NULL)
        freeReplyObject(w);
    if (got >= ctx->cfg->wait_replicas)
        return r;
    freeReplyObject(r);
    if (got < 0)
        ctl_error(ctx, "InternalServerErrorException", "the store did not confirm replication: %s",
                  ctx->redis->errstr[0] ? ctx->redis->errstr : "WAIT failed");
    else
        ctl_error(ctx, "InternalServerErrorException",
                  "the change reached %lld of %d replicas within %lld ms and may be lost if "
                  "Redis fails over: retry",
                  got, ctx->cfg->wait_replicas, (long long)ctx->cfg->wait_ms);
    return NULL;
}

redisReply *ctl_store_cmdv(struct ctl_ctx *ctx, int argc, const char **argv)
{
    size_t lens[MAX_ARGS];
    if (argc > MAX_ARGS) {
        ctl_error(ctx, "InternalServerErrorException", "too many command arguments");
        return NULL;
    }
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return check_reply(ctx, redisCommandArgv(ctx->redis, argc, argv, lens));
}

redisReply *ctl_store_cmd(struct ctl_ctx *ctx, const char *arg0, ...)
{
    const char *argv[MAX_ARGS];
    int argc = 0;
    va_list ap;
    va_start(ap, arg0);
    for (const char *a = arg0; a != NULL && argc < MAX_ARGS; a = va_arg(ap, const char *))
        argv[argc++] = a;
    va_end(ap);
    return ctl_store_cmdv(ctx, argc, argv);
}

redisReply *ctl_store_eval(struct ctl_ctx *ctx, const char *script, int nkeys, const char **keys,
                           int nargs, const char **args)
{
    int argc = 3 + nkeys + nargs;
    const char **argv = calloc((size_t)argc, sizeof *argv);
    size_t *lens = calloc((size_t)argc, sizeof *lens);
    size_t plen = strlen(prelude), slen = strlen(script);
    char *full = malloc(plen + slen + 1);
    char nk[24];
    redisReply *r = NULL;
    if (argv == NULL || lens == NULL || full == NULL) {
        ctl_error(ctx, "InternalServerErrorException", "out of memory");
        goto out;
    }
    memcpy(full, prelude, plen);
    memcpy(full + plen, script, slen + 1);
    argv[0] = "EVAL";
    argv[1] = full;
    argv[2] = ctl_itoa(nk, nkeys);
    for (int i = 0; i < nkeys; i++)
        argv[3 + i] = keys[i];
    for (int i = 0; i < nargs; i++)
        argv[3 + nkeys + i] = args[i];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    r = replicated(ctx, check_reply(ctx, redisCommandArgv(ctx->redis, argc, argv, lens)));
out:
    free(full);
    free(lens);
    free(argv);
    return r;
}

static json_t *hash_from_reply(const redisReply *r)
{
    json_t *o = json_object();
    if (r->type != REDIS_REPLY_ARRAY)
        return o;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING)
            json_object_set_new(o, k->str, json_stringn(v->str, v->len));
    }
    return o;
}

int ctl_store_hgetall(struct ctl_ctx *ctx, const char *key, json_t **out)
{
    redisReply *r = ctl_store_cmd(ctx, "HGETALL", key, NULL);
    if (r == NULL)
        return -1;
    *out = hash_from_reply(r);
    freeReplyObject(r);
    return 0;
}

int ctl_store_hgetall_many(struct ctl_ctx *ctx, const char *const *keys, size_t n, json_t **out)
{
    json_t *arr = json_array();
    size_t sent = 0;
    int rc = -1;
    for (; sent < n; sent++) {
        const char *argv[2] = {"HGETALL", keys[sent]};
        size_t lens[2] = {7, strlen(keys[sent])};
        if (redisAppendCommandArgv(ctx->redis, 2, argv, lens) != REDIS_OK)
            break;
    }
    for (size_t i = 0; i < sent; i++) {
        void *rv = NULL;
        if (redisGetReply(ctx->redis, &rv) != REDIS_OK) {
            ctl_error(ctx, "InternalServerErrorException", "the store is unavailable: %s",
                      ctx->redis->errstr);
            goto out;
        }
        redisReply *r = rv;
        json_array_append_new(arr, hash_from_reply(r));
        freeReplyObject(r);
    }
    if (sent < n) {
        ctl_error(ctx, "InternalServerErrorException", "the store is unavailable");
        goto out;
    }
    *out = arr;
    arr = NULL;
    rc = 0;
out:
    json_decref(arr);
    return rc;
}

const char *ctl_hstr(const json_t *h, const char *field)
{
    return json_string_value(json_object_get(h, field));
}

long long ctl_hint(const json_t *h, const char *field)
{
    const char *s = ctl_hstr(h, field);
    return s ? strtoll(s, NULL, 10) : 0;
}

json_t *ctl_json_time(long long ms)
{
    return json_integer(ms / 1000);
}

char *ctl_key(char *out, size_t outlen, const char *fleet, const char *suffix)
{
    snprintf(out, outlen, "wl:{%s}:%s", fleet, suffix);
    return out;
}

void ctl_fleet_arn(char *out, size_t outlen, const char *account, const char *name)
{
    snprintf(out, outlen, "arn:aws:worklink::%s:fleet/%s", account, name);
}

static int fleet_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > CTL_FLEET_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

int ctl_fleet_load(struct ctl_ctx *ctx, const char *arn, const char *member, const char *notfound,
                   int flags, struct ctl_fleet *f)
{
    static const char prefix[] = "arn:aws:worklink::";
    const char *p, *slash;
    char key[128];
    json_t *h = NULL;
    if (arn == NULL || strncmp(arn, prefix, sizeof prefix - 1) != 0)
        return ctl_error(ctx, "InvalidRequestException",
                         "%s must be a fleet ARN (arn:aws:worklink::<account-id>:fleet/<name>)",
                         member);
    p = arn + sizeof prefix - 1;
    slash = strstr(p, ":fleet/");
    if (slash == NULL || !fleet_name_ok(slash + 7, strlen(slash + 7)))
        return ctl_error(ctx, "InvalidRequestException",
                         "%s must be a fleet ARN (arn:aws:worklink::<account-id>:fleet/<name>)",
                         member);
    const char *name = slash + 7;
    size_t acct_len = (size_t)(slash - p);
    if (acct_len != strlen(ctx->account_id) || memcmp(p, ctx->account_id, acct_len) != 0)
        return ctl_error(ctx, notfound, "fleet %s not found", arn);
    if (ctl_store_hgetall(ctx, ctl_key(key, sizeof key, name, "fleet"), &h) < 0)
        return -1;
    const char *acct = ctl_hstr(h, "account");
    if (acct == NULL || strcmp(acct, ctx->account_id) != 0) {
        json_decref(h);
        return ctl_error(ctx, notfound, "fleet %s not found", arn);
    }
    const char *st = ctl_hstr(h, "status");
    if ((flags & CTL_FLEET_LIVE) && st != NULL && strcmp(st, "CREATING") != 0 &&
        strcmp(st, "ACTIVE") != 0) {
        int rc = ctl_error(ctx, "InvalidRequestException", "fleet %s is %s", name, st);
        json_decref(h);
        return rc;
    }
    snprintf(f->name, sizeof f->name, "%s", name);
    ctl_fleet_arn(f->arn, sizeof f->arn, ctx->account_id, name);
    f->h = h;
    return 0;
}

void ctl_fleet_dispose(struct ctl_fleet *f)
{
    json_decref(f->h);
    f->h = NULL;
}

int ctl_random_string(struct ctl_ctx *ctx, char *out, size_t len, const char *alphabet)
{
    size_t n = strlen(alphabet);
    unsigned char buf[64];
    for (size_t i = 0; i < len;) {
        if (RAND_bytes(buf, sizeof buf) != 1)
            return ctl_error(ctx, "InternalServerErrorException", "random generator failed");
        for (size_t j = 0; j < sizeof buf && i < len; j++) {
            /* rejection sampling keeps the distribution uniform */
            if (buf[j] >= 256 - (256 % n))
                continue;
            out[i++] = alphabet[buf[j] % n];
        }
    }
    out[len] = '\0';
    return 0;
}

int ctl_uuid(struct ctl_ctx *ctx, char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return ctl_error(ctx, "InternalServerErrorException", "random generator failed");
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return 0;
}

char *ctl_itoa(char *out, long long v)
{
    snprintf(out, 24, "%lld", v);
    return out;
}

static const char fleet_set_lua[] =
    "if not live() then return fail('InvalidRequestException', 'fleet ' .. F .. "
    "' is not CREATING or ACTIVE') end\n"
    "local kind, op, now = ARGV[2], ARGV[3], ARGV[4]\n"
    "for i = 5, #ARGV - 1, 2 do\n"
    "  local v = ARGV[i + 1]\n"
    "  if v == '' then redis.call('HDEL', P .. 'fleet', ARGV[i])\n"
    "  else redis.call('HSET', P .. 'fleet', ARGV[i], string.sub(v, 2)) end\n"
    "end\n"
    "redis.call('HSET', P .. 'fleet', 'modified', now)\n"
    "bump(kind, op, F)\n"
    "return 'OK'\n";

int ctl_fleet_set(struct ctl_ctx *ctx, const struct ctl_fleet *f, const char *kind, const char *op,
                  int n, const char *const *fields, const char *const *values)
{
    const char **args = calloc((size_t)(4 + 2 * n), sizeof *args);
    char **vals = calloc((size_t)n + 1, sizeof *vals);
    char key[128], now[24];
    int rc = -1;
    if (args == NULL || vals == NULL)
        abort();
    args[0] = f->name;
    args[1] = kind;
    args[2] = op;
    args[3] = ctl_itoa(now, ctx->now_ms);
    for (int i = 0; i < n; i++) {
        /* "" = remove, "=<value>" = set (an empty value stays apart from none) */
        if (values[i] != NULL && asprintf(&vals[i], "=%s", values[i]) < 0)
            abort();
        args[4 + 2 * i] = fields[i];
        args[5 + 2 * i] = vals[i] ? vals[i] : "";
    }
    const char *keys[1] = {ctl_key(key, sizeof key, f->name, "fleet")};
    redisReply *r = ctl_store_eval(ctx, fleet_set_lua, 1, keys, 4 + 2 * n, args);
    if (r != NULL) {
        freeReplyObject(r);
        rc = 0;
    }
    for (int i = 0; i < n; i++)
        free(vals[i]);
    free(vals);
    free(args);
    return rc;
}
