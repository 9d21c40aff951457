/*
 * deadline.h - statements that cannot wait forever: a per-connection
 * deadline, enforced on the client with a cancel request (ms__ names).
 * Not installed.
 */
#ifndef MS_DEADLINE_H
#define MS_DEADLINE_H

#include <libpq-fe.h>
#include <stdbool.h>

/* How long after the cancel request we wait for the server's answer
 * before giving the connection up (the socket is shut down, so the
 * connection is then CONNECTION_BAD). */
#define MS_DEADLINE_GRACE_MS 1000

/* Give every statement on @p conn at most @p ms milliseconds to answer
 * (each result of a streamed query: @p ms without news).  0 or
 * negative: no deadline (the default of a new connection).  Attached to
 * the connection (libpq instance data): freed with it.  false when the
 * deadline could not be attached (out of memory). */
bool ms__deadline_set(PGconn *conn, int ms);
/* The deadline of @p conn in milliseconds; 0 when none. */
int ms__deadline_ms(const PGconn *conn);

/* PQgetResult under the connection's deadline.  When it passes, a cancel
 * request is sent (from a short-lived thread, so that a host that no
 * longer answers cannot hold us), and the server's answer (SQLSTATE
 * 57014) is awaited for MS_DEADLINE_GRACE_MS; without one, the socket is
 * shut down and libpq reports the connection lost.  Either way the
 * caller sees a failed result and goes on draining as usual. */
PGresult *ms__pq_get_result(PGconn *conn);

/* PQexecParams under the connection's deadline: the first failed result,
 * else the last one; NULL when the query could not be sent. */
PGresult *ms__pq_exec_params(PGconn *conn, const char *sql, int nparams,
                             const char *const *values, const int *lengths,
                             const int *formats, int result_format);

#endif
