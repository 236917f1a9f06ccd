/* cloudtrail.c - CloudTrail-format events (see cloudtrail.h). */
#include "cloudtrail.h"

#include <hiredis/hiredis.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

json_t *ctl_cloudtrail_event(const struct ctl_trail_call *c)
{
    json_t *ev = json_object();
    json_object_set_new(ev, "eventVersion", json_string("1.08"));
    json_t *uid = json_object();
    if (c->principal && *c->principal) {
        char arn[256];
        snprintf(arn, sizeof arn, "arn:aws:iam::%s:user/%s", c->account_id ? c->account_id : "",
                 c->principal);
        json_object_set_new(uid, "type", json_string("IAMUser"));
        json_object_set_new(uid, "principalId", json_string(c->access_key ? c->access_key : ""));
        json_object_set_new(uid, "arn", json_string(arn));
        json_object_set_new(uid, "accountId", str_or_null(c->account_id));
        json_object_set_new(uid, "accessKeyId", str_or_null(c->access_key));
        json_object_set_new(uid, "userName", json_string(c->principal));
    } else {
        json_object_set_new(uid, "type", json_string("Unknown"));
        json_object_set_new(uid, "accessKeyId", str_or_null(c->access_key));
    }
    json_object_set_new(ev, "userIdentity", uid);
    char when[32];
    time_t t = (time_t)(c->time_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(ev, "eventTime", json_string(when));
    json_object_set_new(ev, "eventSource", json_string(c->event_source));
    json_object_set_new(ev, "eventName", json_string(c->event_name));
    json_object_set_new(ev, "awsRegion", json_string(c->region));
    json_object_set_new(ev, "sourceIPAddress", str_or_null(c->source_ip));
    json_object_set_new(ev, "userAgent", str_or_null(c->user_agent));
    if (c->error_code) {
        json_object_set_new(ev, "errorCode", json_string(c->error_code));
        json_object_set_new(ev, "errorMessage", str_or_null(c->error_message));
    }
    json_object_set_new(ev, "requestParameters",
                        c->request_params ? json_deep_copy(c->request_params) : json_null());
    json_object_set_new(ev, "responseElements",
                        c->response_elements && !c->read_only && !c->error_code
                            ? json_deep_copy(c->response_elements)
                            : json_null());
    json_object_set_new(ev, "requestID", json_string(c->request_id));
    unsigned char r[16];
    if (RAND_bytes(r, sizeof r) != 1)
        abort();
    char eid[37];
    snprintf(eid, sizeof eid, "%02x%02x%02x%02x-%02x%02x-4%x%02x-%x%x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6] & 15, r[7], 8 | (r[8] & 3), r[8] >> 4, r[9],
             r[10], r[11], r[12], r[13], r[14], r[15]);
    json_object_set_new(ev, "eventID", json_string(eid));
    json_object_set_new(ev, "readOnly", json_boolean(c->read_only));
    json_object_set_new(ev, "eventType", json_string("AwsApiCall"));
    json_object_set_new(ev, "managementEvent", json_true());
    json_object_set_new(ev, "recipientAccountId", str_or_null(c->recipient_account));
    json_object_set_new(ev, "eventCategory", json_string("Management"));
    return ev;
}

int ctl_cloudtrail_write(struct redisContext *redis, const json_t *event, long long maxlen)
{
    char *s = json_dumps(event, JSON_COMPACT);
    if (!s)
        return -1;
    char ml[32];
    snprintf(ml, sizeof ml, "%lld", maxlen > 0 ? maxlen : 100000);
    const char *argv[] = {"XADD", "wl:cloudtrail", "MAXLEN", "~", ml, "*", "event", s};
    size_t lens[] = {4, 13, 6, 1, strlen(ml), 1, 5, strlen(s)};
    redisReply *r = redisCommandArgv(redis, 8, argv, lens);
    free(s);
    int rc = r && r->type != REDIS_REPLY_ERROR ? 0 : -1;
    if (r)
        freeReplyObject(r);
    return rc;
}
