/**
 * The TCP header (RFC 9293 §3.1): a reusable view with a getter and setter per field, a
 * structural check, checksum helpers over the pseudo-header sum, and a writer for the fixed
 * 20 bytes. Options are parsed and written by `options.ts`.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * |          Source Port          |       Destination Port        |
 * |                        Sequence Number                        |
 * |                    Acknowledgment Number                      |
 * |  DOff | Rsrvd |C|E|U|A|P|R|S|F|             Window            |
 * |           Checksum            |         Urgent Pointer        |
 * |                    Options (DOff > 5)                         |
 * ```
 *
 * @module
 */

import { onesComplementSum } from "../../net/checksum.ts";
import { WireView } from "../../link/wire_view.ts";

/** Smallest header (data offset 5). */
export const TCP_HEADER_MIN_BYTES = 20;
/** Largest header (data offset 15): at most 40 bytes of options. */
export const TCP_HEADER_MAX_BYTES = 60;
/** Offset of the source port. */
export const TCP_SRC_PORT_OFFSET = 0;
/** Offset of the destination port. */
export const TCP_DST_PORT_OFFSET = 2;
/** Offset of the sequence number. */
export const TCP_SEQ_OFFSET = 4;
/** Offset of the acknowledgment number. */
export const TCP_ACK_OFFSET = 8;
/** Offset of data offset (high nibble, 32-bit words) and the reserved bits. */
export const TCP_DATA_OFFSET_OFFSET = 12;
/** Offset of the control bits (flags). */
export const TCP_FLAGS_OFFSET = 13;
/** Offset of the window. */
export const TCP_WINDOW_OFFSET = 14;
/** Offset of the checksum. */
export const TCP_CHECKSUM_OFFSET = 16;
/** Offset of the urgent pointer. */
export const TCP_URGENT_OFFSET = 18;
/** Offset of the options. */
export const TCP_OPTIONS_OFFSET = 20;

/** FIN: no more data from sender. */
export const TCP_FLAG_FIN = 0x01;
/** SYN: synchronize sequence numbers. */
export const TCP_FLAG_SYN = 0x02;
/** RST: reset the connection. */
export const TCP_FLAG_RST = 0x04;
/** PSH: push function. */
export const TCP_FLAG_PSH = 0x08;
/** ACK: the acknowledgment field is significant. */
export const TCP_FLAG_ACK = 0x10;
/** URG: the urgent pointer is significant. */
export const TCP_FLAG_URG = 0x20;
/** ECE: ECN echo (RFC 3168 §6.1). */
export const TCP_FLAG_ECE = 0x40;
/** CWR: congestion window reduced (RFC 3168 §6.1). */
export const TCP_FLAG_CWR = 0x80;

/** Drop reason: too short, or a data offset < 5 or beyond the bytes (`TcpInErrs`). */
export const TCP_DROP_ERRORS = "InErrs";
/** Drop reason for a failed {@link TcpHeader.verifyChecksum} (`TcpInCsumErrors`). */
export const TCP_DROP_CSUM_ERRORS = "InCsumErrors";
/** Every reason {@link TcpHeader.check} can return (names of `tcp` counters). */
export type TcpDropReason = typeof TCP_DROP_ERRORS;

/**
 * A view of a TCP header at `buf[off..]`, attached with `len` = the segment length (the IP
 * payload length), which the checksum and {@link TcpHeader.payloadLength} use. One object is
 * reused for every segment.
 *
 * @example
 * ```ts
 * const tcp = new TcpHeader();
 * tcp.attach(buf, ip.payloadOffset, ip.payloadLength);
 * const ph = pseudoHeaderSumV4(ip.src, ip.dst, IP_PROTO_TCP, tcp.len);
 * if (tcp.check() === null && tcp.verifyChecksum(ph)) {
 *   const syn = (tcp.flags & TCP_FLAG_SYN) !== 0;
 * }
 * ```
 */
export class TcpHeader extends WireView {
  /**
   * Null when there are ≥ 20 bytes and 5 ≤ data offset ≤ bytes / 4 (RFC 9293 §3.1), else
   * {@link TCP_DROP_ERRORS}. The checksum needs the pseudo-header: see
   * {@link TcpHeader.verifyChecksum}; options: `parseTcpOptions`.
   */
  check(): TcpDropReason | null {
    if (this.len < TCP_HEADER_MIN_BYTES) return TCP_DROP_ERRORS;
    const hdr = (this.buf[this.off + TCP_DATA_OFFSET_OFFSET] >>> 4) << 2;
    return hdr < TCP_HEADER_MIN_BYTES || hdr > this.len ? TCP_DROP_ERRORS : null;
  }

  /**
   * Start a header for transmit: zero `headerBytes` bytes (20..60, a multiple of 4) and set
   * the data offset. Returns `this`.
   */
  init(headerBytes: number = TCP_HEADER_MIN_BYTES): this {
    this.buf.fill(0, this.off, this.off + headerBytes);
    this.buf[this.off + TCP_DATA_OFFSET_OFFSET] = (headerBytes >>> 2) << 4;
    return this;
  }

  /**
   * The checksum to store for the first `segmentBytes` bytes (default `len`) plus the
   * pseudo-header sum `pseudoSum` (RFC 9293 §3.1), with the checksum field counted as zero.
   * Does not modify the buffer.
   */
  computeChecksum(pseudoSum: number, segmentBytes: number = this.len): number {
    // Adding the complement of the stored field is summing it as zero.
    const stored = this.checksum;
    let s = onesComplementSum(this.buf, this.off, segmentBytes, pseudoSum + (~stored & 0xffff));
    s = (s & 0xffff) + (s >>> 16);
    return ~s & 0xffff;
  }

  /** Compute ({@link TcpHeader.computeChecksum}) and store the checksum. */
  fillChecksum(pseudoSum: number, segmentBytes: number = this.len): void {
    this.checksum = this.computeChecksum(pseudoSum, segmentBytes);
  }

  /** True when the checksum over `segmentBytes` (default `len`) and `pseudoSum` is valid. */
  verifyChecksum(pseudoSum: number, segmentBytes: number = this.len): boolean {
    let s = onesComplementSum(this.buf, this.off, segmentBytes, pseudoSum);
    s = (s & 0xffff) + (s >>> 16);
    return s === 0xffff;
  }

  /** Source port. */
  get srcPort(): number {
    return this.get16(TCP_SRC_PORT_OFFSET);
  }
  set srcPort(v: number) {
    this.set16(TCP_SRC_PORT_OFFSET, v);
  }

  /** Destination port. */
  get dstPort(): number {
    return this.get16(TCP_DST_PORT_OFFSET);
  }
  set dstPort(v: number) {
    this.set16(TCP_DST_PORT_OFFSET, v);
  }

  /** Sequence number (unsigned 32-bit). */
  get seq(): number {
    return this.get32(TCP_SEQ_OFFSET);
  }
  set seq(v: number) {
    this.set32(TCP_SEQ_OFFSET, v);
  }

  /** Acknowledgment number (unsigned 32-bit). */
  get ack(): number {
    return this.get32(TCP_ACK_OFFSET);
  }
  set ack(v: number) {
    this.set32(TCP_ACK_OFFSET, v);
  }

  /**
   * Store the sequence and acknowledgment numbers in `into.seq` and `into.ack`. The receive
   * path's way to read them: a uint32 at or above 2**30 is not a V8 small integer, so a getter
   * that V8 does not inline into its (large) caller returns a new heap number per segment,
   * while a store into a number field of a reused record writes in place.
   */
  loadSeqAck(into: { seq: number; ack: number }): void {
    // The bytes read here, not through `get32`: its uint32 return is a heap number whenever
    // V8 does not inline it (small inlining budgets; bench/README.md, "box32").
    const b = this.buf;
    const o = this.off;
    into.seq = ((b[o + TCP_SEQ_OFFSET] << 24) | (b[o + TCP_SEQ_OFFSET + 1] << 16) |
      (b[o + TCP_SEQ_OFFSET + 2] << 8) | b[o + TCP_SEQ_OFFSET + 3]) >>> 0;
    into.ack = ((b[o + TCP_ACK_OFFSET] << 24) | (b[o + TCP_ACK_OFFSET + 1] << 16) |
      (b[o + TCP_ACK_OFFSET + 2] << 8) | b[o + TCP_ACK_OFFSET + 3]) >>> 0;
  }

  /** Data offset in 32-bit words (5..15). Setting it keeps the reserved bits. */
  get dataOffset(): number {
    return this.buf[this.off + TCP_DATA_OFFSET_OFFSET] >>> 4;
  }
  set dataOffset(words: number) {
    const o = this.off + TCP_DATA_OFFSET_OFFSET;
    this.buf[o] = ((words & 0x0f) << 4) | (this.buf[o] & 0x0f);
  }

  /** Header length in bytes (data offset × 4). */
  get headerBytes(): number {
    return (this.buf[this.off + TCP_DATA_OFFSET_OFFSET] >>> 4) << 2;
  }
  set headerBytes(v: number) {
    this.dataOffset = v >>> 2;
  }

  /** The control bits byte (`TCP_FLAG_*`). */
  get flags(): number {
    return this.buf[this.off + TCP_FLAGS_OFFSET];
  }
  set flags(v: number) {
    this.buf[this.off + TCP_FLAGS_OFFSET] = v;
  }

  /** True when every bit of `mask` is set in the flags. */
  hasFlags(mask: number): boolean {
    return (this.buf[this.off + TCP_FLAGS_OFFSET] & mask) === mask;
  }

  /** Window (unscaled, as on the wire). */
  get window(): number {
    return this.get16(TCP_WINDOW_OFFSET);
  }
  set window(v: number) {
    this.set16(TCP_WINDOW_OFFSET, v);
  }

  /** The checksum as stored. */
  get checksum(): number {
    return this.get16(TCP_CHECKSUM_OFFSET);
  }
  set checksum(v: number) {
    this.set16(TCP_CHECKSUM_OFFSET, v);
  }

  /** Urgent pointer. */
  get urgentPointer(): number {
    return this.get16(TCP_URGENT_OFFSET);
  }
  set urgentPointer(v: number) {
    this.set16(TCP_URGENT_OFFSET, v);
  }

  /** Offset of the options in `buf`. */
  get optionsOffset(): number {
    return this.off + TCP_OPTIONS_OFFSET;
  }

  /** Bytes of options (header bytes − 20). */
  get optionsLength(): number {
    return this.headerBytes - TCP_HEADER_MIN_BYTES;
  }

  /** Offset of the payload in `buf`. */
  get payloadOffset(): number {
    return this.off + this.headerBytes;
  }

  /** Payload bytes (`len` − header bytes). */
  get payloadLength(): number {
    return this.len - this.headerBytes;
  }
}

/**
 * Store the sequence number `nums.seq` and the acknowledgment number (`nums.ack` with
 * `withAck`, else 0) in the TCP header at `buf[off..]`. The transmit path's way to write them
 * after {@link writeTcpHeader}: read from the record here rather than passed as arguments, as a
 * uint32 at or above 2**30 passed to a call V8 does not inline is a new heap number.
 *
 * @example
 * ```ts
 * const buf = new Uint8Array(20);
 * writeTcpSeqAck(buf, 0, { seq: 0x9000_0000, ack: 1 }, true); // bytes 4..11
 * ```
 */
export function writeTcpSeqAck(
  buf: Uint8Array,
  off: number,
  nums: { readonly seq: number; readonly ack: number },
  withAck: boolean,
): void {
  const seq = nums.seq;
  buf[off + 4] = seq >>> 24;
  buf[off + 5] = seq >>> 16;
  buf[off + 6] = seq >>> 8;
  buf[off + 7] = seq;
  // Two branches, not `withAck ? nums.ack : 0`: V8's mid tier (Maglev) keeps a value merged
  // from two branches tagged, and an acknowledgment number at or above 2**30 would be a new
  // heap number per segment.
  if (withAck) {
    const ack = nums.ack;
    buf[off + 8] = ack >>> 24;
    buf[off + 9] = ack >>> 16;
    buf[off + 10] = ack >>> 8;
    buf[off + 11] = ack;
  } else {
    buf[off + 8] = 0;
    buf[off + 9] = 0;
    buf[off + 10] = 0;
    buf[off + 11] = 0;
  }
}

/**
 * Write the fixed 20 bytes of a TCP header at `buf[off..]` with data offset
 * `headerBytes / 4` (options, if any, go at `off + 20`, see `writeTcpOptions`), a zero
 * checksum and a zero urgent pointer; returns {@link TCP_HEADER_MIN_BYTES}.
 *
 * @example
 * ```ts
 * const optBytes = writeTcpOptions(buf, o + 20, opts, true);
 * writeTcpHeader(buf, o, 40000, 80, iss, 0, 20 + optBytes, TCP_FLAG_SYN, 65535);
 * ```
 */
export function writeTcpHeader(
  buf: Uint8Array,
  off: number,
  srcPort: number,
  dstPort: number,
  seq: number,
  ack: number,
  headerBytes: number,
  flags: number,
  window: number,
): number {
  buf[off] = srcPort >>> 8;
  buf[off + 1] = srcPort;
  buf[off + 2] = dstPort >>> 8;
  buf[off + 3] = dstPort;
  buf[off + 4] = seq >>> 24;
  buf[off + 5] = seq >>> 16;
  buf[off + 6] = seq >>> 8;
  buf[off + 7] = seq;
  buf[off + 8] = ack >>> 24;
  buf[off + 9] = ack >>> 16;
  buf[off + 10] = ack >>> 8;
  buf[off + 11] = ack;
  buf[off + 12] = (headerBytes >>> 2) << 4;
  buf[off + 13] = flags;
  buf[off + 14] = window >>> 8;
  buf[off + 15] = window;
  buf[off + 16] = 0;
  buf[off + 17] = 0;
  buf[off + 18] = 0;
  buf[off + 19] = 0;
  return TCP_HEADER_MIN_BYTES;
}
