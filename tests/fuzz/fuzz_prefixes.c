// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Prefix files. The input is the file. A model of the list format (a
 * BOM, '#' and ';' comments, a prefix or an A-B range a line) feeds the
 * builder, and the result must be sorted, disjoint and non-adjacent, and
 * hold exactly the addresses of the lines (checked naively on every
 * edge), counted as the CIDR blocks they take. The same bytes as a set
 * file must then parse exactly when every line is valid and one item is
 * there, into the same ranges; as a lenient set whenever one item is
 * there, with the bad lines counted; and as an RIR file without crashing.
 * Formatting a parsed prefix and parsing it again gives it back.
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

/* what a line of the file holds, as the model reads it */
struct item {
	int family;
	sk_u128 lo, hi;
};

static bool naive_has(const struct item *p, size_t n, int family, sk_u128 a)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i].family == family && a >= p[i].lo && a <= p[i].hi)
			return true;
	return false;
}

/* CIDR blocks of [lo, hi]: from lo, the largest block aligned there
 * that stays within hi, then the next */
static size_t naive_blocks(int bits, sk_u128 lo, sk_u128 hi)
{
	size_t n = 0;

	for (;;) {
		sk_u128 size = 1;

		while (size < ((sk_u128)1 << (bits - 1)) && !(lo & size) &&
		       lo + size * 2 - 1 <= hi)
			size *= 2;
		/* the whole space, or half of it, from 0 */
		if (bits == 128 && size == ((sk_u128)1 << 127) && lo == 0 &&
		    hi == ~(sk_u128)0)
			return n + 1;
		if (bits == 32 && size == ((sk_u128)1 << 31) && lo == 0 &&
		    hi == UINT32_MAX)
			return n + 1;
		n++;
		if (lo + size - 1 == hi)
			return n;
		lo += size;
	}
}

static void check_sorted(const struct sk_addrset *s)
{
	size_t i;

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
}

static void check_set(const struct sk_addrset *s, const struct item *p,
		      size_t n)
{
	size_t i, j;

	check_sorted(s);
	/* membership on every edge of every prefix and range */
	for (i = 0; i < n; i++) {
		sk_u128 probe[4] = { p[i].lo - 1, p[i].lo, p[i].hi,
				     p[i].hi + 1 };

		for (j = 0; j < 4; j++) {
			if (p[i].family == AF_INET) {
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

static bool has_blank(const uint8_t *d, size_t s, size_t e)
{
	for (; s < e; s++)
		if (isspace(d[s]))
			return true;
	return false;
}

static size_t trim(const uint8_t *d, size_t *s, size_t e)
{
	while (*s < e && isspace(d[*s]))
		(*s)++;
	while (e > *s && isspace(d[e - 1]))
		e--;
	return e;
}

/* One end of a range: an address alone. */
static bool range_end(const uint8_t *d, size_t s, size_t e, int *family,
		      sk_u128 *a)
{
	char why[256];

	e = trim(d, &s, e);
	if (s == e || has_blank(d, s, e) || memchr(d + s, '/', e - s))
		return false;
	return !sk_addr_parse((const char *)d + s, e - s, family, a, why,
			      sizeof(why), false);
}

/* The list format, independently: 1 item, 0 nothing, -1 bad. */
static int model_line(const uint8_t *d, size_t s, size_t eol, struct item *it)
{
	const uint8_t *dash;
	struct sk_prefix pf;
	size_t e = eol, t;
	char why[256];
	int off, f2;

	if (memchr(d + s, 0, eol - s))
		return -1;
	for (t = s; t < eol; t++)
		if (d[t] == '#' || d[t] == ';') {
			e = t;
			break;
		}
	e = trim(d, &s, e);
	if (s == e)
		return 0;
	dash = memchr(d + s, '-', e - s);
	if (dash) {
		if (!range_end(d, s, (size_t)(dash - d), &it->family,
			       &it->lo) ||
		    !range_end(d, (size_t)(dash - d) + 1, e, &f2, &it->hi) ||
		    f2 != it->family || it->lo > it->hi)
			return -1;
		return 1;
	}
	if (has_blank(d, s, e) ||
	    sk_prefix_parse((const char *)d + s, e - s, &pf, why, sizeof(why),
			    &off, false))
		return -1;
	CHECK(off >= 0 && (size_t)off <= e - s);
	roundtrip(&pf);
	it->family = pf.family;
	it->lo = pf.addr;
	it->hi = pf.addr | span(pf.family == AF_INET ? 32 : 128, pf.len);
	return 1;
}

static const struct sk_set *set_of(const struct sksteer_config *cfg,
				   const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nsets; i++)
		if (!strcmp(cfg->sets[i]->name, name))
			return cfg->sets[i];
	CHECK(0);
	return NULL;
}

static bool same(const struct sk_addrset *a, const struct sk_addrset *b)
{
	return a->n4 == b->n4 && a->n6 == b->n6 &&
	       (!a->n4 || !memcmp(a->v4, b->v4, a->n4 * sizeof(*a->v4))) &&
	       (!a->n6 || !memcmp(a->v6, b->v6, a->n6 * sizeof(*a->v6)));
}

static struct sksteer_config *parse_as(const char *opts)
{
	static const char conf[] =
		"set f file \"%s\" %s\nservice s {\nlisten udp [::]:53\n"
		"pool a 1\n}\n";
	char text[256];

	snprintf(text, sizeof(text), conf, path, opts);
	return sksteer_config__parse_string(text, strlen(text), "f.conf", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sk_addrset_builder b = {};
	struct sksteer_config *cfg;
	size_t n = 0, pos = 0, bad = 0, blocks = 0;
	struct sk_addrset set;
	struct item *it;
	FILE *f;

	if (size > 2048)
		return 0;
	it = calloc(size / 2 + 1, sizeof(*it));
	if (!it)
		return 0;
	/* a byte order mark is not part of the first line */
	if (size >= 3 && !memcmp(data, "\xef\xbb\xbf", 3))
		pos = 3;
	while (pos < size) {
		size_t eol = pos, s = pos;
		int rc;

		while (eol < size && data[eol] != '\n')
			eol++;
		pos = eol + 1;
		rc = model_line(data, s, eol, &it[n]);
		if (rc < 0)
			bad++;
		if (rc <= 0)
			continue;
		blocks += naive_blocks(it[n].family == AF_INET ? 32 : 128,
				       it[n].lo, it[n].hi);
		CHECK(!sk_asb_add_range(&b, it[n].family, it[n].lo, it[n].hi));
		n++;
	}
	CHECK(b.nprefixes == blocks);
	CHECK(!sk_asb_finish(&b, &set));
	check_set(&set, it, n);

	/* the same bytes as a prefix file: strict, lenient, and as an RIR
	 * file (which must never crash, and gives sorted ranges) */
	f = fopen(path, "w");
	CHECK(f && fwrite(data, 1, size, f) == size && !fclose(f));
	cfg = parse_as("");
	CHECK(!cfg == (bad || !n));
	if (cfg) {
		const struct sk_set *fs = set_of(cfg, "f");

		CHECK(fs->nprefixes == blocks && same(&fs->addrs, &set));
	}
	sksteer_config__free(cfg);
	cfg = parse_as("lenient");
	CHECK(!cfg == !n);
	if (cfg) {
		const struct sk_set *fs = set_of(cfg, "f");

		CHECK(fs->nskipped == bad && fs->nprefixes == blocks &&
		      same(&fs->addrs, &set));
	}
	sksteer_config__free(cfg);
	cfg = parse_as("format rir lenient");
	if (cfg)
		check_sorted(&set_of(cfg, "f")->addrs);
	sksteer_config__free(cfg);
	unlink(path);
	sk_addrset_free(&set);
	free(it);
	return 0;
}
