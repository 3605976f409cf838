// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sksteer demo: the motivating scenario on the loopback addresses, with
 * no setup and no privilege. Four sockets share 0.0.0.0:PORT, one per
 * "line"; connections and datagrams to 127.0.0.N must land on line N's
 * socket. The table is built from what each socket really accepted or
 * received, never from what the rules say. Then TCP Fast Open: the first
 * byte of the data in the SYN picks the socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>

#include "main.h"

#define NLINES 4
/* everything together stays within a few seconds */
#define BUDGET_MS  6000
#define TFO_SYSCTL "/proc/sys/net/ipv4/tcp_fastopen"
/* net.ipv4.tcp_fastopen bits: client (TFO_CLIENT_ENABLE) and server
 * (TFO_SERVER_ENABLE) */
#define TFO_NEEDED 0x3

enum { OPT_PORT = 256, OPT_COUNT, OPT_NO_FASTOPEN };

static int do_demo(int argc, char **argv);

static void help(FILE *out)
{
	fprintf(out,
		"Usage: %s demo [OPTIONS]\n"
		"The motivating scenario, in the current network namespace, with\n"
		"no setup and no privilege: four sockets on 0.0.0.0:PORT in pools\n"
		"line1..line4 with the rules \"to 127.0.0.N pool lineN\", for TCP\n"
		"and UDP. Connections and datagrams are sent to 127.0.0.1..4 and\n"
		"the table shows which socket really received each. Then TCP Fast\n"
		"Open: the first byte of the SYN's data, modulo 4, picks one of\n"
		"four sockets (needs net.ipv4.tcp_fastopen bits 1 and 2; as root\n"
		"the demo sets them for its duration, otherwise this part is\n"
		"skipped).\n"
		"\n"
		"Options:\n"
		"      --port N        the port (default: a free one)\n"
		"      --count N       connections and datagrams to each address\n"
		"                      (1-20, default 3)\n"
		"      --no-fastopen   skip the TCP Fast Open part\n",
		BIN_NAME);
	print_common_opts(out);
	fprintf(out, "\nExit status: 0 when everything landed on the socket "
		     "its rule picks,\n1 otherwise.\n");
}

const struct cmd cmd_demo = {
	.name = "demo",
	.func = do_demo,
	.help = help,
	.summary = "steer connections to 127.0.0.1-4 to four sockets (no "
		   "setup, no privilege)",
};

/* ---- time ---- */

static struct timespec t_start;

static int elapsed_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int)((now.tv_sec - t_start.tv_sec) * 1000 +
		     (now.tv_nsec - t_start.tv_nsec) / 1000000);
}

/* How long a wait may take: at most @max ms, and never past the budget. */
static int wait_ms(int max)
{
	int left = BUDGET_MS - elapsed_ms();

	if (left < 0)
		return 0;
	return left < max ? left : max;
}

/* ---- one result row ---- */

struct row {
	int target; /* 0..3: 127.0.0.(target+1), or the expected socket */
	int socket; /* which socket got it, -1: nothing arrived */
	char local[INET_ADDRSTRLEN];
	/* Fast Open */
	char data[16];
	bool syn_data; /* the SYN carried the data (TCPI_OPT_SYN_DATA) */
	bool ok;
	char why[96]; /* when not ok */
};

struct part {
	const char *name; /* "tcp", "udp", "fastopen" */
	char listen[64];
	size_t insns;
	struct row *rows;
	int nrows;
	int bad;
	bool ran;
	char skipped[512];
	bool sysctl_set; /* net.ipv4.tcp_fastopen was changed for the demo */
	int sysctl_old;
};

/* ---- the groups ---- */

/*
 * A group for the demo configuration @text on @port. When the port was
 * not the user's choice and is taken (the UDP or Fast Open group reusing
 * the TCP group's number), any free port will do.
 */
/* One attempt: the group, or NULL with *@err and the library's *@why. */
static struct sksteer_group *try_group(struct sksteer_config **cfgp,
				       const char *text, unsigned int port,
				       size_t *insns, int *err, char **why)
{
	SKSTEER_OPTS(sksteer_group_opts, gopts,
		     .backend = SKSTEER_BACKEND_CBPF);
	SKSTEER_OPTS(sksteer_parse_opts, popts, .port_override = (uint16_t)port,
		     .has_port_override = true);
	struct sksteer_service *svc;
	struct sksteer_group *grp;
	struct sksteer_prog *prog;

	*why = NULL;
	*cfgp = sksteer_config__parse_string(text, strlen(text), "demo",
					     &popts);
	if (!*cfgp) {
		*err = errno;
		*why = strdup("internal error: the demo configuration does "
			      "not parse");
		return NULL;
	}
	svc = sksteer_config__service(*cfgp, 0);
	prog = sksteer_service__compile(svc, NULL);
	if (prog) {
		*insns = sksteer_prog__insn_cnt(prog);
		sksteer_prog__free(prog);
	}
	msgs_capture_begin();
	grp = sksteer_group__create(svc, &gopts);
	*err = errno;
	*why = msgs_capture_end();
	if (!grp) {
		sksteer_config__free(*cfgp);
		*cfgp = NULL;
	}
	return grp;
}

/*
 * A group for the demo configuration @text on @port. When the port was
 * not the user's choice and is taken (the UDP or Fast Open group reusing
 * the TCP group's number), any free port will do.
 */
static struct sksteer_group *make_group(struct sksteer_config **cfgp,
					const char *text, unsigned int port,
					bool fixed, size_t *insns)
{
	struct sksteer_group *grp;
	char *why;
	int err;

	grp = try_group(cfgp, text, port, insns, &err, &why);
	if (!grp && err == EADDRINUSE && port && !fixed) {
		free(why);
		grp = try_group(cfgp, text, 0, insns, &err, &why);
	}
	if (!grp && err == EADDRINUSE && fixed)
		p_err("demo: port %u is in use: choose another with --port, or "
		      "leave it out to use a free one",
		      port);
	else if (!grp)
		p_err("demo: creating a group: %s%s%s%s", strerror(err),
		      why ? " (" : "", why ? why : "", why ? ")" : "");
	free(why);
	return grp;
}

static void free_group(struct sksteer_group *grp, struct sksteer_config *cfg)
{
	sksteer_group__free(grp);
	sksteer_config__free(cfg);
}

/* The group's fds, socket i of pool @pools[i] (or of one pool). */
static int group_fds(const struct sksteer_group *grp, const char *pool,
		     int *fds)
{
	char name[16];
	int i;

	for (i = 0; i < NLINES; i++) {
		snprintf(name, sizeof(name), "line%d", i + 1);
		fds[i] = sksteer_group__fd(grp, pool ? pool : name,
					   pool ? (unsigned int)i : 0);
		if (fds[i] < 0) {
			p_err("demo: the group has no socket %d: %s", i,
			      strerror(-fds[i]));
			return -1;
		}
		/* never block on a socket that got nothing */
		if (fcntl(fds[i], F_SETFL,
			  fcntl(fds[i], F_GETFL) | O_NONBLOCK) < 0) {
			p_err("demo: fcntl: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void sin_loop(struct sockaddr_in *sin, int n, unsigned int port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)n);
}

/* An abortive close: no TIME_WAIT keeps the port busy after the demo. */
static void close_rst(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static bool wait_fd(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, wait_ms(ms)) == 1 && (p.revents & events);
}

/*
 * Wait for the connection whose client end is @cli on one of the
 * listeners; returns the accepted fd and which listener, or -1.
 * Connections of anyone else (the port is shared with the world) are
 * closed and ignored.
 */
static int accept_from(const int *lfds, const struct sockaddr_in *cli,
		       int *which)
{
	struct pollfd p[NLINES];
	int i, deadline = elapsed_ms() + 1000;

	for (i = 0; i < NLINES; i++) {
		p[i].fd = lfds[i];
		p[i].events = POLLIN;
	}
	while (elapsed_ms() < deadline) {
		if (poll(p, NLINES, wait_ms(deadline - elapsed_ms())) <= 0)
			return -1;
		for (i = 0; i < NLINES; i++) {
			struct sockaddr_in peer;
			socklen_t len = sizeof(peer);
			int fd;

			if (!(p[i].revents & POLLIN))
				continue;
			fd = accept4(lfds[i], (struct sockaddr *)&peer, &len,
				     SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			if (peer.sin_addr.s_addr == cli->sin_addr.s_addr &&
			    peer.sin_port == cli->sin_port) {
				*which = i;
				return fd;
			}
			close_rst(fd);
		}
	}
	return -1;
}

static void local_of(int fd, char *buf, size_t size)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(fd, (struct sockaddr *)&sin, &len))
		snprintf(buf, size, "?");
	else
		fmt_addr(AF_INET, &sin.sin_addr, buf, size);
}

static void judge(struct part *pt, struct row *r)
{
	char want[INET_ADDRSTRLEN];
	struct sockaddr_in sin;

	sin_loop(&sin, r->target + 1, 0);
	fmt_addr(AF_INET, &sin.sin_addr, want, sizeof(want));
	if (r->socket < 0)
		snprintf(r->why, sizeof(r->why), "nothing arrived");
	else if (r->socket != r->target)
		snprintf(r->why, sizeof(r->why), "WRONG socket");
	else if (strcmp(r->local, want))
		snprintf(r->why, sizeof(r->why), "local address is not %s",
			 want);
	r->ok = !r->why[0];
	if (!r->ok)
		pt->bad++;
}

static void tcp_one(struct part *pt, const int *lfds, unsigned int port,
		    struct row *r)
{
	struct sockaddr_in dst, cli;
	socklen_t len = sizeof(cli);
	int fd, afd, err = 0;

	r->socket = -1;
	sin_loop(&dst, r->target + 1, port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto out;
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) &&
	    errno != EINPROGRESS)
		goto out_close;
	if (!wait_fd(fd, POLLOUT, 1000))
		goto out_close;
	len = sizeof(err);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	len = sizeof(cli);
	if (err || getsockname(fd, (struct sockaddr *)&cli, &len))
		goto out_close;
	afd = accept_from(lfds, &cli, &r->socket);
	if (afd >= 0) {
		local_of(afd, r->local, sizeof(r->local));
		close_rst(afd);
	}
out_close:
	close_rst(fd);
out:
	judge(pt, r);
}

/* The datagram's destination address, from IP_PKTINFO. */
static bool udp_recv(int fd, char *data, size_t size, char *local, size_t lsize)
{
	char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct iovec iov = { .iov_base = data, .iov_len = size - 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	ssize_t n;

	n = recvmsg(fd, &msg, MSG_DONTWAIT);
	if (n < 0)
		return false;
	data[n] = '\0';
	snprintf(local, lsize, "?");
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			fmt_addr(AF_INET, &pi.ipi_addr, local, lsize);
		}
	}
	return true;
}

static void udp_one(struct part *pt, int cfd, const int *fds, unsigned int port,
		    int seq, struct row *r)
{
	struct pollfd p[NLINES];
	struct sockaddr_in dst;
	char want[32], got[64], local[INET_ADDRSTRLEN];
	int i, deadline = elapsed_ms() + 1000;

	r->socket = -1;
	sin_loop(&dst, r->target + 1, port);
	/* a tag, so that a datagram of someone else is not counted */
	snprintf(want, sizeof(want), "sksteer demo %d.%d", getpid(), seq);
	if (sendto(cfd, want, strlen(want), 0, (struct sockaddr *)&dst,
		   sizeof(dst)) < 0)
		goto out;
	for (i = 0; i < NLINES; i++) {
		p[i].fd = fds[i];
		p[i].events = POLLIN;
	}
	while (r->socket < 0 && elapsed_ms() < deadline) {
		if (poll(p, NLINES, wait_ms(deadline - elapsed_ms())) <= 0)
			break;
		for (i = 0; i < NLINES; i++) {
			if (!(p[i].revents & POLLIN))
				continue;
			while (udp_recv(fds[i], got, sizeof(got), local,
					sizeof(local))) {
				if (strcmp(got, want))
					continue;
				r->socket = i;
				snprintf(r->local, sizeof(r->local), "%s",
					 local);
			}
		}
	}
out:
	judge(pt, r);
}

static const char *lines_config(const char *name, const char *proto)
{
	static char text[1024];

	snprintf(text, sizeof(text),
		 "service %s {\n"
		 "	listen %s 0.0.0.0:0\n"
		 "	backend cbpf\n"
		 "	pool line1 1\n"
		 "	pool line2 1\n"
		 "	pool line3 1\n"
		 "	pool line4 1\n"
		 "	rule to 127.0.0.1 pool line1\n"
		 "	rule to 127.0.0.2 pool line2\n"
		 "	rule to 127.0.0.3 pool line3\n"
		 "	rule to 127.0.0.4 pool line4\n"
		 "	default hash\n"
		 "}\n",
		 name, proto);
	return text;
}

/* TCP and UDP on line1..line4; *@port is the port used. */
static int run_lines(struct part *pt, bool udp, unsigned int *port, bool fixed,
		     int count)
{
	struct sksteer_config *cfg = NULL;
	struct sksteer_group *grp;
	int fds[NLINES], i, k, cfd = -1, one = 1;

	grp = make_group(&cfg,
			 lines_config(udp ? "demo-udp" : "demo-tcp",
				      udp ? "udp" : "tcp"),
			 *port, fixed, &pt->insns);
	if (!grp)
		return -1;
	*port = (unsigned int)sksteer_group__port(grp);
	snprintf(pt->listen, sizeof(pt->listen), "0.0.0.0:%u", *port);
	if (group_fds(grp, NULL, fds))
		goto err_free_group;
	if (udp) {
		for (i = 0; i < NLINES; i++)
			if (setsockopt(fds[i], IPPROTO_IP, IP_PKTINFO, &one,
				       sizeof(one))) {
				p_err("demo: IP_PKTINFO: %s", strerror(errno));
				goto err_free_group;
			}
		cfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (cfd < 0) {
			p_err("demo: socket: %s", strerror(errno));
			goto err_free_group;
		}
	}
	pt->rows = calloc((size_t)count * NLINES, sizeof(*pt->rows));
	if (!pt->rows) {
		p_err("out of memory");
		goto err_close_client;
	}
	pt->ran = true;
	for (k = 0; k < count; k++) {
		for (i = 0; i < NLINES; i++) {
			struct row *r = &pt->rows[pt->nrows++];

			r->target = i;
			if (udp)
				udp_one(pt, cfd, fds, *port, pt->nrows, r);
			else
				tcp_one(pt, fds, *port, r);
		}
	}
	if (cfd >= 0)
		close(cfd);
	free_group(grp, cfg);
	return 0;

err_close_client:
	if (cfd >= 0)
		close(cfd);
err_free_group:
	free_group(grp, cfg);
	return -1;
}

/* ---- TCP Fast Open ---- */

/*
 * The sysctl is changed for the host (or the current network namespace),
 * so it is put back on every way out: normal return, error, and the
 * signals that end the process. The handler may only use async-signal-
 * safe calls, hence the preformatted value.
 */
static volatile sig_atomic_t tfo_restore_pending;
static char tfo_old_text[16];
static size_t tfo_old_len;
static struct sigaction old_sa[3];
static const int tfo_signals[3] = { SIGINT, SIGTERM, SIGHUP };

static void tfo_write_old(void)
{
	int fd;

	if (!tfo_restore_pending)
		return;
	fd = open(TFO_SYSCTL, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, tfo_old_text, tfo_old_len) < 0) {
			/* nothing more can be done from here */
		}
		close(fd);
	}
	tfo_restore_pending = 0;
}

static void tfo_signal(int sig)
{
	tfo_write_old();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int read_sysctl(int *val)
{
	char buf[32];
	FILE *f = fopen(TFO_SYSCTL, "re");
	int ok;

	if (!f)
		return -errno;
	ok = fgets(buf, sizeof(buf), f) && sscanf(buf, "%d", val) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

/* Make sure Fast Open works for client and server, or say why not. */
static bool tfo_enable(struct part *pt)
{
	struct sigaction sa;
	char buf[16];
	int val, fd, err, n;
	size_t i;

	err = read_sysctl(&val);
	if (err) {
		snprintf(pt->skipped, sizeof(pt->skipped), "cannot read %s: %s",
			 TFO_SYSCTL, strerror(-err));
		return false;
	}
	pt->sysctl_old = val;
	if ((val & TFO_NEEDED) == TFO_NEEDED)
		return true;
	fd = open(TFO_SYSCTL, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(pt->skipped, sizeof(pt->skipped),
			 "net.ipv4.tcp_fastopen is %d and Fast Open needs its "
			 "client (1) and server (2) bits, which this process "
			 "may not set (%s). To see it: sysctl -w "
			 "net.ipv4.tcp_fastopen=%d, or run the demo as root "
			 "(it sets them for the demo only)",
			 val, strerror(errno), val | TFO_NEEDED);
		return false;
	}
	tfo_old_len = (size_t)snprintf(tfo_old_text, sizeof(tfo_old_text),
				       "%d\n", val);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tfo_signal;
	sigemptyset(&sa.sa_mask);
	/* armed before the write, so that no signal can leave it set */
	tfo_restore_pending = 1;
	for (i = 0; i < ARRAY_SIZE(tfo_signals); i++) {
		sigaction(tfo_signals[i], &sa, &old_sa[i]);
		/* a signal ignored on entry (nohup, a background job) stays
		 * ignored: it cannot end the demo early */
		if (old_sa[i].sa_handler == SIG_IGN)
			sigaction(tfo_signals[i], &old_sa[i], NULL);
	}
	n = snprintf(buf, sizeof(buf), "%d\n", val | TFO_NEEDED);
	if (write(fd, buf, (size_t)n) != n) {
		err = errno;
		close(fd);
		snprintf(pt->skipped, sizeof(pt->skipped),
			 "cannot set net.ipv4.tcp_fastopen to %d: %s",
			 val | TFO_NEEDED, strerror(err));
		tfo_restore_pending = 0;
		for (i = 0; i < ARRAY_SIZE(tfo_signals); i++)
			sigaction(tfo_signals[i], &old_sa[i], NULL);
		return false;
	}
	close(fd);
	pt->sysctl_set = true;
	return true;
}

static void tfo_restore(struct part *pt)
{
	size_t i;

	if (!pt->sysctl_set)
		return;
	tfo_write_old();
	for (i = 0; i < ARRAY_SIZE(tfo_signals); i++)
		sigaction(tfo_signals[i], &old_sa[i], NULL);
}

static bool syn_data_acked(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return false;
	return ti.tcpi_options & TCPI_OPT_SYN_DATA;
}

static void tfo_one(struct part *pt, const int *lfds, unsigned int port,
		    struct row *r)
{
	struct sockaddr_in dst, cli;
	socklen_t len;
	bool sent_in_syn = false, srv_syn_data = false;
	int fd, afd = -1, err = 0, one = 1;
	char got[16];
	ssize_t n;

	r->socket = -1;
	sin_loop(&dst, 1, port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto out;
	/* loopback has no cookie to offer yet: ask for none */
	setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, &one, sizeof(one));
	n = sendto(fd, r->data, strlen(r->data), MSG_FASTOPEN,
		   (struct sockaddr *)&dst, sizeof(dst));
	if (n < 0 && errno != EINPROGRESS)
		goto out_close;
	if (!wait_fd(fd, POLLOUT, 1000))
		goto out_close;
	len = sizeof(err);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	len = sizeof(cli);
	if (err || getsockname(fd, (struct sockaddr *)&cli, &len))
		goto out_close;
	/* without Fast Open the data still goes, after the handshake */
	if (n < 0 && send(fd, r->data, strlen(r->data), MSG_NOSIGNAL) < 0)
		goto out_close;
	sent_in_syn = syn_data_acked(fd);
	afd = accept_from(lfds, &cli, &r->socket);
	if (afd < 0)
		goto out_close;
	srv_syn_data = syn_data_acked(afd);
	if (wait_fd(afd, POLLIN, 1000)) {
		n = recv(afd, got, sizeof(got) - 1, MSG_DONTWAIT);
		if (n <= 0 || (size_t)n != strlen(r->data) ||
		    memcmp(got, r->data, (size_t)n))
			snprintf(r->why, sizeof(r->why),
				 "the socket read other data");
	}
	close_rst(afd);
out_close:
	close_rst(fd);
out:
	/* both ends must say so: the client that its SYN's data was
	 * acknowledged, the server that the data came with the SYN */
	r->syn_data = sent_in_syn && srv_syn_data;
	if (r->why[0])
		;
	else if (r->socket < 0)
		snprintf(r->why, sizeof(r->why), "nothing arrived");
	else if (r->syn_data && r->socket != r->target)
		snprintf(r->why, sizeof(r->why), "WRONG socket");
	r->ok = !r->why[0];
	if (!r->ok)
		pt->bad++;
}

static const char tfo_config[] = "service demo-fastopen {\n"
				 "	listen tcp 0.0.0.0:0\n"
				 "	backend cbpf\n"
				 "	pool worker 4 { fastopen 16; }\n"
				 "	rule pool worker by payload 0\n"
				 "	default hash\n"
				 "}\n";

static int run_fastopen(struct part *pt, unsigned int port, bool fixed,
			int count)
{
	struct sksteer_config *cfg = NULL;
	struct sksteer_group *grp;
	int fds[NLINES], i, k, one = 1, ret = -1;

	if (!tfo_enable(pt))
		return 0;
	grp = make_group(&cfg, tfo_config, port, fixed, &pt->insns);
	if (!grp)
		goto out_restore;
	snprintf(pt->listen, sizeof(pt->listen), "0.0.0.0:%d",
		 sksteer_group__port(grp));
	if (group_fds(grp, "worker", fds))
		goto out_free_group;
	for (i = 0; i < NLINES; i++)
		setsockopt(fds[i], IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, &one,
			   sizeof(one));
	pt->rows = calloc((size_t)count * NLINES, sizeof(*pt->rows));
	if (!pt->rows) {
		p_err("out of memory");
		goto out_free_group;
	}
	pt->ran = true;
	for (k = 0; k < count; k++) {
		for (i = 0; i < NLINES; i++) {
			struct row *r = &pt->rows[pt->nrows++];
			/* digits 0-9: the modulo shows from the fifth on */
			char first = (char)('0' + (k * NLINES + i) % 10);

			snprintf(r->data, sizeof(r->data), "%c hello", first);
			r->target = (unsigned char)first % NLINES;
			tfo_one(pt, fds, (unsigned int)sksteer_group__port(grp),
				r);
		}
	}
	ret = 0;
out_free_group:
	free_group(grp, cfg);
out_restore:
	tfo_restore(pt);
	return ret;
}

/* ---- output ---- */

static void print_lines_text(const struct part *pt, bool udp)
{
	char head[80];
	int i;

	snprintf(head, sizeof(head), "%s %s", udp ? "UDP" : "TCP", pt->listen);
	printf("%-20s %-15s %-18s %-7s %s\n", head,
	       udp ? "datagram to" : "connection to", "landed on socket",
	       "pool", "local address");
	for (i = 0; i < pt->nrows; i++) {
		const struct row *r = &pt->rows[i];
		char to[32], sock[16], pool[16];

		snprintf(to, sizeof(to), "127.0.0.%d", r->target + 1);
		if (r->socket >= 0) {
			snprintf(sock, sizeof(sock), "%d", r->socket);
			snprintf(pool, sizeof(pool), "line%d", r->socket + 1);
		} else {
			snprintf(sock, sizeof(sock), "-");
			snprintf(pool, sizeof(pool), "-");
		}
		printf("%-20s %-15s %-18s %-7s %-13s  %s\n", "", to, sock, pool,
		       r->socket >= 0 ? r->local : "-", r->ok ? "ok" : r->why);
	}
}

/* Long reasons, folded at word boundaries for a terminal. */
static void print_wrapped(const char *head, const char *text)
{
	size_t col = strlen(head), w;
	const char *p = text;

	fputs(head, stdout);
	while (*p) {
		w = strcspn(p, " ");
		if (col > 0 && col + 1 + w > 78) {
			fputc('\n', stdout);
			col = 0;
		} else if (p != text) {
			fputc(' ', stdout);
			col++;
		}
		fwrite(p, 1, w, stdout);
		col += w;
		p += w;
		while (*p == ' ')
			p++;
	}
	fputc('\n', stdout);
}

static void print_tfo_text(const struct part *pt)
{
	int i;

	if (!pt->ran) {
		print_wrapped("TCP Fast Open: skipped: ", pt->skipped);
		return;
	}
	printf("TCP Fast Open %s: one pool of 4 sockets and the rule \"pool "
	       "worker by\npayload 0\": the first byte of the data in the SYN, "
	       "modulo 4, picks the socket.\n",
	       pt->listen);
	if (pt->sysctl_set)
		printf("(net.ipv4.tcp_fastopen was %d: set to %d for the demo "
		       "and put back)\n",
		       pt->sysctl_old, pt->sysctl_old | TFO_NEEDED);
	printf("%-20s %-11s %-16s %-18s %s\n", "", "SYN data", "first byte",
	       "landed on socket", "data in the SYN");
	for (i = 0; i < pt->nrows; i++) {
		const struct row *r = &pt->rows[i];
		char data[24], first[32], sock[16];

		snprintf(data, sizeof(data), "\"%s\"", r->data);
		snprintf(first, sizeof(first), "0x%02x mod 4 = %d",
			 (unsigned char)r->data[0], r->target);
		if (r->socket >= 0)
			snprintf(sock, sizeof(sock), "%d", r->socket);
		else
			snprintf(sock, sizeof(sock), "-");
		printf("%-20s %-11s %-16s %-18s %-15s  %s\n", "", data, first,
		       sock, r->syn_data ? "yes" : "no",
		       !r->ok	   ? r->why :
		       r->syn_data ? "ok" :
				     "not Fast Open: the kernel's hash "
				     "decided");
	}
}

/*
 * Only a connection whose data came in the SYN shows payload steering:
 * without it the SYN has no payload and the kernel's hash placed it.
 * That happens when the sysctl changes under the demo (another demo
 * restoring it, an administrator), so the verdict counts these apart.
 */
static int syn_data_rows(const struct part *pt)
{
	int i, n = 0;

	for (i = 0; i < pt->nrows; i++)
		n += pt->rows[i].syn_data;
	return n;
}

static void print_part_json(const struct part *pt, bool tfo)
{
	int i;

	jw_name(json_wtr, pt->name);
	jw_start_object(json_wtr);
	jw_bool_field(json_wtr, "ran", pt->ran);
	if (!pt->ran)
		jw_string_field(json_wtr, "skipped", pt->skipped);
	else
		jw_null_field(json_wtr, "skipped");
	jw_string_field(json_wtr, "listen", pt->ran ? pt->listen : NULL);
	jw_uint_field(json_wtr, "insns", pt->insns);
	if (tfo) {
		jw_bool_field(json_wtr, "sysctl_changed", pt->sysctl_set);
		jw_int_field(json_wtr, "sysctl_value", pt->sysctl_old);
		jw_int_field(json_wtr, "syn_data_rows", syn_data_rows(pt));
	}
	jw_name(json_wtr, "results");
	jw_start_array(json_wtr);
	for (i = 0; i < pt->nrows; i++) {
		const struct row *r = &pt->rows[i];

		jw_start_object(json_wtr);
		if (tfo) {
			jw_string_field(json_wtr, "data", r->data);
			jw_uint_field(json_wtr, "first_byte",
				      (unsigned char)r->data[0]);
			jw_int_field(json_wtr, "expected_socket", r->target);
			jw_bool_field(json_wtr, "syn_data", r->syn_data);
		} else {
			jw_name(json_wtr, "to");
			jw_stringf(json_wtr, "127.0.0.%d", r->target + 1);
			jw_name(json_wtr, "expected_pool");
			jw_stringf(json_wtr, "line%d", r->target + 1);
		}
		if (r->socket >= 0) {
			jw_int_field(json_wtr, "socket", r->socket);
			if (!tfo) {
				jw_name(json_wtr, "pool");
				jw_stringf(json_wtr, "line%d", r->socket + 1);
				jw_string_field(json_wtr, "local", r->local);
			}
		} else {
			jw_null_field(json_wtr, "socket");
			if (!tfo) {
				jw_null_field(json_wtr, "pool");
				jw_null_field(json_wtr, "local");
			}
		}
		jw_bool_field(json_wtr, "ok", r->ok);
		jw_end_object(json_wtr);
	}
	jw_end_array(json_wtr);
	jw_end_object(json_wtr);
}

static int do_demo(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, OPT_PORT },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "no-fastopen", no_argument, NULL, OPT_NO_FASTOPEN },
		COMMON_LONGOPTS,
		{ 0 },
	};
	struct part tcp = { .name = "tcp" }, udp = { .name = "udp" };
	struct part tfo = { .name = "fastopen" };
	unsigned long port = 0, count = 3;
	bool fastopen = true;
	unsigned int tcp_port, udp_port;
	int c, ret, bad;

	cmd_opts_reset();
	while ((c = getopt_long(argc, argv, ":" COMMON_SHORTOPTS, opts,
				NULL)) != -1) {
		switch (c) {
		case OPT_PORT:
			if (!parse_ulong(optarg, 1, 65535, &port))
				return usage_err(&cmd_demo,
						 "demo: --port '%s': expected "
						 "1-65535",
						 optarg);
			break;
		case OPT_COUNT:
			if (!parse_ulong(optarg, 1, 20, &count))
				return usage_err(&cmd_demo,
						 "demo: --count '%s': expected "
						 "1-20",
						 optarg);
			break;
		case OPT_NO_FASTOPEN:
			fastopen = false;
			break;
		default:
			if (common_opt(c, argv, &cmd_demo, &ret))
				return ret;
		}
	}
	if (optind < argc)
		return usage_err(&cmd_demo, "demo: unexpected argument '%s'",
				 argv[optind]);
	clock_gettime(CLOCK_MONOTONIC, &t_start);

	ret = 1;
	tcp_port = (unsigned int)port;
	if (run_lines(&tcp, false, &tcp_port, port != 0, (int)count))
		goto out;
	/* the same port number for UDP: the table reads better */
	udp_port = tcp_port;
	if (run_lines(&udp, true, &udp_port, port != 0, (int)count))
		goto out;
	if (!fastopen)
		snprintf(tfo.skipped, sizeof(tfo.skipped), "--no-fastopen");
	/* the TCP group is gone and left no TIME_WAIT: same port again */
	else if (run_fastopen(&tfo, tcp_port, port != 0, (int)count))
		goto out;
	bad = tcp.bad + udp.bad + tfo.bad;

	if (json_output) {
		jw_start_object(json_wtr);
		jw_uint_field(json_wtr, "port", tcp_port);
		jw_string_field(json_wtr, "backend", "cbpf");
		print_part_json(&tcp, false);
		print_part_json(&udp, false);
		print_part_json(&tfo, true);
		jw_bool_field(json_wtr, "ok", !bad);
		jw_end_object(json_wtr);
		json_report = true;
	} else {
		printf("Four sockets share one SO_REUSEPORT group on port %u, "
		       "one per line (pools\nline1..line4); the rules "
		       "\"to 127.0.0.N pool lineN\" steer with classic BPF (%zu\n"
		       "instructions), with no privilege.\n\n",
		       tcp_port, tcp.insns);
		print_lines_text(&tcp, false);
		printf("\n");
		print_lines_text(&udp, true);
		printf("\n");
		print_tfo_text(&tfo);
		printf("\n");
		if (!bad && tfo.ran && syn_data_rows(&tfo) == tfo.nrows)
			printf("verdict: OK: each of %d TCP connections, %d UDP "
			       "datagrams and %d Fast Open\nconnections landed "
			       "on the socket its rule picks\n",
			       tcp.nrows, udp.nrows, tfo.nrows);
		else if (!bad && tfo.ran)
			printf("verdict: OK: each of %d TCP connections, %d UDP "
			       "datagrams and %d Fast Open\nconnections landed "
			       "on the socket its rule picks; %d of the %d Fast "
			       "Open\nconnections sent their data after the "
			       "handshake and show nothing\n",
			       tcp.nrows, udp.nrows, syn_data_rows(&tfo),
			       tfo.nrows - syn_data_rows(&tfo), tfo.nrows);
		else if (!bad)
			printf("verdict: OK: each of %d TCP connections and %d "
			       "UDP datagrams landed on the\nsocket its rule "
			       "picks\n",
			       tcp.nrows, udp.nrows);
		else
			printf("verdict: FAILED: %d of %d landed elsewhere or "
			       "not at all\n",
			       bad, tcp.nrows + udp.nrows + tfo.nrows);
	}
	if (bad)
		p_err("demo: %d connection%s or datagram%s did not land on "
		      "the socket the rules pick",
		      bad, bad == 1 ? "" : "s", bad == 1 ? "" : "s");
	ret = bad ? 1 : 0;
out:
	free(tcp.rows);
	free(udp.rows);
	free(tfo.rows);
	return ret;
}
