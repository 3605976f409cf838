// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sksteer.conf(5) parser. Every error is reported as FILE:LINE:COL with
 * what was expected; after an error the parser skips to the end of the
 * statement and goes on, so one run reports every problem (up to a limit).
 * The configuration is only returned when there was no error at all.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "lexer.h"
#include "prefixfile.h"

#define MAX_ERRORS 20
#define MAX_NAME   64

/* Sets by name, so that a configuration of 80,000 sets is not quadratic:
 * open addressing, at most half full. */
struct set_table {
	struct sk_set **slot;
	size_t cap; /* a power of two, or 0 */
	size_t n;
};

struct parser {
	struct sk_lexer lx;
	struct sk_token tok;
	const char *file; /* interned */
	const char *base_dir;
	struct sksteer_config *cfg;
	struct sksteer_service *svc; /* being parsed, or NULL */
	int nerrors;
	/* where the lexer last failed: the statement's own complaint about
	 * the bad token would only repeat it */
	int lex_err_line, lex_err_col;
	/* the service being parsed had a listen / pool statement, even a
	 * broken one (already reported: no "has no listen" on top) */
	bool listen_seen, pool_seen;
	bool port_override;
	uint16_t port;
	/* the top-level sets and those of the service being parsed, and the
	 * room in their arrays (grown by doubling) */
	struct set_table top_sets, svc_sets;
	size_t top_cap, svc_cap;
	/* unresolved pool references of the service being parsed */
	struct pool_ref {
		char name[MAX_NAME + 1];
		struct sk_loc loc;
		enum { REF_RULE, REF_DEFAULT, REF_FALLBACK } kind;
		size_t idx; /* rule or pool index */
	} * refs;
	size_t nrefs;
	/* text of the statement being recorded (rules), whitespace folded */
	bool recording;
	char rec[1024];
	size_t rec_len;
};

static void perr(struct parser *p, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void perr(struct parser *p, int line, int col, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (line == p->lex_err_line && col == p->lex_err_col)
		return;
	p->nerrors++;
	if (p->nerrors > MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->nerrors == MAX_ERRORS)
		sk_warn("%s:%d:%d: error: %s (too many errors, stopping)\n",
			p->file, line, col, msg);
	else
		sk_warn("%s:%d:%d: error: %s\n", p->file, line, col, msg);
}

#define terr(p, t, ...) perr(p, (t)->line, (t)->col, __VA_ARGS__)

static struct sk_loc tok_loc(struct parser *p, const struct sk_token *t)
{
	return (struct sk_loc){ .file = p->file,
				.line = t->line,
				.col = t->col };
}

static const char *intern(struct sksteer_config *cfg, const char *s)
{
	char **n;
	size_t i;

	for (i = 0; i < cfg->nstrings; i++)
		if (!strcmp(cfg->strings[i], s))
			return cfg->strings[i];
	n = sk_reallocarray(cfg->strings, cfg->nstrings + 1, sizeof(*n));
	if (!n)
		return NULL;
	cfg->strings = n;
	n[cfg->nstrings] = strdup(s);
	if (!n[cfg->nstrings])
		return NULL;
	return n[cfg->nstrings++];
}

static void record(struct parser *p, const struct sk_token *t)
{
	size_t room = sizeof(p->rec) - p->rec_len;
	int n;

	if (t->type == TOK_NEWLINE || t->type == TOK_EOF || room <= 1)
		return;
	n = snprintf(p->rec + p->rec_len, room, "%s%s%.*s%s",
		     p->rec_len && t->type != TOK_COMMA ? " " : "",
		     t->type == TOK_STRING ? "\"" : "", (int)t->n, t->s,
		     t->type == TOK_STRING ? "\"" : "");
	if (n > 0 && (size_t)n >= room) {
		/* keep an ellipsis so that a clipped rule is visibly clipped */
		p->rec_len = sizeof(p->rec) - 1;
		memcpy(p->rec + sizeof(p->rec) - 4, "...", 4);
		return;
	}
	p->rec_len += (size_t)n;
}

static void next(struct parser *p)
{
	if (p->recording)
		record(p, &p->tok);
	sk_lexer_next(&p->lx, &p->tok);
	if (p->tok.type == TOK_ERROR) {
		terr(p, &p->tok, "%s", p->lx.error);
		p->lex_err_line = p->tok.line;
		p->lex_err_col = p->tok.col;
		/* keep going: treat the bad character as a word so that the
		 * statement gets skipped by the normal recovery */
		p->tok.type = TOK_WORD;
	}
}

static bool is_word(const struct parser *p, const char *w)
{
	return p->tok.type == TOK_WORD && p->tok.n == strlen(w) &&
	       !memcmp(p->tok.s, w, p->tok.n);
}

static bool tok_eq(const struct sk_token *t, const char *w)
{
	return t->n == strlen(w) && !memcmp(t->s, w, t->n);
}

static const char *tok_desc(const struct sk_token *t, char *buf, size_t sz)
{
	if (t->type == TOK_WORD || t->type == TOK_OP)
		snprintf(buf, sz, "'%.*s'", (int)(t->n > 60 ? 60 : t->n), t->s);
	else if (t->type == TOK_STRING)
		snprintf(buf, sz, "\"%.*s\"", (int)(t->n > 60 ? 60 : t->n),
			 t->s);
	else
		snprintf(buf, sz, "%s", sk_tok_name(t->type));
	return buf;
}

static void expected(struct parser *p, const char *what)
{
	char b[96];

	terr(p, &p->tok, "expected %s, got %s", what,
	     tok_desc(&p->tok, b, sizeof(b)));
}

static bool at_eos(const struct parser *p)
{
	return p->tok.type == TOK_NEWLINE || p->tok.type == TOK_SEMI ||
	       p->tok.type == TOK_RBRACE || p->tok.type == TOK_EOF;
}

/* Skip to the end of the current statement, over nested braces. */
static void recover(struct parser *p)
{
	int depth = 0;

	while (p->tok.type != TOK_EOF) {
		if (p->tok.type == TOK_LBRACE) {
			depth++;
		} else if (p->tok.type == TOK_RBRACE) {
			if (depth == 0)
				return;
			depth--;
			if (depth == 0) {
				next(p);
				return;
			}
		} else if (depth == 0 && (p->tok.type == TOK_NEWLINE ||
					  p->tok.type == TOK_SEMI)) {
			return;
		}
		next(p);
	}
}

/* A statement must end here: at a newline, ';', '}' or the end. */
static int end_statement(struct parser *p)
{
	if (!at_eos(p)) {
		expected(p, "end of statement (newline or ';')");
		return -EINVAL;
	}
	return 0;
}

static void skip_newlines(struct parser *p)
{
	while (p->tok.type == TOK_NEWLINE || p->tok.type == TOK_SEMI)
		next(p);
}

static int parse_name(struct parser *p, const char *what, char *out)
{
	size_t i;

	if (p->tok.type != TOK_WORD) {
		char w[64];

		snprintf(w, sizeof(w), "%s name", what);
		expected(p, w);
		return -EINVAL;
	}
	if (p->tok.n > MAX_NAME) {
		terr(p, &p->tok, "%s name is longer than %d characters", what,
		     MAX_NAME);
		return -EINVAL;
	}
	for (i = 0; i < p->tok.n; i++) {
		char c = p->tok.s[i];

		if (!(isalnum((unsigned char)c) || c == '_' || c == '-' ||
		      c == '.') ||
		    (i == 0 && !(isalpha((unsigned char)c) || c == '_'))) {
			terr(p, &p->tok,
			     "invalid %s name '%.*s': use letters, digits, '_', "
			     "'-' and '.', starting with a letter or '_'",
			     what, (int)p->tok.n, p->tok.s);
			return -EINVAL;
		}
	}
	memcpy(out, p->tok.s, p->tok.n);
	out[p->tok.n] = '\0';
	next(p);
	return 0;
}

/* Unsigned integer (decimal or 0x hex) that must fill the whole token. */
static int tok_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	int base = 10;

	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == n)
		return -EINVAL;
	for (; i < n; i++) {
		int d;
		char c = s[i];

		if (isdigit((unsigned char)c))
			d = c - '0';
		else if (base == 16 && isxdigit((unsigned char)c))
			d = tolower((unsigned char)c) - 'a' + 10;
		else
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return -ERANGE;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int parse_uint(struct parser *p, const char *what, uint64_t min,
		      uint64_t max, uint64_t *out)
{
	int err;

	if (p->tok.type != TOK_WORD) {
		expected(p, what);
		return -EINVAL;
	}
	err = tok_u64(p->tok.s, p->tok.n, UINT64_MAX, out);
	if (err == -EINVAL) {
		expected(p, what);
		return err;
	}
	if (err || *out < min || *out > max) {
		terr(p, &p->tok, "%s '%.*s' is out of range (%llu-%llu)", what,
		     (int)p->tok.n, p->tok.s, (unsigned long long)min,
		     (unsigned long long)max);
		return -ERANGE;
	}
	next(p);
	return 0;
}

/* ---- sets ---- */

static size_t name_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return (size_t)h;
}

static struct sk_set *table_find(const struct set_table *t, const char *name)
{
	size_t i;

	if (!t->cap)
		return NULL;
	for (i = name_hash(name) & (t->cap - 1); t->slot[i];
	     i = (i + 1) & (t->cap - 1))
		if (!strcmp(t->slot[i]->name, name))
			return t->slot[i];
	return NULL;
}

static void table_put(struct sk_set **slot, size_t cap, struct sk_set *s)
{
	size_t i = name_hash(s->name) & (cap - 1);

	while (slot[i])
		i = (i + 1) & (cap - 1);
	slot[i] = s;
}

static int table_add(struct set_table *t, struct sk_set *s)
{
	if (2 * (t->n + 1) > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64, i;
		struct sk_set **slot = calloc(cap, sizeof(*slot));

		if (!slot)
			return -ENOMEM;
		for (i = 0; i < t->cap; i++)
			if (t->slot[i])
				table_put(slot, cap, t->slot[i]);
		free(t->slot);
		t->slot = slot;
		t->cap = cap;
	}
	table_put(t->slot, t->cap, s);
	t->n++;
	return 0;
}

static void table_free(struct set_table *t)
{
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

static struct sk_set *find_set(struct parser *p, const char *name)
{
	struct sk_set *s = NULL;

	if (p->svc)
		s = table_find(&p->svc_sets, name);
	if (!s)
		s = table_find(&p->top_sets, name);
	return s;
}

static void set_free(struct sk_set *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->path);
	sk_addrset_free(&s->addrs);
	free(s);
}

/* One address-list item at the current token: a prefix or @set. */
static int parse_addr_item(struct parser *p, struct sk_addrset_builder *b)
{
	struct sk_token t = p->tok;
	char why[256];
	int off, err;

	if (t.type != TOK_WORD) {
		expected(p, "a prefix or @set");
		return -EINVAL;
	}
	if (t.s[0] == '@') {
		char name[MAX_NAME + 1];
		struct sk_set *s;

		if (t.n < 2 || t.n > MAX_NAME + 1) {
			terr(p, &t, "expected a set name after '@'");
			return -EINVAL;
		}
		memcpy(name, t.s + 1, t.n - 1);
		name[t.n - 1] = '\0';
		s = find_set(p, name);
		if (!s) {
			terr(p, &t,
			     "unknown set '@%s' (sets must be defined before "
			     "they are used)",
			     name);
			return -EINVAL;
		}
		/* its definition failed and said why: nothing to add */
		if (s->failed)
			return -EINVAL;
		err = sk_asb_add_set(b, &s->addrs);
		b->nprefixes += s->nprefixes;
	} else {
		struct sk_prefix pf;

		if (sk_prefix_parse(t.s, t.n, &pf, why, sizeof(why), &off,
				    true)) {
			perr(p, t.line, t.col + off, "%s", why);
			return -EINVAL;
		}
		err = sk_asb_add_prefix(b, &pf);
	}
	if (err) {
		terr(p, &t, "out of memory");
		return err;
	}
	next(p);
	return 0;
}

static char *resolve_path(struct parser *p, const char *path)
{
	char *r;

	if (path[0] == '/' || !p->base_dir || !p->base_dir[0])
		return strdup(path);
	if (asprintf(&r, "%s/%s", p->base_dir, path) < 0)
		return NULL;
	return r;
}

/* Read and parse a prefix file. Reading comes after the statement has
 * parsed: a mistake in it is reported without touching the file. */
static int load_prefix_file(struct parser *p, const struct sk_token *at,
			    struct sk_set *set, struct sk_pfile_opts *o,
			    struct sk_addrset_builder *b)
{
	struct sk_pfile_result res;
	const char *why;
	size_t len;
	char *buf;
	int err = 0;

	buf = sk_read_file(set->path, true, &len, &err, &why);
	if (!buf) {
		if (err == -ENOMEM)
			return err;
		terr(p, at, "cannot read prefix file '%s': %s", set->path, why);
		return -EINVAL;
	}
	o->max_errors = MAX_ERRORS - p->nerrors;
	err = sk_pfile_parse(set->path, buf, len, o, b, &res);
	free(buf);
	if (err == -ENOMEM)
		return err;
	if (err) {
		/* the lines were reported; where the set is defined is a
		 * note, not one more error */
		p->nerrors += res.errors;
		sk_warn("%s:%d:%d: note: set '%s' is not defined: its prefix "
			"file has errors ('lenient' would skip bad lines)\n",
			p->file, at->line, at->col, set->name);
		return -EINVAL;
	}
	set->nskipped = res.skipped;
	if (res.skipped)
		sk_warn("%s:%d:%d: warning: set '%s' is lenient: skipped %zu "
			"bad line%s of this file, the first here: %s\n",
			set->path, res.first_line, res.first_col, set->name,
			res.skipped, res.skipped == 1 ? "" : "s",
			res.first_why);
	return 0;
}

/* country CC[,CC...] */
static int parse_countries(struct parser *p, struct sk_pfile_opts *o)
{
	do {
		next(p);
		if (p->tok.type != TOK_WORD || p->tok.n != 2 ||
		    !isalpha((unsigned char)p->tok.s[0]) ||
		    !isalpha((unsigned char)p->tok.s[1])) {
			expected(p, "a two-letter country code (CN, US, ...)");
			return -EINVAL;
		}
		if (o->ncc == SK_PFILE_MAX_CC) {
			terr(p, &p->tok, "more than %d country codes",
			     SK_PFILE_MAX_CC);
			return -EINVAL;
		}
		o->cc[o->ncc][0] = (char)toupper((unsigned char)p->tok.s[0]);
		o->cc[o->ncc][1] = (char)toupper((unsigned char)p->tok.s[1]);
		o->cc[o->ncc++][2] = '\0';
		next(p);
	} while (p->tok.type == TOK_COMMA);
	return 0;
}

/* [format list|rir] [country CC[,CC...]] [family ipv4|ipv6] [lenient],
 * each at most once, in any order */
static int parse_file_opts(struct parser *p, struct sk_pfile_opts *o)
{
	static const char *const names[] = { "format", "country", "family",
					     "lenient" };
	struct sk_token seen[ARRAY_SIZE(names)] = {};
	size_t i;

	while (!at_eos(p)) {
		struct sk_token t = p->tok;

		for (i = 0; i < ARRAY_SIZE(names); i++)
			if (is_word(p, names[i]))
				break;
		if (i == ARRAY_SIZE(names)) {
			expected(p, "format, country, family, lenient or the "
				    "end of the statement");
			return -EINVAL;
		}
		if (seen[i].line) {
			terr(p, &t, "'%s' is already given at column %d",
			     names[i], seen[i].col);
			return -EINVAL;
		}
		seen[i] = t;
		if (i == 1) {
			if (parse_countries(p, o))
				return -EINVAL;
			continue;
		}
		next(p);
		if (i == 3) {
			o->lenient = true;
			continue;
		}
		if (i == 0 && (is_word(p, "list") || is_word(p, "rir")))
			o->format = is_word(p, "rir") ? SK_PFILE_RIR :
							SK_PFILE_LIST;
		else if (i == 2 && (is_word(p, "ipv4") || is_word(p, "ipv6")))
			o->family = is_word(p, "ipv4") ? AF_INET : AF_INET6;
		else {
			expected(p, i ? "'ipv4' or 'ipv6'" : "'list' or 'rir'");
			return -EINVAL;
		}
		next(p);
	}
	if (seen[1].line && o->format != SK_PFILE_RIR) {
		terr(p, &seen[1],
		     "'country' needs 'format rir' (only RIR delegated files "
		     "say where a prefix is used)");
		return -EINVAL;
	}
	return 0;
}

/* An empty file set: say what was looked for, a filter may be wrong. */
static void empty_file_err(struct parser *p, const struct sk_token *at,
			   const struct sk_set *set,
			   const struct sk_pfile_opts *o)
{
	char what[64 + 3 * SK_PFILE_MAX_CC] = "";
	size_t n = 0, i;

	if (o->format == SK_PFILE_RIR)
		n += (size_t)snprintf(what + n, sizeof(what) - n,
				      " allocated or assigned");
	if (o->family)
		n += (size_t)snprintf(what + n, sizeof(what) - n, " %s",
				      o->family == AF_INET ? "IPv4" : "IPv6");
	n += (size_t)snprintf(what + n, sizeof(what) - n, " prefix");
	for (i = 0; i < o->ncc; i++)
		n += (size_t)snprintf(what + n, sizeof(what) - n, "%s%s",
				      i ? "," : " of country ", o->cc[i]);
	terr(p, at, "set '%s' is empty: no%s in '%s'%s", set->name, what,
	     set->path, set->nskipped ? " that is not on a skipped line" : "");
}

/* file "PATH" [OPTIONS] -- the part after the set's name */
static int parse_set_file(struct parser *p, struct sk_set *set,
			  struct sk_addrset_builder *b)
{
	struct sk_pfile_opts o = {};
	struct sk_token at;
	char *raw;
	int err;

	next(p);
	at = p->tok;
	if (p->tok.type != TOK_STRING) {
		expected(p, "a quoted file name");
		return -EINVAL;
	}
	raw = sk_strndup(p->tok.s, p->tok.n);
	set->path = raw ? resolve_path(p, raw) : NULL;
	free(raw);
	if (!set->path)
		return -ENOMEM;
	next(p);
	if (parse_file_opts(p, &o) || end_statement(p))
		return -EINVAL;
	err = load_prefix_file(p, &at, set, &o, b);
	if (!err && b->n4 == 0 && b->n6 == 0)
		empty_file_err(p, &at, set, &o);
	return err;
}

/* { ITEM [,] ITEM ... } */
static int parse_set_items(struct parser *p, struct sk_addrset_builder *b)
{
	next(p);
	for (;;) {
		while (p->tok.type == TOK_NEWLINE || p->tok.type == TOK_COMMA)
			next(p);
		if (p->tok.type == TOK_RBRACE)
			break;
		if (p->tok.type == TOK_EOF) {
			expected(p, "'}' closing the set");
			return -EINVAL;
		}
		if (parse_addr_item(p, b)) {
			/* skip to the set's own '}': recovery at the
			 * statement level would stop at the newline and take
			 * that '}' for the service's */
			while (p->tok.type != TOK_RBRACE &&
			       p->tok.type != TOK_EOF)
				next(p);
			if (p->tok.type == TOK_RBRACE)
				next(p);
			return -EINVAL;
		}
	}
	next(p);
	return end_statement(p);
}

static int add_set(struct parser *p, struct sk_set *set)
{
	struct sk_set ***arr = p->svc ? &p->svc->sets : &p->cfg->sets;
	size_t *n = p->svc ? &p->svc->nsets : &p->cfg->nsets;
	size_t *cap = p->svc ? &p->svc_cap : &p->top_cap;

	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct sk_set **na = sk_reallocarray(*arr, ncap, sizeof(*na));

		if (!na)
			return -ENOMEM;
		*arr = na;
		*cap = ncap;
	}
	if (table_add(p->svc ? &p->svc_sets : &p->top_sets, set))
		return -ENOMEM;
	(*arr)[(*n)++] = set;
	return 0;
}

/* set NAME { ITEM [,] ITEM ... } | set NAME file "PATH" [OPTIONS]
 *
 * A set whose definition fails is still recorded, marked failed, so that
 * the rules using it do not add "unknown set" to the error that says what
 * is wrong with it. */
static int parse_set(struct parser *p)
{
	struct sk_addrset_builder b = {};
	struct sk_token name_tok, at;
	char name[MAX_NAME + 1];
	struct sk_set *set, *prev;
	int err;

	next(p);
	name_tok = p->tok;
	if (parse_name(p, "set", name))
		return -EINVAL;
	prev = find_set(p, name);
	if (prev) {
		perr(p, name_tok.line, name_tok.col,
		     "set '%s' is already defined at %s:%d:%d", name,
		     prev->loc.file, prev->loc.line, prev->loc.col);
		return -EINVAL;
	}
	set = calloc(1, sizeof(*set));
	if (!set || !(set->name = strdup(name))) {
		free(set);
		return -ENOMEM;
	}
	set->loc = tok_loc(p, &name_tok);
	at = p->tok;
	if (is_word(p, "file")) {
		err = parse_set_file(p, set, &b);
	} else if (p->tok.type == TOK_LBRACE) {
		err = parse_set_items(p, &b);
	} else {
		expected(p, "'{' with prefixes, or file \"PATH\"");
		err = -EINVAL;
	}
	if (!err && b.n4 == 0 && b.n6 == 0) {
		/* (a file's emptiness was reported by parse_set_file) */
		if (!set->path)
			terr(p, &at, "set '%s' is empty", name);
		err = -EINVAL;
	}
	set->nprefixes = b.nprefixes;
	if (!err)
		sk_asb_finish(&b, &set->addrs);
	sk_asb_free(&b);
	set->failed = err != 0;
	if (err == -ENOMEM || add_set(p, set)) {
		set_free(set);
		return -ENOMEM;
	}
	return err;
}

static int parse_backend(struct parser *p, enum sksteer_backend *out)
{
	next(p);
	if (is_word(p, "auto"))
		*out = SKSTEER_BACKEND_AUTO;
	else if (is_word(p, "cbpf"))
		*out = SKSTEER_BACKEND_CBPF;
	else if (is_word(p, "ebpf"))
		*out = SKSTEER_BACKEND_EBPF;
	else {
		expected(p, "'auto', 'cbpf' or 'ebpf'");
		return -EINVAL;
	}
	next(p);
	return end_statement(p);
}

/* ---- services ---- */

static int parse_listen(struct parser *p, struct sksteer_service *svc)
{
	struct sk_token at = p->tok, a;
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon;
	uint64_t port;
	size_t hlen;

	if (svc->has_listen) {
		terr(p, &at, "service '%s' already has a 'listen'", svc->name);
		return -EINVAL;
	}
	next(p);
	if (is_word(p, "tcp"))
		svc->proto = IPPROTO_TCP;
	else if (is_word(p, "udp"))
		svc->proto = IPPROTO_UDP;
	else {
		expected(p, "'tcp' or 'udp'");
		return -EINVAL;
	}
	next(p);
	a = p->tok;
	if (a.type != TOK_WORD) {
		expected(p, "ADDRESS:PORT (0.0.0.0:80, [::]:80)");
		return -EINVAL;
	}
	if (a.s[0] == '[') {
		const char *rb = memchr(a.s, ']', a.n);

		if (!rb || (size_t)(rb - a.s) + 1 >= a.n || rb[1] != ':') {
			terr(p, &a, "expected [IPV6]:PORT, got '%.*s'",
			     (int)a.n, a.s);
			return -EINVAL;
		}
		hlen = (size_t)(rb - a.s) - 1;
		colon = rb + 1;
		if (hlen == 0 || hlen >= sizeof(host)) {
			terr(p, &a, "expected an IPv6 address inside '[]'");
			return -EINVAL;
		}
		memcpy(host, a.s + 1, hlen);
	} else {
		colon = memchr(a.s, ':', a.n);
		if (!colon ||
		    memchr(colon + 1, ':', a.n - (size_t)(colon + 1 - a.s))) {
			terr(p, &a,
			     "expected ADDRESS:PORT, got '%.*s' (write IPv6 "
			     "addresses as [ADDRESS]:PORT)",
			     (int)a.n, a.s);
			return -EINVAL;
		}
		hlen = (size_t)(colon - a.s);
		if (hlen == 0 || hlen >= sizeof(host)) {
			terr(p, &a, "expected an IPv4 address before ':'");
			return -EINVAL;
		}
		memcpy(host, a.s, hlen);
	}
	host[hlen] = '\0';
	if (tok_u64(colon + 1, a.n - (size_t)(colon + 1 - a.s), 65535, &port)) {
		perr(p, a.line, a.col + (int)(colon + 1 - a.s),
		     "expected a port 0-65535 after ':', got '%.*s'",
		     (int)(a.n - (size_t)(colon + 1 - a.s)), colon + 1);
		return -EINVAL;
	}
	memset(&svc->addr, 0, sizeof(svc->addr));
	if (a.s[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&svc->addr;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) {
			perr(p, a.line, a.col + 1,
			     "'%s' is not an IPv6 address", host);
			return -EINVAL;
		}
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			perr(p, a.line, a.col + 1,
			     "'%s' is IPv4-mapped: listen on the IPv4 address",
			     host);
			return -EINVAL;
		}
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		svc->addrlen = sizeof(*s6);
		svc->recv6 = true;
		svc->recv4 = IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&svc->addr;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
			terr(p, &a, "'%s' is not an IPv4 address", host);
			return -EINVAL;
		}
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		svc->addrlen = sizeof(*s4);
		svc->recv4 = true;
	}
	next(p);
	if (is_word(p, "v6only")) {
		if (svc->addr.ss_family != AF_INET6) {
			terr(p, &p->tok,
			     "'v6only' applies to IPv6 addresses only");
			return -EINVAL;
		}
		svc->v6only = true;
		svc->recv4 = false;
		next(p);
	}
	if (p->port_override)
		((struct sockaddr_in *)&svc->addr)->sin_port = htons(p->port);
	svc->has_listen = true;
	return end_statement(p);
}

/* pool NAME [by payload OFF[:W]] -- the part after 'pool' */
static int parse_pool_target(struct parser *p, struct sk_target *t,
			     bool allow_by, int ref_kind, size_t ref_idx)
{
	struct pool_ref *refs;
	struct sk_token nt = p->tok;
	char name[MAX_NAME + 1];

	if (parse_name(p, "pool", name))
		return -EINVAL;
	t->kind = SKSTEER_TARGET_POOL;
	t->pool = -1;
	if (is_word(p, "by")) {
		struct sk_token at = p->tok;
		uint64_t off, w = 1;
		const char *c;

		if (!allow_by) {
			terr(p, &at,
			     "'by payload' is not allowed here: a packet too "
			     "short for the key would have no rule to fall to");
			return -EINVAL;
		}
		next(p);
		if (!is_word(p, "payload")) {
			expected(p, "'payload' after 'by'");
			return -EINVAL;
		}
		next(p);
		if (p->tok.type != TOK_WORD) {
			expected(p, "payload key OFFSET[:WIDTH]");
			return -EINVAL;
		}
		c = memchr(p->tok.s, ':', p->tok.n);
		if (tok_u64(p->tok.s, c ? (size_t)(c - p->tok.s) : p->tok.n,
			    SK_MAX_PAYLOAD_OFF, &off)) {
			terr(p, &p->tok,
			     "expected payload key OFFSET[:WIDTH] with OFFSET "
			     "0-%d, got '%.*s'",
			     SK_MAX_PAYLOAD_OFF, (int)p->tok.n, p->tok.s);
			return -EINVAL;
		}
		if (c && (tok_u64(c + 1, p->tok.n - (size_t)(c + 1 - p->tok.s),
				  4, &w) ||
			  (w != 1 && w != 2 && w != 4))) {
			perr(p, p->tok.line,
			     p->tok.col + (int)(c + 1 - p->tok.s),
			     "payload key width must be 1, 2 or 4 bytes");
			return -EINVAL;
		}
		t->by_payload = true;
		t->key_off = (uint32_t)off;
		t->key_width = (uint8_t)w;
		next(p);
	}
	refs = sk_reallocarray(p->refs, p->nrefs + 1, sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	p->refs = refs;
	snprintf(refs[p->nrefs].name, sizeof(refs[p->nrefs].name), "%s", name);
	refs[p->nrefs].loc = tok_loc(p, &nt);
	refs[p->nrefs].kind = ref_kind;
	refs[p->nrefs].idx = ref_idx;
	p->nrefs++;
	return 0;
}

/* hash | drop | pool NAME [by payload OFF[:W]] */
static int parse_target(struct parser *p, struct sk_target *t, bool allow_by,
			int ref_kind, size_t ref_idx)
{
	memset(t, 0, sizeof(*t));
	t->pool = -1;
	if (is_word(p, "hash")) {
		t->kind = SKSTEER_TARGET_HASH;
		next(p);
		return 0;
	}
	if (is_word(p, "drop")) {
		t->kind = SKSTEER_TARGET_DROP;
		next(p);
		return 0;
	}
	if (is_word(p, "pool")) {
		next(p);
		return parse_pool_target(p, t, allow_by, ref_kind, ref_idx);
	}
	expected(p, "a target: 'pool NAME', 'hash' or 'drop'");
	return -EINVAL;
}

enum pool_opt {
	OPT_MARK,
	OPT_CONGESTION,
	OPT_PACING_RATE,
	OPT_TOS,
	OPT_PRIORITY,
	OPT_RCVBUF,
	OPT_SNDBUF,
	OPT_BACKLOG,
	OPT_FASTOPEN,
	OPT_DEFER_ACCEPT,
	OPT_PKTINFO,
	OPT_FALLBACK,
};

static const struct {
	const char *name;
	int proto; /* 0: any */
} pool_opts[] = {
	[OPT_MARK] = { "mark", 0 },
	[OPT_CONGESTION] = { "congestion", IPPROTO_TCP },
	[OPT_PACING_RATE] = { "pacing-rate", 0 },
	[OPT_TOS] = { "tos", 0 },
	[OPT_PRIORITY] = { "priority", 0 },
	[OPT_RCVBUF] = { "rcvbuf", 0 },
	[OPT_SNDBUF] = { "sndbuf", 0 },
	[OPT_BACKLOG] = { "backlog", IPPROTO_TCP },
	[OPT_FASTOPEN] = { "fastopen", IPPROTO_TCP },
	[OPT_DEFER_ACCEPT] = { "defer-accept", IPPROTO_TCP },
	[OPT_PKTINFO] = { "pktinfo", IPPROTO_UDP },
	[OPT_FALLBACK] = { "fallback", 0 },
};

/* NUMBER[unit]: sizes (k, m, g = KiB, MiB, GiB) or rates (tc(8) units). */
static int parse_scaled(struct parser *p, const char *what, bool rate,
			uint64_t max, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t mul;
		bool rate;
	} units[] = {
		{ "k", 1024, false },
		{ "m", 1024 * 1024, false },
		{ "g", 1024 * 1024 * 1024, false },
		{ "bps", 1, true },
		{ "kbps", 1000, true },
		{ "mbps", 1000000, true },
		{ "gbps", 1000000000, true },
		{ "bit", 0, true },
		{ "kbit", 125, true },
		{ "mbit", 125000, true },
		{ "gbit", 125000000, true },
	};
	const char *s = p->tok.s;
	size_t n = p->tok.n, d = 0, i;
	uint64_t v, mul = 1;

	if (p->tok.type != TOK_WORD) {
		expected(p, what);
		return -EINVAL;
	}
	while (d < n && isdigit((unsigned char)s[d]))
		d++;
	if (d == 0 || tok_u64(s, d, UINT64_MAX / 1024 / 1024 / 1024, &v)) {
		expected(p, what);
		return -EINVAL;
	}
	if (d < n) {
		for (i = 0; i < ARRAY_SIZE(units); i++) {
			if (units[i].rate == rate &&
			    strlen(units[i].suffix) == n - d &&
			    !strncasecmp(units[i].suffix, s + d, n - d))
				break;
		}
		if (i == ARRAY_SIZE(units)) {
			terr(p, &p->tok, "unknown unit '%.*s' in %s (%s)",
			     (int)(n - d), s + d, what,
			     rate ? "bps, kbps, mbps, gbps, kbit, mbit, gbit" :
				    "k, m, g");
			return -EINVAL;
		}
		mul = units[i].mul;
		if (!mul) /* plain bits per second */
			v /= 8;
	}
	if (v > max / mul) {
		terr(p, &p->tok, "%s '%.*s' is too large", what, (int)n, s);
		return -ERANGE;
	}
	*out = v * mul;
	next(p);
	return 0;
}

static int parse_pool_option(struct parser *p, struct sksteer_pool *pool)
{
	struct sk_loc *optloc = pool->optloc;
	struct sk_sockopts *o = &pool->opts;
	struct sk_token at = p->tok;
	uint64_t v;
	size_t i;
	int err = 0;

	for (i = 0; i < ARRAY_SIZE(pool_opts); i++)
		if (is_word(p, pool_opts[i].name))
			break;
	if (i == ARRAY_SIZE(pool_opts)) {
		char b[96];

		terr(p, &at,
		     "unknown pool option %s (expected mark, congestion, "
		     "pacing-rate, tos, priority, rcvbuf, sndbuf, backlog, "
		     "fastopen, defer-accept, pktinfo or fallback)",
		     tok_desc(&at, b, sizeof(b)));
		return -EINVAL;
	}
	if (optloc[i].line) {
		terr(p, &at, "option '%s' is already set at line %d",
		     pool_opts[i].name, optloc[i].line);
		return -EINVAL;
	}
	optloc[i] = tok_loc(p, &at);
	next(p);
	switch ((enum pool_opt)i) {
	case OPT_MARK:
		err = parse_uint(p, "a mark 0-0xffffffff", 0, UINT32_MAX, &v);
		o->mark = (uint32_t)v;
		o->has_mark = true;
		break;
	case OPT_CONGESTION:
		if (p->tok.type != TOK_WORD ||
		    p->tok.n >= sizeof(o->congestion)) {
			expected(p,
				 "a congestion control name (cubic, bbr, ...)");
			return -EINVAL;
		}
		memcpy(o->congestion, p->tok.s, p->tok.n);
		o->congestion[p->tok.n] = '\0';
		o->has_congestion = true;
		next(p);
		break;
	case OPT_PACING_RATE:
		err = parse_scaled(p, "a pacing rate (bytes/s, or 100mbit)",
				   true, UINT64_MAX - 1, &o->pacing_rate);
		o->has_pacing_rate = true;
		break;
	case OPT_TOS:
		err = parse_uint(p, "a TOS / traffic class 0-255", 0, 255, &v);
		o->tos = (int)v;
		o->has_tos = true;
		break;
	case OPT_PRIORITY:
		err = parse_uint(p, "a priority 0-4294967295", 0, INT_MAX, &v);
		o->priority = (int)v;
		o->has_priority = true;
		break;
	case OPT_RCVBUF:
	case OPT_SNDBUF:
		err = parse_scaled(p, "a buffer size in bytes (or 4m)", false,
				   INT_MAX / 2, &v);
		if (i == OPT_RCVBUF) {
			o->rcvbuf = (int)v;
			o->has_rcvbuf = true;
		} else {
			o->sndbuf = (int)v;
			o->has_sndbuf = true;
		}
		break;
	case OPT_BACKLOG:
		err = parse_uint(p, "a backlog 1-65535", 1, 65535, &v);
		o->backlog = (int)v;
		o->has_backlog = true;
		break;
	case OPT_FASTOPEN:
		err = parse_uint(p, "a Fast Open queue length 0-65535", 0,
				 65535, &v);
		o->fastopen = (int)v;
		o->has_fastopen = true;
		break;
	case OPT_DEFER_ACCEPT:
		err = parse_uint(p, "defer-accept seconds 0-3600", 0, 3600, &v);
		o->defer_accept = (int)v;
		o->has_defer_accept = true;
		break;
	case OPT_PKTINFO:
		if (is_word(p, "on") || is_word(p, "yes"))
			o->pktinfo = true;
		else if (is_word(p, "off") || is_word(p, "no"))
			o->pktinfo = false;
		else {
			expected(p, "'on' or 'off'");
			return -EINVAL;
		}
		o->has_pktinfo = true;
		next(p);
		break;
	case OPT_FALLBACK:
		err = parse_target(p, &pool->fallback, false, REF_FALLBACK,
				   (size_t)pool->idx);
		pool->has_fallback = true;
		break;
	}
	if (err)
		return err;
	return end_statement(p);
}

static int parse_pool(struct parser *p, struct sksteer_service *svc)
{
	struct sk_token name_tok, at;
	char name[MAX_NAME + 1];
	struct sksteer_pool *pool, *pools;
	uint64_t size;
	size_t i;

	next(p);
	name_tok = p->tok;
	if (parse_name(p, "pool", name))
		return -EINVAL;
	for (i = 0; i < svc->npools; i++) {
		if (!strcmp(svc->pools[i].name, name)) {
			perr(p, name_tok.line, name_tok.col,
			     "pool '%s' is already defined at line %d", name,
			     svc->pools[i].loc.line);
			return -EINVAL;
		}
	}
	at = p->tok;
	if (parse_uint(p, "the pool's number of sockets", 1, SK_MAX_SOCKETS,
		       &size))
		return -EINVAL;
	if (svc->nsockets + size > SK_MAX_SOCKETS) {
		terr(p, &at, "service '%s' would have more than %d sockets",
		     svc->name, SK_MAX_SOCKETS);
		return -EINVAL;
	}
	pools = sk_reallocarray(svc->pools, svc->npools + 1, sizeof(*pools));
	if (!pools)
		return -ENOMEM;
	svc->pools = pools;
	pool = &pools[svc->npools];
	memset(pool, 0, sizeof(*pool));
	pool->name = strdup(name);
	if (!pool->name)
		return -ENOMEM;
	pool->loc = tok_loc(p, &name_tok);
	pool->size = (unsigned int)size;
	pool->first = svc->nsockets;
	pool->idx = (int)svc->npools;
	pool->svc = svc;
	pool->fallback.kind = SKSTEER_TARGET_DROP;
	pool->fallback.pool = -1;
	svc->npools++;
	svc->nsockets += (unsigned int)size;

	if (p->tok.type == TOK_LBRACE) {
		next(p);
		for (;;) {
			skip_newlines(p);
			if (p->tok.type == TOK_RBRACE)
				break;
			if (p->tok.type == TOK_EOF) {
				expected(p, "'}' closing the pool options");
				return -EINVAL;
			}
			if (parse_pool_option(p, &svc->pools[svc->npools - 1]))
				recover(p);
		}
		next(p);
	}
	return end_statement(p);
}

static int parse_addr_list(struct parser *p, struct sk_addrset *out)
{
	struct sk_addrset_builder b = {};

	for (;;) {
		if (parse_addr_item(p, &b)) {
			sk_asb_free(&b);
			/* skip the rest of the list, also where it goes on
			 * after a comma and a newline, so that its next line
			 * is not taken for a statement */
			while (!at_eos(p)) {
				bool comma = p->tok.type == TOK_COMMA;

				next(p);
				while (comma && p->tok.type == TOK_NEWLINE)
					next(p);
			}
			return -EINVAL;
		}
		if (p->tok.type != TOK_COMMA)
			break;
		next(p);
		/* a list may go on after a newline that follows a comma */
		while (p->tok.type == TOK_NEWLINE)
			next(p);
	}
	sk_asb_finish(&b, out);
	return 0;
}

static int parse_sport(struct parser *p, struct sk_rule *r)
{
	struct sk_token t = p->tok;
	const char *dash;
	uint64_t lo, hi;

	if (t.type != TOK_WORD) {
		expected(p, "a port or PORT-PORT range");
		return -EINVAL;
	}
	dash = memchr(t.s, '-', t.n);
	if (tok_u64(t.s, dash ? (size_t)(dash - t.s) : t.n, 65535, &lo)) {
		terr(p, &t, "expected a port 0-65535 or PORT-PORT, got '%.*s'",
		     (int)t.n, t.s);
		return -EINVAL;
	}
	hi = lo;
	if (dash &&
	    tok_u64(dash + 1, t.n - (size_t)(dash + 1 - t.s), 65535, &hi)) {
		perr(p, t.line, t.col + (int)(dash + 1 - t.s),
		     "expected a port 0-65535 after '-', got '%.*s'",
		     (int)(t.n - (size_t)(dash + 1 - t.s)), dash + 1);
		return -EINVAL;
	}
	if (hi < lo) {
		terr(p, &t,
		     "empty port range %llu-%llu (the first port must "
		     "not be above the second)",
		     (unsigned long long)lo, (unsigned long long)hi);
		return -EINVAL;
	}
	r->sport_lo = (uint16_t)lo;
	r->sport_hi = (uint16_t)hi;
	next(p);
	return 0;
}

/* payload OFF u8|u16|u32 [& MASK] OP VALUE */
static int parse_payload_test(struct parser *p, struct sk_rule *r)
{
	static const char *const ops[] = {
		[SK_CMP_EQ] = "==", [SK_CMP_NE] = "!=", [SK_CMP_LT] = "<",
		[SK_CMP_LE] = "<=", [SK_CMP_GT] = ">",	[SK_CMP_GE] = ">=",
	};
	struct sk_paytest t = {}, *n;
	uint64_t off, v, max;
	size_t i;

	if (parse_uint(p, "a payload offset", 0, SK_MAX_PAYLOAD_OFF, &off))
		return -EINVAL;
	t.off = (uint32_t)off;
	if (is_word(p, "u8"))
		t.width = 1;
	else if (is_word(p, "u16"))
		t.width = 2;
	else if (is_word(p, "u32"))
		t.width = 4;
	else {
		expected(p, "a width: u8, u16 or u32");
		return -EINVAL;
	}
	next(p);
	max = t.width == 4 ? UINT32_MAX : (1ull << (8 * t.width)) - 1;
	if (p->tok.type == TOK_AMP) {
		struct sk_token mt;

		next(p);
		mt = p->tok;
		if (parse_uint(p, "a mask", 0, UINT32_MAX, &v))
			return -EINVAL;
		if (v > max) {
			terr(p, &mt, "mask 0x%llx does not fit u%d",
			     (unsigned long long)v, t.width * 8);
			return -EINVAL;
		}
		t.has_mask = true;
		t.mask = (uint32_t)v;
	}
	if (p->tok.type != TOK_OP) {
		expected(p, "a comparison: ==, !=, <, <=, >, >=");
		return -EINVAL;
	}
	for (i = 0; i < ARRAY_SIZE(ops); i++)
		if (tok_eq(&p->tok, ops[i]))
			break;
	t.cmp = (enum sk_cmp)i;
	next(p);
	{
		struct sk_token vt = p->tok;

		if (parse_uint(p, "a value", 0, UINT32_MAX, &v))
			return -EINVAL;
		if (v > max) {
			terr(p, &vt, "value %llu does not fit u%d (0-%llu)",
			     (unsigned long long)v, t.width * 8,
			     (unsigned long long)max);
			return -EINVAL;
		}
	}
	t.value = (uint32_t)v;
	n = sk_reallocarray(r->pay, r->npay + 1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	r->pay = n;
	r->pay[r->npay++] = t;
	return 0;
}

static void rule_free(struct sk_rule *r)
{
	free(r->text);
	sk_addrset_free(&r->from);
	sk_addrset_free(&r->to);
	free(r->pay);
}

static int parse_rule(struct parser *p, struct sksteer_service *svc)
{
	struct sk_rule r = {};
	struct sk_token at = p->tok;
	struct sk_loc seen_from = {}, seen_to = {}, seen_sport = {};
	struct sk_rule *rules;
	int err = -EINVAL;

	r.loc = tok_loc(p, &at);
	p->recording = true;
	p->rec_len = 0;
	next(p);
	for (;;) {
		struct sk_token ct = p->tok;
		struct sk_loc *seen = NULL;

		if (is_word(p, "from"))
			seen = &seen_from;
		else if (is_word(p, "to"))
			seen = &seen_to;
		else if (is_word(p, "sport"))
			seen = &seen_sport;
		else if (!is_word(p, "payload"))
			break;
		if (seen && seen->line) {
			terr(p, &ct,
			     "'%.*s' is already given at column %d: list "
			     "everything in one condition",
			     (int)ct.n, ct.s, seen->col);
			goto err_rule;
		}
		if (seen)
			*seen = tok_loc(p, &ct);
		next(p);
		if (seen == &seen_from) {
			if (parse_addr_list(p, &r.from))
				goto err_rule;
			r.has_from = true;
		} else if (seen == &seen_to) {
			if (parse_addr_list(p, &r.to))
				goto err_rule;
			r.has_to = true;
		} else if (seen == &seen_sport) {
			if (parse_sport(p, &r))
				goto err_rule;
			r.has_sport = true;
		} else if (parse_payload_test(p, &r)) {
			goto err_rule;
		}
	}
	if (p->tok.type != TOK_WORD ||
	    !(is_word(p, "pool") || is_word(p, "hash") || is_word(p, "drop"))) {
		expected(p,
			 "a condition (from, to, sport, payload) or a target "
			 "(pool NAME, hash, drop)");
		goto err_rule;
	}
	if (parse_target(p, &r.target, true, REF_RULE, svc->nrules))
		goto err_rule;
	if (end_statement(p))
		goto err_rule;
	p->recording = false;
	r.text = sk_strndup(p->rec, p->rec_len);
	rules = sk_reallocarray(svc->rules, svc->nrules + 1, sizeof(*rules));
	if (!r.text || !rules) {
		if (rules)
			svc->rules = rules;
		err = -ENOMEM;
		goto err_rule;
	}
	svc->rules = rules;
	rules[svc->nrules++] = r;
	return 0;

err_rule:
	p->recording = false;
	/* drop a pool reference this rule may have queued */
	while (p->nrefs && p->refs[p->nrefs - 1].kind == REF_RULE &&
	       p->refs[p->nrefs - 1].idx == svc->nrules)
		p->nrefs--;
	rule_free(&r);
	return err;
}

static int parse_default(struct parser *p, struct sksteer_service *svc)
{
	struct sk_token at = p->tok;

	if (svc->has_default) {
		terr(p, &at, "service '%s' already has a 'default'", svc->name);
		return -EINVAL;
	}
	next(p);
	if (parse_target(p, &svc->deflt, false, REF_DEFAULT, 0))
		return -EINVAL;
	svc->has_default = true;
	return end_statement(p);
}

static int resolve_refs(struct parser *p, struct sksteer_service *svc)
{
	size_t i;

	for (i = 0; i < p->nrefs; i++) {
		struct pool_ref *ref = &p->refs[i];
		struct sksteer_pool *pool =
			sksteer_service__find_pool(svc, ref->name);
		struct sk_target *t;

		if (!pool) {
			perr(p, ref->loc.line, ref->loc.col,
			     "unknown pool '%s' in service '%s'", ref->name,
			     svc->name);
			continue;
		}
		if (ref->kind == REF_RULE)
			t = &svc->rules[ref->idx].target;
		else if (ref->kind == REF_DEFAULT)
			t = &svc->deflt;
		else
			t = &svc->pools[ref->idx].fallback;
		t->pool = pool->idx;
		if (ref->kind == REF_FALLBACK && pool->idx == (int)ref->idx)
			perr(p, ref->loc.line, ref->loc.col,
			     "pool '%s' cannot fall back to itself", ref->name);
	}
	p->nrefs = 0;
	return 0;
}

/* Fallback chains must end: a pool that falls back to a pool that falls
 * back to the first would loop when both are empty. A cycle is reported
 * once, at its first pool; one of a single pool already was (by
 * resolve_refs). */
static void check_fallback_cycles(struct parser *p, struct sksteer_service *svc)
{
	size_t i, steps;

	for (i = 0; i < svc->npools; i++) {
		const struct sksteer_pool *q = &svc->pools[i];
		char path[256];
		size_t n;
		bool first = true;

		n = (size_t)snprintf(path, sizeof(path), "%s", q->name);
		for (steps = 0; steps <= svc->npools; steps++) {
			if (q->fallback.kind != SKSTEER_TARGET_POOL ||
			    q->fallback.pool < 0)
				break;
			q = &svc->pools[q->fallback.pool];
			if (q->idx < (int)i)
				first = false;
			if (n < sizeof(path))
				n += (size_t)snprintf(path + n,
						      sizeof(path) - n,
						      " -> %s", q->name);
			if (q == &svc->pools[i]) {
				if (first && steps)
					perr(p, svc->pools[i].loc.line,
					     svc->pools[i].loc.col,
					     "pool '%s': fallback pools form a "
					     "cycle (%s)",
					     svc->pools[i].name, path);
				break;
			}
		}
	}
}

/*
 * The most payload a packet of the service can carry: an IPv4 datagram is
 * at most 65,535 bytes with its 20-byte header, an IPv6 payload 65,535
 * bytes after the fixed header (jumbograms never reach a socket), less 8
 * bytes of UDP header or 20 of TCP. UDP over IPv4: 65,507.
 */
static unsigned int max_payload(const struct sksteer_service *svc)
{
	return (svc->recv6 ? 65535u : 65535u - 20) -
	       (svc->proto == IPPROTO_UDP ? 8 : 20);
}

/* A payload test or key past the end of the largest packet never holds:
 * the rule never matches. Warn as for a condition with no prefix. */
static void warn_payload_beyond(const struct sksteer_service *svc)
{
	unsigned int max = max_payload(svc);
	size_t i, j;

	for (i = 0; i < svc->nrules; i++) {
		const struct sk_rule *r = &svc->rules[i];
		const struct sk_target *t = &r->target;
		char what[64];
		uint64_t need = 0;

		for (j = 0; j < r->npay && !need; j++)
			if ((uint64_t)r->pay[j].off + r->pay[j].width > max) {
				need = (uint64_t)r->pay[j].off +
				       r->pay[j].width;
				snprintf(what, sizeof(what),
					 "'payload %u u%d' needs",
					 r->pay[j].off, r->pay[j].width * 8);
			}
		if (!need && t->by_payload &&
		    (uint64_t)t->key_off + t->key_width > max) {
			need = (uint64_t)t->key_off + t->key_width;
			snprintf(what, sizeof(what),
				 "the key of 'by payload %u:%u' needs",
				 t->key_off, t->key_width);
		}
		if (need)
			sk_warn("%s:%d:%d: warning: %s %llu bytes of payload, "
				"more than a %s over %s carries (%u), so the "
				"rule never matches\n",
				r->loc.file, r->loc.line, r->loc.col, what,
				(unsigned long long)need,
				svc->proto == IPPROTO_UDP ? "UDP datagram" :
							    "TCP SYN",
				svc->recv6 ? "IPv6" : "IPv4", max);
	}
}

static void check_service(struct parser *p, struct sksteer_service *svc,
			  const struct sk_token *close)
{
	size_t i, j;

	if (!svc->has_listen && !p->listen_seen)
		perr(p, svc->loc.line, svc->loc.col,
		     "service '%s' has no 'listen' (listen tcp|udp ADDRESS:PORT)",
		     svc->name);
	if (!svc->npools && !p->pool_seen)
		perr(p, svc->loc.line, svc->loc.col,
		     "service '%s' has no pool (pool NAME COUNT)", svc->name);
	(void)close;
	resolve_refs(p, svc);
	check_fallback_cycles(p, svc);
	if (!svc->has_default) {
		svc->deflt.kind = SKSTEER_TARGET_HASH;
		svc->deflt.pool = -1;
	}
	if (!svc->has_listen)
		return;
	for (i = 0; i < svc->npools; i++) {
		const struct sksteer_pool *pool = &svc->pools[i];

		for (j = 0; j < ARRAY_SIZE(pool_opts); j++) {
			if (pool->optloc[j].line && pool_opts[j].proto &&
			    pool_opts[j].proto != svc->proto)
				perr(p, pool->optloc[j].line,
				     pool->optloc[j].col,
				     "option '%s' applies to %s pools only "
				     "(service '%s' is %s)",
				     pool_opts[j].name,
				     pool_opts[j].proto == IPPROTO_TCP ? "TCP" :
									 "UDP",
				     svc->name,
				     svc->proto == IPPROTO_TCP ? "TCP" : "UDP");
		}
	}
	warn_payload_beyond(svc);
	/* A condition that cannot match any packet the service receives is
	 * almost always a mistake in the prefix list; say so, once. */
	for (i = 0; i < svc->nrules; i++) {
		const struct sk_rule *r = &svc->rules[i];
		const struct sk_addrset *sets[2] = {
			r->has_from ? &r->from : NULL, r->has_to ? &r->to : NULL
		};

		for (j = 0; j < 2; j++) {
			const struct sk_addrset *s = sets[j];

			if (!s)
				continue;
			if (!(svc->recv4 && s->n4) && !(svc->recv6 && s->n6))
				sk_warn("%s:%d:%d: warning: '%s' condition of this "
					"rule has no %s prefix, so the rule never "
					"matches\n",
					r->loc.file, r->loc.line, r->loc.col,
					j ? "to" : "from",
					svc->recv4 && svc->recv6 ?
						"IPv4 or IPv6" :
					svc->recv4 ? "IPv4" :
						     "IPv6");
		}
	}
}

static void service_free(struct sksteer_service *svc)
{
	size_t i;

	free(svc->name);
	for (i = 0; i < svc->npools; i++)
		free(svc->pools[i].name);
	free(svc->pools);
	for (i = 0; i < svc->nsets; i++)
		set_free(svc->sets[i]);
	free(svc->sets);
	for (i = 0; i < svc->nrules; i++)
		rule_free(&svc->rules[i]);
	free(svc->rules);
}

static int parse_service(struct parser *p)
{
	struct sksteer_service *svcs, *svc;
	struct sk_token name_tok;
	char name[MAX_NAME + 1];
	size_t i;
	int err;

	next(p);
	name_tok = p->tok;
	if (parse_name(p, "service", name))
		return -EINVAL;
	for (i = 0; i < p->cfg->nservices; i++) {
		if (!strcmp(p->cfg->services[i].name, name)) {
			terr(p, &name_tok,
			     "service '%s' is already defined at line %d", name,
			     p->cfg->services[i].loc.line);
			return -EINVAL;
		}
	}
	if (p->tok.type != TOK_LBRACE) {
		expected(p, "'{' after the service name");
		return -EINVAL;
	}
	svcs = sk_reallocarray(p->cfg->services, p->cfg->nservices + 1,
			       sizeof(*svcs));
	if (!svcs)
		return -ENOMEM;
	p->cfg->services = svcs;
	svc = &svcs[p->cfg->nservices++];
	memset(svc, 0, sizeof(*svc));
	svc->name = strdup(name);
	if (!svc->name)
		return -ENOMEM;
	svc->loc = tok_loc(p, &name_tok);
	svc->backend = SKSTEER_BACKEND_DEFAULT;
	p->svc = svc;
	table_free(&p->svc_sets);
	p->svc_cap = 0;
	p->nrefs = 0;
	p->listen_seen = false;
	p->pool_seen = false;
	next(p);
	for (;;) {
		skip_newlines(p);
		if (p->tok.type == TOK_RBRACE)
			break;
		if (p->tok.type == TOK_EOF) {
			perr(p, name_tok.line, name_tok.col,
			     "service '%s' is not closed (missing '}')", name);
			p->svc = NULL;
			return -EINVAL;
		}
		if (is_word(p, "listen")) {
			p->listen_seen = true;
			err = parse_listen(p, svc);
		} else if (is_word(p, "pool")) {
			p->pool_seen = true;
			err = parse_pool(p, svc);
		} else if (is_word(p, "set"))
			err = parse_set(p);
		else if (is_word(p, "rule"))
			err = parse_rule(p, svc);
		else if (is_word(p, "default"))
			err = parse_default(p, svc);
		else if (is_word(p, "backend"))
			err = parse_backend(p, &svc->backend);
		else {
			expected(p,
				 "listen, pool, set, rule, default or backend");
			err = -EINVAL;
		}
		if (err == -ENOMEM) {
			p->svc = NULL;
			return err;
		}
		if (err)
			recover(p);
	}
	check_service(p, svc, &p->tok);
	p->svc = NULL;
	next(p);
	return end_statement(p);
}

static struct sksteer_config *parse(const char *text, size_t len,
				    const char *name, const char *base_dir,
				    const struct sksteer_parse_opts *opts)
{
	struct parser p = {};
	struct sksteer_config *cfg;
	size_t i;
	int err = 0;

	if (!OPTS_VALID(opts, sksteer_parse_opts)) {
		errno = EINVAL;
		return NULL;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		errno = ENOMEM;
		return NULL;
	}
	cfg->backend = SKSTEER_BACKEND_AUTO;
	p.cfg = cfg;
	p.file = intern(cfg, name);
	p.base_dir = OPTS_GET(opts, base_dir, NULL) ?: base_dir;
	p.port_override = OPTS_GET(opts, has_port_override, false);
	p.port = OPTS_GET(opts, port_override, 0);
	if (!p.file) {
		err = -ENOMEM;
		goto out;
	}
	sk_lexer_init(&p.lx, text, len);
	next(&p);
	for (;;) {
		skip_newlines(&p);
		if (p.tok.type == TOK_EOF)
			break;
		if (is_word(&p, "service"))
			err = parse_service(&p);
		else if (is_word(&p, "set"))
			err = parse_set(&p);
		else if (is_word(&p, "backend"))
			err = parse_backend(&p, &cfg->backend);
		else {
			expected(&p, "'service', 'set' or 'backend'");
			err = -EINVAL;
		}
		if (err == -ENOMEM)
			goto out;
		if (err) {
			recover(&p);
			if (p.tok.type == TOK_RBRACE)
				next(&p);
		}
		if (p.nerrors >= MAX_ERRORS)
			break;
	}
	err = 0;
	if (!p.nerrors && !cfg->nservices) {
		perr(&p, p.tok.line, p.tok.col,
		     "no service defined (service NAME { listen ...; pool ...; })");
	}
	for (i = 0; i < cfg->nservices; i++) {
		struct sksteer_service *svc = &cfg->services[i];

		svc->cfg = cfg;
		for (size_t j = 0; j < svc->npools; j++)
			svc->pools[j].svc = svc;
		if (svc->backend == SKSTEER_BACKEND_DEFAULT)
			svc->backend = cfg->backend;
	}
out:
	free(p.refs);
	table_free(&p.top_sets);
	table_free(&p.svc_sets);
	if (err || p.nerrors) {
		sksteer_config__free(cfg);
		errno = err ? -err : EINVAL;
		return NULL;
	}
	return cfg;
}

struct sksteer_config *
sksteer_config__parse_string(const char *text, size_t len, const char *name,
			     const struct sksteer_parse_opts *opts)
{
	if (!text) {
		errno = EINVAL;
		return NULL;
	}
	return parse(text, len, name ? name : "<string>", NULL, opts);
}

/* The directory relative prefix paths resolve against: the real one of
 * the configuration, so that a symlink to it elsewhere changes nothing. */
static char *config_dir(const char *path)
{
	char *dir = realpath(path, NULL), *slash;

	if (!dir)
		dir = strdup(path);
	if (!dir)
		return NULL;
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		strcpy(dir, ".");
	return dir;
}

struct sksteer_config *
sksteer_config__parse_file(const char *path,
			   const struct sksteer_parse_opts *opts)
{
	struct sksteer_config *cfg;
	const char *why;
	char *text, *dir;
	size_t len;
	int err = 0;

	if (!path) {
		errno = EINVAL;
		return NULL;
	}
	/* not only regular files: "sksteer check <(generate)" is fine */
	text = sk_read_file(path, false, &len, &err, &why);
	if (!text) {
		sk_warn("%s: error: cannot read: %s\n", path, why);
		errno = -err;
		return NULL;
	}
	dir = config_dir(path);
	if (!dir) {
		free(text);
		errno = ENOMEM;
		return NULL;
	}
	cfg = parse(text, len, path, dir, opts);
	if (cfg) {
		cfg->path = strdup(path);
		if (!cfg->path) {
			sksteer_config__free(cfg);
			cfg = NULL;
			errno = ENOMEM;
		}
	}
	free(dir);
	free(text);
	return cfg;
}

void sksteer_config__free(struct sksteer_config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->nservices; i++)
		service_free(&cfg->services[i]);
	free(cfg->services);
	for (i = 0; i < cfg->nsets; i++)
		set_free(cfg->sets[i]);
	free(cfg->sets);
	for (i = 0; i < cfg->nstrings; i++)
		free(cfg->strings[i]);
	free(cfg->strings);
	free(cfg->path);
	free(cfg);
}
