/* reconcile.c - ctl_reconcile(): the state transitions that are due, from wl:pending.
 *
 * Members of wl:pending (score = when due, epoch ms):
 *   fleet:F         CREATING -> ACTIVE once a gateway of the fleet beats (a member of
 *                   wl:{F}:gateways scored within gateway_ttl_ms of now); DELETING -> DELETED
 *                   once none beats any more (its gateways saw fleet/delete, drained and left)
 *                   or fleet_drain_ms after DeleteFleet at the latest, then purge:F is scheduled
 *                   fleet_delete_delay_ms later. While waiting, the member is rescheduled
 *                   RECHECK_MS later.
 *   purge:F         a DELETED fleet disappears: every key of the fleet but its version counter
 *                   (kept so that versions stay monotonic if the name is used again), and its
 *                   entries in wl:fleets and wl:account:<id>:fleets
 *   domain:F:D      ASSOCIATING -> ACTIVE
 * Each member is handled by one script that re-checks the due time, removes the member and
 * applies the transition only from the expected state, so several control processes may
 * reconcile at once and a member rescheduled meanwhile is left alone. */
#include "op.h"

#include <stdio.h>
#include <string.h>

#include "store.h"

#define BATCH "100"
#define RECHECK_MS 250

static const char reconcile_lua[] =
    CTL_LUA_SWEEP "local member, now, later = ARGV[2], ARGV[3], ARGV[4]\n"
                  "local fresh_since, drain, recheck = ARGV[5], ARGV[6], ARGV[7]\n"
                  "local score = redis.call('ZSCORE', 'wl:pending', member)\n"
                  "if not score or tonumber(score) > tonumber(now) then return 'SKIP' end\n"
                  "redis.call('ZREM', 'wl:pending', member)\n"
                  "local kind = string.match(member, '^(%a+):')\n"
                  "local st = redis.call('HGET', P .. 'fleet', 'status')\n"
                  "if kind == 'fleet' then\n"
                  "  local beating = redis.call('ZCOUNT', P .. 'gateways', fresh_since, '+inf')\n"
                  "  if st == 'CREATING' then\n"
                  "    if beating > 0 then\n"
                  "      redis.call('HSET', P .. 'fleet', 'status', 'ACTIVE', 'modified', now)\n"
                  "      bump('fleet', 'active', F)\n"
                  "    else\n"
                  "      redis.call('ZADD', 'wl:pending', recheck, member)\n"
                  "    end\n"
                  "  elseif st == 'DELETING' then\n"
                  "    local since = tonumber(redis.call('HGET', P .. 'fleet', 'modified')) or 0\n"
                  "    if beating == 0 or tonumber(now) >= since + tonumber(drain) then\n"
                  "      redis.call('HSET', P .. 'fleet', 'status', 'DELETED', 'modified', now)\n"
                  "      redis.call('ZADD', 'wl:pending', later, 'purge:' .. F)\n"
                  "      bump('fleet', 'deleted', F)\n"
                  "    else\n"
                  "      redis.call('ZADD', 'wl:pending', recheck, member)\n"
                  "    end\n"
                  "  end\n"
                  "elseif kind == 'purge' then\n"
                  "  if st == 'DELETED' then\n"
                  "    local acct = redis.call('HGET', P .. 'fleet', 'account') or ''\n"
                  "    sweep({[P .. 'version'] = true})\n"
                  "    redis.call('ZREM', 'wl:fleets', F)\n"
                  "    redis.call('ZREM', 'wl:account:' .. acct .. ':fleets', F)\n"
                  "    bump('fleet', 'purge', F)\n"
                  "  end\n"
                  "elseif kind == 'domain' then\n"
                  "  local d = string.sub(member, #('domain:' .. F .. ':') + 1)\n"
                  "  if redis.call('HGET', P .. 'domain:' .. d, 'status') == 'ASSOCIATING' then\n"
                  "    redis.call('HSET', P .. 'domain:' .. d, 'status', 'ACTIVE')\n"
                  "    bump('domain', 'active', d)\n"
                  "  end\n"
                  "end\n"
                  "return 'OK'\n";

/* The fleet name inside a pending member ("kind:F[:...]") into out; 0, or -1 if malformed. */
static int member_fleet(const char *m, char *out, size_t outlen)
{
    const char *a = strchr(m, ':');
    if (a == NULL)
        return -1;
    a++;
    size_t n = strcspn(a, ":");
    if (n == 0 || n >= outlen)
        return -1;
    memcpy(out, a, n);
    out[n] = '\0';
    return 0;
}

int ctl_reconcile(struct ctl_ctx *ctx)
{
    char now[24], later[24], fresh_since[24], drain[24], recheck[24];
    ctl_itoa(now, ctx->now_ms);
    ctl_itoa(later, ctx->now_ms + ctx->cfg->fleet_delete_delay_ms);
    ctl_itoa(fresh_since, ctx->now_ms - ctx->cfg->gateway_ttl_ms);
    ctl_itoa(drain, ctx->cfg->fleet_drain_ms);
    ctl_itoa(recheck, ctx->now_ms + RECHECK_MS);
    redisReply *due =
        ctl_store_cmd(ctx, "ZRANGEBYSCORE", "wl:pending", "-inf", now, "LIMIT", "0", BATCH, NULL);
    if (due == NULL)
        return -1;
    int rc = 0;
    for (size_t i = 0; due->type == REDIS_REPLY_ARRAY && i < due->elements; i++) {
        const char *m = due->element[i]->str;
        char fleet[CTL_FLEET_NAME_MAX + 1], key[128];
        if (m == NULL)
            continue;
        if (member_fleet(m, fleet, sizeof fleet) < 0) {
            redisReply *r = ctl_store_cmd(ctx, "ZREM", "wl:pending", m, NULL);
            if (r != NULL)
                freeReplyObject(r);
            continue;
        }
        const char *keys[1] = {ctl_key(key, sizeof key, fleet, "fleet")};
        const char *args[7] = {fleet, m, now, later, fresh_since, drain, recheck};
        redisReply *r = ctl_store_eval(ctx, reconcile_lua, 1, keys, 7, args);
        if (r == NULL) {
            rc = -1;
            break;
        }
        freeReplyObject(r);
    }
    freeReplyObject(due);
    return rc;
}
