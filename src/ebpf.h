/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The eBPF backend's program generations (src/ebpf.c). */
#ifndef __SKSTEER_EBPF_H
#define __SKSTEER_EBPF_H

#include "internal.h"

struct sk_ebpf;

/* Maps a new generation takes over from the running one (-1: create). */
struct sk_ebpf_shared {
	int sockarray_fd;
	int counters_fd;
	/* sockets open in the group (also those about to close) */
	unsigned int nopen;
};

/* 0 when this process may load the program, else a negative errno and
 * the reason in @why. */
int sk_ebpf_probe(char *why, size_t why_sz);
/* Load a generation for @svc; @layout gives per pool the sockarray keys of
 * its open sockets. NULL and errno on failure (reason printed). */
struct sk_ebpf *sk_ebpf_load(const struct sksteer_service *svc,
			     const struct sk_layout *layout,
			     const struct sk_ebpf_shared *shared);
/*
 * Would the kernel take the eBPF program for @svc? Builds its tables (for
 * @layout, or the declared layout when NULL: every socket open) and loads
 * the program, which the kernel's verifier checks, without attaching it
 * anywhere; then unloads it. Needs what loading needs (CAP_BPF). Returns 0,
 * or a negative errno with the reason printed through sk_warn() naming the
 * service: -E2BIG for a program too complex for the verifier ("too complex
 * for the eBPF verifier: ...") or tables over a limit of the eBPF backend,
 * -EPERM or -EACCES when loading is not permitted, another errno when the
 * kernel refused the program or its maps for another reason.
 */
int sk_ebpf_verify(const struct sksteer_service *svc,
		   const struct sk_layout *layout);
int sk_ebpf_prog_fd(const struct sk_ebpf *e);
int sk_ebpf_sockarray_fd(const struct sk_ebpf *e);
int sk_ebpf_counters_fd(const struct sk_ebpf *e);
int sk_ebpf_cookie_fd(const struct sk_ebpf *e);
size_t sk_ebpf_table_bytes(const struct sk_ebpf *e);
void sk_ebpf_free(struct sk_ebpf *e);

#endif
