/**
 * The IPv4 routing table: longest-prefix match over a small sorted array.
 *
 * Lookup cost: a linear scan of the routes, sorted longest prefix first, so the first match is
 * the answer — O(routes), which for the handful of routes a host has (connected subnets plus a
 * default) is a few comparisons. Results are cached per destination by the caller (TCP keeps
 * its route for the connection's life).
 *
 * @module
 */

import { formatIpv4, prefixMask } from "./ipv4_address.ts";
import { DOUBLE_ZERO } from "../core/v8_shapes.ts";
import { StackError } from "../core/errors.ts";
import { type IpAddr, IpAddressScratch } from "./ip_address.ts";

/** One route. `gateway` 0 means the destination is on-link. */
export interface Ipv4Route {
  /** Network address (host bits zero). */
  readonly dest: number;
  /** Prefix length 0..32. */
  readonly prefixLen: number;
  /** Next-hop router, or 0 for on-link. */
  readonly gateway: number;
  /** NIC index the route leaves through. */
  readonly nicIndex: number;
  /** Preferred source address for packets on this route. */
  readonly source: number;
  /** Lower wins among equal prefixes. */
  readonly metric: number;
}

/** Result of a lookup, filled into a caller-provided record (no allocation). */
export class RouteResult {
  /** NIC index. */
  nicIndex = 0;
  /** The address to resolve on the link: the gateway, or the destination when on-link. */
  nextHop: number = DOUBLE_ZERO; // unsigned 32-bit: a double from the start (core/v8_shapes.ts)
  /** Preferred source address. */
  source: number = DOUBLE_ZERO;
}

/**
 * Longest-prefix-match routing table, bounded.
 *
 * @example
 * ```ts
 * const rt = new RouteTable();
 * rt.add({ dest: 0xc6120000, prefixLen: 24, gateway: 0, nicIndex: 1, source: 0xc6120002, metric: 0 });
 * const r = new RouteResult();
 * rt.lookup(0xc6120001, r); // true, r.nextHop === 0xc6120001
 * ```
 */
export class RouteTable {
  readonly #routes: Ipv4Route[] = [];
  /** {@link RouteTable.lookup}'s number as a record (a double field from the start). */
  readonly #key = new IpAddressScratch();
  /** Most routes the table holds. */
  readonly maxRoutes: number;
  /** Adds refused because the table was full. */
  refused = 0;

  /** A table bounded at `maxRoutes` (default 1024). */
  constructor(maxRoutes = 1024) {
    this.maxRoutes = maxRoutes;
  }

  /** Add a route; throws a StackError EEXIST/ENOSPC/EINVAL on misuse. */
  add(route: Ipv4Route): void {
    if (!(route.prefixLen >= 0 && route.prefixLen <= 32)) {
      throw new StackError("EINVAL", `route prefix length must be 0..32, got ${route.prefixLen}`);
    }
    const dest = (route.dest & prefixMask(route.prefixLen)) >>> 0;
    for (const r of this.#routes) {
      if (r.dest === dest && r.prefixLen === route.prefixLen && r.metric === route.metric) {
        throw new StackError("EEXIST", `route ${formatIpv4(dest)}/${route.prefixLen} exists`);
      }
    }
    if (this.#routes.length >= this.maxRoutes) {
      this.refused++;
      throw new StackError("ENOSPC", "routing table full");
    }
    this.#routes.push({ ...route, dest });
    this.#routes.sort((a, b) => b.prefixLen - a.prefixLen || a.metric - b.metric);
  }

  /** Remove every route through NIC `nicIndex` matching dest/prefix; returns how many. */
  remove(dest: number, prefixLen: number): number {
    const before = this.#routes.length;
    const d = (dest & prefixMask(prefixLen)) >>> 0;
    for (let i = this.#routes.length - 1; i >= 0; i--) {
      const r = this.#routes[i];
      if (r.dest === d && r.prefixLen === prefixLen) this.#routes.splice(i, 1);
    }
    return before - this.#routes.length;
  }

  /**
   * Remove every route through NIC `nicIndex` whose preferred source is `source` (an address
   * going away takes them with it, as Linux's do); returns them, longest prefix first.
   */
  removeBySource(source: number, nicIndex: number): Ipv4Route[] {
    const gone: Ipv4Route[] = [];
    for (let i = 0; i < this.#routes.length; i++) {
      const r = this.#routes[i];
      if (r.source === source && r.nicIndex === nicIndex) gone.push(r);
    }
    for (const r of gone) this.#routes.splice(this.#routes.indexOf(r), 1);
    return gone;
  }

  /**
   * Longest-prefix match for `dst`; fills `out` and returns true, or false for no route. A
   * number argument: for configuration and rare paths (a u32 ≥ 2³¹ passed to a call V8 does not
   * inline is a heap number); per-packet callers use {@link RouteTable.lookupAddr}.
   */
  lookup(dst: number, out: RouteResult): boolean {
    const key = this.#key;
    return this.lookupAddr(key.setV4(dst), out);
  }

  /**
   * {@link RouteTable.lookup} of the IPv4 address `dst` (its `w3`), read from the record: no number
   * crosses the call, so a SYN-ACK or RST routed to a peer in 198.18/15 makes no heap number.
   */
  lookupAddr(dst: IpAddr, out: RouteResult): boolean {
    const a = dst.w3;
    const routes = this.#routes;
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i];
      const mask = r.prefixLen === 0 ? 0 : (0xffffffff << (32 - r.prefixLen)) >>> 0;
      if (((a & mask) >>> 0) === r.dest) {
        out.nicIndex = r.nicIndex;
        out.nextHop = r.gateway !== 0 ? r.gateway : a;
        out.source = r.source;
        return true;
      }
    }
    return false;
  }

  /** A copy of the routes, longest prefix first. */
  list(): Ipv4Route[] {
    return this.#routes.map((r) => ({ ...r }));
  }
}
