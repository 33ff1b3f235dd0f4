/**
 * Ethernet II framing (IEEE 802.3 with an EtherType, RFC 894): a reusable header view, a
 * writer, and MAC address helpers. Frames carry no FCS here (the device adds and strips it).
 *
 * @module
 */

import { WireView } from "./wire_view.ts";

/** Bytes in a MAC address. */
export const ETH_ADDR_BYTES = 6;
/** Bytes in an Ethernet II header: destination, source, EtherType. */
export const ETH_HEADER_BYTES = 14;
/** Offset of the destination MAC. */
export const ETH_DST_OFFSET = 0;
/** Offset of the source MAC. */
export const ETH_SRC_OFFSET = 6;
/** Offset of the 16-bit EtherType. */
export const ETH_TYPE_OFFSET = 12;
/** Smallest frame on the wire without the FCS (IEEE 802.3: 64 bytes with it): pad up to this. */
export const ETH_MIN_FRAME_BYTES = 60;

/** EtherType of IPv4 (RFC 894). */
export const ETHERTYPE_IPV4 = 0x0800;
/** EtherType of ARP (RFC 826). */
export const ETHERTYPE_ARP = 0x0806;
/** EtherType of IPv6 (RFC 2464). */
export const ETHERTYPE_IPV6 = 0x86dd;
/** EtherType of an IEEE 802.1Q VLAN tag. */
export const ETHERTYPE_VLAN = 0x8100;
/** Values below this in the type field are IEEE 802.3 lengths, not EtherTypes. */
export const ETHERTYPE_MIN = 0x0600;

/** Drop reason: fewer than 14 bytes (the `link` counter `InTruncated`). */
export const ETH_DROP_TRUNCATED = "InTruncated";
/** Every reason {@link EthernetHeader.check} can return. */
export type EthernetDropReason = typeof ETH_DROP_TRUNCATED;

/** ff:ff:ff:ff:ff:ff. Shared: never write into it. */
export const BROADCAST_MAC: Uint8Array = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/**
 * A view of an Ethernet II header at `buf[off..]`. One object is reused for every frame:
 * {@link EthernetHeader.attach} points it at the next one.
 *
 * @example
 * ```ts
 * const eth = new EthernetHeader();
 * if (eth.attach(frame, 0, frame.length).check() === null && eth.etherType === ETHERTYPE_IPV4) {
 *   handleIpv4(frame, eth.payloadOffset, eth.payloadLength);
 * }
 * ```
 */
export class EthernetHeader extends WireView {
  /** Null when the frame holds a whole header, else {@link ETH_DROP_TRUNCATED}. */
  check(): EthernetDropReason | null {
    return this.len < ETH_HEADER_BYTES ? ETH_DROP_TRUNCATED : null;
  }

  /** Offset of the destination MAC in `buf`. */
  get dstOffset(): number {
    return this.off + ETH_DST_OFFSET;
  }

  /** Offset of the source MAC in `buf`. */
  get srcOffset(): number {
    return this.off + ETH_SRC_OFFSET;
  }

  /** Offset of the payload (the byte after the EtherType). */
  get payloadOffset(): number {
    return this.off + ETH_HEADER_BYTES;
  }

  /** Bytes after the header (may include padding up to 60 bytes). */
  get payloadLength(): number {
    return this.len - ETH_HEADER_BYTES;
  }

  /** The EtherType (or 802.3 length when below {@link ETHERTYPE_MIN}). */
  get etherType(): number {
    return this.get16(ETH_TYPE_OFFSET);
  }
  set etherType(v: number) {
    this.set16(ETH_TYPE_OFFSET, v);
  }

  /** Copy the destination MAC to `to[toOff..toOff + 6)`. */
  copyDst(to: Uint8Array, toOff: number): void {
    copyMac(this.buf, this.off + ETH_DST_OFFSET, to, toOff);
  }

  /** Copy the source MAC to `to[toOff..toOff + 6)`. */
  copySrc(to: Uint8Array, toOff: number): void {
    copyMac(this.buf, this.off + ETH_SRC_OFFSET, to, toOff);
  }

  /** Set the destination MAC from `mac[macOff..macOff + 6)`. */
  setDst(mac: Uint8Array, macOff = 0): void {
    copyMac(mac, macOff, this.buf, this.off + ETH_DST_OFFSET);
  }

  /** Set the source MAC from `mac[macOff..macOff + 6)`. */
  setSrc(mac: Uint8Array, macOff = 0): void {
    copyMac(mac, macOff, this.buf, this.off + ETH_SRC_OFFSET);
  }

  /** True when the destination is ff:ff:ff:ff:ff:ff. */
  isBroadcast(): boolean {
    return macEquals(this.buf, this.off + ETH_DST_OFFSET, BROADCAST_MAC, 0);
  }

  /** True when the destination is a group address (I/G bit set), broadcast included. */
  isMulticast(): boolean {
    // IEEE 802: the least significant bit of the first octet is the individual/group bit.
    return (this.buf[this.off + ETH_DST_OFFSET] & 1) !== 0;
  }

  /** True when the destination equals `mac[macOff..macOff + 6)` (unicast to us). */
  isForMac(mac: Uint8Array, macOff = 0): boolean {
    return macEquals(this.buf, this.off + ETH_DST_OFFSET, mac, macOff);
  }
}

/** Copy 6 bytes without allocating (no subarray). */
/**
 * Copy the 6-byte MAC at `from[fromOff..]` to `to[toOff..]` (no view is made).
 *
 * @example
 * ```ts
 * const frame = new Uint8Array(14);
 * copyMac(BROADCAST_MAC, 0, frame, 0);
 * ```
 */
export function copyMac(from: Uint8Array, fromOff: number, to: Uint8Array, toOff: number): void {
  to[toOff] = from[fromOff];
  to[toOff + 1] = from[fromOff + 1];
  to[toOff + 2] = from[fromOff + 2];
  to[toOff + 3] = from[fromOff + 3];
  to[toOff + 4] = from[fromOff + 4];
  to[toOff + 5] = from[fromOff + 5];
}

/**
 * Write a 14-byte Ethernet II header at `buf[off..]`; returns {@link ETH_HEADER_BYTES}.
 * The MACs are read at `dst[dstOff..]` and `src[srcOff..]`.
 *
 * @example
 * ```ts
 * const o = pb.prepend(ETH_HEADER_BYTES);
 * writeEthernetHeader(pb.data, o, BROADCAST_MAC, myMac, ETHERTYPE_ARP);
 * ```
 */
export function writeEthernetHeader(
  buf: Uint8Array,
  off: number,
  dst: Uint8Array,
  src: Uint8Array,
  etherType: number,
  dstOff = 0,
  srcOff = 0,
): number {
  copyMac(dst, dstOff, buf, off + ETH_DST_OFFSET);
  copyMac(src, srcOff, buf, off + ETH_SRC_OFFSET);
  buf[off + ETH_TYPE_OFFSET] = etherType >>> 8;
  buf[off + ETH_TYPE_OFFSET + 1] = etherType;
  return ETH_HEADER_BYTES;
}

/**
 * True when the 6 bytes at `a[aOff..]` equal those at `b[bOff..]`.
 *
 * @example
 * ```ts
 * macEquals(frame, 0, BROADCAST_MAC, 0);
 * ```
 */
export function macEquals(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  return a[aOff] === b[bOff] && a[aOff + 1] === b[bOff + 1] && a[aOff + 2] === b[bOff + 2] &&
    a[aOff + 3] === b[bOff + 3] && a[aOff + 4] === b[bOff + 4] && a[aOff + 5] === b[bOff + 5];
}

const HEX_PAIR = /^[0-9a-fA-F]{2}$/;

/**
 * Parse `"aa:bb:cc:dd:ee:ff"` (or with `-` separators) into 6 bytes. Configuration-time API:
 * throws a `TypeError` whose message starts with `ERR_INVALID_MAC` on anything else.
 *
 * @example
 * ```ts
 * parseMac("02:00:5e:10:00:01"); // Uint8Array [2, 0, 94, 16, 0, 1]
 * ```
 */
export function parseMac(s: string): Uint8Array {
  const parts = s.split(s.includes("-") ? "-" : ":");
  if (parts.length !== ETH_ADDR_BYTES || !parts.every((p) => HEX_PAIR.test(p))) {
    throw new TypeError(`ERR_INVALID_MAC: not a MAC address: ${JSON.stringify(s)}`);
  }
  const mac = new Uint8Array(ETH_ADDR_BYTES);
  for (let i = 0; i < ETH_ADDR_BYTES; i++) mac[i] = parseInt(parts[i], 16);
  return mac;
}

/**
 * Format the 6 bytes at `mac[off..]` as lower-case `"aa:bb:cc:dd:ee:ff"`.
 *
 * @example
 * ```ts
 * formatMac(BROADCAST_MAC); // "ff:ff:ff:ff:ff:ff"
 * ```
 */
export function formatMac(mac: Uint8Array, off = 0): string {
  let s = "";
  for (let i = 0; i < ETH_ADDR_BYTES; i++) {
    const b = mac[off + i] ?? 0;
    s += (i === 0 ? "" : ":") + (b < 16 ? "0" : "") + b.toString(16);
  }
  return s;
}
