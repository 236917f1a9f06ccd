/* ops_fleet.c - CreateFleet, DeleteFleet, DescribeFleetMetadata, UpdateFleetMetadata, ListFleets.
 *
 * A fleet is the hash wl:{F}:fleet plus its entries in wl:fleets and wl:account:<id>:fleets.
 * CreateFleet writes it CREATING in one script (so concurrent creates of one name: exactly one
 * wins) and schedules `fleet:F` in wl:pending; the reconciler makes it ACTIVE once one of the
 * fleet's gateways beats (wl:{F}:gateways). DeleteFleet, in one script, releases the fleet's
 * certificates and company code, deletes every other key of the fleet (domains, CAs,
 * authorization providers, devices, users, sessions, tags; not the gateways' heartbeats) and
 * marks it DELETING; the reconciler makes it DELETED once its gateways have left, and later
 * purges it. */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paging.h"
#include "store.h"

#define CODE_LEN 10
#define CODE_ALPHABET "abcdefghijklmnopqrstuvwxyz0123456789"
#define MAX_TAGS 50

static const char create_lua[] =
    "local arn, acct, display, code, now, opt, due = ARGV[2], ARGV[3], ARGV[4], ARGV[5], "
    "ARGV[6], ARGV[7], ARGV[8]\n"
    "local st = redis.call('HGET', P .. 'fleet', 'status')\n"
    "if st and st ~= 'DELETED' then\n"
    "  return fail('ResourceAlreadyExistsException', 'fleet ' .. F .. ' already exists')\n"
    "end\n"
    "if redis.call('EXISTS', 'wl:companycode:' .. code) == 1 then return 'CODE' end\n"
    "local bad = wrongtype({[P .. 'fleet'] = 'hash', [P .. 'tags'] = 'hash', ['wl:fleets'] = "
    "'zset', ['wl:account:' .. acct .. ':fleets'] = 'zset', ['wl:pending'] = 'zset', "
    "[P .. 'version'] = 'string'})\n"
    "if bad then return bad end\n"
    "if st then\n"
    "  local old = redis.call('HGET', P .. 'fleet', 'account') or ''\n"
    "  redis.call('DEL', P .. 'fleet', P .. 'tags')\n"
    "  redis.call('ZREM', 'wl:account:' .. old .. ':fleets', F)\n"
    "  redis.call('ZREM', 'wl:pending', 'purge:' .. F)\n"
    "end\n"
    "redis.call('HSET', P .. 'fleet', 'name', F, 'arn', arn, 'account', acct, 'company_code', "
    "code, 'status', 'CREATING', 'created', now, 'modified', now, "
    "'optimize_for_end_user_location', opt)\n"
    "if display ~= '' then redis.call('HSET', P .. 'fleet', 'display_name', display) end\n"
    "for i = 9, #ARGV - 1, 2 do redis.call('HSET', P .. 'tags', ARGV[i], ARGV[i + 1]) end\n"
    "redis.call('ZADD', 'wl:fleets', 0, F)\n"
    "redis.call('ZADD', 'wl:account:' .. acct .. ':fleets', 0, F)\n"
    "redis.call('SET', 'wl:companycode:' .. code, F)\n"
    "redis.call('ZADD', 'wl:pending', due, 'fleet:' .. F)\n"
    "bump('fleet', 'create', F)\n"
    "return 'OK'\n";

static const char delete_lua[] = CTL_LUA_SWEEP
    "local now, due = ARGV[2], ARGV[3]\n"
    "local st = redis.call('HGET', P .. 'fleet', 'status')\n"
    "if st == 'DELETING' or st == 'DELETED' then\n"
    "  return fail('InvalidRequestException', 'fleet ' .. F .. ' is already ' .. st)\n"
    "end\n"
    "if not st then return fail('ResourceNotFoundException', 'fleet ' .. F .. ' not found') end\n"
    "release_domains()\n"
    "local code = redis.call('HGET', P .. 'fleet', 'company_code')\n"
    "if code and redis.call('GET', 'wl:companycode:' .. code) == F then\n"
    "  redis.call('DEL', 'wl:companycode:' .. code)\n"
    "end\n"
    "sweep({[P .. 'fleet'] = true, [P .. 'version'] = true, [P .. 'gateways'] = true})\n"
    "redis.call('HDEL', P .. 'fleet', 'company_code')\n"
    "redis.call('HSET', P .. 'fleet', 'status', 'DELETING', 'modified', now)\n"
    "redis.call('ZADD', 'wl:pending', due, 'fleet:' .. F)\n"
    "bump('fleet', 'delete', F)\n"
    "return 'OK'\n";

static const char update_lua[] =
    "if not live() then return fail('InvalidRequestException', 'fleet ' .. F .. "
    "' is not CREATING or ACTIVE') end\n"
    "local now, display, opt = ARGV[2], ARGV[3], ARGV[4]\n"
    "if display == '' then redis.call('HDEL', P .. 'fleet', 'display_name')\n"
    "else redis.call('HSET', P .. 'fleet', 'display_name', string.sub(display, 2)) end\n"
    "if opt ~= '' then redis.call('HSET', P .. 'fleet', 'optimize_for_end_user_location', opt) "
    "end\n"
    "redis.call('HSET', P .. 'fleet', 'modified', now)\n"
    "bump('fleet', 'update', F)\n"
    "return 'OK'\n";

/* The fleet's fields as the model's FleetSummary / DescribeFleetMetadataResponse members. */
static json_t *fleet_json(const json_t *h, const json_t *tags, int with_arn)
{
    json_t *o = json_object();
    const char *s;
    if (with_arn && (s = ctl_hstr(h, "arn")) != NULL)
        json_object_set_new(o, "FleetArn", json_string(s));
    json_object_set_new(o, "CreatedTime", ctl_json_time(ctl_hint(h, "created")));
    json_object_set_new(o, "LastUpdatedTime", ctl_json_time(ctl_hint(h, "modified")));
    if ((s = ctl_hstr(h, "name")) != NULL)
        json_object_set_new(o, "FleetName", json_string(s));
    if ((s = ctl_hstr(h, "display_name")) != NULL)
        json_object_set_new(o, "DisplayName", json_string(s));
    if (!with_arn && (s = ctl_hstr(h, "optimize_for_end_user_location")) != NULL)
        json_object_set_new(o, "OptimizeForEndUserLocation", json_boolean(strcmp(s, "true") == 0));
    if ((s = ctl_hstr(h, "company_code")) != NULL)
        json_object_set_new(o, "CompanyCode", json_string(s));
    if ((s = ctl_hstr(h, "status")) != NULL)
        json_object_set_new(o, "FleetStatus", json_string(s));
    if (tags != NULL && json_object_size(tags) > 0)
        json_object_set_new(o, "Tags", ctl_tags_json(tags));
    return o;
}

static int fleet_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CTL_FLEET_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

int ctl_op_create_fleet(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    const char *name = ctl_in_str(in, "FleetName");
    const char *display = ctl_in_str(in, "DisplayName");
    json_t *tags = json_object_get(in, "Tags");
    char arn[128], key[128], now[24], due[24], code[CODE_LEN + 1];
    const char *args[8 + 2 * MAX_TAGS];
    int nargs = 0;
    if (name == NULL || !fleet_name_valid(name))
        return ctl_error(ctx, "InvalidRequestException",
                         "FleetName must match ^[a-z0-9](?:[a-z0-9\\-]{0,46}[a-z0-9])?$");
    if (tags != NULL && !json_is_null(tags) &&
        (!json_is_object(tags) || json_object_size(tags) > MAX_TAGS))
        return ctl_error(ctx, "InvalidRequestException", "Tags must hold at most %d tags",
                         MAX_TAGS);
    ctl_fleet_arn(arn, sizeof arn, ctx->account_id, name);
    ctl_key(key, sizeof key, name, "fleet");
    args[nargs++] = name;
    args[nargs++] = arn;
    args[nargs++] = ctx->account_id;
    args[nargs++] = display ? display : "";
    args[nargs++] = code;
    args[nargs++] = ctl_itoa(now, ctx->now_ms);
    args[nargs++] =
        json_is_true(json_object_get(in, "OptimizeForEndUserLocation")) ? "true" : "false";
    args[nargs++] = ctl_itoa(due, ctx->now_ms + ctx->cfg->fleet_create_delay_ms);
    if (json_is_object(tags)) {
        const char *k;
        json_t *v;
        json_object_foreach(tags, k, v)
        {
            if (!json_is_string(v))
                return ctl_error(ctx, "InvalidRequestException", "Tags values must be strings");
            args[nargs++] = k;
            args[nargs++] = json_string_value(v);
        }
    }
    for (int attempt = 0; attempt < 8; attempt++) {
        const char *keys[1] = {key};
        if (ctl_random_string(ctx, code, CODE_LEN, CODE_ALPHABET) < 0)
            return -1;
        redisReply *r = ctl_store_eval(ctx, create_lua, 1, keys, nargs, args);
        if (r == NULL)
            return -1;
        int again = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "CODE") == 0;
        again |= r->type == REDIS_REPLY_STRING && strcmp(r->str, "CODE") == 0;
        freeReplyObject(r);
        if (!again) {
            *out = json_pack("{s:s}", "FleetArn", arn);
            return 0;
        }
    }
    return ctl_error(ctx, "InternalServerErrorException", "could not allocate a company code");
}

int ctl_op_delete_fleet(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    char key[128], now[24], due[24];
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_ANY, &f) < 0)
        return -1;
    const char *keys[1] = {ctl_key(key, sizeof key, f.name, "fleet")};
    const char *args[3] = {f.name, ctl_itoa(now, ctx->now_ms),
                           ctl_itoa(due, ctx->now_ms + ctx->cfg->fleet_delete_delay_ms)};
    redisReply *r = ctl_store_eval(ctx, delete_lua, 1, keys, 3, args);
    ctl_fleet_dispose(&f);
    if (r == NULL)
        return -1;
    freeReplyObject(r);
    *out = NULL;
    return 0;
}

int ctl_op_describe_fleet_metadata(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    char key[128];
    json_t *tags = NULL;
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_ANY, &f) < 0)
        return -1;
    int rc = ctl_store_hgetall(ctx, ctl_key(key, sizeof key, f.name, "tags"), &tags);
    if (rc == 0)
        *out = fleet_json(f.h, tags, 0);
    json_decref(tags);
    ctl_fleet_dispose(&f);
    return rc;
}

int ctl_op_update_fleet_metadata(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    char key[128], now[24], *display = NULL;
    const char *d = ctl_in_str(in, "DisplayName");
    json_t *opt = json_object_get(in, "OptimizeForEndUserLocation");
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_LIVE, &f) < 0)
        return -1;
    /* "" = unset, "=<name>" = set (so that an empty DisplayName is kept apart from none) */
    if (d != NULL && d[0] != '\0' && asprintf(&display, "=%s", d) < 0)
        abort();
    const char *keys[1] = {ctl_key(key, sizeof key, f.name, "fleet")};
    const char *args[4] = {f.name, ctl_itoa(now, ctx->now_ms), display ? display : "",
                           json_is_boolean(opt) ? (json_is_true(opt) ? "true" : "false") : ""};
    redisReply *r = ctl_store_eval(ctx, update_lua, 1, keys, 4, args);
    free(display);
    ctl_fleet_dispose(&f);
    if (r == NULL)
        return -1;
    freeReplyObject(r);
    *out = NULL;
    return 0;
}

int ctl_op_list_fleets(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_page page = {0};
    char zkey[96];
    char **keys = NULL;
    json_t *hashes = NULL, *list = NULL;
    int rc = -1;
    snprintf(zkey, sizeof zkey, "wl:account:%s:fleets", ctx->account_id);
    if (ctl_page_read_input(ctx, zkey, in, "NextToken", "MaxResults", &page) < 0)
        return -1;
    keys = calloc(2 * page.n + 1, sizeof *keys);
    if (keys == NULL)
        abort();
    for (size_t i = 0; i < page.n; i++) {
        if (asprintf(&keys[2 * i], "wl:{%s}:fleet", page.items[i]) < 0 ||
            asprintf(&keys[2 * i + 1], "wl:{%s}:tags", page.items[i]) < 0)
            abort();
    }
    if (ctl_store_hgetall_many(ctx, (const char *const *)keys, 2 * page.n, &hashes) < 0)
        goto out;
    list = json_array();
    for (size_t i = 0; i < page.n; i++) {
        json_t *h = json_array_get(hashes, 2 * i);
        if (ctl_hstr(h, "name") == NULL) /* purged between the two reads */
            continue;
        json_array_append_new(list, fleet_json(h, json_array_get(hashes, 2 * i + 1), 1));
    }
    *out = json_pack("{s:o}", "FleetSummaryList", list);
    if (page.next_token != NULL)
        json_object_set_new(*out, "NextToken", json_string(page.next_token));
    rc = 0;
out:
    for (size_t i = 0; i < 2 * page.n; i++)
        free(keys[i]);
    free(keys);
    json_decref(hashes);
    ctl_page_dispose(&page);
    return rc;
}
