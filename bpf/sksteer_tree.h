/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The class of an address in a tree (layout: sksteer_maps.h), and the
 * lowest set bit of a rule bitmap. One piece of code for the program
 * (bpf/sksteer.bpf.c) and for the library's evaluation of the tables
 * (src/tables.c, which the differential test runs against the reference
 * matcher): the test then checks the program's own arithmetic, down to
 * the 64-bit halves an IPv6 address is handled in.
 *
 * The includer defines:
 *   SKS_FN                  the functions' storage class (always inline)
 *   SKS_TCTX_DECL, SKS_TCTX a first parameter and argument giving the
 *                           tables (empty in the program: they are maps)
 *   SKS_BUCKET(k), SKS_BOUND4(k), SKS_BOUND6(k)
 *                           element k of a table, or NULL past its end
 *   SKS_ROOT_QUAL           qualifiers of the roots (the program's are in
 *                           .rodata, const volatile)
 *   SKS_NO_UNROLL, SKS_UNROLL  loop pragmas (empty outside clang)
 *
 * Written for the verifier as well: loops are bounded by constants and
 * every shift amount is masked into range.
 */
#ifndef __SKSTEER_TREE_H
#define __SKSTEER_TREE_H

#include "sksteer_maps.h"

/* 1 when @key <= @a, without a branch (keys are random: a mispredicted
 * branch costs more than this) */
SKS_FN __u32 sks_le32(__u32 key, __u32 a)
{
	return 1 - (__u32)(((__u64)a - (__u64)key) >> 63);
}

/* 1 when @a < @b, unsigned, without a branch (Hacker's Delight 2-12) */
SKS_FN __u64 sks_lt64(__u64 a, __u64 b)
{
	return ((~a & b) | ((~a | b) & (a - b))) >> 63;
}

/* 1 when the 128-bit number (@khi, @klo) <= (@ahi, @alo), branch-free */
SKS_FN __u32 sks_le128(__u64 khi, __u64 klo, __u64 ahi, __u64 alo)
{
	__u64 d = ahi ^ khi, eq = 1 - ((d | (0 - d)) >> 63);

	return (__u32)(1 - (sks_lt64(ahi, khi) | (eq & sks_lt64(alo, klo))));
}

/* (@ahi, @alo) < (@bhi, @blo): with branches, so that the verifier drops
 * the compares against a root's constants that can never hold */
#define SKS_LT128(ahi, alo, bhi, blo) \
	((ahi) < (bhi) || ((ahi) == (bhi) && (alo) < (blo)))

/*
 * The 64 bits of the 128-bit address (@hi, @lo) from bit @shift up (bit 0
 * the last), for a shift of 0 to 127. The index bits of a table may
 * straddle the two halves: (hi << 1) << (63 - shift) is hi << (64 -
 * shift) without a shift by 64 (undefined in C, and a shift by 0 in BPF)
 * when @shift is 0.
 */
SKS_FN __u64 sks_bits6(__u64 hi, __u64 lo, __u32 shift)
{
	shift &= 127;
	if (shift >= 64)
		return hi >> ((shift - 64) & 63);
	return (lo >> (shift & 63)) | ((hi << 1) << ((63 - shift) & 63));
}

/* The number of trailing zero bits of @x (64 for 0) without a branch
 * (BPF has no ctz): the bits below the lowest set one, counted. */
SKS_FN __u32 sks_ctz64(__u64 x)
{
	__u64 v = (x & (0 - x)) - 1;

	v = v - ((v >> 1) & 0x5555555555555555ull);
	v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
	v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (__u32)((v * 0x0101010101010101ull) >> 56);
}

/* The class of @v, an address's bits where bucket @b keeps relative
 * keys (SKS_BUCKET_REL), in @b. */
SKS_FN __u32 sks_search_rel(const struct sks_bucket *b, __u64 v)
{
	__u32 cls = b->cls, i;

	if (b->flags & SKS_BUCKET_R16) {
		SKS_UNROLL
		for (i = 0; i < SKS_INLINE16; i++) {
			__u32 le = sks_le32(b->r16[i].key, (__u32)v);

			cls += le * (b->r16[i].cls - cls);
		}
		return cls;
	}
	if (b->flags & SKS_BUCKET_R32) {
		SKS_UNROLL
		for (i = 0; i < SKS_INLINE32; i++) {
			__u32 le = sks_le32(b->r32[i].key, (__u32)v);

			cls += le * (b->r32[i].cls - cls);
		}
		return cls;
	}
	SKS_UNROLL
	for (i = 0; i < SKS_INLINE64; i++) {
		__u32 le = (__u32)(1 - sks_lt64(v, b->r64.key[i]));

		cls += le * (b->r64.cls[i] - cls);
	}
	return cls;
}

/* 2^@bits - 1 for @bits from 1 to 64 (64: shifted in two steps, a shift
 * by 64 being undefined) */
SKS_FN __u64 sks_low_bits(__u32 bits)
{
	return (((1ull << ((bits - 1) & 63)) - 1) << 1) | 1;
}

/* The class of @a in IPv4 list bucket @b: the last boundary at or below
 * it. */
SKS_FN __u32 sks_search4(SKS_TCTX_DECL const struct sks_bucket *b, __u32 a)
{
	__u32 cls = b->cls, lo, n, i;

	if (b->flags & SKS_BUCKET_REL)
		return sks_search_rel(b, (a >> (b->shift & 31)) &
						 sks_low_bits(b->bits));
	if (b->count <= SKS_INLINE4) {
		/* in the bucket's own cache line; padding never matches */
		SKS_UNROLL
		for (i = 0; i < SKS_INLINE4; i++) {
			__u32 le = sks_le32(b->in4[i].key, a);

			cls += le * (b->in4[i].cls - cls);
		}
		return cls;
	}
	/* branch-free binary search; invariant: the answer is the last of
	 * n boundaries from lo with key <= a */
	lo = b->first;
	n = b->count;
	SKS_NO_UNROLL
	for (i = 0; i < SKS_SEARCH_STEPS; i++) {
		const struct sks_bound4 *e;
		__u32 half, mid, le;

		if (!n)
			break;
		half = n / 2;
		mid = lo + half;
		e = SKS_BOUND4(mid);
		if (!e)
			break;
		le = sks_le32(e->key, a);
		cls += le * (e->cls - cls);
		lo += le * (half + 1);
		n = half - le * (half + 1 - (n - half));
	}
	return cls;
}

SKS_FN __u32 sks_search6(SKS_TCTX_DECL const struct sks_bucket *b, __u64 ahi,
			 __u64 alo)
{
	__u32 cls = b->cls, lo = b->first, hi = b->first + b->count, i;

	if (b->flags & SKS_BUCKET_REL)
		return sks_search_rel(b, sks_bits6(ahi, alo, b->shift) &
						 sks_low_bits(b->bits));
	if (b->count <= SKS_INLINE6) {
		SKS_UNROLL
		for (i = 0; i < SKS_INLINE6; i++) {
			__u32 le =
				sks_le128(b->in6[i].hi, b->in6[i].lo, ahi, alo);

			cls += le * (b->in6[i].cls - cls);
		}
		return cls;
	}
	SKS_NO_UNROLL
	for (i = 0; i < SKS_SEARCH_STEPS && lo < hi; i++) {
		__u32 mid = lo + (hi - lo) / 2;
		const struct sks_bound6 *e = SKS_BOUND6(mid);

		if (!e)
			break;
		if (e->hi < ahi || (e->hi == ahi && e->lo <= alo)) {
			cls = e->cls;
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return cls;
}

/* The class of IPv4 address @a in the tree of root @rt. */
SKS_FN __u32 sks_class4(SKS_TCTX_DECL SKS_ROOT_QUAL struct sks_root *rt,
			__u32 a)
{
	const struct sks_bucket *b;
	__u32 i, k;

	if (a < (__u32)rt->lo_lo)
		return rt->cls_lo;
	if (a > (__u32)rt->hi_lo)
		return rt->cls_hi;
	k = rt->base;
	if (rt->bits)
		k += (a >> (rt->shift & 31)) & ((1u << (rt->bits & 31)) - 1);
	b = SKS_BUCKET(k);
	SKS_NO_UNROLL
	for (i = 0; i < SKS_MAX_DEPTH; i++) {
		if (!b)
			return 0;
		if (!(b->flags & SKS_BUCKET_TABLE))
			break;
		/* a crowded block: outside the part with changes, its class
		 * is known; inside, the next bits pick a child */
		if (a < b->t4.lo)
			return b->cls;
		if (a > b->t4.hi)
			return b->t4.cls_hi;
		k = b->first +
		    ((a >> (b->shift & 31)) & ((1u << (b->bits & 15)) - 1));
		b = SKS_BUCKET(k);
	}
	return b ? sks_search4(SKS_TCTX b, a) : 0;
}

/* The class of the IPv6 address (@ahi, @alo) in the tree of root @rt. */
SKS_FN __u32 sks_class6(SKS_TCTX_DECL SKS_ROOT_QUAL struct sks_root *rt,
			__u64 ahi, __u64 alo)
{
	const struct sks_bucket *b;
	__u32 i, k;

	if (SKS_LT128(ahi, alo, rt->lo_hi, rt->lo_lo))
		return rt->cls_lo;
	if (SKS_LT128(rt->hi_hi, rt->hi_lo, ahi, alo))
		return rt->cls_hi;
	k = rt->base;
	if (rt->bits)
		k += (__u32)sks_bits6(ahi, alo, rt->shift) &
		     ((1u << (rt->bits & 31)) - 1);
	b = SKS_BUCKET(k);
	SKS_NO_UNROLL
	for (i = 0; i < SKS_MAX_DEPTH; i++) {
		if (!b)
			return 0;
		if (!(b->flags & SKS_BUCKET_TABLE))
			break;
		if (SKS_LT128(ahi, alo, b->t6.lo_hi, b->t6.lo_lo))
			return b->cls;
		if (SKS_LT128(b->t6.hi_hi, b->t6.hi_lo, ahi, alo))
			return b->t6.cls_hi;
		k = b->first + ((__u32)sks_bits6(ahi, alo, b->shift) &
				((1u << (b->bits & 15)) - 1));
		b = SKS_BUCKET(k);
	}
	return b ? sks_search6(SKS_TCTX b, ahi, alo) : 0;
}

/* The class of address @a (IPv4: @a[0]; IPv6: four words, host order)
 * in the tree of @r4 or @r6, by version. */
SKS_FN __u32 sks_class(SKS_TCTX_DECL SKS_ROOT_QUAL struct sks_root *r4,
		       SKS_ROOT_QUAL struct sks_root *r6, int t4,
		       const __u32 *a)
{
	if (t4)
		return sks_class4(SKS_TCTX r4, a[0]);
	return sks_class6(SKS_TCTX r6, (__u64)a[0] << 32 | a[1],
			  (__u64)a[2] << 32 | a[3]);
}

#endif /* __SKSTEER_TREE_H */
