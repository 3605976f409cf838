/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Per-pool socket policy (sksteer.conf(5) pool options): applying it to a
 * socket before it joins the group, and reading every option back
 * (src/sockopt.c). An option the kernel refuses, or stores with another
 * value than the configuration asks for (a buffer capped by
 * net.core.rmem_max, a queue capped by net.core.somaxconn, ...), is an
 * error naming service, pool, socket, option and errno or value: a socket
 * never joins a group with half its policy.
 */
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

/* Do two pools set the same socket options? */
bool sk_sockopts_equal(const struct sk_sockopts *a,
		       const struct sk_sockopts *b);
/* getsockopt of an int; 0 or -errno */
int sk_getopt_int(int fd, int level, int name, int *v);
/*
 * setsockopt of an int, then getsockopt: a refusal, or a value read back
 * that differs from @v, is reported naming @what. For options the kernel
 * stores as given (flags, marks, ...). Returns 0 or a negative errno
 * (-ERANGE when the kernel stored another value).
 */
int sk_setopt_int(const struct sk_sock_ctx *c, int level, int name, int v,
		  const char *what);
/*
 * Apply @c->pool's options to @c->fd and verify each one with getsockopt,
 * allowing only the kernel's documented transformations (buffer sizes are
 * stored doubled; TCP_DEFER_ACCEPT is rounded up to the SYN-ACK
 * retransmission schedule). Anything else is an error naming service,
 * pool, socket, option and errno or the value the kernel used.
 */
int sk_sock_apply_opts(const struct sk_sock_ctx *c);
/*
 * After listen(@backlog) on a TCP socket: the kernel silently caps the
 * backlog at net.core.somaxconn. Reads it back (TCP_INFO of a listener:
 * tcpi_sacked is sk_max_ack_backlog) and reports a pool whose explicit
 * backlog was capped. 0 or a negative errno.
 */
int sk_sock_verify_listen(const struct sk_sock_ctx *c, int backlog);

#endif
