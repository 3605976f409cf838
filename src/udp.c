// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * UDP replies from the address a datagram arrived on.
 *
 * A socket bound to a wildcard address sends from the source the routing
 * table picks for the client (the route's preferred source, usually the
 * interface's primary address). On a server with one address per line,
 * a client that asked 198.51.100.2 gets a reply from 198.51.100.1 and
 * drops it. The fix is per datagram: IP_PKTINFO / IPV6_RECVPKTINFO tell
 * where each one arrived, and the same control message on sendmsg()
 * chooses the source of the reply.
 *
 * What the kernel delivers (net/ipv4/ip_sockglue.c, net/ipv6/datagram.c,
 * net/ipv6/udp.c udpv6_recvmsg):
 *  - IPv4 socket: IP_PKTINFO at level IPPROTO_IP. ipi_addr is the
 *    destination in the IP header; ipi_spec_dst is the address to reply
 *    from (fib_compute_spec_dst: the destination itself for a unicast
 *    address of this host, the interface's preferred source for
 *    broadcast and multicast).
 *  - IPv6 socket, IPv6 datagram: IPV6_PKTINFO at level IPPROTO_IPV6.
 *  - Dual-stack IPv6 socket, IPv4 datagram: the peer is v4-mapped; with
 *    IP_PKTINFO set the control message is IP_PKTINFO at level IPPROTO_IP
 *    (ip_cmsg_recv_offset), and with IPV6_RECVPKTINFO an IPV6_PKTINFO
 *    with the v4-mapped destination as well.
 * On sendmsg() to a v4-mapped peer, udpv6_sendmsg() hands the datagram to
 * udp_sendmsg(), whose ip_cmsg_send() takes IP_PKTINFO at level
 * IPPROTO_IP: the IPv4 path is the same for both kinds of socket.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

/* Room for the packet info and whatever else the socket asks for
 * (timestamps, TTL, ...): a larger control message set is truncated
 * (MSG_CTRUNC) and reported. */
#define SK_UDP_CMSG_SPACE 512

static bool v4mapped(const struct in6_addr *a)
{
	return IN6_IS_ADDR_V4MAPPED(a);
}

/* @local in the family of the peer address the kernel reported */
static void set_local4(struct sksteer_udp_peer *peer, struct in_addr a)
{
	memset(&peer->local, 0, sizeof(peer->local));
	if (peer->addr.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&peer->local;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr.s6_addr[10] = 0xff;
		s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], &a, 4);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&peer->local;

		s4->sin_family = AF_INET;
		s4->sin_addr = a;
	}
}

static void set_local6(struct sksteer_udp_peer *peer,
		       const struct in6_pktinfo *pi)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&peer->local;

	memset(&peer->local, 0, sizeof(peer->local));
	s6->sin6_family = AF_INET6;
	s6->sin6_addr = pi->ipi6_addr;
	if (IN6_IS_ADDR_LINKLOCAL(&pi->ipi6_addr))
		s6->sin6_scope_id = (uint32_t)pi->ipi6_ifindex;
}

ssize_t sksteer_udp_recv(int fd, void *buf, size_t len, int flags,
			 struct sksteer_udp_peer *peer)
{
	union {
		char buf[SK_UDP_CMSG_SPACE];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	bool have4 = false, have6 = false;
	struct in6_pktinfo pi6;
	struct in_pktinfo pi4;
	struct cmsghdr *cm;
	ssize_t n;

	if (fd < 0 || !peer || (!buf && len))
		return -EINVAL;
	memset(peer, 0, sizeof(*peer));
	msg.msg_name = &peer->addr;
	msg.msg_namelen = sizeof(peer->addr);
	n = recvmsg(fd, &msg, flags);
	if (n < 0)
		return -errno;
	peer->addrlen = msg.msg_namelen;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(pi4))) {
			memcpy(&pi4, CMSG_DATA(cm), sizeof(pi4));
			have4 = true;
		} else if (cm->cmsg_level == IPPROTO_IPV6 &&
			   cm->cmsg_type == IPV6_PKTINFO &&
			   cm->cmsg_len >= CMSG_LEN(sizeof(pi6))) {
			memcpy(&pi6, CMSG_DATA(cm), sizeof(pi6));
			have6 = true;
		}
	}
	/*
	 * IPv4 (also on a dual-stack socket): ipi_spec_dst is what the
	 * kernel itself would answer from, which is the destination for
	 * unicast and a valid source for broadcast and multicast.
	 */
	if (have4) {
		set_local4(peer, pi4.ipi_spec_dst);
		peer->ifindex = pi4.ipi_ifindex;
	} else if (have6 && v4mapped(&pi6.ipi6_addr)) {
		struct in_addr a;

		/* only IPV6_RECVPKTINFO on a dual-stack socket */
		memcpy(&a, &pi6.ipi6_addr.s6_addr[12], 4);
		set_local4(peer, a);
		peer->ifindex = pi6.ipi6_ifindex;
	} else if (have6) {
		set_local6(peer, &pi6);
		peer->ifindex = pi6.ipi6_ifindex;
	} else {
		/*
		 * The datagram is consumed, but replying from an unknown
		 * address is exactly what this function exists to avoid.
		 */
		sk_debug("sksteer_udp_recv: fd %d: no packet info with the "
			 "datagram (%s)\n",
			 fd,
			 msg.msg_flags & MSG_CTRUNC ?
				 "control messages truncated" :
				 "pktinfo is off on this socket");
		return -EPROTO;
	}
	return n;
}

ssize_t sksteer_udp_reply(int fd, const void *buf, size_t len, int flags,
			  const struct sksteer_udp_peer *peer)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
	};
	const struct sockaddr_in6 *l6;
	struct cmsghdr *cm;
	ssize_t n;

	if (fd < 0 || !peer || (!buf && len) || !peer->addrlen)
		return -EINVAL;
	memset(&ctl, 0, sizeof(ctl));
	msg.msg_name = (void *)&peer->addr;
	msg.msg_namelen = peer->addrlen;
	cm = (struct cmsghdr *)ctl.buf;
	l6 = (const struct sockaddr_in6 *)&peer->local;
	if (peer->local.ss_family == AF_INET ||
	    (peer->local.ss_family == AF_INET6 && v4mapped(&l6->sin6_addr))) {
		struct in_pktinfo pi = { 0 };

		/*
		 * Only the source: with ipi_ifindex 0 the routing table
		 * still picks the way out, as for any other reply.
		 */
		if (peer->local.ss_family == AF_INET)
			pi.ipi_spec_dst =
				((const struct sockaddr_in *)&peer->local)
					->sin_addr;
		else
			memcpy(&pi.ipi_spec_dst, &l6->sin6_addr.s6_addr[12], 4);
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		msg.msg_controllen = CMSG_SPACE(sizeof(pi));
	} else if (peer->local.ss_family == AF_INET6) {
		struct in6_pktinfo pi = { 0 };

		/*
		 * A multicast destination is no source address: leave it to
		 * the kernel, out of the interface the datagram came in on.
		 * A link-local source needs its interface.
		 */
		if (IN6_IS_ADDR_MULTICAST(&l6->sin6_addr)) {
			pi.ipi6_ifindex = (unsigned int)peer->ifindex;
		} else {
			pi.ipi6_addr = l6->sin6_addr;
			if (IN6_IS_ADDR_LINKLOCAL(&l6->sin6_addr))
				pi.ipi6_ifindex = (unsigned int)peer->ifindex;
		}
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		msg.msg_controllen = CMSG_SPACE(sizeof(pi));
	} else {
		/* not filled by sksteer_udp_recv() */
		return -EINVAL;
	}
	n = sendmsg(fd, &msg, flags);
	return n < 0 ? -errno : n;
}
