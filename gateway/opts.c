/* opts.c - command line of worklink-gateway (one table-like parser; see gw_usage). */
#include "gw.h"

#include "log.h"
#include "network_inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void gw_usage(void)
{
    printf(
        "usage: worklink-gateway --fleet NAME --listen HOST:PORT --admin-listen HOST:PORT\n"
        "                        --redis URL --key-file FILE [options]\n"
        "\n"
        "  --fleet NAME                 the fleet this process serves\n"
        "  --listen HOST:PORT           device (TLS) listener\n"
        "  --admin-listen HOST:PORT     /healthz, /readyz, /metrics (plain HTTP)\n"
        "  --redis URL                  redis://HOST:PORT[/DB], unix:///PATH,\n"
        "                               sentinel://HOST:PORT[,HOST:PORT...]/MASTER\n"
        "  --key-file FILE              master key shared with worklink-control\n"
        "  --workers N                  worker threads (default: online CPUs)\n"
        "  --proxy-protocol             expect a PROXY protocol v2 header on each connection\n"
        "  --origin DOMAIN=URL          origin of DOMAIN: http[s]://HOST[:PORT] (repeatable;\n"
        "                               default https://DOMAIN:443)\n"
        "  --resolve HOST:ADDR          static DNS answer for an origin host (repeatable)\n"
        "  --stale-ms MS                serve from the snapshot this long while Redis is down,\n"
        "                               then answer 503 (default 30000)\n"
        "  --session-cache-ms MS        per-worker session cache lifetime (default 5000)\n"
        "  --connect-timeout-ms MS      origin DNS+TCP+TLS (default 5000)\n"
        "  --header-timeout-ms MS       origin response head (default 30000)\n"
        "  --idle-timeout-ms MS         idle connection / stalled body (default 60000)\n"
        "  --client-header-timeout-ms MS device request head (default 20000)\n"
        "  --keepalive-timeout-ms MS HTTP/1.1 device connection idle between requests (75000)\n"
        "  --drain-timeout-ms MS        SIGTERM: longest wait for in-flight work (default 30000)\n"
        "  --ticket-rotation-s S        TLS session ticket key period (default 3600)\n"
        "  --max-conns N                device connections per worker (default 10000)\n"
        "  --max-streams N              HTTP/2 concurrent streams (default 100)\n"
        "  --max-body BYTES             request body limit (default 1073741824)\n"
        "  --no-access-log              no per-request JSON line (benchmarks)\n"
        "  --log-level LEVEL            debug|info|warn|error (default info)\n"
        "  --network FILE               company network inventory (deploy/network.md): origins\n"
        "                               only through the fleet's subnets and security groups;\n"
        "                               re-read on every reload (SIGHUP, change feed)\n"
        "  --audit-maxlen N             audit stream trimming, XADD MAXLEN ~ N (default 1000000)\n"
        "  --audit-queue N              audit events held per worker while Redis is down\n"
        "                               (default 10000; beyond it events are dropped and counted)\n"
        "  --stream-idle-timeout-ms MS  streaming responses (text/event-stream): longest origin\n"
        "                               silence (default 300000; --idle-timeout-ms does not "
        "apply)\n"
        "  --ws-idle-timeout-ms MS      WebSocket without a data frame either way (default "
        "600000)\n"
        "  --ws-ping-interval-ms MS     ping a WebSocket device silent this long; no pong within\n"
        "                               another interval closes it (default 30000, 0: never)\n"
        "  --ws-max-message BYTES       largest WebSocket message either way, close 1009 beyond\n"
        "                               (default 16777216)\n"
        "  --max-ws-per-session N       open WebSockets of one session in this process (default "
        "32)\n"
        "  --max-ws-per-fleet N         open WebSockets of this process (default 100000)\n"
        "  --help\n");
}

static int hostport(const char *s, char *host, size_t hl, int *port)
{
    const char *c = strrchr(s, ':');
    if (!c || c == s || (size_t)(c - s) >= hl)
        return -1;
    char *end;
    long p = strtol(c + 1, &end, 10);
    if (*end || p < 0 || p > 65535 || end == c + 1)
        return -1;
    memcpy(host, s, (size_t)(c - s));
    host[c - s] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    *port = (int)p;
    return 0;
}

static int num(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int gw_options_parse(int argc, char **argv, struct gw_options *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o->workers = ncpu > 0 ? (int)ncpu : 1;
    o->stale_ms = 30000;
    o->session_cache_ms = 5000;
    o->connect_timeout_ms = 5000;
    o->header_timeout_ms = 30000;
    o->idle_timeout_ms = 60000;
    o->client_header_timeout_ms = 20000;
    o->keepalive_timeout_ms = 75000;
    o->drain_timeout_ms = 30000;
    o->ticket_rotation_s = 3600;
    o->max_conns = 10000;
    o->max_streams = 100;
    o->max_body = 1ULL << 30;
    o->access_log = true;
    o->log_level = WL_LOG_INFO;
    o->audit_maxlen = 1000000;
    o->audit_queue = 10000;
    o->stream_idle_timeout_ms = 300000;
    o->ws_idle_timeout_ms = 600000;
    o->ws_ping_interval_ms = 30000;
    o->ws_max_message = 16 * 1024 * 1024;
    o->max_ws_per_session = 32;
    o->max_ws_per_fleet = 100000;
    bool have_listen = false, have_admin = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            gw_usage();
            return 1;
        }
        if (strcmp(a, "--proxy-protocol") == 0) {
            o->proxy_protocol = true;
            continue;
        }
        if (strcmp(a, "--no-access-log") == 0) {
            o->access_log = false;
            continue;
        }
        if (i + 1 >= argc) {
            snprintf(err, errlen, "%s: unknown option or missing value", a);
            return -1;
        }
        const char *v = argv[++i];
        int64_t n;
        if (strcmp(a, "--fleet") == 0) {
            if (!*v || strlen(v) >= sizeof o->fleet || strpbrk(v, "{}: \t")) {
                snprintf(err, errlen, "--fleet: invalid fleet name");
                return -1;
            }
            strcpy(o->fleet, v);
        } else if (strcmp(a, "--listen") == 0) {
            if (hostport(v, o->listen_host, sizeof o->listen_host, &o->listen_port) < 0) {
                snprintf(err, errlen, "--listen: expected HOST:PORT, got %s", v);
                return -1;
            }
            have_listen = true;
        } else if (strcmp(a, "--admin-listen") == 0) {
            if (hostport(v, o->admin_host, sizeof o->admin_host, &o->admin_port) < 0) {
                snprintf(err, errlen, "--admin-listen: expected HOST:PORT, got %s", v);
                return -1;
            }
            have_admin = true;
        } else if (strcmp(a, "--redis") == 0) {
            snprintf(o->redis_url, sizeof o->redis_url, "%s", v);
        } else if (strcmp(a, "--key-file") == 0) {
            snprintf(o->key_file, sizeof o->key_file, "%s", v);
        } else if (strcmp(a, "--workers") == 0) {
            if (num(v, 1, 256, &n) < 0) {
                snprintf(err, errlen, "--workers: expected 1..256, got %s", v);
                return -1;
            }
            o->workers = (int)n;
        } else if (strcmp(a, "--origin") == 0) {
            const char *eq = strchr(v, '=');
            struct gw_origin_map *m = &o->origins[o->norigins];
            const char *url = eq ? eq + 1 : "";
            bool tls = strncmp(url, "https://", 8) == 0;
            if (!eq || o->norigins >= GW_MAX_ORIGINS || (size_t)(eq - v) >= sizeof m->domain ||
                (!tls && strncmp(url, "http://", 7) != 0)) {
                snprintf(err, errlen, "--origin: expected DOMAIN=http[s]://HOST[:PORT], got %s", v);
                return -1;
            }
            memcpy(m->domain, v, (size_t)(eq - v));
            m->domain[eq - v] = '\0';
            m->tls = tls;
            const char *hp = url + (tls ? 8 : 7);
            char tmp[300];
            snprintf(tmp, sizeof tmp, "%s", hp);
            char *slash = strchr(tmp, '/');
            if (slash)
                *slash = '\0';
            if (hostport(tmp, m->host, sizeof m->host, &m->port) < 0) {
                if (strlen(tmp) >= sizeof m->host) {
                    snprintf(err, errlen, "--origin: host too long");
                    return -1;
                }
                memcpy(m->host, tmp, strlen(tmp) + 1);
                m->port = tls ? 443 : 80;
            }
            if (!m->host[0]) {
                snprintf(err, errlen, "--origin: no host in %s", v);
                return -1;
            }
            o->norigins++;
        } else if (strcmp(a, "--resolve") == 0) {
            const char *c = strchr(v, ':');
            struct gw_resolve *r = &o->resolves[o->nresolves];
            if (!c || o->nresolves >= GW_MAX_RESOLVE || (size_t)(c - v) >= sizeof r->host ||
                strlen(c + 1) >= sizeof r->addr || !c[1]) {
                snprintf(err, errlen, "--resolve: expected HOST:ADDR, got %s", v);
                return -1;
            }
            memcpy(r->host, v, (size_t)(c - v));
            r->host[c - v] = '\0';
            strcpy(r->addr, c + 1);
            o->nresolves++;
        } else if (strcmp(a, "--stale-ms") == 0 && num(v, 0, 86400000, &n) == 0) {
            o->stale_ms = n;
        } else if (strcmp(a, "--session-cache-ms") == 0 && num(v, 0, 600000, &n) == 0) {
            o->session_cache_ms = n;
        } else if (strcmp(a, "--connect-timeout-ms") == 0 && num(v, 1, 600000, &n) == 0) {
            o->connect_timeout_ms = n;
        } else if (strcmp(a, "--header-timeout-ms") == 0 && num(v, 1, 3600000, &n) == 0) {
            o->header_timeout_ms = n;
        } else if (strcmp(a, "--idle-timeout-ms") == 0 && num(v, 1, 86400000, &n) == 0) {
            o->idle_timeout_ms = n;
        } else if (strcmp(a, "--client-header-timeout-ms") == 0 && num(v, 1, 600000, &n) == 0) {
            o->client_header_timeout_ms = n;
        } else if (strcmp(a, "--keepalive-timeout-ms") == 0 && num(v, 1, 86400000, &n) == 0) {
            o->keepalive_timeout_ms = n;
        } else if (strcmp(a, "--drain-timeout-ms") == 0 && num(v, 0, 3600000, &n) == 0) {
            o->drain_timeout_ms = n;
        } else if (strcmp(a, "--ticket-rotation-s") == 0 && num(v, 60, 86400 * 7, &n) == 0) {
            o->ticket_rotation_s = n;
        } else if (strcmp(a, "--max-conns") == 0 && num(v, 1, 10000000, &n) == 0) {
            o->max_conns = (int)n;
        } else if (strcmp(a, "--max-streams") == 0 && num(v, 1, 10000, &n) == 0) {
            o->max_streams = (int)n;
        } else if (strcmp(a, "--max-body") == 0 && num(v, 0, INT64_MAX, &n) == 0) {
            o->max_body = (uint64_t)n;
        } else if (strcmp(a, "--network") == 0) {
            if (!*v || strlen(v) >= sizeof o->network_file || access(v, R_OK) != 0) {
                snprintf(err, errlen, "--network %s: cannot read", v);
                return -1;
            }
            struct wl_net_inventory *inv = NULL;
            char ierr[400];
            if (wl_net_inventory_load(v, &inv, ierr, sizeof ierr) < 0) {
                snprintf(err, errlen, "--network %s", ierr);
                return -1;
            }
            wl_net_inventory_free(inv);
            snprintf(o->network_file, sizeof o->network_file, "%s", v);
        } else if (strcmp(a, "--audit-maxlen") == 0 && num(v, 1, INT64_MAX, &n) == 0) {
            o->audit_maxlen = n;
        } else if (strcmp(a, "--audit-queue") == 0 && num(v, 1, 10000000, &n) == 0) {
            o->audit_queue = (int)n;
        } else if (strcmp(a, "--stream-idle-timeout-ms") == 0 && num(v, 1, 86400000, &n) == 0) {
            o->stream_idle_timeout_ms = n;
        } else if (strcmp(a, "--ws-idle-timeout-ms") == 0 && num(v, 1, 86400000, &n) == 0) {
            o->ws_idle_timeout_ms = n;
        } else if (strcmp(a, "--ws-ping-interval-ms") == 0 && num(v, 0, 86400000, &n) == 0) {
            o->ws_ping_interval_ms = n;
        } else if (strcmp(a, "--ws-max-message") == 0 && num(v, 126, INT64_MAX, &n) == 0) {
            o->ws_max_message = (uint64_t)n;
        } else if (strcmp(a, "--max-ws-per-session") == 0 && num(v, 1, 1000000, &n) == 0) {
            o->max_ws_per_session = (int)n;
        } else if (strcmp(a, "--max-ws-per-fleet") == 0 && num(v, 1, 100000000, &n) == 0) {
            o->max_ws_per_fleet = (int)n;
        } else if (strcmp(a, "--log-level") == 0) {
            enum wl_log_level lv;
            if (wl_log_level_parse(v, &lv) < 0) {
                snprintf(err, errlen, "--log-level: expected debug|info|warn|error");
                return -1;
            }
            o->log_level = (int)lv;
        } else {
            snprintf(err, errlen, "%s: unknown option or invalid value %s", a, v);
            return -1;
        }
    }
    const char *missing = !o->fleet[0]       ? "--fleet"
                          : !have_listen     ? "--listen"
                          : !have_admin      ? "--admin-listen"
                          : !o->redis_url[0] ? "--redis"
                          : !o->key_file[0]  ? "--key-file"
                                             : NULL;
    if (missing) {
        snprintf(err, errlen, "%s is required (see --help)", missing);
        return -1;
    }
    return 0;
}
