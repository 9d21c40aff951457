/*
 * actual.c - the observed outcome of a logged prediction: recording the
 * actual value against its prediction id in model_predictions.
 */
#include "store.h"

#include "conn.h"
#include "errbuf.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

ms_status ms_store_record_actual(ms_store *s, const char *prediction_id,
                                 double actual)
{
	char val[32];
	const char *p[2] = { prediction_id, val };
	PGresult *res;
	ms_status st;

	MS__STORE_REQUIRE_CONN(s);
	if (prediction_id == NULL || isnan(actual) || isinf(actual))
		return ms__err_set(&s->err, MS_EINVAL,
		                   "record actual: need a prediction id and a finite "
		                   "value");
	snprintf(val, sizeof val, "%.17g", actual);
	st = ms__exec(s->conn, &s->err, &res, PGRES_COMMAND_OK, "record actual",
	              "UPDATE model_predictions SET actual_value = $2::float8,"
	              " actual_recorded_at = now() WHERE prediction_id = $1::uuid",
	              2, p);
	if (st == MS_EINVAL)
		return ms__err_set(&s->err, MS_EINVAL,
		                   "invalid prediction id: \"%.40s\" (not a UUID)",
		                   prediction_id);
	if (st != MS_OK)
		return st;
	if (strcmp(PQcmdTuples(res), "0") == 0) {
		PQclear(res);
		return ms__err_set(&s->err, MS_ENOTFOUND,
		                   "record actual: no prediction with id %s",
		                   prediction_id);
	}
	PQclear(res);
	return MS_OK;
}
