// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The seccomp filter of `sksteer run`'s workers: they cannot replace or
 * detach the steering program of the group they serve.
 *
 * Why: any process holding one socket of a reuseport group can attach a
 * program to the whole group (SO_ATTACH_REUSEPORT_CBPF needs no
 * privilege, and replaces an eBPF program too) or detach it, so one
 * worker, even under --user with no capabilities, could take every flow
 * of every pool. The kernel offers no per-socket lock, so the calls are
 * refused in the worker itself: setsockopt(SOL_SOCKET,
 * SO_ATTACH_REUSEPORT_CBPF / _EBPF, SO_DETACH_REUSEPORT_BPF,
 * SO_DETACH_FILTER) fails with EPERM, whatever the descriptor (seccomp
 * sees numbers, not sockets).
 *
 * What else the filter has to close:
 *  - Only the low 32 bits of the level and option name are compared: the
 *    kernel reads them as int, so a caller could set the high bits to
 *    slip past a 64-bit compare.
 *  - The architecture field: a 64-bit process may enter the kernel with
 *    the 32-bit ABI (int 0x80) or x32, where the numbers differ. The
 *    32-bit ABI also has socketcall(2), whose arguments sit in memory
 *    that seccomp cannot read: socketcall(SYS_SETSOCKOPT) is refused
 *    altogether. A process of an ABI this filter does not know is killed
 *    rather than left unfiltered.
 *  - io_uring: IORING_OP_URING_CMD with SOCKET_URING_OP_SETSOCKOPT
 *    (Linux 6.7) sets socket options without a system call that seccomp
 *    sees, so io_uring_setup(2) fails with EPERM, as in the default
 *    profiles of Docker and containerd.
 *  - PR_SET_NO_NEW_PRIVS, which the kernel requires of a process without
 *    CAP_SYS_ADMIN: set for every worker, so that a setuid program it
 *    executes gains nothing (and cannot drop the filter either way).
 */
#include <errno.h>
#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "run_guard.h"

#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
/* socketcall(2)'s call number for setsockopt (linux/net.h) */
#define SYS_SETSOCKOPT_CALL 14
#define NR_IO_URING_SETUP   425 /* the same in every ABI */

/*
 * The system call numbers of the ABIs a process of this build can use.
 * -1: the ABI has no such call.
 */
struct abi {
	uint32_t arch;
	uint32_t nr_mask; /* clears the x32 bit: x32 shares the arch */
	int setsockopt, setsockopt_alt, socketcall;
};

#if defined(__x86_64__)
#define HAVE_FILTER 1
/* x32 numbers carry bit 30; its setsockopt is 541 (54 | bit 30 is
 * refused too: the kernel may route it, the filter does not guess) */
static const struct abi native = { AUDIT_ARCH_X86_64, ~0x40000000U, 54, 541,
				   -1 };
static const struct abi compat = { AUDIT_ARCH_I386, ~0U, 366, -1, 102 };
#define HAVE_COMPAT 1
#elif defined(__aarch64__)
#define HAVE_FILTER 1
static const struct abi native = { AUDIT_ARCH_AARCH64, ~0U, 208, -1, -1 };
static const struct abi compat = { AUDIT_ARCH_ARM, ~0U, 294, -1, -1 };
#define HAVE_COMPAT 1
#elif defined(__i386__)
#define HAVE_FILTER 1
static const struct abi native = { AUDIT_ARCH_I386, ~0U, 366, -1, 102 };
#endif

/* the low 32 bits of argument @i, wherever the byte order puts them */
#if __BYTE_ORDER == __LITTLE_ENDIAN
#define ARG_LO(i) ((uint32_t)offsetof(struct seccomp_data, args[i]))
#else
#define ARG_LO(i) ((uint32_t)offsetof(struct seccomp_data, args[i]) + 4)
#endif

/* A program with forward jumps to labels, resolved at the end. */
enum label { L_NEXT, L_ALLOW, L_DENY, L_KILL, L_ARGS, L_COMPAT, L_NLABELS };

struct asm_insn {
	struct sock_filter f;
	enum label jt, jf; /* jumps, for conditional ones */
};

struct prog_asm {
	struct asm_insn insn[48];
	unsigned int n, at[L_NLABELS];
};

static void emit(struct prog_asm *a, uint16_t code, uint32_t k, enum label jt,
		 enum label jf)
{
	a->insn[a->n++] = (struct asm_insn){ .f = { .code = code, .k = k },
					     .jt = jt,
					     .jf = jf };
}

static void label(struct prog_asm *a, enum label l)
{
	a->at[l] = a->n;
}

static void ld(struct prog_asm *a, uint32_t off)
{
	emit(a, BPF_LD | BPF_W | BPF_ABS, off, L_NEXT, L_NEXT);
}

/* if A == @k goto @jt (else fall through, or @jf) */
static void jeq(struct prog_asm *a, uint32_t k, enum label jt, enum label jf)
{
	emit(a, BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf);
}

#ifdef HAVE_FILTER
/* The calls of one ABI: A holds the architecture, which is @abi's. */
static void abi_calls(struct prog_asm *a, const struct abi *abi)
{
	ld(a, offsetof(struct seccomp_data, nr));
	if (abi->nr_mask != ~0U)
		emit(a, BPF_ALU | BPF_AND | BPF_K, abi->nr_mask, L_NEXT,
		     L_NEXT);
	jeq(a, NR_IO_URING_SETUP, L_DENY, L_NEXT);
	jeq(a, (uint32_t)abi->setsockopt, L_ARGS, L_NEXT);
	if (abi->setsockopt_alt >= 0)
		jeq(a, (uint32_t)abi->setsockopt_alt, L_ARGS, L_NEXT);
	if (abi->socketcall >= 0) {
		jeq(a, (uint32_t)abi->socketcall, L_NEXT, L_ALLOW);
		ld(a, ARG_LO(0));
		jeq(a, SYS_SETSOCKOPT_CALL, L_DENY, L_ALLOW);
	} else {
		emit(a, BPF_JMP | BPF_JA, 0, L_ALLOW, L_ALLOW);
	}
}
#endif

int guard_filter_build(struct sock_fprog *out)
{
#ifdef HAVE_FILTER
	static const uint32_t opts[] = {
		SO_ATTACH_REUSEPORT_CBPF,
		SO_ATTACH_REUSEPORT_EBPF,
		SO_DETACH_REUSEPORT_BPF,
		SO_DETACH_FILTER,
	};
	struct prog_asm a = { .n = 0 };
	struct sock_filter *f;
	unsigned int i;

	ld(&a, offsetof(struct seccomp_data, arch));
#ifdef HAVE_COMPAT
	jeq(&a, native.arch, L_NEXT, L_COMPAT);
#else
	jeq(&a, native.arch, L_NEXT, L_KILL);
#endif
	abi_calls(&a, &native);
#ifdef HAVE_COMPAT
	label(&a, L_COMPAT);
	jeq(&a, compat.arch, L_NEXT, L_KILL);
	abi_calls(&a, &compat);
#endif
	/* setsockopt(fd, level, optname, ...) */
	label(&a, L_ARGS);
	ld(&a, ARG_LO(1));
	jeq(&a, SOL_SOCKET, L_NEXT, L_ALLOW);
	ld(&a, ARG_LO(2));
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		jeq(&a, opts[i], L_DENY,
		    i + 1 < sizeof(opts) / sizeof(opts[0]) ? L_NEXT : L_ALLOW);
	label(&a, L_ALLOW);
	emit(&a, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, L_NEXT, L_NEXT);
	label(&a, L_DENY);
	emit(&a, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM, L_NEXT, L_NEXT);
	label(&a, L_KILL);
	emit(&a, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, L_NEXT, L_NEXT);

	f = calloc(a.n, sizeof(*f));
	if (!f)
		return -ENOMEM;
	for (i = 0; i < a.n; i++) {
		struct asm_insn *in = &a.insn[i];
		unsigned int t = in->jt == L_NEXT ? i + 1 : a.at[in->jt];
		unsigned int e = in->jf == L_NEXT ? i + 1 : a.at[in->jf];

		f[i] = in->f;
		if (BPF_CLASS(in->f.code) != BPF_JMP)
			continue;
		/* every jump is forward, and the program short */
		if (BPF_OP(in->f.code) == BPF_JA) {
			f[i].k = t - i - 1;
		} else {
			f[i].jt = (uint8_t)(t - i - 1);
			f[i].jf = (uint8_t)(e - i - 1);
		}
	}
	out->filter = f;
	out->len = (unsigned short)a.n;
	return 0;
#else
	(void)label;
	(void)ld;
	(void)jeq;
	out->filter = NULL;
	out->len = 0;
	return -EOPNOTSUPP;
#endif
}

int guard_filter_install(const struct sock_fprog *prog)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog))
		return -errno;
	return 0;
}
