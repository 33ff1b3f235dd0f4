/**
 * Keep the host kernel's own protocols off the stack's frames: a tc program on the device's
 * tcx ingress hook that drops received frames — after the AF_PACKET taps, which already hold
 * their copy, and before the kernel's IP layer. Two programs:
 *
 * - {@link kernelRxDropInsns} drops every frame (`kernelRx: false`, for an interface the stack
 *   owns outright);
 * - {@link kernelRxOwnDropInsns} drops only the IPv4 and IPv6 frames addressed to the stack's
 *   own unicast addresses and leaves every other frame (ARP, NDP and other multicast, the
 *   kernel's own addresses, VLAN-tagged frames) to the kernel, as before — the af_packet
 *   driver's default where it can attach it (`kernel_rx_own_filter.ts` keeps it in step with
 *   the stack's addresses).
 *
 * Without it every frame that reaches the stack's interface also goes through the kernel's
 * receive path: `ip_rcv`, a socket lookup (early demux), a route lookup that finds no local
 * address (`ip_route_input_slow` allocates a route entry to say so) and the drop — about a
 * third of the kernel's cost per frame on a veth, paid in the context of whoever sent the
 * frame (for two stacks on a veth pair, in the peer's TX kick). The AF_XDP driver's redirect
 * program has the same effect by construction.
 *
 * ```
 * r0 = TC_ACT_SHOT   ; 2
 * exit
 * ```
 *
 * Attached with `BPF_LINK_CREATE` (`BPF_TCX_INGRESS`, Linux ≥ 6.6): the kernel detaches it when
 * the link fd is closed, or when the process dies. Needs CAP_BPF and CAP_NET_ADMIN (root).
 * With the first program everything the kernel would have received on the interface — its own
 * sockets, ARP, IPv6 — is dropped, so use it only where the stack owns the interface.
 *
 * Measured (bench/README.md, branch `udp13e`): a kernel sender's 8,900-byte datagrams to the
 * stack at MTU 1500 (seven fragments each) went out 1.2–1.3× as fast with the kernel's IP layer
 * kept off them — the sender's CPU had paid for the route lookup and drop of every fragment.
 *
 * @module
 */

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
  BPF_PROG_TYPE_SCHED_CLS,
  BPF_TCX_INGRESS,
  bpfLinkCreate,
  bpfProgLoad,
  TC_ACT_SHOT,
  TC_ACT_UNSPEC,
} from "../ffi/bpf.ts";
import { close } from "../ffi/syscalls.ts";

/**
 * The bytecode: `r0 = TC_ACT_SHOT; exit` (two 8-byte slots).
 *
 * @example
 * ```ts
 * kernelRxDropInsns().length; // 16
 * ```
 */
export function kernelRxDropInsns(): Uint8Array {
  const bytes = new Uint8Array(2 * BPF_INSN_BYTES);
  const v = new DataView(bytes.buffer);
  v.setUint8(0, BPF_OP_MOV64_IMM); // dst r0, src 0
  v.setInt32(4, TC_ACT_SHOT, true);
  v.setUint8(BPF_INSN_BYTES, BPF_OP_EXIT);
  return bytes;
}

/** Most IPv4 addresses {@link kernelRxOwnDropInsns} compares (one instruction each). */
export const KERNEL_RX_OWN_DROP_MAX_ADDRESSES = 64;
/** Most IPv6 addresses {@link kernelRxOwnDropInsns} compares (four instructions each). */
export const KERNEL_RX_OWN_DROP_MAX_IPV6_ADDRESSES = 64;

/** Offset of the EtherType in an untagged Ethernet frame. */
const ETHERTYPE_OFFSET = 12;
/** Offset of the IPv4 destination address in an untagged Ethernet frame (14 + 16). */
const IPV4_DST_OFFSET = 30;
/** Offset of the IPv6 destination address in an untagged Ethernet frame (14 + 24). */
const IPV6_DST_OFFSET = 38;
/** EtherType of IPv4. */
const ETHERTYPE_IPV4 = 0x0800;
/** EtherType of IPv6. */
const ETHERTYPE_IPV6 = 0x86dd;

/** Jump targets of the program (resolved to offsets once every instruction is placed). */
type Label = "pass" | "drop" | "ip6" | number;

/**
 * The bytecode that drops the untagged IPv4 frames whose destination is one of `v4` (IPv4
 * addresses as numbers, `0xc6120002` for 198.18.0.2; at most
 * {@link KERNEL_RX_OWN_DROP_MAX_ADDRESSES}) and the untagged IPv6 frames whose destination is
 * one of `v6` (unicast addresses as four words, `[0xfd000000, 0, 0, 2]` for fd00::2; at most
 * {@link KERNEL_RX_OWN_DROP_MAX_IPV6_ADDRESSES}), and says nothing about every other frame
 * (`TC_ACT_UNSPEC`: the kernel receives it as without the program). A fragment carries the
 * whole IPv4 header, so every fragment of a datagram to the stack is dropped; an IPv6
 * fragment carries the fixed header with the destination too. Multicast destinations (NDP's
 * solicited-node groups, all-nodes) are never in `v6`: those frames reach the kernel.
 *
 * ```
 *      r6 = r1                      ; the skb (LD_ABS reads through r6)
 *      r0 = ntohs(skb[12])          ; EtherType (a short frame ends the program: r0 = 0, pass)
 *      if r0 == 0x86dd goto ip6     ; (with v6 addresses)
 *      if r0 != 0x0800 goto pass    ; (with v4 addresses, else: goto pass)
 *      r0 = ntohl(skb[30])          ; IPv4 destination
 *      if w0 == v4[0] goto drop     ; one 32-bit compare per address
 *      …
 *      goto pass
 * ip6: r7 = ntohl(skb[38]); r8 = ntohl(skb[42]); r9 = ntohl(skb[46]); r0 = ntohl(skb[50])
 *      if w7 != v6[0][0] goto next  ; four 32-bit compares per address
 *      if w8 != v6[0][1] goto next
 *      if w9 != v6[0][2] goto next
 *      if w0 == v6[0][3] goto drop
 * next: …
 * pass: r0 = TC_ACT_UNSPEC
 *      exit
 * drop: r0 = TC_ACT_SHOT
 *      exit
 * ```
 *
 * (Each `rN = ntohl(…)` of the IPv6 words is an `LD_ABS` into r0 and a move: `LD_ABS` writes
 * r0 only and leaves r6–r9 alone.)
 *
 * @example
 * ```ts
 * kernelRxOwnDropInsns([0xc6120002]).length / 8; // 9 instructions
 * kernelRxOwnDropInsns([], [[0xfd000000, 0, 0, 2]]).length / 8; // 19 instructions
 * ```
 */
export function kernelRxOwnDropInsns(
  v4: readonly number[],
  v6: readonly (readonly [number, number, number, number])[] = [],
): Uint8Array {
  if (
    v4.length + v6.length === 0 || v4.length > KERNEL_RX_OWN_DROP_MAX_ADDRESSES ||
    v6.length > KERNEL_RX_OWN_DROP_MAX_IPV6_ADDRESSES
  ) {
    throw new RangeError(
      `kernelRxOwnDropInsns: at least one address, at most ${KERNEL_RX_OWN_DROP_MAX_ADDRESSES} ` +
        `IPv4 and ${KERNEL_RX_OWN_DROP_MAX_IPV6_ADDRESSES} IPv6, not ${v4.length} and ` +
        `${v6.length}`,
    );
  }
  const word = (a: number, what: string) => {
    if (!Number.isInteger(a) || a < 0 || a > 0xffffffff) {
      throw new RangeError(`kernelRxOwnDropInsns: ${a} is not ${what}`);
    }
    return a;
  };
  // [code, regs (dst | src << 4), jump target or offset, imm]
  const prog: [number, number, Label, number][] = [];
  const labels = new Map<Label, number>();
  const emit = (code: number, regs: number, to: Label, imm: number) => {
    prog.push([code, regs, to, imm]);
  };
  emit(BPF_OP_MOV64_REG, 6 | (1 << 4), 0, 0);
  emit(BPF_OP_LD_ABS_H, 0, 0, ETHERTYPE_OFFSET);
  if (v6.length > 0) emit(BPF_OP_JEQ_IMM, 0, "ip6", ETHERTYPE_IPV6);
  if (v4.length > 0) {
    emit(BPF_OP_JNE_IMM, 0, "pass", ETHERTYPE_IPV4);
    emit(BPF_OP_LD_ABS_W, 0, 0, IPV4_DST_OFFSET);
    for (const a of v4) emit(BPF_OP_JMP32_JEQ_IMM, 0, "drop", word(a, "an IPv4 address"));
  }
  if (v6.length > 0) {
    emit(BPF_OP_JA, 0, "pass", 0);
    labels.set("ip6", prog.length);
    for (let i = 0; i < 3; i++) {
      emit(BPF_OP_LD_ABS_W, 0, 0, IPV6_DST_OFFSET + 4 * i);
      emit(BPF_OP_MOV64_REG, (7 + i) | (0 << 4), 0, 0);
    }
    emit(BPF_OP_LD_ABS_W, 0, 0, IPV6_DST_OFFSET + 12);
    for (let k = 0; k < v6.length; k++) {
      const a = v6[k];
      const what = "a word of an IPv6 address";
      if ((a[0] >>> 24) === 0xff) {
        throw new RangeError(`kernelRxOwnDropInsns: a multicast address (${a[0].toString(16)})`);
      }
      const next: Label = k + 1; // the label of the next address's first compare
      emit(BPF_OP_JMP32_JNE_IMM, 7, next, word(a[0], what));
      emit(BPF_OP_JMP32_JNE_IMM, 8, next, word(a[1], what));
      emit(BPF_OP_JMP32_JNE_IMM, 9, next, word(a[2], what));
      emit(BPF_OP_JMP32_JEQ_IMM, 0, "drop", word(a[3], what));
      labels.set(k + 1, prog.length);
    }
  }
  labels.set("pass", prog.length);
  emit(BPF_OP_MOV64_IMM, 0, 0, TC_ACT_UNSPEC);
  emit(BPF_OP_EXIT, 0, 0, 0);
  labels.set("drop", prog.length);
  emit(BPF_OP_MOV64_IMM, 0, 0, TC_ACT_SHOT);
  emit(BPF_OP_EXIT, 0, 0, 0);
  const bytes = new Uint8Array(prog.length * BPF_INSN_BYTES);
  const v = new DataView(bytes.buffer);
  for (let i = 0; i < prog.length; i++) {
    const [code, regs, to, imm] = prog[i];
    const at = i * BPF_INSN_BYTES;
    const isJump = code !== BPF_OP_MOV64_REG && code !== BPF_OP_MOV64_IMM &&
      code !== BPF_OP_LD_ABS_H && code !== BPF_OP_LD_ABS_W && code !== BPF_OP_EXIT;
    v.setUint8(at, code);
    v.setUint8(at + 1, regs); // dst in the low nibble, src in the high one
    v.setInt16(at + 2, isJump ? labels.get(to)! - (i + 1) : 0, true);
    v.setInt32(at + 4, imm | 0, true);
  }
  return bytes;
}

/**
 * Load a program and attach it to device `ifindex` (in the calling thread's namespace):
 * without `ownAddrs` {@link kernelRxDropInsns} (every frame), with them
 * {@link kernelRxOwnDropInsns} (IPv4 frames to those addresses). Returns the link fd, whose
 * closing detaches it. Throws SyscallError (EPERM without the capabilities; EINVAL on a kernel
 * without tcx).
 *
 * @example
 * ```ts ignore
 * const linkFd = attachKernelRxDrop(ifindex);
 * // ... the kernel's IP stack no longer sees the interface's frames ...
 * close(linkFd);
 * ```
 */
export function attachKernelRxDrop(ifindex: number, ownAddrs?: readonly number[]): number {
  const progFd = bpfProgLoad({
    type: BPF_PROG_TYPE_SCHED_CLS,
    insns: ownAddrs === undefined ? kernelRxDropInsns() : kernelRxOwnDropInsns(ownAddrs),
    license: "GPL",
    expectedAttachType: BPF_TCX_INGRESS,
    name: ownAddrs === undefined ? "ustack_rx_own" : "ustack_rx_addr",
  });
  try {
    return bpfLinkCreate(progFd, ifindex, BPF_TCX_INGRESS, 0);
  } finally {
    close(progFd); // the link holds the program
  }
}
