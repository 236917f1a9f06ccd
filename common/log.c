/* log.c - see log.h. */
#include "log.h"

#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int wl_log_min_level = WL_LOG_INFO;
static const char *log_component = "worklink";

void wl_log_init(const char *name, enum wl_log_level min_level)
{
    log_component = name;
    wl_log_min_level = (int)min_level;
}

int wl_log_level_parse(const char *s, enum wl_log_level *out)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum wl_log_level)i;
            return 0;
        }
    }
    return -1;
}

/* Appends src JSON-escaped to out[*pos..cap), always leaving room for the NUL. */
static void json_append(char *out, size_t cap, size_t *pos, const char *src)
{
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)src; *p && *pos + 7 < cap; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            out[(*pos)++] = '\\';
            out[(*pos)++] = (char)c;
        } else if (c == '\n') {
            out[(*pos)++] = '\\';
            out[(*pos)++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(out + *pos, "\\u00", 4);
            *pos += 4;
            out[(*pos)++] = hex[c >> 4];
            out[(*pos)++] = hex[c & 15];
        } else {
            out[(*pos)++] = (char)c;
        }
    }
    out[*pos] = '\0';
}

/* Appends src unchanged (it is trusted JSON syntax), bounded like json_append. */
static void raw_append(char *out, size_t cap, size_t *pos, const char *src)
{
    size_t n = strlen(src);
    if (*pos + n + 1 > cap)
        n = cap - *pos - 1;
    memcpy(out + *pos, src, n);
    *pos += n;
    out[*pos] = '\0';
}

void wl_log_emit(enum wl_log_level level, const char *id, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    char msg[2048];
    char line[13000]; /* msg escaped at most 6x, so the line is never cut */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03dZ", (int)(tv.tv_usec / 1000));

    size_t pos = 0;
    raw_append(line, sizeof line, &pos, "{\"ts\":\"");
    raw_append(line, sizeof line, &pos, ts);
    raw_append(line, sizeof line, &pos, "\",\"level\":\"");
    raw_append(line, sizeof line, &pos, names[level & 3]);
    raw_append(line, sizeof line, &pos, "\",\"component\":\"");
    json_append(line, sizeof line, &pos, log_component);
    if (id) {
        raw_append(line, sizeof line, &pos, "\",\"id\":\"");
        json_append(line, sizeof line, &pos, id);
    }
    raw_append(line, sizeof line, &pos, "\",\"msg\":\"");
    json_append(line, sizeof line, &pos, msg);
    raw_append(line, sizeof line, &pos, "\"}\n");
    ssize_t w = write(STDERR_FILENO, line, pos);
    (void)w;
}

char *wl_log_redact(char out[18], const void *secret, size_t len)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    static const char hex[] = "0123456789abcdef";
    SHA256(secret, len, md);
    memcpy(out, "redacted:", 9);
    for (int i = 0; i < 4; i++) {
        out[9 + 2 * i] = hex[md[i] >> 4];
        out[10 + 2 * i] = hex[md[i] & 15];
    }
    out[17] = '\0';
    return out;
}
