/* bench_render.c - throughput of the render/ pipeline on one core.
 *
 * Builds a corpus of real-world-sized HTML pages in memory (several hundred KB each: navigation
 * with many links, paragraphs with character references, tables, images with srcset, forms,
 * inline <script> with markup in strings, <style> with url()s) in two flavours:
 *   - "no rule matches": every link is relative or already in tunnel form;
 *   - "every link rewritten": every absolute link points to http://<associated domain> (moved
 *     into the tunnel) or to a foreign host (blocked);
 * and measures, single-threaded, MB/s of input for:
 *   memcpy      the same bytes copied in 64 KiB pieces (the limit, measured in the same run);
 *   tokenizer   html_tokenizer alone with every event delivered (what a full parser would see);
 *   nomatch     html_rewriter, no URL rewritten (output == input);
 *   all         html_rewriter, every link rewritten;
 *   e2e-gzip    rnd_stream: gunzip -> rewrite (every link) -> gzip, per decoded byte;
 *   e2e-br      rnd_stream: gunzip -> rewrite (every link) -> brotli, per decoded byte;
 *   e2e-id      rnd_stream: gunzip -> rewrite (every link) -> identity, per decoded byte;
 * with each figure's ratio to memcpy, the peak memory held per stream (through the API), the
 * compression ratio of the e2e output (decoded bytes / bytes sent) and the process's peak RSS. Each
 * row is the best of --runs runs; the rows are interleaved so that a moment of load from other
 * processes does not hit only one of them. Time is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID),
 * so MB/s is per CPU-second of one core: on a shared machine the time other processes take the core
 * away does not count (their cache pollution still does). Build it optimised: cmake
 * -DCMAKE_BUILD_TYPE=Release (no sanitizers). Usage: bench_render [SECONDS-per-measurement (default
 * 1)] [--runs N (default 3)] [--only KEY] bench_render --dump PREFIX    (writes one page of each
 * flavour) */
#include "html_rewriter.h"
#include "html_tokenizer.h"
#include "stream.h"
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <zlib.h>

static void addf(struct rnd_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static void addf(struct rnd_sb *b, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    rnd_sb_add(b, tmp, (size_t)n);
}

static unsigned rng_state = 42;

static unsigned rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

static const char *words[] = {"report",   "quarterly", "the",      "employee", "portal",
                              "benefits", "policy",    "and",      "update",   "project",
                              "status",   "of",        "security", "network",  "wiki"};

/* One page of about `target` bytes. rewrite=1: absolute links that the policy changes. */
static void make_page(struct rnd_sb *b, size_t target, int rewrite, int seed)
{
    rng_state = (unsigned)seed * 7919u + 1;
    const char *in = rewrite ? "http://wiki.example.com" : "https://wiki.example.com";
    const char *out = rewrite ? "https://cdn.other.example.net" : "";
    addf(b,
         "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<title>Intranet &mdash; page %d</title>\n"
         "<link rel=\"stylesheet\" href=\"%s/static/site.css?v=%d\">\n<style>\n",
         seed, in, seed);
    for (int i = 0; i < 60; i++)
        addf(b,
             ".c%d { color: #%06x; margin: %dpx; background: url(%s/img/bg%d.png) no-repeat; }\n",
             i, rnd() & 0xffffff, i % 17, rewrite ? out : "/static", i);
    rnd_sb_add(b, "</style>\n", 9);
    while (b->len < target) {
        /* navigation */
        rnd_sb_add(b, "<nav><ul>", 9);
        for (int i = 0; i < 40; i++)
            addf(b,
                 "<li class=\"nav-item c%d\"><a href=\"%s/wiki/Page_%u?section=%d&amp;lang=en\" "
                 "title=\"Go to page %u\">%s %s</a></li>\n",
                 i % 60, i % 2 ? in : (rewrite ? out : ""), rnd() % 100000, i, rnd() % 1000,
                 words[rnd() % 15], words[rnd() % 15]);
        rnd_sb_add(b, "</ul></nav>\n", 12);
        /* script with markup in strings */
        rnd_sb_add(b, "<script>\n", 9);
        for (int i = 0; i < 30; i++)
            addf(b,
                 "  var el%d = document.getElementById('x%d'); if (el%d && a < b) "
                 "{ el%d.innerHTML = '<a href=\"/p/%d\">' + name + '</a>'; }\n",
                 i, i, i, i, i);
        rnd_sb_add(b, "</script>\n", 10);
        /* article */
        rnd_sb_add(b, "<article>", 9);
        for (int p = 0; p < 12; p++) {
            rnd_sb_add(b, "<p>", 3);
            for (int w = 0; w < 60; w++) {
                const char *word = words[rnd() % 15];
                rnd_sb_add(b, word, strlen(word));
                if (w % 13 == 0)
                    rnd_sb_add(b, " &amp; ", 7);
                else if (w % 17 == 0)
                    rnd_sb_add(b, "&nbsp;", 6);
                else
                    rnd_sb_add(b, " ", 1);
            }
            addf(b,
                 "<a href=\"%s/docs/%u.pdf\">doc</a> <img src=\"%s/img/%u.jpg\" "
                 "srcset=\"%s/img/%u@2x.jpg 2x, %s/img/%u@3x.jpg 3x\" alt=\"photo\"></p>\n",
                 in, rnd() % 1000, rewrite ? out : "/static", rnd() % 1000, in, rnd() % 1000,
                 rewrite ? out : "", rnd() % 1000);
        }
        rnd_sb_add(b, "</article>\n<table>", 18);
        for (int r = 0; r < 20; r++)
            addf(b, "<tr><td>%u</td><td><a href='%s/item/%u'>item %u</a></td><td>%s</td></tr>\n",
                 rnd() % 1000, r % 2 ? in : (rewrite ? out : ""), rnd(), rnd() % 100,
                 words[rnd() % 15]);
        addf(b,
             "</table>\n<form action=\"%s/search\" method=get><input name=q "
             "value=\"\"><button formaction=\"%s/search2\">go</button></form>\n",
             in, rewrite ? out : "");
    }
    rnd_sb_add(b, "</body></html>\n", 15);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID,
                  &ts); /* CPU time: other load on the machine does not count */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t sink_bytes;

static void sink(void *ud, const void *p, size_t n)
{
    (void)ud;
    (void)p;
    sink_bytes += n;
}

static void tok_sink(void *ud, const struct rnd_tok_event *ev)
{
    (void)ud;
    sink_bytes += ev->len;
}

static const char *const domains[] = {"wiki.example.com", "*.corp.example.com"};

static struct rnd_url_policy policy(void)
{
    struct rnd_url_policy u;
    memset(&u, 0, sizeof u);
    u.domains = domains;
    u.ndomains = 2;
    u.foreign = RND_FOREIGN_BLOCK;
    return u;
}

enum mode { M_MEMCPY, M_TOK, M_RW, M_E2E_GZIP, M_E2E_BR, M_E2E_ID };

static size_t peak_held;
static uint64_t e2e_in, e2e_out; /* decoded bytes in, encoded bytes out (compression ratio) */

/* One stream through rnd_stream (gunzip -> rewrite -> out_coding), drained as it goes. */
static void e2e(const struct rnd_url_policy *u, const struct rnd_sb *gz, enum rnd_coding out_coding)
{
    struct rnd_stream_config cfg = {.urls = u,
                                    .mode = RND_BODY_REWRITE_HTML,
                                    .in_coding = RND_CODING_GZIP,
                                    .out_coding = out_coding};
    struct rnd_stream *s = rnd_stream_new(&cfg);
    if (!s)
        abort();
    size_t off = 0;
    for (;;) {
        if (off < gz->len) {
            size_t k = gz->len - off < 65536 ? gz->len - off : 65536;
            ssize_t r = rnd_stream_feed(s, gz->p + off, k);
            if (r < 0)
                abort();
            off += (size_t)r;
        } else if (rnd_stream_finish(s) < 0) {
            abort();
        }
        size_t h = rnd_stream_bytes_held(s);
        if (h > peak_held)
            peak_held = h;
        const void *q;
        size_t qn = rnd_stream_peek(s, &q);
        sink_bytes += qn;
        e2e_out += qn;
        rnd_stream_consume(s, qn);
        if (rnd_stream_done(s))
            break;
    }
    e2e_in += rnd_stream_decoded(s);
    rnd_stream_free(s);
}

/* Processes the whole corpus once in 64 KiB pieces; returns decoded bytes processed. */
static size_t pass(enum mode m, struct rnd_sb *pages, struct rnd_sb *gz, int n)
{
    static char dst[65536];
    struct rnd_url_policy u = policy();
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        const char *p = pages[i].p;
        size_t len = pages[i].len;
        if (m == M_MEMCPY) {
            for (size_t o = 0; o < len; o += sizeof dst) {
                size_t k = len - o < sizeof dst ? len - o : sizeof dst;
                memcpy(dst, p + o, k);
                sink_bytes += (unsigned char)dst[k - 1];
            }
        } else if (m == M_TOK) {
            struct rnd_tok *t = rnd_tok_new(tok_sink, NULL);
            for (size_t o = 0; o < len; o += 65536)
                rnd_tok_feed(t, p + o, len - o < 65536 ? len - o : 65536);
            rnd_tok_finish(t);
            rnd_tok_free(t);
        } else if (m == M_RW) {
            struct rnd_rewriter *rw = rnd_rewriter_new(&u, sink, NULL);
            for (size_t o = 0; o < len; o += 65536) {
                rnd_rewriter_feed(rw, p + o, len - o < 65536 ? len - o : 65536);
                size_t h = rnd_rewriter_bytes_held(rw);
                if (h > peak_held)
                    peak_held = h;
            }
            rnd_rewriter_finish(rw);
            rnd_rewriter_free(rw);
        } else {
            e2e(&u, &gz[i],
                m == M_E2E_GZIP ? RND_CODING_GZIP
                : m == M_E2E_BR ? RND_CODING_BR
                                : RND_CODING_IDENTITY);
        }
        total += len;
    }
    return total;
}

/* MB/s of one measurement: at least `secs` seconds of whole-corpus passes. */
static double measure(enum mode m, struct rnd_sb *pages, struct rnd_sb *gz, int n, double secs)
{
    pass(m, pages, gz, n); /* warm up */
    size_t bytes = 0;
    double t0 = now(), t;
    do {
        bytes += pass(m, pages, gz, n);
        t = now();
    } while (t - t0 < secs);
    return (double)bytes / (t - t0) / 1e6;
}

static void gzip_page(const struct rnd_sb *in, struct rnd_sb *out)
{
    uLongf cap = compressBound(in->len) + 64;
    out->p = malloc(cap);
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)in->p;
    z.avail_in = (uInt)in->len;
    z.next_out = (Bytef *)out->p;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    out->len = cap - z.avail_out;
    deflateEnd(&z);
}

struct row {
    const char *key, *label;
    enum mode m;
    int all; /* the every-link flavour */
    double best;
    size_t held;
    double ratio; /* decoded / encoded bytes (e2e rows) */
};

static void usage(void)
{
    fprintf(stderr, "usage: bench_render [SECONDS] [--runs N] [--only KEY]\n"
                    "       bench_render --dump PREFIX\n"
                    "KEY: memcpy tokenizer nomatch all e2e-gzip e2e-br e2e-id\n");
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "--dump") == 0) {
        /* writes one page of each flavour (PREFIX-nomatch.html, PREFIX-all.html) */
        struct rnd_sb a = {0}, b = {0};
        make_page(&a, 400000, 0, 1);
        make_page(&b, 400000, 1, 1);
        char path[4096];
        snprintf(path, sizeof path, "%s-nomatch.html", argv[2]);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(a.p, 1, a.len, f) != a.len || fclose(f) != 0)
            return 1;
        snprintf(path, sizeof path, "%s-all.html", argv[2]);
        f = fopen(path, "wb");
        if (!f || fwrite(b.p, 1, b.len, f) != b.len || fclose(f) != 0)
            return 1;
        return 0;
    }
    double secs = 1.0;
    int runs = 3;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (argv[i][0] != '-' && atof(argv[i]) > 0) {
            secs = atof(argv[i]);
        } else {
            usage();
            return 2;
        }
    }
    if (runs < 1)
        runs = 1;
    enum { NPAGES = 8 };
    struct rnd_sb plain[NPAGES] = {{0}}, all[NPAGES] = {{0}}, gz[NPAGES] = {{0}};
    size_t total = 0, total_plain = 0, links = 0;
    for (int i = 0; i < NPAGES; i++) {
        make_page(&plain[i], 300000 + (size_t)i * 40000, 0, i);
        make_page(&all[i], 300000 + (size_t)i * 40000, 1, i);
        gzip_page(&all[i], &gz[i]);
        total += all[i].len;
        total_plain += plain[i].len;
    }
    /* check the two flavours: nothing changes / every link changes */
    struct rnd_url_policy u = policy();
    for (int i = 0; i < NPAGES; i++) {
        struct rnd_rewrite_stats st;
        struct rnd_rewriter *rw = rnd_rewriter_new(&u, sink, NULL);
        rnd_rewriter_feed(rw, plain[i].p, plain[i].len);
        rnd_rewriter_finish(rw);
        rnd_rewriter_stats(rw, &st);
        if (st.rewritten + st.blocked != 0) {
            fprintf(stderr, "no-match page %d had %llu rewrites\n", i,
                    (unsigned long long)(st.rewritten + st.blocked));
            return 1;
        }
        rnd_rewriter_free(rw);
        rw = rnd_rewriter_new(&u, sink, NULL);
        rnd_rewriter_feed(rw, all[i].p, all[i].len);
        rnd_rewriter_finish(rw);
        rnd_rewriter_stats(rw, &st);
        links += st.rewritten + st.blocked;
        rnd_rewriter_free(rw);
    }
    printf("corpus: %d pages, %.1f MB (no-match flavour %.1f MB), %zu links rewritten in the "
           "every-link flavour (%.0f per page)\n",
           NPAGES, (double)total / 1e6, (double)total_plain / 1e6, links, (double)links / NPAGES);
    printf("single core, 64 KiB input pieces, best of %d runs of %.1f s each (rows interleaved, "
           "so a busy moment hits every row alike):\n",
           runs, secs);
    struct row rows[] = {
        {"memcpy", "memcpy (the limit)", M_MEMCPY, 1, 0, 0, 0},
        {"tokenizer", "tokenizer, every event", M_TOK, 1, 0, 0, 0},
        {"nomatch", "rewrite, no rule matches", M_RW, 0, 0, 0, 0},
        {"all", "rewrite, every link rewritten", M_RW, 1, 0, 0, 0},
        {"e2e-gzip", "e2e gunzip+rewrite+gzip (decoded)", M_E2E_GZIP, 1, 0, 0, 0},
        {"e2e-br", "e2e gunzip+rewrite+br (decoded)", M_E2E_BR, 1, 0, 0, 0},
        {"e2e-id", "e2e gunzip+rewrite, identity out", M_E2E_ID, 1, 0, 0, 0},
    };
    enum { NROWS = sizeof rows / sizeof rows[0] };
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < NROWS; k++) {
            if (only && strcmp(only, rows[k].key) != 0)
                continue;
            peak_held = 0;
            e2e_in = e2e_out = 0;
            double mbs = measure(rows[k].m, rows[k].all ? all : plain, gz, NPAGES, secs);
            if (mbs > rows[k].best)
                rows[k].best = mbs;
            if (peak_held > rows[k].held)
                rows[k].held = peak_held;
            if (e2e_out)
                rows[k].ratio = (double)e2e_in / (double)e2e_out;
        }
    }
    double mc = rows[0].best;
    printf("  %-36s %10s %9s %14s %7s\n", "", "MB/s", "/memcpy", "held/stream", "ratio");
    for (int k = 0; k < NROWS; k++) {
        if (only && strcmp(only, rows[k].key) != 0)
            continue;
        printf("  %-36s %10.1f", rows[k].label, rows[k].best);
        if (mc > 0)
            printf(" %9.4f", rows[k].best / mc);
        else
            printf(" %9s", "-");
        if (rows[k].held)
            printf(" %10.1f KiB", (double)rows[k].held / 1024);
        if (rows[k].ratio > 0)
            printf(" %6.2fx", rows[k].ratio);
        printf("\n");
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS of the process (corpus included): %ld KiB\n", ru.ru_maxrss);
    (void)sink_bytes;
    return 0;
}
