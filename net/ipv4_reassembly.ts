/**
 * IPv4 reassembly (RFC 791 §3.2): reads a fragment's IPv4 header into the family-neutral
 * {@link FragmentReassembler} (net/reassembly.ts, which holds the memory bounds, eviction and
 * counters) and fixes up the header of the reassembled datagram.
 *
 * A datagram is identified by source, destination, protocol and identification (RFC 791
 * §3.2); the key is those 11 bytes, source first, so the per-source cap applies per IPv4
 * address.
 *
 * @module
 */

import type { SubarrayCache } from "../core/subarray_cache.ts";
import type { Clock } from "../core/clock.ts";
import type { Counters } from "../core/counters.ts";
import type { TimerWheel } from "../core/timer_wheel.ts";
import {
  FragmentReassembler,
  type ReassembledDatagram,
  type ReassemblyOptions,
} from "./reassembly.ts";

export type { ReassembledDatagram, ReassemblyOptions } from "./reassembly.ts";

/** Largest IPv4 datagram. */
const MAX_DATAGRAM = 65535;
/** Largest IPv4 header. */
const MAX_HEADER = 60;
/** Key bytes: source (4), destination (4), protocol (1), identification (2). */
const KEY_BYTES = 11;
/** The source address is the key's first 4 bytes. */
const SOURCE_BYTES = 4;

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
  readonly #r: FragmentReassembler;
  readonly #key = new Uint8Array(KEY_BYTES);
  readonly #stats: Counters;

  /** Make an empty reassembler; memory is taken as fragments arrive, up to the bound. */
  constructor(timers: TimerWheel, clock: Clock, stats: Counters, opts: ReassemblyOptions = {}) {
    this.#stats = stats;
    // The smallest header is 20 bytes, so the payload can reach 65 515 bytes.
    this.#r = new FragmentReassembler(timers, clock, stats, {
      headerRoom: MAX_HEADER,
      maxPayloadBytes: MAX_DATAGRAM - 20,
    }, opts);
  }

  /**
   * Called when a datagram whose first fragment arrived times out, with that fragment's
   * header at `buf[off, off + headerBytes)` followed by its first payload bytes.
   */
  get onTimeout(): ((buf: Uint8Array, off: number, headerBytes: number) => void) | null {
    return this.#r.onTimeout;
  }
  set onTimeout(fn: ((buf: Uint8Array, off: number, headerBytes: number) => void) | null) {
    this.#r.onTimeout = fn;
  }

  /** Datagrams in progress. */
  get pending(): number {
    return this.#r.pending;
  }

  /** The reused views of the fragment copies (hits and misses counted). */
  get copyViews(): SubarrayCache {
    return this.#r.copyViews;
  }

  /** Bytes charged to incomplete datagrams. */
  get memoryBytes(): number {
    return this.#r.memoryBytes;
  }

  /** Bytes held in all (incomplete datagrams and reusable buffers); never above the bound. */
  get heldBytes(): number {
    return this.#r.heldBytes;
  }

  /** The effective byte bound. */
  get maxBytes(): number {
    return this.#r.maxBytes;
  }

  /** The effective per-source byte bound. */
  get maxBytesPerSource(): number {
    return this.#r.maxBytesPerSource;
  }

  /**
   * Add the fragment at `buf[off .. off+totalLength)` (a validated IPv4 packet). Returns the
   * whole datagram when this fragment completed it, else null.
   */
  add(
    buf: Uint8Array,
    off: number,
    totalLength: number,
    rxFlags: number,
  ): ReassembledDatagram | null {
    const hb = (buf[off] & 0x0f) * 4;
    const k = this.#key;
    for (let i = 0; i < 8; i++) k[i] = buf[off + 12 + i]; // source, destination
    k[8] = buf[off + 9]; // protocol
    k[9] = buf[off + 4]; // identification
    k[10] = buf[off + 5];
    const fragWord = buf[off + 6] << 8 | buf[off + 7];
    const more = (fragWord & 0x2000) !== 0;
    const start = (fragWord & 0x1fff) * 8;
    const whole = this.#r.add(
      k,
      KEY_BYTES,
      SOURCE_BYTES,
      start,
      totalLength - hb,
      more,
      buf,
      off + hb,
      off,
      hb,
      rxFlags,
    );
    if (whole === null) return null;
    if (whole.len > MAX_DATAGRAM) {
      // Fragments that add up to more than 65 535 bytes with the first one's header (the
      // "ping of death"): no such datagram can exist.
      this.#stats.ReasmMalformed++;
      this.#stats.ReasmFails++;
      return null;
    }
    // The header as the first fragment carried it, with the whole length and no fragment bits.
    const d = whole.buf;
    const h = whole.off;
    d[h + 2] = whole.len >>> 8;
    d[h + 3] = whole.len & 0xff;
    d[h + 6] = 0;
    d[h + 7] = 0;
    return whole;
  }
}
