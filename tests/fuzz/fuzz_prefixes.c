// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Prefix files. The input is the file: each line goes through
 * sk_prefix_parse() and the builder, and the result must be sorted,
 * disjoint and non-adjacent, and hold exactly the addresses of the
 * prefixes (checked naively on every edge). The same bytes as a set file
 * must then parse exactly when every line is valid and one prefix is
 * there, into the same ranges. Formatting a parsed prefix and parsing it
 * again gives it back.
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;

	(void)argc;
	(void)argv;
	sksteer_set_print(NULL);
	/* tmpfs: a file rewritten per input must not hit the disk */
	snprintf(path, sizeof(path), "/dev/shm/sksteer-fuzz-prefixes-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		abort();
	close(fd);
	unlink(path);
	return 0;
}

#define CHECK(c)                                                           \
	do {                                                               \
		if (!(c)) {                                                \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, \
				#c);                                       \
			abort();                                           \
		}                                                          \
	} while (0)

static sk_u128 span(int bits, int len)
{
	int host = bits - len;

	if (host >= 128)
		return ~(sk_u128)0;
	return ((sk_u128)1 << host) - 1;
}

static bool naive_has(const struct sk_prefix *p, size_t n, int family,
		      sk_u128 a)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int bits = p[i].family == AF_INET ? 32 : 128;

		if (p[i].family == family && a >= p[i].addr &&
		    a <= (p[i].addr | span(bits, p[i].len)))
			return true;
	}
	return false;
}

static void check_set(const struct sk_addrset *s, const struct sk_prefix *p,
		      size_t n)
{
	size_t i, j;

	for (i = 0; i < s->n4; i++) {
		CHECK(s->v4[i].lo <= s->v4[i].hi);
		/* sorted, disjoint and not adjacent */
		if (i)
			CHECK(s->v4[i - 1].hi < UINT32_MAX &&
			      s->v4[i - 1].hi + 1 < s->v4[i].lo);
	}
	for (i = 0; i < s->n6; i++) {
		CHECK(s->v6[i].lo <= s->v6[i].hi);
		if (i)
			CHECK(s->v6[i - 1].hi != ~(sk_u128)0 &&
			      s->v6[i - 1].hi + 1 < s->v6[i].lo);
	}
	/* membership on every edge of every prefix and range */
	for (i = 0; i < n; i++) {
		int bits = p[i].family == AF_INET ? 32 : 128;
		sk_u128 lo = p[i].addr, hi = lo | span(bits, p[i].len);
		sk_u128 probe[4] = { lo - 1, lo, hi, hi + 1 };

		for (j = 0; j < 4; j++) {
			if (bits == 32) {
				uint32_t a = (uint32_t)probe[j];

				CHECK(sk_addrset_has4(s, a) ==
				      naive_has(p, n, AF_INET, a));
			} else {
				CHECK(sk_addrset_has6(s, probe[j]) ==
				      naive_has(p, n, AF_INET6, probe[j]));
			}
		}
	}
	for (i = 0; i < s->n4; i++) {
		uint32_t probe[4] = { s->v4[i].lo - 1, s->v4[i].lo, s->v4[i].hi,
				      s->v4[i].hi + 1 };

		for (j = 0; j < 4; j++)
			CHECK(sk_addrset_has4(s, probe[j]) ==
			      naive_has(p, n, AF_INET, probe[j]));
	}
	for (i = 0; i < s->n6; i++) {
		sk_u128 probe[4] = { s->v6[i].lo - 1, s->v6[i].lo, s->v6[i].hi,
				     s->v6[i].hi + 1 };

		for (j = 0; j < 4; j++)
			CHECK(sk_addrset_has6(s, probe[j]) ==
			      naive_has(p, n, AF_INET6, probe[j]));
	}
}

static void roundtrip(const struct sk_prefix *p)
{
	struct sk_prefix q;
	char buf[64], why[256];
	int off;

	sk_prefix_fmt(p, buf, sizeof(buf));
	CHECK(!sk_prefix_parse(buf, strlen(buf), &q, why, sizeof(why), &off,
			       true));
	CHECK(q.family == p->family && q.addr == p->addr && q.len == p->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char conf[] =
		"service s {\nlisten udp [::]:53\npool a 1\n"
		"set f file \"%s\"\nrule from @f pool a\n}\n";
	struct sk_addrset_builder b = {};
	struct sk_prefix *pfx = NULL;
	struct sksteer_config *cfg;
	struct sk_addrset set;
	size_t n = 0, pos = 0;
	bool bad = false;
	char text[256];
	FILE *f;

	if (size > 2048)
		return 0;
	pfx = calloc(size / 2 + 1, sizeof(*pfx));
	if (!pfx)
		return 0;
	/* the file format, independently: '#' to the end of the line is a
	 * comment, blanks around, one prefix per line */
	while (pos < size) {
		size_t eol = pos, s, e, t;
		char why[256];
		int off;

		while (eol < size && data[eol] != '\n')
			eol++;
		e = eol;
		for (t = pos; t < eol; t++)
			if (data[t] == '#') {
				e = t;
				break;
			}
		s = pos;
		pos = eol + 1;
		while (s < e && isspace(data[s]))
			s++;
		while (e > s && isspace(data[e - 1]))
			e--;
		if (s == e)
			continue;
		for (t = s; t < e; t++)
			if (isspace(data[t]) || !data[t])
				break;
		if (t < e ||
		    sk_prefix_parse((const char *)data + s, e - s, &pfx[n], why,
				    sizeof(why), &off, false)) {
			bad = true;
			continue;
		}
		CHECK(off >= 0 && (size_t)off <= e - s);
		roundtrip(&pfx[n]);
		CHECK(!sk_asb_add_prefix(&b, &pfx[n]));
		n++;
	}
	CHECK(b.nprefixes == n);
	CHECK(!sk_asb_finish(&b, &set));
	check_set(&set, pfx, n);

	/* the same bytes as a prefix file */
	f = fopen(path, "w");
	CHECK(f && fwrite(data, 1, size, f) == size && !fclose(f));
	snprintf(text, sizeof(text), conf, path);
	cfg = sksteer_config__parse_string(text, strlen(text), "f.conf", NULL);
	unlink(path);
	CHECK(!cfg == (bad || !n));
	if (cfg) {
		const struct sk_rule *r = &cfg->services[0].rules[0];

		CHECK(cfg->services[0].sets[0]->nprefixes == n);
		CHECK(r->from.n4 == set.n4 && r->from.n6 == set.n6);
		CHECK(!set.n4 ||
		      !memcmp(r->from.v4, set.v4, set.n4 * sizeof(*set.v4)));
		CHECK(!set.n6 ||
		      !memcmp(r->from.v6, set.v6, set.n6 * sizeof(*set.v6)));
	}
	sksteer_config__free(cfg);
	sk_addrset_free(&set);
	free(pfx);
	return 0;
}
