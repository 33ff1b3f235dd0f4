/**
 * Classic BPF (`struct sock_filter`, `linux/filter.h`): the instruction encoding, the
 * `struct sock_fprog` that hands a program to `setsockopt`, and the offsets of the kernel's
 * negative-offset loads. Classic programs are what `SO_ATTACH_FILTER` and
 * `PACKET_FANOUT_DATA` (with `PACKET_FANOUT_CBPF`) take; the kernel verifies them and
 * translates them to eBPF itself, so no `bpf(2)` call or privilege beyond the socket's is needed.
 *
 * Set-up only: everything here allocates.
 *
 * @module
 */

import { addressOf, allocStruct } from "./structs.ts";
import { setsockopt } from "./syscalls.ts";

/** Bytes of one `struct sock_filter`: `code` u16, `jt` u8, `jf` u8, `k` u32. */
export const SOCK_FILTER_BYTES = 8;
/** Bytes of `struct sock_fprog` on x86-64: `len` u16, padding, `filter` pointer. */
export const SOCK_FPROG_BYTES = 16;
/** The most instructions a classic program may have (`BPF_MAXINSNS`). */
export const BPF_MAXINSNS = 4096;

// --- instruction classes, sizes, modes, operations (linux/bpf_common.h) ------------------------

/** Class: load into A. */
export const BPF_LD = 0x00;
/** Class: load into X. */
export const BPF_LDX = 0x01;
/** Class: store A into scratch memory. */
export const BPF_ST = 0x02;
/** Class: ALU operation on A. */
export const BPF_ALU = 0x04;
/** Class: jump. */
export const BPF_JMP = 0x05;
/** Class: return. */
export const BPF_RET = 0x06;
/** Class: register transfer (TAX/TXA). */
export const BPF_MISC = 0x07;
/** Size: 32-bit word. */
export const BPF_W = 0x00;
/** Size: 16-bit half word. */
export const BPF_H = 0x08;
/** Size: byte. */
export const BPF_B = 0x10;
/** Mode: immediate. */
export const BPF_IMM = 0x00;
/** Mode: packet data at the absolute offset `k`. */
export const BPF_ABS = 0x20;
/** Mode: packet data at `X + k`. */
export const BPF_IND = 0x40;
/** Mode: scratch memory cell `k`. */
export const BPF_MEM = 0x60;
/** Mode: the packet's length (`skb->len`: the whole frame from the link-layer header). */
export const BPF_LEN = 0x80;
/** Mode (LDX, byte): `X = 4 * (pkt[k] & 0xf)`, the IPv4 header length. */
export const BPF_MSH = 0xa0;
/** ALU: multiply. */
export const BPF_MUL = 0x20;
/** ALU: shift right (logical). */
export const BPF_RSH = 0x70;
/** ALU: modulo. */
export const BPF_MOD = 0x90;
/** ALU: exclusive or. */
export const BPF_XOR = 0xa0;
/** Jump: always. */
export const BPF_JA = 0x00;
/** Jump: `A == k`. */
export const BPF_JEQ = 0x10;
/** Jump: `A > k` (unsigned). */
export const BPF_JGT = 0x20;
/** Jump: `A & k != 0`. */
export const BPF_JSET = 0x40;
/** Source: the constant `k`. */
export const BPF_K = 0x00;
/** Source: register X. */
export const BPF_X = 0x08;
/** Return value source: register A. */
export const BPF_A = 0x10;

/**
 * Offset base of loads relative to the network header (`SKF_NET_OFF`): `k = SKF_NET_OFF + n`
 * reads byte `n` of the IP header wherever the frame's data pointer happens to be.
 */
export const SKF_NET_OFF = -0x100000;
/** Offset base of the kernel's ancillary loads (`SKF_AD_OFF`). */
export const SKF_AD_OFF = -0x1000;
/** Ancillary load: `skb->protocol`, the EtherType in host order. */
export const SKF_AD_PROTOCOL = 0;

/** `SOL_SOCKET` option: attach a classic filter to a socket. */
export const SO_ATTACH_FILTER = 26;

/**
 * A classic program under construction: instructions appended one by one, jumps given as
 * labels that {@link ClassicProgram.assemble} turns into the relative offsets the kernel wants.
 *
 * @example
 * ```ts
 * const p = new ClassicProgram();
 * p.op(BPF_RET | BPF_K, 0); // accept nothing
 * const code = p.assemble();
 * ```
 */
export class ClassicProgram {
  readonly #code: number[] = [];
  readonly #k: number[] = [];
  readonly #jt: (string | number)[] = [];
  readonly #jf: (string | number)[] = [];
  /** Label of each `BPF_JA` (whose offset is in `k`), or "". */
  readonly #ja: string[] = [];
  readonly #labels = new Map<string, number>();

  /** Instructions so far. */
  get length(): number {
    return this.#code.length;
  }

  /** Append a non-jump instruction. */
  op(code: number, k = 0): this {
    return this.#push(code, k, 0, 0);
  }

  /** Append a conditional jump to label `jt` (condition true) or `jf` (false; a label, or 0 = next). */
  jump(code: number, k: number, jt: string | number, jf: string | number): this {
    return this.#push(code, k, jt, jf);
  }

  /** Append an unconditional jump (`BPF_JA`) to label `target`. */
  goto(target: string): this {
    this.#push(BPF_JMP | BPF_JA, 0, 0, 0);
    this.#ja[this.#code.length - 1] = target;
    return this;
  }

  /** Name the next instruction `name`. */
  label(name: string): this {
    if (this.#labels.has(name)) throw new RangeError(`classic BPF: label ${name} defined twice`);
    this.#labels.set(name, this.#code.length);
    return this;
  }

  #push(code: number, k: number, jt: string | number, jf: string | number): this {
    this.#code.push(code);
    this.#k.push(k);
    this.#jt.push(jt);
    this.#jf.push(jf);
    this.#ja.push("");
    return this;
  }

  /** The encoded `struct sock_filter` array. Throws RangeError for a bad label or jump. */
  assemble(): Uint8Array {
    const n = this.#code.length;
    if (n === 0 || n > BPF_MAXINSNS) throw new RangeError(`classic BPF: ${n} instructions`);
    const out = allocStruct(n * SOCK_FILTER_BYTES);
    const v = new DataView(out.buffer);
    for (let i = 0; i < n; i++) {
      const o = i * SOCK_FILTER_BYTES;
      v.setUint16(o, this.#code[i], true);
      v.setUint8(o + 2, this.#offset(i, this.#jt[i]));
      v.setUint8(o + 3, this.#offset(i, this.#jf[i]));
      const ja = this.#ja[i];
      v.setUint32(o + 4, ja === "" ? this.#k[i] >>> 0 : this.#offset(i, ja, 0xffff), true);
    }
    return out;
  }

  /** Relative forward offset from instruction `i` to `target` (a label; a number is literal). */
  #offset(i: number, target: string | number, max = 255): number {
    if (typeof target === "number") return target;
    const at = this.#labels.get(target);
    if (at === undefined) throw new RangeError(`classic BPF: no label ${target}`);
    const off = at - i - 1;
    if (off < 0 || off > max) throw new RangeError(`classic BPF: jump to ${target} out of range`);
    return off;
  }
}

/**
 * `setsockopt(fd, level, name, struct sock_fprog)` with `code` (from
 * {@link ClassicProgram.assemble}): the kernel copies the program during the call.
 *
 * @example
 * ```ts ignore
 * setClassicProgram(fd, SOL_SOCKET, SO_ATTACH_FILTER, program.assemble());
 * ```
 */
export function setClassicProgram(fd: number, level: number, name: number, code: Uint8Array): void {
  const prog = allocStruct(SOCK_FPROG_BYTES);
  const v = new DataView(prog.buffer);
  v.setUint16(0, code.length / SOCK_FILTER_BYTES, true);
  v.setBigUint64(8, addressOf(code), true);
  setsockopt(fd, level, name, prog);
}
