/*
 * report_charts.c - the inline SVG charts of `modelstore report --html`,
 * drawn here from the documents of ms_store_report() and
 * ms_store_report_series(): no script, no external asset, no network.
 *
 * Every chart is one <svg class="chart" data-chart="KIND"> with a
 * viewBox (it scales to the page's width, on screen and in print), a
 * <title>, axes with units, and a legend.  Every data point is one
 * element carrying its data as attributes (data-version, data-day,
 * data-count, data-value, data-bytes), so that a test can count them
 * against the view's rows in the rendered DOM.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report_charts.h"

/* Geometry, in viewBox units (about pixels at 1280 px wide). */
#define W 1200.0
#define H 340.0
#define X0 84.0          /* plot area */
#define X1 (W - 190.0)   /* the legend is right of it */
#define Y0 28.0
#define Y1 (H - 52.0)

/* Okabe-Ito: told apart with the common colour-vision deficiencies, and
 * in grey print by the dash patterns of the lines. */
static const char *const PALETTE[] = {
	"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
	"#F0E442", "#000000"
};
#define NPAL (sizeof PALETTE / sizeof *PALETTE)

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			if ((unsigned char)*s >= 0x20)
				fputc(*s, f);
		}
	}
}

static const char *str_of(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* "YYYY-MM-DD" -> days since 1970-01-01; -1 when malformed. */
static long day_num(const char *d)
{
	struct tm tm = { 0 };
	if (d == NULL || sscanf(d, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon,
	                        &tm.tm_mday) != 3)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long)(timegm(&tm) / 86400);
}

static void day_text(char *buf, size_t n, long day, bool year)
{
	time_t t = (time_t)day * 86400;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, year ? "%Y-%m-%d" : "%m-%d", &tm);
}

/* Without libm (the CLI builds against the installed library alone,
 * tests/install_consumer.sh): the few functions the axes need. */
static double r_floor(double x)
{
	double t = (double)(long long)x;
	return t > x ? t - 1 : t;
}

static double r_ceil(double x)
{
	double t = (double)(long long)x;
	return t < x ? t + 1 : t;
}

static double r_abs(double x)
{
	return x < 0 ? -x : x;
}

/* floor(log10(x)) for x > 0 */
static int r_ilog10(double x)
{
	int k = 0;
	if (!(x > 0))
		return 0;
	while (x >= 10) {
		x /= 10;
		k++;
	}
	while (x < 1) {
		x *= 10;
		k--;
	}
	return k;
}

static double r_pow10(int k)
{
	double r = 1;
	for (; k > 0; k--)
		r *= 10;
	for (; k < 0; k++)
		r /= 10;
	return r;
}

/* A "nice" axis from @lo to @hi in about @ticks steps of 1, 2 or 5
 * times a power of ten; @dec: the decimals every label of it gets. */
typedef struct axis {
	double lo, hi, step;
	int dec;
} axis;

static void nice_axis(axis *a, double lo, double hi, int ticks)
{
	double raw, mag, f;
	if (!(hi > lo)) {
		hi = lo + (lo == 0 ? 1 : r_abs(lo));
		if (lo > 0)
			lo = 0;
	}
	hi += (hi - lo) * 0.04; /* headroom: no point on the frame */
	raw = (hi - lo) / ticks;
	mag = r_pow10(r_ilog10(raw));
	f = raw / mag;
	a->step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
	a->lo = r_floor(lo / a->step) * a->step;
	a->hi = r_ceil(hi / a->step) * a->step;
	a->dec = a->step >= 1 ? 0 : -r_ilog10(a->step * 1.000001);
}

static double ypos(const axis *a, double v)
{
	return Y1 - (v - a->lo) / (a->hi - a->lo) * (Y1 - Y0);
}

/* The time axis: days @d0..@d1, each a band of equal width. */
typedef struct taxis {
	long d0, d1;
	double band;
} taxis;

static void time_axis(taxis *t, long d0, long d1)
{
	t->d0 = d0;
	t->d1 = d1 < d0 ? d0 : d1;
	t->band = (X1 - X0) / (double)(t->d1 - t->d0 + 1);
}

static double xday(const taxis *t, long d) /* the band's middle */
{
	return X0 + ((double)(d - t->d0) + 0.5) * t->band;
}

static void svg_open(FILE *f, const char *kind, const char *name,
                     const char *title, double h)
{
	fprintf(f, "<figure class=\"chart\">\n<svg class=\"chart\" "
	        "data-chart=\"%s\" data-model=\"", kind);
	esc(f, name);
	fprintf(f, "\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
	        "xmlns=\"http://www.w3.org/2000/svg\" "
	        "font-family=\"system-ui, sans-serif\" font-size=\"13\">\n"
	        "<title>", W, h);
	esc(f, title);
	fputs("</title>\n", f);
}

static void svg_close(FILE *f, const char *caption)
{
	fputs("</svg>\n<figcaption>", f);
	esc(f, caption);
	fputs("</figcaption>\n</figure>\n", f);
}

/* Horizontal grid lines and labels of @a, and the y axis title. */
static void y_axis(FILE *f, const axis *a, const char *title)
{
	for (double v = a->lo; v <= a->hi + a->step / 2; v += a->step) {
		double y = ypos(a, v);
		fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
		        "stroke=\"#e3e6eb\"/>\n", X0, X1, y, y);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
		        "fill=\"#3c4657\">%.*f</text>\n", X0 - 6, y + 4, a->dec,
		        r_abs(v) < a->step / 1e6 ? 0.0 : v);
	}
	fprintf(f, "<text transform=\"translate(16 %.1f) rotate(-90)\" "
	        "text-anchor=\"middle\" fill=\"#1d2430\">", (Y0 + Y1) / 2);
	esc(f, title);
	fputs("</text>\n", f);
	fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
	        "stroke=\"#5b6576\"/>\n", X0, X0, Y0, Y1);
}

/* Day ticks: at most about 12 labels, the first with its year. */
static void x_time_axis(FILE *f, const taxis *t)
{
	long n = t->d1 - t->d0 + 1, step = 1;
	static const long steps[] = { 1, 2, 7, 14, 30, 61, 91, 182, 365 };
	for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
		step = steps[i];
		if (n / step <= 10)
			break;
	}
	fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
	        "stroke=\"#5b6576\"/>\n", X0, X1, Y1, Y1);
	for (long d = t->d0; d <= t->d1; d += step) {
		char buf[16];
		double x = xday(t, d);
		day_text(buf, sizeof buf, d, d == t->d0);
		fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
		        "stroke=\"#5b6576\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
		        "text-anchor=\"middle\" fill=\"#3c4657\">%s</text>\n",
		        x, x, Y1, Y1 + 5, x, Y1 + 19, buf);
	}
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
	        "fill=\"#1d2430\">day (server calendar)</text>\n", (X0 + X1) / 2,
	        Y1 + 40);
}

/* ------------------------------------------------------------------ */
/* the versions of one model name: a colour each                       */
/* ------------------------------------------------------------------ */

void chart_versions_init(chart_versions *cv, const json_t *versions,
                         size_t start, size_t end, const json_t *daily,
                         const char *name)
{
	size_t i;
	const json_t *r;
	memset(cv, 0, sizeof *cv);
	/* oldest first: colours stay put as versions are added */
	for (i = end; i-- > start && cv->n < CHART_MAX_VERSIONS;)
		cv->v[cv->n++] = str_of(json_array_get(versions, i), "model_version");
	json_array_foreach(daily, i, r) {
		const char *v = str_of(r, "model_version");
		if (strcmp(str_of(r, "model_name"), name) != 0 || v == NULL ||
		    chart_version_index(cv, v) >= 0 || cv->n >= CHART_MAX_VERSIONS)
			continue;
		cv->v[cv->n++] = v; /* predictions of a pruned version */
	}
}

int chart_version_index(const chart_versions *cv, const char *v)
{
	for (size_t i = 0; i < cv->n; i++)
		if (cv->v[i] && v && strcmp(cv->v[i], v) == 0)
			return (int)i;
	return -1;
}

static const char *color_of(const chart_versions *cv, const char *v)
{
	int i = chart_version_index(cv, v);
	return i < 0 ? "#8a93a3" : PALETTE[(size_t)i % NPAL];
}

/* The legend right of the plot: the versions present in @present
 * (NULL: all), each with its swatch; @lines: also the MAE/RMSE key. */
static void legend(FILE *f, const chart_versions *cv, const bool *present,
                   bool lines)
{
	double y = Y0 + 4;
	fprintf(f, "<g class=\"legend\"><text x=\"%.1f\" y=\"%.1f\" "
	        "font-weight=\"600\" fill=\"#1d2430\">version</text>\n",
	        X1 + 24, y);
	for (size_t i = 0; i < cv->n; i++) {
		char v[24];
		if (present && !present[i])
			continue;
		y += 19;
		snprintf(v, sizeof v, "%s", cv->v[i]);
		if (strlen(cv->v[i]) > 20)
			strcpy(v + 17, "...");
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"12\" "
		        "fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\" fill=\"#1d2430\">",
		        X1 + 24, y - 10, PALETTE[i % NPAL], X1 + 44, y);
		esc(f, v);
		fputs("</text>\n", f);
		if (y > Y1 - (lines ? 60 : 0))
			break;
	}
	if (lines) {
		y += 28;
		fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
		        "stroke=\"#1d2430\" stroke-width=\"2\"/><text x=\"%.1f\" "
		        "y=\"%.1f\" fill=\"#1d2430\">MAE</text>\n", X1 + 24, X1 + 44,
		        y - 4, y - 4, X1 + 50, y);
		y += 19;
		fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
		        "stroke=\"#1d2430\" stroke-width=\"2\" "
		        "stroke-dasharray=\"5 3\"/><text x=\"%.1f\" y=\"%.1f\" "
		        "fill=\"#1d2430\">RMSE</text>\n", X1 + 24, X1 + 44, y - 4,
		        y - 4, X1 + 50, y);
	}
	fputs("</g>\n", f);
}

/* The days of @name's rows and events: false when there are none. */
static bool day_range(const json_t *daily, const json_t *events,
                      const char *name, long *d0, long *d1)
{
	size_t i;
	const json_t *r;
	*d0 = -1;
	*d1 = -1;
	json_array_foreach(daily, i, r) {
		long d = day_num(str_of(r, "day"));
		if (strcmp(str_of(r, "model_name"), name) != 0 || d < 0)
			continue;
		if (*d0 < 0 || d < *d0) *d0 = d;
		if (d > *d1) *d1 = d;
	}
	if (*d0 < 0)
		return false;
	json_array_foreach(events, i, r) {
		long d = day_num(str_of(r, "day"));
		if (strcmp(str_of(r, "model_name"), name) != 0 || d < 0)
			continue;
		if (d < *d0) *d0 = d;
		if (d > *d1) *d1 = d;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* 1. predictions per day per version: stacked bars                    */
/* ------------------------------------------------------------------ */

size_t chart_volume(FILE *f, const json_t *daily, const json_t *events,
                    const char *name, const chart_versions *cv)
{
	long d0, d1;
	taxis t;
	axis a;
	double maxday = 0, *stack;
	bool present[CHART_MAX_VERSIONS] = { false };
	size_t i, drawn = 0;
	const json_t *r;

	if (!day_range(daily, events, name, &d0, &d1))
		return 0;
	time_axis(&t, d0, d1);
	stack = calloc((size_t)(d1 - d0 + 1), sizeof *stack);
	if (stack == NULL)
		return 0;
	json_array_foreach(daily, i, r) {
		long d = day_num(str_of(r, "day"));
		if (strcmp(str_of(r, "model_name"), name) != 0 || d < 0)
			continue;
		stack[d - d0] += (double)json_integer_value(
			json_object_get(r, "prediction_count"));
		if (stack[d - d0] > maxday)
			maxday = stack[d - d0];
	}
	memset(stack, 0, (size_t)(d1 - d0 + 1) * sizeof *stack);
	nice_axis(&a, 0, maxday, 5);
	svg_open(f, "volume", name, "Predictions per day, per version", H);
	y_axis(f, &a, "predictions per day");
	x_time_axis(f, &t);
	json_array_foreach(daily, i, r) {
		const char *v = str_of(r, "model_version"), *day = str_of(r, "day");
		long d = day_num(day);
		json_int_t n = json_integer_value(json_object_get(r, "prediction_count"));
		double y0, y1, bw = t.band * 0.8 < 1 ? 1 : t.band * 0.8;
		int vi;
		if (strcmp(str_of(r, "model_name"), name) != 0 || d < 0)
			continue;
		y0 = ypos(&a, stack[d - d0]);
		stack[d - d0] += (double)n;
		y1 = ypos(&a, stack[d - d0]);
		if ((vi = chart_version_index(cv, v)) >= 0)
			present[vi] = true;
		fprintf(f, "<rect class=\"pt\" data-kind=\"volume\" data-version=\"");
		esc(f, v);
		fprintf(f, "\" data-day=\"%s\" data-count=\"%lld\" x=\"%.2f\" "
		        "y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\">"
		        "<title>", day, (long long)n, xday(&t, d) - bw / 2, y1, bw,
		        y0 - y1 < 0.5 ? 0.5 : y0 - y1, color_of(cv, v));
		esc(f, v);
		fprintf(f, ", %s: %lld predictions</title></rect>\n", day,
		        (long long)n);
		drawn++;
	}
	free(stack);
	legend(f, cv, present, false);
	svg_close(f, "Predictions logged per day (server calendar day), stacked "
	          "by model version. Source: model_prediction_volume_daily.");
	return drawn;
}

/* ------------------------------------------------------------------ */
/* 2. observed error over time, with promotions and rollbacks          */
/* ------------------------------------------------------------------ */

/* One version's MAE or RMSE: the line (broken where a day has no
 * figure: no line across days it did not serve), then its points. */
static void error_series(FILE *f, const json_t *daily, const char *name,
                         const char *version, const char *key,
                         const char *kind, const taxis *t, const axis *a,
                         const char *color, bool dashed)
{
	size_t i;
	const json_t *r;
	long prev = -10;
	bool open = false;
	json_array_foreach(daily, i, r) {
		const json_t *v = json_object_get(r, key);
		long d = day_num(str_of(r, "day"));
		if (strcmp(str_of(r, "model_name"), name) != 0 ||
		    strcmp(str_of(r, "model_version"), version) != 0 ||
		    !json_is_number(v))
			continue;
		if (open && d != prev + 1) {
			fputs("\"/>\n", f);
			open = false;
		}
		if (!open) {
			fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" "
			        "stroke-width=\"2\"%s points=\"", color,
			        dashed ? " stroke-dasharray=\"5 3\"" : "");
			open = true;
		}
		fprintf(f, "%.2f,%.2f ", xday(t, d), ypos(a, json_number_value(v)));
		prev = d;
	}
	if (open)
		fputs("\"/>\n", f);
	json_array_foreach(daily, i, r) {
		const json_t *v = json_object_get(r, key);
		const char *day = str_of(r, "day");
		if (strcmp(str_of(r, "model_name"), name) != 0 ||
		    strcmp(str_of(r, "model_version"), version) != 0 ||
		    !json_is_number(v))
			continue;
		fprintf(f, "<circle class=\"pt\" data-kind=\"%s\" data-version=\"",
		        kind);
		esc(f, version);
		fprintf(f, "\" data-day=\"%s\" data-value=\"%.17g\" cx=\"%.2f\" "
		        "cy=\"%.2f\" r=\"%s\" fill=\"%s\" stroke=\"%s\" "
		        "stroke-width=\"1.5\"><title>", day, json_number_value(v),
		        xday(t, day_num(day)), ypos(a, json_number_value(v)),
		        dashed ? "4.5" : "3.5", dashed ? "#fff" : color, color);
		esc(f, version);
		fprintf(f, ", %s: %s %.4f</title></circle>\n", day,
		        dashed ? "RMSE" : "MAE", json_number_value(v));
	}
}

size_t chart_error(FILE *f, const json_t *daily, const json_t *events,
                   const char *name, const chart_versions *cv)
{
	long d0, d1;
	taxis t;
	axis a;
	double maxe = 0;
	bool present[CHART_MAX_VERSIONS] = { false };
	size_t i, points = 0, k = 0;
	const json_t *r;

	if (!day_range(daily, events, name, &d0, &d1))
		return 0;
	json_array_foreach(daily, i, r) {
		const json_t *m = json_object_get(r, "mean_absolute_error");
		const json_t *s = json_object_get(r, "rmse");
		int vi;
		if (strcmp(str_of(r, "model_name"), name) != 0 || !json_is_number(m))
			continue;
		if (json_number_value(m) > maxe) maxe = json_number_value(m);
		if (json_is_number(s) && json_number_value(s) > maxe)
			maxe = json_number_value(s);
		if ((vi = chart_version_index(cv, str_of(r, "model_version"))) >= 0)
			present[vi] = true;
		points++;
	}
	if (points == 0) {
		fputs("<p class=\"muted\">No actual values recorded in this "
		      "window: no observed error to chart "
		      "(<code>modelstore predictions actual --file F</code>).</p>\n",
		      f);
		return 0;
	}
	time_axis(&t, d0, d1);
	nice_axis(&a, 0, maxe, 5);
	svg_open(f, "error", name, "Observed error over time (MAE and RMSE), "
	         "per version, with promotions and rollbacks", H);
	y_axis(f, &a, "error (units of the target)");
	x_time_axis(f, &t);
	/* promotions and rollbacks: a vertical rule on their day */
	json_array_foreach(events, i, r) {
		const char *act = str_of(r, "action"), *to = str_of(r, "to_version");
		long d = day_num(str_of(r, "day"));
		bool rb = act && strcmp(act, "rollback") == 0;
		double x;
		if (strcmp(str_of(r, "model_name"), name) != 0 || d < 0)
			continue;
		x = xday(&t, d);
		fprintf(f, "<g class=\"event\" data-kind=\"event\" data-action=\"");
		esc(f, act);
		fprintf(f, "\" data-at=\"");
		esc(f, str_of(r, "promoted_at"));
		fprintf(f, "\"><line x1=\"%.2f\" x2=\"%.2f\" y1=\"%.1f\" y2=\"%.1f\" "
		        "stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"%s\"/>"
		        "<text x=\"%.2f\" y=\"%.1f\" font-size=\"11\" fill=\"%s\" "
		        "text-anchor=\"%s\">%s ", x, x, Y0 - 6 + (double)(k % 2) * 12,
		        Y1, rb ? "#b8322a" : "#2f7d3c", rb ? "2 2" : "6 3",
		        x + (x > X1 - 80 ? -4 : 4), Y0 - 8 + (double)(k % 2) * 12,
		        rb ? "#b8322a" : "#2f7d3c", x > X1 - 80 ? "end" : "start",
		        rb ? "&#x21B6; rollback to" : "&#x25B2; promote");
		esc(f, to);
		fputs("</text><title>", f);
		esc(f, act);
		fputs(" to ", f);
		esc(f, to);
		fputs(" at ", f);
		esc(f, str_of(r, "promoted_at"));
		fputs("</title></g>\n", f);
		k++;
	}
	/* RMSE first: the filled MAE points stay visible where they meet */
	for (size_t vi = 0; vi < cv->n; vi++)
		if (present[vi])
			error_series(f, daily, name, cv->v[vi], "rmse", "rmse", &t,
			             &a, PALETTE[vi % NPAL], true);
	for (size_t vi = 0; vi < cv->n; vi++)
		if (present[vi])
			error_series(f, daily, name, cv->v[vi], "mean_absolute_error",
			             "mae", &t, &a, PALETTE[vi % NPAL], false);
	legend(f, cv, present, true);
	svg_close(f, "Mean absolute error (solid, filled points) and root mean "
	          "square error (dashed, open points) of each day's predictions "
	          "that have an actual value. Vertical rules: promotions (green, "
	          "\xe2\x96\xb2) and rollbacks (red, \xe2\x86\xb6).");
	return points;
}

/* ------------------------------------------------------------------ */
/* 3. volume against error, production version                         */
/* ------------------------------------------------------------------ */

size_t chart_volume_error(FILE *f, const json_t *daily, const char *name,
                          const char *prod, const chart_versions *cv)
{
	axis ax, ay;
	double maxx = 0, maxy = 0;
	size_t i, n = 0;
	const json_t *r;
	const char *color = color_of(cv, prod);

	json_array_foreach(daily, i, r) {
		const json_t *m = json_object_get(r, "mean_absolute_error");
		double x;
		if (prod == NULL || strcmp(str_of(r, "model_name"), name) != 0 ||
		    strcmp(str_of(r, "model_version"), prod) != 0 ||
		    !json_is_number(m))
			continue;
		x = (double)json_integer_value(json_object_get(r, "prediction_count"));
		if (x > maxx) maxx = x;
		if (json_number_value(m) > maxy) maxy = json_number_value(m);
		n++;
	}
	if (n == 0) {
		fputs("<p class=\"muted\">", f);
		if (prod) {
			fputs("The production version ", f);
			esc(f, prod);
			fputs(" has no actual values in this window: no volume "
			      "against error to chart.", f);
		} else {
			fputs("No production version: no volume against error to "
			      "chart.", f);
		}
		fputs("</p>\n", f);
		return 0;
	}
	nice_axis(&ax, 0, maxx, 6);
	nice_axis(&ay, 0, maxy, 5);
	svg_open(f, "volume-error", name, "Prediction volume against error, "
	         "production version", H);
	y_axis(f, &ay, "MAE that day");
	fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
	        "stroke=\"#5b6576\"/>\n", X0, X1, Y1, Y1);
	for (double v = ax.lo; v <= ax.hi + ax.step / 2; v += ax.step) {
		double x = X0 + (v - ax.lo) / (ax.hi - ax.lo) * (X1 - X0);
		fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
		        "stroke=\"#e3e6eb\"/><text x=\"%.1f\" y=\"%.1f\" "
		        "text-anchor=\"middle\" fill=\"#3c4657\">%.*f</text>\n",
		        x, x, Y0, Y1, x, Y1 + 19, ax.dec, v);
	}
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
	        "fill=\"#1d2430\">predictions that day</text>\n", (X0 + X1) / 2,
	        Y1 + 40);
	json_array_foreach(daily, i, r) {
		const json_t *m = json_object_get(r, "mean_absolute_error");
		json_int_t c;
		const char *day = str_of(r, "day");
		if (strcmp(str_of(r, "model_name"), name) != 0 ||
		    strcmp(str_of(r, "model_version"), prod) != 0 ||
		    !json_is_number(m))
			continue;
		c = json_integer_value(json_object_get(r, "prediction_count"));
		fprintf(f, "<circle class=\"pt\" data-kind=\"volume-error\" "
		        "data-version=\"");
		esc(f, prod);
		fprintf(f, "\" data-day=\"%s\" data-count=\"%lld\" "
		        "data-value=\"%.17g\" cx=\"%.2f\" cy=\"%.2f\" r=\"5\" "
		        "fill=\"%s\" fill-opacity=\"0.75\"><title>%s: %lld "
		        "predictions, MAE %.4f</title></circle>\n", day,
		        (long long)c, json_number_value(m),
		        X0 + ((double)c - ax.lo) / (ax.hi - ax.lo) * (X1 - X0),
		        ypos(&ay, json_number_value(m)), color, day, (long long)c,
		        json_number_value(m));
	}
	{
		bool present[CHART_MAX_VERSIONS] = { false };
		int vi = chart_version_index(cv, prod);
		if (vi >= 0)
			present[vi] = true;
		legend(f, cv, present, false);
	}
	svg_close(f, "One point per day of the production version that has "
	          "actual values: how many predictions it made that day (x) "
	          "and their mean absolute error (y).");
	return n;
}

/* ------------------------------------------------------------------ */
/* 4. model size per version: horizontal bars                          */
/* ------------------------------------------------------------------ */

size_t chart_sizes(FILE *f, const json_t *versions, size_t start, size_t end,
                   const char *name, const chart_versions *cv)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double maxb = 0, div = 1, h, bar = 22, y;
	int u = 0;
	axis a;
	size_t n = 0;
	const double lx = 190; /* the labels' column */

	for (size_t i = start; i < end; i++) {
		json_t *s = json_object_get(json_array_get(versions, i),
		                            "model_size_bytes");
		if (json_is_integer(s) && (double)json_integer_value(s) > maxb)
			maxb = (double)json_integer_value(s);
	}
	while (u < 4 && maxb / div >= 1024) {
		div *= 1024;
		u++;
	}
	nice_axis(&a, 0, maxb / div, 6);
	h = 30 + (double)(end - start) * (bar + 8) + 50;
	svg_open(f, "size", name, "Model size per version", h);
	for (double v = a.lo; v <= a.hi + a.step / 2; v += a.step) {
		double x = lx + (v - a.lo) / (a.hi - a.lo) * (X1 - lx);
		fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"20\" y2=\"%.1f\" "
		        "stroke=\"#e3e6eb\"/><text x=\"%.1f\" y=\"%.1f\" "
		        "text-anchor=\"middle\" fill=\"#3c4657\">%.*f</text>\n",
		        x, x, h - 44, x, h - 28, a.dec, v);
	}
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
	        "fill=\"#1d2430\">model size (%s)</text>\n", (lx + X1) / 2, h - 8,
	        unit[u]);
	y = 24;
	for (size_t i = start; i < end; i++) {
		const json_t *row = json_array_get(versions, i);
		const char *v = str_of(row, "model_version");
		json_t *s = json_object_get(row, "model_size_bytes");
		bool prod = json_is_true(json_object_get(row, "is_production"));
		double b = json_is_integer(s) ? (double)json_integer_value(s) : 0;
		double w = (b / div - a.lo) / (a.hi - a.lo) * (X1 - lx);
		char vv[28];
		snprintf(vv, sizeof vv, "%s", v ? v : "");
		if (strlen(vv) > 24)
			strcpy(vv + 21, "...");
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
		        "fill=\"#1d2430\"%s>", lx - 8, y + bar / 2 + 4,
		        prod ? " font-weight=\"700\"" : "");
		esc(f, vv);
		fputs(prod ? " (production)" : "", f);
		fputs("</text>\n<rect class=\"pt\" data-kind=\"size\" "
		      "data-version=\"", f);
		esc(f, v);
		fprintf(f, "\" data-bytes=\"%.0f\" x=\"%.1f\" y=\"%.1f\" "
		        "width=\"%.2f\" height=\"%.1f\" fill=\"%s\"/>\n", b, lx, y,
		        w < 1 ? 1 : w, bar, color_of(cv, v));
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#3c4657\">%.*f %s"
		        "</text>\n", lx + (w < 1 ? 1 : w) + 6, y + bar / 2 + 4,
		        u ? 1 : 0, b / div, unit[u]);
		y += bar + 8;
		n++;
	}
	svg_close(f, "Size of each stored version's model file (before "
	          "compression). Source: model_version_performance.");
	return n;
}
