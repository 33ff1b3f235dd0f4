/**
 * The receive side of the AF_PACKET ring driver: walkers over a PACKET_MMAP RX ring that hand
 * frames out in place. Both fill an {@link RxBatch} whose `buf[i]` is always the one view of the
 * mapping made at open, with `off`/`len` per frame, and give the ring memory back to the kernel
 * in `release()`. Neither makes a syscall or allocates per frame.
 *
 * - {@link RxRingV2} (TPACKET_V2): fixed-size frame slots, each with its own `tp_status`. A frame
 *   is ours the moment the kernel has written it: no added latency. By default each slot holds
 *   a whole 64 KB GRO/GSO super-frame, so small frames waste most of their slot; the ring holds
 *   {@link AF_PACKET_RING_V2_FRAMES_PER_BLOCK} frames per 1 MiB block. With MTU-sized slots
 *   (many more per block) the socket has PACKET_COPY_THRESH on: a frame too big for its slot
 *   gets a cut-short copy flagged TP_STATUS_COPY in the ring and is queued whole on the socket,
 *   in ring order; the walker reads it from there ({@link RxRingSetup.readCopy}) into one of a
 *   few copy buffers, one syscall per super-frame.
 * - {@link RxRingV3} (TPACKET_V3): blocks packed with variable-size frames, handed over whole
 *   when full or when the block's retire timer (≥ 1 ms) fires. Dense, but a frame that does not
 *   fill a block waits for the timer: under a bulk send, whose only inbound frames are ACKs,
 *   every ACK waits up to a millisecond.
 *
 * @module
 */

import { RING_TOUCH_PAGE_BYTES } from "./ring_page_touch.ts";
import { RX_CSUM_PARTIAL, RX_CSUM_VALID, RX_GSO, type RxBatch } from "../link/driver.ts";
import {
  ETH_HLEN,
  PACKET_OUTGOING,
  TP_STATUS_CSUM_VALID,
  TP_STATUS_CSUMNOTREADY,
} from "../ffi/constants.ts";
import { SLL_PKTTYPE } from "../ffi/structs.ts";
import {
  BD_BLOCK_STATUS,
  BD_NUM_PKTS,
  BD_OFFSET_TO_FIRST_PKT,
  T2_LEN,
  T2_MAC,
  T2_NSEC,
  T2_RX_SOCKADDR,
  T2_SEC,
  T2_SNAPLEN,
  T2_STATUS,
  T3_LEN,
  T3_MAC,
  T3_NEXT_OFFSET,
  T3_NSEC,
  T3_RX_SOCKADDR,
  T3_SEC,
  T3_SNAPLEN,
  T3_STATUS,
  TP_STATUS_COPY,
  TP_STATUS_KERNEL,
  TP_STATUS_LOSING,
  TP_STATUS_USER,
  TPACKET_BLOCK_DESC_SIZE,
  tpacketFrameOffsets,
} from "../ffi/tpacket.ts";
import { vnetRxFlags } from "./vnet_header.ts";
import { putRxFrame } from "./driver_util.ts";

/** Bytes of one V2 RX block: 256 pages, one kernel allocation of order 8 (or vmalloc). */
export const AF_PACKET_RING_V2_BLOCK_BYTES = 1024 * 1024;
/** V2 RX frames per block. */
export const AF_PACKET_RING_V2_FRAMES_PER_BLOCK = 15;
/**
 * Bytes of one V2 RX frame slot (1 MiB / 15, 16-aligned: 69,904). The kernel puts the Ethernet
 * header at `tp_mac` = 76 with a vnet header (66 without): `TPACKET_ALIGN(52 + 16)` + 10 − 14.
 * That leaves 69,828 bytes per frame, above the largest GSO/GRO super-frame of a kernel peer
 * (65,535 bytes of IP + Ethernet + a VLAN tag); a longer one is cut short and dropped (counted
 * in `rxTruncated`).
 */
export const AF_PACKET_RING_V2_FRAME_BYTES: number = Math.floor(
  AF_PACKET_RING_V2_BLOCK_BYTES / AF_PACKET_RING_V2_FRAMES_PER_BLOCK / 16,
) * 16;

/** Counters the walkers keep: the RX part of `AfPacketRingStats`. */
export interface RxRingCounters {
  /** Frames handed to the stack. */
  rxFrames: number;
  /** Bytes handed to the stack. */
  rxBytes: number;
  /** Frames dropped (truncated, malformed, kernel drops). */
  rxDropped: number;
  /** V3 blocks taken from the kernel. */
  rxBlocks: number;
  /** Looped-back copies of our own transmissions skipped. */
  rxOutgoingSkipped: number;
  /** Frames the kernel cut short to fit (also in rxDropped). */
  rxTruncated: number;
  /** Oversized frames read whole from the socket queue (TP_STATUS_COPY, V2 small slots). */
  rxCopied: number;
  /** Syscalls made (the copy reads). */
  syscalls: number;
  /** Frames marked TP_STATUS_CSUMNOTREADY (checksum left unfinished by a local sender). */
  rxCsumPartialFrames: number;
  /** Frames marked TP_STATUS_CSUM_VALID (checksum verified by the device). */
  rxCsumValidFrames: number;
  /** Frames flagged RX_GSO (longer than an MTU-sized frame). */
  rxGsoFrames: number;
}

/**
 * The RX flags a frame's status word gives its checksum (TP_STATUS_CSUMNOTREADY: left unfinished
 * by a local sender; TP_STATUS_CSUM_VALID: verified by the device), counted in `stats`.
 */
function csumFlags(status: number, stats: RxRingCounters): number {
  let flags = 0;
  if ((status & TP_STATUS_CSUMNOTREADY) !== 0) {
    flags |= RX_CSUM_PARTIAL;
    stats.rxCsumPartialFrames++;
  }
  if ((status & TP_STATUS_CSUM_VALID) !== 0) {
    flags |= RX_CSUM_VALID;
    stats.rxCsumValidFrames++;
  }
  return flags;
}

/** What a walker needs: the mapping's two views, where its ring is, and the frame rules. */
export interface RxRingSetup {
  /** The one byte view of the whole mapping (every `RxBatch.buf` entry is this object). */
  ring: Uint8Array;
  /** The same memory as u32 words. */
  words: Uint32Array;
  /** Counters to update. */
  stats: RxRingCounters;
  /** Bytes of the vnet header in front of each frame (0 or 10). */
  vnetBytes: number;
  /** Frames longer than this (Ethernet bytes: MTU + 14) are flagged RX_GSO. */
  gsoAbove: number;
  /** Bytes per block. */
  blockBytes: number;
  /** Number of blocks (the RX ring starts at offset 0 of the mapping). */
  blocks: number;
  /** V2: bytes per frame slot [{@link AF_PACKET_RING_V2_FRAME_BYTES}]. */
  frameBytes?: number;
  /**
   * V2 with PACKET_COPY_THRESH: read the next whole frame queued on the socket into `buf`
   * (vnet header first when on); its length — the whole frame's, even when longer than `buf`
   * (MSG_TRUNC) — or `-errno`. Null without copy mode.
   */
  readCopy?: ((buf: Uint8Array) => number) | null;
  /** Buffers for copied frames: at most this many per batch [4 × 65,600 bytes]. */
  copyBuffers?: number;
}

/** Bytes of one copy buffer: a 64 KiB super-frame, its vnet header and a VLAN tag. */
const COPY_BUFFER_BYTES = 65_536 + 64;

/**
 * What the ring driver needs of its receive walker: one ring ({@link RxRingV2},
 * {@link RxRingV3}) or two merged in order (`drivers/af_packet_rx_merge.ts`).
 */
export interface RxWalker {
  /** `"v2"` or `"v3"`. */
  readonly version: "v2" | "v3";
  /** True once the kernel marked frames as following drops; cleared by the reader. */
  lossSeen: boolean;
  /** `tp_sec` of the first frame of the last non-empty batch; 0 before any. */
  stampSec: number;
  /** `tp_nsec` of that frame. */
  stampNsec: number;
  /** Fill `batch` with up to `max` frames; returns the count. */
  receive(batch: RxBatch, max: number): number;
  /** Give what the batches since the last release took back to the kernel. */
  release(): void;
  /**
   * Write each page holding a status word this walker writes back once, value unchanged
   * (`drivers/ring_page_touch.ts`): at open, not on the first lap. Returns the pages written.
   */
  touchStatusPages(): number;
}

/**
 * A walker over an RX ring: `receive` fills a batch in place, `release` returns what the last
 * batches finished to the kernel. `lossSeen` turns true when the kernel marked a frame or
 * block TP_STATUS_LOSING (it dropped frames since its statistics were last read); the driver
 * then reads PACKET_STATISTICS and clears it.
 */
export abstract class RxRing implements RxWalker {
  /** `"v2"` or `"v3"`. */
  abstract readonly version: "v2" | "v3";
  /** True once a frame or block said the kernel dropped frames; cleared by the reader. */
  lossSeen = false;
  /**
   * The kernel's receive time (`tp_sec`, `tp_nsec`: CLOCK_REALTIME when the frame was written
   * into the ring) of the first frame of the last batch; 0 before any. Two loads per batch:
   * what a latency trace needs to tell how long a frame waited for the stack.
   */
  stampSec = 0;
  /** Nanoseconds part of {@link RxRing.stampSec}. */
  stampNsec = 0;
  /** The one byte view of the mapping. */
  protected readonly ring: Uint8Array;
  /** The mapping as u32 words. */
  protected readonly words: Uint32Array;
  /** Counters. */
  protected readonly stats: RxRingCounters;
  /** Bytes of vnet header in front of each frame. */
  protected readonly vnetBytes: number;
  /** Frames longer than this are GSO super-frames. */
  protected readonly gsoAbove: number;

  /** Keep the views and rules of `s`. */
  constructor(s: RxRingSetup) {
    this.ring = s.ring;
    this.words = s.words;
    this.stats = s.stats;
    this.vnetBytes = s.vnetBytes;
    this.gsoAbove = s.gsoAbove;
  }

  /**
   * Fill `batch` with up to `max` frames (≤ capacity); returns the count (also `batch.count`).
   * A batch not released yet is released first.
   */
  abstract receive(batch: RxBatch, max: number): number;

  /** Give every frame (V2) or block (V3) the batches since the last release back. */
  abstract release(): void;

  /** Write each page holding a status word {@link RxRing.release} writes once; set-up only. */
  abstract touchStatusPages(): number;

  /**
   * Check the frame whose header starts at `frame` and put it at index `n` of `batch`; false
   * (counted) when it is skipped: our own looped-back transmission, cut short, or malformed.
   * The checks and flags are the same for both ring versions; only the header offsets differ.
   */
  protected take(
    batch: RxBatch,
    n: number,
    frame: number,
    pktType: number,
    mac: number,
    snaplen: number,
    len: number,
    status: number,
  ): boolean {
    const stats = this.stats;
    if (pktType === PACKET_OUTGOING) {
      stats.rxOutgoingSkipped++;
      return false;
    }
    if (snaplen < len) {
      stats.rxTruncated++;
      stats.rxDropped++;
      return false;
    }
    const vnetBytes = this.vnetBytes;
    const ring = this.ring;
    const at = frame + mac;
    if (snaplen < ETH_HLEN || mac < vnetBytes || at + snaplen > ring.length) {
      stats.rxDropped++;
      return false;
    }
    let flags = csumFlags(status, stats);
    // The vnet header sits right in front of the Ethernet header.
    if (vnetBytes !== 0) flags |= vnetRxFlags(ring, at - vnetBytes);
    if (snaplen > this.gsoAbove) {
      flags |= RX_GSO;
      stats.rxGsoFrames++;
    }
    putRxFrame(batch, n, ring, at, snaplen, flags);
    stats.rxFrames++;
    stats.rxBytes += snaplen;
    return true;
  }
}

/**
 * TPACKET_V2 RX ring: fixed-size frame slots in ring order, each with its own `tp_status`. The
 * kernel fills the slot at its head if that slot is TP_STATUS_KERNEL (else it drops the frame
 * and marks the next one it fills LOSING), then publishes it with TP_STATUS_USER; we walk slots
 * from ours while they say USER and write TP_STATUS_KERNEL back on release, in the same order.
 *
 * @example
 * ```ts
 * const rx = new RxRingV2({ ring, words, stats, vnetBytes: 10, gsoAbove: 1514,
 *   blockBytes: AF_PACKET_RING_V2_BLOCK_BYTES, blocks: 18 });
 * const n = rx.receive(batch, 64);
 * rx.release();
 * ```
 */
export class RxRingV2 extends RxRing {
  /** Always `"v2"`. */
  readonly version = "v2";
  /** Number of frame slots. */
  readonly frames: number;
  /** Start of each slot in the mapping. */
  readonly #slot: Int32Array;
  /** The next slot to look at. */
  #next = 0;
  /** Slots taken since the last release, starting at #releaseFrom. */
  #held = 0;
  #releaseFrom = 0;
  readonly #readCopy: ((buf: Uint8Array) => number) | null;
  readonly #copyBufs: Uint8Array[] = [];

  /** A walker over `s.blocks` blocks of `s.frameBytes` slots. */
  constructor(s: RxRingSetup) {
    super(s);
    const frameBytes = s.frameBytes ?? AF_PACKET_RING_V2_FRAME_BYTES;
    const perBlock = Math.floor(s.blockBytes / frameBytes);
    this.frames = perBlock * s.blocks;
    this.#slot = tpacketFrameOffsets(0, this.frames, perBlock, s.blockBytes, frameBytes);
    this.#readCopy = s.readCopy ?? null;
    if (this.#readCopy !== null) {
      for (let i = 0; i < (s.copyBuffers ?? 4); i++) {
        this.#copyBufs.push(new Uint8Array(COPY_BUFFER_BYTES));
      }
    }
  }

  /** Walk the slots the kernel has published since the last call, in ring order. */
  receive(batch: RxBatch, max: number): number {
    this.begin();
    batch.count = 0;
    const want = max < batch.capacity ? max : batch.capacity;
    let n = 0;
    while (n < want && this.peek()) {
      if (this.takeHead(batch, n)) n++;
    }
    if (n > 0) {
      this.stampSec = this.firstSec;
      this.stampNsec = this.firstNsec;
    }
    batch.count = n;
    return n;
  }

  /**
   * Start a batch taken step by step ({@link RxRingV2.peek}, {@link RxRingV2.takeHead}): a
   * batch not released yet is released first, and every copy buffer is free again.
   */
  begin(): void {
    if (this.#held > 0) this.release(); // the previous batch was not released
    this.#copies = 0;
    this.#first = true;
  }

  /** `tp_sec` of the published frame at the head (valid after {@link RxRingV2.peek} said true). */
  headSec = 0;
  /** `tp_nsec` of the frame at the head. */
  headNsec = 0;
  /** `tp_sec` of the first frame taken since {@link RxRingV2.begin}. */
  firstSec = 0;
  /** `tp_nsec` of the first frame taken since {@link RxRingV2.begin}. */
  firstNsec = 0;
  /** Status word of the frame at the head. */
  #headStatus = 0;
  /** Copy buffers used since {@link RxRingV2.begin}. */
  #copies = 0;
  /** No frame taken since {@link RxRingV2.begin} yet. */
  #first = true;

  /**
   * True when the kernel has published the slot at the head and this batch can take it (the
   * ring is not all held, a copied frame has a free copy buffer); its kernel receive time is
   * then in {@link RxRingV2.headSec}/{@link RxRingV2.headNsec}.
   */
  peek(): boolean {
    if (this.#held >= this.frames) return false; // held slots stay USER until release()
    const fw = this.#slot[this.#next] >>> 2;
    // The status load orders the header and frame reads after it (the kernel writes the
    // status last, after a barrier).
    const status = Atomics.load(this.words, fw + (T2_STATUS >>> 2));
    if ((status & TP_STATUS_USER) === 0) return false;
    // A copied frame needs a copy buffer: with none left it waits for the next batch.
    if (
      (status & TP_STATUS_COPY) !== 0 && this.#readCopy !== null &&
      this.#copies === this.#copyBufs.length
    ) return false;
    this.#headStatus = status;
    this.headSec = this.words[fw + (T2_SEC >>> 2)];
    this.headNsec = this.words[fw + (T2_NSEC >>> 2)];
    return true;
  }

  /**
   * Take the frame {@link RxRingV2.peek} found and put it at index `n` of `batch`; false
   * (counted) when it is skipped. The slot is held until {@link RxRingV2.release} either way.
   */
  takeHead(batch: RxBatch, n: number): boolean {
    const ring = this.ring;
    const words = this.words;
    const f = this.#slot[this.#next];
    const fw = f >>> 2;
    const status = this.#headStatus;
    this.#held++;
    this.#next = this.#next + 1 === this.frames ? 0 : this.#next + 1;
    if ((status & TP_STATUS_LOSING) !== 0) this.lossSeen = true;
    if (this.#first) {
      this.#first = false;
      this.firstSec = this.headSec;
      this.firstNsec = this.headNsec;
    }
    const pktType = ring[f + T2_RX_SOCKADDR + SLL_PKTTYPE];
    if ((status & TP_STATUS_COPY) !== 0 && this.#readCopy !== null) {
      // Dequeue it whatever it is, so the socket queue stays in step with the ring.
      return this.#takeCopy(batch, n, this.#copyBufs[this.#copies++], pktType, status);
    }
    const mac = ring[f + T2_MAC] | (ring[f + T2_MAC + 1] << 8);
    return this.take(
      batch,
      n,
      f,
      pktType,
      mac,
      words[fw + (T2_SNAPLEN >>> 2)],
      words[fw + (T2_LEN >>> 2)],
      status,
    );
  }

  /**
   * Read the frame the kernel queued on the socket for a TP_STATUS_COPY slot into `buf` and
   * put it at index `n`; false (counted) when the read fails or the frame is skipped.
   */
  #takeCopy(batch: RxBatch, n: number, buf: Uint8Array, pktType: number, status: number): boolean {
    const stats = this.stats;
    stats.syscalls++;
    const r = this.#readCopy!(buf);
    const vnetBytes = this.vnetBytes;
    if (pktType === PACKET_OUTGOING) {
      stats.rxOutgoingSkipped++;
      return false;
    }
    if (r < vnetBytes + ETH_HLEN) {
      stats.rxDropped++;
      return false;
    }
    if (r > buf.length) {
      // Longer than a copy buffer (a BIG TCP super-frame): cut short, dropped.
      stats.rxTruncated++;
      stats.rxDropped++;
      return false;
    }
    const len = r - vnetBytes;
    let flags = csumFlags(status, stats);
    if (vnetBytes !== 0) flags |= vnetRxFlags(buf, 0);
    if (len > this.gsoAbove) {
      flags |= RX_GSO;
      stats.rxGsoFrames++;
    }
    putRxFrame(batch, n, buf, vnetBytes, len, flags);
    stats.rxFrames++;
    stats.rxBytes += len;
    stats.rxCopied++;
    return true;
  }

  /** Hand every slot taken since the last release back to the kernel, oldest first. */
  release(): void {
    const words = this.words;
    const slots = this.#slot;
    const frames = this.frames;
    let i = this.#releaseFrom;
    for (let k = 0; k < this.#held; k++) {
      // The kernel takes a slot only when its status is exactly TP_STATUS_KERNEL.
      Atomics.store(words, (slots[i] + T2_STATUS) >>> 2, TP_STATUS_KERNEL);
      i = i + 1 === frames ? 0 : i + 1;
    }
    this.#releaseFrom = i;
    this.#held = 0;
  }

  /** Write each page holding a slot's status word once, value unchanged; set-up only. */
  touchStatusPages(): number {
    const slots = this.#slot;
    let pages = 0;
    let last = -1;
    for (let i = 0; i < this.frames; i++) {
      const at = slots[i] + T2_STATUS;
      const page = Math.floor(at / RING_TOUCH_PAGE_BYTES);
      if (page === last) continue;
      last = page;
      // Atomic, so a frame the kernel publishes in this slot meanwhile keeps its status.
      Atomics.add(this.words, at >>> 2, 0);
      pages++;
    }
    return pages;
  }
}

/**
 * TPACKET_V3 RX ring: blocks the kernel packs with variable-size frames and hands over whole
 * (full, or when the retire timer fires). We walk a block's frames in place across as many
 * batches as it takes and hand finished blocks back on release.
 *
 * @example
 * ```ts
 * const rx = new RxRingV3({ ring, words, stats, vnetBytes: 10, gsoAbove: 1514,
 *   blockBytes: 256 * 1024, blocks: 32 });
 * const n = rx.receive(batch, 64);
 * rx.release();
 * ```
 */
export class RxRingV3 extends RxRing {
  /** Always `"v3"`. */
  readonly version = "v3";
  /** Bytes per block. */
  readonly blockBytes: number;
  /** Number of blocks. */
  readonly blocks: number;
  // Walk state: the block being read and where in it.
  #block = 0;
  #left = 0;
  #next = 0;
  /** Blocks finished by the batches since the last release, starting at #releaseFrom. */
  #done = 0;
  #releaseFrom = 0;

  /** A walker over `s.blocks` blocks of `s.blockBytes`. */
  constructor(s: RxRingSetup) {
    super(s);
    this.blockBytes = s.blockBytes;
    this.blocks = s.blocks;
  }

  /** Walk the frames of the blocks handed over so far; a partly read block is resumed. */
  receive(batch: RxBatch, max: number): number {
    if (this.#done > 0) this.release(); // the previous batch was not released
    batch.count = 0;
    const want = max < batch.capacity ? max : batch.capacity;
    const ring = this.ring;
    const words = this.words;
    let n = 0;
    while (n < want) {
      if (this.#left === 0 && !this.#openBlock()) break;
      const f = this.#next;
      const fw = f >>> 2;
      const next = words[fw + (T3_NEXT_OFFSET >>> 2)];
      if (--this.#left === 0 || next === 0) this.#finishBlock();
      else this.#next = f + next;
      if (n === 0) {
        this.stampSec = words[fw + (T3_SEC >>> 2)];
        this.stampNsec = words[fw + (T3_NSEC >>> 2)];
      }
      const mac = ring[f + T3_MAC] | (ring[f + T3_MAC + 1] << 8);
      if (
        this.take(
          batch,
          n,
          f,
          ring[f + T3_RX_SOCKADDR + SLL_PKTTYPE],
          mac,
          words[fw + (T3_SNAPLEN >>> 2)],
          words[fw + (T3_LEN >>> 2)],
          words[fw + (T3_STATUS >>> 2)],
        )
      ) n++;
    }
    batch.count = n;
    return n;
  }

  /**
   * Hand every block the batches finished back to the kernel, oldest first (a block a batch
   * only partly read stays ours until a later batch finishes it).
   */
  release(): void {
    const words = this.words;
    let b = this.#releaseFrom;
    for (let i = 0; i < this.#done; i++) {
      Atomics.store(words, (b * this.blockBytes + BD_BLOCK_STATUS) >>> 2, TP_STATUS_KERNEL);
      b = b + 1 === this.blocks ? 0 : b + 1;
    }
    this.#releaseFrom = b;
    this.#done = 0;
  }

  /** Write each block's status word once, value unchanged; set-up only. */
  touchStatusPages(): number {
    for (let b = 0; b < this.blocks; b++) {
      Atomics.add(this.words, (b * this.blockBytes + BD_BLOCK_STATUS) >>> 2, 0);
    }
    return this.blocks;
  }

  /**
   * Open the next block if the kernel has handed it over; returns false if not. A block with
   * no frames is finished at once.
   */
  #openBlock(): boolean {
    for (;;) {
      // Blocks finished by this batch are still USER until release(): never walk them again.
      if (this.#done >= this.blocks) return false;
      const base = this.#block * this.blockBytes;
      const words = this.words;
      const status = Atomics.load(words, (base + BD_BLOCK_STATUS) >>> 2);
      if ((status & TP_STATUS_USER) === 0) return false;
      if ((status & TP_STATUS_LOSING) !== 0) this.lossSeen = true;
      this.stats.rxBlocks++;
      const count = words[(base + BD_NUM_PKTS) >>> 2];
      const first = words[(base + BD_OFFSET_TO_FIRST_PKT) >>> 2];
      if (count === 0 || first < TPACKET_BLOCK_DESC_SIZE || first >= this.blockBytes) {
        this.#finishBlock();
        continue;
      }
      this.#left = count;
      this.#next = base + first;
      return true;
    }
  }

  /** The current block has been walked: queue it for release and move to the next one. */
  #finishBlock(): void {
    this.#left = 0;
    this.#done++;
    this.#block = this.#block + 1 === this.blocks ? 0 : this.#block + 1;
  }
}
