/**
 * ARP (RFC 826) for one link: the neighbour cache, request/reply handling, a bounded queue of
 * packets waiting for resolution, bounded retries, and gratuitous ARP.
 *
 * Cache states follow Linux's neighbour table in simplified form:
 * INCOMPLETE (request sent, packets queued) → REACHABLE (confirmed by a reply, or by an upper
 * layer through {@link ArpCache.confirm}) → STALE (after `reachableMs`; still used) → DELAY on
 * first use (`delayProbeMs` for an upper-layer confirmation to arrive) → PROBE (unicast
 * requests) → deleted when a probe goes unanswered `maxProbes` times or a STALE entry sits
 * unused for `staleGcMs`.
 *
 * The states, bounds (entries, packets waiting) and timers are the {@link NeighbourTable}'s,
 * shared with IPv6; this module keeps ARP's own rules: which packets create, update or confirm
 * an entry (RFC 826's merge), requests, replies and gratuitous announcements, and the broadcast
 * and multicast mappings that need no resolution.
 *
 * @module
 */

import type { LinkEndpoint } from "../link/link_endpoint.ts";
import { BROADCAST_MAC, ETHERTYPE_ARP, macEquals } from "../link/ethernet.ts";
import type { BufferPool, PacketBuffer } from "../core/packet_buffer.ts";
import { HEADROOM_BYTES } from "../core/packet_buffer.ts";
import type { Counters } from "../core/counters.ts";
import type { TimerWheel } from "../core/timer_wheel.ts";
import type { Clock } from "../core/clock.ts";
import type { RouteResult } from "./route_table.ts";
import { ARP_REPLY, ARP_REQUEST, ArpHeader, writeArp } from "./arp_header.ts";
import { isIpv4LimitedBroadcast, isIpv4Martian, isIpv4Multicast } from "./ipv4_address.ts";
import {
  NeighbourEntry,
  NeighbourTable,
  NUD_INCOMPLETE,
  NUD_PROBE,
  NUD_REACHABLE,
  NUD_STALE,
  NUD_STATE_NAMES,
} from "./neighbour_table.ts";

/** Tunables of the ARP cache (Linux defaults in brackets). */
export interface ArpOptions {
  /**
   * Most cache entries [1024]; when full the least recently used resolved entry makes room,
   * and with none (all unresolved) a resolution fails and counts `CacheFull`.
   */
  maxEntries?: number;
  /**
   * Packets held per unresolved neighbour [64 or `maxPending` if smaller: a burst of new
   * connections to one host waits behind its first resolution]; beyond it the oldest is
   * dropped and counted.
   */
  queuePerEntry?: number;
  /**
   * Packets held for all unresolved neighbours together [a quarter of the packet pool, at most
   * 256]; more are dropped and counted.
   */
  maxPending?: number;
  /** Time between retransmitted requests [1000 ms, RFC 1122 §2.3.2.1: at most 1/s]. */
  retransMs?: number;
  /** Requests sent before giving up [3]. */
  maxProbes?: number;
  /** How long a confirmed entry stays REACHABLE [30 000 ms]. */
  reachableMs?: number;
  /** How long an unused STALE entry is kept [60 000 ms]. */
  staleGcMs?: number;
  /** DELAY before probing a STALE entry that is in use [5 000 ms]. */
  delayProbeMs?: number;
}

/** A snapshot of one cache entry, for tools and tests. */
export interface ArpEntryInfo {
  /** IPv4 address (u32). */
  ip: number;
  /** MAC bytes (zeros while INCOMPLETE). */
  mac: Uint8Array;
  /** State name. */
  state: string;
  /** Packets waiting. */
  queued: number;
}

/** What ARP needs to know about the link's IPv4 addresses. */
export interface ArpAddressOwner {
  /** True if `addr` is one of this link's addresses. */
  isLocalAddressOn(nicIndex: number, addr: number): boolean;
  /** The link's primary IPv4 address, 0 if none (used as the request's sender). */
  primaryAddressOn(nicIndex: number): number;
  /** True if `addr` is the directed broadcast address of one of this link's subnets. */
  isBroadcastOn(nicIndex: number, addr: number): boolean;
}

/** Slots of {@link ArpCache}'s recent neighbours (2**10: `recentSlot` takes the top 10 bits). */
const RECENT_SLOTS = 1024;
/** Multiplier of the recent-neighbour hash (Fibonacci hashing: 2**32 / φ). */
const RECENT_HASH = 0x9e3779b1 | 0;
/** The hash's shift: its top 10 bits index {@link RECENT_SLOTS}. */
const RECENT_SHIFT = 22;

/** The recent-neighbour slot of IPv4 address `ip` (integer arithmetic: no heap number). */
function recentSlot(ip: number): number {
  return Math.imul(ip | 0, RECENT_HASH) >>> RECENT_SHIFT;
}

/**
 * ARP on one link.
 *
 * @example
 * ```ts ignore
 * const arp = new ArpCache(link, owner, pool, timers, clock, stats.arp);
 * arp.send(pb, nextHop); // resolves, queues or sends
 * ```
 */
export class ArpCache {
  readonly #link: LinkEndpoint;
  readonly #owner: ArpAddressOwner;
  readonly #pool: BufferPool;
  readonly #stats: Counters;
  readonly #table: NeighbourTable<number, NeighbourEntry<number>>;
  readonly #hdr = new ArpHeader();
  /**
   * The unicast neighbours {@link ArpCache.sendVia} sent to last, one per slot of a
   * direct-mapped set indexed by a hash of the address (null: none): a server answering many
   * peers in turn — a SYN flood's cookies, many clients — finds each in place, not through
   * the `Map` (whose key would be a new heap number per packet for an address ≥ 64.0.0.0).
   */
  readonly #recent: (NeighbourEntry<number> | null)[] = Array.from(
    { length: RECENT_SLOTS },
    () => null,
  );

  /** Build the cache for `link`. `stats` is the stack's ARP counter group. */
  constructor(
    link: LinkEndpoint,
    owner: ArpAddressOwner,
    pool: BufferPool,
    timers: TimerWheel,
    clock: Clock,
    stats: Counters,
    opts: ArpOptions = {},
  ) {
    this.#link = link;
    this.#owner = owner;
    this.#pool = pool;
    this.#stats = stats;
    // Unresolved neighbours may hold at most a quarter of the packet pool.
    const maxPending = opts.maxPending ?? Math.min(256, Math.max(4, pool.count >>> 2));
    const maxProbes = opts.maxProbes ?? 3;
    this.#table = new NeighbourTable(
      link,
      {
        solicit: (ip, unicastMac) => this.#sendRequest(ip, unicastMac),
        unreachable: (pb) => pool.free(pb),
      },
      pool,
      timers,
      clock,
      stats,
      new Map<number, NeighbourEntry<number>>(),
      (ip: number) => new NeighbourEntry(ip),
      {
        maxEntries: opts.maxEntries ?? 1024,
        maxPending,
        queuePerEntry: opts.queuePerEntry ?? Math.min(64, maxPending),
        maxMulticastSolicit: maxProbes,
        maxUnicastSolicit: maxProbes,
        delayFirstProbeMs: opts.delayProbeMs ?? 5_000,
        staleGcMs: opts.staleGcMs ?? 60_000,
        retransMs: opts.retransMs ?? 1000,
        reachableMs: opts.reachableMs ?? 30_000,
      },
    );
  }

  /**
   * Called when a received ARP packet resolves a neighbour, changes its MAC or confirms it (a
   * reply) — not for entries added with {@link ArpCache.learn}. Stacks that share one link
   * (a stack per core) pass what one of them learns to the others with it.
   */
  onLearned: ((ip: number, mac: Uint8Array, confirmed: boolean) => void) | null = null;

  /** Number of entries. */
  get size(): number {
    return this.#table.size;
  }

  /** Packets waiting for resolution, on every entry together. */
  get pending(): number {
    return this.#table.pending;
  }

  /**
   * Send `pb` (an IPv4 packet, headers complete) to `nextHop` on this link: straight out when
   * the MAC is known, else queued (bounded) behind an ARP request. Takes ownership of `pb`.
   */
  send(pb: PacketBuffer, nextHop: number, etherType: number): boolean {
    const link = this.#link;
    if (isIpv4LimitedBroadcast(nextHop) || this.#owner.isBroadcastOn(link.index, nextHop)) {
      return link.output(pb, BROADCAST_MAC, 0, etherType, null);
    }
    if (isIpv4Multicast(nextHop)) {
      // RFC 1112 §6.4: 01:00:5e + low 23 bits of the group.
      const m = MCAST_MAC;
      m[3] = (nextHop >>> 16) & 0x7f;
      m[4] = (nextHop >>> 8) & 0xff;
      m[5] = nextHop & 0xff;
      return link.output(pb, m, 0, etherType, null);
    }
    return this.#table.send(pb, nextHop, etherType);
  }

  /**
   * {@link ArpCache.send} to `route.nextHop`, read from the record: the per-packet path. A u32
   * address ≥ 64.0.0.0 (2**30) passed as a number to a call V8 does not inline, or used as a
   * `Map` key, is a new heap number each time; the neighbour sent to last is kept and compared
   * in place instead.
   */
  sendVia(pb: PacketBuffer, route: RouteResult, etherType: number): boolean {
    // The slot computed here (`recentSlot`'s hash), not by a call: the next hop, a uint32
    // ≥ 2**30 for most addresses, is a new heap number when passed to a call V8 does not
    // inline (bench/README.md, "box32").
    const e = this.#recent[Math.imul(route.nextHop | 0, RECENT_HASH) >>> RECENT_SHIFT];
    if (e !== null && e.ip === route.nextHop && this.#table.isCurrent(e)) {
      return this.#table.sendResolved(pb, e, etherType);
    }
    const ip = route.nextHop;
    const sent = this.send(pb, ip, etherType);
    this.#keep(ip, this.#table.get(ip));
    return sent;
  }

  /** Keep `e`, the entry of `ip`, as the last neighbour: unicast next hops only. */
  #keep(ip: number, e: NeighbourEntry<number> | undefined): void {
    const unicast = !isIpv4LimitedBroadcast(ip) && !isIpv4Multicast(ip) &&
      !this.#owner.isBroadcastOn(this.#link.index, ip);
    this.#recent[recentSlot(ip)] = e !== undefined && unicast ? e : null;
  }

  /**
   * Forget the neighbour {@link ArpCache.sendVia} keeps (the addresses changed: a next hop may
   * be a directed broadcast now).
   */
  resetLast(): void {
    this.#recent.fill(null);
  }

  /**
   * Start resolving `ip` if it is unknown (no packet is queued): for senders that cannot
   * queue, such as offloaded super-segments, which are dropped and retransmitted instead.
   */
  solicit(ip: number): void {
    this.#table.solicit(ip);
  }

  /** Handle one received ARP packet at `buf[off..off+len)`. */
  receive(buf: Uint8Array, off: number, len: number): void {
    const h = this.#hdr.attach(buf, off, len);
    const reason = h.check();
    if (reason !== null) {
      this.#stats.InErrors++;
      return;
    }
    const op = h.oper;
    if (op === ARP_REQUEST) this.#stats.InRequests++;
    else this.#stats.InReplies++;
    const spa = h.spa;
    const tpa = h.tpa;
    const shaOff = h.shaOffset;
    const nic = this.#link.index;
    // A sender claiming one of our addresses, a broadcast/multicast MAC or a martian address is
    // never learned (RFC 5227 conflict detection is the caller's business; we just ignore).
    const shaIsGroup = (buf[shaOff] & 1) !== 0;
    if (shaIsGroup || this.#owner.isLocalAddressOn(nic, spa)) {
      this.#stats.InIgnored++;
      return;
    }
    const learnable = spa !== 0 && !isIpv4Martian(spa);
    const confirmed = op === ARP_REPLY;
    // RFC 826 "merge": update an existing entry for the sender whoever the target is.
    const e = learnable ? this.#table.get(spa) : undefined;
    if (e !== undefined) this.#update(e, buf, shaOff, confirmed, true);
    if (!this.#owner.isLocalAddressOn(nic, tpa)) {
      if (e === undefined) this.#stats.InIgnored++;
      return;
    }
    // A request addressed to us shows the sender is there: Linux creates it STALE.
    if (e === undefined && learnable) this.#add(spa, buf, shaOff, confirmed, true);
    if (op === ARP_REQUEST) this.#sendReply(buf, shaOff, spa, tpa);
  }

  /**
   * Take `ip` → `mac` learned elsewhere (another stack on the same link): create or update the
   * entry as if an ARP packet had said so — REACHABLE when `confirmed` (a reply), else STALE —
   * and send what waited for it. Ignored for our own, martian or group addresses.
   */
  learn(ip: number, mac: Uint8Array, confirmed: boolean): void {
    if (ip === 0 || isIpv4Martian(ip) || (mac[0] & 1) !== 0) return;
    if (this.#owner.isLocalAddressOn(this.#link.index, ip)) return;
    const e = this.#table.get(ip);
    if (e === undefined) this.#add(ip, mac, 0, confirmed, false);
    else this.#update(e, mac, 0, confirmed, false);
  }

  /** Announce `addr` with a gratuitous ARP request (sender = target = addr). */
  announce(addr: number): void {
    const pb = this.#pool.alloc(HEADROOM_BYTES);
    if (pb === null) return;
    const o = pb.append(28);
    writeArp(pb.data, o, ARP_REQUEST, this.#link.mac, 0, addr, ZERO_MAC, 0, addr);
    if (this.#link.output(pb, BROADCAST_MAC, 0, ETHERTYPE_ARP, null)) this.#stats.OutGratuitous++;
  }

  /**
   * An upper layer saw forward progress with `ip` (e.g. a TCP ACK of new data): the neighbour
   * is reachable without probing (RFC 4861 §7.3.1's "reachability confirmation", as Linux
   * applies it to ARP too).
   */
  confirm(ip: number): void {
    this.#table.confirm(ip);
  }

  /** Remove every entry (queued packets are freed). */
  flush(): void {
    this.#table.flush();
  }

  /** A snapshot of the cache. */
  entries(): ArpEntryInfo[] {
    const out: ArpEntryInfo[] = [];
    for (const e of this.#table.values()) {
      out.push({
        ip: e.ip,
        mac: e.mac.slice(),
        state: NUD_STATE_NAMES[e.state],
        queued: e.queue.length,
      });
    }
    return out;
  }

  /**
   * {@link ArpCache.lookup} of `route.nextHop`, read from the record (as {@link ArpCache.sendVia}
   * does, sharing its last neighbour).
   */
  lookupVia(route: RouteResult): Uint8Array | null {
    const e = this.#recent[recentSlot(route.nextHop)];
    if (e !== null && e.ip === route.nextHop && this.#table.isCurrent(e)) return e.mac;
    const ip = route.nextHop;
    const found = this.#table.get(ip);
    if (found === undefined || found.state === NUD_INCOMPLETE) return null;
    this.#keep(ip, found);
    return found.mac;
  }

  /** Look up a neighbour's MAC without side effects (null if unknown or unresolved). */
  lookup(ip: number): Uint8Array | null {
    return this.#table.lookup(ip);
  }

  /** A new entry for a neighbour that made itself known (no room: counted by the table). */
  #add(ip: number, buf: Uint8Array, macOff: number, confirmed: boolean, share: boolean): void {
    const now = this.#table.nowMs();
    const e = this.#table.add(ip, buf, macOff, confirmed ? NUD_REACHABLE : NUD_STALE, now);
    if (e !== null && share) this.onLearned?.(ip, e.mac, confirmed);
  }

  /**
   * What an ARP packet from a known neighbour says: a reply confirms it (REACHABLE); a new
   * MAC, or any word from an unresolved or probed neighbour, makes it STALE; otherwise its
   * state stands. What waited for it is sent.
   */
  #update(
    e: NeighbourEntry<number>,
    buf: Uint8Array,
    macOff: number,
    confirmed: boolean,
    share: boolean,
  ): void {
    const changed = !macEquals(e.mac, 0, buf, macOff);
    const wasIncomplete = e.state === NUD_INCOMPLETE;
    if (share && this.onLearned !== null && (changed || confirmed || wasIncomplete)) {
      this.onLearned(e.ip, buf.subarray(macOff, macOff + 6), confirmed);
    }
    if (changed || wasIncomplete) this.#table.setMac(e, buf, macOff);
    const now = this.#table.nowMs();
    if (confirmed) this.#table.enter(e, NUD_REACHABLE, now);
    else if (changed || wasIncomplete || e.state === NUD_PROBE) {
      this.#table.enter(e, NUD_STALE, now);
    } else this.#table.touch(e);
    this.#table.flushQueue(e);
  }

  #sendRequest(target: number, unicastMac: Uint8Array | null): void {
    const pb = this.#pool.alloc(HEADROOM_BYTES);
    if (pb === null) return;
    const src = this.#owner.primaryAddressOn(this.#link.index);
    const o = pb.append(28);
    writeArp(pb.data, o, ARP_REQUEST, this.#link.mac, 0, src, ZERO_MAC, 0, target);
    const dst = unicastMac ?? BROADCAST_MAC;
    if (this.#link.output(pb, dst, 0, ETHERTYPE_ARP, null)) this.#stats.OutRequests++;
  }

  #sendReply(buf: Uint8Array, shaOff: number, spa: number, tpa: number): void {
    const pb = this.#pool.alloc(HEADROOM_BYTES);
    if (pb === null) return;
    const o = pb.append(28);
    writeArp(pb.data, o, ARP_REPLY, this.#link.mac, 0, tpa, buf, shaOff, spa);
    // The request's sender MAC is copied into the reply before `buf` can be released.
    if (this.#link.output(pb, pb.data, o + 18, ETHERTYPE_ARP, null)) this.#stats.OutReplies++;
  }
}

const ZERO_MAC = new Uint8Array(6);
const MCAST_MAC = new Uint8Array([0x01, 0x00, 0x5e, 0, 0, 0]);
