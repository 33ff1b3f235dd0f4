/**
 * Two TPACKET_V2 RX rings read as one, in the order the kernel wrote their frames: the walker of
 * the AF_PACKET ring driver's split receive (`rxSplit`), where one packet socket with MTU-sized
 * slots takes the frames that fit a slot and a second socket with 64 KiB slots takes the GRO/GSO
 * super-frames (each socket's classic filter keeps the other's frames out,
 * `drivers/frame_length_steering.ts`).
 *
 * Order: both sockets are fed by the same delivery of each frame (`__netif_receive_skb` runs
 * every packet tap of the interface for one frame before the next), and `tpacket_rcv` stamps a
 * slot with the time it wrote it (`tp_sec`/`tp_nsec`, CLOCK_REALTIME, nanoseconds) before it
 * publishes it. So a frame published in one ring after a frame in the other carries a later
 * stamp, and a frame the kernel delivered earlier on the same CPU is published before a later
 * one is even written: when the head of one ring is published, every earlier frame of that CPU
 * is already published in the other. The merge takes, while both heads are published, the one
 * with the earlier stamp, so a flow's small tail segment never overtakes the super-frame in
 * front of it. (Frames delivered at the same time on two CPUs have no order to keep; a single
 * ring would order them by slot reservation, this merge by stamp.)
 *
 * No allocation, no syscall per frame (a copied frame of the small ring reads its socket queue,
 * as in `drivers/af_packet_rx_ring.ts`).
 *
 * @module
 */

import type { RxBatch } from "../link/driver.ts";
import type { RxRingV2, RxWalker } from "./af_packet_rx_ring.ts";

/** The per-ring counters of a split receive. */
export interface RxMergeCounters {
  /** Frames taken from the ring of MTU-sized slots. */
  rxSmallRingFrames: number;
  /** Frames taken from the ring of 64 KiB slots (GRO/GSO super-frames). */
  rxLargeRingFrames: number;
}

/**
 * The ordered merge of a small-slot and a large-slot V2 ring.
 *
 * @example
 * ```ts ignore
 * const rx = new RxRingMerge(smallWalker, largeWalker, driver.stats);
 * const n = rx.receive(batch, 64); // frames of both rings, oldest first
 * rx.release();
 * ```
 */
export class RxRingMerge implements RxWalker {
  /** Always `"v2"`: both rings are TPACKET_V2. */
  readonly version = "v2";
  /** Stamp of the first frame of the last non-empty batch (`tp_sec`); 0 before any. */
  stampSec = 0;
  /** Nanoseconds part of {@link RxRingMerge.stampSec}. */
  stampNsec = 0;
  readonly #small: RxRingV2;
  readonly #large: RxRingV2;
  readonly #counters: RxMergeCounters;

  /** Merge `small` (MTU-sized slots) and `large` (64 KiB slots), counting into `counters`. */
  constructor(small: RxRingV2, large: RxRingV2, counters: RxMergeCounters) {
    this.#small = small;
    this.#large = large;
    this.#counters = counters;
  }

  /** True once either ring said the kernel dropped frames; clearing it clears both. */
  get lossSeen(): boolean {
    return this.#small.lossSeen || this.#large.lossSeen;
  }

  set lossSeen(v: boolean) {
    this.#small.lossSeen = v;
    this.#large.lossSeen = v;
  }

  /**
   * Fill `batch` with up to `max` frames (≤ capacity) of both rings, the earlier-stamped head
   * first; returns the count (also `batch.count`). An unreleased batch is released first.
   */
  receive(batch: RxBatch, max: number): number {
    const small = this.#small;
    const large = this.#large;
    small.begin();
    large.begin();
    batch.count = 0;
    const want = max < batch.capacity ? max : batch.capacity;
    let n = 0;
    let smallReady = small.peek();
    let largeReady = large.peek();
    let firstSec = 0;
    let firstNsec = 0;
    const counters = this.#counters;
    while (n < want && (smallReady || largeReady)) {
      // Both published: the earlier write first (a tie goes to the super-frame).
      const fromLarge = largeReady &&
        (!smallReady || large.headSec < small.headSec ||
          (large.headSec === small.headSec && large.headNsec <= small.headNsec));
      const ring = fromLarge ? large : small;
      const sec = ring.headSec;
      const nsec = ring.headNsec;
      if (ring.takeHead(batch, n)) {
        if (n === 0) {
          firstSec = sec;
          firstNsec = nsec;
        }
        n++;
        if (fromLarge) counters.rxLargeRingFrames++;
        else counters.rxSmallRingFrames++;
      }
      if (fromLarge) largeReady = large.peek();
      else smallReady = small.peek();
    }
    if (n > 0) {
      this.stampSec = firstSec;
      this.stampNsec = firstNsec;
    }
    batch.count = n;
    return n;
  }

  /** Give every slot of both rings the batches since the last release took back. */
  release(): void {
    this.#small.release();
    this.#large.release();
  }

  /** Write each page holding a status word of either ring once; set-up only. */
  touchStatusPages(): number {
    return this.#small.touchStatusPages() + this.#large.touchStatusPages();
  }
}
