// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Baselines for measuring the steering program's cost per packet
 * (bench/): the cheapest program the hook can run, and the floor any
 * header-based steering pays: read the IP header and select a socket.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} socks SEC(".maps");

/* the socket the floor program selects */
const volatile __u32 floor_slot;

SEC("sk_reuseport")
int baseline_empty(struct sk_reuseport_md *ctx)
{
	return SK_PASS;
}

SEC("sk_reuseport")
int baseline_floor(struct sk_reuseport_md *ctx)
{
	__u32 slot = floor_slot;
	__u8 ip[40];

	if (bpf_skb_load_bytes_relative(ctx, 0, ip, 1, BPF_HDR_START_NET))
		return SK_PASS;
	if (bpf_skb_load_bytes_relative(ctx, 0, ip, (ip[0] >> 4) == 6 ? 40 : 20,
					BPF_HDR_START_NET))
		return SK_PASS;
	/* the header is read; a real program would look at it */
	if (ip[0] == 0)
		slot++;
	bpf_sk_select_reuseport(ctx, &socks, &slot, 0);
	return SK_PASS;
}
