// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The eBPF backend of a socket group.
 *
 * A socket is known by its key in the group's REUSEPORT_SOCKARRAY, which
 * never changes while the socket is open: closing another socket renumbers
 * the kernel's group but not the keys, so nothing ever points at the wrong
 * socket. A socket can be in one sockarray only (the array keeps itself in
 * sk_user_data), so the array is the group's and every program generation
 * shares it; the kernel clears a socket's entry as the socket leaves the
 * group (bpf_sk_reuseport_detach).
 *
 * Changing anything (rules, sockets) loads a new generation (src/ebpf.c)
 * whose tables already describe the new state, and swaps it in with one
 * SO_ATTACH_REUSEPORT_EBPF; only then is a departing socket closed. There
 * is no window in which a packet is steered by half-updated state.
 */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ebpf.h"
#include "group.h"
#include "pin.h"

struct ebpf_state {
	int sockarray_fd;
	int counters_fd; /* the group's, shared by every generation */
	struct sk_ebpf *gen; /* attached generation */
	char *counters_sig; /* rules and pools the counters belong to */
	uint64_t generation;
	uint64_t counters_since;
	int meta_fd;
	bool claimed; /* the pin directory and its meta are ours */
	/* the topmost directory above the pins that this group created,
	 * removed again (when empty) with them */
	char *made_above;
	bool pinned; /* the counters too */
};

static struct ebpf_state *state(struct sksteer_group *grp)
{
	struct ebpf_state *st = grp->priv;

	if (st)
		return st;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->meta_fd = -1;
	/* room for every socket the group can hold open at once */
	st->sockarray_fd = bpf_map_create(
		BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, "sksteer_socks",
		sizeof(__u32), sizeof(__u64), SK_GROUP_MAX_OPEN, NULL);
	if (st->sockarray_fd < 0) {
		sk_warn("service '%s': creating the eBPF socket array: %s\n",
			grp->svc->name, strerror(errno));
		free(st);
		return NULL;
	}
	st->counters_fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY,
					 "sksteer_counters", sizeof(__u32),
					 sizeof(struct sks_counters), 1, NULL);
	if (st->counters_fd < 0) {
		sk_warn("service '%s': creating the eBPF counters: %s\n",
			grp->svc->name, strerror(errno));
		close(st->sockarray_fd);
		free(st);
		return NULL;
	}
	grp->priv = st;
	return st;
}

/* Start the counters afresh (for new rules: rule counters are by rule
 * number). Increments of the previous generation still running on
 * another CPU may land after this; they are few and of the old rules. */
static int counters_reset(struct ebpf_state *st)
{
	int ncpus = libbpf_num_possible_cpus();
	__u32 zero = 0;
	void *buf;
	int err;

	if (ncpus < 0)
		return ncpus;
	buf = calloc((size_t)ncpus, sizeof(struct sks_counters));
	if (!buf)
		return -ENOMEM;
	err = bpf_map_update_elem(st->counters_fd, &zero, buf, BPF_ANY) ?
		      -errno :
		      0;
	free(buf);
	return err;
}

/* Every open socket in the sockarray under its key. */
static int sockarray_sync(struct sksteer_group *grp, struct ebpf_state *st)
{
	unsigned int i;

	for (i = 0; i < grp->nsocks; i++) {
		struct sk_gsock *s = grp->order[i];
		__u64 fd = (__u64)s->fd;

		if (s->in_array)
			continue;
		if (bpf_map_update_elem(st->sockarray_fd, &s->slot, &fd,
					BPF_ANY)) {
			int err = -errno;

			sk_warn("service '%s': pool '%s' socket %u: adding it to "
				"the eBPF socket array: %s\n",
				grp->svc->name, grp->svc->pools[s->pool].name,
				s->idx, strerror(-err));
			return err;
		}
		s->in_array = true;
	}
	return 0;
}

/* Requests migrating off a closing listener stay in its pool: the
 * program finds the pool by the listener's socket cookie. */
static int cookies_fill(const struct sksteer_group *grp,
			const struct sk_ebpf *gen)
{
	unsigned int i;

	for (i = 0; i < grp->nsocks; i++) {
		const struct sk_gsock *s = grp->order[i];
		socklen_t len = sizeof(__u64);
		__u64 cookie;
		__u32 pool = s->pool;

		/* a socket of a pool the new configuration dropped: its
		 * requests have no pool to go to */
		if (pool == SK_NO_POOL)
			continue;
		if (getsockopt(s->fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) ||
		    bpf_map_update_elem(sk_ebpf_cookie_fd(gen), &cookie, &pool,
					BPF_ANY))
			return -errno;
	}
	return 0;
}

/* The rules and pools, to decide whether counters carry over. */
static char *signature(const struct sksteer_service *svc)
{
	size_t i, len = 1;
	char *sig, *p;

	for (i = 0; i < svc->nrules; i++)
		len += strlen(svc->rules[i].text) + 1;
	for (i = 0; i < svc->npools; i++)
		len += strlen(svc->pools[i].name) + 1;
	sig = p = malloc(len);
	if (!sig)
		return NULL;
	for (i = 0; i < svc->nrules; i++)
		p += sprintf(p, "%s\n", svc->rules[i].text);
	for (i = 0; i < svc->npools; i++)
		p += sprintf(p, "%s\n", svc->pools[i].name);
	*p = '\0';
	return sig;
}

/* ---- pinning ---- */

static int pin_file(const char *dir, const char *name, char *buf, size_t sz)
{
	int n = snprintf(buf, sz, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= sz ? -ENAMETOOLONG : 0;
}

static void unpin_dir(const char *dir);

/*
 * Claims, moves and removals of pin directories are serialised by an
 * flock(2) on the directory above them (between sksteer processes): from
 * "the owner of this directory is dead" to removing it, and from "nobody
 * holds this name" to pinning a meta there, no other group can claim the
 * name or take it away. Returns the lock (close() releases it) or a
 * negative errno; the directory above must exist.
 */
static int lock_parent(const char *dir)
{
	char parent[PATH_MAX], *slash;
	size_t n;
	int fd;

	if (snprintf(parent, sizeof(parent), "%s", dir) >= (int)sizeof(parent))
		return -ENAMETOOLONG;
	n = strlen(parent);
	while (n > 1 && parent[n - 1] == '/')
		parent[--n] = '\0';
	slash = strrchr(parent, '/');
	if (!slash)
		snprintf(parent, sizeof(parent), ".");
	else
		slash[slash == parent] = '\0';
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * rmdir the directories above @path up to @made (which this group
 * created), stopping at the first that is not empty: another group may
 * pin beside ours.
 */
static void rm_made(const char *path, const char *made)
{
	char tmp[PATH_MAX], *slash;
	size_t nm;

	if (!made || snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return;
	nm = strlen(made);
	while ((slash = strrchr(tmp, '/')) && slash != tmp) {
		*slash = '\0';
		if (strlen(tmp) < nm || strncmp(tmp, made, nm) ||
		    (tmp[nm] && tmp[nm] != '/') || rmdir(tmp))
			return;
	}
}

static void unpin(struct sksteer_group *grp)
{
	int lock;

	if (!grp->pin_path)
		return;
	/* without the lock when it cannot be had: the group's own pins go
	 * in any case */
	lock = lock_parent(grp->pin_path);
	unpin_dir(grp->pin_path);
	if (lock >= 0)
		close(lock);
	rm_made(grp->pin_path, ((struct ebpf_state *)grp->priv)->made_above);
}

#define BPFFS_DEFAULT "/sys/fs/bpf"

/*
 * Pins live on a bpffs. Like bpftool, mount one on /sys/fs/bpf when the
 * pin path is there and nothing is mounted yet (systemd normally does it,
 * minimal systems and containers may not); anywhere else the path must
 * already be on a bpffs.
 */
static int ensure_bpffs(const char *path)
{
	char dir[PATH_MAX], *slash;
	struct statfs sfs;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	/* the deepest part of the path that exists */
	while (statfs(dir, &sfs)) {
		slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			return -errno;
		*slash = '\0';
	}
	if (sfs.f_type == BPF_FS_MAGIC)
		return 0;
	/* EMEDIUMTYPE: a file system of the wrong type, not a failure */
	if (strncmp(path, BPFFS_DEFAULT "/", strlen(BPFFS_DEFAULT) + 1) ||
	    strcmp(dir, BPFFS_DEFAULT))
		return -EMEDIUMTYPE;
	if (mount("bpf", BPFFS_DEFAULT, "bpf", 0, "mode=0700"))
		return -errno;
	sk_info("mounted a bpffs on %s for the counters of running groups\n",
		BPFFS_DEFAULT);
	return 0;
}

/* mkdir -p of the directories above @dir; the first one created in
 * *@made (when @made and none is recorded yet) */
static int make_parents(const char *dir, char **made)
{
	char tmp[PATH_MAX], *p;

	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755)) {
			if (errno != EEXIST)
				return -errno;
		} else if (made && !*made) {
			*made = strdup(tmp);
		}
		*p = '/';
	}
	return 0;
}

/* mkdir -p with owner-only permissions for the last component */
static int make_pin_dir(const char *dir)
{
	int err = make_parents(dir, NULL);

	if (err)
		return err;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	return chmod(dir, 0700) ? -errno : 0;
}

static int pin_one(int fd, const char *dir, const char *name)
{
	char path[PATH_MAX];
	int err;

	err = pin_file(dir, name, path, sizeof(path));
	if (err)
		return err;
	if (bpf_obj_pin(fd, path) || chmod(path, 0600))
		return -errno;
	return 0;
}

static int write_meta(struct sksteer_group *grp, struct ebpf_state *st,
		      const struct sk_gsock *leaving)
{
	const struct sksteer_service *svc = grp->svc;
	struct sk_meta *m;
	size_t i, off = 0;
	__u32 zero = 0;
	int err;

	if (st->meta_fd < 0) {
		st->meta_fd =
			bpf_map_create(BPF_MAP_TYPE_ARRAY, "sksteer_meta",
				       sizeof(__u32), sizeof(*m), 1, NULL);
		if (st->meta_fd < 0)
			return -errno;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->magic = SK_META_MAGIC;
	m->version = SK_META_VERSION;
	m->pid = getpid();
	m->start_time = sk_proc_start_time(m->pid);
	m->backend = SKSTEER_BACKEND_EBPF;
	m->generation = st->generation;
	m->loaded_at = (uint64_t)time(NULL);
	m->counters_since = st->counters_since;
	m->nrules = (uint32_t)svc->nrules;
	m->npools = (uint32_t)svc->npools;
	snprintf(m->service, sizeof(m->service), "%s", svc->name);
	snprintf(m->config, sizeof(m->config), "%s",
		 svc->cfg && svc->cfg->path ? svc->cfg->path : "");
	for (i = 0; i < svc->npools && i < SKS_MAX_POOLS; i++) {
		unsigned int j;

		snprintf(m->pool_names[i], SK_META_NAME, "%s",
			 svc->pools[i].name);
		for (j = 0; j < grp->pools[i].filled; j++)
			m->pool_sockets[i] += grp->pools[i].socks[j]->fd >= 0 &&
					      grp->pools[i].socks[j] != leaving;
	}
	for (i = 0; i < svc->nrules && i < SKS_MAX_RULES; i++) {
		size_t n = strlen(svc->rules[i].text) + 1;

		m->rule_text_off[i] = (uint32_t)off;
		if (off + n > sizeof(m->text))
			n = 0; /* out of room: the rule shows as "" */
		memcpy(m->text + off, svc->rules[i].text, n);
		off += n;
	}
	err = bpf_map_update_elem(st->meta_fd, &zero, m, BPF_ANY) ? -errno : 0;
	free(m);
	return err;
}

static void unpin_dir(const char *dir)
{
	char path[PATH_MAX];

	if (!pin_file(dir, "counters", path, sizeof(path)))
		unlink(path);
	if (!pin_file(dir, "meta", path, sizeof(path)))
		unlink(path);
	rmdir(dir);
}

/*
 * Make pin directory @dir free for the group: -EBUSY when a live process
 * owns it (this one included), and what a process that exited left is
 * removed.
 */
static int pin_free(const struct sksteer_group *grp, const char *dir)
{
	char path[PATH_MAX];
	struct sk_meta *m;
	int fd, err;
	__u32 zero = 0;

	err = pin_file(dir, "meta", path, sizeof(path));
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	m = calloc(1, sizeof(*m));
	if (m && !bpf_map_lookup_elem(fd, &zero, m) &&
	    m->magic == SK_META_MAGIC && sk_meta_live(m)) {
		if (m->pid == getpid())
			sk_warn("service '%s': this process already runs a "
				"group pinned at %s\n",
				grp->svc->name, dir);
		else
			sk_warn("service '%s': %s belongs to running process "
				"%d: is the service already running?\n",
				grp->svc->name, dir, m->pid);
		free(m);
		close(fd);
		return -EBUSY;
	}
	free(m);
	close(fd);
	sk_info("service '%s': removing %s left by a process that exited\n",
		grp->svc->name, dir);
	unpin_dir(dir);
	return 0;
}

static int pin_claim_locked(struct sksteer_group *grp);

/*
 * Claim the pin directory: refuse when a live process owns it, take over
 * what a dead one left.
 */
static int pin_claim(struct sksteer_group *grp)
{
	struct ebpf_state *st;
	int err, lock;

	err = ensure_bpffs(grp->pin_path);
	if (err == -EMEDIUMTYPE) {
		sk_warn("service '%s': its pins would go to %s, which is not "
			"on a bpffs: mount one there (mount -t bpf bpf DIR), "
			"or pin under %s\n",
			grp->svc->name, grp->pin_path, BPFFS_DEFAULT);
		return err;
	}
	if (err) {
		sk_warn("service '%s': %s is not on a bpffs, and mounting one "
			"on %s failed: %s\n",
			grp->svc->name, grp->pin_path, BPFFS_DEFAULT,
			strerror(-err));
		return err;
	}
	st = state(grp);
	if (!st)
		return -ENOMEM;
	err = make_parents(grp->pin_path, &st->made_above);
	lock = err ? err : lock_parent(grp->pin_path);
	if (lock < 0) {
		sk_warn("service '%s': creating the directories above %s: %s\n",
			grp->svc->name, grp->pin_path, strerror(-lock));
		rm_made(grp->pin_path, st->made_above);
		return lock;
	}
	err = pin_claim_locked(grp);
	close(lock);
	if (err)
		rm_made(grp->pin_path, st->made_above);
	return err;
}

/* pin_claim() with the directory above locked */
static int pin_claim_locked(struct sksteer_group *grp)
{
	struct ebpf_state *st;
	int err;

	err = pin_free(grp, grp->pin_path);
	if (err)
		return err;
	err = make_pin_dir(grp->pin_path);
	if (err) {
		sk_warn("service '%s': creating %s: %s\n", grp->svc->name,
			grp->pin_path, strerror(-err));
		return err;
	}
	/*
	 * The claim itself: pinning fails with EEXIST when the name exists,
	 * so of two processes that both got here, one wins. The meta says
	 * who from now on, before any socket exists.
	 */
	st = state(grp);
	if (!st)
		return -ENOMEM;
	err = write_meta(grp, st, NULL);
	if (!err)
		err = pin_one(st->meta_fd, grp->pin_path, "meta");
	if (err == -EEXIST) {
		sk_warn("service '%s': %s was claimed by another process "
			"starting at the same time\n",
			grp->svc->name, grp->pin_path);
		return -EBUSY;
	}
	if (err) {
		sk_warn("service '%s': pinning under %s: %s\n", grp->svc->name,
			grp->pin_path, strerror(-err));
		return err;
	}
	st->claimed = true;
	return 0;
}

/* Publish the current generation's counters and description (the
 * directory was claimed when the group was created). */
static void pin_update(struct sksteer_group *grp, struct ebpf_state *st,
		       const struct sk_gsock *leaving)
{
	int err;

	if (!grp->pin_path)
		return;
	err = write_meta(grp, st, leaving);
	if (!err && !st->pinned)
		err = pin_one(st->counters_fd, grp->pin_path, "counters");
	if (err) {
		sk_warn("service '%s': pinning under %s: %s (sksteer stats "
			"will not see this group)\n",
			grp->svc->name, grp->pin_path, strerror(-err));
		return;
	}
	st->pinned = true;
}

/* ---- the backend ---- */

/* Load a generation for the group without @leaving and attach it. */
static int install(struct sksteer_group *grp, const struct sk_gsock *leaving)
{
	struct ebpf_state *st = state(grp);
	struct sk_ebpf_shared shared = { -1, -1, grp->nsocks };
	struct sk_ebpf *gen;
	struct sk_layout lay;
	char *sig;
	int err, prog_fd, fd;

	if (!st)
		return -ENOMEM;
	err = sockarray_sync(grp, st);
	if (err)
		return err;
	sig = signature(grp->svc);
	if (!sig)
		return -ENOMEM;
	shared.sockarray_fd = st->sockarray_fd;
	shared.counters_fd = st->counters_fd;
	err = sk_group_layout(grp, leaving, false, true, &lay);
	if (err)
		goto err_free_sig;
	gen = sk_ebpf_load(grp->svc, &lay, &shared);
	sk_layout_free(&lay);
	if (!gen) {
		err = -errno;
		goto err_free_sig;
	}
	err = cookies_fill(grp, gen);
	if (err) {
		sk_warn("service '%s': filling the socket cookie map: %s\n",
			grp->svc->name, strerror(-err));
		goto err_free_gen;
	}
	prog_fd = sk_ebpf_prog_fd(gen);
	fd = sk_group_any_fd(grp);
	/* reuseport_attach_prog() publishes the program with
	 * rcu_assign_pointer(): every packet runs the old generation or
	 * this one */
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog_fd,
		       sizeof(prog_fd))) {
		err = -errno;
		sk_warn("service '%s': attaching the eBPF program with "
			"SO_ATTACH_REUSEPORT_EBPF: %s\n",
			grp->svc->name, strerror(-err));
		goto err_free_gen;
	}
	/* counters keep counting across a reload that keeps the rules and
	 * pools (a changed prefix file); other reloads start them afresh */
	if (!st->counters_sig || strcmp(sig, st->counters_sig)) {
		if (st->counters_sig && counters_reset(st))
			sk_warn("service '%s': resetting the counters failed: "
				"rule counters still count the old rules\n",
				grp->svc->name);
		st->counters_since = (uint64_t)time(NULL);
	}
	sk_ebpf_free(st->gen);
	st->gen = gen;
	free(st->counters_sig);
	st->counters_sig = sig;
	st->generation++;
	pin_update(grp, st, leaving);
	sk_debug("service '%s': eBPF generation %llu attached (%zu bytes of "
		 "tables, %u sockets)\n",
		 grp->svc->name, (unsigned long long)st->generation,
		 sk_ebpf_table_bytes(gen), grp->nsocks - (leaving ? 1 : 0));
	return 0;

err_free_gen:
	sk_ebpf_free(gen);
err_free_sig:
	free(sig);
	return err;
}

static int ebpf_attach(struct sksteer_group *grp)
{
	return install(grp, NULL);
}

static int ebpf_remove(struct sksteer_group *grp, struct sk_gsock *s)
{
	int err = install(grp, s);

	if (err) {
		sk_warn("service '%s': not closing socket %u of pool '%s': "
			"nothing was changed\n",
			grp->svc->name, s->idx, grp->svc->pools[s->pool].name);
		return err;
	}
	/* the attached generation no longer selects it */
	sk_group_drop(grp, s);
	return 0;
}

static void ebpf_detach(struct sksteer_group *grp)
{
	struct ebpf_state *st = grp->priv;
	int fd = sk_group_any_fd(grp), unused = 0;

	if (!st)
		return;
	/* only a directory this group claimed: a group refused because the
	 * service already runs must not unpin the running one */
	if (st->claimed)
		unpin(grp);
	if (fd >= 0 && st->gen && grp->attached)
		setsockopt(fd, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &unused,
			   sizeof(unused));
	sk_ebpf_free(st->gen);
	free(st->made_above);
	if (st->meta_fd >= 0)
		close(st->meta_fd);
	close(st->counters_fd);
	close(st->sockarray_fd);
	free(st->counters_sig);
	free(st);
	grp->priv = NULL;
}

int sk_group_ebpf_claim(struct sksteer_group *grp)
{
	return grp->pin_path ? pin_claim(grp) : 0;
}

/* Is one of the paths @a (@na bytes) and @b (@nb) a directory above the
 * other? (Written the same way: a path is not resolved here.) */
static bool path_nested(const char *a, size_t na, const char *b, size_t nb)
{
	size_t n = na < nb ? na : nb;

	return !strncmp(a, b, n) && na != nb &&
	       (na < nb ? b[na] : a[nb]) == '/';
}

/*
 * Move the pins to @dir with one rename(2): the directory is at the old
 * path or the new one. RENAME_NOREPLACE, so that a directory another
 * group creates meanwhile (empty until it pins its meta) is never
 * replaced: one of the two fails with EEXIST.
 */
int sk_group_ebpf_move_pins(struct sksteer_group *grp, const char *dir)
{
	size_t n = strlen(dir), no = strlen(grp->pin_path);
	struct ebpf_state *st = grp->priv;
	char *copy, *made = NULL;
	int err, tries, lock;

	/* "a/b/" is "a/b" */
	while (n > 1 && dir[n - 1] == '/')
		n--;
	while (no > 1 && grp->pin_path[no - 1] == '/')
		no--;
	if (n == no && !strncmp(dir, grp->pin_path, n))
		return 0;
	if (path_nested(dir, n, grp->pin_path, no)) {
		sk_warn("service '%s': cannot move %s to %.*s: one is inside "
			"the other\n",
			grp->svc->name, grp->pin_path, (int)n, dir);
		return -EINVAL;
	}
	copy = strndup(dir, n);
	if (!copy)
		return -ENOMEM;
	err = make_parents(copy, &made);
	lock = err ? err : lock_parent(copy);
	err = lock < 0 ? lock : 0;
	/* a second try after a directory a dead process left is removed */
	for (tries = 0; !err && tries < 2; tries++) {
		err = pin_free(grp, copy);
		if (!err && renameat2(AT_FDCWD, grp->pin_path, AT_FDCWD, copy,
				      RENAME_NOREPLACE))
			err = -errno;
		if (err != -EEXIST && err != -ENOTEMPTY)
			break;
	}
	if (lock >= 0)
		close(lock);
	if (err == -EEXIST || err == -ENOTEMPTY) {
		/* there, but no group's (pin_free() found no meta) */
		sk_warn("service '%s': %s exists and holds no running group's "
			"pins (left over? remove it)\n",
			grp->svc->name, copy);
		err = -EEXIST;
	} else if (err && err != -EBUSY) {
		sk_warn("service '%s': moving %s to %s: %s%s\n", grp->svc->name,
			grp->pin_path, copy, strerror(-err),
			err == -EXDEV ? " (not on the same bpffs)" : "");
	}
	if (err) {
		rm_made(copy, made);
		free(made);
		free(copy);
		return err;
	}
	/* the directories made for the old path go with it, when empty */
	if (st) {
		rm_made(grp->pin_path, st->made_above);
		free(st->made_above);
		st->made_above = made;
	} else {
		free(made);
	}
	free(grp->pin_path);
	grp->pin_path = copy;
	return 0;
}

int sk_group_ebpf_prog_fd(const struct sksteer_group *grp)
{
	const struct ebpf_state *st = grp->priv;

	return st && st->gen ? sk_ebpf_prog_fd(st->gen) : -ENOENT;
}

const struct sk_backend_ops sk_ebpf_ops = {
	.kind = SKSTEER_BACKEND_EBPF,
	.name = "ebpf",
	.attach = ebpf_attach,
	.remove = ebpf_remove,
	.detach = ebpf_detach,
};
