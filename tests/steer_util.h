/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Helpers for the steering tests: build a group from a configuration,
 * send TCP connections and UDP datagrams from chosen sources, and find
 * out WHICH socket of the group received each one.
 */
#ifndef __SKSTEER_STEER_UTIL_H
#define __SKSTEER_STEER_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sksteer.h"
#include "sockaddr_util.h"
#include "testlib.h"

#define SU_MAXSK	64
#define SU_WAIT_MS	2000
#define ARRAY_SIZE_T(a) (sizeof(a) / sizeof((a)[0]))

struct su_sock {
	const char *pool;
	unsigned int idx;
	int fd;
};

struct su_group {
	struct sksteer_config *cfg;
	const struct sksteer_service *svc;
	struct sksteer_group *grp;
	int proto;
	uint16_t port;
	int n;
	struct su_sock sk[SU_MAXSK];
};

/* landing: index into g->sk, or one of these */
#define SU_NONE	   (-1) /* nothing arrived */
#define SU_SEVERAL (-2) /* more than one socket got something */

/* Client source ports: each test process starts somewhere else, so tests
 * sharing a namespace (the unprivileged run) do not meet TIME_WAITs. */
static uint16_t su_next_port;

static inline uint16_t su_port(void)
{
	if (!su_next_port)
		su_next_port = (uint16_t)(10000 + (getpid() * 7919u) % 20000u);
	if (su_next_port >= 31000)
		su_next_port = 10000;
	return su_next_port++;
}

/* "a.b.c.d:p" / "[v6]:p"; IPv4-mapped addresses shown as IPv4 */
static inline const char *su_fmt(const struct sockaddr_storage *ss, char *buf,
				 size_t sz)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, sz, "%s:%u", a, ntohs(s4->sin_port));
	} else {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], a,
				  sizeof(a));
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, sz, "%s:%u", a, ntohs(s6->sin6_port));
	}
	return buf;
}

static inline bool su_same(const struct sockaddr_storage *a,
			   const struct sockaddr_storage *b)
{
	char x[64], y[64];

	return !strcmp(su_fmt(a, x, sizeof(x)), su_fmt(b, y, sizeof(y)));
}

/* The in-pool spreading hash exactly as sksteer.conf(5) defines it
 * (written from the man page, not from the library). */
static inline uint32_t su_doc_hash(const char *src, uint16_t sport)
{
	uint8_t b[16];
	uint32_t h = sport;
	int i, words = tu_is_v6(src) ? 4 : 1;

	ASSERT(inet_pton(words == 4 ? AF_INET6 : AF_INET, src, b) == 1,
	       "bad address %s", src);
	for (i = 0; i < words; i++) {
		uint32_t w = (uint32_t)b[4 * i] << 24 |
			     (uint32_t)b[4 * i + 1] << 16 |
			     (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];

		h = (h ^ w) * 0x9e3779b1u;
	}
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return h;
}

/* The open sockets of @pool in index order; returns how many. */
static inline unsigned int su_open_idx(const struct su_group *g,
				       const char *pool, unsigned int *idx)
{
	const struct sksteer_pool *p = sksteer_service__find_pool(g->svc, pool);
	unsigned int i, n = 0;

	ASSERT(p, "no pool %s", pool);
	for (i = 0; i < sksteer_pool__size(p); i++)
		if (sksteer_group__fd(g->grp, pool, i) >= 0)
			idx[n++] = i;
	return n;
}

/* Which socket of @pool the documented hash picks for this source. */
static inline int su_hash_pick(const struct su_group *g, const char *pool,
			       const char *src, uint16_t sport)
{
	unsigned int idx[SU_MAXSK];
	unsigned int n = su_open_idx(g, pool, idx);

	ASSERT(n, "pool %s has no open socket", pool);
	return (int)idx[su_doc_hash(src, sport) % n];
}

static inline int su_key_pick(const struct su_group *g, const char *pool,
			      uint32_t key)
{
	unsigned int idx[SU_MAXSK];
	unsigned int n = su_open_idx(g, pool, idx);

	ASSERT(n, "pool %s has no open socket", pool);
	return (int)idx[key % n];
}

static inline void su_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	ASSERT(fl >= 0 && !fcntl(fd, F_SETFL, fl | O_NONBLOCK),
	       "O_NONBLOCK: %s", strerror(errno));
}

/* Re-read the group's sockets (after a socket closed). */
static inline void su_refresh(struct su_group *g)
{
	size_t p;

	g->n = 0;
	for (p = 0; p < sksteer_service__pool_cnt(g->svc); p++) {
		const struct sksteer_pool *pool =
			sksteer_service__pool(g->svc, p);
		unsigned int i;

		for (i = 0; i < sksteer_pool__size(pool); i++) {
			int fd = sksteer_group__fd(g->grp,
						   sksteer_pool__name(pool), i);

			if (fd < 0)
				continue;
			ASSERT(g->n < SU_MAXSK, "too many sockets");
			su_nonblock(fd);
			g->sk[g->n++] =
				(struct su_sock){ sksteer_pool__name(pool), i,
						  fd };
		}
	}
	ASSERT((unsigned int)g->n == sksteer_group__socket_cnt(g->grp),
	       "fd() finds %d open sockets, socket_cnt() says %u", g->n,
	       sksteer_group__socket_cnt(g->grp));
}

static inline void su_parse(struct su_group *g, const char *conf)
{
	memset(g, 0, sizeof(*g));
	tl_messages_reset();
	g->cfg = sksteer_config__parse_string(conf, strlen(conf), "test.conf",
					      NULL);
	ASSERT(g->cfg, "configuration does not parse: %s", tl_messages());
	g->svc = sksteer_config__service(g->cfg, 0);
	g->proto = sksteer_service__protocol(g->svc);
}

/* Attached group: remember its port and sockets. */
static inline void su_ready(struct su_group *g)
{
	int port = sksteer_group__port(g->grp);

	ASSERT(port > 0 && port < 65536, "group port %d", port);
	g->port = (uint16_t)port;
	su_refresh(g);
}

/*
 * The backend every test of a run uses: SKSTEER_TEST_BACKEND=cbpf|ebpf
 * (tests/run.sh runs the steering tests once for each), or what the
 * configuration says.
 */
static inline enum sksteer_backend su_backend(void)
{
	const char *b = getenv("SKSTEER_TEST_BACKEND");

	if (b && !strcmp(b, "ebpf"))
		return SKSTEER_BACKEND_EBPF;
	if (b && !strcmp(b, "cbpf"))
		return SKSTEER_BACKEND_CBPF;
	return SKSTEER_BACKEND_DEFAULT;
}

static inline bool su_ebpf(void)
{
	return su_backend() == SKSTEER_BACKEND_EBPF;
}

/* Would the running kernel take @conf's classic BPF program? */
static inline bool su_fits_kernel(const char *conf)
{
	struct sksteer_prog_fit fit = { .sz = sizeof(fit) };
	struct sksteer_config *cfg;
	struct sksteer_prog *prog;
	bool fits;

	cfg = sksteer_config__parse_string(conf, strlen(conf), "k.conf", NULL);
	ASSERT(cfg, "the configuration: %s", tl_messages());
	prog = sksteer_service__compile(sksteer_config__service(cfg, 0), NULL);
	ASSERT(prog, "compiling: %s", tl_messages());
	ASSERT(!sksteer_prog__kernel_fit(prog, &fit), "kernel_fit: %s",
	       tl_messages());
	fits = fit.fits;
	sksteer_prog__free(prog);
	sksteer_config__free(cfg);
	return fits;
}

static inline void su_setup(struct su_group *g, const char *conf)
{
	SKSTEER_OPTS(sksteer_group_opts, opts, .backend = su_backend());
	char why[256];

	if (su_ebpf() && sksteer_probe_ebpf(why, sizeof(why)))
		tl_skip("eBPF backend unavailable here: %s", why);

	su_parse(g, conf);
	g->grp = sksteer_group__create(g->svc, &opts);
	ASSERT(g->grp, "sksteer_group__create: %s: %s", strerror(errno),
	       tl_messages());
	su_ready(g);
}

static inline void su_free(struct su_group *g)
{
	sksteer_group__free(g->grp);
	sksteer_config__free(g->cfg);
	memset(g, 0, sizeof(*g));
}

/* A client socket bound to @src and *@sport, or (*@sport 0) a free port
 * of our choosing, returned in *@sport. */
static inline int su_client(int type, const char *src, uint16_t *sport)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, tries;

	fd = socket(tu_is_v6(src) ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC, 0);
	ASSERT(fd >= 0, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (*sport) {
		len = tu_sockaddr(&ss, src, *sport);
		ASSERT(!bind(fd, (struct sockaddr *)&ss, len),
		       "binding the client to %s:%u: %s", src, *sport,
		       strerror(errno));
		return fd;
	}
	for (tries = 0; tries < 100; tries++) {
		*sport = su_port();
		len = tu_sockaddr(&ss, src, *sport);
		if (!bind(fd, (struct sockaddr *)&ss, len))
			return fd;
		ASSERT(errno == EADDRINUSE, "binding the client to %s:%u: %s",
		       src, *sport, strerror(errno));
	}
	ASSERT(0, "no free client port on %s", src);
	return -1;
}

static inline const char *su_name(const struct su_group *g, int landing,
				  char *buf, size_t sz)
{
	if (landing == SU_NONE)
		return "nothing";
	if (landing < 0 || landing >= g->n)
		return "several sockets";
	snprintf(buf, sz, "%s[%u]", g->sk[landing].pool, g->sk[landing].idx);
	return buf;
}

/*
 * After a connection from @client: accept on every listener; exactly one
 * must have it. Also checks that the accepted connection is the client's.
 * The data the connection carried (TCP Fast Open) goes to @data.
 */
static inline int su_tcp_landing(struct su_group *g, int client, char *data,
				 size_t *datalen)
{
	struct pollfd pfd[SU_MAXSK];
	struct sockaddr_storage me, peer;
	socklen_t len = sizeof(me);
	int i, found = SU_NONE;
	char a[64], b[64];

	ASSERT(!getsockname(client, (struct sockaddr *)&me, &len),
	       "getsockname: %s", strerror(errno));
	for (i = 0; i < g->n; i++)
		pfd[i] = (struct pollfd){ .fd = g->sk[i].fd, .events = POLLIN };
	if (poll(pfd, (nfds_t)g->n, SU_WAIT_MS) <= 0)
		return SU_NONE;
	for (i = 0; i < g->n; i++) {
		int c;

		len = sizeof(peer);
		c = accept4(g->sk[i].fd, (struct sockaddr *)&peer, &len,
			    SOCK_CLOEXEC);
		if (c < 0) {
			ASSERT(errno == EAGAIN, "accept on %s[%u]: %s",
			       g->sk[i].pool, g->sk[i].idx, strerror(errno));
			continue;
		}
		CHECK(su_same(&peer, &me),
		      "%s[%u] accepted a connection from %s, expected one from "
		      "%s",
		      g->sk[i].pool, g->sk[i].idx, su_fmt(&peer, a, sizeof(a)),
		      su_fmt(&me, b, sizeof(b)));
		if (data) {
			struct pollfd dp = { .fd = c, .events = POLLIN };
			ssize_t r = 0;

			if (*datalen && poll(&dp, 1, SU_WAIT_MS) == 1)
				r = recv(c, data, *datalen, MSG_DONTWAIT);
			*datalen = r > 0 ? (size_t)r : 0;
		}
		/* the server closes first: its TIME_WAIT is on the group's
		 * port, not on the client's */
		close(c);
		found = found == SU_NONE ? i : SU_SEVERAL;
	}
	return found;
}

/*
 * A TCP connection from @src (a fresh port, returned in @sport) to
 * @dst:group port; with @tfo, @payload goes in the SYN (TCP Fast Open
 * without cookie). Returns the landing.
 */
static inline int su_tcp(struct su_group *g, const char *src, const char *dst,
			 uint16_t *sport, const void *payload, size_t plen,
			 bool tfo)
{
	struct sockaddr_storage ss;
	socklen_t len = tu_sockaddr(&ss, dst, g->port);
	char data[256];
	size_t dlen = plen < sizeof(data) ? plen : sizeof(data);
	uint16_t port = sport ? *sport : 0;
	int c, landing, one = 1;

	c = su_client(SOCK_STREAM, src, &port);
	if (sport)
		*sport = port;
	if (tfo) {
		ASSERT(!setsockopt(c, IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, &one,
				   sizeof(one)),
		       "TCP_FASTOPEN_NO_COOKIE: %s", strerror(errno));
		ASSERT(sendto(c, payload, plen, MSG_FASTOPEN,
			      (struct sockaddr *)&ss, len) == (ssize_t)plen,
		       "sendto(MSG_FASTOPEN) %s -> %s: %s", src, dst,
		       strerror(errno));
	} else {
		ASSERT(!connect(c, (struct sockaddr *)&ss, len),
		       "connect %s -> %s:%u: %s", src, dst, g->port,
		       strerror(errno));
		if (plen)
			ASSERT(send(c, payload, plen, 0) == (ssize_t)plen,
			       "send: %s", strerror(errno));
	}
	landing = su_tcp_landing(g, c, plen ? data : NULL, &dlen);
	if (plen && landing >= 0)
		CHECK(dlen == plen && !memcmp(data, payload, plen),
		      "the connection from %s:%u carried %zu bytes, %zu "
		      "arrived",
		      src, port, plen, dlen);
	close(c);
	return landing;
}

/* Drain every socket of the group; datagrams are matched to their sender
 * by source address and port. */
struct su_sent {
	struct sockaddr_storage from;
	int landing;
};

static inline void su_udp_collect(struct su_group *g, struct su_sent *sent,
				  int nsent)
{
	struct pollfd pfd[SU_MAXSK];
	int i, got = 0;
	char a[64];

	for (i = 0; i < nsent; i++)
		sent[i].landing = SU_NONE;
	for (i = 0; i < g->n; i++)
		pfd[i] = (struct pollfd){ .fd = g->sk[i].fd, .events = POLLIN };
	while (got < nsent && poll(pfd, (nfds_t)g->n, SU_WAIT_MS) > 0) {
		for (i = 0; i < g->n; i++) {
			struct sockaddr_storage from;
			socklen_t len = sizeof(from);
			char buf[2048];
			int j;

			while (recvfrom(g->sk[i].fd, buf, sizeof(buf),
					MSG_DONTWAIT, (struct sockaddr *)&from,
					&len) >= 0) {
				for (j = 0; j < nsent; j++)
					if (su_same(&from, &sent[j].from))
						break;
				ASSERT(j < nsent,
				       "%s[%u] got a datagram from %s that no "
				       "test client sent",
				       g->sk[i].pool, g->sk[i].idx,
				       su_fmt(&from, a, sizeof(a)));
				sent[j].landing = sent[j].landing == SU_NONE ?
							  i :
							  SU_SEVERAL;
				got++;
				len = sizeof(from);
			}
		}
	}
}

/* Send one datagram per entry of @src (from port @sport[i], or a fresh
 * one when 0, returned there) with @payload and find where each landed. */
static inline void su_udp_batch(struct su_group *g, const char *const *src,
				int n, const char *dst, const void *payload,
				size_t plen, uint16_t *sport, int *landing)
{
	struct su_sent sent[256];
	struct sockaddr_storage ss;
	socklen_t len = tu_sockaddr(&ss, dst, g->port);
	int i;

	ASSERT(n <= 256, "batch too large");
	for (i = 0; i < n; i++) {
		int c = su_client(SOCK_DGRAM, src[i], &sport[i]);

		tu_sockaddr(&sent[i].from, src[i], sport[i]);
		ASSERT(sendto(c, payload, plen, 0, (struct sockaddr *)&ss,
			      len) == (ssize_t)plen,
		       "sendto %s -> %s: %s", src[i], dst, strerror(errno));
		close(c);
	}
	su_udp_collect(g, sent, n);
	for (i = 0; i < n; i++)
		landing[i] = sent[i].landing;
}

static inline int su_udp(struct su_group *g, const char *src, const char *dst,
			 uint16_t *sport, const void *payload, size_t plen)
{
	uint16_t port = sport ? *sport : 0;
	int landing;

	su_udp_batch(g, &src, 1, dst, payload, plen, &port, &landing);
	if (sport)
		*sport = port;
	return landing;
}

/* One connection or datagram, whichever the service speaks; @sport as
 * for su_client(). */
static inline int su_send(struct su_group *g, const char *src, const char *dst,
			  uint16_t *sport, const void *payload, size_t plen)
{
	if (g->proto == IPPROTO_TCP)
		return su_tcp(g, src, dst, sport, payload, plen, false);
	return su_udp(g, src, dst, sport, payload, plen);
}

/*
 * Expect @landing to be socket @idx of @pool (@idx -1: any socket of the
 * pool). Returns whether it was.
 */
static inline bool su_expect(const char *file, int line, struct su_group *g,
			     int landing, const char *what, const char *pool,
			     int idx)
{
	char b[64];

	if (landing >= 0 && !strcmp(g->sk[landing].pool, pool) &&
	    (idx < 0 || g->sk[landing].idx == (unsigned int)idx))
		return true;
	if (idx < 0)
		tl_fail(file, line, "%s landed on %s, expected pool %s", what,
			su_name(g, landing, b, sizeof(b)), pool);
	else
		tl_fail(file, line, "%s landed on %s, expected %s[%d]", what,
			su_name(g, landing, b, sizeof(b)), pool, idx);
	return false;
}

#define EXPECT_AT(g, landing, what, pool, idx) \
	su_expect(__FILE__, __LINE__, g, landing, what, pool, idx)

/*
 * Send from @src to @dst and expect pool @pool; the socket in the pool is
 * the documented hash's pick (by_key < 0) or key mod n.
 */
static inline bool su_check(const char *file, int line, struct su_group *g,
			    const char *src, const char *dst, const void *pl,
			    size_t plen, const char *pool, long by_key)
{
	uint16_t sport = 0;
	int landing = su_send(g, src, dst, &sport, pl, plen);
	int idx = by_key >= 0 ? su_key_pick(g, pool, (uint32_t)by_key) :
				su_hash_pick(g, pool, src, sport);
	char what[160];

	snprintf(what, sizeof(what), "%s %s %s:%u -> %s (%zu bytes)",
		 g->proto == IPPROTO_TCP ? "TCP connection" : "UDP datagram",
		 "from", src, sport, dst, plen);
	return su_expect(file, line, g, landing, what, pool, idx);
}

#define CHECK_FLOW(g, src, dst, pool) \
	su_check(__FILE__, __LINE__, g, src, dst, NULL, 0, pool, -1)
#define CHECK_FLOW_PL(g, src, dst, pl, plen, pool, key) \
	su_check(__FILE__, __LINE__, g, src, dst, pl, plen, pool, key)

/*
 * Expect the group to refuse a connection or datagram from @src to @dst
 * (a drop target, eBPF): TCP gets a reset (ECONNREFUSED), a UDP datagram
 * reaches no socket. Returns whether it was refused.
 */
static inline bool su_refused(const char *file, int line, struct su_group *g,
			      const char *src, const char *dst, uint16_t sport,
			      const void *pl, size_t plen)
{
	struct sockaddr_storage ss;
	socklen_t len = tu_sockaddr(&ss, dst, g->port);
	uint16_t port = sport;
	int c, landing;
	char b[64];

	if (g->proto == IPPROTO_UDP) {
		struct pollfd pfd;
		char buf[8];

		/* a dropped datagram is answered with ICMP port unreachable
		 * (the lookup fails with -ECONNREFUSED): a connected client
		 * sees it as ECONNREFUSED */
		c = su_client(SOCK_DGRAM, src, &port);
		ASSERT(!connect(c, (struct sockaddr *)&ss, len) &&
			       send(c, pl, plen, 0) == (ssize_t)plen,
		       "sending %s -> %s: %s", src, dst, strerror(errno));
		pfd = (struct pollfd){ .fd = c, .events = POLLIN };
		if (poll(&pfd, 1, SU_WAIT_MS) == 1 &&
		    recv(c, buf, sizeof(buf), MSG_DONTWAIT) < 0 &&
		    errno == ECONNREFUSED) {
			close(c);
			/* and no socket of the group got it */
			for (landing = 0; landing < g->n; landing++)
				if (recv(g->sk[landing].fd, buf, sizeof(buf),
					 MSG_DONTWAIT) >= 0)
					break;
			if (landing == g->n)
				return true;
			tl_fail(file, line,
				"UDP datagram %s:%u -> %s was refused "
				"but %s received one",
				src, port, dst,
				su_name(g, landing, b, sizeof(b)));
			return false;
		}
		close(c);
		tl_fail(file, line,
			"UDP datagram %s:%u -> %s was not refused "
			"(no ICMP port unreachable)",
			src, port, dst);
		return false;
	}
	c = su_client(SOCK_STREAM, src, &port);
	if (!connect(c, (struct sockaddr *)&ss, len)) {
		landing = su_tcp_landing(g, c, NULL, NULL);
		close(c);
		tl_fail(file, line,
			"TCP connection %s:%u -> %s was accepted "
			"(by %s), expected a reset",
			src, port, dst, su_name(g, landing, b, sizeof(b)));
		return false;
	}
	if (errno != ECONNREFUSED) {
		tl_fail(file, line,
			"TCP connection %s:%u -> %s failed with "
			"%s, expected ECONNREFUSED (a reset)",
			src, port, dst, strerror(errno));
		close(c);
		return false;
	}
	close(c);
	return true;
}

#define CHECK_REFUSED(g, src, dst) \
	su_refused(__FILE__, __LINE__, g, src, dst, 0, "x", 1)
#define CHECK_REFUSED_FLOW(g, src, dst, sport, pl, plen) \
	su_refused(__FILE__, __LINE__, g, src, dst, sport, pl, plen)

/* Unprivileged tests: a fresh namespace when we may make one (root),
 * else the namespace we were started in (the unprivileged run). */
static inline void su_unpriv_env(void)
{
	if (tl_is_root())
		tl_enter_netns();
}

static inline int su_count_fds(void)
{
	char path[64];
	int n = 0, fd;

	for (fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (!access(path, F_OK))
			n++;
	}
	return n;
}

#endif
