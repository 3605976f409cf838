// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* sksteer compile: the classic BPF program of a service. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "main.h"

enum format { FMT_TEXT, FMT_C, FMT_BYTECODE, FMT_JSON };

static int do_compile(int argc, char **argv);

static void help(FILE *out)
{
	fprintf(out,
		"Usage: %s compile [OPTIONS] FILE\n"
		"Print the classic BPF program (SO_ATTACH_REUSEPORT_CBPF) of the\n"
		"services of FILE, with the socket order it assumes.\n"
		"\n"
		"Options:\n"
		"  -s, --service NAME    only the service NAME (needed for the c\n"
		"                        and bytecode formats when FILE has\n"
		"                        several services)\n"
		"  -f, --format FORMAT   text (tcpdump -d style, the default), c (a\n"
		"                        struct sock_filter array), bytecode\n"
		"                        (one line \"N,code jt jf k,...\", to load\n"
		"                        with SO_ATTACH_REUSEPORT_CBPF from any\n"
		"                        language) or json (the same as -j)\n",
		BIN_NAME);
	print_common_opts(out);
}

const struct cmd cmd_compile = {
	.name = "compile",
	.func = do_compile,
	.help = help,
	.summary = "print the classic BPF program of a service",
};

/* A C identifier from a service name (letters, digits, _ - .). */
static void c_ident(const char *name, char *buf, size_t size)
{
	size_t i, n = snprintf(buf, size, "sksteer_%s", name);

	for (i = 0; i < n && i < size; i++)
		if (!isalnum((unsigned char)buf[i]))
			buf[i] = '_';
}

/*
 * The socket order is part of the program's contract: a classic BPF
 * program can only return a position in the group, so whoever attaches
 * it must create the sockets in exactly this order.
 */
static void print_order(FILE *out, const struct sksteer_service *svc,
			const char *pre)
{
	size_t i, n = sksteer_service__pool_cnt(svc);
	unsigned int nsk = sksteer_service__socket_cnt(svc);
	char pos[32];

	fprintf(out,
		"%sSocket order: the program returns a position in the "
		"SO_REUSEPORT\n"
		"%sgroup, so the sockets must join the group in this order:\n",
		pre, pre);
	for (i = 0; i < n; i++) {
		const struct sksteer_pool *p = sksteer_service__pool(svc, i);
		unsigned int f = sksteer_pool__first(p);
		unsigned int sz = sksteer_pool__size(p);

		if (sz == 1) {
			snprintf(pos, sizeof(pos), "%u", f);
			fprintf(out, "%s  %-11s pool %s\n", pre, pos,
				sksteer_pool__name(p));
			continue;
		}
		snprintf(pos, sizeof(pos), "%u-%u", f, f + sz - 1);
		fprintf(out, "%s  %-11s pool %s, sockets 0-%u\n", pre, pos,
			sksteer_pool__name(p), sz - 1);
	}
	fprintf(out,
		"%sA return value of %u or more leaves the choice to the "
		"kernel's hash.\n",
		pre, nsk);
}

static void print_head(FILE *out, const struct sksteer_service *svc,
		       const struct sksteer_prog *prog, const char *pre)
{
	socklen_t len;
	char addr[64];

	fmt_sockaddr(sksteer_service__listen_addr(svc, &len), addr,
		     sizeof(addr));
	fprintf(out, "%sservice %s: %s %s, %zu instructions\n", pre,
		sksteer_service__name(svc),
		proto_name(sksteer_service__protocol(svc)), addr,
		sksteer_prog__insn_cnt(prog));
	print_order(out, svc, pre);
}

static int print_c(const struct sksteer_service *svc,
		   const struct sksteer_prog *prog)
{
	char ident[128], *body = NULL, *line, *save = NULL;
	size_t body_len = 0;
	FILE *mem;
	int err;

	mem = open_memstream(&body, &body_len);
	if (!mem)
		return -errno;
	err = sksteer_prog__fprint(prog, SKSTEER_PROG_C, mem);
	if (fclose(mem) && !err)
		err = -EIO;
	if (err) {
		free(body);
		return err;
	}
	c_ident(sksteer_service__name(svc), ident, sizeof(ident));
	printf("/*\n");
	print_head(stdout, svc, prog, " * ");
	printf(" * Attach with setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF)\n"
	       " * on a socket of the group.\n"
	       " */\n"
	       "#include <linux/filter.h>\n"
	       "\n"
	       "static const struct sock_filter %s_prog[%zu] = {\n",
	       ident, sksteer_prog__insn_cnt(prog));
	for (line = strtok_r(body, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		printf("\t%s\n", line);
	printf("};\n");
	free(body);
	return 0;
}

static void print_json(const struct sksteer_service *svc,
		       const struct sksteer_prog *prog)
{
	const struct sock_filter *insns = sksteer_prog__insns(prog);
	size_t i, n = sksteer_prog__insn_cnt(prog), np;
	socklen_t len;
	char buf[128];

	jw_start_object(json_wtr);
	jw_string_field(json_wtr, "service", sksteer_service__name(svc));
	jw_string_field(json_wtr, "protocol",
			proto_name(sksteer_service__protocol(svc)));
	fmt_sockaddr(sksteer_service__listen_addr(svc, &len), buf, sizeof(buf));
	jw_string_field(json_wtr, "listen", buf);
	jw_uint_field(json_wtr, "insns", n);
	jw_uint_field(json_wtr, "sockets", sksteer_service__socket_cnt(svc));
	jw_name(json_wtr, "program");
	jw_start_array(json_wtr);
	for (i = 0; i < n; i++) {
		jw_start_object(json_wtr);
		jw_uint_field(json_wtr, "code", insns[i].code);
		jw_uint_field(json_wtr, "jt", insns[i].jt);
		jw_uint_field(json_wtr, "jf", insns[i].jf);
		jw_uint_field(json_wtr, "k", insns[i].k);
		if (sksteer_prog__disasm(prog, i, buf, sizeof(buf)) < 0)
			buf[0] = '\0';
		jw_string_field(json_wtr, "text", buf);
		jw_end_object(json_wtr);
	}
	jw_end_array(json_wtr);
	jw_name(json_wtr, "socket_order");
	jw_start_array(json_wtr);
	np = sksteer_service__pool_cnt(svc);
	for (i = 0; i < np; i++) {
		const struct sksteer_pool *p = sksteer_service__pool(svc, i);
		unsigned int j;

		for (j = 0; j < sksteer_pool__size(p); j++) {
			jw_start_object(json_wtr);
			jw_uint_field(json_wtr, "position",
				      sksteer_pool__first(p) + j);
			jw_string_field(json_wtr, "pool",
					sksteer_pool__name(p));
			jw_uint_field(json_wtr, "index", j);
			jw_end_object(json_wtr);
		}
	}
	jw_end_array(json_wtr);
	jw_end_object(json_wtr);
}

static int do_compile(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "format", required_argument, NULL, 'f' },
		COMMON_LONGOPTS,
		{ 0 },
	};
	struct sksteer_service **svcs = NULL;
	const char *svc_name = NULL, *path;
	struct sksteer_config *cfg;
	enum format fmt = FMT_TEXT;
	bool fmt_given = false;
	int c, ret, n, i, err;

	cmd_opts_reset();
	while ((c = getopt_long(argc, argv, ":s:f:" COMMON_SHORTOPTS, opts,
				NULL)) != -1) {
		switch (c) {
		case 's':
			svc_name = optarg;
			break;
		case 'f':
			fmt_given = true;
			if (!strcmp(optarg, "text"))
				fmt = FMT_TEXT;
			else if (!strcmp(optarg, "c"))
				fmt = FMT_C;
			else if (!strcmp(optarg, "bytecode"))
				fmt = FMT_BYTECODE;
			else if (!strcmp(optarg, "json"))
				fmt = FMT_JSON;
			else
				return usage_err(&cmd_compile,
						 "compile: --format '%s': "
						 "expected text, c, bytecode "
						 "or json",
						 optarg);
			break;
		default:
			if (common_opt(c, argv, &cmd_compile, &ret))
				return ret;
		}
	}
	if (fmt == FMT_JSON)
		json_output = true;
	else if (json_output && fmt_given)
		return usage_err(&cmd_compile,
				 "compile: --json and --format %s disagree",
				 fmt == FMT_TEXT ? "text" :
				 fmt == FMT_C	 ? "c" :
						   "bytecode");
	else if (json_output)
		fmt = FMT_JSON;
	if (one_file_operand(&cmd_compile, argc, argv, &path))
		return 1;

	cfg = load_config(path);
	if (!cfg)
		return 1;
	n = select_services(cfg, path, svc_name, &svcs);
	if (n < 0) {
		ret = 1;
		goto out_free_cfg;
	}
	if (n > 1 && (fmt == FMT_C || fmt == FMT_BYTECODE)) {
		p_err("%s has %d services: the %s format needs --service "
		      "NAME",
		      path, n, fmt == FMT_C ? "c" : "bytecode");
		ret = 1;
		goto out_free_svcs;
	}
	/* --service gives one object; all services, an array of them */
	if (fmt == FMT_JSON && !svc_name)
		jw_start_array(json_wtr);
	ret = 0;
	for (i = 0; i < n; i++) {
		struct sksteer_prog *prog;

		/* the library says why (too big, or drop needs eBPF) */
		prog = sksteer_service__compile(svcs[i], NULL);
		if (!prog) {
			p_err("%s: service '%s': no classic BPF program: %s",
			      path, sksteer_service__name(svcs[i]),
			      errno == EOPNOTSUPP ? "a rule needs the eBPF "
						    "backend" :
			      errno == E2BIG	  ? "too many instructions" :
						    strerror(errno));
			ret = 1;
			break;
		}
		err = 0;
		switch (fmt) {
		case FMT_TEXT:
			if (i)
				printf("\n");
			print_head(stdout, svcs[i], prog, "; ");
			err = sksteer_prog__fprint(prog, SKSTEER_PROG_TEXT,
						   stdout);
			break;
		case FMT_C:
			err = print_c(svcs[i], prog);
			break;
		case FMT_BYTECODE:
			err = sksteer_prog__fprint(prog, SKSTEER_PROG_BYTECODE,
						   stdout);
			break;
		case FMT_JSON:
			print_json(svcs[i], prog);
			break;
		}
		sksteer_prog__free(prog);
		if (err) {
			p_err("writing the program: %s", strerror(-err));
			ret = 1;
			break;
		}
	}
	if (fmt == FMT_JSON && !svc_name)
		jw_end_array(json_wtr);

out_free_svcs:
	free(svcs);
out_free_cfg:
	sksteer_config__free(cfg);
	return ret;
}
