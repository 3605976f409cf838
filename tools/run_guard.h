/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The seccomp filter that keeps `sksteer run`'s workers from replacing or
 * detaching the steering program of their group (tools/run_seccomp.c).
 */
#ifndef __SKSTEER_TOOL_RUN_GUARD_H
#define __SKSTEER_TOOL_RUN_GUARD_H

#include <linux/filter.h>

/*
 * Build the filter for this architecture into *@out (free out->filter).
 * 0, or -EOPNOTSUPP when this build has no filter for its architecture.
 */
int guard_filter_build(struct sock_fprog *out);
/*
 * Install it in the calling process (no_new_privs first): 0 or a negative
 * errno. Async-signal-safe: for the child between fork and exec.
 */
int guard_filter_install(const struct sock_fprog *prog);

#endif
