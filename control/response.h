/* response.h - AWS-shaped answers of the admin API.
 * REST-JSON (worklink): status, `x-amzn-ErrorType: <Name>`, `x-amzn-RequestId`, body
 * {"message": "..."}; JSON 1.1 (acm): the same plus "__type" in the body and the
 * application/x-amz-json-1.1 content type. Successes carry the operation's output object, or
 * "{}" when it has none. Loop thread only (they call ctl_http_respond). */
#ifndef CTL_RESPONSE_H
#define CTL_RESPONSE_H

#include <jansson.h>

#include "server.h"

/* Answers req with an error. service: "worklink" or "acm" (NULL = plain JSON). All borrowed. */
void ctl_response_error(struct ctl_http_req *req, const char *service, int status, const char *type,
                        const char *message, const char *request_id);

/* Answers req with 200 and out serialised (NULL = "{}"). out is borrowed. */
void ctl_response_ok(struct ctl_http_req *req, const char *service, const json_t *out,
                     const char *request_id);

/* Writes a new random request id (UUID v4 text, 37 bytes with NUL). Any thread. */
void ctl_request_id_new(char out[37]);

#endif
