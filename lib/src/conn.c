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

/* A malformed string is the caller's mistake, not an outage: say so
 * before trying the network. */
static ms_status check_conninfo(ms_err *e, const char *conninfo)
{
	char *perr = NULL;
	PQconninfoOption *parsed = PQconninfoParse(conninfo, &perr);
	ms_status st;
	bool redact;

	if (parsed != NULL) {
		PQconninfoFree(parsed);
		return MS_OK;
	}
	if (perr == NULL)
		return ms__err_set(e, MS_ENOMEM, "connect: out of memory");
	perr[strcspn(perr, "\n")] = '\0';
	/* libpq quotes the whole URI component that failed to decode, which
	 * may be the password: drop the quote */
	redact = strstr(perr, "percent-encoded") && strchr(perr, '"');
	if (redact)
		*strchr(perr, '"') = '\0';
	st = ms__err_set(e, MS_EINVAL, "connect: invalid connection string: %s%s",
	                 perr, redact ? "(value not shown)" : "");
	PQfreemem(perr);
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
static ms_status connect_failed(ms_err *e, PGconn *conn)
{
	char msg[768];

	snprintf(msg, sizeof msg, "%s", PQerrorMessage(conn));
	ms__fold_lines(msg);
	if (strstr(msg, "invalid connection option") ||
	    strstr(msg, "invalid URI") || strstr(msg, "missing \"=\"") ||
	    strstr(msg, "invalid integer value") ||
	    strstr(msg, "definition of service"))
		return ms__err_set(e, MS_EINVAL,
		                   "connect: invalid connection string: %s", msg);
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
		return connect_failed(e, conn);
	return MS_OK;
}

ms_status ms__exec(PGconn *conn, ms_err *e, PGresult **out,
                   ExecStatusType expect, const char *what, const char *sql,
                   int nparams, const char *const *params)
{
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL,
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

ms_status ms__err_pg(ms_err *e, PGconn *conn, const PGresult *res,
                     const char *what)
{
	const char *m = res ? PQresultErrorMessage(res) : NULL;
	const char *ss = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	ms_status st = MS_ERROR;
	char target[256];

	if (m == NULL || m[0] == '\0')
		m = conn ? PQerrorMessage(conn) : "no connection";
	if (ms__pg_is_unreachable(conn, res)) {
		st = MS_EUNREACHABLE;
		ms__conn_target(conn, target, sizeof target);
		snprintf(e->msg, sizeof e->msg, "%s: database %s unreachable: %s",
		         what, target, m);
	} else {
		if (ss && strcmp(ss, "23505") == 0)
			st = MS_EEXISTS;
		else if (ss && (strcmp(ss, "22P02") == 0 || strcmp(ss, "22023") == 0 ||
		                strncmp(ss, "22", 2) == 0))
			st = MS_EINVAL;
		else if (ss && (strcmp(ss, "42P01") == 0 || strcmp(ss, "42703") == 0))
			st = MS_ESCHEMA;
		snprintf(e->msg, sizeof e->msg, "%s: %s", what, m);
	}
	ms__fold_lines(e->msg);
	snprintf(e->sqlstate, sizeof e->sqlstate, "%s", ss ? ss : "");
	return st;
}
