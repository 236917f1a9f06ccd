/* fuzz_ident_input.c - what a device sends to the sign-in path before any Redis work: request
 * targets (query parameters: return, t, code, format), return paths, User-Agent and app device
 * headers, device ids. The first byte picks the parameter name; the rest is the input. */
#include "identity.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"return", "t", "code", "format"};
    if (size < 1 || size > 65536)
        return 0;
    const char *name = names[data[0] % 4];
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    char out[1024], path[1024], host[256];
    int len = gw_ident_query_param(in, n, name, out, sizeof out);
    if (len >= 0 && (size_t)len >= sizeof out)
        abort();
    char *s = malloc(n + 1);
    if (s == NULL)
        return 0;
    memcpy(s, in, n);
    s[n] = '\0';
    if (gw_ident_return_path(len >= 0 ? out : s, path, sizeof path) == 0 &&
        (path[0] != '/' || path[1] == '/' || path[1] == '\\'))
        abort(); /* an accepted return path is always same-origin */
    (void)gw_ident_url_split(s, host, sizeof host, path, sizeof path);
    struct gw_device_info d;
    gw_ident_device_info(s, n % 3 == 0 ? s : NULL, NULL, n % 5 == 0 ? s : NULL, NULL, NULL, &d);
    for (const char *p = d.model; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            abort(); /* printable ASCII only reaches Redis */
    (void)gw_ident_device_id_ok(s, strlen(s));
    free(s);
    return 0;
}
