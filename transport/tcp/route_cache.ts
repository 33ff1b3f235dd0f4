/**
 * What the connections of one TCP layer share instead of holding a copy each: the route to a
 * destination (read-only once made) and the immutable address objects of the four-tuples
 * (a million connections from a few client addresses hold a few address objects, not two
 * million).
 *
 * Both are bounded caches keyed by address ({@link IpAddrMap}, either family). Routes are
 * made again after `ttlMs` (routes and source addresses change: SLAAC, router reachability,
 * configuration), so a new connection's route is at most that old; a connection keeps the
 * route it was made with, as before. A link-local destination's route depends on its NIC and
 * is not cached. When a cache is full it starts over (its entries are only shortcuts).
 *
 * @module
 */

import type { Clock } from "../../core/clock.ts";
import { IpAddrMap } from "../../net/ip_addr_map.ts";
import { type IpAddr, IpAddress, isLinkLocal } from "../../net/ip_address.ts";
import type { IpNetworks } from "../../net/ip_networks.ts";
import { NetRoute } from "../../net/network_layer.ts";

/** Routes kept (one per destination) before the cache starts over. */
const ROUTE_ENTRIES = 4096;
/** Addresses kept before the cache starts over. */
const ADDRESS_ENTRIES = 4096;
/** How long a cached route is used for new connections (ms). */
const ROUTE_TTL_MS = 1000;

/**
 * Routes and addresses shared by connections.
 *
 * @example
 * ```ts ignore
 * const shared = new RouteCache(stack.networks, stack.clock);
 * const route = shared.routeTo(peer, 0); // null: no route
 * const a = shared.address(seg.src); // the one immutable copy
 * ```
 */
export class RouteCache {
  readonly #networks: IpNetworks;
  readonly #clock: Clock;
  readonly #routes = new IpAddrMap<NetRoute>(ROUTE_ENTRIES);
  readonly #addresses = new IpAddrMap<IpAddress>(ADDRESS_ENTRIES);
  /**
   * When the cached routes were last started over (ms). -Infinity (a double, as the times it
   * later holds): a cache's first lookup starts it over, so the warm-up's short-lived stacks
   * run that branch too, not only a real stack's first lookup past {@link ROUTE_TTL_MS}
   * (which V8 met with no type feedback: bench/README.md, "conn9m").
   */
  #routesSince = -Infinity;

  /** A cache over `networks`' routes, aged by `clock`. */
  constructor(networks: IpNetworks, clock: Clock) {
    this.#networks = networks;
    this.#clock = clock;
  }

  /**
   * The route to `dst` (a link-local one on NIC `zoneNic`), shared and read-only, or null
   * when there is none. `nowMs`: the clock's time when the caller has just read it (else the
   * clock is read).
   */
  routeTo(dst: IpAddr, zoneNic: number, nowMs: number = this.#clock.nowMs()): NetRoute | null {
    const net = this.#networks.of(dst);
    if (isLinkLocal(dst)) {
      const own = new NetRoute();
      return net.route(dst, own, zoneNic) ? own : null;
    }
    const routes = this.#routes;
    const now = nowMs;
    if (now - this.#routesSince >= ROUTE_TTL_MS) {
      routes.clear();
      this.#routesSince = now;
    }
    let r = routes.get(dst);
    if (r !== undefined) return r;
    r = new NetRoute();
    if (!net.route(dst, r, zoneNic)) return null;
    if (routes.size >= routes.maxEntries) routes.clear();
    routes.set(dst, r);
    return r;
  }

  /** The shared immutable copy of `a` (a scratch address from a packet, say). */
  address(a: IpAddr): IpAddress {
    const addresses = this.#addresses;
    let x = addresses.get(a);
    if (x !== undefined) return x;
    x = IpAddress.from(a);
    if (addresses.size >= addresses.maxEntries) addresses.clear();
    addresses.set(x, x);
    return x;
  }
}
