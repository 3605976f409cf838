// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* sksteer stats: live counters of running groups (eBPF backend). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>

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
		"  -r, --pin-root DIR  where groups are pinned (default %s in\n"
		"                      the initial network namespace,\n"
		"                      %s-netns/INODE in another)\n"
		"  -f, --format FMT    text (default), json (same as -j) or\n"
		"                      prometheus (the text exposition format)\n",
		BIN_NAME, SKSTEER_PIN_ROOT, SKSTEER_PIN_ROOT);
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

/* "@dir/@name", malloc'd; NULL when out of memory */
static char *join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);

	if (p) {
		memcpy(p, dir, a);
		p[a] = '/';
		memcpy(p + a + 1, name, b + 1);
	}
	return p;
}

/* Is @path a directory on a bpffs? Its device in *@dev. */
static bool bpffs_dir(const char *path, dev_t *dev)
{
	struct statfs sfs;
	struct stat sb;

	if (statfs(path, &sfs) || sfs.f_type != BPF_FS_MAGIC ||
	    stat(path, &sb) || !S_ISDIR(sb.st_mode))
		return false;
	*dev = sb.st_dev;
	return true;
}

/*
 * @root as seen by the processes of this network namespace that live in
 * another mount namespace, each bpffs once, appended to *@roots.
 *
 * `ip netns exec` gives every command a mount namespace of its own with a
 * fresh /sys: when the initial mount namespace's bpffs cannot be reached
 * (/proc/1/root needs ptrace access to PID 1), a supervisor started that
 * way pins on a bpffs it mounted in its own mount namespace, which no
 * later `ip netns exec` sees at /sys/fs/bpf. Its /proc/PID/root does:
 * the pins are found through the processes sharing this network
 * namespace. Only for the default root, which is under /sys/fs/bpf.
 */
static void other_mount_ns_roots(const char *root, char ***roots, int *n)
{
	struct stat net, mnt, sb;
	dev_t seen[64], dev;
	int nseen = 0, i;
	struct dirent *de;
	DIR *d;

	if (strncmp(root, "/sys/fs/bpf/", 12) ||
	    stat("/proc/self/ns/net", &net) || stat("/proc/self/ns/mnt", &mnt))
		return;
	if (bpffs_dir(root, &dev))
		seen[nseen++] = dev;
	d = opendir("/proc");
	if (!d)
		return;
	while ((de = readdir(d)) && nseen < (int)ARRAY_SIZE(seen)) {
		char path[PATH_MAX], **nr;

		if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
		    atoi(de->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		if (stat(path, &sb) || sb.st_dev != net.st_dev ||
		    sb.st_ino != net.st_ino)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/mnt", de->d_name);
		if (stat(path, &sb) ||
		    (sb.st_dev == mnt.st_dev && sb.st_ino == mnt.st_ino))
			continue;
		if (snprintf(path, sizeof(path), "/proc/%s/root%s", de->d_name,
			     root) >= (int)sizeof(path) ||
		    !bpffs_dir(path, &dev))
			continue;
		for (i = 0; i < nseen && seen[i] != dev; i++)
			;
		if (i < nseen)
			continue;
		seen[nseen++] = dev;
		nr = realloc(*roots, (size_t)(*n + 1) * sizeof(*nr));
		if (!nr)
			break;
		*roots = nr;
		if (!(nr[*n] = strdup(path)))
			break;
		(*n)++;
	}
	closedir(d);
}

static int do_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pin-root", required_argument, NULL, 'r' },
		{ "format", required_argument, NULL, 'f' },
		COMMON_LONGOPTS,
		{ 0 },
	};
	char rootbuf[PATH_MAX], **roots = NULL, **paths = NULL;
	const char *root = NULL;
	struct sksteer_stats **sts = NULL;
	char **names = NULL;
	enum fmt fmt = FMT_TEXT;
	int c, ret, n = 0, i, r, nst = 0, bad = 0, nroots = 0;
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
	roots = calloc(1, sizeof(*roots));
	if (!roots) {
		p_err("out of memory");
		return 1;
	}
	if (!root) {
		/* the directory of this network namespace, as run chose it */
		ret = sksteer_pin_root(rootbuf, sizeof(rootbuf));
		if (ret) {
			p_err("stats: the pin root of this network namespace: "
			      "%s",
			      strerror(-ret));
			free(roots);
			return 1;
		}
		root = rootbuf;
		roots[nroots++] = strdup(root);
		other_mount_ns_roots(root, &roots, &nroots);
	} else {
		roots[nroots++] = strdup(root);
	}
	listed = optind >= argc;
	if (listed) {
		/* every group under every root, each with its path */
		for (r = 0; r < nroots; r++) {
			char **rn = NULL, **nn, **np;
			int k, m = roots[r] ? list_groups(roots[r], &rn) : -1;

			if (m < 0) {
				ret = 1;
				goto out;
			}
			nn = realloc(names, (size_t)(n + m + 1) * sizeof(*nn));
			if (nn)
				names = nn;
			np = realloc(paths, (size_t)(n + m + 1) * sizeof(*np));
			if (np)
				paths = np;
			if (!nn || !np) {
				p_err("out of memory");
				ret = 1;
				goto out;
			}
			for (k = 0; k < m; k++, n++) {
				names[n] = rn[k];
				paths[n] = join(roots[r], rn[k]);
			}
			free(rn);
		}
	} else {
		n = argc - optind;
		names = calloc((size_t)n, sizeof(*names));
		paths = calloc((size_t)n, sizeof(*paths));
		if (!names || !paths) {
			p_err("out of memory");
			ret = 1;
			goto out;
		}
		for (i = 0; i < n; i++) {
			names[i] = strdup(argv[optind + i]);
			if (!names[i] || strchr(names[i], '/'))
				continue;
			/* the first root that has it */
			for (r = 0; r < nroots; r++) {
				struct stat sb;

				free(paths[i]);
				paths[i] = join(roots[r], names[i]);
				if (!stat(paths[i], &sb) || errno != ENOENT)
					break;
			}
			if (r == nroots) {
				free(paths[i]);
				paths[i] = join(root, names[i]);
			}
		}
	}
	sts = calloc((size_t)(n ? n : 1), sizeof(*sts));
	if (!sts) {
		p_err("out of memory");
		ret = 1;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const char *path = paths[i];

		if (!names[i] || strchr(names[i], '/') || !path ||
		    strlen(path) >= PATH_MAX) {
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
	for (i = 0; i < n; i++) {
		free(names[i]);
		free(paths ? paths[i] : NULL);
	}
	free(names);
	free(paths);
	for (r = 0; r < nroots; r++)
		free(roots[r]);
	free(roots);
	return ret;
}
