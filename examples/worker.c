// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A socket-activated worker for `sksteer run` (or any systemd-style
 * supervisor): it serves every listening socket it inherits and tells
 * each client who answered, so that you (and the tests) can see which
 * pool and which socket got each connection or datagram.
 *
 *   sksteer run web.conf -- ./worker
 *
 *   TCP  each connection is greeted with
 *          hello SERVICE POOL INDEX PID LOCAL-ADDRESS
 *        and each line the client sends is answered with
 *          ok SERVICE POOL INDEX PID LINE
 *   UDP  each datagram is answered with the greeting; with the pool
 *        option "pktinfo on" the answer leaves from the address the
 *        datagram arrived on (sksteer_udp_recv / sksteer_udp_reply),
 *        otherwise from whatever source the routing table picks, and
 *        LOCAL-ADDRESS is "-".
 *
 * POOL and INDEX come from LISTEN_FDNAMES and SKSTEER_INDEX /
 * SKSTEER_INDEXES, which `sksteer run` sets; SERVICE from
 * SKSTEER_SERVICE.
 *
 * Options:
 *   --exit-after N  exit (status 0) after N answers: worker recycling,
 *                   the supervisor starts a fresh one
 *   --kill-after N  kill itself with SIGKILL right after N answers: a
 *                   crash, for testing supervisors
 *   --linger SEC    after SIGTERM, go on serving as usual for SEC seconds
 *                   before stopping (a server that drains slowly)
 *   -v, --verbose   say what it serves on stderr
 *
 * SIGTERM or SIGINT: stop taking new connections, answer the datagrams
 * already queued, finish the open connections (at most 10 s), exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sksteer.h>

#define MAX_LISTEN 1024
#define MAX_CONNS  256
#define GRACE_S	   10

struct listener {
	int fd;
	bool stream;
	bool pktinfo; /* UDP: the socket delivers packet info */
	const char *pool;
	const char *index;
};

struct conn {
	int fd;
	const struct listener *l;
	char buf[512];
	size_t len;
};

static struct listener ls[MAX_LISTEN];
static unsigned int nls;
static struct conn conns[MAX_CONNS];
static unsigned int nconns;
static const char *service = "-";
static unsigned long answers, exit_after, kill_after, linger;
static bool verbose;
static volatile sig_atomic_t stop_sig;

static void on_signal(int sig)
{
	stop_sig = sig;
}

/* "198.51.100.7", "2001:db8::1"; v4-mapped addresses as IPv4 */
static const char *fmt_addr(const struct sockaddr_storage *ss, char *buf,
			    size_t sz)
{
	const struct sockaddr_in6 *s6 = (const void *)ss;
	const struct sockaddr_in *s4 = (const void *)ss;

	if (ss->ss_family == AF_INET)
		return inet_ntop(AF_INET, &s4->sin_addr, buf, (socklen_t)sz);
	if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf,
				 (socklen_t)sz);
	if (ss->ss_family == AF_INET6)
		return inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)sz);
	return "-";
}

static int greeting(const struct listener *l, const char *local, char *buf,
		    size_t sz)
{
	return snprintf(buf, sz, "hello %s %s %s %d %s\n", service, l->pool,
			l->index, (int)getpid(), local);
}

/* After each answer: the options that end the worker. */
static void answered(void)
{
	answers++;
	if (kill_after && answers >= kill_after) {
		if (verbose)
			fprintf(stderr, "worker %d: crashing on purpose\n",
				(int)getpid());
		raise(SIGKILL);
	}
	if (exit_after && answers >= exit_after && !stop_sig)
		stop_sig = -1;
}

static void conn_close(unsigned int i)
{
	close(conns[i].fd);
	conns[i] = conns[--nconns];
}

static void do_accept(const struct listener *l)
{
	struct sockaddr_storage me;
	socklen_t len = sizeof(me);
	char local[INET6_ADDRSTRLEN], msg[256];
	int c, n;

	c = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (c < 0)
		return;
	if (nconns == MAX_CONNS) {
		close(c);
		return;
	}
	if (getsockname(c, (struct sockaddr *)&me, &len))
		strcpy(local, "-");
	else
		fmt_addr(&me, local, sizeof(local));
	n = greeting(l, local, msg, sizeof(msg));
	/* a fresh connection's send buffer takes a line */
	if (send(c, msg, (size_t)n, MSG_NOSIGNAL) != n) {
		close(c);
		return;
	}
	conns[nconns++] = (struct conn){ .fd = c, .l = l };
	answered();
}

/* Lines in, "ok ..." out; false when the connection is done. */
static bool conn_read(struct conn *c)
{
	ssize_t n =
		recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
	char *nl, out[700];

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	while ((nl = strchr(c->buf, '\n'))) {
		int m;

		*nl = '\0';
		m = snprintf(out, sizeof(out), "ok %s %s %s %d %s\n", service,
			     c->l->pool, c->l->index, (int)getpid(), c->buf);
		if (send(c->fd, out, (size_t)m, MSG_NOSIGNAL) != m)
			return false;
		c->len -= (size_t)(nl + 1 - c->buf);
		memmove(c->buf, nl + 1, c->len + 1);
		answered();
	}
	/* a line longer than the buffer: not this protocol */
	return c->len < sizeof(c->buf) - 1;
}

/* Answer the datagrams queued on @l; false when the socket failed. */
static bool udp_serve(const struct listener *l)
{
	char buf[2048], msg[256], local[INET6_ADDRSTRLEN];
	int k;

	for (k = 0; k < 64; k++) {
		struct sksteer_udp_peer peer;
		ssize_t n;
		int m;

		if (l->pktinfo) {
			n = sksteer_udp_recv(l->fd, buf, sizeof(buf),
					     MSG_DONTWAIT, &peer);
			if (n == -EAGAIN || n == -EINTR)
				return true;
			if (n < 0) {
				fprintf(stderr, "worker %d: %s: %s\n",
					(int)getpid(), l->pool, strerror(-n));
				return n != -EPROTO;
			}
			m = greeting(
				l, fmt_addr(&peer.local, local, sizeof(local)),
				msg, sizeof(msg));
			n = sksteer_udp_reply(l->fd, msg, (size_t)m, 0, &peer);
			if (n < 0)
				fprintf(stderr, "worker %d: reply: %s\n",
					(int)getpid(), strerror(-n));
		} else {
			struct sockaddr_storage from;
			socklen_t flen = sizeof(from);

			n = recvfrom(l->fd, buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &flen);
			if (n < 0)
				return errno == EAGAIN || errno == EINTR;
			m = greeting(l, "-", msg, sizeof(msg));
			sendto(l->fd, msg, (size_t)m, 0,
			       (struct sockaddr *)&from, flen);
		}
		answered();
	}
	return true;
}

static int getint(int fd, int level, int name)
{
	socklen_t len = sizeof(int);
	int v = 0;

	if (getsockopt(fd, level, name, &v, &len))
		return 0;
	return v;
}

/* Split "a:b:c" in place into at most @max fields. */
static unsigned int split(char *s, char **out, unsigned int max)
{
	unsigned int n = 0;

	while (s && n < max) {
		out[n++] = s;
		s = strchr(s, ':');
		if (s)
			*s++ = '\0';
	}
	return n;
}

/*
 * sd_listen_fds(3): the descriptors are ours only when LISTEN_PID is our
 * pid; the variables are removed so that our children do not take them.
 */
static int take_listen_fds(void)
{
	static char *names[MAX_LISTEN], *idx[MAX_LISTEN];
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char *fdnames = getenv("LISTEN_FDNAMES"), *indexes;
	unsigned int nnames = 0, nidx = 0, i;
	char *end;
	long n;

	if (!pid || !fds || strtol(pid, &end, 10) != getpid() || *end) {
		fprintf(stderr,
			"worker: not socket-activated (LISTEN_PID is %s, this "
			"process is %d); run it under 'sksteer run'\n",
			pid ? pid : "unset", (int)getpid());
		return -1;
	}
	n = strtol(fds, &end, 10);
	if (*end || n < 1 || n > MAX_LISTEN) {
		fprintf(stderr, "worker: LISTEN_FDS=%s: expected 1-%d\n", fds,
			MAX_LISTEN);
		return -1;
	}
	if (fdnames)
		nnames = split(strdup(fdnames), names, MAX_LISTEN);
	indexes = getenv("SKSTEER_INDEXES");
	if (!indexes)
		indexes = getenv("SKSTEER_INDEX");
	if (indexes)
		nidx = split(strdup(indexes), idx, MAX_LISTEN);
	if (getenv("SKSTEER_SERVICE"))
		service = strdup(getenv("SKSTEER_SERVICE"));
	for (i = 0; i < (unsigned int)n; i++) {
		struct listener *l = &ls[nls++];
		int fd = 3 + (int)i;

		l->fd = fd;
		l->pool = i < nnames ? names[i] : "-";
		l->index = i < nidx ? idx[i] : "-";
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) ||
		    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)) {
			fprintf(stderr, "worker: fd %d: %s\n", fd,
				strerror(errno));
			return -1;
		}
		l->stream = getint(fd, SOL_SOCKET, SO_TYPE) == SOCK_STREAM;
		if (!l->stream)
			l->pktinfo =
				getint(fd, IPPROTO_IP, IP_PKTINFO) ||
				(getint(fd, SOL_SOCKET, SO_DOMAIN) ==
					 AF_INET6 &&
				 getint(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO));
		if (verbose)
			fprintf(stderr,
				"worker %d: fd %d: %s, pool %s, index %s%s\n",
				(int)getpid(), fd, l->stream ? "tcp" : "udp",
				l->pool, l->index,
				l->pktinfo ? ", pktinfo" : "");
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: worker [--exit-after N] [--kill-after N] "
		     "[--linger SEC] [-v]\n"
		     "A socket-activated worker for 'sksteer run': greets "
		     "every client with\n"
		     "\"hello SERVICE POOL INDEX PID LOCAL-ADDRESS\".\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "exit-after", required_argument, NULL, 'e' },
		{ "kill-after", required_argument, NULL, 'k' },
		{ "linger", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct pollfd pfd[MAX_LISTEN + MAX_CONNS];
	struct sigaction sa = { .sa_handler = on_signal };
	time_t stop_at = 0, linger_until = 0;
	unsigned int i;
	int c;

	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			exit_after = strtoul(optarg, NULL, 10);
			break;
		case 'k':
			kill_after = strtoul(optarg, NULL, 10);
			break;
		case 'l':
			linger = strtoul(optarg, NULL, 10);
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* no SA_RESTART: poll() returns on the signal */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (take_listen_fds())
		return 1;

	for (;;) {
		unsigned int nl = 0, np = 0, nc;

		if (stop_sig && linger && !linger_until)
			linger_until = time(NULL) + (time_t)linger;
		if (stop_sig && !stop_at &&
		    (!linger_until || time(NULL) >= linger_until)) {
			/* what is queued for us still gets an answer */
			for (i = 0; i < nls; i++) {
				if (ls[i].fd < 0)
					continue;
				if (!ls[i].stream)
					udp_serve(&ls[i]);
				close(ls[i].fd);
				ls[i].fd = -1;
			}
			stop_at = time(NULL) + GRACE_S;
			if (verbose)
				fprintf(stderr,
					"worker %d: stopping, %u connections "
					"open\n",
					(int)getpid(), nconns);
		}
		if (stop_at && (!nconns || time(NULL) >= stop_at))
			return 0;
		for (i = 0; i < nls; i++) {
			if (ls[i].fd < 0)
				continue;
			pfd[np++] = (struct pollfd){ .fd = ls[i].fd,
						     .events = POLLIN };
			nl++;
		}
		for (i = 0; i < nconns; i++)
			pfd[np++] = (struct pollfd){ .fd = conns[i].fd,
						     .events = POLLIN };
		if (poll(pfd, np, stop_at || linger_until ? 100 : -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("worker: poll");
			return 1;
		}
		/* the connections polled: do_accept() appends new ones */
		nc = nconns;
		/* listeners, in pfd order */
		for (i = 0, np = 0; i < nls; i++) {
			struct pollfd *p;

			if (ls[i].fd < 0)
				continue;
			p = &pfd[np++];
			if (p->revents & (POLLERR | POLLHUP | POLLNVAL)) {
				/* the supervisor closed the socket (a reload
				 * that removed it): it gives nothing more */
				close(ls[i].fd);
				ls[i].fd = -1;
				continue;
			}
			if (!(p->revents & POLLIN))
				continue;
			if (ls[i].stream)
				do_accept(&ls[i]);
			else if (!udp_serve(&ls[i])) {
				close(ls[i].fd);
				ls[i].fd = -1;
			}
		}
		/* backwards: conn_close() moves the last connection into
		 * the hole, one already handled or not polled yet */
		for (i = nc; i-- > 0;) {
			if (!pfd[nl + i].revents)
				continue;
			if (!conn_read(&conns[i]))
				conn_close(i);
		}
	}
}
