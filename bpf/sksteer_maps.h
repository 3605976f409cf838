/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The tables the eBPF steering program reads, shared by bpf/sksteer.bpf.c
 * and the library (src/ebpf.c builds them, src/tables.c evaluates them in
 * userspace for the differential test). Every program load gets its own
 * set of tables sized for its configuration; an update loads a new program
 * and swaps it in with one SO_ATTACH_REUSEPORT_EBPF, so a packet is always
 * steered by one consistent set of tables.
 *
 * Address classification. For each direction (source, destination) and IP
 * version, the address space is cut into classes: addresses with the same
 * class are in exactly the same sets of the rules. A tree finds the class
 * of an address: a level-compressed, path-compressed trie (an LC-trie).
 * Its root (in struct sks_cfg) and each table bucket name an aligned
 * block [lo, hi] that holds every class change below them; an address
 * outside it is decided there and then (the class below or above the
 * block), one inside it goes on to the child picked by the next @bits
 * address bits. So a dense cluster of prefixes (hosts in one /64) costs
 * one table where its addresses start to differ, not a table per 8 bits
 * on the way down to it. A table has a child for about every two class
 * changes it holds (so most children hold theirs in their own cache
 * line), but no more than twice as many children as hold any change, so
 * memory grows with the number of class changes (at most about four
 * buckets each), not with how they are clustered. A child is a 64-byte
 * cache line that holds the class of its block and its boundaries (up to
 * SKS_INLINE4 IPv4 or SKS_INLINE6 IPv6 addresses, or up to SKS_INLINE16,
 * SKS_INLINE32 or SKS_INLINE64 keys relative to the block), a sorted list
 * elsewhere (at most SKS_LIST_SPLIT long unless the tree is SKS_MAX_DEPTH
 * tables deep), or another table. A packet's lookup is then one bucket
 * for most addresses of most sets: at 100,000 IPv4 prefixes, a list
 * elsewhere for about 1 in 500.
 *
 * The lookup (bpf/sksteer_tree.h) is one piece of code for the program and
 * for the library's evaluation of the tables (src/tables.c), so that the
 * differential test, which runs the latter, checks the former's
 * arithmetic too.
 */
#ifndef __SKSTEER_MAPS_H
#define __SKSTEER_MAPS_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define SKS_MAX_RULES	256
#define SKS_WORDS	4 /* u64 words in a rule bitmap (SKS_MAX_RULES / 64) */
#define SKS_MAX_POOLS	256
#define SKS_MAX_SOCKETS 4096
#define SKS_MAX_TESTS	1024 /* payload tests, all rules together */
/* list length above which the builder makes a bucket a table */
#define SKS_LIST_SPLIT 64
/* most index bits of a tree's root (2^16 buckets: 4 MiB) and of a table
 * bucket below it (256 children: 16 KiB) */
#define SKS_MAX_BITS	   16
#define SKS_MAX_TABLE_BITS 8
/* table buckets on the way from the root to a list; a list deeper down
 * stays longer than SKS_LIST_SPLIT (only contrived sets, such as hosts at
 * every power of two, get there) */
#define SKS_MAX_DEPTH 8
/* binary search steps: lists of up to 2^16 - 1 boundaries (a bucket's
 * count is 16 bits; the builder refuses a longer list) */
#define SKS_SEARCH_STEPS 16
/* IPv6 extension headers walked to find the transport header, the same
 * limit as the classic BPF compiler */
#define SKS_IPV6_MAX_EXT 4

/* trees in the buckets map: (direction, version) */
enum {
	SKS_TREE_SRC4,
	SKS_TREE_DST4,
	SKS_TREE_SRC6,
	SKS_TREE_DST6,
	SKS_NTREES,
};

/* A boundary: addresses from @key up to the next boundary are @cls. */
struct sks_bound4 {
	__u32 key;
	__u32 cls;
};

struct sks_bound6 {
	__u64 hi, lo; /* the address as a 128-bit number, host order */
	__u32 cls;
	__u32 pad;
};

/* boundaries a bucket holds in its own cache line: absolute keys, and
 * keys relative to the bucket's block in 16 or 32 bits */
#define SKS_INLINE4  6
#define SKS_INLINE6  2
#define SKS_INLINE16 12
#define SKS_INLINE32 6
#define SKS_INLINE64 4

/*
 * A bucket covers an aligned block of addresses.
 *
 * A list (no SKS_BUCKET_TABLE): @count boundaries, sorted; addresses below
 * the first (all of them when @count is 0) are class @cls. Up to
 * SKS_INLINE4 IPv4 or SKS_INLINE6 IPv6 ones are in @in4 / @in6 (padded
 * with the highest key and the last class, so a scan needs no count), or
 * as relative keys in @r16 / @r32 / @r64 (SKS_BUCKET_REL, below);
 * longer lists at bounds4/bounds6[@first].
 *
 * A table (SKS_BUCKET_TABLE): every class change of the block is in
 * [lo, hi], an aligned block of its own; addresses below it are class
 * @cls, above it @t4.cls_hi / @t6.cls_hi, and an address in it goes on
 * to buckets[@first + ((address >> @shift) & (2^@bits - 1))] (the
 * address as a number, bit 0 the last).
 */
#define SKS_BUCKET_TABLE 0x1
/*
 * A list of relative keys: the bucket's block is 2^(@shift + @bits)
 * addresses, and each of its boundaries a multiple of 2^@shift, so that
 * a boundary is known by the @bits address bits from @shift up, in 16
 * (@r16, up to SKS_INLINE16 of them, classes below 2^16), 32 (@r32, up
 * to SKS_INLINE32) or 64 bits (@r64, up to SKS_INLINE64). An address's
 * own bits there compare the way the whole addresses do. This is what
 * keeps most buckets of large sets in one cache line: a /16 of IPv4
 * prefixes, or IPv6 prefixes up to a /64 under a root of 2^16 buckets,
 * need no list elsewhere. Padding as for the absolute keys: the highest
 * key and the last class.
 */
#define SKS_BUCKET_R16 0x2
#define SKS_BUCKET_R32 0x4
#define SKS_BUCKET_R64 0x8
#define SKS_BUCKET_REL (SKS_BUCKET_R16 | SKS_BUCKET_R32 | SKS_BUCKET_R64)

struct sks_bucket {
	__u32 first;
	__u16 count;
	__u8 flags;
	__u8 shift;
	__u32 cls;
	__u8 bits;
	__u8 pad[3];
	union {
		struct sks_bound4 in4[SKS_INLINE4];
		struct sks_bound6 in6[SKS_INLINE6];
		struct {
			__u16 key, cls;
		} r16[SKS_INLINE16];
		struct {
			__u32 key, cls;
		} r32[SKS_INLINE32];
		struct {
			__u64 key[SKS_INLINE64];
			__u32 cls[SKS_INLINE64];
		} r64;
		struct {
			__u32 lo, hi, cls_hi, pad;
		} t4;
		struct {
			__u64 lo_hi, lo_lo, hi_hi, hi_lo;
			__u32 cls_hi, pad;
		} t6;
	};
};

/*
 * The root of a tree, like a table bucket: class changes in [lo, hi]
 * (IPv4: in the low words), the class below and above it, and the
 * 2^@bits buckets from buckets[@base] indexed by the address bits from
 * @shift. Kept in .rodata: the verifier drops the range checks of a root
 * that covers the whole space.
 */
struct sks_root {
	__u64 lo_hi, lo_lo, hi_hi, hi_lo;
	__u32 base;
	__u32 cls_lo, cls_hi;
	__u8 shift, bits;
	__u16 pad;
};

/*
 * A payload test: (payload[off .. off+width) big-endian & mask) OP value.
 * OP is a truth table, so that the program compares without branching:
 * bit 2 holds when the value is less, bit 1 when equal, bit 0 greater.
 */
#define SKS_CMP_EQ 0x2
#define SKS_CMP_NE 0x5
#define SKS_CMP_LT 0x4
#define SKS_CMP_LE 0x6
#define SKS_CMP_GT 0x1
#define SKS_CMP_GE 0x3

struct sks_test {
	__u16 off;
	__u8 width;
	__u8 op;
	__u32 mask;
	__u32 value;
	__u32 pad;
};

enum {
	SKS_TGT_HASH,
	SKS_TGT_POOL,
	SKS_TGT_DROP,
};

struct sks_target {
	__u8 kind;
	__u8 key_width; /* by payload: 1, 2 or 4; 0: spread by flow hash */
	__u16 pool;
	__u16 key_off;
	__u16 pad;
};

/*
 * A rule. @key_width/@key_off: the payload key the rule needs to match
 * ("by payload"), also when its target no longer uses it (the builder
 * replaces a target whose pool has no open socket by the pool's
 * fallback).
 */
struct sks_rule {
	struct sks_target target;
	__u16 first_test;
	__u16 ntests;
	__u16 key_off;
	__u8 key_width;
	__u8 pad;
};

/*
 * A pool: its open sockets are slots[first .. first+n) in pool order
 * (sockarray keys). When none can be selected, @fallback decides; a
 * fallback pool spreads by flow hash. The builder resolves fallback chains
 * through pools without open sockets, so @fallback is hash, drop or a pool
 * with sockets, and a target never names a pool without sockets.
 */
struct sks_pool {
	__u32 first;
	__u32 n;
	struct sks_target fallback;
};

/*
 * A verdict: what a packet of one combination of classes gets, when no
 * rule has payload tests (SKS_F_VERDICTS). Then the rule that decides is
 * a function of the classes alone, so the builder decides it for every
 * combination, and a packet reads its verdict with one load instead of
 * ANDing class bitmaps and following rule, pool and slot. @cnt: the
 * counter of the deciding rule (SKS_CNT_RULE) or SKS_CNT_DEFAULT. @kind,
 * @pool: the target, resolved as for a rule. @direct: the pool has one
 * open socket, @slot (its sockarray key) is selected without reading the
 * pool; when that socket is gone, the pool's way (next sockets, then its
 * fallback) decides.
 */
struct sks_verdict {
	__u16 cnt;
	__u8 kind;
	__u8 direct;
	__u16 pool;
	__u16 slot;
};

/* Where the verdicts of packets of a version start (in verdicts, from
 * sks_cfg.off_verdicts), and what a class of each tree adds to the index:
 * base + src class * s_src + dst class * s_dst + port class * s_sport. */
struct sks_vtab {
	__u32 base, s_src, s_dst, s_sport;
};

/* the most verdicts a table may have (512 KiB); a configuration whose
 * class combinations are more is steered with the class bitmaps */
#define SKS_MAX_VERDICTS 65536

/*
 * The small tables a packet reads (verdicts or class bitmaps, rules,
 * payload tests, pools, socket slots) share one array of 16-byte
 * elements, so that a small configuration is a few adjacent cache lines
 * on one page instead of a line on a page of each of five maps. Offsets
 * (in elements) are in struct sks_cfg; class bitmaps are 2 words an
 * element, verdicts 2 and slots 4 an element.
 */
struct sks_hot {
	union {
		__u64 words[2];
		__u32 slots[4];
		struct sks_verdict verdicts[2];
		struct sks_rule rule;
		struct sks_test test;
		struct sks_pool pool;
	};
};

/*
 * Counters: one per-CPU value holding all of them, so that a packet costs
 * one map lookup however many counters it bumps. What every packet bumps
 * (the deciding rule or the default, and a pool) comes first, so that a
 * small configuration touches one cache line; the number of packets is
 * the sum of those (and of the unreadable ones), not a counter of its
 * own. The rare outcomes follow the largest rule and pool sets.
 */
#define SKS_CNT_DEFAULT		0 /* matched no rule */
#define SKS_CNT_RULE(r)		(1 + (r))
#define SKS_CNT_POOL(nrules, p) (1 + (nrules) + (p))
#define SKS_CNT_RARE		(1 + SKS_MAX_RULES + SKS_MAX_POOLS)
enum {
	SKS_CNT_HASH = SKS_CNT_RARE, /* left to the kernel's hash */
	SKS_CNT_DROP, /* refused by a drop target or fallback */
	SKS_CNT_FALLBACK, /* a pool had no open socket: its fallback decided */
	SKS_CNT_RETRY, /* the picked socket was gone: next open one used */
	SKS_CNT_MIGRATE, /* TCP requests moved off a closing listener */
	SKS_CNT_BAD, /* headers could not be read */
	SKS_NCOUNTERS,
};

struct sks_counters {
	__u64 c[SKS_NCOUNTERS];
};

/* Configuration constants, set in .rodata before the program is loaded
 * (so that the verifier prunes what the configuration does not use). */
#define SKS_F_FROM     0x01 /* some rule has a 'from' condition */
#define SKS_F_TO       0x02 /* some rule has a 'to' condition */
#define SKS_F_SPORT    0x04 /* some rule has a 'sport' condition */
#define SKS_F_TESTS    0x08 /* some rule has payload tests or a payload key */
#define SKS_F_HASH     0x10 /* some pool may spread by flow hash */
#define SKS_F_VERDICTS 0x20 /* packets read a verdict (struct sks_verdict) */

/* base masks: rules that can match a packet of a version at all */
enum {
	SKS_FAM_4,
	SKS_FAM_6,
	SKS_FAM_OTHER,
	SKS_NFAMS,
};

/*
 * The program's configuration (.rodata, set before the load; the
 * verifier knows it and prunes what the configuration does not use). What
 * every packet reads comes first, in one cache line.
 */
struct sks_cfg {
	__u32 flags;
	__u32 nwords;
	__u32 proto;
	__u32 max_cands; /* payload rules + 1 */
	__u8 recv4, recv6;
	__u16 nrules;
	__u32 off_rules; /* in sks_hot elements */
	__u32 off_pools;
	__u32 off_slots;
	__u32 cls_base[SKS_NTREES + 1]; /* in words; last: source port */
	__u32 off_tests;
	struct sks_target deflt;
	/* SKS_F_VERDICTS: the verdicts, per version (SKS_FAM_*) */
	struct sks_vtab vt[SKS_NFAMS];
	__u32 off_verdicts;
	__u32 pad;
	__u64 base_mask[SKS_NFAMS][SKS_WORDS];
	__u64 test_mask[SKS_WORDS];
	struct sks_root root[SKS_NTREES];
};

#endif /* __SKSTEER_MAPS_H */
