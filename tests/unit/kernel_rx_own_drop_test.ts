/**
 * `kernelRxOwnDropInsns`: the tcx bytecode that keeps the host kernel off the IPv4 frames to
 * the stack's own addresses. Its behaviour in a kernel is `tests/interop/kernel_rx_drop_test.ts`;
 * here the encoding, walked by a small interpreter of the few instructions it uses.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  KERNEL_RX_OWN_DROP_MAX_ADDRESSES,
  kernelRxOwnDropInsns,
} from "../../drivers/kernel_rx_drop.ts";
import {
  BPF_INSN_BYTES,
  BPF_OP_EXIT,
  BPF_OP_JMP32_JEQ_IMM,
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
        const size = code === BPF_OP_LD_ABS_H ? 2 : 4;
        if (imm + size > frame.length) return 0;
        r[0] = BigInt(size === 2 ? f.getUint16(imm) : f.getUint32(imm));
        break;
      }
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
