/* acm_ops.c - the ACM subset: ImportCertificate, DescribeCertificate, ListCertificates,
 * GetCertificate, DeleteCertificate (JSON 1.1; blobs arrive base64 in the JSON).
 *
 * A certificate is wl:acm:cert:<uuid> plus its member in wl:acm:certs (every certificate, for
 * gateways) and wl:acm:account:<id>:certs (the account's, for ListCertificates). The private
 * key is checked against the certificate, re-encoded as PKCS#8 PEM and envelope-sealed with
 * aad = the certificate ARN; it is never returned. wl:acm:cert:<uuid>:users names the domains
 * using it: DeleteCertificate is refused while it is not empty, and a re-import publishes a
 * change to every fleet that uses it. */
#include "ops.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acm_cert.h"
#include "envelope.h"
#include "paging.h"
#include "store.h"

#define BLOB_MAX (64 * 1024)
#define ACM_MAX_TAGS 50

static const char import_lua[] =
    "local id, acct, reimport = ARGV[2], ARGV[3], ARGV[4]\n"
    "local k = 'wl:acm:cert:' .. id\n"
    "if reimport == '1' then\n"
    "  if redis.call('HGET', k, 'account') ~= acct then\n"
    "    return fail('ResourceNotFoundException', 'certificate ' .. id .. ' not found')\n"
    "  end\n"
    "elseif redis.call('EXISTS', k) == 1 then return 'AGAIN' end\n"
    "for i = 5, #ARGV - 1, 2 do\n"
    "  if ARGV[i + 1] == '' then redis.call('HDEL', k, ARGV[i])\n"
    "  else redis.call('HSET', k, ARGV[i], string.sub(ARGV[i + 1], 2)) end\n"
    "end\n"
    "redis.call('ZADD', 'wl:acm:certs', 0, id)\n"
    "redis.call('ZADD', 'wl:acm:account:' .. acct .. ':certs', 0, id)\n"
    "for _, u in ipairs(redis.call('SMEMBERS', k .. ':users')) do\n"
    "  local f, d = string.match(u, '^([^/]+)/(.+)$')\n"
    "  if f then\n"
    "    local v = redis.call('INCR', 'wl:{' .. f .. '}:version')\n"
    "    redis.call('PUBLISH', 'wl:{' .. f .. '}:events', cjson.encode({version = v, kind = "
    "'domain', op = 'certificate', id = d}))\n"
    "  end\n"
    "end\n"
    "return 'OK'\n";

static const char delete_lua[] =
    "local id, acct = ARGV[2], ARGV[3]\n"
    "local k = 'wl:acm:cert:' .. id\n"
    "if redis.call('HGET', k, 'account') ~= acct then\n"
    "  return fail('ResourceNotFoundException', 'certificate ' .. id .. ' not found')\n"
    "end\n"
    "local users = redis.call('SMEMBERS', k .. ':users')\n"
    "if #users > 0 then\n"
    "  return fail('ResourceInUseException', 'certificate ' .. id .. ' is in use by ' .. "
    "table.concat(users, ', '))\n"
    "end\n"
    "redis.call('DEL', k, k .. ':users')\n"
    "redis.call('ZREM', 'wl:acm:certs', id)\n"
    "redis.call('ZREM', 'wl:acm:account:' .. acct .. ':certs', id)\n"
    "return 'OK'\n";

/* A blob member: the JSON string holds base64 (the wire form), or PEM text when the front has
 * decoded it already. Returns a new NUL-terminated buffer, NULL when absent, or sets *bad. */
static char *blob_arg(const json_t *in, const char *member, int *bad)
{
    const char *s = json_string_value(json_object_get(in, member));
    size_t n;
    *bad = 0;
    if (s == NULL)
        return NULL;
    n = strlen(s);
    if (n > BLOB_MAX * 2) {
        *bad = 1;
        return NULL;
    }
    while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
        s++;
    if (strncmp(s, "-----BEGIN", 10) == 0)
        return strdup(s);
    EVP_ENCODE_CTX *ec = EVP_ENCODE_CTX_new();
    unsigned char *out = malloc(n + 4);
    int len = 0, fin = 0;
    if (ec == NULL || out == NULL)
        abort();
    EVP_DecodeInit(ec);
    if (EVP_DecodeUpdate(ec, out, &len, (const unsigned char *)s, (int)strlen(s)) < 0 ||
        EVP_DecodeFinal(ec, out + len, &fin) != 1) {
        EVP_ENCODE_CTX_free(ec);
        free(out);
        *bad = 1;
        return NULL;
    }
    EVP_ENCODE_CTX_free(ec);
    len += fin;
    if (memchr(out, '\0', (size_t)len) != NULL) {
        free(out);
        *bad = 1;
        return NULL;
    }
    out[len] = '\0';
    return (char *)out;
}

static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0; /* encrypted keys are refused, never prompted for */
}

static int key_algorithm_supported(const char *alg)
{
    static const char *const ok[] = {"RSA_1024",      "RSA_2048",     "RSA_3072",    "RSA_4096",
                                     "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(alg, ok[i]) == 0)
            return 1;
    return 0;
}

/* The Tags member ([{Key, Value}]) as a JSON object dump (new string), or NULL after
 * ctl_error(). */
static char *tags_arg(struct ctl_ctx *ctx, const json_t *in)
{
    json_t *tags = json_object_get(in, "Tags"), *t, *o = json_object();
    size_t i;
    char *s;
    if (tags != NULL && !json_is_null(tags)) {
        if (!json_is_array(tags) || json_array_size(tags) > ACM_MAX_TAGS) {
            json_decref(o);
            ctl_error(ctx, "InvalidParameterException", "Tags must be a list of at most %d tags",
                      ACM_MAX_TAGS);
            return NULL;
        }
        json_array_foreach(tags, i, t)
        {
            const char *k = json_string_value(json_object_get(t, "Key"));
            const char *v = json_string_value(json_object_get(t, "Value"));
            if (k == NULL || k[0] == '\0') {
                json_decref(o);
                ctl_error(ctx, "InvalidTagException", "Tags[%zu].Key is required", i);
                return NULL;
            }
            json_object_set_new(o, k, json_string(v ? v : ""));
        }
    }
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (s == NULL)
        abort();
    return s;
}

static char *key_pem(EVP_PKEY *pk)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL, *s = NULL;
    if (b == NULL)
        abort();
    if (PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) == 1) {
        long len = BIO_get_mem_data(b, &data);
        s = strndup(data, (size_t)len);
    }
    BIO_free(b);
    return s;
}

int ctl_op_acm_import(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    int bad_c, bad_k, bad_ch;
    char *cert = blob_arg(in, "Certificate", &bad_c);
    char *key = blob_arg(in, "PrivateKey", &bad_k);
    char *chain = blob_arg(in, "CertificateChain", &bad_ch);
    const char *arn_in = ctl_in_str(in, "CertificateArn");
    X509 *x = NULL;
    EVP_PKEY *pk = NULL;
    BIO *kb = NULL;
    struct ctl_cert_info info = {0};
    char uuid[37], arn[160], nb[24], na[24], now[24], *sans = NULL, *kpem = NULL;
    char *sealed = NULL, *tags = NULL;
    char *vals[20] = {0};
    int rc = -1, have_info = 0;
    if (cert == NULL || bad_c) {
        ctl_error(ctx, "ValidationException", "Certificate must be a base64 PEM certificate");
        goto out;
    }
    if (key == NULL || bad_k) {
        ctl_error(ctx, "ValidationException", "PrivateKey must be a base64 PEM private key");
        goto out;
    }
    if (bad_ch) {
        ctl_error(ctx, "ValidationException", "CertificateChain must be base64 PEM certificates");
        goto out;
    }
    x = ctl_cert_parse(cert, strlen(cert));
    if (x == NULL) {
        ctl_error(ctx, "ValidationException",
                  "Certificate could not be parsed: it must be exactly one PEM X.509 certificate");
        goto out;
    }
    kb = BIO_new_mem_buf(key, (int)strlen(key));
    pk = kb ? PEM_read_bio_PrivateKey(kb, NULL, no_password, NULL) : NULL;
    ERR_clear_error();
    if (pk == NULL) {
        ctl_error(ctx, "ValidationException",
                  "PrivateKey could not be parsed: it must be an unencrypted PEM private key");
        goto out;
    }
    if (X509_check_private_key(x, pk) != 1) {
        ERR_clear_error();
        ctl_error(ctx, "ValidationException",
                  "PrivateKey does not match the public key of Certificate");
        goto out;
    }
    if (chain != NULL && ctl_cert_chain_parse(chain, strlen(chain), NULL) < 1) {
        ctl_error(ctx, "ValidationException",
                  "CertificateChain could not be parsed: it must be PEM X.509 certificates");
        goto out;
    }
    if (ctl_cert_info_get(x, &info) < 0) {
        ctl_error(ctx, "ValidationException", "Certificate has unreadable fields");
        goto out;
    }
    have_info = 1;
    if (!key_algorithm_supported(info.key_algorithm)) {
        ctl_error(ctx, "ValidationException",
                  "Certificate key algorithm %s is not supported (RSA 1024-4096 or EC P-256, "
                  "P-384, P-521)",
                  info.key_algorithm);
        goto out;
    }
    if (arn_in != NULL) {
        if (json_object_get(in, "Tags") != NULL && !json_is_null(json_object_get(in, "Tags"))) {
            ctl_error(ctx, "InvalidParameterException",
                      "Tags cannot be applied when a certificate is re-imported");
            goto out;
        }
        if (ctl_acm_arn_parse(ctx, arn_in, "CertificateArn", "InvalidArnException",
                              "ResourceNotFoundException", uuid) < 0)
            goto out;
    } else {
        if ((tags = tags_arg(ctx, in)) == NULL)
            goto out;
        if (ctl_uuid(ctx, uuid) < 0)
            goto out;
    }
    ctl_acm_arn(ctx, arn, sizeof arn, uuid);
    kpem = key_pem(pk);
    sans = json_dumps(info.sans, JSON_COMPACT);
    if (kpem == NULL || sans == NULL)
        abort();
    sealed = wl_envelope_seal(&ctx->cfg->master_key, kpem, strlen(kpem), arn);
    OPENSSL_cleanse(kpem, strlen(kpem));
    if (sealed == NULL) {
        ctl_error(ctx, "InternalServerErrorException", "cannot seal the private key");
        goto out;
    }
    const char *fields[] = {"arn",         "account",
                            "certificate", "chain",
                            "key",         "domain",
                            "sans",        "not_before",
                            "not_after",   "key_algorithm",
                            "serial",      "subject",
                            "issuer",      "signature_algorithm",
                            "imported",    "created",
                            "tags"};
    const char *values[] = {arn,
                            ctx->account_id,
                            info.pem,
                            chain ? chain : NULL,
                            sealed,
                            info.domain,
                            sans,
                            ctl_itoa(nb, info.not_before_ms),
                            ctl_itoa(na, info.not_after_ms),
                            info.key_algorithm,
                            info.serial,
                            info.subject,
                            info.issuer,
                            info.signature_algorithm,
                            ctl_itoa(now, ctx->now_ms),
                            arn_in ? NULL : now,
                            tags};
    size_t nf = sizeof fields / sizeof fields[0];
    const char *args[4 + 2 * (sizeof fields / sizeof fields[0])];
    size_t na_ = 0;
    args[na_++] = "";
    args[na_++] = uuid;
    args[na_++] = ctx->account_id;
    args[na_++] = arn_in ? "1" : "0";
    for (size_t i = 0; i < nf; i++) {
        /* on re-import, created and tags are kept (NULL = untouched) */
        if (values[i] == NULL &&
            (strcmp(fields[i], "created") == 0 || strcmp(fields[i], "tags") == 0))
            continue;
        if (values[i] != NULL && asprintf(&vals[i], "=%s", values[i]) < 0)
            abort();
        args[na_++] = fields[i];
        args[na_++] = vals[i] ? vals[i] : "";
    }
    const char *keys[1] = {"wl:acm:certs"};
    redisReply *r = ctl_store_eval(ctx, import_lua, 1, keys, (int)na_, args);
    if (r == NULL)
        goto out;
    if (strcmp(r->str ? r->str : "", "OK") == 0) {
        *out = json_pack("{s:s}", "CertificateArn", arn);
        rc = 0;
    } else { /* a random 122-bit uuid already in use: refuse rather than loop */
        ctl_error(ctx, "InternalServerErrorException", "could not allocate a certificate id");
    }
    freeReplyObject(r);
out:
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        free(vals[i]);
    if (have_info)
        ctl_cert_info_dispose(&info);
    free(tags);
    free(sealed);
    free(sans);
    free(kpem);
    BIO_free(kb);
    EVP_PKEY_free(pk);
    X509_free(x);
    if (key != NULL)
        OPENSSL_cleanse(key, strlen(key));
    free(key);
    free(cert);
    free(chain);
    return rc;
}

/* Loads the certificate named by input member CertificateArn into *h (new) and its uuid. */
static int cert_load(struct ctl_ctx *ctx, const json_t *in, char uuid[37], json_t **h)
{
    char key[64];
    const char *arn = ctl_in_str(in, "CertificateArn");
    if (ctl_acm_arn_parse(ctx, arn, "CertificateArn", "InvalidArnException",
                          "ResourceNotFoundException", uuid) < 0)
        return -1;
    snprintf(key, sizeof key, "wl:acm:cert:%s", uuid);
    if (ctl_store_hgetall(ctx, key, h) < 0)
        return -1;
    const char *acct = ctl_hstr(*h, "account");
    if (acct == NULL || strcmp(acct, ctx->account_id) != 0) {
        json_decref(*h);
        *h = NULL;
        return ctl_error(ctx, "ResourceNotFoundException", "certificate %s not found", arn);
    }
    return 0;
}

static const char *cert_status(const struct ctl_ctx *ctx, const json_t *h)
{
    return ctx->now_ms > ctl_hint(h, "not_after") ? "EXPIRED" : "ISSUED";
}

static json_t *sans_json(const json_t *h)
{
    const char *s = ctl_hstr(h, "sans");
    json_t *v = s ? json_loads(s, 0, NULL) : NULL;
    if (!json_is_array(v)) {
        json_decref(v);
        v = json_array();
    }
    if (json_array_size(v) == 0 && ctl_hstr(h, "domain") != NULL && ctl_hstr(h, "domain")[0])
        json_array_append_new(v, json_string(ctl_hstr(h, "domain")));
    return v;
}

int ctl_op_acm_describe(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    static const char *const strs[][2] = {
        {"arn", "CertificateArn"},
        {"domain", "DomainName"},
        {"serial", "Serial"},
        {"subject", "Subject"},
        {"issuer", "Issuer"},
        {"key_algorithm", "KeyAlgorithm"},
        {"signature_algorithm", "SignatureAlgorithm"},
    };
    static const char *const times[][2] = {
        {"created", "CreatedAt"},
        {"imported", "ImportedAt"},
        {"not_before", "NotBefore"},
        {"not_after", "NotAfter"},
    };
    char uuid[37], key[96], farn[128];
    json_t *h = NULL, *c;
    if (cert_load(ctx, in, uuid, &h) < 0)
        return -1;
    snprintf(key, sizeof key, "wl:acm:cert:%s:users", uuid);
    redisReply *r = ctl_store_cmd(ctx, "SMEMBERS", key, NULL);
    if (r == NULL) {
        json_decref(h);
        return -1;
    }
    c = json_object();
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (ctl_hstr(h, strs[i][0]) != NULL)
            json_object_set_new(c, strs[i][1], json_string(ctl_hstr(h, strs[i][0])));
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++)
        if (ctl_hstr(h, times[i][0]) != NULL)
            json_object_set_new(c, times[i][1], ctl_json_time(ctl_hint(h, times[i][0])));
    json_object_set_new(c, "SubjectAlternativeNames", sans_json(h));
    json_object_set_new(c, "Status", json_string(cert_status(ctx, h)));
    json_object_set_new(c, "Type", json_string("IMPORTED"));
    json_object_set_new(c, "RenewalEligibility", json_string("INELIGIBLE"));
    json_t *inuse = json_array();
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const char *u = r->element[i]->str;
        const char *slash = u ? strchr(u, '/') : NULL;
        if (slash == NULL)
            continue;
        snprintf(farn, sizeof farn, "arn:aws:worklink::%s:fleet/%.*s", ctx->account_id,
                 (int)(slash - u), u);
        int dup = 0;
        for (size_t j = 0; j < json_array_size(inuse); j++)
            dup |= strcmp(json_string_value(json_array_get(inuse, j)), farn) == 0;
        if (!dup)
            json_array_append_new(inuse, json_string(farn));
    }
    freeReplyObject(r);
    json_object_set_new(c, "InUseBy", inuse);
    *out = json_pack("{s:o}", "Certificate", c);
    json_decref(h);
    return 0;
}

static int status_wanted(const json_t *statuses, const char *st)
{
    size_t i;
    json_t *e;
    if (!json_is_array(statuses) || json_array_size(statuses) == 0)
        return 1;
    json_array_foreach(statuses, i, e)
    {
        if (json_is_string(e) && strcmp(json_string_value(e), st) == 0)
            return 1;
    }
    return 0;
}

static json_t *cert_summary(const struct ctl_ctx *ctx, const json_t *h, int in_use)
{
    json_t *o = json_object();
    const char *s;
    if ((s = ctl_hstr(h, "arn")) != NULL)
        json_object_set_new(o, "CertificateArn", json_string(s));
    if ((s = ctl_hstr(h, "domain")) != NULL)
        json_object_set_new(o, "DomainName", json_string(s));
    json_object_set_new(o, "SubjectAlternativeNameSummaries", sans_json(h));
    json_object_set_new(o, "HasAdditionalSubjectAlternativeNames", json_false());
    json_object_set_new(o, "Status", json_string(cert_status(ctx, h)));
    json_object_set_new(o, "Type", json_string("IMPORTED"));
    if ((s = ctl_hstr(h, "key_algorithm")) != NULL)
        json_object_set_new(o, "KeyAlgorithm", json_string(s));
    json_object_set_new(o, "InUse", json_boolean(in_use));
    json_object_set_new(o, "RenewalEligibility", json_string("INELIGIBLE"));
    json_object_set_new(o, "NotBefore", ctl_json_time(ctl_hint(h, "not_before")));
    json_object_set_new(o, "NotAfter", ctl_json_time(ctl_hint(h, "not_after")));
    json_object_set_new(o, "CreatedAt", ctl_json_time(ctl_hint(h, "created")));
    json_object_set_new(o, "ImportedAt", ctl_json_time(ctl_hint(h, "imported")));
    return o;
}

int ctl_op_acm_list(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    json_t *statuses = json_object_get(in, "CertificateStatuses");
    json_t *key_types = json_object_get(json_object_get(in, "Includes"), "keyTypes");
    json_t *mi = json_object_get(in, "MaxItems");
    const char *token = ctl_in_str(in, "NextToken");
    long long max = json_is_integer(mi) ? json_integer_value(mi) : CTL_PAGE_DEFAULT;
    char zkey[96], *after = NULL;
    json_t *list = json_array();
    int rc = -1, more = 0;
    if (max < 1 || max > CTL_PAGE_MAX) {
        ctl_error(ctx, "InvalidArgsException", "MaxItems must be between 1 and %d", CTL_PAGE_MAX);
        goto out;
    }
    snprintf(zkey, sizeof zkey, "wl:acm:account:%s:certs", ctx->account_id);
    if (token != NULL && ctl_page_token_decode(ctx, zkey, token, &after) < 0) {
        ctl_error(ctx, "InvalidArgsException", "NextToken is invalid for this list");
        goto out;
    }
    while ((long long)json_array_size(list) < max) {
        char **items = NULL, **keys;
        size_t n = 0, consumed = 0;
        json_t *hashes = NULL;
        if (ctl_page_range(ctx, zkey, after, CTL_PAGE_DEFAULT, &items, &n) < 0)
            goto out;
        keys = calloc(2 * n + 1, sizeof *keys);
        if (keys == NULL)
            abort();
        for (size_t i = 0; i < n; i++)
            if (asprintf(&keys[i], "wl:acm:cert:%s", items[i]) < 0)
                abort();
        int lrc = ctl_store_hgetall_many(ctx, (const char *const *)keys, n, &hashes);
        for (size_t i = 0; i < n; i++) {
            free(keys[i]);
            keys[i] = NULL;
        }
        for (size_t i = 0; lrc == 0 && i < n && (long long)json_array_size(list) < max; i++) {
            json_t *h = json_array_get(hashes, i);
            consumed = i + 1;
            if (ctl_hstr(h, "arn") == NULL || !status_wanted(statuses, cert_status(ctx, h)))
                continue;
            if (json_is_array(key_types) && json_array_size(key_types) > 0 &&
                !status_wanted(key_types,
                               ctl_hstr(h, "key_algorithm") ? ctl_hstr(h, "key_algorithm") : ""))
                continue;
            char ukey[96];
            snprintf(ukey, sizeof ukey, "wl:acm:cert:%s:users", items[i]);
            redisReply *r = ctl_store_cmd(ctx, "SCARD", ukey, NULL);
            if (r == NULL) {
                lrc = -1;
                break;
            }
            json_array_append_new(list, cert_summary(ctx, h, r->integer > 0));
            freeReplyObject(r);
        }
        if (lrc == 0 && consumed > 0) {
            free(after);
            after = strdup(items[consumed - 1]);
        }
        more = lrc == 0 && (consumed < n || n == CTL_PAGE_DEFAULT);
        for (size_t i = 0; i < n; i++)
            free(items[i]);
        free(items);
        free(keys);
        json_decref(hashes);
        if (lrc < 0)
            goto out;
        if (n < CTL_PAGE_DEFAULT)
            break;
    }
    *out = json_pack("{s:O}", "CertificateSummaryList", list);
    if (more && after != NULL) {
        char *t = ctl_page_token_encode(ctx, zkey, after);
        if (t == NULL)
            abort();
        json_object_set_new(*out, "NextToken", json_string(t));
        free(t);
    }
    rc = 0;
out:
    free(after);
    json_decref(list);
    return rc;
}

int ctl_op_acm_get(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    char uuid[37];
    json_t *h = NULL;
    if (cert_load(ctx, in, uuid, &h) < 0)
        return -1;
    *out = json_object();
    json_object_set_new(*out, "Certificate", json_string(ctl_hstr(h, "certificate")));
    if (ctl_hstr(h, "chain") != NULL && ctl_hstr(h, "chain")[0] != '\0')
        json_object_set_new(*out, "CertificateChain", json_string(ctl_hstr(h, "chain")));
    json_decref(h);
    return 0;
}

int ctl_op_acm_delete(struct ctl_ctx *ctx, json_t *in, json_t **out)
{
    char uuid[37];
    const char *keys[1] = {"wl:acm:certs"};
    if (ctl_acm_arn_parse(ctx, ctl_in_str(in, "CertificateArn"), "CertificateArn",
                          "InvalidArnException", "ResourceNotFoundException", uuid) < 0)
        return -1;
    const char *args[3] = {"", uuid, ctx->account_id};
    redisReply *r = ctl_store_eval(ctx, delete_lua, 1, keys, 3, args);
    if (r == NULL)
        return -1;
    freeReplyObject(r);
    *out = NULL;
    return 0;
}
