/* redis_url.h - parsing of the Redis location setting shared by control and gateway.
 *   redis://HOST:PORT[/DB]   unix:///PATH   sentinel://HOST:PORT[,HOST:PORT...]/MASTER */
#ifndef WL_REDIS_URL_H
#define WL_REDIS_URL_H

#include <stddef.h>

#define WL_REDIS_MAX_SENTINELS 8

enum wl_redis_kind { WL_REDIS_TCP, WL_REDIS_UNIX, WL_REDIS_SENTINEL };

struct wl_redis_addr {
    char host[256];
    int port;
};

struct wl_redis_url {
    enum wl_redis_kind kind;
    struct wl_redis_addr addr;                              /* TCP */
    char path[256];                                         /* UNIX */
    int db;                                                 /* TCP and UNIX: /DB, default 0 */
    struct wl_redis_addr sentinels[WL_REDIS_MAX_SENTINELS]; /* SENTINEL */
    int nsentinels;
    char master[128]; /* SENTINEL: master name */
};

/* Parses `s` into *out. Returns 0, or -1 with a one-line reason in err (errlen bytes). */
int wl_redis_url_parse(const char *s, struct wl_redis_url *out, char *err, size_t errlen);

#endif
