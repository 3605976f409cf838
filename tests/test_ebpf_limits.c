// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The eBPF backend at its documented limits (sksteer.conf(5), LIMITS):
 * 256 rules, each with payload tests and address and port conditions,
 * 1024 payload tests in all, 256 pools. The kernel's verifier must take
 * the program (it once gave up on 80 rules: its work multiplied with the
 * rules), and the program must steer through the kernel as the reference
 * matcher says. Also: the verifier's work grows no faster than the rules,
 * and sk_ebpf_verify() says why a service is refused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "internal.h"
#include "ebpf.h"
#include "tables.h"
#include "testlib.h"
#include "fuzz/gen.h"

#define NPOOLS 256
#define NPKTS  160

struct text {
	char *s;
	size_t n, cap;
};

static void add(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->s ? t->s + t->n : NULL,
			      t->s ? t->cap - t->n : 0, fmt, ap);
		va_end(ap);
		ASSERT(n >= 0, "vsnprintf");
		if (t->s && t->n + (size_t)n < t->cap)
			break;
		t->cap = (t->cap + (size_t)n + 1) * 2;
		t->s = realloc(t->s, t->cap);
		ASSERT(t->s, "out of memory");
	}
	t->n += (size_t)n;
}

static const char *const ops[] = { "==", "!=", "<", "<=", ">", ">=" };

/*
 * 256 rules of 256 pools: each rule tests the source (IPv4 and IPv6
 * halves of the test space), the destination, the source port and four
 * payload bytes (the first picks the rule), so every rule is a candidate
 * of every packet and the program tries them all in order.
 */
static void limits_config(struct text *t, struct gen_rng *r)
{
	int i, op;

	add(t, "service lim {\n  listen udp [::]:0\n  backend ebpf\n");
	for (i = 0; i < NPOOLS; i++)
		add(t, "  pool p%d 1\n", i);
	for (i = 0; i < SKS_MAX_RULES; i++) {
		add(t, "  rule from 198.51.100.%d/25, 2001:db8::%s/65",
		    i % 2 ? 128 : 0, i % 2 ? "8000:0:0:0" : "");
		add(t, " to 198.51.100.0/24, 2001:db8::/64");
		add(t, " sport %s", i % 3 ? "1024-65535" : "20000-40000");
		add(t, " payload 0 u8 == %d", i);
		add(t, " payload 1 u8 & 0x80 == 0x80");
		/* of any kind, mostly true of random bytes; the datagrams
		 * plant the value now and then */
		op = (int)gen_below(r, 6);
		add(t, " payload 2 u16 %s %u", ops[op],
		    op == 2 || op == 3 ? 0xf000 + gen_below(r, 0x1000) :
		    op == 4 || op == 5 ? gen_below(r, 0x1000) :
					 gen_below(r, 0x10000));
		add(t, " payload 4 u8 != 255");
		add(t, " pool p%d%s\n", i, i % 4 ? "" : " by payload 5:1");
	}
	add(t, "  default hash\n}\n");
}

static struct sksteer_config *parse(const char *text)
{
	struct sksteer_config *cfg;

	tl_messages_reset();
	cfg = sksteer_config__parse_string(text, strlen(text), "lim.conf",
					   NULL);
	ASSERT(cfg, "parse: %s", tl_messages());
	return cfg;
}

static void need_ebpf(void)
{
	char why[256];

	if (sksteer_probe_ebpf(why, sizeof(why)))
		SKIP("eBPF backend unavailable here: %s", why);
}

/* Instructions the verifier went through to load the program for @svc. */
static unsigned int verified_insns(const struct sksteer_service *svc)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);
	struct sk_layout l;
	struct sk_ebpf *e;

	ASSERT(!sk_layout_declared(svc, &l), "layout");
	tl_messages_reset();
	e = sk_ebpf_load(svc, &l, NULL);
	ASSERT(e, "loading the program for '%s': %s: %s",
	       sksteer_service__name(svc), strerror(errno), tl_messages());
	ASSERT(!bpf_obj_get_info_by_fd(sk_ebpf_prog_fd(e), &info, &len),
	       "BPF_OBJ_GET_INFO_BY_FD: %s", strerror(errno));
	sk_ebpf_free(e);
	sk_layout_free(&l);
	return info.verified_insns;
}

static unsigned int text_insns(const char *text)
{
	struct sksteer_config *cfg = parse(text);
	unsigned int n = verified_insns(sksteer_config__service(cfg, 0));

	sksteer_config__free(cfg);
	return n;
}

/* A datagram of @payload from @src:@sport to @dst:@port. */
static void send_from(const char *src, uint16_t sport, const char *dst,
		      uint16_t port, const uint8_t *payload, size_t len)
{
	struct sockaddr_storage s = {}, d = {};
	bool v6 = strchr(src, ':');
	socklen_t sl =
		v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int fd, one = 1;

	if (v6) {
		struct sockaddr_in6 *a = (void *)&s, *b = (void *)&d;

		a->sin6_family = b->sin6_family = AF_INET6;
		a->sin6_port = htons(sport);
		b->sin6_port = htons(port);
		ASSERT(inet_pton(AF_INET6, src, &a->sin6_addr) == 1 &&
			       inet_pton(AF_INET6, dst, &b->sin6_addr) == 1,
		       "address");
	} else {
		struct sockaddr_in *a = (void *)&s, *b = (void *)&d;

		a->sin_family = b->sin_family = AF_INET;
		a->sin_port = htons(sport);
		b->sin_port = htons(port);
		ASSERT(inet_pton(AF_INET, src, &a->sin_addr) == 1 &&
			       inet_pton(AF_INET, dst, &b->sin_addr) == 1,
		       "address");
	}
	fd = socket(s.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT(fd >= 0, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ASSERT(!bind(fd, (struct sockaddr *)&s, sl), "bind %s:%u: %s", src,
	       sport, strerror(errno));
	ASSERT(sendto(fd, payload, len, 0, (struct sockaddr *)&d, sl) ==
		       (ssize_t)len,
	       "sendto: %s", strerror(errno));
	close(fd);
}

/* The pool whose socket got the datagram, -1: none, -2: several. */
static int landing(const int *fds, int n)
{
	struct pollfd pfd[NPOOLS];
	char buf[64];
	int i, found = -1;

	for (i = 0; i < n; i++)
		pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	if (poll(pfd, (nfds_t)n, 2000) <= 0)
		return -1;
	for (i = 0; i < n; i++)
		while (recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT) >= 0)
			found = found == -1 ? i : -2;
	return found;
}

/* The reference matcher's pool for the datagram, -1: the kernel's hash. */
static int reference(const struct sksteer_service *svc, const char *src,
		     const char *dst, uint16_t sport, uint16_t port,
		     const uint8_t *pl, size_t plen, int *rule)
{
	SKSTEER_OPTS(sksteer_flow, f, .sport = sport, .dport = port,
		     .payload = pl, .payload_len = plen);
	struct sk_layout lay;
	struct sk_match m;
	struct sk_pkt pkt;
	uint8_t buf[256];

	f.family = strchr(src, ':') ? AF_INET6 : AF_INET;
	ASSERT(inet_pton(f.family, src, &f.src) == 1 &&
		       inet_pton(f.family, dst, &f.dst) == 1,
	       "address");
	ASSERT(sk_pkt_build(&f, IPPROTO_UDP, buf, sizeof(buf), &pkt) > 0,
	       "building the packet");
	ASSERT(!sk_layout_declared(svc, &lay), "layout");
	ASSERT(!sk_match(svc, &lay, &pkt, &m), "sk_match");
	sk_layout_free(&lay);
	*rule = m.rule;
	return m.target.kind == SKSTEER_TARGET_POOL ? m.target.pool : -1;
}

/*
 * The program at the limits loads and steers: datagrams whose first
 * payload byte names a rule, from sources that meet its conditions or
 * not, land where the matcher says.
 */
TEST_TIMEOUT(steer_at_limits, 120)
{
	static const char *const srcs[] = {
		"198.51.100.7",		"198.51.100.200",	"2001:db8::7",
		"2001:db8::8000:0:0:1", "2001:db8::ffff:1:2:3", "203.0.113.9",
	};
	SKSTEER_OPTS(sksteer_group_opts, opts, .backend = SKSTEER_BACKEND_EBPF);
	struct gen_rng r = { 0x11a175 };
	struct text t = {};
	struct sksteer_config *cfg;
	const struct sksteer_service *svc;
	struct sksteer_group *g;
	int fds[NPOOLS], i, by_rule = 0, late = 0, wrong = 0;
	uint16_t port;
	size_t ntests = 0;

	need_ebpf();
	tl_enter_netns();
	tl_sh("ip route add local 198.51.100.0/24 dev lo && "
	      "ip route add local 203.0.113.0/24 dev lo && "
	      "ip -6 route add local 2001:db8::/64 dev lo");
	tl_sh("sysctl -qw net.ipv6.ip_nonlocal_bind=1");
	limits_config(&t, &r);
	cfg = parse(t.s);
	svc = sksteer_config__service(cfg, 0);
	ASSERT(sksteer_service__pool_cnt(svc) == NPOOLS, "pools");
	for (i = 0; i < (int)svc->nrules; i++)
		ntests += svc->rules[i].npay;
	ASSERT(svc->nrules == SKS_MAX_RULES && ntests == SKS_MAX_TESTS,
	       "%zu rules, %zu payload tests", svc->nrules, ntests);

	tl_messages_reset();
	CHECK(!sk_ebpf_verify(svc, NULL), "sk_ebpf_verify: %s", tl_messages());
	g = sksteer_group__create(svc, &opts);
	ASSERT(g, "sksteer_group__create: %s: %s", strerror(errno),
	       tl_messages());
	port = (uint16_t)sksteer_group__port(g);
	for (i = 0; i < NPOOLS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "p%d", i);
		fds[i] = sksteer_group__fd(g, name, 0);
		ASSERT(fds[i] >= 0, "no socket for pool %s", name);
	}
	for (i = 0; i < NPKTS; i++) {
		const char *src = srcs[gen_below(&r, ARRAY_SIZE(srcs))], *dst;
		uint16_t sport =
			(uint16_t)(10000 + i * 100 + gen_below(&r, 100));
		uint8_t pl[8];
		int want, got, rule, k;

		for (k = 0; k < 8; k++)
			pl[k] = (uint8_t)gen_u32(&r);
		/* late rules most of the time: every rule before them is
		 * tried first */
		pl[0] = (uint8_t)(gen_below(&r, 3) ? 192 + gen_below(&r, 64) :
						     gen_below(&r, 256));
		/* mostly from the half of the space the rule wants */
		if (gen_below(&r, 4))
			src = srcs[(pl[0] & 1) + (gen_below(&r, 2) ? 2 : 0)];
		dst = strchr(src, ':') ? "2001:db8::1" : "198.51.100.1";
		if (gen_below(&r, 4))
			pl[1] |= 0x80;
		if (gen_below(&r, 3) == 0) {
			uint32_t v = svc->rules[pl[0]].pay[2].value;

			pl[2] = (uint8_t)(v >> 8);
			pl[3] = (uint8_t)v;
		}
		want = reference(svc, src, dst, sport, port, pl, sizeof(pl),
				 &rule);
		send_from(src, sport, dst, port, pl, sizeof(pl));
		got = landing(fds, NPOOLS);
		by_rule += rule >= 0;
		late += rule >= 192;
		if (want >= 0 ? got == want : got >= 0)
			continue;
		tl_fail(__FILE__, __LINE__,
			"%s:%u -> %s payload %02x%02x%02x%02x%02x%02x: "
			"expected %s%d (rule %d), landed on pool %d",
			src, sport, dst, pl[0], pl[1], pl[2], pl[3], pl[4],
			pl[5], want >= 0 ? "pool " : "hash ", want, rule + 1,
			got);
		if (++wrong > 5)
			break;
	}
	fprintf(stderr,
		"%d datagrams, %d decided by a rule (%d by one of "
		"the last 64)\n",
		NPKTS, by_rule, late);
	CHECK(by_rule > NPKTS / 5 && late > NPKTS / 10,
	      "poor coverage: %d by a rule, %d by one of the last 64", by_rule,
	      late);
	sksteer_group__free(g);
	sksteer_config__free(cfg);
	free(t.s);
}

/* A service of @n rules with every kind of condition and four payload
 * tests each, in @t; returns its text. */
static const char *full_rules(struct text *t, struct gen_rng *r, int n)
{
	int i;

	add(t, "service c {\n  listen udp [::]:0\n  pool a 2\n  pool b 1\n");
	for (i = 0; i < n; i++)
		add(t,
		    "  rule from 198.51.100.%u/32, 2001:db8::%x sport "
		    "%d-60000 payload 0 u8 == %d payload 1 u8 < 9 "
		    "payload 2 u16 != 1 payload 4 u32 & 0xff0 >= 16 "
		    "pool %s\n",
		    gen_below(r, 256), gen_below(r, 65536), 1000 + i, i,
		    i % 2 ? "a" : "b by payload 3:1");
	add(t, "}\n");
	return t->s;
}

/*
 * Configurations the verifier once gave up on ("BPF program is too
 * large"), far below the limits; and the verifier's work at the limits,
 * which grows with the rules no faster than linearly.
 */
TEST(verifier_work)
{
	struct gen_rng r = { 0x5e7 };
	unsigned int n64, n256, n;
	struct text t = {};
	int i;

	need_ebpf();
	add(&t, "service a {\n  listen udp [::]:0\n  pool a 2\n");
	for (i = 0; i < 80; i++)
		add(&t,
		    "  rule from 198.51.100.0/24 payload 0 u8 == %d pool a\n",
		    i);
	add(&t, "}\n");
	n = text_insns(t.s);
	fprintf(stderr, "80 rules with from and a payload test: %u\n", n);
	t.n = 0;
	add(&t, "service b {\n  listen udp [::]:0\n  pool a 2\n");
	for (i = 0; i < 56; i++)
		add(&t, "  rule sport %d-%d payload %d u16 > %d pool a\n",
		    1000 + i, 30000 + i, i % 8, i * 100);
	add(&t, "}\n");
	n = text_insns(t.s);
	fprintf(stderr, "56 rules with sport and a payload test: %u\n", n);

	/* the same kind of rules, 64 and 256 of them */
	n64 = text_insns(full_rules((t.n = 0, &t), &r, 64));
	n256 = text_insns(full_rules((t.n = 0, &t), &r, 256));
	limits_config((t.n = 0, &t), &r);
	n = text_insns(t.s);
	fprintf(stderr,
		"verified instructions: 64 rules %u, 256 rules %u, at the "
		"limits %u (the kernel stops at 1000000)\n",
		n64, n256, n);
	CHECK(n256 <= 4 * n64 + 10000,
	      "the verifier's work grows faster than the rules: 64 rules "
	      "%u instructions, 256 rules %u",
	      n64, n256);
	CHECK(n < 250000,
	      "%u instructions to verify at the limits: little headroom "
	      "below the kernel's 1000000",
	      n);
	free(t.s);
}

/* sk_ebpf_verify(): what is refused, and that the message says why and
 * for which service. */
TEST(verify_refusals)
{
	struct sksteer_config *cfg;
	struct text t = {};
	int i, err;

	need_ebpf();
	add(&t, "service big {\n  listen udp [::]:0\n  pool a 1\n  set s {\n");
	for (i = 0; i < 5000; i++)
		add(&t, "    2001:db8:%x:%x::/64\n", i * 7, i);
	add(&t, "  }\n  rule from @s pool a\n}\n");
	cfg = parse(t.s);
	tl_messages_reset();
	CHECK(!sk_ebpf_verify(sksteer_config__service(cfg, 0), NULL),
	      "5000 prefixes refused: %s", tl_messages());
	/* tables over the budget: refused before the kernel sees them */
	sk_tables_budget = 64 << 10;
	tl_messages_reset();
	err = sk_ebpf_verify(sksteer_config__service(cfg, 0), NULL);
	sk_tables_budget = SK_TABLES_MAX_BYTES;
	CHECK(err == -E2BIG, "over the table budget: %d", err);
	CHECK(strstr(tl_messages(), "service 'big'") &&
		      strstr(tl_messages(), "MiB"),
	      "the message: %s", tl_messages());
	sksteer_config__free(cfg);
	free(t.s);
}

/* The datagram from 127.0.0.1:@sport to the group's port: which of @fds
 * (one per pool) received it, or -1. */
static int which_socket(const int *fds, int n, int port, int sport)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct pollfd p[2];
	int c, i, one = 1;
	char buf[8];

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c = socket(AF_INET, SOCK_DGRAM, 0);
	ASSERT(c >= 0, "socket: %s", strerror(errno));
	setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_port = htons((uint16_t)sport);
	ASSERT(!bind(c, (struct sockaddr *)&a, sizeof(a)), "bind %d: %s", sport,
	       strerror(errno));
	a.sin_port = htons((uint16_t)port);
	ASSERT(sendto(c, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)) == 1,
	       "sendto: %s", strerror(errno));
	close(c);
	for (i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	if (poll(p, (nfds_t)n, 2000 * tl_slow()) <= 0)
		return -1;
	for (i = 0; i < n; i++)
		if (p[i].revents & POLLIN) {
			ASSERT(recv(fds[i], buf, sizeof(buf), 0) == 1, "recv");
			return i;
		}
	return -1;
}

/*
 * backend auto never fails where classic BPF works: a service the eBPF
 * backend refuses (here: more rules than it takes; on a kernel whose
 * verifier refuses the program, the same path) runs on classic BPF, says
 * once why and what it loses, and steers by its rules. An explicit ebpf
 * still fails.
 */
TEST(auto_falls_back_to_cbpf)
{
	SKSTEER_OPTS(sksteer_group_opts, ebpf_opts,
		     .backend = SKSTEER_BACKEND_EBPF);
	const struct sksteer_service *svc;
	struct sksteer_config *cfg;
	struct sksteer_group *g;
	struct text t = {};
	char why[1024];
	int i, b, fds[2];

	need_ebpf();
	tl_enter_netns();
	add(&t, "service many {\n  listen udp 127.0.0.1:0\n");
	add(&t, "  pool a 1\n  pool b 1\n");
	for (i = 0; i < SKS_MAX_RULES; i++)
		add(&t, "  rule sport %d pool a\n", 1000 + i);
	add(&t, "  rule sport 40000 pool b\n  default pool a\n}\n");
	cfg = parse(t.s);
	svc = sksteer_config__service(cfg, 0);

	b = sksteer_service__choose_backend(svc, SKSTEER_BACKEND_DEFAULT, why,
					    sizeof(why));
	CHECK(b == SKSTEER_BACKEND_CBPF, "auto chose %d: %s", b, why);
	CHECK(strstr(why, "257 rules") && strstr(why, "drop targets") &&
		      strstr(why, "stable socket identity") &&
		      strstr(why, "live counters"),
	      "the reason: %s", why);

	tl_messages_reset();
	g = sksteer_group__create(svc, NULL);
	ASSERT(g, "auto did not fall back: %s", tl_messages());
	CHECK(sksteer_group__backend(g) == SKSTEER_BACKEND_CBPF, "backend %d",
	      sksteer_group__backend(g));
	CHECK(strstr(tl_messages(), "backend auto: cbpf") &&
		      strstr(tl_messages(), "257 rules"),
	      "said: %s", tl_messages());
	fds[0] = sksteer_group__fd(g, "a", 0);
	fds[1] = sksteer_group__fd(g, "b", 0);
	CHECK(which_socket(fds, 2, sksteer_group__port(g), 40000) == 1,
	      "sport 40000 not on pool b");
	CHECK(which_socket(fds, 2, sksteer_group__port(g), 1003) == 0,
	      "sport 1003 not on pool a");
	sksteer_group__free(g);

	tl_messages_reset();
	g = sksteer_group__create(svc, &ebpf_opts);
	CHECK(!g && errno == E2BIG, "explicit ebpf: %p, %s", (void *)g,
	      strerror(errno));
	CHECK(strstr(tl_messages(), "257 rules"), "said: %s", tl_messages());
	sksteer_group__free(g);
	sksteer_config__free(cfg);
	free(t.s);
}
