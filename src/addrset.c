// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Prefixes and address sets: parsing, and normalisation into sorted,
 * disjoint, merged ranges, the form every backend searches. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

sk_u128 sk_in6_to_u128(const struct in6_addr *a)
{
	sk_u128 v = 0;
	int i;

	for (i = 0; i < 16; i++)
		v = (v << 8) | a->s6_addr[i];
	return v;
}

void sk_u128_to_in6(sk_u128 v, struct in6_addr *a)
{
	int i;

	for (i = 15; i >= 0; i--) {
		a->s6_addr[i] = (uint8_t)v;
		v >>= 8;
	}
}

void sk_addr4_fmt(uint32_t a, char *buf, size_t sz)
{
	snprintf(buf, sz, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff,
		 (a >> 8) & 0xff, a & 0xff);
}

void sk_addr6_fmt(sk_u128 a, char *buf, size_t sz)
{
	struct in6_addr in6;
	char tmp[INET6_ADDRSTRLEN];

	sk_u128_to_in6(a, &in6);
	inet_ntop(AF_INET6, &in6, tmp, sizeof(tmp));
	snprintf(buf, sz, "%s", tmp);
}

void sk_prefix_fmt(const struct sk_prefix *p, char *buf, size_t sz)
{
	char a[INET6_ADDRSTRLEN];

	if (p->family == AF_INET)
		sk_addr4_fmt((uint32_t)p->addr, a, sizeof(a));
	else
		sk_addr6_fmt(p->addr, a, sizeof(a));
	snprintf(buf, sz, "%s/%d", a, p->len);
}

static sk_u128 host_mask(int bits, int len)
{
	int host = bits - len;

	if (host <= 0)
		return 0;
	if (host >= 128)
		return ~(sk_u128)0;
	return ((sk_u128)1 << host) - 1;
}

int sk_prefix_parse(const char *s, size_t n, struct sk_prefix *out, char *why,
		    size_t why_sz, int *col_off)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;
	struct in6_addr a6;
	struct in_addr a4;
	int bits, len;
	size_t i;

	*col_off = 0;
	if (alen == 0 || alen >= sizeof(addr)) {
		snprintf(why, why_sz,
			 "expected an IPv4 or IPv6 prefix, got '%.*s'", (int)n,
			 s);
		return -EINVAL;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, &a4) == 1) {
		out->family = AF_INET;
		out->addr = ntohl(a4.s_addr);
		bits = 32;
	} else if (strchr(addr, ':') && inet_pton(AF_INET6, addr, &a6) == 1) {
		out->family = AF_INET6;
		out->addr = sk_in6_to_u128(&a6);
		bits = 128;
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			snprintf(
				why, why_sz,
				"'%s' is an IPv4-mapped IPv6 address; IPv4 "
				"clients of a dual-stack socket arrive as IPv4, "
				"so write the IPv4 prefix",
				addr);
			return -EINVAL;
		}
	} else {
		snprintf(why, why_sz, "'%s' is not an IPv4 or IPv6 address",
			 addr);
		return -EINVAL;
	}

	len = bits;
	if (slash) {
		const char *l = slash + 1;
		size_t ln = n - alen - 1;

		*col_off = (int)(alen + 1);
		if (ln == 0 || ln > 3) {
			snprintf(why, why_sz,
				 "expected a prefix length 0-%d after '/'",
				 bits);
			return -EINVAL;
		}
		len = 0;
		for (i = 0; i < ln; i++) {
			if (!isdigit((unsigned char)l[i])) {
				snprintf(why, why_sz,
					 "expected a prefix length 0-%d after "
					 "'/', got '%.*s'",
					 bits, (int)ln, l);
				return -EINVAL;
			}
			len = len * 10 + (l[i] - '0');
		}
		if (len > bits) {
			snprintf(
				why, why_sz,
				"prefix length %d is out of range for %s (0-%d)",
				len, bits == 32 ? "IPv4" : "IPv6", bits);
			return -EINVAL;
		}
	}
	out->len = len;
	if (out->addr & host_mask(bits, len)) {
		struct sk_prefix fixed = *out;
		char buf[64];

		fixed.addr &= ~host_mask(bits, len);
		sk_prefix_fmt(&fixed, buf, sizeof(buf));
		*col_off = 0;
		snprintf(why, why_sz,
			 "host bits set in '%.*s' (did you mean %s?)", (int)n,
			 s, buf);
		return -EINVAL;
	}
	return 0;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 16;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	p = sk_reallocarray(*arr, n, elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = n;
	return 0;
}

int sk_asb_add_prefix(struct sk_addrset_builder *b, const struct sk_prefix *p)
{
	if (p->family == AF_INET) {
		uint32_t lo = (uint32_t)p->addr;

		if (grow((void **)&b->v4, &b->cap4, b->n4 + 1, sizeof(*b->v4)))
			return -ENOMEM;
		b->v4[b->n4++] = (struct sk_range4){
			lo, lo | (uint32_t)host_mask(32, p->len)
		};
	} else {
		if (grow((void **)&b->v6, &b->cap6, b->n6 + 1, sizeof(*b->v6)))
			return -ENOMEM;
		b->v6[b->n6++] =
			(struct sk_range6){ p->addr,
					    p->addr | host_mask(128, p->len) };
	}
	b->nprefixes++;
	return 0;
}

int sk_asb_add_set(struct sk_addrset_builder *b, const struct sk_addrset *s)
{
	if (grow((void **)&b->v4, &b->cap4, b->n4 + s->n4, sizeof(*b->v4)) ||
	    grow((void **)&b->v6, &b->cap6, b->n6 + s->n6, sizeof(*b->v6)))
		return -ENOMEM;
	if (s->n4)
		memcpy(b->v4 + b->n4, s->v4, s->n4 * sizeof(*s->v4));
	if (s->n6)
		memcpy(b->v6 + b->n6, s->v6, s->n6 * sizeof(*s->v6));
	b->n4 += s->n4;
	b->n6 += s->n6;
	return 0;
}

static int cmp4(const void *a, const void *b)
{
	const struct sk_range4 *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return (x->hi > y->hi) - (x->hi < y->hi);
}

static int cmp6(const void *a, const void *b)
{
	const struct sk_range6 *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return (x->hi > y->hi) - (x->hi < y->hi);
}

/* Merge overlapping and adjacent ranges: the searches rely on every
 * boundary being a change between inside and outside. */
#define DEFINE_MERGE(name, type, maxv)                         \
	static size_t name(type *r, size_t n)                  \
	{                                                      \
		size_t o = 0, i;                               \
                                                               \
		for (i = 0; i < n; i++) {                      \
			if (o && r[o - 1].hi == (maxv))        \
				break;                         \
			if (o && r[i].lo <= r[o - 1].hi + 1) { \
				if (r[i].hi > r[o - 1].hi)     \
					r[o - 1].hi = r[i].hi; \
				continue;                      \
			}                                      \
			r[o++] = r[i];                         \
		}                                              \
		return o;                                      \
	}

DEFINE_MERGE(merge4, struct sk_range4, UINT32_MAX)
DEFINE_MERGE(merge6, struct sk_range6, ~(sk_u128)0)

int sk_asb_finish(struct sk_addrset_builder *b, struct sk_addrset *out)
{
	memset(out, 0, sizeof(*out));
	if (b->n4) {
		qsort(b->v4, b->n4, sizeof(*b->v4), cmp4);
		b->n4 = merge4(b->v4, b->n4);
	}
	if (b->n6) {
		qsort(b->v6, b->n6, sizeof(*b->v6), cmp6);
		b->n6 = merge6(b->v6, b->n6);
	}
	out->v4 = b->v4;
	out->n4 = b->n4;
	out->v6 = b->v6;
	out->n6 = b->n6;
	memset(b, 0, sizeof(*b));
	return 0;
}

void sk_asb_free(struct sk_addrset_builder *b)
{
	free(b->v4);
	free(b->v6);
	memset(b, 0, sizeof(*b));
}

void sk_addrset_free(struct sk_addrset *s)
{
	free(s->v4);
	free(s->v6);
	memset(s, 0, sizeof(*s));
}

int sk_addrset_copy(struct sk_addrset *dst, const struct sk_addrset *src)
{
	memset(dst, 0, sizeof(*dst));
	if (src->n4) {
		dst->v4 = malloc(src->n4 * sizeof(*src->v4));
		if (!dst->v4)
			return -ENOMEM;
		memcpy(dst->v4, src->v4, src->n4 * sizeof(*src->v4));
		dst->n4 = src->n4;
	}
	if (src->n6) {
		dst->v6 = malloc(src->n6 * sizeof(*src->v6));
		if (!dst->v6) {
			sk_addrset_free(dst);
			return -ENOMEM;
		}
		memcpy(dst->v6, src->v6, src->n6 * sizeof(*src->v6));
		dst->n6 = src->n6;
	}
	return 0;
}

bool sk_addrset_has4(const struct sk_addrset *s, uint32_t a)
{
	size_t lo = 0, hi = s->n4;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a < s->v4[mid].lo)
			hi = mid;
		else if (a > s->v4[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

bool sk_addrset_has6(const struct sk_addrset *s, sk_u128 a)
{
	size_t lo = 0, hi = s->n6;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a < s->v6[mid].lo)
			hi = mid;
		else if (a > s->v6[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}
