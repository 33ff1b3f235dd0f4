/**
 * Reused `subarray` views for the receive path's long copies. JS has one native copy between two
 * typed arrays, `dst.set(src, dstOff)`, and it copies all of `src`: a copy of `src[off, off +
 * len)` needs a view of exactly those bytes, and `subarray` makes a new ~100-byte object each
 * time (V8 does not elide it). On the receive path that was most of what the stack allocated:
 * six views per 8,900-byte datagram reassembled from seven fragments, one more to queue it on
 * its socket (bench/README.md, "UDP receive without garbage").
 *
 * The same (buffer, offset, length) comes back again and again there: an AF_PACKET ring keeps
 * every frame of a slot at the same offset, a stream of same-sized datagrams fills its slots
 * with same-length fragments, a reassembly buffer puts every datagram at the same place. So
 * the views are kept in a table keyed by offset and length, two buckets of places per key; a
 * hit costs a few compares and no allocation, a miss makes the view and keeps it in place of the
 * least recently used of those places.
 * The table holds at most `entries` views (and, through them, the buffers they view: owners
 * keep it for buffers that live as long as they do, or {@link SubarrayCache.forget} one).
 *
 * @module
 */

import { SMALL_COPY_BYTES } from "./copy_bytes.ts";
import { type Counters, makeCounters } from "./counters.ts";

const EMPTY = new Uint8Array(0);

/**
 * A bounded table of views of `src[off, off + len)`, and the copy that uses it.
 *
 * @example
 * ```ts
 * import { SubarrayCache } from "./subarray_cache.ts";
 * const views = new SubarrayCache(64);
 * const src = new Uint8Array(4096), dst = new Uint8Array(4096);
 * views.copy(src, 1000, dst, 0, 1480); // makes the view
 * views.copy(src, 1000, dst, 2000, 1480); // reuses it
 * views.hits; // 1
 * ```
 */
export class SubarrayCache {
  readonly #entries: number;
  /** Places per bucket (a power of two): a key may sit in any place of its two buckets. */
  readonly #bucket: number;
  readonly #counts: Counters;
  readonly #hitsName: string;
  readonly #missesName: string;
  readonly #replacedName: string;
  #shift = 32;
  #src: Uint8Array[] = [];
  #view: Uint8Array[] = [];
  #off: Int32Array = new Int32Array(0);
  #len: Int32Array = new Int32Array(0);
  /** When each entry was last used (a counter that wraps after 2^30 uses: a worse pick once). */
  #used: Int32Array = new Int32Array(0);
  #clock = 0;

  /**
   * A table of `entries` views (rounded up to a power of two, at least 16); its arrays are made
   * at the first lookup, so an owner that never copies long pays nothing. A key may sit in any
   * of `bucket` places (1, 2, 4 or 8; default 1) at each of its two hashes; the least recently
   * used of them is replaced. More places per key hold a set of keys up to nearly the table's size
   * (one lap of a ring's slots); with more keys than places in a cycle, single places (1) keep
   * more of them, as least-recently-used replacement over many places drops each key just
   * before its next use. With `counters`, the hits, misses and replacements are counted there as
   * `${prefix}Hits`, `${prefix}Misses` and `${prefix}Replaced` (the group must have them: a
   * RangeError otherwise); without, in a group of the table's own.
   */
  constructor(
    entries: number,
    counters: Counters | null = null,
    prefix = "",
    bucket = 1,
  ) {
    if (bucket !== 1 && bucket !== 2 && bucket !== 4 && bucket !== 8) {
      throw new RangeError(`SubarrayCache: bucket must be 1, 2, 4 or 8, got ${bucket}`);
    }
    this.#bucket = bucket;
    let n = 16;
    while (n < entries) n *= 2;
    this.#entries = n;
    this.#hitsName = `${prefix}Hits`;
    this.#missesName = `${prefix}Misses`;
    this.#replacedName = `${prefix}Replaced`;
    const names = [this.#hitsName, this.#missesName, this.#replacedName];
    // The owner's group must list the names (`stack/stats.ts`): adding them here, by keyed
    // stores, is what turned the large groups into V8 dictionaries, where every count is a hash
    // lookup (`core/counters.ts`).
    if (counters !== null) {
      for (const k of names) {
        if (!(k in counters)) throw new RangeError(`SubarrayCache: the counter group lacks ${k}`);
      }
    }
    this.#counts = counters ?? makeCounters(names);
  }

  /** Views found in the table (no allocation). */
  get hits(): number {
    return this.#counts[this.#hitsName];
  }

  /** Views made because none was in the table (each one allocation). */
  get misses(): number {
    return this.#counts[this.#missesName];
  }

  /**
   * Misses that put their view in place of one still held: the table at its bound for that key
   * (all of its places taken), the least recently used view dropped. Misses minus these filled
   * empty places.
   */
  get replaced(): number {
    return this.#counts[this.#replacedName];
  }

  /** Views the table can hold. */
  get entries(): number {
    return this.#entries;
  }

  /** True once the table's arrays exist (at the first lookup, or {@link SubarrayCache.prepare}). */
  get prepared(): boolean {
    return this.#off.length !== 0;
  }

  /**
   * Make the table's arrays now instead of at the first lookup: ~1.8 MB for 65,536 places,
   * milliseconds of allocation and zeroing that would otherwise stall the first long copy (a
   * receiver's first datagram, with a kernel sender filling the ring meanwhile).
   */
  prepare(): void {
    if (this.#off.length === 0) this.#init();
  }

  /** A view of `src[off, off + len)`: the table's, or a new one put in it. */
  view(src: Uint8Array, off: number, len: number): Uint8Array {
    if (this.#off.length === 0) this.#init();
    // The source's place in its buffer counts too: buffers carved from one ArrayBuffer (a
    // packet pool, a simulated wire's slots) hold frames at the same offset of each.
    const key = src.byteOffset + off + Math.imul(len, 0x85ebca6b);
    // Two buckets of `bucket` places per key, a place anywhere in either. The first by Fibonacci
    // hashing: offsets a fixed stride apart with one length (one block of a ring's slots) stay
    // an arithmetic progression under the addition, and the golden-ratio multiple spreads it
    // almost evenly. The second by a full mix, for the collisions of several such progressions
    // (a ring's blocks) in the first. Two single places per key (the table before) missed
    // 5–7 % of a 1500-byte receive whose ~21,000 keys (one per slot of the ring of MTU-sized
    // slots, each visited once a lap) took two thirds of its 32,768 places: a key whose two
    // places were both taken dropped a live one, which missed on its next lap and dropped
    // another. Eight places per key hold such a lap (bench/README.md, "view41"); a bulk
    // sender's ~20,000 (start, length) keys in 16,384 places missed more so (single places).
    const b = this.#bucket;
    const i = (Math.imul(key, 0x9e3779b1) >>> this.#shift) & -b;
    const srcs = this.#src, offs = this.#off, lens = this.#len;
    for (let k = i; k < i + b; k++) {
      if (offs[k] === off && lens[k] === len && srcs[k] === src) {
        this.#counts[this.#hitsName]++;
        this.#used[k] = this.#tick();
        return this.#view[k];
      }
    }
    let h = Math.imul(key ^ (key >>> 16), 0x7feb352d);
    h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
    const j = ((h ^ (h >>> 16)) >>> this.#shift) & -b;
    for (let k = j; k < j + b; k++) {
      if (offs[k] === off && lens[k] === len && srcs[k] === src) {
        this.#counts[this.#hitsName]++;
        this.#used[k] = this.#tick();
        return this.#view[k];
      }
    }
    this.#counts[this.#missesName]++;
    const v = src.subarray(off, off + len);
    // Replace the place of the two buckets used longest ago (an empty one first: its use is 0).
    const used = this.#used;
    let r = i;
    for (let k = i + 1; k < i + b; k++) if (used[k] < used[r]) r = k;
    for (let k = j; k < j + b; k++) if (used[k] < used[r]) r = k;
    if (lens[r] !== -1) this.#counts[this.#replacedName]++;
    srcs[r] = src;
    this.#view[r] = v;
    offs[r] = off;
    lens[r] = len;
    used[r] = this.#tick();
    return v;
  }

  /**
   * Copy `len` bytes from `src[srcOff..]` to `dst[dstOff..]` (bounds checked by the caller), as
   * `copyBytes` does but taking the view of a long source range from the table.
   */
  copy(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, len: number): void {
    if (len <= SMALL_COPY_BYTES) {
      for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i];
    } else if (srcOff === 0 && len === src.length) {
      dst.set(src, dstOff);
    } else {
      dst.set(this.view(src, srcOff, len), dstOff);
    }
  }

  /** Drop every view of `src` (a buffer going away: the table no longer keeps it alive). */
  forget(src: Uint8Array): void {
    const s = this.#src;
    for (let i = 0; i < s.length; i++) {
      if (s[i] === src) {
        s[i] = EMPTY;
        this.#view[i] = EMPTY;
        this.#len[i] = -1;
        this.#used[i] = 0; // empty again: the first place a miss takes, before any live view
      }
    }
  }

  #tick(): number {
    // From 1 (an empty place's use stays 0, below every used one).
    return this.#clock = (this.#clock & 0x3fffffff) + 1;
  }

  #init(): void {
    const n = this.#entries;
    this.#shift = 32 - Math.log2(n);
    this.#src = new Array<Uint8Array>(n).fill(EMPTY);
    this.#view = new Array<Uint8Array>(n).fill(EMPTY);
    this.#off = new Int32Array(n);
    this.#len = new Int32Array(n).fill(-1);
    this.#used = new Int32Array(n);
  }
}
