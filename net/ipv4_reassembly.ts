/**
 * IPv4 reassembly (RFC 791 §3.2, RFC 815): a bounded set of reassembly slots, each a
 * preallocated 64 KiB buffer plus a bitmap of which 8-byte blocks have arrived.
 *
 * Fragments that partly overlap data already received make the whole datagram be dropped
 * (as Linux does since it adopted RFC 5722's rule for IPv4: overlaps are an attack, not a
 * retransmission); exact duplicates are ignored. A datagram not complete within `timeoutMs`
 * (Linux: 30 s) is discarded and counted `ReasmTimeout`.
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import type { Counters } from "../core/counters.ts";
import { Timer, type TimerWheel } from "../core/timer_wheel.ts";

/** Tunables of reassembly. */
export interface ReassemblyOptions {
  /** Datagrams reassembled at once; more are refused (`ReasmFails`) [16]. */
  maxDatagrams?: number;
  /** Time a datagram may take to complete [30 000 ms]. */
  timeoutMs?: number;
}

/** Largest IPv4 datagram. */
const MAX_DATAGRAM = 65535;
/** Room in front of the payload for the first fragment's header (max 60 bytes). */
const HEADER_ROOM = 60;

/** A reassembled datagram (header + payload), valid until the next call into the reassembler. */
export interface ReassembledDatagram {
  /** Buffer holding it. */
  buf: Uint8Array;
  /** Offset of the IP header. */
  off: number;
  /** Header + payload length. */
  len: number;
}

class Slot {
  readonly data = new Uint8Array(HEADER_ROOM + MAX_DATAGRAM);
  /** One bit per 8-byte block of payload. */
  readonly blocks = new Uint32Array(Math.ceil(MAX_DATAGRAM / 8 / 32) + 1);
  used = false;
  src = 0;
  dst = 0;
  id = 0;
  protocol = 0;
  /** Payload bytes received. */
  received = 0;
  /** Total payload length, known once the last fragment (MF=0) arrived, else -1. */
  total = -1;
  /** Header length of the first fragment, 0 until it arrived. */
  headerBytes = 0;
  readonly timer: Timer;
  constructor(expire: (s: Slot) => void) {
    this.timer = new Timer(() => expire(this));
  }
  reset(): void {
    this.used = false;
    this.blocks.fill(0);
    this.received = 0;
    this.total = -1;
    this.headerBytes = 0;
  }
}

/**
 * Bounded IPv4 reassembly.
 *
 * @example
 * ```ts ignore
 * const r = new Ipv4Reassembler(timers, clock, stats.ip);
 * const whole = r.add(buf, ipOff, totalLength, 0); // null until complete
 * ```
 */
export class Ipv4Reassembler {
  readonly #slots: Slot[];
  readonly #timers: TimerWheel;
  readonly #clock: Clock;
  readonly #stats: Counters;
  readonly #timeoutMs: number;
  readonly #max: number;
  /**
   * Called when a datagram whose first fragment arrived times out, with that fragment's
   * header at `buf[off, off + headerBytes)` followed by its first payload bytes.
   */
  onTimeout: ((buf: Uint8Array, off: number, headerBytes: number) => void) | null = null;
  readonly #result: ReassembledDatagram = { buf: new Uint8Array(0), off: 0, len: 0 };

  /** Make the slots (allocated lazily on first use, so an idle stack costs nothing). */
  constructor(timers: TimerWheel, clock: Clock, stats: Counters, opts: ReassemblyOptions = {}) {
    this.#timers = timers;
    this.#clock = clock;
    this.#stats = stats;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#slots = [];
    this.#max = opts.maxDatagrams ?? 16;
  }

  /** Datagrams in progress. */
  get pending(): number {
    let n = 0;
    for (const s of this.#slots) if (s.used) n++;
    return n;
  }

  /**
   * Add the fragment at `buf[off .. off+totalLength)` (a validated IPv4 packet). Returns the
   * whole datagram when this fragment completed it, else null.
   */
  add(
    buf: Uint8Array,
    off: number,
    totalLength: number,
    _rxFlags: number,
  ): ReassembledDatagram | null {
    const hb = (buf[off] & 0x0f) * 4;
    const src = (buf[off + 12] << 24 | buf[off + 13] << 16 | buf[off + 14] << 8 | buf[off + 15]) >>>
      0;
    const dst = (buf[off + 16] << 24 | buf[off + 17] << 16 | buf[off + 18] << 8 | buf[off + 19]) >>>
      0;
    const id = buf[off + 4] << 8 | buf[off + 5];
    const protocol = buf[off + 9];
    const fragWord = buf[off + 6] << 8 | buf[off + 7];
    const more = (fragWord & 0x2000) !== 0;
    const start = (fragWord & 0x1fff) * 8;
    const len = totalLength - hb;
    const end = start + len;
    const st = this.#stats;
    // Every fragment but the last carries a multiple of 8 bytes (RFC 791 §3.2).
    if ((more && (len & 7) !== 0) || len <= 0 || end > MAX_DATAGRAM - hb) {
      st.ReasmFails++;
      return null;
    }
    let slot = this.#find(src, dst, id, protocol);
    if (slot === null) {
      slot = this.#claim();
      if (slot === null) {
        st.ReasmFails++;
        return null;
      }
      slot.used = true;
      slot.src = src;
      slot.dst = dst;
      slot.id = id;
      slot.protocol = protocol;
      this.#timers.schedule(slot.timer, this.#clock.nowMs() + this.#timeoutMs);
    }
    if (!more) {
      if (slot.total !== -1 && slot.total !== end) return this.#fail(slot, true);
      slot.total = end;
    } else if (slot.total !== -1 && end > slot.total) {
      return this.#fail(slot, true);
    }
    // Overlap check over 8-byte blocks; an exact duplicate is ignored.
    const b0 = start >>> 3;
    const b1 = (end + 7) >>> 3;
    let seen = 0;
    for (let b = b0; b < b1; b++) if ((slot.blocks[b >>> 5] & (1 << (b & 31))) !== 0) seen++;
    if (seen === b1 - b0) return null;
    if (seen !== 0) return this.#fail(slot, true);
    for (let b = b0; b < b1; b++) slot.blocks[b >>> 5] |= 1 << (b & 31);
    slot.data.set(buf.subarray(off + hb, off + totalLength), HEADER_ROOM + start);
    slot.received += len;
    if (start === 0) {
      slot.headerBytes = hb;
      slot.data.set(buf.subarray(off, off + hb), HEADER_ROOM - hb);
    }
    if (slot.total === -1 || slot.received !== slot.total || slot.headerBytes === 0) return null;
    // Complete: fix up the header (total length, no fragment bits) and hand it out.
    const h = HEADER_ROOM - slot.headerBytes;
    const whole = slot.headerBytes + slot.total;
    const d = slot.data;
    d[h + 2] = whole >>> 8;
    d[h + 3] = whole & 0xff;
    d[h + 6] = 0;
    d[h + 7] = 0;
    this.#timers.cancel(slot.timer);
    slot.reset();
    const r = this.#result;
    r.buf = d;
    r.off = h;
    r.len = whole;
    return r;
  }

  #find(src: number, dst: number, id: number, protocol: number): Slot | null {
    for (const s of this.#slots) {
      if (s.used && s.id === id && s.src === src && s.dst === dst && s.protocol === protocol) {
        return s;
      }
    }
    return null;
  }

  #claim(): Slot | null {
    for (const s of this.#slots) if (!s.used) return s;
    if (this.#slots.length < this.#max) {
      const s = new Slot((x) => this.#expire(x));
      this.#slots.push(s);
      return s;
    }
    return null;
  }

  #fail(slot: Slot, overlap: boolean): null {
    if (overlap) this.#stats.ReasmOverlaps++;
    this.#stats.ReasmFails++;
    this.#timers.cancel(slot.timer);
    slot.reset();
    return null;
  }

  #expire(slot: Slot): void {
    if (!slot.used) return;
    this.#stats.ReasmTimeout++;
    this.#stats.ReasmFails++;
    // RFC 1122 §3.3.2: report the timeout to the source if fragment zero arrived.
    if (slot.headerBytes !== 0 && this.onTimeout !== null) {
      this.onTimeout(slot.data, HEADER_ROOM - slot.headerBytes, slot.headerBytes);
    }
    slot.reset();
  }
}
