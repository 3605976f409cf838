#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Pins are per network namespace (FILES in sksteer(8)):
#  - two supervisors of one service name in two network namespaces that
#    share a bpffs both start, each pins under sksteer-netns/INODE, and
#    `stats` in each namespace shows its own group and its own counters;
#    in the initial network namespace the path stays sksteer/SERVICE;
#  - `ip netns exec NS sksteer stats` finds the group of
#    `ip netns exec NS sksteer run` (each has a mount namespace of its own
#    with a fresh /sys).
# The shared bpffs is mounted in a private mount namespace: the host's
# /sys/fs/bpf is not touched. Traffic stays on 127.0.0.1 in our namespaces.
set -u
cd "$(dirname "$0")"
name=test_stats_netns
bin=$(cd .. && pwd)/tools/sksteer

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP $name: needs root for network namespaces"
	exit 0
fi
[ -x "$bin" ] || { echo "FAIL $name: $bin is not built (make all)"; exit 1; }
if ! "$bin" check /dev/stdin >/dev/null 2>&1 <<<'service s { listen tcp 127.0.0.1:0
	backend ebpf
	pool a 1 }'; then
	echo "SKIP $name: eBPF backend unavailable here"
	exit 0
fi
slow=${SKSTEER_TEST_SLOW:-1}
T=$(mktemp -d) || exit 1
NS=sks-$name-$$-$RANDOM
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

pass() { echo "PASS $name/$1"; }
fail() { echo "FAIL $name/$1: $2"; }

cat >"$T/web.conf" <<'CONF'
service web {
  listen tcp 127.0.0.1:18080
  backend ebpf
  pool a 1
  default pool a
}
CONF

# --- 1: two network namespaces, one bpffs, one service name -----------
# Each supervisor in a network namespace of its own (unshare -n) in one
# private mount namespace with a bpffs on /sys/fs/bpf. Connections: 2 in
# the first, 5 in the second; stats via nsenter into each.
cat >"$T/two.sh" <<'SH'
set -u
T=$1 bin=$2 slow=$3
mount -t bpf bpf /sys/fs/bpf || { echo "mount bpffs failed"; exit 1; }
start() { # NAME: a supervisor in a new network namespace, pid in $T/NAME.pid
	unshare -n bash -c 'ip link set lo up && exec "$1" run \
		--runtime-dir "$2" "$3" -- sleep 600' _ "$bin" "$T/rt-$1" \
		"$T/web.conf" >"$T/$1.out" 2>&1 &
	echo $! >"$T/$1.pid"
}
mkdir -p "$T/rt-a" "$T/rt-b" "$T/rt-init"
start a
start b
ok=0
for _ in $(seq $((100 * slow))); do
	# the control socket may come before the pins: wait for both
	[ -e "$T/rt-a/web.sock" ] && [ -e "$T/rt-b/web.sock" ] &&
		[ "$(ls /sys/fs/bpf/sksteer-netns/*/web/meta 2>/dev/null | wc -l)" = 2 ] &&
		{ ok=1; break; }
	sleep 0.05
done
[ $ok = 1 ] || { echo "not both started:"; cat "$T/a.out" "$T/b.out"; }
conn() { # PID N: N connections in PID's network namespace
	nsenter -t "$1" -n bash -c 'for i in $(seq $1); do
		exec 3<>/dev/tcp/127.0.0.1/18080 && exec 3>&-; done' _ "$2"
}
pa=$(cat "$T/a.pid") pb=$(cat "$T/b.pid")
conn "$pa" 2
conn "$pb" 5
nsenter -t "$pa" -n "$bin" -j stats >"$T/a.json" 2>"$T/a.err"
echo "stats-a $?"
nsenter -t "$pb" -n "$bin" -j stats >"$T/b.json" 2>"$T/b.err"
echo "stats-b $?"
ino_a=$(nsenter -t "$pa" -n stat -L -c %i /proc/self/ns/net)
ino_b=$(nsenter -t "$pb" -n stat -L -c %i /proc/self/ns/net)
[ -e "/sys/fs/bpf/sksteer-netns/$ino_a/web/meta" ] && echo "pin-a ok"
[ -e "/sys/fs/bpf/sksteer-netns/$ino_b/web/meta" ] && echo "pin-b ok"
# the initial network namespace (unshare -m kept it): the old path
if [ "$(stat -L -c %i /proc/self/ns/net)" = "$(stat -L -c %i /proc/1/ns/net 2>/dev/null)" ] ||
	[ "$(stat -L -c %i /proc/self/ns/net)" = 4026531833 ]; then
	sed 's/127.0.0.1:18080/127.0.0.1:0/' "$T/web.conf" >"$T/init.conf"
	"$bin" run --runtime-dir "$T/rt-init" "$T/init.conf" -- sleep 600 \
		>"$T/init.out" 2>&1 &
	pi=$!
	# the description is pinned before the counters: wait for stats
	# to read the whole group, not for the first pin
	for _ in $(seq $((100 * slow))); do
		[ -e "$T/rt-init/init.sock" ] &&
			"$bin" stats web >/dev/null 2>&1 && break
		sleep 0.05
	done
	[ -e /sys/fs/bpf/sksteer/web/meta ] && echo "pin-init ok"
	"$bin" stats web >"$T/init.stats" 2>&1 && echo "stats-init ok"
	kill $pi; wait $pi
else
	echo "pin-init unknown"
fi
kill "$pa" "$pb"
wait
SH
timeout $((60 * slow)) unshare -m --propagation private \
	bash "$T/two.sh" "$T" "$bin" "$slow" >"$T/two.log" 2>&1
py_get() { # FILE EXPR: a value from the stats JSON
	python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}
if grep -q "^stats-a 0" "$T/two.log" && grep -q "^stats-b 0" "$T/two.log"; then
	pass two-namespaces-start
else
	fail two-namespaces-start "$(tr '\n' '|' <"$T/two.log"; cat "$T"/a.err "$T"/b.err "$T"/a.out "$T"/b.out 2>/dev/null | tr '\n' '|')"
fi
ga=$(py_get "$T/a.json" '[(g["service"], g["counters"]["packets"]) for g in d]')
gb=$(py_get "$T/b.json" '[(g["service"], g["counters"]["packets"]) for g in d]')
if [ "$ga" = "[('web', 2)]" ] && [ "$gb" = "[('web', 5)]" ]; then
	pass own-counters
else
	fail own-counters "namespace a: $ga, namespace b: $gb"
fi
grep -q "^pin-a ok" "$T/two.log" && grep -q "^pin-b ok" "$T/two.log" &&
	pass netns-path || fail netns-path "$(tr '\n' '|' <"$T/two.log")"
if grep -q "^pin-init unknown" "$T/two.log"; then
	echo "SKIP $name/initial-path: cannot tell the initial network namespace here"
elif grep -q "^pin-init ok" "$T/two.log" && grep -q "^stats-init ok" "$T/two.log"; then
	pass initial-path
else
	fail initial-path "$(tr '\n' '|' <"$T/two.log"; cat "$T/init.out" "$T/init.stats" 2>/dev/null | tr '\n' '|')"
fi

# --- 2: ip netns exec run, ip netns exec stats ------------------------
if ! ip netns add "$NS" || ! ip -n "$NS" link set lo up; then
	fail ip-netns-exec "ip netns add $NS failed"
	exit 1
fi
mkdir -p "$T/rt-x"
ip netns exec "$NS" "$bin" run --runtime-dir "$T/rt-x" "$T/web.conf" \
	-- sleep 600 >"$T/x.out" 2>&1 &
pids+=($!)
for _ in $(seq $((100 * slow))); do
	[ -e "$T/rt-x/web.sock" ] && grep -q "reload with" "$T/x.out" && break
	sleep 0.05
done
ip netns exec "$NS" bash -c 'for i in 1 2 3; do
	exec 3<>/dev/tcp/127.0.0.1/18080 && exec 3>&-; done'
ip netns exec "$NS" "$bin" -j stats >"$T/x.json" 2>"$T/x.err"
gx=$(py_get "$T/x.json" '[(g["service"], g["counters"]["packets"]) for g in d]')
if [ "$gx" = "[('web', 3)]" ]; then
	pass ip-netns-exec
else
	fail ip-netns-exec "stats: $gx $(cat "$T/x.err" "$T/x.out" | tr '\n' '|')"
fi
ip netns exec "$NS" "$bin" stats web >"$T/x.txt" 2>&1 &&
	grep -q "^service web" "$T/x.txt" && pass ip-netns-exec-named ||
	fail ip-netns-exec-named "$(tr '\n' '|' <"$T/x.txt")"
