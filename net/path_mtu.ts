/**
 * Path MTU per destination, one cache for both families (RFC 1191 for IPv4, RFC 8201 for
 * IPv6): a "too big" error (ICMP fragmentation needed, ICMPv6 packet too big) that the
 * transport believed lowers the MTU towards its destination — never below the family's
 * floor, never upwards — and an entry ages out after `expiresMs` (RFC 1191 §6.3, RFC 8201 §4:
 * 10 minutes, Linux's `ip_rt_mtu_expires`), after which the link MTU is tried again.
 *
 * Bounded: when `maxEntries` destinations are held, the least recently lowered one makes room
 * (`Evictions`; the entries are kept on a list in that order, so this costs no scan). Lookups are per datagram sent: an empty cache answers with one comparison, a
 * filled one with one hash and a short bucket scan; nothing is allocated.
 *
 * Counters (group `pmtu`, nstat `Pmtu*`): `Updates` (an entry went down), `Ignored` (an error
 * that lowered nothing: not below what is in force, or an IPv6 one below 1280), `Floored` (an
 * IPv4 MTU below the floor raised to it), `PlateauGuesses` (an old-style router sent no usable next-hop MTU: the
 * RFC 1191 §5 plateau table chose one), `Expired`, `Evictions`.
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import { type Counters, makeCounters } from "../core/counters.ts";
import { type IpAddr, IpAddress } from "./ip_address.ts";
import { IpAddrMap } from "./ip_addr_map.ts";

/**
 * Smallest path MTU of an IPv6 destination (RFC 8200 §5: the minimum link MTU); a packet too
 * big reporting less is discarded (RFC 8201 §4).
 */
export const PMTU_MIN_V6 = 1280;
/** Smallest MTU an IPv4 path can have (RFC 791: every host takes 68-byte datagrams). */
export const PMTU_MIN_V4 = 68;
/**
 * Default floor of an IPv4 path MTU: 552 bytes, Linux's `min_pmtu` (512 + 20 + 20), so a
 * forged fragmentation-needed cannot shrink segments to a few bytes.
 */
export const PMTU_DEFAULT_FLOOR_V4 = 552;

/** The counters a {@link PathMtuCache} keeps. */
export const PMTU_COUNTERS = [
  "Updates",
  "Ignored",
  "Floored",
  "PlateauGuesses",
  "Expired",
  "Evictions",
] as const;

/**
 * RFC 1191 §7 table of common MTU plateaus, largest first: what a host guesses when a router
 * reports no next-hop MTU.
 */
const PLATEAUS = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

/**
 * The RFC 1191 §5 estimate for a datagram of `totalLength` bytes that did not fit: the
 * largest plateau below it (68 at least).
 *
 * @example
 * ```ts
 * plateauBelow(1500); // 1492
 * plateauBelow(1492); // 1006
 * ```
 */
export function plateauBelow(totalLength: number): number {
  for (let i = 0; i < PLATEAUS.length; i++) if (PLATEAUS[i] < totalLength) return PLATEAUS[i];
  return PMTU_MIN_V4;
}

/** Tunables of the path MTU cache. */
export interface PathMtuOptions {
  /** Destinations remembered; the least recently lowered one makes room for a new one [1024]. */
  maxEntries?: number;
  /** Age after which a lowered MTU is forgotten [600 000 ms]. */
  expiresMs?: number;
  /** Floor of an IPv4 path MTU, at least 68 [552, Linux `min_pmtu`]. */
  floorV4?: number;
}

/** One destination's entry, on a list ordered by when it was last lowered (oldest first). */
class PmtuEntry {
  prev: PmtuEntry | null = null;
  next: PmtuEntry | null = null;
  constructor(readonly key: IpAddress, public mtu: number, public expiresAtMs: number) {}
}

/**
 * The cache.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "../core/clock.ts";
 * import { IpAddress } from "./ip_address.ts";
 * const pmtu = new PathMtuCache(new VirtualClock());
 * pmtu.lower(IpAddress.parse("fd00:9::1"), 1400);
 * pmtu.mtuFor(IpAddress.parse("fd00:9::1"), 1500); // 1400
 * ```
 */
export class PathMtuCache {
  /** The counters ({@link PMTU_COUNTERS}). */
  readonly stats: Counters;
  /** Floor of an IPv4 path MTU. */
  readonly floorV4: number;
  readonly #clock: Clock;
  readonly #map: IpAddrMap<PmtuEntry>;
  readonly #expiresMs: number;
  /** Least recently lowered entry (the next to be evicted), and the most recent. */
  #oldest: PmtuEntry | null = null;
  #newest: PmtuEntry | null = null;

  /** An empty cache reading time from `clock`, counting into `stats` (a group of its own when absent). */
  constructor(clock: Clock, opts: PathMtuOptions = {}, stats?: Counters) {
    this.#clock = clock;
    this.#map = new IpAddrMap(opts.maxEntries ?? 1024);
    this.#expiresMs = opts.expiresMs ?? 600_000;
    this.floorV4 = Math.max(PMTU_MIN_V4, opts.floorV4 ?? PMTU_DEFAULT_FLOOR_V4);
    this.stats = stats ?? makeCounters(PMTU_COUNTERS);
  }

  /** Destinations with a lowered MTU. */
  get size(): number {
    return this.#map.size;
  }

  /** Most destinations held. */
  get maxEntries(): number {
    return this.#map.maxEntries;
  }

  /** The MTU towards `dst`: the cached one when lower than `linkMtu` and not expired. */
  mtuFor(dst: IpAddr, linkMtu: number): number {
    if (this.#map.size === 0) return linkMtu;
    const e = this.#map.get(dst);
    if (e === undefined) return linkMtu;
    if (this.#clock.nowMs() >= e.expiresAtMs) {
      this.#remove(e);
      this.stats.Expired++;
      return linkMtu;
    }
    return e.mtu < linkMtu ? e.mtu : linkMtu;
  }

  /**
   * The MTU an ICMPv4 fragmentation needed allows: the router's next-hop MTU, or — when it
   * sent none (an RFC 792 router: 0) or one not below the quoted datagram's `totalLength`,
   * which cannot be why it was dropped — the RFC 1191 §5 plateau below that length.
   */
  reportedMtuV4(nextHopMtu: number, totalLength: number): number {
    if (nextHopMtu >= PMTU_MIN_V4 && nextHopMtu < totalLength) return nextHopMtu;
    this.stats.PlateauGuesses++;
    return plateauBelow(totalLength);
  }

  /**
   * A "too big" error says `mtu` towards `dst`. IPv4: raised to the floor when below it.
   * IPv6: ignored when below 1280 (RFC 8201 §4: such a packet too big is discarded). Ignored
   * too when not lower than what is in force (`linkMtu` or the cached MTU). Returns the MTU
   * now in force for `dst` when it went down, else 0.
   */
  lower(dst: IpAddr, mtu: number, linkMtu = Infinity): number {
    const st = this.stats;
    if (dst.family === 6) {
      if (mtu < PMTU_MIN_V6) {
        st.Ignored++;
        return 0;
      }
    } else if (mtu < this.floorV4) {
      mtu = this.floorV4;
      st.Floored++;
    }
    if (mtu >= this.mtuFor(dst, linkMtu)) {
      st.Ignored++;
      return 0;
    }
    const expiresAtMs = this.#clock.nowMs() + this.#expiresMs;
    let e = this.#map.get(dst);
    if (e !== undefined) {
      e.mtu = mtu;
      e.expiresAtMs = expiresAtMs;
      this.#unlink(e);
    } else {
      const oldest = this.#oldest;
      if (this.#map.size >= this.#map.maxEntries && oldest !== null) {
        // Full: the least recently lowered destination makes room (expired or not).
        this.#remove(oldest);
        if (oldest.expiresAtMs <= this.#clock.nowMs()) st.Expired++;
        else st.Evictions++;
      }
      e = new PmtuEntry(IpAddress.from(dst), mtu, expiresAtMs);
      this.#map.set(e.key, e);
    }
    this.#append(e);
    st.Updates++;
    return mtu;
  }

  /** Forget everything. */
  clear(): void {
    this.#map.clear();
    this.#oldest = null;
    this.#newest = null;
  }

  #remove(e: PmtuEntry): void {
    this.#unlink(e);
    this.#map.delete(e.key);
  }

  #append(e: PmtuEntry): void {
    e.prev = this.#newest;
    e.next = null;
    if (this.#newest !== null) this.#newest.next = e;
    else this.#oldest = e;
    this.#newest = e;
  }

  #unlink(e: PmtuEntry): void {
    if (e.prev !== null) e.prev.next = e.next;
    else this.#oldest = e.next;
    if (e.next !== null) e.next.prev = e.prev;
    else this.#newest = e.prev;
    e.prev = null;
    e.next = null;
  }
}
