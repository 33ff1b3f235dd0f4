/**
 * The ICMPv4 header (RFC 792): type, code, checksum and the 4-byte "rest of header" whose
 * meaning depends on the type (echo identifier/sequence, a parameter-problem pointer, the
 * next-hop MTU of "fragmentation needed" (RFC 1191), a redirect gateway).
 *
 * @module
 */

import { onesComplementSum } from "./checksum.ts";
import { WireView } from "../link/wire_view.ts";

/** Bytes of the fixed header: type, code, checksum, rest of header. */
export const ICMPV4_HEADER_BYTES = 8;
/** Offset of the type. */
export const ICMPV4_TYPE_OFFSET = 0;
/** Offset of the code. */
export const ICMPV4_CODE_OFFSET = 1;
/** Offset of the checksum (over the whole ICMP message, RFC 792). */
export const ICMPV4_CHECKSUM_OFFSET = 2;
/** Offset of the 32-bit rest of header. */
export const ICMPV4_REST_OFFSET = 4;
/** Offset of the echo identifier. */
export const ICMPV4_ID_OFFSET = 4;
/** Offset of the echo sequence number. */
export const ICMPV4_SEQ_OFFSET = 6;
/** Offset of the parameter-problem pointer. */
export const ICMPV4_POINTER_OFFSET = 4;
/** Offset of the next-hop MTU of "fragmentation needed" (RFC 1191 §4). */
export const ICMPV4_MTU_OFFSET = 6;

/** Type: echo reply. */
export const ICMPV4_ECHO_REPLY = 0;
/** Type: destination unreachable. */
export const ICMPV4_DEST_UNREACHABLE = 3;
/** Type: redirect. */
export const ICMPV4_REDIRECT = 5;
/** Type: echo request. */
export const ICMPV4_ECHO_REQUEST = 8;
/** Type: time exceeded. */
export const ICMPV4_TIME_EXCEEDED = 11;
/** Type: parameter problem. */
export const ICMPV4_PARAMETER_PROBLEM = 12;

/** Destination unreachable code: net unreachable. */
export const ICMPV4_UNREACH_NET = 0;
/** Destination unreachable code: host unreachable. */
export const ICMPV4_UNREACH_HOST = 1;
/** Destination unreachable code: protocol unreachable. */
export const ICMPV4_UNREACH_PROTOCOL = 2;
/** Destination unreachable code: port unreachable. */
export const ICMPV4_UNREACH_PORT = 3;
/** Destination unreachable code: fragmentation needed and DF set (RFC 1191 carries the MTU). */
export const ICMPV4_UNREACH_FRAG_NEEDED = 4;
/** Destination unreachable code: source route failed. */
export const ICMPV4_UNREACH_SOURCE_ROUTE = 5;
/** Destination unreachable code: communication administratively prohibited (RFC 1812). */
export const ICMPV4_UNREACH_ADMIN_PROHIBITED = 13;
/** Time exceeded code: TTL exceeded in transit. */
export const ICMPV4_TIME_EXCEEDED_TTL = 0;
/** Time exceeded code: fragment reassembly time exceeded. */
export const ICMPV4_TIME_EXCEEDED_REASSEMBLY = 1;
/** Parameter problem code: the pointer indicates the error. */
export const ICMPV4_PARAMPROB_POINTER = 0;

/** Drop reason: fewer than 8 bytes (the `icmp` counter `InErrors`, as Linux counts it). */
export const ICMPV4_DROP_ERRORS = "InErrors";
/** Drop reason: the checksum over the message is wrong (`IcmpInCsumErrors`). */
export const ICMPV4_DROP_CSUM_ERRORS = "InCsumErrors";
/** Every reason {@link Icmpv4Header.check} can return (names of `icmp` counters). */
export type Icmpv4DropReason = typeof ICMPV4_DROP_ERRORS | typeof ICMPV4_DROP_CSUM_ERRORS;

/**
 * A view of an ICMPv4 message at `buf[off..]`; attach it with `len` = the whole message (the IP
 * payload length), since the checksum covers all of it. One object is reused for every packet.
 *
 * @example
 * ```ts
 * const icmp = new Icmpv4Header();
 * if (icmp.attach(buf, ip.payloadOffset, ip.payloadLength).check() === null &&
 *     icmp.type === ICMPV4_ECHO_REQUEST) {
 *   icmp.type = ICMPV4_ECHO_REPLY; // answer in place
 *   icmp.fillChecksum();
 * }
 * ```
 */
export class Icmpv4Header extends WireView {
  /**
   * Null when the message has a whole header and (unless `verifyChecksum` is false) a valid
   * checksum over all `len` bytes (RFC 792), else the drop reason. Types are not judged here.
   */
  check(verifyChecksum = true): Icmpv4DropReason | null {
    if (this.len < ICMPV4_HEADER_BYTES) return ICMPV4_DROP_ERRORS;
    if (verifyChecksum) {
      let s = onesComplementSum(this.buf, this.off, this.len);
      s = (s & 0xffff) + (s >>> 16);
      if (s !== 0xffff) return ICMPV4_DROP_CSUM_ERRORS;
    }
    return null;
  }

  /** Compute and store the checksum over the first `len` bytes (default: all of them). */
  fillChecksum(len: number = this.len): void {
    const b = this.buf;
    const o = this.off + ICMPV4_CHECKSUM_OFFSET;
    b[o] = 0;
    b[o + 1] = 0;
    let s = onesComplementSum(b, this.off, len);
    s = (s & 0xffff) + (s >>> 16);
    const c = ~s & 0xffff;
    b[o] = c >>> 8;
    b[o + 1] = c;
  }

  /**
   * Change the type in place and patch the checksum incrementally (RFC 1624 eqn. 3: only the
   * type/code word changed), e.g. to turn a received echo request into its reply without
   * summing the data again.
   */
  rewriteType(type: number): void {
    const b = this.buf;
    const o = this.off;
    const oldWord = (b[o + ICMPV4_TYPE_OFFSET] << 8) | b[o + ICMPV4_CODE_OFFSET];
    const newWord = ((type & 0xff) << 8) | b[o + ICMPV4_CODE_OFFSET];
    let sum = (~this.checksum & 0xffff) + (~oldWord & 0xffff) + newWord;
    sum = (sum & 0xffff) + (sum >>> 16);
    sum = (sum & 0xffff) + (sum >>> 16);
    b[o + ICMPV4_TYPE_OFFSET] = type;
    this.checksum = ~sum & 0xffff;
  }

  /** Message type (`ICMPV4_*`). */
  get type(): number {
    return this.buf[this.off + ICMPV4_TYPE_OFFSET];
  }
  set type(v: number) {
    this.buf[this.off + ICMPV4_TYPE_OFFSET] = v;
  }

  /** Message code. */
  get code(): number {
    return this.buf[this.off + ICMPV4_CODE_OFFSET];
  }
  set code(v: number) {
    this.buf[this.off + ICMPV4_CODE_OFFSET] = v;
  }

  /** The checksum as stored. */
  get checksum(): number {
    return this.get16(ICMPV4_CHECKSUM_OFFSET);
  }
  set checksum(v: number) {
    this.set16(ICMPV4_CHECKSUM_OFFSET, v);
  }

  /** Echo identifier. */
  get identifier(): number {
    return this.get16(ICMPV4_ID_OFFSET);
  }
  set identifier(v: number) {
    this.set16(ICMPV4_ID_OFFSET, v);
  }

  /** Echo sequence number. */
  get sequence(): number {
    return this.get16(ICMPV4_SEQ_OFFSET);
  }
  set sequence(v: number) {
    this.set16(ICMPV4_SEQ_OFFSET, v);
  }

  /** The whole 32-bit rest of header (unsigned); e.g. the redirect gateway address. */
  get rest(): number {
    return this.get32(ICMPV4_REST_OFFSET);
  }
  set rest(v: number) {
    this.set32(ICMPV4_REST_OFFSET, v);
  }

  /** Parameter-problem pointer: the offset of the offending octet in the quoted header. */
  get pointer(): number {
    return this.buf[this.off + ICMPV4_POINTER_OFFSET];
  }
  set pointer(v: number) {
    this.buf[this.off + ICMPV4_POINTER_OFFSET] = v;
  }

  /** Next-hop MTU of "fragmentation needed" (RFC 1191 §4; 0 from pre-RFC 1191 routers). */
  get nextHopMtu(): number {
    return this.get16(ICMPV4_MTU_OFFSET);
  }
  set nextHopMtu(v: number) {
    this.set16(ICMPV4_MTU_OFFSET, v);
  }

  /** Offset of the data after the 8-byte header (echo data, or the quoted datagram). */
  get payloadOffset(): number {
    return this.off + ICMPV4_HEADER_BYTES;
  }

  /** Bytes after the 8-byte header. */
  get payloadLength(): number {
    return this.len - ICMPV4_HEADER_BYTES;
  }

  /** True for error messages (unreachable, redirect, time exceeded, parameter problem, …). */
  isError(): boolean {
    const t = this.buf[this.off];
    // RFC 1122 §3.2.2: error types 3, 4 (source quench), 5, 11, 12.
    return t === 3 || t === 4 || t === 5 || t === 11 || t === 12;
  }
}

/**
 * Write an 8-byte ICMPv4 header at `buf[off..]`: `type`, `code`, a zero checksum and the 32-bit
 * rest of header (`rest`: identifier << 16 | sequence for echo, the next-hop MTU for
 * "fragmentation needed", 0 otherwise). Returns {@link ICMPV4_HEADER_BYTES}. Fill the checksum
 * with {@link Icmpv4Header.fillChecksum} once the data is in place.
 *
 * @example
 * ```ts
 * const buf = new Uint8Array(8 + 4);
 * writeIcmpv4Header(buf, 0, ICMPV4_ECHO_REQUEST, 0, (0x1234 << 16) | 1);
 * new Icmpv4Header().attach(buf, 0, buf.length).fillChecksum();
 * ```
 */
export function writeIcmpv4Header(
  buf: Uint8Array,
  off: number,
  type: number,
  code: number,
  rest: number,
): number {
  buf[off + ICMPV4_TYPE_OFFSET] = type;
  buf[off + ICMPV4_CODE_OFFSET] = code;
  buf[off + ICMPV4_CHECKSUM_OFFSET] = 0;
  buf[off + ICMPV4_CHECKSUM_OFFSET + 1] = 0;
  buf[off + ICMPV4_REST_OFFSET] = rest >>> 24;
  buf[off + ICMPV4_REST_OFFSET + 1] = rest >>> 16;
  buf[off + ICMPV4_REST_OFFSET + 2] = rest >>> 8;
  buf[off + ICMPV4_REST_OFFSET + 3] = rest;
  return ICMPV4_HEADER_BYTES;
}
