/* fuzz_cookie_jar.c - Set-Cookie parsing, Cookie header building, serialisation round trip and
 * deserialisation of arbitrary text: no crash, limits hold, a serialised jar reads back the same.
 * Input: Set-Cookie lines separated by '\n'; after a "\n\n", a serialised jar to load. */
#include "cookie_jar.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    const char *sep = NULL;
    for (size_t i = 0; i + 1 < size; i++)
        if (p[i] == '\n' && p[i + 1] == '\n') {
            sep = p + i;
            break;
        }
    size_t head = sep ? (size_t)(sep - p) : size;
    struct rnd_jar *j = rnd_jar_new();
    int64_t now = 1790000000000;
    size_t s = 0;
    for (size_t i = 0; i <= head; i++) {
        if (i == head || p[i] == '\n') {
            rnd_jar_set(j, p + s, i - s, (int)(i & 1), "a.b.example.com", "/x/y", now);
            s = i + 1;
        }
    }
    if (rnd_jar_count(j) > RND_JAR_MAX_COOKIES || rnd_jar_bytes(j) > RND_JAR_MAX_BYTES)
        abort();
    free(rnd_jar_cookie_header(j, 1, "a.b.example.com", "/x/y/z", now));
    size_t len;
    char *ser = rnd_jar_serialize(j, now, &len);
    struct rnd_jar *k = rnd_jar_new();
    if (rnd_jar_deserialize(k, ser, len) != 0 || rnd_jar_count(k) != rnd_jar_count(j))
        abort(); /* a serialised jar must read back */
    size_t len2;
    char *ser2 = rnd_jar_serialize(k, now, &len2);
    if (len2 != len || memcmp(ser, ser2, len) != 0)
        abort();
    free(ser);
    free(ser2);
    if (sep)
        rnd_jar_deserialize(k, sep + 2, size - head - 2);
    if (rnd_jar_count(k) > RND_JAR_MAX_COOKIES)
        abort();
    rnd_jar_free(k);
    rnd_jar_free(j);
    return 0;
}
