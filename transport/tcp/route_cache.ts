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
 * In front of each map, the last answers by value: a short-connection client asks for the
 * same destination's route and the same two addresses (its own, the server's) on every
 * `connect()`, a server for the same two on every SYN — a compare of four words instead of
 * an address hash and a map lookup (two entries for the addresses, one for the route).
 *
 * @module
 */

import type { Clock } from "../../core/clock.ts";
import { IpAddrMap } from "../../net/ip_addr_map.ts";
import { type IpAddr, IpAddress, ipEquals, isLinkLocal } from "../../net/ip_address.ts";
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
  /** The last route {@link RouteCache.routeTo} gave from the map, and its destination. */
  #lastRoute: NetRoute | null = null;
  #lastRouteDst: IpAddr | null = null;
  /** The last two addresses {@link RouteCache.address} looked up (the newer in `#addr0`). */
  #addr0: IpAddress | null = null;
  #addr1: IpAddress | null = null;
  /** Lookups in the two maps so far (what the last-answer shortcuts leave). */
  mapLookups = 0;

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
      this.#lastRouteDst = null;
      this.#routesSince = now;
    }
    const lastDst = this.#lastRouteDst;
    if (lastDst !== null && ipEquals(dst, lastDst)) return this.#lastRoute;
    this.mapLookups++;
    let r = routes.get(dst);
    if (r === undefined) {
      r = new NetRoute();
      if (!net.route(dst, r, zoneNic)) return null;
      if (routes.size >= routes.maxEntries) routes.clear();
      routes.set(dst, r);
    }
    this.#lastRoute = r;
    // The route's own copy of the destination: `dst` may be a scratch address that changes.
    this.#lastRouteDst = this.address(dst);
    return r;
  }

  /** The shared immutable copy of `a` (a scratch address from a packet, say). */
  address(a: IpAddr): IpAddress {
    const a0 = this.#addr0;
    if (a0 !== null && ipEquals(a, a0)) return a0;
    const a1 = this.#addr1;
    if (a1 !== null && ipEquals(a, a1)) return a1;
    const addresses = this.#addresses;
    this.mapLookups++;
    let x = addresses.get(a);
    if (x === undefined) {
      x = IpAddress.from(a);
      if (addresses.size >= addresses.maxEntries) {
        addresses.clear();
        this.#addr0 = this.#addr1 = null;
      }
      addresses.set(x, x);
    }
    this.#addr1 = this.#addr0;
    this.#addr0 = x;
    return x;
  }
}
