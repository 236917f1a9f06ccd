/* ops_ca.c - website certificate authorities: AssociateWebsiteCertificateAuthority,
 * DescribeWebsiteCertificateAuthority, ListWebsiteCertificateAuthorities,
 * DisassociateWebsiteCertificateAuthority.
 *
 * A CA is wl:{F}:ca:<id> plus its member in wl:{F}:cas. The certificate is parsed with OpenSSL
 * before it is stored; the same certificate (by SHA-256 fingerprint) twice in one fleet is
 * refused. Gateways add these CAs to the system roots when they verify origins. */
#include "ops.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acm_cert.h"
#include "paging.h"
#include "store.h"

#define ID_LEN 20
#define ID_ALPHABET "abcdefghijklmnopqrstuvwxyz0123456789"

static const char associate_lua[] =
    "local id, pem, display, fp, now = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]\n"
    "if not live() then return fail('InvalidRequestException', 'fleet ' .. F .. "
    "' is not CREATING or ACTIVE') end\n"
    "for _, other in ipairs(redis.call('ZRANGE', P .. 'cas', 0, -1)) do\n"
    "  if redis.call('HGET', P .. 'ca:' .. other, 'fingerprint') == fp then\n"
    "    return fail('ResourceAlreadyExistsException', 'this certificate is already associated "
    "with fleet ' .. F .. ' as website CA ' .. other)\n"
    "  end\n"
    "end\n"
    "if redis.call('EXISTS', P .. 'ca:' .. id) == 1 then return 'AGAIN' end\n"
    "redis.call('HSET', P .. 'ca:' .. id, 'id', id, 'certificate', pem, 'fingerprint', fp, "
    "'created', now)\n"
    "if display ~= '' then redis.call('HSET', P .. 'ca:' .. id, 'display_name', display) end\n"
    "redis.call('ZADD', P .. 'cas', 0, id)\n"
    "bump('ca', 'associate', id)\n"
    "return 'OK'\n";

static const char disassociate_lua[] =
    "local id = ARGV[2]\n"
    "if not live() then return fail('InvalidRequestException', 'fleet ' .. F .. "
    "' is not CREATING or ACTIVE') end\n"
    "if redis.call('EXISTS', P .. 'ca:' .. id) == 0 then\n"
    "  return fail('ResourceNotFoundException', 'website CA ' .. id .. ' not found in fleet ' .. "
    "F)\n"
    "end\n"
    "redis.call('DEL', P .. 'ca:' .. id)\n"
    "redis.call('ZREM', P .. 'cas', id)\n"
    "bump('ca', 'disassociate', id)\n"
    "return 'OK'\n";

int ctl_op_associate_website_ca(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    const char *pem = ctl_in_str(in, "Certificate");
    const char *display = ctl_in_str(in, "DisplayName");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char fp[2 * EVP_MAX_MD_SIZE + 1], id[ID_LEN + 1], key[128], now[24];
    X509 *x = pem ? ctl_cert_parse(pem, strlen(pem)) : NULL;
    int rc = -1;
    if (x == NULL)
        return ctl_error(ctx, "InvalidRequestException",
                         "Certificate must be one valid PEM X.509 certificate");
    if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1) {
        X509_free(x);
        return ctl_error(ctx, "InternalServerErrorException", "cannot fingerprint Certificate");
    }
    X509_free(x);
    for (unsigned int i = 0; i < mdlen; i++)
        snprintf(fp + 2 * i, 3, "%02x", md[i]);
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_LIVE, &f) < 0)
        return -1;
    const char *keys[1] = {ctl_key(key, sizeof key, f.name, "fleet")};
    for (int attempt = 0; attempt < 4 && rc < 0; attempt++) {
        if (ctl_random_string(ctx, id, ID_LEN, ID_ALPHABET) < 0)
            break;
        const char *args[6] = {
            f.name, id, pem, display ? display : "", fp, ctl_itoa(now, ctx->now_ms)};
        redisReply *r = ctl_store_eval(ctx, associate_lua, 1, keys, 6, args);
        if (r == NULL)
            break;
        if (strcmp(r->str ? r->str : "", "OK") == 0) {
            *out = json_pack("{s:s}", "WebsiteCaId", id);
            rc = 0;
        }
        freeReplyObject(r);
    }
    if (rc < 0 && ctx->err_status == 0)
        ctl_error(ctx, "InternalServerErrorException", "could not allocate a website CA id");
    ctl_fleet_dispose(&f);
    return rc;
}

int ctl_op_describe_website_ca(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    const char *id = ctl_in_str(in, "WebsiteCaId");
    char *key = NULL;
    json_t *h = NULL;
    int rc = -1;
    if (ctl_fleet_load(ctx, ctl_in_str(in, "FleetArn"), "FleetArn", "ResourceNotFoundException",
                       CTL_FLEET_ANY, &f) < 0)
        return -1;
    if (asprintf(&key, "wl:{%s}:ca:%s", f.name, id ? id : "") < 0)
        abort();
    if (ctl_store_hgetall(ctx, key, &h) < 0)
        goto out;
    if (ctl_hstr(h, "certificate") == NULL) {
        ctl_error(ctx, "ResourceNotFoundException", "website CA %s not found in fleet %s",
                  id ? id : "", f.name);
        goto out;
    }
    *out = json_pack("{s:s, s:o}", "Certificate", ctl_hstr(h, "certificate"), "CreatedTime",
                     ctl_json_time(ctl_hint(h, "created")));
    if (ctl_hstr(h, "display_name") != NULL)
        json_object_set_new(*out, "DisplayName", json_string(ctl_hstr(h, "display_name")));
    rc = 0;
out:
    free(key);
    json_decref(h);
    ctl_fleet_dispose(&f);
    return rc;
}

static json_t *ca_summary(const json_t *h)
{
    json_t *o = json_object();
    json_object_set_new(o, "WebsiteCaId", json_string(ctl_hstr(h, "id") ? ctl_hstr(h, "id") : ""));
    json_object_set_new(o, "CreatedTime", ctl_json_time(ctl_hint(h, "created")));
    if (ctl_hstr(h, "display_name") != NULL)
        json_object_set_new(o, "DisplayName", json_string(ctl_hstr(h, "display_name")));
    return o;
}

int ctl_op_list_website_cas(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    return ctl_page_list_fleet(ctx, in, "cas", "ca:", "WebsiteCertificateAuthorities", ca_summary,
                               out);
}

int ctl_op_disassociate_website_ca(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    struct ctl_fleet f;
    char key[128];
    const char *id = ctl_in_str(in, "WebsiteCaId");
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
