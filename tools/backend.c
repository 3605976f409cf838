// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Which steering backend a service gets in this process. */
#include <stdio.h>
#include <string.h>

#include "main.h"

const char *backend_name(enum sksteer_backend b)
{
	switch (b) {
	case SKSTEER_BACKEND_DEFAULT:
	case SKSTEER_BACKEND_AUTO:
		return "auto";
	case SKSTEER_BACKEND_CBPF:
		return "cbpf";
	case SKSTEER_BACKEND_EBPF:
		return "ebpf";
	}
	return "?";
}

bool parse_backend(const char *s, enum sksteer_backend *out)
{
	if (!strcmp(s, "auto"))
		*out = SKSTEER_BACKEND_AUTO;
	else if (!strcmp(s, "cbpf"))
		*out = SKSTEER_BACKEND_CBPF;
	else if (!strcmp(s, "ebpf"))
		*out = SKSTEER_BACKEND_EBPF;
	else
		return false;
	return true;
}

bool ebpf_usable(char *why, size_t size)
{
	/*
	 * The eBPF backend (BPF_PROG_TYPE_SK_REUSEPORT with a
	 * REUSEPORT_SOCKARRAY) is not part of this build yet. When it is,
	 * this asks whether the process may load BPF programs (CAP_BPF, or
	 * CAP_SYS_ADMIN on older kernels) and says why not.
	 */
	snprintf(why, size, "the eBPF backend is not available in this build");
	return false;
}
