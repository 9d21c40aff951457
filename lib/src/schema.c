/*
 * schema.c - embedded migrations: apply, and check the version on open.
 */
#include "schema.h"

#include "conn.h"
#include "deadline.h"
#include "errbuf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ms__migration {
	int version;
	const char *name;
	const char *sql;
	int breaking; /* libraries that do not know it cannot use the database */
	int needed;   /* the library that carries it needs it applied */
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

int ms__schema_needed_version(void)
{
	int n = 0, i;
	for (i = 0; ms__migrations[i].sql; i++)
		if (ms__migrations[i].needed)
			n = ms__migrations[i].version;
	return n;
}

/* The database's schema version and the highest breaking migration it
 * has, in one statement that reads the few rows of the migrations table
 * (the maxima are taken here: on a fresh backend, as every CLI run has,
 * `SELECT coalesce(max(version), 0)` took 4.3-5.4 ms as a connection's
 * second statement, the rows 2.9-3.1 ms, medians of 25).  A database
 * without the table answers 42P01 (undefined_table): 0 and 0.  Asking
 * to_regclass() first cost a second statement and round trip on every
 * open.  A table that a library older than the `breaking` column made
 * answers 42703 (undefined_column): every migration it records was
 * breaking then, and the rows are asked again without the column
 * (*legacy set; migrate adds it).  At open this runs outside any
 * transaction, so an error aborts nothing; migrate asks only after
 * creating the table and the column. */
static ms_status db_state(PGconn *conn, ms_err *e, int *version,
                          int *breaking, bool *legacy)
{
	PGresult *res = ms__pq_exec_params(conn, "SELECT version, breaking FROM"
	                                   " modelstore_migrations", 0, NULL,
	                                   NULL, NULL, 0);
	const char *ss = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	ms_status st;
	int i;

	*legacy = ss != NULL && strcmp(ss, "42703") == 0;
	if (*legacy) {
		PQclear(res);
		res = ms__pq_exec_params(conn, "SELECT version, true FROM"
		                         " modelstore_migrations", 0, NULL, NULL,
		                         NULL, 0);
		ss = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	}
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		*version = *breaking = 0;
		for (i = 0; i < PQntuples(res); i++) {
			int v = atoi(PQgetvalue(res, i, 0));
			if (v > *version)
				*version = v;
			if (PQgetvalue(res, i, 1)[0] == 't' && v > *breaking)
				*breaking = v;
		}
		PQclear(res);
		return MS_OK;
	}
	if (ss != NULL && strcmp(ss, "42P01") == 0) {
		PQclear(res);
		*version = *breaking = 0;
		return MS_OK;
	}
	st = ms__err_pg(e, conn, res, "schema");
	PQclear(res);
	return st;
}

ms_status ms__schema_db_version(PGconn *conn, ms_err *e, int *out)
{
	int breaking;
	bool legacy;
	return db_state(conn, e, out, &breaking, &legacy);
}

/* Refused when the database has a breaking migration this library does
 * not know (it would misread the schema), or lacks one this library
 * needs.  A database ahead by compatible migrations only, or behind by
 * optional ones only, is used as it is. */
static ms_status judge(ms_err *e, int have, int breaking, const char *what)
{
	int known = ms__schema_known_version();
	int needed = ms__schema_needed_version();

	if (have == 0)
		return ms__err_set(e, MS_ESCHEMA,
		                   "%s: the database has no modelstore schema "
		                   "(migration %s is missing); run `modelstore "
		                   "migrate`", what, ms__migrations[0].name);
	if (breaking > known)
		return ms__err_set(e, MS_ESCHEMA,
		                   "%s: database schema version %d is newer than "
		                   "this library knows (%d), and its migration %d "
		                   "changed what older libraries rely on; upgrade "
		                   "modelstore", what, have, known, breaking);
	if (have < needed)
		return ms__err_set(e, MS_ESCHEMA,
		                   "%s: database schema version %d is older than "
		                   "this library needs (%d): migration %s is "
		                   "missing; run `modelstore migrate`",
		                   what, have, needed, ms__migrations[have].name);
	return MS_OK;
}

ms_status ms__schema_check(PGconn *conn, ms_err *e)
{
	int have = 0, breaking = 0;
	bool legacy;
	ms_status st = db_state(conn, e, &have, &breaking, &legacy);
	if (st != MS_OK)
		return st;
	return judge(e, have, breaking, "schema");
}

ms_status ms__schema_migrate(PGconn *conn, ms_err *e, int *applied)
{
	int have = 0, breaking = 0, known = ms__schema_known_version(), i;
	bool legacy = false;
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
		              " applied_by TEXT NOT NULL DEFAULT current_user,"
		              " breaking BOOLEAN NOT NULL DEFAULT true)",
		              0, NULL);
	/* A table made by a library older than the `breaking` column gets
	 * it: every migration it records was breaking then, which is the
	 * column's default.  Asked of the catalog first, so that a migrate
	 * with nothing to do does not lock the table that every open reads. */
	if (st == MS_OK) {
		res = ms__pq_exec_params(conn, "SELECT 1 FROM pg_attribute WHERE"
		                         " attrelid = 'modelstore_migrations'::regclass"
		                         " AND attname = 'breaking' AND NOT"
		                         " attisdropped", 0, NULL, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			st = ms__err_pg(e, conn, res, "migrate");
		else
			legacy = PQntuples(res) == 0;
		PQclear(res);
	}
	if (st == MS_OK && legacy)
		st = ms__exec(conn, e, NULL, PGRES_COMMAND_OK, "migrate",
		              "ALTER TABLE modelstore_migrations ADD COLUMN"
		              " breaking BOOLEAN NOT NULL DEFAULT true", 0, NULL);
	if (st == MS_OK)
		st = db_state(conn, e, &have, &breaking, &legacy);
	if (st == MS_OK && breaking > known)
		st = judge(e, have, breaking, "migrate");
	for (i = have; st == MS_OK && i < known; i++) {
		char ver[16];
		const char *params[3];
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
		params[2] = ms__migrations[i].breaking ? "true" : "false";
		st = ms__exec(conn, e, NULL, PGRES_COMMAND_OK, what,
		              "INSERT INTO modelstore_migrations (version, name, "
		              "breaking) VALUES ($1, $2, $3)",
		              3, params);
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
