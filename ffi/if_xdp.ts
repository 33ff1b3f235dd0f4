/**
 * AF_XDP's kernel ABI (`linux/if_xdp.h`, x86-64): socket options, bind flags, the mmap page
 * offsets of the four rings, the layouts of `xdp_umem_reg`, `xdp_mmap_offsets`,
 * `sockaddr_xdp`, `xdp_desc` and `xdp_statistics`, and small helpers that build or read them
 * (set-up only: they allocate).
 *
 * @module
 */

import { AF_XDP, SOL_XDP } from "./constants.ts";
import { allocStruct } from "./structs.ts";
import { getsockopt } from "./syscalls.ts";

// --- socket options (level SOL_XDP) -------------------------------------------------------------

/** XDP sockopt: ring offsets inside the mmaps (`xdp_mmap_offsets`). */
export const XDP_MMAP_OFFSETS = 1;
/** XDP sockopt: RX ring size. */
export const XDP_RX_RING = 2;
/** XDP sockopt: TX ring size. */
export const XDP_TX_RING = 3;
/** XDP sockopt: register UMEM (`xdp_umem_reg`). */
export const XDP_UMEM_REG = 4;
/** XDP sockopt: fill ring size. */
export const XDP_UMEM_FILL_RING = 5;
/** XDP sockopt: completion ring size. */
export const XDP_UMEM_COMPLETION_RING = 6;
/** XDP sockopt: counters (`xdp_statistics`). */
export const XDP_STATISTICS = 7;
/** XDP sockopt: `struct xdp_options` (u32 flags). */
export const XDP_OPTIONS = 8;
/** `xdp_options.flags`: the socket runs in zero-copy mode. */
export const XDP_OPTIONS_ZEROCOPY = 1;

// --- bind flags (sockaddr_xdp.sxdp_flags) -------------------------------------------------------

/** `sxdp_flags`: copy mode. */
export const XDP_COPY = 1 << 1;
/** `sxdp_flags`: zero-copy mode. */
export const XDP_ZEROCOPY = 1 << 2;
/** `sxdp_flags`: use the need-wakeup flags. */
export const XDP_USE_NEED_WAKEUP = 1 << 3;
/** `sxdp_flags`: multi-buffer frames. */
export const XDP_USE_SG = 1 << 4;

// --- mmap page offsets of the rings -------------------------------------------------------------

/** mmap offset of the RX ring. */
export const XDP_PGOFF_RX_RING = 0n;
/** mmap offset of the TX ring. */
export const XDP_PGOFF_TX_RING = 0x80000000n;
/** mmap offset of the fill ring. */
export const XDP_UMEM_PGOFF_FILL_RING = 0x100000000n;
/** mmap offset of the completion ring. */
export const XDP_UMEM_PGOFF_COMPLETION_RING = 0x180000000n;

// --- descriptors and chunks ---------------------------------------------------------------------

/** `xdp_desc.options`: more descriptors of the same frame follow (multi-buffer). */
export const XDP_PKT_CONTD = 1;
/** Headroom the kernel keeps in front of received data in every chunk (`XDP_PACKET_HEADROOM`). */
export const XDP_PACKET_HEADROOM = 256;
/** `sizeof(struct xdp_desc)`: addr u64, len u32, options u32. */
export const XDP_DESC_SIZE = 16;
/** `xdp_desc` read as u32 words: the low word of `addr` (UMEM offsets stay below 4 GiB). */
export const XDP_DESC_ADDR_LO_WORD = 0;
/** `xdp_desc` read as u32 words: the high word of `addr`. */
export const XDP_DESC_ADDR_HI_WORD = 1;
/** `xdp_desc` read as u32 words: `len`. */
export const XDP_DESC_LEN_WORD = 2;
/** `xdp_desc` read as u32 words: `options`. */
export const XDP_DESC_OPTIONS_WORD = 3;
/** Size of a fill/completion ring entry: one u64 UMEM address. */
export const XDP_ADDR_ENTRY_SIZE = 8;

// --- struct xdp_umem_reg, 32 bytes --------------------------------------------------------------

/** `sizeof(struct xdp_umem_reg)` (with `tx_metadata_len`). */
export const XDP_UMEM_REG_SIZE = 32;
/** `addr` (u64): start of the UMEM. */
export const UMEM_REG_ADDR = 0;
/** `len` (u64): bytes of the UMEM. */
export const UMEM_REG_LEN = 8;
/** `chunk_size` (u32). */
export const UMEM_REG_CHUNK_SIZE = 16;
/** `headroom` (u32). */
export const UMEM_REG_HEADROOM = 20;
/** `flags` (u32). */
export const UMEM_REG_FLAGS = 24;

// --- struct xdp_mmap_offsets: four struct xdp_ring_offset of four u64 ---------------------------

/** `sizeof(struct xdp_mmap_offsets)`. */
export const XDP_MMAP_OFFSETS_SIZE = 128;
/** `rx` ring offsets. */
export const MMAP_OFF_RX = 0;
/** `tx` ring offsets. */
export const MMAP_OFF_TX = 32;
/** `fr` (fill ring) offsets. */
export const MMAP_OFF_FILL = 64;
/** `cr` (completion ring) offsets. */
export const MMAP_OFF_COMPLETION = 96;
/** `xdp_ring_offset.producer` (u64). */
export const RING_OFF_PRODUCER = 0;
/** `xdp_ring_offset.consumer` (u64). */
export const RING_OFF_CONSUMER = 8;
/** `xdp_ring_offset.desc` (u64). */
export const RING_OFF_DESC = 16;
/** `xdp_ring_offset.flags` (u64). */
export const RING_OFF_FLAGS = 24;

// --- struct sockaddr_xdp, 16 bytes --------------------------------------------------------------

/** `sizeof(struct sockaddr_xdp)`. */
export const SOCKADDR_XDP_SIZE = 16;
/** `sxdp_family` (u16). */
export const SXDP_FAMILY = 0;
/** `sxdp_flags` (u16). */
export const SXDP_FLAGS = 2;
/** `sxdp_ifindex` (u32). */
export const SXDP_IFINDEX = 4;
/** `sxdp_queue_id` (u32). */
export const SXDP_QUEUE_ID = 8;
/** `sxdp_shared_umem_fd` (u32). */
export const SXDP_SHARED_UMEM_FD = 12;

// --- struct xdp_statistics, six u64 -------------------------------------------------------------

/** `sizeof(struct xdp_statistics)`. */
export const XDP_STATISTICS_SIZE = 48;

/** Byte offsets, inside one mapped ring, of the fields `XDP_MMAP_OFFSETS` reports. */
export interface XdpRingOffsets {
  /** The producer index (u32). */
  producer: number;
  /** The consumer index (u32). */
  consumer: number;
  /** The first descriptor. */
  desc: number;
  /** The ring's flags word (need-wakeup). */
  flags: number;
}

/** Where the fields of each of the four rings sit (`struct xdp_mmap_offsets`). */
export interface XdpMmapOffsets {
  /** RX ring. */
  rx: XdpRingOffsets;
  /** TX ring. */
  tx: XdpRingOffsets;
  /** Fill ring. */
  fill: XdpRingOffsets;
  /** Completion ring. */
  completion: XdpRingOffsets;
}

/** The kernel's own counters of an XDP socket (`struct xdp_statistics`). */
export interface XdpKernelStats {
  /** Frames dropped for reasons other than the two below. */
  rxDropped: number;
  /** Invalid descriptors found on the fill ring. */
  rxInvalidDescs: number;
  /** Invalid descriptors found on the TX ring. */
  txInvalidDescs: number;
  /** Frames dropped because the RX ring was full. */
  rxRingFull: number;
  /** Frames dropped because the fill ring was empty. */
  rxFillRingEmptyDescs: number;
  /** Times the kernel found the TX ring empty. */
  txRingEmptyDescs: number;
}

/**
 * A `struct xdp_umem_reg` registering `len` bytes at `addr` in chunks of `chunkSize`, with
 * `headroom` bytes the kernel leaves free in front of each chunk's data.
 *
 * @example
 * ```ts
 * setsockopt(fd, SOL_XDP, XDP_UMEM_REG, xdpUmemReg(Deno.UnsafePointer.value(umem), 16 << 20, 4096));
 * ```
 */
export function xdpUmemReg(addr: bigint, len: number, chunkSize: number, headroom = 0): Uint8Array {
  const reg = allocStruct(XDP_UMEM_REG_SIZE);
  const v = new DataView(reg.buffer);
  v.setBigUint64(UMEM_REG_ADDR, addr, true);
  v.setBigUint64(UMEM_REG_LEN, BigInt(len), true);
  v.setUint32(UMEM_REG_CHUNK_SIZE, chunkSize, true);
  v.setUint32(UMEM_REG_HEADROOM, headroom, true);
  return reg;
}

/**
 * A `struct sockaddr_xdp` binding to queue `queue` of interface `ifindex` with `XDP_*` bind
 * `flags`.
 *
 * @example
 * ```ts
 * bind(fd, sockaddrXdp(ifindex, 0, XDP_COPY));
 * ```
 */
export function sockaddrXdp(ifindex: number, queue: number, flags: number): Uint8Array {
  const addr = allocStruct(SOCKADDR_XDP_SIZE);
  const v = new DataView(addr.buffer);
  v.setUint16(SXDP_FAMILY, AF_XDP, true);
  v.setUint16(SXDP_FLAGS, flags, true);
  v.setUint32(SXDP_IFINDEX, ifindex, true);
  v.setUint32(SXDP_QUEUE_ID, queue, true);
  return addr;
}

/**
 * Where the kernel put the fields of the four rings of XDP socket `fd`
 * (`getsockopt(XDP_MMAP_OFFSETS)`; throws SyscallError). Ask after the ring sizes are set.
 *
 * @example
 * ```ts
 * const { rx } = xdpMmapOffsets(fd); // e.g. producer 0, consumer 128, desc 320
 * ```
 */
export function xdpMmapOffsets(fd: number): XdpMmapOffsets {
  const buf = allocStruct(XDP_MMAP_OFFSETS_SIZE);
  getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, buf);
  const v = new DataView(buf.buffer);
  const ring = (base: number): XdpRingOffsets => ({
    producer: Number(v.getBigUint64(base + RING_OFF_PRODUCER, true)),
    consumer: Number(v.getBigUint64(base + RING_OFF_CONSUMER, true)),
    desc: Number(v.getBigUint64(base + RING_OFF_DESC, true)),
    flags: Number(v.getBigUint64(base + RING_OFF_FLAGS, true)),
  });
  return {
    rx: ring(MMAP_OFF_RX),
    tx: ring(MMAP_OFF_TX),
    fill: ring(MMAP_OFF_FILL),
    completion: ring(MMAP_OFF_COMPLETION),
  };
}

/**
 * The `xdp_options.flags` of XDP socket `fd` (`getsockopt(XDP_OPTIONS)`; throws SyscallError).
 *
 * @example
 * ```ts
 * const zeroCopy = (xdpOptionFlags(fd) & XDP_OPTIONS_ZEROCOPY) !== 0;
 * ```
 */
export function xdpOptionFlags(fd: number): number {
  const buf = allocStruct(4);
  getsockopt(fd, SOL_XDP, XDP_OPTIONS, buf);
  return new DataView(buf.buffer).getUint32(0, true);
}

/**
 * The kernel's counters of XDP socket `fd` (`getsockopt(XDP_STATISTICS)`; throws
 * SyscallError).
 *
 * @example
 * ```ts
 * const { rxRingFull } = xdpStatistics(fd);
 * ```
 */
export function xdpStatistics(fd: number): XdpKernelStats {
  const buf = allocStruct(XDP_STATISTICS_SIZE);
  getsockopt(fd, SOL_XDP, XDP_STATISTICS, buf);
  const v = new DataView(buf.buffer);
  const at = (i: number): number => Number(v.getBigUint64(i * 8, true));
  return {
    rxDropped: at(0),
    rxInvalidDescs: at(1),
    txInvalidDescs: at(2),
    rxRingFull: at(3),
    rxFillRingEmptyDescs: at(4),
    txRingEmptyDescs: at(5),
  };
}
