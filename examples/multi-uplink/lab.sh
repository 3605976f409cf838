#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# A server with three upstream lines, in network namespaces (see README.md).
#   lab.sh up [PREFIX]     create the namespaces PREFIXsrv and PREFIXnet
#   lab.sh down [PREFIX]   remove them (and everything in them)
# PREFIX defaults to "mu-". As root.
#
# PREFIXsrv is the server. It has one interface per line, up1..up3, with
# the line's address 198.51.100.N on it, and the line's gateway
# 198.51.100.10N on the other end. PREFIXnet stands for the internet: the
# other ends of the three lines (dn1..dn3, each the gateway of its line)
# and clients at 203.0.113.7 and 203.0.113.99 that reach 198.51.100.N
# through line N.
#
# The server's part is the recipe (the same commands on a real server,
# with its own interfaces and gateways):
#   - a routing table per line, 101..103, with a default route through
#     the line's gateway, and "ip rule fwmark N lookup 10N": a socket with
#     SO_MARK N (the pool option "mark N") sends through line N;
#   - the main table's default route through line 1: what has no mark
#     leaves through line 1, whatever line it came in on;
#   - rp_filter 2 (loose): the main table would send a reply to the client
#     through line 1, so strict reverse-path filtering (1) would drop what
#     the client sends in through lines 2 and 3.
set -eu

cmd=${1:-}
p=${2:-mu-}
srv=${p}srv
net=${p}net

case $cmd in
down)
	ip netns del "$srv" 2>/dev/null || true
	ip netns del "$net" 2>/dev/null || true
	exit 0
	;;
up) ;;
*)
	echo "usage: $0 up|down [PREFIX]" >&2
	exit 2
	;;
esac

ip netns add "$srv"
ip netns add "$net"
S() { ip -n "$srv" "$@"; }
N() { ip -n "$net" "$@"; }
sysctl_in() { ip netns exec "$1" sysctl -qw "$2"; }

# no IPv6 on the lines: the interface counters then count only the
# IPv4 traffic of the connections (no neighbour or router discovery)
for ns in "$srv" "$net"; do
	sysctl_in "$ns" net.ipv6.conf.all.disable_ipv6=1
	sysctl_in "$ns" net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
done

# the clients (203.0.113.99 stands for a partner with a pool of its
# own), and the internet's end of each line
N addr add 203.0.113.7/32 dev lo
N addr add 203.0.113.99/32 dev lo
sysctl_in "$net" net.ipv4.conf.all.rp_filter=0
sysctl_in "$net" net.ipv4.conf.default.rp_filter=0

for n in 1 2 3; do
	ip link add "up$n" netns "$srv" type veth peer name "dn$n" netns "$net"
	S link set "up$n" up
	N link set "dn$n" up
	S addr add "198.51.100.$n/32" dev "up$n"
	N addr add "198.51.100.10$n/32" dev "dn$n"
	S route add "198.51.100.10$n/32" dev "up$n" scope link
	N route add "198.51.100.$n/32" dev "dn$n" scope link src 203.0.113.7
	# fixed neighbours, so that no ARP goes over the lines (a real
	# gateway answers ARP; the lab wants exact packet counts)
	S neigh replace "198.51.100.10$n" dev "up$n" nud permanent \
		lladdr "$(N -br link show "dn$n" | awk '{print $3}')"
	N neigh replace "198.51.100.$n" dev "dn$n" nud permanent \
		lladdr "$(S -br link show "up$n" | awk '{print $3}')"
done

# --- the recipe: the server's policy routing ---
for n in 1 2 3; do
	S route add default via "198.51.100.10$n" dev "up$n" table "10$n"
	S rule add fwmark "$n" lookup "10$n" priority "100$n"
done
S route add default via 198.51.100.101 dev up1
sysctl_in "$srv" net.ipv4.conf.all.rp_filter=2
sysctl_in "$srv" net.ipv4.conf.default.rp_filter=2
for n in 1 2 3; do
	sysctl_in "$srv" "net.ipv4.conf.up$n.rp_filter=2"
done
