/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Helpers for the tests of `sksteer run` (tests/test_run*.c): start the
 * supervisor with examples/worker, find its workers in /proc, connect
 * from chosen addresses and read who answered, and compute which pool
 * and socket the rules pick (sksteer_service__explain over the same
 * configuration text).
 *
 * Every test runs in a network namespace of its own. Its files live in a
 * temporary directory that a janitor process removes when the test
 * process ends, also when it fails or is killed.
 */
#ifndef __SKSTEER_RUN_UTIL_H
#define __SKSTEER_RUN_UTIL_H

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sksteer.h"
#include "sockaddr_util.h"
#include "testlib.h"

#define RU_MAXW 64
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

static char ru_root[512]; /* the source tree */
static char ru_dir[256]; /* this test's temporary directory */
static char ru_pin[300]; /* --pin-root: a bpffs of the test's own */
static char ru_sk[600]; /* tools/sksteer */
static char ru_worker[600]; /* examples/worker */

static inline int64_t ru_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void ru_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Copy the executable at @path (a buffer of 600 bytes) to ru_dir/@name
 * with mode 0755, and point @path at the copy. */
static inline void ru_copy_exec(char *path, const char *name)
{
	char dst[600], buf[65536];
	int in, out;
	ssize_t n;

	snprintf(dst, sizeof(dst), "%s/%s", ru_dir, name);
	in = open(path, O_RDONLY | O_CLOEXEC);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	ASSERT(in >= 0 && out >= 0, "copying %s to %s: %s", path, dst,
	       strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ASSERT(write(out, buf, (size_t)n) == n, "writing %s: %s", dst,
		       strerror(errno));
	ASSERT(n == 0 && !close(out), "copying %s: %s", path, strerror(errno));
	close(in);
	chmod(dst, 0755);
	snprintf(path, 600, "%s", dst);
}

/* The tree, a temporary directory, and who removes it. */
static inline void ru_init(void)
{
	char exe[512], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int p[2];
	pid_t pid;

	ASSERT(n > 0, "readlink /proc/self/exe: %s", strerror(errno));
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	*slash = '\0'; /* tests/ */
	slash = strrchr(exe, '/');
	*slash = '\0';
	snprintf(ru_root, sizeof(ru_root), "%s", exe);
	snprintf(ru_sk, sizeof(ru_sk), "%s/tools/sksteer", ru_root);
	snprintf(ru_worker, sizeof(ru_worker), "%s/examples/worker", ru_root);
	ASSERT(!access(ru_sk, X_OK), "%s is not built (make all)", ru_sk);
	ASSERT(!access(ru_worker, X_OK), "%s is not built (make all)",
	       ru_worker);
	snprintf(ru_dir, sizeof(ru_dir), "/tmp/sksteer-run.XXXXXX");
	ASSERT(mkdtemp(ru_dir), "mkdtemp: %s", strerror(errno));
	chmod(ru_dir, 0755);
	/* the checkout may be where a worker's user cannot enter (a 0700
	 * home, a mktemp -d clone): run copies from the test's directory */
	ru_copy_exec(ru_sk, "sksteer");
	ru_copy_exec(ru_worker, "worker");
	/*
	 * The janitor leaves the test's process group (which the harness
	 * kills) and removes the directory once the pipe says the test
	 * process is gone.
	 */
	ASSERT(!pipe(p), "pipe");
	pid = fork();
	ASSERT(pid >= 0, "fork");
	if (pid == 0) {
		char c, cmd[300];

		/* nothing of the harness's: its report pipe must close */
		setsid();
		close_range(3, (unsigned int)p[0] - 1, 0);
		close_range((unsigned int)p[0] + 1, ~0U, 0);
		while (read(p[0], &c, 1) > 0)
			;
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ru_dir);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(1);
	}
	close(p[0]);
	fcntl(p[1], F_SETFD, FD_CLOEXEC);
	/* p[1] stays open for the life of the test process */

	/*
	 * eBPF groups pin their counters on a bpffs: one mounted in a mount
	 * namespace of the test's own, gone with its last process (the
	 * janitor, forked before, sees an empty directory).
	 */
	snprintf(ru_pin, sizeof(ru_pin), "%s/bpf", ru_dir);
	mkdir(ru_pin, 0700);
	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("bpf", ru_pin, "bpf", 0, NULL))
		fprintf(stderr,
			"no bpffs for the test (%s): eBPF groups "
			"cannot pin\n",
			strerror(errno));
}

static inline void ru_write(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline void ru_write(const char *name, const char *fmt, ...)
{
	char path[400], tmp[420];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", ru_dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	ASSERT(f, "%s: %s", tmp, strerror(errno));
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	ASSERT(!fclose(f), "writing %s", tmp);
	/* a reload reads either the old file or the new one */
	ASSERT(!rename(tmp, path), "rename %s: %s", path, strerror(errno));
}

/* The whole file, NUL-terminated (free it). */
static inline char *ru_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return strdup("");
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			ASSERT(buf, "out of memory");
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		if (!n)
			break;
		len += n;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static inline int ru_count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle))) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/* ---- the supervisor ---- */

struct ru_sup {
	pid_t pid;
	char log[400];
	char name[64];
};

/*
 * sksteer run [ARGS...] CONF -- CMD...: @args is a NULL-terminated list
 * of options, @cmd the worker command (NULL: examples/worker).
 */
static inline void ru_start(struct ru_sup *s, const char *name,
			    const char *conf, const char *const *args,
			    const char *const *cmd)
{
	const char *argv[64];
	char confp[400];
	int n = 0, fd;

	static int starts;

	snprintf(s->name, sizeof(s->name), "%s", name);
	/* a log of its own: ru_ready() must not see an earlier start */
	snprintf(s->log, sizeof(s->log), "%s/%s.%d.log", ru_dir, name,
		 ++starts);
	snprintf(confp, sizeof(confp), "%s/%s", ru_dir, conf);
	argv[n++] = ru_sk;
	argv[n++] = "run";
	argv[n++] = "--name";
	argv[n++] = name;
	argv[n++] = "--runtime-dir";
	argv[n++] = ru_dir;
	argv[n++] = "--pin-root";
	argv[n++] = ru_pin;
	for (; args && *args; args++)
		argv[n++] = *args;
	argv[n++] = confp;
	argv[n++] = "--";
	if (!cmd) {
		argv[n++] = ru_worker;
		argv[n++] = "-v";
	} else {
		for (; *cmd; cmd++)
			argv[n++] = *cmd;
	}
	argv[n] = NULL;
	fflush(stdout);
	fflush(stderr);
	s->pid = fork();
	ASSERT(s->pid >= 0, "fork");
	if (s->pid == 0) {
		fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		/* the harness's report pipe stays with the test */
		close_range(3, ~0U, 0);
		execv(ru_sk, (char *const *)argv);
		_exit(127);
	}
}

/* Has it exited? Its status in *@status. */
static inline bool ru_exited(struct ru_sup *s, int *status)
{
	int st = 0;

	if (!s->pid)
		return true;
	if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
		s->pid = 0;
		if (status)
			*status = st;
		return true;
	}
	return false;
}

/* Wait until the log has @text (true), or the supervisor exited. */
static inline bool ru_wait_log(struct ru_sup *s, const char *text, int n,
			       int timeout_ms)
{
	int64_t end = ru_ms() + (int64_t)timeout_ms * tl_slow();

	for (;;) {
		char *log = ru_slurp(s->log);
		bool ok = ru_count(log, text) >= n;

		free(log);
		if (ok)
			return true;
		if (ru_ms() > end || !s->pid)
			return false;
		ru_sleep_ms(20);
	}
}

static inline void ru_dump_log(struct ru_sup *s)
{
	char *log = ru_slurp(s->log);

	fprintf(stderr, "---- %s ----\n%s----\n", s->log, log);
	free(log);
}

/* Started: the supervisor logs "reload with" once every worker runs. */
static inline void ru_ready(struct ru_sup *s)
{
	if (!ru_wait_log(s, "reload with", 1, 5000)) {
		ru_dump_log(s);
		ASSERT(0, "sksteer run did not start (log above)");
	}
}

/* Wait for it to exit on its own: the exit status (-1: timeout). */
static inline int ru_wait_exit(struct ru_sup *s, int timeout_ms)
{
	int64_t end = ru_ms() + (int64_t)timeout_ms * tl_slow();
	int st = 0;

	while (ru_ms() < end) {
		if (ru_exited(s, &st))
			return st;
		ru_sleep_ms(10);
	}
	return -1;
}

/* Send @sig and wait for the exit status (-1: timeout). */
static inline int ru_stop(struct ru_sup *s, int sig, int timeout_ms)
{
	int64_t end = ru_ms() + (int64_t)timeout_ms * tl_slow();
	int st = 0;

	if (!s->pid)
		return -1;
	kill(s->pid, sig);
	while (ru_ms() < end) {
		if (ru_exited(s, &st))
			return st;
		ru_sleep_ms(10);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
	return -1;
}

/* Run sksteer with @args; stdout+stderr into @out; the exit status. */
static inline int ru_sksteer(char *out, size_t outsz, const char *const *args)
{
	const char *argv[32];
	int p[2], n = 0, st;
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	argv[n++] = ru_sk;
	for (; *args; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	ASSERT(!pipe(p), "pipe");
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT(pid >= 0, "fork");
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close_range(3, ~0U, 0);
		execv(ru_sk, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	while ((r = read(p[0], out + got, outsz - 1 - got)) > 0)
		got += (size_t)r;
	out[got] = '\0';
	close(p[0]);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static inline int ru_reload(struct ru_sup *s, char *out, size_t outsz)
{
	const char *args[] = { "reload", "--runtime-dir", ru_dir, s->name,
			       NULL };

	return ru_sksteer(out, outsz, args);
}

/* ---- processes ---- */

/* The children of @ppid (the workers of a supervisor). */
static inline int ru_children(pid_t ppid, pid_t *out, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	ASSERT(d, "/proc");
	while ((de = readdir(d)) && n < max) {
		char path[300], buf[512], *p;
		FILE *f;
		int pp;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		if (p && sscanf(p, ") %*c %d", &pp) == 1 && pp == ppid)
			out[n++] = atoi(de->d_name);
	}
	closedir(d);
	return n;
}

/* Wait until @ppid has exactly @n children. */
static inline bool ru_wait_children(pid_t ppid, int n, int timeout_ms)
{
	int64_t end = ru_ms() + (int64_t)timeout_ms * tl_slow();
	pid_t kids[RU_MAXW];

	while (ru_children(ppid, kids, RU_MAXW) != n) {
		if (ru_ms() > end)
			return false;
		ru_sleep_ms(20);
	}
	return true;
}

/* Variable @name of process @pid's environment, or "" (static buffer). */
static inline const char *ru_env(pid_t pid, const char *name)
{
	static char val[1024];
	char path[64], *env, *p;
	size_t nl = strlen(name);
	int fd;
	ssize_t n, got = 0;

	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	val[0] = '\0';
	env = calloc(1, 1 << 16);
	fd = open(path, O_RDONLY);
	if (fd < 0 || !env) {
		free(env);
		if (fd >= 0)
			close(fd);
		return val;
	}
	while ((n = read(fd, env + got, (1 << 16) - 1 - got)) > 0)
		got += n;
	close(fd);
	for (p = env; p < env + got; p += strlen(p) + 1)
		if (!strncmp(p, name, nl) && p[nl] == '=')
			snprintf(val, sizeof(val), "%s", p + nl + 1);
	free(env);
	return val;
}

/* What descriptor @fd of @pid is ("socket:[123]", "/dev/null"), or "". */
static inline const char *ru_fd_link(pid_t pid, int fd, char *buf, size_t sz)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	n = readlink(path, buf, sz - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* The open descriptors of @pid, sorted; returns how many. */
static inline int ru_fds(pid_t pid, int *out, int max)
{
	char path[64];
	struct dirent *de;
	int n = 0, i, j;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)) && n < max)
		if (isdigit((unsigned char)de->d_name[0]))
			out[n++] = atoi(de->d_name);
	closedir(d);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && out[j - 1] > out[j]; j--) {
			int t = out[j];

			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

/* A "Key:\tvalue" line of /proc/PID/status (static buffer). */
static inline const char *ru_status(pid_t pid, const char *key)
{
	static char val[512];
	char path[64], line[500];
	size_t kl = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	val[0] = '\0';
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			char *v = line + kl + 1;

			while (*v == ' ' || *v == '\t')
				v++;
			v[strcspn(v, "\n")] = '\0';
			snprintf(val, sizeof(val), "%s", v);
		}
	}
	if (f)
		fclose(f);
	return val;
}

static inline bool ru_alive(pid_t pid)
{
	/* a zombie is not alive for us */
	return !kill(pid, 0) && ru_status(pid, "State")[0] != 'Z';
}

/* ---- addresses and clients ---- */

/* Who answered: "hello SERVICE POOL INDEX PID LOCAL". */
struct ru_answer {
	char service[65], pool[65], local[64];
	int index;
	int pid;
	uint16_t sport; /* the client's source port */
};

static inline bool ru_parse(const char *line, struct ru_answer *a)
{
	return sscanf(line, "hello %64s %64s %d %d %63s", a->service, a->pool,
		      &a->index, &a->pid, a->local) == 5;
}

/* Read one line (up to @timeout_ms); its length, 0 at EOF, -1 error. */
static inline int ru_readline(int fd, char *buf, size_t sz, int timeout_ms)
{
	int64_t end = ru_ms() + (int64_t)timeout_ms * tl_slow();
	size_t got = 0;

	while (got < sz - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)(end - ru_ms());
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -1;
		n = recv(fd, buf + got, sz - 1 - got, 0);
		if (n <= 0)
			return got ? (int)got : (int)n;
		got += (size_t)n;
		buf[got] = '\0';
		if (strchr(buf, '\n'))
			break;
	}
	buf[got] = '\0';
	return (int)got;
}

/*
 * A TCP connection from @src (a port the kernel picks) to @dst:@port.
 * Returns the connected socket, after reading the greeting into @a, or
 * -1 with @why filled.
 */
static inline int ru_tcp_open(const char *src, const char *dst, uint16_t port,
			      struct ru_answer *a, char *why, size_t whysz,
			      int timeout_ms, int64_t *connected_at)
{
	struct sockaddr_storage ss, me;
	socklen_t len, mlen = sizeof(me);
	char line[256];
	int fd, n;

	fd = socket(tu_is_v6(dst) ? AF_INET6 : AF_INET,
		    SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whysz, "socket: %s", strerror(errno));
		return -1;
	}
	len = tu_sockaddr(&ss, src, 0);
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		snprintf(why, whysz, "bind %s: %s", src, strerror(errno));
		close(fd);
		return -1;
	}
	len = tu_sockaddr(&ss, dst, port);
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		snprintf(why, whysz, "connect %s -> %s:%u: %s", src, dst, port,
			 strerror(errno));
		close(fd);
		return -1;
	}
	/* the SYN was steered before connect() returned */
	if (connected_at)
		*connected_at = ru_ms();
	getsockname(fd, (struct sockaddr *)&me, &mlen);
	a->sport = ntohs(me.ss_family == AF_INET6 ?
				 ((struct sockaddr_in6 *)&me)->sin6_port :
				 ((struct sockaddr_in *)&me)->sin_port);
	n = ru_readline(fd, line, sizeof(line), timeout_ms);
	if (n <= 0 || !ru_parse(line, a)) {
		snprintf(why, whysz, "%s:%u -> %s:%u: connected, but %s", src,
			 a->sport, dst, port,
			 n < 0	? "no greeting in time" :
			 n == 0 ? "closed without a greeting" :
				  "an unexpected greeting");
		close(fd);
		return -1;
	}
	return fd;
}

/* One datagram from @src to @dst:@port and its answer. */
static inline int ru_udp(const char *src, const char *dst, uint16_t port,
			 struct ru_answer *a, struct sockaddr_storage *from,
			 char *why, size_t whysz, int timeout_ms)
{
	struct sockaddr_storage ss, me;
	socklen_t len, mlen = sizeof(me), flen = sizeof(*from);
	char line[256];
	struct pollfd p;
	ssize_t n;
	int fd;

	fd = socket(tu_is_v6(dst) ? AF_INET6 : AF_INET,
		    SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT(fd >= 0, "socket");
	len = tu_sockaddr(&ss, src, 0);
	ASSERT(!bind(fd, (struct sockaddr *)&ss, len), "bind %s: %s", src,
	       strerror(errno));
	getsockname(fd, (struct sockaddr *)&me, &mlen);
	a->sport = ntohs(me.ss_family == AF_INET6 ?
				 ((struct sockaddr_in6 *)&me)->sin6_port :
				 ((struct sockaddr_in *)&me)->sin_port);
	len = tu_sockaddr(&ss, dst, port);
	ASSERT(sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, len) == 1,
	       "sendto %s: %s", dst, strerror(errno));
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&p, 1, timeout_ms * tl_slow()) != 1) {
		snprintf(why, whysz, "%s:%u -> %s:%u: no answer", src, a->sport,
			 dst, port);
		close(fd);
		return -1;
	}
	n = recvfrom(fd, line, sizeof(line) - 1, 0, (struct sockaddr *)from,
		     &flen);
	close(fd);
	if (n <= 0) {
		snprintf(why, whysz, "recvfrom: %s", strerror(errno));
		return -1;
	}
	line[n] = '\0';
	if (!ru_parse(line, a)) {
		snprintf(why, whysz, "unexpected answer '%.100s'", line);
		return -1;
	}
	return 0;
}

/* ---- what the rules say ---- */

struct ru_rules {
	struct sksteer_config *cfg;
	const struct sksteer_service *svc;
};

static inline void ru_rules(struct ru_rules *r, const char *text,
			    const char *service)
{
	SKSTEER_OPTS(sksteer_parse_opts, opts, .base_dir = ru_dir);

	tl_messages_reset();
	/* prefix files are read from the test's directory */
	r->cfg = sksteer_config__parse_string(text, strlen(text), "test.conf",
					      &opts);
	ASSERT(r->cfg, "the test's configuration does not parse: %s",
	       tl_messages());
	r->svc = service ? sksteer_config__find_service(r->cfg, service) :
			   sksteer_config__service(r->cfg, 0);
	ASSERT(r->svc, "no service %s", service ? service : "");
}

/*
 * The pool and index the rules pick for @src:@sport -> @dst, with every
 * declared socket open. Returns false (and names them) if @a differs.
 */
static inline bool ru_expect(const struct ru_rules *r, const char *src,
			     uint16_t sport, const char *dst,
			     const struct ru_answer *a, char *why, size_t whysz)
{
	SKSTEER_OPTS(sksteer_flow, flow, .sport = sport);
	SKSTEER_OPTS(sksteer_verdict, v);
	int fam = tu_is_v6(src) ? AF_INET6 : AF_INET;

	flow.family = fam;
	ASSERT(inet_pton(fam, src, &flow.src) == 1 &&
		       inet_pton(fam, dst, &flow.dst) == 1,
	       "addresses %s %s", src, dst);
	ASSERT(!sksteer_service__explain(r->svc, NULL, &flow, &v),
	       "explain failed");
	ASSERT(v.kind == SKSTEER_TARGET_POOL,
	       "the test's rules must pick a pool for %s -> %s", src, dst);
	if (!strcmp(sksteer_pool__name(v.pool), a->pool) &&
	    v.pool_index == a->index)
		return true;
	snprintf(why, whysz,
		 "%s:%u -> %s: answered by %s[%d] (pid %d), the rules pick "
		 "%s[%d]",
		 src, sport, dst, a->pool, a->index, a->pid,
		 sksteer_pool__name(v.pool), v.pool_index);
	return false;
}

/* ---- backends ---- */

/* The backends a test runs with: cbpf always, ebpf when usable. */
static inline bool ru_backend_ok(const char *b, char *why, size_t sz)
{
	if (strcmp(b, "ebpf"))
		return true;
	/* skipped only where this kernel or process cannot load it */
	return !sksteer_probe_ebpf(why, sz);
}

/*
 * The table of backends: a scenario fn(backend) becomes the tests
 * NAME_cbpf and NAME_ebpf.
 */
#define BACKEND_TESTS(name, fn)                                 \
	TEST(name##_cbpf)                                       \
	{                                                       \
		fn("cbpf");                                     \
	}                                                       \
	TEST(name##_ebpf)                                       \
	{                                                       \
		char why_[256];                                 \
                                                                \
		if (!ru_backend_ok("ebpf", why_, sizeof(why_))) \
			SKIP("%s", why_);                       \
		fn("ebpf");                                     \
	}

#endif
