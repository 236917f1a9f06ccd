/* gw.h - public API of the worklink-gateway library (wl_gateway).
 *
 * The program main.c is a thin wrapper: gw_options_parse() then gw_run(). Everything else in
 * gateway/ is internal (gw_internal.h). */
#ifndef GW_H
#define GW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_MAX_ORIGINS 64
#define GW_MAX_RESOLVE 64

/* An origin override: requests for `domain` go to scheme://host:port. */
struct gw_origin_map {
    char domain[256];
    bool tls;
    char host[256];
    int port;
};

/* A static DNS answer: `host` resolves to `addr` (curl's --resolve without the port). */
struct gw_resolve {
    char host[256];
    char addr[64];
};

struct gw_options {
    char fleet[64];
    char listen_host[256];
    int listen_port;
    char admin_host[256];
    int admin_port;
    char redis_url[1024];
    char key_file[1024];
    int workers;         /* default: number of online CPUs */
    bool proxy_protocol; /* expect a PROXY protocol v2 header on every device connection */
    struct gw_origin_map origins[GW_MAX_ORIGINS];
    int norigins;
    struct gw_resolve resolves[GW_MAX_RESOLVE];
    int nresolves;
    int64_t stale_ms;                 /* serve from snapshot this long while Redis is down */
    int64_t session_cache_ms;         /* per-worker session cache lifetime */
    int64_t connect_timeout_ms;       /* origin connect (DNS + TCP + TLS) */
    int64_t header_timeout_ms;        /* origin: request sent -> response head */
    int64_t idle_timeout_ms;          /* any connection without traffic */
    int64_t client_header_timeout_ms; /* device: connection/request start -> complete head */
    int64_t keepalive_timeout_ms;     /* device h1: idle between requests */
    int64_t drain_timeout_ms;         /* SIGTERM: longest wait for in-flight requests */
    int64_t ticket_rotation_s;        /* TLS ticket key period */
    int max_conns;                    /* per worker */
    int max_streams;                  /* HTTP/2 concurrent streams per connection */
    uint64_t max_body;                /* request body limit (bytes) */
    bool access_log;
    int log_level;
    char network_file[1024]; /* --network: inventory (egress policy); "" = no origin is reachable
                                (fail closed) */
    int64_t audit_maxlen;    /* XADD MAXLEN ~ of the audit stream */
    int audit_queue;         /* audit events held per worker while Redis is slow or down */
    /* long-lived traffic (issue 7) */
    int64_t stream_idle_timeout_ms; /* streaming responses (text/event-stream): origin silence */
    int64_t ws_idle_timeout_ms;     /* WebSocket without a data frame either way */
    int64_t ws_ping_interval_ms;    /* ping toward a device silent this long; 0: never */
    uint64_t ws_max_message;        /* largest WebSocket message (bytes), either way */
    int max_ws_per_session;         /* open WebSockets of one session (whole process) */
    int max_ws_per_fleet;           /* open WebSockets of this process */
};

/* Fills defaults, then parses argv. Returns 0; 1 when --help was printed; -1 with a one-line
 * reason in err. Borrows argv. */
int gw_options_parse(int argc, char **argv, struct gw_options *o, char *err, size_t errlen);

/* Prints the usage text to stdout. */
void gw_usage(void);

/* Runs the gateway until SIGTERM/SIGINT drains it. Returns the process exit code. Must run on
 * the main thread (it owns signal handling). Borrows o for the whole run. */
int gw_run(const struct gw_options *o);

#endif
