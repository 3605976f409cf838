// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Tables for the eBPF program (layout in bpf/sksteer_maps.h).
 *
 * Each condition direction (source addresses, destination addresses,
 * source ports) partitions its space into classes: maximal runs of values
 * that are in exactly the same rule conditions. A class carries a bitmap of
 * the rules whose condition of that direction holds (rules without such a
 * condition always have their bit set). The program ANDs the bitmaps of the
 * packet's classes with the rules possible for its IP version, and the
 * lowest set bit whose payload tests pass is the deciding rule.
 */
#include <stdlib.h>
#include <string.h>

#include "tables.h"

#define SPORT_UNKNOWN 65536u
#define HASH_MUL1 0x9e3779b1u
#define HASH_MUL2 0x85ebca6bu
#define MAX_PROBES 4
#define MAX_FALLBACK_HOPS 3
#define MAX_TESTS_PER_RULE 16

/* ---- growable arrays ---- */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 64;
	void *np;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	np = sk_reallocarray(*p, n, elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = n;
	return 0;
}

/* ---- classes ---- */

struct bitmap {
	uint64_t w[SKS_WORDS];
};

/* interning of bitmaps -> class ids (open addressing) */
struct classes {
	struct bitmap *maps;
	size_t n, cap;
	uint32_t *slots; /* id + 1, 0: empty */
	size_t nslots;
	unsigned int nwords;
};

static uint64_t bm_hash(const struct bitmap *b, unsigned int nwords)
{
	uint64_t h = 0x9e3779b97f4a7c15ull;
	unsigned int i;

	for (i = 0; i < nwords; i++) {
		h ^= b->w[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 33;
	}
	return h;
}

static int classes_rehash(struct classes *c, size_t nslots)
{
	uint32_t *s = calloc(nslots, sizeof(*s));
	size_t i;

	if (!s)
		return -ENOMEM;
	for (i = 0; i < c->n; i++) {
		size_t h = bm_hash(&c->maps[i], c->nwords) & (nslots - 1);

		while (s[h])
			h = (h + 1) & (nslots - 1);
		s[h] = (uint32_t)i + 1;
	}
	free(c->slots);
	c->slots = s;
	c->nslots = nslots;
	return 0;
}

static int64_t classes_intern(struct classes *c, const struct bitmap *b)
{
	size_t h;

	if ((c->n + 1) * 2 > c->nslots &&
	    classes_rehash(c, c->nslots ? c->nslots * 2 : 256))
		return -ENOMEM;
	h = bm_hash(b, c->nwords) & (c->nslots - 1);
	while (c->slots[h]) {
		uint32_t id = c->slots[h] - 1;

		if (!memcmp(&c->maps[id], b, sizeof(*b)))
			return id;
		h = (h + 1) & (c->nslots - 1);
	}
	if (c->n >= UINT32_MAX / SKS_WORDS ||
	    grow((void **)&c->maps, &c->cap, c->n + 1, sizeof(*c->maps)))
		return -ENOMEM;
	c->maps[c->n] = *b;
	c->slots[h] = (uint32_t)c->n + 1;
	return (int64_t)c->n++;
}

static void classes_free(struct classes *c)
{
	free(c->maps);
	free(c->slots);
	memset(c, 0, sizeof(*c));
}

/* A change of class at @key (the first at key 0). */
struct bnd {
	sk_u128 key;
	uint32_t cls;
};

struct event {
	sk_u128 key;
	uint32_t rule;
};

static int cmp_event(const void *a, const void *b)
{
	const struct event *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (x->rule > y->rule) - (x->rule < y->rule);
}

enum dir { DIR_FROM, DIR_TO, DIR_SPORT };

static bool rule_has(const struct sk_rule *r, enum dir d)
{
	return d == DIR_FROM ? r->has_from : d == DIR_TO ? r->has_to :
							    r->has_sport;
}

/*
 * Sweep the ranges of every rule with a condition in direction @d (of IP
 * version @fam for addresses) into class changes. Each rule's ranges are
 * disjoint, so an event toggles the rule's bit.
 */
static int sweep(const struct sksteer_service *svc, enum dir d, int fam,
		 struct classes *cls, struct bnd **out, size_t *nout)
{
	struct event *ev = NULL;
	size_t nev = 0, cap = 0, i, r, nb = 0, capb = 0;
	struct bitmap cur = {};
	struct bnd *b = NULL;
	int64_t id;
	int err = -ENOMEM;

	for (r = 0; r < svc->nrules; r++) {
		const struct sk_rule *rule = &svc->rules[r];
		const struct sk_addrset *s = d == DIR_TO ? &rule->to : &rule->from;

		if (!rule_has(rule, d)) {
			cur.w[r / 64] |= 1ull << (r % 64);
			continue;
		}
		if (d == DIR_SPORT) {
			if (grow((void **)&ev, &cap, nev + 2, sizeof(*ev)))
				goto out;
			ev[nev++] = (struct event){ rule->sport_lo, (uint32_t)r };
			ev[nev++] = (struct event){ (sk_u128)rule->sport_hi + 1,
						    (uint32_t)r };
			continue;
		}
		if (fam == 4) {
			if (grow((void **)&ev, &cap, nev + 2 * s->n4, sizeof(*ev)))
				goto out;
			for (i = 0; i < s->n4; i++) {
				ev[nev++] = (struct event){ s->v4[i].lo,
							    (uint32_t)r };
				if (s->v4[i].hi != UINT32_MAX)
					ev[nev++] = (struct event){
						(sk_u128)s->v4[i].hi + 1,
						(uint32_t)r
					};
			}
		} else {
			if (grow((void **)&ev, &cap, nev + 2 * s->n6, sizeof(*ev)))
				goto out;
			for (i = 0; i < s->n6; i++) {
				ev[nev++] = (struct event){ s->v6[i].lo,
							    (uint32_t)r };
				if (s->v6[i].hi != ~(sk_u128)0)
					ev[nev++] = (struct event){
						s->v6[i].hi + 1, (uint32_t)r
					};
			}
		}
	}
	if (nev)
		qsort(ev, nev, sizeof(*ev), cmp_event);
	i = 0;
	do {
		sk_u128 key = i < nev && ev[i].key == 0 ? 0 : 0;

		if (nb) /* not the first: the key of this group of events */
			key = ev[i].key;
		while (i < nev && ev[i].key == key) {
			cur.w[ev[i].rule / 64] ^= 1ull << (ev[i].rule % 64);
			i++;
		}
		id = classes_intern(cls, &cur);
		if (id < 0)
			goto out;
		if (!nb || b[nb - 1].cls != (uint32_t)id) {
			if (grow((void **)&b, &capb, nb + 1, sizeof(*b)))
				goto out;
			b[nb++] = (struct bnd){ key, (uint32_t)id };
		}
	} while (i < nev);
	*out = b;
	*nout = nb;
	b = NULL;
	err = 0;
out:
	free(ev);
	free(b);
	return err;
}

/* ---- buckets ---- */

struct builder {
	struct sk_tables *t;
	size_t cap_buckets, cap_b4, cap_b6;
	int fam;
};

static int reserve_buckets(struct builder *bd, size_t n, size_t *at)
{
	struct sk_tables *t = bd->t;

	if (t->nbuckets + n > UINT32_MAX ||
	    grow((void **)&t->buckets, &bd->cap_buckets, t->nbuckets + n,
		 sizeof(*t->buckets)))
		return -ENOMEM;
	memset(&t->buckets[t->nbuckets], 0, n * sizeof(*t->buckets));
	*at = t->nbuckets;
	t->nbuckets += n;
	return 0;
}

/*
 * Fill bucket @at for the block [@start, @start + 2^@bits) whose class at
 * its start is @cls0 and whose class changes strictly inside it are
 * v[0..n).
 */
static int fill_bucket(struct builder *bd, size_t at, const struct bnd *v,
		       size_t n, uint32_t cls0, sk_u128 start, int bits)
{
	struct sk_tables *t = bd->t;
	size_t i = 0, base, k;
	int err;

	if (n > SKS_LIST_SPLIT && bits > 8) {
		/* crowded: 256 sub-buckets of bits - 8 */
		err = reserve_buckets(bd, 256, &base);
		if (err)
			return err;
		t->buckets[at].flags = SKS_BUCKET_TABLE;
		t->buckets[at].first = (uint32_t)base;
		t->buckets[at].cls = cls0;
		for (k = 0; k < 256; k++) {
			sk_u128 sub = start + ((sk_u128)k << (bits - 8));
			sk_u128 end = sub + ((sk_u128)1 << (bits - 8)) - 1;
			size_t j;

			/* a change exactly at the sub-block's start sets its
			 * class */
			while (i < n && v[i].key <= sub) {
				cls0 = v[i].cls;
				i++;
			}
			j = i;
			while (j < n && v[j].key <= end)
				j++;
			err = fill_bucket(bd, base + k, v + i, j - i, cls0, sub,
					  bits - 8);
			if (err)
				return err;
		}
		return 0;
	}
	if (n > UINT16_MAX)
		return -E2BIG;
	t->buckets[at].cls = cls0;
	t->buckets[at].count = (uint16_t)n;
	if (bd->fam == 4 && n <= SKS_INLINE4) {
		uint32_t last = cls0;

		for (i = 0; i < SKS_INLINE4; i++) {
			if (i < n)
				last = v[i].cls;
			/* padding never matches: the scan keeps the class */
			t->buckets[at].in[i] =
				i < n ? (struct sks_bound4){ (uint32_t)v[i].key,
							     v[i].cls } :
					(struct sks_bound4){ UINT32_MAX, last };
		}
	} else if (bd->fam == 4) {
		t->buckets[at].first = (uint32_t)t->nbounds4;
		if (grow((void **)&t->bounds4, &bd->cap_b4, t->nbounds4 + n,
			 sizeof(*t->bounds4)))
			return -ENOMEM;
		for (i = 0; i < n; i++)
			t->bounds4[t->nbounds4++] = (struct sks_bound4){
				(uint32_t)v[i].key, v[i].cls
			};
	} else {
		t->buckets[at].first = (uint32_t)t->nbounds6;
		if (grow((void **)&t->bounds6, &bd->cap_b6, t->nbounds6 + n,
			 sizeof(*t->bounds6)))
			return -ENOMEM;
		for (i = 0; i < n; i++)
			t->bounds6[t->nbounds6++] = (struct sks_bound6){
				(uint64_t)(v[i].key >> 64), (uint64_t)v[i].key,
				v[i].cls, 0
			};
	}
	return 0;
}

/*
 * First-level bits for @n class changes: about two per bucket, so that
 * most buckets hold their boundaries inline, and no more buckets than
 * that (the tree's size is what decides whether it stays in the caches).
 */
static int tree_bits(size_t n)
{
	int bits = 0;

	while (bits < SKS_MAX_BITS && ((size_t)2 << bits) < n)
		bits++;
	return n <= SKS_INLINE4 ? 0 : bits;
}

static int build_tree(struct builder *bd, int tree, const struct bnd *v,
		      size_t n)
{
	struct sk_tables *t = bd->t;
	int abits = bd->fam == 4 ? 32 : 128;
	int bits = tree_bits(n - 1), err;
	size_t base, i = 1, k, nb = (size_t)1 << bits;
	uint32_t cls = v[0].cls; /* v[0].key == 0 */

	err = reserve_buckets(bd, nb, &base);
	if (err)
		return err;
	t->tree_base[tree] = (uint32_t)base;
	t->tree_bits[tree] = (uint32_t)bits;
	for (k = 0; k < nb; k++) {
		int rest = abits - bits;
		sk_u128 start = bits ? (sk_u128)k << rest : 0;
		sk_u128 end = rest == 128 ? ~(sk_u128)0 :
					    start + ((sk_u128)1 << rest) - 1;
		size_t j;

		while (i < n && v[i].key <= start) {
			cls = v[i].cls;
			i++;
		}
		j = i;
		while (j < n && v[j].key <= end)
			j++;
		err = fill_bucket(bd, base + k, v + i, j - i, cls, start, rest);
		if (err)
			return err;
	}
	return 0;
}

static int add_classbits(struct sk_tables *t, size_t *cap, int which,
			 const struct classes *c)
{
	size_t i;

	t->cls_base[which] = (uint32_t)t->nclassbits;
	t->nclasses[which] = (uint32_t)c->n;
	if (grow((void **)&t->classbits, cap,
		 t->nclassbits + c->n * t->nwords, sizeof(*t->classbits)))
		return -ENOMEM;
	for (i = 0; i < c->n; i++) {
		memcpy(&t->classbits[t->nclassbits], c->maps[i].w,
		       t->nwords * sizeof(uint64_t));
		t->nclassbits += t->nwords;
	}
	return 0;
}

static struct sks_target conv_target(const struct sk_target *s)
{
	struct sks_target d = {};

	switch (s->kind) {
	case SKSTEER_TARGET_HASH:
		d.kind = SKS_TGT_HASH;
		break;
	case SKSTEER_TARGET_DROP:
		d.kind = SKS_TGT_DROP;
		break;
	case SKSTEER_TARGET_POOL:
		d.kind = SKS_TGT_POOL;
		d.pool = (uint16_t)s->pool;
		if (s->by_payload) {
			d.key_width = s->key_width;
			d.key_off = (uint16_t)s->key_off;
		}
		break;
	}
	return d;
}

/*
 * Where @t really goes with the sockets open now: through the fallbacks of
 * pools without open sockets (the parser refused cycles). A pool target
 * that falls back spreads by flow hash, never by payload.
 */
static struct sks_target resolve_target(const struct sksteer_service *svc,
					const struct sk_layout *layout,
					const struct sk_target *t)
{
	struct sks_target d = conv_target(t);
	size_t steps;

	for (steps = 0; steps <= svc->npools; steps++) {
		if (d.kind != SKS_TGT_POOL || layout->pools[d.pool].n)
			return d;
		d = conv_target(&svc->pools[d.pool].fallback);
		d.key_width = 0;
		d.key_off = 0;
	}
	return (struct sks_target){ .kind = SKS_TGT_DROP }; /* unreachable */
}

static uint8_t cmp_table(enum sk_cmp c)
{
	switch (c) {
	case SK_CMP_EQ:
		return SKS_CMP_EQ;
	case SK_CMP_NE:
		return SKS_CMP_NE;
	case SK_CMP_LT:
		return SKS_CMP_LT;
	case SK_CMP_LE:
		return SKS_CMP_LE;
	case SK_CMP_GT:
		return SKS_CMP_GT;
	case SK_CMP_GE:
		return SKS_CMP_GE;
	}
	return 0;
}

static bool rule_possible(const struct sk_rule *r, int fam)
{
	if (fam == SKS_FAM_OTHER)
		return !r->has_from && !r->has_to && !r->has_sport;
	if (r->has_from && !(fam == SKS_FAM_4 ? r->from.n4 : r->from.n6))
		return false;
	if (r->has_to && !(fam == SKS_FAM_4 ? r->to.n4 : r->to.n6))
		return false;
	return true;
}

int sk_tables_build(const struct sksteer_service *svc,
		    const struct sk_layout *layout, struct sk_tables *t)
{
	struct builder bd = { .t = t };
	size_t cap_cb = 0, i, r, ncand = 0;
	int err = 0, tree;

	memset(t, 0, sizeof(*t));
	if (svc->nrules > SKS_MAX_RULES) {
		sk_warn("service '%s': %zu rules, the eBPF backend supports up "
			"to %d\n",
			svc->name, svc->nrules, SKS_MAX_RULES);
		return -E2BIG;
	}
	if (svc->npools > SKS_MAX_POOLS || svc->nsockets > SKS_MAX_SOCKETS) {
		sk_warn("service '%s': too many pools or sockets for the eBPF "
			"backend\n",
			svc->name);
		return -E2BIG;
	}
	t->nrules = (uint32_t)svc->nrules;
	t->nwords = svc->nrules ? (uint32_t)(svc->nrules + 63) / 64 : 1;
	t->recv4 = svc->recv4;
	t->recv6 = svc->recv6;
	t->proto = (uint32_t)svc->proto;
	t->nsockets = svc->nsockets;
	t->deflt = resolve_target(svc, layout, &svc->deflt);

	for (r = 0; r < svc->nrules; r++) {
		const struct sk_rule *rule = &svc->rules[r];
		int f;

		if (rule->has_from)
			t->flags |= SKS_F_FROM;
		if (rule->has_to)
			t->flags |= SKS_F_TO;
		if (rule->has_sport)
			t->flags |= SKS_F_SPORT;
		if (rule->npay || rule->target.by_payload) {
			t->flags |= SKS_F_TESTS;
			t->test_mask[r / 64] |= 1ull << (r % 64);
			ncand++;
		}
		if (rule->npay > MAX_TESTS_PER_RULE) {
			sk_warn("%s:%d:%d: the eBPF backend supports at most %d "
				"payload tests in a rule\n",
				rule->loc.file, rule->loc.line, rule->loc.col,
				MAX_TESTS_PER_RULE);
			return -E2BIG;
		}
		for (f = 0; f < SKS_NFAMS; f++) {
			if ((f == SKS_FAM_4 && !svc->recv4) ||
			    (f == SKS_FAM_6 && !svc->recv6))
				continue;
			if (rule_possible(rule, f))
				t->base_mask[f][r / 64] |= 1ull << (r % 64);
		}
	}
	t->max_cands = (uint32_t)(ncand + 1 < svc->nrules ? ncand + 1 :
							     svc->nrules);
	if (!t->max_cands)
		t->max_cands = 1;
	for (i = 0; i < svc->npools; i++)
		if (layout->pools[i].n > 1)
			t->flags |= SKS_F_HASH;

	/* address trees */
	for (tree = 0; tree < SKS_NTREES; tree++) {
		enum dir d = tree == SKS_TREE_SRC4 || tree == SKS_TREE_SRC6 ?
				     DIR_FROM :
				     DIR_TO;
		int fam = tree == SKS_TREE_SRC4 || tree == SKS_TREE_DST4 ? 4 : 6;
		struct classes cls = { .nwords = t->nwords };
		struct bnd *v = NULL;
		size_t n = 0;

		if (!(t->flags & (d == DIR_FROM ? SKS_F_FROM : SKS_F_TO)) ||
		    (fam == 4 ? !svc->recv4 : !svc->recv6))
			continue;
		bd.fam = fam;
		err = sweep(svc, d, fam, &cls, &v, &n);
		if (!err)
			err = build_tree(&bd, tree, v, n);
		if (!err)
			err = add_classbits(t, &cap_cb, tree, &cls);
		free(v);
		classes_free(&cls);
		if (err)
			goto err_free;
	}
	if (t->flags & SKS_F_SPORT) {
		struct classes cls = { .nwords = t->nwords };
		struct bitmap none = {};
		struct bnd *v = NULL;
		size_t n = 0, k;
		int64_t unknown;

		err = sweep(svc, DIR_SPORT, 0, &cls, &v, &n);
		/* an unknown source port passes only rules without 'sport' */
		for (r = 0; r < svc->nrules; r++)
			if (!svc->rules[r].has_sport)
				none.w[r / 64] |= 1ull << (r % 64);
		unknown = err ? -1 : classes_intern(&cls, &none);
		t->nsport_cls = SPORT_UNKNOWN + 1;
		t->sport_cls = calloc(t->nsport_cls, sizeof(*t->sport_cls));
		if (err || unknown < 0 || !t->sport_cls) {
			free(v);
			classes_free(&cls);
			err = err ? err : -ENOMEM;
			goto err_free;
		}
		for (k = 0, i = 0; k < SPORT_UNKNOWN; k++) {
			while (i + 1 < n && v[i + 1].key <= k)
				i++;
			t->sport_cls[k] = v[i].cls;
		}
		t->sport_cls[SPORT_UNKNOWN] = (uint32_t)unknown;
		err = add_classbits(t, &cap_cb, SKS_NTREES, &cls);
		free(v);
		classes_free(&cls);
		if (err)
			goto err_free;
	}

	/* rules, tests, pools */
	t->nrules_map = svc->nrules ? svc->nrules : 1;
	t->rules = calloc(t->nrules_map, sizeof(*t->rules));
	t->pools = calloc(svc->npools ? svc->npools : 1, sizeof(*t->pools));
	t->npools = svc->npools;
	if (!t->rules || !t->pools) {
		err = -ENOMEM;
		goto err_free;
	}
	for (r = 0; r < svc->nrules; r++)
		t->ntests += svc->rules[r].npay;
	if (t->ntests > SKS_MAX_TESTS) {
		sk_warn("service '%s': %zu payload tests, the eBPF backend "
			"supports up to %d\n",
			svc->name, t->ntests, SKS_MAX_TESTS);
		err = -E2BIG;
		goto err_free;
	}
	t->tests = calloc(t->ntests ? t->ntests : 1, sizeof(*t->tests));
	if (!t->tests) {
		err = -ENOMEM;
		goto err_free;
	}
	t->ntests = 0;
	for (r = 0; r < svc->nrules; r++) {
		const struct sk_rule *rule = &svc->rules[r];

		t->rules[r].target = resolve_target(svc, layout, &rule->target);
		if (rule->target.by_payload) {
			t->rules[r].key_width = rule->target.key_width;
			t->rules[r].key_off = (uint16_t)rule->target.key_off;
		}
		t->rules[r].first_test = (uint16_t)t->ntests;
		t->rules[r].ntests = (uint16_t)rule->npay;
		for (i = 0; i < rule->npay; i++) {
			const struct sk_paytest *p = &rule->pay[i];

			t->tests[t->ntests++] = (struct sks_test){
				.off = (uint16_t)p->off,
				.width = p->width,
				.op = cmp_table(p->cmp),
				.mask = p->has_mask ? p->mask : 0xffffffffu,
				.value = p->value,
			};
		}
	}
	for (i = 0; i < svc->npools; i++)
		t->nslots += layout->pools[i].n;
	t->slots = calloc(t->nslots ? t->nslots : 1, sizeof(*t->slots));
	if (!t->slots) {
		err = -ENOMEM;
		goto err_free;
	}
	t->nslots = 0;
	for (i = 0; i < svc->npools; i++) {
		const struct sksteer_pool *p = &svc->pools[i];

		t->pools[i].first = (uint32_t)t->nslots;
		t->pools[i].n = layout->pools[i].n;
		t->pools[i].fallback = resolve_target(svc, layout, &p->fallback);
		t->pools[i].fallback.key_width = 0;
		memcpy(&t->slots[t->nslots], layout->pools[i].pos,
		       layout->pools[i].n * sizeof(*t->slots));
		t->nslots += layout->pools[i].n;
		(void)p;
	}
	/* maps need at least one entry */
	if (!t->nbuckets || !t->nbounds4 || !t->nbounds6 || !t->nclassbits ||
	    !t->nsport_cls || !t->nslots) {
		size_t c4 = bd.cap_b4, c6 = bd.cap_b6, cb = bd.cap_buckets;

		if ((!t->nbuckets && grow((void **)&t->buckets, &cb, 1,
					  sizeof(*t->buckets))) ||
		    (!t->nbounds4 && grow((void **)&t->bounds4, &c4, 1,
					  sizeof(*t->bounds4))) ||
		    (!t->nbounds6 && grow((void **)&t->bounds6, &c6, 1,
					  sizeof(*t->bounds6))) ||
		    (!t->nclassbits && grow((void **)&t->classbits, &cap_cb, 1,
					    sizeof(*t->classbits))) ||
		    (!t->nsport_cls &&
		     !(t->sport_cls = calloc(1, sizeof(*t->sport_cls))))) {
			err = -ENOMEM;
			goto err_free;
		}
#define ATLEAST1(f, ptr)                                                     \
	do {                                                                 \
		if (!t->f) {                                                 \
			memset(ptr, 0, sizeof(*ptr));                        \
			t->f = 1;                                            \
		}                                                            \
	} while (0)
		ATLEAST1(nbuckets, t->buckets);
		ATLEAST1(nbounds4, t->bounds4);
		ATLEAST1(nbounds6, t->bounds6);
		ATLEAST1(nclassbits, t->classbits);
		ATLEAST1(nsport_cls, t->sport_cls);
		ATLEAST1(nslots, t->slots);
#undef ATLEAST1
	}
	return 0;

err_free:
	if (err == -ENOMEM)
		sk_warn("service '%s': out of memory building eBPF tables\n",
			svc->name);
	else if (err == -E2BIG && !t->rules)
		sk_warn("service '%s': prefix tables too large for the eBPF "
			"backend\n",
			svc->name);
	sk_tables_free(t);
	return err;
}

void sk_tables_free(struct sk_tables *t)
{
	free(t->buckets);
	free(t->bounds4);
	free(t->bounds6);
	free(t->classbits);
	free(t->sport_cls);
	free(t->rules);
	free(t->tests);
	free(t->pools);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

int sk_tables_hot(const struct sk_tables *t, struct sks_hot **out,
		  size_t *nout, struct sks_cfg *c)
{
	size_t ncls = (t->nclassbits + 1) / 2, nslots = (t->nslots + 3) / 4;
	size_t n = ncls + t->nrules_map + (t->ntests ? t->ntests : 1) +
		   (t->npools ? t->npools : 1) + nslots, i;
	struct sks_hot *hot;

	memset(c, 0, sizeof(*c));
	c->flags = t->flags;
	c->nwords = t->nwords;
	c->proto = t->proto;
	c->max_cands = t->max_cands;
	c->recv4 = (uint8_t)t->recv4;
	c->recv6 = (uint8_t)t->recv6;
	c->nrules = (uint16_t)t->nrules;
	c->off_rules = (uint32_t)ncls;
	c->off_tests = c->off_rules + (uint32_t)t->nrules_map;
	c->off_pools = c->off_tests + (uint32_t)(t->ntests ? t->ntests : 1);
	c->off_slots = c->off_pools + (uint32_t)(t->npools ? t->npools : 1);
	for (i = 0; i < SKS_NTREES; i++) {
		c->tree_base[i] = t->tree_base[i];
		c->tree_bits[i] = (uint8_t)t->tree_bits[i];
	}
	memcpy(c->cls_base, t->cls_base, sizeof(c->cls_base));
	memcpy(c->base_mask, t->base_mask, sizeof(c->base_mask));
	memcpy(c->test_mask, t->test_mask, sizeof(c->test_mask));
	c->deflt = t->deflt;

	hot = calloc(n, sizeof(*hot));
	if (!hot)
		return -ENOMEM;
	for (i = 0; i < t->nclassbits; i++)
		hot[i / 2].words[i % 2] = t->classbits[i];
	for (i = 0; i < t->nrules_map; i++)
		hot[c->off_rules + i].rule = t->rules[i];
	for (i = 0; i < t->ntests; i++)
		hot[c->off_tests + i].test = t->tests[i];
	for (i = 0; i < t->npools; i++)
		hot[c->off_pools + i].pool = t->pools[i];
	for (i = 0; i < t->nslots; i++)
		hot[c->off_slots + i / 4].slots[i % 4] = t->slots[i];
	*out = hot;
	*nout = n;
	return 0;
}

size_t sk_tables_size(const struct sk_tables *t)
{
	return t->nbuckets * sizeof(*t->buckets) +
	       t->nbounds4 * sizeof(*t->bounds4) +
	       t->nbounds6 * sizeof(*t->bounds6) +
	       t->nclassbits * sizeof(*t->classbits) +
	       t->nsport_cls * sizeof(*t->sport_cls) +
	       t->nrules_map * sizeof(*t->rules) +
	       (t->ntests ? t->ntests : 1) * sizeof(*t->tests) +
	       (t->npools ? t->npools : 1) * sizeof(*t->pools) +
	       t->nslots * sizeof(*t->slots);
}

/* ---- evaluation, the way bpf/sksteer.bpf.c does it ---- */

struct ev_pkt {
	int fam;
	uint32_t src[4], dst[4];
	uint32_t sport;
	const uint8_t *payload;
	uint32_t plen;
};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint32_t search(const struct sk_tables *t, const struct sks_bucket *b,
		       sk_u128 x, int fam)
{
	uint32_t lo = b->first, hi = b->first + b->count, cls = b->cls, i;

	if (fam == 4 && b->count <= SKS_INLINE4) {
		for (i = 0; i < SKS_INLINE4; i++)
			if (b->in[i].key <= x)
				cls = b->in[i].cls;
		return cls;
	}
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		sk_u128 key = fam == 4 ? t->bounds4[mid].key :
					 ((sk_u128)t->bounds6[mid].hi << 64 |
					  t->bounds6[mid].lo);

		if (key <= x) {
			cls = fam == 4 ? t->bounds4[mid].cls :
					 t->bounds6[mid].cls;
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return cls;
}

static uint32_t class_of(const struct sk_tables *t, int tree,
			 const uint32_t *a, int fam)
{
	sk_u128 x = fam == 4 ? a[0] :
			       ((sk_u128)a[0] << 96 | (sk_u128)a[1] << 64 |
				(sk_u128)a[2] << 32 | a[3]);
	int bits = (int)t->tree_bits[tree];
	int shift = (fam == 4 ? 32 : 128) - bits;
	const struct sks_bucket *b =
		&t->buckets[t->tree_base[tree] +
			    (bits ? (uint32_t)(x >> shift) : 0)];

	while (b->flags & SKS_BUCKET_TABLE) {
		shift -= 8;
		b = &t->buckets[b->first + (uint32_t)((x >> shift) & 0xff)];
	}
	return search(t, b, x, fam);
}

static void and_class(const struct sk_tables *t, uint64_t *mask, int which,
		      uint32_t cls)
{
	uint32_t i;

	for (i = 0; i < t->nwords; i++)
		mask[i] &= t->classbits[t->cls_base[which] + cls * t->nwords + i];
}

static int payload_value(const struct ev_pkt *p, uint32_t off, uint32_t width,
			 uint32_t *v)
{
	uint32_t i;

	if (width < 1 || width > 4 || off + width > p->plen)
		return -1;
	*v = 0;
	for (i = 0; i < width; i++)
		*v = *v << 8 | p->payload[off + i];
	return 0;
}

static bool tests_pass(const struct sk_tables *t, const struct ev_pkt *p,
		       const struct sks_rule *r, uint32_t *key)
{
	uint32_t i, v;

	for (i = 0; i < r->ntests; i++) {
		const struct sks_test *x = &t->tests[r->first_test + i];
		bool ok;

		if (payload_value(p, x->off, x->width, &v))
			return false;
		v &= x->mask;
		ok = (x->op >> (v < x->value ? 2 : v == x->value ? 1 : 0)) & 1;
		if (!ok)
			return false;
	}
	if (r->key_width)
		return !payload_value(p, r->key_off, r->key_width, key);
	return true;
}

static uint32_t ev_hash(const struct ev_pkt *p)
{
	uint32_t h = p->sport == SPORT_UNKNOWN ? 0 : p->sport;
	int i, n = p->fam == SKS_FAM_4 ? 1 : p->fam == SKS_FAM_6 ? 4 : 0;

	for (i = 0; i < n; i++)
		h = (h ^ p->src[i]) * HASH_MUL1;
	h ^= h >> 16;
	h *= HASH_MUL2;
	h ^= h >> 13;
	return h;
}

/* Offset of the transport header behind at most SKS_IPV6_MAX_EXT
 * extension headers, or 0 when it is not reachable that way. */
static size_t l4_offset6(const struct sk_pkt *pkt, uint32_t proto)
{
	uint32_t off = 40, i;
	uint8_t nh = pkt->buf[6];

	for (i = 0; i <= SKS_IPV6_MAX_EXT; i++) {
		if (nh == proto)
			return off + 2 <= pkt->len ? off : 0;
		if (i == SKS_IPV6_MAX_EXT || off + 2 > pkt->len)
			return 0;
		switch (nh) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			nh = pkt->buf[off];
			off += ((uint32_t)pkt->buf[off + 1] + 1) * 8;
			break;
		case IPPROTO_FRAGMENT:
			nh = pkt->buf[off];
			off += 8;
			break;
		case IPPROTO_AH:
			nh = pkt->buf[off];
			off += ((uint32_t)pkt->buf[off + 1] + 2) * 4;
			break;
		default:
			return 0;
		}
	}
	return 0;
}

int sk_tables_eval(const struct sk_tables *t, const struct sk_pkt *pkt,
		   struct sk_tables_result *res)
{
	uint64_t mask[SKS_WORDS] = {};
	struct sks_target tgt;
	struct ev_pkt p = {};
	uint32_t key = 0, w, hop, i;
	size_t l4 = 0;
	int ver, rule = -1;

	if (!pkt->len || pkt->payload_off > pkt->len)
		return -EINVAL;
	ver = pkt->buf[0] >> 4;
	if (ver == 4 && t->recv4 && pkt->len >= 20) {
		p.fam = SKS_FAM_4;
		p.src[0] = be32(pkt->buf + 12);
		p.dst[0] = be32(pkt->buf + 16);
		l4 = (size_t)(pkt->buf[0] & 0xf) * 4;
	} else if (ver == 6 && t->recv6 && pkt->len >= 40) {
		p.fam = SKS_FAM_6;
		for (i = 0; i < 4; i++) {
			p.src[i] = be32(pkt->buf + 8 + 4 * i);
			p.dst[i] = be32(pkt->buf + 24 + 4 * i);
		}
		l4 = l4_offset6(pkt, t->proto);
	} else {
		p.fam = SKS_FAM_OTHER;
	}
	/* the program reads the port at ctx->data, the transport header;
	 * here it is found the way both backends define it */
	p.sport = SPORT_UNKNOWN;
	if (l4 && l4 + 2 <= pkt->len)
		p.sport = (uint32_t)pkt->buf[l4] << 8 | pkt->buf[l4 + 1];
	p.payload = pkt->buf + pkt->payload_off;
	p.plen = (uint32_t)(pkt->len - pkt->payload_off);
	res->fam = p.fam;

	for (i = 0; i < t->nwords; i++)
		mask[i] = t->base_mask[p.fam][i];
	if (p.fam != SKS_FAM_OTHER) {
		int t4 = p.fam == SKS_FAM_4;

		if (t->flags & SKS_F_FROM) {
			int tree = t4 ? SKS_TREE_SRC4 : SKS_TREE_SRC6;

			and_class(t, mask, tree,
				  class_of(t, tree, p.src, t4 ? 4 : 6));
		}
		if (t->flags & SKS_F_TO) {
			int tree = t4 ? SKS_TREE_DST4 : SKS_TREE_DST6;

			and_class(t, mask, tree,
				  class_of(t, tree, p.dst, t4 ? 4 : 6));
		}
	}
	if (t->flags & SKS_F_SPORT)
		and_class(t, mask, SKS_NTREES, t->sport_cls[p.sport]);

	for (i = 0; i < t->max_cands; i++) {
		uint32_t r;

		for (w = 0; w < t->nwords && !mask[w]; w++)
			;
		if (w == t->nwords)
			break;
		r = w * 64 + (uint32_t)__builtin_ctzll(mask[w]);
		if (!(t->test_mask[w] & (1ull << (r & 63))) ||
		    tests_pass(t, &p, &t->rules[r], &key)) {
			rule = (int)r;
			break;
		}
		mask[w] &= mask[w] - 1;
	}
	res->rule = rule;
	tgt = rule < 0 ? t->deflt : t->rules[rule].target;

	for (hop = 0; hop < MAX_FALLBACK_HOPS; hop++) {
		const struct sks_pool *pool;

		if (tgt.kind == SKS_TGT_HASH) {
			res->kind = SKSTEER_TARGET_HASH;
			return 0;
		}
		if (tgt.kind == SKS_TGT_DROP) {
			res->kind = SKSTEER_TARGET_DROP;
			return 0;
		}
		if (!tgt.key_width || hop)
			key = ev_hash(&p);
		pool = &t->pools[tgt.pool];
		/* every slot in the tables is open here: the first probe
		 * succeeds (the builder never targets an empty pool) */
		if (pool->n) {
			res->kind = SKSTEER_TARGET_POOL;
			res->pool = tgt.pool;
			res->slot = t->slots[pool->first + key % pool->n];
			return 0;
		}
		tgt = pool->fallback;
	}
	res->kind = SKSTEER_TARGET_DROP;
	return 0;
}
