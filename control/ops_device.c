/* ops_device.c - ListDevices, DescribeDevice, SignOutUser on the records the gateway writes
 * at sign-in (wl:{F}:device:<id>, wl:{F}:user:<u>:devices, wl:{F}:user:<u>:sessions,
 * wl:{F}:session:<sid>; see docs/redis-schema.md).
 *
 * SignOutUser, in one script, deletes every session of the user (and its cookie jar), marks the
 * user's devices SIGNED_OUT and publishes {kind: user, op: signout, id: <username>}, so that every
 * gateway drops the sessions at once. A user without sessions is not an error. */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>

#include "paging.h"
#include "store.h"

static const char signout_lua[] =
    "local u = ARGV[2]\n"
    "local sk = P .. 'user:' .. u .. ':sessions'\n"
    "for _, sid in ipairs(redis.call('SMEMBERS', sk)) do\n"
    "  redis.call('DEL', P .. 'session:' .. sid, P .. 'jar:' .. sid)\n"
    "end\n"
    "redis.call('DEL', sk)\n"
    "for _, id in ipairs(redis.call('SMEMBERS', P .. 'user:' .. u .. ':devices')) do\n"
    "  if redis.call('EXISTS', P .. 'device:' .. id) == 1 then\n"
    "    redis.call('HSET', P .. 'device:' .. id, 'status', 'SIGNED_OUT')\n"
    "  end\n"
    "end\n"
    "bump('user', 'signout', u)\n"
    "return 'OK'\n";

static json_t *device_summary(const json_t *h)
{
    json_t *o = json_object();
    const char *s;
    if ((s = ctl_hstr(h, "id")) != NULL)
        json_object_set_new(o, "DeviceId", json_string(s));
    if ((s = ctl_hstr(h, "status")) != NULL)
        json_object_set_new(o, "DeviceStatus", json_string(s));
    return o;
}

int ctl_op_list_devices(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    return ctl_page_list_fleet(ctx, in, "devices", "device:", "Devices", device_summary, out);
}

int ctl_op_describe_device(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    static const char *const strs[][2] = {
        {"status", "Status"},
        {"model", "Model"},
        {"manufacturer", "Manufacturer"},
        {"os", "OperatingSystem"},
        {"os_version", "OperatingSystemVersion"},
        {"patch_level", "PatchLevel"},
        {"username", "Username"},
    };
    struct ctl_fleet f;
    const char *id = ctl_in_str(in, "DeviceId");
    char *key = NULL;
    json_t *h = NULL;
    int rc = -1;
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_ANY, &f) < 0)
        return -1;
    if (asprintf(&key, "wl:{%s}:device:%s", f.name, id ? id : "") < 0)
        abort();
    if (ctl_store_hgetall(ctx, key, &h) < 0)
        goto out;
    if (json_object_size(h) == 0) {
        ctl_error(ctx, "ResourceNotFoundException", "device %s not found in fleet %s", id ? id : "",
                  f.name);
        goto out;
    }
    *out = json_object();
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (ctl_hstr(h, strs[i][0]) != NULL)
            json_object_set_new(*out, strs[i][1], json_string(ctl_hstr(h, strs[i][0])));
    if (ctl_hstr(h, "first_accessed") != NULL)
        json_object_set_new(*out, "FirstAccessedTime",
                            ctl_json_time(ctl_hint(h, "first_accessed")));
    if (ctl_hstr(h, "last_accessed") != NULL)
        json_object_set_new(*out, "LastAccessedTime", ctl_json_time(ctl_hint(h, "last_accessed")));
    rc = 0;
out:
    free(key);
    json_decref(h);
    ctl_fleet_dispose(&f);
    return rc;
}

int ctl_op_sign_out_user(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    char key[128];
    const char *user = ctl_in_str(in, "Username");
    if (user == NULL || user[0] == '\0')
        return ctl_error(ctx, "InvalidRequestException", "Username is required");
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_ANY, &f) < 0)
        return -1;
    const char *keys[1] = {ctl_key(key, sizeof key, f.name, "fleet")};
    const char *args[2] = {f.name, user};
    redisReply *r = ctl_store_eval(ctx, signout_lua, 1, keys, 2, args);
    ctl_fleet_dispose(&f);
    if (r == NULL)
        return -1;
    freeReplyObject(r);
    *out = NULL;
    return 0;
}
