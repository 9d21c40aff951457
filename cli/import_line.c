/* import_line.c - the NDJSON line scanner of `predictions import`
 * (import_line.h).  One pass, no recursion: nesting is tracked on a byte
 * stack of IL_MAX_DEPTH levels. */
#include "import_line.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct scan {
	const unsigned char *s, *p, *end;
	const char *why;
	const unsigned char *at; /* where the problem is; p when NULL */
} scan;

static bool fail(scan *c, const char *why)
{
	c->why = why;
	return false;
}

static void skip_ws(scan *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' ||
	                         *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

/* Length of the valid UTF-8 sequence at @p p, 0 when invalid (overlong,
 * surrogate, above U+10FFFF, truncated). */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned char b = p[0];
	size_t n, avail = (size_t)(end - p);
	uint32_t cp;
	if (b < 0x80)
		return 1;
	if (b >= 0xC2 && b <= 0xDF) {
		n = 2;
		cp = b & 0x1F;
	} else if (b >= 0xE0 && b <= 0xEF) {
		n = 3;
		cp = b & 0x0F;
	} else if (b >= 0xF0 && b <= 0xF4) {
		n = 4;
		cp = b & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return n;
}

static int hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Four hex digits at @p p (bounds checked by the caller). */
static bool hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);
		if (h < 0)
			return false;
		v = v << 4 | (unsigned)h;
	}
	*out = v;
	return true;
}

/* Append @p n bytes to the key store; false when out of memory. */
static bool keys_put(il_line *l, const void *b, size_t n)
{
	if (l->keys_cap - l->keys_len < n) {
		size_t nc = l->keys_cap ? l->keys_cap : 256;
		char *k;
		while (nc - l->keys_len < n) {
			if (nc > SIZE_MAX / 2)
				return false;
			nc *= 2;
		}
		k = realloc(l->keys, nc);
		if (k == NULL)
			return false;
		l->keys = k;
		l->keys_cap = nc;
	}
	memcpy(l->keys + l->keys_len, b, n);
	l->keys_len += n;
	return true;
}

/* Code point @p cp (at most U+10FFFF) as UTF-8 at @p b; its length. */
static size_t utf8_put(unsigned char *b, unsigned cp)
{
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (unsigned char)(0xC0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (unsigned char)(0xE0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		b[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	b[0] = (unsigned char)(0xF0 | cp >> 18);
	b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
	b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
	b[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Code point @p cp as UTF-8 into @p l's key store. */
static bool keys_put_cp(il_line *l, unsigned cp)
{
	unsigned char b[4];
	return keys_put(l, b, utf8_put(b, cp));
}

/* A \u escape at c->p (pointing at the 'u'), with its low surrogate if
 * it is a high one.  *cp receives the code point. */
static bool scan_uescape(scan *c, unsigned *cp)
{
	unsigned lo;
	const unsigned char *start = c->p - 1;
	if (c->end - c->p < 5 || !hex4(c->p + 1, cp)) {
		c->at = start;
		return fail(c, "invalid \\u escape");
	}
	c->p += 5;
	if (*cp >= 0xDC00 && *cp <= 0xDFFF) {
		c->at = start;
		return fail(c, "unpaired surrogate in a \\u escape");
	}
	if (*cp < 0xD800 || *cp > 0xDBFF)
		return true;
	if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' ||
	    !hex4(c->p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
		c->at = start;
		return fail(c, "unpaired surrogate in a \\u escape");
	}
	c->p += 6;
	*cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
	return true;
}

/* 1 for the bytes a string holds as they are: printable ASCII but for
 * '"' and '\\' (one load a byte in the loop that crosses most of a
 * line, instead of four comparisons). */
static const unsigned char plain[256] = {
	[0x20] = 1, 1, 0 /* '"' */, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 /* '\\' */, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* The string at c->p (its opening quote).  With @p key, its unescaped
 * text is appended to @p l's key store. */
static bool scan_string(scan *c, il_line *l, bool key)
{
	c->p++;
	for (;;) {
		const unsigned char *run = c->p;
		size_t k;
		while (c->p < c->end && plain[*c->p])
			c->p++;
		if (key && c->p > run && !keys_put(l, run, (size_t)(c->p - run)))
			return fail(c, "out of memory");
		if (c->p >= c->end)
			return fail(c, "unterminated string");
		if (*c->p == '"') {
			c->p++;
			return true;
		}
		if (*c->p < 0x20)
			return fail(c, "control character in a string");
		if (*c->p == '\\') {
			unsigned cp;
			char ch;
			c->p++;
			if (c->p >= c->end)
				return fail(c, "unterminated string");
			switch (*c->p) {
			case '"': ch = '"'; break;
			case '\\': ch = '\\'; break;
			case '/': ch = '/'; break;
			case 'b': ch = '\b'; break;
			case 'f': ch = '\f'; break;
			case 'n': ch = '\n'; break;
			case 'r': ch = '\r'; break;
			case 't': ch = '\t'; break;
			case 'u':
				if (!scan_uescape(c, &cp))
					return false;
				if (key && cp == 0) {
					c->at = c->p - 6;
					return fail(c, "\\u0000 in a key");
				}
				if (key && !keys_put_cp(l, cp))
					return fail(c, "out of memory");
				continue;
			default:
				c->at = c->p - 1;
				return fail(c, "invalid escape in a string");
			}
			c->p++;
			if (key && !keys_put(l, &ch, 1))
				return fail(c, "out of memory");
			continue;
		}
		k = utf8_len(c->p, c->end);
		if (k == 0)
			return fail(c, "invalid UTF-8");
		if (key && !keys_put(l, c->p, k))
			return fail(c, "out of memory");
		c->p += k;
	}
}

static bool is_digit(const scan *c)
{
	return c->p < c->end && *c->p >= '0' && *c->p <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool scan_number(scan *c)
{
	if (*c->p == '-')
		c->p++;
	if (!is_digit(c))
		return fail(c, "invalid number");
	if (*c->p == '0') {
		c->p++;
	} else {
		while (is_digit(c))
			c->p++;
	}
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (!is_digit(c))
			return fail(c, "invalid number");
		while (is_digit(c))
			c->p++;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (!is_digit(c))
			return fail(c, "invalid number");
		while (is_digit(c))
			c->p++;
	}
	return true;
}

static bool scan_literal(scan *c, const char *word, size_t n)
{
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
		return fail(c, "invalid value");
	c->p += n;
	return true;
}

/* One scalar at c->p; *kind says which. */
static bool scan_scalar(scan *c, il_kind *kind)
{
	switch (*c->p) {
	case '"': *kind = IL_STRING; return scan_string(c, NULL, false);
	case 't': *kind = IL_TRUE; return scan_literal(c, "true", 4);
	case 'f': *kind = IL_FALSE; return scan_literal(c, "false", 5);
	case 'n': *kind = IL_NULL; return scan_literal(c, "null", 4);
	default:
		if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9')) {
			*kind = IL_NUMBER;
			return scan_number(c);
		}
		return fail(c, "invalid value");
	}
}

/* "key": at c->p (after whitespace) inside a nested object. */
static bool scan_nested_key(scan *c)
{
	if (c->p >= c->end || *c->p != '"')
		return fail(c, "expected a key (a string)");
	if (!scan_string(c, NULL, false))
		return false;
	skip_ws(c);
	if (c->p >= c->end || *c->p != ':')
		return fail(c, "expected ':'");
	c->p++;
	skip_ws(c);
	return true;
}

/* One value of any kind at c->p, nested containers included; the
 * outermost one's kind to *kind.  @p depth: the levels above it. */
static bool scan_value(scan *c, size_t depth, il_kind *kind)
{
	unsigned char stack[IL_MAX_DEPTH];
	size_t top = 0; /* levels open in this value */

	for (;;) {
		/* a value starts at c->p */
		il_kind k;
		if (c->p >= c->end)
			return fail(c, "expected a value");
		if (*c->p == '{' || *c->p == '[') {
			unsigned char open = *c->p;
			if (depth + top >= IL_MAX_DEPTH)
				return fail(c, "nesting too deep");
			k = open == '{' ? IL_OBJECT : IL_ARRAY;
			if (top == 0)
				*kind = k;
			stack[top++] = open;
			c->p++;
			skip_ws(c);
			if (c->p < c->end && *c->p == (open == '{' ? '}' : ']')) {
				c->p++;
				top--;
			} else {
				if (open == '{' && !scan_nested_key(c))
					return false;
				continue;
			}
		} else {
			if (!scan_scalar(c, &k))
				return false;
			if (top == 0)
				*kind = k;
		}
		/* a value ended: close what ends here, or go on to the next */
		for (;;) {
			unsigned char open;
			if (top == 0)
				return true;
			open = stack[top - 1];
			skip_ws(c);
			if (c->p >= c->end)
				return fail(c, "unterminated container");
			if (*c->p == ',') {
				c->p++;
				skip_ws(c);
				if (open == '{' && !scan_nested_key(c))
					return false;
				break;
			}
			if (*c->p != (open == '{' ? '}' : ']'))
				return fail(c, open == '{' ? "expected ',' or '}'"
				                           : "expected ',' or ']'");
			c->p++;
			top--;
		}
	}
}

static int cmp_keys(const void *a, const void *b)
{
	const il_member *x = *(il_member *const *)a;
	const il_member *y = *(il_member *const *)b;
	int r;
	if (x->key_len != y->key_len)
		return x->key_len < y->key_len ? -1 : 1;
	r = memcmp(x->key, y->key, x->key_len);
	if (r != 0)
		return r;
	return x->key_at < y->key_at ? -1 : x->key_at > y->key_at;
}

/* Up to this many members, repeated keys are found by comparing every
 * pair (no allocation per line); more are sorted. */
#define IL_FEW_KEYS 16

/* The keys' pointers, once the key store stopped moving; then the first
 * repeated key, if any. */
static bool finish(scan *c, il_line *l)
{
	il_member **idx;
	const il_member *dup = NULL;
	for (size_t i = 0; i < l->n; i++)
		l->m[i].key = l->keys + (size_t)(uintptr_t)l->m[i].key;
	if (l->n < 2)
		return true;
	if (l->n <= IL_FEW_KEYS) {
		/* the common line (a handful of keys): pairwise, no allocation;
		 * the first member that repeats an earlier key, as below */
		for (size_t j = 1; j < l->n && dup == NULL; j++)
			for (size_t i = 0; i < j && dup == NULL; i++)
				if (l->m[i].key_len == l->m[j].key_len &&
				    memcmp(l->m[i].key, l->m[j].key,
				           l->m[j].key_len) == 0)
					dup = &l->m[j];
		if (dup) {
			c->at = c->s + dup->key_at;
			return fail(c, "duplicate key");
		}
		return true;
	}
	idx = malloc(l->n * sizeof *idx);
	if (idx == NULL)
		return fail(c, "out of memory");
	for (size_t i = 0; i < l->n; i++)
		idx[i] = &l->m[i];
	qsort(idx, l->n, sizeof *idx, cmp_keys);
	for (size_t i = 1; i < l->n; i++) {
		if (idx[i]->key_len == idx[i - 1]->key_len &&
		    memcmp(idx[i]->key, idx[i - 1]->key, idx[i]->key_len) == 0 &&
		    (dup == NULL || idx[i]->key_at < dup->key_at))
			dup = idx[i];
	}
	free(idx);
	if (dup) {
		c->at = c->s + dup->key_at;
		return fail(c, "duplicate key");
	}
	return true;
}

static bool add_member(scan *c, il_line *l, size_t key_off, size_t key_len,
                       const unsigned char *key_at, const unsigned char *val,
                       il_kind kind)
{
	il_member *m;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		il_member *nm;
		if (nc > SIZE_MAX / sizeof *nm)
			return fail(c, "out of memory");
		nm = realloc(l->m, nc * sizeof *nm);
		if (nm == NULL)
			return fail(c, "out of memory");
		l->m = nm;
		l->cap = nc;
	}
	m = &l->m[l->n++];
	m->key = (const char *)(uintptr_t)key_off; /* fixed up in finish() */
	m->key_len = key_len;
	m->key_at = (size_t)(key_at - c->s);
	m->val = (const char *)val;
	m->val_len = (size_t)(c->p - val);
	m->kind = kind;
	return true;
}

/* The members of the top-level object, c->p just after its '{'. */
static bool scan_members(scan *c, il_line *l)
{
	skip_ws(c);
	if (c->p < c->end && *c->p == '}') {
		c->p++;
		return true;
	}
	for (;;) {
		const unsigned char *key_at = c->p, *val;
		size_t key_off = l->keys_len, key_len;
		il_kind kind = IL_NULL;
		if (c->p >= c->end || *c->p != '"')
			return fail(c, "expected a key (a string)");
		if (!scan_string(c, l, true))
			return false;
		key_len = l->keys_len - key_off;
		if (!keys_put(l, "", 1))
			return fail(c, "out of memory");
		skip_ws(c);
		if (c->p >= c->end || *c->p != ':')
			return fail(c, "expected ':'");
		c->p++;
		skip_ws(c);
		val = c->p;
		if (!scan_value(c, 1, &kind))
			return false;
		if (!add_member(c, l, key_off, key_len, key_at, val, kind))
			return false;
		skip_ws(c);
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			skip_ws(c);
			continue;
		}
		if (c->p < c->end && *c->p == '}') {
			c->p++;
			return true;
		}
		return fail(c, "expected ',' or '}'");
	}
}

bool il_scan(il_line *l, const char *s, size_t n, size_t *where,
             const char **why)
{
	scan c;
	bool ok;

	c.s = c.p = (const unsigned char *)s;
	c.end = c.s + n;
	c.why = NULL;
	c.at = NULL;
	l->n = 0;
	l->keys_len = 0;
	skip_ws(&c);
	if (c.p >= c.end || *c.p != '{') {
		ok = fail(&c, "not a JSON object");
	} else {
		c.p++;
		ok = scan_members(&c, l);
		if (ok) {
			skip_ws(&c);
			if (c.p != c.end)
				ok = fail(&c, "text after the object");
		}
		if (ok)
			ok = finish(&c, l);
	}
	if (!ok) {
		const unsigned char *at = c.at ? c.at : c.p;
		l->n = 0;
		l->keys_len = 0;
		*where = (size_t)((at > c.end ? c.end : at) - c.s);
		*why = c.why;
		return false;
	}
	*where = n;
	*why = NULL;
	return true;
}

char *il_string(char *line, const il_member *m, size_t *len, bool *nul)
{
	char *s, *q, *end;
	const char *p;
	*nul = false;
	*len = 0;
	if (m == NULL || m->kind != IL_STRING)
		return NULL;
	s = line + (m->val - line) + 1;                 /* after the quote */
	end = line + (m->val - line) + m->val_len - 1; /* the closing one */
	q = memchr(s, '\\', (size_t)(end - s));
	if (q == NULL) {
		*end = '\0';
		*len = (size_t)(end - s);
		return s;
	}
	p = q;
	while (p < end) {
		unsigned cp, lo;
		if (*p != '\\') {
			*q++ = *p++;
			continue;
		}
		switch (p[1]) {
		case 'b': *q++ = '\b'; p += 2; continue;
		case 'f': *q++ = '\f'; p += 2; continue;
		case 'n': *q++ = '\n'; p += 2; continue;
		case 'r': *q++ = '\r'; p += 2; continue;
		case 't': *q++ = '\t'; p += 2; continue;
		case 'u': break;
		default: *q++ = p[1]; p += 2; continue; /* quote, backslash, slash */
		}
		/* checked by il_scan: four hex digits, and a high surrogate
		 * followed by \u and a low one */
		hex4((const unsigned char *)p + 2, &cp);
		p += 6;
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			hex4((const unsigned char *)p + 2, &lo);
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			p += 6;
		}
		if (cp == 0) {
			*nul = true;
			return NULL;
		}
		q += utf8_put((unsigned char *)q, cp);
	}
	*q = '\0';
	*len = (size_t)(q - s);
	return s;
}

const il_member *il_get(const il_line *l, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < l->n; i++)
		if (l->m[i].key_len == kl && memcmp(l->m[i].key, key, kl) == 0)
			return &l->m[i];
	return NULL;
}

void il_line_dispose(il_line *l)
{
	free(l->m);
	free(l->keys);
	l->m = NULL;
	l->keys = NULL;
	l->n = l->cap = l->keys_len = l->keys_cap = 0;
}
