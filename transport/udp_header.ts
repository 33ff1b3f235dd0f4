/**
 * The UDP header (RFC 768): ports, length, checksum.
 *
 * Checksum semantics. The checksum covers the pseudo-header (pass its sum, from
 * `pseudoHeaderSumV4`/`pseudoHeaderSumV6` with the UDP length), the header and the data. A
 * computed 0 is sent as 0xffff; a 0 in the field means "no checksum" — allowed over IPv4
 * (RFC 768, RFC 1122 §4.1.3.4), forbidden over IPv6 (RFC 8200 §8.1: the receiver discards).
 *
 * @module
 */

import { onesComplementSum, udpChecksumToWire } from "../net/checksum.ts";
import { WireView } from "../link/wire_view.ts";

/** Bytes of the header. */
export const UDP_HEADER_BYTES = 8;
/** Offset of the source port. */
export const UDP_SRC_PORT_OFFSET = 0;
/** Offset of the destination port. */
export const UDP_DST_PORT_OFFSET = 2;
/** Offset of the length (header + data, bytes). */
export const UDP_LENGTH_OFFSET = 4;
/** Offset of the checksum. */
export const UDP_CHECKSUM_OFFSET = 6;

/** Drop reason: too short, or a length field < 8 or beyond the bytes (`UdpInErrors`). */
export const UDP_DROP_ERRORS = "InErrors";
/** Drop reason for a failed {@link UdpHeader.verifyChecksum} (`UdpInCsumErrors`). */
export const UDP_DROP_CSUM_ERRORS = "InCsumErrors";
/** Every reason {@link UdpHeader.check} can return (names of `udp` counters). */
export type UdpDropReason = typeof UDP_DROP_ERRORS;

/**
 * A view of a UDP header at `buf[off..]`, attached with `len` = the IP payload length. One
 * object is reused for every datagram.
 *
 * @example
 * ```ts
 * const udp = new UdpHeader();
 * const ph = pseudoHeaderSumV4(ip.src, ip.dst, IP_PROTO_UDP, ip.payloadLength);
 * if (udp.attach(buf, ip.payloadOffset, ip.payloadLength).check() === null &&
 *     udp.verifyChecksum(ph)) {
 *   deliver(udp.dstPort, udp.payloadOffset, udp.payloadLength);
 * }
 * ```
 */
export class UdpHeader extends WireView {
  /**
   * Null when there are ≥ 8 bytes and 8 ≤ length field ≤ bytes (RFC 768; bytes after
   * `length` are ignored, as Linux trims them), else {@link UDP_DROP_ERRORS}. The checksum
   * needs the pseudo-header: see {@link UdpHeader.verifyChecksum}.
   */
  check(): UdpDropReason | null {
    if (this.len < UDP_HEADER_BYTES) return UDP_DROP_ERRORS;
    const l = this.length;
    return l < UDP_HEADER_BYTES || l > this.len ? UDP_DROP_ERRORS : null;
  }

  /**
   * The checksum to store, over the pseudo-header sum `pseudoSum` and the `length` bytes of
   * the datagram with the checksum field counted as zero, already in wire form (0 → 0xffff).
   * Does not modify the buffer.
   */
  computeUdpChecksum(pseudoSum: number): number {
    // Subtracting the stored field (adding its complement) is summing it as zero.
    const stored = (this.buf[this.off + UDP_CHECKSUM_OFFSET] << 8) |
      this.buf[this.off + UDP_CHECKSUM_OFFSET + 1];
    let s = onesComplementSum(this.buf, this.off, this.length, pseudoSum + (~stored & 0xffff));
    s = (s & 0xffff) + (s >>> 16);
    return udpChecksumToWire(~s & 0xffff);
  }

  /** Compute ({@link UdpHeader.computeUdpChecksum}) and store the checksum. */
  fillChecksum(pseudoSum: number): void {
    this.checksum = this.computeUdpChecksum(pseudoSum);
  }

  /**
   * True when the checksum verifies against `pseudoSum`, or when the field is 0 ("none") and
   * `zeroMeansNone` (IPv4; pass false over IPv6, RFC 8200 §8.1).
   */
  verifyChecksum(pseudoSum: number, zeroMeansNone = true): boolean {
    const o = this.off + UDP_CHECKSUM_OFFSET;
    if (this.buf[o] === 0 && this.buf[o + 1] === 0) return zeroMeansNone;
    let s = onesComplementSum(this.buf, this.off, this.length, pseudoSum);
    s = (s & 0xffff) + (s >>> 16);
    return s === 0xffff;
  }

  /** Source port. */
  get srcPort(): number {
    return this.get16(UDP_SRC_PORT_OFFSET);
  }
  set srcPort(v: number) {
    this.set16(UDP_SRC_PORT_OFFSET, v);
  }

  /** Destination port. */
  get dstPort(): number {
    return this.get16(UDP_DST_PORT_OFFSET);
  }
  set dstPort(v: number) {
    this.set16(UDP_DST_PORT_OFFSET, v);
  }

  /** Length of header + data in bytes. */
  get length(): number {
    return this.get16(UDP_LENGTH_OFFSET);
  }
  set length(v: number) {
    this.set16(UDP_LENGTH_OFFSET, v);
  }

  /** The checksum as stored (0 = none). */
  get checksum(): number {
    return this.get16(UDP_CHECKSUM_OFFSET);
  }
  set checksum(v: number) {
    this.set16(UDP_CHECKSUM_OFFSET, v);
  }

  /** Offset of the data in `buf`. */
  get payloadOffset(): number {
    return this.off + UDP_HEADER_BYTES;
  }

  /** Bytes of data according to the length field. */
  get payloadLength(): number {
    return this.length - UDP_HEADER_BYTES;
  }
}

/**
 * Write an 8-byte UDP header with a zero checksum at `buf[off..]`; returns
 * {@link UDP_HEADER_BYTES}. Fill the checksum afterwards (or leave it to the device).
 *
 * @example
 * ```ts
 * writeUdpHeader(buf, o, 5353, 5353, 8 + payloadBytes);
 * udp.attach(buf, o, 8 + payloadBytes).fillChecksum(pseudoHeaderSumV4(src, dst, 17, 8 + payloadBytes));
 * ```
 */
export function writeUdpHeader(
  buf: Uint8Array,
  off: number,
  srcPort: number,
  dstPort: number,
  length: number,
): number {
  buf[off] = srcPort >>> 8;
  buf[off + 1] = srcPort;
  buf[off + 2] = dstPort >>> 8;
  buf[off + 3] = dstPort;
  buf[off + 4] = length >>> 8;
  buf[off + 5] = length;
  buf[off + 6] = 0;
  buf[off + 7] = 0;
  return UDP_HEADER_BYTES;
}
