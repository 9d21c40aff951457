/*
 * cmd_admin.c - the commands that look after the database rather than the
 * models: `migrate` and `doctor`.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
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

/* ------------------------------------------------------------------ */
/* doctor                                                              */
/* ------------------------------------------------------------------ */

/* The findings of one doctor run: printed as they come (text) or
 * gathered into one document (--json). */
typedef struct doctor {
	const cli *c;
	json_t *checks;
	int problems;
} doctor;

/* One finding: @ok or not, what was seen, and (when not ok) the command
 * that fixes it, NULL when there is none to give. */
static void finding(doctor *d, bool ok, const char *check, const char *fix,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void finding(doctor *d, bool ok, const char *check, const char *fix,
                    const char *fmt, ...)
{
	char detail[2048], safe[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	if (!ok)
		d->problems++;
	if (d->c->json) {
		json_t *o = json_pack("{s:s,s:b,s:s}", "check", check, "ok", ok,
		                      "detail", detail);
		json_object_set_new(o, "fix", !ok && fix ? json_string(fix)
		                                         : json_null());
		json_array_append_new(d->checks, o);
		return;
	}
	printf("%-4s %-18s %s\n", ok ? "ok" : "FAIL", check,
	       cli_safe(safe, sizeof safe, detail));
	if (!ok && fix)
		printf("     %-18s fix: %s\n", "", cli_safe(safe, sizeof safe, fix));
}

/* Names whose production version and fallback copy doctor compares:
 * those with a production version in the database and those with a
 * copy on disk; with --name, that name only. */
static void add_name(char ***names, size_t *n, const char *name)
{
	char **q;
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*names)[i], name) == 0)
			return;
	q = realloc(*names, (*n + 1) * sizeof *q);
	if (q == NULL)
		return;
	*names = q;
	if ((q[*n] = strdup(name)) != NULL)
		(*n)++;
}

/* The fallback copy of @name against the production version @prod
 * (NULL: none in the database, or the database is not reachable). */
static void check_fallback(doctor *d, const char *name,
                           const ms_artifact_info *prod, bool db_ok)
{
	const cli *c = d->c;
	ms_fallback_status fb;
	char check[MS_NAME_MAX + 16], fix[MS_NAME_MAX + PATH_MAX + 96];
	bool named = strcmp(name, MS_DEFAULT_NAME) != 0;

	snprintf(check, sizeof check, "fallback[%s]", name);
	snprintf(fix, sizeof fix, "modelstore%s%s --fallback-dir %s export",
	         named ? " --name " : "", named ? name : "", c->fallback_dir);
	ms_fallback_inspect(&fb, c->fallback_dir, name);
	if (db_ok && prod == NULL) {
		char pfix[MS_NAME_MAX + 64];
		snprintf(pfix, sizeof pfix, "modelstore%s%s promote VERSION",
		         named ? " --name " : "", named ? name : "");
		finding(d, false, check, pfix, "no production version in the "
		        "database%s%s", fb.status == MS_OK ? "; the copy holds "
		        : "", fb.status == MS_OK ? fb.version : "");
		return;
	}
	switch (fb.status) {
	case MS_OK:
		break;
	case MS_ENOTFOUND:
		finding(d, false, check, db_ok ? fix : NULL, "no fallback copy: "
		        "an outage would leave it unserved (%s)", fb.message);
		return;
	case MS_EINTEGRITY:
		finding(d, false, check, db_ok ? fix : NULL, "the copy would be "
		        "refused in an outage: %s", fb.message);
		return;
	default:
		finding(d, false, check, NULL, "%s", fb.message);
		return;
	}
	if (prod == NULL) {
		finding(d, true, check, NULL, "holds %s (sha256 %.12s, %s); not "
		        "compared: no database", fb.version, fb.sha256,
		        fb.verified ? "matches its sidecar" : "no sidecar");
		return;
	}
	if (strcmp(fb.version, prod->model_version) != 0 ||
	    (prod->sha256[0] && strcasecmp(fb.sha256, prod->sha256) != 0)) {
		finding(d, false, check, fix, "stale: the copy holds %s (sha256 "
		        "%.12s), production is %s (sha256 %.12s)", fb.version,
		        fb.sha256, prod->model_version, prod->sha256);
		return;
	}
	if (!fb.verified) {
		finding(d, false, check, fix, "holds %s but has no sidecar "
		        "recording its SHA-256: an outage would serve it "
		        "unverified", fb.version);
		return;
	}
	finding(d, true, check, NULL, "holds production %s, sha256 %.12s "
	        "matches the sidecar and the database", fb.version, fb.sha256);
}

static void check_spool(doctor *d, const char *dir)
{
	ms_spool_backlog b;
	ms_buf msg = MS_BUF_INIT;
	char fix[PATH_MAX + 128], when[64] = "";
	ms_status st = ms_spool_inspect(&b, dir, &msg);

	if (st != MS_OK) {
		finding(d, false, "spool", NULL, "%s: %s", dir,
		        msg.ptr ? msg.ptr : ms_status_str(st));
		ms_buf_dispose(&msg);
		return;
	}
	if (b.oldest_mtime) {
		time_t t = (time_t)b.oldest_mtime;
		struct tm tm;
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ",
		         gmtime_r(&t, &tm));
	}
	snprintf(fix, sizeof fix, "run a prediction logger with spool_dir "
	         "\"%s\" while the database is reachable: it replays the "
	         "files", dir);
	if (b.files == 0) {
		finding(d, true, "spool", NULL, "%s: no backlog%s", dir,
		        b.files_in_use ? " (a running logger holds its active "
		                         "file)" : "");
		return;
	}
	finding(d, false, "spool", fix, "%s: %llu file%s waiting, %llu "
	        "row%s, oldest written %s (%lld s ago)%s", dir,
	        (unsigned long long)b.files, b.files == 1 ? "" : "s",
	        (unsigned long long)b.records, b.records == 1 ? "" : "s", when,
	        (long long)(time(NULL) - b.oldest_mtime),
	        b.damaged_files ? "; some are damaged" : "");
}

static void check_server(doctor *d, ms_store *s)
{
	int v = 0;
	if (ms_store_server_version(s, &v) != MS_OK) {
		finding(d, false, "server", NULL, "%s", ms_store_errmsg(s));
		return;
	}
	finding(d, v >= 150000, "server", "upgrade the server to PostgreSQL "
	        "15 or later", "PostgreSQL %d.%d%s", v / 10000, v % 10000,
	        v >= 150000 ? "" : " (modelstore needs 15 or later)");
}

static void check_grants(doctor *d, ms_store *s)
{
	ms_buf miss = MS_BUF_INIT;
	int found = 0;
	ms_status st = ms_store_missing_grants(&miss, &found, s);

	if (st != MS_OK) {
		finding(d, false, "roles", NULL, "%s", ms_store_errmsg(s));
		return;
	}
	if (found == 0)
		finding(d, true, "roles", NULL, "the modelstore roles are not "
		        "installed (optional: sql/roles.sql)");
	else if (miss.size == 0)
		finding(d, true, "roles", NULL, "%d modelstore role%s, every "
		        "grant in place", found, found == 1 ? "" : "s");
	else {
		/* "r p o\nr p o\n" -> "r p o; r p o" */
		for (size_t i = 0; i + 1 < miss.size; i++)
			if (miss.ptr[i] == '\n')
				miss.ptr[i] = ';';
		miss.ptr[miss.size - 1] = '\0';
		finding(d, false, "roles", "psql -v ON_ERROR_STOP=1 -d DATABASE "
		        "-f sql/roles.sql (as the tables' owner)", "missing: %s",
		        miss.ptr);
	}
	ms_buf_dispose(&miss);
}

/* Production versions from the database, and every name doctor looks
 * at.  false when the registry cannot be read. */
static bool production_versions(doctor *d, ms_store *s,
                                ms_artifact_list **list)
{
	const cli *c = d->c;
	ms_status st = ms_store_list(list, s, c->name_given ? c->name : NULL, 0);
	if (st != MS_OK) {
		finding(d, false, "registry", NULL, "%s", ms_store_errmsg(s));
		return false;
	}
	return true;
}

static const ms_artifact_info *production_of(const ms_artifact_list *l,
                                             const char *name)
{
	for (size_t i = 0; i < ms_artifact_list_count(l); i++) {
		const ms_artifact_info *a = ms_artifact_list_get(l, i);
		if (a->is_production && strcmp(a->model_name, name) == 0)
			return a;
	}
	return NULL;
}

int cmd_doctor(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "spool-dir", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	doctor d = { c, json_array(), 0 };
	const char *spool_dir = "spool";
	ms_store_options o;
	ms_store *s = NULL;
	ms_artifact_list *list = NULL;
	ms_buf fbnames = MS_BUF_INIT;
	char **names = NULL;
	size_t nnames = 0;
	bool db_ok = false, schema_ok = false, registry_ok = false;
	int dbv = 0, libv = 0, rc = 0, opt;
	ms_status st;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': spool_dir = optarg; break;
		case 'h':
			puts("usage: modelstore doctor [--spool-dir DIR]\n\n"
			     "Check what would hurt in production: the connection and the\n"
			     "server's version, pending migrations, grants the modelstore\n"
			     "roles miss, per model name the fallback copy (its SHA-256\n"
			     "against its sidecar and against the production version), and\n"
			     "the prediction spool's backlog (DIR, default: spool).  Each\n"
			     "failure names the command that fixes it.  Exit 0 when all is\n"
			     "well, 1 when anything is wrong, 2 for a malformed connection\n"
			     "string, 4 when the database is unreachable.");
			json_decref(d.checks);
			return 0;
		default:
			json_decref(d.checks);
			return cli_usage(c, "unknown option");
		}
	}
	if (optind < argc) {
		json_decref(d.checks);
		return cli_usage(c, "unexpected argument \"%s\"", argv[optind]);
	}
	ms_store_options_init(&o, MS_STORE_OPTIONS_VERSION);
	o.check_schema = 0;
	st = ms_store_open(&s, c->db, &o);
	if (st == MS_EINVAL) {
		/* a malformed connection string: a usage error, as everywhere */
		rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
		ms_store_close(s);
		json_decref(d.checks);
		return rc;
	}
	db_ok = st == MS_OK;
	finding(&d, db_ok, "database", NULL, "%s", db_ok ? ms_store_target(s)
	                                                 : ms_store_errmsg(s));
	if (!db_ok)
		rc = cli_exit_for(st);
	if (db_ok) {
		check_server(&d, s);
		st = ms_store_schema_version(&dbv, &libv, s);
		if (st == MS_OK)
			st = ms_store_schema_check(s);
		/* refused behind: a needed migration is missing; refused
		 * ahead: a breaking one this build does not know */
		if (st == MS_ESCHEMA) {
			const char *why = ms_store_errmsg(s);
			if (strncmp(why, "schema: ", 8) == 0)
				why += 8; /* the line already says "schema" */
			finding(&d, false, "schema", dbv < libv ? "modelstore "
			        "migrate" : "install a modelstore as new as the "
			        "database's schema", "%s", why);
		} else if (st != MS_OK) {
			finding(&d, false, "schema", NULL, "%s", ms_store_errmsg(s));
		} else if (dbv < libv) {
			finding(&d, true, "schema", NULL, "database at version %d, "
			        "library knows %d: %d optional migration%s pending "
			        "(`modelstore migrate` applies %s)", dbv, libv,
			        libv - dbv, libv - dbv == 1 ? "" : "s",
			        libv - dbv == 1 ? "it" : "them");
		} else {
			finding(&d, true, "schema", NULL, "database at version %d, "
			        "library knows %d%s", dbv, libv, dbv > libv ?
			        " (the newer migrations are compatible)" : "");
		}
		schema_ok = st == MS_OK;
	}
	if (schema_ok) {
		check_grants(&d, s);
		registry_ok = production_versions(&d, s, &list);
	}
	/* every name: production in the database, a copy on disk, --name */
	for (size_t i = 0; i < ms_artifact_list_count(list); i++) {
		const ms_artifact_info *a = ms_artifact_list_get(list, i);
		if (a->is_production)
			add_name(&names, &nnames, a->model_name);
	}
	if (ms_fallback_names(&fbnames, c->fallback_dir) == MS_OK && fbnames.ptr)
		for (char *p = fbnames.ptr, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
			*nl = '\0';
			if (!c->name_given || strcmp(p, c->name) == 0)
				add_name(&names, &nnames, p);
		}
	ms_buf_dispose(&fbnames);
	if (nnames == 0)
		add_name(&names, &nnames, c->name);
	for (size_t i = 0; i < nnames; i++) {
		check_fallback(&d, names[i], production_of(list, names[i]),
		               registry_ok);
		free(names[i]);
	}
	free(names);
	check_spool(&d, spool_dir);
	ms_artifact_list_free(list);
	ms_store_close(s);
	if (c->json)
		cli_print_json(json_pack("{s:o,s:i}", "checks", d.checks,
		                         "problems", d.problems));
	else
		json_decref(d.checks);
	if (rc == 0 && d.problems)
		rc = EXIT_ERROR_;
	return rc;
}
