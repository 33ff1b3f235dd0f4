/**
 * The IPv6 state of one NIC: its link-local address, address list (DAD, lifetimes), neighbour
 * cache, MLD listener and the per-link parameters router advertisements set (MTU, hop limit,
 * reachable and retransmission times), and the writers of the control messages it sends —
 * neighbour solicitations and advertisements, DAD probes, router solicitations and MLDv2
 * reports, sent straight to the link (NDP and MLD are never routed).
 *
 * @module
 */

import type { LinkEndpoint } from "../link/link_endpoint.ts";
import type { Clock } from "../core/clock.ts";
import type { Counters } from "../core/counters.ts";
import type { BufferPool, PacketBuffer } from "../core/packet_buffer.ts";
import { HEADROOM_BYTES } from "../core/packet_buffer.ts";
import type { TimerWheel } from "../core/timer_wheel.ts";
import { pseudoHeaderSumIp } from "./checksum.ts";
import { inPrefix, type IpAddr, type IpAddress, isLinkLocal, isMulticast } from "./ip_address.ts";
import {
  IPV6_ALL_MLDV2_ROUTERS,
  IPV6_ALL_NODES,
  IPV6_ALL_ROUTERS,
  IPV6_UNSPECIFIED,
  linkLocalFromMac,
  multicastMac,
  solicitedNode,
} from "./ipv6_address.ts";
import {
  Ipv6AddressList,
  type Ipv6AddressOptions,
  type Ipv6AddressOwner,
  type Ipv6AddressState,
  type Ipv6InterfaceAddress,
} from "./ipv6_addresses.ts";
import { IPV6_HEADER_BYTES, IPV6_NH_HOP_BY_HOP, IPV6_NH_ICMPV6, Ipv6Repr } from "./ipv6_header.ts";
import { ETHERTYPE_IPV6 } from "../link/ethernet.ts";
import { Icmpv6Header } from "./icmpv6_header.ts";
import { MldListener, type MldOptions, type MldOwner } from "./mld.ts";
import { writeMldv2Report } from "./mld_header.ts";
import { NdpCache, type NdpCacheOptions, type NdpCacheOwner } from "./ndp_cache.ts";
import {
  NA_FLAG_OVERRIDE,
  NA_FLAG_ROUTER,
  NA_FLAG_SOLICITED,
  writeNeighborAdvert,
  writeNeighborSolicit,
  writeRouterSolicit,
} from "./ndp_header.ts";

/** NDP messages go out with hop limit 255 so receivers know they were not forwarded (RFC 4861 §3.1). */
export const NDP_HOP_LIMIT = 255;
/** NDP nonce option (RFC 3971 §5.3.2, used by DAD per RFC 7527). */
export const NDP_OPT_NONCE = 14;

/** The hop-by-hop header with a router alert for MLD (RFC 3810 §5, RFC 2711): nh, 0, RA(2), PadN(0). */
const ROUTER_ALERT_HBH = new Uint8Array([IPV6_NH_ICMPV6, 0, 5, 2, 0, 0, 1, 0]);

/** How an interface reports to the IPv6 layer. */
export interface Ipv6Output {
  /** Neighbour resolution for the packet in `pb` failed: report and free it. */
  unreachable(nicIndex: number, pb: PacketBuffer): void;
  /** An address of the interface changed state. */
  addressChanged(a: Ipv6InterfaceAddress, event: Ipv6AddressState | "removed"): void;
}

/** Tunables of an interface. */
export interface Ipv6InterfaceOptions {
  /** Neighbour cache. */
  ndp?: NdpCacheOptions;
  /** Address configuration and DAD. */
  addresses?: Ipv6AddressOptions;
  /** MLD. */
  mld?: MldOptions;
}

/**
 * One NIC's IPv6 state.
 *
 * @example
 * ```ts ignore
 * const iface = new Ipv6Interface(nic, layer, pool, timers, clock, stats);
 * iface.start(); // link-local address, DAD
 * ```
 */
export class Ipv6Interface implements NdpCacheOwner, Ipv6AddressOwner, MldOwner {
  /** The link. */
  readonly link: LinkEndpoint;
  /** NIC index. */
  readonly index: number;
  /** The link-local address from the MAC (modified EUI-64). */
  readonly linkLocal: IpAddress;
  /** Neighbour cache. */
  readonly neighbours: NdpCache;
  /** Addresses. */
  readonly addresses: Ipv6AddressList;
  /** Multicast listener. */
  readonly mld: MldListener;
  /** IPv6 MTU of the link (an RA MTU option may lower it, never raise it past the link's). */
  mtu: number;
  /** Hop limit for datagrams we originate (an RA may set it). */
  hopLimit = 64;
  readonly #out: Ipv6Output;
  readonly #pool: BufferPool;
  readonly #stats: Counters;
  readonly #icmp6: Counters;
  readonly #hdr = new Icmpv6Header();
  readonly #ip6: Counters;
  readonly #repr = new Ipv6Repr();
  readonly #mac = new Uint8Array(6);

  /** Build the state of `link`; `stats` holds the `ndp` and `icmp6` counter groups. */
  constructor(
    link: LinkEndpoint,
    out: Ipv6Output,
    pool: BufferPool,
    timers: TimerWheel,
    clock: Clock,
    stats: { readonly ip6: Counters; readonly ndp: Counters; readonly icmp6: Counters },
    opts: Ipv6InterfaceOptions = {},
  ) {
    this.link = link;
    this.index = link.index;
    this.mtu = link.mtu;
    this.#out = out;
    this.#pool = pool;
    this.#stats = stats.ndp;
    this.#icmp6 = stats.icmp6;
    this.#ip6 = stats.ip6;
    this.linkLocal = linkLocalFromMac(link.mac);
    this.neighbours = new NdpCache(link, this, pool, timers, clock, stats.ndp, opts.ndp);
    this.addresses = new Ipv6AddressList(
      link.index,
      this,
      timers,
      clock,
      stats.ndp,
      opts.addresses,
    );
    this.mld = new MldListener(link.index, this, timers, clock, stats.ndp, opts.mld);
  }

  /** Bring IPv6 up: the link-local address (RFC 4862 §5.3), tentative until DAD is done. */
  start(): Ipv6InterfaceAddress {
    return this.addresses.add(this.linkLocal, 64, "link-local");
  }

  /** Set RetransTimer (ms) for neighbour probes and DAD. */
  setRetransMs(ms: number): void {
    this.neighbours.retransMs = ms;
    this.addresses.retransMs = ms;
  }

  /** The usable link-local address, or null while none is. */
  usableLinkLocal(): IpAddress | null {
    for (const a of this.addresses.list()) if (a.usable && isLinkLocal(a.addr)) return a.addr;
    return null;
  }

  /**
   * The source address for `dst` (RFC 6724 §5, the rules a host with few addresses needs): the
   * link-local one for a link-local or multicast destination; else a usable address, preferred
   * before deprecated, the longest matching prefix first; else the link-local one. Null when
   * no address is usable.
   */
  sourceFor(dst: IpAddr): IpAddress | null {
    if (isLinkLocal(dst)) return this.usableLinkLocal();
    let best: Ipv6InterfaceAddress | null = null;
    let bestScore = -1;
    for (const a of this.addresses.list()) {
      if (!a.usable || isLinkLocal(a.addr)) continue;
      const score = (a.state === "preferred" ? 1000 : 0) + commonPrefixBits(a.addr, dst);
      if (score > bestScore) {
        best = a;
        bestScore = score;
      }
    }
    return best?.addr ?? this.usableLinkLocal();
  }

  // NdpCacheOwner

  /** Send a neighbour solicitation for `target` (RFC 4861 §7.2.2). */
  sendSolicit(_nic: number, target: IpAddr, unicastMac: Uint8Array | null): void {
    const src = this.#solicitSource(target);
    if (src === null) {
      this.#stats.OutNoSource++;
      return;
    }
    const dst = unicastMac === null ? solicitedNode(target) : target;
    const pb = this.#alloc();
    if (pb === null) return;
    const o = pb.tail;
    const n = writeNeighborSolicit(pb.data, o, target, this.link.mac);
    pb.append(n);
    this.#finish(pb, o, n, src, dst);
    if (this.#sendControl(pb, src, dst, NDP_HOP_LIMIT, false, unicastMac)) {
      this.#icmp6.OutMsgs++;
      this.#icmp6.OutNeighborSolicits++;
    }
  }

  /** Report the failed packet (address unreachable) through the layer. */
  unreachable(nic: number, pb: PacketBuffer): void {
    this.#out.unreachable(nic, pb);
  }

  // Ipv6AddressOwner

  /** DAD probe: NS from `::` to the solicited-node group, no source link-layer option, a nonce. */
  sendDadProbe(_nic: number, target: IpAddr, nonce: Uint8Array): void {
    const dst = solicitedNode(target);
    const pb = this.#alloc();
    if (pb === null) return;
    const o = pb.tail;
    const n = writeNeighborSolicit(pb.data, o, target, null);
    const d = pb.data;
    d[o + n] = NDP_OPT_NONCE;
    d[o + n + 1] = 1;
    d.set(nonce.subarray(0, 6), o + n + 2);
    pb.append(n + 8);
    this.#finish(pb, o, n + 8, IPV6_UNSPECIFIED, dst);
    if (this.#sendControl(pb, IPV6_UNSPECIFIED, dst, NDP_HOP_LIMIT, false, null)) {
      this.#icmp6.OutMsgs++;
      this.#icmp6.OutNeighborSolicits++;
    }
  }

  /** Join a multicast group. */
  joinGroup(_nic: number, group: IpAddress): void {
    this.mld.join(group);
  }

  /** Leave a multicast group. */
  leaveGroup(_nic: number, group: IpAddress): void {
    this.mld.leave(group);
  }

  /** Pass an address change to the layer. */
  addressChanged(a: Ipv6InterfaceAddress, event: Ipv6AddressState | "removed"): void {
    // RFC 3810 §5.2.13: reports go from the link-local address once it is usable; the ones
    // sent from :: during its DAD are repeated.
    if (event === "preferred" && a.origin === "link-local") this.mld.reportAll();
    this.#out.addressChanged(a, event);
  }

  // MldOwner

  /** Send an MLDv2 report: from the link-local address (or `::`), hop limit 1, router alert. */
  sendMldReport(_nic: number, recordType: number, groups: readonly IpAddr[]): void {
    const src = this.usableLinkLocal() ?? IPV6_UNSPECIFIED;
    const pb = this.#alloc();
    if (pb === null) return;
    const o = pb.tail;
    const n = writeMldv2Report(pb.data, o, recordType, groups);
    pb.append(n);
    this.#finish(pb, o, n, src, IPV6_ALL_MLDV2_ROUTERS);
    if (this.#sendControl(pb, src, IPV6_ALL_MLDV2_ROUTERS, 1, true, null)) {
      this.#icmp6.OutMsgs++;
      this.#icmp6.OutMLDv2Reports++;
    }
  }

  /** Send a router solicitation to all routers (RFC 4861 §6.3.7). */
  sendRouterSolicit(): void {
    const src = this.usableLinkLocal();
    const pb = this.#alloc();
    if (pb === null) return;
    const o = pb.tail;
    const n = writeRouterSolicit(pb.data, o, src === null ? null : this.link.mac);
    pb.append(n);
    const from = src ?? IPV6_UNSPECIFIED;
    this.#finish(pb, o, n, from, IPV6_ALL_ROUTERS);
    if (this.#sendControl(pb, from, IPV6_ALL_ROUTERS, NDP_HOP_LIMIT, false, null)) {
      this.#icmp6.OutMsgs++;
      this.#icmp6.OutRouterSolicits++;
    }
  }

  /**
   * Answer a solicitation for our `target` (RFC 4861 §7.2.4): to its source with S set, or to
   * all nodes when the solicitation came from `::` (DAD). `dstMac[dstMacOff..]` is the
   * solicitor's MAC when known.
   */
  sendNeighborAdvert(
    target: IpAddr,
    dst: IpAddr | null,
    dstMac: Uint8Array | null,
    dstMacOff: number,
  ): void {
    const to = dst ?? IPV6_ALL_NODES;
    const flags = (dst === null ? 0 : NA_FLAG_SOLICITED) | NA_FLAG_OVERRIDE;
    const pb = this.#alloc();
    if (pb === null) return;
    const o = pb.tail;
    const n = writeNeighborAdvert(pb.data, o, flags & ~NA_FLAG_ROUTER, target, this.link.mac);
    pb.append(n);
    this.#finish(pb, o, n, target, to);
    if (
      this.#sendControl(pb, target, to, NDP_HOP_LIMIT, false, dstMac, dstMacOff)
    ) {
      this.#icmp6.OutMsgs++;
      this.#icmp6.OutNeighborAdvertisements++;
    }
  }

  #solicitSource(target: IpAddr): IpAddress | null {
    let any: IpAddress | null = null;
    for (const a of this.addresses.list()) {
      if (!a.usable) continue;
      if (inPrefix(target, a.addr, a.prefixLen)) return a.addr;
      if (any === null || isLinkLocal(a.addr)) any = a.addr;
    }
    return any;
  }

  /**
   * Send the ICMPv6 message in `pb` (checksum filled) from `src` to `dst` with `hopLimit`,
   * behind a hop-by-hop router alert when `routerAlert`; no routing. Multicast goes to its
   * mapped MAC (RFC 2464 §7), unicast to `dstMac[dstMacOff..]` when given, else through the
   * neighbour cache.
   */
  #sendControl(
    pb: PacketBuffer,
    src: IpAddr,
    dst: IpAddr,
    hopLimit: number,
    routerAlert: boolean,
    dstMac: Uint8Array | null,
    dstMacOff = 0,
  ): boolean {
    const st = this.#ip6;
    st.OutRequests++;
    let nh = IPV6_NH_ICMPV6;
    if (routerAlert) {
      pb.data.set(ROUTER_ALERT_HBH, pb.prepend(ROUTER_ALERT_HBH.length));
      nh = IPV6_NH_HOP_BY_HOP;
    }
    const r = this.#repr;
    r.src = src;
    r.dst = dst;
    r.nextHeader = nh;
    r.hopLimit = hopLimit;
    r.payloadLength = pb.length;
    r.emit(pb.data, pb.prepend(IPV6_HEADER_BYTES));
    if (isMulticast(dst)) {
      st.OutMcastPkts++;
      multicastMac(dst, this.#mac, 0);
      return this.link.output(pb, this.#mac, 0, ETHERTYPE_IPV6, null);
    }
    if (dstMac !== null) return this.link.output(pb, dstMac, dstMacOff, ETHERTYPE_IPV6, null);
    return this.neighbours.send(pb, dst, ETHERTYPE_IPV6);
  }

  #alloc(): PacketBuffer | null {
    const pb = this.#pool.alloc(HEADROOM_BYTES);
    if (pb === null) this.#icmp6.OutErrors++;
    return pb;
  }

  #finish(pb: PacketBuffer, o: number, n: number, src: IpAddr, dst: IpAddr): void {
    this.#hdr.attach(pb.data, o, n).fillChecksum(pseudoHeaderSumIp(src, dst, IPV6_NH_ICMPV6, n));
  }
}

/** Leading bits two addresses share (RFC 6724 §2.2 CommonPrefixLen). */
function commonPrefixBits(a: IpAddr, b: IpAddr): number {
  // Word by word, without an array of the four (one per SYN-ACK or RST routed, else).
  let x = a.w0 ^ b.w0;
  if (x !== 0) return Math.clz32(x);
  x = a.w1 ^ b.w1;
  if (x !== 0) return 32 + Math.clz32(x);
  x = a.w2 ^ b.w2;
  if (x !== 0) return 64 + Math.clz32(x);
  x = a.w3 ^ b.w3;
  return x !== 0 ? 96 + Math.clz32(x) : 128;
}
