#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Run every libFuzzer target for FUZZ_SECONDS (make check: a short run)
# from its seed corpus; a crash fails the target and is kept in
# tests/fuzz/crashes/.
set -u
cd "$(dirname "$0")/fuzz"
secs=${FUZZ_SECONDS:-15}
mkdir -p crashes
for f in fuzz_*; do
	case $f in *.c|*.o|*.d|*.dict) continue ;; esac
	[ -x "$f" ] || continue
	corpus=$(mktemp -d)
	seeds=corpus/${f#fuzz_}
	dict=
	[ -f "$f.dict" ] && dict=-dict=$f.dict
	if ./"$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=0 -artifact_prefix=crashes/"$f"- $dict \
		"$corpus" $( [ -d "$seeds" ] && echo "$seeds") \
		>"$corpus.log" 2>&1; then
		echo "PASS fuzz/$f: $(grep -o 'Done [0-9]* runs' "$corpus.log" |
			tail -1) in ${secs}s"
	else
		echo "FAIL fuzz/$f: $(grep -m1 -E 'ERROR|SUMMARY|deadly' "$corpus.log")" \
		     "(artifact in tests/fuzz/crashes/, log below)"
		tail -30 "$corpus.log" >&2
	fi
	rm -rf "$corpus" "$corpus.log"
done
