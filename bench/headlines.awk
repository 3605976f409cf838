# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The headline sentences of bench/RESULTS.md from bench/out/net.csv
# (netbench medians). Columns: workload,topo,scale,x,contender,stat,
# value,ratio_b,aux,...  value: CPU ns per datagram/connection; ratio_b:
# throughput per CPU relative to contender b, taken within each round.
BEGIN {
	FS = ","
	nx = split("4 1000 100000", xs, " ")
	nw = split("udp tcp", wls, " ")
	nt = split("veth lo", tps, " ")
}
$6 == "median" {
	v[$1, $2, $4, $5] = $7
	r[$1, $2, $4, $5] = $8
	dv[$1, $2, $4, $5] = $14
	seen[$1, $2] = 1
}
function lbl(x) {
	return x == 4 ? "4 dst" : x == 1000 ? "1,000 src" : "100,000 src"
}
function have(w, t, x, c) {
	return ((w, t, x, c) in r)
}
END {
	for (t = 1; t <= nt; t++) {
		T = tps[t]
		if (!have("udp", T, 100000, "ebpf"))
			continue
		g = r["udp", T, 100000, "ebpf"]
		printf "- **UDP over %s, 100,000 source prefixes:** sksteer eBPF " \
		       "delivers %.3f of the throughput of one socket bound per " \
		       "address (b, which cannot steer by source at all): " \
		       "%+.0f ns of CPU per datagram over b's %.0f, whole path " \
		       "(goal ≥ 0.97: %s).\n", T, g, dv["udp", T, 100000, "ebpf"],
		       v["udp", T, 100000, "bind"],
		       (g >= 0.97 ? "met" : "**not met**")
	}
	worse = ""
	for (w = 1; w <= nw; w++)
		for (t = 1; t <= nt; t++) {
			W = wls[w]; T = tps[t]
			if (!((W, T) in seen))
				continue
			line = ""
			for (i = 1; i <= nx; i++) {
				X = xs[i]
				if (!have(W, T, X, "ebpf") || !have(W, T, X, "nft"))
					continue
				q = r[W, T, X, "ebpf"] / r[W, T, X, "nft"]
				line = line sprintf("%s%s %.2f×", line == "" ? "" : ", ",
						    lbl(X), q)
				if (q < 1)
					worse = worse sprintf("%s%s over %s at %s",
						worse == "" ? "" : "; ", W, T, lbl(X))
			}
			printf "- **%s over %s, eBPF against nftables NAT** " \
			       "(throughput per CPU; above 1: sksteer is faster): " \
			       "%s.\n", toupper(W), T, line
		}
	if (worse == "")
		print "- **Faster than Netfilter on every workload:** yes (eBPF, every workload, scale and topology above)."
	else
		print "- **Faster than Netfilter on every workload:** **no**: " worse "."
	for (w = 1; w <= nw; w++)
		for (t = 1; t <= nt; t++) {
			W = wls[w]; T = tps[t]
			lo = 1e9; hi = -1e9
			for (i = 1; i <= nx; i++) {
				X = xs[i]
				if (!have(W, T, X, "ebpf") || !have(W, T, X, "reuseport"))
					continue
				# from the within-round ratios: e's CPU per
				# packet over a's
				p = 100 * (r[W, T, X, "reuseport"] / r[W, T, X, "ebpf"] - 1)
				d = p / 100 * v[W, T, X, "reuseport"]
				if (d < lo) { lo = d; plo = p }
				if (d > hi) { hi = d; phi = p }
			}
			if (hi < -1e8)
				continue
			printf "- Not free: over %s, %s steering with eBPF costs " \
			       "%+.0f to %+.0f ns of CPU per %s (%+.1f%% to %+.1f%%) " \
			       "against plain SO_REUSEPORT, which does not steer%s.\n",
			       T, toupper(W), lo, hi,
			       (W == "udp" ? "datagram" : "connection"), plo, phi,
			       (lo < 0 ? " (a negative figure: the difference is " \
				"smaller than the noise between rounds)" : "")
		}
	for (t = 1; t <= nt; t++) {
		T = tps[t]
		line = ""
		for (i = 1; i <= nx; i++) {
			X = xs[i]
			if (!have("udp", T, X, "cbpf") || !have("udp", T, X, "ebpf"))
				continue
			line = line sprintf("%s%s: cBPF %+.0f, eBPF %+.0f ns",
				line == "" ? "" : "; ", lbl(X),
				dv["udp", T, X, "cbpf"], dv["udp", T, X, "ebpf"])
		}
		if (line != "")
			printf "- Classic against extended BPF where both fit " \
			       "(UDP over %s, CPU per datagram over b): %s. " \
			       "Classic BPF does not fit 100,000 prefixes.\n", T, line
	}
}
