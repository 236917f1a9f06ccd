/* seal.c - test helper: seals stdin with wl_envelope_seal (key file, aad) and prints the result,
 * the way control stores certificate private keys. Usage: gw_test_seal KEYFILE AAD < in */
#include "envelope.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: gw_test_seal KEYFILE AAD < plain\n");
        return 2;
    }
    struct wl_master_key mk;
    char err[256];
    if (wl_master_key_load(argv[1], &mk, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, stdin);
    char *s = wl_envelope_seal(&mk, buf, n, argv[2]);
    if (!s)
        return 1;
    printf("%s", s);
    free(s);
    return 0;
}
