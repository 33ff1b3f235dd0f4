/**
 * Path MTU per destination, for both families (RFC 8201 for IPv6, RFC 1191 for IPv4): a
 * "too big" error lowers the MTU towards its destination, never below the family's floor, and
 * never raises it; an entry ages out after `expiresMs` (RFC 8201 §4 suggests 10 minutes, as
 * Linux's `mtu_expires`), after which the link MTU is tried again.
 *
 * Lookups are per packet sent: an empty cache answers with one comparison, a filled one with
 * one hash and a short bucket scan; nothing is allocated.
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import type { IpAddr } from "./ip_address.ts";
import { IpAddrMap } from "./ip_addr_map.ts";

/** Smallest path MTU an IPv6 destination is lowered to (RFC 8200 §5: the minimum link MTU). */
export const PMTU_MIN_V6 = 1280;
/** Smallest path MTU an IPv4 destination is lowered to (RFC 791: every host takes 68). */
export const PMTU_MIN_V4 = 68;

/** Tunables of the path MTU cache. */
export interface PathMtuOptions {
  /** Destinations remembered; the oldest entry makes room for a new one [1024]. */
  maxEntries?: number;
  /** Age after which a lowered MTU is forgotten [600 000 ms]. */
  expiresMs?: number;
}

interface PmtuEntry {
  mtu: number;
  expiresAtMs: number;
}

/**
 * The cache.
 *
 * @example
 * ```ts
 * const pmtu = new PathMtuCache(clock);
 * pmtu.lower(IpAddress.parse("fd00:9::1"), 1400);
 * pmtu.mtuFor(IpAddress.parse("fd00:9::1"), 1500); // 1400
 * ```
 */
export class PathMtuCache {
  readonly #clock: Clock;
  readonly #map: IpAddrMap<PmtuEntry>;
  readonly #expiresMs: number;
  /** Lowerings recorded. */
  updates = 0;

  /** An empty cache reading time from `clock`. */
  constructor(clock: Clock, opts: PathMtuOptions = {}) {
    this.#clock = clock;
    this.#map = new IpAddrMap(opts.maxEntries ?? 1024);
    this.#expiresMs = opts.expiresMs ?? 600_000;
  }

  /** Destinations with a lowered MTU. */
  get size(): number {
    return this.#map.size;
  }

  /** The MTU towards `dst`: the cached one when lower than `linkMtu` and not expired. */
  mtuFor(dst: IpAddr, linkMtu: number): number {
    if (this.#map.size === 0) return linkMtu;
    const e = this.#map.get(dst);
    if (e === undefined) return linkMtu;
    if (this.#clock.nowMs() >= e.expiresAtMs) {
      this.#map.delete(dst);
      return linkMtu;
    }
    return e.mtu < linkMtu ? e.mtu : linkMtu;
  }

  /**
   * A "too big" error says `mtu` towards `dst`. Raised to the family's floor when below it;
   * ignored when not lower than what is known. Returns the MTU now in force for `dst` when it
   * went down, else 0.
   */
  lower(dst: IpAddr, mtu: number, linkMtu = Infinity): number {
    const floor = dst.family === 6 ? PMTU_MIN_V6 : PMTU_MIN_V4;
    if (mtu < floor) mtu = floor;
    if (mtu >= this.mtuFor(dst, linkMtu)) return 0;
    const expiresAtMs = this.#clock.nowMs() + this.#expiresMs;
    const e = this.#map.get(dst);
    if (e !== undefined) {
      e.mtu = mtu;
      e.expiresAtMs = expiresAtMs;
    } else {
      if (this.#map.size >= this.#map.maxEntries) this.#evictOldest();
      this.#map.set(dst, { mtu, expiresAtMs });
    }
    this.updates++;
    return mtu;
  }

  /** Forget everything. */
  clear(): void {
    this.#map.clear();
  }

  #evictOldest(): void {
    let oldest: IpAddr | null = null;
    let at = Infinity;
    for (const [k, v] of this.#map.entries()) {
      if (v.expiresAtMs < at) {
        at = v.expiresAtMs;
        oldest = k;
      }
    }
    if (oldest !== null) this.#map.delete(oldest);
  }
}
