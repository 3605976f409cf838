// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Steering, end to end: real sockets, real traffic, and for every
 * connection or datagram the check of WHICH socket of the group got it.
 *
 * Tests named unpriv_* need no privilege (127.0.0.N, ::1, port 0): as
 * root they run in a fresh namespace each, and tests/test_unpriv.sh runs
 * them as nobody without any capability. The others are root-only: they
 * put documentation addresses on lo or change per-namespace sysctls.
 */
#include <sys/stat.h>

#include "steer_util.h"

#define T(name) TEST_TIMEOUT(name, 30)

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ASSERT(f && fputs(text, f) >= 0 && !fclose(f), "writing %s: %s", path,
	       strerror(errno));
}

static int getint(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	ASSERT(!getsockopt(fd, level, name, &v, &len), "getsockopt(%d, %d): %s",
	       level, name, strerror(errno));
	return v;
}

/* ------------------------------------------------------------------ */
/* Steering by destination address                                     */
/* ------------------------------------------------------------------ */

/*
 * Four lines, one address each, and a pool for the rest: the motivating
 * deployment. @dst: the four line addresses and one more for "rest".
 */
static void scenario_to(const char *proto, const char *listen,
			const char *const dst[5], const char *src)
{
	struct su_group g;
	char conf[1024];
	int i, k;

	snprintf(conf, sizeof(conf),
		 "service lines {\n"
		 "  listen %s %s\n"
		 "  pool line1 1\n  pool line2 1\n  pool line3 1\n"
		 "  pool line4 1\n  pool rest 3\n"
		 "  rule to %s pool line1\n  rule to %s pool line2\n"
		 "  rule to %s pool line3\n  rule to %s pool line4\n"
		 "  default pool rest\n"
		 "}\n",
		 proto, listen, dst[0], dst[1], dst[2], dst[3]);
	su_setup(&g, conf);
	for (k = 0; k < 3; k++) {
		for (i = 0; i < 4; i++) {
			char pool[8];

			snprintf(pool, sizeof(pool), "line%d", i + 1);
			CHECK_FLOW(&g, src, dst[i], pool);
		}
		CHECK_FLOW(&g, src, dst[4], "rest");
	}
	su_free(&g);
}

static const char *const lo4[5] = { "127.0.0.1", "127.0.0.2", "127.0.0.3",
				    "127.0.0.4", "127.0.0.5" };

T(unpriv_tcp4_to)
{
	su_unpriv_env();
	scenario_to("tcp", "0.0.0.0:0", lo4, "127.0.0.1");
}

T(unpriv_udp4_to)
{
	su_unpriv_env();
	scenario_to("udp", "0.0.0.0:0", lo4, "127.0.0.1");
}

static const char *const doc4[] = { "198.51.100.1",
				    "198.51.100.2",
				    "198.51.100.3",
				    "198.51.100.4",
				    "198.51.100.9",
				    "203.0.113.1",
				    NULL };
static const char *const doc6[] = { "2001:db8::1", "2001:db8::2",
				    "2001:db8::3", "2001:db8::4",
				    "2001:db8::9", "2001:db8:1::1",
				    NULL };

T(tcp4_to)
{
	tl_enter_netns();
	tu_add_addrs(doc4);
	scenario_to("tcp", "0.0.0.0:0", doc4, "203.0.113.1");
}

T(udp4_to)
{
	tl_enter_netns();
	tu_add_addrs(doc4);
	scenario_to("udp", "0.0.0.0:0", doc4, "203.0.113.1");
}

T(tcp6_to)
{
	tl_enter_netns();
	tu_add_addrs(doc6);
	scenario_to("tcp", "[::]:0 v6only", doc6, "2001:db8:1::1");
}

T(udp6_to)
{
	tl_enter_netns();
	tu_add_addrs(doc6);
	scenario_to("udp", "[::]:0 v6only", doc6, "2001:db8:1::1");
}

/* ------------------------------------------------------------------ */
/* Dual stack: one [::] group receiving IPv4 and IPv6                  */
/* ------------------------------------------------------------------ */

static void scenario_dual(const char *proto)
{
	static const char *const addrs[] = {
		"198.51.100.1",	 "198.51.100.9",  "203.0.113.7",
		"203.0.113.8",	 "2001:db8::1",	  "2001:db8::9",
		"2001:db8:1::7", "2001:db8:1::8", NULL
	};
	struct su_group g;
	char conf[1024];
	int k;

	tu_add_addrs(addrs);
	snprintf(conf, sizeof(conf),
		 "service dual {\n"
		 "  listen %s [::]:0\n"
		 "  pool v4to 1\n  pool v6to 1\n  pool v4from 1\n"
		 "  pool v6from 1\n  pool rest 2\n"
		 "  rule to 198.51.100.1 pool v4to\n"
		 "  rule to 2001:db8::1 pool v6to\n"
		 "  rule from 203.0.113.7 pool v4from\n"
		 "  rule from 2001:db8:1::7 pool v6from\n"
		 "  default pool rest\n"
		 "}\n",
		 proto);
	su_setup(&g, conf);
	CHECK(sksteer_service__dual_stack(g.svc), "[::] is not dual-stack");
	CHECK(getint(g.sk[0].fd, IPPROTO_IPV6, IPV6_V6ONLY) == 0,
	      "IPV6_V6ONLY is set on a dual-stack socket");
	for (k = 0; k < 2; k++) {
		CHECK_FLOW(&g, "203.0.113.8", "198.51.100.1", "v4to");
		CHECK_FLOW(&g, "2001:db8:1::8", "2001:db8::1", "v6to");
		CHECK_FLOW(&g, "203.0.113.7", "198.51.100.9", "v4from");
		CHECK_FLOW(&g, "2001:db8:1::7", "2001:db8::9", "v6from");
		/* 203.0.113.7 -> 198.51.100.1: the first rule wins */
		CHECK_FLOW(&g, "203.0.113.7", "198.51.100.1", "v4to");
		CHECK_FLOW(&g, "203.0.113.8", "198.51.100.9", "rest");
		CHECK_FLOW(&g, "2001:db8:1::8", "2001:db8::9", "rest");
		CHECK_FLOW(&g, "127.0.0.1", "127.0.0.1", "rest");
		CHECK_FLOW(&g, "::1", "::1", "rest");
	}
	su_free(&g);
}

T(tcp_dual_stack)
{
	tl_enter_netns();
	scenario_dual("tcp");
}

T(udp_dual_stack)
{
	tl_enter_netns();
	scenario_dual("udp");
}

/* The same with loopback addresses only. */
static void scenario_dual_lo(const char *proto)
{
	struct su_group g;
	char conf[512];
	int k;

	snprintf(conf, sizeof(conf),
		 "service dual {\n"
		 "  listen %s [::]:0\n"
		 "  pool a 1\n  pool b 1\n  pool c 1\n  pool rest 2\n"
		 "  rule from 127.0.0.2 pool c\n"
		 "  rule to 127.0.0.1 pool a\n"
		 "  rule to ::1 pool b\n"
		 "  default pool rest\n"
		 "}\n",
		 proto);
	su_setup(&g, conf);
	for (k = 0; k < 3; k++) {
		CHECK_FLOW(&g, "127.0.0.1", "127.0.0.1", "a");
		CHECK_FLOW(&g, "::1", "::1", "b");
		CHECK_FLOW(&g, "127.0.0.2", "127.0.0.1", "c");
		CHECK_FLOW(&g, "127.0.0.1", "127.0.0.3", "rest");
	}
	su_free(&g);
}

T(unpriv_tcp_dual_stack)
{
	su_unpriv_env();
	scenario_dual_lo("tcp");
}

T(unpriv_udp_dual_stack)
{
	su_unpriv_env();
	scenario_dual_lo("udp");
}

/* ------------------------------------------------------------------ */
/* Steering by source address                                          */
/* ------------------------------------------------------------------ */

static void scenario_from(const char *proto)
{
	static const char *const addrs[] = {
		"198.51.100.1",	 "203.0.113.1",	    "203.0.113.15",
		"203.0.113.16",	 "203.0.113.31",    "203.0.113.32",
		"203.0.113.70",	 "203.0.113.127",   "203.0.113.128",
		"2001:db8::1",	 "2001:db8:1::5",   "2001:db8:1::ffff",
		"2001:db8:2::5", "2001:db8:1:1::5", NULL
	};
	struct su_group g;
	char conf[1024];
	int k;

	tu_add_addrs(addrs);
	snprintf(conf, sizeof(conf),
		 "set mobile { 203.0.113.0/28, 203.0.113.64/26,\n"
		 "             2001:db8:1::/64 }\n"
		 "service from {\n"
		 "  listen %s [::]:0\n"
		 "  pool m 2\n  pool x 1\n  pool rest 2\n"
		 "  rule from @mobile pool m\n"
		 "  rule from 203.0.113.16/28, 2001:db8:2::/48 pool x\n"
		 "  default pool rest\n"
		 "}\n",
		 proto);
	su_setup(&g, conf);
	for (k = 0; k < 2; k++) {
		CHECK_FLOW(&g, "203.0.113.1", "198.51.100.1", "m");
		CHECK_FLOW(&g, "203.0.113.15", "198.51.100.1", "m");
		CHECK_FLOW(&g, "203.0.113.70", "198.51.100.1", "m");
		CHECK_FLOW(&g, "203.0.113.127", "198.51.100.1", "m");
		CHECK_FLOW(&g, "203.0.113.16", "198.51.100.1", "x");
		CHECK_FLOW(&g, "203.0.113.31", "198.51.100.1", "x");
		CHECK_FLOW(&g, "203.0.113.32", "198.51.100.1", "rest");
		CHECK_FLOW(&g, "203.0.113.128", "198.51.100.1", "rest");
		CHECK_FLOW(&g, "2001:db8:1::5", "2001:db8::1", "m");
		CHECK_FLOW(&g, "2001:db8:1::ffff", "2001:db8::1", "m");
		CHECK_FLOW(&g, "2001:db8:2::5", "2001:db8::1", "x");
		CHECK_FLOW(&g, "2001:db8:1:1::5", "2001:db8::1", "rest");
	}
	su_free(&g);
}

T(tcp_from)
{
	tl_enter_netns();
	scenario_from("tcp");
}

T(udp_from)
{
	tl_enter_netns();
	scenario_from("udp");
}

static void scenario_from_lo(const char *proto)
{
	struct su_group g;
	char conf[512];
	int k;

	snprintf(conf, sizeof(conf),
		 "service from {\n"
		 "  listen %s 127.0.0.1:0\n"
		 "  pool a 2\n  pool b 1\n  pool rest 2\n"
		 "  rule from 127.0.0.8/29 pool a\n"
		 "  rule from 127.0.0.16 pool b\n"
		 "  default pool rest\n"
		 "}\n",
		 proto);
	su_setup(&g, conf);
	for (k = 0; k < 3; k++) {
		CHECK_FLOW(&g, "127.0.0.8", "127.0.0.1", "a");
		CHECK_FLOW(&g, "127.0.0.15", "127.0.0.1", "a");
		CHECK_FLOW(&g, "127.0.0.16", "127.0.0.1", "b");
		CHECK_FLOW(&g, "127.0.0.7", "127.0.0.1", "rest");
		CHECK_FLOW(&g, "127.0.0.17", "127.0.0.1", "rest");
		CHECK_FLOW(&g, "127.0.0.1", "127.0.0.1", "rest");
	}
	su_free(&g);
}

T(unpriv_tcp_from)
{
	su_unpriv_env();
	scenario_from_lo("tcp");
}

T(unpriv_udp_from)
{
	su_unpriv_env();
	scenario_from_lo("udp");
}

/* ------------------------------------------------------------------ */
/* Steering by source port                                             */
/* ------------------------------------------------------------------ */

static void scenario_sport(const char *proto, const char *listen,
			   const char *addr)
{
	static const struct {
		uint16_t port;
		const char *pool;
	} cases[] = {
		{ 21000, "a" },	   { 21999, "a" },    { 21500, "a" },
		{ 23456, "b" },	   { 20999, "rest" }, { 22000, "rest" },
		{ 23455, "rest" }, { 23457, "rest" },
	};
	struct su_group g;
	char conf[512], what[96];
	size_t i;

	snprintf(conf, sizeof(conf),
		 "service ports {\n"
		 "  listen %s %s\n"
		 "  pool a 2\n  pool b 1\n  pool rest 2\n"
		 "  rule sport 21000-21999 pool a\n"
		 "  rule sport 23456 pool b\n"
		 "  default pool rest\n"
		 "}\n",
		 proto, listen);
	su_setup(&g, conf);
	for (i = 0; i < ARRAY_SIZE_T(cases); i++) {
		uint16_t sport = cases[i].port;
		int landing = su_send(&g, addr, addr, &sport, NULL, 0);

		snprintf(what, sizeof(what), "flow from port %u", sport);
		EXPECT_AT(&g, landing, what, cases[i].pool,
			  su_hash_pick(&g, cases[i].pool, addr, sport));
	}
	su_free(&g);
}

T(unpriv_tcp_sport)
{
	su_unpriv_env();
	scenario_sport("tcp", "127.0.0.1:0", "127.0.0.1");
}

T(unpriv_udp6_sport)
{
	su_unpriv_env();
	scenario_sport("udp", "[::1]:0", "::1");
}

/* ------------------------------------------------------------------ */
/* Steering by payload                                                 */
/* ------------------------------------------------------------------ */

T(unpriv_udp_payload)
{
	static const struct {
		const char *pl;
		size_t len;
		const char *pool;
		long key; /* by payload: the key; -1: hash */
	} cases[] = {
		{ "\x01", 1, "a", -1 },
		{ "\x01\xff", 2, "a", -1 },
		{ "\x12\x34", 2, "b", -1 },
		{ "\xf2\x34\x00", 3, "b", -1 }, /* & 0x0fff */
		{ "\x12\x35", 2, "d", -1 },
		{ "\x09\x00\x05", 3, "c", 5 },
		{ "\x09\x01\x00\x77", 4, "c", 256 },
		{ "\x09\x00", 2, "d", -1 }, /* too short for the key */
		{ "\xf0\x02", 2, "c", 2 },
		{ "\xf5\x00", 2, "c", 0 },
		{ "\xf0\x03", 2, "d", -1 },
		{ "", 0, "d", -1 },
	};
	struct su_group g;
	size_t i;
	int k;

	su_unpriv_env();
	su_setup(&g, "service pay {\n"
		     "  listen udp 127.0.0.1:0\n"
		     "  pool a 1\n  pool b 1\n  pool c 3\n  pool d 2\n"
		     "  rule payload 0 u8 == 1 pool a\n"
		     "  rule payload 0 u16 & 0x0fff == 0x0234 pool b\n"
		     "  rule payload 0 u8 == 9 pool c by payload 1:2\n"
		     "  rule payload 0 u8 >= 0xf0 payload 1 u8 < 3 "
		     "pool c by payload 1\n"
		     "  default pool d\n"
		     "}\n");
	for (k = 0; k < 2; k++)
		for (i = 0; i < ARRAY_SIZE_T(cases); i++)
			CHECK_FLOW_PL(&g, "127.0.0.1", "127.0.0.1", cases[i].pl,
				      cases[i].len, cases[i].pool,
				      cases[i].key);
	su_free(&g);
}

/*
 * TCP: the payload of a SYN is TCP Fast Open data. Fast Open is
 * per-namespace (net.ipv4.tcp_fastopen); without cookies on both sides
 * the first SYN carries the data.
 */
T(tcp_fastopen_payload)
{
	static const struct {
		const char *pl;
		size_t len;
		const char *pool;
		long key;
	} cases[] = {
		{ "GET / HTTP/1.0\r\n\r\n", 18, "get", -1 },
		{ "P\x00", 2, "post", 0 },
		{ "P\x01", 2, "post", 1 },
		{ "P\x07xyz", 5, "post", 7 },
		{ "X", 1, "other", -1 },
	};
	struct su_group g;
	size_t i;
	int one = 1, k, landing;
	uint16_t sport;

	tl_enter_netns();
	write_file("/proc/sys/net/ipv4/tcp_fastopen", "3");
	su_setup(&g, "service tfo {\n"
		     "  listen tcp 127.0.0.1:0\n"
		     "  pool get 1 { fastopen 16 }\n"
		     "  pool post 2 { fastopen 16 }\n"
		     "  pool other 2 { fastopen 16 }\n"
		     "  rule payload 0 u32 == 0x47455420 pool get\n"
		     "  rule payload 0 u8 == 0x50 pool post by payload 1\n"
		     "  default pool other\n"
		     "}\n");
	for (k = 0; k < g.n; k++)
		ASSERT(!setsockopt(g.sk[k].fd, IPPROTO_TCP,
				   TCP_FASTOPEN_NO_COOKIE, &one, sizeof(one)),
		       "TCP_FASTOPEN_NO_COOKIE on the listener: %s",
		       strerror(errno));
	for (k = 0; k < 2; k++) {
		for (i = 0; i < ARRAY_SIZE_T(cases); i++) {
			char what[96];

			sport = 0;
			landing = su_tcp(&g, "127.0.0.1", "127.0.0.1", &sport,
					 cases[i].pl, cases[i].len, true);
			snprintf(what, sizeof(what),
				 "Fast Open SYN from port %u with '%.1s...'",
				 sport, cases[i].pl);
			EXPECT_AT(&g, landing, what, cases[i].pool,
				  cases[i].key >= 0 ?
					  su_key_pick(&g, cases[i].pool,
						      (uint32_t)cases[i].key) :
					  su_hash_pick(&g, cases[i].pool,
						       "127.0.0.1", sport));
		}
		/* data after the handshake is not in the SYN: no payload */
		sport = 0;
		landing = su_tcp(&g, "127.0.0.1", "127.0.0.1", &sport, "GET ",
				 4, false);
		EXPECT_AT(&g, landing, "plain connection sending 'GET '",
			  "other",
			  su_hash_pick(&g, "other", "127.0.0.1", sport));
	}
	su_free(&g);
}

/* ------------------------------------------------------------------ */
/* Spreading within a pool, the kernel's hash                          */
/* ------------------------------------------------------------------ */

#define SPREAD_N 2000
#define BATCH	 100

T(unpriv_udp_pool_spread)
{
	static const char *src[BATCH];
	static int landing[SPREAD_N];
	static uint16_t sport[SPREAD_N];
	unsigned int count[4] = { 0 };
	struct su_group g;
	int i, j, wrong = 0;
	char b[64];

	su_unpriv_env();
	su_setup(&g, "service spread {\n"
		     "  listen udp 127.0.0.1:0\n"
		     "  pool first 1\n  pool p 4\n  pool last 1\n"
		     "  default pool p\n"
		     "}\n");
	for (i = 0; i < BATCH; i++)
		src[i] = "127.0.0.1";
	for (i = 0; i < SPREAD_N; i += BATCH)
		su_udp_batch(&g, src, BATCH, "127.0.0.1", "x", 1, sport + i,
			     landing + i);
	for (i = 0; i < SPREAD_N; i++) {
		int want = su_hash_pick(&g, "p", "127.0.0.1", sport[i]);

		if (landing[i] < 0 || strcmp(g.sk[landing[i]].pool, "p")) {
			CHECK(0,
			      "datagram %d from port %u landed on %s, "
			      "outside pool p",
			      i, sport[i],
			      su_name(&g, landing[i], b, sizeof(b)));
			if (++wrong > 5)
				break;
			continue;
		}
		j = (int)g.sk[landing[i]].idx;
		count[j]++;
		if (j != want && ++wrong <= 5)
			CHECK(0,
			      "datagram %d from port %u landed on p[%d], the "
			      "documented hash says p[%d]",
			      i, sport[i], j, want);
	}
	for (j = 0; j < 4; j++)
		CHECK(count[j] >= SPREAD_N * 15 / 100 &&
			      count[j] <= SPREAD_N * 35 / 100,
		      "p[%d] got %u of %d datagrams (%u %u %u %u)", j, count[j],
		      SPREAD_N, count[0], count[1], count[2], count[3]);
	su_free(&g);
}

/* What matches no rule goes to the kernel's hash over the whole group. */
static void scenario_hash(const char *proto, int n)
{
	struct su_group g;
	unsigned int per_pool[3] = { 0 };
	char conf[512], b[64];
	int i, k;

	snprintf(conf, sizeof(conf),
		 "service h {\n"
		 "  listen %s 127.0.0.1:0\n"
		 "  pool a 2\n  pool b 2\n  pool c 2\n"
		 "  rule from 127.0.0.99 pool b\n"
		 "  default hash\n"
		 "}\n",
		 proto);
	su_setup(&g, conf);
	for (i = 0; i < n; i++) {
		uint16_t sport = 0;
		int landing =
			su_send(&g, "127.0.0.1", "127.0.0.1", &sport, "h", 1);

		ASSERT(landing >= 0, "flow %d from port %u landed on %s", i,
		       sport, su_name(&g, landing, b, sizeof(b)));
		per_pool[g.sk[landing].pool[0] - 'a']++;
	}
	for (k = 0; k < 3; k++)
		CHECK(per_pool[k] > 0,
		      "the kernel's hash sent nothing to pool %c (a %u, b %u, "
		      "c %u of %d)",
		      'a' + k, per_pool[0], per_pool[1], per_pool[2], n);
	for (i = 0; i < 5; i++)
		CHECK_FLOW(&g, "127.0.0.99", "127.0.0.1", "b");
	su_free(&g);
}

T(unpriv_udp_hash_default)
{
	su_unpriv_env();
	scenario_hash("udp", 200);
}

T(unpriv_tcp_hash_default)
{
	su_unpriv_env();
	scenario_hash("tcp", 80);
}

/* ------------------------------------------------------------------ */
/* A big prefix set                                                    */
/* ------------------------------------------------------------------ */

/* Prefix i of the set: 127.1.X.Y, pairs (4k, 4k+1) merging into one
 * range, so 3000 prefixes are 1500 ranges. */
#define BIG_N 3000

static void big_addr(int i, char *buf, size_t sz)
{
	snprintf(buf, sz, "127.1.%d.%d", (i / 2) / 64,
		 ((i / 2) % 64) * 4 + (i & 1));
}

T(unpriv_udp_big_set)
{
	static char conf[BIG_N * 24 + 512];
	static const char *src[256];
	static char names[256][20];
	static const char *pool[256];
	int landing[256];
	uint16_t sport[256];
	struct sksteer_prog *prog;
	struct su_group g;
	size_t len;
	int i, n = 0, nbig;
	char what[96];

	su_unpriv_env();
	/* as many as the kernel takes in classic BPF (6.1's optmem_max
	 * takes fewer than newer kernels: test_cbpf_fit holds that limit) */
	for (nbig = BIG_N;; nbig = nbig * 9 / 10 & ~1) {
		len = (size_t)snprintf(conf, sizeof(conf),
				       "service big {\n"
				       "  listen udp 0.0.0.0:0\n"
				       "  pool in 2\n  pool out 1\n"
				       "  set isp {\n");
		for (i = 0; i < nbig; i++) {
			char a[20];

			big_addr(i, a, sizeof(a));
			len += (size_t)snprintf(conf + len, sizeof(conf) - len,
						"    %s\n", a);
		}
		snprintf(
			conf + len, sizeof(conf) - len,
			"  }\n  rule from @isp pool in\n  default pool out\n}\n");
		if (su_ebpf() || su_fits_kernel(conf))
			break;
	}
	su_setup(&g, conf);
	prog = sksteer_service__compile(g.svc, NULL);
	ASSERT(prog, "compile: %s", tl_messages());
	CHECK(sksteer_prog__insn_cnt(prog) > 1500,
	      "only %zu instructions for %d prefixes?",
	      sksteer_prog__insn_cnt(prog), nbig);
	sksteer_prog__free(prog);

	/* both ends of ranges spread over the set, and the gaps next to
	 * them */
	for (i = 0; i < nbig && n < 240; i += 2 * 37) {
		int oct2 = (i / 2) / 64, oct3 = ((i / 2) % 64) * 4, d;

		for (d = 0; d < 4; d++) {
			snprintf(names[n], sizeof(names[n]), "127.1.%d.%d",
				 oct2, oct3 + d);
			pool[n++] = d < 2 ? "in" : "out";
		}
	}
	big_addr(0, names[n], sizeof(names[n]));
	pool[n++] = "in";
	big_addr(nbig - 1, names[n], sizeof(names[n]));
	pool[n++] = "in";
	snprintf(names[n], sizeof(names[n]), "127.1.200.1");
	pool[n++] = "out";
	snprintf(names[n], sizeof(names[n]), "127.0.0.1");
	pool[n++] = "out";
	for (i = 0; i < n; i++) {
		src[i] = names[i];
		sport[i] = 0;
	}
	su_udp_batch(&g, src, n, "127.0.0.1", "b", 1, sport, landing);
	for (i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "datagram from %s:%u", src[i],
			 sport[i]);
		EXPECT_AT(&g, landing[i], what, pool[i],
			  su_hash_pick(&g, pool[i], src[i], sport[i]));
	}
	su_free(&g);
}

/* ------------------------------------------------------------------ */
/* Closing sockets: the kernel renumbers, the library follows          */
/* ------------------------------------------------------------------ */

/* The kernel's group as the test models it: position -> (pool, idx). */
struct model {
	int n;
	char pool[16][8];
	unsigned int idx[16];
};

static void model_close(struct model *m, const char *pool, unsigned int idx)
{
	int k;

	for (k = 0; k < m->n; k++)
		if (!strcmp(m->pool[k], pool) && m->idx[k] == idx)
			break;
	ASSERT(k < m->n, "model: %s[%u] is not open", pool, idx);
	/* __reuseport_detach_sock: the last socket fills the hole */
	strcpy(m->pool[k], m->pool[m->n - 1]);
	m->idx[k] = m->idx[m->n - 1];
	m->n--;
}

static void model_check(struct su_group *g, const struct model *m)
{
	int k;

	CHECK(sksteer_group__socket_cnt(g->grp) == (unsigned int)m->n,
	      "socket_cnt %u, the kernel has %d",
	      sksteer_group__socket_cnt(g->grp), m->n);
	for (k = 0; k < m->n; k++) {
		int pos =
			sksteer_group__position(g->grp, m->pool[k], m->idx[k]);

		CHECK(pos == k,
		      "%s[%u] is at position %d, the kernel has it at %d",
		      m->pool[k], m->idx[k], pos, k);
	}
}

/* Traffic of every rule; a pool without open socket follows its
 * fallback (a -> c, b -> the kernel's hash). */
static void close_traffic(struct su_group *g, int rounds)
{
	unsigned int tmp[SU_MAXSK];
	bool a_open = su_open_idx(g, "a", tmp) > 0;
	bool b_open = su_open_idx(g, "b", tmp) > 0;
	bool d_open = su_open_idx(g, "d", tmp) > 0;
	unsigned int seen[4] = { 0 }, npools = 0;
	int k;
	char b[64];

	for (k = 0; k < rounds; k++) {
		CHECK_FLOW(g, "127.0.0.11", "127.0.0.1", a_open ? "a" : "c");
		CHECK_FLOW(g, "127.0.0.13", "127.0.0.1", "c");
		if (d_open)
			CHECK_FLOW(g, "127.0.0.14", "127.0.0.1", "d");
		else /* fallback drop (eBPF only) */
			CHECK_REFUSED(g, "127.0.0.14", "127.0.0.1");
		CHECK_FLOW(g, "127.0.0.1", "127.0.0.1", "c");
		if (b_open) {
			CHECK_FLOW(g, "127.0.0.12", "127.0.0.1", "b");
		} else {
			int landing = su_send(g, "127.0.0.12", "127.0.0.1",
					      &(uint16_t){ 0 }, NULL, 0);

			CHECK(landing >= 0,
			      "with pool b closed (fallback hash), a flow "
			      "landed on %s",
			      su_name(g, landing, b, sizeof(b)));
			if (landing >= 0)
				seen[g->sk[landing].pool[0] - 'a']++;
		}
	}
	/* enough flows for "all in one pool" to mean a bug */
	if (!b_open && rounds >= 16) {
		for (k = 0; k < 4; k++)
			npools += seen[k] > 0;
		CHECK(npools > 1,
		      "pool b's fallback hash sent %d flows to one pool only",
		      rounds);
	}
}

static void scenario_close(const char *proto)
{
	struct su_group g;
	struct model m = { .n = 0 };
	static const struct {
		const char *pool;
		unsigned int n;
	} decl[] = { { "a", 3 }, { "b", 2 }, { "c", 2 }, { "d", 1 } };
	char conf[1024];
	int err, dup_fd = -1, d_fd;
	size_t i;
	unsigned int j;
	bool tcp = !strcmp(proto, "tcp");

	snprintf(conf, sizeof(conf),
		 "service s {\n"
		 "  listen %s 127.0.0.1:0\n"
		 "  pool a 3 { fallback pool c }\n"
		 "  pool b 2 { fallback hash }\n"
		 "  pool c 2\n"
		 "  pool d 1\n" /* fallback drop: not on classic BPF */
		 "  rule from 127.0.0.11 pool a\n"
		 "  rule from 127.0.0.12 pool b\n"
		 "  rule from 127.0.0.13 pool c\n"
		 "  rule from 127.0.0.14 pool d\n"
		 "  default pool c\n"
		 "}\n",
		 proto);
	su_setup(&g, conf);
	for (i = 0; i < ARRAY_SIZE_T(decl); i++)
		for (j = 0; j < decl[i].n; j++) {
			strcpy(m.pool[m.n], decl[i].pool);
			m.idx[m.n++] = j;
		}
	model_check(&g, &m);
	close_traffic(&g, 3);

	/* a[0] is at position 0: the last socket, d[0], takes it. For TCP,
	 * a duplicate elsewhere must not keep a[0] in the group. */
	if (tcp)
		dup_fd = dup(sksteer_group__fd(g.grp, "a", 0));
	ASSERT(!sksteer_group__close_socket(g.grp, "a", 0), "close a[0]: %s",
	       tl_messages());
	model_close(&m, "a", 0);
	su_refresh(&g);
	CHECK(sksteer_group__fd(g.grp, "a", 0) == -ENOENT,
	      "fd(a, 0) after closing it: %d",
	      sksteer_group__fd(g.grp, "a", 0));
	CHECK(sksteer_group__position(g.grp, "d", 0) == 0,
	      "d[0] did not move into the hole");
	CHECK(sksteer_group__fd(g.grp, "a", 1) >= 0, "a[1] lost its name");
	model_check(&g, &m);
	close_traffic(&g, 3);
	if (tcp) {
		CHECK(accept(dup_fd, NULL, NULL) < 0 && errno == EINVAL,
		      "the duplicate of a[0] still listens");
		close(dup_fd);
	}

	/* b[1] at 4: c[1], now last, moves there */
	ASSERT(!sksteer_group__close_socket(g.grp, "b", 1), "close b[1]: %s",
	       tl_messages());
	model_close(&m, "b", 1);
	su_refresh(&g);
	model_check(&g, &m);
	close_traffic(&g, 3);

	/* d has no fallback (drop): classic BPF cannot drop, so the close is
	 * refused and nothing changes; eBPF drops d's traffic */
	d_fd = sksteer_group__fd(g.grp, "d", 0);
	tl_messages_reset();
	err = sksteer_group__close_socket(g.grp, "d", 0);
	if (sksteer_group__backend(g.grp) == SKSTEER_BACKEND_CBPF) {
		CHECK(err == -EBUSY, "closing d[0] (fallback drop) returned %d",
		      err);
		CHECK(strstr(tl_messages(), "drop") &&
			      strstr(tl_messages(), "eBPF"),
		      "the refusal does not say why: %s", tl_messages());
		CHECK(sksteer_group__fd(g.grp, "d", 0) == d_fd &&
			      fcntl(d_fd, F_GETFD) >= 0,
		      "the refused close touched d[0]");
	} else {
		ASSERT(!err, "closing d[0] on eBPF: %s", tl_messages());
		model_close(&m, "d", 0);
	}
	su_refresh(&g);
	model_check(&g, &m);
	close_traffic(&g, 2);

	/* b empties: its fallback is the kernel's hash */
	ASSERT(!sksteer_group__close_socket(g.grp, "b", 0), "close b[0]: %s",
	       tl_messages());
	model_close(&m, "b", 0);
	su_refresh(&g);
	model_check(&g, &m);
	close_traffic(&g, 24);

	/* a empties: its fallback is pool c */
	ASSERT(!sksteer_group__close_socket(g.grp, "a", 2), "close a[2]: %s",
	       tl_messages());
	model_close(&m, "a", 2);
	su_refresh(&g);
	model_check(&g, &m);
	close_traffic(&g, 2);
	ASSERT(!sksteer_group__close_socket(g.grp, "a", 1), "close a[1]: %s",
	       tl_messages());
	model_close(&m, "a", 1);
	su_refresh(&g);
	model_check(&g, &m);
	close_traffic(&g, 3);

	CHECK(sksteer_group__close_socket(g.grp, "a", 1) == -ENOENT,
	      "closing a closed socket again");
	CHECK(sksteer_group__close_socket(g.grp, "zz", 0) == -ENOENT,
	      "closing a socket of an unknown pool");
	/* and the group can still be re-steered from scratch */
	CHECK(!sksteer_group__attach(g.grp), "re-attach: %s", tl_messages());
	close_traffic(&g, 2);
	su_free(&g);
}

T(unpriv_tcp_close_socket)
{
	su_unpriv_env();
	scenario_close("tcp");
}

T(unpriv_udp_close_socket)
{
	su_unpriv_env();
	scenario_close("udp");
}

/* Dual-stack removal, with addresses of both versions. */
T(tcp_close_socket_dual)
{
	static const char *const addrs[] = { "203.0.113.5", "2001:db8:1::5",
					     "198.51.100.1", "2001:db8::1",
					     NULL };
	struct su_group g;
	int k;

	tl_enter_netns();
	tu_add_addrs(addrs);
	su_setup(&g,
		 "service s {\n"
		 "  listen tcp [::]:0\n"
		 "  pool v4 2\n  pool v6 2\n  pool rest 2 { fallback hash }\n"
		 "  rule from 203.0.113.5 pool v4\n"
		 "  rule from 2001:db8:1::5 pool v6\n"
		 "  default pool rest\n"
		 "}\n");
	ASSERT(!sksteer_group__close_socket(g.grp, "v4", 1), "close: %s",
	       tl_messages());
	su_refresh(&g);
	CHECK(sksteer_group__position(g.grp, "rest", 1) == 1,
	      "rest[1] did not move to position 1");
	for (k = 0; k < 4; k++) {
		CHECK_FLOW(&g, "203.0.113.5", "198.51.100.1", "v4");
		CHECK_FLOW(&g, "2001:db8:1::5", "2001:db8::1", "v6");
		CHECK_FLOW(&g, "::1", "2001:db8::1", "rest");
	}
	ASSERT(!sksteer_group__close_socket(g.grp, "v6", 0), "close: %s",
	       tl_messages());
	su_refresh(&g);
	for (k = 0; k < 4; k++) {
		CHECK_FLOW(&g, "203.0.113.5", "198.51.100.1", "v4");
		CHECK_FLOW(&g, "2001:db8:1::5", "2001:db8::1", "v6");
		CHECK_FLOW(&g, "127.0.0.1", "198.51.100.1", "rest");
	}
	su_free(&g);
}

/* ------------------------------------------------------------------ */
/* Sockets the application created                                     */
/* ------------------------------------------------------------------ */

static int new_sock(int family, int proto)
{
	int fd = socket(family,
			(proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM) |
				SOCK_CLOEXEC,
			proto);

	ASSERT(fd >= 0, "socket: %s", strerror(errno));
	return fd;
}

static void scenario_adopt(int proto)
{
	SKSTEER_OPTS(sksteer_group_opts, opts, .empty = true);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct su_group g;
	char conf[512];
	int a0, a1, b0, x, err, one = 1, k;
	bool tcp = proto == IPPROTO_TCP;

	snprintf(conf, sizeof(conf),
		 "service app {\n"
		 "  listen %s 127.0.0.1:0\n"
		 "  pool a 2\n  pool b 1 { tos 0x20 }\n"
		 "  rule from 127.0.0.2 pool b\n"
		 "  default pool a\n"
		 "}\n",
		 tcp ? "tcp" : "udp");
	su_parse(&g, conf);
	g.grp = sksteer_group__create(g.svc, &opts);
	ASSERT(g.grp, "create (empty): %s", tl_messages());
	CHECK(sksteer_group__socket_cnt(g.grp) == 0, "an empty group has %u",
	      sksteer_group__socket_cnt(g.grp));
	CHECK(sksteer_group__attach(g.grp) == -EINVAL,
	      "attach with no socket adopted");

	/* wrong order, unknown pool, wrong kinds of socket */
	x = new_sock(AF_INET, proto);
	CHECK(sksteer_group__adopt(g.grp, "b", x) == -EINVAL,
	      "adopting into b before a is full");
	CHECK(sksteer_group__adopt(g.grp, "zz", x) == -ENOENT,
	      "adopting into an unknown pool");
	close(x);
	x = new_sock(AF_INET6, proto);
	CHECK(sksteer_group__adopt(g.grp, "a", x) == -EINVAL,
	      "adopting an IPv6 socket into an IPv4 service");
	close(x);
	x = new_sock(AF_INET, tcp ? IPPROTO_UDP : IPPROTO_TCP);
	CHECK(sksteer_group__adopt(g.grp, "a", x) == -EINVAL,
	      "adopting a socket of the other protocol");
	close(x);

	/* a[0]: unbound, the library binds it (port 0: the kernel's) */
	a0 = new_sock(AF_INET, proto);
	ASSERT(!sksteer_group__adopt(g.grp, "a", a0), "adopt a[0]: %s",
	       tl_messages());
	ASSERT(sksteer_group__port(g.grp) > 0,
	       "no port after the first socket");
	CHECK(sksteer_group__position(g.grp, "a", 0) == 0, "a[0] position");
	CHECK(sksteer_group__fd(g.grp, "a", 0) == a0, "fd(a, 0) is not a0");

	/* a[1]: bound (and listening) by the application, in order */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	x = new_sock(AF_INET, proto);
	ASSERT(!bind(x, (struct sockaddr *)&sin, sizeof(sin)), "bind: %s",
	       strerror(errno));
	if (tcp)
		ASSERT(!listen(x, 8), "listen: %s", strerror(errno));
	tl_messages_reset();
	CHECK(sksteer_group__adopt(g.grp, "a", x) == -EINVAL,
	      "adopting a socket bound elsewhere without SO_REUSEPORT");
	CHECK(strstr(tl_messages(), "SO_REUSEPORT"), "message: %s",
	      tl_messages());
	close(x);
	a1 = new_sock(AF_INET, proto);
	ASSERT(!setsockopt(a1, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)),
	       "SO_REUSEPORT: %s", strerror(errno));
	sin.sin_port = htons((uint16_t)sksteer_group__port(g.grp));
	ASSERT(!bind(a1, (struct sockaddr *)&sin, sizeof(sin)), "bind: %s",
	       strerror(errno));
	if (tcp) {
		tl_messages_reset();
		CHECK(sksteer_group__adopt(g.grp, "a", a1) == -EINVAL,
		      "adopting a bound TCP socket that does not listen");
		CHECK(strstr(tl_messages(), "listen"), "message: %s",
		      tl_messages());
		ASSERT(!listen(a1, 64), "listen: %s", strerror(errno));
	}
	ASSERT(!sksteer_group__adopt(g.grp, "a", a1), "adopt a[1]: %s",
	       tl_messages());
	CHECK(sksteer_group__adopt(g.grp, "a", a1) == -ENOSPC,
	      "adopting into a full pool");
	CHECK(sksteer_group__attach(g.grp) == -EINVAL,
	      "attach with pool b empty");

	b0 = new_sock(AF_INET, proto);
	ASSERT(!sksteer_group__adopt(g.grp, "b", b0), "adopt b[0]: %s",
	       tl_messages());
	CHECK(getint(b0, IPPROTO_IP, IP_TOS) == 0x20,
	      "pool b's tos not applied to the adopted socket");
	CHECK(getint(b0, SOL_SOCKET, SO_REUSEPORT) == 1, "no SO_REUSEPORT");
	ASSERT(!sksteer_group__attach(g.grp), "attach: %s", tl_messages());
	su_ready(&g);
	for (k = 0; k < 4; k++) {
		CHECK_FLOW(&g, "127.0.0.2", "127.0.0.1", "b");
		CHECK_FLOW(&g, "127.0.0.1", "127.0.0.1", "a");
		CHECK_FLOW(&g, "127.0.0.3", "127.0.0.1", "a");
	}
	err = sksteer_group__close_socket(g.grp, "a", 0);
	CHECK(!err, "close a[0] of an adopted group: %d", err);
	su_refresh(&g);
	for (k = 0; k < 4; k++) {
		CHECK_FLOW(&g, "127.0.0.2", "127.0.0.1", "b");
		CHECK_FLOW(&g, "127.0.0.1", "127.0.0.1", "a");
	}
	su_free(&g);
}

T(unpriv_tcp_adopt)
{
	su_unpriv_env();
	scenario_adopt(IPPROTO_TCP);
}

T(unpriv_udp_adopt)
{
	su_unpriv_env();
	scenario_adopt(IPPROTO_UDP);
}

/* ------------------------------------------------------------------ */
/* The group itself                                                    */
/* ------------------------------------------------------------------ */

T(unpriv_group_order)
{
	struct su_group g;
	size_t p;
	int k, n = 0;

	su_unpriv_env();
	su_setup(&g, "service o {\n"
		     "  listen udp 127.0.0.1:0\n"
		     "  pool x 3\n  pool y 1\n  pool z 2\n"
		     "  rule from 127.0.0.2 pool y\n"
		     "  rule from 127.0.0.3 pool z by payload 0\n"
		     "  default pool x\n"
		     "}\n");
	CHECK(sksteer_group__backend(g.grp) ==
		      (su_ebpf() ? SKSTEER_BACKEND_EBPF : SKSTEER_BACKEND_CBPF),
	      "backend %d", sksteer_group__backend(g.grp));
	CHECK(sksteer_group__service(g.grp) == g.svc, "service()");
	CHECK(sksteer_group__socket_cnt(g.grp) == 6, "socket_cnt %u",
	      sksteer_group__socket_cnt(g.grp));
	for (p = 0; p < sksteer_service__pool_cnt(g.svc); p++) {
		const struct sksteer_pool *pool =
			sksteer_service__pool(g.svc, p);
		const char *name = sksteer_pool__name(pool);
		unsigned int i;

		for (i = 0; i < sksteer_pool__size(pool); i++) {
			int fd = sksteer_group__fd(g.grp, name, i);
			struct sockaddr_in sin;
			socklen_t len = sizeof(sin);

			CHECK(sksteer_group__position(g.grp, name, i) ==
				      (int)(sksteer_pool__first(pool) + i),
			      "%s[%u] at %d, declared %u", name, i,
			      sksteer_group__position(g.grp, name, i),
			      sksteer_pool__first(pool) + i);
			CHECK(sksteer_pool__first(pool) + i ==
				      (unsigned int)n++,
			      "pools are not consecutive");
			ASSERT(fd >= 0 && !getsockname(fd, (void *)&sin, &len),
			       "fd %d", fd);
			CHECK(ntohs(sin.sin_port) == g.port,
			      "%s[%u] on port %u, the group on %u", name, i,
			      ntohs(sin.sin_port), g.port);
			CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC,
			      "%s[%u] is not close-on-exec", name, i);
		}
		CHECK(sksteer_group__fd(g.grp, name, i) == -ENOENT,
		      "fd past the pool's end");
	}
	CHECK(sksteer_group__fd(g.grp, "nope", 0) == -ENOENT, "unknown pool");
	/* the group really is in that order: the program sends flows to
	 * every position, and each lands on the socket declared there */
	for (k = 0; k < 6; k++) {
		char key = (char)k;

		CHECK_FLOW(&g, "127.0.0.1", "127.0.0.1", "x");
		CHECK_FLOW(&g, "127.0.0.2", "127.0.0.1", "y");
		CHECK_FLOW_PL(&g, "127.0.0.3", "127.0.0.1", &key, 1, "z", k);
	}
	su_free(&g);
}

T(unpriv_backends)
{
	SKSTEER_OPTS(sksteer_group_opts, ebpf, .backend = SKSTEER_BACKEND_EBPF);
	SKSTEER_OPTS(sksteer_group_opts, cbpf, .backend = SKSTEER_BACKEND_CBPF);
	SKSTEER_OPTS(sksteer_group_opts, autob,
		     .backend = SKSTEER_BACKEND_AUTO);
	struct sksteer_group *grp;
	struct su_group g;
	char why[256] = "";
	bool may_bpf;
	int fds;

	su_unpriv_env();
	may_bpf = !sksteer_probe_ebpf(why, sizeof(why));
	fds = su_count_fds();
	su_parse(&g, "service b {\n  listen tcp 127.0.0.1:0\n  pool a 2\n}\n");
	tl_messages_reset();
	errno = 0;
	grp = sksteer_group__create(g.svc, &ebpf);
	if (may_bpf) {
		CHECK(grp && sksteer_group__backend(grp) ==
				      SKSTEER_BACKEND_EBPF,
		      "ebpf backend: %s", tl_messages());
		CHECK(sksteer_group__prog_fd(grp) >= 0, "no program fd");
		sksteer_group__free(grp);
	} else {
		/* without CAP_BPF: refused, saying why, nothing left open */
		CHECK(!grp && (errno == EPERM || errno == EACCES),
		      "ebpf backend without CAP_BPF: %p errno %d", grp, errno);
		CHECK(strstr(tl_messages(), "CAP_BPF"), "message: %s",
		      tl_messages());
	}
	CHECK(su_count_fds() == fds, "fds leaked");
	/* auto: ebpf when permitted, else cbpf, and it says which and why */
	tl_messages_reset();
	grp = sksteer_group__create(g.svc, &autob);
	ASSERT(grp, "auto: %s", tl_messages());
	CHECK(sksteer_group__backend(grp) ==
		      (may_bpf ? SKSTEER_BACKEND_EBPF : SKSTEER_BACKEND_CBPF),
	      "auto resolved to %d (probe: %s)", sksteer_group__backend(grp),
	      why);
	CHECK(strstr(tl_messages(), may_bpf ? "auto: ebpf" : "auto: cbpf"),
	      "auto does not say which backend: %s", tl_messages());
	sksteer_group__free(grp);
	CHECK(su_count_fds() == fds, "fds leaked by free");
	sksteer_config__free(g.cfg);

	/* a rule that needs eBPF: refused by the classic BPF compiler,
	 * nothing left open */
	su_parse(&g, "service d {\n  listen tcp 127.0.0.1:0\n  pool a 1\n"
		     "  rule from 127.0.0.9 drop\n}\n");
	tl_messages_reset();
	grp = sksteer_group__create(g.svc, &cbpf);
	CHECK(!grp && errno == EOPNOTSUPP, "drop on cbpf: %p errno %d", grp,
	      errno);
	CHECK(strstr(tl_messages(), "eBPF"), "the refusal names no backend: %s",
	      tl_messages());
	CHECK(su_count_fds() == fds, "fds leaked");
	sksteer_config__free(g.cfg);
}

/* ------------------------------------------------------------------ */
/* Socket options                                                      */
/* ------------------------------------------------------------------ */

static int somaxconn(void)
{
	FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
	int v = 4096;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 4096;
		fclose(f);
	}
	return v;
}

static const char *default_cc(void)
{
	static char cc[32] = "?";
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_congestion_control", "r");

	if (f) {
		if (fscanf(f, "%31s", cc) != 1)
			strcpy(cc, "?");
		fclose(f);
	}
	return cc;
}

/* reno is always allowed to unprivileged processes (and the default) */
T(unpriv_tcp_sockopts)
{
	struct su_group g;
	struct tcp_info ti;
	socklen_t len;
	char cc[32];
	uint64_t rate;
	int a, b;

	su_unpriv_env();
	su_setup(&g, "service o {\n"
		     "  listen tcp [::]:0\n"
		     "  pool a 1 { congestion reno; tos 0x10; priority 3;\n"
		     "    rcvbuf 65536; sndbuf 64k; pacing-rate 8mbit;\n"
		     "    fastopen 8; defer-accept 5; backlog 16 }\n"
		     "  pool b 1\n"
		     "}\n");
	a = sksteer_group__fd(g.grp, "a", 0);
	b = sksteer_group__fd(g.grp, "b", 0);
	len = sizeof(cc);
	ASSERT(!getsockopt(a, IPPROTO_TCP, TCP_CONGESTION, cc, &len),
	       "TCP_CONGESTION: %s", strerror(errno));
	CHECK(!strcmp(cc, "reno"), "congestion %s", cc);
	len = sizeof(cc);
	ASSERT(!getsockopt(b, IPPROTO_TCP, TCP_CONGESTION, cc, &len),
	       "TCP_CONGESTION: %s", strerror(errno));
	/* without the option: the namespace's default */
	CHECK(!strcmp(cc, default_cc()), "congestion %s, default %s", cc,
	      default_cc());
	/* dual-stack: both the IPv4 and the IPv6 field */
	CHECK(getint(a, IPPROTO_IP, IP_TOS) == 0x10, "IP_TOS %#x",
	      getint(a, IPPROTO_IP, IP_TOS));
	CHECK(getint(a, IPPROTO_IPV6, IPV6_TCLASS) == 0x10, "IPV6_TCLASS %#x",
	      getint(a, IPPROTO_IPV6, IPV6_TCLASS));
	CHECK(getint(a, SOL_SOCKET, SO_PRIORITY) == 3, "SO_PRIORITY %d",
	      getint(a, SOL_SOCKET, SO_PRIORITY));
	/* the kernel doubles buffer sizes */
	CHECK(getint(a, SOL_SOCKET, SO_RCVBUF) == 2 * 65536, "SO_RCVBUF %d",
	      getint(a, SOL_SOCKET, SO_RCVBUF));
	CHECK(getint(a, SOL_SOCKET, SO_SNDBUF) == 2 * 65536, "SO_SNDBUF %d",
	      getint(a, SOL_SOCKET, SO_SNDBUF));
	len = sizeof(rate);
	ASSERT(!getsockopt(a, SOL_SOCKET, SO_MAX_PACING_RATE, &rate, &len),
	       "SO_MAX_PACING_RATE: %s", strerror(errno));
	CHECK(rate == 1000000, "pacing rate %llu", (unsigned long long)rate);
	CHECK(getint(a, IPPROTO_TCP, TCP_FASTOPEN) == 8, "TCP_FASTOPEN %d",
	      getint(a, IPPROTO_TCP, TCP_FASTOPEN));
	/* stored as SYN-ACK retransmissions, read back rounded up */
	CHECK(getint(a, IPPROTO_TCP, TCP_DEFER_ACCEPT) >= 5,
	      "TCP_DEFER_ACCEPT %d", getint(a, IPPROTO_TCP, TCP_DEFER_ACCEPT));
	CHECK(getint(b, IPPROTO_TCP, TCP_DEFER_ACCEPT) == 0,
	      "TCP_DEFER_ACCEPT on b");
	CHECK(getint(a, SOL_SOCKET, SO_REUSEPORT) == 1, "SO_REUSEPORT");
	CHECK(getint(a, IPPROTO_IPV6, IPV6_V6ONLY) == 0, "IPV6_V6ONLY");
	CHECK(getint(a, SOL_SOCKET, SO_ACCEPTCONN) == 1, "not listening");
	/* a listener's tcpi_sacked is its backlog */
	len = sizeof(ti);
	ASSERT(!getsockopt(a, IPPROTO_TCP, TCP_INFO, &ti, &len), "TCP_INFO");
	CHECK(ti.tcpi_sacked == 16, "backlog %u", ti.tcpi_sacked);
	len = sizeof(ti);
	ASSERT(!getsockopt(b, IPPROTO_TCP, TCP_INFO, &ti, &len), "TCP_INFO");
	CHECK((int)ti.tcpi_sacked == (somaxconn() < 4096 ? somaxconn() : 4096),
	      "default backlog %u", ti.tcpi_sacked);
	su_free(&g);
}

T(unpriv_udp_sockopts)
{
	struct su_group g;
	int u, v;

	su_unpriv_env();
	su_setup(&g, "service o {\n"
		     "  listen udp [::]:0 v6only\n"
		     "  pool u 1 { pktinfo on; tos 8; rcvbuf 100000 }\n"
		     "  pool n 1 { pktinfo off }\n"
		     "}\n");
	u = sksteer_group__fd(g.grp, "u", 0);
	v = sksteer_group__fd(g.grp, "n", 0);
	CHECK(getint(u, IPPROTO_IPV6, IPV6_RECVPKTINFO) == 1,
	      "IPV6_RECVPKTINFO");
	CHECK(getint(v, IPPROTO_IPV6, IPV6_RECVPKTINFO) == 0,
	      "IPV6_RECVPKTINFO on n");
	CHECK(getint(u, IPPROTO_IPV6, IPV6_TCLASS) == 8, "IPV6_TCLASS");
	CHECK(getint(u, IPPROTO_IPV6, IPV6_V6ONLY) == 1, "IPV6_V6ONLY");
	CHECK(getint(u, SOL_SOCKET, SO_RCVBUF) == 200000, "SO_RCVBUF %d",
	      getint(u, SOL_SOCKET, SO_RCVBUF));
	su_free(&g);

	su_setup(&g, "service o4 {\n"
		     "  listen udp 127.0.0.1:0\n"
		     "  pool u 1 { pktinfo on }\n"
		     "}\n");
	CHECK(getint(sksteer_group__fd(g.grp, "u", 0), IPPROTO_IP,
		     IP_PKTINFO) == 1,
	      "IP_PKTINFO");
	su_free(&g);
}

/* Options that need CAP_NET_ADMIN (root in the namespace has it). */
T(sockopts_privileged)
{
	struct su_group g;
	socklen_t len;
	char cc[32];
	int fd;

	tl_enter_netns();
	su_setup(&g, "service o {\n"
		     "  listen tcp 0.0.0.0:0\n"
		     "  pool a 1 { mark 0x2a; priority 7; congestion cubic }\n"
		     "}\n");
	fd = sksteer_group__fd(g.grp, "a", 0);
	len = sizeof(cc);
	ASSERT(!getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, &len),
	       "TCP_CONGESTION: %s", strerror(errno));
	CHECK(!strcmp(cc, "cubic"), "congestion %s", cc);
	CHECK(getint(fd, SOL_SOCKET, SO_MARK) == 0x2a, "SO_MARK %#x",
	      getint(fd, SOL_SOCKET, SO_MARK));
	CHECK(getint(fd, SOL_SOCKET, SO_PRIORITY) == 7, "SO_PRIORITY %d",
	      getint(fd, SOL_SOCKET, SO_PRIORITY));
	su_free(&g);
}

/* An option the kernel refuses fails the whole group, names what and
 * why, and leaves nothing open. */
T(unpriv_sockopt_refused)
{
	struct su_group g;
	struct sksteer_group *grp;
	int fds;

	su_unpriv_env();
	fds = su_count_fds();
	su_parse(&g, "service web {\n"
		     "  listen tcp 127.0.0.1:0\n"
		     "  pool ok 2\n"
		     "  pool fancy 1 { congestion nosuchcc }\n"
		     "}\n");
	tl_messages_reset();
	errno = 0;
	grp = sksteer_group__create(g.svc, NULL);
	CHECK(!grp && errno == ENOENT, "create: %p, errno %d", grp, errno);
	CHECK(strstr(tl_messages(), "service 'web'") &&
		      strstr(tl_messages(), "pool 'fancy'") &&
		      strstr(tl_messages(), "congestion nosuchcc") &&
		      strstr(tl_messages(), strerror(ENOENT)),
	      "message: %s", tl_messages());
	CHECK(su_count_fds() == fds, "%d fds before, %d after", fds,
	      su_count_fds());
	sksteer_config__free(g.cfg);
}

static bool have_cap_net_admin(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long eff = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	if (f)
		fclose(f);
	return eff & (1ull << 12);
}

T(unpriv_mark_needs_cap)
{
	struct su_group g;
	struct sksteer_group *grp;
	int fds;

	su_unpriv_env();
	/* as root (in our own namespace): become nobody, which drops every
	 * capability, for what an unprivileged server would see */
	if (have_cap_net_admin())
		ASSERT(!setresgid(65534, 65534, 65534) &&
			       !setresuid(65534, 65534, 65534) &&
			       !have_cap_net_admin(),
		       "dropping privileges: %s", strerror(errno));
	fds = su_count_fds();
	su_parse(&g, "service m {\n"
		     "  listen udp 127.0.0.1:0\n"
		     "  pool a 1 { mark 7 }\n"
		     "}\n");
	tl_messages_reset();
	grp = sksteer_group__create(g.svc, NULL);
	CHECK(!grp && errno == EPERM, "create with mark: %p, errno %d", grp,
	      errno);
	CHECK(strstr(tl_messages(), "SO_MARK") &&
		      strstr(tl_messages(), "pool 'a'"),
	      "message: %s", tl_messages());
	CHECK(su_count_fds() == fds, "fds leaked");
	sksteer_config__free(g.cfg);
}

/*
 * The kernel fact behind adopt's contract: a TCP socket joins the group at
 * listen() (__inet_hash -> inet_reuseport_add_sock), not at bind(). Bind
 * A then B, listen B then A: B is position 0. If sockets joined at bind,
 * the steering below would land on the wrong ones.
 */
T(unpriv_tcp_joins_at_listen)
{
	SKSTEER_OPTS(sksteer_group_opts, opts, .empty = true);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	struct su_group g;
	int a, b, one = 1, k;

	su_unpriv_env();
	su_parse(&g, "service j {\n"
		     "  listen tcp 127.0.0.1:0\n"
		     "  pool first 1\n  pool second 1\n"
		     "  rule from 127.0.0.2 pool second\n"
		     "  default pool first\n"
		     "}\n");
	g.grp = sksteer_group__create(g.svc, &opts);
	ASSERT(g.grp, "create: %s", tl_messages());
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a = new_sock(AF_INET, IPPROTO_TCP);
	b = new_sock(AF_INET, IPPROTO_TCP);
	ASSERT(!setsockopt(a, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) &&
		       !setsockopt(b, SOL_SOCKET, SO_REUSEPORT, &one,
				   sizeof(one)),
	       "SO_REUSEPORT: %s", strerror(errno));
	ASSERT(!bind(a, (struct sockaddr *)&sin, sizeof(sin)) &&
		       !getsockname(a, (struct sockaddr *)&sin, &len),
	       "bind a: %s", strerror(errno));
	ASSERT(!bind(b, (struct sockaddr *)&sin, sizeof(sin)), "bind b: %s",
	       strerror(errno));
	ASSERT(!listen(b, 16) && !listen(a, 16), "listen: %s", strerror(errno));
	ASSERT(!sksteer_group__adopt(g.grp, "first", b), "adopt b: %s",
	       tl_messages());
	ASSERT(!sksteer_group__adopt(g.grp, "second", a), "adopt a: %s",
	       tl_messages());
	ASSERT(!sksteer_group__attach(g.grp), "attach: %s", tl_messages());
	su_ready(&g);
	for (k = 0; k < 4; k++) {
		CHECK_FLOW(&g, "127.0.0.2", "127.0.0.1", "second");
		CHECK_FLOW(&g, "127.0.0.1", "127.0.0.1", "first");
	}
	su_free(&g);
}

/*
 * The kernel puts every socket on the same address and port (same owner,
 * SO_REUSEPORT) in one reuseport group, whichever process made it, and a
 * program steers the whole group. A second group on a running service's
 * port must be refused, leaving the running one's steering intact; so
 * must a foreign socket that joined an adopted group before attach.
 */
static void scenario_foreign(int proto)
{
	SKSTEER_OPTS(sksteer_group_opts, opts, .backend = su_backend());
	SKSTEER_OPTS(sksteer_group_opts, empty, .backend = su_backend(),
		     .empty = true);
	const char *p = proto == IPPROTO_TCP ? "tcp" : "udp";
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sksteer_config *cfg;
	struct sksteer_group *grp;
	struct su_group g;
	char conf[512];
	int k, fds, own, foreign, one = 1;

	su_unpriv_env();
	snprintf(conf, sizeof(conf),
		 "service running {\n"
		 "  listen %s 127.0.0.1:0\n"
		 "  pool one 1\n  pool two 1\n"
		 "  rule from 127.0.0.9 pool one\n"
		 "  default pool two\n"
		 "}\n",
		 p);
	su_setup(&g, conf);
	snprintf(conf, sizeof(conf),
		 "service second {\n"
		 "  listen %s 127.0.0.1:%u\n"
		 "  pool x 3\n"
		 "}\n",
		 p, g.port);
	cfg = sksteer_config__parse_string(conf, strlen(conf), "second.conf",
					   NULL);
	ASSERT(cfg, "parse: %s", tl_messages());
	fds = su_count_fds();
	tl_messages_reset();
	errno = 0;
	grp = sksteer_group__create(sksteer_config__service(cfg, 0), &opts);
	CHECK(!grp && errno == EADDRINUSE, "second group: %p, errno %d", grp,
	      errno);
	CHECK(strstr(tl_messages(), "service 'second'") &&
		      strstr(tl_messages(), "already has 2 sockets of another "
					    "program"),
	      "message: %s", tl_messages());
	CHECK(su_count_fds() == fds, "%d fds before, %d after", fds,
	      su_count_fds());
	sksteer_group__free(grp);
	/* the running group is still steered, by its own rules */
	for (k = 0; k < 4; k++) {
		CHECK_FLOW(&g, "127.0.0.9", "127.0.0.1", "one");
		CHECK_FLOW(&g, "127.0.0.10", "127.0.0.1", "two");
	}
	su_free(&g);
	sksteer_config__free(cfg);

	/* adopted sockets: a stranger joined between bind and attach */
	snprintf(conf, sizeof(conf),
		 "service adopted {\n"
		 "  listen %s 127.0.0.1:0\n"
		 "  pool one 1\n"
		 "}\n",
		 p);
	su_parse(&g, conf);
	g.grp = sksteer_group__create(g.svc, &empty);
	ASSERT(g.grp, "create: %s", tl_messages());
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	own = new_sock(AF_INET, proto);
	foreign = new_sock(AF_INET, proto);
	ASSERT(!setsockopt(own, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) &&
		       !setsockopt(foreign, SOL_SOCKET, SO_REUSEPORT, &one,
				   sizeof(one)),
	       "SO_REUSEPORT: %s", strerror(errno));
	ASSERT(!bind(own, (struct sockaddr *)&sin, sizeof(sin)), "bind: %s",
	       strerror(errno));
	ASSERT(!getsockname(own, (struct sockaddr *)&sin,
			    &(socklen_t){ sizeof(sin) }) &&
		       !bind(foreign, (struct sockaddr *)&sin, sizeof(sin)),
	       "bind the stranger: %s", strerror(errno));
	if (proto == IPPROTO_TCP)
		ASSERT(!listen(own, 16) && !listen(foreign, 16), "listen: %s",
		       strerror(errno));
	ASSERT(!sksteer_group__adopt(g.grp, "one", own), "adopt: %s",
	       tl_messages());
	tl_messages_reset();
	CHECK(sksteer_group__attach(g.grp) == -EADDRINUSE,
	      "attach with a stranger in the group");
	CHECK(strstr(tl_messages(),
		     "already has 1 socket of another program") &&
		      strstr(tl_messages(), "joined while"),
	      "message: %s", tl_messages());
	close(foreign);
	ASSERT(!sksteer_group__attach(g.grp), "attach without it: %s",
	       tl_messages());
	su_free(&g);
}

T(unpriv_tcp_foreign_sockets)
{
	scenario_foreign(IPPROTO_TCP);
}

T(unpriv_udp_foreign_sockets)
{
	scenario_foreign(IPPROTO_UDP);
}
