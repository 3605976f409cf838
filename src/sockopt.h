/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Per-pool socket policy (sksteer.conf(5) pool options): applying it to a
 * socket before it joins the group (src/sockopt.c). */
#ifndef __SKSTEER_SOCKOPT_H
#define __SKSTEER_SOCKOPT_H

#include "internal.h"

/* One socket being set up, for messages. */
struct sk_sock_ctx {
	const struct sksteer_service *svc;
	const struct sksteer_pool *pool;
	unsigned int idx;
	int fd;
};

#define ctx_warn(c, fmt, ...)                                               \
	sk_warn("service '%s', pool '%s', socket %u: " fmt, (c)->svc->name, \
		(c)->pool->name, (c)->idx, ##__VA_ARGS__)

/* getsockopt of an int; 0 or -errno */
int sk_getopt_int(int fd, int level, int name, int *v);
/* setsockopt of an int; a refusal is reported naming @what */
int sk_setopt_int(const struct sk_sock_ctx *c, int level, int name, int v,
		  const char *what);
/* Apply @c->pool's options to @c->fd. An option the kernel refuses is an
 * error naming service, pool, socket, option and errno. */
int sk_sock_apply_opts(const struct sk_sock_ctx *c);

#endif
