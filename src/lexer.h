/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Tokens of sksteer.conf(5). Newlines are tokens: they end statements. */
#ifndef __SKSTEER_LEXER_H
#define __SKSTEER_LEXER_H

#include <stddef.h>

enum sk_tok {
	TOK_EOF,
	TOK_NEWLINE,
	TOK_WORD, /* names, numbers, addresses, prefixes, @set */
	TOK_STRING, /* "..." with the quotes stripped */
	TOK_LBRACE,
	TOK_RBRACE,
	TOK_SEMI,
	TOK_COMMA,
	TOK_AMP,
	TOK_OP, /* == != < <= > >= */
	TOK_ERROR,
};

struct sk_token {
	enum sk_tok type;
	const char *s; /* points into the source (not NUL-terminated) */
	size_t n;
	int line, col;
};

struct sk_lexer {
	const char *src;
	size_t len;
	size_t pos;
	int line, col;
	const char *error; /* set with TOK_ERROR */
};

void sk_lexer_init(struct sk_lexer *lx, const char *src, size_t len);
void sk_lexer_next(struct sk_lexer *lx, struct sk_token *tok);
const char *sk_tok_name(enum sk_tok t);

#endif
