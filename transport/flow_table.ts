/**
 * The table of connected four-tuples: (local address, local port, remote address, remote port)
 * → the one flow that owns it (for TCP a connection, a TIME_WAIT record or a half-open syncache
 * entry).
 *
 * Intrusive and compact: a flow carries its own key and the link to the next flow of its
 * bucket (`flowNext`), so the table is one array of bucket heads and nothing else — no entry
 * object per flow, 8 to 16 bytes of table per flow. Lookup is one hash (`hashTuple`) and
 * a walk of one chain, kept about one flow long: the bucket array doubles when the flows
 * outnumber it and halves when they fall below an eighth of it (never below its initial size),
 * each a rehash in O(n) that happens once per doubling or halving — amortised O(1) per insert
 * and remove, whatever the number of flows, and nothing is allocated on lookup.
 *
 * Addresses are of either family ({@link IpAddr}; IPv4 held IPv4-mapped), hashed by
 * `hashTuple` and compared word by word, the low word (the whole IPv4 address) first.
 *
 * @module
 */

import type { IpAddr } from "../net/ip_address.ts";
import { tupleBucket } from "./demux.ts";

/** What the table needs of a flow: its four-tuple and the link it threads its bucket with. */
export interface Flow {
  /** Local address. */
  readonly localAddr: IpAddr;
  /** Local port. */
  readonly localPort: number;
  /** Remote address. */
  readonly remoteAddr: IpAddr;
  /** Remote port. */
  readonly remotePort: number;
  /** @internal The next flow in the same bucket (owned by the table). */
  flowNext: Flow | null;
}

/**
 * A bounded, intrusive four-tuple table.
 *
 * @example
 * ```ts
 * import { IpAddress } from "../net/ip_address.ts";
 * const a = IpAddress.parse("fd00::2"), b = IpAddress.parse("fd00::1");
 * const t = new FlowTable<{ localAddr: IpAddress; localPort: number; remoteAddr: IpAddress;
 *   remotePort: number; flowNext: null }>();
 * const f = { localAddr: a, localPort: 80, remoteAddr: b, remotePort: 40000, flowNext: null };
 * t.insert(f);
 * t.lookup(a, 80, b, 40000) === f; // true
 * ```
 */
export class FlowTable<T extends Flow> {
  /** Most flows the table holds. */
  readonly maxEntries: number;
  /** Inserts refused because the table was full. */
  refused = 0;
  #buckets: (T | null)[];
  #mask: number;
  #size = 0;
  #vacated = 0;
  readonly #minBuckets: number;

  /**
   * A table with `buckets` bucket heads to start (a power of two, default 1024; size it for
   * the expected number of flows to avoid rehashing under load), bounded at `maxEntries`.
   *
   * @throws {RangeError} if `buckets` is not a power of two.
   */
  constructor(opts: { buckets?: number; maxEntries?: number } = {}) {
    const n = opts.buckets ?? 1024;
    if (!(n >= 1 && n <= 1 << 26 && (n & (n - 1)) === 0)) {
      throw new RangeError("FlowTable: buckets must be a power of two");
    }
    this.#minBuckets = n;
    this.#buckets = new Array<T | null>(n).fill(null);
    this.#mask = n - 1;
    this.maxEntries = opts.maxEntries ?? 1 << 24;
  }

  /** Flows in the table. */
  get size(): number {
    return this.#size;
  }

  /**
   * Four-tuples vacated so far: flows removed, less those a successor took over at once
   * ({@link FlowTable.takeOver}). While it does not move, no tuple has come free: a port search
   * that found every candidate taken may be answered again without searching.
   */
  get vacated(): number {
    return this.#vacated;
  }

  /** Bucket heads now. */
  get bucketCount(): number {
    return this.#buckets.length;
  }

  /** The flow on exactly this four-tuple, or undefined. */
  lookup(la: IpAddr, lp: number, ra: IpAddr, rp: number): T | undefined {
    let f = this.#buckets[tupleBucket(la, lp, ra, rp, this.#mask)];
    while (f !== null) {
      if (f.localPort === lp && f.remotePort === rp) {
        const r = f.remoteAddr;
        const l = f.localAddr;
        if (
          r.w3 === ra.w3 && l.w3 === la.w3 && r.w2 === ra.w2 && r.w1 === ra.w1 &&
          r.w0 === ra.w0 && l.w2 === la.w2 && l.w1 === la.w1 && l.w0 === la.w0
        ) return f;
      }
      f = f.flowNext as T | null;
    }
    return undefined;
  }

  /** Add `f` under its four-tuple; false if the tuple is taken or the table is full (counted). */
  insert(f: T): boolean {
    if (this.lookup(f.localAddr, f.localPort, f.remoteAddr, f.remotePort) !== undefined) {
      return false;
    }
    return this.insertVacant(f);
  }

  /**
   * Add `f` under a four-tuple the caller has just seen vacant — a {@link FlowTable.lookup} of
   * it missed, or the flow that held it was just removed, with no insert since — without
   * walking its chain a second time; false only when the table is full (counted). A short
   * connection's client inserts twice (its connect after the port search's lookup, its
   * TIME_WAIT record after the connection left) and its server once (the connection after its
   * syncache entry left): each would otherwise hash the tuple and walk the chain again.
   */
  insertVacant(f: T): boolean {
    if (this.#size >= this.maxEntries) {
      this.refused++;
      return false;
    }
    const i = tupleBucket(f.localAddr, f.localPort, f.remoteAddr, f.remotePort, this.#mask);
    f.flowNext = this.#buckets[i];
    this.#buckets[i] = f;
    if (++this.#size > this.#buckets.length) this.#rehash(this.#buckets.length * 2);
    return true;
  }

  /**
   * {@link FlowTable.insertVacant} for a flow that takes over the four-tuple its predecessor
   * has just left (a connection's TIME_WAIT record): the tuple never came free, so
   * {@link FlowTable.vacated} does not move. False only when the table is full (counted).
   */
  takeOver(f: T): boolean {
    if (!this.insertVacant(f)) return false;
    this.#vacated--;
    return true;
  }

  /** Remove `f` (by identity); false if it is not in the table. */
  remove(f: T): boolean {
    const i = tupleBucket(f.localAddr, f.localPort, f.remoteAddr, f.remotePort, this.#mask);
    let prev: T | null = null;
    let cur = this.#buckets[i];
    while (cur !== null) {
      if (cur === f) {
        const next = f.flowNext as T | null;
        if (prev === null) this.#buckets[i] = next;
        else prev.flowNext = next;
        f.flowNext = null;
        this.#vacated++;
        const n = this.#buckets.length;
        if (--this.#size < n >>> 3 && n > this.#minBuckets) this.#rehash(n >>> 1);
        return true;
      }
      prev = cur;
      cur = cur.flowNext as T | null;
    }
    return false;
  }

  /** Spread every flow over `n` buckets. */
  #rehash(n: number): void {
    const old = this.#buckets;
    const next = new Array<T | null>(n).fill(null);
    const mask = n - 1;
    for (let b = 0; b < old.length; b++) {
      let f = old[b];
      while (f !== null) {
        const after = f.flowNext as T | null;
        const i = tupleBucket(f.localAddr, f.localPort, f.remoteAddr, f.remotePort, mask);
        f.flowNext = next[i];
        next[i] = f;
        f = after;
      }
    }
    this.#buckets = next;
    this.#mask = mask;
  }

  /** Every flow (for teardown and tools; do not insert or remove while iterating). */
  *values(): IterableIterator<T> {
    for (const head of this.#buckets) {
      for (let f = head; f !== null; f = f.flowNext as T | null) yield f;
    }
  }
}
