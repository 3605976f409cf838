#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The classic BPF backend needs no privilege: run the unpriv_* tests of
# test_steer as user nobody with every capability dropped, inside a network
# namespace that root creates (and that goes away with the last process in
# it). Prints PASS/FAIL/SKIP lines; the inner tests' lines are prefixed
# "unpriv/" so they are not mistaken for the root run's.
set -u
cd "$(dirname "$0")"
name=unpriv

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP $name: needs root to make the namespace and become nobody"
	exit 0
fi
for tool in unshare setpriv ip; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP $name: $tool is not installed"
		exit 0
	fi
done
if [ ! -x ./test_steer ]; then
	echo "FAIL $name: tests/test_steer is not built (make all)"
	exit 1
fi

# The checkout may live under a directory nobody cannot enter (/root).
tmp=$(mktemp -d /tmp/sksteer-unpriv.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
cp ./test_steer "$tmp/test_steer"
chmod 755 "$tmp" "$tmp/test_steer"

# Inside: lo up as root, then nobody, no groups, no capability in any set.
out=$(cd "$tmp" && unshare -n sh -c '
	ip link set lo up || exit 90
	exec setpriv --reuid=65534 --regid=65534 --clear-groups \
		--inh-caps=-all --bounding-set=-all \
		sh -c "grep CapEff /proc/self/status; id -u; \
		       exec ./test_steer \"unpriv_*\""' 2>&1)
rc=$?

fail=0
capeff=$(printf '%s\n' "$out" | sed -n 's/^CapEff:[[:space:]]*//p')
uid=$(printf '%s\n' "$out" | sed -n '2p')
if [ -n "$capeff" ] && [ $((16#$capeff)) -eq 0 ] && [ "$uid" = 65534 ]; then
	echo "PASS $name/no_capability"
else
	echo "FAIL $name/no_capability: CapEff '${capeff:-?}', uid '${uid:-?}'"
	fail=1
fi

# test_steer's lines, renamed: "PASS test_steer/x" -> "PASS unpriv/x"
lines=$(printf '%s\n' "$out" |
	sed -n 's#^\(PASS\|FAIL\|SKIP\) test_steer/#\1 unpriv/#p')
printf '%s\n' "$lines" | grep -v '^$'
npass=$(printf '%s\n' "$lines" | grep -c '^PASS ')
nfail=$(printf '%s\n' "$lines" | grep -c '^FAIL ')

if [ "$npass" -lt 10 ]; then
	echo "FAIL $name/ran: only $npass unpriv_* tests passed (exit $rc)"
	printf '%s\n' "$out" | grep -vE '^(PASS|FAIL|SKIP) ' | tail -20 |
		sed 's/^/    /'
	fail=1
fi
if [ "$nfail" -gt 0 ] || [ "$rc" -ne 0 ]; then
	printf '%s\n' "$out" | grep -vE '^(PASS|FAIL|SKIP) |^CapEff|^65534$' |
		tail -20 | sed 's/^/    /'
	fail=1
fi
exit $fail
