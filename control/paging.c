/* paging.c - opaque, list-bound NextTokens and ZRANGEBYLEX pages (see paging.h). */
#include "paging.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define CHECK_LEN 12
#define LAST_MAX 1024

static void check_value(const struct ctl_ctx *ctx, const char *scope, const char *last,
                        size_t last_len, unsigned char out[CHECK_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t slen = strlen(scope);
    size_t n = 5 + slen + 1 + last_len;
    unsigned char *msg = malloc(n);
    if (msg == NULL)
        abort(); /* out of memory is fatal */
    memcpy(msg, "page\0", 5);
    memcpy(msg + 5, scope, slen);
    msg[5 + slen] = '\0';
    memcpy(msg + 6 + slen, last, last_len);
    HMAC(EVP_sha256(), ctx->cfg->master_key.key, sizeof ctx->cfg->master_key.key, msg, n, md,
         &mdlen);
    memcpy(out, md, CHECK_LEN);
    free(msg);
}

char *ctl_page_token_encode(const struct ctl_ctx *ctx, const char *scope, const char *last)
{
    size_t llen = strlen(last);
    size_t rawlen = CHECK_LEN + llen;
    unsigned char *raw = malloc(rawlen);
    /* "P" + base64url: a token never starts with '-', which command-line parsers (the AWS
     * CLI's among them) would take for an option */
    char *tok = malloc(4 * ((rawlen + 2) / 3) + 2);
    char *b64 = tok ? tok + 1 : NULL;
    if (raw == NULL || tok == NULL) {
        free(raw);
        free(tok);
        return NULL;
    }
    tok[0] = 'P';
    check_value(ctx, scope, last, llen, raw);
    memcpy(raw + CHECK_LEN, last, llen);
    int n = EVP_EncodeBlock((unsigned char *)b64, raw, (int)rawlen);
    free(raw);
    while (n > 0 && b64[n - 1] == '=')
        n--;
    b64[n] = '\0';
    for (char *p = b64; *p; p++) {
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
    }
    return tok;
}

int ctl_page_token_decode(struct ctl_ctx *ctx, const char *scope, const char *token, char **last)
{
    size_t tlen = strlen(token);
    unsigned char check[CHECK_LEN];
    char *b64 = NULL;
    unsigned char *raw = NULL;
    int rc = -1;
    if (tlen < 2 || token[0] != 'P')
        goto bad;
    token++;
    tlen--;
    if (tlen > 4 * ((CHECK_LEN + LAST_MAX + 2) / 3) || tlen % 4 == 1)
        goto bad;
    b64 = malloc(tlen + 4);
    raw = malloc(tlen + 4);
    if (b64 == NULL || raw == NULL)
        abort();
    for (size_t i = 0; i < tlen; i++) {
        char c = token[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            goto bad;
        b64[i] = c;
    }
    size_t pad = (4 - tlen % 4) % 4;
    memset(b64 + tlen, '=', pad);
    b64[tlen + pad] = '\0';
    int n = EVP_DecodeBlock(raw, (unsigned char *)b64, (int)(tlen + pad));
    if (n < 0 || (size_t)n < pad + CHECK_LEN)
        goto bad;
    n -= (int)pad;
    size_t llen = (size_t)n - CHECK_LEN;
    if (memchr(raw + CHECK_LEN, '\0', llen) != NULL)
        goto bad;
    check_value(ctx, scope, (const char *)raw + CHECK_LEN, llen, check);
    if (CRYPTO_memcmp(check, raw, CHECK_LEN) != 0)
        goto bad;
    *last = strndup((const char *)raw + CHECK_LEN, llen);
    if (*last == NULL)
        abort();
    rc = 0;
    goto out;
bad:
    rc = ctl_error(ctx, "InvalidRequestException", "NextToken is invalid for this list");
out:
    free(b64);
    free(raw);
    return rc;
}

int ctl_page_range(struct ctl_ctx *ctx, const char *key, const char *after, size_t limit,
                   char ***items, size_t *n)
{
    char lim[24], *start = NULL;
    if (after != NULL) {
        start = malloc(strlen(after) + 2);
        if (start == NULL)
            abort();
        start[0] = '(';
        strcpy(start + 1, after);
    }
    redisReply *r = ctl_store_cmd(ctx, "ZRANGEBYLEX", key, start ? start : "-", "+", "LIMIT", "0",
                                  ctl_itoa(lim, (long long)limit), NULL);
    free(start);
    if (r == NULL)
        return -1;
    size_t cnt = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
    char **out = calloc(cnt + 1, sizeof *out);
    if (out == NULL)
        abort();
    for (size_t i = 0; i < cnt; i++) {
        out[i] = strndup(r->element[i]->str ? r->element[i]->str : "", r->element[i]->len);
        if (out[i] == NULL)
            abort();
    }
    freeReplyObject(r);
    *items = out;
    *n = cnt;
    return 0;
}

int ctl_page_read(struct ctl_ctx *ctx, const char *key, const char *token, long long max,
                  struct ctl_page *page)
{
    char *after = NULL;
    char **items = NULL;
    size_t n = 0;
    if (max <= 0)
        max = CTL_PAGE_DEFAULT;
    if (max > CTL_PAGE_MAX)
        max = CTL_PAGE_MAX;
    if (token != NULL && ctl_page_token_decode(ctx, key, token, &after) < 0)
        return -1;
    int rc = ctl_page_range(ctx, key, after, (size_t)max + 1, &items, &n);
    free(after);
    if (rc < 0)
        return -1;
    page->items = items;
    page->next_token = NULL;
    if (n > (size_t)max) {
        free(items[max]);
        items[max] = NULL;
        n = (size_t)max;
        page->next_token = ctl_page_token_encode(ctx, key, items[n - 1]);
        if (page->next_token == NULL)
            abort();
    }
    page->n = n;
    return 0;
}

int ctl_page_read_input(struct ctl_ctx *ctx, const char *key, const json_t *in,
                        const char *token_member, const char *max_member, struct ctl_page *page)
{
    const char *token = json_string_value(json_object_get(in, token_member));
    json_t *m = json_object_get(in, max_member);
    long long max = json_is_integer(m) ? json_integer_value(m) : 0;
    if (m != NULL && !json_is_null(m) && (!json_is_integer(m) || max < 1))
        return ctl_error(ctx, "InvalidRequestException", "%s must be an integer >= 1", max_member);
    return ctl_page_read(ctx, key, token, max, page);
}

void ctl_page_dispose(struct ctl_page *page)
{
    if (page->items != NULL)
        for (size_t i = 0; i < page->n; i++)
            free(page->items[i]);
    free(page->items);
    free(page->next_token);
    page->items = NULL;
    page->next_token = NULL;
    page->n = 0;
}

int ctl_page_list_fleet(struct ctl_ctx *ctx, const json_t *in, const char *zsuffix,
                        const char *hsuffix, const char *list_member, ctl_page_map_fn map,
                        json_t **out)
{
    struct ctl_fleet f;
    struct ctl_page page = {0};
    char zkey[128];
    char **keys = NULL;
    json_t *hashes = NULL, *list;
    int rc = -1;
    if (ctl_fleet_load(ctx, json_string_value(json_object_get(in, "FleetArn")), "FleetArn",
                       "ResourceNotFoundException", CTL_FLEET_ANY, &f) < 0)
        return -1;
    if (ctl_page_read_input(ctx, ctl_key(zkey, sizeof zkey, f.name, zsuffix), in, "NextToken",
                            "MaxResults", &page) < 0)
        goto out;
    keys = calloc(page.n + 1, sizeof *keys);
    if (keys == NULL)
        abort();
    for (size_t i = 0; i < page.n; i++)
        if (asprintf(&keys[i], "wl:{%s}:%s%s", f.name, hsuffix, page.items[i]) < 0)
            abort();
    if (ctl_store_hgetall_many(ctx, (const char *const *)keys, page.n, &hashes) < 0)
        goto out;
    list = json_array();
    for (size_t i = 0; i < page.n; i++) {
        json_t *h = json_array_get(hashes, i);
        if (json_object_size(h) > 0) /* removed between the two reads */
            json_array_append_new(list, map(h));
    }
    *out = json_pack("{s:o}", list_member, list);
    if (page.next_token != NULL)
        json_object_set_new(*out, "NextToken", json_string(page.next_token));
    rc = 0;
out:
    for (size_t i = 0; keys != NULL && i < page.n; i++)
        free(keys[i]);
    free(keys);
    json_decref(hashes);
    ctl_page_dispose(&page);
    ctl_fleet_dispose(&f);
    return rc;
}
