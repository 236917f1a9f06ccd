/* response.c - AWS-shaped answers (see response.h). */
#include "response.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *content_type(const char *service)
{
    return service && strcmp(service, "acm") == 0 ? "application/x-amz-json-1.1"
                                                  : "application/json";
}

void ctl_response_error(struct ctl_http_req *req, const char *service, int status, const char *type,
                        const char *message, const char *request_id)
{
    json_t *b = json_object();
    if (service && strcmp(service, "acm") == 0)
        json_object_set_new(b, "__type", json_string(type));
    json_object_set_new(b, "message", json_string(message));
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    if (!body)
        abort();
    char extra[256];
    snprintf(extra, sizeof extra, "x-amzn-ErrorType: %s\r\nx-amzn-RequestId: %s\r\n", type,
             request_id);
    ctl_http_respond(req, status, content_type(service), extra, body, strlen(body));
}

void ctl_response_ok(struct ctl_http_req *req, const char *service, const json_t *out,
                     const char *request_id)
{
    char *body = out ? json_dumps(out, JSON_COMPACT) : strdup("{}");
    if (!body)
        abort();
    char extra[128];
    snprintf(extra, sizeof extra, "x-amzn-RequestId: %s\r\n", request_id);
    ctl_http_respond(req, 200, content_type(service), extra, body, strlen(body));
}

void ctl_request_id_new(char out[37])
{
    unsigned char r[16];
    if (RAND_bytes(r, sizeof r) != 1)
        abort();
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}
