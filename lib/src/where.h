/*
 * where.h - the `--where` expression of version listings: parsed here
 * into conditions whose names and numbers become SQL parameters; the
 * text itself never reaches SQL (ms__ names).  Not installed.
 *
 *     expression := condition { "and" condition }
 *     condition  := METRIC op NUMBER
 *     op         := ">=" | "<=" | ">" | "<" | "=" | "!="
 */
#ifndef MS_WHERE_H
#define MS_WHERE_H

#include "errbuf.h"

#include <stddef.h>

#define MS__WHERE_MAX 16 /* conditions */

typedef enum ms__where_op {
	MS__OP_GE, MS__OP_LE, MS__OP_GT, MS__OP_LT, MS__OP_EQ, MS__OP_NE
} ms__where_op;

typedef struct ms__where_cond {
	char metric[MS_METRIC_MAX + 1];
	ms__where_op op;
	double value;           /* finite */
	char value_text[40];    /* "%.17g" of value, the SQL parameter */
} ms__where_cond;

typedef struct ms__where {
	size_t n;
	ms__where_cond c[MS__WHERE_MAX];
} ms__where;

/* Parse @p text (NULL or blank: no condition).  MS_EINVAL with a message
 * naming the character offset and the offending token, printable (bytes
 * outside printable ASCII as \xNN), on failure. */
ms_status ms__where_parse(ms__where *out, ms_err *e, const char *text);

/* The SQL operator of @p op: a constant of this file, never user text. */
const char *ms__where_op_sql(ms__where_op op);

#endif
