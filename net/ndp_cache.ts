/**
 * The IPv6 neighbour cache of one link (RFC 4861 §7.3): Neighbor Unreachability Detection
 * with the five states, a bounded queue of packets per unresolved neighbour, and the update
 * rules for solicitations, advertisements (§7.2.5, the S/O/R flags) and router messages.
 *
 * ```text
 * INCOMPLETE --NA(S)--> REACHABLE --ReachableTime--> STALE --send--> DELAY --5 s--> PROBE
 *     |                    ^                            ^                           |
 *     +---3 × 1 s, no NA: deleted, queue unreachable    +--- NA(!S), NS, RA ---------+--> deleted
 * ```
 *
 * The states, bounds (entries, packets waiting) and timers are the {@link NeighbourTable}'s,
 * shared with ARP, keyed by {@link IpAddr} through an allocation-free {@link IpAddrMap}; this
 * module keeps IPv6's own rules: the IsRouter flag, the randomised ReachableTime, and how
 * solicitations, advertisements and router messages update an entry. Solicitations are sent
 * by the owner (the NDP module builds the ICMPv6 packet).
 *
 * @module
 */

import type { LinkEndpoint } from "../link/link_endpoint.ts";
import { macEquals } from "../link/ethernet.ts";
import type { BufferPool, PacketBuffer } from "../core/packet_buffer.ts";
import type { Counters } from "../core/counters.ts";
import type { TimerWheel } from "../core/timer_wheel.ts";
import type { Clock } from "../core/clock.ts";
import { type IpAddr, IpAddress } from "./ip_address.ts";
import { IpAddrMap } from "./ip_addr_map.ts";
import {
  NeighbourEntry,
  NeighbourTable,
  NUD_INCOMPLETE,
  NUD_PROBE,
  NUD_REACHABLE,
  NUD_STALE,
  NUD_STATE_NAMES,
} from "./neighbour_table.ts";

/** Tunables of the neighbour cache (RFC 4861 §10 constants, Linux defaults). */
export interface NdpCacheOptions {
  /**
   * Most entries [1024]; when full the least recently used resolved entry makes room, and
   * with none (all unresolved) a resolution fails and counts `CacheFull`.
   */
  maxEntries?: number;
  /** Packets held per unresolved neighbour [16 or `maxPending` if smaller]. */
  queuePerEntry?: number;
  /**
   * Packets held for all unresolved neighbours together [a quarter of the packet pool, at most
   * 256]; more are dropped and counted (`QueueDrops`).
   */
  maxPending?: number;
  /** Multicast solicitations before giving up (MAX_MULTICAST_SOLICIT) [3]. */
  maxMulticastSolicit?: number;
  /** Unicast probes before giving up (MAX_UNICAST_SOLICIT) [3]. */
  maxUnicastSolicit?: number;
  /** Delay before the first probe of a used STALE entry (DELAY_FIRST_PROBE_TIME) [5000 ms]. */
  delayFirstProbeMs?: number;
  /** How long an unused STALE entry is kept (Linux gc_stale_time) [60 000 ms]. */
  staleGcMs?: number;
  /** Random source in [0, 1) for ReachableTime (RFC 4861 §6.3.2) [Math.random]. */
  random?: () => number;
}

/** An IPv6 neighbour: the shared entry plus RFC 4861's IsRouter flag. */
class NdpEntry extends NeighbourEntry<IpAddr> {
  /** The neighbour said it is a router. */
  isRouter = false;
}

/** A snapshot of one entry, for tools and tests. */
export interface NdpEntryInfo {
  /** Neighbour address. */
  ip: IpAddress;
  /** MAC (zeros while INCOMPLETE). */
  mac: Uint8Array;
  /** State name. */
  state: string;
  /** Whether it said it is a router. */
  isRouter: boolean;
  /** Packets waiting. */
  queued: number;
}

/** What the cache asks of its owner. */
export interface NdpCacheOwner {
  /** Send a neighbour solicitation for `target`: multicast when `unicastMac` is null. */
  sendSolicit(nicIndex: number, target: IpAddr, unicastMac: Uint8Array | null): void;
  /** Resolution of the packet's next hop failed: report it (address unreachable) and free it. */
  unreachable(nicIndex: number, pb: PacketBuffer): void;
}

/**
 * The neighbour cache of one link.
 *
 * @example
 * ```ts ignore
 * const cache = new NdpCache(link, owner, pool, timers, clock, stats.ndp);
 * cache.send(pb, nextHop, ETHERTYPE_IPV6); // sends, or queues behind a solicitation
 * ```
 */
export class NdpCache {
  /** BaseReachableTime in ms (RFC 4861 §6.3.2; set from router advertisements) [30 000]. */
  baseReachableMs = 30_000;
  /**
   * Called when a received message resolves a neighbour, changes its link-layer address or
   * confirms it (a solicited advertisement) — not for {@link NdpCache.share}d entries. Stacks
   * that share one link (a stack per core) pass what one of them learns to the others with it.
   */
  onLearned: ((ip: IpAddress, mac: Uint8Array, confirmed: boolean) => void) | null = null;
  readonly #table: NeighbourTable<IpAddr, NdpEntry>;
  readonly #random: () => number;

  /** Build the cache of `link`; `stats` is the stack's `ndp` counter group. */
  constructor(
    link: LinkEndpoint,
    owner: NdpCacheOwner,
    pool: BufferPool,
    timers: TimerWheel,
    clock: Clock,
    stats: Counters,
    opts: NdpCacheOptions = {},
  ) {
    this.#random = opts.random ?? Math.random;
    const maxEntries = opts.maxEntries ?? 1024;
    const maxPending = opts.maxPending ?? Math.min(256, Math.max(4, pool.count >>> 2));
    const nic = link.index;
    this.#table = new NeighbourTable(
      link,
      {
        solicit: (ip, unicastMac) => owner.sendSolicit(nic, ip, unicastMac),
        unreachable: (pb) => owner.unreachable(nic, pb), // RFC 4861 §7.2.2
      },
      pool,
      timers,
      clock,
      stats,
      new IpAddrMap<NdpEntry>(maxEntries),
      (ip: IpAddr) => new NdpEntry(IpAddress.from(ip)),
      {
        maxEntries,
        maxPending,
        queuePerEntry: opts.queuePerEntry ?? Math.min(16, maxPending),
        maxMulticastSolicit: opts.maxMulticastSolicit ?? 3,
        maxUnicastSolicit: opts.maxUnicastSolicit ?? 3,
        delayFirstProbeMs: opts.delayFirstProbeMs ?? 5000,
        staleGcMs: opts.staleGcMs ?? 60_000,
        retransMs: 1000,
        reachableMs: this.#pickReachable(),
      },
    );
  }

  /** RetransTimer in ms (set from router advertisements) [1000]. */
  get retransMs(): number {
    return this.#table.retransMs;
  }
  set retransMs(ms: number) {
    this.#table.retransMs = ms;
  }

  /**
   * Called when resolution of `ip` starts here. A stack sharing its link with others asks the
   * one that receives the link's NDP traffic to resolve it too: an advertisement answering
   * this stack's solicitation reaches that stack, which drops it unless it has an entry
   * (RFC 4861 §7.2.5).
   */
  get onResolving(): ((ip: IpAddress) => void) | null {
    return this.#table.onResolving as ((ip: IpAddress) => void) | null;
  }
  set onResolving(hook: ((ip: IpAddress) => void) | null) {
    // Entries are keyed by immutable copies, so the table hands the hook an IpAddress.
    this.#table.onResolving = hook as ((ip: IpAddr) => void) | null;
  }

  /** Entries held. */
  get size(): number {
    return this.#table.size;
  }

  /** Packets waiting for resolution (every neighbour). */
  get pending(): number {
    return this.#table.pending;
  }

  /** The current ReachableTime (ms): BaseReachableTime × a random factor in [0.5, 1.5). */
  get reachableMs(): number {
    return this.#table.reachableMs;
  }

  /** Set BaseReachableTime (from a router advertisement) and draw a new ReachableTime. */
  setBaseReachable(ms: number): void {
    if (ms === this.baseReachableMs) return;
    this.baseReachableMs = ms;
    this.#table.reachableMs = this.#pickReachable();
  }

  #pickReachable(): number {
    // RFC 4861 §6.3.2: uniformly between MIN_RANDOM_FACTOR (0.5) and MAX_RANDOM_FACTOR (1.5).
    return Math.round(this.baseReachableMs * (0.5 + this.#random()));
  }

  /**
   * Send `pb` (an IPv6 packet, headers complete) to the unicast neighbour `nextHop`: straight
   * out when its MAC is known (a STALE entry moves to DELAY), else queued (bounded, oldest
   * dropped) behind a solicitation. Takes ownership of `pb`.
   */
  send(pb: PacketBuffer, nextHop: IpAddr, etherType: number): boolean {
    return this.#table.send(pb, nextHop, etherType);
  }

  /** Start resolving `ip` if unknown, without queueing (for offloaded super-segments). */
  solicit(ip: IpAddr): void {
    this.#table.solicit(ip);
  }

  /** The MAC of `ip` when resolved (no side effects), else null. */
  lookup(ip: IpAddr): Uint8Array | null {
    return this.#table.lookup(ip);
  }

  /** True when `ip` is in the cache, resolved and not being given up on (for router choice). */
  isProbablyReachable(ip: IpAddr): boolean {
    const e = this.#table.get(ip);
    return e !== undefined && e.state !== NUD_INCOMPLETE && e.state !== NUD_PROBE;
  }

  /**
   * Upper-layer reachability confirmation (RFC 4861 §7.3.1), e.g. a TCP ACK of new data.
   */
  confirm(ip: IpAddr): void {
    this.#table.confirm(ip);
  }

  /**
   * A message from `ip` carried its link-layer address at `buf[macOff..]` without confirming
   * reachability: a neighbour solicitation (§7.2.3), router solicitation or advertisement
   * (§6.3.4) or redirect (§8.3). Creates a STALE entry or updates a changed one; with
   * `createIfMissing` false only an existing entry is touched. `isRouter` true/false updates
   * the IsRouter flag (null leaves it).
   */
  learn(
    ip: IpAddr,
    buf: Uint8Array,
    macOff: number,
    createIfMissing: boolean,
    isRouter: boolean | null,
  ): void {
    const t = this.#table;
    const now = t.nowMs();
    let e = t.get(ip);
    if (e === undefined) {
      if (!createIfMissing) return;
      const added = t.add(ip, buf, macOff, NUD_STALE, now);
      if (added === null) return;
      e = added;
      this.onLearned?.(e.ip as IpAddress, e.mac, false);
    } else if (e.state === NUD_INCOMPLETE || !macEquals(e.mac, 0, buf, macOff)) {
      t.setMac(e, buf, macOff);
      t.enter(e, NUD_STALE, now);
      this.onLearned?.(e.ip as IpAddress, e.mac, false);
    } else if (e.state === NUD_STALE) {
      e.sinceMs = now; // it still talks to us: keep the entry from being collected
    }
    if (isRouter !== null) e.isRouter = isRouter;
    t.flushQueue(e);
  }

  /**
   * Take `ip` → `mac` learned by another stack on the same link: like {@link NdpCache.learn}
   * (a STALE entry is created or updated), REACHABLE when `confirmed`, and what waited for it
   * is sent. Fires no {@link NdpCache.onLearned}.
   */
  share(ip: IpAddr, mac: Uint8Array, confirmed: boolean): void {
    const hook = this.onLearned;
    this.onLearned = null;
    try {
      this.learn(ip, mac, 0, true, null);
    } finally {
      this.onLearned = hook;
    }
    const e = this.#table.get(ip);
    if (confirmed && e !== undefined && e.state !== NUD_REACHABLE) {
      this.#table.enter(e, NUD_REACHABLE, this.#table.nowMs());
    }
  }

  /**
   * A neighbour advertisement for `target` (RFC 4861 §7.2.5), with its target link-layer
   * address at `buf[macOff..]` (`macOff` < 0 when absent) and its flags. Returns false when
   * the advertisement changed nothing because no entry exists.
   */
  advertised(
    target: IpAddr,
    buf: Uint8Array,
    macOff: number,
    solicited: boolean,
    override: boolean,
    router: boolean,
  ): boolean {
    const t = this.#table;
    const e = t.get(target);
    if (e === undefined) return false;
    const now = t.nowMs();
    if (e.state === NUD_INCOMPLETE) {
      if (macOff < 0) return true;
      t.setMac(e, buf, macOff);
      e.isRouter = router;
      t.enter(e, solicited ? NUD_REACHABLE : NUD_STALE, now);
      this.onLearned?.(e.ip as IpAddress, e.mac, solicited);
      t.flushQueue(e);
      return true;
    }
    const differs = macOff >= 0 && !macEquals(e.mac, 0, buf, macOff);
    if (!override && differs) {
      // Not allowed to overwrite: only note that the cached address may be wrong.
      if (e.state === NUD_REACHABLE) t.enter(e, NUD_STALE, now);
      return true;
    }
    if (differs) t.setMac(e, buf, macOff);
    if (solicited) t.enter(e, NUD_REACHABLE, now);
    else if (differs) t.enter(e, NUD_STALE, now);
    e.isRouter = router;
    if (solicited || differs) this.onLearned?.(e.ip as IpAddress, e.mac, solicited);
    return true;
  }

  /** True when `ip` says it is a router (IsRouter flag). */
  isRouter(ip: IpAddr): boolean {
    return this.#table.get(ip)?.isRouter ?? false;
  }

  /** Remove `ip` (queued packets freed). */
  remove(ip: IpAddr): void {
    this.#table.remove(ip);
  }

  /** Remove every entry. */
  flush(): void {
    this.#table.flush();
  }

  /** A snapshot of the cache. */
  entries(): NdpEntryInfo[] {
    const out: NdpEntryInfo[] = [];
    for (const e of this.#table.values()) {
      out.push({
        ip: e.ip as IpAddress,
        mac: e.mac.slice(),
        state: NUD_STATE_NAMES[e.state],
        isRouter: e.isRouter,
        queued: e.queue.length,
      });
    }
    return out;
  }

  /** The state name of `ip`'s entry, or undefined. */
  stateOf(ip: IpAddr): string | undefined {
    const e = this.#table.get(ip);
    return e === undefined ? undefined : NUD_STATE_NAMES[e.state];
  }
}
