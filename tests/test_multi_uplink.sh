#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# examples/multi-uplink must keep working: build its lab (a server with
# three lines, in network namespaces), run its configuration under
# `sksteer run` with examples/worker, connect through each line and check
# that each connection was accepted by the pool the rules pick (the
# worker's greeting names it) and that the server's packets of that
# connection left through the line the mark picks and through no other
# (the tx_packets counters of the server's three interfaces). The
# unmarked pool is the control: its replies leave through line 1 (the
# main table), whatever line the connection came in on.
set -u
cd "$(dirname "$0")/.."
name=example/multi-uplink
ex=examples/multi-uplink

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP $name: needs root for network namespaces"
	exit 0
fi
for bin in tools/sksteer examples/worker; do
	if [ ! -x "$bin" ]; then
		echo "FAIL $name: $bin is not built (make all)"
		exit 1
	fi
done
# Debian's python3 (a version manager's shim can take seconds to start)
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) || {
	echo "SKIP $name: no python3 (scripts/install-deps test)"
	exit 0
}
slow=${SKSTEER_TEST_SLOW:-1}
p="sks-mu$$-"
srv=${p}srv
net=${p}net
tmp=$(mktemp -d) || exit 1
chmod 755 "$tmp"
sup=
cleanup() {
	if [ -n "$sup" ]; then
		kill -TERM "$sup" 2>/dev/null
		for _ in $(seq $((50 * slow))); do
			kill -0 "$sup" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$sup" 2>/dev/null
		wait "$sup" 2>/dev/null
	fi
	"$ex/lab.sh" down "$p"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail=0
report() {
	echo "FAIL $name: $*"
	fail=1
}

if ! "$ex/lab.sh" up "$p" >"$tmp/lab.out" 2>&1; then
	report "lab.sh up failed:"
	sed 's/^/    /' "$tmp/lab.out"
	exit 1
fi
# the worker runs from a directory every user can enter (the checkout
# may be 0700)
cp tools/sksteer examples/worker "$tmp/"
ip netns exec "$srv" "$tmp/sksteer" run -n "mu$$" --runtime-dir "$tmp/run" \
	"$ex/multi-uplink.conf" -- "$tmp/worker" >"$tmp/run.out" 2>&1 &
sup=$!

tx() { cat "/sys/class/net/up$1/statistics/tx_packets"; }
counts() { ip netns exec "$srv" bash -c "$(declare -f tx); echo \$(tx 1) \$(tx 2) \$(tx 3)"; }
connect() {
	timeout $((10 * slow)) ip netns exec "$net" "$py" "$ex/client.py" \
		"$1" "$2" 8080 2>&1
}

# ready when a connection through line 1 is answered
up=0
for _ in $(seq $((100 * slow))); do
	if connect 203.0.113.7 198.51.100.1 2>/dev/null | grep -q hello; then
		up=1
		break
	fi
	kill -0 "$sup" 2>/dev/null || break
	sleep 0.1
done
if [ $up -eq 0 ]; then
	report "sksteer run did not answer:"
	sed 's/^/    run: /' "$tmp/run.out"
	exit 1
fi

# SRC DST POOL LINE: the pool the rules pick, the line the mark picks
cases="203.0.113.7 198.51.100.1 line1 1
203.0.113.7 198.51.100.2 line2 2
203.0.113.7 198.51.100.3 line3 3
203.0.113.99 198.51.100.2 partner 1
203.0.113.99 198.51.100.3 partner 1"
n=0
while read -r src dst pool line; do
	for round in 1 2; do
		before=($(counts))
		out=$(connect "$src" "$dst")
		after=($(counts))
		echo "$out (tx ${before[*]} -> ${after[*]})"
		n=$((n + 1))
		# hello SERVICE POOL INDEX PID LOCAL-ADDRESS
		read -r hello svc got _ _ local <<<"${out#*: }"
		[ "$hello $svc $got $local" = "hello web $pool $dst" ] ||
			report "$src -> $dst: '$out', expected pool $pool"
		for l in 1 2 3; do
			d=$((after[l - 1] - before[l - 1]))
			if [ "$l" = "$line" ] && [ "$d" -lt 3 ]; then
				report "$src -> $dst ($pool): $d packets through line $l, expected the connection's (at least 3)"
			elif [ "$l" != "$line" ] && [ "$d" -ne 0 ]; then
				report "$src -> $dst ($pool): $d packets through line $l, expected 0 (line $line)"
			fi
		done
	done
done <<<"$cases"

if [ $fail -eq 0 ]; then
	echo "PASS $name ($n connections, each in its pool and out through its line)"
else
	sed 's/^/    run: /' "$tmp/run.out" | tail -20
fi
exit $fail
