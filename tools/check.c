// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* sksteer check: validate a configuration and summarise it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "main.h"
#include "model.h"

static void help(FILE *out)
{
	fprintf(out,
		"Usage: %s check [OPTIONS] FILE\n"
		"Validate FILE (see sksteer.conf(5)) and summarise each service:\n"
		"listen address, pools and their positions in the group, sets,\n"
		"rules, default, the backend this process would use and the size\n"
		"of the classic BPF program. Each pool's options are applied to a\n"
		"test socket (unbound, in no group) as run applies them; warnings\n"
		"name rules that never match (an earlier rule takes all their\n"
		"packets, or their 'to' misses the listen address) and a default\n"
		"hash beside pools that set a mark.\n"
		"\n"
		"Options:\n"
		"  -s, --service NAME     only the service NAME\n"
		"  -b, --backend BACKEND  cbpf, ebpf or auto instead of the\n"
		"                         configuration's backend\n",
		BIN_NAME);
	print_common_opts(out);
	fprintf(out,
		"\n"
		"Exit status: 0 when every service is valid and usable by this\n"
		"build and process with its backend and pool options (warnings\n"
		"included), 1 otherwise.\n");
}

static int do_check(int argc, char **argv);

const struct cmd cmd_check = {
	.name = "check",
	.func = do_check,
	.help = help,
	.summary = "validate a configuration and summarise it",
};

struct strict;

struct verdict {
	enum sksteer_backend requested;
	/* SKSTEER_BACKEND_CBPF or _EBPF; _DEFAULT when none is usable */
	enum sksteer_backend resolved;
	char reason[1536];
	bool ebpf_ok;
	char ebpf_why[256];
	bool cbpf_ok;
	size_t insns;
	int cbpf_errno;
	char *cbpf_err; /* the library's reason */
	/* the program on this kernel (net.core.optmem_max) */
	struct sksteer_prog_fit fit;
	int fit_err;
	char fit_text[512];
	struct strict *st; /* options probed, warnings (strict_check) */
};

/*
 * "N of M classic BPF instructions fit on this kernel (...)", or why not
 * and how to raise the limit. The kernel counts the program after its
 * conversion to eBPF, so M is for this program's mix of instructions.
 */
static void describe_fit(struct verdict *v)
{
	const struct sksteer_prog_fit *f = &v->fit;
	char optmem[96];

	if (v->fit_err) {
		snprintf(v->fit_text, sizeof(v->fit_text),
			 "%zu classic BPF instructions (%zu eBPF instructions "
			 "once the kernel converts them); whether they fit on "
			 "this kernel is unknown: %s",
			 f->insns, f->ebpf_insns, strerror(-v->fit_err));
		return;
	}
	if (f->optmem_max >= 0)
		snprintf(optmem, sizeof(optmem), "net.core.optmem_max=%ld",
			 f->optmem_max);
	else
		snprintf(optmem, sizeof(optmem),
			 "net.core.optmem_max (not readable here)");
	if (f->fits && f->ebpf_limit == SIZE_MAX)
		snprintf(v->fit_text, sizeof(v->fit_text),
			 "%zu of %zu classic BPF instructions fit on this "
			 "kernel (%zu eBPF instructions once converted; %s "
			 "allows more than any classic program needs)",
			 f->insns, f->max_insns, f->ebpf_insns, optmem);
	else if (f->fits)
		snprintf(v->fit_text, sizeof(v->fit_text),
			 "%zu of %zu classic BPF instructions fit on this "
			 "kernel (%zu eBPF instructions once converted, of "
			 "%zu that %s allows)",
			 f->insns, f->max_insns, f->ebpf_insns, f->ebpf_limit,
			 optmem);
	else if (f->optmem_needed > 0)
		snprintf(v->fit_text, sizeof(v->fit_text),
			 "%zu classic BPF instructions, but only %zu of them "
			 "fit on this kernel (%zu eBPF instructions once "
			 "converted, %zu allowed by %s): raise the limit with "
			 "'sysctl -w net.core.optmem_max=%ld' or use 'backend "
			 "ebpf'",
			 f->insns, f->max_insns, f->ebpf_insns, f->ebpf_limit,
			 optmem, f->optmem_needed);
	else
		snprintf(v->fit_text, sizeof(v->fit_text),
			 "%zu classic BPF instructions, but only %zu of them "
			 "fit on this kernel (%zu eBPF instructions once "
			 "converted, %zu allowed by %s): raise net.core."
			 "optmem_max by at least %zu bytes, or use 'backend "
			 "ebpf'",
			 f->insns, f->max_insns, f->ebpf_insns, f->ebpf_limit,
			 optmem, 8 * (f->ebpf_insns - f->ebpf_limit));
}

static void decide(const struct sksteer_service *svc,
		   enum sksteer_backend override, struct verdict *v)
{
	struct sksteer_prog *prog;
	const char *cbpf_err, *cannot = "cannot be compiled to classic BPF";
	char why[1024];
	int b;

	memset(v, 0, sizeof(*v));
	v->requested = override ? override : sksteer_service__backend(svc);
	if (v->requested == SKSTEER_BACKEND_DEFAULT)
		v->requested = SKSTEER_BACKEND_AUTO;
	v->ebpf_ok = ebpf_usable(v->ebpf_why, sizeof(v->ebpf_why));

	msgs_capture_begin();
	prog = sksteer_service__compile(svc, NULL);
	v->cbpf_errno = prog ? 0 : errno;
	v->cbpf_err = msgs_capture_end();
	strip_service_prefix(v->cbpf_err, svc);
	if (prog) {
		v->cbpf_ok = true;
		v->insns = sksteer_prog__insn_cnt(prog);
		v->fit.sz = sizeof(v->fit);
		v->fit_err = sksteer_prog__kernel_fit(prog, &v->fit);
		describe_fit(v);
		/* compiled, but this kernel would refuse it */
		if (!v->fit_err && !v->fit.fits) {
			v->cbpf_ok = false;
			v->cbpf_errno = E2BIG;
			v->cbpf_err = strdup(v->fit_text);
			cannot = "the classic BPF program is too large for "
				 "this kernel";
		}
		sksteer_prog__free(prog);
	} else if (!v->cbpf_err) {
		v->cbpf_err = strdup(strerror(v->cbpf_errno));
	}
	cbpf_err = v->cbpf_err ? v->cbpf_err : "?";

	/* the library decides, as a group would at start; its reason says
	 * what auto falls back from and what classic BPF lacks */
	b = sksteer_service__choose_backend(svc, v->requested, why,
					    sizeof(why));
	strip_service_prefix(why, svc);
	if (b < 0) {
		snprintf(v->reason, sizeof(v->reason),
			 "backend ebpf requested, but %s", why);
		return;
	}
	if (b == SKSTEER_BACKEND_CBPF && !v->cbpf_ok) {
		if (v->requested == SKSTEER_BACKEND_CBPF)
			snprintf(v->reason, sizeof(v->reason), "%s: %s", cannot,
				 cbpf_err);
		else {
			/* what classic BPF lacks is beside the point here */
			char *lacks = strstr(why, "; classic BPF ");

			if (lacks)
				*lacks = '\0';
			snprintf(v->reason, sizeof(v->reason),
				 "%s (%s): the eBPF backend will be needed, "
				 "and %s",
				 cannot, cbpf_err, why);
		}
		return;
	}
	v->resolved = b;
	snprintf(v->reason, sizeof(v->reason), "%s", why);
	/* permission is not enough for an explicit ebpf either: the verifier
	 * must take the program, which a group would load at start; say so
	 * now, not then (auto has loaded it already) */
	if (v->requested == SKSTEER_BACKEND_EBPF) {
		char *msg;
		int err;

		msgs_capture_begin();
		err = tool_ebpf_verify(svc);
		msg = msgs_capture_end();
		if (err) {
			strip_service_prefix(msg, svc);
			v->resolved = SKSTEER_BACKEND_DEFAULT;
			snprintf(v->reason, sizeof(v->reason),
				 "the kernel refuses the eBPF program: %s",
				 msg ? msg : strerror(-err));
		}
		free(msg);
	}
}

static const char *family_desc(const struct sksteer_service *svc)
{
	socklen_t len;
	const struct sockaddr *sa = sksteer_service__listen_addr(svc, &len);

	if (sksteer_service__dual_stack(svc))
		return "dual-stack: IPv4 and IPv6";
	return sa->sa_family == AF_INET ? "IPv4 only" : "IPv6 only";
}

/*
 * What run would meet beyond the program: each pool's options on a
 * throwaway socket (the library's own code, so the message is run's) and
 * the rules and default that are valid but not meant.
 */
struct strict {
	size_t probed; /* pools that set options and were probed */
	const char *bad_pool; /* the first pool whose options fail */
	char *opts_err; /* its message */
	struct sksteer_lint *lint;
	size_t nlint;
};

static void strict_check(const struct sksteer_service *svc, struct strict *st)
{
	size_t i, n = sksteer_service__pool_cnt(svc);
	struct tool_opt opts[16];
	int cnt;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < n && !st->bad_pool; i++) {
		const struct sksteer_pool *p = sksteer_service__pool(svc, i);
		int err;

		if (!tool_pool_opts(p, opts, ARRAY_SIZE(opts)))
			continue;
		st->probed++;
		msgs_capture_begin();
		err = sksteer_pool__probe_options(svc, p);
		st->opts_err = msgs_capture_end();
		if (!err) {
			free(st->opts_err);
			st->opts_err = NULL;
			continue;
		}
		st->bad_pool = sksteer_pool__name(p);
		if (!st->opts_err)
			st->opts_err = strdup(strerror(-err));
	}
	cnt = sksteer_service__lint(svc, NULL, 0);
	if (cnt > 0) {
		st->lint = calloc((size_t)cnt, sizeof(*st->lint));
		if (st->lint)
			st->nlint = (size_t)sksteer_service__lint(svc, st->lint,
								  (size_t)cnt);
	}
}

static void strict_free(struct strict *st)
{
	free(st->opts_err);
	free(st->lint);
}

static void print_strict_text(const struct strict *st)
{
	size_t i;

	if (st->bad_pool) {
		/* the service and pool are in the line already; the error
		 * (with run's whole message) follows the summary */
		const char *why = strstr(st->opts_err, ", socket 0: ");

		printf("  options  pool '%s' REFUSED on a test socket: %s\n",
		       st->bad_pool, why ? why + 12 : st->opts_err);
	} else if (st->probed)
		printf("  options  applied to a test socket and read back: OK "
		       "(%zu pool%s)\n",
		       st->probed, st->probed == 1 ? "" : "s");
	else
		printf("  options  none set\n");
	for (i = 0; i < st->nlint; i++)
		printf("  warning  %s\n", st->lint[i].text);
}

static const char *lint_kind_name(enum sksteer_lint_kind k)
{
	return k == SKSTEER_LINT_SHADOWED      ? "shadowed" :
	       k == SKSTEER_LINT_NEVER_MATCHES ? "never_matches" :
	       k == SKSTEER_LINT_HASH_MARKS    ? "default_hash_marks" :
						 "?";
}

/* "options" and "warnings" of a service's JSON object */
static void print_strict_json(const struct strict *st)
{
	size_t i;

	jw_name(json_wtr, "options");
	jw_start_object(json_wtr);
	jw_uint_field(json_wtr, "probed", st->probed);
	jw_bool_field(json_wtr, "ok", !st->bad_pool);
	if (st->bad_pool) {
		jw_string_field(json_wtr, "pool", st->bad_pool);
		jw_string_field(json_wtr, "error", st->opts_err);
	}
	jw_end_object(json_wtr);
	jw_name(json_wtr, "warnings");
	jw_start_array(json_wtr);
	for (i = 0; i < st->nlint; i++) {
		const struct sksteer_lint *l = &st->lint[i];

		jw_start_object(json_wtr);
		jw_string_field(json_wtr, "kind", lint_kind_name(l->kind));
		if (l->rule >= 0)
			jw_uint_field(json_wtr, "rule", (uint64_t)l->rule + 1);
		else
			jw_null_field(json_wtr, "rule");
		if (l->by_rule >= 0)
			jw_uint_field(json_wtr, "by_rule",
				      (uint64_t)l->by_rule + 1);
		jw_string_field(json_wtr, "text", l->text);
		jw_end_object(json_wtr);
	}
	jw_end_array(json_wtr);
}

/* usable by this process: a backend, and pool options the kernel takes */
static bool usable(const struct verdict *v)
{
	return v->resolved != SKSTEER_BACKEND_DEFAULT && !v->st->bad_pool;
}

/* ", 2 warnings" for the last line, or "" */
static const char *warn_count(size_t n)
{
	static char buf[48];

	if (!n)
		return "";
	snprintf(buf, sizeof(buf), ", %zu warning%s", n, n == 1 ? "" : "s");
	return buf;
}

static void print_set_text(const struct tool_set *s)
{
	printf("    %-10s %zu prefix%s", s->name, s->nprefixes,
	       s->nprefixes == 1 ? "" : "es");
	if (s->path)
		printf(" from \"%s\"", s->path);
	if (s->skipped)
		printf(" (%zu bad line%s skipped)", s->skipped,
		       s->skipped == 1 ? "" : "s");
	printf(": %zu IPv4 range%s, %zu IPv6 range%s after merging\n",
	       s->ranges4, s->ranges4 == 1 ? "" : "s", s->ranges6,
	       s->ranges6 == 1 ? "" : "s");
}

static void print_sets_json(const struct sksteer_config *cfg,
			    const struct sksteer_service *svc)
{
	size_t i, n = tool_set_cnt(cfg, svc);
	struct tool_set s;

	jw_name(json_wtr, "sets");
	jw_start_array(json_wtr);
	for (i = 0; i < n; i++) {
		tool_set_get(cfg, svc, i, &s);
		jw_start_object(json_wtr);
		jw_string_field(json_wtr, "name", s.name);
		jw_string_field(json_wtr, "file", s.path);
		jw_uint_field(json_wtr, "line", (uint64_t)s.line);
		jw_uint_field(json_wtr, "prefixes", s.nprefixes);
		jw_uint_field(json_wtr, "skipped_lines", s.skipped);
		jw_uint_field(json_wtr, "ranges4", s.ranges4);
		jw_uint_field(json_wtr, "ranges6", s.ranges6);
		jw_end_object(json_wtr);
	}
	jw_end_array(json_wtr);
}

static void print_text(const struct sksteer_config *cfg,
		       const struct sksteer_service *svc,
		       const struct verdict *v)
{
	size_t i, j, n, nopts;
	struct tool_opt opts[16];
	char buf[256];
	struct tool_set s;
	socklen_t len;

	printf("service %s\n", sksteer_service__name(svc));
	fmt_sockaddr(sksteer_service__listen_addr(svc, &len), buf, sizeof(buf));
	printf("  listen   %s %s (%s)\n",
	       proto_name(sksteer_service__protocol(svc)), buf,
	       family_desc(svc));
	n = sksteer_service__pool_cnt(svc);
	printf("  pools    %zu pool%s, %u socket%s in the group\n", n,
	       n == 1 ? "" : "s", sksteer_service__socket_cnt(svc),
	       sksteer_service__socket_cnt(svc) == 1 ? "" : "s");
	for (i = 0; i < n; i++) {
		const struct sksteer_pool *p = sksteer_service__pool(svc, i);
		unsigned int first = sksteer_pool__first(p);
		unsigned int size = sksteer_pool__size(p);
		char cnt[32], line[512];
		size_t l;
		bool dflt;

		snprintf(cnt, sizeof(cnt), "%u socket%s", size,
			 size == 1 ? "" : "s");
		if (size == 1)
			snprintf(buf, sizeof(buf), "position %u", first);
		else
			snprintf(buf, sizeof(buf), "positions %u-%u", first,
				 first + size - 1);
		l = (size_t)snprintf(line, sizeof(line),
				     "    %-10s %-11s %-16s",
				     sksteer_pool__name(p), cnt, buf);
		nopts = tool_pool_opts(p, opts, ARRAY_SIZE(opts));
		for (j = 0;
		     j < nopts && j < ARRAY_SIZE(opts) && l < sizeof(line); j++)
			l += (size_t)snprintf(line + l, sizeof(line) - l,
					      "%s%s %s", j ? ", " : "",
					      opts[j].name, opts[j].text);
		tool_pool_fallback(p, buf, sizeof(buf), &dflt);
		if (!dflt && l < sizeof(line))
			snprintf(line + l, sizeof(line) - l, "%sfallback %s",
				 nopts ? ", " : "", buf);
		/* no trailing blanks when the pool sets nothing */
		l = strlen(line);
		while (l && line[l - 1] == ' ')
			line[--l] = '\0';
		printf("%s\n", line);
	}
	n = tool_set_cnt(cfg, svc);
	if (n) {
		printf("  sets\n");
		for (i = 0; i < n; i++) {
			tool_set_get(cfg, svc, i, &s);
			print_set_text(&s);
		}
	}
	n = sksteer_service__rule_cnt(svc);
	printf("  rules    %zu%s\n", n,
	       n ? " (the first that matches decides)" : "");
	for (i = 0; i < n; i++)
		printf("    %-2zu %s\n", i + 1, rule_body(svc, i));
	tool_default_target(svc, buf, sizeof(buf));
	printf("  default  %s\n", buf);
	if (v->resolved != SKSTEER_BACKEND_DEFAULT)
		printf("  backend  %s: uses %s (%s)\n",
		       backend_name(v->requested), backend_name(v->resolved),
		       v->reason);
	else
		printf("  backend  %s: UNUSABLE: %s\n",
		       backend_name(v->requested), v->reason);
	if (v->fit.insns)
		printf("  program  %s\n", v->fit_text);
	else
		printf("  program  no classic BPF program: %s\n", v->cbpf_err);
	print_strict_text(v->st);
}

/* the "kernel" object: the program against this kernel's limit */
static void print_fit_json(const struct verdict *v)
{
	const struct sksteer_prog_fit *f = &v->fit;

	jw_name(json_wtr, "kernel");
	jw_start_object(json_wtr);
	jw_uint_field(json_wtr, "insns", f->insns);
	jw_uint_field(json_wtr, "ebpf_insns", f->ebpf_insns);
	if (f->optmem_max >= 0)
		jw_int_field(json_wtr, "optmem_max", f->optmem_max);
	else
		jw_null_field(json_wtr, "optmem_max");
	if (v->fit_err) {
		jw_null_field(json_wtr, "fits");
		jw_string_field(json_wtr, "error", strerror(-v->fit_err));
	} else {
		jw_bool_field(json_wtr, "fits", f->fits);
		jw_uint_field(json_wtr, "fit_insns", f->max_insns);
		if (f->ebpf_limit == SIZE_MAX)
			jw_null_field(json_wtr, "ebpf_limit");
		else
			jw_uint_field(json_wtr, "ebpf_limit", f->ebpf_limit);
		if (f->optmem_needed > 0)
			jw_int_field(json_wtr, "optmem_needed",
				     f->optmem_needed);
		else
			jw_null_field(json_wtr, "optmem_needed");
	}
	jw_string_field(json_wtr, "text", v->fit_text);
	jw_end_object(json_wtr);
}

static void print_json(const struct sksteer_config *cfg,
		       const struct sksteer_service *svc,
		       const struct verdict *v)
{
	const struct sockaddr *sa;
	struct tool_opt opts[16];
	char buf[256];
	size_t i, j, n, nopts;
	socklen_t len;

	jw_start_object(json_wtr);
	jw_string_field(json_wtr, "name", sksteer_service__name(svc));
	jw_string_field(json_wtr, "protocol",
			proto_name(sksteer_service__protocol(svc)));
	sa = sksteer_service__listen_addr(svc, &len);
	fmt_sockaddr(sa, buf, sizeof(buf));
	jw_string_field(json_wtr, "listen", buf);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		fmt_addr(AF_INET, &in->sin_addr, buf, sizeof(buf));
		jw_string_field(json_wtr, "address", buf);
		jw_uint_field(json_wtr, "port", ntohs(in->sin_port));
	} else {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		fmt_addr(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
		jw_string_field(json_wtr, "address", buf);
		jw_uint_field(json_wtr, "port", ntohs(in6->sin6_port));
	}
	jw_bool_field(json_wtr, "dual_stack", sksteer_service__dual_stack(svc));
	jw_bool_field(json_wtr, "ipv4",
		      sa->sa_family == AF_INET ||
			      sksteer_service__dual_stack(svc));
	jw_bool_field(json_wtr, "ipv6", sa->sa_family == AF_INET6);
	jw_uint_field(json_wtr, "sockets", sksteer_service__socket_cnt(svc));

	jw_name(json_wtr, "pools");
	jw_start_array(json_wtr);
	n = sksteer_service__pool_cnt(svc);
	for (i = 0; i < n; i++) {
		const struct sksteer_pool *p = sksteer_service__pool(svc, i);
		bool dflt;

		jw_start_object(json_wtr);
		jw_string_field(json_wtr, "name", sksteer_pool__name(p));
		jw_uint_field(json_wtr, "sockets", sksteer_pool__size(p));
		jw_uint_field(json_wtr, "first", sksteer_pool__first(p));
		jw_uint_field(json_wtr, "last",
			      sksteer_pool__first(p) + sksteer_pool__size(p) -
				      1);
		jw_name(json_wtr, "options");
		jw_start_object(json_wtr);
		nopts = tool_pool_opts(p, opts, ARRAY_SIZE(opts));
		for (j = 0; j < nopts && j < ARRAY_SIZE(opts); j++) {
			jw_name(json_wtr, opts[j].name);
			if (opts[j].kind == TOOL_OPT_NUM)
				jw_uint(json_wtr, opts[j].num);
			else if (opts[j].kind == TOOL_OPT_BOOL)
				jw_bool(json_wtr, opts[j].on);
			else
				jw_string(json_wtr, opts[j].text);
		}
		jw_end_object(json_wtr);
		tool_pool_fallback(p, buf, sizeof(buf), &dflt);
		jw_string_field(json_wtr, "fallback", buf);
		jw_end_object(json_wtr);
	}
	jw_end_array(json_wtr);

	print_sets_json(cfg, svc);

	n = sksteer_service__rule_cnt(svc);
	jw_uint_field(json_wtr, "rule_count", n);
	jw_name(json_wtr, "rules");
	jw_start_array(json_wtr);
	for (i = 0; i < n; i++) {
		jw_start_object(json_wtr);
		jw_uint_field(json_wtr, "rule", i + 1);
		jw_uint_field(json_wtr, "line",
			      (uint64_t)tool_rule_line(svc, i));
		jw_string_field(json_wtr, "text",
				sksteer_service__rule_text(svc, i));
		jw_end_object(json_wtr);
	}
	jw_end_array(json_wtr);
	tool_default_target(svc, buf, sizeof(buf));
	jw_string_field(json_wtr, "default", buf);

	jw_name(json_wtr, "backend");
	jw_start_object(json_wtr);
	jw_string_field(json_wtr, "requested", backend_name(v->requested));
	if (v->resolved != SKSTEER_BACKEND_DEFAULT)
		jw_string_field(json_wtr, "resolved",
				backend_name(v->resolved));
	else
		jw_null_field(json_wtr, "resolved");
	jw_string_field(json_wtr, "reason", v->reason);
	jw_bool_field(json_wtr, "ebpf_available", v->ebpf_ok);
	if (!v->ebpf_ok)
		jw_string_field(json_wtr, "ebpf_unavailable", v->ebpf_why);
	jw_end_object(json_wtr);

	jw_name(json_wtr, "cbpf");
	jw_start_object(json_wtr);
	jw_bool_field(json_wtr, "ok", v->cbpf_ok);
	if (v->insns)
		jw_uint_field(json_wtr, "insns", v->insns);
	else
		jw_null_field(json_wtr, "insns");
	if (!v->cbpf_ok) {
		jw_string_field(json_wtr, "error", v->cbpf_err);
		jw_bool_field(json_wtr, "too_big", v->cbpf_errno == E2BIG);
		jw_bool_field(json_wtr, "needs_ebpf",
			      v->cbpf_errno == E2BIG ||
				      v->cbpf_errno == EOPNOTSUPP);
	}
	jw_uint_field(json_wtr, "max_insns", SKSTEER_CBPF_MAX_INSNS);
	if (v->fit.insns)
		print_fit_json(v);
	jw_end_object(json_wtr);
	print_strict_json(v->st);
	jw_bool_field(json_wtr, "ok", usable(v));
	jw_end_object(json_wtr);
}

static int do_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "backend", required_argument, NULL, 'b' },
		COMMON_LONGOPTS,
		{ 0 },
	};
	enum sksteer_backend override = SKSTEER_BACKEND_DEFAULT;
	struct sksteer_service **svcs = NULL;
	const char *svc_name = NULL, *path;
	struct sksteer_config *cfg;
	struct verdict *v = NULL;
	struct strict *st = NULL;
	size_t nwarn = 0;
	int c, ret, n, i, bad = 0;
	char clash[1024];
	bool clashes;
	struct tool_set s;
	size_t k, nsets;

	cmd_opts_reset();
	while ((c = getopt_long(argc, argv, ":s:b:" COMMON_SHORTOPTS, opts,
				NULL)) != -1) {
		switch (c) {
		case 's':
			svc_name = optarg;
			break;
		case 'b':
			if (!parse_backend(optarg, &override))
				return usage_err(&cmd_check,
						 "check: --backend '%s': "
						 "expected cbpf, ebpf or auto",
						 optarg);
			break;
		default:
			if (common_opt(c, argv, &cmd_check, &ret))
				return ret;
		}
	}
	if (one_file_operand(&cmd_check, argc, argv, &path))
		return 1;

	cfg = load_config(path);
	if (!cfg)
		return 1;
	n = select_services(cfg, path, svc_name, &svcs);
	if (n < 0) {
		ret = 1;
		goto out_free_cfg;
	}
	v = calloc((size_t)n, sizeof(*v));
	st = calloc((size_t)n, sizeof(*st));
	if (!v || !st) {
		p_err("out of memory");
		free(v);
		free(st);
		ret = 1;
		goto out_free_svcs;
	}
	for (i = 0; i < n; i++) {
		decide(svcs[i], override, &v[i]);
		v[i].st = &st[i];
		strict_check(svcs[i], v[i].st);
		nwarn += st[i].nlint;
		if (!usable(&v[i]))
			bad++;
	}
	/* 'run' refuses them: so does check */
	clashes = services_clash(svcs, (size_t)n, path, clash, sizeof(clash));
	bad += clashes;

	nsets = tool_set_cnt(cfg, NULL);
	if (json_output) {
		jw_start_object(json_wtr);
		jw_string_field(json_wtr, "file", path);
		jw_bool_field(json_wtr, "ok", !bad);
		print_sets_json(cfg, NULL);
		jw_name(json_wtr, "services");
		jw_start_array(json_wtr);
		for (i = 0; i < n; i++)
			print_json(cfg, svcs[i], &v[i]);
		jw_end_array(json_wtr);
	} else {
		if (nsets) {
			printf("sets (top level)\n");
			for (k = 0; k < nsets; k++) {
				tool_set_get(cfg, NULL, k, &s);
				print_set_text(&s);
			}
			printf("\n");
		}
		for (i = 0; i < n; i++) {
			print_text(cfg, svcs[i], &v[i]);
			printf("\n");
		}
	}

	for (i = 0; i < n; i++)
		if (v[i].resolved == SKSTEER_BACKEND_DEFAULT)
			p_err("%s: service '%s' cannot be used: %s", path,
			      sksteer_service__name(svcs[i]), v[i].reason);
		else if (st[i].bad_pool)
			p_err("%s: service '%s' cannot be used: %s", path,
			      sksteer_service__name(svcs[i]), st[i].opts_err);
	if (clashes)
		p_err("%s", clash);
	if (!json_output) {
		if (bad)
			printf("%s: %d of %d service%s cannot be used\n", path,
			       bad, n, n == 1 ? "" : "s");
		else
			printf("%s: OK (%d service%s%s)\n", path, n,
			       n == 1 ? "" : "s", warn_count(nwarn));
	} else {
		/* warnings of the parser, errors above */
		jw_name(json_wtr, "messages");
		json_messages(json_wtr);
		jw_end_object(json_wtr);
	}
	/* the summary says what is wrong: scripts read it, not an error */
	json_report = true;
	ret = bad ? 1 : 0;

	for (i = 0; i < n; i++) {
		free(v[i].cbpf_err);
		strict_free(&st[i]);
	}
	free(v);
	free(st);
out_free_svcs:
	free(svcs);
out_free_cfg:
	sksteer_config__free(cfg);
	return ret;
}
