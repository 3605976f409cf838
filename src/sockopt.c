// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Per-pool socket policy: the pool options of sksteer.conf(5). */
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "sockopt.h"

static int svc_family(const struct sksteer_service *svc)
{
	return svc->addr.ss_family;
}

int sk_getopt_int(int fd, int level, int name, int *v)
{
	socklen_t len = sizeof(*v);

	*v = 0;
	return getsockopt(fd, level, name, v, &len) ? -errno : 0;
}

/* ---- socket options ---- */

static int setopt(const struct sk_sock_ctx *c, int level, int name,
		  const void *val, socklen_t len, const char *what)
{
	int err;

	if (!setsockopt(c->fd, level, name, val, len))
		return 0;
	err = -errno;
	ctx_warn(c, "the kernel refuses %s: %s\n", what, strerror(-err));
	return err;
}

int sk_setopt_int(const struct sk_sock_ctx *c, int level, int name, int v,
		      const char *what)
{
	return setopt(c, level, name, &v, sizeof(v), what);
}

/*
 * SO_RCVBUF/SO_SNDBUF are silently capped at net.core.rmem_max/wmem_max
 * (and doubled): not a refusal, but worth saying.
 */
static int setopt_buf(const struct sk_sock_ctx *c, int name, int size,
		      const char *what, const char *sysctl)
{
	int err, got;

	err = sk_setopt_int(c, SOL_SOCKET, name, size, what);
	if (err)
		return err;
	if (!sk_getopt_int(c->fd, SOL_SOCKET, name, &got) && got / 2 < size)
		ctx_warn(c, "%s: the kernel capped it to %d bytes (%s)\n", what,
			 got / 2, sysctl);
	return 0;
}

/* The pool's options, in sksteer.conf(5) terms. */
int sk_sock_apply_opts(const struct sk_sock_ctx *c)
{
	const struct sk_sockopts *o = &c->pool->opts;
	int fam = svc_family(c->svc);
	/* a dual-stack socket also carries IPv4 traffic (and its accepted
	 * IPv4 connections inherit the IPv4 options) */
	bool carries4 = fam == AF_INET || c->svc->recv4;
	bool carries6 = fam == AF_INET6;
	char what[160];
	int err;

	/* IP_TOS first: the kernel derives sk_priority from it
	 * (__ip_sock_set_tos), which would undo an explicit priority */
	if (o->has_tos && c->svc->proto == IPPROTO_TCP && (o->tos & 3))
		ctx_warn(c,
			 "tos 0x%02x: TCP keeps the two ECN bits for itself, "
			 "the kernel uses 0x%02x\n",
			 o->tos, o->tos & ~3);
	if (o->has_tos && carries4) {
		snprintf(what, sizeof(what), "tos 0x%02x (IP_TOS)", o->tos);
		err = sk_setopt_int(c, IPPROTO_IP, IP_TOS, o->tos, what);
		if (err)
			return err;
	}
	if (o->has_tos && carries6) {
		snprintf(what, sizeof(what), "tos 0x%02x (IPV6_TCLASS)",
			 o->tos);
		err = sk_setopt_int(c, IPPROTO_IPV6, IPV6_TCLASS, o->tos, what);
		if (err)
			return err;
	}
	if (o->has_mark) {
		snprintf(what, sizeof(what),
			 "mark 0x%x (SO_MARK, needs CAP_NET_ADMIN)", o->mark);
		err = sk_setopt_int(c, SOL_SOCKET, SO_MARK, (int)o->mark, what);
		if (err)
			return err;
	}
	if (o->has_priority) {
		snprintf(what, sizeof(what),
			 "priority %d (SO_PRIORITY, above 6 needs "
			 "CAP_NET_ADMIN)",
			 o->priority);
		err = sk_setopt_int(c, SOL_SOCKET, SO_PRIORITY, o->priority, what);
		if (err)
			return err;
	}
	if (o->has_rcvbuf) {
		snprintf(what, sizeof(what), "rcvbuf %d (SO_RCVBUF)",
			 o->rcvbuf);
		err = setopt_buf(c, SO_RCVBUF, o->rcvbuf, what,
				 "net.core.rmem_max");
		if (err)
			return err;
	}
	if (o->has_sndbuf) {
		snprintf(what, sizeof(what), "sndbuf %d (SO_SNDBUF)",
			 o->sndbuf);
		err = setopt_buf(c, SO_SNDBUF, o->sndbuf, what,
				 "net.core.wmem_max");
		if (err)
			return err;
	}
	if (o->has_pacing_rate) {
		/* the kernel takes a u64 when optlen says so */
		uint64_t rate = o->pacing_rate;

		snprintf(what, sizeof(what),
			 "pacing-rate %llu bytes/s (SO_MAX_PACING_RATE)",
			 (unsigned long long)rate);
		err = setopt(c, SOL_SOCKET, SO_MAX_PACING_RATE, &rate,
			     sizeof(rate), what);
		if (err)
			return err;
	}
	if (o->has_congestion) {
		snprintf(what, sizeof(what),
			 "congestion %s (TCP_CONGESTION: is it built or "
			 "loaded, and listed in "
			 "net.ipv4.tcp_allowed_congestion_control for an "
			 "unprivileged process?)",
			 o->congestion);
		err = setopt(c, IPPROTO_TCP, TCP_CONGESTION, o->congestion,
			     (socklen_t)strlen(o->congestion), what);
		if (err)
			return err;
	}
	if (o->has_fastopen) {
		snprintf(what, sizeof(what), "fastopen %d (TCP_FASTOPEN)",
			 o->fastopen);
		err = sk_setopt_int(c, IPPROTO_TCP, TCP_FASTOPEN, o->fastopen,
				 what);
		if (err)
			return err;
	}
	if (o->has_defer_accept) {
		snprintf(what, sizeof(what),
			 "defer-accept %d (TCP_DEFER_ACCEPT)", o->defer_accept);
		err = sk_setopt_int(c, IPPROTO_TCP, TCP_DEFER_ACCEPT,
				 o->defer_accept, what);
		if (err)
			return err;
	}
	if (o->has_pktinfo && carries4) {
		snprintf(what, sizeof(what), "pktinfo %s (IP_PKTINFO)",
			 o->pktinfo ? "on" : "off");
		err = sk_setopt_int(c, IPPROTO_IP, IP_PKTINFO, o->pktinfo, what);
		if (err)
			return err;
	}
	if (o->has_pktinfo && carries6) {
		snprintf(what, sizeof(what), "pktinfo %s (IPV6_RECVPKTINFO)",
			 o->pktinfo ? "on" : "off");
		err = sk_setopt_int(c, IPPROTO_IPV6, IPV6_RECVPKTINFO, o->pktinfo,
				 what);
		if (err)
			return err;
	}
	return 0;
}

