/* tls.c - OpenSSL contexts of the gateway: the base server context (SNI selection, ALPN, session
 * tickets), per-domain certificate contexts, the origin client context, CA bundles.
 *
 * Session ticket keys are derived from the shared key file, the fleet name and the current
 * period (HMAC-SHA256), so every worker of every gateway process of a fleet encrypts tickets
 * with the same key and accepts the previous period's key: no shared state, no lock, rotation
 * every --ticket-rotation-s seconds. */
#include "gw_internal.h"

#include "log.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const unsigned char alpn_server[] = "\x02h2\x08http/1.1";

static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    unsigned char *o = NULL;
    if (SSL_select_next_proto(&o, outlen, alpn_server, sizeof alpn_server - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = o;
    return SSL_TLSEXT_ERR_OK;
}

struct ticket_keys {
    int64_t period;
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char mac[32];
};

static void derive(const struct gw_server *srv, int64_t period, struct ticket_keys *k)
{
    char label[160];
    unsigned char out[32];
    unsigned int olen = 0;
    const char *parts[3] = {"name", "aes", "mac"};
    unsigned char *dst[3] = {k->name, k->aes, k->mac};
    size_t dlen[3] = {16, 32, 32};
    for (int i = 0; i < 3; i++) {
        int n = snprintf(label, sizeof label, "wl-ticket|%s|%s|%lld", srv->opt->fleet, parts[i],
                         (long long)period);
        HMAC(EVP_sha256(), srv->mk.key, sizeof srv->mk.key, (unsigned char *)label, (size_t)n, out,
             &olen);
        memcpy(dst[i], out, dlen[i]);
    }
    k->period = period;
}

/* Thread-local cache of the current and previous period's keys. */
static _Thread_local struct ticket_keys tk_cur, tk_prev;

static void keys_for_now(const struct gw_server *srv)
{
    int64_t rot = srv->opt->ticket_rotation_s > 0 ? srv->opt->ticket_rotation_s : 3600;
    int64_t period = (int64_t)time(NULL) / rot;
    if (tk_cur.period == period && tk_cur.period != 0)
        return;
    derive(srv, period, &tk_cur);
    derive(srv, period - 1, &tk_prev);
}

static int ticket_cb(SSL *ssl, unsigned char key_name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                     EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    struct gw_conn *c = SSL_get_app_data(ssl);
    if (!c)
        return -1;
    const struct gw_server *srv = c->w->srv;
    keys_for_now(srv);
    const struct ticket_keys *k = NULL;
    int ret = 1;
    if (enc) {
        k = &tk_cur;
        memcpy(key_name, k->name, 16);
        if (RAND_bytes(iv, 16) != 1)
            return -1;
    } else if (memcmp(key_name, tk_cur.name, 16) == 0) {
        k = &tk_cur;
    } else if (memcmp(key_name, tk_prev.name, 16) == 0) {
        k = &tk_prev;
        ret = 2; /* valid, but issue a fresh ticket under the current key */
    } else {
        return 0;
    }
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->mac, 32);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    if (EVP_MAC_CTX_set_params(hctx, params) != 1)
        return -1;
    if (enc) {
        if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1)
            return -1;
    } else if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1) {
        return -1;
    }
    return ret;
}

/* SNI: pick the domain's certificate context; unknown names get a fatal alert. */
static int sni_cb(SSL *ssl, int *al, void *arg)
{
    (void)arg;
    struct gw_conn *c = SSL_get_app_data(ssl);
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const struct gw_snapshot *snap = c ? c->w->snap : NULL;
    const struct gw_domain *d = NULL;
    if (name && snap)
        d = gw_snapshot_find(snap, name, strlen(name));
    if (!d || !d->ctx || strlen(name) >= sizeof c->sni) {
        if (c)
            GW_INC(c->w->m.unknown_sni);
        *al = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    SSL_set_SSL_CTX(ssl, d->ctx);
    strcpy(c->sni, d->name);
    c->has_sni = true;
    if (snap->device_store) {
        SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        SSL_set1_verify_cert_store(ssl, snap->device_store);
        SSL_set_client_CA_list(ssl, SSL_dup_CA_list(snap->device_names));
    } else {
        SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    }
    return SSL_TLSEXT_ERR_OK;
}

static void configure_server(struct gw_server *srv, SSL_CTX *ctx)
{
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, srv);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"wlgw", 4);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* idle connections give their record buffers back (as nginx and HAProxy do) */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}

SSL_CTX *gw_tls_base_ctx_new(struct gw_server *srv, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, errlen, "cannot create the TLS context");
        return NULL;
    }
    configure_server(srv, ctx);
    SSL_CTX_set_tlsext_servername_callback(ctx, sni_cb);
    SSL_CTX_set_tlsext_servername_arg(ctx, srv);
    return ctx;
}

SSL_CTX *gw_tls_domain_ctx_new(struct gw_server *srv, const char *cert_pem, const char *chain_pem,
                               const char *key_pem, size_t key_len, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    BIO *b = NULL;
    X509 *x = NULL;
    EVP_PKEY *pk = NULL;
    if (!ctx) {
        snprintf(err, errlen, "cannot create a TLS context");
        goto fail;
    }
    configure_server(srv, ctx);
    b = BIO_new_mem_buf(cert_pem, -1);
    x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    b = NULL;
    if (!x || SSL_CTX_use_certificate(ctx, x) != 1) {
        snprintf(err, errlen, "certificate is not a valid PEM certificate");
        goto fail;
    }
    X509_free(x);
    x = NULL;
    if (chain_pem && *chain_pem) {
        b = BIO_new_mem_buf(chain_pem, -1);
        X509 *cx;
        while ((cx = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
            if (SSL_CTX_add0_chain_cert(ctx, cx) != 1) {
                X509_free(cx);
                break;
            }
        }
        BIO_free(b);
        b = NULL;
        ERR_clear_error();
    }
    b = BIO_new_mem_buf(key_pem, (int)key_len);
    pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    b = NULL;
    if (!pk || SSL_CTX_use_PrivateKey(ctx, pk) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "private key is invalid or does not match the certificate");
        goto fail;
    }
    EVP_PKEY_free(pk);
    ERR_clear_error();
    return ctx;
fail:
    ERR_clear_error();
    EVP_PKEY_free(pk);
    X509_free(x);
    SSL_CTX_free(ctx);
    return NULL;
}

static int add_pem_to_store(X509_STORE *st, STACK_OF(X509_NAME) * names, const char *pem,
                            bool *has_crl)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    STACK_OF(X509_INFO) *infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
    BIO_free(b);
    int ncerts = 0;
    if (!infos) {
        ERR_clear_error();
        return 0;
    }
    for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
        X509_INFO *inf = sk_X509_INFO_value(infos, i);
        if (inf->x509) {
            X509_STORE_add_cert(st, inf->x509);
            if (names) {
                X509_NAME *n = X509_NAME_dup(X509_get_subject_name(inf->x509));
                if (n)
                    sk_X509_NAME_push(names, n);
            }
            ncerts++;
        }
        if (inf->crl) {
            X509_STORE_add_crl(st, inf->crl);
            if (has_crl)
                *has_crl = true;
        }
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    ERR_clear_error();
    return ncerts;
}

int gw_tls_load_ca_pem(const char *pem, X509_STORE **store, STACK_OF(X509_NAME) * *names)
{
    X509_STORE *st = X509_STORE_new();
    STACK_OF(X509_NAME) *nm = sk_X509_NAME_new_null();
    bool has_crl = false;
    if (!st || !nm || add_pem_to_store(st, nm, pem, &has_crl) <= 0) {
        X509_STORE_free(st);
        sk_X509_NAME_pop_free(nm, X509_NAME_free);
        return -1;
    }
    if (has_crl)
        X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    *store = st;
    *names = nm;
    return 0;
}

SSL_CTX *gw_tls_origin_ctx_new(const char *const *extra_pems, size_t n)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    X509_STORE *st = SSL_CTX_get_cert_store(ctx);
    /* the hashed system directory is read lazily, per issuer; the bundle file would be parsed
     * in full on every website-CA change (hundreds of ms) */
    const char *dir = getenv(X509_get_default_cert_dir_env());
    if (!X509_STORE_load_path(st, dir ? dir : X509_get_default_cert_dir()))
        X509_STORE_set_default_paths(st);
    for (size_t i = 0; i < n; i++)
        add_pem_to_store(st, NULL, extra_pems[i], NULL);
    SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x08http/1.1", 9);
    ERR_clear_error();
    return ctx;
}
