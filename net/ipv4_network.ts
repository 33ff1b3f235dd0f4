/**
 * IPv4 seen through the family-neutral {@link NetworkLayer} interface the transports use:
 * addresses arrive as {@link IpAddr} (IPv4-mapped) and leave as the 32-bit numbers the IPv4
 * layer works in. Handlers registered here receive {@link NetRxMeta} deliveries and
 * {@link NetError}s exactly as they do from IPv6.
 *
 * @module
 */

import { GSO_TCPV4, type TxOffload } from "../link/driver.ts";
import type { PacketBuffer } from "../core/packet_buffer.ts";
import type { IpAddr } from "./ip_address.ts";
import { isIpv4LimitedBroadcast } from "./ipv4_address.ts";
import type { Ipv4Layer } from "./ipv4.ts";
import type { Icmpv4Layer } from "./icmpv4.ts";
import { IPV4_HEADER_MIN_BYTES, IPV4_MAX_TOTAL_LENGTH } from "./ipv4_header.ts";
import { ICMPV4_UNREACH_PORT } from "./icmpv4_header.ts";
import type { NetProtocolHandler, NetRoute, NetRxMeta, NetworkLayer } from "./network_layer.ts";
import { RouteResult } from "./route_table.ts";

/** RFC 791: the datagram size every IPv4 host accepts. */
const IPV4_MIN_DATAGRAM_BYTES = 576;

/**
 * The {@link NetworkLayer} of an {@link Ipv4Layer}.
 *
 * @example
 * ```ts ignore
 * const v4 = new Ipv4Network(stack.ipv4, stack.icmp);
 * v4.route(IpAddress.parse("198.18.0.1"), route);
 * ```
 */
export class Ipv4Network implements NetworkLayer {
  /** Family 4. */
  readonly family = 4 as const;
  /** The option-less IPv4 header. */
  readonly headerBytes: number = IPV4_HEADER_MIN_BYTES;
  /** 65535 − 20. */
  readonly maxPayloadBytes: number = IPV4_MAX_TOTAL_LENGTH - IPV4_HEADER_MIN_BYTES;
  /** RFC 768: a zero UDP checksum means "none" over IPv4. */
  readonly udpChecksumOptional = true;
  /** RFC 791: every host takes 576-byte datagrams. */
  readonly minMtu: number = IPV4_MIN_DATAGRAM_BYTES;
  /** TCP super-segments over IPv4. */
  readonly gsoTcpType: number = GSO_TCPV4;
  readonly #ip: Ipv4Layer;
  readonly #icmp: Icmpv4Layer;
  readonly #rr = new RouteResult();

  /** View `ip` as a network layer; `icmp` answers for it. */
  constructor(ip: Ipv4Layer, icmp: Icmpv4Layer) {
    this.#ip = ip;
    this.#icmp = icmp;
    ip.attachNetwork(this);
  }

  /** The TTL of datagrams we originate. */
  get defaultHopLimit(): number {
    return this.#ip.defaultTtl;
  }

  /** Route to an IPv4(-mapped) `dst`. */
  route(dst: IpAddr, out: NetRoute): boolean {
    const rr = this.#rr;
    if (dst.family !== 4 || !this.#ip.routeAddr(dst, rr)) return false;
    out.net = this;
    out.nicIndex = rr.nicIndex;
    out.nextHop.setV4(rr.nextHop);
    out.source.setV4(rr.source);
    out.linkMtu = this.#ip.mtuOf(rr.nicIndex);
    out.link = this.#ip.link(rr.nicIndex) ?? null;
    return true;
  }

  /** The path MTU towards `dst`: the link MTU, lowered by fragmentation needed (RFC 1191). */
  pathMtu(dst: IpAddr, route: NetRoute): number {
    return this.#ip.pmtu.mtuFor(dst, route.linkMtu);
  }

  /** Lower the path MTU towards `dst` (see {@link NetworkLayer.lowerPathMtu}). */
  lowerPathMtu(dst: IpAddr, mtu: number, linkMtu: number): number {
    return this.#ip.pmtu.lower(dst, mtu, linkMtu);
  }

  /** The IPv4 pseudo-header sum (RFC 9293 §3.1, RFC 768). */
  pseudoHeaderSum(src: IpAddr, dst: IpAddr, protocol: number, l4Length: number): number {
    // Summed here, not passed on as u32 numbers (a new heap number each ≥ 64.0.0.0).
    const s = src.w3;
    const d = dst.w3;
    return (s >>> 16) + (s & 0xffff) + (d >>> 16) + (d & 0xffff) + protocol + l4Length;
  }

  /** True when `a` is one of our IPv4 addresses. */
  isLocalAddress(a: IpAddr): boolean {
    return a.family === 4 && this.#ip.isLocalAddr(a);
  }

  /** 255.255.255.255, or a directed broadcast of a subnet (on `nicIndex`, any when 0). */
  isBroadcast(a: IpAddr, nicIndex: number): boolean {
    if (a.family !== 4) return false;
    if (isIpv4LimitedBroadcast(a.w3)) return true;
    if (nicIndex !== 0) return this.#ip.isBroadcastOn(nicIndex, a.w3);
    for (const x of this.#ip.addresses()) if (x.broadcast === a.w3) return true;
    return false;
  }

  /** Send along `route` (see {@link NetworkLayer.send}). */
  send(
    pb: PacketBuffer,
    route: NetRoute,
    src: IpAddr,
    dst: IpAddr,
    protocol: number,
    hopLimit: number,
    tos: number,
    dontFragment: boolean,
    offload: TxOffload | null,
  ): boolean {
    const rr = this.#rr;
    rr.nicIndex = route.nicIndex;
    rr.nextHop = route.nextHop.w3;
    rr.source = route.source.w3;
    // The addresses go as records (read in place), not as u32 numbers: boxed ≥ 64.0.0.0.
    return this.#ip.sendAddr(pb, rr, src, dst, protocol, hopLimit, tos, dontFragment, offload);
  }

  /** Register a family-neutral handler of `protocol`. */
  registerHandler(protocol: number, handler: NetProtocolHandler): void {
    this.#ip.registerProtocol(protocol, handler);
  }

  /** ICMP port unreachable for the datagram `meta` describes (RFC 1122 §3.2.2.1). */
  sendPortUnreachable(meta: NetRxMeta): void {
    this.#icmp.sendDestUnreachable(meta, ICMPV4_UNREACH_PORT);
  }
}
