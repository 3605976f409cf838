// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * updbench: rule updates of a running group.
 *
 * 1. Load time: a UDP group steered by a set of N source prefixes read
 *    from a file; the set is replaced by another N-prefix file, back and
 *    forth: parsing the new configuration, and sksteer_group__update()
 *    (tables built, program loaded and swapped in), each timed.
 * 2. Live swaps under load: 1,000 sksteer_group__update() calls, a
 *    short pause after each, cycling through three configurations that
 *    send the same clients to different pools, while 254 clients send
 *    datagrams in a closed loop (nothing overflows a queue, so a missing
 *    datagram is a loss). Each datagram carries the number of updates
 *    completed when it was sent; see check() for what it may be steered
 *    by. With three configurations the stale one and every other pool
 *    are caught as misrouted.
 * Everything runs in a private network namespace on lo (gone when the
 * process exits).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define NCLI	254
#define NPOOLS	6
#define BATCH	32
#define WINDOW	512
#define MAX_RUN 64

static struct {
	size_t prefixes, swap_prefixes;
	int loads, swaps, snd_cpu, rcv_cpu;
	long gap_us;
	const char *backends, *csv, *md;
	uint64_t seed;
} opt = {
	.prefixes = 100000,
	.swap_prefixes = 1000,
	.loads = 7,
	.swaps = 1000,
	.gap_us = 2000,
	.snd_cpu = 0,
	.rcv_cpu = 1,
	.backends = "ebpf,cbpf",
	.seed = 1,
};

/* the private namespace has nothing else listening */
static const uint16_t srv_port = 31337;
static char tmpdir[256];
static FILE *md;

static void write_prefixes(const char *path, size_t n, uint64_t seed)
{
	size_t nmust;
	const struct sk_prefix *must = bc_client_prefixes(&nmust);
	struct sk_prefix *p = bc_gen_prefixes(AF_INET, n, seed, must, nmust);
	struct bc_buf b = {};
	FILE *f;

	bc_printf(&b, "# %zu prefixes, seed %llu (bench/updbench)\n", n,
		  (unsigned long long)seed);
	bc_prefix_list(&b, p, n, "\n");
	bc_printf(&b, "\n");
	f = fopen(path, "w");
	if (!f || fwrite(b.s, 1, b.len, f) != b.len || fclose(f))
		bc_die("writing %s: %s", path, strerror(errno));
	free(b.s);
	free(p);
}

/* @variant 0..2: where the set's clients and the others go */
static void write_conf(const char *path, const char *prefix_file,
		       const char *backend, int variant)
{
	static const char *const in[] = { "src", "d1", "rest" };
	static const char *const out[] = { "rest", "src", "d1" };
	FILE *f = fopen(path, "w");

	if (!f)
		bc_die("writing %s: %s", path, strerror(errno));
	fprintf(f,
		"service upd {\n  listen udp 0.0.0.0:0\n  backend %s\n"
		"  pool d1 1\n  pool d2 1\n  pool d3 1\n  pool d4 1\n"
		"  pool src 1\n  pool rest 1\n"
		"  set src file \"%s\"\n"
		"  rule to 198.51.100.1 pool d1\n  rule to 198.51.100.2 pool d2\n"
		"  rule to 198.51.100.3 pool d3\n  rule to 198.51.100.4 pool d4\n"
		"  rule from @src pool %s\n  default pool %s\n}\n",
		backend, prefix_file, in[variant], out[variant]);
	if (fclose(f))
		bc_die("writing %s: %s", path, strerror(errno));
}

static struct sksteer_config *parse_file(const char *path, uint16_t port)
{
	SKSTEER_OPTS(sksteer_parse_opts, po, .port_override = port,
		     .has_port_override = port != 0);
	struct sksteer_config *cfg = sksteer_config__parse_file(path, &po);

	if (!cfg)
		bc_die("parsing %s: %s", path, strerror(errno));
	return cfg;
}

static struct sksteer_group *create(const struct sksteer_service *svc,
				    const char *backend)
{
	SKSTEER_OPTS(sksteer_group_opts, o,
		     .backend = strcmp(backend, "cbpf") ? SKSTEER_BACKEND_EBPF :
							  SKSTEER_BACKEND_CBPF);
	struct sksteer_group *g = sksteer_group__create(svc, &o);

	if (!g)
		bc_die("creating the %s group: %s", backend, strerror(errno));
	return g;
}

static void csv_row(const char *backend, const char *what, size_t n,
		    const char *stat, double v)
{
	FILE *f;
	bool fresh;

	if (!opt.csv)
		return;
	fresh = access(opt.csv, F_OK) != 0;
	f = fopen(opt.csv, "a");
	if (!f)
		bc_die("writing %s: %s", opt.csv, strerror(errno));
	if (fresh)
		fprintf(f, "backend,measure,prefixes,stat,value\n");
	fprintf(f, "%s,%s,%zu,%s,%.3f\n", backend, what, n, stat, v);
	fclose(f);
}

/* ---- 1: load time ---- */

static void load_time(const char *backend)
{
	char pa[512], pb[512], ca[512], cb[512];
	double parse[MAX_RUN], upd[MAX_RUN], total[MAX_RUN];
	struct sksteer_config *cur, *next;
	struct sksteer_group *g;
	struct bc_stat sp, su, st;
	int i;

	if (!strcmp(backend, "cbpf")) {
		fprintf(md,
			"| %s | %zu | does not fit (classic BPF: 4096 "
			"instructions) | | |\n",
			backend, opt.prefixes);
		return;
	}
	snprintf(pa, sizeof(pa), "%s/a.txt", tmpdir);
	snprintf(pb, sizeof(pb), "%s/b.txt", tmpdir);
	snprintf(ca, sizeof(ca), "%s/a.conf", tmpdir);
	snprintf(cb, sizeof(cb), "%s/b.conf", tmpdir);
	write_prefixes(pa, opt.prefixes, opt.seed);
	write_prefixes(pb, opt.prefixes, opt.seed + 1);
	write_conf(ca, pa, backend, 0);
	write_conf(cb, pb, backend, 0);
	cur = parse_file(ca, srv_port);
	g = create(sksteer_config__service(cur, 0), backend);
	for (i = 0; i < opt.loads; i++) {
		uint64_t t0 = bc_now_ns(), t1, t2;
		int err;

		next = parse_file(i % 2 ? ca : cb, srv_port);
		t1 = bc_now_ns();
		err = sksteer_group__update(g,
					    sksteer_config__service(next, 0));
		t2 = bc_now_ns();
		if (err)
			bc_die("update %d: %s", i, strerror(-err));
		sksteer_config__free(cur);
		cur = next;
		parse[i] = (double)(t1 - t0) / 1e6;
		upd[i] = (double)(t2 - t1) / 1e6;
		total[i] = (double)(t2 - t0) / 1e6;
	}
	sksteer_group__free(g);
	sksteer_config__free(cur);
	sp = bc_stat(parse, (size_t)opt.loads);
	su = bc_stat(upd, (size_t)opt.loads);
	st = bc_stat(total, (size_t)opt.loads);
	fprintf(md,
		"| %s | %zu | %.0f (%.0f–%.0f) | %.0f (%.0f–%.0f) | %.0f "
		"(%.0f–%.0f) |\n",
		backend, opt.prefixes, su.med, su.min, su.max, sp.med, sp.min,
		sp.max, st.med, st.min, st.max);
	csv_row(backend, "update_ms", opt.prefixes, "median", su.med);
	csv_row(backend, "update_ms", opt.prefixes, "min", su.min);
	csv_row(backend, "update_ms", opt.prefixes, "max", su.max);
	csv_row(backend, "parse_ms", opt.prefixes, "median", sp.med);
	csv_row(backend, "total_ms", opt.prefixes, "median", st.med);
	unlink(pa);
	unlink(pb);
	unlink(ca);
	unlink(cb);
}

/* ---- 2: swaps under load ---- */

struct payload {
	uint32_t gen; /* updates completed when it was sent */
	uint16_t cli;
	uint16_t pad;
	uint8_t fill[24];
};

static atomic_uint gen;
static atomic_bool stop, quit;
static _Atomic uint64_t n_sent, n_recv, n_bad, n_loose;
static int cli_fd[NCLI];
static int srv_fd[NPOOLS];
static int8_t expect[3][NCLI];

static void *sender(void *arg)
{
	static struct payload pay[BATCH];
	static struct iovec iov[BATCH];
	static struct mmsghdr msg[BATCH];
	struct sockaddr_in dst;
	int c = 0, j;

	(void)arg;
	bc_pin(opt.snd_cpu);
	bc_sin4(&dst, 0xc6336405u, srv_port); /* 198.51.100.5: no "to" rule */
	for (j = 0; j < BATCH; j++) {
		memset(&pay[j], 0x5a, sizeof(pay[j]));
		iov[j].iov_base = &pay[j];
		iov[j].iov_len = sizeof(pay[j]);
		msg[j].msg_hdr.msg_name = &dst;
		msg[j].msg_hdr.msg_namelen = sizeof(dst);
		msg[j].msg_hdr.msg_iov = &iov[j];
		msg[j].msg_hdr.msg_iovlen = 1;
	}
	while (!atomic_load(&stop)) {
		unsigned int g = atomic_load(&gen);
		int r;

		if (atomic_load(&n_sent) - atomic_load(&n_recv) >
		    WINDOW - BATCH) {
			bc_nap_us(20);
			continue;
		}
		for (j = 0; j < BATCH; j++) {
			pay[j].gen = g;
			pay[j].cli = (uint16_t)c;
		}
		r = sendmmsg(cli_fd[c], msg, BATCH, 0);
		if (r > 0)
			atomic_fetch_add(&n_sent, (uint64_t)r);
		if (++c == NCLI)
			c = 0;
	}
	return NULL;
}

/*
 * A datagram stamped g0 by the sender and read while gr updates had
 * completed was steered after update g0 returned and before update gr + 1
 * returned: by configuration g0 .. gr + 1. When gr == g0 that is two of
 * the three configurations and the third (the stale one, or any other
 * pool) is caught. When the datagram waited across a whole update (the
 * softirq deferred to ksoftirqd on a busy CPU), every configuration is
 * possible and it is counted apart as not checkable.
 */
static void check(unsigned int g0, unsigned int gr, unsigned int c, int pool)
{
	if (c >= NCLI || gr < g0) {
		atomic_fetch_add(&n_bad, 1);
		return;
	}
	if (gr > g0) {
		atomic_fetch_add(&n_loose, 1);
		return;
	}
	if (expect[g0 % 3][c] != pool && expect[(g0 + 1) % 3][c] != pool)
		atomic_fetch_add(&n_bad, 1);
}

static void *receiver(void *arg)
{
	static struct payload buf[64];
	static struct iovec iov[64];
	static struct mmsghdr m[64];
	int i, n, k;

	(void)arg;
	bc_pin(opt.rcv_cpu);
	while (!atomic_load(&quit)) {
		for (k = 0; k < NPOOLS; k++) {
			unsigned int gr;

			for (i = 0; i < 64; i++) {
				iov[i].iov_base = &buf[i];
				iov[i].iov_len = sizeof(buf[i]);
				m[i].msg_hdr.msg_iov = &iov[i];
				m[i].msg_hdr.msg_iovlen = 1;
			}
			n = recvmmsg(srv_fd[k], m, 64, MSG_DONTWAIT, NULL);
			gr = atomic_load(&gen);
			for (i = 0; i < n; i++)
				check(buf[i].gen, gr, buf[i].cli, k);
			if (n > 0)
				atomic_fetch_add(&n_recv, (uint64_t)n);
		}
	}
	return NULL;
}

static int pool_of(const struct sksteer_service *svc, int c)
{
	SKSTEER_OPTS(sksteer_flow, flow, .family = AF_INET, .sport = 40000,
		     .dport = srv_port);
	SKSTEER_OPTS(sksteer_verdict, v);
	uint32_t s = htonl(bc_client_addr(c)), t = htonl(0xc6336405u);

	memcpy(&flow.src, &s, 4);
	memcpy(&flow.dst, &t, 4);
	if (sksteer_service__explain(svc, NULL, &flow, &v) ||
	    v.kind != SKSTEER_TARGET_POOL)
		bc_die("reference: no pool for client %d", c);
	return (int)sksteer_pool__first(v.pool);
}

static int swaps(const char *backend)
{
	struct sksteer_config *cfg[3];
	struct sksteer_group *g;
	char pf[512], cf[512];
	double *ms;
	pthread_t st, rt;
	uint64_t t0, t1, deadline, lost;
	struct bc_stat s;
	int i, k;

	ms = calloc((size_t)opt.swaps, sizeof(*ms));
	if (!ms)
		bc_die("out of memory");
	snprintf(pf, sizeof(pf), "%s/swap.txt", tmpdir);
	write_prefixes(pf, opt.swap_prefixes, opt.seed + 7);
	for (k = 0; k < 3; k++) {
		snprintf(cf, sizeof(cf), "%s/swap%d.conf", tmpdir, k);
		write_conf(cf, pf, backend, k);
		cfg[k] = parse_file(cf, srv_port);
		unlink(cf);
		for (i = 0; i < NCLI; i++)
			expect[k][i] = (int8_t)pool_of(
				sksteer_config__service(cfg[k], 0), i);
	}
	unlink(pf);
	g = create(sksteer_config__service(cfg[0], 0), backend);
	for (i = 0; i < NPOOLS; i++) {
		SKSTEER_OPTS(sksteer_socket_info, info);
		int bufsz = 8 << 20;

		if (sksteer_group__socket(g, (unsigned int)i, &info))
			bc_die("group socket %d", i);
		srv_fd[i] = info.fd;
		setsockopt(info.fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz,
			   sizeof(bufsz));
	}
	atomic_store(&gen, 0);
	atomic_store(&stop, false);
	atomic_store(&quit, false);
	atomic_store(&n_sent, 0);
	atomic_store(&n_recv, 0);
	atomic_store(&n_bad, 0);
	atomic_store(&n_loose, 0);
	if (pthread_create(&rt, NULL, receiver, NULL) ||
	    pthread_create(&st, NULL, sender, NULL))
		bc_die("pthread_create failed");
	bc_nap_us(50000); /* traffic flowing */
	t0 = bc_now_ns();
	for (i = 1; i <= opt.swaps; i++) {
		uint64_t a = bc_now_ns();
		int err = sksteer_group__update(
			g, sksteer_config__service(cfg[i % 3], 0));

		if (err)
			bc_die("swap %d: %s", i, strerror(-err));
		ms[i - 1] = (double)(bc_now_ns() - a) / 1e6;
		atomic_store(&gen, (unsigned int)i);
		/* let the new rules steer some traffic before the next */
		if (opt.gap_us)
			bc_nap_us(opt.gap_us);
	}
	t1 = bc_now_ns();
	atomic_store(&stop, true);
	pthread_join(st, NULL);
	deadline = bc_now_ns() + 1000000000ull;
	while (atomic_load(&n_recv) < atomic_load(&n_sent) &&
	       bc_now_ns() < deadline)
		bc_nap_us(1000);
	atomic_store(&quit, true);
	pthread_join(rt, NULL);
	lost = atomic_load(&n_sent) - atomic_load(&n_recv);
	s = bc_stat(ms, (size_t)opt.swaps);
	fprintf(md,
		"| %s | %zu | %d in %.1f s | %.1f (%.1f–%.1f) | %llu | %llu | "
		"%llu | %llu |\n",
		backend, opt.swap_prefixes, opt.swaps, (double)(t1 - t0) / 1e9,
		s.med, s.min, s.max, (unsigned long long)atomic_load(&n_sent),
		(unsigned long long)atomic_load(&n_loose),
		(unsigned long long)lost,
		(unsigned long long)atomic_load(&n_bad));
	csv_row(backend, "swap_ms", opt.swap_prefixes, "median", s.med);
	csv_row(backend, "swap_datagrams", opt.swap_prefixes, "total",
		(double)atomic_load(&n_sent));
	csv_row(backend, "swap_lost", opt.swap_prefixes, "total", (double)lost);
	csv_row(backend, "swap_misrouted", opt.swap_prefixes, "total",
		(double)atomic_load(&n_bad));
	sksteer_group__free(g);
	for (k = 0; k < 3; k++)
		sksteer_config__free(cfg[k]);
	free(ms);
	if (lost || atomic_load(&n_bad)) {
		fprintf(stderr,
			"FAIL updbench %s: %llu lost, %llu misrouted during "
			"%d swaps\n",
			backend, (unsigned long long)lost,
			(unsigned long long)atomic_load(&n_bad), opt.swaps);
		return 1;
	}
	return 0;
}

static void setup_net(void)
{
	uint8_t a[4] = { 198, 51, 100, 0 };
	int i, err;

	bc_private_netns();
	for (i = 1; i <= 5; i++) {
		a[3] = (uint8_t)i;
		err = bc_addr_add("lo", AF_INET, a, 32);
		if (err)
			bc_die("adding an address to lo: %s", strerror(-err));
	}
	for (i = 0; i < NCLI; i++) {
		uint32_t c = htonl(bc_client_addr(i));
		struct sockaddr_in s;
		int fd, bufsz = 4 << 20;

		err = bc_addr_add("lo", AF_INET, &c, 32);
		if (err)
			bc_die("adding an address to lo: %s", strerror(-err));
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		bc_sin4(&s, bc_client_addr(i), 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&s, sizeof(s)))
			bc_die("client socket: %s", strerror(errno));
		/* room for the whole window: sendmmsg() never waits for
		 * the receiver (it would stretch a batch over swaps) */
		setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz,
			   sizeof(bufsz));
		cli_fd[i] = fd;
	}
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: updbench [options]\n"
		"  --prefixes N       prefixes loaded into a running group "
		"(default 100000)\n"
		"  --loads N          loads timed (default 7)\n"
		"  --swaps N          live swaps under load (default 1000)\n"
		"  --swap-prefixes N  prefixes in the swapped set (default "
		"1000)\n"
		"  --gap-us N         pause after each swap (default 2000)\n"
		"  --backends LIST    ebpf,cbpf (default both)\n"
		"  --cpus SND,RCV     CPUs of the sender and the receiver "
		"(default 0,1)\n"
		"  --csv FILE         append results\n"
		"  --md FILE          write the tables (markdown)\n");
	exit(status);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "prefixes", required_argument, NULL, 'p' },
		{ "loads", required_argument, NULL, 'l' },
		{ "swaps", required_argument, NULL, 's' },
		{ "swap-prefixes", required_argument, NULL, 'P' },
		{ "gap-us", required_argument, NULL, 'g' },
		{ "backends", required_argument, NULL, 'b' },
		{ "cpus", required_argument, NULL, 'C' },
		{ "csv", required_argument, NULL, 'o' },
		{ "md", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	char *list, *tok, *save = NULL;
	int ch, fail = 0;

	bc_prog_name = "updbench";
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'p':
			opt.prefixes = (size_t)bc_num(optarg, "--prefixes", 8,
						      2000000);
			break;
		case 'l':
			opt.loads = (int)bc_num(optarg, "--loads", 1, MAX_RUN);
			break;
		case 's':
			opt.swaps = (int)bc_num(optarg, "--swaps", 1, 1000000);
			break;
		case 'P':
			opt.swap_prefixes = (size_t)bc_num(
				optarg, "--swap-prefixes", 8, 2000000);
			break;
		case 'g':
			opt.gap_us = bc_num(optarg, "--gap-us", 0, 1000000);
			break;
		case 'b':
			opt.backends = optarg;
			break;
		case 'C':
			bc_cpu_pair(optarg, "--cpus", &opt.snd_cpu,
				    &opt.rcv_cpu);
			break;
		case 'o':
			opt.csv = optarg;
			break;
		case 'm':
			opt.md = optarg;
			break;
		case 'h':
			usage(0);
			break;
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	bc_quiet_lib();
	md = opt.md ? fopen(opt.md, "w") : stdout;
	if (!md)
		bc_die("writing %s: %s", opt.md, strerror(errno));
	/* $TMPDIR: bench/run.sh keeps it under bench/out/ */
	if (snprintf(tmpdir, sizeof(tmpdir), "%s/sksteer-updbench-XXXXXX",
		     getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") >=
	    (int)sizeof(tmpdir))
		bc_die("$TMPDIR is too long");
	if (!mkdtemp(tmpdir))
		bc_die("mkdtemp %s: %s", tmpdir, strerror(errno));
	setup_net();
	bc_pin(opt.rcv_cpu);

	fprintf(md, "| backend | prefixes | sksteer_group__update ms, median "
		    "(min–max) | parsing the new file, ms | total ms |\n"
		    "|---|---|---|---|---|\n");
	list = strdup(opt.backends);
	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		load_time(tok);
	free(list);
	fprintf(md, "\n| backend | prefixes | swaps | ms per swap, median "
		    "(min–max) | datagrams sent meanwhile | of which not "
		    "checkable | lost | wrong pool |\n"
		    "|---|---|---|---|---|---|---|---|\n");
	list = strdup(opt.backends);
	save = NULL;
	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		fail |= swaps(tok);
	free(list);
	fprintf(md, "\n");
	if (md != stdout)
		fclose(md);
	rmdir(tmpdir);
	return fail;
}
