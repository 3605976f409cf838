/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A small streaming JSON emitter: the caller opens and closes objects and
 * arrays, and the writer takes care of commas, indentation and escaping.
 */
#ifndef __SKSTEER_JSON_WRITER_H
#define __SKSTEER_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct json_writer;

struct json_writer *jw_new(FILE *out, bool pretty);
/* Ends the last line; does not close @out. */
void jw_free(struct json_writer *jw);

void jw_start_object(struct json_writer *jw);
void jw_end_object(struct json_writer *jw);
void jw_start_array(struct json_writer *jw);
void jw_end_array(struct json_writer *jw);

/* The name of the next member of the enclosing object. */
void jw_name(struct json_writer *jw, const char *name);

/* Values: as an array element, or after jw_name(). NULL strings are null. */
void jw_string(struct json_writer *jw, const char *s);
void jw_stringf(struct json_writer *jw, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void jw_uint(struct json_writer *jw, uint64_t v);
void jw_int(struct json_writer *jw, int64_t v);
void jw_bool(struct json_writer *jw, bool v);
void jw_null(struct json_writer *jw);

/* name + value in one call */
void jw_string_field(struct json_writer *jw, const char *name, const char *s);
void jw_uint_field(struct json_writer *jw, const char *name, uint64_t v);
void jw_int_field(struct json_writer *jw, const char *name, int64_t v);
void jw_bool_field(struct json_writer *jw, const char *name, bool v);
void jw_null_field(struct json_writer *jw, const char *name);

#endif /* __SKSTEER_JSON_WRITER_H */
