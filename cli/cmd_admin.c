/*
 * cmd_admin.c - the commands that look after the database rather than the
 * models: `migrate` and `doctor`.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

int cmd_migrate(cli *c, int argc, char **argv)
{
	ms_store *s;
	int applied = 0, dbv = 0, libv = 0, rc;
	ms_status st;
	if (cli_wants_help(argc, argv)) {
		puts("usage: modelstore migrate\n\n"
		     "Apply the pending schema migrations in one transaction under an\n"
		     "advisory lock.  Idempotent; safe to run concurrently.");
		return 0;
	}
	if (argc > 1)
		return cli_usage(c, "unexpected argument \"%s\"", argv[1]);
	if ((rc = cli_open_store(c, &s, false)) != 0)
		return rc;
	st = ms_store_migrate(&applied, s);
	if (st == MS_OK)
		st = ms_store_schema_version(&dbv, &libv, s);
	if (st != MS_OK) {
		rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
		ms_store_close(s);
		return rc;
	}
	if (c->json)
		cli_print_json(json_pack("{s:i,s:i}", "applied", applied,
		                         "schema_version", dbv));
	else
		printf("applied %d migration%s; schema at version %d\n", applied,
		       applied == 1 ? "" : "s", dbv);
	ms_store_close(s);
	return 0;
}

int cmd_doctor(cli *c, int argc, char **argv)
{
	ms_store_options o;
	ms_store *s = NULL;
	ms_status st;
	int dbv = 0, libv = 0, problems = 0, rc = 0;
	json_t *checks = json_array();
	char path[PATH_MAX];
	struct stat sb;

#define CHECK(ok, name, fmt, ...) do { \
		char m_[PATH_MAX + 256]; snprintf(m_, sizeof m_, fmt, __VA_ARGS__); \
		if (!(ok)) problems++; \
		if (c->json) json_array_append_new(checks, json_pack("{s:s,s:b,s:s}", \
			"check", name, "ok", (int)(ok), "detail", m_)); \
		else printf("%-4s %-10s %s\n", (ok) ? "ok" : "FAIL", name, m_); \
	} while (0)

	if (cli_wants_help(argc, argv)) {
		puts("usage: modelstore doctor\n\n"
		     "Check the connection, the schema version, the production model\n"
		     "and its fallback copy.  Exit 4 when the database is unreachable,\n"
		     "1 when any other check fails.");
		json_decref(checks);
		return 0;
	}
	ms_store_options_init(&o, MS_STORE_OPTIONS_VERSION);
	o.check_schema = 0;
	st = ms_store_open(&s, c->db, &o);
	CHECK(st == MS_OK, "database", "%s", st == MS_OK ? ms_store_target(s)
	                                                 : ms_store_errmsg(s));
	if (st == MS_OK) {
		ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
		st = ms_store_schema_version(&dbv, &libv, s);
		if (st != MS_OK)
			CHECK(false, "schema", "%s", ms_store_errmsg(s));
		else
			CHECK(dbv == libv, "schema",
			      "database at version %d, library knows %d%s", dbv,
			      libv, dbv < libv ? " (run `modelstore migrate`)" : "");
		if (st == MS_OK && dbv == libv) {
			st = ms_store_show(&info, s, c->name, "production", NULL);
			CHECK(st == MS_OK, "production", "%s",
			      st == MS_OK ? info.model_version : ms_store_errmsg(s));
			if (st == MS_OK)
				ms_artifact_info_dispose(&info);
		}
	} else {
		rc = EXIT_UNREACHABLE;
	}
	snprintf(path, sizeof path, "%s/production/%s%smodel.bin", c->fallback_dir,
	         strcmp(c->name, MS_DEFAULT_NAME) ? c->name : "",
	         strcmp(c->name, MS_DEFAULT_NAME) ? "/" : "");
	CHECK(stat(path, &sb) == 0, "fallback", "%s %s", path,
	      stat(path, &sb) == 0 ? "present" : "missing (run `modelstore export`)");
	ms_store_close(s);
	if (c->json)
		cli_print_json(json_pack("{s:o,s:i}", "checks", checks, "problems",
		                         problems));
	else
		json_decref(checks);
	if (rc == 0 && problems)
		rc = EXIT_ERROR_;
	return rc;
#undef CHECK
}
