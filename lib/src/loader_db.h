/*
 * loader_db.h - the loader's side of the database: the callers' shared
 * connection, outage bookkeeping and backoff, fetching a model into a
 * payload (ms__ names).  Not installed.
 */
#ifndef MS_LOADER_DB_H
#define MS_LOADER_DB_H

#include "errbuf.h"
#include "model.h"

#include <libpq-fe.h>
#include <stdbool.h>

/* The connection's lock and the backoff, at open; the connection and its
 * lock, at close. */
void ms__loader_db_init(ms_loader *l);
void ms__loader_db_close(ms_loader *l);

/* Connect for the loader (its conninfo and connect timeout) and put the
 * query deadline on the connection. */
ms_status ms__loader_connect(ms_loader *l, PGconn **c, ms_err *e);
/* Close the callers' connection when unused for idle_disconnect_ms (and
 * no caller holds it): the watcher calls this between its waits. */
void ms__loader_db_idle_close(ms_loader *l);

/* The database could not be reached (@p msg says why): the first time,
 * log one line and count an outage; in any case back off before the next
 * caller retries. */
void ms__loader_note_unreachable(ms_loader *l, const char *msg);
/* The database answered: end the outage (logging one line). */
void ms__loader_note_reachable(ms_loader *l);
/* After a failed statement on *@p c: drop the connection and note the
 * outage when the server is gone. */
void ms__loader_db_failed(ms_loader *l, PGconn **c, ms_status st, ms_err *e);

/* Once the backoff has passed, claim the retry of the database for this
 * thread (one caller wins; the next retry is due a backoff later): true
 * when claimed.  This thread's next connect then goes ahead in spite of
 * the outage, until ms__loader_db_retry_done. */
bool ms__loader_db_claim_retry(ms_loader *l);
void ms__loader_db_retry_done(void);

/* A unit of work on the callers' connection (l->conn); may run twice (see
 * ms__loader_db_run), so it must start from scratch each time. */
typedef ms_status (*ms_loader_db_op)(ms_loader *l, ms_err *e, void *ctx);

/* Acquire the callers' connection, run @p op, once more on a fresh
 * connection when the first failure came from a stale one, drop the
 * connection when the server is gone, and release.  During an outage,
 * callers neither retry before the backoff nor queue behind another
 * thread's attempt: MS_EUNREACHABLE at once. */
ms_status ms__loader_db_run(ms_loader *l, ms_err *e, ms_loader_db_op op,
                            void *ctx);

/* Resolve "production", "latest" or "@ALIAS" to a version string. */
ms_status ms__loader_resolve_version(PGconn *c, ms_err *e, const char *name,
                                     const char *selector,
                                     char out[MS_VERSION_MAX + 1]);

/* Fetch (name, version) over @p c into a new payload (origin database).
 * @p info receives the metadata (dispose it). */
ms_status ms__loader_db_fetch(ms_loader *l, PGconn *c, ms_err *e,
                              const char *name, const char *version,
                              ms_artifact_info *info, ms_payload **out);

#endif
