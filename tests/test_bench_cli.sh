#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The benchmark tools refuse a malformed option value whole, naming the
# option and the value (they once read "10k" swaps as 10 and "0.1s" as
# 0.1), and README.md's benchmark list is what bench/RESULTS.md says.
set -u
cd "$(dirname "$0")/.."
fails=0

fail() {
	echo "FAIL test_bench_cli/$1: $2"
	fails=$((fails + 1))
}

if ! out=$(make -s -C bench progcost netbench updbench 2>&1); then
	echo "FAIL test_bench_cli/build: $out" | head -5
	exit 1
fi

# refused: TOOL OPTION VALUE [what the message must say]
refused() {
	local tool=$1 opt=$2 val=$3 want=${4:-$3} out rc

	out=$(timeout $((20 * ${SKSTEER_TEST_SLOW:-1})) "bench/$tool" "$opt" "$val" 2>&1 </dev/null)
	rc=$?
	if [ "$rc" -eq 0 ] || [ "$rc" -ge 124 ]; then
		fail "$tool$opt=$val" "exit status $rc, expected a refusal"
	elif ! grep -qF -- "$opt: '$want'" <<<"$out"; then
		fail "$tool$opt=$val" "the message does not name it: $out"
	else
		echo "PASS test_bench_cli/$tool$opt=$val"
	fi
}

refused progcost --rounds 3x
refused progcost --prefixes 4,1000x 1000x
refused progcost --packets ""
refused progcost --seed -1
refused netbench --rounds 2junk
refused netbench --secs 0.1s
refused netbench --secs nan
refused netbench --warm 11
refused netbench --scales dst,12q 12q
refused netbench --cpus 0,x
refused netbench --port-base 80
refused updbench --swaps 10k
refused updbench --prefixes 7
refused updbench --gap-us 1e3
refused updbench --cpus 0,1,2

for tool in progcost netbench updbench; do
	if out=$("bench/$tool" --help 2>&1) && grep -q '^usage: ' <<<"$out"; then
		echo "PASS test_bench_cli/$tool--help"
	else
		fail "$tool--help" "no usage on --help: $out"
	fi
done

if out=$(bench/readme.sh check 2>&1); then
	echo "PASS test_bench_cli/readme-matches-results"
else
	fail readme-matches-results "$out"
fi
exit $((fails > 0))
