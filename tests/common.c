/* common.c - helpers shared by the Check suites. */
#define _GNU_SOURCE
#include "common.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char state_cache[32][2][512];
static int state_n = -1;

const char *mt_env(const char *key)
{
	if (state_n < 0) {
		const char *path = getenv("MS_TEST_STATE");
		FILE *f = path ? fopen(path, "r") : NULL;
		char line[1024];
		state_n = 0;
		while (f && state_n < 32 && fgets(line, sizeof line, f)) {
			char *eq = strchr(line, '=');
			if (!eq)
				continue;
			*eq = '\0';
			line[strcspn(line, "\n")] = '\0';
			eq[1 + strcspn(eq + 1, "\n")] = '\0';
			snprintf(state_cache[state_n][0], 512, "%.500s", line);
			snprintf(state_cache[state_n][1], 512, "%.500s", eq + 1);
			state_n++;
		}
		if (f)
			fclose(f);
	}
	for (int i = 0; i < state_n; i++)
		if (strcmp(state_cache[i][0], key) == 0)
			return state_cache[i][1];
	return NULL;
}

static char *db_url(const char *db)
{
	char *s = NULL;
	const char *port = mt_env("PGPORT");
	ck_assert_msg(port != NULL, "no test cluster: MS_TEST_STATE unset or unreadable");
	ck_assert_int_gt(asprintf(&s, "postgresql://postgres@127.0.0.1:%s/%s",
	                          port, db), 0);
	return s;
}

static void quiet(void *a, const char *m)
{
	(void)a;
	(void)m;
}

char *mt_sql(const char *conninfo, const char *sql)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r;
	char *out = NULL;
	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, quiet, NULL);
	r = PQexec(c, sql);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		out = strdup(PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
	else if (PQresultStatus(r) == PGRES_COMMAND_OK)
		out = strdup("");
	PQclear(r);
	PQfinish(c);
	return out;
}

char *mt_fresh_db(const char *name)
{
	char *admin = db_url("postgres"), *sql = NULL, *r;
	ck_assert_int_gt(asprintf(&sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", name), 0);
	r = mt_sql(admin, sql);
	ck_assert_msg(r != NULL, "cannot drop database %s", name);
	free(r);
	free(sql);
	ck_assert_int_gt(asprintf(&sql, "CREATE DATABASE \"%s\"", name), 0);
	r = mt_sql(admin, sql);
	ck_assert_msg(r != NULL, "cannot create database %s", name);
	free(r);
	free(sql);
	free(admin);
	return db_url(name);
}

char *mt_migrated_db(const char *name)
{
	char *url = mt_fresh_db(name);
	ms_store_options o;
	ms_store *s = NULL;
	ms_status st;
	ms_store_options_init(&o, MS_STORE_OPTIONS_VERSION);
	o.check_schema = 0;
	st = ms_store_open(&s, url, &o);
	ck_assert_msg(st == MS_OK, "open: %s", ms_store_errmsg(s));
	st = ms_store_migrate(NULL, s);
	ck_assert_msg(st == MS_OK, "migrate: %s", ms_store_errmsg(s));
	ms_store_close(s);
	return url;
}

int mt_harness(const char *cmd)
{
	char *line = NULL;
	int rc;
	const char *src = getenv("MS_SOURCE_DIR");
	ck_assert_int_gt(asprintf(&line, "%s/tests/pg_harness.sh %s '%s'",
	                          src ? src : ".", cmd, getenv("MS_TEST_STATE")), 0);
	rc = system(line);
	free(line);
	return rc;
}

char *mt_tmpdir(void)
{
	char tmpl[] = "/tmp/ms-test.XXXXXX";
	char *d = mkdtemp(tmpl);
	ck_assert_ptr_nonnull(d);
	return strdup(d);
}

void mt_rmtree(const char *dir)
{
	char *cmd = NULL;
	if (dir == NULL || strncmp(dir, "/tmp/", 5) != 0)
		return;
	if (asprintf(&cmd, "rm -rf '%s'", dir) > 0)
		(void)!system(cmd);
	free(cmd);
}

const char *mt_cli(void)
{
	const char *p = getenv("MS_CLI");
	ck_assert_msg(p != NULL, "MS_CLI not set");
	return p;
}

void mt_fill_random(void *buf, size_t n, unsigned seed)
{
	uint64_t x = 0x9E3779B97F4A7C15ull ^ seed;
	unsigned char *p = buf;
	size_t i = 0;
	while (i < n) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		for (int k = 0; k < 8 && i < n; k++, i++)
			p[i] = (unsigned char)(x >> (8 * k));
	}
}

int mt_write_random(const char *path, uint64_t n, unsigned seed)
{
	FILE *f = fopen(path, "wb");
	static unsigned char buf[1 << 16];
	uint64_t done = 0;
	if (!f)
		return -1;
	while (done < n) {
		size_t k = n - done < sizeof buf ? (size_t)(n - done) : sizeof buf;
		mt_fill_random(buf, k, seed + (unsigned)(done >> 16));
		if (fwrite(buf, 1, k, f) != k) {
			fclose(f);
			return -1;
		}
		done += k;
	}
	return fclose(f) == 0 ? 0 : -1;
}

static void append(char **s, size_t *n, const char *d, size_t k)
{
	*s = realloc(*s, *n + k + 1);
	memcpy(*s + *n, d, k);
	*n += k;
	(*s)[*n] = '\0';
}

int mt_run(const char *const argv[], const char *const env[], const char *in,
           size_t in_len, char **out, char **err)
{
	int pin[2], pout[2], perr[2], status;
	posix_spawn_file_actions_t fa;
	pid_t pid;
	char **envp;
	size_t ne = 0, nx = 0, i;
	char *obuf = NULL, *ebuf = NULL;
	size_t on = 0, en = 0, inoff = 0;

	while (environ[ne])
		ne++;
	while (env && env[nx])
		nx++;
	envp = calloc(ne + nx + 1, sizeof *envp);
	for (i = 0; i < ne; i++)
		envp[i] = environ[i];
	for (i = 0; i < nx; i++)
		envp[ne + i] = (char *)env[i];
	if (pipe(pin) || pipe(pout) || pipe(perr))
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
	posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
	posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
	posix_spawn_file_actions_addclose(&fa, pin[1]);
	posix_spawn_file_actions_addclose(&fa, pout[0]);
	posix_spawn_file_actions_addclose(&fa, perr[0]);
	if (posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, envp) != 0) {
		free(envp);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	signal(SIGPIPE, SIG_IGN);
	if (in == NULL || in_len == 0) {
		close(pin[1]);
		pin[1] = -1;
	} else {
		fcntl(pin[1], F_SETFL, O_NONBLOCK);
	}
	obuf = strdup("");
	ebuf = strdup("");
	for (;;) {
		struct pollfd p[3];
		int np = 0;
		char buf[65536];
		if (pout[0] >= 0) p[np++] = (struct pollfd){ pout[0], POLLIN, 0 };
		if (perr[0] >= 0) p[np++] = (struct pollfd){ perr[0], POLLIN, 0 };
		if (pin[1] >= 0) p[np++] = (struct pollfd){ pin[1], POLLOUT, 0 };
		if (np == 0)
			break;
		if (poll(p, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int k = 0; k < np; k++) {
			if (!p[k].revents)
				continue;
			if (p[k].fd == pin[1]) {
				ssize_t w = write(pin[1], in + inoff, in_len - inoff);
				if (w > 0)
					inoff += (size_t)w;
				if (w < 0 && errno != EAGAIN) inoff = in_len;
				if (inoff >= in_len) {
					close(pin[1]);
					pin[1] = -1;
				}
				continue;
			}
			ssize_t r = read(p[k].fd, buf, sizeof buf);
			if (r <= 0) {
				close(p[k].fd);
				if (p[k].fd == pout[0]) pout[0] = -1;
				else perr[0] = -1;
			} else if (p[k].fd == pout[0]) {
				append(&obuf, &on, buf, (size_t)r);
			} else {
				append(&ebuf, &en, buf, (size_t)r);
			}
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (out) *out = obuf; else free(obuf);
	if (err) *err = ebuf; else free(ebuf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

ms_store *mt_open_store(const char *url)
{
	ms_store *s = NULL;
	ms_status st = ms_store_open(&s, url, NULL);
	ck_assert_msg(st == MS_OK, "open: %s", ms_store_errmsg(s));
	return s;
}

void mt_push(const char *url, const char *name, const char *version,
             size_t n, unsigned seed, int prod)
{
	ms_store *s = mt_open_store(url);
	unsigned char *data = malloc(n ? n : 1);
	ms_push_options o;
	ms_artifact_source src = { NULL, NULL, data, n };
	ms_status st;
	ck_assert_ptr_nonnull(data);
	mt_fill_random(data, n, seed);
	ms_push_options_init(&o, MS_PUSH_OPTIONS_VERSION);
	o.model_name = name;
	o.model_version = version;
	o.model_type = "test";
	o.production = prod;
	st = ms_store_push(NULL, s, &o, &src, 1);
	ck_assert_msg(st == MS_OK, "push: %s", ms_store_errmsg(s));
	free(data);
	ms_store_close(s);
}

char *mt_refused_url(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof a;
	char *url = NULL;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd); /* bound, never listened: now refused */
	ck_assert_int_gt(asprintf(&url, "postgresql://postgres@127.0.0.1:%d/x",
	                          ntohs(a.sin_port)), 0);
	return url;
}

size_t mt_spool_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "pl-", 3) == 0)
			n++;
	closedir(d);
	return n;
}

size_t mt_copy_files(const char *from, const char *to, const char *prefix)
{
	DIR *d = opendir(from);
	struct dirent *de;
	size_t n = 0;
	ck_assert_ptr_nonnull(d);
	(void)mkdir(to, 0700);
	while ((de = readdir(d))) {
		char src[4096], dst[4096], buf[65536];
		struct stat sb;
		FILE *in, *out;
		size_t k;
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(src, sizeof src, "%s/%s", from, de->d_name);
		snprintf(dst, sizeof dst, "%s/%s", to, de->d_name);
		if (stat(src, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		in = fopen(src, "rb");
		out = fopen(dst, "wb");
		ck_assert_ptr_nonnull(in);
		ck_assert_ptr_nonnull(out);
		while ((k = fread(buf, 1, sizeof buf, in)) > 0)
			ck_assert_uint_eq(fwrite(buf, 1, k, out), k);
		fclose(in);
		ck_assert_int_eq(fclose(out), 0);
		n++;
	}
	closedir(d);
	return n;
}

double mt_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void mt_poll_pause(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static char skipped_suite[64], skipped_why[256];

bool mt_suite_needs_root(const char *suite, const char *why)
{
	if (geteuid() == 0)
		return true;
	snprintf(skipped_suite, sizeof skipped_suite, "%s", suite);
	snprintf(skipped_why, sizeof skipped_why, "%s", why);
	return false;
}

const char *mt_suite_skipped(const char *suite)
{
	return suite && skipped_suite[0] && strcmp(suite, skipped_suite) == 0
	       ? skipped_why : NULL;
}
