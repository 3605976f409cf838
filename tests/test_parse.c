// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Parser tests: the man page example parses into the model it describes;
 * every kind of mistake gives its own error at the right line and column
 * (the user's only guide to what is wrong); prefix files load in linear
 * time.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "testlib.h"

/* prefix files for the tests, made once by main() and removed after */
static char dir[64];

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static struct sksteer_config *parse(const char *text)
{
	struct sksteer_parse_opts opts = { .sz = sizeof(opts),
					   .base_dir = dir };

	tl_messages_reset();
	return sksteer_config__parse_string(text, strlen(text), "t.conf",
					    &opts);
}

static const char web_conf[] =
	"# the example of sksteer.conf(5)\n"
	"service web {\n"
	"    listen tcp 0.0.0.0:1234\n"
	"    pool line1 2 { congestion bbr; mark 0x1; }\n"
	"    pool line2 2 { mark 0x2; }\n"
	"    pool line3 1\n"
	"    pool rest  1\n"
	"    set mobile file \"mobile-prefixes.txt\"\n"
	"    rule to 198.51.100.1            pool line1\n"
	"    rule to 198.51.100.2            pool line2\n"
	"    rule from @mobile               pool line3\n"
	"    rule payload 0 u8 & 0x3 == 1    pool rest\n"
	"    default hash\n"
	"}\n";

static const char mobile_txt[] = "# mobile carriers\n"
				 "203.0.113.0/25\n"
				 "\n"
				 "203.0.113.128/26   # adjacent: merged\n"
				 "  2001:db8:100::/40\n"
				 "198.51.100.64/26\n"
				 "198.51.100.64/27\n";

TEST(man_page_example)
{
	struct sksteer_config *cfg;
	struct sksteer_service *svc;
	const struct sockaddr_in *sin;
	const struct sk_rule *r;
	char path[256];
	socklen_t alen;
	static const struct {
		const char *name;
		unsigned int size, first;
	} pools[] = { { "line1", 2, 0 },
		      { "line2", 2, 2 },
		      { "line3", 1, 4 },
		      { "rest", 1, 5 } };
	size_t i;

	snprintf(path, sizeof(path), "%s/web.conf", dir);
	tl_messages_reset();
	cfg = sksteer_config__parse_file(path, NULL);
	ASSERT(cfg, "parse: %s", tl_messages());
	CHECK(!strstr(tl_messages(), "error"), "messages: %s", tl_messages());
	ASSERT(sksteer_config__service_cnt(cfg) == 1, "services: %zu",
	       sksteer_config__service_cnt(cfg));
	svc = sksteer_config__find_service(cfg, "web");
	ASSERT(svc, "no service 'web'");
	CHECK(sksteer_service__protocol(svc) == IPPROTO_TCP, "protocol");
	sin = (const struct sockaddr_in *)sksteer_service__listen_addr(svc,
								       &alen);
	CHECK(alen == sizeof(*sin) && sin->sin_family == AF_INET &&
		      sin->sin_addr.s_addr == 0 && ntohs(sin->sin_port) == 1234,
	      "listen address");
	CHECK(svc->recv4 && !svc->recv6 && !sksteer_service__dual_stack(svc),
	      "0.0.0.0 receives IPv4 only");
	CHECK(sksteer_service__backend(svc) == SKSTEER_BACKEND_AUTO,
	      "backend %d", sksteer_service__backend(svc));
	CHECK(sksteer_service__socket_cnt(svc) == 6, "sockets: %u",
	      sksteer_service__socket_cnt(svc));
	ASSERT(sksteer_service__pool_cnt(svc) == 4, "pools: %zu",
	       sksteer_service__pool_cnt(svc));
	for (i = 0; i < ARRAY_SIZE(pools); i++) {
		const struct sksteer_pool *p = sksteer_service__pool(svc, i);

		CHECK(!strcmp(sksteer_pool__name(p), pools[i].name) &&
			      sksteer_pool__size(p) == pools[i].size &&
			      sksteer_pool__first(p) == pools[i].first &&
			      sksteer_service__find_pool(svc, pools[i].name) ==
				      p,
		      "pool %zu: %s %u first %u, want %s %u first %u", i,
		      sksteer_pool__name(p), sksteer_pool__size(p),
		      sksteer_pool__first(p), pools[i].name, pools[i].size,
		      pools[i].first);
		/* no fallback option: drop */
		CHECK(p->fallback.kind == SKSTEER_TARGET_DROP,
		      "pool %s fallback %d", p->name, p->fallback.kind);
	}
	CHECK(svc->pools[0].opts.has_congestion &&
		      !strcmp(svc->pools[0].opts.congestion, "bbr") &&
		      svc->pools[0].opts.has_mark &&
		      svc->pools[0].opts.mark == 1 &&
		      svc->pools[1].opts.has_mark &&
		      svc->pools[1].opts.mark == 2 &&
		      !svc->pools[1].opts.has_congestion &&
		      !svc->pools[2].opts.has_mark,
	      "pool options");

	ASSERT(sksteer_service__rule_cnt(svc) == 4, "rules: %zu",
	       sksteer_service__rule_cnt(svc));
	r = &svc->rules[0];
	CHECK(r->has_to && !r->has_from && !r->has_sport && !r->npay &&
		      r->to.n4 == 1 && r->to.v4[0].lo == 0xc6336401 &&
		      r->to.v4[0].hi == 0xc6336401 && !r->to.n6 &&
		      r->target.kind == SKSTEER_TARGET_POOL &&
		      r->target.pool == 0 && !r->target.by_payload,
	      "rule 0");
	CHECK(!strcmp(sksteer_service__rule_text(svc, 0),
		      "rule to 198.51.100.1 pool line1"),
	      "rule 0 text '%s'", sksteer_service__rule_text(svc, 0));
	CHECK(r->loc.line == 9 && r->loc.col == 5, "rule 0 at %d:%d",
	      r->loc.line, r->loc.col);
	r = &svc->rules[1];
	CHECK(r->has_to && r->to.v4[0].lo == 0xc6336402 && r->target.pool == 1,
	      "rule 1");
	/* the file's ranges: 203.0.113.0/25 + .128/26 merged, the /27
	 * inside the /26 absorbed */
	r = &svc->rules[2];
	CHECK(r->has_from && !r->has_to && r->target.pool == 2 &&
		      r->from.n4 == 2 && r->from.v4[0].lo == 0xc6336440 &&
		      r->from.v4[0].hi == 0xc633647f &&
		      r->from.v4[1].lo == 0xcb007100 &&
		      r->from.v4[1].hi == 0xcb0071bf && r->from.n6 == 1 &&
		      r->from.v6[0].lo == (sk_u128)0x20010db801 << 88 &&
		      r->from.v6[0].hi == (((sk_u128)0x20010db802 << 88) - 1),
	      "rule 2: %zu IPv4 ranges, %zu IPv6", r->from.n4, r->from.n6);
	CHECK(svc->nsets == 1 && svc->sets[0]->nprefixes == 5 &&
		      !strcmp(svc->sets[0]->name, "mobile") &&
		      svc->sets[0]->path &&
		      strstr(svc->sets[0]->path, "mobile-prefixes.txt"),
	      "set 'mobile'");
	r = &svc->rules[3];
	CHECK(!r->has_from && !r->has_to && r->npay == 1 &&
		      r->pay[0].off == 0 && r->pay[0].width == 1 &&
		      r->pay[0].has_mask && r->pay[0].mask == 3 &&
		      r->pay[0].cmp == SK_CMP_EQ && r->pay[0].value == 1 &&
		      r->target.pool == 3,
	      "rule 3");
	CHECK(!strcmp(sksteer_service__rule_text(svc, 3),
		      "rule payload 0 u8 & 0x3 == 1 pool rest"),
	      "rule 3 text '%s'", sksteer_service__rule_text(svc, 3));
	CHECK(svc->deflt.kind == SKSTEER_TARGET_HASH, "default");
	sksteer_config__free(cfg);
}

/* Everything else the grammar has, in one valid file. */
TEST(valid_everything)
{
	static const char text[] =
		"backend cbpf\n"
		"set top { 198.51.100.0/24,\n"
		"          2001:db8::/32 }\n"
		"service u {\n"
		"  listen udp [::]:5353; backend ebpf\n"
		"  pool a 3 { pktinfo on; tos 0x10; priority 5; rcvbuf 4m; "
		"sndbuf 65536; pacing-rate 100mbit; fallback pool b }\n"
		"  pool b 1 { fallback hash }\n"
		"  set local { @top, 203.0.113.0/24 }\n"
		"  rule from @local, 2001:db8:1::/48 to 198.51.100.1 sport 53 "
		"payload 4 u32 & 0xffff0000 != 0x10000 payload 65535 u8 >= 7 "
		"pool a by payload 8:4\n"
		"  rule sport 1024-65535 hash\n"
		"  rule drop\n"
		"  default pool b\n"
		"}\n"
		"service t { listen tcp [2001:db8::1]:0; pool x 4096 { backlog 10; "
		"fastopen 5; defer-accept 3 }; }\n";
	struct sksteer_config *cfg = parse(text);
	struct sksteer_service *u, *t;
	const struct sk_rule *r;

	ASSERT(cfg, "parse: %s", tl_messages());
	ASSERT(sksteer_config__service_cnt(cfg) == 2, "services");
	u = sksteer_config__find_service(cfg, "u");
	t = sksteer_config__find_service(cfg, "t");
	ASSERT(u && t, "services u and t");
	CHECK(u->recv4 && u->recv6 && sksteer_service__dual_stack(u),
	      "[::] is dual-stack");
	CHECK(!t->recv4 && t->recv6, "[2001:db8::1] is IPv6 only");
	CHECK(u->backend == SKSTEER_BACKEND_EBPF &&
		      t->backend == SKSTEER_BACKEND_CBPF,
	      "backends %d %d", u->backend, t->backend);
	CHECK(u->pools[0].opts.pktinfo && u->pools[0].opts.tos == 0x10 &&
		      u->pools[0].opts.priority == 5 &&
		      u->pools[0].opts.rcvbuf == 4 << 20 &&
		      u->pools[0].opts.sndbuf == 65536 &&
		      u->pools[0].opts.pacing_rate == 12500000 &&
		      u->pools[0].fallback.kind == SKSTEER_TARGET_POOL &&
		      u->pools[0].fallback.pool == 1 &&
		      u->pools[1].fallback.kind == SKSTEER_TARGET_HASH,
	      "pool options of u");
	CHECK(t->pools[0].size == 4096 && t->pools[0].opts.backlog == 10 &&
		      t->pools[0].opts.fastopen == 5 &&
		      t->pools[0].opts.defer_accept == 3,
	      "pool options of t");
	ASSERT(u->nrules == 3, "rules of u: %zu", u->nrules);
	r = &u->rules[0];
	CHECK(r->has_from && r->from.n4 == 2 && r->from.n6 == 1 &&
		      r->from.v6[0].lo == (sk_u128)0x20010db8 << 96 &&
		      r->has_to && r->to.n4 == 1 && r->has_sport &&
		      r->sport_lo == 53 && r->sport_hi == 53 && r->npay == 2 &&
		      r->pay[0].off == 4 && r->pay[0].width == 4 &&
		      r->pay[0].mask == 0xffff0000 &&
		      r->pay[0].cmp == SK_CMP_NE &&
		      r->pay[0].value == 0x10000 && r->pay[1].off == 65535 &&
		      r->pay[1].cmp == SK_CMP_GE && r->target.by_payload &&
		      r->target.key_off == 8 && r->target.key_width == 4,
	      "rule 0 of u");
	CHECK(u->rules[1].sport_lo == 1024 && u->rules[1].sport_hi == 65535 &&
		      u->rules[1].target.kind == SKSTEER_TARGET_HASH,
	      "rule 1 of u");
	CHECK(u->rules[2].target.kind == SKSTEER_TARGET_DROP, "rule 2 of u");
	CHECK(u->deflt.kind == SKSTEER_TARGET_POOL && u->deflt.pool == 1,
	      "default of u");
	sksteer_config__free(cfg);
}

/* One mistake each: the message and where it points. "%s" in a location
 * stands for the directory of the prefix files. */
static const struct {
	const char *what;
	const char *text;
	const char *loc;
	const char *msg;
	bool many; /* more than this one error is expected */
} error_cases[] = {
	{ "bad prefix",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "rule from 198.51.100.300 pool a\n}\n",
	  "t.conf:4:11", "'198.51.100.300' is not an IPv4 or IPv6 address" },
	{ "host bits set",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "rule from 203.0.113.0/24, 198.51.100.1/24 pool a\n}\n",
	  "t.conf:4:27",
	  "host bits set in '198.51.100.1/24' (did you mean 198.51.100.0/24?)" },
	{ "host bits set, IPv6",
	  "set m { 2001:db8::1/32 }\nservice s {\nlisten tcp [::]:80\n"
	  "pool a 1\n}\n",
	  "t.conf:1:9",
	  "host bits set in '2001:db8::1/32' (did you mean 2001:db8::/32?)" },
	{ "IPv4-mapped",
	  "service s {\nlisten tcp [::]:80\npool a 1\n"
	  "rule to ::ffff:198.51.100.1 pool a\n}\n",
	  "t.conf:4:9",
	  "'::ffff:198.51.100.1' is an IPv4-mapped IPv6 address" },
	{ "prefix length out of range",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "rule to 198.51.100.0/33 pool a\n}\n",
	  "t.conf:4:22", "prefix length 33 is out of range for IPv4 (0-32)" },
	{ "prefix length out of range, IPv6",
	  "set m {\n  2001:db8::/129\n}\nservice s {\nlisten tcp [::]:80\n"
	  "pool a 1\n}\n",
	  "t.conf:2:14", "prefix length 129 is out of range for IPv6 (0-128)" },
	{ "bad prefix in a set over several lines",
	  "service s {\n  set m {\n    198.51.100.0/24\n    2001:db8::/129\n"
	  "  }\n  listen tcp 0.0.0.0:80\n  pool a 1\n}\n",
	  "t.conf:4:16", "prefix length 129 is out of range for IPv6 (0-128)" },
	{ "bad prefix in a list going on over lines",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "rule from 198.51.100.0/24,\n  198.51.100.1/24,\n  203.0.113.0/24 "
	  "pool a\n}\n",
	  "t.conf:5:3",
	  "host bits set in '198.51.100.1/24' (did you mean 198.51.100.0/24?)" },
	{ "unknown pool",
	  "service web {\nlisten tcp 0.0.0.0:80\npool line1 1\n"
	  "rule to 198.51.100.1 pool line9\n}\n",
	  "t.conf:4:27", "unknown pool 'line9' in service 'web'" },
	{ "unknown pool in a fallback",
	  "service web {\nlisten tcp 0.0.0.0:80\n"
	  "pool line1 1 { fallback pool nope }\n}\n",
	  "t.conf:3:30", "unknown pool 'nope' in service 'web'" },
	{ "unknown set",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "rule from 198.51.100.0/24, @nope pool a\n}\n",
	  "t.conf:4:28", "unknown set '@nope'" },
	{ "set used before its definition",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "rule from @later pool a\nset later { 198.51.100.0/24 }\n}\n",
	  "t.conf:4:11",
	  "unknown set '@later' (sets must be defined before they are used)" },
	{ "set of another service",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "set mine { 198.51.100.0/24 }\n}\n"
	  "service t {\nlisten tcp 0.0.0.0:81\npool a 1\n"
	  "rule from @mine pool a\n}\n",
	  "t.conf:9:11", "unknown set '@mine'" },
	{ "duplicate service",
	  "service web {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n"
	  "service web {\nlisten tcp 0.0.0.0:81\npool a 1\n}\n",
	  "t.conf:5:9", "service 'web' is already defined at line 1" },
	{ "duplicate pool",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n  pool a 2\n}\n",
	  "t.conf:4:8", "pool 'a' is already defined at line 3" },
	{ "duplicate set, top level and service",
	  "set m { 198.51.100.0/24 }\nservice s {\nlisten tcp 0.0.0.0:80\n"
	  "pool a 1\nset m { 203.0.113.0/24 }\n}\n",
	  "t.conf:5:5", "set 'm' is already defined at t.conf:1:5" },
	{ "duplicate set, top level",
	  "set m { 198.51.100.0/24 }\nset m { 203.0.113.0/24 }\n"
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n",
	  "t.conf:2:5", "set 'm' is already defined at t.conf:1:5" },
	{ "empty set",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\nset e { }\n}\n",
	  "t.conf:4:7", "set 'e' is empty" },
	{ "empty prefix file",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "set e file \"empty.txt\"\n}\n",
	  "t.conf:4:12", "set 'e' is empty" },
	{ "missing prefix file",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "  set e file \"nonexistent.txt\"\n}\n",
	  "t.conf:4:14",
	  "cannot read prefix file '%s/nonexistent.txt': No such file or "
	  "directory" },
	{ "prefix file is a directory",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "set e file \"subdir\"\n}\n",
	  "t.conf:4:12",
	  "cannot read prefix file '%s/subdir': a directory, not a regular "
	  "file" },
	{ "prefix file is a FIFO (refused at once, not read)",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "set f file \"fifo\"\n}\n",
	  "t.conf:4:12",
	  "cannot read prefix file '%s/fifo': a FIFO, not a regular file" },
	{ "prefix file is a device",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "set f file \"/dev/null\"\n}\n",
	  "t.conf:4:12",
	  "cannot read prefix file '/dev/null': a character device, not a "
	  "regular file" },
	{ "bad line in a prefix file",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "set b file \"bad.txt\"\n}\n",
	  "%s/bad.txt:3:3", "expected an IPv4 or IPv6 address", true },
	{ "bad prefix length in a prefix file",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "set b file \"bad.txt\"\n}\n",
	  "%s/bad.txt:5:13", "prefix length out of range for IPv4 (0-32)",
	  true },
	{ "two prefixes on a line of a prefix file",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "set b file \"bad.txt\"\n}\n",
	  "%s/bad.txt:6:16",
	  "unexpected text after the prefix (one prefix or range per line)",
	  true },
	{ "NUL byte in a prefix file",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "set n file \"nul.txt\"\n}\n",
	  "%s/nul.txt:2:7", "NUL byte", true },
	{ "a set whose file failed gives no 'unknown set' where it is used",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "set b file \"bad1.txt\"\nrule from @b pool a\nrule to @b pool a\n}\n",
	  "%s/bad1.txt:2:1", "expected an IPv4 or IPv6 address" },
	{ "a set with a bad prefix gives no 'unknown set' where it is used",
	  "set m { 198.51.100.0/33 }\nservice s {\nlisten tcp 0.0.0.0:80\n"
	  "pool a 1\nrule from @m pool a\n}\n",
	  "t.conf:1:22", "prefix length 33 is out of range for IPv4 (0-32)" },
	{ "an empty set gives no 'unknown set' where it is used",
	  "set m file \"empty.txt\"\nservice s {\nlisten tcp 0.0.0.0:80\n"
	  "pool a 1\nrule from @m pool a\n}\n",
	  "t.conf:1:12", "set 'm' is empty: no prefix in '%s/empty.txt'" },
	{ "an RIR filter that leaves nothing says what it looked for",
	  "set m file \"rir.txt\" format rir country ZZ family ipv6\n"
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n",
	  "t.conf:1:12",
	  "set 'm' is empty: no allocated or assigned IPv6 prefix of country "
	  "ZZ in '%s/rir.txt'" },
	{ "prefix file: unknown format",
	  "set m file \"a.txt\" format xml\n"
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n",
	  "t.conf:1:27", "expected 'list' or 'rir', got 'xml'" },
	{ "prefix file: unknown family",
	  "set m file \"a.txt\" family ipv5\n"
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n",
	  "t.conf:1:27", "expected 'ipv4' or 'ipv6', got 'ipv5'" },
	{ "prefix file: unknown option",
	  "set m file \"a.txt\" lenient colour red\n"
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n",
	  "t.conf:1:28",
	  "expected format, country, family, lenient or the end of the "
	  "statement, got 'colour'" },
	{ "prefix file: option twice",
	  "set m file \"rir.txt\" format rir family ipv4 format list\n"
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n",
	  "t.conf:1:45", "'format' is already given at column 22" },
	{ "prefix file: country without format rir",
	  "set m file \"a.txt\" country CN\n"
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n",
	  "t.conf:1:20", "'country' needs 'format rir'" },
	{ "prefix file: bad country code",
	  "set m file \"rir.txt\" format rir country CN,CHN\n"
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n",
	  "t.conf:1:44",
	  "expected a two-letter country code (CN, US, ...), got 'CHN'" },
	{ "RIR file: too few fields",
	  "set m file \"rirbad.txt\" format rir\n"
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n",
	  "%s/rirbad.txt:3:26",
	  "expected 7 '|'-separated fields "
	  "(registry|cc|type|start|value|date|status)",
	  true },
	{ "RIR file: unknown record type",
	  "set m file \"rirbad.txt\" format rir\n"
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n",
	  "%s/rirbad.txt:4:10", "expected the record type ipv4, ipv6 or asn",
	  true },
	{ "RIR file: an IPv6 address in an ipv4 record",
	  "set m file \"rirbad.txt\" format rir\n"
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n",
	  "%s/rirbad.txt:5:15",
	  "expected an IPv4 address (the record type is ipv4)", true },
	{ "RIR file: an address count past the end",
	  "set m file \"rirbad.txt\" format rir\n"
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n",
	  "%s/rirbad.txt:6:29", "the address count runs past 255.255.255.255",
	  true },
	{ "RIR file: a zero count",
	  "set m file \"rirbad.txt\" format rir\n"
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n",
	  "%s/rirbad.txt:7:23",
	  "expected an address count 1-4294967296 (ipv4 records give a "
	  "count)",
	  true },
	{ "RIR file: IPv6 host bits",
	  "set m file \"rirbad.txt\" format rir\n"
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n",
	  "%s/rirbad.txt:8:15", "host bits set", true },
	{ "range: reversed",
	  "set m file \"rangebad.txt\"\n"
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n",
	  "%s/rangebad.txt:1:1",
	  "empty range: the first address is above the second", true },
	{ "range: IPv4 to IPv6",
	  "set m file \"rangebad.txt\"\n"
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n",
	  "%s/rangebad.txt:2:16",
	  "the two ends of the range are of different IP versions", true },
	{ "range: a prefix length in a range",
	  "set m file \"rangebad.txt\"\n"
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n",
	  "%s/rangebad.txt:3:13",
	  "expected ADDRESS-ADDRESS: a range has no prefix length", true },
	{ "range: one end missing",
	  "set m file \"rangebad.txt\"\n"
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n",
	  "%s/rangebad.txt:4:15", "expected an address on each side of '-'",
	  true },
	{ "listen port out of range",
	  "service s {\nlisten tcp 0.0.0.0:70000\npool a 1\n}\n", "t.conf:2:20",
	  "expected a port 0-65535 after ':', got '70000'" },
	{ "sport out of range",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "rule sport 70000 pool a\n}\n",
	  "t.conf:4:12", "expected a port 0-65535 or PORT-PORT, got '70000'" },
	{ "sport range end out of range",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "rule sport 1000-70000 pool a\n}\n",
	  "t.conf:4:17", "expected a port 0-65535 after '-', got '70000'" },
	{ "sport range reversed",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "rule sport 2000-1000 pool a\n}\n",
	  "t.conf:4:12",
	  "empty port range 2000-1000 (the first port must not be above the "
	  "second)" },
	{ "sport twice",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "rule sport 1 sport 2 pool a\n}\n",
	  "t.conf:4:14", "'sport' is already given at column 6" },
	{ "payload width",
	  "service s {\nlisten udp 0.0.0.0:80\npool a 1\n"
	  "rule payload 0 u3 == 1 pool a\n}\n",
	  "t.conf:4:16", "expected a width: u8, u16 or u32, got 'u3'" },
	{ "payload mask too wide",
	  "service s {\nlisten udp 0.0.0.0:80\npool a 1\n"
	  "rule payload 0 u8 & 0x100 == 1 pool a\n}\n",
	  "t.conf:4:21", "mask 0x100 does not fit u8" },
	{ "payload value too wide",
	  "service s {\nlisten udp 0.0.0.0:80\npool a 1\n"
	  "rule payload 0 u16 == 70000 pool a\n}\n",
	  "t.conf:4:23", "value 70000 does not fit u16 (0-65535)" },
	{ "payload offset out of range",
	  "service s {\nlisten udp 0.0.0.0:80\npool a 1\n"
	  "rule payload 65536 u8 == 1 pool a\n}\n",
	  "t.conf:4:14", "a payload offset '65536' is out of range (0-65535)" },
	{ "payload comparison",
	  "service s {\nlisten udp 0.0.0.0:80\npool a 1\n"
	  "rule payload 0 u8 = 1 pool a\n}\n",
	  "t.conf:4:19", "expected '==' (comparison)" },
	{ "by payload width",
	  "service s {\nlisten udp 0.0.0.0:80\npool a 2\n"
	  "rule pool a by payload 4:3\n}\n",
	  "t.conf:4:26", "payload key width must be 1, 2 or 4 bytes" },
	{ "unknown pool option",
	  "service s {\nlisten udp 0.0.0.0:80\npool a 1 { mark 1; colour red }\n}\n",
	  "t.conf:3:20", "unknown pool option 'colour'" },
	{ "TCP option on a UDP service",
	  "service s {\nlisten udp 0.0.0.0:80\n"
	  "pool a 1 { mark 1; congestion bbr }\n}\n",
	  "t.conf:3:20",
	  "option 'congestion' applies to TCP pools only (service 's' is UDP)" },
	{ "UDP option on a TCP service",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1 {\n  pktinfo on\n}\n}\n",
	  "t.conf:4:3",
	  "option 'pktinfo' applies to UDP pools only (service 's' is TCP)" },
	{ "option twice",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1 { mark 1; mark 2 }\n}\n",
	  "t.conf:3:20", "option 'mark' is already set at line 3" },
	{ "'by payload' in default",
	  "service s {\nlisten udp 0.0.0.0:80\npool a 2\n"
	  "default pool a by payload 0\n}\n",
	  "t.conf:4:16", "'by payload' is not allowed here" },
	{ "'by payload' in a fallback",
	  "service s {\nlisten udp 0.0.0.0:80\npool a 2 { fallback pool b by "
	  "payload 0 }\npool b 1\n}\n",
	  "t.conf:3:28", "'by payload' is not allowed here" },
	{ "missing listen", "service web {\npool a 1\n}\n", "t.conf:1:9",
	  "service 'web' has no 'listen' (listen tcp|udp ADDRESS:PORT)" },
	{ "missing pool", "\nservice web {\nlisten tcp 0.0.0.0:80\n}\n",
	  "t.conf:2:9", "service 'web' has no pool (pool NAME COUNT)" },
	{ "duplicate listen",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n  listen tcp "
	  "0.0.0.0:81\n}\n",
	  "t.conf:4:3", "service 's' already has a 'listen'" },
	{ "duplicate default",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\ndefault hash\n"
	  "default pool a\n}\n",
	  "t.conf:5:1", "service 's' already has a 'default'" },
	{ "unterminated string",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
	  "set e file \"abc\n}\n",
	  "t.conf:4:12", "unterminated string (missing '\"')" },
	{ "stray word after a statement",
	  "service s {\nlisten tcp 0.0.0.0:80 junk\npool a 1\n}\n",
	  "t.conf:2:23",
	  "expected end of statement (newline or ';'), got 'junk'" },
	{ "stray word at the top level",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n  xyz\n",
	  "t.conf:5:3", "expected 'service', 'set' or 'backend', got 'xyz'" },
	{ "stray non-ASCII character",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1 \xc3\xa9\n}\n",
	  "t.conf:3:10", "unexpected non-ASCII or control character" },
	{ "stray control character",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n\x01pool b 1\n}\n",
	  "t.conf:4:1", "unexpected non-ASCII or control character" },
	{ "stray closing brace",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n}\n", "t.conf:5:1",
	  "expected 'service', 'set' or 'backend', got '}'" },
	{ "service not closed",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n", "t.conf:1:9",
	  "service 's' is not closed (missing '}')" },
	{ "fallback cycle",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1 { fallback pool b }\n"
	  "pool b 1 { fallback pool c }\npool c 1 { fallback pool a }\n}\n",
	  "t.conf:3:6",
	  "pool 'a': fallback pools form a cycle (a -> b -> c -> a)" },
	{ "fallback to itself",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 1 { fallback pool a }\n}\n",
	  "t.conf:3:26", "pool 'a' cannot fall back to itself" },
	{ "pool too large",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 4097\n}\n", "t.conf:3:8",
	  "the pool's number of sockets '4097' is out of range (1-4096)" },
	{ "too many sockets",
	  "service s {\nlisten tcp 0.0.0.0:80\npool a 4000\npool b 97\n}\n",
	  "t.conf:4:8", "service 's' would have more than 4096 sockets" },
	{ "v6only on IPv4",
	  "service s {\nlisten tcp 0.0.0.0:80 v6only\npool a 1\n}\n",
	  "t.conf:2:23", "'v6only' applies to IPv6 addresses only" },
	{ "IPv6 listen address without brackets",
	  "service s {\nlisten tcp ::1:80\npool a 1\n}\n", "t.conf:2:12",
	  "expected ADDRESS:PORT, got '::1:80'" },
	{ "bad name", "service 9s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n",
	  "t.conf:1:9", "invalid service name '9s'" },
	{ "no service", "# nothing\nset m { 198.51.100.0/24 }\n", "t.conf:3:1",
	  "no service defined" },
};

TEST(error_messages)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(error_cases); i++) {
		struct sksteer_config *cfg;
		char loc[256], msg[512], want[800];
		const char *m, *hit;

		snprintf(loc, sizeof(loc), error_cases[i].loc, dir);
		snprintf(msg, sizeof(msg), error_cases[i].msg, dir);
		snprintf(want, sizeof(want), "%s: error: ", loc);
		errno = 0;
		cfg = parse(error_cases[i].text);
		m = tl_messages();
		CHECK(!cfg && errno == EINVAL, "%s: parsed (errno %d)",
		      error_cases[i].what, errno);
		sksteer_config__free(cfg);
		/* the message must be on a line that starts at the location */
		for (hit = strstr(m, want); hit; hit = strstr(hit + 1, want)) {
			const char *eol = strchr(hit, '\n');
			const char *found = strstr(hit, msg);

			if ((hit == m || hit[-1] == '\n') && found &&
			    (!eol || found < eol))
				break;
		}
		CHECK(hit, "%s: want '%s%s', got: %s", error_cases[i].what,
		      want, msg, m);
		/* one mistake, one message: no echo of follow-on errors */
		if (!error_cases[i].many) {
			int nerr = 0;
			const char *e;

			for (e = m; (e = strstr(e, ": error: ")); e++)
				nerr++;
			CHECK(nerr == 1, "%s: %d errors for one mistake: %s",
			      error_cases[i].what, nerr, m);
		}
	}
}

/* One run reports every mistake (up to 20), not just the first. */
TEST(errors_all_reported)
{
	struct sksteer_config *cfg;
	char text[4096];
	size_t n = 0;
	int i, lines = 0;
	const char *m;

	n += (size_t)snprintf(text + n, sizeof(text) - n,
			      "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n");
	for (i = 0; i < 3; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "rule to 198.51.100.%d/24 pool a\n",
				      i + 1);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "}\n");
	cfg = parse(text);
	CHECK(!cfg, "parsed");
	for (m = tl_messages(); (m = strstr(m, ": error: ")); m++)
		lines++;
	CHECK(lines == 3 && strstr(tl_messages(), "t.conf:4:9:") &&
		      strstr(tl_messages(), "t.conf:5:9:") &&
		      strstr(tl_messages(), "t.conf:6:9:"),
	      "want 3 errors on lines 4-6, got: %s", tl_messages());

	/* and stops after 20 */
	n = (size_t)snprintf(text, sizeof(text),
			     "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n");
	for (i = 0; i < 40; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "rule sport %d-1 pool a\n", i + 2);
	snprintf(text + n, sizeof(text) - n, "}\n");
	cfg = parse(text);
	CHECK(!cfg, "parsed");
	lines = 0;
	for (m = tl_messages(); (m = strstr(m, ": error: ")); m++)
		lines++;
	CHECK(lines == 20 && strstr(tl_messages(), "too many errors"),
	      "want 20 errors, the last saying so, got %d: %.400s", lines,
	      tl_messages());
}

/*
 * A large prefix file (ISP lists have hundreds of thousands of lines)
 * loads in linear time. Only a guard against quadratic behaviour: 100,000
 * lines take a few tens of milliseconds, the bound is generous.
 */
TEST(large_prefix_file)
{
	static const char text[] = "service s {\nlisten tcp [::]:80\npool a 1\n"
				   "set big file \"big.txt\"\n"
				   "rule from @big pool a\n}\n";
	struct sksteer_config *cfg;
	struct timespec t0, t1;
	char path[256];
	double secs;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "%s/big.txt", dir);
	f = fopen(path, "w");
	ASSERT(f, "%s", path);
	fprintf(f, "# 100,000 prefixes, none adjacent\n");
	for (i = 0; i < 90000; i++)
		fprintf(f, "%u.%u.%u.0/24\n", 1 + (i >> 15), (i >> 7) & 0xff,
			(i & 0x7f) << 1);
	for (i = 0; i < 10000; i++)
		fprintf(f, "2001:db8:%x:%x::/64\n", i >> 8, (i & 0xff) << 1);
	ASSERT(!fclose(f), "write %s", path);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	cfg = parse(text);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ASSERT(cfg, "parse: %.500s", tl_messages());
	CHECK(cfg->services[0].rules[0].from.n4 == 90000 &&
		      cfg->services[0].rules[0].from.n6 == 10000,
	      "%zu + %zu ranges", cfg->services[0].rules[0].from.n4,
	      cfg->services[0].rules[0].from.n6);
	CHECK(secs < 3.0, "100,000 prefixes took %.2f s", secs);
	fprintf(stderr, "large_prefix_file: 100,000 prefixes in %.3f s\n",
		secs);
	sksteer_config__free(cfg);
}

/* The same prefixes as people download them: an RIR delegated-extended
 * file (with records to filter out), A-B ranges, and a list with a BOM,
 * CRLF and ';' comments. Each must give what the CIDR list gives. */
static const char rir_txt[] =
	"# APNIC delegated-extended, trimmed\n"
	"2|apnic|20240101|12|19830613|20240101|+1000\n"
	"apnic|*|asn|*|1|summary\n"
	"apnic|*|ipv4|*|8|summary\n"
	"apnic|*|ipv6|*|3|summary\n"
	"apnic|CN|asn|4608|1|20110414|allocated|A92E1062\n"
	"apnic|CN|ipv4|1.0.1.0|256|20110414|allocated|A92E1062\n"
	"apnic|CN|ipv4|1.0.2.0|512|20110414|allocated|A92E1062\n"
	"apnic|cn|ipv4|1.0.8.0|2048|20110412|assigned|A92E1062\n"
	"apnic|CN|ipv4|1.1.0.0|768|20110412|allocated|A92E1062|x\n"
	"apnic|JP|ipv4|1.0.16.0|4096|20110412|allocated|A91A7ED1\n"
	"apnic||ipv4|1.0.32.0|256||available|\n"
	"apnic|ZZ|ipv4|1.0.64.0|256||reserved|\n"
	"apnic|CN|ipv6|2001:db8::|32|20000101|allocated|A92E1062\n"
	"apnic|HK|ipv6|2001:db9:100::|40|20000101|assigned|A92E1062\n"
	"apnic|JP|ipv6|2001:dba::|32|20000101|allocated|A91A7ED1\n";

static const char cidr_txt[] = "1.0.1.0/24\n1.0.2.0/23\n1.0.8.0/21\n"
			       "1.1.0.0/23\n1.1.2.0/24\n2001:db8::/32\n"
			       "2001:db9:100::/40\n";

static const char range_txt[] =
	"# ranges, as some exports write them\n"
	"1.0.1.0-1.0.3.255\n"
	"1.0.8.0 - 1.0.15.255   # blanks around the dash\n"
	"1.1.0.0-1.1.2.255\n"
	"2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff\n"
	"2001:db9:100::-2001:db9:1ff:ffff:ffff:ffff:ffff:ffff\n";

static const char messy_txt[] = "\xef\xbb\xbf; Spamhaus-style header\r\n"
				"1.0.1.0/24 ; SBL1\r\n"
				"1.0.2.0/23;SBL2\r\n"
				"\r\n"
				"  1.0.8.0/21\t# tab, then a comment\r\n"
				"1.1.0.0/23\r\n"
				"1.1.2.0/24\r\n"
				"2001:db8::/32 ; v6\r\n"
				"2001:db9:100::/40";

static const struct sk_set *set_named(const struct sksteer_config *cfg,
				      const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nsets; i++)
		if (!strcmp(cfg->sets[i]->name, name))
			return cfg->sets[i];
	return NULL;
}

static bool same_ranges(const struct sk_set *a, const struct sk_set *b)
{
	return a->addrs.n4 == b->addrs.n4 && a->addrs.n6 == b->addrs.n6 &&
	       !memcmp(a->addrs.v4, b->addrs.v4,
		       a->addrs.n4 * sizeof(*a->addrs.v4)) &&
	       !memcmp(a->addrs.v6, b->addrs.v6,
		       a->addrs.n6 * sizeof(*a->addrs.v6)) &&
	       a->nprefixes == b->nprefixes;
}

TEST(prefix_file_formats)
{
	static const char text[] =
		"set cidr file \"cidr.txt\"\n"
		"set range file \"range.txt\" format list\n"
		"set messy file \"messy.txt\"\n"
		"set rir file \"rir.txt\" format rir country CN, hk\n"
		"set rir4 file \"rir.txt\" format rir country CN family ipv4\n"
		"set cidr4 file \"cidr.txt\" family ipv4\n"
		"set jp file \"rir.txt\" format rir country JP\n"
		"set all file \"rir.txt\" format rir\n"
		"service s {\nlisten tcp [::]:80\npool a 1\n"
		"rule from @rir pool a\n}\n";
	static const char *const same[] = { "range", "messy", "rir" };
	const struct sk_set *cidr, *s;
	struct sksteer_config *cfg;
	size_t i;

	cfg = parse(text);
	ASSERT(cfg, "parse: %s", tl_messages());
	CHECK(!strstr(tl_messages(), "warning"), "messages: %s", tl_messages());
	cidr = set_named(cfg, "cidr");
	ASSERT(cidr && cidr->addrs.n4 == 3 && cidr->addrs.n6 == 2 &&
		       cidr->nprefixes == 7,
	       "cidr: %zu + %zu ranges, %zu prefixes", cidr->addrs.n4,
	       cidr->addrs.n6, cidr->nprefixes);
	for (i = 0; i < ARRAY_SIZE(same); i++) {
		s = set_named(cfg, same[i]);
		CHECK(s && same_ranges(s, cidr),
		      "set '%s' differs from the CIDR list: %zu + %zu ranges, "
		      "%zu prefixes",
		      same[i], s ? s->addrs.n4 : 0, s ? s->addrs.n6 : 0,
		      s ? s->nprefixes : 0);
	}
	s = set_named(cfg, "rir4");
	CHECK(s && same_ranges(s, set_named(cfg, "cidr4")) && !s->addrs.n6,
	      "family ipv4 of the RIR file differs from the CIDR list's");
	/* 1.0.16.0/20 and 2001:dba::/32 */
	s = set_named(cfg, "jp");
	CHECK(s && s->addrs.n4 == 1 && s->addrs.v4[0].lo == 0x01001000 &&
		      s->addrs.v4[0].hi == 0x01001fff && s->addrs.n6 == 1 &&
		      s->nprefixes == 2,
	      "country JP");
	/* no country: every allocated or assigned record, nothing
	 * available or reserved (1.0.32.0, 1.0.64.0) */
	s = set_named(cfg, "all");
	CHECK(s && s->nprefixes == 9 &&
		      !sk_addrset_has4(&s->addrs, 0x01002000) &&
		      !sk_addrset_has4(&s->addrs, 0x01004000) &&
		      sk_addrset_has4(&s->addrs, 0x01001000),
	      "all countries: %zu prefixes", s ? s->nprefixes : 0);
	sksteer_config__free(cfg);
}

/* An odd RIR count covers exactly its addresses, neither end rounded. */
TEST(prefix_file_odd_ranges)
{
	static const char text[] =
		"set r file \"odd.txt\" format rir\nset l file \"oddl.txt\"\n"
		"service s {\nlisten tcp 0.0.0.0:80\npool a 1\n}\n";
	struct sksteer_config *cfg;
	const struct sk_set *r, *l;

	/* 1.0.0.3 .. 1.0.1.4: 3/32 4/30 8/29 16/28 32/27 64/26 128/25
	 * 0/24 ... as blocks: 1.0.0.3/32, 1.0.0.4/30, ..., 1.0.1.4/32 */
	write_file("odd.txt", "ripencc|NL|ipv4|1.0.0.3|258|20200101|"
			      "allocated\n");
	write_file("oddl.txt", "1.0.0.3-1.0.1.4\n");
	cfg = parse(text);
	ASSERT(cfg, "parse: %s", tl_messages());
	r = set_named(cfg, "r");
	l = set_named(cfg, "l");
	CHECK(r->addrs.n4 == 1 && r->addrs.v4[0].lo == 0x01000003 &&
		      r->addrs.v4[0].hi == 0x01000104,
	      "range %08x-%08x", r->addrs.v4[0].lo, r->addrs.v4[0].hi);
	/* 3/32, 4/30, 8/29, 16/28, 32/27, 64/26, 128/25, 1.0.1.0/30,
	 * 1.0.1.4/32 */
	CHECK(r->nprefixes == 9 && same_ranges(r, l), "%zu prefixes",
	      r->nprefixes);
	sksteer_config__free(cfg);
}

/* lenient: bad lines are skipped, counted, and said once. */
TEST(prefix_file_lenient)
{
	static const char text[] =
		"set l file \"feed.txt\" lenient\n"
		"set r file \"feedrir.txt\" format rir lenient country CN\n"
		"service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
		"rule from @l, @r pool a\n}\n";
	struct sksteer_config *cfg;
	const struct sk_set *l, *r;
	char want[512];

	write_file("feed.txt", "198.51.100.0/24\n"
			       "garbage\n"
			       "203.0.113.0/24\n"
			       "203.0.113.300\n");
	write_file("feedrir.txt", "apnic|CN|ipv4|198.51.100.0|256|x|allocated\n"
				  "apnic|CN|ipv4|198.51.100\n");
	cfg = parse(text);
	ASSERT(cfg, "parse: %s", tl_messages());
	l = set_named(cfg, "l");
	r = set_named(cfg, "r");
	CHECK(l->nskipped == 2 && l->nprefixes == 2 && r->nskipped == 1 &&
		      r->nprefixes == 1,
	      "skipped %zu and %zu", l->nskipped, r->nskipped);
	snprintf(want, sizeof(want),
		 "%s/feed.txt:2:1: warning: set 'l' is lenient: skipped 2 bad "
		 "lines of this file, the first here: expected an IPv4 or "
		 "IPv6 address\n",
		 dir);
	CHECK(strstr(tl_messages(), want), "want %s got %s", want,
	      tl_messages());
	CHECK(!strstr(tl_messages(), "error"), "%s", tl_messages());
	sksteer_config__free(cfg);

	/* the same file, strict: each bad line once, nothing else */
	cfg = parse(
		"set l file \"feed.txt\"\nservice s {\n"
		"listen tcp 0.0.0.0:80\npool a 1\nrule from @l pool a\n}\n");
	CHECK(!cfg, "parsed");
	snprintf(want, sizeof(want),
		 "%s/feed.txt:2:1: error: expected an IPv4 or IPv6 address\n"
		 "%s/feed.txt:4:1: error: expected an IPv4 or IPv6 address\n"
		 "t.conf:1:12: note: set 'l' is not defined: its prefix file "
		 "has errors ('lenient' would skip bad lines)\n",
		 dir, dir);
	CHECK(!strcmp(tl_messages(), want), "want:\n%sgot:\n%s", want,
	      tl_messages());
	sksteer_config__free(cfg);
}

/* A prefix file's bytes never appear in a message: it may be a file the
 * reader of the log may not read (a root supervisor, /etc/shadow). */
TEST(prefix_file_not_echoed)
{
	struct sksteer_config *cfg;

	write_file("secret.txt",
		   "root:$6$SECRETHASH:19000:0:99999:7:::\n"
		   "SECRET-HASH\n"
		   "100.1.2.3/8\n"
		   "::ffff:198.51.100.1\n"
		   "198.51.100.0/99\n"
		   "198.51.100.0/SECRET\n"
		   "198.51.100.0/24 SECRET\n"
		   "apnic|SECRET|ipv4|SECRET|SECRET|SECRET|SECRET\n");
	cfg = parse("set m file \"secret.txt\"\nservice s {\n"
		    "listen tcp 0.0.0.0:80\npool a 1\n}\n");
	CHECK(!cfg, "parsed");
	CHECK(!strstr(tl_messages(), "SECRET") &&
		      !strstr(tl_messages(), "100.1.") &&
		      !strstr(tl_messages(), "99") &&
		      !strstr(tl_messages(), "198.51"),
	      "the file's content leaked: %s", tl_messages());
	CHECK(strstr(tl_messages(), "/secret.txt:7:17: error: unexpected "
				    "text after the prefix"),
	      "%s", tl_messages());
	sksteer_config__free(cfg);
	cfg = parse("set m file \"secret.txt\" format rir\nservice s {\n"
		    "listen tcp 0.0.0.0:80\npool a 1\n}\n");
	CHECK(!cfg && !strstr(tl_messages(), "SECRET"),
	      "the file's content leaked: %s", tl_messages());
	sksteer_config__free(cfg);
}

/* A bad token gets the same message whatever its length (47 and 48
 * characters used to differ: one past the longest IPv6 text). */
TEST(bad_token_message_independent_of_length)
{
	char tok[80], text[256], want[256];
	size_t n;

	for (n = 40; n < 70; n++) {
		struct sksteer_config *cfg;

		memset(tok, 'a', n);
		tok[n] = '\0';
		snprintf(text, sizeof(text),
			 "service s {\nlisten tcp 0.0.0.0:80\npool a 1\n"
			 "rule from %s pool a\n}\n",
			 tok);
		snprintf(want, sizeof(want),
			 "t.conf:4:11: error: '%.48s%s' is not an IPv4 or "
			 "IPv6 address\n",
			 tok, n > 48 ? "..." : "");
		cfg = parse(text);
		CHECK(!cfg && !strcmp(tl_messages(), want),
		      "%zu characters: want %s got %s", n, want, tl_messages());
		sksteer_config__free(cfg);
		snprintf(text, sizeof(text), "%s/%s", tok, "24");
		write_file("long.txt", text);
		cfg = parse("set m file \"long.txt\"\nservice s {\n"
			    "listen tcp 0.0.0.0:80\npool a 1\n}\n");
		snprintf(want, sizeof(want),
			 "%s/long.txt:1:1: error: expected an IPv4 or IPv6 "
			 "address\n",
			 dir);
		CHECK(!cfg && !strncmp(tl_messages(), want, strlen(want)),
		      "%zu characters in a file: want %s got %s", n, want,
		      tl_messages());
		sksteer_config__free(cfg);
	}
}

/* Relative prefix paths resolve against the configuration's real
 * directory, not a symlink's. */
TEST(prefix_path_through_symlink)
{
	char real[256], link_dir[256], link[300], target[300];
	struct sksteer_config *cfg;

	snprintf(real, sizeof(real), "%s/real", dir);
	snprintf(link_dir, sizeof(link_dir), "%s/links", dir);
	ASSERT(!mkdir(real, 0700) && !mkdir(link_dir, 0700), "mkdir");
	write_file("real/web.conf",
		   "set m file \"here.txt\"\nservice s {\n"
		   "listen tcp 0.0.0.0:80\npool a 1\nrule from @m pool a\n}\n");
	write_file("real/here.txt", "198.51.100.0/24\n");
	snprintf(target, sizeof(target), "%s/web.conf", real);
	snprintf(link, sizeof(link), "%s/web.conf", link_dir);
	ASSERT(!symlink(target, link), "symlink %s", link);
	tl_messages_reset();
	cfg = sksteer_config__parse_file(link, NULL);
	CHECK(cfg, "through the symlink: %s", tl_messages());
	sksteer_config__free(cfg);
}

/* Set lookup is hashed: 80,000 top-level sets (27 s when it was a linear
 * search) parse in well under a second; the bound is generous. */
TEST(many_sets)
{
	static const char service[] =
		"service s {\nlisten tcp 0.0.0.0:80\n"
		"pool a 1\nset s0x { 198.51.100.0/24 }\n"
		"rule from @s0, @s79999, @s0x pool a\n}\n";
	const int nsets = 80000;
	struct sksteer_config *cfg;
	size_t sets_end;
	struct timespec t0, t1;
	size_t cap = (size_t)nsets * 40 + 256, n = 0;
	char *text = malloc(cap);
	double secs;
	int i;

	ASSERT(text, "malloc");
	for (i = 0; i < nsets; i++)
		n += (size_t)snprintf(text + n, cap - n,
				      "set s%d { %d.%d.%d.0/24 }\n", i,
				      1 + (i >> 16), (i >> 8) & 0xff, i & 0xff);
	sets_end = n;
	n += (size_t)snprintf(text + n, cap - n, "%s", service);
	tl_messages_reset();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cfg = sksteer_config__parse_string(text, n, "t.conf", NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ASSERT(cfg, "parse: %.300s", tl_messages());
	CHECK(cfg->nsets == (size_t)nsets &&
		      cfg->services[0].rules[0].from.n4 == 3,
	      "%zu sets", cfg->nsets);
	CHECK(secs < 5.0, "80,000 sets took %.2f s", secs);
	fprintf(stderr, "many_sets: 80,000 sets in %.3f s\n", secs);
	sksteer_config__free(cfg);
	/* a duplicate among them is still found */
	n = sets_end;
	n += (size_t)snprintf(text + n, cap - n,
			      "set s4242 { 203.0.113.0/24 }\n%s", service);
	cfg = sksteer_config__parse_string(text, n, "t.conf", NULL);
	CHECK(!cfg && strstr(tl_messages(), "set 's4242' is already defined "
					    "at t.conf:4243:5"),
	      "%.300s", tl_messages());
	free(text);
}

/* A payload test past the largest payload never holds: warned. */
TEST(payload_never_matches)
{
	static const struct {
		const char *listen, *rule, *warn;
	} cases[] = {
		{ "udp 0.0.0.0:53", "payload 65535 u16 == 1",
		  "t.conf:4:1: warning: 'payload 65535 u16' needs 65537 bytes "
		  "of payload, more than a UDP datagram over IPv4 carries "
		  "(65507), so the rule never matches\n" },
		{ "udp 0.0.0.0:53", "payload 65505 u16 == 1", "" },
		{ "udp 0.0.0.0:53", "payload 65506 u16 == 1",
		  "t.conf:4:1: warning: 'payload 65506 u16' needs 65508" },
		{ "udp [::]:53", "payload 65523 u32 == 1", "" },
		{ "udp [::]:53", "payload 65524 u32 == 1",
		  "more than a UDP datagram over IPv6 carries (65527)" },
		{ "tcp 0.0.0.0:53", "payload 65495 u8 == 1",
		  "more than a TCP SYN over IPv4 carries (65495)" },
		{ "udp 0.0.0.0:53", "pool a by payload 65506:2",
		  "the key of 'by payload 65506:2' needs 65508 bytes" },
	};
	char text[256];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct sksteer_config *cfg;

		snprintf(text, sizeof(text),
			 "service s {\nlisten %s\npool a 1\nrule %s%s\n}\n",
			 cases[i].listen, cases[i].rule,
			 strstr(cases[i].rule, "pool") ? "" : " pool a");
		cfg = parse(text);
		CHECK(cfg, "%s: %s", cases[i].rule, tl_messages());
		if (cases[i].warn[0])
			CHECK(strstr(tl_messages(), cases[i].warn),
			      "%s %s: want %s got %s", cases[i].listen,
			      cases[i].rule, cases[i].warn, tl_messages());
		else
			CHECK(!tl_messages()[0], "%s %s: got %s",
			      cases[i].listen, cases[i].rule, tl_messages());
		sksteer_config__free(cfg);
	}
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	char sub[128];
	int rc;

	snprintf(dir, sizeof(dir), "/tmp/sksteer-parse-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	write_file("web.conf", web_conf);
	write_file("mobile-prefixes.txt", mobile_txt);
	write_file("empty.txt", "# only comments\n\n   # and blanks\n");
	write_file("bad1.txt", "198.51.100.0/24\nnot-an-address\n");
	write_file("a.txt", "198.51.100.0/24\n");
	write_file("rir.txt", rir_txt);
	write_file("cidr.txt", cidr_txt);
	write_file("range.txt", range_txt);
	write_file("messy.txt", messy_txt);
	write_file("rirbad.txt",
		   "2|apnic|20240101|6|19830613|20240101|+1000\n"
		   "apnic|*|ipv4|*|4|summary\n"
		   "apnic|CN|ipv4|1.0.1.0|256\n"
		   "apnic|CN|ipv5|1.0.1.0|256|20110414|allocated\n"
		   "apnic|CN|ipv4|2001:db8::|256|20110414|allocated\n"
		   "apnic|CN|ipv4|255.255.255.0|257|20110414|allocated\n"
		   "apnic|CN|ipv4|1.0.1.0|0|20110414|allocated\n"
		   "apnic|JP|ipv6|2001:db8::1|32|20110414|allocated\n");
	write_file("rangebad.txt", "198.51.100.9 - 198.51.100.1\n"
				   "198.51.100.1 - 2001:db8::1\n"
				   "198.51.100.0/24-198.51.100.255\n"
				   "198.51.100.0 -\n");
	snprintf(sub, sizeof(sub), "%s/fifo", dir);
	if (mkfifo(sub, 0600)) {
		perror(sub);
		return 1;
	}
	write_file("bad.txt", "198.51.100.0/24\n"
			      "# a comment\n"
			      "  198.51.100.300\n"
			      "2001:db8::/32 # fine\n"
			      "203.0.113.0/33\n"
			      "203.0.113.0/24 junk\n");
	{
		static const char nul[] = "198.51.100.0/24\n198.51\0.100.0\n";
		FILE *f;

		snprintf(sub, sizeof(sub), "%s/nul.txt", dir);
		f = fopen(sub, "w");
		if (!f ||
		    fwrite(nul, 1, sizeof(nul) - 1, f) != sizeof(nul) - 1 ||
		    fclose(f)) {
			perror(sub);
			return 1;
		}
	}
	snprintf(sub, sizeof(sub), "%s/subdir", dir);
	mkdir(sub, 0700);
	rc = tl_main(argc, argv);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return rc;
}
