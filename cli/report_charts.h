/* report_charts.h - the inline SVG charts of `report --html`
 * (report_charts.c).  Each chart function writes one <figure> (or a
 * short note when there is nothing to draw) and returns the number of
 * data points it drew. */
#ifndef MS_REPORT_CHARTS_H
#define MS_REPORT_CHARTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#define CHART_MAX_VERSIONS 64

/* The versions of one model name, oldest first: version i has colour i.
 * The strings are borrowed from the documents. */
typedef struct chart_versions {
	const char *v[CHART_MAX_VERSIONS];
	size_t n;
} chart_versions;

/* @versions [start, end): one name's rows of the report document (newest
 * first); @daily: the series' rows (all names). */
void chart_versions_init(chart_versions *cv, const json_t *versions,
                         size_t start, size_t end, const json_t *daily,
                         const char *name);
int chart_version_index(const chart_versions *cv, const char *v);

/* Predictions per day, stacked by version: one <rect data-kind="volume">
 * per row of model_prediction_volume_daily. */
size_t chart_volume(FILE *f, const json_t *daily, const json_t *events,
                    const char *name, const chart_versions *cv);
/* MAE and RMSE per day and version, promotions and rollbacks marked:
 * <circle data-kind="mae"> per row with a MAE, "rmse" likewise. */
size_t chart_error(FILE *f, const json_t *daily, const json_t *events,
                   const char *name, const chart_versions *cv);
/* The production version's days: volume (x) against MAE (y). */
size_t chart_volume_error(FILE *f, const json_t *daily, const char *name,
                          const char *prod, const chart_versions *cv);
/* Model size per version: one <rect data-kind="size"> per version. */
size_t chart_sizes(FILE *f, const json_t *versions, size_t start, size_t end,
                   const char *name, const chart_versions *cv);

#endif
