/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Private to libsksteer: socket groups and the steering backends behind
 * them. A backend is a small set of operations (struct sk_backend_ops);
 * the group code owns the sockets and mirrors the kernel's numbering, the
 * backend only steers.
 */
#ifndef __SKSTEER_GROUP_H
#define __SKSTEER_GROUP_H

#include "internal.h"

/* Sockets a group may have open at once: during an update the new
 * sockets are open before the ones going away are closed. */
#define SK_GROUP_MAX_OPEN (2 * SK_MAX_SOCKETS)

/* sk_gsock.pool of a socket no pool of the service holds (an update is
 * closing it) */
#define SK_NO_POOL (~0u)

/* One socket of the group, named by (pool, index in the pool). */
struct sk_gsock {
	int fd; /* -1: closed */
	unsigned int pool; /* index in svc->pools */
	unsigned int idx; /* index in the pool: a stable name */
	unsigned int pos; /* position in the kernel's group while open */
	unsigned int slot; /* eBPF: key in the group's sockarray */
	bool in_array; /* eBPF: inserted in the sockarray */
};

struct sk_gpool {
	struct sk_gsock **socks; /* by index; NULL above filled */
	unsigned int cap;
	unsigned int filled; /* indexes given out so far (in order) */
};

struct sksteer_group;

/*
 * A steering backend. Every operation leaves the group's bookkeeping
 * consistent with the kernel and reports problems through sk_warn().
 */
struct sk_backend_ops {
	enum sksteer_backend kind;
	const char *name;
	/*
	 * Steer the group as it is now (every socket has joined the
	 * kernel's group). Also called again to re-steer, e.g. to retry
	 * after a failed update. Replaces whatever was attached before.
	 */
	int (*attach)(struct sksteer_group *grp);
	/*
	 * Take open socket @s out of the group: make sure no new traffic is
	 * steered to it, close it with sk_group_drop() (which renumbers the
	 * group as the kernel does) and steer the rest. Refuse with -EBUSY,
	 * changing nothing, when the backend cannot steer the group without
	 * @s (a pool left empty with a fallback the backend cannot honour).
	 */
	int (*remove)(struct sksteer_group *grp, struct sk_gsock *s);
	/* Stop steering and free the backend's state (sockets stay open). */
	void (*detach)(struct sksteer_group *grp);
};

struct sksteer_group {
	const struct sksteer_service *svc;
	const struct sk_backend_ops *ops;
	void *priv; /* the backend's state */
	struct sk_gpool *pools;
	/* the kernel's group: position -> socket, for nsocks positions */
	struct sk_gsock **order; /* SK_GROUP_MAX_OPEN entries */
	/* eBPF: sockarray keys in use */
	uint8_t slot_used[SK_GROUP_MAX_OPEN];
	unsigned int nsocks; /* open sockets: the kernel's num_socks */
	unsigned int nfilled; /* sockets ever created or adopted */
	uint16_t port; /* host order; 0 while unknown */
	bool attached;
	char *pin_path; /* eBPF: where to pin state for sksteer stats */
	/* sockets an update took out but left open (defer_close): still
	 * members of the kernel's group, steered to by nothing, in no pool;
	 * sksteer_group__close_deferred() closes them */
	struct sk_gsock **deferred;
	unsigned int ndeferred;
};

extern const struct sk_backend_ops sk_ebpf_ops;
/* Claim the group's pin directory before any socket is created: -EBUSY
 * when a live process runs a group there. */
SK_HIDDEN int sk_group_ebpf_claim(struct sksteer_group *grp);
/* Move the group's pins to @dir (sksteer_group__set_pin_path). */
SK_HIDDEN int sk_group_ebpf_move_pins(struct sksteer_group *grp,
				      const char *dir);
/* fd of the attached eBPF program, or -ENOENT */
SK_HIDDEN int sk_group_ebpf_prog_fd(const struct sksteer_group *grp);

/*
 * The layout (per pool, the positions of its open sockets in index order)
 * of the group without @leaving (NULL: as it is). With @renumbered, the
 * positions are those the kernel gives once @leaving has closed: the
 * group's last socket takes its place. With @slots, the eBPF backend's
 * sockarray keys instead of positions.
 */
SK_HIDDEN int sk_group_layout(const struct sksteer_group *grp,
			      const struct sk_gsock *leaving, bool renumbered,
			      bool slots, struct sk_layout *out);
/* Close open socket @s and renumber the group as the kernel does. */
SK_HIDDEN void sk_group_drop(struct sksteer_group *grp, struct sk_gsock *s);
/*
 * The sockets the kernel keeps in one reuseport group: same family,
 * protocol, address, port, v6only and device. sk_diag_peers() counts
 * those of this network namespace whose inode is not in @own.
 */
struct sk_diag_peers {
	int family; /* AF_INET or AF_INET6 */
	int proto;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	uint16_t port; /* host order */
	bool v6only;
	uint32_t ifindex;
	const uint32_t *own; /* the group's socket inodes */
	size_t nown;
	/* results */
	unsigned int foreign; /* not ours */
	unsigned int own_seen;
	uint32_t ino, uid; /* the first foreign socket */
};

SK_HIDDEN int sk_diag_peers(struct sk_diag_peers *q);

/* Any open socket of the group (to reach the kernel's group), or -1. */
SK_HIDDEN int sk_group_any_fd(const struct sksteer_group *grp);

#endif /* __SKSTEER_GROUP_H */
