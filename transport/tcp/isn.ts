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
    if (localAddr.family === 4 && remoteAddr.family === 4) {
      return this.hash4(localAddr.w3, localPort, remoteAddr.w3, remotePort, extra);
    }
    const s = this.#scratch;
    writeIp6(s, OFF_LOCAL, localAddr);
    writeIp6(s, OFF_REMOTE, remoteAddr);
    writeBe16(s, OFF_PORTS, localPort);
    writeBe16(s, OFF_PORTS + 2, remotePort);
    writeBe32(s, OFF_EXTRA, extra);
    siphash24(this.#key, s, 0, SCRATCH_BYTES, this.#out);
    return this.#out[0];
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

  /**
   * A generator reading time from `clock`, keyed with `secretKey` (4 uint32 words; tests pass
   * a fixed one) or, by default, a fresh random key.
   */
  constructor(clock: Clock, secretKey?: Uint32Array) {
    this.#clock = clock;
    this.#hash = new TupleHash(secretKey);
  }

  /** M: the 4 µs tick counter modulo 2**32 (RFC 6528 §3). */
  #ticks(): number {
    return (Math.floor(this.#clock.nowMs() * ISN_TICKS_PER_MS) % SEQ_SPACE) >>> 0;
  }

  /** ISN for a connection of either family: `M + F(local, remote)` (RFC 6528 §3), a uint32. */
  next(localAddr: IpAddr, localPort: number, remoteAddr: IpAddr, remotePort: number): number {
    const f = this.#hash.hashIp(localAddr, localPort, remoteAddr, remotePort, DOMAIN_ISN);
    return (this.#ticks() + f) >>> 0;
  }

  /**
   * A per-connection offset to add to TCP Timestamps TSval, so timestamps do not leak the
   * host's clock across connections (RFC 7323 §7 recommends a random per-connection offset;
   * Linux uses this keyed-hash form). Stable for a 4-tuple; independent of the ISN.
   */
  timestampOffset(
    localAddr: IpAddr,
    localPort: number,
    remoteAddr: IpAddr,
    remotePort: number,
  ): number {
    return this.#hash.hashIp(localAddr, localPort, remoteAddr, remotePort, DOMAIN_TS);
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
