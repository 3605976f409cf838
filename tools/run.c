// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sksteer run: own the sockets of a configuration's groups, steer them,
 * and hand them to worker processes with the systemd socket-activation
 * convention, so that any server that supports socket activation is
 * steered without a change. sksteer reload: ask a running supervisor to
 * re-read its configuration.
 *
 * Why a supervisor holds the sockets: a listening socket lives as long as
 * one descriptor of it is open. The supervisor keeps its own for the life
 * of the group, so a worker that crashes or restarts closes only its
 * copy: connections that arrive meanwhile wait in that socket's accept
 * queue (datagrams in its receive queue) for the next worker, and no
 * other pool sees them, because the steering program still picks that
 * socket.
 *
 * The process model, and why:
 *  - Signals arrive through a signalfd and control requests through a
 *    Unix socket, both polled by one single-threaded loop: no handler
 *    runs in the middle of the bookkeeping. The supervisor is a child
 *    subreaper, so whatever a worker leaves behind is reparented to it
 *    and reaped.
 *  - A worker is a process group of its own (the terminal's ^C reaches
 *    only the supervisor, which forwards it), led by the process started;
 *    SIGTERM/SIGINT are forwarded to the group, SIGKILL follows after
 *    --stop-timeout. What the leader started may outlive it and still
 *    hold the sockets, so a worker is over only when its group is empty:
 *    a crashed worker's group gets SIGTERM (SIGKILL after the timeout)
 *    before the worker starts again, and a reload that closes UDP
 *    sockets waits for it. The group's id is forgotten as soon as
 *    kill(-pgid, 0) says the group is gone: checked after every reap,
 *    before every signal and, while waiting for a group, every
 *    DRAIN_POLL_MS. A later group of the same number would need the
 *    kernel to hand the number out again in between, a wrap of the
 *    whole pid space. (A pidfd names a process, not a group: it would
 *    not help here.)
 *  - Between fork and exec the child moves the worker's sockets to
 *    descriptors 3, 4, ... and marks every other descriptor close-on-exec
 *    (close_range), so a worker inherits its listening sockets and
 *    nothing else; it writes its own pid into LISTEN_PID (set after
 *    fork, as sd_listen_fds(3) requires), drops privileges and reports
 *    any failure before exec through a close-on-exec pipe.
 *  - UDP sockets leave the kernel's reuseport group only when their last
 *    descriptor closes (TCP listeners leave at shutdown(), which the
 *    library uses), and a datagram queued in a socket dies with it. A
 *    reload that closes UDP sockets therefore updates with defer_close
 *    (the new rules steer nothing to them, they stay open), lets their
 *    workers answer what is queued, stops those workers, and only then
 *    closes the sockets (finish_closing()).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/sock_diag.h>

#include "main.h"
#include "model.h"
#include "run_ctl.h"
#include "run_guard.h"

extern char **environ;

/*
 * Restart backoff: a worker that ran for RESET or more restarts at once;
 * one that exits sooner waits MIN, doubled after each quick exit in a
 * row, up to MAX. There is no give-up: its socket stays in the group and
 * the steering still sends it its share, so a supervisor that stopped
 * restarting would leave that share unanswered (see sksteer(8)).
 */
#define RESTART_DELAY_MIN_MS	100
#define RESTART_DELAY_MAX_MS	5000
#define RESTART_RESET_MS	10000
#define DEFAULT_STOP_TIMEOUT_MS 10000
/* after SIGKILL, how long a process group may take to disappear */
#define KILL_GRACE_MS 2000
/* a group's last process need not be our child, whose exit we hear of:
 * how often to look while waiting for a group to empty */
#define DRAIN_POLL_MS 100
/* how often a reload looks at the queues of the sockets it closes */
#define QUEUE_POLL_MS 5
/* the least time between attaching the rules that steer away from a
 * socket and finding its queue empty: a datagram the old rules steered
 * to it on another CPU is queued within microseconds */
#define QUEUE_SETTLE_MS 20
/* the longest a reload waits for those queues to empty */
#define QUEUE_DRAIN_MAX_MS     5000
#define DEFAULT_RELOAD_TIMEOUT 120
#define DEFAULT_RUNTIME_DIR    "/run/sksteer"
/* a control request or reply; replies longer than this are cut */
#define CTL_MSG_MAX  (60 * 1024)
#define NAME_MAX_LEN 64

/* One listening socket a worker holds. */
struct wsock {
	char *pool;
	unsigned int index;
	int fd; /* the supervisor's descriptor */
	ino_t ino; /* the socket's identity across reloads */
};

struct svc_ent;

struct worker {
	unsigned long id;
	char *service;
	struct svc_ent *svc; /* NULL once retired with its service */
	struct wsock *socks;
	unsigned int nsocks;
	pid_t pid; /* the process started, until reaped; 0 when none */
	pid_t pgid; /* its process group, until seen empty; 0 when none */
	bool retired; /* stopping for good: freed once its group is gone */
	bool sigkilled;
	/* kill_at: when SIGKILL follows the SIGTERM sent to the group */
	int64_t started, restart_at, kill_at;
	unsigned int quick_fails;
};

struct svc_ent {
	char *name;
	/* eBPF: the name its counters are pinned under (the name it
	 * started with, until a rename moves them) */
	char *pinned;
	struct sksteer_config *cfg; /* the configuration @svc belongs to */
	const struct sksteer_service *svc;
	struct sksteer_group *grp;
};

struct sup {
	/* options */
	const char *file;
	const char *only_service;
	char *name;
	char *runtime_dir;
	const char *pin_root;
	char **cmd;
	bool per_service;
	enum sksteer_backend backend;
	bool has_uid, has_gid;
	uid_t uid;
	gid_t gid;
	char *user_name, *user_home, *user_shell;
	int64_t stop_timeout;
	/* the workers' seccomp filter; len 0 with --no-seccomp */
	struct sock_fprog guard;

	/* state */
	struct svc_ent **svcs;
	size_t nsvcs;
	struct worker **workers;
	size_t nworkers;
	struct sksteer_config **cfgs;
	size_t ncfgs;
	unsigned long next_id;
	int sigfd, ctlfd, lockfd, devnull;
	struct ctl ctl; /* the control socket's connections */
	char *pid_path, *sock_path;
	pid_t self;
	bool started; /* every first worker is running */
	bool stopping;
	int stop_sig;
	int pending_stop;
	bool pending_reload;
	bool killed; /* a worker had to be killed with SIGKILL */
	unsigned long restarts;
};

/* ---- small helpers ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A line on stderr, where the service manager's journal collects it. */
static void logm(const struct sup *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void logm(const struct sup *s, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s: ", BIN_NAME, s->name ? s->name : "run");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (!p) {
		fprintf(stderr, "%s: out of memory\n", BIN_NAME);
		abort();
	}
	return p;
}

static char *xstrdup(const char *str)
{
	char *p = strdup(str);

	if (!p) {
		fprintf(stderr, "%s: out of memory\n", BIN_NAME);
		abort();
	}
	return p;
}

static char *xasprintf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0) {
		fprintf(stderr, "%s: out of memory\n", BIN_NAME);
		abort();
	}
	return p;
}

static void *xrealloc(void *p, size_t n, size_t sz)
{
	p = reallocarray(p, n ? n : 1, sz);
	if (!p) {
		fprintf(stderr, "%s: out of memory\n", BIN_NAME);
		abort();
	}
	return p;
}

/* A growing string for reload reports. */
struct sbuf {
	char *s;
	size_t len;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	char *add;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&add, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	b->s = xrealloc(b->s, b->len + (size_t)n + 1, 1);
	memcpy(b->s + b->len, add, (size_t)n + 1);
	b->len += (size_t)n;
	free(add);
}

static bool valid_name(const char *n)
{
	size_t i;

	if (!*n || strlen(n) > NAME_MAX_LEN || n[0] == '.' || n[0] == '-')
		return false;
	for (i = 0; n[i]; i++)
		if (!isalnum((unsigned char)n[i]) && !strchr("_.-", n[i]))
			return false;
	return true;
}

/* Seconds with up to three decimals, 0 < SEC <= 3600. */
static bool parse_seconds(const char *str, int64_t *ms)
{
	double v;
	char *end;

	if (!str || !*str || !isdigit((unsigned char)*str))
		return false;
	errno = 0;
	v = strtod(str, &end);
	if (errno || *end || v <= 0 || v > 3600)
		return false;
	*ms = (int64_t)(v * 1000 + 0.5);
	return *ms > 0;
}

/*
 * The runtime directory: --runtime-dir, else /run/sksteer for root, else
 * $XDG_RUNTIME_DIR/sksteer. Both commands resolve it the same way, so
 * sksteer reload finds what sksteer run created.
 */
static char *runtime_dir(const char *opt)
{
	const char *xdg;

	if (opt)
		return xstrdup(opt);
	if (geteuid() == 0)
		return xstrdup(DEFAULT_RUNTIME_DIR);
	xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg && *xdg == '/')
		return xasprintf("%s/sksteer", xdg);
	return NULL;
}

static const char *runtime_dir_help(void)
{
	return "--runtime-dir DIR (default " DEFAULT_RUNTIME_DIR
	       " as root, else $XDG_RUNTIME_DIR/sksteer)";
}

static socklen_t sun_fill(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return 0;
	strcpy(sun->sun_path, path);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
			   strlen(path) + 1);
}

/* ---- systemd notification (sd_notify(3) without libsystemd) ---- */

static void sd_notifyf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void sd_notifyf(const char *fmt, ...)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	char msg[512];
	va_list ap;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@'))
		return;
	len = sun_fill(&sun, path);
	if (!len)
		return;
	if (path[0] == '@') {
		/* abstract namespace: a leading NUL, no trailing one */
		sun.sun_path[0] = '\0';
		len--;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun,
	       len);
	close(fd);
}

/* ---- the services' sockets ---- */

static void wsocks_free(struct wsock *ws, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		free(ws[i].pool);
	free(ws);
}

/* The group's open sockets in group order (pools in declaration order). */
static int group_socks(const struct sksteer_group *grp, struct wsock **out,
		       unsigned int *nout)
{
	unsigned int n = sksteer_group__socket_cnt(grp), i;
	struct wsock *ws = xcalloc(n, sizeof(*ws));

	for (i = 0; i < n; i++) {
		SKSTEER_OPTS(sksteer_socket_info, info);
		struct stat st;
		int err = sksteer_group__socket(grp, i, &info);

		if (!err && fstat(info.fd, &st))
			err = -errno;
		if (err) {
			wsocks_free(ws, i);
			return err;
		}
		ws[i] = (struct wsock){ .pool = xstrdup(info.pool),
					.index = info.index,
					.fd = info.fd,
					.ino = st.st_ino };
	}
	*out = ws;
	*nout = n;
	return 0;
}

static bool wsocks_same(const struct wsock *a, unsigned int na,
			const struct wsock *b, unsigned int nb)
{
	unsigned int i;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++)
		if (a[i].ino != b[i].ino)
			return false;
	return true;
}

static bool wsocks_has(const struct wsock *ws, unsigned int n, ino_t ino)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (ws[i].ino == ino)
			return true;
	return false;
}

/*
 * Which destinations a socket bound to an address receives, and how the
 * kernel ranks it there. The listener lookup (TCP and UDP alike) first
 * searches the sockets bound to the packet's destination address, and
 * only when none is there the wildcard ones; within each, an AF_INET
 * socket comes before an AF_INET6 one (dual-stack, or bound to a
 * v4-mapped address), and the first socket found in a reuseport group
 * takes the packet: two sockets of the same rank in different groups
 * split the traffic by the order they happen to be in.
 */
struct reach {
	bool v4, v4any; /* receives IPv4: to v4addr, or to any address */
	uint32_t v4addr;
	int v4rank; /* 2: an AF_INET socket, 1: an AF_INET6 one */
	bool v6, v6any;
	struct in6_addr v6addr;
};

static void reach_of(int family, const void *addr, bool dual_stack,
		     struct reach *r)
{
	memset(r, 0, sizeof(*r));
	if (family == AF_INET) {
		memcpy(&r->v4addr, addr, 4);
		r->v4 = true;
		r->v4any = !r->v4addr;
		r->v4rank = 2;
		return;
	}
	memcpy(&r->v6addr, addr, 16);
	if (IN6_IS_ADDR_V4MAPPED(&r->v6addr)) {
		memcpy(&r->v4addr, r->v6addr.s6_addr + 12, 4);
		r->v4 = true;
		r->v4any = !r->v4addr;
		r->v4rank = 1;
		return;
	}
	r->v6 = true;
	r->v6any = IN6_IS_ADDR_UNSPECIFIED(&r->v6addr);
	if (r->v6any && dual_stack) {
		r->v4 = r->v4any = true;
		r->v4rank = 1;
	}
}

enum overlap {
	OVERLAP_NONE,
	OVERLAP_SAME, /* the same destinations at the same rank */
	OVERLAP_SPECIFIC, /* a more specific address */
	OVERLAP_IPV4, /* an IPv4 socket before a dual-stack one */
};

/* Would @o take traffic that the group @g would otherwise receive? */
static enum overlap overlaps(const struct reach *g, const struct reach *o)
{
	if (g->v4 && o->v4) {
		if (!g->v4any) {
			if (!o->v4any && o->v4addr == g->v4addr &&
			    o->v4rank >= g->v4rank)
				return OVERLAP_SAME;
		} else if (!o->v4any) {
			return OVERLAP_SPECIFIC;
		} else if (o->v4rank > g->v4rank) {
			return OVERLAP_IPV4;
		} else if (o->v4rank == g->v4rank) {
			return OVERLAP_SAME;
		}
	}
	if (g->v6 && o->v6) {
		if (!g->v6any) {
			if (!o->v6any && !memcmp(&o->v6addr, &g->v6addr, 16))
				return OVERLAP_SAME;
		} else {
			return o->v6any ? OVERLAP_SAME : OVERLAP_SPECIFIC;
		}
	}
	return OVERLAP_NONE;
}

/* Every socket of every group of this supervisor, by inode. */
static void own_inodes(const struct sup *s, ino_t **out, size_t *nout)
{
	size_t i, n = 0;
	ino_t *inos = NULL;

	for (i = 0; i < s->nsvcs; i++) {
		struct wsock *ws;
		unsigned int nws, k;

		if (group_socks(s->svcs[i]->grp, &ws, &nws))
			continue;
		inos = xrealloc(inos, n + nws, sizeof(*inos));
		for (k = 0; k < nws; k++)
			inos[n++] = ws[k].ino;
		wsocks_free(ws, nws);
	}
	*out = inos;
	*nout = n;
}

/* " pid N 'COMM'" of a process holding socket @ino, or "" (error path:
 * this reads every process's descriptors). */
static void socket_owner(unsigned long ino, char *buf, size_t sz)
{
	char want[64];
	struct dirent *de;
	DIR *d = opendir("/proc");

	buf[0] = '\0';
	snprintf(want, sizeof(want), "socket:[%lu]", ino);
	while (d && !buf[0] && (de = readdir(d))) {
		char path[600], link[64], comm[64] = "?";
		struct dirent *fe;
		DIR *fd_dir;
		FILE *f;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", de->d_name);
		fd_dir = opendir(path);
		while (fd_dir && !buf[0] && (fe = readdir(fd_dir))) {
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%s/fd/%s",
				 de->d_name, fe->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (strcmp(link, want))
				continue;
			snprintf(path, sizeof(path), "/proc/%s/comm",
				 de->d_name);
			f = fopen(path, "re");
			if (f) {
				if (fgets(comm, sizeof(comm), f))
					comm[strcspn(comm, "\n")] = '\0';
				fclose(f);
			}
			snprintf(buf, sz, ", pid %d '%.32s'", atoi(de->d_name),
				 comm);
		}
		if (fd_dir)
			closedir(fd_dir);
	}
	if (d)
		closedir(d);
}

/* The error of port_check(): @a is the service's address, @other the
 * socket in the way. */
static void overlap_why(const struct sksteer_service *svc, enum overlap how,
			const char *a, const char *other, char *why,
			size_t whysz)
{
	bool tcp = sksteer_service__protocol(svc) == IPPROTO_TCP;
	const char *proto = proto_name(sksteer_service__protocol(svc));
	const char *does = tcp ? "listens" : "is bound";
	const char *what = tcp ? "connections" : "datagrams";
	const char *dual =
		sksteer_service__dual_stack(svc) ? " (dual-stack)" : "";
	const char *name = sksteer_service__name(svc);

	switch (how) {
	case OVERLAP_SAME:
		snprintf(why, whysz,
			 "service '%s': %s %s%s: another socket in this "
			 "network namespace already %s there, %s: its owner "
			 "would share the reuseport group or take part of its "
			 "%s, and the steering would be wrong; is another "
			 "'sksteer run' or a server still running?",
			 name, proto, a, dual, does, other, what);
		break;
	case OVERLAP_SPECIFIC:
		snprintf(why, whysz,
			 "service '%s': %s %s%s: another socket in this "
			 "network namespace %s on a more specific address, "
			 "%s: the kernel gives it the %s for that address, "
			 "and the group would never see them; stop it, or "
			 "listen on another port",
			 name, proto, a, dual, does, other, what);
		break;
	default:
		snprintf(why, whysz,
			 "service '%s': %s %s%s: another socket in this "
			 "network namespace %s on IPv4, %s: the kernel gives "
			 "it the IPv4 %s before a dual-stack socket, and the "
			 "group would never see them; stop it, or listen on "
			 "another port",
			 name, proto, a, dual, does, other, what);
		break;
	}
}

/*
 * The error of port_check() for a service that runs: the socket in the
 * way came after its group, and takes its traffic now.
 */
static void joined_why(const struct sksteer_service *svc, enum overlap how,
		       const char *a, const char *other, char *why,
		       size_t whysz)
{
	bool tcp = sksteer_service__protocol(svc) == IPPROTO_TCP;
	const char *what = tcp ? "connections" : "datagrams";
	const char *where = how == OVERLAP_SAME ?
				    "joined its reuseport group" :
			    how == OVERLAP_SPECIFIC ?
				    "is bound to a more specific address" :
				    "is bound to its port on IPv4";
	const char *takes = how == OVERLAP_SAME ? "part of the service's" :
						  "all of that address's";

	snprintf(why, whysz,
		 "service '%s': %s %s%s: a socket that is not the "
		 "supervisor's %s since the group was made, %s: the kernel "
		 "gives it %s %s, which the steering cannot see; stop its "
		 "owner (nothing is changed until then)",
		 sksteer_service__name(svc),
		 proto_name(sksteer_service__protocol(svc)), a,
		 sksteer_service__dual_stack(svc) ? " (dual-stack)" : "", where,
		 other, takes, what);
}

/*
 * Is something in this network namespace, other than this supervisor's
 * own sockets (@own), listening (TCP) or bound (UDP) where it would take
 * traffic meant for the service's group? The same address and port: a
 * socket of the same owner with SO_REUSEPORT would silently join the
 * group (another supervisor, a server still running, workers of a
 * supervisor that died). A more specific address, or an IPv4 socket
 * when the service is dual-stack: the kernel picks it first, and the
 * group never sees that traffic. Either way the steering would be wrong,
 * and nothing would say so. Port 0 asks for a free port: nothing to
 * check.
 */
static int port_check(const struct sksteer_service *svc, const ino_t *own,
		      size_t nown, bool running, char *why, size_t whysz)
{
	static const char *const files[2][2] = {
		{ "/proc/net/udp", "/proc/net/udp6" },
		{ "/proc/net/tcp", "/proc/net/tcp6" },
	};
	socklen_t alen;
	const struct sockaddr *sa = sksteer_service__listen_addr(svc, &alen);
	bool tcp = sksteer_service__protocol(svc) == IPPROTO_TCP;
	/* TCP_LISTEN, and TCP_CLOSE for a bound unconnected UDP socket */
	unsigned int want_state = tcp ? 0x0a : 0x07;
	enum overlap found = OVERLAP_NONE;
	char a[INET6_ADDRSTRLEN + 16], b[INET6_ADDRSTRLEN + 16];
	char owner[128] = "", other[256];
	unsigned long ino = 0;
	unsigned int port, uid = 0;
	struct reach g, o;
	int f6, err = 0;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		port = ntohs(s6->sin6_port);
		reach_of(AF_INET6, &s6->sin6_addr,
			 sksteer_service__dual_stack(svc), &g);
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		port = ntohs(s4->sin_port);
		reach_of(AF_INET, &s4->sin_addr, false, &g);
	}
	if (!port)
		return 0;
	for (f6 = 0; f6 < 2 && found == OVERLAP_NONE; f6++) {
		const char *path = files[tcp][f6];
		unsigned int words = f6 ? 4 : 1;
		char line[512], hex[40];
		FILE *f = fopen(path, "re");

		if (!f) {
			/* no IPv6 in this kernel: no IPv6 socket either */
			if (f6 && errno == ENOENT)
				continue;
			err = -errno;
			snprintf(why, whysz,
				 "cannot read %s to check that no other "
				 "socket takes the service's traffic: %s",
				 path, strerror(errno));
			return err;
		}
		/* "sl local_address rem_address st tx:rx tr:when retrnsmt
		 * uid timeout inode": the address as the raw 32-bit words of
		 * the kernel's structure, printed with %08X */
		while (found == OVERLAP_NONE && fgets(line, sizeof(line), f)) {
			unsigned char raw[16];
			unsigned int p, st, i;
			size_t k;

			if (sscanf(line,
				   " %*u: %39[0-9A-Fa-f]:%x %*s %x %*s %*s "
				   "%*s %u %*u %lu",
				   hex, &p, &st, &uid, &ino) != 5 ||
			    strlen(hex) != words * 8 || p != port ||
			    st != want_state)
				continue;
			for (k = 0; k < nown && own[k] != (ino_t)ino; k++)
				;
			if (k < nown)
				continue;
			for (i = 0; i < words; i++) {
				char w[9];
				uint32_t v;

				memcpy(w, hex + 8 * i, 8);
				w[8] = '\0';
				v = (uint32_t)strtoul(w, NULL, 16);
				memcpy(raw + 4 * i, &v, 4);
			}
			/* whether an IPv6 wildcard is v6only does not show
			 * here; a dual-stack one takes nothing from an IPv4
			 * group, and v6only or not it ties with an IPv6 one */
			reach_of(f6 ? AF_INET6 : AF_INET, raw, true, &o);
			found = overlaps(&g, &o);
			if (found)
				fmt_addr(f6 ? AF_INET6 : AF_INET, raw, b,
					 sizeof(b));
		}
		fclose(f);
	}
	if (found == OVERLAP_NONE)
		return 0;

	fmt_sockaddr(sa, a, sizeof(a));
	socket_owner(ino, owner, sizeof(owner));
	snprintf(other, sizeof(other), "%s%s%s:%u (inode %lu, uid %u%s)",
		 strchr(b, ':') ? "[" : "", b, strchr(b, ':') ? "]" : "", port,
		 ino, uid, owner);
	if (running)
		joined_why(svc, found, a, other, why, whysz);
	else
		overlap_why(svc, found, a, other, why, whysz);
	return -EADDRINUSE;
}

/* ---- services ---- */

static struct svc_ent *find_svc(const struct sup *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nsvcs; i++)
		if (!strcmp(s->svcs[i]->name, name))
			return s->svcs[i];
	return NULL;
}

static struct sksteer_group *group_create(const struct sup *s,
					  const struct sksteer_service *svc)
{
	char *pin = xasprintf("%s/%s", s->pin_root, sksteer_service__name(svc));
	SKSTEER_OPTS(sksteer_group_opts, opts, .backend = s->backend,
		     .pin_path = pin);
	struct sksteer_group *grp = sksteer_group__create(svc, &opts);
	int err = errno;

	free(pin);
	errno = err;
	return grp;
}

static void cfg_add(struct sup *s, struct sksteer_config *cfg)
{
	s->cfgs = xrealloc(s->cfgs, s->ncfgs + 1, sizeof(*s->cfgs));
	s->cfgs[s->ncfgs++] = cfg;
}

/* Free the configurations no service runs any more. */
static void cfg_gc(struct sup *s)
{
	size_t i, j, k = 0;

	for (i = 0; i < s->ncfgs; i++) {
		bool used = false;

		for (j = 0; j < s->nsvcs && !used; j++)
			used = s->svcs[j]->cfg == s->cfgs[i];
		if (used)
			s->cfgs[k++] = s->cfgs[i];
		else
			sksteer_config__free(s->cfgs[i]);
	}
	s->ncfgs = k;
}

/* ---- workers ---- */

static const char *wlabel(const struct worker *w, char *buf, size_t sz)
{
	if (w->nsocks == 1)
		snprintf(buf, sz, "%s/%s[%u]", w->service, w->socks[0].pool,
			 w->socks[0].index);
	else
		snprintf(buf, sz, "%s (%u sockets)", w->service, w->nsocks);
	return buf;
}

static struct worker *worker_new(struct sup *s, struct svc_ent *e,
				 struct wsock *socks, unsigned int n)
{
	struct worker *w = xcalloc(1, sizeof(*w));

	w->id = ++s->next_id;
	w->service = xstrdup(e->name);
	w->svc = e;
	w->socks = socks;
	w->nsocks = n;
	s->workers = xrealloc(s->workers, s->nworkers + 1, sizeof(*s->workers));
	s->workers[s->nworkers++] = w;
	return w;
}

static void worker_free(struct sup *s, struct worker *w)
{
	size_t i;

	for (i = 0; i < s->nworkers; i++) {
		if (s->workers[i] == w) {
			s->workers[i] = s->workers[--s->nworkers];
			break;
		}
	}
	wsocks_free(w->socks, w->nsocks);
	free(w->service);
	free(w);
}

static struct worker *worker_by_id(const struct sup *s, unsigned long id)
{
	size_t i;

	for (i = 0; i < s->nworkers; i++)
		if (s->workers[i]->id == id)
			return s->workers[i];
	return NULL;
}

/*
 * Is the worker's process group empty? Its id is forgotten then: once
 * the group is gone the kernel may give the number to another process,
 * which may lead a group of its own.
 */
static bool worker_group_gone(struct worker *w)
{
	if (w->pgid && kill(-w->pgid, 0) && errno == ESRCH)
		w->pgid = 0;
	return !w->pgid;
}

/* Nothing of the worker is left: its process, and its process group. */
static bool worker_gone(struct worker *w)
{
	return worker_group_gone(w) && !w->pid;
}

/* Signal the worker's process group, and the process if it left it. */
static void worker_kill(struct worker *w, int sig)
{
	if (!worker_group_gone(w))
		kill(-w->pgid, sig);
	if (w->pid && getpgid(w->pid) != w->pgid)
		kill(w->pid, sig);
}

/* What the child reports through the pipe when it cannot exec. */
enum child_stage {
	STAGE_FDS = 1,
	STAGE_SETGROUPS,
	STAGE_SETGID,
	STAGE_SETUID,
	STAGE_VERIFY,
	STAGE_SECCOMP,
	STAGE_EXEC,
};

struct child_err {
	int stage;
	int err;
};

static const char *stage_name(int stage)
{
	switch (stage) {
	case STAGE_FDS:
		return "setting up its file descriptors";
	case STAGE_SETGROUPS:
		return "dropping the supplementary groups (setgroups)";
	case STAGE_SETGID:
		return "changing the group (setresgid)";
	case STAGE_SETUID:
		return "changing the user (setresuid)";
	case STAGE_VERIFY:
		return "verifying the privilege drop (it could get root back)";
	case STAGE_SECCOMP:
		return "installing the seccomp filter that keeps it from "
		       "changing the steering (see --no-seccomp)";
	case STAGE_EXEC:
		return "executing the command";
	}
	return "?";
}

static bool skip_env(const struct sup *s, const char *e)
{
	static const char *const drop[] = {
		"LISTEN_FDS=",
		"LISTEN_PID=",
		"LISTEN_FDNAMES=",
		"SKSTEER_",
		/* the supervisor talks to systemd, not its workers */
		"NOTIFY_SOCKET=",
	};
	static const char *const user[] = { "USER=", "LOGNAME=", "HOME=",
					    "SHELL=" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(drop); i++)
		if (!strncmp(e, drop[i], strlen(drop[i])))
			return true;
	for (i = 0; s->has_uid && i < ARRAY_SIZE(user); i++)
		if (!strncmp(e, user[i], strlen(user[i])))
			return true;
	return false;
}

/*
 * The worker's environment: the supervisor's, without the variables it
 * defines, plus the socket-activation ones. LISTEN_PID gets room for the
 * child to write its own pid after fork.
 */
static char **build_env(const struct sup *s, const struct worker *w,
			char **pid_slot)
{
	size_t n = 0, k = 0, i;
	struct sbuf names = { 0 }, idx = { 0 };
	char **env;

	while (environ[n])
		n++;
	env = xcalloc(n + 16, sizeof(*env));
	for (i = 0; i < n; i++)
		if (!skip_env(s, environ[i]))
			env[k++] = xstrdup(environ[i]);
	for (i = 0; i < w->nsocks; i++) {
		sb_printf(&names, "%s%s", i ? ":" : "", w->socks[i].pool);
		sb_printf(&idx, "%s%u", i ? ":" : "", w->socks[i].index);
	}
	env[k++] = xasprintf("LISTEN_FDS=%u", w->nsocks);
	env[k++] = xasprintf("LISTEN_FDNAMES=%s", names.s);
	env[k++] = xasprintf("SKSTEER_SERVICE=%s", w->service);
	env[k++] = xasprintf("SKSTEER_NAME=%s", s->name);
	if (s->per_service) {
		env[k++] = xasprintf("SKSTEER_INDEXES=%s", idx.s);
	} else {
		env[k++] = xasprintf("SKSTEER_POOL=%s", w->socks[0].pool);
		env[k++] = xasprintf("SKSTEER_INDEX=%u", w->socks[0].index);
	}
	if (s->has_uid) {
		if (s->user_name) {
			env[k++] = xasprintf("USER=%s", s->user_name);
			env[k++] = xasprintf("LOGNAME=%s", s->user_name);
		}
		env[k++] = xasprintf("HOME=%s", s->user_home);
		if (s->user_shell)
			env[k++] = xasprintf("SHELL=%s", s->user_shell);
	}
	/* "LISTEN_PID=" and 20 digits at most */
	*pid_slot = xcalloc(32, 1);
	strcpy(*pid_slot, "LISTEN_PID=");
	env[k++] = *pid_slot;
	env[k] = NULL;
	free(names.s);
	free(idx.s);
	return env;
}

static void env_free(char **env)
{
	size_t i;

	for (i = 0; env[i]; i++)
		free(env[i]);
	free(env);
}

static void __attribute__((noreturn)) child_fail(int errfd, int stage, int err)
{
	struct child_err ce = { stage, err };
	ssize_t unused;

	unused = write(errfd, &ce, sizeof(ce));
	(void)unused;
	_exit(127);
}

/*
 * F_DUPFD fails with EINVAL when its lowest descriptor is at or above
 * RLIMIT_NOFILE, and with EMFILE when none is free below it: both mean
 * the descriptor limit.
 */
static int fd_errno(int err)
{
	return err == EINVAL ? EMFILE : err;
}

/*
 * In the child, between fork and exec. Only async-signal-safe calls: the
 * supervisor is single-threaded, but keep it that way for anyone who
 * changes that.
 */
static void __attribute__((noreturn))
child_exec(const struct sup *s, const struct worker *w, char **env,
	   char *pid_slot, int errpipe)
{
	unsigned int n = w->nsocks, i, top = 3 + n;
	int tmp[n ? n : 1], errfd, dn, sig;
	struct sigaction sa = { .sa_handler = SIG_DFL };
	char digits[24];
	sigset_t none;
	pid_t pid;
	size_t len;

	/* a group of its own: the terminal's signals go to the supervisor */
	setpgid(0, 0);

	/*
	 * Descriptors: copy everything needed above 3 + n first (a source
	 * may sit where a target goes), then put the sockets at 3, 4, ...
	 * and /dev/null at 0, and let exec close all the rest.
	 */
	errfd = fcntl(errpipe, F_DUPFD_CLOEXEC, top);
	/* nothing has moved yet: the pipe is still where it was */
	if (errfd < 0)
		child_fail(errpipe, STAGE_FDS, fd_errno(errno));
	dn = fcntl(s->devnull, F_DUPFD_CLOEXEC, top);
	if (dn < 0)
		child_fail(errfd, STAGE_FDS, fd_errno(errno));
	for (i = 0; i < n; i++) {
		tmp[i] = fcntl(w->socks[i].fd, F_DUPFD_CLOEXEC, top);
		if (tmp[i] < 0)
			child_fail(errfd, STAGE_FDS, fd_errno(errno));
	}
	for (i = 0; i < n; i++)
		if (dup2(tmp[i], (int)(3 + i)) < 0) /* clears FD_CLOEXEC */
			child_fail(errfd, STAGE_FDS, errno);
	if (dup2(dn, 0) < 0)
		child_fail(errfd, STAGE_FDS, errno);
	/* with -j the supervisor's standard output is its JSON document
	 * alone: what a worker prints goes with the messages */
	if (json_output && dup2(2, 1) < 0)
		child_fail(errfd, STAGE_FDS, errno);
	if (close_range(top, ~0U, CLOSE_RANGE_CLOEXEC))
		child_fail(errfd, STAGE_FDS, errno);

	/* group first (setgroups and setgid need root), user last */
	if ((s->has_gid || s->has_uid) && setgroups(0, NULL))
		child_fail(errfd, STAGE_SETGROUPS, errno);
	if (s->has_gid && setresgid(s->gid, s->gid, s->gid))
		child_fail(errfd, STAGE_SETGID, errno);
	if (s->has_uid && setresuid(s->uid, s->uid, s->uid))
		child_fail(errfd, STAGE_SETUID, errno);
	if (s->has_uid || s->has_gid) {
		uid_t ru, eu, su;
		gid_t rg, eg, sg;

		if (getresuid(&ru, &eu, &su) || getresgid(&rg, &eg, &sg))
			child_fail(errfd, STAGE_VERIFY, errno);
		if (getgroups(0, NULL) != 0)
			child_fail(errfd, STAGE_VERIFY, EPERM);
		if (s->has_uid &&
		    (ru != s->uid || eu != s->uid || su != s->uid))
			child_fail(errfd, STAGE_VERIFY, EPERM);
		if (s->has_gid &&
		    (rg != s->gid || eg != s->gid || sg != s->gid))
			child_fail(errfd, STAGE_VERIFY, EPERM);
		if (s->has_uid && s->uid != 0 && setresuid(0, 0, 0) == 0)
			child_fail(errfd, STAGE_VERIFY, EPERM);
	}
	/* after the credentials change, which clears it: the workers go
	 * when the supervisor goes, whatever kills it */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != s->self)
		_exit(0);

	pid = getpid();
	len = 0;
	do {
		digits[len++] = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid);
	for (i = 0; i < len; i++)
		pid_slot[11 + i] = digits[len - 1 - i];
	pid_slot[11 + len] = '\0';

	/* dispositions: ignored signals stay ignored across exec */
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* last: from here on the child makes no call the filter refuses */
	if (s->guard.len) {
		int gerr = guard_filter_install(&s->guard);

		if (gerr)
			child_fail(errfd, STAGE_SECCOMP, -gerr);
	}
	execvpe(s->cmd[0], s->cmd, env);
	child_fail(errfd, STAGE_EXEC, errno);
}

/*
 * Start @w. Returns 0 once the command is executing, or a negative errno
 * when it could not be started, with the reason in @why.
 */
static int worker_start(struct sup *s, struct worker *w, char *why,
			size_t whysz)
{
	char label[160], *pid_slot, hint[192] = "";
	struct child_err ce;
	struct rlimit rl;
	int pfd[2], err;
	char **env;
	ssize_t got;
	pid_t pid;

	wlabel(w, label, sizeof(label));
	if (pipe2(pfd, O_CLOEXEC)) {
		err = -errno;
		snprintf(why, whysz, "worker %s: pipe: %s", label,
			 strerror(-err));
		return err;
	}
	env = build_env(s, w, &pid_slot);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		snprintf(why, whysz, "worker %s: fork: %s", label,
			 strerror(-err));
		goto err_close_pipe;
	}
	if (pid == 0)
		child_exec(s, w, env, pid_slot, pfd[1]);
	close(pfd[1]);
	env_free(env);
	/* also here: the child may not have run yet when we signal it */
	setpgid(pid, pid);
	do {
		got = read(pfd[0], &ce, sizeof(ce));
	} while (got < 0 && errno == EINTR);
	close(pfd[0]);
	if (got == (ssize_t)sizeof(ce)) {
		/* alone in its new group, and it never ran COMMAND */
		waitpid(pid, NULL, 0);
		if (ce.stage == STAGE_FDS && ce.err == EMFILE &&
		    !getrlimit(RLIMIT_NOFILE, &rl))
			snprintf(hint, sizeof(hint),
				 " (the limit is %llu: the supervisor's "
				 "descriptors and a copy of each of the "
				 "worker's %u sockets must fit below it; "
				 "raise 'ulimit -n')",
				 (unsigned long long)rl.rlim_cur, w->nsocks);
		snprintf(why, whysz, "worker %s: %s%s%s: %s%s", label,
			 stage_name(ce.stage),
			 ce.stage == STAGE_EXEC ? " " : "",
			 ce.stage == STAGE_EXEC ? s->cmd[0] : "",
			 strerror(ce.err), hint);
		return -ce.err;
	}
	w->pid = pid;
	w->pgid = pid;
	w->started = now_ms();
	w->restart_at = 0;
	w->kill_at = 0;
	w->sigkilled = false;
	if (verbose)
		logm(s, "worker %s: started, pid %d", label, pid);
	return 0;

err_close_pipe:
	close(pfd[0]);
	close(pfd[1]);
	env_free(env);
	return err;
}

/*
 * A worker that could not start, or exited after running @ran ms: when
 * to try again (the delay is returned). Quick failures back off; there
 * is no limit to the attempts (see the top of this file).
 */
static int64_t worker_schedule(struct worker *w, int64_t ran)
{
	int64_t delay = 0;

	if (ran >= RESTART_RESET_MS) {
		w->quick_fails = 0;
	} else {
		delay = RESTART_DELAY_MIN_MS;
		for (unsigned int i = 0;
		     i < w->quick_fails && delay < RESTART_DELAY_MAX_MS; i++)
			delay *= 2;
		if (delay > RESTART_DELAY_MAX_MS)
			delay = RESTART_DELAY_MAX_MS;
		if (w->quick_fails < UINT_MAX)
			w->quick_fails++;
	}
	w->restart_at = now_ms() + delay;
	return delay;
}

/* Start now; at run time, a failure is logged and retried with backoff. */
static void worker_launch(struct sup *s, struct worker *w)
{
	char why[512];
	int64_t delay;

	if (!worker_start(s, w, why, sizeof(why)))
		return;
	delay = worker_schedule(w, 0);
	logm(s, "%s; trying again in %.1f s", why, (double)delay / 1000);
}

/* SIGTERM (or @sig) to what is left of @w now, SIGKILL after the stop
 * timeout. */
static void worker_stop(struct sup *s, struct worker *w, int sig)
{
	if (worker_gone(w))
		return;
	worker_kill(w, sig);
	if (!w->kill_at)
		w->kill_at = now_ms() + s->stop_timeout;
}

/* Stop @w for good; it is freed once nothing of it is left. */
static void worker_retire(struct sup *s, struct worker *w, int sig)
{
	w->retired = true;
	w->restart_at = 0;
	worker_stop(s, w, sig);
}

static void describe_status(int status, char *buf, size_t sz)
{
	if (WIFEXITED(status))
		snprintf(buf, sz, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, sz, "was killed by signal %d (%s)%s",
			 WTERMSIG(status), strsignal(WTERMSIG(status)),
			 WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(buf, sz, "ended (status 0x%x)", status);
}

/* The process started for @w exited with @status. */
static void worker_exited(struct sup *s, struct worker *w, int status)
{
	char label[160], how[128];
	int64_t ran = now_ms() - w->started, delay;
	pid_t pid = w->pid;

	w->pid = 0;
	wlabel(w, label, sizeof(label));
	describe_status(status, how, sizeof(how));
	if (w->retired) {
		/* a reload's effects are worth a line; a stop's are not,
		 * one per worker */
		if (verbose || w->sigkilled || !s->stopping)
			logm(s, "worker %s (pid %d) stopped: %s", label, pid,
			     how);
		return;
	}
	delay = worker_schedule(w, ran);
	s->restarts++;
	logm(s, "worker %s (pid %d) %s after %.1f s; restarting it in %.1f s",
	     label, pid, how, (double)ran / 1000, (double)delay / 1000);
	if (worker_group_gone(w))
		return;
	/* what it started would go on holding its sockets, unseen: at
	 * the next stop, or when a reload closes a UDP socket */
	logm(s,
	     "worker %s: its process group %d still has processes: SIGTERM; "
	     "it restarts once they are gone",
	     label, w->pgid);
	worker_stop(s, w, SIGTERM);
}

static void reap(struct sup *s)
{
	int status;
	pid_t pid;
	size_t i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct worker *w = NULL;

		for (i = 0; i < s->nworkers && !w; i++)
			if (s->workers[i]->pid == pid)
				w = s->workers[i];
		/* else a descendant reparented to us (a subreaper) */
		if (w)
			worker_exited(s, w, status);
	}
	for (i = 0; i < s->nworkers;) {
		struct worker *w = s->workers[i];

		/* a group emptied: done stopping it */
		if (worker_gone(w)) {
			w->kill_at = 0;
			/* retired workers go once nothing of them is left */
			if (w->retired) {
				worker_free(s, w);
				continue;
			}
		}
		i++;
	}
}

/* @w was sent SIGTERM and the stop timeout is over. */
static void worker_timeout(struct sup *s, struct worker *w, int64_t now)
{
	char label[160];

	wlabel(w, label, sizeof(label));
	if (!w->sigkilled) {
		logm(s,
		     "worker %s (process group %d) did not stop within %.1f s: "
		     "SIGKILL",
		     label, w->pgid ? w->pgid : w->pid,
		     (double)s->stop_timeout / 1000);
		worker_kill(w, SIGKILL);
		w->sigkilled = true;
		s->killed = true;
		w->kill_at = now + KILL_GRACE_MS;
		return;
	}
	/* unkillable (uninterruptible sleep): stop waiting for it */
	logm(s,
	     "worker %s: its process group %d is still there after SIGKILL; "
	     "giving up on it",
	     label, w->pgid);
	w->pgid = 0;
	w->pid = 0;
	w->kill_at = 0;
}

/* Due restarts and SIGKILLs; returns the ms until the next one, or -1. */
static int timers(struct sup *s)
{
	int64_t now = now_ms(), next = -1;
	size_t i;

	for (i = 0; i < s->nworkers; i++) {
		struct worker *w = s->workers[i];
		int64_t at = 0;

		if (w->kill_at && w->kill_at <= now && !worker_gone(w))
			worker_timeout(s, w, now);
		if (w->kill_at && !worker_gone(w)) {
			at = w->kill_at;
			/* its last process may not be our child */
			if (!w->pid && w->pgid && now + DRAIN_POLL_MS < at)
				at = now + DRAIN_POLL_MS;
		} else if (!w->retired && !w->pid && w->restart_at) {
			w->kill_at = 0;
			if (w->restart_at <= now)
				worker_launch(s, w);
			if (!w->pid)
				at = w->restart_at;
		}
		if (at && (next < 0 || at < next))
			next = at;
	}
	if (next < 0)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

/* ---- stopping ---- */

static void begin_stop(struct sup *s, int sig)
{
	size_t i;

	if (!s->stopping) {
		logm(s, "SIG%s: stopping %zu worker%s", sigabbrev_np(sig),
		     s->nworkers, s->nworkers == 1 ? "" : "s");
		sd_notifyf("STOPPING=1");
	}
	s->stopping = true;
	s->stop_sig = sig;
	/* a second signal is forwarded again */
	for (i = 0; i < s->nworkers; i++)
		worker_retire(s, s->workers[i], sig);
	reap(s);
}

/*
 * Descendants that escaped their worker's process group (setsid, or a
 * group of their own) and were reparented to us: nothing may keep the
 * sockets after the supervisor. Zombies hold nothing: they are reaped,
 * not counted.
 */
static void sweep_descendants(struct sup *s)
{
	int rounds;

	for (rounds = 0; rounds < 10; rounds++) {
		struct dirent *de;
		int found = 0;
		DIR *d;

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		d = opendir("/proc");
		if (!d)
			return;
		while ((de = readdir(d))) {
			char path[300], buf[512], *p, state;
			int ppid;
			FILE *f;

			if (!isdigit((unsigned char)de->d_name[0]))
				continue;
			snprintf(path, sizeof(path), "/proc/%s/stat",
				 de->d_name);
			f = fopen(path, "re");
			if (!f)
				continue;
			p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') :
							 NULL;
			fclose(f);
			if (p && sscanf(p, ") %c %d", &state, &ppid) == 2 &&
			    ppid == s->self && state != 'Z' && state != 'X') {
				kill(atoi(de->d_name), SIGKILL);
				found++;
			}
		}
		closedir(d);
		if (!found)
			return;
		logm(s, "killed %d leftover process%s of the workers", found,
		     found == 1 ? "" : "es");
		s->killed = true;
		while (waitpid(-1, NULL, 0) > 0)
			;
	}
}

/* ---- reload ---- */

static bool same_listen(const struct sksteer_group *grp,
			const struct sksteer_service *n, char *why,
			size_t whysz)
{
	const struct sksteer_service *o = sksteer_group__service(grp);
	socklen_t la, lb;
	const struct sockaddr *a = sksteer_service__listen_addr(o, &la);
	const struct sockaddr *b = sksteer_service__listen_addr(n, &lb);
	char sa[INET6_ADDRSTRLEN + 16], sb[INET6_ADDRSTRLEN + 16];
	bool same =
		sksteer_service__protocol(o) == sksteer_service__protocol(n) &&
		a->sa_family == b->sa_family &&
		sksteer_service__dual_stack(o) ==
			sksteer_service__dual_stack(n);

	if (same && a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a,
					 *y = (const void *)b;

		same = x->sin_addr.s_addr == y->sin_addr.s_addr &&
		       (!y->sin_port ||
			ntohs(y->sin_port) == sksteer_group__port(grp));
	} else if (same) {
		const struct sockaddr_in6 *x = (const void *)a,
					  *y = (const void *)b;

		same = !memcmp(&x->sin6_addr, &y->sin6_addr, 16) &&
		       (!y->sin6_port ||
			ntohs(y->sin6_port) == sksteer_group__port(grp));
	}
	if (!same) {
		fmt_sockaddr(b, sb, sizeof(sb));
		fmt_sockaddr(a, sa, sizeof(sa));
		snprintf(why, whysz,
			 "service '%s': the new configuration listens on %s "
			 "%s%s, the running group on %s %s%s (port %d): that "
			 "needs a restart, not a reload",
			 sksteer_service__name(n),
			 proto_name(sksteer_service__protocol(n)), sb,
			 sksteer_service__dual_stack(n) ? " (dual-stack)" : "",
			 proto_name(sksteer_service__protocol(o)), sa,
			 sksteer_service__dual_stack(o) ? " (dual-stack)" : "",
			 sksteer_group__port(grp));
	}
	return same;
}

/*
 * A group keeps the backend it was created with: a configuration that now
 * asks for the other one needs a restart (auto, or --backend, is fine).
 */
static bool same_backend(const struct sup *s, const struct sksteer_group *grp,
			 const struct sksteer_service *n, char *why,
			 size_t whysz)
{
	enum sksteer_backend want = sksteer_service__backend(n),
			     have = sksteer_group__backend(grp);

	if (s->backend != SKSTEER_BACKEND_DEFAULT ||
	    (want != SKSTEER_BACKEND_CBPF && want != SKSTEER_BACKEND_EBPF) ||
	    want == have)
		return true;
	snprintf(why, whysz,
		 "service '%s': the new configuration asks for backend %s, the "
		 "running group uses %s: that needs a restart, not a reload",
		 sksteer_service__name(n), backend_name(want),
		 backend_name(have));
	return false;
}

/* "mark 0x1, congestion bbr" or "none": a pool's socket options */
static void opts_text(const struct sksteer_pool *p, char *buf, size_t sz)
{
	struct tool_opt o[16];
	size_t n = tool_pool_opts(p, o, ARRAY_SIZE(o)), i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < n && len < sz; i++)
		len += (size_t)snprintf(buf + len, sz - len, "%s%s %s",
					i ? ", " : "", o[i].name, o[i].text);
	if (!n)
		snprintf(buf, sz, "none");
}

/*
 * The socket options of a pool that stays must stay the same: an update
 * keeps the pool's open sockets as they are (their options were set
 * before they joined the group), so new options would apply to the new
 * sockets only, and the pool would run with two policies.
 */
static bool same_opts(const struct sksteer_service *o,
		      const struct sksteer_service *n, char *why, size_t whysz)
{
	size_t i;

	for (i = 0; i < sksteer_service__pool_cnt(n); i++) {
		const struct sksteer_pool *np = sksteer_service__pool(n, i);
		const struct sksteer_pool *op =
			sksteer_service__find_pool(o, sksteer_pool__name(np));
		char a[200], b[200];

		if (!op)
			continue;
		opts_text(op, a, sizeof(a));
		opts_text(np, b, sizeof(b));
		if (strcmp(a, b)) {
			snprintf(
				why, whysz,
				"service '%s', pool '%s': its socket options "
				"change (%s, now %s), which a reload cannot "
				"do to the sockets the pool keeps: restart, or "
				"give the new policy a pool of a new name",
				sksteer_service__name(n),
				sksteer_pool__name(np), a, b);
			return false;
		}
	}
	return true;
}

/*
 * The sockets sksteer_group__update() will close: pools are matched by
 * name; a pool that is gone loses every socket, one that shrinks the
 * indexes from its new size up.
 */
static bool will_close(const struct wsock *ws,
		       const struct sksteer_service *nsvc)
{
	const struct sksteer_pool *p =
		sksteer_service__find_pool(nsvc, ws->pool);

	return !p || ws->index >= sksteer_pool__size(p);
}

/* Wait, serving signals and timers, until the workers @ids are gone. */
static bool wait_gone(struct sup *s, const unsigned long *ids, size_t n,
		      int64_t deadline);

struct plan {
	struct svc_ent *old; /* NULL: a new service */
	const struct sksteer_service *nsvc;
	struct sksteer_group *ngrp; /* a new service's group */
	struct wsock *before; /* the old service's sockets */
	unsigned int nbefore;
	bool renamed; /* @old was a service of another name */
	bool closes_udp; /* the update closes UDP sockets */
	bool updated;
	/* the update left the sockets it takes out open, steered to by
	 * nothing, for their workers to drain (defer_close) */
	bool deferred;
};

static void start_service_workers(struct sup *s, struct svc_ent *e);
static void reconcile(struct sup *s, struct svc_ent *e);
static void reconcile_start(struct sup *s, struct svc_ent *e);
static void loop_once(struct sup *s, int64_t deadline, bool defer);

/*
 * A renamed eBPF service's counters follow it to the pin directory of its
 * new name, so that `sksteer stats NEW` finds them and the old name is
 * free. Not fatal: when another process holds the new name, they stay
 * under the old one, and the report says so.
 */
static void move_pins(struct sup *s, struct svc_ent *e, const char *name,
		      struct sbuf *rep)
{
	char *pin;
	int err;

	if (sksteer_group__backend(e->grp) != SKSTEER_BACKEND_EBPF)
		return;
	pin = xasprintf("%s/%s", s->pin_root, name);
	err = sksteer_group__set_pin_path(e->grp, pin);
	if (err) {
		logm(s, "service '%s': its counters stay under %s/%s: %s", name,
		     s->pin_root, e->pinned, strerror(-err));
		sb_printf(rep, "service %s: counters still under %s/%s: %s\n",
			  name, s->pin_root, e->pinned, strerror(-err));
	} else {
		free(e->pinned);
		e->pinned = xstrdup(name);
	}
	free(pin);
}

/*
 * A new service that listens exactly where a service that goes listened
 * (protocol, address, port, dual-stack) is that service renamed. Its
 * group is updated in place and keeps its sockets: a group of its own
 * could not be created while the old one runs (the kernel would put
 * their sockets in one reuseport group), and closing the old one first
 * would lose the connections waiting in its queues.
 */
static struct svc_ent *renamed_from(const struct sup *s,
				    const struct sksteer_config *cfg,
				    const struct plan *plan, size_t nplan,
				    const struct sksteer_service *n)
{
	char scratch[512];
	size_t i, j;

	for (i = 0; i < s->nsvcs; i++) {
		struct svc_ent *e = s->svcs[i];
		bool taken = false;

		if (sksteer_config__find_service(cfg, e->name))
			continue;
		for (j = 0; j < nplan && !taken; j++)
			taken = plan[j].old == e;
		if (!taken && same_listen(e->grp, n, scratch, sizeof(scratch)))
			return e;
	}
	return NULL;
}

/*
 * Stop the workers of the UDP sockets the updates left open to close,
 * and wait until they are gone: a UDP socket leaves the kernel's group
 * only with its last descriptor (see the top of this file).
 */
static bool stop_udp_workers(struct sup *s, const struct plan *plan,
			     size_t nplan)
{
	unsigned long *ids = NULL;
	size_t n = 0, i, j;
	bool ok;

	for (i = 0; i < nplan; i++) {
		const struct plan *p = &plan[i];

		if (!p->deferred)
			continue;
		for (j = 0; j < s->nworkers; j++) {
			struct worker *w = s->workers[j];
			unsigned int k;
			bool holds = false;

			if (w->svc != p->old || w->retired)
				continue;
			for (k = 0; k < w->nsocks && !holds; k++)
				holds = will_close(&w->socks[k], p->nsvc);
			if (!holds)
				continue;
			ids = xrealloc(ids, n + 1, sizeof(*ids));
			ids[n++] = w->id;
			worker_retire(s, w, SIGTERM);
		}
	}
	ok = !n ||
	     wait_gone(s, ids, n, now_ms() + s->stop_timeout + KILL_GRACE_MS);
	free(ids);
	return ok;
}

/* Bytes of kernel memory queued in the receive queue of @fd (SO_MEMINFO:
 * the datagrams' buffers, 0 when nothing waits), or 0 when unknown. */
static uint64_t queued_bytes(int fd)
{
	uint32_t mi[SK_MEMINFO_VARS] = { 0 };
	socklen_t len = sizeof(mi);

	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mi, &len) ||
	    len <= SK_MEMINFO_RMEM_ALLOC * sizeof(mi[0]))
		return 0;
	return mi[SK_MEMINFO_RMEM_ALLOC];
}

/*
 * Finish the updates that left UDP sockets open (plan.deferred): the
 * rules attached by the update steer nothing to them any more, so what
 * they hold is what came before. Their workers serve it (until the
 * queues are empty, at most QUEUE_DRAIN_MAX_MS or --stop-timeout), then
 * receive SIGTERM, and once they are gone the sockets close and leave
 * the group: nothing that was steered to them is lost. The workers of
 * the new sockets start first, so that what the new rules send them
 * waits no longer than it must.
 */
static void finish_closing(struct sup *s, struct plan *plan, size_t nplan,
			   int64_t attached_at)
{
	int64_t start = now_ms(), limit, deadline;
	uint64_t first = 0, left = 0;
	int *fds = NULL;
	size_t n = 0, i, j;

	for (i = 0; i < nplan; i++) {
		struct plan *p = &plan[i];

		if (!p->deferred)
			continue;
		for (j = 0; j < p->nbefore; j++) {
			if (!will_close(&p->before[j], p->nsvc))
				continue;
			fds = xrealloc(fds, n + 1, sizeof(*fds));
			fds[n++] = p->before[j].fd;
			first += queued_bytes(p->before[j].fd);
		}
		reconcile_start(s, p->old);
	}
	if (!n) {
		free(fds);
		return;
	}
	limit = s->stop_timeout < QUEUE_DRAIN_MAX_MS ? s->stop_timeout :
						       QUEUE_DRAIN_MAX_MS;
	deadline = start + limit;
	for (;;) {
		int64_t now = now_ms(), next;

		left = 0;
		for (i = 0; i < n; i++)
			left += queued_bytes(fds[i]);
		if ((!left && now >= attached_at + QUEUE_SETTLE_MS) ||
		    now >= deadline)
			break;
		next = now + QUEUE_POLL_MS;
		loop_once(s, next < deadline ? next : deadline, true);
	}
	if (left)
		logm(s,
		     "%zu UDP socket(s) to close: %llu bytes queued, %llu "
		     "still queued after %lld ms (their workers do not read "
		     "them): lost when the sockets close",
		     n, (unsigned long long)first, (unsigned long long)left,
		     (long long)(now_ms() - start));
	else
		logm(s,
		     "%zu UDP socket(s) to close: %llu bytes queued, served "
		     "by their workers in %lld ms",
		     n, (unsigned long long)first,
		     (long long)(now_ms() - start));
	free(fds);
	if (!stop_udp_workers(s, plan, nplan))
		logm(s, "the workers of the UDP sockets to close did not "
			"exit: the sockets stay in the group until they do, "
			"and what the kernel sends them there is lost");
	for (i = 0; i < nplan; i++) {
		struct plan *p = &plan[i];
		int err;

		if (!p->deferred)
			continue;
		p->deferred = false;
		err = sksteer_group__close_deferred(p->old->grp);
		if (err)
			logm(s, "service '%s': closing its sockets: %s",
			     p->old->name, strerror(-err));
	}
}

/*
 * Re-read the configuration and apply it to every group, or to none:
 * a configuration that does not parse, compile or apply leaves the
 * running rules and sockets as they were. @rep receives the report.
 */
/* Two services of the new configuration in one reuseport group. */
static bool plan_clash(const struct sup *s, const struct plan *plan,
		       size_t nplan, char *why, size_t whysz)
{
	struct sksteer_service **svcs = xcalloc(nplan, sizeof(*svcs));
	bool clash;
	size_t i;

	for (i = 0; i < nplan; i++)
		svcs[i] = (struct sksteer_service *)plan[i].nsvc;
	clash = services_clash(svcs, nplan, s->file, why, whysz);
	free(svcs);
	return clash;
}

static int do_reload(struct sup *s, struct sbuf *rep)
{
	struct sksteer_config *cfg = NULL;
	struct plan *plan = NULL;
	size_t nplan = 0, i, j, nsel, nown = 0;
	char why[1024] = "";
	char *msgs = NULL;
	bool cfg_kept = false, partial = false;
	ino_t *own = NULL;
	int64_t attached_at = 0;
	int err = 0, pass;

	if (s->stopping) {
		sb_printf(rep, "error\nthe supervisor is stopping\n");
		return -1;
	}
	logm(s, "reloading %s", s->file);
	sd_notifyf("RELOADING=1\nMONOTONIC_USEC=%lld",
		   (long long)now_ms() * 1000);
	msgs_capture_begin();

	cfg = sksteer_config__parse_file(s->file, NULL);
	if (!cfg) {
		snprintf(why, sizeof(why), "%s: %s", s->file,
			 errno == EINVAL ? "invalid configuration" :
					   strerror(errno));
		goto fail;
	}
	nsel = s->only_service ? 1 : sksteer_config__service_cnt(cfg);
	if (!nsel) {
		snprintf(why, sizeof(why), "%s has no service", s->file);
		goto fail;
	}
	plan = xcalloc(nsel, sizeof(*plan));
	for (i = 0; i < nsel; i++) {
		const struct sksteer_service *n =
			s->only_service ? sksteer_config__find_service(
						  cfg, s->only_service) :
					  sksteer_config__service(cfg, i);

		if (!n) {
			snprintf(why, sizeof(why),
				 "%s has no service '%s' any more", s->file,
				 s->only_service);
			goto fail;
		}
		plan[nplan].nsvc = n;
		plan[nplan].old = find_svc(s, sksteer_service__name(n));
		nplan++;
	}
	/* after every service that keeps its name has its own */
	for (i = 0; i < nplan && !s->only_service; i++) {
		struct plan *p = &plan[i];

		if (p->old)
			continue;
		p->old = renamed_from(s, cfg, plan, nplan, p->nsvc);
		p->renamed = p->old != NULL;
	}

	/* everything that can be checked before anything changes; the
	 * supervisor's own sockets are no one else's */
	if (plan_clash(s, plan, nplan, why, sizeof(why)))
		goto fail;
	own_inodes(s, &own, &nown);
	for (i = 0; i < nplan; i++) {
		struct plan *p = &plan[i];

		/*
		 * Every service, also one whose update creates no socket:
		 * a socket of the same owner joins the running group as
		 * soon as it listens, and one on a more specific address
		 * takes that address's traffic; both only show here.
		 */
		err = port_check(p->old ? p->old->svc : p->nsvc, own, nown,
				 p->old != NULL, why, sizeof(why));
		if (err)
			goto fail;
		if (!p->old)
			continue;
		if (!same_listen(p->old->grp, p->nsvc, why, sizeof(why)) ||
		    !same_backend(s, p->old->grp, p->nsvc, why, sizeof(why)) ||
		    !same_opts(p->old->svc, p->nsvc, why, sizeof(why)))
			goto fail;
		if (sksteer_group__backend(p->old->grp) ==
		    SKSTEER_BACKEND_CBPF) {
			struct sksteer_prog *prog =
				sksteer_service__compile(p->nsvc, NULL);

			if (!prog) {
				snprintf(why, sizeof(why),
					 "service '%s': no classic BPF "
					 "program: %s",
					 sksteer_service__name(p->nsvc),
					 strerror(errno));
				goto fail;
			}
			sksteer_prog__free(prog);
		}
		err = group_socks(p->old->grp, &p->before, &p->nbefore);
		if (err) {
			snprintf(why, sizeof(why), "service '%s': %s",
				 p->old->name, strerror(-err));
			goto fail;
		}
		if (sksteer_service__protocol(p->nsvc) != IPPROTO_UDP)
			continue;
		for (j = 0; j < p->nbefore && !p->closes_udp; j++)
			p->closes_udp = will_close(&p->before[j], p->nsvc);
	}
	/* new services: their groups exist before any old one changes */
	for (i = 0; i < nplan; i++) {
		struct plan *p = &plan[i];

		if (p->old)
			continue;
		p->ngrp = group_create(s, p->nsvc);
		if (!p->ngrp) {
			snprintf(why, sizeof(why),
				 "service '%s': creating its group: %s",
				 sksteer_service__name(p->nsvc),
				 errno == EMEDIUMTYPE ?
					 "the pin directory is not on a "
					 "bpffs (see --pin-root)" :
					 strerror(errno));
			goto fail;
		}
	}

	/*
	 * The updates. One that closes UDP sockets leaves them open
	 * (defer_close): its rules steer nothing to them, their workers
	 * serve what is queued, and finish_closing() closes them. Those
	 * updates go last: a failure of another service's update then
	 * closes nothing.
	 */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < nplan; i++) {
			struct plan *p = &plan[i];
			SKSTEER_OPTS(sksteer_update_opts, uo,
				     .defer_close = p->closes_udp);

			if (!p->old || p->closes_udp != (pass == 1))
				continue;
			err = sksteer_group__update_opts(p->old->grp, p->nsvc,
							 &uo);
			if (err) {
				snprintf(why, sizeof(why), "service '%s': %s",
					 sksteer_service__name(p->nsvc),
					 strerror(-err));
				goto rollback;
			}
			p->updated = true;
			p->deferred = p->closes_udp;
			attached_at = now_ms();
		}
	}
	finish_closing(s, plan, nplan, attached_at);

	/* applied: from here on nothing fails */
	for (i = 0; i < nplan; i++) {
		struct plan *p = &plan[i];

		if (!p->old)
			continue;
		p->old->svc = p->nsvc;
		p->old->cfg = cfg;
		if (p->renamed) {
			sb_printf(rep, "service %s: renamed from %s\n",
				  sksteer_service__name(p->nsvc), p->old->name);
			move_pins(s, p->old, sksteer_service__name(p->nsvc),
				  rep);
			free(p->old->name);
			p->old->name = xstrdup(sksteer_service__name(p->nsvc));
		}
	}
	for (i = 0; i < s->nsvcs;) {
		struct svc_ent *e = s->svcs[i];
		bool kept = false;

		for (j = 0; j < nplan && !kept; j++)
			kept = plan[j].old == e;
		if (kept) {
			i++;
			continue;
		}
		/* a service that is gone: its workers finish, then go */
		for (j = 0; j < s->nworkers; j++) {
			if (s->workers[j]->svc != e)
				continue;
			s->workers[j]->svc = NULL;
			worker_retire(s, s->workers[j], SIGTERM);
		}
		sb_printf(rep, "service %s: removed\n", e->name);
		sksteer_group__free(e->grp);
		free(e->name);
		free(e->pinned);
		free(e);
		s->svcs[i] = s->svcs[--s->nsvcs];
	}
	cfg_add(s, cfg);
	cfg_kept = true;
	for (i = 0; i < nplan; i++) {
		struct plan *p = &plan[i];
		struct wsock *after;
		unsigned int nafter, added = 0, closed = 0, k;

		if (!p->old) {
			struct svc_ent *e = xcalloc(1, sizeof(*e));

			e->name = xstrdup(sksteer_service__name(p->nsvc));
			e->pinned = xstrdup(e->name);
			e->cfg = cfg;
			e->svc = p->nsvc;
			e->grp = p->ngrp;
			p->ngrp = NULL;
			s->svcs = xrealloc(s->svcs, s->nsvcs + 1,
					   sizeof(*s->svcs));
			s->svcs[s->nsvcs++] = e;
			start_service_workers(s, e);
			sb_printf(rep, "service %s: new, %u socket%s\n",
				  e->name, sksteer_group__socket_cnt(e->grp),
				  sksteer_group__socket_cnt(e->grp) == 1 ? "" :
									   "s");
			continue;
		}
		if (p->renamed) {
			/* workers know their service by name
			 * (SKSTEER_SERVICE): new ones first, then the old
			 * ones go; the sockets stay */
			size_t nold = s->nworkers;

			start_service_workers(s, p->old);
			for (j = 0; j < nold; j++)
				if (s->workers[j]->svc == p->old &&
				    !s->workers[j]->retired)
					worker_retire(s, s->workers[j],
						      SIGTERM);
		} else {
			reconcile(s, p->old);
		}
		if (group_socks(p->old->grp, &after, &nafter))
			continue;
		for (k = 0; k < nafter; k++)
			added += !wsocks_has(p->before, p->nbefore,
					     after[k].ino);
		for (k = 0; k < p->nbefore; k++)
			closed += !wsocks_has(after, nafter, p->before[k].ino);
		sb_printf(rep, "service %s: %u socket%s (%u new, %u closed)\n",
			  p->old->name, nafter, nafter == 1 ? "" : "s", added,
			  closed);
		wsocks_free(after, nafter);
	}
	cfg_gc(s);
	msgs = msgs_capture_end();
	if (msgs) {
		logm(s, "%s", msgs);
		sb_printf(rep, "%s\n", msgs);
	}
	logm(s, "reloaded %s", s->file);
	err = 0;
	goto out;

rollback:
	/* the sockets taken out are served and closed first: an update
	 * back creates new ones for them */
	finish_closing(s, plan, nplan, attached_at);
	/* put back the services already updated: the old rules again */
	for (j = 0; j < nplan; j++) {
		struct plan *p = &plan[j];
		int rerr;

		if (!p->updated)
			continue;
		rerr = sksteer_group__update(p->old->grp, p->old->svc);
		if (!rerr)
			continue;
		/* it runs the new rules: keep the new configuration
		 * alive for it, and say so */
		logm(s,
		     "service '%s': putting the previous rules back failed "
		     "(%s): it runs the NEW configuration",
		     p->old->name, strerror(-rerr));
		sb_printf(rep,
			  "service %s: could not be put back: it runs the new "
			  "configuration\n",
			  p->old->name);
		p->old->svc = p->nsvc;
		p->old->cfg = cfg;
		if (p->renamed) {
			free(p->old->name);
			p->old->name = xstrdup(sksteer_service__name(p->nsvc));
		}
		if (!cfg_kept)
			cfg_add(s, cfg);
		cfg_kept = true;
		partial = true;
	}
fail:
	msgs = msgs_capture_end();
	logm(s, "reload failed, %s: %s",
	     partial ? "and not every service could be put back (below)" :
		       "the running configuration is unchanged",
	     why);
	if (msgs)
		logm(s, "%s", msgs);
	{
		/* the report's first two lines: status and reason */
		char *body = rep->s;
		size_t blen = rep->len;

		rep->s = NULL;
		rep->len = 0;
		sb_printf(rep, "error\n%s: %s\n",
			  partial ? "not every service could be put back" :
				    "the running configuration is unchanged",
			  why);
		if (msgs)
			sb_printf(rep, "%s\n", msgs);
		if (body)
			sb_printf(rep, "%.*s", (int)blen, body);
		free(body);
	}
	for (i = 0; i < nplan; i++)
		if (plan[i].ngrp)
			sksteer_group__free(plan[i].ngrp);
	/* the workers stopped for UDP sockets that stay get new ones */
	for (i = 0; i < s->nsvcs; i++)
		reconcile(s, s->svcs[i]);
	if (cfg_kept)
		cfg_gc(s);
	else
		sksteer_config__free(cfg);
	err = -1;
out:
	if (!err) {
		/* the report starts with the status */
		char *body = rep->s;
		size_t blen = rep->len;

		rep->s = NULL;
		rep->len = 0;
		sb_printf(rep, "ok\nreloaded %s\n", s->file);
		if (body)
			sb_printf(rep, "%.*s", (int)blen, body);
		free(body);
	}
	for (i = 0; i < nplan; i++)
		wsocks_free(plan[i].before, plan[i].nbefore);
	free(plan);
	free(own);
	free(msgs);
	sd_notifyf("READY=1\nSTATUS=%s", err ? "reload failed" : "reloaded");
	return err;
}

/* ---- starting workers for a service ---- */

static void start_service_workers(struct sup *s, struct svc_ent *e)
{
	struct wsock *ws;
	unsigned int n, i;

	if (group_socks(e->grp, &ws, &n)) {
		logm(s, "service %s: cannot list its sockets", e->name);
		return;
	}
	if (s->per_service) {
		worker_launch(s, worker_new(s, e, ws, n));
		return;
	}
	for (i = 0; i < n; i++) {
		struct wsock *one = xcalloc(1, sizeof(*one));

		*one = ws[i];
		worker_launch(s, worker_new(s, e, one, 1));
	}
	free(ws);
}

/*
 * A worker for each of the @n sockets @ws of @e that no running worker
 * holds (one worker per socket); takes @ws.
 */
static void start_missing(struct sup *s, struct svc_ent *e, struct wsock *ws,
			  unsigned int n)
{
	unsigned int i;
	size_t j;

	for (i = 0; i < n; i++) {
		struct worker *w = NULL;
		struct wsock *one;

		for (j = 0; j < s->nworkers && !w; j++)
			if (s->workers[j]->svc == e &&
			    !s->workers[j]->retired &&
			    s->workers[j]->socks[0].ino == ws[i].ino)
				w = s->workers[j];
		if (w) {
			/* the pool's name and index are stable */
			free(ws[i].pool);
			continue;
		}
		one = xcalloc(1, sizeof(*one));
		*one = ws[i];
		worker_launch(s, worker_new(s, e, one, 1));
	}
	free(ws);
}

/*
 * After an update: every socket of the service has a worker, and every
 * worker holds sockets that are still the service's. Workers of sockets
 * that closed are stopped (they finish what they accepted); the sockets
 * that stayed keep their workers.
 */
static void reconcile(struct sup *s, struct svc_ent *e)
{
	struct wsock *ws;
	unsigned int n;
	size_t j;

	if (group_socks(e->grp, &ws, &n)) {
		logm(s, "service %s: cannot list its sockets", e->name);
		return;
	}
	if (s->per_service) {
		struct worker *cur = NULL;

		for (j = 0; j < s->nworkers && !cur; j++)
			if (s->workers[j]->svc == e && !s->workers[j]->retired)
				cur = s->workers[j];
		if (cur && wsocks_same(cur->socks, cur->nsocks, ws, n)) {
			wsocks_free(ws, n);
			return;
		}
		if (cur && !cur->pid) {
			/* waiting for a restart: it starts with the new set */
			wsocks_free(cur->socks, cur->nsocks);
			cur->socks = ws;
			cur->nsocks = n;
			return;
		}
		/* the new worker first, then the old one goes */
		worker_launch(s, worker_new(s, e, ws, n));
		if (cur)
			worker_retire(s, cur, SIGTERM);
		return;
	}
	for (j = 0; j < s->nworkers; j++) {
		struct worker *w = s->workers[j];

		if (w->svc == e && !w->retired &&
		    !wsocks_has(ws, n, w->socks[0].ino))
			worker_retire(s, w, SIGTERM);
	}
	start_missing(s, e, ws, n);
}

/*
 * The part of reconcile() that only adds: a worker for each socket of the
 * service that has none (one worker per socket). Workers of sockets that
 * are closing keep running.
 */
static void reconcile_start(struct sup *s, struct svc_ent *e)
{
	struct wsock *ws;
	unsigned int n;

	/* one worker per service: its replacement holds the new set and
	 * starts once the old one may go (reconcile) */
	if (s->per_service || group_socks(e->grp, &ws, &n))
		return;
	start_missing(s, e, ws, n);
}

/* ---- the control socket ---- */

/* A request on the control socket; the reply (see ctl_fn). */
static char *ctl_request(void *arg, int fd, const char *req, size_t *len)
{
	struct sup *s = arg;
	struct sbuf rep = { 0 };
	struct ucred cred;
	socklen_t clen = sizeof(cred);

	/* the socket is 0600, but say no to anyone else all the same */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) ||
	    (cred.uid != 0 && cred.uid != geteuid()))
		sb_printf(&rep, "error\npermission denied\n");
	else if (!strcmp(req, "reload"))
		do_reload(s, &rep);
	else
		sb_printf(&rep, "error\nunknown request '%.32s'\n", req);
	if (rep.len > CTL_MSG_MAX)
		rep.len = CTL_MSG_MAX;
	*len = rep.len;
	return rep.s;
}

/* ---- the loop ---- */

/*
 * One round: wait for a signal, a control request (unless @defer) or a
 * timer, up to @deadline (0: none), and handle it. With @defer, stop and
 * reload requests are remembered for later (a reload is in progress).
 */
static void loop_once(struct sup *s, int64_t deadline, bool defer)
{
	struct pollfd pfd[2 + CTL_CONNS_MAX] = {
		{ .fd = s->sigfd, .events = POLLIN },
	};
	struct signalfd_siginfo si;
	int timeout = timers(s), ct;
	/* a reload in progress serves no other request: they wait */
	bool ctl = !defer && s->ctlfd >= 0;
	unsigned int nctl = ctl ? ctl_pollfds(&s->ctl, pfd + 1) : 0;

	if (deadline) {
		int64_t left = deadline - now_ms();

		if (left < 0)
			left = 0;
		if (timeout < 0 || left < timeout)
			timeout = (int)left;
	}
	ct = ctl ? ctl_timeout(&s->ctl, now_ms()) : -1;
	if (ct >= 0 && (timeout < 0 || ct < timeout))
		timeout = ct;
	if (poll(pfd, 1 + nctl, timeout) < 0) {
		if (errno != EINTR)
			logm(s, "poll: %s", strerror(errno));
		return;
	}
	if (pfd[0].revents & POLLIN) {
		while (read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
			switch (si.ssi_signo) {
			case SIGCHLD:
				reap(s);
				break;
			case SIGTERM:
			case SIGINT:
				if (defer)
					s->pending_stop = (int)si.ssi_signo;
				else
					begin_stop(s, (int)si.ssi_signo);
				break;
			case SIGHUP:
				if (defer || s->stopping) {
					s->pending_reload = !s->stopping;
				} else {
					struct sbuf rep = { 0 };

					do_reload(s, &rep);
					free(rep.s);
				}
				break;
			}
		}
	}
	if (ctl)
		ctl_events(&s->ctl, pfd + 1, nctl, now_ms(), ctl_request, s);
	timers(s);
	reap(s);
}

static bool wait_gone(struct sup *s, const unsigned long *ids, size_t n,
		      int64_t deadline)
{
	for (;;) {
		size_t i, left = 0;

		for (i = 0; i < n; i++)
			left += worker_by_id(s, ids[i]) != NULL;
		if (!left)
			return true;
		if (now_ms() >= deadline)
			return false;
		loop_once(s, deadline, true);
	}
}

static void run_loop(struct sup *s)
{
	for (;;) {
		if (s->pending_stop && !s->stopping) {
			begin_stop(s, s->pending_stop);
			s->pending_stop = 0;
		}
		if (s->pending_reload && !s->stopping) {
			struct sbuf rep = { 0 };

			s->pending_reload = false;
			do_reload(s, &rep);
			free(rep.s);
		}
		if (s->stopping && !s->nworkers)
			return;
		loop_once(s, 0, false);
	}
}

/* ---- setup and teardown ---- */

static int setup_runtime(struct sup *s)
{
	struct sockaddr_un sun;
	struct stat st;
	char buf[32];
	socklen_t len;
	int fd, n, tries;

	if (mkdir(s->runtime_dir, 0755) && errno != EEXIST) {
		p_err("creating the runtime directory %s: %s (see %s)",
		      s->runtime_dir, strerror(errno), runtime_dir_help());
		return -1;
	}
	s->pid_path = xasprintf("%s/%s.pid", s->runtime_dir, s->name);
	s->sock_path = xasprintf("%s/%s.sock", s->runtime_dir, s->name);
	/*
	 * A supervisor that exits unlinks the file, then unlocks it: one
	 * starting meanwhile may have opened the old file and now lock it,
	 * while a third creates a new one. The lock counts only on the
	 * file the path names.
	 */
	for (tries = 0;; tries++) {
		struct stat cur;

		/* never through a symbolic link, never someone else's
		 * file: the supervisor may be root and truncates it */
		fd = open(s->pid_path,
			  O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0) {
			p_err("%s: %s", s->pid_path, strerror(errno));
			return -1;
		}
		if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
		    st.st_uid != geteuid()) {
			p_err("%s is not a regular file of this user: refusing "
			      "to use it as the pid file",
			      s->pid_path);
			goto err_close;
		}
		/* the lock is the truth: a pid file left by a dead
		 * supervisor is not locked */
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			n = (int)read(fd, buf, sizeof(buf) - 1);
			buf[n > 0 ? n : 0] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			p_err("a supervisor named '%s' is already running (pid "
			      "%s, %s); give this one another --name",
			      s->name, *buf ? buf : "?", s->pid_path);
			goto err_close;
		}
		if (!stat(s->pid_path, &cur) && cur.st_dev == st.st_dev &&
		    cur.st_ino == st.st_ino)
			break;
		close(fd);
		if (tries == 10) {
			p_err("%s keeps being replaced: is another supervisor "
			      "named '%s' starting and stopping?",
			      s->pid_path, s->name);
			return -1;
		}
	}
	s->lockfd = fd;
	n = snprintf(buf, sizeof(buf), "%d\n", (int)s->self);
	if (ftruncate(fd, 0) || pwrite(fd, buf, (size_t)n, 0) != n) {
		p_err("%s: %s", s->pid_path, strerror(errno));
		return -1;
	}
	len = sun_fill(&sun, s->sock_path);
	if (!len) {
		p_err("the control socket path %s is too long for a Unix "
		      "socket; use a shorter --runtime-dir or --name",
		      s->sock_path);
		return -1;
	}
	s->ctlfd = socket(AF_UNIX,
			  SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->ctlfd < 0) {
		p_err("control socket: %s", strerror(errno));
		return -1;
	}
	/* we hold the lock: whatever socket file is there is stale */
	unlink(s->sock_path);
	if (bind(s->ctlfd, (struct sockaddr *)&sun, len) ||
	    chmod(s->sock_path, 0600) || listen(s->ctlfd, 16)) {
		p_err("control socket %s: %s", s->sock_path, strerror(errno));
		return -1;
	}
	ctl_init(&s->ctl, s->ctlfd);
	return 0;

err_close:
	close(fd);
	return -1;
}

static void cleanup_runtime(struct sup *s)
{
	if (s->ctlfd >= 0) {
		ctl_close_all(&s->ctl);
		close(s->ctlfd);
		unlink(s->sock_path);
	}
	if (s->lockfd >= 0) {
		unlink(s->pid_path);
		close(s->lockfd);
	}
	free(s->pid_path);
	free(s->sock_path);
}

static int resolve_user(struct sup *s, const char *user, const char *group)
{
	unsigned long v;

	if (user) {
		struct passwd *pw = getpwnam(user);

		if (!pw && parse_ulong(user, 0, UINT_MAX - 1, &v))
			pw = getpwuid((uid_t)v);
		if (pw) {
			s->uid = pw->pw_uid;
			s->gid = pw->pw_gid;
			s->user_name = xstrdup(pw->pw_name);
			s->user_home = xstrdup(pw->pw_dir);
			s->user_shell = xstrdup(pw->pw_shell);
		} else if (parse_ulong(user, 0, UINT_MAX - 1, &v)) {
			/* a bare number, as in containers with no passwd
			 * entry for it: its own number as the group, no
			 * name to give */
			s->uid = (uid_t)v;
			s->gid = (gid_t)v;
			s->user_home = xstrdup("/");
		} else {
			p_err("run: --user %s: no such user (give a name "
			      "from the passwd database, or a number)",
			      user);
			return -1;
		}
		s->has_uid = s->has_gid = true;
	}
	if (group) {
		struct group *gr = getgrnam(group);

		if (gr) {
			s->gid = gr->gr_gid;
		} else if (parse_ulong(group, 0, UINT_MAX - 1, &v)) {
			s->gid = (gid_t)v;
		} else {
			p_err("run: --group %s: no such group", group);
			return -1;
		}
		s->has_gid = true;
	}
	if ((s->has_uid || s->has_gid) && geteuid() != 0) {
		p_err("run: --user and --group need root (the supervisor "
		      "changes the workers' credentials)");
		return -1;
	}
	return 0;
}

/* Descriptors 0-2 open, so that no socket ever lands there. */
static void ensure_stdio(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

static const char *default_name(const char *file, const char *service,
				char *buf, size_t sz)
{
	const char *base = strrchr(file, '/');
	size_t n;

	if (service)
		return service;
	base = base ? base + 1 : file;
	n = strlen(base);
	if (n > 5 && !strcmp(base + n - 5, ".conf"))
		n -= 5;
	snprintf(buf, sz, "%.*s", (int)n, base);
	return buf;
}

static void help_run(FILE *out)
{
	fprintf(out,
		"Usage: %s run [OPTIONS] FILE -- COMMAND [ARGS...]\n"
		"Create the groups of FILE's services, steer them, and run "
		"COMMAND as their\n"
		"workers with systemd socket activation (LISTEN_FDS, "
		"LISTEN_PID,\n"
		"LISTEN_FDNAMES = pool names; sockets from fd 3). The "
		"supervisor keeps every\n"
		"socket open, restarts workers that exit, forwards SIGTERM "
		"and SIGINT, and\n"
		"reloads on SIGHUP or 'sksteer reload NAME'.\n"
		"\n"
		"Options:\n"
		"  -s, --service NAME     only this service\n"
		"  -b, --backend BACKEND  cbpf, ebpf or auto instead of the "
		"configuration's\n"
		"  -w, --workers MODE     per-socket (default): one worker "
		"per socket;\n"
		"                         per-service: one worker with all "
		"of a service's\n"
		"  -u, --user USER        run the workers as USER (a name, or "
		"a number even\n"
		"                         without a passwd entry), with its "
		"group and no\n"
		"                         supplementary groups\n"
		"  -g, --group GROUP      run the workers with this group\n"
		"  -n, --name NAME        the name 'sksteer reload' uses "
		"(default: the service\n"
		"                         of --service, else FILE without "
		"directory and .conf)\n"
		"      --runtime-dir DIR  where NAME.pid and NAME.sock live "
		"(default\n"
		"                         %s as root, else "
		"$XDG_RUNTIME_DIR/sksteer)\n"
		"      --pin-root DIR     eBPF: pin each group at DIR/SERVICE "
		"(default\n"
		"                         %s in the initial network\n"
		"                         namespace, %s-netns/INODE in "
		"another)\n"
		"  -t, --stop-timeout SEC how long workers get to exit after "
		"SIGTERM before\n"
		"                         SIGKILL (default %d)\n"
		"      --no-seccomp       let workers attach or detach "
		"reuseport programs\n"
		"                         and use io_uring (by default a "
		"seccomp filter makes\n"
		"                         those fail with EPERM, so that "
		"no worker can change\n"
		"                         the steering of its group)\n"
		"\n"
		"With -j the workers' standard output is the supervisor's "
		"standard error:\n"
		"standard output holds the JSON report alone.\n",
		BIN_NAME, DEFAULT_RUNTIME_DIR, SKSTEER_PIN_ROOT,
		SKSTEER_PIN_ROOT, DEFAULT_STOP_TIMEOUT_MS / 1000);
	print_common_opts(out);
}

static int do_run(int argc, char **argv);
static int do_reload_cmd(int argc, char **argv);
static void help_reload(FILE *out);

const struct cmd cmd_run = {
	.name = "run",
	.func = do_run,
	.help = help_run,
	.summary = "own the sockets and run workers with socket activation",
};

const struct cmd cmd_reload = {
	.name = "reload",
	.func = do_reload_cmd,
	.help = help_reload,
	.summary = "make a running supervisor re-read its configuration",
};

static void sup_free(struct sup *s)
{
	size_t i;

	while (s->nworkers)
		worker_free(s, s->workers[0]);
	free(s->workers);
	for (i = 0; i < s->nsvcs; i++) {
		sksteer_group__free(s->svcs[i]->grp);
		free(s->svcs[i]->name);
		free(s->svcs[i]->pinned);
		free(s->svcs[i]);
	}
	free(s->svcs);
	for (i = 0; i < s->ncfgs; i++)
		sksteer_config__free(s->cfgs[i]);
	free(s->cfgs);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->devnull >= 0)
		close(s->devnull);
	free(s->name);
	free(s->runtime_dir);
	free(s->user_name);
	free(s->user_home);
	free(s->user_shell);
	free(s->guard.filter);
}

static int do_run(int argc, char **argv)
{
	enum { OPT_RUNTIME_DIR = 256, OPT_PIN_ROOT, OPT_NO_SECCOMP };
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "service", required_argument, NULL, 's' },
		{ "backend", required_argument, NULL, 'b' },
		{ "workers", required_argument, NULL, 'w' },
		{ "user", required_argument, NULL, 'u' },
		{ "group", required_argument, NULL, 'g' },
		{ "name", required_argument, NULL, 'n' },
		{ "runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR },
		{ "pin-root", required_argument, NULL, OPT_PIN_ROOT },
		{ "stop-timeout", required_argument, NULL, 't' },
		{ "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
		{ 0 },
	};
	bool no_seccomp = false;
	struct sup sup = {
		.sigfd = -1,
		.ctlfd = -1,
		.lockfd = -1,
		.devnull = -1,
		.pin_root = NULL, /* sksteer_pin_root() unless given */
		.stop_timeout = DEFAULT_STOP_TIMEOUT_MS,
	}, *s = &sup;
	const char *user = NULL, *group = NULL, *name = NULL, *rdir = NULL;
	struct sksteer_service **svcs = NULL;
	char namebuf[NAME_MAX_LEN + 8], why[1024], pinbuf[PATH_MAX];
	int c, ret, dd, nargs, nsvc, i;
	struct sksteer_config *cfg;
	sigset_t mask;

	/* everything after "--" is the command, options or not */
	for (dd = 1; dd < argc && strcmp(argv[dd], "--"); dd++)
		;
	nargs = dd;
	cmd_opts_reset();
	while ((c = getopt_long(nargs, argv,
				":" COMMON_SHORTOPTS "s:b:w:u:g:n:t:", opts,
				NULL)) != -1) {
		switch (c) {
		case 's':
			s->only_service = optarg;
			break;
		case 'b':
			if (!parse_backend(optarg, &s->backend))
				return usage_err(
					&cmd_run,
					"run: --backend '%s': expected "
					"cbpf, ebpf or auto",
					optarg);
			break;
		case 'w':
			if (!strcmp(optarg, "per-socket"))
				s->per_service = false;
			else if (!strcmp(optarg, "per-service"))
				s->per_service = true;
			else
				return usage_err(
					&cmd_run,
					"run: --workers '%s': expected "
					"per-socket or per-service",
					optarg);
			break;
		case 'u':
			user = optarg;
			break;
		case 'g':
			group = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case OPT_RUNTIME_DIR:
			rdir = optarg;
			break;
		case OPT_PIN_ROOT:
			s->pin_root = optarg;
			break;
		case OPT_NO_SECCOMP:
			no_seccomp = true;
			break;
		case 't':
			if (!parse_seconds(optarg, &s->stop_timeout))
				return usage_err(&cmd_run,
						 "run: --stop-timeout '%s': "
						 "expected seconds, more than "
						 "0 and at most 3600",
						 optarg);
			break;
		default:
			if (common_opt(c, argv, &cmd_run, &ret))
				return ret;
		}
	}
	if (optind >= nargs)
		return usage_err(&cmd_run, "run: no configuration FILE given");
	if (optind + 1 < nargs)
		return usage_err(&cmd_run,
				 "run: one configuration FILE, then '--' and "
				 "the command ('%s' is extra)",
				 argv[optind + 1]);
	s->file = argv[optind];
	/* per network namespace, so that `sksteer stats` in the same one
	 * finds it and groups of one name in two never meet */
	if (!s->pin_root) {
		ret = sksteer_pin_root(pinbuf, sizeof(pinbuf));
		if (ret) {
			p_err("run: the pin root of this network namespace: %s",
			      strerror(-ret));
			return 1;
		}
		s->pin_root = pinbuf;
	}
	if (dd >= argc || dd + 1 >= argc)
		return usage_err(&cmd_run,
				 "run: no worker command: give it after '--' "
				 "(sksteer run FILE -- COMMAND ARGS...)");
	s->cmd = argv + dd + 1;
	name = name ? name :
		      default_name(s->file, s->only_service, namebuf,
				   sizeof(namebuf));
	if (!valid_name(name))
		return usage_err(&cmd_run,
				 "run: the name '%s' is not usable: 1-%d "
				 "letters, digits, '_', '-' or '.', not "
				 "starting with '.' or '-' (give one with "
				 "--name)",
				 name, NAME_MAX_LEN);
	s->name = xstrdup(name);
	s->runtime_dir = runtime_dir(rdir);
	if (!s->runtime_dir) {
		free(s->name);
		return usage_err(&cmd_run,
				 "run: no runtime directory: give one with %s",
				 runtime_dir_help());
	}
	s->self = getpid();
	ensure_stdio();

	ret = 1;
	if (resolve_user(s, user, group))
		goto out;
	if (!no_seccomp && guard_filter_build(&s->guard)) {
		p_err("run: this build has no seccomp filter for this "
		      "architecture, which keeps workers from changing the "
		      "steering; run with --no-seccomp to do without it");
		goto out;
	}
	/* signals are read from a signalfd in the loop, nowhere else */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL)) {
		p_err("run: sigprocmask: %s", strerror(errno));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	s->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	s->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (s->sigfd < 0 || s->devnull < 0) {
		p_err("run: %s: %s", s->sigfd < 0 ? "signalfd" : "/dev/null",
		      strerror(errno));
		goto out;
	}
	/* leftovers of the workers become our children, and are reaped */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		p_err("run: PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
		goto out;
	}

	cfg = load_config(s->file);
	if (!cfg)
		goto out;
	cfg_add(s, cfg);
	nsvc = select_services(cfg, s->file, s->only_service, &svcs);
	if (nsvc < 0)
		goto out;
	if (!nsvc) {
		p_err("%s has no service", s->file);
		goto out;
	}
	if (services_clash(svcs, (size_t)nsvc, s->file, why, sizeof(why))) {
		p_err("%s", why);
		goto out;
	}
	/* the name first: a second start of the same supervisor says so */
	if (setup_runtime(s))
		goto out;
	for (i = 0; i < nsvc; i++) {
		if (port_check(svcs[i], NULL, 0, false, why, sizeof(why))) {
			p_err("%s", why);
			goto out;
		}
	}
	for (i = 0; i < nsvc; i++) {
		struct svc_ent *e = xcalloc(1, sizeof(*e));

		e->name = xstrdup(sksteer_service__name(svcs[i]));
		e->pinned = xstrdup(e->name);
		e->cfg = cfg;
		e->svc = svcs[i];
		e->grp = group_create(s, svcs[i]);
		if (!e->grp) {
			p_err("service '%s': creating its group: %s", e->name,
			      errno == EMEDIUMTYPE ?
				      "the pin directory is not on a bpffs "
				      "(see --pin-root)" :
				      strerror(errno));
			free(e->name);
			free(e->pinned);
			free(e);
			goto out;
		}
		s->svcs = xrealloc(s->svcs, s->nsvcs + 1, sizeof(*s->svcs));
		s->svcs[s->nsvcs++] = e;
	}
	/* the first start of every worker must succeed */
	for (i = 0; i < (int)s->nsvcs; i++) {
		struct svc_ent *e = s->svcs[i];
		struct wsock *ws;
		unsigned int n, k;

		if (group_socks(e->grp, &ws, &n)) {
			p_err("service '%s': cannot list its sockets", e->name);
			goto stop;
		}
		for (k = 0; k < (s->per_service ? 1 : n); k++) {
			struct worker *w;

			if (s->per_service) {
				w = worker_new(s, e, ws, n);
			} else {
				struct wsock *one = xcalloc(1, sizeof(*one));

				*one = ws[k];
				w = worker_new(s, e, one, 1);
			}
			if (worker_start(s, w, why, sizeof(why))) {
				if (!s->per_service) {
					for (k++; k < n; k++)
						free(ws[k].pool);
					free(ws);
				}
				p_err("run: %s; stopping", why);
				goto stop;
			}
		}
		if (!s->per_service)
			free(ws);
	}
	s->started = true;
	{
		unsigned int nsock = 0;

		for (i = 0; i < (int)s->nsvcs; i++)
			nsock += sksteer_group__socket_cnt(s->svcs[i]->grp);
		logm(s,
		     "%u socket%s of %zu service%s, %zu worker%s; pid %d; "
		     "reload with 'sksteer reload %s%s%s%s'",
		     nsock, nsock == 1 ? "" : "s", s->nsvcs,
		     s->nsvcs == 1 ? "" : "s", s->nworkers,
		     s->nworkers == 1 ? "" : "s", (int)s->self,
		     rdir ? "--runtime-dir " : "", rdir ? rdir : "",
		     rdir ? " " : "", s->name);
		sd_notifyf("READY=1\nMAINPID=%d\nSTATUS=%u sockets, %zu "
			   "workers",
			   (int)s->self, nsock, s->nworkers);
	}
	run_loop(s);
	goto done;

stop:
	begin_stop(s, SIGTERM);
	run_loop(s);
done:
	sweep_descendants(s);
	if (s->started) {
		ret = s->killed ? 1 : 0;
		if (s->killed)
			logm(s, "stopped; some workers had to be killed");
		else
			logm(s, "stopped");
	}
	if (json_output && s->started) {
		jw_start_object(json_wtr);
		jw_string_field(json_wtr, "name", s->name);
		jw_string_field(json_wtr, "stopped_by",
				s->stop_sig ? sigabbrev_np(s->stop_sig) : "");
		jw_uint_field(json_wtr, "restarts", s->restarts);
		jw_bool_field(json_wtr, "killed", s->killed);
		jw_end_object(json_wtr);
		/* the report, also with the exit status 1 of "killed" */
		json_report = true;
	}
	if (ret && s->started)
		p_err("run: workers had to be killed with SIGKILL");
out:
	cleanup_runtime(s);
	free(svcs);
	sup_free(s);
	return ret;
}

/* ---- sksteer reload ---- */

static void help_reload(FILE *out)
{
	fprintf(out,
		"Usage: %s reload [OPTIONS] NAME\n"
		"Make the supervisor NAME ('sksteer run --name') re-read its "
		"configuration\n"
		"and prefix files and swap the rules, and wait for the "
		"result. A configuration\n"
		"that does not parse, compile or apply changes nothing and "
		"is reported here.\n"
		"\n"
		"Options:\n"
		"      --runtime-dir DIR  as given to 'sksteer run' (default "
		"%s as\n"
		"                         root, else "
		"$XDG_RUNTIME_DIR/sksteer)\n"
		"  -t, --timeout SEC      how long to wait for the result "
		"(default %d)\n",
		BIN_NAME, DEFAULT_RUNTIME_DIR, DEFAULT_RELOAD_TIMEOUT);
	print_common_opts(out);
}

static int do_reload_cmd(int argc, char **argv)
{
	enum { OPT_RUNTIME_DIR = 256 };
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR },
		{ "timeout", required_argument, NULL, 't' },
		{ 0 },
	};
	int64_t timeout = DEFAULT_RELOAD_TIMEOUT * 1000;
	const char *rdir = NULL, *name;
	char *dir = NULL, *path = NULL, *buf = NULL, *reason, *rest;
	struct sockaddr_un sun;
	struct pollfd pfd;
	socklen_t len;
	int c, ret, fd = -1;
	ssize_t n;
	bool ok;

	cmd_opts_reset();
	while ((c = getopt_long(argc, argv, ":" COMMON_SHORTOPTS "t:", opts,
				NULL)) != -1) {
		switch (c) {
		case OPT_RUNTIME_DIR:
			rdir = optarg;
			break;
		case 't':
			if (!parse_seconds(optarg, &timeout))
				return usage_err(&cmd_reload,
						 "reload: --timeout '%s': "
						 "expected seconds, more than "
						 "0 and at most 3600",
						 optarg);
			break;
		default:
			if (common_opt(c, argv, &cmd_reload, &ret))
				return ret;
		}
	}
	if (optind >= argc)
		return usage_err(&cmd_reload,
				 "reload: which supervisor? give its NAME");
	if (optind + 1 < argc)
		return usage_err(&cmd_reload,
				 "reload: one NAME ('%s' is extra)",
				 argv[optind + 1]);
	name = argv[optind];
	if (!valid_name(name))
		return usage_err(&cmd_reload, "reload: '%s' is not a name",
				 name);
	dir = runtime_dir(rdir);
	if (!dir)
		return usage_err(&cmd_reload,
				 "reload: no runtime directory: give one "
				 "with %s",
				 runtime_dir_help());
	ret = 1;
	path = xasprintf("%s/%s.sock", dir, name);
	len = sun_fill(&sun, path);
	if (!len) {
		p_err("reload: %s is too long for a Unix socket", path);
		goto out;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, len)) {
		if (errno == ENOENT)
			p_err("reload: no supervisor '%s' is running (no %s; "
			      "is the --runtime-dir the one 'sksteer run' "
			      "was given?)",
			      name, path);
		else if (errno == ECONNREFUSED)
			p_err("reload: the supervisor '%s' is not running "
			      "(%s is left from one that died)",
			      name, path);
		else
			p_err("reload: %s: %s", path, strerror(errno));
		goto out;
	}
	if (send(fd, "reload", 6, MSG_NOSIGNAL) != 6) {
		p_err("reload: sending the request to %s: %s", path,
		      strerror(errno));
		goto out;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	c = poll(&pfd, 1, (int)timeout);
	if (c <= 0) {
		p_err("reload: no answer from '%s' within %.0f s (it may still "
		      "be reloading: see its log)",
		      name, (double)timeout / 1000);
		goto out;
	}
	buf = xcalloc(CTL_MSG_MAX + 1, 1);
	n = recv(fd, buf, CTL_MSG_MAX, 0);
	if (n <= 0) {
		p_err("reload: '%s' closed the connection without an answer%s",
		      name, n < 0 ? strerror(errno) : "");
		goto out;
	}
	buf[n] = '\0';
	/* "ok|error\nREASON\nMORE..." */
	ok = !strncmp(buf, "ok\n", 3);
	reason = strchr(buf, '\n');
	reason = reason ? reason + 1 : buf + n;
	rest = strchr(reason, '\n');
	if (rest)
		*rest++ = '\0';
	else
		rest = reason + strlen(reason);
	if (json_output) {
		jw_start_object(json_wtr);
		jw_string_field(json_wtr, "name", name);
		jw_bool_field(json_wtr, "ok", ok);
		jw_string_field(json_wtr, ok ? "result" : "error", reason);
		jw_name(json_wtr, "details");
		jw_start_array(json_wtr);
		for (char *line = strtok(rest, "\n"); line;
		     line = strtok(NULL, "\n"))
			jw_string(json_wtr, line);
		jw_end_array(json_wtr);
		jw_end_object(json_wtr);
		json_report = true;
	} else if (ok) {
		printf("%s: %s\n%s", name, reason, rest);
	} else {
		fputs(rest, stderr);
	}
	if (!ok)
		p_err("reload of '%s' failed: %s", name, reason);
	ret = ok ? 0 : 1;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(path);
	free(dir);
	return ret;
}
