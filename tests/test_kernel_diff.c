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
 * Addresses: 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/64 are made
 * local with "local" routes on lo in a fresh namespace, so a client can
 * send from and to any of them.
 */
#include "internal.h"
#include "steer_util.h"

#define NCONFIGS 12
#define NFLOWS 160
#define NTCP 12

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

struct rnd {
	uint64_t s;
};

static uint32_t rnd(struct rnd *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return (uint32_t)(r->s >> 11);
}

static uint32_t below(struct rnd *r, uint32_t n)
{
	return n ? rnd(r) % n : 0;
}

/* A random address of the test space: IPv4 in the two /24s, or IPv6. */
static void rand_addr(struct rnd *r, bool v6, char *buf, size_t sz)
{
	if (v6)
		snprintf(buf, sz, "2001:db8::%x:%x", below(r, 3),
			 below(r, 0x40));
	else
		snprintf(buf, sz, "%s.%u",
			 below(r, 2) ? "198.51.100" : "203.0.113",
			 below(r, 64));
}

static void rand_prefix(struct rnd *r, bool v6, char *buf, size_t sz)
{
	if (v6) {
		static const int lens[] = { 112, 122, 124, 126, 127, 128 };
		int len = lens[below(r, ARRAY_SIZE(lens))];
		uint32_t host = below(r, 0x40);

		/* host bits of the last 16-bit group */
		host &= 0xffffu << (128 - len > 16 ? 16 : 128 - len);
		snprintf(buf, sz, "2001:db8::%x:%x/%d", below(r, 3),
			 len <= 112 ? 0 : host, len);
	} else {
		static const int lens[] = { 24, 26, 27, 28, 30, 31, 32 };
		int len = lens[below(r, ARRAY_SIZE(lens))];
		uint32_t host = below(r, 64) & (0xffu << (32 - len));

		snprintf(buf, sz, "%s.%u/%d",
			 below(r, 2) ? "198.51.100" : "203.0.113", host, len);
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

static size_t rand_list(struct rnd *r, bool dual, bool v6only, char *buf,
			size_t sz, size_t len)
{
	int n = 1 + (int)below(r, 4), i;
	char p[64];

	for (i = 0; i < n; i++) {
		bool v6 = v6only || (dual && below(r, 2));

		rand_prefix(r, v6, p, sizeof(p));
		len = cat(buf, sz, len, "%s%s", i ? ", " : "", p);
	}
	return len;
}

static const char *const ops[] = { "==", "!=", "<", "<=", ">", ">=" };

/* A random service over @proto, listening dual-stack or IPv4 only. */
static void rand_config(struct rnd *r, const char *proto, bool dual,
			bool allow_drop, char *buf, size_t sz)
{
	int npools = 1 + (int)below(r, 4), nrules = 1 + (int)below(r, 8);
	size_t len = 0;
	int i;

	len = cat(buf, sz, len, "service k {\n  listen %s %s\n", proto,
		  dual ? "[::]:0" : "0.0.0.0:0");
	for (i = 0; i < npools; i++) {
		len = cat(buf, sz, len, "  pool p%d %u", i, 1 + below(r, 3));
		if (below(r, 3) == 0)
			len = cat(buf, sz, len, " { fallback %s }",
				  i && below(r, 2) ? "pool p0" : "hash");
		len = cat(buf, sz, len, "\n");
	}
	for (i = 0; i < nrules; i++) {
		int c = 0;

		len = cat(buf, sz, len, "  rule");
		if (below(r, 2)) {
			len = cat(buf, sz, len, " from ");
			len = rand_list(r, dual, false, buf, sz, len);
			c++;
		}
		if (below(r, 3) == 0) {
			len = cat(buf, sz, len, " to ");
			len = rand_list(r, dual, false, buf, sz, len);
			c++;
		}
		if (below(r, 4) == 0) {
			uint32_t lo = 20000 + below(r, 20000);

			len = cat(buf, sz, len, " sport %u-%u", lo,
				  lo + below(r, 8000));
			c++;
		}
		if (below(r, 3) == 0 || !c) {
			len = cat(buf, sz, len, " payload %u u8 & 0x%x %s %u",
				  below(r, 3), 1 + below(r, 255),
				  ops[below(r, ARRAY_SIZE(ops))], below(r, 64));
		}
		if (allow_drop && below(r, 8) == 0)
			len = cat(buf, sz, len, " drop\n");
		else if (below(r, 8) == 0)
			len = cat(buf, sz, len, " hash\n");
		else
			len = cat(buf, sz, len, " pool p%u%s\n",
				  below(r, (uint32_t)npools),
				  below(r, 4) ? "" : " by payload 1");
	}
	len = cat(buf, sz, len, "  default %s\n}\n",
		  below(r, 3) ? "pool p0" : "hash");
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

	f.family = su_is_v6(src) ? AF_INET6 : AF_INET;
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
		tl_fail(__FILE__, __LINE__, "%s: expected a drop (rule %d), "
			"landed on %s; config:\n%s", what, e->rule + 1,
			su_name(g, landing, b, sizeof(b)), conf);
	} else if (e->kind == SKSTEER_TARGET_HASH) {
		if (landing >= 0)
			return;
		tl_fail(__FILE__, __LINE__, "%s: the kernel's hash (rule %d) "
			"but %s arrived; config:\n%s", what, e->rule + 1,
			su_name(g, landing, b, sizeof(b)), conf);
	} else {
		if (landing >= 0 && !strcmp(g->sk[landing].pool, e->pool) &&
		    g->sk[landing].idx == (unsigned int)e->idx)
			return;
		tl_fail(__FILE__, __LINE__, "%s: expected %s[%d] (rule %d), "
			"landed on %s; config:\n%s", what, e->pool, e->idx,
			e->rule + 1, su_name(g, landing, b, sizeof(b)), conf);
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
	struct rnd r = { seed };
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
		su_setup(&g, conf);
		for (i = 0; i < n; i++) {
			bool v6 = dual && below(&r, 2);
			size_t k;

			rand_addr(&r, v6, sbuf[i], sizeof(sbuf[i]));
			rand_addr(&r, v6, dbuf[i], sizeof(dbuf[i]));
			srcs[i] = sbuf[i];
			dsts[i] = dbuf[i];
			/* unique ports: a datagram is known by its source */
			sports[i] = (uint16_t)(20000 + i * 97 + below(&r, 97));
			plens[i] = below(&r, 5);
			for (k = 0; k < plens[i]; k++)
				pls[i][k] = (uint8_t)rnd(&r);
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
			snprintf(what, sizeof(what), "%s %s:%u -> %s",
				 proto, srcs[i], sports[i], dsts[i]);
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

#define T_DIFF(name, proto, dual, seed)                                    \
	TEST_TIMEOUT(name, 120)                                              \
	{                                                                    \
		make_local();                                                \
		run_configs(proto, dual, seed_of(seed));                     \
	}

T_DIFF(udp4, "udp", false, 0x1234567)
T_DIFF(udp_dual, "udp", true, 0x2345678)
T_DIFF(tcp4, "tcp", false, 0x3456789)
T_DIFF(tcp_dual, "tcp", true, 0x456789a)
