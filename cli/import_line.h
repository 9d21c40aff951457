/*
 * import_line.h - the NDJSON line scanner of `predictions import`.
 *
 * It checks that one line is one JSON object (RFC 8259: strict grammar,
 * valid UTF-8, valid escapes, no unpaired surrogate escape, no duplicate
 * top-level key) and hands back each top-level member: its key, unescaped,
 * and the raw bytes of its value exactly as they are in the line.  It
 * builds nothing below the top level and never converts a number, so a
 * value can be passed on untouched: `input_features` goes to the logger
 * byte for byte, and the logger's own check (json_check.c) applies
 * jsonb's rules to it.  jansson cannot do this: it has no spans, and it
 * re-serializes numbers (0.1 -> 0.10000000000000001) or refuses them
 * (12345678901234567890).
 *
 * Not thread-safe per il_line; separate il_line values are independent.
 */
#ifndef MS_IMPORT_LINE_H
#define MS_IMPORT_LINE_H

#include <stdbool.h>
#include <stddef.h>

/* Containers deeper than this (the line's object is level 1) are
 * refused: the scanner keeps one byte per level on its stack. */
#define IL_MAX_DEPTH 4096

typedef enum il_kind {
	IL_OBJECT,
	IL_ARRAY,
	IL_STRING,
	IL_NUMBER,
	IL_TRUE,
	IL_FALSE,
	IL_NULL
} il_kind;

/* One top-level member. */
typedef struct il_member {
	const char *key;  /* unescaped UTF-8, NUL-terminated (a key holding
	                   * \u0000 is refused); points into the il_line */
	size_t key_len;
	size_t key_at;    /* byte offset of the key's opening quote */
	const char *val;  /* the value's raw bytes, inside the scanned line */
	size_t val_len;
	il_kind kind;
} il_member;

/* The members of the last line scanned.  Zero-initialise; reuse it for
 * every line; il_line_dispose at the end. */
typedef struct il_line {
	il_member *m;
	size_t n, cap;
	char *keys;             /* the unescaped keys, each NUL-terminated */
	size_t keys_len, keys_cap;
} il_line;

/* Scan @p s (@p n bytes; need not be NUL-terminated, may contain NUL,
 * which is refused).  true: @p out holds the top-level members in line
 * order, their val pointers into @p s (valid while @p s is).  false:
 * *where is the byte offset of the problem (at most @p n) and *why a
 * static reason ("out of memory" included); @p out is then empty. */
bool il_scan(il_line *out, const char *s, size_t n, size_t *where,
             const char **why);

/* The text of string member @p m, decoded in place: @p line is the
 * writable buffer @p m was scanned from (il_scan took it as const; the
 * caller owns it).  Escapes are resolved inside the value's own span -
 * an escape never decodes to more bytes than it takes - and the text is
 * NUL-terminated there (at the latest where the closing quote was); no
 * byte outside the span changes, so the other members stay valid, but
 * @p m's span no longer holds its JSON text.  Returns the text (inside
 * @p line), its length in *len; NULL when @p m is not a string, or when
 * it holds \u0000 (*nul then true: a C string cannot carry it, and the
 * span is left partly decoded).  Nothing is allocated. */
char *il_string(char *line, const il_member *m, size_t *len, bool *nul);

/* The member named @p key (NUL-terminated), or NULL. */
const il_member *il_get(const il_line *l, const char *key);

/* Free what @p l holds; it may be reused afterwards. */
void il_line_dispose(il_line *l);

#endif
