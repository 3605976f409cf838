// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The size model of src/cbpf_size.c against the running kernel: a classic
 * program the model says fits must attach with SO_ATTACH_REUSEPORT_CBPF,
 * one a single converted instruction longer must fail with ENOMEM.
 *
 * Two ways to stand at the boundary:
 *  - pad real compiled programs (prefix trees, payload tests, IPv6
 *    extension-header walks, spreading blocks) with instructions of known
 *    cost up to exactly the measured limit, and one past it: this checks
 *    the model's count of the real program to the instruction, at any
 *    optmem_max;
 *  - with optmem_max at 20480 (older kernels' default: in a private
 *    network namespace where it is per namespace; where it is global, as
 *    found or set and restored on every exit), unpadded prefix programs on
 *    either side of the boundary.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "internal.h"
#include "testlib.h"

#define SMALL_OPTMEM 20480L

static struct sksteer_prog *compile_text(const char *text)
{
	struct sksteer_config *cfg;
	struct sksteer_prog *prog;

	cfg = sksteer_config__parse_string(text, strlen(text), "fit.conf",
					   NULL);
	ASSERT(cfg, "parse: %s", tl_messages());
	prog = sksteer_service__compile(sksteer_config__service(cfg, 0), NULL);
	ASSERT(prog, "compile: %s", tl_messages());
	sksteer_config__free(cfg);
	return prog;
}

/* 0 attached, else the errno */
static int try_attach(const struct sock_filter *insns, size_t n)
{
	struct sock_fprog fprog;
	int fd, one = 1, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT(fd >= 0, "socket: %s", strerror(errno));
	ASSERT(!setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)),
	       "SO_REUSEPORT: %s", strerror(errno));
	memset(&fprog, 0, sizeof(fprog));
	fprog.len = (unsigned short)n;
	fprog.filter = (struct sock_filter *)insns;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog,
		       sizeof(fprog)))
		err = errno;
	close(fd);
	return err;
}

static uint32_t rng_state = 12345;

static uint32_t rnd(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 8) ^ (rng_state << 20);
}

/* A service with @n4 random IPv4 and @n6 IPv6 prefixes; @extras adds
 * rules of the other kinds. */
static char *config_text(int n4, int n6, bool extras)
{
	size_t cap = 64 + (size_t)(n4 + n6) * 48 + 1024, len = 0;
	char *s = malloc(cap);
	int i;

	ASSERT(s, "malloc");
	len += (size_t)snprintf(s + len, cap - len,
				"service s {\n listen %s 0.0.0.0:1234\n"
				" pool a 3\n pool b 1\n set big {",
				extras ? "udp" : "tcp");
	for (i = 0; i < n4; i++) {
		uint32_t a = rnd();
		int plen = 12 + (int)(rnd() % 21);

		a &= plen ? ~0u << (32 - plen) : 0;
		len += (size_t)snprintf(s + len, cap - len, " %u.%u.%u.%u/%d",
					a >> 24, (a >> 16) & 255,
					(a >> 8) & 255, a & 255, plen);
	}
	for (i = 0; i < n6; i++)
		len += (size_t)snprintf(s + len, cap - len,
					" 2001:db8:%x:%x::/64", rnd() & 0xffff,
					rnd() & 0xffff);
	len += (size_t)snprintf(s + len, cap - len, " }\n");
	if (extras)
		len += (size_t)snprintf(
			s + len, cap - len,
			" rule sport 1000-2000 payload 4 u16 & 0xfff0 == 0x80 "
			"pool b\n rule to 198.51.100.7 pool a by payload 0:2\n"
			" rule payload 60000 u32 > 0x90000000 pool b\n");
	snprintf(s + len, cap - len,
		 " rule from @big pool a\n default pool b\n}\n");
	return s;
}

/* prog, then msh and `ld #0` fillers in front, to converted length @len */
static struct sock_filter *padded(const struct sksteer_prog *prog, size_t len,
				  size_t *n)
{
	size_t e = sk_cbpf_kernel_len(prog->insns, prog->n), m, f, i = 0;
	struct sock_filter *p;

	if (len < e)
		return NULL;
	m = (len - e) / 14;
	f = (len - e) % 14;
	if (m + f + prog->n > SKSTEER_CBPF_MAX_INSNS)
		return NULL;
	p = calloc(m + f + prog->n, sizeof(*p));
	ASSERT(p, "calloc");
	while (m--)
		p[i++] = (struct sock_filter)BPF_STMT(BPF_LDX | BPF_B | BPF_MSH,
						      (uint32_t)SKF_NET_OFF);
	while (f--)
		p[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_IMM, 0);
	memcpy(p + i, prog->insns, prog->n * sizeof(*p));
	*n = i + prog->n;
	ASSERT(sk_cbpf_kernel_len(p, *n) == len, "padding arithmetic");
	return p;
}

TEST(model_exact_on_real_programs)
{
	static const int shapes[][3] = {
		{ 1, 0, 0 },  { 3, 0, 1 },    { 40, 5, 1 },  { 200, 0, 0 },
		{ 0, 60, 1 }, { 500, 40, 1 }, { 900, 0, 0 }, { 1, 1, 1 },
	};
	struct sk_cbpf_limit lim;
	size_t k, tested = 0;

	ASSERT(!sk_cbpf_kernel_limit(&lim), "probe: %s", lim.why);
	if (lim.ebpf_max == SIZE_MAX || lim.ebpf_max == 0)
		SKIP("optmem_max %ld: no boundary to test", lim.optmem_max);
	for (k = 0; k < ARRAY_SIZE(shapes); k++) {
		char *text =
			config_text(shapes[k][0], shapes[k][1], shapes[k][2]);
		struct sksteer_prog *prog = compile_text(text);
		struct sock_filter *p;
		size_t n;
		int d;

		for (d = 0; d <= 1; d++) {
			p = padded(prog, lim.ebpf_max + (size_t)d, &n);
			if (!p) /* too long to pad within 4096: nothing to
				   learn here */
				continue;
			tested++;
			if (d == 0)
				CHECK(!try_attach(p, n),
				      "shape %zu: model says %zu converted "
				      "instructions, padded to the limit %zu it "
				      "does not attach: %s",
				      k,
				      sk_cbpf_kernel_len(prog->insns, prog->n),
				      lim.ebpf_max, strerror(try_attach(p, n)));
			else
				CHECK(try_attach(p, n) == ENOMEM,
				      "shape %zu: one past the limit attaches "
				      "(the model counts too many)",
				      k);
			free(p);
		}
		sksteer_prog__free(prog);
		free(text);
	}
	CHECK(tested >= 8, "only %zu programs could be padded", tested);
}

/* ---- at optmem_max = 20480 ---- */

static long saved_optmem = -1;

static int write_optmem(long v)
{
	char buf[32];
	int fd = open("/proc/sys/net/core/optmem_max", O_WRONLY | O_CLOEXEC);
	ssize_t len = snprintf(buf, sizeof(buf), "%ld\n", v), r;

	if (fd < 0)
		return -errno;
	r = write(fd, buf, (size_t)len);
	close(fd);
	return r == len ? 0 : -EIO;
}

static void restore_optmem(void)
{
	if (saved_optmem >= 0)
		write_optmem(saved_optmem);
}

static void restore_and_die(int sig)
{
	restore_optmem();
	signal(sig, SIG_DFL);
	raise(sig);
}

static bool model_fits(const struct sksteer_prog *p,
		       const struct sk_cbpf_limit *lim)
{
	return sk_cbpf_kernel_len(p->insns, p->n) <= lim->ebpf_max;
}

/*
 * Unpadded prefix programs around the boundary: the model's verdict must
 * be the kernel's, and the optmem_max value it recommends must be enough.
 */
static void boundary_checks(void)
{
	struct sk_cbpf_limit lim;
	int lo = 1, hi = 3000, n, attached = 0;

	ASSERT(!write_optmem(SMALL_OPTMEM), "setting optmem_max");
	ASSERT(!sk_cbpf_kernel_limit(&lim), "probe: %s", lim.why);
	ASSERT(lim.ebpf_max < 4096, "limit %zu at optmem_max %ld", lim.ebpf_max,
	       lim.optmem_max);
	/* the number of prefixes where the model flips */
	while (hi - lo > 1) {
		struct sksteer_prog *p;
		char *t;

		n = (lo + hi) / 2;
		rng_state = 777;
		t = config_text(n, 0, false);
		p = compile_text(t);
		if (model_fits(p, &lim))
			lo = n;
		else
			hi = n;
		sksteer_prog__free(p);
		free(t);
	}
	for (n = lo - 5; n <= lo + 6; n++) {
		struct sksteer_prog_fit fit = { .sz = sizeof(fit) };
		struct sksteer_prog *p;
		char *t;
		int err;

		rng_state = 777;
		t = config_text(n, 0, false);
		p = compile_text(t);
		ASSERT(!sksteer_prog__kernel_fit(p, &fit), "kernel_fit");
		err = try_attach(p->insns, p->n);
		CHECK(fit.fits == !err && (fit.fits || err == ENOMEM),
		      "%d prefixes, %zu classic, %zu converted (limit %zu): "
		      "model says %s, kernel: %s",
		      n, p->n, fit.ebpf_insns, fit.ebpf_limit,
		      fit.fits ? "fits" : "does not fit",
		      err ? strerror(err) : "attached");
		if (getenv("TL_VERBOSE"))
			fprintf(stderr,
				"%d prefixes: %zu classic, %zu eBPF of %zu: %s\n",
				n, fit.insns, fit.ebpf_insns, fit.ebpf_limit,
				err ? strerror(err) : "attached");
		CHECK(fit.fits == (fit.insns <= fit.max_insns),
		      "N of M: %zu of %zu but fits=%d", fit.insns,
		      fit.max_insns, fit.fits);
		if (!fit.fits && fit.optmem_needed > 0) {
			/* the value check recommends is enough */
			ASSERT(!write_optmem(fit.optmem_needed), "raise");
			err = try_attach(p->insns, p->n);
			CHECK(!err, "optmem_max=%ld recommended, still %s",
			      fit.optmem_needed, strerror(err));
			ASSERT(!write_optmem(SMALL_OPTMEM), "lower");
		}
		attached += fit.fits;
		sksteer_prog__free(p);
		free(t);
	}
	CHECK(attached > 0 && attached < 12, "no boundary crossed");
}

TEST(prefix_programs_at_the_boundary)
{
	int self, status;
	pid_t pid;

	if (!tl_is_root())
		SKIP("needs root to set net.core.optmem_max");
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ASSERT(self >= 0, "own namespace: %s", strerror(errno));
	ASSERT(!unshare(CLONE_NEWNET), "unshare: %s", strerror(errno));
	if (sk_read_optmem_max() >= 0) {
		/* per namespace: this one is the test's alone */
		boundary_checks();
		return;
	}
	/* global, and shown only in the initial namespace: change it there
	 * from a child, and restore it whatever becomes of the child */
	ASSERT(!setns(self, CLONE_NEWNET), "setns: %s", strerror(errno));
	saved_optmem = sk_read_optmem_max();
	if (saved_optmem < 0)
		SKIP("net.core.optmem_max cannot be read");
	signal(SIGTERM, restore_and_die);
	signal(SIGINT, restore_and_die);
	signal(SIGALRM, restore_and_die);
	fflush(NULL);
	pid = fork();
	ASSERT(pid >= 0, "fork");
	if (pid == 0) {
		signal(SIGALRM, SIG_DFL);
		boundary_checks();
		fflush(NULL);
		_exit(tl_failed() ? 1 : 0);
	}
	waitpid(pid, &status, 0);
	restore_optmem();
	CHECK(sk_read_optmem_max() == saved_optmem, "optmem_max not restored");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "boundary checks failed (status 0x%x)", status);
}
