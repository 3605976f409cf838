// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sksteer run -j: standard output holds one JSON document and nothing
 * else (the workers' standard output goes to standard error), the final
 * report says when workers had to be killed, and a start that fails says
 * why in the error object.
 */
#include "run_util.h"

#define PORT 8080

static const char conf_one[] = "service one {\n"
			       "    listen tcp 0.0.0.0:8080\n"
			       "    backend cbpf\n"
			       "    pool a 2\n"
			       "}\n";

struct split {
	struct ru_sup s;
	char out[400]; /* its standard output */
};

/* ru_start(), with standard output apart from the log (stderr). */
static void start_split(struct split *sp, const char *name,
			const char *const *args, const char *const *cmd)
{
	const char *argv[64];
	char confp[400];
	int n = 0, fd;

	snprintf(sp->s.name, sizeof(sp->s.name), "%s", name);
	snprintf(sp->s.log, sizeof(sp->s.log), "%s/%s.log", ru_dir, name);
	snprintf(sp->out, sizeof(sp->out), "%s/%s.out", ru_dir, name);
	snprintf(confp, sizeof(confp), "%s/one.conf", ru_dir);
	argv[n++] = ru_sk;
	argv[n++] = "run";
	argv[n++] = "-j";
	argv[n++] = "--name";
	argv[n++] = name;
	argv[n++] = "--runtime-dir";
	argv[n++] = ru_dir;
	argv[n++] = "--pin-root";
	argv[n++] = ru_pin;
	for (; args && *args; args++)
		argv[n++] = *args;
	argv[n++] = confp;
	argv[n++] = "--";
	for (; *cmd; cmd++)
		argv[n++] = *cmd;
	argv[n] = NULL;
	fflush(stdout);
	fflush(stderr);
	sp->s.pid = fork();
	ASSERT(sp->s.pid >= 0, "fork");
	if (sp->s.pid == 0) {
		fd = open(sp->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		fd = open(sp->s.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 2);
		close_range(3, ~0U, 0);
		execv(ru_sk, (char *const *)argv);
		_exit(127);
	}
}

/* python3 @code with d = the JSON document in @path: true when it
 * parses and the code runs without an exception. */
static bool pyj(const char *path, const char *code)
{
	char cmd[1200];

	ru_write("check.py",
		 "import json, sys\nd = json.load(open(sys.argv[1]))\n%s\n",
		 code);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s/check.py' '%s' >&2",
		 ru_dir, path);
	return system(cmd) == 0;
}

static void setup(void)
{
	tl_enter_netns();
	ru_init();
	if (access("/usr/bin/python3", X_OK))
		SKIP("no /usr/bin/python3 to parse the JSON");
	ru_write("one.conf", "%s", conf_one);
}

/*
 * What the workers print goes to standard error: standard output is the
 * JSON document alone, which python3 -m json.tool accepts.
 */
TEST(run_json_stdout)
{
	char cmd0[700], *log, *out, check[1200];
	const char *cmd[] = { "/bin/sh", "-c", cmd0, NULL };
	struct split sp;
	int st;

	setup();
	snprintf(
		cmd0, sizeof(cmd0),
		"echo from-the-worker-stdout; echo from-the-worker-stderr >&2; "
		"exec '%s' -v",
		ru_worker);
	start_split(&sp, "one", NULL, cmd);
	ru_ready(&sp.s);
	ASSERT(ru_wait_log(&sp.s, "from-the-worker-stdout", 2, 3000),
	       "the workers' standard output is not on standard error");
	st = ru_stop(&sp.s, SIGTERM, 5000);
	CHECK(st == 0, "exit status %#x", st);
	out = ru_slurp(sp.out);
	CHECK(!strstr(out, "from-the-worker"), "a worker wrote on stdout: %s",
	      out);
	snprintf(check, sizeof(check), "/usr/bin/python3 -m json.tool '%s' >&2",
		 sp.out);
	CHECK(system(check) == 0, "stdout is not one JSON document: %s", out);
	CHECK(pyj(sp.out, "assert d['name'] == 'one', d\n"
			  "assert d['stopped_by'] == 'TERM', d\n"
			  "assert d['killed'] is False, d\n"
			  "assert d['restarts'] == 0, d"),
	      "the report: %s", out);
	free(out);
	log = ru_slurp(sp.s.log);
	CHECK(ru_count(log, "from-the-worker-stderr") == 2, "stderr: %s", log);
	free(log);
	if (tl_failed())
		ru_dump_log(&sp.s);
}

/* Workers killed with SIGKILL: exit status 1, and the report says so. */
TEST(run_json_killed)
{
	const char *const stubborn[] = {
		"/bin/sh", "-c",
		"trap '' TERM INT; echo stubborn-ready >&2; "
		"while :; do sleep 0.1; done",
		NULL
	};
	const char *const fast_stop[] = { "--stop-timeout", "0.3", NULL };
	struct split sp;
	char *out;
	int st;

	setup();
	start_split(&sp, "one", fast_stop, stubborn);
	ru_ready(&sp.s);
	ASSERT(ru_wait_children(sp.s.pid, 2, 3000), "not 2 workers");
	/* the workers ignore SIGTERM only once their trap is set */
	ASSERT(ru_wait_log(&sp.s, "stubborn-ready", 2, 3000),
	       "not 2 workers ready");
	st = ru_stop(&sp.s, SIGTERM, 5000);
	CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
	      "exit status %#x", st);
	out = ru_slurp(sp.out);
	CHECK(pyj(sp.out, "assert d['killed'] is True, d\n"
			  "assert d['name'] == 'one', d\n"
			  "assert 'error' not in d, d"),
	      "the report: %s", out);
	free(out);
	if (tl_failed())
		ru_dump_log(&sp.s);
}

/* A worker that cannot start: the error object says which and why. */
TEST(run_json_start_failure)
{
	const char *const missing[] = { "/nonexistent/worker", NULL };
	struct split sp;
	char *out;
	int st;

	setup();
	start_split(&sp, "one", NULL, missing);
	st = ru_wait_exit(&sp.s, 3000);
	CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
	      "exit status %#x", st);
	out = ru_slurp(sp.out);
	CHECK(pyj(sp.out,
		  "want = '/nonexistent/worker: No such file or directory'\n"
		  "assert want in d['error'], d\n"
		  "assert 'one/a[0]' in d['error'], d\n"
		  "assert any(want in m for m in d['messages']), d"),
	      "the error object: %s", out);
	free(out);
	if (tl_failed())
		ru_dump_log(&sp.s);
}
