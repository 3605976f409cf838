// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fnmatch.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sksteer.h"
#include "testlib.h"

#define MAX_TESTS 512

static struct {
	const char *name;
	tl_fn fn;
	int timeout;
} tests[MAX_TESTS];
static int ntests;
static const char *prog_name = "test";
static const char *cur_test;
static bool failed;
static int nreported;
static FILE *report; /* the failure text, sent to the parent via a pipe */

int tl_slow(void)
{
	static int slow;
	const char *s;
	char *end;
	long v;

	if (slow)
		return slow;
	slow = 1;
	s = getenv("SKSTEER_TEST_SLOW");
	if (s && *s) {
		v = strtol(s, &end, 10);
		if (*end || v < 1 || v > 100) {
			fprintf(stderr,
				"SKSTEER_TEST_SLOW=%s: expected a whole "
				"number from 1 to 100\n",
				s);
			exit(2);
		}
		slow = (int)v;
	}
	return slow;
}

void tl_register(const char *name, tl_fn fn, int timeout_s)
{
	if (ntests < MAX_TESTS)
		tests[ntests++] = (typeof(tests[0])){ name, fn, timeout_s };
}

void tl_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	failed = true;
	fprintf(report, "%s%s:%d: ", nreported++ ? "; " : "", file, line);
	va_start(ap, fmt);
	vfprintf(report, fmt, ap);
	va_end(ap);
	fflush(report);
	/* the details also go to stderr for the log */
	fprintf(stderr, "  %s: %s:%d: failed\n", cur_test, file, line);
}

bool tl_failed(void)
{
	return failed;
}

void tl_stop(void)
{
	fflush(report);
	_exit(failed ? 1 : 0);
}

void tl_skip(const char *fmt, ...)
{
	va_list ap;

	fprintf(report, "SKIP:");
	va_start(ap, fmt);
	vfprintf(report, fmt, ap);
	va_end(ap);
	fflush(report);
	_exit(77);
}

bool tl_is_root(void)
{
	return geteuid() == 0;
}

void tl_enter_netns(void)
{
	struct ifreq ifr = {};
	int fd;

	if (!tl_is_root())
		tl_skip("needs root for a network namespace");
	if (unshare(CLONE_NEWNET)) {
		tl_fail(__FILE__, __LINE__, "unshare(CLONE_NEWNET): %s",
			strerror(errno));
		tl_stop();
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	strcpy(ifr.ifr_name, "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr))) {
		tl_fail(__FILE__, __LINE__, "bringing lo up: %s",
			strerror(errno));
		tl_stop();
	}
	close(fd);
}

void tl_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0) {
		tl_fail(__FILE__, __LINE__, "command failed (%d): %s", rc, cmd);
		tl_stop();
	}
}

static char msgbuf[65536];
static size_t msglen;

static int collect(enum sksteer_print_level level, const char *fmt,
		   va_list args)
{
	int n;

	if (level == SKSTEER_DEBUG)
		return 0;
	n = vsnprintf(msgbuf + msglen, sizeof(msgbuf) - msglen, fmt, args);
	if (n > 0)
		msglen += (size_t)n;
	if (msglen >= sizeof(msgbuf))
		msglen = sizeof(msgbuf) - 1;
	return n;
}

const char *tl_messages(void)
{
	return msgbuf;
}

void tl_messages_reset(void)
{
	msglen = 0;
	msgbuf[0] = '\0';
}

static int run_one(int i)
{
	char buf[4096] = "";
	int pfd[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	if (pipe(pfd))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		report = fdopen(pfd[1], "w");
		cur_test = tests[i].name;
		setpgid(0, 0);
		alarm((unsigned int)(tests[i].timeout * tl_slow()));
		tests[i].fn();
		fflush(report);
		_exit(failed ? 1 : 0);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	buf[got] = '\0';
	close(pfd[0]);
	waitpid(pid, &status, 0);
	/* whatever the test left running in its process group goes too */
	kill(-pid, SIGKILL);
	for (char *c = buf; *c; c++)
		if (*c == '\n')
			*c = ' ';
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("PASS %s/%s\n", prog_name, tests[i].name);
		return 0;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
		printf("SKIP %s/%s: %s\n", prog_name, tests[i].name, buf + 5);
		return 0;
	}
	if (WIFSIGNALED(status))
		printf("FAIL %s/%s: %s%skilled by signal %d%s\n", prog_name,
		       tests[i].name, buf, *buf ? "; " : "", WTERMSIG(status),
		       WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
	else
		printf("FAIL %s/%s: %s\n", prog_name, tests[i].name,
		       *buf ? buf : "failed");
	return 1;
}

int tl_main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	const char *slash = strrchr(argv[0], '/');
	int i, nfail = 0;

	prog_name = getenv("TL_NAME") ?: (slash ? slash + 1 : argv[0]);
	sksteer_set_print(collect);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < ntests; i++) {
		if (filter && fnmatch(filter, tests[i].name, 0))
			continue;
		nfail += run_one(i);
	}
	return nfail ? 1 : 0;
}

__attribute__((weak)) int main(int argc, char **argv)
{
	return tl_main(argc, argv);
}
