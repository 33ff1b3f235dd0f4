/**
 * A bounded set of 64-bit keys (two 32-bit words: a source address, say) that remembers the
 * most recently added ones: `ways` entries per set, the set chosen by a hash keyed with a
 * secret drawn at construction, the least recently added or confirmed entry of a full set
 * replaced (counted in {@link KnownKeySet.evicted}). Lookups and additions compare at most
 * `ways` entries and never allocate; the table never grows.
 *
 * The keyed hash means nobody outside can choose keys that fall into the set of somebody
 * else's: to push a key out, one must add `ways` keys that share its set, which without the
 * secret takes about `ways · sets` additions — a whole table's worth.
 *
 * @module
 */

import type { RateLimitKey } from "./keyed_rate_limiter.ts";

/** The largest stamp (an `Int32Array` entry). */
const STAMP_MAX = 0x7fffffff;
/** What a renumbering takes off every stamp. */
const STAMP_SHIFT = 0x40000000;

/** Options of a {@link KnownKeySet}. */
export interface KnownKeySetOptions {
  /** Sets, a power of two [1024]. */
  sets?: number;
  /** Entries per set [4]. */
  ways?: number;
  /** The hash secret (tests pin it; default: drawn from `crypto.getRandomValues`). */
  secret?: number;
  /**
   * The additions counted before the first (tests: a counter near its wrap at 2³¹ − 1) [0].
   */
  addedBefore?: number;
}

/**
 * A set-associative table of 64-bit keys, least recently added out.
 *
 * @example
 * ```ts
 * import { KnownKeySet } from "./known_key_set.ts";
 * import { RateLimitKey } from "./keyed_rate_limiter.ts";
 * const known = new KnownKeySet({ sets: 64 });
 * const k = new RateLimitKey();
 * k.lo = 0xc6120001;
 * known.add(k);
 * known.has(k); // true
 * ```
 */
export class KnownKeySet {
  /** Entries a full set gave up for a new key. */
  evicted = 0;
  /** Entries held. */
  size = 0;
  readonly #ways: number;
  readonly #mask: number;
  readonly #secret: number;
  readonly #lo: Int32Array;
  readonly #hi: Int32Array;
  /** When each entry was last added or confirmed (a counter; 0: empty). */
  readonly #stamp: Int32Array;
  #clock = 0;

  /**
   * An empty set.
   *
   * @throws {RangeError} for a bad number of sets or ways.
   */
  constructor(opts: KnownKeySetOptions = {}) {
    const sets = opts.sets ?? 1024;
    const ways = opts.ways ?? 4;
    if (!(sets >= 1 && sets <= 1 << 20 && (sets & (sets - 1)) === 0)) {
      throw new RangeError("KnownKeySet: sets must be a power of two in 1..2^20");
    }
    if (!(Number.isInteger(ways) && ways >= 1 && ways <= 16)) {
      throw new RangeError("KnownKeySet: ways must be 1..16");
    }
    this.#ways = ways;
    this.#mask = sets - 1;
    this.#secret = (opts.secret ?? crypto.getRandomValues(new Uint32Array(1))[0]) | 0;
    this.#lo = new Int32Array(sets * ways);
    this.#hi = new Int32Array(sets * ways);
    this.#stamp = new Int32Array(sets * ways);
    const before = opts.addedBefore ?? 0;
    if (!(Number.isInteger(before) && before >= 0 && before <= STAMP_MAX)) {
      throw new RangeError("KnownKeySet: addedBefore must be 0..2^31-1");
    }
    this.#clock = before;
  }

  /** Entries the table can hold. */
  get capacity(): number {
    return this.#stamp.length;
  }

  /**
   * The first entry of the set of the key in `k`: murmur3's finaliser over the keyed words.
   * (The words are read here, from the record: handed over as arguments, a 32-bit word can
   * become a heap number on V8.)
   */
  #setOf(k: RateLimitKey): number {
    const s = this.#secret;
    let h = k.lo ^ s;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h = h ^ (h >>> 16) ^ k.hi ^ 0x7f4a7c15;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return ((h ^ (h >>> 16)) & this.#mask) * this.#ways;
  }

  /** Whether the key in `k` (`lo`, `hi`) is held. */
  has(k: RateLimitKey): boolean {
    const lo = k.lo | 0, hi = k.hi | 0;
    const first = this.#setOf(k);
    const end = first + this.#ways;
    const stamp = this.#stamp, los = this.#lo, his = this.#hi;
    for (let e = first; e < end; e++) {
      if (stamp[e] !== 0 && los[e] === lo && his[e] === hi) return true;
    }
    return false;
  }

  /**
   * Add the key in `k` (`lo`, `hi`), or mark it the most recent if held; a full set gives up
   * its least recent entry.
   */
  add(k: RateLimitKey): void {
    const lo = k.lo | 0, hi = k.hi | 0;
    const first = this.#setOf(k);
    const end = first + this.#ways;
    const stamp = this.#stamp, los = this.#lo, his = this.#hi;
    // The stamp counts additions; past 2³¹ − 1 every stamp moves down by 2³⁰ (those older
    // than that many additions become the oldest, 1), so the order of entries stays.
    let now = this.#clock + 1;
    if (now > STAMP_MAX) now = this.#renumber();
    this.#clock = now;
    let victim = first;
    for (let e = first; e < end; e++) {
      const st = stamp[e];
      if (st !== 0 && los[e] === lo && his[e] === hi) {
        stamp[e] = now;
        return;
      }
      if (st === 0) {
        if (stamp[victim] !== 0) victim = e;
      } else if (stamp[victim] !== 0 && st < stamp[victim]) victim = e;
    }
    if (stamp[victim] !== 0) this.evicted++;
    else this.size++;
    los[victim] = lo;
    his[victim] = hi;
    stamp[victim] = now;
  }

  /** The stamps moved down by {@link STAMP_SHIFT} (one pass every 2³⁰ additions); the next. */
  #renumber(): number {
    const stamp = this.#stamp;
    for (let e = 0; e < stamp.length; e++) {
      const st = stamp[e];
      if (st !== 0) stamp[e] = st > STAMP_SHIFT ? st - STAMP_SHIFT : 1;
    }
    return STAMP_MAX - STAMP_SHIFT + 1;
  }
}
