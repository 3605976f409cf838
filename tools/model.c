// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Read-only views of the library's model (see model.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tables.h"
#include "ebpf.h"
#include "model.h"

static struct sk_set *set_at(const struct sksteer_config *cfg,
			     const struct sksteer_service *svc, size_t idx)
{
	return svc ? svc->sets[idx] : cfg->sets[idx];
}

size_t tool_set_cnt(const struct sksteer_config *cfg,
		    const struct sksteer_service *svc)
{
	return svc ? svc->nsets : cfg->nsets;
}

void tool_set_get(const struct sksteer_config *cfg,
		  const struct sksteer_service *svc, size_t idx,
		  struct tool_set *out)
{
	const struct sk_set *s = set_at(cfg, svc, idx);

	out->name = s->name;
	out->path = s->path;
	out->file = s->loc.file;
	out->line = s->loc.line;
	out->nprefixes = s->nprefixes;
	out->skipped = s->nskipped;
	out->ranges4 = s->addrs.n4;
	out->ranges6 = s->addrs.n6;
}

static struct tool_opt *next_opt(struct tool_opt *out, size_t max, size_t *n,
				 const char *name, enum tool_opt_kind kind)
{
	struct tool_opt *o;

	if (*n >= max) {
		(*n)++;
		return NULL;
	}
	o = &out[(*n)++];
	memset(o, 0, sizeof(*o));
	o->name = name;
	o->kind = kind;
	return o;
}

static void num_opt(struct tool_opt *out, size_t max, size_t *n,
		    const char *name, uint64_t v, const char *fmt)
{
	struct tool_opt *o = next_opt(out, max, n, name, TOOL_OPT_NUM);

	if (!o)
		return;
	o->num = v;
	snprintf(o->text, sizeof(o->text), fmt, (unsigned long long)v);
}

size_t tool_pool_opts(const struct sksteer_pool *pool, struct tool_opt *out,
		      size_t max)
{
	const struct sk_sockopts *so = &pool->opts;
	struct tool_opt *o;
	size_t n = 0;

	if (so->has_mark)
		num_opt(out, max, &n, "mark", so->mark, "%#llx");
	if (so->has_congestion) {
		o = next_opt(out, max, &n, "congestion", TOOL_OPT_STR);
		if (o)
			snprintf(o->text, sizeof(o->text), "%s",
				 so->congestion);
	}
	if (so->has_pacing_rate)
		num_opt(out, max, &n, "pacing-rate", so->pacing_rate,
			"%llu bytes/s");
	if (so->has_tos)
		num_opt(out, max, &n, "tos", (uint64_t)so->tos, "%llu");
	if (so->has_priority)
		num_opt(out, max, &n, "priority", (uint64_t)so->priority,
			"%llu");
	if (so->has_rcvbuf)
		num_opt(out, max, &n, "rcvbuf", (uint64_t)so->rcvbuf,
			"%llu bytes");
	if (so->has_sndbuf)
		num_opt(out, max, &n, "sndbuf", (uint64_t)so->sndbuf,
			"%llu bytes");
	if (so->has_backlog)
		num_opt(out, max, &n, "backlog", (uint64_t)so->backlog, "%llu");
	if (so->has_fastopen)
		num_opt(out, max, &n, "fastopen", (uint64_t)so->fastopen,
			"%llu");
	if (so->has_defer_accept)
		num_opt(out, max, &n, "defer-accept",
			(uint64_t)so->defer_accept, "%llu s");
	if (so->has_pktinfo) {
		o = next_opt(out, max, &n, "pktinfo", TOOL_OPT_BOOL);
		if (o) {
			o->on = so->pktinfo;
			snprintf(o->text, sizeof(o->text), "%s",
				 so->pktinfo ? "on" : "off");
		}
	}
	return n;
}

static void target_str(const struct sksteer_service *svc,
		       const struct sk_target *t, char *buf, size_t size)
{
	switch (t->kind) {
	case SKSTEER_TARGET_HASH:
		snprintf(buf, size, "hash");
		break;
	case SKSTEER_TARGET_DROP:
		snprintf(buf, size, "drop");
		break;
	case SKSTEER_TARGET_POOL:
		if (t->pool < 0 || (size_t)t->pool >= svc->npools)
			snprintf(buf, size, "pool ?");
		else if (t->by_payload)
			snprintf(buf, size, "pool %s by payload %u:%u",
				 svc->pools[t->pool].name, t->key_off,
				 t->key_width);
		else
			snprintf(buf, size, "pool %s",
				 svc->pools[t->pool].name);
		break;
	}
}

void tool_pool_fallback(const struct sksteer_pool *pool, char *buf, size_t size,
			bool *is_default)
{
	target_str(pool->svc, &pool->fallback, buf, size);
	*is_default = !pool->has_fallback;
}

void tool_default_target(const struct sksteer_service *svc, char *buf,
			 size_t size)
{
	target_str(svc, &svc->deflt, buf, size);
}

enum sksteer_target_kind tool_default_kind(const struct sksteer_service *svc)
{
	return svc->deflt.kind;
}

int tool_service_line(const struct sksteer_service *svc)
{
	return svc->loc.line;
}

const char *tool_rule_file(const struct sksteer_service *svc, size_t idx)
{
	return idx < svc->nrules ? svc->rules[idx].loc.file : NULL;
}

int tool_rule_line(const struct sksteer_service *svc, size_t idx)
{
	return idx < svc->nrules ? svc->rules[idx].loc.line : 0;
}

bool tool_rule_by_payload(const struct sksteer_service *svc, size_t idx)
{
	return idx < svc->nrules &&
	       svc->rules[idx].target.kind == SKSTEER_TARGET_POOL &&
	       svc->rules[idx].target.by_payload;
}

uint32_t tool_flow_hash(const struct sksteer_flow *flow)
{
	uint32_t w[4];
	int i, n = flow->family == AF_INET ? 1 : 4;

	for (i = 0; i < n; i++)
		w[i] = (uint32_t)flow->src.s6_addr[4 * i] << 24 |
		       (uint32_t)flow->src.s6_addr[4 * i + 1] << 16 |
		       (uint32_t)flow->src.s6_addr[4 * i + 2] << 8 |
		       flow->src.s6_addr[4 * i + 3];
	return sk_flow_hash(w, n, flow->sport);
}

int tool_ebpf_explain(const struct sksteer_service *svc,
		      const struct sksteer_flow *flow,
		      struct sksteer_verdict *v)
{
	struct sk_tables_result res = {};
	struct sk_layout lay;
	struct sk_tables t;
	struct sk_pkt pkt;
	uint8_t *buf;
	size_t i, size = 64 + flow->payload_len;
	int err;

	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	err = sk_pkt_build(flow, svc->proto, buf, size, &pkt);
	if (err < 0)
		goto out_free_buf;
	err = sk_layout_declared(svc, &lay);
	if (err)
		goto out_free_buf;
	err = sk_tables_build(svc, &lay, &t);
	if (err)
		goto out_free_layout;
	err = sk_tables_eval(&t, &pkt, &res);
	if (err)
		goto out_free_tables;
	v->rule = res.rule;
	v->kind = res.kind;
	v->pool = NULL;
	v->socket = -1;
	v->pool_index = -1;
	v->insns_executed = 0;
	if (res.kind == SKSTEER_TARGET_POOL) {
		/* declared layout: a socket's key is its position */
		v->socket = (int)res.slot;
		for (i = 0; i < svc->npools; i++) {
			const struct sksteer_pool *p = &svc->pools[i];

			if (res.slot >= p->first &&
			    res.slot < p->first + p->size) {
				v->pool = p;
				v->pool_index = (int)(res.slot - p->first);
			}
		}
	}
out_free_tables:
	sk_tables_free(&t);
out_free_layout:
	sk_layout_free(&lay);
out_free_buf:
	free(buf);
	return err < 0 ? err : 0;
}

int tool_ebpf_verify(const struct sksteer_service *svc)
{
	return sk_ebpf_verify(svc, NULL);
}
