/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A small seeded generator for tests that must replay a failing case
 * from its seed: xorshift64, the same sequence on every machine. */
#ifndef __SKSTEER_TEST_RND_H
#define __SKSTEER_TEST_RND_H

#include <stdint.h>

struct rnd {
	uint64_t s;
};

static inline uint32_t rnd(struct rnd *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return (uint32_t)(r->s >> 11);
}

/* 0 <= result < n; 0 when n is 0 */
static inline uint32_t below(struct rnd *r, uint32_t n)
{
	return n ? rnd(r) % n : 0;
}

#endif
