/* fuzz_sigv4_json.c - the admin API front on hostile bytes: an HTTP request is parsed (common
 * http1), routed by the service models, its SigV4 signature checked (header and presigned
 * forms), and its JSON body bound and validated against the operation's input shape. Nothing may
 * crash, leak or read out of bounds. The seed corpus holds requests signed by botocore. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "credentials.h"
#include "http1.h"
#include "model.h"
#include "sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ctl_model *model;
static struct ctl_credentials creds;

static void init(void)
{
    char err[256];
    if (ctl_model_load(&model, err, sizeof err) != 0 ||
        ctl_credentials_parse("[tester]\naws_access_key_id = AKIDTEST\naws_secret_access_key = "
                              "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\naccount_id = "
                              "123456789012\npolicy = full\n",
                              "fuzz", NULL, &creds, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz init: %s\n", err);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!model)
        init();
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    struct wl_http1_limits lim;
    wl_http1_limits_default(&lim);
    struct wl_http1_message msg;
    int rc = wl_http1_parse_request(buf, size, &lim, &msg);
    if (rc <= 0)
        goto out;
    const char *body = buf + rc;
    size_t body_len = size - (size_t)rc;
    char target[160] = "";
    const struct wl_http1_header *t = wl_http1_find_header(&msg, "x-amz-target");
    if (t) {
        size_t n = t->value.len < sizeof target - 1 ? t->value.len : sizeof target - 1;
        memcpy(target, t->value.base, n);
        target[n] = '\0';
    }
    struct ctl_route r;
    char err[512];
    const char *service = "worklink";
    bool routed =
        ctl_model_route(model, msg.method, msg.path, t ? target : NULL, &r, err, sizeof err) == 0;
    if (routed)
        service = r.signing_name;
    struct ctl_sigv4_input in = {
        .method = msg.method,
        .path = msg.path,
        .query = msg.query,
        .headers = msg.headers,
        .nheaders = msg.nheaders,
        .body = body,
        .body_len = body_len,
        .service = service,
        .region = "us-east-1",
        .now = 1795435200, /* 2026-11-23T12:00:00Z, when the seeds were signed */
    };
    const struct ctl_principal *who;
    struct ctl_sigv4_error se;
    (void)ctl_sigv4_verify(&in, &creds, &who, &se);
    if (routed) {
        json_t *j = NULL;
        if (ctl_model_input(model, &r, msg.path, msg.query, body, body_len, &j, err, sizeof err) ==
            0) {
            json_t *red = ctl_model_redact(model, &r, j, false);
            (void)ctl_model_validate(model, &r, j, err, sizeof err);
            (void)ctl_model_validation_error(&r, err);
            json_decref(red);
            json_decref(j);
        }
    }
out:
    free(buf);
    return 0;
}
