// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Per-pool socket policy: the pool options of sksteer.conf(5), each one
 * set and then read back with getsockopt.
 *
 * What the kernel does with them (verified on 6.18, see
 * tests/test_run_sockopt.c):
 *  - SO_RCVBUF / SO_SNDBUF store twice the value, capped at
 *    net.core.rmem_max / wmem_max (SO_RCVBUFFORCE / SO_SNDBUFFORCE skip
 *    the cap with CAP_NET_ADMIN) and raised to SOCK_MIN_RCVBUF /
 *    SOCK_MIN_SNDBUF.
 *  - IP_TOS and IPV6_TCLASS on a TCP socket keep the socket's own two ECN
 *    bits (__ip_sock_set_tos, do_ipv6_setsockopt); IP_TOS also sets
 *    sk_priority from the TOS (rt_tos2priority), so it goes first.
 *  - TCP_FASTOPEN caps the queue at net.core.somaxconn
 *    (fastopen_queue_tune), listen() caps the backlog the same way.
 *  - TCP_DEFER_ACCEPT is stored as a number of SYN-ACK retransmissions
 *    and read back as the time they take, rounded up (1, 3, 7, 15 s...).
 *  - Accepted TCP connections start as a copy of the listener
 *    (sk_clone_lock): they inherit mark, TOS / traffic class, buffer
 *    sizes, the maximum pacing rate and a congestion control set with
 *    TCP_CONGESTION (tcp_ca_openreq_child; a route's congctl metric
 *    wins), but NOT SO_PRIORITY, which sk_clone_lock resets to 0.
 */
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

/* setsockopt; a refusal is reported naming @what and the errno */
static int setopt(const struct sk_sock_ctx *c, int level, int name,
		  const void *val, socklen_t len, const char *what)
{
	int err;

	if (!setsockopt(c->fd, level, name, val, len))
		return 0;
	err = -errno;
	ctx_warn(c, "%s: the kernel refuses it: %s\n", what, strerror(-err));
	return err;
}

/* getsockopt of an int for verification; a failure is reported */
static int readback(const struct sk_sock_ctx *c, int level, int name,
		    const char *what, int *v)
{
	int err = sk_getopt_int(c->fd, level, name, v);

	if (err)
		ctx_warn(c, "%s: reading it back: %s\n", what, strerror(-err));
	return err;
}

int sk_setopt_int(const struct sk_sock_ctx *c, int level, int name, int v,
		  const char *what)
{
	int err, got;

	err = setopt(c, level, name, &v, sizeof(v), what);
	if (!err)
		err = readback(c, level, name, what, &got);
	if (err)
		return err;
	if (got != v) {
		ctx_warn(c, "%s: the kernel stored %d instead\n", what, got);
		return -ERANGE;
	}
	return 0;
}

/* A net.core sysctl of this network namespace, or -1. */
static long read_sysctl(const char *name)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/sys/net/core/%s", name);
	return sk_read_proc_long(path);
}

/*
 * SO_RCVBUF / SO_SNDBUF: the kernel stores 2 * size. When the sysctl cap
 * made it smaller, the *FORCE variant (CAP_NET_ADMIN) sets it uncapped,
 * as systemd does for socket units; without the capability the cap is an
 * error that names the sysctl, never a smaller buffer than configured.
 */
static int set_buf(const struct sk_sock_ctx *c, int name, int force_name,
		   int size, const char *what, const char *sysctl)
{
	int err, got, want = 2 * size;

	err = setopt(c, SOL_SOCKET, name, &size, sizeof(size), what);
	if (!err)
		err = readback(c, SOL_SOCKET, name, what, &got);
	if (err)
		return err;
	if (got < want) {
		if (setsockopt(c->fd, SOL_SOCKET, force_name, &size,
			       sizeof(size))) {
			err = -errno;
			/* the cap itself is got / 2: older kernels (6.1)
			 * keep the sysctl in the initial network namespace
			 * only, so it may not be readable here */
			ctx_warn(c,
				 "%s: net.core.%s caps it at %d bytes, and "
				 "setting it above the cap needs CAP_NET_ADMIN "
				 "(%s): raise net.core.%s%s or lower the "
				 "option\n",
				 what, sysctl, got / 2, strerror(-err), sysctl,
				 read_sysctl(sysctl) < 0 ?
					 " (in the initial network namespace: "
					 "it is not per namespace on this "
					 "kernel)" :
					 "");
			return -ERANGE;
		}
		err = readback(c, SOL_SOCKET, name, what, &got);
		if (err)
			return err;
	}
	if (got != want) {
		/* raised to SOCK_MIN_RCVBUF / SOCK_MIN_SNDBUF */
		ctx_warn(c,
			 "%s: the kernel uses %d bytes (%d stored) instead: "
			 "%s\n",
			 what, got / 2, got,
			 got > want ? "the value is below its minimum" :
				      "the value was capped");
		return -ERANGE;
	}
	return 0;
}

static int set_tos(const struct sk_sock_ctx *c, bool carries4, bool carries6,
		   int tos)
{
	char what[64];
	int err;

	/*
	 * TCP owns the ECN field: the kernel would keep the socket's own
	 * two low bits whatever the option says.
	 */
	if (c->svc->proto == IPPROTO_TCP && (tos & 3)) {
		ctx_warn(c,
			 "tos 0x%02x: TCP keeps the two low (ECN) bits of the "
			 "TOS / traffic class for itself; write tos 0x%02x\n",
			 tos, tos & ~3);
		return -EINVAL;
	}
	if (carries4) {
		snprintf(what, sizeof(what), "tos 0x%02x (IP_TOS)", tos);
		err = sk_setopt_int(c, IPPROTO_IP, IP_TOS, tos, what);
		if (err)
			return err;
	}
	if (carries6) {
		snprintf(what, sizeof(what), "tos 0x%02x (IPV6_TCLASS)", tos);
		err = sk_setopt_int(c, IPPROTO_IPV6, IPV6_TCLASS, tos, what);
		if (err)
			return err;
	}
	return 0;
}

static int set_pacing(const struct sk_sock_ctx *c, uint64_t rate)
{
	socklen_t len = sizeof(uint64_t);
	char what[96];
	uint64_t got;
	int err;

	/* the kernel takes and returns a u64 when optlen says so */
	snprintf(what, sizeof(what),
		 "pacing-rate %llu bytes/s (SO_MAX_PACING_RATE)",
		 (unsigned long long)rate);
	err = setopt(c, SOL_SOCKET, SO_MAX_PACING_RATE, &rate, sizeof(rate),
		     what);
	if (err)
		return err;
	if (getsockopt(c->fd, SOL_SOCKET, SO_MAX_PACING_RATE, &got, &len)) {
		err = -errno;
		ctx_warn(c, "%s: reading it back: %s\n", what, strerror(-err));
		return err;
	}
	if (len != sizeof(got) || got != rate) {
		ctx_warn(c, "%s: the kernel stored %llu instead\n", what,
			 (unsigned long long)got);
		return -ERANGE;
	}
	return 0;
}

static int set_congestion(const struct sk_sock_ctx *c, const char *name)
{
	char what[200], got[32] = "";
	socklen_t len = sizeof(got) - 1;
	int err;

	snprintf(what, sizeof(what),
		 "congestion %s (TCP_CONGESTION: is it built or loaded, and "
		 "listed in net.ipv4.tcp_allowed_congestion_control for a "
		 "process without CAP_NET_ADMIN?)",
		 name);
	err = setopt(c, IPPROTO_TCP, TCP_CONGESTION, name,
		     (socklen_t)strlen(name), what);
	if (err)
		return err;
	if (getsockopt(c->fd, IPPROTO_TCP, TCP_CONGESTION, got, &len)) {
		err = -errno;
		ctx_warn(c, "congestion %s: reading it back: %s\n", name,
			 strerror(-err));
		return err;
	}
	got[len] = '\0';
	if (strcmp(got, name)) {
		ctx_warn(c, "congestion %s: the kernel uses '%s' instead\n",
			 name, got);
		return -ERANGE;
	}
	return 0;
}

static int set_fastopen(const struct sk_sock_ctx *c, int qlen)
{
	char what[64];
	int err, got;

	snprintf(what, sizeof(what), "fastopen %d (TCP_FASTOPEN)", qlen);
	err = setopt(c, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen), what);
	if (!err)
		err = readback(c, IPPROTO_TCP, TCP_FASTOPEN, what, &got);
	if (err)
		return err;
	if (got != qlen) {
		ctx_warn(c,
			 "%s: the kernel caps the queue at %d "
			 "(net.core.somaxconn is %ld)\n",
			 what, got, read_sysctl("somaxconn"));
		return -ERANGE;
	}
	return 0;
}

static int set_defer_accept(const struct sk_sock_ctx *c, int secs)
{
	char what[64];
	int err, got;

	snprintf(what, sizeof(what), "defer-accept %d (TCP_DEFER_ACCEPT)",
		 secs);
	err = setopt(c, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs),
		     what);
	if (!err)
		err = readback(c, IPPROTO_TCP, TCP_DEFER_ACCEPT, what, &got);
	if (err)
		return err;
	/* rounded up to the retransmission schedule: never shorter */
	if (got < secs || (!secs && got)) {
		ctx_warn(c, "%s: the kernel stored %d seconds instead\n", what,
			 got);
		return -ERANGE;
	}
	if (got != secs)
		sk_debug("service '%s', pool '%s', socket %u: %s: %d seconds "
			 "(the kernel rounds up to its SYN-ACK retransmission "
			 "schedule)\n",
			 c->svc->name, c->pool->name, c->idx, what, got);
	return 0;
}

/*
 * listen() caps the backlog at net.core.somaxconn without a word: refuse
 * an explicit backlog above it before the socket joins the group.
 */
static int check_backlog(const struct sk_sock_ctx *c, int backlog)
{
	long max = read_sysctl("somaxconn");

	if (max >= 0 && backlog > max) {
		ctx_warn(c,
			 "backlog %d: the kernel caps listen() backlogs at "
			 "net.core.somaxconn (%ld); raise it or lower the "
			 "option\n",
			 backlog, max);
		return -ERANGE;
	}
	return 0;
}

int sk_sock_verify_listen(const struct sk_sock_ctx *c, int backlog)
{
	const struct sk_sockopts *o = &c->pool->opts;
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int err;

	if (c->svc->proto != IPPROTO_TCP || !o->has_backlog)
		return 0;
	if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len)) {
		err = -errno;
		ctx_warn(c, "backlog %d: reading it back (TCP_INFO): %s\n",
			 backlog, strerror(-err));
		return err;
	}
	/* a listener reports sk_max_ack_backlog in tcpi_sacked */
	if ((int)ti.tcpi_sacked != backlog) {
		ctx_warn(c,
			 "backlog %d: the kernel uses %u (net.core.somaxconn "
			 "is %ld)\n",
			 backlog, ti.tcpi_sacked, read_sysctl("somaxconn"));
		return -ERANGE;
	}
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
	bool tcp = c->svc->proto == IPPROTO_TCP;
	char what[160];
	int err;

	if (o->has_backlog && tcp) {
		err = check_backlog(c, o->backlog);
		if (err)
			return err;
	}
	/* IP_TOS first: it sets sk_priority from the TOS
	 * (rt_tos2priority), which would undo an explicit priority */
	if (o->has_tos) {
		err = set_tos(c, carries4, carries6, o->tos);
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
		err = sk_setopt_int(c, SOL_SOCKET, SO_PRIORITY, o->priority,
				    what);
		if (err)
			return err;
		/* said once per pool, not for every socket */
		if (tcp && c->idx == 0)
			ctx_warn(c,
				 "priority %d applies to the listening socket "
				 "(its SYN-ACKs) only: the kernel starts "
				 "accepted connections with priority 0 "
				 "(sk_clone_lock); set SO_PRIORITY in the "
				 "worker, or classify by mark or tos\n",
				 o->priority);
	}
	if (o->has_rcvbuf) {
		snprintf(what, sizeof(what), "rcvbuf %d (SO_RCVBUF)",
			 o->rcvbuf);
		err = set_buf(c, SO_RCVBUF, SO_RCVBUFFORCE, o->rcvbuf, what,
			      "rmem_max");
		if (err)
			return err;
	}
	if (o->has_sndbuf) {
		snprintf(what, sizeof(what), "sndbuf %d (SO_SNDBUF)",
			 o->sndbuf);
		err = set_buf(c, SO_SNDBUF, SO_SNDBUFFORCE, o->sndbuf, what,
			      "wmem_max");
		if (err)
			return err;
	}
	if (o->has_pacing_rate) {
		err = set_pacing(c, o->pacing_rate);
		if (err)
			return err;
	}
	if (o->has_congestion) {
		err = set_congestion(c, o->congestion);
		if (err)
			return err;
	}
	if (o->has_fastopen) {
		err = set_fastopen(c, o->fastopen);
		if (err)
			return err;
	}
	if (o->has_defer_accept) {
		err = set_defer_accept(c, o->defer_accept);
		if (err)
			return err;
	}
	if (o->has_pktinfo && carries4) {
		snprintf(what, sizeof(what), "pktinfo %s (IP_PKTINFO)",
			 o->pktinfo ? "on" : "off");
		err = sk_setopt_int(c, IPPROTO_IP, IP_PKTINFO, o->pktinfo,
				    what);
		if (err)
			return err;
	}
	if (o->has_pktinfo && carries6) {
		snprintf(what, sizeof(what), "pktinfo %s (IPV6_RECVPKTINFO)",
			 o->pktinfo ? "on" : "off");
		err = sk_setopt_int(c, IPPROTO_IPV6, IPV6_RECVPKTINFO,
				    o->pktinfo, what);
		if (err)
			return err;
	}
	return 0;
}

bool sk_sockopts_equal(const struct sk_sockopts *a, const struct sk_sockopts *b)
{
	/* field by field: a memcmp would compare padding and the values of
	 * options that are not set */
#define SAME(has, field) (a->has == b->has && (!a->has || a->field == b->field))
	return SAME(has_mark, mark) && SAME(has_pacing_rate, pacing_rate) &&
	       SAME(has_tos, tos) && SAME(has_priority, priority) &&
	       SAME(has_rcvbuf, rcvbuf) && SAME(has_sndbuf, sndbuf) &&
	       SAME(has_backlog, backlog) && SAME(has_fastopen, fastopen) &&
	       SAME(has_defer_accept, defer_accept) &&
	       SAME(has_pktinfo, pktinfo) &&
	       a->has_congestion == b->has_congestion &&
	       (!a->has_congestion || !strcmp(a->congestion, b->congestion));
#undef SAME
}
