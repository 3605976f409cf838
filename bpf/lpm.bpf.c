// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A reference point for bench/progcost, not part of sksteer: the
 * straightforward way to write the benchmark's rule set as an
 * sk_reuseport program with the kernel's own maps.
 *
 *   rule to D1..D4   pool d1..d4   exact destination: a hash map lookup
 *   rule from @src   pool src      BPF_MAP_TYPE_LPM_TRIE lookup of the
 *                                  source address (one trie per family)
 *   default          pool rest     (rodata)
 *
 * A pool is a run of REUSEPORT_SOCKARRAY slots {first, n}; in a pool of
 * several the socket is picked by the same flow hash as bpf/sksteer.bpf.c
 * (source port and source address, HASH_MUL1/HASH_MUL2), so a flow stays
 * on one socket. It keeps no counters, has no payload tests, no source
 * port classes, no fallback chains and no listener migration: it does
 * only what the benchmark's rules need, which makes it a floor for an
 * LPM-trie design rather than a full one.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* set by the loader */
const volatile __u32 default_pool;

struct lpm_key4 {
	__u32 prefixlen;
	__u32 addr; /* network byte order */
};

struct lpm_key6 {
	__u32 prefixlen;
	__u32 addr[4]; /* network byte order */
};

struct lpm_addr6 {
	__u32 a[4]; /* network byte order */
};

struct lpm_pool {
	__u32 first; /* first sockarray slot */
	__u32 n; /* sockets in the pool */
};

/* source prefix -> pool (max_entries set by the loader) */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, struct lpm_key4);
	__type(value, __u32);
} src4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, struct lpm_key6);
	__type(value, __u32);
} src6 SEC(".maps");

/* destination address -> pool */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} dst4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct lpm_addr6);
	__type(value, __u32);
} dst6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct lpm_pool);
} pools SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} socks SEC(".maps");

#define HASH_MUL1 0x9e3779b1u
#define HASH_MUL2 0x85ebca6bu

SEC("sk_reuseport")
int lpm_select(struct sk_reuseport_md *ctx)
{
	__u8 *l4 = (__u8 *)(long)ctx->data;
	__u8 *end = (__u8 *)(long)ctx->data_end;
	__u32 ipw[10];
	__u8 *ip = (__u8 *)ipw;
	__u32 src[4] = {}, *pool = NULL, pidx, slot, h, nsrc, i;
	struct lpm_pool *pl;
	__u8 ver;

	if (bpf_skb_load_bytes_relative(ctx, 0, ip, 1, BPF_HDR_START_NET))
		return SK_PASS;
	ver = ip[0] >> 4;
	if (ver == 4) {
		struct lpm_key4 k = { .prefixlen = 32 };

		if (bpf_skb_load_bytes_relative(ctx, 0, ip, 20,
						BPF_HDR_START_NET))
			return SK_PASS;
		pool = bpf_map_lookup_elem(&dst4, &ipw[4]);
		if (!pool) {
			k.addr = ipw[3];
			pool = bpf_map_lookup_elem(&src4, &k);
		}
		src[0] = ipw[3];
		nsrc = 1;
	} else if (ver == 6) {
		struct lpm_key6 k = { .prefixlen = 128 };

		if (bpf_skb_load_bytes_relative(ctx, 0, ip, 40,
						BPF_HDR_START_NET))
			return SK_PASS;
		pool = bpf_map_lookup_elem(&dst6, &ipw[6]);
		if (!pool) {
			k.addr[0] = ipw[2];
			k.addr[1] = ipw[3];
			k.addr[2] = ipw[4];
			k.addr[3] = ipw[5];
			pool = bpf_map_lookup_elem(&src6, &k);
		}
		for (i = 0; i < 4; i++)
			src[i] = ipw[2 + i];
		nsrc = 4;
	} else {
		return SK_PASS;
	}
	pidx = pool ? *pool : default_pool;
	pl = bpf_map_lookup_elem(&pools, &pidx);
	if (!pl || !pl->n)
		return SK_PASS;
	slot = pl->first;
	if (pl->n > 1) {
		/* the flow hash of bpf/sksteer.bpf.c: source port, then the
		 * source address word by word (host order) */
		h = l4 + 2 <= end ? (__u32)l4[0] << 8 | l4[1] : 0;
#pragma unroll
		for (i = 0; i < 4; i++)
			if (i < nsrc)
				h = (h ^ bpf_ntohl(src[i])) * HASH_MUL1;
		h ^= h >> 16;
		h *= HASH_MUL2;
		h ^= h >> 13;
		slot += (pl->n & (pl->n - 1)) ? h % pl->n : h & (pl->n - 1);
	}
	bpf_sk_select_reuseport(ctx, &socks, &slot, 0);
	return SK_PASS;
}
