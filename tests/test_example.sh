#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# examples/multiproc-server must keep working: run it in a fresh network
# namespace, connect twice to each of 127.0.0.1-127.0.0.4 and check that
# each connection was accepted by the process of its line (from the
# server's output and from the greeting the client receives), and that the
# four lines are four different processes.
set -u
cd "$(dirname "$0")"
name=example/multiproc-server
bin=../examples/multiproc-server

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP $name: needs root for a network namespace"
	exit 0
fi
if [ ! -x "$bin" ]; then
	echo "FAIL $name: $bin is not built (make all)"
	exit 1
fi
# time limits scale on a slow (emulated) machine, see tests/testlib.h
slow=${SKSTEER_TEST_SLOW:-1}
srv_out=$(mktemp) && cli_out=$(mktemp) || exit 1
trap 'rm -f "$srv_out" "$cli_out"' EXIT

# Everything in the namespace dies with it; timeout bounds the run.
timeout $((20 * slow)) unshare -n bash -c '
	ip link set lo up || exit 1
	"$1" 0 >"$2" 2>&1 &
	srv=$!
	for _ in $(seq $((100 * $3))); do
		grep -q "^listening" "$2" && break
		sleep 0.05
	done
	port=$(sed -n "s/^listening on .*:\([0-9]*\)$/\1/p" "$2")
	[ -n "$port" ] || { echo "no port"; kill $srv; exit 1; }
	for round in 1 2; do
		for i in 1 2 3 4; do
			reply=none
			if exec 3<>"/dev/tcp/127.0.0.$i/$port"; then
				read -r -t $((5 * $3)) reply <&3
				exec 3>&-
			fi
			echo "127.0.0.$i: $reply"
		done
	done
	for _ in $(seq "$3"); do sleep 0.2; done # the last lines of the server
	kill $srv
	wait $srv 2>/dev/null
	exit 0
' _ "$bin" "$srv_out" "$slow" >"$cli_out" 2>&1
rc=$?

fail=0
report() {
	echo "FAIL $name: $*"
	sed 's/^/    server: /' "$srv_out"
	sed 's/^/    client: /' "$cli_out"
	fail=1
}

[ $rc -eq 0 ] || report "the run failed (status $rc)"
declare -A pid_of
for i in 1 2 3 4; do
	# the client that connected to line i's address was greeted by line i
	n=$(grep -c "^127\.0\.0\.$i: hello from line$i$" "$cli_out")
	[ "$n" -eq 2 ] || report "127.0.0.$i: $n of 2 greetings from line$i"
	# and line i's process logged both, each to 127.0.0.i
	n=$(grep -c "^line$i: process [0-9]* accepted .* -> 127\.0\.0\.$i$" \
		"$srv_out")
	[ "$n" -eq 2 ] || report "line$i logged $n of 2 connections to 127.0.0.$i"
	wrong=$(grep "^line$i: " "$srv_out" | grep -vc " -> 127\.0\.0\.$i$")
	[ "$wrong" -eq 0 ] || report "line$i accepted connections to other addresses"
	pids=$(sed -n "s/^line$i: process \([0-9]*\) .*/\1/p" "$srv_out" |
		sort -u)
	[ "$(echo "$pids" | wc -w)" -eq 1 ] ||
		report "line$i was served by processes '$pids'"
	pid_of[$i]=$pids
done
distinct=$(printf '%s\n' "${pid_of[@]}" | sort -u | wc -l)
[ "$distinct" -eq 4 ] || report "the four lines ran in $distinct processes"
[ $fail -eq 0 ] && echo "PASS $name"
exit $fail
