/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Socket addresses from text, for the tests that send real traffic, and
 * the addresses they send from and to. */
#ifndef __SKSTEER_SOCKADDR_UTIL_H
#define __SKSTEER_SOCKADDR_UTIL_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "testlib.h"

static inline bool tu_is_v6(const char *addr)
{
	return strchr(addr, ':') != NULL;
}

/* @addr (IPv4 or IPv6 text) and @port into @ss; its length. */
static inline socklen_t tu_sockaddr(struct sockaddr_storage *ss,
				    const char *addr, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (tu_is_v6(addr)) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		ASSERT(inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1,
		       "bad address %s", addr);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	ASSERT(inet_pton(AF_INET, addr, &s4->sin_addr) == 1, "bad address %s",
	       addr);
	return sizeof(*s4);
}

/* Add @addrs (NULL-terminated) to lo: the tests are root in a namespace
 * of their own. */
static inline void tu_add_addrs(const char *const *addrs)
{
	char cmd[2048] = "true";
	size_t len = strlen(cmd);

	for (; *addrs; addrs++)
		len += (size_t)snprintf(
			cmd + len, sizeof(cmd) - len,
			tu_is_v6(*addrs) ?
				" && ip -6 addr add %s/128 dev lo nodad" :
				" && ip addr add %s/32 dev lo",
			*addrs);
	ASSERT(len < sizeof(cmd), "command too long");
	tl_sh("%s", cmd);
}

#endif
