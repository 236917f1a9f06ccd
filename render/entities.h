/* entities.h - the WHATWG named character reference table (generated at build time from
 * Python's html.entities.html5 by gen_entities.py). Names are sorted bytewise, without the
 * leading '&'; some legacy names have no trailing ';'. Read-only, shared by all threads. */
#ifndef RND_ENTITIES_H
#define RND_ENTITIES_H

struct rnd_entity {
    const char *name;
    unsigned char name_len;
    const char *value; /* UTF-8 */
    unsigned char value_len;
};

extern const struct rnd_entity rnd_entities[];
extern const unsigned rnd_entities_count;
extern const unsigned rnd_entities_max_len;
/* Range [first, last) of the names that start with each ASCII byte. */
extern const unsigned short rnd_entities_first[128][2];

#endif
