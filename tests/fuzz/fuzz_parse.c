// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Configuration text -> parser -> for every service: compile (for the
 * declared layout and one with closed sockets), check the program as the
 * kernel would, run it over packets derived from the input and compare
 * with the reference matcher. Aborts on a program the checker refuses, on
 * a refusal for no good reason, and on any disagreement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "gen.h"

static char dir[64];

static void put(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const files[] = { "a.txt",	  "b.txt",     "bad.txt",
				     "empty.txt", "range.txt", "rir.txt" };

static void cleanup(void)
{
	char path[128];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	sksteer_set_print(NULL);
	/* prefix files the inputs may name (relative to this directory) */
	snprintf(dir, sizeof(dir), "/dev/shm/sksteer-fuzz-parse-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	put("a.txt", "198.51.100.0/24\n# c\n2001:db8::/32\n203.0.113.128/25\n");
	put("b.txt", "198.51.100.7\n198.51.100.8/29\n::/0\n");
	put("bad.txt", "198.51.100.1/24\n");
	put("empty.txt", "# nothing\n");
	put("range.txt", "\xef\xbb\xbf"
			 "198.51.100.3-198.51.100.17 ; odd\r\n"
			 "2001:db8::5 - 2001:db8::1:0\r\nbad-line\r\n");
	put("rir.txt", "2|apnic|20240101|4|19830613|20240101|+1000\n"
		       "apnic|*|ipv4|*|2|summary\n"
		       "apnic|CN|ipv4|198.51.100.0|200|20110414|allocated\n"
		       "apnic|JP|ipv4|203.0.113.0|256|20110414|assigned|x\n"
		       "apnic|CN|ipv6|2001:db8::|48|20110414|allocated\n"
		       "apnic||ipv4|203.0.113.0|8||available\n");
	return 0;
}

/* A file name leaving the directory could name a FIFO or /dev/zero. */
static bool safe(const uint8_t *d, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		if (d[i] == '"' && (d[i + 1] == '/' || d[i + 1] == '.'))
			return false;
		if (d[i] == '.' && d[i + 1] == '.')
			return false;
	}
	return true;
}

static void fail(const char *text, const struct sksteer_service *svc,
		 const struct sk_layout *l, const struct sk_pkt *pkt, int kind,
		 const char *why)
{
	struct gen_buf b = {};

	gen_printf(&b,
		   "service '%s': %s: %s\n--- config ---\n%s\n--- layout ---\n",
		   svc->name, gen_fail_names[kind], why, text);
	gen_layout_fmt(l, &b);
	if (pkt) {
		gen_printf(&b, "\n--- packet ---\n");
		gen_pkt_fmt(pkt, 256, &b);
	}
	fprintf(stderr, "%s\n", b.s);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sksteer_parse_opts opts = { .sz = sizeof(opts),
					   .base_dir = dir };
	static struct gen_pkt g;
	struct sksteer_config *cfg;
	struct gen_rng r = { 0x9e3779b97f4a7c15ull };
	char *text;
	size_t i, s;

	if (size > 16384 || !safe(data, size))
		return 0;
	/* packets and layouts derived from the input */
	for (i = 0; i < size; i++)
		r.s = (r.s ^ data[i]) * 0x100000001b3ull;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	cfg = sksteer_config__parse_string(text, size, "fuzz.conf", &opts);
	for (s = 0; cfg && s < cfg->nservices; s++) {
		const struct sksteer_service *svc = &cfg->services[s];
		int li;

		for (li = 0; li < 2; li++) {
			struct sksteer_prog *prog = NULL;
			struct sk_layout l = {};
			char why[512];
			int k, rc, e;

			if (gen_layout(&r, svc,
				       li ? gen_below(&r, svc->nsockets) : 0,
				       &l))
				abort();
			rc = gen_compile(svc, &l, &prog, &e, why, sizeof(why));
			if (rc > 1)
				fail(text, svc, &l, NULL, rc, why);
			for (k = 0; !rc && k < 6; k++) {
				struct sk_match m;
				int f;

				gen_packet(&r, svc, 40, &g);
				f = gen_check(svc, &l, prog, &g.pkt, &m, why,
					      sizeof(why));
				if (f)
					fail(text, svc, &l, &g.pkt, f, why);
			}
			sksteer_prog__free(prog);
			sk_layout_free(&l);
		}
	}
	sksteer_config__free(cfg);
	free(text);
	return 0;
}
