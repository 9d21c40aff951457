/*
 * deadline.c - statements that cannot wait forever.
 *
 * A server that answers but is stuck (a table locked by a migration, a
 * transaction that never ends, a failover in progress) holds a query for
 * as long as it likes; TCP keepalives see nothing wrong.  So every
 * statement the library sends on a connection with a deadline is
 * awaited with poll() for at most that long.  When the deadline passes
 * we ask the server to cancel (SQLSTATE 57014 comes back, and the
 * connection stays usable) and, if it does not answer within a grace
 * period, shut the socket down, which libpq reports as a lost
 * connection.
 *
 * Why on the client and not with statement_timeout/lock_timeout: those
 * are session settings, and through PgBouncer in transaction mode a SET
 * lands on whatever server connection the transaction got and stays
 * there for the next client; the `options` startup parameter is refused
 * by PgBouncer.  A client-side deadline works the same directly, through
 * any pooler and on a standby, and also bounds the network wait.
 *
 * PQcancel opens a new connection without a timeout, so a host that went
 * silent could hold it for minutes: it runs on a short-lived detached
 * thread and we wait only the grace period for its effect.
 */
#define _GNU_SOURCE
#include "deadline.h"

#include "util.h"

#include <errno.h>
#include <libpq-events.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

/* The deadline lives in the connection as libpq instance data (an int
 * in the pointer: nothing to free). */
static int deadline_proc(PGEventId id, void *info, void *pass)
{
	(void)id;
	(void)info;
	(void)pass;
	return 1;
}

bool ms__deadline_set(PGconn *conn, int ms)
{
	if (conn == NULL)
		return false;
	if (ms < 0)
		ms = 0;
	/* registering twice fails harmlessly; setting then tells */
	(void)PQregisterEventProc(conn, deadline_proc, "modelstore deadline",
	                          NULL);
	return PQsetInstanceData(conn, deadline_proc,
	                         (void *)(intptr_t)ms) != 0;
}

int ms__deadline_ms(const PGconn *conn)
{
	return conn ? (int)(intptr_t)PQinstanceData(conn, deadline_proc) : 0;
}

/* Wait until a result can be read without blocking, or @p until_ns. */
static bool wait_ready(PGconn *conn, uint64_t until_ns)
{
	while (PQisBusy(conn)) {
		uint64_t now = ms__now_ns();
		struct pollfd pf = { PQsocket(conn), POLLIN, 0 };
		int r;
		if (pf.fd < 0)
			return true; /* PQgetResult reports the broken connection */
		if (now >= until_ns)
			return false;
		r = poll(&pf, 1, (int)((until_ns - now + 999999u) / 1000000u));
		if (r < 0 && errno != EINTR)
			return true;
		if (r > 0 && !PQconsumeInput(conn))
			return true; /* the failure is in the next result */
	}
	return true;
}

static void *cancel_main(void *arg)
{
	PGcancel *cc = arg;
	char buf[256];
	(void)PQcancel(cc, buf, sizeof buf);
	PQfreeCancel(cc);
	return NULL;
}

/* The deadline passed: cancel, and give up the connection when the
 * server does not answer the cancel within the grace period. */
static void expire(PGconn *conn)
{
	PGcancel *cc = PQgetCancel(conn);
	pthread_attr_t at;
	pthread_t t;
	bool sent = false;

	if (cc != NULL && pthread_attr_init(&at) == 0) {
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		sent = pthread_create(&t, &at, cancel_main, cc) == 0;
		pthread_attr_destroy(&at);
	}
	if (!sent)
		PQfreeCancel(cc);
	if (sent && wait_ready(conn, ms__now_ns() +
	                       (uint64_t)MS_DEADLINE_GRACE_MS * 1000000u))
		return;
	/* no answer: the connection is useless; libpq sees EOF next */
	(void)shutdown(PQsocket(conn), SHUT_RDWR);
	(void)PQconsumeInput(conn);
}

PGresult *ms__pq_get_result(PGconn *conn)
{
	int ms = ms__deadline_ms(conn);
	if (ms > 0 && !wait_ready(conn, ms__now_ns() + (uint64_t)ms * 1000000u))
		expire(conn);
	return PQgetResult(conn);
}

PGresult *ms__pq_exec_params(PGconn *conn, const char *sql, int nparams,
                             const char *const *values, const int *lengths,
                             const int *formats, int result_format)
{
	PGresult *res, *keep = NULL;

	if (ms__deadline_ms(conn) <= 0)
		return PQexecParams(conn, sql, nparams, NULL, values, lengths,
		                    formats, result_format);
	if (!PQsendQueryParams(conn, sql, nparams, NULL, values, lengths,
	                       formats, result_format))
		return NULL;
	while ((res = ms__pq_get_result(conn)) != NULL) {
		ExecStatusType rs = PQresultStatus(res);
		ExecStatusType ks = keep ? PQresultStatus(keep) : PGRES_EMPTY_QUERY;
		if (ks == PGRES_FATAL_ERROR || ks == PGRES_BAD_RESPONSE) {
			PQclear(res); /* the first failure is the one to report */
		} else {
			PQclear(keep);
			keep = res;
		}
		if (rs == PGRES_COPY_IN || rs == PGRES_COPY_OUT ||
		    rs == PGRES_COPY_BOTH)
			break; /* the caller drives COPY */
	}
	return keep;
}
