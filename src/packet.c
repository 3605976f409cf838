// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Packets for explain: the bytes a steering program would see. */
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "internal.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Headers are at most 60 bytes: 40 (IPv6) + 20 (TCP). */
#define SK_PKT_HDR_MAX 64

uint8_t *sk_pkt_alloc(const struct sksteer_flow *flow, size_t *size, int *err)
{
	uint8_t *buf;

	/* before the addition: a length near SIZE_MAX must not wrap */
	if (flow->payload_len > 65535) {
		*err = -EMSGSIZE;
		return NULL;
	}
	*size = SK_PKT_HDR_MAX + flow->payload_len;
	buf = malloc(*size);
	if (!buf)
		*err = -ENOMEM;
	return buf;
}

int sk_pkt_build(const struct sksteer_flow *flow, int proto, uint8_t *buf,
		 size_t size, struct sk_pkt *pkt)
{
	size_t ip = flow->family == AF_INET ? 20 : 40;
	size_t l4 = proto == IPPROTO_TCP ? 20 : 8;
	size_t total;

	if (flow->family != AF_INET && flow->family != AF_INET6)
		return -EAFNOSUPPORT;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return -EPROTONOSUPPORT;
	if (flow->payload_len > 65535)
		return -EMSGSIZE;
	total = ip + l4 + flow->payload_len;
	/* IPv4's total length counts its header, IPv6's payload length
	 * does not: UDP carries 65,507 bytes over IPv4, 65,527 over IPv6 */
	if (total > size || total - (ip == 40 ? 40 : 0) > 65535)
		return -EMSGSIZE;
	if (flow->payload_len && !flow->payload)
		return -EINVAL;
	memset(buf, 0, ip + l4);
	if (flow->family == AF_INET) {
		buf[0] = 0x45;
		put16(buf + 2, (uint16_t)total);
		buf[8] = 64;
		buf[9] = (uint8_t)proto;
		memcpy(buf + 12, &flow->src.s6_addr[0], 4);
		memcpy(buf + 16, &flow->dst.s6_addr[0], 4);
	} else {
		buf[0] = 0x60;
		put16(buf + 4, (uint16_t)(total - 40));
		buf[6] = (uint8_t)proto;
		buf[7] = 64;
		memcpy(buf + 8, flow->src.s6_addr, 16);
		memcpy(buf + 24, flow->dst.s6_addr, 16);
	}
	put16(buf + ip, flow->sport);
	put16(buf + ip + 2, flow->dport);
	if (proto == IPPROTO_UDP) {
		put16(buf + ip + 4, (uint16_t)(l4 + flow->payload_len));
	} else {
		buf[ip + 12] = 5 << 4; /* data offset */
		buf[ip + 13] = 0x02; /* SYN */
	}
	if (flow->payload_len)
		memcpy(buf + ip + l4, flow->payload, flow->payload_len);
	pkt->buf = buf;
	pkt->len = total;
	pkt->payload_off = ip + l4;
	return (int)total;
}

static void place(const struct sksteer_service *svc, int pos,
		  struct sksteer_verdict *v)
{
	size_t i;

	v->pool = NULL;
	v->pool_index = -1;
	v->socket = pos;
	for (i = 0; i < svc->npools; i++) {
		const struct sksteer_pool *p = &svc->pools[i];

		if ((unsigned int)pos >= p->first &&
		    (unsigned int)pos < p->first + p->size) {
			v->pool = p;
			v->pool_index = pos - (int)p->first;
		}
	}
}

int sksteer_service__explain(const struct sksteer_service *svc,
			     const struct sksteer_prog *prog,
			     const struct sksteer_flow *flow,
			     struct sksteer_verdict *verdict)
{
	struct sk_layout lay;
	struct sk_pkt pkt;
	uint8_t *buf;
	size_t size;
	int err;

	if (!svc || !flow || !verdict || !OPTS_VALID(flow, sksteer_flow) ||
	    !OPTS_VALID(verdict, sksteer_verdict))
		return -EINVAL;
	buf = sk_pkt_alloc(flow, &size, &err);
	if (!buf)
		return err;
	err = sk_pkt_build(flow, svc->proto, buf, size, &pkt);
	if (err < 0)
		goto out;
	verdict->rule = -1;
	verdict->kind = SKSTEER_TARGET_HASH;
	verdict->pool = NULL;
	verdict->socket = -1;
	verdict->pool_index = -1;
	verdict->insns_executed = 0;
	if (prog) {
		struct sk_interp_result res;

		err = sk_cbpf_run(prog->insns, prog->n, prog->owner, &pkt,
				  &res);
		if (err)
			goto out;
		verdict->rule = res.owner >= -1 ? res.owner : -1;
		verdict->insns_executed = res.steps;
		if (res.ret < svc->nsockets) {
			verdict->kind = SKSTEER_TARGET_POOL;
			place(svc, (int)res.ret, verdict);
		}
		err = 0;
		goto out;
	}
	err = sk_layout_declared(svc, &lay);
	if (err)
		goto out;
	{
		struct sk_match m;

		err = sk_match(svc, &lay, &pkt, &m);
		if (!err) {
			verdict->rule = m.rule;
			verdict->kind = m.target.kind;
			if (m.target.kind == SKSTEER_TARGET_POOL)
				place(svc,
				      (int)lay.pools[m.target.pool]
					      .pos[m.pool_index],
				      verdict);
		}
	}
	sk_layout_free(&lay);
out:
	free(buf);
	return err < 0 ? err : 0;
}
