/*
 * alias.c - aliases: named pointers to versions beside the production
 * flag.  Set and remove take the per-model lock of promotions (so a
 * prune cannot delete the version being pointed at), record the move in
 * model_alias_history, and are notified to loaders by the table's
 * trigger (sql/003).
 */
#include "store.h"

#include "conn.h"
#include "errbuf.h"
#include "fetch.h"
#include "names.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* The current version of @p alias into @p cur ("" when unset). */
static ms_status alias_current(ms_store *s, const char *name,
                               const char *alias, const char *what,
                               char cur[MS_VERSION_MAX + 1])
{
	const char *p[2] = { name, alias };
	PGresult *res;
	ms_status st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, what,
	                        "SELECT model_version FROM model_aliases"
	                        " WHERE model_name = $1 AND alias = $2", 2, p);
	if (st != MS_OK)
		return st;
	cur[0] = '\0';
	if (PQntuples(res) == 1)
		snprintf(cur, MS_VERSION_MAX + 1, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return MS_OK;
}

static ms_status alias_set_tx(ms_store *s, const char *name,
                              const char *alias, const char *selector,
                              const char *reason)
{
	ms_artifact_info info;
	char cur[MS_VERSION_MAX + 1], to[MS_VERSION_MAX + 1];
	const char *p[5];
	ms_status st;

	memset(&info, 0, sizeof info);
	if ((st = ms__store_lock_model(s, name, "alias set")) != MS_OK)
		return st;
	st = ms__artifact_resolve(s->conn, &s->err, &info, name, selector, NULL);
	if (st == MS_OK)
		snprintf(to, sizeof to, "%s", info.model_version);
	ms_artifact_info_dispose(&info);
	if (st != MS_OK)
		return st;
	if ((st = alias_current(s, name, alias, "alias set", cur)) != MS_OK)
		return st;
	if (strcmp(cur, to) == 0)
		return MS_OK; /* already there: nothing to record */
	p[0] = name;
	p[1] = alias;
	p[2] = to;
	st = ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK, "alias set",
	              "INSERT INTO model_aliases (model_name, alias,"
	              " model_version) VALUES ($1, $2, $3)"
	              " ON CONFLICT (model_name, alias) DO UPDATE SET"
	              " model_version = EXCLUDED.model_version, set_at = now(),"
	              " set_by = current_user", 3, p);
	if (st != MS_OK)
		return st;
	p[2] = cur[0] ? cur : NULL;
	p[3] = to;
	p[4] = reason;
	return ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK, "alias set",
	                "INSERT INTO model_alias_history (model_name, alias,"
	                " from_version, to_version, action, reason)"
	                " VALUES ($1, $2, $3, $4, 'set', $5)", 5, p);
}

/* The checks both moves make before connecting to anything. */
static ms_status alias_args(ms_store *s, const char **name, const char *alias)
{
	ms_status st = ms__store_check_name(s, name);
	if (st == MS_OK)
		st = ms__alias_arg(&s->err, alias);
	return st;
}

ms_status ms_store_alias_set(ms_store *s, const char *name, const char *alias,
                             const char *selector, const char *reason)
{
	ms_status st;

	MS__STORE_REQUIRE_CONN(s);
	if ((st = alias_args(s, &name, alias)) != MS_OK)
		return st;
	if (selector == NULL)
		return ms__err_set(&s->err, MS_EINVAL, "alias set: no version given");
	if ((st = ms__selector_arg(&s->err, selector)) != MS_OK)
		return st;
	if ((st = ms__store_begin(s, "alias set")) != MS_OK)
		return st;
	st = alias_set_tx(s, name, alias, selector, reason);
	if (st == MS_OK)
		return ms__store_commit(s, "alias set");
	ms__store_rollback(s);
	return st;
}

ms_status ms_store_alias_remove(ms_store *s, const char *name,
                                const char *alias, const char *reason)
{
	char cur[MS_VERSION_MAX + 1];
	const char *p[4];
	ms_status st;

	MS__STORE_REQUIRE_CONN(s);
	if ((st = alias_args(s, &name, alias)) != MS_OK)
		return st;
	if ((st = ms__store_begin(s, "alias rm")) != MS_OK)
		return st;
	st = ms__store_lock_model(s, name, "alias rm");
	if (st == MS_OK)
		st = alias_current(s, name, alias, "alias rm", cur);
	if (st == MS_OK && cur[0] == '\0')
		st = ms__err_set(&s->err, MS_ENOTFOUND,
		                 "alias rm: %s: no alias \"%s\"", name, alias);
	p[0] = name;
	p[1] = alias;
	if (st == MS_OK)
		st = ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK, "alias rm",
		              "DELETE FROM model_aliases WHERE model_name = $1"
		              " AND alias = $2", 2, p);
	p[2] = cur;
	p[3] = reason;
	if (st == MS_OK)
		st = ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK, "alias rm",
		              "INSERT INTO model_alias_history (model_name, alias,"
		              " from_version, to_version, action, reason)"
		              " VALUES ($1, $2, $3, NULL, 'remove', $4)", 4, p);
	if (st == MS_OK)
		return ms__store_commit(s, "alias rm");
	ms__store_rollback(s);
	return st;
}

ms_status ms_store_alias_list(ms_buf *out, ms_store *s, const char *name)
{
	const char *p[1];
	PGresult *res;
	ms_status st;
	const char *t;

	MS__STORE_REQUIRE_CONN(s);
	if (out == NULL)
		return ms__err_set(&s->err, MS_EINVAL, "alias list: no output");
	if (name && (st = ms__store_check_name(s, &name)) != MS_OK)
		return st;
	p[0] = name;
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "alias list",
	              "SELECT coalesce(json_agg(json_build_object('model_name',"
	              " model_name, 'alias', alias, 'model_version',"
	              " model_version, 'set_at', set_at, 'set_by', set_by)"
	              " ORDER BY model_name, alias), '[]'::json)::text"
	              " FROM model_aliases WHERE ($1::text IS NULL OR"
	              " model_name = $1)", 1, p);
	if (st != MS_OK)
		return st;
	t = PQgetvalue(res, 0, 0);
	if (ms__buf_set(out, t, strlen(t)) != MS_OK)
		st = ms__err_set(&s->err, MS_ENOMEM, "alias list: out of memory");
	PQclear(res);
	return st;
}
