// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sksteer: the command-line tool. Global options, the command table,
 * help, and the plumbing every command shares: the library's messages,
 * errors, and the JSON document.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "main.h"

#define STR_(x) #x
#define STR(x)	STR_(x)
#define TOOL_VERSION \
	"v" STR(SKSTEER_MAJOR_VERSION) "." STR(SKSTEER_MINOR_VERSION)

bool json_output;
bool pretty_output;
bool verbose;
bool json_report;
struct json_writer *json_wtr;

/* Every message shown on stderr, for the "messages" of the error object. */
static char **messages;
static size_t nmessages;
/* The first error: the "error" of the error object. */
static char *first_error;

static bool capturing;
static char **captured;
static size_t ncaptured;

static void push(char ***list, size_t *n, char *msg)
{
	char **l = realloc(*list, (*n + 1) * sizeof(**list));

	if (!l) {
		free(msg);
		return;
	}
	l[(*n)++] = msg;
	*list = l;
}

static char *vformat(const char *fmt, va_list ap)
{
	char *s;
	size_t len;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	/* messages are one line each; the newline is the printer's job */
	len = strlen(s);
	while (len && s[len - 1] == '\n')
		s[--len] = '\0';
	return s;
}

static int print_cb(enum sksteer_print_level level, const char *fmt,
		    va_list args)
{
	char *msg;

	if (level == SKSTEER_DEBUG && !verbose)
		return 0;
	msg = vformat(fmt, args);
	if (!msg)
		return 0;
	if (capturing && level != SKSTEER_DEBUG) {
		push(&captured, &ncaptured, msg);
		return 0;
	}
	fprintf(stderr, "%s\n", msg);
	if (level == SKSTEER_DEBUG)
		free(msg);
	else
		push(&messages, &nmessages, msg);
	return 0;
}

void msgs_capture_begin(void)
{
	capturing = true;
}

char *msgs_capture_end(void)
{
	size_t i, len = 0;
	char *s = NULL;

	capturing = false;
	for (i = 0; i < ncaptured; i++)
		len += strlen(captured[i]) + 2;
	if (ncaptured)
		s = malloc(len + 1);
	if (s)
		s[0] = '\0';
	for (i = 0; i < ncaptured; i++) {
		if (s) {
			if (i)
				strcat(s, "; ");
			strcat(s, captured[i]);
		}
		free(captured[i]);
	}
	free(captured);
	captured = NULL;
	ncaptured = 0;
	return s;
}

void json_messages(struct json_writer *jw)
{
	size_t i;

	jw_start_array(jw);
	for (i = 0; i < nmessages; i++)
		jw_string(jw, messages[i]);
	jw_end_array(jw);
}

static void p_msg(const char *what, const char *fmt, va_list ap, bool error)
{
	char *msg = vformat(fmt, ap), *line;

	if (!msg)
		return;
	fprintf(stderr, "%s: %s: %s\n", BIN_NAME, what, msg);
	if (asprintf(&line, "%s: %s: %s", BIN_NAME, what, msg) >= 0)
		push(&messages, &nmessages, line);
	if (error && !first_error)
		first_error = msg;
	else
		free(msg);
}

void p_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	p_msg("error", fmt, ap, true);
	va_end(ap);
}

void p_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	p_msg("warning", fmt, ap, false);
	va_end(ap);
}

/* ---- options ---- */

void print_common_opts(FILE *out)
{
	fprintf(out, "\nCommon options:\n"
		     "  -j, --json      output JSON\n"
		     "  -p, --pretty    output indented JSON (implies --json)\n"
		     "  -v, --verbose   show the library's debug messages\n"
		     "  -h, --help      show this help\n");
}

void cmd_opts_reset(void)
{
	/* GNU getopt: 0 re-initialises, so each command parses afresh */
	optind = 0;
	opterr = 0;
}

int usage_err(const struct cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = vformat(fmt, ap);
	va_end(ap);
	p_err("%s", msg ? msg : fmt);
	fprintf(stderr, "Try '%s %s -h' for its options.\n", BIN_NAME,
		cmd->name);
	free(msg);
	return 1;
}

bool common_opt(int c, char **argv, const struct cmd *cmd, int *ret)
{
	*ret = 0;
	switch (c) {
	case 'j':
		json_output = true;
		return false;
	case 'p':
		json_output = true;
		pretty_output = true;
		return false;
	case 'v':
		verbose = true;
		return false;
	case 'h':
		cmd->help(stdout);
		return true;
	case ':':
		*ret = usage_err(cmd, "%s: option '%s' needs an argument",
				 cmd->name, argv[optind - 1]);
		return true;
	default:
		if (optopt)
			*ret = usage_err(cmd, "%s: unknown option '-%c'",
					 cmd->name, optopt);
		else
			*ret = usage_err(cmd, "%s: unknown option '%s'",
					 cmd->name, argv[optind - 1]);
		return true;
	}
}

/* ---- commands ---- */

static int do_help(int argc, char **argv);
static int do_version(int argc, char **argv);
static void help_help(FILE *out);
static void help_version(FILE *out);

static const struct cmd cmd_help = {
	.name = "help",
	.func = do_help,
	.help = help_help,
	.summary = "show the commands, or a command's options",
};
static const struct cmd cmd_version = {
	.name = "version",
	.func = do_version,
	.help = help_version,
	.summary = "show the versions of the tool and the library",
};

/* The order of 'sksteer help'. A new command: one file, one line here. */
static const struct cmd *const cmds[] = {
	&cmd_check, &cmd_compile, &cmd_explain, &cmd_run,  &cmd_reload,
	&cmd_stats, &cmd_demo,	  &cmd_version, &cmd_help,
};

static void usage(FILE *out)
{
	size_t i;

	fprintf(out,
		"Usage: %s [OPTIONS] COMMAND [ARGS]\n"
		"       %s help [COMMAND]\n"
		"Steer each new connection or datagram of an SO_REUSEPORT group to the\n"
		"socket its rules pick.\n"
		"\n"
		"Commands:\n",
		BIN_NAME, BIN_NAME);
	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		fprintf(out, "  %-9s %s\n", cmds[i]->name, cmds[i]->summary);
	fprintf(out,
		"\n"
		"Options:\n"
		"  -j, --json      output JSON\n"
		"  -p, --pretty    output indented JSON (implies --json)\n"
		"  -v, --verbose   show the library's debug messages\n"
		"  -V, --version   show the versions and exit\n"
		"  -h, --help      show this help\n"
		"\n"
		"'%s COMMAND -h' shows a command's options. Exit status: 0 on\n"
		"success, 1 on any error. See sksteer(8) and sksteer.conf(5).\n",
		BIN_NAME);
}

static const struct cmd *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(cmds[i]->name, name))
			return cmds[i];
	return NULL;
}

/* Edit distance, for "did you mean": command names are short. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[32], prev, tmp;

	if (la >= ARRAY_SIZE(row) || lb >= ARRAY_SIZE(row))
		return (size_t)-1;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t best = prev + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

static int unknown_cmd(const char *name)
{
	const struct cmd *best = NULL;
	size_t i, d, best_d = 3;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		d = distance(name, cmds[i]->name);
		if (!strncmp(cmds[i]->name, name, strlen(name)))
			d = 0;
		if (d < best_d) {
			best_d = d;
			best = cmds[i];
		}
	}
	if (best)
		p_err("unknown command '%s' (did you mean '%s'?)", name,
		      best->name);
	else
		p_err("unknown command '%s'", name);
	fprintf(stderr, "Try '%s help' for the list of commands.\n", BIN_NAME);
	return 1;
}

static void help_help(FILE *out)
{
	fprintf(out,
		"Usage: %s help [OPTIONS] [COMMAND]\n"
		"Show the list of commands, or the options of COMMAND.\n",
		BIN_NAME);
	print_common_opts(out);
}

static int do_help(int argc, char **argv)
{
	static const struct option opts[] = { COMMON_LONGOPTS, { 0 } };
	const struct cmd *cmd;
	int c, ret;

	cmd_opts_reset();
	while ((c = getopt_long(argc, argv, ":" COMMON_SHORTOPTS, opts,
				NULL)) != -1)
		if (common_opt(c, argv, &cmd_help, &ret))
			return ret;
	if (optind >= argc) {
		usage(stdout);
		return 0;
	}
	if (optind + 1 < argc)
		return usage_err(&cmd_help, "help: one command at a time");
	cmd = find_cmd(argv[optind]);
	if (!cmd)
		return unknown_cmd(argv[optind]);
	cmd->help(stdout);
	return 0;
}

static void print_version(void)
{
	if (json_output) {
		jw_start_object(json_wtr);
		jw_string_field(json_wtr, "version", TOOL_VERSION);
		jw_string_field(json_wtr, "libsksteer",
				sksteer_version_string());
		jw_end_object(json_wtr);
		return;
	}
	printf("%s %s (libsksteer %s)\n", BIN_NAME, TOOL_VERSION,
	       sksteer_version_string());
}

static void help_version(FILE *out)
{
	fprintf(out,
		"Usage: %s version [OPTIONS]\n"
		"Show the versions of the tool and of the library (as -V).\n",
		BIN_NAME);
	print_common_opts(out);
}

static int do_version(int argc, char **argv)
{
	static const struct option opts[] = { COMMON_LONGOPTS, { 0 } };
	int c, ret;

	cmd_opts_reset();
	while ((c = getopt_long(argc, argv, ":" COMMON_SHORTOPTS, opts,
				NULL)) != -1)
		if (common_opt(c, argv, &cmd_version, &ret))
			return ret;
	if (optind < argc)
		return usage_err(&cmd_version,
				 "version: unexpected argument "
				 "'%s'",
				 argv[optind]);
	print_version();
	return 0;
}

/* ---- the JSON document ---- */

static void print_error_object(void)
{
	struct json_writer *jw = jw_new(stdout, pretty_output);

	if (!jw)
		return;
	jw_start_object(jw);
	jw_string_field(jw, "error",
			first_error ? first_error : "command failed");
	jw_name(jw, "messages");
	json_messages(jw);
	jw_end_object(jw);
	jw_free(jw);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	bool show_version = false, show_help = false;
	const struct cmd *cmd;
	char *json_buf = NULL;
	size_t json_len = 0, i;
	FILE *json_mem;
	int c, ret;

	sksteer_set_print(print_cb);
	json_mem = open_memstream(&json_buf, &json_len);
	if (!json_mem) {
		perror(BIN_NAME ": open_memstream");
		return 1;
	}

	opterr = 0;
	/* "+": global options end at the command; the command has its own */
	while ((c = getopt_long(argc, argv, "+:" COMMON_SHORTOPTS "V", opts,
				NULL)) != -1) {
		switch (c) {
		case 'j':
			json_output = true;
			break;
		case 'p':
			json_output = pretty_output = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'V':
			show_version = true;
			break;
		case 'h':
			show_help = true;
			break;
		default:
			if (optopt)
				p_err("unknown option '-%c'", optopt);
			else
				p_err("unknown option '%s'", argv[optind - 1]);
			fprintf(stderr, "Try '%s -h' for help.\n", BIN_NAME);
			ret = 1;
			goto out;
		}
	}
	json_wtr = jw_new(json_mem, pretty_output);
	if (!json_wtr) {
		perror(BIN_NAME);
		ret = 1;
		goto out;
	}

	if (show_version) {
		print_version();
		ret = 0;
	} else if (show_help) {
		usage(stdout);
		ret = 0;
	} else if (optind >= argc) {
		usage(stderr);
		p_err("no command given");
		ret = 1;
	} else {
		cmd = find_cmd(argv[optind]);
		if (cmd)
			ret = cmd->func(argc - optind, argv + optind);
		else
			ret = unknown_cmd(argv[optind]);
	}
out:
	jw_free(json_wtr);
	fclose(json_mem);
	if (json_output) {
		if (ret && !json_report)
			print_error_object();
		else if (json_len)
			fwrite(json_buf, 1, json_len, stdout);
	}
	free(json_buf);
	for (i = 0; i < nmessages; i++)
		free(messages[i]);
	free(messages);
	free(first_error);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "%s: error: writing the output: %s\n", BIN_NAME,
			strerror(errno));
		return 1;
	}
	return ret ? 1 : 0;
}
