/*
 * conn.c - connecting to PostgreSQL and running statements.
 *
 * The connection string goes to libpq untouched (expand_dbname), so URLs,
 * key=value strings, PG* variables, service files, .pgpass, multi-host
 * lists and target_session_attrs all work.  We add two defaults *before*
 * it in the keyword arrays, so anything the user wrote wins:
 * connect_timeout (unless PGCONNECT_TIMEOUT is set),
 * fallback_application_name, and TCP keepalive / user-timeout settings
 * that bound how long a host that dies mid-conversation can stall us.
 */
#define _GNU_SOURCE
#include "conn.h"

#include "alloc.h"
#include "deadline.h"
#include "errbuf.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ms__conn_target(PGconn *conn, char *buf, size_t n)
{
	const char *host = conn ? PQhost(conn) : NULL;
	const char *port = conn ? PQport(conn) : NULL;
	const char *db = conn ? PQdb(conn) : NULL;
	if (host && host[0] == '/')
		snprintf(buf, n, "\"%s\" port %s db %s", host, port ? port : "?",
		         db ? db : "?");
	else
		snprintf(buf, n, "%s:%s/%s", host && *host ? host : "localhost",
		         port && *port ? port : "5432", db ? db : "?");
}

/* Server NOTICEs ("relation exists, skipping") are not for our users. */
static void quiet_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* ------------------------------------------------------------------ */
/* redaction: no message we build ever carries the caller's password    */
/* ------------------------------------------------------------------ */

/* Where the password may sit in @p conninfo: spans of the string (at
 * most MAX_SPANS), found by a lenient scan that also works on strings
 * libpq refuses to parse, and errs on the side of hiding more:
 *  - in a URI, what follows the first ':' of the user info, up to the
 *    last '@' before the path (libpq ends the user info at the first
 *    '@' before a '/'; a '?' may be part of it), and a "port" after
 *    the host that is not digits (the "@host" forgotten);
 *  - anywhere, the value of every `password` key: `password=value` in a
 *    URI's query (up to '&' or, if longer, a blank) and in key=value
 *    form (up to a blank, or the closing quote, backslash escapes
 *    skipped), preceded by anything (the key may sit inside another
 *    quoted value).
 * Returns the number of spans. */
#define MAX_SPANS 8

typedef struct pw_span {
	size_t at, len;
} pw_span;

static size_t uri_password_span(const char *conninfo, pw_span *sp)
{
	const char *scheme = strstr(conninfo, "://");
	const char *auth, *end, *at = NULL, *colon, *host, *hend, *p;
	size_t n = 0;

	if (scheme == NULL)
		return 0;
	auth = scheme + 3;
	end = auth + strcspn(auth, "/");
	for (p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (at != NULL && (colon = memchr(auth, ':', (size_t)(at - auth)))) {
		sp[n].at = (size_t)(colon + 1 - conninfo);
		sp[n++].len = (size_t)(at - colon - 1);
	}
	/* "user:secret" with the "@host" forgotten: libpq reads a host and
	 * a port; a "port" that is not digits may well be the password
	 * (up to the path: a '?' in it would start libpq's query) */
	host = at ? at + 1 : auth;
	hend = host + strcspn(host, "/");
	if (*host == '[' && (p = memchr(host, ']', (size_t)(hend - host))))
		host = p;
	colon = memchr(host, ':', (size_t)(hend - host));
	if (colon != NULL && (strcspn(colon + 1, "/?") == 0 ||
	                      strspn(colon + 1, "0123456789,") !=
	                      strcspn(colon + 1, "/?"))) {
		sp[n].at = (size_t)(colon + 1 - conninfo);
		sp[n++].len = (size_t)(hend - colon - 1);
	}
	return n;
}

static size_t password_spans(const char *conninfo, pw_span *sp)
{
	size_t n = uri_password_span(conninfo, sp);
	bool uri = strstr(conninfo, "://") != NULL;
	const char *p;

	for (p = conninfo; (p = strcasestr(p, "password")) != NULL; p += 8) {
		const char *v = p + 8, *e;
		size_t q, k;
		v += strspn(v, " \t");
		if (*v != '=')
			continue;
		v++;
		v += strspn(v, " \t");
		if (n == MAX_SPANS) {
			/* more than fit (libpq takes the last): the last span
			 * runs to the end of the string */
			sp[n - 1].len = strlen(conninfo) - sp[n - 1].at;
			break;
		}
		/* URI query: up to '&' */
		q = strcspn(v, "&");
		/* key=value: up to a blank or the closing quote */
		e = v;
		if (*e == '\'')
			e++;
		while (*e && (v[0] == '\'' ? *e != '\''
		                           : *e != ' ' && *e != '\t' && *e != '\n')) {
			if (*e == '\\' && e[1])
				e++;
			e++;
		}
		k = (size_t)(e - v);
		sp[n].at = (size_t)(v - conninfo);
		sp[n].len = uri && q > k ? q : k;
		n++;
	}
	return n;
}

/* @p s (length @p n) percent-decoded into @p out (at least n + 1 bytes;
 * invalid escapes kept as they are), and for each position of @p s the
 * position it lands on in @p map (n + 1 entries).  Returns out's length. */
static size_t percent_decode(const char *s, size_t n, char *out, size_t *map)
{
	size_t w = 0, i = 0;
	while (i < n) {
		map[i] = w;
		if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char h[3] = {s[i + 1], s[i + 2], '\0'};
			out[w++] = (char)strtol(h, NULL, 16);
			map[i + 1] = map[i + 2] = map[i];
			i += 3;
			continue;
		}
		out[w++] = s[i++];
	}
	map[n] = w;
	out[w] = '\0';
	return w;
}

/* Consecutive bytes of a password that a quoted text may share with it
 * (fewer than this many is not worth hiding a message for). */
#define PW_WINDOW 4

/* true when @p text (length @p n) overlaps or holds a span of @p str
 * (length @p len): it occurs in @p str across a span, or holds
 * PW_WINDOW consecutive bytes of one (all of a shorter one), wherever
 * they came from (libpq sometimes shows pieces it cut and joined). */
static bool touches_span(const char *str, size_t len, const pw_span *sp,
                         size_t nsp, const char *text, size_t n)
{
	for (size_t i = 0; i < nsp; i++) {
		size_t k = sp[i].len < PW_WINDOW ? sp[i].len : PW_WINDOW;
		for (size_t j = 0; k > 0 && n >= k && j + k <= sp[i].len; j++)
			if (memmem(text, n, str + sp[i].at + j, k) != NULL)
				return true;
	}
	if (n == 0)
		return false;
	for (const char *p = str; (p = memmem(p, len - (size_t)(p - str), text,
	                                      n)) != NULL; p++) {
		size_t at = (size_t)(p - str);
		for (size_t i = 0; i < nsp; i++)
			if (at < sp[i].at + sp[i].len && sp[i].at < at + n)
				return true;
	}
	return false;
}

/* What the redactor knows about one connection string. */
typedef struct redact_ctx {
	const char *conninfo;
	size_t len;
	pw_span sp[MAX_SPANS], dsp[MAX_SPANS];
	size_t nsp;
	char *dec;    /* conninfo percent-decoded (NULL: out of memory) */
	size_t dlen;
} redact_ctx;

/* true when @p text (length @p n) may be shown: it is not, and does not
 * overlap, a password span of the connection string, as written or
 * percent-decoded (libpq shows some values decoded); with no password,
 * it is not the whole string. */
static bool quote_is_safe(const redact_ctx *c, const char *text, size_t n)
{
	if (c->dec == NULL)
		return false; /* out of memory: hide every quoted part */
	if (c->nsp == 0)
		return (c->len != n || strncmp(c->conninfo, text, n) != 0) &&
		       (c->dlen != n || strncmp(c->dec, text, n) != 0);
	return !touches_span(c->conninfo, c->len, c->sp, c->nsp, text, n) &&
	       !touches_span(c->dec, c->dlen, c->dsp, c->nsp, text, n);
}

void ms__conninfo_redact(char *msg, size_t cap, const char *conninfo)
{
	static const char hidden[] = "(value not shown)";
	redact_ctx c;
	size_t *map = NULL, r = 0, w = 0, n;
	char *out;

	if (conninfo == NULL || conninfo[0] == '\0' || cap == 0)
		return;
	memset(&c, 0, sizeof c);
	c.conninfo = conninfo;
	c.len = strlen(conninfo);
	c.nsp = password_spans(conninfo, c.sp);
	c.dec = ms__malloc(c.len + 1);
	map = ms__malloc((c.len + 1) * sizeof *map);
	if (c.dec && map) {
		c.dlen = percent_decode(conninfo, c.len, c.dec, map);
		for (size_t i = 0; i < c.nsp; i++) {
			c.dsp[i].at = map[c.sp[i].at];
			c.dsp[i].len = map[c.sp[i].at + c.sp[i].len] - c.dsp[i].at;
		}
	} else {
		ms__free(c.dec);
		c.dec = NULL;
	}
	ms__free(map);
	n = strlen(msg);
	out = msg; /* rewritten in place: the output never grows */
	while (r < n) {
		const char *close, *last;
		size_t qlen, k;
		if (msg[r] != '"') {
			out[w++] = msg[r++];
			continue;
		}
		close = strchr(msg + r + 1, '"');
		last = strrchr(msg + r + 1, '"');
		if (close == NULL) {
			/* an unclosed quote: the rest is its text */
			close = msg + n;
			last = close;
		}
		/* libpq's quotes nest the user's text without escaping: when
		 * the text up to the LAST quote of the message is not safe,
		 * hide all of it, so nothing of it escapes the check */
		if (last != close &&
		    !quote_is_safe(&c, msg + r + 1, (size_t)(last - msg - r - 1)))
			close = last;
		qlen = (size_t)(close - msg - r - 1);
		if (quote_is_safe(&c, msg + r + 1, qlen) &&
		    (*close != '"' || quote_is_safe(&c, msg + r, qlen + 2))) {
			k = qlen + 1 + (*close == '"');
			memmove(out + w, msg + r, k);
			w += k;
			r += k;
			continue;
		}
		/* what replaces it is never longer than what it replaces */
		k = qlen + 1 + (*close == '"');
		if (k >= sizeof hidden - 1) {
			memcpy(out + w, hidden, sizeof hidden - 1);
			w += sizeof hidden - 1;
		} else {
			out[w++] = '"';
			if (k >= 2)
				out[w++] = '"';
		}
		r += k;
	}
	out[w] = '\0';
	ms__free(c.dec);
}

/* A malformed string is the caller's mistake, not an outage: say so
 * before trying the network. */
static ms_status check_conninfo(ms_err *e, const char *conninfo)
{
	char *perr = NULL;
	PQconninfoOption *parsed = PQconninfoParse(conninfo, &perr);
	ms_status st;

	if (parsed != NULL) {
		PQconninfoFree(parsed);
		return MS_OK;
	}
	if (perr == NULL)
		return ms__err_set(e, MS_ENOMEM, "connect: out of memory");
	st = ms__err_set(e, MS_EINVAL, "connect: invalid connection string: %s",
	                 perr);
	PQfreemem(perr);
	/* redact first: the quoted parts are then the string's own bytes,
	 * line breaks included */
	ms__conninfo_redact(e->msg, sizeof e->msg, conninfo);
	ms__fold_lines(e->msg);
	return st;
}

#define MS_CONN_KEYWORDS 10

/* Our defaults come before the user's string in the keyword arrays, so
 * anything the user wrote wins. */
static void default_keywords(const char **kw, const char **val,
                             const char *timeout, const char *conninfo)
{
	int i = 0;

	if (getenv("PGCONNECT_TIMEOUT") == NULL) {
		kw[i] = "connect_timeout";
		val[i++] = timeout;
	}
	kw[i] = "fallback_application_name";
	val[i++] = "modelstore";
	/* A host that goes silent after connecting: keepalives notice an
	 * idle dead peer in ~20 s, tcp_user_timeout fails unacknowledged
	 * sends after 10 s.  All overridable in the connection string. */
	kw[i] = "keepalives_idle";
	val[i++] = "10";
	kw[i] = "keepalives_interval";
	val[i++] = "5";
	kw[i] = "keepalives_count";
	val[i++] = "2";
	kw[i] = "tcp_user_timeout";
	val[i++] = "10000";
	if (conninfo && conninfo[0]) {
		kw[i] = "dbname";
		val[i++] = conninfo;
	}
	kw[i] = NULL;
	val[i] = NULL;
}

/* A failed connection: a bad option is a usage error, anything else an
 * outage.  libpq separates per-host messages with newlines. */
static ms_status connect_failed(ms_err *e, PGconn *conn,
                                const char *conninfo)
{
	/* libpq's words for a value it or the server refused: these are the
	 * caller's mistakes, and retrying cannot help */
	static const char *const usage[] = {
		"invalid connection option", "invalid URI", "missing \"=\"",
		"invalid integer value", "definition of service",
		" value: \"", "invalid port number", "could not match ",
		"unrecognized configuration parameter",
		"invalid value for parameter", "invalid command-line argument",
		NULL
	};
	char msg[768];

	snprintf(msg, sizeof msg, "%s", PQerrorMessage(conn));
	ms__conninfo_redact(msg, sizeof msg, conninfo);
	ms__fold_lines(msg);
	for (int i = 0; usage[i]; i++)
		if (strstr(msg, usage[i]))
			return ms__err_set(e, MS_EINVAL,
			                   "connect: invalid connection string: %s",
			                   msg);
	return ms__err_set(e, MS_EUNREACHABLE,
	                   "connect: database unreachable: %s", msg);
}

ms_status ms__connect(PGconn **out, ms_err *e, const char *conninfo,
                      int connect_timeout)
{
	const char *kw[MS_CONN_KEYWORDS], *val[MS_CONN_KEYWORDS];
	char timeout[16];
	PGconn *conn;
	ms_status st;

	*out = NULL;
	if (conninfo == NULL)
		conninfo = getenv("DATABASE_URL");
	if (conninfo && conninfo[0] && (st = check_conninfo(e, conninfo)) != MS_OK)
		return st;
	snprintf(timeout, sizeof timeout, "%d",
	         connect_timeout > 0 ? connect_timeout : MS_CONNECT_TIMEOUT_DEFAULT);
	default_keywords(kw, val, timeout, conninfo);
	conn = PQconnectdbParams(kw, val, 1);
	if (conn == NULL)
		return ms__err_set(e, MS_ENOMEM, "connect: out of memory");
	*out = conn;
	PQsetNoticeProcessor(conn, quiet_notices, NULL);
	if (PQstatus(conn) != CONNECTION_OK)
		return connect_failed(e, conn, conninfo);
	return MS_OK;
}

ms_status ms__exec(PGconn *conn, ms_err *e, PGresult **out,
                   ExecStatusType expect, const char *what, const char *sql,
                   int nparams, const char *const *params)
{
	PGresult *res = ms__pq_exec_params(conn, sql, nparams, params, NULL,
	                                   NULL, 0);
	if (out)
		*out = NULL;
	if (res == NULL || PQresultStatus(res) != expect) {
		ms_status st = ms__err_pg(e, conn, res, what);
		PQclear(res);
		return st;
	}
	if (out)
		*out = res;
	else
		PQclear(res);
	return MS_OK;
}

bool ms__pg_is_unreachable(PGconn *conn, const PGresult *res)
{
	if (conn == NULL || PQstatus(conn) == CONNECTION_BAD)
		return true;
	if (res) {
		const char *ss = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (ss == NULL || ss[0] == '\0')
			return PQstatus(conn) != CONNECTION_OK;
		/* 08xxx connection exception, 57P01..03 admin/crash shutdown */
		if (strncmp(ss, "08", 2) == 0 || strncmp(ss, "57P0", 4) == 0)
			return true;
	}
	return false;
}

/* The server's words without libpq's framing: "primary; detail; hint:
 * hint" instead of "ERROR:  primary\nDETAIL:  ...". */
static void server_message(char *buf, size_t n, const PGresult *res,
                           const char *fallback)
{
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
	const char *ss = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (primary == NULL) {
		snprintf(buf, n, "%s", fallback);
		return;
	}
	snprintf(buf, n, "%s%s%s%s%s%s", primary, detail ? "; " : "",
	         detail ? detail : "", hint ? "; hint: " : "", hint ? hint : "",
	         ss && strcmp(ss, "42501") == 0
	             ? " (this role lacks a grant: see sql/roles.sql for the "
	               "modelstore_reader, _writer and _logger roles)" : "");
}

ms_status ms__err_pg(ms_err *e, PGconn *conn, const PGresult *res,
                     const char *what)
{
	const char *m = res ? PQresultErrorMessage(res) : NULL;
	const char *ss = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	ms_status st = MS_ERROR;
	char target[256], text[480];

	if (m == NULL || m[0] == '\0')
		m = conn ? PQerrorMessage(conn) : "no connection";
	if (res)
		server_message(text, sizeof text, res, m);
	else
		snprintf(text, sizeof text, "%s", m);
	if (ms__pg_is_unreachable(conn, res)) {
		st = MS_EUNREACHABLE;
		ms__conn_target(conn, target, sizeof target);
		snprintf(e->msg, sizeof e->msg, "%s: database %s unreachable: %s",
		         what, target, text);
	} else {
		if (ss && strcmp(ss, "57014") == 0)
			st = MS_ETIMEDOUT; /* our deadline's cancel, or the
			                      server's statement_timeout */
		else if (ss && strcmp(ss, "55P03") == 0)
			st = MS_ETIMEDOUT; /* lock_timeout */
		else if (ss && strcmp(ss, "23505") == 0)
			st = MS_EEXISTS;
		else if (ss && strncmp(ss, "22", 2) == 0)
			st = MS_EINVAL;
		else if (ss && (strcmp(ss, "42P01") == 0 || strcmp(ss, "42703") == 0))
			st = MS_ESCHEMA;
		if (ss && strcmp(ss, "57014") == 0 && ms__deadline_ms(conn) > 0)
			snprintf(e->msg, sizeof e->msg, "%s: database %s did not "
			         "answer within %d ms (busy, or waiting for a lock "
			         "another session holds); statement canceled", what,
			         (ms__conn_target(conn, target, sizeof target),
			          target), ms__deadline_ms(conn));
		else if (ss && strcmp(ss, "25006") == 0)
			/* read_only_sql_transaction: a standby (or a
			 * read-only session) was given to a writer */
			snprintf(e->msg, sizeof e->msg, "%s: this command needs "
			         "the primary: %s is read-only (a standby?); list "
			         "the primary in the connection string, with "
			         "target_session_attrs=read-write", what,
			         (ms__conn_target(conn, target, sizeof target),
			          target));
		else
			snprintf(e->msg, sizeof e->msg, "%s: %s", what, text);
	}
	ms__fold_lines(e->msg);
	snprintf(e->sqlstate, sizeof e->sqlstate, "%s", ss ? ss : "");
	return st;
}
