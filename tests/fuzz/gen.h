/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Random services and packets for the differential test (tests/test_diff.c)
 * and the fuzz targets: configuration TEXT (so that every case also goes
 * through the parser), group layouts with closed sockets as the kernel
 * leaves them, and raw packets aimed at the boundaries of the rules.
 * Header-only so that gcc (tests) and clang (fuzzers) build it without
 * Makefile support.
 */
#ifndef __SKSTEER_TEST_GEN_H
#define __SKSTEER_TEST_GEN_H

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- random numbers: splitmix64, deterministic from a seed ---- */

struct gen_rng {
	uint64_t s;
};

static inline uint64_t gen_u64(struct gen_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint32_t gen_u32(struct gen_rng *r)
{
	return (uint32_t)(gen_u64(r) >> 32);
}

/* uniform in [0, n) (n > 0) */
static inline uint32_t gen_below(struct gen_rng *r, uint32_t n)
{
	return (uint32_t)(((gen_u64(r) >> 32) * (uint64_t)n) >> 32);
}

/* uniform in [lo, hi] */
static inline uint32_t gen_range(struct gen_rng *r, uint32_t lo, uint32_t hi)
{
	return lo + gen_below(r, hi - lo + 1);
}

/* true with probability pct/100 */
static inline bool gen_pct(struct gen_rng *r, unsigned int pct)
{
	return gen_below(r, 100) < pct;
}

static inline sk_u128 gen_u128(struct gen_rng *r)
{
	return ((sk_u128)gen_u64(r) << 64) | gen_u64(r);
}

/* ---- growing text ---- */

struct gen_buf {
	char *s;
	size_t n, cap;
};

static inline void gen_printf(struct gen_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline void gen_printf(struct gen_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->n : NULL,
			      b->s ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if (b->s && b->n + (size_t)n < b->cap)
			break;
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		if (!b->s)
			abort();
	}
	b->n += (size_t)n;
}

static inline void gen_buf_free(struct gen_buf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

/* ---- what to generate ---- */

enum gen_fam {
	GEN_FAM_ANY, /* any listen address */
	GEN_FAM_4, /* 0.0.0.0 or an IPv4 address */
	GEN_FAM_6, /* [::] v6only or an IPv6 address */
	GEN_FAM_DUAL, /* [::] */
};

struct gen_opts {
	enum gen_fam fam;
	int proto; /* 0: either */
	bool allow_drop; /* drop targets and drop fallbacks (eBPF only) */
	int max_rules;
	int pay_pct; /* how often a rule gets payload tests / keys */
	int big4, big6; /* ranges of one large set per family (0: none) */
	int odd_pct; /* packets of odd shape (options, chains, versions) */
	int big_pool; /* pools of up to this many sockets now and then */
};

/* clusters every address of a configuration is drawn near, so that
 * prefixes overlap and packets land on their edges */
struct gen_space {
	uint32_t c4[4];
	sk_u128 c6[4];
};

static inline void gen_space_init(struct gen_rng *r, struct gen_space *sp)
{
	static const uint32_t fixed4[] = { 0xc6336400, 0xcb007100, 0,
					   0xffffff00, 0x7f000000 };
	int i;

	for (i = 0; i < 4; i++) {
		sp->c4[i] =
			gen_pct(r, 50) ? fixed4[gen_below(r, 5)] : gen_u32(r);
		sp->c6[i] = gen_pct(r, 60) ? ((sk_u128)0x20010db8 << 96) |
						     (gen_u128(r) >> 32) :
					     gen_u128(r);
		if (gen_pct(r, 10))
			sp->c6[i] = gen_pct(r, 50) ? 0 : ~(sk_u128)0;
	}
}

static inline sk_u128 gen_mask128(int len)
{
	if (len <= 0)
		return 0;
	if (len >= 128)
		return ~(sk_u128)0;
	return ~(((sk_u128)1 << (128 - len)) - 1);
}

static inline uint32_t gen_mask32(int len)
{
	return len <= 0	 ? 0 :
	       len >= 32 ? 0xffffffffu :
			   ~((1u << (32 - len)) - 1);
}

static inline bool gen_v4mapped(sk_u128 a)
{
	return (a >> 32) == 0xffff;
}

/* an address near one of the clusters */
static inline uint32_t gen_addr4(struct gen_rng *r, const struct gen_space *sp)
{
	uint32_t c = sp->c4[gen_below(r, 4)];
	int keep = (int)gen_range(r, 8, 30);

	if (gen_pct(r, 5))
		return gen_u32(r);
	return (c & gen_mask32(keep)) | (gen_u32(r) & ~gen_mask32(keep));
}

static inline sk_u128 gen_addr6(struct gen_rng *r, const struct gen_space *sp)
{
	static const int keeps[] = {
		16, 32, 48, 60, 64, 80, 96, 100, 112, 124
	};
	sk_u128 c = sp->c6[gen_below(r, 4)], a;
	int keep = keeps[gen_below(r, ARRAY_SIZE(keeps))];

	a = gen_pct(r, 5) ? gen_u128(r) :
			    (c & gen_mask128(keep)) |
				    (gen_u128(r) & ~gen_mask128(keep));
	if (gen_v4mapped(a))
		a ^= (sk_u128)1 << 40;
	return a;
}

static inline int gen_len4(struct gen_rng *r)
{
	unsigned int p = gen_below(r, 100);

	if (p < 3)
		return (int)gen_below(r, 8);
	if (p < 20)
		return (int)gen_range(r, 8, 23);
	if (p < 40)
		return 32;
	return (int)gen_range(r, 24, 31);
}

static inline int gen_len6(struct gen_rng *r)
{
	/* word boundaries of the programs' 32-bit compares, and their
	 * neighbours */
	static const int lens[] = {
		0,  1,	16, 31, 32, 33, 47,  48,  56,  63,
		64, 65, 80, 95, 96, 97, 112, 120, 127, 128
	};

	if (gen_pct(r, 70))
		return lens[gen_below(r, ARRAY_SIZE(lens))];
	return (int)gen_below(r, 129);
}

static inline void gen_fmt4(struct gen_buf *b, uint32_t a, int len)
{
	gen_printf(b, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff,
		   a & 0xff);
	if (len >= 0)
		gen_printf(b, "/%d", len);
}

static inline void gen_fmt6(struct gen_buf *b, sk_u128 a, int len)
{
	char s[INET6_ADDRSTRLEN];
	struct in6_addr in6;
	int i;

	for (i = 15; i >= 0; i--, a >>= 8)
		in6.s6_addr[i] = (uint8_t)a;
	inet_ntop(AF_INET6, &in6, s, sizeof(s));
	gen_printf(b, "%s", s);
	if (len >= 0)
		gen_printf(b, "/%d", len);
}

/* A random prefix of @len bits inside @base/@blen (host bits clear). */
static inline sk_u128 gen_rand_in6(struct gen_rng *r, sk_u128 base, int blen,
				   int len)
{
	return (base | (gen_u128(r) & ~gen_mask128(blen))) & gen_mask128(len);
}

/* A line of a set: "    PREFIX\n" (@fam 4: the low 32 bits of @a). */
static inline void gen_set_line(struct gen_buf *b, int fam, sk_u128 a, int len)
{
	gen_printf(b, "    ");
	if (fam == 4)
		gen_fmt4(b, (uint32_t)a, len);
	else
		gen_fmt6(b, a, len);
	gen_printf(b, "\n");
}

/* one random prefix of family 4 or 6, host bits clear */
static inline void gen_prefix(struct gen_rng *r, const struct gen_space *sp,
			      int fam, struct gen_buf *b)
{
	if (fam == 4) {
		int len = gen_len4(r);

		gen_fmt4(b, gen_addr4(r, sp) & gen_mask32(len),
			 len == 32 && gen_pct(r, 50) ? -1 : len);
	} else {
		int len = gen_len6(r);
		sk_u128 a = gen_addr6(r, sp) & gen_mask128(len);

		if (gen_v4mapped(a)) {
			len = 128;
			a = gen_addr6(r, sp);
		}
		gen_fmt6(b, a, len == 128 && gen_pct(r, 50) ? -1 : len);
	}
}

/*
 * A large set of @n to 2 * @n disjoint ranges: the space is cut into @n
 * slots and each slot gets one prefix well inside it (and with
 * probability @extra_pct another one, which may overlap the first).
 */
static inline void gen_big_set(struct gen_rng *r, int fam, int n,
			       unsigned int extra_pct, struct gen_buf *b)
{
	int k = 1, i, j; /* at least two slots: every shift stays below 32 */

	while ((1 << k) < n)
		k++;
	for (i = 0; i < n; i++) {
		int extra = gen_pct(r, extra_pct) ? 1 : 0;

		/* strictly inside the slot: never merged with a neighbour */
		for (j = 0; j <= extra; j++) {
			if (fam == 4) {
				/* slot of 2^(32-k) addresses */
				int len =
					(int)gen_range(r, (uint32_t)k + 2, 32);
				uint32_t slot = (uint32_t)i << (32 - k);
				uint32_t blocks = 1u << (len - k);
				uint32_t at = gen_range(r, 1, blocks - 2);

				gen_fmt4(b,
					 slot + (uint32_t)((uint64_t)at
							   << (32 - len)),
					 len);
			} else {
				/* slots in 2001:db8::/32 */
				int len = (int)gen_range(
					r, 32 + (uint32_t)k + 2, 128);
				sk_u128 base = ((sk_u128)0x20010db8 << 96) |
					       ((sk_u128)i << (96 - k));
				uint64_t blocks, at;

				if (len - 32 - k > 60)
					len = 32 + k + 60;
				blocks = 1ull << (len - 32 - k);
				at = 1 + gen_u64(r) % (blocks - 2);
				gen_fmt6(b, base + ((sk_u128)at << (128 - len)),
					 len);
			}
			gen_printf(b, "\n");
		}
	}
}

struct gen_names {
	int nsets;
	int npools;
};

/* from/to ADDRESS-LIST */
static inline void gen_addr_list(struct gen_rng *r, const struct gen_space *sp,
				 const struct gen_names *nm, int fam,
				 struct gen_buf *b)
{
	int n = (int)gen_range(r, 1, 4), i;

	for (i = 0; i < n; i++) {
		if (i)
			gen_printf(b, ", ");
		if (nm->nsets && gen_pct(r, 30)) {
			gen_printf(b, "@s%u",
				   gen_below(r, (uint32_t)nm->nsets));
			continue;
		}
		gen_prefix(r, sp,
			   fam == 4 || (fam == 0 && gen_pct(r, 50)) ? 4 : 6, b);
	}
}

static inline void gen_target(struct gen_rng *r, const struct gen_opts *o,
			      const struct gen_names *nm, bool rule,
			      struct gen_buf *b)
{
	unsigned int p = gen_below(r, 100);

	if (o->allow_drop && p < 8) {
		gen_printf(b, "drop");
	} else if (p < 28) {
		gen_printf(b, "hash");
	} else {
		gen_printf(b, "pool p%u", gen_below(r, (uint32_t)nm->npools));
		if (rule && gen_pct(r, o->pay_pct / 2 + 5)) {
			static const int w[] = { 1, 2, 4 };
			uint32_t off = gen_pct(r, 90) ? gen_below(r, 24) :
							gen_range(r, 24, 1500);

			if (gen_pct(r, 25))
				gen_printf(b, " by payload %u", off);
			else
				gen_printf(b, " by payload %u:%d", off,
					   w[gen_below(r, 3)]);
		}
	}
}

static inline void gen_paytest(struct gen_rng *r, struct gen_buf *b)
{
	static const char *const ops[] = { "==", "!=", "<", "<=", ">", ">=" };
	static const int w[] = { 1, 2, 4 };
	int width = w[gen_below(r, 3)];
	uint32_t max = width == 4 ? 0xffffffffu : (1u << (8 * width)) - 1;
	uint32_t off = gen_pct(r, 92) ? gen_below(r, 20) :
		       gen_pct(r, 50) ? gen_range(r, 20, 2000) :
					65535 - gen_below(r, 4);
	uint32_t v = gen_pct(r, 30) ? gen_u32(r) & max :
		     gen_pct(r, 50) ? gen_below(r, 4) :
				      max - gen_below(r, 3);

	gen_printf(b, "payload %u u%d", off, width * 8);
	if (gen_pct(r, 40)) {
		uint32_t m =
			gen_pct(r, 50) ?
				gen_u32(r) & max :
				(1u << gen_below(r, (uint32_t)width * 8)) - 1;
		gen_printf(b, gen_pct(r, 50) ? " & %u" : " & %#x", m);
	}
	gen_printf(b, " %s ", ops[gen_below(r, 6)]);
	gen_printf(b, gen_pct(r, 50) ? "%u" : "%#x", v);
}

static inline void gen_sport(struct gen_rng *r, struct gen_buf *b)
{
	uint32_t lo = gen_pct(r, 20) ? gen_below(r, 3) :
		      gen_pct(r, 20) ? 65535 - gen_below(r, 3) :
				       gen_below(r, 65536);
	uint32_t hi = gen_pct(r, 40) ? lo :
		      gen_pct(r, 30) ? 65535 :
				       lo + gen_below(r, 65536 - lo);

	if (lo == hi && gen_pct(r, 50))
		gen_printf(b, "sport %u", lo);
	else
		gen_printf(b, "sport %u-%u", lo, hi);
}

/*
 * A configuration with one service "svc", one statement a line (so that a
 * failing case can be shrunk line by line). Returns the text in @b.
 */
static inline void gen_config(struct gen_rng *r, const struct gen_opts *o,
			      struct gen_buf *b)
{
	struct gen_space sp;
	struct gen_names nm = {};
	enum gen_fam fam = o->fam;
	int fams, i, j, n, proto = o->proto;

	gen_space_init(r, &sp);
	if (fam == GEN_FAM_ANY)
		fam = (enum gen_fam)gen_range(r, GEN_FAM_4, GEN_FAM_DUAL);
	if (!proto)
		proto = gen_pct(r, 50) ? IPPROTO_TCP : IPPROTO_UDP;
	/* prefixes of the family the service receives, mostly */
	fams = fam == GEN_FAM_4 ? 4 : fam == GEN_FAM_6 ? 6 : 0;

	/* top-level sets */
	n = (int)gen_below(r, 3);
	for (i = 0; i < n; i++) {
		gen_printf(b, "set s%d { ", nm.nsets);
		gen_addr_list(r, &sp, &nm, gen_pct(r, 85) ? fams : 0, b);
		gen_printf(b, " }\n");
		nm.nsets++;
	}
	gen_printf(b, "service svc {\n");
	gen_printf(b, "listen %s ", proto == IPPROTO_TCP ? "tcp" : "udp");
	switch (fam) {
	case GEN_FAM_4:
		gen_printf(b, "%s:%u\n",
			   gen_pct(r, 70) ? "0.0.0.0" : "198.51.100.1",
			   gen_range(r, 1, 65535));
		break;
	case GEN_FAM_6:
		if (gen_pct(r, 50))
			gen_printf(b, "[::]:%u v6only\n",
				   gen_range(r, 1, 65535));
		else
			gen_printf(b, "[2001:db8::1]:%u\n",
				   gen_range(r, 1, 65535));
		break;
	default:
		gen_printf(b, "[::]:%u\n", gen_range(r, 1, 65535));
		break;
	}
	nm.npools = (int)gen_range(r, 1, 4);
	for (i = 0; i < nm.npools; i++) {
		unsigned int sz = gen_pct(r, 80) ? gen_range(r, 1, 4) :
						   gen_range(r, 5, 12);

		if (o->big_pool && gen_pct(r, 40))
			sz = gen_range(r, 13, (uint32_t)o->big_pool);

		gen_printf(b, "pool p%d %u", i, sz);
		/* fallbacks only point at earlier pools: no cycle */
		if (!o->allow_drop || gen_pct(r, 70)) {
			if (i && gen_pct(r, 60))
				gen_printf(b, " { fallback pool p%u }",
					   gen_below(r, (uint32_t)i));
			else if (!o->allow_drop || gen_pct(r, 50))
				gen_printf(b, " { fallback hash }");
			else
				gen_printf(b, " { fallback drop }");
		}
		gen_printf(b, "\n");
	}
	/* service sets, possibly built from earlier ones */
	n = (int)gen_below(r, 3);
	for (i = 0; i < n; i++) {
		gen_printf(b, "set s%d { ", nm.nsets);
		gen_addr_list(r, &sp, &nm, gen_pct(r, 85) ? fams : 0, b);
		gen_printf(b, " }\n");
		nm.nsets++;
	}
	/* sizes vary: the jumps of a search tree change with its depth */
	if (o->big4) {
		gen_printf(b, "set big4 {\n");
		gen_big_set(r, 4,
			    (int)gen_range(r, (uint32_t)o->big4 / 8,
					   (uint32_t)o->big4),
			    20, b);
		gen_printf(b, "}\n");
	}
	if (o->big6) {
		gen_printf(b, "set big6 {\n");
		gen_big_set(r, 6,
			    (int)gen_range(r, (uint32_t)o->big6 / 8,
					   (uint32_t)o->big6),
			    20, b);
		gen_printf(b, "}\n");
	}
	n = (int)gen_below(r, (uint32_t)o->max_rules + 1);
	for (i = 0; i < n; i++) {
		int npay = 0;

		bool big_to = false;

		gen_printf(b, "rule");
		if ((o->big4 || o->big6) && gen_pct(r, 60)) {
			const char *set = !o->big6		     ? "big4" :
					  !o->big4 || gen_pct(r, 50) ? "big6" :
								       "big4";

			big_to = gen_pct(r, 50);
			gen_printf(b, " %s @%s", big_to ? "to" : "from", set);
		} else if (gen_pct(r, 45)) {
			gen_printf(b, " from ");
			gen_addr_list(r, &sp, &nm, gen_pct(r, 90) ? fams : 0,
				      b);
		}
		if (!big_to && gen_pct(r, 30)) {
			gen_printf(b, " to ");
			gen_addr_list(r, &sp, &nm, gen_pct(r, 90) ? fams : 0,
				      b);
		}
		if (gen_pct(r, 25)) {
			gen_printf(b, " ");
			gen_sport(r, b);
		}
		if (gen_pct(r, o->pay_pct))
			npay = (int)gen_range(r, 1, 3);
		for (j = 0; j < npay; j++) {
			gen_printf(b, " ");
			gen_paytest(r, b);
		}
		gen_printf(b, " ");
		gen_target(r, o, &nm, true, b);
		gen_printf(b, "\n");
	}
	if (gen_pct(r, 60)) {
		gen_printf(b, "default ");
		gen_target(r, o, &nm, false, b);
		gen_printf(b, "\n");
	}
	gen_printf(b, "}\n");
}

/* ---- group layouts ---- */

/*
 * The layout after @nclose sockets were closed one by one: the kernel
 * moves the group's last socket into the hole (__reuseport_detach_sock),
 * so the positions of a pool's open sockets need not be in order.
 */
static inline int gen_layout(struct gen_rng *r,
			     const struct sksteer_service *svc,
			     unsigned int nclose, struct sk_layout *l)
{
	unsigned int n = svc->nsockets, i, k;
	/* at[pos] = pool << 16 | index */
	uint32_t *at = calloc(n ? n : 1, sizeof(*at));
	size_t p;

	if (!at)
		return -ENOMEM;
	for (p = 0; p < svc->npools; p++)
		for (i = 0; i < svc->pools[p].size; i++)
			at[svc->pools[p].first + i] = (uint32_t)(p << 16 | i);
	for (k = 0; k < nclose && n; k++) {
		unsigned int pos = gen_below(r, n);

		at[pos] = at[n - 1];
		n--;
	}
	l->npools = svc->npools;
	l->pools = calloc(svc->npools ? svc->npools : 1, sizeof(*l->pools));
	if (!l->pools) {
		free(at);
		return -ENOMEM;
	}
	for (p = 0; p < svc->npools; p++) {
		l->pools[p].pos =
			calloc(svc->pools[p].size, sizeof(unsigned int));
		if (!l->pools[p].pos) {
			free(at);
			sk_layout_free(l);
			return -ENOMEM;
		}
		/* by socket index for now: UINT_MAX for a closed one */
		memset(l->pools[p].pos, 0xff,
		       svc->pools[p].size * sizeof(unsigned int));
	}
	for (i = 0; i < n; i++)
		l->pools[at[i] >> 16].pos[at[i] & 0xffff] = i;
	/* then squeezed: the open sockets in pool index order */
	for (p = 0; p < svc->npools; p++) {
		unsigned int m = 0;

		for (i = 0; i < svc->pools[p].size; i++)
			if (l->pools[p].pos[i] != ~0u)
				l->pools[p].pos[m++] = l->pools[p].pos[i];
		l->pools[p].n = m;
	}
	free(at);
	return 0;
}

/* Close every socket of pool @pool (on top of an existing layout), with
 * the kernel's renumbering. */
static inline int gen_layout_empty_pool(const struct sksteer_service *svc,
					struct sk_layout *l, size_t pool)
{
	unsigned int total = 0, i;
	size_t p, q;

	for (p = 0; p < l->npools; p++)
		total += l->pools[p].n;
	while (l->pools[pool].n) {
		unsigned int hole = l->pools[pool].pos[0];

		/* the socket at total - 1 moves into the hole */
		for (q = 0; q < l->npools; q++)
			for (i = 0; i < l->pools[q].n; i++)
				if (l->pools[q].pos[i] == total - 1)
					l->pools[q].pos[i] = hole;
		memmove(l->pools[pool].pos, l->pools[pool].pos + 1,
			(l->pools[pool].n - 1) * sizeof(unsigned int));
		l->pools[pool].n--;
		total--;
	}
	(void)svc;
	return 0;
}

static inline unsigned int gen_layout_open(const struct sk_layout *l)
{
	unsigned int n = 0;
	size_t p;

	for (p = 0; p < l->npools; p++)
		n += l->pools[p].n;
	return n;
}

static inline void gen_layout_fmt(const struct sk_layout *l, struct gen_buf *b)
{
	size_t p;
	unsigned int i;

	for (p = 0; p < l->npools; p++) {
		gen_printf(b, "%sp%zu=[", p ? " " : "", p);
		for (i = 0; i < l->pools[p].n; i++)
			gen_printf(b, "%s%u", i ? "," : "", l->pools[p].pos[i]);
		gen_printf(b, "]");
	}
}

/* Can a packet reach drop, given which pools are empty in @l? (The one
 * reason the classic BPF backend may refuse a service.) */
static inline bool gen_drop_reachable(const struct sksteer_service *svc,
				      const struct sk_layout *l)
{
	size_t i, hops;

	for (i = 0; i <= svc->nrules; i++) {
		struct sk_target t =
			i < svc->nrules ? svc->rules[i].target : svc->deflt;

		for (hops = 0; hops <= svc->npools; hops++) {
			if (t.kind != SKSTEER_TARGET_POOL || l->pools[t.pool].n)
				break;
			t = svc->pools[t.pool].fallback;
		}
		if (t.kind == SKSTEER_TARGET_DROP)
			return true;
	}
	return false;
}

/* ---- packets ---- */

#define GEN_PKT_MAX (65536 + 4096)

struct gen_pkt {
	uint8_t buf[GEN_PKT_MAX];
	struct sk_pkt pkt;
};

static inline void gen_put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void gen_put32(uint8_t *p, uint32_t v)
{
	gen_put16(p, v >> 16);
	gen_put16(p + 2, v);
}

static inline void gen_put128(uint8_t *p, sk_u128 v)
{
	int i;

	for (i = 15; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* An address on or next to an edge of the rules' ranges, or near them. */
static inline uint32_t gen_pick4(struct gen_rng *r,
				 const struct sksteer_service *svc)
{
	size_t i = svc->nrules ? gen_below(r, (uint32_t)svc->nrules) : 0;
	const struct sk_addrset *s = NULL;
	const struct sk_range4 *g;

	if (svc->nrules)
		s = gen_pct(r, 50) ? &svc->rules[i].from : &svc->rules[i].to;
	if (!s || !s->n4 || gen_pct(r, 10))
		return gen_pct(r, 50) ? gen_u32(r) :
					0xc6336400 | gen_below(r, 256);
	g = &s->v4[gen_below(r, (uint32_t)s->n4)];
	switch (gen_below(r, 6)) {
	case 0:
		return g->lo - 1;
	case 1:
		return g->lo;
	case 2:
		return g->hi;
	case 3:
		return g->hi + 1;
	case 4:
		return g->lo + gen_below(r, g->hi - g->lo + 1 ?
						    g->hi - g->lo + 1 :
						    0xffffffffu);
	default:
		return (gen_pct(r, 50) ? g->lo : g->hi) ^
		       (1u << gen_below(r, 32));
	}
}

static inline sk_u128 gen_pick6(struct gen_rng *r,
				const struct sksteer_service *svc)
{
	size_t i = svc->nrules ? gen_below(r, (uint32_t)svc->nrules) : 0;
	const struct sk_addrset *s = NULL;
	const struct sk_range6 *g;
	sk_u128 a;

	if (svc->nrules)
		s = gen_pct(r, 50) ? &svc->rules[i].from : &svc->rules[i].to;
	if (!s || !s->n6 || gen_pct(r, 10))
		return gen_pct(r, 50) ?
			       gen_u128(r) :
			       ((sk_u128)0x20010db8 << 96) | gen_u64(r);
	g = &s->v6[gen_below(r, (uint32_t)s->n6)];
	switch (gen_below(r, 7)) {
	case 0:
		return g->lo - 1;
	case 1:
		return g->lo;
	case 2:
		return g->hi;
	case 3:
		return g->hi + 1;
	case 4:
		/* same high words as an edge, another low word: the programs
		 * compare word by word */
		a = gen_pct(r, 50) ? g->lo : g->hi;
		return a ^ ((sk_u128)gen_u32(r) << (32 * gen_below(r, 4)));
	case 5:
		return g->lo + ((g->hi - g->lo) >> gen_below(r, 128));
	default:
		return (gen_pct(r, 50) ? g->lo : g->hi) ^
		       ((sk_u128)1 << gen_below(r, 128));
	}
}

static inline uint16_t gen_pick_port(struct gen_rng *r,
				     const struct sksteer_service *svc)
{
	const struct sk_rule *ru;
	size_t i;

	if (!svc->nrules || gen_pct(r, 25))
		return gen_pct(r, 20) ? (uint16_t)(gen_pct(r, 50) ? 0 : 65535) :
					(uint16_t)gen_u32(r);
	i = gen_below(r, (uint32_t)svc->nrules);
	ru = &svc->rules[i];
	if (!ru->has_sport)
		return (uint16_t)gen_u32(r);
	switch (gen_below(r, 5)) {
	case 0:
		return (uint16_t)(ru->sport_lo - 1);
	case 1:
		return ru->sport_lo;
	case 2:
		return ru->sport_hi;
	case 3:
		return (uint16_t)(ru->sport_hi + 1);
	default:
		return (uint16_t)gen_range(r, ru->sport_lo, ru->sport_hi);
	}
}

/* A payload length on the edge of what some test or key needs. */
static inline size_t gen_pick_plen(struct gen_rng *r,
				   const struct sksteer_service *svc)
{
	const struct sk_rule *ru;
	size_t need;

	if (!svc->nrules || gen_pct(r, 30))
		return gen_pct(r, 30) ? 0 : gen_below(r, 48);
	ru = &svc->rules[gen_below(r, (uint32_t)svc->nrules)];
	if (ru->npay && (gen_pct(r, 70) || !ru->target.by_payload)) {
		const struct sk_paytest *t =
			&ru->pay[gen_below(r, (uint32_t)ru->npay)];

		need = t->off + t->width;
	} else if (ru->target.by_payload) {
		need = ru->target.key_off + ru->target.key_width;
	} else {
		return gen_below(r, 48);
	}
	need = need - 1 + gen_below(r, 3);
	if (gen_pct(r, 10))
		need += gen_below(r, 64);
	return need;
}

/* Make some payload tests hold: write their value (or one off) in. */
static inline void gen_plant(struct gen_rng *r,
			     const struct sksteer_service *svc, uint8_t *pay,
			     size_t plen)
{
	size_t i, j;

	for (i = 0; i < svc->nrules; i++) {
		const struct sk_rule *ru = &svc->rules[i];

		for (j = 0; j < ru->npay; j++) {
			const struct sk_paytest *t = &ru->pay[j];
			uint32_t v = t->value, cur = 0;
			int k;

			if (t->off + t->width > plen || !gen_pct(r, 40))
				continue;
			v += gen_below(r, 3) - 1;
			for (k = 0; k < t->width; k++)
				cur = cur << 8 | pay[t->off + (size_t)k];
			if (t->has_mask)
				v = (v & t->mask) | (cur & ~t->mask);
			for (k = t->width - 1; k >= 0; k--, v >>= 8)
				pay[t->off + (size_t)k] = (uint8_t)v;
		}
	}
}

/*
 * A well-formed packet for @svc (what the kernel would deliver), or now
 * and then one the kernel never delivers but SEMANTICS still defines: a
 * version the service cannot receive, or an unknown version nibble. IPv4
 * options, IPv6 extension header chains (more than four now and then) and
 * TCP options make the headers' lengths vary.
 */
static inline void gen_packet(struct gen_rng *r,
			      const struct sksteer_service *svc, int odd_pct,
			      struct gen_pkt *g)
{
	uint8_t *b = g->buf;
	size_t off, thoff, plen, i;
	int ver, nib;
	bool odd = gen_pct(r, (unsigned int)odd_pct);

	if (svc->recv4 && svc->recv6)
		ver = gen_pct(r, 50) ? 4 : 6;
	else
		ver = svc->recv4 ? 4 : 6;
	nib = ver;
	if (odd && gen_pct(r, 15)) {
		/* the other version, or no version at all */
		if (gen_pct(r, 50)) {
			ver = ver == 4 ? 6 : 4;
			nib = ver;
		} else {
			do
				nib = (int)gen_below(r, 16);
			while (nib == 4 || nib == 6);
		}
	}
	if (ver == 4) {
		int ihl = odd && gen_pct(r, 50) ? (int)gen_range(r, 6, 15) : 5;

		memset(b, 0, 20);
		b[0] = (uint8_t)(4 << 4 | ihl);
		b[8] = 64;
		b[9] = (uint8_t)svc->proto;
		gen_put32(b + 12, gen_pick4(r, svc));
		gen_put32(b + 16, gen_pick4(r, svc));
		/* options: NOPs, or junk (a program must not parse them) */
		for (i = 20; i < (size_t)ihl * 4; i++)
			b[i] = gen_pct(r, 50) ? 1 : (uint8_t)gen_u32(r);
		thoff = (size_t)ihl * 4;
	} else {
		uint8_t *nhp = b + 6;
		int next = 0, k;

		memset(b, 0, 40);
		b[0] = 6 << 4;
		b[7] = 64;
		gen_put128(b + 8, gen_pick6(r, svc));
		gen_put128(b + 24, gen_pick6(r, svc));
		off = 40;
		if (odd && gen_pct(r, 60)) {
			static const uint8_t ext[] = { 0, 43, 60, 44, 51 };

			next = (int)gen_range(r, 1, gen_pct(r, 70) ? 4 : 6);
			for (k = 0; k < next; k++) {
				uint8_t t = ext[gen_below(r, 5)];
				uint8_t hl =
					(uint8_t)(gen_pct(r, 80) ?
							  gen_below(r, 3) :
							  gen_below(r, 256));
				size_t sz;

				if (t == 44)
					sz = 8;
				else if (t == 51)
					sz = ((size_t)hl + 2) * 4;
				else
					sz = ((size_t)hl + 1) * 8;
				*nhp = t;
				for (i = 0; i < sz; i++)
					b[off + i] = (uint8_t)gen_u32(r);
				b[off + 1] = hl;
				nhp = b + off;
				off += sz;
			}
		}
		*nhp = (uint8_t)svc->proto;
		thoff = off;
	}
	if (nib != ver)
		b[0] = (uint8_t)(nib << 4 | (b[0] & 0xf));
	gen_put16(b + thoff, gen_pick_port(r, svc));
	gen_put16(b + thoff + 2, gen_u32(r) & 0xffff);
	if (svc->proto == IPPROTO_TCP) {
		int doff = odd && gen_pct(r, 50) ? (int)gen_range(r, 6, 15) : 5;

		memset(b + thoff + 4, 0, (size_t)doff * 4 - 4);
		for (i = 20; i < (size_t)doff * 4; i++)
			b[thoff + i] = (uint8_t)gen_u32(r);
		b[thoff + 12] = (uint8_t)(doff << 4);
		b[thoff + 13] = 0x02;
		off = thoff + (size_t)doff * 4;
	} else {
		off = thoff + 8;
	}
	plen = gen_pick_plen(r, svc);
	if (off + plen > GEN_PKT_MAX)
		plen = GEN_PKT_MAX - off;
	for (i = 0; i < plen; i++)
		b[off + i] = gen_pct(r, 30) ? (uint8_t)gen_below(r, 4) :
					      (uint8_t)gen_u32(r);
	gen_plant(r, svc, b + off, plen);
	if (svc->proto == IPPROTO_UDP)
		gen_put16(b + thoff + 4, (uint32_t)(off - thoff + plen));
	if (ver == 4)
		gen_put16(b + 2, (uint32_t)(off + plen));
	else
		gen_put16(b + 4, (uint32_t)(off + plen - 40));
	g->pkt.buf = b;
	g->pkt.len = off + plen;
	g->pkt.payload_off = off;
}

static inline void gen_pkt_fmt(const struct sk_pkt *p, size_t max,
			       struct gen_buf *b)
{
	size_t i;

	gen_printf(b, "len %zu payload_off %zu:", p->len, p->payload_off);
	for (i = 0; i < p->len && i < max; i++)
		gen_printf(b, "%s%02x", i == p->payload_off ? " | " : " ",
			   p->buf[i]);
	if (p->len > max)
		gen_printf(b, " ...");
}

/*
 * Is @p a packet the kernel could hand to the service's reuseport program,
 * or one of the shapes SEMANTICS defines although the kernel never
 * delivers them (another IP version laid out like a real packet)? The
 * headers must be complete, IPv4 IHL >= 5, the IPv6 chain (of any length)
 * must lead to the service's protocol, and the transport header must end
 * where the payload starts.
 */
static inline bool gen_wellformed(const struct sksteer_service *svc,
				  const struct sk_pkt *p)
{
	const uint8_t *b = p->buf;
	size_t len = p->len, thoff;
	int nib, k;
	uint8_t nh;

	if (p->payload_off > len || len < 1)
		return false;
	nib = b[0] >> 4;
	if (nib == 4) {
		if (len < 20 || (b[0] & 0xf) < 5 || b[9] != svc->proto)
			return false;
		thoff = (size_t)(b[0] & 0xf) * 4;
	} else if (nib == 6) {
		if (len < 40)
			return false;
		nh = b[6];
		thoff = 40;
		for (k = 0; k < 64 && (nh == 0 || nh == 43 || nh == 60 ||
				       nh == 44 || nh == 51);
		     k++) {
			size_t sz;

			if (thoff + 2 > len)
				return false;
			sz = nh == 44 ? 8 :
			     nh == 51 ? ((size_t)b[thoff + 1] + 2) * 4 :
					((size_t)b[thoff + 1] + 1) * 8;
			nh = b[thoff];
			thoff += sz;
		}
		if (nh != svc->proto)
			return false;
	} else {
		/* no version: a program can only look at the nibble */
		return true;
	}
	if (svc->proto == IPPROTO_UDP)
		return thoff + 8 == p->payload_off;
	if (thoff + 20 > len || (b[thoff + 12] >> 4) < 5)
		return false;
	return thoff + (size_t)(b[thoff + 12] >> 4) * 4 == p->payload_off;
}

/* ---- comparing the program with the matcher ---- */

enum gen_fail {
	OK = 0,
	F_TARGET, /* different socket, or hash vs socket */
	F_RULE, /* different deciding rule */
	F_FAULT, /* the program faulted on a well-formed packet */
	F_VALIDATE, /* the program fails the kernel's checks */
	F_COMPILE, /* refused for no good reason */
	F_ERROR, /* the matcher or interpreter failed */
};

static const char *const gen_fail_names[] = {
	[OK] = "ok",
	[F_TARGET] = "different target",
	[F_RULE] = "different deciding rule",
	[F_FAULT] = "program faulted",
	[F_VALIDATE] = "program fails validation",
	[F_COMPILE] = "compile refused",
	[F_ERROR] = "matcher/interpreter error",
};

static inline const char *gen_target_str(const struct sksteer_service *svc,
					 const struct sk_layout *l,
					 const struct sk_match *m, char *buf,
					 size_t sz)
{
	if (m->target.kind == SKSTEER_TARGET_HASH)
		snprintf(buf, sz, "hash");
	else if (m->target.kind == SKSTEER_TARGET_DROP)
		snprintf(buf, sz, "drop");
	else
		snprintf(buf, sz, "pool %s socket %d = position %u",
			 svc->pools[m->target.pool].name, m->pool_index,
			 l->pools[m->target.pool].pos[m->pool_index]);
	return buf;
}

/*
 * Run @prog over @pkt and compare with the matcher: the program must not
 * fault, must return the matcher's socket position (or, for the kernel's
 * hash, any value >= the number of open sockets) and must have been
 * decided by the matcher's rule. Returns OK or what differs, with @why.
 */
static inline int gen_check(const struct sksteer_service *svc,
			    const struct sk_layout *l,
			    const struct sksteer_prog *prog,
			    const struct sk_pkt *pkt, struct sk_match *m,
			    char *why, size_t wsz)
{
	unsigned int nopen = gen_layout_open(l);
	struct sk_interp_result res;
	char t[96];
	bool same;
	int err;

	err = sk_cbpf_run(prog->insns, prog->n, prog->owner, pkt, &res);
	if (err) {
		snprintf(why, wsz, "sk_cbpf_run: %s", strerror(-err));
		return F_ERROR;
	}
	err = sk_match(svc, l, pkt, m);
	if (err) {
		snprintf(why, wsz, "sk_match: %s", strerror(-err));
		return F_ERROR;
	}
	if (res.fault) {
		snprintf(
			why, wsz,
			"program faulted at insn %zu (returns 0 = position 0); "
			"matcher: rule %d, %s",
			res.ret_pc, m->rule,
			gen_target_str(svc, l, m, t, sizeof(t)));
		return F_FAULT;
	}
	if (m->target.kind == SKSTEER_TARGET_HASH)
		same = res.ret >= nopen;
	else if (m->target.kind == SKSTEER_TARGET_POOL)
		same = res.ret == l->pools[m->target.pool].pos[m->pool_index];
	else
		same = false; /* drop is never compiled */
	if (!same) {
		snprintf(why, wsz,
			 "program returns %u (%s; %u sockets open, rule %d), "
			 "matcher: %s (rule %d)",
			 res.ret, res.ret >= nopen ? "hash" : "a position",
			 nopen, res.owner,
			 gen_target_str(svc, l, m, t, sizeof(t)), m->rule);
		return F_TARGET;
	}
	if (res.owner != m->rule) {
		snprintf(why, wsz,
			 "both pick %s but the program's deciding rule is %d, "
			 "the matcher's %d",
			 gen_target_str(svc, l, m, t, sizeof(t)), res.owner,
			 m->rule);
		return F_RULE;
	}
	return OK;
}

/*
 * Compile for @l: OK with *prog, 1 when refused for a good reason (too big,
 * or drop is reachable), or F_COMPILE / F_VALIDATE.
 */
static inline int gen_compile(const struct sksteer_service *svc,
			      const struct sk_layout *l,
			      struct sksteer_prog **prog, int *refused_errno,
			      char *why, size_t wsz)
{
	char vwhy[256];

	*refused_errno = 0;
	*prog = sk_cbpf_compile(svc, l);
	if (!*prog) {
		int e = errno;

		if (e == E2BIG ||
		    (e == EOPNOTSUPP && gen_drop_reachable(svc, l))) {
			*refused_errno = e;
			return 1;
		}
		snprintf(why, wsz, "sk_cbpf_compile failed: %s%s", strerror(e),
			 e == EOPNOTSUPP ? " (but no drop is reachable)" : "");
		return F_COMPILE;
	}
	if (sk_cbpf_validate((*prog)->insns, (*prog)->n, vwhy, sizeof(vwhy))) {
		snprintf(why, wsz, "sk_cbpf_validate: %s", vwhy);
		return F_VALIDATE;
	}
	return OK;
}

#endif /* __SKSTEER_TEST_GEN_H */
