/**
 * IPv6 reassembly (RFC 8200 §4.5): reads a fragment's identity into the family-neutral
 * {@link FragmentReassembler} (net/reassembly.ts: memory bounds with oldest-first eviction,
 * per-source caps, RFC 5722 overlaps, timeout) and turns the reassembled bytes back into an
 * unfragmented datagram.
 *
 * A datagram is identified by source, destination and identification (36 key bytes, source
 * first, so the per-source cap is per IPv6 address). The "header" kept from the first
 * fragment is its unfragmentable part (the fixed header and the extension headers before the
 * fragment header) plus the fragment header itself, so a timed-out datagram is quoted exactly
 * as its first fragment arrived. On completion the fragment header is cut out: the next-header
 * byte that named it takes the fragment header's next header, and the payload length is fixed.
 * The timeout is 60 s (RFC 8200 §4.5). Atomic fragments (RFC 6946) never come here.
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import type { Counters } from "../core/counters.ts";
import type { TimerWheel } from "../core/timer_wheel.ts";
import { extHeaderBytes, IPV6_FRAGMENT_HEADER_BYTES } from "./ipv6_ext_headers.ts";
import { IPV6_HEADER_BYTES, IPV6_MAX_PAYLOAD } from "./ipv6_header.ts";
import { FragmentReassembler, type ReassemblyOptions } from "./reassembly.ts";

/** Key bytes: source (16), destination (16), identification (4). */
const KEY_BYTES = 36;
/** The source address is the key's first 16 bytes. */
const SOURCE_BYTES = 16;
/** Room for the unfragmentable part and the fragment header of the first fragment. */
const HEADER_ROOM = 512;
/** RFC 8200 §4.5: reassembly gives up 60 s after the first fragment arrived. */
const IPV6_REASSEMBLY_TIMEOUT_MS = 60_000;

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
  /**
   * `RX_CSUM_VALID` when every fragment arrived with it (as for IPv4: the link vouched for each
   * piece), else 0: the transport checksum is then verified in software.
   */
  rxFlags = 0;
}

/**
 * Bounded IPv6 reassembly.
 *
 * @example
 * ```ts ignore
 * const r = new Ipv6Reassembler(timers, clock, stats.ip6);
 * const whole = r.add(buf, ipOff, fragOff, end); // null until complete
 * ```
 */
export class Ipv6Reassembler {
  readonly #r: FragmentReassembler;
  readonly #key = new Uint8Array(KEY_BYTES);
  readonly #stats: Counters;
  readonly #result = new ReassembledIpv6();

  /** An empty reassembler (60 s timeout unless `opts` says otherwise). */
  constructor(timers: TimerWheel, clock: Clock, stats: Counters, opts: ReassemblyOptions = {}) {
    this.#stats = stats;
    this.#r = new FragmentReassembler(timers, clock, stats, {
      headerRoom: HEADER_ROOM,
      maxPayloadBytes: IPV6_MAX_PAYLOAD,
    }, { timeoutMs: IPV6_REASSEMBLY_TIMEOUT_MS, ...opts });
  }

  /**
   * Called when a datagram whose first fragment arrived times out, with that fragment's
   * start (IPv6 header first, fragment header included) at `buf[off, off + len)`.
   */
  get onTimeout(): ((buf: Uint8Array, off: number, len: number) => void) | null {
    return this.#r.onTimeout;
  }
  set onTimeout(fn: ((buf: Uint8Array, off: number, len: number) => void) | null) {
    this.#r.onTimeout = fn === null ? null : (buf, off, headerBytes) => {
      // The first fragment's headers and the 8 payload bytes after them that hold the
      // transport's ports (further bytes of a reused buffer could be another datagram's).
      fn(buf, off, headerBytes + 8);
    };
  }

  /** Datagrams in progress. */
  get pending(): number {
    return this.#r.pending;
  }

  /** Bytes held in all (incomplete datagrams and reusable buffers); never above the bound. */
  get heldBytes(): number {
    return this.#r.heldBytes;
  }

  /**
   * Add the fragment whose IPv6 header is at `buf[ipOff]` and whose fragment header is at
   * `buf[fragOff]`, the datagram ending at `end`; `rxFlags` are the fragment's `RX_*` flags
   * (only RX_CSUM_VALID matters). Returns the whole datagram when this fragment completed it,
   * else null (every drop counted).
   */
  add(
    buf: Uint8Array,
    ipOff: number,
    fragOff: number,
    end: number,
    rxFlags = 0,
  ): ReassembledIpv6 | null {
    const k = this.#key;
    for (let i = 0; i < 32; i++) k[i] = buf[ipOff + 8 + i]; // source, destination
    for (let i = 0; i < 4; i++) k[32 + i] = buf[fragOff + 4 + i]; // identification
    const word = (buf[fragOff + 2] << 8) | buf[fragOff + 3];
    const dataOff = fragOff + IPV6_FRAGMENT_HEADER_BYTES;
    const whole = this.#r.add(
      k,
      KEY_BYTES,
      SOURCE_BYTES,
      word & 0xfff8,
      end - dataOff,
      (word & 1) !== 0,
      buf,
      dataOff,
      ipOff,
      dataOff - ipOff,
      rxFlags,
    );
    if (whole === null) return null;
    const b = whole.buf;
    const off = whole.off;
    const unfrag = whole.headerBytes - IPV6_FRAGMENT_HEADER_BYTES;
    const payload = unfrag - IPV6_HEADER_BYTES + whole.len - whole.headerBytes;
    if (payload > IPV6_MAX_PAYLOAD) {
      // RFC 8200 §4.5: no reassembled payload may exceed 65 535 bytes.
      this.#stats.ReasmMalformed++;
      this.#stats.ReasmFails++;
      return null;
    }
    // The next-header byte that named the fragment header: walk the unfragmentable part.
    let nhField = off + 6;
    for (let at = off + IPV6_HEADER_BYTES; at < off + unfrag; at += extHeaderBytes(b, at)) {
      nhField = at;
    }
    const nextHeader = b[off + unfrag];
    b[nhField] = nextHeader;
    // Cut the fragment header out: the unfragmentable part moves up against the payload.
    b.copyWithin(off + IPV6_FRAGMENT_HEADER_BYTES, off, off + unfrag);
    const h = off + IPV6_FRAGMENT_HEADER_BYTES;
    b[h + 4] = payload >>> 8;
    b[h + 5] = payload;
    const r = this.#result;
    r.buf = b;
    r.off = h;
    r.len = IPV6_HEADER_BYTES + payload;
    r.unfragBytes = unfrag;
    r.nextHeader = nextHeader;
    r.nhFieldRel = nhField - off;
    r.rxFlags = whole.rxFlags;
    return r;
  }
}
