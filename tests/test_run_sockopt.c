// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Per-pool socket policy: every option set and read back on the listener,
 * what accepted TCP connections inherit from it (sk_clone_lock: all of
 * them but SO_PRIORITY), and the options the kernel refuses or would
 * change, which are errors naming service, pool, option and errno or
 * value. Then the same seen from a worker of sksteer run.
 */
#include <limits.h>
#include <netinet/tcp.h>
#include <sys/syscall.h>

#include "run_util.h"

static int getint(int fd, int level, int name)
{
	socklen_t len = sizeof(int);
	int v = -1;

	ASSERT(!getsockopt(fd, level, name, &v, &len), "getsockopt(%d, %d): %s",
	       level, name, strerror(errno));
	return v;
}

static uint64_t pacing(int fd)
{
	socklen_t len = sizeof(uint64_t);
	uint64_t v = 0;

	ASSERT(!getsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE, &v, &len),
	       "SO_MAX_PACING_RATE: %s", strerror(errno));
	return v;
}

static const char *cc(int fd)
{
	static char name[32];
	socklen_t len = sizeof(name) - 1;

	memset(name, 0, sizeof(name));
	ASSERT(!getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, &len),
	       "TCP_CONGESTION: %s", strerror(errno));
	return name;
}

static long sysctl_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/*
 * net.core.rmem_max as it applies here. Kernels that keep it in the initial
 * network namespace only (6.1) show no such file in a new one; the cap
 * still applies, and the kernel tells it: SO_RCVBUF stores twice the
 * capped value.
 */
static long rmem_max(void)
{
	long v = sysctl_long("/proc/sys/net/core/rmem_max");
	int fd, big = INT_MAX / 2, got;
	socklen_t len = sizeof(got);

	if (v >= 0)
		return v;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	ASSERT(fd >= 0, "socket: %s", strerror(errno));
	ASSERT(!setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big)) &&
		       !getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len),
	       "SO_RCVBUF: %s", strerror(errno));
	close(fd);
	return got / 2;
}

/* A congestion control this kernel has that is not its default. */
static const char *other_cc(void)
{
	static char pick[32];
	char def[32] = "", avail[512] = "", *tok;
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_congestion_control", "r");

	if (f) {
		if (fscanf(f, "%31s", def) != 1)
			def[0] = '\0';
		fclose(f);
	}
	f = fopen("/proc/sys/net/ipv4/tcp_available_congestion_control", "r");
	if (f) {
		if (!fgets(avail, sizeof(avail), f))
			avail[0] = '\0';
		fclose(f);
	}
	for (tok = strtok(avail, " \n"); tok; tok = strtok(NULL, " \n"))
		if (strcmp(tok, def)) {
			snprintf(pick, sizeof(pick), "%s", tok);
			return pick;
		}
	return NULL;
}

static int accept_from(int l, const char *src, const char *dst, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int c, a;

	c = socket(tu_is_v6(dst) ? AF_INET6 : AF_INET,
		   SOCK_STREAM | SOCK_CLOEXEC, 0);
	len = tu_sockaddr(&ss, src, 0);
	ASSERT(c >= 0 && !bind(c, (struct sockaddr *)&ss, len), "client");
	len = tu_sockaddr(&ss, dst, port);
	ASSERT(!connect(c, (struct sockaddr *)&ss, len), "connect %s: %s", dst,
	       strerror(errno));
	a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ASSERT(a >= 0, "accept: %s", strerror(errno));
	close(c);
	return a;
}

/*
 * Listener and accepted connections (IPv4 and IPv6 on one dual-stack
 * listener): what the pool says, on both, except priority, which the
 * kernel resets to 0 on the accepted connection.
 */
TEST(sockopt_listener_and_accepted)
{
	const char *alg = other_cc();
	struct sksteer_config *cfg;
	struct sksteer_group *g;
	char conf[512];
	uint16_t port;
	int l, a4, a6, i;
	int acc[2];

	tl_enter_netns();
	if (!alg)
		SKIP("only one congestion control is available");
	snprintf(conf, sizeof(conf),
		 "service o {\n"
		 "  listen tcp [::]:0\n"
		 "  pool a 1 { mark 0x2a; tos 0x20; priority 5; rcvbuf 100000;"
		 " sndbuf 120000; pacing-rate 8mbit; congestion %s;"
		 " fastopen 16; defer-accept 5; backlog 64 }\n"
		 "}\n",
		 alg);
	tl_messages_reset();
	cfg = sksteer_config__parse_string(conf, strlen(conf), "t.conf", NULL);
	ASSERT(cfg, "config: %s", tl_messages());
	g = sksteer_group__create(sksteer_config__service(cfg, 0), NULL);
	ASSERT(g, "create: %s: %s", strerror(errno), tl_messages());
	/* said, because a user relies on priority for the traffic */
	CHECK(strstr(tl_messages(), "priority 5 applies to the listening "
				    "socket"),
	      "no warning about priority: %s", tl_messages());
	l = sksteer_group__fd(g, "a", 0);
	port = (uint16_t)sksteer_group__port(g);
	CHECK(getint(l, SOL_SOCKET, SO_MARK) == 0x2a, "listener mark");
	CHECK(getint(l, IPPROTO_IP, IP_TOS) == 0x20, "listener IP_TOS %#x",
	      getint(l, IPPROTO_IP, IP_TOS));
	CHECK(getint(l, IPPROTO_IPV6, IPV6_TCLASS) == 0x20, "listener TCLASS");
	CHECK(getint(l, SOL_SOCKET, SO_PRIORITY) == 5, "listener priority %d",
	      getint(l, SOL_SOCKET, SO_PRIORITY));
	CHECK(getint(l, SOL_SOCKET, SO_RCVBUF) == 200000, "listener rcvbuf");
	CHECK(getint(l, SOL_SOCKET, SO_SNDBUF) == 240000, "listener sndbuf");
	CHECK(pacing(l) == 1000000, "listener pacing %llu",
	      (unsigned long long)pacing(l));
	CHECK(!strcmp(cc(l), alg), "listener congestion %s", cc(l));
	CHECK(getint(l, IPPROTO_TCP, TCP_FASTOPEN) == 16, "fastopen");
	/* 5 s is rounded up to the retransmission schedule: 1+2+4 */
	CHECK(getint(l, IPPROTO_TCP, TCP_DEFER_ACCEPT) == 7, "defer-accept %d",
	      getint(l, IPPROTO_TCP, TCP_DEFER_ACCEPT));
	{
		int zero = 0;

		/* defer-accept would hold the data-less test connections */
		ASSERT(!setsockopt(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, &zero,
				   sizeof(zero)),
		       "TCP_DEFER_ACCEPT 0");
	}
	a4 = accept_from(l, "127.0.0.1", "127.0.0.1", port);
	a6 = accept_from(l, "::1", "::1", port);
	acc[0] = a4;
	acc[1] = a6;
	for (i = 0; i < 2; i++) {
		int a = acc[i];
		const char *v = i ? "IPv6" : "IPv4";

		CHECK(getint(a, SOL_SOCKET, SO_MARK) == 0x2a, "%s: mark %#x", v,
		      getint(a, SOL_SOCKET, SO_MARK));
		CHECK(getint(a, SOL_SOCKET, SO_RCVBUF) == 200000,
		      "%s: rcvbuf %d", v, getint(a, SOL_SOCKET, SO_RCVBUF));
		CHECK(getint(a, SOL_SOCKET, SO_SNDBUF) == 240000,
		      "%s: sndbuf %d", v, getint(a, SOL_SOCKET, SO_SNDBUF));
		CHECK(pacing(a) == 1000000, "%s: pacing %llu", v,
		      (unsigned long long)pacing(a));
		CHECK(!strcmp(cc(a), alg), "%s: congestion %s, want %s", v,
		      cc(a), alg);
		/* the kernel fact sksteer.conf(5) documents */
		CHECK(getint(a, SOL_SOCKET, SO_PRIORITY) == 0,
		      "%s: priority %d: the kernel now inherits it, update "
		      "sksteer.conf(5) and src/sockopt.c",
		      v, getint(a, SOL_SOCKET, SO_PRIORITY));
	}
	CHECK(getint(a4, IPPROTO_IP, IP_TOS) == 0x20, "IPv4: tos %#x",
	      getint(a4, IPPROTO_IP, IP_TOS));
	CHECK(getint(a6, IPPROTO_IPV6, IPV6_TCLASS) == 0x20,
	      "IPv6: traffic class %#x", getint(a6, IPPROTO_IPV6, IPV6_TCLASS));
	close(a4);
	close(a6);
	sksteer_group__free(g);
	sksteer_config__free(cfg);
}

/* Create a one-pool group with @opts; expect failure with @err and a
 * message holding each of @says. */
static void expect_refused(const char *proto, const char *opts, int err,
			   const char *const *says)
{
	struct sksteer_config *cfg;
	struct sksteer_group *g;
	char conf[512];
	int fds = 0, fd;

	snprintf(conf, sizeof(conf),
		 "service s {\n  listen %s 127.0.0.1:0\n  pool ok 1\n"
		 "  pool p 1 { %s }\n}\n",
		 proto, opts);
	tl_messages_reset();
	cfg = sksteer_config__parse_string(conf, strlen(conf), "t.conf", NULL);
	ASSERT(cfg, "config '%s': %s", opts, tl_messages());
	for (fd = 0; fd < 256; fd++)
		fds += fcntl(fd, F_GETFD) >= 0;
	errno = 0;
	g = sksteer_group__create(sksteer_config__service(cfg, 0), NULL);
	CHECK(!g && errno == err, "%s { %s }: %p, errno %d (%s), want %d",
	      proto, opts, (void *)g, errno, strerror(errno), err);
	for (; *says; says++)
		CHECK(strstr(tl_messages(), *says),
		      "%s { %s }: the message lacks '%s': %s", proto, opts,
		      *says, tl_messages());
	for (fd = 0; fd < 256; fd++)
		fds -= fcntl(fd, F_GETFD) >= 0;
	CHECK(!fds, "%s { %s }: %d descriptors leaked", proto, opts, fds);
	sksteer_group__free(g);
	sksteer_config__free(cfg);
}

TEST(sockopt_refused_or_changed)
{
	const char *const ecn[] = { "service 's'", "pool 'p'", "tos 0x21",
				    "ECN", NULL };
	const char *const tfo[] = { "pool 'p'", "fastopen 5000",
				    "net.core.somaxconn", NULL };
	const char *const bl[] = { "pool 'p'", "backlog 5000",
				   "net.core.somaxconn", NULL };
	const char *const small[] = { "pool 'p'", "rcvbuf 1000",
				      "below its minimum", NULL };
	const char *const nocc[] = { "pool 'p'", "congestion nosuchcc",
				     "No such file or directory", NULL };
	char opt[64];
	long rmem;

	tl_enter_netns();
	/* a fresh namespace has net.core.somaxconn 4096 */
	ASSERT(sysctl_long("/proc/sys/net/core/somaxconn") == 4096,
	       "somaxconn %ld", sysctl_long("/proc/sys/net/core/somaxconn"));
	expect_refused("tcp", "tos 0x21", EINVAL, ecn);
	expect_refused("tcp", "fastopen 5000", ERANGE, tfo);
	expect_refused("tcp", "backlog 5000", ERANGE, bl);
	expect_refused("udp", "rcvbuf 1000", ERANGE, small);
	expect_refused("tcp", "congestion nosuchcc", ENOENT, nocc);

	/* root (CAP_NET_ADMIN) gets a buffer above net.core.rmem_max */
	rmem = rmem_max();
	ASSERT(rmem > 0 && rmem < (1L << 29), "rmem_max %ld", rmem);
	{
		struct sksteer_config *cfg;
		struct sksteer_group *g;
		char conf[256];

		snprintf(conf, sizeof(conf),
			 "service s {\n listen udp 127.0.0.1:0\n"
			 " pool p 1 { rcvbuf %ld }\n}\n",
			 2 * rmem);
		cfg = sksteer_config__parse_string(conf, strlen(conf), "t.conf",
						   NULL);
		ASSERT(cfg, "config");
		g = sksteer_group__create(sksteer_config__service(cfg, 0),
					  NULL);
		ASSERT(g, "root, rcvbuf above rmem_max: %s", tl_messages());
		CHECK(getint(sksteer_group__fd(g, "p", 0), SOL_SOCKET,
			     SO_RCVBUF) == 4 * rmem,
		      "SO_RCVBUF %d, want %ld",
		      getint(sksteer_group__fd(g, "p", 0), SOL_SOCKET,
			     SO_RCVBUF),
		      4 * rmem);
		sksteer_group__free(g);
		sksteer_config__free(cfg);
	}
	/* without CAP_NET_ADMIN it is an error, not a smaller buffer */
	ASSERT(!setresgid(65534, 65534, 65534) &&
		       !setresuid(65534, 65534, 65534),
	       "becoming nobody: %s", strerror(errno));
	snprintf(opt, sizeof(opt), "rcvbuf %ld", 2 * rmem);
	{
		const char *const capped[] = { "pool 'p'", opt,
					       "net.core.rmem_max",
					       "CAP_NET_ADMIN", NULL };

		expect_refused("udp", opt, ERANGE, capped);
	}
}

/* ------------------------------------------------------------------ */

static bool port_free_tcp(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	bool ok;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ok = !bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	close(fd);
	return ok;
}

/* A descriptor of another process (pidfd_getfd, as root). */
static int steal_fd(pid_t pid, int fd)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0), got;

	ASSERT(pfd >= 0, "pidfd_open %d: %s", pid, strerror(errno));
	got = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
	ASSERT(got >= 0, "pidfd_getfd %d/%d: %s", pid, fd, strerror(errno));
	close(pfd);
	return got;
}

/*
 * Through sksteer run: the worker's listener carries the pool's policy,
 * and so does the connection it accepted; a pool option the kernel
 * refuses stops the start, naming pool, option and errno.
 */
TEST(sockopt_in_worker)
{
	static const char conf_fmt[] = "service web {\n"
				       "    listen tcp 0.0.0.0:8080\n"
				       "    backend cbpf\n"
				       "    pool a 1 { mark 0x7; tos 0x48; "
				       "rcvbuf 65536; sndbuf 65536; "
				       "pacing-rate 1mbit; congestion %s }\n"
				       "}\n";
	const char *alg = other_cc();
	char line[256], *log;
	pid_t kids[4];
	struct ru_answer a;
	struct ru_sup s;
	int l, c, acc, fds[16] = { 0 }, n, st;

	tl_enter_netns();
	ru_init();
	if (!alg)
		SKIP("only one congestion control is available");
	ru_write("web.conf", conf_fmt, alg);
	ru_start(&s, "web", "web.conf", NULL, NULL);
	ru_ready(&s);
	ASSERT(ru_children(s.pid, kids, 4) == 1, "not one worker");
	l = steal_fd(kids[0], 3);
	CHECK(getint(l, SOL_SOCKET, SO_MARK) == 7 &&
		      getint(l, IPPROTO_IP, IP_TOS) == 0x48 &&
		      getint(l, SOL_SOCKET, SO_RCVBUF) == 131072 &&
		      getint(l, SOL_SOCKET, SO_SNDBUF) == 131072 &&
		      pacing(l) == 125000 && !strcmp(cc(l), alg),
	      "the worker's listener does not carry the pool's options");
	close(l);
	/* hold a connection: the worker keeps it open until we close */
	c = ru_tcp_open("127.0.0.1", "127.0.0.1", 8080, &a, line, sizeof(line),
			3000, NULL);
	ASSERT(c >= 0, "%s", line);
	n = ru_fds(kids[0], fds, 16);
	ASSERT(n == 5 && fds[4] == 4, "the worker holds %d descriptors", n);
	acc = steal_fd(kids[0], 4);
	CHECK(getint(acc, SOL_SOCKET, SO_MARK) == 7, "accepted: mark %d",
	      getint(acc, SOL_SOCKET, SO_MARK));
	CHECK(getint(acc, IPPROTO_IP, IP_TOS) == 0x48, "accepted: tos %#x",
	      getint(acc, IPPROTO_IP, IP_TOS));
	CHECK(getint(acc, SOL_SOCKET, SO_RCVBUF) == 131072 &&
		      getint(acc, SOL_SOCKET, SO_SNDBUF) == 131072,
	      "accepted: buffers %d %d", getint(acc, SOL_SOCKET, SO_RCVBUF),
	      getint(acc, SOL_SOCKET, SO_SNDBUF));
	CHECK(pacing(acc) == 125000, "accepted: pacing %llu",
	      (unsigned long long)pacing(acc));
	CHECK(!strcmp(cc(acc), alg), "accepted: congestion %s", cc(acc));
	close(acc);
	close(c);
	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st == 0, "exit status %#x", st);

	ru_write("bad.conf",
		 "service web {\n    listen tcp 0.0.0.0:8080\n"
		 "    pool a 1\n    pool b 2 { congestion nosuchcc }\n}\n");
	ru_start(&s, "bad", "bad.conf", NULL, NULL);
	st = ru_wait_exit(&s, 3000);
	log = ru_slurp(s.log);
	CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
		      strstr(log, "pool 'b'") &&
		      strstr(log, "congestion nosuchcc") &&
		      strstr(log, "No such file or directory"),
	      "a refused option: status %#x: %s", st, log);
	free(log);
	CHECK(port_free_tcp(8080), "the port is still taken");
}
