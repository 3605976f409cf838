// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A classic BPF checker, interpreter and disassembler with the semantics a
 * reuseport program has in the kernel (net/core/sock_reuseport.c runs it
 * after pulling the transport header; net/core/filter.c converts it to
 * eBPF): absolute loads are relative to the payload, loads at SKF_NET_OFF
 * and above are relative to the network header, and a failed load or a
 * division by zero ends the program with return value 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MEMWORDS 16

static bool valid_code(uint16_t code)
{
	switch (code) {
	case BPF_ALU | BPF_ADD | BPF_K:
	case BPF_ALU | BPF_ADD | BPF_X:
	case BPF_ALU | BPF_SUB | BPF_K:
	case BPF_ALU | BPF_SUB | BPF_X:
	case BPF_ALU | BPF_MUL | BPF_K:
	case BPF_ALU | BPF_MUL | BPF_X:
	case BPF_ALU | BPF_DIV | BPF_K:
	case BPF_ALU | BPF_DIV | BPF_X:
	case BPF_ALU | BPF_MOD | BPF_K:
	case BPF_ALU | BPF_MOD | BPF_X:
	case BPF_ALU | BPF_AND | BPF_K:
	case BPF_ALU | BPF_AND | BPF_X:
	case BPF_ALU | BPF_OR | BPF_K:
	case BPF_ALU | BPF_OR | BPF_X:
	case BPF_ALU | BPF_XOR | BPF_K:
	case BPF_ALU | BPF_XOR | BPF_X:
	case BPF_ALU | BPF_LSH | BPF_K:
	case BPF_ALU | BPF_LSH | BPF_X:
	case BPF_ALU | BPF_RSH | BPF_K:
	case BPF_ALU | BPF_RSH | BPF_X:
	case BPF_ALU | BPF_NEG:
	case BPF_LD | BPF_W | BPF_ABS:
	case BPF_LD | BPF_H | BPF_ABS:
	case BPF_LD | BPF_B | BPF_ABS:
	case BPF_LD | BPF_W | BPF_LEN:
	case BPF_LD | BPF_W | BPF_IND:
	case BPF_LD | BPF_H | BPF_IND:
	case BPF_LD | BPF_B | BPF_IND:
	case BPF_LD | BPF_IMM:
	case BPF_LD | BPF_MEM:
	case BPF_LDX | BPF_W | BPF_LEN:
	case BPF_LDX | BPF_B | BPF_MSH:
	case BPF_LDX | BPF_IMM:
	case BPF_LDX | BPF_MEM:
	case BPF_ST:
	case BPF_STX:
	case BPF_MISC | BPF_TAX:
	case BPF_MISC | BPF_TXA:
	case BPF_RET | BPF_K:
	case BPF_RET | BPF_A:
	case BPF_JMP | BPF_JA:
	case BPF_JMP | BPF_JEQ | BPF_K:
	case BPF_JMP | BPF_JEQ | BPF_X:
	case BPF_JMP | BPF_JGE | BPF_K:
	case BPF_JMP | BPF_JGE | BPF_X:
	case BPF_JMP | BPF_JGT | BPF_K:
	case BPF_JMP | BPF_JGT | BPF_X:
	case BPF_JMP | BPF_JSET | BPF_K:
	case BPF_JMP | BPF_JSET | BPF_X:
		return true;
	}
	return false;
}

int sk_cbpf_validate(const struct sock_filter *f, size_t n, char *why,
		     size_t why_sz)
{
	uint16_t *valid; /* scratch words written on every path to here */
	size_t pc;
	int err = -EINVAL;

	if (n == 0 || n > SKSTEER_CBPF_MAX_INSNS) {
		snprintf(why, why_sz, "program length %zu is not 1-%d", n,
			 SKSTEER_CBPF_MAX_INSNS);
		return -EINVAL;
	}
	for (pc = 0; pc < n; pc++) {
		const struct sock_filter *i = &f[pc];

		if (!valid_code(i->code)) {
			snprintf(why, why_sz, "insn %zu: invalid opcode 0x%x",
				 pc, i->code);
			return -EINVAL;
		}
		switch (i->code) {
		case BPF_ALU | BPF_DIV | BPF_K:
		case BPF_ALU | BPF_MOD | BPF_K:
			if (!i->k) {
				snprintf(why, why_sz, "insn %zu: division by 0",
					 pc);
				return -EINVAL;
			}
			break;
		case BPF_ALU | BPF_LSH | BPF_K:
		case BPF_ALU | BPF_RSH | BPF_K:
			if (i->k >= 32) {
				snprintf(why, why_sz, "insn %zu: shift by %u",
					 pc, i->k);
				return -EINVAL;
			}
			break;
		case BPF_LD | BPF_MEM:
		case BPF_LDX | BPF_MEM:
		case BPF_ST:
		case BPF_STX:
			if (i->k >= MEMWORDS) {
				snprintf(
					why, why_sz,
					"insn %zu: scratch word %u out of range",
					pc, i->k);
				return -EINVAL;
			}
			break;
		case BPF_JMP | BPF_JA:
			if (i->k >= n - pc - 1) {
				snprintf(why, why_sz,
					 "insn %zu: jump out of range", pc);
				return -EINVAL;
			}
			break;
		case BPF_LD | BPF_W | BPF_ABS:
		case BPF_LD | BPF_H | BPF_ABS:
		case BPF_LD | BPF_B | BPF_ABS:
			/* ancillary loads (SKF_AD_OFF) are not modelled */
			if ((int32_t)i->k < 0 && (int32_t)i->k >= SKF_AD_OFF) {
				snprintf(
					why, why_sz,
					"insn %zu: ancillary load not supported",
					pc);
				return -EINVAL;
			}
			break;
		default:
			if (BPF_CLASS(i->code) == BPF_JMP &&
			    (pc + 1 + i->jt >= n || pc + 1 + i->jf >= n)) {
				snprintf(why, why_sz,
					 "insn %zu: jump out of range", pc);
				return -EINVAL;
			}
		}
	}
	if (BPF_CLASS(f[n - 1].code) != BPF_RET) {
		snprintf(why, why_sz, "the last instruction is not a return");
		return -EINVAL;
	}
	/* Like the kernel's check_load_and_stores(): a scratch word may only
	 * be read where every path to the read has written it. */
	valid = malloc(n * sizeof(*valid));
	if (!valid)
		return -ENOMEM;
	for (pc = 0; pc < n; pc++)
		valid[pc] = 0xffff;
	valid[0] = 0;
	for (pc = 0; pc < n; pc++) {
		const struct sock_filter *i = &f[pc];
		uint16_t v = valid[pc];

		switch (i->code) {
		case BPF_ST:
		case BPF_STX:
			v |= (uint16_t)(1u << i->k);
			break;
		case BPF_LD | BPF_MEM:
		case BPF_LDX | BPF_MEM:
			if (!(v & (1u << i->k))) {
				snprintf(
					why, why_sz,
					"insn %zu: scratch word %u read before "
					"it is written",
					pc, i->k);
				goto out;
			}
			break;
		case BPF_JMP | BPF_JA:
			valid[pc + 1 + i->k] &= v;
			v = 0xffff;
			break;
		default:
			if (BPF_CLASS(i->code) == BPF_JMP) {
				valid[pc + 1 + i->jt] &= v;
				valid[pc + 1 + i->jf] &= v;
				v = 0xffff;
			} else if (BPF_CLASS(i->code) == BPF_RET) {
				v = 0xffff;
			}
		}
		if (pc + 1 < n)
			valid[pc + 1] &= v;
	}
	err = 0;
out:
	free(valid);
	return err;
}

/* Returns false for a load the kernel would fail. */
static bool load(const struct sk_pkt *pkt, int32_t off, int size, uint32_t *v)
{
	const uint8_t *p;
	size_t at;
	int i;

	if (off >= 0) {
		/* relative to skb->data, which is at the payload */
		if ((size_t)off + (size_t)size > pkt->len - pkt->payload_off)
			return false;
		at = pkt->payload_off + (size_t)off;
	} else if (off >= SKF_NET_OFF && off < SKF_AD_OFF) {
		/* the network header is at the start of the buffer, and the
		 * kernel checks the load against the tail */
		at = (size_t)(off - SKF_NET_OFF);
		if (at + (size_t)size > pkt->len)
			return false;
	} else {
		/* ancillary data, or SKF_LL_OFF: not part of this model */
		return false;
	}
	p = pkt->buf + at;
	*v = 0;
	for (i = 0; i < size; i++)
		*v = (*v << 8) | p[i];
	return true;
}

static int size_of(uint16_t code)
{
	return BPF_SIZE(code) == BPF_B ? 1 : BPF_SIZE(code) == BPF_H ? 2 : 4;
}

int sk_cbpf_run(const struct sock_filter *f, size_t n, const int *owner,
		const struct sk_pkt *pkt, struct sk_interp_result *res)
{
	uint32_t A = 0, X = 0, M[MEMWORDS] = {}, v;
	uint32_t plen = (uint32_t)(pkt->len - pkt->payload_off);
	size_t pc = 0;

	memset(res, 0, sizeof(*res));
	res->owner = -2;
	if (pkt->payload_off > pkt->len)
		return -EINVAL;
	while (pc < n) {
		const struct sock_filter *i = &f[pc];
		uint32_t src = BPF_SRC(i->code) == BPF_X ? X : i->k;

		res->steps++;
		if (owner && owner[pc] >= -1)
			res->owner = owner[pc];
		switch (BPF_CLASS(i->code)) {
		case BPF_LD:
			switch (BPF_MODE(i->code)) {
			case BPF_ABS:
			case BPF_IND: {
				int32_t off = (int32_t)i->k;

				if (BPF_MODE(i->code) == BPF_IND)
					off = (int32_t)(X + i->k);
				if (!load(pkt, off, size_of(i->code), &v))
					goto fault;
				A = v;
				break;
			}
			case BPF_LEN:
				A = plen;
				break;
			case BPF_IMM:
				A = i->k;
				break;
			case BPF_MEM:
				A = M[i->k & (MEMWORDS - 1)];
				break;
			default:
				return -EINVAL;
			}
			pc++;
			break;
		case BPF_LDX:
			switch (BPF_MODE(i->code)) {
			case BPF_MSH:
				if (!load(pkt, (int32_t)i->k, 1, &v))
					goto fault;
				X = (v & 0xf) << 2;
				break;
			case BPF_LEN:
				X = plen;
				break;
			case BPF_IMM:
				X = i->k;
				break;
			case BPF_MEM:
				X = M[i->k & (MEMWORDS - 1)];
				break;
			default:
				return -EINVAL;
			}
			pc++;
			break;
		case BPF_ST:
			M[i->k & (MEMWORDS - 1)] = A;
			pc++;
			break;
		case BPF_STX:
			M[i->k & (MEMWORDS - 1)] = X;
			pc++;
			break;
		case BPF_ALU:
			switch (BPF_OP(i->code)) {
			case BPF_ADD:
				A += src;
				break;
			case BPF_SUB:
				A -= src;
				break;
			case BPF_MUL:
				A *= src;
				break;
			case BPF_DIV:
				if (!src)
					goto fault;
				A /= src;
				break;
			case BPF_MOD:
				if (!src)
					goto fault;
				A %= src;
				break;
			case BPF_AND:
				A &= src;
				break;
			case BPF_OR:
				A |= src;
				break;
			case BPF_XOR:
				A ^= src;
				break;
			case BPF_LSH:
				A <<= src & 31;
				break;
			case BPF_RSH:
				A >>= src & 31;
				break;
			case BPF_NEG:
				A = -A;
				break;
			default:
				return -EINVAL;
			}
			pc++;
			break;
		case BPF_JMP:
			if (BPF_OP(i->code) == BPF_JA) {
				pc += 1 + i->k;
				break;
			}
			{
				bool t;

				switch (BPF_OP(i->code)) {
				case BPF_JEQ:
					t = A == src;
					break;
				case BPF_JGT:
					t = A > src;
					break;
				case BPF_JGE:
					t = A >= src;
					break;
				case BPF_JSET:
					t = (A & src) != 0;
					break;
				default:
					return -EINVAL;
				}
				pc += 1 + (t ? i->jt : i->jf);
			}
			break;
		case BPF_RET:
			res->ret = BPF_RVAL(i->code) == BPF_A ? A : i->k;
			res->ret_pc = pc;
			return 0;
		case BPF_MISC:
			if (BPF_MISCOP(i->code) == BPF_TAX)
				X = A;
			else
				A = X;
			pc++;
			break;
		default:
			return -EINVAL;
		}
	}
	return -EINVAL; /* ran off the end: not a valid program */
fault:
	res->fault = true;
	res->ret = 0;
	res->ret_pc = pc;
	return 0;
}

/* ---- disassembly, in the style of tcpdump -d / bpf_dbg ---- */

static void fmt_off(char *b, size_t sz, const char *pre, uint32_t k)
{
	int32_t o = (int32_t)k;

	if (o < 0 && o >= SKF_NET_OFF && o < SKF_AD_OFF)
		snprintf(b, sz, "%snet+%d", pre, o - SKF_NET_OFF);
	else
		snprintf(b, sz, "%s%d", pre, o);
}

static int disasm(const struct sock_filter *i, size_t pc, char *buf,
		  size_t size)
{
	static const char *const alu[16] = {
		[BPF_ADD >> 4] = "add", [BPF_SUB >> 4] = "sub",
		[BPF_MUL >> 4] = "mul", [BPF_DIV >> 4] = "div",
		[BPF_OR >> 4] = "or",	[BPF_AND >> 4] = "and",
		[BPF_LSH >> 4] = "lsh", [BPF_RSH >> 4] = "rsh",
		[BPF_NEG >> 4] = "neg", [BPF_MOD >> 4] = "mod",
		[BPF_XOR >> 4] = "xor",
	};
	const char *sz = BPF_SIZE(i->code) == BPF_B ? "b" :
			 BPF_SIZE(i->code) == BPF_H ? "h" :
						      "";
	char o[48];

	switch (BPF_CLASS(i->code)) {
	case BPF_LD:
	case BPF_LDX: {
		const char *op = BPF_CLASS(i->code) == BPF_LD ? "ld" : "ldx";

		switch (BPF_MODE(i->code)) {
		case BPF_ABS:
			fmt_off(o, sizeof(o), "", i->k);
			return snprintf(buf, size, "%s%s [%s]", op, sz, o);
		case BPF_IND:
			fmt_off(o, sizeof(o), "x + ", i->k);
			return snprintf(buf, size, "%s%s [%s]", op, sz, o);
		case BPF_LEN:
			return snprintf(buf, size, "%s #len", op);
		case BPF_IMM:
			return snprintf(buf, size, "%s #%#x", op, i->k);
		case BPF_MEM:
			return snprintf(buf, size, "%s M[%u]", op, i->k);
		case BPF_MSH:
			fmt_off(o, sizeof(o), "", i->k);
			return snprintf(buf, size, "ldxb 4*([%s]&0xf)", o);
		}
		break;
	}
	case BPF_ST:
		return snprintf(buf, size, "st M[%u]", i->k);
	case BPF_STX:
		return snprintf(buf, size, "stx M[%u]", i->k);
	case BPF_ALU:
		if (BPF_OP(i->code) == BPF_NEG)
			return snprintf(buf, size, "neg");
		if (!alu[BPF_OP(i->code) >> 4])
			break;
		if (BPF_SRC(i->code) == BPF_X)
			return snprintf(buf, size, "%s x",
					alu[BPF_OP(i->code) >> 4]);
		return snprintf(buf, size, "%s #%#x", alu[BPF_OP(i->code) >> 4],
				i->k);
	case BPF_JMP: {
		const char *op;

		if (BPF_OP(i->code) == BPF_JA)
			return snprintf(buf, size, "ja %zu", pc + 1 + i->k);
		op = BPF_OP(i->code) == BPF_JEQ	 ? "jeq" :
		     BPF_OP(i->code) == BPF_JGT	 ? "jgt" :
		     BPF_OP(i->code) == BPF_JGE	 ? "jge" :
		     BPF_OP(i->code) == BPF_JSET ? "jset" :
						   NULL;
		if (!op)
			break;
		if (BPF_SRC(i->code) == BPF_X)
			return snprintf(buf, size, "%s x, %zu, %zu", op,
					pc + 1 + i->jt, pc + 1 + i->jf);
		return snprintf(buf, size, "%s #%#x, %zu, %zu", op, i->k,
				pc + 1 + i->jt, pc + 1 + i->jf);
	}
	case BPF_RET:
		if (BPF_RVAL(i->code) == BPF_A)
			return snprintf(buf, size, "ret a");
		return snprintf(buf, size, "ret #%#x", i->k);
	case BPF_MISC:
		return snprintf(buf, size, "%s",
				BPF_MISCOP(i->code) == BPF_TAX ? "tax" : "txa");
	}
	return snprintf(buf, size, "unknown 0x%04x", i->code);
}

int sksteer_prog__disasm(const struct sksteer_prog *prog, size_t idx, char *buf,
			 size_t size)
{
	if (!prog || idx >= prog->n)
		return -ENOENT;
	return disasm(&prog->insns[idx], idx, buf, size);
}

int sksteer_prog__fprint(const struct sksteer_prog *prog,
			 enum sksteer_prog_format fmt, FILE *out)
{
	size_t i;
	char line[96];

	if (!prog || !out)
		return -EINVAL;
	switch (fmt) {
	case SKSTEER_PROG_TEXT:
		for (i = 0; i < prog->n; i++) {
			disasm(&prog->insns[i], i, line, sizeof(line));
			fprintf(out, "(%03zu) %s\n", i, line);
		}
		break;
	case SKSTEER_PROG_C:
		for (i = 0; i < prog->n; i++) {
			const struct sock_filter *f = &prog->insns[i];

			disasm(f, i, line, sizeof(line));
			fprintf(out,
				"{ 0x%02x, %3u, %3u, 0x%08x }, /* (%03zu) %s */\n",
				f->code, f->jt, f->jf, f->k, i, line);
		}
		break;
	case SKSTEER_PROG_BYTECODE:
		fprintf(out, "%zu", prog->n);
		for (i = 0; i < prog->n; i++) {
			const struct sock_filter *f = &prog->insns[i];

			fprintf(out, ",%u %u %u %u", f->code, f->jt, f->jf,
				f->k);
		}
		fputc('\n', out);
		break;
	default:
		return -EINVAL;
	}
	return ferror(out) ? -EIO : 0;
}
