/* ops_authp.c - website authorization providers: AssociateWebsiteAuthorizationProvider,
 * ListWebsiteAuthorizationProviders, DisassociateWebsiteAuthorizationProvider.
 *
 * A provider is wl:{F}:authp:<id> plus its member in wl:{F}:authps. At most one provider per
 * domain (stored lowercase); a second one is ResourceAlreadyExistsException. */
#include "ops.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "paging.h"
#include "store.h"

#define ID_LEN 20
#define ID_ALPHABET "abcdefghijklmnopqrstuvwxyz0123456789"

static const char associate_lua[] =
    "local id, typ, d, now = ARGV[2], ARGV[3], ARGV[4], ARGV[5]\n"
    "if not live() then return fail('InvalidRequestException', 'fleet ' .. F .. "
    "' is not CREATING or ACTIVE') end\n"
    "if d ~= '' then\n"
    "  for _, other in ipairs(redis.call('ZRANGE', P .. 'authps', 0, -1)) do\n"
    "    if redis.call('HGET', P .. 'authp:' .. other, 'domain_name') == d then\n"
    "      return fail('ResourceAlreadyExistsException', 'domain ' .. d .. ' already has "
    "authorization provider ' .. other)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if redis.call('EXISTS', P .. 'authp:' .. id) == 1 then return 'AGAIN' end\n"
    "redis.call('HSET', P .. 'authp:' .. id, 'id', id, 'type', typ, 'created', now)\n"
    "if d ~= '' then redis.call('HSET', P .. 'authp:' .. id, 'domain_name', d) end\n"
    "redis.call('ZADD', P .. 'authps', 0, id)\n"
    "bump('authp', 'associate', id)\n"
    "return 'OK'\n";

static const char disassociate_lua[] =
    "local id = ARGV[2]\n"
    "if not live() then return fail('InvalidRequestException', 'fleet ' .. F .. "
    "' is not CREATING or ACTIVE') end\n"
    "if redis.call('EXISTS', P .. 'authp:' .. id) == 0 then\n"
    "  return fail('ResourceNotFoundException', 'authorization provider ' .. id .. "
    "' not found in fleet ' .. F)\n"
    "end\n"
    "redis.call('DEL', P .. 'authp:' .. id)\n"
    "redis.call('ZREM', P .. 'authps', id)\n"
    "bump('authp', 'disassociate', id)\n"
    "return 'OK'\n";

int ctl_op_associate_authp(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    const char *type = ctl_in_str(in, "AuthorizationProviderType");
    const char *dn = ctl_in_str(in, "DomainName");
    char id[ID_LEN + 1], key[128], now[24], *d = NULL;
    int rc = -1;
    if (type == NULL || strcmp(type, "SAML") != 0)
        return ctl_error(ctx, "InvalidRequestException", "AuthorizationProviderType must be SAML");
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_LIVE, &f) < 0)
        return -1;
    d = strdup(dn ? dn : "");
    if (d == NULL)
        abort();
    for (char *p = d; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    const char *keys[1] = {ctl_key(key, sizeof key, f.name, "fleet")};
    for (int attempt = 0; attempt < 4 && rc < 0; attempt++) {
        if (ctl_random_string(ctx, id, ID_LEN, ID_ALPHABET) < 0)
            break;
        const char *args[5] = {f.name, id, type, d, ctl_itoa(now, ctx->now_ms)};
        redisReply *r = ctl_store_eval(ctx, associate_lua, 1, keys, 5, args);
        if (r == NULL)
            break;
        if (strcmp(r->str ? r->str : "", "OK") == 0) {
            *out = json_pack("{s:s}", "AuthorizationProviderId", id);
            rc = 0;
        }
        freeReplyObject(r);
    }
    if (rc < 0 && ctx->err_status == 0)
        ctl_error(ctx, "InternalServerErrorException", "could not allocate a provider id");
    free(d);
    ctl_fleet_dispose(&f);
    return rc;
}

static json_t *authp_summary(const json_t *h)
{
    json_t *o = json_object();
    const char *s;
    if ((s = ctl_hstr(h, "id")) != NULL)
        json_object_set_new(o, "AuthorizationProviderId", json_string(s));
    json_object_set_new(o, "AuthorizationProviderType",
                        json_string(ctl_hstr(h, "type") ? ctl_hstr(h, "type") : "SAML"));
    if ((s = ctl_hstr(h, "domain_name")) != NULL)
        json_object_set_new(o, "DomainName", json_string(s));
    json_object_set_new(o, "CreatedTime", ctl_json_time(ctl_hint(h, "created")));
    return o;
}

int ctl_op_list_authps(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    return ctl_page_list_fleet(ctx, in, "authps", "authp:", "WebsiteAuthorizationProviders",
                               authp_summary, out);
}

int ctl_op_disassociate_authp(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    char key[128];
    const char *id = ctl_in_str(in, "AuthorizationProviderId");
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_LIVE, &f) < 0)
        return -1;
    const char *keys[1] = {ctl_key(key, sizeof key, f.name, "fleet")};
    const char *args[2] = {f.name, id ? id : ""};
    redisReply *r = ctl_store_eval(ctx, disassociate_lua, 1, keys, 2, args);
    ctl_fleet_dispose(&f);
    if (r == NULL)
        return -1;
    freeReplyObject(r);
    *out = NULL;
    return 0;
}
