/*
 * schema.h - the embedded migrations and the schema version check
 * (ms__ names).  Not installed.
 */
#ifndef MS_SCHEMA_H
#define MS_SCHEMA_H

#include "errbuf.h"

#include <libpq-fe.h>

/* The number of migrations this library carries. */
int ms__schema_known_version(void);
/* The highest migration this library needs (not marked optional). */
int ms__schema_needed_version(void);
/* The database's schema version into *@p out: 0 when it was never
 * migrated (no modelstore_migrations table). */
ms_status ms__schema_db_version(PGconn *conn, ms_err *e, int *out);
ms_status ms__schema_check(PGconn *conn, ms_err *e);
ms_status ms__schema_migrate(PGconn *conn, ms_err *e, int *applied);

#endif
