// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int default_print(enum sksteer_print_level level, const char *fmt,
			 va_list args)
{
	if (level == SKSTEER_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static sksteer_print_fn_t print_fn = default_print;

sksteer_print_fn_t sksteer_set_print(sksteer_print_fn_t fn)
{
	sksteer_print_fn_t old = print_fn;

	print_fn = fn;
	return old;
}

/* Warnings being collected by sk_capture_begin(), per thread. */
static __thread struct sk_capture *capture;

void sk_capture_begin(struct sk_capture *c, char *buf, size_t size)
{
	c->buf = buf;
	c->size = size;
	c->len = 0;
	c->prev = capture;
	if (size)
		buf[0] = '\0';
	capture = c;
}

void sk_capture_end(struct sk_capture *c)
{
	capture = c->prev;
}

/* One warning into the capture: a line of its own, separated by "; ". */
static void capture_add(struct sk_capture *c, const char *fmt, va_list args)
{
	size_t n;
	int w;

	if (c->len + 3 >= c->size)
		return;
	if (c->len) {
		strcpy(c->buf + c->len, "; ");
		c->len += 2;
	}
	w = vsnprintf(c->buf + c->len, c->size - c->len, fmt, args);
	if (w < 0)
		return;
	n = (size_t)w < c->size - c->len ? (size_t)w : c->size - c->len - 1;
	c->len += n;
	while (c->len && c->buf[c->len - 1] == '\n')
		c->buf[--c->len] = '\0';
}

void sk_print(enum sksteer_print_level level, const char *fmt, ...)
{
	sksteer_print_fn_t fn = print_fn;
	int saved_errno = errno;
	va_list args;

	va_start(args, fmt);
	if (capture && level == SKSTEER_WARN)
		capture_add(capture, fmt, args);
	else if (fn)
		fn(level, fmt, args);
	va_end(args);
	errno = saved_errno;
}

bool sk_opts_valid(const void *opts, size_t type_sz, const char *type_name)
{
	const char *p = opts;
	size_t sz, i;

	if (!opts)
		return true;
	sz = *(const size_t *)opts;
	if (sz < sizeof(size_t)) {
		sk_warn("%s: options size %zu is too small\n", type_name, sz);
		return false;
	}
	/* A newer caller may pass a larger struct; that is fine as long as
	 * every field this library does not know about is zero. */
	for (i = type_sz; i < sz; i++) {
		if (p[i]) {
			sk_warn("%s has non-zero fields this library version "
				"does not know\n",
				type_name);
			return false;
		}
	}
	return true;
}

char *sk_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *sk_strndup(const char *s, size_t n)
{
	char *r = malloc(n + 1);

	if (!r)
		return NULL;
	memcpy(r, s, n);
	r[n] = '\0';
	return r;
}

void *sk_reallocarray(void *p, size_t n, size_t sz)
{
	if (sz && n > (size_t)-1 / sz) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, (n * sz) != 0 ? n * sz : 1);
}

uint32_t sksteer_major_version(void)
{
	return SKSTEER_MAJOR_VERSION;
}

uint32_t sksteer_minor_version(void)
{
	return SKSTEER_MINOR_VERSION;
}

#define STR_(x) #x
#define STR(x)	STR_(x)

const char *sksteer_version_string(void)
{
	return "v" STR(SKSTEER_MAJOR_VERSION) "." STR(SKSTEER_MINOR_VERSION);
}

long sk_read_proc_long(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}
