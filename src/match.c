// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* STUB: the reference matcher is being written (see docs/sksteer.conf.5,
 * SEMANTICS). */
#include "internal.h"

int sk_match(const struct sksteer_service *svc, const struct sk_layout *layout,
	     const struct sk_pkt *pkt, struct sk_match *out)
{
	(void)svc;
	(void)layout;
	(void)pkt;
	(void)out;
	return -ENOSYS;
}
