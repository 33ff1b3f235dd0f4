/**
 * The neighbour table both address families share: Neighbor Unreachability Detection (RFC 4861
 * §7.3, which Linux applies to ARP as well), a bounded queue of packets per unresolved
 * neighbour, LRU eviction when full. ARP (`net/arp.ts`) and the IPv6 neighbour cache
 * (`net/ndp_cache.ts`) each own one and keep only their protocol's rules: which messages
 * create, update or confirm an entry, and how a solicitation is sent.
 *
 * ```text
 * INCOMPLETE --reply--> REACHABLE --ReachableTime--> STALE --send--> DELAY --5 s--> PROBE
 *     |                    ^                            ^                           |
 *     +---N × retrans, no reply: deleted, queue failed  +--- learned again ---------+--> deleted
 * ```
 *
 * Bounds, for a flood from many sources: at most `maxEntries` neighbours (1024, Linux's
 * `gc_thresh3`); when full, the least recently used *resolved* entry is evicted in O(1)
 * (resolved entries sit on an {@link LruList}; an INCOMPLETE one holds queued packets and is
 * never evicted — it resolves or gives up within its solicitations). Packets waiting for
 * resolution are bounded per neighbour (`queuePerEntry`, the oldest dropped first, as Linux
 * does) and in all (`maxPending`), so unresolved neighbours cannot take the packet pool from
 * the ones that answer. Refusals count `CacheFull` and `QueueDrops`; give-ups `ResolveFailed`
 * (INCOMPLETE) and `ProbeFailed` (PROBE).
 *
 * @module
 */

import type { LinkEndpoint } from "../link/link_endpoint.ts";
import type { BufferPool, PacketBuffer } from "../core/packet_buffer.ts";
import type { Counters } from "../core/counters.ts";
import { Timer, type TimerWheel } from "../core/timer_wheel.ts";
import { type Clock, readClockMs } from "../core/clock.ts";
import { LruList } from "../core/lru_list.ts";

/** The cell this module's per-packet clock read goes through ({@link readClockMs}). */
const NOW = new Float64Array(1);
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
/** State names by number, for snapshots. */
export const NUD_STATE_NAMES = ["INCOMPLETE", "REACHABLE", "STALE", "DELAY", "PROBE"] as const;

/** One neighbour; a protocol may extend it with fields of its own. */
export class NeighbourEntry<K> {
  /** Link-layer address (zeros while INCOMPLETE). */
  readonly mac = new Uint8Array(6);
  /** NUD state. */
  state = NUD_INCOMPLETE;
  /** When the state last changed or was refreshed (ms). */
  sinceMs = 0;
  /**
   * When the entry was last used to send (whole ms: always a small integer, never a heap
   * number stored per packet).
   */
  usedMs = 0;
  /** Solicitations sent in the current INCOMPLETE/PROBE round. */
  probes = 0;
  /** When the last solicitation went out (ms). */
  probedMs = 0;
  /** Packets waiting for resolution. */
  readonly queue: PacketBuffer[] = [];
  /** LRU links (resolved entries only; most recently used at the tail). */
  lruPrev: NeighbourEntry<K> | null = null;
  /** LRU links (resolved entries only; most recently used at the tail). */
  lruNext: NeighbourEntry<K> | null = null;
  /** True while on the LRU list. */
  inLru = false;
  /** An entry for the neighbour `ip`. */
  constructor(readonly ip: K) {}
}

/** The map a table keeps its entries in (a `Map` for IPv4, an `IpAddrMap` for IPv6). */
export interface NeighbourMap<K, E> {
  /** Entries held. */
  readonly size: number;
  /** The entry of `key`, or undefined. */
  get(key: K): E | undefined;
  /** Add or replace the entry of `key`. */
  set(key: K, entry: E): unknown;
  /** Remove the entry of `key`. */
  delete(key: K): unknown;
  /** Every entry. */
  values(): IterableIterator<E>;
}

/** What the table asks of its protocol. */
export interface NeighbourProtocol<K> {
  /** Send a solicitation for `target`: broadcast/multicast when `unicastMac` is null. */
  solicit(target: K, unicastMac: Uint8Array | null): void;
  /** Resolution of the packet's next hop failed: report it if the protocol does, and free it. */
  unreachable(pb: PacketBuffer): void;
}

/** Sizes and times of a {@link NeighbourTable}. */
export interface NeighbourTableOptions {
  /** Most entries. */
  maxEntries: number;
  /** Packets held per unresolved neighbour. */
  queuePerEntry: number;
  /** Packets held for all unresolved neighbours together. */
  maxPending: number;
  /** Broadcast/multicast solicitations before an INCOMPLETE entry gives up. */
  maxMulticastSolicit: number;
  /** Unicast probes before a PROBE entry gives up. */
  maxUnicastSolicit: number;
  /** DELAY before probing a used STALE entry (ms). */
  delayFirstProbeMs: number;
  /** How long an unused STALE entry is kept (ms). */
  staleGcMs: number;
  /** Time between solicitations (ms). */
  retransMs: number;
  /** How long a confirmation keeps an entry REACHABLE (ms). */
  reachableMs: number;
}

/**
 * The neighbours of one link for one protocol.
 *
 * @example
 * ```ts ignore
 * const table = new NeighbourTable(link, protocol, pool, timers, clock, stats, new Map(),
 *   (ip: number) => new NeighbourEntry(ip), options);
 * table.send(pb, nextHop, ETHERTYPE_IPV4); // sends, or queues behind a solicitation
 * ```
 */
export class NeighbourTable<K, E extends NeighbourEntry<K>> {
  /** Time between solicitations (ms); IPv6 routers may change it. */
  retransMs: number;
  /** How long a confirmation keeps an entry REACHABLE (ms); IPv6 redraws it. */
  reachableMs: number;
  /** Called when resolution of a neighbour starts (a new INCOMPLETE entry). */
  onResolving: ((ip: K) => void) | null = null;
  readonly #link: LinkEndpoint;
  readonly #protocol: NeighbourProtocol<K>;
  readonly #pool: BufferPool;
  readonly #timers: TimerWheel;
  readonly #clock: Clock;
  readonly #stats: Counters;
  readonly #entries: NeighbourMap<K, E>;
  readonly #newEntry: (ip: K) => E;
  readonly #timer: Timer;
  readonly #maxEntries: number;
  readonly #queuePerEntry: number;
  readonly #maxPending: number;
  readonly #maxMulticast: number;
  readonly #maxUnicast: number;
  readonly #delayMs: number;
  readonly #staleGcMs: number;
  /** Packets queued behind every unresolved neighbour. */
  #pending = 0;
  /** Resolved entries in order of use: the head is evicted first. */
  readonly #lru = new LruList<NeighbourEntry<K>>();

  /**
   * A table for `link`, keeping entries made by `newEntry` in `entries`; `stats` is the
   * protocol's counter group.
   */
  constructor(
    link: LinkEndpoint,
    protocol: NeighbourProtocol<K>,
    pool: BufferPool,
    timers: TimerWheel,
    clock: Clock,
    stats: Counters,
    entries: NeighbourMap<K, E>,
    newEntry: (ip: K) => E,
    opts: NeighbourTableOptions,
  ) {
    this.#link = link;
    this.#protocol = protocol;
    this.#pool = pool;
    this.#timers = timers;
    this.#clock = clock;
    this.#stats = stats;
    this.#entries = entries;
    this.#newEntry = newEntry;
    this.#maxEntries = opts.maxEntries;
    this.#queuePerEntry = opts.queuePerEntry;
    this.#maxPending = opts.maxPending;
    this.#maxMulticast = opts.maxMulticastSolicit;
    this.#maxUnicast = opts.maxUnicastSolicit;
    this.#delayMs = opts.delayFirstProbeMs;
    this.#staleGcMs = opts.staleGcMs;
    this.retransMs = opts.retransMs;
    this.reachableMs = opts.reachableMs;
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

  /**
   * True when `e` is still this table's entry of its neighbour and resolved: a caller that
   * keeps the entry it sent to last may then {@link NeighbourTable.sendResolved} to it.
   */
  isCurrent(e: E): boolean {
    return e.state !== NUD_INCOMPLETE && this.#entries.get(e.ip) === e;
  }

  /**
   * Send `pb` to the resolved entry `e` (see {@link NeighbourTable.isCurrent}), as
   * {@link NeighbourTable.send} does: marks it used (STALE goes to DELAY). Takes ownership.
   */
  sendResolved(pb: PacketBuffer, e: E, etherType: number): boolean {
    // Whole milliseconds (as everywhere `usedMs` is set): the real clock's fractional time
    // stored here was a new heap number per packet sent (bench/README.md, cookie9s); the time
    // is read into a cell, not returned by a call V8 may not inline ("heap13r").
    readClockMs(this.#clock, NOW);
    e.usedMs = Math.floor(NOW[0]);
    this.#lru.touch(e);
    if (e.state === NUD_STALE) this.enter(e, NUD_DELAY, NOW[0]);
    return this.#link.output(pb, e.mac, 0, etherType, null);
  }

  /** The entry of `ip`, or undefined (no side effects). */
  get(ip: K): E | undefined {
    return this.#entries.get(ip);
  }

  /** Every entry, for snapshots. */
  values(): IterableIterator<E> {
    return this.#entries.values();
  }

  /** The current time of the table's clock (ms). */
  nowMs(): number {
    return this.#clock.nowMs();
  }

  /**
   * Send `pb` (a network packet, headers complete) to the unicast neighbour `nextHop`: straight
   * out when its MAC is known (a STALE entry moves to DELAY), else queued (bounded, oldest
   * dropped) behind a solicitation. Takes ownership of `pb`.
   */
  send(pb: PacketBuffer, nextHop: K, etherType: number): boolean {
    const now = this.#clock.nowMs();
    let e = this.#entries.get(nextHop);
    if (e !== undefined && e.state !== NUD_INCOMPLETE) return this.sendResolved(pb, e, etherType);
    if (e === undefined) {
      const created = this.#resolve(nextHop, now);
      if (created === null) {
        this.#pool.free(pb);
        return false;
      }
      e = created;
    }
    if (e.queue.length >= this.#queuePerEntry) {
      // Linux drops the oldest queued packet to make room for the newest.
      this.#pool.free(e.queue.shift()!);
      this.#pending--;
      this.#stats.QueueDrops++;
    }
    // The queue keeps the packet past this call: a gathered payload comes in now.
    if (this.#pending >= this.#maxPending || !pb.flatten()) {
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
  solicit(ip: K): void {
    if (this.#entries.get(ip) === undefined) this.#resolve(ip, this.#clock.nowMs());
  }

  /** The MAC of `ip` when resolved (no side effects), else null. */
  lookup(ip: K): Uint8Array | null {
    const e = this.#entries.get(ip);
    return e === undefined || e.state === NUD_INCOMPLETE ? null : e.mac;
  }

  /** Upper-layer reachability confirmation (RFC 4861 §7.3.1), e.g. a TCP ACK of new data. */
  confirm(ip: K): void {
    const e = this.#entries.get(ip);
    if (e === undefined || e.state === NUD_INCOMPLETE) return;
    const now = this.#clock.nowMs();
    if (e.state === NUD_REACHABLE) e.sinceMs = now;
    else this.enter(e, NUD_REACHABLE, now);
  }

  /**
   * A new entry for `ip` in state `state` with `mac` at `buf[macOff..]` (a neighbour that made
   * itself known), or null when the table is full of unresolved entries (counted `CacheFull`).
   * Packets do not wait on it: it is created resolved.
   */
  add(ip: K, buf: Uint8Array, macOff: number, state: number, now: number): E | null {
    if (!this.#makeRoom()) return null;
    const e = this.#newEntry(ip);
    e.usedMs = Math.floor(now);
    this.#entries.set(e.ip, e);
    this.setMac(e, buf, macOff);
    this.enter(e, state, now);
    return e;
  }

  /**
   * Move `e` to `state` at `now` (resolved states go to the LRU tail; REACHABLE and STALE
   * start a new probe round) and make sure the table's timer runs when the state may end.
   */
  enter(e: E, state: number, now: number): void {
    e.state = state;
    e.sinceMs = now;
    if (state !== NUD_INCOMPLETE) this.#lru.touch(e);
    if (state === NUD_REACHABLE || state === NUD_STALE) e.probes = 0;
    const wakeAt = now +
      (state === NUD_REACHABLE
        ? this.reachableMs
        : state === NUD_STALE
        ? this.#staleGcMs
        : state === NUD_DELAY
        ? this.#delayMs
        : this.retransMs);
    if (!this.#timer.armed || this.#timer.deadlineMs > wakeAt) {
      this.#timers.schedule(this.#timer, wakeAt);
    }
  }

  /** Mark `e` used now: it moves to the most recently used end (resolved entries only). */
  touch(e: E): void {
    if (e.state !== NUD_INCOMPLETE) this.#lru.touch(e);
  }

  /** Copy the MAC at `buf[off..off+6)` into `e`. */
  setMac(e: E, buf: Uint8Array, off: number): void {
    for (let i = 0; i < 6; i++) e.mac[i] = buf[off + i];
  }

  /** Send what waited for `e` to its MAC. */
  flushQueue(e: E): void {
    const q = e.queue;
    if (q.length === 0) return;
    this.#pending -= q.length;
    for (let i = 0; i < q.length; i++) this.#link.output(q[i], e.mac, 0, q[i].etherType, null);
    q.length = 0;
  }

  /** Remove `ip` (queued packets freed). */
  remove(ip: K): void {
    const e = this.#entries.get(ip);
    if (e !== undefined) this.#delete(e);
  }

  /** Remove every entry (queued packets freed). */
  flush(): void {
    for (const e of [...this.#entries.values()]) this.#delete(e);
  }

  /** A new INCOMPLETE entry for `ip` with its first solicitation sent, or null when full. */
  #resolve(ip: K, now: number): E | null {
    if (!this.#makeRoom()) return null;
    const e = this.#newEntry(ip);
    e.usedMs = Math.floor(now);
    this.#entries.set(e.ip, e);
    this.enter(e, NUD_INCOMPLETE, now);
    this.#protocol.solicit(e.ip, null);
    e.probes = 1;
    e.probedMs = now;
    this.onResolving?.(e.ip);
    return e;
  }

  /** Room for one more entry: evict the least recently used resolved one (O(1)) if full. */
  #makeRoom(): boolean {
    if (this.#entries.size < this.#maxEntries) return true;
    const victim = this.#lru.head as E | null;
    if (victim === null) {
      this.#stats.CacheFull++;
      return false;
    }
    this.#delete(victim);
    return true;
  }

  /** Remove `e` from the table (its queued packets are freed). */
  #delete(e: E): void {
    for (const pb of e.queue) this.#pool.free(pb);
    this.#pending -= e.queue.length;
    e.queue.length = 0;
    this.#lru.remove(e);
    this.#entries.delete(e.ip);
  }

  /** Resolution of `e` gave up: its queued packets go to the protocol as unreachable. */
  #fail(e: E): void {
    this.#stats.ResolveFailed++;
    const q = e.queue.splice(0);
    this.#pending -= q.length;
    this.#lru.remove(e);
    this.#entries.delete(e.ip);
    for (const pb of q) this.#protocol.unreachable(pb);
  }

  #onTimer(): void {
    const now = this.#clock.nowMs();
    let next = Infinity;
    // A snapshot: entries are deleted while walking, and an IpAddrMap's walk does not allow it.
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
          this.#protocol.solicit(e.ip, s === NUD_PROBE ? e.mac : null);
          e.probes++;
          e.probedMs = now;
        }
        next = Math.min(next, e.probedMs + this.retransMs);
      } else if (s === NUD_DELAY) {
        if (now - e.sinceMs >= this.#delayMs - 0.5) {
          e.state = NUD_PROBE;
          e.sinceMs = now;
          this.#protocol.solicit(e.ip, e.mac);
          e.probes = 1;
          e.probedMs = now;
          next = Math.min(next, now + this.retransMs);
        } else next = Math.min(next, e.sinceMs + this.#delayMs);
      } else if (s === NUD_REACHABLE) {
        if (now - e.sinceMs >= this.reachableMs) {
          e.state = NUD_STALE;
          e.sinceMs = now;
          next = Math.min(next, now + this.#staleGcMs);
        } else next = Math.min(next, e.sinceMs + this.reachableMs);
      } else {
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
