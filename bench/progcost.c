// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * progcost: what the eBPF steering program costs per packet, measured by
 * the kernel (kernel.bpf_stats_enabled: run_time_ns / run_cnt of each
 * program), against the empty program and the floor (read the IP header,
 * select a fixed socket) in the same run; against a straightforward
 * LPM-trie program doing the same job (bpf/lpm.bpf.c), also in the same
 * run; and, at each scale, the classic BPF program's length and
 * instructions executed per packet from the interpreter (src/interp.c,
 * the kernel's semantics).
 *
 * Contenders per family: the empty program, the floor, and at each scale
 * N (4 `to` rules + a set of N source prefixes, 4 / 1,000 / 100,000 by
 * default) sksteer's program and the LPM trie program. The LPM contender
 * holds the same rules: the 4 destinations in a hash map, the same N
 * prefixes (same seed) in a BPF_MAP_TYPE_LPM_TRIE of the family, the same
 * pools in the same order (one socket each, a REUSEPORT_SOCKARRAY, the
 * flow hash of sksteer's program for pools of several), the default pool
 * in rodata. It gets the same datagrams as sksteer's contender of its
 * scale (the same source and destination addresses and source ports in
 * the same order; only the group's port and the tag in the payload
 * differ) and is checked the same way: each datagram read back must be in
 * the pool the reference matcher picks. It keeps no counters and has none
 * of sksteer's other features, so it is a lower bound for such a design.
 * Besides the differences to the floor and the empty program, each
 * sksteer contender's difference to the LPM contender of its scale is
 * taken within each pass (the "minus LPM trie" column).
 *
 * Method. Everything runs in a private network namespace (gone when the
 * process exits) on one pinned CPU. Each contender is a reuseport group on
 * its own port. UDP datagrams are sent with a raw socket to addresses on
 * lo, with source addresses drawn from the whole public unicast space, so
 * that the lookups touch the tables the way a real client mix does
 * (nothing can leave: the namespace has only lo). On loopback the receive
 * path, and so the program, runs in the sender's own system call. A round
 * is several passes; in a pass every contender, in a shuffled order, gets
 * a chunk of datagrams and its run_time_ns / run_cnt delta over the chunk
 * is one sample. Per round: the median over passes of each contender's
 * samples and of its difference to the floor and to the empty program
 * taken within the same pass. Reported: median, min and max over rounds.
 * Every datagram is read back and checked against the reference matcher:
 * one in the wrong pool fails the run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "../bpf/baseline.skel.h"
#include "../bpf/lpm.skel.h"

#define PKT_MAX	  128
#define BATCH	  64
#define MAX_CONT  16
#define MAX_PASS  1000
#define MAX_ROUND 1000
#define NPOOLS	  6 /* d1..d4, src, rest */

enum { C_EMPTY, C_FLOOR, C_SKSTEER, C_LPM };

struct contender {
	int kind;
	size_t prefixes;
	char label[32];
	int prog_fd;
	int fds[NPOOLS];
	int sock_pool[NPOOLS];
	int nfds;
	uint16_t port;
	/* traffic */
	uint8_t (*pkt)[PKT_MAX];
	struct iovec *iov;
	struct sockaddr_storage *dst;
	struct mmsghdr *msg;
	int *expect; /* pool per packet, -1: any */
	size_t npkts, cursor;
	/* the eBPF steering group; the LPM contender borrows the svc of
	 * the sksteer contender of its scale (the reference matcher) */
	struct sksteer_config *cfg;
	const struct sksteer_service *svc;
	struct bc_egroup eg;
	/* the LPM trie contender */
	struct lpm_bpf *lpm;
	/* rule tables and the time to build and attach them */
	size_t table_bytes;
	double load_ms;
	/* sksteer: the LPM contender of the same scale, or -1 */
	int peer;
	/* results */
	double sample[MAX_PASS], dfloor[MAX_PASS], dempty[MAX_PASS],
		dpeer[MAX_PASS];
	double round_ns[MAX_ROUND], round_floor[MAX_ROUND],
		round_empty[MAX_ROUND], round_peer[MAX_ROUND];
	uint64_t sent, runs, received, misrouted;
};

/* Past this estimate the compiler is not even tried: it would fail with
 * E2BIG anyway, after seconds for 100,000 IPv6 prefixes. */
#define CBPF_TRY_MAX (8 * SKSTEER_CBPF_MAX_INSNS)

struct cbpf_row {
	size_t prefixes;
	size_t estimate;
	bool fits;
	size_t insns;
	double mean;
	unsigned int worst;
	size_t wrong;
};

static struct {
	int family;
	size_t scales[8];
	int nscales;
	int rounds, passes, chunk, npkts, cpu;
	unsigned int to_share; /* 1 in N packets to a rule destination */
	uint64_t seed;
	const char *csv, *cbpf_csv, *md;
	bool verbose;
} opt = {
	.scales = { 4, 1000, 100000 },
	.nscales = 3,
	.rounds = 9,
	.passes = 15,
	.chunk = 2048,
	.npkts = 16384,
	.cpu = -1,
	.to_share = 16,
	.seed = 1,
};

static struct contender cont[MAX_CONT];
static int ncont;
static int raw_fd = -1;

/* the four rule destinations and a fifth that no "to" rule names */
static sk_u128 dest_addr(int family, int i)
{
	if (family == AF_INET)
		return (sk_u128)(0xc6336400u |
				 (uint32_t)(i + 1)); /* 198.51.100.x */
	return (sk_u128)0x20010db8u << 96 | (sk_u128)(i + 1);
}

static void fmt_addr(int family, sk_u128 a, char *buf, size_t sz)
{
	if (family == AF_INET)
		sk_addr4_fmt((uint32_t)a, buf, sz);
	else
		sk_addr6_fmt(a, buf, sz);
}

static void add_dest_addrs(int family)
{
	int i, err;

	for (i = 0; i < 5; i++) {
		uint8_t b[16];
		sk_u128 a = dest_addr(family, i);
		int j, n = family == AF_INET ? 4 : 16;

		for (j = n - 1; j >= 0; j--, a >>= 8)
			b[j] = (uint8_t)a;
		err = bc_addr_add("lo", family, b,
				  family == AF_INET ? 32 : 128);
		if (err && err != -EEXIST)
			bc_die("adding an address to lo: %s", strerror(-err));
	}
}

static char *service_text(int family, const struct sk_prefix *p, size_t n)
{
	struct bc_buf b = {};
	char a[64];
	int i;

	bc_printf(&b, "service pc {\n  listen udp %s\n  backend ebpf\n",
		  family == AF_INET ? "0.0.0.0:0" : "[::]:0 v6only");
	bc_printf(&b, "  pool d1 1\n  pool d2 1\n  pool d3 1\n  pool d4 1\n"
		      "  pool src 1\n  pool rest 1\n  set src {\n    ");
	bc_prefix_list(&b, p, n, "\n    ");
	bc_printf(&b, "\n  }\n");
	for (i = 0; i < 4; i++) {
		fmt_addr(family, dest_addr(family, i), a, sizeof(a));
		bc_printf(&b, "  rule to %s pool d%d\n", a, i + 1);
	}
	bc_printf(&b, "  rule from @src pool src\n  default pool rest\n}\n");
	return b.s;
}

static void set_dst(struct sockaddr_storage *ss, int family, sk_u128 a)
{
	int j;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;

		s->sin_family = AF_INET;
		s->sin_addr.s_addr = htonl((uint32_t)a);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;

		s->sin6_family = AF_INET6;
		for (j = 15; j >= 0; j--, a >>= 8)
			s->sin6_addr.s6_addr[j] = (uint8_t)a;
	}
}

/*
 * The traffic of a scale: 1 in opt.to_share packets to one of the rule
 * destinations, the rest to the fifth address so that the source set
 * decides; half the sources inside a random prefix of the set, half
 * anywhere.
 */
static void make_traffic(struct contender *c, int family,
			 const struct sk_prefix *p, size_t n, uint64_t seed)
{
	struct bc_rng r = { seed ^ 0x5eed };
	size_t i;
	int ci = (int)(c - cont);

	c->npkts = (size_t)opt.npkts;
	c->pkt = calloc(c->npkts, sizeof(*c->pkt));
	c->iov = calloc(c->npkts, sizeof(*c->iov));
	c->dst = calloc(c->npkts, sizeof(*c->dst));
	c->msg = calloc(c->npkts, sizeof(*c->msg));
	c->expect = calloc(c->npkts, sizeof(*c->expect));
	if (!c->pkt || !c->iov || !c->dst || !c->msg || !c->expect)
		bc_die("out of memory");
	for (i = 0; i < c->npkts; i++) {
		uint32_t pay[2] = { (uint32_t)ci, (uint32_t)i };
		sk_u128 src, dst;
		uint16_t sport = (uint16_t)(1024 + bc_below(&r, 64512));
		size_t len;

		if (bc_below(&r, opt.to_share) == 0)
			dst = dest_addr(family, (int)bc_below(&r, 4));
		else
			dst = dest_addr(family, 4);
		if (n && bc_below(&r, 2))
			src = bc_rand_in(&r, &p[bc_below(&r, n)]);
		else
			src = family == AF_INET ? bc_rand_addr4(&r) :
						  bc_rand_addr6(&r);
		len = bc_build_udp(c->pkt[i], family, src, dst, sport, c->port,
				   pay, sizeof(pay));
		set_dst(&c->dst[i], family, dst);
		c->iov[i].iov_base = c->pkt[i];
		c->iov[i].iov_len = len;
		c->msg[i].msg_hdr.msg_name = &c->dst[i];
		c->msg[i].msg_hdr.msg_namelen =
			family == AF_INET ? sizeof(struct sockaddr_in) :
					    sizeof(struct sockaddr_in6);
		c->msg[i].msg_hdr.msg_iov = &c->iov[i];
		c->msg[i].msg_hdr.msg_iovlen = 1;
		c->expect[i] = -1;
	}
}

/* expected pools (reference matcher) and, unless @row is NULL, the
 * classic BPF figures */
static void check_traffic(struct contender *c, int family, struct cbpf_row *row)
{
	struct sksteer_prog *prog;
	struct sk_layout lay;
	struct cbpf_row none = {};
	uint64_t steps = 0;
	size_t i;
	size_t ihl = family == AF_INET ? 20 : 40;
	bool want_cbpf = row != NULL;

	if (!row)
		row = &none;
	if (sk_layout_declared(c->svc, &lay))
		bc_die("out of memory");
	row->prefixes = c->prefixes;
	row->estimate = bc_cbpf_estimate(c->svc);
	prog = NULL;
	if (want_cbpf && row->estimate <= CBPF_TRY_MAX) {
		sksteer_print_fn_t old = sksteer_set_print(NULL);

		prog = sksteer_service__compile(c->svc, NULL);
		sksteer_set_print(old);
		if (!prog && errno != E2BIG)
			bc_die("compiling the classic BPF program: %s",
			       strerror(errno));
	}
	row->fits = prog != NULL;
	if (prog)
		row->insns = sksteer_prog__insn_cnt(prog);
	for (i = 0; i < c->npkts; i++) {
		struct sk_pkt pkt = {
			.buf = c->pkt[i],
			.len = c->iov[i].iov_len,
			.payload_off = ihl + 8,
		};
		struct sk_match m;
		struct sk_interp_result res;

		if (sk_match(c->svc, &lay, &pkt, &m) ||
		    m.target.kind != SKSTEER_TARGET_POOL)
			bc_die("reference matcher: no pool for packet %zu", i);
		c->expect[i] = m.target.pool;
		if (!prog)
			continue;
		if (sk_cbpf_run(prog->insns, prog->n, NULL, &pkt, &res))
			bc_die("interpreter failed");
		steps += res.steps;
		if (res.steps > row->worst)
			row->worst = res.steps;
		if (res.ret !=
		    sksteer_pool__first(&c->svc->pools[m.target.pool]))
			row->wrong++;
	}
	row->mean = prog ? (double)steps / (double)c->npkts : 0;
	sksteer_prog__free(prog);
	sk_layout_free(&lay);
}

static struct contender *add_contender(int kind, size_t prefixes)
{
	struct contender *c;

	if (ncont >= MAX_CONT)
		bc_die("too many contenders");
	c = &cont[ncont++];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->prefixes = prefixes;
	c->prog_fd = -1;
	c->peer = -1;
	if (kind == C_EMPTY)
		snprintf(c->label, sizeof(c->label), "empty");
	else if (kind == C_FLOOR)
		snprintf(c->label, sizeof(c->label), "floor");
	else if (kind == C_LPM)
		snprintf(c->label, sizeof(c->label), "lpm %zu", prefixes);
	else
		snprintf(c->label, sizeof(c->label), "sksteer %zu", prefixes);
	return c;
}

static void setup_baselines(int family, struct baseline_bpf **skelp)
{
	struct baseline_bpf *skel;
	struct contender *e, *f;
	uint8_t any[16] = {};
	uint64_t v;
	uint32_t key = 0;
	int err;

	skel = baseline_bpf__open();
	if (!skel)
		bc_die("opening the baseline programs: %s", strerror(errno));
	skel->rodata->floor_slot = 0;
	err = baseline_bpf__load(skel);
	if (err)
		bc_die("loading the baseline programs: %s", strerror(-err));
	*skelp = skel;

	e = add_contender(C_EMPTY, 0);
	f = add_contender(C_FLOOR, 0);
	e->nfds = f->nfds = 1;
	err = bc_reuseport_socks(family, SOCK_DGRAM, any, 1, &e->port, e->fds);
	if (!err)
		err = bc_reuseport_socks(family, SOCK_DGRAM, any, 1, &f->port,
					 f->fds);
	if (err)
		bc_die("baseline sockets: %s", strerror(-err));
	e->prog_fd = bpf_program__fd(skel->progs.baseline_empty);
	f->prog_fd = bpf_program__fd(skel->progs.baseline_floor);
	v = (uint64_t)f->fds[0];
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.socks), &key, &v,
				BPF_ANY))
		bc_die("floor sockarray: %s", strerror(errno));
	if (setsockopt(e->fds[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF,
		       &e->prog_fd, sizeof(int)) ||
	    setsockopt(f->fds[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF,
		       &f->prog_fd, sizeof(int)))
		bc_die("attaching a baseline program: %s", strerror(errno));
}

static void setup_sksteer(int family, size_t n, struct cbpf_row *row)
{
	struct contender *c = add_contender(C_SKSTEER, n);
	struct sk_prefix *p;
	char *text;
	size_t i;
	int err;

	p = bc_gen_prefixes(family, n, opt.seed, NULL, 0);
	text = service_text(family, p, n);
	c->cfg = bc_parse(text);
	free(text);
	c->svc = sksteer_config__service(c->cfg, 0);
	err = bc_egroup_create(c->svc, &c->eg);
	if (err)
		bc_die("eBPF group with %zu prefixes: %s", n, strerror(-err));
	c->prog_fd = c->eg.prog_fd;
	c->port = c->eg.port;
	c->nfds = (int)c->eg.nfds;
	c->table_bytes = c->eg.table_bytes;
	c->load_ms = c->eg.load_ms;
	if (c->nfds != NPOOLS)
		bc_die("expected %d sockets, the group has %d", NPOOLS,
		       c->nfds);
	for (i = 0; i < NPOOLS; i++) {
		int bufsz = 8 << 20;

		c->fds[i] = c->eg.fds[i];
		c->sock_pool[i] = (int)i; /* one socket per pool, in order */
		setsockopt(c->fds[i], SOL_SOCKET, SO_RCVBUFFORCE, &bufsz,
			   sizeof(bufsz));
	}
	make_traffic(c, family, p, n, opt.seed + n);
	check_traffic(c, family, row);
	free(p);
}

/* bytes the kernel charges for a map (fdinfo memlock: for an LPM trie,
 * its nodes) */
static size_t map_memlock(int fd)
{
	char path[64], line[128];
	size_t v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %zu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/*
 * The reference contender of scale @n (bpf/lpm.bpf.c): the same rules
 * (the same prefixes, the same pools in the same order: d1..d4, src,
 * rest) in an LPM trie and a hash of destinations, one socket per pool in
 * its own reuseport group, the same traffic as sksteer's contender @sk.
 */
static void setup_lpm(int family, size_t n, struct contender *sk)
{
	struct contender *c = add_contender(C_LPM, n);
	struct sk_prefix *p;
	struct lpm_bpf *skel;
	uint8_t any[16] = {};
	uint64_t t0 = bc_now_ns();
	uint32_t i, pool;
	int err, trie_fd, dst_fd, pools_fd, socks_fd;

	p = bc_gen_prefixes(family, n, opt.seed, NULL, 0);
	skel = lpm_bpf__open();
	if (!skel)
		bc_die("opening the LPM trie program: %s", strerror(errno));
	c->lpm = skel;
	skel->rodata->default_pool = NPOOLS - 1; /* rest */
	if (bpf_map__set_max_entries(family == AF_INET ? skel->maps.src4 :
							 skel->maps.src6,
				     (uint32_t)n) ||
	    bpf_map__set_max_entries(skel->maps.socks, NPOOLS))
		bc_die("sizing the LPM trie maps: %s", strerror(errno));
	err = lpm_bpf__load(skel);
	if (err)
		bc_die("loading the LPM trie program: %s", strerror(-err));
	c->prog_fd = bpf_program__fd(skel->progs.lpm_select);
	trie_fd = bpf_map__fd(family == AF_INET ? skel->maps.src4 :
						  skel->maps.src6);
	dst_fd = bpf_map__fd(family == AF_INET ? skel->maps.dst4 :
						 skel->maps.dst6);
	pools_fd = bpf_map__fd(skel->maps.pools);
	socks_fd = bpf_map__fd(skel->maps.socks);

	/* rule to D1..D4 pool d1..d4 */
	for (i = 0; i < 4; i++) {
		uint32_t k[4];
		sk_u128 a = dest_addr(family, (int)i);

		pool = i;
		if (family == AF_INET) {
			k[0] = htonl((uint32_t)a);
		} else {
			int j;

			for (j = 3; j >= 0; j--, a >>= 32)
				k[j] = htonl((uint32_t)a);
		}
		if (bpf_map_update_elem(dst_fd, k, &pool, BPF_ANY))
			bc_die("LPM contender, destination map: %s",
			       strerror(errno));
	}
	/* rule from @src pool src */
	pool = 4;
	for (i = 0; i < n; i++) {
		struct {
			uint32_t plen;
			uint32_t a[4];
		} k = { .plen = (uint32_t)p[i].len };
		sk_u128 a = p[i].addr;

		if (family == AF_INET) {
			k.a[0] = htonl((uint32_t)a);
		} else {
			int j;

			for (j = 3; j >= 0; j--, a >>= 32)
				k.a[j] = htonl((uint32_t)a);
		}
		if (bpf_map_update_elem(trie_fd, &k, &pool, BPF_ANY))
			bc_die("LPM trie, prefix %u of %zu: %s", i, n,
			       strerror(errno));
	}
	/* one socket per pool, in the order of the pools */
	for (i = 0; i < NPOOLS; i++) {
		struct {
			uint32_t first, n;
		} pl = { i, 1 };

		if (bpf_map_update_elem(pools_fd, &i, &pl, BPF_ANY))
			bc_die("LPM contender, pools: %s", strerror(errno));
	}
	c->nfds = NPOOLS;
	err = bc_reuseport_socks(family, SOCK_DGRAM, any, NPOOLS, &c->port,
				 c->fds);
	if (err)
		bc_die("LPM contender sockets: %s", strerror(-err));
	for (i = 0; i < NPOOLS; i++) {
		uint64_t v = (uint64_t)c->fds[i];

		c->sock_pool[i] = (int)i;
		if (bpf_map_update_elem(socks_fd, &i, &v, BPF_ANY))
			bc_die("LPM contender sockarray: %s", strerror(errno));
	}
	if (setsockopt(c->fds[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF,
		       &c->prog_fd, sizeof(int)))
		bc_die("attaching the LPM trie program: %s", strerror(errno));
	c->load_ms = (double)(bc_now_ns() - t0) / 1e6;
	c->table_bytes = map_memlock(trie_fd) + map_memlock(dst_fd) +
			 map_memlock(pools_fd);
	/* the same rules and traffic as sksteer's contender of this scale */
	c->svc = sk->svc;
	sk->peer = (int)(c - cont);
	make_traffic(c, family, p, n, opt.seed + n);
	check_traffic(c, family, NULL);
	free(p);
}

/* Read back everything a contender's sockets got; check the pools. */
static void drain(struct contender *c, uint64_t want)
{
	static uint8_t buf[BATCH][64];
	static struct iovec iov[BATCH];
	static struct mmsghdr m[BATCH];
	uint64_t t_end = bc_now_ns() + 200000000ull;
	int i, j, n;

	for (i = 0; i < BATCH; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = sizeof(buf[i]);
	}
	for (;;) {
		for (i = 0; i < c->nfds; i++) {
			for (;;) {
				for (j = 0; j < BATCH; j++) {
					m[j].msg_hdr.msg_iov = &iov[j];
					m[j].msg_hdr.msg_iovlen = 1;
				}
				n = recvmmsg(c->fds[i], m, BATCH, MSG_DONTWAIT,
					     NULL);
				if (n <= 0)
					break;
				for (j = 0; j < n; j++) {
					uint32_t pay[2];

					memcpy(pay, buf[j], sizeof(pay));
					c->received++;
					if (pay[0] != (uint32_t)(c - cont) ||
					    pay[1] >= c->npkts ||
					    (c->expect[pay[1]] >= 0 &&
					     c->expect[pay[1]] !=
						     c->sock_pool[i]))
						c->misrouted++;
				}
			}
		}
		if (c->received >= want || bc_now_ns() > t_end)
			return;
		poll(NULL, 0, 1);
	}
}

/* Send @n datagrams of @c; returns the run-time sample (ns per run). */
static double run_chunk(struct contender *c, int n)
{
	uint64_t ns0, cnt0, ns1, cnt1;
	int left = n;

	if (bc_prog_stats(c->prog_fd, &ns0, &cnt0))
		bc_die("reading program stats: %s", strerror(errno));
	while (left > 0) {
		size_t k = c->npkts - c->cursor;
		int r;

		if (k > BATCH)
			k = BATCH;
		if (k > (size_t)left)
			k = (size_t)left;
		r = sendmmsg(raw_fd, &c->msg[c->cursor], (unsigned int)k, 0);
		if (r <= 0)
			bc_die("sendmmsg: %s", strerror(errno));
		left -= r;
		c->cursor = (c->cursor + (size_t)r) % c->npkts;
	}
	if (bc_prog_stats(c->prog_fd, &ns1, &cnt1))
		bc_die("reading program stats: %s", strerror(errno));
	c->sent += (uint64_t)n;
	c->runs += cnt1 - cnt0;
	drain(c, c->sent);
	return cnt1 > cnt0 ? (double)(ns1 - ns0) / (double)(cnt1 - cnt0) : 0;
}

static void measure(void)
{
	struct bc_rng r = { opt.seed * 31 };
	int order[MAX_CONT], rd, ps, i;

	for (rd = -1; rd < opt.rounds; rd++) { /* round -1: warm-up */
		for (ps = 0; ps < opt.passes; ps++) {
			double s[MAX_CONT];

			for (i = 0; i < ncont; i++)
				order[i] = i;
			bc_shuffle(order, ncont, &r);
			for (i = 0; i < ncont; i++)
				s[order[i]] =
					run_chunk(&cont[order[i]], opt.chunk);
			for (i = 0; i < ncont; i++) {
				cont[i].sample[ps] = s[i];
				cont[i].dfloor[ps] = s[i] - s[C_FLOOR];
				cont[i].dempty[ps] = s[i] - s[C_EMPTY];
				cont[i].dpeer[ps] =
					cont[i].peer >= 0 ?
						s[i] - s[cont[i].peer] :
						0;
			}
		}
		if (rd < 0)
			continue;
		for (i = 0; i < ncont; i++) {
			struct contender *c = &cont[i];

			c->round_ns[rd] = bc_stat(c->sample, opt.passes).med;
			c->round_floor[rd] = bc_stat(c->dfloor, opt.passes).med;
			c->round_empty[rd] = bc_stat(c->dempty, opt.passes).med;
			c->round_peer[rd] = bc_stat(c->dpeer, opt.passes).med;
		}
		if (opt.verbose) {
			fprintf(stderr, "round %d:", rd);
			for (i = 0; i < ncont; i++)
				fprintf(stderr, " %s %.1f", cont[i].label,
					cont[i].round_ns[rd]);
			fputc('\n', stderr);
		}
	}
}

static void fmt_stat(char *buf, size_t sz, struct bc_stat s)
{
	snprintf(buf, sz, "%6.1f [%5.1f..%5.1f]", s.med, s.min, s.max);
}

static void fmt_mem(char *buf, size_t sz, size_t bytes)
{
	if (bytes >= 1048576)
		snprintf(buf, sz, "%.1f MiB", (double)bytes / 1048576.0);
	else
		snprintf(buf, sz, "%.0f KiB", (double)bytes / 1024.0);
}

/* "cheaper" / "dearer" from the within-pass differences sksteer - LPM */
static const char *verdict(struct bc_stat d)
{
	if (d.min < 0 && d.max > 0)
		return d.med < 0 ? "cheaper in the median, not in every round" :
				   "dearer in the median, not in every round";
	return d.med < 0 ? "**cheaper**" : "**dearer**";
}

static void write_md(int family, const struct cbpf_row *rows, int nrows)
{
	FILE *f = fopen(opt.md, "a");
	int v = family == AF_INET ? 4 : 6, i;

	if (!f)
		bc_die("writing %s: %s", opt.md, strerror(errno));
	fprintf(f,
		"| IPv%d eBPF | ns per run, median (min–max) | above the "
		"floor | above the empty program | map memory | load ms |\n"
		"|---|---|---|---|---|---|\n",
		v);
	for (i = 0; i < ncont; i++) {
		const struct contender *c = &cont[i];
		struct bc_stat s = bc_stat(c->round_ns, opt.rounds);
		struct bc_stat fl = bc_stat(c->round_floor, opt.rounds);
		struct bc_stat e = bc_stat(c->round_empty, opt.rounds);
		char name[96], a[64] = "–", b[64] = "–", mem[32] = "–",
			       lm[32] = "–";
		bool steers = c->kind == C_SKSTEER || c->kind == C_LPM;

		if (c->kind == C_SKSTEER)
			snprintf(name, sizeof(name),
				 "sksteer, 4 `to` rules + %zu source prefixes",
				 c->prefixes);
		else if (c->kind == C_LPM)
			snprintf(name, sizeof(name),
				 "LPM trie, 4 `to` rules + %zu source prefixes",
				 c->prefixes);
		else
			snprintf(name, sizeof(name), "%s program", c->label);
		if (steers) {
			fmt_mem(mem, sizeof(mem), c->table_bytes);
			snprintf(lm, sizeof(lm), "%.0f", c->load_ms);
			snprintf(a, sizeof(a), "%+.1f (%+.1f – %+.1f)", fl.med,
				 fl.min, fl.max);
		}
		if (c->kind != C_EMPTY)
			snprintf(b, sizeof(b), "%+.1f (%+.1f – %+.1f)", e.med,
				 e.min, e.max);
		fprintf(f, "| %s | %.1f (%.1f–%.1f) | %s | %s | %s | %s |\n",
			name, s.med, s.min, s.max, a, b, mem, lm);
	}
	fprintf(f,
		"\n| IPv%d, source prefixes | sksteer above the floor | LPM "
		"trie above the floor | sksteer minus LPM trie, within "
		"passes | sksteer is |\n|---|---|---|---|---|\n",
		v);
	for (i = 0; i < ncont; i++) {
		const struct contender *c = &cont[i], *l;
		struct bc_stat fs, fl, d;

		if (c->kind != C_SKSTEER || c->peer < 0)
			continue;
		l = &cont[c->peer];
		fs = bc_stat(c->round_floor, opt.rounds);
		fl = bc_stat(l->round_floor, opt.rounds);
		d = bc_stat(c->round_peer, opt.rounds);
		fprintf(f,
			"| %zu | %+.1f | %+.1f | %+.1f (%+.1f – %+.1f) | %s |\n",
			c->prefixes, fs.med, fl.med, d.med, d.min, d.max,
			verdict(d));
	}
	fprintf(f,
		"\n| IPv%d classic BPF, source prefixes | program length "
		"(limit 4096) | instructions executed per datagram, mean | "
		"worst |\n|---|---|---|---|\n",
		v);
	for (i = 0; i < nrows; i++) {
		if (rows[i].fits)
			fprintf(f, "| %zu | %zu | %.1f | %u |\n",
				rows[i].prefixes, rows[i].insns, rows[i].mean,
				rows[i].worst);
		else
			fprintf(f,
				"| %zu | does not fit (about %zu) | – | – "
				"|\n",
				rows[i].prefixes, rows[i].estimate);
	}
	fprintf(f, "\n");
	fclose(f);
}

static const char *csv_name(const struct contender *c)
{
	return c->kind == C_SKSTEER ? "sksteer" :
	       c->kind == C_LPM	    ? "lpm" :
				      c->label;
}

static int report(int family, const struct cbpf_row *rows, int nrows)
{
	FILE *csv = NULL;
	int i, fail = 0, fv = family == AF_INET ? 4 : 6;
	char a[64], b[64], d[64], e2[64];

	if (opt.csv) {
		bool fresh = access(opt.csv, F_OK) != 0;

		csv = fopen(opt.csv, "a");
		if (!csv)
			bc_die("opening %s: %s", opt.csv, strerror(errno));
		if (fresh)
			fprintf(csv,
				"family,contender,prefixes,stat,ns_per_run,"
				"above_floor,above_empty,runs_per_pkt,"
				"table_bytes,load_ms,minus_lpm\n");
	}
	printf("\nIPv%d: eBPF program cost, ns per run (kernel "
	       "run_time_ns/run_cnt), median [min..max] of %d rounds\n",
	       fv, opt.rounds);
	printf("%-14s %-22s %-22s %-22s %-22s %8s %9s %8s\n", "contender",
	       "ns/run", "above floor", "above empty", "minus LPM trie",
	       "runs/pkt", "tables", "load ms");
	for (i = 0; i < ncont; i++) {
		struct contender *c = &cont[i];
		struct bc_stat s = bc_stat(c->round_ns, opt.rounds);
		struct bc_stat f = bc_stat(c->round_floor, opt.rounds);
		struct bc_stat e = bc_stat(c->round_empty, opt.rounds);
		struct bc_stat pm = bc_stat(c->round_peer, opt.rounds);
		double rpp = c->sent ? (double)c->runs / (double)c->sent : 0;
		bool steers = c->kind == C_SKSTEER || c->kind == C_LPM;
		bool peer = c->peer >= 0;
		char tb[32] = "-", lm[32] = "-";
		int rd;

		if (steers) {
			snprintf(tb, sizeof(tb), "%.0fKiB",
				 (double)c->table_bytes / 1024.0);
			snprintf(lm, sizeof(lm), "%.0f", c->load_ms);
		}
		fmt_stat(a, sizeof(a), s);
		fmt_stat(b, sizeof(b), f);
		fmt_stat(d, sizeof(d), e);
		fmt_stat(e2, sizeof(e2), pm);
		printf("%-14s %-22s %-22s %-22s %-22s %8.3f %9s %8s\n",
		       c->label, a, steers ? b : "-",
		       c->kind == C_EMPTY ? "-" : d, peer ? e2 : "-", rpp, tb,
		       lm);
		if (c->misrouted || c->received != c->sent) {
			printf("FAIL %s: %llu of %llu datagrams in the wrong "
			       "pool, %llu lost\n",
			       c->label, (unsigned long long)c->misrouted,
			       (unsigned long long)c->sent,
			       (unsigned long long)(c->sent - c->received));
			fail = 1;
		}
		if (c->runs != c->sent)
			printf("note %s: %llu program runs for %llu "
			       "datagrams\n",
			       c->label, (unsigned long long)c->runs,
			       (unsigned long long)c->sent);
		if (!csv)
			continue;
		fprintf(csv, "%d,%s,%zu,median,%.2f,%.2f,%.2f,%.3f,%zu,%.1f,",
			fv, csv_name(c), c->prefixes, s.med, f.med, e.med, rpp,
			c->table_bytes, c->load_ms);
		if (peer)
			fprintf(csv, "%.2f", pm.med);
		fprintf(csv, "\n%d,%s,%zu,min,%.2f,%.2f,%.2f,,,,", fv,
			csv_name(c), c->prefixes, s.min, f.min, e.min);
		if (peer)
			fprintf(csv, "%.2f", pm.min);
		fprintf(csv, "\n%d,%s,%zu,max,%.2f,%.2f,%.2f,,,,", fv,
			csv_name(c), c->prefixes, s.max, f.max, e.max);
		if (peer)
			fprintf(csv, "%.2f", pm.max);
		fprintf(csv, "\n");
		for (rd = 0; rd < opt.rounds; rd++) {
			fprintf(csv, "%d,%s,%zu,round%d,%.2f,%.2f,%.2f,,,,", fv,
				csv_name(c), c->prefixes, rd, c->round_ns[rd],
				c->round_floor[rd], c->round_empty[rd]);
			if (peer)
				fprintf(csv, "%.2f", c->round_peer[rd]);
			fprintf(csv, "\n");
		}
	}
	printf("\nIPv%d: classic BPF program (interpreter, same datagrams)\n",
	       fv);
	printf("%-10s %-28s %-14s %-14s\n", "prefixes", "length (max 4096)",
	       "executed mean", "executed worst");
	for (i = 0; i < nrows; i++) {
		if (!rows[i].fits) {
			char why[64];

			snprintf(why, sizeof(why), "does not fit (~%zu)",
				 rows[i].estimate);
			printf("%-10zu %-28s %-14s %-14s\n", rows[i].prefixes,
			       why, "-", "-");
			continue;
		}
		printf("%-10zu %-28zu %-14.1f %-14u\n", rows[i].prefixes,
		       rows[i].insns, rows[i].mean, rows[i].worst);
		if (rows[i].wrong) {
			printf("FAIL cbpf %zu: %zu datagrams steered to the "
			       "wrong socket by the interpreter\n",
			       rows[i].prefixes, rows[i].wrong);
			fail = 1;
		}
	}
	if (csv)
		fclose(csv);
	if (opt.cbpf_csv) {
		bool fresh = access(opt.cbpf_csv, F_OK) != 0;

		csv = fopen(opt.cbpf_csv, "a");
		if (!csv)
			bc_die("opening %s: %s", opt.cbpf_csv, strerror(errno));
		if (fresh)
			fprintf(csv, "family,prefixes,fits,insns,estimate,"
				     "exec_mean,exec_worst\n");
		for (i = 0; i < nrows; i++)
			fprintf(csv, "%d,%zu,%d,%zu,%zu,%.2f,%u\n", fv,
				rows[i].prefixes, rows[i].fits, rows[i].insns,
				rows[i].estimate, rows[i].mean, rows[i].worst);
		fclose(csv);
	}
	if (opt.md)
		write_md(family, rows, nrows);
	return fail;
}

static int run_family(int family)
{
	struct baseline_bpf *skel = NULL;
	struct cbpf_row rows[8] = {};
	int i, fail, first_sk;

	ncont = 0;
	add_dest_addrs(family);
	raw_fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (raw_fd < 0)
		bc_die("raw socket: %s", strerror(errno));
	setup_baselines(family, &skel);
	first_sk = ncont;
	for (i = 0; i < opt.nscales; i++) {
		uint64_t t0 = bc_now_ns();

		setup_sksteer(family, opt.scales[i], &rows[i]);
		if (opt.verbose)
			fprintf(stderr, "set up %zu prefixes in %.0f ms\n",
				opt.scales[i],
				(double)(bc_now_ns() - t0) / 1e6);
	}
	for (i = 0; i < opt.nscales; i++) {
		uint64_t t0 = bc_now_ns();

		setup_lpm(family, opt.scales[i], &cont[first_sk + i]);
		if (opt.verbose)
			fprintf(stderr,
				"set up the LPM trie of %zu prefixes in "
				"%.0f ms\n",
				opt.scales[i],
				(double)(bc_now_ns() - t0) / 1e6);
	}
	/* baselines get the traffic of the largest scale */
	make_traffic(&cont[C_EMPTY], family, NULL, 0, opt.seed);
	make_traffic(&cont[C_FLOOR], family, NULL, 0, opt.seed);
	printf("progcost: IPv%d, %d contenders, %d rounds x %d passes x %d "
	       "datagrams each, CPU %d\n",
	       family == AF_INET ? 4 : 6, ncont, opt.rounds, opt.passes,
	       opt.chunk, opt.cpu);
	fflush(stdout);
	measure();
	fail = report(family, rows, opt.nscales);
	for (i = 0; i < ncont; i++) {
		struct contender *c = &cont[i];
		int j;

		if (c->kind == C_SKSTEER) {
			bc_egroup_free(&c->eg);
			sksteer_config__free(c->cfg);
		} else {
			for (j = 0; j < c->nfds; j++)
				close(c->fds[j]);
			lpm_bpf__destroy(c->lpm);
		}
		free(c->pkt);
		free(c->iov);
		free(c->dst);
		free(c->msg);
		free(c->expect);
	}
	baseline_bpf__destroy(skel);
	close(raw_fd);
	return fail;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: progcost [options]\n"
		"  --prefixes N[,N...]  source prefix scales (default "
		"4,1000,100000)\n"
		"  --family 4|6|46      IP version(s) (default 4)\n"
		"  --rounds N           measured rounds (default 9)\n"
		"  --passes N           passes per round (default 15)\n"
		"  --chunk N            datagrams per contender per pass "
		"(default 2048)\n"
		"  --packets N          distinct datagrams (source addresses) "
		"per contender,\n"
		"                       cycled (default 16384; a few hundred "
		"keep the tables\n"
		"                       in cache: compute cost without "
		"memory misses)\n"
		"  --to-share N         1 in N datagrams to a 'to' rule "
		"address (default 16)\n"
		"  --cpu N              CPU to run on (default: the last)\n"
		"  --seed N             prefix and traffic seed (default 1)\n"
		"  --csv FILE           append the eBPF results to FILE\n"
		"  --cbpf-csv FILE      append the classic BPF figures to "
		"FILE\n"
		"  --md FILE            append markdown tables to FILE\n"
		"  -v                   per-round progress on stderr\n");
	exit(status);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "prefixes", required_argument, NULL, 'p' },
		{ "family", required_argument, NULL, 'f' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "passes", required_argument, NULL, 'P' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "packets", required_argument, NULL, 'n' },
		{ "to-share", required_argument, NULL, 't' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "seed", required_argument, NULL, 's' },
		{ "csv", required_argument, NULL, 'o' },
		{ "cbpf-csv", required_argument, NULL, 'O' },
		{ "md", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *fam = "4";
	struct utsname u;
	int ch, fail = 0, stats_fd;

	bc_prog_name = "progcost";
	while ((ch = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (ch) {
		case 'p': {
			char *s = strdup(optarg), *tok, *save = NULL;

			opt.nscales = 0;
			for (tok = strtok_r(s, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				if (opt.nscales == (int)ARRAY_SIZE(opt.scales))
					bc_die("--prefixes: at most %zu scales",
					       ARRAY_SIZE(opt.scales));
				opt.scales[opt.nscales++] = (size_t)bc_num(
					tok, "--prefixes", 1, 2000000);
			}
			free(s);
			if (!opt.nscales)
				bc_die("--prefixes: no scale given");
			break;
		}
		case 'f':
			if (strcmp(optarg, "4") && strcmp(optarg, "6") &&
			    strcmp(optarg, "46"))
				bc_die("--family: '%s' is not 4, 6 or 46",
				       optarg);
			fam = optarg;
			break;
		case 'r':
			opt.rounds =
				(int)bc_num(optarg, "--rounds", 1, MAX_ROUND);
			break;
		case 'P':
			opt.passes =
				(int)bc_num(optarg, "--passes", 1, MAX_PASS);
			break;
		case 'c':
			opt.chunk = (int)bc_num(optarg, "--chunk", 1, 1 << 20);
			break;
		case 'n':
			opt.npkts =
				(int)bc_num(optarg, "--packets", 1, 1 << 22);
			break;
		case 't':
			opt.to_share = (unsigned int)bc_num(
				optarg, "--to-share", 1, 1 << 20);
			break;
		case 'C':
			opt.cpu = (int)bc_num(optarg, "--cpu", 0, 4095);
			break;
		case 's':
			opt.seed =
				(uint64_t)bc_num(optarg, "--seed", 0, 1L << 40);
			break;
		case 'o':
			opt.csv = optarg;
			break;
		case 'O':
			opt.cbpf_csv = optarg;
			break;
		case 'm':
			opt.md = optarg;
			break;
		case 'v':
			opt.verbose = true;
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
	if (opt.cpu < 0)
		opt.cpu = bc_ncpus() - 1;
	bc_quiet_lib();
	bc_pin(opt.cpu);
	bc_private_netns();
	/* Statistics stay on while this fd is open and go back to what
	 * they were when the process exits, however it exits: the sysctl
	 * itself is never written. */
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0)
		bc_die("enabling BPF run-time statistics: %s",
		       strerror(-stats_fd));
	uname(&u);
	printf("progcost: kernel %s %s, seed %llu\n", u.release, u.machine,
	       (unsigned long long)opt.seed);
	if (strchr(fam, '4'))
		fail |= run_family(AF_INET);
	if (strchr(fam, '6'))
		fail |= run_family(AF_INET6);
	close(stats_fd);
	return fail;
}
