/* check_fault.c - faults: the server dying mid-transfer, a silent host,
 * allocation failures.  Runs on its own cluster, which it kills. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "alloc.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The child reports "mid-transfer" on fd, then blocks on ack until the
 * parent has killed the server: the kill lands mid-transfer, no timing. */
typedef struct tell { int fd, ack; uint64_t after; bool told; } tell;

static void wait_for_ack(int fd)
{
	char c;
	(void)!read(fd, &c, 1);
}
static void progress_tell(void *p, uint64_t done, uint64_t total)
{
	tell *t = p;
	(void)total;
	if (!t->told && done >= t->after) {
		t->told = true;
		(void)!write(t->fd, "x", 1);
		wait_for_ack(t->ack); /* the parent has killed the server */
	}
}

START_TEST(server_killed_mid_push_leaves_nothing)
{
	char *url = mt_migrated_db("fault_push");
	int pfd[2], afd[2];
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(pipe(afd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		size_t n = 200u << 20;
		unsigned char *data = malloc(n);
		ms_store *s = NULL;
		ms_push_options o;
		ms_artifact_source src = { NULL, NULL, data, n };
		tell t = { pfd[1], afd[0], 40u << 20, false };
		mt_fill_random(data, n, 5);
		if (ms_store_open(&s, url, NULL) != MS_OK)
			_exit(10);
		ms_push_options_init(&o, MS_PUSH_OPTIONS_VERSION);
		o.model_version = "doomed";
		o.progress = progress_tell;
		o.progress_payload = &t;
		ms_status st = ms_store_push(NULL, s, &o, &src, 1);
		ms_store_close(s);
		_exit(st == MS_EUNREACHABLE ? 0 : 20 + (int)st);
	}
	char c;
	ck_assert_int_eq(read(pfd[0], &c, 1), 1);
	ck_assert_int_eq(mt_harness("kill"), 0);
	ck_assert_int_eq(write(afd[1], "x", 1), 1);
	int status;
	waitpid(pid, &status, 0);
	ck_assert_int_eq(mt_harness("restart"), 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "push after kill: child exit %d", WEXITSTATUS(status));
	char *n = mt_sql(url, "SELECT (SELECT count(*) FROM model_artifacts) || '/' || (SELECT count(*) FROM model_artifact_chunks)");
	ck_assert_str_eq(n, "0/0");
	free(n);
	close(pfd[0]);
	close(pfd[1]);
	close(afd[0]);
	close(afd[1]);
	free(url);
}
END_TEST

typedef struct slow { int fd, ack; int calls; } slow;
static ms_status slow_sink(void *p, const void *d, size_t n)
{
	slow *s = p;
	(void)d; (void)n;
	if (++s->calls == 5) {
		(void)!write(s->fd, "x", 1);
		wait_for_ack(s->ack);
	}
	return MS_OK;
}

START_TEST(server_killed_mid_pull_is_unreachable_and_writes_nothing)
{
	char *url = mt_migrated_db("fault_pull");
	char *dir = mt_tmpdir(), out[512];
	ms_store *s = NULL;
	size_t n = 64u << 20;
	unsigned char *data = malloc(n);
	ms_artifact_source src = { NULL, NULL, data, n };
	ms_push_options o;
	mt_fill_random(data, n, 6);
	ck_assert_int_eq(ms_store_open(&s, url, NULL), MS_OK);
	ms_push_options_init(&o, MS_PUSH_OPTIONS_VERSION);
	o.model_version = "big";
	ck_assert_int_eq(ms_store_push(NULL, s, &o, &src, 1), MS_OK);
	ms_store_close(s);
	free(data);
	snprintf(out, sizeof out, "%s/pulled.bin", dir);
	int pfd[2], afd[2];
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(pipe(afd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		slow sl = { pfd[1], afd[0], 0 };
		ms_store *c = NULL;
		if (ms_store_open(&c, url, NULL) != MS_OK)
			_exit(10);
		ms_status st = ms_store_pull(NULL, c, NULL, "big", NULL, slow_sink, &sl, NULL, NULL);
		ms_store_close(c);
		_exit(st == MS_EUNREACHABLE ? 0 : 20 + (int)st);
	}
	char c;
	ck_assert_int_eq(read(pfd[0], &c, 1), 1);
	ck_assert_int_eq(mt_harness("kill"), 0);
	ck_assert_int_eq(write(afd[1], "x", 1), 1);
	int status;
	waitpid(pid, &status, 0);
	ck_assert_int_eq(mt_harness("restart"), 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "pull after kill: child exit %d", WEXITSTATUS(status));
	/* and pull_file leaves no file when the server is gone */
	ck_assert_int_eq(ms_store_open(&s, url, NULL), MS_OK);
	ck_assert_int_eq(mt_harness("kill"), 0);
	ck_assert_int_eq(ms_store_pull_file(NULL, s, NULL, "big", NULL, out, 0, NULL, NULL), MS_EUNREACHABLE);
	ck_assert_int_ne(access(out, F_OK), 0);
	ck_assert_int_eq(mt_harness("restart"), 0);
	ms_store_close(s);
	close(pfd[0]);
	close(pfd[1]);
	close(afd[0]);
	close(afd[1]);
	mt_rmtree(dir);
	free(dir);
	free(url);
}
END_TEST

/* A TCP listener that accepts and never says a word. */
static int silent_fd;
static void *silent_accept(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(silent_fd, NULL, NULL);
		if (c < 0)
			return NULL;
		/* keep it open, never answer */
	}
}

START_TEST(silent_host_is_bounded_by_connect_timeout)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	pthread_t th;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	silent_fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(silent_fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(silent_fd, 8), 0);
	ck_assert_int_eq(getsockname(silent_fd, (struct sockaddr *)&a, &len), 0);
	pthread_create(&th, NULL, silent_accept, NULL);
	char url[128];
	snprintf(url, sizeof url, "postgresql://u@127.0.0.1:%d/x", ntohs(a.sin_port));
	ms_store *s = NULL;
	double t0 = now_s();
	ck_assert_int_eq(ms_store_open(&s, url, NULL), MS_EUNREACHABLE);
	double took = now_s() - t0;
	/* DESIGN.md: bounded by the connect timeout (default 2 s).  libpq 15
	 * keeps that deadline in whole seconds (finish = time(NULL) + 2, each
	 * wait polls for (finish - time(NULL)) s), so a connect that crosses a
	 * second boundary between taking the deadline and its last wait gives
	 * up after 1 to 2 s: CI saw 1.033 s under load, where a lower bound of
	 * 1.5 s failed.  The message, not a floor, proves it was the timeout. */
	fprintf(stderr, "silent host: %.3f s\n", took);
	ck_assert_msg(took >= 0.99 && took < 2.5,
	              "silent host took %.2f s (libpq 15: 1 to 2 s for a 2 s timeout)", took);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "timeout"));
	ms_store_close(s);
	shutdown(silent_fd, SHUT_RDWR);
	close(silent_fd);
	pthread_join(th, NULL);
}
END_TEST

/* Fail the Nth allocation of the pushing thread (N = 1, 2, ... until the
 * push allocates fewer than N: the countdown is no longer reached), once
 * and then persistently (every allocation after the Nth fails): each
 * failed push is MS_ENOMEM and leaves no row behind. */
START_TEST(allocation_failures_during_push_leave_nothing_half_written)
{
	char *url = mt_migrated_db("fault_alloc");
	ms_store_options so = MS_STORE_OPTIONS_INIT;
	ms_store *s = NULL;
	unsigned char data[10000];
	ms_artifact_source src[2] = { { NULL, NULL, data, sizeof data }, { "aux", NULL, "abc", 3 } };
	ms_push_options o;
	char ver[32];
	so.chunk_size = 4096;
	mt_fill_random(data, sizeof data, 8);
	ck_assert_int_eq(ms_store_open(&s, url, &so), MS_OK);
	ms_push_options_init(&o, MS_PUSH_OPTIONS_VERSION);
	o.compress_level = 1;
	for (int persistent = 0; persistent < 2; persistent++) {
		int n, enomem = 0;
		for (n = 1; n < 2000; n++) {
			long failed;
			snprintf(ver, sizeof ver, "alloc%d_%d", persistent, n);
			o.model_version = ver;
			ms__fault_alloc_arm(n, MS__FAULT_CALLER, persistent);
			ms_status st = ms_store_push(NULL, s, &o, src, 2);
			failed = ms__fault_alloc_failed();
			ms__fault_alloc_arm(0, MS__FAULT_ANY, false);
			char *cnt = mt_sql(url, "SELECT count(*) FROM model_artifacts");
			if (failed == 0) {
				/* the push never reached its Nth allocation */
				ck_assert_msg(st == MS_OK, "no fault, status %d (%s)", st,
				              ms_store_errmsg(s));
				ck_assert_str_eq(cnt, "2");
				free(cnt);
				free(mt_sql(url, "DELETE FROM model_artifacts"));
				break;
			}
			ck_assert_msg(st == MS_ENOMEM, "allocation %d: status %d (%s)",
			              n, st, ms_store_errmsg(s));
			ck_assert_str_eq(cnt, "0");
			free(cnt);
			enomem++;
		}
		ck_assert_int_ge(enomem, 2);
		ck_assert_int_lt(n, 2000);
		fprintf(stderr, "push, %s: %d allocations failed in turn\n",
		        persistent ? "persistent" : "once", enomem);
	}
	ms_store_close(s);
	free(url);
}
END_TEST

START_TEST(allocation_failures_during_report_are_enomem)
{
	char *url = mt_migrated_db("fault_report");
	ms_store *s = NULL;
	ck_assert_int_eq(ms_store_open(&s, url, NULL), MS_OK);
	for (int persistent = 0; persistent < 2; persistent++) {
		ms_buf out = MS_BUF_INIT;
		int n, enomem = 0;
		for (n = 1; n < 2000; n++) {
			long failed;
			ms__fault_alloc_arm(n, MS__FAULT_CALLER, persistent);
			ms_status st = ms_store_report(&out, s, NULL, "7");
			failed = ms__fault_alloc_failed();
			ms__fault_alloc_arm(0, MS__FAULT_ANY, false);
			if (failed == 0) {
				ck_assert_int_eq(st, MS_OK);
				break;
			}
			ck_assert_msg(st == MS_ENOMEM, "allocation %d: status %d (%s)", n, st, ms_store_errmsg(s));
			ck_assert_ptr_null(out.ptr);
			enomem++;
		}
		ck_assert_int_ge(enomem, 1);
		ck_assert_int_lt(n, 2000);
		ck_assert_str_eq(out.ptr, "{\"versions\":[],\"promotions\":[]}");
		fprintf(stderr, "report, %s: %d allocations failed in turn\n",
		        persistent ? "persistent" : "once", enomem);
		ms_buf_dispose(&out);
	}
	ms_store_close(s);
	free(url);
}
END_TEST

Suite *db_fault_suite(void)
{
	Suite *s = suite_create("db_fault");
	TCase *tc = tcase_create("fault");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, server_killed_mid_push_leaves_nothing);
	tcase_add_test(tc, server_killed_mid_pull_is_unreachable_and_writes_nothing);
	tcase_add_test(tc, silent_host_is_bounded_by_connect_timeout);
	tcase_add_test(tc, allocation_failures_during_push_leave_nothing_half_written);
	tcase_add_test(tc, allocation_failures_during_report_are_enomem);
	suite_add_tcase(s, tc);
	return s;
}
