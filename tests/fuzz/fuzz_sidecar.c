/* fuzz_sidecar.c - libFuzzer harness for the sidecar reader
 * (ms__sidecar_read, model.json, sidecar.c): arbitrary bytes as the file.
 * Run it with tests/fuzz/run.sh SECONDS.  Contract:
 *  - the bytes are refused (MS_EINTEGRITY, a message naming the file) or
 *    read (MS_OK, a JSON object, a "file" that is a payload name of ours);
 *    nothing else, no crash, no leak, no UB;
 *  - round trip: a sidecar written by our writer (ms__sidecar_write) from
 *    what was read reads back equal: name, version, type, sha256, file,
 *    size and metrics.  Equal up to the reader's own defaults: a missing
 *    "file" means model.bin, missing metrics mean {}.  Values longer than
 *    the writer's input struct can hold (ms_artifact_info's fixed fields,
 *    the lengths of the database's columns) cannot come from our writer
 *    and are not round-tripped.
 * Files go to a private directory under /dev/shm (or $TMPDIR, /tmp), so
 * the writer's fsyncs are cheap; it is removed at exit. */
#define _GNU_SOURCE
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fallback.h"

#define REQUIRE(c)                                                          \
	do {                                                                    \
		if (!(c)) {                                                         \
			fprintf(stderr, "fuzz_sidecar: %s:%d: %s\n", __FILE__, __LINE__, \
			        #c);                                                    \
			abort();                                                        \
		}                                                                   \
	} while (0)

static char g_in_dir[PATH_MAX], g_out_dir[PATH_MAX], g_in[PATH_MAX],
	g_out[PATH_MAX], g_root[PATH_MAX];

static void cleanup(void)
{
	unlink(g_in);
	unlink(g_out);
	rmdir(g_in_dir);
	rmdir(g_out_dir);
	rmdir(g_root);
}

static void init_dirs(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm"
	                   : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(g_root, sizeof g_root, "%s/ms-fuzz-sidecar.XXXXXX", base);
	REQUIRE(mkdtemp(g_root) != NULL);
	snprintf(g_in_dir, sizeof g_in_dir, "%s/in", g_root);
	snprintf(g_out_dir, sizeof g_out_dir, "%s/out", g_root);
	REQUIRE(mkdir(g_in_dir, 0700) == 0 && mkdir(g_out_dir, 0700) == 0);
	REQUIRE(ms__sidecar_path(g_in, sizeof g_in, g_in_dir));
	REQUIRE(ms__sidecar_path(g_out, sizeof g_out, g_out_dir));
	atexit(cleanup);
}

static void write_file(const char *path, const uint8_t *d, size_t n)
{
	FILE *f = fopen(path, "wb");
	REQUIRE(f != NULL);
	REQUIRE(fwrite(d, 1, n, f) == n || n == 0);
	REQUIRE(fclose(f) == 0);
}

/* Copy @p s into @p dst (capacity @p cap); false when it does not fit. */
static int fits(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if (n >= cap)
		return 0;
	memcpy(dst, s, n + 1);
	return 1;
}

static int same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void round_trip(const ms_sidecar *sc)
{
	ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
	ms_sidecar back;
	ms_err e;
	const char *file = sc->file ? sc->file : "model.bin";
	ms_status st;

	if (!fits(info.model_name, sizeof info.model_name,
	          sc->name ? sc->name : "") ||
	    !fits(info.model_version, sizeof info.model_version, sc->version) ||
	    !fits(info.model_type, sizeof info.model_type, sc->type) ||
	    !fits(info.sha256, sizeof info.sha256, sc->sha256))
		return;
	info.size = sc->size;
	info.accuracy = info.rmse = info.r2 = NAN;
	info.metrics_json = sc->metrics; /* borrowed; NULL: {} */
	memset(&e, 0, sizeof e);
	st = ms__sidecar_write(&e, g_out_dir, &info, file);
	if (st != MS_OK) {
		fprintf(stderr, "fuzz_sidecar: write failed: %s\n", e.msg);
		abort();
	}
	st = ms__sidecar_read(&e, g_out, &back);
	if (st != MS_OK) {
		fprintf(stderr, "fuzz_sidecar: our own sidecar refused: %s\n", e.msg);
		abort();
	}
	REQUIRE(back.json != NULL);
	REQUIRE(same_str(back.name, sc->name));
	REQUIRE(same_str(back.version, sc->version));
	REQUIRE(same_str(back.type, sc->type));
	REQUIRE(same_str(back.sha256, sc->sha256));
	REQUIRE(same_str(back.file, file));
	REQUIRE(back.size == sc->size);
	REQUIRE(same_str(back.metrics, sc->metrics ? sc->metrics : "{}"));
	ms__sidecar_dispose(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	ms_sidecar sc;
	ms_err e;
	ms_status st;

	if (!ready) {
		init_dirs();
		ready = 1;
	}
	write_file(g_in, data, size);
	memset(&e, 0, sizeof e);
	st = ms__sidecar_read(&e, g_in, &sc);
	if (st != MS_OK) {
		REQUIRE(st == MS_EINTEGRITY);
		REQUIRE(strncmp(e.msg, g_in, strlen(g_in)) == 0);
		ms__sidecar_dispose(&sc);
		return 0;
	}
	REQUIRE(sc.json != NULL); /* the file exists: read means an object */
	REQUIRE(sc.version != NULL && sc.version[0] != '\0');
	REQUIRE(sc.type != NULL && sc.sha256 != NULL);
	REQUIRE(sc.name == NULL || sc.name[0] != '\0');
	REQUIRE(sc.file == NULL || ms__payload_name_ok(sc.file));
	round_trip(&sc);
	ms__sidecar_dispose(&sc);
	return 0;
}
