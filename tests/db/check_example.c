/* check_example.c - examples/inference_service.c does what its comment
 * says: it serves the production model, logs every prediction it makes
 * (counted in the table, not taken from its own word), prints its
 * stats, and shuts down cleanly on SIGTERM, flushing what it logged. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

extern char **environ;

static char *g_url;
static char *g_dir;

static const char *example_path(void)
{
	static char path[4096];
	const char *e = getenv("MS_EXAMPLE");
	if (e)
		return e;
	/* MS_CLI is BUILD/cli/modelstore: the example is BUILD/examples/ */
	snprintf(path, sizeof path, "%s", mt_cli());
	*strrchr(path, '/') = '\0';
	*strrchr(path, '/') = '\0';
	strcat(path, "/examples/inference_service");
	return path;
}

static long rows(void)
{
	char *r = mt_sql(g_url, "SELECT count(*) FROM model_predictions");
	long n;
	ck_assert_ptr_nonnull(r);
	n = atol(r);
	free(r);
	return n;
}

static void setup(void)
{
	char *model = NULL;
	g_url = mt_migrated_db("example_tests");
	g_dir = mt_tmpdir();
	ck_assert_int_gt(asprintf(&model, "%s/model.bin", g_dir), 0);
	ck_assert_int_eq(mt_write_random(model, 4096, 9), 0);
	{
		char *cmd = NULL;
		ck_assert_int_gt(asprintf(&cmd, "'%s' --db '%s' push -q --version ex1 "
		                          "--production '%s' >/dev/null", mt_cli(), g_url,
		                          model), 0);
		ck_assert_int_eq(system(cmd), 0);
		free(cmd);
	}
	free(model);
}

static void teardown(void)
{
	mt_rmtree(g_dir);
	free(g_dir);
	free(g_url);
}

/* Start the service in g_dir with DATABASE_URL; *in: its stdin, *err:
 * its stderr. */
static pid_t start(int *in, int *err)
{
	int pin[2], perr[2], devnull = open("/dev/null", O_WRONLY);
	posix_spawn_file_actions_t fa;
	char *envp[256], *url = NULL;
	size_t n = 0;
	pid_t pid;
	const char *argv[] = { example_path(), "--fallback-dir", "models", NULL };

	ck_assert_int_eq(access(argv[0], X_OK), 0);
	ck_assert_int_gt(asprintf(&url, "DATABASE_URL=%s", g_url), 0);
	for (char **e = environ; *e && n < 254; e++)
		if (strncmp(*e, "DATABASE_URL=", 13) != 0)
			envp[n++] = *e;
	envp[n++] = url;
	envp[n] = NULL;
	ck_assert_int_eq(pipe(pin), 0);
	ck_assert_int_eq(pipe(perr), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
	posix_spawn_file_actions_adddup2(&fa, devnull, 1);
	posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
	posix_spawn_file_actions_addclose(&fa, pin[1]);
	posix_spawn_file_actions_addclose(&fa, perr[0]);
	posix_spawn_file_actions_addchdir_np(&fa, g_dir);
	ck_assert_int_eq(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pin[0]);
	close(perr[1]);
	close(devnull);
	free(url);
	*in = pin[1];
	*err = perr[0];
	return pid;
}

static char *slurp(int fd)
{
	char *buf = calloc(1, 1 << 16);
	size_t n = 0;
	ssize_t r;
	while (n + 1 < (1 << 16) && (r = read(fd, buf + n, (1 << 16) - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	return buf;
}

static void send_lines(int fd, int n)
{
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < n; i++) {
		char line[64];
		int l = snprintf(line, sizeof line, "[%d, 2.5, -1]\n", i);
		ck_assert_int_eq(write(fd, line, (size_t)l), l);
	}
}

/* EOF ends the service: every request answered and logged. */
START_TEST(logs_every_prediction)
{
	int in, err, status;
	pid_t pid = start(&in, &err);
	char *text;
	send_lines(in, 50);
	ck_assert_int_eq(write(in, "not json\n", 9), 9);
	close(in);
	text = slurp(err);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status, text);
	ck_assert_int_eq(rows(), 50);
	ck_assert_msg(strstr(text, "served 50, failed 1") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "accepted 50, written 50, spooled 0, not logged 0") != NULL,
	              "%s", text);
	{
		char *v = mt_sql(g_url, "SELECT count(DISTINCT model_version) || ' ' || "
		                        "min(model_version) || ' ' || "
		                        "count(*) FILTER (WHERE input_features ? 'x') "
		                        "FROM model_predictions");
		ck_assert_str_eq(v, "1 ex1 50");
		free(v);
	}
	free(text);
}
END_TEST

/* SIGTERM while it waits for input: it stops, flushes the logger, prints
 * its stats and exits 0.  The test waits for the rows to be in the table
 * (observable) before it signals, then checks nothing was lost or
 * doubled. */
START_TEST(sigterm_shuts_down_cleanly)
{
	int in, err, status;
	pid_t pid = start(&in, &err);
	char *text;
	struct timespec t0, now;
	send_lines(in, 20);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (rows() < 20) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ck_assert_msg(now.tv_sec - t0.tv_sec < 30, "rows never arrived: %ld", rows());
		poll(NULL, 0, 20);
	}
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	text = slurp(err);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	close(in);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status, text);
	ck_assert_msg(strstr(text, "served 20, failed 0") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "written 20") != NULL, "%s", text);
	ck_assert_int_eq(rows(), 20);
	free(text);
}
END_TEST

Suite *db_example_suite(void)
{
	Suite *s = suite_create("db_example");
	TCase *tc = tcase_create("Core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, logs_every_prediction);
	tcase_add_test(tc, sigterm_shuts_down_cleanly);
	suite_add_tcase(s, tc);
	return s;
}
