// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>

#include "internal.h"
#include "lexer.h"

void sk_lexer_init(struct sk_lexer *lx, const char *src, size_t len)
{
	memset(lx, 0, sizeof(*lx));
	lx->src = src;
	lx->len = len;
	lx->line = 1;
	lx->col = 1;
}

static int peekc(const struct sk_lexer *lx, size_t ahead)
{
	return lx->pos + ahead < lx->len ?
		       (unsigned char)lx->src[lx->pos + ahead] :
		       -1;
}

static void advance(struct sk_lexer *lx)
{
	if (lx->src[lx->pos] == '\n') {
		lx->line++;
		lx->col = 1;
	} else {
		lx->col++;
	}
	lx->pos++;
}

static int is_word_char(int c)
{
	if (c < 0 || c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\v' || c == '\f')
		return 0;
	return !strchr("{};,#\"&=!<>", c);
}

void sk_lexer_next(struct sk_lexer *lx, struct sk_token *tok)
{
	int c;

	for (;;) {
		c = peekc(lx, 0);
		if (c == ' ' || c == '\t' || c == '\r' || c == '\v' ||
		    c == '\f') {
			advance(lx);
		} else if (c == '#') {
			while (peekc(lx, 0) >= 0 && peekc(lx, 0) != '\n')
				advance(lx);
		} else {
			break;
		}
	}

	tok->s = lx->src + lx->pos;
	tok->n = 1;
	tok->line = lx->line;
	tok->col = lx->col;

	switch (c) {
	case -1:
		tok->type = TOK_EOF;
		tok->n = 0;
		return;
	case '\n':
		tok->type = TOK_NEWLINE;
		break;
	case '{':
		tok->type = TOK_LBRACE;
		break;
	case '}':
		tok->type = TOK_RBRACE;
		break;
	case ';':
		tok->type = TOK_SEMI;
		break;
	case ',':
		tok->type = TOK_COMMA;
		break;
	case '&':
		tok->type = TOK_AMP;
		break;
	case '=':
	case '!':
		if (peekc(lx, 1) != '=') {
			tok->type = TOK_ERROR;
			lx->error = c == '=' ? "expected '==' (comparison)" :
					       "expected '!='";
			advance(lx);
			return;
		}
		tok->type = TOK_OP;
		tok->n = 2;
		advance(lx);
		break;
	case '<':
	case '>':
		tok->type = TOK_OP;
		if (peekc(lx, 1) == '=') {
			tok->n = 2;
			advance(lx);
		}
		break;
	case '"': {
		advance(lx);
		tok->s = lx->src + lx->pos;
		while (peekc(lx, 0) >= 0 && peekc(lx, 0) != '"' &&
		       peekc(lx, 0) != '\n') {
			if (peekc(lx, 0) == '\0') {
				tok->type = TOK_ERROR;
				lx->error = "NUL byte in string";
				return;
			}
			advance(lx);
		}
		if (peekc(lx, 0) != '"') {
			tok->type = TOK_ERROR;
			lx->error = "unterminated string (missing '\"')";
			return;
		}
		tok->type = TOK_STRING;
		tok->n = (size_t)(lx->src + lx->pos - tok->s);
		break;
	}
	default:
		if (c == '\0' || c < 0x20 || c >= 0x7f) {
			tok->type = TOK_ERROR;
			lx->error = c == '\0' ?
					    "NUL byte in configuration" :
					    "unexpected non-ASCII or control "
					    "character";
			advance(lx);
			/* one error for a whole UTF-8 sequence */
			while (c >= 0x80 && peekc(lx, 0) >= 0x80)
				advance(lx);
			return;
		}
		tok->type = TOK_WORD;
		while (is_word_char(peekc(lx, 1)) && peekc(lx, 1) >= 0x20 &&
		       peekc(lx, 1) < 0x7f) {
			advance(lx);
			tok->n++;
		}
		break;
	}
	advance(lx);
}

const char *sk_tok_name(enum sk_tok t)
{
	switch (t) {
	case TOK_EOF:
		return "end of file";
	case TOK_NEWLINE:
		return "end of line";
	case TOK_WORD:
		return "word";
	case TOK_STRING:
		return "string";
	case TOK_LBRACE:
		return "'{'";
	case TOK_RBRACE:
		return "'}'";
	case TOK_SEMI:
		return "';'";
	case TOK_COMMA:
		return "','";
	case TOK_AMP:
		return "'&'";
	case TOK_OP:
		return "comparison";
	default:
		return "invalid character";
	}
}
