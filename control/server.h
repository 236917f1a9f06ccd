/* server.h - the admin API's HTTP/1.1 server on libuv (plain TCP or TLS over memory BIOs).
 *
 * Bytes in: TCP (optionally TLS 1.2+) connections. Each request head is parsed with the strict
 * common/http1.h parser; the body (Content-Length or chunked) is collected up to the limits; the
 * complete request is handed to the handler on the loop thread. Bytes out: one response per
 * request, written in request order (pipelining-safe) whatever order the handler answers in.
 * Parser errors are answered with 400/413/431/501/505 and the connection is closed.
 * Everything here runs on the loop thread. */
#ifndef CTL_SERVER_H
#define CTL_SERVER_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "http1.h"

struct ctl_server;
struct ctl_conn;

/* One request. Owned by the server; the handler borrows it from the handler call until it calls
 * ctl_http_respond() exactly once (possibly later, from another loop callback). */
struct ctl_http_req {
    struct wl_http1_message msg; /* slices point into head */
    char *head;
    char *body; /* NUL-terminated for convenience; body_len bytes */
    size_t body_len;
    size_t body_cap;
    char peer_ip[64];
    char conn_id[24];
    bool tls;
    /* private to the server */
    struct ctl_conn *conn;
    struct ctl_http_req *next;
    char *out; /* serialized response */
    size_t out_len;
    bool responded;
    bool close_after;
};

typedef void (*ctl_http_handler)(void *arg, struct ctl_http_req *req);

struct ctl_server_opts {
    const char *host;
    int port;
    struct wl_http1_limits limits;
    SSL_CTX *tls;        /* borrowed; NULL for plain HTTP */
    size_t max_conns;    /* default 1024 */
    uint64_t idle_ms;    /* keep-alive idle timeout; default 60000 */
    uint64_t request_ms; /* a started request must be complete within this; default 30000 (408) */
    size_t max_unsent;   /* answers not yet taken by the peer before reading pauses; 1 MiB */
    size_t max_pipeline; /* requests queued per connection before reading pauses; default 16 */
};

/* Binds and listens on opts->host:port. Returns 0 and a new server in *out, or -1 with a
 * one-line reason in err. The handler and arg are borrowed for the server's lifetime. */
int ctl_server_new(uv_loop_t *loop, const struct ctl_server_opts *opts, ctl_http_handler handler,
                   void *arg, struct ctl_server **out, char *err, size_t errlen);

/* Answers req: status, extra header lines (each "Name: value\r\n", may be NULL; borrowed),
 * Content-Type (borrowed; NULL = application/json), and the body, whose ownership passes to the
 * server (malloc'd, may be NULL when len is 0). After this call req must not be touched. */
void ctl_http_respond(struct ctl_http_req *req, int status, const char *content_type,
                      const char *extra_headers, char *body, size_t len);

/* Stops accepting, lets queued requests finish, closes connections as they become idle, then
 * frees the server and calls done(arg). */
void ctl_server_drain(struct ctl_server *srv, void (*done)(void *), void *arg);

/* Number of open connections (for tests and logs). */
size_t ctl_server_conn_count(const struct ctl_server *srv);

/* Creates a server TLS context (TLS 1.2 minimum) from PEM files. Returns NULL with a reason. */
SSL_CTX *ctl_tls_ctx_new(const char *cert_path, const char *key_path, char *err, size_t errlen);

#endif
