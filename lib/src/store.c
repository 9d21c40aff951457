/*
 * store.c - the ms_store handle: open, close, its error and target
 * strings, the progress callback, schema migration; and the helpers the
 * store's other files share through store.h (connection check,
 * transactions, name and version checks).  The operations themselves
 * live in push.c, promote.c, read.c and actual.c.
 */
#include "store.h"

#include "alloc.h"
#include "conn.h"
#include "deadline.h"
#include "errbuf.h"
#include "names.h"
#include "schema.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* open / close / errors                                               */
/* ------------------------------------------------------------------ */

/* The bytes of an ms_store_options of @p version; 0 when unknown. */
static size_t options_size(unsigned int version)
{
	switch (version) {
	case 1: return MS__SIZE_THROUGH(ms_store_options, chunk_size);
	case 2: return MS__SIZE_THROUGH(ms_store_options, query_timeout_ms);
	default: return 0;
	}
}

ms_status ms_store_options_init(ms_store_options *opts, unsigned int version)
{
	ms_store_options def = MS_STORE_OPTIONS_INIT;
	size_t n = options_size(version);
	if (opts == NULL || n == 0)
		return MS_EINVAL;
	def.version = version;
	memcpy(opts, &def, n);
	return MS_OK;
}

ms_status ms_store_open(ms_store **out, const char *conninfo,
                        const ms_store_options *opts)
{
	ms_store_options def = MS_STORE_OPTIONS_INIT;
	ms_store *s;
	ms_status st;

	if (out == NULL)
		return MS_EINVAL;
	*out = s = ms__calloc(1, sizeof *s);
	if (s == NULL)
		return MS_ENOMEM;
	if (opts == NULL)
		opts = &def;
	if (options_size(opts->version) == 0)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid ms_store_options version: %u",
		                   opts->version);
	s->chunk_size = opts->chunk_size ? opts->chunk_size : MS_CHUNK_SIZE_DEFAULT;
	if (s->chunk_size < 1024 || s->chunk_size > (256u << 20))
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid chunk_size value: \"%zu\" (1 KiB to "
		                   "256 MiB)", s->chunk_size);
	st = ms__connect(&s->conn, &s->err, conninfo, opts->connect_timeout);
	ms__conn_target(s->conn, s->target, sizeof s->target);
	if (st != MS_OK)
		return st;
	if (opts->version >= 2 && opts->query_timeout_ms > 0 &&
	    !ms__deadline_set(s->conn, opts->query_timeout_ms))
		return ms__err_set(&s->err, MS_ENOMEM, "connect: out of memory");
	if (opts->check_schema)
		return ms__schema_check(s->conn, &s->err);
	return MS_OK;
}

void ms_store_close(ms_store *s)
{
	if (s == NULL)
		return;
	PQfinish(s->conn);
	ms__free(s->chunk_buf);
	ms__free(s);
}

const char *ms_store_errmsg(const ms_store *s)
{
	return s ? s->err.msg : "out of memory";
}

const char *ms_store_sqlstate(const ms_store *s)
{
	return s ? s->err.sqlstate : "";
}

const char *ms_store_target(const ms_store *s)
{
	return s ? s->target : "";
}

void ms_store_set_progress(ms_store *s, ms_progress_fn fn, void *payload)
{
	if (s == NULL)
		return;
	s->progress = fn;
	s->progress_payload = payload;
}

/* ------------------------------------------------------------------ */
/* schema                                                              */
/* ------------------------------------------------------------------ */

ms_status ms_store_migrate(int *applied, ms_store *s)
{
	MS__STORE_REQUIRE_CONN(s);
	return ms__schema_migrate(s->conn, &s->err, applied);
}

ms_status ms_store_schema_check(ms_store *s)
{
	MS__STORE_REQUIRE_CONN(s);
	return ms__schema_check(s->conn, &s->err);
}

ms_status ms_store_schema_version(int *db_version, int *lib_version,
                                  ms_store *s)
{
	int v = 0;
	ms_status st;
	MS__STORE_REQUIRE_CONN(s);
	if (lib_version)
		*lib_version = ms__schema_known_version();
	st = ms__schema_db_version(s->conn, &s->err, &v);
	if (st == MS_OK && db_version)
		*db_version = v;
	return st;
}

/* ------------------------------------------------------------------ */
/* shared through store.h                                              */
/* ------------------------------------------------------------------ */

bool ms__store_usable(ms_store *s)
{
	if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
		ms__err_set(&s->err, MS_EUNREACHABLE,
		            "database %s unreachable: not connected", s->target);
		return false;
	}
	ms__err_clear(&s->err);
	return true;
}

void ms__store_rollback(ms_store *s)
{
	if (PQstatus(s->conn) == CONNECTION_OK &&
	    PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		PQclear(ms__pq_exec_params(s->conn, "ROLLBACK", 0, NULL, NULL,
		                           NULL, 0));
}

ms_status ms__store_begin(ms_store *s, const char *what)
{
	return ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK, what, "BEGIN",
	                0, NULL);
}

ms_status ms__store_commit(ms_store *s, const char *what)
{
	ms_status st = ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK, what,
	                        "COMMIT", 0, NULL);
	if (st != MS_OK)
		ms__store_rollback(s);
	return st;
}

ms_status ms__store_check_name(ms_store *s, const char **name)
{
	if (*name == NULL)
		*name = MS_DEFAULT_NAME;
	return ms__name_arg(&s->err, "model name", *name);
}

ms_status ms__store_check_version(ms_store *s, const char *v)
{
	if (ms__is_selector_word(v))
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid version: \"%s\" is a selector word, "
		                   "not a version", v);
	return ms__selector_arg(&s->err, v);
}
