/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Read-only views of a parsed configuration that the public API does not
 * offer (yet): sets, pool options, targets, source lines. The tool links
 * the static library and reads its model here, and only here, so that
 * growing the public API later touches this one file.
 */
#ifndef __SKSTEER_TOOL_MODEL_H
#define __SKSTEER_TOOL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sksteer.h>

struct tool_set {
	const char *name;
	const char *path; /* prefix file, NULL when inline */
	const char *file; /* where it is defined */
	int line;
	size_t nprefixes;
	size_t skipped; /* bad lines a lenient prefix file skipped */
	size_t ranges4, ranges6; /* after merging */
};

/* Sets defined at the top level (@svc NULL) or in @svc. */
size_t tool_set_cnt(const struct sksteer_config *cfg,
		    const struct sksteer_service *svc);
void tool_set_get(const struct sksteer_config *cfg,
		  const struct sksteer_service *svc, size_t idx,
		  struct tool_set *out);

enum tool_opt_kind { TOOL_OPT_NUM, TOOL_OPT_STR, TOOL_OPT_BOOL };

struct tool_opt {
	const char *name; /* as in sksteer.conf(5) */
	enum tool_opt_kind kind;
	uint64_t num;
	bool on;
	char text[64]; /* the value for people */
};

/* The options a pool sets, in sksteer.conf(5) order; returns the count. */
size_t tool_pool_opts(const struct sksteer_pool *pool, struct tool_opt *out,
		      size_t max);
/* "drop", "hash", "pool NAME"; *@is_default when not written */
void tool_pool_fallback(const struct sksteer_pool *pool, char *buf, size_t size,
			bool *is_default);

/* The default target: "hash", "drop", "pool NAME" */
void tool_default_target(const struct sksteer_service *svc, char *buf,
			 size_t size);
enum sksteer_target_kind tool_default_kind(const struct sksteer_service *svc);

/*
 * Would the kernel load the eBPF program for @svc as declared? 0, or a
 * negative errno with the reason printed by the library (needs CAP_BPF).
 */
int tool_ebpf_verify(const struct sksteer_service *svc);

/*
 * What the eBPF backend's tables say for @flow (declared sockets, all
 * open): evaluated the way bpf/sksteer.bpf.c reads them. 0, -E2BIG (and
 * the like) when the eBPF backend cannot take the service, with the
 * reason printed by the library.
 */
int tool_ebpf_explain(const struct sksteer_service *svc,
		      const struct sksteer_flow *flow,
		      struct sksteer_verdict *v);

/* Where rule @idx is written. */
/* the line of the service's 'service NAME {' (0: not from a file) */
int tool_service_line(const struct sksteer_service *svc);
const char *tool_rule_file(const struct sksteer_service *svc, size_t idx);
int tool_rule_line(const struct sksteer_service *svc, size_t idx);
/* Whether rule @idx picks the socket in its pool by payload. */
bool tool_rule_by_payload(const struct sksteer_service *svc, size_t idx);

/* The in-pool spreading hash of sksteer.conf(5) for @flow. */
uint32_t tool_flow_hash(const struct sksteer_flow *flow);

#endif /* __SKSTEER_TOOL_MODEL_H */
