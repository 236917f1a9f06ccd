/* gw_internal.h - types and functions shared by the gateway's modules (not a public API).
 *
 * Threads: the main thread owns signals and the admin listener; one config thread owns the Redis
 * subscriber and builds immutable snapshots; N worker threads each own a uv loop, a listening
 * socket, their connections, an origin pool, a session cache and a Redis async context for
 * session lookups. Workers never take a lock: snapshots reach them through an atomic slot and a
 * uv_async wake-up, counters are relaxed atomics that the admin thread reads. */
#ifndef GW_INTERNAL_H
#define GW_INTERNAL_H

#include "gw.h"

#include "envelope.h"
#include "http1.h"
#include "redis_url.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define GW_HWM (256 * 1024) /* write queue above this: pause the producing side */
#define GW_LWM (64 * 1024)  /* ... resume below this */
#define GW_MAX_HEAD 16384   /* request/response head limit */
#define GW_SESSION_COOKIE "__Host-wl_session"
#define GW_LOGIN_PATH "/_wl/login"
#define GW_CACHE_SLOTS 4096

/* Relaxed counters: written by one worker, read by the admin thread. */
typedef _Atomic uint64_t gw_counter;
#define GW_INC(c) atomic_fetch_add_explicit(&(c), 1, memory_order_relaxed)
#define GW_ADD(c, n) atomic_fetch_add_explicit(&(c), (uint64_t)(n), memory_order_relaxed)
#define GW_SUB(c, n) atomic_fetch_sub_explicit(&(c), (uint64_t)(n), memory_order_relaxed)
#define GW_GET(c) atomic_load_explicit(&(c), memory_order_relaxed)

/* ---- time ---- */
int64_t gw_wall_ms(void); /* CLOCK_REALTIME, ms since the epoch (session times) */

/* ---- snapshot (snapshot.c) ---- */
enum gw_domain_status { GW_DOM_ACTIVE, GW_DOM_INACTIVE, GW_DOM_OTHER };

struct gw_domain {
    char *name; /* lowercase */
    enum gw_domain_status status;
    SSL_CTX *ctx; /* own reference; NULL when the certificate could not be loaded */
};

/* Immutable once published. Refcounted: the config thread creates it with one reference, each
 * worker holds one while it is current. */
struct gw_snapshot {
    atomic_int refs;
    int64_t version;
    int64_t loaded_ms;
    bool fleet_exists;
    struct gw_domain *domains; /* sorted by name */
    size_t ndomains;
    X509_STORE *device_store;           /* NULL: no device policy */
    STACK_OF(X509_NAME) * device_names; /* CA names sent in CertificateRequest */
    SSL_CTX *origin_ctx;                /* client context: system roots + website CAs */
    char redis_host[256];               /* resolved Redis address for worker connections */
    int redis_port;
    char redis_path[256];
    struct gw_egress *egress; /* owned; NULL: no --network (every origin refused), egress.h */
    char *audit_stream;       /* owned; Redis key of the audit stream, NULL: no audit (audit.h) */
    bool downloads_blocked;   /* fleet's `downloads` is `block` (render_hook.c) */
};

struct gw_snapshot *gw_snapshot_new(void);
struct gw_snapshot *gw_snapshot_ref(struct gw_snapshot *s);
void gw_snapshot_unref(struct gw_snapshot *s); /* any thread; NULL is fine */
/* Borrowed result; name need not be NUL-terminated; compared case-insensitively. */
const struct gw_domain *gw_snapshot_find(const struct gw_snapshot *s, const char *name, size_t len);

/* ---- metrics (per worker) ---- */
#define GW_LAT_BUCKETS 12
struct gw_metrics {
    gw_counter accepts;
    gw_counter active_conns;
    gw_counter handshakes;
    gw_counter handshake_failures;
    gw_counter resumed;
    gw_counter unknown_sni;
    gw_counter status[600];
    gw_counter lat_bucket[GW_LAT_BUCKETS + 1];
    gw_counter lat_sum_us;
    gw_counter requests;
    gw_counter h2_streams;
    gw_counter bytes_out;
    gw_counter origin_connects;
    gw_counter origin_reused;
    gw_counter origin_errors;
    gw_counter origin_timeouts;
    gw_counter origin_idle;
    gw_counter session_lookups;
    gw_counter session_cache_hits;
    gw_counter redis_errors;
    gw_counter audit_written; /* audit events acknowledged by Redis */
    gw_counter audit_dropped; /* audit events lost (queue full, refused by Redis) */
    gw_counter audit_errors;  /* failed audit writes (retried) */
    gw_counter audit_queued;  /* gauge: audit events waiting */
    gw_counter egress_denied; /* origin addresses refused by the egress policy */
    gw_counter ws_open;       /* gauge: tunnelled WebSockets (ws.c) */
    gw_counter ws_total;      /* WebSockets opened */
    gw_counter live_cuts;     /* live channels cut because access ended (live.c) */
};
extern const double gw_lat_bounds[GW_LAT_BUCKETS];

/* ---- server and workers ---- */
struct gw_server;

struct gw_cache_entry {
    char sid[64];
    bool used;
    bool valid;
    int64_t until_ms; /* wall clock */
    int64_t expires;  /* the session's absolute expiry (wall ms) */
    uint64_t gen;
    bool has_jar;   /* the session has a cookie jar in Redis (render_hook.c) */
    char user[128]; /* valid sessions: the session's username and device (audit) */
    char device[64];
};

struct gw_list {
    struct gw_list *prev, *next;
};

struct gw_worker {
    struct gw_server *srv;
    int id;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_tcp_t listener;
    bool listening;
    uv_async_t wake;
    _Atomic(struct gw_snapshot *) pending; /* handed over by the config thread */
    struct gw_snapshot *snap;              /* current, owned reference */
    redisAsyncContext *redis;
    bool redis_ready;
    uint64_t redis_started; /* uv_now() of the last connect attempt */
    uv_timer_t redis_timer;
    uv_timer_t tick;        /* 1 s housekeeping: drain checks, pool expiry */
    uv_check_t flush_check; /* HTTP/2 output is written here, once per loop iteration */
    uv_idle_t flush_idle;   /* active while flushq is not empty: the poll must not block then */
    struct gw_list flushq;  /* struct gw_conn.flink */
    struct gw_list sockq;   /* struct gw_sock.flink: TLS records waiting for the check */
    struct gw_cache_entry cache[GW_CACHE_SLOTS];
    struct gw_list conns; /* struct gw_conn.link */
    struct gw_list pool;  /* idle origin connections, struct gw_up.link */
    size_t npool;
    uint64_t next_id;
    bool draining;
    bool stopping;
    _Alignas(
        16) char rbuf[65536]; /* socket reads land here (consumed before the callback returns) */
    _Alignas(16) char sbuf[65536]; /* scratch for framing output */
    struct gw_audit *audit;        /* audit.c; created on the first event */
    struct gw_live_state *live;    /* live.c: registry of live channels, cut queue */
    struct gw_metrics m;
};

struct gw_server {
    const struct gw_options *opt;
    struct wl_master_key mk;
    struct wl_redis_url rurl;
    SSL_CTX *base_ctx;
    struct gw_worker **workers;
    int nworkers;
    atomic_bool draining;
    atomic_bool loaded;            /* first snapshot published */
    atomic_bool redis_up;          /* config thread's view */
    atomic_llong redis_down_since; /* wall ms, 0 while up */
    atomic_ullong session_gen;     /* bumped on every change-feed event: caches invalidate */
    atomic_llong snap_version;
    atomic_llong snap_loaded_ms;
    atomic_llong events; /* change-feed messages seen */
    atomic_llong reloads;
    atomic_llong last_event_ms; /* wall ms when the last event arrived */
    atomic_llong last_apply_ms; /* wall ms when the last snapshot was handed to workers */
    uv_thread_t cfg_thread;
    struct gw_config *cfg;
    struct gw_ws_limits *ws_limits; /* live.c: WebSockets per session / per process */
};

/* Hands a new reference of s to every worker (config thread). */
void gw_server_publish(struct gw_server *srv, struct gw_snapshot *s);
/* True when Redis has been down longer than --stale-ms (fail closed). */
bool gw_server_stale(struct gw_server *srv);

/* ---- config thread (config.c) ---- */
/* Loads the first snapshot synchronously (start-up: bad settings fail fast), then starts the
 * config thread. Returns 0 or -1 with a reason in err. */
int gw_config_start(struct gw_server *srv, char *err, size_t errlen);
/* Asks the config thread to stop and joins it. Main thread. */
void gw_config_stop(struct gw_server *srv);
/* Full reload request (SIGHUP). Any thread. */
void gw_config_reload(struct gw_server *srv);

/* ---- TLS (tls.c) ---- */
/* The base server context every connection starts with: SNI, ALPN, tickets. */
SSL_CTX *gw_tls_base_ctx_new(struct gw_server *srv, char *err, size_t errlen);
/* A domain context from PEM certificate, chain and private key. Returns a new reference or NULL
 * with a reason in err. */
SSL_CTX *gw_tls_domain_ctx_new(struct gw_server *srv, const char *cert_pem, const char *chain_pem,
                               const char *key_pem, size_t key_len, char *err, size_t errlen);
/* Client context for origins trusting the system roots plus `extra_pems` (n PEM strings). */
SSL_CTX *gw_tls_origin_ctx_new(const char *const *extra_pems, size_t n);
/* Parses a PEM chain into a store and a name list (device CA). 0 or -1. */
int gw_tls_load_ca_pem(const char *pem, X509_STORE **store, STACK_OF(X509_NAME) * *names);

/* ---- sockets: TCP with optional TLS via memory BIOs (sock.c) ---- */
struct gw_sock;
typedef void (*gw_sock_data_cb)(struct gw_sock *s, char *data, size_t len);
typedef void (*gw_sock_event_cb)(struct gw_sock *s, int status);
typedef void (*gw_sock_close_cb)(struct gw_sock *s);

struct gw_sock {
    uv_tcp_t tcp; /* tcp.data = the sock */
    struct gw_worker *w;
    SSL *ssl; /* NULL: plain */
    BIO *rbio, *wbio;
    size_t wq;          /* bytes not yet written: queued in uv plus TLS records not flushed */
    size_t wq_uv;       /* the part handed to uv_write */
    size_t tls_pending; /* the part still in the TLS write BIO (flushed by gw_sock_flush_all) */
    bool flush_queued;  /* on the worker's sockq */
    bool want_trim;     /* gw_sock_trim() once the queued bytes left */
    struct gw_list flink;
    bool handshake_done;
    bool reading;
    bool closing;
    bool in_pump;
    bool above_hwm;
    bool eof;
    bool failed;
    uv_shutdown_t shut;
    gw_sock_data_cb on_data;       /* plaintext arrived; must consume all of it */
    gw_sock_event_cb on_error;     /* UV_EOF or an error; the owner closes */
    gw_sock_event_cb on_handshake; /* TLS handshake finished (status 0) */
    gw_sock_event_cb on_drain;     /* write queue fell below GW_LWM after reaching it */
    gw_sock_close_cb on_close;     /* handle closed: owner may free */
    /* PROXY v2 prefix accumulation (device side) */
    bool proxy_pending;
    uint8_t proxy_buf[232];
    size_t proxy_len;
    char peer[64];
};

int gw_sock_init(struct gw_worker *w, struct gw_sock *s);
/* Switches to TLS; ssl is owned by the sock from now on. server: accept state. */
void gw_sock_set_tls(struct gw_sock *s, SSL *ssl, bool server);
int gw_sock_read_start(struct gw_sock *s);
void gw_sock_read_stop(struct gw_sock *s);
/* Copies data (encrypting it when TLS) into the write queue. 0 or a negative uv error. */
int gw_sock_write(struct gw_sock *s, const void *data, size_t len);
/* Starts the TLS client handshake (origin side). */
void gw_sock_connect_tls(struct gw_sock *s);
/* Closes the socket (TLS close_notify best effort); on_close runs later. Idempotent. */
void gw_sock_close(struct gw_sock *s);
/* Closes at once, dropping queued writes. Idempotent. */
void gw_sock_abort(struct gw_sock *s);
/* Writes the TLS records every socket of the worker produced in this loop iteration (check
 * phase, after the HTTP/2 output): one write per socket. */
void gw_sock_flush_all(struct gw_worker *w);
/* The connection is going idle: gives back the TLS buffers the handshake and the last request
 * grew (memory per idle connection). Does nothing while bytes are queued. */
void gw_sock_trim(struct gw_sock *s);

/* ---- byte queue (sock.c) ---- */
struct gw_bufq_chunk {
    struct gw_bufq_chunk *next;
    size_t len, off;
    char data[];
};
struct gw_bufq {
    struct gw_bufq_chunk *head, *tail;
    size_t len;
};
void gw_bufq_push(struct gw_bufq *q, const void *data, size_t len);
/* Copies up to max bytes out; returns the count. */
size_t gw_bufq_pop(struct gw_bufq *q, void *out, size_t max);
void gw_bufq_dispose(struct gw_bufq *q);

/* ---- arena (req.c) ---- */
struct gw_arena_block {
    struct gw_arena_block *next;
    size_t used, cap;
    char data[];
};
struct gw_arena {
    struct gw_arena_block *head;
};
void *gw_arena_alloc(struct gw_arena *a, size_t n);
char *gw_arena_strndup(struct gw_arena *a, const char *s, size_t n);
void gw_arena_dispose(struct gw_arena *a);

/* ---- requests (req.c) ---- */
struct gw_hdr {
    const char *name; /* lowercase for h2; as sent for h1 */
    const char *value;
    size_t nlen, vlen;
};

struct gw_hdrs {
    struct gw_hdr *v;
    size_t n, cap;
};
void gw_hdrs_add(struct gw_arena *a, struct gw_hdrs *h, const char *name, size_t nlen,
                 const char *value, size_t vlen);

/* ---- header handling without I/O (hdr.c) ---- */
struct gw_token {
    const char *base; /* borrowed from the header value */
    size_t len;
    bool from_cookie;
};
/* The gateway's credential: our session cookie first, else Authorization: Bearer. */
bool gw_hdr_find_token(const struct gw_hdrs *h, struct gw_token *out);
bool gw_hdr_is_hop_by_hop(const char *name, size_t len);
struct gw_head_in {
    const char *method, *target, *authority, *peer; /* peer NUL-terminated */
    size_t method_len, target_len, authority_len;
    const struct gw_hdrs *hdrs;
    bool has_body;
    int64_t content_length; /* -1: unknown (chunked toward the origin) */
    bool websocket;         /* an upgrade to WebSocket: Upgrade/Connection toward the origin */
    const char *ws_key;     /* NULL, or the Sec-WebSocket-Key to send (h2 extended CONNECT) */
};
/* The request head toward the origin: a new malloc'd buffer (caller frees) and its length, or
 * NULL when a field holds bytes that cannot be forwarded safely (answer 400). */
char *gw_hdr_origin_request(const struct gw_head_in *in, size_t *len, bool *chunked);
/* Appends msg's headers minus hop-by-hop ones to h (copies in a). */
void gw_hdr_origin_response(struct gw_arena *a, const struct wl_http1_message *msg,
                            struct gw_hdrs *h);

enum gw_proto { GW_PROTO_NONE = 0, GW_PROTO_H1 = 1, GW_PROTO_H2 = 2 };

struct gw_conn;
struct gw_up;
struct gw_lookup;
struct gw_ident;

struct gw_req {
    struct gw_conn *conn;
    int32_t stream_id; /* h2 */
    uint64_t id;
    struct gw_arena arena;
    /* request */
    const char *method, *target, *authority, *scheme;
    size_t method_len, target_len, authority_len;
    struct gw_hdrs hdrs;
    int64_t content_length; /* -1 unknown */
    bool has_body;
    bool body_done; /* device finished sending the body */
    bool is_head;
    bool wants_html;
    bool expect_continue;
    size_t head_bytes;
    /* checks */
    struct gw_lookup *lookup;
    const char *token; /* session token as sent (arena), NULL when none */
    size_t token_len;
    bool token_from_cookie;
    bool authorized;
    bool authp_checked;       /* identity: authorization-provider domain lookup done */
    struct gw_ident *ident;   /* identity: sign-in operation in flight (identity.h) */
    const char *user;         /* session's username (arena), NULL when none (audit) */
    const char *device_id;    /* session's device id (arena), NULL when none (audit) */
    bool session_has_jar;     /* the session's cookie jar exists in Redis (else: start empty) */
    const char *egress_error; /* static: why the egress policy refused the origin (audit) */
    /* body from the device waiting for the origin */
    struct gw_bufq in;
    uint64_t unconsumed; /* h2: DATA bytes not yet acknowledged with WINDOW_UPDATE */
    uint64_t bytes_in;
    /* upstream */
    struct gw_up *up;
    bool up_paused; /* we stopped reading the origin because the device side is full */
    /* response */
    int status;
    bool resp_started;
    bool resp_done;
    bool close_after;
    bool resp_chunked; /* h1 framing toward the device */
    uint64_t bytes_out;
    uint64_t start_us;
    /* h2 response data waiting for nghttp2 */
    struct gw_bufq out;
    bool out_eof;
    bool deferred;
    struct gw_list link; /* conn's request list (h2) */
    /* render_hook.c: per-response render state (stream, cookie jar), NULL when none */
    struct gw_render *render;
    /* live.c: a channel of a session, listed while the request lives (issue 7) */
    struct gw_list live;
    char sid[65];           /* session id (token hash), "" when none */
    int64_t sess_expires;   /* session's absolute expiry, wall ms (0: unknown) */
    uint64_t cut_seq;       /* the worker's cut sequence when the session check started */
    const char *cut_reason; /* static: why access ended, NULL while it has not */
    /* ws.c: WebSocket (h1 Upgrade or h2 extended CONNECT) */
    bool ws_req;          /* the device asked for a WebSocket */
    bool ws_slot;         /* holds a place in the WebSocket limits */
    bool streaming;       /* the response is a stream (text/event-stream): stream timeouts */
    bool resp_unbounded;  /* the origin's response has no Content-Length (live.c) */
    const char *ws_key;   /* h2: Sec-WebSocket-Key generated toward the origin (arena) */
    const char *ws_event; /* audit: "open" / "close" of a WebSocket, NULL otherwise */
    struct gw_ws *ws;     /* tunnel state once the origin switched protocols */
};

struct gw_req *gw_req_new(struct gw_conn *c, int32_t stream_id);
void gw_req_free(struct gw_req *r); /* detaches origin and lookup */
/* All request fields are in: run the checks, then fetch. */
void gw_req_start(struct gw_req *r);
/* Request body bytes from the device (copied). */
void gw_req_body(struct gw_req *r, const char *data, size_t len);
void gw_req_body_end(struct gw_req *r);
/* A complete gateway-generated response (status, extra headers "Name: v\r\n..." or NULL, body). */
void gw_req_respond(struct gw_req *r, int status, const char *extra_headers, const char *body,
                    size_t body_len);
void gw_req_error_page(struct gw_req *r, int status, const char *title, const char *text);
/* No valid session: HTML navigation is sent to the login page, anything else gets 401; when the
 * device sent a session cookie that no longer works, it is told to clear the site. */
void gw_req_sign_in_required(struct gw_req *r);
/* Origin response callbacks (origin.c -> req.c -> render -> proto). */
void gw_req_resp_head(struct gw_req *r, int status, struct gw_hdrs *h);
void gw_req_resp_body(struct gw_req *r, const char *data, size_t len);
void gw_req_resp_end(struct gw_req *r);
/* Output side of the render hook: body bytes and the end of the response toward the device. */
void gw_req_emit_body(struct gw_req *r, const char *data, size_t len);
void gw_req_emit_end(struct gw_req *r);
/* The response cannot complete (origin failed mid-body): h1 closes, h2 resets the stream. */
void gw_req_abort(struct gw_req *r);
/* True when the device side cannot take more now (origin reads should pause). */
bool gw_req_congested(struct gw_req *r);
/* Device side drained: resume the origin if we paused it. */
void gw_req_resume_origin(struct gw_req *r);
/* Request finished from the proto's point of view (access log, metrics). */
void gw_req_log(struct gw_req *r);
/* The origin's write queue drained: accept more request body from the device. */
void gw_req_body_drained(struct gw_req *r);

/* ---- device connections (conn.c: h1 + dispatch; h2.c) ---- */
struct gw_conn {
    struct gw_sock sock; /* first: the sock's close callback finds the conn */
    struct gw_worker *w;
    uint64_t id;
    char idstr[24];
    enum gw_proto proto;
    char sni[256];
    bool has_sni;
    uv_timer_t timer;
    int handles;    /* open uv handles: free when 0 */
    bool idle_trim; /* the timer first trims the idle connection (conn.c) */
    bool closing;
    bool draining;
    struct gw_list link;
    /* h1 */
    char *inbuf;
    size_t inlen, incap;
    struct gw_req *req;
    struct wl_http1_chunked chunked;
    int64_t body_left;
    bool body_chunked;
    bool in_body;
    /* h2 */
    nghttp2_session *h2;
    struct gw_list streams;
    struct gw_list flink;
    bool flush_queued;
    bool in_flush;
};

void gw_conn_accept(struct gw_worker *w, uv_stream_t *server);
void gw_conn_close(struct gw_conn *c);
/* Drain: finish in-flight work, then close. */
void gw_conn_drain(struct gw_conn *c);
/* proto hooks called by req.c */
void gw_h1_resp_head(struct gw_req *r, int status, const char *head, size_t len);
void gw_h1_resp_body(struct gw_req *r, const char *data, size_t len);
void gw_h1_resp_end(struct gw_req *r);
void gw_h1_req_done(struct gw_req *r);
void gw_h1_pause_body(struct gw_conn *c, bool pause);

int gw_h2_init(struct gw_conn *c);
void gw_h2_recv(struct gw_conn *c, const char *data, size_t len);
/* Queues the connection for output at the end of this loop iteration (never re-entrant). */
void gw_h2_flush(struct gw_conn *c);
/* Worker's check callback: writes every queued connection's HTTP/2 output. */
void gw_h2_flush_all(struct gw_worker *w);
void gw_h2_resp_head(struct gw_req *r, int status, struct gw_hdrs *h);
void gw_h2_resp_body_ready(struct gw_req *r);
void gw_h2_consume(struct gw_req *r);
void gw_h2_drain(struct gw_conn *c);
void gw_h2_dispose(struct gw_conn *c);

/* ---- live channels (live.c, issue 7) ----
 * Every authorized request is listed in its worker's registry until it ends: streaming
 * responses, uploads, tunnelled WebSockets and plain requests alike. The config thread turns
 * change-feed events that end access into cut instructions posted to every worker (a lock-free
 * list and the worker's uv_async); the worker cuts every matching channel at once. Sessions'
 * absolute expiry is enforced by a per-worker timer; after session/user/device events every live
 * session is re-validated against Redis; a new snapshot cuts channels of domains that are no
 * longer ACTIVE. */
enum gw_cut_scope {
    GW_CUT_USER,
    GW_CUT_DEVICE,
    GW_CUT_SESSION,
    GW_CUT_DOMAIN,
    GW_CUT_ALL,
    GW_CUT_RECHECK
};
/* Config thread: maps a change-feed event to cut instructions for every worker. */
void gw_live_event(struct gw_server *srv, const char *kind, const char *op, const char *id);
/* Worker: applies posted cut instructions (wake callback) and checks the new snapshot. */
void gw_live_run(struct gw_worker *w);
void gw_live_snapshot(struct gw_worker *w);
/* The session check passed: list r. Returns 0, or 1 + the gw_cut_scope of an instruction that
 * arrived while the check was in flight and already ends r's access (refuse r as that scope
 * would: 401 for a session, 403 for a domain). */
int gw_live_add(struct gw_req *r);
void gw_live_remove(struct gw_req *r);
void gw_live_init(struct gw_worker *w);
void gw_live_stop(struct gw_worker *w); /* worker shutdown: closes the expiry timer */
void gw_live_free(struct gw_worker *w); /* after the worker's thread ended */
uint64_t gw_live_seq(struct gw_worker *w);
/* Cuts one channel now (1008 close frame / RST_STREAM / connection close). May free r. */
void gw_req_cut(struct gw_req *r, const char *why);
/* WebSocket places: per session and per process (--max-ws-per-session, --max-ws-per-fleet).
 * Any thread (a mutex taken only when a WebSocket opens or closes). 0 or -1 (over a limit). */
int gw_ws_limit_acquire(struct gw_server *srv, const char *sid);
void gw_ws_limit_release(struct gw_server *srv, const char *sid);
int gw_ws_limits_init(struct gw_server *srv);

/* ---- WebSocket tunnel (ws.c) ---- */
/* The origin answered 101 to r's upgrade request: answer the device (101, or 200 on h2), then
 * relay `rest` (bytes after the head) and everything after. h = origin headers minus hop-by-hop.
 * Returns -1 when the origin's answer is not a valid WebSocket handshake (r answered 502). */
int gw_ws_open(struct gw_req *r, const struct wl_http1_message *msg, const char *rest,
               size_t restlen);
/* Bytes of either side. Both return -1 when the tunnel was closed (r may be freed), else 0. */
int gw_ws_origin_data(struct gw_req *r, const char *data, size_t len);
int gw_ws_device_data(struct gw_req *r, const char *data, size_t len);
/* The origin side ended (EOF or error). */
void gw_ws_origin_closed(struct gw_req *r);
/* Ends the tunnel toward the device with a close frame `code` when it can be sent at a frame
 * boundary with nothing queued, else at once. May free r. */
void gw_ws_close(struct gw_req *r, int code, const char *reason);
void gw_ws_dispose(struct gw_req *r);
/* h2 extended CONNECT: generates the Sec-WebSocket-Key toward the origin. */
void gw_ws_h2_prepare(struct gw_req *r);

/* ---- origin (origin.c) ---- */
/* Starts fetching r from its origin (host/port/tls by the options). */
void gw_up_fetch(struct gw_req *r);
/* The request is going away: abandon the origin connection (closed, not pooled). */
void gw_up_detach(struct gw_up *u);
/* More request body for the origin is in r->in; write it if connected. */
void gw_up_body_ready(struct gw_up *u);
/* Resume/pause reading the origin response. */
void gw_up_pause(struct gw_up *u, bool pause);
size_t gw_up_wq(struct gw_up *u);
void gw_pool_expire(struct gw_worker *w, bool all);

/* The single place where the connect decision is made (egress policy, issue 6): 0 allows. */
int gw_egress_check(struct gw_worker *w, const char *host, const struct sockaddr *addr);
/* The same with the reason of a refusal (*why, borrowed from the snapshot's policy: copy it). */
int gw_egress_verdict(struct gw_worker *w, const char *host, const struct sockaddr *addr,
                      const char **why);

/* ---- sessions (session.c) ---- */
typedef void (*gw_session_cb)(struct gw_req *r, int result); /* 1 valid, 0 invalid, -1 error */
/* Looks the token up (cache, then Redis). May call cb synchronously. */
void gw_session_check(struct gw_req *r, gw_session_cb cb);
void gw_session_cancel(struct gw_req *r);
/* This worker wrote the first cookie jar of session sid (64 hex): its next requests load it
 * without waiting for the change-feed event that tells the other workers. */
void gw_session_note_jar(struct gw_worker *w, const char *sid);
void gw_worker_redis_connect(struct gw_worker *w);
void gw_worker_redis_dispose(struct gw_worker *w);
/* Called every tick: abandons a Redis connect that never completed. */
void gw_worker_redis_watchdog(struct gw_worker *w);

/* ---- render hook (render_hook.c) ---- */
/* The place where the render stage (issue 5) plugs in: response headers, then body chunks with
 * backpressure. Pass-through for now. */
void gw_render_headers(struct gw_req *r, int *status, struct gw_hdrs *h);
void gw_render_body(struct gw_req *r, const char *data, size_t len);
void gw_render_end(struct gw_req *r);
/* After the session check, before the origin fetch: Accept-Encoding toward the origin, the
 * session's cookie jar loaded (asynchronously) into the Cookie header; then gw_ident_fetch. */
void gw_render_request(struct gw_req *r);
/* Frees the render state of r (stream, jar; cancels a jar load in flight). */
void gw_render_dispose(struct gw_req *r);

/* ---- workers (worker.c) and admin (admin.c) ---- */
int gw_worker_start(struct gw_server *srv, int id, char *err, size_t errlen);
void gw_worker_wake(struct gw_worker *w);
/* Work was queued for the check phase: the next poll must not block (worker thread). */
void gw_worker_poll_now(struct gw_worker *w);
int gw_admin_render_metrics(struct gw_server *srv, char *buf, size_t cap);

/* ---- list helpers ---- */
static inline void gw_list_init(struct gw_list *l)
{
    l->prev = l->next = l;
}
static inline void gw_list_insert(struct gw_list *head, struct gw_list *e)
{
    e->next = head->next;
    e->prev = head;
    head->next->prev = e;
    head->next = e;
}
static inline void gw_list_remove(struct gw_list *e)
{
    if (e->next) {
        e->prev->next = e->next;
        e->next->prev = e->prev;
    }
    e->next = e->prev = NULL;
}
static inline bool gw_list_empty(const struct gw_list *l)
{
    return l->next == l;
}
#define GW_CONTAINER(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Percent-encodes s[0..n) into out (cap bytes, always NUL-terminated, cut short rather than
 * overflow), keeping unreserved characters and '/': for the login redirect's return path. */
void gw_url_encode(char *out, size_t cap, const char *s, size_t n);

#endif
