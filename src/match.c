// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The reference matcher: the rules of a service evaluated over a raw packet
 * straight from sksteer.conf(5), SEMANTICS. It is deliberately written
 * without looking at the compilers so that the randomized differential test
 * (tests/test_diff.c) cross-checks two independent readings of the contract;
 * it also backs sksteer explain when no program is given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The extension headers SEMANTICS skips, and how many at most. */
#define IPV6_MAX_EXT	 4
#define NEXTHDR_HOP	 0
#define NEXTHDR_ROUTING	 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH	 51
#define NEXTHDR_DEST	 60

/* What the rules can see of a packet. */
struct view {
	int ver; /* 4 or 6; 0: a version the service does not receive */
	uint32_t src4, dst4;
	sk_u128 src6, dst6;
	bool has_port; /* the transport header was found */
	uint16_t sport;
	const uint8_t *pay;
	size_t plen;
};

static uint32_t be(const uint8_t *p, int n)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static sk_u128 be128(const uint8_t *p)
{
	sk_u128 v = 0;
	int i;

	for (i = 0; i < 16; i++)
		v = (v << 8) | p[i];
	return v;
}

static bool ipv6_ext(uint8_t nh)
{
	return nh == NEXTHDR_HOP || nh == NEXTHDR_ROUTING ||
	       nh == NEXTHDR_FRAGMENT || nh == NEXTHDR_AUTH ||
	       nh == NEXTHDR_DEST;
}

/*
 * The transport header of an IPv6 packet: after at most IPV6_MAX_EXT
 * extension headers, and only where the chain names the service's
 * protocol (a TCP socket never receives anything else, so a chain that
 * ends elsewhere has not led to the transport header).
 */
static bool ipv6_thoff(const uint8_t *b, size_t len, int proto, size_t *thoff)
{
	size_t off = 40;
	uint8_t nh = b[6];
	int i;

	for (i = 0; i < IPV6_MAX_EXT && ipv6_ext(nh); i++) {
		size_t hl;

		if (off + 2 > len)
			return false;
		hl = b[off + 1];
		if (nh == NEXTHDR_FRAGMENT)
			hl = 8;
		else if (nh == NEXTHDR_AUTH)
			hl = (hl + 2) * 4;
		else
			hl = (hl + 1) * 8;
		nh = b[off];
		off += hl;
	}
	if (nh != proto)
		return false;
	*thoff = off;
	return true;
}

static int view_pkt(const struct sksteer_service *svc, const struct sk_pkt *pkt,
		    struct view *v)
{
	const uint8_t *b = pkt->buf;
	size_t len = pkt->len, thoff = 0;
	bool found = false;
	int nib;

	memset(v, 0, sizeof(*v));
	if (!b || pkt->payload_off > len)
		return -EINVAL;
	v->pay = b + pkt->payload_off;
	v->plen = len - pkt->payload_off;
	/* The version nibble decides, never the socket: a dual-stack socket
	 * receives both. A version the listen address cannot receive is
	 * "other": no address, no port. */
	nib = len ? b[0] >> 4 : 0;
	if (nib == 4 && svc->recv4 && len >= 20) {
		v->ver = 4;
		v->src4 = be(b + 12, 4);
		v->dst4 = be(b + 16, 4);
		thoff = (size_t)(b[0] & 0xf) * 4;
		found = true;
	} else if (nib == 6 && svc->recv6 && len >= 40) {
		v->ver = 6;
		v->src6 = be128(b + 8);
		v->dst6 = be128(b + 24);
		found = ipv6_thoff(b, len, svc->proto, &thoff);
	}
	if (found && thoff + 2 <= len) {
		v->has_port = true;
		v->sport = (uint16_t)be(b + thoff, 2);
	}
	return 0;
}

/* The spreading hash of sksteer.conf(5), SEMANTICS; kept separate from
 * sk_flow_hash() on purpose (the tests compare the two). */
static uint32_t spread_hash(const struct view *v)
{
	uint32_t h = v->has_port ? v->sport : 0, w[4];
	int i, n = 0;

	if (v->ver == 4) {
		w[0] = v->src4;
		n = 1;
	} else if (v->ver == 6) {
		for (i = 0; i < 4; i++)
			w[i] = (uint32_t)(v->src6 >> (96 - 32 * i));
		n = 4;
	}
	for (i = 0; i < n; i++)
		h = (h ^ w[i]) * 0x9e3779b1u;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return h;
}

/* Index of the range holding @a, or -1. */
static long find4(const struct sk_addrset *s, uint32_t a)
{
	size_t lo = 0, hi = s->n4;

	/* first range whose hi is >= a */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->v4[mid].hi < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n4 && s->v4[lo].lo <= a ? (long)lo : -1;
}

static long find6(const struct sk_addrset *s, sk_u128 a)
{
	size_t lo = 0, hi = s->n6;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->v6[mid].hi < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n6 && s->v6[lo].lo <= a ? (long)lo : -1;
}

static long addr_find(const struct sk_addrset *s, const struct view *v,
		      bool dst)
{
	if (v->ver == 4)
		return find4(s, dst ? v->dst4 : v->src4);
	if (v->ver == 6)
		return find6(s, dst ? v->dst6 : v->src6);
	return -1;
}

static bool sport_ok(const struct sk_rule *r, const struct view *v)
{
	return v->has_port && v->sport >= r->sport_lo &&
	       v->sport <= r->sport_hi;
}

/* Payload bytes at @off, or false when the payload is too short. */
static bool pay_read(const struct view *v, uint32_t off, int width,
		     uint32_t *val)
{
	if ((uint64_t)off + (uint64_t)width > v->plen)
		return false;
	*val = be(v->pay + off, width);
	return true;
}

static bool cmp_ok(enum sk_cmp c, uint32_t a, uint32_t b)
{
	switch (c) {
	case SK_CMP_EQ:
		return a == b;
	case SK_CMP_NE:
		return a != b;
	case SK_CMP_LT:
		return a < b;
	case SK_CMP_LE:
		return a <= b;
	case SK_CMP_GT:
		return a > b;
	case SK_CMP_GE:
		return a >= b;
	}
	return false;
}

static bool paytest_ok(const struct sk_paytest *t, const struct view *v,
		       uint32_t *val)
{
	if (!pay_read(v, t->off, t->width, val))
		return false;
	if (t->has_mask)
		*val &= t->mask;
	return cmp_ok(t->cmp, *val, t->value);
}

/* Does rule @r match; *key receives the by-payload key when it has one. */
static bool rule_ok(const struct sk_rule *r, const struct view *v,
		    uint32_t *key)
{
	uint32_t val;
	size_t i;

	if (r->has_from && addr_find(&r->from, v, false) < 0)
		return false;
	if (r->has_to && addr_find(&r->to, v, true) < 0)
		return false;
	if (r->has_sport && !sport_ok(r, v))
		return false;
	for (i = 0; i < r->npay; i++)
		if (!paytest_ok(&r->pay[i], v, &val))
			return false;
	if (r->target.kind == SKSTEER_TARGET_POOL && r->target.by_payload &&
	    !pay_read(v, r->target.key_off, r->target.key_width, key))
		return false;
	return true;
}

/*
 * Follow @t to a socket: a pool with open sockets takes key mod n (the
 * payload key only for the rule's own pool; a fallback pool always uses
 * the hash), an empty pool hands over to its fallback.
 */
static int resolve(const struct sksteer_service *svc,
		   const struct sk_layout *layout, struct sk_target t,
		   bool use_key, uint32_t key, uint32_t h, struct sk_match *out)
{
	size_t hops;

	for (hops = 0; hops <= svc->npools; hops++) {
		const struct sk_layout_pool *lp;

		out->target = t;
		out->pool_index = -1;
		if (t.kind != SKSTEER_TARGET_POOL) {
			out->target.pool = -1;
			out->target.by_payload = false;
			return 0;
		}
		if (t.pool < 0 || (size_t)t.pool >= svc->npools)
			return -EINVAL;
		lp = &layout->pools[t.pool];
		if (lp->n) {
			out->pool_index =
				(int)((use_key && t.by_payload ? key : h) %
				      lp->n);
			return 0;
		}
		t = svc->pools[t.pool].fallback;
		t.by_payload = false;
		use_key = false;
	}
	/* the parser refuses fallback cycles */
	return -ELOOP;
}

int sk_match(const struct sksteer_service *svc, const struct sk_layout *layout,
	     const struct sk_pkt *pkt, struct sk_match *out)
{
	struct view v;
	uint32_t key = 0;
	size_t i;
	int err;

	if (!svc || !layout || !pkt || !out || layout->npools != svc->npools)
		return -EINVAL;
	err = view_pkt(svc, pkt, &v);
	if (err)
		return err;
	for (i = 0; i < svc->nrules; i++) {
		if (rule_ok(&svc->rules[i], &v, &key)) {
			out->rule = (int)i;
			return resolve(svc, layout, svc->rules[i].target, true,
				       key, spread_hash(&v), out);
		}
	}
	out->rule = -1;
	return resolve(svc, layout, svc->deflt, false, 0, spread_hash(&v), out);
}

/* ---- explaining one rule, condition by condition ---- */

static int popcount128(sk_u128 x)
{
	return __builtin_popcountll((uint64_t)x) +
	       __builtin_popcountll((uint64_t)(x >> 64));
}

/* A range as a prefix when it is exactly one, else as lo-hi. */
static void range4_fmt(const struct sk_range4 *r, char *buf, size_t sz)
{
	uint32_t span = r->hi - r->lo;
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

	sk_addr4_fmt(r->lo, a, sizeof(a));
	if (!(span & (span + 1)) && !(r->lo & span)) {
		snprintf(buf, sz, "%s/%d", a, 32 - __builtin_popcount(span));
		return;
	}
	sk_addr4_fmt(r->hi, b, sizeof(b));
	snprintf(buf, sz, "%s-%s", a, b);
}

static void range6_fmt(const struct sk_range6 *r, char *buf, size_t sz)
{
	sk_u128 span = r->hi - r->lo;
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

	sk_addr6_fmt(r->lo, a, sizeof(a));
	if (!(span & (span + 1)) && !(r->lo & span)) {
		snprintf(buf, sz, "%s/%d", a, 128 - popcount128(span));
		return;
	}
	sk_addr6_fmt(r->hi, b, sizeof(b));
	snprintf(buf, sz, "%s-%s", a, b);
}

static const char *family_name(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

static bool eval_addr(const struct sksteer_service *svc,
		      const struct sk_addrset *s, const struct view *v,
		      bool dst, int family, char *d, size_t dsz)
{
	char a[INET6_ADDRSTRLEN], r[2 * INET6_ADDRSTRLEN + 8];
	long i;

	if (!v->ver) {
		snprintf(d, dsz,
			 "service '%s' does not receive %s packets: no %s "
			 "address to match",
			 svc->name, family_name(family),
			 dst ? "destination" : "source");
		return false;
	}
	if (v->ver == 4)
		sk_addr4_fmt(dst ? v->dst4 : v->src4, a, sizeof(a));
	else
		sk_addr6_fmt(dst ? v->dst6 : v->src6, a, sizeof(a));
	if ((v->ver == 4 && !s->n4) || (v->ver == 6 && !s->n6)) {
		snprintf(d, dsz, "%s: the list has no %s prefix", a,
			 v->ver == 4 ? "IPv4" : "IPv6");
		return false;
	}
	i = addr_find(s, v, dst);
	if (i < 0) {
		snprintf(d, dsz, "%s is not in any %s prefix of the list", a,
			 v->ver == 4 ? "IPv4" : "IPv6");
		return false;
	}
	if (v->ver == 4)
		range4_fmt(&s->v4[i], r, sizeof(r));
	else
		range6_fmt(&s->v6[i], r, sizeof(r));
	snprintf(d, dsz, "%s is in %s", a, r);
	return true;
}

static bool eval_sport(const struct sksteer_service *svc,
		       const struct sk_rule *r, const struct view *v,
		       int family, char *d, size_t dsz)
{
	char range[16];
	bool ok = sport_ok(r, v);

	if (!v->ver) {
		snprintf(d, dsz,
			 "service '%s' does not receive %s packets: no source "
			 "port to match",
			 svc->name, family_name(family));
		return false;
	}
	if (!v->has_port) {
		snprintf(d, dsz, "no source port (transport header not found)");
		return false;
	}
	if (r->sport_lo == r->sport_hi) {
		snprintf(d, dsz, "source port %u is %s%u", v->sport,
			 ok ? "" : "not ", r->sport_lo);
		return ok;
	}
	snprintf(range, sizeof(range), "%u-%u", r->sport_lo, r->sport_hi);
	snprintf(d, dsz, "source port %u is %sin %s", v->sport,
		 ok ? "" : "not ", range);
	return ok;
}

static const char *const cmp_names[] = {
	[SK_CMP_EQ] = "==", [SK_CMP_NE] = "!=", [SK_CMP_LT] = "<",
	[SK_CMP_LE] = "<=", [SK_CMP_GT] = ">",	[SK_CMP_GE] = ">=",
};

/* "payload[4]" for a byte, "payload[4] u16" for wider reads */
static void pay_where(uint32_t off, int width, char *buf, size_t sz)
{
	if (width == 1)
		snprintf(buf, sz, "payload[%u]", off);
	else
		snprintf(buf, sz, "payload[%u] u%d", off, width * 8);
}

static bool pay_short(const struct view *v, uint32_t off, int width,
		      const char *what, char *d, size_t dsz)
{
	uint64_t need = (uint64_t)off + (uint64_t)width;

	if (need <= v->plen)
		return false;
	snprintf(d, dsz, "payload has %zu byte%s, the %s needs %llu", v->plen,
		 v->plen == 1 ? "" : "s", what, (unsigned long long)need);
	return true;
}

static bool eval_paytest(const struct sk_paytest *t, const struct view *v,
			 char *d, size_t dsz)
{
	char where[32], mask[24] = "";
	uint32_t val;
	bool ok;

	if (pay_short(v, t->off, t->width, "test", d, dsz))
		return false;
	ok = paytest_ok(t, v, &val);
	pay_where(t->off, t->width, where, sizeof(where));
	if (t->has_mask)
		snprintf(mask, sizeof(mask), " & %#x", t->mask);
	if (ok)
		snprintf(d, dsz, "%s%s = %u %s %u", where, mask, val,
			 cmp_names[t->cmp], t->value);
	else
		snprintf(d, dsz, "%s%s = %u, not %s %u", where, mask, val,
			 cmp_names[t->cmp], t->value);
	return ok;
}

static bool eval_key(const struct sksteer_service *svc,
		     const struct sk_target *t, const struct view *v, char *d,
		     size_t dsz)
{
	const struct sksteer_pool *pool = &svc->pools[t->pool];
	char where[32];
	uint32_t key;

	if (pay_short(v, t->key_off, t->key_width, "key", d, dsz))
		return false;
	pay_read(v, t->key_off, t->key_width, &key);
	pay_where(t->key_off, t->key_width, where, sizeof(where));
	snprintf(d, dsz, "key %s = %u: socket %u of pool '%s' (%u mod %u)",
		 where, key, key % pool->size, pool->name, key, pool->size);
	return true;
}

/*
 * The conditions of @r in the order they were written, recovered from the
 * rule's text (conditions are keywords that no argument can spell: an
 * address list holds prefixes and @sets, payload tests numbers and
 * operators). A text clipped for length may lose the tail; what it lost
 * is appended in the canonical order.
 */
static size_t cond_order(const struct sk_rule *r, enum sksteer_cond_kind *out,
			 size_t *pay_idx)
{
	bool seen_from = false, seen_to = false, seen_sport = false;
	size_t n = 0, npay = 0, i;
	const char *s = r->text ? r->text : "";

	while (*s) {
		size_t len;

		while (*s == ' ')
			s++;
		len = strcspn(s, " ");
		if (len == 4 && !strncmp(s, "from", 4) && r->has_from &&
		    !seen_from) {
			seen_from = true;
			out[n++] = SKSTEER_COND_FROM;
		} else if (len == 2 && !strncmp(s, "to", 2) && r->has_to &&
			   !seen_to) {
			seen_to = true;
			out[n++] = SKSTEER_COND_TO;
		} else if (len == 5 && !strncmp(s, "sport", 5) &&
			   r->has_sport && !seen_sport) {
			seen_sport = true;
			out[n++] = SKSTEER_COND_SPORT;
		} else if (len == 7 && !strncmp(s, "payload", 7) &&
			   npay < r->npay) {
			pay_idx[n] = npay++;
			out[n++] = SKSTEER_COND_PAYLOAD;
		} else if ((len == 4 && !strncmp(s, "pool", 4)) ||
			   (len == 4 && !strncmp(s, "hash", 4)) ||
			   (len == 4 && !strncmp(s, "drop", 4))) {
			break; /* the target: no more conditions */
		}
		s += len;
	}
	if (r->has_from && !seen_from)
		out[n++] = SKSTEER_COND_FROM;
	if (r->has_to && !seen_to)
		out[n++] = SKSTEER_COND_TO;
	if (r->has_sport && !seen_sport)
		out[n++] = SKSTEER_COND_SPORT;
	for (i = npay; i < r->npay; i++) {
		pay_idx[n] = i;
		out[n++] = SKSTEER_COND_PAYLOAD;
	}
	if (r->target.kind == SKSTEER_TARGET_POOL && r->target.by_payload)
		out[n++] = SKSTEER_COND_KEY;
	return n;
}

int sksteer_service__eval_rule(const struct sksteer_service *svc, size_t idx,
			       const struct sksteer_flow *flow,
			       struct sksteer_cond_eval *evals, size_t max)
{
	enum sksteer_cond_kind *kinds = NULL;
	const struct sk_rule *r;
	size_t *pay_idx = NULL, ncond, i;
	struct sk_pkt pkt;
	struct view v;
	uint8_t *buf;
	size_t size;
	int err;

	if (!svc || !flow || (!evals && max) || !OPTS_VALID(flow, sksteer_flow))
		return -EINVAL;
	if (idx >= svc->nrules)
		return -ENOENT;
	r = &svc->rules[idx];
	buf = sk_pkt_alloc(flow, &size, &err);
	if (!buf)
		return err;
	err = sk_pkt_build(flow, svc->proto, buf, size, &pkt);
	if (err < 0)
		goto err_free_buf;
	err = view_pkt(svc, &pkt, &v);
	if (err)
		goto err_free_buf;
	ncond = 4 + r->npay;
	kinds = calloc(ncond, sizeof(*kinds));
	pay_idx = calloc(ncond, sizeof(*pay_idx));
	if (!kinds || !pay_idx) {
		err = -ENOMEM;
		goto err_free_order;
	}
	ncond = cond_order(r, kinds, pay_idx);
	for (i = 0; i < ncond && i < max; i++) {
		struct sksteer_cond_eval *e = &evals[i];
		char *d = e->detail;
		size_t dsz = sizeof(e->detail);

		e->kind = kinds[i];
		switch (kinds[i]) {
		case SKSTEER_COND_FROM:
			e->match = eval_addr(svc, &r->from, &v, false,
					     flow->family, d, dsz);
			break;
		case SKSTEER_COND_TO:
			e->match = eval_addr(svc, &r->to, &v, true,
					     flow->family, d, dsz);
			break;
		case SKSTEER_COND_SPORT:
			e->match = eval_sport(svc, r, &v, flow->family, d, dsz);
			break;
		case SKSTEER_COND_PAYLOAD:
			e->match =
				eval_paytest(&r->pay[pay_idx[i]], &v, d, dsz);
			break;
		case SKSTEER_COND_KEY:
			e->match = eval_key(svc, &r->target, &v, d, dsz);
			break;
		}
	}
	err = (int)ncond;
err_free_order:
	free(kinds);
	free(pay_idx);
err_free_buf:
	free(buf);
	return err;
}
