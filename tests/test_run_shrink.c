// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Reloads that shrink and grow UDP pools under a continuous load lose
 * nothing (sksteer(8), run, Reloads): the update steers away from the
 * sockets it takes out but leaves them open, their workers answer what
 * was queued, and only then do the workers stop and the sockets close.
 *
 * A thread sends a few thousand datagrams a second from 16 client
 * sockets (four source addresses, two destinations) and reads the
 * answers; the main thread reloads between two configurations in which
 * one pool shrinks while the other grows. Every datagram must be
 * answered, by a worker of the pool the rules pick. Both backends: with
 * classic BPF the closing sockets keep their positions until they close,
 * and each close that moves the group's last socket is bracketed by a
 * program that sends nothing to that socket (it shares its pool here),
 * so nothing is hashed to a socket on its way out either.
 */
#include <pthread.h>

#include "run_util.h"

#define UDP_PORT 5353
#define NCLIENT	 16
#define NRELOAD	 10

static const char *const addrs[] = { "198.51.100.1",
				     "198.51.100.2",
				     "198.51.100.10",
				     "198.51.100.11",
				     "203.0.113.1",
				     "203.0.113.2",
				     NULL };
static const char *const srcs[] = { "198.51.100.10", "198.51.100.11",
				    "203.0.113.1", "203.0.113.2" };

/* a shrinks 2 -> 1 while b grows 1 -> 2, and back */
static const char conf_fmt[] = "service dns {\n"
			       "    listen udp 0.0.0.0:%d\n"
			       "    backend %s\n"
			       "    pool a %d\n"
			       "    pool b %d\n"
			       "    rule to 198.51.100.1 pool a\n"
			       "    default pool b\n"
			       "}\n";

struct client {
	int fd;
	const char *dst;
	const char *pool; /* the pool the rules pick */
	long sent, answered, misrouted;
	char last_bad[200];
};

struct load {
	struct client c[NCLIENT];
	volatile bool stop;
	int rate; /* datagrams per second */
};

/* Send at @rate, read every answer; after stop, wait for stragglers. */
static void *load_main(void *arg)
{
	struct load *l = arg;
	int64_t start = ru_ms(), quiet_until = 0;
	long total = 0;
	int i;

	for (;;) {
		struct pollfd p[NCLIENT];
		int64_t now = ru_ms();
		long due = (long)((now - start) * l->rate / 1000);

		if (l->stop && !quiet_until)
			quiet_until = now + 1000 * tl_slow();
		if (quiet_until && now >= quiet_until)
			return NULL;
		while (!l->stop && total < due) {
			struct client *c = &l->c[total % NCLIENT];
			struct sockaddr_storage ss;
			socklen_t len = tu_sockaddr(&ss, c->dst, UDP_PORT);

			if (sendto(c->fd, "x", 1, 0, (struct sockaddr *)&ss,
				   len) == 1)
				c->sent++;
			total++;
		}
		for (i = 0; i < NCLIENT; i++)
			p[i] = (struct pollfd){ .fd = l->c[i].fd,
						.events = POLLIN };
		if (poll(p, NCLIENT, 1) <= 0)
			continue;
		for (i = 0; i < NCLIENT; i++) {
			struct client *c = &l->c[i];
			struct ru_answer a;
			char line[256];
			ssize_t n;

			while ((n = recv(c->fd, line, sizeof(line) - 1,
					 MSG_DONTWAIT)) > 0) {
				line[n] = '\0';
				c->answered++;
				if (ru_parse(line, &a) &&
				    !strcmp(a.pool, c->pool))
					continue;
				c->misrouted++;
				snprintf(c->last_bad, sizeof(c->last_bad),
					 "to %s: answered '%.120s', the rules "
					 "pick pool %s",
					 c->dst, line, c->pool);
			}
		}
	}
}

static void clients_open(struct load *l)
{
	int i;

	for (i = 0; i < NCLIENT; i++) {
		struct client *c = &l->c[i];
		struct sockaddr_storage ss;
		socklen_t len = tu_sockaddr(&ss, srcs[i % 4], 0);
		int big = 1 << 20;

		c->dst = i % 2 ? "198.51.100.2" : "198.51.100.1";
		c->pool = i % 2 ? "b" : "a";
		c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		ASSERT(c->fd >= 0, "socket");
		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUFFORCE, &big,
			   sizeof(big));
		ASSERT(!bind(c->fd, (struct sockaddr *)&ss, len), "bind %s: %s",
		       srcs[i % 4], strerror(errno));
	}
}

static void shrink_under_load(const char *backend)
{
	char conf[2][1024], out[4096];
	long sent = 0, answered = 0, misrouted = 0;
	struct load l = { .rate = 3000 };
	pthread_t tid;
	struct ru_sup s;
	char *log;
	int i, rc, st, drained;

	tl_enter_netns();
	ru_init();
	tu_add_addrs(addrs);
	snprintf(conf[0], sizeof(conf[0]), conf_fmt, UDP_PORT, backend, 2, 1);
	snprintf(conf[1], sizeof(conf[1]), conf_fmt, UDP_PORT, backend, 1, 2);
	ru_write("dns.conf", "%s", conf[0]);
	ru_start(&s, "dns", "dns.conf", NULL, NULL);
	ru_ready(&s);
	ASSERT(ru_wait_children(s.pid, 3, 3000), "no 3 workers");
	clients_open(&l);
	ASSERT(!pthread_create(&tid, NULL, load_main, &l), "pthread_create");
	ru_sleep_ms(200);
	for (i = 1; i <= NRELOAD; i++) {
		ru_write("dns.conf", "%s", conf[i % 2]);
		rc = ru_reload(&s, out, sizeof(out));
		CHECK(rc == 0 && strstr(out, "3 sockets (1 new, 1 closed)"),
		      "reload %d: status %d: %s", i, rc, out);
		ru_sleep_ms(150);
	}
	ru_sleep_ms(200);
	l.stop = true;
	pthread_join(tid, NULL);
	for (i = 0; i < NCLIENT; i++) {
		const struct client *c = &l.c[i];

		sent += c->sent;
		answered += c->answered;
		misrouted += c->misrouted;
		if (c->misrouted)
			CHECK(0, "misrouted: %s", c->last_bad);
		close(c->fd);
	}
	printf("# %s: %d reloads, %ld datagrams sent, %ld answered, %ld "
	       "lost, %ld misrouted\n",
	       backend, NRELOAD, sent, answered, sent - answered, misrouted);
	CHECK(sent > 1000, "only %ld datagrams sent", sent);
	CHECK(answered == sent, "%ld of %ld datagrams lost over %d reloads",
	      sent - answered, sent, NRELOAD);
	CHECK(!misrouted, "%ld datagrams answered by the wrong pool",
	      misrouted);
	log = ru_slurp(s.log);
	drained = ru_count(log, "served by their workers");
	free(log);
	CHECK(drained == NRELOAD,
	      "%d of %d reloads report their closing sockets drained", drained,
	      NRELOAD);
	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st), "exit status %#x",
	      st);
	if (tl_failed())
		ru_dump_log(&s);
}

BACKEND_TESTS(run_shrink_under_load, shrink_under_load)
