/* heartbeat.c - registration of this gateway process in wl:{F}:gateways and its reaction to the
 * fleet's lifecycle (heartbeat.h). */
#include "heartbeat.h"

#include "log.h"

#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void gw_heartbeat_init(struct gw_heartbeat *hb, const char *fleet)
{
    char host[64] = "";
    unsigned char rnd[4] = {0};
    memset(hb, 0, sizeof *hb);
    snprintf(hb->fleet, sizeof hb->fleet, "%s", fleet);
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        snprintf(host, sizeof host, "localhost");
    if (RAND_bytes(rnd, sizeof rnd) != 1) /* uniqueness only; pid + time still tell apart */
        memset(rnd, 0, sizeof rnd);
    snprintf(hb->id, sizeof hb->id, "%s/%ld/%02x%02x%02x%02x", host, (long)getpid(), rnd[0], rnd[1],
             rnd[2], rnd[3]);
}

int gw_heartbeat_beat(struct gw_heartbeat *hb, redisContext *c, int64_t now_ms)
{
    if (c == NULL)
        return -1;
    /* pipelined: one round trip */
    redisAppendCommand(c, "ZADD wl:{%s}:gateways %lld %s", hb->fleet, (long long)now_ms, hb->id);
    redisAppendCommand(c, "ZREMRANGEBYSCORE wl:{%s}:gateways -inf (%lld", hb->fleet,
                       (long long)(now_ms - GW_HEARTBEAT_PRUNE_MS));
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        void *rv = NULL;
        if (redisGetReply(c, &rv) != REDIS_OK)
            return -1;
        redisReply *r = rv;
        if (r->type == REDIS_REPLY_ERROR) {
            WL_WARN(NULL, "heartbeat: redis answered %s", r->str);
            rc = -1;
        }
        freeReplyObject(r);
    }
    return rc;
}

void gw_heartbeat_leave(struct gw_heartbeat *hb, redisContext *c)
{
    if (c == NULL)
        return;
    redisReply *r = redisCommand(c, "ZREM wl:{%s}:gateways %s", hb->fleet, hb->id);
    if (r != NULL)
        WL_INFO(NULL, "fleet %s: instance %s unregistered", hb->fleet, hb->id);
    freeReplyObject(r);
}

const char *gw_heartbeat_start_refusal(const char *fleet, const char *status, char *err,
                                       size_t errlen)
{
    if (status == NULL) {
        snprintf(err, errlen,
                 "fleet %s does not exist (create it with CreateFleet before starting its "
                 "gateway)",
                 fleet);
        return err;
    }
    if (strcmp(status, "CREATING") == 0 || strcmp(status, "ACTIVE") == 0)
        return NULL;
    snprintf(err, errlen, "fleet %s is %s: refusing to serve it", fleet, status);
    return err;
}

bool gw_heartbeat_fleet_gone(struct gw_heartbeat *hb, const char *status)
{
    if (status == NULL || (strcmp(status, "DELETING") != 0 && strcmp(status, "DELETED") != 0))
        return false;
    if (!hb->leaving) {
        hb->leaving = true;
        WL_INFO(NULL, "fleet %s is %s: draining and exiting", hb->fleet, status);
        /* the main thread owns the drain (SIGTERM handler): same path as an operator's stop */
        kill(getpid(), SIGTERM);
    }
    return true;
}
