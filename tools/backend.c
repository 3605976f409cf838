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
	return !sksteer_probe_ebpf(why, size);
}
