#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# README.md's benchmark list, made from bench/RESULTS.md (bench/readme.awk)
# between the two marker lines below; nothing else of README.md changes.
#   bench/readme.sh update   rewrite the list (bench/run.sh does this after
#                            a full run)
#   bench/readme.sh check    exit 1 unless the list is what RESULTS.md
#                            gives, every number in it appears in
#                            RESULTS.md, and both links resolve
set -eu

here=$(cd "$(dirname "$0")" && pwd)
readme=${README:-$here/../README.md}
results=${RESULTS:-$here/RESULTS.md}
begin='<!-- bench: made by bench/readme.sh from bench/RESULTS.md; edit those, not this list -->'
end='<!-- bench: end -->'

die() {
	echo "readme.sh: $*" >&2
	exit 1
}

[ -f "$results" ] || die "no $results"
[ "$(grep -cxF "$begin" "$readme")" = 1 ] && [ "$(grep -cxF "$end" "$readme")" = 1 ] ||
	die "$readme needs the two marker lines once each"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk -f "$here/readme.awk" "$results" >"$tmp/raw" ||
	die "could not read the headlines of $results"
# wrapped like the rest of README.md: 76 columns, list items indented
awk '
function out(s, ind,    w, n, i, l) {
	n = split(s, w, " ")
	l = ""
	for (i = 1; i <= n; i++) {
		# a line must not start with what Markdown reads as a list
		# marker or a heading
		if (l != "" && length(l) + 1 + length(w[i]) > 76 &&
		    w[i] !~ /^([0-9]+[.)]|[-+*#>])$/) {
			print l
			l = ind w[i]
		} else
			l = l (l == "" || l == ind ? "" : " ") w[i]
	}
	if (l != "")
		print l
}
/^- / { out($0, "  "); next }
/^$/ { print; next }
{ out($0, "") }' "$tmp/raw" >"$tmp/block"

# README.md with @block between the markers
splice() {
	awk -v b="$begin" -v e="$end" -v f="$1" '
		$0 == b { print; while ((getline l < f) > 0) print l; skip = 1; next }
		$0 == e { skip = 0 }
		!skip' "$readme"
}

case "${1:-}" in
update)
	splice "$tmp/block" >"$tmp/readme"
	if cmp -s "$tmp/readme" "$readme"; then
		echo "readme.sh: $readme is up to date" >&2
	else
		cat "$tmp/readme" >"$readme"
		echo "readme.sh: updated the benchmark list of $readme" >&2
	fi
	;;
check)
	st=0
	splice "$tmp/block" >"$tmp/readme"
	if ! cmp -s "$tmp/readme" "$readme"; then
		echo "readme.sh: README.md's benchmark list is not what" \
			"RESULTS.md gives (bench/readme.sh update):" >&2
		diff -u "$readme" "$tmp/readme" >&2 || true
		st=1
	fi
	# independently of readme.awk: every number of the list as written
	# in README.md must appear in RESULTS.md
	awk -v b="$begin" -v e="$end" '$0 == e { p = 0 } p; $0 == b { p = 1 }' \
		"$readme" >"$tmp/listed"
	grep -oE '[-+]?[0-9][0-9,.]*[0-9]|[-+]?[0-9]' "$tmp/listed" | sort -u |
		while read -r n; do
			grep -qF -- "$n" "$results" ||
				echo "readme.sh: $n is in README.md's list, not in RESULTS.md" >&2
		done >"$tmp/missing" 2>&1
	if [ -s "$tmp/missing" ]; then
		cat "$tmp/missing" >&2
		st=1
	fi
	for f in RESULTS.md results.png; do
		grep -qF "(bench/$f)" "$tmp/listed" ||
			{ echo "readme.sh: the list does not link bench/$f" >&2; st=1; }
		[ -f "$here/$f" ] ||
			{ echo "readme.sh: bench/$f does not exist" >&2; st=1; }
	done
	[ $st = 0 ] && echo "readme.sh: README.md matches $results" >&2
	exit $st
	;;
*)
	echo "usage: bench/readme.sh update|check" >&2
	exit 2
	;;
esac
