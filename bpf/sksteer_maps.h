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
 * class are in exactly the same sets of the rules. A tree is an array of
 * 2^bits buckets indexed directly by the top bits of the address, each a
 * 64-byte cache line that holds the class of its block, or up to
 * SKS_INLINE4 IPv4 boundaries (the common case: one memory access per
 * lookup), or a sorted list elsewhere, or (crowded blocks) a 256-way table
 * of sub-buckets. The builder picks bits from the number of boundaries
 * (a few per bucket; 0 bits for small trees: one bucket) so that the tree
 * stays as small as it can be, and so as hot in the caches as it can be.
 */
#ifndef __SKSTEER_MAPS_H
#define __SKSTEER_MAPS_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define SKS_MAX_RULES 256
#define SKS_WORDS 4 /* u64 words in a rule bitmap (SKS_MAX_RULES / 64) */
#define SKS_MAX_POOLS 256
#define SKS_MAX_SOCKETS 4096
#define SKS_MAX_TESTS 1024 /* payload tests, all rules together */
/* list length above which the builder splits a bucket into a table */
#define SKS_LIST_SPLIT 64
/* most first-level bits of a tree (2^16 buckets: 4 MiB) */
#define SKS_MAX_BITS 16
/*
 * Binary search steps: a list is at most SKS_LIST_SPLIT long unless its
 * block is 256 addresses or fewer (the builder splits down to those),
 * which hold at most 255 boundaries: 9 steps always suffice.
 */
#define SKS_SEARCH_STEPS 9
/* table levels below the first: each takes 8 more bits, and the builder
 * stops at blocks of 256 addresses */
#define SKS_MAX_DEPTH4 3
#define SKS_MAX_DEPTH6 15
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

/* IPv4 boundaries a bucket holds in its own cache line */
#define SKS_INLINE4 6

/*
 * A bucket covers an aligned block of addresses. SKS_BUCKET_TABLE: the
 * block is split in 256 sub-buckets at buckets[@first]. Else @count
 * boundaries, sorted; addresses below the first (all of them when @count
 * is 0) are class @cls. IPv4 lists of up to SKS_INLINE4 are in @in
 * (padded with key 0xffffffff and the last class, so a scan needs no
 * count), longer ones and IPv6 ones at bounds4/bounds6[@first].
 */
#define SKS_BUCKET_TABLE 0x1

struct sks_bucket {
	__u32 first;
	__u16 count;
	__u8 flags;
	__u8 pad;
	__u32 cls;
	__u32 pad2;
	struct sks_bound4 in[SKS_INLINE4];
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
 * The small tables a packet reads (class bitmaps, rules, payload tests,
 * pools, socket slots) share one array of 16-byte elements, so that a
 * small configuration is a few adjacent cache lines on one page instead of
 * a line on a page of each of five maps. Offsets (in elements) are in
 * struct sks_cfg; class bitmaps are 2 words an element, slots 4 an
 * element.
 */
struct sks_hot {
	union {
		__u64 words[2];
		__u32 slots[4];
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
#define SKS_CNT_DEFAULT 0 /* matched no rule */
#define SKS_CNT_RULE(r) (1 + (r))
#define SKS_CNT_POOL(nrules, p) (1 + (nrules) + (p))
#define SKS_CNT_RARE (1 + SKS_MAX_RULES + SKS_MAX_POOLS)
enum {
	SKS_CNT_HASH = SKS_CNT_RARE, /* left to the kernel's hash */
	SKS_CNT_DROP,	  /* refused by a drop target or fallback */
	SKS_CNT_FALLBACK, /* a pool had no open socket: its fallback decided */
	SKS_CNT_RETRY,	  /* the picked socket was gone: next open one used */
	SKS_CNT_MIGRATE,  /* TCP requests moved off a closing listener */
	SKS_CNT_BAD,	  /* headers could not be read */
	SKS_NCOUNTERS,
};

struct sks_counters {
	__u64 c[SKS_NCOUNTERS];
};

/* Configuration constants, set in .rodata before the program is loaded
 * (so that the verifier prunes what the configuration does not use). */
#define SKS_F_FROM 0x01	 /* some rule has a 'from' condition */
#define SKS_F_TO 0x02	 /* some rule has a 'to' condition */
#define SKS_F_SPORT 0x04 /* some rule has a 'sport' condition */
#define SKS_F_TESTS 0x08 /* some rule has payload tests or a payload key */
#define SKS_F_HASH 0x10	 /* some pool may spread by flow hash */

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
	__u32 tree_base[SKS_NTREES]; /* first bucket of each tree */
	__u8 tree_bits[SKS_NTREES];
	__u32 cls_base[SKS_NTREES + 1]; /* in words; last: source port */
	__u32 off_tests;
	struct sks_target deflt;
	__u64 base_mask[SKS_NFAMS][SKS_WORDS];
	__u64 test_mask[SKS_WORDS];
};

#endif /* __SKSTEER_MAPS_H */
