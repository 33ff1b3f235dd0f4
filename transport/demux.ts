/**
 * The transport demultiplexing table: (local address, local port, remote address, remote port)
 * → endpoint, one table per protocol. Lookup tries the exact 4-tuple first, then a listener or
 * unconnected socket bound to (local address, local port), then one bound to (any, local port).
 *
 * Layout: open hashing into `shards` (256 to start) shard arrays by a 32-bit mix of the 4-tuple;
 * each shard is a small array scanned linearly. Lookup cost: one hash (a handful of integer ops)
 * plus a scan of one shard. The table keeps that scan short by itself: when connected entries
 * exceed 4 per shard on average it quadruples the shards (up to `maxShards`, 2^18) and rehashes —
 * O(n) once per growth, amortised O(1) per insert, never on lookup. Measured
 * (`bench/demux_bench.ts`): ~24 ns per lookup with ~1 entry per shard, 0.58 µs at 100k
 * connections on a fixed 256 shards — which the growth now avoids. Wildcard (bound/listening)
 * entries live in a separate per-port map. No allocation on lookup.
 *
 * @module
 */

/** One entry of a shard. */
interface Entry<T> {
  la: number;
  lp: number;
  ra: number;
  rp: number;
  value: T;
}

/** A 32-bit mix of a 4-tuple (Murmur3-style finaliser over the combined words). */
export function hashTuple(la: number, lp: number, ra: number, rp: number): number {
  let h = Math.imul(la ^ 0x9e3779b9, 0x85ebca6b);
  h ^= Math.imul(ra ^ (h >>> 15), 0xc2b2ae35);
  h ^= Math.imul((lp << 16 | rp) ^ (h >>> 13), 0x27d4eb2f);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A bounded demux table for one protocol.
 *
 * @example
 * ```ts
 * const t = new DemuxTable<string>();
 * t.insertBound(0, 80, "listener");
 * t.insertConnected(0xc6120002, 80, 0xc6120001, 40000, "conn");
 * t.lookup(0xc6120002, 80, 0xc6120001, 40000); // "conn"
 * t.lookup(0xc6120002, 80, 0xc6120001, 40001); // "listener"
 * ```
 */
export class DemuxTable<T> {
  /** Most entries (connected + bound) the table holds. */
  readonly maxEntries: number;
  /** Inserts refused because the table was full. */
  refused = 0;
  #shards: Entry<T>[][];
  #mask: number;
  #connected = 0;
  readonly #maxShards: number;
  /** port → entries bound to that port (specific addresses and the wildcard 0). */
  readonly #bound = new Map<number, Entry<T>[]>();
  /** port → connected entries using it as local port (port allocation asks). */
  readonly #connectedPorts = new Map<number, number>();
  #size = 0;

  /**
   * A table with `shards` to start (power of two, default 256), growing up to `maxShards`
   * (default 2^18; set it equal to `shards` for a fixed table), bounded at `maxEntries`.
   */
  constructor(opts: { shards?: number; maxShards?: number; maxEntries?: number } = {}) {
    const shards = opts.shards ?? 256;
    this.#maxShards = Math.max(shards, opts.maxShards ?? 1 << 18);
    if (shards <= 0 || (shards & (shards - 1)) !== 0) {
      throw new RangeError("DemuxTable: shards must be a power of two");
    }
    this.#mask = shards - 1;
    this.#shards = Array.from({ length: shards }, () => []);
    this.maxEntries = opts.maxEntries ?? 1 << 20;
  }

  /** Entries in the table. */
  get size(): number {
    return this.#size;
  }

  /** Add a connected 4-tuple; false if it exists or the table is full (counted). */
  insertConnected(la: number, lp: number, ra: number, rp: number, value: T): boolean {
    if (this.lookupExact(la, lp, ra, rp) !== undefined) return false;
    if (this.#size >= this.maxEntries) {
      this.refused++;
      return false;
    }
    this.#shards[hashTuple(la, lp, ra, rp) & this.#mask].push({ la, lp, ra, rp, value });
    this.#size++;
    this.#connectedPorts.set(lp, (this.#connectedPorts.get(lp) ?? 0) + 1);
    if (++this.#connected > this.#shards.length * 4 && this.#shards.length < this.#maxShards) {
      this.#grow();
    }
    return true;
  }

  /** Number of shards now. */
  get shardCount(): number {
    return this.#shards.length;
  }

  /** Quadruple the shards (within the cap) and rehash every connected entry. */
  #grow(): void {
    const n = Math.min(this.#shards.length * 4, this.#maxShards);
    const next: Entry<T>[][] = Array.from({ length: n }, () => []);
    const mask = n - 1;
    for (const shard of this.#shards) {
      for (const e of shard) next[hashTuple(e.la, e.lp, e.ra, e.rp) & mask].push(e);
    }
    this.#shards = next;
    this.#mask = mask;
  }

  /** Remove a connected 4-tuple if it maps to `value` (or any value when omitted). */
  removeConnected(la: number, lp: number, ra: number, rp: number, value?: T): boolean {
    const shard = this.#shards[hashTuple(la, lp, ra, rp) & this.#mask];
    for (let i = 0; i < shard.length; i++) {
      const e = shard[i];
      if (e.la === la && e.lp === lp && e.ra === ra && e.rp === rp) {
        if (value !== undefined && e.value !== value) return false;
        shard[i] = shard[shard.length - 1];
        shard.pop();
        this.#size--;
        this.#connected--;
        const n = this.#connectedPorts.get(lp)! - 1;
        if (n === 0) this.#connectedPorts.delete(lp);
        else this.#connectedPorts.set(lp, n);
        return true;
      }
    }
    return false;
  }

  /** Add an endpoint bound to (la or 0 for any, lp); false if that exact binding exists. */
  insertBound(la: number, lp: number, value: T): boolean {
    let list = this.#bound.get(lp);
    if (list !== undefined) {
      for (const e of list) if (e.la === la) return false;
    }
    if (this.#size >= this.maxEntries) {
      this.refused++;
      return false;
    }
    if (list === undefined) {
      list = [];
      this.#bound.set(lp, list);
    }
    list.push({ la, lp, ra: 0, rp: 0, value });
    this.#size++;
    return true;
  }

  /** Remove the binding (la, lp) if it maps to `value` (or any value when omitted). */
  removeBound(la: number, lp: number, value?: T): boolean {
    const list = this.#bound.get(lp);
    if (list === undefined) return false;
    for (let i = 0; i < list.length; i++) {
      if (list[i].la === la && (value === undefined || list[i].value === value)) {
        list.splice(i, 1);
        if (list.length === 0) this.#bound.delete(lp);
        this.#size--;
        return true;
      }
    }
    return false;
  }

  /** The endpoint connected on exactly this 4-tuple. */
  lookupExact(la: number, lp: number, ra: number, rp: number): T | undefined {
    const shard = this.#shards[hashTuple(la, lp, ra, rp) & this.#mask];
    for (let i = 0; i < shard.length; i++) {
      const e = shard[i];
      if (e.lp === lp && e.rp === rp && e.ra === ra && e.la === la) return e.value;
    }
    return undefined;
  }

  /** The endpoint bound to (la, lp), falling back to (any, lp). */
  lookupBound(la: number, lp: number): T | undefined {
    const list = this.#bound.get(lp);
    if (list === undefined) return undefined;
    let any: T | undefined;
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      if (e.la === la) return e.value;
      if (e.la === 0) any = e.value;
    }
    return any;
  }

  /** Exact match first, then the bound (listening / unconnected) endpoint. */
  lookup(la: number, lp: number, ra: number, rp: number): T | undefined {
    return this.lookupExact(la, lp, ra, rp) ?? this.lookupBound(la, lp);
  }

  /** True if anything is bound to `lp` with address `la`, or `la` is 0 / bound is any. */
  isPortBound(la: number, lp: number): boolean {
    const list = this.#bound.get(lp);
    if (list === undefined) return false;
    for (const e of list) if (la === 0 || e.la === 0 || e.la === la) return true;
    return false;
  }

  /** True if any connected entry uses local port `lp` (O(1): a count per port). */
  hasConnectedOnPort(lp: number): boolean {
    return this.#connectedPorts.has(lp);
  }

  /** Every value (for teardown and tools). */
  *values(): IterableIterator<T> {
    for (const shard of this.#shards) for (const e of shard) yield e.value;
    for (const list of this.#bound.values()) for (const e of list) yield e.value;
  }
}

/**
 * Ephemeral port allocation from a range (Linux default 32768–60999), starting at a random
 * offset and probing forward (RFC 6056 algorithm 1 in its simplest form).
 *
 * @example
 * ```ts
 * const ports = new PortAllocator(49152, 49160);
 * const p = ports.allocate(() => false); // a free port in range, or -1
 * ```
 */
export class PortAllocator {
  /** First port of the range. */
  readonly low: number;
  /** Last port of the range (inclusive). */
  readonly high: number;
  #next: number;

  /** A range [low, high]. */
  constructor(low = 32768, high = 60999) {
    if (!(low >= 1 && high <= 65535 && low <= high)) {
      throw new RangeError("PortAllocator: need 1 <= low <= high <= 65535");
    }
    this.low = low;
    this.high = high;
    this.#next = low + Math.floor(Math.random() * (high - low + 1));
  }

  /** A port for which `inUse(port)` is false, or -1 when the whole range is taken. */
  allocate(inUse: (port: number) => boolean): number {
    const n = this.high - this.low + 1;
    for (let i = 0; i < n; i++) {
      const p = this.#next;
      this.#next = p >= this.high ? this.low : p + 1;
      if (!inUse(p)) return p;
    }
    return -1;
  }
}
