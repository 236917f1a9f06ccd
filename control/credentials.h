/* credentials.h - principals of the admin API, read from a file like ~/.aws/credentials:
 *   [name]
 *   aws_access_key_id = AKIA...
 *   aws_secret_access_key = ...
 *   account_id = 123456789012
 *   policy = full | readonly
 * Loaded once at start-up; read-only afterwards (shared by all threads). */
#ifndef CTL_CREDENTIALS_H
#define CTL_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>

struct ctl_principal {
    char name[64];
    char access_key[129];
    char secret[129];
    char account_id[16];
    bool read_only;
};

struct ctl_credentials {
    struct ctl_principal *v;
    size_t n;
};

/* Parses the file at path. account_id may be omitted in a section, then default_account is used
 * (borrowed). Returns 0 and fills *out (free with ctl_credentials_dispose), or -1 with a
 * one-line reason naming the line and field in err. */
int ctl_credentials_load(const char *path, const char *default_account, struct ctl_credentials *out,
                         char *err, size_t errlen);

/* Same, from a NUL-terminated buffer; `origin` names it in error messages. */
int ctl_credentials_parse(const char *text, const char *origin, const char *default_account,
                          struct ctl_credentials *out, char *err, size_t errlen);

void ctl_credentials_dispose(struct ctl_credentials *c);

/* The principal with this access key id, or NULL. Borrowed from c. */
const struct ctl_principal *ctl_credentials_find(const struct ctl_credentials *c,
                                                 const char *access_key);

#endif
