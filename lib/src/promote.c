/*
 * promote.c - which version of a model is production: promote, roll
 * back along the promotion history, and prune old versions.  All three
 * take the same per-model advisory lock, so the production version
 * cannot move while another of them runs; every change is recorded in
 * model_promotions.
 */
#include "store.h"
#include "alloc.h"

#include "conn.h"
#include "errbuf.h"
#include "fetch.h"
#include "names.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Inside a transaction: the per-model lock that keeps the production
 * version of @p name still until commit or rollback. */
ms_status ms__store_lock_model(ms_store *s, const char *name,
                               const char *what)
{
	const char *p[1] = { name };
	return ms__exec(s->conn, &s->err, NULL, PGRES_TUPLES_OK, what,
	                "SELECT pg_advisory_xact_lock(hashtextextended("
	                "'modelstore.production:' || $1, 0))", 1, p);
}

ms_status ms__store_promote_tx(ms_store *s, const char *name,
                               const char *version, const char *action,
                               const char *reason)
{
	PGresult *res;
	const char *p[5];
	char from[MS_VERSION_MAX + 1] = "", id[32];
	bool has_from;
	ms_status st;

	p[0] = name;
	st = ms__store_lock_model(s, name, "promote");
	if (st != MS_OK)
		return st;
	p[1] = version;
	p[2] = MS_PRIMARY_ARTIFACT;
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "promote",
	              "SELECT (SELECT model_version FROM model_artifacts"
	              "  WHERE model_name = $1 AND is_production LIMIT 1),"
	              " (SELECT id FROM model_artifacts WHERE model_name = $1"
	              "  AND model_version = $2 AND artifact = $3)", 3, p);
	if (st != MS_OK)
		return st;
	has_from = !PQgetisnull(res, 0, 0);
	snprintf(from, sizeof from, "%s", PQgetvalue(res, 0, 0));
	if (PQgetisnull(res, 0, 1)) {
		PQclear(res);
		return ms__err_set(&s->err, MS_ENOTFOUND,
		                   "promote: %s: version \"%s\" not found", name,
		                   version);
	}
	snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	if (has_from && strcmp(from, version) == 0)
		return MS_OK; /* already production: nothing to record */

	st = ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK, "promote",
	              "UPDATE model_artifacts SET is_production = false,"
	              " updated_at = now() WHERE model_name = $1 AND is_production",
	              1, p);
	if (st != MS_OK)
		return st;
	p[0] = id;
	st = ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK, "promote",
	              "UPDATE model_artifacts SET is_production = true,"
	              " deployment_date = now(), updated_at = now() WHERE id = $1",
	              1, p);
	if (st != MS_OK)
		return st;
	p[0] = name;
	p[1] = has_from ? from : NULL;
	p[2] = version;
	p[3] = action;
	p[4] = reason;
	return ms__exec(s->conn, &s->err, NULL, PGRES_COMMAND_OK, "promote",
	                "INSERT INTO model_promotions (model_name, from_version,"
	                " to_version, action, reason) VALUES ($1, $2, $3, $4, $5)",
	                5, p);
}

ms_status ms_store_promote(ms_store *s, const char *name, const char *version,
                           const char *reason)
{
	char target[MS_VERSION_MAX + 1];
	ms_status st;
	MS__STORE_REQUIRE_CONN(s);
	if ((st = ms__store_check_name(s, &name)) != MS_OK)
		return st;
	if (version == NULL)
		return ms__err_set(&s->err, MS_EINVAL, "promote: no version given");
	if (ms__is_alias_selector(version))
		st = ms__alias_arg(&s->err, version + 1);
	else
		st = ms__store_check_version(s, version);
	if (st != MS_OK)
		return st;
	st = ms__store_begin(s, "promote");
	if (st == MS_OK && ms__is_alias_selector(version)) {
		/* "@ALIAS": the version it points to, under the lock that
		 * alias moves take too */
		ms_artifact_info info;
		memset(&info, 0, sizeof info);
		st = ms__store_lock_model(s, name, "promote");
		if (st == MS_OK)
			st = ms__artifact_resolve(s->conn, &s->err, &info, name,
			                          version, NULL);
		if (st == MS_OK)
			snprintf(target, sizeof target, "%s", info.model_version);
		ms_artifact_info_dispose(&info);
		version = target;
	}
	if (st == MS_OK)
		st = ms__store_promote_tx(s, name, version, "promote", reason);
	if (st == MS_OK)
		return ms__store_commit(s, "promote");
	ms__store_rollback(s);
	return st;
}

ms_status ms_store_rollback(ms_buf *version_out, ms_store *s,
                            const char *name, const char *reason)
{
	PGresult *res;
	const char *p[2];
	char current[MS_VERSION_MAX + 1], target[MS_VERSION_MAX + 1];
	ms_status st;

	MS__STORE_REQUIRE_CONN(s);
	if ((st = ms__store_check_name(s, &name)) != MS_OK)
		return st;
	if ((st = ms__store_begin(s, "rollback")) != MS_OK)
		return st;
	p[0] = name;
	st = ms__store_lock_model(s, name, "rollback");
	if (st != MS_OK)
		goto fail;
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "rollback",
	              "SELECT model_version FROM model_artifacts"
	              " WHERE model_name = $1 AND is_production", 1, p);
	if (st != MS_OK)
		goto fail;
	if (PQntuples(res) == 0) {
		PQclear(res);
		st = ms__err_set(&s->err, MS_ENOTFOUND,
		                 "rollback: %s: no production model", name);
		goto fail;
	}
	snprintf(current, sizeof current, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	/* The promotion that made the current version production says what
	 * was production before it.  Rollbacks are not followed, so repeated
	 * rollbacks walk further back in history. */
	p[1] = current;
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "rollback",
	              "SELECT from_version FROM model_promotions"
	              " WHERE model_name = $1 AND to_version = $2"
	              " AND action = 'promote' AND from_version IS NOT NULL"
	              " ORDER BY id DESC LIMIT 1", 2, p);
	if (st != MS_OK)
		goto fail;
	if (PQntuples(res) == 0) {
		PQclear(res);
		st = ms__err_set(&s->err, MS_ENOTFOUND,
		                 "rollback: %s: no production version before \"%s\" "
		                 "in the promotion history", name, current);
		goto fail;
	}
	snprintf(target, sizeof target, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	st = ms__store_promote_tx(s, name, target, "rollback", reason);
	if (st == MS_ENOTFOUND)
		ms__err_set(&s->err, MS_ENOTFOUND,
		            "rollback: %s: previous production version \"%s\" no "
		            "longer exists", name, target);
	if (st != MS_OK)
		goto fail;
	if ((st = ms__store_commit(s, "rollback")) != MS_OK)
		return st;
	if (ms__buf_set(version_out, target, strlen(target)) != MS_OK)
		return ms__err_set(&s->err, MS_ENOMEM, "rollback: out of memory");
	return MS_OK;
fail:
	ms__store_rollback(s);
	return st;
}

ms_status ms_store_prune(ms_buf *deleted_out, ms_store *s, const char *name,
                         unsigned keep, int dry_run)
{
	static const char VICTIMS[] =
		"SELECT model_version FROM (SELECT model_version,"
		" bool_or(is_production) AS prod, row_number() OVER"
		" (ORDER BY max(created_at) DESC, max(id) DESC) AS rn"
		" FROM model_artifacts WHERE model_name = $1"
		" GROUP BY model_version) v WHERE rn > $2::int AND NOT prod"
		" AND model_version NOT IN (SELECT al.model_version FROM"
		" model_aliases al WHERE al.model_name = $1)";
	char sql[1024], k[16];
	const char *p[2] = { name, k };
	PGresult *res;
	json_t *arr;
	char *text;
	ms_status st;
	int i;

	MS__STORE_REQUIRE_CONN(s);
	if ((st = ms__store_check_name(s, &name)) != MS_OK)
		return st;
	p[0] = name;
	snprintf(k, sizeof k, "%u", keep);
	if ((st = ms__store_begin(s, "prune")) != MS_OK)
		return st;
	/* Same lock as promotion: the production version cannot move while
	 * we pick what to delete. */
	st = ms__store_lock_model(s, name, "prune");
	if (st != MS_OK)
		goto fail;
	if (dry_run)
		snprintf(sql, sizeof sql, "%s ORDER BY rn", VICTIMS);
	else
		snprintf(sql, sizeof sql,
		         "WITH d AS (DELETE FROM model_artifacts WHERE model_name ="
		         " $1 AND NOT is_production AND model_version IN (%s)"
		         " RETURNING model_version, created_at, id)"
		         " SELECT model_version FROM d GROUP BY model_version"
		         " ORDER BY max(created_at) DESC, max(id) DESC", VICTIMS);
	st = ms__exec(s->conn, &s->err, &res, PGRES_TUPLES_OK, "prune", sql, 2,
	              p);
	if (st != MS_OK)
		goto fail;
	arr = json_array();
	for (i = 0; arr && i < PQntuples(res); i++)
		if (json_array_append_new(arr, json_string(PQgetvalue(res, i, 0)))) {
			json_decref(arr); /* out of memory: never a short list */
			arr = NULL;
		}
	PQclear(res);
	text = arr ? ms__json_dumps(arr, JSON_COMPACT) : NULL;
	json_decref(arr);
	if (text == NULL) {
		st = ms__err_set(&s->err, MS_ENOMEM, "prune: out of memory");
		goto fail;
	}
	if (dry_run)
		ms__store_rollback(s);
	else
		st = ms__store_commit(s, "prune");
	if (st == MS_OK && ms__buf_set(deleted_out, text, strlen(text)) != MS_OK)
		st = ms__err_set(&s->err, MS_ENOMEM, "prune: out of memory");
	ms__free(text);
	return st;
fail:
	ms__store_rollback(s);
	return st;
}
