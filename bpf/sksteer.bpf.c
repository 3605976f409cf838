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
const volatile __u32 cfg_nwords = 1;
const volatile __u32 cfg_flags;
const volatile __u32 cfg_proto = IPPROTO_TCP;
const volatile __u32 cfg_recv4 = 1;
const volatile __u32 cfg_recv6;
const volatile __u32 cfg_max_cands = 1; /* payload rules + 1 */
const volatile __u32 cfg_tree_base[SKS_NTREES];
const volatile __u32 cfg_tree_flat[SKS_NTREES];
const volatile __u32 cfg_cls_base[SKS_NTREES + 1]; /* last: source port */
const volatile __u64 cfg_base_mask[SKS_NFAMS][SKS_WORDS];
const volatile __u64 cfg_test_mask[SKS_WORDS];
const volatile struct sks_target cfg_default;

#define ARRAY_MAP(name, vtype)                                               \
	struct {                                                             \
		__uint(type, BPF_MAP_TYPE_ARRAY);                            \
		__uint(max_entries, 1);                                      \
		__uint(map_flags, BPF_F_MMAPABLE);                           \
		__type(key, __u32);                                          \
		__type(value, vtype);                                        \
	} name SEC(".maps")

ARRAY_MAP(idx, __u32);
ARRAY_MAP(buckets, struct sks_bucket);
ARRAY_MAP(bounds4, struct sks_bound4);
ARRAY_MAP(bounds6, struct sks_bound6);
ARRAY_MAP(classbits, __u64);
ARRAY_MAP(sport_cls, __u32);
ARRAY_MAP(rules, struct sks_rule);
ARRAY_MAP(tests, struct sks_test);
ARRAY_MAP(pools, struct sks_pool);
ARRAY_MAP(slots, __u32);

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

#define HASH_MUL1 0x9e3779b1u
#define HASH_MUL2 0x85ebca6bu
#define SPORT_UNKNOWN 65536
/* sockets of a pool tried when the picked one is gone (closed behind the
 * library's back: the tables only list sockets it knows are open) */
#define MAX_PROBES 4
/* the builder resolves fallback chains, so a target and its pool's
 * fallback cover every case the library knows of; one more hop for
 * sockets gone behind its back */
#define MAX_FALLBACK_HOPS 3
#define MAX_TESTS_PER_RULE 16
#define INLINE_CANDS 8

struct pkt {
	__u32 fam; /* SKS_FAM_* */
	__u32 src[4], dst[4];
	__u32 sport; /* or SPORT_UNKNOWN */
	__u32 l4len; /* TCP/UDP header length: the payload starts here */
	__u32 plen;  /* payload length */
};

static __always_inline void count(struct sks_counters *c, __u32 i)
{
	if (c && i < SKS_NCOUNTERS)
		c->c[i]++;
}

/* 1 when key <= a, without a branch: the sign of a - key in 64 bits (a
 * mispredicted branch per step costs more than this, and keys are
 * random) */
static __always_inline __u32 le32(__u32 key, __u32 a)
{
	return 1 - (__u32)(((__u64)a - (__u64)key) >> 63);
}

/* The class of @a in an IPv4 bucket: the last boundary at or below it. */
static __always_inline __u32 search4(const struct sks_bucket *b, __u32 a)
{
	__u32 cls = b->cls, lo, n, i;

	if (b->count <= SKS_INLINE4) {
		/* in the bucket's own cache line; padding never matches */
#pragma unroll
		for (i = 0; i < SKS_INLINE4; i++) {
			__u32 le = le32(b->in[i].key, a);

			cls += le * (b->in[i].cls - cls);
		}
		return cls;
	}
	/* branch-free binary search; invariant: the answer is the last of
	 * n boundaries from lo with key <= a */
	lo = b->first;
	n = b->count;
#pragma clang loop unroll(disable)
	for (i = 0; i < SKS_SEARCH_STEPS; i++) {
		struct sks_bound4 *e;
		__u32 half, mid, le;

		if (!n)
			break;
		half = n / 2;
		mid = lo + half;
		e = bpf_map_lookup_elem(&bounds4, &mid);
		if (!e)
			break;
		le = le32(e->key, a);
		cls += le * (e->cls - cls);
		lo += le * (half + 1);
		n = half - le * (half + 1 - (n - half));
	}
	return cls;
}

static __always_inline __u32 class4(__u32 tree, __u32 a)
{
	struct sks_bucket *b;
	__u32 i, k, *e;

	if (cfg_tree_flat[tree]) {
		k = cfg_tree_base[tree];
		b = bpf_map_lookup_elem(&buckets, &k);
		return b ? search4(b, a) : 0;
	}
	k = cfg_tree_base[tree] + (a >> 16);
	e = bpf_map_lookup_elem(&idx, &k);
	for (i = 0; i < SKS_MAX_DEPTH4; i++) {
		if (!e)
			return 0;
		if (!(*e & SKS_IDX_BUCKET))
			return *e; /* a uniform block: the class */
		k = *e & ~SKS_IDX_BUCKET;
		b = bpf_map_lookup_elem(&buckets, &k);
		if (!b)
			return 0;
		if (!(b->flags & SKS_BUCKET_TABLE))
			return search4(b, a);
		k = b->first + ((a >> (8 - 8 * i)) & 0xff);
		e = bpf_map_lookup_elem(&idx, &k);
	}
	return 0; /* the builder stops splitting at 256 addresses */
}

static __always_inline __u32 search6(const struct sks_bucket *b, __u64 ahi,
				     __u64 alo)
{
	__u32 cls = b->cls, lo = b->first, hi = b->first + b->count, i;

#pragma clang loop unroll(disable)
	for (i = 0; i < SKS_SEARCH_STEPS && lo < hi; i++) {
		__u32 mid = lo + (hi - lo) / 2;
		struct sks_bound6 *e = bpf_map_lookup_elem(&bounds6, &mid);

		if (!e)
			break;
		if (e->hi < ahi || (e->hi == ahi && e->lo <= alo)) {
			cls = e->cls;
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return cls;
}

static __always_inline __u32 class6(__u32 tree, const __u32 *a)
{
	__u64 ahi = ((__u64)a[0] << 32) | a[1], alo = ((__u64)a[2] << 32) | a[3];
	struct sks_bucket *b;
	__u32 i, k, *e;

	if (cfg_tree_flat[tree]) {
		k = cfg_tree_base[tree];
		b = bpf_map_lookup_elem(&buckets, &k);
		return b ? search6(b, ahi, alo) : 0;
	}
	k = cfg_tree_base[tree] + (a[0] >> 16);
	e = bpf_map_lookup_elem(&idx, &k);
#pragma clang loop unroll(disable)
	for (i = 0; i < SKS_MAX_DEPTH6; i++) {
		/* bits 16 + 8i .. 23 + 8i of the address */
		__u32 bit = 16 + 8 * i;
		__u64 w = bit < 64 ? ahi : alo;
		__u32 sh = 56 - (bit & 63);

		if (!e)
			return 0;
		if (!(*e & SKS_IDX_BUCKET))
			return *e;
		k = *e & ~SKS_IDX_BUCKET;
		b = bpf_map_lookup_elem(&buckets, &k);
		if (!b)
			return 0;
		if (!(b->flags & SKS_BUCKET_TABLE))
			return search6(b, ahi, alo);
		k = b->first + (__u32)((w >> sh) & 0xff);
		e = bpf_map_lookup_elem(&idx, &k);
	}
	return 0;
}

/* mask &= the rule bitmap of class @cls of table @which */
static __always_inline void and_class(__u64 *mask, __u32 which, __u32 cls)
{
	__u32 i, idx;
	__u64 *w;

#pragma unroll
	for (i = 0; i < SKS_WORDS; i++) {
		if (i >= cfg_nwords)
			break;
		idx = cfg_cls_base[which] + cls * cfg_nwords + i;
		w = bpf_map_lookup_elem(&classbits, &idx);
		mask[i] &= w ? *w : 0;
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

/* Read @width payload bytes at @off as a big-endian number. */
static __always_inline int load_payload(struct sk_reuseport_md *ctx,
					const struct pkt *p, __u32 off,
					__u32 width, __u32 *out)
{
	__u8 b[4] = {};

	if (width < 1 || width > 4 || off + width > p->plen)
		return -1;
	if (bpf_skb_load_bytes(ctx, p->l4len + off, b, width))
		return -1;
	if (width == 1)
		*out = b[0];
	else if (width == 2)
		*out = (__u32)b[0] << 8 | b[1];
	else
		*out = (__u32)b[0] << 24 | (__u32)b[1] << 16 | (__u32)b[2] << 8 |
		       b[3];
	return 0;
}

/* Payload tests and the payload key of rule @r; the key goes to @key. */
static __always_inline bool rule_tests_pass(struct sk_reuseport_md *ctx,
					    const struct pkt *p,
					    const struct sks_rule *r, __u32 *key)
{
	__u32 i, v;

	for (i = 0; i < MAX_TESTS_PER_RULE; i++) {
		__u32 ti = r->first_test + i;
		struct sks_test *t;
		bool ok;

		if (i >= r->ntests)
			break;
		t = bpf_map_lookup_elem(&tests, &ti);
		if (!t || load_payload(ctx, p, t->off, t->width, &v))
			return false;
		v &= t->mask;
		switch (t->op) {
		case SKS_OP_EQ:
			ok = v == t->value;
			break;
		case SKS_OP_NE:
			ok = v != t->value;
			break;
		case SKS_OP_LT:
			ok = v < t->value;
			break;
		case SKS_OP_LE:
			ok = v <= t->value;
			break;
		case SKS_OP_GT:
			ok = v > t->value;
			break;
		default:
			ok = v >= t->value;
			break;
		}
		if (!ok)
			return false;
	}
	if (r->key_width)
		return !load_payload(ctx, p, r->key_off, r->key_width, key);
	return true;
}

/* lowest set bit of a non-zero word (no ctz instruction in BPF) */
static __always_inline __u32 lowest_bit(__u64 x)
{
	__u32 n = 0;

	if (!(x & 0xffffffffull)) {
		n += 32;
		x >>= 32;
	}
	if (!(x & 0xffff)) {
		n += 16;
		x >>= 16;
	}
	if (!(x & 0xff)) {
		n += 8;
		x >>= 8;
	}
	if (!(x & 0xf)) {
		n += 4;
		x >>= 4;
	}
	if (!(x & 0x3)) {
		n += 2;
		x >>= 2;
	}
	if (!(x & 0x1))
		n += 1;
	return n;
}

struct cand_ctx {
	struct sk_reuseport_md *ctx;
	const struct pkt *p;
	__u64 mask[SKS_WORDS];
	int rule; /* decided rule, -1 none */
	__u32 key;
};

/* One step of "first rule, in order, whose remaining tests pass". */
static __always_inline int next_candidate(__u32 idx, void *arg)
{
	struct cand_ctx *cc = arg;
	__u32 w, r;
	struct sks_rule *rule;

	for (w = 0; w < SKS_WORDS; w++) {
		if (w >= cfg_nwords)
			return 1;
		if (cc->mask[w])
			break;
	}
	if (w >= SKS_WORDS)
		return 1;
	r = w * 64 + lowest_bit(cc->mask[w]);
	if (!(cfg_flags & SKS_F_TESTS) ||
	    !(cfg_test_mask[w] & (1ull << (r & 63)))) {
		cc->rule = (int)r;
		return 1;
	}
	rule = bpf_map_lookup_elem(&rules, &r);
	if (rule && rule_tests_pass(cc->ctx, cc->p, rule, &cc->key)) {
		cc->rule = (int)r;
		return 1;
	}
	cc->mask[w] &= cc->mask[w] - 1;
	return 0;
}

/* Pick a socket of @pool_idx: open socket @key mod n, or the next open
 * ones if that one is gone. */
static __always_inline int select_in_pool(struct sk_reuseport_md *ctx,
					  struct sks_counters *c, __u32 pool_idx,
					  __u32 key)
{
	struct sks_pool *pool;
	__u32 i, n;

	pool = bpf_map_lookup_elem(&pools, &pool_idx);
	if (!pool || !pool->n)
		return -1;
	n = pool->n;
	for (i = 0; i < MAX_PROBES; i++) {
		__u32 si, *slot;

		if (i >= n)
			break;
		si = pool->first + (key + i) % n;
		slot = bpf_map_lookup_elem(&slots, &si);
		if (!slot)
			break;
		if (!bpf_sk_select_reuseport(ctx, &socks, slot, 0)) {
			count(c, SKS_CNT_POOL(pool_idx));
			return 0;
		}
		count(c, SKS_CNT_RETRY);
	}
	return -1;
}

static __always_inline int apply(struct sk_reuseport_md *ctx,
			    struct sks_counters *c, const struct pkt *p,
			    const struct sks_target *first, __u32 key)
{
	struct sks_target t = *first;
	__u32 hop;

	for (hop = 0; hop < MAX_FALLBACK_HOPS; hop++) {
		struct sks_pool *pool;
		__u32 pi;

		if (t.kind == SKS_TGT_HASH) {
			count(c, SKS_CNT_HASH);
			return SK_PASS;
		}
		if (t.kind == SKS_TGT_DROP) {
			count(c, SKS_CNT_DROP);
			return SK_DROP;
		}
		if (!t.key_width || hop)
			key = flow_hash(p);
		if (!select_in_pool(ctx, c, t.pool, key))
			return SK_PASS;
		pi = t.pool;
		pool = bpf_map_lookup_elem(&pools, &pi);
		if (!pool)
			break;
		count(c, SKS_CNT_FALLBACK);
		t = pool->fallback;
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
		if (nexthdr == cfg_proto)
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
	__u8 ip[40];
	__u8 ver;

	if (bpf_skb_load_bytes_relative(ctx, 0, ip, 1, BPF_HDR_START_NET))
		return -1;
	ver = ip[0] >> 4;
	if (ver == 4 && cfg_recv4) {
		if (bpf_skb_load_bytes_relative(ctx, 0, ip, 20,
						BPF_HDR_START_NET))
			return -1;
		p->fam = SKS_FAM_4;
		p->src[0] = (__u32)ip[12] << 24 | (__u32)ip[13] << 16 |
			    (__u32)ip[14] << 8 | ip[15];
		p->dst[0] = (__u32)ip[16] << 24 | (__u32)ip[17] << 16 |
			    (__u32)ip[18] << 8 | ip[19];
	} else if (ver == 6 && cfg_recv6) {
		int i;

		if (bpf_skb_load_bytes_relative(ctx, 0, ip, 40,
						BPF_HDR_START_NET))
			return -1;
		p->fam = SKS_FAM_6;
#pragma unroll
		for (i = 0; i < 4; i++) {
			p->src[i] = (__u32)ip[8 + 4 * i] << 24 |
				    (__u32)ip[9 + 4 * i] << 16 |
				    (__u32)ip[10 + 4 * i] << 8 | ip[11 + 4 * i];
			p->dst[i] = (__u32)ip[24 + 4 * i] << 24 |
				    (__u32)ip[25 + 4 * i] << 16 |
				    (__u32)ip[26 + 4 * i] << 8 | ip[27 + 4 * i];
		}
	} else {
		p->fam = SKS_FAM_OTHER;
	}

	/* ctx->data is the transport header (linear: the kernel pulled it) */
	if (cfg_proto == IPPROTO_TCP) {
		if (l4 + 20 > (__u8 *)end)
			return -1;
		p->l4len = (l4[12] >> 4) * 4;
	} else {
		if (l4 + 8 > (__u8 *)end)
			return -1;
		p->l4len = 8;
	}
	p->plen = ctx->len > p->l4len ? ctx->len - p->l4len : 0;
	p->sport = SPORT_UNKNOWN;
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
	if (pool && !select_in_pool(ctx, c, *pool,
				    bpf_get_prandom_u32()))
		return SK_PASS;
	/* nowhere to go in the pool: let the kernel reset it */
	count(c, SKS_CNT_DROP);
	return SK_DROP;
}

SEC("sk_reuseport/migrate")
int sksteer_select(struct sk_reuseport_md *ctx)
{
	struct cand_ctx cc = { .ctx = ctx, .rule = -1 };
	struct sks_counters *c;
	struct sks_target t;
	struct sks_rule *rule;
	struct pkt p = {};
	__u32 zero = 0, i;

	c = bpf_map_lookup_elem(&counters, &zero);
	if (ctx->migrating_sk)
		return migrate(ctx, c);
	count(c, SKS_CNT_PACKETS);
	if (read_packet(ctx, &p)) {
		count(c, SKS_CNT_BAD);
		return SK_PASS;
	}
	cc.p = &p;

	if (p.fam >= SKS_NFAMS)
		return SK_PASS; /* cannot happen; keeps the verifier informed */
#pragma unroll
	for (i = 0; i < SKS_WORDS; i++)
		cc.mask[i] = i < cfg_nwords ? cfg_base_mask[p.fam][i] : 0;
	if (p.fam != SKS_FAM_OTHER) {
		__u32 t4 = p.fam == SKS_FAM_4;

		if (cfg_flags & SKS_F_FROM) {
			__u32 tree = t4 ? SKS_TREE_SRC4 : SKS_TREE_SRC6;
			__u32 cls = t4 ? class4(tree, p.src[0]) :
					 class6(tree, p.src);

			and_class(cc.mask, tree, cls);
		}
		if (cfg_flags & SKS_F_TO) {
			__u32 tree = t4 ? SKS_TREE_DST4 : SKS_TREE_DST6;
			__u32 cls = t4 ? class4(tree, p.dst[0]) :
					 class6(tree, p.dst);

			and_class(cc.mask, tree, cls);
		}
	}
	if (cfg_flags & SKS_F_SPORT) {
		__u32 *cls = bpf_map_lookup_elem(&sport_cls, &p.sport);

		and_class(cc.mask, SKS_NTREES, cls ? *cls : 0);
	}

	/*
	 * Few payload rules (the usual case): a plain loop, which costs no
	 * indirect call per step and which the verifier walks only
	 * cfg_max_cands times (a known constant: .rodata is frozen). Many:
	 * bpf_loop(), whose callback is verified once.
	 */
	if (!(cfg_flags & SKS_F_TESTS)) {
		next_candidate(0, &cc);
	} else if (cfg_max_cands <= INLINE_CANDS) {
		for (i = 0; i < INLINE_CANDS && i < cfg_max_cands; i++)
			if (next_candidate(i, &cc))
				break;
	} else {
		bpf_loop(cfg_max_cands, next_candidate, &cc, 0);
	}

	if (cc.rule < 0) {
		/* field by field: through a non-volatile pointer the compiler
		 * would fold the .rodata initialiser instead of the value the
		 * loader set */
		t.kind = cfg_default.kind;
		t.key_width = cfg_default.key_width;
		t.pool = cfg_default.pool;
		t.key_off = cfg_default.key_off;
		count(c, SKS_CNT_DEFAULT);
	} else {
		i = (__u32)cc.rule;
		rule = bpf_map_lookup_elem(&rules, &i);
		if (!rule)
			return SK_PASS;
		t = rule->target;
		count(c, SKS_CNT_RULE(i));
	}
	/* one place that selects: the verifier walks it once */
	return apply(ctx, c, &p, &t, cc.key);
}
