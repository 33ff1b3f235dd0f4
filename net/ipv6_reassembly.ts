/**
 * IPv6 reassembly (RFC 8200 §4.5): fragments keyed by (source, destination, identification)
 * are joined into one datagram; the unfragmentable part (fixed header and the extension
 * headers before the fragment header) is the one of the first fragment.
 *
 * - Overlaps (RFC 5722): a fragment that overlaps data already received discards the whole
 *   datagram, and fragments of it still arriving are dropped until its timer runs out. An
 *   exact duplicate is ignored (as Linux does).
 * - Timeout: 60 s (RFC 8200 §4.5); if the first fragment had arrived, its start is handed to
 *   {@link Ipv6Reassembler.onTimeout} for an ICMPv6 time exceeded (code 1).
 * - Memory: at most `maxDatagrams` datagrams in progress, each a lazily allocated 64 KiB slot;
 *   a new datagram when all are busy evicts the oldest incomplete one (counted) rather than
 *   being refused.
 *
 * Atomic fragments (RFC 6946) never reach this module: the layer processes them as whole
 * datagrams.
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import type { Counters } from "../core/counters.ts";
import { Timer, type TimerWheel } from "../core/timer_wheel.ts";
import { IPV6_HEADER_BYTES, IPV6_MIN_MTU } from "./ipv6_header.ts";

/** Tunables of IPv6 reassembly. */
export interface Ipv6ReassemblyOptions {
  /** Datagrams in progress at once; a new one evicts the oldest [64]. */
  maxDatagrams?: number;
  /** Time a datagram may take to complete [60 000 ms, RFC 8200 §4.5]. */
  timeoutMs?: number;
}

/** Largest fragmentable part (the payload length field is 16 bits). */
const MAX_FRAGMENTABLE = 65535;
/** Room kept for the unfragmentable part (fixed header + extension headers before the fragment header). */
const UNFRAG_ROOM = 512;

/** A reassembled datagram; valid until the next call into the reassembler. */
export class ReassembledIpv6 {
  /** Buffer holding it. */
  buf: Uint8Array = new Uint8Array(0);
  /** Offset of the IPv6 header. */
  off = 0;
  /** Bytes of the whole datagram (40 + payload length). */
  len = 0;
  /** Bytes of the unfragmentable part: processing resumes at `off + unfragBytes`. */
  unfragBytes = 0;
  /** The next header of the fragmentable part (from the first fragment's fragment header). */
  nextHeader = 0;
  /** Offset from `off` of the next-header byte that now names it. */
  nhFieldRel = 0;
}

class Slot {
  readonly data = new Uint8Array(UNFRAG_ROOM + MAX_FRAGMENTABLE);
  readonly blocks = new Uint32Array(Math.ceil(MAX_FRAGMENTABLE / 8 / 32) + 1);
  /** The first fragment as received (its start), for the time-exceeded quote. */
  readonly first = new Uint8Array(IPV6_MIN_MTU);
  firstLen = 0;
  used = false;
  /** An overlap killed it: drop its fragments until the timer runs out. */
  dead = false;
  startedMs = 0;
  s0 = 0;
  s1 = 0;
  s2 = 0;
  s3 = 0;
  d0 = 0;
  d1 = 0;
  d2 = 0;
  d3 = 0;
  id = 0;
  received = 0;
  /** Fragmentable bytes, known once the last fragment (M = 0) arrived, else -1. */
  total = -1;
  /** Unfragmentable bytes of the first fragment, 0 until it arrived. */
  unfragBytes = 0;
  /** Offset (from the IPv6 header) of the next-header byte that named the fragment header. */
  nhFieldRel = 0;
  nextHeader = 0;
  readonly timer: Timer;
  constructor(expire: (s: Slot) => void) {
    this.timer = new Timer(() => expire(this));
  }
  reset(): void {
    this.used = false;
    this.dead = false;
    this.blocks.fill(0);
    this.received = 0;
    this.total = -1;
    this.unfragBytes = 0;
    this.firstLen = 0;
  }
}

function rd(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/**
 * Bounded IPv6 reassembly.
 *
 * @example
 * ```ts ignore
 * const r = new Ipv6Reassembler(timers, clock, stats.ip6);
 * const whole = r.add(buf, ipOff, nhFieldOff, fragOff, end); // null until complete
 * ```
 */
export class Ipv6Reassembler {
  /**
   * Called when a datagram whose first fragment arrived times out, with that fragment's start
   * at `buf[off, off + len)` (IPv6 header first).
   */
  onTimeout: ((buf: Uint8Array, off: number, len: number) => void) | null = null;
  readonly #slots: Slot[] = [];
  readonly #timers: TimerWheel;
  readonly #clock: Clock;
  readonly #stats: Counters;
  readonly #timeoutMs: number;
  readonly #max: number;
  readonly #result = new ReassembledIpv6();

  /** Slots are allocated on first use, so an idle stack costs nothing. */
  constructor(timers: TimerWheel, clock: Clock, stats: Counters, opts: Ipv6ReassemblyOptions = {}) {
    this.#timers = timers;
    this.#clock = clock;
    this.#stats = stats;
    this.#timeoutMs = opts.timeoutMs ?? 60_000;
    this.#max = Math.max(1, opts.maxDatagrams ?? 64);
  }

  /** Datagrams in progress (dead ones included until their timer runs out). */
  get pending(): number {
    let n = 0;
    for (const s of this.#slots) if (s.used) n++;
    return n;
  }

  /**
   * Add the fragment whose IPv6 header is at `buf[ipOff]`, whose fragment header is at
   * `buf[fragOff]` (named by the next-header byte at `buf[nhFieldOff]`), and whose datagram
   * ends at `end`. The caller has checked the lengths (RFC 8200 §4.5: a non-last fragment's
   * data is a multiple of 8, offset + data ≤ 65535). Returns the whole datagram when this
   * fragment completed it, else null.
   */
  add(
    buf: Uint8Array,
    ipOff: number,
    nhFieldOff: number,
    fragOff: number,
    end: number,
  ): ReassembledIpv6 | null {
    const st = this.#stats;
    const fragWord = (buf[fragOff + 2] << 8) | buf[fragOff + 3];
    const start = fragWord & 0xfff8;
    const more = (fragWord & 1) !== 0;
    const id = rd(buf, fragOff + 4);
    const dataOff = fragOff + 8;
    const len = end - dataOff;
    const stop = start + len;
    const unfrag = fragOff - ipOff;
    if (len <= 0 || stop > MAX_FRAGMENTABLE || (start === 0 && unfrag > UNFRAG_ROOM)) {
      st.ReasmFails++;
      return null;
    }
    let slot = this.#find(buf, ipOff, id);
    if (slot === null) {
      slot = this.#claim();
      slot.used = true;
      slot.startedMs = this.#clock.nowMs();
      const s = ipOff + 8;
      const d = ipOff + 24;
      slot.s0 = rd(buf, s);
      slot.s1 = rd(buf, s + 4);
      slot.s2 = rd(buf, s + 8);
      slot.s3 = rd(buf, s + 12);
      slot.d0 = rd(buf, d);
      slot.d1 = rd(buf, d + 4);
      slot.d2 = rd(buf, d + 8);
      slot.d3 = rd(buf, d + 12);
      slot.id = id;
      this.#timers.schedule(slot.timer, slot.startedMs + this.#timeoutMs);
    }
    if (slot.dead) {
      st.ReasmFails++;
      return null;
    }
    // RFC 8200 §4.5: the last fragment fixes the length; nothing may lie beyond it.
    if (!more) {
      if ((slot.total !== -1 && slot.total !== stop) || this.#beyond(slot, stop)) {
        return this.#kill(slot, false);
      }
      slot.total = stop;
    } else if (slot.total !== -1 && stop > slot.total) {
      return this.#kill(slot, false);
    }
    const b0 = start >>> 3;
    const b1 = (stop + 7) >>> 3;
    let seen = 0;
    for (let b = b0; b < b1; b++) if ((slot.blocks[b >>> 5] & (1 << (b & 31))) !== 0) seen++;
    if (seen === b1 - b0) return null; // exact duplicate
    if (seen !== 0) return this.#kill(slot, true);
    for (let b = b0; b < b1; b++) slot.blocks[b >>> 5] |= 1 << (b & 31);
    slot.data.set(buf.subarray(dataOff, end), UNFRAG_ROOM + start);
    slot.received += len;
    if (start === 0) {
      slot.unfragBytes = unfrag;
      slot.nhFieldRel = nhFieldOff - ipOff;
      slot.nextHeader = buf[fragOff];
      slot.data.set(buf.subarray(ipOff, fragOff), UNFRAG_ROOM - unfrag);
      const q = Math.min(end - ipOff, IPV6_MIN_MTU);
      slot.first.set(buf.subarray(ipOff, ipOff + q), 0);
      slot.firstLen = q;
    }
    if (slot.total === -1 || slot.received !== slot.total || slot.unfragBytes === 0) return null;
    // Complete: fix the payload length and the next header that named the fragment header.
    const h = UNFRAG_ROOM - slot.unfragBytes;
    const d = slot.data;
    const payload = slot.unfragBytes - IPV6_HEADER_BYTES + slot.total;
    if (payload > 0xffff) return this.#kill(slot, false);
    d[h + 4] = payload >>> 8;
    d[h + 5] = payload;
    d[h + slot.nhFieldRel] = slot.nextHeader;
    const r = this.#result;
    r.buf = d;
    r.off = h;
    r.len = IPV6_HEADER_BYTES + payload;
    r.unfragBytes = slot.unfragBytes;
    r.nextHeader = slot.nextHeader;
    r.nhFieldRel = slot.nhFieldRel;
    this.#timers.cancel(slot.timer);
    slot.reset();
    return r;
  }

  /** True when data was received at or past `stop` (a last fragment cutting it short). */
  #beyond(slot: Slot, stop: number): boolean {
    const from = (stop + 7) >>> 3;
    const last = slot.blocks.length * 32;
    for (let b = from; b < last; b++) {
      if (slot.blocks[b >>> 5] === 0) {
        b = b | 31;
        continue;
      }
      if ((slot.blocks[b >>> 5] & (1 << (b & 31))) !== 0) return true;
    }
    return false;
  }

  #find(buf: Uint8Array, ipOff: number, id: number): Slot | null {
    const s = ipOff + 8;
    const d = ipOff + 24;
    for (const x of this.#slots) {
      if (
        x.used && x.id === id && x.s3 === rd(buf, s + 12) && x.d3 === rd(buf, d + 12) &&
        x.s0 === rd(buf, s) && x.s1 === rd(buf, s + 4) && x.s2 === rd(buf, s + 8) &&
        x.d0 === rd(buf, d) && x.d1 === rd(buf, d + 4) && x.d2 === rd(buf, d + 8)
      ) return x;
    }
    return null;
  }

  /** A free slot: an unused one, a new one within the bound, else the oldest (evicted). */
  #claim(): Slot {
    for (const s of this.#slots) if (!s.used) return s;
    if (this.#slots.length < this.#max) {
      const s = new Slot((x) => this.#expire(x));
      this.#slots.push(s);
      return s;
    }
    let oldest = this.#slots[0];
    for (const s of this.#slots) if (s.startedMs < oldest.startedMs) oldest = s;
    this.#stats.ReasmEvictions++;
    if (!oldest.dead) this.#stats.ReasmFails++;
    this.#timers.cancel(oldest.timer);
    oldest.reset();
    return oldest;
  }

  /** Discard the datagram; with `overlap` (RFC 5722) keep dropping its fragments until timeout. */
  #kill(slot: Slot, overlap: boolean): null {
    if (overlap) this.#stats.ReasmOverlaps++;
    this.#stats.ReasmFails++;
    if (overlap) {
      // The key and the timer stay: later fragments of this datagram find it dead.
      slot.reset();
      slot.used = true;
      slot.dead = true;
      return null;
    }
    this.#timers.cancel(slot.timer);
    slot.reset();
    return null;
  }

  #expire(slot: Slot): void {
    if (!slot.used) return;
    if (slot.dead) {
      slot.reset();
      return;
    }
    this.#stats.ReasmTimeout++;
    this.#stats.ReasmFails++;
    if (slot.firstLen !== 0 && this.onTimeout !== null) {
      this.onTimeout(slot.first, 0, slot.firstLen);
    }
    slot.reset();
  }
}
