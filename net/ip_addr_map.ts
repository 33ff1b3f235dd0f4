/**
 * A bounded map keyed by address ({@link IpAddr}, either family) that never allocates on
 * lookup: a JS `Map` from a 30-bit mix of the four words to a short bucket, so a scratch
 * address filled from a packet can be looked up directly. Used by the neighbour cache, the
 * path-MTU cache and reassembly.
 *
 * @module
 */

import { type IpAddr, IpAddress, ipEquals } from "./ip_address.ts";

/**
 * A 30-bit mix of an address's words (Murmur3-style finaliser), in [0, 2^30): always a small
 * integer (a V8 Smi, also with pointer compression), so the `Map` key is never a boxed number
 * and optimised callers never meet a result wider than the ones they were compiled on (a
 * 32-bit result deoptimised `get` and `routeTo` with "lost precision" on the first address
 * whose mix had bit 31 set — bench/README.md, "warm9").
 *
 * @example
 * ```ts
 * hashIp(IpAddress.parse("fd00::1")) !== hashIp(IpAddress.parse("fd00::2")); // true
 * ```
 */
export function hashIp(a: IpAddr): number {
  let h = Math.imul(a.w3 ^ 0x9e3779b9, 0x85ebca6b);
  h ^= Math.imul(a.w2 ^ (h >>> 15), 0xc2b2ae35);
  h ^= Math.imul(a.w1 ^ (h >>> 13), 0x27d4eb2f);
  h ^= Math.imul(a.w0 ^ (h >>> 16), 0x165667b1);
  h ^= h >>> 15;
  return h & 0x3fffffff;
}

interface Slot<V> {
  key: IpAddress;
  value: V;
}

/**
 * Address → value, bounded at `maxEntries` (further inserts are refused and counted).
 *
 * @example
 * ```ts
 * const m = new IpAddrMap<string>(16);
 * m.set(IpAddress.parse("fd00::1"), "router");
 * m.get(IpAddress.parse("fd00::1")); // "router"
 * ```
 */
export class IpAddrMap<V> {
  /** Most entries. */
  readonly maxEntries: number;
  /** Inserts refused because the map was full. */
  refused = 0;
  readonly #buckets = new Map<number, Slot<V>[]>();
  #size = 0;

  /** An empty map holding at most `maxEntries` entries. */
  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
  }

  /** Entries held. */
  get size(): number {
    return this.#size;
  }

  /** The value for `a`, or undefined. */
  get(a: IpAddr): V | undefined {
    if (this.#size === 0) return undefined;
    const b = this.#buckets.get(hashIp(a));
    if (b === undefined) return undefined;
    for (let i = 0; i < b.length; i++) if (ipEquals(b[i].key, a)) return b[i].value;
    return undefined;
  }

  /** True when `a` has a value. */
  has(a: IpAddr): boolean {
    return this.get(a) !== undefined;
  }

  /**
   * Set the value for `a` (copied to an immutable key when new). Returns false when the map
   * is full and `a` was not in it (counted in `refused`).
   */
  set(a: IpAddr, value: V): boolean {
    const h = hashIp(a);
    let b = this.#buckets.get(h);
    if (b !== undefined) {
      for (let i = 0; i < b.length; i++) {
        if (ipEquals(b[i].key, a)) {
          b[i].value = value;
          return true;
        }
      }
    }
    if (this.#size >= this.maxEntries) {
      this.refused++;
      return false;
    }
    if (b === undefined) {
      b = [];
      this.#buckets.set(h, b);
    }
    b.push({ key: IpAddress.from(a), value });
    this.#size++;
    return true;
  }

  /** Remove `a`; returns true when it was there. */
  delete(a: IpAddr): boolean {
    const h = hashIp(a);
    const b = this.#buckets.get(h);
    if (b === undefined) return false;
    for (let i = 0; i < b.length; i++) {
      if (ipEquals(b[i].key, a)) {
        b[i] = b[b.length - 1];
        b.pop();
        if (b.length === 0) this.#buckets.delete(h);
        this.#size--;
        return true;
      }
    }
    return false;
  }

  /** Remove everything. */
  clear(): void {
    this.#buckets.clear();
    this.#size = 0;
  }

  /** Every value. */
  *values(): IterableIterator<V> {
    for (const b of this.#buckets.values()) for (const s of b) yield s.value;
  }

  /** Every (key, value). */
  *entries(): IterableIterator<[IpAddress, V]> {
    for (const b of this.#buckets.values()) for (const s of b) yield [s.key, s.value];
  }
}
