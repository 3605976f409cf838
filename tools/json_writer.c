// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A small streaming JSON emitter (see json_writer.h). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>

#include "json_writer.h"

/* Deeper nesting than this is a bug in the caller, not a data property. */
#define JW_MAX_DEPTH 32

struct json_writer {
	FILE *out;
	bool pretty;
	int depth;
	/* per level: how many members/elements were written so far */
	unsigned int count[JW_MAX_DEPTH];
	/* a name was written and its value is pending */
	bool after_name;
	bool wrote;
};

struct json_writer *jw_new(FILE *out, bool pretty)
{
	struct json_writer *jw = calloc(1, sizeof(*jw));

	if (!jw)
		return NULL;
	jw->out = out;
	jw->pretty = pretty;
	return jw;
}

void jw_free(struct json_writer *jw)
{
	if (!jw)
		return;
	if (jw->wrote)
		fputc('\n', jw->out);
	free(jw);
}

static void newline(struct json_writer *jw)
{
	int i;

	if (!jw->pretty)
		return;
	fputc('\n', jw->out);
	for (i = 0; i < jw->depth; i++)
		fputs("  ", jw->out);
}

/* Separator and indentation before a value or a name. */
static void before_item(struct json_writer *jw)
{
	jw->wrote = true;
	if (jw->after_name) {
		jw->after_name = false;
		return;
	}
	if (jw->depth > 0 && jw->depth <= JW_MAX_DEPTH) {
		if (jw->count[jw->depth - 1]++)
			fputc(',', jw->out);
		newline(jw);
	}
}

/*
 * Strings go out as valid UTF-8 whatever the input holds (file names,
 * rule text): a byte that does not start a well-formed sequence becomes
 * U+FFFD, so that a consumer never fails to decode the document.
 */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/*
	 * RFC 3629: the second byte's range is narrower after E0 (no
	 * overlongs), ED (no UTF-16 surrogates), F0 (no overlongs) and F4
	 * (nothing above U+10FFFF); strict decoders reject all of these.
	 */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

static void put_string(struct json_writer *jw, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	FILE *f = jw->out;

	fputc('"', f);
	while (*s) {
		size_t n;

		switch (*s) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*s < 0x20 || *s == 0x7f) {
				fprintf(f, "\\u%04x", *s);
				break;
			}
			n = utf8_len(s);
			if (!n) {
				fputs("\\ufffd", f);
				break;
			}
			fwrite(s, 1, n, f);
			s += n;
			continue;
		}
		s++;
	}
	fputc('"', f);
}

static void open_level(struct json_writer *jw, char c)
{
	before_item(jw);
	fputc(c, jw->out);
	if (jw->depth < JW_MAX_DEPTH)
		jw->count[jw->depth] = 0;
	jw->depth++;
}

static void close_level(struct json_writer *jw, char c)
{
	bool empty = jw->depth <= JW_MAX_DEPTH && !jw->count[jw->depth - 1];

	jw->depth--;
	if (!empty)
		newline(jw);
	fputc(c, jw->out);
}

void jw_start_object(struct json_writer *jw)
{
	open_level(jw, '{');
}

void jw_end_object(struct json_writer *jw)
{
	close_level(jw, '}');
}

void jw_start_array(struct json_writer *jw)
{
	open_level(jw, '[');
}

void jw_end_array(struct json_writer *jw)
{
	close_level(jw, ']');
}

void jw_name(struct json_writer *jw, const char *name)
{
	before_item(jw);
	put_string(jw, name);
	fputs(jw->pretty ? ": " : ":", jw->out);
	jw->after_name = true;
}

void jw_string(struct json_writer *jw, const char *s)
{
	if (!s) {
		jw_null(jw);
		return;
	}
	before_item(jw);
	put_string(jw, s);
}

void jw_stringf(struct json_writer *jw, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	jw_string(jw, s ? s : "");
	free(s);
}

void jw_uint(struct json_writer *jw, uint64_t v)
{
	before_item(jw);
	fprintf(jw->out, "%" PRIu64, v);
}

void jw_int(struct json_writer *jw, int64_t v)
{
	before_item(jw);
	fprintf(jw->out, "%" PRId64, v);
}

void jw_bool(struct json_writer *jw, bool v)
{
	before_item(jw);
	fputs(v ? "true" : "false", jw->out);
}

void jw_null(struct json_writer *jw)
{
	before_item(jw);
	fputs("null", jw->out);
}

void jw_string_field(struct json_writer *jw, const char *name, const char *s)
{
	jw_name(jw, name);
	jw_string(jw, s);
}

void jw_uint_field(struct json_writer *jw, const char *name, uint64_t v)
{
	jw_name(jw, name);
	jw_uint(jw, v);
}

void jw_int_field(struct json_writer *jw, const char *name, int64_t v)
{
	jw_name(jw, name);
	jw_int(jw, v);
}

void jw_bool_field(struct json_writer *jw, const char *name, bool v)
{
	jw_name(jw, name);
	jw_bool(jw, v);
}

void jw_null_field(struct json_writer *jw, const char *name)
{
	jw_name(jw, name);
	jw_null(jw);
}
