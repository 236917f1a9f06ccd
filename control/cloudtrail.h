/* cloudtrail.h - one CloudTrail-format event per admin API call, appended to the Redis stream
 * `wl:cloudtrail` (field `event`, JSON) with an approximate MAXLEN. */
#ifndef CTL_CLOUDTRAIL_H
#define CTL_CLOUDTRAIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct redisContext;

/* What is known of one call. Strings are borrowed; principal fields are NULL/"" when the caller
 * could not be authenticated. request_params and response_elements are borrowed and must be
 * redacted already (ctl_model_redact). */
struct ctl_trail_call {
    const char *principal;
    const char *account_id;
    const char *access_key;
    const char *event_source; /* worklink.amazonaws.com or acm.amazonaws.com */
    const char *event_name;   /* operation */
    const char *region;
    const char *source_ip;
    const char *user_agent;
    const char *request_id;
    int64_t time_ms;
    bool read_only;
    const json_t *request_params;    /* may be NULL */
    const json_t *response_elements; /* may be NULL (reads: always null) */
    const char *error_code;          /* NULL on success */
    const char *error_message;
    const char *recipient_account; /* the account whose API was called */
};

/* Builds the event as a new JSON object. Pure; any thread. */
json_t *ctl_cloudtrail_event(const struct ctl_trail_call *c);

/* Appends the event to the stream (XADD wl:cloudtrail MAXLEN ~ maxlen * event <json>) on a
 * synchronous connection (borrowed). Returns 0 or -1 (Redis error; the caller logs). */
int ctl_cloudtrail_write(struct redisContext *redis, const json_t *event, long long maxlen);

#endif
