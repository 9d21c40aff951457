/* bench_pq.h - connecting and running setup SQL for the bench_*.c programs
 * that talk to PostgreSQL themselves; any failure ends the benchmark,
 * naming the statement. */
#ifndef MS_BENCH_PQ_H
#define MS_BENCH_PQ_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

/* A connection to @p url (NULL: libpq's defaults from the environment). */
static inline PGconn *bench_connect(const char *url)
{
	PGconn *c = PQconnectdb(url ? url : "");
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "bench: connect: %s", PQerrorMessage(c));
		exit(1);
	}
	return c;
}

/* Run @p sql (setup, outside the clock), which must succeed. */
static inline void bench_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bench: %s: %s", sql, PQerrorMessage(c));
		exit(1);
	}
	PQclear(r);
}

#endif
