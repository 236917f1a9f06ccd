/* log.h - structured JSON logging to stderr, one line per event.
 *
 * WL_LOG checks the level before evaluating its arguments. Secrets (cookies, tokens,
 * keys, SAML assertions, Authorization values) never go to the log raw: pass them through
 * wl_log_redact(), which keeps only a short fingerprint so that lines can be correlated.
 * Thread-safe: one write(2) per line. */
#ifndef WL_LOG_H
#define WL_LOG_H

#include <stddef.h>

enum wl_log_level { WL_LOG_DEBUG = 0, WL_LOG_INFO = 1, WL_LOG_WARN = 2, WL_LOG_ERROR = 3 };

extern int wl_log_min_level;

/* Sets the component name ("control", "gateway") shown in each line. Borrows `name`, which must
 * outlive logging (use a string literal). Call once at start-up. */
void wl_log_init(const char *name, enum wl_log_level min_level);

/* Parses "debug|info|warn|error"; returns 0 and writes *out, or -1. */
int wl_log_level_parse(const char *s, enum wl_log_level *out);

/* Emits one JSON line: {"ts":..,"level":..,"component":..,"id":..,"msg":..}. `id` (request or
 * connection id) may be NULL. The message is printf-formatted and JSON-escaped. */
void wl_log_emit(enum wl_log_level level, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define WL_LOG(level, id, ...)                                                                     \
    do {                                                                                           \
        if ((int)(level) >= wl_log_min_level)                                                      \
            wl_log_emit((level), (id), __VA_ARGS__);                                               \
    } while (0)
#define WL_DEBUG(id, ...) WL_LOG(WL_LOG_DEBUG, id, __VA_ARGS__)
#define WL_INFO(id, ...) WL_LOG(WL_LOG_INFO, id, __VA_ARGS__)
#define WL_WARN(id, ...) WL_LOG(WL_LOG_WARN, id, __VA_ARGS__)
#define WL_ERROR(id, ...) WL_LOG(WL_LOG_ERROR, id, __VA_ARGS__)

/* Writes "redacted:XXXXXXXX" (first 8 hex digits of SHA-256 of the secret) into out, which must
 * hold at least 18 bytes. Returns out, for use inside a log call. */
char *wl_log_redact(char out[18], const void *secret, size_t len);

#endif
