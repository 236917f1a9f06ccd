/* ops_tags.c - TagResource, UntagResource, ListTagsForResource on fleet ARNs.
 *
 * Tags live in wl:{F}:tags (tag key -> value); a fleet holds at most 50. The model of these
 * operations only has InvalidRequestException, so an unknown fleet is reported with it. */
#include "ops.h"

#include <stdlib.h>
#include <string.h>

#include "store.h"

#define MAX_TAGS 50

static const char tag_lua[] =
    "local now = ARGV[2]\n"
    "if not live() then return fail('InvalidRequestException', 'fleet ' .. F .. "
    "' is not CREATING or ACTIVE') end\n"
    "local n = redis.call('HLEN', P .. 'tags')\n"
    "for i = 3, #ARGV - 1, 2 do\n"
    "  if redis.call('HEXISTS', P .. 'tags', ARGV[i]) == 0 then n = n + 1 end\n"
    "end\n"
    "if n > 50 then return fail('InvalidRequestException', 'Tags: a fleet can have at most 50 "
    "tags (this request would make ' .. n .. ')') end\n"
    "for i = 3, #ARGV - 1, 2 do redis.call('HSET', P .. 'tags', ARGV[i], ARGV[i + 1]) end\n"
    "redis.call('HSET', P .. 'fleet', 'modified', now)\n"
    "bump('fleet', 'tag', F)\n"
    "return 'OK'\n";

static const char untag_lua[] =
    "local now = ARGV[2]\n"
    "if not live() then return fail('InvalidRequestException', 'fleet ' .. F .. "
    "' is not CREATING or ACTIVE') end\n"
    "for i = 3, #ARGV do redis.call('HDEL', P .. 'tags', ARGV[i]) end\n"
    "redis.call('HSET', P .. 'fleet', 'modified', now)\n"
    "bump('fleet', 'untag', F)\n"
    "return 'OK'\n";

static int run(struct ctl_ctx *ctx, const struct ctl_fleet *f, const char *script, int n,
               const char **pairs)
{
    char key[128], now[24];
    const char **args = calloc((size_t)n + 2, sizeof *args);
    if (args == NULL)
        abort();
    args[0] = f->name;
    args[1] = ctl_itoa(now, ctx->now_ms);
    memcpy(args + 2, pairs, (size_t)n * sizeof *args);
    const char *keys[1] = {ctl_key(key, sizeof key, f->name, "fleet")};
    redisReply *r = ctl_store_eval(ctx, script, 1, keys, n + 2, args);
    free(args);
    if (r == NULL)
        return -1;
    freeReplyObject(r);
    return 0;
}

int ctl_op_tag_resource(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    json_t *tags = json_object_get(in, "Tags"), *v;
    const char *pairs[2 * MAX_TAGS], *k;
    int n = 0;
    if (!json_is_object(tags) || json_object_size(tags) < 1 || json_object_size(tags) > MAX_TAGS)
        return ctl_error(ctx, "InvalidRequestException", "Tags must hold 1 to %d tags", MAX_TAGS);
    json_object_foreach(tags, k, v)
    {
        if (!json_is_string(v))
            return ctl_error(ctx, "InvalidRequestException", "Tags values must be strings");
        pairs[n++] = k;
        pairs[n++] = json_string_value(v);
    }
    if (ctl_fleet_load(ctx, ctl_in_str(in, "ResourceArn"), "ResourceArn", "InvalidRequestException",
                       CTL_FLEET_LIVE, &f) < 0)
        return -1;
    int rc = run(ctx, &f, tag_lua, n, pairs);
    ctl_fleet_dispose(&f);
    *out = NULL;
    return rc;
}

int ctl_op_untag_resource(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    json_t *keys = json_object_get(in, "TagKeys"), *e;
    const char *names[MAX_TAGS];
    size_t i;
    int n = 0;
    if (keys == NULL)
        keys = json_object_get(in, "tagKeys");
    if (!json_is_array(keys) || json_array_size(keys) < 1 || json_array_size(keys) > MAX_TAGS)
        return ctl_error(ctx, "InvalidRequestException", "TagKeys must hold 1 to %d keys",
                         MAX_TAGS);
    json_array_foreach(keys, i, e)
    {
        if (!json_is_string(e))
            return ctl_error(ctx, "InvalidRequestException", "TagKeys must be strings");
        names[n++] = json_string_value(e);
    }
    if (ctl_fleet_load(ctx, ctl_in_str(in, "ResourceArn"), "ResourceArn", "InvalidRequestException",
                       CTL_FLEET_LIVE, &f) < 0)
        return -1;
    int rc = run(ctx, &f, untag_lua, n, names);
    ctl_fleet_dispose(&f);
    *out = NULL;
    return rc;
}

int ctl_op_list_tags(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    char key[128];
    json_t *h = NULL;
    if (ctl_fleet_load(ctx, ctl_in_str(in, "ResourceArn"), "ResourceArn", "InvalidRequestException",
                       CTL_FLEET_ANY, &f) < 0)
        return -1;
    int rc = ctl_store_hgetall(ctx, ctl_key(key, sizeof key, f.name, "tags"), &h);
    if (rc == 0)
        *out = json_pack("{s:o}", "Tags", h);
    ctl_fleet_dispose(&f);
    return rc;
}
