/**
 * Router discovery and stateless address autoconfiguration for a host (RFC 4861 §6.3,
 * RFC 4862 §5.5): router solicitations once the link-local address is usable (up to
 * MAX_RTR_SOLICITATIONS, RTR_SOLICITATION_INTERVAL apart, until an advertisement arrives),
 * and advertisements turned into configuration — default routers with their lifetimes,
 * on-link prefixes, the link MTU, hop limit, reachable and retransmission times, and with
 * SLAAC addresses from prefixes that carry the A flag.
 *
 * Only active when enabled (the CLI's `--slaac`); otherwise advertisements are counted and
 * ignored.
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import type { Counters } from "../core/counters.ts";
import { Timer, type TimerWheel } from "../core/timer_wheel.ts";
import { IpAddressScratch, isLinkLocal, isMulticast } from "./ip_address.ts";
import { slaacAddress } from "./ipv6_address.ts";
import type { Ipv6Layer } from "./ipv6.ts";
import type { Ipv6Interface } from "./ipv6_interface.ts";
import { IPV6_MIN_MTU } from "./ipv6_header.ts";
import {
  NDP_OPT_MTU,
  NDP_OPT_PREFIX_INFO,
  NDP_OPT_SOURCE_LL,
  NDP_RA_BYTES,
  NdpOptionCursor,
  PrefixInfoView,
  RouterAdvertView,
} from "./ndp_header.ts";
import { LIFETIME_INFINITE } from "./ipv6_addresses.ts";

/** Tunables of router discovery (RFC 4861 §10 host constants). */
export interface RouterDiscoveryOptions {
  /** Solicit routers and take configuration from advertisements (`--slaac`) [false]. */
  enabled?: boolean;
  /** Form addresses from prefixes with the A flag [true when enabled]. */
  autoconf?: boolean;
  /** Solicitations sent (MAX_RTR_SOLICITATIONS) [3]. */
  maxSolicitations?: number;
  /** Time between solicitations (RTR_SOLICITATION_INTERVAL) [4000 ms]. */
  solicitationIntervalMs?: number;
  /** Largest random delay before the first one (MAX_RTR_SOLICITATION_DELAY) [1000 ms]. */
  maxSolicitationDelayMs?: number;
  /** Random source in [0, 1) [Math.random]. */
  random?: () => number;
}

class SolicitState {
  sent = 0;
  answered = false;
  constructor(readonly iface: Ipv6Interface, readonly timer: Timer) {}
}

/**
 * Router discovery for every interface of an IPv6 layer.
 *
 * @example
 * ```ts ignore
 * const rd = new RouterDiscovery(ip6, timers, clock, stats.ndp, { enabled: true });
 * ```
 */
export class RouterDiscovery {
  /** True when advertisements configure the host. */
  readonly enabled: boolean;
  readonly #ip: Ipv6Layer;
  readonly #timers: TimerWheel;
  readonly #clock: Clock;
  readonly #stats: Counters;
  readonly #autoconf: boolean;
  readonly #max: number;
  readonly #intervalMs: number;
  readonly #delayMs: number;
  readonly #random: () => number;
  readonly #states = new Map<number, SolicitState>();
  readonly #ra = new RouterAdvertView();
  readonly #pi = new PrefixInfoView();
  readonly #opts = new NdpOptionCursor();
  readonly #prefix = new IpAddressScratch();

  /** Watch `ip`'s addresses: each link-local address that becomes usable starts soliciting. */
  constructor(
    ip: Ipv6Layer,
    timers: TimerWheel,
    clock: Clock,
    stats: Counters,
    opts: RouterDiscoveryOptions = {},
  ) {
    this.#ip = ip;
    this.#timers = timers;
    this.#clock = clock;
    this.#stats = stats;
    this.enabled = opts.enabled ?? false;
    this.#autoconf = opts.autoconf ?? true;
    this.#max = opts.maxSolicitations ?? 3;
    this.#intervalMs = opts.solicitationIntervalMs ?? 4000;
    this.#delayMs = opts.maxSolicitationDelayMs ?? 1000;
    this.#random = opts.random ?? Math.random;
    ip.addAddressListener((a, event) => {
      if (this.enabled && a.origin === "link-local" && event === "preferred") {
        this.#startSoliciting(ip.iface(a.nicIndex));
      }
    });
  }

  /** Solicitations sent on NIC `nicIndex` so far. */
  solicitationsSent(nicIndex: number): number {
    return this.#states.get(nicIndex)?.sent ?? 0;
  }

  #startSoliciting(iface: Ipv6Interface): void {
    let s = this.#states.get(iface.index);
    if (s === undefined) {
      const timer = new Timer(() => this.#solicit(s!));
      s = new SolicitState(iface, timer);
      this.#states.set(iface.index, s);
    }
    s.sent = 0;
    s.answered = false;
    const at = this.#clock.nowMs() + Math.floor(this.#random() * this.#delayMs);
    this.#timers.schedule(s.timer, at);
  }

  #solicit(s: SolicitState): void {
    if (s.answered || s.sent >= this.#max) return;
    s.sent++;
    s.iface.sendRouterSolicit();
    if (s.sent < this.#max) this.#timers.schedule(s.timer, this.#clock.nowMs() + this.#intervalMs);
  }

  /**
   * A router advertisement already validated by NDP (hop limit 255, link-local source, code
   * 0, options well formed) from `src` on `iface`: `buf[off, off + len)` is the ICMPv6
   * message.
   */
  receive(
    iface: Ipv6Interface,
    src: IpAddressScratch,
    buf: Uint8Array,
    off: number,
    len: number,
  ): void {
    const st = this.#stats;
    if (!this.enabled) {
      st.RaIgnored++;
      return;
    }
    st.RaAccepted++;
    const s = this.#states.get(iface.index);
    if (s !== undefined) {
      s.answered = true;
      this.#timers.cancel(s.timer);
    }
    const ra = this.#ra.attach(buf, off);
    if (ra.curHopLimit !== 0) iface.hopLimit = ra.curHopLimit;
    if (ra.reachableTime !== 0 && ra.reachableTime <= 3_600_000) {
      iface.neighbours.setBaseReachable(ra.reachableTime);
    }
    if (ra.retransTimer !== 0) iface.setRetransMs(ra.retransTimer);
    const routes = this.#ip.routes;
    const c = this.#opts.start(buf, off + NDP_RA_BYTES, len - NDP_RA_BYTES);
    while (c.next()) {
      if (c.type === NDP_OPT_SOURCE_LL && c.optLen >= 8) {
        iface.neighbours.learn(src, buf, c.optOff + 2, true, true);
      } else if (c.type === NDP_OPT_MTU && c.optLen >= 8) {
        const mtu = ((buf[c.optOff + 4] << 24) | (buf[c.optOff + 5] << 16) |
          (buf[c.optOff + 6] << 8) | buf[c.optOff + 7]) >>> 0;
        // RFC 4861 §6.3.4: ignore an MTU below the IPv6 minimum or above the link's.
        if (mtu >= IPV6_MIN_MTU && mtu <= iface.link.mtu) iface.mtu = mtu;
        else st.RaBadMtu++;
      } else if (c.type === NDP_OPT_PREFIX_INFO && c.optLen >= 32) {
        this.#prefixInfo(iface, buf, c.optOff);
      }
    }
    // RFC 4861 §6.3.4: the router lifetime adds, refreshes or (0) removes a default router.
    routes.addRouter(src, iface.index, "ra", ra.routerLifetime * 1000);
  }

  #prefixInfo(iface: Ipv6Interface, buf: Uint8Array, optOff: number): void {
    const pi = this.#pi.attach(buf, optOff);
    const len = pi.prefixLength;
    const prefix = pi.readPrefix(this.#prefix);
    // RFC 4861 §6.3.4 / RFC 4862 §5.5.3 (b): never for the link-local prefix.
    if (len > 128 || isLinkLocal(prefix) || isMulticast(prefix)) {
      this.#stats.RaPrefixIgnored++;
      return;
    }
    const valid = pi.validLifetime;
    const preferred = pi.preferredLifetime;
    if (pi.onLink) {
      const ms = valid === LIFETIME_INFINITE ? Infinity : valid * 1000;
      this.#ip.routes.addPrefix(prefix, len, iface.index, "ra", ms);
    }
    if (!pi.autonomous || !this.#autoconf) return;
    // RFC 4862 §5.5.3 (c): a preferred lifetime beyond the valid one is an error; (d) the
    // prefix and our 64-bit interface identifier must make 128 bits.
    if (preferred > valid || len !== 64) {
      this.#stats.RaPrefixIgnored++;
      return;
    }
    iface.addresses.slaacPrefix(slaacAddress(prefix, iface.link.mac), len, valid, preferred);
  }
}
