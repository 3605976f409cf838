#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# docs/libsksteer.3 documents exactly the public API: every function
# include/sksteer.h exports has a synopsis in the page, and the page has
# none that the header does not declare.
set -u
cd "$(dirname "$0")/.."
name=manpage/libsksteer.3

header=$(tr '\n' ' ' <include/sksteer.h | grep -oE 'SKSTEER_API [^;]*;' |
	grep -oE 'sksteer_[a-z_]+ *\(' | tr -d ' (' | sort -u)
page=$(grep -E '^\.BI? ' docs/libsksteer.3 | grep -oE 'sksteer_[a-z_]+\(' |
	tr -d '(' | sort -u)
missing=$(comm -23 <(echo "$header") <(echo "$page"))
extra=$(comm -13 <(echo "$header") <(echo "$page"))
if [ -z "$header" ]; then
	echo "FAIL $name: no function found in include/sksteer.h"
	exit 1
fi
if [ -n "$missing$extra" ]; then
	echo "FAIL $name: undocumented: ${missing:-none}; not in the header: ${extra:-none}" |
		tr '\n' ' '
	echo
	exit 1
fi
if command -v groff >/dev/null; then
	warn=$(groff -man -ww -z docs/libsksteer.3 2>&1)
	if [ -n "$warn" ]; then
		echo "FAIL $name: groff: $warn" | head -3
		exit 1
	fi
fi
echo "PASS $name ($(echo "$header" | wc -l) functions)"
