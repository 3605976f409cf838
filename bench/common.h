/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared by the benchmark programs: deterministic prefix sets and traffic,
 * robust statistics, CPU pinning, network namespaces and addresses, and
 * the eBPF contender.
 */
#ifndef __SKSTEER_BENCH_COMMON_H
#define __SKSTEER_BENCH_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

extern const char *bc_prog_name;

void bc_die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void bc_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* libsksteer's messages: warnings only, prefixed with the program name */
void bc_quiet_lib(void);

/* Option values, whole or refused (with bc_die naming @what): a decimal
 * integer or a number from @lo to @hi, or two CPU numbers "SND,RCV". */
long bc_num(const char *s, const char *what, long lo, long hi);
double bc_real(const char *s, const char *what, double lo, double hi);
void bc_cpu_pair(const char *s, const char *what, int *snd, int *rcv);

/* ---- deterministic pseudo-random numbers (splitmix64) ---- */
struct bc_rng {
	uint64_t s;
};

uint64_t bc_rand(struct bc_rng *r);
/* uniform in [0, n) */
uint64_t bc_below(struct bc_rng *r, uint64_t n);

/* ---- prefix sets ---- */

/*
 * @n prefixes of @family drawn from @seed: a routing-table-like mix of
 * lengths at random places of the public unicast space, never touching
 * the address plan's reserved blocks (10/8, 172.16/12, 192.168/16,
 * 192.0.2/24 and the other special ranges) nor the blocks the benchmarks
 * put on interfaces (198.51.100/24, 203.0.113/24, 2001:db8::/32). The
 * @nmust prefixes of @must come first (they count towards @n), so that
 * real clients match the set. Returns a malloc'ed array.
 */
struct sk_prefix *bc_gen_prefixes(int family, size_t n, uint64_t seed,
				  const struct sk_prefix *must, size_t nmust);
/* A random address of the public unicast space (as above). */
uint32_t bc_rand_addr4(struct bc_rng *r);
sk_u128 bc_rand_addr6(struct bc_rng *r);
/* A random address inside @p. */
sk_u128 bc_rand_in(struct bc_rng *r, const struct sk_prefix *p);

/* ---- growing strings ---- */
struct bc_buf {
	char *s;
	size_t len, cap;
};

void bc_printf(struct bc_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void bc_prefix_list(struct bc_buf *b, const struct sk_prefix *p, size_t n,
		    const char *sep);

/* ---- statistics ---- */
struct bc_stat {
	double med, min, max;
	size_t n;
};

/* median (mean of the middle two for even n), min and max */
struct bc_stat bc_stat(const double *v, size_t n);

/* ---- time, CPUs ---- */
/* Fisher-Yates over v[0..n) */
void bc_shuffle(int *v, int n, struct bc_rng *r);

/* The benchmarks' clients: 203.0.113.1 + @i (host order); half of them
 * are in the 8 prefixes bc_client_prefixes() gives (203.0.113.0/28,
 * .32/28, ... .224/28), which every source set of the benchmarks holds. */
uint32_t bc_client_addr(int i);
const struct sk_prefix *bc_client_prefixes(size_t *n);
/* An IPv4 socket address, @a and @port in host order. */
void bc_sin4(struct sockaddr_in *s, uint32_t a, uint16_t port);

uint64_t bc_now_ns(void);
uint64_t bc_thread_cpu_ns(void);
int bc_ncpus(void);
/* Pin the calling thread to @cpu (dies when it cannot be). */
void bc_pin(int cpu);
void bc_nap_us(long us);

/* ---- network namespaces and addresses ---- */

/* Move this process into a fresh network namespace with lo up; it goes
 * away with the process. */
void bc_private_netns(void);
/* Enter the named namespace (ip netns). */
void bc_enter_netns(const char *name);
/* Add @addr/@plen to @ifname in the current namespace (IPv6: nodad). */
int bc_addr_add(const char *ifname, int family, const void *addr, int plen);
/* Write a sysfs/procfs file; -errno on failure. */
int bc_write_file(const char *path, const char *text);

/* ---- packets ---- */

/* IPv4 or IPv6 + UDP header + payload with valid checksums; returns the
 * length. Addresses: IPv4 in the low 32 bits. */
size_t bc_build_udp(uint8_t *buf, int family, sk_u128 src, sk_u128 dst,
		    uint16_t sport, uint16_t dport, const void *payload,
		    size_t plen);

/* ---- configurations and groups ---- */

struct sksteer_config *bc_parse(const char *text);

/* An eBPF-steered group of @svc (sksteer_group__create, backend ebpf),
 * its sockets in declared order and its program. */
struct bc_egroup {
	struct sksteer_group *grp;
	int *fds; /* per declared position */
	unsigned int nfds;
	int prog_fd;
	uint16_t port;
	double load_ms; /* tables built, program loaded and attached */
	size_t table_bytes; /* the program's array maps */
};

int bc_egroup_create(const struct sksteer_service *svc, struct bc_egroup *g);
void bc_egroup_free(struct bc_egroup *g);

/* A group of one SO_REUSEPORT UDP/TCP socket per entry bound to @addr:port
 * (port 0: the kernel picks; all share the first one's port). */
int bc_reuseport_socks(int family, int type, const void *addr, int n,
		       uint16_t *port, int *fds);

/* classic BPF length as sksteer.conf(5) LIMITS estimates it */
size_t bc_cbpf_estimate(const struct sksteer_service *svc);
/* bytes of the array maps a program uses (its rule tables) */
size_t bc_prog_map_bytes(int prog_fd);
/* bpf_prog_info run_time_ns / run_cnt */
int bc_prog_stats(int prog_fd, uint64_t *run_ns, uint64_t *run_cnt);

#endif /* __SKSTEER_BENCH_COMMON_H */
