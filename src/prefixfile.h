/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reading files for the parser: the configuration, and prefix files in the
 * forms people download them (plain lists, ranges, RIR delegated files). */
#ifndef __SKSTEER_PREFIXFILE_H
#define __SKSTEER_PREFIXFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "internal.h"

/*
 * The whole file, NUL-terminated, in a malloc'ed buffer; NULL with *@err
 * set on failure. With @regular_only, anything but a regular file (a FIFO,
 * a device, a socket, a directory) is refused before a byte is read, and
 * the open itself cannot block (O_NONBLOCK): the supervisor reads prefix
 * files on reload and must never hang on one. Files over 64 MiB: -EFBIG.
 * *@why is the reason for a message ("No such file or directory", "a FIFO,
 * not a regular file").
 */
SK_HIDDEN char *sk_read_file(const char *path, bool regular_only, size_t *len,
			     int *err, const char **why);

enum sk_pfile_format {
	SK_PFILE_LIST, /* prefixes, addresses and A-B ranges, one a line */
	SK_PFILE_RIR, /* registry|cc|type|start|value|date|status[|...] */
};

#define SK_PFILE_MAX_CC 256

struct sk_pfile_opts {
	enum sk_pfile_format format;
	char cc[SK_PFILE_MAX_CC][3]; /* upper case; RIR only */
	size_t ncc; /* 0: every country */
	int family; /* AF_INET, AF_INET6, or 0 for both */
	bool lenient; /* skip bad lines (counted) instead of failing */
	int max_errors; /* stop after this many errors */
};

struct sk_pfile_result {
	size_t skipped; /* bad lines skipped (lenient) */
	int errors; /* errors reported (strict) */
	/* the first skipped line, for the one warning about them */
	int first_line, first_col;
	char first_why[160];
};

/*
 * Parse @len bytes of @buf, the prefix file @path, into @b. Content errors
 * are reported as PATH:LINE:COL through sk_warn() and never quote the
 * file's bytes (a root-only file must not leak into a log); they return
 * -EINVAL. Returns 0, -EINVAL or -ENOMEM.
 */
SK_HIDDEN int sk_pfile_parse(const char *path, const char *buf, size_t len,
			     const struct sk_pfile_opts *o,
			     struct sk_addrset_builder *b,
			     struct sk_pfile_result *res);

#endif
