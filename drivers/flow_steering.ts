/**
 * Flow steering for a stack per core: the classic BPF program a `PACKET_FANOUT_CBPF` group
 * runs on every received frame to pick the member (worker) that gets it, and the same function
 * in TypeScript ({@link flowWorker}) so a worker can choose, for a connection it opens, a local
 * port whose frames the kernel will steer back to it.
 *
 * The rule, for IPv4 and IPv6 TCP and UDP frames that are not fragments:
 * `worker = ((srcPort XOR dstPort) * 0x9E3779B1 mod 2^32) >>> 16) mod n` — symmetric in the
 * two ports (both directions of a connection give the same worker), and the multiply spreads
 * the XOR over the high bits so that Linux's habit of picking even ephemeral ports for
 * `connect()` cannot pile every connection onto one worker. Addresses are left out so that
 * a port predicate decides an active open on its own.
 *
 * Everything else — ARP, ICMP/ICMPv6 (and so NDP), IPv4 fragments, IPv6 packets with an
 * extension header (fragments included), other EtherTypes — goes to one *primary* worker.
 *
 * The program does not return the worker number but the member slot from a table (the kernel
 * indexes its member array by join order, `fanout_demux_bpf` returns `ret % num_members`): so
 * when a worker dies its slot is rewritten to the primary's and a new program installed, and the
 * survivors' flows keep their members.
 *
 * @module
 */

import {
  BPF_ABS,
  BPF_ALU,
  BPF_B,
  BPF_H,
  BPF_IND,
  BPF_JEQ,
  BPF_JMP,
  BPF_JSET,
  BPF_K,
  BPF_LD,
  BPF_LDX,
  BPF_MEM,
  BPF_MOD,
  BPF_MSH,
  BPF_MUL,
  BPF_RET,
  BPF_RSH,
  BPF_ST,
  BPF_W,
  BPF_X,
  BPF_XOR,
  ClassicProgram,
  SKF_AD_OFF,
  SKF_AD_PROTOCOL,
  SKF_NET_OFF,
} from "../ffi/classic_bpf.ts";

/** The multiplier of the port hash (2^32 / golden ratio, Knuth's multiplicative hashing). */
export const FLOW_HASH_MULTIPLIER = 0x9e3779b1;
/** Most workers a steering program maps (one jump per worker; cBPF jumps reach 255 ahead). */
export const MAX_STEERED_WORKERS = 64;

/**
 * The worker (0..n-1) that frames between `portA` and `portB` are steered to; the order of
 * the ports does not matter. Mirrors the steering program exactly.
 *
 * @example
 * ```ts
 * flowWorker(40000, 80, 2) === flowWorker(80, 40000, 2); // true
 * ```
 */
export function flowWorker(portA: number, portB: number, n: number): number {
  return (Math.imul((portA ^ portB) & 0xffff, FLOW_HASH_MULTIPLIER) >>> 16) % n;
}

/**
 * The steering program: TCP/UDP frames to `slots[flowWorker(src, dst, slots.length)]`,
 * everything else to `otherSlot`. `slots[i]` is the fanout member index of worker i.
 *
 * @example
 * ```ts
 * const code = steeringProgram([1, 2], 1); // worker 0 joined second, worker 1 third
 * ```
 */
export function steeringProgram(slots: readonly number[], otherSlot: number): Uint8Array {
  const n = slots.length;
  if (!(n >= 1 && n <= MAX_STEERED_WORKERS)) {
    throw new RangeError(`steering: 1..${MAX_STEERED_WORKERS} workers, got ${n}`);
  }
  const p = new ClassicProgram();
  const net = (off: number) => SKF_NET_OFF + off;
  p.op(BPF_LD | BPF_H | BPF_ABS, SKF_AD_OFF + SKF_AD_PROTOCOL); // A = EtherType
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, 0x0800, "ipv4", 0);
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, 0x86dd, "ipv6", "other");
  // IPv4: TCP or UDP, neither MF nor a fragment offset (RFC 791 §3.1).
  p.label("ipv4");
  p.op(BPF_LD | BPF_B | BPF_ABS, net(9));
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, 6, "v4l4", 0);
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, 17, "v4l4", "other");
  p.label("v4l4");
  p.op(BPF_LD | BPF_H | BPF_ABS, net(6));
  p.jump(BPF_JMP | BPF_JSET | BPF_K, 0x3fff, "other", 0);
  p.op(BPF_LDX | BPF_B | BPF_MSH, net(0)); // X = IHL * 4
  p.op(BPF_LD | BPF_H | BPF_IND, net(0)); // source port
  p.op(BPF_ST, 0);
  p.op(BPF_LD | BPF_H | BPF_IND, net(2)); // destination port
  p.op(BPF_LDX | BPF_W | BPF_MEM, 0);
  p.goto("hash");
  // IPv6: TCP or UDP right after the fixed header (RFC 8200 §3); anything else is "other".
  p.label("ipv6");
  p.op(BPF_LD | BPF_B | BPF_ABS, net(6));
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, 6, "v6l4", 0);
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, 17, "v6l4", "other");
  p.label("v6l4");
  p.op(BPF_LD | BPF_H | BPF_ABS, net(40));
  p.op(BPF_ST, 0);
  p.op(BPF_LD | BPF_H | BPF_ABS, net(42));
  p.op(BPF_LDX | BPF_W | BPF_MEM, 0);
  p.label("hash");
  p.op(BPF_ALU | BPF_XOR | BPF_X);
  p.op(BPF_ALU | BPF_MUL | BPF_K, FLOW_HASH_MULTIPLIER);
  p.op(BPF_ALU | BPF_RSH | BPF_K, 16);
  p.op(BPF_ALU | BPF_MOD | BPF_K, n);
  for (let i = 0; i < n - 1; i++) {
    p.jump(BPF_JMP | BPF_JEQ | BPF_K, i, `w${i}`, 0);
  }
  p.op(BPF_RET | BPF_K, slots[n - 1]);
  for (let i = 0; i < n - 1; i++) {
    p.label(`w${i}`);
    p.op(BPF_RET | BPF_K, slots[i]);
  }
  p.label("other");
  p.op(BPF_RET | BPF_K, otherSlot);
  return p.assemble();
}
