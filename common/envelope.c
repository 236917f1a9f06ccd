/* envelope.c - see envelope.h. AES-256-GCM via OpenSSL EVP; base64 via EVP_Encode. */
#include "envelope.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IV_LEN 12
#define TAG_LEN 16
#define DK_LEN 32
#define HDR_LEN (IV_LEN + DK_LEN + TAG_LEN + IV_LEN + TAG_LEN)
#define PREFIX "wlenv1:"

int wl_master_key_load(const char *path, struct wl_master_key *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read key file %s", path);
        return -1;
    }
    char hex[64];
    size_t n = 0;
    int c, bad = 0;
    while ((c = fgetc(f)) != EOF) {
        if (isspace(c))
            continue;
        if (!isxdigit(c) || n == sizeof hex) {
            bad = 1;
            break;
        }
        hex[n++] = (char)c;
    }
    fclose(f);
    if (bad || n != sizeof hex) {
        snprintf(err, errlen, "key file %s must hold 64 hex digits (openssl rand -hex 32)", path);
        OPENSSL_cleanse(hex, sizeof hex);
        return -1;
    }
    for (int i = 0; i < 32; i++) {
        char b[3] = {hex[2 * i], hex[2 * i + 1], 0};
        out->key[i] = (uint8_t)strtoul(b, NULL, 16);
    }
    OPENSSL_cleanse(hex, sizeof hex);
    return 0;
}

/* AES-256-GCM one-shot. enc=1 seals (writes tag), enc=0 opens (checks tag). Returns 0 or -1. */
static int gcm(int enc, const uint8_t key[32], const uint8_t iv[IV_LEN], const char *aad,
               const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[TAG_LEN])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int ok = 0, outl = 0;
    if (!ctx)
        return -1;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv, enc) != 1)
        goto out;
    if (EVP_CipherUpdate(ctx, NULL, &outl, (const uint8_t *)aad, (int)strlen(aad)) != 1)
        goto out;
    if (len > 0 && EVP_CipherUpdate(ctx, out, &outl, in, (int)len) != 1)
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(ctx, out + len, &outl) != 1)
        goto out;
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
        goto out;
    ok = 1;
out:
    EVP_CIPHER_CTX_free(ctx);
    return ok ? 0 : -1;
}

char *wl_envelope_seal(const struct wl_master_key *mk, const void *plain, size_t len,
                       const char *aad)
{
    if (len > 16 * 1024 * 1024)
        return NULL;
    size_t raw_len = HDR_LEN + len;
    uint8_t *raw = malloc(raw_len + 16);
    char *res = NULL;
    uint8_t dk[DK_LEN];
    if (!raw)
        return NULL;
    uint8_t *iv1 = raw, *wdk = raw + IV_LEN, *tag1 = wdk + DK_LEN, *iv2 = tag1 + TAG_LEN;
    uint8_t *tag2 = iv2 + IV_LEN, *ct = tag2 + TAG_LEN;
    if (RAND_bytes(dk, DK_LEN) != 1 || RAND_bytes(iv1, IV_LEN) != 1 || RAND_bytes(iv2, IV_LEN) != 1)
        goto out;
    if (gcm(1, mk->key, iv1, aad, dk, DK_LEN, wdk, tag1) != 0)
        goto out;
    if (gcm(1, dk, iv2, aad, plain, len, ct, tag2) != 0)
        goto out;
    size_t b64_len = 4 * ((raw_len + 2) / 3);
    res = malloc(strlen(PREFIX) + b64_len + 1);
    if (!res)
        goto out;
    memcpy(res, PREFIX, strlen(PREFIX));
    EVP_EncodeBlock((unsigned char *)res + strlen(PREFIX), raw, (int)raw_len);
out:
    OPENSSL_cleanse(dk, sizeof dk);
    OPENSSL_cleanse(raw, raw_len);
    free(raw);
    return res;
}

uint8_t *wl_envelope_open(const struct wl_master_key *mk, const char *sealed, const char *aad,
                          size_t *len)
{
    size_t plen = strlen(PREFIX);
    if (strncmp(sealed, PREFIX, plen) != 0)
        return NULL;
    const char *b64 = sealed + plen;
    size_t b64_len = strlen(b64);
    if (b64_len == 0 || b64_len % 4 != 0 || b64_len > 32 * 1024 * 1024)
        return NULL;
    size_t max_raw = b64_len / 4 * 3;
    uint8_t *raw = malloc(max_raw + 1);
    uint8_t *plain = NULL;
    uint8_t dk[DK_LEN];
    if (!raw)
        return NULL;
    int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)b64_len);
    if (n < 0)
        goto out;
    size_t raw_len = (size_t)n;
    /* EVP_DecodeBlock counts padding bytes as data: remove them */
    if (b64[b64_len - 1] == '=')
        raw_len--;
    if (b64[b64_len - 2] == '=')
        raw_len--;
    if (raw_len < HDR_LEN)
        goto out;
    uint8_t *iv1 = raw, *wdk = raw + IV_LEN, *tag1 = wdk + DK_LEN, *iv2 = tag1 + TAG_LEN;
    uint8_t *tag2 = iv2 + IV_LEN, *ct = tag2 + TAG_LEN;
    size_t ct_len = raw_len - HDR_LEN;
    if (gcm(0, mk->key, iv1, aad, wdk, DK_LEN, dk, tag1) != 0)
        goto out;
    plain = malloc(ct_len + 16 + 1);
    if (!plain)
        goto out;
    if (gcm(0, dk, iv2, aad, ct, ct_len, plain, tag2) != 0) {
        OPENSSL_cleanse(plain, ct_len + 1);
        free(plain);
        plain = NULL;
        goto out;
    }
    plain[ct_len] = '\0';
    *len = ct_len;
out:
    OPENSSL_cleanse(dk, sizeof dk);
    OPENSSL_cleanse(raw, max_raw);
    free(raw);
    return plain;
}
