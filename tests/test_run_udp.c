// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * UDP replies from the address a datagram arrived on (pool option
 * "pktinfo on", sksteer_udp_recv / sksteer_udp_reply), on a multi-homed
 * server: a namespace with three IPv4 and three IPv6 addresses on one
 * interface, a client in a second namespace behind a veth pair. Without
 * packet info a wildcard socket answers from the interface's primary
 * address (checked too, so that the test can fail); with it, from the
 * address the client used: IPv4, IPv6, and IPv4 on a dual-stack socket.
 */
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "run_util.h"

static const char *const v4[] = { "198.51.100.1", "198.51.100.2",
				  "198.51.100.3" };
static const char *const v6[] = { "2001:db8:1::1", "2001:db8:1::2",
				  "2001:db8:1::3" };

static int ns_server = -1, ns_client = -1;

/*
 * We are the server side (a fresh namespace). The client side is the
 * namespace of a child that only waits; it goes when the test ends.
 */
static void two_namespaces(void)
{
	char path[64];
	pid_t pid;
	int p[2];

	tl_enter_netns();
	ASSERT(!pipe(p), "pipe");
	pid = fork();
	ASSERT(pid >= 0, "fork");
	if (pid == 0) {
		char c;

		/* gone with the test, and keeps none of the harness's pipes
		 * (the harness waits for them to close) */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close_range(3, (unsigned int)p[1] - 1, 0);
		close_range((unsigned int)p[1] + 1, ~0U, 0);
		if (unshare(CLONE_NEWNET))
			_exit(1);
		c = 'x';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	{
		char c;

		ASSERT(read(p[0], &c, 1) == 1, "the client namespace");
	}
	close(p[0]);
	ns_server = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	ns_client = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT(ns_server >= 0 && ns_client >= 0, "namespace fds");
	tl_sh("ip link add sv type veth peer name cl netns %d && "
	      "ip link set sv up && "
	      "ip addr add 198.51.100.1/24 dev sv && "
	      "ip addr add 198.51.100.2/24 dev sv && "
	      "ip addr add 198.51.100.3/24 dev sv && "
	      "ip -6 addr add 2001:db8:1::1/64 dev sv nodad && "
	      "ip -6 addr add 2001:db8:1::2/64 dev sv nodad && "
	      "ip -6 addr add 2001:db8:1::3/64 dev sv nodad",
	      pid);
	ASSERT(!setns(ns_client, CLONE_NEWNET), "setns: %s", strerror(errno));
	tl_sh("ip link set lo up && ip link set cl up && "
	      "ip addr add 198.51.100.100/24 dev cl && "
	      "ip -6 addr add 2001:db8:1::100/64 dev cl nodad");
	ASSERT(!setns(ns_server, CLONE_NEWNET), "setns: %s", strerror(errno));
}

/* A UDP socket of the client's namespace (a socket keeps its own). */
static int client_socket(int family)
{
	int fd;

	ASSERT(!setns(ns_client, CLONE_NEWNET), "setns: %s", strerror(errno));
	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT(!setns(ns_server, CLONE_NEWNET), "setns: %s", strerror(errno));
	ASSERT(fd >= 0, "socket: %s", strerror(errno));
	return fd;
}

static const char *addr_str(const struct sockaddr_storage *ss, char *buf,
			    size_t sz)
{
	const struct sockaddr_in6 *s6 = (const void *)ss;

	if (ss->ss_family == AF_INET)
		return inet_ntop(AF_INET,
				 &((const struct sockaddr_in *)ss)->sin_addr,
				 buf, (socklen_t)sz);
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf,
				 (socklen_t)sz);
	return inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)sz);
}

/*
 * The client sends to @dst:@port; the server receives on @srv (with
 * sksteer_udp_recv when @pktinfo, else recvfrom) and answers; returns
 * the source of the answer the client got, in @from.
 */
static void exchange(int srv, bool pktinfo, const char *dst, uint16_t port,
		     char *from, size_t fromsz)
{
	struct sockaddr_storage ss, src;
	struct sksteer_udp_peer peer;
	socklen_t len = tu_sockaddr(&ss, dst, port), slen = sizeof(src);
	int c = client_socket(tu_is_v6(dst) ? AF_INET6 : AF_INET);
	struct pollfd p = { .fd = srv, .events = POLLIN };
	char buf[64], local[64], want[64];
	ssize_t n;

	ASSERT(sendto(c, "q", 1, 0, (struct sockaddr *)&ss, len) == 1,
	       "sendto %s: %s", dst, strerror(errno));
	ASSERT(poll(&p, 1, 3000) == 1, "the server got nothing for %s", dst);
	if (pktinfo) {
		n = sksteer_udp_recv(srv, buf, sizeof(buf), 0, &peer);
		ASSERT(n == 1, "sksteer_udp_recv: %zd (%s)", n,
		       n < 0 ? strerror((int)-n) : "");
		/* where it arrived: the address the client used */
		snprintf(want, sizeof(want), "%s", dst);
		CHECK(!strcmp(addr_str(&peer.local, local, sizeof(local)),
			      want),
		      "sksteer_udp_recv: local %s, the client sent to %s",
		      local, want);
		CHECK(peer.ifindex > 0, "no ifindex");
		n = sksteer_udp_reply(srv, "r", 1, 0, &peer);
		ASSERT(n == 1, "sksteer_udp_reply: %zd (%s)", n,
		       n < 0 ? strerror((int)-n) : "");
	} else {
		struct sockaddr_storage cl;
		socklen_t cllen = sizeof(cl);

		ASSERT(recvfrom(srv, buf, sizeof(buf), 0,
				(struct sockaddr *)&cl, &cllen) == 1,
		       "recvfrom");
		ASSERT(sendto(srv, "r", 1, 0, (struct sockaddr *)&cl, cllen) ==
			       1,
		       "sendto: %s", strerror(errno));
	}
	p.fd = c;
	ASSERT(poll(&p, 1, 3000) == 1, "no answer to %s", dst);
	ASSERT(recvfrom(c, buf, sizeof(buf), 0, (struct sockaddr *)&src,
			&slen) == 1,
	       "recvfrom");
	addr_str(&src, from, fromsz);
	close(c);
}

static struct sksteer_group *group(struct sksteer_config **cfg,
				   const char *text)
{
	struct sksteer_group *g;

	tl_messages_reset();
	*cfg = sksteer_config__parse_string(text, strlen(text), "t.conf", NULL);
	ASSERT(*cfg, "config: %s", tl_messages());
	g = sksteer_group__create(sksteer_config__service(*cfg, 0), NULL);
	ASSERT(g, "group: %s: %s", strerror(errno), tl_messages());
	return g;
}

TEST(udp_pktinfo_replies)
{
	static const struct {
		const char *conf;
		bool v4, v6;
	} svcs[] = {
		{ "service a {\n listen udp 0.0.0.0:5300\n"
		  " pool p 1 { pktinfo on }\n}\n",
		  true, false },
		{ "service b {\n listen udp [::]:5301 v6only\n"
		  " pool p 1 { pktinfo on }\n}\n",
		  false, true },
		{ "service c {\n listen udp [::]:5302\n"
		  " pool p 1 { pktinfo on }\n}\n",
		  true, true },
	};
	char from[64];
	size_t i, k;

	two_namespaces();
	for (i = 0; i < ARRAY_SIZE(svcs); i++) {
		struct sksteer_config *cfg;
		struct sksteer_group *g = group(&cfg, svcs[i].conf);
		int fd = sksteer_group__fd(g, "p", 0);
		uint16_t port = (uint16_t)sksteer_group__port(g);
		int wrong = 0;

		for (k = 0; k < 3; k++) {
			if (svcs[i].v4) {
				exchange(fd, true, v4[k], port, from,
					 sizeof(from));
				CHECK(!strcmp(from, v4[k]),
				      "port %u: asked %s, answered from %s",
				      port, v4[k], from);
			}
			if (svcs[i].v6) {
				exchange(fd, true, v6[k], port, from,
					 sizeof(from));
				CHECK(!strcmp(from, v6[k]),
				      "port %u: asked %s, answered from %s",
				      port, v6[k], from);
			}
		}
		/*
		 * The same socket without the control message answers from
		 * the routing table's choice: the problem is real here.
		 */
		if (svcs[i].v4) {
			exchange(fd, false, v4[1], port, from, sizeof(from));
			CHECK(!strcmp(from, v4[0]),
			      "without pktinfo, asked %s, answered from %s: "
			      "the test cannot tell",
			      v4[1], from);
		}
		if (svcs[i].v6) {
			for (k = 0; k < 3; k++) {
				exchange(fd, false, v6[k], port, from,
					 sizeof(from));
				wrong += strcmp(from, v6[k]) != 0;
			}
			CHECK(wrong >= 2,
			      "without pktinfo, %d of 3 IPv6 answers came from "
			      "another address: the test cannot tell",
			      wrong);
		}
		sksteer_group__free(g);
		sksteer_config__free(cfg);
	}
}

/* A dual-stack socket with only IPV6_RECVPKTINFO still answers IPv4
 * clients right; a socket without packet info gives -EPROTO. */
TEST(udp_pktinfo_ipv6_only_option)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
				     .sin6_port = htons(5310) };
	struct sksteer_udp_peer peer;
	char from[64], buf[8];
	int fd, zero = 0, one = 1, c;
	struct sockaddr_storage ss;
	socklen_t len;

	two_namespaces();
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT(fd >= 0 &&
		       !setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
				   sizeof(zero)) &&
		       !setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
				   sizeof(one)) &&
		       !bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)),
	       "socket: %s", strerror(errno));
	exchange(fd, true, v4[2], 5310, from, sizeof(from));
	CHECK(!strcmp(from, v4[2]), "asked %s, answered from %s", v4[2], from);
	exchange(fd, true, v6[2], 5310, from, sizeof(from));
	CHECK(!strcmp(from, v6[2]), "asked %s, answered from %s", v6[2], from);

	/* no packet info */
	setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &zero, sizeof(zero));
	c = client_socket(AF_INET);
	len = tu_sockaddr(&ss, v4[1], 5310);
	ASSERT(sendto(c, "q", 1, 0, (struct sockaddr *)&ss, len) == 1,
	       "sendto");
	CHECK(sksteer_udp_recv(fd, buf, sizeof(buf), 0, &peer) == -EPROTO,
	      "no pktinfo: not -EPROTO");
	CHECK(sksteer_udp_recv(fd, buf, sizeof(buf), MSG_DONTWAIT, &peer) ==
		      -EAGAIN,
	      "an empty socket: not -EAGAIN");
	CHECK(sksteer_udp_reply(fd, "r", 1, 0,
				&(struct sksteer_udp_peer){ 0 }) == -EINVAL,
	      "an empty peer: not -EINVAL");
	close(c);
	close(fd);
}

/*
 * The same through sksteer run and examples/worker: a dual-stack service
 * whose pool "line" has pktinfo on and whose pool "plain" does not.
 */
TEST(udp_pktinfo_run)
{
	static const char conf[] = "service dns {\n"
				   "    listen udp [::]:5353\n"
				   "    backend cbpf\n"
				   "    pool line 2 { pktinfo on }\n"
				   "    pool plain 1\n"
				   "    rule from 198.51.100.100 sport 1-30000 "
				   "pool plain\n"
				   "    default pool line\n"
				   "}\n";
	const char *const dsts[] = { "198.51.100.2", "198.51.100.3",
				     "2001:db8:1::2", "2001:db8:1::3",
				     "198.51.100.1" };
	struct ru_sup s;
	size_t i;
	int st, round;

	two_namespaces();
	ru_init();
	ru_write("dns.conf", "%s", conf);
	ru_start(&s, "dns", "dns.conf", NULL, NULL);
	ru_ready(&s);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < ARRAY_SIZE(dsts); i++) {
			struct sockaddr_storage ss, src, me = { 0 };
			socklen_t len, slen = sizeof(src);
			const char *dst = dsts[i];
			int c = client_socket(tu_is_v6(dst) ? AF_INET6 :
							      AF_INET);
			/* round 0: a high port (pool line); 1: a low one */
			uint16_t sport =
				(uint16_t)(round ? 20000 + i : 40000 + i);
			struct pollfd p = { .fd = c, .events = POLLIN };
			struct ru_answer a;
			char line[256], from[64];
			ssize_t n;

			len = tu_sockaddr(&me, tu_is_v6(dst) ? "::" : "0.0.0.0",
					  sport);
			ASSERT(!bind(c, (struct sockaddr *)&me, len),
			       "bind: %s", strerror(errno));
			len = tu_sockaddr(&ss, dst, 5353);
			ASSERT(sendto(c, "q", 1, 0, (struct sockaddr *)&ss,
				      len) == 1,
			       "sendto");
			if (poll(&p, 1, 3000) != 1) {
				CHECK(0, "no answer to %s from port %u", dst,
				      sport);
				close(c);
				continue;
			}
			n = recvfrom(c, line, sizeof(line) - 1, 0,
				     (struct sockaddr *)&src, &slen);
			close(c);
			ASSERT(n > 0, "recvfrom");
			line[n] = '\0';
			ASSERT(ru_parse(line, &a), "answer '%s'", line);
			addr_str(&src, from, sizeof(from));
			if (!strcmp(a.pool, "line")) {
				CHECK(!strcmp(from, dst) &&
					      !strcmp(a.local, dst),
				      "pool line: asked %s, answered from %s "
				      "(the worker saw %s)",
				      dst, from, a.local);
			} else {
				/* v4 from a low port: pool plain, no pktinfo */
				CHECK(round == 1 && !tu_is_v6(dst),
				      "%s from port %u went to pool %s", dst,
				      sport, a.pool);
				CHECK(!strcmp(a.local, "-"), "local %s",
				      a.local);
				/* and the routing table's answer is wrong */
				CHECK(!strcmp(from, "198.51.100.1"),
				      "pool plain: asked %s, answered from %s",
				      dst, from);
			}
		}
	}
	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st), "exit status %#x",
	      st);
	if (tl_failed())
		ru_dump_log(&s);
}
