/**
 * The `bpf(2)` system call (reached through libc's `syscall`, `ffi/raw_syscall.ts`: there is no
 * libc wrapper): the commands ustack uses, the `union bpf_attr` layouts each of them reads, and
 * typed wrappers that throw a {@link SyscallError} naming the errno.
 *
 * Layouts are the kernel's UAPI (`linux/bpf.h`, x86-64). Every attr is built in a zeroed
 * {@link BPF_ATTR_SIZE}-byte block: the kernel requires the bytes past the fields it knows to
 * be zero, and fields we do not set stay zero. Set-up only: every call here allocates.
 *
 * @module
 */

import { rawSyscall } from "./raw_syscall.ts";
import { SyscallError } from "./errno.ts";
import { addressOf, allocStruct, cString } from "./structs.ts";

/** `__NR_bpf` on x86-64. */
export const SYS_BPF = 321;
/** Bytes of the `bpf_attr` blocks we pass (covers every field used here; the rest is zero). */
export const BPF_ATTR_SIZE = 128;

// --- commands (enum bpf_cmd) --------------------------------------------------------------------

/** Create a map; returns its fd. */
export const BPF_MAP_CREATE = 0;
/** Look up a map element. */
export const BPF_MAP_LOOKUP_ELEM = 1;
/** Create or update a map element. */
export const BPF_MAP_UPDATE_ELEM = 2;
/** Delete a map element. */
export const BPF_MAP_DELETE_ELEM = 3;
/** Verify and load a program; returns its fd. */
export const BPF_PROG_LOAD = 5;
/** Information about a prog/map/link fd (`bpf_*_info`). */
export const BPF_OBJ_GET_INFO_BY_FD = 15;
/** Attach a program through a link; returns the link fd (detached when it closes). */
export const BPF_LINK_CREATE = 28;
/** Replace the program a link holds, atomically (no frame goes without a program). */
export const BPF_LINK_UPDATE = 29;
/** Detach a link's program now, even while other fds keep the link alive. */
export const BPF_LINK_DETACH = 34;

// --- map, program and attach types ----------------------------------------------------------------

/** `BPF_MAP_TYPE_XSKMAP`: queue index → AF_XDP socket, the target of `bpf_redirect_map`. */
export const BPF_MAP_TYPE_XSKMAP = 17;
/** `BPF_PROG_TYPE_XDP`. */
export const BPF_PROG_TYPE_XDP = 6;
/** `enum bpf_attach_type` `BPF_XDP`: attach to a device's XDP hook through a link. */
export const BPF_XDP = 37;
/** `BPF_PROG_TYPE_SCHED_CLS`: a tc classifier (also the type of tcx programs). */
export const BPF_PROG_TYPE_SCHED_CLS = 3;
/**
 * `enum bpf_attach_type` `BPF_TCX_INGRESS` (Linux ≥ 6.6): a device's tc ingress hook through a
 * link, no qdisc or netlink needed. It runs after the packet taps (AF_PACKET `ETH_P_ALL`
 * sockets already have the frame) and before the kernel's own protocols.
 */
export const BPF_TCX_INGRESS = 46;
/** tc verdict (`linux/pkt_cls.h`): drop the frame (`TC_ACT_SHOT`). */
export const TC_ACT_SHOT = 2;
/**
 * tc verdict `TC_ACT_UNSPEC` (tcx: `TCX_NEXT`): no opinion — the next program on the hook
 * decides, and with none left the frame goes on into the kernel's protocols.
 */
export const TC_ACT_UNSPEC = -1;
/** `prog_flags`: the XDP program understands multi-buffer (fragmented) frames. */
export const BPF_F_XDP_HAS_FRAGS = 1 << 5;
/** `BPF_ANY`: create the element or update it. */
export const BPF_ANY = 0;

// --- instruction encoding (linux/bpf_common.h, linux/bpf.h) --------------------------------------

/** Bytes of one instruction slot: `code` u8, `dst_reg:4 src_reg:4` u8, `off` s16, `imm` s32. */
export const BPF_INSN_BYTES = 8;
/** Class `BPF_LDX` | mode `BPF_MEM` | size `BPF_W`: `dst = *(u32 *)(src + off)`. */
export const BPF_OP_LDX_MEM_W = 0x01 | 0x60 | 0x00;
/** Class `BPF_LD` | mode `BPF_IMM` | size `BPF_DW`: 64-bit immediate load (two slots). */
export const BPF_OP_LD_IMM64 = 0x00 | 0x00 | 0x18;
/** Class `BPF_ALU64` | op `BPF_MOV` | source `BPF_K`: `dst = imm`. */
export const BPF_OP_MOV64_IMM = 0x07 | 0xb0 | 0x00;
/** Class `BPF_ALU64` | op `BPF_MOV` | source `BPF_X`: `dst = src`. */
export const BPF_OP_MOV64_REG = 0x07 | 0xb0 | 0x08;
/**
 * Class `BPF_LD` | mode `BPF_ABS` | size `BPF_H`: `r0 = ntohs(*(u16 *)(skb->data + imm))`
 * (socket filter and tc programs; the context must be in r6; a read past the frame ends the
 * program with r0 = 0).
 */
export const BPF_OP_LD_ABS_H = 0x00 | 0x20 | 0x08;
/** Class `BPF_LD` | mode `BPF_ABS` | size `BPF_W`: `r0 = ntohl(*(u32 *)(skb->data + imm))`. */
export const BPF_OP_LD_ABS_W = 0x00 | 0x20 | 0x00;
/** Class `BPF_JMP` | op `BPF_JNE` | source `BPF_K`: `if dst != imm goto pc + off` (64-bit). */
export const BPF_OP_JNE_IMM = 0x05 | 0x50 | 0x00;
/**
 * Class `BPF_JMP32` | op `BPF_JEQ` | source `BPF_K`: `if (u32)dst == (u32)imm goto pc + off`
 * (Linux ≥ 5.1) — the low 32 bits only, so an address ≥ 2³¹ compares as it is, not as the
 * sign-extended `imm` of a 64-bit jump.
 */
export const BPF_OP_JMP32_JEQ_IMM = 0x06 | 0x10 | 0x00;
/** Class `BPF_JMP` | op `BPF_JEQ` | source `BPF_K`: `if dst == imm goto pc + off` (64-bit). */
export const BPF_OP_JEQ_IMM = 0x05 | 0x10 | 0x00;
/**
 * Class `BPF_JMP32` | op `BPF_JNE` | source `BPF_K`: `if (u32)dst != (u32)imm goto pc + off`
 * (Linux ≥ 5.1; the low 32 bits only, as {@link BPF_OP_JMP32_JEQ_IMM}).
 */
export const BPF_OP_JMP32_JNE_IMM = 0x06 | 0x50 | 0x00;
/** Class `BPF_JMP` | op `BPF_JA`: `goto pc + off`. */
export const BPF_OP_JA = 0x05 | 0x00;
/** Class `BPF_JMP` | op `BPF_CALL`: call helper `imm`. */
export const BPF_OP_CALL = 0x05 | 0x80;
/** Class `BPF_JMP` | op `BPF_EXIT`: return r0. */
export const BPF_OP_EXIT = 0x05 | 0x90;
/** `src_reg` of a 64-bit immediate load whose `imm` is a map fd (`BPF_PSEUDO_MAP_FD`). */
export const BPF_PSEUDO_MAP_FD = 1;
/** Helper id of `bpf_redirect_map(map, key, flags)`. */
export const BPF_FUNC_REDIRECT_MAP = 51;
/** `struct xdp_md`: offset of `rx_queue_index` (after data, data_end, data_meta, ifindex). */
export const XDP_MD_RX_QUEUE_INDEX = 16;

/** XDP action: let the frame continue into the kernel's stack. */
export const XDP_PASS = 2;
/** XDP action: drop the frame. */
export const XDP_DROP = 1;

/** XDP attach flag (`linux/if_link.h`): generic (skb) mode, works on every device. */
export const XDP_FLAGS_SKB_MODE = 1 << 1;
/** XDP attach flag: native driver mode (fails where the driver has no XDP support). */
export const XDP_FLAGS_DRV_MODE = 1 << 2;
/** XDP attach flag: offloaded to the NIC. */
export const XDP_FLAGS_HW_MODE = 1 << 3;

// --- bpf_attr layouts -------------------------------------------------------------------------------

/** BPF_MAP_CREATE: `map_type` (u32). */
export const MAP_CREATE_TYPE = 0;
/** BPF_MAP_CREATE: `key_size` (u32). */
export const MAP_CREATE_KEY_SIZE = 4;
/** BPF_MAP_CREATE: `value_size` (u32). */
export const MAP_CREATE_VALUE_SIZE = 8;
/** BPF_MAP_CREATE: `max_entries` (u32). */
export const MAP_CREATE_MAX_ENTRIES = 12;
/** BPF_MAP_CREATE: `map_flags` (u32). */
export const MAP_CREATE_FLAGS = 16;
/** BPF_MAP_CREATE: `map_name` (16 bytes, NUL-terminated). */
export const MAP_CREATE_NAME = 28;

/** BPF_MAP_*_ELEM: `map_fd` (u32). */
export const MAP_ELEM_FD = 0;
/** BPF_MAP_*_ELEM: `key` (pointer as u64). */
export const MAP_ELEM_KEY = 8;
/** BPF_MAP_*_ELEM: `value` (pointer as u64). */
export const MAP_ELEM_VALUE = 16;
/** BPF_MAP_*_ELEM: `flags` (u64, `BPF_ANY`…). */
export const MAP_ELEM_FLAGS = 24;

/** BPF_PROG_LOAD: `prog_type` (u32). */
export const PROG_LOAD_TYPE = 0;
/** BPF_PROG_LOAD: `insn_cnt` (u32): instruction slots (8 bytes each). */
export const PROG_LOAD_INSN_CNT = 4;
/** BPF_PROG_LOAD: `insns` (pointer as u64). */
export const PROG_LOAD_INSNS = 8;
/** BPF_PROG_LOAD: `license` (pointer to a C string, as u64). */
export const PROG_LOAD_LICENSE = 16;
/** BPF_PROG_LOAD: `log_level` (u32). */
export const PROG_LOAD_LOG_LEVEL = 24;
/** BPF_PROG_LOAD: `log_size` (u32). */
export const PROG_LOAD_LOG_SIZE = 28;
/** BPF_PROG_LOAD: `log_buf` (pointer as u64). */
export const PROG_LOAD_LOG_BUF = 32;
/** BPF_PROG_LOAD: `prog_flags` (u32, `BPF_F_*`). */
export const PROG_LOAD_FLAGS = 44;
/** BPF_PROG_LOAD: `prog_name` (16 bytes, NUL-terminated). */
export const PROG_LOAD_NAME = 48;
/** BPF_PROG_LOAD: `expected_attach_type` (u32). */
export const PROG_LOAD_EXPECTED_ATTACH_TYPE = 68;

/** BPF_LINK_CREATE: `prog_fd` (u32). */
export const LINK_CREATE_PROG_FD = 0;
/** BPF_LINK_CREATE: `target_ifindex` (u32; a union with `target_fd`). */
export const LINK_CREATE_TARGET_IFINDEX = 4;
/** BPF_LINK_CREATE: `attach_type` (u32). */
export const LINK_CREATE_ATTACH_TYPE = 8;
/** BPF_LINK_CREATE: `flags` (u32; for XDP the `XDP_FLAGS_*`). */
export const LINK_CREATE_FLAGS = 12;

/** BPF_LINK_UPDATE: `link_fd` (u32). */
export const LINK_UPDATE_FD = 0;
/** BPF_LINK_UPDATE: `new_prog_fd` (u32). */
export const LINK_UPDATE_NEW_PROG_FD = 4;

/** BPF_LINK_DETACH: `link_fd` (u32). */
export const LINK_DETACH_FD = 0;

/** BPF_OBJ_GET_INFO_BY_FD: `bpf_fd` (u32). */
export const INFO_BPF_FD = 0;
/** BPF_OBJ_GET_INFO_BY_FD: `info_len` (u32, in-out). */
export const INFO_LEN = 4;
/** BPF_OBJ_GET_INFO_BY_FD: `info` (pointer as u64). */
export const INFO_PTR = 8;
/** `struct bpf_prog_info`: `id` (u32) at offset 4 (after `type`). */
export const PROG_INFO_ID = 4;
/** Bytes of `struct bpf_prog_info` we ask for (enough for `type` and `id`). */
export const PROG_INFO_SIZE = 8;
/** `struct bpf_link_info`: `id` (u32) at offset 4 (after `type`). */
export const LINK_INFO_ID = 4;
/** `struct bpf_link_info`: `prog_id` (u32). */
export const LINK_INFO_PROG_ID = 8;
/** `struct bpf_link_info`: XDP `ifindex` (u32), the first field of the union. */
export const LINK_INFO_XDP_IFINDEX = 16;
/** Bytes of `struct bpf_link_info` we ask for (up to the XDP ifindex). */
export const LINK_INFO_SIZE = 24;

/** Bytes of verifier log kept when a load fails (the verifier is retried with a log). */
const VERIFIER_LOG_BYTES = 16_384;

// --- the call -----------------------------------------------------------------------------------

/**
 * `bpf(cmd, attr, attr.byteLength)`: the (non-negative) result, or throws SyscallError naming
 * `what`.
 *
 * @example
 * ```ts
 * const attr = bpfAttr();
 * new DataView(attr.buffer).setUint32(LINK_DETACH_FD, linkFd, true);
 * bpf(BPF_LINK_DETACH, attr, "BPF_LINK_DETACH");
 * ```
 */
export function bpf(cmd: number, attr: Uint8Array, what: string): number {
  const r = rawSyscall(SYS_BPF, cmd, addressOf(attr), attr.byteLength);
  if (r < 0) throw new SyscallError("bpf", -r, what);
  return r;
}

/**
 * A zeroed `bpf_attr` block of {@link BPF_ATTR_SIZE} bytes.
 *
 * @example
 * ```ts
 * const attr = bpfAttr();
 * ```
 */
export function bpfAttr(): Uint8Array {
  return allocStruct(BPF_ATTR_SIZE);
}

/** Write a NUL-terminated name of at most 15 bytes at `at` (longer names are cut). */
function setName(attr: Uint8Array, at: number, name: string): void {
  const bytes = new TextEncoder().encode(name).subarray(0, 15);
  attr.set(bytes, at);
}

// --- maps -----------------------------------------------------------------------------------------

/** What {@link bpfMapCreate} makes. */
export interface MapSpec {
  /** `BPF_MAP_TYPE_*`. */
  type: number;
  /** Key bytes. */
  keySize: number;
  /** Value bytes. */
  valueSize: number;
  /** Capacity. */
  maxEntries: number;
  /** Name shown by introspection tools (≤ 15 bytes; letters, digits, `_`, `.`). */
  name?: string;
}

/**
 * `BPF_MAP_CREATE`: a new map; returns its fd (close it to free the map once nothing else
 * holds it).
 *
 * @example
 * ```ts
 * const mapFd = bpfMapCreate({ type: BPF_MAP_TYPE_XSKMAP, keySize: 4, valueSize: 4, maxEntries: 1 });
 * ```
 */
export function bpfMapCreate(spec: MapSpec): number {
  const attr = bpfAttr();
  const v = new DataView(attr.buffer);
  v.setUint32(MAP_CREATE_TYPE, spec.type, true);
  v.setUint32(MAP_CREATE_KEY_SIZE, spec.keySize, true);
  v.setUint32(MAP_CREATE_VALUE_SIZE, spec.valueSize, true);
  v.setUint32(MAP_CREATE_MAX_ENTRIES, spec.maxEntries, true);
  if (spec.name !== undefined) setName(attr, MAP_CREATE_NAME, spec.name);
  return bpf(BPF_MAP_CREATE, attr, `BPF_MAP_CREATE type ${spec.type}`);
}

/**
 * `BPF_MAP_UPDATE_ELEM` with a 4-byte key and a 4-byte value (the XSKMAP shape:
 * queue index → socket fd).
 *
 * @example
 * ```ts
 * bpfMapUpdateU32(mapFd, 0, xskFd);
 * ```
 */
export function bpfMapUpdateU32(mapFd: number, key: number, value: number, flags = BPF_ANY): void {
  const keyCell = allocStruct(4);
  const valueCell = allocStruct(4);
  new DataView(keyCell.buffer).setUint32(0, key, true);
  new DataView(valueCell.buffer).setUint32(0, value, true);
  const attr = bpfAttr();
  const v = new DataView(attr.buffer);
  v.setUint32(MAP_ELEM_FD, mapFd, true);
  v.setBigUint64(MAP_ELEM_KEY, addressOf(keyCell), true);
  v.setBigUint64(MAP_ELEM_VALUE, addressOf(valueCell), true);
  v.setBigUint64(MAP_ELEM_FLAGS, BigInt(flags), true);
  bpf(BPF_MAP_UPDATE_ELEM, attr, `BPF_MAP_UPDATE_ELEM key ${key}`);
}

// --- programs -------------------------------------------------------------------------------------

/** What {@link bpfProgLoad} loads. */
export interface ProgSpec {
  /** `BPF_PROG_TYPE_*`. */
  type: number;
  /** The instructions: 8 bytes per slot (a 64-bit immediate load takes two). */
  insns: Uint8Array;
  /** License string; helpers such as `bpf_redirect_map` need a GPL-compatible one. */
  license: string;
  /** `BPF_F_*` load flags (e.g. {@link BPF_F_XDP_HAS_FRAGS}). */
  flags?: number;
  /** `expected_attach_type` (e.g. {@link BPF_XDP}). */
  expectedAttachType?: number;
  /** Name shown by introspection tools (≤ 15 bytes). */
  name?: string;
}

/**
 * `BPF_PROG_LOAD`: verify and load a program; returns its fd. When the verifier refuses it, the
 * load is repeated with a log and the SyscallError's message carries the verifier's words.
 *
 * @example
 * ```ts
 * const progFd = bpfProgLoad({ type: BPF_PROG_TYPE_XDP, insns, license: "GPL" });
 * ```
 */
export function bpfProgLoad(spec: ProgSpec): number {
  if (spec.insns.byteLength === 0 || spec.insns.byteLength % 8 !== 0) {
    throw new RangeError(`bpfProgLoad: ${spec.insns.byteLength} bytes is not whole instructions`);
  }
  // Own ArrayBuffers: the kernel reads these addresses during the call.
  const insns = allocStruct(spec.insns.byteLength);
  insns.set(spec.insns);
  const license = cString(spec.license);
  const licenseCell = allocStruct(license.length);
  licenseCell.set(license);
  const build = (log: Uint8Array | null): Uint8Array => {
    const attr = bpfAttr();
    const v = new DataView(attr.buffer);
    v.setUint32(PROG_LOAD_TYPE, spec.type, true);
    v.setUint32(PROG_LOAD_INSN_CNT, insns.byteLength / 8, true);
    v.setBigUint64(PROG_LOAD_INSNS, addressOf(insns), true);
    v.setBigUint64(PROG_LOAD_LICENSE, addressOf(licenseCell), true);
    if (log !== null) {
      v.setUint32(PROG_LOAD_LOG_LEVEL, 1, true);
      v.setUint32(PROG_LOAD_LOG_SIZE, log.byteLength, true);
      v.setBigUint64(PROG_LOAD_LOG_BUF, addressOf(log), true);
    }
    v.setUint32(PROG_LOAD_FLAGS, spec.flags ?? 0, true);
    if (spec.name !== undefined) setName(attr, PROG_LOAD_NAME, spec.name);
    v.setUint32(PROG_LOAD_EXPECTED_ATTACH_TYPE, spec.expectedAttachType ?? 0, true);
    return attr;
  };
  try {
    return bpf(BPF_PROG_LOAD, build(null), "BPF_PROG_LOAD");
  } catch {
    const log = allocStruct(VERIFIER_LOG_BYTES);
    try {
      return bpf(BPF_PROG_LOAD, build(log), "BPF_PROG_LOAD");
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      const end = log.indexOf(0);
      const text = new TextDecoder().decode(log.subarray(0, end < 0 ? log.length : end)).trim();
      throw new SyscallError(
        "bpf",
        e.errno,
        text === "" ? "BPF_PROG_LOAD" : `BPF_PROG_LOAD: verifier: ${text}`,
      );
    }
  }
}

// --- links ----------------------------------------------------------------------------------------

/**
 * `BPF_LINK_CREATE` attaching `progFd` to device `ifindex` as `attachType` (XDP: `flags` are
 * the `XDP_FLAGS_*` mode bits, 0 lets the kernel pick native mode when the driver has it).
 * Returns the link fd: the program stays attached exactly as long as the link lives.
 *
 * @example
 * ```ts
 * const linkFd = bpfLinkCreate(progFd, ifindex, BPF_XDP, 0);
 * ```
 */
export function bpfLinkCreate(
  progFd: number,
  ifindex: number,
  attachType: number,
  flags: number,
): number {
  const attr = bpfAttr();
  const v = new DataView(attr.buffer);
  v.setUint32(LINK_CREATE_PROG_FD, progFd, true);
  v.setUint32(LINK_CREATE_TARGET_IFINDEX, ifindex, true);
  v.setUint32(LINK_CREATE_ATTACH_TYPE, attachType, true);
  v.setUint32(LINK_CREATE_FLAGS, flags, true);
  return bpf(BPF_LINK_CREATE, attr, `BPF_LINK_CREATE ifindex ${ifindex} flags ${flags}`);
}

/**
 * `BPF_LINK_UPDATE`: make link `linkFd` run `progFd` from now on, in place of its program (the
 * kernel swaps them atomically; the old program is freed once nothing else holds it).
 *
 * @example
 * ```ts ignore
 * bpfLinkUpdate(linkFd, newProgFd);
 * close(newProgFd); // the link holds it
 * ```
 */
export function bpfLinkUpdate(linkFd: number, progFd: number): void {
  const attr = bpfAttr();
  const v = new DataView(attr.buffer);
  v.setUint32(LINK_UPDATE_FD, linkFd, true);
  v.setUint32(LINK_UPDATE_NEW_PROG_FD, progFd, true);
  bpf(BPF_LINK_UPDATE, attr, `BPF_LINK_UPDATE link ${linkFd}`);
}

/**
 * `BPF_LINK_DETACH`: detach the link's program now (the fd stays open and must still be
 * closed).
 *
 * @example
 * ```ts
 * bpfLinkDetach(linkFd);
 * close(linkFd);
 * ```
 */
export function bpfLinkDetach(linkFd: number): void {
  const attr = bpfAttr();
  new DataView(attr.buffer).setUint32(LINK_DETACH_FD, linkFd, true);
  bpf(BPF_LINK_DETACH, attr, "BPF_LINK_DETACH");
}

/** Ids the kernel gave a link: its own, its program's, and the device it is attached to. */
export interface LinkInfo {
  /** The link's id. */
  id: number;
  /** The attached program's id. */
  progId: number;
  /** For XDP links: the device's ifindex (0 once detached). */
  ifindex: number;
}

/**
 * `BPF_OBJ_GET_INFO_BY_FD` on a link fd.
 *
 * @example
 * ```ts
 * const { progId, ifindex } = bpfLinkInfo(linkFd);
 * ```
 */
export function bpfLinkInfo(linkFd: number): LinkInfo {
  const info = allocStruct(LINK_INFO_SIZE);
  const attr = bpfAttr();
  const v = new DataView(attr.buffer);
  v.setUint32(INFO_BPF_FD, linkFd, true);
  v.setUint32(INFO_LEN, info.byteLength, true);
  v.setBigUint64(INFO_PTR, addressOf(info), true);
  bpf(BPF_OBJ_GET_INFO_BY_FD, attr, "BPF_OBJ_GET_INFO_BY_FD (link)");
  const iv = new DataView(info.buffer);
  return {
    id: iv.getUint32(LINK_INFO_ID, true),
    progId: iv.getUint32(LINK_INFO_PROG_ID, true),
    ifindex: iv.getUint32(LINK_INFO_XDP_IFINDEX, true),
  };
}
