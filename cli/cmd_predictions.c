/* cmd_predictions.c - `modelstore predictions import|actual`. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ctype.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "import_line.h"

#define MAX_LISTED_REJECTIONS 1000
/* Accepted lines whose id is kept, to name the line of a row the server
 * refuses: 24 bytes each, so at most 96 MiB.  A refused row past them is
 * named by its prediction id instead. */
#define MAX_TRACKED_IDS ((size_t)1 << 22)
/* The logger's batch and queue for a bulk import (docs/cli.md): twice
 * the default batch, so half the COPY transactions (each a commit and a
 * round trip during which the server waits for the next batch), and a
 * queue of three batches - the reader outruns the database, so a longer
 * queue only holds more rows in memory (and costs page faults) without
 * sending them sooner.  A wait for room lasts about one batch's delivery
 * (10 000 rows: 70 ms idle, 250 ms on a machine loaded 2x), well inside
 * the logger's 500 ms before it would spill to the spool. */
#define IMPORT_BATCH_ROWS 10000
#define IMPORT_QUEUE_ROWS (3 * IMPORT_BATCH_ROWS)

static void usage_text(FILE *f)
{
	fputs("usage: modelstore predictions import [--spool-dir D] [-q]\n"
	      "       modelstore predictions actual ID VALUE\n"
	      "       modelstore predictions actual --file F   (predictions actual --help)\n"
	      "       modelstore predictions prune --older-than AGE [--dry-run]   (prune --help)\n\n"
	      "import  Read NDJSON predictions on stdin, one object a line, with\n"
	      "        the keys model_name (default: --name), model_version,\n"
	      "        input_features (a JSON object), predicted_value,\n"
	      "        actual_value and confidence_score (numbers or null), and\n"
	      "        log them through the prediction logger; the features are\n"
	      "        stored as sent.  Rows that cannot reach the database go\n"
	      "        to the spool directory (default \"spool\") and are\n"
	      "        replayed by the next run; an empty stdin just replays a\n"
	      "        leftover spool.  Ends with a summary of final counters.\n"
	      "        Exit 0: every line accepted and in the database; 1: some\n"
	      "        lines rejected, by us or the server (listed with line\n"
	      "        numbers), rows lost (counted), or writes refused\n"
	      "        (permission denied); 2: usage, a malformed connection\n"
	      "        string; 4: the database was unreachable and accepted\n"
	      "        rows wait in the spool.\n"
	      "actual  Attach the actual value to a logged prediction by its id.\n",
	      f);
}

typedef struct rejection {
	unsigned long line;
	char *reason;
} rejection;

/* An accepted line: its prediction id (UUIDv7, so the ids of one run
 * are increasing, and the array is sorted as it is filled). */
typedef struct id_line {
	unsigned char id[16];
	unsigned long line;
} id_line;

/* A row the server refused, as the writer thread reported it. */
typedef struct refusal {
	char id[MS_UUID_STRLEN];
	char *reason;
} refusal;

typedef struct import_state {
	rejection *rej;
	size_t nrej, caprej;
	id_line *ids;
	size_t nids, capids;
	pthread_mutex_t mu;   /* guards ref, nref, capref (writer thread) */
	refusal *ref;
	size_t nref, capref;
	unsigned long rejected, accepted, lines, log_rejected;
	unsigned long lost;  /* lines log() could not keep (spool full) */
	il_line scan; /* the line scanner's members, reused */
	bool read_failed; /* stdin could not be read to its end */
} import_state;

enum { REJ_LINE, REJ_LOST, REJ_SERVER };

/* List line @p line with @p reason.  @p kind: REJ_LINE, the line was
 * rejected (counted); REJ_LOST, it was valid but could not be kept
 * (counted); REJ_SERVER, the server refused its row (counted by the
 * logger). */
static void add_rejection(import_state *st, unsigned long line,
                          const char *reason, int kind)
{
	if (kind == REJ_LOST)
		st->lost++;
	else if (kind == REJ_LINE)
		st->rejected++;
	if (st->nrej >= MAX_LISTED_REJECTIONS)
		return;
	if (st->nrej == st->caprej) {
		size_t nc = st->caprej ? st->caprej * 2 : 16;
		rejection *r = realloc(st->rej, nc * sizeof *r);
		if (r == NULL)
			return;
		st->rej = r;
		st->caprej = nc;
	}
	st->rej[st->nrej].line = line;
	st->rej[st->nrej].reason = strdup(reason);
	if (st->rej[st->nrej].reason)
		st->nrej++;
}

static int hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* The value of member @p m as a C string, decoded in place inside the
 * line (il_string): NULL when it is not a string or holds \u0000. */
static const char *member_string(char *line, const il_member *m, bool *nul)
{
	size_t len;
	*nul = false;
	if (m == NULL || m->kind != IL_STRING)
		return NULL;
	return il_string(line, m, &len, nul);
}

/* The number of member @p m as a double: the line's digits read with
 * strtod where they are (the scanner checked the JSON grammar, so the
 * number ends where its span ends: a JSON number is never followed by
 * a character strtod would take).  false when the value is not a number
 * or does not fit a double. */
static bool member_number(const il_member *m, double *out)
{
	char *end;
	if (m == NULL || m->kind != IL_NUMBER)
		return false;
	*out = strtod(m->val, &end);
	return end == m->val + m->val_len && isfinite(*out);
}

/* Optional number: absent or null -> NAN; anything else must be a
 * number that fits a double. */
static bool opt_number(const il_member *m, double *out)
{
	*out = NAN;
	if (m == NULL || m->kind == IL_NULL)
		return true;
	return member_number(m, out);
}

/* The members import reads, found in one pass over the line's members
 * (keys are unique: the scanner refuses a repeated one). */
enum { F_NAME, F_VERSION, F_FEATURES, F_PRED, F_ACTUAL, F_CONF, F_N };

static void pick_fields(const il_line *l, const il_member *f[F_N])
{
	static const struct {
		const char *key;
		size_t len;
	} known[F_N] = {
		[F_NAME] = { "model_name", 10 },
		[F_VERSION] = { "model_version", 13 },
		[F_FEATURES] = { "input_features", 14 },
		[F_PRED] = { "predicted_value", 15 },
		[F_ACTUAL] = { "actual_value", 12 },
		[F_CONF] = { "confidence_score", 16 },
	};
	for (int k = 0; k < F_N; k++)
		f[k] = NULL;
	for (size_t i = 0; i < l->n; i++)
		for (int k = 0; k < F_N; k++)
			if (l->m[i].key_len == known[k].len &&
			    memcmp(l->m[i].key, known[k].key, known[k].len) == 0) {
				f[k] = &l->m[i];
				break;
			}
}

/* Turn one NDJSON line (@p len bytes at @p line, writable: only bytes
 * inside the line change) into a prediction; on failure a reason.
 * Nothing is allocated: the strings of @p p point into the line,
 * decoded and NUL-terminated in place.  The input_features object is
 * passed on as the raw bytes of the line, unchanged: the logger checks
 * it with jsonb's rules, and the server stores what the user sent (no
 * re-serialization of numbers). */
static bool parse_line(const cli *c, il_line *l, char *line, size_t len,
                       ms_prediction *p, char *reason, size_t rn)
{
	const il_member *f[F_N];
	const char *why, *s;
	size_t where;
	bool nul;

	memset(p, 0, sizeof *p);
	if (!il_scan(l, line, len, &where, &why)) {
		snprintf(reason, rn, "invalid JSON: %s (column %zu)", why,
		         where + 1);
		return false;
	}
	pick_fields(l, f);
	p->model_name = c->name;
	if (f[F_NAME] && f[F_NAME]->kind != IL_NULL) {
		if ((s = member_string(line, f[F_NAME], &nul)) == NULL) {
			snprintf(reason, rn, nul ? "model_name must not hold \\u0000"
			                         : "model_name must be a string");
			return false;
		}
		p->model_name = s;
	}
	if ((s = member_string(line, f[F_VERSION], &nul)) == NULL) {
		snprintf(reason, rn, nul ? "model_version must not hold \\u0000"
		                         : "model_version (a string) is required");
		return false;
	}
	p->model_version = s;
	if (f[F_FEATURES] && f[F_FEATURES]->kind == IL_OBJECT) {
		/* the byte after the object (a space, ',' or '}': never part of
		 * another member's span) ends it */
		line[(size_t)(f[F_FEATURES]->val - line) +
		     f[F_FEATURES]->val_len] = '\0';
		p->input_features = f[F_FEATURES]->val;
	} else if ((s = member_string(line, f[F_FEATURES], &nul)) != NULL) {
		p->input_features = s; /* JSON text; the logger checks it */
	} else {
		snprintf(reason, rn, nul ? "input_features must not hold \\u0000"
		         : "input_features (a JSON object) is required");
		return false;
	}
	if (!member_number(f[F_PRED], &p->predicted_value)) {
		snprintf(reason, rn, f[F_PRED] && f[F_PRED]->kind == IL_NUMBER
		         ? "predicted_value is out of range for a double"
		         : "predicted_value (a number) is required");
		return false;
	}
	if (!opt_number(f[F_ACTUAL], &p->actual_value)) {
		snprintf(reason, rn, "actual_value must be a number (within a "
		         "double's range) or null");
		return false;
	}
	if (!opt_number(f[F_CONF], &p->confidence_score)) {
		snprintf(reason, rn, "confidence_score must be a number (within "
		         "a double's range) or null");
		return false;
	}
	return true;
}

/* The 16 bytes of a textual UUID; false when it is not one.  The
 * canonical 8-4-4-4-12 form (what the logger hands out) is read at its
 * fixed places, once a line; any other spelling digit by digit. */
static bool uuid_parse(const char *s, unsigned char out[16])
{
	static const unsigned char at[16] = { 0, 2, 4, 6, 9, 11, 14, 16, 19,
	                                      21, 24, 26, 28, 30, 32, 34 };
	size_t k = 0;
	if (strlen(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' &&
	    s[23] == '-') {
		for (int i = 0; i < 16; i++) {
			int hi = hexval((unsigned char)s[at[i]]);
			int lo = hexval((unsigned char)s[at[i] + 1]);
			if ((hi | lo) < 0)
				return false;
			out[i] = (unsigned char)(hi << 4 | lo);
		}
		return true;
	}
	for (size_t i = 0; s[i] && k < 32; i++) {
		int h;
		if (s[i] == '-')
			continue;
		if ((h = hexval((unsigned char)s[i])) < 0)
			return false;
		if (k % 2 == 0)
			out[k / 2] = (unsigned char)(h << 4);
		else
			out[k / 2] |= (unsigned char)h;
		k++;
	}
	return k == 32;
}

/* Remember which line logged @p id (up to MAX_TRACKED_IDS lines). */
static void track_id(import_state *st, const char *id)
{
	if (st->nids >= MAX_TRACKED_IDS)
		return;
	if (st->nids == st->capids) {
		size_t nc = st->capids ? st->capids * 2 : 1024;
		id_line *n = realloc(st->ids, nc * sizeof *n);
		if (n == NULL)
			return;
		st->ids = n;
		st->capids = nc;
	}
	if (uuid_parse(id, st->ids[st->nids].id)) {
		st->ids[st->nids].line = st->lines;
		st->nids++;
	}
}

/* on_reject (the writer thread): keep the first MAX_LISTED_REJECTIONS. */
static void on_reject(void *payload, const char *id, const char *reason)
{
	import_state *st = payload;
	pthread_mutex_lock(&st->mu);
	if (st->nref < MAX_LISTED_REJECTIONS) {
		if (st->nref == st->capref) {
			size_t nc = st->capref ? st->capref * 2 : 16;
			refusal *n = realloc(st->ref, nc * sizeof *n);
			if (n != NULL) {
				st->ref = n;
				st->capref = nc;
			}
		}
		if (st->nref < st->capref) {
			refusal *r = &st->ref[st->nref];
			snprintf(r->id, sizeof r->id, "%s", id);
			r->reason = strdup(reason);
			if (r->reason)
				st->nref++;
		}
	}
	pthread_mutex_unlock(&st->mu);
}

static int cmp_id(const void *key, const void *elem)
{
	return memcmp(key, ((const id_line *)elem)->id, 16);
}

static int cmp_rejection(const void *a, const void *b)
{
	const rejection *x = a, *y = b;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* After close: each refused row as its line (or its id), then every
 * listed line in line order. */
static void list_refusals(import_state *st)
{
	for (size_t i = 0; i < st->nref; i++) {
		unsigned char id[16];
		const id_line *hit = NULL;
		char reason[1200];
		if (uuid_parse(st->ref[i].id, id))
			hit = bsearch(id, st->ids, st->nids, sizeof *st->ids, cmp_id);
		snprintf(reason, sizeof reason, "refused by the server%s%s%s: %s",
		         hit ? "" : " (prediction ", hit ? "" : st->ref[i].id,
		         hit ? "" : ")", st->ref[i].reason);
		add_rejection(st, hit ? hit->line : 0, reason, REJ_SERVER);
	}
	if (st->nrej > 1)
		qsort(st->rej, st->nrej, sizeof *st->rej, cmp_rejection);
}

static void import_state_dispose(import_state *st)
{
	for (size_t i = 0; i < st->nref; i++)
		free(st->ref[i].reason);
	free(st->ref);
	free(st->ids);
	for (size_t i = 0; i < st->nrej; i++)
		free(st->rej[i].reason);
	free(st->rej);
	il_line_dispose(&st->scan);
}

/* 0, CLI_HELP_SHOWN, or the exit code of a usage error. */
static int parse_import_args(cli *c, const char **spool_dir, bool *quiet,
                             int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "spool-dir", required_argument, NULL, 'd' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int opt;

	*spool_dir = "spool";
	*quiet = c->quiet;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd': *spool_dir = optarg; break;
		case 'q': *quiet = true; break;
		case 'h': usage_text(stdout); return CLI_HELP_SHOWN;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage(c, "import takes no arguments (NDJSON on stdin)");
	return 0;
}

static int open_predlog(const cli *c, const char *spool_dir,
                        import_state *st, ms_predlog **pl)
{
	ms_predlog_options o;
	ms_buf err = MS_BUF_INIT;
	ms_status s;

	ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION);
	o.spool_dir = spool_dir;
	o.on_reject = on_reject;
	o.on_reject_payload = st;
	o.batch_size = IMPORT_BATCH_ROWS;
	o.queue_capacity = IMPORT_QUEUE_ROWS;
	s = ms_predlog_open(pl, c->db, &o);
	if (s == MS_OK)
		return 0;
	ms_predlog_last_error(&err, *pl);
	ms_predlog_close(*pl);
	*pl = NULL;
	return cli_fail_buf(c, s, &err);
}

/* One non-blank NDJSON line: logged, or recorded as rejected. */
static void import_line(const cli *c, ms_predlog *pl, import_state *st,
                        char *line, size_t len)
{
	ms_prediction p;
	char reason[512], id[MS_UUID_STRLEN];
	ms_status s;
	ms_buf err = MS_BUF_INIT;

	if (!parse_line(c, &st->scan, line, len, &p, reason, sizeof reason)) {
		add_rejection(st, st->lines, reason, REJ_LINE);
	} else if ((s = ms_predlog_log(id, pl, &p)) == MS_OK) {
		st->accepted++;
		track_id(st, id);
	} else {
		if (s == MS_EINVAL)
			st->log_rejected++;
		ms_predlog_last_error(&err, pl);
		add_rejection(st, st->lines, err.ptr && err.ptr[0]
		              ? err.ptr : ms_status_str(s),
		              s == MS_EINVAL ? REJ_LINE : REJ_LOST);
		ms_buf_dispose(&err);
	}
}

/* stdin read in blocks of this many bytes (a line may be longer: the
 * buffer grows to hold it). */
#define READ_BLOCK ((size_t)1 << 20)

/* Lines of a file descriptor, read in large blocks rather than through
 * stdio's 4 KiB buffer, and handed out in place, writable (parse_line
 * decodes strings inside the line).  One byte of the buffer is always
 * kept free after the data, so a line can be NUL-terminated. */
typedef struct line_reader {
	int fd;
	char *buf;
	size_t cap;
	size_t start, end; /* unread bytes: buf[start, end) */
	size_t scanned;    /* bytes after start known to hold no newline */
	bool eof;
	int err;           /* errno of a failed read (then eof) */
} line_reader;

/* The next line, without its '\n', in *line and *len; false at the end
 * of the input (or at a read error, r->err set) or when out of memory
 * (r->err ENOMEM). */
static bool next_line(line_reader *r, char **line, size_t *len)
{
	for (;;) {
		size_t have = r->end - r->start;
		char *nl = have > r->scanned
		           ? memchr(r->buf + r->start + r->scanned, '\n',
		                    have - r->scanned) : NULL;
		ssize_t got;
		if (nl != NULL) {
			*line = r->buf + r->start;
			*len = (size_t)(nl - *line);
			r->start += *len + 1;
			r->scanned = 0;
			return true;
		}
		r->scanned = have;
		if (r->eof) {
			if (have == 0)
				return false;
			*line = r->buf + r->start; /* the last line, no '\n' */
			*len = have;
			r->start = r->end;
			r->scanned = 0;
			return true;
		}
		/* a partial line: to the front, then room for a block more */
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, have);
			r->start = 0;
			r->end = have;
		}
		if (r->cap - r->end < READ_BLOCK + 1) {
			size_t nc = r->cap ? r->cap * 2 : READ_BLOCK + 1;
			char *nb;
			while (nc - r->end < READ_BLOCK + 1)
				nc *= 2;
			if ((nb = realloc(r->buf, nc)) == NULL) {
				r->err = ENOMEM;
				r->eof = true;
				return false;
			}
			r->buf = nb;
			r->cap = nc;
		}
		got = read(r->fd, r->buf + r->end, r->cap - r->end - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			r->eof = true;
			if (got < 0)
				r->err = errno;
		} else {
			r->end += (size_t)got;
		}
	}
}

/* Every line of stdin; a running count on stderr when @progress. */
static void import_stdin(const cli *c, ms_predlog *pl, import_state *st,
                         bool progress)
{
	uint64_t last_progress = 0;
	line_reader r = { .fd = STDIN_FILENO };
	char *line;
	size_t len;

	while (next_line(&r, &line, &len)) {
		size_t blank = 0;
		st->lines++;
		while (len && line[len - 1] == '\r')
			len--;
		while (blank < len && (line[blank] == ' ' || line[blank] == '\t'))
			blank++;
		if (blank == len)
			continue; /* blank line */
		import_line(c, pl, st, line, len);
		if (progress && st->lines % 1024 == 0) {
			uint64_t now = cli_now_ns() / 1000000u;
			if (now - last_progress >= 250) {
				last_progress = now;
				fprintf(stderr, "\rimporting: %lu lines, %lu accepted, "
				        "%lu rejected", st->lines, st->accepted, st->rejected);
			}
		}
	}
	free(r.buf);
	if (progress && last_progress)
		fputc('\n', stderr);
	if (r.err != 0) {
		char msg[256];
		snprintf(msg, sizeof msg, "predictions import: reading stdin "
		         "stopped after line %lu: %s", st->lines, strerror(r.err));
		cli_log((void *)c, MS_LOG_ERROR, msg);
		st->read_failed = true;
	}
}

/* How the logger ended: read after ms_predlog_close_stats, so final. */
typedef struct import_end {
	ms_status close;        /* MS_OK, MS_EFULL (rows lost), or why rows
	                         * wait in the spool */
	ms_predlog_stats stats;
	ms_buf err;             /* the logger's last error */
} import_end;

/* Rows the logger took but could not keep: dropped at close, plus lines
 * whose log() found queue and spool full or the spool unwritable. */
static uint64_t rows_lost(const import_state *st, const import_end *e)
{
	return e->stats.lost + st->lost;
}

/* Rows the server refused (the logger's rejected counter also holds the
 * lines log() refused). */
static uint64_t server_rejected(const import_state *st, const import_end *e)
{
	return e->stats.rejected > st->log_rejected
	       ? e->stats.rejected - st->log_rejected : 0;
}

static bool rows_wait(const import_end *e)
{
	return e->close != MS_OK && e->close != MS_EFULL;
}

static void print_import_json(const import_state *st, const import_end *e,
                              const char *spool_dir)
{
	json_t *doc = json_object(), *arr = json_array();
	for (size_t i = 0; i < st->nrej; i++)
		json_array_append_new(arr, json_pack("{s:o,s:s}", "line",
		                      st->rej[i].line ? json_integer((json_int_t)
		                      st->rej[i].line) : json_null(), "reason",
		                      st->rej[i].reason));
	json_object_set_new(doc, "lines", json_integer((json_int_t)st->lines));
	json_object_set_new(doc, "accepted",
	                    json_integer((json_int_t)st->accepted));
	json_object_set_new(doc, "rejected", json_integer((json_int_t)
	                    (st->rejected + server_rejected(st, e))));
	json_object_set_new(doc, "rejections", arr);
	json_object_set_new(doc, "written",
	                    json_integer((json_int_t)e->stats.written));
	json_object_set_new(doc, "spooled",
	                    json_integer((json_int_t)e->stats.spooled));
	json_object_set_new(doc, "replayed",
	                    json_integer((json_int_t)e->stats.replayed));
	json_object_set_new(doc, "server_rejected",
	                    json_integer((json_int_t)server_rejected(st, e)));
	json_object_set_new(doc, "lost",
	                    json_integer((json_int_t)rows_lost(st, e)));
	json_object_set_new(doc, "spool_corrupt",
	                    json_integer((json_int_t)e->stats.spool_corrupt));
	json_object_set_new(doc, "spool_dir", json_string(spool_dir));
	json_object_set_new(doc, "spool_pending", json_boolean(rows_wait(e)));
	cli_print_json(doc);
}

static void print_import_text(const import_state *st, const import_end *e,
                              bool quiet)
{
	uint64_t refused = server_rejected(st, e);
	uint64_t total = st->rejected + st->lost + refused;
	for (size_t i = 0; i < st->nrej; i++) {
		if (st->rej[i].line)
			fprintf(stderr, "modelstore: predictions import: line %lu: "
			        "%s\n", st->rej[i].line, st->rej[i].reason);
		else
			fprintf(stderr, "modelstore: predictions import: %s\n",
			        st->rej[i].reason);
	}
	if (total > st->nrej)
		fprintf(stderr, "modelstore: predictions import: ... and %llu "
		        "more not listed (%llu rows refused by the server in "
		        "all)\n", (unsigned long long)(total - st->nrej),
		        (unsigned long long)refused);
	if (!quiet)
		printf("accepted %lu, rejected %llu, written %llu, spooled %llu, "
		       "replayed %llu, lost %llu%s\n", st->accepted,
		       (unsigned long long)(st->rejected + refused),
		       (unsigned long long)e->stats.written,
		       (unsigned long long)e->stats.spooled,
		       (unsigned long long)e->stats.replayed,
		       (unsigned long long)rows_lost(st, e),
		       rows_wait(e) ? " (rows wait in the spool)" : "");
}

/* 1: rows lost; 4: rows wait in the spool, the database unreachable;
 * 1: rows wait because the server refused them (permission, schema);
 * 1: some lines rejected, or stdin could not be read to its end;
 * 0: all in the database. */
static int import_exit(const cli *c, const import_state *st,
                       const import_end *e, const char *spool_dir)
{
	const char *why = e->err.ptr && e->err.ptr[0] ? e->err.ptr : NULL;
	uint64_t lost = rows_lost(st, e);
	int rc = 0;
	if (lost > 0)
		rc = cli_fail(c, MS_EFULL, "%llu rows lost: they could be neither "
		              "written to the database nor kept in the spool "
		              "\"%s\"%s%s", (unsigned long long)lost, spool_dir,
		              e->stats.lost && why ? ": " : "",
		              e->stats.lost && why ? why : "");
	if (rows_wait(e)) {
		int r = cli_fail(c, e->close, "rows wait in the spool \"%s\": %s",
		                 spool_dir, why ? why : ms_status_str(e->close));
		if (rc == 0)
			rc = r;
	}
	if (rc == 0 && (st->rejected > 0 || server_rejected(st, e) > 0 ||
	                st->read_failed))
		rc = EXIT_ERROR_;
	return rc;
}

/* Warn about every pl-* name in @p dir that is not one of our spool files
 * (a regular file pl-*.spool whose header is MSPOOL1 or MSPOOL2): the
 * logger leaves such names alone, and so does import. */
static void warn_stray_spool_names(const cli *c, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name, *what = NULL;
		size_t l = strlen(n);
		struct stat sb;
		char head[8];
		int fd;
		if (strncmp(n, "pl-", 3) != 0)
			continue;
		if (l <= 9 || strcmp(n + l - 6, ".spool") != 0)
			what = "not named pl-<id>.spool";
		else if (fstatat(dirfd(d), n, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			continue; /* gone meanwhile (replayed by another process) */
		else if (!S_ISREG(sb.st_mode))
			what = S_ISDIR(sb.st_mode) ? "a directory"
			       : S_ISLNK(sb.st_mode) ? "a symbolic link"
			       : "not a regular file";
		else if ((fd = openat(dirfd(d), n, O_RDONLY | O_NOFOLLOW |
		                      O_NONBLOCK | O_CLOEXEC)) < 0)
			what = "unreadable";
		else {
			ssize_t got = read(fd, head, sizeof head);
			close(fd);
			if (got != (ssize_t)sizeof head ||
			    (memcmp(head, "MSPOOL1\n", 8) != 0 &&
			     memcmp(head, "MSPOOL2\n", 8) != 0))
				what = got == (ssize_t)sizeof head &&
				       memcmp(head, "MSPOOL", 6) == 0
				       ? "a spool file of a format version this "
				         "modelstore does not read"
				       : "not a spool file";
		}
		if (what) {
			char msg[1024], sd[256], sn[256];
			/* names may hold control characters: escaped */
			snprintf(msg, sizeof msg, "predictions import: warning: "
			         "%s/%s: %s; left alone", cli_safe(sd, sizeof sd, dir),
			         cli_safe(sn, sizeof sn, n), what);
			cli_log((void *)c, MS_LOG_WARN, msg);
		}
	}
	closedir(d);
}

/* A malformed connection string is a usage error, found before any
 * line is read; an unreachable database is not (rows are spooled). */
static int check_conninfo(const cli *c)
{
	ms_store *s = NULL;
	ms_store_options o;
	ms_status st;
	int rc = 0;
	ms_store_options_init(&o, MS_STORE_OPTIONS_VERSION);
	o.check_schema = false;
	st = ms_store_open(&s, c->db, &o);
	if (st == MS_EINVAL || st == MS_ENOMEM)
		rc = cli_fail(c, st, "%s", s ? ms_store_errmsg(s)
		                              : ms_status_str(st));
	ms_store_close(s);
	return rc;
}

static int cmd_import(cli *c, int argc, char **argv)
{
	const char *spool_dir;
	bool quiet;
	ms_predlog *pl = NULL;
	import_state st = { 0 };
	import_end e = { .stats = MS_PREDLOG_STATS_INIT, .err = MS_BUF_INIT };
	int rc = parse_import_args(c, &spool_dir, &quiet, argc, argv);

	if (rc != 0)
		return rc == CLI_HELP_SHOWN ? 0 : rc;
	if ((rc = check_conninfo(c)) != 0)
		return rc;
	warn_stray_spool_names(c, spool_dir);
	pthread_mutex_init(&st.mu, NULL);
	if ((rc = open_predlog(c, spool_dir, &st, &pl)) != 0) {
		pthread_mutex_destroy(&st.mu);
		return rc;
	}
	import_stdin(c, pl, &st, !quiet && !c->json && isatty(STDERR_FILENO));
	e.close = ms_predlog_close_stats(&e.stats, &e.err, pl);
	list_refusals(&st); /* the writer thread is gone */
	if (c->json)
		print_import_json(&st, &e, spool_dir);
	else
		print_import_text(&st, &e, quiet);
	rc = import_exit(c, &st, &e, spool_dir);
	ms_buf_dispose(&e.err);
	import_state_dispose(&st);
	pthread_mutex_destroy(&st.mu);
	return rc;
}

static int cmd_actual(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	ms_store *s;
	double value;
	char *end;
	int opt, rc;
	ms_status st;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h': usage_text(stdout); return 0;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (argc - optind != 2)
		return cli_usage(c, "expected a prediction ID and a VALUE");
	errno = 0;
	value = strtod(argv[optind + 1], &end);
	if (errno || *end || end == argv[optind + 1] || !isfinite(value))
		return cli_usage(c, "invalid VALUE value: \"%s\"", argv[optind + 1]);
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	st = ms_store_record_actual(s, argv[optind], value);
	if (st != MS_OK) {
		rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
		ms_store_close(s);
		return rc;
	}
	ms_store_close(s);
	if (c->json)
		cli_print_json(json_pack("{s:s,s:f}", "prediction_id", argv[optind],
		                         "actual_value", value));
	else if (!c->quiet)
		printf("recorded actual_value %.17g for %s\n", value, argv[optind]);
	return 0;
}

int cmd_predictions(cli *c, int argc, char **argv)
{
	if (argc < 2) {
		usage_text(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage_text(stdout);
		return 0;
	}
	if (strcmp(argv[1], "import") == 0) {
		c->command = "predictions import";
		return cmd_import(c, argc - 1, argv + 1);
	}
	if (strcmp(argv[1], "actual") == 0 && cmd_actuals_wanted(argc - 1, argv + 1))
		return cmd_actuals(c, argc - 1, argv + 1); /* cmd_actuals.c */
	if (strcmp(argv[1], "actual") == 0)
		return cmd_actual(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "prune") == 0)
		return cmd_predictions_prune(c, argc - 1, argv + 1); /* cmd_retention.c */
	return cli_usage(c, "unknown subcommand \"%s\" (import, actual or prune)",
	                 argv[1]);
}
