# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# sksteer. The two commands a new user needs:
#   make demo    the motivating scenario, no setup, no privileges
#   make check   every test (as root on a fresh Debian 12 it installs what
#                it needs first)
# and the kernel matrix: make check-kernels boots Debian 12's kernels (6.1,
# 6.12) in qemu and runs the whole suite in each.

SUBDIRS := bpf src tools tests examples

.PHONY: all $(SUBDIRS) deps demo check check-kernels fuzz bench clean install format

all: $(SUBDIRS)

bpf:
	$(MAKE) -C bpf
src: bpf
	$(MAKE) -C src
tools examples tests: src
	$(MAKE) -C $@

deps:
	@scripts/install-deps build

demo: deps
	$(MAKE) all
	tools/sksteer demo

# The last line of the output is the summary "N passed, N failed".
check: deps
	@scripts/install-deps test
	$(MAKE) all
	@tests/run.sh

# Every test again inside each kernel of the matrix (tests/kernels/); the
# last line is the total "N passed, N failed".
check-kernels: deps
	@scripts/install-deps kernels
	$(MAKE) all
	$(MAKE) -C bench
	@tests/kernels/check-kernels

fuzz: all
	$(MAKE) -C tests fuzz

# Benchmarks, as root, under 10 minutes; not part of make check. Writes
# bench/RESULTS.md and bench/results.png (raw data in bench/out/).
bench: deps
	@scripts/install-deps bench
	$(MAKE) all
	$(MAKE) -C bench
	bench/run.sh

install: all
	$(MAKE) -C src install
	$(MAKE) -C tools install

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	for d in $(SUBDIRS) bench; do $(MAKE) -C $$d clean; done
