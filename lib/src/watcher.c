/*
 * watcher.c - the loader's hot-reload thread.
 *
 * The watcher LISTENs on modelstore_production (or polls), and on a
 * notification for a tracked name (a promotion, or an alias moved: the
 * trigger of sql/003 uses the same channel), after every reconnect, and
 * when a caller's load raced with a notification, compares the
 * production version and the version of every alias the cache serves in
 * the database with the cached ones and swaps the pointer
 * (fetching bytes first, outside the lock).  It has its own connection;
 * reconnecting after an outage, it swaps the database's production model
 * back in over a fallback copy.  Callers and ms_loader_close reach it
 * through a non-blocking wake pipe.
 */
#define _GNU_SOURCE
#include "watcher.h"

#include "alloc.h"
#include "cache.h"
#include "conn.h"
#include "errbuf.h"
#include "loader_db.h"
#include "loader_internal.h"
#include "model.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* re-checking the production pointers                                 */
/* ------------------------------------------------------------------ */

/* A tracked pointer: a production pointer of a name (alias ""), or an
 * alias of a name a caller asked for. */
typedef struct tracked {
	char name[MS_NAME_MAX + 1];
	char alias[MS_ALIAS_MAX + 1];
	char version[MS_VERSION_MAX + 1];
	bool fallback;
} tracked;

/* Append the pointers of @p table (of one name, @p only, when given). */
static size_t snapshot_table(ms_pentry **table, bool aliases,
                             const char *only, tracked **t, size_t n,
                             size_t *cap)
{
	size_t b;
	for (b = 0; b < MS__NBUCKETS; b++) {
		ms_pentry *pe;
		for (pe = table[b]; pe; pe = pe->next) {
			const char *at = aliases ? strchr(pe->name, '@') : NULL;
			size_t nlen = at ? (size_t)(at - pe->name) : strlen(pe->name);
			if (only && (strlen(only) != nlen ||
			             memcmp(pe->name, only, nlen) != 0))
				continue;
			if (n == *cap) {
				size_t nc = *cap ? *cap * 2 : 8;
				tracked *q = ms__realloc(*t, nc * sizeof **t);
				if (q == NULL)
					return n;
				*t = q;
				*cap = nc;
			}
			snprintf((*t)[n].name, sizeof (*t)[n].name, "%.*s",
			         (int)nlen, pe->name);
			snprintf((*t)[n].alias, sizeof (*t)[n].alias, "%s",
			         at ? at + 1 : "");
			snprintf((*t)[n].version, sizeof (*t)[n].version, "%s",
			         pe->e->p->version);
			(*t)[n].fallback = pe->e->p->origin == MS_SOURCE_FALLBACK;
			n++;
		}
	}
	return n;
}

/* Snapshot of the production pointers, then the alias pointers
 * (optionally of one name); *nprod of them are production pointers. */
static size_t tracked_snapshot(ms_loader *l, const char *only, tracked **out,
                               size_t *nprod)
{
	size_t n, cap = 0;
	tracked *t = NULL;
	unsigned s = ms__shard_me();

	ms__shard_lock(s);
	n = snapshot_table(l->cache.pt, false, only, &t, 0, &cap);
	*nprod = n;
	n = snapshot_table(l->cache.at, true, only, &t, n, &cap);
	ms__shard_unlock(s);
	*out = t;
	return n;
}

/* Make @p version the cached production model of @p name, or with
 * @p alias (not "") the version alias @p alias of @p name serves. */
static ms_status swap_in(ms_loader *l, PGconn **c, ms_err *e,
                         const char *name, const char *alias,
                         const char *version)
{
	ms_artifact_info info;
	ms_payload *p = ms__cache_lookup(&l->cache, MS__K_VERSION, name,
	                                 version);
	ms_status st = MS_OK;

	memset(&info, 0, sizeof info);
	if (p == NULL) {
		st = ms__loader_db_fetch(l, *c, e, name, version, &info, &p);
		if (st != MS_OK) {
			ms_artifact_info_dispose(&info);
			ms__loader_set_err(l, e);
			ms__loader_db_failed(l, c, st, e);
			return st;
		}
	}
	if (alias[0]) {
		p = ms__cache_install_alias(&l->cache, p, alias, true);
	} else {
		p = ms__cache_install(&l->cache, p, true, true, l->cache.pt);
		if (info.model_name[0])
			ms__loader_refresh_fallback(l, p, &info);
	}
	atomic_fetch_add(&l->reloads, 1);
	ms_artifact_info_dispose(&info);
	if (l->on_change)
		l->on_change(l->change_payload, name, version);
	ms__payload_release(p);
	return MS_OK;
}

/* The database's pointers, (name, version) per row for the production
 * flags, (name, version, alias) for the aliases (of @p only when
 * given). */
static ms_status pointers_query(ms_loader *l, PGconn **c, const char *only,
                                bool aliases, PGresult **res)
{
	const char *params[1] = { only };
	ms_err e;
	ms_status st;

	ms__err_clear(&e);
	st = ms__exec(*c, &e, res, PGRES_TUPLES_OK, "watch",
	              aliases ? "SELECT model_name, model_version, alias FROM"
	                        " model_aliases WHERE ($1::text IS NULL OR"
	                        " model_name = $1)"
	                      : "SELECT model_name, model_version FROM"
	                        " model_artifacts WHERE is_production"
	                        " AND ($1::text IS NULL OR model_name = $1)",
	              1, params);
	if (st != MS_OK) {
		ms__loader_set_err(l, &e);
		ms__loader_db_failed(l, c, st, &e);
	}
	return st;
}

/* Compare the pointers @p t[0..n) with the database's rows @p res and
 * swap what changed.  An alias that is gone is forgotten. */
static ms_status apply(ms_loader *l, PGconn **c, const tracked *t, size_t n,
                       const PGresult *res)
{
	ms_status st = MS_OK;
	ms_err e;
	size_t i;
	int r;

	ms__err_clear(&e);
	for (i = 0; i < n && st == MS_OK && *c; i++) {
		bool found = false;
		for (r = 0; r < PQntuples(res); r++) {
			const char *ver = PQgetvalue(res, r, 1);
			const char *alias = PQnfields(res) > 2
			                    ? PQgetvalue(res, r, 2) : "";
			if (strcmp(t[i].name, PQgetvalue(res, r, 0)) != 0 ||
			    strcmp(t[i].alias, alias) != 0)
				continue;
			found = true;
			if (strcmp(t[i].version, ver) != 0 || t[i].fallback)
				st = swap_in(l, c, &e, t[i].name, t[i].alias, ver);
			break;
		}
		if (!found && t[i].alias[0])
			ms__cache_alias_drop(&l->cache, t[i].name, t[i].alias);
	}
	return st;
}

/* Compare the database's production and alias pointers with the cached
 * ones (all tracked names, or @p only) and swap what changed. */
static ms_status recheck(ms_loader *l, PGconn **c, const char *only)
{
	tracked *t = NULL;
	size_t nprod, n = tracked_snapshot(l, only, &t, &nprod);
	PGresult *res = NULL;
	ms_status st = MS_OK;

	if (nprod > 0) {
		st = pointers_query(l, c, only, false, &res);
		if (st == MS_OK)
			st = apply(l, c, t, nprod, res);
		PQclear(res);
	}
	if (st == MS_OK && n > nprod && *c) {
		st = pointers_query(l, c, only, true, &res);
		if (st == MS_OK)
			st = apply(l, c, t + nprod, n - nprod, res);
		PQclear(res);
	}
	ms__free(t);
	return st;
}

/* ------------------------------------------------------------------ */
/* the wake pipe                                                       */
/* ------------------------------------------------------------------ */

static void drain_wake(ms_loader *l)
{
	char buf[64];
	while (read(l->wake[0], buf, sizeof buf) > 0)
		;
}

static void wait_wake(ms_loader *l, unsigned ms)
{
	struct pollfd pf = { l->wake[0], POLLIN, 0 };
	if (poll(&pf, 1, (int)ms) > 0)
		drain_wake(l);
}

/* ------------------------------------------------------------------ */
/* the thread                                                          */
/* ------------------------------------------------------------------ */

/* Connect (and LISTEN, when notified); on failure, wait out the backoff.
 * Notifications sent while away are lost, so a fresh connection starts
 * with a re-check of every tracked name. */
static void watcher_connect(ms_loader *l, PGconn **c, unsigned *backoff)
{
	ms_status st;
	ms_err e;

	ms__err_clear(&e);
	st = ms__loader_connect(l, c, &e);
	l->watch_polls = l->watch == MS_WATCH_POLL;
	if (st == MS_OK && l->watch == MS_WATCH_NOTIFY) {
		st = ms__exec(*c, &e, NULL, PGRES_COMMAND_OK, "watch",
		              "LISTEN modelstore_production", 0, NULL);
		/* a standby cannot LISTEN (notifications are not
		 * replicated): poll the production pointers instead */
		if (st != MS_OK && strcmp(e.sqlstate, "25006") == 0) {
			l->watch_polls = true;
			st = MS_OK;
		}
	}
	if (st != MS_OK) {
		PQfinish(*c);
		*c = NULL;
		if (st == MS_EUNREACHABLE)
			ms__loader_note_unreachable(l, e.msg);
		else
			ms__loader_set_err(l, &e);
		wait_wake(l, *backoff);
		*backoff = ms__backoff_next(*backoff, MS_RECONNECT_BACKOFF_MIN_MS,
		                            MS_RECONNECT_BACKOFF_MAX_MS);
		return;
	}
	*backoff = MS_RECONNECT_BACKOFF_MIN_MS;
	/* notifications sent while we were away are lost */
	atomic_store(&l->resync, 0);
	recheck(l, c, NULL);
	/* a server that accepts connections but cannot answer (a lock held
	 * past the deadline) lost *c again in recheck: still an outage */
	if (*c != NULL)
		ms__loader_note_reachable(l);
}

/* Wait (a second at most) for notifications or a wake, and re-check each
 * name notified. */
static void watcher_listen(ms_loader *l, PGconn **c)
{
	struct pollfd pf[2] = { { PQsocket(*c), POLLIN, 0 },
	                        { l->wake[0], POLLIN, 0 } };
	PGnotify *nt;
	ms_err e;

	if (poll(pf, 2, 1000) < 0 && errno != EINTR)
		return;
	if (pf[1].revents)
		drain_wake(l);
	if (!PQconsumeInput(*c)) {
		ms__err_set(&e, MS_EUNREACHABLE, "watch: connection lost: %s",
		            PQerrorMessage(*c));
		ms__loader_db_failed(l, c, MS_EUNREACHABLE, &e);
		return;
	}
	while (*c && (nt = PQnotifies(*c)) != NULL) {
		json_t *j = json_loads(nt->extra, 0, NULL);
		const char *name = json_string_value(
			json_object_get(j, "model_name"));
		atomic_fetch_add(&l->notify_seq, 1);
		if (name && ms_name_check(name) == MS_OK)
			recheck(l, c, name);
		json_decref(j);
		PQfreemem(nt);
	}
}

static void *watcher_main(void *arg)
{
	ms_loader *l = arg;
	PGconn *c = NULL;
	unsigned backoff = MS_RECONNECT_BACKOFF_MIN_MS;

	while (!atomic_load(&l->stop)) {
		ms__loader_db_idle_close(l);
		if (c == NULL) {
			watcher_connect(l, &c, &backoff);
			continue;
		}
		if (atomic_exchange(&l->resync, 0)) {
			recheck(l, &c, NULL);
			continue;
		}
		if (atomic_load(&l->outage)) {
			/* a caller's load failed (a server stuck past the
			 * deadline) while this connection looked fine: retry
			 * the database from here until it answers */
			if (recheck(l, &c, NULL) == MS_OK && c != NULL) {
				ms__loader_note_reachable(l);
				continue;
			}
			wait_wake(l, l->poll_ms < 1000 ? l->poll_ms : 1000);
			continue;
		}
		if (l->watch_polls) {
			wait_wake(l, l->poll_ms);
			if (!atomic_load(&l->stop))
				recheck(l, &c, NULL);
			continue;
		}
		watcher_listen(l, &c);
	}
	PQfinish(c);
	return NULL;
}

ms_status ms__watcher_start(ms_loader *l, ms_err *e)
{
	if (pipe2(l->wake, O_NONBLOCK | O_CLOEXEC) != 0)
		return ms__err_set(e, MS_ERROR, "watch: pipe: %s", strerror(errno));
	if (pthread_create(&l->watcher, NULL, watcher_main, l) != 0)
		return ms__err_set(e, MS_ERROR, "watch: cannot start the thread");
	l->watching = true;
	return MS_OK;
}

void ms__watcher_stop(ms_loader *l)
{
	if (l->watching) {
		atomic_store(&l->stop, true);
		(void)!write(l->wake[1], "x", 1);
		pthread_join(l->watcher, NULL);
	}
	if (l->wake[0] >= 0)
		close(l->wake[0]);
	if (l->wake[1] >= 0)
		close(l->wake[1]);
}

void ms__watcher_resync_since(ms_loader *l, uint64_t seq)
{
	if (l->watching && atomic_load(&l->notify_seq) != seq) {
		atomic_store(&l->resync, 1);
		(void)!write(l->wake[1], "r", 1);
	}
}
