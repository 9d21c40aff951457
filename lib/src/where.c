/*
 * where.c - the `--where` parser: a hand-written scanner over a grammar
 * of one level (conditions joined by "and").  Offsets in messages count
 * bytes from 0.
 */
#include "where.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const OPS[] = { ">=", "<=", ">", "<", "=", "!=" };

const char *ms__where_op_sql(ms__where_op op)
{
	return (unsigned)op < sizeof OPS / sizeof OPS[0] ? OPS[op] : "=";
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '.' ||
	       c == '-' || c == '/';
}

static bool op_char(char c)
{
	return c == '<' || c == '>' || c == '=' || c == '!';
}

/* The token at @p s for a message: up to the next blank, at most 24
 * bytes, non-printable bytes as \xNN.  "end of input" when empty. */
static void token_text(char *buf, size_t n, const char *s)
{
	size_t o = 0, i;
	if (*s == '\0') {
		snprintf(buf, n, "end of input");
		return;
	}
	buf[o++] = '"';
	for (i = 0; s[i] && !is_blank(s[i]) && i < 24 && o + 6 < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
	}
	if (s[i] && !is_blank(s[i]) && o + 5 < n) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

static ms_status fail(ms_err *e, const char *text, const char *at,
                      const char *expected)
{
	char tok[160];
	token_text(tok, sizeof tok, at);
	return ms__err_set(e, MS_EINVAL,
	                   "invalid where expression at offset %zu: expected %s, "
	                   "found %s", (size_t)(at - text), expected, tok);
}

/* The length of the metric name at @p p; 0 when none starts there. */
static size_t scan_name(const char *p)
{
	size_t n = 0;
	if (!name_start(p[0]))
		return 0;
	while (name_char(p[n]))
		n++;
	return n;
}

static bool is_and(const char *p, size_t n)
{
	return n == 3 && tolower((unsigned char)p[0]) == 'a' &&
	       tolower((unsigned char)p[1]) == 'n' &&
	       tolower((unsigned char)p[2]) == 'd';
}

/* [+-] digits [. digits] [e [+-] digits], or [+-] . digits [...]:
 * the length of the number at @p p, 0 when there is none. */
static size_t scan_number(const char *p)
{
	size_t i = 0, digits = 0;
	if (p[i] == '+' || p[i] == '-')
		i++;
	while (isdigit((unsigned char)p[i])) {
		i++;
		digits++;
	}
	if (p[i] == '.') {
		i++;
		while (isdigit((unsigned char)p[i])) {
			i++;
			digits++;
		}
	}
	if (digits == 0)
		return 0;
	if (p[i] == 'e' || p[i] == 'E') {
		size_t j = i + 1, ed = 0;
		if (p[j] == '+' || p[j] == '-')
			j++;
		while (isdigit((unsigned char)p[j])) {
			j++;
			ed++;
		}
		if (ed > 0)
			i = j;
	}
	return i;
}

static ms_status parse_cond(ms__where_cond *c, ms_err *e, const char *text,
                            const char **pp)
{
	const char *p = *pp;
	size_t n, k;
	char num[64];
	double v;

	n = scan_name(p);
	if (n == 0 || is_and(p, n))
		return fail(e, text, p, "a metric name");
	if (n > MS_METRIC_MAX)
		return ms__err_set(e, MS_EINVAL,
		                   "invalid where expression at offset %zu: metric "
		                   "name longer than %d characters",
		                   (size_t)(p - text), MS_METRIC_MAX);
	memcpy(c->metric, p, n);
	c->metric[n] = '\0';
	p += n;
	while (is_blank(*p))
		p++;
	for (n = 0; op_char(p[n]); n++)
		;
	for (k = 0; k < sizeof OPS / sizeof OPS[0]; k++)
		if (n > 0 && strlen(OPS[k]) == n && memcmp(OPS[k], p, n) == 0)
			break;
	if (k == sizeof OPS / sizeof OPS[0])
		return fail(e, text, p, "an operator (>= <= > < = !=)");
	c->op = (ms__where_op)k;
	p += n;
	while (is_blank(*p))
		p++;
	n = scan_number(p);
	/* a number ends at a blank or the end: "0.9x" is not 0.9 */
	if (n == 0 || n >= sizeof num || (p[n] != '\0' && !is_blank(p[n])))
		return fail(e, text, p, "a number");
	memcpy(num, p, n);
	num[n] = '\0';
	v = strtod(num, NULL);
	if (!isfinite(v))
		return fail(e, text, p, "a finite number");
	c->value = v;
	snprintf(c->value_text, sizeof c->value_text, "%.17g", v);
	*pp = p + n;
	return MS_OK;
}

ms_status ms__where_parse(ms__where *out, ms_err *e, const char *text)
{
	const char *p = text;
	ms_status st;

	out->n = 0;
	if (text == NULL)
		return MS_OK;
	while (is_blank(*p))
		p++;
	if (*p == '\0')
		return MS_OK;
	for (;;) {
		size_t n;
		if (out->n == MS__WHERE_MAX) {
			out->n = 0;
			return ms__err_set(e, MS_EINVAL,
			                   "invalid where expression at offset %zu: "
			                   "more than %d conditions",
			                   (size_t)(p - text), MS__WHERE_MAX);
		}
		st = parse_cond(&out->c[out->n], e, text, &p);
		if (st != MS_OK) {
			out->n = 0;
			return st;
		}
		out->n++;
		while (is_blank(*p))
			p++;
		if (*p == '\0')
			return MS_OK;
		n = scan_name(p);
		if (!is_and(p, n)) {
			out->n = 0;
			return fail(e, text, p, "\"and\" or the end");
		}
		p += n;
		while (is_blank(*p))
			p++;
	}
}
