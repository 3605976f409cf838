// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The control socket of `sksteer run` (SOCK_SEQPACKET: one request, one
 * reply, each a single message). The supervisor is one thread that also
 * forwards signals and restarts workers, so a client must never stall
 * it: every connection is non-blocking, gets CTL_DEADLINE_MS to send its
 * request and as long to take the reply, and is closed after that; idle
 * ones are served side by side, and the oldest idle one gives way when
 * CTL_CONNS_MAX are open.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "run_ctl.h"

/* one request is a word ("reload"); longer messages are cut */
#define CTL_REQ_MAX 64

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ctl_init(struct ctl *c, int lfd)
{
	memset(c, 0, sizeof(*c));
	c->lfd = lfd;
}

static void conn_close(struct ctl_conn *k)
{
	if (k->fd >= 0)
		close(k->fd);
	free(k->out);
	k->fd = -1;
	k->out = NULL;
	k->outlen = 0;
}

/* drop the closed ones, keeping the order (oldest first) */
static void compact(struct ctl *c)
{
	unsigned int i, n = 0;

	for (i = 0; i < c->n; i++)
		if (c->conn[i].fd >= 0)
			c->conn[n++] = c->conn[i];
	c->n = n;
}

unsigned int ctl_pollfds(const struct ctl *c, struct pollfd *pfd)
{
	unsigned int i;

	pfd[0] = (struct pollfd){ .fd = c->lfd, .events = POLLIN };
	for (i = 0; i < c->n; i++)
		pfd[1 + i] = (struct pollfd){
			.fd = c->conn[i].fd,
			.events = c->conn[i].out ? POLLOUT : POLLIN,
		};
	return 1 + c->n;
}

int ctl_timeout(const struct ctl *c, int64_t now)
{
	int64_t first = -1;
	unsigned int i;

	for (i = 0; i < c->n; i++)
		if (first < 0 || c->conn[i].deadline < first)
			first = c->conn[i].deadline;
	if (first < 0)
		return -1;
	return first <= now ? 0 : (int)(first - now);
}

static void accept_all(struct ctl *c, int64_t now)
{
	for (;;) {
		int fd = accept4(c->lfd, NULL, NULL,
				 SOCK_CLOEXEC | SOCK_NONBLOCK);
		unsigned int i;

		if (fd < 0)
			return;
		if (c->n == CTL_CONNS_MAX) {
			/* the oldest that has not asked anything yet */
			for (i = 0; i < c->n && c->conn[i].out; i++)
				;
			if (i == c->n) {
				close(fd);
				continue;
			}
			conn_close(&c->conn[i]);
			compact(c);
		}
		c->conn[c->n++] =
			(struct ctl_conn){ .fd = fd,
					   .deadline = now + CTL_DEADLINE_MS };
	}
}

/* Send what is left of the reply; the connection is done when it went. */
static void flush(struct ctl_conn *k)
{
	ssize_t n = send(k->fd, k->out, k->outlen, MSG_DONTWAIT | MSG_NOSIGNAL);

	/* a SOCK_SEQPACKET message goes whole or not at all */
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	conn_close(k);
}

static void serve(struct ctl_conn *k, ctl_fn fn, void *arg)
{
	char req[CTL_REQ_MAX + 1];
	ssize_t n = recv(k->fd, req, CTL_REQ_MAX, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(k);
		return;
	}
	req[n] = '\0';
	k->out = fn(arg, k->fd, req, &k->outlen);
	if (!k->out) {
		conn_close(k);
		return;
	}
	/* the request may have taken long (a reload): time from now */
	k->deadline = mono_ms() + CTL_DEADLINE_MS;
	flush(k);
}

void ctl_events(struct ctl *c, const struct pollfd *pfd, unsigned int npfd,
		int64_t now, ctl_fn fn, void *arg)
{
	unsigned int i;

	/* @pfd describes the connections as they were when polled; the
	 * handler does not open or close any (see run.c's loop_once) */
	for (i = 0; i + 1 < npfd && i < c->n; i++) {
		struct ctl_conn *k = &c->conn[i];
		short ev = pfd[1 + i].revents;

		if (k->fd != pfd[1 + i].fd || !ev)
			continue;
		if (k->out)
			flush(k);
		else
			serve(k, fn, arg);
	}
	for (i = 0; i < c->n; i++)
		if (c->conn[i].fd >= 0 && c->conn[i].deadline <= now)
			conn_close(&c->conn[i]);
	compact(c);
	if (npfd && (pfd[0].revents & POLLIN))
		accept_all(c, now);
}

void ctl_close_all(struct ctl *c)
{
	unsigned int i;

	for (i = 0; i < c->n; i++)
		conn_close(&c->conn[i]);
	c->n = 0;
}
