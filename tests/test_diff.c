// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Randomized differential test: the classic BPF compiler (src/cbpf.c, run
 * by the kernel-semantics interpreter of src/interp.c), and the eBPF
 * backend's tables (src/tables.c, evaluated by sk_tables_eval() the way
 * bpf/sksteer.bpf.c reads them), against the reference matcher
 * (src/match.c, written from sksteer.conf(5) SEMANTICS alone). Services are generated as configuration text and parsed, group
 * layouts have closed sockets as the kernel renumbers them, packets aim at
 * the edges of the rules. Both must pick the same socket (or both the
 * kernel's hash) and name the same deciding rule.
 *
 * Deterministic: the seed is printed with every failure, and
 * SKSTEER_DIFF_SEED=N replays (or varies) a run; SKSTEER_DIFF_CONFIG=I
 * runs only config I of each test (every config has a seed of its own).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "tables.h"
#include "testlib.h"
#include "fuzz/gen.h"

#define DEFAULT_SEED 0x5eed2026ull

static uint64_t base_seed(void)
{
	const char *s = getenv("SKSTEER_DIFF_SEED");

	return s && *s ? strtoull(s, NULL, 0) : DEFAULT_SEED;
}

/* every config of every test has a seed of its own, so that one failing
 * config replays without the ones before it */
static uint64_t config_seed(const char *test, unsigned int idx)
{
	uint64_t h = base_seed() ^ 0xcbf29ce484222325ull;
	struct gen_rng r;

	for (; *test; test++)
		h = (h ^ (uint8_t)*test) * 0x100000001b3ull;
	r.s = h ^ ((uint64_t)idx << 32 | idx);
	return gen_u64(&r);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct stats {
	unsigned long cases, layouts, compiled, too_big, drop, configs;
	unsigned long tables, table_cases;
	/* tables whose packets read verdicts, and those on class bitmaps */
	unsigned long t_verdicts, t_bitmaps;
	unsigned long hash, pool, by_rule, other_ver;
	/* the eBPF tables' cases by outcome (the others: the classic
	 * program's, which large sets do not fit) */
	unsigned long t_hash, t_pool, t_by_rule;
	unsigned int max_insns;
};

/* Compile for @l; 0 with *prog, 1 when refused for a good reason, or a
 * failure. */
static int compile(const struct sksteer_service *svc, const struct sk_layout *l,
		   struct sksteer_prog **prog, struct stats *st, char *why,
		   size_t wsz)
{
	int e, rc = gen_compile(svc, l, prog, &e, why, wsz);

	if (!st)
		return rc;
	if (rc == 1 && e == E2BIG)
		st->too_big++;
	else if (rc == 1)
		st->drop++;
	if (rc == OK) {
		st->compiled++;
		if ((*prog)->n > st->max_insns)
			st->max_insns = (unsigned int)(*prog)->n;
	}
	return rc;
}

static int check_pkt(const struct sksteer_service *svc,
		     const struct sk_layout *l, const struct sksteer_prog *prog,
		     const struct sk_pkt *pkt, struct stats *st, char *why,
		     size_t wsz)
{
	struct sk_match m;
	int f = gen_check(svc, l, prog, pkt, &m, why, wsz);

	if (f || !st)
		return f;
	st->cases++;
	if (m.target.kind == SKSTEER_TARGET_HASH)
		st->hash++;
	else
		st->pool++;
	if (m.rule >= 0)
		st->by_rule++;
	if (!pkt->len || (pkt->buf[0] >> 4 != 4 && pkt->buf[0] >> 4 != 6))
		st->other_ver++;
	return OK;
}

/*
 * The eBPF tables for @l (the layout's positions stand for sockarray
 * keys) against the matcher: same kind, same socket, same deciding rule.
 */
static int check_tables(const struct sksteer_service *svc,
			const struct sk_layout *l, const struct sk_tables *t,
			const struct sk_pkt *pkt, struct stats *st, char *why,
			size_t wsz)
{
	struct sk_tables_result res = {};
	struct sk_match m;

	if (sk_match(svc, l, pkt, &m) || sk_tables_eval(t, pkt, &res)) {
		snprintf(why, wsz, "tables: evaluation failed");
		return 2;
	}
	if (res.rule != m.rule || res.kind != m.target.kind) {
		snprintf(
			why, wsz,
			"eBPF tables: rule %d kind %d, matcher: rule %d kind %d",
			res.rule, res.kind, m.rule, m.target.kind);
		return 2;
	}
	if (m.target.kind == SKSTEER_TARGET_POOL &&
	    (res.pool != m.target.pool ||
	     res.slot != l->pools[m.target.pool].pos[m.pool_index])) {
		snprintf(why, wsz,
			 "eBPF tables: pool %d socket %u, matcher: pool %d "
			 "socket %u",
			 res.pool, res.slot, m.target.pool,
			 l->pools[m.target.pool].pos[m.pool_index]);
		return 2;
	}
	if (st) {
		st->t_by_rule += m.rule >= 0;
		st->t_hash += m.target.kind == SKSTEER_TARGET_HASH;
		st->t_pool += m.target.kind == SKSTEER_TARGET_POOL;
	}
	return OK;
}

/* ---- replay and shrink a failing case ---- */

static bool layout_fits(const struct sksteer_service *svc,
			const struct sk_layout *l)
{
	size_t p;
	unsigned int i;

	if (svc->npools != l->npools)
		return false;
	for (p = 0; p < l->npools; p++) {
		if (l->pools[p].n > svc->pools[p].size)
			return false;
		for (i = 0; i < l->pools[p].n; i++)
			if (l->pools[p].pos[i] >= svc->nsockets)
				return false;
	}
	return true;
}

/* The failure @text gives for @l and @pkt: a fail code, or -1 when the
 * text does not make a comparable case any more. */
static int replay(const char *text, const struct sk_layout *l,
		  const struct sk_pkt *pkt, char *why, size_t wsz)
{
	struct sksteer_config *cfg;
	struct sksteer_service *svc;
	struct sksteer_prog *prog = NULL;
	int rc = -1;

	cfg = sksteer_config__parse_string(text, strlen(text), "diff.conf",
					   NULL);
	if (!cfg)
		return -1;
	svc = sksteer_config__service(cfg, 0);
	if (!svc || !layout_fits(svc, l))
		goto out;
	rc = compile(svc, l, &prog, NULL, why, wsz);
	if (rc == 1)
		rc = -1;
	if (rc)
		goto out;
	if (!gen_wellformed(svc, pkt))
		goto out;
	rc = check_pkt(svc, l, prog, pkt, NULL, why, wsz);
out:
	sksteer_prog__free(prog);
	sksteer_config__free(cfg);
	return rc;
}

static void join_kept(char *out, char **lines, const bool *keep, size_t nl)
{
	size_t j, n = 0;

	for (j = 0; j < nl; j++) {
		if (!keep[j])
			continue;
		n += (size_t)sprintf(out + n, "%s\n", lines[j]);
	}
	out[n] = '\0';
}

/* Delta debugging over lines: drop chunks of lines for as long as the
 * same kind of failure remains (bounded in time: large sets have
 * thousands of lines). */
static char *shrink(const char *text, const struct sk_layout *l,
		    const struct sk_pkt *pkt, int kind)
{
	size_t nl = 0, i, j, chunk;
	char **lines, *copy, *out, *s, why[512];
	bool *keep, *was;
	double t0 = now();

	copy = strdup(text);
	for (s = copy; *s; s++)
		nl += *s == '\n';
	lines = calloc(nl + 2, sizeof(*lines));
	keep = calloc(nl + 2, sizeof(*keep));
	was = calloc(nl + 2, sizeof(*was));
	out = malloc(strlen(text) + 2);
	if (!copy || !lines || !keep || !was || !out)
		abort();
	nl = 0;
	for (s = strtok(copy, "\n"); s; s = strtok(NULL, "\n")) {
		lines[nl] = s;
		keep[nl++] = true;
	}
	for (chunk = nl / 2 ? nl / 2 : 1;; chunk = chunk > 1 ? chunk / 2 : 1) {
		bool changed = false;

		for (i = 0; i < nl && now() - t0 < 10; i += chunk) {
			bool any = false;

			for (j = i; j < i + chunk && j < nl; j++) {
				was[j] = keep[j];
				any |= keep[j];
				keep[j] = false;
			}
			if (!any)
				continue;
			join_kept(out, lines, keep, nl);
			if (replay(out, l, pkt, why, sizeof(why)) != kind)
				for (j = i; j < i + chunk && j < nl; j++)
					keep[j] = was[j];
			else
				changed = true;
		}
		/* single lines until nothing more goes: a set can only go
		 * once the rule using it went */
		if (chunk == 1 && (!changed || now() - t0 >= 10))
			break;
	}
	join_kept(out, lines, keep, nl);
	free(was);
	free(keep);
	free(lines);
	free(copy);
	return out;
}

static void report(const char *test, unsigned int idx, const char *text,
		   const struct sk_layout *l, const struct sk_pkt *pkt,
		   int kind, const char *why)
{
	struct gen_buf b = {}, oneline = {};
	char *small, why2[512];
	const char *c;

	small = shrink(text, l, pkt, kind);
	if (replay(small, l, pkt, why2, sizeof(why2)) == kind)
		why = why2;
	gen_printf(
		&b,
		"%s (SKSTEER_DIFF_SEED=%#llx SKSTEER_DIFF_CONFIG=%u): %s: %s\n",
		test, (unsigned long long)base_seed(), idx,
		gen_fail_names[kind], why);
	gen_printf(&b, "--- config (shrunk) ---\n%s", small);
	gen_printf(&b, "--- layout (pool=[positions of open sockets]) ---\n");
	gen_layout_fmt(l, &b);
	gen_printf(&b, "\n--- packet ---\n");
	gen_pkt_fmt(pkt, 512, &b);
	gen_printf(&b, "\n");
	fprintf(stderr, "%s", b.s);
	/* the FAIL line is one line: show the newlines as \n */
	for (c = b.s; *c; c++)
		gen_printf(&oneline, c[0] == '\n' ? "\\n" : "%c", c[0]);
	tl_fail(__FILE__, __LINE__, "%.3800s", oneline.s);
	gen_buf_free(&b);
	gen_buf_free(&oneline);
	free(small);
}

/* ---- clustered IPv6 sets ---- */

/* a prefix of length @len in the block @base/@blen, at random */
/*
 * About @n IPv6 prefixes of 2001:db8::/32 the way real lists cluster:
 * host routes and small prefixes crowded in a few /64s, /64s crowded in a
 * /57, and so on, the clusters' lengths around 64 (where the programs'
 * 64-bit halves meet) and around byte boundaries, and a few prefixes
 * spread out.
 */
static void gen_clustered6(struct gen_rng *r, int n, struct gen_buf *b)
{
	static const int clen[] = { 40, 48, 52, 56, 57, 58, 60, 61,  62,  63,
				    64, 65, 66, 70, 72, 80, 96, 104, 112, 116 };
	const sk_u128 db8 = (sk_u128)0x20010db8 << 96;
	sk_u128 cbase[6];
	int cl[6], nc = (int)gen_range(r, 1, 6), i, k;

	for (k = 0; k < nc; k++) {
		cl[k] = clen[gen_below(r, ARRAY_SIZE(clen))];
		/* now and then two clusters side by side */
		cbase[k] =
			k && gen_pct(r, 25) ?
				(cbase[k - 1] ^ ((sk_u128)1 << (128 - cl[k]))) &
					gen_mask128(cl[k]) :
				gen_rand_in6(r, db8, 32, cl[k]);
	}
	for (i = 0; i < n; i++) {
		unsigned int p = gen_below(r, 100);
		int len;

		k = (int)gen_below(r, (uint32_t)nc);
		if (p < 8) {
			len = (int)gen_range(r, 40, 64);
			gen_fmt6(b, gen_rand_in6(r, db8, 32, len), len);
			gen_printf(b, "\n");
			continue;
		}
		/* small against the cluster, so that most stay ranges of
		 * their own */
		if (p < 50)
			len = 128;
		else if (p < 70)
			len = cl[k] < 58 ? 64 :
					   cl[k] + (int)gen_range(r, 8, 16);
		else
			len = (int)gen_range(r, (uint32_t)cl[k] + 6, 128);
		if (len > 128)
			len = 128;
		gen_fmt6(b, gen_rand_in6(r, cbase[k], cl[k], len), len);
		gen_printf(b, "\n");
	}
}

/*
 * A service whose rules test clustered IPv6 sets (o->big6 prefixes at
 * most per set), with ports, payload tests and other prefixes besides.
 */
static void gen_clustered_config(struct gen_rng *r, const struct gen_opts *o,
				 struct gen_buf *b)
{
	struct gen_space sp;
	struct gen_names nm = {};
	int nrules = (int)gen_range(r, 1, (uint32_t)o->max_rules), i, j;
	bool dual = o->fam == GEN_FAM_DUAL;
	int proto = o->proto	   ? o->proto :
		    gen_pct(r, 50) ? IPPROTO_TCP :
				     IPPROTO_UDP;

	gen_space_init(r, &sp);
	gen_printf(b, "service svc {\nlisten %s [::]:%u%s\n",
		   proto == IPPROTO_TCP ? "tcp" : "udp", gen_range(r, 1, 65535),
		   dual ? "" : " v6only");
	nm.npools = (int)gen_range(r, 1, 4);
	for (i = 0; i < nm.npools; i++)
		gen_printf(b, "pool p%d %u%s\n", i, gen_range(r, 1, 4),
			   gen_pct(r, 30) ? " { fallback hash }" : "");
	nm.nsets = (int)gen_range(r, 1, 3);
	for (i = 0; i < nm.nsets; i++) {
		gen_printf(b, "set s%d {\n", i);
		gen_clustered6(r,
			       (int)gen_range(r, (uint32_t)o->big6 / 4,
					      (uint32_t)o->big6),
			       b);
		/* a few IPv4 ranges too (two or more: gen_big_set() shifts
		 * by 32 for one) */
		if (dual && gen_pct(r, 50))
			gen_big_set(r, 4, (int)gen_range(r, 2, 40), 20, b);
		gen_printf(b, "}\n");
	}
	for (i = 0; i < nrules; i++) {
		bool cond = false;

		gen_printf(b, "rule");
		if (gen_pct(r, 75)) {
			gen_printf(b, " from @s%u",
				   gen_below(r, (uint32_t)nm.nsets));
			cond = true;
		} else if (gen_pct(r, 30)) {
			gen_printf(b, " from ");
			gen_addr_list(r, &sp, &nm, dual ? 0 : 6, b);
			cond = true;
		}
		if (gen_pct(r, 35)) {
			gen_printf(b, " to @s%u",
				   gen_below(r, (uint32_t)nm.nsets));
			cond = true;
		}
		if (gen_pct(r, 20)) {
			gen_printf(b, " ");
			gen_sport(r, b);
			cond = true;
		}
		for (j = 0; j < (gen_pct(r, o->pay_pct) || !cond ?
					 (int)gen_range(r, 1, 3) :
					 0);
		     j++) {
			gen_printf(b, " ");
			gen_paytest(r, b);
		}
		gen_printf(b, " ");
		gen_target(r, o, &nm, true, b);
		gen_printf(b, "\n");
	}
	if (gen_pct(r, 70)) {
		gen_printf(b, "default ");
		gen_target(r, o, &nm, false, b);
		gen_printf(b, "\n");
	}
	gen_printf(b, "}\n");
}

/* ---- the differential runs ---- */

typedef void (*gen_fn)(struct gen_rng *r, const struct gen_opts *o,
		       struct gen_buf *b);

struct run {
	const char *name;
	struct gen_opts o;
	gen_fn gen; /* NULL: gen_config() */
	unsigned int configs; /* services */
	unsigned int layouts; /* per service: declared, then with closings */
	unsigned int pkts; /* per layout */
	unsigned int close_pct;
	double min_compiled; /* fraction of layouts that must compile */
};

static void diff_run(const struct run *run)
{
	struct gen_pkt *g = malloc(sizeof(*g));
	struct stats st = {};
	unsigned int c, li, k;
	double t0 = now();
	char why[512];

	ASSERT(g, "out of memory");
	for (c = 0; c < run->configs; c++) {
		const char *only = getenv("SKSTEER_DIFF_CONFIG");
		struct gen_rng r = { config_seed(run->name, c) };
		struct gen_buf text = {};
		struct sksteer_config *cfg;
		struct sksteer_service *svc;

		if (only && *only && strtoul(only, NULL, 0) != c)
			continue;
		(run->gen ? run->gen : gen_config)(&r, &run->o, &text);
		tl_messages_reset();
		cfg = sksteer_config__parse_string(text.s, text.n, "diff.conf",
						   NULL);
		ASSERT(cfg,
		       "%s (SKSTEER_DIFF_SEED=%#llx SKSTEER_DIFF_CONFIG=%u): the generated "
		       "config does not parse: %.1500s\n--- config ---\n%.1500s",
		       run->name, (unsigned long long)base_seed(), c,
		       tl_messages(), text.s);
		svc = sksteer_config__service(cfg, 0);
		st.configs++;
		for (li = 0; li < run->layouts; li++) {
			struct sksteer_prog *prog = NULL;
			struct sk_layout l = {};
			struct sk_tables t;
			unsigned int nclose = 0;
			bool have_t;
			int rc;

			if (li && gen_pct(&r, (unsigned int)run->close_pct))
				nclose = gen_below(&r, svc->nsockets);
			ASSERT(!gen_layout(&r, svc, nclose, &l), "layout");
			if (li && gen_pct(&r, 30))
				gen_layout_empty_pool(
					svc, &l,
					gen_below(&r, (uint32_t)svc->npools));
			st.layouts++;
			/* every other build without verdicts: the class
			 * bitmaps steer configurations with payload tests
			 * and those with too many class combinations */
			sk_tables_max_verdicts =
				(c + li) % 2 ? 0 : SKS_MAX_VERDICTS;
			have_t = !sk_tables_build(svc, &l, &t);
			sk_tables_max_verdicts = SKS_MAX_VERDICTS;
			st.tables += have_t;
			if (have_t && (t.flags & SKS_F_VERDICTS))
				st.t_verdicts++;
			else if (have_t)
				st.t_bitmaps++;
			rc = compile(svc, &l, &prog, &st, why, sizeof(why));
			if (rc > 1) {
				struct sk_pkt none = {
					.buf = (const uint8_t *)"", .len = 0
				};

				report(run->name, c, text.s, &l, &none, rc,
				       why);
				tl_stop();
			}
			for (k = 0; (!rc || have_t) && k < run->pkts; k++) {
				int f = OK;

				gen_packet(&r, svc, run->o.odd_pct, g);
				ASSERT(gen_wellformed(svc, &g->pkt),
				       "generator made a malformed packet");
				if (have_t) {
					f = check_tables(svc, &l, &t, &g->pkt,
							 &st, why, sizeof(why));
					st.table_cases++;
				}
				if (!f && !rc)
					f = check_pkt(svc, &l, prog, &g->pkt,
						      &st, why, sizeof(why));
				if (f) {
					report(run->name, c, text.s, &l,
					       &g->pkt, f, why);
					tl_stop();
				}
			}
			sksteer_prog__free(prog);
			if (have_t)
				sk_tables_free(&t);
			sk_layout_free(&l);
		}
		sksteer_config__free(cfg);
		gen_buf_free(&text);
	}
	free(g);
	fprintf(stderr,
		"%s: %lu cases in %.2fs: %lu configs, %lu layouts, %lu "
		"compiled (largest %u insns), refused %lu E2BIG %lu drop; "
		"%lu by a rule, %lu to a pool, %lu hash, %lu other-version; "
		"eBPF tables: %lu layouts (%lu verdicts, %lu bitmaps), %lu "
		"cases\n",
		run->name, st.cases, now() - t0, st.configs, st.layouts,
		st.compiled, st.max_insns, st.too_big, st.drop, st.by_rule,
		st.pool, st.hash, st.other_ver, st.tables, st.t_verdicts,
		st.t_bitmaps, st.table_cases);
	if (getenv("SKSTEER_DIFF_CONFIG"))
		return;
	CHECK(st.tables == st.layouts,
	      "the eBPF tables were refused for %lu of %lu layouts",
	      st.layouts - st.tables, st.layouts);
	CHECK(st.t_verdicts && st.t_bitmaps,
	      "poor coverage of the eBPF tables' two ways: %lu verdicts, %lu "
	      "bitmaps of %lu",
	      st.t_verdicts, st.t_bitmaps, st.tables);
	CHECK(st.compiled >= run->min_compiled * (double)st.layouts,
	      "only %lu of %lu layouts compiled (E2BIG %lu, drop %lu)",
	      st.compiled, st.layouts, st.too_big, st.drop);
	/* the generator must keep reaching every kind of outcome */
	CHECK(st.by_rule > st.cases / 10 && st.hash > st.cases / 50 &&
		      st.pool > st.cases / 10,
	      "poor coverage: %lu cases, %lu by a rule, %lu pool, %lu hash",
	      st.cases, st.by_rule, st.pool, st.hash);
	CHECK(st.t_by_rule > st.table_cases / 10 &&
		      st.t_hash > st.table_cases / 50 &&
		      st.t_pool > st.table_cases / 10,
	      "poor coverage of the eBPF tables: %lu cases, %lu by a rule, "
	      "%lu pool, %lu hash",
	      st.table_cases, st.t_by_rule, st.t_pool, st.t_hash);
}

TEST(diff_ipv4_tcp)
{
	struct run r = { .name = "diff_ipv4_tcp",
			 .o = { .fam = GEN_FAM_4,
				.proto = IPPROTO_TCP,
				.max_rules = 7,
				.pay_pct = 20,
				.odd_pct = 15 },
			 .configs = 3000,
			 .layouts = 2,
			 .pkts = 40,
			 .close_pct = 30,
			 .min_compiled = 0.95 };

	diff_run(&r);
}

TEST(diff_ipv4_udp)
{
	struct run r = { .name = "diff_ipv4_udp",
			 .o = { .fam = GEN_FAM_4,
				.proto = IPPROTO_UDP,
				.max_rules = 7,
				.pay_pct = 30,
				.odd_pct = 15 },
			 .configs = 3000,
			 .layouts = 2,
			 .pkts = 40,
			 .close_pct = 30,
			 .min_compiled = 0.95 };

	diff_run(&r);
}

TEST(diff_ipv6)
{
	struct run r = { .name = "diff_ipv6",
			 .o = { .fam = GEN_FAM_6,
				.max_rules = 7,
				.pay_pct = 20,
				.odd_pct = 25 },
			 .configs = 3000,
			 .layouts = 2,
			 .pkts = 40,
			 .close_pct = 30,
			 .min_compiled = 0.95 };

	diff_run(&r);
}

TEST(diff_dual_stack)
{
	struct run r = { .name = "diff_dual_stack",
			 .o = { .fam = GEN_FAM_DUAL,
				.max_rules = 8,
				.pay_pct = 20,
				.odd_pct = 20 },
			 .configs = 3000,
			 .layouts = 2,
			 .pkts = 40,
			 .close_pct = 30,
			 .min_compiled = 0.95 };

	diff_run(&r);
}

/* Layouts after socket removals: the kernel renumbers, pools empty out
 * and their fallbacks (pool, hash, drop) take over. */
TEST(diff_closed_sockets)
{
	struct run r = { .name = "diff_closed_sockets",
			 .o = { .fam = GEN_FAM_ANY,
				.max_rules = 6,
				.pay_pct = 20,
				.odd_pct = 10,
				.allow_drop = true },
			 .configs = 1500,
			 .layouts = 8,
			 .pkts = 16,
			 .close_pct = 90,
			 .min_compiled = 0.5 };

	diff_run(&r);
}

/* Large pools: positions far apart, many closed sockets, the group's
 * renumbering scattering a pool over the whole group. */
TEST(diff_large_pools)
{
	struct run r = { .name = "diff_large_pools",
			 .o = { .fam = GEN_FAM_ANY,
				.max_rules = 6,
				.pay_pct = 30,
				.odd_pct = 10,
				.big_pool = 1000 },
			 .configs = 300,
			 .layouts = 4,
			 .pkts = 50,
			 .close_pct = 80,
			 .min_compiled = 0.95 };

	diff_run(&r);
}

/* Payload tests and by-payload keys everywhere, payload lengths on the
 * edges of what each test needs. */
TEST(diff_payload)
{
	struct run r = { .name = "diff_payload",
			 .o = { .fam = GEN_FAM_ANY,
				.max_rules = 8,
				.pay_pct = 90,
				.odd_pct = 10 },
			 .configs = 3000,
			 .layouts = 2,
			 .pkts = 40,
			 .close_pct = 40,
			 .min_compiled = 0.95 };

	diff_run(&r);
}

/* Odd packets: IPv4 options, IPv6 extension header chains (also longer
 * than the four the programs follow), TCP options, other versions. */
TEST(diff_odd_packets)
{
	struct run r = { .name = "diff_odd_packets",
			 .o = { .fam = GEN_FAM_ANY,
				.max_rules = 6,
				.pay_pct = 25,
				.odd_pct = 100 },
			 .configs = 2500,
			 .layouts = 2,
			 .pkts = 40,
			 .close_pct = 30,
			 .min_compiled = 0.95 };

	diff_run(&r);
}

/* Sets of a few thousand ranges: long jumps and trampolines. */
TEST(diff_large_sets_ipv4)
{
	struct run r = { .name = "diff_large_sets_ipv4",
			 .o = { .fam = GEN_FAM_4,
				.max_rules = 4,
				.pay_pct = 10,
				.odd_pct = 10,
				.big4 = 1500 },
			 .configs = 60,
			 .layouts = 2,
			 .pkts = 600,
			 .close_pct = 30,
			 .min_compiled = 0.5 };

	diff_run(&r);
}

TEST(diff_large_sets_dual)
{
	struct run r = { .name = "diff_large_sets_dual",
			 .o = { .fam = GEN_FAM_DUAL,
				.max_rules = 4,
				.pay_pct = 10,
				.odd_pct = 10,
				.big4 = 600,
				.big6 = 200 },
			 .configs = 60,
			 .layouts = 2,
			 .pkts = 600,
			 .close_pct = 30,
			 .min_compiled = 0.5 };

	diff_run(&r);
}

/*
 * Clustered IPv6 sets: tables of the eBPF trees at every depth, with
 * index bits on both sides of the 64-bit halves. Sets this large mostly
 * do not fit the classic program; the smaller ones of diff_clustered_dual
 * do.
 */
TEST(diff_clustered_ipv6)
{
	struct run r = { .name = "diff_clustered_ipv6",
			 .o = { .fam = GEN_FAM_6,
				.max_rules = 6,
				.pay_pct = 20,
				.odd_pct = 10,
				.big6 = 400 },
			 .gen = gen_clustered_config,
			 .configs = 150,
			 .layouts = 2,
			 .pkts = 400,
			 .close_pct = 30,
			 .min_compiled = 0 };

	diff_run(&r);
}

TEST(diff_clustered_dual)
{
	struct run r = { .name = "diff_clustered_dual",
			 .o = { .fam = GEN_FAM_DUAL,
				.max_rules = 6,
				.pay_pct = 30,
				.odd_pct = 10,
				.big6 = 100 },
			 .gen = gen_clustered_config,
			 .configs = 150,
			 .layouts = 2,
			 .pkts = 400,
			 .close_pct = 30,
			 .min_compiled = 0.3 };

	diff_run(&r);
}

/* ---- the spreading hash ---- */

/* sksteer.conf(5), SEMANTICS, a third time */
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

TEST(hash_formula)
{
	/* computed independently (Python) from the man page formula */
	static const uint32_t w4[] = { 0xc6336407 },
			      w6[] = { 0x20010db8, 0, 0, 1 },
			      wmax[] = { 0xffffffff };
	static const char text[] = "service s {\n"
				   "listen udp [::]:53\n"
				   "pool p 4096\n"
				   "default pool p\n"
				   "}\n";
	struct gen_rng r = { config_seed("hash_formula", 0) };
	struct sksteer_config *cfg;
	struct sksteer_service *svc;
	struct sk_layout l;
	uint8_t b[48];
	int i, j;

	CHECK(man_hash(w4, 1, 5353) == 0x9296800f, "test vector");
	CHECK(sk_flow_hash(w4, 1, 5353) == 0x9296800f,
	      "sk_flow_hash(198.51.100.7, 5353) = %#x, want 0x9296800f",
	      sk_flow_hash(w4, 1, 5353));
	CHECK(sk_flow_hash(w6, 4, 443) == 0x3b33fb8d,
	      "sk_flow_hash(2001:db8::1, 443) = %#x, want 0x3b33fb8d",
	      sk_flow_hash(w6, 4, 443));
	CHECK(sk_flow_hash(wmax, 1, 65535) == 0x38bdbce6,
	      "sk_flow_hash(255.255.255.255, 65535) = %#x, want 0x38bdbce6",
	      sk_flow_hash(wmax, 1, 65535));
	CHECK(sk_flow_hash(NULL, 0, 0) == 0, "no words, port 0");
	for (i = 0; i < 200000; i++) {
		uint32_t w[4];
		int n = (int[]){ 0, 1, 4 }[gen_below(&r, 3)];
		uint16_t port = (uint16_t)gen_u32(&r);

		for (j = 0; j < 4; j++)
			w[j] = gen_u32(&r);
		ASSERT(sk_flow_hash(w, n, port) == man_hash(w, n, port),
		       "sk_flow_hash(%d words %#x.., port %u) = %#x, the man "
		       "page says %#x",
		       n, w[0], port, sk_flow_hash(w, n, port),
		       man_hash(w, n, port));
	}

	/* The matcher's own copy: with one pool of 4096 sockets the socket
	 * index is the hash's low 12 bits. */
	cfg = sksteer_config__parse_string(text, strlen(text), "hash.conf",
					   NULL);
	ASSERT(cfg, "parse: %s", tl_messages());
	svc = sksteer_config__service(cfg, 0);
	ASSERT(!sk_layout_declared(svc, &l), "layout");
	for (i = 0; i < 50000; i++) {
		struct sk_pkt pkt = { .buf = b };
		uint32_t w[4] = {}, want;
		int n = 0, ver = (int[]){ 4, 6, 5 }[gen_below(&r, 3)];
		uint16_t port = (uint16_t)gen_u32(&r);
		struct sk_match m;

		memset(b, 0, sizeof(b));
		for (j = 0; j < 4; j++)
			w[j] = gen_u32(&r);
		if (ver == 4) {
			b[0] = 0x45;
			b[9] = IPPROTO_UDP;
			gen_put32(b + 12, w[0]);
			gen_put16(b + 20, port);
			pkt.len = pkt.payload_off = 28;
			n = 1;
		} else {
			b[0] = (uint8_t)(ver << 4);
			b[6] = IPPROTO_UDP;
			for (j = 0; j < 4; j++)
				gen_put32(b + 8 + 4 * j, w[j]);
			gen_put16(b + 40, port);
			pkt.len = pkt.payload_off = 48;
			n = ver == 6 ? 4 : 0;
		}
		/* no version: no address and no port */
		want = man_hash(w, n, ver == 5 ? 0 : port) % 4096;
		ASSERT(!sk_match(svc, &l, &pkt, &m), "sk_match");
		ASSERT(m.target.kind == SKSTEER_TARGET_POOL &&
			       m.pool_index == (int)want,
		       "IPv%d packet: matcher picks socket %d, the man page "
		       "hash says %u",
		       ver, m.pool_index, want);
	}
	sk_layout_free(&l);
	sksteer_config__free(cfg);
}

/* ---- the checker ---- */

TEST(validate_programs)
{
	static const struct {
		const char *what;
		struct sock_filter f[6];
		size_t n;
		const char *why; /* substring of the reason, NULL: valid */
	} cases[] = {
		{ "ok: stores on both paths, then a load",
		  { BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2),
		    BPF_STMT(BPF_ST, 3), BPF_STMT(BPF_JMP | BPF_JA, 1),
		    BPF_STMT(BPF_ST, 3), BPF_STMT(BPF_RET | BPF_A, 0) },
		  6,
		  NULL },
		{ "conditional jump past the end",
		  { BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 0),
		    BPF_STMT(BPF_RET | BPF_K, 0) },
		  2,
		  "jump out of range" },
		{ "ja past the end",
		  { BPF_STMT(BPF_JMP | BPF_JA, 1),
		    BPF_STMT(BPF_RET | BPF_K, 0) },
		  2,
		  "jump out of range" },
		{ "read of a scratch word never written",
		  { BPF_STMT(BPF_LD | BPF_MEM, 2),
		    BPF_STMT(BPF_RET | BPF_A, 0) },
		  2,
		  "read before it is written" },
		{ "scratch word written on one path only",
		  { BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
		    BPF_STMT(BPF_ST, 3), BPF_STMT(BPF_LDX | BPF_MEM, 3),
		    BPF_STMT(BPF_RET | BPF_A, 0) },
		  5,
		  "read before it is written" },
		{ "no final return",
		  { BPF_STMT(BPF_LD | BPF_IMM, 1),
		    BPF_STMT(BPF_LD | BPF_IMM, 2) },
		  2,
		  "not a return" },
		{ "division by a zero constant",
		  { BPF_STMT(BPF_LD | BPF_IMM, 1),
		    BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0),
		    BPF_STMT(BPF_RET | BPF_A, 0) },
		  3,
		  "division by 0" },
		{ "modulo by a zero constant",
		  { BPF_STMT(BPF_LD | BPF_IMM, 1),
		    BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, 0),
		    BPF_STMT(BPF_RET | BPF_A, 0) },
		  3,
		  "division by 0" },
		{ "scratch word out of range",
		  { BPF_STMT(BPF_ST, 16), BPF_STMT(BPF_RET | BPF_A, 0) },
		  2,
		  "out of range" },
		{ "invalid opcode",
		  { BPF_STMT(0xffff, 0), BPF_STMT(BPF_RET | BPF_A, 0) },
		  2,
		  "invalid opcode" },
		{ "empty program",
		  { BPF_STMT(BPF_RET | BPF_A, 0) },
		  0,
		  "program length" },
	};
	struct sksteer_prog *prog;
	struct sk_layout l;
	char why[256];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int err;

		why[0] = '\0';
		err = sk_cbpf_validate(cases[i].f, cases[i].n, why,
				       sizeof(why));
		if (!cases[i].why)
			CHECK(!err, "%s: refused (%s)", cases[i].what, why);
		else
			CHECK(err == -EINVAL && strstr(why, cases[i].why),
			      "%s: got %d '%s', want -EINVAL '%s'",
			      cases[i].what, err, why, cases[i].why);
	}

	/* A program at the instruction limit is fine, one more is not. */
	{
		static struct sock_filter big[SKSTEER_CBPF_MAX_INSNS + 1];

		for (i = 0; i < ARRAY_SIZE(big); i++)
			big[i] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
							      0);
		CHECK(!sk_cbpf_validate(big, SKSTEER_CBPF_MAX_INSNS, why,
					sizeof(why)),
		      "4096 instructions refused: %s", why);
		CHECK(sk_cbpf_validate(big, SKSTEER_CBPF_MAX_INSNS + 1, why,
				       sizeof(why)) == -EINVAL,
		      "4097 instructions accepted");
	}

	/* and every program the compiler makes for the man page example */
	{
		static const char text[] =
			"service web {\n"
			"listen tcp 0.0.0.0:1234\n"
			"pool line1 2 { congestion bbr; mark 0x1; }\n"
			"pool line2 2 { mark 0x2; }\n"
			"pool line3 1\n"
			"pool rest 1\n"
			"set mobile { 203.0.113.0/25, 2001:db8::/32 }\n"
			"rule to 198.51.100.1 pool line1\n"
			"rule to 198.51.100.2 pool line2\n"
			"rule from @mobile pool line3\n"
			"rule payload 0 u8 & 0x3 == 1 pool rest\n"
			"default hash\n"
			"}\n";
		struct sksteer_config *cfg = sksteer_config__parse_string(
			text, strlen(text), "web.conf", NULL);
		struct sksteer_service *svc;

		ASSERT(cfg, "parse: %s", tl_messages());
		svc = sksteer_config__service(cfg, 0);
		ASSERT(!sk_layout_declared(svc, &l), "layout");
		prog = sk_cbpf_compile(svc, &l);
		ASSERT(prog, "compile: %s", strerror(errno));
		CHECK(!sk_cbpf_validate(prog->insns, prog->n, why, sizeof(why)),
		      "compiled example refused: %s", why);
		sksteer_prog__free(prog);
		sk_layout_free(&l);
		sksteer_config__free(cfg);
	}
}

/* ---- executed instructions grow with log(n) ---- */

/*
 * Worst case executed instructions of "rule from @big pool a" over every
 * edge of every range (lo - 1, lo, hi, hi + 1: the leaves of any search
 * over the boundaries).
 */
static unsigned int worst_steps(unsigned int n, size_t *insns)
{
	struct gen_buf t = {};
	struct sksteer_config *cfg;
	struct sksteer_service *svc;
	struct sksteer_prog *prog;
	const struct sk_addrset *s;
	struct gen_rng r = { 0x10c };
	struct sk_layout l;
	unsigned int worst = 0, i;
	size_t k;

	gen_printf(&t, "service s {\nlisten udp 0.0.0.0:53\npool a 2\n"
		       "set big {\n");
	/* ranges of random sizes spread over the whole space */
	gen_big_set(&r, 4, (int)n, 0, &t);
	gen_printf(&t, "}\nrule from @big pool a\n}\n");
	cfg = sksteer_config__parse_string(t.s, t.n, "big.conf", NULL);
	gen_buf_free(&t);
	ASSERT(cfg, "parse: %s", tl_messages());
	svc = sksteer_config__service(cfg, 0);
	s = &svc->rules[0].from;
	ASSERT(s->n4 == n, "the set has %zu ranges, want %u", s->n4, n);
	ASSERT(!sk_layout_declared(svc, &l), "layout");
	prog = sk_cbpf_compile(svc, &l);
	ASSERT(prog, "compiling a set of %zu IPv4 ranges: %s", s->n4,
	       strerror(errno));
	*insns = prog->n;
	for (k = 0; k < s->n4; k++) {
		for (i = 0; i < 4; i++) {
			uint32_t a = i == 0 ? s->v4[k].lo - 1 :
				     i == 1 ? s->v4[k].lo :
				     i == 2 ? s->v4[k].hi :
					      s->v4[k].hi + 1;
			uint8_t b[28] = { 0x45 };
			struct sk_pkt pkt = { b, sizeof(b), sizeof(b) };
			struct sk_interp_result res;

			b[9] = IPPROTO_UDP;
			gen_put32(b + 12, a);
			ASSERT(!sk_cbpf_run(prog->insns, prog->n, prog->owner,
					    &pkt, &res) &&
				       !res.fault,
			       "run");
			if (res.steps > worst)
				worst = res.steps;
		}
	}
	sksteer_prog__free(prog);
	sk_layout_free(&l);
	sksteer_config__free(cfg);
	return worst;
}

TEST(insns_grow_log)
{
	/*
	 * 4096 ranges cannot be compiled at all (two instructions per range,
	 * 4096 at most, see LIMITS in sksteer.conf(5)), so the largest set
	 * is as large as fits: 1900 ranges.
	 */
	static const unsigned int sizes[] = { 16, 256, 1900 };
	unsigned int steps[3];
	size_t insns[3];
	int i;

	for (i = 0; i < 3; i++)
		steps[i] = worst_steps(sizes[i], &insns[i]);
	fprintf(stderr,
		"worst case executed instructions: %u ranges %u (of %zu), "
		"%u ranges %u (of %zu), %u ranges %u (of %zu)\n",
		sizes[0], steps[0], insns[0], sizes[1], steps[1], insns[1],
		sizes[2], steps[2], insns[2]);
	/*
	 * A search over the 2n boundaries of n ranges takes one comparison
	 * per level of a balanced tree, ceil(log2(2n + 1)) levels. A level
	 * costs one conditional jump, and at most one more (a ja
	 * trampoline) when its target is farther than the 255 instructions
	 * a conditional jump reaches. So going from 16 to n ranges may add
	 * at most 2 * ceil(log2(n / 16)) executed instructions; 4 more
	 * allow for the rounding of an uneven tree. A linear scan would add
	 * about n.
	 */
	for (i = 1; i < 3; i++) {
		unsigned int levels = 0;

		while ((16u << levels) < sizes[i])
			levels++;
		CHECK(steps[i] <= steps[0] + 2 * levels + 4,
		      "%u ranges take up to %u instructions, %u ranges %u: "
		      "more than log growth allows (%u)",
		      sizes[i], steps[i], sizes[0], steps[0],
		      steps[0] + 2 * levels + 4);
	}
	/* the wording: 2 * (small) + a constant */
	CHECK(steps[2] <= 2 * steps[0] + 8, "%u > 2 * %u + 8", steps[2],
	      steps[0]);
}

/*
 * The eBPF tables' less common shapes: thousands of boundaries crowded in
 * one block (table buckets below the root, down to lists in blocks of a
 * few addresses), IPv6 as well, checked address by address against the
 * matcher.
 */
TEST(tables_crowded)
{
	struct gen_rng r = { base_seed() ^ 0xc0ffee };
	struct gen_buf text = {};
	struct sksteer_config *cfg;
	struct sksteer_service *svc;
	struct gen_pkt *g = malloc(sizeof(*g));
	struct sk_layout l;
	struct sk_tables t;
	size_t i, tables = 0, k;
	char why[512];

	ASSERT(g, "out of memory");
	gen_printf(&text, "service c {\n  listen udp [::]:1\n  pool a 2\n"
			  "  pool b 3\n  set s {\n");
	/* 3000 host routes and small prefixes in 198.51.96.0/19 (some
	 * /24s with more than 64 boundaries), and IPv6 crowded in one
	 * /48 */
	for (i = 0; i < 3000; i++)
		gen_printf(&text, "    198.51.%u.%u/32\n",
			   96 + gen_below(&r, 32), gen_below(&r, 256));
	for (i = 0; i < 600; i++)
		gen_printf(&text, "    2001:db8:0:%x::%x/128\n",
			   gen_below(&r, 4), gen_below(&r, 0x400));
	gen_printf(&text,
		   "  }\n  rule from @s pool a\n"
		   "  rule to 198.51.100.0/24 pool b\n  default hash\n}\n");
	cfg = sksteer_config__parse_string(text.s, text.n, "crowded", NULL);
	ASSERT(cfg, "parse: %s", tl_messages());
	svc = sksteer_config__service(cfg, 0);
	ASSERT(!sk_layout_declared(svc, &l), "layout");
	ASSERT(!sk_tables_build(svc, &l, &t), "tables: %s", tl_messages());
	for (i = 0; i < t.nbuckets; i++)
		tables += !!(t.buckets[i].flags & SKS_BUCKET_TABLE);
	CHECK(tables > 0, "no bucket was split into a table");
	for (k = 0; k < 200000; k++) {
		gen_packet(&r, svc, 5, g);
		/* aim at the crowded blocks */
		if (g->pkt.len >= 20 && g->pkt.buf[0] >> 4 == 4 && k % 2) {
			g->buf[12] = 198;
			g->buf[13] = 51;
			g->buf[14] = (uint8_t)(96 + gen_below(&r, 32));
		}
		if (check_tables(svc, &l, &t, &g->pkt, NULL, why,
				 sizeof(why))) {
			tl_fail(__FILE__, __LINE__, "%s", why);
			break;
		}
	}
	sk_tables_free(&t);
	sk_layout_free(&l);
	sksteer_config__free(cfg);
	gen_buf_free(&text);
	free(g);
}

/* ---- the eBPF trees' shapes and size ---- */

struct tree_stats {
	unsigned long tables, straddle, deep;
	/* list buckets with relative keys of 16, 32 and 64 bits */
	unsigned long r16, r32, r64;
	size_t bytes, ranges;
};

/* Tables of an IPv6-only service's trees whose index bits straddle the
 * two 64-bit halves of the address, and how deep they go. */
static void tree_stats(const struct sk_tables *t, struct tree_stats *ts)
{
	size_t i;
	int k;

	for (k = SKS_TREE_SRC6; k <= SKS_TREE_DST6; k++) {
		const struct sks_root *rt = &t->root[k];

		ts->straddle +=
			rt->bits && rt->shift < 64 && rt->shift + rt->bits > 64;
	}
	for (i = 0; i < t->nbuckets; i++) {
		const struct sks_bucket *b = &t->buckets[i];

		ts->r16 += !!(b->flags & SKS_BUCKET_R16);
		ts->r32 += !!(b->flags & SKS_BUCKET_R32);
		ts->r64 += !!(b->flags & SKS_BUCKET_R64);
		if (!(b->flags & SKS_BUCKET_TABLE))
			continue;
		ts->tables++;
		ts->straddle += b->shift < 64 && b->shift + b->bits > 64;
	}
	ts->deep += t->max_depth >= 2;
	ts->bytes += sk_tables_size(t);
}

/* The tables of @text against the matcher for every edge of every range
 * of the service's rules, and random addresses in them. */
static void check_edges(const char *name, const char *text,
			struct tree_stats *ts)
{
	struct gen_rng r = { base_seed() ^ 0xed9e5 };
	struct sksteer_config *cfg;
	struct sksteer_service *svc;
	struct sk_layout l;
	struct sk_tables t;
	uint8_t b[48];
	size_t i, k, checked = 0;
	char why[512];

	cfg = sksteer_config__parse_string(text, strlen(text), name, NULL);
	ASSERT(cfg, "%s: parse: %s", name, tl_messages());
	svc = sksteer_config__service(cfg, 0);
	ASSERT(!sk_layout_declared(svc, &l), "layout");
	ASSERT(!sk_tables_build(svc, &l, &t), "%s: tables: %s", name,
	       tl_messages());
	tree_stats(&t, ts);
	for (i = 0; i < svc->nrules; i++) {
		const struct sk_addrset *s = &svc->rules[i].from;

		ts->ranges += s->n4 + s->n6;
		for (k = 0; k < s->n4 * 5; k++) {
			const struct sk_range4 *g = &s->v4[k / 5];
			uint32_t a = k % 5 == 0 ? g->lo - 1 :
				     k % 5 == 1 ? g->lo :
				     k % 5 == 2 ? g->hi :
				     k % 5 == 3 ? g->hi + 1 :
						  g->lo + ((g->hi - g->lo) >>
							   gen_below(&r, 32));
			struct sk_pkt pkt = { b, 28, 28 };

			memset(b, 0, sizeof(b));
			b[0] = 0x45;
			b[9] = IPPROTO_UDP;
			gen_put32(b + 12, a);
			gen_put32(b + 16, gen_u32(&r));
			gen_put16(b + 20, gen_u32(&r) & 0xffff);
			if (check_tables(svc, &l, &t, &pkt, NULL, why,
					 sizeof(why))) {
				tl_fail(__FILE__, __LINE__,
					"%s: source %#x: %s", name, a, why);
				goto out;
			}
			checked++;
		}
		for (k = 0; k < s->n6 * 5; k++) {
			const struct sk_range6 *g = &s->v6[k / 5];
			sk_u128 a = k % 5 == 0 ? g->lo - 1 :
				    k % 5 == 1 ? g->lo :
				    k % 5 == 2 ? g->hi :
				    k % 5 == 3 ? g->hi + 1 :
						 g->lo + ((g->hi - g->lo) >>
							  gen_below(&r, 128));
			struct sk_pkt pkt = { b, sizeof(b), sizeof(b) };

			memset(b, 0, sizeof(b));
			b[0] = 6 << 4;
			b[6] = IPPROTO_UDP;
			gen_put128(b + 8, a);
			gen_put128(b + 24, gen_u128(&r));
			gen_put16(b + 40, gen_u32(&r) & 0xffff);
			if (check_tables(svc, &l, &t, &pkt, NULL, why,
					 sizeof(why))) {
				tl_fail(__FILE__, __LINE__,
					"%s: source %#llx:%016llx: %s", name,
					(unsigned long long)(a >> 64),
					(unsigned long long)a, why);
				goto out;
			}
			checked++;
		}
	}
	CHECK(checked > 0, "%s: nothing checked", name);
out:
	sk_tables_free(&t);
	sk_layout_free(&l);
	sksteer_config__free(cfg);
}

static void shape_head(struct gen_buf *b)
{
	gen_printf(b, "service c {\n  listen udp [::]:1 v6only\n  pool a 2\n"
		      "  pool b 1\n  set s {\n");
}

static void shape_tail(struct gen_buf *b)
{
	gen_printf(b, "  }\n  rule from @s pool a\n  default pool b\n}\n");
}

/*
 * Shapes that once sent packets to the wrong pool (a table's index taken
 * from one 64-bit half when it straddled both), and that once took
 * 16 KiB a level on the way down to every cluster; random clustered sets
 * besides. Address by address against the matcher, and the memory per
 * range.
 */
TEST(tables_clustered_ipv6)
{
	struct gen_rng r = { base_seed() ^ 0xc1057 };
	struct tree_stats ts = {}, big = {};
	struct gen_buf b = {};
	int i, j;

	/* 40 non-adjacent /64s in one /57, 260 elsewhere */
	shape_head(&b);
	for (i = 0; i < 40; i++)
		gen_printf(&b, "    2001:db8:0:%x::/64\n", 2 * i);
	for (i = 0; i < 260; i++)
		gen_printf(&b, "    2001:db8:%x::/64\n", 2 * i + 1);
	shape_tail(&b);
	check_edges("57", b.s, &ts);
	gen_buf_free(&b);

	/* 100 hosts in one /64 */
	shape_head(&b);
	for (i = 0; i < 100; i++)
		gen_printf(&b, "    2001:db8:0:1:%x:%x:%x:%x\n",
			   gen_u32(&r) & 0xffff, gen_u32(&r) & 0xffff,
			   gen_u32(&r) & 0xffff, gen_u32(&r) & 0xffff);
	shape_tail(&b);
	check_edges("hosts", b.s, &ts);
	gen_buf_free(&b);

	/* hosts in four adjacent /64s, differing in their top bits: a table
	 * indexed by bits 62 to 69 */
	shape_head(&b);
	for (i = 0; i < 300; i++)
		gen_printf(&b, "    2001:db8:0:%x:%x::%x\n", gen_below(&r, 4),
			   gen_below(&r, 4) << 14, gen_u32(&r) & 0xffff);
	shape_tail(&b);
	check_edges("straddle", b.s, &ts);
	gen_buf_free(&b);
	CHECK(ts.straddle > 0, "no table indexed across the 64-bit halves");

	for (j = 0; j < 200; j++) {
		shape_head(&b);
		gen_clustered6(&r, (int)gen_range(&r, 50, 700), &b);
		shape_tail(&b);
		check_edges("clustered", b.s, &ts);
		gen_buf_free(&b);
	}
	fprintf(stderr,
		"tables_clustered_ipv6: %lu tables, %lu straddling the "
		"halves, %lu trees two tables deep, %zu ranges, %.0f bytes "
		"per range\n",
		ts.tables, ts.straddle, ts.deep, ts.ranges,
		(double)ts.bytes / (double)ts.ranges);
	CHECK(ts.straddle > 20 && ts.deep > 5,
	      "poor coverage: %lu straddling tables, %lu deep trees",
	      ts.straddle, ts.deep);

	/* 100,000 host routes in 1000 /64s: 118 MiB when every level on
	 * the way down took a table of its own */
	shape_head(&b);
	for (i = 0; i < 1000; i++)
		for (j = 0; j < 100; j++)
			gen_printf(&b, "    2001:db8:%x:%x::%x\n", i >> 16,
				   i & 0xffff, 2 * j + 1);
	shape_tail(&b);
	check_edges("100k", b.s, &big);
	gen_buf_free(&b);
	fprintf(stderr, "100,000 hosts in 1000 /64s: %.1f MiB of tables\n",
		(double)big.bytes / (1 << 20));
	CHECK(big.bytes < ((size_t)12 << 20),
	      "100,000 hosts in 1000 /64s take %.1f MiB of tables",
	      (double)big.bytes / (1 << 20));
}

/*
 * Buckets that keep their boundaries as keys relative to their block, in
 * each width: every edge of every range against the matcher, and that the
 * shapes reach each width (a large IPv4 set: 16 bits under a root of
 * /16s; IPv6 prefixes down to /48 and to /64 under one /32).
 */
TEST(tables_relative)
{
	struct gen_rng r = { base_seed() ^ 0x4e1 };
	struct tree_stats t4 = {}, t6 = {};
	struct gen_buf b = {};
	int i, j;

	for (j = 0; j < 4; j++) {
		gen_printf(&b, "service c {\n  listen udp 0.0.0.0:1\n"
			       "  pool a 2\n  pool b 1\n  set s {\n");
		for (i = 0; i < 30000; i++) {
			int len = (int)gen_range(&r, 17, 28);

			gen_set_line(&b, 4, gen_u32(&r) & gen_mask32(len), len);
		}
		shape_tail(&b);
		check_edges("relative4", b.s, &t4);
		gen_buf_free(&b);
	}
	for (j = 0; j < 40; j++) {
		static const int lens[] = { 40, 44, 48, 52, 56, 60, 64 };
		/* up to /48 only in some sets, down to /64 in the others;
		 * in one /32, or all over 2000::/3 */
		uint32_t nl = j % 2 ? 3 : 7;
		bool db8 = j % 4 < 2;

		shape_head(&b);
		for (i = 0; i < 400; i++) {
			int len = lens[gen_below(&r, nl)];

			gen_set_line(
				&b, 6,
				gen_rand_in6(&r,
					     db8 ? (sk_u128)0x20010db8 << 96 :
						   (sk_u128)1 << 125,
					     db8 ? 32 : 3, len),
				len);
		}
		shape_tail(&b);
		check_edges("relative6", b.s, &t6);
		gen_buf_free(&b);
	}
	fprintf(stderr,
		"tables_relative: IPv4 %lu 16-bit buckets (%zu ranges), "
		"IPv6 %lu 32-bit and %lu 64-bit buckets (%zu ranges)\n",
		t4.r16, t4.ranges, t6.r32, t6.r64, t6.ranges);
	CHECK(t4.r16 > 100 && t6.r32 > 20 && t6.r64 > 20,
	      "poor coverage: %lu, %lu, %lu relative buckets", t4.r16, t6.r32,
	      t6.r64);
}

static void verdicts_case(const char *conf, bool want, size_t nverdicts)
{
	struct sksteer_config *cfg;
	struct sk_layout l;
	struct sk_tables t;
	const struct sksteer_service *svc;

	tl_messages_reset();
	cfg = sksteer_config__parse_string(conf, strlen(conf), "v.conf", NULL);
	ASSERT(cfg, "parse: %s", tl_messages());
	svc = sksteer_config__service(cfg, 0);
	ASSERT(!sk_layout_declared(svc, &l), "layout");
	ASSERT(!sk_tables_build(svc, &l, &t), "tables: %s", tl_messages());
	CHECK(!!(t.flags & SKS_F_VERDICTS) == want, "verdicts %s for: %s",
	      want ? "expected" : "not expected", conf);
	if (want)
		CHECK(t.nverdicts == nverdicts,
		      "%zu verdicts, expected %zu: %s", t.nverdicts, nverdicts,
		      conf);
	else
		CHECK(!t.nverdicts, "%zu verdicts kept without the flag",
		      t.nverdicts);
	sk_tables_free(&t);
	sk_layout_free(&l);
	sksteer_config__free(cfg);
}

/*
 * Which configurations get verdicts (the cross product of the classes,
 * per IP version) and which keep the class bitmaps; that both decide as
 * the matcher does is the diff_* tests' job, which build every other
 * table without verdicts.
 */
TEST(tables_verdicts)
{
	/* IPv4 only: 3 destination classes (each address, neither) x 2
	 * source classes; one verdict each for IPv6 (not received) and
	 * packets of neither version */
	verdicts_case("service v {\n listen udp 0.0.0.0:1\n pool a 1\n"
		      " pool b 2\n"
		      " rule to 198.51.100.1 pool a\n"
		      " rule to 198.51.100.2 pool b\n"
		      " rule from 203.0.113.0/24 pool a\n}\n",
		      true, 3 * 2 + 1 + 1);
	/* dual stack with source ports: IPv4 and IPv6 each 2 source
	 * classes x 2 port classes (in the range; below, above or unknown:
	 * a class is a set of rules), the other version 2 port classes */
	verdicts_case("service v {\n listen udp [::]:1\n pool a 1\n"
		      " rule from 203.0.113.0/24, 2001:db8::/32 sport 100-200"
		      " pool a\n}\n",
		      true, 2 * 2 + 2 * 2 + 2);
	/* a payload test: the rule depends on more than the classes */
	verdicts_case("service v {\n listen udp 0.0.0.0:1\n pool a 1\n"
		      " rule to 198.51.100.1 payload 0 u8 == 7 pool a\n}\n",
		      false, 0);
	verdicts_case("service v {\n listen udp 0.0.0.0:1\n pool a 2\n"
		      " rule to 198.51.100.1 pool a by payload 0\n}\n",
		      false, 0);
	/* verdicts that would take the tables over the budget are left
	 * out, not a reason to refuse tables that fit without them */
	{
		const char *conf = "service v {\n listen udp 0.0.0.0:1\n"
				   " pool a 1\n rule to 198.51.100.1 pool a\n"
				   "}\n";
		struct sksteer_config *cfg = sksteer_config__parse_string(
			conf, strlen(conf), "v.conf", NULL);
		struct sk_layout l;
		struct sk_tables t;
		size_t plain;

		ASSERT(cfg, "parse: %s", tl_messages());
		ASSERT(!sk_layout_declared(sksteer_config__service(cfg, 0), &l),
		       "layout");
		ASSERT(!sk_tables_build(sksteer_config__service(cfg, 0), &l,
					&t),
		       "tables: %s", tl_messages());
		plain = sk_tables_size(&t) - t.nverdicts * sizeof(*t.verdicts);
		sk_tables_free(&t);
		sk_tables_budget = plain;
		CHECK(!sk_tables_build(sksteer_config__service(cfg, 0), &l,
				       &t) &&
			      !(t.flags & SKS_F_VERDICTS),
		      "tables that fit without their verdicts: %s",
		      tl_messages());
		sk_tables_budget = SK_TABLES_MAX_BYTES;
		sk_tables_free(&t);
		sk_layout_free(&l);
		sksteer_config__free(cfg);
	}
	/* more combinations than allowed */
	sk_tables_max_verdicts = 6;
	verdicts_case("service v {\n listen udp 0.0.0.0:1\n pool a 1\n"
		      " pool b 2\n"
		      " rule to 198.51.100.1 pool a\n"
		      " rule to 198.51.100.2 pool b\n"
		      " rule from 203.0.113.0/24 pool a\n}\n",
		      false, 0);
	sk_tables_max_verdicts = SKS_MAX_VERDICTS;
}

/* Tables over the budget are refused before anything is loaded, with how
 * big they would be and what the limit is. */
TEST(tables_budget)
{
	struct gen_rng r = { base_seed() ^ 0xb0d9e7 };
	struct gen_buf b = {};
	struct sksteer_config *cfg;
	struct sksteer_service *svc;
	struct sk_layout l;
	struct sk_tables t;
	int i, err;

	shape_head(&b);
	for (i = 0; i < 20000; i++)
		gen_printf(&b, "    2001:db8:%x:%x::/64\n",
			   gen_u32(&r) & 0xffff, gen_u32(&r) & 0xffff);
	shape_tail(&b);
	cfg = sksteer_config__parse_string(b.s, b.n, "budget.conf", NULL);
	ASSERT(cfg, "parse: %s", tl_messages());
	svc = sksteer_config__service(cfg, 0);
	ASSERT(!sk_layout_declared(svc, &l), "layout");
	ASSERT(!sk_tables_build(svc, &l, &t), "tables: %s", tl_messages());
	CHECK(sk_tables_size(&t) > ((size_t)1 << 20) &&
		      sk_tables_size(&t) < ((size_t)4 << 20),
	      "20,000 /64s take %zu bytes", sk_tables_size(&t));
	sk_tables_free(&t);

	/* a budget the same tables exceed */
	sk_tables_budget = (size_t)1 << 20;
	tl_messages_reset();
	err = sk_tables_build(svc, &l, &t);
	CHECK(err == -E2BIG, "over the budget: %d", err);
	CHECK(strstr(tl_messages(), "MiB") &&
		      strstr(tl_messages(), "more than the 1.0 MiB"),
	      "the refusal says how big and what limit: %s", tl_messages());
	/* and one they exceed while they are built */
	sk_tables_budget = (size_t)64 << 10;
	tl_messages_reset();
	err = sk_tables_build(svc, &l, &t);
	CHECK(err == -E2BIG && strstr(tl_messages(), "more than the 0.1 MiB"),
	      "far over the budget: %d: %s", err, tl_messages());
	sk_tables_budget = SK_TABLES_MAX_BYTES;
	sk_layout_free(&l);
	sksteer_config__free(cfg);
	gen_buf_free(&b);
}
