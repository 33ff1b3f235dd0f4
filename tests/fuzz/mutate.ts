/**
 * Mutations of one frame in place: bit flips, byte and word sets to interesting values,
 * truncation, extension, insertion and deletion, splicing with another frame, and
 * field-aware changes that know where the IPv4, TCP, UDP, ICMP and ARP fields are (lengths,
 * offsets, flags, fragment words, option kinds and lengths). Afterwards the checksums are
 * usually made valid again, so the mutated fields reach the code behind the checksum checks.
 *
 * @module
 */

import type { SeededRandom } from "../../core/random.ts";
import { ETH, ETHERTYPE_ARP, fixFrame, FrameLayout, get16, put16, put32 } from "./frames.ts";

/** Interesting byte values. */
const BYTES = [0, 1, 0x7f, 0x80, 0xff, 0x40, 0x20, 0x10, 0x0f, 0x05, 0x45, 0x46, 0x4f];
/** Interesting 16-bit values. */
const WORDS = [0, 1, 0x7fff, 0x8000, 0xffff, 0xfffe, 20, 21, 28, 40, 60, 576, 1480, 1500, 65535];
/** Interesting 32-bit values. */
const DWORDS = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 0x40000000];

/** A field: offset and width in bytes (1, 2 or 4). */
type Field = [number, number];

/** ARP fields after the Ethernet header: types, lengths, operation, addresses. */
const ARP_FIELDS: readonly Field[] = [[0, 2], [2, 2], [4, 1], [5, 1], [6, 2], [14, 4], [24, 4]];
/** IPv4 fields: version/IHL, TOS, total length, id, fragment word, TTL, protocol. */
const IP_FIELDS: readonly Field[] = [[0, 1], [1, 1], [2, 2], [4, 2], [6, 2], [6, 1], [8, 1], [
  9,
  1,
]];
/** TCP fields: ports, seq, ack, data offset, flags, window, urgent pointer. */
const TCP_FIELDS: readonly Field[] = [
  [0, 2],
  [2, 2],
  [4, 4],
  [8, 4],
  [12, 1],
  [13, 1],
  [14, 2],
  [18, 2],
];
/** Fields of the datagram an ICMP error quotes (IP header, then the port words). */
const QUOTED_FIELDS: readonly Field[] = [[0, 1], [2, 2], [6, 2], [9, 1], [12, 4], [16, 4], [20, 4]];

/** Mutates frames; one per fuzzer, reusing its scratch state. */
export class Mutator {
  readonly #rng: SeededRandom;
  readonly #lay = new FrameLayout();
  readonly #fields: Field[] = [];

  /** A mutator drawing from `rng`. */
  constructor(rng: SeededRandom) {
    this.#rng = rng;
  }

  /**
   * Apply 1–8 mutations to `b[0, len)` (room up to `b.length`), splicing from `donor` when
   * that is chosen; then fix checksums (and sometimes the IP length) with probability
   * `fixRate`. Returns the new length.
   */
  mutate(b: Uint8Array, len: number, donor: Uint8Array, fixRate: number): number {
    const rng = this.#rng;
    let n = len;
    const count = 1 + rng.nextInt(rng.chance(0.7) ? 2 : 8);
    for (let k = 0; k < count; k++) {
      const op = rng.nextInt(100);
      if (op < 40) n = this.#fieldAware(b, n);
      else if (op < 52) n = this.#bitFlip(b, n);
      else if (op < 62) n = this.#setByte(b, n);
      else if (op < 68) n = this.#setWord(b, n);
      else if (op < 74) n = this.#truncate(n);
      else if (op < 80) n = this.#extend(b, n);
      else if (op < 85) n = this.#insert(b, n);
      else if (op < 90) n = this.#delete(b, n);
      else n = this.#splice(b, n, donor);
    }
    if (rng.chance(fixRate)) fixFrame(b, n, rng.chance(0.3), this.#lay);
    return n;
  }

  #bitFlip(b: Uint8Array, n: number): number {
    if (n > 0) b[this.#rng.nextInt(n)] ^= 1 << this.#rng.nextInt(8);
    return n;
  }

  #setByte(b: Uint8Array, n: number): number {
    const rng = this.#rng;
    if (n > 0) {
      b[rng.nextInt(n)] = rng.chance(0.5) ? BYTES[rng.nextInt(BYTES.length)] : rng.nextInt(256);
    }
    return n;
  }

  #setWord(b: Uint8Array, n: number): number {
    const rng = this.#rng;
    if (n < 2) return n;
    put16(b, rng.nextInt(n - 1), WORDS[rng.nextInt(WORDS.length)]);
    return n;
  }

  #truncate(n: number): number {
    const rng = this.#rng;
    if (n === 0) return 0;
    // Mostly near the header boundaries, where parsers decide.
    return rng.chance(0.5) ? rng.nextInt(n) : Math.max(0, n - 1 - rng.nextInt(Math.min(n, 16)));
  }

  #extend(b: Uint8Array, n: number): number {
    const rng = this.#rng;
    const add = Math.min(b.length - n, rng.chance(0.8) ? 1 + rng.nextInt(64) : rng.nextInt(4000));
    const fill = rng.chance(0.5) ? 0 : -1;
    for (let i = 0; i < add; i++) b[n + i] = fill === 0 ? 0 : rng.nextInt(256);
    return n + add;
  }

  #insert(b: Uint8Array, n: number): number {
    const rng = this.#rng;
    const k = Math.min(b.length - n, 1 + rng.nextInt(8));
    if (n === 0 || k <= 0) return n;
    const at = rng.nextInt(n);
    b.copyWithin(at + k, at, n);
    for (let i = 0; i < k; i++) b[at + i] = rng.nextInt(256);
    return n + k;
  }

  #delete(b: Uint8Array, n: number): number {
    const rng = this.#rng;
    if (n < 2) return n;
    const at = rng.nextInt(n - 1);
    const k = Math.min(n - at, 1 + rng.nextInt(8));
    b.copyWithin(at, at + k, n);
    return n - k;
  }

  /** Keep a prefix of `b`, continue with a suffix of `donor`. */
  #splice(b: Uint8Array, n: number, donor: Uint8Array): number {
    const rng = this.#rng;
    if (donor.length === 0) return n;
    const cut = rng.nextInt(n + 1);
    const from = rng.nextInt(donor.length);
    const k = Math.min(donor.length - from, b.length - cut);
    b.set(donor.subarray(from, from + k), cut);
    return cut + k;
  }

  /** Set a protocol field to an interesting or nearby value. */
  #fieldAware(b: Uint8Array, n: number): number {
    const rng = this.#rng;
    const fields = this.#collect(b, n);
    if (fields.length === 0) return this.#setByte(b, n);
    const [at, width] = fields[rng.nextInt(fields.length)];
    if (at + width > n) return n;
    const nearby = rng.chance(0.3);
    if (width === 1) {
      b[at] = nearby
        ? (b[at] + rng.nextInt(5) - 2) & 0xff
        : rng.chance(0.5)
        ? BYTES[rng.nextInt(BYTES.length)]
        : rng.nextInt(256);
    } else if (width === 2) {
      const v = nearby
        ? get16(b, at) + rng.nextInt(17) - 8
        : rng.chance(0.3)
        ? n - ETH + rng.nextInt(9) - 4 // a length near the truth
        : rng.chance(0.6)
        ? WORDS[rng.nextInt(WORDS.length)]
        : rng.nextInt(65536);
      put16(b, at, v & 0xffff);
    } else {
      put32(b, at, rng.chance(0.5) ? DWORDS[rng.nextInt(DWORDS.length)] : rng.nextU32());
    }
    return n;
  }

  /** The fields of the frame's headers, as far as they parse. */
  #collect(b: Uint8Array, n: number): Field[] {
    const f = this.#fields;
    f.length = 0;
    const lay = this.#lay.parse(b, n);
    if (lay.etherType === ETHERTYPE_ARP && n >= ETH + 28) {
      for (const [o, w] of ARP_FIELDS) f.push([ETH + o, w]);
      return f;
    }
    if (lay.ip < 0) {
      if (n >= ETH) f.push([12, 2]);
      if (n > ETH) f.push([ETH, 1]);
      return f;
    }
    const ip = lay.ip;
    for (const [o, w] of IP_FIELDS) f.push([ip + o, w]);
    f.push([ip + 12, 4], [ip + 16, 4]);
    // IP options: kinds, lengths and pointers.
    for (let o = ip + 20; o < ip + lay.ipHeaderBytes; o++) f.push([o, 1]);
    const l4 = lay.l4;
    if (l4 < 0) return f;
    if (lay.protocol === 6 && l4 + 20 <= n) {
      for (const [o, w] of TCP_FIELDS) f.push([l4 + o, w]);
      const doff = (b[l4 + 12] >> 4) * 4;
      // TCP options: each byte is a kind, a length or a value.
      for (let o = l4 + 20; o < Math.min(n, l4 + doff); o++) f.push([o, 1]);
    } else if (lay.protocol === 17 && l4 + 8 <= n) {
      f.push([l4, 2], [l4 + 2, 2], [l4 + 4, 2], [l4 + 4, 1], [l4 + 6, 2]);
    } else if (lay.protocol === 1 && l4 + 8 <= n) {
      f.push([l4, 1], [l4 + 1, 1], [l4 + 4, 4], [l4 + 6, 2]);
      // The quoted datagram of an ICMP error: its header fields.
      const q = l4 + 8;
      if (q + 20 <= n) {
        for (const [o, w] of QUOTED_FIELDS) f.push([q + o, w]);
      }
    }
    return f;
  }
}
