// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * netbench: steering contenders under real traffic, alternated in the
 * same run, every datagram or connection checked for its pool.
 *
 * Contenders, each on its own port (the nftables one in its own pair of
 * namespaces, because a NAT chain turns on connection tracking for every
 * packet of its namespace and would tax the others):
 *   a  plain SO_REUSEPORT, no program (the kernel's hash)
 *   b  one socket bound per destination address (the kernel's exact
 *      lookup: the practical limit for steering by destination)
 *   c  nftables NAT redirect from the service port to one port per pool,
 *      matching the same rules (bench/run.sh loads the table this
 *      program writes with --emit-nft)
 *   d  sksteer, classic BPF (only where the program fits)
 *   e  sksteer, eBPF
 * Scales: "dst": 4 rules by destination, traffic to the 4 addresses;
 * N: the 4 destination rules and one rule on a set of N source prefixes
 * (random public prefixes plus 8 that cover half the clients), traffic to
 * a fifth address so that the set decides for every packet.
 *
 * Workloads (one per run):
 *   udp      closed-loop datagrams from 254 client addresses (a bounded
 *            window in flight, so no queue overflows and a loss is a
 *            failure). On veth and lo the receive path, and so the
 *            steering, runs in the softirq the sender's own sendmmsg()
 *            raises; the receiving application polls on the other CPU
 *            (waking it would cost an IPI per datagram). The metric is
 *            the sender thread's CPU ns per datagram: the whole path on
 *            one CPU, insensitive to other tenants of the machine.
 *   tcp      connections, 64 connects in flight, each closed with RST
 *            once established (no TIME_WAIT piles up); the metric is the
 *            client's CPU ns per connection (SYN processing, steering and
 *            the handshake run in its softirqs), and connections/s.
 *   udp-rps  udp with the receive path moved to the other CPU by RPS
 *            (bench/run.sh sets rps_cpus); the metric is datagrams/s.
 *            In a virtual machine the RPS IPI makes the sender, not the
 *            receiver, the bottleneck, so run.sh runs it only with RPS=1.
 * A round measures every (scale, contender) point once, in a shuffled
 * order; ratios to contender b are taken within a round.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define MAX_SCALES 4
#define MAX_ROUNDS 64
#define MAX_CLI	   254
#define NDST	   5 /* 198.51.100.1-4: rules; .5: no rule */
#define NPOOLS	   6 /* d1..d4, src, rest */
#define BATCH	   32
#define WINDOW	   512 /* datagrams in flight */
#define INFLIGHT   64 /* TCP connects in flight */
#define SPORT_BASE 20000
#define SPORT_SPAN 8000
#define MAX_FDS	   8

enum { K_PLAIN, K_EXACT, K_NFT, K_CBPF, K_EBPF, NKINDS };
static const char *const kind_name[NKINDS] = {
	"a reuseport",	  "b bind/dst",	    "c nftables",
	"d sksteer cBPF", "e sksteer eBPF",
};
static const char *const kind_key[NKINDS] = { "reuseport", "bind", "nft",
					      "cbpf", "ebpf" };
enum { W_UDP, W_TCP, W_UDP_RPS };
static const char *const wl_name[] = { "udp", "tcp", "udp-rps" };

/* udp and tcp: the metric is the sender's CPU time per datagram or
 * connection, which includes the whole receive path and the steering
 * (they run in its system calls); udp-rps: datagrams per second */
static bool cost_metric(int w)
{
	return w != W_UDP_RPS;
}

struct scale {
	size_t nprefixes; /* 0: the destination-only scale */
	struct sk_prefix *p;
	/* configurations: one per sksteer contender (the port differs) */
	struct sksteer_config *cfg[2];
	const struct sksteer_service *svc[2];
	const struct sksteer_service *ref; /* for expectations */
};

struct point {
	int id, scale, kind, side;
	uint16_t port;
	int nfds, fds[MAX_FDS], pool_of[MAX_FDS];
	struct sksteer_group *grp;
	struct bc_egroup eg;
	int8_t expect[MAX_CLI][NDST]; /* pool, or -1: any */
	bool skip;
	char why[96];
	/* per round: the metric, throughput relative to b, the other
	 * figure, and the metric minus b's */
	double val[MAX_ROUNDS], ratio[MAX_ROUNDS], aux[MAX_ROUNDS],
		diff[MAX_ROUNDS];
	int nval;
	uint64_t sent, received, misrouted, lost, failed;
};

static struct {
	int workload, rounds, ncli, snd_cpu, rcv_cpu;
	double secs, warm;
	uint16_t port_base;
	size_t scales[MAX_SCALES];
	int nscales;
	const char *ns[2][2]; /* [side][0: server, 1: client] */
	const char *topo, *csv, *md, *emit_nft, *plot;
	uint64_t seed;
} opt = {
	.rounds = 5,
	.ncli = 254,
	.snd_cpu = 0,
	.rcv_cpu = 1,
	.secs = 0.4,
	.warm = 0.1,
	.port_base = 20000,
	.scales = { 0, 1000, 100000 },
	.nscales = 3,
	.topo = "veth",
	.seed = 1,
};

static struct scale scales[MAX_SCALES];
static struct point *points;
static int npoints;
static int proto = IPPROTO_UDP;
static int nsfd[2][2] = { { -1, -1 }, { -1, -1 } };

/* ---- addresses ---- */

static uint32_t dst_addr(int d)
{
	return 0xc6336400u | (uint32_t)(d + 1); /* 198.51.100.1 + d */
}

static uint16_t point_port(int scale, int kind)
{
	return (uint16_t)(opt.port_base + 100 * scale + 10 * kind);
}

static const char *scale_label(const struct scale *s, char *buf, size_t sz)
{
	if (!s->nprefixes)
		snprintf(buf, sz, "4 dst");
	else
		snprintf(buf, sz, "%zu src", s->nprefixes);
	return buf;
}

/* the x axis: prefixes in the rules */
static size_t scale_x(const struct scale *s)
{
	return s->nprefixes ? s->nprefixes : 4;
}

/* ---- configurations ---- */

static char *service_text(const struct scale *s, uint16_t port)
{
	struct bc_buf b = {};
	char a[32];
	int d;

	bc_printf(&b,
		  "service nb {\n  listen %s 0.0.0.0:%u\n"
		  "  pool d1 1\n  pool d2 1\n  pool d3 1\n  pool d4 1\n"
		  "  pool src 1\n  pool rest 1\n",
		  proto == IPPROTO_TCP ? "tcp" : "udp", port);
	if (s->nprefixes) {
		bc_printf(&b, "  set src {\n    ");
		bc_prefix_list(&b, s->p, s->nprefixes, "\n    ");
		bc_printf(&b, "\n  }\n");
	}
	for (d = 0; d < 4; d++) {
		sk_addr4_fmt(dst_addr(d), a, sizeof(a));
		bc_printf(&b, "  rule to %s pool d%d\n", a, d + 1);
	}
	if (s->nprefixes)
		bc_printf(&b, "  rule from @src pool src\n");
	bc_printf(&b, "  default pool rest\n}\n");
	return b.s;
}

static void setup_scales(void)
{
	size_t nmust;
	const struct sk_prefix *must = bc_client_prefixes(&nmust);
	int i, j;

	for (i = 0; i < opt.nscales; i++) {
		struct scale *s = &scales[i];

		s->nprefixes = opt.scales[i];
		if (s->nprefixes)
			s->p = bc_gen_prefixes(AF_INET, s->nprefixes, opt.seed,
					       must, nmust);
		for (j = 0; j < 2; j++) {
			char *text = service_text(
				s, point_port(i, j ? K_EBPF : K_CBPF));

			s->cfg[j] = bc_parse(text);
			s->svc[j] = sksteer_config__service(s->cfg[j], 0);
			free(text);
		}
		s->ref = s->svc[1];
	}
}

/* ---- nftables: the same rules as NAT redirects ---- */

static void emit_nft(const char *path)
{
	FILE *f = fopen(path, "w");
	int i, pr, d, k;

	if (!f)
		bc_die("writing %s: %s", path, strerror(errno));
	/* the same merged ranges as sksteer's set */
	fprintf(f, "# generated by bench/netbench --emit-nft: contender c\n"
		   "table ip sksteer_bench {\n");
	for (i = 0; i < opt.nscales; i++) {
		const struct scale *s = &scales[i];
		const struct sk_rule *r;
		size_t n;

		if (!s->nprefixes)
			continue;
		r = &s->ref->rules[4];
		fprintf(f,
			"\tset src%d {\n\t\ttype ipv4_addr\n"
			"\t\tflags interval\n\t\telements = {\n",
			i);
		for (n = 0; n < r->from.n4; n++) {
			char lo[32], hi[32];

			sk_addr4_fmt(r->from.v4[n].lo, lo, sizeof(lo));
			sk_addr4_fmt(r->from.v4[n].hi, hi, sizeof(hi));
			fprintf(f, "\t\t\t%s-%s%s\n", lo, hi,
				n + 1 < r->from.n4 ? "," : "");
		}
		fprintf(f, "\t\t}\n\t}\n");
	}
	/* traffic from another host meets prerouting; on lo, a local
	 * client's packets are NATed in output (conntrack has seen them by
	 * the time they come back in) */
	for (k = 0; k < 2; k++) {
		fprintf(f,
			"\tchain %s {\n\t\ttype nat hook %s priority "
			"%s; policy accept;\n",
			k ? "out" : "pre", k ? "output" : "prerouting",
			k ? "-100" : "dstnat");
		for (pr = 0; pr < 2; pr++) {
			const char *pn = pr ? "tcp" : "udp";

			fprintf(f, "\t\t%s dport vmap {", pn);
			for (i = 0; i < opt.nscales; i++)
				fprintf(f, "%s %u : jump %s%d", i ? "," : "",
					point_port(i, K_NFT), pn, i);
			fprintf(f, " }\n");
		}
		fprintf(f, "\t}\n");
	}
	for (pr = 0; pr < 2; pr++) {
		const char *pn = pr ? "tcp" : "udp";

		for (i = 0; i < opt.nscales; i++) {
			uint16_t port = point_port(i, K_NFT);
			char a[32];

			fprintf(f, "\tchain %s%d {\n", pn, i);
			for (d = 0; d < 4; d++) {
				sk_addr4_fmt(dst_addr(d), a, sizeof(a));
				fprintf(f,
					"\t\tip daddr %s %s dport %u redirect "
					"to :%u\n",
					a, pn, port, port + 1 + d);
			}
			if (scales[i].nprefixes)
				fprintf(f,
					"\t\tip saddr @src%d %s dport %u "
					"redirect to :%u\n",
					i, pn, port, port + 1 + 4);
			fprintf(f, "\t\t%s dport %u redirect to :%u\n", pn,
				port, port + 1 + 5);
			fprintf(f, "\t}\n");
		}
	}
	fprintf(f, "}\n");
	if (fclose(f))
		bc_die("writing %s: %s", path, strerror(errno));
}

/* ---- contenders ---- */

static void enter_side(int side, int which)
{
	if (setns(nsfd[side][which], CLONE_NEWNET))
		bc_die("setns: %s", strerror(errno));
}

static void plain_socks(struct point *p, int n, const uint32_t *addr,
			uint16_t port0, bool port_step, bool reuse)
{
	int type = proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;
	int i, one = 1, bufsz = 8 << 20;

	for (i = 0; i < n; i++) {
		struct sockaddr_in s;
		int fd =
			socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

		if (fd < 0)
			bc_die("socket: %s", strerror(errno));
		if (reuse)
			setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
				   sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz,
			   sizeof(bufsz));
		bc_sin4(&s, addr ? addr[i] : 0,
			(uint16_t)(port0 + (port_step ? i : 0)));
		if (bind(fd, (struct sockaddr *)&s, sizeof(s)))
			bc_die("binding port %u: %s",
			       port0 + (port_step ? i : 0), strerror(errno));
		if (type == SOCK_STREAM && listen(fd, 4096))
			bc_die("listen: %s", strerror(errno));
		p->fds[p->nfds] = fd;
		p->pool_of[p->nfds++] = i;
	}
}

static void group_socks(struct point *p, struct sksteer_group *grp)
{
	unsigned int i, n = sksteer_group__socket_cnt(grp);
	int bufsz = 8 << 20;

	if (n != NPOOLS)
		bc_die("group has %u sockets", n);
	for (i = 0; i < n; i++) {
		SKSTEER_OPTS(sksteer_socket_info, info);

		if (sksteer_group__socket(grp, i, &info))
			bc_die("sksteer_group__socket failed");
		p->fds[i] = info.fd;
		p->pool_of[i] = (int)i; /* one socket per pool, in order */
		/* the receiver polls: accept() must not block */
		fcntl(info.fd, F_SETFL, fcntl(info.fd, F_GETFL) | O_NONBLOCK);
		setsockopt(info.fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz,
			   sizeof(bufsz));
	}
	p->nfds = NPOOLS;
}

/* the pool the rules pick for client @c and destination @d */
static int ref_pool(const struct sksteer_service *svc, int c, int d)
{
	SKSTEER_OPTS(sksteer_flow, flow, .family = AF_INET, .sport = SPORT_BASE,
		     .dport = 1);
	SKSTEER_OPTS(sksteer_verdict, v);
	uint32_t s = htonl(bc_client_addr(c)), t = htonl(dst_addr(d));

	memcpy(&flow.src, &s, 4);
	memcpy(&flow.dst, &t, 4);
	if (sksteer_service__explain(svc, NULL, &flow, &v) ||
	    v.kind != SKSTEER_TARGET_POOL)
		bc_die("reference: no pool for client %d destination %d", c, d);
	return (int)sksteer_pool__first(v.pool);
}

static void setup_point(struct point *p)
{
	struct scale *s = &scales[p->scale];
	uint32_t dsts[NDST];
	int c, d;

	p->port = point_port(p->scale, p->kind);
	p->side = p->kind == K_NFT;
	enter_side(p->side, 0);
	for (d = 0; d < NDST; d++)
		dsts[d] = dst_addr(d);
	switch (p->kind) {
	case K_PLAIN:
		plain_socks(p, NPOOLS, NULL, p->port, false, true);
		break;
	case K_EXACT:
		plain_socks(p, NDST, dsts, p->port, false, false);
		break;
	case K_NFT:
		plain_socks(p, NPOOLS, NULL, (uint16_t)(p->port + 1), true,
			    false);
		break;
	case K_CBPF: {
		SKSTEER_OPTS(sksteer_group_opts, o,
			     .backend = SKSTEER_BACKEND_CBPF);
		size_t est = bc_cbpf_estimate(s->svc[0]);
		sksteer_print_fn_t old = sksteer_set_print(NULL);

		/* the compiler is not tried where it cannot fit */
		p->grp = est <= 8 * SKSTEER_CBPF_MAX_INSNS ?
				 sksteer_group__create(s->svc[0], &o) :
				 NULL;
		sksteer_set_print(old);
		if (!p->grp) {
			p->skip = true;
			snprintf(p->why, sizeof(p->why),
				 "does not fit: ~%zu instructions, the "
				 "limit is 4096",
				 est);
			return;
		}
		group_socks(p, p->grp);
		break;
	}
	case K_EBPF: {
		int err = bc_egroup_create(s->svc[1], &p->eg);

		if (err)
			bc_die("eBPF group: %s", strerror(-err));
		p->grp = p->eg.grp;
		group_socks(p, p->grp);
		break;
	}
	}
	for (c = 0; c < opt.ncli; c++) {
		for (d = 0; d < NDST; d++) {
			if (p->kind == K_PLAIN)
				p->expect[c][d] = -1;
			else if (p->kind == K_EXACT)
				p->expect[c][d] = (int8_t)d;
			else
				p->expect[c][d] =
					(int8_t)ref_pool(s->ref, c, d);
		}
	}
}

/* destinations of a scale's traffic */
static int scale_dsts(const struct scale *s, int *dsts)
{
	int d;

	if (s->nprefixes) {
		dsts[0] = 4;
		return 1;
	}
	for (d = 0; d < 4; d++)
		dsts[d] = d;
	return 4;
}

/* ---- the traffic threads ---- */

struct payload {
	uint32_t point;
	uint16_t cli;
	uint8_t dst;
	uint8_t pad;
	uint8_t fill[24]; /* a small request */
};

static _Atomic(struct point *) snd_req, rcv_req;
static _Atomic(struct point *) snd_cur, rcv_cur;
static _Atomic uint64_t n_sent, n_recv, n_bad, n_failed;
static atomic_bool quit;
static pthread_t snd_thread;

static int cli_fd[2][MAX_CLI]; /* UDP client sockets per side */

static void check_one(struct point *p, int fdi, unsigned int c, unsigned int d)
{
	if (c >= (unsigned int)opt.ncli || d >= NDST) {
		atomic_fetch_add_explicit(&n_bad, 1, memory_order_relaxed);
		return;
	}
	if (p->expect[c][d] >= 0 && p->expect[c][d] != p->pool_of[fdi]) {
		static int shown;

		if (shown++ < 5)
			fprintf(stderr,
				"netbench: %s: client 203.0.113.%u to "
				"198.51.100.%u landed in pool %d, not %d\n",
				kind_name[p->kind], c + 1, d + 1,
				p->pool_of[fdi], p->expect[c][d]);
		atomic_fetch_add_explicit(&n_bad, 1, memory_order_relaxed);
	}
}

static void udp_receive(struct point *p, int fdi)
{
	static struct payload buf[64];
	static struct iovec iov[64];
	static struct mmsghdr m[64];
	int i, n, rounds;

	for (rounds = 0; rounds < 8; rounds++) {
		for (i = 0; i < 64; i++) {
			iov[i].iov_base = &buf[i];
			iov[i].iov_len = sizeof(buf[i]);
			m[i].msg_hdr.msg_iov = &iov[i];
			m[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(p->fds[fdi], m, 64, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (i = 0; i < n; i++) {
			if (buf[i].point != (uint32_t)p->id)
				atomic_fetch_add_explicit(&n_bad, 1,
							  memory_order_relaxed);
			else
				check_one(p, fdi, buf[i].cli, buf[i].dst);
		}
		atomic_fetch_add_explicit(&n_recv, (uint64_t)n,
					  memory_order_release);
	}
}

static void tcp_accept(struct point *p, int fdi)
{
	struct linger lg = { 1, 0 };
	int n = 0;

	for (;;) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(p->fds[fdi], (struct sockaddr *)&peer, &len,
				 SOCK_CLOEXEC | SOCK_NONBLOCK);
		uint32_t a;
		unsigned int port;

		if (fd < 0)
			break;
		a = ntohl(peer.sin_addr.s_addr);
		port = ntohs(peer.sin_port);
		check_one(p, fdi, (a & 0xff) - 1,
			  port >= SPORT_BASE ?
				  (port - SPORT_BASE) / SPORT_SPAN :
				  NDST);
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
		n++;
	}
	if (n)
		atomic_fetch_add_explicit(&n_recv, (uint64_t)n,
					  memory_order_release);
}

/* The receiver polls instead of sleeping: waking a sleeping thread on
 * the other CPU costs an IPI per datagram, which in a virtual machine is
 * an exit to the hypervisor that would dwarf what is measured. */
static void *receiver(void *arg)
{
	(void)arg;
	bc_pin(opt.rcv_cpu);
	while (!atomic_load(&quit)) {
		struct point *p = atomic_load(&rcv_req);
		int i;

		atomic_store(&rcv_cur, p);
		if (!p) {
			bc_nap_us(1000);
			continue;
		}
		for (i = 0; i < p->nfds; i++) {
			if (proto == IPPROTO_UDP)
				udp_receive(p, i);
			else
				tcp_accept(p, i);
		}
	}
	return NULL;
}

/* UDP: per client, BATCH datagrams to the scale's destinations */
struct udp_plan {
	struct payload pay[MAX_CLI][BATCH];
	struct iovec iov[MAX_CLI][BATCH];
	struct sockaddr_in dst[NDST];
	struct mmsghdr msg[MAX_CLI][BATCH];
};

static void udp_plan(struct udp_plan *u, const struct point *p)
{
	int dsts[NDST], nd = scale_dsts(&scales[p->scale], dsts), c, j, d;

	for (d = 0; d < NDST; d++)
		bc_sin4(&u->dst[d], dst_addr(d), p->port);
	for (c = 0; c < opt.ncli; c++) {
		for (j = 0; j < BATCH; j++) {
			struct payload *pl = &u->pay[c][j];
			struct msghdr *h = &u->msg[c][j].msg_hdr;

			d = dsts[(c + j) % nd];
			memset(pl, 0x5a, sizeof(*pl));
			pl->point = (uint32_t)p->id;
			pl->cli = (uint16_t)c;
			pl->dst = (uint8_t)d;
			u->iov[c][j].iov_base = pl;
			u->iov[c][j].iov_len = sizeof(*pl);
			memset(h, 0, sizeof(*h));
			h->msg_name = &u->dst[d];
			h->msg_namelen = sizeof(u->dst[d]);
			h->msg_iov = &u->iov[c][j];
			h->msg_iovlen = 1;
		}
	}
}

static void udp_send(struct point *p, struct udp_plan *u)
{
	int c = 0;

	while (atomic_load_explicit(&snd_req, memory_order_relaxed) == p) {
		uint64_t s =
			atomic_load_explicit(&n_sent, memory_order_relaxed);
		int r;

		/* closed loop: nothing can overflow a queue */
		if (s - atomic_load_explicit(&n_recv, memory_order_acquire) >
		    WINDOW - BATCH) {
			bc_nap_us(20);
			continue;
		}
		r = sendmmsg(cli_fd[p->side][c], u->msg[c], BATCH, 0);
		if (r > 0)
			atomic_fetch_add_explicit(&n_sent, (uint64_t)r,
						  memory_order_relaxed);
		else
			atomic_fetch_add_explicit(&n_failed, 1,
						  memory_order_relaxed);
		if (++c == opt.ncli)
			c = 0;
	}
}

/* TCP: INFLIGHT non-blocking connects, each closed with RST once
 * established (the server checks and closes its side the same way) */
static void tcp_send(struct point *p)
{
	static uint16_t seq[MAX_CLI][NDST];
	int dsts[NDST], nd = scale_dsts(&scales[p->scale], dsts);
	int ep = epoll_create1(EPOLL_CLOEXEC), live = 0, c = 0, k = 0;
	struct epoll_event ev[INFLIGHT];
	struct linger lg = { 1, 0 };
	int one = 1;

	enter_side(p->side, 1);
	while (atomic_load_explicit(&snd_req, memory_order_relaxed) == p ||
	       live) {
		bool more = atomic_load_explicit(&snd_req,
						 memory_order_relaxed) == p;
		int i, n;

		while (more && live < INFLIGHT) {
			struct sockaddr_in src, dst;
			struct epoll_event e = { .events = EPOLLOUT };
			int d = dsts[k++ % nd], fd;
			uint16_t sport;

			fd = socket(AF_INET,
				    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
				    0);
			if (fd < 0)
				bc_die("socket: %s", strerror(errno));
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				   sizeof(one));
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			/* the source port says which destination */
			sport = (uint16_t)(SPORT_BASE + d * SPORT_SPAN +
					   seq[c][d]++ % SPORT_SPAN);
			bc_sin4(&src, bc_client_addr(c), sport);
			bc_sin4(&dst, dst_addr(d), p->port);
			if (++c == opt.ncli)
				c = 0;
			if (bind(fd, (struct sockaddr *)&src, sizeof(src)) ||
			    (connect(fd, (struct sockaddr *)&dst,
				     sizeof(dst)) &&
			     errno != EINPROGRESS)) {
				close(fd);
				continue; /* port busy: try the next one */
			}
			e.data.fd = fd;
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
			live++;
		}
		n = epoll_wait(ep, ev, INFLIGHT, more ? 5 : 50);
		if (n <= 0 && !more)
			break; /* stragglers: counted as failures below */
		for (i = 0; i < n; i++) {
			int err = 0;
			socklen_t len = sizeof(err);

			getsockopt(ev[i].data.fd, SOL_SOCKET, SO_ERROR, &err,
				   &len);
			/* ECONNRESET: established, and the server has already
			 * accepted and reset it (a SYN_SENT socket gets
			 * ECONNREFUSED) */
			if (err == ECONNRESET)
				err = 0;
			atomic_fetch_add_explicit(err ? &n_failed : &n_sent, 1,
						  memory_order_relaxed);
			close(ev[i].data.fd);
			live--;
		}
	}
	if (live)
		atomic_fetch_add_explicit(&n_failed, (uint64_t)live,
					  memory_order_relaxed);
	close(ep); /* closes nothing else: the stragglers leak until exit */
}

static void *sender(void *arg)
{
	static struct udp_plan plan;

	(void)arg;
	bc_pin(opt.snd_cpu);
	while (!atomic_load(&quit)) {
		struct point *p = atomic_load(&snd_req);

		atomic_store(&snd_cur, p);
		if (!p) {
			bc_nap_us(1000);
			continue;
		}
		if (proto == IPPROTO_UDP) {
			udp_plan(&plan, p);
			udp_send(p, &plan);
		} else {
			tcp_send(p);
		}
		atomic_store(&snd_cur, NULL);
		while (atomic_load(&snd_req) == p)
			bc_nap_us(100);
	}
	return NULL;
}

static uint64_t snd_cpu_ns(void)
{
	clockid_t cid;
	struct timespec ts;

	if (pthread_getcpuclockid(snd_thread, &cid) || clock_gettime(cid, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s,
			       (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* One measurement of @p: returns the workload's metric, @aux the other. */
static double run_point(struct point *p, double secs, double *aux)
{
	uint64_t t0, t1, r0, r1, s0, s1, c0, c1, deadline;
	double v;

	atomic_store(&n_sent, 0);
	atomic_store(&n_recv, 0);
	atomic_store(&n_bad, 0);
	atomic_store(&n_failed, 0);
	atomic_store(&rcv_req, p);
	while (atomic_load(&rcv_cur) != p)
		bc_nap_us(200);
	atomic_store(&snd_req, p);
	while (atomic_load(&snd_cur) != p)
		bc_nap_us(200);
	sleep_s(opt.warm);
	t0 = bc_now_ns();
	r0 = atomic_load(&n_recv);
	s0 = atomic_load(&n_sent);
	c0 = snd_cpu_ns();
	sleep_s(secs);
	t1 = bc_now_ns();
	r1 = atomic_load(&n_recv);
	s1 = atomic_load(&n_sent);
	c1 = snd_cpu_ns();
	atomic_store(&snd_req, NULL);
	while (atomic_load(&snd_cur) == p)
		bc_nap_us(200);
	/* what is in flight arrives, or is lost */
	deadline = bc_now_ns() + 500000000ull;
	while (atomic_load(&n_recv) < atomic_load(&n_sent) &&
	       bc_now_ns() < deadline)
		bc_nap_us(1000);
	atomic_store(&rcv_req, NULL);
	while (atomic_load(&rcv_cur) == p)
		bc_nap_us(200);
	p->sent += atomic_load(&n_sent);
	p->received += atomic_load(&n_recv);
	p->misrouted += atomic_load(&n_bad);
	p->failed += atomic_load(&n_failed);
	if (atomic_load(&n_recv) < atomic_load(&n_sent))
		p->lost += atomic_load(&n_sent) - atomic_load(&n_recv);
	v = (double)(r1 - r0) * 1e9 / (double)(t1 - t0);
	*aux = s1 > s0 ? (double)(c1 - c0) / (double)(s1 - s0) : 0;
	if (cost_metric(opt.workload)) {
		double rate = v;

		v = *aux;
		*aux = rate;
	}
	return v;
}

/* ---- the run ---- */

static struct point *find_point(int scale, int kind)
{
	int i;

	for (i = 0; i < npoints; i++)
		if (points[i].scale == scale && points[i].kind == kind)
			return &points[i];
	return NULL;
}

static void measure(void)
{
	struct bc_rng r = { opt.seed * 7919 };
	int *order = calloc((size_t)npoints, sizeof(int));
	int rd, i, s, k, sorder[MAX_SCALES], korder[NKINDS];

	if (!order)
		bc_die("out of memory");
	for (rd = -1; rd < opt.rounds; rd++) { /* -1: warm-up */
		/* the contenders of a scale one after the other (in a
		 * shuffled order), so that the ratios to b compare
		 * measurements a second apart: the machine drifts */
		for (s = 0; s < opt.nscales; s++)
			sorder[s] = s;
		bc_shuffle(sorder, opt.nscales, &r);
		for (i = 0, s = 0; s < opt.nscales; s++) {
			for (k = 0; k < NKINDS; k++)
				korder[k] = k;
			bc_shuffle(korder, NKINDS, &r);
			for (k = 0; k < NKINDS; k++)
				order[i++] = sorder[s] * NKINDS + korder[k];
		}
		for (i = 0; i < npoints; i++) {
			struct point *p = &points[order[i]];
			double aux, v;

			if (p->skip)
				continue;
			v = run_point(p, rd < 0 ? opt.secs / 4 : opt.secs,
				      &aux);
			if (rd < 0)
				continue;
			p->val[rd] = v;
			p->aux[rd] = aux;
			p->nval = rd + 1;
		}
		if (rd < 0)
			continue;
		for (i = 0; i < npoints; i++) {
			struct point *p = &points[i];
			struct point *b = find_point(p->scale, K_EXACT);

			if (p->skip || !b->val[rd] || !p->val[rd])
				continue;
			/* relative throughput: for a cost, its inverse */
			p->ratio[rd] = cost_metric(opt.workload) ?
					       b->val[rd] / p->val[rd] :
					       p->val[rd] / b->val[rd];
			p->diff[rd] = p->val[rd] - b->val[rd];
		}
		fprintf(stderr, "netbench %s %s: round %d of %d done\n",
			wl_name[opt.workload], opt.topo, rd + 1, opt.rounds);
	}
	free(order);
}

static const char *metric_name(void)
{
	switch (opt.workload) {
	case W_UDP:
		return "CPU ns/datagram";
	case W_TCP:
		return "CPU ns/connection";
	default:
		return "datagrams/s";
	}
}

static const char *aux_name(void)
{
	switch (opt.workload) {
	case W_UDP:
		return "datagrams/s";
	case W_TCP:
		return "connections/s";
	default:
		return "sender CPU ns/datagram";
	}
}

static void fmt_val(char *buf, size_t sz, struct bc_stat s)
{
	if (cost_metric(opt.workload))
		snprintf(buf, sz, "%.0f (%.0f–%.0f)", s.med, s.min, s.max);
	else
		snprintf(buf, sz, "%.0fk (%.0f–%.0f)", s.med / 1e3, s.min / 1e3,
			 s.max / 1e3);
}

static int report(void)
{
	FILE *md = opt.md ? fopen(opt.md, "w") : stdout;
	FILE *csv = NULL;
	int i, fail = 0;

	if (!md)
		bc_die("writing %s: %s", opt.md, strerror(errno));
	if (opt.csv) {
		bool fresh = access(opt.csv, F_OK) != 0;

		csv = fopen(opt.csv, "a");
		if (!csv)
			bc_die("writing %s: %s", opt.csv, strerror(errno));
		if (fresh)
			fprintf(csv, "workload,topo,scale,x,contender,stat,"
				     "value,ratio_b,aux,sent,received,"
				     "misrouted,lost,minus_b\n");
	}
	fprintf(md,
		"| %s, %s | contender | %s, median (min–max) | minus b's, "
		"within rounds | relative throughput (b = 1), within rounds "
		"| %s | checked | wrong pool | lost |\n"
		"|---|---|---|---|---|---|---|---|---|\n",
		wl_name[opt.workload], opt.topo, metric_name(), aux_name());
	for (i = 0; i < npoints; i++) {
		struct point *p = &points[i];
		struct bc_stat v = bc_stat(p->val, (size_t)p->nval);
		struct bc_stat r = bc_stat(p->ratio, (size_t)p->nval);
		struct bc_stat x = bc_stat(p->aux, (size_t)p->nval);
		struct bc_stat d = bc_stat(p->diff, (size_t)p->nval);
		char sl[32], a[64], b[64], c[32], e[64];
		int rd;

		scale_label(&scales[p->scale], sl, sizeof(sl));
		if (p->skip) {
			fprintf(md, "| %s | %s | %s | | | | | | |\n", sl,
				kind_name[p->kind], p->why);
			continue;
		}
		fmt_val(a, sizeof(a), v);
		snprintf(b, sizeof(b), "%.3f (%.3f–%.3f)", r.med, r.min, r.max);
		if (cost_metric(opt.workload))
			snprintf(c, sizeof(c), "%.0fk", x.med / 1e3);
		else
			snprintf(c, sizeof(c), "%.0f", x.med);
		if (cost_metric(opt.workload))
			snprintf(e, sizeof(e), "%+.0f (%+.0f – %+.0f)", d.med,
				 d.min, d.max);
		else
			snprintf(e, sizeof(e), "%+.0fk (%+.0f – %+.0f)",
				 d.med / 1e3, d.min / 1e3, d.max / 1e3);
		fprintf(md,
			"| %s | %s | %s | %s | %s | %s | %llu | %llu | %llu |\n",
			sl, kind_name[p->kind], a, e, b, c,
			(unsigned long long)p->received,
			(unsigned long long)p->misrouted,
			(unsigned long long)(p->lost + p->failed));
		if (p->misrouted || p->lost || p->failed) {
			fprintf(stderr,
				"FAIL %s %s %s %s: %llu in the wrong pool, "
				"%llu lost, %llu failed of %llu\n",
				wl_name[opt.workload], opt.topo, sl,
				kind_name[p->kind],
				(unsigned long long)p->misrouted,
				(unsigned long long)p->lost,
				(unsigned long long)p->failed,
				(unsigned long long)p->sent);
			fail = 1;
		}
		if (!csv)
			continue;
		fprintf(csv,
			"%s,%s,%s,%zu,%s,median,%.1f,%.4f,%.1f,%llu,%llu,%llu,%llu,"
			"%.1f\n",
			wl_name[opt.workload], opt.topo, sl,
			scale_x(&scales[p->scale]), kind_key[p->kind], v.med,
			r.med, x.med, (unsigned long long)p->sent,
			(unsigned long long)p->received,
			(unsigned long long)p->misrouted,
			(unsigned long long)(p->lost + p->failed), d.med);
		fprintf(csv, "%s,%s,%s,%zu,%s,min,%.1f,%.4f,%.1f,,,,,%.1f\n",
			wl_name[opt.workload], opt.topo, sl,
			scale_x(&scales[p->scale]), kind_key[p->kind], v.min,
			r.min, x.min, d.min);
		fprintf(csv, "%s,%s,%s,%zu,%s,max,%.1f,%.4f,%.1f,,,,,%.1f\n",
			wl_name[opt.workload], opt.topo, sl,
			scale_x(&scales[p->scale]), kind_key[p->kind], v.max,
			r.max, x.max, d.max);
		for (rd = 0; rd < p->nval; rd++)
			fprintf(csv,
				"%s,%s,%s,%zu,%s,round%d,%.1f,%.4f,%.1f,,,,,%.1f\n",
				wl_name[opt.workload], opt.topo, sl,
				scale_x(&scales[p->scale]), kind_key[p->kind],
				rd, p->val[rd], p->ratio[rd], p->aux[rd],
				p->diff[rd]);
	}
	fprintf(md, "\n");
	if (md != stdout)
		fclose(md);
	if (csv)
		fclose(csv);
	return fail;
}

static void open_ns(void)
{
	int s, w;

	for (s = 0; s < 2; s++) {
		for (w = 0; w < 2; w++) {
			char path[256];

			if (!opt.ns[s][w])
				bc_die("namespaces not given (--ns, --nft-ns)");
			snprintf(path, sizeof(path), "/run/netns/%s",
				 opt.ns[s][w]);
			nsfd[s][w] = open(path, O_RDONLY | O_CLOEXEC);
			if (nsfd[s][w] < 0)
				bc_die("opening %s: %s", path, strerror(errno));
		}
	}
}

static void udp_clients(void)
{
	int s, c;

	for (s = 0; s < 2; s++) {
		enter_side(s, 1);
		for (c = 0; c < opt.ncli; c++) {
			struct sockaddr_in a;
			int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			int bufsz = 4 << 20;

			bc_sin4(&a, bc_client_addr(c), 0);
			if (fd < 0 ||
			    bind(fd, (struct sockaddr *)&a, sizeof(a)))
				bc_die("client socket on 203.0.113.%d: %s",
				       c + 1, strerror(errno));
			setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz,
				   sizeof(bufsz));
			cli_fd[s][c] = fd;
		}
	}
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: netbench --workload udp|tcp|udp-rps --ns SRV,CLI "
		"--nft-ns SRV,CLI [options]\n"
		"       netbench --emit-nft FILE [--scales ...] [--port-base N]\n"
		"  --topo NAME        label of the topology (veth, lo)\n"
		"  --scales LIST      dst and/or source prefix counts "
		"(default dst,1000,100000)\n"
		"  --rounds N         measured rounds (default 5)\n"
		"  --secs S           seconds measured per point per round "
		"(default 0.4)\n"
		"  --warm S           seconds of traffic before (default 0.1)\n"
		"  --clients N        client addresses 203.0.113.1..N "
		"(default 254)\n"
		"  --cpus SND,RCV     sender and receiver CPUs (default 0,1)\n"
		"  --port-base N      first port (default 20000)\n"
		"  --csv FILE         append per-round results\n"
		"  --md FILE          write the table (markdown)\n");
	exit(status);
}

static void split2(const char *arg, const char **a, const char **b)
{
	char *s = strdup(arg), *comma = s ? strchr(s, ',') : NULL;

	if (!comma)
		bc_die("'%s': expected two names separated by a comma", arg);
	*comma = '\0';
	*a = s;
	*b = comma + 1;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "workload", required_argument, NULL, 'w' },
		{ "topo", required_argument, NULL, 't' },
		{ "ns", required_argument, NULL, 'n' },
		{ "nft-ns", required_argument, NULL, 'N' },
		{ "scales", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "secs", required_argument, NULL, 'S' },
		{ "warm", required_argument, NULL, 'W' },
		{ "clients", required_argument, NULL, 'c' },
		{ "cpus", required_argument, NULL, 'C' },
		{ "port-base", required_argument, NULL, 'p' },
		{ "csv", required_argument, NULL, 'o' },
		{ "md", required_argument, NULL, 'm' },
		{ "emit-nft", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	pthread_t rcv;
	int ch, i, k, fail;

	bc_prog_name = "netbench";
	opt.workload = -1;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'w':
			for (i = 0; i < 3; i++)
				if (!strcmp(optarg, wl_name[i]))
					opt.workload = i;
			if (opt.workload < 0)
				bc_die("--workload: '%s' is not udp, tcp "
				       "or udp-rps",
				       optarg);
			break;
		case 't':
			opt.topo = optarg;
			break;
		case 'n':
			split2(optarg, &opt.ns[0][0], &opt.ns[0][1]);
			break;
		case 'N':
			split2(optarg, &opt.ns[1][0], &opt.ns[1][1]);
			break;
		case 's': {
			char *s = strdup(optarg), *tok, *save = NULL;

			opt.nscales = 0;
			for (tok = strtok_r(s, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				if (opt.nscales == MAX_SCALES)
					bc_die("--scales: at most %d",
					       MAX_SCALES);
				opt.scales[opt.nscales++] =
					strcmp(tok, "dst") ?
						(size_t)bc_num(tok, "--scales",
							       8, 1000000) :
						0;
			}
			free(s);
			break;
		}
		case 'r':
			opt.rounds =
				(int)bc_num(optarg, "--rounds", 1, MAX_ROUNDS);
			break;
		case 'S':
			opt.secs = bc_real(optarg, "--secs", 0.05, 60);
			break;
		case 'W':
			opt.warm = bc_real(optarg, "--warm", 0, 10);
			break;
		case 'c':
			opt.ncli = (int)bc_num(optarg, "--clients", 1, MAX_CLI);
			break;
		case 'C':
			bc_cpu_pair(optarg, "--cpus", &opt.snd_cpu,
				    &opt.rcv_cpu);
			break;
		case 'p':
			opt.port_base = (uint16_t)bc_num(optarg, "--port-base",
							 1024, 60000);
			break;
		case 'o':
			opt.csv = optarg;
			break;
		case 'm':
			opt.md = optarg;
			break;
		case 'e':
			opt.emit_nft = optarg;
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
	if (opt.workload == W_TCP)
		proto = IPPROTO_TCP;
	setup_scales();
	if (opt.emit_nft) {
		emit_nft(opt.emit_nft);
		return 0;
	}
	if (opt.workload < 0)
		usage(2);
	open_ns();

	points = calloc(MAX_SCALES * NKINDS, sizeof(*points));
	if (!points)
		bc_die("out of memory");
	for (i = 0; i < opt.nscales; i++) {
		for (k = 0; k < NKINDS; k++) {
			struct point *p = &points[npoints];

			p->id = npoints++;
			p->scale = i;
			p->kind = k;
			setup_point(p);
		}
	}
	if (proto == IPPROTO_UDP)
		udp_clients();
	if (pthread_create(&rcv, NULL, receiver, NULL) ||
	    pthread_create(&snd_thread, NULL, sender, NULL))
		bc_die("pthread_create failed");
	bc_pin(opt.rcv_cpu);
	measure();
	atomic_store(&quit, true);
	pthread_join(snd_thread, NULL);
	pthread_join(rcv, NULL);
	fail = report();
	return fail;
}
