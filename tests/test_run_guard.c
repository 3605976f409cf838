// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sksteer run against its own workers and neighbours: workers cannot
 * change the steering (seccomp), a socket that joins a running group is
 * reported by the next reload, a worker that cannot start near the
 * descriptor limit says why, idle control connections do not stall the
 * supervisor, and two services on one address and port are refused.
 *
 * The program is also its own worker: with --guard-helper MODE WORKER it
 * tries the calls a worker must not make on descriptor 3, says what each
 * returned on stderr (the supervisor's log), and executes WORKER
 * (examples/worker).
 */
#include <sys/resource.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <linux/filter.h>

#include "run_util.h"

#define PORT	 8080
#define UDP_PORT 5353

static const char *const lo_addrs[] = {
	"198.51.100.1",	 "198.51.100.2", "198.51.100.3", "198.51.100.10",
	"198.51.100.11", "203.0.113.1",	 "203.0.113.2",	 NULL,
};

static const char web_fmt[] = "service web {\n"
			      "    listen tcp 0.0.0.0:%d\n"
			      "    backend %s\n"
			      "    pool a 2\n"
			      "    pool b 1\n"
			      "    pool c 1\n"
			      "    rule to 198.51.100.1 pool %s\n"
			      "    rule to 198.51.100.2 pool b\n"
			      "    rule from 203.0.113.0/24 pool c\n"
			      "    default pool a\n"
			      "}\n";

static const char dns_fmt[] = "service dns {\n"
			      "    listen udp [::]:%d\n"
			      "    backend %s\n"
			      "    pool u 1\n"
			      "    pool v 1\n"
			      "    rule to 198.51.100.1 pool %s\n"
			      "    default pool v\n"
			      "}\n";

static const char *const flows[][2] = {
	{ "198.51.100.10", "198.51.100.1" },
	{ "198.51.100.11", "198.51.100.1" },
	{ "198.51.100.10", "198.51.100.2" },
	{ "203.0.113.1", "198.51.100.3" },
	{ "203.0.113.2", "198.51.100.1" },
	{ "198.51.100.11", "198.51.100.3" },
};

static char self_exe[512];

static void setup(void)
{
	tl_enter_netns();
	ru_init();
	tu_add_addrs(lo_addrs);
	/* from ru_root, read before ru_init() entered a mount namespace of
	 * its own: from there /proc/self/exe need not name a path of this
	 * root (under chroot, as in tests/kernels/vm-run) */
	snprintf(self_exe, sizeof(self_exe), "%.400s/tests/test_run_guard",
		 ru_root);
}

/* ---- the helper worker ---- */

static const char *try_opt(int opt, const void *val, socklen_t len)
{
	if (!setsockopt(3, SOL_SOCKET, opt, val, len))
		return "ok";
	return errno == EPERM ? "EPERM" : strerrorname_np(errno);
}

/*
 * "all": every call the filter refuses, and one it lets through; the
 * detaching ones are made only there, where they are refused.
 * "attach": SO_ATTACH_REUSEPORT_CBPF with "ret #0" (everything to the
 * group's first socket), a hijack when it works.
 */
static int helper(const char *mode, const char *worker)
{
	struct sock_filter ret0 = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = { .len = 1, .filter = &ret0 };
	int minus1 = -1, zero = 0, big = 1 << 16, len;
	char line[512];
	long r;

	len = snprintf(line, sizeof(line), "guard %s %s: cbpf=%s",
		       getenv("SKSTEER_POOL"), getenv("SKSTEER_INDEX"),
		       try_opt(SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)));
	if (!strcmp(mode, "all")) {
		const char *ebpf = try_opt(SO_ATTACH_REUSEPORT_EBPF, &minus1,
					   sizeof(minus1));
		const char *det =
			try_opt(SO_DETACH_REUSEPORT_BPF, &zero, sizeof(zero));
		const char *detf =
			try_opt(SO_DETACH_FILTER, &zero, sizeof(zero));
		const char *hi, *rcv, *uring;

		/* the kernel reads level and option as int: so must the
		 * filter, or high bits would slip past it */
		r = syscall(SYS_setsockopt, 3L,
			    (long)(SOL_SOCKET | (1UL << 32)),
			    (long)(SO_ATTACH_REUSEPORT_CBPF | (1UL << 32)),
			    &prog, (long)sizeof(prog));
		hi = !r		    ? "ok" :
		     errno == EPERM ? "EPERM" :
				      strerrorname_np(errno);
		rcv = try_opt(SO_RCVBUF, &big, sizeof(big));
		r = syscall(__NR_io_uring_setup, 1, NULL);
		uring = r < 0 && errno == EPERM ? "EPERM" : "not-EPERM";
		len += snprintf(line + len, sizeof(line) - (size_t)len,
				" ebpf=%s detach=%s detach_filter=%s "
				"high_bits=%s rcvbuf=%s io_uring=%s",
				ebpf, det, detf, hi, rcv, uring);
	}
	/* one write: the workers share the log */
	len += snprintf(line + len, sizeof(line) - (size_t)len, "\n");
	if (write(2, line, (size_t)len) != len)
		return 127;
	execl(worker, worker, "-v", (char *)NULL);
	return 127;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--guard-helper"))
		return helper(argv[2], argv[3]);
	return tl_main(argc, argv);
}

/* ---- helpers of the tests ---- */

/* Every flow: answered by the pool and socket @r picks (@pool NULL), or
 * by @pool[@index] whatever the rules say. */
static void check_flows(const struct ru_rules *r, const char *pool, int index)
{
	struct ru_answer a;
	char why[300];
	size_t i;
	int fd, bad = 0;

	for (i = 0; i < ARRAY_SIZE(flows); i++) {
		fd = ru_tcp_open(flows[i][0], flows[i][1], PORT, &a, why,
				 sizeof(why), 3000, NULL);
		if (fd < 0) {
			CHECK(bad++ > 2, "%s", why);
			continue;
		}
		close(fd);
		if (pool) {
			if (strcmp(a.pool, pool) || a.index != index)
				CHECK(bad++ > 2,
				      "%s -> %s: answered by %s[%d], not "
				      "%s[%d]",
				      flows[i][0], flows[i][1], a.pool, a.index,
				      pool, index);
		} else if (!ru_expect(r, flows[i][0], a.sport, flows[i][1], &a,
				      why, sizeof(why))) {
			CHECK(bad++ > 2, "%s", why);
		}
	}
	CHECK(!bad, "%d of %zu connections went wrong", bad, ARRAY_SIZE(flows));
}

/* The "guard ..." lines of the log, each checked against @want. */
static void check_guard_lines(struct ru_sup *s, int n, const char *want)
{
	char *log, *p;
	int seen = 0;

	if (!ru_wait_log(s, "guard ", n, 5000))
		CHECK(0, "fewer than %d workers reported", n);
	log = ru_slurp(s->log);
	for (p = log; (p = strstr(p, "guard ")); p++) {
		char line[300], *colon;

		snprintf(line, sizeof(line), "%.*s", (int)strcspn(p, "\n"), p);
		colon = strchr(line, ':');
		seen++;
		CHECK(colon && !strcmp(colon + 2, want),
		      "a worker reported '%s', expected '%s'", line, want);
	}
	CHECK(seen == n, "%d workers reported, expected %d", seen, n);
	free(log);
}

/*
 * A worker (under --user, no capabilities) that tries to attach "ret #0"
 * to its group, attach an eBPF program, detach the program or its
 * filter, also with high bits in the level and option, or set up
 * io_uring gets EPERM; other options work; every connection still lands
 * where the rules say. With --no-seccomp the same attach succeeds, and
 * every connection goes to the group's first socket: the hijack the
 * filter prevents.
 */
static void seccomp_guard(const char *backend)
{
	const char *const cmd_all[] = { self_exe, "--guard-helper", "all",
					ru_worker, NULL };
	const char *const cmd_attach[] = { self_exe, "--guard-helper", "attach",
					   ru_worker, NULL };
	const char *const as_nobody[] = { "--user", "nobody", NULL };
	const char *const no_seccomp[] = { "--no-seccomp", NULL };
	struct ru_rules r;
	struct ru_sup s;
	char conf[1024];
	int st;

	setup();
	snprintf(conf, sizeof(conf), web_fmt, PORT, backend, "a");
	ru_write("web.conf", "%s", conf);
	ru_rules(&r, conf, NULL);

	ru_start(&s, "web", "web.conf", as_nobody, cmd_all);
	ru_ready(&s);
	check_guard_lines(&s, 4,
			  "cbpf=EPERM ebpf=EPERM detach=EPERM "
			  "detach_filter=EPERM high_bits=EPERM rcvbuf=ok "
			  "io_uring=EPERM");
	ASSERT(ru_wait_log(&s, "fd 3: tcp", 4, 5000), "workers not serving");
	check_flows(&r, NULL, 0);
	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st == 0, "exit status %#x", st);
	if (tl_failed())
		ru_dump_log(&s);

	ru_start(&s, "web2", "web.conf", no_seccomp, cmd_attach);
	ru_ready(&s);
	check_guard_lines(&s, 4, "cbpf=ok");
	ASSERT(ru_wait_log(&s, "fd 3: tcp", 4, 5000), "workers not serving");
	check_flows(&r, "a", 0);
	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st == 0, "exit status %#x", st);
	if (tl_failed())
		ru_dump_log(&s);
	sksteer_config__free(r.cfg);
}

BACKEND_TESTS(run_seccomp, seccomp_guard)

/* A socket of @type with SO_REUSEPORT (@reuse) bound to @addr:@port. */
static int foreign_socket(int type, const char *addr, uint16_t port, bool reuse)
{
	struct sockaddr_storage ss;
	socklen_t len = tu_sockaddr(&ss, addr, port);
	int fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0), one = 1;

	ASSERT(fd >= 0, "socket: %s", strerror(errno));
	if (reuse)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	ASSERT(!bind(fd, (struct sockaddr *)&ss, len), "bind %s:%u: %s", addr,
	       port, strerror(errno));
	if (type == SOCK_STREAM)
		ASSERT(!listen(fd, 8), "listen: %s", strerror(errno));
	return fd;
}

/* A reload that must fail because of the socket of this process. */
static void reload_refused(struct ru_sup *s, const char *what)
{
	char out[8192], pid[64];
	int st = ru_reload(s, out, sizeof(out));

	snprintf(pid, sizeof(pid), "pid %d 'test_run_guard'", (int)getpid());
	CHECK(st == 1 && strstr(out, what) && strstr(out, pid) &&
		      strstr(out, "inode ") &&
		      strstr(out, "the running configuration is unchanged"),
	      "reload with a foreign socket (%s): status %d: %s", what, st,
	      out);
}

/*
 * A socket of the same owner that joins a running group, or one that
 * binds a more specific address beside it, takes part of its traffic.
 * The next reload says so and names its owner, even when the reload
 * changes only rules (no socket to create); once it is gone, the reload
 * applies, and the new rules steer.
 */
static void foreign_reload(const char *backend)
{
	char web[1024], dns[1024], out[8192];
	struct ru_rules r;
	struct ru_sup s;
	int fd, st;

	setup();
	snprintf(web, sizeof(web), web_fmt, PORT, backend, "a");
	snprintf(dns, sizeof(dns), dns_fmt, UDP_PORT, backend, "u");
	ru_write("both.conf", "%s%s", web, dns);
	ru_start(&s, "both", "both.conf", NULL, NULL);
	ru_ready(&s);
	/* rules only: to 198.51.100.1 goes to pool c now */
	snprintf(web, sizeof(web), web_fmt, PORT, backend, "c");
	snprintf(dns, sizeof(dns), dns_fmt, UDP_PORT, backend, "v");
	ru_write("both.conf", "%s%s", web, dns);

	fd = foreign_socket(SOCK_STREAM, "0.0.0.0", PORT, true);
	reload_refused(&s, "service 'web': tcp 0.0.0.0:8080: a socket that "
			   "is not the supervisor's joined its reuseport "
			   "group");
	close(fd);
	fd = foreign_socket(SOCK_DGRAM, "198.51.100.3", UDP_PORT, true);
	reload_refused(&s, "service 'dns': udp [::]:5353 (dual-stack): a "
			   "socket that is not the supervisor's is bound to a "
			   "more specific address");
	close(fd);

	st = ru_reload(&s, out, sizeof(out));
	CHECK(st == 0, "reload once the foreign sockets are gone: %d: %s", st,
	      out);
	ru_rules(&r, web, NULL);
	check_flows(&r, NULL, 0);
	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st == 0, "exit status %#x", st);
	if (tl_failed())
		ru_dump_log(&s);
	sksteer_config__free(r.cfg);
}

BACKEND_TESTS(run_foreign_reload, foreign_reload)

/*
 * Near the descriptor limit a worker cannot get its sockets: the start
 * fails with exit status 1 and an error that names the worker, the
 * stage, the errno and the limit, never "1 worker" and a loop of silent
 * "exited with status 127". The limits tried go from one where the
 * supervisor itself cannot set up to one where everything works.
 */
TEST(run_fd_limit)
{
	const char *const cmd[] = { "/bin/sleep", "1000", NULL };
	struct rlimit old, low;
	bool child_stage = false, ran = false;
	unsigned int lim;
	char want[128];

	setup();
	ru_write("one.conf",
		 "service one {\n    listen tcp 0.0.0.0:%d\n"
		 "    backend cbpf\n    pool a 1\n}\n",
		 PORT);
	ASSERT(!getrlimit(RLIMIT_NOFILE, &old), "getrlimit");
	for (lim = 6; lim <= 24 && !ran; lim++) {
		struct ru_sup s;
		char *log;
		int st;

		low = old;
		low.rlim_cur = lim;
		/* the supervisor inherits it; this process gets its own
		 * limit back at once */
		ASSERT(!setrlimit(RLIMIT_NOFILE, &low), "setrlimit");
		ru_start(&s, "one", "one.conf", NULL, cmd);
		ASSERT(!setrlimit(RLIMIT_NOFILE, &old), "setrlimit");
		st = ru_wait_exit(&s, 3000);
		log = ru_slurp(s.log);
		if (st == -1) {
			/* it runs: it must have said so, with its worker */
			ran = true;
			CHECK(strstr(log, "1 worker;") &&
				      !strstr(log, "status 127"),
			      "limit %u: running: %s", lim, log);
			st = ru_stop(&s, SIGTERM, 5000);
			CHECK(st == 0, "limit %u: exit status %#x", lim, st);
		} else {
			CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
				      strstr(log, "Too many open files") &&
				      !strstr(log, "1 worker;") &&
				      !strstr(log, "status 127"),
			      "limit %u: status %#x: %s", lim, st, log);
			snprintf(want, sizeof(want),
				 "worker one/a[0]: setting up its file "
				 "descriptors: Too many open files (the limit "
				 "is %u",
				 lim);
			child_stage |= strstr(log, want) != NULL;
		}
		free(log);
	}
	CHECK(child_stage, "no limit made the worker's own set-up fail");
	CHECK(ran, "the supervisor did not run even with a limit of 24");
}

/* A connection to the control socket that says nothing. */
static int ctl_idle(const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%.80s/%.20s.sock", ru_dir,
		 name);
	ASSERT(fd >= 0 && !connect(fd, (struct sockaddr *)&sun, sizeof(sun)),
	       "connect %s: %s", sun.sun_path, strerror(errno));
	return fd;
}

/*
 * Idle connections to the control socket do not hold up the supervisor:
 * with four of them open (each used to stall it for 2 s), a reload and a
 * SIGTERM are handled at once; the idle ones are closed after their
 * deadline.
 */
TEST(run_ctl_idle)
{
	const char *const cmd[] = { "/bin/sleep", "1000", NULL };
	int fds[4], i, st, bound = 1000 * tl_slow();
	struct pollfd p;
	char out[4096];
	struct ru_sup s;
	int64_t t;

	setup();
	ru_write("one.conf",
		 "service one {\n    listen tcp 0.0.0.0:%d\n"
		 "    backend cbpf\n    pool a 1\n}\n",
		 PORT);
	ru_start(&s, "one", "one.conf", NULL, cmd);
	ru_ready(&s);
	for (i = 0; i < 4; i++)
		fds[i] = ctl_idle("one");
	ru_sleep_ms(100);
	t = ru_ms();
	st = ru_reload(&s, out, sizeof(out));
	t = ru_ms() - t;
	CHECK(st == 0, "reload: %d: %s", st, out);
	CHECK(t < bound, "the reload took %lld ms with 4 idle connections",
	      (long long)t);
	/* each idle connection is closed after its 2 s */
	p = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	CHECK(poll(&p, 1, 4000 * tl_slow()) == 1 &&
		      recv(fds[0], out, sizeof(out), MSG_DONTWAIT) == 0,
	      "an idle connection was not closed");
	for (i = 0; i < 4; i++) {
		close(fds[i]);
		fds[i] = ctl_idle("one");
	}
	ru_sleep_ms(100);
	t = ru_ms();
	st = ru_stop(&s, SIGTERM, 5000);
	t = ru_ms() - t;
	CHECK(st == 0, "exit status %#x", st);
	CHECK(t < bound, "SIGTERM took %lld ms with 4 idle connections",
	      (long long)t);
	for (i = 0; i < 4; i++)
		close(fds[i]);
	if (tl_failed())
		ru_dump_log(&s);
}

/*
 * Two services on the same protocol, address and port would share one
 * reuseport group: check refuses the file, and so does run, naming both
 * services (not "another program").
 */
TEST(run_services_clash)
{
	char path[400], out[8192];
	const char *const args[] = { "check", path, NULL };
	struct ru_sup s;
	char *log;
	int st;

	setup();
	ru_write("two.conf",
		 "service a {\n    listen udp 0.0.0.0:%d\n    pool p 1\n}\n"
		 "service b {\n    listen udp 0.0.0.0:%d\n    pool q 1\n}\n",
		 UDP_PORT, UDP_PORT);
	snprintf(path, sizeof(path), "%s/two.conf", ru_dir);
	st = ru_sksteer(out, sizeof(out), args);
	CHECK(st == 1 &&
		      strstr(out, "two.conf:5: service 'b' listens on udp "
				  "0.0.0.0:5353, as service 'a' (line 1) does"),
	      "check: status %d: %s", st, out);
	ru_start(&s, "two", "two.conf", NULL, NULL);
	st = ru_wait_exit(&s, 3000);
	log = ru_slurp(s.log);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
		      strstr(log, "service 'b' listens on udp 0.0.0.0:5353, "
				  "as service 'a' (line 1) does") &&
		      !strstr(log, "another program"),
	      "run: status %#x: %s", st, log);
	free(log);
}

/*
 * eBPF pins: the directories a nested --pin-root needed are removed with
 * the pins when the supervisor stops; a --pin-root that is a directory
 * but not on a bpffs is refused with that reason, not "Not a directory".
 */
TEST(run_pin_root)
{
	const char *const cmd[] = { "/bin/sleep", "1000", NULL };
	char why[256], nested[420], top[400], pins[500], *log;
	const char *args[] = { "--pin-root", nested, NULL };
	struct stat sb;
	struct ru_sup s;
	int st;

	if (!ru_backend_ok("ebpf", why, sizeof(why)))
		SKIP("%s", why);
	setup();
	ru_write("one.conf",
		 "service one {\n    listen tcp 0.0.0.0:%d\n"
		 "    backend ebpf\n    pool a 1\n}\n",
		 PORT);
	snprintf(top, sizeof(top), "%s/x", ru_pin);
	snprintf(nested, sizeof(nested), "%s/y/z", top);
	snprintf(pins, sizeof(pins), "%s/one/meta", nested);
	ru_start(&s, "one", "one.conf", args, cmd);
	ru_ready(&s);
	CHECK(!stat(pins, &sb), "%s: %s", pins, strerror(errno));
	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st == 0, "exit status %#x", st);
	CHECK(stat(top, &sb) && errno == ENOENT,
	      "%s is left after the supervisor stopped", top);
	if (tl_failed())
		ru_dump_log(&s);

	/* a directory, not on a bpffs */
	snprintf(nested, sizeof(nested), "%s", ru_dir);
	ru_start(&s, "one2", "one.conf", args, cmd);
	st = ru_wait_exit(&s, 3000);
	log = ru_slurp(s.log);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
		      strstr(log, "which is not on a bpffs") &&
		      strstr(log, "the pin directory is not on a bpffs "
				  "(see --pin-root)") &&
		      !strstr(log, "Not a directory"),
	      "--pin-root %s: status %#x: %s", ru_dir, st, log);
	free(log);
}
