/* acm_cert.c - X.509 parsing and facts for the certificate store (OpenSSL). */
#include "acm_cert.h"

#include <ctype.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int ctl_cert_chain_parse(const char *pem, size_t len, STACK_OF(X509) * *out)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    STACK_OF(X509) *sk = sk_X509_new_null();
    int n = -1;
    if (b == NULL || sk == NULL)
        goto out;
    ERR_clear_error();
    for (;;) {
        X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        if (x == NULL) {
            unsigned long e = ERR_peek_last_error();
            /* the normal end: no further "-----BEGIN" line */
            if (sk_X509_num(sk) > 0 && ERR_GET_LIB(e) == ERR_LIB_PEM &&
                ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
                n = sk_X509_num(sk);
            ERR_clear_error();
            break;
        }
        if (!sk_X509_push(sk, x)) {
            X509_free(x);
            break;
        }
    }
    if (n > 0 && out != NULL) {
        *out = sk;
        sk = NULL;
    }
out:
    sk_X509_pop_free(sk, X509_free);
    BIO_free(b);
    return n;
}

X509 *ctl_cert_parse(const char *pem, size_t len)
{
    STACK_OF(X509) *sk = NULL;
    X509 *x = NULL;
    if (ctl_cert_chain_parse(pem, len, &sk) == 1)
        x = sk_X509_shift(sk);
    sk_X509_pop_free(sk, X509_free);
    return x;
}

static int time_ms(const ASN1_TIME *t, long long *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return -1;
    *out = (long long)timegm(&tm) * 1000;
    return 0;
}

static char *name_string(const X509_NAME *n)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *s;
    long len;
    if (b == NULL)
        return NULL;
    X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253);
    len = BIO_get_mem_data(b, &data);
    s = strndup(data ? data : "", (size_t)(len > 0 ? len : 0));
    BIO_free(b);
    return s;
}

static char *pem_string(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *s = NULL;
    long len;
    if (b == NULL)
        return NULL;
    if (PEM_write_bio_X509(b, x) == 1) {
        len = BIO_get_mem_data(b, &data);
        s = strndup(data, (size_t)len);
    }
    BIO_free(b);
    return s;
}

static void key_algorithm(X509 *x, char *out, size_t outlen)
{
    EVP_PKEY *pk = X509_get0_pubkey(x);
    char group[64];
    size_t glen = 0;
    snprintf(out, outlen, "UNKNOWN");
    if (pk == NULL)
        return;
    switch (EVP_PKEY_get_base_id(pk)) {
    case EVP_PKEY_RSA:
        snprintf(out, outlen, "RSA_%d", EVP_PKEY_get_bits(pk));
        break;
    case EVP_PKEY_EC:
        if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                           &glen) == 1)
            snprintf(out, outlen, "EC_%.24s", group); /* names are short */
        break;
    default:
        break;
    }
}

static void serial_string(X509 *x, char *out, size_t outlen)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    size_t o = 0;
    out[0] = '\0';
    if (hex != NULL) {
        size_t n = strlen(hex);
        int odd = (int)(n % 2);
        for (size_t i = 0; i < n && o + 4 < outlen; i++) {
            if (i == 0 && odd)
                out[o++] = '0';
            out[o++] = (char)tolower((unsigned char)hex[i]);
            if ((i + (size_t)odd) % 2 == 1 && i + 1 < n)
                out[o++] = ':';
        }
        out[o] = '\0';
    }
    OPENSSL_free(hex);
    BN_free(bn);
}

static void signature_algorithm(X509 *x, char *out, size_t outlen)
{
    int md = NID_undef, pk = NID_undef;
    snprintf(out, outlen, "UNKNOWN");
    if (OBJ_find_sigid_algs(X509_get_signature_nid(x), &md, &pk) != 1)
        return;
    const char *pks = pk == NID_rsaEncryption          ? "RSA"
                      : pk == NID_X9_62_id_ecPublicKey ? "ECDSA"
                      : OBJ_nid2sn(pk) != NULL         ? OBJ_nid2sn(pk)
                                                       : "UNKNOWN";
    const char *mds = md != NID_undef && OBJ_nid2sn(md) != NULL ? OBJ_nid2sn(md) : "";
    snprintf(out, outlen, "%s%s%s", mds, mds[0] ? "WITH" : "", pks);
    for (char *p = out; *p; p++)
        *p = (char)toupper((unsigned char)*p);
}

int ctl_cert_info_get(X509 *x, struct ctl_cert_info *info)
{
    memset(info, 0, sizeof *info);
    info->sans = json_array();
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == GEN_DNS) {
            const ASN1_STRING *s = g->d.dNSName;
            json_array_append_new(info->sans, json_stringn((const char *)ASN1_STRING_get0_data(s),
                                                           (size_t)ASN1_STRING_length(s)));
        }
    }
    GENERAL_NAMES_free(gens);
    const X509_NAME *subj = X509_get_subject_name(x);
    int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
    if (idx >= 0) {
        const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
        unsigned char *utf8 = NULL;
        int n = ASN1_STRING_to_UTF8(&utf8, cn);
        if (n >= 0)
            info->domain = strndup((const char *)utf8, (size_t)n);
        OPENSSL_free(utf8);
    }
    if (info->domain == NULL && json_array_size(info->sans) > 0)
        info->domain = strdup(json_string_value(json_array_get(info->sans, 0)));
    if (info->domain == NULL)
        info->domain = strdup("");
    info->pem = pem_string(x);
    info->subject = name_string(subj);
    info->issuer = name_string(X509_get_issuer_name(x));
    key_algorithm(x, info->key_algorithm, sizeof info->key_algorithm);
    serial_string(x, info->serial, sizeof info->serial);
    signature_algorithm(x, info->signature_algorithm, sizeof info->signature_algorithm);
    if (info->pem == NULL || info->domain == NULL || info->subject == NULL ||
        info->issuer == NULL || time_ms(X509_get0_notBefore(x), &info->not_before_ms) < 0 ||
        time_ms(X509_get0_notAfter(x), &info->not_after_ms) < 0) {
        ctl_cert_info_dispose(info);
        return -1;
    }
    return 0;
}

void ctl_cert_info_dispose(struct ctl_cert_info *info)
{
    free(info->pem);
    free(info->domain);
    free(info->subject);
    free(info->issuer);
    json_decref(info->sans);
    memset(info, 0, sizeof *info);
}

int ctl_cert_covers(const char *pem, const char *host)
{
    X509 *x = ctl_cert_parse(pem, strlen(pem));
    int ok = 0;
    if (x != NULL)
        ok =
            X509_check_host(x, host, strlen(host), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
    X509_free(x);
    return ok;
}

int ctl_acm_arn_parse(struct ctl_ctx *ctx, const char *arn, const char *member,
                      const char *invalid_type, const char *notfound_type, char uuid[37])
{
    static const char prefix[] = "arn:aws:acm:";
    const char *p, *c1, *c2;
    if (arn == NULL || strncmp(arn, prefix, sizeof prefix - 1) != 0)
        goto bad;
    p = arn + sizeof prefix - 1;
    c1 = strchr(p, ':');
    if (c1 == NULL)
        goto bad;
    c2 = strchr(c1 + 1, ':');
    if (c2 == NULL || strncmp(c2, ":certificate/", 13) != 0)
        goto bad;
    const char *id = c2 + 13;
    if (strlen(id) != 36)
        goto bad;
    for (int i = 0; i < 36; i++) {
        char ch = id[i];
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? ch != '-' : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
            goto bad;
    }
    if ((size_t)(c1 - p) != strlen(ctx->cfg->region) ||
        strncmp(p, ctx->cfg->region, (size_t)(c1 - p)) != 0 ||
        (size_t)(c2 - c1 - 1) != strlen(ctx->account_id) ||
        strncmp(c1 + 1, ctx->account_id, (size_t)(c2 - c1 - 1)) != 0)
        return ctl_error(ctx, notfound_type, "certificate %s not found", arn);
    memcpy(uuid, id, 37);
    return 0;
bad:
    return ctl_error(ctx, invalid_type,
                     "%s must be an ACM certificate ARN "
                     "(arn:aws:acm:<region>:<account-id>:certificate/<uuid>)",
                     member);
}

void ctl_acm_arn(const struct ctl_ctx *ctx, char *out, size_t outlen, const char *uuid)
{
    snprintf(out, outlen, "arn:aws:acm:%s:%s:certificate/%s", ctx->cfg->region, ctx->account_id,
             uuid);
}
