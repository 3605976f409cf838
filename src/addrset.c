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

/* At most this much of a bad token is quoted back: the message has the
 * same shape whatever the token's length (an address cannot be longer). */
#define QUOTE_MAX 48

static void quote_tok(char *buf, size_t sz, const char *s, size_t n)
{
	if (n > QUOTE_MAX)
		snprintf(buf, sz, "'%.*s...'", QUOTE_MAX, s);
	else
		snprintf(buf, sz, "'%.*s'", (int)n, s);
}

int sk_addr_parse(const char *s, size_t n, int *family, sk_u128 *addr,
		  char *why, size_t why_sz, bool echo)
{
	char a[INET6_ADDRSTRLEN + 1], q[QUOTE_MAX + 8];
	struct in6_addr a6;
	struct in_addr a4;

	quote_tok(q, sizeof(q), s, n);
	/* too long for any address: the same message as any other
	 * non-address, not a different one past 46 characters */
	if (n == 0 || n >= sizeof(a))
		goto bad;
	memcpy(a, s, n);
	a[n] = '\0';
	if (inet_pton(AF_INET, a, &a4) == 1) {
		*family = AF_INET;
		*addr = ntohl(a4.s_addr);
		return 0;
	}
	if (!strchr(a, ':') || inet_pton(AF_INET6, a, &a6) != 1)
		goto bad;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		snprintf(why, why_sz,
			 "%s%san IPv4-mapped IPv6 address; IPv4 clients of a "
			 "dual-stack socket arrive as IPv4, so write the IPv4 "
			 "prefix",
			 echo ? q : "", echo ? " is " : "");
		return -EINVAL;
	}
	*family = AF_INET6;
	*addr = sk_in6_to_u128(&a6);
	return 0;
bad:
	if (echo)
		snprintf(why, why_sz, "%s is not an IPv4 or IPv6 address", q);
	else
		snprintf(why, why_sz, "expected an IPv4 or IPv6 address");
	return -EINVAL;
}

int sk_prefix_parse(const char *s, size_t n, struct sk_prefix *out, char *why,
		    size_t why_sz, int *col_off, bool echo)
{
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;
	int bits, len;
	size_t i;

	*col_off = 0;
	if (slash && alen == 0) {
		snprintf(why, why_sz, "expected an address before '/'");
		return -EINVAL;
	}
	if (sk_addr_parse(s, alen, &out->family, &out->addr, why, why_sz, echo))
		return -EINVAL;
	bits = out->family == AF_INET ? 32 : 128;
	len = bits;
	if (slash) {
		const char *l = slash + 1;
		size_t ln = n - alen - 1;

		*col_off = (int)(alen + 1);
		len = 0;
		for (i = 0; i < ln && i < 4 && isdigit((unsigned char)l[i]);
		     i++)
			len = len * 10 + (l[i] - '0');
		if (ln == 0 || ln > 3 || i < ln) {
			char q[QUOTE_MAX + 8];

			quote_tok(q, sizeof(q), l, ln);
			snprintf(why, why_sz,
				 "expected a prefix length 0-%d after '/'%s%s",
				 bits, echo && ln ? ", got " : "",
				 echo && ln ? q : "");
			return -EINVAL;
		}
		if (len > bits) {
			if (echo)
				snprintf(why, why_sz,
					 "prefix length %d is out of range for "
					 "%s (0-%d)",
					 len, bits == 32 ? "IPv4" : "IPv6",
					 bits);
			else
				snprintf(why, why_sz,
					 "prefix length out of range for %s "
					 "(0-%d)",
					 bits == 32 ? "IPv4" : "IPv6", bits);
			return -EINVAL;
		}
	}
	out->len = len;
	if (out->addr & host_mask(bits, len)) {
		struct sk_prefix fixed = *out;
		char buf[64], q[QUOTE_MAX + 8];

		*col_off = 0;
		if (!echo) {
			/* the suggestion would quote the file's content */
			snprintf(why, why_sz,
				 "host bits set (the address has bits set "
				 "past the prefix length)");
			return -EINVAL;
		}
		fixed.addr &= ~host_mask(bits, len);
		sk_prefix_fmt(&fixed, buf, sizeof(buf));
		quote_tok(q, sizeof(q), s, n);
		snprintf(why, why_sz, "host bits set in %s (did you mean %s?)",
			 q, buf);
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

/* How many CIDR blocks [lo, hi] of a @bits-bit space takes: the count a
 * list of prefixes covering it exactly would have. */
size_t sk_range_cidr_cnt(int bits, sk_u128 lo, sk_u128 hi)
{
	size_t n = 0;

	for (;;) {
		int k = 0;

		/* the largest block starting at lo that stays within hi */
		while (k < bits && !((lo >> k) & 1) &&
		       (lo | host_mask(bits, bits - k - 1)) <= hi)
			k++;
		n++;
		if ((lo | host_mask(bits, bits - k)) >= hi)
			return n;
		lo = (lo | host_mask(bits, bits - k)) + 1;
	}
}

int sk_asb_add_range(struct sk_addrset_builder *b, int family, sk_u128 lo,
		     sk_u128 hi)
{
	if (family == AF_INET) {
		if (grow((void **)&b->v4, &b->cap4, b->n4 + 1, sizeof(*b->v4)))
			return -ENOMEM;
		b->v4[b->n4++] =
			(struct sk_range4){ (uint32_t)lo, (uint32_t)hi };
	} else {
		if (grow((void **)&b->v6, &b->cap6, b->n6 + 1, sizeof(*b->v6)))
			return -ENOMEM;
		b->v6[b->n6++] = (struct sk_range6){ lo, hi };
	}
	b->nprefixes += sk_range_cidr_cnt(family == AF_INET ? 32 : 128, lo, hi);
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
