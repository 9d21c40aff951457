/*
 * loader_internal.h - the ms_loader structure, shared by the files that
 * make up the loader (loader.c, loader_db.c, watcher.c), and what
 * loader.c lends the others (ms__ names).  Not installed.
 */
#ifndef MS_LOADER_INTERNAL_H
#define MS_LOADER_INTERNAL_H

#include "cache.h"
#include "errbuf.h"
#include "model.h"
#include "shard.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define MS_LOADER_QUERY_TIMEOUT_DEFAULT 5000    /* ms */
#define MS_LOADER_IDLE_DISCONNECT_DEFAULT 10000 /* ms */

struct ms_loader {
	ms_cache cache;                  /* tables, LRU, flights */

	pthread_mutex_t db_mu;           /* the callers' connection */
	PGconn *conn;
	bool conn_fresh;                 /* made by the current holder */

	pthread_mutex_t refresh_mu;      /* fallback rewrites */

	pthread_mutex_t err_mu;
	char last_err[1024];
	char outage_msg[1024];

	_Atomic bool outage;
	_Atomic uint64_t next_try_ns;
	_Atomic unsigned backoff_ms;

	struct {
		_Alignas(64) _Atomic uint64_t v;
	} hits[MS__NSHARDS];
	_Atomic uint64_t misses, db_loads, fallback_loads, reloads;
	_Atomic uint64_t integrity_failures, outages;
	_Atomic uint64_t notify_seq;
	_Atomic int resync;

	char *conninfo;
	char *fallback_dir;
	int refresh_fallback;
	ms_watch_mode watch;
	unsigned poll_ms;
	int connect_timeout;
	int query_timeout_ms;            /* 0: none */
	int idle_disconnect_ms;          /* 0: never */
	_Atomic uint64_t conn_used_ns;   /* last use of conn (db_mu) */
	ms_change_fn on_change;
	void *change_payload;

	bool watching;
	bool watch_polls;                /* watcher thread only: polling
	                                    (MS_WATCH_POLL, or NOTIFY on a
	                                    standby) */
	pthread_t watcher;
	int wake[2];
	_Atomic bool stop;
	ms_err open_err;
};

/* Record @p e as the message of ms_loader_last_error. */
void ms__loader_set_err(ms_loader *l, const ms_err *e);

/* Rewrite the fallback copy of the production model @p p, just loaded
 * from the database with metadata @p info (completed with the hash and
 * size of @p p), when refresh_fallback is on and the copy on disk is not
 * already this one.  A failure is recorded, not returned. */
void ms__loader_refresh_fallback(ms_loader *l, const ms_payload *p,
                                 ms_artifact_info *info);

#endif
