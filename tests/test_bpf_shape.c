// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The shape of the compiled eBPF programs, checked on the host for the
 * oldest kernel sksteer serves, so that a change of the source or of clang
 * that only an old kernel would refuse fails here and not in the field.
 *
 * Linux 6.1's check_cfg() walks the control-flow graph depth first before
 * it verifies anything. An edge back to an instruction still on the walk
 * (a loop's closing edge) is allowed for a privileged loader only when it
 * leaves a jump (conditional or goto): the fall-through of any other
 * instruction, a helper call included, is refused with "back-edge from
 * insn N to M". 6.7 lifted that, so newer kernels load what 6.1 refuses
 * whenever clang places a loop's head right after the last block of its
 * body. This walks each function of the objects the skeletons embed by
 * that rule (the rule restated here, not the kernel's code).
 */
#include <gelf.h>
#include <libelf.h>
#include <string.h>

#include "testlib.h"
#include "../bpf/sksteer_maps.h"
#include "../bpf/sksteer.skel.h"
#include "../bpf/baseline.skel.h"
#include "../bpf/lpm.skel.h"

enum { UNSEEN, ON_WALK, DONE };

struct edge {
	long to;
	bool loop_ok; /* the edge leaves a jump */
};

/* The edges out of instruction @t of @n: 0, 1 or 2 of them. */
static int edges(const struct bpf_insn *in, long n, long t, struct edge *e)
{
	__u8 cls = BPF_CLASS(in[t].code), op = BPF_OP(in[t].code);

	if (cls != BPF_JMP && cls != BPF_JMP32) {
		/* ld_imm64 is two instructions */
		bool wide = in[t].code == (BPF_LD | BPF_IMM | BPF_DW);

		e[0] = (struct edge){ t + (wide ? 2 : 1), false };
		return t + 1 < n ? 1 : 0;
	}
	if (op == BPF_EXIT)
		return 0;
	if (op == BPF_CALL) {
		/* a call to another function: only its return is an edge
		 * of this one */
		e[0] = (struct edge){ t + 1, false };
		return 1;
	}
	if (op == BPF_JA && cls == BPF_JMP) {
		e[0] = (struct edge){ t + in[t].off + 1, true };
		return 1;
	}
	e[0] = (struct edge){ t + 1, true };
	e[1] = (struct edge){ t + in[t].off + 1, true };
	return 2;
}

/* Walk function @name, @n instructions at @in; fail for every edge 6.1
 * would refuse. */
static void walk(const char *obj, const char *name, const struct bpf_insn *in,
		 long n)
{
	unsigned char *state = calloc((size_t)n, 1);
	long *stack = calloc((size_t)n, sizeof(*stack));
	int *next = calloc((size_t)n, sizeof(*next));
	long sp = 0;

	ASSERT(state && stack && next, "out of memory");
	stack[sp++] = 0;
	state[0] = ON_WALK;
	while (sp) {
		long t = stack[sp - 1];
		struct edge e[2];
		int ne = edges(in, n, t, e);

		if (next[t] == ne) {
			state[t] = DONE;
			sp--;
			continue;
		}
		struct edge *x = &e[next[t]++];

		if (x->to < 0 || x->to >= n) {
			tl_fail(__FILE__, __LINE__,
				"%s: %s: jump out of range from insn %ld", obj,
				name, t);
		} else if (state[x->to] == UNSEEN) {
			state[x->to] = ON_WALK;
			stack[sp++] = x->to;
		} else if (state[x->to] == ON_WALK && !x->loop_ok) {
			tl_fail(__FILE__, __LINE__,
				"%s: %s: back-edge from insn %ld to %ld (the "
				"fall-through of a non-jump closes a loop: "
				"Linux 6.1 refuses it)",
				obj, name, t, x->to);
		}
	}
	free(state);
	free(stack);
	free(next);
}

/* Every function symbol of every executable section of ELF @buf. */
static void check_object(const char *obj, const void *buf, size_t sz)
{
	Elf_Scn *scn = NULL, *symscn = NULL;
	GElf_Shdr sh, symsh;
	Elf *elf;
	size_t i, nsyms, nfuncs = 0;

	ASSERT(elf_version(EV_CURRENT) != EV_NONE, "libelf");
	elf = elf_memory((char *)buf, sz);
	ASSERT(elf, "%s: not an ELF object: %s", obj, elf_errmsg(-1));
	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB)
			symscn = scn;
	ASSERT(symscn && gelf_getshdr(symscn, &symsh), "%s: no symbols", obj);
	Elf_Data *syms = elf_getdata(symscn, NULL);

	nsyms = symsh.sh_size / symsh.sh_entsize;
	for (i = 0; i < nsyms; i++) {
		GElf_Sym sym;
		Elf_Data *d;

		if (!gelf_getsym(syms, (int)i, &sym) ||
		    GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_size)
			continue;
		scn = elf_getscn(elf, sym.st_shndx);
		if (!scn || !gelf_getshdr(scn, &sh) ||
		    !(sh.sh_flags & SHF_EXECINSTR))
			continue;
		d = elf_getdata(scn, NULL);
		ASSERT(d && sym.st_value + sym.st_size <= d->d_size,
		       "%s: function data", obj);
		walk(obj, elf_strptr(elf, symsh.sh_link, sym.st_name),
		     (const struct bpf_insn *)((const char *)d->d_buf +
					       sym.st_value),
		     (long)(sym.st_size / sizeof(struct bpf_insn)));
		nfuncs++;
	}
	elf_end(elf);
	CHECK(nfuncs, "%s: no functions found", obj);
}

TEST(sksteer_loops_close_with_jumps)
{
	size_t sz;
	const void *buf = sksteer_bpf__elf_bytes(&sz);

	check_object("sksteer.bpf.o", buf, sz);
}

TEST(bench_programs_loops_close_with_jumps)
{
	size_t sz;
	const void *buf = baseline_bpf__elf_bytes(&sz);

	check_object("baseline.bpf.o", buf, sz);
	buf = lpm_bpf__elf_bytes(&sz);
	check_object("lpm.bpf.o", buf, sz);
}
