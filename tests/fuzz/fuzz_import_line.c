/* fuzz_import_line.c - libFuzzer harness for the NDJSON line scanner of
 * `predictions import` (cli/import_line.c).  Built by -DMS_FUZZ=ON with
 * -fsanitize=fuzzer,address,undefined (target fuzz_import_line); run it
 * as build-fuzz/tests/fuzz/fuzz_import_line -max_total_time=SECONDS
 * -max_len=8192 -dict=tests/fuzz/json.dict build-fuzz/corpus-import_line
 * tests/corpus/import_line (new inputs go to the first directory).  Besides "no crash, no out-of-bounds read"
 * (the input sits in a buffer of exactly its size), every call must keep
 * its contract:
 *  - *where is within the input; accepted means *where == size and *why
 *    NULL and refused means *why set and no member left behind;
 *  - the members' value spans lie inside the input, in order, without
 *    overlap, and each kind matches the span's first byte;
 *  - each span, cut out and put alone in {"k": SPAN}, scans again to the
 *    same span and kind (a span is a whole JSON value, nothing more);
 *  - keys are NUL-terminated, hold no NUL, and no two are equal;
 *  - a string value decoded in place (il_string) is the text the scanner
 *    makes of the same span used as a key in {SPAN: 0}, or refused as
 *    holding \u0000 exactly when that key is, and no byte outside the
 *    span changes;
 *  - the verdict is the same on a second scan with a reused il_line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import_line.h"

#define REQUIRE(c)                                                     \
	do {                                                               \
		if (!(c)) {                                                    \
			fprintf(stderr, "fuzz_import_line: %s:%d: %s\n", __FILE__, \
			        __LINE__, #c);                                     \
			abort();                                                   \
		}                                                              \
	} while (0)

static il_kind kind_of(unsigned char b)
{
	switch (b) {
	case '{': return IL_OBJECT;
	case '[': return IL_ARRAY;
	case '"': return IL_STRING;
	case 't': return IL_TRUE;
	case 'f': return IL_FALSE;
	case 'n': return IL_NULL;
	default: return IL_NUMBER;
	}
}

/* {"k": SPAN} scans to one member whose value is SPAN, of @p kind. */
static void rescan_alone(const il_member *m)
{
	size_t n = 6 + m->val_len;
	char *buf = malloc(n);
	il_line l = { 0 };
	size_t where;
	const char *why;
	REQUIRE(buf != NULL);
	memcpy(buf, "{\"k\":", 5);
	memcpy(buf + 5, m->val, m->val_len);
	buf[n - 1] = '}';
	REQUIRE(il_scan(&l, buf, n, &where, &why));
	REQUIRE(l.n == 1 && l.m[0].val == buf + 5);
	REQUIRE(l.m[0].val_len == m->val_len && l.m[0].kind == m->kind);
	il_line_dispose(&l);
	free(buf);
}

/* il_string on a writable copy of the input against the scanner's own
 * unescaping of the same span as a key. */
static void decode_as_key(const char *s, size_t size, const il_member *m)
{
	size_t at = (size_t)(m->val - s), n = 5 + m->val_len, klen, where;
	char *copy = malloc(size), *buf = malloc(n), *t;
	il_line l = { 0 };
	const char *why;
	bool nul, key_ok;
	REQUIRE(copy != NULL && buf != NULL);
	memcpy(copy, s, size);
	t = il_string(copy, &(il_member){ .val = copy + at,
	              .val_len = m->val_len, .kind = IL_STRING }, &klen, &nul);
	buf[0] = '{';
	memcpy(buf + 1, m->val, m->val_len);
	memcpy(buf + 1 + m->val_len, ":0}", 3);
	key_ok = il_scan(&l, buf, n - 1, &where, &why);
	if (t == NULL) {
		REQUIRE(nul && !key_ok && strcmp(why, "\\u0000 in a key") == 0);
	} else {
		REQUIRE(!nul && key_ok && l.n == 1);
		REQUIRE(t > copy + at && t + klen < copy + at + m->val_len);
		REQUIRE(t[klen] == '\0');
		REQUIRE(l.m[0].key_len == klen);
		REQUIRE(memcmp(l.m[0].key, t, klen) == 0);
	}
	REQUIRE(memcmp(copy, s, at) == 0);
	REQUIRE(memcmp(copy + at + m->val_len, s + at + m->val_len,
	               size - at - m->val_len) == 0);
	il_line_dispose(&l);
	free(copy);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	il_line l = { 0 };
	size_t where = (size_t)-1, where2;
	const char *why = "unset", *why2;
	bool ok = il_scan(&l, s, size, &where, &why);

	REQUIRE(where <= size);
	if (!ok) {
		REQUIRE(why != NULL && why[0] != '\0' && l.n == 0);
	} else {
		const char *prev_end = s;
		REQUIRE(where == size && why == NULL);
		for (size_t i = 0; i < l.n; i++) {
			const il_member *m = &l.m[i];
			REQUIRE(m->val >= prev_end && m->val_len > 0);
			REQUIRE(m->val + m->val_len <= s + size);
			REQUIRE(m->key_at < (size_t)(m->val - s));
			REQUIRE(m->kind == kind_of((unsigned char)m->val[0]));
			REQUIRE(m->key[m->key_len] == '\0');
			REQUIRE(memchr(m->key, '\0', m->key_len) == NULL);
			REQUIRE(il_get(&l, m->key) == m); /* first, and only one */
			prev_end = m->val + m->val_len;
			if (i < 8)
				rescan_alone(m);
			if (i < 8 && m->kind == IL_STRING)
				decode_as_key(s, size, m);
		}
	}
	REQUIRE(il_scan(&l, s, size, &where2, &why2) == ok);
	REQUIRE(where2 == where && why2 == why);
	il_line_dispose(&l);
	return 0;
}
