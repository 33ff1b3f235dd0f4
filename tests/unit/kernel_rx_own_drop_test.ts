/**
 * `kernelRxOwnDropInsns`: the tcx bytecode that keeps the host kernel off the IPv4 frames to
 * the stack's own addresses. Its behaviour in a kernel is `tests/interop/kernel_rx_drop_test.ts`;
 * here the encoding, walked by a small interpreter of the few instructions it uses.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Ipv6Words, KERNEL_IPV6_ADDRESSES_MAX, parseIfInet6 } from "../../ffi/syscalls.ts";
import {
  KERNEL_RX_OWN_DROP_MAX_ADDRESSES,
  KERNEL_RX_OWN_DROP_MAX_IPV6_ADDRESSES,
  kernelRxOwnDropInsns,
} from "../../drivers/kernel_rx_drop.ts";
import {
  BPF_INSN_BYTES,
  BPF_OP_EXIT,
  BPF_OP_JA,
  BPF_OP_JEQ_IMM,
  BPF_OP_JMP32_JEQ_IMM,
  BPF_OP_JMP32_JNE_IMM,
  BPF_OP_JNE_IMM,
  BPF_OP_LD_ABS_H,
  BPF_OP_LD_ABS_W,
  BPF_OP_MOV64_IMM,
  BPF_OP_MOV64_REG,
  TC_ACT_SHOT,
  TC_ACT_UNSPEC,
} from "../../ffi/bpf.ts";

/**
 * Run `insns` on `frame` the way the kernel would for the opcodes the program uses (LD_ABS
 * past the end returns 0); throws on any other opcode or a jump out of the program.
 */
function run(insns: Uint8Array, frame: Uint8Array): number {
  const v = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
  const f = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const count = insns.length / BPF_INSN_BYTES;
  const r = new Array<bigint>(11).fill(0n);
  let ctxIn6 = false;
  for (let pc = 0, steps = 0; steps < 1000; steps++) {
    assert.ok(pc >= 0 && pc < count, `pc ${pc} inside the program`);
    const at = pc * BPF_INSN_BYTES;
    const code = v.getUint8(at);
    const regs = v.getUint8(at + 1);
    const dst = regs & 15;
    const src = regs >> 4;
    const off = v.getInt16(at + 2, true);
    const imm = v.getInt32(at + 4, true);
    pc++;
    switch (code) {
      case BPF_OP_MOV64_REG:
        r[dst] = r[src];
        if (dst === 6 && src === 1) ctxIn6 = true;
        break;
      case BPF_OP_MOV64_IMM:
        r[dst] = BigInt.asUintN(64, BigInt(imm));
        break;
      case BPF_OP_LD_ABS_H:
      case BPF_OP_LD_ABS_W: {
        assert.ok(ctxIn6, "LD_ABS needs the context in r6");
        assert.equal(dst, 0, "LD_ABS writes r0");
        const size = code === BPF_OP_LD_ABS_H ? 2 : 4;
        if (imm + size > frame.length) return 0;
        r[0] = BigInt(size === 2 ? f.getUint16(imm) : f.getUint32(imm));
        // The kernel's LD_ABS is a call: r1–r5 are clobbered (a program reading them after is
        // refused by the verifier; here they read as garbage).
        for (let i = 1; i <= 5; i++) r[i] = 0xdeadbeefn;
        break;
      }
      case BPF_OP_JEQ_IMM:
        if (r[dst] === BigInt.asUintN(64, BigInt(imm))) pc += off;
        break;
      case BPF_OP_JMP32_JNE_IMM:
        if (BigInt.asUintN(32, r[dst]) !== BigInt.asUintN(32, BigInt(imm))) pc += off;
        break;
      case BPF_OP_JA:
        pc += off;
        break;
      case BPF_OP_JNE_IMM:
        if (r[dst] !== BigInt.asUintN(64, BigInt(imm))) pc += off;
        break;
      case BPF_OP_JMP32_JEQ_IMM:
        if (BigInt.asUintN(32, r[dst]) === BigInt.asUintN(32, BigInt(imm))) pc += off;
        break;
      case BPF_OP_EXIT:
        return Number(BigInt.asIntN(32, r[0]));
      default:
        throw new Error(`opcode 0x${code.toString(16)} at ${pc - 1}`);
    }
  }
  throw new Error("no exit");
}

/** An untagged Ethernet frame of `type` whose IPv4 destination (if IPv4) is `dst`. */
function frame(type: number, dst: number, length = 60): Uint8Array {
  const b = new Uint8Array(length);
  const v = new DataView(b.buffer);
  v.setUint16(12, type);
  if (length >= 34) v.setUint32(30, dst);
  return b;
}

Deno.test("kernelRxOwnDropInsns: drops IPv4 frames to the addresses, passes the rest", () => {
  // 198.18.0.2 is above 2³¹: a 64-bit compare with a sign-extended imm would miss it.
  const own = [0xc6120002, 0x0a000001];
  const p = kernelRxOwnDropInsns(own);
  assert.equal(run(p, frame(0x0800, 0xc6120002)), TC_ACT_SHOT);
  assert.equal(run(p, frame(0x0800, 0x0a000001)), TC_ACT_SHOT);
  assert.equal(run(p, frame(0x0800, 0xc6120001)), TC_ACT_UNSPEC, "another address");
  assert.equal(run(p, frame(0x0806, 0xc6120002)), TC_ACT_UNSPEC, "ARP");
  assert.equal(run(p, frame(0x86dd, 0xc6120002)), TC_ACT_UNSPEC, "IPv6");
  assert.equal(run(p, frame(0x8100, 0xc6120002)), TC_ACT_UNSPEC, "a VLAN tag");
  assert.equal(run(p, frame(0x0800, 0, 20)), 0, "too short: LD_ABS ends it with 0 (pass)");
});

Deno.test("kernelRxOwnDropInsns: 1..64 addresses, each a u32", () => {
  const many = Array.from({ length: KERNEL_RX_OWN_DROP_MAX_ADDRESSES }, (_, i) => 0xc6120000 + i);
  const p = kernelRxOwnDropInsns(many);
  assert.equal(run(p, frame(0x0800, 0xc6120000 + 63)), TC_ACT_SHOT, "the last one");
  assert.equal(run(p, frame(0x0800, 0xc6120000 + 64)), TC_ACT_UNSPEC);
  assert.throws(() => kernelRxOwnDropInsns([]), RangeError);
  assert.throws(() => kernelRxOwnDropInsns([...many, 1]), RangeError);
  assert.throws(() => kernelRxOwnDropInsns([-1]), RangeError);
  assert.throws(() => kernelRxOwnDropInsns([2 ** 32]), RangeError);
});

/** An untagged IPv6 frame (EtherType 0x86dd) to `dst`. */
function frame6(dst: Ipv6Words, length = 62): Uint8Array {
  const b = new Uint8Array(length);
  const v = new DataView(b.buffer);
  v.setUint16(12, 0x86dd);
  for (let i = 0; i < 4; i++) if (38 + 4 * i + 4 <= length) v.setUint32(38 + 4 * i, dst[i]);
  return b;
}

const FD00_2: Ipv6Words = [0xfd000000, 0, 0, 2];
const FE80_MAC: Ipv6Words = [0xfe800000, 0, 0x0200_5eff, 0xfe000001];

Deno.test("kernelRxOwnDropInsns: drops IPv6 frames to the IPv6 addresses, passes the rest", () => {
  const p = kernelRxOwnDropInsns([0xc6120002], [FD00_2, FE80_MAC]);
  assert.equal(run(p, frame6(FD00_2)), TC_ACT_SHOT);
  assert.equal(run(p, frame6(FE80_MAC)), TC_ACT_SHOT, "the link-local address");
  assert.equal(run(p, frame(0x0800, 0xc6120002)), TC_ACT_SHOT, "IPv4 still");
  // Each word on its own: an address equal in three words is another address.
  for (let i = 0; i < 4; i++) {
    const other = [...FD00_2] as [number, number, number, number];
    other[i] ^= 1;
    assert.equal(run(p, frame6(other)), TC_ACT_UNSPEC, `word ${i} differs`);
  }
  // NDP to the solicited-node group of fd00::2, all-nodes: the kernel's.
  assert.equal(run(p, frame6([0xff020000, 0, 1, 0xff000002])), TC_ACT_UNSPEC, "solicited-node");
  assert.equal(run(p, frame6([0xff020000, 0, 0, 1])), TC_ACT_UNSPEC, "all-nodes");
  // fd00::2's words in an IPv4 frame, and an IPv4 address in IPv6: no drop.
  const v4in6 = frame6(FD00_2);
  new DataView(v4in6.buffer).setUint16(12, 0x0800);
  assert.equal(run(p, v4in6), TC_ACT_UNSPEC, "IPv4 frame, no such IPv4 destination");
  const tagged = frame6(FD00_2);
  new DataView(tagged.buffer).setUint16(12, 0x8100);
  assert.equal(run(p, tagged), TC_ACT_UNSPEC, "a VLAN tag");
  assert.equal(run(p, frame(0x0806, 0)), TC_ACT_UNSPEC, "ARP");
  assert.equal(run(p, frame6(FD00_2, 50)), 0, "too short: LD_ABS ends it with 0 (pass)");
});

Deno.test("kernelRxOwnDropInsns: IPv6 only (no IPv4 address): IPv4 frames pass", () => {
  const p = kernelRxOwnDropInsns([], [FD00_2]);
  assert.equal(p.length / BPF_INSN_BYTES, 19);
  assert.equal(run(p, frame6(FD00_2)), TC_ACT_SHOT);
  assert.equal(run(p, frame(0x0800, 0xfd000000)), TC_ACT_UNSPEC);
  assert.equal(run(p, frame(0x0800, 2)), TC_ACT_UNSPEC);
});

Deno.test("kernelRxOwnDropInsns: 64 IPv6 addresses with 64 IPv4 ones; the bounds", () => {
  const v4 = Array.from({ length: KERNEL_RX_OWN_DROP_MAX_ADDRESSES }, (_, i) => 0xc6120000 + i);
  const v6 = Array.from(
    { length: KERNEL_RX_OWN_DROP_MAX_IPV6_ADDRESSES },
    (_, i): Ipv6Words => [0xfd000000, i, 0x80000000 + i, 0xffff0000 + i],
  );
  const p = kernelRxOwnDropInsns(v4, v6);
  for (const i of [0, 31, 63]) {
    assert.equal(run(p, frame6(v6[i])), TC_ACT_SHOT, `address ${i}`);
    assert.equal(run(p, frame(0x0800, v4[i])), TC_ACT_SHOT, `IPv4 address ${i}`);
  }
  // Words of different addresses mixed: no match.
  assert.equal(run(p, frame6([0xfd000000, 1, 0x80000002, 0xffff0002])), TC_ACT_UNSPEC);
  assert.equal(run(p, frame6([0xfd000000, 64, 0x80000040, 0xffff0040])), TC_ACT_UNSPEC);
  assert.throws(() => kernelRxOwnDropInsns([], []), RangeError);
  assert.throws(() => kernelRxOwnDropInsns([], [...v6, FD00_2]), RangeError);
  assert.throws(() => kernelRxOwnDropInsns([], [[0xff020000, 0, 0, 1]]), RangeError, "multicast");
  assert.throws(() => kernelRxOwnDropInsns([], [[0xfd000000, 0, 0, 2 ** 32]]), RangeError);
});

Deno.test("parseIfInet6: the addresses of /proc/net/if_inet6 lines", () => {
  const text = "00000000000000000000000000000001 01 80 10 80       lo\n" +
    "fe8000000000000002005efffe000001 03 40 20 80      us0\n" +
    "fd000000000000000000000000000002 03 40 00 c0      us0\n" +
    "not an address\n\n";
  assert.deepEqual(parseIfInet6(text), [
    [0, 0, 0, 1],
    FE80_MAC,
    FD00_2,
  ]);
  const many = "fd000000000000000000000000000002 03 40 00 80 x\n".repeat(300);
  assert.equal(parseIfInet6(many).length, KERNEL_IPV6_ADDRESSES_MAX);
});
