// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sksteer run and reload refuse a service whose traffic another socket
 * would take: the same address and port, a more specific address, an
 * IPv4 socket in front of a dual-stack service, v4-mapped addresses; the
 * supervisor's own sockets are not in the way (a service renamed on
 * reload keeps its group).
 */
#include "run_util.h"

#define PORT	 8080
#define UDP_PORT 5353

static const char *const lo_addrs[] = { "198.51.100.1", "198.51.100.2",
					"198.51.100.10", NULL };

static void setup(void)
{
	tl_enter_netns();
	ru_init();
	tu_add_addrs(lo_addrs);
}

/*
 * A socket of the test's, as another server would have it: SO_REUSEPORT
 * (the same owner as the supervisor: the kernel lets it share the port),
 * bound to @addr:@port, listening for TCP.
 */
static int foreign(int type, const char *addr, uint16_t port, bool v6only)
{
	struct sockaddr_storage ss;
	socklen_t len = tu_sockaddr(&ss, addr, port);
	int fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0), one = 1;
	int only = v6only;

	ASSERT(fd >= 0, "socket: %s", strerror(errno));
	ASSERT(!setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)),
	       "SO_REUSEPORT: %s", strerror(errno));
	if (ss.ss_family == AF_INET6)
		ASSERT(!setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &only,
				   sizeof(only)),
		       "IPV6_V6ONLY: %s", strerror(errno));
	ASSERT(!bind(fd, (struct sockaddr *)&ss, len), "bind %s:%u: %s", addr,
	       port, strerror(errno));
	if (type == SOCK_STREAM)
		ASSERT(!listen(fd, 16), "listen: %s", strerror(errno));
	return fd;
}

/* sksteer run of @conf must stop at once, its error naming @want... */
static void expect_refused(const char *what, const char *conf,
			   const char *const *want)
{
	struct ru_sup s;
	char *log;
	int st;

	ru_write("x.conf", "%s", conf);
	ru_start(&s, "x", "x.conf", NULL, NULL);
	st = ru_wait_exit(&s, 3000);
	log = ru_slurp(s.log);
	CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
	      "%s: exit status %#x: %s", what, st, log);
	for (; *want; want++)
		CHECK(strstr(log, *want), "%s: the error has no '%s': %s", what,
		      *want, log);
	free(log);
	if (st < 0)
		ru_stop(&s, SIGKILL, 1000);
}

/* ... or run, and answer a connection to @dst. */
static void expect_runs(const char *what, const char *conf, const char *dst)
{
	struct ru_answer a;
	struct ru_sup s;
	char why[300];
	int fd, st;

	ru_write("x.conf", "%s", conf);
	ru_start(&s, "x", "x.conf", NULL, NULL);
	if (!ru_wait_log(&s, "reload with", 1, 5000)) {
		char *log = ru_slurp(s.log);

		CHECK(0, "%s: did not start: %s", what, log);
		free(log);
		ru_stop(&s, SIGKILL, 1000);
		return;
	}
	fd = ru_tcp_open("127.0.0.1", dst, PORT, &a, why, sizeof(why), 3000,
			 NULL);
	CHECK(fd >= 0 && !strcmp(a.service, "x"),
	      "%s: the service does not answer: %s", what,
	      fd < 0 ? why : a.service);
	if (fd >= 0)
		close(fd);
	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st == 0, "%s: exit status %#x", what, st);
}

TEST(run_port_overlap)
{
	char conf[512], pid[64];
	const char *want[6];
	int fd;

	setup();
	snprintf(pid, sizeof(pid), "pid %d '", getpid());

	/* a dual-stack service; an IPv4 listener takes every IPv4
	 * connection before it */
	fd = foreign(SOCK_STREAM, "0.0.0.0", PORT, false);
	snprintf(conf, sizeof(conf),
		 "service x {\n    listen tcp [::]:%d\n    pool a 1\n}\n",
		 PORT);
	want[0] = "service 'x'";
	want[1] = "tcp [::]:8080 (dual-stack)";
	want[2] = "on IPv4, 0.0.0.0:8080 (inode ";
	want[3] = pid;
	want[4] = NULL;
	expect_refused("IPv4 before dual-stack", conf, want);
	close(fd);

	/* a wildcard service; a more specific listener takes what goes
	 * to its address */
	fd = foreign(SOCK_STREAM, "127.0.0.5", PORT, false);
	snprintf(conf, sizeof(conf),
		 "service x {\n    listen tcp 0.0.0.0:%d\n    pool a 1\n}\n",
		 PORT);
	want[1] = "tcp 0.0.0.0:8080";
	want[2] = "more specific address, 127.0.0.5:8080 (inode ";
	expect_refused("more specific", conf, want);
	close(fd);

	/* the same through a v4-mapped IPv6 socket */
	fd = foreign(SOCK_STREAM, "::ffff:127.0.0.5", PORT, false);
	want[2] = "more specific address, [::ffff:127.0.0.5]:8080";
	expect_refused("v4-mapped", conf, want);
	close(fd);

	/* UDP: a dual-stack service, a datagram socket on one address */
	fd = foreign(SOCK_DGRAM, "127.0.0.5", UDP_PORT, false);
	snprintf(conf, sizeof(conf),
		 "service x {\n    listen udp [::]:%d\n    pool a 1\n}\n",
		 UDP_PORT);
	want[1] = "udp [::]:5353 (dual-stack)";
	want[2] = "is bound on a more specific address, 127.0.0.5:5353";
	expect_refused("UDP", conf, want);
	close(fd);

	/* the same address: is another supervisor running? */
	fd = foreign(SOCK_STREAM, "0.0.0.0", PORT, false);
	snprintf(conf, sizeof(conf),
		 "service x {\n    listen tcp 0.0.0.0:%d\n    pool a 1\n}\n",
		 PORT);
	want[1] = "tcp 0.0.0.0:8080: another socket";
	want[2] = "already listens there, 0.0.0.0:8080";
	expect_refused("the same address", conf, want);
	close(fd);

	/* an IPv6-only socket takes nothing from an IPv4 service */
	fd = foreign(SOCK_STREAM, "::", PORT, true);
	expect_runs("IPv6-only beside IPv4", conf, "127.0.0.1");
	close(fd);

	/* a service more specific than a wildcard listener gets its
	 * traffic: the other server's business, not a wrong steering */
	fd = foreign(SOCK_STREAM, "0.0.0.0", PORT, false);
	snprintf(conf, sizeof(conf),
		 "service x {\n    listen tcp 127.0.0.5:%d\n    pool a 1\n}\n",
		 PORT);
	expect_runs("more specific than the other", conf, "127.0.0.5");
	close(fd);
}

/*
 * On reload: a new service in another program's way is refused; one in
 * the way of the supervisor's own services is not (what one
 * configuration asks for is its business).
 */
TEST(run_port_overlap_reload)
{
	static const char web[] = "service web {\n"
				  "    listen tcp 0.0.0.0:8080\n"
				  "    pool a 1\n"
				  "}\n";
	static const char extra[] = "service extra {\n"
				    "    listen tcp 0.0.0.0:8081\n"
				    "    pool a 1\n"
				    "}\n";
	static const char vip[] = "service vip {\n"
				  "    listen tcp 127.0.0.5:8080\n"
				  "    pool a 1\n"
				  "}\n";
	char out[4096], pid[64];
	struct ru_answer a;
	struct ru_sup s;
	int rc, fd, c;

	setup();
	snprintf(pid, sizeof(pid), "pid %d '", getpid());
	ru_write("r.conf", "%s", web);
	ru_start(&s, "r", "r.conf", NULL, NULL);
	ru_ready(&s);
	fd = foreign(SOCK_STREAM, "127.0.0.9", 8081, false);
	ru_write("r.conf", "%s%s", web, extra);
	rc = ru_reload(&s, out, sizeof(out));
	CHECK(rc == 1 && strstr(out, "unchanged") &&
		      strstr(out, "more specific address, 127.0.0.9:8081") &&
		      strstr(out, pid),
	      "a new service behind another program's socket: %d: %s", rc, out);
	close(fd);
	ru_write("r.conf", "%s%s", web, vip);
	rc = ru_reload(&s, out, sizeof(out));
	CHECK(rc == 0 && strstr(out, "service vip: new, 1 socket"),
	      "a new service more specific than one of its own: %d: %s", rc,
	      out);
	c = ru_tcp_open("127.0.0.1", "127.0.0.5", PORT, &a, out, sizeof(out),
			3000, NULL);
	CHECK(c >= 0 && !strcmp(a.service, "vip"), "to 127.0.0.5: %s",
	      c >= 0 ? a.service : out);
	if (c >= 0)
		close(c);
	c = ru_tcp_open("127.0.0.1", "127.0.0.1", PORT, &a, out, sizeof(out),
			3000, NULL);
	CHECK(c >= 0 && !strcmp(a.service, "web"), "to 127.0.0.1: %s",
	      c >= 0 ? a.service : out);
	if (c >= 0)
		close(c);
	rc = ru_stop(&s, SIGTERM, 5000);
	CHECK(rc == 0, "exit status %#x", rc);
	if (tl_failed())
		ru_dump_log(&s);
}

/* web (TCP) and dns (UDP, dual-stack) under the names given */
static void named_conf(char *buf, size_t sz, const char *web, const char *dns,
		       const char *dst_a)
{
	snprintf(buf, sz,
		 "service %s {\n"
		 "    listen tcp 0.0.0.0:%d\n"
		 "    pool a 2\n"
		 "    pool b 1\n"
		 "    rule to %s pool a\n"
		 "    default pool b\n"
		 "}\n"
		 "service %s {\n"
		 "    listen udp [::]:%d\n"
		 "    pool u 2\n"
		 "    pool v 1\n"
		 "    rule to %s pool u\n"
		 "    default pool v\n"
		 "}\n",
		 web, PORT, dst_a, dns, UDP_PORT, dst_a);
}

/* Every worker of @ppid serves a service of one of these names. */
static bool workers_named(pid_t ppid, const char *n1, const char *n2)
{
	pid_t kids[RU_MAXW];
	int n = ru_children(ppid, kids, RU_MAXW), i;

	for (i = 0; i < n; i++) {
		const char *svc = ru_env(kids[i], "SKSTEER_SERVICE");

		if (strcmp(svc, n1) && strcmp(svc, n2))
			return false;
	}
	return n > 0;
}

/*
 * A service renamed on reload, same listen: its group is updated in
 * place (the sockets stay, a connection it holds goes on), the new rules
 * apply, and new workers carry the new name.
 */
TEST(run_reload_rename)
{
	char conf[2048], out[4096], line[256], why[300];
	struct sockaddr_storage from;
	struct ru_answer a;
	struct ru_sup s;
	int rc, held, i, st;
	int64_t end;

	setup();
	named_conf(conf, sizeof(conf), "web", "dns", "198.51.100.1");
	ru_write("n.conf", "%s", conf);
	ru_start(&s, "n", "n.conf", NULL, NULL);
	ru_ready(&s);
	ASSERT(ru_wait_children(s.pid, 6, 3000), "not 6 workers");
	held = ru_tcp_open("198.51.100.10", "198.51.100.1", PORT, &a, why,
			   sizeof(why), 3000, NULL);
	ASSERT(held >= 0, "%s", why);
	CHECK(!strcmp(a.service, "web") && !strcmp(a.pool, "a"),
	      "before: %s %s", a.service, a.pool);

	/* new names, and the rules now send .2 to pool a */
	named_conf(conf, sizeof(conf), "www", "name53", "198.51.100.2");
	ru_write("n.conf", "%s", conf);
	rc = ru_reload(&s, out, sizeof(out));
	CHECK(rc == 0 && strstr(out, "service www: renamed from web") &&
		      strstr(out, "service www: 3 sockets (0 new, 0 closed)") &&
		      strstr(out, "service name53: renamed from dns") &&
		      strstr(out,
			     "service name53: 3 sockets (0 new, 0 closed)") &&
		      !strstr(out, "removed"),
	      "rename: %d: %s", rc, out);
	/* eBPF (the default when it loads): the counters moved with the
	 * name, so that `sksteer stats www` finds them */
	if (!sksteer_probe_ebpf(NULL, 0)) {
		char pin[sizeof(ru_pin) + 16];
		struct sksteer_stats *sts;

		snprintf(pin, sizeof(pin), "%s/www", ru_pin);
		sts = sksteer_stats__read(pin);
		CHECK(sts && !strcmp(sksteer_stats__service(sts), "www") &&
			      sksteer_stats__pid(sts) == s.pid,
		      "no counters under %s: %s", pin, strerror(errno));
		sksteer_stats__free(sts);
		snprintf(pin, sizeof(pin), "%s/web", ru_pin);
		CHECK(!sksteer_stats__read(pin) && errno == ENOENT,
		      "counters still under %s", pin);
	}

	/* the connection held by an old worker is still served */
	ASSERT(send(held, "ping\n", 5, MSG_NOSIGNAL) == 5, "send: %s",
	       strerror(errno));
	rc = ru_readline(held, line, sizeof(line), 3000);
	CHECK(rc > 0 && !strncmp(line, "ok web a ", 9),
	      "the connection held across the rename: '%s'",
	      rc > 0 ? line : "nothing");
	close(held);
	end = ru_ms() + 5000 * tl_slow();
	while (!workers_named(s.pid, "www", "name53") && ru_ms() < end)
		ru_sleep_ms(20);
	CHECK(workers_named(s.pid, "www", "name53") &&
		      ru_wait_children(s.pid, 6, 3000),
	      "the workers do not all carry the new names");

	for (i = 0; i < 4; i++) {
		int fd = ru_tcp_open("198.51.100.10", "198.51.100.2", PORT, &a,
				     why, sizeof(why), 3000, NULL);

		CHECK(fd >= 0 && !strcmp(a.service, "www") &&
			      !strcmp(a.pool, "a"),
		      "to .2 after the rename: %s %s",
		      fd >= 0 ? a.service : why, fd >= 0 ? a.pool : "");
		if (fd >= 0)
			close(fd);
		if (ru_udp("198.51.100.10", "198.51.100.2", UDP_PORT, &a, &from,
			   why, sizeof(why), 3000))
			CHECK(0, "UDP after the rename: %s", why);
		else
			CHECK(!strcmp(a.service, "name53") &&
				      !strcmp(a.pool, "u"),
			      "UDP to .2 after the rename: %s %s", a.service,
			      a.pool);
	}
	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st == 0, "exit status %#x", st);
	if (tl_failed())
		ru_dump_log(&s);
}

/*
 * A reload that shrinks a UDP pool stops that socket's worker before the
 * update; when another service's update fails first, nothing was closed
 * and the worker was not stopped.
 */
TEST(run_reload_udp_kept_on_failure)
{
	static const char fmt[] = "service web {\n"
				  "    listen tcp 0.0.0.0:%d\n"
				  "    pool a 1\n"
				  "%s"
				  "}\n"
				  "service dns {\n"
				  "    listen udp [::]:%d\n"
				  "    pool u %d\n"
				  "}\n";
	char conf[1024], out[4096];
	pid_t kids[RU_MAXW], u1 = 0;
	struct ru_sup s;
	int n, i, rc, st;

	setup();
	snprintf(conf, sizeof(conf), fmt, PORT, "", UDP_PORT, 2);
	ru_write("f.conf", "%s", conf);
	ru_start(&s, "f", "f.conf", NULL, NULL);
	ru_ready(&s);
	ASSERT(ru_wait_children(s.pid, 3, 3000), "not 3 workers");
	n = ru_children(s.pid, kids, RU_MAXW);
	for (i = 0; i < n; i++)
		if (!strcmp(ru_env(kids[i], "SKSTEER_POOL"), "u") &&
		    !strcmp(ru_env(kids[i], "SKSTEER_INDEX"), "1"))
			u1 = kids[i];
	ASSERT(u1, "no worker for u[1]");

	/* web's new pool cannot be created; dns shrinks */
	snprintf(conf, sizeof(conf), fmt, PORT,
		 "    pool b 1 { congestion nosuchcc }\n", UDP_PORT, 1);
	ru_write("f.conf", "%s", conf);
	rc = ru_reload(&s, out, sizeof(out));
	CHECK(rc == 1 && strstr(out, "unchanged"), "reload: %d: %s", rc, out);
	CHECK(ru_alive(u1) && ru_children(s.pid, kids, RU_MAXW) == 3,
	      "the worker of u[1] was stopped for a reload that failed");
	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st == 0, "exit status %#x", st);
	if (tl_failed())
		ru_dump_log(&s);
}
