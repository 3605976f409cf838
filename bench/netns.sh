# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Namespaces for bench/run.sh (sourced). Two "sides" with the same
# addresses: side 1 for the contenders a, b, d, e, side 2 for the
# nftables one (its NAT chain turns on connection tracking for every packet
# of its namespace). Per side:
#   veth: $T-cN (client) <-> $T-sN (server) over veth $T-cN / $T-sN
#         server: 198.51.100.1-5 (the service's addresses), client:
#         198.51.100.100 and every address of 203.0.113.0/24 (a local
#         route, so it can send from any of them)
#   lo:   $T-lN: the server addresses and 203.0.113.0/24 on lo
# Addresses: only 198.51.100.0/24 and 203.0.113.0/24 (the address plan).

# $T is the prefix of every name; set by the caller (unique per run).
BENCH_NS=""

ns_add() {
	ip netns add "$1"
	BENCH_NS="$BENCH_NS $1"
	ip -n "$1" link set lo up
}

ns_setup_veth() { # side
	c=$T-c$1 s=$T-s$1
	ns_add "$c"
	ns_add "$s"
	ip link add "$T-c$1" netns "$c" type veth peer name "$T-s$1" netns "$s"
	ip -n "$s" addr add 198.51.100.1/24 dev "$T-s$1"
	for i in 2 3 4 5; do
		ip -n "$s" addr add "198.51.100.$i/32" dev "$T-s$1"
	done
	ip -n "$c" addr add 198.51.100.100/24 dev "$T-c$1"
	ip -n "$s" link set "$T-s$1" up
	ip -n "$c" link set "$T-c$1" up
	ip -n "$c" route add local 203.0.113.0/24 dev lo
	ip -n "$s" route add 203.0.113.0/24 via 198.51.100.100 dev "$T-s$1"
}

ns_setup_lo() { # side
	l=$T-l$1
	ns_add "$l"
	for i in 1 2 3 4 5; do
		ip -n "$l" addr add "198.51.100.$i/32" dev lo
	done
	ip -n "$l" route add local 203.0.113.0/24 dev lo
}

# rps NS DEV MASK: where the receive path of DEV's packets runs (0: on
# the CPU that queued them, which for veth and lo is the sender's)
rps() {
	ip netns exec "$1" sh -c \
		"echo $3 > /sys/class/net/$2/queues/rx-0/rps_cpus"
}

# The receive path of the servers on the receiver's CPU, the client's
# (TCP SYN-ACKs) on the sender's; on lo both directions share one queue.
rps_split() { # sndmask rcvmask
	for side in 1 2; do
		rps "$T-s$side" "$T-s$side" "$2"
		rps "$T-c$side" "$T-c$side" "$1"
		rps "$T-l$side" lo "$2"
	done
}

rps_off() {
	rps_split 0 0
}

ns_cleanup() {
	for ns in $BENCH_NS; do
		ip netns exec "$ns" nft delete table ip sksteer_bench \
			2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	BENCH_NS=""
}
