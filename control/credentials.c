/* credentials.c - the credentials file (see credentials.h). */
#include "credentials.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static bool all_digits(const char *s, size_t want)
{
    size_t n = strlen(s);
    if (n != want)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool key_chars_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
            return false;
    return true;
}

/* Checks the section just finished; `policy_set` tracks the mandatory policy line. */
static int finish(struct ctl_principal *p, bool policy_set, const char *origin,
                  const char *default_account, char *err, size_t errlen)
{
    if (!p->access_key[0]) {
        snprintf(err, errlen, "%s: [%s]: aws_access_key_id is missing", origin, p->name);
        return -1;
    }
    if (!p->secret[0]) {
        snprintf(err, errlen, "%s: [%s]: aws_secret_access_key is missing", origin, p->name);
        return -1;
    }
    if (!p->account_id[0]) {
        if (!default_account || !all_digits(default_account, 12)) {
            snprintf(err, errlen, "%s: [%s]: account_id is missing", origin, p->name);
            return -1;
        }
        snprintf(p->account_id, sizeof p->account_id, "%s", default_account);
    }
    if (!policy_set) {
        snprintf(err, errlen, "%s: [%s]: policy is missing (full or readonly)", origin, p->name);
        return -1;
    }
    return 0;
}

int ctl_credentials_parse(const char *text, const char *origin, const char *default_account,
                          struct ctl_credentials *out, char *err, size_t errlen)
{
    struct ctl_credentials c = {NULL, 0};
    size_t cap = 0;
    char *copy = strdup(text);
    if (!copy)
        abort();
    bool in_section = false, policy_set = false;
    int lineno = 0, rc = -1;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *l = trim(line);
        if (*l == '\0' || *l == '#' || *l == ';')
            continue;
        if (*l == '[') {
            if (in_section &&
                finish(&c.v[c.n - 1], policy_set, origin, default_account, err, errlen) < 0)
                goto out;
            char *end = strchr(l, ']');
            if (!end || end[1] != '\0' || end == l + 1) {
                snprintf(err, errlen, "%s:%d: bad section header", origin, lineno);
                goto out;
            }
            *end = '\0';
            if (strlen(l + 1) >= sizeof c.v[0].name) {
                snprintf(err, errlen, "%s:%d: section name too long", origin, lineno);
                goto out;
            }
            if (c.n == cap) {
                cap = cap ? cap * 2 : 8;
                struct ctl_principal *nv = realloc(c.v, cap * sizeof *nv);
                if (!nv)
                    abort();
                c.v = nv;
            }
            memset(&c.v[c.n], 0, sizeof c.v[0]);
            snprintf(c.v[c.n].name, sizeof c.v[0].name, "%s", trim(l + 1));
            c.n++;
            in_section = true;
            policy_set = false;
            continue;
        }
        char *eq = strchr(l, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'name = value'", origin, lineno);
            goto out;
        }
        *eq = '\0';
        char *k = trim(l), *v = trim(eq + 1);
        if (!in_section) {
            snprintf(err, errlen, "%s:%d: %s outside of a [section]", origin, lineno, k);
            goto out;
        }
        struct ctl_principal *p = &c.v[c.n - 1];
        if (strcmp(k, "aws_access_key_id") == 0) {
            if (!key_chars_ok(v) || strlen(v) >= sizeof p->access_key) {
                snprintf(err, errlen, "%s:%d: aws_access_key_id: must be 1-128 of [A-Za-z0-9_-]",
                         origin, lineno);
                goto out;
            }
            snprintf(p->access_key, sizeof p->access_key, "%s", v);
        } else if (strcmp(k, "aws_secret_access_key") == 0) {
            if (!*v || strlen(v) >= sizeof p->secret) {
                snprintf(err, errlen, "%s:%d: aws_secret_access_key: must be 1-128 characters",
                         origin, lineno);
                goto out;
            }
            snprintf(p->secret, sizeof p->secret, "%s", v);
        } else if (strcmp(k, "account_id") == 0) {
            if (!all_digits(v, 12)) {
                snprintf(err, errlen, "%s:%d: account_id: must be 12 digits", origin, lineno);
                goto out;
            }
            snprintf(p->account_id, sizeof p->account_id, "%s", v);
        } else if (strcmp(k, "policy") == 0) {
            if (strcmp(v, "full") == 0)
                p->read_only = false;
            else if (strcmp(v, "readonly") == 0)
                p->read_only = true;
            else {
                snprintf(err, errlen, "%s:%d: policy: must be full or readonly", origin, lineno);
                goto out;
            }
            policy_set = true;
        }
        /* other keys (region, aws_session_token, ...) are ignored like the AWS CLI does */
    }
    if (!in_section) {
        snprintf(err, errlen, "%s: no [principal] section", origin);
        goto out;
    }
    if (finish(&c.v[c.n - 1], policy_set, origin, default_account, err, errlen) < 0)
        goto out;
    for (size_t i = 0; i < c.n; i++)
        for (size_t j = i + 1; j < c.n; j++)
            if (strcmp(c.v[i].access_key, c.v[j].access_key) == 0) {
                snprintf(err, errlen, "%s: [%s] and [%s] share an aws_access_key_id", origin,
                         c.v[i].name, c.v[j].name);
                goto out;
            }
    *out = c;
    c.v = NULL;
    rc = 0;
out:
    free(copy);
    free(c.v);
    return rc;
}

int ctl_credentials_load(const char *path, const char *default_account, struct ctl_credentials *out,
                         char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "--credentials %s: cannot open", path);
        return -1;
    }
    char *buf = NULL;
    size_t len = 0;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n > 1 << 20) {
            fclose(f);
            free(buf);
            snprintf(err, errlen, "--credentials %s: larger than 1 MiB", path);
            return -1;
        }
        char *nb = realloc(buf, len + n + 1);
        if (!nb)
            abort();
        buf = nb;
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (!buf) {
        snprintf(err, errlen, "--credentials %s: empty file", path);
        return -1;
    }
    buf[len] = '\0';
    int rc = ctl_credentials_parse(buf, path, default_account, out, err, errlen);
    free(buf);
    return rc;
}

void ctl_credentials_dispose(struct ctl_credentials *c)
{
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

const struct ctl_principal *ctl_credentials_find(const struct ctl_credentials *c,
                                                 const char *access_key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].access_key, access_key) == 0)
            return &c->v[i];
    return NULL;
}
