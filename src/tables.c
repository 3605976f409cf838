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

#define SPORT_UNKNOWN	   65536u
#define HASH_MUL1	   0x9e3779b1u
#define HASH_MUL2	   0x85ebca6bu
#define MAX_PROBES	   4
#define MAX_FALLBACK_HOPS  3
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
	return d == DIR_FROM ? r->has_from :
	       d == DIR_TO   ? r->has_to :
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
		const struct sk_addrset *s =
			d == DIR_TO ? &rule->to : &rule->from;

		if (!rule_has(rule, d)) {
			cur.w[r / 64] |= 1ull << (r % 64);
			continue;
		}
		if (d == DIR_SPORT) {
			if (grow((void **)&ev, &cap, nev + 2, sizeof(*ev)))
				goto out;
			ev[nev++] =
				(struct event){ rule->sport_lo, (uint32_t)r };
			ev[nev++] = (struct event){ (sk_u128)rule->sport_hi + 1,
						    (uint32_t)r };
			continue;
		}
		if (fam == 4) {
			if (grow((void **)&ev, &cap, nev + 2 * s->n4,
				 sizeof(*ev)))
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
			if (grow((void **)&ev, &cap, nev + 2 * s->n6,
				 sizeof(*ev)))
				goto out;
			for (i = 0; i < s->n6; i++) {
				ev[nev++] = (struct event){ s->v6[i].lo,
							    (uint32_t)r };
				if (s->v6[i].hi != ~(sk_u128)0)
					ev[nev++] =
						(struct event){ s->v6[i].hi + 1,
								(uint32_t)r };
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

/* ---- trees ---- */

struct builder {
	struct sk_tables *t;
	size_t cap_buckets, cap_b4, cap_b6;
	int fam;
	int abits; /* address bits: 32 or 128 */
	bool long_list; /* -E2BIG: a list longer than LIST_MAX */
};

/* the longest list a bucket can have (its count is 16 bits, and the
 * program's binary search takes SKS_SEARCH_STEPS steps) */
#define LIST_MAX 65535u

size_t sk_tables_budget = SK_TABLES_MAX_BYTES;

/* What a tree may take while it is built: past this, the budget check at
 * the end would refuse it anyway, and building on would only cost time
 * and memory. */
#define BUILD_MAX_BYTES (2 * sk_tables_budget)

static int reserve_buckets(struct builder *bd, size_t n, size_t *at)
{
	struct sk_tables *t = bd->t;

	if ((t->nbuckets + n) * sizeof(*t->buckets) > BUILD_MAX_BYTES)
		return -E2BIG;
	if (grow((void **)&t->buckets, &bd->cap_buckets, t->nbuckets + n,
		 sizeof(*t->buckets)))
		return -ENOMEM;
	memset(&t->buckets[t->nbuckets], 0, n * sizeof(*t->buckets));
	*at = t->nbuckets;
	t->nbuckets += n;
	return 0;
}

static sk_u128 low_mask(int bits)
{
	return bits >= 128 ? ~(sk_u128)0 : ((sk_u128)1 << bits) - 1;
}

/* bits needed for @x: 0 for 0 */
static int bit_len(sk_u128 x)
{
	uint64_t hi = (uint64_t)(x >> 64), lo = (uint64_t)x;

	if (hi)
		return 128 - __builtin_clzll(hi);
	return lo ? 64 - __builtin_clzll(lo) : 0;
}

/* distinct values of key >> @shift among the sorted keys of v[0..n) */
static size_t distinct(const struct bnd *v, size_t n, int shift)
{
	size_t d = 1, i;

	for (i = 1; i < n; i++)
		d += (v[i].key >> shift) != (v[i - 1].key >> shift);
	return d;
}

/* How a table (or a root) indexes the class changes v[0..n), n >= 2. */
struct plan {
	sk_u128 lo, hi;
	int shift, bits;
};

/*
 * Path compression: every change is in the smallest aligned block holding
 * the first and the last one, so the levels above that block are skipped
 * (an address outside it is decided by a compare). Level compression: as
 * many index bits as give about two changes a child, up to @max_bits, and
 * fewer while less than half the children would hold any change. So a
 * table has at most twice as many children as non-empty ones, and every
 * table has at least two non-empty children: the buckets are at most
 * about four times the changes, however the changes cluster.
 */
static void plan_table(const struct bnd *v, size_t n, int max_bits,
		       struct plan *pl)
{
	int span = bit_len(v[0].key ^ v[n - 1].key), b = 1;

	/* span >= 1: n >= 2 changes at different keys */
	while (b < max_bits && b < span && ((size_t)2 << b) < n)
		b++;
	while (b > 1 && distinct(v, n, span - b) * 2 < ((size_t)1 << b))
		b--;
	pl->lo = v[0].key & ~low_mask(span);
	pl->hi = pl->lo | low_mask(span);
	pl->shift = span - b;
	pl->bits = b;
}

static int fill_bucket(struct builder *bd, size_t at, const struct bnd *v,
		       size_t n, uint32_t cls0, int bshift, int depth);

/*
 * Fill the 2^@pl->bits buckets from @base, the children of a table whose
 * class below its block is @cls and whose changes are v[0..n).
 */
static int fill_children(struct builder *bd, size_t base, const struct plan *pl,
			 const struct bnd *v, size_t n, uint32_t cls, int depth)
{
	size_t i = 0, k, nk = (size_t)1 << pl->bits;
	int err;

	for (k = 0; k < nk; k++) {
		sk_u128 sub = pl->lo + ((sk_u128)k << pl->shift);
		sk_u128 end = sub + low_mask(pl->shift);
		size_t j;

		/* a change exactly at the child's start sets its class */
		while (i < n && v[i].key <= sub) {
			cls = v[i].cls;
			i++;
		}
		j = i;
		while (j < n && v[j].key <= end)
			j++;
		err = fill_bucket(bd, base + k, v + i, j - i, cls, pl->shift,
				  depth);
		if (err)
			return err;
	}
	return 0;
}

/* trailing zero bits of @x, which is not 0 */
static int ctz128(sk_u128 x)
{
	uint64_t lo = (uint64_t)x;

	return lo ? __builtin_ctzll(lo) :
		    64 + __builtin_ctzll((uint64_t)(x >> 64));
}

/*
 * Keep the n changes v[0..n) of a block of 2^@bshift addresses inline as
 * relative keys (SKS_BUCKET_REL) when they fit: true if done.
 */
static bool fill_relative(struct sks_bucket *bk, const struct bnd *v, size_t n,
			  int bshift)
{
	uint32_t last = bk->cls, maxcls = 0;
	uint64_t mask;
	int g = bshift, kb;
	size_t i, cap;

	for (i = 0; i < n; i++) {
		int z = ctz128(v[i].key);

		g = z < g ? z : g;
		maxcls = v[i].cls > maxcls ? v[i].cls : maxcls;
	}
	/* every change is strictly inside the aligned block: g < bshift */
	kb = bshift - g;
	mask = kb >= 64 ? UINT64_MAX : ((uint64_t)1 << kb) - 1;
	if (kb <= 16 && n <= SKS_INLINE16 && maxcls <= UINT16_MAX)
		bk->flags = SKS_BUCKET_R16, cap = SKS_INLINE16;
	else if (kb <= 32 && n <= SKS_INLINE32)
		bk->flags = SKS_BUCKET_R32, cap = SKS_INLINE32;
	else if (kb <= 64 && n <= SKS_INLINE64)
		bk->flags = SKS_BUCKET_R64, cap = SKS_INLINE64;
	else
		return false;
	for (i = 0; i < cap; i++) {
		/* padding: the highest key (in any width), the last class */
		uint64_t key =
			i < n ? (uint64_t)(v[i].key >> g) & mask : UINT64_MAX;

		if (i < n)
			last = v[i].cls;
		if (bk->flags == SKS_BUCKET_R16) {
			bk->r16[i].key = (uint16_t)key;
			bk->r16[i].cls = (uint16_t)last;
		} else if (bk->flags == SKS_BUCKET_R32) {
			bk->r32[i].key = (uint32_t)key;
			bk->r32[i].cls = last;
		} else {
			bk->r64.key[i] = key;
			bk->r64.cls[i] = last;
		}
	}
	bk->shift = (uint8_t)g;
	bk->bits = (uint8_t)kb;
	return true;
}

/*
 * Fill bucket @at (@depth tables below the root) for a block of
 * 2^@bshift addresses whose class at its start is @cls0 and whose class
 * changes strictly inside it are v[0..n).
 */
static int fill_bucket(struct builder *bd, size_t at, const struct bnd *v,
		       size_t n, uint32_t cls0, int bshift, int depth)
{
	struct sk_tables *t = bd->t;
	struct sks_bucket *bk;
	size_t i, base;
	int err;

	if (n > SKS_LIST_SPLIT && depth < SKS_MAX_DEPTH) {
		struct plan pl;

		plan_table(v, n, SKS_MAX_TABLE_BITS, &pl);
		err = reserve_buckets(bd, (size_t)1 << pl.bits, &base);
		if (err)
			return err;
		bk = &t->buckets[at];
		bk->flags = SKS_BUCKET_TABLE;
		bk->first = (uint32_t)base;
		bk->shift = (uint8_t)pl.shift;
		bk->bits = (uint8_t)pl.bits;
		bk->cls = cls0;
		if (bd->fam == 4) {
			bk->t4.lo = (uint32_t)pl.lo;
			bk->t4.hi = (uint32_t)pl.hi;
			bk->t4.cls_hi = v[n - 1].cls;
		} else {
			bk->t6.lo_hi = (uint64_t)(pl.lo >> 64);
			bk->t6.lo_lo = (uint64_t)pl.lo;
			bk->t6.hi_hi = (uint64_t)(pl.hi >> 64);
			bk->t6.hi_lo = (uint64_t)pl.hi;
			bk->t6.cls_hi = v[n - 1].cls;
		}
		t->ntables++;
		if ((uint32_t)depth + 1 > t->max_depth)
			t->max_depth = (uint32_t)depth + 1;
		return fill_children(bd, base, &pl, v, n, cls0, depth + 1);
	}
	if (n > LIST_MAX) {
		bd->long_list = true;
		return -E2BIG;
	}
	bk = &t->buckets[at];
	bk->cls = cls0;
	bk->count = (uint16_t)n;
	if (n > (bd->fam == 4 ? SKS_INLINE4 : SKS_INLINE6) &&
	    fill_relative(bk, v, n, bshift)) {
		/* in its own cache line after all */
	} else if (bd->fam == 4 && n <= SKS_INLINE4) {
		uint32_t last = cls0;

		for (i = 0; i < SKS_INLINE4; i++) {
			if (i < n)
				last = v[i].cls;
			/* padding never matches: the scan keeps the class */
			bk->in4[i] =
				i < n ? (struct sks_bound4){ (uint32_t)v[i].key,
							     v[i].cls } :
					(struct sks_bound4){ UINT32_MAX, last };
		}
	} else if (bd->fam == 6 && n <= SKS_INLINE6) {
		uint32_t last = cls0;

		for (i = 0; i < SKS_INLINE6; i++) {
			if (i < n)
				last = v[i].cls;
			/* padding: the highest address, which is of the last
			 * class anyway */
			bk->in6[i] =
				i < n ?
					(struct sks_bound6){
						(uint64_t)(v[i].key >> 64),
						(uint64_t)v[i].key, v[i].cls, 0
					} :
					(struct sks_bound6){ UINT64_MAX,
							     UINT64_MAX, last,
							     0 };
		}
	} else if (bd->fam == 4) {
		if ((t->nbounds4 + n) * sizeof(*t->bounds4) > BUILD_MAX_BYTES)
			return -E2BIG;
		bk->first = (uint32_t)t->nbounds4;
		if (grow((void **)&t->bounds4, &bd->cap_b4, t->nbounds4 + n,
			 sizeof(*t->bounds4)))
			return -ENOMEM;
		for (i = 0; i < n; i++)
			t->bounds4[t->nbounds4++] =
				(struct sks_bound4){ (uint32_t)v[i].key,
						     v[i].cls };
	} else {
		if ((t->nbounds6 + n) * sizeof(*t->bounds6) > BUILD_MAX_BYTES)
			return -E2BIG;
		bk->first = (uint32_t)t->nbounds6;
		if (grow((void **)&t->bounds6, &bd->cap_b6, t->nbounds6 + n,
			 sizeof(*t->bounds6)))
			return -ENOMEM;
		for (i = 0; i < n; i++)
			t->bounds6[t->nbounds6++] =
				(struct sks_bound6){ (uint64_t)(v[i].key >> 64),
						     (uint64_t)v[i].key,
						     v[i].cls, 0 };
	}
	return 0;
}

/*
 * A tree for the class changes v[0..n) (v[0].key == 0: the class of the
 * lowest address). The root's index bits: about two changes a bucket, so
 * that most buckets hold their boundaries inline, and no more buckets
 * than that (the tree's size is what decides whether it stays in the
 * caches); a small tree is one bucket.
 */
static int build_tree(struct builder *bd, int tree, const struct bnd *v,
		      size_t n)
{
	struct sk_tables *t = bd->t;
	struct sks_root *rt = &t->root[tree];
	struct plan pl = { 0, low_mask(bd->abits), 0, 0 };
	size_t base;
	int err;

	if (n - 1 > SKS_INLINE4)
		plan_table(v + 1, n - 1, SKS_MAX_BITS, &pl);
	err = reserve_buckets(bd, (size_t)1 << pl.bits, &base);
	if (err)
		return err;
	rt->base = (uint32_t)base;
	rt->shift = (uint8_t)pl.shift;
	rt->bits = (uint8_t)pl.bits;
	rt->lo_hi = (uint64_t)(pl.lo >> 64);
	rt->lo_lo = (uint64_t)pl.lo;
	rt->hi_hi = (uint64_t)(pl.hi >> 64);
	rt->hi_lo = (uint64_t)pl.hi;
	rt->cls_lo = v[0].cls;
	rt->cls_hi = v[n - 1].cls;
	if (!pl.bits)
		return fill_bucket(bd, base, v + 1, n - 1, v[0].cls, bd->abits,
				   0);
	return fill_children(bd, base, &pl, v + 1, n - 1, v[0].cls, 0);
}

static int add_classbits(struct sk_tables *t, size_t *cap, int which,
			 const struct classes *c)
{
	size_t i;

	t->cls_base[which] = (uint32_t)t->nclassbits;
	t->nclasses[which] = (uint32_t)c->n;
	if (grow((void **)&t->classbits, cap, t->nclassbits + c->n * t->nwords,
		 sizeof(*t->classbits)))
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

size_t sk_tables_max_verdicts = SKS_MAX_VERDICTS;

/* The verdict of a packet whose rules are @mask (all of them true but
 * payload tests, which no rule has here). */
static struct sks_verdict verdict_of(const struct sk_tables *t,
				     const uint64_t *mask)
{
	struct sks_verdict v = { .cnt = SKS_CNT_DEFAULT };
	struct sks_target tgt = t->deflt;
	uint32_t w;

	for (w = 0; w < t->nwords; w++)
		if (mask[w]) {
			uint32_t r =
				w * 64 + (uint32_t)__builtin_ctzll(mask[w]);

			v.cnt = (uint16_t)SKS_CNT_RULE(r);
			tgt = t->rules[r].target;
			break;
		}
	v.kind = tgt.kind;
	v.pool = tgt.pool;
	if (tgt.kind == SKS_TGT_POOL && t->pools[tgt.pool].n == 1) {
		v.direct = 1;
		v.slot = (uint16_t)t->slots[t->pools[tgt.pool].first];
	}
	return v;
}

/* classes of tree @which that a packet of version @fam is looked up in,
 * or 0 when it is not (then the tree adds nothing to the index) */
static uint32_t vt_classes(const struct sk_tables *t, int fam, int which)
{
	if (which == SKS_NTREES)
		return t->flags & SKS_F_SPORT ? t->nclasses[which] : 0;
	if (fam == SKS_FAM_OTHER || (fam == SKS_FAM_4 && !t->recv4) ||
	    (fam == SKS_FAM_6 && !t->recv6))
		return 0;
	if (!(t->flags &
	      (which == SKS_TREE_SRC4 || which == SKS_TREE_SRC6 ? SKS_F_FROM :
								  SKS_F_TO)))
		return 0;
	return t->nclasses[which];
}

/* the class bitmaps' word @w of class @cls of tree @which */
static uint64_t class_word(const struct sk_tables *t, int which, uint32_t cls,
			   uint32_t w)
{
	return t->classbits[t->cls_base[which] + cls * t->nwords + w];
}

/*
 * The verdict of every combination of classes, for configurations without
 * payload tests whose combinations are at most sk_tables_max_verdicts and
 * whose verdicts fit in what the budget leaves; others keep the class
 * bitmaps (SKS_F_VERDICTS stays clear).
 */
static int build_verdicts(struct sk_tables *t)
{
	uint32_t n[SKS_NFAMS][3], total = 0, i, w;
	int fam, k;

	if (t->flags & SKS_F_TESTS)
		return 0;
	for (fam = 0; fam < SKS_NFAMS; fam++) {
		int src = fam == SKS_FAM_6 ? SKS_TREE_SRC6 : SKS_TREE_SRC4;
		int dst = fam == SKS_FAM_6 ? SKS_TREE_DST6 : SKS_TREE_DST4;
		uint64_t prod = 1;

		n[fam][0] = vt_classes(t, fam, src);
		n[fam][1] = vt_classes(t, fam, dst);
		n[fam][2] = vt_classes(t, fam, SKS_NTREES);
		for (k = 0; k < 3; k++)
			prod *= n[fam][k] ? n[fam][k] : 1;
		if (total + prod > sk_tables_max_verdicts) {
			memset(t->vt, 0, sizeof(t->vt));
			return 0;
		}
		/* mixed radix: the port class varies fastest */
		t->vt[fam].base = total;
		t->vt[fam].s_sport = n[fam][2] ? 1 : 0;
		t->vt[fam].s_dst = n[fam][1] ? (n[fam][2] ? n[fam][2] : 1) : 0;
		t->vt[fam].s_src = n[fam][0] ? (uint32_t)(prod / n[fam][0]) : 0;
		total += (uint32_t)prod;
	}
	/* the bitmaps alone fit the budget: never refuse for the verdicts */
	if (sk_tables_size(t) + total * sizeof(*t->verdicts) >
	    sk_tables_budget) {
		memset(t->vt, 0, sizeof(t->vt));
		return 0;
	}
	t->verdicts = calloc(total, sizeof(*t->verdicts));
	if (!t->verdicts)
		return -ENOMEM;
	t->nverdicts = total;
	for (fam = 0; fam < SKS_NFAMS; fam++) {
		int src = fam == SKS_FAM_6 ? SKS_TREE_SRC6 : SKS_TREE_SRC4;
		int dst = fam == SKS_FAM_6 ? SKS_TREE_DST6 : SKS_TREE_DST4;
		const struct sks_vtab *vt = &t->vt[fam];
		uint32_t nd = n[fam][1] ? n[fam][1] : 1;
		uint32_t np = n[fam][2] ? n[fam][2] : 1;
		uint32_t ns = n[fam][0] ? n[fam][0] : 1;

		for (i = 0; i < ns * nd * np; i++) {
			uint32_t a = i / (nd * np), b = i / np % nd, c = i % np;
			uint64_t m[SKS_WORDS] = {};

			for (w = 0; w < t->nwords; w++) {
				m[w] = t->base_mask[fam][w];
				if (n[fam][0])
					m[w] &= class_word(t, src, a, w);
				if (n[fam][1])
					m[w] &= class_word(t, dst, b, w);
				if (n[fam][2])
					m[w] &= class_word(t, SKS_NTREES, c, w);
			}
			t->verdicts[vt->base + a * vt->s_src + b * vt->s_dst +
				    c * vt->s_sport] = verdict_of(t, m);
		}
	}
	t->flags |= SKS_F_VERDICTS;
	return 0;
}

int sk_tables_build(const struct sksteer_service *svc,
		    const struct sk_layout *layout, struct sk_tables *t)
{
	struct builder bd = { .t = t };
	size_t cap_cb = 0, i, r;
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
	for (i = 0; i < svc->npools; i++)
		if (layout->pools[i].n > 1)
			t->flags |= SKS_F_HASH;

	/* address trees; a tree that is not built covers every address
	 * with its first bucket (never read: no rule needs it) */
	for (tree = 0; tree < SKS_NTREES; tree++)
		t->root[tree] = (struct sks_root){ .hi_hi = UINT64_MAX,
						   .hi_lo = UINT64_MAX };
	for (tree = 0; tree < SKS_NTREES; tree++) {
		enum dir d = tree == SKS_TREE_SRC4 || tree == SKS_TREE_SRC6 ?
				     DIR_FROM :
				     DIR_TO;
		int fam =
			tree == SKS_TREE_SRC4 || tree == SKS_TREE_DST4 ? 4 : 6;
		struct classes cls = { .nwords = t->nwords };
		struct bnd *v = NULL;
		size_t n = 0;

		if (!(t->flags & (d == DIR_FROM ? SKS_F_FROM : SKS_F_TO)) ||
		    (fam == 4 ? !svc->recv4 : !svc->recv6))
			continue;
		bd.fam = fam;
		bd.abits = fam == 4 ? 32 : 128;
		if (fam == 4)
			t->root[tree].hi_hi = t->root[tree].hi_lo = UINT32_MAX;
		err = sweep(svc, d, fam, &cls, &v, &n);
		if (!err)
			err = build_tree(&bd, tree, v, n);
		if (err == -E2BIG && bd.long_list)
			sk_warn("service '%s': more than %u class changes of "
				"%s IPv%d addresses in one block, too many for "
				"a list of the eBPF backend's tables\n",
				svc->name, LIST_MAX,
				d == DIR_FROM ? "source" : "destination", fam);
		else if (err == -E2BIG)
			sk_warn("service '%s': the eBPF tables would take more "
				"than %.1f MiB (the tree of %s IPv%d addresses "
				"alone, %zu class changes), more than the %.1f "
				"MiB the eBPF backend allows\n",
				svc->name, (double)BUILD_MAX_BYTES / (1 << 20),
				d == DIR_FROM ? "source" : "destination", fam,
				n, (double)sk_tables_budget / (1 << 20));
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
		t->pools[i].fallback =
			resolve_target(svc, layout, &p->fallback);
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

		if ((!t->nbuckets &&
		     grow((void **)&t->buckets, &cb, 1, sizeof(*t->buckets))) ||
		    (!t->nbounds4 &&
		     grow((void **)&t->bounds4, &c4, 1, sizeof(*t->bounds4))) ||
		    (!t->nbounds6 &&
		     grow((void **)&t->bounds6, &c6, 1, sizeof(*t->bounds6))) ||
		    (!t->nclassbits && grow((void **)&t->classbits, &cap_cb, 1,
					    sizeof(*t->classbits))) ||
		    (!t->nsport_cls &&
		     !(t->sport_cls = calloc(1, sizeof(*t->sport_cls))))) {
			err = -ENOMEM;
			goto err_free;
		}
#define ATLEAST1(f, ptr)                              \
	do {                                          \
		if (!t->f) {                          \
			memset(ptr, 0, sizeof(*ptr)); \
			t->f = 1;                     \
		}                                     \
	} while (0)
		ATLEAST1(nbuckets, t->buckets);
		ATLEAST1(nbounds4, t->bounds4);
		ATLEAST1(nbounds6, t->bounds6);
		ATLEAST1(nclassbits, t->classbits);
		ATLEAST1(nsport_cls, t->sport_cls);
		ATLEAST1(nslots, t->slots);
#undef ATLEAST1
	}
	err = build_verdicts(t);
	if (err)
		goto err_free;
	/* the budget, before anything is loaded */
	if (sk_tables_size(t) > sk_tables_budget) {
		sk_warn("service '%s': the eBPF tables would take %.1f MiB "
			"(%zu tree buckets, %zu IPv4 and %zu IPv6 list "
			"entries, %zu class bitmap words), more than the %.1f "
			"MiB the eBPF backend allows\n",
			svc->name, (double)sk_tables_size(t) / (1 << 20),
			t->nbuckets, t->nbounds4, t->nbounds6, t->nclassbits,
			(double)sk_tables_budget / (1 << 20));
		err = -E2BIG;
		goto err_free;
	}
	return 0;

err_free:
	if (err == -ENOMEM)
		sk_warn("service '%s': out of memory building eBPF tables\n",
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
	free(t->verdicts);
	memset(t, 0, sizeof(*t));
}

int sk_tables_hot(const struct sk_tables *t, struct sks_hot **out, size_t *nout,
		  struct sks_cfg *c)
{
	size_t nvd = (t->nverdicts + 1) / 2, ncls = (t->nclassbits + 1) / 2,
	       nslots = (t->nslots + 3) / 4;
	size_t n = nvd + ncls + t->nrules_map + (t->ntests ? t->ntests : 1) +
		   (t->npools ? t->npools : 1) + nslots,
	       i;
	struct sks_hot *hot;

	memset(c, 0, sizeof(*c));
	c->flags = t->flags;
	c->nwords = t->nwords;
	c->proto = t->proto;
	c->recv4 = (uint8_t)t->recv4;
	c->recv6 = (uint8_t)t->recv6;
	c->nrules = (uint16_t)t->nrules;
	/* verdicts first: a packet reads nothing else of a small
	 * configuration but a pool or slot on the way to a fallback */
	c->off_verdicts = 0;
	c->off_rules = (uint32_t)(nvd + ncls);
	c->off_tests = c->off_rules + (uint32_t)t->nrules_map;
	c->off_pools = c->off_tests + (uint32_t)(t->ntests ? t->ntests : 1);
	c->off_slots = c->off_pools + (uint32_t)(t->npools ? t->npools : 1);
	memcpy(c->root, t->root, sizeof(c->root));
	for (i = 0; i < SKS_NTREES + 1; i++)
		c->cls_base[i] = t->cls_base[i] + (uint32_t)(2 * nvd);
	memcpy(c->vt, t->vt, sizeof(c->vt));
	memcpy(c->base_mask, t->base_mask, sizeof(c->base_mask));
	memcpy(c->test_mask, t->test_mask, sizeof(c->test_mask));
	c->deflt = t->deflt;

	hot = calloc(n, sizeof(*hot));
	if (!hot)
		return -ENOMEM;
	for (i = 0; i < t->nverdicts; i++)
		hot[i / 2].verdicts[i % 2] = t->verdicts[i];
	for (i = 0; i < t->nclassbits; i++)
		hot[nvd + i / 2].words[i % 2] = t->classbits[i];
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
	       t->nslots * sizeof(*t->slots) +
	       t->nverdicts * sizeof(*t->verdicts);
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

/* the program's own tree lookup (bpf/sksteer_tree.h), on the arrays */
#define SKS_FN	      static inline
#define SKS_TCTX_DECL const struct sk_tables *sks_t,
#define SKS_TCTX      sks_t,
#define SKS_ROOT_QUAL const
#define SKS_NO_UNROLL
#define SKS_UNROLL
#define SKS_BUCKET(k) ((k) < sks_t->nbuckets ? &sks_t->buckets[k] : NULL)
#define SKS_BOUND4(k) ((k) < sks_t->nbounds4 ? &sks_t->bounds4[k] : NULL)
#define SKS_BOUND6(k) ((k) < sks_t->nbounds6 ? &sks_t->bounds6[k] : NULL)
#include "../bpf/sksteer_tree.h"

static void and_class(const struct sk_tables *t, uint64_t *mask, int which,
		      uint32_t cls)
{
	uint32_t i;

	for (i = 0; i < t->nwords; i++)
		mask[i] &= class_word(t, which, cls, i);
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

/* The deciding rule as the program's sksteer_pick() finds it (and its
 * lowest-bit path for configurations without tests, which gives the
 * same). */
static int pick(const struct sk_tables *t, const struct ev_pkt *p,
		const uint64_t *mask, uint32_t *key)
{
	uint32_t w, j;

	for (w = 0; w < t->nwords; w++) {
		uint64_t x = mask[w], tm = t->test_mask[w];
		uint64_t nt = x & ~tm, c = x & tm & ((nt & (0 - nt)) - 1);

		for (j = 0; j < 64 && c; j++) {
			uint32_t r = w * 64 + sks_ctz64(c);

			if (tests_pass(t, p, &t->rules[r], key))
				return (int)r;
			c &= c - 1;
		}
		if (nt)
			return (int)(w * 64 + sks_ctz64(nt));
	}
	return -1;
}

int sk_tables_eval(const struct sk_tables *t, const struct sk_pkt *pkt,
		   struct sk_tables_result *res)
{
	uint64_t mask[SKS_WORDS] = {};
	struct sks_target tgt;
	struct ev_pkt p = {};
	uint32_t key = 0, hop, i, vidx;
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
	vidx = t->vt[p.fam].base;
	if (p.fam != SKS_FAM_OTHER) {
		int t4 = p.fam == SKS_FAM_4;

		if (t->flags & SKS_F_FROM) {
			uint32_t cls =
				sks_class(t, &t->root[SKS_TREE_SRC4],
					  &t->root[SKS_TREE_SRC6], t4, p.src);

			and_class(t, mask, t4 ? SKS_TREE_SRC4 : SKS_TREE_SRC6,
				  cls);
			vidx += cls * t->vt[p.fam].s_src;
		}
		if (t->flags & SKS_F_TO) {
			uint32_t cls =
				sks_class(t, &t->root[SKS_TREE_DST4],
					  &t->root[SKS_TREE_DST6], t4, p.dst);

			and_class(t, mask, t4 ? SKS_TREE_DST4 : SKS_TREE_DST6,
				  cls);
			vidx += cls * t->vt[p.fam].s_dst;
		}
	}
	if (t->flags & SKS_F_SPORT) {
		and_class(t, mask, SKS_NTREES, t->sport_cls[p.sport]);
		vidx += t->sport_cls[p.sport] * t->vt[p.fam].s_sport;
	}

	if (t->flags & SKS_F_VERDICTS) {
		/* the program's way: the verdict alone decides */
		const struct sks_verdict *v;

		if (vidx >= t->nverdicts)
			return -EINVAL;
		v = &t->verdicts[vidx];
		res->rule = v->cnt == SKS_CNT_DEFAULT ? -1 : (int)v->cnt - 1;
		if (v->direct) {
			res->kind = SKSTEER_TARGET_POOL;
			res->pool = v->pool;
			res->slot = v->slot;
			return 0;
		}
		tgt = (struct sks_target){ .kind = v->kind, .pool = v->pool };
	} else {
		rule = pick(t, &p, mask, &key);
		res->rule = rule;
		tgt = rule < 0 ? t->deflt : t->rules[rule].target;
	}

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
