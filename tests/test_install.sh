#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# make install PREFIX=DIR: the library, header and pkg-config file land
# under DIR, the .pc file names DIR (not the default /usr/local), and a
# program builds against the installed library with pkg-config alone and
# runs with it.
set -u
cd "$(dirname "$0")/.."
name=install
dir=$(mktemp -d)
trap 'rm -rf "$dir"; make -s -C src sksteer.pc >/dev/null 2>&1' EXIT
fail() {
	echo "FAIL $name/$1: $2"
	exit 1
}

out=$(make -s -C src install PREFIX="$dir" 2>&1) || fail make "$out"
pc=$dir/lib/pkgconfig/sksteer.pc
[ -f "$pc" ] || fail pc "no $pc"
grep -qx "prefix=$dir" "$pc" || fail pc "$(grep prefix= "$pc"), want prefix=$dir"
grep -qx "libdir=$dir/lib" "$pc" || fail pc "$(grep libdir= "$pc")"
echo "PASS $name/pc-prefix"

export PKG_CONFIG_PATH=$dir/lib/pkgconfig
flags=$(pkg-config --cflags --libs sksteer) || fail pkg-config "no sksteer"
cat >"$dir/v.c" <<'C'
#include <stdio.h>
#include <sksteer.h>
int main(void)
{
	static const char text[] =
		"service s {\n listen udp 127.0.0.1:0\n pool p 1\n}\n";
	struct sksteer_config *cfg = sksteer_config__parse_string(
		text, sizeof(text) - 1, "v.conf", NULL);

	printf("%s %zu\n", sksteer_version_string(),
	       cfg ? sksteer_config__service_cnt(cfg) : 0);
	sksteer_config__free(cfg);
	return !cfg;
}
C
# shellcheck disable=SC2086
out=$(cc -o "$dir/v" "$dir/v.c" $flags 2>&1) || fail build "$out"
out=$(LD_LIBRARY_PATH=$dir/lib "$dir/v" 2>&1) || fail run "$out"
LD_LIBRARY_PATH=$dir/lib ldd "$dir/v" | grep -q "$dir/lib/libsksteer.so" ||
	fail run "not linked with the installed library: $(ldd "$dir/v")"
[ "${out#v* }" = 1 ] || fail run "printed '$out'"
echo "PASS $name/build-against-installed"
