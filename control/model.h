/* model.h - the embedded botocore service models (worklink REST-JSON, acm JSON 1.1): routing of
 * requests to operations and generic validation of their input.
 *
 * Loaded once at start-up (patterns compiled with PCRE2 then); read-only afterwards, so every
 * function here may run on any thread. Validation follows the AWS server rules: required
 * members, type, min/max length of strings (code points), lists and maps (entries), blobs
 * (decoded bytes), enum, pattern (whole value must match), integer min/max; unknown members are
 * dropped like AWS ignores them. */
#ifndef CTL_MODEL_H
#define CTL_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "http1.h"

struct ctl_model;

/* A routed request. Strings are borrowed from the model. */
struct ctl_route {
    const char *service;      /* "worklink" or "acm" */
    const char *op;           /* operation name, e.g. "CreateFleet" */
    const char *signing_name; /* SigV4 service name expected in the credential scope */
    const char *event_source; /* CloudTrail eventSource */
    const void *op_model;     /* private */
};

/* Parses the embedded models. Returns 0 and a new model, or -1 with a reason. */
int ctl_model_load(struct ctl_model **out, char *err, size_t errlen);

/* Same from caller-provided JSON texts (tests). */
int ctl_model_load_from(const char *worklink_json, const char *acm_json, struct ctl_model **out,
                        char *err, size_t errlen);

void ctl_model_free(struct ctl_model *m);

/* Finds the operation for method + raw path (and X-Amz-Target value, NULL if absent; ACM
 * requests are "POST /" with "X-Amz-Target: CertificateManager.<Op>"). Returns 0, or -1 with a
 * message for an UnknownOperationException. */
int ctl_model_route(const struct ctl_model *m, struct wl_slice method, struct wl_slice path,
                    const char *amz_target, struct ctl_route *out, char *msg, size_t msglen);

/* Builds the operation input: the JSON body (empty = {}), plus members bound to the URI path
 * (percent-decoded) and to the query string (lists collect every value). Returns 0 and a new
 * reference in *out, or -1 with a message (error type: ctl_model_validation_error()). */
int ctl_model_input(const struct ctl_model *m, const struct ctl_route *r, struct wl_slice path,
                    struct wl_slice query, const char *body, size_t body_len, json_t **out,
                    char *msg, size_t msglen);

/* Validates `in` (modified: unknown and null members removed) against the operation's input
 * shape. Returns 0, or -1 with "<Member>: <rule>" in msg. */
int ctl_model_validate(const struct ctl_model *m, const struct ctl_route *r, json_t *in, char *msg,
                       size_t msglen);

/* Validates a value against a named shape of a service's model (tests, fuzzing). */
int ctl_model_validate_shape(const struct ctl_model *m, const char *service, const char *shape,
                             json_t *v, char *msg, size_t msglen);

/* Exception name for validation failures of this operation: InvalidRequestException for
 * worklink; for acm the one the operation lists (ValidationException, InvalidParameterException
 * or InvalidArnException for ARN members). */
const char *ctl_model_validation_error(const struct ctl_route *r, const char *member);

/* HTTP status the model gives the exception `type` (httpStatusCode), or `fallback`. */
int ctl_model_error_status(const struct ctl_model *m, const struct ctl_route *r, const char *type,
                           int fallback);

/* A deep copy of v (input when output=false, else output) with secrets replaced: members whose
 * shape is sensitive and SAML metadata become "redacted:<fingerprint>"; any string longer than
 * 2048 characters is cut to its size and fingerprint. New reference; v borrowed. */
json_t *ctl_model_redact(const struct ctl_model *m, const struct ctl_route *r, const json_t *v,
                         bool output);

#endif
