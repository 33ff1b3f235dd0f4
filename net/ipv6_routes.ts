/**
 * IPv6 next-hop determination (RFC 4861 §5.2) over the host's two lists (§5.1): the prefix
 * list (on-link prefixes: the link-local prefix, the prefixes of configured addresses, and
 * prefixes router advertisements mark on-link, with their valid lifetimes) and the default
 * router list (a configured gateway, and routers whose advertisements carry a non-zero router
 * lifetime). A destination in an on-link prefix is its own next hop; anything else goes to a
 * default router, preferring one that is probably reachable (§6.3.6).
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import type { Counters } from "../core/counters.ts";
import { Timer, type TimerWheel } from "../core/timer_wheel.ts";
import {
  inPrefix,
  type IpAddr,
  IpAddress,
  ipEquals,
  isLinkLocal,
  isMulticast,
  prefixOf,
} from "./ip_address.ts";

/** Where a prefix or router came from. */
export type Ipv6RouteOrigin = "static" | "ra";

/** An on-link prefix. */
export interface OnLinkPrefix {
  /** Network address. */
  readonly prefix: IpAddress;
  /** Prefix length. */
  readonly prefixLen: number;
  /** NIC it is on. */
  readonly nicIndex: number;
  /** Origin. */
  readonly origin: Ipv6RouteOrigin;
  /** When it expires (Infinity = never). */
  expiresAtMs: number;
}

/** A default router. */
export interface DefaultRouter {
  /** Its (link-local, for advertised routers) address. */
  readonly addr: IpAddress;
  /** NIC it is on. */
  readonly nicIndex: number;
  /** Origin. */
  readonly origin: Ipv6RouteOrigin;
  /** When its router lifetime ends (Infinity = never). */
  expiresAtMs: number;
}

/** How the routes learn whether a router is probably reachable (the neighbour cache). */
export type RouterReachability = (nicIndex: number, router: IpAddr) => boolean;

/**
 * The prefix and default router lists with lifetimes, and next-hop lookup.
 *
 * @example
 * ```ts ignore
 * const routes = new Ipv6Routes(timers, clock, stats.ndp, 16);
 * routes.addPrefix(IpAddress.parse("fd00:5::"), 64, 1, "static", Infinity);
 * routes.nextHop(IpAddress.parse("fd00:5::1"), out); // on-link
 * ```
 */
export class Ipv6Routes {
  /** Called when an advertised router or prefix expires (for events and tests). */
  onExpire: ((what: "router" | "prefix", addr: IpAddress) => void) | null = null;
  readonly #prefixes: OnLinkPrefix[] = [];
  readonly #routers: DefaultRouter[] = [];
  readonly #timers: TimerWheel;
  readonly #clock: Clock;
  readonly #stats: Counters;
  readonly #max: number;
  readonly #timer: Timer;
  #rr = 0;

  /** Lists of at most `maxEntries` prefixes and as many routers. */
  constructor(timers: TimerWheel, clock: Clock, stats: Counters, maxEntries = 64) {
    this.#timers = timers;
    this.#clock = clock;
    this.#stats = stats;
    this.#max = maxEntries;
    this.#timer = new Timer(() => this.#expire());
  }

  /** The on-link prefixes. */
  prefixes(): readonly OnLinkPrefix[] {
    return this.#prefixes;
  }

  /** The default routers. */
  routers(): readonly DefaultRouter[] {
    return this.#routers;
  }

  /**
   * Add or refresh an on-link prefix; `lifetimeMs` from now (Infinity = forever, 0 removes an
   * advertised one: RFC 4861 §6.3.4). A static prefix is never changed by an advertisement.
   */
  addPrefix(
    prefix: IpAddr,
    prefixLen: number,
    nicIndex: number,
    origin: Ipv6RouteOrigin,
    lifetimeMs: number,
  ): void {
    const net = prefixOf(prefix, prefixLen);
    const now = this.#clock.nowMs();
    const i = this.#prefixes.findIndex((p) =>
      p.nicIndex === nicIndex && p.prefixLen === prefixLen && ipEquals(p.prefix, net)
    );
    if (i >= 0) {
      const p = this.#prefixes[i];
      if (p.origin === "static" && origin === "ra") return;
      if (lifetimeMs <= 0) this.#prefixes.splice(i, 1);
      else p.expiresAtMs = now + lifetimeMs;
    } else if (lifetimeMs > 0) {
      if (this.#prefixes.length >= this.#max) {
        this.#stats.RoutesRefused++;
        return;
      }
      this.#prefixes.push({
        prefix: net,
        prefixLen,
        nicIndex,
        origin,
        expiresAtMs: now + lifetimeMs,
      });
      // Longest prefix first, so the first match is the answer.
      this.#prefixes.sort((a, b) => b.prefixLen - a.prefixLen);
    }
    this.#arm();
  }

  /** Remove the prefix (any origin). */
  removePrefix(prefix: IpAddr, prefixLen: number, nicIndex: number): void {
    const net = prefixOf(prefix, prefixLen);
    const i = this.#prefixes.findIndex((p) =>
      p.nicIndex === nicIndex && p.prefixLen === prefixLen && ipEquals(p.prefix, net)
    );
    if (i >= 0) this.#prefixes.splice(i, 1);
  }

  /**
   * Add or refresh a default router; `lifetimeMs` 0 removes an advertised one (RFC 4861
   * §6.3.4). A static router replaces any earlier static one (like `ip route replace`).
   */
  addRouter(addr: IpAddr, nicIndex: number, origin: Ipv6RouteOrigin, lifetimeMs: number): void {
    if (origin === "static") {
      for (let i = this.#routers.length - 1; i >= 0; i--) {
        if (this.#routers[i].origin === "static") this.#routers.splice(i, 1);
      }
    }
    const i = this.#routers.findIndex((r) => r.nicIndex === nicIndex && ipEquals(r.addr, addr));
    const now = this.#clock.nowMs();
    if (i >= 0) {
      const r = this.#routers[i];
      if (r.origin === "static" && origin === "ra") return;
      if (lifetimeMs <= 0) this.#routers.splice(i, 1);
      else r.expiresAtMs = now + lifetimeMs;
    } else if (lifetimeMs > 0) {
      if (this.#routers.length >= this.#max) {
        this.#stats.RoutesRefused++;
        return;
      }
      this.#routers.push({
        addr: IpAddress.from(addr),
        nicIndex,
        origin,
        expiresAtMs: now + lifetimeMs,
      });
    }
    this.#arm();
  }

  /**
   * The next hop towards `dst`: fills `nextHop` (the destination itself when on-link, else a
   * default router) and returns the NIC index, or 0 when there is no route. Link-local and
   * multicast destinations are on-link on `zoneNic` (the first NIC when 0).
   */
  nextHop(
    dst: IpAddr,
    zoneNic: number,
    reachable: RouterReachability,
    nextHop: { set(a: IpAddr): unknown },
  ): number {
    if (isLinkLocal(dst) || isMulticast(dst)) {
      const nic = zoneNic !== 0 ? zoneNic : this.#firstNic();
      if (nic !== 0) nextHop.set(dst);
      return nic;
    }
    const p = this.#prefixes;
    for (let i = 0; i < p.length; i++) {
      if (inPrefix(dst, p[i].prefix, p[i].prefixLen)) {
        nextHop.set(dst);
        return p[i].nicIndex;
      }
    }
    const r = this.#routers;
    if (r.length === 0) return 0;
    // RFC 4861 §6.3.6: a router known (probably) reachable first, else round-robin.
    for (let i = 0; i < r.length; i++) {
      if (reachable(r[i].nicIndex, r[i].addr)) {
        nextHop.set(r[i].addr);
        return r[i].nicIndex;
      }
    }
    const pick = r[this.#rr++ % r.length];
    nextHop.set(pick.addr);
    return pick.nicIndex;
  }

  /** True when `dst` is on-link by the prefix list (link-local counts). */
  isOnLink(dst: IpAddr): boolean {
    if (isLinkLocal(dst)) return true;
    for (const p of this.#prefixes) if (inPrefix(dst, p.prefix, p.prefixLen)) return true;
    return false;
  }

  #firstNic(): number {
    let nic = 0;
    for (const p of this.#prefixes) if (nic === 0 || p.nicIndex < nic) nic = p.nicIndex;
    return nic;
  }

  #arm(): void {
    let next = Infinity;
    for (const p of this.#prefixes) next = Math.min(next, p.expiresAtMs);
    for (const r of this.#routers) next = Math.min(next, r.expiresAtMs);
    if (next === Infinity) this.#timers.cancel(this.#timer);
    else this.#timers.schedule(this.#timer, Math.max(next, this.#clock.nowMs() + 1));
  }

  #expire(): void {
    const now = this.#clock.nowMs();
    for (let i = this.#prefixes.length - 1; i >= 0; i--) {
      const p = this.#prefixes[i];
      if (now >= p.expiresAtMs) {
        this.#prefixes.splice(i, 1);
        this.#stats.PrefixesExpired++;
        this.onExpire?.("prefix", p.prefix);
      }
    }
    for (let i = this.#routers.length - 1; i >= 0; i--) {
      const r = this.#routers[i];
      if (now >= r.expiresAtMs) {
        this.#routers.splice(i, 1);
        this.#stats.RoutersExpired++;
        this.onExpire?.("router", r.addr);
      }
    }
    this.#arm();
  }
}
