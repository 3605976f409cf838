// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sksteer explain: which pool and socket a packet goes to, which rule
 * decided and why. The answer comes twice: from the classic BPF program
 * run with the kernel's semantics (what the kernel will do) and from the
 * rules themselves (sksteer.conf(5), SEMANTICS). They must agree.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "main.h"
#include "model.h"

/*
 * The most payload a packet carries: an IPv4 datagram is at most 65,535
 * bytes with its 20-byte header, an IPv6 payload at most 65,535 bytes after
 * its fixed header (jumbograms never reach a socket); less 8 bytes of UDP
 * or 20 of TCP header. UDP over IPv4: 65,507; over IPv6: 65,527.
 */
#define MAX_PAYLOAD 65527

static size_t max_payload(int family, int proto)
{
	return (family == AF_INET ? 65535 - 20 : 65535) -
	       (proto == IPPROTO_UDP ? 8 : 20);
}

enum {
	OPT_FROM = 256,
	OPT_TO,
	OPT_PROTO,
	OPT_PAYLOAD,
};

static int do_explain(int argc, char **argv);

static void help(FILE *out)
{
	fprintf(out,
		"Usage: %s explain [OPTIONS] FILE --from ADDR[:PORT] --to ADDR[:PORT]\n"
		"Show which pool and socket a new connection or datagram goes to,\n"
		"which rule decides and why, as the kernel will run the classic\n"
		"BPF program and as the rules define it. IPv6 with a port:\n"
		"[ADDR]:PORT.\n"
		"\n"
		"Options:\n"
		"  -s, --service NAME       the service (needed when FILE has several)\n"
		"      --from ADDR[:PORT]   the client (source port 0 if not given)\n"
		"      --to ADDR[:PORT]     the server address the client used (port:\n"
		"                           the service's if not given)\n"
		"      --proto PROTO        tcp or udp: must be the service's\n"
		"      --payload HEX        the payload: the data of a TCP Fast Open\n"
		"                           SYN, or the UDP datagram, in hex (\"0a1b\",\n"
		"                           \"0a:1b\")\n",
		BIN_NAME);
	print_common_opts(out);
}

const struct cmd cmd_explain = {
	.name = "explain",
	.func = do_explain,
	.help = help,
	.summary = "show which pool and socket a packet goes to, and why",
};

struct endpoint {
	int family;
	/* IPv4 in the first four bytes, as struct sksteer_flow wants it */
	struct in6_addr addr;
	bool has_port;
	uint16_t port;
	bool was_mapped; /* ::ffff:a.b.c.d turned into a.b.c.d */
};

static bool parse_endpoint(const char *opt, const char *arg,
			   struct endpoint *ep)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL, *colon;
	unsigned long p;
	size_t hlen;

	memset(ep, 0, sizeof(*ep));
	if (arg[0] == '[') {
		const char *end = strchr(arg, ']');

		if (!end || (end[1] && end[1] != ':'))
			goto bad;
		hlen = (size_t)(end - arg - 1);
		if (hlen >= sizeof(host))
			goto bad;
		memcpy(host, arg + 1, hlen);
		host[hlen] = '\0';
		if (end[1] == ':')
			port = end + 2;
		if (inet_pton(AF_INET6, host, &ep->addr) != 1)
			goto bad;
		ep->family = AF_INET6;
	} else if ((colon = strchr(arg, ':')) && !strchr(colon + 1, ':')) {
		/* one colon: IPv4:PORT */
		hlen = (size_t)(colon - arg);
		if (hlen >= sizeof(host))
			goto bad;
		memcpy(host, arg, hlen);
		host[hlen] = '\0';
		port = colon + 1;
		if (inet_pton(AF_INET, host, &ep->addr) != 1)
			goto bad;
		ep->family = AF_INET;
	} else if (colon) {
		if (inet_pton(AF_INET6, arg, &ep->addr) != 1)
			goto bad;
		ep->family = AF_INET6;
	} else {
		if (inet_pton(AF_INET, arg, &ep->addr) != 1)
			goto bad;
		ep->family = AF_INET;
	}
	if (port) {
		if (!parse_ulong(port, 0, 65535, &p)) {
			p_err("explain: %s '%s': the port must be a number "
			      "from 0 to 65535",
			      opt, arg);
			return false;
		}
		ep->has_port = true;
		ep->port = (uint16_t)p;
	}
	if (ep->family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&ep->addr)) {
		/* how a dual-stack socket shows an IPv4 peer; the packet
		 * itself is IPv4 */
		memmove(&ep->addr.s6_addr[0], &ep->addr.s6_addr[12], 4);
		memset(&ep->addr.s6_addr[4], 0, 12);
		ep->family = AF_INET;
		ep->was_mapped = true;
	}
	return true;
bad:
	p_err("explain: %s '%s': expected an IPv4 address, IPv4:PORT, an IPv6 "
	      "address or [IPv6]:PORT",
	      opt, arg);
	return false;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "0a1b2c", "0x0a1b", "0a:1b 2c": bytes in hex, separators between bytes */
static bool parse_payload(const char *s, uint8_t **out, size_t *len)
{
	size_t n = 0, i = 0;
	uint8_t *buf;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		i = 2;
	buf = malloc(strlen(s) / 2 + 1);
	if (!buf) {
		p_err("out of memory");
		return false;
	}
	while (s[i]) {
		int hi, lo;

		if ((s[i] == ':' || s[i] == ' ' || s[i] == '-') && n) {
			i++;
			continue;
		}
		hi = hexval((unsigned char)s[i]);
		lo = hi < 0 ? -1 : hexval((unsigned char)s[i + 1]);
		if (lo < 0) {
			bool odd =
				hi >= 0 && (!s[i + 1] || s[i + 1] == ':' ||
					    s[i + 1] == ' ' || s[i + 1] == '-');

			if (odd)
				p_err("explain: --payload '%s': odd number of "
				      "hex digits in a byte at character %zu",
				      s, i + 1);
			else
				p_err("explain: --payload '%s': '%c' at "
				      "character %zu is not a hex digit",
				      s, hi < 0 ? s[i] : s[i + 1],
				      (hi < 0 ? i : i + 1) + 1);
			free(buf);
			return false;
		}
		if (n >= MAX_PAYLOAD) {
			p_err("explain: --payload: more than %d bytes (UDP "
			      "carries at most 65507 over IPv4, 65527 over "
			      "IPv6)",
			      MAX_PAYLOAD);
			free(buf);
			return false;
		}
		buf[n++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	*out = buf;
	*len = n;
	return true;
}

static const char *cond_name(enum sksteer_cond_kind k)
{
	switch (k) {
	case SKSTEER_COND_FROM:
		return "from";
	case SKSTEER_COND_TO:
		return "to";
	case SKSTEER_COND_SPORT:
		return "sport";
	case SKSTEER_COND_PAYLOAD:
		return "payload";
	case SKSTEER_COND_KEY:
		return "by payload";
	}
	return "?";
}

static const char *kind_name(enum sksteer_target_kind k)
{
	switch (k) {
	case SKSTEER_TARGET_HASH:
		return "hash";
	case SKSTEER_TARGET_POOL:
		return "pool";
	case SKSTEER_TARGET_DROP:
		return "drop";
	}
	return "?";
}

struct rule_eval {
	size_t idx;
	int n;
	struct sksteer_cond_eval *evals;
	bool match;
};

struct explain {
	const struct sksteer_service *svc;
	const char *path;
	struct sksteer_flow flow;
	const uint8_t *payload;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	char notes[4][256];
	int nnotes;

	struct sksteer_verdict ref;
	bool have_prog;
	size_t prog_insns;
	char *no_prog_why;
	struct sksteer_verdict kern;
	bool have_ebpf;
	char *no_ebpf_why;
	struct sksteer_verdict ebpf;
	bool agree;

	struct rule_eval *rules;
	size_t nrules;
	bool eval_consistent;

	/* how the socket within the pool was picked */
	char pick[256];
};

static void add_note(struct explain *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void add_note(struct explain *x, const char *fmt, ...)
{
	va_list ap;

	if (x->nnotes >= (int)ARRAY_SIZE(x->notes))
		return;
	va_start(ap, fmt);
	vsnprintf(x->notes[x->nnotes++], sizeof(x->notes[0]), fmt, ap);
	va_end(ap);
}

static bool same_verdict(const struct sksteer_verdict *a,
			 const struct sksteer_verdict *b)
{
	return a->rule == b->rule && a->kind == b->kind &&
	       a->socket == b->socket && a->pool == b->pool &&
	       a->pool_index == b->pool_index;
}

/* Per-condition evaluation of the rules up to the one that decided. */
static int eval_rules(struct explain *x)
{
	size_t nrules = sksteer_service__rule_cnt(x->svc), i, last;
	int decided = x->ref.rule;

	x->eval_consistent = true;
	if (!nrules)
		return 0;
	last = decided >= 0 ? (size_t)decided : nrules - 1;
	x->rules = calloc(last + 1, sizeof(*x->rules));
	if (!x->rules)
		return -ENOMEM;
	for (i = 0; i <= last; i++) {
		struct rule_eval *re = &x->rules[i];
		int n, j;

		re->idx = i;
		n = sksteer_service__eval_rule(x->svc, i, &x->flow, NULL, 0);
		if (n < 0)
			return n;
		re->evals = calloc((size_t)n + 1, sizeof(*re->evals));
		if (!re->evals)
			return -ENOMEM;
		x->nrules = i + 1;
		n = sksteer_service__eval_rule(x->svc, i, &x->flow, re->evals,
					       (size_t)n);
		if (n < 0)
			return n;
		re->n = n;
		re->match = true;
		for (j = 0; j < n; j++)
			re->match = re->match && re->evals[j].match;
		/* the conditions one by one must tell the same story */
		if (re->match != ((int)i == decided))
			x->eval_consistent = false;
	}
	return 0;
}

static void describe_pick(struct explain *x)
{
	const struct sksteer_verdict *v = &x->ref;
	unsigned int size;
	uint32_t h;
	int j;

	x->pick[0] = '\0';
	if (v->kind != SKSTEER_TARGET_POOL || !v->pool)
		return;
	size = sksteer_pool__size(v->pool);
	if (v->rule >= 0 && tool_rule_by_payload(x->svc, (size_t)v->rule)) {
		const struct rule_eval *re = &x->rules[v->rule];

		for (j = 0; j < re->n; j++)
			if (re->evals[j].kind == SKSTEER_COND_KEY)
				snprintf(x->pick, sizeof(x->pick),
					 "picked by the payload: %s",
					 re->evals[j].detail);
		return;
	}
	if (size == 1) {
		snprintf(x->pick, sizeof(x->pick), "the pool's only socket");
		return;
	}
	h = tool_flow_hash(&x->flow);
	if ((int)(h % size) == v->pool_index)
		snprintf(x->pick, sizeof(x->pick),
			 "picked by the hash of the source address and port: "
			 "%#010x mod %u = %u",
			 h, size, h % size);
	else
		snprintf(x->pick, sizeof(x->pick),
			 "picked by the hash of the source address and port");
}

static void target_text(const struct explain *x,
			const struct sksteer_verdict *v, char *buf, size_t size)
{
	unsigned int nsk = sksteer_service__socket_cnt(x->svc);

	switch (v->kind) {
	case SKSTEER_TARGET_POOL:
		snprintf(buf, size,
			 "pool %s, socket %d of its %u (group position %d)",
			 v->pool ? sksteer_pool__name(v->pool) : "?",
			 v->pool_index,
			 v->pool ? sksteer_pool__size(v->pool) : 0, v->socket);
		break;
	case SKSTEER_TARGET_HASH:
		snprintf(buf, size,
			 "hash: the kernel's own hash over the whole group "
			 "(%u socket%s) decides",
			 nsk, nsk == 1 ? "" : "s");
		break;
	case SKSTEER_TARGET_DROP:
		snprintf(buf, size, "drop: %s",
			 sksteer_service__protocol(x->svc) == IPPROTO_TCP ?
				 "the SYN is answered with a reset" :
				 "the datagram is dropped (ICMP port "
				 "unreachable)");
		break;
	}
}

static void rule_head(const struct explain *x, size_t i, char *buf, size_t size)
{
	snprintf(buf, size, "rule %zu (%s:%d): %s", i + 1,
		 tool_rule_file(x->svc, i), tool_rule_line(x->svc, i),
		 rule_body(x->svc, i));
}

static void print_text(const struct explain *x)
{
	const struct sksteer_flow *f = &x->flow;
	size_t nrules = sksteer_service__rule_cnt(x->svc), i;
	char buf[512];
	socklen_t len;
	int j;

	fmt_sockaddr(sksteer_service__listen_addr(x->svc, &len), buf,
		     sizeof(buf));
	printf("service %s: %s %s, %u socket%s\n",
	       sksteer_service__name(x->svc),
	       proto_name(sksteer_service__protocol(x->svc)), buf,
	       sksteer_service__socket_cnt(x->svc),
	       sksteer_service__socket_cnt(x->svc) == 1 ? "" : "s");
	printf("packet:  %s %s %s%s%s:%u -> %s%s%s:%u, ",
	       f->family == AF_INET ? "IPv4" : "IPv6",
	       sksteer_service__protocol(x->svc) == IPPROTO_TCP ? "TCP SYN" :
								  "UDP",
	       f->family == AF_INET6 ? "[" : "", x->src,
	       f->family == AF_INET6 ? "]" : "", f->sport,
	       f->family == AF_INET6 ? "[" : "", x->dst,
	       f->family == AF_INET6 ? "]" : "", f->dport);
	if (!f->payload_len) {
		printf("no payload\n");
	} else {
		size_t k, shown = f->payload_len < 16 ? f->payload_len : 16;

		printf("%zu byte%s of payload:", f->payload_len,
		       f->payload_len == 1 ? "" : "s");
		for (k = 0; k < shown; k++)
			printf(" %02x", x->payload[k]);
		printf("%s\n", shown < f->payload_len ? " ..." : "");
	}
	for (j = 0; j < x->nnotes; j++)
		printf("note:    %s\n", x->notes[j]);
	printf("\n");

	for (i = 0; i < x->nrules; i++) {
		const struct rule_eval *re = &x->rules[i];

		rule_head(x, i, buf, sizeof(buf));
		printf("%s\n", buf);
		if (!re->n)
			printf("    no conditions: matches every packet\n");
		for (j = 0; j < re->n; j++)
			printf("    %-10s %-3s  %s\n",
			       cond_name(re->evals[j].kind),
			       re->evals[j].match ? "yes" : "no",
			       re->evals[j].detail);
		printf("  -> %s\n", re->match ?
					    "MATCH (the first match decides)" :
					    "no match");
	}
	if (x->ref.rule >= 0 && (size_t)x->ref.rule + 1 < nrules) {
		size_t first = (size_t)x->ref.rule + 2;

		if (first == nrules)
			printf("rule %zu: not evaluated\n", first);
		else
			printf("rules %zu-%zu: not evaluated\n", first, nrules);
	}
	if (x->ref.rule < 0) {
		tool_default_target(x->svc, buf, sizeof(buf));
		printf("%s: default %s\n",
		       nrules ? "no rule matches" : "no rules", buf);
	}
	printf("\n");

	target_text(x, &x->ref, buf, sizeof(buf));
	printf("result:  %s\n", buf);
	if (x->pick[0])
		printf("         %s\n", x->pick);
	if (x->ref.rule >= 0)
		printf("         decided by rule %d\n", x->ref.rule + 1);
	else
		printf("         decided by the default\n");

	if (!x->have_prog) {
		printf("kernel:  no classic BPF program for this service (%s): "
		       "the answer above is from the rules alone\n",
		       x->no_prog_why);
	} else if (x->agree) {
		printf("kernel:  the classic BPF program (%zu instructions) ",
		       x->prog_insns);
		if (x->kern.kind == SKSTEER_TARGET_POOL)
			printf("returns %d", x->kern.socket);
		else
			printf("returns %u or more",
			       sksteer_service__socket_cnt(x->svc));
		printf(" after executing %u instructions: the same answer\n",
		       x->kern.insns_executed);
	} else {
		target_text(x, &x->kern, buf, sizeof(buf));
		printf("kernel:  the classic BPF program answers: %s, rule %d\n",
		       buf, x->kern.rule + 1);
	}
	if (!x->have_ebpf) {
		printf("eBPF:    the eBPF backend cannot take this service (%s)\n",
		       x->no_ebpf_why);
	} else if (same_verdict(&x->ref, &x->ebpf)) {
		printf("eBPF:    the eBPF program's tables give the same answer\n");
	} else {
		target_text(x, &x->ebpf, buf, sizeof(buf));
		printf("eBPF:    the eBPF program's tables answer: %s, rule %d\n",
		       buf, x->ebpf.rule + 1);
	}
}

static void json_verdict(const struct explain *x,
			 const struct sksteer_verdict *v, bool kernel)
{
	char buf[512];

	jw_start_object(json_wtr);
	jw_string_field(json_wtr, "target", kind_name(v->kind));
	if (v->rule >= 0) {
		jw_uint_field(json_wtr, "rule", (uint64_t)v->rule + 1);
		jw_string_field(
			json_wtr, "rule_text",
			sksteer_service__rule_text(x->svc, (size_t)v->rule));
	} else {
		jw_null_field(json_wtr, "rule");
		tool_default_target(x->svc, buf, sizeof(buf));
		jw_name(json_wtr, "rule_text");
		jw_stringf(json_wtr, "default %s", buf);
	}
	jw_bool_field(json_wtr, "default", v->rule < 0);
	if (v->kind == SKSTEER_TARGET_POOL && v->pool) {
		jw_string_field(json_wtr, "pool", sksteer_pool__name(v->pool));
		jw_int_field(json_wtr, "pool_index", v->pool_index);
		jw_int_field(json_wtr, "socket", v->socket);
	} else {
		jw_null_field(json_wtr, "pool");
		jw_null_field(json_wtr, "pool_index");
		jw_null_field(json_wtr, "socket");
	}
	if (kernel)
		jw_uint_field(json_wtr, "insns_executed", v->insns_executed);
	jw_end_object(json_wtr);
}

static void print_json(const struct explain *x)
{
	const struct sksteer_flow *f = &x->flow;
	socklen_t len;
	char buf[512];
	size_t i, k;
	int j;

	jw_start_object(json_wtr);
	jw_string_field(json_wtr, "service", sksteer_service__name(x->svc));
	jw_string_field(json_wtr, "protocol",
			proto_name(sksteer_service__protocol(x->svc)));
	fmt_sockaddr(sksteer_service__listen_addr(x->svc, &len), buf,
		     sizeof(buf));
	jw_string_field(json_wtr, "listen", buf);
	jw_name(json_wtr, "packet");
	jw_start_object(json_wtr);
	jw_string_field(json_wtr, "family",
			f->family == AF_INET ? "ipv4" : "ipv6");
	jw_string_field(json_wtr, "from", x->src);
	jw_uint_field(json_wtr, "sport", f->sport);
	jw_string_field(json_wtr, "to", x->dst);
	jw_uint_field(json_wtr, "dport", f->dport);
	jw_uint_field(json_wtr, "payload_len", f->payload_len);
	jw_name(json_wtr, "payload");
	{
		char *hex = malloc(f->payload_len * 2 + 1);

		for (k = 0; hex && k < f->payload_len; k++)
			sprintf(hex + 2 * k, "%02x", x->payload[k]);
		if (hex)
			hex[2 * f->payload_len] = '\0';
		jw_string(json_wtr, hex ? hex : "");
		free(hex);
	}
	jw_end_object(json_wtr);
	jw_name(json_wtr, "notes");
	jw_start_array(json_wtr);
	for (j = 0; j < x->nnotes; j++)
		jw_string(json_wtr, x->notes[j]);
	jw_end_array(json_wtr);

	jw_name(json_wtr, "rules");
	jw_start_array(json_wtr);
	for (i = 0; i < x->nrules; i++) {
		const struct rule_eval *re = &x->rules[i];

		jw_start_object(json_wtr);
		jw_uint_field(json_wtr, "rule", i + 1);
		jw_uint_field(json_wtr, "line",
			      (uint64_t)tool_rule_line(x->svc, i));
		jw_string_field(json_wtr, "text",
				sksteer_service__rule_text(x->svc, i));
		jw_bool_field(json_wtr, "match", re->match);
		jw_name(json_wtr, "conditions");
		jw_start_array(json_wtr);
		for (j = 0; j < re->n; j++) {
			jw_start_object(json_wtr);
			jw_string_field(json_wtr, "kind",
					cond_name(re->evals[j].kind));
			jw_bool_field(json_wtr, "match", re->evals[j].match);
			jw_string_field(json_wtr, "detail",
					re->evals[j].detail);
			jw_end_object(json_wtr);
		}
		jw_end_array(json_wtr);
		jw_end_object(json_wtr);
	}
	jw_end_array(json_wtr);
	jw_uint_field(json_wtr, "rules_not_evaluated",
		      sksteer_service__rule_cnt(x->svc) - x->nrules);

	jw_name(json_wtr, "verdict");
	json_verdict(x, &x->ref, false);
	target_text(x, &x->ref, buf, sizeof(buf));
	jw_string_field(json_wtr, "summary", buf);
	jw_string_field(json_wtr, "pick", x->pick[0] ? x->pick : NULL);

	jw_name(json_wtr, "kernel");
	jw_start_object(json_wtr);
	jw_bool_field(json_wtr, "cbpf", x->have_prog);
	if (x->have_prog) {
		jw_uint_field(json_wtr, "insns", x->prog_insns);
		jw_name(json_wtr, "verdict");
		json_verdict(x, &x->kern, true);
	} else {
		jw_string_field(json_wtr, "reason", x->no_prog_why);
	}
	jw_end_object(json_wtr);
	jw_name(json_wtr, "ebpf");
	jw_start_object(json_wtr);
	jw_bool_field(json_wtr, "tables", x->have_ebpf);
	if (x->have_ebpf) {
		jw_name(json_wtr, "verdict");
		json_verdict(x, &x->ebpf, false);
	} else {
		jw_string_field(json_wtr, "reason", x->no_ebpf_why);
	}
	jw_end_object(json_wtr);
	jw_bool_field(json_wtr, "agree", x->agree);
	jw_end_object(json_wtr);
}

/* The packet the options describe, checked against the service. */
static bool build_flow(struct explain *x, const struct endpoint *from,
		       const struct endpoint *to)
{
	const struct sksteer_service *svc = x->svc;
	const struct sockaddr *sa;
	struct sksteer_flow *f = &x->flow;
	char laddr[64];
	const void *lip;
	uint16_t lport;
	bool any, dual = sksteer_service__dual_stack(svc);
	socklen_t len;

	if (from->family != to->family) {
		p_err("explain: --from is %s and --to is %s: a packet has one "
		      "IP version",
		      from->family == AF_INET ? "IPv4" : "IPv6",
		      to->family == AF_INET ? "IPv4" : "IPv6");
		return false;
	}
	sa = sksteer_service__listen_addr(svc, &len);
	fmt_sockaddr(sa, laddr, sizeof(laddr));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		lip = &in->sin_addr;
		lport = ntohs(in->sin_port);
		any = in->sin_addr.s_addr == htonl(INADDR_ANY);
	} else {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		lip = &in6->sin6_addr;
		lport = ntohs(in6->sin6_port);
		any = IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
	}
	if (to->family == AF_INET && sa->sa_family == AF_INET6 && !dual) {
		p_err("explain: service '%s' listens on %s (IPv6 only): it "
		      "never receives IPv4",
		      sksteer_service__name(svc), laddr);
		return false;
	}
	if (to->family == AF_INET6 && sa->sa_family == AF_INET) {
		p_err("explain: service '%s' listens on %s (IPv4 only): it "
		      "never receives IPv6",
		      sksteer_service__name(svc), laddr);
		return false;
	}
	if (!any && memcmp(lip, &to->addr, to->family == AF_INET ? 4 : 16)) {
		p_err("explain: --to %s: service '%s' listens on %s only, so "
		      "such a packet never reaches it",
		      x->dst, sksteer_service__name(svc), laddr);
		return false;
	}
	if (to->has_port && lport && to->port != lport) {
		p_err("explain: --to port %u: service '%s' listens on port %u",
		      to->port, sksteer_service__name(svc), lport);
		return false;
	}

	f->sz = sizeof(*f);
	f->family = from->family;
	f->src = from->addr;
	f->dst = to->addr;
	f->sport = from->has_port ? from->port : 0;
	f->dport = to->has_port ? to->port : lport;

	if (from->was_mapped || to->was_mapped)
		add_note(x,
			 "an IPv4-mapped address (::ffff:a.b.c.d) is how a "
			 "dual-stack socket shows an IPv4 client; the packet "
			 "is IPv4, explained as such");
	if (f->family == AF_INET && dual)
		add_note(x, "the service is dual-stack ([::]); an IPv4 client "
			    "arrives as IPv4 and matches IPv4 prefixes");
	if (!from->has_port)
		add_note(x, "no source port given: 0 is used");
	if (!to->has_port && !lport)
		add_note(x, "the service's port is 0 (chosen when the group "
			    "is created); 0 is used");
	if (f->payload_len && sksteer_service__protocol(svc) == IPPROTO_TCP)
		add_note(x, "TCP: the payload is data carried by the SYN "
			    "(TCP Fast Open)");
	return true;
}

static int do_explain(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "to", required_argument, NULL, OPT_TO },
		{ "proto", required_argument, NULL, OPT_PROTO },
		{ "payload", required_argument, NULL, OPT_PAYLOAD },
		COMMON_LONGOPTS,
		{ 0 },
	};
	const char *svc_name = NULL, *from_arg = NULL, *to_arg = NULL;
	const char *proto_arg = NULL, *payload_arg = NULL, *path;
	struct sksteer_service **svcs = NULL;
	struct endpoint from, to;
	struct sksteer_config *cfg;
	struct sksteer_prog *prog = NULL;
	uint8_t *payload = NULL;
	size_t payload_len = 0, i;
	struct explain x;
	int c, ret, n, err;

	memset(&x, 0, sizeof(x));
	cmd_opts_reset();
	while ((c = getopt_long(argc, argv, ":s:" COMMON_SHORTOPTS, opts,
				NULL)) != -1) {
		switch (c) {
		case 's':
			svc_name = optarg;
			break;
		case OPT_FROM:
			from_arg = optarg;
			break;
		case OPT_TO:
			to_arg = optarg;
			break;
		case OPT_PROTO:
			proto_arg = optarg;
			break;
		case OPT_PAYLOAD:
			payload_arg = optarg;
			break;
		default:
			if (common_opt(c, argv, &cmd_explain, &ret))
				return ret;
		}
	}
	if (optind >= argc)
		return usage_err(&cmd_explain, "explain: no configuration file "
					       "given");
	if (optind + 1 < argc)
		return usage_err(&cmd_explain,
				 "explain: unexpected argument "
				 "'%s'",
				 argv[optind + 1]);
	if (!from_arg || !to_arg)
		return usage_err(&cmd_explain, "explain: --from and --to are "
					       "needed");
	if (proto_arg && strcmp(proto_arg, "tcp") && strcmp(proto_arg, "udp"))
		return usage_err(&cmd_explain,
				 "explain: --proto '%s': expected "
				 "tcp or udp",
				 proto_arg);
	path = argv[optind];
	if (!parse_endpoint("--from", from_arg, &from) ||
	    !parse_endpoint("--to", to_arg, &to))
		return 1;
	if (payload_arg && !parse_payload(payload_arg, &payload, &payload_len))
		return 1;

	cfg = load_config(path);
	if (!cfg) {
		ret = 1;
		goto out_free_payload;
	}
	n = select_services(cfg, path, svc_name, &svcs);
	if (n < 0) {
		ret = 1;
		goto out_free_cfg;
	}
	if (n > 1) {
		p_err("%s has %d services: say which with --service NAME", path,
		      n);
		ret = 1;
		goto out_free_svcs;
	}
	x.svc = svcs[0];
	x.path = path;
	if (proto_arg &&
	    strcmp(proto_arg, proto_name(sksteer_service__protocol(x.svc)))) {
		p_err("explain: --proto %s, but service '%s' is %s", proto_arg,
		      sksteer_service__name(x.svc),
		      proto_name(sksteer_service__protocol(x.svc)));
		ret = 1;
		goto out_free_svcs;
	}
	fmt_addr(from.family, &from.addr, x.src, sizeof(x.src));
	fmt_addr(to.family, &to.addr, x.dst, sizeof(x.dst));
	if (payload_len >
	    max_payload(from.family, sksteer_service__protocol(x.svc))) {
		int proto = sksteer_service__protocol(x.svc);

		p_err("explain: --payload: %zu bytes, more than a %s over %s "
		      "carries (%zu)",
		      payload_len,
		      proto == IPPROTO_UDP ? "UDP datagram" : "TCP SYN",
		      from.family == AF_INET ? "IPv4" : "IPv6",
		      max_payload(from.family, proto));
		ret = 1;
		goto out_free_svcs;
	}
	x.flow.payload = payload;
	x.flow.payload_len = payload_len;
	x.payload = payload;
	if (!build_flow(&x, &from, &to)) {
		ret = 1;
		goto out_free_svcs;
	}

	x.ref.sz = sizeof(x.ref);
	err = sksteer_service__explain(x.svc, NULL, &x.flow, &x.ref);
	if (err) {
		p_err("explain: evaluating the rules: %s", strerror(-err));
		ret = 1;
		goto out_free_svcs;
	}
	msgs_capture_begin();
	prog = sksteer_service__compile(x.svc, NULL);
	err = errno;
	x.no_prog_why = msgs_capture_end();
	strip_service_prefix(x.no_prog_why, x.svc);
	if (prog) {
		x.have_prog = true;
		x.prog_insns = sksteer_prog__insn_cnt(prog);
		x.kern.sz = sizeof(x.kern);
		err = sksteer_service__explain(x.svc, prog, &x.flow, &x.kern);
		if (err) {
			p_err("explain: running the classic BPF program: %s",
			      strerror(-err));
			ret = 1;
			goto out_free_prog;
		}
		x.agree = same_verdict(&x.ref, &x.kern);
	} else {
		if (!x.no_prog_why)
			x.no_prog_why = strdup(strerror(err));
		x.agree = true;
	}
	/* the eBPF backend's tables, evaluated as its program reads them */
	msgs_capture_begin();
	x.ebpf.sz = sizeof(x.ebpf);
	err = tool_ebpf_explain(x.svc, &x.flow, &x.ebpf);
	x.no_ebpf_why = msgs_capture_end();
	if (!err) {
		x.have_ebpf = true;
		x.agree = x.agree && same_verdict(&x.ref, &x.ebpf);
	} else {
		if (!x.no_ebpf_why)
			x.no_ebpf_why = strdup(strerror(-err));
		strip_service_prefix(x.no_ebpf_why, x.svc);
	}
	err = eval_rules(&x);
	if (err) {
		p_err("explain: evaluating the rules' conditions: %s",
		      strerror(-err));
		ret = 1;
		goto out_free_prog;
	}
	describe_pick(&x);

	if (json_output)
		print_json(&x);
	else
		print_text(&x);
	ret = 0;
	json_report = true;
	if (!x.agree) {
		/* a bug of sksteer, never of the configuration */
		if (!json_output)
			printf("internal error: the backends and the reference "
			       "disagree\n");
		p_err("internal error: the backends and the reference "
		      "disagree");
		ret = 1;
	}
	if (!x.eval_consistent) {
		p_err("internal error: the conditions evaluated one by one do "
		      "not give the rule that decided");
		ret = 1;
	}

out_free_prog:
	sksteer_prog__free(prog);
	for (i = 0; i < x.nrules; i++)
		free(x.rules[i].evals);
	free(x.rules);
	free(x.no_prog_why);
	free(x.no_ebpf_why);
out_free_svcs:
	free(svcs);
out_free_cfg:
	sksteer_config__free(cfg);
out_free_payload:
	free(payload);
	return ret;
}
