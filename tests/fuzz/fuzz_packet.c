// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Raw packets against programs compiled once from fixed configurations,
 * and against the eBPF backend's tables for them (evaluated the way the
 * program reads them: src/tables.c), both with verdicts where the
 * configuration allows them and with class bitmaps.
 * Input: [config/layout selector] [payload offset, 2 bytes] [packet]. The
 * interpreter and the evaluator must never fail or read outside the packet
 * (ASan); for a packet the kernel could deliver (and the other shapes
 * SEMANTICS defines, see gen_wellformed()) the program must not fault and
 * both must agree with the reference matcher.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tables.h"
#include "gen.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const configs[] = {
	/* dual-stack UDP: every kind of condition */
	"set top { 198.51.100.0/24, 2001:db8::/32 }\n"
	"service u {\n"
	"listen udp [::]:5353\n"
	"pool a 3 { fallback pool b }\n"
	"pool b 2 { fallback hash }\n"
	"pool c 1 { fallback pool a }\n"
	"set local { @top, 203.0.113.0/25, 2001:db8:1::/48 }\n"
	"rule sport 53 pool c\n"
	"rule from @local to 198.51.100.1, 2001:db8::1 sport 1024-65535 "
	"payload 4 u32 & 0xffff0000 != 0x10000 pool a by payload 8:4\n"
	"rule from 2001:db8:8000::/33, 198.51.100.128/25 payload 0 u8 & 3 == 1 "
	"pool b by payload 1:2\n"
	"rule to 203.0.113.0/24 payload 2 u16 >= 0x100 payload 65535 u8 < 9 "
	"pool c\n"
	"rule from ::/1 sport 0-1023 hash\n"
	"default pool a\n"
	"}\n",
	/* IPv4 TCP */
	"service t {\n"
	"listen tcp 0.0.0.0:80\n"
	"pool a 2 { fallback hash }\n"
	"pool b 4 { fallback pool a }\n"
	"rule from 198.51.100.0/25, 203.0.113.7 sport 32768-65535 pool a\n"
	"rule to 198.51.100.2 pool b by payload 0\n"
	"rule payload 0 u32 == 0x16030100 pool b\n"
	"rule from 0.0.0.0/1 payload 3 u8 > 7 hash\n"
	"default pool b\n"
	"}\n",
	/* IPv6 only, TCP, word boundaries of 128-bit compares */
	"service s {\n"
	"listen tcp [::]:443 v6only\n"
	"pool a 1 { fallback hash }\n"
	"pool b 3 { fallback hash }\n"
	"rule from 2001:db8::/64, 2001:db8:0:1::/96, 2001:db8::8000:0:0:0/65 "
	"pool a\n"
	"rule to 2001:db8::/31 sport 443 pool b\n"
	"rule from ::/0 payload 0 u16 & 0xff00 == 0x1600 pool b by payload 5:2\n"
	"default hash\n"
	"}\n",
	/* IPv4 address, UDP: payload only */
	"service p {\n"
	"listen udp 198.51.100.1:53\n"
	"pool a 5 { fallback hash }\n"
	"rule payload 2 u16 & 0x7800 == 0 payload 4 u16 == 1 pool a by "
	"payload 0:2\n"
	"rule payload 1000 u8 != 0 pool a\n"
	"}\n",
	/* no payload tests (the tables' verdicts); the set is made in
	 * LLVMFuzzerInitialize: enough boundaries for relative keys */
	NULL,
};

/*
 * The last config's set: random IPv4 prefixes /17 to /28 all over the
 * space and IPv6 ones /40 to /64 all over 2000::/3, as many as make the
 * tables' buckets keep relative keys of each width (no packets are sent:
 * any address will do). Too large for classic BPF: that config has no
 * program, only tables.
 */
static char *dense_config(void)
{
	struct gen_rng r = { 7 };
	struct gen_buf b = {};
	int i;

	/* and two blocks that random addresses fall in often */
	gen_printf(&b, "set dense {\n    64.0.0.0/3\n    4000::/3\n");
	for (i = 0; i < 6000; i++) {
		int len = (int)gen_range(&r, 17, 28);

		gen_set_line(&b, 4, gen_u32(&r) & gen_mask32(len), len);
	}
	for (i = 0; i < 1500; i++) {
		static const int lens[] = { 40, 44, 48, 52, 56, 60, 64 };
		int len = lens[gen_below(&r, 7)];

		gen_set_line(&b, 6, gen_rand_in6(&r, (sk_u128)1 << 125, 3, len),
			     len);
	}
	gen_printf(&b,
		   "}\n"
		   "service v {\n"
		   "listen udp [::]:4000\n"
		   "pool a 1 { fallback pool b }\n"
		   "pool b 2 { fallback hash }\n"
		   "pool c 1 { fallback pool a }\n"
		   "rule from @dense to 203.0.113.0/25, 2001:db8::1 pool b\n"
		   "rule sport 1000-2000 to 203.0.113.0/24 pool c\n"
		   "rule from @dense pool a\n"
		   "rule from ::/1 sport 0-1023 hash\n"
		   "default pool c\n"
		   "}\n");
	return b.s;
}

#define NCFG (sizeof(configs) / sizeof(configs[0]))

static bool covers_new_tables(const struct sk_tables *t)
{
	unsigned int rel = 0;
	size_t i;

	for (i = 0; i < t->nbuckets; i++)
		rel |= t->buckets[i].flags & SKS_BUCKET_REL;
	return (t->flags & SKS_F_VERDICTS) && (rel & SKS_BUCKET_R16) &&
	       (rel & (SKS_BUCKET_R32 | SKS_BUCKET_R64));
}

static struct compiled {
	struct sksteer_config *cfg;
	const struct sksteer_service *svc;
	struct sk_layout l[2];
	struct sksteer_prog *prog[2];
	/* per layout: the tables as built, and with class bitmaps only */
	struct sk_tables t[2][2];
} progs[NCFG];

/*
 * Coverage of the BPF programs themselves (libFuzzer only sees the
 * interpreter's): which return instruction ended a run, and which rule and
 * target the matcher chose, on well-formed packets or not.
 */
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t
	ret_cov[NCFG][2][2][512];
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t
	rule_cov[NCFG][2][2][16][3];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct gen_rng r = { 42 };
	size_t i;
	int k;

	(void)argc;
	(void)argv;
	sksteer_set_print(NULL);
	for (i = 0; i < NCFG; i++) {
		struct compiled *c = &progs[i];
		char *text = configs[i] ? strdup(configs[i]) : dense_config();

		c->cfg = text ? sksteer_config__parse_string(
					text, strlen(text), "fuzz.conf", NULL) :
				NULL;
		free(text);
		if (!c->cfg) {
			fprintf(stderr, "config %zu does not parse\n", i);
			abort();
		}
		c->svc = &c->cfg->services[0];
		/* the declared layout, and one with a socket closed */
		for (k = 0; k < 2; k++) {
			char why[256];
			int e;

			if (gen_layout(&r, c->svc, (unsigned int)k, &c->l[k]) ||
			    (configs[i] &&
			     gen_compile(c->svc, &c->l[k], &c->prog[k], &e, why,
					 sizeof(why)))) {
				fprintf(stderr, "config %zu: %s\n", i, why);
				abort();
			}
			sk_tables_max_verdicts = SKS_MAX_VERDICTS;
			e = sk_tables_build(c->svc, &c->l[k], &c->t[k][0]);
			sk_tables_max_verdicts = 0;
			if (!e)
				e = sk_tables_build(c->svc, &c->l[k],
						    &c->t[k][1]);
			sk_tables_max_verdicts = SKS_MAX_VERDICTS;
			if (e) {
				fprintf(stderr, "config %zu: tables: %d\n", i,
					e);
				abort();
			}
			/* config 5 is there to cover verdicts and relative
			 * keys: it must get them */
			if (!configs[i] && !covers_new_tables(&c->t[k][0])) {
				fprintf(stderr,
					"config %zu: no verdicts or no "
					"relative keys\n",
					i);
				abort();
			}
		}
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct compiled *c;
	struct sk_interp_result res;
	struct sk_match m;
	struct sk_pkt pkt;
	uint8_t *buf;
	size_t len, off;
	char why[512];
	int k, f, v;
	bool wf;

	if (size < 3)
		return 0;
	c = &progs[data[0] % NCFG];
	k = (data[0] / NCFG) & 1;
	len = size - 3;
	off = ((size_t)data[1] << 8 | data[2]) % (len + 1);
	/* an exact copy, so that ASan sees any read past the end */
	buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 3, len);
	pkt = (struct sk_pkt){ .buf = buf, .len = len, .payload_off = off };
	res.ret_pc = 0;
	if (c->prog[k] && sk_cbpf_run(c->prog[k]->insns, c->prog[k]->n,
				      c->prog[k]->owner, &pkt, &res))
		abort();
	if (sk_match(c->svc, &c->l[k], &pkt, &m))
		abort();
	wf = gen_wellformed(c->svc, &pkt);
	ret_cov[data[0] % NCFG][k][wf][res.ret_pc % 512]++;
	rule_cov[data[0] % NCFG][k][wf][(m.rule + 1) & 15][m.target.kind % 3]++;
	for (v = 0; v < 2; v++) {
		const struct sk_tables *t = &c->t[k][v];
		struct sk_tables_result tr = {};
		int e = sk_tables_eval(t, &pkt, &tr);

		if (!wf)
			continue;
		if (e || tr.rule != m.rule ||
		    (int)tr.kind != (int)m.target.kind ||
		    (m.target.kind == SKSTEER_TARGET_POOL &&
		     (tr.pool != m.target.pool ||
		      tr.slot != c->l[k].pools[m.target.pool]
					 .pos[m.pool_index]))) {
			fprintf(stderr,
				"config %d layout %d tables (%s): %d: rule %d "
				"kind %d pool %d slot %u; matcher: rule %d "
				"kind %d pool %d\n",
				data[0] % (int)NCFG, k,
				t->flags & SKS_F_VERDICTS ? "verdicts" :
							    "bitmaps",
				e, tr.rule, tr.kind, tr.pool, tr.slot, m.rule,
				m.target.kind, m.target.pool);
			abort();
		}
	}
	if (wf && c->prog[k]) {
		f = gen_check(c->svc, &c->l[k], c->prog[k], &pkt, &m, why,
			      sizeof(why));
		if (f) {
			struct gen_buf b = {};

			gen_pkt_fmt(&pkt, 256, &b);
			fprintf(stderr, "config %d layout %d: %s: %s\n%s\n",
				data[0] % (int)NCFG, k, gen_fail_names[f], why,
				b.s);
			abort();
		}
	}
	free(buf);
	return 0;
}
