/* html_tokenizer.h - a streaming HTML tokenizer following the WHATWG tokenization rules.
 *
 * Bytes in, events out. Feed the document in pieces of any size (split at any byte, even inside
 * a UTF-8 sequence, a CR LF pair or a character reference): the events describe the same tokens
 * whatever the split. Input is treated as UTF-8 (or any ASCII-compatible encoding): the state
 * machine only branches on ASCII, every other byte passes through unchanged.
 *
 * Tokens are not built in memory: they arrive as a sequence of events (a start tag is
 * TAG_START, then per attribute ATTR_NAME [ATTR_VALUE_START ATTR_VALUE* ATTR_VALUE_END], then
 * TAG_END or TAG_ABORT), so text, attribute values and comments of any size stream through in
 * chunks. Memory per tokenizer is fixed (sizeof(struct rnd_tok), 2.5 KiB) whatever the input.
 *
 * Bounded-memory policy (caps, documented in render/README.md):
 * - tag names and attribute names longer than RND_TOK_NAME_MAX bytes are truncated in the events
 *   (ev->truncated is set); the raw bytes still pass through a rewriter untouched;
 * - DOCTYPE name/public/system identifiers are truncated at RND_TOK_DOCTYPE_MAX bytes;
 * - duplicate-attribute detection remembers the first RND_TOK_ATTRSET_MAX bytes of attribute
 *   names of a tag; later attributes are never flagged as duplicates.
 * Text, attribute values and comment data are never held: they stream.
 *
 * Raw offsets: events carry byte offsets into the raw input stream (counted from 0 over all
 * rnd_tok_feed calls), so that a rewriter can pass through or replace exact byte ranges.
 *
 * Threading: a tokenizer is used by one thread at a time; it has no global mutable state. */
#ifndef RND_HTML_TOKENIZER_H
#define RND_HTML_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#define RND_TOK_NAME_MAX 256
#define RND_TOK_DOCTYPE_MAX 256
#define RND_TOK_ATTRSET_MAX 512

/* Content states a tree builder (or a test) may switch the tokenizer to. */
enum rnd_tok_state {
    RND_TOK_STATE_DATA = 0,
    RND_TOK_STATE_RCDATA,
    RND_TOK_STATE_RAWTEXT,
    RND_TOK_STATE_SCRIPT_DATA,
    RND_TOK_STATE_PLAINTEXT,
    RND_TOK_STATE_CDATA_SECTION,
};

enum rnd_tok_event_kind {
    RND_EV_TEXT, /* data/len: character data (decoded: refs resolved, CR LF -> LF); raw: the input
                  * offset up to which the text events so far stand for the input exactly */
    RND_EV_TAG_START,        /* data/len: lowercased tag name; end_tag; raw: offset of '<' */
    RND_EV_ATTR_NAME,        /* data/len: lowercased attribute name; duplicate; raw: name start */
    RND_EV_ATTR_VALUE_START, /* quote ('"', '\'' or 0); raw: offset of the first value byte */
    RND_EV_ATTR_VALUE,       /* data/len: decoded chunk of the value; raw: as for TEXT */
    RND_EV_ATTR_VALUE_END,   /* raw: offset just past the last value byte (closing quote there) */
    RND_EV_TAG_END,          /* self_closing; raw: offset just past '>' */
    RND_EV_TAG_ABORT,        /* EOF inside a tag: the tag is dropped (WHATWG eof-in-tag) */
    RND_EV_COMMENT_START,    /* raw: offset of '<' (or of the bogus comment start) */
    RND_EV_COMMENT,          /* data/len: chunk of comment data */
    RND_EV_COMMENT_END,      /* raw: offset just past the end of the comment */
    RND_EV_DOCTYPE,          /* data/len: name (has_name); public/system ids; force_quirks */
};

struct rnd_tok_event {
    enum rnd_tok_event_kind kind;
    const char *data; /* borrowed: valid only during the callback */
    size_t len;
    uint64_t raw;
    char quote;
    unsigned end_tag : 1, self_closing : 1, duplicate : 1, truncated : 1;
    unsigned has_name : 1, has_public : 1, has_system : 1, force_quirks : 1;
    const char *public_id;
    size_t public_len;
    const char *system_id;
    size_t system_len;
};

/* Receives each event. Runs synchronously inside rnd_tok_feed/rnd_tok_finish, on the caller's
 * thread. It may call rnd_tok_set_state/rnd_tok_set_foreign (typically on TAG_END) to switch the
 * content state for the bytes that follow, as a tree builder would. */
typedef void (*rnd_tok_cb)(void *ud, const struct rnd_tok_event *ev);

struct rnd_tok;

/* Returns a new tokenizer in the data state, calling cb(ud, ...) for each event; borrows ud.
 * Never returns NULL (allocation failure aborts, as everywhere in this project). */
struct rnd_tok *rnd_tok_new(rnd_tok_cb cb, void *ud);

/* Frees t. rnd_tok_free(NULL) does nothing. */
void rnd_tok_free(struct rnd_tok *t);

/* Feeds n bytes (borrowed for the call only). Events for every complete piece are delivered
 * before it returns; a few bytes (a pending CR, character reference or "<!DOCTYPE" lookahead)
 * may be kept until the next call. Never fails: bad input is tokenized as browsers do. */
void rnd_tok_feed(struct rnd_tok *t, const void *buf, size_t n);

/* Signals end of input: flushes what is pending and processes EOF. Call once. */
void rnd_tok_finish(struct rnd_tok *t);

/* Switches the content state (what a tree builder does after <title>, <style>, <script>,
 * <plaintext>...). `last_start_tag` (borrowed, may be NULL) sets the name the "appropriate end
 * tag" check compares with; NULL keeps the name of the last start tag seen. */
void rnd_tok_set_state(struct rnd_tok *t, enum rnd_tok_state state, const char *last_start_tag);

/* Tells the tokenizer whether the adjusted current node is in foreign content (SVG/MathML), where
 * "<![CDATA[" opens a CDATA section instead of a bogus comment. */
void rnd_tok_set_foreign(struct rnd_tok *t, int foreign);

/* Filtering: what a consumer does not need is not delivered, and the work to produce it is
 * skipped (text and values it ignores are not decoded). Filtering never changes how the input is
 * tokenized, only which events arrive. Flags for rnd_tok_set_filter: */
#define RND_TOK_SKIP_TEXT 1u     /* no TEXT events (character references in text not decoded) */
#define RND_TOK_SKIP_COMMENTS 2u /* no COMMENT data events (COMMENT_START/END still arrive) */
#define RND_TOK_SKIP_END_TAGS                                                                      \
    4u /* no events for end tags (nor their attributes), no filter call                            \
        */

/* Decides, per tag, whether the consumer wants its TAG_START/TAG_END (and TAG_ABORT) when it
 * wants none of its attributes. Called when the tag name is complete; `name` is the lowercased
 * name (borrowed, capped at RND_TOK_NAME_MAX). May depend on the consumer's state (what it was
 * told so far). A tag not wanted costs no events at all unless one of its attributes is wanted:
 * then TAG_START is delivered just before that attribute's ATTR_NAME, and TAG_END follows. */
typedef int (*rnd_tok_tag_filter)(void *ud, const char *name, size_t len, int end_tag);

/* Decides, per attribute of a tag, whether the consumer wants its events (nonzero: wanted; the
 * value is handed back in rnd_tok_tag_attr.want on the whole-tag path). `name` is the
 * lowercased name (borrowed, capped at RND_TOK_NAME_MAX: a longer name has len ==
 * RND_TOK_NAME_MAX); end_tag is set for attributes of end tags. Must depend on the name and
 * end_tag only. For an attribute not wanted, ATTR_NAME, ATTR_VALUE_START, ATTR_VALUE and
 * ATTR_VALUE_END are not delivered, its value is not decoded, and its name is not remembered
 * for duplicate detection (duplicates of a wanted name are wanted too, so `duplicate` stays
 * exact among the wanted ones). Runs on the caller's thread inside rnd_tok_feed/finish. */
typedef int (*rnd_tok_attr_filter)(void *ud, const char *name, size_t len, int end_tag);

/* Sets the filter flags, the tag filter (NULL: every tag) and the attribute filter (NULL: every
 * attribute); the filters are called with the ud given to rnd_tok_new. May be called at any time,
 * also from inside the event callback; it applies to the events that follow. The default is no
 * filtering. */
void rnd_tok_set_filter(struct rnd_tok *t, unsigned flags, rnd_tok_tag_filter tf,
                        rnd_tok_attr_filter af);

/* Whole tags: an optional fast path for a consumer that filters (set the filters first). A start
 * tag in the data state that lies whole in the buffer being fed, has no NUL or CR in it and at
 * most RND_TOK_TAG_ATTRS wanted attributes (names of at most RND_TOK_TAG_NAME bytes) is offered
 * as one call instead of its events (the tag filter is not asked); end tags there, when
 * RND_TOK_SKIP_END_TAGS is set, are passed over without a call. `attrs` holds the wanted
 * attributes in order (the attribute filter's nonzero answer in `want`), each with its raw value
 * (borrowed from the fed buffer): the raw bytes equal the decoded value up to `amp`, the first
 * '&' (value_len if none). The callback returns 0 when it took the tag (no events follow for it;
 * the tokenizer stays in the data state, so it must not need a state switch) or 1 to have the
 * tag delivered as events, exactly as without this call (tag filter included). What the
 * consumer makes of a tag must not depend on which way it came. */
#define RND_TOK_TAG_ATTRS 8
#define RND_TOK_TAG_NAME 32
struct rnd_tok_tag_attr {
    const char *name; /* lowercased */
    size_t name_len;
    int want;          /* what the attribute filter answered (nonzero) */
    const char *value; /* raw bytes; NULL when the attribute has no value */
    size_t value_len;
    uint64_t raw;       /* raw offset of value[0] in the stream */
    size_t amp;         /* index of the first '&' in value, or value_len */
    char quote;         /* '"', '\'' or 0 (unquoted) */
    unsigned duplicate; /* an earlier wanted attribute of the tag has the same name */
};
struct rnd_tok_tag {
    const char *name; /* lowercased */
    size_t len;
    unsigned end_tag, self_closing;
    size_t nattrs;
    struct rnd_tok_tag_attr attrs[RND_TOK_TAG_ATTRS];
};
typedef int (*rnd_tok_tag_cb)(void *ud, const struct rnd_tok_tag *tag);

/* The character references that make up most of real pages (&amp; &quot; &lt; &gt; &#39;
 * &nbsp;): when p[0..n) starts with one of them, sets *out and *out_len to its decoded bytes
 * (static) and returns its length; else 0. Each ends with ';', so it decodes the same wherever it
 * stands (text or attribute value, whatever follows). */
size_t rnd_tok_common_ref(const char *p, size_t n, const char **out, size_t *out_len);

/* Sets (or with NULL clears) the whole-tag callback; called with the ud given to rnd_tok_new. */
void rnd_tok_set_tag_cb(struct rnd_tok *t, rnd_tok_tag_cb cb);

/* Called from the event callback during an attribute value (on ATTR_VALUE_START or ATTR_VALUE):
 * the consumer does not need the rest of this value. No more events arrive for it (neither
 * ATTR_VALUE nor ATTR_VALUE_END) and it is not decoded any further. */
void rnd_tok_skip_value(struct rnd_tok *t);

/* Bytes of memory held by t: fixed, plus 3 * RND_TOK_DOCTYPE_MAX while a DOCTYPE token is being
 * read (the only allocation after rnd_tok_new, freed once the token is emitted). */
size_t rnd_tok_bytes_held(const struct rnd_tok *t);

#endif
