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

#include "deadline.h"
#include "errbuf.h"
#include "util.h"

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

/* Where the password sits in @p conninfo, found by a lenient scan that
 * also works on strings libpq refuses to parse: in a URI, what follows
 * the first ':' of the user info (up to the last '@' before the path);
 * in key=value form, the value of `password`.  false when there is none. */
static bool password_span(const char *conninfo, size_t *start, size_t *len)
{
	const char *scheme = strstr(conninfo, "://");
	const char *p;

	if (scheme != NULL) {
		const char *auth = scheme + 3;
		const char *end = auth + strcspn(auth, "/?");
		const char *at = NULL, *colon;
		for (p = auth; p < end; p++)
			if (*p == '@')
				at = p;
		if (at == NULL) {
			/* "user:secret" with the "@host" forgotten: libpq reads
			 * a host and a port; a "port" that is not digits may
			 * well be the password */
			if (*auth == '[' || (colon = memchr(auth, ':',
			                     (size_t)(end - auth))) == NULL ||
			    strspn(colon + 1, "0123456789,") == (size_t)(end - colon - 1))
				return false;
			at = end;
		}
		colon = memchr(auth, ':', (size_t)(at - auth));
		if (colon == NULL)
			return false;
		*start = (size_t)(colon + 1 - conninfo);
		*len = (size_t)(at - colon - 1);
		return true;
	}
	for (p = conninfo; (p = strstr(p, "password")) != NULL; p += 8) {
		const char *v = p + 8;
		if (p != conninfo && p[-1] != ' ' && p[-1] != '\t')
			continue;
		v += strspn(v, " \t");
		if (*v != '=')
			continue;
		v++;
		v += strspn(v, " \t");
		if (*v == '\'')
			v++;
		*start = (size_t)(v - conninfo);
		*len = strcspn(v, *v ? "' \t" : "");
		return true;
	}
	return false;
}

/* true when @p text (length @p n) may be shown: it is not, and does not
 * overlap, the password span of @p conninfo. */
static bool quote_is_safe(const char *conninfo, const char *text, size_t n,
                          size_t pw_start, size_t pw_len, bool has_pw)
{
	const char *p;

	if (!has_pw)
		return strlen(conninfo) != n || strncmp(conninfo, text, n) != 0;
	if (pw_len > 0 && n >= pw_len &&
	    memmem(text, n, conninfo + pw_start, pw_len) != NULL)
		return false;
	for (p = conninfo; (p = memmem(p, strlen(p), text, n)) != NULL; p++) {
		size_t at = (size_t)(p - conninfo);
		if (at < pw_start + pw_len && pw_start < at + n)
			return false;
		if (n == 0)
			break;
	}
	return true;
}

void ms__conninfo_redact(char *msg, size_t cap, const char *conninfo)
{
	static const char hidden[] = "(value not shown)";
	size_t pw_start = 0, pw_len = 0, r = 0, w = 0, n;
	bool has_pw;
	char *out;

	if (conninfo == NULL || conninfo[0] == '\0' || cap == 0)
		return;
	has_pw = password_span(conninfo, &pw_start, &pw_len);
	n = strlen(msg);
	out = msg; /* rewritten in place: the output never grows */
	while (r < n) {
		const char *close;
		size_t qlen;
		if (msg[r] != '"' ||
		    (close = strchr(msg + r + 1, '"')) == NULL) {
			out[w++] = msg[r++];
			continue;
		}
		/* libpq's quotes nest the user's text without escaping: take
		 * the LAST quote on the line as the end when the text itself
		 * holds a quote, so nothing of it escapes the check */
		if (strrchr(msg + r + 1, '"') != close &&
		    !quote_is_safe(conninfo, msg + r + 1,
		                   (size_t)(close - msg - r - 1), pw_start, pw_len,
		                   has_pw))
			close = strrchr(msg + r + 1, '"');
		qlen = (size_t)(close - msg - r - 1);
		if (quote_is_safe(conninfo, msg + r + 1, qlen, pw_start, pw_len,
		                  has_pw) &&
		    quote_is_safe(conninfo, msg + r, qlen + 2, pw_start, pw_len,
		                  has_pw)) {
			memmove(out + w, msg + r, qlen + 2);
			w += qlen + 2;
		} else if (qlen + 2 >= sizeof hidden - 1) {
			memcpy(out + w, hidden, sizeof hidden - 1);
			w += sizeof hidden - 1;
		} else {
			out[w++] = '"';
			out[w++] = '"';
		}
		r += qlen + 2;
	}
	out[w] = '\0';
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
	ms__fold_lines(e->msg);
	ms__conninfo_redact(e->msg, sizeof e->msg, conninfo);
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
	ms__fold_lines(msg);
	ms__conninfo_redact(msg, sizeof msg, conninfo);
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
