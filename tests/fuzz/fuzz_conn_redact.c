/* fuzz_conn_redact.c - libFuzzer harness: no connection string, however
 * malformed, makes its password appear in a message (conn.c:
 * ms__conninfo_redact and the messages ms__connect builds from libpq's).
 * Run it with tests/fuzz/run.sh SECONDS.
 *
 * The input is decoded into a connection string of one of SHAPES shapes
 * (URIs with and without user, host, port, path, brackets, several hosts,
 * the password in the user info and/or as a query parameter; key=value
 * strings with the password quoted, unquoted, spaced, duplicated or with
 * its quote left open), whose other parts (user, hosts, ports, database,
 * further parameters) are bytes of the input, so they can be anything:
 * stray brackets, '%', quotes, spaces, '=', bad ports, unknown keys.
 * The password is A "SECRET" B with A and B printable bytes of the
 * input, written the way its position requires (percent-encoded where a
 * URI would end it, backslash-escaped in key=value) or, in the "raw"
 * variants, as it is (malformed percent-encoding included).
 *
 * Oracle: neither "SECRET", nor the password, nor its written form
 * appears in
 *  - the message of ms__connect (the real path: PQconninfoParse, then
 *    PQconnectdbParams; the environment points every connection at
 *    127.0.0.1 port 1 (refused at once) unless the string says
 *    otherwise, with no DNS: PGHOSTADDR is numeric);
 *  - ms__conninfo_redact of messages quoting pieces of the string the way
 *    libpq does (the whole string, the password as written, the user
 *    info, the string from or up to the password).
 * Inputs whose other parts themselves contain "SECRET" (raw or
 * percent-decoded) are skipped: there the word is not the password. */
#define _GNU_SOURCE
#include <ctype.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

#define MARK "SECRET"

#define REQUIRE(c, ...)                                                 \
	do {                                                                \
		if (!(c)) {                                                     \
			fprintf(stderr, "fuzz_conn_redact: %s:%d: %s\n", __FILE__,  \
			        __LINE__, #c);                                      \
			fprintf(stderr, __VA_ARGS__);                               \
			abort();                                                    \
		}                                                               \
	} while (0)

/* A growing string. */
typedef struct sb {
	char buf[4096];
	size_t n;
} sb;

static void put(sb *s, const char *t, size_t n)
{
	if (n > sizeof s->buf - 1 - s->n)
		n = sizeof s->buf - 1 - s->n;
	memcpy(s->buf + s->n, t, n);
	s->n += n;
	s->buf[s->n] = '\0';
}

static void puts_(sb *s, const char *t)
{
	put(s, t, strlen(t));
}

/* The input, consumed front to back. */
typedef struct in {
	const uint8_t *d;
	size_t n;
} in;

static unsigned take(in *x)
{
	unsigned v = 0;
	if (x->n) {
		v = x->d[0];
		x->d++;
		x->n--;
	}
	return v;
}

/* The next piece: bytes up to a 0x01 separator (or the end), without
 * NULs, at most 64. */
static void piece(in *x, char *out, size_t cap)
{
	size_t k = 0;
	while (x->n) {
		unsigned c = take(x);
		if (c == 1)
			break;
		if (c != 0 && k + 1 < cap && k < 64)
			out[k++] = (char)c;
	}
	out[k] = '\0';
}

/* Password part: up to 12 printable ASCII bytes. */
static void pw_part(in *x, char *out)
{
	unsigned n = take(x) % 13, k;
	for (k = 0; k < n; k++)
		out[k] = (char)(0x21 + take(x) % 94);
	out[k] = '\0';
}

enum enc { ENC_URI_SAFE, ENC_URI_ALL, ENC_URI_RAW, ENC_KV_BARE, ENC_KV_QUOTED };

/* Write the password @p pw as its position needs; records where. */
static void put_pw(sb *s, const char *pw, enum enc how, size_t *at,
                   size_t *len)
{
	static const char hex[] = "0123456789ABCDEF";
	*at = s->n;
	for (const char *p = pw; *p; p++) {
		unsigned char c = (unsigned char)*p;
		switch (how) {
		case ENC_URI_SAFE: /* what ends the user info, encoded */
		case ENC_URI_ALL:
			if (how == ENC_URI_ALL || c == '@' || c == '/' || c == '%' ||
			    c == '&' || c == '#') {
				char e[3] = {'%', hex[c >> 4], hex[c & 15]};
				put(s, e, 3);
				continue;
			}
			break;
		case ENC_URI_RAW:
			if (c == '@' || c == '/' || c == '&') {
				/* would end the password: not part of it */
				char e[3] = {'%', hex[c >> 4], hex[c & 15]};
				put(s, e, 3);
				continue;
			}
			break;
		case ENC_KV_BARE:
		case ENC_KV_QUOTED:
			if (c == '\'' || c == '\\')
				put(s, "\\", 1);
			break;
		}
		put(s, (const char *)&c, 1);
	}
	*len = s->n - *at;
}

/* @p s percent-decoded (invalid escapes kept as they are). */
static void decode(const char *s, size_t n, char *out)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char h[3] = {s[i + 1], s[i + 2], 0};
			char c = (char)strtol(h, NULL, 16);
			out[w++] = c ? c : '?';
			i += 2;
			continue;
		}
		out[w++] = s[i];
	}
	out[w] = '\0';
}

#define SHAPES 16

typedef struct conn_case {
	sb s;
	char pw[64];
	size_t at[2], len[2]; /* where the password is written (1 or 2x) */
	int copies;
} conn_case;

static void build(conn_case *c, in *x)
{
	char a[16], b[16], user[72], host[72], port[72], db[72], q[72],
		host2[72];
	unsigned shape = take(x) % SHAPES;
	unsigned flags = take(x);
	const char *scheme = flags & 1 ? "postgres://" : "postgresql://";
	enum enc uenc = (flags >> 1) % 3; /* URI_SAFE, URI_ALL, URI_RAW */
	sb *s = &c->s;

	pw_part(x, a);
	pw_part(x, b);
	snprintf(c->pw, sizeof c->pw, "%s" MARK "%s", a, b);
	piece(x, user, sizeof user);
	/* a '/' before it would make the password a path, not a password */
	for (char *u = user; (u = strchr(u, '/')) != NULL;)
		*u = '_';
	piece(x, host, sizeof host);
	piece(x, port, sizeof port);
	piece(x, db, sizeof db);
	piece(x, q, sizeof q);
	piece(x, host2, sizeof host2);
	c->copies = 1;
#define PW(how, i) put_pw(s, c->pw, (how), &c->at[i], &c->len[i])
	switch (shape) {
	case 0: /* scheme://U:PW@H:P/D?Q */
	case 1: /* the same with the host in brackets, maybe unclosed */
		puts_(s, scheme), puts_(s, user), puts_(s, ":"), PW(uenc, 0);
		puts_(s, shape == 1 ? "@[" : "@"), puts_(s, host);
		if (shape == 1 && (flags & 16))
			puts_(s, "]");
		puts_(s, ":"), puts_(s, port), puts_(s, "/"), puts_(s, db);
		if (q[0])
			puts_(s, "?"), puts_(s, q);
		break;
	case 2: /* missing host: scheme://U:PW@:P/D?host=H&Q */
		puts_(s, scheme), puts_(s, user), puts_(s, ":"), PW(uenc, 0);
		puts_(s, "@:"), puts_(s, port), puts_(s, "/"), puts_(s, db);
		puts_(s, "?host="), puts_(s, host), puts_(s, "&"), puts_(s, q);
		break;
	case 3: /* no path: scheme://U:PW@H */
		puts_(s, scheme), puts_(s, user), puts_(s, ":"), PW(uenc, 0);
		puts_(s, "@"), puts_(s, host);
		break;
	case 4: /* no '@': scheme://U:PW, maybe a path after it.  libpq
	         * reads "U" as the host and PW as the port and query; a PW
	         * that starts with digits and '?' reads exactly like
	         * "host:5432?key=value", so its first byte is none of
	         * those (nor ',': "host:5432,host2"). */
		if (isdigit((unsigned char)c->pw[0]) || c->pw[0] == '?' ||
		    c->pw[0] == ',')
			c->pw[0] = 'p';
		puts_(s, scheme), puts_(s, user), puts_(s, ":"), PW(uenc, 0);
		if (flags & 16)
			puts_(s, "/"), puts_(s, db);
		break;
	case 5: /* several hosts: scheme://U:PW@H:P,H2:P/D */
		puts_(s, scheme), puts_(s, user), puts_(s, ":"), PW(uenc, 0);
		puts_(s, "@"), puts_(s, host), puts_(s, ":"), puts_(s, port);
		puts_(s, ","), puts_(s, host2), puts_(s, "/"), puts_(s, db);
		break;
	case 6: /* no user: scheme://:PW@/D?Q */
		puts_(s, scheme), puts_(s, ":"), PW(uenc, 0), puts_(s, "@/");
		puts_(s, db), puts_(s, "?"), puts_(s, q);
		break;
	case 7: /* password as a query parameter: scheme://U@H/D?Q&password=PW */
	case 8: /* ... first: scheme://H/D?password=PW&Q */
		puts_(s, scheme);
		if (shape == 7)
			puts_(s, user), puts_(s, "@");
		puts_(s, host), puts_(s, "/"), puts_(s, db), puts_(s, "?");
		if (shape == 7)
			puts_(s, q), puts_(s, "&");
		puts_(s, "password="), PW(uenc, 0);
		if (shape == 8)
			puts_(s, "&"), puts_(s, q);
		break;
	case 9: /* both: scheme://U:PW@H/D?password=PW&Q */
		puts_(s, scheme), puts_(s, user), puts_(s, ":"), PW(uenc, 0);
		puts_(s, "@"), puts_(s, host), puts_(s, "/"), puts_(s, db);
		puts_(s, "?password="), PW(uenc, 1), puts_(s, "&"), puts_(s, q);
		c->copies = 2;
		break;
	case 10: /* host=H port=P password=PW dbname=D Q */
		puts_(s, "host="), puts_(s, host), puts_(s, " port="), puts_(s, port);
		puts_(s, " password="), PW(ENC_KV_BARE, 0), puts_(s, " dbname=");
		puts_(s, db), puts_(s, " "), puts_(s, q);
		break;
	case 11: /* password='PW' Q host=H */
		puts_(s, "password='"), PW(ENC_KV_QUOTED, 0), puts_(s, "' ");
		puts_(s, q), puts_(s, " host="), puts_(s, host);
		break;
	case 12: /* spaced: host=H password = 'PW' Q */
		puts_(s, "host="), puts_(s, host), puts_(s, " password = '");
		PW(ENC_KV_QUOTED, 0), puts_(s, "' "), puts_(s, q);
		break;
	case 13: /* duplicated: password=PW U password='PW' Q */
		puts_(s, "password="), PW(ENC_KV_BARE, 0), puts_(s, " ");
		puts_(s, user), puts_(s, " password='"), PW(ENC_KV_QUOTED, 1);
		puts_(s, "' "), puts_(s, q);
		c->copies = 2;
		break;
	case 14: /* quote left open: Q password='PW */
		puts_(s, q), puts_(s, " password='"), PW(ENC_KV_QUOTED, 0);
		break;
	default: /* 15: key=value with the user's pieces around the password */
		puts_(s, user), puts_(s, " password="), PW(ENC_KV_BARE, 0);
		puts_(s, " "), puts_(s, host);
		break;
	}
#undef PW
}

/* Does "SECRET" occur outside the password's written copies, raw or
 * percent-decoded?  Then the word is not only the password. */
static int mark_elsewhere(const conn_case *c)
{
	char rest[sizeof c->s.buf], dec[sizeof c->s.buf];
	size_t w = 0, r = 0;
	for (int i = 0; i < c->copies; i++) {
		memcpy(rest + w, c->s.buf + r, c->at[i] - r);
		w += c->at[i] - r;
		rest[w++] = ' ';
		r = c->at[i] + c->len[i];
	}
	memcpy(rest + w, c->s.buf + r, c->s.n - r);
	w += c->s.n - r;
	rest[w] = '\0';
	decode(rest, w, dec);
	return strstr(rest, MARK) != NULL || strstr(dec, MARK) != NULL;
}

static void check_msg(const conn_case *c, const char *msg, const char *what)
{
	char written[sizeof c->s.buf];
	memcpy(written, c->s.buf + c->at[0], c->len[0]);
	written[c->len[0]] = '\0';
	REQUIRE(strstr(msg, MARK) == NULL && strstr(msg, c->pw) == NULL &&
	        strstr(msg, written) == NULL,
	        "%s leaks the password\n  conninfo: %s\n  password: %s\n  "
	        "message:  %s\n", what, c->s.buf, c->pw, msg);
}

/* A message quoting s[from, to) the way libpq does, redacted. */
static void check_quote(const conn_case *c, size_t from, size_t to)
{
	char msg[sizeof c->s.buf + 64];
	snprintf(msg, sizeof msg, "invalid thing: \"%.*s\" and more",
	         (int)(to - from), c->s.buf + from);
	ms__conninfo_redact(msg, sizeof msg, c->s.buf);
	check_msg(c, msg, "ms__conninfo_redact");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Every connection goes to 127.0.0.1 port 1 (refused at once) unless
	 * the string names an address or port; no name is ever resolved, no
	 * file of the user's is read, no TLS is tried unless asked for. */
	setenv("PGHOSTADDR", "127.0.0.1", 1);
	setenv("PGPORT", "1", 1);
	setenv("PGCONNECT_TIMEOUT", "1", 1);
	setenv("PGSSLMODE", "disable", 1);
	setenv("PGPASSFILE", "/nonexistent/pgpass", 1);
	setenv("PGSERVICEFILE", "/nonexistent/pg_service.conf", 1);
	setenv("PGSYSCONFDIR", "/nonexistent", 1);
	unsetenv("PGSERVICE");
	unsetenv("PGPASSWORD");
	unsetenv("DATABASE_URL");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	conn_case c;
	in x = {data, size};
	PGconn *conn = NULL;
	ms_err e;
	const char *ui;
	size_t end0;

	memset(&c, 0, sizeof c);
	build(&c, &x);
	if (mark_elsewhere(&c))
		return 0;
	end0 = c.at[0] + c.len[0];

	/* the messages libpq would quote */
	check_quote(&c, 0, c.s.n);
	check_quote(&c, c.at[0], end0);
	check_quote(&c, c.at[0], c.s.n);
	check_quote(&c, 0, end0);
	if ((ui = strstr(c.s.buf, "://")) != NULL &&
	    (size_t)(ui + 3 - c.s.buf) <= c.at[0])
		check_quote(&c, (size_t)(ui + 3 - c.s.buf), end0 + (end0 < c.s.n));

	/* the real path */
	memset(&e, 0, sizeof e);
	if (ms__connect(&conn, &e, c.s.buf, 1) != MS_OK)
		check_msg(&c, e.msg, "ms__connect");
	PQfinish(conn);
	return 0;
}
