# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The benchmark list of README.md, from bench/RESULTS.md alone (its first
# line and its headlines, which bench/run.sh and bench/headlines.awk
# write): so README's numbers are RESULTS.md's, whoever runs it, and
# bench/readme.sh can check them without the raw data. POSIX awk (mawk).
# A headline it cannot read is an error, not a silently shorter list.

function fail(what) {
	printf "readme.awk: RESULTS.md line %d: cannot read %s\n", NR, what \
		> "/dev/stderr"
	bad = 1
	exit 1
}
# Cut the first match of @re from the rest of the line and return it.
function take(re, what,    v) {
	if (!match(L, re))
		fail(what)
	v = substr(L, RSTART, RLENGTH)
	L = substr(L, RSTART + RLENGTH)
	return v
}
# The last word of @s ("delivers 0.912" -> "0.912").
function last(s,    n, w) {
	n = split(s, w, " ")
	return w[n]
}
# Word @i of @s ("in 51 ms", 2 -> "51").
function word(s, i,    w) {
	split(s, w, " ")
	return w[i]
}
function lbl(x) {
	return x == "4" ? "4" : x == "1000" ? "1,000" : "100,000"
}
function range(lo, hi, unit) {
	return lo == hi ? lo unit : lo "–" hi unit
}

BEGIN { nb = 0; nn = 0; nf = 0; nc = 0; np = 0 }

NR == 1 && !/^# sksteer benchmarks/ { fail("the title") }

/^Produced by `make bench`/ {
	L = $0
	day = last(take("on [0-9-]+", "the date"))
	secs = word(take("in [0-9]+ s", "the duration"), 2)
	take("sources at ", "the sources")
	rev = take("^[^ ]+", "the sources")
	sub(/\.$/, "", rev)
}
/^\*\*THE RUN FAILED/ { failed = 1 }

# - **UDP over veth, 100,000 source prefixes:** sksteer eBPF delivers 0.912
#   ... +294 ns ... over b's 3100 ... (goal ≥ 0.97: **not met**).
/^- \*\*UDP over [a-z]+, 100,000 source prefixes:\*\*/ {
	L = $0
	t = last(take("over [a-z]+", "the topology"))
	ratio[t] = last(take("delivers [0-9.]+", "the ratio to b"))
	dv[t] = take("[-+][0-9]+ ns", "ns over b")
	sub(/ ns$/, "", dv[t])
	goal = take("goal ≥ [0-9.]+: [^)]*", "the goal")
	goalv = goal
	sub(/^goal ≥ /, "", goalv)
	sub(/:.*/, "", goalv)
	met[t] = goal !~ /not met/
	btopo[++nb] = t
}

# - **UDP over veth, eBPF against nftables NAT** (...): 4 dst 1.08×, ...
/^- \*\*(UDP|TCP) over [a-z]+, eBPF against nftables NAT\*\*/ {
	L = $0
	w = last(take("(UDP|TCP)", "the workload"))
	t = last(take("over [a-z]+", "the topology"))
	take("\\): ", "the ratios")
	lo = 1e9; hi = -1e9
	while (match(L, "[0-9.]+×")) {
		q = substr(L, RSTART, RLENGTH - length("×"))
		L = substr(L, RSTART + RLENGTH)
		if (q + 0 < lo + 0) lo = q
		if (q + 0 > hi + 0) hi = q
	}
	if (hi < 0)
		fail("the ratios to nftables")
	nft[w, t] = range(lo, hi, "×")
	if (!((w) in nftw)) { nftw[w] = 1; nftwl[++nn] = w }
	nftt[w] = nftt[w] (nftt[w] == "" ? "" : " ") t
}

/^- \*\*Faster than Netfilter on every workload:\*\*/ {
	L = $0
	sub(/^- \*\*Faster than Netfilter on every workload:\*\* /, "", L)
	sub(/\.$/, "", L)
	if (L ~ /^yes/)
		faster = "faster on every workload and scale measured"
	else {
		sub(/^\*\*no\*\*: /, "", L)
		faster = "**not faster** for " L
	}
}

# - Not free: over veth, UDP steering with eBPF costs +181 to +213 ns of
#   CPU per datagram (+5.6% to +6.7%) against plain SO_REUSEPORT ...
/^- Not free: over [a-z]+, (UDP|TCP) steering with eBPF costs/ {
	L = $0
	t = last(take("over [a-z]+", "the topology"))
	w = last(take("(UDP|TCP)", "the workload"))
	lo = last(take("costs [-+][0-9]+", "the cost"))
	hi = last(take("to [-+][0-9]+", "the cost"))
	nfree[w, t] = lo == hi ? lo : lo " to " hi
	if (lo + 0 < 0)
		noisy = 1
	if (!((w) in freew)) { freew[w] = 1; freewl[++nf] = w }
	freet[w] = freet[w] (freet[w] == "" ? "" : " ") t
}

# - Classic against extended BPF where both fit (UDP over veth, ...):
#   4 dst: cBPF +168, eBPF +275 ns; 1,000 src: cBPF +206, eBPF +313 ns. ...
/^- Classic against extended BPF where both fit/ {
	L = $0
	t = last(take("over [a-z]+", "the topology"))
	ct[++nc] = t
	k = 0
	while (match(L, "[0-9,]+ (dst|src): cBPF [-+][0-9]+, eBPF [-+][0-9]+")) {
		s = substr(L, RSTART, RLENGTH)
		L = substr(L, RSTART + RLENGTH)
		split(s, tok, " ")
		k++
		cs[k] = tok[1] " " tok[2]
		sub(/:$/, "", cs[k])
		cb[t, k] = tok[4]
		sub(/,$/, "", cb[t, k])
		eb[t, k] = tok[6]
		if (cb[t, k] + 0 >= eb[t, k] + 0)
			cheaper_everywhere = "no"
	}
	if (!k)
		fail("the classic BPF figures")
	ncs = k
}

# - **eBPF program alone, IPv4:** +66 / +108 / +261 ns per run above the
#   floor at 4 / 1,000 / 100,000 source prefixes (goal at 100,000: ≤ 20 ns
#   and flat: **not met**); the floor is 77 ns above the empty program.
/^- \*\*eBPF program alone, IPv[46]:\*\*/ {
	L = $0
	f = substr(last(take("IPv[46]", "the family")), 4)
	pa[f] = take("[-+n][0-9a-z/]* / [-+n][0-9a-z/]* / [-+n][0-9a-z/]*",
		     "the costs above the floor")
	lim[f] = last(take("≤ [0-9]+", "the goal"))
	pmet[f] = take("flat: [^)]*", "the goal") ~ /not met/ ? "not met" : "met"
	take("cycled [^)]*\\) ", "the figures with the tables in the caches")
	pw[f] = take("[-+n][0-9a-z/]* / [-+n][0-9a-z/]* / [-+n][0-9a-z/]*",
		     "the costs with the tables in the caches")
	take("LPM trie ", "the LPM trie's with the tables in the caches")
	lw[f] = take("[-+n][0-9a-z/]* / [-+n][0-9a-z/]* / [-+n][0-9a-z/]*",
		     "the LPM trie's with the tables in the caches")
	fam[++np] = f
}

# - **eBPF program alone vs a straightforward LPM trie in the same run**
#   (...): IPv4: at 4 sksteer +66 vs LPM +59, **dearer** by 8 ns; ...
/^- \*\*eBPF program alone vs a straightforward LPM trie in the same run\*\*/ {
	L = $0
	take("\\): ", "the comparison")
	lpm = ""
	while (match(L, "IPv[46]: ")) {
		f = substr(L, RSTART + 3, 1)
		L = substr(L, RSTART + RLENGTH)
		part = ""
		while (match(L, "^(; )?at [0-9,]+ sksteer [-+][0-9]+ vs LPM [-+][0-9]+, \\*\\*(cheaper|dearer)\\*\\* by [0-9]+ ns( \\(not in every round\\))?")) {
			s = substr(L, RSTART, RLENGTH)
			L = substr(L, RSTART + RLENGTH)
			sub(/^; /, "", s)
			split(s, tok, " ")
			# at X sksteer S vs LPM P, **V** by D ns [(not ...)]
			x = tok[2]; sv = tok[4]; lv = tok[7]; v = tok[8]; d = tok[10]
			sub(/,$/, "", lv)
			q = s ~ /not in every round/ ? ", not in every round" : ""
			part = part (part == "" ? "" : "; ") x " prefixes " sv \
			       " vs " lv " ns, sksteer " v " by " d " ns" q
		}
		if (part == "")
			fail("the LPM comparison of IPv" f)
		lpm = lpm (lpm == "" ? "" : ". ") "IPv" f ": " part
		sub(/^\. /, "", L)
	}
	if (lpm == "")
		fail("the LPM comparison")
}

# - **Rule updates:** 100,000 prefixes replace the set of a running group
#   in 51 ms (69 ms including parsing the file); 1,000 live swaps per
#   backend under load lost 0 datagrams and misrouted 0 (...).
/^- \*\*Rule updates:\*\*/ {
	L = $0
	um = word(take("in [0-9n/a]+ ms", "the update time"), 2)
	tm = take("\\([0-9n/a]+ ms", "the total time")
	sub(/^\(/, "", tm); sub(/ ms$/, "", tm)
	sw = take("[0-9,]+ live swaps", "the swaps")
	sub(/ live swaps$/, "", sw)
	ul = last(take("lost [0-9]+", "the losses"))
	ux = last(take("misrouted [0-9]+", "the misrouted"))
}

END {
	if (bad)
		exit 1
	if (day == "" || !nb || !nn || !nf || !nc || np != 2 || lpm == "" ||
	    um == "") {
		print "readme.awk: RESULTS.md lacks a headline README.md needs" \
			> "/dev/stderr"
		exit 1
	}
	printf "Measured by one `make bench` run on %s (%d s, sources at %s)%s:\n\n",
	       day, secs, rev,
	       failed ? " **that failed: the figures are not valid**" : ""
	s = ""; nmet = 0; sm = ""
	for (i = 1; i <= nb; i++) {
		t = btopo[i]
		s = s (i == 1 ? "" : ", ") ratio[t] " over " t " (" dv[t] \
		    (i == 1 ? " ns of CPU per datagram)" : " ns)")
		nmet += met[t]
		sm = sm (i == 1 ? "" : ", ") (met[t] ? "met" : "not met") \
		     " over " t
	}
	printf "- **Against one socket bound per address** (the kernel's exact " \
	       "lookup, which cannot steer by source), UDP with 100,000 source " \
	       "prefixes, sksteer eBPF's throughput per CPU relative to it: %s. " \
	       "The goal of ≥ %s is %s.\n", s, goalv,
	       nmet == nb ? "met" : nmet == 0 ? "**not met**" : \
	       "**not met** everywhere (" sm ")"
	s = ""
	for (i = 1; i <= nn; i++) {
		w = nftwl[i]
		k = split(nftt[w], tt, " ")
		s = s (i == 1 ? "" : "; ") w
		for (j = 1; j <= k; j++)
			s = s (j == 1 ? " " : ", ") nft[w, tt[j]] " over " tt[j]
	}
	printf "- **Against nftables NAT** (throughput per CPU, above 1: " \
	       "sksteer is faster): %s; %s.\n", s, faster
	s = ""
	for (i = 1; i <= nf; i++) {
		w = freewl[i]
		k = split(freet[w], tt, " ")
		s = s (i == 1 ? "" : "; ") \
		    (w == "UDP" ? "per UDP datagram" : "per TCP connection")
		for (j = 1; j <= k; j++)
			s = s (j == 1 ? " " : j == k ? " and " : ", ") \
			    nfree[w, tt[j]] " ns over " tt[j]
	}
	printf "- **Not free against plain SO_REUSEPORT** (which does not " \
	       "steer): eBPF steering costs %s%s.\n", s,
	       noisy ? " (a negative figure: a difference smaller than the " \
	       "noise between rounds)" : ""
	s = ""
	for (k = 1; k <= ncs; k++) {
		s = s (k == 1 ? "" : "; ") cs[k] ": cBPF "
		for (i = 1; i <= nc; i++)
			s = s (i == 1 ? "" : " / ") cb[ct[i], k]
		s = s ", eBPF "
		for (i = 1; i <= nc; i++)
			s = s (i == 1 ? "" : " / ") eb[ct[i], k]
	}
	tl = ""
	for (i = 1; i <= nc; i++)
		tl = tl (i == 1 ? "" : " / ") ct[i]
	printf "- **Classic against extended BPF** (UDP, ns of CPU per datagram " \
	       "over the socket bound per address, %s): %s. Classic BPF is %s" \
	       "the cheaper of the two wherever it fits, and does not fit " \
	       "100,000 prefixes.\n", tl, s,
	       cheaper_everywhere == "no" ? "**not** " : ""
	s = ""
	for (i = 1; i <= np; i++)
		s = s (i == 1 ? "" : "; ") "IPv" fam[i] " " pa[fam[i]] " ns"
	w = ""
	for (i = 1; i <= np; i++)
		w = w (i == 1 ? "" : "; ") "IPv" fam[i] " " pw[fam[i]] \
		    " ns (the LPM trie " lw[fam[i]] ")"
	printf "- **eBPF program alone**, ns per run above the floor (read the " \
	       "header, select a socket) at 4 / 1,000 / 100,000 source prefixes: " \
	       "%s. The goal (at 100,000: ≤ %s ns IPv4, ≤ %s ns IPv6, and flat) " \
	       "is %s. With the tables in the caches (256 distinct sources " \
	       "cycled: the program's own work, without the memory latency of a " \
	       "client mix): %s.\n", s, lim[4], lim[6],
	       (pmet[4] == "met" && pmet[6] == "met") ? "met" : "**not met**", w
	printf "- **eBPF program against a straightforward LPM trie** " \
	       "(bpf/lpm.bpf.c: the same rules and datagrams, in the same run; " \
	       "sksteer vs the trie, ns per run above the floor): %s.\n", lpm
	printf "- **Rule updates:** 100,000 prefixes replace a running group's " \
	       "set in %s ms (%s ms including parsing the file); %s live swaps " \
	       "per backend under load: %s datagrams lost, %s misrouted.\n",
	       um, tm, sw, ul, ux
	printf "\nEvery table, the method and the machine: " \
	       "[bench/RESULTS.md](bench/RESULTS.md); the plot: " \
	       "[bench/results.png](bench/results.png). To reproduce: " \
	       "`make bench` (as root; under 10 minutes).\n"
}
