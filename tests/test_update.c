// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Live updates of a running group (sksteer_group__update): atomic rule
 * swaps under traffic, pools that grow and shrink, and updates that fail
 * and change nothing. Runs for the backend SKSTEER_TEST_BACKEND names.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "steer_util.h"

#define T(name) TEST_TIMEOUT(name, 120)

/* Two rule sets that send the same traffic to different pools. */
static const char *const conf_a = "service u {\n  listen udp 127.0.0.1:0\n"
				  "  pool x 2\n  pool y 1\n  pool z 1\n"
				  "  rule from 127.0.0.2 pool x\n"
				  "  rule from 127.0.0.3 pool y\n"
				  "  default pool z\n}\n";
static const char *const conf_b = "service u {\n  listen udp 127.0.0.1:0\n"
				  "  pool x 2\n  pool y 1\n  pool z 1\n"
				  "  rule from 127.0.0.2 pool y\n"
				  "  rule from 127.0.0.3 pool z\n"
				  "  default pool x\n}\n";

/* pool each source goes to under rule set A (gen even) or B (odd) */
static const char *expected_pool(unsigned int src, unsigned long gen)
{
	static const char *const a[3] = { "x", "y", "z" };
	static const char *const b[3] = { "y", "z", "x" };

	return (gen % 2 ? b : a)[src];
}

#define NSEND	 400000
#define NUPDATES 2000

struct stress {
	struct su_group *g;
	atomic_ulong gen; /* rule sets completely in place */
	atomic_bool done;
	uint16_t port;
	/* per datagram: the generation when it was sent, where it landed */
	unsigned long sent_gen[NSEND];
	signed char landed[NSEND]; /* index into g->sk, -1 none */
	unsigned int src_of[NSEND];
	unsigned int nsent;
	int err;
};

static void *sender(void *arg)
{
	struct stress *st = arg;
	static const char *const srcs[3] = { "127.0.0.2", "127.0.0.3",
					     "127.0.0.4" };
	struct sockaddr_storage dst;
	socklen_t dlen = tu_sockaddr(&dst, "127.0.0.1", st->port);
	int fds[3], i;
	unsigned int n;

	for (i = 0; i < 3; i++) {
		uint16_t p = 0;

		fds[i] = su_client(SOCK_DGRAM, srcs[i], &p);
	}
	/* until the updates are over: a steady trickle of datagrams */
	for (n = 0; n < NSEND && !atomic_load(&st->done); n++) {
		uint32_t seq = n;
		unsigned int s = n % 3;

		st->src_of[n] = s;
		st->sent_gen[n] = atomic_load(&st->gen);
		if (sendto(fds[s], &seq, sizeof(seq), 0,
			   (struct sockaddr *)&dst, dlen) != sizeof(seq)) {
			st->err = errno;
			break;
		}
		/* bounded rate: the receivers keep up, nothing is dropped
		 * for lack of buffer */
		if (n % 32 == 31)
			usleep(1000);
	}
	st->nsent = n;
	for (i = 0; i < 3; i++)
		close(fds[i]);
	return NULL;
}

static void *receiver(void *arg)
{
	struct stress *st = arg;
	struct su_group *g = st->g;
	struct pollfd pfd[SU_MAXSK];
	int i, idle = 0;

	for (i = 0; i < g->n; i++)
		pfd[i] = (struct pollfd){ .fd = g->sk[i].fd, .events = POLLIN };
	while (idle < 10) {
		int r = poll(pfd, (nfds_t)g->n, 100);

		if (r <= 0) {
			if (atomic_load(&st->done))
				idle++;
			continue;
		}
		for (i = 0; i < g->n; i++) {
			uint32_t seq;

			while (recv(g->sk[i].fd, &seq, sizeof(seq),
				    MSG_DONTWAIT) == sizeof(seq))
				if (seq < NSEND)
					st->landed[seq] = (signed char)i;
		}
	}
	return NULL;
}

T(stress_swap)
{
	struct sksteer_config *cfg_b;
	const struct sksteer_service *svc[2];
	static struct stress st;
	pthread_t ts, tr;
	struct timespec t0, t1;
	unsigned int i, lost = 0, wrong = 0, updates = 0;
	int big = 1 << 22;

	su_unpriv_env();
	memset(&st, 0, sizeof(st));
	memset(st.landed, -1, sizeof(st.landed));
	st.g = &(struct su_group){ 0 };
	su_setup(st.g, conf_a);
	cfg_b = sksteer_config__parse_string(conf_b, strlen(conf_b), "b", NULL);
	ASSERT(cfg_b, "parse b: %s", tl_messages());
	svc[0] = st.g->svc;
	svc[1] = sksteer_config__service(cfg_b, 0);
	for (i = 0; i < (unsigned int)st.g->n; i++)
		setsockopt(st.g->sk[i].fd, SOL_SOCKET, SO_RCVBUF, &big,
			   sizeof(big));
	st.port = st.g->port;
	ASSERT(!pthread_create(&tr, NULL, receiver, &st) &&
		       !pthread_create(&ts, NULL, sender, &st),
	       "threads");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (updates = 0;; updates++) {
		/* gen k+1 is in flight: datagrams sent now may see k or k+1 */
		int err = sksteer_group__update(st.g->grp,
						svc[(updates + 1) % 2]);

		if (err) {
			tl_fail(__FILE__, __LINE__, "update %u: %s: %s",
				updates, strerror(-err), tl_messages());
			break;
		}
		atomic_store(&st.gen, updates + 1);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		/* thousands of swaps (fewer where the machine is slower), and
		 * traffic all along (at least 2 s; longer where slower, for as
		 * much traffic) */
		if (updates + 1 >= NUPDATES / (unsigned int)tl_slow() &&
		    (t1.tv_sec - t0.tv_sec) * 1000000000L + t1.tv_nsec -
				    t0.tv_nsec >=
			    2000000000L * tl_slow())
			break;
	}
	atomic_store(&st.done, true);
	pthread_join(ts, NULL);
	pthread_join(tr, NULL);
	ASSERT(!st.err, "sending: %s", strerror(st.err));
	for (i = 0; i < st.nsent; i++) {
		unsigned long gen = st.sent_gen[i];
		const char *now = expected_pool(st.src_of[i], gen);
		const char *next = expected_pool(st.src_of[i], gen + 1);
		const char *got;

		if (st.landed[i] < 0) {
			lost++;
			continue;
		}
		got = st.g->sk[(int)st.landed[i]].pool;
		if (strcmp(got, now) && strcmp(got, next)) {
			if (wrong++ < 5)
				tl_fail(__FILE__, __LINE__,
					"datagram %u from source %u sent under "
					"rule set %lu landed in pool %s, "
					"expected %s (or %s of the next set)",
					i, st.src_of[i], gen, got, now, next);
		}
	}
	updates++;
	CHECK(!lost && !wrong,
	      "%u updates in %.1f s, %u datagrams: %u lost, "
	      "%u misrouted",
	      updates,
	      (double)(t1.tv_sec - t0.tv_sec) +
		      (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	      st.nsent, lost, wrong);
	CHECK(st.nsent > 10000, "only %u datagrams were sent while updating",
	      st.nsent);
	su_free(st.g);
	sksteer_config__free(cfg_b);
}

/* Pools grow, shrink, appear and disappear; names stay stable. */
static void scenario_resize(const char *proto)
{
	char a[512], b[512], c[512];
	struct sksteer_config *cb, *cc;
	struct su_group g;
	int k, err, fd_x0, fd_x1;

	snprintf(a, sizeof(a),
		 "service r {\n  listen %s 127.0.0.1:0\n"
		 "  pool x 2\n  pool y 2\n  pool gone 1\n"
		 "  rule from 127.0.0.2 pool y\n"
		 "  rule from 127.0.0.3 pool gone\n"
		 "  default pool x\n}\n",
		 proto);
	/* x grows to 4, y shrinks to 1, gone is gone, new appears */
	snprintf(b, sizeof(b),
		 "service r {\n  listen %s 127.0.0.1:0\n"
		 "  pool new 1\n  pool x 4\n  pool y 1\n"
		 "  rule from 127.0.0.2 pool y\n"
		 "  rule from 127.0.0.3 pool new\n"
		 "  default pool x\n}\n",
		 proto);
	/* another port: a restart, not a reload */
	snprintf(c, sizeof(c),
		 "service r {\n  listen %s 127.0.0.1:1\n  pool x 1\n}\n",
		 proto);
	su_setup(&g, a);
	fd_x0 = sksteer_group__fd(g.grp, "x", 0);
	fd_x1 = sksteer_group__fd(g.grp, "x", 1);
	cb = sksteer_config__parse_string(b, strlen(b), "b", NULL);
	cc = sksteer_config__parse_string(c, strlen(c), "c", NULL);
	ASSERT(cb && cc, "parse: %s", tl_messages());

	tl_messages_reset();
	err = sksteer_group__update(g.grp, sksteer_config__service(cc, 0));
	CHECK(err == -EINVAL && strstr(tl_messages(), "restart"),
	      "changing the port: %d %s", err, tl_messages());
	CHECK(sksteer_group__fd(g.grp, "x", 0) == fd_x0, "refused update "
							 "changed the sockets");
	for (k = 0; k < 3; k++)
		CHECK_FLOW(&g, "127.0.0.3", "127.0.0.1", "gone");

	ASSERT(!sksteer_group__update(g.grp, sksteer_config__service(cb, 0)),
	       "update: %s", tl_messages());
	CHECK(sksteer_group__service(g.grp) == sksteer_config__service(cb, 0),
	      "the group does not use the new service");
	g.svc = sksteer_config__service(cb, 0);
	su_refresh(&g);
	CHECK(sksteer_group__socket_cnt(g.grp) == 6, "socket_cnt %u",
	      sksteer_group__socket_cnt(g.grp));
	CHECK(sksteer_group__fd(g.grp, "x", 0) == fd_x0 &&
		      sksteer_group__fd(g.grp, "x", 1) == fd_x1,
	      "x kept its sockets 0 and 1");
	CHECK(sksteer_group__fd(g.grp, "x", 3) >= 0, "x has a socket 3");
	CHECK(sksteer_group__fd(g.grp, "y", 1) == -ENOENT, "y shrank");
	CHECK(sksteer_group__fd(g.grp, "gone", 0) == -ENOENT, "gone is gone");
	CHECK(sksteer_group__fd(g.grp, "new", 0) >= 0, "new is there");
	for (k = 0; k < 8; k++) {
		CHECK_FLOW(&g, "127.0.0.2", "127.0.0.1", "y");
		CHECK_FLOW(&g, "127.0.0.3", "127.0.0.1", "new");
		CHECK_FLOW(&g, "127.0.0.1", "127.0.0.1", "x");
	}
	su_free(&g);
	sksteer_config__free(cb);
	sksteer_config__free(cc);
}

T(unpriv_tcp_resize)
{
	su_unpriv_env();
	scenario_resize("tcp");
}

T(unpriv_udp_resize)
{
	su_unpriv_env();
	scenario_resize("udp");
}

/* A configuration the backend refuses leaves the running one alone. */
T(unpriv_bad_update)
{
	static const char *const too_big_head =
		"service u {\n  listen udp 127.0.0.1:0\n  pool x 2\n"
		"  pool y 1\n  pool z 1\n  rule from ";
	struct sksteer_config *bad;
	struct su_group g;
	char *text;
	size_t len, i;
	int err;

	su_unpriv_env();
	su_setup(&g, conf_a);
	/* cbpf: too many ranges for 4096 instructions; ebpf: too many
	 * rules for its bitmaps */
	len = strlen(too_big_head) + 3000 * 24 + 300 * 40 + 256;
	text = malloc(len);
	ASSERT(text, "malloc");
	strcpy(text, too_big_head);
	if (sksteer_group__backend(g.grp) == SKSTEER_BACKEND_CBPF) {
		for (i = 0; i < 6000; i += 2)
			sprintf(text + strlen(text), "%s198.51.%zu.%zu",
				i ? ", " : "", 100 + i / 256, i % 256);
		strcat(text, " pool x\n  default pool z\n}\n");
	} else {
		strcpy(text, "service u {\n  listen udp 127.0.0.1:0\n"
			     "  pool x 2\n  pool y 1\n  pool z 1\n");
		for (i = 0; i < 300; i++)
			sprintf(text + strlen(text),
				"  rule sport %zu pool y\n", 1000 + i);
		strcat(text, "  default pool z\n}\n");
	}
	bad = sksteer_config__parse_string(text, strlen(text), "bad", NULL);
	free(text);
	ASSERT(bad, "parse: %s", tl_messages());
	tl_messages_reset();
	err = sksteer_group__update(g.grp, sksteer_config__service(bad, 0));
	CHECK(err == -E2BIG, "a configuration the backend cannot take: %d %s",
	      err, tl_messages());
	CHECK(sksteer_group__service(g.grp) == g.svc, "service replaced");
	for (i = 0; i < 3; i++) {
		CHECK_FLOW(&g, "127.0.0.2", "127.0.0.1", "x");
		CHECK_FLOW(&g, "127.0.0.3", "127.0.0.1", "y");
		CHECK_FLOW(&g, "127.0.0.4", "127.0.0.1", "z");
	}
	su_free(&g);
	sksteer_config__free(bad);
}

/* Changing the socket options of a pool that stays, or the backend, is a
 * restart: refused, nothing changes. */
T(unpriv_update_refused)
{
	static const char *const other_opts =
		"service u {\n  listen udp 127.0.0.1:0\n"
		"  pool x 2 { rcvbuf 65536 }\n  pool y 1\n  pool z 1\n"
		"  default pool z\n}\n";
	char other_backend[256];
	struct sksteer_config *c1, *c2;
	struct su_group g;
	int err, i;

	su_unpriv_env();
	su_setup(&g, conf_a);
	snprintf(other_backend, sizeof(other_backend),
		 "service u {\n  listen udp 127.0.0.1:0\n  backend %s\n"
		 "  pool x 2\n  pool y 1\n  pool z 1\n}\n",
		 sksteer_group__backend(g.grp) == SKSTEER_BACKEND_EBPF ?
			 "cbpf" :
			 "ebpf");
	c1 = sksteer_config__parse_string(other_opts, strlen(other_opts), "o",
					  NULL);
	c2 = sksteer_config__parse_string(other_backend, strlen(other_backend),
					  "b", NULL);
	ASSERT(c1 && c2, "parse: %s", tl_messages());
	tl_messages_reset();
	err = sksteer_group__update(g.grp, sksteer_config__service(c1, 0));
	CHECK(err == -EINVAL && strstr(tl_messages(), "pool 'x'") &&
		      strstr(tl_messages(), "socket options"),
	      "changed options: %d %s", err, tl_messages());
	tl_messages_reset();
	err = sksteer_group__update(g.grp, sksteer_config__service(c2, 0));
	CHECK(err == -EINVAL && strstr(tl_messages(), "backend"),
	      "changed backend: %d %s", err, tl_messages());
	CHECK(sksteer_group__service(g.grp) == g.svc, "service replaced");
	for (i = 0; i < 3; i++) {
		CHECK_FLOW(&g, "127.0.0.2", "127.0.0.1", "x");
		CHECK_FLOW(&g, "127.0.0.4", "127.0.0.1", "z");
	}
	su_free(&g);
	sksteer_config__free(c1);
	sksteer_config__free(c2);
}
