/**
 * The XDP program that hands an interface's frames to an AF_XDP socket, built, loaded and
 * attached by ustack itself through `bpf(2)` — no compiler, no object file, no outside tool.
 *
 * The program is six 8-byte instruction slots:
 *
 * ```
 * r2 = *(u32 *)(r1 + 16)   ; ctx->rx_queue_index: the XSKMAP key
 * r1 = map_fd ll           ; 64-bit immediate (two slots): the kernel swaps the fd for the map
 * r3 = XDP_PASS            ; flags: the low bits are the action when the slot is empty
 * call bpf_redirect_map    ; helper 51
 * exit                     ; r0 = XDP_REDIRECT, or XDP_PASS for a queue without a socket
 * ```
 *
 * It is attached with `BPF_LINK_CREATE`, so the kernel detaches it when the link fd is closed
 * — explicitly by {@link XdpRedirectProgram.close}, or by the kernel when the process dies.
 *
 * @module
 */

import {
  BPF_F_XDP_HAS_FRAGS,
  BPF_FUNC_REDIRECT_MAP,
  BPF_INSN_BYTES,
  BPF_MAP_TYPE_XSKMAP,
  BPF_OP_CALL,
  BPF_OP_EXIT,
  BPF_OP_LD_IMM64,
  BPF_OP_LDX_MEM_W,
  BPF_OP_MOV64_IMM,
  BPF_PROG_TYPE_XDP,
  BPF_PSEUDO_MAP_FD,
  BPF_XDP,
  bpfLinkCreate,
  bpfLinkDetach,
  bpfLinkInfo,
  bpfMapCreate,
  bpfMapUpdateU32,
  bpfProgLoad,
  XDP_FLAGS_DRV_MODE,
  XDP_FLAGS_SKB_MODE,
  XDP_MD_RX_QUEUE_INDEX,
  XDP_PASS,
} from "../ffi/bpf.ts";
import { close } from "../ffi/syscalls.ts";

/** Instruction slots of the redirect program. */
export const XDP_REDIRECT_PROG_SLOTS = 6;

/** Write one instruction into `out` at slot `slot`. */
function insn(
  out: DataView,
  slot: number,
  code: number,
  dst: number,
  src: number,
  off: number,
  imm: number,
): void {
  const at = slot * BPF_INSN_BYTES;
  out.setUint8(at, code);
  out.setUint8(at + 1, ((src & 0xf) << 4) | (dst & 0xf));
  out.setInt16(at + 2, off, true);
  out.setInt32(at + 4, imm, true);
}

/**
 * The bytecode of the redirect program for XSKMAP `mapFd`: frames of queue `q` go to the socket
 * in slot `q`; frames of a queue with no socket get `fallbackAction` (default XDP_PASS).
 *
 * @example
 * ```ts
 * const insns = xdpRedirectInsns(mapFd); // 48 bytes
 * ```
 */
export function xdpRedirectInsns(mapFd: number, fallbackAction: number = XDP_PASS): Uint8Array {
  const bytes = new Uint8Array(XDP_REDIRECT_PROG_SLOTS * BPF_INSN_BYTES);
  const v = new DataView(bytes.buffer);
  // r2 = ctx->rx_queue_index (r1 holds the struct xdp_md pointer on entry)
  insn(v, 0, BPF_OP_LDX_MEM_W, 2, 1, XDP_MD_RX_QUEUE_INDEX, 0);
  // r1 = the map (lower 32 bits in this slot, upper 32 bits in the next, which is all zero)
  insn(v, 1, BPF_OP_LD_IMM64, 1, BPF_PSEUDO_MAP_FD, 0, mapFd);
  insn(v, 2, 0, 0, 0, 0, 0);
  // r3 = flags: the action bpf_redirect_map returns when the key has no socket
  insn(v, 3, BPF_OP_MOV64_IMM, 3, 0, 0, fallbackAction);
  // r0 = bpf_redirect_map(r1, r2, r3)
  insn(v, 4, BPF_OP_CALL, 0, 0, 0, BPF_FUNC_REDIRECT_MAP);
  insn(v, 5, BPF_OP_EXIT, 0, 0, 0, 0);
  return bytes;
}

/** How to attach: let the kernel choose (native when the driver has it), or force a mode. */
export type XdpAttachMode = "auto" | "native" | "generic";

/** Options of {@link XdpRedirectProgram.attach}. */
export interface XdpRedirectOptions {
  /** Device to attach to (in the calling thread's namespace). */
  ifindex: number;
  /** Queue whose frames go to the socket. */
  queue: number;
  /** The bound AF_XDP socket. */
  xskFd: number;
  /** Load with BPF_F_XDP_HAS_FRAGS: needed for frames larger than one UMEM chunk. */
  multiBuffer: boolean;
  /** Attach mode; default "auto". */
  mode?: XdpAttachMode;
}

/**
 * An XSKMAP, the redirect program and the bpf_link attaching it to a device: three fds, all
 * closed by {@link XdpRedirectProgram.close}.
 *
 * @example
 * ```ts
 * const prog = XdpRedirectProgram.attach({ ifindex, queue: 0, xskFd, multiBuffer: false });
 * // ... frames of queue 0 now arrive on the socket's RX ring ...
 * prog.close(); // detached: the kernel sees the interface's traffic again
 * ```
 */
export class XdpRedirectProgram {
  /** The XSKMAP fd. */
  readonly mapFd: number;
  /** The program fd. */
  readonly progFd: number;
  /** The bpf_link fd (-1 once closed). */
  linkFd: number;
  /** The kernel's id of the loaded program. */
  readonly progId: number;
  /** The attach flags used (`XDP_FLAGS_*`; 0 = the kernel chose). */
  readonly attachFlags: number;
  /** True when loaded with BPF_F_XDP_HAS_FRAGS. */
  readonly multiBuffer: boolean;

  private constructor(
    mapFd: number,
    progFd: number,
    linkFd: number,
    flags: number,
    multiBuffer: boolean,
  ) {
    this.mapFd = mapFd;
    this.progFd = progFd;
    this.linkFd = linkFd;
    this.attachFlags = flags;
    this.multiBuffer = multiBuffer;
    this.progId = bpfLinkInfo(linkFd).progId;
  }

  /**
   * Create the map with `xskFd` at key `queue`, load the program and attach it with a
   * bpf_link. Throws SyscallError (EPERM without CAP_BPF/CAP_NET_ADMIN; EBUSY when another
   * program is attached; ERANGE from veth when the MTU needs multi-buffer and it is off).
   * Everything acquired so far is released when a step fails.
   *
   * @example
   * ```ts
   * const prog = XdpRedirectProgram.attach({ ifindex: 3, queue: 0, xskFd, multiBuffer: true });
   * ```
   */
  static attach(opts: XdpRedirectOptions): XdpRedirectProgram {
    const fds: number[] = [];
    try {
      const mapFd = bpfMapCreate({
        type: BPF_MAP_TYPE_XSKMAP,
        keySize: 4,
        valueSize: 4,
        maxEntries: opts.queue + 1,
        name: "ustack_xsks",
      });
      fds.push(mapFd);
      bpfMapUpdateU32(mapFd, opts.queue, opts.xskFd);
      const progFd = bpfProgLoad({
        type: BPF_PROG_TYPE_XDP,
        insns: xdpRedirectInsns(mapFd),
        // bpf_redirect_map is available to every license; GPL keeps all helpers open anyway.
        license: "GPL",
        flags: opts.multiBuffer ? BPF_F_XDP_HAS_FRAGS : 0,
        expectedAttachType: BPF_XDP,
        name: "ustack_redir",
      });
      fds.push(progFd);
      const mode = opts.mode ?? "auto";
      const flags = mode === "native"
        ? XDP_FLAGS_DRV_MODE
        : mode === "generic"
        ? XDP_FLAGS_SKB_MODE
        : 0;
      const linkFd = bpfLinkCreate(progFd, opts.ifindex, BPF_XDP, flags);
      fds.push(linkFd);
      return new XdpRedirectProgram(mapFd, progFd, linkFd, flags, opts.multiBuffer);
    } catch (e) {
      for (let i = fds.length - 1; i >= 0; i--) {
        try {
          close(fds[i]);
        } catch { /* the original error matters more */ }
      }
      throw e;
    }
  }

  /** True while the link is open and attached to a device. */
  get attached(): boolean {
    return this.linkFd >= 0 && bpfLinkInfo(this.linkFd).ifindex !== 0;
  }

  /**
   * Detach the program (BPF_LINK_DETACH, so it is gone even if a forked child still holds the
   * link fd), verify the link reports no device any more, then close link, program and map.
   * Idempotent; throws the first failure after trying every step.
   */
  close(): void {
    if (this.linkFd < 0) return;
    const link = this.linkFd;
    this.linkFd = -1;
    let first: unknown = null;
    const attempt = (fn: () => void): void => {
      try {
        fn();
      } catch (e) {
        first ??= e;
      }
    };
    attempt(() => {
      bpfLinkDetach(link);
      // Verify: a detached XDP link reports no device any more.
      const left = bpfLinkInfo(link).ifindex;
      if (left !== 0) throw new Error(`XDP link still attached to ifindex ${left} after detach`);
    });
    attempt(() => close(link));
    attempt(() => close(this.progFd));
    attempt(() => close(this.mapFd));
    if (first !== null) throw first;
  }
}
