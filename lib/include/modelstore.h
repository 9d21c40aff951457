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
 * thread.  `ms_model` is immutable; retain/release are atomic.  No
 * `_close` may run while another call on the same handle is in progress.
 * Every function below carries a `Thread-safety:` line.
 *
 * Errors
 * ------
 * Every fallible function returns an `ms_status`.  `MS_OK` is 0; the other
 * codes are append-only and are never renumbered.  The human-readable
 * detail of a store's last failure is `ms_store_errmsg()`: borrowed, and
 * valid until the next call on that store.  A loader or a prediction
 * logger keeps the last message recorded by any of its threads, its
 * background thread included; `ms_loader_last_error()` and
 * `ms_predlog_last_error()` copy it into an `ms_buf`.  Messages name the
 * culprit and never contain a password.
 *
 * A failure reported by the server maps to a status by its SQLSTATE:
 * connection lost or refused (class 08, or 57P0x) is MS_EUNREACHABLE,
 * unique violation (23505) MS_EEXISTS, data exception (class 22)
 * MS_EINVAL, undefined table or column (42P01, 42703) MS_ESCHEMA, and
 * anything else MS_ERROR.  `ms_store_sqlstate()` gives the code.
 *
 * Ownership
 * ---------
 * A `const` pointer returned by a function is borrowed; its lifetime is
 * stated.  A pointer delivered through an `out` parameter is owned by the
 * caller and is released with the matching `ms_*_free`/`_close`/`_dispose`.
 * An `ms_buf` passed to receive a string must be initialised (MS_BUF_INIT
 * or an earlier result): what it held is freed when it is replaced.
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
/* 0.2 */
#define MODELSTORE_HAS_RUNS 1
#define MODELSTORE_HAS_ALIASES 1

/*
 * MS_EXTERN(type) marks a public function.  On Windows the library's own
 * build defines MS_BUILDING_LIBRARY and exports the symbols; everyone
 * else imports them, except programs linking the static library, which
 * define MS_STATIC (the CMake target modelstore::modelstore_static does
 * it for them).  With GCC and Clang the library is built with
 * -fvisibility=hidden and only these symbols are visible.
 */
#if defined(_WIN32) && defined(MS_STATIC)
#define MS_EXTERN(type) extern type
#elif defined(_WIN32)
#if defined(MS_BUILDING_LIBRARY)
#define MS_EXTERN(type) extern __declspec(dllexport) type
#else
#define MS_EXTERN(type) extern __declspec(dllimport) type
#endif
#elif defined(__GNUC__)
#define MS_EXTERN(type) extern __attribute__((visibility("default"))) type
#else
#define MS_EXTERN(type) extern type
#endif

/**
 * The library's version string, e.g. "0.1.0".
 *
 * @return MS_VERSION of the library that is running (which may differ
 *         from the header compiled against); static storage.
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
	MS_EUNREACHABLE = 5, /**< database cannot be reached (a connect
	                          timeout is this, not MS_ETIMEDOUT) */
	MS_EINTEGRITY = 6,   /**< SHA-256, size or framing mismatch */
	MS_EIO = 7,          /**< local file I/O failed */
	MS_ENOMEM = 8,       /**< out of memory */
	MS_ETIMEDOUT = 9,    /**< a caller's deadline passed
	                          (ms_predlog_flush) */
	MS_ESCHEMA = 10,     /**< schema missing, older or newer than known */
	MS_EFULL = 11        /**< queue and spool are full, or rows were
	                          dropped at close */
} ms_status;

/**
 * Static text describing a status code ("not found", ...).
 *
 * @param status any value; one outside the enum gives "unknown status".
 * @return static text, never NULL.
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
 * Free what a buffer points to and reset it to MS_BUF_INIT.
 *
 * @param buf the buffer (borrowed; the struct itself belongs to the
 *            caller and is not freed).  NULL is accepted and ignored.
 * Thread-safety: safe on distinct buffers.
 */
MS_EXTERN(void) ms_buf_dispose(ms_buf *buf);

/** Limits of identifiers.  Longer values are rejected with MS_EINVAL. */
#define MS_NAME_MAX 128    /**< model and artifact names */
#define MS_VERSION_MAX 50  /**< model versions (seed: VARCHAR(50)) */
#define MS_TYPE_MAX 100    /**< model types (seed: VARCHAR(100)) */
#define MS_RUN_ID_MAX 255  /**< run ids (seed: VARCHAR(255)) */
#define MS_ALIAS_MAX 50    /**< alias names (as long as a version) */
#define MS_METRIC_MAX 128  /**< metric names */

/** The default model name. */
#define MS_DEFAULT_NAME "default"
/** The primary artifact of a version; the loader serves this one. */
#define MS_PRIMARY_ARTIFACT "model"

/**
 * Check a model or artifact name.
 *
 * A valid name is 1..MS_NAME_MAX characters from [A-Za-z0-9._-], not
 * starting with '.' or '-'.  Names become directory names in the
 * fallback tree, hence the strict alphabet.
 *
 * @param name the name (borrowed); NULL is invalid.
 * @return MS_OK when valid; MS_EINVAL otherwise (no message is kept).
 * Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_name_check(const char *name);

/**
 * Check a model version string (ms_version() is the library's own).
 *
 * A valid version is 1..MS_VERSION_MAX characters from [A-Za-z0-9._-],
 * not starting with '.' or '-', and not one of the selector words
 * "production" and "latest".
 *
 * @param version the version (borrowed); NULL is invalid.
 * @return MS_OK when valid; MS_EINVAL otherwise (no message is kept).
 * Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_model_version_check(const char *version);

/**
 * Check an alias name.
 *
 * A valid alias has the alphabet of a version (1..MS_ALIAS_MAX
 * characters from [A-Za-z0-9._-], not starting with '.' or '-') and is
 * none of the reserved words "production", "latest" and "previous".
 * Wherever a selector is taken, "@ALIAS" selects the version an alias
 * points to.
 *
 * @param alias the alias, without '@' (borrowed); NULL is invalid.
 * @return MS_OK when valid; MS_EINVAL otherwise (no message is kept).
 * Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_alias_check(const char *alias);

/**
 * Check a metric name.
 *
 * A valid metric name is 1..MS_METRIC_MAX characters from
 * [A-Za-z0-9_.-/], starting with a letter or '_' ("val/loss",
 * "f1.macro").  The names that runs log and `--where` compares use it.
 *
 * @param metric the name (borrowed); NULL is invalid.
 * @return MS_OK when valid; MS_EINVAL otherwise (no message is kept).
 * Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_metric_name_check(const char *metric);

/**
 * Progress callback, called on the thread of the operation that reports.
 *
 * @param payload the pointer given with the callback.
 * @param done    bytes moved so far.
 * @param total   bytes expected; 0 when unknown.  Each operation says
 *                which bytes it counts.
 */
typedef void (*ms_progress_fn)(void *payload, uint64_t done, uint64_t total);

/**
 * Sink for streamed artifact bytes, called on the streaming thread.
 *
 * @param payload the pointer given with the sink.
 * @param data    the next bytes (borrowed, valid during the call only).
 * @param len     their count; never 0.
 * @return MS_OK to continue; any other status aborts the transfer and is
 *         returned by the function that streams.
 */
typedef ms_status (*ms_write_fn)(void *payload, const void *data, size_t len);

/* ------------------------------------------------------------------ */
/* Artifact metadata                                                   */
/* ------------------------------------------------------------------ */

/**
 * Metadata of one stored artifact, as read from `model_artifacts`.
 * Filled by the library; the strings are inline except the two JSON
 * documents, which ms_artifact_info_dispose() frees.  Text columns that
 * are NULL in the row read as "".
 *
 * A caller's struct starts as MS_ARTIFACT_INFO_INIT: the functions that
 * fill it check `version` (an unknown one is MS_EINVAL) and fill only
 * the fields of that version.  Fields are only ever appended.
 */
typedef struct ms_artifact_info {
	unsigned int version;     /**< MS_ARTIFACT_INFO_VERSION */
	int64_t id;               /**< model_artifacts.id */
	char model_name[MS_NAME_MAX + 1];
	char model_version[MS_VERSION_MAX + 1];
	char artifact[MS_NAME_MAX + 1];   /**< "model" for the primary */
	char run_id[MS_RUN_ID_MAX + 1];
	char model_type[MS_TYPE_MAX + 1];
	char sha256[65];          /**< lowercase hex of the original bytes;
	                               "" when the row has no hash */
	char compression[16];     /**< "none" or "zlib" */
	char created_at[40];      /**< "YYYY-MM-DDTHH:MM:SSZ", UTC, no
	                               fraction (the column is a TIMESTAMP
	                               without time zone in the server's
	                               TimeZone, converted by the server) */
	int64_t size;             /**< original (uncompressed) byte count;
	                               -1 when the row records none (a pull
	                               or export sets it to the bytes read) */
	int64_t stored_size;      /**< bytes as stored; `size` when the row
	                               records none; -1 when neither is */
	int32_t chunk_count;      /**< 0: bytes inline in model_binary */
	int is_production;        /**< 1 for the production version, else 0 */
	double accuracy, rmse, r2; /**< NAN when NULL */
	char *metrics_json;       /**< owned; "{}" when none */
	char *params_json;        /**< owned; "{}" when none */
} ms_artifact_info;

#define MS_ARTIFACT_INFO_VERSION 1
#define MS_ARTIFACT_INFO_INIT { MS_ARTIFACT_INFO_VERSION, 0, "", "", "", \
	"", "", "", "", "", 0, 0, 0, 0, 0, 0, 0, NULL, NULL }

/**
 * Free the two JSON strings of an artifact info, not the struct.
 *
 * @param info the struct (borrowed; it belongs to the caller); its JSON
 *             pointers are set to NULL, so disposing twice is harmless.
 *             NULL, or a struct whose version is unknown, is ignored.
 * Thread-safety: safe on distinct structs.
 */
MS_EXTERN(void) ms_artifact_info_dispose(ms_artifact_info *info);

/**
 * The artifacts listed by ms_store_list(): opaque, so that a caller
 * compiled against an older, smaller ms_artifact_info never indexes an
 * array with the wrong stride.  Read it with ms_artifact_list_count()
 * and ms_artifact_list_get().
 */
typedef struct ms_artifact_list ms_artifact_list;

/**
 * The number of artifacts in a list.
 *
 * @param list the list; NULL gives 0.
 * @return the count.
 * Thread-safety: safe (the list is not changed after ms_store_list()).
 */
MS_EXTERN(size_t) ms_artifact_list_count(const ms_artifact_list *list);

/**
 * One artifact of a list.
 *
 * @param list the list; NULL gives NULL.
 * @param i    the index, from 0 to ms_artifact_list_count() - 1.
 * @return the artifact's metadata, of the library's
 *         MS_ARTIFACT_INFO_VERSION (at least the caller's: fields are only
 *         appended); NULL when @p i is out of range.  Borrowed; valid until
 *         ms_artifact_list_free() of @p list.  Do not dispose it.
 * Thread-safety: safe (the list is not changed after ms_store_list()).
 */
MS_EXTERN(const ms_artifact_info *) ms_artifact_list_get(
	const ms_artifact_list *list, size_t i);

/**
 * Free a list returned by ms_store_list(), with its artifacts.
 *
 * @param list the list (owned by the caller; freed here).  NULL is
 *             accepted and ignored.
 * Thread-safety: not while another thread reads @p list.
 */
MS_EXTERN(void) ms_artifact_list_free(ms_artifact_list *list);

/* ------------------------------------------------------------------ */
/* Store: a connection plus registry operations                         */
/* ------------------------------------------------------------------ */

typedef struct ms_store ms_store;

/**
 * Options for ms_store_open().  Initialise with MS_STORE_OPTIONS_INIT or
 * ms_store_options_init(), which set check_schema to 1; in a struct
 * zeroed any other way, check_schema 0 turns the check off.  The other
 * fields mean "default" when 0.
 */
typedef struct ms_store_options {
	unsigned int version;     /**< MS_STORE_OPTIONS_VERSION */
	/** Seconds per host and per resolved address; 0 or negative means
	 *  2.  Used only when neither the connection string nor
	 *  PGCONNECT_TIMEOUT sets a connect_timeout.  libpq 15 raises values
	 *  below 2 to 2. */
	int connect_timeout;
	/** Non-zero: ms_store_open() fails with MS_ESCHEMA unless this
	 *  library can use the database's schema (see
	 *  ms_store_schema_check()).  0: no check (what ms_store_migrate()
	 *  callers need). */
	int check_schema;
	/** Chunk size for large artifacts, in bytes: 1 KiB to 256 MiB, or 0
	 *  for MS_CHUNK_SIZE_DEFAULT (1 MiB).  An artifact whose stored size
	 *  is at most this is kept inline in `model_binary`.  The store keeps
	 *  one buffer of this size for its pushes. */
	size_t chunk_size;
	/* --- version 2 --- */
	/** Deadline of each statement, in milliseconds (of each row, for a
	 *  streamed read): when the server has not answered by then (busy,
	 *  or waiting for a lock another session holds), the statement is
	 *  canceled and the call fails with MS_ETIMEDOUT (or
	 *  MS_EUNREACHABLE when the server does not even answer the cancel
	 *  within a second).  Enforced on the client, so it works through
	 *  PgBouncer and on standbys.  0 or negative: no deadline (the
	 *  version 1 behaviour).  Migrations are not bounded. */
	int query_timeout_ms;
} ms_store_options;

#define MS_STORE_OPTIONS_VERSION 2
#define MS_STORE_OPTIONS_INIT { MS_STORE_OPTIONS_VERSION, 0, 1, 0, 0 }
#define MS_CHUNK_SIZE_DEFAULT ((size_t)1 << 20)

/**
 * Initialise store options to the defaults of a version.
 *
 * @param opts    the struct to fill (borrowed); must not be NULL.
 * @param version MS_STORE_OPTIONS_VERSION, or 1 for a struct compiled
 *                against an older header (only its fields are written).
 * @return MS_OK; MS_EINVAL when @p opts is NULL or @p version is unknown.
 * Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_store_options_init(ms_store_options *opts,
                                           unsigned int version);

/**
 * Connect to PostgreSQL.
 *
 * @param out      receives the handle, owned by the caller, even on
 *                 failure, so that ms_store_errmsg() can explain; the
 *                 caller always calls ms_store_close().  It is NULL only
 *                 on MS_ENOMEM, or when @p out itself is NULL (then
 *                 MS_EINVAL and nothing is allocated).
 * @param conninfo a libpq URL ("postgresql://...") or key=value string
 *                 (borrowed, not kept).  It is parsed first: a malformed
 *                 string fails with MS_EINVAL before any network I/O, as
 *                 does a plain word (it is not taken as a database
 *                 name).  It then goes to libpq as the expanded dbname,
 *                 after our defaults, so anything it sets wins: our
 *                 defaults are connect_timeout (see the options; none
 *                 when PGCONNECT_TIMEOUT is set),
 *                 fallback_application_name=modelstore,
 *                 keepalives_idle=10, keepalives_interval=5,
 *                 keepalives_count=2 and tcp_user_timeout=10000.
 *                 NULL means $DATABASE_URL when it is set and not
 *                 empty; otherwise (and for "") no string is passed, so
 *                 libpq takes everything from its environment (PGHOST,
 *                 PGPORT, PGDATABASE, PGUSER, PGSERVICE, .pgpass, ...)
 *                 and its compiled defaults.
 * @param opts     options (borrowed, not kept); NULL for the defaults of
 *                 MS_STORE_OPTIONS_INIT.
 * @return
 *   - MS_OK: connected (and, with check_schema, this library can use
 *     the schema);
 *   - MS_EINVAL: @p out is NULL, unknown options version, chunk_size out
 *     of range, or a malformed connection string or unknown service;
 *   - MS_EUNREACHABLE: connection refused, unknown host, timeout,
 *     authentication failure, no such database, or (with check_schema)
 *     the connection was lost;
 *   - MS_ESCHEMA: with check_schema, as ms_store_schema_check();
 *   - MS_ERROR: with check_schema, the schema query failed otherwise;
 *   - MS_ENOMEM: no handle could be allocated.
 * Thread-safety: safe (creates a new handle).
 */
MS_EXTERN(ms_status) ms_store_open(ms_store **out, const char *conninfo,
                                   const ms_store_options *opts);

/**
 * Close the connection and free the handle.
 *
 * @param store the handle (owned by the caller; freed here).  NULL is
 *              accepted and ignored.  Strings borrowed from it become
 *              invalid.
 * Thread-safety: not while another call on @p store runs.
 */
MS_EXTERN(void) ms_store_close(ms_store *store);

/**
 * The message of the last failure on a store.
 *
 * @param store the handle; NULL (what ms_store_open() leaves on
 *              MS_ENOMEM) gives "out of memory".
 * @return the message, "" after a call that succeeded.  Borrowed; valid
 *         until the next call on @p store.  Never contains a password.
 * Thread-safety: on the thread using @p store, before its next call.
 */
MS_EXTERN(const char *) ms_store_errmsg(const ms_store *store);

/**
 * The SQLSTATE of the last failure on a store, when the server gave one.
 *
 * @param store the handle; NULL gives "".
 * @return five characters, or "" when the last failure did not come from
 *         the server.  Borrowed; valid until the next call on @p store.
 * Thread-safety: on the thread using @p store, before its next call.
 */
MS_EXTERN(const char *) ms_store_sqlstate(const ms_store *store);

/**
 * Where a store is connected, for display.
 *
 * @param store the handle; NULL gives "".
 * @return "host:port/db", or "\"socket dir\" port P db D" for a Unix
 *         socket, from libpq's view of the connection; never the
 *         password.  Set by ms_store_open(), best effort when it failed.
 *         Borrowed; valid until ms_store_close().
 * Thread-safety: safe once ms_store_open() has returned.
 */
MS_EXTERN(const char *) ms_store_target(const ms_store *store);

/**
 * Apply pending schema migrations.
 *
 * All pending migrations run in one transaction under an advisory lock:
 * idempotent, and concurrent callers serialise.  Open the store with
 * check_schema 0 to migrate a database that is behind.
 *
 * @param applied receives how many migrations were applied (0 on
 *                failure); may be NULL.
 * @param store   the handle.
 * @return
 *   - MS_OK: every migration this library knows is applied;
 *   - MS_EINVAL: @p store is NULL;
 *   - MS_EUNREACHABLE: not connected, or the connection was lost;
 *   - MS_ESCHEMA: the database has a breaking migration this library
 *     does not know (see ms_store_schema_check()); nothing was applied;
 *   - MS_ERROR, or the status of the failure's SQLSTATE (see Errors
 *     above): a migration failed on the server (e.g. permission
 *     denied); nothing was applied.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_migrate(int *applied, ms_store *store);

/**
 * Whether this library can use the database's schema: what
 * ms_store_open() checks unless check_schema is 0.
 *
 * Each migration is either breaking (libraries that do not know it
 * cannot use a database that has it) or compatible, and either needed
 * by the library that carries it or optional (docs/schema.md,
 * "Migrations and version checks").  The schema is usable when the
 * database has no breaking migration this library does not know and
 * every migration this library needs; compatible migrations ahead and
 * optional ones pending are fine.  One statement.
 *
 * @param store the handle.
 * @return
 *   - MS_OK: usable;
 *   - MS_EINVAL: @p store is NULL;
 *   - MS_EUNREACHABLE: not connected, or the connection was lost;
 *   - MS_ESCHEMA: no schema, or one that lacks a migration this library
 *     needs (the message names it: run ms_store_migrate()), or one with
 *     a breaking migration this library does not know (upgrade the
 *     library); the message says which;
 *   - MS_ERROR: the query failed on the server otherwise.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_schema_check(ms_store *store);

/**
 * The schema version recorded in the database and the one this library
 * knows.
 *
 * @param db_version  receives the database's version, 0 when it was
 *                    never migrated; set only on MS_OK; may be NULL.
 * @param lib_version receives this library's version (set even when the
 *                    query fails, unless @p store is NULL or not
 *                    connected); may be NULL.
 * @param store       the handle.
 * @return
 *   - MS_OK;
 *   - MS_EINVAL: @p store is NULL;
 *   - MS_EUNREACHABLE: not connected, or the connection was lost;
 *   - MS_ERROR: the query failed on the server.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_schema_version(int *db_version,
                                             int *lib_version,
                                             ms_store *store);

/** Where the bytes of one artifact of a push come from. */
typedef struct ms_artifact_source {
	/** Artifact name; NULL means MS_PRIMARY_ARTIFACT.  Each push must
	 *  include the primary artifact exactly once. */
	const char *name;
	/** A file to stream from (opened read-only, read once, never held
	 *  whole in memory), or NULL to use @p data/@p size. */
	const char *path;
	/** The bytes when @p path is NULL (borrowed, never copied whole);
	 *  may be NULL only when @p size is 0. */
	const void *data;
	/** Byte count of @p data; ignored with @p path. */
	uint64_t size;
} ms_artifact_source;

/**
 * Options for ms_store_push().  The pointers are borrowed for the call.
 * accuracy, rmse, r2: NULL (the zero value) means absent, and the row's
 * score column stays NULL; a present one must point to a finite value,
 * which is stored in the row's score column and merged into the metrics
 * JSON (keys "accuracy", "rmse", "r2"):
 *
 *     double acc = 0.93;
 *     ms_push_options o = MS_PUSH_OPTIONS_INIT;
 *     o.accuracy = &acc;
 */
typedef struct ms_push_options {
	unsigned int version;     /**< MS_PUSH_OPTIONS_VERSION */
	const char *model_name;   /**< NULL: "default" */
	const char *model_version;/**< NULL: generated YYYYMMDD_HHMMSS[_n]
	                               (UTC) */
	const char *run_id;       /**< NULL: the version; else 1 to
	                               MS_RUN_ID_MAX characters.  The id
	                               of a run started with
	                               ms_run_start() makes the version
	                               part of that run */
	const char *model_type;   /**< NULL: "unknown"; else 1 to
	                               MS_TYPE_MAX characters */
	const double *accuracy;   /**< NULL: absent; else finite */
	const double *rmse;       /**< NULL: absent; else finite */
	const double *r2;         /**< NULL: absent; else finite */
	const char *metrics_json; /**< object of extra metrics, or NULL;
	                               stored with each artifact, and its
	                               numeric members in model_metrics
	                               (for the version and the run) */
	const char *params_json;  /**< object of params, or NULL; stored
	                               with each artifact, and for the run
	                               unless the run already exists */
	int production;           /**< non-zero: promote in the same
	                               transaction */
	int compress_level;       /**< 0: store as is; 1..9: zlib level;
	                               other values: MS_EINVAL */
	const char *reason;       /**< promotion reason when production;
	                               NULL: "push --production" */
	ms_progress_fn progress;  /**< NULL: none */
	void *progress_payload;   /**< passed to progress */
} ms_push_options;

#define MS_PUSH_OPTIONS_VERSION 1
#define MS_PUSH_OPTIONS_INIT { MS_PUSH_OPTIONS_VERSION, NULL, NULL, NULL, \
	NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, NULL, NULL }

/**
 * Initialise push options to the defaults of a version, as
 * MS_PUSH_OPTIONS_INIT does (no metrics).
 *
 * @param opts    the struct to fill (borrowed); must not be NULL.
 * @param version MS_PUSH_OPTIONS_VERSION.
 * @return MS_OK; MS_EINVAL when @p opts is NULL or @p version is unknown.
 * Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_push_options_init(ms_push_options *opts,
                                          unsigned int version);

/**
 * Store artifacts under one version, all or nothing.
 *
 * Bytes travel as binary parameters (never hex text).  An artifact whose
 * stored bytes fit in one chunk (ms_store_options.chunk_size) goes inline
 * into `model_binary`; a larger one is written to
 * `model_artifact_chunks` by an INSERT with a binary parameter (unnamed,
 * generic plan), one chunk row at a time, in the push's transaction and
 * in constant memory.  With compress_level, the stored bytes are
 * zlib-deflated.  The SHA-256 of the original bytes is computed while
 * streaming.  The primary artifact is inserted first, then the others,
 * then the metrics and the run, and (with production) the promotion.
 * One inline artifact with its version given and no promotion goes in
 * one round trip (libpq pipeline mode, BEGIN to COMMIT), hashed while
 * the server stores it; everything else takes a few more.  On any failure the
 * transaction is rolled back: no row and no chunk remains.  If the
 * connection is lost during COMMIT, MS_EUNREACHABLE is returned and the
 * outcome is unknown (ms_store_show() tells).
 *
 * @param version_out receives the version (generated or given) on MS_OK;
 *                    an initialised ms_buf; may be NULL.  Dispose with
 *                    ms_buf_dispose().
 * @param store       the handle.
 * @param opts        options (borrowed for the call); NULL for the
 *                    defaults of ms_push_options_init().
 * @param sources     @p count sources (borrowed for the call).
 * @param count       number of sources; 0 is MS_EINVAL.
 * @return
 *   - MS_OK;
 *   - MS_EINVAL: @p store NULL, unknown options version, invalid model
 *     name, version, run id, type, compression level, a metric pointing
 *     to NAN or an infinity, or metrics/params JSON (must be objects), no sources, an invalid or repeated artifact
 *     name, no primary artifact, NULL data with a non-zero size, a
 *     directory as path, or a value the server rejects (class 22);
 *   - MS_ENOTFOUND: a source file does not exist;
 *   - MS_EIO: a source file could not be opened or read, or grew while
 *     being read;
 *   - MS_EEXISTS: that version already has an artifact of that name;
 *   - MS_EUNREACHABLE: not connected, or the connection was lost;
 *   - MS_ENOMEM (when only @p version_out could not be filled, the
 *     version was stored);
 *   - MS_ESCHEMA: a table or column is missing;
 *   - MS_ERROR: compression failed, or another server error.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_push(ms_buf *version_out, ms_store *store,
                                   const ms_push_options *opts,
                                   const ms_artifact_source *sources,
                                   size_t count);

/**
 * Look up the metadata of one artifact.
 *
 * @param out        receives the metadata: an ms_artifact_info
 *                   initialised with MS_ARTIFACT_INFO_INIT, whose
 *                   version says which fields to fill.  Zeroed on entry
 *                   (all but its version), so dispose it with
 *                   ms_artifact_info_dispose() on any outcome; untouched
 *                   when its version is unknown.  NULL is MS_EINVAL.
 * @param store      the handle.
 * @param model_name NULL means "default".
 * @param selector   "production", "latest" (newest created), "@ALIAS"
 *                   (the version an alias points to) or a version;
 *                   NULL means "production".
 * @param artifact   NULL means the primary artifact.
 * @return
 *   - MS_OK;
 *   - MS_EINVAL: @p store or @p out NULL, an unknown @p out version, or
 *     an invalid name, selector or artifact;
 *   - MS_ENOTFOUND: no production version, no such alias, or no such
 *     version or artifact;
 *   - MS_EUNREACHABLE: not connected, or the connection was lost;
 *   - MS_ENOMEM;
 *   - MS_ESCHEMA, MS_ERROR: the query failed on the server.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_show(ms_artifact_info *out, ms_store *store,
                                   const char *model_name,
                                   const char *selector,
                                   const char *artifact);

/**
 * Stream the original bytes of an artifact to a sink.
 *
 * The bytes are read one chunk (or one 4 MiB slice of an inline value) at
 * a time and inflated when stored compressed, so memory stays bounded.
 * When the row records a SHA-256, it and the size are checked at the end:
 * on a mismatch MS_EINTEGRITY is returned and the caller must discard
 * what the sink received.  Rows without a hash are not checked.
 *
 * @param info             receives the metadata, as for
 *                         ms_store_show(): initialised with
 *                         MS_ARTIFACT_INFO_INIT, zeroed on entry (but its
 *                         version), so dispose it on any outcome; may be
 *                         NULL.
 * @param store            the handle.
 * @param model_name       NULL means "default".
 * @param selector         "production", "latest", "@ALIAS" or a
 *                         version; NULL means "production".
 * @param artifact         NULL means the primary artifact.
 * @param sink             receives the bytes; may be NULL (read and
 *                         verify only).
 * @param payload          passed to @p sink.
 * @param progress         stored (possibly compressed) bytes read of the
 *                         stored size; may be NULL.
 * @param progress_payload passed to @p progress.
 * @return
 *   - MS_OK;
 *   - MS_EINVAL: @p store NULL, an unknown @p info version, or an
 *     invalid name, selector or artifact;
 *   - MS_ENOTFOUND: no such artifact, or it was deleted while being
 *     read;
 *   - MS_EINTEGRITY: SHA-256 or size mismatch, missing chunks, or
 *     corrupt compressed bytes;
 *   - MS_EUNREACHABLE: not connected, or the connection was lost;
 *   - MS_ENOMEM;
 *   - MS_ESCHEMA, MS_ERROR: a query failed on the server;
 *   - any other status returned by @p sink.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_pull(ms_artifact_info *info, ms_store *store,
                                   const char *model_name,
                                   const char *selector,
                                   const char *artifact, ms_write_fn sink,
                                   void *payload, ms_progress_fn progress,
                                   void *progress_payload);

/**
 * Pull an artifact into a file, atomically.
 *
 * The bytes go to a new temporary file beside @p path (O_EXCL, not
 * through symlinks), which is fsync'd, verified, then renamed over
 * @p path, and the directory fsync'd.  Nothing appears at @p path unless
 * the pull succeeded.
 *
 * @param info             as for ms_store_pull(): initialised with
 *                         MS_ARTIFACT_INFO_INIT, zeroed on entry (but its
 *                         version), dispose it on any outcome; may be
 *                         NULL.
 * @param store            the handle.
 * @param model_name       as for ms_store_pull().
 * @param selector         as for ms_store_pull().
 * @param artifact         as for ms_store_pull().
 * @param path             the file to write (borrowed); its directory
 *                         must exist.
 * @param overwrite        non-zero: replace an existing regular file,
 *                         or write into an existing FIFO or character
 *                         device directly (it is never replaced; other
 *                         special files are refused with MS_EIO); 0:
 *                         fail with MS_EEXISTS when @p path exists or
 *                         appears before the rename.
 * @param progress         as for ms_store_pull(); may be NULL.
 * @param progress_payload passed to @p progress.
 * @return
 *   - MS_OK;
 *   - MS_EINVAL: @p store NULL, an unknown @p info version, @p path
 *     NULL, empty or too long, or an invalid name, selector or
 *     artifact;
 *   - MS_EEXISTS: @p path exists and @p overwrite is 0;
 *   - MS_ENOTFOUND: no such artifact;
 *   - MS_EIO: the directory of @p path does not exist, @p path is a
 *     symlink, a directory or a special file other than a FIFO or
 *     character device, or writing (e.g. ENOSPC), fsync or rename failed;
 *   - MS_EINTEGRITY, MS_EUNREACHABLE, MS_ENOMEM, MS_ESCHEMA, MS_ERROR: as
 *     for ms_store_pull().
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_pull_file(ms_artifact_info *info,
                                        ms_store *store,
                                        const char *model_name,
                                        const char *selector,
                                        const char *artifact,
                                        const char *path, int overwrite,
                                        ms_progress_fn progress,
                                        void *progress_payload);

/**
 * List the primary artifacts (one per version).
 *
 * Rows are ordered by model name, then newest first within a name.
 *
 * @param out        receives the list, owned by the caller: free it with
 *                   ms_artifact_list_free().  Must not be NULL.  Set to
 *                   NULL on failure.
 * @param store      the handle.
 * @param model_name one name, or NULL for every name.
 * @param limit      at most this many rows in all; 0 means no limit.
 * @return
 *   - MS_OK (possibly a list of 0 artifacts);
 *   - MS_EINVAL: @p store or @p out NULL, or an invalid name;
 *   - MS_EUNREACHABLE: not connected, or the connection was lost;
 *   - MS_ENOMEM;
 *   - MS_ESCHEMA, MS_ERROR: the query failed on the server.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_list(ms_artifact_list **out, ms_store *store,
                                   const char *model_name, size_t limit);

/**
 * Make a version the production model of its name.
 *
 * The database enforces one production model per name; concurrent
 * promotions serialise on an advisory lock.  The change is recorded in
 * `model_promotions` and, on commit, a trigger notifies watching loaders
 * (channel modelstore_production).  Promoting the version that is
 * already production succeeds and records nothing.
 *
 * @param store         the handle.
 * @param model_name    NULL means "default".
 * @param model_version the version, or "@ALIAS" for the version an alias
 *                      points to (resolved under the promotion lock);
 *                      must not be NULL or a selector word.
 * @param reason        recorded with the promotion; may be NULL.
 * @return
 *   - MS_OK;
 *   - MS_EINVAL: @p store NULL, invalid name, or a missing or invalid
 *     version;
 *   - MS_ENOTFOUND: that version has no primary artifact;
 *   - MS_EUNREACHABLE: not connected, or the connection was lost;
 *   - MS_ESCHEMA, MS_ERROR: a statement failed on the server.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_promote(ms_store *store, const char *model_name,
                                      const char *model_version,
                                      const char *reason);

/**
 * Return production to the version that preceded the current one.
 *
 * The target is the from-version of the latest promotion (not rollback)
 * to the current version, so repeated rollbacks walk further back in
 * history.  Recorded in `model_promotions` as a rollback.
 *
 * @param version_out receives the version now in production, on MS_OK;
 *                    an initialised ms_buf; may be NULL.
 * @param store       the handle.
 * @param model_name  NULL means "default".
 * @param reason      recorded with the rollback; may be NULL.
 * @return
 *   - MS_OK;
 *   - MS_EINVAL: @p store NULL or an invalid name;
 *   - MS_ENOTFOUND: no production model, no earlier production version
 *     in the history, or that version no longer exists;
 *   - MS_EUNREACHABLE: not connected, or the connection was lost;
 *   - MS_ENOMEM: production was moved back, but @p version_out could
 *     not be filled;
 *   - MS_ESCHEMA, MS_ERROR: a statement failed on the server.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_rollback(ms_buf *version_out, ms_store *store,
                                       const char *model_name,
                                       const char *reason);

/**
 * Delete old versions of a model, never the production version nor a
 * version an alias points to.
 *
 * Versions are ranked newest first (by their newest artifact).  Every
 * version after the first @p keep, unless it is production or aliased,
 * is deleted
 * with all its artifacts and their chunks, in one transaction that holds
 * the promotion lock.
 *
 * @param deleted_out receives a JSON array of the versions deleted (or
 *                    that would be, with @p dry_run), newest first, on
 *                    MS_OK; an initialised ms_buf; may be NULL.
 * @param store       the handle.
 * @param model_name  NULL means "default".
 * @param keep        how many of the newest versions to keep (the
 *                    production version counts among them); 0 deletes
 *                    every version but production.
 * @param dry_run     non-zero: delete nothing, only report.
 * @return
 *   - MS_OK;
 *   - MS_EINVAL: @p store NULL or an invalid name;
 *   - MS_EUNREACHABLE: not connected, or the connection was lost;
 *   - MS_ENOMEM (when only @p deleted_out could not be filled, the
 *     versions were deleted);
 *   - MS_ESCHEMA, MS_ERROR: a statement failed on the server.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_prune(ms_buf *deleted_out, ms_store *store,
                                    const char *model_name, unsigned keep,
                                    int dry_run);

/**
 * Set the byte-progress callback of ms_store_verify() and
 * ms_store_backfill_hashes().
 *
 * ms_store_verify() reports stored bytes over all the artifacts it
 * reads; ms_store_backfill_hashes() reports per artifact (done restarts
 * at each one and total is that artifact's stored size).  The other
 * operations take their own progress argument.
 *
 * @param store   the handle; NULL is ignored.
 * @param fn      the callback; NULL turns progress off.
 * @param payload passed to @p fn; kept until changed.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(void) ms_store_set_progress(ms_store *store, ms_progress_fn fn,
                                      void *payload);

/**
 * Called by ms_store_verify() once per artifact checked, on its thread.
 * During the call, ms_store_errmsg() of the store explains a failure.
 *
 * @param payload       the pointer given to ms_store_verify().
 * @param info          the artifact's metadata (borrowed for the call).
 * @param result        MS_OK, MS_EINTEGRITY, MS_ENOTFOUND (deleted
 *                      meanwhile) or another failure of that artifact.
 * @param actual_sha256 hex SHA-256 of the bytes read (borrowed for the
 *                      call); "" when they could not all be read.
 */
typedef void (*ms_verify_fn)(void *payload, const ms_artifact_info *info,
                             ms_status result, const char *actual_sha256);

/**
 * Re-hash every artifact, streaming, and compare with the recorded hash.
 *
 * Every artifact is checked even after a failure; rows without a hash
 * are reported with MS_OK and actual_sha256 set.  Only losing the
 * connection or memory stops early.
 *
 * @param checked    receives the number of artifacts checked; set only
 *                   when the run completes; may be NULL.
 * @param bad        receives the number that failed; as @p checked.
 * @param store      the handle.
 * @param model_name one name, or NULL for all artifacts of all names.
 * @param cb         called once per artifact; may be NULL.
 * @param payload    passed to @p cb.
 * @return
 *   - MS_OK: all artifacts passed;
 *   - MS_EINTEGRITY: at least one failed, for any reason;
 *   - MS_EINVAL: @p store NULL or an invalid name;
 *   - MS_EUNREACHABLE: not connected, or the connection was lost;
 *   - MS_ENOMEM;
 *   - MS_ESCHEMA, MS_ERROR: the listing query failed on the server.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_verify(size_t *checked, size_t *bad,
                                     ms_store *store, const char *model_name,
                                     ms_verify_fn cb, void *payload);

/**
 * Compute and record the SHA-256 of every artifact that has none.
 *
 * Such rows were written the seed's way.  Each is streamed and hashed;
 * only rows whose hash is still NULL are updated, so concurrent runs are
 * harmless.  The first failure stops the run.
 *
 * @param updated    receives how many rows got a hash, also on failure
 *                   (untouched when @p store is NULL or not connected);
 *                   may be NULL.
 * @param store      the handle.
 * @param model_name one name, or NULL for all names.
 * @return
 *   - MS_OK;
 *   - MS_EINVAL: @p store NULL or an invalid name;
 *   - MS_ENOTFOUND: an artifact was deleted while being read;
 *   - MS_EINTEGRITY: missing chunks or corrupt compressed bytes;
 *   - MS_EUNREACHABLE: not connected, or the connection was lost;
 *   - MS_ENOMEM;
 *   - MS_ESCHEMA, MS_ERROR: a statement failed on the server.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_backfill_hashes(size_t *updated,
                                              ms_store *store,
                                              const char *model_name);

/**
 * Write a primary artifact into a fallback tree, with its sidecar.
 *
 * The bytes go to `model.bin` and the metadata to `model.json` in the
 * fallback layout: dir/production/model.bin for "default",
 * dir/production/<name>/model.bin otherwise (directories created).  Each
 * file is written atomically: a new temporary file (O_EXCL, not through
 * symlinks), fsync, rename over the old one, fsync of the directory.
 * Existing files are replaced.
 *
 * @param info             receives the metadata, with the SHA-256
 *                         computed during the export when the row had
 *                         none; as for ms_store_pull(): initialised with
 *                         MS_ARTIFACT_INFO_INIT, zeroed on entry (but its
 *                         version), so dispose it on any outcome; may be
 *                         NULL.
 * @param store            the handle.
 * @param model_name       NULL means "default".
 * @param selector         "production", "latest", "@ALIAS" or a
 *                         version; NULL means "production".
 * @param dir              the fallback directory; NULL or "" means
 *                         "models".
 * @param progress         as for ms_store_pull(); may be NULL.
 * @param progress_payload passed to @p progress.
 * @return
 *   - MS_OK;
 *   - MS_EINVAL: @p store NULL, an unknown @p info version, an invalid
 *     name or selector, or a path too long;
 *   - MS_ENOTFOUND: nothing matches @p selector;
 *   - MS_EIO: a directory could not be made, a target is a symlink or a
 *     directory, or writing, fsync or rename failed;
 *   - MS_EINTEGRITY, MS_EUNREACHABLE, MS_ENOMEM, MS_ESCHEMA, MS_ERROR: as
 *     for ms_store_pull().
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_export(ms_artifact_info *info, ms_store *store,
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
 *         @p overwrite is 0); MS_EIO (the directory does not exist;
 *         cannot create, write, fsync or rename; @p path is a directory,
 *         a symbolic link or a special file other than a FIFO or
 *         character device, which are written into, never replaced);
 *         MS_ENOMEM.
 * Thread-safety: safe; concurrent writers of one path each replace it
 * whole, the last rename wins.
 */
MS_EXTERN(ms_status) ms_file_write_atomic(ms_buf *errmsg_out,
                                          const char *path, const void *data,
                                          size_t len, int overwrite);

/**
 * Attach an actual value to a logged prediction.
 *
 * A prediction still queued or spooled by an ms_predlog is not in the
 * table yet: MS_ENOTFOUND.
 *
 * @param store         the handle.
 * @param prediction_id the prediction's UUID as text (as ms_predlog_log()
 *                      gave it); must not be NULL.
 * @param actual_value  the value; must be finite.
 * @return
 *   - MS_OK;
 *   - MS_EINVAL: @p store or @p prediction_id NULL, @p actual_value NAN
 *     or infinite, or @p prediction_id not a UUID;
 *   - MS_ENOTFOUND: no prediction has that id;
 *   - MS_EUNREACHABLE: not connected, or the connection was lost;
 *   - MS_ESCHEMA, MS_ERROR: the update failed on the server.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_record_actual(ms_store *store,
                                            const char *prediction_id,
                                            double actual_value);

/** One actual value for ms_store_record_actuals(). */
typedef struct ms_actual {
	const char *prediction_id; /**< the prediction's UUID as text */
	double value;              /**< the observed value; finite */
} ms_actual;

/**
 * What ms_store_record_actuals() did, added up over the calls given the
 * same struct.  Initialise with MS_ACTUALS_RESULT_INIT; free with
 * ms_actuals_result_dispose().
 */
typedef struct ms_actuals_result {
	uint64_t rows;      /**< rows taken (committed) */
	uint64_t matched;   /**< predictions updated: each id once per
	                         batch (an id repeated within a batch counts
	                         once, one repeated in a later batch again) */
	uint64_t unmatched; /**< ids no prediction has, once per batch */
	ms_buf unmatched_ids; /**< those ids, one per line ("\n" after each),
	                           in order within a batch; owned by the
	                           struct */
} ms_actuals_result;

#define MS_ACTUALS_RESULT_INIT { 0, 0, 0, MS_BUF_INIT }

/**
 * Free what @p result holds and zero it.
 *
 * @param result the struct (the caller's); NULL is ignored.
 * Thread-safety: safe on distinct structs.
 */
MS_EXTERN(void) ms_actuals_result_dispose(ms_actuals_result *result);

/**
 * Attach many actual values at once: batches of up to 100 000 rows, each
 * one transaction of one COPY into a temporary table (ms_actuals_in, ON
 * COMMIT DELETE ROWS) and one UPDATE of model_predictions joined to it.
 * An id given twice takes its last value.  Ids no prediction has (not
 * logged, or still queued or spooled by an ms_predlog) are listed in
 * @p out, not an error.  The role needs what ms_store_record_actual()
 * needs plus TEMPORARY on the database (PUBLIC has it by default).
 *
 * Every row is checked before anything is sent: one bad row writes
 * nothing.  A failure in a later batch leaves the earlier batches
 * committed; @p out counts exactly those.
 *
 * @param store the handle.
 * @param rows  @p n rows (borrowed; read during the call only).  NULL
 *              only when @p n is 0.
 * @param n     how many.
 * @param out   the result (the caller's, initialised); counts and ids
 *              are added to it.
 * @return
 *   - MS_OK;
 *   - MS_EINVAL: @p store or @p out NULL, a prediction id that is not a
 *     UUID, or a value NAN or infinite (the message names the row's
 *     index);
 *   - MS_EUNREACHABLE: not connected, or the connection was lost;
 *   - MS_ENOMEM;
 *   - MS_ESCHEMA, MS_ERROR: the server refused (e.g. permission denied).
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_record_actuals(ms_store *store,
                                             const ms_actual *rows,
                                             size_t n,
                                             ms_actuals_result *out);

/** What ms_store_prune_predictions() found and did. */
typedef struct ms_prune_result {
	uint64_t matched;  /**< rows older than the cutoff when it began */
	uint64_t deleted;  /**< rows deleted (0 with dry_run) */
	uint64_t batches;  /**< transactions that deleted rows */
	char cutoff[32];   /**< the cutoff, "YYYY-MM-DDTHH:MM:SSZ" (UTC) */
} ms_prune_result;

/**
 * Delete the predictions older than @p older_than_seconds (by
 * prediction_time, against the server's clock), of one model name or
 * all, in batches of @p batch_rows: each batch is one short transaction
 * that deletes (and locks) only its rows, walking the primary key, so
 * that loggers, actuals and reports go on meanwhile.  Rows a concurrent
 * transaction holds are skipped (SKIP LOCKED), not waited for.  Stopping
 * half-way (an error, a lost connection) leaves the batches done deleted
 * and the rest intact; running again continues.
 *
 * @param out        receives the counts and the cutoff (caller's struct).
 * @param store      the handle.
 * @param model_name one name, or NULL for every name.
 * @param older_than_seconds the age, 0 to 100 years.
 * @param batch_rows rows a transaction, 1 to 1000000; 0 means 10000.
 * @param dry_run    non-zero: only count (out->matched).
 * @param progress   NULL, or called after each batch with (deleted,
 *                   matched) as (done, total), on the calling thread.
 * @param progress_payload passed to @p progress.
 * @return MS_OK; MS_EINVAL (NULL @p store or @p out, an invalid name,
 *         an age or batch size out of range); MS_EUNREACHABLE; MS_ESCHEMA,
 *         MS_ERROR (e.g. permission denied: DELETE needs the table
 *         owner or an explicit grant; no role of sql/roles.sql has it).
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_prune_predictions(ms_prune_result *out,
                                                ms_store *store,
                                                const char *model_name,
                                                int64_t older_than_seconds,
                                                size_t batch_rows,
                                                int dry_run,
                                                ms_progress_fn progress,
                                                void *progress_payload);

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
 * strings (times in UTC as "YYYY-MM-DDTHH:MM:SSZ"); any value may be
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

/**
 * The time series behind the report's charts, as one JSON document:
 *
 *     {"bucket": "day",
 *      "daily": [{"model_name", "model_version", "day" ("YYYY-MM-DD"),
 *                 "prediction_count", "predictions_with_actual",
 *                 "mean_absolute_error", "rmse"}, ...],
 *      "events": [{"promoted_at" ("...Z", UTC), "model_name", "action"
 *                  ("promote" or "rollback"), "from_version",
 *                  "to_version", "day"}, ...]}
 *
 * "daily" is the view model_prediction_volume_daily (one row per name,
 * version and day with predictions), with the RMSE of the day's
 * predictions that have an actual value; ordered by name, day, version.
 * Days are the server's calendar days.  "events" are every promotion
 * and rollback of the window, oldest first.  The aggregation happens in
 * the server: the document grows with days times versions, not rows.
 *
 * @param out        receives the document; dispose with ms_buf_dispose()
 *                   after MS_OK.
 * @param store      an open store.
 * @param model_name one name, or NULL for every name.
 * @param since      NULL for all time, or the decimal text of a number of
 *                   days, "0" to "36500": the days from today minus that
 *                   many on.
 * @return as ms_store_report().
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_report_series(ms_buf *out, ms_store *store,
                                            const char *model_name,
                                            const char *since);

/* ------------------------------------------------------------------ */
/* Inspection: what `modelstore doctor` checks                          */
/* ------------------------------------------------------------------ */

/** What ms_fallback_inspect() found.  Plain data, no pointers. */
typedef struct ms_fallback_status {
	/** MS_OK: a copy that the loader would serve; MS_ENOTFOUND: no
	 *  copy; MS_EINTEGRITY: a copy the loader refuses (its bytes do not
	 *  hash to, or are not the size, its sidecar records); MS_EIO: it
	 *  cannot be read; MS_ENOMEM. */
	ms_status status;
	char version[MS_VERSION_MAX + 1]; /**< as the sidecar records it
	                                       ("unknown" without sidecar) */
	char sha256[65];   /**< lowercase hex of the bytes as read (MS_OK) */
	uint64_t size;     /**< bytes of the payload (MS_OK) */
	int verified;      /**< 1: a sidecar recorded the hash and it matched */
	char message[1024]; /**< why, when status is not MS_OK (one line) */
} ms_fallback_status;

/**
 * Read and verify the fallback copy of a model the way the loader would
 * during an outage (dir/production[/<name>]/, then dir/), without a
 * database.  The whole payload is read and hashed.
 *
 * @param out        receives the findings (caller's struct); always
 *                   written.
 * @param dir        the fallback directory; NULL or "" means "models".
 * @param model_name the name; NULL means MS_DEFAULT_NAME.
 * @return out->status.
 * Thread-safety: safe (reads files only).
 */
MS_EXTERN(ms_status) ms_fallback_inspect(ms_fallback_status *out,
                                         const char *dir,
                                         const char *model_name);

/**
 * The model names with a fallback copy under @p dir.
 *
 * @param out receives the names, one per line, each ending in "\n" ("" for
 *            none); dispose with ms_buf_dispose() after MS_OK.
 * @param dir the fallback directory; NULL or "" means "models".
 * @return MS_OK; MS_EINVAL (NULL @p out); MS_ENOMEM.
 * Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_fallback_names(ms_buf *out, const char *dir);

/** What ms_spool_inspect() found in a prediction logger's spool. */
typedef struct ms_spool_backlog {
	uint64_t files;         /**< spool files waiting for a replay */
	uint64_t files_in_use;  /**< files a live logger holds (not counted
	                             in files, records) */
	uint64_t records;       /**< rows in the waiting files */
	uint64_t bytes;         /**< bytes of all spool files */
	uint64_t damaged_files; /**< waiting files with a damaged or torn
	                             part, or of an unknown format */
	int64_t oldest_mtime;   /**< Unix time of the oldest file's last
	                             write; 0 when there is none */
} ms_spool_backlog;

/**
 * Count what waits in a spool directory (ms_predlog_options.spool_dir):
 * rows a logger wrote to disk while the database was out, replayed by
 * the next logger on that directory that reaches the database.  Each
 * waiting file is locked (LOCK_EX|LOCK_NB) while it is read, as a
 * replayer does, so a file a live logger holds is counted as in use.
 *
 * @param out        receives the counts (caller's struct); zeroed first.
 * @param dir        the spool directory; NULL or "" means "spool".  A
 *                   directory that does not exist is an empty backlog.
 * @param errmsg_out NULL, or receives the message on failure (dispose it
 *                   with ms_buf_dispose()).
 * @return MS_OK; MS_EINVAL (NULL @p out); MS_EIO; MS_ENOMEM.
 * Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_spool_inspect(ms_spool_backlog *out,
                                      const char *dir, ms_buf *errmsg_out);

/**
 * The server's version as PQserverVersion() gives it (150004 for 15.4).
 *
 * @param store       the handle.
 * @param version_num receives the number.
 * @return MS_OK; MS_EINVAL; MS_EUNREACHABLE.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_server_version(ms_store *store,
                                             int *version_num);

/**
 * The privileges the roles of sql/roles.sql (modelstore_reader,
 * modelstore_writer, modelstore_logger) need for their commands and do
 * not hold, e.g. after a migration added a table and roles.sql was not
 * run again.  Roles that do not exist are not checked.
 *
 * @param out         receives one line per missing grant, "ROLE
 *                    PRIVILEGE OBJECT\n" ("" when nothing is missing);
 *                    dispose with ms_buf_dispose() after MS_OK.
 * @param roles_found NULL, or receives how many of the three roles exist.
 * @param store       the handle (schema migrated).
 * @return MS_OK; MS_EINVAL; MS_EUNREACHABLE; MS_ENOMEM; MS_ERROR.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_missing_grants(ms_buf *out, int *roles_found,
                                             ms_store *store);

/* ------------------------------------------------------------------ */
/* Runs and metric history                                             */
/* ------------------------------------------------------------------ */

/** The life cycle of a training run (model_runs.status). */
typedef enum ms_run_status {
	MS_RUN_RUNNING = 0,  /**< started, not finished */
	MS_RUN_FINISHED = 1, /**< ended normally (also runs made by a push) */
	MS_RUN_FAILED = 2,   /**< ended by an error */
	MS_RUN_KILLED = 3    /**< ended by someone else (a signal, a user) */
} ms_run_status;

/**
 * The name of a run status, as stored.
 *
 * @param status any value.
 * @return "running", "finished", "failed" or "killed"; "unknown" outside
 *         the enum.  Static text.
 * Thread-safety: safe.
 */
MS_EXTERN(const char *) ms_run_status_str(ms_run_status status);

/**
 * Parse a run status name (exactly as ms_run_status_str() writes it).
 *
 * @param out  receives the status on MS_OK (borrowed); must not be NULL.
 * @param text the name (borrowed).
 * @return MS_OK; MS_EINVAL for NULL or any other text.
 * Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_run_status_parse(ms_run_status *out,
                                         const char *text);

/**
 * Options for ms_run_start().  Initialise with MS_RUN_OPTIONS_INIT or
 * ms_run_options_init(); the pointers are borrowed for the call.
 */
typedef struct ms_run_options {
	unsigned int version;     /**< MS_RUN_OPTIONS_VERSION */
	const char *model_name;   /**< NULL: "default" */
	const char *run_id;       /**< NULL: a new UUIDv7; else 1 to
	                               MS_RUN_ID_MAX characters of UTF-8
	                               without control characters */
	const char *params_json;  /**< a JSON object, or NULL for {}; kept
	                               as given: 100 stays a number, [64,32]
	                               an array, true a boolean */
	const char *tags_json;    /**< a JSON object, or NULL for {} */
	int64_t dataset_size;     /**< rows trained on; negative: unknown */
} ms_run_options;

#define MS_RUN_OPTIONS_VERSION 1
#define MS_RUN_OPTIONS_INIT { MS_RUN_OPTIONS_VERSION, NULL, NULL, NULL, \
	NULL, -1 }

/**
 * Initialise run options to the defaults of a version.
 *
 * @param opts    the struct to fill (borrowed); must not be NULL.
 * @param version MS_RUN_OPTIONS_VERSION.
 * @return MS_OK; MS_EINVAL when @p opts is NULL or @p version is unknown.
 * Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_run_options_init(ms_run_options *opts,
                                         unsigned int version);

/**
 * Start a training run: a `model_runs` row with status "running".
 *
 * Metrics are then logged with ms_run_log_metric(s)(), artifacts pushed
 * with ms_push_options.run_id set to the run's id belong to the run, and
 * ms_run_finish() ends it.
 *
 * @param run_id_out receives the run's id (given or generated) on MS_OK;
 *                   an initialised ms_buf; may be NULL.
 * @param store      the handle.
 * @param opts       options (borrowed for the call); NULL for the
 *                   defaults.
 * @return
 *   - MS_OK;
 *   - MS_EINVAL: @p store NULL, unknown options version, an invalid model
 *     name or run id, params or tags that are not a JSON object;
 *   - MS_EEXISTS: a run with that id exists (it is left as it is);
 *   - MS_EUNREACHABLE: not connected, or the connection was lost;
 *   - MS_ENOMEM (when only @p run_id_out could not be filled, the run
 *     was started);
 *   - MS_ESCHEMA, MS_ERROR: the statement failed on the server.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_run_start(ms_buf *run_id_out, ms_store *store,
                                  const ms_run_options *opts);

/** ms_metric_point.step when the point has no step. */
#define MS_STEP_NONE INT64_MIN

/** One metric value of a run. */
typedef struct ms_metric_point {
	const char *metric; /**< ms_metric_name_check() (borrowed) */
	double value;       /**< finite */
	int64_t step;       /**< 0 or more, or MS_STEP_NONE */
	int64_t time_ms;    /**< Unix time in milliseconds; 0: the
	                         server's now() */
} ms_metric_point;

/**
 * Log one metric value to a running run.
 *
 * @param store  the handle.
 * @param run_id the run (borrowed).
 * @param metric the metric's name (ms_metric_name_check()).
 * @param value  a finite value.
 * @param step   0 or more, or MS_STEP_NONE.
 * @return as ms_run_log_metrics().
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_run_log_metric(ms_store *store, const char *run_id,
                                       const char *metric, double value,
                                       int64_t step);

/**
 * Log a batch of metric values to a running run, all or nothing, in one
 * statement and one round trip (arrays bound as parameters).  Batches of
 * thousands of points are the intended use.
 *
 * @param store  the handle.
 * @param run_id the run (borrowed).
 * @param points @p n points (borrowed for the call).
 * @param n      their count; 0 checks the run and writes nothing.
 * @return
 *   - MS_OK;
 *   - MS_EINVAL: @p store or @p run_id NULL, @p points NULL with @p n
 *     non-zero, an invalid metric name, a value NAN or infinite, a
 *     negative step, a negative time, or a run that is not running
 *     (the message names the point and what is wrong with it);
 *   - MS_ENOTFOUND: no run has that id;
 *   - MS_EUNREACHABLE, MS_ENOMEM, MS_ESCHEMA, MS_ERROR.
 * Nothing is written unless MS_OK is returned.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_run_log_metrics(ms_store *store, const char *run_id,
                                        const ms_metric_point *points,
                                        size_t n);

/**
 * End a running run.
 *
 * @param store  the handle.
 * @param run_id the run (borrowed).
 * @param status MS_RUN_FINISHED, MS_RUN_FAILED or MS_RUN_KILLED.
 * @return
 *   - MS_OK: the run ended (ended_at is now);
 *   - MS_EINVAL: @p store or @p run_id NULL, @p status MS_RUN_RUNNING or
 *     outside the enum, or the run already ended (the message gives its
 *     status);
 *   - MS_ENOTFOUND: no run has that id;
 *   - MS_EUNREACHABLE, MS_ESCHEMA, MS_ERROR.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_run_finish(ms_store *store, const char *run_id,
                                   ms_run_status status);

/**
 * The runs of a model, newest first, as one JSON array:
 *
 *     [{"run_id", "model_name", "status", "started_at", "ended_at",
 *       "duration_seconds", "dataset_size", "params", "tags",
 *       "metrics": {"NAME": last value, ...}, "versions": [...]}, ...]
 *
 * Times carry their zone ("2026-11-23T11:02:03.123+00:00"); ended_at,
 * duration_seconds (for a running run: so far) and dataset_size may be
 * null.  "metrics" holds the last value logged (by time, then order of
 * logging) of each metric; "versions" the versions pushed with the run's
 * id, newest first.
 *
 * @param out        receives the document; an initialised ms_buf,
 *                   disposed by the caller.
 * @param store      the handle.
 * @param model_name NULL: every name.
 * @param limit      at most this many runs; 0: no limit.
 * @return MS_OK; MS_EINVAL (NULL @p store or @p out, invalid name);
 *         MS_EUNREACHABLE; MS_ENOMEM; MS_ESCHEMA, MS_ERROR.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_run_list(ms_buf *out, ms_store *store,
                                 const char *model_name, size_t limit);

/**
 * One run with its metric history, as one JSON object: the keys of an
 * ms_run_list() element, except that each member of "metrics" is
 *
 *     {"last": value, "count": points,
 *      "history": [{"step": n or null, "value": v, "recorded_at": t}, ...]}
 *
 * with the history ordered by step (points without a step last), then
 * time, then order of logging.
 *
 * @param out    receives the document; an initialised ms_buf.
 * @param store  the handle.
 * @param run_id the run (borrowed).
 * @param metric only this metric's history; NULL: all.
 * @return MS_OK; MS_EINVAL (NULL @p store, @p out or @p run_id, invalid
 *         metric name); MS_ENOTFOUND (no such run); MS_EUNREACHABLE;
 *         MS_ENOMEM; MS_ESCHEMA, MS_ERROR.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_run_show(ms_buf *out, ms_store *store,
                                 const char *run_id, const char *metric);

/**
 * Append a metric value to a stored version, at any time (e.g. accuracy
 * measured in production).  It becomes the version's value of that
 * metric for ms_store_list_versions() and ms_store_version_metrics().
 *
 * @param store      the handle.
 * @param model_name NULL means "default".
 * @param selector   a version, "production", "latest" or "@ALIAS";
 *                   NULL means "production".
 * @param metric     the metric's name (ms_metric_name_check()).
 * @param value      a finite value.
 * @param time_ms    Unix milliseconds; 0: the server's now().
 * @return MS_OK; MS_EINVAL (NULL @p store, invalid name, selector or
 *         metric, non-finite value, negative time); MS_ENOTFOUND (no
 *         such version); MS_EUNREACHABLE; MS_ESCHEMA, MS_ERROR.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_log_version_metric(ms_store *store,
                                                 const char *model_name,
                                                 const char *selector,
                                                 const char *metric,
                                                 double value,
                                                 int64_t time_ms);

/**
 * The metric history summary of one stored version, as one JSON object:
 *
 *     {"model_name", "model_version",
 *      "metrics": {"NAME": {"last": value, "count": points,
 *                           "recorded_at": time of the last}, ...}}
 *
 * counting every point recorded for the version (at push and after).
 *
 * @param out        receives the document; an initialised ms_buf.
 * @param store      the handle.
 * @param model_name NULL means "default".
 * @param selector   as for ms_store_log_version_metric().
 * @return MS_OK; MS_EINVAL; MS_ENOTFOUND; MS_EUNREACHABLE; MS_ENOMEM;
 *         MS_ESCHEMA, MS_ERROR.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_version_metrics(ms_buf *out, ms_store *store,
                                              const char *model_name,
                                              const char *selector);

/**
 * Options for ms_store_list_versions().  Initialise with
 * MS_LIST_OPTIONS_INIT or ms_list_options_init().
 *
 * The value of a metric for a version is its latest point in
 * `model_metrics`, else the number in its metrics JSON, else (for the
 * names accuracy, rmse, r2 and their _score forms) the seed's score
 * column: the SQL function modelstore_version_metric().
 *
 * `where` is parsed by the library, never spliced into SQL:
 *
 *     expression := condition { "and" condition }
 *     condition  := METRIC op NUMBER
 *     op         := ">=" | "<=" | ">" | "<" | "=" | "!="
 *
 * METRIC as ms_metric_name_check(), "and" in any case, NUMBER a finite
 * decimal ("0.9", "-1e-3"), blanks anywhere between tokens, at most 16
 * conditions.  A version without a value for a metric fails every
 * condition on it.  Metric names and numbers travel as parameters.
 */
typedef struct ms_list_options {
	unsigned int version;   /**< MS_LIST_OPTIONS_VERSION */
	const char *model_name; /**< NULL: every name */
	const char *sort;       /**< NULL: newest first (by name, then
	                             created_at); else a metric name: by its
	                             value, versions without one last */
	int descending;         /**< with @p sort: highest first */
	const char *where;      /**< NULL or "": no filter */
	size_t limit;           /**< 0: no limit */
} ms_list_options;

#define MS_LIST_OPTIONS_VERSION 1
#define MS_LIST_OPTIONS_INIT { MS_LIST_OPTIONS_VERSION, NULL, NULL, 0, \
	NULL, 0 }

/**
 * Initialise list options to the defaults of a version.
 *
 * @param opts    the struct to fill (borrowed); must not be NULL.
 * @param version MS_LIST_OPTIONS_VERSION.
 * @return MS_OK; MS_EINVAL when @p opts is NULL or @p version is unknown.
 * Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_list_options_init(ms_list_options *opts,
                                          unsigned int version);

/**
 * Check a `where` expression of ms_list_options without a database.
 *
 * @param errmsg_out receives, on MS_EINVAL, the message naming the
 *                   offset and the offending token; untouched on MS_OK.
 *                   An initialised ms_buf; may be NULL.
 * @param where      the expression; NULL or blank is valid (no filter).
 * @return MS_OK; MS_EINVAL when it does not parse; MS_ENOMEM when only
 *         the message could not be copied.
 * Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_list_where_check(ms_buf *errmsg_out,
                                         const char *where);

/**
 * List primary artifacts (one per version), sorted and filtered by
 * metrics.  ms_store_list() is this with only a name and a limit.
 *
 * @param out   receives the list, owned by the caller (free it with
 *              ms_artifact_list_free()); NULL on failure.  Must not be
 *              NULL.
 * @param store the handle.
 * @param opts  options (borrowed for the call); NULL: the defaults.
 * @return
 *   - MS_OK (possibly an empty list);
 *   - MS_EINVAL: @p store or @p out NULL, unknown options version, an
 *     invalid name or sort metric, or a `where` that does not parse: the
 *     message gives the character offset and the offending token
 *     ("invalid where expression at offset 8: expected an operator
 *     (>= <= > < = !=), found \"=>\"");
 *   - MS_EUNREACHABLE, MS_ENOMEM, MS_ESCHEMA, MS_ERROR.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_list_versions(ms_artifact_list **out,
                                            ms_store *store,
                                            const ms_list_options *opts);

/* ------------------------------------------------------------------ */
/* Aliases                                                             */
/* ------------------------------------------------------------------ */

/**
 * Point an alias of a model name at a version ("champion", "canary").
 *
 * One version per alias per model name (the table's primary key).  The
 * move is recorded in `model_alias_history` and, on commit, notified to
 * watching loaders, which swap in the new version of an alias they
 * serve.  Setting an alias to the version it already has succeeds and
 * records nothing.  The production flag is separate and unchanged.
 *
 * @param store         the handle.
 * @param model_name    NULL means "default".
 * @param alias         the alias, without '@' (ms_alias_check()).
 * @param selector      the version to point at: a version, or
 *                      "production", "latest" or "@OTHER", resolved now.
 * @param reason        recorded in the history; may be NULL.
 * @return
 *   - MS_OK;
 *   - MS_EINVAL: @p store NULL, an invalid name, alias (a reserved word
 *     such as "production" included) or selector;
 *   - MS_ENOTFOUND: no such version;
 *   - MS_EUNREACHABLE, MS_ESCHEMA, MS_ERROR.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_alias_set(ms_store *store,
                                        const char *model_name,
                                        const char *alias,
                                        const char *selector,
                                        const char *reason);

/**
 * Remove an alias, recording it in `model_alias_history`.
 *
 * @param store      the handle.
 * @param model_name NULL means "default".
 * @param alias      the alias, without '@'.
 * @param reason     recorded in the history; may be NULL.
 * @return MS_OK; MS_EINVAL (as for ms_store_alias_set()); MS_ENOTFOUND
 *         (no such alias); MS_EUNREACHABLE, MS_ESCHEMA, MS_ERROR.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_alias_remove(ms_store *store,
                                           const char *model_name,
                                           const char *alias,
                                           const char *reason);

/**
 * The aliases, as one JSON array ordered by model name, then alias:
 *
 *     [{"model_name", "alias", "model_version", "set_at", "set_by"}, ...]
 *
 * @param out        receives the document; an initialised ms_buf.
 * @param store      the handle.
 * @param model_name NULL: every name.
 * @return MS_OK; MS_EINVAL; MS_EUNREACHABLE; MS_ENOMEM; MS_ESCHEMA,
 *         MS_ERROR.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_alias_list(ms_buf *out, ms_store *store,
                                         const char *model_name);

/* ------------------------------------------------------------------ */
/* Partitioning the prediction log                                     */
/* ------------------------------------------------------------------ */

/*
 * model_predictions may be partitioned by day of prediction_time
 * (docs/operations.md, "Partitioning the prediction log"): retention then
 * drops whole partitions instead of deleting rows.  The seed's INSERTs and
 * queries, the logger's idempotent retry and the monitoring views work
 * unchanged on either shape.  These calls need the table owner's rights
 * (the role that runs `modelstore migrate`).
 */

/**
 * Convert model_predictions in place into a table partitioned by day,
 * without moving a row: the existing table becomes the partition for every
 * time before a cutoff two days ahead, daily partitions follow up to
 * @p days_ahead days after today, and a DEFAULT partition takes any time
 * no partition covers.  Writers go on during the long steps (a validated
 * constraint, two indexes built concurrently); the final swap holds an
 * ACCESS EXCLUSIVE lock for milliseconds, waiting at most 2 s for it and
 * trying 5 times.  Each step is skipped when done already, so an
 * interrupted conversion is finished by calling this again; on a table
 * partitioned already it only creates the partitions ahead.  Progress goes
 * to the log callback (MS_LOG_INFO).
 *
 * @param store      an open store, not inside a transaction.
 * @param days_ahead daily partitions to create after today, 0 to 3660.
 * @return MS_OK; MS_EINVAL (@p store NULL, @p days_ahead out of range);
 *         MS_EUNREACHABLE; MS_ESCHEMA (migrate first); MS_ERROR (the
 *         server refused a step, e.g. permission denied, a row with a
 *         NULL prediction_time, or the table stayed busy).  The message is
 *         in ms_store_errmsg().
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_partitions_enable(ms_store *store,
                                                unsigned days_ahead);

/**
 * Undo the first step of a conversion that will not be finished (for
 * example after the process running ms_store_partitions_enable() was
 * killed): drop the range constraint, which would otherwise refuse every
 * row logged after its cutoff.  ms_store_partitions_enable() does this
 * itself when a step fails.  A no-op when nothing was prepared or the
 * table is partitioned.
 *
 * @param store an open store.
 * @return MS_OK; MS_EINVAL; MS_EUNREACHABLE; MS_ERROR.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_partitions_abort(ms_store *store);

/**
 * Create the daily partitions from the last one up to @p days_ahead days
 * after today (run it daily, e.g. from the systemd timer in deployment/).
 * Rows that went to the DEFAULT partition for a day that gets its
 * partition are moved into it in the same transaction.
 *
 * @param created    receives how many partitions were created.
 * @param store      an open store.
 * @param days_ahead 0 to 3660.
 * @return MS_OK; MS_EINVAL (NULL argument, @p days_ahead out of range);
 *         MS_EUNREACHABLE; MS_ERROR (e.g. the table is not partitioned:
 *         ms_store_partitions_enable() first).
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_partitions_ensure(unsigned *created,
                                                ms_store *store,
                                                unsigned days_ahead);

/**
 * Retention: drop every daily partition whose rows are all older than
 * @p older_than_days days before today's midnight, and the converted
 * legacy partition once its cutoff is that old.  The DEFAULT partition is
 * never dropped.
 *
 * @param out             receives a JSON array of the partition names
 *                        dropped (or that would be, with @p dry_run), in
 *                        order.  Dispose with ms_buf_dispose() after MS_OK.
 * @param store           an open store.
 * @param older_than_days 1 to 36500.
 * @param dry_run         non-zero: list, drop nothing.
 * @return MS_OK; MS_EINVAL; MS_EUNREACHABLE; MS_ERROR (e.g. not
 *         partitioned).
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_partitions_drop(ms_buf *out, ms_store *store,
                                              unsigned older_than_days,
                                              int dry_run);

/**
 * Describe the table's partitioning as one JSON object:
 *
 *     {"partitioned": bool, "cutoff": "YYYY-MM-DDTHH:MM:SS" or null,
 *      "partitions": [{"name", "bound", "rows_estimate", "bytes"}, ...]}
 *
 * with the legacy partition first, the daily ones by day, DEFAULT last.
 * rows_estimate is the planner's estimate (pg_class.reltuples).
 *
 * @param out   receives the document; dispose with ms_buf_dispose().
 * @param store an open store.
 * @return MS_OK; MS_EINVAL; MS_EUNREACHABLE; MS_ERROR.
 * Thread-safety: one thread per store.
 */
MS_EXTERN(ms_status) ms_store_partitions_list(ms_buf *out, ms_store *store);

/* ------------------------------------------------------------------ */
/* Model handles                                                       */
/* ------------------------------------------------------------------ */

/**
 * A loaded model: bytes plus metadata, immutable and reference-counted.
 * The bytes are held in one buffer; from 8 MiB up it is an anonymous
 * mapping that asks for transparent huge pages.
 */
typedef struct ms_model ms_model;

/** How a model handle was obtained. */
typedef enum ms_source {
	MS_SOURCE_DATABASE = 0, /**< fetched from PostgreSQL by this call */
	MS_SOURCE_CACHE = 1,    /**< served from the loader's cache */
	MS_SOURCE_FALLBACK = 2  /**< read from the fallback directory */
} ms_source;

/**
 * The name of a source, for display.
 *
 * @param source any value.
 * @return "database", "cache" or "fallback"; "unknown" outside the enum.
 *         Static text.
 * Thread-safety: safe.
 */
MS_EXTERN(const char *) ms_source_str(ms_source source);

/**
 * The model's bytes.
 *
 * @param m the handle; may be NULL.
 * @return read-only bytes, ms_model_size() of them; non-NULL for a
 *         handle, even an empty model; NULL for NULL.  Borrowed; valid
 *         until the last ms_model_release() of the handle.
 * Thread-safety: safe (the handle is immutable).
 */
MS_EXTERN(const void *) ms_model_data(const ms_model *m);

/**
 * The model's size in bytes.
 *
 * @param m the handle; may be NULL.
 * @return the byte count; 0 for NULL.
 * Thread-safety: safe (the handle is immutable).
 */
MS_EXTERN(uint64_t) ms_model_size(const ms_model *m);

/**
 * The model's name.
 *
 * @param m the handle; may be NULL.
 * @return the name; "" for NULL.  Borrowed; valid until the last
 *         ms_model_release() of the handle.
 * Thread-safety: safe (the handle is immutable).
 */
MS_EXTERN(const char *) ms_model_name(const ms_model *m);

/**
 * The model's version.
 *
 * @param m the handle; may be NULL.
 * @return the version; "unknown" for a fallback copy whose sidecar names
 *         none; "" for NULL.  Borrowed; valid until the last
 *         ms_model_release() of the handle.
 * Thread-safety: safe (the handle is immutable).
 */
MS_EXTERN(const char *) ms_model_version(const ms_model *m);

/**
 * The model's type, as pushed.
 *
 * @param m the handle; may be NULL.
 * @return the type; "unknown" for a fallback copy whose sidecar names
 *         none; "" for NULL or a row without one.  Borrowed; valid until
 *         the last ms_model_release() of the handle.
 * Thread-safety: safe (the handle is immutable).
 */
MS_EXTERN(const char *) ms_model_type(const ms_model *m);

/**
 * The model's metrics.
 *
 * @param m the handle; may be NULL.
 * @return a JSON object as text; "{}" when none or for NULL.  Borrowed;
 *         valid until the last ms_model_release() of the handle.
 * Thread-safety: safe (the handle is immutable).
 */
MS_EXTERN(const char *) ms_model_metrics_json(const ms_model *m);

/**
 * The SHA-256 of the model's bytes, always computed while loading.
 *
 * @param m the handle; may be NULL.
 * @return 64 lowercase hex digits; "" only for NULL.  Borrowed; valid
 *         until the last ms_model_release() of the handle.
 * Thread-safety: safe (the handle is immutable).
 */
MS_EXTERN(const char *) ms_model_sha256(const ms_model *m);

/**
 * Where the bytes came from when this handle was handed out.
 *
 * @param m the handle; may be NULL.
 * @return the source; MS_SOURCE_DATABASE for NULL.
 * Thread-safety: safe (the handle is immutable).
 */
MS_EXTERN(ms_source) ms_model_source(const ms_model *m);

/**
 * Whether the bytes were checked against a recorded SHA-256 (of the
 * database row, or of the fallback sidecar).  Bytes that do not match are
 * never served.
 *
 * @param m the handle; may be NULL.
 * @return 1 when they matched a recorded hash; 0 when none was recorded,
 *         or for NULL.
 * Thread-safety: safe (the handle is immutable).
 */
MS_EXTERN(int) ms_model_verified(const ms_model *m);

/**
 * Take one more reference to a model.
 *
 * @param m the handle; NULL is returned as is.
 * @return @p m; the caller owns the new reference and releases it with
 *         ms_model_release().
 * Thread-safety: safe from any thread (the reference is counted on the
 *                calling thread's shard: no cache line shared with
 *                other threads' gets).
 */
MS_EXTERN(ms_model *) ms_model_retain(ms_model *m);

/**
 * Drop one reference to a model; the last one frees it.
 *
 * @param m the handle (one reference is given up); NULL is accepted and
 *          ignored.  After the last release, pointers from the accessors
 *          are invalid.
 * Thread-safety: safe from any thread, also another than the one that
 *                got the handle.
 */
MS_EXTERN(void) ms_model_release(ms_model *m);

/* ------------------------------------------------------------------ */
/* Loader: cache + fallback + hot reload                               */
/* ------------------------------------------------------------------ */

typedef struct ms_loader ms_loader;

/** How a loader notices that the production version changed. */
typedef enum ms_watch_mode {
	MS_WATCH_OFF = 0,    /**< production is resolved on first use, then
	                          cached until evicted: promotions are not
	                          seen */
	MS_WATCH_NOTIFY = 1, /**< a watcher thread LISTENs for promotions
	                          (plus re-checks on every reconnect) */
	MS_WATCH_POLL = 2    /**< a watcher thread polls the production
	                          pointer */
} ms_watch_mode;

/**
 * Called from the watcher thread after it swapped in a new production
 * model, or a new version of an alias the loader serves (not for loads
 * made by ms_loader_get()); call ms_loader_get() to see what moved.  It
 * must not call ms_loader_close().
 *
 * @param payload       ms_loader_options.change_payload.
 * @param model_name    the name (borrowed for the call).
 * @param model_version the new version (borrowed for the call).
 */
typedef void (*ms_change_fn)(void *payload, const char *model_name,
                             const char *model_version);

/** Options for ms_loader_open().  Zero values mean defaults. */
typedef struct ms_loader_options {
	unsigned int version;      /**< MS_LOADER_OPTIONS_VERSION */
	const char *fallback_dir;  /**< NULL or "": "models" (relative to
	                                the working directory); copied */
	uint64_t cache_bytes;      /**< cache budget in bytes; 0: 4 GiB.
	                                Least recently used models are
	                                evicted beyond it (one model may
	                                exceed it alone); handles stay
	                                valid */
	int refresh_fallback;      /**< non-zero: rewrite the fallback copy
	                                (model.bin + model.json) after each
	                                database load of a production model,
	                                unless it is unchanged; a failure
	                                is only recorded as the last
	                                error */
	ms_watch_mode watch;       /**< default MS_WATCH_OFF; other values:
	                                MS_EINVAL */
	unsigned poll_interval_ms; /**< MS_WATCH_POLL only; 0: 1000 */
	int connect_timeout;       /**< seconds per host and address, as
	                                for ms_store_options; 0: 2;
	                                negative: MS_EINVAL */
	ms_change_fn on_change;    /**< may be NULL; watch modes only */
	void *change_payload;      /**< passed to on_change */
	/* --- version 2 --- */
	int query_timeout_ms;      /**< deadline of each statement (of each
	                                row, for a streamed fetch), as for
	                                ms_store_options; 0: 5000;
	                                negative: none.  When it passes,
	                                the load is treated as an outage:
	                                served from the cache or the
	                                fallback, and the database retried
	                                in the background (the watcher) or
	                                after the backoff */
	int idle_disconnect_ms;    /**< with a watcher: the connection used
	                                for callers' loads is closed after
	                                this long unused (it is made again
	                                on the next miss), so an idle loader
	                                holds only the watcher's; 0: 10000;
	                                negative: never */
} ms_loader_options;

#define MS_LOADER_OPTIONS_VERSION 2
#define MS_LOADER_OPTIONS_INIT { MS_LOADER_OPTIONS_VERSION, NULL, 0, 0, \
	MS_WATCH_OFF, 0, 0, NULL, NULL, 0, 0 }

/**
 * Initialise loader options to the defaults of a version.
 *
 * @param opts    the struct to fill (borrowed); must not be NULL.
 * @param version MS_LOADER_OPTIONS_VERSION, or 1 for a struct compiled
 *                against an older header (only its fields are written).
 * @return MS_OK; MS_EINVAL when @p opts is NULL or @p version is unknown.
 * Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_loader_options_init(ms_loader_options *opts,
                                            unsigned int version);

/**
 * Create a loader.
 *
 * Does not need the database to be up: the connection is made on first
 * use and re-made after failures.  With a watch mode, starts the watcher
 * thread, which has its own connection.  When an outage starts and when
 * it ends, the loader writes one line to stderr.
 *
 * @param out      receives the handle, owned by the caller, even on
 *                 failure (NULL only on MS_ENOMEM, or when @p out is
 *                 NULL); always close it with ms_loader_close().
 * @param conninfo as for ms_store_open() (NULL: $DATABASE_URL,
 *                 then libpq's environment), copied, and read again at
 *                 every connection.  It is not checked here: when it
 *                 is malformed, loads fail with MS_EINVAL.
 * @param opts     options (borrowed, not kept); NULL for the defaults.
 * @return
 *   - MS_OK;
 *   - MS_EINVAL: @p out NULL, unknown options version, invalid watch
 *     mode, or negative connect_timeout;
 *   - MS_ENOMEM;
 *   - MS_ERROR: the watcher thread could not be started.
 * Thread-safety: safe (creates a new handle).
 */
MS_EXTERN(ms_status) ms_loader_open(ms_loader **out, const char *conninfo,
                                    const ms_loader_options *opts);

/**
 * Get a model.
 *
 * A cached hit takes a reference and copies no bytes.  "production" and
 * "@ALIAS" are answered from the cache once resolved (a watching loader
 * follows promotions and alias moves); "latest" asks the database
 * which version is newest on every call, then serves cached bytes.
 * Concurrent misses for one model share one load.
 *
 * When the database cannot be reached: "production" is served from a
 * fallback copy already cached, else read from
 * fallback_dir/production[/<name>]/model.bin, then
 * fallback_dir/model.bin, checked against the sidecar model.json when
 * there is one; a version is served from such a file only when its
 * sidecar names that version (not cached); "latest" is served from the
 * last "latest" resolved while the database answered; "@ALIAS" only from
 * the cache (aliases have no fallback file).
 *
 * @param out        receives a model handle with one reference owned by
 *                   the caller (release it with ms_model_release()); set
 *                   to NULL on failure.  Must not be NULL.
 * @param loader     the handle.
 * @param model_name NULL means "default".
 * @param selector   "production", "latest", "@ALIAS" or a version; NULL
 *                   means "production".
 * @return
 *   - MS_OK;
 *   - MS_EINVAL: @p loader or @p out NULL, an invalid name or selector,
 *     a malformed connection string, or a fallback path too long;
 *   - MS_ENOTFOUND: no production model, no such alias, or no such
 *     version;
 *   - MS_EINTEGRITY: the bytes did not match their SHA-256 or size, or a
 *     sidecar is unreadable or disagrees: never served;
 *   - MS_EUNREACHABLE: no database and no usable fallback file;
 *   - MS_EIO: a fallback file could not be read;
 *   - MS_ENOMEM;
 *   - MS_ESCHEMA, MS_ERROR: a query failed on the server.
 * Thread-safety: safe from any thread.
 */
MS_EXTERN(ms_status) ms_loader_get(ms_model **out, ms_loader *loader,
                                   const char *model_name,
                                   const char *selector);

/**
 * Load the production model of every model name into the cache.
 *
 * The names are those with a production model in the database or, when
 * it cannot be reached, those with a fallback copy.  A failure for one
 * name does not stop the others.
 *
 * @param loaded receives how many names were loaded; may be NULL.
 * @param loader the handle.
 * @return
 *   - MS_OK: every name loaded;
 *   - the first failure of ms_loader_get() for a name;
 *   - MS_EINVAL: @p loader NULL, or a malformed connection string;
 *   - MS_EUNREACHABLE: no database and no fallback copy;
 *   - MS_ENOMEM;
 *   - MS_ESCHEMA, MS_ERROR: the query of names failed on the server.
 * Thread-safety: safe from any thread.
 */
MS_EXTERN(ms_status) ms_loader_preload(size_t *loaded, ms_loader *loader);

/**
 * Counters of a loader since it was opened.
 *
 * hits: gets served by the cache lookup without loading; misses: the
 * others.  db_loads: artifacts fetched from the database (by gets and
 * by the watcher).  fallback_loads: fallback files read.  reloads:
 * production models swapped in by the watcher.  bytes_cached, entries:
 * the cache now.  integrity_failures: database or fallback bytes
 * refused.  outages: times the database became unreachable.
 *
 * Start from MS_LOADER_STATS_INIT: ms_loader_stats_get() fills the
 * counters of its `version`.  Counters are only ever appended.
 */
typedef struct ms_loader_stats {
	unsigned int version;     /**< MS_LOADER_STATS_VERSION */
	uint64_t hits, misses, db_loads, fallback_loads, reloads;
	uint64_t bytes_cached, entries;
	uint64_t integrity_failures, outages;
} ms_loader_stats;

#define MS_LOADER_STATS_VERSION 1
#define MS_LOADER_STATS_INIT { MS_LOADER_STATS_VERSION, 0, 0, 0, 0, 0, 0, \
	0, 0, 0 }

/**
 * Snapshot a loader's counters.
 *
 * @param out    receives the counters of its version (borrowed):
 *               initialised with MS_LOADER_STATS_INIT.
 * @param loader the handle; NULL gives all zeros.
 * @return MS_OK; MS_EINVAL when @p out is NULL or its version is unknown
 *         (then it is untouched).
 * Thread-safety: safe from any thread.
 */
MS_EXTERN(ms_status) ms_loader_stats_get(ms_loader_stats *out,
                                         ms_loader *loader);

/**
 * Copy the last error message of a loader.
 *
 * The message is the last one recorded by any thread, the watcher's
 * included; a success does not clear it.
 *
 * @param out    receives the message ("" when none so far); an
 *               initialised ms_buf, owned by the caller (dispose it).
 *               NULL copies nothing.
 * @param loader the handle; NULL (what ms_loader_open() leaves on
 *               MS_ENOMEM) gives "out of memory".
 * @return MS_OK; MS_ENOMEM when the copy could not be allocated.
 * Thread-safety: safe from any thread.
 */
MS_EXTERN(ms_status) ms_loader_last_error(ms_buf *out, ms_loader *loader);

/**
 * Stop the watcher, drop the cache and free the loader.
 *
 * Model handles already handed out stay valid until released.  Waits for
 * the watcher's current database operation to end.
 *
 * @param loader the handle (owned by the caller; freed here).  NULL is
 *               accepted and ignored.
 * Thread-safety: not while another call on @p loader runs, and not from
 *                its on_change callback.
 */
MS_EXTERN(void) ms_loader_close(ms_loader *loader);

/* ------------------------------------------------------------------ */
/* Prediction logger                                                   */
/* ------------------------------------------------------------------ */

typedef struct ms_predlog ms_predlog;

/** Options for ms_predlog_open().  Zero values mean defaults. */
typedef struct ms_predlog_options {
	unsigned int version;      /**< MS_PREDLOG_OPTIONS_VERSION */
	const char *spool_dir;     /**< NULL or "": "spool" (relative to the
	                                working directory); created on first
	                                spool write; copied */
	size_t queue_capacity;     /**< rows held in memory; 0: 65536.
	                                When it is full, ms_predlog_log()
	                                waits for room while the writer is
	                                delivering, and spools the row when
	                                it is not (docs/predictions.md) */
	size_t batch_size;         /**< rows per database write; 0: 5000,
	                                and up to 8 times that when that
	                                many rows are already waiting (a
	                                backlog: fewer commits); an explicit
	                                value is a hard bound.  At most
	                                queue_capacity */
	unsigned flush_interval_ms;/**< a partial batch is sent at least
	                                this often; 0: 200 */
	uint64_t spool_max_bytes;  /**< bytes of all spool files in
	                                spool_dir; 0: 1 GiB.  A write that
	                                would pass it fails (MS_EFULL) */
	int connect_timeout;       /**< seconds per host and address, as
	                                for ms_store_options; 0 or
	                                negative: 2 */
	/** Version 2.  NULL, or called once for each queued row the server
	 *  refused (a data error, e.g. a CHECK constraint): its id (as
	 *  ms_predlog_log() gave it) and the server's reason, both borrowed
	 *  for the call.  Called from the writer thread, so it must be
	 *  thread-safe with respect to the caller's code, must not block for
	 *  long and must not call into this logger.  Rows refused while a
	 *  spool file is replayed are counted and reported through
	 *  ms_predlog_last_error() only.  Naming the refused rows costs a few
	 *  more transactions, only for a batch that had some. */
	void (*on_reject)(void *payload, const char *prediction_id,
	                  const char *reason);
	void *on_reject_payload;   /**< Version 2: given to on_reject */
} ms_predlog_options;

#define MS_PREDLOG_OPTIONS_VERSION 2
#define MS_PREDLOG_OPTIONS_INIT { MS_PREDLOG_OPTIONS_VERSION, NULL, 0, 0, \
	0, 0, 0, NULL, NULL }

/**
 * Initialise logger options to the defaults of a version.
 *
 * @param opts    the struct to fill (borrowed); must not be NULL.
 * @param version MS_PREDLOG_OPTIONS_VERSION (2), or 1: the fields of
 *                version 1 only are written.
 * @return MS_OK; MS_EINVAL when @p opts is NULL or @p version is unknown.
 * Thread-safety: safe.
 */
MS_EXTERN(ms_status) ms_predlog_options_init(ms_predlog_options *opts,
                                             unsigned int version);

/** One prediction.  Strings are copied by ms_predlog_log(). */
typedef struct ms_prediction {
	const char *model_name;      /**< NULL: "default"; must pass
	                                  ms_name_check() */
	const char *model_version;   /**< required: 1 to MS_VERSION_MAX
	                                  characters of UTF-8 without
	                                  control characters */
	const char *input_features;  /**< required: a JSON object as text,
	                                  at most 16 MiB, that jsonb accepts
	                                  (valid UTF-8, no escaped NUL,
	                                  nesting up to 512, numbers in
	                                  numeric's range) */
	double predicted_value;      /**< stored as is */
	double confidence_score;     /**< NAN: NULL */
	double actual_value;         /**< NAN: NULL */
} ms_prediction;

/** Length of a textual UUID plus NUL. */
#define MS_UUID_STRLEN 37

/**
 * Open a prediction logger.
 *
 * Starts the writer thread, which connects, replays any spool files left
 * in the spool directory (by this or a dead process), then writes queued
 * rows in batches with binary COPY.  Does not need the database to be
 * up: what cannot be written is spooled and replayed later.
 *
 * @param out      receives the handle, owned by the caller, even on
 *                 failure (NULL only on MS_ENOMEM, or when @p out is
 *                 NULL); always close it with ms_predlog_close().  After
 *                 a failed open, ms_predlog_log() and ms_predlog_flush()
 *                 return MS_ERROR.
 * @param conninfo as for ms_store_open() (NULL: $DATABASE_URL,
 *                 then libpq's environment), copied, and read again at
 *                 every connection.  It is not checked here: when it
 *                 is malformed, the writer never connects, rows are
 *                 spooled, and ms_predlog_last_error() says why.
 * @param opts     options (borrowed, not kept; version 1 or 2); NULL for
 *                 the defaults.
 * @return
 *   - MS_OK;
 *   - MS_EINVAL: @p out NULL or unknown options version;
 *   - MS_EIO: the spool directory exists but cannot be read;
 *   - MS_ENOMEM;
 *   - MS_ERROR: the writer thread could not be started.
 * Thread-safety: safe (creates a new handle).
 */
MS_EXTERN(ms_status) ms_predlog_open(ms_predlog **out, const char *conninfo,
                                     const ms_predlog_options *opts);

/**
 * Queue one prediction.
 *
 * Never touches the network.  The row is stamped with a new UUIDv7 and
 * the current time.  When the queue is full and the writer is delivering
 * (connected, its last batch in), the call waits for room - at most one
 * bounded wait of 0.5 s, or 4 times the last batch's delivery time, up
 * to 5 s; when the writer is not delivering, or no room came within that
 * wait, the row is appended to the spool instead (one write; the writer
 * thread fsyncs it).
 *
 * @param id_out receives the prediction's UUIDv7 as text on MS_OK, ""
 *               on failure; may be NULL.
 * @param log    the handle.
 * @param p      the prediction (borrowed for the call; its strings are
 *               copied).
 * @return
 *   - MS_OK: queued or spooled;
 *   - MS_EINVAL: @p log or @p p NULL, or an invalid name, version or
 *     features (counted as rejected);
 *   - MS_ERROR: @p log comes from a failed ms_predlog_open();
 *   - MS_EFULL: queue and spool are both full (counted as dropped_full);
 *   - MS_EIO: the queue is full and the spool could not be written;
 *   - MS_ENOMEM.
 * Thread-safety: safe from any thread.
 */
MS_EXTERN(ms_status) ms_predlog_log(char id_out[MS_UUID_STRLEN],
                                    ms_predlog *log,
                                    const ms_prediction *p);

/**
 * Wait until everything queued so far is in the database or spooled.
 *
 * Asks the writer to send what it holds now, then waits for it to
 * finish with every row queued before the call (written, spooled, or
 * rejected by the server) and to report an empty queue.  While neither
 * the database nor the spool takes rows, that does not happen before the
 * timeout.
 *
 * @param log        the handle.
 * @param timeout_ms how long to wait, in milliseconds.  0 does not wait:
 *                   the flush is still requested, and MS_OK means it was
 *                   already done.  There is no "wait forever" value.
 * @return
 *   - MS_OK;
 *   - MS_ETIMEDOUT: not done within @p timeout_ms (the flush goes on in
 *     the background; the last error says so);
 *   - MS_EINVAL: @p log NULL;
 *   - MS_ERROR: @p log comes from a failed ms_predlog_open().
 * Thread-safety: safe from any thread.
 */
MS_EXTERN(ms_status) ms_predlog_flush(ms_predlog *log, unsigned timeout_ms);

/**
 * Counters of a logger since it was opened, in rows unless said.
 *
 * accepted: by ms_predlog_log() (queued or spooled).  written: inserted
 * into model_predictions (replays included).  spooled: appended to the
 * spool.  replayed: read back from spool files and committed.  rejected:
 * refused by ms_predlog_log() or by the server.  dropped_full: refused
 * with MS_EFULL.  spool_corrupt: damaged spool records skipped.
 * batches: database transactions committed.  retries: batches re-sent on
 * the idempotent path after a failure.  lost (version 2): accepted rows
 * that could be neither written nor spooled and were dropped at close
 * (ms_predlog_close() then returns MS_EFULL).
 *
 * Start from MS_PREDLOG_STATS_INIT: ms_predlog_stats_get() fills the
 * counters of its `version` (1 or 2).  Counters are only ever appended.
 */
typedef struct ms_predlog_stats {
	unsigned int version;     /**< MS_PREDLOG_STATS_VERSION */
	uint64_t accepted, written, spooled, replayed, rejected, dropped_full;
	uint64_t spool_corrupt, batches, retries;
	uint64_t lost;            /**< version 2 */
} ms_predlog_stats;

#define MS_PREDLOG_STATS_VERSION 2
#define MS_PREDLOG_STATS_INIT { MS_PREDLOG_STATS_VERSION, 0, 0, 0, 0, 0, \
	0, 0, 0, 0, 0 }

/**
 * Snapshot a logger's counters.
 *
 * @param out receives the counters of its version (borrowed):
 *            initialised with MS_PREDLOG_STATS_INIT.
 * @param log the handle; NULL gives all zeros.
 * @return MS_OK; MS_EINVAL when @p out is NULL or its version is unknown
 *         (then it is untouched).
 * Thread-safety: safe from any thread.
 */
MS_EXTERN(ms_status) ms_predlog_stats_get(ms_predlog_stats *out,
                                          ms_predlog *log);

/**
 * Copy the last error message of a logger.
 *
 * The message is the last one recorded by any thread, the writer's
 * included; a success does not clear it.
 *
 * @param out receives the message ("" when none so far); an initialised
 *            ms_buf, owned by the caller (dispose it).
 * @param log the handle.
 * @return MS_OK; MS_EINVAL when @p log or @p out is NULL; MS_ENOMEM when
 *         the copy could not be allocated.
 * Thread-safety: safe from any thread.
 */
MS_EXTERN(ms_status) ms_predlog_last_error(ms_buf *out, ms_predlog *log);

/**
 * Flush, spool what cannot reach the database, stop the writer, free.
 *
 * Blocks until the writer is done: when it has no connection it tries
 * once more to connect (bounded by connect_timeout per host and
 * address), then writes or spools every queued row, and replays the
 * spool when connected.
 *
 * @param log the handle (owned by the caller; freed here, whatever the
 *            result).  NULL is accepted: MS_OK.
 * @return MS_OK when nothing was lost (spooled counts as kept);
 *         MS_EFULL when rows could be neither written nor spooled and
 *         were dropped.
 * Thread-safety: not while another call on @p log runs.
 */
MS_EXTERN(ms_status) ms_predlog_close(ms_predlog *log);

/**
 * ms_predlog_close(), then the logger's final counters and last error.
 *
 * Counters read before close miss what close itself wrote, spooled or
 * lost; these are read after the writer has stopped, so they are final.
 *
 * @param stats_out  receives the final counters (borrowed; initialised
 *                   with MS_PREDLOG_STATS_INIT, version 1 or 2); may be
 *                   NULL.  Left untouched when its version is unknown.
 * @param errmsg_out receives the last error message ("" when none); an
 *                   initialised ms_buf owned by the caller; may be NULL.
 * @param log        the handle (owned by the caller; freed here,
 *                   whatever the result).  NULL: MS_OK, zero counters.
 * @return
 *   - MS_OK: every row this logger accepted is in the database, and the
 *     spool has nothing left to replay;
 *   - MS_EFULL: rows could be neither written nor spooled and were
 *     dropped (counted in `lost`);
 *   - otherwise nothing was lost but rows wait in the spool, and the
 *     status says why the writer could not deliver them:
 *     MS_EUNREACHABLE (no connection), MS_ESCHEMA (table or column
 *     missing), MS_ERROR (any other server error, e.g. permission
 *     denied); @p errmsg_out has the server's words.
 * Thread-safety: not while another call on @p log runs.
 */
MS_EXTERN(ms_status) ms_predlog_close_stats(ms_predlog_stats *stats_out,
                                            ms_buf *errmsg_out,
                                            ms_predlog *log);

/* ------------------------------------------------------------------ */
/* Logging                                                             */
/* ------------------------------------------------------------------ */

/** Severity of a log event. */
typedef enum ms_log_level {
	MS_LOG_ERROR = 0, /**< an operation failed and nobody was told */
	MS_LOG_WARN = 1,  /**< degraded: database lost, fallback served */
	MS_LOG_INFO = 2,  /**< back to normal, model swapped, spool replayed */
	MS_LOG_DEBUG = 3  /**< detail for investigations */
} ms_log_level;

/**
 * Receives the library's log events.
 *
 * @param payload the pointer given to ms_set_log_fn()
 * @param level   the event's severity
 * @param message one line, no trailing newline, never a password;
 *                borrowed for the duration of the call
 *
 * Called from whichever thread had the event (often a loader's watcher or
 * a logger's writer thread), so it must be thread-safe itself; it must not
 * call ms_set_log_fn().
 */
typedef void (*ms_log_fn)(void *payload, ms_log_level level,
                          const char *message);

/**
 * Install the process-wide log callback; NULL (the default) drops events.
 *
 * The library never writes to stdout or stderr: events that no call
 * returns (a lost watch connection, a fallback served, a model swapped)
 * go to this callback and nowhere else.
 *
 * @param fn      the callback, or NULL to silence the library
 * @param payload passed to every call of @p fn; borrowed until @p fn is
 *                replaced: when this function returns, no thread is still
 *                inside the previous callback, so its payload may be freed
 *
 * Thread-safety: safe from any thread, but not from inside the callback.
 */
MS_EXTERN(void) ms_set_log_fn(ms_log_fn fn, void *payload);

/**
 * Static text naming a level ("error", "warning", "info", "debug").
 *
 * @param level a level
 * @return static text; "unknown" for a value outside the enum
 *
 * Thread-safety: safe.
 */
MS_EXTERN(const char *) ms_log_level_str(ms_log_level level);

#ifdef __cplusplus
}
#endif

#endif /* MODELSTORE_H */
