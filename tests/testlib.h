/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A small test harness. Every test runs in a child process of its own
 * (a crash or a hang fails one test, not the file) and prints one line:
 *   PASS <file>/<test>
 *   FAIL <file>/<test>: <why>
 *   SKIP <file>/<test>: <why>
 * tests/run.sh counts these lines. Privileged tests call tl_enter_netns()
 * first, which moves the child into a fresh network namespace (removed
 * by the kernel when the child exits, also on failure).
 */
#ifndef __SKSTEER_TESTLIB_H
#define __SKSTEER_TESTLIB_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

typedef void (*tl_fn)(void);

void tl_register(const char *name, tl_fn fn, int timeout_s);
int tl_main(int argc, char **argv);

/* Failure records: the test goes on (CHECK) or stops (ASSERT). */
void tl_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void tl_skip(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void tl_stop(void) __attribute__((noreturn));
bool tl_failed(void);

#define TEST_TIMEOUT(name, secs)                                     \
	static void name(void);                                      \
	__attribute__((constructor)) static void tl_reg_##name(void) \
	{                                                            \
		tl_register(#name, name, secs);                      \
	}                                                            \
	static void name(void)

#define TEST(name) TEST_TIMEOUT(name, 60)

#define CHECK(cond, ...)                                          \
	do {                                                      \
		if (!(cond))                                      \
			tl_fail(__FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

#define ASSERT(cond, ...)                                         \
	do {                                                      \
		if (!(cond)) {                                    \
			tl_fail(__FILE__, __LINE__, __VA_ARGS__); \
			tl_stop();                                \
		}                                                 \
	} while (0)

#define SKIP(...) tl_skip(__VA_ARGS__)

/*
 * How many times slower than a real machine this one is: the environment's
 * SKSTEER_TEST_SLOW (a whole number, default 1; the kernel matrix runs the
 * suite in an emulated machine with a larger one). Every time limit of the
 * tests is multiplied by it (TEST_TIMEOUT, and the waits of run_util.h),
 * so that the limits stay tight on a real machine.
 */
int tl_slow(void);

/* Environment helpers for privileged tests. */
bool tl_is_root(void);
/* unshare(CLONE_NEWNET) and bring lo up; skips the test when not root. */
void tl_enter_netns(void);
/* Run a shell command (iproute2 etc.); fails the test if it fails. */
void tl_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Collect library messages; tl_messages() returns them (reset by
 * tl_messages_reset()). Installed by tl_main. */
const char *tl_messages(void);
void tl_messages_reset(void);

#endif
