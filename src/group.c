// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* STUB: socket groups are being written. */
#include "internal.h"

struct sksteer_group *sksteer_group__create(const struct sksteer_service *svc,
					    const struct sksteer_group_opts *opts)
{
	(void)svc;
	(void)opts;
	errno = ENOSYS;
	return NULL;
}
