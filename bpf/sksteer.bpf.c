// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The eBPF steering program (BPF_PROG_TYPE_SK_REUSEPORT). The kernel runs
 * it for each new connection request or datagram that reaches the group
 * (net/core/sock_reuseport.c, reuseport_select_sock) with ctx->data at the
 * TCP/UDP header; the IP header is read with bpf_skb_load_bytes_relative
 * (BPF_HDR_START_NET). A socket is picked from a REUSEPORT_SOCKARRAY whose
 * keys are the sockets' declared positions, so a socket keeps its identity
 * when others close. Returning SK_PASS without a selection leaves the
 * choice to the kernel's hash; SK_DROP refuses the packet.
 *
 * Semantics: docs/sksteer.conf.5 (SEMANTICS). Tables: sksteer_maps.h.
 */
#include <linux/bpf.h>
#include <stdbool.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sksteer_maps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader for each configuration. */
const volatile struct sks_cfg cfg = { .nwords = 1,
				      .proto = IPPROTO_TCP,
				      .recv4 = 1 };

#define ARRAY_MAP(name, vtype)                     \
	struct {                                   \
		__uint(type, BPF_MAP_TYPE_ARRAY);  \
		__uint(max_entries, 1);            \
		__uint(map_flags, BPF_F_MMAPABLE); \
		__type(key, __u32);                \
		__type(value, vtype);              \
	} name SEC(".maps")

ARRAY_MAP(buckets, struct sks_bucket);
ARRAY_MAP(bounds4, struct sks_bound4);
ARRAY_MAP(bounds6, struct sks_bound6);
ARRAY_MAP(sport_cls, __u32);
ARRAY_MAP(hot, struct sks_hot);

struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} socks SEC(".maps");

/* socket cookie -> pool, for requests migrating off a closing listener */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u32);
} cookie_pool SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sks_counters);
} counters SEC(".maps");

static __always_inline struct sks_hot *hot_at(__u32 i)
{
	return bpf_map_lookup_elem(&hot, &i);
}

#define HASH_MUL1     0x9e3779b1u
#define HASH_MUL2     0x85ebca6bu
#define SPORT_UNKNOWN 65536
/* sockets of a pool tried when the picked one is gone (closed behind the
 * library's back: the tables only list sockets it knows are open) */
#define MAX_PROBES 4
/* the builder resolves fallback chains, so a target and its pool's
 * fallback cover every case the library knows of; one more hop for
 * sockets gone behind its back */
#define MAX_FALLBACK_HOPS  3
#define MAX_TESTS_PER_RULE 16

struct pkt {
	__u32 fam; /* SKS_FAM_* */
	__u32 src[4], dst[4];
	__u32 sport; /* or SPORT_UNKNOWN */
	__u32 l4len; /* TCP/UDP header length: the payload starts here */
	__u32 plen; /* payload length */
};

static __always_inline void count(struct sks_counters *c, __u32 i)
{
	if (c && i < SKS_NCOUNTERS)
		c->c[i]++;
}

/* the tree lookup, shared with src/tables.c */
#define SKS_FN static __always_inline
#define SKS_TCTX_DECL
#define SKS_TCTX
#define SKS_ROOT_QUAL const volatile
#define SKS_NO_UNROLL _Pragma("clang loop unroll(disable)")
#define SKS_UNROLL    _Pragma("unroll")
#define SKS_MAP_AT(map, type, k)                                \
	({                                                      \
		__u32 key_ = (k);                               \
		(const type *)bpf_map_lookup_elem(&map, &key_); \
	})
#define SKS_BUCKET(k) SKS_MAP_AT(buckets, struct sks_bucket, k)
#define SKS_BOUND4(k) SKS_MAP_AT(bounds4, struct sks_bound4, k)
#define SKS_BOUND6(k) SKS_MAP_AT(bounds6, struct sks_bound6, k)
#include "sksteer_tree.h"

/* mask &= the rule bitmap of class @cls of table @which */
static __always_inline void and_class(__u64 *mask, __u32 which, __u32 cls)
{
	__u32 i, idx;

#pragma unroll
	for (i = 0; i < SKS_WORDS; i++) {
		if (i >= cfg.nwords)
			break;
		struct sks_hot *h;

		idx = cfg.cls_base[which] + cls * cfg.nwords + i;
		h = hot_at(idx / 2);
		mask[i] &= h ? h->words[idx & 1] : 0;
	}
}

static __always_inline __u32 flow_hash(const struct pkt *p)
{
	__u32 h = p->sport == SPORT_UNKNOWN ? 0 : p->sport;

	if (p->fam == SKS_FAM_4) {
		h = (h ^ p->src[0]) * HASH_MUL1;
	} else if (p->fam == SKS_FAM_6) {
		h = (h ^ p->src[0]) * HASH_MUL1;
		h = (h ^ p->src[1]) * HASH_MUL1;
		h = (h ^ p->src[2]) * HASH_MUL1;
		h = (h ^ p->src[3]) * HASH_MUL1;
	}
	h ^= h >> 16;
	h *= HASH_MUL2;
	h ^= h >> 13;
	return h;
}

/*
 * Read @width (1-4) payload bytes at @off as a big-endian number. Written
 * without a branch per width: the verifier walks this inside a loop, and
 * every branch there multiplies its paths.
 */
static __always_inline int load_payload(struct sk_reuseport_md *ctx,
					const struct pkt *p, __u32 off,
					__u32 width, __u32 *out)
{
	__u32 v = 0, n;

	width &= 7;
	if (width < 1 || width > 4 || off + width > p->plen)
		return -1;
	/*
	 * The helper refuses a length that may be 0. The check above does not
	 * tell every verifier so: clang tests width == 0, and 6.1's verifier
	 * learns nothing on the != side of a compare (newer ones raise a
	 * range's minimum there), so it says "invalid zero-sized read". The
	 * length is made 1-4 by arithmetic instead, which every verifier
	 * follows; the barrier keeps clang from folding it back into width,
	 * which it knows is 1-4 here.
	 */
	n = width - 1;
	asm volatile("" : "+r"(n));
	n = (n & 3) + 1;
	if (bpf_skb_load_bytes(ctx, p->l4len + off, &v, n))
		return -1;
	/* the bytes are in memory order: big-endian, left aligned */
	*out = bpf_ntohl(v) >> (8 * (4 - n));
	return 0;
}

/*
 * A comparison without branches: which of <, ==, > holds picks a bit of
 * the test's truth table (sks_test.op: SKS_CMP_*).
 */
static __always_inline __u32 cmp_holds(__u32 v, __u32 value, __u32 table)
{
	__u64 lt = ((__u64)v - (__u64)value) >> 63;
	__u64 eq = ((__u64)(v ^ value) - 1) >> 63;

	return (table >> (2 * lt + eq)) & 1;
}

/* Payload tests and the payload key of rule @r; the key goes to @key. */
static __always_inline bool rule_tests_pass_(struct sk_reuseport_md *ctx,
					     const struct pkt *p,
					     const struct sks_rule *r,
					     __u32 *key)
{
	__u32 i, v;

	for (i = 0; i < MAX_TESTS_PER_RULE; i++) {
		struct sks_hot *h;
		struct sks_test *t;

		if (i >= r->ntests)
			break;
		h = hot_at(cfg.off_tests + r->first_test + i);
		if (!h)
			return false;
		t = &h->test;
		if (load_payload(ctx, p, t->off, t->width, &v) ||
		    !cmp_holds(v & t->mask, t->value, t->op))
			return false;
	}
	if (r->key_width)
		return !load_payload(ctx, p, r->key_off, r->key_width, key);
	return true;
}

/*
 * The payload tests of rule @r: 1 << 32 | the payload key when they hold,
 * else 0. A global function, so the verifier checks it once on its own:
 * inside the loop over candidate rules its paths would multiply.
 */
__noinline __u64 sksteer_rule_tests(struct sk_reuseport_md *ctx, __u32 r,
				    __u32 l4len, __u32 plen)
{
	struct pkt p = { .l4len = l4len, .plen = plen };
	struct sks_hot *h = hot_at(cfg.off_rules + (r & (SKS_MAX_RULES - 1)));
	__u32 key = 0;

	if (!ctx || !h)
		return 0;
	if (!rule_tests_pass_(ctx, &p, &h->rule, &key))
		return 0;
	return 1ull << 32 | key;
}

/* What sksteer_pick() reads and writes: on the caller's stack. */
struct sks_pick {
	__u64 mask[SKS_WORDS]; /* rules whose other conditions hold */
	__u32 l4len, plen;
	__u32 key; /* out: the deciding rule's payload key */
	__u32 pad;
};

/*
 * The deciding rule when some rules have payload tests: the first rule of
 * @pk->mask, in order, that has no tests or whose tests pass; -1 for none.
 * Only the rules with tests before the first one without are tried.
 *
 * A global function, so that the verifier checks it once, with the masks
 * unknown, however many rules there are. Nothing in it branches on a
 * rule's number: the lowest bit is counted, not searched for (a search
 * gives the verifier a path per rule, each with the number known, and
 * those multiplied over the rules made configurations of 80 rules too
 * complex to load). So the verifier's work grows with the words of the
 * mask and the 64 bits of a word, not with the rules.
 */
__noinline int sksteer_pick(struct sk_reuseport_md *ctx, struct sks_pick *pk)
{
	__u32 w, j;

	if (!ctx || !pk)
		return -1;
#pragma unroll
	for (w = 0; w < SKS_WORDS; w++) {
		__u64 x, tm, nt, t;

		if (w >= cfg.nwords)
			break;
		x = pk->mask[w];
		tm = cfg.test_mask[w];
		/* rules without tests decide at once; those with tests
		 * count only below the first of them (all of the word when
		 * there is none: (0 & -0) - 1 is all ones) */
		nt = x & ~tm;
		t = x & tm & ((nt & (0 - nt)) - 1);
#pragma clang loop unroll(disable)
		for (j = 0; j < 64; j++) {
			__u32 r;
			__u64 res;

			if (!t)
				break;
			r = w * 64 + sks_ctz64(t);
			res = sksteer_rule_tests(ctx, r, pk->l4len, pk->plen);
			if (res >> 32) {
				pk->key = (__u32)res;
				return (int)r;
			}
			t &= t - 1;
		}
		if (nt)
			return (int)(w * 64 + sks_ctz64(nt));
	}
	return -1;
}

/* Pick a socket of @pool_idx: open socket @key mod n, or the next open
 * ones if that one is gone. */
static __always_inline int select_in_pool(struct sk_reuseport_md *ctx,
					  struct sks_counters *c,
					  __u32 pool_idx, const struct pkt *p,
					  __u32 key, bool have_key)
{
	struct sks_pool *pool;
	struct sks_hot *h;
	__u32 i, n;

	h = hot_at(cfg.off_pools + pool_idx);
	if (!h || !h->pool.n)
		return -1;
	pool = &h->pool;
	n = pool->n;
	/* the hash only matters for a pool of several; a division costs
	 * tens of cycles, a mask one */
	if (n > 1 && !have_key)
		key = flow_hash(p);
	for (i = 0; i < MAX_PROBES; i++) {
		struct sks_hot *sh;
		__u32 si, slot;

		if (i >= n)
			break;
		if (n == 1)
			si = pool->first;
		else if (!(n & (n - 1)))
			si = pool->first + ((key + i) & (n - 1));
		else
			si = pool->first + (key + i) % n;
		sh = hot_at(cfg.off_slots + si / 4);
		if (!sh)
			break;
		slot = sh->slots[si & 3];
		if (!bpf_sk_select_reuseport(ctx, &socks, &slot, 0)) {
			count(c, SKS_CNT_POOL(cfg.nrules, pool_idx));
			return 0;
		}
		count(c, SKS_CNT_RETRY);
	}
	return -1;
}

static __always_inline int apply(struct sk_reuseport_md *ctx,
				 struct sks_counters *c, const struct pkt *p,
				 const struct sks_target *first, __u32 key);

/*
 * The verdict at @idx (SKS_F_VERDICTS): its counter, and its socket when
 * its pool has one; anything else (several sockets, the one gone, hash,
 * drop) goes the way of a rule's target.
 */
static __always_inline int decide(struct sk_reuseport_md *ctx,
				  struct sks_counters *c, const struct pkt *p,
				  __u32 idx)
{
	struct sks_target t = {};
	struct sks_verdict *v;
	struct sks_hot *h;

	h = hot_at(cfg.off_verdicts + idx / 2);
	if (!h)
		return SK_PASS;
	v = &h->verdicts[idx & 1];
	count(c, v->cnt);
	if (v->direct) {
		__u32 slot = v->slot;

		if (!bpf_sk_select_reuseport(ctx, &socks, &slot, 0)) {
			count(c, SKS_CNT_POOL(cfg.nrules, v->pool));
			return SK_PASS;
		}
	}
	t.kind = v->kind;
	t.pool = v->pool;
	return apply(ctx, c, p, &t, 0);
}

static __always_inline int apply(struct sk_reuseport_md *ctx,
				 struct sks_counters *c, const struct pkt *p,
				 const struct sks_target *first, __u32 key)
{
	struct sks_target t = *first;
	__u32 hop;

	/*
	 * Unrolled: as a loop, clang computes the next hop's target after
	 * the exit test and lets that block fall into the loop's head. Linux
	 * 6.1's check_cfg() refuses a back-edge that is the fall-through of
	 * anything but a jump (push_insn() with loop_ok false), even for a
	 * privileged loader: "back-edge from insn N to N+1" (6.7 accepts
	 * every back-edge and leaves loops to the verifier proper). Without
	 * a loop there is no back-edge, whatever clang lays out.
	 */
#pragma unroll
	for (hop = 0; hop < MAX_FALLBACK_HOPS; hop++) {
		struct sks_hot *h;

		if (t.kind == SKS_TGT_HASH) {
			count(c, SKS_CNT_HASH);
			return SK_PASS;
		}
		if (t.kind == SKS_TGT_DROP) {
			count(c, SKS_CNT_DROP);
			return SK_DROP;
		}
		if (!select_in_pool(ctx, c, t.pool, p, key,
				    t.key_width && !hop))
			return SK_PASS;
		h = hot_at(cfg.off_pools + t.pool);
		if (!h)
			break;
		count(c, SKS_CNT_FALLBACK);
		t = h->pool.fallback;
	}
	/* every socket we tried is gone and so are the fallbacks' */
	count(c, SKS_CNT_DROP);
	return SK_DROP;
}

/* The transport header follows the IPv6 header directly, or a chain of
 * extension headers the classic BPF program can also walk; beyond that,
 * the source port counts as unknown in both backends. */
static __always_inline bool ipv6_l4_reachable(struct sk_reuseport_md *ctx,
					      __u8 nexthdr)
{
	__u32 off = 40, i;
	__u8 h[2];

	for (i = 0; i <= SKS_IPV6_MAX_EXT; i++) {
		if (nexthdr == cfg.proto)
			return true;
		if (i == SKS_IPV6_MAX_EXT)
			break;
		if (bpf_skb_load_bytes_relative(ctx, off, h, 2,
						BPF_HDR_START_NET))
			return false;
		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			off += ((__u32)h[1] + 1) * 8;
			break;
		case IPPROTO_FRAGMENT:
			off += 8;
			break;
		case IPPROTO_AH:
			off += ((__u32)h[1] + 2) * 4;
			break;
		default:
			return false;
		}
		nexthdr = h[0];
	}
	return false;
}

static __always_inline int read_packet(struct sk_reuseport_md *ctx,
				       struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u8 *l4 = data;
	/* words, so that addresses are one load and a byte swap each */
	__u32 ipw[10];
	__u8 *ip = (__u8 *)ipw;
	__u32 have = 40;
	__u8 ver;

	/* One helper call for either version: 40 bytes hold an IPv6 header,
	 * or an IPv4 header and what follows it. The helper reads only the
	 * linear part, so a short IPv4 packet takes a second call (and a
	 * packet too short for that a third, for its version). */
	if (bpf_skb_load_bytes_relative(ctx, 0, ip, 40, BPF_HDR_START_NET)) {
		have = 20;
		if (bpf_skb_load_bytes_relative(ctx, 0, ip, 20,
						BPF_HDR_START_NET)) {
			have = 1;
			if (bpf_skb_load_bytes_relative(ctx, 0, ip, 1,
							BPF_HDR_START_NET))
				return -1;
		}
	}
	ver = ip[0] >> 4;
	if (ver == 4 && cfg.recv4) {
		if (have < 20)
			return -1;
		p->fam = SKS_FAM_4;
		p->src[0] = bpf_ntohl(ipw[3]);
		p->dst[0] = bpf_ntohl(ipw[4]);
	} else if (ver == 6 && cfg.recv6) {
		int i;

		if (have < 40)
			return -1;
		p->fam = SKS_FAM_6;
#pragma unroll
		for (i = 0; i < 4; i++) {
			p->src[i] = bpf_ntohl(ipw[2 + i]);
			p->dst[i] = bpf_ntohl(ipw[6 + i]);
		}
	} else {
		p->fam = SKS_FAM_OTHER;
	}

	p->sport = SPORT_UNKNOWN;
	/* the transport header matters to 'sport', the flow hash and
	 * payload tests only (the kernel has checked its length) */
	if (!(cfg.flags & (SKS_F_SPORT | SKS_F_HASH | SKS_F_TESTS)))
		return 0;
	/* ctx->data is the transport header (linear: the kernel pulled it) */
	if (cfg.proto == IPPROTO_TCP) {
		if (l4 + 20 > (__u8 *)end)
			return -1;
		p->l4len = (l4[12] >> 4) * 4;
	} else {
		if (l4 + 8 > (__u8 *)end)
			return -1;
		p->l4len = 8;
	}
	p->plen = ctx->len > p->l4len ? ctx->len - p->l4len : 0;
	if (p->fam == SKS_FAM_4 ||
	    (p->fam == SKS_FAM_6 && ipv6_l4_reachable(ctx, ip[6])))
		p->sport = (__u32)l4[0] << 8 | l4[1];
	return 0;
}

static __always_inline int migrate(struct sk_reuseport_md *ctx,
				   struct sks_counters *c)
{
	__u64 cookie = bpf_get_socket_cookie(ctx->sk);
	__u32 *pool = bpf_map_lookup_elem(&cookie_pool, &cookie);

	count(c, SKS_CNT_MIGRATE);
	/* a request stays in the pool of the listener it was steered to;
	 * the closing listener is already out of the sockarray */
	if (pool &&
	    !select_in_pool(ctx, c, *pool, NULL, bpf_get_prandom_u32(), true))
		return SK_PASS;
	/* nowhere to go in the pool: let the kernel reset it */
	count(c, SKS_CNT_DROP);
	return SK_DROP;
}

SEC("sk_reuseport/migrate")
int sksteer_select(struct sk_reuseport_md *ctx)
{
	__u64 mask[SKS_WORDS];
	struct sks_counters *c;
	struct sks_target t;
	struct pkt p = {};
	__u32 zero = 0, i, key = 0, vidx;
	int rule = -1;

	c = bpf_map_lookup_elem(&counters, &zero);
	if (ctx->migrating_sk)
		return migrate(ctx, c);
	if (read_packet(ctx, &p)) {
		count(c, SKS_CNT_BAD);
		return SK_PASS;
	}
	if (p.fam >= SKS_NFAMS)
		return SK_PASS; /* cannot happen; keeps the verifier informed */
	/* the bitmaps' way only: the verifier drops it with verdicts */
	if (!(cfg.flags & SKS_F_VERDICTS)) {
#pragma unroll
		for (i = 0; i < SKS_WORDS; i++)
			mask[i] = i < cfg.nwords ? cfg.base_mask[p.fam][i] : 0;
	}
	vidx = cfg.vt[p.fam].base;
	if (p.fam != SKS_FAM_OTHER) {
		__u32 t4 = p.fam == SKS_FAM_4;

		if (cfg.flags & SKS_F_FROM) {
			__u32 cls =
				sks_class(&cfg.root[SKS_TREE_SRC4],
					  &cfg.root[SKS_TREE_SRC6], t4, p.src);

			if (cfg.flags & SKS_F_VERDICTS)
				vidx += cls * cfg.vt[p.fam].s_src;
			else
				and_class(mask,
					  t4 ? SKS_TREE_SRC4 : SKS_TREE_SRC6,
					  cls);
		}
		if (cfg.flags & SKS_F_TO) {
			__u32 cls =
				sks_class(&cfg.root[SKS_TREE_DST4],
					  &cfg.root[SKS_TREE_DST6], t4, p.dst);

			if (cfg.flags & SKS_F_VERDICTS)
				vidx += cls * cfg.vt[p.fam].s_dst;
			else
				and_class(mask,
					  t4 ? SKS_TREE_DST4 : SKS_TREE_DST6,
					  cls);
		}
	}
	if (cfg.flags & SKS_F_SPORT) {
		__u32 *cls = bpf_map_lookup_elem(&sport_cls, &p.sport);

		if (cfg.flags & SKS_F_VERDICTS)
			vidx += (cls ? *cls : 0) * cfg.vt[p.fam].s_sport;
		else
			and_class(mask, SKS_NTREES, cls ? *cls : 0);
	}
	if (cfg.flags & SKS_F_VERDICTS)
		return decide(ctx, c, &p, vidx);

	/* the first rule, in order, whose conditions all hold */
	if (cfg.flags & SKS_F_TESTS) {
		struct sks_pick pk = { .l4len = p.l4len, .plen = p.plen };

#pragma unroll
		for (i = 0; i < SKS_WORDS; i++)
			pk.mask[i] = mask[i];
		rule = sksteer_pick(ctx, &pk);
		key = pk.key;
	} else {
		/* no tests: the lowest set bit decides */
#pragma unroll
		for (i = 0; i < SKS_WORDS; i++) {
			if (i >= cfg.nwords)
				break;
			if (mask[i]) {
				rule = (int)(i * 64 + sks_ctz64(mask[i]));
				break;
			}
		}
	}

	if (rule < 0) {
		/* field by field: through a non-volatile pointer the compiler
		 * would fold the .rodata initialiser instead of the value the
		 * loader set */
		t.kind = cfg.deflt.kind;
		t.key_width = cfg.deflt.key_width;
		t.pool = cfg.deflt.pool;
		t.key_off = cfg.deflt.key_off;
		count(c, SKS_CNT_DEFAULT);
	} else {
		struct sks_hot *h = hot_at(cfg.off_rules + (__u32)rule);

		if (!h)
			return SK_PASS;
		t = h->rule.target;
		count(c, SKS_CNT_RULE((__u32)rule));
	}
	/* one place that selects for the bitmaps: the verifier walks it once */
	return apply(ctx, c, &p, &t, key);
}
