// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What `sksteer check` finds beyond a configuration that parses:
 *  - pool options the kernel would refuse when `run` creates the group
 *    (sksteer_pool__probe_options: the very code the group uses, on a
 *    throwaway socket), and
 *  - rules that can never decide anything, and a default that sends
 *    unmatched traffic out of random uplinks (sksteer_service__lint).
 *
 * The rule analysis works on the sorted, merged ranges of src/addrset.c:
 * "every address of B is in A" is one linear merge of the two range
 * lists, so large prefix sets cost their length, never a product.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <sys/socket.h>

#include "sockopt.h"

int sksteer_pool__probe_options(const struct sksteer_service *svc,
				const struct sksteer_pool *pool)
{
	int type = svc && svc->proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;
	struct sk_sock_ctx c = { .svc = svc, .pool = pool, .idx = 0 };
	int err;

	if (!svc || !pool || pool->svc != svc)
		return -EINVAL;
	/* unbound and without SO_REUSEPORT: it joins no group and takes no
	 * traffic, whatever the options do */
	c.fd = socket(svc->addr.ss_family, type | SOCK_CLOEXEC, svc->proto);
	if (c.fd < 0) {
		err = -errno;
		ctx_warn(&c, "creating a test socket: %s\n", strerror(-err));
		return err;
	}
	/* a group's IPv6 sockets get IPV6_V6ONLY before their options, and
	 * IPv4 options on a dual-stack socket depend on it */
	err = 0;
	if (svc->addr.ss_family == AF_INET6)
		err = sk_setopt_int(&c, IPPROTO_IPV6, IPV6_V6ONLY, svc->v6only,
				    svc->v6only ? "IPV6_V6ONLY 1" :
						  "IPV6_V6ONLY 0");
	if (!err)
		err = sk_sock_apply_opts(&c);
	close(c.fd);
	return err;
}

/* ---- containment of address sets ---- */

/*
 * Is every address of @b, clipped to [@clo, @chi], in @a? Both lists are
 * sorted and merged (disjoint, non-adjacent), so a range of @b is covered
 * only by a single range of @a, and neither index ever goes back.
 */
#define DEFINE_SUBSET(NAME, RANGE, T)                                    \
	static bool NAME(const struct RANGE *b, size_t nb,               \
			 const struct RANGE *a, size_t na, T clo, T chi) \
	{                                                                \
		size_t i, j = 0;                                         \
                                                                         \
		for (i = 0; i < nb; i++) {                               \
			T lo = b[i].lo > clo ? b[i].lo : clo;            \
			T hi = b[i].hi < chi ? b[i].hi : chi;            \
                                                                         \
			if (lo > hi)                                     \
				continue;                                \
			while (j < na && a[j].hi < lo)                   \
				j++;                                     \
			if (j == na || a[j].lo > lo || a[j].hi < hi)     \
				return false;                            \
		}                                                        \
		return true;                                             \
	}
DEFINE_SUBSET(subset4, sk_range4, uint32_t)
DEFINE_SUBSET(subset6, sk_range6, sk_u128)

/* Does @s have an address in [@clo, @chi]? (linear, for one rule) */
#define DEFINE_MEETS(NAME, RANGE, T)                                    \
	static bool NAME(const struct RANGE *s, size_t n, T clo, T chi) \
	{                                                               \
		size_t i;                                               \
                                                                        \
		for (i = 0; i < n && s[i].lo <= chi; i++)               \
			if (s[i].hi >= clo)                             \
				return true;                            \
		return false;                                           \
	}
DEFINE_MEETS(meets4, sk_range4, uint32_t)
DEFINE_MEETS(meets6, sk_range6, sk_u128)

/*
 * The addresses a condition can see, per IP version: sources are
 * anything, but a listener bound to one address receives packets to that
 * address only.
 */
struct clip {
	bool v4, v6; /* the service receives this version */
	uint32_t from4_lo, from4_hi, to4_lo, to4_hi;
	sk_u128 from6_lo, from6_hi, to6_lo, to6_hi;
	bool bound; /* a specific listen address */
};

static void clip_init(const struct sksteer_service *svc, struct clip *c)
{
	memset(c, 0, sizeof(*c));
	c->v4 = svc->recv4;
	c->v6 = svc->recv6;
	c->from4_hi = c->to4_hi = UINT32_MAX;
	c->from6_hi = c->to6_hi = ~(sk_u128)0;
	if (svc->addr.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&svc->addr;

		if (in->sin_addr.s_addr != htonl(INADDR_ANY)) {
			c->bound = true;
			c->to4_lo = c->to4_hi = ntohl(in->sin_addr.s_addr);
		}
	} else {
		const struct sockaddr_in6 *in6 = (const void *)&svc->addr;

		if (!IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr)) {
			c->bound = true;
			c->to6_lo = c->to6_hi = sk_in6_to_u128(&in6->sin6_addr);
		}
	}
}

/* Can rule @r match a packet of IPv4 (@v6 false) or IPv6? */
static bool rule_sees(const struct sk_rule *r, const struct clip *c, bool v6)
{
	if (!v6)
		return c->v4 &&
		       (!r->has_from || meets4(r->from.v4, r->from.n4,
					       c->from4_lo, c->from4_hi)) &&
		       (!r->has_to ||
			meets4(r->to.v4, r->to.n4, c->to4_lo, c->to4_hi));
	return c->v6 &&
	       (!r->has_from ||
		meets6(r->from.v6, r->from.n6, c->from6_lo, c->from6_hi)) &&
	       (!r->has_to || meets6(r->to.v6, r->to.n6, c->to6_lo, c->to6_hi));
}

/* Every address @b's condition admits (unset: all the clip) is in @a's. */
static bool cond_covers(bool a_has, const struct sk_addrset *a, bool b_has,
			const struct sk_addrset *b, bool v6, uint32_t lo4,
			uint32_t hi4, sk_u128 lo6, sk_u128 hi6)
{
	struct sk_range4 all4 = { lo4, hi4 };
	struct sk_range6 all6 = { lo6, hi6 };

	if (!a_has)
		return true;
	if (!v6)
		return b_has ? subset4(b->v4, b->n4, a->v4, a->n4, lo4, hi4) :
			       subset4(&all4, 1, a->v4, a->n4, lo4, hi4);
	return b_has ? subset6(b->v6, b->n6, a->v6, a->n6, lo6, hi6) :
		       subset6(&all6, 1, a->v6, a->n6, lo6, hi6);
}

static bool paytest_eq(const struct sk_paytest *x, const struct sk_paytest *y)
{
	return x->off == y->off && x->width == y->width &&
	       x->has_mask == y->has_mask &&
	       (!x->has_mask || x->mask == y->mask) && x->cmp == y->cmp &&
	       x->value == y->value;
}

/* The payload length below which rule @r cannot match (0: none). */
static uint64_t payload_needed(const struct sk_rule *r)
{
	uint64_t need = 0, end;
	size_t i;

	for (i = 0; i < r->npay; i++) {
		end = (uint64_t)r->pay[i].off + r->pay[i].width;
		if (end > need)
			need = end;
	}
	if (r->target.by_payload) {
		end = (uint64_t)r->target.key_off + r->target.key_width;
		if (end > need)
			need = end;
	}
	return need;
}

/*
 * Does @a match every packet @b matches? Conditions are ANDed, so @a must
 * ask no more than @b of each: a wider (or no) address list and port
 * range, and only payload tests that @b makes too. A "by payload" target
 * is a condition as well (a packet too short for the key falls through),
 * so @a's key must lie within the payload @b already requires.
 */
static bool rule_covers(const struct sk_rule *a, const struct sk_rule *b,
			const struct clip *c)
{
	size_t i, j;
	int v;

	if (a->has_sport && (!b->has_sport || a->sport_lo > b->sport_lo ||
			     a->sport_hi < b->sport_hi))
		return false;
	for (i = 0; i < a->npay; i++) {
		for (j = 0; j < b->npay && !paytest_eq(&a->pay[i], &b->pay[j]);
		     j++)
			;
		if (j == b->npay)
			return false;
	}
	if (a->target.by_payload && payload_needed(b) < payload_needed(a))
		return false;
	for (v = 0; v < 2; v++) {
		if (!rule_sees(b, c, v))
			continue;
		if (!cond_covers(a->has_from, &a->from, b->has_from, &b->from,
				 v, c->from4_lo, c->from4_hi, c->from6_lo,
				 c->from6_hi) ||
		    !cond_covers(a->has_to, &a->to, b->has_to, &b->to, v,
				 c->to4_lo, c->to4_hi, c->to6_lo, c->to6_hi))
			return false;
	}
	return true;
}

/* ---- findings ---- */

/* The rule as check lists it: its text without the keyword. */
static const char *body(const struct sk_rule *r)
{
	return strncmp(r->text, "rule ", 5) ? r->text : r->text + 5;
}

struct findings {
	struct sksteer_lint *out;
	size_t max, n;
};

static void add(struct findings *f, enum sksteer_lint_kind kind, int rule,
		int by_rule, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void add(struct findings *f, enum sksteer_lint_kind kind, int rule,
		int by_rule, const char *fmt, ...)
{
	struct sksteer_lint *l;
	va_list ap;

	if (f->n < f->max) {
		l = &f->out[f->n];
		memset(l, 0, sizeof(*l));
		l->kind = kind;
		l->rule = rule;
		l->by_rule = by_rule;
		va_start(ap, fmt);
		vsnprintf(l->text, sizeof(l->text), fmt, ap);
		va_end(ap);
	}
	f->n++;
}

/* The listen address without its port, for messages. */
static void listen_host(const struct sksteer_service *svc, char *buf, size_t sz)
{
	if (svc->addr.ss_family == AF_INET)
		sk_addr4_fmt(ntohl(((const struct sockaddr_in *)&svc->addr)
					   ->sin_addr.s_addr),
			     buf, sz);
	else
		sk_addr6_fmt(sk_in6_to_u128(
				     &((const struct sockaddr_in6 *)&svc->addr)
					      ->sin6_addr),
			     buf, sz);
}

/*
 * A rule that no packet the service receives can match. The parser has
 * already warned about a from or to list with no prefix of a version the
 * service receives; what is left is a `to` that misses a specifically
 * bound listener, or from and to lists of different versions.
 */
static bool lint_never(const struct sksteer_service *svc, size_t i,
		       const struct clip *c, struct findings *f)
{
	const struct sk_rule *r = &svc->rules[i];
	char host[64];

	if (rule_sees(r, c, false) || rule_sees(r, c, true))
		return true;
	if (r->has_to && c->bound) {
		listen_host(svc, host, sizeof(host));
		add(f, SKSTEER_LINT_NEVER_MATCHES, (int)i, -1,
		    "rule %zu (%s) never matches: the service listens on %s "
		    "only, so every packet it receives is to %s, which its "
		    "'to' does not list",
		    i + 1, body(r), host, host);
	} else if (r->has_from && r->has_to) {
		add(f, SKSTEER_LINT_NEVER_MATCHES, (int)i, -1,
		    "rule %zu (%s) never matches: its 'from' and 'to' share "
		    "no IP version that the service receives",
		    i + 1, body(r));
	}
	/* else: the parser's warning said it */
	return false;
}

/* `default hash` beside marked pools: unmatched traffic takes any uplink */
static void lint_default(const struct sksteer_service *svc, struct findings *f)
{
	char names[256] = "";
	size_t i, len = 0, nmarked = 0;

	if (svc->deflt.kind != SKSTEER_TARGET_HASH)
		return;
	for (i = 0; i < svc->npools; i++) {
		if (!svc->pools[i].opts.has_mark)
			continue;
		if (len < sizeof(names))
			len += (size_t)snprintf(
				names + len, sizeof(names) - len, "%s'%s'",
				nmarked ? ", " : "", svc->pools[i].name);
		nmarked++;
	}
	if (!nmarked)
		return;
	add(f, SKSTEER_LINT_HASH_MARKS, -1, -1,
	    "default hash: traffic that matches no rule is spread over every "
	    "socket of the group, so some of it leaves with the mark of "
	    "pool%s %s (through %s uplink%s) at random; send it to one pool "
	    "with 'default pool NAME'",
	    nmarked == 1 ? "" : "s", names, nmarked == 1 ? "its" : "their",
	    nmarked == 1 ? "" : "s");
}

int sksteer_service__lint(const struct sksteer_service *svc,
			  struct sksteer_lint *out, size_t max)
{
	struct findings f = { .out = out, .max = out ? max : 0 };
	struct clip c;
	size_t i, j;
	bool *live;

	if (!svc)
		return -EINVAL;
	live = calloc(svc->nrules ? svc->nrules : 1, sizeof(*live));
	if (!live)
		return -ENOMEM;
	clip_init(svc, &c);
	for (i = 0; i < svc->nrules; i++) {
		live[i] = lint_never(svc, i, &c, &f);
		if (!live[i])
			continue;
		/* the first earlier rule that takes all its packets; a rule
		 * that matches nothing takes nothing */
		for (j = 0; j < i; j++) {
			if (!live[j] ||
			    !rule_covers(&svc->rules[j], &svc->rules[i], &c))
				continue;
			add(&f, SKSTEER_LINT_SHADOWED, (int)i, (int)j,
			    "rule %zu (%s) never matches: rule %zu (%s) "
			    "matches every packet it would",
			    i + 1, body(&svc->rules[i]), j + 1,
			    body(&svc->rules[j]));
			break;
		}
	}
	free(live);
	lint_default(svc, &f);
	return f.n > INT32_MAX ? INT32_MAX : (int)f.n;
}
