#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# tools/sksteer as a user sees it: check, compile and explain on
# configurations in a temporary directory (every output format, JSON
# parsed), errors, help at every level, the man page against the help,
# and the demo (as root, and as nobody in a network namespace).
# Prints "PASS test_cli/NAME", "FAIL test_cli/NAME: why", "SKIP ...".
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
SK=$ROOT/tools/sksteer
MAN8=$ROOT/docs/sksteer.8
T=$(mktemp -d)
NS=
failed=0

cleanup() {
	[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pass() { echo "PASS test_cli/$1"; }
fail() {
	echo "FAIL test_cli/$1: $2"
	failed=1
}
skip() { echo "SKIP test_cli/$1: $2"; }

# ok NAME CMD...: PASS when CMD succeeds, else FAIL with its last lines
ok() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name" "$(printf '%s' "$out" | tail -n 4 | tr '\n' '|')"
	fi
}

# run ARGS...: sksteer with stdout in $T/out, stderr in $T/err, status in $rc
run() {
	"$SK" "$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# The checkout may be unreadable for other users (/root is 0700): nobody
# runs a copy from the (world-readable) temporary directory.
chmod 755 "$T"
cp "$SK" "$T/sksteer" && chmod 755 "$T/sksteer"
# run_nobody ARGS...: like run, as nobody without any capability
run_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		--bounding-set=-all "$T/sksteer" "$@" >"$T/out" 2>"$T/err"
	rc=$?
}
# As root the eBPF backend is usable here (CI runs as root); the
# unprivileged expectations are checked with run_nobody.
if [ "$(id -u)" = 0 ]; then AUTO=ebpf; else AUTO=cbpf; fi

# expect_rc NAME RC: the last run exited with RC
expect_rc() {
	if [ "$rc" -eq "$2" ]; then
		return 0
	fi
	fail "$1" "exit status $rc, expected $2; stderr: $(head -c 300 "$T/err" | tr '\n' '|')"
	return 1
}

has() { grep -qF -- "$2" "$1"; }

# pyj FILE CODE: run python CODE with d = the JSON document in FILE
pyj() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[2])
EOF
}

if [ ! -x "$SK" ]; then
	fail build "tools/sksteer is not built (make all)"
	exit 1
fi
if ! command -v python3 >/dev/null 2>&1; then
	skip json "python3 is missing: the JSON checks need it"
	HAVE_PY=0
else
	HAVE_PY=1
fi
# JSON checks: run them when python3 is there, else say so once
okj() {
	if [ "$HAVE_PY" = 1 ]; then
		ok "$@"
	fi
}

# ---------------------------------------------------------------------
# configurations

cat >"$T/web.conf" <<'EOF'
# two services, every kind of condition
set clients { 198.51.100.0/24, 2001:db8:1::/48 }
service web {
    listen tcp 0.0.0.0:1234
    pool line1 2 { congestion cubic; mark 0x1; }
    pool line2 2 { mark 0x2; }
    pool line3 1
    pool rest  1 { fallback pool line1; }
    set mobile file "mobile.txt"
    rule to 127.0.0.1                   pool line1
    rule to 127.0.0.2                   pool line2
    rule from @mobile sport 1000-2000   pool line3
    rule payload 0 u8 & 0x3 == 1        pool rest
    rule from @clients                  pool line1 by payload 1
    default hash
}
service dns {
    listen udp [::]:53
    pool a 1
    pool b 3
    rule from 2001:db8::/32 pool b
    rule from 203.0.113.0/24 pool a
    default pool b
}
EOF
printf '# mobile clients\n203.0.113.0/25\n203.0.113.128/25\n2001:db8:ff::/48\n' \
	>"$T/mobile.txt"

cat >"$T/drop.conf" <<'EOF'
service s {
    listen udp 127.0.0.1:5353
    pool a 2
    rule from 198.51.100.0/24 drop
    default pool a
}
EOF

# 3000 separate /32s: about 5000 instructions, over the 4096 limit
awk 'BEGIN { for (i = 0; i < 3000; i++)
	printf "198.%d.%d.1\n", int(i / 256) + 18, i % 256 }' >"$T/big.txt"
cat >"$T/big.conf" <<'EOF'
service big {
    listen tcp 0.0.0.0:80
    pool a 1
    pool b 1
    set many file "big.txt"
    rule from @many pool a
}
EOF

cat >"$T/bad.conf" <<'EOF'
service web {
    listen tcp 0.0.0.0:80
    pool a 1
    rule to 198.51.100.1/24 pool a
}
EOF

# ---------------------------------------------------------------------
# version, help, unknown commands and options

major=$(sed -n 's/^#define SKSTEER_MAJOR_VERSION \([0-9]*\)/\1/p' include/sksteer.h)
minor=$(sed -n 's/^#define SKSTEER_MINOR_VERSION \([0-9]*\)/\1/p' include/sksteer.h)
want="sksteer v$major.$minor (libsksteer v$major.$minor)"
run -V
[ "$rc" = 0 ] && [ "$(cat "$T/out")" = "$want" ] && pass version ||
	fail version "-V printed '$(cat "$T/out")', want '$want'"
run version
[ "$rc" = 0 ] && [ "$(cat "$T/out")" = "$want" ] && pass version-cmd ||
	fail version-cmd "'version' printed '$(cat "$T/out")'"
run --version -j
okj version-json pyj "$T/out" "assert d == {'version': 'v$major.$minor', 'libsksteer': 'v$major.$minor'}, d"

cmds=$("$SK" help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }')
missing=
for c in check compile explain run reload stats demo version help; do
	case " $(echo $cmds) " in *" $c "*) ;; *) missing="$missing $c" ;; esac
done
if [ -z "$missing" ]; then
	pass help-commands
else
	fail help-commands "sksteer help lists: $(echo $cmds)"
fi
run -h
expect_rc help-h 0 && cmp -s "$T/out" <("$SK" help) && cmp -s "$T/out" <("$SK" --help) &&
	pass help-h || fail help-h "-h, --help and help differ"
for c in $cmds; do
	run "$c" -h
	expect_rc "help-$c" 0 || continue
	if ! has "$T/out" "Usage: sksteer $c"; then
		fail "help-$c" "'sksteer $c -h' has no 'Usage: sksteer $c'"
	elif ! cmp -s "$T/out" <("$SK" help "$c"); then
		fail "help-$c" "'sksteer help $c' and '$c -h' differ"
	elif ! cmp -s "$T/out" <("$SK" "$c" --help); then
		fail "help-$c" "'$c --help' and '$c -h' differ"
	else
		pass "help-$c"
	fi
done

run
expect_rc no-command 1 && has "$T/err" "Usage: sksteer" && has "$T/err" "no command" &&
	pass no-command || fail no-command "no usage or message on stderr"
run frobnicate
expect_rc unknown-command 1 && has "$T/err" "unknown command 'frobnicate'" &&
	has "$T/err" "sksteer help" && pass unknown-command ||
	fail unknown-command "stderr: $(cat "$T/err")"
run chek x.conf
expect_rc typo-command 1 && has "$T/err" "did you mean 'check'" && pass typo-command ||
	fail typo-command "stderr: $(cat "$T/err")"
run help frobnicate
expect_rc help-unknown 1 && has "$T/err" "unknown command" && pass help-unknown ||
	fail help-unknown "stderr: $(cat "$T/err")"
run --frobnicate check x
expect_rc unknown-global-option 1 && has "$T/err" "unknown option '--frobnicate'" &&
	has "$T/err" "sksteer -h" && pass unknown-global-option ||
	fail unknown-global-option "stderr: $(cat "$T/err")"
for c in check compile explain run reload demo; do
	run "$c" --frobnicate "$T/web.conf"
	expect_rc "unknown-option-$c" 1 &&
		has "$T/err" "unknown option '--frobnicate'" && has "$T/err" "sksteer $c -h" &&
		pass "unknown-option-$c" || fail "unknown-option-$c" "stderr: $(cat "$T/err")"
done
run check -Z "$T/web.conf"
expect_rc unknown-short-option 1 && has "$T/err" "unknown option '-Z'" &&
	pass unknown-short-option || fail unknown-short-option "stderr: $(cat "$T/err")"
run check "$T/web.conf" --service
expect_rc missing-argument 1 && has "$T/err" "'--service' needs an argument" &&
	pass missing-argument || fail missing-argument "stderr: $(cat "$T/err")"
run -j frobnicate
okj unknown-command-json pyj "$T/out" "
assert 'frobnicate' in d['error'], d
assert any('frobnicate' in m for m in d['messages']), d"

# ---------------------------------------------------------------------
# the man page says what the tool does, and the tool what the man page says

if groff -man -ww -z docs/*.[358] 2>"$T/lint" && [ ! -s "$T/lint" ]; then
	pass man-lint
else
	fail man-lint "$(head -5 "$T/lint" | tr '\n' '|')"
fi

# The man page source with \- and font escapes removed.
man_plain() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(dq/"/g' "$MAN8"; }
# Section of the man page: .SS NAME (or .SH NAME) to the next heading.
man_section() {
	man_plain | awk -v h="$1" '
		$0 == h { on = 1; next }
		on && /^\.SH / { exit }
		on && h ~ /^\.SS / && /^\.SS / { exit }
		on { print }'
}
# Options a help text defines: "-x, --long" at the start of its lines.
help_opts() {
	grep -E '^ +-' | grep -oE '(^|[ ,])--?[a-zA-Z][a-zA-Z-]*' | tr -d ' ,'
}
# Options a man section defines: the line after each .TP.
man_opts() {
	awk 'prev == ".TP" { print } { prev = $1 }' |
		grep -oE '(^|[ "])--?[a-zA-Z][a-zA-Z-]*' | tr -d ' "'
}
in_text() { grep -qE -- "(^|[^a-zA-Z-])$1([^a-zA-Z-]|\$)"; }

man_cmds=$(man_section ".SH COMMANDS" | sed -n 's/^\.SS //p')
if [ "$(echo $man_cmds)" = "$(echo $cmds)" ]; then
	pass man-commands
else
	fail man-commands "man page: $(echo $man_cmds); sksteer help: $(echo $cmds)"
fi
# global options
missing=
for o in $("$SK" -h | sed -n '/^Options:/,/^$/p' | help_opts); do
	man_section ".SH OPTIONS" | in_text "$o" || missing="$missing $o"
done
for o in $(man_section ".SH OPTIONS" | man_opts); do
	"$SK" -h | in_text "$o" || missing="$missing $o(not in -h)"
done
[ -z "$missing" ] && pass man-global-options ||
	fail man-global-options "not documented in OPTIONS:$missing"
# each command's own options in its section, and back
for c in $cmds; do
	missing=
	sect=$(man_section ".SS $c")
	own=$("$SK" "$c" -h | sed -n '/^Options:/,/^Common options:/p' | help_opts)
	for o in $own; do
		printf '%s\n' "$sect" | in_text "$o" || missing="$missing $o"
	done
	for o in $(printf '%s\n' "$sect" | man_opts); do
		"$SK" "$c" -h | in_text "$o" || missing="$missing $o(not in -h)"
	done
	# the common options are documented once, in OPTIONS
	for o in $("$SK" "$c" -h | sed -n '/^Common options:/,/^$/p' | help_opts); do
		man_section ".SH OPTIONS" | in_text "$o" || missing="$missing $o"
	done
	[ -z "$missing" ] && pass "man-options-$c" ||
		fail "man-options-$c" "mismatch between 'sksteer $c -h' and its man section:$missing"
done
for s in "EXIT STATUS" PRIVILEGES "SOCKET ORDER" FILES EXAMPLES "SEE ALSO" "JSON OUTPUT"; do
	man_plain | grep -q "^\.SH \"\?$s\"\?$" || missing="$missing $s"
done
[ -z "${missing:-}" ] && pass man-sections || fail man-sections "missing:$missing"

# ---------------------------------------------------------------------
# check

run check "$T/web.conf"
if expect_rc check-text 0; then
	miss=
	for s in "listen   tcp 0.0.0.0:1234 (IPv4 only)" \
		"listen   udp [::]:53 (dual-stack: IPv4 and IPv6)" \
		"line1      2 sockets   positions 0-1   mark 0x1, congestion cubic" \
		"rest       1 socket    position 5      fallback pool line1" \
		"mobile     3 prefixes from" ": 1 IPv4 range, 1 IPv6 range after merging" \
		"clients    2 prefixes: 1 IPv4 range, 1 IPv6 range" \
		"rules    5" "5  from @clients pool line1 by payload 1" \
		"default  hash" "default  pool b" "backend  auto: uses $AUTO" \
		"classic BPF instructions fit on this kernel" \
		"options  applied to a test socket and read back: OK (2 pools)" \
		"options  none set" \
		"warning  default hash: traffic that matches no rule is spread over every socket of the group, so some of it leaves with the mark of pools 'line1', 'line2' (through their uplinks) at random; send it to one pool with 'default pool NAME'" \
		"OK (2 services, 1 warning)"; do
		has "$T/out" "$s" || miss="$miss '$s'"
	done
	[ -z "$miss" ] && pass check-text || fail check-text "missing:$miss"
fi
# a lenient prefix file: the bad lines skipped are counted, and said once
printf '198.51.100.0/24\njunk\n203.0.113.0-203.0.113.9\n' >"$T/feed.txt"
printf 'set f file "feed.txt" lenient\nservice s {\nlisten tcp 0.0.0.0:80\npool a 1\nrule from @f pool a\n}\n' >"$T/lenient.conf"
run check "$T/lenient.conf"
expect_rc check-lenient 0 &&
	has "$T/out" 'f          3 prefixes from "'"$T"'/feed.txt" (1 bad line skipped): 2 IPv4 ranges' &&
	[ "$(grep -c "feed.txt:2:1: warning: set 'f' is lenient: skipped 1 bad line" "$T/err")" = 1 ] &&
	pass check-lenient || fail check-lenient "$(cat "$T/out" "$T/err")"
run -j check "$T/web.conf"
expect_rc check-json 0 && okj check-json pyj "$T/out" "
assert d['ok'] is True and d['file'].endswith('web.conf')
assert [s['name'] for s in d['sets']] == ['clients']
assert (d['sets'][0]['prefixes'], d['sets'][0]['ranges4'], d['sets'][0]['ranges6']) == (2, 1, 1)
web, dns = d['services']
assert (web['name'], web['protocol'], web['listen'], web['port']) == ('web', 'tcp', '0.0.0.0:1234', 1234)
assert (web['dual_stack'], web['ipv4'], web['ipv6']) == (False, True, False)
assert web['sockets'] == 6
p = {x['name']: x for x in web['pools']}
assert [x['name'] for x in web['pools']] == ['line1', 'line2', 'line3', 'rest']
assert (p['line1']['first'], p['line1']['last'], p['line1']['sockets']) == (0, 1, 2)
assert (p['line2']['first'], p['line2']['last']) == (2, 3)
assert (p['rest']['first'], p['rest']['last']) == (5, 5)
assert p['line1']['options'] == {'mark': 1, 'congestion': 'cubic'}, p['line1']
assert p['line3']['options'] == {} and p['line3']['fallback'] == 'drop'
assert p['rest']['fallback'] == 'pool line1'
s = web['sets'][0]
assert (s['name'], s['prefixes'], s['ranges4'], s['ranges6']) == ('mobile', 3, 1, 1), s
assert s['file'].endswith('mobile.txt')
assert web['rule_count'] == 5 and [r['rule'] for r in web['rules']] == [1, 2, 3, 4, 5]
assert web['rules'][2]['line'] == 12 and 'sport 1000-2000' in web['rules'][2]['text']
assert web['default'] == 'hash' and dns['default'] == 'pool b'
assert web['backend']['requested'] == 'auto' and web['backend']['resolved'] == '$AUTO'
assert web['cbpf']['ok'] and 0 < web['cbpf']['insns'] <= 4096 and web['cbpf']['max_insns'] == 4096
k = web['cbpf']['kernel']
assert k['fits'] is True and k['insns'] == web['cbpf']['insns'] and k['ebpf_insns'] > k['insns'], k
assert web['cbpf']['insns'] <= k['fit_insns'] <= 4096 and 'fit on this kernel' in k['text'], k
assert dns['dual_stack'] and dns['ipv4'] and dns['ipv6'] and dns['listen'] == '[::]:53'
assert web['ok'] and dns['ok']"
# check's program size is compile's
if [ "$HAVE_PY" = 1 ]; then
	a=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["services"][0]["cbpf"]["insns"])' "$T/out")
	b=$("$SK" compile -f bytecode -s web "$T/web.conf" | cut -d, -f1)
	[ -n "$a" ] && [ "$a" = "$b" ] && pass check-size ||
		fail check-size "check says $a instructions, compile $b"
fi
run -j check --service dns "$T/web.conf"
okj check-service pyj "$T/out" "assert [s['name'] for s in d['services']] == ['dns']"
run check -s nosuch "$T/web.conf"
expect_rc check-unknown-service 1 && has "$T/err" "no service 'nosuch'" &&
	has "$T/err" "services: web, dns" && pass check-unknown-service ||
	fail check-unknown-service "stderr: $(cat "$T/err")"
run check -b cbpf "$T/web.conf"
expect_rc check-backend-cbpf 0 && has "$T/out" "backend  cbpf: uses cbpf" &&
	pass check-backend-cbpf || fail check-backend-cbpf "$(grep backend "$T/out")"
if [ "$AUTO" = ebpf ]; then
	run -j check -b ebpf -s web "$T/web.conf"
	expect_rc check-backend-ebpf 0 && okj check-backend-ebpf pyj "$T/out" "
s = d['services'][0]
assert d['ok'] is True and s['ok'] is True
assert s['backend']['requested'] == 'ebpf' and s['backend']['resolved'] == 'ebpf'"
fi
if [ "$(id -u)" = 0 ]; then
	# without CAP_BPF: ebpf is refused, saying why; auto falls back
	run_nobody -j check -b ebpf -s web "$T/web.conf"
	expect_rc check-backend-ebpf-nobody 1 &&
		okj check-backend-ebpf-nobody pyj "$T/out" "
s = d['services'][0]
assert d['ok'] is False and s['ok'] is False
assert s['backend']['requested'] == 'ebpf' and s['backend']['resolved'] is None
assert 'CAP_BPF' in s['backend']['reason'], s['backend']"
	run_nobody check -s dns "$T/web.conf"
	expect_rc check-auto-nobody 0 && has "$T/out" "backend  auto: uses cbpf" &&
		pass check-auto-nobody ||
		fail check-auto-nobody "$(grep backend "$T/out")"
	# mark needs CAP_NET_ADMIN: run would refuse the pool, so check does,
	# with run's message
	run_nobody check -s web "$T/web.conf"
	expect_rc check-mark-nobody 1 &&
		has "$T/out" "options  pool 'line1' REFUSED on a test socket: mark 0x1 (SO_MARK, needs CAP_NET_ADMIN): the kernel refuses it: Operation not permitted" &&
		has "$T/err" "service 'web' cannot be used: service 'web', pool 'line1', socket 0: mark 0x1 (SO_MARK, needs CAP_NET_ADMIN): the kernel refuses it: Operation not permitted" &&
		has "$T/out" "1 of 1 service cannot be used" && pass check-mark-nobody ||
		fail check-mark-nobody "$(grep options "$T/out") $(cat "$T/err")"
fi
# a congestion control this kernel lacks fails in check as in run
cat >"$T/bbr2.conf" <<'EOF'
service s {
    listen tcp 127.0.0.1:0
    pool a 1
    pool fast 1 { congestion bbr2; }
    default pool a
}
EOF
if grep -qw bbr2 /proc/sys/net/ipv4/tcp_available_congestion_control; then
	skip check-congestion "this kernel has bbr2"
else
	run check "$T/bbr2.conf"
	expect_rc check-congestion 1 &&
		has "$T/out" "options  pool 'fast' REFUSED on a test socket: congestion bbr2 (TCP_CONGESTION:" &&
		has "$T/err" "service 's' cannot be used: service 's', pool 'fast', socket 0: congestion bbr2 (TCP_CONGESTION: is it built or loaded" &&
		has "$T/err" "the kernel refuses it: No such file or directory" &&
		pass check-congestion || fail check-congestion "$(cat "$T/out" "$T/err" | tail -n 3)"
	run -j check "$T/bbr2.conf"
	expect_rc check-congestion-json 1 && okj check-congestion-json pyj "$T/out" "
o = d['services'][0]['options']
assert d['ok'] is False and d['services'][0]['ok'] is False
assert o['pool'] == 'fast' and o['probed'] == 1 and o['ok'] is False, o
assert 'congestion bbr2 (TCP_CONGESTION' in o['error'], o"
fi

# rules that never match, and default hash beside marked pools: warnings,
# exit status 0
cat >"$T/lint.conf" <<'EOF'
service s {
    listen tcp 127.0.0.1:0
    pool a 1
    pool b 1 { priority 1; }
    rule from 198.51.100.0/24                 pool a
    rule from 198.51.100.128/25 sport 1-99    pool b
    rule to 127.0.0.2                         pool b
    rule payload 0 u8 == 1                    pool a
    rule payload 1 u8 == 2 payload 0 u8 == 1  pool b
    rule from 203.0.113.0/24                  pool b
}
EOF
run check "$T/lint.conf"
expect_rc check-lint 0 &&
	has "$T/out" "warning  rule 2 (from 198.51.100.128/25 sport 1-99 pool b) never matches: rule 1 (from 198.51.100.0/24 pool a) matches every packet it would" &&
	has "$T/out" "warning  rule 3 (to 127.0.0.2 pool b) never matches: the service listens on 127.0.0.1 only, so every packet it receives is to 127.0.0.1, which its 'to' does not list" &&
	has "$T/out" "warning  rule 5 (payload 1 u8 == 2 payload 0 u8 == 1 pool b) never matches: rule 4 (payload 0 u8 == 1 pool a) matches every packet it would" &&
	! has "$T/out" "warning  rule 6" && ! has "$T/out" "default hash:" &&
	has "$T/out" "OK (1 service, 3 warnings)" && pass check-lint ||
	fail check-lint "$(grep -E 'warning|OK' "$T/out")"
run -j check "$T/lint.conf"
expect_rc check-lint-json 0 && okj check-lint-json pyj "$T/out" "
w = d['services'][0]['warnings']
assert d['ok'] is True
assert [(x['kind'], x['rule'], x.get('by_rule')) for x in w] == [('shadowed', 2, 1), ('never_matches', 3, None), ('shadowed', 5, 4)], w
assert w[0]['text'].startswith('rule 2 (from 198.51.100.128/25 sport 1-99 pool b) never matches: rule 1'), w"

run check -b foo "$T/web.conf"
expect_rc check-backend-bad 1 && has "$T/err" "expected cbpf, ebpf or auto" &&
	pass check-backend-bad || fail check-backend-bad "$(cat "$T/err")"

# A program too large for net.core.optmem_max (20480: older kernels'
# default): check says how many instructions fit and the value to set.
# Only in a namespace of its own where the value is per namespace; where
# it is global, only when it is already that low.
if [ "$(id -u)" = 0 ]; then
	awk 'BEGIN { srand(7); for (i = 0; i < 1200; i++)
		printf "%d.%d.%d.0/24\n", 1 + int(rand() * 222),
			int(rand() * 256), int(rand() * 256) }' >"$T/isp.txt"
	printf 'service isp {\n listen tcp 127.0.0.1:1234\n backend cbpf\n pool a 2\n set isp file "isp.txt"\n rule from @isp pool a\n default hash\n}\n' >"$T/isp.conf"
	global=$(cat /proc/sys/net/core/optmem_max)
	# small_optmem CMD...: CMD in a new network namespace at optmem_max
	# 20480, or with status 99 when that cannot be had
	small_optmem() {
		unshare -n sh -c 'f=/proc/sys/net/core/optmem_max
			if [ -e $f ]; then echo 20480 >$f
			elif [ "$0" -gt 20480 ]; then exit 99; fi
			shift; exec "$@"' "$global" sh "$@"
	}
	small_optmem "$SK" check "$T/isp.conf" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc = 99 ]; then
		skip check-optmem "net.core.optmem_max is global and above 20480"
	elif expect_rc check-optmem 1 &&
		grep -q "classic BPF instructions, but only [0-9]* of them fit on this kernel" "$T/out" &&
		# where the namespace cannot read the global value (6.1), the
		# amount to add instead of the value to set
		grep -qE "raise the limit with 'sysctl -w net.core.optmem_max=[0-9]+'|raise net.core.optmem_max by at least [0-9]+ bytes" "$T/out"; then
		pass check-optmem
		need=$(sed -n "s/.*net.core.optmem_max=\([0-9]*\)'.*/\1/p" "$T/out" | head -1)
		if [ -e /proc/sys/net/core/optmem_max ] &&
			unshare -n sh -c "[ -e /proc/sys/net/core/optmem_max ]"; then
			out=$(unshare -n sh -c "echo $need >/proc/sys/net/core/optmem_max && exec \"\$0\" check \"\$1\"" "$SK" "$T/isp.conf" 2>&1)
			printf '%s' "$out" | grep -q "of [0-9]* classic BPF instructions fit on this kernel" &&
				pass check-optmem-raised ||
				fail check-optmem-raised "with optmem_max=$need: $(printf '%s' "$out" | grep program)"
		fi
	else
		fail check-optmem "$(grep -E 'program|backend' "$T/out")"
	fi
fi

# drop needs eBPF: fine with it, an error naming it without
if [ "$AUTO" = ebpf ]; then
	run check "$T/drop.conf"
	expect_rc check-drop-ebpf 0 && has "$T/out" "backend  auto: uses ebpf" &&
		pass check-drop-ebpf ||
		fail check-drop-ebpf "$(grep -i backend "$T/out")"
fi
if [ "$(id -u)" = 0 ]; then
	drop_run=run_nobody
else
	drop_run=run
fi
$drop_run check "$T/drop.conf"
expect_rc check-drop 1 && has "$T/out" "eBPF backend will be needed" &&
	has "$T/out" "CAP_BPF" && has "$T/out" "'drop' needs the eBPF backend" &&
	has "$T/err" "service 's' cannot be used" && pass check-drop ||
	fail check-drop "$(grep -i backend "$T/out")"
$drop_run -j check "$T/drop.conf"
okj check-drop-json pyj "$T/out" "
s = d['services'][0]
assert d['ok'] is False and s['cbpf']['ok'] is False and s['cbpf']['needs_ebpf'] is True
assert s['cbpf']['too_big'] is False and 'drop' in s['cbpf']['error']
assert 'CAP_BPF' in s['backend']['reason']"
run -j check -b cbpf "$T/big.conf"
expect_rc check-too-big 1 && okj check-too-big pyj "$T/out" "
s = d['services'][0]
assert s['cbpf']['too_big'] is True and '4096' in s['cbpf']['error'], s['cbpf']
assert s['sets'][0]['prefixes'] == 3000 and s['sets'][0]['ranges4'] == 3000"

# errors in the file: file:line:column on stderr and in the JSON
run check "$T/bad.conf"
expect_rc check-bad-file 1 &&
	grep -qE "bad.conf:4:13: error: .*198\.51\.100\.0/24" "$T/err" &&
	pass check-bad-file || fail check-bad-file "stderr: $(cat "$T/err")"
run -j check "$T/bad.conf"
expect_rc check-bad-file-json 1 && okj check-bad-file-json pyj "$T/out" "
assert 'bad.conf' in d['error'], d
assert any('bad.conf:4:13: error:' in m for m in d['messages']), d"
run -j check "$T/nonexistent.conf"
expect_rc check-missing-file 1 && has "$T/err" "nonexistent.conf" &&
	okj check-missing-file pyj "$T/out" "
assert 'nonexistent.conf' in d['error'] and 'No such file' in d['error'], d"
# a file name that is not valid UTF-8 (a UTF-16 surrogate, an overlong
# form) still gives a JSON document every strict decoder accepts
run -j check "$T/bad$(printf '\355\240\200\340\200\257').conf"
expect_rc check-bad-utf8-json 1 && okj check-bad-utf8-json pyj "$T/out" "
assert 'No such file' in d['error'] and '\ufffd' in d['error'], d"
# no unbounded read: /dev/zero fails fast with the limit named
run check /dev/zero
expect_rc check-huge-file 1 && has "$T/err" "/dev/zero: error: cannot read: larger than the 64 MiB limit" &&
	pass check-huge-file || fail check-huge-file "$(cat "$T/err")"
run check
expect_rc check-no-file 1 && has "$T/err" "no configuration file" && pass check-no-file ||
	fail check-no-file "$(cat "$T/err")"

# ---------------------------------------------------------------------
# compile

run compile -s web "$T/web.conf"
if expect_rc compile-text 0; then
	n=$(grep -cE '^\([0-9]{3,4}\) [a-z]' "$T/out")
	b=$("$SK" compile -f bytecode -s web "$T/web.conf" | cut -d, -f1)
	if [ "$n" != "$b" ]; then
		fail compile-text "$n instruction lines, bytecode says $b"
	elif ! grep -q '^;   0-1 *pool line1, sockets 0-1$' "$T/out" ||
		! grep -q '^;   5 *pool rest$' "$T/out" ||
		! grep -q '^; A return value of 6 or more' "$T/out"; then
		fail compile-text "no socket order in the header: $(grep '^;' "$T/out" | tr '\n' '|')"
	elif grep -vE '^(;|\([0-9]+\) )' "$T/out" | grep -q .; then
		fail compile-text "a line is neither comment nor instruction"
	else
		pass compile-text
	fi
fi
run compile "$T/web.conf"
expect_rc compile-text-all 0 && [ "$(grep -c '^; service ' "$T/out")" = 2 ] &&
	pass compile-text-all || fail compile-text-all "not both services"

run compile -f bytecode -s dns "$T/web.conf"
if expect_rc compile-bytecode 0; then
	n=$(cut -d, -f1 "$T/out")
	if [ "$(wc -l <"$T/out")" != 1 ]; then
		fail compile-bytecode "not one line"
	elif ! grep -qE "^[0-9]+(,[0-9]+ [0-9]+ [0-9]+ [0-9]+){$n}\$" "$T/out"; then
		fail compile-bytecode "not 'N,code jt jf k,...' with N=$n: $(head -c 80 "$T/out")"
	else
		pass compile-bytecode
	fi
fi
run compile -f bytecode "$T/web.conf"
expect_rc compile-bytecode-needs-service 1 && has "$T/err" "needs --service" &&
	[ ! -s "$T/out" ] && pass compile-bytecode-needs-service ||
	fail compile-bytecode-needs-service "$(cat "$T/err")"
run compile --format c "$T/web.conf"
expect_rc compile-c-needs-service 1 && has "$T/err" "needs --service" &&
	pass compile-c-needs-service || fail compile-c-needs-service "$(cat "$T/err")"

# -f c compiles, and its array is the bytecode
run compile -f c -s web "$T/web.conf"
if expect_rc compile-c 0; then
	cp "$T/out" "$T/prog.h"
	cat >"$T/prog.c" <<'EOF'
#include <stdio.h>
#include "prog.h"

int main(void)
{
	size_t i, n = sizeof(sksteer_web_prog) / sizeof(sksteer_web_prog[0]);

	printf("%zu", n);
	for (i = 0; i < n; i++)
		printf(",%u %u %u %u", sksteer_web_prog[i].code,
		       sksteer_web_prog[i].jt, sksteer_web_prog[i].jf,
		       sksteer_web_prog[i].k);
	printf("\n");
	return 0;
}
EOF
	if ! grep -qE '^ \*   0-1 +pool line1, sockets 0-1$' "$T/prog.h"; then
		fail compile-c "no socket order in the comment"
	elif ! ${CC:-cc} -std=c99 -Wall -Wextra -Werror -pedantic -o "$T/prog" \
		"$T/prog.c" 2>"$T/cc.err"; then
		fail compile-c "the output does not compile: $(head -3 "$T/cc.err" | tr '\n' '|')"
	elif ! cmp -s <("$T/prog") <("$SK" compile -f bytecode -s web "$T/web.conf"); then
		fail compile-c "the array differs from the bytecode"
	else
		pass compile-c
	fi
fi

run compile -f json -s web "$T/web.conf"
"$SK" compile -f bytecode -s web "$T/web.conf" >"$T/bc"
expect_rc compile-json 0 && okj compile-json pyj "$T/out" "
bc = open('$T/bc').read().strip().split(',')
assert d['service'] == 'web' and d['insns'] == int(bc[0]) == len(d['program'])
assert [[i['code'], i['jt'], i['jf'], i['k']] for i in d['program']] == [list(map(int, x.split())) for x in bc[1:]]
assert all(i['text'] for i in d['program']) and d['program'][0]['text'] == 'ldb [net+0]'
assert d['sockets'] == 6
assert [(s['position'], s['pool'], s['index']) for s in d['socket_order']] == [
    (0, 'line1', 0), (1, 'line1', 1), (2, 'line2', 0), (3, 'line2', 1),
    (4, 'line3', 0), (5, 'rest', 0)], d['socket_order']"
run -j compile "$T/web.conf"
expect_rc compile-json-all 0 && okj compile-json-all pyj "$T/out" "
assert [s['service'] for s in d] == ['web', 'dns']
assert [s['position'] for s in d[1]['socket_order']] == [0, 1, 2, 3]"
run -j compile -f text -s web "$T/web.conf"
expect_rc compile-json-conflict 1 && has "$T/err" "disagree" && pass compile-json-conflict ||
	fail compile-json-conflict "$(cat "$T/err")"
run compile -f asm "$T/web.conf"
expect_rc compile-bad-format 1 && has "$T/err" "expected text, c, bytecode or json" &&
	pass compile-bad-format || fail compile-bad-format "$(cat "$T/err")"
run compile "$T/drop.conf"
expect_rc compile-drop 1 && has "$T/err" "needs the eBPF backend" && pass compile-drop ||
	fail compile-drop "$(cat "$T/err")"
run -j compile -s big "$T/big.conf"
expect_rc compile-too-big 1 && okj compile-too-big pyj "$T/out" "
assert 'too many instructions' in d['error'], d
assert any('4096' in m for m in d['messages']), d"

# ---------------------------------------------------------------------
# explain: a table of flows and what must happen to them
#   service  from  to  payload | target pool pool_index socket rule(0=default)
# pool_index "h" means: the documented hash of sksteer.conf(5) picks it.

flows="
web 203.0.113.9:1500 127.0.0.1 -    pool line1 h 0 1
web 203.0.113.9:1500 127.0.0.2 -    pool line2 h 2 2
web 203.0.113.9:1500 127.0.0.3 -    pool line3 0 4 3
web 203.0.113.200:2000 127.0.0.3 -  pool line3 0 4 3
web 203.0.113.9:999 127.0.0.3 -     hash - - - 0
web 203.0.113.9:2001 127.0.0.3 01   pool rest 0 5 4
web 198.51.100.7:40000 127.0.0.9 0205 pool line1 1 1 5
web 198.51.100.7:40000 127.0.0.9 0204 pool line1 0 0 5
web 198.51.100.7:40000 127.0.0.9 02 hash - - - 0
web 198.51.100.7:40000 127.0.0.9 05 pool rest 0 5 4
web 203.0.113.9:5 127.0.0.1 -        pool line1 h 0 1
dns [2001:db8::5]:999 ::1 -         pool b h 1 1
dns [2001:db8:1::5]:53 [2001:db8::1]:53 - pool b h 1 1
dns 203.0.113.5:53 127.0.0.1 -      pool a 0 0 2
dns 198.51.100.1:53 127.0.0.1 -     pool b h 1 0
dns [::ffff:203.0.113.7]:9 [::ffff:127.0.0.1]:53 - pool a 0 0 2
dns [2001:db8:ff::1]:7 ::1 aa      pool b h 1 1
"
i=0
while read -r svc from to payload kind pool idx sock rule; do
	[ -z "$svc" ] && continue
	i=$((i + 1))
	args=(explain -s "$svc" --from "$from" --to "$to")
	[ "$payload" != - ] && args+=(--payload "$payload")
	run -j "${args[@]}" "$T/web.conf"
	expect_rc "explain-$i" 0 || continue
	[ "$HAVE_PY" = 1 ] || continue
	ok "explain-$i" pyj "$T/out" "
import ipaddress
want_kind, want_pool, want_idx, want_sock, want_rule = '$kind', '$pool', '$idx', '$sock', int('$rule')
v, k = d['verdict'], d['kernel']
ctx = '$svc $from -> $to payload $payload: '
assert d['agree'] is True, ctx + 'compiler and reference disagree'
assert v['target'] == want_kind, ctx + 'target %s' % v['target']
assert v['rule'] == (want_rule or None), ctx + 'rule %s' % v['rule']
assert k['cbpf'] is True and k['verdict']['insns_executed'] > 0
e = d['ebpf']
assert e['tables'] is True, ctx + 'no eBPF tables'
for key in ('target', 'rule', 'pool', 'pool_index', 'socket'):
    assert k['verdict'][key] == v[key], ctx + key
    assert e['verdict'][key] == v[key], ctx + 'ebpf ' + key
if want_kind == 'pool':
    assert v['pool'] == want_pool, ctx + 'pool %s' % v['pool']
    if want_idx == 'h':
        # the spreading hash, as sksteer.conf(5) SEMANTICS defines it
        sport = d['packet']['sport']
        a = ipaddress.ip_address(d['packet']['from']).packed
        h = sport
        for j in range(0, len(a), 4):
            h = ((h ^ int.from_bytes(a[j:j + 4], 'big')) * 0x9e3779b1) & 0xffffffff
        h ^= h >> 16
        h = (h * 0x85ebca6b) & 0xffffffff
        h ^= h >> 13
        size = {'line1': 2, 'line2': 2, 'b': 3}[want_pool]
        assert v['pool_index'] == h % size, ctx + 'pool_index %s, hash says %d' % (v['pool_index'], h % size)
        assert v['socket'] == int(want_sock) + h % size, ctx + 'socket'
    else:
        assert v['pool_index'] == int(want_idx) and v['socket'] == int(want_sock), ctx + 'socket %s' % v['socket']
else:
    assert v['pool'] is None and v['socket'] is None
# every rule before the deciding one evaluated and did not match
rules = d['rules']
assert [r['match'] for r in rules] == [False] * (len(rules) - (1 if want_rule else 0)) + ([True] if want_rule else []), ctx + str(rules)
assert all(r['conditions'] == [] or all('detail' in c and c['detail'] for c in r['conditions']) for r in rules)
for r in rules[:-1] if want_rule else rules:
    assert any(not c['match'] for c in r['conditions']), ctx + 'rule %d has no failing condition' % r['rule']
"
done <<<"$flows"

# details a user reads
run explain -s web --from 198.51.100.7:40000 --to 127.0.0.9 --payload 0205 "$T/web.conf"
expect_rc explain-text 0 && has "$T/out" "by payload yes  key payload[1] = 5" &&
	has "$T/out" "payload    no   payload[0] & 0x3 = 2, not == 1" &&
	has "$T/out" "result:  pool line1, socket 1 of its 2 (group position 1)" &&
	has "$T/out" "decided by rule 5" && has "$T/out" "the same answer" &&
	has "$T/out" "TCP Fast Open" && pass explain-text ||
	fail explain-text "$(tr '\n' '|' <"$T/out")"
run explain -s web --from 203.0.113.9:999 --to 127.0.0.3 "$T/web.conf"
expect_rc explain-hash 0 && has "$T/out" "the kernel's own hash over the whole group (6 sockets)" &&
	has "$T/out" "no rule matches: default hash" && pass explain-hash ||
	fail explain-hash "$(tr '\n' '|' <"$T/out")"
run explain -s web --from 203.0.113.9:1500 --to 127.0.0.3 "$T/web.conf"
expect_rc explain-not-evaluated 0 && has "$T/out" "rules 4-5: not evaluated" &&
	pass explain-not-evaluated || fail explain-not-evaluated "$(tr '\n' '|' <"$T/out")"
run explain -s dns --from 203.0.113.5 --to 127.0.0.1 "$T/web.conf"
expect_rc explain-dual-stack 0 && has "$T/out" "arrives as IPv4" &&
	has "$T/out" "no source port given" && pass explain-dual-stack ||
	fail explain-dual-stack "$(tr '\n' '|' <"$T/out")"
run -j explain --from 198.51.100.1:7 --to 127.0.0.1 "$T/drop.conf"
expect_rc explain-no-cbpf 0 && okj explain-no-cbpf pyj "$T/out" "
assert d['verdict']['target'] == 'drop' and d['verdict']['rule'] == 1
assert d['kernel']['cbpf'] is False and 'eBPF' in d['kernel']['reason'], d['kernel']"
run explain --from 198.51.100.1:7 --to 127.0.0.1 "$T/drop.conf"
has "$T/out" "the answer above is from the rules alone" && pass explain-no-cbpf-text ||
	fail explain-no-cbpf-text "$(tr '\n' '|' <"$T/out")"

# explain errors
experr() { # NAME TEXT ARGS...
	local name=$1 text=$2
	shift 2
	run "$@"
	expect_rc "$name" 1 && has "$T/err" "$text" && pass "$name" ||
		fail "$name" "stderr: $(cat "$T/err")"
}
experr explain-proto "--proto tcp, but service 'dns' is udp" \
	explain -s dns --proto tcp --from 203.0.113.5 --to 127.0.0.1 "$T/web.conf"
experr explain-proto-bad "expected tcp or udp" \
	explain -s dns --proto sctp --from 203.0.113.5 --to 127.0.0.1 "$T/web.conf"
experr explain-needs-service "--service NAME" \
	explain --from 203.0.113.5 --to 127.0.0.1 "$T/web.conf"
experr explain-needs-from "--from and --to are needed" explain -s web --to 127.0.0.1 "$T/web.conf"
experr explain-bad-addr "--from '203.0.113.500'" \
	explain -s web --from 203.0.113.500 --to 127.0.0.1 "$T/web.conf"
experr explain-bad-port "the port must be a number" \
	explain -s web --from 203.0.113.5:70000 --to 127.0.0.1 "$T/web.conf"
experr explain-mixed "a packet has one IP version" \
	explain -s dns --from 2001:db8::1 --to 127.0.0.1 "$T/web.conf"
experr explain-v6-to-v4 "IPv4 only" \
	explain -s web --from 2001:db8::1 --to ::1 "$T/web.conf"
experr explain-wrong-port "listens on port 1234" \
	explain -s web --from 203.0.113.5 --to 127.0.0.1:80 "$T/web.conf"
experr explain-wrong-addr "listens on 127.0.0.1:5353 only" \
	explain --from 203.0.113.5 --to 127.0.0.2 "$T/drop.conf"
experr explain-bad-payload "odd number of hex digits in a byte at character 3" \
	explain -s web --from 203.0.113.5 --to 127.0.0.1 --payload abc "$T/web.conf"
experr explain-bad-payload2 "'g' at character 2 is not a hex digit" \
	explain -s web --from 203.0.113.5 --to 127.0.0.1 --payload 0g "$T/web.conf"
# the largest payloads UDP carries: 65,507 bytes over IPv4, 65,527 over IPv6
big=$(printf '%0131014d' 0) # 65,507 bytes in hex
run explain -s dns --from 203.0.113.5 --to 127.0.0.1 --payload "$big" "$T/web.conf"
expect_rc explain-payload-max4 0 && pass explain-payload-max4
experr explain-payload-over4 \
	"65508 bytes, more than a UDP datagram over IPv4 carries (65507)" \
	explain -s dns --from 203.0.113.5 --to 127.0.0.1 --payload "${big}00" "$T/web.conf"
big=$(printf '%0131054d' 0)
run explain -s dns --from 2001:db8::1 --to ::1 --payload "$big" "$T/web.conf"
expect_rc explain-payload-max6 0 && pass explain-payload-max6
experr explain-payload-over6 "more than 65527 bytes (UDP carries at most 65507 over IPv4, 65527 over IPv6)" \
	explain -s dns --from 2001:db8::1 --to ::1 --payload "${big}00" "$T/web.conf"
run -j explain -s dns --proto tcp --from 203.0.113.5 --to 127.0.0.1 "$T/web.conf"
okj explain-error-json pyj "$T/out" "assert 'tcp' in d['error'] and 'udp' in d['error'], d"

# ---------------------------------------------------------------------
# demo: every connection and datagram on the socket its rule picks,
# from what the sockets really received

demo_json_check='
for part in ("tcp", "udp"):
    p = d[part]
    assert p["ran"] is True, part
    assert len(p["results"]) == 4 * COUNT, (part, len(p["results"]))
    for i, r in enumerate(p["results"]):
        n = i % 4 + 1
        assert r["to"] == "127.0.0.%d" % n and r["expected_pool"] == "line%d" % n, r
        assert r["socket"] == n - 1 and r["pool"] == "line%d" % n, (part, r)
        assert r["local"] == r["to"] and r["ok"] is True, (part, r)
f = d["fastopen"]
'
if [ "$(id -u)" = 0 ]; then
	before=$(cat /proc/sys/net/ipv4/tcp_fastopen)
	run -j demo --count 2
	after=$(cat /proc/sys/net/ipv4/tcp_fastopen)
	expect_rc demo-root 0 && okj demo-root pyj "$T/out" "
COUNT = 2
$demo_json_check
assert d['ok'] is True
assert f['ran'] is True, f
assert len(f['results']) == 8
for r in f['results']:
    assert r['syn_data'] is True, ('the data did not go in the SYN', r)
    assert r['expected_socket'] == r['first_byte'] % 4
    assert r['socket'] == r['expected_socket'] and r['ok'], r"
	[ "$before" = "$after" ] && pass demo-sysctl-restored ||
		fail demo-sysctl-restored "net.ipv4.tcp_fastopen was $before, is $after"
	run demo --count 1 --no-fastopen
	expect_rc demo-text 0 && has "$T/out" "verdict: OK" &&
		has "$T/out" "TCP Fast Open: skipped: --no-fastopen" &&
		grep -qE '^ +127\.0\.0\.3 +2 +line3 +127\.0\.0\.3 +ok$' "$T/out" &&
		pass demo-text || fail demo-text "$(tr '\n' '|' <"$T/out")"

	# as nobody, in a network namespace of our own: no privilege needed
	NS=sksteer-cli-$$
	if ip netns add "$NS" 2>/dev/null && ip -n "$NS" link set lo up &&
		command -v setpriv >/dev/null; then
		ip netns exec "$NS" setpriv --reuid=nobody --regid=nogroup \
			--clear-groups "$SK" -j demo --count 2 >"$T/out" 2>"$T/err"
		rc=$?
		expect_rc demo-nobody 0 && okj demo-nobody pyj "$T/out" "
COUNT = 2
$demo_json_check
assert d['ok'] is True
assert f['ran'] is False and 'tcp_fastopen' in f['skipped'], f"

		# SIGTERM while the sysctl is changed puts it back: the demo is
		# slowed down (strace delays each sendto) and killed as soon as
		# the namespace's net.ipv4.tcp_fastopen shows 3. (SIGINT would
		# be ignored: a background job of a script starts so.)
		sysctl_ns() { ip netns exec "$NS" cat /proc/sys/net/ipv4/tcp_fastopen; }
		if ! command -v strace >/dev/null; then
			skip demo-sigterm "strace is not installed"
		else
			echo 1 | ip netns exec "$NS" tee /proc/sys/net/ipv4/tcp_fastopen >/dev/null
			ip netns exec "$NS" strace -qq -o /dev/null -e trace=sendto \
				-e inject=sendto:delay_enter=300000 \
				"$SK" demo --count 2 >"$T/out" 2>&1 &
			tracer=$!
			demo_pid=
			for _ in $(seq $((50 * ${SKSTEER_TEST_SLOW:-1}))); do
				demo_pid=$(pgrep -P "$tracer" | head -1)
				[ -n "$demo_pid" ] && [ "$(sysctl_ns)" = 3 ] && break
				sleep 0.1
			done
			if [ -n "$demo_pid" ] && [ "$(sysctl_ns)" = 3 ]; then
				kill -TERM "$demo_pid"
				wait "$tracer"
				rc=$?
				after=$(sysctl_ns)
				[ "$after" = 1 ] && [ "$rc" -ne 0 ] && pass demo-sigterm ||
					fail demo-sigterm "after SIGTERM: tcp_fastopen $after, exit status $rc"
			else
				kill "$tracer" 2>/dev/null
				wait "$tracer"
				fail demo-sigterm "the demo never set net.ipv4.tcp_fastopen"
			fi
		fi
		ip netns del "$NS"
		NS=
	else
		skip demo-nobody "cannot create a network namespace or no setpriv"
	fi
else
	skip demo-root "not root"
	run -j demo --count 2
	expect_rc demo-user 0 && okj demo-user pyj "$T/out" "
COUNT = 2
$demo_json_check"
fi
run demo --count 0
expect_rc demo-bad-count 1 && has "$T/err" "expected 1-20" && pass demo-bad-count ||
	fail demo-bad-count "$(cat "$T/err")"

exit $failed
