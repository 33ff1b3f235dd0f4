/**
 * The network layer as the transports see it, the same for IPv4 and IPv6: route to an
 * address, the MTU towards it, the pseudo-header sum, send, and the two upcalls — a datagram
 * delivered, an ICMP error about one we sent. TCP and UDP are written once against this; they
 * never branch on the family beyond asking the layer.
 *
 * @module
 */

import type { TxOffload } from "../link/driver.ts";
import type { LinkEndpoint } from "../link/link_endpoint.ts";
import type { PacketBuffer } from "../core/packet_buffer.ts";
import type { ErrnoCode } from "../core/errors.ts";
import { type IpAddr, IpAddressScratch, type IpFamily } from "./ip_address.ts";

/** Error kind: the port is unreachable (ICMP 3/3, ICMPv6 1/4). */
export const NET_ERR_PORT_UNREACHABLE = 1;
/** Error kind: the host or address is unreachable. */
export const NET_ERR_HOST_UNREACHABLE = 2;
/** Error kind: no route to the network. */
export const NET_ERR_NET_UNREACHABLE = 3;
/** Error kind: the protocol is unreachable (ICMP 3/2, ICMPv6 parameter problem 1). */
export const NET_ERR_PROTOCOL_UNREACHABLE = 4;
/** Error kind: administratively prohibited. */
export const NET_ERR_PROHIBITED = 5;
/** Error kind: the datagram was too big for a hop (`mtu` says how big may pass). */
export const NET_ERR_TOO_BIG = 6;
/** Error kind: time (TTL, hop limit or reassembly) exceeded. */
export const NET_ERR_TIME_EXCEEDED = 7;
/** Error kind: a header field was refused. */
export const NET_ERR_PARAMETER_PROBLEM = 8;

/**
 * The errno a socket reports for an error kind (Linux's `icmpv6_err_convert` and
 * `icmp_err_convert`): ECONNREFUSED for an unreachable port, EMSGSIZE for too big, …
 *
 * @example
 * ```ts
 * errnoOfNetError(NET_ERR_PORT_UNREACHABLE); // "ECONNREFUSED"
 * ```
 */
export function errnoOfNetError(kind: number): ErrnoCode {
  switch (kind) {
    case NET_ERR_PORT_UNREACHABLE:
      return "ECONNREFUSED";
    case NET_ERR_NET_UNREACHABLE:
      return "ENETUNREACH";
    case NET_ERR_PROTOCOL_UNREACHABLE:
      return "ENOPROTOOPT";
    case NET_ERR_PROHIBITED:
      return "EACCES";
    case NET_ERR_TOO_BIG:
      return "EMSGSIZE";
    case NET_ERR_PARAMETER_PROBLEM:
      return "EPROTONOSUPPORT";
    default:
      return "EHOSTUNREACH";
  }
}

/** True for the error kinds that end a connection attempt (hard errors, RFC 1122 §4.2.3.9). */
export function isHardNetError(kind: number): boolean {
  return kind === NET_ERR_PORT_UNREACHABLE || kind === NET_ERR_PROTOCOL_UNREACHABLE;
}

/** Where a datagram goes: filled by {@link NetworkLayer.route}, kept by a connection. */
export class NetRoute {
  /** The layer that sends it. */
  net: NetworkLayer | null = null;
  /** NIC index. */
  nicIndex = 0;
  /** The neighbour to resolve: the destination when on-link, else a router. */
  readonly nextHop: IpAddressScratch = new IpAddressScratch();
  /** Preferred source address. */
  readonly source: IpAddressScratch = new IpAddressScratch();
  /** MTU of the link the route leaves through. */
  linkMtu = 0;
  /** The link it leaves through (its offload capabilities). */
  link: LinkEndpoint | null = null;
}

/** Facts about a datagram delivered up; one record per layer, refilled for every packet. */
export class NetRxMeta {
  /** The layer that delivered it (to answer through, e.g. a port unreachable). */
  net: NetworkLayer | null = null;
  /** 4 or 6. */
  family: IpFamily = 6;
  /** NIC it arrived on. */
  nicIndex = 0;
  /** Source address. */
  readonly src: IpAddressScratch = new IpAddressScratch();
  /** Destination address. */
  readonly dst: IpAddressScratch = new IpAddressScratch();
  /** TTL / hop limit as received. */
  hopLimit = 0;
  /** TOS / traffic class as received. */
  tos = 0;
  /** True if sent to a broadcast or multicast address. */
  toGroup = false;
  /**
   * True if the frame was not addressed to our MAC (link-layer broadcast or multicast,
   * `RX_LINK_NOT_HOST`): no ICMP error answers it.
   */
  linkNotHost = false;
  /** True when a router alert option came with it (RFC 2711; MLD needs one). */
  routerAlert = false;
  /** The buffer holding the network header and the payload. */
  buf: Uint8Array = new Uint8Array(0);
  /** Offset of the network header in `buf`. */
  headerOff = 0;
  /** Bytes of the datagram from `headerOff` (network headers + payload). */
  datagramBytes = 0;
  /** Where the network header chain says the protocol's payload starts (for error pointers). */
  payloadOff = 0;
}

/** An ICMP error about a datagram we sent, family-neutral; one record reused. */
export class NetError {
  /** 4 or 6. */
  family: IpFamily = 6;
  /** One of the `NET_ERR_*` kinds. */
  kind = 0;
  /** The ICMP type as received. */
  type = 0;
  /** The ICMP code as received. */
  code = 0;
  /**
   * The MTU a "too big" error allows (0 otherwise): the next-hop MTU reported (an ICMPv4 one
   * estimated from the RFC 1191 §5 plateaus when the router gave none). The cache is not
   * lowered yet: the transport checks the error against its state first and then calls
   * {@link NetworkLayer.lowerPathMtu}.
   */
  mtu = 0;
  /** Source of the quoted datagram (ours). */
  readonly src: IpAddressScratch = new IpAddressScratch();
  /** Destination of the quoted datagram. */
  readonly dst: IpAddressScratch = new IpAddressScratch();
  /** Who sent the error (a router or the destination). */
  readonly reporter: IpAddressScratch = new IpAddressScratch();
}

/** A transport protocol attached to a network layer. */
export interface NetProtocolHandler {
  /**
   * Deliver a datagram's payload `buf[off, off + len)`. `rxFlags` are the driver's `RX_*`
   * bits (0 for a reassembled datagram). `meta` is valid only during the call.
   */
  receive(meta: NetRxMeta, buf: Uint8Array, off: number, len: number, rxFlags: number): void;
  /**
   * An ICMP error arrived about a datagram this protocol sent: `buf[off, off + len)` is the
   * start of that datagram's transport header (at least 8 bytes).
   */
  receiveError(err: NetError, buf: Uint8Array, off: number, len: number): void;
}

/** What the transports see of IPv4 or IPv6. */
export interface NetworkLayer {
  /** The family this layer carries. */
  readonly family: IpFamily;
  /** Bytes of the network header a transport segment travels behind (20 or 40). */
  readonly headerBytes: number;
  /** Hop limit / TTL of datagrams we originate. */
  readonly defaultHopLimit: number;
  /** Largest payload of one datagram (65515 for IPv4, 65535 for IPv6 without jumbograms). */
  readonly maxPayloadBytes: number;
  /**
   * The smallest MTU every path carries: 576 for IPv4 (RFC 791: the datagram every host
   * takes), 1280 for IPv6 (RFC 8200 §5). TCP's default MSS is this less the headers.
   */
  readonly minMtu: number;
  /** The `GSO_*` type of a TCP super-segment over this family (`GSO_TCPV4`, `GSO_TCPV6`). */
  readonly gsoTcpType: number;
  /** True when UDP may send no checksum (IPv4, RFC 768); IPv6 requires one (RFC 8200 §8.1). */
  readonly udpChecksumOptional: boolean;
  /**
   * Find a route to `dst`; fills `out` and returns true, or false (no route). `zoneNic` is the
   * NIC a link-local IPv6 destination is on (its zone, or where its packet arrived; 0 = the
   * first); IPv4 ignores it.
   */
  route(dst: IpAddr, out: NetRoute, zoneNic?: number): boolean;
  /** The path MTU towards `dst` along `route` (the link MTU, lowered by "too big" errors). */
  pathMtu(dst: IpAddr, route: NetRoute): number;
  /**
   * A "too big" error about a datagram to `dst` was believed by its transport (RFC 5927):
   * lower the path MTU towards it to `mtu` (IPv4: not below the floor; IPv6: an `mtu` below
   * 1280 is ignored, RFC 8201 §4; `linkMtu` is what the route's link carries). Returns the
   * path MTU now in force when it went down, else 0.
   */
  lowerPathMtu(dst: IpAddr, mtu: number, linkMtu: number): number;
  /** The pseudo-header sum of `protocol` between `src` and `dst` for `l4Length` bytes. */
  pseudoHeaderSum(src: IpAddr, dst: IpAddr, protocol: number, l4Length: number): number;
  /** True when `a` is one of our usable addresses (any NIC). */
  isLocalAddress(a: IpAddr): boolean;
  /**
   * True when `a` is a broadcast address (the limited one, or a directed one of a subnet on
   * NIC `nicIndex`, any NIC when 0); never for IPv6, which has none.
   */
  isBroadcast(a: IpAddr, nicIndex: number): boolean;
  /**
   * Send the transport packet in `pb` (head = transport header) along `route`. Prepends the
   * network header, fragments when needed and allowed, resolves the neighbour. Takes
   * ownership of `pb`; false when it was dropped (counted).
   */
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
  ): boolean;
  /** Register the handler of `protocol` (6 TCP, 17 UDP). */
  registerHandler(protocol: number, handler: NetProtocolHandler): void;
  /** Answer the datagram `meta` describes with "port unreachable" (rate-limited, suppressed as the RFCs say). */
  sendPortUnreachable(meta: NetRxMeta): void;
}
