/* jwt.c - identity to the origin: a short-lived JWT (JWS compact, ES256) naming the user, the
 * device, the fleet and the domain (aud), and the JWK of the signing key for the fleet's JWKS.
 *
 * Keys: each worker thread holds its own P-256 key in memory (the private key never leaves the
 * process), made on first use and replaced every GW_JWT_ROTATE_MS. Before a new key signs
 * anything its public JWK is published in wl:{F}:jwks (login.c does the Redis part), where it
 * stays until GW_JWT_ROTATE_MS + GW_JWT_GRACE_MS after its creation, so tokens signed just
 * before a rotation keep verifying. No I/O here; OpenSSL and jansson only. */
#include "identity.h"

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gw_jwt_key {
    EVP_PKEY *pk;
    char kid[40];
    int64_t created_ms;
};

/* base64url without padding of d[0..n) into out (cap >= 4*n/3+4). Returns the length. */
static size_t b64url(const unsigned char *d, size_t n, char *out, size_t cap)
{
    if (cap < 4 * ((n + 2) / 3) + 1)
        return 0;
    int len = EVP_EncodeBlock((unsigned char *)out, d, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (int i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return (size_t)len;
}

struct gw_jwt_key *gw_jwt_key_new(int64_t now_ms)
{
    struct gw_jwt_key *k = calloc(1, sizeof *k);
    unsigned char rnd[12];
    char r64[24];
    if (k == NULL || RAND_bytes(rnd, sizeof rnd) != 1)
        abort();
    k->pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (k->pk == NULL) {
        free(k);
        return NULL;
    }
    b64url(rnd, sizeof rnd, r64, sizeof r64);
    snprintf(k->kid, sizeof k->kid, "%llx-%s", (unsigned long long)now_ms, r64);
    k->created_ms = now_ms;
    return k;
}

void gw_jwt_key_free(struct gw_jwt_key *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pk);
    free(k);
}

const char *gw_jwt_key_id(const struct gw_jwt_key *k)
{
    return k->kid;
}

int64_t gw_jwt_key_created(const struct gw_jwt_key *k)
{
    return k->created_ms;
}

char *gw_jwt_key_jwk(const struct gw_jwt_key *k)
{
    BIGNUM *x = NULL, *y = NULL;
    unsigned char xb[32], yb[32];
    char x64[48], y64[48];
    char *out = NULL;
    if (EVP_PKEY_get_bn_param(k->pk, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
        EVP_PKEY_get_bn_param(k->pk, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1 ||
        BN_bn2binpad(x, xb, 32) != 32 || BN_bn2binpad(y, yb, 32) != 32)
        goto out;
    b64url(xb, 32, x64, sizeof x64);
    b64url(yb, 32, y64, sizeof y64);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x",
                          x64, "y", y64, "kid", k->kid, "use", "sig", "alg", "ES256");
    out = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
out:
    BN_free(x);
    BN_free(y);
    return out;
}

char *gw_jwt_sign(const struct gw_jwt_key *k, const char *issuer, const char *user,
                  const char *device, const char *fleet, const char *aud, int64_t now_ms,
                  int64_t ttl_ms)
{
    char *out = NULL, *hj = NULL, *pj = NULL;
    unsigned char *der = NULL;
    EVP_MD_CTX *md = NULL;
    ECDSA_SIG *sig = NULL;
    unsigned char jti[16];
    char jti64[32];
    if (RAND_bytes(jti, sizeof jti) != 1)
        return NULL;
    b64url(jti, sizeof jti, jti64, sizeof jti64);
    json_t *h = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "typ", "JWT", "kid", k->kid);
    json_t *p = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:I, s:I, s:I, s:s}", "iss", issuer, "sub",
                          user, "aud", aud, "device_id", device, "fleet", fleet, "iat",
                          (json_int_t)(now_ms / 1000), "nbf", (json_int_t)(now_ms / 1000 - 30),
                          "exp", (json_int_t)((now_ms + ttl_ms) / 1000), "jti", jti64);
    if (h == NULL || p == NULL)
        goto out;
    hj = json_dumps(h, JSON_COMPACT);
    pj = json_dumps(p, JSON_COMPACT);
    if (hj == NULL || pj == NULL)
        goto out;
    size_t hl = strlen(hj), pl = strlen(pj);
    size_t cap = 4 * (hl + pl + 64) / 3 + 200;
    out = malloc(cap);
    if (out == NULL)
        abort();
    size_t o = b64url((unsigned char *)hj, hl, out, cap);
    out[o++] = '.';
    o += b64url((unsigned char *)pj, pl, out + o, cap - o);
    size_t derlen = 0;
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->pk) != 1 ||
        EVP_DigestSign(md, NULL, &derlen, (unsigned char *)out, o) != 1)
        goto fail;
    der = malloc(derlen);
    if (der == NULL || EVP_DigestSign(md, der, &derlen, (unsigned char *)out, o) != 1)
        goto fail;
    const unsigned char *dp = der;
    sig = d2i_ECDSA_SIG(NULL, &dp, (long)derlen);
    unsigned char rs[64];
    if (sig == NULL || BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32) != 32)
        goto fail;
    out[o++] = '.';
    b64url(rs, 64, out + o, cap - o);
    goto out;
fail:
    free(out);
    out = NULL;
out:
    ECDSA_SIG_free(sig);
    free(der);
    EVP_MD_CTX_free(md);
    free(hj);
    free(pj);
    json_decref(h);
    json_decref(p);
    return out;
}
