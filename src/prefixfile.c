// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Files the parser reads: the configuration itself and prefix files.
 *
 * Prefix files come from wherever people get them: hand-written lists,
 * feeds (Spamhaus DROP puts "; SBL123" after each prefix), exports with
 * A-B ranges, Windows editors (a UTF-8 BOM, CRLF line ends), and the RIRs'
 * delegated files, whose IPv4 records give a start and an address count
 * that need not be a power of two. Everything becomes ranges of the
 * builder, which is what the backends search anyway, so a range or an odd
 * count is taken exactly, never rounded to prefixes.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prefixfile.h"

/*
 * A cap on configuration and prefix files: the largest real prefix
 * lists (a full BGP table is about a million prefixes, ~20 MB as text;
 * all five RIRs' delegated files together ~40 MB) fit, while /dev/zero or
 * a runaway generator fails fast instead of exhausting a supervisor's
 * memory on reload.
 */
#define SK_MAX_FILE_SIZE (64u << 20)

static const char *file_type(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory, not a regular file";
	if (S_ISFIFO(m))
		return "a FIFO, not a regular file";
	if (S_ISCHR(m))
		return "a character device, not a regular file";
	if (S_ISBLK(m))
		return "a block device, not a regular file";
	if (S_ISSOCK(m))
		return "a socket, not a regular file";
	return "not a regular file";
}

static char *read_fd(int fd, size_t hint, size_t *len, int *err)
{
	size_t cap = hint + 4097, n = 0;
	char *buf = malloc(cap);

	if (!buf) {
		*err = -ENOMEM;
		return NULL;
	}
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				*err = -ENOMEM;
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*err = -errno;
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > SK_MAX_FILE_SIZE) {
			free(buf);
			*err = -EFBIG;
			return NULL;
		}
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

char *sk_read_file(const char *path, bool regular_only, size_t *len, int *err,
		   const char **why)
{
	struct stat st;
	char *buf;
	int fd;

	/* O_NONBLOCK: opening a FIFO for reading would otherwise wait for
	 * a writer; fstat() then refuses it without reading */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
				(regular_only ? O_NONBLOCK : 0));
	if (fd < 0) {
		*err = -errno;
		*why = strerror(errno);
		return NULL;
	}
	if (fstat(fd, &st)) {
		*err = -errno;
		*why = strerror(errno);
		close(fd);
		return NULL;
	}
	if (S_ISDIR(st.st_mode) || (regular_only && !S_ISREG(st.st_mode))) {
		*err = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		*why = file_type(st.st_mode);
		close(fd);
		return NULL;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > SK_MAX_FILE_SIZE) {
		buf = NULL;
		*err = -EFBIG;
	} else {
		buf = read_fd(fd, S_ISREG(st.st_mode) ? (size_t)st.st_size : 0,
			      len, err);
	}
	close(fd);
	if (!buf)
		*why = *err == -EFBIG ? "larger than the 64 MiB limit" :
					strerror(-*err);
	return buf;
}

/* What one line gave: a range, or an error at a column. */
struct item {
	int family;
	sk_u128 lo, hi;
};

struct lerr {
	size_t col; /* 0-based offset in the line */
	char why[160];
};

static int fail(struct lerr *e, size_t col, const char *why)
{
	e->col = col;
	if (why != e->why)
		snprintf(e->why, sizeof(e->why), "%s", why);
	return -1;
}

static bool is_blank(char c)
{
	return isspace((unsigned char)c);
}

static sk_u128 last_of(int family, sk_u128 addr, int len)
{
	int host = (family == AF_INET ? 32 : 128) - len;

	if (host <= 0)
		return addr;
	if (host >= 128)
		return ~(sk_u128)0;
	return addr | (((sk_u128)1 << host) - 1);
}

/* One end of A-B: a single address, no length, no blanks inside. */
static int range_end(const char *s, size_t a, size_t z, int *family,
		     sk_u128 *addr, struct lerr *e)
{
	size_t i;

	if (a == z)
		return fail(e, a, "expected an address on each side of '-'");
	for (i = a; i < z; i++) {
		if (is_blank(s[i]))
			return fail(e, i,
				    "unexpected text in the range (one range "
				    "ADDRESS-ADDRESS per line)");
		if (s[i] == '/')
			return fail(e, i,
				    "expected ADDRESS-ADDRESS: a range has no "
				    "prefix length");
	}
	if (sk_addr_parse(s + a, z - a, family, addr, e->why, sizeof(e->why),
			  false))
		return fail(e, a, e->why);
	return 0;
}

static int list_range(const char *s, size_t a, size_t d, size_t z,
		      struct item *it, struct lerr *e)
{
	size_t le = d, rb = d + 1;
	sk_u128 hi;
	int f2;

	while (le > a && is_blank(s[le - 1]))
		le--;
	while (rb < z && is_blank(s[rb]))
		rb++;
	if (range_end(s, a, le, &it->family, &it->lo, e) ||
	    range_end(s, rb, z, &f2, &hi, e))
		return -1;
	if (f2 != it->family)
		return fail(e, rb,
			    "the two ends of the range are of different IP "
			    "versions");
	if (it->lo > hi)
		return fail(e, a,
			    "empty range: the first address is above the "
			    "second");
	it->hi = hi;
	return 1;
}

/*
 * A line of a plain list: PREFIX, ADDRESS or ADDRESS-ADDRESS (blanks
 * allowed around the '-'), then optionally a comment from '#' or ';'.
 * Returns 0 for nothing, 1 for an item, -1 for an error.
 */
static int list_line(const char *s, size_t n, struct item *it, struct lerr *e)
{
	size_t a = 0, z = n, t;
	const char *d;
	struct sk_prefix pf;
	int off;

	for (t = 0; t < n; t++)
		if (s[t] == '#' || s[t] == ';') {
			z = t;
			break;
		}
	while (a < z && is_blank(s[a]))
		a++;
	while (z > a && is_blank(s[z - 1]))
		z--;
	if (a == z)
		return 0;
	d = memchr(s + a, '-', z - a);
	if (d)
		return list_range(s, a, (size_t)(d - s), z, it, e);
	for (t = a; t < z && !is_blank(s[t]); t++)
		;
	if (t < z) {
		while (is_blank(s[t]))
			t++;
		return fail(e, t,
			    "unexpected text after the prefix (one prefix or "
			    "range per line)");
	}
	if (sk_prefix_parse(s + a, z - a, &pf, e->why, sizeof(e->why), &off,
			    false))
		return fail(e, a + (size_t)off, e->why);
	it->family = pf.family;
	it->lo = pf.addr;
	it->hi = last_of(pf.family, pf.addr, pf.len);
	return 1;
}

static bool field_is(const char *s, size_t n, const char *w)
{
	return n == strlen(w) && !strncasecmp(s, w, n);
}

/* A decimal number of at most @digits digits, or -1. */
static long long decimal(const char *s, size_t n, size_t digits)
{
	long long v = 0;
	size_t i;

	if (n == 0 || n > digits)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

#define RIR_FIELDS "registry|cc|type|start|value|date|status"
enum { F_REG, F_CC, F_TYPE, F_START, F_VALUE, F_DATE, F_STATUS, F_MAX = 8 };

/* start and value of an ipv4 / ipv6 record */
static int rir_range(const char *s, const size_t *f, const size_t *fl,
		     int family, struct item *it, struct lerr *e)
{
	const char *v = s + f[F_VALUE];
	long long cnt;

	if (sk_addr_parse(s + f[F_START], fl[F_START], &it->family, &it->lo,
			  e->why, sizeof(e->why), false))
		return fail(e, f[F_START], e->why);
	if (it->family != family)
		return fail(e, f[F_START],
			    family == AF_INET ?
				    "expected an IPv4 address (the record "
				    "type is ipv4)" :
				    "expected an IPv6 address (the record "
				    "type is ipv6)");
	if (family == AF_INET) {
		/* a count of addresses, not necessarily a power of two */
		cnt = decimal(v, fl[F_VALUE], 10);
		if (cnt < 1 || cnt > (1ll << 32))
			return fail(e, f[F_VALUE],
				    "expected an address count 1-4294967296 "
				    "(ipv4 records give a count)");
		if (it->lo + (sk_u128)cnt - 1 > UINT32_MAX)
			return fail(e, f[F_VALUE],
				    "the address count runs past "
				    "255.255.255.255");
		it->hi = it->lo + (sk_u128)cnt - 1;
		return 1;
	}
	cnt = decimal(v, fl[F_VALUE], 3);
	if (cnt < 0 || cnt > 128)
		return fail(e, f[F_VALUE],
			    "expected a prefix length 0-128 (ipv6 records "
			    "give a length)");
	it->hi = last_of(AF_INET6, it->lo, (int)cnt);
	if (it->lo & last_of(AF_INET6, 0, (int)cnt))
		return fail(e, f[F_START],
			    "host bits set (the address has bits set past the "
			    "prefix length)");
	return 1;
}

static bool rir_country(const struct sk_pfile_opts *o, const char *cc, size_t n)
{
	size_t i;

	if (!o->ncc)
		return true;
	for (i = 0; n == 2 && i < o->ncc; i++)
		if (!strncasecmp(o->cc[i], cc, 2))
			return true;
	return false;
}

/*
 * A line of an RIR delegated(-extended) file. The version line
 * ("2|apnic|20110414|..."), summaries ("apnic|*|ipv4|*|45000|summary"),
 * asn records, statuses other than allocated / assigned and countries
 * not asked for give nothing; every ipv4 / ipv6 record is checked all the
 * same, so that a damaged file is noticed whatever the filter.
 */
static int rir_line(const char *s, size_t n, const struct sk_pfile_opts *o,
		    struct item *it, struct lerr *e)
{
	size_t f[F_MAX], fl[F_MAX], nf = 0, i, a = 0;
	int family, rc;

	while (a < n && is_blank(s[a]))
		a++;
	while (n > a && is_blank(s[n - 1]))
		n--;
	if (a == n || s[a] == '#')
		return 0;
	f[0] = a;
	for (i = a; i < n && nf < F_MAX - 1; i++) {
		if (s[i] == '|') {
			fl[nf] = i - f[nf];
			f[++nf] = i + 1;
		}
	}
	fl[nf] = n - f[nf]; /* the last field keeps any extensions */
	nf++;
	if (nf < 2)
		return fail(e, a, "expected an RIR record (" RIR_FIELDS ")");
	/* the version line starts with its format version: "2", "2.3" */
	if (fl[0] && strspn(s + a, "0123456789.") == fl[0])
		return 0;
	if (nf >= 6 && field_is(s + f[5], fl[5], "summary"))
		return 0;
	if (nf < 7)
		return fail(e, n,
			    "expected 7 '|'-separated fields (" RIR_FIELDS ")");
	if (field_is(s + f[F_TYPE], fl[F_TYPE], "asn"))
		return 0;
	if (field_is(s + f[F_TYPE], fl[F_TYPE], "ipv4"))
		family = AF_INET;
	else if (field_is(s + f[F_TYPE], fl[F_TYPE], "ipv6"))
		family = AF_INET6;
	else
		return fail(e, f[F_TYPE],
			    "expected the record type ipv4, ipv6 or asn");
	rc = rir_range(s, f, fl, family, it, e);
	if (rc < 0)
		return rc;
	if (!field_is(s + f[F_STATUS], fl[F_STATUS], "allocated") &&
	    !field_is(s + f[F_STATUS], fl[F_STATUS], "assigned"))
		return 0;
	return rir_country(o, s + f[F_CC], fl[F_CC]) ? 1 : 0;
}

static void skipped(struct sk_pfile_result *res, int line, const struct lerr *e)
{
	if (res->skipped++)
		return;
	res->first_line = line;
	res->first_col = (int)e->col + 1;
	snprintf(res->first_why, sizeof(res->first_why), "%s", e->why);
}

int sk_pfile_parse(const char *path, const char *buf, size_t len,
		   const struct sk_pfile_opts *o, struct sk_addrset_builder *b,
		   struct sk_pfile_result *res)
{
	size_t pos = 0;
	int line = 0;

	memset(res, 0, sizeof(*res));
	/* a UTF-8 byte order mark, as Windows editors write it */
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		pos = 3;
	while (pos < len) {
		const char *s = buf + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		const char *nul = memchr(s, '\0', n);
		struct item it;
		struct lerr e;
		int rc;

		line++;
		pos += n + 1;
		if (n && s[n - 1] == '\r')
			n--;
		if (nul)
			rc = fail(&e, (size_t)(nul - s), "NUL byte");
		else if (o->format == SK_PFILE_RIR)
			rc = rir_line(s, n, o, &it, &e);
		else
			rc = list_line(s, n, &it, &e);
		if (rc > 0 && (!o->family || it.family == o->family) &&
		    sk_asb_add_range(b, it.family, it.lo, it.hi))
			return -ENOMEM;
		if (rc >= 0)
			continue;
		if (o->lenient) {
			skipped(res, line, &e);
			continue;
		}
		res->errors++;
		sk_warn("%s:%d:%zu: error: %s%s\n", path, line, e.col + 1,
			e.why,
			res->errors >= o->max_errors ?
				" (too many errors, stopping)" :
				"");
		if (res->errors >= o->max_errors)
			break;
	}
	return res->errors ? -EINVAL : 0;
}
