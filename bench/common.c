// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Shared benchmark code; see common.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "common.h"

const char *bc_prog_name = "bench";

static void vwarn(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", bc_prog_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void bc_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	exit(1);
}

void bc_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

static int lib_print(enum sksteer_print_level level, const char *fmt,
		     va_list args)
{
	if (level != SKSTEER_WARN)
		return 0;
	fprintf(stderr, "%s: libsksteer: ", bc_prog_name);
	return vfprintf(stderr, fmt, args);
}

void bc_quiet_lib(void)
{
	sksteer_set_print(lib_print);
}

/* ---- random numbers ---- */

uint64_t bc_rand(struct bc_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t bc_below(struct bc_rng *r, uint64_t n)
{
	return n ? bc_rand(r) % n : 0;
}

/* ---- option values ---- */

long bc_num(const char *s, const char *what, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		bc_die("%s: '%s' is not a number from %ld to %ld", what, s, lo,
		       hi);
	return v;
}

double bc_real(const char *s, const char *what, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	/* !(v >= lo) also refuses NaN */
	if (errno || end == s || *end || !(v >= lo) || v > hi)
		bc_die("%s: '%s' is not a number from %g to %g", what, s, lo,
		       hi);
	return v;
}

void bc_cpu_pair(const char *s, const char *what, int *snd, int *rcv)
{
	char *end;
	long a, b;

	errno = 0;
	a = strtol(s, &end, 10);
	if (!errno && end != s && *end == ',') {
		const char *second = end + 1;

		b = strtol(second, &end, 10);
		if (!errno && end != second && !*end && a >= 0 && a < 4096 &&
		    b >= 0 && b < 4096) {
			*snd = (int)a;
			*rcv = (int)b;
			return;
		}
	}
	bc_die("%s: '%s' is not two CPU numbers SND,RCV (0 to 4095)", what, s);
}

/* ---- prefixes ---- */

struct blk {
	sk_u128 addr;
	int len;
};

#define V4(a, b, c, d)                                         \
	((sk_u128)((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | \
		   (uint32_t)(c) << 8 | (uint32_t)(d)))

/* Special-purpose and address-plan blocks no generated prefix touches. */
static const struct blk excl4[] = {
	{ V4(0, 0, 0, 0), 8 },	     { V4(10, 0, 0, 0), 8 },
	{ V4(100, 64, 0, 0), 10 },   { V4(127, 0, 0, 0), 8 },
	{ V4(169, 254, 0, 0), 16 },  { V4(172, 16, 0, 0), 12 },
	{ V4(192, 0, 0, 0), 24 },    { V4(192, 0, 2, 0), 24 },
	{ V4(192, 168, 0, 0), 16 },  { V4(198, 18, 0, 0), 15 },
	{ V4(198, 51, 100, 0), 24 }, { V4(203, 0, 113, 0), 24 },
	{ V4(224, 0, 0, 0), 3 },
};

static sk_u128 mask_of(int family, int len)
{
	int bits = family == AF_INET ? 32 : 128;
	sk_u128 all = family == AF_INET ? (sk_u128)0xffffffffu : ~(sk_u128)0;

	if (len <= 0)
		return 0;
	return all & ~((((sk_u128)1) << (bits - len)) - 1);
}

static bool overlaps(int family, sk_u128 a, int alen, sk_u128 b, int blen)
{
	int l = alen < blen ? alen : blen;
	sk_u128 m = mask_of(family, l);

	return (a & m) == (b & m);
}

static bool allowed4(sk_u128 a, int len)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(excl4); i++)
		if (overlaps(AF_INET, a, len, excl4[i].addr, excl4[i].len))
			return false;
	return true;
}

/* 2000::/3 minus 2001:db8::/32 */
static bool allowed6(sk_u128 a, int len)
{
	sk_u128 doc = (sk_u128)0x20010db8u << 96;

	if ((a >> 125) != 1)
		return false;
	return !overlaps(AF_INET6, a, len, doc, 32);
}

/* lengths roughly as in the global routing tables */
static int len4(struct bc_rng *r)
{
	static const struct {
		int len, permille;
	} d[] = { { 24, 580 }, { 23, 90 }, { 22, 120 }, { 21, 50 }, { 20, 50 },
		  { 19, 40 },  { 18, 20 }, { 17, 15 },	{ 16, 25 }, { 15, 4 },
		  { 14, 3 },   { 13, 2 },  { 12, 1 } };
	int x = (int)bc_below(r, 1000);
	size_t i;

	for (i = 0; i < ARRAY_SIZE(d); i++) {
		x -= d[i].permille;
		if (x < 0)
			return d[i].len;
	}
	return 24;
}

static int len6(struct bc_rng *r)
{
	static const struct {
		int len, permille;
	} d[] = {
		{ 48, 450 }, { 32, 150 }, { 44, 100 }, { 40, 80 }, { 36, 50 },
		{ 29, 40 },  { 56, 50 },  { 46, 30 },  { 47, 20 }, { 64, 30 }
	};
	int x = (int)bc_below(r, 1000);
	size_t i;

	for (i = 0; i < ARRAY_SIZE(d); i++) {
		x -= d[i].permille;
		if (x < 0)
			return d[i].len;
	}
	return 48;
}

uint32_t bc_rand_addr4(struct bc_rng *r)
{
	sk_u128 a;

	do
		a = (uint32_t)bc_rand(r);
	while (!allowed4(a, 32));
	return (uint32_t)a;
}

sk_u128 bc_rand_addr6(struct bc_rng *r)
{
	sk_u128 a;

	do {
		a = (sk_u128)bc_rand(r) << 64 | bc_rand(r);
		a = (a & ~((sk_u128)7 << 125)) | ((sk_u128)1 << 125);
	} while (!allowed6(a, 128));
	return a;
}

sk_u128 bc_rand_in(struct bc_rng *r, const struct sk_prefix *p)
{
	sk_u128 m = mask_of(p->family, p->len);
	sk_u128 rnd = (sk_u128)bc_rand(r) << 64 | bc_rand(r);
	sk_u128 all = p->family == AF_INET ? (sk_u128)0xffffffffu : ~(sk_u128)0;

	return (p->addr & m) | (rnd & ~m & all);
}

struct sk_prefix *bc_gen_prefixes(int family, size_t n, uint64_t seed,
				  const struct sk_prefix *must, size_t nmust)
{
	struct bc_rng r = { seed * 0x100000001b3ull + (uint64_t)family };
	struct sk_prefix *p = calloc(n ? n : 1, sizeof(*p));
	size_t i;

	if (!p)
		bc_die("out of memory");
	for (i = 0; i < n && i < nmust; i++)
		p[i] = must[i];
	for (; i < n; i++) {
		struct sk_prefix *q = &p[i];

		q->family = family;
		do {
			if (family == AF_INET) {
				q->len = len4(&r);
				q->addr = (uint32_t)bc_rand(&r) &
					  mask_of(AF_INET, q->len);
			} else {
				q->len = len6(&r);
				q->addr = bc_rand_addr6(&r) &
					  mask_of(AF_INET6, q->len);
			}
		} while (family == AF_INET ? !allowed4(q->addr, q->len) :
					     !allowed6(q->addr, q->len));
	}
	return p;
}

/* ---- strings ---- */

void bc_printf(struct bc_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL,
			      b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			bc_die("vsnprintf failed");
		if (b->s && b->len + (size_t)n < b->cap)
			break;
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		if (!b->s)
			bc_die("out of memory");
	}
	b->len += (size_t)n;
}

void bc_prefix_list(struct bc_buf *b, const struct sk_prefix *p, size_t n,
		    const char *sep)
{
	char s[64];
	size_t i;

	for (i = 0; i < n; i++) {
		sk_prefix_fmt(&p[i], s, sizeof(s));
		bc_printf(b, "%s%s", i ? sep : "", s);
	}
}

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct bc_stat bc_stat(const double *v, size_t n)
{
	struct bc_stat s = { .n = n };
	double *c;

	if (!n)
		return s;
	c = malloc(n * sizeof(*c));
	if (!c)
		bc_die("out of memory");
	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_double);
	s.min = c[0];
	s.max = c[n - 1];
	s.med = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
	free(c);
	return s;
}

/* ---- time and CPUs ---- */

uint64_t bc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t bc_thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int bc_ncpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	return CPU_COUNT(&set);
}

/* sched_setaffinity(0) is the calling thread's, as a thread's own
 * pthread_setaffinity_np() */
void bc_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		bc_die("pinning to CPU %d: %s", cpu, strerror(errno));
}

void bc_nap_us(long us)
{
	struct timespec ts = { 0, us * 1000 };

	nanosleep(&ts, NULL);
}

void bc_shuffle(int *v, int n, struct bc_rng *r)
{
	int i;

	for (i = n - 1; i > 0; i--) {
		int j = (int)bc_below(r, (uint64_t)i + 1), t = v[i];

		v[i] = v[j];
		v[j] = t;
	}
}

uint32_t bc_client_addr(int i)
{
	return 0xcb007100u | (uint32_t)(i + 1); /* 203.0.113.1 + i */
}

const struct sk_prefix *bc_client_prefixes(size_t *n)
{
	static struct sk_prefix p[8];
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (struct sk_prefix){ AF_INET,
					   0xcb007100u | (uint32_t)(32 * i),
					   28 };
	*n = 8;
	return p;
}

void bc_sin4(struct sockaddr_in *s, uint32_t a, uint16_t port)
{
	memset(s, 0, sizeof(*s));
	s->sin_family = AF_INET;
	s->sin_addr.s_addr = htonl(a);
	s->sin_port = htons(port);
}

/* ---- namespaces and addresses ---- */

void bc_private_netns(void)
{
	struct ifreq ifr = {};
	int fd;

	if (unshare(CLONE_NEWNET))
		bc_die("unshare(CLONE_NEWNET): %s (run as root)",
		       strerror(errno));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	strcpy(ifr.ifr_name, "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr))
		bc_die("reading lo's flags: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		bc_die("bringing lo up: %s", strerror(errno));
	close(fd);
}

void bc_enter_netns(const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		bc_die("opening %s: %s", path, strerror(errno));
	if (setns(fd, CLONE_NEWNET))
		bc_die("entering namespace %s: %s", name, strerror(errno));
	close(fd);
}

int bc_addr_add(const char *ifname, int family, const void *addr, int plen)
{
	struct {
		struct nlmsghdr nh;
		struct ifaddrmsg ifa;
		char attrs[64];
	} req = {};
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	size_t alen = family == AF_INET ? 4 : 16;
	struct rtattr *rta;
	char reply[512];
	uint32_t flags = IFA_F_NODAD;
	int fd, err = 0;
	ssize_t n;

	req.nh.nlmsg_type = RTM_NEWADDR;
	req.nh.nlmsg_flags =
		NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifa));
	req.ifa.ifa_family = (uint8_t)family;
	req.ifa.ifa_prefixlen = (uint8_t)plen;
	req.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	req.ifa.ifa_index = if_nametoindex(ifname);
	if (!req.ifa.ifa_index)
		return -ENODEV;

	rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
	rta->rta_type = IFA_LOCAL;
	rta->rta_len = (unsigned short)RTA_LENGTH(alen);
	memcpy(RTA_DATA(rta), addr, alen);
	req.nh.nlmsg_len =
		NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
	rta = (struct rtattr *)((char *)&req + req.nh.nlmsg_len);
	rta->rta_type = IFA_ADDRESS;
	rta->rta_len = (unsigned short)RTA_LENGTH(alen);
	memcpy(RTA_DATA(rta), addr, alen);
	req.nh.nlmsg_len += RTA_ALIGN(rta->rta_len);
	rta = (struct rtattr *)((char *)&req + req.nh.nlmsg_len);
	rta->rta_type = IFA_FLAGS;
	rta->rta_len = (unsigned short)RTA_LENGTH(sizeof(flags));
	memcpy(RTA_DATA(rta), &flags, sizeof(flags));
	req.nh.nlmsg_len += RTA_ALIGN(rta->rta_len);

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0) {
		err = -errno;
		goto out_close_fd;
	}
	n = recv(fd, reply, sizeof(reply), 0);
	if (n < 0) {
		err = -errno;
	} else if ((size_t)n >= sizeof(struct nlmsghdr) &&
		   ((struct nlmsghdr *)reply)->nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *e = NLMSG_DATA(reply);

		err = e->error;
	}
out_close_fd:
	close(fd);
	return err;
}

int bc_write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	size_t len = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		err = -errno;
	close(fd);
	return err;
}

/* ---- packets ---- */

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put_addr(uint8_t *p, int family, sk_u128 a)
{
	int i, n = family == AF_INET ? 4 : 16;

	for (i = n - 1; i >= 0; i--) {
		p[i] = (uint8_t)a;
		a >>= 8;
	}
}

size_t bc_build_udp(uint8_t *buf, int family, sk_u128 src, sk_u128 dst,
		    uint16_t sport, uint16_t dport, const void *payload,
		    size_t plen)
{
	size_t ihl = family == AF_INET ? 20 : 40, ulen = 8 + plen;
	uint8_t *u = buf + ihl;
	uint32_t sum = 0;
	uint16_t c;

	memset(buf, 0, ihl + 8);
	if (family == AF_INET) {
		buf[0] = 0x45;
		buf[2] = (uint8_t)((ihl + ulen) >> 8);
		buf[3] = (uint8_t)(ihl + ulen);
		buf[8] = 64;
		buf[9] = IPPROTO_UDP;
		put_addr(buf + 12, AF_INET, src);
		put_addr(buf + 16, AF_INET, dst);
		c = csum_fold(csum_add(0, buf, 20));
		buf[10] = (uint8_t)(c >> 8);
		buf[11] = (uint8_t)c;
	} else {
		buf[0] = 0x60;
		buf[4] = (uint8_t)(ulen >> 8);
		buf[5] = (uint8_t)ulen;
		buf[6] = IPPROTO_UDP;
		buf[7] = 64;
		put_addr(buf + 8, AF_INET6, src);
		put_addr(buf + 24, AF_INET6, dst);
	}
	u[0] = (uint8_t)(sport >> 8);
	u[1] = (uint8_t)sport;
	u[2] = (uint8_t)(dport >> 8);
	u[3] = (uint8_t)dport;
	u[4] = (uint8_t)(ulen >> 8);
	u[5] = (uint8_t)ulen;
	memcpy(u + 8, payload, plen);
	/* pseudo-header: addresses, protocol, length */
	sum = family == AF_INET ? csum_add(sum, buf + 12, 8) :
				  csum_add(sum, buf + 8, 32);
	sum += IPPROTO_UDP + (uint32_t)ulen;
	c = csum_fold(csum_add(sum, u, ulen));
	if (!c)
		c = 0xffff;
	u[6] = (uint8_t)(c >> 8);
	u[7] = (uint8_t)c;
	return ihl + ulen;
}

/* ---- configurations and groups ---- */

struct sksteer_config *bc_parse(const char *text)
{
	struct sksteer_config *cfg;

	cfg = sksteer_config__parse_string(text, strlen(text), "bench.conf",
					   NULL);
	if (!cfg)
		bc_die("the generated configuration does not parse: %s",
		       strerror(errno));
	return cfg;
}

int bc_reuseport_socks(int family, int type, const void *addr, int n,
		       uint16_t *port, int *fds)
{
	struct sockaddr_storage ss = {};
	socklen_t len;
	int i, one = 1, bufsz = 8 << 20;

	for (i = 0; i < n; i++) {
		int fd = socket(family, type | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -errno;
		fds[i] = fd;
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
			return -errno;
		if (type == SOCK_DGRAM)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz,
				   sizeof(bufsz));
		if (family == AF_INET) {
			struct sockaddr_in *s = (struct sockaddr_in *)&ss;

			s->sin_family = AF_INET;
			s->sin_port = htons(*port);
			memcpy(&s->sin_addr, addr, 4);
			len = sizeof(*s);
		} else {
			struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				   sizeof(one));
			s->sin6_family = AF_INET6;
			s->sin6_port = htons(*port);
			memcpy(&s->sin6_addr, addr, 16);
			len = sizeof(*s);
		}
		if (bind(fd, (struct sockaddr *)&ss, len))
			return -errno;
		if (type == SOCK_STREAM && listen(fd, 4096))
			return -errno;
		if (!*port) {
			len = sizeof(ss);
			if (getsockname(fd, (struct sockaddr *)&ss, &len))
				return -errno;
			*port = ntohs(
				family == AF_INET ?
					((struct sockaddr_in *)&ss)->sin_port :
					((struct sockaddr_in6 *)&ss)
						->sin6_port);
		}
	}
	return 0;
}

int bc_egroup_create(const struct sksteer_service *svc, struct bc_egroup *g)
{
	SKSTEER_OPTS(sksteer_group_opts, opts, .backend = SKSTEER_BACKEND_EBPF);
	uint64_t t0 = bc_now_ns();
	unsigned int i, n;
	int err;

	memset(g, 0, sizeof(*g));
	g->prog_fd = -1;
	g->grp = sksteer_group__create(svc, &opts);
	if (!g->grp)
		return -errno;
	g->load_ms = (double)(bc_now_ns() - t0) / 1e6;
	g->prog_fd = sksteer_group__prog_fd(g->grp);
	if (g->prog_fd < 0) {
		err = g->prog_fd;
		goto err_free_group;
	}
	g->port = (uint16_t)sksteer_group__port(g->grp);
	n = sksteer_group__socket_cnt(g->grp);
	g->fds = malloc((n ? n : 1) * sizeof(int));
	if (!g->fds) {
		err = -ENOMEM;
		goto err_free_group;
	}
	/* declared order: pools in order, a pool's sockets by index */
	for (i = 0; i < n; i++) {
		SKSTEER_OPTS(sksteer_socket_info, info);

		err = sksteer_group__socket(g->grp, i, &info);
		if (err)
			goto err_free_group;
		g->fds[i] = info.fd;
	}
	g->nfds = n;
	g->table_bytes = bc_prog_map_bytes(g->prog_fd);
	return 0;

err_free_group:
	bc_egroup_free(g);
	return err;
}

void bc_egroup_free(struct bc_egroup *g)
{
	sksteer_group__free(g->grp);
	free(g->fds);
	memset(g, 0, sizeof(*g));
	g->prog_fd = -1;
}

size_t bc_prog_map_bytes(int prog_fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), ids[64], i;
	size_t total = 0;

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return 0;
	if (info.nr_map_ids > ARRAY_SIZE(ids))
		return 0;
	len = sizeof(info);
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = ARRAY_SIZE(ids);
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return 0;
	for (i = 0; i < info.nr_map_ids; i++) {
		struct bpf_map_info mi = {};
		__u32 mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		/* the tables are arrays; per-CPU counters, the sockarray
		 * and the cookie hash are not rule tables */
		if (!bpf_obj_get_info_by_fd(fd, &mi, &mlen) &&
		    mi.type == BPF_MAP_TYPE_ARRAY)
			total += (size_t)((mi.value_size + 7) & ~7u) *
				 mi.max_entries;
		close(fd);
	}
	return total;
}

int bc_prog_stats(int prog_fd, uint64_t *run_ns, uint64_t *run_cnt)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	*run_ns = info.run_time_ns;
	*run_cnt = info.run_cnt;
	return 0;
}

size_t bc_cbpf_estimate(const struct sksteer_service *svc)
{
	size_t i, n = 16;

	/* sksteer.conf(5), LIMITS: about one instruction per IPv4 range
	 * boundary and six per IPv6 one, plus a few per rule */
	for (i = 0; i < svc->nrules; i++) {
		const struct sk_rule *r = &svc->rules[i];

		n += 8 + 2 * (r->from.n4 + r->to.n4) +
		     12 * (r->from.n6 + r->to.n6);
	}
	return n;
}
