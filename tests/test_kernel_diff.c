// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The differential test against the real kernel: random configurations,
 * real datagrams and connections through a steered group, and for each
 * one the socket that received it compared with the reference matcher
 * (src/match.c). Where tests/test_diff.c checks the compiler against the
 * matcher in userspace, this checks what the kernel actually does with
 * the classic BPF program and with the eBPF program and its tables (the
 * backend comes from SKSTEER_TEST_BACKEND; tests/run.sh runs both).
 *
 * Addresses: 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/64 (/32 for
 * the clustered IPv6 sets) are made
 * local with "local" routes on lo in a fresh namespace, so a client can
 * send from and to any of them.
 */
#include "internal.h"
#include "steer_util.h"
#include "tables.h"
#include "fuzz/gen.h"

#define NCONFIGS 12
#define NFLOWS	 160
#define NTCP	 12

static bool g_proto_is_tcp(const char *proto)
{
	return !strcmp(proto, "tcp");
}

/* SKSTEER_KDIFF_SEED=N replays a failure (the seed is in its message) */
static uint64_t seed_of(uint64_t base)
{
	const char *s = getenv("SKSTEER_KDIFF_SEED");

	return s ? strtoull(s, NULL, 0) : base;
}

/* A random address of the test space: IPv4 in the two /24s, or IPv6. */
static void rand_addr(struct gen_rng *r, bool v6, char *buf, size_t sz)
{
	if (v6)
		snprintf(buf, sz, "2001:db8::%x:%x", gen_below(r, 3),
			 gen_below(r, 0x40));
	else
		snprintf(buf, sz, "%s.%u",
			 gen_below(r, 2) ? "198.51.100" : "203.0.113",
			 gen_below(r, 64));
}

static void rand_prefix(struct gen_rng *r, bool v6, char *buf, size_t sz)
{
	if (v6) {
		static const int lens[] = { 112, 122, 124, 126, 127, 128 };
		int len = lens[gen_below(r, ARRAY_SIZE(lens))];
		uint32_t host = gen_below(r, 0x40);

		/* host bits of the last 16-bit group */
		host &= 0xffffu << (128 - len > 16 ? 16 : 128 - len);
		snprintf(buf, sz, "2001:db8::%x:%x/%d", gen_below(r, 3),
			 len <= 112 ? 0 : host, len);
	} else {
		static const int lens[] = { 24, 26, 27, 28, 30, 31, 32 };
		int len = lens[gen_below(r, ARRAY_SIZE(lens))];
		uint32_t host = gen_below(r, 64) & (0xffu << (32 - len));

		snprintf(buf, sz, "%s.%u/%d",
			 gen_below(r, 2) ? "198.51.100" : "203.0.113", host,
			 len);
	}
}

static size_t cat(char *buf, size_t sz, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static size_t cat(char *buf, size_t sz, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + len, sz - len, fmt, ap);
	va_end(ap);
	ASSERT(n >= 0 && len + (size_t)n < sz, "config too long");
	return len + (size_t)n;
}

static size_t rand_list(struct gen_rng *r, bool dual, bool v6only, char *buf,
			size_t sz, size_t len)
{
	int n = 1 + (int)gen_below(r, 4), i;
	char p[64];

	for (i = 0; i < n; i++) {
		bool v6 = v6only || (dual && gen_below(r, 2));

		rand_prefix(r, v6, p, sizeof(p));
		len = cat(buf, sz, len, "%s%s", i ? ", " : "", p);
	}
	return len;
}

static const char *const ops[] = { "==", "!=", "<", "<=", ">", ">=" };

/* A random service over @proto, listening dual-stack or IPv4 only. */
static void rand_config(struct gen_rng *r, const char *proto, bool dual,
			bool allow_drop, char *buf, size_t sz)
{
	int npools = 1 + (int)gen_below(r, 4),
	    nrules = 1 + (int)gen_below(r, 8);
	size_t len = 0;
	int i;

	len = cat(buf, sz, len, "service k {\n  listen %s %s\n", proto,
		  dual ? "[::]:0" : "0.0.0.0:0");
	for (i = 0; i < npools; i++) {
		len = cat(buf, sz, len, "  pool p%d %u", i,
			  1 + gen_below(r, 3));
		if (gen_below(r, 3) == 0)
			len = cat(buf, sz, len, " { fallback %s }",
				  i && gen_below(r, 2) ? "pool p0" : "hash");
		len = cat(buf, sz, len, "\n");
	}
	for (i = 0; i < nrules; i++) {
		int c = 0;

		len = cat(buf, sz, len, "  rule");
		if (gen_below(r, 2)) {
			len = cat(buf, sz, len, " from ");
			len = rand_list(r, dual, false, buf, sz, len);
			c++;
		}
		if (gen_below(r, 3) == 0) {
			len = cat(buf, sz, len, " to ");
			len = rand_list(r, dual, false, buf, sz, len);
			c++;
		}
		if (gen_below(r, 4) == 0) {
			uint32_t lo = 20000 + gen_below(r, 20000);

			len = cat(buf, sz, len, " sport %u-%u", lo,
				  lo + gen_below(r, 8000));
			c++;
		}
		if (gen_below(r, 3) == 0 || !c) {
			len = cat(buf, sz, len, " payload %u u8 & 0x%x %s %u",
				  gen_below(r, 3), 1 + gen_below(r, 255),
				  ops[gen_below(r, ARRAY_SIZE(ops))],
				  gen_below(r, 64));
		}
		if (allow_drop && gen_below(r, 8) == 0)
			len = cat(buf, sz, len, " drop\n");
		else if (gen_below(r, 8) == 0)
			len = cat(buf, sz, len, " hash\n");
		else
			len = cat(buf, sz, len, " pool p%u%s\n",
				  gen_below(r, (uint32_t)npools),
				  gen_below(r, 4) ? "" : " by payload 1");
	}
	len = cat(buf, sz, len, "  default %s\n}\n",
		  gen_below(r, 3) ? "pool p0" : "hash");
}

/* The reference verdict for a flow: pool name and index, hash or drop. */
struct expect {
	enum sksteer_target_kind kind;
	const char *pool;
	int idx;
	int rule;
};

static void reference(const struct su_group *g, const char *src,
		      const char *dst, uint16_t sport, const uint8_t *pl,
		      size_t plen, struct expect *e)
{
	SKSTEER_OPTS(sksteer_flow, f, .sport = sport, .dport = g->port,
		     .payload = pl, .payload_len = plen);
	struct sk_layout lay;
	struct sk_match m;
	struct sk_pkt pkt;
	uint8_t buf[256];

	f.family = tu_is_v6(src) ? AF_INET6 : AF_INET;
	ASSERT(inet_pton(f.family, src, &f.src) == 1 &&
		       inet_pton(f.family, dst, &f.dst) == 1,
	       "address");
	ASSERT(sk_pkt_build(&f, g->proto, buf, sizeof(buf), &pkt) > 0,
	       "building the packet");
	ASSERT(!sk_layout_declared(g->svc, &lay), "layout");
	ASSERT(!sk_match(g->svc, &lay, &pkt, &m), "sk_match");
	sk_layout_free(&lay);
	e->kind = m.target.kind;
	e->rule = m.rule;
	e->pool = m.target.kind == SKSTEER_TARGET_POOL ?
			  g->svc->pools[m.target.pool].name :
			  NULL;
	e->idx = m.pool_index;
}

static void check_one(struct su_group *g, int landing, const struct expect *e,
		      const char *what, const char *conf, int *wrong)
{
	char b[64];

	if (e->kind == SKSTEER_TARGET_DROP) {
		if (landing == SU_NONE)
			return;
		tl_fail(__FILE__, __LINE__,
			"%s: expected a drop (rule %d), "
			"landed on %s; config:\n%s",
			what, e->rule + 1, su_name(g, landing, b, sizeof(b)),
			conf);
	} else if (e->kind == SKSTEER_TARGET_HASH) {
		if (landing >= 0)
			return;
		tl_fail(__FILE__, __LINE__,
			"%s: the kernel's hash (rule %d) "
			"but %s arrived; config:\n%s",
			what, e->rule + 1, su_name(g, landing, b, sizeof(b)),
			conf);
	} else {
		if (landing >= 0 && !strcmp(g->sk[landing].pool, e->pool) &&
		    g->sk[landing].idx == (unsigned int)e->idx)
			return;
		tl_fail(__FILE__, __LINE__,
			"%s: expected %s[%d] (rule %d), "
			"landed on %s; config:\n%s",
			what, e->pool, e->idx, e->rule + 1,
			su_name(g, landing, b, sizeof(b)), conf);
	}
	if (++*wrong > 5)
		tl_stop(); /* enough to debug from */
}

static void make_local(void)
{
	tl_enter_netns();
	tl_sh("ip route add local 198.51.100.0/24 dev lo && "
	      "ip route add local 203.0.113.0/24 dev lo && "
	      "ip -6 route add local 2001:db8::/64 dev lo");
	/* ICMP errors for dropped datagrams: not rate limited away */
	tl_sh("sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.ip_nonlocal_bind=1");
}

static void run_configs(const char *proto, bool dual, uint64_t seed)
{
	bool drop_ok = su_ebpf();
	struct gen_rng r = { seed };
	int c, wrong = 0, checked = 0;

	for (c = 0; c < NCONFIGS; c++) {
		const char *srcs[NFLOWS], *dsts[NFLOWS];
		char sbuf[NFLOWS][48], dbuf[NFLOWS][48];
		uint8_t pls[NFLOWS][4];
		size_t plens[NFLOWS];
		uint16_t sports[NFLOWS];
		int landing[NFLOWS];
		struct expect e[NFLOWS];
		char conf[4096], what[160];
		struct su_group g;
		int n = g_proto_is_tcp(proto) ? NTCP : NFLOWS, i;

		rand_config(&r, proto, dual, drop_ok, conf, sizeof(conf));
		/* every other group of the eBPF backend on class bitmaps,
		 * the way of configurations the verdicts do not fit */
		sk_tables_max_verdicts = c % 2 ? 0 : SKS_MAX_VERDICTS;
		su_setup(&g, conf);
		sk_tables_max_verdicts = SKS_MAX_VERDICTS;
		for (i = 0; i < n; i++) {
			bool v6 = dual && gen_below(&r, 2);
			size_t k;

			rand_addr(&r, v6, sbuf[i], sizeof(sbuf[i]));
			rand_addr(&r, v6, dbuf[i], sizeof(dbuf[i]));
			srcs[i] = sbuf[i];
			dsts[i] = dbuf[i];
			/* unique ports: a datagram is known by its source;
			 * below the ephemeral ports, one of which is the
			 * group's (a client bound to it is refused) */
			sports[i] =
				(uint16_t)(20000 + i * 70 + gen_below(&r, 70));
			plens[i] = gen_below(&r, 5);
			for (k = 0; k < plens[i]; k++)
				pls[i][k] = (uint8_t)gen_u32(&r);
			/* TCP: the payload is only seen with Fast Open */
			if (g.proto == IPPROTO_TCP)
				plens[i] = 0;
			reference(&g, srcs[i], dsts[i], sports[i], pls[i],
				  plens[i], &e[i]);
		}
		for (i = 0; i < n; i++) {
			uint16_t port = sports[i];

			if (g.proto == IPPROTO_TCP) {
				if (e[i].kind == SKSTEER_TARGET_DROP) {
					if (!CHECK_REFUSED_FLOW(&g, srcs[i],
								dsts[i], port,
								NULL, 0))
						wrong++;
					checked++;
					continue;
				}
				landing[i] = su_tcp(&g, srcs[i], dsts[i], &port,
						    NULL, 0, false);
			} else if (e[i].kind == SKSTEER_TARGET_DROP) {
				if (!CHECK_REFUSED_FLOW(&g, srcs[i], dsts[i],
							port, pls[i], plens[i]))
					wrong++;
				checked++;
				continue;
			} else {
				continue; /* sent in one batch below */
			}
			snprintf(what, sizeof(what), "%s %s:%u -> %s", proto,
				 srcs[i], sports[i], dsts[i]);
			check_one(&g, landing[i], &e[i], what, conf, &wrong);
			checked++;
		}
		if (g.proto == IPPROTO_UDP) {
			/* every datagram that is delivered, in one batch, each
			 * from its own source port */
			for (i = 0; i < n; i++) {
				uint16_t port = sports[i];

				if (e[i].kind == SKSTEER_TARGET_DROP)
					continue;
				landing[i] = su_udp(&g, srcs[i], dsts[i], &port,
						    pls[i], plens[i]);
				snprintf(what, sizeof(what),
					 "udp %s:%u -> %s (%zu bytes)", srcs[i],
					 sports[i], dsts[i], plens[i]);
				check_one(&g, landing[i], &e[i], what, conf,
					  &wrong);
				checked++;
			}
		}
		su_free(&g);
	}
	CHECK(checked >= NCONFIGS * (g_proto_is_tcp(proto) ? NTCP / 2 :
							     NFLOWS / 2),
	      "only %d flows checked", checked);
}

#define T_DIFF(name, proto, dual, seed)                  \
	TEST_TIMEOUT(name, 120)                          \
	{                                                \
		make_local();                            \
		run_configs(proto, dual, seed_of(seed)); \
	}

T_DIFF(udp4, "udp", false, 0x1234567)
T_DIFF(udp_dual, "udp", true, 0x2345678)
T_DIFF(tcp4, "tcp", false, 0x3456789)
T_DIFF(tcp_dual, "tcp", true, 0x456789a)

/* ---- clustered IPv6 sets ---- */

#define NCLUSTER_FLOWS 200

static void fmt6(sk_u128 a, char *buf, size_t sz)
{
	struct in6_addr in6;
	int i;

	for (i = 15; i >= 0; i--, a >>= 8)
		in6.s6_addr[i] = (uint8_t)a;
	inet_ntop(AF_INET6, &in6, buf, (socklen_t)sz);
}

/* an address on or next to an edge of a range of the rules' sets, or in
 * one, or anywhere in 2001:db8::/32 */
static sk_u128 pick6(struct gen_rng *r, const struct sksteer_service *svc)
{
	const sk_u128 db8 = (sk_u128)0x20010db8 << 96;
	const struct sk_addrset *s = NULL;
	const struct sk_range6 *g;
	size_t i;

	for (i = 0; i < 4 && !(s && s->n6); i++) {
		const struct sk_rule *ru =
			&svc->rules[gen_below(r, (uint32_t)svc->nrules)];

		s = gen_below(r, 2) ? &ru->from : &ru->to;
	}
	if (!s || !s->n6 || gen_below(r, 10) == 0)
		return db8 | (gen_u128(r) & ~gen_mask128(32));
	g = &s->v6[gen_below(r, (uint32_t)s->n6)];
	switch (gen_below(r, 5)) {
	case 0:
		return g->lo - 1;
	case 1:
		return g->lo;
	case 2:
		return g->hi;
	case 3:
		return g->hi + 1;
	default:
		return g->lo + ((g->hi - g->lo) >> gen_below(r, 128));
	}
}

/*
 * Datagrams from and to addresses on the edges of the service's IPv6
 * ranges, each where the reference matcher says, through the kernel.
 */
static void check_clustered(const char *name, const char *conf,
			    struct gen_rng *r)
{
	static char sbuf[NCLUSTER_FLOWS][48], dbuf[NCLUSTER_FLOWS][48];
	const char *srcs[NCLUSTER_FLOWS], *dsts[NCLUSTER_FLOWS];
	uint8_t pls[NCLUSTER_FLOWS][4];
	size_t plens[NCLUSTER_FLOWS];
	uint16_t sports[NCLUSTER_FLOWS];
	struct expect e[NCLUSTER_FLOWS];
	const sk_u128 db8 = (sk_u128)0x20010db8 << 96;
	struct su_group g;
	int i, wrong = 0, checked = 0;
	char what[160];

	su_setup(&g, conf);
	for (i = 0; i < NCLUSTER_FLOWS; i++) {
		sk_u128 s = pick6(r, g.svc), d = pick6(r, g.svc);
		size_t k;

		/* the namespace's local routes cover 2001:db8::/32 only */
		if ((s >> 96) != 0x20010db8)
			s = db8 | (s & ~gen_mask128(32));
		if ((d >> 96) != 0x20010db8)
			d = db8 | (d & ~gen_mask128(32));
		fmt6(s, sbuf[i], sizeof(sbuf[i]));
		fmt6(d, dbuf[i], sizeof(dbuf[i]));
		srcs[i] = sbuf[i];
		dsts[i] = dbuf[i];
		/* unique, and below the ephemeral ports (the group's) */
		sports[i] = (uint16_t)(20000 + i * 60 + gen_below(r, 60));
		plens[i] = gen_below(r, 5);
		for (k = 0; k < plens[i]; k++)
			pls[i][k] = (uint8_t)gen_below(r, 4);
		reference(&g, srcs[i], dsts[i], sports[i], pls[i], plens[i],
			  &e[i]);
	}
	for (i = 0; i < NCLUSTER_FLOWS; i++) {
		uint16_t port = sports[i];
		int landing;

		snprintf(what, sizeof(what),
			 "%s: udp [%s]:%u -> %s (%zu bytes)", name, srcs[i],
			 sports[i], dsts[i], plens[i]);
		if (e[i].kind == SKSTEER_TARGET_DROP) {
			if (!CHECK_REFUSED_FLOW(&g, srcs[i], dsts[i], port,
						pls[i], plens[i]))
				wrong++;
		} else {
			landing = su_udp(&g, srcs[i], dsts[i], &port, pls[i],
					 plens[i]);
			check_one(&g, landing, &e[i], what, conf, &wrong);
		}
		checked++;
	}
	su_free(&g);
	CHECK(checked == NCLUSTER_FLOWS, "%s: %d flows checked", name, checked);
}

/* Tables whose index straddles the two 64-bit halves of an address, for
 * @conf's IPv6 trees: the shape the program once got wrong. */
static unsigned int straddling(const char *conf)
{
	struct sksteer_config *cfg;
	struct sk_layout lay;
	struct sk_tables t;
	unsigned int n = 0;
	size_t i;
	int k;

	cfg = sksteer_config__parse_string(conf, strlen(conf), "c.conf", NULL);
	ASSERT(cfg, "parse: %s", tl_messages());
	ASSERT(!sk_layout_declared(sksteer_config__service(cfg, 0), &lay),
	       "layout");
	ASSERT(!sk_tables_build(sksteer_config__service(cfg, 0), &lay, &t),
	       "tables: %s", tl_messages());
	for (k = SKS_TREE_SRC6; k <= SKS_TREE_DST6; k++)
		n += t.root[k].bits && t.root[k].shift < 64 &&
		     t.root[k].shift + t.root[k].bits > 64;
	for (i = 0; i < t.nbuckets; i++)
		n += (t.buckets[i].flags & SKS_BUCKET_TABLE) &&
		     t.buckets[i].shift < 64 &&
		     t.buckets[i].shift + t.buckets[i].bits > 64;
	sk_tables_free(&t);
	sk_layout_free(&lay);
	sksteer_config__free(cfg);
	return n;
}

/*
 * @n prefixes of 2001:db8::/32 in a few clusters (hosts and small
 * prefixes crowded in /57s to /66s, where an index crosses the halves),
 * a few spread out.
 */
static size_t clustered_set(struct gen_rng *r, int n, char *buf, size_t sz,
			    size_t len)
{
	static const int clen[] = { 48, 56, 57, 58, 60, 61, 62, 63, 64, 65 };
	const sk_u128 db8 = (sk_u128)0x20010db8 << 96;
	sk_u128 cb[4];
	int cl[4], nc = 1 + (int)gen_below(r, 4), i, k;
	char a[48];

	for (k = 0; k < nc; k++) {
		cl[k] = clen[gen_below(r, ARRAY_SIZE(clen))];
		cb[k] = (db8 | (gen_u128(r) & ~gen_mask128(32))) &
			gen_mask128(cl[k]);
	}
	for (i = 0; i < n; i++) {
		int l;
		sk_u128 base;

		k = (int)gen_below(r, (uint32_t)nc);
		l = gen_below(r, 10) < 6 ? 128 :
		    cl[k] < 58		 ? 64 :
					   cl[k] + 8 + (int)gen_below(r, 50);
		base = gen_below(r, 20) ? cb[k] : db8;
		fmt6((base | (gen_u128(r) &
			      ~gen_mask128(gen_below(r, 20) ? cl[k] : 32))) &
			     gen_mask128(l),
		     a, sizeof(a));
		len = cat(buf, sz, len, "    %s/%d\n", a, l);
	}
	return len;
}

/*
 * Clustered IPv6 sets, 600 range boundaries and more, through the real
 * kernel with each backend: the eBPF trees' tables (their index bits
 * across the 64-bit halves of the address, the shapes that once went to
 * the wrong pool: /64s crowded in a /57, a hundred hosts in one /64) and
 * the classic program's word compares, against the reference matcher.
 * Host routes cost the classic program about twelve instructions a
 * boundary: its sets of them are half as large.
 */
TEST_TIMEOUT(udp_clustered_ipv6, 180)
{
	static char conf[64 << 10];
	struct gen_rng r = { seed_of(0x6c1057) };
	unsigned int straddle = 0;
	int i, c, n, pct, big = su_ebpf() ? 2 : 1;
	size_t len;

	make_local();
	tl_sh("ip -6 route add local 2001:db8::/32 dev lo");

	/* 40 non-adjacent /64s in one /57 and 260 elsewhere: 600
	 * boundaries; fewer elsewhere where the kernel takes less classic
	 * BPF (6.1's optmem_max: test_cbpf_fit holds the limit itself) */
	for (n = 260;; n = n * 3 / 4) {
		len = cat(conf, sizeof(conf), 0,
			  "service k {\n  listen udp [::]:0\n  pool a 2\n"
			  "  pool b 1\n  set isp {\n");
		for (i = 0; i < 40; i++)
			len = cat(conf, sizeof(conf), len,
				  "    2001:db8:0:%x::/64\n", 2 * i);
		for (i = 0; i < n; i++)
			len = cat(conf, sizeof(conf), len,
				  "    2001:db8:%x::/64\n", 2 * i + 1);
		cat(conf, sizeof(conf), len,
		    "  }\n  rule from @isp pool a\n  default pool b\n}\n");
		if (su_ebpf() || su_fits_kernel(conf))
			break;
		ASSERT(n >= 80,
		       "the kernel takes no classic BPF program for "
		       "40 + %d /64s",
		       n);
	}
	straddle += straddling(conf);
	check_clustered("/64s in a /57", conf, &r);

	/* a hundred hosts in one /64, and hosts in four adjacent /64s (a
	 * quarter fewer at a time where the kernel takes less classic BPF) */
	for (pct = 100;; pct -= 25) {
		ASSERT(pct > 0, "the kernel takes no classic BPF program of "
				"hosts in /64s");
		len = cat(conf, sizeof(conf), 0,
			  "service k {\n  listen udp [::]:0\n  pool a 2\n"
			  "  pool b 2\n  pool c 1\n  set h {\n");
		for (i = 0; i < 50 * big * pct / 100; i++)
			len = cat(conf, sizeof(conf), len,
				  "    2001:db8:0:1:%x:%x:%x:%x\n",
				  gen_u32(&r) & 0xffff, gen_u32(&r) & 0xffff,
				  gen_u32(&r) & 0xffff, gen_u32(&r) & 0xffff);
		len = cat(conf, sizeof(conf), len, "  }\n  set q {\n");
		for (i = 0; i < 100 * big * pct / 100; i++)
			len = cat(conf, sizeof(conf), len,
				  "    2001:db8:0:%x:%x::%x\n",
				  gen_below(&r, 4) + 4, gen_below(&r, 4) << 14,
				  gen_u32(&r) & 0xffff);
		cat(conf, sizeof(conf), len,
		    "  }\n  rule from @h payload 0 u8 < 2 pool a\n"
		    "  rule to @q pool b by payload 1:1\n"
		    "  rule from 2001:db8:0:1::/64 pool c\n  default hash\n}\n");
		if (su_ebpf() || su_fits_kernel(conf))
			break;
	}
	straddle += straddling(conf);
	check_clustered("hosts in /64s", conf, &r);

	for (c = 0; c < 3; c++) {
		for (pct = 100;; pct -= 25) {
			ASSERT(pct > 0, "the kernel takes no classic BPF "
					"program of a clustered set");
			len = cat(conf, sizeof(conf), 0,
				  "service k {\n  listen udp [::]:0\n"
				  "  pool a 2\n  pool b 3\n  set s {\n");
			len = clustered_set(&r, 160 * big * pct / 100, conf,
					    sizeof(conf), len);
			len = cat(conf, sizeof(conf), len, "  }\n  set t {\n");
			len = clustered_set(&r, 12, conf, sizeof(conf), len);
			cat(conf, sizeof(conf), len,
			    "  }\n  rule to @t sport 20000-30000 hash\n"
			    "  rule from @s payload 0 u8 & 1 == 1 pool a\n"
			    "  rule to @t pool b\n  default pool b\n}\n");
			if (su_ebpf() || su_fits_kernel(conf))
				break;
		}
		straddle += straddling(conf);
		check_clustered("clustered", conf, &r);
	}
	CHECK(straddle > 0, "no configuration had a table whose index "
			    "straddles the 64-bit halves");
}
