// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* sksteer stats: live counters of running groups (eBPF backend). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "main.h"

static void help(FILE *out)
{
	fprintf(out,
		"Usage: %s stats [SERVICE...] [--pin-root DIR] "
		"[--format text|json|prometheus]\n"
		"Live counters of running groups that use the eBPF backend: per\n"
		"rule and per pool hits, packets that matched no rule, fallbacks,\n"
		"drops. With no SERVICE, every group pinned under the pin root.\n"
		"\n"
		"Options:\n"
		"  -r, --pin-root DIR  where groups are pinned (default %s)\n"
		"  -f, --format FMT    text (default), json (same as -j) or\n"
		"                      prometheus (the text exposition format)\n",
		BIN_NAME, SKSTEER_PIN_ROOT);
	print_common_opts(out);
}

static int do_stats(int argc, char **argv);

const struct cmd cmd_stats = {
	.name = "stats",
	.func = do_stats,
	.help = help,
	.summary = "show the live counters of running groups",
};

enum fmt { FMT_TEXT, FMT_JSON, FMT_PROM };

static void print_text(const struct sksteer_stats *st)
{
	time_t since = (time_t)sksteer_stats__since(st);
	char when[64] = "?";
	size_t i;
	int c;

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %Z", localtime(&since));
	printf("service %s  pid %d  rule set %" PRIu64 "  counting since %s\n",
	       sksteer_stats__service(st), sksteer_stats__pid(st),
	       sksteer_stats__generation(st), when);
	if (*sksteer_stats__config(st))
		printf("  config %s\n", sksteer_stats__config(st));
	for (c = 0; c < SKSTEER_CNT__MAX; c++)
		printf("  %-9s %" PRIu64 "\n", sksteer_counter_name(c),
		       sksteer_stats__counter(st, c));
	printf("  rules:\n");
	for (i = 0; i < sksteer_stats__rule_cnt(st); i++)
		printf("    %3zu %12" PRIu64 "  %s\n", i + 1,
		       sksteer_stats__rule_hits(st, i),
		       sksteer_stats__rule_text(st, i));
	printf("  pools:\n");
	for (i = 0; i < sksteer_stats__pool_cnt(st); i++)
		printf("    %-16s %12" PRIu64 "  (%u socket%s)\n",
		       sksteer_stats__pool_name(st, i),
		       sksteer_stats__pool_hits(st, i),
		       sksteer_stats__pool_sockets(st, i),
		       sksteer_stats__pool_sockets(st, i) == 1 ? "" : "s");
}

static void print_json(const struct sksteer_stats *st)
{
	struct json_writer *jw = json_wtr;
	size_t i;
	int c;

	jw_start_object(jw);
	jw_string_field(jw, "service", sksteer_stats__service(st));
	jw_int_field(jw, "pid", sksteer_stats__pid(st));
	jw_string_field(jw, "config", sksteer_stats__config(st));
	jw_uint_field(jw, "rule_set", sksteer_stats__generation(st));
	jw_uint_field(jw, "since", sksteer_stats__since(st));
	jw_name(jw, "counters");
	jw_start_object(jw);
	for (c = 0; c < SKSTEER_CNT__MAX; c++)
		jw_uint_field(jw, sksteer_counter_name(c),
			      sksteer_stats__counter(st, c));
	jw_end_object(jw);
	jw_name(jw, "rules");
	jw_start_array(jw);
	for (i = 0; i < sksteer_stats__rule_cnt(st); i++) {
		jw_start_object(jw);
		jw_uint_field(jw, "rule", i + 1);
		jw_string_field(jw, "text", sksteer_stats__rule_text(st, i));
		jw_uint_field(jw, "hits", sksteer_stats__rule_hits(st, i));
		jw_end_object(jw);
	}
	jw_end_array(jw);
	jw_name(jw, "pools");
	jw_start_array(jw);
	for (i = 0; i < sksteer_stats__pool_cnt(st); i++) {
		jw_start_object(jw);
		jw_string_field(jw, "pool", sksteer_stats__pool_name(st, i));
		jw_uint_field(jw, "sockets",
			      sksteer_stats__pool_sockets(st, i));
		jw_uint_field(jw, "hits", sksteer_stats__pool_hits(st, i));
		jw_end_object(jw);
	}
	jw_end_array(jw);
	jw_end_object(jw);
}

/* A label value in the Prometheus text format: \, " and newline escaped. */
static void prom_label(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			putchar('\\');
		if (*s == '\n') {
			fputs("\\n", stdout);
			continue;
		}
		putchar(*s);
	}
}

static void print_prom(const struct sksteer_stats *const *sts, size_t n)
{
	size_t k, i;
	int c;

	printf("# HELP sksteer_packets_total Connection requests and datagrams "
	       "by outcome.\n# TYPE sksteer_packets_total counter\n");
	for (k = 0; k < n; k++) {
		for (c = 0; c < SKSTEER_CNT__MAX; c++) {
			printf("sksteer_packets_total{service=\"");
			prom_label(sksteer_stats__service(sts[k]));
			printf("\",counter=\"%s\"} %" PRIu64 "\n",
			       sksteer_counter_name(c),
			       sksteer_stats__counter(sts[k], c));
		}
	}
	printf("# HELP sksteer_rule_hits_total Packets decided by each rule.\n"
	       "# TYPE sksteer_rule_hits_total counter\n");
	for (k = 0; k < n; k++) {
		for (i = 0; i < sksteer_stats__rule_cnt(sts[k]); i++) {
			printf("sksteer_rule_hits_total{service=\"");
			prom_label(sksteer_stats__service(sts[k]));
			printf("\",rule=\"%zu\",text=\"", i + 1);
			prom_label(sksteer_stats__rule_text(sts[k], i));
			printf("\"} %" PRIu64 "\n",
			       sksteer_stats__rule_hits(sts[k], i));
		}
	}
	printf("# HELP sksteer_pool_hits_total Packets delivered to each pool.\n"
	       "# TYPE sksteer_pool_hits_total counter\n");
	for (k = 0; k < n; k++) {
		for (i = 0; i < sksteer_stats__pool_cnt(sts[k]); i++) {
			printf("sksteer_pool_hits_total{service=\"");
			prom_label(sksteer_stats__service(sts[k]));
			printf("\",pool=\"");
			prom_label(sksteer_stats__pool_name(sts[k], i));
			printf("\"} %" PRIu64 "\n",
			       sksteer_stats__pool_hits(sts[k], i));
		}
	}
	printf("# HELP sksteer_pool_sockets Open sockets of each pool.\n"
	       "# TYPE sksteer_pool_sockets gauge\n");
	for (k = 0; k < n; k++) {
		for (i = 0; i < sksteer_stats__pool_cnt(sts[k]); i++) {
			printf("sksteer_pool_sockets{service=\"");
			prom_label(sksteer_stats__service(sts[k]));
			printf("\",pool=\"");
			prom_label(sksteer_stats__pool_name(sts[k], i));
			printf("\"} %u\n",
			       sksteer_stats__pool_sockets(sts[k], i));
		}
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of the groups pinned under @root (sorted), or -1 (reported). */
static int list_groups(const char *root, char ***out)
{
	struct dirent *de;
	char **names = NULL;
	int n = 0;
	DIR *d;

	d = opendir(root);
	if (!d) {
		if (errno == ENOENT) {
			*out = NULL;
			return 0;
		}
		p_err("cannot read %s: %s", root, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		char **nn;

		/* groups are directories (a bpffs root also holds files such
		 * as maps.debug) */
		if (de->d_name[0] == '.' ||
		    (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		nn = realloc(names, (size_t)(n + 1) * sizeof(*names));
		if (!nn || !(nn[n] = strdup(de->d_name))) {
			free(nn ? nn : names);
			closedir(d);
			p_err("out of memory");
			return -1;
		}
		names = nn;
		n++;
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(*names), cmp_str);
	*out = names;
	return n;
}

static int do_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pin-root", required_argument, NULL, 'r' },
		{ "format", required_argument, NULL, 'f' },
		COMMON_LONGOPTS,
		{ 0 },
	};
	const char *root = SKSTEER_PIN_ROOT;
	struct sksteer_stats **sts = NULL;
	char **names = NULL;
	enum fmt fmt = FMT_TEXT;
	int c, ret, n, i, nst = 0, bad = 0;
	bool listed;

	cmd_opts_reset();
	while ((c = getopt_long(argc, argv, ":r:f:" COMMON_SHORTOPTS, opts,
				NULL)) != -1) {
		switch (c) {
		case 'r':
			root = optarg;
			break;
		case 'f':
			if (!strcmp(optarg, "text"))
				fmt = FMT_TEXT;
			else if (!strcmp(optarg, "json"))
				fmt = FMT_JSON;
			else if (!strcmp(optarg, "prometheus"))
				fmt = FMT_PROM;
			else
				return usage_err(
					&cmd_stats,
					"stats: --format '%s': expected "
					"text, json or prometheus",
					optarg);
			break;
		default:
			if (common_opt(c, argv, &cmd_stats, &ret))
				return ret;
		}
	}
	if (json_output)
		fmt = FMT_JSON;
	if (fmt == FMT_JSON)
		json_output = true; /* --format json: the same document as -j */
	listed = optind >= argc;
	if (listed) {
		n = list_groups(root, &names);
		if (n < 0)
			return 1;
	} else {
		n = argc - optind;
		names = calloc((size_t)n, sizeof(*names));
		if (!names) {
			p_err("out of memory");
			return 1;
		}
		for (i = 0; i < n; i++)
			names[i] = strdup(argv[optind + i]);
	}
	sts = calloc((size_t)(n ? n : 1), sizeof(*sts));
	if (!sts) {
		p_err("out of memory");
		ret = 1;
		goto out;
	}
	for (i = 0; i < n; i++) {
		char path[PATH_MAX];

		if (!names[i] || strchr(names[i], '/') ||
		    snprintf(path, sizeof(path), "%s/%s", root, names[i]) >=
			    (int)sizeof(path)) {
			p_err("invalid service name '%s'",
			      names[i] ? names[i] : "");
			bad++;
			continue;
		}
		sts[nst] = sksteer_stats__read(path);
		if (sts[nst]) {
			nst++;
			continue;
		}
		if (errno == ESRCH && listed) {
			/* left by a process that died; the next group of that
			 * name cleans it up */
			p_warn("%s: stale (its process exited)", path);
			continue;
		}
		if (errno == ENOENT && listed) {
			/* gone since the listing: its group ended, or moved
			 * to another name (a renamed service) */
			continue;
		}
		bad++;
		if (errno == ENOENT)
			p_err("no running group '%s' under %s (only groups "
			      "using the eBPF backend have counters)",
			      names[i], root);
		else if (errno == ESRCH)
			p_err("%s: stale: the process that ran it exited",
			      path);
		else
			p_err("%s: %s%s", path, strerror(errno),
			      errno == EACCES || errno == EPERM ?
				      " (the counters are readable by their "
				      "owner only)" :
				      "");
	}
	if (fmt == FMT_JSON) {
		jw_start_array(json_wtr);
		for (i = 0; i < nst; i++)
			print_json(sts[i]);
		jw_end_array(json_wtr);
	} else if (fmt == FMT_PROM) {
		print_prom((const struct sksteer_stats *const *)sts,
			   (size_t)nst);
	} else {
		if (!nst && !bad)
			printf("no running groups under %s\n", root);
		for (i = 0; i < nst; i++) {
			if (i)
				putchar('\n');
			print_text(sts[i]);
		}
	}
	ret = bad ? 1 : 0;
out:
	for (i = 0; i < nst; i++)
		sksteer_stats__free(sts[i]);
	free(sts);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}
