/**
 * Neighbor Discovery wire formats (RFC 4861 §4): the fixed parts of router solicitation and
 * advertisement, neighbour solicitation and advertisement and redirect, their options (§4.6),
 * an allocation-free option cursor, and the writers of the messages the stack sends.
 *
 * Offsets are from the start of the ICMPv6 message (type at 0).
 *
 * @module
 */

import { type IpAddr, type IpAddressScratch, writeIp6 } from "./ip_address.ts";
import {
  ICMPV6_NEIGHBOR_ADVERT,
  ICMPV6_NEIGHBOR_SOLICIT,
  ICMPV6_ROUTER_SOLICIT,
  writeIcmpv6Header,
} from "./icmpv6_header.ts";
import { copyMac } from "../link/ethernet.ts";

/** Bytes before the options of a router solicitation. */
export const NDP_RS_BYTES = 8;
/** Bytes before the options of a router advertisement. */
export const NDP_RA_BYTES = 16;
/** Bytes before the options of a neighbour solicitation. */
export const NDP_NS_BYTES = 24;
/** Bytes before the options of a neighbour advertisement. */
export const NDP_NA_BYTES = 24;
/** Bytes before the options of a redirect. */
export const NDP_REDIRECT_BYTES = 40;
/** Offset of the target address in NS, NA and redirect. */
export const NDP_TARGET_OFFSET = 8;
/** Offset of the destination address in a redirect. */
export const NDP_REDIRECT_DEST_OFFSET = 24;

/** Option: source link-layer address. */
export const NDP_OPT_SOURCE_LL = 1;
/** Option: target link-layer address. */
export const NDP_OPT_TARGET_LL = 2;
/** Option: prefix information (RFC 4861 §4.6.2). */
export const NDP_OPT_PREFIX_INFO = 3;
/** Option: redirected header. */
export const NDP_OPT_REDIRECTED_HEADER = 4;
/** Option: MTU (RFC 4861 §4.6.4). */
export const NDP_OPT_MTU = 5;
/** Bytes of a link-layer address option for Ethernet. */
export const NDP_LL_OPTION_BYTES = 8;

/** NA flag: router. */
export const NA_FLAG_ROUTER = 0x80000000;
/** NA flag: solicited. */
export const NA_FLAG_SOLICITED = 0x40000000;
/** NA flag: override. */
export const NA_FLAG_OVERRIDE = 0x20000000;

/** Prefix information flag: on-link (L). */
export const PREFIX_FLAG_ON_LINK = 0x80;
/** Prefix information flag: autonomous address configuration (A). */
export const PREFIX_FLAG_AUTONOMOUS = 0x40;

/**
 * Walks the options of an NDP message without allocating. `start` then `next()` until false;
 * `valid` tells whether the walk ended cleanly (RFC 4861 §4.6: a zero length or an option
 * past the end invalidates the whole message).
 *
 * @example
 * ```ts
 * const c = new NdpOptionCursor();
 * c.start(buf, off + NDP_NS_BYTES, len - NDP_NS_BYTES);
 * while (c.next()) if (c.type === NDP_OPT_SOURCE_LL) console.log(c.optOff);
 * ```
 */
export class NdpOptionCursor {
  /** Bytes walked. */
  buf: Uint8Array = new Uint8Array(0);
  /** Type of the current option. */
  type = 0;
  /** Offset of the current option (its type byte) in `buf`. */
  optOff = 0;
  /** Bytes of the current option (length × 8). */
  optLen = 0;
  /** False once a malformed option was met. */
  valid = true;
  #at = 0;
  #end = 0;

  /** Walk `buf[off, off + len)`. */
  start(buf: Uint8Array, off: number, len: number): this {
    this.buf = buf;
    this.#at = off;
    this.#end = off + len;
    this.valid = true;
    return this;
  }

  /** Step to the next option; false at the end or on a malformed one (`valid` false then). */
  next(): boolean {
    const at = this.#at;
    if (at >= this.#end) return false;
    if (at + 2 > this.#end) {
      this.valid = false;
      return false;
    }
    const bytes = this.buf[at + 1] << 3;
    if (bytes === 0 || at + bytes > this.#end) {
      this.valid = false;
      return false;
    }
    this.type = this.buf[at];
    this.optOff = at;
    this.optLen = bytes;
    this.#at = at + bytes;
    return true;
  }
}

/**
 * True when the options in `buf[off, off + len)` are all well formed (RFC 4861 §4.6).
 *
 * @example
 * ```ts
 * ndpOptionsValid(new Uint8Array([1, 0]), 0, 2); // false: zero length
 * ```
 */
export function ndpOptionsValid(buf: Uint8Array, off: number, len: number): boolean {
  const c = VALIDATOR.start(buf, off, len);
  while (c.next()) { /* walk */ }
  return c.valid;
}
const VALIDATOR = new NdpOptionCursor();

/**
 * Offset of the first option of type `type` in `buf[off, off + len)` (already validated), or
 * -1. With `minBytes`, shorter options of that type are skipped.
 *
 * @example
 * ```ts
 * findNdpOption(buf, off + NDP_NS_BYTES, len - NDP_NS_BYTES, NDP_OPT_SOURCE_LL, 8);
 * ```
 */
export function findNdpOption(
  buf: Uint8Array,
  off: number,
  len: number,
  type: number,
  minBytes = 0,
): number {
  const c = FINDER.start(buf, off, len);
  while (c.next()) if (c.type === type && c.optLen >= minBytes) return c.optOff;
  return -1;
}
const FINDER = new NdpOptionCursor();

/**
 * A prefix information option (RFC 4861 §4.6.2) at `buf[off..]` (32 bytes).
 *
 * ```text
 * | Type=3 | Length=4 | Prefix Length |L|A| Reserved1 |
 * |                 Valid Lifetime                    |
 * |               Preferred Lifetime                  |
 * |                   Reserved2                       |
 * |                  Prefix (128 bits)                |
 * ```
 *
 * @example
 * ```ts
 * const pi = new PrefixInfoView();
 * pi.attach(buf, optOff);
 * if (pi.autonomous) console.log(pi.validLifetime);
 * ```
 */
export class PrefixInfoView {
  /** Bytes holding the option. */
  buf: Uint8Array = new Uint8Array(0);
  /** Offset of the option's type byte. */
  off = 0;
  /** Point at the option at `buf[off..]`; returns `this`. */
  attach(buf: Uint8Array, off: number): this {
    this.buf = buf;
    this.off = off;
    return this;
  }
  /** Prefix length in bits. */
  get prefixLength(): number {
    return this.buf[this.off + 2];
  }
  /** The L flag. */
  get onLink(): boolean {
    return (this.buf[this.off + 3] & PREFIX_FLAG_ON_LINK) !== 0;
  }
  /** The A flag. */
  get autonomous(): boolean {
    return (this.buf[this.off + 3] & PREFIX_FLAG_AUTONOMOUS) !== 0;
  }
  /** Valid lifetime in seconds (0xffffffff = infinity). */
  get validLifetime(): number {
    return read32(this.buf, this.off + 4);
  }
  /** Preferred lifetime in seconds (0xffffffff = infinity). */
  get preferredLifetime(): number {
    return read32(this.buf, this.off + 8);
  }
  /** Load the prefix into `out`; returns it. */
  readPrefix(out: IpAddressScratch): IpAddressScratch {
    return out.setFrom6(this.buf, this.off + 16);
  }
}

/**
 * The fixed part of a router advertisement (RFC 4861 §4.2) at `buf[off..]`.
 *
 * @example
 * ```ts
 * const ra = new RouterAdvertView().attach(buf, off);
 * ra.routerLifetime; // seconds; 0 = not a default router
 * ```
 */
export class RouterAdvertView {
  /** Bytes holding the message. */
  buf: Uint8Array = new Uint8Array(0);
  /** Offset of the ICMPv6 type byte. */
  off = 0;
  /** Point at the message; returns `this`. */
  attach(buf: Uint8Array, off: number): this {
    this.buf = buf;
    this.off = off;
    return this;
  }
  /** Cur hop limit (0 = unspecified). */
  get curHopLimit(): number {
    return this.buf[this.off + 4];
  }
  /** The M (managed) and O (other) flags byte. */
  get flags(): number {
    return this.buf[this.off + 5];
  }
  /** Router lifetime in seconds (0 = not a default router). */
  get routerLifetime(): number {
    return (this.buf[this.off + 6] << 8) | this.buf[this.off + 7];
  }
  /** Reachable time in ms (0 = unspecified). */
  get reachableTime(): number {
    return read32(this.buf, this.off + 8);
  }
  /** Retrans timer in ms (0 = unspecified). */
  get retransTimer(): number {
    return read32(this.buf, this.off + 12);
  }
}

function read32(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

/** Write a link-layer address option of `type` with `mac` at `buf[off..]`; returns 8. */
function writeLlOption(buf: Uint8Array, off: number, type: number, mac: Uint8Array): number {
  buf[off] = type;
  buf[off + 1] = 1;
  copyMac(mac, 0, buf, off + 2);
  return NDP_LL_OPTION_BYTES;
}

/**
 * Write a neighbour solicitation for `target` at `buf[off..]`, with a source link-layer
 * address option when `sourceMac` is given (it must be omitted when the source is `::`,
 * RFC 4861 §4.3). Returns its length; the checksum is left zero.
 *
 * @example
 * ```ts
 * const n = writeNeighborSolicit(buf, o, IpAddress.parse("fd00:5::1"), myMac);
 * ```
 */
export function writeNeighborSolicit(
  buf: Uint8Array,
  off: number,
  target: IpAddr,
  sourceMac: Uint8Array | null,
): number {
  writeIcmpv6Header(buf, off, ICMPV6_NEIGHBOR_SOLICIT, 0, 0);
  writeIp6(buf, off + NDP_TARGET_OFFSET, target);
  if (sourceMac === null) return NDP_NS_BYTES;
  return NDP_NS_BYTES + writeLlOption(buf, off + NDP_NS_BYTES, NDP_OPT_SOURCE_LL, sourceMac);
}

/**
 * Write a neighbour advertisement for `target` with `flags` (`NA_FLAG_*`) and a target
 * link-layer address option at `buf[off..]`. Returns its length; the checksum is left zero.
 *
 * @example
 * ```ts
 * writeNeighborAdvert(buf, o, NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE, myAddr, myMac);
 * ```
 */
export function writeNeighborAdvert(
  buf: Uint8Array,
  off: number,
  flags: number,
  target: IpAddr,
  targetMac: Uint8Array,
): number {
  writeIcmpv6Header(buf, off, ICMPV6_NEIGHBOR_ADVERT, 0, flags);
  writeIp6(buf, off + NDP_TARGET_OFFSET, target);
  return NDP_NA_BYTES + writeLlOption(buf, off + NDP_NA_BYTES, NDP_OPT_TARGET_LL, targetMac);
}

/**
 * Write a router solicitation at `buf[off..]`, with a source link-layer address option unless
 * `sourceMac` is null (it must be omitted when sent from `::`, RFC 4861 §4.1).
 *
 * @example
 * ```ts
 * writeRouterSolicit(buf, o, myMac); // 16
 * ```
 */
export function writeRouterSolicit(
  buf: Uint8Array,
  off: number,
  sourceMac: Uint8Array | null,
): number {
  writeIcmpv6Header(buf, off, ICMPV6_ROUTER_SOLICIT, 0, 0);
  if (sourceMac === null) return NDP_RS_BYTES;
  return NDP_RS_BYTES + writeLlOption(buf, off + NDP_RS_BYTES, NDP_OPT_SOURCE_LL, sourceMac);
}
