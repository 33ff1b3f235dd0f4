/**
 * IPv6 extension headers (RFC 8200 §4): the generic length rule, option processing for
 * hop-by-hop and destination options with the option-type action bits (§4.2), and views of
 * the routing (§4.4) and fragment (§4.5) headers. Walking the chain is the layer's job
 * (`net/ipv6.ts`); this module judges one header at a time and allocates nothing.
 *
 * @module
 */

import { WireView } from "../link/wire_view.ts";

/** Bytes of the fragment header. */
export const IPV6_FRAGMENT_HEADER_BYTES = 8;
/** Smallest options / routing header (8 bytes, Hdr Ext Len 0). */
export const IPV6_EXT_MIN_BYTES = 8;

/** Option Pad1 (RFC 8200 §4.2): one byte, no length. */
export const IPV6_OPT_PAD1 = 0;
/** Option PadN. */
export const IPV6_OPT_PADN = 1;
/** Option router alert (RFC 2711), carried by MLD messages. */
export const IPV6_OPT_ROUTER_ALERT = 5;

/** {@link processOptions} result: every option understood or skippable. */
export const OPTIONS_OK = -1;
/** {@link processOptions} result: drop silently (action 01, or a malformed option area). */
export const OPTIONS_DROP = -2;
/** {@link processOptions} result: drop and count a header error (options overrun the header). */
export const OPTIONS_MALFORMED = -3;

/**
 * Total bytes of a hop-by-hop, destination-options or routing header at `buf[off]`:
 * (Hdr Ext Len + 1) × 8 (RFC 8200 §4.3). Needs 2 readable bytes.
 *
 * @example
 * ```ts
 * extHeaderBytes(new Uint8Array([17, 0, 1, 4, 0, 0, 0, 0]), 0); // 8
 * ```
 */
export function extHeaderBytes(buf: Uint8Array, off: number): number {
  return (buf[off + 1] + 1) << 3;
}

/**
 * Process the options of a hop-by-hop or destination-options header at `buf[off, off + len)`
 * (len = the header's total bytes; options start at byte 2). Known options (Pad1, PadN, and
 * router alert when `allowRouterAlert`) are skipped; an unknown option is handled by the two
 * high bits of its type (RFC 8200 §4.2): 00 skip, 01 drop, 10 drop and report, 11 drop and
 * report unless the destination is multicast.
 *
 * Returns {@link OPTIONS_OK}, {@link OPTIONS_DROP}, {@link OPTIONS_MALFORMED}, or — to drop
 * and send a parameter problem (code 2) — the offset of the offending option type from `off`.
 *
 * @example
 * ```ts
 * // next header, length 0, PadN(4 bytes)
 * processOptions(new Uint8Array([59, 0, 1, 4, 0, 0, 0, 0]), 0, 8, false, false); // OPTIONS_OK
 * ```
 */
export function processOptions(
  buf: Uint8Array,
  off: number,
  len: number,
  dstMulticast: boolean,
  allowRouterAlert: boolean,
): number {
  let i = 2;
  while (i < len) {
    const type = buf[off + i];
    if (type === IPV6_OPT_PAD1) {
      i++;
      continue;
    }
    if (i + 2 > len) return OPTIONS_MALFORMED;
    const optLen = buf[off + i + 1];
    if (i + 2 + optLen > len) return OPTIONS_MALFORMED;
    if (type === IPV6_OPT_PADN || (type === IPV6_OPT_ROUTER_ALERT && allowRouterAlert)) {
      i += 2 + optLen;
      continue;
    }
    switch (type >>> 6) {
      case 0:
        break;
      case 1:
        return OPTIONS_DROP;
      case 2:
        return i;
      default:
        return dstMulticast ? OPTIONS_DROP : i;
    }
    i += 2 + optLen;
  }
  return OPTIONS_OK;
}

/** Option type of the jumbo payload option (RFC 2675 §2): skip-and-ICMP-unless-multicast. */
export const IPV6_OPT_JUMBO = 0xc2;

/**
 * True when the IPv6 packet at `buf[off, off + len)` has the form Linux's BIG TCP gives a
 * GSO super-packet longer than 65,535 bytes of payload: payload length 0, then a hop-by-hop
 * header of exactly 8 bytes holding only a jumbo payload option (RFC 2675) whose length is
 * every byte after the fixed header, then TCP. The caller checks that the driver flagged the
 * frame a super-frame; the jumbo option is otherwise refused (RFC 2675 does not apply to
 * TCP over links whose MTU is below 65,575).
 *
 * @example
 * ```ts
 * const p = new Uint8Array(40 + 8 + 70_000);
 * p[0] = 0x60; p[6] = 0; p.set([6, 0, 0xc2, 4], 40);
 * new DataView(p.buffer).setUint32(44, 70_008);
 * isBigTcpJumbo(p, 0, p.length); // true
 * ```
 */
export function isBigTcpJumbo(buf: Uint8Array, off: number, len: number): boolean {
  const payload = len - 40;
  if (payload <= 0xffff || buf[off + 4] !== 0 || buf[off + 5] !== 0 || buf[off + 6] !== 0) {
    return false;
  }
  const h = off + 40;
  if (buf[h] !== 6 || buf[h + 1] !== 0 || buf[h + 2] !== IPV6_OPT_JUMBO || buf[h + 3] !== 4) {
    return false;
  }
  const jumbo = ((buf[h + 4] << 24) | (buf[h + 5] << 16) | (buf[h + 6] << 8) | buf[h + 7]) >>> 0;
  return jumbo === payload;
}

/**
 * True when the options header at `buf[off, off + len)` carries a router alert option
 * (RFC 2711) — MLD messages must (RFC 3810 §5). Assumes {@link processOptions} accepted it.
 *
 * @example
 * ```ts
 * hasRouterAlert(new Uint8Array([58, 0, 5, 2, 0, 0, 1, 0]), 0, 8); // true
 * ```
 */
export function hasRouterAlert(buf: Uint8Array, off: number, len: number): boolean {
  let i = 2;
  while (i + 1 < len) {
    const type = buf[off + i];
    if (type === IPV6_OPT_PAD1) {
      i++;
      continue;
    }
    if (type === IPV6_OPT_ROUTER_ALERT) return true;
    i += 2 + buf[off + i + 1];
  }
  return false;
}

/**
 * The routing header (RFC 8200 §4.4): next header, length, routing type, segments left.
 *
 * @example
 * ```ts
 * const rh = new RoutingHeader().attach(new Uint8Array([59, 0, 0, 1, 0, 0, 0, 0]), 0, 8);
 * rh.routingType; // 0 — refused when segments are left (RFC 5095)
 * ```
 */
export class RoutingHeader extends WireView {
  /** Offset of the routing type from the header start (a parameter problem points here). */
  static readonly TYPE_OFFSET = 2;
  /** Routing type. */
  get routingType(): number {
    return this.buf[this.off + 2];
  }
  /** Segments left. */
  get segmentsLeft(): number {
    return this.buf[this.off + 3];
  }
}

/**
 * The fragment header (RFC 8200 §4.5).
 *
 * ```text
 * | Next Header |  Reserved  |      Fragment Offset    |Res|M|
 * |                         Identification                    |
 * ```
 *
 * @example
 * ```ts
 * const fh = new FragmentHeader().attach(new Uint8Array([17, 0, 0, 9, 0, 0, 0, 7]), 0, 8);
 * fh.offsetBytes; // 8
 * fh.moreFragments; // true
 * ```
 */
export class FragmentHeader extends WireView {
  /** Type of the header after the fragmentable part's start. */
  get nextHeader(): number {
    return this.buf[this.off];
  }
  /** Fragment offset in bytes (the field counts 8-byte units). */
  get offsetBytes(): number {
    return ((this.buf[this.off + 2] << 8) | this.buf[this.off + 3]) & 0xfff8;
  }
  /** The M flag. */
  get moreFragments(): boolean {
    return (this.buf[this.off + 3] & 1) !== 0;
  }
  /** Identification (unsigned 32-bit). */
  get identification(): number {
    const b = this.buf;
    const o = this.off + 4;
    return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  }
  /** An atomic fragment (offset 0, M clear; RFC 6946): processed as a whole datagram. */
  get isAtomic(): boolean {
    return (((this.buf[this.off + 2] << 8) | this.buf[this.off + 3]) & 0xfff9) === 0;
  }
}

/**
 * Write a fragment header at `buf[off..]`; returns {@link IPV6_FRAGMENT_HEADER_BYTES}.
 *
 * @example
 * ```ts
 * const b = new Uint8Array(8);
 * writeFragmentHeader(b, 0, 17, 1232, true, 0x1234);
 * ```
 */
export function writeFragmentHeader(
  buf: Uint8Array,
  off: number,
  nextHeader: number,
  offsetBytes: number,
  more: boolean,
  identification: number,
): number {
  const w = (offsetBytes & 0xfff8) | (more ? 1 : 0);
  buf[off] = nextHeader;
  buf[off + 1] = 0;
  buf[off + 2] = w >>> 8;
  buf[off + 3] = w;
  buf[off + 4] = identification >>> 24;
  buf[off + 5] = identification >>> 16;
  buf[off + 6] = identification >>> 8;
  buf[off + 7] = identification;
  return IPV6_FRAGMENT_HEADER_BYTES;
}
