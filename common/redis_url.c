/* redis_url.c - see redis_url.h. */
#include "redis_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *why, const char *s)
{
    snprintf(err, errlen, "invalid Redis URL '%s': %s", s, why);
    return -1;
}

/* Parses "HOST:PORT" (HOST may be [v6]) of length n into *a. */
static int parse_hostport(const char *p, size_t n, struct wl_redis_addr *a)
{
    const char *colon = NULL;
    for (size_t i = n; i > 0; i--) {
        if (p[i - 1] == ':') {
            colon = p + i - 1;
            break;
        }
    }
    if (!colon || colon == p)
        return -1;
    size_t hl = (size_t)(colon - p);
    const char *h = p;
    if (h[0] == '[') {
        if (hl < 3 || h[hl - 1] != ']')
            return -1;
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof a->host)
        return -1;
    memcpy(a->host, h, hl);
    a->host[hl] = '\0';
    size_t pl = n - (size_t)(colon - p) - 1;
    if (pl == 0 || pl > 5)
        return -1;
    int port = 0;
    for (size_t i = 0; i < pl; i++) {
        char c = colon[1 + i];
        if (c < '0' || c > '9')
            return -1;
        port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535)
        return -1;
    a->port = port;
    return 0;
}

static int parse_db(const char *p, int *db)
{
    if (*p == '\0')
        return 0;
    char *end;
    long v = strtol(p, &end, 10);
    if (*end != '\0' || end == p || v < 0 || v > 65535)
        return -1;
    *db = (int)v;
    return 0;
}

int wl_redis_url_parse(const char *s, struct wl_redis_url *out, char *err, size_t errlen)
{
    struct wl_redis_url u;
    memset(&u, 0, sizeof u);
    if (strncmp(s, "redis://", 8) == 0) {
        const char *hp = s + 8;
        const char *slash = strchr(hp, '/');
        size_t n = slash ? (size_t)(slash - hp) : strlen(hp);
        u.kind = WL_REDIS_TCP;
        if (parse_hostport(hp, n, &u.addr) != 0)
            return fail(err, errlen, "expected redis://HOST:PORT[/DB]", s);
        if (slash && parse_db(slash + 1, &u.db) != 0)
            return fail(err, errlen, "database must be a number", s);
    } else if (strncmp(s, "unix://", 7) == 0) {
        const char *path = s + 7;
        u.kind = WL_REDIS_UNIX;
        if (path[0] != '/' || strlen(path) >= sizeof u.path)
            return fail(err, errlen, "expected unix:///ABSOLUTE/PATH", s);
        snprintf(u.path, sizeof u.path, "%s", path);
    } else if (strncmp(s, "sentinel://", 11) == 0) {
        const char *p = s + 11;
        const char *slash = strchr(p, '/');
        u.kind = WL_REDIS_SENTINEL;
        if (!slash || slash[1] == '\0' || strlen(slash + 1) >= sizeof u.master)
            return fail(err, errlen, "expected sentinel://HOST:PORT[,HOST:PORT...]/MASTER", s);
        snprintf(u.master, sizeof u.master, "%s", slash + 1);
        while (p < slash) {
            const char *comma = memchr(p, ',', (size_t)(slash - p));
            const char *e = comma ? comma : slash;
            if (u.nsentinels == WL_REDIS_MAX_SENTINELS)
                return fail(err, errlen, "too many sentinels", s);
            if (parse_hostport(p, (size_t)(e - p), &u.sentinels[u.nsentinels]) != 0)
                return fail(err, errlen, "bad sentinel HOST:PORT", s);
            u.nsentinels++;
            p = comma ? comma + 1 : slash;
        }
        if (u.nsentinels == 0)
            return fail(err, errlen, "no sentinel given", s);
    } else {
        return fail(err, errlen, "scheme must be redis://, unix:// or sentinel://", s);
    }
    *out = u;
    return 0;
}
