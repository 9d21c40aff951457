/* check_import_line.c - the NDJSON line scanner of `predictions import`
 * (cli/import_line.c): raw value spans handed back byte for byte, keys
 * unescaped, strict grammar, and the positions of its refusals. */
#define _GNU_SOURCE
#include "common.h"
#include "import_line.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The raw text of member @p key of @p line, as a new string; NULL when
 * the line is refused or has no such key. */
static char *raw_of(const char *line, const char *key)
{
	il_line l = { 0 };
	size_t where;
	const char *why;
	const il_member *m;
	char *r = NULL;
	if (il_scan(&l, line, strlen(line), &where, &why) &&
	    (m = il_get(&l, key)) != NULL)
		r = strndup(m->val, m->val_len);
	il_line_dispose(&l);
	return r;
}

START_TEST(values_come_back_byte_for_byte)
{
	/* the numbers jansson re-serialized or refused (issue 9, defect 5) */
	const char *feat = "{\"a\":0.1,\"b\":-0.0, \"c\" : 1e2,\"d\":"
	                   "12345678901234567890,\"e\":1.50E-7,\"f\":[ {} ,[]]}";
	char line[512], *r;
	snprintf(line, sizeof line, " {\"model_version\":\"v1\",\"input_features\""
	         " :  %s ,\"predicted_value\":0.30000000000000004}\t", feat);
	r = raw_of(line, "input_features");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r, feat);
	free(r);
	r = raw_of(line, "predicted_value");
	ck_assert_str_eq(r, "0.30000000000000004");
	free(r);
	r = raw_of(line, "model_version");
	ck_assert_str_eq(r, "\"v1\"");
	free(r);
}
END_TEST

START_TEST(kinds_and_order)
{
	const char *line = "{\"o\":{\"x\":[1,2]},\"a\":[],\"s\":\"t\",\"n\":-3,"
	                   "\"t\":true,\"f\":false,\"z\":null}";
	il_line l = { 0 };
	size_t where;
	const char *why;
	const il_kind want[] = { IL_OBJECT, IL_ARRAY, IL_STRING, IL_NUMBER,
	                         IL_TRUE, IL_FALSE, IL_NULL };
	const char *keys[] = { "o", "a", "s", "n", "t", "f", "z" };
	ck_assert(il_scan(&l, line, strlen(line), &where, &why));
	ck_assert_uint_eq(where, strlen(line));
	ck_assert_ptr_null(why);
	ck_assert_uint_eq(l.n, 7);
	for (size_t i = 0; i < 7; i++) {
		ck_assert_str_eq(l.m[i].key, keys[i]);
		ck_assert_int_eq(l.m[i].kind, want[i]);
	}
	ck_assert_ptr_null(il_get(&l, "missing"));
	/* the same il_line is reused for the next line */
	ck_assert(il_scan(&l, "{}", 2, &where, &why));
	ck_assert_uint_eq(l.n, 0);
	il_line_dispose(&l);
}
END_TEST

START_TEST(keys_are_unescaped)
{
	/* "model\u005fname" is model_name; so is a key with a \/ escape */
	const char *line = "{\"model\\u005fname\":\"m\",\"a\\/b\":1,"
	                   "\"\\ud83d\\ude00\":2,\"\\u00e9\":3}";
	il_line l = { 0 };
	size_t where;
	const char *why;
	ck_assert(il_scan(&l, line, strlen(line), &where, &why));
	ck_assert_ptr_nonnull(il_get(&l, "model_name"));
	ck_assert_ptr_nonnull(il_get(&l, "a/b"));
	ck_assert_ptr_nonnull(il_get(&l, "\xf0\x9f\x98\x80"));
	ck_assert_ptr_nonnull(il_get(&l, "\xc3\xa9"));
	il_line_dispose(&l);
}
END_TEST

/* Each refused line, with where the scanner says the problem is. */
static const struct {
	const char *line;
	size_t where;
	const char *why;
} bad[] = {
	{ "", 0, "not a JSON object" },
	{ "[1]", 0, "not a JSON object" },
	{ "\"s\"", 0, "not a JSON object" },
	{ "{", 1, "expected a key (a string)" },
	{ "{\"a\":1", 6, "expected ',' or '}'" },
	{ "{\"a\":1}x", 7, "text after the object" },
	{ "{\"a\":1}{}", 7, "text after the object" },
	{ "{\"a\" 1}", 5, "expected ':'" },
	{ "{\"a\":01}", 6, "expected ',' or '}'" },
	{ "{\"a\":1.}", 7, "invalid number" },
	{ "{\"a\":-}", 6, "invalid number" },
	{ "{\"a\":1e}", 7, "invalid number" },
	{ "{\"a\":+1}", 5, "invalid value" },
	{ "{\"a\":.5}", 5, "invalid value" },
	{ "{\"a\":NaN}", 5, "invalid value" },
	{ "{\"a\":tru}", 5, "invalid value" },
	{ "{\"a\":[1,]}", 8, "invalid value" },
	{ "{\"a\":[1 2]}", 8, "expected ',' or ']'" },
	{ "{\"a\":{\"b\"}}", 9, "expected ':'" },
	{ "{\"a\":{1:2}}", 6, "expected a key (a string)" },
	{ "{\"a\":1,}", 7, "expected a key (a string)" },
	{ "{\"a\":\"x\ty\"}", 7, "control character in a string" },
	{ "{\"a\":\"\\x\"}", 6, "invalid escape in a string" },
	{ "{\"a\":\"\\u12\"}", 6, "invalid \\u escape" },
	{ "{\"a\":\"\\udc00\"}", 6, "unpaired surrogate in a \\u escape" },
	{ "{\"a\":\"\\ud800x\"}", 6, "unpaired surrogate in a \\u escape" },
	{ "{\"a\\u0000\":1}", 3, "\\u0000 in a key" },
	{ "{\"a\":\"\xc3\"}", 6, "invalid UTF-8" },
	{ "{\"a\":\"\xed\xa0\x80\"}", 6, "invalid UTF-8" },
	{ "{\"a\":\"\xc0\xaf\"}", 6, "invalid UTF-8" },
	{ "{\"a\":\"abc", 9, "unterminated string" },
	{ "{\"a\":[[", 7, "expected a value" },
	{ "{\"a\":[1", 7, "unterminated container" },
	{ "{\"k\":1,\"j\":2,\"k\":3}", 13, "duplicate key" },
	{ "{\"k\":1,\"\\u006b\":3}", 7, "duplicate key" },
};

START_TEST(refusals_say_where)
{
	il_line l = { 0 };
	size_t where;
	const char *why;
	const char *line = bad[_i].line;
	ck_assert_msg(!il_scan(&l, line, strlen(line), &where, &why),
	              "accepted: %s", line);
	ck_assert_msg(strcmp(why, bad[_i].why) == 0 && where == bad[_i].where,
	              "%s: got \"%s\" at %zu, want \"%s\" at %zu", line, why,
	              where, bad[_i].why, bad[_i].where);
	ck_assert_uint_eq(l.n, 0);
	il_line_dispose(&l);
}
END_TEST

START_TEST(nul_byte_refused)
{
	il_line l = { 0 };
	size_t where;
	const char *why;
	const char line[] = "{\"a\":\"x\0y\"}";
	ck_assert(!il_scan(&l, line, sizeof line - 1, &where, &why));
	ck_assert_uint_eq(where, 7);
	ck_assert(!il_scan(&l, line, 8, &where, &why)); /* cut inside */
	il_line_dispose(&l);
}
END_TEST

START_TEST(nesting_is_bounded_without_recursion)
{
	/* IL_MAX_DEPTH levels pass (the line's object is level 1), one more
	 * does not, and 1 000 000 levels are refused without a deep stack */
	size_t n = 1000000, len = 5 + 2 * n + 1;
	char *line = malloc(len + 1);
	il_line l = { 0 };
	size_t where, inner = IL_MAX_DEPTH - 1;
	const char *why;
	ck_assert_ptr_nonnull(line);
	memcpy(line, "{\"a\":", 5);
	memset(line + 5, '[', inner);
	memset(line + 5 + inner, ']', inner);
	line[5 + 2 * inner] = '}';
	ck_assert(il_scan(&l, line, 5 + 2 * inner + 1, &where, &why));
	memset(line + 5, '[', inner + 1);
	memset(line + 5 + inner + 1, ']', inner + 1);
	line[5 + 2 * (inner + 1)] = '}';
	ck_assert(!il_scan(&l, line, 5 + 2 * (inner + 1) + 1, &where, &why));
	ck_assert_str_eq(why, "nesting too deep");
	ck_assert_uint_eq(where, 5 + inner);
	memset(line + 5, '[', n);
	memset(line + 5 + n, ']', n);
	line[5 + 2 * n] = '}';
	ck_assert(!il_scan(&l, line, len, &where, &why));
	il_line_dispose(&l);
	free(line);
}
END_TEST

START_TEST(many_keys_duplicates_found)
{
	/* 20 000 members: the duplicate check is a sort, not a quadratic
	 * scan; the repeat is named at its second occurrence */
	size_t n = 20000, cap = n * 24 + 64, len = 1;
	char *line = malloc(cap);
	il_line l = { 0 };
	size_t where, at = 0;
	const char *why;
	ck_assert_ptr_nonnull(line);
	line[0] = '{';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(line + len, cap - len, "%s\"k%zu\":%zu",
		                        i ? "," : "", i, i);
	snprintf(line + len, cap - len, "}");
	ck_assert(il_scan(&l, line, len + 1, &where, &why));
	ck_assert_uint_eq(l.n, n);
	at = len + 1;
	len += (size_t)snprintf(line + len, cap - len, ",\"k777\":0}");
	ck_assert(!il_scan(&l, line, len, &where, &why));
	ck_assert_str_eq(why, "duplicate key");
	ck_assert_uint_eq(where, at);
	il_line_dispose(&l);
	free(line);
}
END_TEST

START_TEST(few_keys_duplicates_found)
{
	/* below 16 members the check compares pairs, without allocating:
	 * the same verdict as the sort, the first member that repeats an
	 * earlier key named */
	const char *line = "{\"a\":1,\"b\":2,\"b\":3,\"a\":4}";
	il_line l = { 0 };
	size_t where;
	const char *why;
	ck_assert(!il_scan(&l, line, strlen(line), &where, &why));
	ck_assert_str_eq(why, "duplicate key");
	ck_assert_uint_eq(where, (size_t)(strstr(line, "\"b\":3") - line));
	ck_assert_uint_eq(l.n, 0);
	line = "{\"a\":1,\"ab\":2,\"b\":3,\"ba\":4}";
	ck_assert(il_scan(&l, line, strlen(line), &where, &why));
	ck_assert_uint_eq(l.n, 4);
	il_line_dispose(&l);
}
END_TEST

/* il_string of member @p key of @p line, put back as @p orig first (a
 * decoded line is no longer the JSON it was). */
static char *decoded(char *line, const char *orig, il_line *l,
                     const char *key, size_t *len, bool *nul)
{
	size_t where;
	const char *why;
	strcpy(line, orig);
	ck_assert(il_scan(l, line, strlen(line), &where, &why));
	return il_string(line, il_get(l, key), len, nul);
}

START_TEST(strings_decode_in_place)
{
	char line[] = "{\"a\":\"plain\",\"b\":\"x\\\"\\\\\\/\\b\\f\\n\\r\\ty\","
	              "\"c\":\"\\u00e9\\u20ac\\ud83d\\ude00\\u0041\",\"d\":\"\","
	              "\"e\":\"z\\u0000z\",\"f\":1,\"g\":\"\\u00e9-tail\"}";
	char copy[sizeof line];
	il_line l = { 0 };
	size_t len;
	bool nul;
	char *t;
	memcpy(copy, line, sizeof line);
	t = decoded(line, copy, &l, "a", &len, &nul);
	ck_assert_str_eq(t, "plain");
	ck_assert_uint_eq(len, 5);
	ck_assert(!nul);
	ck_assert_ptr_eq(t, line + 6); /* inside the line, no copy */
	t = decoded(line, copy, &l, "b", &len, &nul);
	ck_assert_str_eq(t, "x\"\\/\b\f\n\r\ty");
	ck_assert_uint_eq(len, 10);
	t = decoded(line, copy, &l, "c", &len, &nul);
	ck_assert_str_eq(t, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" "A");
	t = decoded(line, copy, &l, "d", &len, &nul);
	ck_assert_str_eq(t, "");
	ck_assert_uint_eq(len, 0);
	t = decoded(line, copy, &l, "e", &len, &nul);
	ck_assert_ptr_null(t);
	ck_assert(nul);
	/* not a string */
	t = decoded(line, copy, &l, "f", &len, &nul);
	ck_assert_ptr_null(t);
	ck_assert(!nul);
	/* decoding one member leaves every other byte of the line alone */
	t = decoded(line, copy, &l, "g", &len, &nul);
	ck_assert_str_eq(t, "\xc3\xa9-tail");
	{
		const il_member *m = il_get(&l, "g");
		size_t at = (size_t)(m->val - line);
		ck_assert_mem_eq(line, copy, at);
		ck_assert_mem_eq(line + at + m->val_len, copy + at + m->val_len,
		                 sizeof line - at - m->val_len);
	}
	il_line_dispose(&l);
}
END_TEST

Suite *unit_import_line_suite(void)
{
	Suite *s = suite_create("unit_import_line");
	TCase *tc = tcase_create("Scanner");
	tcase_add_test(tc, values_come_back_byte_for_byte);
	tcase_add_test(tc, kinds_and_order);
	tcase_add_test(tc, keys_are_unescaped);
	tcase_add_loop_test(tc, refusals_say_where, 0,
	                    (int)(sizeof bad / sizeof bad[0]));
	tcase_add_test(tc, nul_byte_refused);
	tcase_add_test(tc, nesting_is_bounded_without_recursion);
	tcase_add_test(tc, many_keys_duplicates_found);
	tcase_add_test(tc, few_keys_duplicates_found);
	tcase_add_test(tc, strings_decode_in_place);
	suite_add_tcase(s, tc);
	return s;
}
