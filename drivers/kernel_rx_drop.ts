/**
 * Keep the host kernel's own protocols off an interface the stack owns: a two-instruction tc
 * program on the device's tcx ingress hook that drops every received frame — after the
 * AF_PACKET taps, which already hold their copy, and before the kernel's IP layer.
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
 * Everything the kernel would have received on the interface — its own sockets, ARP, IPv6 — is
 * dropped, so use it only where the stack owns the interface.
 *
 * @module
 */

import {
  BPF_INSN_BYTES,
  BPF_OP_EXIT,
  BPF_OP_MOV64_IMM,
  BPF_PROG_TYPE_SCHED_CLS,
  BPF_TCX_INGRESS,
  bpfLinkCreate,
  bpfProgLoad,
  TC_ACT_SHOT,
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

/**
 * Load the program and attach it to device `ifindex` (in the calling thread's namespace):
 * returns the link fd, whose closing detaches it. Throws SyscallError (EPERM without the
 * capabilities; EINVAL on a kernel without tcx).
 *
 * @example
 * ```ts ignore
 * const linkFd = attachKernelRxDrop(ifindex);
 * // ... the kernel's IP stack no longer sees the interface's frames ...
 * close(linkFd);
 * ```
 */
export function attachKernelRxDrop(ifindex: number): number {
  const progFd = bpfProgLoad({
    type: BPF_PROG_TYPE_SCHED_CLS,
    insns: kernelRxDropInsns(),
    license: "GPL",
    expectedAttachType: BPF_TCX_INGRESS,
    name: "ustack_rx_own",
  });
  try {
    return bpfLinkCreate(progFd, ifindex, BPF_TCX_INGRESS, 0);
  } finally {
    close(progFd); // the link holds the program
  }
}
