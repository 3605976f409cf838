/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libsksteer: steer new connections and datagrams of an SO_REUSEPORT group
 * to the socket its rules pick, with the kernel's reuseport BPF hook.
 *
 * Conventions (the same as libbpf's):
 *  - objects are opaque and named object__verb;
 *  - functions returning int return 0 (or a count) on success and a
 *    negative errno on failure;
 *  - functions returning a pointer return NULL and set errno on failure;
 *  - options structs start with a size field and are declared with
 *    SKSTEER_OPTS() so that old binaries keep working with new fields;
 *  - the library never writes to stderr itself: every message goes
 *    through the print callback set with sksteer_set_print().
 */
#ifndef __SKSTEER_H
#define __SKSTEER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <linux/filter.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SKSTEER_API
#define SKSTEER_API __attribute__((visibility("default")))
#endif

#define SKSTEER_MAJOR_VERSION 0
#define SKSTEER_MINOR_VERSION 1

SKSTEER_API uint32_t sksteer_major_version(void);
SKSTEER_API uint32_t sksteer_minor_version(void);
SKSTEER_API const char *sksteer_version_string(void);

/*
 * Declare and zero-initialise an options struct, filling in its size:
 *   SKSTEER_OPTS(sksteer_group_opts, opts, .port = 8080);
 */
#define SKSTEER_OPTS(TYPE, NAME, ...)                                    \
	struct TYPE NAME = ({                                            \
		memset(&NAME, 0, sizeof(struct TYPE));                   \
		(struct TYPE){ .sz = sizeof(struct TYPE), __VA_ARGS__ }; \
	})

enum sksteer_print_level {
	SKSTEER_WARN,
	SKSTEER_INFO,
	SKSTEER_DEBUG,
};

typedef int (*sksteer_print_fn_t)(enum sksteer_print_level level,
				  const char *fmt, va_list args);

/*
 * Set the function that receives every message of the library (errors
 * with file:line:column, warnings, debug traces). Returns the previous one.
 * The default prints SKSTEER_WARN and SKSTEER_INFO to stderr. NULL
 * silences the library.
 */
SKSTEER_API sksteer_print_fn_t sksteer_set_print(sksteer_print_fn_t fn);

/* ------------------------------------------------------------------ */
/* Configuration                                                      */
/* ------------------------------------------------------------------ */

struct sksteer_config;
struct sksteer_service;
struct sksteer_pool;

enum sksteer_backend {
	SKSTEER_BACKEND_DEFAULT = 0, /* whatever the configuration says */
	SKSTEER_BACKEND_AUTO, /* ebpf when permitted, else cbpf */
	SKSTEER_BACKEND_CBPF,
	SKSTEER_BACKEND_EBPF,
};

enum sksteer_target_kind {
	SKSTEER_TARGET_HASH = 0, /* the kernel's own choice over the group */
	SKSTEER_TARGET_POOL, /* a socket of a pool */
	SKSTEER_TARGET_DROP, /* refuse: TCP RST / ICMP unreachable (eBPF) */
};

struct sksteer_parse_opts {
	size_t sz;
	/*
	 * Directory against which relative prefix-file paths resolve.
	 * Default: the directory of the configuration file (for
	 * sksteer_config__parse_string: the current directory).
	 */
	const char *base_dir;
	/* Port to use instead of the configuration's for every service. */
	uint16_t port_override;
	bool has_port_override;
	size_t : 0;
};

/*
 * Parse a configuration file (see sksteer.conf(5)). On error every
 * problem is reported through the print callback as
 * "FILE:LINE:COLUMN: error: ..." and NULL is returned with errno set
 * (EINVAL for a malformed file, or the errno of a file that cannot be read).
 */
SKSTEER_API struct sksteer_config *
sksteer_config__parse_file(const char *path,
			   const struct sksteer_parse_opts *opts);
/* Same, from memory; @name is used in error messages. */
SKSTEER_API struct sksteer_config *
sksteer_config__parse_string(const char *text, size_t len, const char *name,
			     const struct sksteer_parse_opts *opts);
SKSTEER_API void sksteer_config__free(struct sksteer_config *cfg);

SKSTEER_API size_t
sksteer_config__service_cnt(const struct sksteer_config *cfg);
SKSTEER_API struct sksteer_service *
sksteer_config__service(const struct sksteer_config *cfg, size_t idx);
SKSTEER_API struct sksteer_service *
sksteer_config__find_service(const struct sksteer_config *cfg,
			     const char *name);

SKSTEER_API const char *
sksteer_service__name(const struct sksteer_service *svc);
/* IPPROTO_TCP or IPPROTO_UDP */
SKSTEER_API int sksteer_service__protocol(const struct sksteer_service *svc);
/* The listen address; *len receives its length. */
SKSTEER_API const struct sockaddr *
sksteer_service__listen_addr(const struct sksteer_service *svc, socklen_t *len);
/* true when the listen address is [::] without v6only (IPv4 and IPv6) */
SKSTEER_API bool sksteer_service__dual_stack(const struct sksteer_service *svc);
SKSTEER_API enum sksteer_backend
sksteer_service__backend(const struct sksteer_service *svc);
/* Total number of sockets of the group (all pools). */
SKSTEER_API unsigned int
sksteer_service__socket_cnt(const struct sksteer_service *svc);
SKSTEER_API size_t sksteer_service__rule_cnt(const struct sksteer_service *svc);
/* The rule as written, normalised (for messages and explain). */
SKSTEER_API const char *
sksteer_service__rule_text(const struct sksteer_service *svc, size_t idx);
SKSTEER_API size_t sksteer_service__pool_cnt(const struct sksteer_service *svc);
SKSTEER_API struct sksteer_pool *
sksteer_service__pool(const struct sksteer_service *svc, size_t idx);
SKSTEER_API struct sksteer_pool *
sksteer_service__find_pool(const struct sksteer_service *svc, const char *name);

SKSTEER_API const char *sksteer_pool__name(const struct sksteer_pool *pool);
/* Number of sockets the pool is declared with. */
SKSTEER_API unsigned int sksteer_pool__size(const struct sksteer_pool *pool);
/*
 * Position of the pool's first socket in a freshly created group: pools in
 * declaration order, the sockets of a pool consecutive.
 */
SKSTEER_API unsigned int sksteer_pool__first(const struct sksteer_pool *pool);

/*
 * Whether this process can use the eBPF backend (load a
 * BPF_PROG_TYPE_SK_REUSEPORT program: CAP_BPF, or CAP_SYS_ADMIN). Returns 0
 * or a negative errno with the reason in @why (may be NULL).
 */
SKSTEER_API int sksteer_probe_ebpf(char *why, size_t size);

/*
 * The backend a group of @svc would use in this process, as
 * sksteer_group__create() decides it: @want (SKSTEER_BACKEND_DEFAULT: the
 * service's own), with auto resolved to SKSTEER_BACKEND_EBPF when this
 * process may load BPF programs and the running kernel's verifier takes
 * the service's program (it is loaded and unloaded to find out), else to
 * SKSTEER_BACKEND_CBPF. Returns the backend (CBPF or EBPF), or a negative
 * errno when an explicit ebpf cannot be used; @why (may be NULL) says why,
 * and when auto settles for classic BPF, what the service loses.
 */
SKSTEER_API int
sksteer_service__choose_backend(const struct sksteer_service *svc,
				enum sksteer_backend want, char *why,
				size_t why_sz);

/*
 * Apply @pool's socket options to a throwaway socket of @svc's family and
 * protocol (unbound, in no group) with the code sksteer_group__create()
 * uses, and read each one back: what the kernel would refuse at group
 * creation (an unavailable congestion control, a mark without
 * CAP_NET_ADMIN, a buffer above its sysctl cap...) is refused here, with
 * the same message through the print callback. Returns 0 or a negative
 * errno (-EINVAL when @pool is not @svc's).
 */
SKSTEER_API int sksteer_pool__probe_options(const struct sksteer_service *svc,
					    const struct sksteer_pool *pool);

enum sksteer_lint_kind {
	/* an earlier rule matches every packet this one would */
	SKSTEER_LINT_SHADOWED = 1,
	/* no packet the service receives can match the rule (a 'to' that
	 * misses a specifically bound listener, from and to of different
	 * IP versions) */
	SKSTEER_LINT_NEVER_MATCHES,
	/* default hash beside pools that set a mark */
	SKSTEER_LINT_HASH_MARKS,
};

/* One finding of sksteer_service__lint(). */
struct sksteer_lint {
	enum sksteer_lint_kind kind;
	int rule; /* index of the rule, -1 for the default */
	int by_rule; /* SKSTEER_LINT_SHADOWED: the earlier rule, else -1 */
	char text[1024]; /* for people, naming the rules by number and text */
};

/*
 * Find what in @svc is valid but almost certainly not meant (see
 * sksteer(8), check). Fills at most @max entries of @out in rule order
 * (the default last) and returns the number of findings (possibly more
 * than @max), or a negative errno. Linear in the size of the sets for
 * each pair of rules.
 */
SKSTEER_API int sksteer_service__lint(const struct sksteer_service *svc,
				      struct sksteer_lint *out, size_t max);

/* ------------------------------------------------------------------ */
/* Classic BPF program                                                */
/* ------------------------------------------------------------------ */

struct sksteer_prog;

/* Hard limit of the kernel (BPF_MAXINSNS) for SO_ATTACH_REUSEPORT_CBPF. */
#define SKSTEER_CBPF_MAX_INSNS 4096

struct sksteer_compile_opts {
	size_t sz;
	size_t : 0;
};

/*
 * Compile the service's rules to a classic BPF program for
 * SO_ATTACH_REUSEPORT_CBPF, for a group in declaration order. Fails with
 * EOPNOTSUPP when a rule needs the eBPF backend (drop) and E2BIG when the
 * program would exceed SKSTEER_CBPF_MAX_INSNS; the reason is printed.
 */
SKSTEER_API struct sksteer_prog *
sksteer_service__compile(const struct sksteer_service *svc,
			 const struct sksteer_compile_opts *opts);
SKSTEER_API void sksteer_prog__free(struct sksteer_prog *prog);
SKSTEER_API size_t sksteer_prog__insn_cnt(const struct sksteer_prog *prog);
SKSTEER_API const struct sock_filter *
sksteer_prog__insns(const struct sksteer_prog *prog);
/*
 * Disassemble instruction @idx in tcpdump -d style ("ld [x + -1048576]").
 * Returns the length written (as snprintf) or a negative errno.
 */
SKSTEER_API int sksteer_prog__disasm(const struct sksteer_prog *prog,
				     size_t idx, char *buf, size_t size);

/*
 * Whether a program fits the running kernel. The kernel converts a
 * classic program to eBPF (one to about fifteen instructions each: packet
 * loads become helper calls) and refuses it with ENOMEM when the header
 * plus eight bytes per converted instruction exceed net.core.optmem_max
 * (20480 on older kernels, where it is global; 131072 by default and per
 * network namespace on newer ones). The limit is measured once per
 * namespace and value by attaching probe programs to a throwaway socket.
 */
struct sksteer_prog_fit {
	size_t sz;
	size_t insns; /* classic instructions */
	size_t ebpf_insns; /* after the kernel's conversion */
	/* net.core.optmem_max of this network namespace, -1: unreadable
	 * (older kernels show it only in the initial namespace) */
	long optmem_max;
	bool known; /* the limit below was measured */
	bool fits; /* ebpf_insns <= ebpf_limit */
	/* longest converted program that attaches (SIZE_MAX: more than any
	 * classic program needs) */
	size_t ebpf_limit;
	/* classic instructions of this program's mix that fit, at most
	 * SKSTEER_CBPF_MAX_INSNS */
	size_t max_insns;
	/* an optmem_max value with which this program attaches, -1 when
	 * unknown */
	long optmem_needed;
	size_t : 0;
};

/*
 * Fill @fit (set its sz first) for @prog on the running kernel. Returns 0,
 * or a negative errno when the limit could not be measured (then only
 * insns, ebpf_insns and optmem_max are set).
 */
SKSTEER_API int sksteer_prog__kernel_fit(const struct sksteer_prog *prog,
					 struct sksteer_prog_fit *fit);

enum sksteer_prog_format {
	SKSTEER_PROG_TEXT, /* tcpdump -d style, one instruction a line */
	SKSTEER_PROG_C, /* a struct sock_filter array initialiser */
	SKSTEER_PROG_BYTECODE, /* iproute2 / xt_bpf: "N,code jt jf k,..." */
};

SKSTEER_API int sksteer_prog__fprint(const struct sksteer_prog *prog,
				     enum sksteer_prog_format fmt, FILE *out);

/* ------------------------------------------------------------------ */
/* Explaining a packet                                                */
/* ------------------------------------------------------------------ */

/*
 * A packet as the steering program sees it. Addresses of family AF_INET
 * use the first four bytes of src/dst.
 */
struct sksteer_flow {
	size_t sz;
	int family; /* AF_INET or AF_INET6: the IP version of the packet */
	struct in6_addr src;
	struct in6_addr dst;
	uint16_t sport; /* host byte order */
	uint16_t dport;
	const void *payload;
	size_t payload_len;
	size_t : 0;
};

struct sksteer_verdict {
	size_t sz;
	/* index of the rule that decided, -1 for the default */
	int rule;
	enum sksteer_target_kind kind;
	/* the pool, for SKSTEER_TARGET_POOL */
	const struct sksteer_pool *pool;
	/* socket position in the group (declaration order), or -1 */
	int socket;
	/* socket index within the pool, or -1 */
	int pool_index;
	/* classic BPF instructions executed (cBPF evaluation only) */
	unsigned int insns_executed;
	size_t : 0;
};

/*
 * Evaluate @flow against @svc's rules. With @prog (compiled from @svc),
 * the packet is built and run through a classic BPF interpreter with the
 * kernel's semantics, so the answer is what the kernel will do; without,
 * the rules are evaluated directly. Returns 0 or a negative errno.
 */
SKSTEER_API int sksteer_service__explain(const struct sksteer_service *svc,
					 const struct sksteer_prog *prog,
					 const struct sksteer_flow *flow,
					 struct sksteer_verdict *verdict);

enum sksteer_cond_kind {
	SKSTEER_COND_FROM,
	SKSTEER_COND_TO,
	SKSTEER_COND_SPORT,
	SKSTEER_COND_PAYLOAD,
	SKSTEER_COND_KEY, /* the payload key of "pool NAME by payload" */
};

struct sksteer_cond_eval {
	enum sksteer_cond_kind kind;
	bool match;
	/* for people: "198.51.100.7 is in 198.51.100.0/24",
	 * "payload has 3 bytes, the test needs 4" */
	char detail[160];
};

/*
 * Evaluate each condition of rule @idx for @flow, in the order written,
 * straight from the rule semantics of sksteer.conf(5). Fills at most @max
 * entries of @evals and returns the number of conditions (possibly more
 * than @max), or a negative errno.
 */
SKSTEER_API int sksteer_service__eval_rule(const struct sksteer_service *svc,
					   size_t idx,
					   const struct sksteer_flow *flow,
					   struct sksteer_cond_eval *evals,
					   size_t max);

/* ------------------------------------------------------------------ */
/* Socket groups                                                      */
/* ------------------------------------------------------------------ */

struct sksteer_group;

struct sksteer_group_opts {
	size_t sz;
	/* backend to use instead of the service's */
	enum sksteer_backend backend;
	/*
	 * Create no sockets: the application adds its own with
	 * sksteer_group__adopt() and then calls sksteer_group__attach().
	 */
	bool empty;
	/*
	 * eBPF backend: a bpffs directory where the group pins its counters
	 * and a description for sksteer_stats__read() (e.g.
	 * SKSTEER_PIN_ROOT "/web"). NULL: nothing is pinned.
	 */
	const char *pin_path;
	size_t : 0;
};

/*
 * Where `sksteer run` pins each group of the initial network namespace:
 * SKSTEER_PIN_ROOT/<service>. Other network namespaces have a directory
 * of their own: see sksteer_pin_root().
 */
#define SKSTEER_PIN_ROOT "/sys/fs/bpf/sksteer"

/*
 * The default pin root of the calling thread's network namespace, into
 * @buf: SKSTEER_PIN_ROOT in the initial network namespace, else
 * /sys/fs/bpf/sksteer-netns/<inode> (the inode of /proc/self/ns/net), so
 * that groups of one name in two namespaces never meet. When /sys/fs/bpf
 * is not a bpffs in this mount namespace (`ip netns exec` mounts a fresh
 * /sys) and the initial mount namespace's is reachable as
 * /proc/1/root/sys/fs/bpf, the path goes through it. 0, or -ENAMETOOLONG
 * or another negative errno.
 */
SKSTEER_API int sksteer_pin_root(char *buf, size_t size);

/*
 * Create the service's sockets in group order (pools in declaration order,
 * the sockets of a pool consecutive), apply each pool's socket options,
 * bind (and listen for TCP) and attach the steering program. On failure
 * nothing is left open and NULL is returned with errno set.
 */
SKSTEER_API struct sksteer_group *
sksteer_group__create(const struct sksteer_service *svc,
		      const struct sksteer_group_opts *opts);

/*
 * Add a socket the application created itself to the next free position
 * of @pool (positions fill in group order, so adopt sockets pool by pool
 * in declaration order). An unbound socket is given the pool's options,
 * SO_REUSEPORT, bound and (TCP) put in listen state here. A socket that is
 * already bound must match the service (type, protocol, address, port)
 * and must have joined the group in the order it is adopted. The group
 * takes ownership of @fd.
 */
SKSTEER_API int sksteer_group__adopt(struct sksteer_group *grp,
				     const char *pool, int fd);
/* Compile and attach the program for the current sockets. */
SKSTEER_API int sksteer_group__attach(struct sksteer_group *grp);

SKSTEER_API const struct sksteer_service *
sksteer_group__service(const struct sksteer_group *grp);
/* Port the group listens on (useful when the configuration says 0). */
SKSTEER_API int sksteer_group__port(const struct sksteer_group *grp);
/* The backend in use (SKSTEER_BACKEND_CBPF or SKSTEER_BACKEND_EBPF). */
SKSTEER_API enum sksteer_backend
sksteer_group__backend(const struct sksteer_group *grp);
/*
 * fd of socket @idx of @pool (a pool's indexes never change, also when
 * other sockets close), -ENOENT if there is none.
 */
SKSTEER_API int sksteer_group__fd(const struct sksteer_group *grp,
				  const char *pool, unsigned int idx);
/* Current position of that socket in the kernel's group, or -ENOENT. */
SKSTEER_API int sksteer_group__position(const struct sksteer_group *grp,
					const char *pool, unsigned int idx);
/* Number of open sockets. */
SKSTEER_API unsigned int
sksteer_group__socket_cnt(const struct sksteer_group *grp);

/*
 * Close socket @idx of @pool and re-steer the group for the order the
 * kernel gives it afterwards (the group's last socket moves into the
 * hole). Refused with -EBUSY when the pool would be left empty and the
 * backend cannot honour the pool's fallback.
 */
SKSTEER_API int sksteer_group__close_socket(struct sksteer_group *grp,
					    const char *pool, unsigned int idx);

struct sksteer_socket_info {
	size_t sz;
	const char *pool; /* the pool's name (valid until the next update) */
	unsigned int index; /* index in the pool: a stable name */
	int fd;
	size_t : 0;
};

/*
 * The @n-th open socket of the group (0 <= n < socket_cnt), pools in
 * declaration order and the sockets of a pool in index order. -ENOENT past
 * the end.
 */
SKSTEER_API int sksteer_group__socket(const struct sksteer_group *grp,
				      unsigned int n,
				      struct sksteer_socket_info *info);

/*
 * Replace the group's rules, sets and pools with those of @svc, which must
 * have the same protocol, listen address and port. Pools are matched by
 * name: a pool that grows gets new sockets (with its options) at new
 * indexes, one that shrinks closes its highest indexes, a pool that is
 * gone closes all its sockets, a new pool gets new sockets. The rules are
 * swapped atomically: every packet is steered by the old rules or by the
 * new ones. Refused (-EINVAL) when a pool that stays has other socket
 * options, or @svc names the other backend: those need new sockets. On
 * failure nothing changes. @svc must outlive the group (or the next
 * update); the previous service may be freed once this returns 0.
 */
SKSTEER_API int sksteer_group__update(struct sksteer_group *grp,
				      const struct sksteer_service *svc);

struct sksteer_update_opts {
	size_t sz;
	/*
	 * Leave the sockets the update takes out open: they stay in the
	 * kernel's group, but the attached rules steer nothing to them, so
	 * their owner can serve what is queued in them before
	 * sksteer_group__close_deferred() closes them. A further update is
	 * refused (-EBUSY) until then.
	 */
	bool defer_close;
	size_t : 0;
};

/* sksteer_group__update() with options (@opts may be NULL). */
SKSTEER_API int
sksteer_group__update_opts(struct sksteer_group *grp,
			   const struct sksteer_service *svc,
			   const struct sksteer_update_opts *opts);

/*
 * Close the sockets an update with defer_close left open, and steer the
 * group as the kernel numbers it without them. For UDP, every other
 * descriptor of them must be closed first (a UDP socket leaves the group
 * with its last descriptor). Returns 0, or a negative errno when the
 * final program could not be attached (the sockets are closed anyway).
 */
SKSTEER_API int sksteer_group__close_deferred(struct sksteer_group *grp);

/*
 * eBPF backend: move the counters and description the group pins (see
 * sksteer_group_opts.pin_path) to the bpffs directory @pin_path, for
 * example after sksteer_group__update() gave it a service of another name.
 * One rename of the directory: it is at the old path or at the new one
 * (a reader that looked at the old path just before may find nothing
 * there). -EBUSY when a running group owns @pin_path (what a process that
 * exited left there is removed), -EEXIST when @pin_path exists but holds
 * no group's pins, -EINVAL when the group pins nothing (classic BPF, or
 * no pin_path) or one path is inside the other. On failure the pins stay
 * where they were.
 */
SKSTEER_API int sksteer_group__set_pin_path(struct sksteer_group *grp,
					    const char *pin_path);

/* fd of the attached eBPF program (eBPF backend), -EOPNOTSUPP for cBPF. */
SKSTEER_API int sksteer_group__prog_fd(const struct sksteer_group *grp);

/* Detach the program and close every socket. */
SKSTEER_API void sksteer_group__free(struct sksteer_group *grp);

/* ------------------------------------------------------------------ */
/* Counters of a running group (eBPF backend)                         */
/* ------------------------------------------------------------------ */

struct sksteer_stats;

enum sksteer_counter {
	SKSTEER_CNT_PACKETS, /* connection requests and datagrams steered */
	SKSTEER_CNT_DEFAULT, /* matched no rule: the default decided */
	SKSTEER_CNT_HASH, /* left to the kernel's hash */
	SKSTEER_CNT_DROP, /* refused (drop target or fallback) */
	SKSTEER_CNT_FALLBACK, /* a pool had no open socket: fallback used */
	SKSTEER_CNT_RETRY, /* the picked socket was gone: next one used */
	SKSTEER_CNT_MIGRATE, /* TCP requests moved off a closing listener */
	SKSTEER_CNT_BAD, /* headers that could not be read */
	SKSTEER_CNT__MAX,
};

/* "packets", "default", ... */
SKSTEER_API const char *sksteer_counter_name(enum sksteer_counter c);

/*
 * Read the counters a running group pinned under @pin_path (see
 * sksteer_group_opts.pin_path). NULL and errno: ENOENT when nothing is
 * pinned there, ESRCH when the process that pinned it is gone (stale),
 * EACCES without permission.
 */
SKSTEER_API struct sksteer_stats *sksteer_stats__read(const char *pin_path);
SKSTEER_API void sksteer_stats__free(struct sksteer_stats *st);
SKSTEER_API const char *sksteer_stats__service(const struct sksteer_stats *st);
/* the configuration file the group was loaded from, or "" */
SKSTEER_API const char *sksteer_stats__config(const struct sksteer_stats *st);
SKSTEER_API int sksteer_stats__pid(const struct sksteer_stats *st);
/* rule sets loaded so far (1 + reloads) */
SKSTEER_API uint64_t sksteer_stats__generation(const struct sksteer_stats *st);
/* unix time since which the counters count */
SKSTEER_API uint64_t sksteer_stats__since(const struct sksteer_stats *st);
SKSTEER_API uint64_t sksteer_stats__counter(const struct sksteer_stats *st,
					    enum sksteer_counter c);
SKSTEER_API size_t sksteer_stats__rule_cnt(const struct sksteer_stats *st);
SKSTEER_API const char *sksteer_stats__rule_text(const struct sksteer_stats *st,
						 size_t idx);
/* packets decided by rule @idx */
SKSTEER_API uint64_t sksteer_stats__rule_hits(const struct sksteer_stats *st,
					      size_t idx);
SKSTEER_API size_t sksteer_stats__pool_cnt(const struct sksteer_stats *st);
SKSTEER_API const char *sksteer_stats__pool_name(const struct sksteer_stats *st,
						 size_t idx);
SKSTEER_API unsigned int
sksteer_stats__pool_sockets(const struct sksteer_stats *st, size_t idx);
/* packets delivered to a socket of pool @idx */
SKSTEER_API uint64_t sksteer_stats__pool_hits(const struct sksteer_stats *st,
					      size_t idx);

/* ------------------------------------------------------------------ */
/* UDP replies from the address a datagram arrived on                 */
/* ------------------------------------------------------------------ */

/*
 * A socket bound to a wildcard address replies from whatever source
 * address the routing table picks; on a server with one address per line
 * that is often not the address the client used, and the client drops the
 * reply. With the pool option "pktinfo on", sksteer_udp_recv() records the
 * local address each datagram arrived on and sksteer_udp_reply() sends
 * from exactly that address (IPv4 and IPv6, and IPv4 on dual-stack
 * sockets).
 */
struct sksteer_udp_peer {
	struct sockaddr_storage addr; /* the client */
	socklen_t addrlen;
	struct sockaddr_storage local; /* where the datagram arrived */
	int ifindex;
};

/* recvmsg(2) that fills @peer; -EPROTO when the socket does not deliver
 * packet info (pktinfo is off). Returns the length or a negative errno. */
SKSTEER_API ssize_t sksteer_udp_recv(int fd, void *buf, size_t len, int flags,
				     struct sksteer_udp_peer *peer);
/* sendmsg(2) to @peer from @peer's local address. */
SKSTEER_API ssize_t sksteer_udp_reply(int fd, const void *buf, size_t len,
				      int flags,
				      const struct sksteer_udp_peer *peer);

#ifdef __cplusplus
}
#endif

#endif /* __SKSTEER_H */
