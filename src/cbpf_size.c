// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What a classic BPF program costs the running kernel.
 *
 * SO_ATTACH_REUSEPORT_CBPF does not keep the classic program: the kernel
 * converts it to eBPF (bpf_convert_filter() in net/core/filter.c) and
 * sk_reuseport_attach_filter() refuses it with ENOMEM when
 * bpf_prog_size(converted length) -- the struct bpf_prog header plus eight
 * bytes per eBPF instruction -- exceeds net.core.optmem_max. That sysctl
 * is global and 20480 on older kernels (Debian 12's 6.1), per network
 * namespace and 128 KiB by default on newer ones, so the practical limit
 * is often far below BPF_MAXINSNS (4096 classic instructions).
 *
 * The conversion's expansion is modelled here per instruction (written
 * from reading the kernel, not copied). What the model cannot know is
 * the header size (it depends on the kernel's build) and whether
 * something else grows the program (JIT constant blinding): rather than
 * guess from a version number, the limit is measured once per network
 * namespace and optmem_max value by attaching programs of known converted
 * length to a throwaway SO_REUSEPORT UDP socket, which any process may do.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "internal.h"

#define OPTMEM_PATH "/proc/sys/net/core/optmem_max"

/*
 * Architectures whose kernels select CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS
 * (this library runs on the kernel's architecture): there a load at a
 * non-negative offset gets an inline fast path before the helper call.
 */
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) || \
	defined(__powerpc__) || defined(__s390__)
#define UNALIGNED_OK 1
#else
#define UNALIGNED_OK 0
#endif
#if defined(__x86_64__) || defined(__i386__) || defined(__powerpc__) || \
	defined(__s390__)
#define NET_IP_ALIGN_ 0
#else
#define NET_IP_ALIGN_ 2
#endif

static unsigned int size_bytes(uint16_t code)
{
	return BPF_SIZE(code) == BPF_W ? 4 : BPF_SIZE(code) == BPF_H ? 2 : 1;
}

/* Ancillary loads (SKF_AD_OFF + n): short inline sequences or a call. */
static unsigned int ancillary_cost(uint32_t k)
{
	switch (k - (uint32_t)SKF_AD_OFF) {
	case SKF_AD_PROTOCOL:
	case SKF_AD_VLAN_TPID:
	case SKF_AD_PKTTYPE:
		return 2;
	case SKF_AD_IFINDEX:
	case SKF_AD_HATYPE:
	case SKF_AD_PAY_OFFSET:
	case SKF_AD_NLATTR:
	case SKF_AD_NLATTR_NEST:
	case SKF_AD_CPU:
	case SKF_AD_RANDOM:
		return 4;
	case SKF_AD_VLAN_TAG_PRESENT:
		return 3;
	default: /* mark, rxhash, queue, vlan tag, alu_xor_x */
		return 1;
	}
}

/*
 * A packet load becomes a call of a load helper with its four arguments
 * set up, then a check of the result (negative: end the program with 0):
 * 8 instructions, 9 for an indirect load with an offset. A direct load at
 * a non-negative offset first tries the linear data inline.
 */
static unsigned int packet_load_cost(uint16_t code, uint32_t k)
{
	bool ind = BPF_MODE(code) == BPF_IND;
	int32_t off = (int32_t)k;
	unsigned int n = ind ? 8 + (k != 0) : 8, size = size_bytes(code);
	bool fast;

	if (ind || off < 0)
		return n;
	fast = UNALIGNED_OK || off + NET_IP_ALIGN_ % (int)size == 0;
	if (fast)
		n += 4 + (off != 0) + (off > 32767 ? 2 : 0) + (size > 1);
	return n;
}

static unsigned int jump_cost(const struct sock_filter *f)
{
	/* immediates are signed in eBPF: a negative one goes through a
	 * register first */
	unsigned int n = BPF_SRC(f->code) == BPF_K && (int32_t)f->k < 0;

	if (f->jf == 0)
		return n + 1;
	if (f->jt == 0 && BPF_OP(f->code) != BPF_JSET)
		return n + 1; /* inverted: jne, jle, jlt */
	return n + 2; /* both targets elsewhere: the jump and a ja */
}

static unsigned int insn_cost(const struct sock_filter *f, bool *pkt)
{
	switch (BPF_CLASS(f->code)) {
	case BPF_LD:
		if (BPF_MODE(f->code) == BPF_ABS &&
		    f->k >= (uint32_t)SKF_AD_OFF &&
		    f->k < (uint32_t)SKF_AD_OFF + SKF_AD_MAX)
			return ancillary_cost(f->k);
		if (BPF_MODE(f->code) == BPF_ABS ||
		    BPF_MODE(f->code) == BPF_IND) {
			*pkt = true;
			return packet_load_cost(f->code, f->k);
		}
		return 1; /* imm, mem, len */
	case BPF_LDX:
		if (BPF_MODE(f->code) == BPF_MSH) {
			/* a byte load wrapped in register shuffling and
			 * the & 0xf, << 2 */
			*pkt = true;
			return 6 +
			       packet_load_cost(BPF_LD | BPF_B | BPF_ABS, f->k);
		}
		return 1;
	case BPF_ALU:
		if (BPF_SRC(f->code) == BPF_X &&
		    (BPF_OP(f->code) == BPF_DIV || BPF_OP(f->code) == BPF_MOD))
			return 5; /* a zero divisor ends the program */
		return 1;
	case BPF_JMP:
		return BPF_OP(f->code) == BPF_JA ? 1 : jump_cost(f);
	case BPF_RET:
		return BPF_RVAL(f->code) == BPF_K ? 2 : 1;
	default: /* st, stx, tax, txa */
		return 1;
	}
}

size_t sk_cbpf_kernel_len(const struct sock_filter *insns, size_t n)
{
	size_t len = 3, i; /* clear A and X, save the context */
	bool pkt = false;

	for (i = 0; i < n; i++)
		len += insn_cost(&insns[i], &pkt);
	if (pkt)
		len += 4; /* cache skb->data and the linear length */
	return len;
}

/* ---- the running kernel's limit ---- */

/*
 * A probe of converted length @len: a byte load that needs the helper
 * whatever the architecture (a negative offset, 15 instructions with the
 * shuffling of ldx msh), then `ld #0` (one each), then `ret a`.
 */
static int probe_prog(size_t len, struct sock_filter *p, size_t *n)
{
	const size_t fixed = 3 + 4 + 1, msh = 6 + 8;
	size_t m, f, i;

	if (len < fixed + msh)
		return -EINVAL;
	m = (len - fixed) / msh;
	f = (len - fixed) % msh;
	if (m + f + 1 > SKSTEER_CBPF_MAX_INSNS)
		return -E2BIG;
	*n = 0;
	for (i = 0; i < m; i++)
		p[(*n)++] = (struct sock_filter)BPF_STMT(
			BPF_LDX | BPF_B | BPF_MSH, (uint32_t)SKF_NET_OFF);
	for (i = 0; i < f; i++)
		p[(*n)++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_IMM, 0);
	p[(*n)++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_A, 0);
	return 0;
}

/* 1: attaches, 0: too large for optmem_max, negative: cannot tell */
static int probe_attach(size_t len, struct sock_filter *buf)
{
	struct sock_fprog fprog;
	int fd, one = 1, ret;
	size_t n;

	ret = probe_prog(len, buf, &n);
	if (ret)
		return ret;
	/* an unbound socket with SO_REUSEPORT: the kernel gives it a group
	 * of its own, and it can never receive anything */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	memset(&fprog, 0, sizeof(fprog));
	fprog.len = (unsigned short)n;
	fprog.filter = buf;
	if (!setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog,
			sizeof(fprog)))
		ret = 1;
	else
		ret = errno == ENOMEM ? 0 : -errno;
	close(fd);
	return ret;
}

long sk_read_optmem_max(void)
{
	char buf[32];
	ssize_t r;
	int fd;

	fd = open(OPTMEM_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return -1;
	buf[r] = 0;
	return strtol(buf, NULL, 10);
}

/*
 * Binary search for the longest converted program that attaches: every
 * other unknown (header size, blinding, the exact comparison) is in
 * the answer. About 13 attaches, once per namespace and optmem_max.
 */
static int probe_limit(struct sk_cbpf_limit *lim)
{
	size_t lo, hi, mid;
	struct sock_filter *buf;
	int r;

	buf = calloc(SKSTEER_CBPF_MAX_INSNS, sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	lo = 3 + 4 + 1 + 6 + 8; /* the smallest probe */
	hi = lo + (SKSTEER_CBPF_MAX_INSNS - 2) * (6 + 8);
	r = probe_attach(lo, buf);
	if (r <= 0) {
		lim->ebpf_max = 0;
		goto out;
	}
	r = probe_attach(hi, buf);
	if (r == 1) {
		/* more than any classic program can need */
		lim->ebpf_max = SIZE_MAX;
		goto out;
	}
	while (r >= 0 && hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		r = probe_attach(mid, buf);
		if (r == 1)
			lo = mid;
		else if (r == 0)
			hi = mid;
	}
	lim->ebpf_max = lo;
out:
	free(buf);
	if (r < 0)
		snprintf(lim->why, sizeof(lim->why),
			 "probing with SO_ATTACH_REUSEPORT_CBPF failed: %s",
			 strerror(-r));
	return r < 0 ? r : 0;
}

int sk_cbpf_kernel_limit(struct sk_cbpf_limit *out)
{
	static struct sk_cbpf_limit cache;
	static ino_t cache_ns;
	static bool cached;
	struct stat st;
	long optmem = sk_read_optmem_max();
	ino_t ns = stat("/proc/self/ns/net", &st) ? 0 : st.st_ino;
	int err = 0;

	if (!cached || cache_ns != ns || cache.optmem_max != optmem) {
		memset(&cache, 0, sizeof(cache));
		cache.optmem_max = optmem;
		err = probe_limit(&cache);
		cache.err = err;
		cache_ns = ns;
		cached = true;
	}
	*out = cache;
	return cache.err;
}

/* ---- public ---- */

int sksteer_prog__kernel_fit(const struct sksteer_prog *prog,
			     struct sksteer_prog_fit *fit)
{
	struct sk_cbpf_limit lim;
	struct sksteer_prog_fit f;
	size_t sz;
	int err;

	if (!prog || !fit ||
	    fit->sz < offsetof(struct sksteer_prog_fit, optmem_needed) +
			      sizeof(fit->optmem_needed))
		return -EINVAL;
	sz = fit->sz < sizeof(f) ? fit->sz : sizeof(f);
	memset(&f, 0, sizeof(f));
	f.sz = sz;
	f.insns = prog->n;
	f.ebpf_insns = sk_cbpf_kernel_len(prog->insns, prog->n);
	f.optmem_needed = -1;
	err = sk_cbpf_kernel_limit(&lim);
	f.optmem_max = lim.optmem_max;
	if (!err) {
		f.known = true;
		f.ebpf_limit = lim.ebpf_max;
		f.fits = f.ebpf_insns <= lim.ebpf_max;
		if (lim.ebpf_max == SIZE_MAX)
			f.max_insns = SKSTEER_CBPF_MAX_INSNS;
		else if (f.ebpf_insns)
			/* the same mix of instructions, scaled */
			f.max_insns = (size_t)((unsigned long long)prog->n *
					       lim.ebpf_max / f.ebpf_insns);
		if (f.max_insns > SKSTEER_CBPF_MAX_INSNS)
			f.max_insns = SKSTEER_CBPF_MAX_INSNS;
		/* eight bytes per converted instruction over what attached
		 * is enough (the header is the same) */
		if (!f.fits && lim.optmem_max >= 0)
			f.optmem_needed =
				lim.optmem_max +
				8 * (long)(f.ebpf_insns - lim.ebpf_max);
		else if (f.fits)
			f.optmem_needed = lim.optmem_max;
	} else {
		sk_debug("%s\n", lim.why);
	}
	memcpy(fit, &f, sz);
	return err;
}
