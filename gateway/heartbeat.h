/* heartbeat.h - the gateway process's membership in its fleet (issue 9, docs/redis-schema.md).
 *
 * Registration: every GW_HEARTBEAT_MS the config thread writes `ZADD wl:{F}:gateways <now ms>
 * <instance id>` (and prunes members silent for GW_HEARTBEAT_PRUNE_MS); a clean exit removes the
 * member. Control reads the set: a fleet turns ACTIVE once a gateway beats, and DELETED once none
 * beats any more (or after its drain timeout).
 *
 * Lifecycle: a gateway may start for a CREATING or ACTIVE fleet only; when the fleet turns
 * DELETING or DELETED the gateway drains and exits (the same path as SIGTERM).
 *
 * Config thread only (synchronous hiredis with short timeouts, never on a worker loop). */
#ifndef GW_HEARTBEAT_H
#define GW_HEARTBEAT_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_HEARTBEAT_MS 1000
#define GW_HEARTBEAT_PRUNE_MS (3600 * 1000)

struct gw_heartbeat {
    char fleet[64];
    char id[160]; /* instance id: "<hostname>/<pid>/<8 random hex digits>" */
    bool leaving; /* the fleet is going away: the drain was started */
};

/* Fills hb for fleet (borrowed, copied) with a new instance id. */
void gw_heartbeat_init(struct gw_heartbeat *hb, const char *fleet);

/* One beat at now_ms. Returns 0, or -1 when Redis failed (c->err says why, or an error reply). */
int gw_heartbeat_beat(struct gw_heartbeat *hb, redisContext *c, int64_t now_ms);

/* Clean exit: removes this instance from the set (best effort). */
void gw_heartbeat_leave(struct gw_heartbeat *hb, redisContext *c);

/* Whether a gateway may start for a fleet whose wl:{F}:fleet `status` is `status` (NULL: the
 * fleet hash does not exist). Returns NULL when it may, else writes a one-line reason into err
 * and returns err. */
const char *gw_heartbeat_start_refusal(const char *fleet, const char *status, char *err,
                                       size_t errlen);

/* After a reload saw `status`: when the fleet is DELETING or DELETED, starts the drain once (the
 * process exits when it is done) and returns true. */
bool gw_heartbeat_fleet_gone(struct gw_heartbeat *hb, const char *status);

#endif
