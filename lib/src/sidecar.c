/*
 * sidecar.c - model.json, the sidecar beside each fallback model.bin:
 * its one writer and its readers, so the format has one owner.
 *
 * An object (written with sorted keys, two-space indent):
 *   model_name, model_version, model_type, run_id, sha256  strings
 *   file                                   the payload file beside it
 *                                          (absent: model.bin)
 *   size                                   integer, bytes of the payload
 *   accuracy_score, rmse_score, r2_score   number or null
 *   metrics                                object
 *   exported_at                            "YYYY-MM-DDTHH:MM:SSZ" (UTC)
 * A reader takes what it finds: a missing field is "not recorded"
 * (fallback_read.c requires sha256), but refuses a file larger than
 * MS__SIDECAR_MAX or a "file" that is not a payload name of ours.
 */
#define _GNU_SOURCE
#include "fallback.h"

#include "alloc.h"
#include "errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define UNKNOWN_VERSION "unknown"

bool ms__sidecar_path(char *out, size_t n, const char *dir_of_model)
{
	int r = snprintf(out, n, "%s/model.json", dir_of_model);
	return r > 0 && (size_t)r < n;
}

static int set_num(json_t *o, const char *k, double v)
{
	return json_object_set_new(o, k, isnan(v) ? json_null() : json_real(v));
}

ms_status ms__sidecar_write(ms_err *e, const char *dir_of_model,
                            const ms_artifact_info *info, const char *file)
{
	char path[PATH_MAX];
	json_t *o = json_object(), *metrics = NULL;
	json_error_t jerr;
	char *text = NULL;
	ms_atomic_file *af = NULL;
	ms_status st;
	char when[32];
	time_t now = time(NULL);
	struct tm tm;

	if (o == NULL)
		return ms__err_set(e, MS_ENOMEM, "sidecar: out of memory");
	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	metrics = json_loads(info->metrics_json ? info->metrics_json : "{}", 0,
	                     &jerr);
	if (metrics == NULL && json_error_code(&jerr) != json_error_out_of_memory)
		metrics = json_object();
	if (metrics == NULL) { /* out of memory: never an empty "metrics" */
		json_decref(o);
		return ms__err_set(e, MS_ENOMEM, "sidecar: out of memory");
	}
	if (json_object_set_new(o, "model_name", json_string(info->model_name)) ||
	    json_object_set_new(o, "model_version",
	                        json_string(info->model_version)) ||
	    json_object_set_new(o, "model_type", json_string(info->model_type)) ||
	    json_object_set_new(o, "run_id", json_string(info->run_id)) ||
	    json_object_set_new(o, "sha256", json_string(info->sha256)) ||
	    json_object_set_new(o, "file", json_string(file)) ||
	    json_object_set_new(o, "size", json_integer(info->size)) ||
	    set_num(o, "accuracy_score", info->accuracy) ||
	    set_num(o, "rmse_score", info->rmse) ||
	    set_num(o, "r2_score", info->r2) ||
	    json_object_set(o, "metrics", metrics) ||
	    json_object_set_new(o, "exported_at", json_string(when)) ||
	    (text = ms__json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
		json_decref(metrics);
		json_decref(o);
		return ms__err_set(e, MS_ENOMEM, "sidecar: out of memory");
	}
	json_decref(metrics);
	json_decref(o);
	if (!ms__sidecar_path(path, sizeof path, dir_of_model))
		st = ms__err_set(e, MS_EINVAL, "sidecar: path too long");
	else
		st = ms__atomic_open(&af, e, path, MS__AF_TEMP);
	if (st == MS_OK)
		st = ms__atomic_write(af, text, strlen(text));
	if (st == MS_OK)
		st = ms__atomic_write(af, "\n", 1);
	if (st == MS_OK)
		st = ms__atomic_commit(af, e);
	else
		ms__atomic_abort(af);
	free(text); /* allocated by jansson */
	return st;
}

/* The fields of the sidecar object @p sc into @p out. */
static void sidecar_fields(json_t *sc, ms_sidecar *out)
{
	json_t *v;
	if ((v = json_object_get(sc, "sha256")) && json_is_string(v))
		out->sha256 = json_string_value(v);
	if ((v = json_object_get(sc, "model_version")) &&
	    json_is_string(v) && json_string_length(v) > 0)
		out->version = json_string_value(v);
	if ((v = json_object_get(sc, "model_type")) && json_is_string(v))
		out->type = json_string_value(v);
	if ((v = json_object_get(sc, "size")) && json_is_integer(v))
		out->size = json_integer_value(v);
	if ((v = json_object_get(sc, "model_name")) && json_is_string(v) &&
	    json_string_length(v) > 0)
		out->name = json_string_value(v);
	if ((v = json_object_get(sc, "file")) && json_is_string(v))
		out->file = json_string_value(v);
	if ((v = json_object_get(sc, "metrics")) && json_is_object(v))
		out->metrics = ms__json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
}

/* The bytes of the sidecar at @p path, at most MS__SIDECAR_MAX, into
 * *@p text (ms__free) and *@p n; MS_ENOTFOUND when there is none. */
static ms_status sidecar_slurp(ms_err *e, const char *path, char **text,
                               size_t *n)
{
	struct stat sb;
	ssize_t r = 0;
	size_t cap;
	ms_status st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*text = NULL;
	*n = 0;
	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
		return MS_ENOTFOUND;
	if (fd < 0)
		return ms__err_set(e, MS_EINTEGRITY, "%s: %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size > MS__SIDECAR_MAX) {
		close(fd);
		return ms__err_set(e, MS_EINTEGRITY, "%s: not a sidecar (not a "
		                   "regular file of at most %zu bytes)", path,
		                   MS__SIDECAR_MAX);
	}
	/* one byte more than it has: a file that grew is caught */
	cap = (size_t)sb.st_size + 1;
	if ((*text = ms__malloc(cap)) == NULL) {
		close(fd);
		return ms__err_set(e, MS_ENOMEM, "%s: out of memory", path);
	}
	while (*n < cap) {
		r = read(fd, *text + *n, cap - *n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		*n += (size_t)r;
	}
	close(fd);
	if (r >= 0 && *n < cap)
		return MS_OK;
	st = r < 0 ? ms__err_set(e, MS_EINTEGRITY, "%s: read: %s", path,
	                         strerror(errno))
	           : ms__err_set(e, MS_EINTEGRITY, "%s: changed while read", path);
	ms__free(*text);
	*text = NULL;
	return st;
}

ms_status ms__sidecar_read(ms_err *e, const char *path, ms_sidecar *out)
{
	json_error_t jerr;
	json_t *sc;
	char *text;
	size_t n;
	ms_status st;

	memset(out, 0, sizeof *out);
	out->version = UNKNOWN_VERSION;
	out->type = "unknown";
	out->sha256 = "";
	out->size = -1;
	st = sidecar_slurp(e, path, &text, &n);
	if (st == MS_ENOTFOUND)
		return MS_OK;
	if (st != MS_OK)
		return st;
	sc = json_loadb(text, n, 0, &jerr);
	ms__free(text);
	if (sc == NULL || !json_is_object(sc)) {
		json_decref(sc);
		return ms__err_set(e, MS_EINTEGRITY, "%s: unreadable sidecar: %s",
		                   path, sc ? "not an object" : jerr.text);
	}
	out->json = sc;
	sidecar_fields(sc, out);
	if (out->file && !ms__payload_name_ok(out->file))
		return ms__err_set(e, MS_EINTEGRITY, "%s: \"file\" is not a "
		                   "payload name: \"%.80s\"", path, out->file);
	return MS_OK;
}

void ms__sidecar_dispose(ms_sidecar *sc)
{
	free(sc->metrics); /* jansson's */
	json_decref(sc->json);
	sc->metrics = NULL;
	sc->json = NULL;
}
