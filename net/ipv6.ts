/**
 * The IPv6 layer (RFC 8200): receive-side checks, the extension header chain (hop-by-hop
 * first only, destination options with their action bits, routing headers — type 0 and every
 * other type with segments left refused (RFC 5095), fragments reassembled (atomic ones,
 * RFC 6946, taken whole)), delivery to the protocol handlers, and the send path: source
 * address, next hop (prefix list, default routers), path MTU, fragmentation at the source,
 * neighbour resolution. It implements the {@link NetworkLayer} the transports use.
 *
 * Per-NIC state (addresses and DAD, neighbour cache, MLD) lives in {@link Ipv6Interface}.
 *
 * Why this file is a little over 600 lines: like `ipv4.ts`, it is the layer's one object (its
 * interfaces, routes, input checks and send path share that state); the header chain walker,
 * fragmenter, ICMPv6 and NDP already live in their own files.
 *
 * @module
 */

import type { LinkEndpoint } from "../link/link_endpoint.ts";
import { ETHERTYPE_IPV6 } from "../link/ethernet.ts";
import { GSO_TCPV6, RX_GSO, RX_LINK_NOT_HOST, type TxOffload } from "../link/driver.ts";
import { isBigTcpJumbo } from "./ipv6_ext_headers.ts";
import type { Clock } from "../core/clock.ts";
import { StackError } from "../core/errors.ts";
import type { BufferPool, PacketBuffer } from "../core/packet_buffer.ts";
import type { Counters } from "../core/counters.ts";
import type { TimerWheel } from "../core/timer_wheel.ts";
import { finishOffloadInSoftware, pseudoHeaderSumIp } from "./checksum.ts";
import {
  formatIp,
  inPrefix,
  type IpAddr,
  type IpAddress,
  IpAddressScratch,
  ipEquals,
  isMulticast,
  isUnspecified,
} from "./ip_address.ts";
import { isIpv6MartianSource, multicastMac } from "./ipv6_address.ts";
import type { Ipv6AddressState, Ipv6InterfaceAddress } from "./ipv6_addresses.ts";
import {
  IPV6_DST_OFFSET,
  IPV6_HEADER_BYTES,
  IPV6_MAX_PAYLOAD,
  IPV6_MIN_MTU,
  Ipv6Header,
  Ipv6Repr,
} from "./ipv6_header.ts";
import { Ipv6Interface, type Ipv6InterfaceOptions, type Ipv6Output } from "./ipv6_interface.ts";
import { Ipv6Reassembler } from "./ipv6_reassembly.ts";
import type { ReassemblyOptions } from "./reassembly.ts";
import { type Ipv6ErrorReporter, Ipv6HeaderChain } from "./ipv6_input.ts";

export type { Ipv6ErrorReporter };
import { LocalDeliveryQueue, type LocalReceiver } from "./local_delivery.ts";
import { Ipv6Routes } from "./ipv6_routes.ts";
import { fragmentIpv6, type FragmentOutput } from "./ipv6_fragmenter.ts";
import {
  type NetProtocolHandler,
  type NetRoute,
  NetRxMeta,
  type NetworkLayer,
} from "./network_layer.ts";
import { PathMtuCache, type PathMtuOptions } from "./path_mtu.ts";
import {
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_TIME_EXCEEDED,
  ICMPV6_TIME_EXCEEDED_REASSEMBLY,
  ICMPV6_UNREACH_PORT,
} from "./icmpv6_header.ts";

/** Options of the IPv6 layer. */
export interface Ipv6Options {
  /** Hop limit of datagrams we originate [64]. */
  defaultHopLimit?: number;
  /** Per-interface tunables (neighbour cache, DAD, MLD). */
  iface?: Ipv6InterfaceOptions;
  /** Reassembly tunables (the timeout defaults to 60 s, RFC 8200 §4.5). */
  reassembly?: ReassemblyOptions;
  /** Path MTU cache tunables (used when no `pathMtuCache` is given). */
  pathMtu?: PathMtuOptions;
  /** A path MTU cache to use, shared with IPv4 (the stack makes one for both). */
  pathMtuCache?: PathMtuCache;
  /** Datagrams to our own addresses waiting for the next tick [256]. */
  localQueue?: number;
  /**
   * Random source in [0, 1) for DAD and MLD delays and ReachableTime, unless the per-part
   * options set their own (a seeded one makes simulations reproducible) [Math.random].
   */
  random?: () => number;
  /**
   * Bring up each attached NIC at once (link-local address and DAD) [true]. When false, call
   * {@link Ipv6Layer.start}.
   */
  autoStart?: boolean;
}

/** The counter groups of IPv6: `ip6` (Linux `Ip6*`), `icmp6` (`Icmp6*`) and `ndp`. */
export interface Ipv6Counters {
  /** IPv6. */
  readonly ip6: Counters;
  /** ICMPv6. */
  readonly icmp6: Counters;
  /** Neighbour discovery, DAD, MLD, routers. */
  readonly ndp: Counters;
}

/** An address state change, as the layer reports it. */
export type Ipv6AddressListener = (
  a: Ipv6InterfaceAddress,
  event: Ipv6AddressState | "removed",
) => void;

/**
 * The IPv6 layer of one stack.
 *
 * @example
 * ```ts ignore
 * const ip6 = new Ipv6Layer(pool, timers, clock, stats);
 * ip6.attachLink(nic);
 * ip6.addAddress(nic.index, IpAddress.parse("fd00:5::2"), 64);
 * ```
 */
export class Ipv6Layer implements NetworkLayer, Ipv6Output, LocalReceiver {
  /** Family 6. */
  readonly family = 6 as const;
  /** The fixed header. */
  readonly headerBytes: number = IPV6_HEADER_BYTES;
  /** Hop limit of datagrams we originate. */
  defaultHopLimit: number;
  /** The payload length field's limit (no jumbograms). */
  readonly maxPayloadBytes: number = IPV6_MAX_PAYLOAD;
  /** RFC 8200 §5: every link carries 1280 bytes. */
  readonly minMtu: number = IPV6_MIN_MTU;
  /** TCP super-segments over IPv6. */
  readonly gsoTcpType: number = GSO_TCPV6;
  /** UDP over IPv6 must carry a checksum (RFC 8200 §8.1). */
  readonly udpChecksumOptional = false;
  /** Prefix list and default routers. */
  readonly routes: Ipv6Routes;
  /** Path MTU per destination. */
  readonly pmtu: PathMtuCache;
  /** Set by ICMPv6: where the layer's errors go. */
  reporter: Ipv6ErrorReporter | null = null;
  readonly #pool: BufferPool;
  readonly #timers: TimerWheel;
  readonly #clock: Clock;
  readonly #stats: Ipv6Counters;
  readonly #ifaces: (Ipv6Interface | undefined)[] = [];
  readonly #ifaceList: Ipv6Interface[] = [];
  readonly #handlers: (NetProtocolHandler | null)[] = new Array(256).fill(null);
  readonly #hdr = new Ipv6Header();
  readonly #repr = new Ipv6Repr();
  readonly #meta = new NetRxMeta();
  readonly #chain: Ipv6HeaderChain;
  readonly #local: LocalDeliveryQueue;
  readonly #ifaceOpts: Ipv6InterfaceOptions;
  readonly #autoStart: boolean;
  readonly #mac = new Uint8Array(6);
  readonly #scratch = new IpAddressScratch();
  readonly #fragOut = new FragmentSink(this);
  readonly #addressListeners: Ipv6AddressListener[] = [];
  #fragId: number;

  /** Build the layer; links are attached afterwards. */
  constructor(
    pool: BufferPool,
    timers: TimerWheel,
    clock: Clock,
    stats: Ipv6Counters,
    opts: Ipv6Options = {},
  ) {
    this.#pool = pool;
    this.#timers = timers;
    this.#clock = clock;
    this.#stats = stats;
    this.defaultHopLimit = opts.defaultHopLimit ?? 64;
    const random = opts.random ?? Math.random;
    const io = opts.iface ?? {};
    this.#ifaceOpts = {
      ndp: { random, ...io.ndp },
      addresses: { random, ...io.addresses },
      mld: { random, ...io.mld },
    };
    this.#autoStart = opts.autoStart ?? true;
    this.#local = new LocalDeliveryQueue(pool, opts.localQueue ?? 256);
    this.routes = new Ipv6Routes(timers, clock, stats.ndp);
    this.pmtu = opts.pathMtuCache ?? new PathMtuCache(clock, opts.pathMtu);
    const reasm = new Ipv6Reassembler(timers, clock, stats.ip6, opts.reassembly);
    this.#chain = new Ipv6HeaderChain(this.#handlers, reasm, stats.ip6, this);
    reasm.onTimeout = (buf, off, len) => {
      // RFC 8200 §4.5: time exceeded (code 1) to the source, if fragment zero arrived.
      this.reporter?.sendError(
        ICMPV6_TIME_EXCEEDED,
        ICMPV6_TIME_EXCEEDED_REASSEMBLY,
        0,
        buf,
        off,
        len,
        0,
      );
    };
    this.#meta.net = this;
    this.#meta.family = 6;
    // RFC 7739: fragment identifications should not be predictable; start at a random value.
    const seed = new Uint32Array(1);
    crypto.getRandomValues(seed);
    this.#fragId = seed[0];
  }

  /** Attach a NIC; it starts (link-local address, DAD) unless `autoStart` is false. */
  attachLink(link: LinkEndpoint): Ipv6Interface {
    const iface = new Ipv6Interface(
      link,
      this,
      this.#pool,
      this.#timers,
      this.#clock,
      this.#stats,
      this.#ifaceOpts,
    );
    this.#ifaces[link.index] = iface;
    this.#ifaceList.push(iface);
    if (this.#autoStart) iface.start();
    return iface;
  }

  /** Bring NIC `nicIndex` up (its link-local address and DAD), when `autoStart` was false. */
  start(nicIndex: number): void {
    const iface = this.iface(nicIndex);
    if (iface.addresses.find(iface.linkLocal) === undefined) iface.start();
  }

  /** The interface of NIC `nicIndex`; throws a RangeError when there is none. */
  iface(nicIndex: number): Ipv6Interface {
    const i = this.#ifaces[nicIndex];
    if (i === undefined) throw new RangeError(`no NIC ${nicIndex}`);
    return i;
  }

  /** Every interface. */
  interfaces(): readonly Ipv6Interface[] {
    return this.#ifaceList;
  }

  /** Call `listener` on every address state change (events for the CLI, router discovery). */
  addAddressListener(listener: Ipv6AddressListener): void {
    this.#addressListeners.push(listener);
  }

  /** Register the handler of next header `protocol`. */
  registerHandler(protocol: number, handler: NetProtocolHandler): void {
    this.#handlers[protocol] = handler;
  }

  /** The handler of `protocol`, or null. */
  handlerOf(protocol: number): NetProtocolHandler | null {
    return this.#handlers[protocol];
  }

  /**
   * Assign `addr/prefixLen` to NIC `nicIndex` (tentative until DAD passes) and make its prefix
   * on-link. Throws EEXIST for a duplicate, EINVAL for a multicast or unspecified address.
   */
  addAddress(nicIndex: number, addr: IpAddress, prefixLen: number): Ipv6InterfaceAddress {
    const iface = this.iface(nicIndex);
    if (
      addr.family !== 6 || isMulticast(addr) || isUnspecified(addr) ||
      !(prefixLen >= 1 && prefixLen <= 128)
    ) {
      throw new StackError(
        "EINVAL",
        `addAddress: not a unicast IPv6 address: ${addr}/${prefixLen}`,
      );
    }
    const a = iface.addresses.add(addr, prefixLen, "static");
    if (prefixLen < 128) this.routes.addPrefix(addr, prefixLen, nicIndex, "static", Infinity);
    return a;
  }

  /**
   * Take `addr` off NIC `nicIndex` (any origin, tentative and duplicate ones too; it leaves
   * its solicited-node group); throws a StackError EADDRNOTAVAIL when it is not there. A
   * static address takes the on-link prefix {@link addAddress} made with it, unless another
   * static address of that prefix stays (as Linux's prefix route goes with its last
   * address). Sockets are left alone, neither closed nor reset (as on Linux): one bound to
   * the address keeps it (a TCP connection its cached route, so what it sends still leaves
   * from it), but nothing to the address is delivered any more (it is no longer local, and
   * neighbour solicitations for it go unanswered), so a connection on it times out; a new
   * bind, listen or connect from it fails EADDRNOTAVAIL. `Ipv4Layer.removeAddress` does the
   * same for IPv4.
   */
  removeAddress(nicIndex: number, addr: IpAddr): void {
    const list = this.iface(nicIndex).addresses;
    const gone = list.find(addr);
    if (gone === undefined || !list.remove(addr)) {
      throw new StackError("EADDRNOTAVAIL", `${formatIp(addr)} is not on NIC ${nicIndex}`);
    }
    if (gone.origin !== "static" || gone.prefixLen >= 128) return;
    const stays = list.list().some((a) =>
      a.origin === "static" && a.prefixLen === gone.prefixLen &&
      inPrefix(a.addr, gone.addr, gone.prefixLen)
    );
    if (!stays) this.routes.removePrefix(gone.addr, gone.prefixLen, nicIndex);
  }

  /**
   * Use `router` as a static default router. It must be on-link (link-local, or in an on-link
   * prefix); throws a StackError ENETUNREACH otherwise. A link-local router needs
   * `nicIndex` when there are several NICs.
   */
  setDefaultRouter(router: IpAddr, nicIndex = 0): void {
    const nic = this.routes.nextHop(router, nicIndex, () => false, this.#scratch);
    if (nic === 0 || !ipEquals(this.#scratch, router) || !this.routes.isOnLink(router)) {
      throw new StackError("ENETUNREACH", `setDefaultRouter: ${formatIp(router)} is not on-link`);
    }
    this.routes.addRouter(router, nic, "static", Infinity);
  }

  /** True when `a` is a usable address of ours (any NIC). */
  isLocalAddress(a: IpAddr): boolean {
    const l = this.#ifaceList;
    for (let i = 0; i < l.length; i++) if (l[i].addresses.isUsable(a)) return true;
    return false;
  }

  /** IPv6 has no broadcast (RFC 4291 §2). */
  isBroadcast(_a: IpAddr, _nicIndex: number): boolean {
    return false;
  }

  /** Every usable address (all NICs). */
  usableAddresses(): Ipv6InterfaceAddress[] {
    const out: Ipv6InterfaceAddress[] = [];
    for (const i of this.#ifaceList) for (const a of i.addresses.list()) if (a.usable) out.push(a);
    return out;
  }

  /** Route to `dst` (link-local and multicast destinations on NIC `zoneNic`, 0 = the first). */
  route(dst: IpAddr, out: NetRoute, zoneNic = 0): boolean {
    return this.routeScoped(dst, zoneNic, out);
  }

  /**
   * Route to `dst`, with `zoneNic` the NIC a link-local or multicast destination is on (its
   * `%IF` zone; 0 = the first). Fails when no route or no usable source address exists.
   */
  routeScoped(dst: IpAddr, zoneNic: number, out: NetRoute): boolean {
    const nic = this.routes.nextHop(dst, zoneNic, this.#reachable, out.nextHop);
    if (nic === 0) return false;
    const iface = this.#ifaces[nic];
    if (iface === undefined) return false;
    const src = iface.sourceFor(dst);
    if (src === null) return false;
    out.net = this;
    out.nicIndex = nic;
    out.source.set(src);
    out.linkMtu = iface.mtu;
    out.link = iface.link;
    return true;
  }

  readonly #reachable = (nic: number, router: IpAddr): boolean =>
    this.#ifaces[nic]?.neighbours.isProbablyReachable(router) ?? false;

  /** Path MTU towards `dst`. */
  pathMtu(dst: IpAddr, route: NetRoute): number {
    return this.pmtu.mtuFor(dst, route.linkMtu);
  }

  /** Lower the path MTU towards `dst` (RFC 8201 §4; see {@link NetworkLayer.lowerPathMtu}). */
  lowerPathMtu(dst: IpAddr, mtu: number, linkMtu: number): number {
    return this.pmtu.lower(dst, mtu, linkMtu);
  }

  /** The IPv6 pseudo-header sum (RFC 8200 §8.1). */
  pseudoHeaderSum(src: IpAddr, dst: IpAddr, protocol: number, l4Length: number): number {
    return pseudoHeaderSumIp(src, dst, protocol, l4Length);
  }

  /**
   * Answer `meta`'s datagram with port unreachable (not for multicast, nor for a link-layer
   * broadcast or multicast frame: RFC 4443 §2.4 (e)).
   */
  sendPortUnreachable(meta: NetRxMeta): void {
    if (meta.toGroup || meta.linkNotHost) return;
    this.reporter?.sendError(
      ICMPV6_DEST_UNREACHABLE,
      ICMPV6_UNREACH_PORT,
      0,
      meta.buf,
      meta.headerOff,
      meta.datagramBytes,
      meta.nicIndex,
    );
  }

  /** True when datagrams to our own addresses wait for delivery. */
  get hasLocalPending(): boolean {
    return this.#local.pending;
  }

  /** Deliver the datagrams queued for our own addresses; returns how many. */
  deliverLocal(): number {
    return this.#local.deliver(this);
  }

  /** {@link LocalReceiver.receiveLocal}: our checksums need no verifying (RX_CSUM_VALID). */
  receiveLocal(nicIndex: number, buf: Uint8Array, off: number, len: number): void {
    this.#input(nicIndex, buf, off, len, 1, true);
  }

  /** Handle one received IPv6 packet `buf[off, off + len)` from NIC `nicIndex`. Never throws. */
  receive(nicIndex: number, buf: Uint8Array, off: number, len: number, rxFlags: number): void {
    this.#input(nicIndex, buf, off, len, rxFlags, false);
  }

  #input(
    nicIndex: number,
    buf: Uint8Array,
    off: number,
    len: number,
    rxFlags: number,
    local: boolean,
  ): void {
    const st = this.#stats.ip6;
    st.InReceives++;
    const iface = this.#ifaces[nicIndex];
    const h = this.#hdr.attach(buf, off, len);
    const bad = h.check();
    if (bad !== null || iface === undefined) {
      st[bad ?? "InDiscards"]++;
      return;
    }
    // RFC 4291 §2.5.3, §2.7; Linux ipv6_rcv: multicast, loopback and v4-mapped sources (and a
    // loopback destination) never arrive from a link.
    if (!local && (isIpv6MartianSource(buf, off + 8) || isLoopbackAt(buf, off + IPV6_DST_OFFSET))) {
      st.InHdrErrors++;
      return;
    }
    const meta = this.#meta;
    const dst = h.readDst(meta.dst);
    let toGroup = false;
    if (isMulticast(dst)) {
      st.InMcastPkts++;
      if (!iface.mld.isMember(dst)) {
        st.InDiscards++;
        return;
      }
      toGroup = true;
    } else if (!local && !iface.addresses.isUsable(dst) && !this.isLocalAddress(dst)) {
      // Tentative addresses receive nothing but DAD (RFC 4862 §5.4), and that is multicast.
      st.InAddrErrors++;
      return;
    }
    h.readSrc(meta.src);
    meta.nicIndex = nicIndex;
    meta.hopLimit = h.hopLimit;
    meta.tos = h.trafficClass;
    meta.toGroup = toGroup;
    meta.linkNotHost = (rxFlags & RX_LINK_NOT_HOST) !== 0;
    meta.routerAlert = false;
    meta.buf = buf;
    meta.headerOff = off;
    const payload = h.payloadLength;
    if (payload === 0 && (rxFlags & RX_GSO) !== 0 && isBigTcpJumbo(buf, off, len)) {
      // BIG TCP: a GSO super-frame above 64 KB; its jumbo hop-by-hop header says the length.
      st.InBigTcpPkts++;
      meta.datagramBytes = len;
      const hbh = off + IPV6_HEADER_BYTES;
      this.#chain.walk(meta, buf, off, hbh + 8, off + len, buf[hbh], hbh, rxFlags);
      return;
    }
    const end = off + IPV6_HEADER_BYTES + payload;
    meta.datagramBytes = end - off;
    this.#chain.walk(meta, buf, off, off + IPV6_HEADER_BYTES, end, h.nextHeader, off + 6, rxFlags);
  }

  /**
   * Send the transport packet in `pb` along `route` (see {@link NetworkLayer.send}).
   * Datagrams larger than the path MTU are fragmented at the source unless `dontFragment`.
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
  ): boolean {
    const st = this.#stats.ip6;
    st.OutRequests++;
    const iface = this.#ifaces[route.nicIndex];
    if (iface === undefined) {
      st.OutNoRoutes++;
      this.#pool.free(pb);
      return false;
    }
    const payload = pb.length;
    if (this.isLocalAddress(dst)) {
      return this.#sendLocal(pb, route.nicIndex, src, dst, protocol, hopLimit, tos);
    }
    const gso = offload !== null && offload.gsoType !== 0;
    if (payload > IPV6_MAX_PAYLOAD && !gso) {
      st.OutDiscards++;
      this.#pool.free(pb);
      return false;
    }
    const mtu = this.pmtu.mtuFor(dst, iface.mtu);
    if (payload + IPV6_HEADER_BYTES > mtu && !gso) {
      // Quoted in an error or sliced into fragments: the bytes must be here.
      if (!pb.flatten()) return this.#discard(pb);
      if (dontFragment) {
        st.FragFails++;
        this.#refuseTooBig(pb, src, dst, protocol, hopLimit, tos, mtu, route.nicIndex);
        return false;
      }
      const r = this.#txRepr(src, dst, protocol, hopLimit, tos);
      const id = this.#fragId = (this.#fragId + 1) >>> 0;
      const out = this.#fragOut;
      out.iface = iface;
      out.nextHop = isMulticast(dst) ? dst : route.nextHop;
      return fragmentIpv6(pb, mtu, r, id, this.#pool, st, out);
    }
    const o = pb.prepend(IPV6_HEADER_BYTES);
    const r = this.#txRepr(src, dst, protocol, hopLimit, tos);
    r.payloadLength = payload > IPV6_MAX_PAYLOAD ? 0 : payload;
    r.emit(pb.data, o);
    if (offload !== null) {
      offload.csumStart += 14 + IPV6_HEADER_BYTES;
      offload.hdrLen += 14 + IPV6_HEADER_BYTES;
    }
    if (isMulticast(dst)) st.OutMcastPkts++;
    return this.#output(iface, pb, isMulticast(dst) ? dst : route.nextHop, offload);
  }

  /**
   * A datagram that may not be fragmented exceeds the path MTU: not sent, and its sender (we)
   * gets a packet too big quoting it, delivered at the next tick like one from a router.
   */
  #refuseTooBig(
    pb: PacketBuffer,
    src: IpAddr,
    dst: IpAddr,
    protocol: number,
    hopLimit: number,
    tos: number,
    mtu: number,
    nicIndex: number,
  ): void {
    if (this.reporter !== null) {
      const payload = pb.length;
      const o = pb.prepend(IPV6_HEADER_BYTES);
      const r = this.#txRepr(src, dst, protocol, hopLimit, tos);
      r.payloadLength = payload;
      r.emit(pb.data, o);
      this.reporter.sendError(ICMPV6_PACKET_TOO_BIG, 0, mtu, pb.data, o, pb.length, nicIndex, true);
    }
    this.#pool.free(pb);
  }

  /** {@link Ipv6Output.unreachable}: tell the sender of a packet whose next hop never answered. */
  unreachable(_nicIndex: number, pb: PacketBuffer): void {
    this.#stats.ip6.OutNoRoutes++;
    this.reporter?.localUnreachable(pb.data, pb.head, pb.length);
    this.#pool.free(pb);
  }

  /** {@link Ipv6Output.addressChanged}. */
  addressChanged(a: Ipv6InterfaceAddress, event: Ipv6AddressState | "removed"): void {
    const l = this.#addressListeners;
    for (let i = 0; i < l.length; i++) l[i](a, event);
  }

  #sendLocal(
    pb: PacketBuffer,
    nicIndex: number,
    src: IpAddr,
    dst: IpAddr,
    protocol: number,
    hopLimit: number,
    tos: number,
  ): boolean {
    const payload = pb.length;
    // The local queue keeps the packet past this call: a gathered payload comes in now.
    if (payload > IPV6_MAX_PAYLOAD || !pb.flatten()) return this.#discard(pb);
    const o = pb.prepend(IPV6_HEADER_BYTES);
    const r = this.#txRepr(src, dst, protocol, hopLimit, tos);
    r.payloadLength = payload;
    r.emit(pb.data, o);
    if (this.#local.push(pb, nicIndex)) return true;
    this.#stats.ip6.OutDiscards++;
    return false;
  }

  /** Drop `pb` (counted in OutDiscards); false. */
  #discard(pb: PacketBuffer): boolean {
    this.#stats.ip6.OutDiscards++;
    this.#pool.free(pb);
    return false;
  }

  #txRepr(src: IpAddr, dst: IpAddr, nh: number, hopLimit: number, tos: number): Ipv6Repr {
    const r = this.#repr;
    r.src = src;
    r.dst = dst;
    r.nextHeader = nh;
    r.hopLimit = hopLimit;
    r.trafficClass = tos;
    r.flowLabel = 0;
    return r;
  }

  /** @internal Output towards a next hop (used by the fragment sink). */
  output(iface: Ipv6Interface, pb: PacketBuffer, nextHop: IpAddr): boolean {
    return this.#output(iface, pb, nextHop, null);
  }

  #output(
    iface: Ipv6Interface,
    pb: PacketBuffer,
    nextHop: IpAddr,
    offload: TxOffload | null,
  ): boolean {
    if (isMulticast(nextHop)) {
      multicastMac(nextHop, this.#mac, 0);
      return iface.link.output(pb, this.#mac, 0, ETHERTYPE_IPV6, offload);
    }
    if (offload !== null) {
      const mac = iface.neighbours.lookup(nextHop);
      if (mac !== null) return iface.link.output(pb, mac, 0, ETHERTYPE_IPV6, offload);
      // Only a GSO super-segment is dropped (the transport retransmits it); a frame that just
      // asked for a checksum gets it here and waits for the neighbour (see IPv4's #output).
      if (finishOffloadInSoftware(pb, offload)) {
        return iface.neighbours.send(pb, nextHop, ETHERTYPE_IPV6);
      }
      this.#stats.ip6.OutDiscards++;
      this.#pool.free(pb);
      iface.neighbours.solicit(nextHop);
      return false;
    }
    return iface.neighbours.send(pb, nextHop, ETHERTYPE_IPV6);
  }
}

function isLoopbackAt(buf: Uint8Array, off: number): boolean {
  for (let i = 0; i < 15; i++) if (buf[off + i] !== 0) return false;
  return buf[off + 15] === 1;
}

/** Sends fragments of one datagram to its next hop; one object reused by the layer. */
class FragmentSink implements FragmentOutput {
  iface: Ipv6Interface | null = null;
  nextHop: IpAddr = new IpAddressScratch();
  constructor(readonly layer: Ipv6Layer) {}
  outputFragment(pb: PacketBuffer): boolean {
    return this.layer.output(this.iface!, pb, this.nextHop);
  }
}
