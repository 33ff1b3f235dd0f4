/**
 * Storage for byte rings, shared by every socket of a stack: chunks in power-of-two size
 * classes, handed out when a ring first needs room and given back when it empties, so an idle
 * connection holds no buffer at all and a busy one holds about what it has in flight.
 *
 * Freed chunks stay on per-class free lists up to a *warm bound* (bytes), so the next
 * connection reuses them without allocating or zeroing; beyond the bound they are dropped and
 * the memory goes back to the allocator — the process shrinks again after a crowd leaves.
 * {@link RingStoragePool.prewarm} fills the lists ahead of a load.
 *
 * A chunk from the pool is not zeroed: a ring only ever reads back bytes it wrote.
 *
 * @module
 */

import type { SubarrayCache } from "./subarray_cache.ts";
import { objectArray } from "./v8_shapes.ts";

/** Options of a {@link RingStoragePool}. */
export interface RingStoragePoolOptions {
  /** Smallest chunk, a power of two [2048: one full-sized Ethernet segment fits]. */
  minChunkBytes?: number;
  /** Largest chunk kept on a free list, a power of two [4 MiB]; bigger ones are not kept. */
  maxChunkBytes?: number;
  /** Bytes of freed chunks kept for reuse [64 MiB]; the rest is dropped. */
  warmBytes?: number;
}

/** Counters of a {@link RingStoragePool}. */
export interface RingStorageStats {
  /** Chunks allocated from the system. */
  allocs: number;
  /** Chunks handed out from a free list. */
  reuses: number;
  /** Chunks given back. */
  releases: number;
  /** Chunks given back and dropped (free lists at the warm bound, or too big to keep). */
  drops: number;
  /** Bytes of chunks handed out and not given back. */
  outstandingBytes: number;
  /** Most bytes outstanding at once. */
  highWaterBytes: number;
}

/** log2 of a power of two ≥ 1. */
function log2(n: number): number {
  return 31 - Math.clz32(n);
}

/**
 * A pool of ring storage chunks.
 *
 * @example
 * ```ts
 * const pool = new RingStoragePool({ warmBytes: 1 << 20 });
 * const chunk = pool.take(3000); // a 4096-byte chunk
 * pool.give(chunk); // kept for the next take
 * ```
 */
export class RingStoragePool {
  /** Smallest chunk in bytes. */
  readonly minChunkBytes: number;
  /** Largest chunk kept for reuse. */
  readonly maxChunkBytes: number;
  /** Bytes of free chunks kept at most. */
  readonly warmBytes: number;
  /** Counters. */
  readonly stats: RingStorageStats = {
    allocs: 0,
    reuses: 0,
    releases: 0,
    drops: 0,
    outstandingBytes: 0,
    highWaterBytes: 0,
  };
  /**
   * Free chunks per size class: `#free[c][0, #freeCount[c])`, the slots above null. Indexed,
   * not `push`/`pop`: `take`/`give` run about once per ring emptying and stay unoptimised, and
   * there `pop` trims an array's backing store once it is under half full, so the next `push`
   * allocates a new one (~300 B per fill and empty of 20 chunks, measured in a micro run).
   */
  readonly #free: (Uint8Array | null)[][];
  readonly #freeCount: number[];
  readonly #minShift: number;
  #freeBytes = 0;
  /** Tables of views of chunks, told to drop a chunk's views when the pool drops it. */
  readonly #viewTables: SubarrayCache[] = [];

  /**
   * A pool (see {@link RingStoragePoolOptions} for the defaults).
   *
   * @throws {RangeError} if a chunk size is not a power of two or min > max.
   */
  constructor(opts: RingStoragePoolOptions = {}) {
    const min = opts.minChunkBytes ?? 2048;
    const max = opts.maxChunkBytes ?? 4 << 20;
    for (const v of [min, max]) {
      if (!(v >= 64 && v <= 1 << 30 && (v & (v - 1)) === 0)) {
        throw new RangeError(`RingStoragePool: chunk sizes must be powers of two, got ${v}`);
      }
    }
    if (min > max) throw new RangeError("RingStoragePool: minChunkBytes > maxChunkBytes");
    this.minChunkBytes = min;
    this.maxChunkBytes = max;
    this.warmBytes = Math.max(0, opts.warmBytes ?? 64 << 20);
    this.#minShift = log2(min);
    this.#free = Array.from(
      { length: log2(max) - this.#minShift + 1 },
      () => objectArray<Uint8Array | null>(),
    );
    this.#freeCount = this.#free.map(() => 0);
  }

  /** Bytes of chunks waiting on the free lists. */
  get freeBytes(): number {
    return this.#freeBytes;
  }

  /** The chunk size `take(bytes)` hands out: the smallest class that holds `bytes`. */
  chunkSize(bytes: number): number {
    if (bytes <= this.minChunkBytes) return this.minChunkBytes;
    // Integer operations up to 2**30: unoptimised code (where `take` runs, about once per
    // ring emptying) makes a new heap number of every fractional result such as `Math.log2`'s.
    if (bytes <= 1 << 30) return 1 << (32 - Math.clz32(bytes - 1));
    return 2 ** Math.ceil(Math.log2(bytes));
  }

  /** A chunk of at least `bytes` (a power of two), reused when one is free. */
  take(bytes: number): Uint8Array {
    const size = this.chunkSize(bytes);
    const st = this.stats;
    let chunk: Uint8Array | null = null;
    if (size <= this.maxChunkBytes) {
      const c = log2(size) - this.#minShift;
      const n = this.#freeCount[c];
      if (n > 0) {
        const list = this.#free[c];
        chunk = list[n - 1];
        list[n - 1] = null;
        this.#freeCount[c] = n - 1;
      }
    }
    if (chunk !== null) {
      this.#freeBytes -= size;
      st.reuses++;
    } else {
      chunk = new Uint8Array(size);
      st.allocs++;
    }
    st.outstandingBytes += size;
    if (st.outstandingBytes > st.highWaterBytes) st.highWaterBytes = st.outstandingBytes;
    return chunk;
  }

  /** Give back a chunk from {@link RingStoragePool.take}; kept while under the warm bound. */
  give(chunk: Uint8Array): void {
    const size = chunk.length;
    const st = this.stats;
    st.releases++;
    st.outstandingBytes -= size;
    if (size > this.maxChunkBytes || this.#freeBytes + size > this.warmBytes) {
      st.drops++;
      this.#forget(chunk);
      return;
    }
    this.#putFree(log2(size) - this.#minShift, chunk);
    this.#freeBytes += size;
  }

  /** Put `chunk` on size class `c`'s free list (the array only grows: see `#free`). */
  #putFree(c: number, chunk: Uint8Array): void {
    const n = this.#freeCount[c];
    this.#free[c][n] = chunk;
    this.#freeCount[c] = n + 1;
  }

  /** Put `count` chunks of `bytes` (rounded up to a class) on the free list, within the bound. */
  prewarm(count: number, bytes: number = this.minChunkBytes): void {
    const size = this.chunkSize(bytes);
    if (size > this.maxChunkBytes) return;
    const c = log2(size) - this.#minShift;
    for (let i = 0; i < count && this.#freeBytes + size <= this.warmBytes; i++) {
      this.#putFree(c, new Uint8Array(size));
      this.#freeBytes += size;
      this.stats.allocs++;
    }
  }

  /** Drop every free chunk (the memory goes back to the allocator). */
  trim(): void {
    for (let c = 0; c < this.#free.length; c++) {
      const list = this.#free[c];
      for (let i = 0; i < this.#freeCount[c]; i++) this.#forget(list[i]!);
      list.length = 0;
      this.#freeCount[c] = 0;
    }
    this.#freeBytes = 0;
  }

  /**
   * Make `views` drop its views of every chunk this pool drops (a table of views of ring
   * storage, such as TCP's `sndCopyViews`, would otherwise keep dropped chunks alive).
   */
  forgetDroppedIn(views: SubarrayCache): void {
    this.#viewTables.push(views);
  }

  /** A dropped chunk: no table keeps views of it. */
  #forget(chunk: Uint8Array): void {
    const tables = this.#viewTables;
    for (let i = 0; i < tables.length; i++) {
      if (tables[i].prepared) tables[i].forget(chunk);
    }
  }
}
