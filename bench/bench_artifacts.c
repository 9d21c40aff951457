/*
 * bench_artifacts.c - push and pull throughput beside plain libpq.
 *
 * For each size, in the same run and on the same server, interleaved
 * (every run does each method once: the ceilings, then ours; each pull
 * right after its push, so both read freshly written rows):
 *   ceiling push: plain libpq, no hashing, the fastest of
 *                 - one row, binary parameter, autocommit (sizes up to
 *                   one chunk, as ours stores them inline);
 *                 - 1 MiB and 4 MiB chunk rows as binary parameters of a
 *                   prepared INSERT, one transaction;
 *                 - COPY BINARY of the 1 MiB chunk rows;
 *   ours push:    ms_store_push from memory (SHA-256 included)
 *   ceiling pull: plain libpq single-row mode over the 1 MiB chunk rows,
 *                 binary results, into a warm buffer
 *   ours pull:    ms_store_pull into a warm buffer (SHA-256 included)
 * The TRUNCATE of the ceiling's table runs before its clock starts.
 * Prints MB/s per method (median and min-max of N runs) and a RESULT|
 * line per size and direction (bench/run.sh tabulates them).
 *
 * usage: bench_artifacts [--sizes 1,25,200] [--runs 5] [--chunk-mib 1]
 *        (DATABASE_URL; our chunk size is --chunk-mib)
 */
#define _GNU_SOURCE
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "modelstore.h"

#define CHUNK (1u << 20)

static void die(const char *what, PGconn *c)
{
	fprintf(stderr, "bench: %s: %s\n", what, c ? PQerrorMessage(c) : "");
	exit(1);
}

static void exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		die(sql, c);
	PQclear(r);
}

/* ---- the plain-libpq ceilings, on a table shaped like ours ---- */

/* Chunk rows of @p chunk bytes, one transaction (or one autocommit
 * row when @p n fits one chunk and @p autocommit). */
static double raw_push_insert(PGconn *c, const unsigned char *data, size_t n,
                              size_t chunk, int autocommit)
{
	double t0;
	char id[16], seq[16];
	exec_ok(c, "TRUNCATE raw_chunks");
	t0 = now_s();
	if (!autocommit)
		exec_ok(c, "BEGIN");
	for (size_t off = 0, k = 0; off < n || k == 0; off += chunk, k++) {
		size_t len = n - off < chunk ? n - off : chunk;
		const char *p[3] = { id, seq, (const char *)data + off };
		int l[3] = { 0, 0, (int)len }, f[3] = { 0, 0, 1 };
		snprintf(id, sizeof id, "1");
		snprintf(seq, sizeof seq, "%zu", k);
		PGresult *r = PQexecPrepared(c, "raw_ins", 3, p, l, f, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			die("raw insert", c);
		PQclear(r);
		if (off + len >= n)
			break;
	}
	if (!autocommit)
		exec_ok(c, "COMMIT");
	return now_s() - t0;
}

static void be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static double raw_push_copy(PGconn *c, const unsigned char *data, size_t n)
{
	double t0;
	exec_ok(c, "TRUNCATE raw_chunks");
	t0 = now_s();
	exec_ok(c, "BEGIN");
	PGresult *r = PQexec(c, "COPY raw_chunks (artifact_id, seq, data) FROM STDIN (FORMAT binary)");
	if (PQresultStatus(r) != PGRES_COPY_IN)
		die("raw copy", c);
	PQclear(r);
	PQputCopyData(c, "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);
	for (size_t off = 0, k = 0; off < n || k == 0; off += CHUNK, k++) {
		size_t len = n - off < CHUNK ? n - off : CHUNK;
		unsigned char h[26];
		be(h, 3, 2); be(h + 2, 8, 4); be(h + 6, 1, 8); be(h + 14, 4, 4);
		be(h + 18, k, 4); be(h + 22, len, 4);
		PQputCopyData(c, (const char *)h, 26);
		PQputCopyData(c, (const char *)data + off, (int)len);
		if (off + len >= n)
			break;
	}
	PQputCopyData(c, "\377\377", 2);
	PQputCopyEnd(c, NULL);
	while ((r = PQgetResult(c)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			die("raw copy end", c);
		PQclear(r);
	}
	exec_ok(c, "COMMIT");
	return now_s() - t0;
}

static double raw_pull(PGconn *c, unsigned char *dst, size_t n)
{
	double t0 = now_s();
	size_t off = 0;
	PGresult *r;
	if (!PQsendQueryParams(c, "SELECT data FROM raw_chunks WHERE artifact_id = 1 ORDER BY seq",
	                       0, NULL, NULL, NULL, NULL, 1))
		die("raw pull", c);
	PQsetSingleRowMode(c);
	while ((r = PQgetResult(c)) != NULL) {
		if (PQresultStatus(r) == PGRES_SINGLE_TUPLE) {
			size_t len = (size_t)PQgetlength(r, 0, 0);
			if (off + len <= n)
				memcpy(dst + off, PQgetvalue(r, 0, 0), len);
			off += len;
		} else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			die("raw pull", c);
		}
		PQclear(r);
	}
	if (off != n) {
		fprintf(stderr, "bench: raw pull got %zu of %zu bytes\n", off, n);
		exit(1);
	}
	return now_s() - t0;
}

/* ---- ours ---- */

typedef struct sink { unsigned char *p; size_t off, cap; } sink;
static ms_status to_buf(void *pl, const void *d, size_t n)
{
	sink *s = pl;
	if (s->off + n > s->cap)
		return MS_EIO;
	memcpy(s->p + s->off, d, n);
	s->off += n;
	return MS_OK;
}

int main(int argc, char **argv)
{
	const char *url = getenv("DATABASE_URL");
	int sizes_mb[8] = { 1, 25, 200 }, nsizes = 3, runs = 5, chunk_mib = 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
			runs = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--chunk-mib") == 0 && i + 1 < argc) {
			chunk_mib = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
			char *s = argv[++i], *tok;
			nsizes = 0;
			while ((tok = strsep(&s, ",")) && nsizes < 8)
				sizes_mb[nsizes++] = atoi(tok);
		} else {
			fprintf(stderr, "usage: bench_artifacts [--sizes 1,25,200] [--runs N] [--chunk-mib N]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > 50)
		runs = 5;
	ms_store *s = NULL;
	ms_store_options so = MS_STORE_OPTIONS_INIT;
	so.check_schema = 0;
	so.chunk_size = (size_t)chunk_mib << 20;
	if (ms_store_open(&s, url, &so) != MS_OK || ms_store_migrate(NULL, s) != MS_OK) {
		fprintf(stderr, "bench: %s\n", ms_store_errmsg(s));
		return 1;
	}
	PGconn *c = PQconnectdb(url ? url : "");
	if (PQstatus(c) != CONNECTION_OK)
		die("connect", c);
	exec_ok(c, "SET client_min_messages = warning");
	exec_ok(c, "CREATE TABLE IF NOT EXISTS raw_chunks (artifact_id bigint, seq int, data bytea, PRIMARY KEY (artifact_id, seq))");
	exec_ok(c, "ALTER TABLE raw_chunks ALTER COLUMN data SET STORAGE EXTERNAL");
	PGresult *pr = PQprepare(c, "raw_ins", "INSERT INTO raw_chunks (artifact_id, seq, data) VALUES ($1, $2, $3)", 3, NULL);
	if (PQresultStatus(pr) != PGRES_COMMAND_OK)
		die("prepare", c);
	PQclear(pr);

	printf("MB/s, median (min-max) of %d interleaved runs\n", runs);
	for (int si = 0; si < nsizes; si++) {
		size_t n = (size_t)sizes_mb[si] << 20;
		unsigned char *data = malloc(n), *back = malloc(n);
		/* push ceilings: 0 autocommit row (n <= 1 chunk), 1 INSERT 1 MiB
		 * chunks, 2 INSERT 4 MiB chunks, 3 COPY 1 MiB chunks */
		static const char *pname[4] = { "one row, autocommit",
			"INSERT 1 MiB chunks, 1 tx", "INSERT 4 MiB chunks, 1 tx",
			"COPY BINARY 1 MiB chunks" };
		double rp[4][50], push[50], rawpull[50], pull[50], mb;
		int np = 4, best = 1;
		if (!data || !back) {
			fprintf(stderr, "bench: out of memory for %d MB\n", sizes_mb[si]);
			return 1;
		}
		for (size_t i = 0; i < n; i += 8) {
			uint64_t x = (i * 0x9E3779B97F4A7C15ull) ^ (i >> 7);
			memcpy(data + i, &x, n - i < 8 ? n - i : 8);
		}
		memset(back, 0, n); /* touch: page faults are not the network's */
		mb = (double)n / 1e6;
		for (int r = 0; r < runs; r++) {
			char ver[32];
			ms_buf v = MS_BUF_INIT;
			ms_push_options po;
			ms_artifact_source src = { NULL, NULL, data, n };
			sink sk = { back, 0, n };
			double t0;

			rp[0][r] = n <= CHUNK ? mb / raw_push_insert(c, data, n, CHUNK, 1)
			                      : 0;
			rp[2][r] = mb / raw_push_insert(c, data, n, 4 * CHUNK, 0);
			rp[3][r] = mb / raw_push_copy(c, data, n);
			/* each pull right after its own push: both read what was
			 * just written (the same shared buffers and page cache) */
			rp[1][r] = mb / raw_push_insert(c, data, n, CHUNK, 0);
			rawpull[r] = mb / raw_pull(c, back, n);
			memset(back, 0, n);

			ms_push_options_init(&po, MS_PUSH_OPTIONS_VERSION);
			po.model_name = "bench";
			snprintf(ver, sizeof ver, "b%d_%d", sizes_mb[si], r);
			po.model_version = ver;
			t0 = now_s();
			if (ms_store_push(&v, s, &po, &src, 1) != MS_OK) {
				fprintf(stderr, "bench: push: %s\n", ms_store_errmsg(s));
				return 1;
			}
			push[r] = mb / (now_s() - t0);
			t0 = now_s();
			if (ms_store_pull(NULL, s, "bench", ver, NULL, to_buf, &sk, NULL, NULL) != MS_OK) {
				fprintf(stderr, "bench: pull: %s\n", ms_store_errmsg(s));
				return 1;
			}
			pull[r] = mb / (now_s() - t0);
			if (sk.off != n || memcmp(back, data, n) != 0) {
				fprintf(stderr, "bench: pulled bytes differ\n");
				return 1;
			}
			ms_buf_dispose(&v);
		}
		for (int k = 0; k < np; k++) {
			bstat b = bstat_of(rp[k], runs);
			if (k == 0 && n > CHUNK)
				continue;
			printf("%4d MB push ceiling %-28s %8.1f (%.1f-%.1f)\n",
			       sizes_mb[si], pname[k], b.med, b.min, b.max);
			if (b.med > bstat_of(rp[best], runs).med)
				best = k;
		}
		{
			bstat o = bstat_of(push, runs), rpl = bstat_of(rawpull, runs),
			      op = bstat_of(pull, runs);
			char name[96];
			printf("%4d MB push ours %37.1f (%.1f-%.1f)\n", sizes_mb[si],
			       o.med, o.min, o.max);
			printf("%4d MB pull ceiling single-row mode, 1 MiB rows %6.1f "
			       "(%.1f-%.1f)\n", sizes_mb[si], rpl.med, rpl.min, rpl.max);
			printf("%4d MB pull ours %37.1f (%.1f-%.1f)\n", sizes_mb[si],
			       op.med, op.min, op.max);
			snprintf(name, sizeof name, "push %d MB vs %s", sizes_mb[si],
			         pname[best]);
			bench_result(name, "MB/s", push, rp[best], runs, 1, 0.9);
			snprintf(name, sizeof name, "pull %d MB vs single-row mode",
			         sizes_mb[si]);
			bench_result(name, "MB/s", pull, rawpull, runs, 1, 0.9);
		}
		fflush(stdout);
		ms_buf del = MS_BUF_INIT;
		ms_store_prune(&del, s, "bench", 0, 0);
		ms_buf_dispose(&del);
		free(data);
		free(back);
	}
	printf("(SHA-256 included in ours, not in the ceilings)\n");
	exec_ok(c, "DROP TABLE raw_chunks");
	PQfinish(c);
	ms_store_close(s);
	return 0;
}
