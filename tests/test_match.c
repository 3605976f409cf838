// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The reference matcher on hand-made cases whose answer follows from
 * sksteer.conf(5) alone, sksteer_service__eval_rule()'s explanations, and
 * sksteer_service__explain() with and without a program.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "testlib.h"

static const char example[] = "service web {\n"
			      "    listen tcp 0.0.0.0:1234\n"
			      "    pool line1 2 { congestion bbr; mark 0x1; }\n"
			      "    pool line2 2 { mark 0x2; }\n"
			      "    pool line3 1\n"
			      "    pool rest  1\n"
			      "    set mobile { 203.0.113.0/25 }\n"
			      "    rule to 198.51.100.1            pool line1\n"
			      "    rule to 198.51.100.2            pool line2\n"
			      "    rule from @mobile               pool line3\n"
			      "    rule payload 0 u8 & 0x3 == 1    pool rest\n"
			      "    default hash\n"
			      "}\n";

static struct sksteer_config *parse(const char *text)
{
	struct sksteer_config *cfg;

	tl_messages_reset();
	cfg = sksteer_config__parse_string(text, strlen(text), "t.conf", NULL);
	if (!cfg) {
		tl_fail(__FILE__, __LINE__, "parse: %s", tl_messages());
		tl_stop();
	}
	return cfg;
}

static uint32_t man_hash(const uint32_t *w, int n, uint16_t port)
{
	uint32_t h = port;
	int i;

	for (i = 0; i < n; i++)
		h = (h ^ w[i]) * 0x9e3779b1u;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return h;
}

static struct sksteer_flow flow4(const char *src, uint16_t sport,
				 const char *dst, const void *pay, size_t plen)
{
	struct sksteer_flow f = { .sz = sizeof(f), .family = AF_INET };

	inet_pton(AF_INET, src, &f.src);
	inet_pton(AF_INET, dst, &f.dst);
	f.sport = sport;
	f.dport = 1234;
	f.payload = pay;
	f.payload_len = plen;
	return f;
}

static struct sksteer_flow flow6(const char *src, uint16_t sport,
				 const char *dst, const void *pay, size_t plen)
{
	struct sksteer_flow f = { .sz = sizeof(f), .family = AF_INET6 };

	inet_pton(AF_INET6, src, &f.src);
	inet_pton(AF_INET6, dst, &f.dst);
	f.sport = sport;
	f.dport = 1234;
	f.payload = pay;
	f.payload_len = plen;
	return f;
}

/* The man page example, packet by packet, from the text of the man page:
 * explain without a program (the matcher) and with one (the compiled
 * program in the interpreter) must both give the answer worked out here. */
TEST(man_page_example)
{
	static const uint8_t p5[] = { 0x05 }, p2[] = { 0x02 };
	static const struct {
		const char *src, *dst;
		uint16_t sport;
		const uint8_t *pay;
		size_t plen;
		int rule;
		const char *pool; /* NULL: hash */
	} cases[] = {
		{ "203.0.113.5", "198.51.100.1", 40000, NULL, 0, 0, "line1" },
		{ "203.0.113.200", "198.51.100.2", 40001, NULL, 0, 1, "line2" },
		{ "203.0.113.5", "198.51.100.3", 40002, NULL, 0, 2, "line3" },
		{ "203.0.113.127", "198.51.100.3", 1, NULL, 0, 2, "line3" },
		{ "203.0.113.128", "198.51.100.3", 1, p5, 1, 3, "rest" },
		{ "198.51.100.9", "198.51.100.3", 7, p2, 1, -1, NULL },
		{ "198.51.100.9", "198.51.100.3", 7, NULL, 0, -1, NULL },
	};
	struct sksteer_config *cfg = parse(example);
	struct sksteer_service *svc = sksteer_config__service(cfg, 0);
	struct sksteer_prog *prog = sksteer_service__compile(svc, NULL);
	size_t i;

	ASSERT(prog, "compile: %s", strerror(errno));
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct sksteer_flow f =
			flow4(cases[i].src, cases[i].sport, cases[i].dst,
			      cases[i].pay, cases[i].plen);
		int pass;

		for (pass = 0; pass < 2; pass++) {
			struct sksteer_verdict v = { .sz = sizeof(v) };
			const struct sksteer_pool *want =
				cases[i].pool ? sksteer_service__find_pool(
							svc, cases[i].pool) :
						NULL;
			int err = sksteer_service__explain(
				svc, pass ? prog : NULL, &f, &v);
			uint32_t w = ntohl(f.src.s6_addr32[0]);
			int idx = want ? (int)(man_hash(&w, 1, f.sport) %
					       sksteer_pool__size(want)) :
					 -1;

			ASSERT(!err, "explain: %s", strerror(-err));
			CHECK(v.rule == cases[i].rule && v.pool == want &&
				      v.pool_index == idx &&
				      v.socket ==
					      (want ? (int)sksteer_pool__first(
							      want) +
							       idx :
						      -1) &&
				      v.kind == (want ? SKSTEER_TARGET_POOL :
							SKSTEER_TARGET_HASH),
			      "%s: %s:%u -> %s: rule %d pool %s[%d] socket %d, "
			      "want rule %d pool %s[%d]",
			      pass ? "program" : "matcher", cases[i].src,
			      cases[i].sport, cases[i].dst, v.rule,
			      v.pool ? sksteer_pool__name(v.pool) : "-",
			      v.pool_index, v.socket, cases[i].rule,
			      cases[i].pool ? cases[i].pool : "-", idx);
		}
	}
	sksteer_prog__free(prog);
	sksteer_config__free(cfg);
}

/* Version handling, ports found behind extension headers, fallbacks. */
TEST(matcher_semantics)
{
	static const char text[] =
		"service s {\n"
		"listen udp [::]:53\n"
		"pool a 3 { fallback pool b }\n"
		"pool b 2 { fallback hash }\n"
		"pool c 1\n"
		"rule sport 5353 pool c\n"
		"rule from 2001:db8::/32 pool a by payload 1:2\n"
		"rule from 198.51.100.0/24, 2001:db8::/32 pool b\n"
		"default pool a\n"
		"}\n";
	struct sksteer_config *cfg = parse(text);
	struct sksteer_service *svc = sksteer_config__service(cfg, 0);
	uint8_t b[200];
	struct sk_pkt pkt = { .buf = b };
	struct sk_layout l;
	struct sk_match m;
	uint32_t w[4];

	ASSERT(!sk_layout_declared(svc, &l), "layout");

	/* IPv4 on a dual-stack socket: from 198.51.100.7:5353 */
	memset(b, 0, sizeof(b));
	b[0] = 0x45;
	b[9] = IPPROTO_UDP;
	b[12] = 198, b[13] = 51, b[14] = 100, b[15] = 7;
	b[20] = 5353 >> 8, b[21] = 5353 & 0xff;
	pkt.len = pkt.payload_off = 28;
	ASSERT(!sk_match(svc, &l, &pkt, &m), "sk_match");
	CHECK(m.rule == 0 && m.target.kind == SKSTEER_TARGET_POOL &&
		      m.target.pool == 2 && m.pool_index == 0,
	      "IPv4 sport 5353: rule %d pool %d", m.rule, m.target.pool);
	/* IPv4 options move the port */
	b[0] = 0x46;
	memmove(b + 24, b + 20, 8);
	memset(b + 20, 1, 4);
	pkt.len = pkt.payload_off = 32;
	ASSERT(!sk_match(svc, &l, &pkt, &m), "sk_match");
	CHECK(m.rule == 0, "IPv4 with options: rule %d", m.rule);
	b[25] = 0x01; /* port 5121 */
	ASSERT(!sk_match(svc, &l, &pkt, &m), "sk_match");
	w[0] = 0xc6336407;
	CHECK(m.rule == 2 && m.target.pool == 1 &&
		      m.pool_index == (int)(man_hash(w, 1, 5121) % 2),
	      "IPv4 198.51.100.7:5121: rule %d pool %d idx %d", m.rule,
	      m.target.pool, m.pool_index);

	/* IPv6 from 2001:db8::1 behind four extension headers: the port is
	 * found; behind five it is not, and counts as 0 */
	memset(b, 0, sizeof(b));
	b[0] = 0x60;
	b[6] = 0; /* hop-by-hop */
	b[8] = 0x20, b[9] = 0x01, b[10] = 0x0d, b[11] = 0xb8, b[23] = 1;
	b[40] = 43, b[41] = 0; /* hop-by-hop, 8 bytes, next routing */
	b[48] = 44, b[49] = 1; /* routing, 16 bytes, next fragment */
	b[64] = 51; /* fragment, 8 bytes, next AH */
	b[72] = IPPROTO_UDP; /* AH, (1 + 2) * 4 = 12 bytes */
	b[73] = 1;
	b[84] = 5353 >> 8, b[85] = 5353 & 0xff;
	pkt.len = pkt.payload_off = 92;
	ASSERT(!sk_match(svc, &l, &pkt, &m), "sk_match");
	CHECK(m.rule == 0, "IPv6 behind 4 extension headers: rule %d", m.rule);
	/* a fifth one (destination options, 8 bytes) in front */
	memmove(b + 48, b + 40, 52);
	b[6] = 60;
	b[40] = 0, b[41] = 0;
	pkt.len = pkt.payload_off = 100;
	ASSERT(!sk_match(svc, &l, &pkt, &m), "sk_match");
	w[0] = 0x20010db8, w[1] = 0, w[2] = 0, w[3] = 1;
	/* rule 1 needs a 3-byte payload: none here, so rule 2 */
	CHECK(m.rule == 2 && m.target.pool == 1 &&
		      m.pool_index == (int)(man_hash(w, 4, 0) % 2),
	      "IPv6 behind 5 extension headers: rule %d pool %d idx %d, want "
	      "rule 2 with port 0",
	      m.rule, m.target.pool, m.pool_index);
	/* by payload: key 0x0102 = 258 mod 3 */
	b[101] = 1, b[102] = 2;
	pkt.len = 103;
	ASSERT(!sk_match(svc, &l, &pkt, &m), "sk_match");
	CHECK(m.rule == 1 && m.target.pool == 0 && m.pool_index == 258 % 3,
	      "by payload: rule %d pool %d idx %d", m.rule, m.target.pool,
	      m.pool_index);
	/* pool a empty: its fallback b, by the hash and not the key */
	l.pools[0].n = 0;
	ASSERT(!sk_match(svc, &l, &pkt, &m), "sk_match");
	CHECK(m.rule == 1 && m.target.pool == 1 &&
		      m.pool_index == (int)(man_hash(w, 4, 0) % 2),
	      "fallback: rule %d pool %d idx %d", m.rule, m.target.pool,
	      m.pool_index);
	/* b empty too: its fallback is hash */
	l.pools[1].n = 0;
	ASSERT(!sk_match(svc, &l, &pkt, &m), "sk_match");
	CHECK(m.rule == 1 && m.target.kind == SKSTEER_TARGET_HASH,
	      "fallback chain: rule %d kind %d", m.rule, m.target.kind);
	/* c empty: no fallback given means drop */
	l.pools[2].n = 0;
	b[6] = IPPROTO_UDP;
	b[40] = 5353 >> 8, b[41] = 5353 & 0xff;
	pkt.len = pkt.payload_off = 48;
	ASSERT(!sk_match(svc, &l, &pkt, &m), "sk_match");
	CHECK(m.rule == 0 && m.target.kind == SKSTEER_TARGET_DROP,
	      "empty pool without fallback: rule %d kind %d", m.rule,
	      m.target.kind);
	l.pools[0].n = 3;
	l.pools[1].n = 2;
	l.pools[2].n = 1;

	/* a version nibble of 5: no address, no port; the default (pool a)
	 * with h of nothing = 0 */
	b[0] = 0x50;
	ASSERT(!sk_match(svc, &l, &pkt, &m), "sk_match");
	CHECK(m.rule == -1 && m.target.pool == 0 && m.pool_index == 0,
	      "unknown version: rule %d pool %d idx %d", m.rule, m.target.pool,
	      m.pool_index);
	/* bad input */
	pkt.payload_off = pkt.len + 1;
	CHECK(sk_match(svc, &l, &pkt, &m) == -EINVAL, "payload_off > len");
	sk_layout_free(&l);
	sksteer_config__free(cfg);

	/* An IPv4-only service: an IPv6 packet has no address or port */
	{
		static const char t4[] = "service s {\n"
					 "listen tcp 0.0.0.0:80\n"
					 "pool a 1\n"
					 "pool b 1\n"
					 "rule from ::/0 pool a\n"
					 "rule sport 0-65535 pool a\n"
					 "default pool b\n"
					 "}\n";

		cfg = parse(t4);
		svc = sksteer_config__service(cfg, 0);
		ASSERT(!sk_layout_declared(svc, &l), "layout");
		memset(b, 0, sizeof(b));
		b[0] = 0x60;
		b[6] = IPPROTO_TCP;
		b[52] = 0x50;
		pkt.len = pkt.payload_off = 60;
		ASSERT(!sk_match(svc, &l, &pkt, &m), "sk_match");
		CHECK(m.rule == -1 && m.target.pool == 1,
		      "IPv6 packet on an IPv4 service: rule %d pool %d", m.rule,
		      m.target.pool);
		sk_layout_free(&l);
		sksteer_config__free(cfg);
	}
}

struct want_cond {
	enum sksteer_cond_kind kind;
	bool match;
	const char *detail;
};

static void check_conds(struct sksteer_service *svc, size_t rule,
			const struct sksteer_flow *f, const struct want_cond *w,
			int n, const char *what)
{
	struct sksteer_cond_eval ev[8];
	int got, i;

	memset(ev, 0, sizeof(ev));
	got = sksteer_service__eval_rule(svc, rule, f, ev, ARRAY_SIZE(ev));
	CHECK(got == n, "%s: %d conditions, want %d", what, got, n);
	for (i = 0; i < n && i < got; i++)
		CHECK(ev[i].kind == w[i].kind && ev[i].match == w[i].match &&
			      !strcmp(ev[i].detail, w[i].detail),
		      "%s: condition %d: kind %d match %d '%s', want kind %d "
		      "match %d '%s'",
		      what, i, ev[i].kind, ev[i].match, ev[i].detail, w[i].kind,
		      w[i].match, w[i].detail);
}

TEST(eval_rule_details)
{
	static const char text[] =
		"service s {\n"
		"listen udp [::]:53\n"
		"pool x 4\n"
		"set m { 198.51.100.0/25, 198.51.100.128/26 }\n"
		"set n { 203.0.113.0/25, 203.0.113.128/25 }\n"
		"rule sport 1024-65535 to @n from @m, 2001:db8::/32 "
		"payload 2 u16 >= 4 payload 0 u8 & 0x3 == 1 "
		"pool x by payload 1:2\n"
		"rule from 198.51.100.0/24 sport 53 pool x\n"
		"}\n";
	static const uint8_t pay3[] = { 0x05, 0x01, 0x02 },
			     pay4[] = { 0x06, 0x01, 0x02, 0x00 };
	struct sksteer_config *cfg = parse(text);
	struct sksteer_service *svc = sksteer_config__service(cfg, 0);
	struct sksteer_flow f;
	struct sksteer_cond_eval one;

	f = flow4("198.51.100.7", 5353, "203.0.113.9", pay3, 3);
	{
		const struct want_cond w[] = {
			{ SKSTEER_COND_SPORT, true,
			  "source port 5353 is in 1024-65535" },
			{ SKSTEER_COND_TO, true,
			  "203.0.113.9 is in 203.0.113.0/24" },
			{ SKSTEER_COND_FROM, true,
			  "198.51.100.7 is in 198.51.100.0-198.51.100.191" },
			{ SKSTEER_COND_PAYLOAD, false,
			  "payload has 3 bytes, the test needs 4" },
			{ SKSTEER_COND_PAYLOAD, true,
			  "payload[0] & 0x3 = 1 == 1" },
			{ SKSTEER_COND_KEY, true,
			  "key payload[1] u16 = 258: socket 2 of pool 'x' "
			  "(258 mod 4)" },
		};
		check_conds(svc, 0, &f, w, 6, "IPv4, short payload");
	}
	f = flow4("198.51.100.200", 80, "198.51.100.1", pay4, 4);
	{
		const struct want_cond w[] = {
			{ SKSTEER_COND_SPORT, false,
			  "source port 80 is not in 1024-65535" },
			{ SKSTEER_COND_TO, false,
			  "198.51.100.1 is not in any IPv4 prefix of the list" },
			{ SKSTEER_COND_FROM, false,
			  "198.51.100.200 is not in any IPv4 prefix of the "
			  "list" },
			{ SKSTEER_COND_PAYLOAD, true,
			  "payload[2] u16 = 512 >= 4" },
			{ SKSTEER_COND_PAYLOAD, false,
			  "payload[0] & 0x3 = 2, not == 1" },
			{ SKSTEER_COND_KEY, true,
			  "key payload[1] u16 = 258: socket 2 of pool 'x' "
			  "(258 mod 4)" },
		};
		check_conds(svc, 0, &f, w, 6, "IPv4, nothing matches");
	}
	f = flow6("2001:db8::1", 1024, "2001:db8::2", pay3, 1);
	{
		const struct want_cond w[] = {
			{ SKSTEER_COND_SPORT, true,
			  "source port 1024 is in 1024-65535" },
			{ SKSTEER_COND_TO, false,
			  "2001:db8::2: the list has no IPv6 prefix" },
			{ SKSTEER_COND_FROM, true,
			  "2001:db8::1 is in 2001:db8::/32" },
			{ SKSTEER_COND_PAYLOAD, false,
			  "payload has 1 byte, the test needs 4" },
			{ SKSTEER_COND_PAYLOAD, true,
			  "payload[0] & 0x3 = 1 == 1" },
			{ SKSTEER_COND_KEY, false,
			  "payload has 1 byte, the key needs 3" },
		};
		check_conds(svc, 0, &f, w, 6, "IPv6");
	}
	f = flow4("198.51.100.7", 53, "203.0.113.9", NULL, 0);
	{
		const struct want_cond w[] = {
			{ SKSTEER_COND_FROM, true,
			  "198.51.100.7 is in 198.51.100.0/24" },
			{ SKSTEER_COND_SPORT, true, "source port 53 is 53" },
		};
		check_conds(svc, 1, &f, w, 2, "rule 1");
	}
	f.sport = 54;
	{
		const struct want_cond w[] = {
			{ SKSTEER_COND_FROM, true,
			  "198.51.100.7 is in 198.51.100.0/24" },
			{ SKSTEER_COND_SPORT, false,
			  "source port 54 is not 53" },
		};
		check_conds(svc, 1, &f, w, 2, "rule 1, other port");
	}
	/* the count is returned also when @max is smaller */
	CHECK(sksteer_service__eval_rule(svc, 0, &f, &one, 1) == 6 &&
		      one.kind == SKSTEER_COND_SPORT,
	      "max 1");
	CHECK(sksteer_service__eval_rule(svc, 0, &f, NULL, 0) == 6, "max 0");
	CHECK(sksteer_service__eval_rule(svc, 2, &f, &one, 1) == -ENOENT,
	      "rule 2 does not exist");
	CHECK(sksteer_service__eval_rule(NULL, 0, &f, &one, 1) == -EINVAL,
	      "NULL service");
	sksteer_config__free(cfg);

	/* a family the service does not receive */
	{
		static const char t6[] =
			"service s {\n"
			"listen udp [::]:53 v6only\n"
			"pool x 1\n"
			"rule from 198.51.100.0/24 sport 53 pool x\n"
			"}\n";
		const struct want_cond w[] = {
			{ SKSTEER_COND_FROM, false,
			  "service 's' does not receive IPv4 packets: no "
			  "source address to match" },
			{ SKSTEER_COND_SPORT, false,
			  "service 's' does not receive IPv4 packets: no "
			  "source port to match" },
		};

		cfg = parse(t6);
		svc = sksteer_config__service(cfg, 0);
		f = flow4("198.51.100.7", 53, "203.0.113.9", NULL, 0);
		check_conds(svc, 0, &f, w, 2, "IPv4 on a v6only service");
		sksteer_config__free(cfg);
	}
}

/* A payload longer than any IP packet is refused before anything is
 * allocated or copied: the length must not wrap the buffer's size. */
TEST(oversized_payload)
{
	static const char text[] = "service s {\n"
				   "listen udp 0.0.0.0:53\n"
				   "pool x 1\n"
				   "rule payload 0 u8 == 1 pool x\n"
				   "}\n";
	static const uint8_t byte = 1;
	struct sksteer_config *cfg = parse(text);
	struct sksteer_service *svc = sksteer_config__service(cfg, 0);
	const size_t lens[] = { 65536, SIZE_MAX - 63, SIZE_MAX };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		struct sksteer_flow f = flow4("198.51.100.7", 53, "203.0.113.9",
					      &byte, lens[i]);
		struct sksteer_verdict v = { .sz = sizeof(v) };
		struct sksteer_cond_eval ev[4];
		int err;

		err = sksteer_service__explain(svc, NULL, &f, &v);
		CHECK(err == -EMSGSIZE, "explain, payload_len %zu: %d", lens[i],
		      err);
		err = sksteer_service__eval_rule(svc, 0, &f, ev,
						 ARRAY_SIZE(ev));
		CHECK(err == -EMSGSIZE, "eval_rule, payload_len %zu: %d",
		      lens[i], err);
	}
	sksteer_config__free(cfg);
}

/* A set far too large for classic BPF is refused as such, with the size
 * it would at least need, before the program is laid out. */
TEST(cbpf_too_large)
{
	size_t cap = 64 + 20000 * 32, n, i;
	char *text = malloc(cap);
	struct sksteer_config *cfg;
	struct sksteer_prog *prog;

	ASSERT(text, "malloc");
	n = (size_t)snprintf(text, cap, "set big {\n");
	for (i = 0; i < 20000; i++)
		n += (size_t)snprintf(text + n, cap - n,
				      " 2001:db8:%zx:%zx::1/128\n", i >> 8,
				      (i & 0xff) * 2);
	snprintf(text + n, cap - n,
		 "}\nservice s {\n listen udp [::]:53 v6only\n pool a 1\n"
		 " pool b 1\n rule from @big pool a\n default pool b\n}\n");
	cfg = parse(text);
	tl_messages_reset();
	prog = sksteer_service__compile(sksteer_config__service(cfg, 0), NULL);
	CHECK(!prog && errno == E2BIG, "compile: %p, errno %d", (void *)prog,
	      errno);
	CHECK(strstr(tl_messages(), "needs at least") &&
		      strstr(tl_messages(), "use 'backend ebpf'"),
	      "message: %s", tl_messages());
	sksteer_prog__free(prog);
	sksteer_config__free(cfg);
	free(text);
}
