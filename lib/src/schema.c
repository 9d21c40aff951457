/*
 * schema.c - embedded migrations: apply, and check the version on open.
 */
#include "schema.h"

#include "conn.h"
#include "deadline.h"
#include "errbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ms__migration {
	int version;
	const char *name;
	const char *sql;
};
extern const struct ms__migration ms__migrations[];

/* Advisory lock key for migrations: "modelstore" as ASCII bytes. */
#define MIGRATE_LOCK "7237124735372780133"

int ms__schema_known_version(void)
{
	int n = 0;
	while (ms__migrations[n].sql)
		n++;
	return n;
}

/* The database's schema version, 0 without the migrations table, in
 * one statement: a database without the table answers 42P01
 * (undefined_table).  Asking to_regclass() first cost a second
 * statement and round trip on every open; on a fresh backend (every CLI
 * run) that statement alone took 1.8-2.2 ms of server time to parse,
 * plan and run.  At open it runs outside any transaction, so the error
 * aborts nothing; migrate asks only after creating the table. */
ms_status ms__schema_db_version(PGconn *conn, ms_err *e, int *out)
{
	PGresult *res = ms__pq_exec_params(conn, "SELECT coalesce(max(version),"
	                                   " 0) FROM modelstore_migrations", 0,
	                                   NULL, NULL, NULL, 0);
	const char *ss;
	ms_status st;

	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		*out = atoi(PQgetvalue(res, 0, 0));
		PQclear(res);
		return MS_OK;
	}
	ss = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (ss != NULL && strcmp(ss, "42P01") == 0) {
		PQclear(res);
		*out = 0;
		return MS_OK;
	}
	st = ms__err_pg(e, conn, res, "schema");
	PQclear(res);
	return st;
}

ms_status ms__schema_check(PGconn *conn, ms_err *e)
{
	int have = 0, known = ms__schema_known_version();
	ms_status st = ms__schema_db_version(conn, e, &have);
	if (st != MS_OK)
		return st;
	if (have == 0)
		return ms__err_set(e, MS_ESCHEMA,
		                   "schema: the database has no modelstore schema "
		                   "(migration %s is missing); run `modelstore "
		                   "migrate`", ms__migrations[0].name);
	if (have > known)
		return ms__err_set(e, MS_ESCHEMA,
		                   "schema: database schema version %d is newer than "
		                   "this library knows (%d); upgrade modelstore",
		                   have, known);
	if (have < known)
		return ms__err_set(e, MS_ESCHEMA,
		                   "schema: database schema version %d is older than "
		                   "this library's %d: migration %s is missing; run "
		                   "`modelstore migrate`",
		                   have, known, ms__migrations[have].name);
	return MS_OK;
}

ms_status ms__schema_migrate(PGconn *conn, ms_err *e, int *applied)
{
	int have = 0, known = ms__schema_known_version(), i;
	ms_status st;
	PGresult *res;

	if (applied)
		*applied = 0;
	st = ms__exec(conn, e, NULL, PGRES_COMMAND_OK, "migrate", "BEGIN", 0,
	              NULL);
	if (st != MS_OK)
		return st;
	/* Serialise concurrent migrators before looking at anything. */
	st = ms__exec(conn, e, NULL, PGRES_TUPLES_OK, "migrate",
	              "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", 0, NULL);
	if (st == MS_OK)
		st = ms__exec(conn, e, NULL, PGRES_COMMAND_OK, "migrate",
		              "CREATE TABLE IF NOT EXISTS modelstore_migrations ("
		              " version INTEGER PRIMARY KEY,"
		              " name TEXT NOT NULL,"
		              " applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
		              " applied_by TEXT NOT NULL DEFAULT current_user)",
		              0, NULL);
	if (st == MS_OK)
		st = ms__schema_db_version(conn, e, &have);
	if (st == MS_OK && have > known)
		st = ms__err_set(e, MS_ESCHEMA,
		                 "migrate: database schema version %d is newer than "
		                 "this library knows (%d); upgrade modelstore",
		                 have, known);
	for (i = have; st == MS_OK && i < known; i++) {
		char ver[16];
		const char *params[2];
		char what[160];
		snprintf(what, sizeof what, "migrate %s", ms__migrations[i].name);
		res = PQexec(conn, ms__migrations[i].sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		    PQresultStatus(res) != PGRES_TUPLES_OK) {
			st = ms__err_pg(e, conn, res, what);
			PQclear(res);
			break;
		}
		PQclear(res);
		snprintf(ver, sizeof ver, "%d", ms__migrations[i].version);
		params[0] = ver;
		params[1] = ms__migrations[i].name;
		st = ms__exec(conn, e, NULL, PGRES_COMMAND_OK, what,
		              "INSERT INTO modelstore_migrations (version, name) "
		              "VALUES ($1, $2)",
		              2, params);
		if (st == MS_OK && applied)
			(*applied)++;
	}
	if (st != MS_OK) {
		PQclear(PQexec(conn, "ROLLBACK"));
		if (applied)
			*applied = 0;
		return st;
	}
	return ms__exec(conn, e, NULL, PGRES_COMMAND_OK, "migrate", "COMMIT", 0,
	                NULL);
}
