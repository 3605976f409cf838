/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Private to libsksteer: the configuration model shared by the parser,
 * the compilers, the matcher and the group code. */
#ifndef __SKSTEER_INTERNAL_H
#define __SKSTEER_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "sksteer.h"

#define SK_HIDDEN __attribute__((visibility("hidden")))

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* The most sockets one group may have (the kernel's limit is U16_MAX). */
#define SK_MAX_SOCKETS 4096
/* Payload offsets a rule may test (keeps offset + width in 32 bits and the
 * programs' length checks meaningful). */
#define SK_MAX_PAYLOAD_OFF 65535

/* Reading an options struct from a caller built against another version. */
#define OPTS_VALID(opts, type) sk_opts_valid(opts, sizeof(struct type), #type)
#define OPTS_HAS(opts, field)                                           \
	((opts) && (opts)->sz >= offsetof(__typeof__(*(opts)), field) + \
					 sizeof((opts)->field))
#define OPTS_GET(opts, field, fallback) \
	(OPTS_HAS(opts, field) ? (opts)->field : (fallback))

SK_HIDDEN bool sk_opts_valid(const void *opts, size_t type_sz,
			     const char *type_name);

/* ---- messages ---- */
SK_HIDDEN void sk_print(enum sksteer_print_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Collect this thread's warnings in @buf (one line, "; " between them)
 * instead of printing them, until sk_capture_end(): for a failure that is
 * the caller's to report, such as an eBPF refusal that auto turns into a
 * fallback. Captures nest.
 */
struct sk_capture {
	char *buf;
	size_t size, len;
	struct sk_capture *prev;
};
SK_HIDDEN void sk_capture_begin(struct sk_capture *c, char *buf, size_t size);
SK_HIDDEN void sk_capture_end(struct sk_capture *c);
#define sk_warn(...)  sk_print(SKSTEER_WARN, __VA_ARGS__)
#define sk_info(...)  sk_print(SKSTEER_INFO, __VA_ARGS__)
#define sk_debug(...) sk_print(SKSTEER_DEBUG, __VA_ARGS__)

/* ---- source locations ---- */
struct sk_loc {
	const char *file; /* owned by the config's string table */
	int line;
	int col;
};

/* ---- address sets ---- */
typedef unsigned __int128 sk_u128;

struct sk_range4 {
	uint32_t lo, hi; /* inclusive, host order */
};

struct sk_range6 {
	sk_u128 lo, hi; /* inclusive, address as a big-endian number */
};

/* Sorted, disjoint, non-adjacent ranges (adjacent ones are merged). */
struct sk_addrset {
	struct sk_range4 *v4;
	size_t n4;
	struct sk_range6 *v6;
	size_t n6;
};

struct sk_prefix {
	int family; /* AF_INET / AF_INET6 */
	sk_u128 addr; /* IPv4 in the low 32 bits */
	int len;
};

/* Parse "198.51.100.0/24", "2001:db8::/32" or a bare address. On error
 * returns -EINVAL and fills @why with a message and @col_off with the offset
 * of the offending character. Host bits set is an error. With @echo false
 * the message never quotes the text (it may come from a file the reader of
 * the message must not see). */
SK_HIDDEN int sk_prefix_parse(const char *s, size_t n, struct sk_prefix *out,
			      char *why, size_t why_sz, int *col_off,
			      bool echo);
/* One address (no length): *@family AF_INET or AF_INET6, the same errors. */
SK_HIDDEN int sk_addr_parse(const char *s, size_t n, int *family, sk_u128 *addr,
			    char *why, size_t why_sz, bool echo);
/* Number of CIDR blocks that cover [lo, hi] of a @bits-bit space exactly. */
SK_HIDDEN size_t sk_range_cidr_cnt(int bits, sk_u128 lo, sk_u128 hi);
SK_HIDDEN void sk_prefix_fmt(const struct sk_prefix *p, char *buf, size_t sz);
SK_HIDDEN void sk_addr6_fmt(sk_u128 a, char *buf, size_t sz);
SK_HIDDEN void sk_addr4_fmt(uint32_t a, char *buf, size_t sz);
SK_HIDDEN sk_u128 sk_in6_to_u128(const struct in6_addr *a);
SK_HIDDEN void sk_u128_to_in6(sk_u128 v, struct in6_addr *a);

/* Builder: collect prefixes, then normalise into an sk_addrset. */
struct sk_addrset_builder {
	struct sk_range4 *v4;
	size_t n4, cap4;
	struct sk_range6 *v6;
	size_t n6, cap6;
	size_t nprefixes;
};

SK_HIDDEN int sk_asb_add_prefix(struct sk_addrset_builder *b,
				const struct sk_prefix *p);
/* An inclusive range; counts as the CIDR blocks it takes. */
SK_HIDDEN int sk_asb_add_range(struct sk_addrset_builder *b, int family,
			       sk_u128 lo, sk_u128 hi);
SK_HIDDEN int sk_asb_add_set(struct sk_addrset_builder *b,
			     const struct sk_addrset *s);
/* Sort and merge into @out; the builder is emptied. */
SK_HIDDEN int sk_asb_finish(struct sk_addrset_builder *b,
			    struct sk_addrset *out);
SK_HIDDEN void sk_asb_free(struct sk_addrset_builder *b);
SK_HIDDEN void sk_addrset_free(struct sk_addrset *s);
SK_HIDDEN bool sk_addrset_has4(const struct sk_addrset *s, uint32_t a);
SK_HIDDEN bool sk_addrset_has6(const struct sk_addrset *s, sk_u128 a);
SK_HIDDEN int sk_addrset_copy(struct sk_addrset *dst,
			      const struct sk_addrset *src);

/* ---- the model ---- */
enum sk_cmp {
	SK_CMP_EQ,
	SK_CMP_NE,
	SK_CMP_LT,
	SK_CMP_LE,
	SK_CMP_GT,
	SK_CMP_GE,
};

/* payload OFF uW [& MASK] CMP VALUE: the bytes read big-endian */
struct sk_paytest {
	uint32_t off;
	uint8_t width; /* 1, 2 or 4 */
	bool has_mask;
	uint32_t mask;
	enum sk_cmp cmp;
	uint32_t value;
};

struct sk_target {
	enum sksteer_target_kind kind;
	int pool; /* index into service->pools, for SKSTEER_TARGET_POOL */
	bool by_payload; /* pick the socket from payload bytes */
	uint32_t key_off;
	uint8_t key_width;
};

struct sk_set {
	char *name;
	struct sk_loc loc;
	char *path; /* prefix file, or NULL when inline */
	size_t nprefixes;
	size_t nskipped; /* bad lines a lenient prefix file skipped */
	bool failed; /* (parser) defined with errors: uses say nothing more */
	struct sk_addrset addrs;
};

struct sk_rule {
	struct sk_loc loc;
	char *text; /* as written, whitespace folded */
	bool has_from, has_to, has_sport;
	struct sk_addrset from, to;
	uint16_t sport_lo, sport_hi;
	struct sk_paytest *pay;
	size_t npay;
	struct sk_target target;
};

struct sk_sockopts {
	bool has_mark, has_congestion, has_pacing_rate, has_tos, has_priority;
	bool has_rcvbuf, has_sndbuf, has_backlog, has_fastopen,
		has_defer_accept, has_pktinfo;
	uint32_t mark;
	char congestion[16]; /* TCP_CA_NAME_MAX */
	uint64_t pacing_rate; /* bytes per second */
	int tos;
	int priority;
	int rcvbuf, sndbuf;
	int backlog;
	int fastopen;
	int defer_accept;
	bool pktinfo;
};

struct sksteer_pool {
	char *name;
	struct sk_loc loc;
	unsigned int size;
	unsigned int first; /* position in a fresh group */
	int idx; /* in service->pools */
	struct sk_sockopts opts;
	/* where traffic goes when the pool has no open socket left */
	struct sk_target fallback;
	bool has_fallback;
	struct sk_loc optloc[16]; /* where each option was set (parser) */
	struct sksteer_service *svc;
};

struct sksteer_service {
	char *name;
	struct sk_loc loc;
	int proto; /* IPPROTO_TCP / IPPROTO_UDP */
	bool has_listen;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	bool v6only;
	bool recv4, recv6; /* IP versions the listen address can receive */
	enum sksteer_backend backend;
	struct sksteer_pool *pools;
	size_t npools;
	unsigned int nsockets;
	struct sk_set **sets; /* service-local sets */
	size_t nsets;
	struct sk_rule *rules;
	size_t nrules;
	struct sk_target deflt;
	bool has_default;
	struct sksteer_config *cfg;
};

struct sksteer_config {
	char *path; /* NULL for strings */
	enum sksteer_backend backend;
	struct sk_set **sets; /* top-level sets */
	size_t nsets;
	struct sksteer_service *services;
	size_t nservices;
	char **strings; /* file names referenced by sk_loc */
	size_t nstrings;
};

/* ---- group layout: which socket sits where in the kernel's group ---- */

/*
 * For every pool, the group positions of its open sockets in pool index
 * order; a closed socket is absent. The classic BPF compiler needs it
 * because the kernel knows sockets only by position.
 */
struct sk_layout {
	size_t npools;
	struct sk_layout_pool {
		unsigned int n; /* open sockets */
		unsigned int *pos; /* their positions */
	} * pools;
};

SK_HIDDEN int sk_layout_declared(const struct sksteer_service *svc,
				 struct sk_layout *out);
SK_HIDDEN void sk_layout_free(struct sk_layout *l);

/* ---- classic BPF ---- */

struct sksteer_prog {
	struct sock_filter *insns;
	size_t n;
	/* for each instruction, the rule whose code it is (-1: the default,
	 * -2: shared code), so that a run can tell which rule decided */
	int *owner;
};

/* Compile for an explicit layout. */
SK_HIDDEN struct sksteer_prog *
sk_cbpf_compile(const struct sksteer_service *svc,
		const struct sk_layout *layout);

/* A packet as seen by a reuseport program: the network header starts at
 * @buf, the transport payload at @buf + @payload_off. */
struct sk_pkt {
	const uint8_t *buf;
	size_t len;
	size_t payload_off;
};

struct sk_interp_result {
	uint32_t ret; /* value the program returned */
	size_t ret_pc; /* the RET instruction that ended it */
	unsigned int steps; /* instructions executed */
	bool fault; /* ended by a failed load or division by 0 */
	int owner; /* last owner >= -1 seen (needs @owner), else -2 */
};

/* Length of the eBPF program the kernel converts a classic one to
 * (bpf_convert_filter()): what net.core.optmem_max is compared with, at
 * eight bytes an instruction plus a header (src/cbpf_size.c). */
SK_HIDDEN size_t sk_cbpf_kernel_len(const struct sock_filter *insns, size_t n);

/* What the running kernel takes, in the current network namespace. */
struct sk_cbpf_limit {
	long optmem_max; /* net.core.optmem_max, -1 when unreadable */
	size_t ebpf_max; /* longest converted program that attached;
			    SIZE_MAX: more than any classic program needs */
	int err; /* the probe failed: @ebpf_max unknown */
	char why[160];
};

/* Measured once per network namespace and optmem_max value. Returns 0
 * or the probe's negative errno (the reason in @lim->why). */
SK_HIDDEN int sk_cbpf_kernel_limit(struct sk_cbpf_limit *lim);
SK_HIDDEN long sk_read_optmem_max(void);

/* Check a program as the kernel's checker would (sk_chk_filter and
 * check_load_and_stores). Returns 0 or -EINVAL with @why set. */
SK_HIDDEN int sk_cbpf_validate(const struct sock_filter *insns, size_t n,
			       char *why, size_t why_sz);
/* Run a program over a packet with the semantics of a converted cBPF
 * reuseport program: loads relative to the payload, SKF_NET_OFF loads
 * relative to the network header, failed loads end the run with 0. */
SK_HIDDEN int sk_cbpf_run(const struct sock_filter *insns, size_t n,
			  const int *owner, const struct sk_pkt *pkt,
			  struct sk_interp_result *res);

/* Build the bytes of a packet for @flow (IPv4 or IPv6 header, TCP or UDP
 * header, payload). Returns the length or a negative errno. */
/* A buffer sk_pkt_build() can fill for @flow, or NULL with -EMSGSIZE
 * (larger than an IP packet) or -ENOMEM in *@err. */
SK_HIDDEN uint8_t *sk_pkt_alloc(const struct sksteer_flow *flow, size_t *size,
				int *err);
SK_HIDDEN int sk_pkt_build(const struct sksteer_flow *flow, int proto,
			   uint8_t *buf, size_t size, struct sk_pkt *pkt);

/* ---- reference matcher (written from the rule semantics, not from the
 * compiler, and used to cross-check it) ---- */

struct sk_match {
	int rule; /* -1: default */
	struct sk_target target; /* what was chosen (after fallbacks) */
	int pool_index; /* socket index within the pool, -1 if none */
};

SK_HIDDEN int sk_match(const struct sksteer_service *svc,
		       const struct sk_layout *layout, const struct sk_pkt *pkt,
		       struct sk_match *out);

/* The in-pool spreading hash over source address and port, shared by every
 * backend so that they agree. @src_words holds the source address as 32-bit
 * words in network order read as big-endian numbers (1 for IPv4, 4 for
 * IPv6). */
SK_HIDDEN uint32_t sk_flow_hash(const uint32_t *src_words, int nwords,
				uint16_t sport);

/* ---- small helpers ---- */
SK_HIDDEN char *sk_strdup(const char *s);
SK_HIDDEN char *sk_strndup(const char *s, size_t n);
SK_HIDDEN void *sk_reallocarray(void *p, size_t n, size_t sz);
/* The number a /proc file (a sysctl) starts with, or -1. */
SK_HIDDEN long sk_read_proc_long(const char *path);

#endif /* __SKSTEER_INTERNAL_H */
