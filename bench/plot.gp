# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# bench/results.png from the data files bench/run.sh writes to $dir:
#   udp-<topo>-<contender>.dat   x  median  min  max   (CPU ns/datagram
#                                 minus contender b's, within rounds)
#   prog-<4|6>.dat               x  median  min  max   (ns/run above empty)
#   prog-lpm-<4|6>.dat           x  median  min  max   (the LPM trie
#                                 contender, bpf/lpm.bpf.c, likewise)
#   prog-floor-<4|6>.dat         x  median
# gnuplot -e "dir='bench/out'; out='bench/results.png'" bench/plot.gp

set terminal png size 1500,520 noenhanced
set output out
set multiplot layout 1,3 title "sksteer: cost per packet against the number of prefixes in the rules (medians; bars: min-max over rounds)"

set logscale x
set xrange [2:300000]
set xtics ("4 dst" 4, "1,000" 1000, "100,000" 100000)
set grid ytics
set key top left
set xlabel "prefixes in the rules (4 dst: the 4 destination addresses only)"

kinds = "reuseport bind nft cbpf ebpf"
array names[5] = ["a plain reuseport", "b bind per address", "c nftables NAT", \
		  "d sksteer cBPF", "e sksteer eBPF"]

# room above the data for the key
set offsets 0, 0, graph 0.35, 0
do for [topo in "veth lo"] {
	set title sprintf("UDP over %s: CPU per datagram above b", topo)
	set ylabel "ns per datagram more than b (one socket per address)"
	set yrange [*:*]
	set xzeroaxis lt -1
	plot for [i=1:5] sprintf("%s/udp-%s-%s.dat", dir, topo, word(kinds, i)) \
		using 1:2:3:4 with yerrorlines lw 2 pt 7 \
		title names[i]
}

unset xzeroaxis
set offsets 0, 0, 0, 0
# the LPM trie's points at 100,000 are top right: the key goes left
set key top left Left reverse
set title "eBPF program alone: ns per run above the empty program"
set ylabel "ns per run (kernel bpf_stats)"
set yrange [0:*]
plot sprintf("%s/prog-4.dat", dir) using 1:2:3:4 with yerrorlines lw 2 pt 7 title "sksteer IPv4", \
	sprintf("%s/prog-6.dat", dir) using 1:2:3:4 with yerrorlines lw 2 pt 5 title "sksteer IPv6", \
	sprintf("%s/prog-lpm-4.dat", dir) using 1:2:3:4 with yerrorlines lw 2 pt 6 dt 4 title "LPM trie IPv4 (same rules, same run)", \
	sprintf("%s/prog-lpm-6.dat", dir) using 1:2:3:4 with yerrorlines lw 2 pt 4 dt 4 title "LPM trie IPv6", \
	sprintf("%s/prog-floor-4.dat", dir) using 1:2 with lines lw 1 dt 2 title "floor (read header, select) IPv4", \
	sprintf("%s/prog-floor-6.dat", dir) using 1:2 with lines lw 1 dt 3 title "floor IPv6"

unset multiplot
