/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a running eBPF group exposes under its bpffs pin directory, for
 * `sksteer stats` (src/stats.c reads it, src/group_ebpf.c writes it):
 *   <dir>/meta      array map, one entry: struct sk_meta
 *   <dir>/counters  per-CPU array map, one entry: struct sks_counters
 * The directory is mode 0700 and the pins 0600: the counters and the
 * rules are the owner's business. The group removes them when it is
 * freed, and sksteer_group__set_pin_path() moves the directory with one
 * rename(2) (a renamed service); a directory left by a process that died
 * is recognised by its pid and start time and replaced by the next group
 * of that name. Claims, moves and removals hold an flock(2) on the
 * directory above, so that of groups starting under one name at once
 * exactly one wins and keeps its pins.
 */
#ifndef __SKSTEER_PIN_H
#define __SKSTEER_PIN_H

#include "internal.h"
#include "../bpf/sksteer_maps.h"

#define SK_META_MAGIC	0x54534b53u /* "SKST" */
#define SK_META_VERSION 2
#define SK_META_NAME	65
#define SK_META_TEXT	32768

struct sk_meta {
	uint32_t magic;
	uint32_t version;
	int32_t pid;
	uint32_t backend;
	uint64_t generation; /* rule sets loaded so far */
	uint64_t loaded_at; /* unix time of the last load */
	uint64_t counters_since; /* unix time the counters started */
	/* the process's start, in clock ticks after boot (/proc/PID/stat):
	 * a pid alone may have been reused by now */
	uint64_t start_time;
	uint32_t nrules;
	uint32_t npools;
	char service[SK_META_NAME];
	char pad[7];
	char config[256];
	char pool_names[SKS_MAX_POOLS][SK_META_NAME];
	uint32_t pool_sockets[SKS_MAX_POOLS];
	uint32_t rule_text_off[SKS_MAX_RULES]; /* into text */
	char text[SK_META_TEXT];
};

/* @pid's start time, 0 when it cannot be read (no such process). */
SK_HIDDEN uint64_t sk_proc_start_time(int pid);
/* Is the process that wrote @m still running? */
SK_HIDDEN bool sk_meta_live(const struct sk_meta *m);

#endif
