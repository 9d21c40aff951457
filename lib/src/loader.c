/*
 * loader.c - ms_loader: the public loader API and the loads behind a
 * miss (database first, then the fallback tree).
 *
 * The loader is made of:
 *   model.c        the handles it hands out (ms_model over a payload)
 *   cache.c        the cache of payloads and single-flight misses
 *   loader_db.c    the callers' connection, outages and backoff, fetches
 *   fallback*.c    the fallback tree it serves outages from
 *   watcher.c      the hot-reload thread
 *   loader.c       the API, and the loads that tie these together
 *
 * Fallback and outages
 * --------------------
 * When the database cannot be reached, "production" is served from the
 * fallback copy (fallback_read.c), and a fallback copy once cached keeps
 * being served until the database answers again: the watcher (or,
 * without one, the next caller after the backoff) reconnects and swaps
 * the database's production model back in.  With the refresh_fallback
 * option, a production model loaded from the database rewrites its
 * fallback copy.
 */
#define _GNU_SOURCE
#include "loader_internal.h"

#include "alloc.h"
#include "cache.h"
#include "conn.h"
#include "errbuf.h"
#include "fallback.h"
#include "loader_db.h"
#include "model.h"
#include "names.h"
#include "util.h"
#include "watcher.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_CACHE ((uint64_t)4 << 30)

void ms__loader_set_err(ms_loader *l, const ms_err *e)
{
	pthread_mutex_lock(&l->err_mu);
	snprintf(l->last_err, sizeof l->last_err, "%s", e->msg);
	pthread_mutex_unlock(&l->err_mu);
}

/* ------------------------------------------------------------------ */
/* the fallback copies                                                 */
/* ------------------------------------------------------------------ */

/* Serve @p name (@p want_version of it, when not NULL) from the fallback
 * tree; @p e holds the database's error on entry. */
static ms_status fallback_load(ms_loader *l, ms_err *e, const char *name,
                               const char *want_version, ms_payload **out)
{
	char why[sizeof e->msg];
	ms_status st;

	snprintf(why, sizeof why, "%s", e->msg);
	st = ms__fallback_load(e, l->fallback_dir, name, want_version, why, out);
	if (st == MS_OK)
		atomic_fetch_add(&l->fallback_loads, 1);
	else if (st == MS_EINTEGRITY)
		atomic_fetch_add(&l->integrity_failures, 1);
	return st;
}

/* Write @p p and its sidecar from @p info as the fallback copy in
 * @p dir, with the writer `modelstore export` uses. */
static ms_status fallback_write(ms_err *e, const char *dir,
                                const ms_payload *p,
                                const ms_artifact_info *info)
{
	ms_fallback_writer *w = NULL;
	ms_status st = ms__fallback_begin(&w, e, dir);
	uint64_t off = 0;

	while (st == MS_OK && off < p->size) {
		size_t n = p->size - off < MS__READ_BLOCK
		           ? (size_t)(p->size - off) : MS__READ_BLOCK;
		st = ms__fallback_write(w, p->data + off, n);
		off += n;
	}
	if (st == MS_OK)
		return ms__fallback_commit(w, e, info);
	ms__fallback_abort(w);
	return st;
}

/* Skipped when the copy on disk already records the same bytes; the
 * writer's flock serializes this with exports and other loaders. */
void ms__loader_refresh_fallback(ms_loader *l, const ms_payload *p,
                                 ms_artifact_info *info)
{
	char side[PATH_MAX], dir[PATH_MAX];
	ms_err e;
	ms_status st;

	if (!l->refresh_fallback)
		return;
	ms__err_clear(&e);
	if (!ms__fallback_path(side, sizeof side, l->fallback_dir, p->name,
	                       "model.json") || !ms__dir_of(dir, sizeof dir, side))
		return; /* too long, or a name that cannot have a copy */
	pthread_mutex_lock(&l->refresh_mu);
	if (ms__fallback_holds(dir, p->sha256, p->version, p->size)) {
		pthread_mutex_unlock(&l->refresh_mu);
		return;
	}
	if (info->sha256[0] == '\0')
		memcpy(info->sha256, p->sha256, sizeof info->sha256);
	info->size = (int64_t)p->size;
	st = fallback_write(&e, dir, p, info);
	pthread_mutex_unlock(&l->refresh_mu);
	if (st != MS_OK) {
		ms_err w;
		ms__err_set(&w, st, "refresh fallback: %s", e.msg);
		ms__loader_set_err(l, &w);
	}
}

/* ------------------------------------------------------------------ */
/* the loads behind a miss (ms_cache_load_fn, ctx: the loader)         */
/* ------------------------------------------------------------------ */

typedef struct fetch_ctx {
	const char *name;
	const char *version;  /* NULL: resolve the pointer @selector */
	const char *selector; /* "production" or "@ALIAS" (NULL: production) */
	ms_payload *p;
	ms_source src;
	bool resolved;
	char resolved_version[MS_VERSION_MAX + 1];
	ms_artifact_info info;
} fetch_ctx;

/* ms_loader_db_op: fetch @version (or the production version, reusing a
 * cached copy of it) into f->p. */
static ms_status op_fetch(ms_loader *l, ms_err *e, void *ctx)
{
	fetch_ctx *f = ctx;
	const char *version = f->version;
	ms_status st;

	ms_artifact_info_dispose(&f->info);
	f->src = MS_SOURCE_DATABASE;
	if (version == NULL) {
		st = ms__loader_resolve_version(l->conn, e, f->name,
		                                f->selector ? f->selector
		                                            : "production",
		                                f->resolved_version);
		if (st != MS_OK)
			return st;
		version = f->resolved_version;
		f->p = ms__cache_lookup(&l->cache, MS__K_VERSION, f->name,
		                        version);
		if (f->p) {
			f->src = MS_SOURCE_CACHE;
			return MS_OK;
		}
	}
	return ms__loader_db_fetch(l, l->conn, e, f->name, version, &f->info,
	                           &f->p);
}

/* Load a given version: cache, database, then (if the database is out)
 * a fallback copy whose sidecar names that version. */
static ms_status load_version(void *ctx, ms_err *e, const char *name,
                              const char *version, ms_payload **out,
                              ms_source *src)
{
	ms_loader *l = ctx;
	fetch_ctx f = { .name = name, .version = version };
	ms_payload *p;
	ms_status st;

	memset(&f.info, 0, sizeof f.info);
	st = ms__loader_db_run(l, e, op_fetch, &f);
	ms_artifact_info_dispose(&f.info);
	p = f.p;
	if (st == MS_OK) {
		*out = ms__cache_install(&l->cache, p, false, false, l->cache.pt);
		*src = MS_SOURCE_DATABASE;
		return MS_OK;
	}
	if (st == MS_EUNREACHABLE) {
		st = fallback_load(l, e, name, version, &p);
		if (st == MS_OK) {
			*out = p; /* not cached: the pointer tables are for prod */
			*src = MS_SOURCE_FALLBACK;
		}
	}
	return st;
}

/* The database is out (@p e says why): keep serving a fallback copy
 * already cached, or load one and cache it as the production model. */
static ms_status production_from_fallback(ms_loader *l, ms_err *e,
                                          const char *name, ms_payload **out,
                                          ms_source *src)
{
	ms_payload *p = ms__cache_lookup(&l->cache, MS__K_PROD, name, NULL);
	ms_status st;

	if (p) {
		*out = p;
		*src = p->origin == MS_SOURCE_FALLBACK ? MS_SOURCE_FALLBACK
		                                       : MS_SOURCE_CACHE;
		return MS_OK;
	}
	st = fallback_load(l, e, name, NULL, &p);
	if (st != MS_OK)
		return st;
	*out = ms__cache_install(&l->cache, p, true, false, l->cache.pt);
	*src = MS_SOURCE_FALLBACK;
	return MS_OK;
}

/* Load the production model: resolve the pointer, reuse a cached copy of
 * that version or fetch it; when the database is out, the fallback. */
static ms_status load_production(void *ctx, ms_err *e, const char *name,
                                 const char *unused, ms_payload **out,
                                 ms_source *src)
{
	ms_loader *l = ctx;
	fetch_ctx f = { .name = name, .version = NULL };
	uint64_t seq = atomic_load(&l->notify_seq);
	ms_artifact_info info;
	ms_payload *p;
	ms_source s;
	ms_status st;

	MS_UNUSED(unused);
	memset(&f.info, 0, sizeof f.info);
	st = ms__loader_db_run(l, e, op_fetch, &f);
	info = f.info; /* disposed below */
	p = f.p;
	s = f.src;
	if (st == MS_OK) {
		ms_payload *mine = ms__payload_retain(p);
		ms_payload *cached = ms__cache_install(&l->cache, p, true, false,
		                                       l->cache.pt);
		if (cached != mine)
			s = MS_SOURCE_CACHE;
		else if (s == MS_SOURCE_DATABASE)
			ms__loader_refresh_fallback(l, cached, &info);
		ms__payload_release(mine);
		ms_artifact_info_dispose(&info);
		ms__watcher_resync_since(l, seq);
		*out = cached;
		*src = s;
		return MS_OK;
	}
	ms_artifact_info_dispose(&info);
	if (st != MS_EUNREACHABLE)
		return st;
	return production_from_fallback(l, e, name, out, src);
}

/* Load the version an alias points to (@p alias, without '@'): resolve
 * it, reuse a cached copy of that version or fetch it, and point the
 * alias at it.  Aliases have no fallback copy: while the database is out
 * an alias is served only from the cache. */
static ms_status load_alias(void *ctx, ms_err *e, const char *name,
                            const char *alias, ms_payload **out,
                            ms_source *src)
{
	ms_loader *l = ctx;
	char sel[MS_ALIAS_MAX + 2];
	fetch_ctx f = { .name = name, .version = NULL, .selector = sel };
	uint64_t seq = atomic_load(&l->notify_seq);
	ms_payload *mine, *cached;
	ms_status st;

	snprintf(sel, sizeof sel, "@%s", alias);
	memset(&f.info, 0, sizeof f.info);
	st = ms__loader_db_run(l, e, op_fetch, &f);
	ms_artifact_info_dispose(&f.info);
	if (st != MS_OK)
		return st;
	mine = ms__payload_retain(f.p);
	cached = ms__cache_install_alias(&l->cache, f.p, alias, false);
	*src = cached != mine ? MS_SOURCE_CACHE : f.src;
	ms__payload_release(mine);
	ms__watcher_resync_since(l, seq);
	*out = cached;
	return MS_OK;
}

typedef struct latest_ctx {
	const char *name;
	char version[MS_VERSION_MAX + 1];
} latest_ctx;

/* ms_loader_db_op: resolve "latest" for lc->name. */
static ms_status op_latest(ms_loader *l, ms_err *e, void *ctx)
{
	latest_ctx *lc = ctx;
	return ms__loader_resolve_version(l->conn, e, lc->name, "latest",
	                                  lc->version);
}

/* "latest": resolve it and load that version, remembered for outages;
 * during one, the last version resolved is served from the cache. */
static ms_status load_latest(ms_loader *l, ms_err *e, const char *name,
                             ms_payload **out, ms_source *src)
{
	latest_ctx lc = { name, "" };
	ms_status st = ms__loader_db_run(l, e, op_latest, &lc);

	if (st == MS_OK) {
		st = ms__cache_flight(&l->cache, e, MS__K_VERSION, name,
		                      lc.version, load_version, l, true, out, src);
		if (st == MS_OK && (*out)->origin != MS_SOURCE_FALLBACK) {
			/* remember it for outages */
			ms_payload *q = ms__cache_install(
				&l->cache, ms__payload_retain(*out), true, true,
				l->cache.lt);
			ms__payload_release(q);
		}
	} else if (st == MS_EUNREACHABLE) {
		*out = ms__cache_latest(&l->cache, name);
		if (*out) {
			st = MS_OK;
			*src = MS_SOURCE_CACHE;
		}
	}
	return st;
}

/* ------------------------------------------------------------------ */
/* public API                                                          */
/* ------------------------------------------------------------------ */

/* The bytes of an ms_loader_options of @p version; 0 when unknown. */
static size_t options_size(unsigned int version)
{
	switch (version) {
	case 1: return MS__SIZE_THROUGH(ms_loader_options, change_payload);
	case 2: return MS__SIZE_THROUGH(ms_loader_options, idle_disconnect_ms);
	default: return 0;
	}
}

ms_status ms_loader_options_init(ms_loader_options *opts, unsigned int version)
{
	ms_loader_options def = MS_LOADER_OPTIONS_INIT;
	size_t n = options_size(version);
	if (opts == NULL || n == 0)
		return MS_EINVAL;
	def.version = version;
	memcpy(opts, &def, n);
	return MS_OK;
}

/* The locks of a zeroed loader; the wake pipe not open yet. */
static void loader_init(ms_loader *l)
{
	l->wake[0] = l->wake[1] = -1;
	ms__cache_init(&l->cache);
	ms__loader_db_init(l);
	pthread_mutex_init(&l->refresh_mu, NULL);
	pthread_mutex_init(&l->err_mu, NULL);
}

/* MS_EINVAL, naming the culprit, for options this version cannot take. */
static ms_status options_check(ms_err *e, const ms_loader_options *opts)
{
	if (options_size(opts->version) == 0)
		return ms__err_set(e, MS_EINVAL,
		                   "invalid ms_loader_options version: %u",
		                   opts->version);
	if (opts->watch != MS_WATCH_OFF && opts->watch != MS_WATCH_NOTIFY &&
	    opts->watch != MS_WATCH_POLL)
		return ms__err_set(e, MS_EINVAL, "invalid watch value: \"%d\"",
		                   (int)opts->watch);
	if (opts->connect_timeout < 0)
		return ms__err_set(e, MS_EINVAL,
		                   "invalid connect_timeout value: \"%d\"",
		                   opts->connect_timeout);
	return MS_OK;
}

/* Take @p conninfo and @p opts, with defaults for what they leave 0. */
static ms_status options_apply(ms_loader *l, ms_err *e, const char *conninfo,
                               const ms_loader_options *opts)
{
	l->conninfo = conninfo ? ms__strdup(conninfo) : NULL;
	l->fallback_dir = ms__strdup(opts->fallback_dir && opts->fallback_dir[0]
	                             ? opts->fallback_dir : "models");
	if ((conninfo && l->conninfo == NULL) || l->fallback_dir == NULL)
		return ms__err_set(e, MS_ENOMEM, "out of memory");
	l->cache.budget = opts->cache_bytes ? opts->cache_bytes : DEFAULT_CACHE;
	l->refresh_fallback = opts->refresh_fallback;
	l->watch = opts->watch;
	l->poll_ms = opts->poll_interval_ms ? opts->poll_interval_ms : 1000;
	l->connect_timeout = opts->connect_timeout ? opts->connect_timeout
	                                         : MS_CONNECT_TIMEOUT_DEFAULT;
	l->on_change = opts->on_change;
	l->change_payload = opts->change_payload;
	l->query_timeout_ms = MS_LOADER_QUERY_TIMEOUT_DEFAULT;
	l->idle_disconnect_ms = MS_LOADER_IDLE_DISCONNECT_DEFAULT;
	if (opts->version >= 2) {
		if (opts->query_timeout_ms != 0)
			l->query_timeout_ms = opts->query_timeout_ms > 0
			                      ? opts->query_timeout_ms : 0;
		if (opts->idle_disconnect_ms != 0)
			l->idle_disconnect_ms = opts->idle_disconnect_ms > 0
			                        ? opts->idle_disconnect_ms : 0;
	}
	return MS_OK;
}

ms_status ms_loader_open(ms_loader **out, const char *conninfo,
                         const ms_loader_options *opts)
{
	ms_loader_options def = MS_LOADER_OPTIONS_INIT;
	ms_loader *l;
	ms_status st;
	ms_err e;

	if (out == NULL)
		return MS_EINVAL;
	*out = l = ms__calloc(1, sizeof *l);
	if (l == NULL)
		return MS_ENOMEM;
	loader_init(l);
	if (opts == NULL)
		opts = &def;
	st = options_check(&e, opts);
	if (st == MS_OK)
		st = options_apply(l, &e, conninfo, opts);
	if (st == MS_OK && l->watch != MS_WATCH_OFF)
		st = ms__watcher_start(l, &e);
	if (st != MS_OK)
		ms__loader_set_err(l, &e);
	return st;
}

/* The hot path: the cached model, counted as a hit, or NULL.  A fallback
 * copy, unwatched, is a miss for the one caller that claims the retry of
 * the database after the backoff (*retry); the others keep being served
 * it. */
static ms_model *get_cached(ms_loader *l, int kind, const char *name,
                            const char *selector, bool *retry)
{
	ms_payload *p = ms__cache_get(&l->cache, kind, name, selector);

	if (p == NULL)
		return NULL;
	if (p->origin == MS_SOURCE_FALLBACK && !l->watching &&
	    ms__loader_db_claim_retry(l)) {
		ms__payload_handle_release(p);
		*retry = true;
		return NULL;
	}
	atomic_fetch_add_explicit(&l->hits[ms__shard_me()].v, 1,
	                          memory_order_relaxed);
	return &p->face[p->origin == MS_SOURCE_FALLBACK ? MS_SOURCE_FALLBACK
	                                                : MS_SOURCE_CACHE];
}

ms_status ms_loader_get(ms_model **out, ms_loader *l, const char *name,
                        const char *selector)
{
	ms_payload *p;
	ms_source src;
	ms_err e;
	ms_status st;
	bool retry = false;
	int kind;

	if (out)
		*out = NULL;
	if (l == NULL || out == NULL)
		return MS_EINVAL;
	if (name == NULL)
		name = MS_DEFAULT_NAME;
	if (selector == NULL)
		selector = "production";
	ms__err_clear(&e);
	if (ms__name_arg(&e, "model name", name) != MS_OK ||
	    ms__selector_arg(&e, selector) != MS_OK) {
		ms__loader_set_err(l, &e);
		return MS_EINVAL;
	}
	kind = strcmp(selector, "production") == 0 ? MS__K_PROD
	       : selector[0] == '@'                ? MS__K_ALIAS
	                                           : MS__K_VERSION;
	if (kind == MS__K_ALIAS)
		selector++; /* the alias itself keys the cache */

	if (kind != MS__K_VERSION || strcmp(selector, "latest") != 0) {
		*out = get_cached(l, kind, name, selector, &retry);
		if (*out)
			return MS_OK;
	}
	atomic_fetch_add(&l->misses, 1);

	if (kind == MS__K_ALIAS) {
		st = ms__cache_flight(&l->cache, &e, MS__K_ALIAS, name, selector,
		                      load_alias, l, true, &p, &src);
	} else if (kind == MS__K_PROD) {
		st = ms__cache_flight(&l->cache, &e, MS__K_PROD, name, NULL,
		                      load_production, l, !retry, &p, &src);
		ms__loader_db_retry_done();
	} else if (strcmp(selector, "latest") == 0) {
		st = load_latest(l, &e, name, &p, &src);
	} else {
		st = ms__cache_flight(&l->cache, &e, MS__K_VERSION, name, selector,
		                      load_version, l, true, &p, &src);
	}
	if (st != MS_OK) {
		ms__loader_set_err(l, &e);
		return st;
	}
	*out = &p->face[src];
	return MS_OK;
}

typedef struct names_ctx {
	PGresult *res;
} names_ctx;

/* ms_loader_db_op: the names that have a production model. */
static ms_status op_production_names(ms_loader *l, ms_err *e, void *ctx)
{
	names_ctx *nc = ctx;
	PQclear(nc->res);
	nc->res = NULL;
	return ms__exec(l->conn, e, &nc->res, PGRES_TUPLES_OK, "preload",
	                "SELECT DISTINCT model_name FROM model_artifacts"
	                " WHERE is_production ORDER BY 1", 0, NULL);
}

ms_status ms_loader_preload(size_t *loaded, ms_loader *l)
{
	char **names = NULL;
	size_t n = 0, i, ok = 0;
	ms_status st, first = MS_OK;
	ms_err e;

	if (loaded)
		*loaded = 0;
	if (l == NULL)
		return MS_EINVAL;
	ms__err_clear(&e);
	{
		names_ctx nc = { NULL };
		st = ms__loader_db_run(l, &e, op_production_names, &nc);
		if (st == MS_OK) {
			int r;
			names = ms__calloc((size_t)PQntuples(nc.res) + 1, sizeof *names);
			for (r = 0; names && r < PQntuples(nc.res); r++)
				if ((names[n] = ms__strdup(PQgetvalue(nc.res, r, 0))) != NULL)
					n++;
			if (names == NULL)
				st = ms__err_set(&e, MS_ENOMEM, "preload: out of memory");
		}
		PQclear(nc.res);
	}
	if (st == MS_EUNREACHABLE)
		n = ms__fallback_names(l->fallback_dir, &names);
	else if (st != MS_OK) {
		ms__loader_set_err(l, &e);
		return st;
	}
	for (i = 0; i < n; i++) {
		ms_model *m = NULL;
		ms_status s2 = ms_loader_get(&m, l, names[i], "production");
		if (s2 == MS_OK)
			ok++;
		else if (first == MS_OK)
			first = s2;
		ms_model_release(m);
		ms__free(names[i]);
	}
	ms__free(names);
	if (loaded)
		*loaded = ok;
	if (first == MS_OK && st == MS_EUNREACHABLE && n == 0) {
		ms__loader_set_err(l, &e);
		return MS_EUNREACHABLE;
	}
	return first;
}

/* The bytes of an ms_loader_stats of @p version; 0 when unknown. */
static size_t stats_size(unsigned int version)
{
	switch (version) {
	case 1:
		return MS__SIZE_THROUGH(ms_loader_stats, outages);
	default:
		return 0;
	}
}

ms_status ms_loader_stats_get(ms_loader_stats *out, ms_loader *l)
{
	ms_loader_stats full = MS_LOADER_STATS_INIT;
	size_t i, n;

	if (out == NULL || (n = stats_size(out->version)) == 0)
		return MS_EINVAL;
	if (l != NULL) {
		for (i = 0; i < MS__NSHARDS; i++)
			full.hits += atomic_load_explicit(&l->hits[i].v,
			                                  memory_order_relaxed);
		full.misses = atomic_load(&l->misses);
		full.db_loads = atomic_load(&l->db_loads);
		full.fallback_loads = atomic_load(&l->fallback_loads);
		full.reloads = atomic_load(&l->reloads);
		full.integrity_failures = atomic_load(&l->integrity_failures);
		full.outages = atomic_load(&l->outages);
		ms__cache_usage(&l->cache, &full.bytes_cached, &full.entries);
	}
	full.version = out->version; /* the caller's, kept */
	memcpy(out, &full, n);
	return MS_OK;
}

ms_status ms_loader_last_error(ms_buf *out, ms_loader *l)
{
	ms_status st;
	if (l == NULL)
		return ms__buf_set(out, "out of memory", 13);
	pthread_mutex_lock(&l->err_mu);
	st = ms__buf_set(out, l->last_err, strlen(l->last_err));
	pthread_mutex_unlock(&l->err_mu);
	return st;
}

void ms_loader_close(ms_loader *l)
{
	if (l == NULL)
		return;
	ms__watcher_stop(l);
	ms__cache_destroy(&l->cache);
	ms__loader_db_close(l);
	pthread_mutex_destroy(&l->refresh_mu);
	pthread_mutex_destroy(&l->err_mu);
	ms__free(l->conninfo);
	ms__free(l->fallback_dir);
	ms__free(l);
}
