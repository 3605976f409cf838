/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The eBPF backend's tables: built from a service in userspace, read by
 * bpf/sksteer.bpf.c, and evaluated here the way the program does for the
 * differential test and for explain. */
#ifndef __SKSTEER_TABLES_H
#define __SKSTEER_TABLES_H

#include "internal.h"
#include "../bpf/sksteer_maps.h"

struct sk_tables {
	/* .rodata of the program */
	uint32_t nrules, nwords, flags;
	uint32_t recv4, recv6, proto;
	struct sks_root root[SKS_NTREES];
	uint32_t cls_base[SKS_NTREES + 1];
	uint64_t base_mask[SKS_NFAMS][SKS_WORDS];
	uint64_t test_mask[SKS_WORDS];
	struct sks_target deflt;
	struct sks_vtab vt[SKS_NFAMS];

	/* maps (n* = number of entries; at least 1 so that maps can be
	 * created) */
	struct sks_bucket *buckets;
	size_t nbuckets;
	struct sks_bound4 *bounds4;
	size_t nbounds4;
	struct sks_bound6 *bounds6;
	size_t nbounds6;
	uint64_t *classbits;
	size_t nclassbits;
	uint32_t *sport_cls;
	size_t nsport_cls;
	struct sks_rule *rules;
	size_t nrules_map;
	struct sks_test *tests;
	size_t ntests;
	struct sks_pool *pools;
	size_t npools;
	uint32_t *slots;
	size_t nslots;
	/* SKS_F_VERDICTS */
	struct sks_verdict *verdicts;
	size_t nverdicts;
	/* sockarray size: the service's declared socket count */
	uint32_t nsockets;
	/* classes per tree, for statistics and tests */
	uint32_t nclasses[SKS_NTREES + 1];
	/* table buckets below the roots, for statistics and tests */
	uint32_t ntables, max_depth;
};

/*
 * The most map memory a service's tables may take. The trees grow with
 * the number of class changes (sksteer.conf(5), LIMITS: a few dozen bytes
 * per IPv4 prefix, under a hundred per IPv6 one, however they cluster);
 * this stops a configuration far beyond that before anything is loaded.
 */
#define SK_TABLES_MAX_BYTES ((size_t)256 << 20)
/* The budget sk_tables_build() holds tables to: SK_TABLES_MAX_BYTES (tests
 * lower it to see a refusal without building a quarter of a GiB). */
extern size_t sk_tables_budget;
/* The most verdicts a service's tables may have before its packets are
 * steered with class bitmaps instead: SKS_MAX_VERDICTS (tests lower it
 * to exercise the bitmaps). */
extern size_t sk_tables_max_verdicts;

/*
 * Build the tables for @svc. @layout gives, per pool, the sockarray keys of
 * the open sockets (for the eBPF backend: declared positions). Returns 0 or
 * a negative errno with the reason printed (-E2BIG: over a limit of the
 * eBPF backend, SK_TABLES_MAX_BYTES among them).
 */
int sk_tables_build(const struct sksteer_service *svc,
		    const struct sk_layout *layout, struct sk_tables *t);
void sk_tables_free(struct sk_tables *t);
/* The program's configuration and its "hot" array (verdicts, classbits,
 * rules, tests, pools, slots, one after the other); *@hot is malloc()ed. */
int sk_tables_hot(const struct sk_tables *t, struct sks_hot **hot, size_t *nhot,
		  struct sks_cfg *cfg);
/* Bytes of map memory the tables take. */
size_t sk_tables_size(const struct sk_tables *t);

struct sk_tables_result {
	int rule; /* -1: default */
	enum sksteer_target_kind kind;
	int pool; /* the pool a socket was picked from */
	uint32_t slot; /* sockarray key of the picked socket */
	int fam;
};

/* Evaluate the tables for a packet exactly as the program does, with
 * every slot in the tables taken as open. */
int sk_tables_eval(const struct sk_tables *t, const struct sk_pkt *pkt,
		   struct sk_tables_result *res);

#endif
