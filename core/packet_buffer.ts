/**
 * Packet buffers: fixed-size chunks of pooled memory with headroom, so each layer *prepends*
 * its header in place on the way down (no copy), and a bounded pool that hands them out.
 *
 * @module
 */

/**
 * One outgoing packet under construction. Bytes live in `data[head, tail)`. A layer writes its
 * payload at `head` after {@link PacketBuffer.reset}, then each lower layer calls
 * {@link PacketBuffer.prepend} and writes its header at the returned offset.
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

  /** Wrap `data` (the pool's chunk). */
  constructor(data: Uint8Array, index: number) {
    this.data = data;
    this.index = index;
  }

  /** Packet length in bytes. */
  get length(): number {
    return this.tail - this.head;
  }

  /** Empty the packet, leaving `headroom` bytes free in front. */
  reset(headroom: number): void {
    this.head = headroom;
    this.tail = headroom;
    this.queueTag = 0;
    this.etherType = 0;
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
    pb.data.set(src.data.subarray(src.head + at, src.head + at + n), p);
    return pb;
  }

  /** Return a buffer. Freeing one twice throws (a stack bug, never input-driven). */
  free(pb: PacketBuffer): void {
    if (!pb.inUse) throw new Error(`BufferPool.free: buffer ${pb.index} freed twice`);
    pb.inUse = false;
    this.#inUse--;
    this.#free.push(pb);
  }
}

/**
 * Headroom every outgoing packet starts with: room for Ethernet (14) + a maximal IPv4 header (60)
 * + a maximal TCP header (60) + alignment slack.
 */
export const HEADROOM_BYTES = 160;
