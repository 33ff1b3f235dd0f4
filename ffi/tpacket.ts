/**
 * PACKET_MMAP ring layouts (`linux/if_packet.h`, Linux x86-64): the `tpacket_req` (V1/V2) and
 * `tpacket_req3` requests, the TPACKET_V3 block descriptor and frame header, the TPACKET_V2 frame
 * header, ring status words, where each fixed-size frame of a ring starts, the statistics, and an
 * allocation-free `PACKET_STATISTICS` read.
 *
 * Offsets are byte offsets from the start of the struct; every field named here is a
 * little-endian u32 unless its comment says otherwise. See `drivers/af_packet_ring.ts` for how
 * the rings are walked.
 *
 * @module
 */

import { errno, libc } from "./libc.ts";
import { SOL_PACKET } from "./constants.ts";
import { allocStruct } from "./structs.ts";

// --- socket options not in constants.ts ---------------------------------------------------------

/** PACKET option: on a malformed TX ring frame, skip it (status back to AVAILABLE) instead of
 * stopping the ring at it with TP_STATUS_WRONG_FORMAT. */
export const PACKET_LOSS = 14;
/**
 * `PACKET_COPY_THRESH` (V1/V2 rings): a frame longer than its slot is also queued whole on the
 * socket (read it with recvfrom), the slot holding a cut-short copy flagged TP_STATUS_COPY.
 */
export const PACKET_COPY_THRESH = 7;
/** PACKET option: the frame header length of the current ring version (`getsockopt`). */
export const PACKET_HDRLEN = 11;
/** PACKET option: headroom reserved in front of each RX ring frame. */
export const PACKET_RESERVE = 12;
/** PACKET option: TX ring frames carry their own data offset (`tp_mac`/`tp_net`). */
export const PACKET_TX_HAS_OFF = 19;
/** PACKET option: virtio_net_hdr of a chosen size (10 or 12 bytes; Linux ≥ 6.8). */
export const PACKET_VNET_HDR_SZ = 24;

// --- ring status words ---------------------------------------------------------------------------

/** RX frame/block: owned by the kernel. */
export const TP_STATUS_KERNEL = 0;
/** RX frame/block: owned by user space (filled, ready to read). */
export const TP_STATUS_USER = 0x1;
/** RX frame (V1/V2): the frame was also queued to the socket because it did not fit. */
export const TP_STATUS_COPY = 0x2;
/** RX frame (V1/V2) or V3 block: the kernel dropped frames since the statistics were read. */
export const TP_STATUS_LOSING = 0x4;
/** V3 block: closed by the retire timer rather than by filling up. */
export const TP_STATUS_BLK_TMO = 0x20;
/** TX frame: free for user space to fill. */
export const TP_STATUS_AVAILABLE = 0;
/** TX frame: filled, to be sent by the next kick. */
export const TP_STATUS_SEND_REQUEST = 0x1;
/** TX frame: handed to the device, memory still in use. */
export const TP_STATUS_SENDING = 0x2;
/** TX frame: rejected as malformed (only without PACKET_LOSS). */
export const TP_STATUS_WRONG_FORMAT = 0x4;
/** TX status bits meaning "not free yet" (SEND_REQUEST | SENDING | WRONG_FORMAT). */
export const TP_STATUS_TX_BUSY = 0x7;

/** Frame headers and frames are aligned to this many bytes (`TPACKET_ALIGNMENT`). */
export const TPACKET_ALIGNMENT = 16;

/**
 * `TPACKET_ALIGN(x)`: `x` rounded up to {@link TPACKET_ALIGNMENT}.
 *
 * @example
 * ```ts
 * tpacketAlign(68); // 80
 * ```
 */
export function tpacketAlign(x: number): number {
  return (x + TPACKET_ALIGNMENT - 1) & ~(TPACKET_ALIGNMENT - 1);
}

// --- struct tpacket_req3, 28 bytes --------------------------------------------------------------

/** `sizeof(struct tpacket_req3)`. */
export const TPACKET_REQ3_SIZE = 28;
/** `tp_block_size`: bytes per block, a multiple of the page size. */
export const REQ3_BLOCK_SIZE = 0;
/** `tp_block_nr`: number of blocks. */
export const REQ3_BLOCK_NR = 4;
/** `tp_frame_size`: bytes per frame (V3 RX: only checked, frames are variable). */
export const REQ3_FRAME_SIZE = 8;
/** `tp_frame_nr`: must equal `(block_size / frame_size) * block_nr`. */
export const REQ3_FRAME_NR = 12;
/** `tp_retire_blk_tov`: V3 RX block timeout in ms (0: kernel default); 0 for TX rings. */
export const REQ3_RETIRE_BLK_TOV = 16;
/** `tp_sizeof_priv`: per-block private area (0 here). */
export const REQ3_SIZEOF_PRIV = 20;
/** `tp_feature_req_word`: `TP_FT_REQ_*` (0 here). */
export const REQ3_FEATURE_REQ_WORD = 24;

/** The fields of a `tpacket_req3`: a {@link TpacketReq} plus the V3 retire timeout. */
export interface TpacketReq3 extends TpacketReq {
  /** V3 RX block retire timeout in ms; must be 0 for a TX ring. */
  retireBlkTovMs?: number;
}

/**
 * A `struct tpacket_req3` for `setsockopt(PACKET_RX_RING / PACKET_TX_RING)`. Set-up only.
 *
 * @example
 * ```ts
 * const req = tpacketReq3({ blockSize: 1 << 18, blockNr: 32, frameSize: 2048, frameNr: 4096 });
 * setsockopt(fd, SOL_PACKET, PACKET_RX_RING, req);
 * ```
 */
export function tpacketReq3(r: TpacketReq3): Uint8Array {
  const req = allocStruct(TPACKET_REQ3_SIZE);
  const v = new DataView(req.buffer);
  v.setUint32(REQ3_BLOCK_SIZE, r.blockSize, true);
  v.setUint32(REQ3_BLOCK_NR, r.blockNr, true);
  v.setUint32(REQ3_FRAME_SIZE, r.frameSize, true);
  v.setUint32(REQ3_FRAME_NR, r.frameNr, true);
  v.setUint32(REQ3_RETIRE_BLK_TOV, r.retireBlkTovMs ?? 0, true);
  return req;
}

// --- struct tpacket_req, 16 bytes (TPACKET_V1/V2 rings) -------------------------------------------

/** `sizeof(struct tpacket_req)`: what the kernel reads for a V1/V2 ring request. */
export const TPACKET_REQ_SIZE = 16;

/** The fields of a `tpacket_req`: the first four of a `tpacket_req3`, at the same offsets. */
export interface TpacketReq {
  /** Bytes per block (multiple of the page size). */
  blockSize: number;
  /** Number of blocks. */
  blockNr: number;
  /** Bytes per frame (multiple of 16); frames never span blocks. */
  frameSize: number;
  /** Number of frames: `(blockSize / frameSize) * blockNr`. */
  frameNr: number;
}

/**
 * A `struct tpacket_req` for `setsockopt(PACKET_RX_RING / PACKET_TX_RING)` on a socket whose
 * PACKET_VERSION is TPACKET_V1 or V2 (the kernel reads 16 bytes for those). Set-up only.
 *
 * @example
 * ```ts
 * const req = tpacketReq({ blockSize: 1 << 20, blockNr: 18, frameSize: 69_904, frameNr: 270 });
 * setsockopt(fd, SOL_PACKET, PACKET_RX_RING, req);
 * ```
 */
export function tpacketReq(r: TpacketReq): Uint8Array {
  const req = allocStruct(TPACKET_REQ_SIZE);
  const v = new DataView(req.buffer);
  v.setUint32(REQ3_BLOCK_SIZE, r.blockSize, true);
  v.setUint32(REQ3_BLOCK_NR, r.blockNr, true);
  v.setUint32(REQ3_FRAME_SIZE, r.frameSize, true);
  v.setUint32(REQ3_FRAME_NR, r.frameNr, true);
  return req;
}

// --- frame offsets of a V1/V2 ring or any TX ring ---------------------------------------------------

/**
 * Where each fixed-size frame of a ring starts, as byte offsets into the mapping: frame `i` is
 * frame `i % perBlock` of block `i / perBlock` (`packet_lookup_frame`: frames never span blocks,
 * so the tail of a block that is not a whole frame is never used). `base` is where the ring
 * starts in the mapping (the TX ring follows the RX ring). Set-up only.
 *
 * @example
 * ```ts
 * tpacketFrameOffsets(0, 4, 3, 4096, 1024); // [0, 1024, 2048, 4096]
 * ```
 */
export function tpacketFrameOffsets(
  base: number,
  frames: number,
  perBlock: number,
  blockSize: number,
  frameSize: number,
): Int32Array {
  const off = new Int32Array(frames);
  for (let i = 0; i < frames; i++) {
    off[i] = base + Math.floor(i / perBlock) * blockSize + (i % perBlock) * frameSize;
  }
  return off;
}

// --- struct tpacket_block_desc (V3 RX block header), 48 bytes -----------------------------------

/** `BLK_HDR_LEN`: the block descriptor's size, where the first frame may start. */
export const TPACKET_BLOCK_DESC_SIZE = 48;
/** `version` of the block descriptor. */
export const BD_VERSION = 0;
/** `offset_to_priv`. */
export const BD_OFFSET_TO_PRIV = 4;
/** `hdr.bh1.block_status` (`TP_STATUS_KERNEL`/`USER` | `LOSING` | `BLK_TMO`). */
export const BD_BLOCK_STATUS = 8;
/** `hdr.bh1.num_pkts`: frames in the block. */
export const BD_NUM_PKTS = 12;
/** `hdr.bh1.offset_to_first_pkt`: from the block start. */
export const BD_OFFSET_TO_FIRST_PKT = 16;
/** `hdr.bh1.blk_len`: bytes used in the block. */
export const BD_BLK_LEN = 20;
/** `hdr.bh1.seq_num` (u64): block sequence number. */
export const BD_SEQ_NUM = 24;

// --- struct tpacket3_hdr (V3 frame header), 48 bytes --------------------------------------------

/** `TPACKET_ALIGN(sizeof(struct tpacket3_hdr))`; the RX `sockaddr_ll` follows here. */
export const TPACKET3_HDR_SIZE = 48;
/** `TPACKET3_HDRLEN`: header plus `sockaddr_ll` (68). */
export const TPACKET3_HDRLEN = 68;
/** `tp_next_offset`: from this frame to the next one in the block (0: last; 0 on TX). */
export const T3_NEXT_OFFSET = 0;
/** `tp_sec`. */
export const T3_SEC = 4;
/** `tp_nsec`. */
export const T3_NSEC = 8;
/** `tp_snaplen`: bytes stored in the ring (less than `tp_len` when clamped). */
export const T3_SNAPLEN = 12;
/** `tp_len`: the frame's real length (TX: bytes to send, vnet header included). */
export const T3_LEN = 16;
/** `tp_status`: RX `TP_STATUS_*` flags; TX the slot's ownership word. */
export const T3_STATUS = 20;
/** `tp_mac` (u16): offset of the link header from the frame start. */
export const T3_MAC = 24;
/** `tp_net` (u16): offset of the network header from the frame start. */
export const T3_NET = 26;
/** `hv1.tp_rxhash`. */
export const T3_RXHASH = 28;
/** `hv1.tp_vlan_tci`. */
export const T3_VLAN_TCI = 32;
/** `hv1.tp_vlan_tpid` (u16). */
export const T3_VLAN_TPID = 36;
/** Where a V3 TX frame's data starts (`TPACKET3_HDRLEN - sizeof(sockaddr_ll)`). */
export const T3_TX_DATA = 48;
/** Where a V3 RX frame's `sockaddr_ll` starts (`sll_pkttype` at +10 from here). */
export const T3_RX_SOCKADDR = 48;

// --- struct tpacket2_hdr (V2 frame header), 32 bytes --------------------------------------------

/** `TPACKET_ALIGN(sizeof(struct tpacket2_hdr))`. */
export const TPACKET2_HDR_SIZE = 32;
/** `TPACKET2_HDRLEN`: header plus `sockaddr_ll` (52). */
export const TPACKET2_HDRLEN = 52;
/** `tp_status`. */
export const T2_STATUS = 0;
/** `tp_len`. */
export const T2_LEN = 4;
/** `tp_snaplen`. */
export const T2_SNAPLEN = 8;
/** `tp_mac` (u16): offset of the link header from the frame start. */
export const T2_MAC = 12;
/** `tp_net` (u16): offset of the network header from the frame start. */
export const T2_NET = 14;
/** `tp_sec`. */
export const T2_SEC = 16;
/** `tp_nsec`. */
export const T2_NSEC = 20;
/** `tp_vlan_tci` (u16). */
export const T2_VLAN_TCI = 24;
/** `tp_vlan_tpid` (u16). */
export const T2_VLAN_TPID = 26;
/** Where a V2 TX frame's data starts (`TPACKET2_HDRLEN - sizeof(sockaddr_ll)`). */
export const T2_TX_DATA = 32;
/** Where a V2 RX frame's `sockaddr_ll` starts (`sll_pkttype` at +10 from here). */
export const T2_RX_SOCKADDR = 32;

// --- struct tpacket_stats_v3, 12 bytes (V1/V2: struct tpacket_stats, its first 8) ---------------

/** `sizeof(struct tpacket_stats_v3)`. */
export const TPACKET_STATS_V3_SIZE = 12;
/** `sizeof(struct tpacket_stats)`: what a V1/V2 socket returns (no `tp_freeze_q_cnt`). */
export const TPACKET_STATS_SIZE = 8;
/** `tp_packets`: frames seen (drops included), since the last read. */
export const STATS_PACKETS = 0;
/** `tp_drops`: frames dropped (ring full, clamped, …), since the last read. */
export const STATS_DROPS = 4;
/** `tp_freeze_q_cnt`: times the V3 RX queue froze (no free block), since the last read; a
 * V1/V2 socket does not return it ({@link readPacketStatistics} leaves it 0). */
export const STATS_FREEZE_Q_CNT = 8;

/** Socket option: read (and reset) the socket's counters. */
const PACKET_STATISTICS = 6;

/**
 * Reusable buffers for {@link readPacketStatistics}: the `tpacket_stats_v3` and the
 * `socklen_t` cell, both in their own ArrayBuffers. Set-up only.
 *
 * @example
 * ```ts
 * const cells = packetStatisticsCells();
 * ```
 */
export function packetStatisticsCells(): { stats: Uint32Array; len: Uint32Array } {
  return {
    stats: new Uint32Array(allocStruct(TPACKET_STATS_V3_SIZE).buffer),
    len: new Uint32Array(allocStruct(4).buffer),
  };
}

/**
 * `getsockopt(fd, SOL_PACKET, PACKET_STATISTICS)` into `cells.stats` (`[packets, drops,
 * freeze_q_cnt]`; the kernel resets its counters on read). A V1/V2 socket writes only the first
 * two ({@link TPACKET_STATS_SIZE}); the third stays 0. Returns 0, or `-errno`.
 * Allocation-free: a hot-path-safe variant of `getsockopt` for drivers that poll it.
 *
 * @example
 * ```ts
 * const cells = packetStatisticsCells();
 * if (readPacketStatistics(fd, cells) === 0) console.log(cells.stats[1], "dropped");
 * ```
 */
export function readPacketStatistics(
  fd: number,
  cells: { stats: Uint32Array; len: Uint32Array },
): number {
  cells.len[0] = TPACKET_STATS_V3_SIZE;
  cells.stats[0] = 0;
  cells.stats[1] = 0;
  cells.stats[2] = 0;
  const r = libc().getsockopt(fd | 0, SOL_PACKET, PACKET_STATISTICS, cells.stats, cells.len);
  return r < 0 ? -errno() : 0;
}
