// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Who else is in our reuseport group: sock_diag (inet_diag) lists the
 * sockets of the caller's network namespace, without privilege, as ss(8)
 * does.
 *
 * Why it matters: the kernel adds a socket to the group of any listener
 * (TCP) or bound socket (UDP) with the same family, address, port, v6only,
 * device and owner uid (inet_reuseport_add_sock, udp_reuseport_add_sock),
 * whichever process owns it. A program attached through any member steers
 * the whole group, and detaching it leaves the whole group on the plain
 * hash: a second process binding a running service's port would take over
 * its steering, receive its clients, and un-steer it on exit.
 */
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "group.h"

#define DIAG_BUF 32768

struct diag_req {
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 r;
	struct nlattr bc;
	struct inet_diag_bc_op op[2];
};

static bool own_ino(const struct sk_diag_peers *q, uint32_t ino)
{
	size_t i;

	for (i = 0; i < q->nown; i++)
		if (q->own[i] == ino)
			return true;
	return false;
}

/* v6only is an attribute, sent for every AF_INET6 socket */
static int msg_v6only(const struct nlmsghdr *h, const struct inet_diag_msg *m)
{
	const struct nlattr *a = (const void *)(m + 1);
	int len = (int)h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));

	while (len >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) &&
	       a->nla_len <= len) {
		if (a->nla_type == INET_DIAG_SKV6ONLY &&
		    a->nla_len >= NLA_HDRLEN + 1)
			return *((const uint8_t *)a + NLA_HDRLEN);
		len -= NLA_ALIGN(a->nla_len);
		a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len));
	}
	return -1;
}

static bool same_group(const struct sk_diag_peers *q, const struct nlmsghdr *h,
		       const struct inet_diag_msg *m)
{
	if (ntohs(m->id.idiag_sport) != q->port || m->id.idiag_if != q->ifindex)
		return false;
	if (q->family == AF_INET)
		return !memcmp(m->id.idiag_src, &q->addr, 4);
	return !memcmp(m->id.idiag_src, &q->addr, 16) &&
	       msg_v6only(h, m) == q->v6only;
}

/* One reply datagram: 1 when the dump is complete. */
static int read_batch(struct sk_diag_peers *q, const char *buf, ssize_t n)
{
	const struct nlmsghdr *h = (const void *)buf;

	for (; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
		const struct inet_diag_msg *m = NLMSG_DATA(h);

		if (h->nlmsg_type == NLMSG_DONE)
			return 1;
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);

			return e->error ? e->error : -EPROTO;
		}
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
		    h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
		    !same_group(q, h, m))
			continue;
		if (own_ino(q, m->idiag_inode)) {
			q->own_seen++;
		} else if (!q->foreign++) {
			q->ino = m->idiag_inode;
			q->uid = m->idiag_uid;
		}
	}
	return 0;
}

int sk_diag_peers(struct sk_diag_peers *q)
{
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	struct diag_req req = {
		.nlh = {
			.nlmsg_len = sizeof(req),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		},
		.r = {
			.sdiag_family = (uint8_t)q->family,
			.sdiag_protocol = (uint8_t)q->proto,
			/* only TCP listeners are in reuseport groups; a
			 * UDP socket is in one bound or connected */
			.idiag_states = q->proto == IPPROTO_TCP ?
						1u << TCP_LISTEN :
						~0u,
		},
		.bc = {
			.nla_len = NLA_HDRLEN + sizeof(req.op),
			.nla_type = INET_DIAG_REQ_BYTECODE,
		},
		/* "local port == q->port": the kernel filters, so that a
		 * host with many sockets sends only the few that matter */
		.op = {
			{ .code = INET_DIAG_BC_S_EQ,
			  .yes = sizeof(req.op),
			  .no = sizeof(req.op) + 4 },
			{ .no = q->port },
		},
	};
	char *buf;
	int fd, err = 0;

	q->foreign = q->own_seen = 0;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	buf = malloc(DIAG_BUF);
	if (!buf) {
		err = -ENOMEM;
		goto out_close;
	}
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&nl,
		   sizeof(nl)) < 0) {
		err = -errno;
		goto out_free;
	}
	while (!err) {
		ssize_t n = recv(fd, buf, DIAG_BUF, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (n == 0) {
			err = -EPROTO;
			break;
		}
		err = read_batch(q, buf, n);
	}
	if (err > 0)
		err = 0;
out_free:
	free(buf);
out_close:
	close(fd);
	return err;
}
