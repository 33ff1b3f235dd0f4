/**
 * Keep the host kernel's own protocols off the stack's frames: a tc program on the device's
 * tcx ingress hook that drops received frames — after the AF_PACKET taps, which already hold
 * their copy, and before the kernel's IP layer. Two programs:
 *
 * - {@link kernelRxDropInsns} drops every frame (`kernelRx: false`, for an interface the stack
 *   owns outright);
 * - {@link kernelRxOwnDropInsns} drops only IPv4 frames addressed to the stack's own IPv4
 *   addresses and leaves every other frame (ARP, IPv6, the kernel's own addresses, VLAN-tagged
 *   frames) to the kernel, as before — the af_packet driver's default where it can attach it.
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
  BPF_OP_JMP32_JEQ_IMM,
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

/** Offset of the EtherType in an untagged Ethernet frame. */
const ETHERTYPE_OFFSET = 12;
/** Offset of the IPv4 destination address in an untagged Ethernet frame (14 + 16). */
const IPV4_DST_OFFSET = 30;
/** EtherType of IPv4. */
const ETHERTYPE_IPV4 = 0x0800;

/**
 * The bytecode that drops the untagged IPv4 frames whose destination is one of `addrs` (IPv4
 * addresses as numbers, `0xc6120002` for 198.18.0.2; at most
 * {@link KERNEL_RX_OWN_DROP_MAX_ADDRESSES}) and says nothing about every other frame
 * (`TC_ACT_UNSPEC`: the kernel receives it as without the program). A fragment carries the
 * whole IPv4 header, so every fragment of a datagram to the stack is dropped.
 *
 * ```
 *      r6 = r1                      ; the skb (LD_ABS reads through r6)
 *      r0 = ntohs(skb[12])          ; EtherType (a short frame ends the program: r0 = 0, pass)
 *      if r0 != 0x0800 goto pass
 *      r0 = ntohl(skb[30])          ; IPv4 destination
 *      if w0 == addrs[0] goto drop  ; one 32-bit compare per address
 *      …
 * pass: r0 = TC_ACT_UNSPEC
 *      exit
 * drop: r0 = TC_ACT_SHOT
 *      exit
 * ```
 *
 * @example
 * ```ts
 * kernelRxOwnDropInsns([0xc6120002]).length / 8; // 9 instructions
 * ```
 */
export function kernelRxOwnDropInsns(addrs: readonly number[]): Uint8Array {
  if (addrs.length === 0 || addrs.length > KERNEL_RX_OWN_DROP_MAX_ADDRESSES) {
    throw new RangeError(
      `kernelRxOwnDropInsns: 1..${KERNEL_RX_OWN_DROP_MAX_ADDRESSES} addresses, not ${addrs.length}`,
    );
  }
  const n = addrs.length;
  const count = 4 + n + 4;
  const bytes = new Uint8Array(count * BPF_INSN_BYTES);
  const v = new DataView(bytes.buffer);
  const put = (i: number, code: number, regs: number, off: number, imm: number) => {
    const at = i * BPF_INSN_BYTES;
    v.setUint8(at, code);
    v.setUint8(at + 1, regs); // dst in the low nibble, src in the high one
    v.setInt16(at + 2, off, true);
    v.setInt32(at + 4, imm | 0, true);
  };
  const pass = 4 + n;
  const drop = pass + 2;
  put(0, BPF_OP_MOV64_REG, 6 | (1 << 4), 0, 0);
  put(1, BPF_OP_LD_ABS_H, 0, 0, ETHERTYPE_OFFSET);
  put(2, BPF_OP_JNE_IMM, 0, pass - 3, ETHERTYPE_IPV4);
  put(3, BPF_OP_LD_ABS_W, 0, 0, IPV4_DST_OFFSET);
  for (let i = 0; i < n; i++) {
    const a = addrs[i];
    if (!Number.isInteger(a) || a < 0 || a > 0xffffffff) {
      throw new RangeError(`kernelRxOwnDropInsns: ${a} is not an IPv4 address`);
    }
    put(4 + i, BPF_OP_JMP32_JEQ_IMM, 0, drop - (4 + i + 1), a);
  }
  put(pass, BPF_OP_MOV64_IMM, 0, 0, TC_ACT_UNSPEC);
  put(pass + 1, BPF_OP_EXIT, 0, 0, 0);
  put(drop, BPF_OP_MOV64_IMM, 0, 0, TC_ACT_SHOT);
  put(drop + 1, BPF_OP_EXIT, 0, 0, 0);
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
