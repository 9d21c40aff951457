/*
 * json_check.c - the strict check that input_features is one JSON object
 * that PostgreSQL's jsonb will accept, so that a row the logger queues is
 * not refused by the server later.  A single-pass scanner: no tree is
 * built and nothing is allocated.  Also the UTF-8 sequence check it uses,
 * which the logger reuses for model versions.
 */
#include "json_check.h"

#include <string.h>

typedef struct jscan {
	const unsigned char *s, *p, *end;
	const char *why;
} jscan;

#define JSON_MAX_DEPTH 512

static bool jfail(jscan *j, const char *why)
{
	if (j->why == NULL)
		j->why = why;
	return false;
}

static void jws(jscan *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	                         *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

size_t ms__utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c0 = p[0];
	size_t avail = (size_t)(end - p);
	if (c0 < 0x80)
		return 1;
	if (c0 < 0xC2)
		return 0;
	if (c0 < 0xE0)
		return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c0 < 0xF0) {
		if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
			return 0;
		if (c0 == 0xE0 && p[1] < 0xA0)
			return 0;
		if (c0 == 0xED && p[1] > 0x9F)
			return 0;
		return 3;
	}
	if (c0 < 0xF5) {
		if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
		    (p[3] & 0xC0) != 0x80)
			return 0;
		if (c0 == 0xF0 && p[1] < 0x90)
			return 0;
		if (c0 == 0xF4 && p[1] > 0x8F)
			return 0;
		return 4;
	}
	return 0;
}

static int hex4(const unsigned char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		int c = p[i], d;
		if (c >= '0' && c <= '9') d = c - '0';
		else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
		else return -1;
		v = v << 4 | d;
	}
	return v;
}

static bool jstring(jscan *j)
{
	j->p++; /* opening quote */
	for (;;) {
		while (j->p < j->end && *j->p >= 0x20 && *j->p < 0x80 &&
		       *j->p != '"' && *j->p != '\\')
			j->p++;
		if (j->p >= j->end)
			return jfail(j, "unterminated string");
		unsigned c = *j->p;
		if (c == '"') {
			j->p++;
			return true;
		}
		if (c < 0x20)
			return jfail(j, "control character in string");
		if (c == '\\') {
			if (j->end - j->p < 2)
				return jfail(j, "unterminated string");
			switch (j->p[1]) {
			case '"': case '\\': case '/': case 'b': case 'f':
			case 'n': case 'r': case 't':
				j->p += 2;
				continue;
			case 'u': {
				int cp;
				if (j->end - j->p < 6 || (cp = hex4(j->p + 2)) < 0)
					return jfail(j, "invalid \\u escape");
				if (cp == 0)
					return jfail(j, "\\u0000 is not accepted by "
					             "PostgreSQL jsonb");
				if (cp >= 0xDC00 && cp <= 0xDFFF)
					return jfail(j, "unpaired UTF-16 surrogate");
				j->p += 6;
				if (cp >= 0xD800 && cp <= 0xDBFF) {
					int lo;
					if (j->end - j->p < 6 || j->p[0] != '\\' ||
					    j->p[1] != 'u' || (lo = hex4(j->p + 2)) < 0 ||
					    lo < 0xDC00 || lo > 0xDFFF)
						return jfail(j, "unpaired UTF-16 surrogate");
					j->p += 6;
				}
				continue;
			}
			default:
				return jfail(j, "invalid escape in string");
			}
		}
		{
			size_t k = ms__utf8_len(j->p, j->end);
			if (k == 0)
				return jfail(j, "invalid UTF-8");
			j->p += k;
		}
	}
}

static bool isdig(const jscan *j)
{
	return j->p < j->end && *j->p >= '0' && *j->p <= '9';
}

/* PostgreSQL 15's numeric input, as jsonb applies it to a JSON number
 * token (numeric.c: set_var_from_str, then make_result):
 *  - an exponent e with |e| >= INT_MAX / 2 is refused outright, whatever
 *    the digits ("0e2000000000" too);
 *  - the display scale is max(0, digits after the point - e) and is kept
 *    in 14 bits: at most 16383 (NUMERIC_DSCALE_MASK);
 *  - the weight, counted in base-10000 digits from the first nonzero
 *    decimal digit after the exponent is applied, is an int16: at most
 *    32767, i.e. that digit is at most 10^131071.  Zero has weight 0.
 * The lower weight bound cannot bite: the first nonzero digit is never
 * further right than the display scale. */
#define PG_EXPONENT_LIMIT 1073741823LL /* INT_MAX / 2 */
#define PG_NUMERIC_DSCALE_MAX 16383LL
#define PG_NUMERIC_TOP_POWER 131071LL /* (32767 + 1) * 4 - 1 */

/* The facts about a number token that numeric's range depends on. */
typedef struct jnum {
	long long nfrac;   /* digits after the point */
	long long top;     /* power of ten of the first nonzero digit */
	bool nonzero;
	long long e;       /* exponent, saturated past the limit */
} jnum;

/* A run of digits; @p frac says whether it follows the point.  Returns
 * the count; records the first nonzero digit's power of ten (before
 * the exponent) in @p n. */
static long long jdigits(jscan *j, jnum *n, bool frac)
{
	const unsigned char *start = j->p;
	while (isdig(j))
		j->p++;
	long long count = (long long)(j->p - start);
	if (n->nonzero)
		return count;
	for (const unsigned char *q = start; q < j->p; q++)
		if (*q != '0') {
			n->nonzero = true;
			n->top = frac ? -(long long)(q - start) - 1
			              : (long long)(j->p - q) - 1;
			break;
		}
	return count;
}

static bool jexponent(jscan *j, jnum *n)
{
	bool neg = false;
	j->p++;
	if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
		neg = *j->p++ == '-';
	if (!isdig(j))
		return jfail(j, "invalid number");
	while (isdig(j)) {
		if (n->e <= PG_EXPONENT_LIMIT)
			n->e = n->e * 10 + (*j->p - '0');
		j->p++;
	}
	if (neg)
		n->e = -n->e;
	return true;
}

static bool jnumber(jscan *j)
{
	jnum n = {0, 0, false, 0};
	if (*j->p == '-')
		j->p++;
	if (!isdig(j))
		return jfail(j, "invalid number");
	if (*j->p == '0')
		j->p++; /* a lone 0: a digit after it is refused by the caller */
	else
		jdigits(j, &n, false);
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!isdig(j))
			return jfail(j, "invalid number");
		n.nfrac = jdigits(j, &n, true);
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E') && !jexponent(j, &n))
		return false;
	if (n.e >= PG_EXPONENT_LIMIT || n.e <= -PG_EXPONENT_LIMIT ||
	    n.nfrac - n.e > PG_NUMERIC_DSCALE_MAX ||
	    (n.nonzero && n.top + n.e > PG_NUMERIC_TOP_POWER))
		return jfail(j, "number out of PostgreSQL numeric range");
	return true;
}

static bool jlit(jscan *j, const char *w, size_t n)
{
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return jfail(j, "invalid literal");
	j->p += n;
	return true;
}

static bool jvalue(jscan *j, int depth);

/* A member's key and its ':', with the whitespace after. */
static bool jkey(jscan *j)
{
	if (j->p >= j->end || *j->p != '"')
		return jfail(j, "expected a string key");
	if (!jstring(j))
		return false;
	jws(j);
	if (j->p >= j->end || *j->p != ':')
		return jfail(j, "expected ':'");
	j->p++;
	jws(j);
	return true;
}

/* An object (@p close '}': members have keys) or an array (']'); j->p is
 * at its opener.  @p expected is the complaint when neither ',' nor
 * @p close follows a value. */
static bool jcontainer(jscan *j, int depth, char close, const char *expected)
{
	j->p++;
	jws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return true;
	}
	for (;;) {
		jws(j);
		if (close == '}' && !jkey(j))
			return false;
		if (!jvalue(j, depth + 1))
			return false;
		jws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return true;
		}
		return jfail(j, expected);
	}
}

/* Any value at nesting @p depth (the outermost object is 1): only
 * containers count, so a scalar inside the 512th container is fine. */
static bool jvalue(jscan *j, int depth)
{
	if (j->p >= j->end)
		return jfail(j, "unexpected end of text");
	if ((*j->p == '{' || *j->p == '[') && depth > JSON_MAX_DEPTH)
		return jfail(j, "nesting deeper than 512");
	switch (*j->p) {
	case '{':
		return jcontainer(j, depth, '}', "expected ',' or '}'");
	case '[':
		return jcontainer(j, depth, ']', "expected ',' or ']'");
	case '"':
		return jstring(j);
	case 't':
		return jlit(j, "true", 4);
	case 'f':
		return jlit(j, "false", 5);
	case 'n':
		return jlit(j, "null", 4);
	default:
		if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
			return jnumber(j);
		return jfail(j, "unexpected character");
	}
}

bool ms__features_valid(const char *s, size_t n, size_t *where,
                        const char **why)
{
	jscan j;
	j.s = (const unsigned char *)s;
	j.p = j.s;
	j.end = j.s + n;
	j.why = NULL;
	jws(&j);
	if (j.p >= j.end || *j.p != '{')
		jfail(&j, "not a JSON object");
	else if (jvalue(&j, 1)) {
		jws(&j);
		if (j.p != j.end)
			jfail(&j, "text after the JSON object");
	}
	if (where)
		*where = (size_t)(j.p - j.s);
	if (why)
		*why = j.why;
	return j.why == NULL;
}
