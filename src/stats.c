// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reading what a running eBPF group pinned (layout in src/pin.h). */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pin.h"

struct sksteer_stats {
	struct sk_meta meta;
	struct sks_counters sum;
};

static const char *const counter_names[SKSTEER_CNT__MAX] = {
	[SKSTEER_CNT_PACKETS] = "packets",   [SKSTEER_CNT_DEFAULT] = "default",
	[SKSTEER_CNT_HASH] = "hash",	     [SKSTEER_CNT_DROP] = "drop",
	[SKSTEER_CNT_FALLBACK] = "fallback", [SKSTEER_CNT_RETRY] = "retry",
	[SKSTEER_CNT_MIGRATE] = "migrate",   [SKSTEER_CNT_BAD] = "bad",
};

/* where the program keeps each public counter (packets is a sum) */
static const int counter_index[SKSTEER_CNT__MAX] = {
	[SKSTEER_CNT_PACKETS] = -1,
	[SKSTEER_CNT_DEFAULT] = SKS_CNT_DEFAULT,
	[SKSTEER_CNT_HASH] = SKS_CNT_HASH,
	[SKSTEER_CNT_DROP] = SKS_CNT_DROP,
	[SKSTEER_CNT_FALLBACK] = SKS_CNT_FALLBACK,
	[SKSTEER_CNT_RETRY] = SKS_CNT_RETRY,
	[SKSTEER_CNT_MIGRATE] = SKS_CNT_MIGRATE,
	[SKSTEER_CNT_BAD] = SKS_CNT_BAD,
};

const char *sksteer_counter_name(enum sksteer_counter c)
{
	return (unsigned int)c < SKSTEER_CNT__MAX ? counter_names[c] : NULL;
}

uint64_t sk_proc_start_time(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	size_t n;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the name, in parentheses, may hold anything: count fields from
	 * the last ')', which is followed by field 3 */
	p = strrchr(buf, ')');
	for (i = 3; p && i <= 22; i++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &t) != 1)
		return 0;
	return t;
}

bool sk_meta_live(const struct sk_meta *m)
{
	if (m->pid <= 0)
		return false;
	if (kill(m->pid, 0) && errno == ESRCH)
		return false;
	/* another process that got the same pid since */
	return !m->start_time || sk_proc_start_time(m->pid) == m->start_time;
}

static int open_pin(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return bpf_obj_get(path);
}

struct sksteer_stats *sksteer_stats__read(const char *pin_path)
{
	struct sksteer_stats *st;
	struct sks_counters *percpu = NULL;
	int meta_fd = -1, cnt_fd = -1, dirfd = -1, ncpus, err, cpu;
	const char *dir = pin_path;
	char dirpath[32];
	__u32 zero = 0;
	size_t i;

	if (!pin_path) {
		errno = EINVAL;
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		errno = ENOMEM;
		return NULL;
	}
	dirfd = open(pin_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		err = -errno;
		goto err_free;
	}
	/* both pins through the directory opened once, so that they come
	 * from one directory even when it is renamed in between
	 * (sksteer_group__set_pin_path); by path where /proc is missing */
	if (!access("/proc/self/fd", X_OK)) {
		snprintf(dirpath, sizeof(dirpath), "/proc/self/fd/%d", dirfd);
		dir = dirpath;
	}
	meta_fd = open_pin(dir, "meta");
	if (meta_fd < 0) {
		err = -errno;
		goto err_close_dir;
	}
	if (bpf_map_lookup_elem(meta_fd, &zero, &st->meta)) {
		err = -errno;
		goto err_close;
	}
	if (st->meta.magic != SK_META_MAGIC ||
	    st->meta.version != SK_META_VERSION) {
		sk_warn("%s: not a sksteer group (or another version)\n",
			pin_path);
		err = -EPROTO;
		goto err_close;
	}
	st->meta.service[SK_META_NAME - 1] = '\0';
	st->meta.config[sizeof(st->meta.config) - 1] = '\0';
	st->meta.text[SK_META_TEXT - 1] = '\0';
	if (!sk_meta_live(&st->meta)) {
		err = -ESRCH;
		goto err_close;
	}
	cnt_fd = open_pin(dir, "counters");
	ncpus = libbpf_num_possible_cpus();
	if (cnt_fd < 0 || ncpus < 0) {
		err = cnt_fd < 0 ? -errno : ncpus;
		goto err_close;
	}
	percpu = calloc((size_t)ncpus, sizeof(*percpu));
	if (!percpu) {
		err = -ENOMEM;
		goto err_close;
	}
	if (bpf_map_lookup_elem(cnt_fd, &zero, percpu)) {
		err = -errno;
		goto err_close;
	}
	for (cpu = 0; cpu < ncpus; cpu++)
		for (i = 0; i < SKS_NCOUNTERS; i++)
			st->sum.c[i] += percpu[cpu].c[i];
	free(percpu);
	close(cnt_fd);
	close(meta_fd);
	close(dirfd);
	return st;

err_close:
	free(percpu);
	if (cnt_fd >= 0)
		close(cnt_fd);
	close(meta_fd);
err_close_dir:
	close(dirfd);
err_free:
	free(st);
	errno = -err;
	return NULL;
}

void sksteer_stats__free(struct sksteer_stats *st)
{
	free(st);
}

const char *sksteer_stats__service(const struct sksteer_stats *st)
{
	return st->meta.service;
}

const char *sksteer_stats__config(const struct sksteer_stats *st)
{
	return st->meta.config;
}

int sksteer_stats__pid(const struct sksteer_stats *st)
{
	return st->meta.pid;
}

uint64_t sksteer_stats__generation(const struct sksteer_stats *st)
{
	return st->meta.generation;
}

uint64_t sksteer_stats__since(const struct sksteer_stats *st)
{
	return st->meta.counters_since;
}

uint64_t sksteer_stats__counter(const struct sksteer_stats *st,
				enum sksteer_counter c)
{
	uint64_t n;
	size_t i;

	if ((unsigned int)c >= SKSTEER_CNT__MAX)
		return 0;
	if (counter_index[c] >= 0)
		return st->sum.c[counter_index[c]];
	/* every run decides by a rule or the default, or cannot read the
	 * headers */
	n = st->sum.c[SKS_CNT_DEFAULT] + st->sum.c[SKS_CNT_BAD];
	for (i = 0; i < sksteer_stats__rule_cnt(st); i++)
		n += st->sum.c[SKS_CNT_RULE(i)];
	return n;
}

size_t sksteer_stats__rule_cnt(const struct sksteer_stats *st)
{
	return st->meta.nrules < SKS_MAX_RULES ? st->meta.nrules :
						 SKS_MAX_RULES;
}

const char *sksteer_stats__rule_text(const struct sksteer_stats *st, size_t idx)
{
	if (idx >= sksteer_stats__rule_cnt(st) ||
	    st->meta.rule_text_off[idx] >= SK_META_TEXT)
		return "";
	return st->meta.text + st->meta.rule_text_off[idx];
}

uint64_t sksteer_stats__rule_hits(const struct sksteer_stats *st, size_t idx)
{
	return idx < sksteer_stats__rule_cnt(st) ?
		       st->sum.c[SKS_CNT_RULE(idx)] :
		       0;
}

size_t sksteer_stats__pool_cnt(const struct sksteer_stats *st)
{
	return st->meta.npools < SKS_MAX_POOLS ? st->meta.npools :
						 SKS_MAX_POOLS;
}

const char *sksteer_stats__pool_name(const struct sksteer_stats *st, size_t idx)
{
	if (idx >= sksteer_stats__pool_cnt(st))
		return "";
	return st->meta.pool_names[idx];
}

unsigned int sksteer_stats__pool_sockets(const struct sksteer_stats *st,
					 size_t idx)
{
	return idx < sksteer_stats__pool_cnt(st) ? st->meta.pool_sockets[idx] :
						   0;
}

uint64_t sksteer_stats__pool_hits(const struct sksteer_stats *st, size_t idx)
{
	return idx < sksteer_stats__pool_cnt(st) ?
		       st->sum.c[SKS_CNT_POOL(st->meta.nrules, idx)] :
		       0;
}
