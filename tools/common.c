// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Helpers shared by the commands. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "main.h"
#include "model.h"

struct sksteer_config *load_config(const char *path)
{
	struct sksteer_config *cfg;

	cfg = sksteer_config__parse_file(path, NULL);
	if (!cfg) {
		/* the library has named file:line:column and what is wrong */
		if (errno == EINVAL)
			p_err("%s: invalid configuration", path);
		else
			p_err("cannot load %s: %s", path, strerror(errno));
	}
	return cfg;
}

int select_services(const struct sksteer_config *cfg, const char *path,
		    const char *name, struct sksteer_service ***out)
{
	size_t n = sksteer_config__service_cnt(cfg), i;
	struct sksteer_service **svcs;

	svcs = calloc(n ? n : 1, sizeof(*svcs));
	if (!svcs) {
		p_err("out of memory");
		return -1;
	}
	if (!name) {
		for (i = 0; i < n; i++)
			svcs[i] = sksteer_config__service(cfg, i);
		*out = svcs;
		return (int)n;
	}
	svcs[0] = sksteer_config__find_service(cfg, name);
	if (!svcs[0]) {
		char list[512] = "";
		size_t len = 0;

		for (i = 0; i < n && len < sizeof(list); i++)
			len += snprintf(
				list + len, sizeof(list) - len, "%s%s",
				i ? ", " : "",
				sksteer_service__name(
					sksteer_config__service(cfg, i)));
		p_err("%s: no service '%s' (services: %s)", path, name, list);
		free(svcs);
		return -1;
	}
	*out = svcs;
	return 1;
}

/* the same protocol, address and port (0 asks for a free one) */
static bool same_listen_addr(const struct sksteer_service *a,
			     const struct sksteer_service *b)
{
	socklen_t la, lb;
	const struct sockaddr *sa = sksteer_service__listen_addr(a, &la);
	const struct sockaddr *sb = sksteer_service__listen_addr(b, &lb);

	if (sksteer_service__protocol(a) != sksteer_service__protocol(b) ||
	    sa->sa_family != sb->sa_family)
		return false;
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const void *)sa;
		const struct sockaddr_in6 *b6 = (const void *)sb;

		return a6->sin6_port && a6->sin6_port == b6->sin6_port &&
		       !memcmp(&a6->sin6_addr, &b6->sin6_addr,
			       sizeof(a6->sin6_addr));
	}
	{
		const struct sockaddr_in *a4 = (const void *)sa;
		const struct sockaddr_in *b4 = (const void *)sb;

		return a4->sin_port && a4->sin_port == b4->sin_port &&
		       a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	}
}

bool services_clash(struct sksteer_service *const *svcs, size_t n,
		    const char *path, char *why, size_t whysz)
{
	size_t i, j;

	for (j = 1; j < n; j++) {
		for (i = 0; i < j; i++) {
			const struct sksteer_service *a = svcs[i], *b = svcs[j];
			char addr[INET6_ADDRSTRLEN + 16];
			socklen_t len;

			if (!same_listen_addr(a, b))
				continue;
			fmt_sockaddr(sksteer_service__listen_addr(a, &len),
				     addr, sizeof(addr));
			snprintf(why, whysz,
				 "%s:%d: service '%s' listens on %s %s, as "
				 "service '%s' (line %d) does: the kernel "
				 "would put the sockets of both in one "
				 "reuseport group, where the program of each "
				 "steers the other's traffic too; give one of "
				 "them another address or port",
				 path, tool_service_line(b),
				 sksteer_service__name(b),
				 proto_name(sksteer_service__protocol(b)), addr,
				 sksteer_service__name(a),
				 tool_service_line(a));
			return true;
		}
	}
	return false;
}

const char *rule_body(const struct sksteer_service *svc, size_t idx)
{
	const char *t = sksteer_service__rule_text(svc, idx);

	if (!t)
		return "?";
	if (!strncmp(t, "rule ", 5))
		t += 5;
	return t;
}

void strip_service_prefix(char *msg, const struct sksteer_service *svc)
{
	char pre[128];
	size_t n;

	if (!msg)
		return;
	n = (size_t)snprintf(pre, sizeof(pre),
			     "service '%s': ", sksteer_service__name(svc));
	if (n < sizeof(pre) && !strncmp(msg, pre, n))
		memmove(msg, msg + n, strlen(msg + n) + 1);
}

const char *proto_name(int proto)
{
	return proto == IPPROTO_TCP ? "tcp" :
	       proto == IPPROTO_UDP ? "udp" :
				      "?";
}

void fmt_addr(int family, const void *addr, char *buf, size_t size)
{
	if (!inet_ntop(family, addr, buf, (socklen_t)size))
		snprintf(buf, size, "?");
}

void fmt_sockaddr(const struct sockaddr *sa, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		fmt_addr(AF_INET, &in->sin_addr, a, sizeof(a));
		snprintf(buf, size, "%s:%u", a, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		fmt_addr(AF_INET6, &in6->sin6_addr, a, sizeof(a));
		snprintf(buf, size, "[%s]:%u", a, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, size, "?");
	}
}

bool parse_ulong(const char *s, unsigned long min, unsigned long max,
		 unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

int one_file_operand(const struct cmd *cmd, int argc, char **argv,
		     const char **path)
{
	if (optind >= argc)
		return usage_err(cmd, "%s: no configuration file given",
				 cmd->name);
	if (optind + 1 < argc)
		return usage_err(cmd,
				 "%s: one file at a time (unexpected '%s')",
				 cmd->name, argv[optind + 1]);
	*path = argv[optind];
	return 0;
}
