/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The connections to `sksteer run`'s control socket (tools/run_ctl.c):
 * served from the supervisor's poll loop without ever blocking it.
 */
#ifndef __SKSTEER_TOOL_RUN_CTL_H
#define __SKSTEER_TOOL_RUN_CTL_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

/* connections served at once; one more evicts the oldest idle one */
#define CTL_CONNS_MAX 16
/* how long a client has to send its request, and to take the reply */
#define CTL_DEADLINE_MS 2000

struct ctl_conn {
	int fd;
	int64_t deadline;
	char *out; /* the reply, while it waits for room in the socket */
	size_t outlen;
};

struct ctl {
	int lfd; /* the listening socket (non-blocking) */
	struct ctl_conn conn[CTL_CONNS_MAX];
	unsigned int n;
};

/*
 * A request (NUL-terminated) from connection @fd: returns the reply
 * (malloc'd, its length in *@len), or NULL for none.
 */
typedef char *(*ctl_fn)(void *arg, int fd, const char *req, size_t *len);

void ctl_init(struct ctl *c, int lfd);
/* Poll entries for the listening socket and each connection, in @pfd
 * (room for 1 + CTL_CONNS_MAX); returns how many. */
unsigned int ctl_pollfds(const struct ctl *c, struct pollfd *pfd);
/* Milliseconds until the next deadline, or -1 when none. */
int ctl_timeout(const struct ctl *c, int64_t now);
/* Handle what poll() reported in the entries ctl_pollfds() filled, and
 * close the connections past their deadline. */
void ctl_events(struct ctl *c, const struct pollfd *pfd, unsigned int npfd,
		int64_t now, ctl_fn fn, void *arg);
void ctl_close_all(struct ctl *c);

#endif
