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
 * It mirrors `net/arp.ts` (bounded queue, oldest dropped first, counters), keyed by
 * {@link IpAddr} through an allocation-free {@link IpAddrMap}. Solicitations are sent by the
 * owner (the NDP module builds the ICMPv6 packet).
 *
 * Bounds, for a flood from many sources, as for ARP: at most `maxEntries` neighbours (1024,
 * Linux's `gc_thresh3`); when full, the least recently used *resolved* entry is evicted in
 * O(1) (resolved entries sit on an {@link LruList}; an INCOMPLETE one holds queued packets
 * and is never evicted — it resolves or gives up within three retransmissions). Packets
 * waiting for resolution are bounded per neighbour (`queuePerEntry`) and in all
 * (`maxPending`), so unresolved neighbours cannot take the packet pool from the ones that
 * answer.
 *
 * @module
 */

import type { LinkEndpoint } from "../link/link_endpoint.ts";
import { macEquals } from "../link/ethernet.ts";
import type { BufferPool, PacketBuffer } from "../core/packet_buffer.ts";
import type { Counters } from "../core/counters.ts";
import { Timer, type TimerWheel } from "../core/timer_wheel.ts";
import type { Clock } from "../core/clock.ts";
import { LruList } from "../core/lru_list.ts";
import { type IpAddr, IpAddress } from "./ip_address.ts";
import { IpAddrMap } from "./ip_addr_map.ts";

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

/** NUD state: address resolution in progress. */
export const NUD_INCOMPLETE = 0;
/** NUD state: recently confirmed. */
export const NUD_REACHABLE = 1;
/** NUD state: not confirmed lately; used without probing until traffic is sent. */
export const NUD_STALE = 2;
/** NUD state: waiting for an upper-layer confirmation before probing. */
export const NUD_DELAY = 3;
/** NUD state: unicast probes in flight. */
export const NUD_PROBE = 4;
const STATE_NAMES = ["INCOMPLETE", "REACHABLE", "STALE", "DELAY", "PROBE"] as const;

class NdpEntry {
  readonly mac = new Uint8Array(6);
  state = NUD_INCOMPLETE;
  isRouter = false;
  sinceMs = 0;
  usedMs = 0;
  probes = 0;
  probedMs = 0;
  readonly queue: PacketBuffer[] = [];
  /** LRU links (resolved entries only; most recently used at the tail). */
  lruPrev: NdpEntry | null = null;
  lruNext: NdpEntry | null = null;
  /** True while on the LRU list. */
  inLru = false;
  constructor(readonly ip: IpAddress) {}
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
  /** RetransTimer in ms (set from router advertisements) [1000]. */
  retransMs = 1000;
  /**
   * Called when a received message resolves a neighbour, changes its link-layer address or
   * confirms it (a solicited advertisement) — not for {@link NdpCache.share}d entries. Stacks
   * that share one link (a stack per core) pass what one of them learns to the others with it.
   */
  onLearned: ((ip: IpAddress, mac: Uint8Array, confirmed: boolean) => void) | null = null;
  /**
   * Called when resolution of `ip` starts here. A stack sharing its link with others asks the
   * one that receives the link's NDP traffic to resolve it too: an advertisement answering
   * this stack's solicitation reaches that stack, which drops it unless it has an entry
   * (RFC 4861 §7.2.5).
   */
  onResolving: ((ip: IpAddress) => void) | null = null;
  readonly #link: LinkEndpoint;
  readonly #owner: NdpCacheOwner;
  readonly #pool: BufferPool;
  readonly #timers: TimerWheel;
  readonly #clock: Clock;
  readonly #stats: Counters;
  readonly #entries: IpAddrMap<NdpEntry>;
  readonly #timer: Timer;
  readonly #queuePerEntry: number;
  readonly #maxPending: number;
  /** Packets queued behind every unresolved neighbour. */
  #pending = 0;
  /** Resolved entries in order of use: the head is evicted first. */
  readonly #lru = new LruList<NdpEntry>();
  readonly #maxMulticast: number;
  readonly #maxUnicast: number;
  readonly #delayMs: number;
  readonly #staleGcMs: number;
  readonly #random: () => number;
  #reachableMs: number;

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
    this.#link = link;
    this.#owner = owner;
    this.#pool = pool;
    this.#timers = timers;
    this.#clock = clock;
    this.#stats = stats;
    this.#entries = new IpAddrMap(opts.maxEntries ?? 1024);
    this.#maxPending = opts.maxPending ?? Math.min(256, Math.max(4, pool.count >>> 2));
    this.#queuePerEntry = opts.queuePerEntry ?? Math.min(16, this.#maxPending);
    this.#maxMulticast = opts.maxMulticastSolicit ?? 3;
    this.#maxUnicast = opts.maxUnicastSolicit ?? 3;
    this.#delayMs = opts.delayFirstProbeMs ?? 5000;
    this.#staleGcMs = opts.staleGcMs ?? 60_000;
    this.#random = opts.random ?? Math.random;
    this.#reachableMs = this.#pickReachable();
    this.#timer = new Timer(() => this.#onTimer());
  }

  /** Entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /** Packets waiting for resolution (every neighbour). */
  get pending(): number {
    return this.#pending;
  }

  /** The current ReachableTime (ms): BaseReachableTime × a random factor in [0.5, 1.5). */
  get reachableMs(): number {
    return this.#reachableMs;
  }

  /** Set BaseReachableTime (from a router advertisement) and draw a new ReachableTime. */
  setBaseReachable(ms: number): void {
    if (ms === this.baseReachableMs) return;
    this.baseReachableMs = ms;
    this.#reachableMs = this.#pickReachable();
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
    const now = this.#clock.nowMs();
    let e = this.#entries.get(nextHop);
    if (e !== undefined && e.state !== NUD_INCOMPLETE) {
      e.usedMs = now;
      this.#lru.touch(e);
      if (e.state === NUD_STALE) this.#enter(e, NUD_DELAY, now, now + this.#delayMs);
      return this.#link.output(pb, e.mac, 0, etherType, null);
    }
    if (e === undefined) {
      const created = this.#create(nextHop, now);
      if (created === null) {
        this.#pool.free(pb);
        return false;
      }
      e = created;
    }
    if (e.queue.length >= this.#queuePerEntry) {
      this.#pool.free(e.queue.shift()!);
      this.#pending--;
      this.#stats.QueueDrops++;
    }
    if (this.#pending >= this.#maxPending) {
      this.#pool.free(pb);
      this.#stats.QueueDrops++;
      return false;
    }
    pb.etherType = etherType;
    e.queue.push(pb);
    this.#pending++;
    return true;
  }

  /** Start resolving `ip` if unknown, without queueing (for offloaded super-segments). */
  solicit(ip: IpAddr): void {
    if (!this.#entries.has(ip)) this.#create(ip, this.#clock.nowMs());
  }

  /** The MAC of `ip` when resolved (no side effects), else null. */
  lookup(ip: IpAddr): Uint8Array | null {
    const e = this.#entries.get(ip);
    return e === undefined || e.state === NUD_INCOMPLETE ? null : e.mac;
  }

  /** True when `ip` is in the cache, resolved and not being given up on (for router choice). */
  isProbablyReachable(ip: IpAddr): boolean {
    const e = this.#entries.get(ip);
    return e !== undefined && e.state !== NUD_INCOMPLETE && e.state !== NUD_PROBE;
  }

  /**
   * Upper-layer reachability confirmation (RFC 4861 §7.3.1), e.g. a TCP ACK of new data.
   */
  confirm(ip: IpAddr): void {
    const e = this.#entries.get(ip);
    if (e === undefined || e.state === NUD_INCOMPLETE) return;
    const now = this.#clock.nowMs();
    if (e.state === NUD_REACHABLE) {
      e.sinceMs = now;
      return;
    }
    this.#enter(e, NUD_REACHABLE, now, now + this.#reachableMs);
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
    const now = this.#clock.nowMs();
    let e = this.#entries.get(ip);
    if (e === undefined) {
      if (!createIfMissing) return;
      if (!this.#makeRoom()) return;
      e = new NdpEntry(IpAddress.from(ip));
      e.usedMs = now;
      this.#entries.set(e.ip, e);
      this.#setMac(e, buf, macOff);
      this.#enter(e, NUD_STALE, now, now + this.#staleGcMs);
      this.onLearned?.(e.ip, e.mac, false);
    } else if (e.state === NUD_INCOMPLETE || !macEquals(e.mac, 0, buf, macOff)) {
      this.#setMac(e, buf, macOff);
      this.#enter(e, NUD_STALE, now, now + this.#staleGcMs);
      this.onLearned?.(e.ip, e.mac, false);
    } else if (e.state === NUD_STALE) {
      e.sinceMs = now; // it still talks to us: keep the entry from being collected
    }
    if (isRouter !== null) e.isRouter = isRouter;
    if (e.queue.length > 0) this.#flushQueue(e);
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
    const e = this.#entries.get(ip);
    if (confirmed && e !== undefined && e.state !== NUD_REACHABLE) {
      const now = this.#clock.nowMs();
      this.#enter(e, NUD_REACHABLE, now, now + this.#reachableMs);
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
    const e = this.#entries.get(target);
    if (e === undefined) return false;
    const now = this.#clock.nowMs();
    if (e.state === NUD_INCOMPLETE) {
      if (macOff < 0) return true;
      this.#setMac(e, buf, macOff);
      e.isRouter = router;
      if (solicited) this.#enter(e, NUD_REACHABLE, now, now + this.#reachableMs);
      else this.#enter(e, NUD_STALE, now, now + this.#staleGcMs);
      this.onLearned?.(e.ip, e.mac, solicited);
      this.#flushQueue(e);
      return true;
    }
    const differs = macOff >= 0 && !macEquals(e.mac, 0, buf, macOff);
    if (!override && differs) {
      // Not allowed to overwrite: only note that the cached address may be wrong.
      if (e.state === NUD_REACHABLE) this.#enter(e, NUD_STALE, now, now + this.#staleGcMs);
      return true;
    }
    if (differs) this.#setMac(e, buf, macOff);
    if (solicited) this.#enter(e, NUD_REACHABLE, now, now + this.#reachableMs);
    else if (differs) this.#enter(e, NUD_STALE, now, now + this.#staleGcMs);
    e.isRouter = router;
    if (solicited || differs) this.onLearned?.(e.ip, e.mac, solicited);
    return true;
  }

  /** True when `ip` says it is a router (IsRouter flag). */
  isRouter(ip: IpAddr): boolean {
    return this.#entries.get(ip)?.isRouter ?? false;
  }

  /** Remove `ip` (queued packets freed). */
  remove(ip: IpAddr): void {
    const e = this.#entries.get(ip);
    if (e !== undefined) this.#delete(e);
  }

  /** Remove every entry. */
  flush(): void {
    for (const e of [...this.#entries.values()]) this.#delete(e);
  }

  /** A snapshot of the cache. */
  entries(): NdpEntryInfo[] {
    const out: NdpEntryInfo[] = [];
    for (const e of this.#entries.values()) {
      out.push({
        ip: e.ip,
        mac: e.mac.slice(),
        state: STATE_NAMES[e.state],
        isRouter: e.isRouter,
        queued: e.queue.length,
      });
    }
    return out;
  }

  /** The state name of `ip`'s entry, or undefined. */
  stateOf(ip: IpAddr): string | undefined {
    const e = this.#entries.get(ip);
    return e === undefined ? undefined : STATE_NAMES[e.state];
  }

  #create(ip: IpAddr, now: number): NdpEntry | null {
    if (!this.#makeRoom()) return null;
    const e = new NdpEntry(IpAddress.from(ip));
    e.usedMs = now;
    this.#entries.set(e.ip, e);
    this.#enter(e, NUD_INCOMPLETE, now, now + this.retransMs);
    this.#owner.sendSolicit(this.#link.index, e.ip, null);
    e.probes = 1;
    e.probedMs = now;
    this.onResolving?.(e.ip);
    return e;
  }

  /** Room for one more entry: evict the least recently used resolved one (O(1)) if full. */
  #makeRoom(): boolean {
    if (this.#entries.size < this.#entries.maxEntries) return true;
    const victim = this.#lru.head;
    if (victim === null) {
      this.#stats.CacheFull++;
      return false;
    }
    this.#delete(victim);
    return true;
  }

  /** Remove `e` from the cache (its queued packets are freed). */
  #delete(e: NdpEntry): void {
    this.#drop(e);
    this.#lru.remove(e);
    this.#entries.delete(e.ip);
  }

  #setMac(e: NdpEntry, buf: Uint8Array, off: number): void {
    for (let i = 0; i < 6; i++) e.mac[i] = buf[off + i];
  }

  /** Move `e` to `state` at `now`; the cache's timer runs no later than `wakeAt`. */
  #enter(e: NdpEntry, state: number, now: number, wakeAt: number): void {
    e.state = state;
    e.sinceMs = now;
    if (state !== NUD_INCOMPLETE) this.#lru.touch(e);
    if (state === NUD_REACHABLE || state === NUD_STALE) e.probes = 0;
    if (!this.#timer.armed || this.#timer.deadlineMs > wakeAt) {
      this.#timers.schedule(this.#timer, wakeAt);
    }
  }

  #flushQueue(e: NdpEntry): void {
    const q = e.queue;
    this.#pending -= q.length;
    for (let i = 0; i < q.length; i++) this.#link.output(q[i], e.mac, 0, q[i].etherType, null);
    q.length = 0;
  }

  #drop(e: NdpEntry): void {
    for (const pb of e.queue) this.#pool.free(pb);
    this.#pending -= e.queue.length;
    e.queue.length = 0;
  }

  #fail(e: NdpEntry): void {
    this.#stats.ResolveFailed++;
    const q = e.queue.splice(0);
    this.#pending -= q.length;
    this.#lru.remove(e);
    this.#entries.delete(e.ip);
    // RFC 4861 §7.2.2: each queued packet gets an ICMPv6 address unreachable.
    for (const pb of q) this.#owner.unreachable(this.#link.index, pb);
  }

  #onTimer(): void {
    const now = this.#clock.nowMs();
    let next = Infinity;
    for (const e of [...this.#entries.values()]) {
      const s = e.state;
      if (s === NUD_INCOMPLETE || s === NUD_PROBE) {
        if (now - e.probedMs >= this.retransMs - 0.5) {
          const max = s === NUD_INCOMPLETE ? this.#maxMulticast : this.#maxUnicast;
          if (e.probes >= max) {
            if (s === NUD_INCOMPLETE) this.#fail(e);
            else {
              this.#delete(e);
              this.#stats.ProbeFailed++;
            }
            continue;
          }
          this.#owner.sendSolicit(this.#link.index, e.ip, s === NUD_PROBE ? e.mac : null);
          e.probes++;
          e.probedMs = now;
        }
        next = Math.min(next, e.probedMs + this.retransMs);
      } else if (s === NUD_DELAY) {
        if (now - e.sinceMs >= this.#delayMs - 0.5) {
          e.state = NUD_PROBE;
          e.sinceMs = now;
          this.#owner.sendSolicit(this.#link.index, e.ip, e.mac);
          e.probes = 1;
          e.probedMs = now;
          next = Math.min(next, now + this.retransMs);
        } else next = Math.min(next, e.sinceMs + this.#delayMs);
      } else if (s === NUD_REACHABLE) {
        if (now - e.sinceMs >= this.#reachableMs) {
          e.state = NUD_STALE;
          e.sinceMs = now;
          next = Math.min(next, now + this.#staleGcMs);
        } else next = Math.min(next, e.sinceMs + this.#reachableMs);
      } else {
        const idleSince = Math.max(e.usedMs, e.sinceMs);
        if (now - idleSince >= this.#staleGcMs) {
          this.#delete(e);
          continue;
        }
        next = Math.min(next, idleSince + this.#staleGcMs);
      }
    }
    if (next !== Infinity) this.#timers.schedule(this.#timer, Math.max(next, now + 1));
  }
}
