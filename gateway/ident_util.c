/* ident_util.c - pure helpers of the sign-in path (no I/O): query parameters, the return-path
 * check (never an open redirect), random tokens, URL splitting, device description. */
#include "identity.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int gw_ident_query_param(const char *target, size_t target_len, const char *name, char *out,
                         size_t cap)
{
    const char *q = memchr(target, '?', target_len);
    if (q == NULL || cap == 0)
        return -1;
    const char *p = q + 1, *end = target + target_len;
    size_t nl = strlen(name);
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if ((size_t)(e - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t o = 0;
            for (const char *s = p + nl + 1; s < e; s++) {
                int ch = (unsigned char)*s;
                if (ch == '%') {
                    if (e - s < 3 || hexval(s[1]) < 0 || hexval(s[2]) < 0)
                        return -1;
                    ch = hexval(s[1]) * 16 + hexval(s[2]);
                    s += 2;
                } else if (ch == '+') {
                    ch = ' ';
                }
                if (o + 1 >= cap)
                    return -1;
                out[o++] = (char)ch;
            }
            out[o] = '\0';
            return (int)o;
        }
        p = amp ? amp + 1 : end;
    }
    return -1;
}

int gw_ident_return_path(const char *path, char *out, size_t cap)
{
    size_t n = path ? strlen(path) : 0;
    bool ok =
        n >= 1 && n < cap && path[0] == '/' && !(n >= 2 && (path[1] == '/' || path[1] == '\\'));
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char ch = (unsigned char)path[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '\\')
            ok = false;
    }
    if (!ok) {
        snprintf(out, cap, "/");
        return -1;
    }
    memcpy(out, path, n + 1);
    return 0;
}

int gw_ident_random_b64url(size_t n, char *out, size_t cap)
{
    unsigned char raw[64];
    if (n > sizeof raw || cap < 4 * ((n + 2) / 3) + 1 || RAND_bytes(raw, (int)n) != 1)
        return -1;
    int len = EVP_EncodeBlock((unsigned char *)out, raw, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (int i = 0; i < len; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    return 0;
}

void gw_ident_sha256_hex(const void *s, size_t n, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[32];
    SHA256(s, n, d);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = '\0';
}

int gw_ident_url_split(const char *url, char *host, size_t hcap, char *path, size_t pcap)
{
    const char *p;
    if (strncasecmp(url, "https://", 8) == 0)
        p = url + 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        p = url + 7;
    else
        return -1;
    size_t hl = strcspn(p, ":/?#");
    if (hl == 0 || hl >= hcap)
        return -1;
    for (size_t i = 0; i < hl; i++)
        host[i] = (char)tolower((unsigned char)p[i]);
    host[hl] = '\0';
    const char *s = p + hl;
    if (*s == ':')
        s += strcspn(s, "/?#");
    size_t pl = strcspn(s, "?#");
    if (pl == 0) {
        s = "/";
        pl = 1;
    }
    if (pl >= pcap)
        return -1;
    memcpy(path, s, pl);
    path[pl] = '\0';
    return 0;
}

/* Copies printable ASCII of s (at most cap-1 bytes), trimmed; empty when s is NULL. */
static void field(char *out, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    while (n > 0 && *s == ' ') {
        s++;
        n--;
    }
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

/* The version that follows `key` in ua ("Android 14;" -> "14"; "iPhone OS 17_4" -> "17.4"). */
static void version_after(const char *ua, const char *key, char *out, size_t cap)
{
    const char *p = strstr(ua, key);
    if (p == NULL)
        return;
    p += strlen(key);
    size_t o = 0;
    for (; (isdigit((unsigned char)*p) || *p == '.' || *p == '_') && o + 1 < cap; p++)
        out[o++] = *p == '_' ? '.' : *p;
    out[o] = '\0';
}

void gw_ident_device_info(const char *ua, const char *manufacturer, const char *model,
                          const char *os, const char *os_version, const char *patch,
                          struct gw_device_info *out)
{
    memset(out, 0, sizeof *out);
    if (ua != NULL) {
        if (strstr(ua, "iPhone") || strstr(ua, "iPad")) {
            field(out->manufacturer, sizeof out->manufacturer, "Apple", 5);
            field(out->model, sizeof out->model, strstr(ua, "iPad") ? "iPad" : "iPhone",
                  strstr(ua, "iPad") ? 4 : 6);
            field(out->os, sizeof out->os, "iOS", 3);
            version_after(ua, " OS ", out->os_version, sizeof out->os_version);
        } else if (strstr(ua, "Android")) {
            field(out->os, sizeof out->os, "Android", 7);
            version_after(ua, "Android ", out->os_version, sizeof out->os_version);
            /* "Android 14; Pixel 8)" : the model is the next ';'-separated part */
            const char *m = strstr(ua, "Android");
            m = m ? strchr(m, ';') : NULL;
            if (m) {
                m++;
                size_t ml = strcspn(m, ";)");
                const char *b = memmem(m, ml, " Build/", 7);
                field(out->model, sizeof out->model, m, b ? (size_t)(b - m) : ml);
            }
        } else {
            /* a browser or a tool: its product token is the best model we have */
            field(out->model, sizeof out->model, ua, strcspn(ua, "/ "));
            if (strstr(ua, "Windows"))
                field(out->os, sizeof out->os, "Windows", 7);
            else if (strstr(ua, "Mac OS X"))
                field(out->os, sizeof out->os, "macOS", 5);
            else if (strstr(ua, "Linux"))
                field(out->os, sizeof out->os, "Linux", 5);
        }
    }
    if (manufacturer)
        field(out->manufacturer, sizeof out->manufacturer, manufacturer, strlen(manufacturer));
    if (model)
        field(out->model, sizeof out->model, model, strlen(model));
    if (os)
        field(out->os, sizeof out->os, os, strlen(os));
    if (os_version)
        field(out->os_version, sizeof out->os_version, os_version, strlen(os_version));
    if (patch)
        field(out->patch_level, sizeof out->patch_level, patch, strlen(patch));
    if (!out->manufacturer[0])
        snprintf(out->manufacturer, sizeof out->manufacturer, "Unknown");
    if (!out->model[0])
        snprintf(out->model, sizeof out->model, "Unknown");
    if (!out->os[0])
        snprintf(out->os, sizeof out->os, "Unknown");
}

bool gw_ident_device_id_ok(const char *id, size_t n)
{
    if (n < 8 || n > 48)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)id[i];
        if (!isalnum(ch) && ch != '-' && ch != '_')
            return false;
    }
    return true;
}
