/**
 * Initial sequence numbers (RFC 6528) and the keyed connection-tuple hash behind them.
 *
 * RFC 6528 §3: `ISN = M + F(localip, localport, remoteip, remoteport, secretkey)`, where M is
 * a timer ticking every 4 µs and F a keyed PRF. Here F is SipHash-2-4 (as in Linux) under a
 * 128-bit secret drawn from `crypto.getRandomValues` once per generator (RFC 6528 §3: the key
 * SHOULD be random and MAY be changed only on reboot-like events). New connections of one
 * 4-tuple thus get increasing ISNs, while an off-path attacker cannot guess them.
 *
 * {@link TupleHash} is exported for the other keyed per-connection values a TCP needs: SYN
 * cookies (hash the 4-tuple with a time counter in `extra`, keep one hasher with its own key)
 * and timestamp offsets ({@link IsnGenerator.timestampOffset}).
 *
 * One SipHash per handshake: SipHash-2-4 gives 64 bits, and an ISN takes 32 of them. The other
 * 32 are the connection's timestamp offset ({@link IsnGenerator.nextTimestampOffset}), so a
 * connection (a `connect`, a SYN the syncache answers) hashes its four-tuple once, not twice.
 * The two halves of a PRF's output are independent: knowing the ISN (on the wire, less the
 * timer) tells nothing of the offset. A SYN answered with a cookie takes its offset from
 * {@link IsnGenerator.timestampOffset} instead, whose other half is the cookie's secret tuple
 * hash. An offset needs only to hold for the life of one connection (RFC 7323 §5.4); each
 * path gives a four-tuple the same offset every time, so an active opener's TSvals never go
 * back when it reuses a four-tuple from TIME_WAIT (RFC 6191), and a peer that reconnects takes
 * our SYN-ACK's TSval as its TS.Recent whichever path answered.
 *
 * M counts from the clock's origin (process start for `MonotonicClock`). A restarted process
 * also draws a new key, so its ISNs are unrelated to the previous run's, as after a reboot
 * (RFC 9293 §3.4.3 quiet time is what protects old duplicates then).
 *
 * The generator takes addresses of either family ({@link IpAddr}): an IPv4 pair hashes as the
 * two uint32 words (198.18.0.1 is `0xc6120001`), an IPv6 pair as the two 16-byte forms.
 *
 * @module
 */

import type { Clock } from "../../core/clock.ts";
import { type IpAddr, writeIp6 } from "../../net/ip_address.ts";
import { randomSipKey, siphash24 } from "../../core/siphash.ts";

/** RFC 6528 §3 (after RFC 793 §3.3): M ticks every 4 µs, i.e. 250 ticks per millisecond. */
const ISN_TICKS_PER_MS = 250;
/** 2**32, to take M modulo the sequence space. */
const SEQ_SPACE = 0x1_0000_0000;
/** Domain separator in `extra` for ISNs. */
const DOMAIN_ISN = 0x49534e31; // "ISN1"
/** Domain separator in `extra` for timestamp offsets. */
const DOMAIN_TS = 0x54534f31; // "TSO1"

/** Scratch layout: local address, remote address (16 bytes each), ports, extra word. */
const OFF_LOCAL = 0;
const OFF_REMOTE = 16;
const OFF_PORTS = 32;
const OFF_EXTRA = 36;
const SCRATCH_BYTES = 40;
/** Bytes hashed for an IPv4 tuple: 4 + 4 + 2 + 2 + 4 (addresses packed at 0 and 4). */
const V4_BYTES = 16;

/**
 * A keyed 32-bit hash of a connection 4-tuple plus one extra 32-bit word (a domain separator,
 * or e.g. a SYN-cookie time counter). Allocation-free after construction.
 *
 * @example
 * ```ts
 * import { TupleHash } from "./isn.ts";
 * const h = new TupleHash();
 * const minuteCounter = Math.floor(Date.now() / 60_000);
 * const cookieBits = h.hash4(0xc6120001, 80, 0xc6120002, 40000, minuteCounter);
 * ```
 */
export class TupleHash {
  #key: Uint32Array;
  #scratch = new Uint8Array(SCRATCH_BYTES);
  #out = new Uint32Array(2);

  /**
   * A hasher under `secretKey` (4 uint32 words, copied), or a fresh random key.
   *
   * @throws {RangeError} if `secretKey` has fewer than 4 words.
   */
  constructor(secretKey?: Uint32Array) {
    if (secretKey !== undefined && secretKey.length < 4) {
      throw new RangeError("TupleHash: secretKey must have 4 uint32 words");
    }
    this.#key = secretKey ? new Uint32Array(secretKey.subarray(0, 4)) : randomSipKey();
  }

  /** Hash of an IPv4 4-tuple and `extra`, as a uint32. */
  hash4(
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
    extra: number,
  ): number {
    const s = this.#scratch;
    writeBe32(s, 0, localAddr);
    writeBe32(s, 4, remoteAddr);
    writeBe16(s, 8, localPort);
    writeBe16(s, 10, remotePort);
    writeBe32(s, 12, extra);
    siphash24(this.#key, s, 0, V4_BYTES, this.#out);
    return this.#out[0];
  }

  /**
   * The other 32 bits of the last hash (SipHash gives 64): a second keyed value of the same
   * input, independent of the first, at no cost.
   */
  get high(): number {
    return this.#out[1];
  }

  /**
   * Hash of an IPv6 4-tuple and `extra`, as a uint32: addresses are the 16 bytes at
   * `localAddr[localOff..]` and `remoteAddr[remoteOff..]`.
   */
  hash6(
    localAddr: Uint8Array,
    localOff: number,
    localPort: number,
    remoteAddr: Uint8Array,
    remoteOff: number,
    remotePort: number,
    extra: number,
  ): number {
    const s = this.#scratch;
    for (let i = 0; i < 16; i++) {
      s[OFF_LOCAL + i] = localAddr[localOff + i];
      s[OFF_REMOTE + i] = remoteAddr[remoteOff + i];
    }
    writeBe16(s, OFF_PORTS, localPort);
    writeBe16(s, OFF_PORTS + 2, remotePort);
    writeBe32(s, OFF_EXTRA, extra);
    siphash24(this.#key, s, 0, SCRATCH_BYTES, this.#out);
    return this.#out[0];
  }

  /**
   * Hash of a 4-tuple of either family and `extra`: IPv4(-mapped) pairs hash as
   * {@link TupleHash.hash4}, IPv6 ones as {@link TupleHash.hash6} of their 16-byte forms.
   */
  hashIp(
    localAddr: IpAddr,
    localPort: number,
    remoteAddr: IpAddr,
    remotePort: number,
    extra: number,
  ): number {
    this.digestIp(localAddr, localPort, remoteAddr, remotePort, extra);
    return this.#out[0];
  }

  /**
   * {@link TupleHash.hashIp} without a return value: the hash is {@link TupleHash.low} (and
   * {@link TupleHash.high}). A uint32 ≥ 2**30 returned from a call V8 does not inline is a new
   * heap number each time; read through the getter, it is not.
   */
  digestIp(
    localAddr: IpAddr,
    localPort: number,
    remoteAddr: IpAddr,
    remotePort: number,
    extra: number,
  ): void {
    const s = this.#scratch;
    if (localAddr.family === 4 && remoteAddr.family === 4) {
      writeBe32(s, 0, localAddr.w3);
      writeBe32(s, 4, remoteAddr.w3);
      writeBe16(s, 8, localPort);
      writeBe16(s, 10, remotePort);
      writeBe32(s, 12, extra);
      siphash24(this.#key, s, 0, V4_BYTES, this.#out);
      return;
    }
    writeIp6(s, OFF_LOCAL, localAddr);
    writeIp6(s, OFF_REMOTE, remoteAddr);
    writeBe16(s, OFF_PORTS, localPort);
    writeBe16(s, OFF_PORTS + 2, remotePort);
    writeBe32(s, OFF_EXTRA, extra);
    siphash24(this.#key, s, 0, SCRATCH_BYTES, this.#out);
  }

  /** The first 32 bits of the last hash (what the hashing methods return). */
  get low(): number {
    return this.#out[0];
  }

  /**
   * The last hash's two halves (`[low, high]`; overwritten by the next hash): read as elements
   * where they go into a record's fields — a getter V8 does not inline returns a uint32 ≥ 2**31
   * as a new heap number.
   */
  get halves(): Uint32Array {
    return this.#out;
  }
}

/**
 * RFC 6528 initial sequence number generator. One per stack; allocation-free per call.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "../../core/clock.ts";
 * import { IsnGenerator } from "./isn.ts";
 * import { IpAddress } from "../../net/ip_address.ts";
 * const clock = new VirtualClock();
 * const isn = new IsnGenerator(clock);
 * const a = isn.next(IpAddress.parse("198.18.0.1"), 40000, IpAddress.parse("198.18.0.2"), 80);
 * clock.advance(1); // the next ISN of this tuple is 250 (mod 2**32) later: 1 ms of 4 µs ticks
 * ```
 */
export class IsnGenerator {
  #clock: Clock;
  #hash: TupleHash;
  /** The ISN every connection takes instead of RFC 6528's, or -1 (see {@link IsnPins}). */
  #pinnedIsn: number;
  /** The timestamp offset every connection takes instead of the keyed one, or -1. */
  #pinnedTsOffset: number;
  /** SipHash computations so far (ISNs, offsets, tuple tags): what a connection costs in them. */
  hashes = 0;

  /**
   * A generator reading time from `clock`, keyed with `secretKey` (4 uint32 words; tests pass
   * a fixed one) or, by default, a fresh random key. `pins` fixes the ISN and the timestamp
   * offset (tests and benchmarks that need sequence numbers in a chosen range).
   *
   * @throws {RangeError} if a pin is not a uint32.
   */
  constructor(clock: Clock, secretKey?: Uint32Array, pins: IsnPins = {}) {
    this.#clock = clock;
    this.#hash = new TupleHash(secretKey);
    this.#pinnedIsn = checkPin(pins.isn, "isn");
    this.#pinnedTsOffset = checkPin(pins.timestampOffset, "timestampOffset");
  }

  /** M: the 4 µs tick counter modulo 2**32 (RFC 6528 §3), at `nowMs`. */
  #ticks(nowMs: number): number {
    return (Math.floor(nowMs * ISN_TICKS_PER_MS) % SEQ_SPACE) >>> 0;
  }

  /**
   * ISN for a connection of either family: `M + F(local, remote)` (RFC 6528 §3), a uint32.
   * `nowMs` is the clock's time when the caller has just read it (else the clock is read). The
   * same SipHash also gives the connection's timestamp offset: {@link
   * IsnGenerator.nextTimestampOffset}, read straight after.
   */
  next(
    localAddr: IpAddr,
    localPort: number,
    remoteAddr: IpAddr,
    remotePort: number,
    nowMs: number = this.#clock.nowMs(),
  ): number {
    // Hashed even when pinned: the timestamp offset is the other half of this hash.
    this.hashes++;
    const f = this.#hash.hashIp(localAddr, localPort, remoteAddr, remotePort, DOMAIN_ISN);
    if (this.#pinnedIsn >= 0) return this.#pinnedIsn;
    return (this.#ticks(nowMs) + f) >>> 0;
  }

  /**
   * {@link IsnGenerator.next} (at `nowMs`, by default the clock's time) and {@link
   * IsnGenerator.nextTimestampOffset} into `out`'s fields, not returned: an ISN ≥ 2**30
   * returned from a call V8 does not inline is a new heap number, and so is the offset the
   * getter returns (a SYN the syncache answers with a record; an active open's `connect`).
   */
  nextInto(
    localAddr: IpAddr,
    localPort: number,
    remoteAddr: IpAddr,
    remotePort: number,
    out: IssFields,
    nowMs: number = this.#clock.nowMs(),
  ): void {
    this.hashes++;
    const h = this.#hash;
    h.digestIp(localAddr, localPort, remoteAddr, remotePort, DOMAIN_ISN);
    const halves = h.halves;
    out.iss = this.#pinnedIsn >= 0 ? this.#pinnedIsn : (this.#ticks(nowMs) + halves[0]) >>> 0;
    out.tsOffset = this.#pinnedTsOffset >= 0 ? this.#pinnedTsOffset : halves[1];
  }

  /**
   * The timestamp offset of the connection whose ISN {@link IsnGenerator.next} just gave: the
   * other 32 bits of its SipHash (RFC 7323 §7: a per-connection offset, so TSvals do not leak
   * the host's clock across connections). Stable for a four-tuple; independent of the ISN.
   */
  get nextTimestampOffset(): number {
    return this.#pinnedTsOffset >= 0 ? this.#pinnedTsOffset : this.#hash.high;
  }

  /**
   * A per-connection offset to add to TCP Timestamps TSval, so timestamps do not leak the
   * host's clock across connections (RFC 7323 §7 recommends a random per-connection offset;
   * Linux uses this keyed-hash form). Stable for a 4-tuple; independent of the ISN. The SYN
   * cookie path's offset (with {@link IsnGenerator.tupleTag}); a connection that takes an ISN
   * from {@link IsnGenerator.next} takes {@link IsnGenerator.nextTimestampOffset}.
   */
  timestampOffset(
    localAddr: IpAddr,
    localPort: number,
    remoteAddr: IpAddr,
    remotePort: number,
  ): number {
    // Hashed even when pinned: `tupleTag` (SYN cookies) is the other half of this hash.
    this.hashes++;
    const offset = this.#hash.hashIp(localAddr, localPort, remoteAddr, remotePort, DOMAIN_TS);
    return this.#pinnedTsOffset >= 0 ? this.#pinnedTsOffset : offset;
  }

  /**
   * {@link IsnGenerator.timestampOffset} and {@link IsnGenerator.tupleTag} of a four-tuple into
   * `out`'s fields, not returned: a uint32 ≥ 2**30 crossing a call V8 does not inline is a new
   * heap number (the SYN-cookie path: one per cookie otherwise).
   */
  timestampOffsetInto(
    localAddr: IpAddr,
    localPort: number,
    remoteAddr: IpAddr,
    remotePort: number,
    out: TupleHashes,
  ): void {
    this.hashes++;
    const h = this.#hash;
    h.digestIp(localAddr, localPort, remoteAddr, remotePort, DOMAIN_TS);
    out.tsOffset = this.#pinnedTsOffset >= 0 ? this.#pinnedTsOffset : h.low;
    out.tupleTag = h.high;
  }

  /**
   * The other half of the last {@link IsnGenerator.timestampOffset} hash: a keyed 32-bit
   * value of the same four-tuple (either family), independent of the offset (SYN cookies take
   * it as their tuple hash, so a SYN costs one SipHash less).
   */
  get tupleTag(): number {
    return this.#hash.high;
  }
}

/** Where {@link IsnGenerator.nextInto} writes a connection's ISN and TSval offset. */
export interface IssFields {
  /** Our ISS. */
  iss: number;
  /** Our TSval offset (RFC 7323 §5.4). */
  tsOffset: number;
}

/** Where {@link IsnGenerator.timestampOffsetInto} writes a four-tuple's two keyed values. */
export interface TupleHashes {
  /** Its TSval offset (RFC 7323 §5.4). */
  tsOffset: number;
  /** Its tuple tag (a SYN cookie's H1). */
  tupleTag: number;
}

/**
 * Fixed values in place of the generated ones, for tests and benchmarks: sequence numbers (or
 * timestamps) below 2**30, where V8 keeps them as small integers, or above 2**31 and across the
 * 2**32 wrap, where most real connections live. Every connection of the layer gets the same
 * value, so the pins are no defence against off-path attackers (RFC 6528): never in production.
 */
export interface IsnPins {
  /** The ISN of every connection (a uint32) [none: RFC 6528]. */
  isn?: number;
  /** The TSval offset of every connection (a uint32) [none: keyed per four-tuple]. */
  timestampOffset?: number;
}

/** `v` checked as a uint32, or -1 when absent. */
function checkPin(v: number | undefined, name: string): number {
  if (v === undefined) return -1;
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) {
    throw new RangeError(`IsnGenerator: ${name} pin must be a uint32, got ${v}`);
  }
  return v;
}

/** Store `v` as 4 big-endian bytes at `buf[at..]`. */
function writeBe32(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v >>> 24;
  buf[at + 1] = v >>> 16;
  buf[at + 2] = v >>> 8;
  buf[at + 3] = v;
}

/** Store `v` as 2 big-endian bytes at `buf[at..]`. */
function writeBe16(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v >>> 8;
  buf[at + 1] = v;
}
