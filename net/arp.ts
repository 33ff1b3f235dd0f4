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
 * Bounds, for a flood from many sources: at most `maxEntries` neighbours (1024, Linux's
 * `gc_thresh3`); when full, the least recently used *resolved* entry is evicted in O(1)
 * (resolved entries sit on an LRU list; an INCOMPLETE one holds queued packets and is never
 * evicted — it resolves or gives up within `maxProbes` seconds). Packets waiting for
 * resolution are bounded per neighbour (`queuePerEntry`) and in all (`maxPending`), so
 * unresolved neighbours cannot take the packet pool from the ones that answer.
 *
 * @module
 */

import type { LinkEndpoint } from "../link/link_endpoint.ts";
import { BROADCAST_MAC, ETHERTYPE_ARP, macEquals } from "../link/ethernet.ts";
import type { BufferPool, PacketBuffer } from "../core/packet_buffer.ts";
import { HEADROOM_BYTES } from "../core/packet_buffer.ts";
import type { Counters } from "../core/counters.ts";
import { Timer, type TimerWheel } from "../core/timer_wheel.ts";
import type { Clock } from "../core/clock.ts";
import { LruList } from "../core/lru_list.ts";
import { ARP_REPLY, ARP_REQUEST, ArpHeader, writeArp } from "./arp_header.ts";
import { isIpv4LimitedBroadcast, isIpv4Martian, isIpv4Multicast } from "./ipv4_address.ts";

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

const INCOMPLETE = 0;
const REACHABLE = 1;
const STALE = 2;
const PROBE = 3;
const DELAY = 4;
const STATE_NAMES = ["INCOMPLETE", "REACHABLE", "STALE", "PROBE", "DELAY"] as const;

/** One neighbour. */
class ArpEntry {
  readonly mac = new Uint8Array(6);
  state = INCOMPLETE;
  /** When the state last changed (ms). */
  sinceMs = 0;
  /** When the entry was last used to send (ms). */
  usedMs = 0;
  /** Requests sent in the current INCOMPLETE/PROBE round. */
  probes = 0;
  /** When the last request went out. */
  probedMs = 0;
  readonly queue: PacketBuffer[] = [];
  /** LRU links (resolved entries only; most recently used at the tail). */
  lruPrev: ArpEntry | null = null;
  lruNext: ArpEntry | null = null;
  /** True while on the LRU list. */
  inLru = false;
  constructor(readonly ip: number) {}
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
  readonly #timers: TimerWheel;
  readonly #clock: Clock;
  readonly #stats: Counters;
  readonly #entries = new Map<number, ArpEntry>();
  readonly #hdr = new ArpHeader();
  readonly #timer: Timer;
  readonly #maxEntries: number;
  readonly #queuePerEntry: number;
  readonly #maxPending: number;
  /** Packets queued on every entry together. */
  #pending = 0;
  /** Resolved entries in order of use: the head is evicted first. */
  readonly #lru = new LruList<ArpEntry>();
  readonly #retransMs: number;
  readonly #maxProbes: number;
  readonly #reachableMs: number;
  readonly #staleGcMs: number;
  readonly #delayProbeMs: number;

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
    this.#timers = timers;
    this.#clock = clock;
    this.#stats = stats;
    this.#maxEntries = opts.maxEntries ?? 1024;
    // Unresolved neighbours may hold at most a quarter of the packet pool.
    this.#maxPending = opts.maxPending ?? Math.min(256, Math.max(4, pool.count >>> 2));
    this.#queuePerEntry = opts.queuePerEntry ?? Math.min(64, this.#maxPending);
    this.#retransMs = opts.retransMs ?? 1000;
    this.#maxProbes = opts.maxProbes ?? 3;
    this.#reachableMs = opts.reachableMs ?? 30_000;
    this.#staleGcMs = opts.staleGcMs ?? 60_000;
    this.#delayProbeMs = opts.delayProbeMs ?? 5_000;
    this.#timer = new Timer(() => this.#onTimer());
  }

  /**
   * Called when a received ARP packet resolves a neighbour, changes its MAC or confirms it (a
   * reply) — not for entries added with {@link ArpCache.learn}. Stacks that share one link
   * (a stack per core) pass what one of them learns to the others with it.
   */
  onLearned: ((ip: number, mac: Uint8Array, confirmed: boolean) => void) | null = null;

  /** Number of entries. */
  get size(): number {
    return this.#entries.size;
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
    const now = this.#clock.nowMs();
    let e = this.#entries.get(nextHop);
    if (e !== undefined && e.state !== INCOMPLETE) {
      e.usedMs = now;
      this.#touch(e);
      if (e.state === STALE) {
        e.state = DELAY;
        e.sinceMs = now;
        this.#arm(now + this.#delayProbeMs);
      }
      return link.output(pb, e.mac, 0, etherType, null);
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
      // Linux drops the oldest queued packet to make room for the newest.
      const old = e.queue.shift()!;
      this.#pool.free(old);
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

  /**
   * Start resolving `ip` if it is unknown (no packet is queued): for senders that cannot
   * queue, such as offloaded super-segments, which are dropped and retransmitted instead.
   */
  solicit(ip: number): void {
    if (!this.#entries.has(ip)) this.#create(ip, this.#clock.nowMs());
  }

  #create(ip: number, now: number): ArpEntry | null {
    if (this.#entries.size >= this.#maxEntries && !this.#evictOne()) {
      this.#stats.CacheFull++;
      return null;
    }
    const e = new ArpEntry(ip);
    e.sinceMs = now;
    e.usedMs = now;
    this.#entries.set(ip, e);
    this.#sendRequest(ip, null);
    e.probes = 1;
    e.probedMs = now;
    this.#arm(now + this.#retransMs);
    return e;
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
    const now = this.#clock.nowMs();
    const learnable = spa !== 0 && !isIpv4Martian(spa);
    // RFC 826 "merge": update an existing entry for the sender whoever the target is.
    let e = learnable ? this.#entries.get(spa) : undefined;
    if (e !== undefined) this.#update(e, buf, shaOff, op === ARP_REPLY, now);
    const forUs = this.#owner.isLocalAddressOn(nic, tpa);
    if (!forUs) {
      if (e === undefined) this.#stats.InIgnored++;
      return;
    }
    if (e === undefined && learnable) {
      if (this.#entries.size < this.#maxEntries || this.#evictOne()) {
        e = new ArpEntry(spa);
        e.sinceMs = now;
        e.usedMs = now;
        this.#entries.set(spa, e);
        // A request addressed to us shows the sender is there: Linux creates it STALE.
        this.#update(e, buf, shaOff, op === ARP_REPLY, now);
      } else {
        this.#stats.CacheFull++;
      }
    }
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
    const now = this.#clock.nowMs();
    let e = this.#entries.get(ip);
    if (e === undefined) {
      if (this.#entries.size >= this.#maxEntries && !this.#evictOne()) {
        this.#stats.CacheFull++;
        return;
      }
      e = new ArpEntry(ip);
      e.sinceMs = now;
      e.usedMs = now;
      this.#entries.set(ip, e);
    }
    this.#update(e, mac, 0, confirmed, now, false);
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
    const e = this.#entries.get(ip);
    if (e === undefined || e.state === INCOMPLETE || e.state === REACHABLE) return;
    e.state = REACHABLE;
    e.sinceMs = this.#clock.nowMs();
    e.probes = 0;
    this.#arm(e.sinceMs + this.#reachableMs);
  }

  /** Remove every entry (queued packets are freed). */
  flush(): void {
    for (const e of this.#entries.values()) this.#delete(e);
  }

  /** Packets waiting for resolution, on every entry together. */
  get pending(): number {
    return this.#pending;
  }

  /** A snapshot of the cache. */
  entries(): ArpEntryInfo[] {
    const out: ArpEntryInfo[] = [];
    for (const e of this.#entries.values()) {
      out.push({
        ip: e.ip,
        mac: e.mac.slice(),
        state: STATE_NAMES[e.state],
        queued: e.queue.length,
      });
    }
    return out;
  }

  /** Look up a neighbour's MAC without side effects (null if unknown or unresolved). */
  lookup(ip: number): Uint8Array | null {
    const e = this.#entries.get(ip);
    return e === undefined || e.state === INCOMPLETE ? null : e.mac;
  }

  #update(
    e: ArpEntry,
    buf: Uint8Array,
    shaOff: number,
    confirmed: boolean,
    now: number,
    share = true,
  ): void {
    const changed = !macEquals(e.mac, 0, buf, shaOff);
    if (share && this.onLearned !== null && (changed || confirmed || e.state === INCOMPLETE)) {
      this.onLearned(e.ip, buf.subarray(shaOff, shaOff + 6), confirmed);
    }
    if (changed || e.state === INCOMPLETE) {
      for (let i = 0; i < 6; i++) e.mac[i] = buf[shaOff + i];
    }
    const before = e.state;
    if (confirmed) e.state = REACHABLE;
    else if (changed || e.state === INCOMPLETE || e.state === PROBE) e.state = STALE;
    if (e.state !== before || confirmed) {
      e.sinceMs = now;
      e.probes = 0;
    }
    if (e.queue.length > 0) this.#flushQueue(e);
    this.#touch(e);
    if (e.state === REACHABLE) this.#arm(now + this.#reachableMs);
  }

  #flushQueue(e: ArpEntry): void {
    const q = e.queue;
    for (let i = 0; i < q.length; i++) {
      const pb = q[i];
      this.#link.output(pb, e.mac, 0, pb.etherType, null);
    }
    this.#pending -= q.length;
    q.length = 0;
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

  /** Evict the least recently used resolved entry (O(1)); false when every entry is unresolved. */
  #evictOne(): boolean {
    const victim = this.#lru.head;
    if (victim === null) return false;
    this.#delete(victim);
    return true;
  }

  /** Move a resolved entry to the most recently used end of the LRU list. */
  #touch(e: ArpEntry): void {
    if (e.state !== INCOMPLETE) this.#lru.touch(e);
  }

  /** Remove `e` from the cache (its queued packets are freed). */
  #delete(e: ArpEntry): void {
    this.#drop(e);
    this.#lru.remove(e);
    this.#entries.delete(e.ip);
  }

  #drop(e: ArpEntry): void {
    for (const pb of e.queue) this.#pool.free(pb);
    this.#pending -= e.queue.length;
    e.queue.length = 0;
  }

  #arm(at: number): void {
    if (!this.#timer.armed || this.#timer.deadlineMs > at) this.#timers.schedule(this.#timer, at);
  }

  #onTimer(): void {
    const now = this.#clock.nowMs();
    let next = Infinity;
    for (const e of this.#entries.values()) {
      if (e.state === INCOMPLETE || e.state === PROBE) {
        if (now - e.probedMs >= this.#retransMs - 0.5) {
          if (e.probes >= this.#maxProbes) {
            if (e.state === INCOMPLETE) this.#stats.ResolveFailed++;
            this.#delete(e);
            continue;
          }
          this.#sendRequest(e.ip, e.state === PROBE ? e.mac : null);
          e.probes++;
          e.probedMs = now;
        }
        next = Math.min(next, e.probedMs + this.#retransMs);
      } else if (e.state === DELAY) {
        if (now - e.sinceMs >= this.#delayProbeMs - 0.5) {
          e.state = PROBE;
          e.sinceMs = now;
          this.#sendRequest(e.ip, e.mac);
          e.probes = 1;
          e.probedMs = now;
          next = Math.min(next, now + this.#retransMs);
        } else next = Math.min(next, e.sinceMs + this.#delayProbeMs);
      } else if (e.state === REACHABLE) {
        if (now - e.sinceMs >= this.#reachableMs) {
          e.state = STALE;
          e.sinceMs = now;
          next = Math.min(next, now + this.#staleGcMs);
        } else next = Math.min(next, e.sinceMs + this.#reachableMs);
      } else if (e.state === STALE) {
        const idleSince = Math.max(e.usedMs, e.sinceMs);
        if (now - idleSince >= this.#staleGcMs) {
          this.#delete(e);
          continue;
        }
        next = Math.min(next, idleSince + this.#staleGcMs);
      }
    }
    // Never re-arm for "now": with fractional clocks a deadline can round onto the current
    // time and the wheel would fire us again without time moving.
    if (next !== Infinity) this.#timers.schedule(this.#timer, Math.max(next, now + 1));
  }
}

const ZERO_MAC = new Uint8Array(6);
const MCAST_MAC = new Uint8Array([0x01, 0x00, 0x5e, 0, 0, 0]);
