/**
 * IPv6 address facts the layer needs: the well-known multicast groups, solicited-node groups
 * (RFC 4291 §2.7.1), the Ethernet mapping of multicast (RFC 2464 §7), modified EUI-64
 * interface identifiers (RFC 4291 App. A, as Linux forms them by default) and the source
 * addresses a datagram from the wire may never carry.
 *
 * @module
 */

import { type IpAddr, IpAddress } from "./ip_address.ts";

/** `::`, the unspecified address. */
export const IPV6_UNSPECIFIED: IpAddress = new IpAddress(0, 0, 0, 0);
/** `::1`, the loopback address. */
export const IPV6_LOOPBACK: IpAddress = new IpAddress(0, 0, 0, 1);
/** `ff02::1`, all nodes on the link (RFC 4291 §2.7.1). */
export const IPV6_ALL_NODES: IpAddress = new IpAddress(0xff020000, 0, 0, 1);
/** `ff02::2`, all routers on the link. */
export const IPV6_ALL_ROUTERS: IpAddress = new IpAddress(0xff020000, 0, 0, 2);
/** `ff02::16`, all MLDv2-capable routers (RFC 3810 §5.2.14): where reports go. */
export const IPV6_ALL_MLDV2_ROUTERS: IpAddress = new IpAddress(0xff020000, 0, 0, 0x16);

/**
 * The solicited-node multicast group of `a`: ff02::1:ff00:0/104 plus the low 24 bits of `a`
 * (RFC 4291 §2.7.1). Neighbour solicitations for `a` go there.
 *
 * @example
 * ```ts
 * solicitedNode(IpAddress.parse("fd00:5::2")).toString(); // "ff02::1:ff00:2"
 * ```
 */
export function solicitedNode(a: IpAddr): IpAddress {
  return new IpAddress(0xff020000, 0, 1, 0xff000000 | (a.w3 & 0xffffff));
}

/**
 * True when `a` is the solicited-node group of some address ending in the low 24 bits `low24`.
 *
 * @example
 * ```ts
 * isSolicitedNodeOf(IpAddress.parse("ff02::1:ff00:2"), 2); // true
 * ```
 */
export function isSolicitedNodeOf(a: IpAddr, low24: number): boolean {
  return a.w0 === 0xff020000 && a.w1 === 0 && a.w2 === 1 &&
    a.w3 === ((0xff000000 | (low24 & 0xffffff)) >>> 0);
}

/**
 * Write the Ethernet destination of IPv6 multicast `group` at `mac[off..]`: 33:33 followed by
 * its low 32 bits (RFC 2464 §7).
 *
 * @example
 * ```ts
 * const mac = new Uint8Array(6);
 * multicastMac(IpAddress.parse("ff02::1"), mac, 0); // 33:33:00:00:00:01
 * ```
 */
export function multicastMac(group: IpAddr, mac: Uint8Array, off: number): void {
  mac[off] = 0x33;
  mac[off + 1] = 0x33;
  mac[off + 2] = group.w3 >>> 24;
  mac[off + 3] = group.w3 >>> 16;
  mac[off + 4] = group.w3 >>> 8;
  mac[off + 5] = group.w3;
}

/**
 * The modified EUI-64 interface identifier of a 48-bit MAC (RFC 4291 App. A, RFC 2464 §4):
 * ff:fe inserted in the middle and the universal/local bit inverted. Returned as the two low
 * words of an address.
 *
 * @example
 * ```ts
 * eui64InterfaceId(new Uint8Array([2, 0, 0, 0, 0, 0xa])); // [0x000000ff, 0xfe00000a]
 * ```
 */
export function eui64InterfaceId(mac: Uint8Array): [number, number] {
  const hi = (((mac[0] ^ 0x02) << 24) | (mac[1] << 16) | (mac[2] << 8) | 0xff) >>> 0;
  const lo = ((0xfe << 24) | (mac[3] << 16) | (mac[4] << 8) | mac[5]) >>> 0;
  return [hi, lo];
}

/**
 * The link-local address Linux gives an Ethernet interface by default
 * (`addr_gen_mode` eui64): fe80::/64 + the modified EUI-64 of its MAC (RFC 4862 §5.3).
 *
 * @example
 * ```ts
 * linkLocalFromMac(new Uint8Array([2, 0, 0, 0, 0, 0xa])).toString(); // "fe80::ff:fe00:a"
 * ```
 */
export function linkLocalFromMac(mac: Uint8Array): IpAddress {
  const [hi, lo] = eui64InterfaceId(mac);
  return new IpAddress(0xfe800000, 0, hi, lo);
}

/**
 * The address `prefix`/64 + the modified EUI-64 of `mac` (SLAAC, RFC 4862 §5.5.3 (d)).
 *
 * @example
 * ```ts
 * slaacAddress(IpAddress.parse("fd00:6::"), new Uint8Array([2, 0, 0, 0, 0, 0xa]));
 * ```
 */
export function slaacAddress(prefix: IpAddr, mac: Uint8Array): IpAddress {
  const [hi, lo] = eui64InterfaceId(mac);
  return new IpAddress(prefix.w0, prefix.w1, hi, lo);
}

/**
 * The multicast scope of `a` (RFC 4291 §2.7: 1 interface, 2 link, 5 site, 14 global).
 *
 * @example
 * ```ts
 * multicastScope(IpAddress.parse("ff02::1")); // 2
 * ```
 */
export function multicastScope(a: IpAddr): number {
  return (a.w0 >>> 16) & 0x0f;
}

/**
 * True when the 16-byte source address at `buf[off..]` can never arrive from a link:
 * multicast (RFC 4291 §2.7), loopback `::1` (RFC 4291 §2.5.3) and IPv4-mapped addresses
 * (RFC 4291 §2.5.5.2; Linux drops them too). `::` is legal only for DAD and MLD and is judged
 * by their handlers.
 *
 * @example
 * ```ts
 * isIpv6MartianSource(IpAddress.parse("ff02::1").toBytes(), 0); // true
 * ```
 */
export function isIpv6MartianSource(buf: Uint8Array, off: number): boolean {
  if (buf[off] === 0xff) return true;
  for (let i = 0; i < 10; i++) if (buf[off + i] !== 0) return false;
  const w2lo = (buf[off + 10] << 8) | buf[off + 11];
  if (w2lo === 0xffff) return true;
  if (w2lo !== 0) return false;
  return buf[off + 12] === 0 && buf[off + 13] === 0 && buf[off + 14] === 0 && buf[off + 15] === 1;
}
