/* paging.h - List* pagination over lexicographically ordered ZSETs (all scores 0).
 *
 * A NextToken is base64url( check[12] | last ), where `last` is the last member returned and
 * check is HMAC-SHA256(master key, "page\0" scope "\0" last) truncated: opaque to clients,
 * bound to its list (a token of another list, or an edited one, is refused with
 * InvalidRequestException), and stable when members are added or removed between pages since
 * the next page starts strictly after `last` (ZRANGEBYLEX "(last").
 * Runs on the calling thread; borrows its arguments. */
#ifndef CTL_PAGING_H
#define CTL_PAGING_H

#include <jansson.h>
#include <stddef.h>

#include "op.h"

#define CTL_PAGE_DEFAULT 100
#define CTL_PAGE_MAX 1000

struct ctl_page {
    char **items; /* members of this page (owned) */
    size_t n;
    char *next_token; /* NULL on the last page (owned) */
};

/* Reads one page of ZSET `key`: the members after the position of `token` (NULL: from the
 * start), at most `max` of them (<= 0: CTL_PAGE_DEFAULT; capped at CTL_PAGE_MAX). Returns 0 and
 * fills *page (dispose with ctl_page_dispose), or -1 after ctl_error(). */
int ctl_page_read(struct ctl_ctx *ctx, const char *key, const char *token, long long max,
                  struct ctl_page *page);

/* ctl_page_read() with token and max taken from the input members `token_member` and
 * `max_member` (e.g. "NextToken", "MaxResults"). */
int ctl_page_read_input(struct ctl_ctx *ctx, const char *key, const json_t *in,
                        const char *token_member, const char *max_member, struct ctl_page *page);

void ctl_page_dispose(struct ctl_page *page);

/* Token codec, for lists that filter: a new token string for `last` in list `scope` (NULL on
 * allocation failure), and the decoding of a token into a new string *last (0), or -1 after
 * ctl_error(InvalidRequestException). */
char *ctl_page_token_encode(const struct ctl_ctx *ctx, const char *scope, const char *last);
int ctl_page_token_decode(struct ctl_ctx *ctx, const char *scope, const char *token, char **last);

/* Members of ZSET key strictly after `after` (NULL: from the start), at most `limit`: a new
 * array of new strings in *items and their count in *n. Returns 0 or -1 after ctl_error(). */
int ctl_page_range(struct ctl_ctx *ctx, const char *key, const char *after, size_t limit,
                   char ***items, size_t *n);

/* Maps one hash of a listed object to its summary (a new JSON object). */
typedef json_t *(*ctl_page_map_fn)(const json_t *h);

/* The common List* of a fleet: loads the fleet named by input member FleetArn, reads one page
 * of ZSET "wl:{F}:<zsuffix>" (input NextToken / MaxResults), loads the hash
 * "wl:{F}:<hsuffix><member>" of each member in one round trip and maps the existing ones. On
 * success *out = {"<list_member>": [...], "NextToken": ...} (new reference). */
int ctl_page_list_fleet(struct ctl_ctx *ctx, const json_t *in, const char *zsuffix,
                        const char *hsuffix, const char *list_member, ctl_page_map_fn map,
                        json_t **out);

#endif
