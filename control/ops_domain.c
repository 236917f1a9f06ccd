/* ops_domain.c - AssociateDomain, DescribeDomain, ListDomains, UpdateDomainMetadata,
 * RevokeDomainAccess, RestoreDomainAccess, DisassociateDomain.
 *
 * A domain is wl:{F}:domain:<name> plus its member in wl:{F}:domains; it names the ACM
 * certificate the gateway serves for it, and the certificate's users set records the use so that
 * DeleteCertificate is refused meanwhile. Domain names are stored lowercase. States:
 * ASSOCIATING -(reconciler)-> ACTIVE <-revoke/restore-> INACTIVE; disassociation removes it. */
#include "ops.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acm_cert.h"
#include "paging.h"
#include "store.h"

#define DOMAIN_MAX 253

static const char associate_lua[] =
    "local d, display, acm, id, now, due = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]\n"
    "if not live() then return fail('InvalidRequestException', 'fleet ' .. F .. "
    "' is not CREATING or ACTIVE') end\n"
    "if redis.call('EXISTS', P .. 'domain:' .. d) == 1 then\n"
    "  return fail('ResourceAlreadyExistsException', 'domain ' .. d .. ' is already associated "
    "with fleet ' .. F)\n"
    "end\n"
    "if redis.call('EXISTS', 'wl:acm:cert:' .. id) == 0 then\n"
    "  return fail('ResourceNotFoundException', 'certificate ' .. acm .. ' not found')\n"
    "end\n"
    "local bad = wrongtype({[P .. 'domains'] = 'zset', ['wl:acm:cert:' .. id .. ':users'] = "
    "'set', ['wl:pending'] = 'zset', [P .. 'version'] = 'string'})\n"
    "if bad then return bad end\n"
    "redis.call('HSET', P .. 'domain:' .. d, 'domain_name', d, 'status', 'ASSOCIATING', "
    "'acm_arn', acm, 'created', now)\n"
    "if display ~= '' then redis.call('HSET', P .. 'domain:' .. d, 'display_name', display) end\n"
    "redis.call('ZADD', P .. 'domains', 0, d)\n"
    "redis.call('SADD', 'wl:acm:cert:' .. id .. ':users', F .. '/' .. d)\n"
    "redis.call('ZADD', 'wl:pending', due, 'domain:' .. F .. ':' .. d)\n"
    "bump('domain', 'associate', d)\n"
    "return 'OK'\n";

/* ARGV: F, domain, op, required status ('' = any), new status ('' = delete), display */
static const char change_lua[] =
    "local d, op, from, to, display = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]\n"
    "local k = P .. 'domain:' .. d\n"
    "local st = redis.call('HGET', k, 'status')\n"
    "if not st then return fail('ResourceNotFoundException', 'domain ' .. d .. "
    "' is not associated with fleet ' .. F) end\n"
    "if from ~= '' and st ~= from then\n"
    "  return fail('InvalidRequestException', 'domain ' .. d .. ' is ' .. st .. ', not ' .. from)\n"
    "end\n"
    "if op == 'update' then\n"
    "  if display == '' then redis.call('HDEL', k, 'display_name')\n"
    "  else redis.call('HSET', k, 'display_name', string.sub(display, 2)) end\n"
    "elseif to ~= '' then\n"
    "  redis.call('HSET', k, 'status', to)\n"
    "else\n"
    "  local acm = redis.call('HGET', k, 'acm_arn')\n"
    "  local id = acm and string.match(acm, '/([^/]+)$')\n"
    "  if id then redis.call('SREM', 'wl:acm:cert:' .. id .. ':users', F .. '/' .. d) end\n"
    "  redis.call('DEL', k)\n"
    "  redis.call('ZREM', P .. 'domains', d)\n"
    "  redis.call('ZREM', 'wl:pending', 'domain:' .. F .. ':' .. d)\n"
    "end\n"
    "bump('domain', op, d)\n"
    "return 'OK'\n";

/* Copies the DomainName member, lowercased, into out. */
static int domain_arg(struct ctl_ctx *ctx, const json_t *in, char out[DOMAIN_MAX + 1])
{
    const char *d = ctl_in_str(in, "DomainName");
    size_t n = d ? strlen(d) : 0;
    if (n == 0 || n > DOMAIN_MAX)
        return ctl_error(ctx, "InvalidRequestException",
                         "DomainName must be a DNS name of 1 to 253 characters");
    for (size_t i = 0; i <= n; i++)
        out[i] = (char)tolower((unsigned char)d[i]);
    return 0;
}

int ctl_op_associate_domain(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    char d[DOMAIN_MAX + 1], uuid[37], ckey[96], fkey[128], now[24], due[24];
    const char *acm = ctl_in_str(in, "AcmCertificateArn");
    const char *display = ctl_in_str(in, "DisplayName");
    json_t *cert = NULL;
    int rc = -1;
    if (domain_arg(ctx, in, d) < 0)
        return -1;
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_LIVE, &f) < 0)
        return -1;
    if (ctl_acm_arn_parse(ctx, acm, "AcmCertificateArn", "InvalidRequestException",
                          "ResourceNotFoundException", uuid) < 0)
        goto out;
    snprintf(ckey, sizeof ckey, "wl:acm:cert:%s", uuid);
    if (ctl_store_hgetall(ctx, ckey, &cert) < 0)
        goto out;
    const char *acct = ctl_hstr(cert, "account");
    const char *pem = ctl_hstr(cert, "certificate");
    if (acct == NULL || pem == NULL || strcmp(acct, ctx->account_id) != 0) {
        ctl_error(ctx, "ResourceNotFoundException", "AcmCertificateArn: certificate %s not found",
                  acm);
        goto out;
    }
    if (ctx->now_ms < ctl_hint(cert, "not_before") || ctx->now_ms > ctl_hint(cert, "not_after")) {
        ctl_error(ctx, "InvalidRequestException",
                  "AcmCertificateArn: certificate %s is not currently valid (%s)", acm,
                  ctx->now_ms > ctl_hint(cert, "not_after") ? "expired" : "not yet valid");
        goto out;
    }
    if (!ctl_cert_covers(pem, d)) {
        ctl_error(ctx, "InvalidRequestException",
                  "AcmCertificateArn: certificate %s does not cover domain %s", acm, d);
        goto out;
    }
    const char *keys[1] = {ctl_key(fkey, sizeof fkey, f.name, "fleet")};
    const char *args[7] = {f.name,
                           d,
                           display ? display : "",
                           acm,
                           uuid,
                           ctl_itoa(now, ctx->now_ms),
                           ctl_itoa(due, ctx->now_ms + ctx->cfg->domain_associate_delay_ms)};
    redisReply *r = ctl_store_eval(ctx, associate_lua, 1, keys, 7, args);
    if (r == NULL)
        goto out;
    freeReplyObject(r);
    *out = NULL;
    rc = 0;
out:
    json_decref(cert);
    ctl_fleet_dispose(&f);
    return rc;
}

static int change(struct ctl_ctx *ctx, json_t *in, const char *op, const char *from, const char *to)
{
    struct ctl_fleet f;
    char d[DOMAIN_MAX + 1], fkey[128], *display = NULL;
    if (domain_arg(ctx, in, d) < 0)
        return -1;
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_LIVE, &f) < 0)
        return -1;
    const char *dn = ctl_in_str(in, "DisplayName");
    if (dn != NULL && dn[0] != '\0' && asprintf(&display, "=%s", dn) < 0)
        abort();
    const char *keys[1] = {ctl_key(fkey, sizeof fkey, f.name, "fleet")};
    const char *args[6] = {f.name, d, op, from, to, display ? display : ""};
    redisReply *r = ctl_store_eval(ctx, change_lua, 1, keys, 6, args);
    free(display);
    ctl_fleet_dispose(&f);
    if (r == NULL)
        return -1;
    freeReplyObject(r);
    return 0;
}

int ctl_op_update_domain_metadata(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    *out = NULL;
    return change(ctx, in, "update", "", "");
}

int ctl_op_revoke_domain_access(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    *out = NULL;
    return change(ctx, in, "revoke", "ACTIVE", "INACTIVE");
}

int ctl_op_restore_domain_access(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    *out = NULL;
    return change(ctx, in, "restore", "INACTIVE", "ACTIVE");
}

int ctl_op_disassociate_domain(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    *out = NULL;
    return change(ctx, in, "disassociate", "", "");
}

static json_t *domain_json(const json_t *h, int full)
{
    json_t *o = json_object();
    const char *s;
    if ((s = ctl_hstr(h, "domain_name")) != NULL)
        json_object_set_new(o, "DomainName", json_string(s));
    if ((s = ctl_hstr(h, "display_name")) != NULL)
        json_object_set_new(o, "DisplayName", json_string(s));
    json_object_set_new(o, "CreatedTime", ctl_json_time(ctl_hint(h, "created")));
    if ((s = ctl_hstr(h, "status")) != NULL)
        json_object_set_new(o, "DomainStatus", json_string(s));
    if (full && (s = ctl_hstr(h, "acm_arn")) != NULL)
        json_object_set_new(o, "AcmCertificateArn", json_string(s));
    return o;
}

int ctl_op_describe_domain(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    char d[DOMAIN_MAX + 1], key[400];
    json_t *h = NULL;
    int rc = -1;
    if (domain_arg(ctx, in, d) < 0)
        return -1;
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_ANY, &f) < 0)
        return -1;
    snprintf(key, sizeof key, "wl:{%s}:domain:%s", f.name, d);
    if (ctl_store_hgetall(ctx, key, &h) < 0)
        goto out;
    if (ctl_hstr(h, "status") == NULL) {
        ctl_error(ctx, "ResourceNotFoundException", "domain %s is not associated with fleet %s", d,
                  f.name);
        goto out;
    }
    *out = domain_json(h, 1);
    rc = 0;
out:
    json_decref(h);
    ctl_fleet_dispose(&f);
    return rc;
}

static json_t *domain_summary(const json_t *h)
{
    return domain_json(h, 0);
}

int ctl_op_list_domains(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    return ctl_page_list_fleet(ctx, in, "domains", "domain:", "Domains", domain_summary, out);
}
