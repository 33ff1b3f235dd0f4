/**
 * The IPv4 header (RFC 791 §3.1): a reusable view with a getter and setter per field, a
 * validity check that names the drop reason, and a writer for the common 20-byte header.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * |Version|  IHL  |    DSCP   |ECN|          Total Length         |
 * |         Identification        |Flags|     Fragment Offset     |
 * |  Time to Live |    Protocol   |        Header Checksum        |
 * |                       Source Address                          |
 * |                    Destination Address                        |
 * |                    Options (IHL > 5)                          |
 * ```
 *
 * @module
 */

import { onesComplementSum } from "./checksum.ts";
import { readIpv4, writeIpv4 } from "./ipv4_address.ts";
import { WireView } from "../link/wire_view.ts";
import { DOUBLE_ZERO } from "../core/v8_shapes.ts";

/** Smallest header (IHL 5). */
export const IPV4_HEADER_MIN_BYTES = 20;
/** Largest header (IHL 15). */
export const IPV4_HEADER_MAX_BYTES = 60;
/** Offset of version (high nibble) and IHL (low nibble, in 32-bit words). */
export const IPV4_VERSION_IHL_OFFSET = 0;
/** Offset of DSCP (high 6 bits) and ECN (low 2 bits), the old TOS byte (RFC 2474, RFC 3168). */
export const IPV4_TOS_OFFSET = 1;
/** Offset of the total length (header + data, bytes). */
export const IPV4_TOTAL_LENGTH_OFFSET = 2;
/** Offset of the identification. */
export const IPV4_ID_OFFSET = 4;
/** Offset of the flags (3 bits) and fragment offset (13 bits, 8-byte units). */
export const IPV4_FLAGS_FRAGMENT_OFFSET = 6;
/** Offset of the time to live. */
export const IPV4_TTL_OFFSET = 8;
/** Offset of the protocol. */
export const IPV4_PROTOCOL_OFFSET = 9;
/** Offset of the header checksum. */
export const IPV4_CHECKSUM_OFFSET = 10;
/** Offset of the source address. */
export const IPV4_SRC_OFFSET = 12;
/** Offset of the destination address. */
export const IPV4_DST_OFFSET = 16;
/** Offset of the options (present when IHL > 5). */
export const IPV4_OPTIONS_OFFSET = 20;

/** Don't Fragment flag in the flags/fragment-offset word (RFC 791 §3.1). */
export const IPV4_FLAG_DF = 0x4000;
/** More Fragments flag in the flags/fragment-offset word. */
export const IPV4_FLAG_MF = 0x2000;
/** The fragment offset bits of the flags/fragment-offset word (8-byte units). */
export const IPV4_FRAGMENT_OFFSET_MASK = 0x1fff;
/** A sensible default TTL (Linux `ip_default_ttl`; RFC 1122 §3.2.1.7 says at least 64 is fine). */
export const IPV4_DEFAULT_TTL = 64;
/** Largest total length. */
export const IPV4_MAX_TOTAL_LENGTH = 65535;

/** IP protocol number of ICMP. */
export const IP_PROTO_ICMP = 1;
/** IP protocol number of TCP. */
export const IP_PROTO_TCP = 6;
/** IP protocol number of UDP. */
export const IP_PROTO_UDP = 17;
/** IP protocol (next header) number of ICMPv6. */
export const IP_PROTO_ICMPV6 = 58;

/** Drop reason: the bytes end before the header or the datagram does (`IpInTruncatedPkts`). */
export const IPV4_DROP_TRUNCATED = "InTruncatedPkts";
/** Drop reason: the version field is not 4 (`IpInBadVersion`; Linux counts it in InHdrErrors). */
export const IPV4_DROP_BAD_VERSION = "InBadVersion";
/** Drop reason: IHL < 5 or total length < header length (`IpInHdrErrors`). */
export const IPV4_DROP_HDR_ERRORS = "InHdrErrors";
/** Drop reason: the header checksum is wrong (`IpInCsumErrors`). */
export const IPV4_DROP_CSUM_ERRORS = "InCsumErrors";
/**
 * Every reason {@link Ipv4Header.check} can return: each is the name of a counter in the `ip`
 * group of the stack's stats (the nstat name without its `Ip` prefix).
 */
export type Ipv4DropReason =
  | typeof IPV4_DROP_TRUNCATED
  | typeof IPV4_DROP_BAD_VERSION
  | typeof IPV4_DROP_HDR_ERRORS
  | typeof IPV4_DROP_CSUM_ERRORS;

/**
 * A view of an IPv4 header at `buf[off..]`. One object is reused for every packet.
 *
 * Receive: `attach` then `check()`; the datagram is `totalLength` bytes (the frame may carry
 * Ethernet padding after it). Transmit: `attach`, `init(headerBytes)`, set the fields, then
 * `fillChecksum()` last.
 *
 * @example
 * ```ts
 * const ip = new Ipv4Header();
 * const reason = ip.attach(frame, 14, frame.length - 14).check();
 * if (reason !== null) stats.ip[reason]++;
 * else deliver(ip.protocol, ip.src, ip.dst, ip.payloadOffset, ip.payloadLength);
 * ```
 */
export class Ipv4Header extends WireView {
  /**
   * Null when the bytes hold a valid IPv4 header (RFC 791 §3.1, RFC 1122 §3.2.1.1–2), else the
   * drop reason. Checks, in order: ≥ 20 bytes, version 4, IHL ≥ 5, header within the bytes,
   * header length ≤ total length ≤ bytes, and (unless `verifyChecksum` is false, e.g. a
   * trusted loopback) the header checksum. Options are not interpreted.
   *
   * With `bigGso` (the driver flagged the frame a GSO/GRO super-frame), a total length of 0
   * is accepted where Linux's BIG TCP puts it (`iph_set_totlen`): a TCP datagram longer than
   * 65,535 bytes, not a fragment; the datagram is then the whole `len` bytes
   * ({@link Ipv4Header.isBigTcp}). Any other total length of 0 is a header error.
   */
  check(verifyChecksum = true, bigGso = false): Ipv4DropReason | null {
    const b = this.buf;
    const o = this.off;
    if (this.len < IPV4_HEADER_MIN_BYTES) return IPV4_DROP_TRUNCATED;
    const vihl = b[o];
    if (vihl >>> 4 !== 4) return IPV4_DROP_BAD_VERSION;
    const hdrBytes = (vihl & 0x0f) << 2;
    if (hdrBytes < IPV4_HEADER_MIN_BYTES) return IPV4_DROP_HDR_ERRORS;
    if (hdrBytes > this.len) return IPV4_DROP_TRUNCATED;
    const total = (b[o + IPV4_TOTAL_LENGTH_OFFSET] << 8) | b[o + IPV4_TOTAL_LENGTH_OFFSET + 1];
    if (total < hdrBytes && !(total === 0 && bigGso && this.#bigTcpShape())) {
      return IPV4_DROP_HDR_ERRORS;
    }
    // RFC 1122 §3.2.1.1 / Linux ip_rcv_core: a datagram longer than the frame is truncated; a
    // shorter one is fine (link padding), the caller uses totalLength from here on.
    if (total > this.len) return IPV4_DROP_TRUNCATED;
    // RFC 1122 §3.2.1.2: silently discard a datagram whose header checksum is wrong.
    if (verifyChecksum) {
      let s = onesComplementSum(b, o, hdrBytes);
      s = (s & 0xffff) + (s >>> 16);
      if (s !== 0xffff) return IPV4_DROP_CSUM_ERRORS;
    }
    return null;
  }

  /**
   * True when the header's total length is 0 and the bytes are what BIG TCP makes: longer
   * than {@link IPV4_MAX_TOTAL_LENGTH}, TCP, neither MF nor a fragment offset. Valid after a
   * `check(…, true)` that returned null: the datagram is then all of the attached bytes.
   */
  isBigTcp(): boolean {
    const b = this.buf;
    const o = this.off + IPV4_TOTAL_LENGTH_OFFSET;
    return b[o] === 0 && b[o + 1] === 0 && this.#bigTcpShape();
  }

  #bigTcpShape(): boolean {
    const b = this.buf;
    const o = this.off;
    return this.len > IPV4_MAX_TOTAL_LENGTH && b[o + IPV4_PROTOCOL_OFFSET] === IP_PROTO_TCP &&
      (b[o + IPV4_FLAGS_FRAGMENT_OFFSET] & 0x3f) === 0 &&
      b[o + IPV4_FLAGS_FRAGMENT_OFFSET + 1] === 0;
  }

  /**
   * Start a header for transmit: zero `headerBytes` bytes (20..60, a multiple of 4), set
   * version 4 and the IHL. Returns `this`.
   */
  init(headerBytes: number = IPV4_HEADER_MIN_BYTES): this {
    this.buf.fill(0, this.off, this.off + headerBytes);
    this.buf[this.off] = 0x40 | (headerBytes >>> 2);
    return this;
  }

  /** Compute and store the header checksum over `headerBytes` (call after every other field). */
  fillChecksum(): void {
    const b = this.buf;
    const o = this.off + IPV4_CHECKSUM_OFFSET;
    b[o] = 0;
    b[o + 1] = 0;
    let s = onesComplementSum(b, this.off, this.headerBytes);
    s = (s & 0xffff) + (s >>> 16);
    const c = ~s & 0xffff;
    b[o] = c >>> 8;
    b[o + 1] = c;
  }

  /** Version (4 for a valid header). */
  get version(): number {
    return this.buf[this.off] >>> 4;
  }
  set version(v: number) {
    this.buf[this.off] = (v << 4) | (this.buf[this.off] & 0x0f);
  }

  /** Header length in 32-bit words (5..15). */
  get ihl(): number {
    return this.buf[this.off] & 0x0f;
  }
  set ihl(v: number) {
    this.buf[this.off] = (this.buf[this.off] & 0xf0) | (v & 0x0f);
  }

  /** Header length in bytes (IHL × 4). */
  get headerBytes(): number {
    return (this.buf[this.off] & 0x0f) << 2;
  }
  set headerBytes(v: number) {
    this.ihl = v >>> 2;
  }

  /** The whole TOS byte (DSCP << 2 | ECN). */
  get tos(): number {
    return this.buf[this.off + IPV4_TOS_OFFSET];
  }
  set tos(v: number) {
    this.buf[this.off + IPV4_TOS_OFFSET] = v;
  }

  /** Differentiated services code point (RFC 2474), 6 bits. */
  get dscp(): number {
    return this.buf[this.off + IPV4_TOS_OFFSET] >>> 2;
  }
  set dscp(v: number) {
    const o = this.off + IPV4_TOS_OFFSET;
    this.buf[o] = (v << 2) | (this.buf[o] & 0x03);
  }

  /** Explicit congestion notification (RFC 3168), 2 bits. */
  get ecn(): number {
    return this.buf[this.off + IPV4_TOS_OFFSET] & 0x03;
  }
  set ecn(v: number) {
    const o = this.off + IPV4_TOS_OFFSET;
    this.buf[o] = (this.buf[o] & 0xfc) | (v & 0x03);
  }

  /** Total length of the datagram (header + data) in bytes. */
  get totalLength(): number {
    return this.get16(IPV4_TOTAL_LENGTH_OFFSET);
  }
  set totalLength(v: number) {
    this.set16(IPV4_TOTAL_LENGTH_OFFSET, v);
  }

  /** Identification (for reassembly). */
  get id(): number {
    return this.get16(IPV4_ID_OFFSET);
  }
  set id(v: number) {
    this.set16(IPV4_ID_OFFSET, v);
  }

  /** The raw flags/fragment-offset word (see {@link IPV4_FLAG_DF}, {@link IPV4_FLAG_MF}). */
  get flagsFragment(): number {
    return this.get16(IPV4_FLAGS_FRAGMENT_OFFSET);
  }
  set flagsFragment(v: number) {
    this.set16(IPV4_FLAGS_FRAGMENT_OFFSET, v);
  }

  /** The DF flag. */
  get dontFragment(): boolean {
    return (this.buf[this.off + IPV4_FLAGS_FRAGMENT_OFFSET] & 0x40) !== 0;
  }
  set dontFragment(v: boolean) {
    const o = this.off + IPV4_FLAGS_FRAGMENT_OFFSET;
    this.buf[o] = v ? this.buf[o] | 0x40 : this.buf[o] & ~0x40;
  }

  /** The MF flag. */
  get moreFragments(): boolean {
    return (this.buf[this.off + IPV4_FLAGS_FRAGMENT_OFFSET] & 0x20) !== 0;
  }
  set moreFragments(v: boolean) {
    const o = this.off + IPV4_FLAGS_FRAGMENT_OFFSET;
    this.buf[o] = v ? this.buf[o] | 0x20 : this.buf[o] & ~0x20;
  }

  /** Fragment offset in BYTES (the field counts 8-byte units; set only multiples of 8). */
  get fragmentOffset(): number {
    return (this.flagsFragment & IPV4_FRAGMENT_OFFSET_MASK) << 3;
  }
  set fragmentOffset(bytes: number) {
    this.flagsFragment = (this.flagsFragment & ~IPV4_FRAGMENT_OFFSET_MASK) |
      ((bytes >>> 3) & IPV4_FRAGMENT_OFFSET_MASK);
  }

  /** True when this datagram is a fragment (MF set or a non-zero offset). */
  isFragment(): boolean {
    return (this.flagsFragment & (IPV4_FLAG_MF | IPV4_FRAGMENT_OFFSET_MASK)) !== 0;
  }

  /** Time to live. */
  get ttl(): number {
    return this.buf[this.off + IPV4_TTL_OFFSET];
  }
  set ttl(v: number) {
    this.buf[this.off + IPV4_TTL_OFFSET] = v;
  }

  /** Protocol of the payload (`IP_PROTO_*`). */
  get protocol(): number {
    return this.buf[this.off + IPV4_PROTOCOL_OFFSET];
  }
  set protocol(v: number) {
    this.buf[this.off + IPV4_PROTOCOL_OFFSET] = v;
  }

  /** The header checksum as stored. */
  get checksum(): number {
    return this.get16(IPV4_CHECKSUM_OFFSET);
  }
  set checksum(v: number) {
    this.set16(IPV4_CHECKSUM_OFFSET, v);
  }

  /** Source address (unsigned 32-bit). */
  get src(): number {
    return readIpv4(this.buf, this.off + IPV4_SRC_OFFSET);
  }
  set src(a: number) {
    writeIpv4(this.buf, this.off + IPV4_SRC_OFFSET, a);
  }

  /** Destination address (unsigned 32-bit). */
  get dst(): number {
    return readIpv4(this.buf, this.off + IPV4_DST_OFFSET);
  }
  set dst(a: number) {
    writeIpv4(this.buf, this.off + IPV4_DST_OFFSET, a);
  }

  /** Offset of the options in `buf`. */
  get optionsOffset(): number {
    return this.off + IPV4_OPTIONS_OFFSET;
  }

  /** Bytes of options (header bytes − 20). */
  get optionsLength(): number {
    return this.headerBytes - IPV4_HEADER_MIN_BYTES;
  }

  /** Offset of the payload in `buf`. */
  get payloadOffset(): number {
    return this.off + this.headerBytes;
  }

  /** Payload bytes according to the header (total length − header bytes). */
  get payloadLength(): number {
    return this.totalLength - this.headerBytes;
  }
}

/** RFC 791 §3.1: option type "end of option list". */
const IPV4_OPT_EOL = 0;
/** RFC 791 §3.1: option type "no operation". */
const IPV4_OPT_NOP = 1;

/**
 * Check the option area of an IPv4 header (`buf[off, off + len)`, the bytes after the fixed
 * 20) against RFC 791 §3.1's layout: single-byte EOL and NOP, every other option a type, a
 * length of at least 2, and data, all inside the header. Unknown types are fine (they are
 * ignored, RFC 1122 §3.2.1.8). Returns -1 when well-formed, else the offset within the
 * options of the byte at fault (for a parameter problem's pointer, RFC 792: the header's
 * first byte is 0, so add 20).
 *
 * @example
 * ```ts
 * checkIpv4Options(Uint8Array.of(1, 1, 1, 0), 0, 4); // -1
 * checkIpv4Options(Uint8Array.of(7, 1, 0, 0), 0, 4); // 1: a length below 2
 * ```
 */
export function checkIpv4Options(buf: Uint8Array, off: number, len: number): number {
  let at = 0;
  while (at < len) {
    const type = buf[off + at];
    if (type === IPV4_OPT_EOL) return -1;
    if (type === IPV4_OPT_NOP) {
      at++;
      continue;
    }
    if (at + 1 >= len) return at;
    const optLen = buf[off + at + 1];
    if (optLen < 2 || at + optLen > len) return at + 1;
    at += optLen;
  }
  return -1;
}

/**
 * The decoded form of an option-less IPv4 header, and the one writer every IPv4 header the
 * stack sends goes through (smoltcp's `Ipv4Repr`): fill the fields, then {@link Ipv4Repr.emit}.
 * A layer keeps one record and reuses it, so sending allocates nothing.
 *
 * @example
 * ```ts
 * const repr = new Ipv4Repr();
 * repr.src = 0xc6120001;
 * repr.dst = 0xc6120002;
 * repr.protocol = IP_PROTO_UDP;
 * repr.totalLength = 20 + 8;
 * repr.dontFragment = true;
 * const buf = new Uint8Array(28);
 * repr.emit(buf, 0);
 * console.log(new Ipv4Header().attach(buf, 0, 28).check()); // null
 * ```
 */
export class Ipv4Repr {
  // Unsigned 32-bit: doubles from the first record made (core/v8_shapes.ts).
  /** Source address (unsigned 32-bit). */
  src: number = DOUBLE_ZERO;
  /** Destination address (unsigned 32-bit). */
  dst: number = DOUBLE_ZERO;
  /** Protocol of the payload (`IP_PROTO_*`, 0..255). */
  protocol = 0;
  /** Time to live (0..255). */
  ttl: number = IPV4_DEFAULT_TTL;
  /** The DSCP/ECN byte (0..255). */
  tos = 0;
  /** Identification (0..65535). */
  id = 0;
  /** DF. */
  dontFragment = false;
  /** MF. */
  moreFragments = false;
  /** Fragment offset in bytes (a multiple of 8). */
  fragmentOffsetBytes = 0;
  /**
   * Header + payload bytes. 0 is written for an offload super-packet larger than 65535 bytes
   * (the device rewrites it per segment).
   */
  totalLength: number = IPV4_HEADER_MIN_BYTES;

  /** Fill the record from a checked header view; returns `this`. */
  parse(h: Ipv4Header): this {
    this.src = h.src;
    this.dst = h.dst;
    this.protocol = h.protocol;
    this.ttl = h.ttl;
    this.tos = h.tos;
    this.id = h.id;
    this.dontFragment = h.dontFragment;
    this.moreFragments = h.moreFragments;
    this.fragmentOffsetBytes = h.fragmentOffset;
    this.totalLength = h.totalLength;
    return this;
  }

  /**
   * Write the 20-byte header (no options) with its checksum at `buf[off..]`; returns
   * {@link IPV4_HEADER_MIN_BYTES}.
   */
  emit(buf: Uint8Array, off: number): number {
    const total = this.totalLength > IPV4_MAX_TOTAL_LENGTH ? 0 : this.totalLength;
    const id = this.id;
    const frag = this.fragmentOffsetBytes === 0 && !this.moreFragments
      ? (this.dontFragment ? IPV4_FLAG_DF : 0)
      : (this.dontFragment ? IPV4_FLAG_DF : 0) | (this.moreFragments ? IPV4_FLAG_MF : 0) |
        ((this.fragmentOffsetBytes >>> 3) & IPV4_FRAGMENT_OFFSET_MASK);
    const tos = this.tos;
    const ttl = this.ttl;
    const protocol = this.protocol;
    const src = this.src;
    const dst = this.dst;
    buf[off] = 0x45;
    buf[off + IPV4_TOS_OFFSET] = tos;
    buf[off + IPV4_TOTAL_LENGTH_OFFSET] = total >>> 8;
    buf[off + IPV4_TOTAL_LENGTH_OFFSET + 1] = total;
    buf[off + IPV4_ID_OFFSET] = id >>> 8;
    buf[off + IPV4_ID_OFFSET + 1] = id;
    buf[off + IPV4_FLAGS_FRAGMENT_OFFSET] = frag >>> 8;
    buf[off + IPV4_FLAGS_FRAGMENT_OFFSET + 1] = frag;
    buf[off + IPV4_TTL_OFFSET] = ttl;
    buf[off + IPV4_PROTOCOL_OFFSET] = protocol;
    // Byte by byte here, not through writeIpv4: an address ≥ 64.0.0.0 passed to a call V8
    // does not inline is a new heap number per datagram.
    buf[off + IPV4_SRC_OFFSET] = src >>> 24;
    buf[off + IPV4_SRC_OFFSET + 1] = src >>> 16;
    buf[off + IPV4_SRC_OFFSET + 2] = src >>> 8;
    buf[off + IPV4_SRC_OFFSET + 3] = src;
    buf[off + IPV4_DST_OFFSET] = dst >>> 24;
    buf[off + IPV4_DST_OFFSET + 1] = dst >>> 16;
    buf[off + IPV4_DST_OFFSET + 2] = dst >>> 8;
    buf[off + IPV4_DST_OFFSET + 3] = dst;
    // The sum of the ten words with the checksum counted as zero, straight from the fields.
    let s = 0x4500 + tos + total + id + frag + (ttl << 8) + protocol + (src >>> 16) +
      (src & 0xffff) + (dst >>> 16) + (dst & 0xffff);
    s = (s & 0xffff) + (s >>> 16);
    s = (s & 0xffff) + (s >>> 16);
    const c = ~s & 0xffff;
    buf[off + IPV4_CHECKSUM_OFFSET] = c >>> 8;
    buf[off + IPV4_CHECKSUM_OFFSET + 1] = c;
    return IPV4_HEADER_MIN_BYTES;
  }
}
