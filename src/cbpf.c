// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Rules to classic BPF for SO_ATTACH_REUSEPORT_CBPF.
 *
 * The kernel runs the program with skb->data at the transport payload
 * (run_bpf_filter() pulls the TCP/UDP header first), so plain loads read
 * payload bytes and `len` is the payload length, while loads at
 * SKF_NET_OFF + n still read the IP header. The return value is a position
 * in the reuseport group; a value past the end makes the kernel fall back
 * to its own hash, which is how the "hash" target is expressed.
 *
 * Program shape (docs/ARCHITECTURE.md has the long version):
 *   version dispatch on the IP version nibble
 *   per IP version: load the fields the rules need into scratch memory,
 *   then the rules in order (each condition jumps to the next rule on a
 *   miss), then the default, then one shared spreading block per pool.
 * Address sets are balanced binary searches over the boundaries of merged
 * ranges, so executed instructions grow with log(ranges).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define RET_HASH 0xffffffffu /* >= group size: kernel hash */

/* scratch memory */
#define M_SRC	      0 /* 1 (IPv4) or 4 (IPv6) words */
#define M_DST	      4
#define M_SPORT	      8 /* source port, or SPORT_UNKNOWN */
#define M_TMP	      9
#define SPORT_UNKNOWN 0x10000u

#define NET(off) ((uint32_t)(SKF_NET_OFF + (off)))

/* IPv6 extension headers walked to find the transport header. */
#define SK_IPV6_MAX_EXT 4

#define HASH_MUL1 0x9e3779b1u
#define HASH_MUL2 0x85ebca6bu

uint32_t sk_flow_hash(const uint32_t *src_words, int nwords, uint16_t sport)
{
	uint32_t h = sport;
	int i;

	for (i = 0; i < nwords; i++) {
		h ^= src_words[i];
		h *= HASH_MUL1;
	}
	h ^= h >> 16;
	h *= HASH_MUL2;
	h ^= h >> 13;
	return h;
}

/* ---- a small assembler with labels and long-jump relaxation ---- */

#define NO_LABEL (-1)

struct asm_insn {
	uint16_t code;
	uint32_t k;
	int jt, jf; /* labels of conditional jumps */
	int ja; /* label of BPF_JA */
	int owner;
};

struct casm {
	struct asm_insn *insns;
	size_t n, cap;
	int *labels; /* label -> instruction index */
	size_t nlabels, cap_labels;
	int owner;
	int err;
};

static int new_label(struct casm *a)
{
	if (a->nlabels == a->cap_labels) {
		size_t cap = a->cap_labels ? a->cap_labels * 2 : 256;
		int *l = sk_reallocarray(a->labels, cap, sizeof(*l));

		if (!l) {
			a->err = -ENOMEM;
			return 0;
		}
		a->labels = l;
		a->cap_labels = cap;
	}
	a->labels[a->nlabels] = -1;
	return (int)a->nlabels++;
}

static void label_here(struct casm *a, int label)
{
	if (!a->err)
		a->labels[label] = (int)a->n;
}

static size_t emit_raw(struct casm *a, uint16_t code, uint32_t k, int jt,
		       int jf, int ja)
{
	if (a->err)
		return 0;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 512;
		struct asm_insn *n = sk_reallocarray(a->insns, cap, sizeof(*n));

		if (!n) {
			a->err = -ENOMEM;
			return 0;
		}
		a->insns = n;
		a->cap = cap;
	}
	a->insns[a->n] = (struct asm_insn){ code, k, jt, jf, ja, a->owner };
	return a->n++;
}

static void emit(struct casm *a, uint16_t code, uint32_t k)
{
	emit_raw(a, code, k, NO_LABEL, NO_LABEL, NO_LABEL);
}

static size_t emit_jmp(struct casm *a, uint16_t op, uint32_t k, int jt, int jf)
{
	return emit_raw(a, BPF_JMP | op | BPF_K, k, jt, jf, NO_LABEL);
}

static void emit_ja(struct casm *a, int label)
{
	emit_raw(a, BPF_JMP | BPF_JA, 0, NO_LABEL, NO_LABEL, label);
}

static bool is_cond(uint16_t code)
{
	return BPF_CLASS(code) == BPF_JMP && BPF_OP(code) != BPF_JA;
}

static int insert_at(struct casm *a, size_t at, struct asm_insn insn)
{
	size_t i;

	if (emit_raw(a, 0, 0, NO_LABEL, NO_LABEL, NO_LABEL), a->err)
		return a->err;
	memmove(&a->insns[at + 1], &a->insns[at],
		(a->n - 1 - at) * sizeof(a->insns[0]));
	a->insns[at] = insn;
	for (i = 0; i < a->nlabels; i++)
		if (a->labels[i] >= (int)at)
			a->labels[i]++;
	return 0;
}

/*
 * cBPF conditional jumps reach at most 255 instructions ahead. Going from
 * the last jump to the first, a branch that is too long is sent to a
 * `ja` trampoline: an existing one within reach that goes to the same
 * place, or a new one right after the jump. Inserting only moves code
 * after the insertion point, so jumps already visited (all later in the
 * program, all jumping forward) keep their lengths: one pass suffices.
 */
static int relax(struct casm *a)
{
	size_t i, p;
	int b;

	for (i = a->n; i-- > 0;) {
		if (!is_cond(a->insns[i].code))
			continue;
		for (b = 0; b < 2; b++) {
			int lab = b ? a->insns[i].jf : a->insns[i].jt;
			int target = a->labels[lab];
			int found = -1, tl;
			bool inserted;

			if (target - (int)i - 1 <= 255)
				continue;
			for (p = i + 1; p < a->n && p <= i + 256; p++) {
				const struct asm_insn *t = &a->insns[p];

				if (t->code == (BPF_JMP | BPF_JA) &&
				    a->labels[t->ja] == target) {
					found = (int)p;
					break;
				}
			}
			inserted = found < 0;
			if (found < 0) {
				struct asm_insn tr = {
					.code = BPF_JMP | BPF_JA,
					.jt = NO_LABEL,
					.jf = NO_LABEL,
					.ja = lab,
					.owner = -2,
				};

				if (insert_at(a, i + 1, tr))
					return a->err;
				found = (int)i + 1;
			}
			tl = new_label(a);
			if (a->err)
				return a->err;
			a->labels[tl] = found;
			if (b)
				a->insns[i].jf = tl;
			else
				a->insns[i].jt = tl;
			/* the trampoline right after the jump lengthened the
			 * other branch by one: check both again */
			if (inserted)
				b = -1;
		}
	}
	return 0;
}

static int assemble(struct casm *a, struct sksteer_prog *prog)
{
	size_t i;

	if (a->err)
		return a->err;
	if (relax(a))
		return a->err;
	prog->insns = calloc(a->n, sizeof(*prog->insns));
	prog->owner = calloc(a->n, sizeof(*prog->owner));
	if (!prog->insns || !prog->owner)
		return -ENOMEM;
	for (i = 0; i < a->n; i++) {
		const struct asm_insn *s = &a->insns[i];
		struct sock_filter *d = &prog->insns[i];

		d->code = s->code;
		d->k = s->k;
		prog->owner[i] = s->owner;
		if (is_cond(s->code)) {
			int jt = a->labels[s->jt] - (int)i - 1;
			int jf = a->labels[s->jf] - (int)i - 1;

			if (jt < 0 || jf < 0 || jt > 255 || jf > 255)
				return -EFAULT; /* a bug: backward or unrelaxed */
			d->jt = (uint8_t)jt;
			d->jf = (uint8_t)jf;
		} else if (s->code == (BPF_JMP | BPF_JA)) {
			int k = a->labels[s->ja] - (int)i - 1;

			if (k < 0)
				return -EFAULT;
			d->k = (uint32_t)k;
		}
	}
	prog->n = a->n;
	return 0;
}

/* ---- the compiler ---- */

struct cc {
	const struct sksteer_service *svc;
	const struct sk_layout *lay;
	struct casm a;
	int fam; /* 4, 6, or 0 for any other version nibble */
	int *pool_block; /* per pool, label of the spreading block */
	char why[512];
	int err;
};

static void fail(struct cc *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct cc *c, int err, const char *fmt, ...)
{
	va_list ap;

	if (c->err)
		return;
	c->err = err;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

static size_t fam_n(const struct cc *c, const struct sk_addrset *s)
{
	return c->fam == 4 ? s->n4 : c->fam == 6 ? s->n6 : 0;
}

/* Can this rule match a packet of the family being compiled? */
static bool rule_possible(const struct cc *c, const struct sk_rule *r)
{
	if (r->has_from && !fam_n(c, &r->from))
		return false;
	if (r->has_to && !fam_n(c, &r->to))
		return false;
	if (r->has_sport && c->fam == 0)
		return false;
	return true;
}

/* ranges -> boundaries where membership flips */
static size_t boundaries4(const struct sk_addrset *s, uint32_t *b)
{
	size_t i, n = 0;

	for (i = 0; i < s->n4; i++) {
		b[n++] = s->v4[i].lo;
		if (s->v4[i].hi != UINT32_MAX)
			b[n++] = s->v4[i].hi + 1;
	}
	return n;
}

static size_t boundaries6(const struct sk_addrset *s, sk_u128 *b)
{
	size_t i, n = 0;

	for (i = 0; i < s->n6; i++) {
		b[n++] = s->v6[i].lo;
		if (s->v6[i].hi != ~(sk_u128)0)
			b[n++] = s->v6[i].hi + 1;
	}
	return n;
}

/*
 * Balanced search over boundaries b[lo, hi) for an IPv4 address held in A.
 * @inside: whether addresses below b[lo] (and at or above the boundary
 * before it) are in the set. Emits the subtree in pre-order and returns
 * the label to enter it at.
 */
static int tree4(struct cc *c, const uint32_t *b, size_t lo, size_t hi,
		 bool inside, int match, int nomatch)
{
	size_t mid, node;
	int self, left, right;

	if (lo == hi)
		return inside ? match : nomatch;
	self = new_label(&c->a);
	label_here(&c->a, self);
	if (hi - lo == 2 && !inside && b[lo] + 1 == b[lo + 1]) {
		/* a single address between two misses */
		emit_jmp(&c->a, BPF_JEQ, b[lo], match, nomatch);
		return self;
	}
	mid = lo + (hi - lo) / 2;
	node = emit_jmp(&c->a, BPF_JGE, b[mid], NO_LABEL, NO_LABEL);
	left = tree4(c, b, lo, mid, inside, match, nomatch);
	right = tree4(c, b, mid + 1, hi, inside ^ ((mid - lo + 1) & 1), match,
		      nomatch);
	if (!c->a.err) {
		c->a.insns[node].jt = right;
		c->a.insns[node].jf = left;
	}
	return self;
}

/*
 * The kernel's conversion to eBPF turns a jump on a constant of 2^31 or
 * more into two instructions (eBPF immediates are signed), and addresses
 * from 128.0.0.0 up are such constants. With enough of them, one test
 * against 2^31 pays for itself: above it, A - 2^31 keeps the order and
 * every boundary there becomes a small constant. A is free to change: the
 * code after the search (a target or the next rule) loads what it needs.
 * Returns whether it emitted the search.
 */
static bool split_high(struct cc *c, uint32_t *b, size_t first, size_t nb,
		       bool inside, int match, int nomatch)
{
	const uint32_t half = 0x80000000u;
	size_t s = first, i, node;
	bool in_high;
	int high, low;

	while (s < nb && b[s] < half)
		s++;
	/* the test and the subtraction cost three converted instructions,
	 * each boundary above saves one */
	if (s == first || nb - s < 4)
		return false;
	in_high = inside ^ ((s - first) & 1);
	high = new_label(&c->a);
	node = emit_jmp(&c->a, BPF_JGE, half, high, NO_LABEL);
	low = tree4(c, b, first, s, inside, match, nomatch);
	if (c->a.err)
		return true;
	c->a.insns[node].jf = low;
	label_here(&c->a, high);
	emit(&c->a, BPF_ALU | BPF_SUB | BPF_K, half);
	if (b[s] == half) { /* 2^31 itself is a boundary: decided above */
		in_high = !in_high;
		s++;
	}
	for (i = s; i < nb; i++)
		b[i] -= half;
	if (s == nb) {
		emit_ja(&c->a, in_high ? match : nomatch);
		return true;
	}
	tree4(c, b, s, nb, in_high, match, nomatch);
	return true;
}

struct entry6 {
	int reload; /* enter here when A holds anything */
	int w0; /* enter here when A holds word 0 of the address */
};

/*
 * The same for IPv6 addresses in M[slot..slot+3]. "x >= K" over 128 bits
 * compares word by word; a branch decided on word 0 leaves word 0 in A,
 * so the child can skip reloading it.
 */
static struct entry6 tree6(struct cc *c, int slot, const sk_u128 *b, size_t lo,
			   size_t hi, bool inside, int match, int nomatch)
{
	size_t jumps_t[4], jumps_f[4], nt = 0, nf = 0, mid, i;
	int wt[4], wf[4], last;
	struct entry6 self, left, right;
	uint32_t k[4];

	if (lo == hi) {
		int l = inside ? match : nomatch;

		return (struct entry6){ l, l };
	}
	mid = lo + (hi - lo) / 2;
	for (i = 0; i < 4; i++)
		k[i] = (uint32_t)(b[mid] >> (96 - 32 * i));
	last = 3;
	while (last > 0 && !k[last])
		last--;

	self.reload = new_label(&c->a);
	self.w0 = new_label(&c->a);
	label_here(&c->a, self.reload);
	emit(&c->a, BPF_LD | BPF_MEM, (uint32_t)slot);
	label_here(&c->a, self.w0);
	for (i = 0; i < (size_t)last; i++) {
		int cont = new_label(&c->a);

		if (i)
			emit(&c->a, BPF_LD | BPF_MEM,
			     (uint32_t)(slot + (int)i));
		if (k[i] != UINT32_MAX) {
			int mid_l = new_label(&c->a);

			wt[nt] = (int)i;
			jumps_t[nt++] =
				emit_jmp(&c->a, BPF_JGT, k[i], NO_LABEL, mid_l);
			label_here(&c->a, mid_l);
		}
		/* word below K's word: not >= (x_i < 0 cannot happen) */
		if (k[i]) {
			wf[nf] = (int)i;
			jumps_f[nf++] =
				emit_jmp(&c->a, BPF_JEQ, k[i], cont, NO_LABEL);
		}
		label_here(&c->a, cont);
	}
	if (last)
		emit(&c->a, BPF_LD | BPF_MEM, (uint32_t)(slot + last));
	wt[nt] = last;
	jumps_t[nt++] = emit_jmp(&c->a, BPF_JGE, k[last], NO_LABEL, NO_LABEL);
	wf[nf] = last;
	jumps_f[nf++] = jumps_t[nt - 1];

	left = tree6(c, slot, b, lo, mid, inside, match, nomatch);
	right = tree6(c, slot, b, mid + 1, hi, inside ^ ((mid - lo + 1) & 1),
		      match, nomatch);
	if (c->a.err)
		return self;
	for (i = 0; i < nt; i++)
		c->a.insns[jumps_t[i]].jt = wt[i] ? right.reload : right.w0;
	for (i = 0; i < nf; i++)
		c->a.insns[jumps_f[i]].jf = wf[i] ? left.reload : left.w0;
	return self;
}

/* Membership of the source (M_SRC) or destination (M_DST) address. */
static void addr_cond(struct cc *c, const struct sk_addrset *s, int slot,
		      int match, int nomatch)
{
	size_t n = fam_n(c, s);
	bool inside = false;
	size_t first = 0;

	if (c->fam == 4) {
		uint32_t *b = calloc(2 * n, sizeof(*b));
		size_t nb;
		int entry;

		if (!b) {
			c->a.err = -ENOMEM;
			return;
		}
		nb = boundaries4(s, b);
		if (b[0] == 0) { /* the set starts at 0.0.0.0 */
			inside = true;
			first = 1;
		}
		emit(&c->a, BPF_LD | BPF_MEM, (uint32_t)slot);
		if (split_high(c, b, first, nb, inside, match, nomatch)) {
			free(b);
			return;
		}
		entry = tree4(c, b, first, nb, inside, match, nomatch);
		/* the root follows the load directly; a single-leaf tree
		 * (everything matches) needs a jump */
		if (first == nb)
			emit_ja(&c->a, entry);
		free(b);
	} else {
		sk_u128 *b = calloc(2 * n, sizeof(*b));
		struct entry6 e;
		size_t nb;

		if (!b) {
			c->a.err = -ENOMEM;
			return;
		}
		nb = boundaries6(s, b);
		if (b[0] == 0) {
			inside = true;
			first = 1;
		}
		e = tree6(c, slot, b, first, nb, inside, match, nomatch);
		if (first == nb)
			emit_ja(&c->a, e.reload);
		free(b);
	}
}

static void load_payload(struct cc *c, uint32_t off, int width)
{
	uint16_t size = width == 1 ? BPF_B : width == 2 ? BPF_H : BPF_W;

	emit(&c->a, BPF_LD | size | BPF_ABS, off);
}

/*
 * A load past the payload would end the converted program with 0, which
 * the kernel reads as "socket 0": check the length first and take the
 * rule's miss path instead.
 */
static void payload_has(struct cc *c, uint32_t off, int width, int nomatch)
{
	int ok = new_label(&c->a);

	if (nomatch == NO_LABEL) {
		fail(c, -EINVAL,
		     "internal error: payload key without a miss path");
		return;
	}
	emit(&c->a, BPF_LD | BPF_W | BPF_LEN, 0);
	emit_jmp(&c->a, BPF_JGE, off + (uint32_t)width, ok, nomatch);
	label_here(&c->a, ok);
}

static void payload_test(struct cc *c, const struct sk_paytest *t, int match,
			 int nomatch)
{
	payload_has(c, t->off, t->width, nomatch);
	load_payload(c, t->off, t->width);
	if (t->has_mask)
		emit(&c->a, BPF_ALU | BPF_AND | BPF_K, t->mask);
	switch (t->cmp) {
	case SK_CMP_EQ:
		emit_jmp(&c->a, BPF_JEQ, t->value, match, nomatch);
		break;
	case SK_CMP_NE:
		emit_jmp(&c->a, BPF_JEQ, t->value, nomatch, match);
		break;
	case SK_CMP_GT:
		emit_jmp(&c->a, BPF_JGT, t->value, match, nomatch);
		break;
	case SK_CMP_GE:
		emit_jmp(&c->a, BPF_JGE, t->value, match, nomatch);
		break;
	case SK_CMP_LT:
		emit_jmp(&c->a, BPF_JGE, t->value, nomatch, match);
		break;
	case SK_CMP_LE:
		emit_jmp(&c->a, BPF_JGT, t->value, nomatch, match);
		break;
	}
}

static bool is_pow2(unsigned int n)
{
	return n && !(n & (n - 1));
}

/*
 * A holds an index of the pool's open sockets: return that socket's group
 * position. Each run of consecutive positions is one leaf (one addition),
 * found by a balanced search over the runs' first indexes, so that a pool
 * of thousands with a few closed sockets stays small.
 */
static void runs_tree(struct cc *c, const struct sk_layout_pool *lp,
		      const unsigned int *start, size_t lo, size_t hi)
{
	size_t mid;
	int right, left;

	if (hi - lo == 1) {
		uint32_t delta = lp->pos[start[lo]] - start[lo];

		if (delta)
			emit(&c->a, BPF_ALU | BPF_ADD | BPF_K, delta);
		emit(&c->a, BPF_RET | BPF_A, 0);
		return;
	}
	mid = lo + (hi - lo) / 2;
	right = new_label(&c->a);
	left = new_label(&c->a);
	emit_jmp(&c->a, BPF_JGE, start[mid], right, left);
	label_here(&c->a, left);
	runs_tree(c, lp, start, lo, mid);
	label_here(&c->a, right);
	runs_tree(c, lp, start, mid, hi);
}

/* A holds a value; pick open socket (value mod n) of the pool and return
 * its group position. */
static void ret_by_value(struct cc *c, const struct sk_layout_pool *lp)
{
	unsigned int *start, i;
	size_t nruns = 0;

	if (lp->n == 1) {
		emit(&c->a, BPF_RET | BPF_K, lp->pos[0]);
		return;
	}
	if (is_pow2(lp->n))
		emit(&c->a, BPF_ALU | BPF_AND | BPF_K, lp->n - 1);
	else
		emit(&c->a, BPF_ALU | BPF_MOD | BPF_K, lp->n);
	start = calloc(lp->n, sizeof(*start));
	if (!start) {
		c->a.err = -ENOMEM;
		return;
	}
	for (i = 0; i < lp->n; i++)
		if (!i || lp->pos[i] != lp->pos[i - 1] + 1)
			start[nruns++] = i;
	runs_tree(c, lp, start, 0, nruns);
	free(start);
}

/* Follow fallbacks from a pool with no open socket. Returns the pool to
 * use (with open sockets), -1 for hash; fails for drop. */
static int resolve_pool(struct cc *c, int pool)
{
	const struct sksteer_service *svc = c->svc;
	size_t steps;

	for (steps = 0; steps <= svc->npools; steps++) {
		const struct sksteer_pool *p = &svc->pools[pool];

		if (c->lay->pools[pool].n)
			return pool;
		if (p->fallback.kind == SKSTEER_TARGET_HASH)
			return -1;
		if (p->fallback.kind == SKSTEER_TARGET_DROP) {
			fail(c, -EOPNOTSUPP,
			     "pool '%s' has no open socket and falls back to "
			     "'drop', which needs the eBPF backend (set "
			     "'fallback hash' or 'fallback pool NAME')",
			     p->name);
			return -1;
		}
		pool = p->fallback.pool;
	}
	fail(c, -ELOOP, "pool fallbacks form a cycle");
	return -1;
}

static void target(struct cc *c, const struct sk_target *t, int nomatch)
{
	const struct sk_layout_pool *lp;
	int pool;

	switch (t->kind) {
	case SKSTEER_TARGET_HASH:
		emit(&c->a, BPF_RET | BPF_K, RET_HASH);
		return;
	case SKSTEER_TARGET_DROP:
		fail(c, -EOPNOTSUPP,
		     "'drop' needs the eBPF backend (classic BPF can only pick "
		     "a socket or the kernel's hash): use 'backend ebpf'");
		return;
	case SKSTEER_TARGET_POOL:
		break;
	}
	if (t->by_payload)
		payload_has(c, t->key_off, t->key_width, nomatch);
	pool = resolve_pool(c, t->pool);
	if (pool < 0) {
		emit(&c->a, BPF_RET | BPF_K, RET_HASH);
		return;
	}
	lp = &c->lay->pools[pool];
	if (t->by_payload && pool == t->pool) {
		if (lp->n > 1)
			load_payload(c, t->key_off, t->key_width);
		ret_by_value(c, lp);
		return;
	}
	if (lp->n == 1) {
		emit(&c->a, BPF_RET | BPF_K, lp->pos[0]);
		return;
	}
	if (c->pool_block[pool] < 0)
		c->pool_block[pool] = new_label(&c->a);
	emit_ja(&c->a, c->pool_block[pool]);
}

/* Spread over the pool by a hash of source address and port. */
static void pool_block(struct cc *c, int pool)
{
	int words = c->fam == 4 ? 1 : c->fam == 6 ? 4 : 0, i;

	label_here(&c->a, c->pool_block[pool]);
	if (c->fam == 0) {
		/* no address or port: the hash of nothing */
		emit(&c->a, BPF_LD | BPF_IMM, sk_flow_hash(NULL, 0, 0));
		ret_by_value(c, &c->lay->pools[pool]);
		return;
	}
	emit(&c->a, BPF_LD | BPF_MEM, M_SPORT);
	if (c->fam == 6)
		emit(&c->a, BPF_ALU | BPF_AND | BPF_K, 0xffff);
	for (i = 0; i < words; i++) {
		emit(&c->a, BPF_LDX | BPF_MEM, (uint32_t)(M_SRC + i));
		emit(&c->a, BPF_ALU | BPF_XOR | BPF_X, 0);
		emit(&c->a, BPF_ALU | BPF_MUL | BPF_K, HASH_MUL1);
	}
	emit(&c->a, BPF_MISC | BPF_TAX, 0);
	emit(&c->a, BPF_ALU | BPF_RSH | BPF_K, 16);
	emit(&c->a, BPF_ALU | BPF_XOR | BPF_X, 0);
	emit(&c->a, BPF_ALU | BPF_MUL | BPF_K, HASH_MUL2);
	emit(&c->a, BPF_MISC | BPF_TAX, 0);
	emit(&c->a, BPF_ALU | BPF_RSH | BPF_K, 13);
	emit(&c->a, BPF_ALU | BPF_XOR | BPF_X, 0);
	ret_by_value(c, &c->lay->pools[pool]);
}

/* Does any target (after fallbacks) spread over a pool by hash? */
static bool needs_spread(const struct cc *c)
{
	const struct sksteer_service *svc = c->svc;
	size_t i;

	for (i = 0; i < svc->npools; i++) {
		size_t j;

		if (c->lay->pools[i].n < 2)
			continue;
		/* reached by a rule or default without 'by payload', or as
		 * another pool's fallback: be generous, it only costs
		 * loads */
		if (svc->deflt.kind == SKSTEER_TARGET_POOL)
			return true;
		for (j = 0; j < svc->nrules; j++)
			if (svc->rules[j].target.kind == SKSTEER_TARGET_POOL &&
			    !svc->rules[j].target.by_payload)
				return true;
		for (j = 0; j < svc->npools; j++)
			if (svc->pools[j].fallback.kind == SKSTEER_TARGET_POOL)
				return true;
	}
	return false;
}

/*
 * Find the transport header behind IPv6 extension headers (the kernel has
 * already validated the chain, and the headers are in the linear area).
 * Leaves the source port, or SPORT_UNKNOWN, in M_SPORT.
 */
static void ipv6_sport(struct cc *c)
{
	int found = new_label(&c->a), unknown = new_label(&c->a);
	int done = new_label(&c->a);
	int i;

	emit(&c->a, BPF_LD | BPF_B | BPF_ABS, NET(6));
	emit(&c->a, BPF_LDX | BPF_IMM, 40);
	for (i = 0; i <= SK_IPV6_MAX_EXT; i++) {
		int ext = new_label(&c->a), frag = new_label(&c->a);
		int ah = new_label(&c->a), next = new_label(&c->a);
		int l1 = new_label(&c->a), l2 = new_label(&c->a);
		int l3 = new_label(&c->a), l4 = new_label(&c->a);

		if (i == SK_IPV6_MAX_EXT) {
			emit_jmp(&c->a, BPF_JEQ, (uint32_t)c->svc->proto, found,
				 unknown);
			break;
		}
		emit_jmp(&c->a, BPF_JEQ, (uint32_t)c->svc->proto, found, l1);
		label_here(&c->a, l1);
		emit_jmp(&c->a, BPF_JEQ, IPPROTO_HOPOPTS, ext, l2);
		label_here(&c->a, l2);
		emit_jmp(&c->a, BPF_JEQ, IPPROTO_ROUTING, ext, l3);
		label_here(&c->a, l3);
		emit_jmp(&c->a, BPF_JEQ, IPPROTO_DSTOPTS, ext, l4);
		label_here(&c->a, l4);
		emit_jmp(&c->a, BPF_JEQ, IPPROTO_FRAGMENT, frag, ah);
		/* AH: length in 4-octet units, minus 2 */
		label_here(&c->a, ah);
		{
			int is_ah = new_label(&c->a);

			emit_jmp(&c->a, BPF_JEQ, IPPROTO_AH, is_ah, unknown);
			label_here(&c->a, is_ah);
		}
		emit(&c->a, BPF_LD | BPF_B | BPF_IND, NET(1));
		emit(&c->a, BPF_ALU | BPF_ADD | BPF_K, 2);
		emit(&c->a, BPF_ALU | BPF_LSH | BPF_K, 2);
		emit(&c->a, BPF_ALU | BPF_ADD | BPF_X, 0);
		emit(&c->a, BPF_ST, M_TMP);
		emit(&c->a, BPF_LD | BPF_B | BPF_IND, NET(0));
		emit(&c->a, BPF_LDX | BPF_MEM, M_TMP);
		emit_ja(&c->a, next);
		/* fragment header: 8 octets */
		label_here(&c->a, frag);
		emit(&c->a, BPF_MISC | BPF_TXA, 0);
		emit(&c->a, BPF_ALU | BPF_ADD | BPF_K, 8);
		emit(&c->a, BPF_ST, M_TMP);
		emit(&c->a, BPF_LD | BPF_B | BPF_IND, NET(0));
		emit(&c->a, BPF_LDX | BPF_MEM, M_TMP);
		emit_ja(&c->a, next);
		/* hop-by-hop, routing, destination options: 8-octet units,
		 * not counting the first */
		label_here(&c->a, ext);
		emit(&c->a, BPF_LD | BPF_B | BPF_IND, NET(1));
		emit(&c->a, BPF_ALU | BPF_ADD | BPF_K, 1);
		emit(&c->a, BPF_ALU | BPF_LSH | BPF_K, 3);
		emit(&c->a, BPF_ALU | BPF_ADD | BPF_X, 0);
		emit(&c->a, BPF_ST, M_TMP);
		emit(&c->a, BPF_LD | BPF_B | BPF_IND, NET(0));
		emit(&c->a, BPF_LDX | BPF_MEM, M_TMP);
		label_here(&c->a, next);
	}
	label_here(&c->a, unknown);
	emit(&c->a, BPF_LD | BPF_IMM, SPORT_UNKNOWN);
	emit_ja(&c->a, done);
	label_here(&c->a, found);
	emit(&c->a, BPF_LD | BPF_H | BPF_IND, NET(0));
	label_here(&c->a, done);
	emit(&c->a, BPF_ST, M_SPORT);
}

static void preload(struct cc *c, bool src, bool dst, bool sport)
{
	int i;

	if (c->fam == 4) {
		if (src) {
			emit(&c->a, BPF_LD | BPF_W | BPF_ABS, NET(12));
			emit(&c->a, BPF_ST, M_SRC);
		}
		if (dst) {
			emit(&c->a, BPF_LD | BPF_W | BPF_ABS, NET(16));
			emit(&c->a, BPF_ST, M_DST);
		}
		if (sport) {
			/* X = IHL * 4: the transport header follows options */
			emit(&c->a, BPF_LDX | BPF_B | BPF_MSH, NET(0));
			emit(&c->a, BPF_LD | BPF_H | BPF_IND, NET(0));
			emit(&c->a, BPF_ST, M_SPORT);
		}
	} else if (c->fam == 6) {
		for (i = 0; src && i < 4; i++) {
			emit(&c->a, BPF_LD | BPF_W | BPF_ABS, NET(8 + 4 * i));
			emit(&c->a, BPF_ST, (uint32_t)(M_SRC + i));
		}
		for (i = 0; dst && i < 4; i++) {
			emit(&c->a, BPF_LD | BPF_W | BPF_ABS, NET(24 + 4 * i));
			emit(&c->a, BPF_ST, (uint32_t)(M_DST + i));
		}
		if (sport)
			ipv6_sport(c);
	}
}

static void family_body(struct cc *c, int fam)
{
	const struct sksteer_service *svc = c->svc;
	bool src = false, dst = false, sport = false;
	size_t i;

	c->fam = fam;
	for (i = 0; i < svc->npools; i++)
		c->pool_block[i] = -1;
	for (i = 0; i < svc->nrules; i++) {
		const struct sk_rule *r = &svc->rules[i];

		if (!rule_possible(c, r))
			continue;
		src |= r->has_from;
		dst |= r->has_to;
		sport |= r->has_sport;
	}
	if (needs_spread(c))
		src = sport = true;
	c->a.owner = -2;
	preload(c, src, dst, sport);

	for (i = 0; i < svc->nrules; i++) {
		const struct sk_rule *r = &svc->rules[i];
		int next;
		size_t j;

		if (!rule_possible(c, r))
			continue;
		c->a.owner = (int)i;
		next = new_label(&c->a);
		if (r->has_sport) {
			int ok = new_label(&c->a), hit = new_label(&c->a);

			emit(&c->a, BPF_LD | BPF_MEM, M_SPORT);
			if (r->sport_lo)
				emit_jmp(&c->a, BPF_JGE, r->sport_lo, ok, next);
			label_here(&c->a, ok);
			emit_jmp(&c->a, BPF_JGT, r->sport_hi, next, hit);
			label_here(&c->a, hit);
		}
		for (j = 0; j < r->npay; j++) {
			int hit = new_label(&c->a);

			payload_test(c, &r->pay[j], hit, next);
			label_here(&c->a, hit);
		}
		if (r->has_to) {
			int hit = new_label(&c->a);

			addr_cond(c, &r->to, M_DST, hit, next);
			label_here(&c->a, hit);
		}
		if (r->has_from) {
			int hit = new_label(&c->a);

			addr_cond(c, &r->from, M_SRC, hit, next);
			label_here(&c->a, hit);
		}
		target(c, &r->target, next);
		label_here(&c->a, next);
	}
	c->a.owner = -1;
	target(c, &svc->deflt, NO_LABEL);
	c->a.owner = -2;
	for (i = 0; i < svc->npools; i++)
		if (c->pool_block[i] >= 0)
			pool_block(c, (int)i);
}

static void too_long(const struct sksteer_service *svc, size_t n, bool at_least)
{
	sk_warn("service '%s': the classic BPF program needs %s%zu "
		"instructions, more than the kernel's limit of %d; use "
		"'backend ebpf' (prefix sets cost about one instruction per "
		"IPv4 range boundary and five to twelve per IPv6 one, a rule a few "
		"more)\n",
		svc->name, at_least ? "at least " : "", n,
		SKSTEER_CBPF_MAX_INSNS);
}

struct sksteer_prog *sk_cbpf_compile(const struct sksteer_service *svc,
				     const struct sk_layout *layout)
{
	struct cc c = { .svc = svc, .lay = layout };
	struct sksteer_prog *prog = NULL;
	int l4 = 0, l6 = 0, lother, err;
	char why[256];

	c.pool_block = calloc(svc->npools ? svc->npools : 1, sizeof(int));
	if (!c.pool_block) {
		err = -ENOMEM;
		goto out;
	}
	c.a.owner = -2;
	/* Never assume the version from the socket: a dual-stack [::]
	 * socket receives IPv4 packets with an IPv4 header. */
	emit(&c.a, BPF_LD | BPF_B | BPF_ABS, NET(0));
	emit(&c.a, BPF_ALU | BPF_RSH | BPF_K, 4);
	lother = new_label(&c.a);
	if (svc->recv4)
		l4 = new_label(&c.a);
	if (svc->recv6)
		l6 = new_label(&c.a);
	if (svc->recv4) {
		int cont = svc->recv6 ? new_label(&c.a) : lother;

		emit_jmp(&c.a, BPF_JEQ, 4, l4, cont);
		if (svc->recv6)
			label_here(&c.a, cont);
	}
	if (svc->recv6)
		emit_jmp(&c.a, BPF_JEQ, 6, l6, lother);
	if (svc->recv4) {
		label_here(&c.a, l4);
		family_body(&c, 4);
	}
	if (svc->recv6) {
		label_here(&c.a, l6);
		family_body(&c, 6);
	}
	label_here(&c.a, lother);
	family_body(&c, 0);

	if (c.err) {
		err = c.err;
		sk_warn("service '%s': %s\n", svc->name, c.why);
		goto out;
	}
	/* relaxation only adds trampolines, and costs time quadratic in the
	 * program's length: a program already too long stops here */
	if (!c.a.err && c.a.n > SKSTEER_CBPF_MAX_INSNS) {
		too_long(svc, c.a.n, true);
		err = -E2BIG;
		goto out;
	}
	prog = calloc(1, sizeof(*prog));
	if (!prog) {
		err = -ENOMEM;
		goto out;
	}
	err = assemble(&c.a, prog);
	if (err)
		goto out;
	if (prog->n > SKSTEER_CBPF_MAX_INSNS) {
		too_long(svc, prog->n, false);
		err = -E2BIG;
		goto out;
	}
	if (sk_cbpf_validate(prog->insns, prog->n, why, sizeof(why))) {
		sk_warn("service '%s': internal error: generated program is "
			"invalid: %s\n",
			svc->name, why);
		err = -EFAULT;
		goto out;
	}
out:
	free(c.pool_block);
	free(c.a.insns);
	free(c.a.labels);
	if (err) {
		sksteer_prog__free(prog);
		errno = -err;
		return NULL;
	}
	return prog;
}

struct sksteer_prog *
sksteer_service__compile(const struct sksteer_service *svc,
			 const struct sksteer_compile_opts *opts)
{
	struct sk_layout lay;
	struct sksteer_prog *prog;
	int err;

	if (!svc || !OPTS_VALID(opts, sksteer_compile_opts)) {
		errno = EINVAL;
		return NULL;
	}
	err = sk_layout_declared(svc, &lay);
	if (err) {
		errno = -err;
		return NULL;
	}
	prog = sk_cbpf_compile(svc, &lay);
	err = errno;
	sk_layout_free(&lay);
	errno = err;
	return prog;
}

void sksteer_prog__free(struct sksteer_prog *prog)
{
	if (!prog)
		return;
	free(prog->insns);
	free(prog->owner);
	free(prog);
}

size_t sksteer_prog__insn_cnt(const struct sksteer_prog *prog)
{
	return prog->n;
}

const struct sock_filter *sksteer_prog__insns(const struct sksteer_prog *prog)
{
	return prog->insns;
}
