/**
 * The IPv6 fixed header (RFC 8200 §3): a reusable view with a getter per field, a validity
 * check that names the drop reason, and {@link Ipv6Repr}, the one writer of every IPv6 header
 * the stack sends.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * |Version| Traffic Class |           Flow Label                  |
 * |         Payload Length        |  Next Header  |   Hop Limit   |
 * |                    Source Address (128 bits)                  |
 * |                 Destination Address (128 bits)                |
 * ```
 *
 * @module
 */

import { type IpAddr, IpAddressScratch, writeIp6 } from "./ip_address.ts";
import { WireView } from "../link/wire_view.ts";

/** Bytes of the fixed header. */
export const IPV6_HEADER_BYTES = 40;
/** Offset of the payload length. */
export const IPV6_PAYLOAD_LENGTH_OFFSET = 4;
/** Offset of the next header. */
export const IPV6_NEXT_HEADER_OFFSET = 6;
/** Offset of the hop limit. */
export const IPV6_HOP_LIMIT_OFFSET = 7;
/** Offset of the source address. */
export const IPV6_SRC_OFFSET = 8;
/** Offset of the destination address. */
export const IPV6_DST_OFFSET = 24;
/** Smallest link MTU IPv6 runs over (RFC 8200 §5). */
export const IPV6_MIN_MTU = 1280;
/** Hop limit of datagrams we originate (Linux `hop_limit` default). */
export const IPV6_DEFAULT_HOP_LIMIT = 64;
/** Largest payload length (without a jumbo payload option, which is not supported). */
export const IPV6_MAX_PAYLOAD = 65535;

/** Next header: hop-by-hop options (RFC 8200 §4.3). */
export const IPV6_NH_HOP_BY_HOP = 0;
/** Next header: routing (RFC 8200 §4.4). */
export const IPV6_NH_ROUTING = 43;
/** Next header: fragment (RFC 8200 §4.5). */
export const IPV6_NH_FRAGMENT = 44;
/** Next header: ICMPv6 (RFC 4443). */
export const IPV6_NH_ICMPV6 = 58;
/** Next header: no next header (RFC 8200 §4.7). */
export const IPV6_NH_NONE = 59;
/** Next header: destination options (RFC 8200 §4.6). */
export const IPV6_NH_DEST_OPTIONS = 60;

/** Drop reason: the bytes end before the header or the payload (`Ip6InTruncatedPkts`). */
export const IPV6_DROP_TRUNCATED = "InTruncatedPkts";
/** Drop reason: the version is not 6 (`Ip6InHdrErrors`, as Linux counts it). */
export const IPV6_DROP_HDR_ERRORS = "InHdrErrors";
/** Every reason {@link Ipv6Header.check} can return: names of `ip6` counters. */
export type Ipv6DropReason = typeof IPV6_DROP_TRUNCATED | typeof IPV6_DROP_HDR_ERRORS;

/**
 * A view of an IPv6 header at `buf[off..]`; one object reused for every packet.
 *
 * @example
 * ```ts
 * const ip6 = new Ipv6Header();
 * const reason = ip6.attach(frame, 14, frame.length - 14).check();
 * if (reason === null) console.log(ip6.nextHeader, ip6.payloadLength);
 * ```
 */
export class Ipv6Header extends WireView {
  /**
   * Null when the bytes hold a valid fixed header and the whole payload it announces
   * (RFC 8200 §3; longer bytes are link padding), else the drop reason.
   */
  check(): Ipv6DropReason | null {
    if (this.len < IPV6_HEADER_BYTES) return IPV6_DROP_TRUNCATED;
    if (this.buf[this.off] >>> 4 !== 6) return IPV6_DROP_HDR_ERRORS;
    if (IPV6_HEADER_BYTES + this.payloadLength > this.len) return IPV6_DROP_TRUNCATED;
    return null;
  }

  /** Version (6 for a valid header). */
  get version(): number {
    return this.buf[this.off] >>> 4;
  }

  /** Traffic class (DSCP << 2 | ECN). */
  get trafficClass(): number {
    const b = this.buf;
    const o = this.off;
    return ((b[o] & 0x0f) << 4) | (b[o + 1] >>> 4);
  }

  /** Flow label (20 bits, RFC 6437). */
  get flowLabel(): number {
    const b = this.buf;
    const o = this.off;
    return ((b[o + 1] & 0x0f) << 16) | (b[o + 2] << 8) | b[o + 3];
  }

  /** Bytes after the fixed header (extension headers included). */
  get payloadLength(): number {
    const o = this.off + IPV6_PAYLOAD_LENGTH_OFFSET;
    return (this.buf[o] << 8) | this.buf[o + 1];
  }

  /** Type of the header after the fixed header. */
  get nextHeader(): number {
    return this.buf[this.off + IPV6_NEXT_HEADER_OFFSET];
  }

  /** Hop limit. */
  get hopLimit(): number {
    return this.buf[this.off + IPV6_HOP_LIMIT_OFFSET];
  }

  /** Offset of the source address in `buf`. */
  get srcOffset(): number {
    return this.off + IPV6_SRC_OFFSET;
  }

  /** Offset of the destination address in `buf`. */
  get dstOffset(): number {
    return this.off + IPV6_DST_OFFSET;
  }

  /** Offset of the byte after the fixed header. */
  get payloadOffset(): number {
    return this.off + IPV6_HEADER_BYTES;
  }

  /** Load the source address into `out`; returns it. */
  readSrc(out: IpAddressScratch): IpAddressScratch {
    return out.setFrom6(this.buf, this.off + IPV6_SRC_OFFSET);
  }

  /** Load the destination address into `out`; returns it. */
  readDst(out: IpAddressScratch): IpAddressScratch {
    return out.setFrom6(this.buf, this.off + IPV6_DST_OFFSET);
  }
}

const ZERO = new IpAddressScratch();

/**
 * The decoded fixed header and the one writer of IPv6 headers (smoltcp's `Ipv6Repr`): fill the
 * fields, then {@link Ipv6Repr.emit}. A layer keeps one and reuses it; `src`/`dst` are
 * references to addresses the caller keeps alive until `emit` returns.
 *
 * @example
 * ```ts
 * const r = new Ipv6Repr();
 * r.src = IpAddress.parse("fd00:5::2");
 * r.dst = IpAddress.parse("fd00:5::1");
 * r.nextHeader = IPV6_NH_ICMPV6;
 * r.payloadLength = 8;
 * const buf = new Uint8Array(48);
 * r.emit(buf, 0);
 * ```
 */
export class Ipv6Repr {
  /** Source address. */
  src: IpAddr = ZERO;
  /** Destination address. */
  dst: IpAddr = ZERO;
  /** Type of the first header after this one. */
  nextHeader = IPV6_NH_NONE;
  /** Hop limit. */
  hopLimit: number = IPV6_DEFAULT_HOP_LIMIT;
  /** Traffic class. */
  trafficClass = 0;
  /** Flow label (20 bits). */
  flowLabel = 0;
  /** Bytes after the fixed header. */
  payloadLength = 0;

  /** Fill the record from a checked view, copying the addresses into `src`/`dst` scratch. */
  parse(h: Ipv6Header, src: IpAddressScratch, dst: IpAddressScratch): this {
    this.src = h.readSrc(src);
    this.dst = h.readDst(dst);
    this.nextHeader = h.nextHeader;
    this.hopLimit = h.hopLimit;
    this.trafficClass = h.trafficClass;
    this.flowLabel = h.flowLabel;
    this.payloadLength = h.payloadLength;
    return this;
  }

  /** Write the 40-byte header at `buf[off..]`; returns {@link IPV6_HEADER_BYTES}. */
  emit(buf: Uint8Array, off: number): number {
    const tc = this.trafficClass & 0xff;
    const fl = this.flowLabel & 0xfffff;
    const len = this.payloadLength & 0xffff;
    buf[off] = 0x60 | (tc >>> 4);
    buf[off + 1] = ((tc & 0x0f) << 4) | (fl >>> 16);
    buf[off + 2] = fl >>> 8;
    buf[off + 3] = fl;
    buf[off + IPV6_PAYLOAD_LENGTH_OFFSET] = len >>> 8;
    buf[off + IPV6_PAYLOAD_LENGTH_OFFSET + 1] = len;
    buf[off + IPV6_NEXT_HEADER_OFFSET] = this.nextHeader;
    buf[off + IPV6_HOP_LIMIT_OFFSET] = this.hopLimit;
    writeIp6(buf, off + IPV6_SRC_OFFSET, this.src);
    writeIp6(buf, off + IPV6_DST_OFFSET, this.dst);
    return IPV6_HEADER_BYTES;
  }
}
