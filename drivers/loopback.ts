/**
 * A loopback link: every frame transmitted is received back by the same driver after
 * `flush()`. The stack's own `lo`, and a kernel-free driver for tests.
 *
 * Storage is one preallocated byte ring plus a ring of frame descriptors (offset, length).
 * Frames live in FIFO order — received (lent to the stack), then flushed (ready), then
 * pending — so a frame's bytes are allocated at the ring's tail and freed at its head, and
 * a frame that does not fit before the end of the ring starts again at offset 0. Nothing is
 * allocated per frame; a full ring refuses the frame and counts it.
 *
 * @module
 */

import {
  DriverStats,
  type LinkCapabilities,
  type LinkDriver,
  NO_OFFLOADS,
  type RxBatch,
  type TxOffload,
} from "../link/driver.ts";
import { ETH_HLEN } from "../ffi/constants.ts";
import { asksOffload, putRxFrame, txFrameInBounds } from "./driver_util.ts";

/** Default MTU: 64 KiB, like Linux `lo`. */
const DEFAULT_MTU = 65536;
/** Default bound on queued frames. */
const DEFAULT_QUEUE_FRAMES = 1024;
/** Default byte ring: 4 MiB (64 full-size frames, or thousands of small ones). */
const DEFAULT_QUEUE_BYTES = 4 << 20;

/** Options of a {@link LoopbackDriver}. */
export interface LoopbackOptions {
  /** Interface name. Default "lo". */
  name?: string;
  /** MAC address. Default 00:00:00:00:00:00. */
  mac?: Uint8Array;
  /** MTU (IP bytes per frame). Default 65536. */
  mtu?: number;
  /** Most frames queued at once (received-unreleased, ready and pending). Default 1024. */
  queueFrames?: number;
  /** Bytes of the frame ring; at least MTU + 14. Default 4 MiB. */
  queueBytes?: number;
}

/**
 * The loopback driver (kind "loopback", fd -1, no offloads).
 *
 * @example
 * ```ts
 * import { RxBatch } from "../link/driver.ts";
 * const frame = new Uint8Array(60); // an Ethernet frame
 * const lo = new LoopbackDriver();
 * lo.transmit(frame, 0, frame.length, null);
 * lo.flush();
 * const batch = new RxBatch(32);
 * lo.receive(batch, 32); // 1: the same frame
 * lo.release(batch);
 * ```
 */
export class LoopbackDriver implements LinkDriver {
  /** Interface name. */
  readonly name: string;
  /** Always "loopback". */
  readonly kind: string = "loopback";
  /** MAC address (a copy of the one given). */
  readonly mac: Uint8Array;
  /** Link MTU. */
  readonly mtu: number;
  /** No offloads. */
  readonly capabilities: LinkCapabilities = NO_OFFLOADS;
  /** -1: nothing to poll; frames are ready right after `flush()`. */
  readonly fd: number = -1;
  /** Counters. */
  readonly stats: DriverStats = new DriverStats();
  readonly #ring: Uint8Array;
  readonly #descOff: Int32Array;
  readonly #descLen: Int32Array;
  readonly #maxFrames: number;
  /** Descriptor index of the oldest frame. */
  #first = 0;
  /** Frames held: lent + ready + pending. */
  #count = 0;
  #lent = 0;
  #ready = 0;
  #closed = false;

  /** Make a loopback link (see {@link LoopbackOptions} for defaults). */
  constructor(opts: LoopbackOptions = {}) {
    const mtu = opts.mtu ?? DEFAULT_MTU;
    if (!(Number.isInteger(mtu) && mtu >= 68 && mtu <= 1 << 20)) {
      throw new RangeError("LoopbackDriver: mtu must be an integer in [68, 2^20]");
    }
    const frames = opts.queueFrames ?? DEFAULT_QUEUE_FRAMES;
    if (!(Number.isInteger(frames) && frames >= 1)) {
      throw new RangeError("LoopbackDriver: queueFrames must be an integer >= 1");
    }
    const bytes = opts.queueBytes ?? Math.max(DEFAULT_QUEUE_BYTES, mtu + ETH_HLEN);
    if (!(Number.isInteger(bytes) && bytes >= mtu + ETH_HLEN)) {
      throw new RangeError("LoopbackDriver: queueBytes must be an integer >= mtu + 14");
    }
    const mac = opts.mac ?? new Uint8Array(6);
    if (mac.length !== 6) throw new RangeError("LoopbackDriver: a MAC is 6 bytes");
    this.name = opts.name ?? "lo";
    this.mac = mac.slice();
    this.mtu = mtu;
    this.#maxFrames = frames;
    this.#ring = new Uint8Array(bytes);
    this.#descOff = new Int32Array(frames);
    this.#descLen = new Int32Array(frames);
  }

  /** Frames transmitted and not yet flushed. */
  get pendingFrames(): number {
    return this.#count - this.#lent - this.#ready;
  }

  /** Frames flushed and not yet received. */
  get readyFrames(): number {
    return this.#ready;
  }

  /**
   * Hand up to `max` flushed frames to `batch` (oldest first). Frames of a previous batch
   * not yet released are released first.
   */
  receive(batch: RxBatch, max: number): number {
    this.#checkOpen();
    if (this.#lent > 0) this.release(batch);
    let n = this.#ready;
    if (max < n) n = max;
    if (batch.capacity < n) n = batch.capacity;
    const stats = this.stats;
    let d = this.#first;
    for (let i = 0; i < n; i++) {
      const len = this.#descLen[d];
      putRxFrame(batch, i, this.#ring, this.#descOff[d], len, 0);
      stats.rxFrames++;
      stats.rxBytes += len;
      if (++d === this.#maxFrames) d = 0;
    }
    this.#lent = n;
    this.#ready -= n;
    batch.count = n;
    return n;
  }

  /** Free the frames of the last `receive()`. */
  release(_batch: RxBatch): void {
    if (this.#lent === 0) return;
    this.#first = (this.#first + this.#lent) % this.#maxFrames;
    this.#count -= this.#lent;
    this.#lent = 0;
  }

  /**
   * Copy a frame into the ring. Refused (false, `txDropped`) when an offload is asked for,
   * when it is shorter than an Ethernet header or longer than MTU + 14 (or `off`/`len` fall
   * outside `frame`), or when the ring is full (also `txRingFull`).
   */
  transmit(frame: Uint8Array, off: number, len: number, offload: TxOffload | null): boolean {
    this.#checkOpen();
    const stats = this.stats;
    if (asksOffload(offload) || !txFrameInBounds(frame, off, len) || len > this.mtu + ETH_HLEN) {
      stats.txDropped++;
      return false;
    }
    const at = this.#allocBytes(len);
    if (at < 0) {
      stats.txDropped++;
      stats.txRingFull++;
      return false;
    }
    // One short-lived view beats a byte loop by 20x at 1514 B (measured).
    this.#ring.set(frame.subarray(off, off + len), at);
    const d = (this.#first + this.#count) % this.#maxFrames;
    this.#descOff[d] = at;
    this.#descLen[d] = len;
    this.#count++;
    stats.txFrames++;
    stats.txBytes += len;
    return true;
  }

  /** Make every pending frame receivable. */
  flush(): void {
    this.#checkOpen();
    const pending = this.#count - this.#lent - this.#ready;
    if (pending === 0) return;
    this.#ready += pending;
    this.stats.txKicks++;
  }

  /** Drop every frame; further calls throw. */
  close(): void {
    this.#closed = true;
    this.#count = 0;
    this.#lent = 0;
    this.#ready = 0;
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error(`LoopbackDriver ${this.name}: closed`);
  }

  /** Offset of `len` free contiguous bytes at the ring's tail, or -1 when full. */
  #allocBytes(len: number): number {
    if (this.#count === this.#maxFrames) return -1;
    if (this.#count === 0) return 0;
    const cap = this.#ring.length;
    const firstOff = this.#descOff[this.#first];
    const last = (this.#first + this.#count - 1) % this.#maxFrames;
    const lastOff = this.#descOff[last];
    const lastEnd = lastOff + this.#descLen[last];
    if (lastOff >= firstOff) {
      // Not wrapped: free space is [lastEnd, cap) and then [0, firstOff).
      if (cap - lastEnd >= len) return lastEnd;
      return firstOff >= len ? 0 : -1;
    }
    // Wrapped: free space is [lastEnd, firstOff).
    return firstOff - lastEnd >= len ? lastEnd : -1;
  }
}
