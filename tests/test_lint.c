// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* sksteer_service__lint and sksteer_pool__probe_options on the library. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sksteer.h"
#include "testlib.h"

static struct sksteer_config *parse(const char *text)
{
	struct sksteer_config *cfg =
		sksteer_config__parse_string(text, strlen(text), "t", NULL);

	ASSERT(cfg, "parse failed: %s", tl_messages());
	return cfg;
}

/* lint the first service; returns the count, findings in @l */
static int lint(struct sksteer_config *cfg, struct sksteer_lint *l, size_t max)
{
	return sksteer_service__lint(sksteer_config__service(cfg, 0), l, max);
}

TEST(by_payload_key_is_a_condition)
{
	/* rule 1 takes only packets long enough for its key: rule 2 gets
	 * the short ones, so it is not shadowed; rule 3 needs 8 bytes, as
	 * rule 1's key does, so rule 1 takes all of its packets */
	struct sksteer_config *cfg = parse(
		"service s { listen udp 127.0.0.1:0\n pool a 2\n pool b 1\n"
		" rule from 198.51.100.0/24 pool a by payload 4:4\n"
		" rule from 198.51.100.0/24 pool b\n"
		" rule from 198.51.100.7 payload 6 u16 == 1 pool b\n}\n");
	struct sksteer_lint l[4];
	int n = lint(cfg, l, 4);

	ASSERT(n == 1, "%d findings, expected 1: %s", n,
	       n > 0 ? l[0].text : "");
	CHECK(l[0].kind == SKSTEER_LINT_SHADOWED && l[0].rule == 2 &&
		      l[0].by_rule == 0,
	      "%d %d %d", l[0].kind, l[0].rule, l[0].by_rule);
	CHECK(!strcmp(l[0].text,
		      "rule 3 (from 198.51.100.7 payload 6 u16 == 1 pool b) "
		      "never matches: rule 1 (from 198.51.100.0/24 pool a by "
		      "payload 4:4) matches every packet it would"),
	      "%s", l[0].text);
	sksteer_config__free(cfg);
}

TEST(ip_versions)
{
	/* dual-stack: an IPv4-only rule does not shadow a rule that also
	 * matches IPv6; from IPv4 and to IPv6 never match together */
	struct sksteer_config *cfg =
		parse("service s { listen tcp [::]:0\n pool a 1\n pool b 1\n"
		      " rule from 0.0.0.0/0 pool a\n"
		      " rule from 198.51.100.0/24, 2001:db8::/32 pool b\n"
		      " rule from 198.51.100.0/24 to 2001:db8::1 pool b\n"
		      " rule from 2001:db8::/48 pool a\n"
		      " default pool a\n}\n");
	struct sksteer_lint l[4];
	int n = lint(cfg, l, 4);

	ASSERT(n == 2, "%d findings, expected 2", n);
	CHECK(l[0].kind == SKSTEER_LINT_NEVER_MATCHES && l[0].rule == 2 &&
		      strstr(l[0].text,
			     "rule 3 (from 198.51.100.0/24 to "
			     "2001:db8::1 pool b) never matches: its "
			     "'from' and 'to' share no IP version"),
	      "%s", l[0].text);
	CHECK(l[1].kind == SKSTEER_LINT_SHADOWED && l[1].rule == 3 &&
		      l[1].by_rule == 1,
	      "%s", l[1].text);
	sksteer_config__free(cfg);
}

TEST(large_sets_linear)
{
	/* two sets of 60000 ranges, one inside the other: a merge, fast */
	size_t i, cap = 60000 * 64 + 512, len = 0;
	char *text = malloc(cap);
	struct sksteer_config *cfg;
	struct sksteer_lint l[2];
	struct timespec t0, t1;
	int n;

	ASSERT(text, "malloc");
	len += (size_t)snprintf(text, cap,
				"service s { listen tcp 0.0.0.0:0\n pool a 1\n"
				" set big {");
	for (i = 0; i < 60000; i++)
		len += (size_t)snprintf(text + len, cap - len,
					"%s100.%zu.%zu.0/25", i ? "," : "",
					i / 256, i % 256);
	len += (size_t)snprintf(text + len, cap - len,
				"}\n rule from 100.0.0.0/8 pool a\n"
				" rule from @big pool a\n}\n");
	cfg = parse(text);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = lint(cfg, l, 2);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ASSERT(n == 1 && l[0].rule == 1 && l[0].by_rule == 0, "%d", n);
	CHECK(t1.tv_sec - t0.tv_sec < 2 * tl_slow(), "lint took %lds",
	      (long)(t1.tv_sec - t0.tv_sec));
	sksteer_config__free(cfg);
	free(text);
}

TEST(probe_congestion_unavailable)
{
	struct sksteer_config *cfg = parse(
		"service web { listen tcp 127.0.0.1:0\n pool fast 1 { congestion "
		"nosuchcc; }\n}\n");
	struct sksteer_service *svc = sksteer_config__service(cfg, 0);
	int err;

	tl_messages_reset();
	err = sksteer_pool__probe_options(svc, sksteer_service__pool(svc, 0));
	CHECK(err == -ENOENT, "err %d", err);
	CHECK(strstr(tl_messages(), "service 'web', pool 'fast', socket 0: "
				    "congestion nosuchcc (TCP_CONGESTION:"),
	      "%s", tl_messages());
	sksteer_config__free(cfg);
}

TEST(probe_mark_unprivileged)
{
	struct sksteer_config *cfg =
		parse("service web { listen udp [::]:0\n pool a 1\n"
		      " pool line1 1 { mark 0x1; }\n}\n");
	struct sksteer_service *svc = sksteer_config__service(cfg, 0);
	int err;

	/* the pool without options passes whoever we are */
	CHECK(!sksteer_pool__probe_options(svc, sksteer_service__pool(svc, 0)),
	      "%s", tl_messages());
	/* giving up root drops CAP_NET_ADMIN (this is the test's own child) */
	if (!geteuid() && setresuid(65534, 65534, 65534))
		SKIP("cannot become nobody");
	tl_messages_reset();
	err = sksteer_pool__probe_options(svc, sksteer_service__pool(svc, 1));
	CHECK(err == -EPERM, "err %d", err);
	CHECK(strstr(tl_messages(), "pool 'line1', socket 0: mark 0x1 "
				    "(SO_MARK, needs CAP_NET_ADMIN): the "
				    "kernel refuses it"),
	      "%s", tl_messages());
	sksteer_config__free(cfg);
}

int main(int argc, char **argv)
{
	return tl_main(argc, argv);
}
