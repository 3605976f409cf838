#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Run every test: test programs, test scripts and a short fuzzing run.
# Each prints PASS/FAIL/SKIP lines; the last line of the output is
# "N passed, N failed".
#   tests/run.sh [PATTERN]    only programs/scripts whose name matches
set -u
cd "$(dirname "$0")"
pattern=${1:-*}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

run() {
	local name=$1 tmp rc
	shift
	tmp=$(mktemp)
	"$@" >"$tmp" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|SKIP) ' "$tmp" | tee -a "$out"
	if [ "$rc" -ne 0 ]; then
		# context for the failure: everything else the test printed
		grep -vE '^(PASS|FAIL|SKIP) ' "$tmp" | tail -40 | sed 's/^/    /'
		# a program that died without reporting counts as a failure
		if ! grep -q '^FAIL ' "$tmp"; then
			echo "FAIL $name: exited with status $rc" | tee -a "$out"
		fi
	fi
	rm -f "$tmp"
}

# Programs whose cases run once per steering backend (one table of cases,
# SKSTEER_TEST_BACKEND picks the backend; see tests/steer_util.h).
backend_tests=" test_steer test_kernel_diff test_update "

for t in test_*; do
	case $t in *.c|*.o|*.d|*.h) continue ;; esac
	[[ $t == $pattern ]] || continue
	if [[ $t == *.sh ]]; then
		run "${t%.sh}" bash "./$t"
	elif [[ $backend_tests == *" $t "* ]]; then
		run "$t[cbpf]" env SKSTEER_TEST_BACKEND=cbpf TL_NAME="$t[cbpf]" \
			"./$t"
		run "$t[ebpf]" env SKSTEER_TEST_BACKEND=ebpf TL_NAME="$t[ebpf]" \
			"./$t"
	elif [ -x "$t" ]; then
		run "$t" "./$t"
	fi
done

if [[ $pattern == '*' ]]; then
	run fuzz ./run-fuzz.sh
fi

pass=$(grep -c '^PASS ' "$out")
fail=$(grep -c '^FAIL ' "$out")
skip=$(grep -c '^SKIP ' "$out")
echo
if [ "$fail" -gt 0 ]; then
	echo "failures:"
	grep '^FAIL ' "$out"
fi
[ "$skip" -gt 0 ] && echo "$skip skipped (reasons above)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
