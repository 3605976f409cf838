// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sksteer run and sksteer reload, end to end: the supervisor with
 * examples/worker in a network namespace of its own, traffic from chosen
 * addresses, and for every connection and datagram the check of WHO
 * answered (service, pool, index, pid) against what the rules pick.
 */
#include <pthread.h>
#include <pwd.h>
#include <sys/file.h>

#include "run_util.h"

#define PORT	 8080
#define UDP_PORT 5353

static const char *const lo_addrs[] = {
	"198.51.100.1",	 "198.51.100.2", "198.51.100.3",  "198.51.100.10",
	"198.51.100.11", "203.0.113.1",	 "203.0.113.2",	  "203.0.113.3",
	"2001:db8::1",	 "2001:db8::2",	 "2001:db8:1::7", NULL,
};

/* four pools, rules by destination and by source */
static const char web_fmt[] = "service web {\n"
			      "    listen tcp 0.0.0.0:%d\n"
			      "    backend %s\n"
			      "    pool a 2\n"
			      "    pool b 1\n"
			      "    pool c 1\n"
			      "    rule to 198.51.100.1 pool a\n"
			      "    rule to 198.51.100.2 pool b\n"
			      "    rule from 203.0.113.0/24 pool c\n"
			      "    default pool a\n"
			      "}\n";

/* the same on UDP, dual-stack */
static const char dns_fmt[] = "service dns {\n"
			      "    listen udp [::]:%d\n"
			      "    backend %s\n"
			      "    pool u 2\n"
			      "    pool v 1\n"
			      "    rule to 198.51.100.1, 2001:db8::1 pool u\n"
			      "    default pool v\n"
			      "}\n";

/* (source, destination) pairs that exercise every rule */
static const char *const flows[][2] = {
	{ "198.51.100.10", "198.51.100.1" },
	{ "198.51.100.11", "198.51.100.1" },
	{ "198.51.100.10", "198.51.100.2" },
	{ "203.0.113.1", "198.51.100.3" },
	{ "203.0.113.2", "198.51.100.1" },
	{ "198.51.100.11", "198.51.100.3" },
	{ "203.0.113.3", "198.51.100.2" },
};

static const char *const udp_flows[][2] = {
	{ "198.51.100.10", "198.51.100.1" }, { "203.0.113.1", "198.51.100.1" },
	{ "198.51.100.11", "198.51.100.3" }, { "2001:db8::2", "2001:db8::1" },
	{ "2001:db8:1::7", "2001:db8::2" },  { "2001:db8:1::7", "2001:db8::1" },
};

static char conf_web[1024], conf_dns[1024];

static void setup(const char *backend)
{
	tl_enter_netns();
	ru_init();
	tu_add_addrs(lo_addrs);
	snprintf(conf_web, sizeof(conf_web), web_fmt, PORT, backend);
	snprintf(conf_dns, sizeof(conf_dns), dns_fmt, UDP_PORT, backend);
}

/* The socket inodes @pid holds, as "socket:[N]" links. */
static int socket_links(pid_t pid, char links[][64], int max)
{
	int fds[256], n = ru_fds(pid, fds, 256), i, k = 0;
	char buf[64];

	for (i = 0; i < n && k < max; i++)
		if (!strncmp(ru_fd_link(pid, fds[i], buf, sizeof(buf)),
			     "socket:", 7))
			snprintf(links[k++], 64, "%s", buf);
	return k;
}

static bool in_links(char links[][64], int n, const char *l)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(links[i], l))
			return true;
	return false;
}

/* A listener on the port, without SO_REUSEPORT: is the port free? */
static bool port_free(int type, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;
	bool ok;

	/* TIME_WAITs are not holders */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ok = !bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	close(fd);
	return ok;
}

/* Every flow, twice: answered by the socket the rules pick. */
/*
 * A failure, reported for the first few of a check only: the harness
 * keeps a few kilobytes of report per test.
 */
#define CHECK_FEW(n, cond, ...)                \
	do {                                   \
		if (!(cond) && (n)++ < 3)      \
			CHECK(0, __VA_ARGS__); \
	} while (0)

static void check_tcp_flows(const struct ru_rules *r, int rounds)
{
	struct ru_answer a;
	char why[300];
	size_t i;
	int k, fd, bad = 0;

	for (k = 0; k < rounds; k++) {
		for (i = 0; i < ARRAY_SIZE(flows); i++) {
			fd = ru_tcp_open(flows[i][0], flows[i][1], PORT, &a,
					 why, sizeof(why), 3000, NULL);
			CHECK_FEW(bad, fd >= 0, "%s", why);
			if (fd < 0)
				continue;
			close(fd);
			CHECK_FEW(bad,
				  ru_expect(r, flows[i][0], a.sport,
					    flows[i][1], &a, why, sizeof(why)),
				  "%s", why);
		}
	}
	CHECK(bad <= 3, "%d TCP connections in all went wrong", bad);
}

/* ------------------------------------------------------------------ */

/*
 * The systemd convention in each worker: its socket at fd 3 and nothing
 * else beyond stdio (stdin is /dev/null), LISTEN_PID its own pid, names
 * and indexes; a process group of its own. The supervisor holds every
 * socket; on SIGTERM everything goes: workers, runtime files, sockets.
 */
TEST(run_socket_activation)
{
	char sup_links[16][64], buf[64], path[400], *pidf;
	pid_t kids[RU_MAXW];
	struct ru_rules r;
	struct ru_sup s;
	bool seen[4] = { 0 };
	int n, nsup, i, st;
	struct stat sb;

	setup("cbpf");
	ru_write("web.conf", "%s", conf_web);
	ru_rules(&r, conf_web, NULL);
	ru_start(&s, "web", "web.conf", NULL, NULL);
	ru_ready(&s);
	ASSERT(ru_wait_children(s.pid, 4, 3000), "not 4 workers");
	n = ru_children(s.pid, kids, RU_MAXW);
	nsup = socket_links(s.pid, sup_links, 16);
	/* its 4 listening sockets, its control socket and signalfd... */
	CHECK(nsup >= 5, "the supervisor holds %d sockets", nsup);
	for (i = 0; i < n; i++) {
		pid_t w = kids[i];
		int fds[16] = { 0 }, nf = ru_fds(w, fds, 16), idx;
		char want[16], pool[1024];

		CHECK(nf == 4 && fds[0] == 0 && fds[1] == 1 && fds[2] == 2 &&
			      fds[3] == 3,
		      "worker %d has %d descriptors (%d %d %d %d %d...), "
		      "expected 0-3",
		      w, nf, fds[0], fds[1], fds[2], fds[3], fds[4]);
		CHECK(!strcmp(ru_fd_link(w, 0, buf, sizeof(buf)), "/dev/null"),
		      "worker %d stdin is %s", w, buf);
		ru_fd_link(w, 3, buf, sizeof(buf));
		CHECK(!strncmp(buf, "socket:", 7) &&
			      in_links(sup_links, nsup, buf),
		      "worker %d fd 3 is %s, not one of the supervisor's "
		      "sockets",
		      w, buf);
		snprintf(want, sizeof(want), "%d", w);
		CHECK(!strcmp(ru_env(w, "LISTEN_PID"), want),
		      "worker %d: LISTEN_PID=%s", w, ru_env(w, "LISTEN_PID"));
		CHECK(!strcmp(ru_env(w, "LISTEN_FDS"), "1"),
		      "worker %d: LISTEN_FDS=%s", w, ru_env(w, "LISTEN_FDS"));
		CHECK(!strcmp(ru_env(w, "SKSTEER_SERVICE"), "web"),
		      "SKSTEER_SERVICE=%s", ru_env(w, "SKSTEER_SERVICE"));
		snprintf(pool, sizeof(pool), "%s", ru_env(w, "SKSTEER_POOL"));
		CHECK(!strcmp(ru_env(w, "LISTEN_FDNAMES"), pool),
		      "worker %d: LISTEN_FDNAMES=%s, SKSTEER_POOL=%s", w,
		      ru_env(w, "LISTEN_FDNAMES"), pool);
		idx = atoi(ru_env(w, "SKSTEER_INDEX"));
		if (!strcmp(pool, "a") && idx < 2)
			seen[idx] = true;
		else if (!strcmp(pool, "b") && idx == 0)
			seen[2] = true;
		else if (!strcmp(pool, "c") && idx == 0)
			seen[3] = true;
		else
			CHECK(0, "worker %d: pool %s index %d", w, pool, idx);
		CHECK(getpgid(w) == w, "worker %d is in process group %d", w,
		      getpgid(w));
		CHECK(!*ru_env(w, "NOTIFY_SOCKET"), "NOTIFY_SOCKET leaked");
	}
	CHECK(seen[0] && seen[1] && seen[2] && seen[3],
	      "not one worker per socket");
	check_tcp_flows(&r, 2);

	snprintf(path, sizeof(path), "%s/web.pid", ru_dir);
	pidf = ru_slurp(path);
	CHECK(atoi(pidf) == s.pid, "pid file says '%s', supervisor %d", pidf,
	      s.pid);
	free(pidf);
	snprintf(path, sizeof(path), "%s/web.sock", ru_dir);
	CHECK(!stat(path, &sb) && S_ISSOCK(sb.st_mode) &&
		      (sb.st_mode & 0777) == 0600,
	      "control socket %s: mode %o", path, sb.st_mode);

	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "exit status %#x after SIGTERM", st);
	for (i = 0; i < n; i++)
		CHECK(!ru_alive(kids[i]), "worker %d still runs", kids[i]);
	CHECK(access(path, F_OK), "%s is left", path);
	snprintf(path, sizeof(path), "%s/web.pid", ru_dir);
	CHECK(access(path, F_OK), "%s is left", path);
	CHECK(port_free(SOCK_STREAM, PORT), "port %d still taken", PORT);
	sksteer_config__free(r.cfg);
	if (tl_failed())
		ru_dump_log(&s);
}

/* Every datagram flow: answered by the socket the rules pick. */
static void check_udp_flows(const struct ru_rules *r, int rounds)
{
	struct sockaddr_storage from;
	struct ru_answer a;
	char why[300];
	size_t i;
	int k, bad = 0;

	for (k = 0; k < rounds; k++) {
		for (i = 0; i < ARRAY_SIZE(udp_flows); i++) {
			if (ru_udp(udp_flows[i][0], udp_flows[i][1], UDP_PORT,
				   &a, &from, why, sizeof(why), 3000)) {
				CHECK_FEW(bad, 0, "%s", why);
				continue;
			}
			CHECK_FEW(bad,
				  ru_expect(r, udp_flows[i][0], a.sport,
					    udp_flows[i][1], &a, why,
					    sizeof(why)),
				  "%s", why);
		}
	}
	CHECK(bad <= 3, "%d UDP datagrams in all went wrong", bad);
}

/* --workers per-service: one worker with all of a service's sockets */
TEST(run_per_service)
{
	const char *const args[] = { "--workers", "per-service", NULL };
	struct ru_rules rw, rd;
	struct ru_answer a;
	pid_t kids[RU_MAXW], web = 0, dns = 0;
	struct ru_sup s;
	char why[300];
	int n, i, fd, fds[32] = { 0 };

	setup("cbpf");
	ru_write("both.conf", "%s%s", conf_web, conf_dns);
	ru_rules(&rw, conf_web, NULL);
	ru_rules(&rd, conf_dns, NULL);
	ru_start(&s, "both", "both.conf", args, NULL);
	ru_ready(&s);
	ASSERT(ru_wait_children(s.pid, 2, 3000), "not 2 workers");
	n = ru_children(s.pid, kids, RU_MAXW);
	for (i = 0; i < n; i++) {
		if (!strcmp(ru_env(kids[i], "SKSTEER_SERVICE"), "web"))
			web = kids[i];
		else
			dns = kids[i];
	}
	ASSERT(web && dns, "one worker per service");
	CHECK(!strcmp(ru_env(web, "LISTEN_FDS"), "4"), "LISTEN_FDS=%s",
	      ru_env(web, "LISTEN_FDS"));
	CHECK(!strcmp(ru_env(web, "LISTEN_FDNAMES"), "a:a:b:c"),
	      "LISTEN_FDNAMES=%s", ru_env(web, "LISTEN_FDNAMES"));
	CHECK(!strcmp(ru_env(web, "SKSTEER_INDEXES"), "0:1:0:0"),
	      "SKSTEER_INDEXES=%s", ru_env(web, "SKSTEER_INDEXES"));
	CHECK(!*ru_env(web, "SKSTEER_POOL"), "SKSTEER_POOL set");
	CHECK(!strcmp(ru_env(dns, "LISTEN_FDNAMES"), "u:u:v"),
	      "LISTEN_FDNAMES=%s", ru_env(dns, "LISTEN_FDNAMES"));
	n = ru_fds(web, fds, 32);
	CHECK(n == 7 && fds[0] == 0 && fds[6] == 6,
	      "the web worker has %d descriptors, expected 0-6", n);
	check_tcp_flows(&rw, 1);
	check_udp_flows(&rd, 1);
	/* all from the one worker of each service */
	fd = ru_tcp_open("198.51.100.10", "198.51.100.2", PORT, &a, why,
			 sizeof(why), 3000, NULL);
	ASSERT(fd >= 0, "%s", why);
	close(fd);
	CHECK(a.pid == web, "answered by %d, the web worker is %d", a.pid, web);
	n = ru_stop(&s, SIGTERM, 5000);
	CHECK(n >= 0 && WIFEXITED(n) && !WEXITSTATUS(n), "exit status %#x", n);
	sksteer_config__free(rw.cfg);
	sksteer_config__free(rd.cfg);
	if (tl_failed())
		ru_dump_log(&s);
}

/* ------------------------------------------------------------------ */
/* Load: connections and datagrams from several threads                */
/* ------------------------------------------------------------------ */

struct result {
	const char *src, *dst;
	bool udp;
	bool ok;
	int64_t t0, t1; /* before the SYN or datagram left, after connect */
	struct ru_answer a;
	char why[200];
};

struct load {
	int max;
	pthread_mutex_t mu;
	struct result *res;
	int n;
	volatile bool stop;
};

struct load_thread {
	struct load *l;
	bool udp;
	pthread_t tid;
};

static void *load_main(void *arg)
{
	struct load_thread *t = arg;
	struct load *l = t->l;

	for (;;) {
		struct sockaddr_storage from;
		struct result *r;
		int slot, fd;

		pthread_mutex_lock(&l->mu);
		slot = l->stop || l->n >= l->max ? -1 : l->n++;
		pthread_mutex_unlock(&l->mu);
		if (slot < 0)
			return NULL;
		r = &l->res[slot];
		r->udp = t->udp;
		if (t->udp) {
			const char *const *f =
				udp_flows[slot % ARRAY_SIZE(udp_flows)];

			r->src = f[0];
			r->dst = f[1];
			r->t0 = ru_ms();
			r->ok = !ru_udp(r->src, r->dst, UDP_PORT, &r->a, &from,
					r->why, sizeof(r->why), 5000);
			r->t1 = r->t0;
			continue;
		}
		r->src = flows[slot % ARRAY_SIZE(flows)][0];
		r->dst = flows[slot % ARRAY_SIZE(flows)][1];
		r->t0 = ru_ms();
		fd = ru_tcp_open(r->src, r->dst, PORT, &r->a, r->why,
				 sizeof(r->why), 5000, &r->t1);
		r->ok = fd >= 0;
		if (fd >= 0)
			close(fd);
	}
}

static void load_start(struct load *l, struct load_thread *t, int ntcp,
		       int nudp, int max)
{
	int i;

	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->mu, NULL);
	l->max = max;
	l->res = calloc((size_t)max, sizeof(*l->res));
	ASSERT(l->res, "out of memory");
	for (i = 0; i < ntcp + nudp; i++) {
		t[i].l = l;
		t[i].udp = i >= ntcp;
		ASSERT(!pthread_create(&t[i].tid, NULL, load_main, &t[i]),
		       "pthread_create");
	}
}

static void load_wait(struct load *l, struct load_thread *t, int nthreads)
{
	int i;

	for (i = 0; i < nthreads; i++)
		pthread_join(t[i].tid, NULL);
	(void)l;
}

/* Each answer against the rules; returns the failures (reported). */
static int load_verify(const struct load *l, const struct ru_rules *tcp,
		       const struct ru_rules *udp)
{
	int i, bad = 0;
	char why[300];

	for (i = 0; i < l->n; i++) {
		const struct result *r = &l->res[i];

		if (!r->ok) {
			if (bad++ < 5)
				CHECK(0, "lost: %s", r->why);
			continue;
		}
		if (!ru_expect(r->udp ? udp : tcp, r->src, r->a.sport, r->dst,
			       &r->a, why, sizeof(why)) &&
		    bad++ < 5)
			CHECK(0, "misrouted: %s", why);
	}
	CHECK(!bad, "%d of %d connections and datagrams lost or misrouted", bad,
	      l->n);
	return bad;
}

/*
 * Workers crash (SIGKILL, right after an answer) again and again under a
 * steady load: every connection and datagram is answered, by a worker of
 * the socket the rules pick. What arrives while a worker is down waits in
 * its socket, which the supervisor keeps open.
 */
static void crash_under_load(const char *backend)
{
	const char *const cmd[] = { ru_worker, "--kill-after", "25", NULL };
	struct load_thread t[4];
	struct ru_rules rw, rd;
	struct load l;
	struct ru_sup s;
	char *log;
	int st, restarts, distinct = 0, i, j;

	setup(backend);
	ru_write("both.conf", "%s%s", conf_web, conf_dns);
	ru_rules(&rw, conf_web, NULL);
	ru_rules(&rd, conf_dns, NULL);
	ru_start(&s, "crash", "both.conf", NULL, cmd);
	ru_ready(&s);
	load_start(&l, t, 3, 1, 500);
	load_wait(&l, t, 4);
	load_verify(&l, &rw, &rd);
	for (i = 0; i < l.n; i++) {
		for (j = 0; j < i && l.res[j].a.pid != l.res[i].a.pid; j++)
			;
		distinct += j == i;
	}
	log = ru_slurp(s.log);
	restarts = ru_count(log, "restarting it in");
	free(log);
	/* 7 sockets, 500 answers, a crash every 25 answers of a worker */
	CHECK(restarts >= 12 && distinct >= 7 + 12,
	      "only %d restarts, %d distinct workers answered", restarts,
	      distinct);
	st = ru_stop(&s, SIGTERM, 8000);
	CHECK(st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st), "exit status %#x",
	      st);
	free(l.res);
	sksteer_config__free(rw.cfg);
	sksteer_config__free(rd.cfg);
	if (tl_failed())
		ru_dump_log(&s);
}

BACKEND_TESTS(run_crash_under_load, crash_under_load)

/* ------------------------------------------------------------------ */
/* Reload                                                              */
/* ------------------------------------------------------------------ */

/* A: .1 -> a (2 sockets), .2 -> b (1); B swaps them and b grows to 2. */
static const char reload_a[] = "service web {\n"
			       "    listen tcp 0.0.0.0:%d\n"
			       "    backend %s\n"
			       "    pool a 2\n"
			       "    pool b 1\n"
			       "    pool c 1\n"
			       "    rule to 198.51.100.1 pool a\n"
			       "    rule to 198.51.100.2 pool b\n"
			       "    rule from 203.0.113.0/24 pool c\n"
			       "    default pool a\n"
			       "}\n";
static const char reload_b[] = "service web {\n"
			       "    listen tcp 0.0.0.0:%d\n"
			       "    backend %s\n"
			       "    pool a 2\n"
			       "    pool b 2\n"
			       "    pool c 1\n"
			       "    rule to 198.51.100.1 pool b\n"
			       "    rule to 198.51.100.2 pool a\n"
			       "    rule from 203.0.113.0/24 pool c\n"
			       "    default pool b\n"
			       "}\n";

struct window {
	int64_t t0, t1; /* reload asked, reload answered */
};

/*
 * Rule set k is in force from window k-1's start to window k's end: a
 * connection steered (between its t0 and t1) in that span may follow it.
 * One steered during a reload to a socket that the reload closes moves
 * to another socket of its pool (eBPF migration): during a window, the
 * pool must be right, the socket in it may differ.
 */
static bool matches_some(const struct result *r, const struct ru_rules *sets,
			 const struct window *w, int nw, char *why,
			 size_t whysz)
{
	int k;

	for (k = 0; k <= nw; k++) {
		int64_t from = k ? w[k - 1].t0 : INT64_MIN;
		int64_t to = k < nw ? w[k].t1 : INT64_MAX;
		bool in_window =
			(k && r->t1 >= w[k - 1].t0 && r->t0 <= w[k - 1].t1) ||
			(k < nw && r->t1 >= w[k].t0 && r->t0 <= w[k].t1);
		struct ru_answer any = r->a;
		char tmp[300];

		if (r->t1 < from || r->t0 > to)
			continue;
		if (ru_expect(&sets[k], r->src, r->a.sport, r->dst, &r->a, why,
			      whysz))
			return true;
		if (!in_window)
			continue;
		/* the pool the set picks, whatever socket of it */
		for (any.index = 0; any.index < 4; any.index++)
			if (ru_expect(&sets[k], r->src, r->a.sport, r->dst,
				      &any, tmp, sizeof(tmp)))
				return true;
	}
	return false;
}

/*
 * Reloads under a steady load swap which destination goes to which pool
 * and grow a pool, then put it all back and shrink the pool again:
 * nothing is lost, and every connection follows the rule set in force
 * when it was steered (or the next, around a reload).
 *
 * Shrinking closes a listener. With the eBPF backend the kernel migrates
 * its queued and half-open connections to a socket of the same pool
 * (BPF_SK_REUSEPORT_SELECT_OR_MIGRATE); classic BPF cannot, so a
 * handshake in progress on the closed listener at that instant is lost:
 * with cbpf the shrink runs between two loads (see sksteer(8), run).
 */
static void reload_under_load(const char *backend)
{
	struct ru_rules sets[3];
	struct window w[2];
	struct load_thread t[4];
	char ca[1024], cb[1024], out[4096], why[300];
	struct load l;
	struct ru_sup s;
	int i, bad = 0, rc, st;

	setup(backend);
	snprintf(ca, sizeof(ca), reload_a, PORT, backend);
	snprintf(cb, sizeof(cb), reload_b, PORT, backend);
	ru_rules(&sets[0], ca, NULL);
	ru_rules(&sets[1], cb, NULL);
	ru_rules(&sets[2], ca, NULL);
	ru_write("web.conf", "%s", ca);
	ru_start(&s, "web", "web.conf", NULL, NULL);
	ru_ready(&s);
	load_start(&l, t, 4, 0, 100000);
	ru_sleep_ms(300);
	ru_write("web.conf", "%s", cb);
	w[0].t0 = ru_ms();
	rc = ru_reload(&s, out, sizeof(out));
	w[0].t1 = ru_ms();
	CHECK(rc == 0 && strstr(out, "5 sockets (1 new, 0 closed)"),
	      "reload to B: status %d: %s", rc, out);
	ASSERT(ru_wait_children(s.pid, 5, 3000), "no worker for b[1]");
	ru_sleep_ms(300);
	if (!strcmp(backend, "cbpf")) {
		l.stop = true;
		load_wait(&l, t, 4);
	}
	ru_write("web.conf", "%s", ca);
	w[1].t0 = ru_ms();
	rc = ru_reload(&s, out, sizeof(out));
	w[1].t1 = ru_ms();
	CHECK(rc == 0 && strstr(out, "4 sockets (0 new, 1 closed)"),
	      "reload back to A: status %d: %s", rc, out);
	if (!strcmp(backend, "cbpf")) {
		/* on into the same results, after the shrink */
		l.stop = false;
		for (i = 0; i < 4; i++)
			ASSERT(!pthread_create(&t[i].tid, NULL, load_main,
					       &t[i]),
			       "pthread_create");
	}
	ru_sleep_ms(300);
	l.stop = true;
	load_wait(&l, t, 4);
	for (i = 0; i < l.n; i++) {
		const struct result *r = &l.res[i];

		if (!r->ok) {
			if (bad++ < 5)
				CHECK(0,
				      "lost: %s (%lld ms after the first "
				      "reload)",
				      r->why, (long long)(r->t0 - w[0].t0));
			continue;
		}
		if (!matches_some(r, sets, w, 2, why, sizeof(why)) && bad++ < 5)
			CHECK(0,
			      "misrouted: %s (%lld ms after the first "
			      "reload)",
			      why, (long long)(r->t0 - w[0].t0));
	}
	CHECK(!bad, "%d of %d connections lost or misrouted", bad, l.n);
	CHECK(l.n > 200, "only %d connections in the test", l.n);
	ASSERT(ru_wait_children(s.pid, 4, 3000),
	       "the worker of b[1] did not go");
	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st), "exit status %#x",
	      st);
	free(l.res);
	for (i = 0; i < 3; i++)
		sksteer_config__free(sets[i].cfg);
	if (tl_failed())
		ru_dump_log(&s);
}

BACKEND_TESTS(run_reload_under_load, reload_under_load)

/*
 * A configuration that does not parse, compile or fit the running group
 * changes nothing: `sksteer reload` exits 1 and says why, SIGHUP logs it,
 * and the old rules go on steering. A good one then applies, prefix
 * files included.
 */
static void reload_bad(const char *backend)
{
	static const char good_fmt[] = "service web {\n"
				       "    listen tcp 0.0.0.0:%d\n"
				       "    backend %s\n"
				       "    pool a 2\n"
				       "    pool b 1\n"
				       "    pool c 1\n"
				       "    set vip file \"vip.txt\"\n"
				       "    rule from @vip pool c\n"
				       "    rule to 198.51.100.1 pool a\n"
				       "    rule to 198.51.100.2 pool b\n"
				       "    default pool a\n"
				       "}\n";
	struct {
		const char *what, *conf, *expect;
		bool cbpf_only;
	} bad[] = {
		{ "syntax",
		  "service web {\n    listen tcp 0.0.0.0:8080\n    pool a 2\n"
		  "    rule to 198.51.100.1/24 pool a\n}\n",
		  "web.conf:4:", false },
		{ "prefix file",
		  "service web {\n    listen tcp 0.0.0.0:8080\n    pool a 2\n"
		  "    set s file \"bad.txt\"\n    rule from @s pool a\n}\n",
		  "bad.txt:2:", false },
		{ "port",
		  "service web {\n    listen tcp 0.0.0.0:8081\n"
		  "    pool a 1\n}\n",
		  "restart, not a reload", false },
		{ "protocol",
		  "service web {\n    listen udp 0.0.0.0:8080\n"
		  "    pool a 1\n}\n",
		  "restart, not a reload", false },
		{ "service gone",
		  "service other {\n"
		  "    listen tcp 0.0.0.0:8082\n    pool a 1\n}\n",
		  "no service 'web'", false },
		{ "options",
		  "service web {\n    listen tcp 0.0.0.0:8080\n"
		  "    pool a 2\n    pool b 1 { rcvbuf 65536 }\n"
		  "    pool c 1\n}\n",
		  "pool 'b': its socket options change (none, now rcvbuf "
		  "65536 bytes)",
		  false },
		{ "drop",
		  "service web {\n    listen tcp 0.0.0.0:8080\n"
		  "    pool a 2\n    rule from 203.0.113.0/24 drop\n}\n",
		  "eBPF", true },
	};
	const char *const args[] = { "--service", "web", NULL };
	char good[1024], out[8192], *log;
	struct ru_rules r, r2;
	struct ru_sup s;
	size_t i;
	int rc, st, failed = 0;

	setup(backend);
	snprintf(good, sizeof(good), good_fmt, PORT, backend);
	ru_write("vip.txt", "# the VIP clients\n198.51.100.10/32\n");
	ru_write("bad.txt", "198.51.100.0/24\n198.51.100.300\n");
	ru_write("web.conf", "%s", good);
	ru_rules(&r, good, NULL);
	ru_start(&s, "web", "web.conf", args, NULL);
	ru_ready(&s);
	check_tcp_flows(&r, 1);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		if (bad[i].cbpf_only && strcmp(backend, "cbpf"))
			continue;
		ru_write("web.conf", "%s", bad[i].conf);
		rc = ru_reload(&s, out, sizeof(out));
		CHECK(rc == 1 && strstr(out, "unchanged") &&
			      (!bad[i].expect || strstr(out, bad[i].expect)),
		      "%s: reload exit %d, output: %s", bad[i].what, rc, out);
		failed++;
		check_tcp_flows(&r, 1);
	}
	/* the other backend: a restart, not a reload */
	{
		char other[1024];

		snprintf(other, sizeof(other), good_fmt, PORT,
			 strcmp(backend, "cbpf") ? "cbpf" : "ebpf");
		ru_write("web.conf", "%s", other);
		rc = ru_reload(&s, out, sizeof(out));
		CHECK(rc == 1 && strstr(out, "restart, not a reload") &&
			      strstr(out, "asks for backend"),
		      "backend change: reload exit %d, output: %s", rc, out);
		failed++;
		check_tcp_flows(&r, 1);
	}
	/* SIGHUP: the same, in the log */
	ru_write("web.conf", "%s", bad[0].conf);
	kill(s.pid, SIGHUP);
	CHECK(ru_wait_log(&s, "reload failed", failed + 1, 3000),
	      "SIGHUP with a bad configuration: no 'reload failed' logged");
	log = ru_slurp(s.log);
	CHECK(strstr(log, "web.conf:4:"), "the log does not name the error");
	free(log);
	check_tcp_flows(&r, 1);
	CHECK(ru_children(s.pid, (pid_t[RU_MAXW]){ 0 }, RU_MAXW) == 4,
	      "workers changed");

	/* a good one, and the prefix file is read again */
	ru_write("vip.txt", "198.51.100.11/32\n");
	ru_write("web.conf", "%s", good);
	rc = ru_reload(&s, out, sizeof(out));
	CHECK(rc == 0 && strstr(out, "4 sockets (0 new, 0 closed)"),
	      "good reload: exit %d: %s", rc, out);
	ru_rules(&r2, good, NULL);
	check_tcp_flows(&r2, 1);
	sksteer_config__free(r2.cfg);
	{
		struct ru_answer a;
		char why[300];
		int fd = ru_tcp_open("198.51.100.11", "198.51.100.2", PORT, &a,
				     why, sizeof(why), 3000, NULL);

		ASSERT(fd >= 0, "%s", why);
		close(fd);
		CHECK(!strcmp(a.pool, "c"),
		      "198.51.100.11 is in vip.txt now: pool %s, not c",
		      a.pool);
		fd = ru_tcp_open("198.51.100.10", "198.51.100.2", PORT, &a, why,
				 sizeof(why), 3000, NULL);
		ASSERT(fd >= 0, "%s", why);
		close(fd);
		CHECK(!strcmp(a.pool, "b"),
		      "198.51.100.10 left vip.txt: pool %s, not b", a.pool);
	}
	/* SIGHUP with a good configuration */
	kill(s.pid, SIGHUP);
	CHECK(ru_wait_log(&s, "reloaded", 2, 3000), "SIGHUP did not reload");
	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st), "exit status %#x",
	      st);
	sksteer_config__free(r.cfg);
	if (tl_failed())
		ru_dump_log(&s);
}

BACKEND_TESTS(run_reload_bad, reload_bad)

/* web: a (1), b (2); dns: u (2), v (1), with the sizes given */
static void pools_conf(char *buf, size_t sz, const char *backend, int a, int b,
		       int u)
{
	snprintf(buf, sz,
		 "service web {\n"
		 "    listen tcp 0.0.0.0:%d\n"
		 "    backend %s\n"
		 "    pool a %d\n"
		 "    pool b %d\n"
		 "    rule to 198.51.100.1 pool a\n"
		 "    rule to 198.51.100.2 pool b\n"
		 "    default pool a\n"
		 "}\n"
		 "service dns {\n"
		 "    listen udp [::]:%d\n"
		 "    backend %s\n"
		 "    pool u %d\n"
		 "    pool v 1\n"
		 "    rule to 198.51.100.1, 2001:db8::1 pool u\n"
		 "    default pool v\n"
		 "}\n",
		 PORT, backend, a, b, UDP_PORT, backend, u);
}

/*
 * Pools grow and shrink on reload. A shrinking pool's worker finishes the
 * connection it holds (established connections survive), then goes; a
 * growing pool gets workers for its new sockets. A UDP socket that closes
 * leaves the kernel's group although its worker held it: the datagrams of
 * the pool after it (which the kernel renumbers) reach their pool right
 * after the reload, although the workers take a second to stop
 * (--linger): the supervisor stops a UDP socket's workers before the
 * socket is closed.
 */
static void reload_pools(const char *backend)
{
	char conf[2048], out[4096], why[300], line[256];
	struct ru_rules web, dns;
	struct ru_answer a;
	struct ru_sup s;
	const char *const cmd[] = { ru_worker, "-v", "--linger", "1", NULL };
	int held = -1, i, rc, st;

	setup(backend);
	pools_conf(conf, sizeof(conf), backend, 1, 2, 2);
	ru_write("p.conf", "%s", conf);
	ru_start(&s, "p", "p.conf", NULL, cmd);
	ru_ready(&s);
	ASSERT(ru_wait_children(s.pid, 6, 3000), "not 6 workers");

	/* a connection on b[1], the socket the shrink closes */
	for (i = 0; i < 64 && held < 0; i++) {
		int fd = ru_tcp_open(i % 2 ? "198.51.100.10" : "203.0.113.1",
				     "198.51.100.2", PORT, &a, why, sizeof(why),
				     3000, NULL);

		ASSERT(fd >= 0, "%s", why);
		if (!strcmp(a.pool, "b") && a.index == 1)
			held = fd;
		else
			close(fd);
	}
	ASSERT(held >= 0, "no connection landed on b[1]");

	pools_conf(conf, sizeof(conf), backend, 1, 1, 1);
	ru_write("p.conf", "%s", conf);
	rc = ru_reload(&s, out, sizeof(out));
	CHECK(rc == 0 &&
		      strstr(out, "service web: 2 sockets (0 new, 1 closed)") &&
		      strstr(out, "service dns: 2 sockets (0 new, 1 closed)"),
	      "shrink: exit %d: %s", rc, out);
	/* right away, while the web worker of b[1] still lingers */
	ru_rules(&dns, conf, "dns");
	check_udp_flows(&dns, 2);
	sksteer_config__free(dns.cfg);
	/* the established connection is still served */
	ASSERT(send(held, "ping\n", 5, MSG_NOSIGNAL) == 5, "send: %s",
	       strerror(errno));
	rc = ru_readline(held, line, sizeof(line), 3000);
	CHECK(rc > 0 && !strncmp(line, "ok web b 1 ", 11) &&
		      strstr(line, " ping"),
	      "the connection held on b[1] after the shrink: '%s'",
	      rc > 0 ? line : "nothing");
	close(held);
	CHECK(ru_wait_children(s.pid, 4, 3000),
	      "the workers of the closed sockets did not go");
	ru_rules(&web, conf, "web");
	ru_rules(&dns, conf, "dns");
	check_tcp_flows(&web, 1);
	check_udp_flows(&dns, 2);
	sksteer_config__free(web.cfg);
	sksteer_config__free(dns.cfg);

	/* grow: new sockets get workers, and their share of the traffic */
	pools_conf(conf, sizeof(conf), backend, 3, 1, 3);
	ru_write("p.conf", "%s", conf);
	rc = ru_reload(&s, out, sizeof(out));
	CHECK(rc == 0 &&
		      strstr(out, "service web: 4 sockets (2 new, 0 closed)") &&
		      strstr(out, "service dns: 4 sockets (2 new, 0 closed)"),
	      "grow: exit %d: %s", rc, out);
	CHECK(ru_wait_children(s.pid, 8, 3000),
	      "no workers for the new sockets");
	ru_rules(&web, conf, "web");
	ru_rules(&dns, conf, "dns");
	check_tcp_flows(&web, 2);
	check_udp_flows(&dns, 2);
	sksteer_config__free(web.cfg);
	sksteer_config__free(dns.cfg);
	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st), "exit status %#x",
	      st);
	if (tl_failed())
		ru_dump_log(&s);
}

BACKEND_TESTS(run_reload_pools, reload_pools)

/*
 * --workers per-service on reload: a new set of sockets gets a new worker
 * (started before the old one is stopped); unchanged rules keep it.
 */
TEST(run_reload_per_service)
{
	const char *const args[] = { "--workers", "per-service", NULL };
	char conf[2048], out[4096];
	pid_t kids[RU_MAXW], before, after = 0;
	struct ru_rules web;
	struct ru_sup s;
	int rc, n, i;

	setup("cbpf");
	pools_conf(conf, sizeof(conf), "cbpf", 1, 1, 1);
	ru_write("p.conf", "%s", conf);
	ru_start(&s, "p", "p.conf", args, NULL);
	ru_ready(&s);
	ASSERT(ru_wait_children(s.pid, 2, 3000), "not 2 workers");
	n = ru_children(s.pid, kids, RU_MAXW);
	before = !strcmp(ru_env(kids[0], "SKSTEER_SERVICE"), "web") ? kids[0] :
								      kids[1];
	/* the same sockets: the same worker */
	rc = ru_reload(&s, out, sizeof(out));
	CHECK(rc == 0, "reload: %s", out);
	CHECK(ru_alive(before) && ru_children(s.pid, kids, RU_MAXW) == 2,
	      "an unchanged service's worker was replaced");
	pools_conf(conf, sizeof(conf), "cbpf", 2, 1, 1);
	ru_write("p.conf", "%s", conf);
	rc = ru_reload(&s, out, sizeof(out));
	CHECK(rc == 0 &&
		      strstr(out, "service web: 3 sockets (1 new, 0 closed)"),
	      "grow: %s", out);
	ASSERT(ru_wait_children(s.pid, 2, 5000), "the old worker did not go");
	n = ru_children(s.pid, kids, RU_MAXW);
	for (i = 0; i < n; i++)
		if (!strcmp(ru_env(kids[i], "SKSTEER_SERVICE"), "web"))
			after = kids[i];
	CHECK(after && after != before, "no new web worker");
	CHECK(!strcmp(ru_env(after, "LISTEN_FDNAMES"), "a:a:b") &&
		      !strcmp(ru_env(after, "SKSTEER_INDEXES"), "0:1:0"),
	      "new worker: LISTEN_FDNAMES=%s SKSTEER_INDEXES=%s",
	      ru_env(after, "LISTEN_FDNAMES"),
	      ru_env(after, "SKSTEER_INDEXES"));
	ru_rules(&web, conf, "web");
	check_tcp_flows(&web, 1);
	sksteer_config__free(web.cfg);
	rc = ru_stop(&s, SIGTERM, 5000);
	CHECK(rc >= 0 && WIFEXITED(rc) && !WEXITSTATUS(rc), "exit status %#x",
	      rc);
	if (tl_failed())
		ru_dump_log(&s);
}

/* Services come and go with the configuration. */
TEST(run_reload_services)
{
	char both[2048], out[4096];
	struct ru_rules dns;
	struct ru_sup s;
	int rc;

	setup("cbpf");
	ru_write("x.conf", "%s", conf_web);
	ru_start(&s, "x", "x.conf", NULL, NULL);
	ru_ready(&s);
	ASSERT(ru_wait_children(s.pid, 4, 3000), "not 4 workers");
	snprintf(both, sizeof(both), "%s%s", conf_web, conf_dns);
	ru_write("x.conf", "%s", both);
	rc = ru_reload(&s, out, sizeof(out));
	CHECK(rc == 0 && strstr(out, "service dns: new, 3 sockets"), "add: %s",
	      out);
	CHECK(ru_wait_children(s.pid, 7, 3000), "no workers for dns");
	ru_rules(&dns, conf_dns, NULL);
	check_udp_flows(&dns, 1);
	sksteer_config__free(dns.cfg);
	ru_write("x.conf", "%s", conf_web);
	rc = ru_reload(&s, out, sizeof(out));
	CHECK(rc == 0 && strstr(out, "service dns: removed"), "remove: %s",
	      out);
	CHECK(ru_wait_children(s.pid, 4, 3000), "the dns workers did not go");
	CHECK(port_free(SOCK_DGRAM, UDP_PORT), "the dns port is still taken");
	rc = ru_stop(&s, SIGTERM, 5000);
	CHECK(rc >= 0 && WIFEXITED(rc) && !WEXITSTATUS(rc), "exit status %#x",
	      rc);
	if (tl_failed())
		ru_dump_log(&s);
}

/*
 * --user: the workers run as nobody, with nogroup and no supplementary
 * group, no capability, and serve all the same; the supervisor stays
 * root (it needs it for BPF, marks and reloads).
 */
TEST(run_user)
{
	const char *const args[] = { "--user", "nobody", NULL };
	const char *const badu[] = { "--user", "no-such-user-here", NULL };
	struct ru_rules r;
	pid_t kids[RU_MAXW];
	struct ru_sup s, s2;
	int n, i, st;

	setup("cbpf");
	ru_write("web.conf", "%s", conf_web);
	ru_rules(&r, conf_web, NULL);
	ru_start(&s, "web", "web.conf", args, NULL);
	ru_ready(&s);
	ASSERT(ru_wait_children(s.pid, 4, 3000), "not 4 workers");
	n = ru_children(s.pid, kids, RU_MAXW);
	for (i = 0; i < n; i++) {
		pid_t w = kids[i];

		CHECK(!strcmp(ru_status(w, "Uid"),
			      "65534\t65534\t65534\t65534"),
		      "worker %d Uid: %s", w, ru_status(w, "Uid"));
		CHECK(!strcmp(ru_status(w, "Gid"),
			      "65534\t65534\t65534\t65534"),
		      "worker %d Gid: %s", w, ru_status(w, "Gid"));
		CHECK(!strcmp(ru_status(w, "Groups"), ""),
		      "worker %d Groups: %s", w, ru_status(w, "Groups"));
		CHECK(!strcmp(ru_status(w, "CapEff"), "0000000000000000") &&
			      !strcmp(ru_status(w, "CapPrm"),
				      "0000000000000000"),
		      "worker %d CapEff %s CapPrm %s", w,
		      ru_status(w, "CapEff"), ru_status(w, "CapPrm"));
		CHECK(!strcmp(ru_env(w, "USER"), "nobody"), "USER=%s",
		      ru_env(w, "USER"));
	}
	CHECK(!strncmp(ru_status(s.pid, "Uid"), "0\t", 2),
	      "the supervisor runs as %s", ru_status(s.pid, "Uid"));
	check_tcp_flows(&r, 1);
	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st), "exit status %#x",
	      st);
	if (tl_failed())
		ru_dump_log(&s);

	ru_start(&s2, "web2", "web.conf", badu, NULL);
	st = ru_wait_exit(&s2, 3000);
	{
		char *log = ru_slurp(s2.log);

		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
			      strstr(log, "no-such-user-here: no such user"),
		      "--user with an unknown user: status %#x: %s", st, log);
		free(log);
	}
	sksteer_config__free(r.cfg);
}

/*
 * Signals and exit status: SIGINT reaches every worker and the supervisor
 * exits 0 once they are gone; a worker that ignores SIGTERM is killed
 * after --stop-timeout and the exit status says 1. A start that fails
 * (unknown command, bad configuration, a name or port in use, a worker
 * that cannot exec) exits 1, leaving nothing behind.
 */
TEST(run_signals)
{
	const char *const stubborn[] = {
		"/bin/sh", "-c",
		"trap '' TERM INT; echo stubborn-ready >&2; "
		"while :; do sleep 0.1; done",
		NULL
	};
	const char *const missing[] = { "/nonexistent/worker", NULL };
	const char *const fast_stop[] = { "--stop-timeout", "0.3", NULL };
	const char *const other_name[] = { "--name", "other", NULL };
	char path[400], out[2048], *log;
	pid_t kids[RU_MAXW];
	struct ru_sup s, s2;
	int st, n, i;
	int64_t t0;

	setup("cbpf");
	ru_write("web.conf", "%s", conf_web);

	/* SIGINT: forwarded to each worker, which stops cleanly */
	ru_start(&s, "web", "web.conf", NULL, NULL);
	ru_ready(&s);
	ASSERT(ru_wait_children(s.pid, 4, 3000), "not 4 workers");
	/* a worker names its sockets after it has set its signal handlers */
	ASSERT(ru_wait_log(&s, ", index ", 4, 3000), "not 4 workers ready");
	n = ru_children(s.pid, kids, RU_MAXW);
	st = ru_stop(&s, SIGINT, 5000);
	CHECK(st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st),
	      "exit status %#x after SIGINT", st);
	log = ru_slurp(s.log);
	CHECK(ru_count(log, ": stopping, ") == 4 &&
		      strstr(log, "SIGINT: stopping 4 workers"),
	      "not every worker got the signal: %s", log);
	free(log);
	for (i = 0; i < n; i++)
		CHECK(!ru_alive(kids[i]), "worker %d still runs", kids[i]);

	/* a worker that ignores SIGTERM: SIGKILL, and status 1 */
	ru_start(&s, "web", "web.conf", fast_stop, stubborn);
	ru_ready(&s);
	ASSERT(ru_wait_children(s.pid, 4, 3000), "not 4 workers");
	/* the workers ignore SIGTERM only once their trap is set */
	ASSERT(ru_wait_log(&s, "stubborn-ready", 4, 3000),
	       "not 4 workers ready");
	n = ru_children(s.pid, kids, RU_MAXW);
	t0 = ru_ms();
	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
	      "exit status %#x when workers had to be killed", st);
	CHECK(ru_ms() - t0 >= 300 && ru_ms() - t0 < 3000 * tl_slow(),
	      "stopped after %lld ms with --stop-timeout 0.3",
	      (long long)(ru_ms() - t0));
	log = ru_slurp(s.log);
	CHECK(strstr(log, "SIGKILL"), "no SIGKILL in the log: %s", log);
	free(log);
	for (i = 0; i < n; i++)
		CHECK(!ru_alive(kids[i]), "worker %d still runs", kids[i]);

	/* the command cannot be executed: nothing is left */
	ru_start(&s, "web", "web.conf", NULL, missing);
	st = ru_wait_exit(&s, 3000);
	log = ru_slurp(s.log);
	CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
		      strstr(log, "/nonexistent/worker: No such file or "
				  "directory"),
	      "unknown command: status %#x: %s", st, log);
	free(log);
	CHECK(port_free(SOCK_STREAM, PORT), "the port is still taken");
	snprintf(path, sizeof(path), "%s/web.sock", ru_dir);
	CHECK(access(path, F_OK), "%s is left", path);
	snprintf(path, sizeof(path), "%s/web.pid", ru_dir);
	CHECK(access(path, F_OK), "%s is left", path);

	/* a bad configuration */
	ru_write("bad.conf",
		 "service web {\n    listen tcp 0.0.0.0:80\n"
		 "    pool a 1\n    rule to 198.51.100.1/24 pool a\n"
		 "}\n");
	ru_start(&s, "web", "bad.conf", NULL, NULL);
	st = ru_wait_exit(&s, 3000);
	log = ru_slurp(s.log);
	CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
		      strstr(log, "bad.conf:4:"),
	      "bad configuration: status %#x: %s", st, log);
	free(log);

	/* the same name twice; another name on the same port */
	ru_start(&s, "web", "web.conf", NULL, NULL);
	ru_ready(&s);
	ru_start(&s2, "web", "web.conf", NULL, NULL);
	st = ru_wait_exit(&s2, 3000);
	log = ru_slurp(s2.log);
	CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
		      strstr(log, "already running"),
	      "a second 'web': status %#x: %s", st, log);
	free(log);
	ru_start(&s2, "other", "web.conf", other_name, NULL);
	st = ru_wait_exit(&s2, 3000);
	log = ru_slurp(s2.log);
	CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
		      strstr(log, "already listens there"),
	      "another supervisor on the same port: status %#x: %s", st, log);
	free(log);
	CHECK(ru_children(s.pid, kids, RU_MAXW) == 4,
	      "the running supervisor was disturbed");
	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st), "exit status %#x",
	      st);

	/* sksteer reload without a supervisor */
	{
		const char *const args[] = { "reload", "--runtime-dir", ru_dir,
					     "web", NULL };

		st = ru_sksteer(out, sizeof(out), args);
		CHECK(st == 1 && strstr(out, "no supervisor 'web' is running"),
		      "reload with nothing running: %d: %s", st, out);
	}
	if (tl_failed())
		ru_dump_log(&s);
}

/* The worker of a supervisor that dies (SIGKILL) goes too. */
TEST(run_supervisor_killed)
{
	pid_t kids[RU_MAXW];
	struct ru_sup s;
	int n, i;

	setup("cbpf");
	ru_write("web.conf", "%s", conf_web);
	ru_start(&s, "web", "web.conf", NULL, NULL);
	ru_ready(&s);
	ASSERT(ru_wait_children(s.pid, 4, 3000), "not 4 workers");
	n = ru_children(s.pid, kids, RU_MAXW);
	kill(s.pid, SIGKILL);
	waitpid(s.pid, NULL, 0);
	s.pid = 0;
	for (i = 0; i < n; i++) {
		int64_t end = ru_ms() + 3000 * tl_slow();

		while (ru_alive(kids[i]) && ru_ms() < end)
			ru_sleep_ms(20);
		CHECK(!ru_alive(kids[i]), "worker %d outlived its supervisor",
		      kids[i]);
	}
	/* and a new supervisor can take over */
	ru_start(&s, "web", "web.conf", NULL, NULL);
	ru_ready(&s);
	CHECK(ru_stop(&s, SIGTERM, 5000) == 0, "the new supervisor");
}

/*
 * The Python worker of sksteer(8) is examples/worker.py, and it works:
 * the man page's text, unescaped, is the file (without its first lines
 * of comments), and under sksteer run it answers for the right pools.
 */
static char *man_python(void)
{
	char path[700], *man, *b, *e, *out, *o;

	snprintf(path, sizeof(path), "%s/docs/sksteer.8", ru_root);
	man = ru_slurp(path);
	b = strstr(man, ".\\\" python-worker-begin\n");
	e = b ? strstr(b, ".\\\" python-worker-end\n") : NULL;
	if (!b || !e) {
		free(man);
		return NULL;
	}
	b = strchr(b, '\n') + 1;
	out = o = calloc(1, (size_t)(e - b) + 1);
	ASSERT(out, "out of memory");
	/* only the roff escapes the example uses; .nf/.fi lines go */
	while (b < e) {
		char *nl = memchr(b, '\n', (size_t)(e - b));
		size_t len = (size_t)(nl - b) + 1;

		if (!strncmp(b, ".nf\n", 4) || !strncmp(b, ".fi\n", 4) ||
		    !strncmp(b, ".RS", 3) || !strncmp(b, ".RE", 3)) {
			b += len;
			continue;
		}
		for (; b <= nl; b++) {
			if (b[0] == '\\' && b[1] == '-') {
				*o++ = '-';
				b++;
			} else if (b[0] == '\\' && b[1] == 'e') {
				*o++ = '\\';
				b++;
			} else if (b[0] == '\\' && b[1] == '&') {
				b++;
			} else {
				*o++ = *b;
			}
		}
	}
	free(man);
	return out;
}

TEST(run_python_worker)
{
	const char *const cmd[] = { "/usr/bin/python3", NULL, NULL };
	char path[700], script[400], *doc, *file, *body;
	struct ru_rules rw, rd;
	struct ru_sup s;
	int st;

	setup("cbpf");
	doc = man_python();
	ASSERT(doc, "docs/sksteer.8 has no python-worker-begin/end block");
	snprintf(path, sizeof(path), "%s/examples/worker.py", ru_root);
	file = ru_slurp(path);
	/* the file's first lines of comments are not in the man page */
	body = file;
	while (*body == '#')
		body = strchr(body, '\n') + 1;
	CHECK(!strcmp(doc, body),
	      "the Python worker in docs/sksteer.8 differs from "
	      "examples/worker.py");
	if (access(cmd[0], X_OK))
		SKIP("no %s (scripts/install-deps test installs it)", cmd[0]);
	snprintf(script, sizeof(script), "%s/worker.py", ru_dir);
	ru_write("worker.py", "%s", doc);
	((const char **)cmd)[1] = script;
	ru_write("both.conf", "%s%s", conf_web, conf_dns);
	ru_rules(&rw, conf_web, NULL);
	ru_rules(&rd, conf_dns, NULL);
	ru_start(&s, "py", "both.conf", NULL, cmd);
	ru_ready(&s);
	check_tcp_flows(&rw, 1);
	check_udp_flows(&rd, 1);
	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st), "exit status %#x",
	      st);
	free(doc);
	free(file);
	sksteer_config__free(rw.cfg);
	sksteer_config__free(rd.cfg);
	if (tl_failed())
		ru_dump_log(&s);
}

/* The configurations in examples/ are valid. */
TEST(run_example_configs)
{
	char out[8192], path[700];
	const char *const names[] = { "web.conf", "dns.conf" };
	size_t i;

	ru_init();
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		const char *args[] = { "check", path, NULL };

		snprintf(path, sizeof(path), "%s/examples/%s", ru_root,
			 names[i]);
		CHECK(ru_sksteer(out, sizeof(out), args) == 0, "%s: %s",
		      names[i], out);
	}
}

/*
 * A worker that keeps failing at once is restarted with a growing delay:
 * 0.1 s, doubling, up to 5 s, and never given up; the exit status is
 * logged. SIGTERM while it waits to be restarted stops cleanly.
 */
TEST(run_restart_backoff)
{
	const char *const cmd[] = { "/bin/sh", "-c", "exit 3", NULL };
	const char *want[] = {
		"0.1", "0.2", "0.4", "0.8", "1.6", "3.2", "5.0"
	};
	char *log, *p;
	struct ru_sup s;
	size_t i;
	int st;

	setup("cbpf");
	ru_write("one.conf",
		 "service one {\n    listen tcp 0.0.0.0:%d\n"
		 "    backend cbpf\n    pool a 1\n}\n",
		 PORT);
	ru_start(&s, "one", "one.conf", NULL, cmd);
	ru_ready(&s);
	/* 0.1 + 0.2 + ... + 3.2 s: the seventh exit comes after 6.3 s */
	CHECK(ru_wait_log(&s, "restarting it in", 7, 9000),
	      "fewer than 7 restarts in 9 s");
	log = ru_slurp(s.log);
	p = log;
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		char got[16] = "";

		p = strstr(p, "exited with status 3 after ");
		if (!p)
			break;
		p = strstr(p, "restarting it in ");
		if (!p || sscanf(p, "restarting it in %15s", got) != 1)
			break;
		CHECK(!strcmp(got, want[i]), "restart %zu after %s s, want %s",
		      i + 1, got, want[i]);
		p++;
	}
	CHECK(i == ARRAY_SIZE(want), "%zu restarts logged: %s", i, log);
	free(log);
	st = ru_stop(&s, SIGTERM, 3000);
	CHECK(st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st), "exit status %#x",
	      st);
	if (tl_failed())
		ru_dump_log(&s);
}

/* The classic BPF backend needs no privilege: neither does run. */
TEST(run_unprivileged)
{
	char dir[400], conf[300], out[2048];
	const char *args[8];
	struct ru_rules r;
	struct ru_sup s;
	int st, n = 0;

	setup("cbpf");
	snprintf(dir, sizeof(dir), "%s/nobody", ru_dir);
	ASSERT(!mkdir(dir, 0777) && !chmod(dir, 0777), "mkdir %s", dir);
	ru_write("web.conf", "%s", conf_web);
	snprintf(conf, sizeof(conf), "%s/web.conf", ru_dir);
	chmod(conf, 0644);
	/* the supervisor's log goes there */
	chmod(ru_dir, 0777);
	ASSERT(!setresgid(65534, 65534, 65534) &&
		       !setresuid(65534, 65534, 65534),
	       "becoming nobody: %s", strerror(errno));
	if (access(ru_sk, X_OK) || access(ru_worker, X_OK))
		SKIP("nobody cannot execute %s", ru_sk);
	args[n++] = "--runtime-dir";
	args[n++] = dir;
	args[n] = NULL;
	ru_rules(&r, conf_web, NULL);
	ru_start(&s, "web", "web.conf", args, NULL);
	ru_ready(&s);
	CHECK(!strncmp(ru_status(s.pid, "Uid"), "65534\t", 6),
	      "the supervisor runs as %s", ru_status(s.pid, "Uid"));
	check_tcp_flows(&r, 1);
	{
		const char *const rl[] = { "reload", "--runtime-dir", dir,
					   "web", NULL };

		st = ru_sksteer(out, sizeof(out), rl);
		CHECK(st == 0, "reload as nobody: %d: %s", st, out);
	}
	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st == 0, "exit status %#x", st);
	sksteer_config__free(r.cfg);
	if (tl_failed())
		ru_dump_log(&s);
}

/* The only child of @pid, or 0. */
static pid_t only_child(pid_t pid)
{
	pid_t kids[RU_MAXW];

	return ru_children(pid, kids, RU_MAXW) == 1 ? kids[0] : 0;
}

/* Wait until @pid is gone (or a zombie). */
static bool wait_dead(pid_t pid, int timeout_ms)
{
	int64_t end = ru_ms() + timeout_ms;

	while (ru_alive(pid)) {
		if (ru_ms() > end)
			return false;
		ru_sleep_ms(20);
	}
	return true;
}

/*
 * What a worker started lives in its process group. When the worker
 * crashes, the group gets SIGTERM before the worker starts again (a
 * child that ignores it gets SIGKILL after --stop-timeout), so nothing
 * of the old worker holds its sockets; at the stop the new worker's
 * group goes the same way, and nothing is left to kill: exit status 0.
 */
TEST(run_worker_leftovers)
{
	const char *const cmd[] = { "/bin/sh", "-c", "sleep 1000 & wait",
				    NULL };
	const char *const stubborn[] = {
		"/bin/sh", "-c", "(trap '' TERM; exec sleep 1000) & wait", NULL
	};
	const char *const fast_stop[] = { "--stop-timeout", "0.5", NULL };
	pid_t sh, sleeper, sh2 = 0, sleeper2 = 0;
	struct ru_sup s;
	int64_t t0, end;
	char *log;
	int st;

	setup("cbpf");
	ru_write("one.conf",
		 "service one {\n    listen tcp 0.0.0.0:%d\n"
		 "    backend cbpf\n    pool a 1\n}\n",
		 PORT);
	ru_start(&s, "one", "one.conf", NULL, cmd);
	ru_ready(&s);
	ASSERT(ru_wait_children(s.pid, 1, 3000), "no worker");
	sh = only_child(s.pid);
	end = ru_ms() + 3000 * tl_slow();
	while (!(sleeper = only_child(sh)) && ru_ms() < end)
		ru_sleep_ms(20);
	ASSERT(sh && sleeper, "no sleep under the worker %d", sh);
	CHECK(getpgid(sleeper) == sh, "sleep is in group %d, not %d",
	      getpgid(sleeper), sh);

	/* the crash: only the leader dies */
	kill(sh, SIGKILL);
	CHECK(wait_dead(sleeper, 3000),
	      "the crashed worker's child %d outlived it", sleeper);
	end = ru_ms() + 3000 * tl_slow();
	while (ru_ms() < end) {
		sh2 = only_child(s.pid);
		sleeper2 = sh2 && sh2 != sh && sh2 != sleeper ?
				   only_child(sh2) :
				   0;
		if (sleeper2)
			break;
		ru_sleep_ms(20);
	}
	CHECK(sleeper2, "no new worker with its child");
	log = ru_slurp(s.log);
	CHECK(strstr(log, "still has processes: SIGTERM"),
	      "the leftover's SIGTERM is not logged: %s", log);
	free(log);

	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st),
	      "exit status %#x after a crash with a child left", st);
	CHECK(!sh2 || !ru_alive(sh2), "worker %d still runs", sh2);
	CHECK(!sleeper2 || !ru_alive(sleeper2), "its child %d still runs",
	      sleeper2);
	log = ru_slurp(s.log);
	CHECK(!strstr(log, "leftover"), "leftovers were killed: %s", log);
	free(log);
	if (tl_failed())
		ru_dump_log(&s);

	/* a child that ignores SIGTERM: SIGKILL after the timeout, and
	 * only then the new worker */
	ru_start(&s, "one", "one.conf", fast_stop, stubborn);
	ru_ready(&s);
	ASSERT(ru_wait_children(s.pid, 1, 3000), "no worker");
	sh = only_child(s.pid);
	end = ru_ms() + 3000 * tl_slow();
	while (!(sleeper = only_child(sh)) && ru_ms() < end)
		ru_sleep_ms(20);
	ASSERT(sh && sleeper, "no sleep under the worker %d", sh);
	/* the trap runs in the subshell before it execs sleep */
	while (strcmp(ru_status(sleeper, "Name"), "sleep") && ru_ms() < end)
		ru_sleep_ms(20);
	t0 = ru_ms();
	kill(sh, SIGKILL);
	CHECK(wait_dead(sleeper, 3000),
	      "the crashed worker's stubborn child %d was not killed", sleeper);
	CHECK(ru_ms() - t0 >= 400,
	      "the child went after %lld ms, before "
	      "--stop-timeout",
	      (long long)(ru_ms() - t0));
	CHECK(ru_wait_log(&s, "SIGKILL", 1, 1000), "no SIGKILL logged");
	end = ru_ms() + 3000 * tl_slow();
	while ((!(sh2 = only_child(s.pid)) || sh2 == sh || sh2 == sleeper) &&
	       ru_ms() < end)
		ru_sleep_ms(20);
	CHECK(sh2 && sh2 != sh && sh2 != sleeper, "no new worker");
	st = ru_stop(&s, SIGTERM, 5000);
	/* it had to kill: status 1 */
	CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
	      "exit status %#x after a SIGKILL", st);
	if (tl_failed())
		ru_dump_log(&s);
}

/*
 * Once a worker's process group is empty the supervisor forgets its id:
 * the kernel may give the number to another process, which may lead a
 * group of its own. Here the supervisor is process 1 of a PID namespace
 * of its own, a worker keeps exiting at once, and while the supervisor
 * waits to restart it a process outside the supervisor's care gets the
 * exited worker's pid and leads a group of that id. A SIGTERM to the
 * supervisor must not reach it.
 */
TEST(run_pgid_reuse)
{
	const char *const crash[] = { "/bin/sh", "-c", "exit 3", NULL };
	char conf[400], log[400], marker[400], pidf[400], cmd[2048];
	const char *argv[32];
	char *text, *p;
	int n = 0, fd, st, wpid = 0;
	pid_t un, sup = 0, helper;
	int64_t end;

	setup("cbpf");
	if (access("/usr/bin/unshare", X_OK) ||
	    access("/usr/bin/nsenter", X_OK))
		SKIP("no unshare or nsenter (util-linux)");
	ru_write("one.conf",
		 "service one {\n    listen tcp 0.0.0.0:%d\n"
		 "    backend cbpf\n    pool a 1\n}\n",
		 PORT);
	snprintf(conf, sizeof(conf), "%s/one.conf", ru_dir);
	snprintf(log, sizeof(log), "%s/pidns.log", ru_dir);
	snprintf(marker, sizeof(marker), "%s/marker", ru_dir);
	snprintf(pidf, sizeof(pidf), "%s/innocent.pid", ru_dir);
	argv[n++] = "/usr/bin/unshare";
	argv[n++] = "--pid";
	argv[n++] = "--fork";
	argv[n++] = "--mount-proc";
	argv[n++] = ru_sk;
	argv[n++] = "run";
	argv[n++] = "--name";
	argv[n++] = "one";
	argv[n++] = "--runtime-dir";
	argv[n++] = ru_dir;
	argv[n++] = conf;
	argv[n++] = "--";
	for (int i = 0; crash[i]; i++)
		argv[n++] = crash[i];
	argv[n] = NULL;
	fflush(stdout);
	fflush(stderr);
	un = fork();
	ASSERT(un >= 0, "fork");
	if (un == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		close_range(3, ~0U, 0);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	end = ru_ms() + 5000 * tl_slow();
	while (!(sup = only_child(un)) && ru_ms() < end)
		ru_sleep_ms(20);
	ASSERT(sup, "unshare started nothing");

	/* the exit after which the restart waits 3.2 s: the worker's pid */
	end = ru_ms() + 9000 * tl_slow();
	for (;;) {
		text = ru_slurp(log);
		p = strstr(text, "restarting it in 3.2 s");
		if (p) {
			while (p > text && p[-1] != '\n')
				p--;
			p = strstr(p, "(pid ");
			wpid = p ? atoi(p + 5) : 0;
		}
		free(text);
		if (wpid || ru_ms() > end)
			break;
		ru_sleep_ms(10);
	}
	ASSERT(wpid > 1, "no worker exit with a 3.2 s backoff logged");

	/* inside the namespace: the next pid is the worker's, and it leads
	 * a group of its own that says when it gets SIGTERM */
	snprintf(cmd, sizeof(cmd),
		 "echo %d > /proc/sys/kernel/ns_last_pid; "
		 "setsid /bin/sh -c 'echo $$ > %s; "
		 "trap \"echo TERM > %s; exit 0\" TERM; "
		 "while :; do sleep 0.05; done' & wait",
		 wpid - 1, pidf, marker);
	helper = fork();
	ASSERT(helper >= 0, "fork");
	if (helper == 0) {
		char target[32];

		snprintf(target, sizeof(target), "%d", sup);
		close_range(3, ~0U, 0);
		execl("/usr/bin/nsenter", "nsenter", "-t", target, "-p", "-m",
		      "/bin/sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	end = ru_ms() + 2000 * tl_slow();
	text = NULL;
	while (ru_ms() < end) {
		free(text);
		text = ru_slurp(pidf);
		if (*text && strchr(text, '\n'))
			break;
		ru_sleep_ms(10);
	}
	if (!text || atoi(text) != wpid) {
		kill(sup, SIGKILL);
		waitpid(un, NULL, 0);
		kill(helper, SIGKILL);
		waitpid(helper, NULL, 0);
		SKIP("pid %d was not reused (got '%s'): another process in the "
		     "namespace forked first",
		     wpid, text ? text : "");
	}
	free(text);

	kill(sup, SIGTERM);
	end = ru_ms() + 5000 * tl_slow();
	while (waitpid(un, &st, WNOHANG) != un) {
		if (ru_ms() > end) {
			kill(sup, SIGKILL);
			waitpid(un, &st, 0);
			CHECK(0, "the supervisor did not stop");
			break;
		}
		ru_sleep_ms(10);
	}
	CHECK(WIFEXITED(st) && !WEXITSTATUS(st), "exit status %#x", st);
	text = ru_slurp(marker);
	CHECK(!*text,
	      "the process that reused the exited worker's pid %d got "
	      "SIGTERM from the supervisor",
	      wpid);
	free(text);
	/* the namespace ended with its process 1 */
	waitpid(helper, NULL, 0);
	if (tl_failed()) {
		text = ru_slurp(log);
		fprintf(stderr, "---- %s ----\n%s----\n", log, text);
		free(text);
	}
}

/*
 * --user NUMBER without a passwd entry: that uid, the same number as the
 * group, HOME=/ and no USER, LOGNAME or SHELL.
 */
TEST(run_user_number)
{
	const char *const args[] = { "--user", "4242", NULL };
	pid_t kids[RU_MAXW];
	struct ru_rules r;
	struct ru_sup s;
	int n, i, st;

	setup("cbpf");
	if (getpwuid(4242))
		SKIP("uid 4242 has a passwd entry here");
	ru_write("web.conf", "%s", conf_web);
	ru_rules(&r, conf_web, NULL);
	ru_start(&s, "web", "web.conf", args, NULL);
	ru_ready(&s);
	ASSERT(ru_wait_children(s.pid, 4, 3000), "not 4 workers");
	n = ru_children(s.pid, kids, RU_MAXW);
	for (i = 0; i < n; i++) {
		pid_t w = kids[i];

		CHECK(!strcmp(ru_status(w, "Uid"), "4242\t4242\t4242\t4242"),
		      "worker %d Uid: %s", w, ru_status(w, "Uid"));
		CHECK(!strcmp(ru_status(w, "Gid"), "4242\t4242\t4242\t4242"),
		      "worker %d Gid: %s", w, ru_status(w, "Gid"));
		CHECK(!strcmp(ru_status(w, "Groups"), ""),
		      "worker %d Groups: %s", w, ru_status(w, "Groups"));
		CHECK(!strcmp(ru_env(w, "HOME"), "/"), "HOME=%s",
		      ru_env(w, "HOME"));
		CHECK(!*ru_env(w, "USER") && !*ru_env(w, "LOGNAME") &&
			      !*ru_env(w, "SHELL"),
		      "USER=%s LOGNAME=%s SHELL=%s", ru_env(w, "USER"),
		      ru_env(w, "LOGNAME"), ru_env(w, "SHELL"));
	}
	check_tcp_flows(&r, 1);
	st = ru_stop(&s, SIGTERM, 5000);
	CHECK(st == 0, "exit status %#x", st);
	sksteer_config__free(r.cfg);
	if (tl_failed())
		ru_dump_log(&s);
}

/*
 * Two supervisors of one name, never: a supervisor that exits unlinks
 * its pid file and then unlocks it; one starting in between may hold the
 * old file open and lock it, while a third has created and locked the
 * new one. A shim (LD_PRELOAD) plays that race at the first flock() of a
 * pid file: the file is replaced by a new one, locked by "another
 * supervisor". The one starting must see that its lock is on a file the
 * path no longer names, try again, and find the new one locked.
 */
TEST(run_pidfile_race)
{
	static const char shim[] =
		"#define _GNU_SOURCE\n"
		"#include <dlfcn.h>\n#include <fcntl.h>\n#include <stdio.h>\n"
		"#include <string.h>\n#include <sys/file.h>\n"
		"#include <unistd.h>\n"
		"int flock(int fd, int op)\n{\n"
		"	static int (*real)(int, int);\n	static int done;\n"
		"	char link[64], path[4096];\n	ssize_t n;\n"
		"	if (!real)\n"
		"		real = (int (*)(int, int))dlsym(RTLD_NEXT, \"flock\");\n"
		"	snprintf(link, sizeof(link), \"/proc/self/fd/%d\", fd);\n"
		"	n = readlink(link, path, sizeof(path) - 1);\n"
		"	if (!done && n > 4) {\n"
		"		path[n] = 0;\n"
		"		if (!strcmp(path + n - 4, \".pid\")) {\n"
		"			int nfd;\n"
		"			done = 1;\n"
		"			unlink(path);\n"
		"			nfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);\n"
		"			real(nfd, LOCK_EX);\n"
		"			dprintf(nfd, \"4242\\n\");\n"
		"		}\n"
		"	}\n"
		"	return real(fd, op);\n}\n";
	char so[400], src[400], *log;
	struct ru_sup s;
	int st;

	setup("cbpf");
	if (access("/usr/bin/cc", X_OK))
		SKIP("no C compiler for the LD_PRELOAD shim");
	ru_write("shim.c", "%s", shim);
	snprintf(src, sizeof(src), "%s/shim.c", ru_dir);
	snprintf(so, sizeof(so), "%s/shim.so", ru_dir);
	tl_sh("/usr/bin/cc -shared -fPIC -o '%s' '%s' -ldl", so, src);
	ru_write("web.conf", "%s", conf_web);
	setenv("LD_PRELOAD", so, 1);
	ru_start(&s, "web", "web.conf", NULL, NULL);
	unsetenv("LD_PRELOAD");
	st = ru_wait_exit(&s, 3000);
	log = ru_slurp(s.log);
	CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
		      strstr(log, "already running (pid 4242"),
	      "a supervisor locked a pid file that was replaced: status %#x: "
	      "%s",
	      st, log);
	free(log);
	if (st < 0)
		ru_stop(&s, SIGKILL, 1000);
}
