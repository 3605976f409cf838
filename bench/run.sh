#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Every benchmark of sksteer, one command (make bench runs it as root):
#   bench/run.sh            writes bench/out/*.csv, bench/RESULTS.md and
#                           bench/results.png, and README.md's benchmark
#                           list from RESULTS.md (bench/readme.sh)
#   QUICK=1 bench/run.sh    a short run to try the harness (writes
#                           bench/out/ only)
# Environment: ROUNDS (netbench rounds, default 15), SECS (seconds
# measured per point and round, 0.12: many short rounds keep the medians
# robust on a shared machine), WARM (seconds of traffic before, 0.03),
# CPUS (sender,receiver CPUs, "0,1"), RPS=1 adds the udp-rps workload
# (receive path moved to the receiver's CPU by RPS), BENCH_REV (what
# RESULTS.md names as the sources measured; default: git describe),
# REPORT_ONLY=1 (write RESULTS.md and the plot again from bench/out/).
# Everything it creates (namespaces, their nftables table, veth pairs,
# per-device RPS masks) is removed on every exit path; it changes no
# global sysctl (BPF run-time statistics are enabled through a file
# descriptor that the kernel drops when progcost exits).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=$here/out
ROUNDS=${ROUNDS:-15}
SECS=${SECS:-0.12}
WARM=${WARM:-0.03}
CPUS=${CPUS:-0,1}
QUICK=${QUICK:-0}
RPS=${RPS:-0}
REPORT_ONLY=${REPORT_ONLY:-0}
PC_ROUNDS=9
PC_PASSES=15
SWAPS=1000
if [ "$QUICK" = 1 ]; then
	ROUNDS=3 SECS=0.1 PC_ROUNDS=3 PC_PASSES=4 SWAPS=100
fi

die() {
	echo "bench: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (namespaces, nftables, BPF)"
for t in ip nft gnuplot; do
	command -v $t >/dev/null 2>&1 ||
		die "$t is missing (scripts/install-deps bench installs it)"
done
for b in progcost netbench updbench; do
	[ -x "$here/$b" ] || die "bench/$b is not built (make -C bench)"
done
ncpu=$(getconf _NPROCESSORS_ONLN)
snd=${CPUS%,*}
rcv=${CPUS#*,}
[ "$rcv" -lt "$ncpu" ] && [ "$snd" -lt "$ncpu" ] ||
	die "CPUS=$CPUS: this machine has $ncpu CPUs"

# Unique names per run: veth names must fit in 15 characters.
T=skb$$
. "$here/netns.sh"

child=""
cleanup() {
	status=$?
	trap - EXIT INT TERM HUP
	if [ -n "$child" ]; then
		kill "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	ns_cleanup
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Run a benchmark in the background so that a signal can stop it.
failed=""
run() {
	name=$1
	shift
	"$@" &
	child=$!
	if wait "$child"; then
		child=""
	else
		child=""
		failed="$failed $name"
		echo "bench: FAIL $name (see above)" >&2
	fi
}

if [ "$REPORT_ONLY" != 1 ]; then
	start=$(date +%s)
	# which sources were measured (reading git changes nothing)
	rev=${BENCH_REV:-$(git -C "$here/.." describe --always --dirty 2>/dev/null ||
		echo "an unknown revision")}
	rm -rf "$out"
	mkdir -p "$out"
	smask=$((1 << snd))
	rmask=$((1 << rcv))

	echo "bench: eBPF program cost (progcost)" >&2
	run progcost "$here/progcost" --family 46 --rounds $PC_ROUNDS \
		--passes $PC_PASSES --cpu "$rcv" --csv "$out/progcost.csv" \
		--cbpf-csv "$out/cbpf.csv" --md "$out/progcost.md" \
		>"$out/progcost.txt"
	# the same with 256 distinct sources: the tables stay in the caches,
	# so this is what the program computes, without the memory latency
	# of a client mix
	echo "bench: eBPF program cost, tables in cache (progcost)" >&2
	run progcost-warm "$here/progcost" --family 46 --rounds $PC_ROUNDS \
		--passes $PC_PASSES --cpu "$rcv" --packets 256 \
		--csv "$out/progcost-warm.csv" --md "$out/progcost-warm.md" \
		>"$out/progcost-warm.txt"

	echo "bench: namespaces and the nftables table" >&2
	ns_setup_veth 1
	ns_setup_veth 2
	ns_setup_lo 1
	ns_setup_lo 2
	"$here/netbench" --emit-nft "$out/nft.conf"
	for ns in "$T-s2" "$T-l2"; do
		ip netns exec "$ns" nft -f "$out/nft.conf"
		# every connection tracked and closed with RST: keep the table small
		ip netns exec "$ns" sysctl -qw \
			net.netfilter.nf_conntrack_tcp_timeout_close=1 || true
	done

	for topo in veth lo; do
		if [ $topo = veth ]; then
			nsargs="--ns $T-s1,$T-c1 --nft-ns $T-s2,$T-c2"
		else
			nsargs="--ns $T-l1,$T-l1 --nft-ns $T-l2,$T-l2"
		fi
		rps_off
		for wl in udp tcp; do
			echo "bench: $wl over $topo (netbench)" >&2
			# shellcheck disable=SC2086
			run "netbench-$wl-$topo" "$here/netbench" --workload $wl \
				--topo $topo $nsargs --rounds "$ROUNDS" --secs "$SECS" \
				--warm "$WARM" --cpus "$CPUS" --csv "$out/net.csv" \
				--md "$out/net-$wl-$topo.md"
		done
		if [ "$RPS" = 1 ]; then
			rps_split $smask $rmask
			# shellcheck disable=SC2086
			run "netbench-udp-rps-$topo" "$here/netbench" \
				--workload udp-rps --topo $topo $nsargs \
				--rounds "$ROUNDS" --secs "$SECS" --warm "$WARM" \
				--cpus "$CPUS" \
				--csv "$out/net.csv" --md "$out/net-udp-rps-$topo.md"
			rps_off
		fi
	done
	ns_cleanup

	echo "bench: rule updates (updbench)" >&2
	TMPDIR=$out run updbench "$here/updbench" --swaps $SWAPS --cpus "$CPUS" \
		--csv "$out/update.csv" --md "$out/update.md"

	# what the report says about this run
	cat >"$out/meta" <<-EOF
	elapsed=$(($(date +%s) - start))
	day=$(date -u +%Y-%m-%d)
	rev='$rev'
	failed='$failed'
	ROUNDS=$ROUNDS SECS=$SECS WARM=$WARM PC_ROUNDS=$PC_ROUNDS PC_PASSES=$PC_PASSES SWAPS=$SWAPS
	EOF
fi
[ -f "$out/meta" ] || die "no measurements in $out (run without REPORT_ONLY)"
. "$out/meta"

# ---- the plot ----
for topo in veth lo; do
	for c in reuseport bind nft cbpf ebpf; do
		awk -F, -v t=$topo -v c=$c '
			$1 == "udp" && $2 == t && $5 == c { v[$4, $6] = $14; x[$4] = 1 }
			END { for (k in x) print k, v[k, "median"], v[k, "min"], v[k, "max"] }' \
			"$out/net.csv" | sort -n >"$out/udp-$topo-$c.dat"
	done
done
for f in 4 6; do
	awk -F, -v f=$f '
		$1 == f && $2 == "sksteer" { v[$3, $4] = $7; x[$3] = 1 }
		END { for (k in x) print k, v[k, "median"], v[k, "min"], v[k, "max"] }' \
		"$out/progcost.csv" | sort -n >"$out/prog-$f.dat"
	awk -F, -v f=$f '
		$1 == f && $2 == "lpm" { v[$3, $4] = $7; x[$3] = 1 }
		END { for (k in x) print k, v[k, "median"], v[k, "min"], v[k, "max"] }' \
		"$out/progcost.csv" | sort -n >"$out/prog-lpm-$f.dat"
	awk -F, -v f=$f '
		$1 == f && $2 == "floor" { m[$4] = $7 }
		END { print 4, m["median"]; print 100000, m["median"] }' \
		"$out/progcost.csv" >"$out/prog-floor-$f.dat"
done
png=$out/results.png
[ "$QUICK" = 1 ] || png=$here/results.png
gnuplot -e "dir='$out'; out='$png'" "$here/plot.gp"

# ---- RESULTS.md ----
pvalue() { # FAMILY CONTENDER PREFIXES COLUMN [STAT] (5 ns, 6 above floor,
	# 7 above empty, 11 sksteer minus the LPM trie; STAT median|min|max)
	awk -F, -v f="$1" -v c="$2" -v x="$3" -v col="$4" -v st="${5:-median}" '
		$1 == f && $2 == c && $3 == x && $4 == st { print $col }' \
		"${PC_CSV:-$out/progcost.csv}"
}
# the same from the run with the tables in the caches
pwarm() { PC_CSV=$out/progcost-warm.csv pvalue "$@"; }
# sksteer against the LPM trie at each scale of FAMILY, one sentence
lpm_vs() {
	f=$1
	line=""
	for x in 4 1000 100000; do
		s=$(pvalue "$f" sksteer $x 6)
		l=$(pvalue "$f" lpm $x 6)
		d=$(pvalue "$f" sksteer $x 11)
		dmin=$(pvalue "$f" sksteer $x 11 min)
		dmax=$(pvalue "$f" sksteer $x 11 max)
		[ -n "$d" ] && [ -n "$l" ] || continue
		part=$(awk -v s="$s" -v l="$l" -v d="$d" -v lo="$dmin" -v hi="$dmax" -v x="$x" '
			BEGIN {
				xs = x == 4 ? "4" : x == 1000 ? "1,000" : "100,000"
				w = d + 0 < 0 ? "**cheaper**" : "**dearer**"
				a = d + 0 < 0 ? -d : d
				q = (lo + 0 < 0 && hi + 0 > 0) ? " (not in every round)" : ""
				printf "at %s sksteer %+.0f vs LPM %+.0f, %s by %.0f ns%s", xs, s, l, w, a, q
			}')
		line="$line${line:+; }$part"
	done
	echo "$line"
}
commas() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "n/a" || v == "") print "n/a"; else printf f, v }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "n/a" && a + 0 >= b + 0) }'; }

headlines() {
	awk -f "$here/headlines.awk" "$out/net.csv"
	for f in 4 6; do
		lim=20
		[ $f = 6 ] && lim=40
		a4=$(pvalue $f sksteer 4 6)
		a1=$(pvalue $f sksteer 1000 6)
		a5=$(pvalue $f sksteer 100000 6)
		if ge "$lim" "$a5"; then g="met"; else g="**not met**"; fi
		echo "- **eBPF program alone, IPv$f:** $(fmt "$a4" %+.0f) /" \
			"$(fmt "$a1" %+.0f) / $(fmt "$a5" %+.0f) ns per run above" \
			"the floor at 4 / 1,000 / 100,000 source prefixes (goal" \
			"at 100,000: ≤ $lim ns and flat: $g); the floor is" \
			"$(fmt "$(pvalue $f floor 0 7)" %.0f) ns above the empty" \
			"program; with 256 distinct sources cycled (the tables in" \
			"the caches: what the program computes, without the memory" \
			"latency of a client mix) $(fmt "$(pwarm $f sksteer 4 6)" %+.0f) /" \
			"$(fmt "$(pwarm $f sksteer 1000 6)" %+.0f) /" \
			"$(fmt "$(pwarm $f sksteer 100000 6)" %+.0f) ns, the LPM trie" \
			"$(fmt "$(pwarm $f lpm 4 6)" %+.0f) /" \
			"$(fmt "$(pwarm $f lpm 1000 6)" %+.0f) /" \
			"$(fmt "$(pwarm $f lpm 100000 6)" %+.0f) ns."
	done
	echo "- **eBPF program alone vs a straightforward LPM trie in the same" \
		"run** (bpf/lpm.bpf.c: the same rules in a hash map of the 4" \
		"destinations and an LPM trie of the prefixes, the same datagrams;" \
		"ns per run above the floor; cheaper or dearer: sksteer minus the" \
		"LPM trie, taken within each pass): IPv4: $(lpm_vs 4). IPv6:" \
		"$(lpm_vs 6)."
	u=$(awk -F, '$1 == "ebpf" && $2 == "update_ms" && $4 == "median" { print $5 }' "$out/update.csv")
	t=$(awk -F, '$1 == "ebpf" && $2 == "total_ms" && $4 == "median" { print $5 }' "$out/update.csv")
	l=$(awk -F, '$2 == "swap_lost" { s += $5 } END { print s + 0 }' "$out/update.csv")
	m=$(awk -F, '$2 == "swap_misrouted" { s += $5 } END { print s + 0 }' "$out/update.csv")
	echo "- **Rule updates:** 100,000 prefixes replace the set of a" \
		"running group in $(fmt "$u" %.0f) ms ($(fmt "$t" %.0f) ms" \
		"including parsing the file); $(commas $SWAPS) live swaps per backend" \
		"under load lost $l datagrams and misrouted $m (every" \
		"swap a complete program and table replacement)."
}

if [ "$QUICK" = 1 ]; then
	md=$out/RESULTS.md
else
	md=$here/RESULTS.md
fi
{
	echo "# sksteer benchmarks"
	echo
	echo "Produced by \`make bench\` (bench/run.sh) on $day" \
		"in $elapsed s, sources at $rev. Raw data: bench/out/ (not" \
		"committed; the run writes it). Method and contenders:" \
		"bench/netbench.c, bench/progcost.c, bench/updbench.c (header" \
		"comments)."
	echo
	if [ -n "$failed" ]; then
		echo "**THE RUN FAILED:$failed** (a datagram or connection in the" \
			"wrong pool, lost, or a benchmark error): the figures" \
			"below are not valid."
		echo
	fi
	echo "## Headlines"
	echo
	headlines
	echo
	echo "![cost per packet against the number of prefixes](results.png)"
	echo
	echo "## Machine"
	echo
	echo '```'
	lscpu | grep -E '^(Architecture|CPU\(s\)|Model name|Thread|Core|Socket|Hypervisor vendor|L1d|L2|L3|NUMA node\(s\))' || true
	echo "kernel: $(uname -r) ($(uname -v))"
	echo "sender CPU $snd, receiver CPU $rcv; netbench: $ROUNDS rounds," \
		"${SECS} s measured per point and round after ${WARM} s"
	echo '```'
	echo
	echo "Command: \`make bench\` (as root; = \`scripts/install-deps bench &&" \
		"make all && make -C bench && bench/run.sh\`)."
	echo
	echo "## UDP and TCP: the five contenders, alternated in each round"
	echo
	echo "Contenders: **a** plain SO_REUSEPORT (kernel hash, no" \
		"steering); **b** one socket bound per destination address" \
		"(the kernel's exact lookup, the practical limit for" \
		"destination steering; it cannot steer by source); **c**" \
		"nftables NAT redirect from the service port to one port per" \
		"pool, same rules (its own namespaces: conntrack is on for" \
		"every packet of a namespace with a NAT chain; closed TCP" \
		"connections leave the table after 1 s); **d** sksteer" \
		"classic BPF; **e** sksteer eBPF."
	echo
	echo "Scales: **4 dst**: 4 rules by destination, traffic to the 4" \
		"addresses; **N src**: the 4 destination rules and a rule on" \
		"N source prefixes (deterministic random public prefixes plus" \
		"8 that cover half of the 254 clients in 203.0.113.0/24)," \
		"traffic to a fifth address so that every packet is classified" \
		"by the set (the worst case for rule-list matchers)."
	echo
	echo "Metric: the sending thread's CPU time per datagram or" \
		"connection. On veth and lo the whole receive path (IP, socket" \
		"lookup, the steering program or NAT, queueing) runs in the" \
		"softirq the sender's system call raises, so this is the cost" \
		"of a packet end to end on one CPU; the receiving application" \
		"polls on the other CPU. Relative throughput = b's CPU time /" \
		"the contender's, computed within each round (median, min–max" \
		"over rounds), and so is the difference to b in ns (\"minus" \
		"b's\"). The points of a scale are measured one after the" \
		"other in a shuffled order, scales in a shuffled order, so that" \
		"the pairs are a second apart. Every datagram and connection is checked for its" \
		"pool (b: its address; c, d, e: the pool the rules pick, from" \
		"the reference matcher); a wrong pool or a loss fails the run."
	echo
	for f in "$out"/net-*.md; do
		cat "$f"
	done
	echo "## eBPF program cost (kernel.bpf_stats_enabled) and classic BPF size"
	echo
	echo "run_time_ns / run_cnt of each program, the empty program and" \
		"the floor (read the IP header, select a fixed socket) in the" \
		"same run, and a straightforward LPM-trie program doing the same" \
		"job (bpf/lpm.bpf.c: the 4 destinations in a hash map, the same" \
		"source prefixes in a BPF_MAP_TYPE_LPM_TRIE, the same pools in a" \
		"REUSEPORT_SOCKARRAY with sksteer's flow hash; no counters, so a" \
		"lower bound for that design; its map memory is the kernel's" \
		"memlock figure, its load time includes inserting the prefixes" \
		"one by one), checked for the right pool like sksteer and fed the" \
		"same datagrams: each contender its own reuseport group in a private" \
		"namespace, UDP datagrams from random public source addresses" \
		"(a raw socket on lo), 1 in 16 to one of the 4 \`to\` rule" \
		"addresses, the others to a fifth so that the source set" \
		"decides; chunks of 2,048 datagrams per contender, shuffled," \
		"$PC_PASSES per round, $PC_ROUNDS rounds. Differences (to the" \
		"floor, to the empty program, sksteer minus the LPM trie of the" \
		"same scale) are taken within a pass. Classic BPF: the interpreter (src/interp.c, the" \
		"kernel's semantics) over the same datagrams."
	echo
	echo "Command: \`bench/progcost --family 46 --rounds $PC_ROUNDS --passes $PC_PASSES\`"
	echo
	cat "$out/progcost.md"
	echo "### The same with the tables in the caches"
	echo
	echo "256 distinct datagrams (sources) per contender, cycled: after" \
		"the first of a chunk, a lookup finds its table lines in the" \
		"caches, so these figures are the program's own work; the" \
		"difference to the tables above is the memory latency of" \
		"16,384 random sources (a miss for about every datagram once a" \
		"table outgrows the caches the rest of the packet path leaves)."
	echo
	echo "Command: \`bench/progcost --family 46 --rounds $PC_ROUNDS" \
		"--passes $PC_PASSES --packets 256\`"
	echo
	cat "$out/progcost-warm.md"
	echo "## Rule updates"
	echo
	echo "A running UDP group; its 100,000-prefix set replaced by another" \
		"(from a file) and back; then $(commas "$SWAPS") live swaps between three" \
		"configurations of 1,000 prefixes that send the same clients to" \
		"different pools, 2 ms apart, with 254 clients sending in a" \
		"closed loop. A datagram must land in the pool of the" \
		"configuration active when it was sent or the next one;" \
		"datagrams that waited across a whole swap (possible only for" \
		"every configuration) are counted as not checkable."
	echo
	echo "Command: \`bench/updbench --swaps $SWAPS\`"
	echo
	cat "$out/update.md"
	echo "## What was not measured"
	echo
	echo "- Classic BPF at 100,000 prefixes: the program would need" \
		"about $(awk -F, '$1 == 4 && $2 == 100000 { print $5 }' "$out/cbpf.csv")" \
		"instructions; the kernel's limit is 4096."
	echo "- udp-rps (receive path on the receiver's CPU through RPS) is" \
		"not in the default run: in this virtual machine the RPS IPI" \
		"costs the sender more than the whole receive path, so the" \
		"sender, not the steering, sets the rate. \`RPS=1 make bench\`" \
		"adds it."
	echo "- IPv6 traffic through the contenders (the program cost is" \
		"measured for IPv6 above)."
} >"$md"

echo "bench: wrote $md, $png, $out/*.csv" >&2
# README.md's list: RESULTS.md's headlines, never typed by hand
if [ "$QUICK" != 1 ]; then
	"$here/readme.sh" update
	"$here/readme.sh" check
fi
if [ -n "$failed" ]; then
	die "FAILED:$failed"
fi
