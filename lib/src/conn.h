/*
 * conn.h - connecting to PostgreSQL, running statements, classifying
 * their failures (ms__ names).  Not installed.
 */
#ifndef MS_CONN_H
#define MS_CONN_H

#include "errbuf.h"

#include <libpq-fe.h>
#include <stdbool.h>

/* Seconds per host and address when neither the caller nor the
 * connection string nor PGCONNECT_TIMEOUT sets one. */
#define MS_CONNECT_TIMEOUT_DEFAULT 2

/* Connect with expand_dbname, connect_timeout default, application name.
 * @p conninfo NULL means $DATABASE_URL, and when that is unset (or ""),
 * libpq's own environment (PGHOST, PGPORT, service files, .pgpass).
 * Returns MS_OK, MS_EUNREACHABLE or MS_ENOMEM; the error names the server
 * (never the password). */
ms_status ms__connect(PGconn **out, ms_err *e, const char *conninfo,
                      int connect_timeout);
/* Remove from @p msg (capacity @p cap, rewritten in place) anything that
 * could be the password of @p conninfo: every quoted part that holds or
 * overlaps it, or that is the whole string.  Works on strings libpq
 * refuses to parse.  NULL or "" conninfo: nothing to hide. */
void ms__conninfo_redact(char *msg, size_t cap, const char *conninfo);
/* "host:port/db" for messages. */
void ms__conn_target(PGconn *conn, char *buf, size_t n);
/* true when the failure means the server is gone (connection bad or
 * class 08 / 57P0x). */
bool ms__pg_is_unreachable(PGconn *conn, const PGresult *res);
/* Set from a failed result/connection: classifies the failure. */
ms_status ms__err_pg(ms_err *e, PGconn *conn, const PGresult *res,
                     const char *what);

/* Run a statement with text params, expecting @p expect. */
ms_status ms__exec(PGconn *conn, ms_err *e, PGresult **out,
                   ExecStatusType expect, const char *what, const char *sql,
                   int nparams, const char *const *params);

#endif
