/**
 * Packet buffers: fixed-size chunks of pooled memory with headroom, so each layer *prepends*
 * its header in place on the way down (no copy), and a bounded pool that hands them out.
 *
 * A packet may also end in a *gathered payload*: bytes that stay where they are (a TCP
 * connection's send ring) until a driver copies them, once, straight into its transmit slot
 * behind the headers ({@link PacketBuffer.gather}). Whoever keeps a packet past the call that
 * built it, or reads its payload bytes, calls {@link PacketBuffer.flatten} first.
 *
 * @module
 */

import { SubarrayCache } from "./subarray_cache.ts";

/**
 * Views kept by a {@link BufferPool} for {@link BufferPool.allocCopy} (a fragment's slice of
 * its datagram): the pool's buffers come back, and a stream of same-sized datagrams slices them
 * at the same offsets, so a few views serve a run where a `subarray` per fragment was ~100 B.
 */
export const POOL_COPY_VIEWS = 1024;

/**
 * Bytes a packet can end in without being copied into its buffer first (implemented by
 * `ByteRing`: a TCP send ring).
 */
export interface PayloadSource {
  /**
   * Copy `len` bytes starting `fromOffset` bytes into the source into `dst[dstOff..]`;
   * returns how many were copied (fewer when the source holds fewer).
   */
  peek(dst: Uint8Array, dstOff: number, fromOffset: number, len: number): number;
}

/**
 * One outgoing packet under construction. Bytes live in `data[head, tail)`, followed by
 * {@link PacketBuffer.gatherLength} bytes of {@link PacketBuffer.gatherSource} when a payload
 * is gathered. A layer writes its payload at `head` after {@link PacketBuffer.reset} (or
 * gathers it), then each lower layer calls {@link PacketBuffer.prepend} and writes its header
 * at the returned offset.
 */
export class PacketBuffer {
  /** The whole chunk. */
  readonly data: Uint8Array;
  /** Offset of the first byte of the packet. */
  head = 0;
  /** Offset one past the last byte of the packet. */
  tail = 0;
  /** Index of this buffer in its pool (for debugging and free-list checks). */
  readonly index: number;
  /** True while handed out by the pool. */
  inUse = false;
  /**
   * A number kept with the packet by the queue holding it (the IPv4 local-delivery queue: the
   * NIC the datagram is received on), or 0.
   */
  queueTag = 0;
  /** The EtherType the packet goes out as, kept while it waits in a neighbour queue. */
  etherType = 0;
  /**
   * Where the gathered payload after `tail` is (null: none). Valid only during the call that
   * gathered it: the source's bytes may move afterwards (a send ring consumes acknowledged
   * data), so a packet that is kept is {@link PacketBuffer.flatten}ed first.
   */
  gatherSource: PayloadSource | null = null;
  /** Offset of the gathered payload in {@link PacketBuffer.gatherSource}. */
  gatherOffset = 0;
  /** Bytes of gathered payload after `tail` (0: none). */
  gatherLength = 0;

  /** Wrap `data` (the pool's chunk). */
  constructor(data: Uint8Array, index: number) {
    this.data = data;
    this.index = index;
  }

  /** Packet length in bytes, a gathered payload included. */
  get length(): number {
    return this.tail - this.head + this.gatherLength;
  }

  /** Empty the packet, leaving `headroom` bytes free in front. */
  reset(headroom: number): void {
    this.head = headroom;
    this.tail = headroom;
    this.queueTag = 0;
    this.etherType = 0;
    this.gatherSource = null;
    this.gatherOffset = 0;
    this.gatherLength = 0;
  }

  /**
   * End the packet in `len` bytes of `src` from `offset`, left where they are: the driver
   * copies them into its slot (or {@link PacketBuffer.flatten} into this buffer). They must fit
   * the tailroom, so the packet can always be flattened.
   *
   * @throws {RangeError} when they would not fit (a stack bug, never input-driven).
   */
  gather(src: PayloadSource, offset: number, len: number): void {
    if (len > this.data.length - this.tail) {
      throw new RangeError("PacketBuffer.gather: buffer full");
    }
    this.gatherSource = src;
    this.gatherOffset = offset;
    this.gatherLength = len;
  }

  /**
   * Copy a gathered payload into the buffer after `tail` (nothing to do without one), so the
   * packet's bytes are all in `data[head, tail)`. Returns false, leaving the packet without the
   * payload, when the source no longer holds all of it (a stack bug; the caller drops the
   * packet).
   */
  flatten(): boolean {
    const n = this.gatherLength;
    if (n === 0) return true;
    const src = this.gatherSource!;
    this.gatherSource = null;
    this.gatherLength = 0;
    const got = src.peek(this.data, this.tail, this.gatherOffset, n);
    this.tail += got;
    return got === n;
  }

  /** Grow the packet by `n` bytes at the front; returns the new head offset. */
  prepend(n: number): number {
    const h = this.head - n;
    if (h < 0) throw new RangeError("PacketBuffer.prepend: no headroom left");
    this.head = h;
    return h;
  }

  /** Grow the packet by `n` bytes at the end; returns the offset where they start. */
  append(n: number): number {
    const t = this.tail;
    if (t + n > this.data.length) throw new RangeError("PacketBuffer.append: buffer full");
    this.tail = t + n;
    return t;
  }

  /** Room left after the tail. */
  get tailroom(): number {
    return this.data.length - this.tail;
  }
}

/** Counters of a {@link BufferPool}. */
export interface BufferPoolStats {
  /** Buffers handed out. */
  allocs: number;
  /** Allocation requests refused because every buffer was in use. */
  exhausted: number;
  /** Most buffers in use at once. */
  highWater: number;
}

/**
 * A bounded pool of equally sized {@link PacketBuffer}s carved out of one `ArrayBuffer`.
 *
 * @example
 * ```ts
 * const pool = new BufferPool({ count: 64, bufferBytes: 2048 });
 * const pb = pool.alloc(128)!;
 * pool.free(pb);
 * ```
 */
export class BufferPool {
  /** Size of each buffer in bytes. */
  readonly bufferBytes: number;
  /** Number of buffers. */
  readonly count: number;
  /** Counters. */
  readonly stats: BufferPoolStats = { allocs: 0, exhausted: 0, highWater: 0 };
  readonly #free: PacketBuffer[];
  #inUse = 0;
  /** The views {@link BufferPool.allocCopy} copies through ({@link POOL_COPY_VIEWS}). */
  readonly #copyViews = new SubarrayCache(POOL_COPY_VIEWS);

  /** Make `count` buffers of `bufferBytes` each. */
  constructor(opts: { count: number; bufferBytes: number }) {
    if (!(opts.count > 0) || !(opts.bufferBytes >= 256)) {
      throw new RangeError("BufferPool: count must be > 0 and bufferBytes >= 256");
    }
    this.count = opts.count;
    this.bufferBytes = opts.bufferBytes;
    const memory = new ArrayBuffer(opts.count * opts.bufferBytes);
    this.#free = new Array<PacketBuffer>(opts.count);
    for (let i = 0; i < opts.count; i++) {
      const chunk = new Uint8Array(memory, i * opts.bufferBytes, opts.bufferBytes);
      this.#free[opts.count - 1 - i] = new PacketBuffer(chunk, i);
    }
  }

  /** Buffers currently handed out. */
  get inUse(): number {
    return this.#inUse;
  }

  /** Take a buffer reset to `headroom`, or null when the pool is exhausted (counted). */
  alloc(headroom: number): PacketBuffer | null {
    const pb = this.#free.pop();
    if (pb === undefined) {
      this.stats.exhausted++;
      return null;
    }
    pb.inUse = true;
    pb.reset(headroom);
    this.stats.allocs++;
    if (++this.#inUse > this.stats.highWater) this.stats.highWater = this.#inUse;
    return pb;
  }

  /**
   * A buffer with `headroom` holding a copy of bytes [`at`, `at + n`) of `src`'s payload (a
   * fragment's slice), or null when the pool is exhausted (counted).
   */
  allocCopy(src: PacketBuffer, at: number, n: number, headroom: number): PacketBuffer | null {
    const pb = this.alloc(headroom);
    if (pb === null) return null;
    const p = pb.append(n);
    // The pool's own buffers at recurring offsets: a reused view, not a `subarray` per copy.
    this.#copyViews.copy(src.data, src.head + at, pb.data, p, n);
    return pb;
  }

  /** {@link BufferPool.allocCopy}'s copies that found their view (no allocation). */
  get copyViewHits(): number {
    return this.#copyViews.hits;
  }

  /** {@link BufferPool.allocCopy}'s copies that made a view (a `subarray` each). */
  get copyViewMisses(): number {
    return this.#copyViews.misses;
  }

  /** Return a buffer. Freeing one twice throws (a stack bug, never input-driven). */
  free(pb: PacketBuffer): void {
    if (!pb.inUse) throw new Error(`BufferPool.free: buffer ${pb.index} freed twice`);
    pb.inUse = false;
    pb.gatherSource = null; // keep no send ring alive from the free list
    pb.gatherLength = 0;
    this.#inUse--;
    this.#free.push(pb);
  }
}

/**
 * Headroom every outgoing packet starts with: room for Ethernet (14) + a maximal IPv4 header (60)
 * + a maximal TCP header (60) + alignment slack.
 */
export const HEADROOM_BYTES = 160;
