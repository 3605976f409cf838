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
 * class are in exactly the same sets of the rules. A lookup is
 *   e = index[tree base + top 16 bits]                (direct index, u32)
 *   while e names a bucket that is a table: e = index[table + next 8 bits]
 *   class = e itself, or the search of the bucket's sorted boundaries
 * Most /16 blocks are uniform (e is the class: one 4-byte read from a
 * 256 KiB table per tree); a bucket carries up to SKS_INLINE4 IPv4
 * boundaries in its own cache line; blocks whose lists would be long are
 * split into 256-way tables at build time. A tree with few boundaries has
 * no index at all: one bucket holds the whole space.
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
#define SKS_LIST_SPLIT 16
/* boundaries up to which a tree is one bucket, without index */
#define SKS_FLAT_MAX 32
/*
 * Binary search steps: a list is at most SKS_LIST_SPLIT long unless its
 * block is 256 addresses or fewer (the builder splits down to those),
 * which hold at most 255 boundaries: 9 steps always suffice.
 */
#define SKS_SEARCH_STEPS 9
/* table levels below the first: IPv4 16+8+8, IPv6 16+8*14 */
#define SKS_MAX_DEPTH4 2
#define SKS_MAX_DEPTH6 14
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

/* An index entry: a class, or (SKS_IDX_BUCKET) a bucket number. */
#define SKS_IDX_BUCKET 0x80000000u

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
 * A bucket covers an aligned block of addresses that is not one class.
 * SKS_BUCKET_TABLE: the block is split in 256; @first is where their 256
 * index entries start. Else @count boundaries, sorted; addresses below the
 * first are class @cls. IPv4 lists of up to SKS_INLINE4 are in @in (padded
 * with key 0xffffffff and the last class, so a scan needs no count),
 * longer ones and IPv6 ones at bounds4/bounds6[@first].
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

/* A payload test: (payload[off .. off+width) big-endian & mask) OP value */
enum {
	SKS_OP_EQ,
	SKS_OP_NE,
	SKS_OP_LT,
	SKS_OP_LE,
	SKS_OP_GT,
	SKS_OP_GE,
};

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

/* Counters: one per-CPU value holding all of them, so that a packet costs
 * one map lookup however many counters it bumps. */
enum {
	SKS_CNT_PACKETS,  /* programs run for new connections / datagrams */
	SKS_CNT_DEFAULT,  /* matched no rule */
	SKS_CNT_HASH,	  /* left to the kernel's hash */
	SKS_CNT_DROP,	  /* refused by a drop target or fallback */
	SKS_CNT_FALLBACK, /* a pool had no open socket: its fallback decided */
	SKS_CNT_RETRY,	  /* the picked socket was gone: next open one used */
	SKS_CNT_MIGRATE,  /* TCP requests moved off a closing listener */
	SKS_CNT_BAD,	  /* headers could not be read */
	SKS_CNT_FIXED,
};

#define SKS_CNT_RULE(r) (SKS_CNT_FIXED + (r))
#define SKS_CNT_POOL(p) (SKS_CNT_FIXED + SKS_MAX_RULES + (p))
#define SKS_NCOUNTERS (SKS_CNT_FIXED + SKS_MAX_RULES + SKS_MAX_POOLS)

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

#endif /* __SKSTEER_MAPS_H */
