/* envelope.h - envelope encryption of secrets at rest (certificate private keys in Redis).
 *
 * The key file shared by control and gateways holds one 256-bit master key as 64 hex digits
 * (whitespace ignored; generate with `openssl rand -hex 32`). Each secret gets a fresh random
 * 256-bit data key; the secret is sealed with AES-256-GCM under the data key, and the data key
 * is sealed with AES-256-GCM under the master key. The stored form is text:
 *   "wlenv1:" base64( iv1[12] | wrapped_dk[32] | tag1[16] | iv2[12] | tag2[16] | ciphertext )
 * The associated data (e.g. the certificate ARN) is bound to both seals, so a blob moved to
 * another record does not open. */
#ifndef WL_ENVELOPE_H
#define WL_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

struct wl_master_key {
    uint8_t key[32];
};

/* Reads the key file. Returns 0, or -1 with a reason in err. */
int wl_master_key_load(const char *path, struct wl_master_key *out, char *err, size_t errlen);

/* Seals plain[0..len) with associated data `aad` (NUL-terminated). Returns a new
 * NUL-terminated string (caller frees with free()) or NULL on failure. */
char *wl_envelope_seal(const struct wl_master_key *mk, const void *plain, size_t len,
                       const char *aad);

/* Opens a sealed string. Returns a new buffer (caller frees; NUL-terminated for convenience)
 * and its length in *len, or NULL when the blob is malformed, tampered with, or sealed under
 * another key or aad. */
uint8_t *wl_envelope_open(const struct wl_master_key *mk, const char *sealed, const char *aad,
                          size_t *len);

#endif
