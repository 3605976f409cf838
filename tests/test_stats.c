// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Counters of a running eBPF group: per rule, per pool, default, drop and
 * fallback counts after known traffic; what it pins (owner-only) and how
 * that is cleaned up, also after a crash; `sksteer stats` in text, JSON
 * and Prometheus form. Each test mounts a bpffs of its own in a private
 * mount namespace, so nothing touches /sys/fs/bpf.
 */
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <linux/magic.h>

#include <bpf/bpf.h>

#include "pin.h"
#include "steer_util.h"

static char root[64];

static void private_bpffs(void)
{
	char why[256];

	if (sksteer_probe_ebpf(why, sizeof(why)))
		tl_skip("eBPF backend unavailable here: %s", why);
	tl_enter_netns();
	ASSERT(!unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS): %s",
	       strerror(errno));
	ASSERT(!mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL),
	       "making mounts private: %s", strerror(errno));
	snprintf(root, sizeof(root), "/tmp/sksteer-bpffs-%d", getpid());
	ASSERT(!mkdir(root, 0700) || errno == EEXIST, "mkdir %s", root);
	ASSERT(!mount("bpf", root, "bpf", 0, NULL), "mount bpffs: %s",
	       strerror(errno));
}

static void private_bpffs_done(void)
{
	umount(root);
	rmdir(root);
}

static const char *const conf =
	"service web {\n  listen udp 127.0.0.1:0\n  backend ebpf\n"
	"  pool a 2\n  pool b 1 { fallback pool a }\n  pool c 1\n"
	"  rule from 127.0.0.2 pool a\n"
	"  rule from 127.0.0.3 pool b\n"
	"  rule from 127.0.0.4 drop\n"
	"  default pool c\n}\n";

static struct sksteer_group *start(struct su_group *g, const char *pin)
{
	SKSTEER_OPTS(sksteer_group_opts, opts, .pin_path = pin);

	su_parse(g, conf);
	g->grp = sksteer_group__create(g->svc, &opts);
	ASSERT(g->grp, "create: %s", tl_messages());
	su_ready(g);
	return g->grp;
}

TEST(counters)
{
	struct sksteer_stats *st;
	struct su_group g;
	char pin[128], path[192];
	struct stat sb;
	int i;

	private_bpffs();
	snprintf(pin, sizeof(pin), "%s/web", root);
	start(&g, pin);
	for (i = 0; i < 10; i++)
		CHECK_FLOW(&g, "127.0.0.2", "127.0.0.1", "a");
	for (i = 0; i < 5; i++)
		CHECK_FLOW(&g, "127.0.0.3", "127.0.0.1", "b");
	for (i = 0; i < 3; i++)
		CHECK_REFUSED(&g, "127.0.0.4", "127.0.0.1");
	for (i = 0; i < 7; i++)
		CHECK_FLOW(&g, "127.0.0.9", "127.0.0.1", "c");
	/* pool b empties: its fallback, pool a, takes its traffic */
	ASSERT(!sksteer_group__close_socket(g.grp, "b", 0), "close b[0]: %s",
	       tl_messages());
	su_refresh(&g);
	for (i = 0; i < 4; i++)
		CHECK_FLOW(&g, "127.0.0.3", "127.0.0.1", "a");

	/* owner only */
	ASSERT(!stat(pin, &sb), "stat %s: %s", pin, strerror(errno));
	CHECK((sb.st_mode & 0777) == 0700, "%s has mode %o", pin,
	      sb.st_mode & 0777);
	snprintf(path, sizeof(path), "%s/counters", pin);
	CHECK(!stat(path, &sb) && (sb.st_mode & 0777) == 0600, "%s mode %o",
	      path, sb.st_mode & 0777);

	st = sksteer_stats__read(pin);
	ASSERT(st, "stats: %s", strerror(errno));
	CHECK(!strcmp(sksteer_stats__service(st), "web"), "service %s",
	      sksteer_stats__service(st));
	CHECK(sksteer_stats__pid(st) == getpid(), "pid %d",
	      sksteer_stats__pid(st));
	CHECK(sksteer_stats__counter(st, SKSTEER_CNT_PACKETS) == 29,
	      "packets %llu",
	      (unsigned long long)sksteer_stats__counter(st,
							 SKSTEER_CNT_PACKETS));
	CHECK(sksteer_stats__rule_cnt(st) == 3, "rules");
	CHECK(sksteer_stats__rule_hits(st, 0) == 10 &&
		      sksteer_stats__rule_hits(st, 1) == 9 &&
		      sksteer_stats__rule_hits(st, 2) == 3,
	      "rule hits %llu %llu %llu",
	      (unsigned long long)sksteer_stats__rule_hits(st, 0),
	      (unsigned long long)sksteer_stats__rule_hits(st, 1),
	      (unsigned long long)sksteer_stats__rule_hits(st, 2));
	CHECK(strstr(sksteer_stats__rule_text(st, 1), "from 127.0.0.3 pool b"),
	      "rule text '%s'", sksteer_stats__rule_text(st, 1));
	CHECK(sksteer_stats__counter(st, SKSTEER_CNT_DEFAULT) == 7, "default");
	CHECK(sksteer_stats__counter(st, SKSTEER_CNT_DROP) == 3, "drop %llu",
	      (unsigned long long)sksteer_stats__counter(st, SKSTEER_CNT_DROP));
	CHECK(sksteer_stats__pool_cnt(st) == 3 &&
		      !strcmp(sksteer_stats__pool_name(st, 1), "b"),
	      "pools");
	CHECK(sksteer_stats__pool_hits(st, 0) == 14 &&
		      sksteer_stats__pool_hits(st, 1) == 5 &&
		      sksteer_stats__pool_hits(st, 2) == 7,
	      "pool hits %llu %llu %llu",
	      (unsigned long long)sksteer_stats__pool_hits(st, 0),
	      (unsigned long long)sksteer_stats__pool_hits(st, 1),
	      (unsigned long long)sksteer_stats__pool_hits(st, 2));
	CHECK(sksteer_stats__pool_sockets(st, 0) == 2 &&
		      sksteer_stats__pool_sockets(st, 1) == 0,
	      "pool sockets");
	sksteer_stats__free(st);

	su_free(&g);
	/* the group removed what it pinned */
	CHECK(stat(pin, &sb) && errno == ENOENT, "%s is still there", pin);
	CHECK(!sksteer_stats__read(pin) && errno == ENOENT,
	      "stats of a freed group");
	private_bpffs_done();
}

/* A process that dies leaves its pins; they are reported stale and the
 * next group of that name takes over. */
TEST(stale)
{
	struct su_group g;
	char pin[128];
	pid_t pid;
	int status, p[2];

	private_bpffs();
	snprintf(pin, sizeof(pin), "%s/web", root);
	ASSERT(!pipe(p), "pipe");
	pid = fork();
	if (pid == 0) {
		struct su_group cg;

		start(&cg, pin);
		ASSERT(write(p[1], "r", 1) == 1, "write");
		pause();
		_exit(0);
	}
	close(p[1]);
	ASSERT(read(p[0], &status, 1) == 1, "child did not start");
	/* a second group of the same name while the first runs: refused */
	tl_messages_reset();
	{
		SKSTEER_OPTS(sksteer_group_opts, opts, .pin_path = pin);

		su_parse(&g, conf);
		g.grp = sksteer_group__create(g.svc, &opts);
		CHECK(!g.grp && errno == EBUSY &&
			      strstr(tl_messages(), "already running"),
		      "a second group on a live pin: %p %s", (void *)g.grp,
		      tl_messages());
		sksteer_config__free(g.cfg);
	}
	/* ... and it left the running group's pins alone */
	{
		struct sksteer_stats *st = sksteer_stats__read(pin);

		CHECK(st && sksteer_stats__pid(st) == pid,
		      "the refused group removed the running one's pins");
		sksteer_stats__free(st);
	}
	/* a live pid that is another process by now (its start time
	 * differs) does not hold the name */
	{
		char path[256];
		struct sk_meta *m = calloc(1, sizeof(*m));
		__u32 zero = 0;
		int fd;

		snprintf(path, sizeof(path), "%s/meta", pin);
		fd = bpf_obj_get(path);
		ASSERT(fd >= 0 && m && !bpf_map_lookup_elem(fd, &zero, m),
		       "reading %s: %s", path, strerror(errno));
		CHECK(m->start_time, "no start time in the meta");
		m->start_time++;
		ASSERT(!bpf_map_update_elem(fd, &zero, m, BPF_ANY),
		       "writing the meta: %s", strerror(errno));
		CHECK(!sksteer_stats__read(pin) && errno == ESRCH,
		      "a reused pid is taken for the running group");
		m->start_time--;
		ASSERT(!bpf_map_update_elem(fd, &zero, m, BPF_ANY),
		       "writing the meta: %s", strerror(errno));
		close(fd);
		free(m);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	CHECK(!sksteer_stats__read(pin) && errno == ESRCH,
	      "the pins of a dead process are not reported stale");
	start(&g, pin);
	{
		struct sksteer_stats *st = sksteer_stats__read(pin);

		CHECK(st && sksteer_stats__pid(st) == getpid(),
		      "the new group did not take over the pins");
		sksteer_stats__free(st);
	}
	/* a second group of this process on the same name: refused too */
	{
		SKSTEER_OPTS(sksteer_group_opts, opts, .pin_path = pin);
		struct su_group g2;
		struct sksteer_stats *st;

		su_parse(&g2, conf);
		tl_messages_reset();
		g2.grp = sksteer_group__create(g2.svc, &opts);
		CHECK(!g2.grp && errno == EBUSY &&
			      strstr(tl_messages(), "this process already"),
		      "a second group of one process on a pin: %p %s",
		      (void *)g2.grp, tl_messages());
		sksteer_config__free(g2.cfg);
		st = sksteer_stats__read(pin);
		CHECK(st && sksteer_stats__pid(st) == getpid(),
		      "the refused group removed the pins");
		sksteer_stats__free(st);
	}
	su_free(&g);
	private_bpffs_done();
}

static uint64_t packets_at(const char *pin)
{
	struct sksteer_stats *st = sksteer_stats__read(pin);
	uint64_t n;

	if (!st)
		return UINT64_MAX;
	n = sksteer_stats__counter(st, SKSTEER_CNT_PACKETS);
	sksteer_stats__free(st);
	return n;
}

/* A group's pins follow it to another path (a renamed service): the live
 * counters, not a copy; never over a running group's; over what a dead
 * process left; not for a group that pins nothing. */
TEST(move_pins)
{
	char pin[128], to[128], busy[128], stale[128], deep[160];
	struct su_group g, c;
	struct stat sb;
	int i, status, p[2];
	pid_t pid;

	private_bpffs();
	snprintf(pin, sizeof(pin), "%s/web", root);
	snprintf(to, sizeof(to), "%s/www", root);
	snprintf(busy, sizeof(busy), "%s/busy", root);
	snprintf(stale, sizeof(stale), "%s/stale", root);
	snprintf(deep, sizeof(deep), "%s/a/b/www", root);
	start(&g, pin);
	for (i = 0; i < 3; i++)
		CHECK_FLOW(&g, "127.0.0.2", "127.0.0.1", "a");
	CHECK(!sksteer_group__set_pin_path(g.grp, pin), "to where it is");
	{
		char same[140], inside[160], empty[140];

		snprintf(same, sizeof(same), "%s//", pin);
		CHECK(!sksteer_group__set_pin_path(g.grp, same),
		      "to where it is, with a slash: %s", tl_messages());
		snprintf(inside, sizeof(inside), "%s/x", pin);
		CHECK(sksteer_group__set_pin_path(g.grp, inside) == -EINVAL &&
			      sksteer_group__set_pin_path(g.grp, root) ==
				      -EINVAL &&
			      stat(inside, &sb) && errno == ENOENT,
		      "into itself or above: %s", tl_messages());
		/* a directory that holds no group's pins is not replaced */
		snprintf(empty, sizeof(empty), "%s/empty", root);
		ASSERT(!mkdir(empty, 0700), "mkdir %s: %s", empty,
		       strerror(errno));
		tl_messages_reset();
		CHECK(sksteer_group__set_pin_path(g.grp, empty) == -EEXIST &&
			      strstr(tl_messages(), "holds no running group") &&
			      packets_at(pin) == 3,
		      "over a directory that is no group's: %s", tl_messages());
		rmdir(empty);
	}
	CHECK(!sksteer_group__set_pin_path(g.grp, to), "move: %s",
	      tl_messages());
	CHECK(stat(pin, &sb) && errno == ENOENT, "%s is still there", pin);
	CHECK(packets_at(to) == 3, "after the move: %llu packets",
	      (unsigned long long)packets_at(to));
	for (i = 0; i < 2; i++)
		CHECK_FLOW(&g, "127.0.0.2", "127.0.0.1", "a");
	CHECK(packets_at(to) == 5,
	      "the moved counters are not the live "
	      "ones: %llu packets",
	      (unsigned long long)packets_at(to));

	/* a running group's directory: refused, nothing moves */
	ASSERT(!pipe(p), "pipe");
	pid = fork();
	if (pid == 0) {
		start(&c, busy);
		ASSERT(write(p[1], "r", 1) == 1, "write");
		pause();
		_exit(0);
	}
	close(p[1]);
	ASSERT(read(p[0], &status, 1) == 1, "child did not start");
	close(p[0]);
	tl_messages_reset();
	CHECK(sksteer_group__set_pin_path(g.grp, busy) == -EBUSY &&
		      strstr(tl_messages(), "already running"),
	      "over a running group: %s", tl_messages());
	CHECK(packets_at(to) == 5 && packets_at(busy) == 0,
	      "a refused move changed the pins");
	/* ... and what it leaves when it dies is taken over */
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	ASSERT(!rename(busy, stale), "rename: %s", strerror(errno));
	CHECK(!sksteer_group__set_pin_path(g.grp, stale) &&
		      packets_at(stale) == 5,
	      "over a dead process's pins: %s", tl_messages());
	/* directories that do not exist yet are made */
	CHECK(!sksteer_group__set_pin_path(g.grp, deep) &&
		      packets_at(deep) == 5,
	      "into new directories: %s", tl_messages());
	CHECK(!stat(deep, &sb) && (sb.st_mode & 0777) == 0700, "%s has mode %o",
	      deep, sb.st_mode & 0777);
	su_free(&g);
	CHECK(stat(deep, &sb) && errno == ENOENT, "%s left behind", deep);

	/* nothing pinned: nothing to move */
	su_parse(&c, conf);
	c.grp = sksteer_group__create(c.svc, NULL);
	ASSERT(c.grp, "create: %s", tl_messages());
	CHECK(sksteer_group__set_pin_path(c.grp, to) == -EINVAL,
	      "a group without pins moved them");
	su_free(&c);
	private_bpffs_done();
}

/*
 * Groups of one name starting at once over what a killed process left:
 * exactly one wins, and its pins are there afterwards (none of the others
 * took the stale directory away after the winner had claimed it).
 */
TEST(claim_race)
{
	enum { NKIDS = 6, ROUNDS = 10 };
	char pin[128];
	int round, wins_total = 0;

	private_bpffs();
	snprintf(pin, sizeof(pin), "%s/web", root);
	for (round = 0; round < ROUNDS; round++) {
		int go[2], res[2], status, i, wins = 0;
		pid_t kids[NKIDS], dead, winner = 0;
		struct sksteer_stats *st;
		char c;

		/* a directory left by a process that was killed */
		ASSERT(!pipe(res), "pipe");
		dead = fork();
		if (dead == 0) {
			struct su_group dg;

			start(&dg, pin);
			ASSERT(write(res[1], "r", 1) == 1, "write");
			pause();
			_exit(0);
		}
		ASSERT(read(res[0], &c, 1) == 1,
		       "the first group did not start");
		kill(dead, SIGKILL);
		waitpid(dead, &status, 0);

		ASSERT(!pipe(go), "pipe");
		for (i = 0; i < NKIDS; i++) {
			kids[i] = fork();
			if (kids[i] == 0) {
				SKSTEER_OPTS(sksteer_group_opts, opts,
					     .pin_path = pin);
				struct sksteer_config *cfg =
					sksteer_config__parse_string(
						conf, strlen(conf), "r.conf",
						NULL);
				struct sksteer_group *grp;

				close(go[1]);
				if (!cfg || read(go[0], &c, 1) != 0)
					_exit(2);
				grp = sksteer_group__create(
					sksteer_config__service(cfg, 0), &opts);
				c = grp ? 'w' : errno == EBUSY ? 'b' : 'e';
				if (write(res[1], &c, 1) != 1)
					_exit(2);
				if (grp)
					pause();
				_exit(0);
			}
		}
		close(go[0]);
		/* all at once: the read() of every child returns on close */
		close(go[1]);
		for (i = 0; i < NKIDS; i++) {
			ASSERT(read(res[0], &c, 1) == 1,
			       "a child did not report");
			wins += c == 'w';
			CHECK(c == 'w' || c == 'b',
			      "round %d: a start failed otherwise than busy",
			      round);
		}
		CHECK(wins == 1, "round %d: %d groups won the name", round,
		      wins);
		st = sksteer_stats__read(pin);
		CHECK(st, "round %d: the winner's pins are gone: %s", round,
		      strerror(errno));
		for (i = 0; st && i < NKIDS; i++)
			if (kids[i] == sksteer_stats__pid(st))
				winner = kids[i];
		CHECK(!st || winner, "round %d: the pins are not the winner's",
		      round);
		sksteer_stats__free(st);
		wins_total += wins;
		for (i = 0; i < NKIDS; i++) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], &status, 0);
		}
		close(res[0]);
		close(res[1]);
	}
	CHECK(wins_total == ROUNDS, "%d wins in %d rounds", wins_total, ROUNDS);
	private_bpffs_done();
}

/* The command-line view of the same counters. */
TEST(cli)
{
	struct su_group g;
	char pin[128], cmd[512], out[8192];
	FILE *f;
	size_t n;
	int i;

	private_bpffs();
	snprintf(pin, sizeof(pin), "%s/web", root);
	start(&g, pin);
	for (i = 0; i < 4; i++)
		CHECK_FLOW(&g, "127.0.0.2", "127.0.0.1", "a");
	snprintf(cmd, sizeof(cmd),
		 "../tools/sksteer stats --pin-root %s --format prometheus",
		 root);
	f = popen(cmd, "r");
	ASSERT(f, "popen");
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	CHECK(!pclose(f), "sksteer stats failed: %s", out);
	CHECK(strstr(out, "sksteer_rule_hits_total{service=\"web\",rule=\"1\","
			  "text=\"rule from 127.0.0.2 pool a\"} 4"),
	      "prometheus output: %s", out);
	CHECK(strstr(out,
		     "sksteer_pool_hits_total{service=\"web\",pool=\"a\"} 4"),
	      "prometheus output: %s", out);
	CHECK(strstr(out, "# TYPE sksteer_pool_sockets gauge"),
	      "prometheus output: %s", out);
	snprintf(cmd, sizeof(cmd),
		 "../tools/sksteer -j stats --pin-root %s web", root);
	f = popen(cmd, "r");
	ASSERT(f, "popen");
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	CHECK(!pclose(f), "sksteer -j stats failed: %s", out);
	CHECK(out[0] == '[' && strstr(out, "\"service\":\"web\"") &&
		      strstr(out, "\"packets\":4"),
	      "json output: %s", out);
	snprintf(cmd, sizeof(cmd),
		 "../tools/sksteer stats --pin-root %s nosuch 2>&1", root);
	f = popen(cmd, "r");
	ASSERT(f, "popen");
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	CHECK(pclose(f) && strstr(out, "no running group 'nosuch'"),
	      "an unknown service: %s", out);
	su_free(&g);
	private_bpffs_done();
}

/* Without a bpffs on /sys/fs/bpf (a minimal system), the group mounts one,
 * as bpftool does, to pin at the default place. In a private mount
 * namespace: the host's mounts are not touched. */
TEST(mounts_bpffs)
{
	struct su_group g;
	struct statfs sfs;
	char pin[] = SKSTEER_PIN_ROOT "/web";
	struct sksteer_stats *st;

	private_bpffs();
	private_bpffs_done();
	/* whatever is on /sys/fs/bpf, only in this namespace */
	while (!umount("/sys/fs/bpf"))
		;
	ASSERT(!statfs("/sys/fs/bpf", &sfs) && sfs.f_type != BPF_FS_MAGIC,
	       "a bpffs is still mounted on /sys/fs/bpf");
	start(&g, pin);
	CHECK(!statfs("/sys/fs/bpf", &sfs) && sfs.f_type == BPF_FS_MAGIC,
	      "no bpffs was mounted on /sys/fs/bpf");
	st = sksteer_stats__read(pin);
	CHECK(st, "stats at the default place: %s", strerror(errno));
	sksteer_stats__free(st);
	su_free(&g);
	umount("/sys/fs/bpf");
}
