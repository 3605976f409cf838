// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The default pin root of this process's network namespace (see
 * sksteer_pin_root() in include/sksteer.h and FILES in sksteer(8)).
 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include "internal.h"

/*
 * The initial network namespace's nsfs inode on kernels that give it a
 * fixed one (uapi NET_NS_INIT_INO). Elsewhere it is allocated from
 * 0xF0000000 up, so no other namespace can have this number: a match is
 * proof, no match proves nothing.
 */
#define SK_NET_NS_INIT_INO 0xEFFFFFF9u

static bool is_bpffs(const char *path)
{
	struct statfs sfs;

	return !statfs(path, &sfs) && sfs.f_type == BPF_FS_MAGIC;
}

int sksteer_pin_root(char *buf, size_t size)
{
	struct stat self, init;
	const char *base;
	bool initial;
	int n;

	if (!buf || !size)
		return -EINVAL;
	/* a namespace is its nsfs inode: unique while the namespace lives,
	 * the same seen from every mount namespace */
	if (stat("/proc/self/ns/net", &self))
		return -errno;
	/* /proc/1/ns/net needs ptrace access to PID 1 (root, and no LSM in
	 * the way); when it cannot be read and the inode is not the fixed
	 * one, the namespace counts as another one: its pins then go to a
	 * directory of their own, which is never wrong, only unusual */
	initial = self.st_ino == SK_NET_NS_INIT_INO ||
		  (!stat("/proc/1/ns/net", &init) &&
		   init.st_dev == self.st_dev && init.st_ino == self.st_ino);
	/*
	 * `ip netns exec` unshares the mount namespace and mounts a fresh
	 * sysfs on /sys for the network namespace: the bpffs that was on
	 * /sys/fs/bpf is not there, and one mounted there now would vanish
	 * with this mount namespace, out of reach of `sksteer stats` in the
	 * next `ip netns exec`. PID 1's root is the initial mount namespace's
	 * (the pid namespace is not changed), and its bpffs is shared by all.
	 */
	if (is_bpffs("/sys/fs/bpf"))
		base = "/sys/fs/bpf";
	else if (is_bpffs("/proc/1/root/sys/fs/bpf"))
		base = "/proc/1/root/sys/fs/bpf";
	else
		base = "/sys/fs/bpf"; /* where the group mounts one */
	if (initial)
		n = snprintf(buf, size, "%s/sksteer", base);
	else
		n = snprintf(buf, size, "%s/sksteer-netns/%llu", base,
			     (unsigned long long)self.st_ino);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}
