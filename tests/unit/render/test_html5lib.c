/* test_html5lib.c - runs the html5lib tokenizer tests (JSON .test files, see FORMAT.md in the
 * data folder) against render/html_tokenizer. Each test, for each of its initial states, is fed
 * whole, one byte at a time, and split at random points (fixed seed); the tokens of every run
 * must equal the expected ones (parse errors are not compared: FORMAT.md makes them optional).
 * Prints "file: passed/total" per file; exits 1 if any test fails.
 *
 * Usage: test_render_html5lib DIR */
#include "html_tokenizer.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    char *p;
    size_t len, cap;
};

static void buf_add(struct buf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
}

struct collector {
    json_t *tokens;
    struct buf chars;
    json_t *tag; /* current tag token, not yet emitted */
    json_t *attrs;
    int end_tag;
    char attr_name[RND_TOK_NAME_MAX + 1];
    int attr_live;
    struct buf value;
    struct buf comment;
};

static void flush_chars(struct collector *c)
{
    if (c->chars.len) {
        json_array_append_new(c->tokens, json_pack("[so]", "Character",
                                                   json_stringn_nocheck(c->chars.p, c->chars.len)));
        c->chars.len = 0;
    }
}

static void attr_finish(struct collector *c)
{
    if (c->attr_live && c->attrs)
        json_object_set_new_nocheck(
            c->attrs, c->attr_name,
            json_stringn_nocheck(c->value.p ? c->value.p : "", c->value.len));
    c->attr_live = 0;
    c->value.len = 0;
}

static void on_event(void *ud, const struct rnd_tok_event *ev)
{
    struct collector *c = ud;
    switch (ev->kind) {
    case RND_EV_TEXT:
        buf_add(&c->chars, ev->data, ev->len);
        break;
    case RND_EV_TAG_START:
        flush_chars(c);
        json_decref(c->tag);
        c->end_tag = ev->end_tag;
        c->tag = json_pack("[so]", ev->end_tag ? "EndTag" : "StartTag",
                           json_stringn_nocheck(ev->data, ev->len));
        c->attrs = ev->end_tag ? NULL : json_object();
        if (c->attrs)
            json_array_append_new(c->tag, c->attrs);
        c->attr_live = 0;
        break;
    case RND_EV_ATTR_NAME:
        attr_finish(c);
        if (!ev->duplicate && c->attrs) {
            memcpy(c->attr_name, ev->data, ev->len);
            c->attr_name[ev->len] = 0;
            c->attr_live = 1;
        }
        break;
    case RND_EV_ATTR_VALUE:
        if (c->attr_live)
            buf_add(&c->value, ev->data, ev->len);
        break;
    case RND_EV_ATTR_VALUE_START:
    case RND_EV_ATTR_VALUE_END:
        break;
    case RND_EV_TAG_END:
        attr_finish(c);
        if (!c->end_tag && ev->self_closing)
            json_array_append_new(c->tag, json_true());
        json_array_append_new(c->tokens, c->tag);
        c->tag = NULL;
        c->attrs = NULL;
        break;
    case RND_EV_TAG_ABORT:
        attr_finish(c);
        json_decref(c->tag);
        c->tag = NULL;
        c->attrs = NULL;
        break;
    case RND_EV_COMMENT_START:
        flush_chars(c);
        c->comment.len = 0;
        break;
    case RND_EV_COMMENT:
        buf_add(&c->comment, ev->data, ev->len);
        break;
    case RND_EV_COMMENT_END:
        json_array_append_new(
            c->tokens,
            json_pack("[so]", "Comment",
                      json_stringn_nocheck(c->comment.p ? c->comment.p : "", c->comment.len)));
        break;
    case RND_EV_DOCTYPE:
        flush_chars(c);
        json_array_append_new(
            c->tokens,
            json_pack(
                "[sooob]", "DOCTYPE",
                ev->has_name ? json_stringn_nocheck(ev->data, ev->len) : json_null(),
                ev->has_public ? json_stringn_nocheck(ev->public_id, ev->public_len) : json_null(),
                ev->has_system ? json_stringn_nocheck(ev->system_id, ev->system_len) : json_null(),
                !ev->force_quirks));
        break;
    }
}

/* Tokenizes input split at the given cut points (sorted offsets); returns the token array. */
static json_t *run(const char *in, size_t len, enum rnd_tok_state st, const char *last,
                   const size_t *cuts, size_t ncuts)
{
    struct collector c;
    memset(&c, 0, sizeof c);
    c.tokens = json_array();
    struct rnd_tok *t = rnd_tok_new(on_event, &c);
    rnd_tok_set_state(t, st, last);
    size_t prev = 0;
    for (size_t i = 0; i < ncuts; i++) {
        rnd_tok_feed(t, in + prev, cuts[i] - prev);
        prev = cuts[i];
    }
    rnd_tok_feed(t, in + prev, len - prev);
    rnd_tok_finish(t);
    flush_chars(&c);
    rnd_tok_free(t);
    json_decref(c.tag);
    free(c.chars.p);
    free(c.value.p);
    free(c.comment.p);
    return c.tokens;
}

/* Decodes \uXXXX escapes (doubleEscaped tests) into UTF-8, lone surrogates as 3-byte WTF-8. */
static void unescape(const char *s, size_t n, struct buf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 5 < n && s[i + 1] == 'u') {
            unsigned cp = 0;
            int ok = 1;
            for (int k = 2; k < 6; k++) {
                if (i + (size_t)k >= n) {
                    ok = 0;
                    break;
                }
                char ch = s[i + k];
                cp <<= 4;
                if (ch >= '0' && ch <= '9')
                    cp |= (unsigned)(ch - '0');
                else if (ch >= 'a' && ch <= 'f')
                    cp |= (unsigned)(ch - 'a' + 10);
                else if (ch >= 'A' && ch <= 'F')
                    cp |= (unsigned)(ch - 'A' + 10);
                else
                    ok = 0;
            }
            if (ok) {
                char b[4];
                size_t m;
                if (cp < 0x80) {
                    b[0] = (char)cp;
                    m = 1;
                } else if (cp < 0x800) {
                    b[0] = (char)(0xC0 | (cp >> 6));
                    b[1] = (char)(0x80 | (cp & 0x3F));
                    m = 2;
                } else {
                    b[0] = (char)(0xE0 | (cp >> 12));
                    b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    b[2] = (char)(0x80 | (cp & 0x3F));
                    m = 3;
                }
                buf_add(out, b, m);
                i += 5;
                continue;
            }
        }
        buf_add(out, s + i, 1);
    }
}

static json_t *str_conv(json_t *v, int dbl)
{
    if (!json_is_string(v) || !dbl)
        return json_incref(v);
    struct buf b = {0};
    unescape(json_string_value(v), json_string_length(v), &b);
    json_t *r = json_stringn_nocheck(b.p ? b.p : "", b.len);
    free(b.p);
    return r;
}

/* Expected tokens with adjacent Character tokens merged (and \u escapes decoded if dbl). */
static json_t *normalise(json_t *out, int dbl)
{
    json_t *res = json_array();
    struct buf chars = {0};
    int have = 0;
    size_t i;
    json_t *tok;
    json_array_foreach(out, i, tok)
    {
        const char *kind = json_string_value(json_array_get(tok, 0));
        if (kind && strcmp(kind, "Character") == 0) {
            json_t *s = str_conv(json_array_get(tok, 1), dbl);
            buf_add(&chars, json_string_value(s), json_string_length(s));
            json_decref(s);
            have = 1;
            continue;
        }
        if (have) {
            json_array_append_new(
                res, json_pack("[so]", "Character", json_stringn_nocheck(chars.p, chars.len)));
            chars.len = 0;
            have = 0;
        }
        json_t *copy = json_array();
        size_t k;
        json_t *v;
        json_array_foreach(tok, k, v)
        {
            if (json_is_object(v) && dbl) {
                json_t *o = json_object();
                const char *key;
                json_t *av;
                json_object_foreach(v, key, av)
                {
                    struct buf kb = {0};
                    unescape(key, strlen(key), &kb);
                    json_object_set_new_nocheck(o, kb.p ? kb.p : "", str_conv(av, dbl));
                    free(kb.p);
                }
                json_array_append_new(copy, o);
            } else {
                json_array_append_new(copy, str_conv(v, dbl));
            }
        }
        /* ["StartTag", name, attrs, false] is the same as without the flag */
        if (strcmp(kind ? kind : "", "StartTag") == 0 && json_array_size(copy) == 4 &&
            json_is_false(json_array_get(copy, 3)))
            json_array_remove(copy, 3);
        json_array_append_new(res, copy);
    }
    if (have)
        json_array_append_new(
            res, json_pack("[so]", "Character", json_stringn_nocheck(chars.p, chars.len)));
    free(chars.p);
    return res;
}

static int state_of(const char *name, enum rnd_tok_state *st)
{
    static const struct {
        const char *name;
        enum rnd_tok_state st;
    } map[] = {
        {"Data state", RND_TOK_STATE_DATA},
        {"PLAINTEXT state", RND_TOK_STATE_PLAINTEXT},
        {"RCDATA state", RND_TOK_STATE_RCDATA},
        {"RAWTEXT state", RND_TOK_STATE_RAWTEXT},
        {"Script data state", RND_TOK_STATE_SCRIPT_DATA},
        {"CDATA section state", RND_TOK_STATE_CDATA_SECTION},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].name, name) == 0) {
            *st = map[i].st;
            return 0;
        }
    return -1;
}

static unsigned long rng_state = 12345;

static unsigned long rng(void)
{
    rng_state = rng_state * 6364136223846793005UL + 1442695040888963407UL;
    return rng_state >> 33;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Runs one test in one state in every split mode; returns 1 when all match. */
static int run_test(const char *file, const char *desc, const char *in, size_t len,
                    enum rnd_tok_state st, const char *state_name, const char *last,
                    json_t *expected, int *printed)
{
    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    int ok = 1;
    for (int mode = 0; mode < 7 && ok; mode++) {
        size_t ncuts = 0;
        if (mode == 1) {
            for (size_t i = 1; i < len; i++)
                cuts[ncuts++] = i;
        } else if (mode >= 2 && len > 1) {
            size_t k = 1 + rng() % (len < 8 ? len : 8);
            for (size_t i = 0; i < k; i++)
                cuts[ncuts++] = 1 + rng() % (len - 1);
            qsort(cuts, ncuts, sizeof *cuts, cmp_size);
        }
        json_t *got = run(in, len, st, last, cuts, ncuts);
        if (!json_equal(got, expected)) {
            ok = 0;
            if ((*printed)++ < 30) {
                char *g = json_dumps(got, JSON_ENSURE_ASCII);
                char *e = json_dumps(expected, JSON_ENSURE_ASCII);
                fprintf(stderr, "FAIL %s: %s [%s, split mode %d]\n  got      %s\n  expected %s\n",
                        file, desc, state_name, mode, g, e);
                free(g);
                free(e);
            }
        }
        json_decref(got);
    }
    free(cuts);
    return ok;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        fprintf(stderr, "cannot open %s: html5lib test data missing, test skipped\n", argv[1]);
        return 77; /* ctest SKIP_RETURN_CODE */
    }
    char *names[256];
    size_t nnames = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && nnames < 256) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".test") == 0)
            names[nnames++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, nnames, sizeof names[0], cmp_name);
    int total_pass = 0, total = 0, printed = 0, files = 0;
    for (size_t f = 0; f < nnames; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], names[f]);
        json_error_t err;
        json_t *root = json_load_file(path, JSON_ALLOW_NUL, &err);
        if (!root) {
            fprintf(stderr, "%s: %s (line %d)\n", path, err.text, err.line);
            return 1;
        }
        json_t *tests = json_object_get(root, "tests");
        if (!tests) {
            /* xmlViolation.test: html5lib's XML-coercion mode, not browser tokenization */
            printf("%-28s skipped (no \"tests\": XML-violation mode is not browser behaviour)\n",
                   names[f]);
            json_decref(root);
            free(names[f]);
            continue;
        }
        files++;
        int pass = 0, count = 0;
        size_t i;
        json_t *test;
        json_array_foreach(tests, i, test)
        {
            const char *desc = json_string_value(json_object_get(test, "description"));
            int dbl = json_is_true(json_object_get(test, "doubleEscaped"));
            json_t *jin = json_object_get(test, "input");
            struct buf in = {0};
            if (dbl)
                unescape(json_string_value(jin), json_string_length(jin), &in);
            else
                buf_add(&in, json_string_value(jin), json_string_length(jin));
            json_t *expected = normalise(json_object_get(test, "output"), dbl);
            const char *last = json_string_value(json_object_get(test, "lastStartTag"));
            json_t *states = json_object_get(test, "initialStates");
            size_t nst = states ? json_array_size(states) : 1;
            for (size_t k = 0; k < nst; k++) {
                const char *sname =
                    states ? json_string_value(json_array_get(states, k)) : "Data state";
                enum rnd_tok_state st;
                count++;
                if (state_of(sname, &st) != 0) {
                    fprintf(stderr, "FAIL %s: %s: unknown state %s\n", names[f], desc, sname);
                    continue;
                }
                pass += run_test(names[f], desc, in.p ? in.p : "", in.len, st, sname, last,
                                 expected, &printed);
            }
            json_decref(expected);
            free(in.p);
        }
        printf("%-28s %d/%d\n", names[f], pass, count);
        total_pass += pass;
        total += count;
        json_decref(root);
        free(names[f]);
    }
    printf("TOTAL %d/%d (each fed whole, byte by byte and at 5 random splits)\n", total_pass,
           total);
    if (files == 0) {
        fprintf(stderr, "no test files in %s\n", argv[1]);
        return 1;
    }
    return total_pass == total ? 0 : 1;
}
