/*
 * modelstore.h - the one public header of libmodelstore.
 *
 * libmodelstore keeps trained model binaries in PostgreSQL and serves them
 * to inference processes, with a filesystem fallback when the database
 * cannot be reached.
 *
 * Threading statement
 * -------------------
 * An `ms_store` is used by one thread at a time (it may move between
 * threads).  `ms_loader` lookups and `ms_predlog_log` are safe from any
 * thread.  `ms_model` is immutable; retain/release are atomic.  Every
 * function below carries a `Thread-safety:` line.
 *
 * Errors
 * ------
 * Every fallible function returns an `ms_status`.  `MS_OK` is 0; the other
 * codes are append-only and are never renumbered.  The human-readable
 * detail lives on the handle (`ms_store_errmsg`, `ms_loader_errmsg`, ...):
 * it is borrowed, and valid until the next call on that handle.  Messages
 * name the culprit and never contain a password.
 *
 * Ownership
 * ---------
 * A `const` pointer returned by a function is borrowed; its lifetime is
 * stated.  A pointer delivered through an `out` parameter is owned by the
 * caller and is released with the matching `ms_*_free`/`_close`/`_dispose`.
 * Nobody calls free() on library memory.  All free functions accept NULL.
 */
#ifndef MODELSTORE_H
#define MODELSTORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Version                                                             */
/* ------------------------------------------------------------------ */

#define MS_VERSION_MAJOR 0
#define MS_VERSION_MINOR 1
#define MS_VERSION_PATCH 0
#define MS_VERSION "0.1.0"
#define MS_VERSION_NUM                                                  \
	((MS_VERSION_MAJOR << 16) | (MS_VERSION_MINOR << 8) | MS_VERSION_PATCH)
#define MS_AT_LEAST_VERSION(x, y, z)                                    \
	(MS_VERSION_NUM >= (((x) << 16) | ((y) << 8) | (z)))

/* Feature macros, grouped by the release that introduced them. */
/* 0.1 */
#define MODELSTORE_HAS_CHUNKED_ARTIFACTS 1
#define MODELSTORE_HAS_LOADER 1
#define MODELSTORE_HAS_PREDLOG 1

#if defined(_WIN32)
#define MS_EXTERN(type) extern __declspec(dllexport) type
#elif defined(__GNUC__)
#define MS_EXTERN(type) extern __attribute__((visibility("default"))) type
#else
#define MS_EXTERN(type) extern type
#endif

/**
 * The library's version string, e.g. "0.1.0".  Static storage.
 * Thread-safety: safe.
 */
MS_EXTERN(const char *) ms_version(void);

/* ------------------------------------------------------------------ */
/* Status codes (append only, never renumbered)                        */
/* ------------------------------------------------------------------ */

typedef enum ms_status {
	MS_OK = 0,
	MS_ERROR = 1,        /**< anything not listed below */
	MS_EINVAL = 2,       /**< invalid argument or option */
	MS_ENOTFOUND = 3,    /**< no such model, version or file */
	MS_EEXISTS = 4,      /**< already exists / conflicting write */
	MS_EUNREACHABLE = 5, /**< database cannot be reached */
	MS_EINTEGRITY = 6,   /**< SHA-256 or framing mismatch */
	MS_EIO = 7,          /**< local file I/O failed */
	MS_ENOMEM = 8,       /**< out of memory */
	MS_ETIMEDOUT = 9,    /**< a deadline passed */
	MS_ESCHEMA = 10,     /**< schema missing, older or newer than known */
	MS_EFULL = 11        /**< queue and spool are full */
} ms_status;

/**
 * Static text describing a status code ("not found", ...).
 * Thread-safety: safe.
 */
MS_EXTERN(const char *) ms_status_str(ms_status status);

/* ------------------------------------------------------------------ */
/* Buffers and small shared types                                      */
/* ------------------------------------------------------------------ */

/** A string or byte buffer returned by the library. */
typedef struct ms_buf {
	char *ptr;   /**< NUL-terminated; owned by the buffer */
	size_t size; /**< bytes, excluding the terminating NUL */
} ms_buf;

#define MS_BUF_INIT { NULL, 0 }

/**
 * Free what @p buf points to and reset it to MS_BUF_INIT.  The struct
 * itself belongs to the caller.  Accepts NULL.
 * Thread-safety: safe on distinct buffers.
 */
MS_EXTERN(void) ms_buf_dispose(ms_buf *buf);

/** Limits of identifiers.  Longer values are rejected with MS_EINVAL. */
#define MS_NAME_MAX 128    /**< model and artifact names */
#define MS_VERSION_MAX 50  /**< model versions (seed: VARCHAR(50)) */
#define MS_TYPE_MAX 100    /**< model types (seed: VARCHAR(100)) */
#define MS_RUN_ID_MAX 255  /**< run ids (seed: VARCHAR(255)) */

/** The default model name. */
#define MS_DEFAULT_NAME "default"
/** The primary artifact of a version; the loader serves this one. */
#define MS_PRIMARY_ARTIFACT "model"

/**
 * Check a model or artifact name: 1..MS_NAME_MAX characters from
 * [A-Za-z0-9._-], not starting with '.' or '-'.  Names become directory
 * names in the fallback tree, hence the strict alphabet.
 * Returns MS_OK or MS_EINVAL.  Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_name_check(const char *name);

/**
 * Check a version string: 1..MS_VERSION_MAX characters from
 * [A-Za-z0-9._-], not starting with '.' or '-', and not one of the
 * selector words "production" and "latest".
 * Returns MS_OK or MS_EINVAL.  Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_version_check(const char *version);

/** Progress callback: @p done of @p total bytes (total 0 when unknown). */
typedef void (*ms_progress_fn)(void *payload, uint64_t done, uint64_t total);

/**
 * Sink for streamed artifact bytes.  Return MS_OK to continue; any other
 * status aborts the transfer and is returned by the caller.
 */
typedef ms_status (*ms_write_fn)(void *payload, const void *data, size_t len);

/* ------------------------------------------------------------------ */
/* Artifact metadata                                                   */
/* ------------------------------------------------------------------ */

/**
 * Metadata of one stored artifact, as read from `model_artifacts`.
 * Filled by the library; the strings are inline except the two JSON
 * documents, which ms_artifact_info_dispose() frees.
 */
typedef struct ms_artifact_info {
	int64_t id;
	char model_name[MS_NAME_MAX + 1];
	char model_version[MS_VERSION_MAX + 1];
	char artifact[MS_NAME_MAX + 1];
	char run_id[MS_RUN_ID_MAX + 1];
	char model_type[MS_TYPE_MAX + 1];
	char sha256[65];          /**< hex; "" when the row has no hash */
	char compression[16];     /**< "none" or "zlib" */
	char created_at[40];      /**< ISO 8601 as the server prints it */
	int64_t size;             /**< original (uncompressed) byte count */
	int64_t stored_size;      /**< bytes as stored */
	int32_t chunk_count;      /**< 0: bytes inline in model_binary */
	int is_production;
	double accuracy, rmse, r2; /**< NAN when NULL */
	char *metrics_json;       /**< owned; "{}" when none */
	char *params_json;        /**< owned; "{}" when none */
} ms_artifact_info;

/**
 * Free the JSON strings of @p info (not the struct).  Accepts NULL.
 * Thread-safety: safe on distinct structs.
 */
MS_EXTERN(void) ms_artifact_info_dispose(ms_artifact_info *info);

/**
 * Free an array returned by ms_store_list(), with its elements.
 * Accepts NULL.  Thread-safety: safe on distinct arrays.
 */
MS_EXTERN(void) ms_artifact_list_free(ms_artifact_info *list, size_t count);

/* ------------------------------------------------------------------ */
/* Store: a connection plus registry operations                         */
/* ------------------------------------------------------------------ */

typedef struct ms_store ms_store;

/** Options for ms_store_open().  Zero values mean defaults. */
typedef struct ms_store_options {
	unsigned int version;     /**< MS_STORE_OPTIONS_VERSION */
	/** Seconds per host and per resolved address; used only when the
	 *  connection string sets none.  0 means 2.  libpq 15 raises values
	 *  below 2 to 2. */
	int connect_timeout;
	/** Check the schema version on open (default 1; `migrate` sets 0). */
	int check_schema;
	/** Chunk size for large artifacts in bytes; 0 means the default
	 *  (MS_CHUNK_SIZE_DEFAULT).  Artifacts whose stored size is at most
	 *  this are kept inline in `model_binary`. */
	size_t chunk_size;
} ms_store_options;

#define MS_STORE_OPTIONS_VERSION 1
#define MS_STORE_OPTIONS_INIT { MS_STORE_OPTIONS_VERSION, 0, 1, 0 }
#define MS_CHUNK_SIZE_DEFAULT ((size_t)1 << 20)

/**
 * Initialise @p opts to the defaults of @p version.
 * Returns MS_EINVAL for an unknown version.  Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_store_options_init(ms_store_options *opts,
                                           unsigned int version);

/**
 * Connect to PostgreSQL.
 *
 * @param out      receives the handle, even on failure (NULL only on
 *                 MS_ENOMEM), so that ms_store_errmsg() can explain; the
 *                 caller always calls ms_store_close().
 * @param conninfo a libpq URL or key=value string, or NULL/"" for libpq's
 *                 environment (PGHOST, PGPORT, service files, .pgpass).
 *                 Passed to libpq as is (expand_dbname), plus
 *                 `connect_timeout` when it sets none and
 *                 `fallback_application_name=modelstore`.
 * @param opts     NULL for defaults.
 * @return MS_OK, MS_EUNREACHABLE (refused, unknown host, timeout,
 *         authentication failure), MS_ESCHEMA (schema older or newer than
 *         this library), MS_EINVAL, MS_ENOMEM.
 * Thread-safety: safe (creates a new handle).
 */
MS_EXTERN(ms_status) ms_store_open(ms_store **out, const char *conninfo,
                                   const ms_store_options *opts);

/** Close the connection and free the handle.  Accepts NULL. */
MS_EXTERN(void) ms_store_close(ms_store *store);

/**
 * The message of the last failure on @p store ("" when none).  Borrowed;
 * valid until the next call on @p store.  Never contains a password.
 * Thread-safety: same thread as the failing call.
 */
MS_EXTERN(const char *) ms_store_errmsg(const ms_store *store);

/**
 * SQLSTATE of the last server error on @p store ("" when none).
 * Borrowed, as ms_store_errmsg().
 */
MS_EXTERN(const char *) ms_store_sqlstate(const ms_store *store);

/**
 * "host:port/db" of the connection, for display.  Never the password.
 * Borrowed; valid until ms_store_close().
 */
MS_EXTERN(const char *) ms_store_target(const ms_store *store);

/**
 * Apply pending migrations in one transaction under an advisory lock.
 * Idempotent; concurrent callers serialise.  @p applied (may be NULL)
 * receives how many were applied.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_migrate(ms_store *store, int *applied);

/**
 * Schema version recorded in the database (0 when never migrated) and
 * the one this library knows.  Either out pointer may be NULL.
 */
MS_EXTERN(ms_status) ms_store_schema_version(ms_store *store, int *db_version,
                                             int *lib_version);

/** Where the bytes of one artifact of a push come from. */
typedef struct ms_artifact_source {
	/** Artifact name; NULL means MS_PRIMARY_ARTIFACT.  Each push must
	 *  include the primary artifact exactly once. */
	const char *name;
	/** A file to stream from, or NULL to use @p data/@p size. */
	const char *path;
	const void *data;
	uint64_t size;
} ms_artifact_source;

/** Options for ms_store_push(). */
typedef struct ms_push_options {
	unsigned int version;     /**< MS_PUSH_OPTIONS_VERSION */
	const char *model_name;   /**< NULL: "default" */
	const char *model_version;/**< NULL: generated YYYYMMDD_HHMMSS[_n] */
	const char *run_id;       /**< NULL: the version */
	const char *model_type;   /**< NULL: "unknown" */
	double accuracy, rmse, r2;/**< NAN: absent */
	const char *metrics_json; /**< object of extra metrics, or NULL */
	const char *params_json;  /**< object of params, or NULL */
	int production;           /**< promote in the same transaction */
	int compress_level;       /**< 0: store as is; 1..9: zlib level */
	const char *reason;       /**< promotion reason when production */
	ms_progress_fn progress;  /**< NULL: none */
	void *progress_payload;
} ms_push_options;

#define MS_PUSH_OPTIONS_VERSION 1
/* NAN is not a constant expression in every C mode: use the init
 * function, or set the three metrics yourself after this macro. */
#define MS_PUSH_OPTIONS_INIT { MS_PUSH_OPTIONS_VERSION, NULL, NULL, NULL, \
	NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, NULL }

/** Initialise @p opts (metrics set to NAN).  MS_EINVAL on bad version. */
MS_EXTERN(ms_status) ms_push_options_init(ms_push_options *opts,
                                          unsigned int version);

/**
 * Store @p count artifacts under one version, all or nothing.
 *
 * Bytes travel as binary (never hex text): small artifacts inline in
 * `model_binary`, larger ones streamed as chunk rows with COPY BINARY, in
 * constant memory.  SHA-256 of the original bytes is computed while
 * streaming.  On any failure the transaction is rolled back: no row and
 * no chunk remains.
 *
 * @param version_out receives the version (generated or given); may be
 *        NULL.  Dispose with ms_buf_dispose().
 * @return MS_OK, MS_EINVAL (bad name/version/JSON, no primary artifact),
 *         MS_ENOTFOUND / MS_EIO (source file), MS_EEXISTS (version
 *         already stored for this name), MS_EUNREACHABLE, MS_ENOMEM.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_push(ms_store *store, ms_buf *version_out,
                                   const ms_push_options *opts,
                                   const ms_artifact_source *sources,
                                   size_t count);

/**
 * Resolve @p selector ("production", "latest" or a version) for
 * @p model_name (NULL: "default") and fill @p out with the metadata of
 * @p artifact (NULL: the primary).  Dispose @p out with
 * ms_artifact_info_dispose() on any outcome.  MS_ENOTFOUND when nothing matches.
 */
MS_EXTERN(ms_status) ms_store_show(ms_store *store, ms_artifact_info *out,
                                   const char *model_name,
                                   const char *selector,
                                   const char *artifact);

/**
 * Stream the original bytes of an artifact to @p sink, decompressing
 * when needed, in bounded memory (one chunk at a time).  The SHA-256 is
 * checked at the end: on a mismatch MS_EINTEGRITY is returned and the
 * caller must discard what the sink received.  @p info (may be NULL)
 * receives the metadata; dispose it even on failure.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_pull(ms_store *store, ms_artifact_info *info,
                                   const char *model_name,
                                   const char *selector,
                                   const char *artifact, ms_write_fn sink,
                                   void *payload, ms_progress_fn progress,
                                   void *progress_payload);

/**
 * Pull into the file @p path: written to a temporary file beside it,
 * fsync'd, verified, then renamed.  Nothing appears at @p path unless the
 * SHA-256 matched.  MS_EEXISTS when @p path exists and @p overwrite is 0.
 * @p info (may be NULL) as for ms_store_pull(): dispose it on any outcome.
 */
MS_EXTERN(ms_status) ms_store_pull_file(ms_store *store,
                                        ms_artifact_info *info,
                                        const char *model_name,
                                        const char *selector,
                                        const char *artifact,
                                        const char *path, int overwrite,
                                        ms_progress_fn progress,
                                        void *progress_payload);

/**
 * List primary artifacts, newest first.  @p model_name NULL lists every
 * name; @p limit 0 means no limit.  Free with ms_artifact_list_free().
 */
MS_EXTERN(ms_status) ms_store_list(ms_store *store, ms_artifact_info **out,
                                   size_t *count, const char *model_name,
                                   size_t limit);

/**
 * Make @p model_version the production model of @p model_name.  The
 * database enforces one production model per name; concurrent promotions
 * serialise on an advisory lock.  Recorded in `model_promotions` with
 * @p reason (may be NULL) and notified to watching loaders.
 */
MS_EXTERN(ms_status) ms_store_promote(ms_store *store, const char *model_name,
                                      const char *model_version,
                                      const char *reason);

/**
 * Return production to the version that preceded the current one in the
 * promotion history.  @p version_out (may be NULL) receives it.
 * MS_ENOTFOUND when there is no earlier production version.
 */
MS_EXTERN(ms_status) ms_store_rollback(ms_store *store, ms_buf *version_out,
                                       const char *model_name,
                                       const char *reason);

/**
 * Delete all but the @p keep newest versions of @p model_name, never the
 * production version.  @p deleted_out (may be NULL) receives a JSON array
 * of the versions deleted (or that would be, with @p dry_run).
 */
MS_EXTERN(ms_status) ms_store_prune(ms_store *store, ms_buf *deleted_out,
                                    const char *model_name, unsigned keep,
                                    int dry_run);

/**
 * Report byte progress of ms_store_verify() and ms_store_backfill_hashes()
 * (over all the artifacts they read) to @p fn; NULL turns it off.  The
 * other operations take their own progress argument.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(void) ms_store_set_progress(ms_store *store, ms_progress_fn fn,
                                      void *payload);

/** Called by ms_store_verify() once per artifact checked. */
typedef void (*ms_verify_fn)(void *payload, const ms_artifact_info *info,
                             ms_status result, const char *actual_sha256);

/**
 * Re-hash every artifact (of @p model_name, or all when NULL), streaming.
 * Rows without a hash are reported with MS_OK and actual_sha256 set.
 * Returns MS_EINTEGRITY when any mismatched, after checking them all.
 */
MS_EXTERN(ms_status) ms_store_verify(ms_store *store, const char *model_name,
                                     ms_verify_fn cb, void *payload,
                                     size_t *checked, size_t *bad);

/**
 * Compute and record the SHA-256 of every artifact that has none (rows
 * written the seed's way), streaming each one.  Only rows whose hash is
 * still NULL are updated, so concurrent runs are harmless.  @p updated
 * (may be NULL) receives how many rows got a hash.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_backfill_hashes(ms_store *store,
                                              const char *model_name,
                                              size_t *updated);

/**
 * Write the artifact selected by @p selector as `model.bin` plus the
 * sidecar `model.json` under @p dir (the fallback layout: dir/production/
 * model.bin for "default", dir/production/<name>/model.bin otherwise),
 * atomically: temp file (O_EXCL, no symlinks followed), fsync, rename,
 * fsync of the directory.  @p info (may be NULL) receives the metadata,
 * with the SHA-256 computed during the export when the row had none;
 * dispose it on any outcome.
 */
MS_EXTERN(ms_status) ms_store_export(ms_store *store, ms_artifact_info *info,
                                     const char *model_name,
                                     const char *selector, const char *dir,
                                     ms_progress_fn progress,
                                     void *progress_payload);

/**
 * Write @p len bytes to the file @p path atomically, the way
 * ms_store_export() writes: a temporary file beside @p path (O_EXCL, no
 * symlinks followed), fsync, rename over @p path, fsync of the directory.
 * Readers see the old file or the new one, never a partial one; on
 * failure the temporary file is removed and @p path is untouched.
 *
 * @param errmsg_out receives the message on failure (naming the file);
 *                   untouched on success.  May be NULL.  Dispose it with
 *                   ms_buf_dispose().
 * @param path       the file to write.  Its directory must exist.
 * @param data       the bytes; may be NULL when @p len is 0.
 * @param len        how many bytes.
 * @param overwrite  0: fail with MS_EEXISTS when @p path exists (also when
 *                   it appears during the write); 1: replace it.
 * @return MS_OK; MS_EINVAL (NULL or empty @p path, NULL @p data with a
 *         length, path too long); MS_EEXISTS (@p path exists and
 *         @p overwrite is 0); MS_ENOTFOUND (the directory does not exist);
 *         MS_EIO (cannot create, write, fsync or rename; @p path is a
 *         directory or a symbolic link); MS_ENOMEM.
 * Thread-safety: safe; concurrent writers of one path each replace it
 * whole, the last rename wins.
 */
MS_EXTERN(ms_status) ms_file_write_atomic(ms_buf *errmsg_out,
                                          const char *path, const void *data,
                                          size_t len, int overwrite);

/**
 * Attach an actual value to a logged prediction (by its UUID).
 * MS_ENOTFOUND when no prediction has that id.
 */
MS_EXTERN(ms_status) ms_store_record_actual(ms_store *store,
                                            const char *prediction_id,
                                            double actual_value);

/**
 * Per model name and version, the metrics stored at push time next to
 * what the logged predictions say, and the last 20 promotions, read from
 * the monitoring views (`model_version_performance`,
 * `model_promotion_history`) as one JSON document:
 *
 *     {"versions": [{"model_name", "model_version", "is_production",
 *                    "model_type", "model_size_bytes", "accuracy_score",
 *                    "rmse_score", "r2_score", "created_at",
 *                    "prediction_count", "predictions_with_actual",
 *                    "mean_absolute_error", "rmse", "avg_prediction",
 *                    "avg_confidence", "first_prediction_at",
 *                    "last_prediction_at"}, ...],
 *      "promotions": [{"promoted_at", "model_name", "action",
 *                      "from_version", "to_version", "to_model_type",
 *                      "reason", "promoted_by"}, ...]}
 *
 * Versions are ordered by name, then newest first; promotions newest
 * first.  Keys appear in that order.  Types: is_production a boolean,
 * sizes and counts integers, scores and averages numbers, the rest
 * strings (times as "YYYY-MM-DDTHH:MM:SS", server time); any value may be
 * null (a figure with no predictions or no actuals yet, a non-finite
 * number).
 *
 * @param out        receives the document (UTF-8, compact).  Dispose it
 *                   with ms_buf_dispose() after MS_OK.
 * @param store      an open store.
 * @param model_name only this model name; NULL for every name.
 * @param since      NULL for all time, or the decimal text of a number of
 *                   days, "0" to "36500": prediction figures and
 *                   promotions of that window only (versions are listed
 *                   whatever their activity).
 * @return MS_OK; MS_EINVAL (NULL @p store or @p out, invalid
 *         @p model_name or @p since, or a figure the server could not
 *         compute, e.g. an overflow); MS_EUNREACHABLE; MS_ESCHEMA (the
 *         views are missing: migrate); MS_ENOMEM; MS_ERROR (any other
 *         server error, e.g. permission denied).  The message is in
 *         ms_store_errmsg().
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_report(ms_buf *out, ms_store *store,
                                     const char *model_name,
                                     const char *since);

/* ------------------------------------------------------------------ */
/* Model handles                                                       */
/* ------------------------------------------------------------------ */

typedef struct ms_model ms_model;

typedef enum ms_source {
	MS_SOURCE_DATABASE = 0, /**< fetched from PostgreSQL by this call */
	MS_SOURCE_CACHE = 1,    /**< served from the loader's cache */
	MS_SOURCE_FALLBACK = 2  /**< read from the fallback directory */
} ms_source;

/** "database", "cache" or "fallback".  Static text. */
MS_EXTERN(const char *) ms_source_str(ms_source source);

/*
 * Accessors.  The returned pointers are borrowed from the handle and
 * valid until its last ms_model_release().  The bytes are held in one
 * buffer (for artifacts above 64 MiB backed by huge pages when the kernel
 * allows).  Thread-safety: safe (the handle is immutable).
 */
MS_EXTERN(const void *) ms_model_data(const ms_model *m);
MS_EXTERN(uint64_t) ms_model_size(const ms_model *m);
MS_EXTERN(const char *) ms_model_name(const ms_model *m);
MS_EXTERN(const char *) ms_model_version(const ms_model *m);
MS_EXTERN(const char *) ms_model_type(const ms_model *m);
MS_EXTERN(const char *) ms_model_metrics_json(const ms_model *m);
/** Hex SHA-256 of the bytes (always computed; "" never). */
MS_EXTERN(const char *) ms_model_sha256(const ms_model *m);
/** Where the bytes came from when the handle was created. */
MS_EXTERN(ms_source) ms_model_source(const ms_model *m);
/** 1 when the bytes matched a recorded SHA-256, 0 when none existed. */
MS_EXTERN(int) ms_model_verified(const ms_model *m);

/** Take a reference; returns @p m.  Atomic. */
MS_EXTERN(ms_model *) ms_model_retain(ms_model *m);
/** Drop a reference; the last one frees.  Accepts NULL.  Atomic. */
MS_EXTERN(void) ms_model_release(ms_model *m);

/* ------------------------------------------------------------------ */
/* Loader: cache + fallback + hot reload                               */
/* ------------------------------------------------------------------ */

typedef struct ms_loader ms_loader;

typedef enum ms_watch_mode {
	MS_WATCH_OFF = 0,    /**< production is resolved once, then cached */
	MS_WATCH_NOTIFY = 1, /**< LISTEN for promotions (plus re-check on
	                          every reconnect) */
	MS_WATCH_POLL = 2    /**< poll the production pointer */
} ms_watch_mode;

/** Called from the watcher thread when a production model changes. */
typedef void (*ms_change_fn)(void *payload, const char *model_name,
                             const char *model_version);

typedef struct ms_loader_options {
	unsigned int version;      /**< MS_LOADER_OPTIONS_VERSION */
	const char *fallback_dir;  /**< NULL: "models" */
	uint64_t cache_bytes;      /**< 0: 4 GiB */
	int refresh_fallback;      /**< rewrite the fallback copy after each
	                                database load of a production model */
	ms_watch_mode watch;
	unsigned poll_interval_ms; /**< MS_WATCH_POLL; 0: 1000 */
	int connect_timeout;       /**< seconds; 0: 2 */
	ms_change_fn on_change;    /**< may be NULL */
	void *change_payload;
} ms_loader_options;

#define MS_LOADER_OPTIONS_VERSION 1
#define MS_LOADER_OPTIONS_INIT { MS_LOADER_OPTIONS_VERSION, NULL, 0, 0, \
	MS_WATCH_OFF, 0, 0, NULL, NULL }

MS_EXTERN(ms_status) ms_loader_options_init(ms_loader_options *opts,
                                            unsigned int version);

/**
 * Create a loader.  Does not need the database to be up: the connection
 * is made on first use and re-made after failures.  @p out receives the
 * handle even on failure (NULL only on MS_ENOMEM); always close it.
 * Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_loader_open(ms_loader **out, const char *conninfo,
                                    const ms_loader_options *opts);

/**
 * Get a model: @p selector is "production", "latest" or a version;
 * @p model_name NULL means "default".  A cached hit takes a reference and
 * copies no bytes.  When the database cannot be reached, "production"
 * falls back to the fallback directory.  The caller owns one reference
 * in @p out and releases it with ms_model_release().
 * @return MS_OK, MS_ENOTFOUND, MS_EINTEGRITY (bytes did not match their
 *         SHA-256: never served), MS_EUNREACHABLE (no database and no
 *         fallback file), MS_EINVAL, MS_ENOMEM.
 * Thread-safety: safe from any thread.
 */
MS_EXTERN(ms_status) ms_loader_get(ms_loader *loader, ms_model **out,
                                   const char *model_name,
                                   const char *selector);

/**
 * Load the production model of every model name into the cache.
 * @p loaded (may be NULL) receives how many.  Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_loader_preload(ms_loader *loader, size_t *loaded);

typedef struct ms_loader_stats {
	uint64_t hits, misses, db_loads, fallback_loads, reloads;
	uint64_t bytes_cached, entries;
	uint64_t integrity_failures, outages;
} ms_loader_stats;

/** Snapshot the counters.  Thread-safety: safe. */
MS_EXTERN(void) ms_loader_stats_get(ms_loader *loader, ms_loader_stats *out);

/**
 * Copy the last error message of the loader into @p out (dispose it).
 * Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_loader_last_error(ms_loader *loader, ms_buf *out);

/** Stop the watcher, drop the cache (handles stay valid), free. */
MS_EXTERN(void) ms_loader_close(ms_loader *loader);

/* ------------------------------------------------------------------ */
/* Prediction logger                                                   */
/* ------------------------------------------------------------------ */

typedef struct ms_predlog ms_predlog;

typedef struct ms_predlog_options {
	unsigned int version;      /**< MS_PREDLOG_OPTIONS_VERSION */
	const char *spool_dir;     /**< NULL: "spool" */
	size_t queue_capacity;     /**< rows; 0: 65536 */
	size_t batch_size;         /**< rows per write; 0: 5000 */
	unsigned flush_interval_ms;/**< 0: 200 */
	uint64_t spool_max_bytes;  /**< 0: 1 GiB */
	int connect_timeout;       /**< seconds; 0: 2 */
} ms_predlog_options;

#define MS_PREDLOG_OPTIONS_VERSION 1
#define MS_PREDLOG_OPTIONS_INIT { MS_PREDLOG_OPTIONS_VERSION, NULL, 0, 0, \
	0, 0, 0 }

MS_EXTERN(ms_status) ms_predlog_options_init(ms_predlog_options *opts,
                                             unsigned int version);

/** One prediction.  Strings are copied by ms_predlog_log(). */
typedef struct ms_prediction {
	const char *model_name;      /**< NULL: "default" */
	const char *model_version;   /**< required */
	const char *input_features;  /**< JSON text, required */
	double predicted_value;
	double confidence_score;     /**< NAN: NULL */
	double actual_value;         /**< NAN: NULL */
} ms_prediction;

/** Length of a textual UUID plus NUL. */
#define MS_UUID_STRLEN 37

/**
 * Open a logger: starts the writer thread and replays any spool left in
 * the spool directory.  Does not need the database to be up.
 */
MS_EXTERN(ms_status) ms_predlog_open(ms_predlog **out, const char *conninfo,
                                     const ms_predlog_options *opts);

/**
 * Queue one prediction; never touches the network.  @p id_out (may be
 * NULL) receives the prediction's UUIDv7.  MS_EINVAL for invalid JSON or
 * missing version; MS_EFULL when queue and spool are both full.
 * Thread-safety: safe from any thread.
 */
MS_EXTERN(ms_status) ms_predlog_log(ms_predlog *log, char id_out[MS_UUID_STRLEN],
                                    const ms_prediction *p);

/** Wait until everything queued so far is in the database or spooled. */
MS_EXTERN(ms_status) ms_predlog_flush(ms_predlog *log, unsigned timeout_ms);

typedef struct ms_predlog_stats {
	uint64_t accepted, written, spooled, replayed, rejected, dropped_full;
	uint64_t spool_corrupt, batches, retries;
} ms_predlog_stats;

MS_EXTERN(void) ms_predlog_stats_get(ms_predlog *log, ms_predlog_stats *out);

/** Copy the last error into @p out.  Thread-safety: safe. */
MS_EXTERN(ms_status) ms_predlog_last_error(ms_predlog *log, ms_buf *out);

/**
 * Flush, spool what cannot reach the database, stop the thread, free.
 * Returns MS_OK when nothing was lost (spooled counts as kept).
 */
MS_EXTERN(ms_status) ms_predlog_close(ms_predlog *log);

#ifdef __cplusplus
}
#endif

#endif /* MODELSTORE_H */
