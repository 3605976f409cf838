// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loading the eBPF steering program. Each configuration (and each update
 * of one) is a "generation": the program from bpf/sksteer.bpf.c with its
 * .rodata set for the configuration and its own tables sized exactly.
 * Generations of a group share the REUSEPORT_SOCKARRAY (socket identity)
 * and, when the rules keep their shape, the counters. Swapping
 * generations is one SO_ATTACH_REUSEPORT_EBPF, which the kernel publishes
 * with rcu_assign_pointer(): a packet sees the old program and tables or
 * the new ones, never a mix.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ebpf.h"
#include "tables.h"
#include "../bpf/sksteer.skel.h"

struct sk_ebpf {
	struct sksteer_bpf *skel;
	struct sk_tables tables;
};

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list args)
{
	char *buf = NULL;
	bool warn = level == LIBBPF_WARN;

	/* libbpf's own chatter is debug output; its warnings matter, except
	 * its report of a program the kernel refused: load() says why in
	 * words of its own, and the verifier's statistics are for -v */
	if (vasprintf(&buf, fmt, args) < 0)
		return 0;
	if (strstr(buf, "PROG LOAD LOG") || strstr(buf, "load failed") ||
	    strstr(buf, "failed to load"))
		warn = false;
	sk_print(warn ? SKSTEER_WARN : SKSTEER_DEBUG, "%s", buf);
	free(buf);
	return 0;
}

static void setup_libbpf(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	libbpf_set_print(libbpf_print);
}

int sk_ebpf_probe(char *why, size_t why_sz)
{
	/* r0 = SK_PASS; exit */
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K,
		  .dst_reg = BPF_REG_0,
		  .imm = SK_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd, err;

	setup_libbpf();
	fd = bpf_prog_load(BPF_PROG_TYPE_SK_REUSEPORT, "sksteer_probe",
			   "Dual BSD/GPL", insns, ARRAY_SIZE(insns), NULL);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	err = -errno;
	if (err == -EPERM || err == -EACCES)
		snprintf(why, why_sz,
			 "loading BPF programs is not permitted (%s): needs "
			 "CAP_BPF, or CAP_SYS_ADMIN on older kernels",
			 strerror(-err));
	else if (err == -EINVAL)
		snprintf(why, why_sz,
			 "the kernel does not support "
			 "BPF_PROG_TYPE_SK_REUSEPORT programs");
	else
		snprintf(why, why_sz, "probing for eBPF support: %s",
			 strerror(-err));
	return err;
}

/* Array maps are created BPF_F_MMAPABLE: writing a table is a memcpy. */
static int fill_array(const struct bpf_map *map, const void *src, size_t n,
		      size_t vsize)
{
	size_t elem = (vsize + 7) & ~(size_t)7, i, len;
	void *mem;

	len = elem * bpf_map__max_entries(map);
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
		   bpf_map__fd(map), 0);
	if (mem == MAP_FAILED)
		return -errno;
	if (elem == vsize) {
		memcpy(mem, src, n * vsize);
	} else {
		for (i = 0; i < n; i++)
			memcpy((char *)mem + i * elem,
			       (const char *)src + i * vsize, vsize);
	}
	munmap(mem, len);
	return 0;
}

static int set_size(struct bpf_map *map, size_t n)
{
	return bpf_map__set_max_entries(map, n ? (uint32_t)n : 1);
}

/* The verifier's log: its statistics only (BPF_LOG_STATS), so that a
 * refusal costs one verification, not a second one for a full log. */
#define VERIFIER_LOG_STATS 4
#define VERIFIER_LOG_SIZE  4096

/* The verifier's lines before its statistics that a refusal shows. */
#define VERIFIER_SHOWN_LINES 4

/*
 * Keep, of the verifier's log, the last VERIFIER_SHOWN_LINES lines before
 * its statistics (the complaint and the source lines it names) and the
 * statistics: what came before is the path that led there, which -v's
 * full log is for.
 */
static void shorten_log(char *log)
{
	char *stats = strstr(log, "verification time");
	char *end = stats ? stats : log + strlen(log);
	char *p = end;
	int lines = 0;

	if (!stats)
		stats = strstr(log, "processed ");
	if (stats && stats < end)
		end = p = stats;
	/* back over the trailing newline, then VERIFIER_SHOWN_LINES lines */
	while (p > log && p[-1] == '\n')
		p--;
	while (p > log) {
		if (p[-1] == '\n' && ++lines == VERIFIER_SHOWN_LINES)
			break;
		p--;
	}
	if (p > log)
		memmove(log, p, strlen(p) + 1);
}

/*
 * Say why the kernel refused the program for @svc (-@err); @log is the
 * verifier's, on one line: its complaint if any, then its statistics.
 * Returns the error to report: -E2BIG for a program too complex to
 * verify, whichever limit of the verifier it hit.
 */
static int load_failed(const struct sksteer_service *svc, int err,
		       const char *log)
{
	const char *p = strstr(log, "processed ");
	const char *stats = strstr(log, "verification time");
	int said = stats ? (int)(stats - log) : (int)strlen(log);
	unsigned long insns = 0;

	if (p)
		insns = strtoul(p + strlen("processed "), NULL, 10);
	while (said && log[said - 1] == ' ')
		said--;
	if (err == -E2BIG || strstr(log, "too complex") ||
	    strstr(log, "too large")) {
		sk_warn("service '%s': too complex for the eBPF verifier: the "
			"kernel's verifier refused the steering program after "
			"checking %lu instructions (it checks at most "
			"1000000)%s%.*s; fewer rules with payload tests would "
			"fit\n",
			svc->name, insns, said ? ": " : "", said, log);
		return -E2BIG;
	}
	if ((err == -EPERM || err == -EACCES) && !p) {
		/* the verifier never ran */
		sk_warn("service '%s': loading the eBPF program is not "
			"permitted (%s): needs CAP_BPF\n",
			svc->name, strerror(-err));
		return err;
	}
	sk_warn("service '%s': the kernel's verifier refused the eBPF "
		"steering program: %s%s%s\n",
		svc->name, strerror(-err), *log ? "; verifier: " : "", log);
	return err;
}

/*
 * Build the tables for @svc, open the skeleton and size its maps for them,
 * and load it (the kernel verifies the program). With @fill, write the
 * tables into the maps.
 */
static struct sk_ebpf *load(const struct sksteer_service *svc,
			    const struct sk_layout *layout,
			    const struct sk_ebpf_shared *shared, bool fill)
{
	char log[VERIFIER_LOG_SIZE] = "";
	struct sk_ebpf *e;
	struct sksteer_bpf *skel;
	struct sks_hot *hot = NULL;
	struct sk_tables *t;
	struct sks_cfg c;
	size_t nhot = 0;
	char *nl;
	int err;

	setup_libbpf();
	e = calloc(1, sizeof(*e));
	if (!e) {
		errno = ENOMEM;
		return NULL;
	}
	err = sk_tables_build(svc, layout, &e->tables);
	if (err)
		goto err_free;
	t = &e->tables;

	skel = sksteer_bpf__open();
	if (!skel) {
		err = -errno;
		sk_warn("service '%s': opening the eBPF object: %s\n",
			svc->name, strerror(errno));
		goto err_tables;
	}
	e->skel = skel;
	err = sk_tables_hot(t, &hot, &nhot, &c);
	if (err)
		goto err_skel;
	/* .rodata is frozen at load: the verifier sees these values */
	memcpy((void *)&skel->rodata->cfg, &c, sizeof(c));

	if ((err = set_size(skel->maps.buckets, t->nbuckets)) ||
	    (err = set_size(skel->maps.bounds4, t->nbounds4)) ||
	    (err = set_size(skel->maps.bounds6, t->nbounds6)) ||
	    (err = set_size(skel->maps.sport_cls, t->nsport_cls)) ||
	    (err = set_size(skel->maps.hot, nhot)) ||
	    (err = set_size(skel->maps.socks, t->nsockets)) ||
	    (err = set_size(skel->maps.cookie_pool,
			    shared && shared->nopen > t->nsockets ?
				    shared->nopen :
				    t->nsockets)))
		goto err_skel;
	if (shared && shared->sockarray_fd >= 0) {
		err = bpf_map__reuse_fd(skel->maps.socks, shared->sockarray_fd);
		if (err)
			goto err_skel;
	}
	if (shared && shared->counters_fd >= 0) {
		err = bpf_map__reuse_fd(skel->maps.counters,
					shared->counters_fd);
		if (err)
			goto err_skel;
	}
	/* only the main program has a log of its own: the global functions
	 * are verified as part of it */
	if ((err = bpf_program__set_log_level(skel->progs.sksteer_select,
					      VERIFIER_LOG_STATS)) ||
	    (err = bpf_program__set_log_buf(skel->progs.sksteer_select, log,
					    sizeof(log))))
		goto err_skel;
	err = sksteer_bpf__load(skel);
	/* the buffer is this frame's: libbpf must not keep it */
	bpf_program__set_log_buf(skel->progs.sksteer_select, NULL, 0);
	/* one line: "verification time ... processed N insns ..." */
	log[sizeof(log) - 1] = '\0';
	if (err) {
		sk_debug("service '%s': the verifier's log:\n%s\n", svc->name,
			 log);
		shorten_log(log);
	}
	for (nl = log; (nl = strchr(nl, '\n'));)
		*nl = nl[1] ? ' ' : '\0';
	if (err) {
		if (log[0] || err == -E2BIG || err == -EACCES || err == -EPERM)
			err = load_failed(svc, err, log);
		else
			sk_warn("service '%s': loading the eBPF program: %s\n",
				svc->name, strerror(-err));
		goto err_skel;
	}
	sk_debug("service '%s': eBPF program verified: %s\n", svc->name, log);
	if (fill &&
	    ((err = fill_array(skel->maps.buckets, t->buckets, t->nbuckets,
			       sizeof(*t->buckets))) ||
	     (err = fill_array(skel->maps.bounds4, t->bounds4, t->nbounds4,
			       sizeof(*t->bounds4))) ||
	     (err = fill_array(skel->maps.bounds6, t->bounds6, t->nbounds6,
			       sizeof(*t->bounds6))) ||
	     (err = fill_array(skel->maps.sport_cls, t->sport_cls,
			       t->nsport_cls, sizeof(*t->sport_cls))) ||
	     (err = fill_array(skel->maps.hot, hot, nhot, sizeof(*hot))))) {
		sk_warn("service '%s': writing the eBPF tables: %s\n",
			svc->name, strerror(-err));
		goto err_skel;
	}
	free(hot);
	return e;

err_skel:
	free(hot);
	sksteer_bpf__destroy(skel);
err_tables:
	sk_tables_free(&e->tables);
err_free:
	free(e);
	errno = -err;
	return NULL;
}

struct sk_ebpf *sk_ebpf_load(const struct sksteer_service *svc,
			     const struct sk_layout *layout,
			     const struct sk_ebpf_shared *shared)
{
	return load(svc, layout, shared, true);
}

int sk_ebpf_verify(const struct sksteer_service *svc,
		   const struct sk_layout *layout)
{
	struct sk_layout declared;
	struct sk_ebpf *e;
	int err;

	if (!layout) {
		err = sk_layout_declared(svc, &declared);
		if (err) {
			sk_warn("service '%s': %s\n", svc->name,
				strerror(-err));
			return err;
		}
	}
	e = load(svc, layout ? layout : &declared, NULL, false);
	err = e ? 0 : -errno;
	sk_ebpf_free(e);
	if (!layout)
		sk_layout_free(&declared);
	return err;
}

int sk_ebpf_prog_fd(const struct sk_ebpf *e)
{
	return bpf_program__fd(e->skel->progs.sksteer_select);
}

int sk_ebpf_sockarray_fd(const struct sk_ebpf *e)
{
	return bpf_map__fd(e->skel->maps.socks);
}

int sk_ebpf_counters_fd(const struct sk_ebpf *e)
{
	return bpf_map__fd(e->skel->maps.counters);
}

int sk_ebpf_cookie_fd(const struct sk_ebpf *e)
{
	return bpf_map__fd(e->skel->maps.cookie_pool);
}

size_t sk_ebpf_table_bytes(const struct sk_ebpf *e)
{
	return sk_tables_size(&e->tables);
}

void sk_ebpf_free(struct sk_ebpf *e)
{
	if (!e)
		return;
	sksteer_bpf__destroy(e->skel);
	sk_tables_free(&e->tables);
	free(e);
}

int sksteer_probe_ebpf(char *why, size_t size)
{
	char buf[256];
	int err = sk_ebpf_probe(buf, sizeof(buf));

	if (err && why && size)
		snprintf(why, size, "%s", buf);
	return err;
}
