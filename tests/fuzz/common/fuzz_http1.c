/* fuzz_http1.c - libFuzzer target for the HTTP/1 parser: request and response heads, and the
 * chunked decoder fed the rest of the input in two pieces. Any crash, hang or sanitizer report
 * is a bug; results must also be self-consistent (head length within the input). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wl_http1_limits lim;
    wl_http1_limits_default(&lim);
    lim.max_header_bytes = 4096;
    struct wl_http1_message *m = malloc(sizeof *m);
    if (!m)
        return 0;
    int rc = wl_http1_parse_request((const char *)data, size, &lim, m);
    if (rc > 0 && (size_t)rc > size)
        abort();
    if (rc > 0 && m->host.len)
        (void)wl_http1_find_header(m, "host");
    rc = wl_http1_parse_response((const char *)data, size, &lim, m);
    if (rc > 0 && (size_t)rc > size)
        abort();
    free(m);

    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    struct wl_http1_chunked d;
    wl_http1_chunked_init(&d, 1 << 20);
    size_t half = size / 2, consumed = 0, decoded = 0;
    rc = wl_http1_chunked_decode(&d, buf, half, &consumed, &decoded);
    if (consumed > half || decoded > consumed)
        abort();
    if (rc == 0) {
        rc = wl_http1_chunked_decode(&d, buf + half, size - half, &consumed, &decoded);
        if (consumed > size - half || decoded > consumed)
            abort();
    }
    free(buf);
    return 0;
}
