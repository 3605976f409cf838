// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TCP request migration (eBPF backend, BPF_SK_REUSEPORT_SELECT_OR_MIGRATE,
 * kernel 5.14+): when a listener of a pool closes, the connections waiting
 * in its accept queue, and handshakes still in flight, move to another
 * listener of the same pool, chosen by the same program; none is reset.
 * Classic BPF cannot do this (the kernel resets them), so this runs on the
 * eBPF backend only.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "steer_util.h"

static const char *const conf =
	"service m {\n  listen tcp 127.0.0.1:0\n  backend ebpf\n"
	"  pool a 3 { backlog 1024 }\n  pool b 1 { backlog 1024 }\n"
	"  rule from 127.0.0.2 pool a\n"
	"  rule from 127.0.0.3 pool b\n"
	"  default pool b\n}\n";

static void need_ebpf(void)
{
	char why[256];

	if (sksteer_probe_ebpf(why, sizeof(why)))
		tl_skip("eBPF backend unavailable here: %s", why);
}

/* Connect without accepting: the connection waits in some listener's
 * accept queue (the handshake completes in the kernel). */
static int pending(struct su_group *g, const char *src)
{
	struct sockaddr_storage ss;
	socklen_t len = tu_sockaddr(&ss, "127.0.0.1", g->port);
	uint16_t port = 0;
	int c = su_client(SOCK_STREAM, src, &port);

	ASSERT(!connect(c, (struct sockaddr *)&ss, len), "connect %s: %s", src,
	       strerror(errno));
	return c;
}

/* Accept everything on @fd; each connection must be alive (it answers
 * through the client). Returns how many. */
static int drain(int fd, int *clients, int nclients)
{
	int n = 0, c;

	while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		char b = 'x';

		ASSERT(send(c, &b, 1, 0) == 1, "send on accepted: %s",
		       strerror(errno));
		close(c);
		n++;
	}
	(void)clients;
	(void)nclients;
	return n;
}

/* every client got its byte: not reset, served */
static void clients_served(int *clients, int n, const char *what)
{
	int i, bad = 0;

	for (i = 0; i < n; i++) {
		struct pollfd p = { .fd = clients[i], .events = POLLIN };
		char b;

		if (poll(&p, 1, SU_WAIT_MS) != 1 ||
		    recv(clients[i], &b, 1, MSG_DONTWAIT) != 1)
			bad++;
		close(clients[i]);
	}
	CHECK(!bad, "%s: %d of %d connections were reset or never served", what,
	      bad, n);
}

TEST(accept_queue_migrates)
{
	int ca[60], cb[20], i, na = 0, nb;
	struct su_group g;
	int fd_a1, fd_a2, fd_b;

	need_ebpf();
	tl_enter_netns();
	su_setup(&g, conf);
	ASSERT(sksteer_group__backend(g.grp) == SKSTEER_BACKEND_EBPF,
	       "not eBPF");
	for (i = 0; i < 60; i++)
		ca[i] = pending(&g, "127.0.0.2");
	for (i = 0; i < 20; i++)
		cb[i] = pending(&g, "127.0.0.3");
	/* the 60 connections of pool a wait in its three queues; close
	 * a[0] and a[2]: theirs move to a[1], nothing to pool b */
	fd_a1 = sksteer_group__fd(g.grp, "a", 1);
	fd_b = sksteer_group__fd(g.grp, "b", 0);
	usleep(100000);
	ASSERT(!sksteer_group__close_socket(g.grp, "a", 0), "close a[0]: %s",
	       tl_messages());
	ASSERT(!sksteer_group__close_socket(g.grp, "a", 2), "close a[2]: %s",
	       tl_messages());
	fd_a2 = sksteer_group__fd(g.grp, "a", 2);
	CHECK(fd_a2 == -ENOENT, "a[2] still open");
	su_nonblock(fd_a1);
	su_nonblock(fd_b);
	na = drain(fd_a1, ca, 60);
	nb = drain(fd_b, cb, 20);
	CHECK(na == 60, "a[1] accepted %d of pool a's 60 connections", na);
	CHECK(nb == 20,
	      "b[0] accepted %d of its 20 connections (pool a's "
	      "must not move there)",
	      nb);
	clients_served(ca, 60, "pool a");
	clients_served(cb, 20, "pool b");
	su_free(&g);
}

/* Handshakes in flight while a listener closes: every connection gets
 * through to a listener of its pool. */
struct flood {
	struct su_group *g;
	atomic_bool stop;
	atomic_int ok, refused;
};

static void *connector(void *arg)
{
	struct flood *f = arg;
	struct sockaddr_storage ss;
	socklen_t len = tu_sockaddr(&ss, "127.0.0.1", f->g->port);

	while (!atomic_load(&f->stop)) {
		/* the kernel's ephemeral ports: thousands of connections
		 * must not meet the TIME_WAITs of earlier ones */
		struct sockaddr_storage me;
		socklen_t mlen = tu_sockaddr(&me, "127.0.0.2", 0);
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct pollfd p = { .fd = c, .events = POLLIN };
		char b;

		if (c < 0 || bind(c, (struct sockaddr *)&me, mlen)) {
			atomic_fetch_add(&f->refused, 1);
			if (c >= 0)
				close(c);
			continue;
		}
		if (connect(c, (struct sockaddr *)&ss, len) ||
		    poll(&p, 1, 3000) != 1 || recv(c, &b, 1, MSG_DONTWAIT) != 1)
			atomic_fetch_add(&f->refused, 1);
		else
			atomic_fetch_add(&f->ok, 1);
		close(c);
	}
	return NULL;
}

struct server {
	atomic_int fd[3];
	atomic_bool stop;
	atomic_int wrong;
	int fd_b;
};

static void *acceptor(void *arg)
{
	struct server *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd p[4];
		int i, n = 0;

		for (i = 0; i < 3; i++)
			if (s->fd[i] >= 0)
				p[n++] = (struct pollfd){ .fd = s->fd[i],
							  .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = s->fd_b, .events = POLLIN };
		if (poll(p, (nfds_t)n, 50) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			int c = accept4(p[i].fd, NULL, NULL, SOCK_NONBLOCK);

			if (c < 0)
				continue;
			if (p[i].fd == s->fd_b)
				atomic_fetch_add(&s->wrong, 1);
			if (send(c, "x", 1, 0) != 1)
				atomic_fetch_add(&s->wrong, 1);
			close(c);
		}
	}
	return NULL;
}

TEST_TIMEOUT(in_flight_migrate, 60)
{
	static struct flood f;
	static struct server s;
	pthread_t tc[2], ta;
	struct su_group g;
	int i;

	need_ebpf();
	tl_enter_netns();
	su_setup(&g, conf);
	memset(&f, 0, sizeof(f));
	memset(&s, 0, sizeof(s));
	f.g = &g;
	for (i = 0; i < 3; i++) {
		s.fd[i] = sksteer_group__fd(g.grp, "a", (unsigned int)i);
		su_nonblock(s.fd[i]);
	}
	s.fd_b = sksteer_group__fd(g.grp, "b", 0);
	su_nonblock(s.fd_b);
	ASSERT(!pthread_create(&ta, NULL, acceptor, &s), "thread");
	for (i = 0; i < 2; i++)
		ASSERT(!pthread_create(&tc[i], NULL, connector, &f), "thread");
	usleep(300000);
	/* the acceptor stops using a[0] as it closes: the library closes
	 * it, its queue migrates */
	s.fd[0] = -1;
	usleep(20000);
	ASSERT(!sksteer_group__close_socket(g.grp, "a", 0), "close a[0]: %s",
	       tl_messages());
	usleep(300000);
	s.fd[2] = -1;
	usleep(20000);
	ASSERT(!sksteer_group__close_socket(g.grp, "a", 2), "close a[2]: %s",
	       tl_messages());
	usleep(300000);
	atomic_store(&f.stop, true);
	for (i = 0; i < 2; i++)
		pthread_join(tc[i], NULL);
	usleep(100000);
	atomic_store(&s.stop, true);
	pthread_join(ta, NULL);
	CHECK(atomic_load(&f.ok) > 100, "only %d connections got through",
	      atomic_load(&f.ok));
	CHECK(!atomic_load(&f.refused),
	      "%d of %d connections were reset or "
	      "not served while listeners closed",
	      atomic_load(&f.refused),
	      atomic_load(&f.ok) + atomic_load(&f.refused));
	CHECK(!atomic_load(&s.wrong),
	      "%d connections of pool a landed in "
	      "pool b",
	      atomic_load(&s.wrong));
	su_free(&g);
}
