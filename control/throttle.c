/* throttle.c - token buckets in Redis (see throttle.h). */
#include "throttle.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

/* KEYS[1] bucket; ARGV rate (tokens/s), burst, now (ms). Returns {allowed, retry_ms}. */
static const char script[] =
    "local rate = tonumber(ARGV[1]) local burst = tonumber(ARGV[2]) "
    "local now = tonumber(ARGV[3]) "
    "local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts') "
    "local tokens = tonumber(v[1]) or burst local ts = tonumber(v[2]) or now "
    "if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate / 1000) ts = now end "
    "local ok = 0 local retry = 0 "
    "if tokens >= 1 then tokens = tokens - 1 ok = 1 "
    "else retry = math.ceil((1 - tokens) * 1000 / rate) end "
    "redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts)) "
    "redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000) "
    "return {ok, retry}";

int ctl_throttle_take(struct redisContext *redis, const char *access_key, double rate, double burst,
                      int64_t now_ms, int64_t *retry_ms)
{
    if (rate <= 0)
        return 1;
    char key[160], r[32], b[32], n[32];
    snprintf(key, sizeof key, "wl:throttle:%s", access_key);
    snprintf(r, sizeof r, "%.6f", rate);
    snprintf(b, sizeof b, "%.0f", burst < 1 ? 1 : burst);
    snprintf(n, sizeof n, "%lld", (long long)now_ms);
    const char *argv[] = {"EVAL", script, "1", key, r, b, n};
    size_t lens[] = {4, sizeof script - 1, 1, strlen(key), strlen(r), strlen(b), strlen(n)};
    redisReply *rep = redisCommandArgv(redis, 7, argv, lens);
    int rc = -1;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER) {
        rc = rep->element[0]->integer ? 1 : 0;
        if (retry_ms)
            *retry_ms = rep->element[1]->type == REDIS_REPLY_INTEGER ? rep->element[1]->integer : 0;
    }
    if (rep)
        freeReplyObject(rep);
    return rc;
}
