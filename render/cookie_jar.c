/* cookie_jar.c - RFC 6265 cookie storage and retrieval (see cookie_jar.h). */
#include "cookie_jar.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strbuf.h"

struct rnd_jar {
    struct rnd_cookie *c;
    size_t n, cap;
    size_t bytes;
};

static char *dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        abort();
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static size_t cookie_bytes(const struct rnd_cookie *c)
{
    return strlen(c->name) + strlen(c->value) + strlen(c->domain) + strlen(c->path);
}

static void cookie_free(struct rnd_cookie *c)
{
    free(c->name);
    free(c->value);
    free(c->domain);
    free(c->path);
}

struct rnd_jar *rnd_jar_new(void)
{
    struct rnd_jar *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    return j;
}

static void jar_clear(struct rnd_jar *j)
{
    for (size_t i = 0; i < j->n; i++)
        cookie_free(&j->c[i]);
    j->n = 0;
    j->bytes = 0;
}

void rnd_jar_free(struct rnd_jar *j)
{
    if (!j)
        return;
    jar_clear(j);
    free(j->c);
    free(j);
}

size_t rnd_jar_count(const struct rnd_jar *j)
{
    return j->n;
}

size_t rnd_jar_bytes(const struct rnd_jar *j)
{
    return j->bytes;
}

const struct rnd_cookie *rnd_jar_get(const struct rnd_jar *j, size_t i)
{
    return i < j->n ? &j->c[i] : NULL;
}

static void jar_remove(struct rnd_jar *j, size_t i)
{
    j->bytes -= cookie_bytes(&j->c[i]);
    cookie_free(&j->c[i]);
    memmove(&j->c[i], &j->c[i + 1], (j->n - i - 1) * sizeof j->c[0]);
    j->n--;
}

/* ---- dates (RFC 6265 5.1.1) ---- */

static int is_delim(int c)
{
    return c == 0x09 || (c >= 0x20 && c <= 0x2F) || (c >= 0x3B && c <= 0x40) ||
           (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
}

static int digits(const char *s, size_t n, size_t min, size_t max, int *out)
{
    size_t i = 0;
    int v = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && i < max) {
        v = v * 10 + (s[i] - '0');
        i++;
    }
    if (i < min)
        return -1;
    if (i < n && s[i] >= '0' && s[i] <= '9')
        return -1;
    *out = v;
    return (int)i;
}

static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int rnd_cookie_date_parse(const char *s, size_t n, int64_t *out)
{
    static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                         "jul", "aug", "sep", "oct", "nov", "dec"};
    int have_time = 0, have_day = 0, have_month = 0, have_year = 0;
    int hh = 0, mm = 0, ss = 0, day = 0, month = 0, year = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && is_delim((unsigned char)s[i]))
            i++;
        size_t st = i;
        while (i < n && !is_delim((unsigned char)s[i]))
            i++;
        const char *t = s + st;
        size_t tl = i - st;
        if (tl == 0)
            continue;
        int a, b, c, k;
        if (!have_time && (k = digits(t, tl, 1, 2, &a)) > 0 && (size_t)k < tl && t[k] == ':') {
            size_t p = (size_t)k + 1;
            int k2 = digits(t + p, tl - p, 1, 2, &b);
            if (k2 > 0 && p + (size_t)k2 < tl && t[p + (size_t)k2] == ':') {
                size_t q = p + (size_t)k2 + 1;
                int k3 = digits(t + q, tl - q, 1, 2, &c);
                if (k3 > 0) {
                    have_time = 1;
                    hh = a;
                    mm = b;
                    ss = c;
                    continue;
                }
            }
        }
        if (!have_day && digits(t, tl, 1, 2, &a) > 0) {
            have_day = 1;
            day = a;
            continue;
        }
        if (!have_month && tl >= 3) {
            for (int m = 0; m < 12; m++)
                if (strncasecmp(t, months[m], 3) == 0) {
                    have_month = 1;
                    month = m + 1;
                }
            if (have_month)
                continue;
        }
        if (!have_year && digits(t, tl, 2, 4, &a) > 0) {
            have_year = 1;
            year = a;
            continue;
        }
    }
    if (have_year && year >= 70 && year <= 99)
        year += 1900;
    if (have_year && year >= 0 && year <= 69)
        year += 2000;
    if (!have_time || !have_day || !have_month || !have_year)
        return -1;
    if (day < 1 || day > 31 || year < 1601 || hh > 23 || mm > 59 || ss > 59)
        return -1;
    *out = (days_from_civil(year, month, day) * 86400 + hh * 3600 + mm * 60 + ss) * 1000;
    return 0;
}

/* ---- matching ---- */

static int is_ip(const char *h)
{
    if (strchr(h, ':'))
        return 1;
    for (const char *p = h; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '.'))
            return 0;
    return 1;
}

static int domain_match(const char *host, const char *domain)
{
    size_t hl = strlen(host), dl = strlen(domain);
    if (hl == dl)
        return strcmp(host, domain) == 0;
    return hl > dl && host[hl - dl - 1] == '.' && strcmp(host + hl - dl, domain) == 0 &&
           !is_ip(host);
}

static int path_match(const char *req, const char *cp)
{
    size_t cl = strlen(cp);
    if (strncmp(req, cp, cl) != 0)
        return 0;
    return req[cl] == 0 || cp[cl - 1] == '/' || req[cl] == '/';
}

static char *default_path(const char *path)
{
    if (!path || path[0] != '/')
        return dupn("/", 1);
    const char *q = path + strcspn(path, "?#");
    const char *last = NULL;
    for (const char *p = path; p < q; p++)
        if (*p == '/')
            last = p;
    if (last == path)
        return dupn("/", 1);
    return dupn(path, (size_t)(last - path));
}

static int has_ctl(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F)
            return 1;
    }
    return 0;
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* Makes room for a cookie of `size` bytes on `domain`; returns -1 if impossible. */
static int make_room(struct rnd_jar *j, const char *domain, size_t size, int64_t now)
{
    for (size_t i = j->n; i-- > 0;)
        if (j->c[i].expires <= now)
            jar_remove(j, i);
    for (;;) {
        size_t per = 0, oldest = SIZE_MAX, oldest_dom = SIZE_MAX;
        for (size_t i = 0; i < j->n; i++) {
            if (strcmp(j->c[i].domain, domain) == 0) {
                per++;
                if (oldest_dom == SIZE_MAX || j->c[i].created < j->c[oldest_dom].created)
                    oldest_dom = i;
            }
            if (oldest == SIZE_MAX || j->c[i].created < j->c[oldest].created)
                oldest = i;
        }
        if (per >= RND_JAR_PER_DOMAIN) {
            jar_remove(j, oldest_dom);
            continue;
        }
        if (j->n >= RND_JAR_MAX_COOKIES || j->bytes + size > RND_JAR_MAX_BYTES) {
            if (oldest == SIZE_MAX)
                return -1;
            jar_remove(j, oldest);
            continue;
        }
        return 0;
    }
}

/* Inserts c (taking ownership of its strings), replacing a cookie with the same identity. */
static int jar_store(struct rnd_jar *j, struct rnd_cookie *c, int64_t now)
{
    for (size_t i = 0; i < j->n; i++) {
        struct rnd_cookie *o = &j->c[i];
        if (strcmp(o->name, c->name) == 0 && strcmp(o->domain, c->domain) == 0 &&
            strcmp(o->path, c->path) == 0) {
            c->created = o->created;
            jar_remove(j, i);
            break;
        }
    }
    if (c->expires <= now) {
        cookie_free(c);
        return 0; /* a deletion */
    }
    size_t size = cookie_bytes(c);
    if (make_room(j, c->domain, size, now) != 0) {
        cookie_free(c);
        return -1;
    }
    if (j->n == j->cap) {
        j->cap = j->cap ? j->cap * 2 : 8;
        struct rnd_cookie *nc = realloc(j->c, j->cap * sizeof *nc);
        if (!nc)
            abort();
        j->c = nc;
    }
    j->c[j->n++] = *c;
    j->bytes += size;
    return 0;
}

int rnd_jar_set(struct rnd_jar *j, const char *sc, size_t n, int https, const char *host,
                const char *path, int64_t now)
{
    const char *semi = memchr(sc, ';', n);
    size_t nvl = semi ? (size_t)(semi - sc) : n;
    const char *eq = memchr(sc, '=', nvl);
    if (!eq)
        return -1;
    const char *name = sc, *val = eq + 1;
    size_t nl = (size_t)(eq - sc), vl = nvl - nl - 1;
    trim(&name, &nl);
    trim(&val, &vl);
    if (nl == 0 || nl + vl > RND_JAR_COOKIE_MAX || has_ctl(name, nl) || has_ctl(val, vl))
        return -1;
    int64_t expires = INT64_MAX, maxage = 0;
    int have_maxage = 0, secure = 0, http_only = 0;
    enum rnd_samesite ss = RND_SAMESITE_DEFAULT;
    char *domain = NULL, *cpath = NULL;
    const char *p = semi ? semi + 1 : sc + n;
    const char *end = sc + n;
    while (p < end) {
        const char *e = memchr(p, ';', (size_t)(end - p));
        if (!e)
            e = end;
        const char *an = p, *av = NULL;
        size_t anl = (size_t)(e - p), avl = 0;
        const char *aeq = memchr(p, '=', anl);
        if (aeq) {
            av = aeq + 1;
            avl = (size_t)(e - av);
            anl = (size_t)(aeq - p);
            trim(&av, &avl);
        }
        trim(&an, &anl);
        if (anl == 7 && strncasecmp(an, "expires", 7) == 0 && av) {
            int64_t t;
            if (rnd_cookie_date_parse(av, avl, &t) == 0)
                expires = t;
        } else if (anl == 7 && strncasecmp(an, "max-age", 7) == 0 && av && avl > 0 && avl < 19) {
            int neg = av[0] == '-';
            size_t k = neg ? 1 : 0;
            int64_t v = 0;
            int ok = k < avl;
            for (; k < avl; k++) {
                if (av[k] < '0' || av[k] > '9') {
                    ok = 0;
                    break;
                }
                v = v * 10 + (av[k] - '0');
            }
            if (ok) {
                have_maxage = 1;
                maxage = neg ? -v : v;
            }
        } else if (anl == 6 && strncasecmp(an, "domain", 6) == 0 && av && avl > 0) {
            if (av[0] == '.') {
                av++;
                avl--;
            }
            free(domain);
            domain = dupn(av, avl);
            for (char *d = domain; *d; d++)
                if (*d >= 'A' && *d <= 'Z')
                    *d = (char)(*d + 32);
        } else if (anl == 4 && strncasecmp(an, "path", 4) == 0) {
            free(cpath);
            cpath = (av && avl > 0 && av[0] == '/') ? dupn(av, avl) : NULL;
        } else if (anl == 6 && strncasecmp(an, "secure", 6) == 0) {
            secure = 1;
        } else if (anl == 8 && strncasecmp(an, "httponly", 8) == 0) {
            http_only = 1;
        } else if (anl == 8 && strncasecmp(an, "samesite", 8) == 0 && av) {
            if (avl == 3 && strncasecmp(av, "lax", 3) == 0)
                ss = RND_SAMESITE_LAX;
            else if (avl == 6 && strncasecmp(av, "strict", 6) == 0)
                ss = RND_SAMESITE_STRICT;
            else if (avl == 4 && strncasecmp(av, "none", 4) == 0)
                ss = RND_SAMESITE_NONE;
        }
        p = e + 1;
    }
    int persistent = expires != INT64_MAX || have_maxage;
    if (have_maxage)
        /* RFC 6265 5.2.2: a huge Max-Age means "the latest representable time" */
        expires = maxage <= 0                             ? INT64_MIN
                  : maxage > (INT64_MAX - now) / 1000 - 1 ? INT64_MAX - 1
                                                          : now + maxage * 1000;
    struct rnd_cookie c;
    memset(&c, 0, sizeof c);
    int bad = 0;
    if (domain && (domain[0] == 0 || has_ctl(domain, strlen(domain))))
        bad = 1;
    if (domain && !bad) {
        if (!strchr(domain, '.') || !domain_match(host, domain))
            bad = 1; /* no public suffix list: at least refuse TLDs and foreign domains */
    }
    if (secure && !https)
        bad = 1;
    if (nl >= 9 && strncmp(name, "__Secure-", 9) == 0 && !secure)
        bad = 1;
    if (nl >= 7 && strncmp(name, "__Host-", 7) == 0 &&
        (!secure || domain || !cpath || strcmp(cpath, "/") != 0))
        bad = 1;
    if (cpath && has_ctl(cpath, strlen(cpath)))
        bad = 1;
    if (bad) {
        free(domain);
        free(cpath);
        return -1;
    }
    c.name = dupn(name, nl);
    c.value = dupn(val, vl);
    c.host_only = domain == NULL;
    c.domain = domain ? domain : dupn(host, strlen(host));
    c.path = cpath ? cpath : default_path(path);
    c.expires = expires;
    c.created = now;
    c.secure = (unsigned)secure;
    c.http_only = (unsigned)http_only;
    c.persistent = (unsigned)persistent;
    c.same_site = ss;
    return jar_store(j, &c, now);
}

static int cmp_ptr(const void *a, const void *b)
{
    const struct rnd_cookie *x = *(const struct rnd_cookie *const *)a;
    const struct rnd_cookie *y = *(const struct rnd_cookie *const *)b;
    size_t xl = strlen(x->path), yl = strlen(y->path);
    if (xl != yl)
        return xl > yl ? -1 : 1;
    return x->created < y->created ? -1 : x->created > y->created;
}

char *rnd_jar_cookie_header(struct rnd_jar *j, int https, const char *host, const char *path,
                            int64_t now)
{
    for (size_t i = j->n; i-- > 0;)
        if (j->c[i].expires <= now)
            jar_remove(j, i);
    if (!path || path[0] != '/')
        path = "/";
    const struct rnd_cookie **sel = malloc((j->n + 1) * sizeof *sel);
    if (!sel)
        abort();
    size_t k = 0, len = 0;
    for (size_t i = 0; i < j->n; i++) {
        const struct rnd_cookie *c = &j->c[i];
        int dm = c->host_only ? strcmp(host, c->domain) == 0 : domain_match(host, c->domain);
        if (!dm || !path_match(path, c->path) || (c->secure && !https))
            continue;
        sel[k++] = c;
        len += strlen(c->name) + strlen(c->value) + 3;
    }
    if (k == 0) {
        free(sel);
        return NULL;
    }
    qsort(sel, k, sizeof *sel, cmp_ptr);
    char *out = malloc(len + 1), *o = out;
    if (!out)
        abort();
    for (size_t i = 0; i < k; i++) {
        if (i) {
            *o++ = ';';
            *o++ = ' ';
        }
        size_t a = strlen(sel[i]->name), b = strlen(sel[i]->value);
        memcpy(o, sel[i]->name, a);
        o += a;
        *o++ = '=';
        memcpy(o, sel[i]->value, b);
        o += b;
    }
    *o = 0;
    free(sel);
    return out;
}

/* ---- serialisation ---- */

static void sb_i64(struct rnd_sb *b, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        rnd_sb_add(b, "-", 1);
    while (n)
        rnd_sb_add(b, &tmp[--n], 1);
}

char *rnd_jar_serialize(const struct rnd_jar *j, int64_t now, size_t *len)
{
    static const char ssc[] = "dlsn";
    struct rnd_sb b = {0};
    rnd_sb_str(&b, "WLJAR1\n");
    for (size_t i = 0; i < j->n; i++) {
        const struct rnd_cookie *c = &j->c[i];
        if (c->expires <= now)
            continue;
        rnd_sb_str(&b, c->name);
        rnd_sb_add(&b, "\t", 1);
        rnd_sb_str(&b, c->value);
        rnd_sb_add(&b, "\t", 1);
        rnd_sb_str(&b, c->domain);
        rnd_sb_add(&b, "\t", 1);
        rnd_sb_str(&b, c->path);
        rnd_sb_add(&b, "\t", 1);
        sb_i64(&b, c->expires);
        rnd_sb_add(&b, "\t", 1);
        sb_i64(&b, c->created);
        rnd_sb_add(&b, "\t", 1);
        if (c->host_only)
            rnd_sb_add(&b, "h", 1);
        if (c->secure)
            rnd_sb_add(&b, "s", 1);
        if (c->http_only)
            rnd_sb_add(&b, "o", 1);
        if (c->persistent)
            rnd_sb_add(&b, "p", 1);
        rnd_sb_add(&b, "\t", 1);
        rnd_sb_add(&b, &ssc[c->same_site], 1);
        rnd_sb_add(&b, "\n", 1);
    }
    *len = b.len;
    return b.p;
}

static int parse_i64(const char *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 20)
        return -1;
    int neg = s[0] == '-';
    size_t i = neg ? 1 : 0;
    if (i == n)
        return -1;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        uint64_t nv = v * 10 + (uint64_t)(s[i] - '0');
        if (nv / 10 != v)
            return -1;
        v = nv;
    }
    if (v > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
        return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int rnd_jar_deserialize(struct rnd_jar *j, const char *p, size_t n)
{
    jar_clear(j);
    if (n < 7 || memcmp(p, "WLJAR1\n", 7) != 0)
        return -1;
    size_t i = 7;
    while (i < n) {
        const char *line = p + i;
        const char *nl = memchr(line, '\n', n - i);
        if (!nl)
            goto bad;
        size_t ll = (size_t)(nl - line);
        const char *f[8];
        size_t fl[8];
        size_t nf = 0, s = 0;
        for (size_t k = 0; k <= ll; k++) {
            if (k == ll || line[k] == '\t') {
                if (nf == 8)
                    goto bad;
                f[nf] = line + s;
                fl[nf++] = k - s;
                s = k + 1;
            }
        }
        if (nf != 8 || fl[0] == 0 || fl[0] + fl[1] > RND_JAR_COOKIE_MAX || fl[2] == 0 ||
            fl[3] == 0 || f[3][0] != '/' || fl[7] != 1)
            goto bad;
        for (size_t k = 0; k < 4; k++)
            if (has_ctl(f[k], fl[k]))
                goto bad;
        struct rnd_cookie c;
        memset(&c, 0, sizeof c);
        if (parse_i64(f[4], fl[4], &c.expires) != 0 || parse_i64(f[5], fl[5], &c.created) != 0)
            goto bad;
        for (size_t k = 0; k < fl[6]; k++) {
            switch (f[6][k]) {
            case 'h':
                c.host_only = 1;
                break;
            case 's':
                c.secure = 1;
                break;
            case 'o':
                c.http_only = 1;
                break;
            case 'p':
                c.persistent = 1;
                break;
            default:
                goto bad;
            }
        }
        const char *ssp = strchr("dlsn", f[7][0]);
        if (!ssp || f[7][0] == 0)
            goto bad;
        c.same_site = (enum rnd_samesite)(ssp - "dlsn");
        c.name = dupn(f[0], fl[0]);
        c.value = dupn(f[1], fl[1]);
        c.domain = dupn(f[2], fl[2]);
        c.path = dupn(f[3], fl[3]);
        if (jar_store(j, &c, INT64_MIN) != 0)
            goto bad;
        i += ll + 1;
    }
    return 0;
bad:
    jar_clear(j);
    return -1;
}
