// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One process per upstream line. Four processes each accept on their own
 * socket of 0.0.0.0:PORT, and the kernel hands every new connection to the
 * process of the address the client used: 127.0.0.1 is line 1 ... 127.0.0.4
 * line 4. No setup, no privilege.
 *   multiproc-server [PORT]     (default 1234; 0: any free port)
 *   nc 127.0.0.3 1234           ("hello from line3")
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sksteer.h>

static const char conf[] = "service lines {\n"
			   "    listen tcp 0.0.0.0:1234\n"
			   "    pool line1 1\n"
			   "    pool line2 1\n"
			   "    pool line3 1\n"
			   "    pool line4 1\n"
			   "    rule to 127.0.0.1  pool line1\n"
			   "    rule to 127.0.0.2  pool line2\n"
			   "    rule to 127.0.0.3  pool line3\n"
			   "    rule to 127.0.0.4  pool line4\n"
			   "}\n";

static void serve(const char *line, int fd)
{
	struct sockaddr_in peer, me;
	char from[INET_ADDRSTRLEN], to[INET_ADDRSTRLEN];

	prctl(PR_SET_PDEATHSIG, SIGTERM); /* go when the parent goes */
	for (;;) {
		socklen_t plen = sizeof(peer), mlen = sizeof(me);
		int c = accept(fd, (struct sockaddr *)&peer, &plen);

		if (c < 0 || getsockname(c, (struct sockaddr *)&me, &mlen))
			continue;
		printf("%s: process %d accepted %s:%u -> %s\n", line, getpid(),
		       inet_ntop(AF_INET, &peer.sin_addr, from, sizeof(from)),
		       ntohs(peer.sin_port),
		       inet_ntop(AF_INET, &me.sin_addr, to, sizeof(to)));
		fflush(stdout);
		dprintf(c, "hello from %s\n", line);
		close(c);
	}
}

int main(int argc, char **argv)
{
	SKSTEER_OPTS(sksteer_parse_opts, popts,
		     .port_override = argc > 1 ? atoi(argv[1]) : 1234,
		     .has_port_override = true);
	struct sksteer_service *svc = NULL;
	struct sksteer_group *grp = NULL;
	struct sksteer_config *cfg;
	size_t i;

	/* the library explains any failure on stderr */
	cfg = sksteer_config__parse_string(conf, sizeof(conf) - 1, "lines",
					   &popts);
	if (cfg)
		svc = sksteer_config__service(cfg, 0);
	if (svc)
		grp = sksteer_group__create(svc, NULL);
	if (!grp)
		return 1;
	printf("listening on 0.0.0.0:%d\n", sksteer_group__port(grp));
	fflush(stdout);
	for (i = 0; i < sksteer_service__pool_cnt(svc); i++) {
		const char *line =
			sksteer_pool__name(sksteer_service__pool(svc, i));

		if (fork() == 0)
			serve(line, sksteer_group__fd(grp, line, 0));
	}
	while (wait(NULL) > 0)
		;
	sksteer_group__free(grp);
	sksteer_config__free(cfg);
	return 0;
}
