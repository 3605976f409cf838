/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared by the sksteer command-line tool's command groups. */
#ifndef __SKSTEER_TOOL_MAIN_H
#define __SKSTEER_TOOL_MAIN_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include <sksteer.h>

#include "json_writer.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

#define BIN_NAME "sksteer"

extern bool json_output;
extern bool pretty_output;
extern bool verbose;
/* Every command writes its JSON document here; main() prints it at the
 * end, or replaces it with an error object when the command failed. */
extern struct json_writer *json_wtr;
/*
 * Set by a command whose JSON document is a complete report even when it
 * exits with 1 (check of an unusable config, demo with a misrouted
 * connection): it is printed instead of the error object.
 */
extern bool json_report;

struct cmd {
	const char *name;
	int (*func)(int argc, char **argv);
	void (*help)(FILE *out);
	const char *summary;
};

/* An error: on stderr, and in JSON mode the "error" of the error object. */
void p_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void p_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Library messages normally go to stderr as they come. Between these two
 * calls they are kept instead, for a command that reports them itself
 * (the reason a program cannot be compiled, for example). Returns the
 * kept messages joined by "; ", or NULL when there were none; free() it.
 */
void msgs_capture_begin(void);
char *msgs_capture_end(void);
/* Every message shown on stderr so far, as a JSON array of strings. */
void json_messages(struct json_writer *jw);

/* ---- command-line options ---- */

/* Options every command accepts besides its own (see common_opt()). */
#define COMMON_SHORTOPTS "jpvh"
#define COMMON_LONGOPTS                                \
	{ "json", no_argument, NULL, 'j' },            \
		{ "pretty", no_argument, NULL, 'p' },  \
		{ "verbose", no_argument, NULL, 'v' }, \
	{                                              \
		"help", no_argument, NULL, 'h'         \
	}

/* Call before a command's getopt_long() loop. */
void cmd_opts_reset(void);
/*
 * Handle option @c that the command did not recognise: the common options,
 * and errors (unknown option, missing argument). Returns true when the
 * command must return *@ret now (help printed, or an error).
 */
bool common_opt(int c, char **argv, const struct cmd *cmd, int *ret);
/* Text of the common options, for the commands' help. */
void print_common_opts(FILE *out);
/* "sksteer CMD: error" + hint to run -h; returns 1 */
int usage_err(const struct cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- helpers (common.c) ---- */

/* The command's one FILE operand in *@path: 0, or 1 after a usage error
 * (none given, or more than one). */
int one_file_operand(const struct cmd *cmd, int argc, char **argv,
		     const char **path);

/* Parse and report; NULL on error (already reported). */
struct sksteer_config *load_config(const char *path);
/*
 * The services a command works on: the one named @name, or every service.
 * Returns the count (>= 1) and fills *@out (free() it), or -1 (reported).
 */
int select_services(const struct sksteer_config *cfg, const char *path,
		    const char *name, struct sksteer_service ***out);
/*
 * Do two of the @n services listen on the same protocol, address and
 * port? Their sockets would form one reuseport group, where each
 * service's program steers the other's traffic too. True, with the
 * reason (naming both, and @path's lines) in @why.
 */
bool services_clash(struct sksteer_service *const *svcs, size_t n,
		    const char *path, char *why, size_t whysz);
/* Rule @idx as written, without the leading "rule" keyword. */
const char *rule_body(const struct sksteer_service *svc, size_t idx);
/* Drop the "service 'NAME': " a library message starts with, in place,
 * where the output already says which service. */
void strip_service_prefix(char *msg, const struct sksteer_service *svc);
/* "tcp" / "udp" */
const char *proto_name(int proto);
/* "198.51.100.7:80", "[2001:db8::1]:80" */
void fmt_sockaddr(const struct sockaddr *sa, char *buf, size_t size);
/* address only */
void fmt_addr(int family, const void *addr, char *buf, size_t size);
/* Strict decimal in [min, max]; false if not. */
bool parse_ulong(const char *s, unsigned long min, unsigned long max,
		 unsigned long *out);

/* ---- backends (backend.c) ---- */

const char *backend_name(enum sksteer_backend b);
bool parse_backend(const char *s, enum sksteer_backend *out);
/*
 * Whether this build and this process can use the eBPF backend; when not,
 * @why says why. The one place to change when the eBPF backend lands.
 */
bool ebpf_usable(char *why, size_t size);

/* ---- commands ---- */

extern const struct cmd cmd_check, cmd_compile, cmd_explain, cmd_demo,
	cmd_stats, cmd_run, cmd_reload;

#endif /* __SKSTEER_TOOL_MAIN_H */
