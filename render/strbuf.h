/* strbuf.h - a growing NUL-terminated string (internal to render/; not part of the public API).
 * Zero-initialise `struct rnd_sb`; the bytes in .p belong to whoever ends up with it (free()).
 * Out of memory is fatal (abort), as everywhere in render/. */
#ifndef RND_STRBUF_H
#define RND_STRBUF_H

#include <stddef.h>

struct rnd_sb {
    char *p;
    size_t len, cap;
};

/* Appends s[0..n) and keeps .p NUL-terminated. */
void rnd_sb_add(struct rnd_sb *b, const char *s, size_t n);

/* Appends the NUL-terminated string s. */
void rnd_sb_str(struct rnd_sb *b, const char *s);

#endif
