/* main.c - worklink-control: command line, start-up checks, signals. The work is in the library
 * (api.c and what it calls). */
#include <errno.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "admin.h"
#include "api.h"
#include "credentials.h"
#include "envelope.h"
#include "log.h"
#include "model.h"
#include "network_inventory.h"
#include "op.h"
#include "redis_url.h"
#include "server.h"
#include "worker.h"

static const char usage[] =
    "usage: worklink-control --listen HOST:PORT --redis URL --credentials FILE --key-file FILE\n"
    "                        [options]\n"
    "\n"
    "The admin plane of WorkLink: the AWS WorkLink API (2018-09-25) and the ACM subset it needs,\n"
    "over HTTP/1.1 (or HTTPS), signed with SigV4, backed by Redis. Prints `ready` on stdout once\n"
    "it accepts connections; logs JSON lines on stderr; SIGTERM drains; SIGHUP reloads the\n"
    "credentials file.\n"
    "\n"
    "  --listen HOST:PORT         address to serve the API on (e.g. 127.0.0.1:8443)\n"
    "  --admin-listen HOST:PORT   serve GET /healthz and GET /metrics (Prometheus) here\n"
    "  --redis URL                redis://HOST:PORT[/DB], unix:///PATH, or\n"
    "                             sentinel://HOST:PORT[,HOST:PORT...]/MASTER\n"
    "  --credentials FILE         principals: [name] aws_access_key_id, aws_secret_access_key,\n"
    "                             account_id, policy = full|readonly\n"
    "  --key-file FILE            master key (64 hex digits) sealing private keys at rest\n"
    "  --account-id ID            default account id (12 digits; default 123456789012)\n"
    "  --region REGION            region of the endpoint, checked in signatures (us-east-1)\n"
    "  --network FILE             network inventory (subnets, security groups)\n"
    "  --tls-cert FILE            serve HTTPS with this PEM certificate chain...\n"
    "  --tls-key FILE             ...and this PEM private key\n"
    "  --rate-limit N             calls per second per principal, may be fractional\n"
    "                             (default 20; 0 = off)\n"
    "  --burst N                  bucket size per principal (default 40)\n"
    "  --max-body BYTES           largest request body (default 4194304)\n"
    "  --max-header BYTES         largest request head (default 16384)\n"
    "  --idle-timeout MS          keep-alive idle timeout (default 60000)\n"
    "  --request-timeout MS       time to receive a whole request, else 408 (default 30000)\n"
    "  --max-connections N        concurrent connections (default 1024)\n"
    "  --threads N                thread-pool size running operations (default 4)\n"
    "  --cloudtrail-maxlen N      approximate length kept in stream wl:cloudtrail (100000)\n"
    "  --gateway-url-base URL     gateway base for SP metadata, %s = fleet name\n"
    "                             (default https://%s.gateway.localhost)\n"
    "  --fleet-create-delay-ms N  CREATING -> ACTIVE after N ms (default 1000)\n"
    "  --domain-associate-delay-ms N  ASSOCIATING -> ACTIVE after N ms (default 1000)\n"
    "  --fleet-delete-delay-ms N  DELETING -> DELETED after N ms (default 1000)\n"
    "                             (CREATING -> ACTIVE also needs a gateway of the fleet\n"
    "                             beating in wl:{F}:gateways; DELETING -> DELETED waits until\n"
    "                             none beats, see the next two options)\n"
    "  --gateway-ttl-ms N         a gateway whose last heartbeat is older than N ms is gone\n"
    "                             (default 5000)\n"
    "  --fleet-drain-timeout-ms N a deleted fleet becomes DELETED at the latest N ms after\n"
    "                             DeleteFleet even while gateways still beat (default 60000)\n"
    "  --redis-wait-replicas N    after every write, WAIT until N replicas have it, else the\n"
    "                             call fails (default 0: single node, no WAIT)\n"
    "  --redis-wait-ms N          longest WAIT (default 1000)\n"
    "  --log-level LEVEL          debug, info, warn, error (default info)\n"
    "  --help                     this text\n";

struct state {
    uv_loop_t *loop;
    struct ctl_server *server;
    struct ctl_server *admin_server; /* NULL without --admin-listen */
    struct ctl_admin admin;
    int draining_servers;
    struct ctl_worker worker;
    struct ctl_api api;
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t drain_timer;
    bool draining;
    const char *credentials_path;
    struct ctl_config *cfg;
};

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "worklink-control: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

static int parse_ll(const char *opt, const char *s, long long lo, long long hi, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "worklink-control: %s: must be an integer between %lld and %lld\n", opt, lo,
                hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_rate(const char *opt, const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= 0) || v > 1e6) {
        fprintf(stderr, "worklink-control: %s: must be a number between 0 and 1000000\n", opt);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_listen(const char *s, char *host, size_t hcap, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return -1;
    size_t hl = (size_t)(colon - s);
    const char *h = s;
    if (s[0] == '[' && colon[-1] == ']') {
        h = s + 1;
        hl -= 2;
    }
    if (hl >= hcap)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end = NULL;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || p < 0 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void on_admin_drained(void *arg)
{
    struct state *st = arg;
    st->admin_server = NULL;
}

static void on_drained(void *arg)
{
    struct state *st = arg;
    st->server = NULL;
    if (st->admin_server)
        ctl_server_drain(st->admin_server, on_admin_drained, st);
    WL_INFO(NULL, "drained; exiting");
    uv_timer_stop(&st->drain_timer);
    uv_close((uv_handle_t *)&st->drain_timer, NULL);
    uv_close((uv_handle_t *)&st->sigterm, NULL);
    uv_close((uv_handle_t *)&st->sigint, NULL);
    uv_close((uv_handle_t *)&st->sighup, NULL);
}

static void on_drain_timeout(uv_timer_t *t)
{
    struct state *st = t->data;
    WL_WARN(NULL, "drain timeout: closing remaining connections");
    uv_walk(st->loop, close_walk, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct state *st = s->data;
    if (signum == SIGHUP) {
        char err[512];
        struct ctl_credentials c;
        if (ctl_credentials_load(st->credentials_path, st->cfg->account_id, &c, err, sizeof err) <
            0) {
            WL_ERROR(NULL, "SIGHUP: credentials not reloaded: %s", err);
            return;
        }
        WL_INFO(NULL, "SIGHUP: %zu principals loaded", c.n);
        ctl_api_set_credentials(&st->api, &c);
        return;
    }
    if (st->draining)
        return;
    st->draining = true;
    WL_INFO(NULL, "signal %d: draining", signum);
    ctl_worker_stop(&st->worker);
    uv_timer_init(st->loop, &st->drain_timer);
    st->drain_timer.data = st;
    uv_timer_start(&st->drain_timer, on_drain_timeout, 10000, 0);
    uv_unref((uv_handle_t *)&st->drain_timer);
    ctl_server_drain(st->server, on_drained, st);
}

enum {
    O_LISTEN = 256,
    O_ADMIN_LISTEN,
    O_REDIS,
    O_CREDS,
    O_KEY,
    O_ACCOUNT,
    O_REGION,
    O_NETWORK,
    O_TLS_CERT,
    O_TLS_KEY,
    O_RATE,
    O_BURST,
    O_MAX_BODY,
    O_MAX_HEADER,
    O_IDLE,
    O_REQ_TIMEOUT,
    O_MAX_CONNS,
    O_THREADS,
    O_TRAIL,
    O_GW_BASE,
    O_FLEET_CREATE,
    O_DOMAIN_ASSOC,
    O_FLEET_DELETE,
    O_GW_TTL,
    O_FLEET_DRAIN,
    O_WAIT_REPLICAS,
    O_WAIT_MS,
    O_LOG,
    O_HELP,
};

static bool gateway_base_ok(const char *s)
{
    /* exactly one %s and no other conversion: it is used as a format */
    const char *p = strchr(s, '%');
    if (!p || p[1] != 's')
        return false;
    return strchr(p + 2, '%') == NULL;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"admin-listen", required_argument, NULL, O_ADMIN_LISTEN},
        {"redis", required_argument, NULL, O_REDIS},
        {"credentials", required_argument, NULL, O_CREDS},
        {"key-file", required_argument, NULL, O_KEY},
        {"account-id", required_argument, NULL, O_ACCOUNT},
        {"region", required_argument, NULL, O_REGION},
        {"network", required_argument, NULL, O_NETWORK},
        {"tls-cert", required_argument, NULL, O_TLS_CERT},
        {"tls-key", required_argument, NULL, O_TLS_KEY},
        {"rate-limit", required_argument, NULL, O_RATE},
        {"burst", required_argument, NULL, O_BURST},
        {"max-body", required_argument, NULL, O_MAX_BODY},
        {"max-header", required_argument, NULL, O_MAX_HEADER},
        {"idle-timeout", required_argument, NULL, O_IDLE},
        {"request-timeout", required_argument, NULL, O_REQ_TIMEOUT},
        {"max-connections", required_argument, NULL, O_MAX_CONNS},
        {"threads", required_argument, NULL, O_THREADS},
        {"cloudtrail-maxlen", required_argument, NULL, O_TRAIL},
        {"gateway-url-base", required_argument, NULL, O_GW_BASE},
        {"fleet-create-delay-ms", required_argument, NULL, O_FLEET_CREATE},
        {"domain-associate-delay-ms", required_argument, NULL, O_DOMAIN_ASSOC},
        {"fleet-delete-delay-ms", required_argument, NULL, O_FLEET_DELETE},
        {"gateway-ttl-ms", required_argument, NULL, O_GW_TTL},
        {"fleet-drain-timeout-ms", required_argument, NULL, O_FLEET_DRAIN},
        {"redis-wait-replicas", required_argument, NULL, O_WAIT_REPLICAS},
        {"redis-wait-ms", required_argument, NULL, O_WAIT_MS},
        {"log-level", required_argument, NULL, O_LOG},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *listen = NULL, *admin_listen = NULL, *redis = NULL, *creds_path = NULL,
               *key_path = NULL;
    const char *account = "123456789012", *region = "us-east-1", *network = NULL;
    const char *tls_cert = NULL, *tls_key = NULL, *gw_base = "https://%s.gateway.localhost";
    double rate = 20;
    long long burst = 40, max_body = 4 << 20, max_header = 16384, idle = 60000, req_timeout = 30000;
    long long max_conns = 1024, threads = 4, trail_maxlen = 100000;
    long long d_create = 1000, d_assoc = 1000, d_delete = 1000;
    long long gw_ttl = 5000, drain = 60000, wait_replicas = 0, wait_ms = 1000;
    enum wl_log_level level = WL_LOG_INFO;

    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case O_LISTEN:
            listen = optarg;
            break;
        case O_ADMIN_LISTEN:
            admin_listen = optarg;
            break;
        case O_REDIS:
            redis = optarg;
            break;
        case O_CREDS:
            creds_path = optarg;
            break;
        case O_KEY:
            key_path = optarg;
            break;
        case O_ACCOUNT:
            account = optarg;
            break;
        case O_REGION:
            region = optarg;
            break;
        case O_NETWORK:
            network = optarg;
            break;
        case O_TLS_CERT:
            tls_cert = optarg;
            break;
        case O_TLS_KEY:
            tls_key = optarg;
            break;
        case O_RATE:
            rc = parse_rate("--rate-limit", optarg, &rate);
            break;
        case O_BURST:
            rc = parse_ll("--burst", optarg, 1, 1000000, &burst);
            break;
        case O_MAX_BODY:
            rc = parse_ll("--max-body", optarg, 1024, 64LL << 20, &max_body);
            break;
        case O_MAX_HEADER:
            rc = parse_ll("--max-header", optarg, 1024, 1 << 20, &max_header);
            break;
        case O_IDLE:
            rc = parse_ll("--idle-timeout", optarg, 100, 3600000, &idle);
            break;
        case O_REQ_TIMEOUT:
            rc = parse_ll("--request-timeout", optarg, 100, 3600000, &req_timeout);
            break;
        case O_MAX_CONNS:
            rc = parse_ll("--max-connections", optarg, 1, 1000000, &max_conns);
            break;
        case O_THREADS:
            rc = parse_ll("--threads", optarg, 1, 128, &threads);
            break;
        case O_TRAIL:
            rc = parse_ll("--cloudtrail-maxlen", optarg, 1, 1LL << 40, &trail_maxlen);
            break;
        case O_GW_BASE:
            gw_base = optarg;
            break;
        case O_FLEET_CREATE:
            rc = parse_ll("--fleet-create-delay-ms", optarg, 0, 86400000, &d_create);
            break;
        case O_DOMAIN_ASSOC:
            rc = parse_ll("--domain-associate-delay-ms", optarg, 0, 86400000, &d_assoc);
            break;
        case O_FLEET_DELETE:
            rc = parse_ll("--fleet-delete-delay-ms", optarg, 0, 86400000, &d_delete);
            break;
        case O_GW_TTL:
            rc = parse_ll("--gateway-ttl-ms", optarg, 100, 3600000, &gw_ttl);
            break;
        case O_FLEET_DRAIN:
            rc = parse_ll("--fleet-drain-timeout-ms", optarg, 0, 86400000, &drain);
            break;
        case O_WAIT_REPLICAS:
            rc = parse_ll("--redis-wait-replicas", optarg, 0, 16, &wait_replicas);
            break;
        case O_WAIT_MS:
            rc = parse_ll("--redis-wait-ms", optarg, 1, 60000, &wait_ms);
            break;
        case O_LOG:
            if (wl_log_level_parse(optarg, &level) < 0)
                return die("--log-level: must be debug, info, warn or error");
            break;
        case O_HELP:
            fputs(usage, stdout);
            return 0;
        default:
            return die("unknown or incomplete option %s (see --help)", argv[optind - 1]);
        }
        if (rc < 0)
            return 2;
    }
    if (optind < argc)
        return die("unexpected argument %s (see --help)", argv[optind]);
    if (!listen)
        return die("--listen HOST:PORT is required");
    if (!redis)
        return die("--redis URL is required (e.g. redis://127.0.0.1:6379)");
    if (!creds_path)
        return die("--credentials FILE is required");
    if (!key_path)
        return die("--key-file FILE is required");
    if ((tls_cert == NULL) != (tls_key == NULL))
        return die("--tls-cert and --tls-key go together");
    if (strlen(account) != 12 || strspn(account, "0123456789") != 12)
        return die("--account-id: must be 12 digits");
    if (!*region || strlen(region) >= 32 ||
        strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region))
        return die("--region: must be like us-east-1");
    if (strlen(gw_base) >= 200 || !gateway_base_ok(gw_base))
        return die("--gateway-url-base: must contain exactly one %%s (the fleet name)");

    wl_log_init("control", level);
    signal(SIGPIPE, SIG_IGN);

    static struct ctl_config cfg;
    char err[512];
    snprintf(cfg.account_id, sizeof cfg.account_id, "%s", account);
    snprintf(cfg.region, sizeof cfg.region, "%s", region);
    snprintf(cfg.gateway_url_base, sizeof cfg.gateway_url_base, "%s", gw_base);
    cfg.fleet_create_delay_ms = d_create;
    cfg.domain_associate_delay_ms = d_assoc;
    cfg.fleet_delete_delay_ms = d_delete;
    cfg.gateway_ttl_ms = gw_ttl;
    cfg.fleet_drain_ms = drain;
    cfg.wait_replicas = (int)wait_replicas;
    cfg.wait_ms = wait_ms;
    cfg.network = NULL;
    if (wl_master_key_load(key_path, &cfg.master_key, err, sizeof err) < 0)
        return die("--key-file: %s", err);
    if (network) {
        struct wl_net_inventory *inv = NULL;
        if (wl_net_inventory_load(network, &inv, err, sizeof err) < 0)
            return die("--network %s", err);
        cfg.network = inv; /* lives as long as the process */
    }

    struct wl_redis_url url;
    if (wl_redis_url_parse(redis, &url, err, sizeof err) < 0)
        return die("--redis: %s", err);
    char host[256];
    int port;
    if (parse_listen(listen, host, sizeof host, &port) < 0)
        return die("--listen: expected HOST:PORT, got '%s'", listen);
    char admin_host[256];
    int admin_port = 0;
    if (admin_listen && parse_listen(admin_listen, admin_host, sizeof admin_host, &admin_port) < 0)
        return die("--admin-listen: expected HOST:PORT, got '%s'", admin_listen);

    struct ctl_credentials creds;
    if (ctl_credentials_load(creds_path, account, &creds, err, sizeof err) < 0)
        return die("%s", err);

    struct ctl_model *model = NULL;
    if (ctl_model_load(&model, err, sizeof err) < 0) {
        ctl_credentials_dispose(&creds);
        return die("%s", err);
    }

    SSL_CTX *tls = NULL;
    if (tls_cert) {
        tls = ctl_tls_ctx_new(tls_cert, tls_key, err, sizeof err);
        if (!tls) {
            ctl_model_free(model);
            ctl_credentials_dispose(&creds);
            return die("%s", err);
        }
    }

    char tp[16];
    snprintf(tp, sizeof tp, "%lld", threads);
    setenv("UV_THREADPOOL_SIZE", tp, 1);

    static struct state st;
    st.loop = uv_default_loop();
    st.cfg = &cfg;
    st.credentials_path = creds_path;
    ctl_worker_init(&st.worker, st.loop, &url, &cfg);

    /* fail fast on an unreachable Redis: a wrong --redis is a bad setting */
    redisContext *probe = ctl_worker_redis(&st.worker, err, sizeof err);
    if (!probe) {
        SSL_CTX_free(tls);
        ctl_model_free(model);
        ctl_credentials_dispose(&creds);
        return die("--redis %s: %s", redis, err);
    }
    redisReply *pong = redisCommand(probe, "PING");
    bool ok = pong && pong->type != REDIS_REPLY_ERROR;
    char why[256];
    snprintf(why, sizeof why, "%s",
             pong && pong->type == REDIS_REPLY_ERROR ? pong->str : "no answer");
    if (pong)
        freeReplyObject(pong);
    ctl_worker_redis_close();
    if (!ok) {
        SSL_CTX_free(tls);
        ctl_model_free(model);
        ctl_credentials_dispose(&creds);
        return die("--redis %s: PING failed: %s", redis, why);
    }

    ctl_api_init(&st.api, st.loop, model, &cfg, &st.worker, &creds, rate, (double)burst,
                 trail_maxlen);

    struct ctl_server_opts so;
    memset(&so, 0, sizeof so);
    so.host = host;
    so.port = port;
    wl_http1_limits_default(&so.limits);
    so.limits.max_header_bytes = (size_t)max_header;
    so.limits.max_body_bytes = (uint64_t)max_body;
    so.tls = tls;
    so.max_conns = (size_t)max_conns;
    so.idle_ms = (uint64_t)idle;
    so.request_ms = (uint64_t)req_timeout;
    if (admin_listen) {
        struct ctl_server_opts ao;
        memset(&ao, 0, sizeof ao);
        ao.host = admin_host;
        ao.port = admin_port;
        wl_http1_limits_default(&ao.limits);
        ao.limits.max_body_bytes = 4096;
        ao.max_conns = 64;
        st.admin.api = &st.api;
        st.admin.api_srv = &st.server;
        if (ctl_server_new(st.loop, &ao, ctl_admin_handle, &st.admin, &st.admin_server, err,
                           sizeof err) < 0) {
            ctl_api_dispose(&st.api);
            SSL_CTX_free(tls);
            ctl_model_free(model);
            return die("--admin-listen %s", err);
        }
    }
    if (ctl_server_new(st.loop, &so, ctl_api_handle, &st.api, &st.server, err, sizeof err) < 0) {
        if (st.admin_server) {
            ctl_server_drain(st.admin_server, on_admin_drained, &st);
            uv_run(st.loop, UV_RUN_DEFAULT);
        }
        ctl_api_dispose(&st.api);
        SSL_CTX_free(tls);
        ctl_model_free(model);
        return die("--listen %s", err);
    }
    ctl_worker_start_reconciler(&st.worker, 200);

    uv_signal_init(st.loop, &st.sigterm);
    uv_signal_init(st.loop, &st.sigint);
    uv_signal_init(st.loop, &st.sighup);
    st.sigterm.data = st.sigint.data = st.sighup.data = &st;
    uv_signal_start(&st.sigterm, on_signal, SIGTERM);
    uv_signal_start(&st.sigint, on_signal, SIGINT);
    uv_signal_start(&st.sighup, on_signal, SIGHUP);

    WL_INFO(NULL, "listening on %s:%d (%s), region %s, %zu principals", host, port,
            tls ? "https" : "http", region, st.api.creds.n);
    struct stat cst;
    if (stat(creds_path, &cst) == 0 && (cst.st_mode & 077))
        WL_WARN(NULL, "--credentials %s is readable by other users (mode %03o): chmod 600 it",
                creds_path, (unsigned)(cst.st_mode & 0777));

    printf("ready\n");
    fflush(stdout);

    uv_run(st.loop, UV_RUN_DEFAULT);
    uv_walk(st.loop, close_walk, NULL);
    uv_run(st.loop, UV_RUN_DEFAULT);
    int lc = uv_loop_close(st.loop);
    ctl_api_dispose(&st.api);
    ctl_model_free(model);
    SSL_CTX_free(tls);
    if (lc != 0)
        WL_WARN(NULL, "event loop closed with handles still open");
    return 0;
}
