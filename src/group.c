// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Socket groups: the sockets of one service, in the order the kernel
 * numbers them, and the backend that steers them.
 *
 * When a socket joins the kernel's reuseport group (and so gets its
 * position):
 *  - TCP at listen(): bind() only reserves the port (inet_csk_get_port);
 *    listen() -> inet_csk_listen_start() -> inet_hash() -> __inet_hash()
 *    calls inet_reuseport_add_sock() (net/ipv4/inet_hashtables.c), which
 *    adds the socket to the group of a listener with the same family,
 *    v6only, device, bind bucket, owner uid and address, or starts one.
 *  - UDP at bind(): udp_lib_get_port() (net/ipv4/udp.c) calls
 *    udp_reuseport_add_sock() as it hashes the socket, with the same
 *    conditions.
 * reuseport_add_sock() (net/core/sock_reuseport.c) appends at
 * socks[num_socks], so positions are join order. Every option is set
 * before bind(), so a socket never receives traffic without its options,
 * and IPV6_V6ONLY, which the kernel refuses to change once the socket is
 * bound, is always set explicitly: a v6only and a dual-stack socket never
 * share a group, whatever net.ipv6.bindv6only says.
 *
 * When a socket leaves (close), __reuseport_detach_sock() moves the
 * group's LAST socket into its position and decrements num_socks. A TCP
 * listener leaves in inet_unhash() -> reuseport_stop_listen_sock(): with
 * net.ipv4.tcp_migrate_req (or a SELECT_OR_MIGRATE eBPF program) it is
 * parked in the "closed" section at the end of the array
 * (__reuseport_add_closed_sock, counted in num_closed_socks, not in
 * num_socks), otherwise detached; either way the listening section is
 * renumbered the same way, which is all the positions depend on.
 */
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ebpf.h"
#include "group.h"
#include "tables.h"
#include "sockopt.h"

/* listen(2) backlog when the pool does not say (the kernel caps it at
 * net.core.somaxconn) */
#define SK_DEFAULT_BACKLOG 4096

static int svc_family(const struct sksteer_service *svc)
{
	return svc->addr.ss_family;
}

static const char *proto_name(int proto)
{
	return proto == IPPROTO_TCP ? "TCP" :
	       proto == IPPROTO_UDP ? "UDP" :
				      "?";
}

static uint16_t ss_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

static void ss_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static void ss_fmt(const struct sockaddr_storage *ss, char *buf, size_t sz)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
			  a, sizeof(a));
		snprintf(buf, sz, "%s:%u", a, ss_port(ss));
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)ss)->sin6_addr, a,
			  sizeof(a));
		snprintf(buf, sz, "[%s]:%u", a, ss_port(ss));
	} else {
		snprintf(buf, sz, "(address family %d)", ss->ss_family);
	}
}

static bool ss_same_addr(const struct sockaddr_storage *a,
			 const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		       &((const struct sockaddr_in6 *)b)->sin6_addr,
		       sizeof(struct in6_addr));
}

/* Everything that must be in place before the socket joins the group. */
static int sock_prepare(const struct sk_sock_ctx *c)
{
	int err;

	err = sk_setopt_int(c, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
	if (err)
		return err;
	if (svc_family(c->svc) == AF_INET6) {
		err = sk_setopt_int(
			c, IPPROTO_IPV6, IPV6_V6ONLY, c->svc->v6only,
			c->svc->v6only ? "IPV6_V6ONLY 1" : "IPV6_V6ONLY 0");
		if (err)
			return err;
	}
	return sk_sock_apply_opts(c);
}

/*
 * bind() (and listen() for TCP): the socket joins the kernel's group here,
 * at the next position. @port 0 lets the kernel choose; the port bound is
 * returned in @bound.
 */
static int sock_join(const struct sk_sock_ctx *c, uint16_t port,
		     uint16_t *bound)
{
	const struct sksteer_service *svc = c->svc;
	struct sockaddr_storage ss = svc->addr;
	socklen_t len = sizeof(ss);
	char addr[INET6_ADDRSTRLEN + 16];
	int err, backlog;

	ss_set_port(&ss, port);
	if (bind(c->fd, (struct sockaddr *)&ss, svc->addrlen)) {
		err = -errno;
		ss_fmt(&ss, addr, sizeof(addr));
		ctx_warn(c, "binding to %s: %s%s\n", addr, strerror(-err),
			 err == -EADDRINUSE ?
				 " (another socket of another owner, or "
				 "without SO_REUSEPORT, holds this port)" :
				 "");
		return err;
	}
	if (!port) {
		if (getsockname(c->fd, (struct sockaddr *)&ss, &len)) {
			err = -errno;
			ctx_warn(c, "getsockname: %s\n", strerror(-err));
			return err;
		}
		port = ss_port(&ss);
	}
	if (svc->proto == IPPROTO_TCP) {
		backlog = c->pool->opts.has_backlog ? c->pool->opts.backlog :
						      SK_DEFAULT_BACKLOG;
		if (listen(c->fd, backlog)) {
			err = -errno;
			ctx_warn(c, "listen(backlog %d): %s\n", backlog,
				 strerror(-err));
			return err;
		}
		err = sk_sock_verify_listen(c, backlog);
		if (err)
			return err;
	}
	*bound = port;
	return 0;
}

static uint32_t sock_ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (uint32_t)st.st_ino;
}

/* The query for the sockets of the group's kernel reuseport group. */
static void diag_query_init(const struct sksteer_group *grp,
			    struct sk_diag_peers *q)
{
	const struct sksteer_service *svc = grp->svc;
	socklen_t len = sizeof(q->ifindex);
	int fd;

	memset(q, 0, sizeof(*q));
	q->family = svc_family(svc);
	q->proto = svc->proto;
	q->port = grp->port;
	q->v6only = svc->v6only;
	if (q->family == AF_INET)
		q->addr.v4 = ((const struct sockaddr_in *)&svc->addr)->sin_addr;
	else
		q->addr.v6 =
			((const struct sockaddr_in6 *)&svc->addr)->sin6_addr;
	/* adopted sockets may be bound to a device */
	fd = sk_group_any_fd(grp);
	if (fd < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_BINDTOIFINDEX, &q->ifindex, &len))
		q->ifindex = 0;
}

/*
 * Refuse a port whose SO_REUSEPORT group holds sockets that are not this
 * group's (see diag.c): with @own false before any socket exists, so that
 * a running server is not disturbed at all; with @own true once every
 * socket has joined, which also covers adopted sockets and a server that
 * started in between. A check that cannot be made is reported, not fatal:
 * it guards against a mistake, and steering works without it.
 */
static int check_peers(const struct sksteer_group *grp, bool own)
{
	const struct sksteer_service *svc = grp->svc;
	struct sockaddr_storage ss = svc->addr;
	char addr[INET6_ADDRSTRLEN + 16];
	struct sk_diag_peers q;
	uint32_t *inos = NULL;
	unsigned int i;
	int err, fd;

	if (!grp->port)
		return 0;
	diag_query_init(grp, &q);
	ss_set_port(&ss, grp->port);
	ss_fmt(&ss, addr, sizeof(addr));
	fd = sk_group_any_fd(grp);
	if (own && fd >= 0) {
		inos = calloc(grp->nsocks, sizeof(*inos));
		if (!inos)
			return -ENOMEM;
		for (i = 0; i < grp->nsocks; i++)
			if ((inos[q.nown] = sock_ino(grp->order[i]->fd)))
				q.nown++;
		q.own = inos;
	}
	err = sk_diag_peers(&q);
	free(inos);
	if (err) {
		sk_warn("service '%s': cannot check which sockets share %s "
			"(%s): sock_diag: %s\n",
			svc->name, addr, proto_name(svc->proto),
			strerror(-err));
		return 0;
	}
	if (q.own_seen < q.nown) {
		sk_warn("service '%s': cannot check which sockets share %s "
			"(%s): the group's sockets are in another network "
			"namespace than this process\n",
			svc->name, addr, proto_name(svc->proto));
		return 0;
	}
	if (!q.foreign)
		return 0;
	sk_warn("service '%s': %s (%s) already has %u socket%s of another "
		"program (the first: inode %u, uid %u)%s: the kernel puts them "
		"in one SO_REUSEPORT group with this service's sockets, and "
		"the program that steers one steers all; stop %s or listen on "
		"another port\n",
		svc->name, addr, proto_name(svc->proto), q.foreign,
		q.foreign == 1 ? "" : "s", q.ino, q.uid,
		own ? ", which joined while the group was being set up" : "",
		q.foreign == 1 ? "it" : "them");
	return -EADDRINUSE;
}

/* ---- the group's bookkeeping ---- */

static int find_pool(const struct sksteer_service *svc, const char *name)
{
	size_t i;

	for (i = 0; name && i < svc->npools; i++)
		if (!strcmp(svc->pools[i].name, name))
			return (int)i;
	return -1;
}

/* The socket joined the kernel's group last: it has the next position. */
static struct sk_gsock *group_add(struct sksteer_group *grp, unsigned int pool,
				  int fd)
{
	struct sk_gpool *gp = &grp->pools[pool];
	struct sk_gsock *s;
	unsigned int slot;

	if (gp->filled == gp->cap || grp->nsocks == SK_GROUP_MAX_OPEN)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	for (slot = 0; grp->slot_used[slot]; slot++)
		;
	grp->slot_used[slot] = 1;
	gp->socks[gp->filled] = s;
	s->pool = pool;
	s->idx = gp->filled++;
	s->slot = slot;
	s->fd = fd;
	s->pos = grp->nsocks;
	grp->order[grp->nsocks++] = s;
	grp->nfilled++;
	return s;
}

int sk_group_any_fd(const struct sksteer_group *grp)
{
	return grp->nsocks ? grp->order[0]->fd : -1;
}

/* Is the socket @q->own[0] still in the group's port (sock_diag)? */
static bool still_open(struct sk_diag_peers *q)
{
	return q->nown && !sk_diag_peers(q) && q->own_seen;
}

void sk_group_drop(struct sksteer_group *grp, struct sk_gsock *s)
{
	unsigned int hole = s->pos, last = grp->nsocks - 1;
	struct sk_diag_peers q = { 0 };
	uint32_t ino;

	/*
	 * close() takes a socket out of the group only when its last
	 * reference goes. For a TCP listener, shutdown(SHUT_RD) unhashes it
	 * right now (inet_shutdown() -> tcp_disconnect() -> tcp_set_state(
	 * TCP_CLOSE) -> inet_unhash()), also when another process still
	 * holds a duplicate, so the renumbering below is what the kernel
	 * does. UDP has no such call: udp_disconnect() keeps a socket with
	 * an explicitly bound port hashed.
	 */
	if (grp->svc->proto == IPPROTO_TCP)
		shutdown(s->fd, SHUT_RD);
	else if ((ino = sock_ino(s->fd))) {
		diag_query_init(grp, &q);
		q.own = &ino;
		q.nown = 1;
	}
	close(s->fd);
	s->fd = -1;
	if (still_open(&q))
		sk_warn("service '%s': socket %u of pool '%s' is closed here "
			"but still open elsewhere (a descriptor duplicated by "
			"fork, dup or SCM_RIGHTS): the kernel keeps a UDP "
			"socket in the group until its last descriptor "
			"closes, so until then it receives traffic meant for "
			"the socket that takes its position; close every "
			"copy before closing a socket of a group\n",
			grp->svc->name, s->idx, grp->svc->pools[s->pool].name);
	/* the kernel clears the socket's sockarray entry as it leaves the
	 * group (bpf_sk_reuseport_detach), so the key is free again */
	grp->slot_used[s->slot] = 0;
	s->in_array = false;
	/* __reuseport_detach_sock(): the last socket fills the hole */
	grp->order[hole] = grp->order[last];
	grp->order[hole]->pos = hole;
	grp->order[last] = NULL;
	grp->nsocks--;
}

int sk_group_layout(const struct sksteer_group *grp,
		    const struct sk_gsock *leaving, bool renumbered, bool slots,
		    struct sk_layout *out)
{
	const struct sksteer_service *svc = grp->svc;
	const struct sk_gsock *last =
		grp->nsocks ? grp->order[grp->nsocks - 1] : NULL;
	size_t i;

	out->npools = svc->npools;
	out->pools = calloc(svc->npools ? svc->npools : 1, sizeof(*out->pools));
	if (!out->pools)
		return -ENOMEM;
	for (i = 0; i < svc->npools; i++) {
		const struct sk_gpool *gp = &grp->pools[i];
		struct sk_layout_pool *lp = &out->pools[i];
		unsigned int j;

		lp->pos = calloc(gp->filled ? gp->filled : 1, sizeof(*lp->pos));
		if (!lp->pos) {
			sk_layout_free(out);
			return -ENOMEM;
		}
		for (j = 0; j < gp->filled; j++) {
			const struct sk_gsock *s = gp->socks[j];

			if (s->fd < 0 || s == leaving)
				continue;
			if (slots)
				lp->pos[lp->n++] = s->slot;
			else
				lp->pos[lp->n++] =
					renumbered && leaving && s == last ?
						leaving->pos :
						s->pos;
		}
	}
	return 0;
}

/* ---- the classic BPF backend ---- */

/*
 * A socket is known by its position, so every change of the group needs a
 * program compiled for the new positions.
 */
static struct sksteer_prog *cbpf_compile(const struct sksteer_group *grp,
					 const struct sk_gsock *leaving,
					 bool renumbered, int *err)
{
	struct sksteer_prog *prog;
	struct sk_layout lay;

	*err = sk_group_layout(grp, leaving, renumbered, false, &lay);
	if (*err)
		return NULL;
	prog = sk_cbpf_compile(grp->svc, &lay);
	if (!prog)
		*err = -errno;
	sk_layout_free(&lay);
	return prog;
}

/*
 * SO_ATTACH_REUSEPORT_CBPF on any member sets the program of the whole
 * group: reuseport_attach_prog() swaps reuse->prog under the reuseport
 * lock with rcu_assign_pointer, so every packet runs the old or the new
 * program, never none. (On a socket that has not joined a group yet it
 * would allocate a group of its own: attach only after every socket has
 * joined.)
 */
/* Why the kernel said ENOMEM: the converted program against optmem_max. */
static void cbpf_too_large(const struct sksteer_group *grp,
			   const struct sksteer_prog *prog)
{
	struct sksteer_prog_fit f = { .sz = sizeof(f) };

	if (sksteer_prog__kernel_fit(prog, &f) || f.fits) {
		sk_warn("service '%s': the kernel refused the classic BPF "
			"program (%zu instructions, %zu once converted to "
			"eBPF) for lack of memory: it may exceed "
			"net.core.optmem_max (%ld)\n",
			grp->svc->name, f.insns, f.ebpf_insns, f.optmem_max);
		return;
	}
	if (f.optmem_needed > 0) {
		sk_warn("service '%s': the classic BPF program has %zu "
			"instructions, but only %zu of them fit on this kernel "
			"(%zu eBPF instructions once converted, %zu allowed by "
			"net.core.optmem_max=%ld): raise the limit with 'sysctl "
			"-w net.core.optmem_max=%ld' or use 'backend ebpf'\n",
			grp->svc->name, f.insns, f.max_insns, f.ebpf_insns,
			f.ebpf_limit, f.optmem_max, f.optmem_needed);
		return;
	}
	/* older kernels show the (global) value only in the initial
	 * network namespace */
	sk_warn("service '%s': the classic BPF program has %zu instructions, "
		"but only %zu of them fit on this kernel (%zu eBPF "
		"instructions once converted, %zu allowed by "
		"net.core.optmem_max, which cannot be read in this network "
		"namespace): raise it by at least %zu bytes or use 'backend "
		"ebpf'\n",
		grp->svc->name, f.insns, f.max_insns, f.ebpf_insns,
		f.ebpf_limit, 8 * (f.ebpf_insns - f.ebpf_limit));
}

static int cbpf_install(const struct sksteer_group *grp,
			const struct sksteer_prog *prog)
{
	struct sock_fprog fprog;
	int fd = sk_group_any_fd(grp), err;

	/* the padding too: the kernel copies the whole struct */
	memset(&fprog, 0, sizeof(fprog));
	fprog.len = (unsigned short)prog->n;
	fprog.filter = prog->insns;

	if (!setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog,
			sizeof(fprog)))
		return 0;
	err = -errno;
	if (err == -ENOMEM)
		cbpf_too_large(grp, prog);
	else
		sk_warn("service '%s': attaching the classic BPF program (%zu "
			"instructions) with SO_ATTACH_REUSEPORT_CBPF: %s\n",
			grp->svc->name, prog->n, strerror(-err));
	return err;
}

static int cbpf_attach(struct sksteer_group *grp)
{
	struct sksteer_prog *prog;
	int err;

	prog = cbpf_compile(grp, NULL, false, &err);
	if (!prog)
		return err;
	err = cbpf_install(grp, prog);
	if (!err)
		sk_debug("service '%s': classic BPF program of %zu "
			 "instructions attached for %u sockets\n",
			 grp->svc->name, prog->n, grp->nsocks);
	sksteer_prog__free(prog);
	return err;
}

/*
 * Removing socket S at position p of n sockets:
 *  1. compile the program for the group as the kernel will number it
 *     without S (the last socket in position p); a failure (a pool left
 *     empty whose fallback is drop, which classic BPF cannot do) refuses
 *     the removal before anything changed;
 *  2. attach an interim program for the CURRENT positions with S taken
 *     out of its pool, so no new connection or datagram is steered to S
 *     while it is still open;
 *  3. close S: the kernel moves the last socket into position p;
 *  4. attach the program of step 1.
 * The remaining window, between 3 and 4: traffic the interim program
 * sends to the socket that moved returns its old position n-1, which is
 * now past the end of the group, so the kernel spreads it with its own
 * hash over the whole group. Everything else is steered right throughout.
 * When S is the last socket nothing moves: the program of step 1 is
 * attached before the close and there is no window. The eBPF backend
 * (sockets known by sockarray slot, not position) has no window at all.
 */
static int cbpf_remove(struct sksteer_group *grp, struct sk_gsock *s)
{
	const struct sksteer_service *svc = grp->svc;
	const char *pool = svc->pools[s->pool].name;
	struct sksteer_prog *final, *interim = NULL;
	bool moves = s->pos != grp->nsocks - 1;
	unsigned int idx = s->idx, hole = s->pos, last = grp->nsocks - 1;
	int err;

	final = cbpf_compile(grp, s, true, &err);
	if (final && moves)
		interim = cbpf_compile(grp, s, false, &err);
	if (!final || (moves && !interim)) {
		if (err == -EOPNOTSUPP) {
			sk_warn("service '%s': not closing socket %u of pool "
				"'%s': the group cannot be steered without it "
				"with classic BPF (see above); nothing was "
				"changed\n",
				svc->name, idx, pool);
			err = -EBUSY;
		} else {
			sk_warn("service '%s': not closing socket %u of pool "
				"'%s': no program for the group without it: "
				"%s; nothing was changed\n",
				svc->name, idx, pool, strerror(-err));
		}
		goto out;
	}
	err = cbpf_install(grp, moves ? interim : final);
	if (err)
		goto out; /* the old program stays: nothing changed */
	sk_group_drop(grp, s);
	if (moves) {
		err = cbpf_install(grp, final);
		if (err)
			sk_warn("service '%s': socket %u of pool '%s' is "
				"closed, but the program for the new order "
				"could not be attached: traffic for the socket "
				"that moved from position %u to %u is spread "
				"by the kernel's hash until "
				"sksteer_group__attach() succeeds\n",
				svc->name, idx, pool, last, hole);
	}
	sk_debug("service '%s': closed socket %u of pool '%s'%s\n", svc->name,
		 idx, pool,
		 moves ? " (the last socket took its position)" : "");
out:
	sksteer_prog__free(final);
	sksteer_prog__free(interim);
	return err;
}

static void cbpf_detach(struct sksteer_group *grp)
{
	int fd = sk_group_any_fd(grp), unused = 0;

	/* only what this group attached: SO_DETACH_REUSEPORT_BPF acts on
	 * the kernel's group, which may hold other programs' sockets */
	if (fd >= 0 && grp->attached)
		setsockopt(fd, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &unused,
			   sizeof(unused));
}

static const struct sk_backend_ops sk_cbpf_ops = {
	.kind = SKSTEER_BACKEND_CBPF,
	.name = "cbpf",
	.attach = cbpf_attach,
	.remove = cbpf_remove,
	.detach = cbpf_detach,
};

/* ---- backend choice ---- */

/* Said whenever auto settles for classic BPF: what the service loses. */
#define CBPF_LACKS                                                          \
	"classic BPF steers by the same rules, but without drop targets, "  \
	"stable socket identity (a socket is known by its position in the " \
	"group), live counters (sksteer stats) and TCP request migration"

/* Remove every "service 'NAME': " from a captured reason. */
static void strip_service(char *s, const struct sksteer_service *svc)
{
	char *prefix, *p;
	size_t n;

	if (asprintf(&prefix, "service '%s': ", svc->name) < 0)
		return;
	n = strlen(prefix);
	while ((p = strstr(s, prefix)))
		memmove(p, p + n, strlen(p + n) + 1);
	free(prefix);
}

/*
 * THE place where 'auto' is resolved (sksteer.conf(5)): eBPF when this
 * process may load BPF programs and the running kernel's verifier takes
 * the service's program, else classic BPF, with the reason. Permission is
 * not enough: a kernel may lack what the program needs, or refuse it,
 * and classic BPF still works there. An explicit 'ebpf' never falls back.
 */
int sksteer_service__choose_backend(const struct sksteer_service *svc,
				    enum sksteer_backend want, char *why,
				    size_t why_sz)
{
	char buf[1024];
	struct sk_capture cap;
	int err;

	if (!why || !why_sz) {
		why = buf;
		why_sz = sizeof(buf);
	}
	if (want == SKSTEER_BACKEND_DEFAULT)
		want = svc->backend;
	switch (want) {
	case SKSTEER_BACKEND_CBPF:
		snprintf(why, why_sz, "requested; needs no privilege");
		return SKSTEER_BACKEND_CBPF;
	case SKSTEER_BACKEND_EBPF:
		err = sk_ebpf_probe(buf, sizeof(buf));
		snprintf(why, why_sz, "%s", err ? buf : "requested");
		return err ? err : SKSTEER_BACKEND_EBPF;
	case SKSTEER_BACKEND_DEFAULT:
	case SKSTEER_BACKEND_AUTO:
		break;
	default:
		snprintf(why, why_sz, "unknown backend %d", want);
		return -EINVAL;
	}
	err = sk_ebpf_probe(buf, sizeof(buf));
	if (err) {
		snprintf(why, why_sz, "%s; %s", buf, CBPF_LACKS);
		return SKSTEER_BACKEND_CBPF;
	}
	sk_capture_begin(&cap, buf, sizeof(buf));
	err = sk_ebpf_verify(svc, NULL);
	sk_capture_end(&cap);
	if (err) {
		strip_service(buf, svc);
		snprintf(why, why_sz,
			 "the eBPF program cannot be used here (%s); %s",
			 *buf ? buf : strerror(-err), CBPF_LACKS);
		return SKSTEER_BACKEND_CBPF;
	}
	snprintf(why, why_sz,
		 "this process may load BPF programs and the kernel's verifier "
		 "takes the program");
	return SKSTEER_BACKEND_EBPF;
}

static int backend_ops(const struct sksteer_service *svc,
		       enum sksteer_backend want,
		       const struct sk_backend_ops **ops)
{
	char why[1024];
	int b;

	if (want == SKSTEER_BACKEND_DEFAULT)
		want = svc->backend;
	b = sksteer_service__choose_backend(svc, want, why, sizeof(why));
	if (b < 0) {
		sk_warn("service '%s': backend %s: %s\n", svc->name,
			want == SKSTEER_BACKEND_EBPF ? "ebpf" : "?", why);
		return b;
	}
	/* said once, when the group is made */
	if (want == SKSTEER_BACKEND_DEFAULT || want == SKSTEER_BACKEND_AUTO)
		sk_info("service '%s': backend auto: %s (%s)\n", svc->name,
			b == SKSTEER_BACKEND_EBPF ? "ebpf" : "cbpf", why);
	*ops = b == SKSTEER_BACKEND_EBPF ? &sk_ebpf_ops : &sk_cbpf_ops;
	return 0;
}

/* ---- the public functions ---- */

static int group_new(const struct sksteer_service *svc,
		     enum sksteer_backend want, struct sksteer_group **out)
{
	struct sksteer_group *grp;
	size_t i;
	int err;

	grp = calloc(1, sizeof(*grp));
	if (!grp)
		return -ENOMEM;
	grp->svc = svc;
	grp->port = ss_port(&svc->addr);
	err = backend_ops(svc, want, &grp->ops);
	if (err)
		goto err_free_grp;
	err = -ENOMEM;
	grp->order = calloc(SK_GROUP_MAX_OPEN, sizeof(*grp->order));
	grp->pools = calloc(svc->npools ? svc->npools : 1, sizeof(*grp->pools));
	if (!grp->order || !grp->pools)
		goto err_free_arrays;
	for (i = 0; i < svc->npools; i++) {
		unsigned int n = svc->pools[i].size;
		struct sk_gpool *gp = &grp->pools[i];

		gp->socks = calloc(n ? n : 1, sizeof(*gp->socks));
		if (!gp->socks)
			goto err_free_pools;
		gp->cap = n;
	}
	*out = grp;
	return 0;

err_free_pools:
	while (i-- > 0)
		free(grp->pools[i].socks);
err_free_arrays:
	free(grp->pools);
	free(grp->order);
err_free_grp:
	free(grp);
	return err;
}

/* A new socket for the next position of pool @pool. */
static int sock_create(struct sksteer_group *grp, unsigned int pool)
{
	const struct sksteer_service *svc = grp->svc;
	struct sk_sock_ctx c = {
		.svc = svc,
		.pool = &svc->pools[pool],
		.idx = grp->pools[pool].filled,
	};
	int type = svc->proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;
	uint16_t port;
	int err;

	c.fd = socket(svc_family(svc), type | SOCK_CLOEXEC, svc->proto);
	if (c.fd < 0) {
		err = -errno;
		ctx_warn(&c, "creating a %s %s socket: %s\n",
			 svc_family(svc) == AF_INET ? "IPv4" : "IPv6",
			 proto_name(svc->proto), strerror(-err));
		return err;
	}
	err = sock_prepare(&c);
	if (err)
		goto err_close_fd;
	err = sock_join(&c, grp->port, &port);
	if (err)
		goto err_close_fd;
	if (!group_add(grp, pool, c.fd)) {
		/* only past SK_GROUP_MAX_OPEN or out of memory */
		err = -ENOMEM;
		ctx_warn(&c, "cannot track the socket: %s\n", strerror(-err));
		goto err_close_fd;
	}
	/* port 0: the first socket's port is the group's */
	grp->port = port;
	return 0;

err_close_fd:
	close(c.fd);
	return err;
}

struct sksteer_group *
sksteer_group__create(const struct sksteer_service *svc,
		      const struct sksteer_group_opts *opts)
{
	struct sksteer_group *grp;
	const char *pin;
	size_t i;
	int err;

	if (!svc || !OPTS_VALID(opts, sksteer_group_opts)) {
		errno = EINVAL;
		return NULL;
	}
	if (!svc->has_listen || !svc->nsockets) {
		sk_warn("service '%s' has no listen address or no socket\n",
			svc->name);
		errno = EINVAL;
		return NULL;
	}
	err = group_new(svc, OPTS_GET(opts, backend, SKSTEER_BACKEND_DEFAULT),
			&grp);
	if (err)
		goto err_out;
	pin = OPTS_GET(opts, pin_path, NULL);
	if (pin && grp->ops->kind == SKSTEER_BACKEND_EBPF) {
		grp->pin_path = strdup(pin);
		if (!grp->pin_path) {
			err = -ENOMEM;
			goto err_free_group;
		}
		/* before any socket: a second group of a running service
		 * would join its reuseport group and take over its steering */
		err = sk_group_ebpf_claim(grp);
		if (err) {
			free(grp->pin_path);
			grp->pin_path = NULL;
			goto err_free_group;
		}
	} else if (pin) {
		sk_debug("service '%s': classic BPF has no counters: nothing "
			 "to pin under %s\n",
			 svc->name, pin);
	}
	if (OPTS_GET(opts, empty, false))
		return grp;
	err = check_peers(grp, false);
	if (err)
		goto err_free_group;
	for (i = 0; i < svc->npools; i++) {
		unsigned int j;

		for (j = 0; j < svc->pools[i].size; j++) {
			err = sock_create(grp, (unsigned int)i);
			if (err)
				goto err_free_group;
		}
	}
	err = sksteer_group__attach(grp);
	if (err)
		goto err_free_group;
	return grp;

err_free_group:
	sksteer_group__free(grp);
err_out:
	errno = -err;
	return NULL;
}

/* Is @fd a socket of the service's family, type and protocol? */
static int adopt_check_kind(const struct sk_sock_ctx *c)
{
	const struct sksteer_service *svc = c->svc;
	int dom, type, proto, err;
	int want_type = svc->proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;

	err = sk_getopt_int(c->fd, SOL_SOCKET, SO_DOMAIN, &dom);
	if (!err)
		err = sk_getopt_int(c->fd, SOL_SOCKET, SO_TYPE, &type);
	if (!err)
		err = sk_getopt_int(c->fd, SOL_SOCKET, SO_PROTOCOL, &proto);
	if (err) {
		ctx_warn(c, "fd %d: %s\n", c->fd, strerror(-err));
		return err;
	}
	if (dom != svc_family(svc) || type != want_type ||
	    proto != svc->proto) {
		ctx_warn(c,
			 "fd %d is not an %s %s socket (domain %d, type %d, "
			 "protocol %d), as the service's listen address "
			 "needs\n",
			 c->fd,
			 svc_family(svc) == AF_INET ? "AF_INET" : "AF_INET6",
			 proto_name(svc->proto), dom, type, proto);
		return -EINVAL;
	}
	return 0;
}

/* A socket the application bound itself: is it a member of our group? */
static int adopt_check_bound(const struct sksteer_group *grp,
			     const struct sk_sock_ctx *c,
			     const struct sockaddr_storage *ss)
{
	const struct sksteer_service *svc = grp->svc;
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	char have[INET6_ADDRSTRLEN + 16], want[INET6_ADDRSTRLEN + 16];
	int v, err;

	err = sk_getopt_int(c->fd, SOL_SOCKET, SO_REUSEPORT, &v);
	if (err || !v) {
		ctx_warn(c,
			 "fd %d is bound without SO_REUSEPORT, so it is in no "
			 "reuseport group\n",
			 c->fd);
		return -EINVAL;
	}
	if (svc_family(svc) == AF_INET6) {
		err = sk_getopt_int(c->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v);
		if (err || !!v != svc->v6only) {
			ctx_warn(c,
				 "fd %d has IPV6_V6ONLY %d, the service needs "
				 "%d (the kernel keeps them in different "
				 "groups)\n",
				 c->fd, v, svc->v6only);
			return -EINVAL;
		}
	}
	if (svc->proto == IPPROTO_UDP &&
	    !getpeername(c->fd, (struct sockaddr *)&peer, &len)) {
		ctx_warn(c,
			 "fd %d is a connected UDP socket: the kernel does "
			 "not steer to it\n",
			 c->fd);
		return -EINVAL;
	}
	if (!ss_same_addr(ss, &svc->addr) ||
	    (grp->port && ss_port(ss) != grp->port)) {
		struct sockaddr_storage w = svc->addr;

		/* port 0 in the message: the group's port is not chosen yet */
		ss_set_port(&w, grp->port);
		ss_fmt(ss, have, sizeof(have));
		ss_fmt(&w, want, sizeof(want));
		ctx_warn(c, "fd %d is bound to %s, the group listens on %s\n",
			 c->fd, have, want);
		return -EINVAL;
	}
	if (svc->proto == IPPROTO_TCP) {
		err = sk_getopt_int(c->fd, SOL_SOCKET, SO_ACCEPTCONN, &v);
		if (err || !v) {
			ctx_warn(c,
				 "fd %d is bound but not listening: a TCP "
				 "socket joins the group at listen(), so "
				 "listen() in group order before adopting it, "
				 "or adopt it unbound\n",
				 c->fd);
			return -EINVAL;
		}
	}
	return 0;
}

int sksteer_group__adopt(struct sksteer_group *grp, const char *pool_name,
			 int fd)
{
	const struct sksteer_service *svc;
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);
	struct sk_sock_ctx c;
	uint16_t port;
	size_t next;
	int p, err;

	if (!grp || !pool_name || fd < 0)
		return -EINVAL;
	svc = grp->svc;
	p = find_pool(svc, pool_name);
	if (p < 0) {
		sk_warn("service '%s' has no pool '%s'\n", svc->name,
			pool_name);
		return -ENOENT;
	}
	if (grp->pools[p].filled == svc->pools[p].size) {
		sk_warn("service '%s': pool '%s' already has its %u "
			"sockets\n",
			svc->name, pool_name, svc->pools[p].size);
		return -ENOSPC;
	}
	/* positions fill in group order: pools in declaration order */
	for (next = 0; next < svc->npools; next++)
		if (grp->pools[next].filled < svc->pools[next].size)
			break;
	if (next != (size_t)p) {
		sk_warn("service '%s': sockets are adopted in group order "
			"(pools in declaration order, a pool's sockets one "
			"after the other): pool '%s' still needs %u of its %u "
			"sockets before pool '%s'\n",
			svc->name, svc->pools[next].name,
			svc->pools[next].size - grp->pools[next].filled,
			svc->pools[next].size, pool_name);
		return -EINVAL;
	}
	c = (struct sk_sock_ctx){
		.svc = svc,
		.pool = &svc->pools[p],
		.idx = grp->pools[p].filled,
		.fd = fd,
	};
	err = adopt_check_kind(&c);
	if (err)
		return err;
	if (getsockname(fd, (struct sockaddr *)&ss, &len)) {
		err = -errno;
		ctx_warn(&c, "fd %d: getsockname: %s\n", fd, strerror(-err));
		return err;
	}
	port = ss_port(&ss);
	if (!port) {
		/* unbound: it joins the group here, at the next position */
		err = sock_prepare(&c);
		if (!err)
			err = sock_join(&c, grp->port, &port);
	} else {
		err = adopt_check_bound(grp, &c, &ss);
	}
	if (err)
		return err;
	if (!group_add(grp, (unsigned int)p, fd))
		return -ENOMEM;
	grp->port = port;
	return 0;
}

int sksteer_group__attach(struct sksteer_group *grp)
{
	const struct sksteer_service *svc;
	size_t i;
	int err;

	if (!grp)
		return -EINVAL;
	svc = grp->svc;
	for (i = 0; i < svc->npools; i++) {
		if (grp->pools[i].filled < svc->pools[i].size) {
			sk_warn("service '%s': cannot attach: pool '%s' has "
				"%u of its %u sockets (adopt every socket the "
				"configuration declares first)\n",
				svc->name, svc->pools[i].name,
				grp->pools[i].filled, svc->pools[i].size);
			return -EINVAL;
		}
	}
	if (!grp->nsocks) {
		sk_warn("service '%s': cannot attach: no socket is open\n",
			svc->name);
		return -ENOENT;
	}
	err = check_peers(grp, true);
	if (err)
		return err;
	err = grp->ops->attach(grp);
	if (!err)
		grp->attached = true;
	return err;
}

const struct sksteer_service *
sksteer_group__service(const struct sksteer_group *grp)
{
	return grp ? grp->svc : NULL;
}

int sksteer_group__port(const struct sksteer_group *grp)
{
	return grp ? grp->port : -EINVAL;
}

enum sksteer_backend sksteer_group__backend(const struct sksteer_group *grp)
{
	return grp ? grp->ops->kind : SKSTEER_BACKEND_DEFAULT;
}

static const struct sk_gsock *lookup(const struct sksteer_group *grp,
				     const char *pool, unsigned int idx)
{
	int p = find_pool(grp->svc, pool);

	if (p < 0 || idx >= grp->pools[p].filled ||
	    grp->pools[p].socks[idx]->fd < 0)
		return NULL;
	return grp->pools[p].socks[idx];
}

int sksteer_group__fd(const struct sksteer_group *grp, const char *pool,
		      unsigned int idx)
{
	const struct sk_gsock *s;

	if (!grp || !pool)
		return -EINVAL;
	s = lookup(grp, pool, idx);
	return s ? s->fd : -ENOENT;
}

int sksteer_group__position(const struct sksteer_group *grp, const char *pool,
			    unsigned int idx)
{
	const struct sk_gsock *s;

	if (!grp || !pool)
		return -EINVAL;
	s = lookup(grp, pool, idx);
	return s ? (int)s->pos : -ENOENT;
}

unsigned int sksteer_group__socket_cnt(const struct sksteer_group *grp)
{
	/* the sockets a deferred close left open are no pool's */
	return grp ? grp->nsocks - grp->ndeferred : 0;
}

int sksteer_group__close_socket(struct sksteer_group *grp, const char *pool,
				unsigned int idx)
{
	const struct sk_gsock *s;

	if (!grp || !pool)
		return -EINVAL;
	if (find_pool(grp->svc, pool) < 0) {
		sk_warn("service '%s' has no pool '%s'\n", grp->svc->name,
			pool);
		return -ENOENT;
	}
	s = lookup(grp, pool, idx);
	if (!s) {
		sk_warn("service '%s': pool '%s' has no open socket %u\n",
			grp->svc->name, pool, idx);
		return -ENOENT;
	}
	if (!grp->attached) {
		sk_warn("service '%s': close_socket needs a steered group "
			"(call sksteer_group__attach() first)\n",
			grp->svc->name);
		return -EINVAL;
	}
	return grp->ops->remove(grp, (struct sk_gsock *)s);
}

void sksteer_group__free(struct sksteer_group *grp)
{
	size_t i;

	if (!grp)
		return;
	grp->ops->detach(grp);
	for (i = 0; i < grp->svc->npools; i++) {
		unsigned int j;

		for (j = 0; j < grp->pools[i].filled; j++) {
			if (grp->pools[i].socks[j]->fd >= 0)
				close(grp->pools[i].socks[j]->fd);
			free(grp->pools[i].socks[j]);
		}
		free(grp->pools[i].socks);
	}
	for (i = 0; i < grp->ndeferred; i++) {
		close(grp->deferred[i]->fd);
		free(grp->deferred[i]);
	}
	free(grp->deferred);
	free(grp->pools);
	free(grp->order);
	free(grp->pin_path);
	free(grp);
}

int sksteer_group__socket(const struct sksteer_group *grp, unsigned int n,
			  struct sksteer_socket_info *info)
{
	const struct sksteer_service *svc;
	size_t p;
	unsigned int j;

	if (!grp || !info || !OPTS_VALID(info, sksteer_socket_info))
		return -EINVAL;
	svc = grp->svc;
	for (p = 0; p < svc->npools; p++) {
		const struct sk_gpool *gp = &grp->pools[p];

		for (j = 0; j < gp->filled; j++) {
			if (gp->socks[j]->fd < 0)
				continue;
			if (n--)
				continue;
			info->pool = svc->pools[p].name;
			info->index = j;
			info->fd = gp->socks[j]->fd;
			return 0;
		}
	}
	return -ENOENT;
}

int sksteer_group__prog_fd(const struct sksteer_group *grp)
{
	if (!grp)
		return -EINVAL;
	if (grp->ops->kind != SKSTEER_BACKEND_EBPF)
		return -EOPNOTSUPP;
	return sk_group_ebpf_prog_fd(grp);
}

int sksteer_group__set_pin_path(struct sksteer_group *grp, const char *pin_path)
{
	if (!grp || !pin_path || !*pin_path)
		return -EINVAL;
	if (grp->ops->kind != SKSTEER_BACKEND_EBPF || !grp->pin_path) {
		sk_warn("service '%s': the group pins nothing to move (%s)\n",
			grp->svc->name,
			grp->ops->kind != SKSTEER_BACKEND_EBPF ?
				"classic BPF has no counters" :
				"it was created without a pin path");
		return -EINVAL;
	}
	return sk_group_ebpf_move_pins(grp, pin_path);
}

/* ---- updates ---- */

/* The socket options of the pools both services have must not change:
 * the sockets that stay were set up with the old ones. */
static int pools_compatible(const struct sksteer_group *grp,
			    const struct sksteer_service *nsvc)
{
	const struct sksteer_service *svc = grp->svc;
	size_t p;

	for (p = 0; p < nsvc->npools; p++) {
		const struct sksteer_pool *np = &nsvc->pools[p];
		int op = find_pool(svc, np->name);

		if (op < 0 || !grp->pools[op].filled)
			continue;
		if (!sk_sockopts_equal(&svc->pools[op].opts, &np->opts)) {
			sk_warn("%s:%d:%d: pool '%s' of service '%s' has other "
				"socket options than the running one: its "
				"sockets were set up with those, so that needs "
				"a restart (or a pool of another name); nothing "
				"was changed\n",
				np->loc.file, np->loc.line, np->loc.col,
				np->name, svc->name);
			return -EINVAL;
		}
	}
	return 0;
}

/* Can @nsvc replace @grp's service without new sockets for everything? */
static int update_compatible(const struct sksteer_group *grp,
			     const struct sksteer_service *nsvc)
{
	const struct sksteer_service *svc = grp->svc;
	uint16_t nport = ss_port(&nsvc->addr);

	if (nsvc->proto != svc->proto ||
	    !ss_same_addr(&nsvc->addr, &svc->addr) ||
	    nsvc->v6only != svc->v6only || (nport && nport != grp->port)) {
		char a[INET6_ADDRSTRLEN + 16], b[INET6_ADDRSTRLEN + 16];
		struct sockaddr_storage cur = svc->addr;

		ss_set_port(&cur, grp->port);
		ss_fmt(&cur, a, sizeof(a));
		ss_fmt(&nsvc->addr, b, sizeof(b));
		sk_warn("service '%s': the new configuration listens on %s %s%s, "
			"the running group on %s %s%s: that needs a restart, "
			"not a reload; nothing was changed\n",
			svc->name, proto_name(nsvc->proto), b,
			nsvc->v6only ? " v6only" : "", proto_name(svc->proto),
			a, svc->v6only ? " v6only" : "");
		return -EINVAL;
	}
	if (!nsvc->nsockets || !nsvc->npools) {
		sk_warn("service '%s': the new configuration has no socket\n",
			svc->name);
		return -EINVAL;
	}
	/* an explicit backend must be the running one: switching backends
	 * is a restart */
	if ((nsvc->backend == SKSTEER_BACKEND_CBPF ||
	     nsvc->backend == SKSTEER_BACKEND_EBPF) &&
	    nsvc->backend != grp->ops->kind) {
		sk_warn("service '%s': the new configuration asks for backend "
			"%s, the group runs %s: that needs a restart; nothing "
			"was changed\n",
			svc->name,
			nsvc->backend == SKSTEER_BACKEND_EBPF ? "ebpf" : "cbpf",
			grp->ops->name);
		return -EINVAL;
	}
	return pools_compatible(grp, nsvc);
}

/* Would the backend accept the new rules at all? Checked before anything
 * changes, so that a bad configuration leaves the group as it was. */
/*
 * The group as an update will see it, position by position: the pool of
 * @nsvc each socket serves (-1: an orphan, closed at the end) and its
 * index there.
 */
struct sim {
	int *pool;
	unsigned int *idx;
	unsigned int n;
};

/* The layout (see sk_group_layout()) of the simulated group. */
static int sim_layout(const struct sksteer_service *nsvc, const struct sim *sm,
		      struct sk_layout *out)
{
	unsigned int pos, j;
	size_t p;

	out->npools = nsvc->npools;
	out->pools =
		calloc(nsvc->npools ? nsvc->npools : 1, sizeof(*out->pools));
	if (!out->pools)
		return -ENOMEM;
	for (p = 0; p < nsvc->npools; p++) {
		unsigned int size = nsvc->pools[p].size;
		unsigned int *at = calloc(size ? size : 1, sizeof(*at));
		struct sk_layout_pool *lp = &out->pools[p];

		lp->pos = calloc(size ? size : 1, sizeof(*lp->pos));
		if (!lp->pos || !at) {
			free(at);
			sk_layout_free(out);
			return -ENOMEM;
		}
		/* index order, as sk_group_layout() lists them */
		for (pos = 0; pos < sm->n; pos++)
			if (sm->pool[pos] == (int)p)
				at[sm->idx[pos]] = pos + 1;
		for (j = 0; j < size; j++)
			if (at[j])
				lp->pos[lp->n++] = at[j] - 1;
		free(at);
	}
	return 0;
}

static int sim_compile(const struct sksteer_service *nsvc, const struct sim *sm)
{
	struct sksteer_prog *prog;
	struct sk_layout lay;
	int err;

	err = sim_layout(nsvc, sm, &lay);
	if (err)
		return err;
	prog = sk_cbpf_compile(nsvc, &lay);
	err = prog ? 0 : -errno;
	sksteer_prog__free(prog);
	sk_layout_free(&lay);
	return err;
}

/*
 * Classic BPF names sockets by position, so an update attaches one program
 * after the new sockets joined and one after each orphan's close moved the
 * last socket; the positions are then interleaved, not the declared ones,
 * and a program near the 4096-instruction limit can grow past it on the
 * way. Compile every one of them first, replaying what
 * sksteer_group__update() and the kernel will do, so that an update that
 * would fail half-way is refused before anything changes.
 */
static int cbpf_precheck(const struct sksteer_group *grp,
			 const struct sksteer_service *nsvc)
{
	const struct sksteer_service *osvc = grp->svc;
	struct sim sm = { 0 };
	unsigned int cap = grp->nsocks + nsvc->nsockets, pos, j;
	size_t p;
	int err;

	sm.pool = calloc(cap ? cap : 1, sizeof(*sm.pool));
	sm.idx = calloc(cap ? cap : 1, sizeof(*sm.idx));
	if (!sm.pool || !sm.idx) {
		err = -ENOMEM;
		goto out;
	}
	for (pos = 0; pos < grp->nsocks; pos++) {
		const struct sk_gsock *s = grp->order[pos];
		int np = find_pool(nsvc, osvc->pools[s->pool].name);

		sm.pool[pos] =
			np >= 0 && s->idx < nsvc->pools[np].size ? np : -1;
		sm.idx[pos] = s->idx;
	}
	sm.n = grp->nsocks;
	/* sock_create() appends, pool by pool, from the first index never
	 * used (a closed socket's index stays closed) */
	for (p = 0; p < nsvc->npools; p++) {
		int op = find_pool(osvc, nsvc->pools[p].name);
		unsigned int from = op < 0 ? 0 : grp->pools[op].filled;

		for (j = from; j < nsvc->pools[p].size; j++) {
			sm.pool[sm.n] = (int)p;
			sm.idx[sm.n++] = j;
		}
	}
	err = sim_compile(nsvc, &sm);
	/* the orphans close highest position first; the last socket takes
	 * the hole (__reuseport_detach_sock) */
	for (pos = sm.n; !err && pos-- > 0;) {
		if (sm.pool[pos] >= 0)
			continue;
		if (pos == sm.n - 1) {
			sm.n--;
			continue;
		}
		sm.pool[pos] = sm.pool[sm.n - 1];
		sm.idx[pos] = sm.idx[sm.n - 1];
		sm.n--;
		err = sim_compile(nsvc, &sm);
	}
out:
	free(sm.pool);
	free(sm.idx);
	return err;
}

static int update_precheck(const struct sksteer_group *grp,
			   const struct sksteer_service *nsvc)
{
	if (grp->ops->kind == SKSTEER_BACKEND_CBPF)
		return cbpf_precheck(grp, nsvc);
	/* eBPF: the tables fit and the verifier takes the program, before a
	 * socket is created or closed */
	return sk_ebpf_verify(nsvc, NULL);
}

/*
 * net.ipv4.tcp_migrate_req of this network namespace: 1 when a closing
 * listener's requests move to another listener. Without a MIGRATE eBPF
 * program, reuseport_migrate_sock() picks that listener with its hash, in
 * any pool.
 */
static long tcp_migrate_req(void)
{
	return sk_read_proc_long("/proc/sys/net/ipv4/tcp_migrate_req");
}

/*
 * Close @s, a socket no pool of the current service holds any more (so no
 * program steers to it), and re-steer for the kernel's new order.
 */
static int close_orphan(struct sksteer_group *grp, struct sk_gsock *s)
{
	bool moves = s->pos != grp->nsocks - 1;
	int err = 0;

	/*
	 * Classic BPF names sockets by position: the close moves the last
	 * socket L into the hole, and until the program for the new order
	 * is attached, what the program sends to L's old position (past the
	 * end) is spread by the kernel's hash over the whole group, other
	 * orphans included. An interim program that sends nothing to L
	 * either (its flows go to the rest of its pool, or the pool's
	 * fallback) returns only positions the close does not change, so
	 * nothing is hashed. Without one (it does not compile), the window
	 * of close_socket remains.
	 */
	if (moves && grp->ops->kind == SKSTEER_BACKEND_CBPF) {
		struct sk_gsock *last = grp->order[grp->nsocks - 1];
		struct sksteer_prog *interim;
		int ierr;

		interim = cbpf_compile(grp, last, false, &ierr);
		if (interim)
			cbpf_install(grp, interim);
		sksteer_prog__free(interim);
	}
	sk_group_drop(grp, s);
	if (moves && grp->ops->kind == SKSTEER_BACKEND_CBPF)
		err = grp->ops->attach(grp);
	free(s);
	return err;
}

/* Why a classic BPF group's closing listeners lose their queues. */
static void warn_tcp_cbpf_close(const struct sksteer_group *grp, unsigned int n)
{
	if (!n || grp->svc->proto != IPPROTO_TCP ||
	    grp->ops->kind != SKSTEER_BACKEND_CBPF)
		return;
	sk_warn("service '%s': closing %u listener(s) of pools that "
		"shrank or went away: connections still queued or in "
		"their handshake on them %s (the eBPF backend moves "
		"them to the rest of their pool)\n",
		grp->svc->name, n,
		tcp_migrate_req() == 1 ?
			"move to a listener of any pool that the "
			"kernel's hash picks (net.ipv4.tcp_migrate_req "
			"is 1; classic BPF cannot choose)" :
			"are reset");
}

/*
 * Close @n orphans (no pool holds them, nothing steers to them), the
 * highest position first: closing the group's last socket moves nothing.
 * Returns true when a program for the final order is still to attach.
 */
static bool close_orphans(struct sksteer_group *grp, struct sk_gsock **orphans,
			  unsigned int n)
{
	bool resteer = false;
	unsigned int i;

	warn_tcp_cbpf_close(grp, n);
	while (n) {
		unsigned int best = 0;

		for (i = 1; i < n; i++)
			if (orphans[i]->pos > orphans[best]->pos)
				best = i;
		/* every program on the way was compiled by the precheck:
		 * only the kernel refusing to attach (ENOMEM) fails here */
		if (close_orphan(grp, orphans[best]))
			resteer = true;
		orphans[best] = orphans[--n];
	}
	return resteer;
}

int sksteer_group__close_deferred(struct sksteer_group *grp)
{
	int err = 0;

	if (!grp)
		return -EINVAL;
	if (!grp->ndeferred)
		return 0;
	if (close_orphans(grp, grp->deferred, grp->ndeferred)) {
		err = grp->ops->attach(grp);
		if (err)
			sk_warn("service '%s': the deferred sockets are closed, "
				"but the program for the final order could not "
				"be attached (%s): traffic for the sockets that "
				"moved is spread by the kernel's hash until "
				"sksteer_group__attach() succeeds\n",
				grp->svc->name, strerror(-err));
	}
	free(grp->deferred);
	grp->deferred = NULL;
	grp->ndeferred = 0;
	sk_debug("service '%s': deferred sockets closed: %u sockets\n",
		 grp->svc->name, grp->nsocks);
	return err;
}

int sksteer_group__update(struct sksteer_group *grp,
			  const struct sksteer_service *nsvc)
{
	return sksteer_group__update_opts(grp, nsvc, NULL);
}

int sksteer_group__update_opts(struct sksteer_group *grp,
			       const struct sksteer_service *nsvc,
			       const struct sksteer_update_opts *opts)
{
	const struct sksteer_service *osvc;
	struct sk_gpool *opools, *npools = NULL;
	struct sk_gsock **orphans = NULL, **created = NULL, **dead = NULL;
	unsigned int norphans = 0, ncreated = 0, ndead = 0, i, j;
	bool resteer = false, applied_unsteered = false, defer;
	size_t p;
	int err;

	if (!grp || !nsvc || !OPTS_VALID(opts, sksteer_update_opts))
		return -EINVAL;
	defer = OPTS_GET(opts, defer_close, false);
	osvc = grp->svc;
	opools = grp->pools;
	if (grp->ndeferred) {
		/* their pool indexes name the service they were left by */
		sk_warn("service '%s': %u socket(s) of the last update are "
			"still open (sksteer_group__close_deferred() first)\n",
			osvc->name, grp->ndeferred);
		return -EBUSY;
	}
	if (!grp->attached) {
		sk_warn("service '%s': update needs a steered group\n",
			osvc->name);
		return -EINVAL;
	}
	err = update_compatible(grp, nsvc);
	if (!err)
		err = update_precheck(grp, nsvc);
	if (err)
		return err;

	/* the new pools: kept sockets move over by name and index */
	npools = calloc(nsvc->npools, sizeof(*npools));
	orphans = calloc(grp->nsocks ? grp->nsocks : 1, sizeof(*orphans));
	created = calloc(nsvc->nsockets, sizeof(*created));
	dead = calloc(grp->nfilled ? grp->nfilled : 1, sizeof(*dead));
	if (!npools || !orphans || !created || !dead) {
		err = -ENOMEM;
		goto err_free;
	}
	for (p = 0; p < nsvc->npools; p++) {
		int op = find_pool(osvc, nsvc->pools[p].name);
		unsigned int size = nsvc->pools[p].size;
		unsigned int keep = op < 0 ? 0 : opools[op].filled;

		npools[p].cap = size > keep ? size : keep;
		npools[p].socks =
			calloc(npools[p].cap, sizeof(struct sk_gsock *));
		if (!npools[p].socks) {
			err = -ENOMEM;
			goto err_free;
		}
		if (op >= 0) {
			memcpy(npools[p].socks, opools[op].socks,
			       keep * sizeof(struct sk_gsock *));
			npools[p].filled = keep;
		}
	}
	for (p = 0; p < osvc->npools; p++) {
		int np = find_pool(nsvc, osvc->pools[p].name);

		for (j = 0; j < opools[p].filled; j++) {
			struct sk_gsock *s = opools[p].socks[j];

			if (np < 0 || j >= nsvc->pools[np].size) {
				if (s->fd >= 0)
					orphans[norphans++] = s;
				else
					dead[ndead++] =
						s; /* freed on success */
				if (np >= 0)
					npools[np].socks[j] = NULL;
			}
		}
	}
	/* until they close, the orphans' TCP requests migrate within their
	 * pool if it lives on (eBPF) */
	for (i = 0; i < norphans; i++) {
		int np = find_pool(nsvc, osvc->pools[orphans[i]->pool].name);

		orphans[i]->pool = np < 0 ? SK_NO_POOL : (unsigned int)np;
	}
	for (p = 0; p < nsvc->npools; p++) {
		/* indexes past the new size are gone: the pool shrank */
		if (npools[p].filled > nsvc->pools[p].size)
			npools[p].filled = nsvc->pools[p].size;
		for (j = 0; j < npools[p].filled; j++)
			npools[p].socks[j]->pool = (unsigned int)p;
	}

	/* switch the bookkeeping: from here on layouts are the new ones */
	grp->svc = nsvc;
	grp->pools = npools;
	for (p = 0; p < nsvc->npools; p++) {
		while (grp->pools[p].filled < nsvc->pools[p].size) {
			unsigned int before = grp->pools[p].filled;

			err = sock_create(grp, (unsigned int)p);
			if (err)
				goto err_rollback;
			created[ncreated++] = grp->pools[p].socks[before];
		}
	}
	if (ncreated) {
		err = check_peers(grp, true);
		if (err)
			goto err_rollback;
	}
	/* every packet is now steered by the new rules, to kept and new
	 * sockets only; the orphans get nothing more */
	err = grp->ops->attach(grp);
	if (err)
		goto err_rollback;

	/* close the orphans, or leave them for close_deferred(). A TCP
	 * listener's queue goes with it, unless the eBPF program migrates
	 * it (SELECT_OR_MIGRATE); classic BPF cannot */
	if (defer && norphans) {
		grp->deferred = orphans;
		grp->ndeferred = norphans;
		orphans = NULL;
	} else {
		resteer = close_orphans(grp, orphans, norphans);
	}
	if (resteer) {
		err = grp->ops->attach(grp);
		if (err) {
			sk_warn("service '%s': the update is applied, but the "
				"program for the final order of the sockets "
				"could not be attached (%s): traffic for the "
				"sockets that moved is spread by the kernel's "
				"hash until sksteer_group__attach() succeeds\n",
				nsvc->name, strerror(-err));
			applied_unsteered = true;
		}
	}
	for (p = 0; p < osvc->npools; p++)
		free(opools[p].socks);
	free(opools);
	for (i = 0; i < ndead; i++)
		free(dead[i]);
	free(dead);
	free(orphans);
	free(created);
	if (applied_unsteered)
		return err;
	sk_debug("service '%s': updated: %u sockets (%u new)\n", nsvc->name,
		 grp->nsocks, ncreated);
	return 0;

err_rollback:
	/* the sockets created last are the group's last positions: closing
	 * them in reverse order moves nothing */
	while (ncreated) {
		struct sk_gsock *s = created[--ncreated];

		sk_group_drop(grp, s);
		free(s);
	}
	grp->svc = osvc;
	grp->pools = opools;
	for (p = 0; p < osvc->npools; p++)
		for (j = 0; j < opools[p].filled; j++)
			opools[p].socks[j]->pool = (unsigned int)p;
	sk_warn("service '%s': update failed (%s); the running rules and "
		"sockets are unchanged\n",
		osvc->name, strerror(-err));
err_free:
	if (npools)
		for (p = 0; p < nsvc->npools; p++)
			free(npools[p].socks);
	free(npools);
	free(orphans);
	free(created);
	free(dead);
	return err;
}
