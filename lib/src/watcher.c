/*
 * watcher.c - the loader's hot-reload thread.
 *
 * The watcher LISTENs on modelstore_production (or polls), and on a
 * notification for a tracked name, after every reconnect, and when a
 * caller's load raced with a notification, compares the production
 * version in the database with the cached one and swaps the pointer
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

/* A tracked name: one the cache holds a production pointer for. */
typedef struct tracked {
	char name[MS_NAME_MAX + 1];
	char version[MS_VERSION_MAX + 1];
	bool fallback;
} tracked;

/* Snapshot of the production pointers (optionally of one name). */
static size_t tracked_snapshot(ms_loader *l, const char *only, tracked **out)
{
	size_t n = 0, cap = 0, b;
	tracked *t = NULL;
	pthread_rwlock_rdlock(&l->cache.lock);
	for (b = 0; b < MS__NBUCKETS; b++) {
		ms_pentry *pe;
		for (pe = l->cache.pt[b]; pe; pe = pe->next) {
			if (only && strcmp(pe->name, only) != 0)
				continue;
			if (n == cap) {
				tracked *q = ms__realloc(t, (cap = cap ? cap * 2 : 8) *
				                         sizeof *t);
				if (q == NULL)
					goto done;
				t = q;
			}
			snprintf(t[n].name, sizeof t[n].name, "%s", pe->name);
			snprintf(t[n].version, sizeof t[n].version, "%s",
			         pe->e->p->version);
			t[n].fallback = pe->e->p->origin == MS_SOURCE_FALLBACK;
			n++;
		}
	}
done:
	pthread_rwlock_unlock(&l->cache.lock);
	*out = t;
	return n;
}

/* Make @p version the cached production model of @p name. */
static ms_status swap_in(ms_loader *l, PGconn **c, ms_err *e,
                         const char *name, const char *version)
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
	p = ms__cache_install(&l->cache, p, true, true, l->cache.pt);
	atomic_fetch_add(&l->reloads, 1);
	if (info.model_name[0])
		ms__loader_refresh_fallback(l, p, &info);
	ms_artifact_info_dispose(&info);
	if (l->on_change)
		l->on_change(l->change_payload, name, version);
	ms__payload_release(p);
	return MS_OK;
}

/* Compare the database's production pointers with the cached ones (all
 * tracked names, or @p only) and swap what changed. */
static ms_status recheck(ms_loader *l, PGconn **c, const char *only)
{
	tracked *t = NULL;
	size_t n = tracked_snapshot(l, only, &t), i;
	PGresult *res = NULL;
	const char *params[1] = { only };
	ms_err e;
	ms_status st;
	int r;

	ms__err_clear(&e);
	if (n == 0) {
		ms__free(t);
		return MS_OK;
	}
	st = ms__exec(*c, &e, &res, PGRES_TUPLES_OK, "watch",
	              only ? "SELECT model_name, model_version FROM"
	                     " model_artifacts WHERE is_production"
	                     " AND model_name = $1"
	                   : "SELECT model_name, model_version FROM"
	                     " model_artifacts WHERE is_production",
	              only ? 1 : 0, only ? params : NULL);
	if (st != MS_OK) {
		ms__free(t);
		ms__loader_set_err(l, &e);
		ms__loader_db_failed(l, c, st, &e);
		return st;
	}
	for (r = 0; r < PQntuples(res) && st == MS_OK && *c; r++) {
		const char *name = PQgetvalue(res, r, 0);
		const char *ver = PQgetvalue(res, r, 1);
		for (i = 0; i < n; i++) {
			if (strcmp(t[i].name, name) != 0)
				continue;
			if (strcmp(t[i].version, ver) != 0 || t[i].fallback)
				st = swap_in(l, c, &e, name, ver);
			break;
		}
	}
	PQclear(res);
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
