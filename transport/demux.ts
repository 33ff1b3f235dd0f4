/**
 * The transport demultiplexing table, one per protocol, for both families: (local address, local port, remote
 * address, remote port) → endpoint, addresses as {@link IpAddr} (IPv4 held IPv4-mapped, so one
 * table serves both). Lookup tries the exact 4-tuple, then an endpoint bound to the local
 * address, then one bound to the wildcard of the datagram's family — `0.0.0.0` before a
 * dual-stack `::` for IPv4, as Linux prefers the exact family.
 *
 * Bindings follow Linux's rules for dual-stack sockets: `::` without IPV6_V6ONLY covers every
 * IPv4 and IPv6 address, with it only IPv6; `0.0.0.0` covers IPv4. Two bindings of one port
 * conflict when the address sets they cover meet.
 *
 * Layout: connected entries hash (a mix of the address words and ports) into shards that
 * quadruple when they average more than 4 entries; bound entries live in a per-port list. An
 * IPv4 lookup compares only the entry's int32 low words and ports (`bench/demux_bench.ts`:
 * ~16 µs per 1,024 hits at 10k connections, as with numeric addresses). No allocation on
 * lookup.
 *
 * @module
 */

import { type IpAddr, IpAddress, ipEquals, isUnspecified } from "../net/ip_address.ts";

/** The remote address of a bound (unconnected) entry. */
const NO_PEER = new IpAddress(0, 0, 0, 0);

/**
 * One entry. The low address words (`r3`, `l3`: the whole address for IPv4) are copied in
 * as int32 (small integers to V8, no number boxes to follow), so a lookup compares numbers in
 * the entry itself; an IPv4 entry matches an IPv4 tuple on those alone (the high words of an
 * IPv4-mapped address are constant), an IPv6 one compares the rest of the addresses too.
 * Fields are `declare`d and set once in the constructor so V8 gives them their final
 * representation at once.
 */
class Entry<T> {
  declare readonly r3: number;
  declare readonly l3: number;
  declare readonly rp: number;
  declare readonly lp: number;
  declare readonly v4: boolean;
  declare readonly la: IpAddress;
  declare readonly ra: IpAddress;
  declare readonly v6only: boolean;
  declare readonly value: T;
  constructor(la: IpAddress, lp: number, ra: IpAddress, rp: number, v6only: boolean, value: T) {
    this.r3 = ra.w3 | 0;
    this.l3 = la.w3 | 0;
    this.rp = rp;
    this.lp = lp;
    this.v4 = ra.family === 4;
    this.la = la;
    this.ra = ra;
    this.v6only = v6only;
    this.value = value;
  }

  /** True when the entry is the connection (`la`, `lp`, `ra`, `rp`). */
  is(la: IpAddr, lp: number, ra: IpAddr, rp: number): boolean {
    if (this.rp !== rp || this.r3 !== (ra.w3 | 0) || this.lp !== lp || this.l3 !== (la.w3 | 0)) {
      return false;
    }
    if (this.v4) return ra.family === 4 && la.family === 4;
    const a = this.ra;
    const b = this.la;
    return a.w2 === ra.w2 && a.w1 === ra.w1 && a.w0 === ra.w0 && b.w2 === la.w2 &&
      b.w1 === la.w1 && b.w0 === la.w0;
  }
}

/**
 * A 32-bit mix of a 4-tuple: each address's low word with its three high words folded in
 * (a constant for IPv4-mapped addresses), so one branch-free function serves both families.
 *
 * @example
 * ```ts
 * hashTuple(IpAddress.parse("fd00::2"), 80, IpAddress.parse("fd00::1"), 40000);
 * ```
 */
export function hashTuple(la: IpAddr, lp: number, ra: IpAddr, rp: number): number {
  return tupleBucket(la, lp, ra, rp, -1) >>> 0;
}

/**
 * The bucket of a 4-tuple in a table of `mask + 1` buckets: {@link hashTuple}`& mask`, what
 * the tables look up per segment. Masked here, not by the caller: a 32-bit hash returned from
 * a call V8 does not inline is a new heap number three times in four (not a small integer).
 *
 * @example
 * ```ts
 * tupleBucket(IpAddress.parse("fd00::2"), 80, IpAddress.parse("fd00::1"), 40000, 1023);
 * ```
 */
export function tupleBucket(
  la: IpAddr,
  lp: number,
  ra: IpAddr,
  rp: number,
  mask: number,
): number {
  const l = la.w3 ^ Math.imul(la.w0 ^ Math.imul(la.w1, 0x9e3779b1) ^ la.w2, 0x85ebca77);
  const r = ra.w3 ^ Math.imul(ra.w0 ^ Math.imul(ra.w1, 0x9e3779b1) ^ ra.w2, 0xc2b2ae3d);
  let h = Math.imul(l ^ 0x9e3779b9, 0x85ebca6b);
  h ^= Math.imul(r ^ (h >>> 15), 0xc2b2ae35);
  h ^= Math.imul(((lp << 16) | rp) ^ (h >>> 13), 0x27d4eb2f);
  h ^= h >>> 16;
  return h & mask;
}

/** True when the address sets two bindings cover meet (Linux's bind conflict for wildcards). */
function bindingsMeet(a: IpAddr, aV6only: boolean, b: IpAddr, bV6only: boolean): boolean {
  return covers(a, aV6only, b) || covers(b, bV6only, a);
}

/** True when the binding (`la`, `v6only`) covers address `x` (specific or a wildcard). */
function covers(la: IpAddr, v6only: boolean, x: IpAddr): boolean {
  if (ipEquals(la, x)) return true;
  if (!isUnspecified(la)) return false;
  if (la.family === 4) return x.family === 4;
  return x.family === 6 || !v6only;
}

/**
 * A bounded demux table for one protocol.
 *
 * @example
 * ```ts
 * const t = new DemuxTable<string>();
 * const any6 = IpAddress.parse("::");
 * t.insertBound(any6, 53, "dual-stack", false);
 * t.lookupBound(IpAddress.parse("198.18.0.2"), 53); // "dual-stack"
 * ```
 */
export class DemuxTable<T> {
  /** Most entries (connected + bound). */
  readonly maxEntries: number;
  /** Inserts refused because the table was full. */
  refused = 0;
  #shards: Entry<T>[][];
  #mask: number;
  #connected = 0;
  readonly #maxShards: number;
  readonly #bound = new Map<number, Entry<T>[]>();
  /** port → connected entries using it as local port (port allocation asks). */
  readonly #connectedPorts = new Map<number, number>();
  #size = 0;

  /** A table with `shards` to start (a power of two), growing to `maxShards`, bounded at `maxEntries`. */
  constructor(opts: { shards?: number; maxShards?: number; maxEntries?: number } = {}) {
    const shards = opts.shards ?? 256;
    if (shards <= 0 || (shards & (shards - 1)) !== 0) {
      throw new RangeError("DemuxTable: shards must be a power of two");
    }
    this.#maxShards = Math.max(shards, opts.maxShards ?? 1 << 18);
    this.#mask = shards - 1;
    this.#shards = Array.from({ length: shards }, () => []);
    this.maxEntries = opts.maxEntries ?? 1 << 20;
  }

  /** Entries in the table. */
  get size(): number {
    return this.#size;
  }

  /** Number of shards now. */
  get shardCount(): number {
    return this.#shards.length;
  }

  /** Add a connected 4-tuple; false if it exists or the table is full (counted). */
  insertConnected(la: IpAddr, lp: number, ra: IpAddr, rp: number, value: T): boolean {
    if (this.lookupExact(la, lp, ra, rp) !== undefined) return false;
    if (this.#size >= this.maxEntries) {
      this.refused++;
      return false;
    }
    const e = new Entry(IpAddress.from(la), lp, IpAddress.from(ra), rp, false, value);
    this.#shards[tupleBucket(la, lp, ra, rp, this.#mask)].push(e);
    this.#size++;
    this.#connectedPorts.set(lp, (this.#connectedPorts.get(lp) ?? 0) + 1);
    if (++this.#connected > this.#shards.length * 4 && this.#shards.length < this.#maxShards) {
      this.#grow();
    }
    return true;
  }

  #grow(): void {
    const n = Math.min(this.#shards.length * 4, this.#maxShards);
    const next: Entry<T>[][] = Array.from({ length: n }, () => []);
    const mask = n - 1;
    for (const shard of this.#shards) {
      for (const e of shard) next[tupleBucket(e.la, e.lp, e.ra, e.rp, mask)].push(e);
    }
    this.#shards = next;
    this.#mask = mask;
  }

  /** Remove a connected 4-tuple if it maps to `value` (or any value when omitted). */
  removeConnected(la: IpAddr, lp: number, ra: IpAddr, rp: number, value?: T): boolean {
    const shard = this.#shards[tupleBucket(la, lp, ra, rp, this.#mask)];
    for (let i = 0; i < shard.length; i++) {
      const e = shard[i];
      if (e.is(la, lp, ra, rp)) {
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

  /**
   * Add an endpoint bound to (`la`, `lp`), `la` a local address or its family's wildcard;
   * `v6only` narrows a `::` binding to IPv6. False if that exact binding exists or the table
   * is full.
   */
  insertBound(la: IpAddr, lp: number, value: T, v6only = false): boolean {
    let list = this.#bound.get(lp);
    if (list !== undefined) {
      for (const e of list) if (ipEquals(e.la, la)) return false;
    }
    if (this.#size >= this.maxEntries) {
      this.refused++;
      return false;
    }
    if (list === undefined) {
      list = [];
      this.#bound.set(lp, list);
    }
    list.push(new Entry(IpAddress.from(la), lp, NO_PEER, 0, v6only, value));
    this.#size++;
    return true;
  }

  /** Remove the binding (`la`, `lp`) if it maps to `value` (or any value when omitted). */
  removeBound(la: IpAddr, lp: number, value?: T): boolean {
    const list = this.#bound.get(lp);
    if (list === undefined) return false;
    for (let i = 0; i < list.length; i++) {
      if (ipEquals(list[i].la, la) && (value === undefined || list[i].value === value)) {
        list.splice(i, 1);
        if (list.length === 0) this.#bound.delete(lp);
        this.#size--;
        return true;
      }
    }
    return false;
  }

  /** The endpoint connected on exactly this 4-tuple. */
  lookupExact(la: IpAddr, lp: number, ra: IpAddr, rp: number): T | undefined {
    const shard = this.#shards[tupleBucket(la, lp, ra, rp, this.#mask)];
    for (let i = 0; i < shard.length; i++) {
      const e = shard[i];
      if (e.is(la, lp, ra, rp)) return e.value;
    }
    return undefined;
  }

  /**
   * The endpoint for a datagram to (`la`, `lp`): bound to `la` exactly, else to the
   * wildcard of `la`'s family, else (IPv4) to a dual-stack `::`.
   */
  lookupBound(la: IpAddr, lp: number): T | undefined {
    const list = this.#bound.get(lp);
    if (list === undefined) return undefined;
    let family: T | undefined;
    let dual: T | undefined;
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      if (ipEquals(e.la, la)) return e.value;
      if (!isUnspecified(e.la)) continue;
      if (e.la.family === la.family) family = e.value;
      else if (la.family === 4 && !e.v6only) dual = e.value;
    }
    return family ?? dual;
  }

  /** Exact match first, then the bound endpoint. */
  lookup(la: IpAddr, lp: number, ra: IpAddr, rp: number): T | undefined {
    return this.lookupExact(la, lp, ra, rp) ?? this.lookupBound(la, lp);
  }

  /** True when binding (`la`, `lp`, `v6only`) would conflict with a binding already there. */
  isPortBound(la: IpAddr, lp: number, v6only = false): boolean {
    const list = this.#bound.get(lp);
    if (list === undefined) return false;
    for (const e of list) if (bindingsMeet(e.la, e.v6only, la, v6only)) return true;
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
  /** Ports examined by {@link PortAllocator.allocate} so far (what the searches cost). */
  probes = 0;
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
      this.probes++;
      if (!inUse(p)) return p;
    }
    return -1;
  }
}
