/* check_json_check.c - the strict features-JSON validator
 * (ms__features_valid) and its UTF-8 rule (ms__utf8_len): what it
 * accepts, every refusal json_check.h lists, and that *where / *why name
 * the offending byte and the reason (no server needed). */
#define _GNU_SOURCE
#include "common.h"
#include "json_check.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool valid(const char *s)
{
	return ms__features_valid(s, strlen(s), NULL, NULL);
}

START_TEST(features_json_cases)
{
	const char *good[] = {
		"{}", " { } ", "{\"a\":1}", "{\"a\":[1,2.5,-3e10,0,true,false,null]}",
		"{\"x\":{\"y\":{\"z\":\"\\u00e9\\n\\t\\\"\\\\\\/\"}}}",
		"{\"e\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
		"{\"s\":\"\\ud83d\\ude00\"}", "{\"n\":-0.0e-5}", "{\"n\":1E+3}",
		"{\"a\":1,\"a\":2}", "\n\r\t{\"k\" : \"v\" }\n", "{\"n\":1e1000}",
		"{\"n\":1e131071}", "{\"n\":1e-16383}", "{\"n\":0.5e-16382}",
	};
	const char *bad[] = {
		"", " ", "[]", "1", "\"s\"", "null", "{", "}", "{\"a\"}", "{\"a\":}",
		"{\"a\":1,}", "{a:1}", "{'a':1}", "{\"a\":01}", "{\"a\":1.}",
		"{\"a\":.5}", "{\"a\":+1}", "{\"a\":1e}", "{\"a\":-}",
		"{\"a\":tru}", "{\"a\":nul}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}",
		"{\"a\":\"\t\"}", "{\"a\":\"\\u0000\"}", "{\"a\":\"\\ud800\"}",
		"{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800\\u0041\"}",
		"{\"a\":\"\xc3\"}", "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}",
		"{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xff\"}", "{} {}",
		"{}x", "{\"a\":1e131072}", "{\"a\":1e-16384}",
		"{\"a\":0.5e-16383}", "{\"a\":12e131071}", "{\"a\":[1,2}", "{\"a\":[1 2]}",
		"{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":\"x\"",
	};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		ck_assert_msg(valid(good[i]), "should accept: %s", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(!valid(bad[i]), "should reject: %s", bad[i]);
	{
		/* depth limit */
		char deep[2000];
		size_t k = 0;
		deep[k++] = '{';
		deep[k++] = '"';
		deep[k++] = 'a';
		deep[k++] = '"';
		deep[k++] = ':';
		for (int i = 0; i < 600; i++)
			deep[k++] = '[';
		for (int i = 0; i < 600; i++)
			deep[k++] = ']';
		deep[k++] = '}';
		deep[k] = 0;
		ck_assert(!valid(deep));
	}
	{
		size_t where;
		const char *why;
		ck_assert(!ms__features_valid("{\"a\":1,,}", 9, &where, &why));
		ck_assert_uint_eq(where, 7);
		ck_assert_ptr_nonnull(why);
	}
}
END_TEST

/* Random mutations of valid documents: our verdict must match jansson's
 * (which also refuses \u0000 and lone surrogates) on everything that is
 * an object and has no huge exponent. */
START_TEST(features_json_vs_jansson)
{
	const char *seeds[] = {
		"{\"f1\":0.25,\"f2\":[1,2,3],\"name\":\"caf\xc3\xa9\",\"ok\":true}",
		"{\"a\":{\"b\":[null,false,{\"c\":\"\\u00e9\\n\"}]},\"d\":-12.5e-3}",
		"{\"s\":\"\\ud83d\\ude00 x\",\"t\":\"\\\\\\\"\"}",
	};
	const char alphabet[] = "{}[]:,\"\\ut0123456789.-+eEfalsnr \x80\xc3\xa9";
	uint64_t x = 88172645463325252ull;
	int agree = 0, accepted = 0;
	for (int iter = 0; iter < 200000; iter++) {
		char buf[256];
		const char *s = seeds[iter % 3];
		size_t n = strlen(s);
		json_error_t err;
		json_t *j;
		bool ours, theirs;
		memcpy(buf, s, n + 1);
		for (int m = 0; m < 1 + iter % 3; m++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			size_t pos = (size_t)(x % n);
			int op = (int)((x >> 20) % 3);
			char c = alphabet[(x >> 32) % (sizeof alphabet - 1)];
			if (op == 0) {
				buf[pos] = c;
			} else if (op == 1 && n > 2) {
				memmove(buf + pos, buf + pos + 1, n - pos);
				n--;
			} else if (n < sizeof buf - 2) {
				memmove(buf + pos + 1, buf + pos, n - pos + 1);
				buf[pos] = c;
				n++;
			}
		}
		buf[n] = 0;
		if (strlen(buf) != n)
			continue;
		ours = ms__features_valid(buf, n, NULL, NULL);
		j = json_loadb(buf, n, 0, &err);
		theirs = j != NULL && json_is_object(j);
		json_decref(j);
		if (ours && !theirs && (strstr(err.text, "overflow") ||
		                        strstr(err.text, "too big")))
			continue; /* jansson's own number limits, not JSON's */
		ck_assert_msg(ours == theirs, "disagree (ours %d) on: %s", ours,
		              buf);
		agree++;
		accepted += ours;
	}
	ck_assert_int_gt(agree, 100000);
	ck_assert_int_gt(accepted, 1000);
}
END_TEST

/* @p s (length @p n) is refused with reason @p why at byte @p where. */
static void refused_n(const char *s, size_t n, size_t where, const char *why)
{
	size_t w = (size_t)-1;
	const char *y = NULL;
	ck_assert_msg(!ms__features_valid(s, n, &w, &y), "should reject: %.*s",
	              (int)(n > 200 ? 200 : n), s);
	ck_assert_msg(y != NULL && strcmp(y, why) == 0,
	              "reason for %.*s: got \"%s\", want \"%s\"",
	              (int)(n > 200 ? 200 : n), s, y ? y : "(null)", why);
	ck_assert_msg(w == where, "offset for %.*s: got %zu, want %zu",
	              (int)(n > 200 ? 200 : n), s, w, where);
}

static void refused(const char *s, size_t where, const char *why)
{
	refused_n(s, strlen(s), where, why);
}

/* @p s is accepted: *why is NULL and *where is past the last byte. */
static void accepted(const char *s, size_t n)
{
	size_t w = (size_t)-1;
	const char *y = "unset";
	ck_assert_msg(ms__features_valid(s, n, &w, &y), "should accept: %.*s",
	              (int)(n > 200 ? 200 : n), s);
	ck_assert_ptr_null(y);
	ck_assert_uint_eq(w, n);
}

START_TEST(accepts_objects)
{
	const char *good[] = {
		"{}", "{\"\":\"\"}", "{\"a\":{}}", "{\"a\":[]}", "{\"a\":[{}]}",
		"{\"a\":\"\x7f\"}", "{\"a\":\"\\u0001\"}", "{\"a\":\"\\uFFFF\"}",
		"{\"a\":\"\\uD83D\\uDE00\"}", "{\"a\":\"\\udbff\\udfff\"}",
		"{\"a\":0}", "{\"a\":-0}", "{\"a\":0.0}", "{\"a\":1e0}",
		"{\"a\":1.5e-3,\"b\":[true,false,null],\"c\":\"\"}",
		" \t\r\n{ \t\r\n\"a\" \t\r\n: \t\r\n1 \t\r\n} \t\r\n",
	};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		accepted(good[i], strlen(good[i]));
	/* only the first n bytes are read */
	accepted("{}garbage", 2);
}
END_TEST

START_TEST(refuses_non_objects)
{
	refused("", 0, "not a JSON object");
	refused("   ", 3, "not a JSON object");
	refused("[]", 0, "not a JSON object");
	refused("  [{}]", 2, "not a JSON object");
	refused("1", 0, "not a JSON object");
	refused("\"{}\"", 0, "not a JSON object");
	refused("null", 0, "not a JSON object");
	refused("true", 0, "not a JSON object");
}
END_TEST

/* One table of refusals with the byte each one is pinned to. */
START_TEST(where_and_why)
{
	static const struct {
		const char *s;
		size_t where;
		const char *why;
	} cases[] = {
		{"{\"a\"", 4, "expected ':'"},
		{"{\"a\" 1}", 5, "expected ':'"},
		{"{a:1}", 1, "expected a string key"},
		{"{\"a\":1,}", 7, "expected a string key"},
		{"{\"a\":1,,}", 7, "expected a string key"},
		{"{\"a\":1", 6, "expected ',' or '}'"},
		{"{\"a\":01}", 6, "expected ',' or '}'"},
		{"{\"a\":[1 2]}", 8, "expected ',' or ']'"},
		{"{\"a\":[1,]}", 8, "unexpected character"},
		{"{\"a\":", 5, "unexpected end of text"},
		{"{\"a\":+1}", 5, "unexpected character"},
		{"{\"a\":.5}", 5, "unexpected character"},
		{"{\"a\":NaN}", 5, "unexpected character"},
		{"{\"a\":-}", 6, "invalid number"},
		{"{\"a\":1.}", 7, "invalid number"},
		{"{\"a\":1e}", 7, "invalid number"},
		{"{\"a\":1e+}", 8, "invalid number"},
		{"{\"a\":tru}", 5, "invalid literal"},
		{"{\"a\":nul}", 5, "invalid literal"},
		{"{\"a\":\"abc", 9, "unterminated string"},
		{"{\"a\":\"\\", 6, "unterminated string"},
		{"{\"a\":\"a\tb\"}", 7, "control character in string"},
		{"{\"a\":\"\\x\"}", 6, "invalid escape in string"},
		{"{\"a\":\"\\u12\"}", 6, "invalid \\u escape"},
		{"{\"a\":\"\\u12g4\"}", 6, "invalid \\u escape"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		refused(cases[i].s, cases[i].where, cases[i].why);
	/* a raw NUL inside a string is a control character */
	refused_n("{\"a\":\"x\0\"}", 10, 7, "control character in string");
}
END_TEST

START_TEST(refuses_nul_escape)
{
	refused("{\"a\":\"\\u0000\"}", 6, "\\u0000 is not accepted by "
	        "PostgreSQL jsonb");
	refused("{\"a\":\"ok\\u0000\"}", 8, "\\u0000 is not accepted by "
	        "PostgreSQL jsonb");
	refused("{\"\\u0000\":1}", 2, "\\u0000 is not accepted by "
	        "PostgreSQL jsonb");
}
END_TEST

START_TEST(refuses_unpaired_surrogates)
{
	const char *why = "unpaired UTF-16 surrogate";
	/* a low half alone: pinned at its escape */
	refused("{\"a\":\"\\udc00\"}", 6, why);
	refused("{\"a\":\"\\uDFFF\"}", 6, why);
	refused("{\"a\":\"\\udc00\\ud800\"}", 6, why);
	/* a high half not followed by a low one: pinned just after it */
	refused("{\"a\":\"\\ud800\"}", 12, why);
	refused("{\"a\":\"\\uDBFF\"}", 12, why);
	refused("{\"a\":\"\\ud800x\"}", 12, why);
	refused("{\"a\":\"\\ud800\\u0041\"}", 12, why);
	refused("{\"a\":\"\\ud800\\ud800\"}", 12, why);
	refused("{\"a\":\"\\ud800\\ue000\"}", 12, why);
	refused("{\"a\":\"\\ud800\\n\"}", 12, why);
}
END_TEST

START_TEST(refuses_invalid_utf8)
{
	static const char *const bad[] = {
		"\x80",             /* continuation byte as a lead */
		"\xbf",
		"\xc3",             /* truncated two-byte sequence */
		"\xc3(",            /* bad continuation */
		"\xc0\xaf",         /* overlong '/' */
		"\xc1\xbf",         /* overlong U+007F */
		"\xe0\x80\xaf",     /* overlong three-byte '/' */
		"\xe0\x9f\xbf",     /* overlong U+07FF */
		"\xf0\x80\x80\xaf", /* overlong four-byte '/' */
		"\xf0\x8f\xbf\xbf", /* overlong U+FFFF */
		"\xed\xa0\x80",     /* U+D800 encoded */
		"\xed\xbf\xbf",     /* U+DFFF encoded */
		"\xf4\x90\x80\x80", /* U+110000 */
		"\xf5\x80\x80\x80", /* lead byte past U+10FFFF */
		"\xf7\xbf\xbf\xbf",
		"\xe2\x82",         /* truncated three-byte sequence */
		"\xf0\x9f\x98",     /* truncated four-byte sequence */
		"\xfe", "\xff",
	};
	static const char *const good[] = {
		"\xc2\x80",         /* U+0080 */
		"\xdf\xbf",         /* U+07FF */
		"\xe0\xa0\x80",     /* U+0800 */
		"\xed\x9f\xbf",     /* U+D7FF */
		"\xee\x80\x80",     /* U+E000 */
		"\xef\xbf\xbf",     /* U+FFFF */
		"\xf0\x90\x80\x80", /* U+10000 */
		"\xf4\x8f\xbf\xbf", /* U+10FFFF */
	};
	char buf[64];
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		/* in a value after one good character, and in a key */
		snprintf(buf, sizeof buf, "{\"a\":\"x%s\"}", bad[i]);
		refused(buf, 7, "invalid UTF-8");
		snprintf(buf, sizeof buf, "{\"%s\":1}", bad[i]);
		refused(buf, 2, "invalid UTF-8");
	}
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		snprintf(buf, sizeof buf, "{\"a\":\"%s\"}", good[i]);
		accepted(buf, strlen(buf));
	}
	/* outside a string a non-ASCII byte is no token at all */
	refused("{\"a\":\xc3\xa9}", 5, "unexpected character");
}
END_TEST

START_TEST(utf8_len_lengths)
{
	static const struct {
		const char *s;
		size_t len;
	} cases[] = {
		{"a", 1}, {"\x7f", 1}, {"\xc2\x80", 2}, {"\xdf\xbf", 2},
		{"\xe0\xa0\x80", 3}, {"\xef\xbf\xbf", 3},
		{"\xf0\x90\x80\x80", 4}, {"\xf4\x8f\xbf\xbf", 4},
		{"\x80", 0}, {"\xc1\xbf", 0}, {"\xe0\x9f\xbf", 0},
		{"\xed\xa0\x80", 0}, {"\xf0\x8f\xbf\xbf", 0},
		{"\xf4\x90\x80\x80", 0}, {"\xf5\x80\x80\x80", 0}, {"\xff", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const unsigned char *p = (const unsigned char *)cases[i].s;
		ck_assert_msg(ms__utf8_len(p, p + strlen(cases[i].s)) ==
		              cases[i].len, "case %zu", i);
	}
	/* a sequence cut short by the end of the buffer is invalid */
	{
		const unsigned char *p = (const unsigned char *)"\xf0\x9f\x98\x80";
		ck_assert_uint_eq(ms__utf8_len(p, p + 4), 4);
		ck_assert_uint_eq(ms__utf8_len(p, p + 3), 0);
		ck_assert_uint_eq(ms__utf8_len(p, p + 1), 0);
	}
}
END_TEST

/* {"a":<lead><digits x n><tail>} in a malloc'd buffer; *len its length,
 * *num_end the offset just past the number. */
static char *number_doc(const char *lead, char digit, size_t n,
                        const char *tail, size_t *len, size_t *num_end)
{
	size_t ll = strlen(lead), tl = strlen(tail);
	char *s = malloc(5 + ll + n + tl + 2);
	ck_assert_ptr_nonnull(s);
	memcpy(s, "{\"a\":", 5);
	memcpy(s + 5, lead, ll);
	memset(s + 5 + ll, digit, n);
	memcpy(s + 5 + ll + n, tail, tl);
	*num_end = 5 + ll + n + tl;
	s[*num_end] = '}';
	s[*num_end + 1] = '\0';
	*len = *num_end + 1;
	return s;
}

static void number_case(const char *lead, char digit, size_t n,
                        const char *tail, bool ok)
{
	size_t len, end;
	char *s = number_doc(lead, digit, n, tail, &len, &end);
	if (ok)
		accepted(s, len);
	else
		refused_n(s, len, end, "number out of PostgreSQL numeric range");
	free(s);
}

START_TEST(numeric_range)
{
	/* digits before the point: 131072 ("1" and 131071 more) is the most */
	number_case("1", '0', 131071, "", true);
	number_case("1", '0', 131072, "", false);
	number_case("-9", '9', 131071, "", true);
	number_case("-9", '9', 131072, "", false);
	number_case("1", '0', 131071, ".5", true);
	number_case("1", '0', 131072, ".5", false);
	/* the exponent moves digits before the point */
	number_case("1", '0', 0, "e131071", true);
	number_case("1", '0', 0, "e131072", false);
	number_case("1", '0', 0, "E+131072", false);
	number_case("12", '0', 0, "e131070", true);
	number_case("12", '0', 0, "e131071", false);
	number_case("1", '0', 131070, "e1", true);
	number_case("1", '0', 131070, "e2", false);
	number_case("1", '0', 0, "e99999999999999999999", false);
	/* digits after the point: 16383 is the most */
	number_case("0.", '1', 16383, "", true);
	number_case("0.", '1', 16384, "", false);
	number_case("-5.", '1', 16383, "", true);
	number_case("-5.", '1', 16384, "", false);
	/* a negative exponent moves digits after the point */
	number_case("1", '0', 0, "e-16383", true);
	number_case("1", '0', 0, "e-16384", false);
	number_case("0.5", '0', 0, "e-16382", true);
	number_case("0.5", '0', 0, "e-16383", false);
	number_case("0.", '1', 16382, "e-1", true);
	number_case("0.", '1', 16382, "e-2", false);
	number_case("0.", '1', 16384, "e1", true);
	number_case("1", '0', 0, "e-99999999999999999999", false);
}
END_TEST

/* Ranges are judged on the value after the exponent is applied, as
 * numeric.c does, also when the integer part is 0: the digits the literal
 * spells out do not matter, the weight and display scale do.  The
 * boundaries were checked against PostgreSQL 15 (tests/corpus/features
 * replays them on the real server in db_json_diff). */
START_TEST(numeric_range_after_exponent)
{
	/* the three that reached COPY batches */
	number_case("0.1", '0', 0, "e200000", false);
	number_case("0", '0', 0, "e2000000000", false);
	number_case("0.5", '0', 0, "e131073", false);
	/* the first nonzero digit decides the weight: 10^131071 is the top */
	number_case("0.5", '0', 0, "e131072", true);
	number_case("0.0001", '0', 0, "e131075", true);
	number_case("0.0001", '0', 0, "e131076", false);
	number_case("0.00000", '0', 0, "e131076", true);
	number_case("10", '0', 0, "e131070", true);
	number_case("10", '0', 0, "e131071", false);
	number_case("-0.5", '0', 0, "E+131073", false);
	/* zero: any exponent below INT_MAX / 2 is fine upward, but the
	 * display scale still counts downward */
	number_case("0", '0', 0, "e1073741822", true);
	number_case("0", '0', 0, "e1073741823", false);
	number_case("-0", '0', 0, "e-16383", true);
	number_case("0", '0', 0, "e-16384", false);
	number_case("0.00", '0', 0, "e-16381", true);
	number_case("0.00", '0', 0, "e-16382", false);
	number_case("0", '0', 0, "e-1073741822", false);
	number_case("0", '0', 0, "e99999999999999999999", false);
	/* trailing zeros after the point count toward the scale */
	number_case("0.", '0', 16383, "", true);
	number_case("0.", '0', 16384, "", false);
}
END_TEST

/* {"a": then @p n nested empty-innermost containers of @p kind ('[' or
 * '{'), then }: n + 1 levels in all. */
static char *nested(char kind, size_t n, size_t *len)
{
	const char *open = kind == '[' ? "[" : "{\"a\":";
	size_t ol = strlen(open), k = 5;
	char *s = malloc(5 + n * ol + n + 2);
	ck_assert_ptr_nonnull(s);
	memcpy(s, "{\"a\":", 5);
	for (size_t i = 0; i + 1 < n; i++, k += ol)
		memcpy(s + k, open, ol);
	s[k++] = kind;
	for (size_t i = 0; i < n; i++)
		s[k++] = kind == '[' ? ']' : '}';
	s[k++] = '}';
	s[k] = '\0';
	*len = k;
	return s;
}

START_TEST(nesting_limit)
{
	size_t len;
	char *s;
	/* the outer object is level 1: 511 containers inside make 512, and
	 * the 512th inner opener is where 513 is refused */
	s = nested('[', 511, &len);
	accepted(s, len);
	free(s);
	s = nested('[', 512, &len);
	refused_n(s, len, 5 + 511, "nesting deeper than 512");
	free(s);
	s = nested('{', 511, &len);
	accepted(s, len);
	free(s);
	s = nested('{', 512, &len);
	refused_n(s, len, 5 + 511 * 5, "nesting deeper than 512");
	free(s);
}
END_TEST

/* {"a": then 511 '[' around @p inner, then the closers: @p inner sits in
 * the 512th container. */
static char *inside_512(const char *inner, size_t *len)
{
	size_t il = strlen(inner), k = 5;
	char *s = malloc(5 + 511 + il + 511 + 2);
	ck_assert_ptr_nonnull(s);
	memcpy(s, "{\"a\":", 5);
	memset(s + k, '[', 511);
	memcpy(s + (k += 511), inner, il);
	memset(s + (k += il), ']', 511);
	s[k += 511] = '}';
	s[++k] = '\0';
	*len = k;
	return s;
}

/* Only containers are levels: a scalar inside the 512th container is
 * accepted, just as an empty 512th container is; a container there is
 * the 513th level. */
START_TEST(nesting_counts_containers_only)
{
	const char *scalars[] = {"1", "\"x\"", "true", "null", "-0.5e3"};
	size_t len;
	char *s;
	for (size_t i = 0; i < sizeof scalars / sizeof *scalars; i++) {
		s = inside_512(scalars[i], &len);
		accepted(s, len);
		free(s);
	}
	s = inside_512("[]", &len);
	refused_n(s, len, 5 + 511, "nesting deeper than 512");
	free(s);
	s = inside_512("{}", &len);
	refused_n(s, len, 5 + 511, "nesting deeper than 512");
	free(s);
}
END_TEST

START_TEST(refuses_trailing_text)
{
	refused("{}x", 2, "text after the JSON object");
	refused("{} {}", 3, "text after the JSON object");
	refused("{\"a\":1} \n,", 9, "text after the JSON object");
	refused_n("{}\0", 3, 2, "text after the JSON object");
	accepted("{} \t\r\n", 6);
}
END_TEST

/* No rule against repeated keys: jsonb keeps the last one. */
START_TEST(duplicate_keys_accepted)
{
	accepted("{\"a\":1,\"a\":2}", 13);
	accepted("{\"a\":{\"b\":1,\"b\":[]},\"a\":null}", 29);
}
END_TEST

Suite *unit_json_check_suite(void)
{
	Suite *s = suite_create("unit_json_check");
	TCase *tc = tcase_create("Valid");
	tcase_add_test(tc, accepts_objects);
	tcase_add_test(tc, duplicate_keys_accepted);
	tcase_add_test(tc, features_json_cases);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("Refusals");
	tcase_add_test(tc, refuses_non_objects);
	tcase_add_test(tc, where_and_why);
	tcase_add_test(tc, refuses_nul_escape);
	tcase_add_test(tc, refuses_unpaired_surrogates);
	tcase_add_test(tc, refuses_invalid_utf8);
	tcase_add_test(tc, utf8_len_lengths);
	tcase_add_test(tc, numeric_range);
	tcase_add_test(tc, numeric_range_after_exponent);
	tcase_add_test(tc, nesting_limit);
	tcase_add_test(tc, nesting_counts_containers_only);
	tcase_add_test(tc, refuses_trailing_text);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("Jansson");
	tcase_add_test(tc, features_json_vs_jansson);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
