/**
 * IPv4 (RFC 791, RFC 1122 §3.2): receive-side validation and demultiplexing to the transport
 * protocols, and the send path (header, route, path MTU, neighbour resolution,
 * fragmentation — the slicing itself in `ipv4_fragmenter.ts`). Errors about what arrives or
 * cannot leave go to an {@link Ipv4ErrorReporter} (ICMP).
 *
 * Why this file is a little over 600 lines: the layer's state (links, addresses, routes,
 * handlers) and both directions of the data path that use it; the pieces that stand alone —
 * header views, reassembly, fragmentation, ARP, local delivery — are already files of their
 * own.
 *
 * @module
 */

import type { LinkEndpoint } from "../link/link_endpoint.ts";
import { ETHERTYPE_IPV4 } from "../link/ethernet.ts";
import { GSO_TCPV4, GSO_UDP, RX_GSO, RX_LINK_NOT_HOST, type TxOffload } from "../link/driver.ts";
import { finishOffloadInSoftware, finishPartialChecksum } from "./checksum.ts";
import type { Clock } from "../core/clock.ts";
import { StackError } from "../core/errors.ts";
import type { BufferPool, PacketBuffer } from "../core/packet_buffer.ts";
import type { Counters } from "../core/counters.ts";
import type { TimerWheel } from "../core/timer_wheel.ts";
import { ArpCache, type ArpOptions } from "./arp.ts";
import {
  formatIpv4,
  isIpv4LimitedBroadcast,
  isIpv4MartianTop,
  isIpv4Multicast,
  prefixMask,
} from "./ipv4_address.ts";
import {
  checkIpv4Options,
  IPV4_DST_OFFSET,
  IPV4_HEADER_MIN_BYTES,
  IPV4_SRC_OFFSET,
  Ipv4Header,
  Ipv4Repr,
} from "./ipv4_header.ts";
import { Ipv4Reassembler, type ReassemblyOptions } from "./ipv4_reassembly.ts";
import { fragmentIpv4 } from "./ipv4_fragmenter.ts";
import type { FragmentOutput } from "./ipv6_fragmenter.ts";
import { RouteResult, RouteTable } from "./route_table.ts";
import { LocalDeliveryQueue, type LocalReceiver } from "./local_delivery.ts";
import { type NetProtocolHandler, NetRxMeta, type NetworkLayer } from "./network_layer.ts";
import { readIpv4 } from "./ipv4_address.ts";
import { type IpAddr, IpAddressScratch } from "./ip_address.ts";
import type { SubarrayCache } from "../core/subarray_cache.ts";
import { PathMtuCache, type PathMtuOptions } from "./path_mtu.ts";

/** Up to this many local addresses are looked up by a loop, not in the `Set` (no boxing). */
const LOCAL_LIST_SCAN_MAX = 8;

/** An IPv4 address assigned to a NIC. */
export interface Ipv4InterfaceAddress {
  /** The address. */
  readonly addr: number;
  /** Subnet prefix length. */
  readonly prefixLen: number;
  /** NIC index. */
  readonly nicIndex: number;
  /** Directed broadcast address of the subnet (0 for /31 and /32). */
  readonly broadcast: number;
}

/** Options of the IPv4 layer. */
export interface Ipv4Options {
  /** TTL of datagrams we originate [64]. */
  defaultTtl?: number;
  /** ARP tunables. */
  arp?: ArpOptions;
  /** Reassembly tunables. */
  reassembly?: ReassemblyOptions;
  /** Datagrams to our own addresses waiting for local delivery at the next tick [256]. */
  localQueue?: number;
  /** Path MTU cache tunables (used when no `pathMtuCache` is given). */
  pathMtu?: PathMtuOptions;
  /** A path MTU cache to use, shared with IPv6 (the stack makes one for both). */
  pathMtuCache?: PathMtuCache;
}

/**
 * Where the IPv4 layer's ICMP errors go (ICMPv4 registers itself): each call describes the
 * datagram at fault in a {@link NetRxMeta} valid only during the call.
 */
export interface Ipv4ErrorReporter {
  /** A datagram for a protocol nobody handles (RFC 1122 §3.2.2.1: protocol unreachable). */
  protocolUnreachable(meta: NetRxMeta): void;
  /** A malformed header option at byte `pointer` of the header (RFC 792 parameter problem). */
  parameterProblem(meta: NetRxMeta, pointer: number): void;
  /** Reassembly of a datagram whose first fragment arrived timed out (RFC 1122 §3.3.2). */
  reassemblyTimeout(meta: NetRxMeta): void;
  /**
   * A datagram we were asked to send with DF set exceeds the path MTU `mtu`: tell its sender
   * (ourselves) as a router would, with a fragmentation needed (Linux `ip_fragment`).
   */
  fragmentationNeeded(meta: NetRxMeta, mtu: number): void;
}

/** The counter groups the IPv4 layer keeps: IP itself and the ARP caches of its links. */
export interface Ipv4Counters {
  /** IPv4 (`Ip*`). */
  readonly ip: Counters;
  /** ARP. */
  readonly arp: Counters;
}

interface AttachedLink {
  link: LinkEndpoint;
  arp: ArpCache;
}

/**
 * The IPv4 layer of one stack.
 *
 * @example
 * ```ts ignore
 * const ip = new Ipv4Layer(pool, timers, clock, stats);
 * ip.attachLink(nic);
 * ip.addAddress(nic.index, parseIpv4("198.18.0.2"), 24);
 * ```
 */
export class Ipv4Layer implements LocalReceiver {
  /** The routing table. */
  readonly routes: RouteTable = new RouteTable();
  /** TTL for datagrams we originate. */
  defaultTtl: number;
  /** Set by ICMP: where errors about received (or refused) datagrams go. */
  reporter: Ipv4ErrorReporter | null = null;
  /** Path MTU per destination (shared with IPv6 when the stack made it). */
  readonly pmtu: PathMtuCache;
  readonly #pool: BufferPool;
  readonly #timers: TimerWheel;
  readonly #clock: Clock;
  readonly #stats: Ipv4Counters;
  readonly #links: (AttachedLink | undefined)[] = [];
  readonly #addrs: Ipv4InterfaceAddress[] = [];
  readonly #addressListeners: ((
    addr: number,
    nicIndex: number,
    event: "added" | "removed",
  ) => void)[] = [];
  readonly #local = new Set<number>();
  /**
   * The local addresses as a plain list while there are few: looking a packet's address up in
   * the `Set` boxes it (an address above 127.255.255.255 is no small integer to V8), two heap
   * numbers per received packet; comparing it in a loop allocates nothing.
   */
  readonly #localList: number[] = [];
  readonly #handlers: (NetProtocolHandler | null)[] = new Array(256).fill(null);
  readonly #hdr = new Ipv4Header();
  readonly #repr = new Ipv4Repr();
  readonly #meta = new NetRxMeta();
  readonly #route = new RouteResult();
  /** {@link Ipv4Layer.route}'s number as a record (a double field from the start). */
  readonly #routeKey = new IpAddressScratch();
  readonly #reasm: Ipv4Reassembler;
  readonly #arpOptions: ArpOptions;
  readonly #localQueue: LocalDeliveryQueue;
  readonly #errMeta = new NetRxMeta();
  readonly #fragOut = new FragmentSink();
  readonly #dstScratch = new IpAddressScratch();
  /** The addresses of {@link Ipv4Layer.send}'s datagram, for {@link Ipv4Layer.sendAddr}. */
  readonly #txSrc = new IpAddressScratch();
  readonly #txDst = new IpAddressScratch();
  #nextId: number;

  /** Build the layer; links are attached afterwards. */
  constructor(
    pool: BufferPool,
    timers: TimerWheel,
    clock: Clock,
    stats: Ipv4Counters,
    opts: Ipv4Options = {},
  ) {
    this.#pool = pool;
    this.#timers = timers;
    this.#clock = clock;
    this.#stats = stats;
    this.defaultTtl = opts.defaultTtl ?? 64;
    this.#arpOptions = opts.arp ?? {};
    this.#localQueue = new LocalDeliveryQueue(pool, opts.localQueue ?? 256);
    this.pmtu = opts.pathMtuCache ?? new PathMtuCache(clock, opts.pathMtu);
    this.#reasm = new Ipv4Reassembler(timers, clock, stats.ip, opts.reassembly);
    this.#errMeta.family = 4;
    this.#meta.family = 4;
    this.#reasm.onTimeout = (buf, off, headerBytes) => {
      if (this.reporter === null) return;
      const m = this.#fillErrMeta(buf, off, headerBytes);
      m.toGroup = !this.#isLocal(m.dst);
      this.reporter.reassemblyTimeout(m);
    };
    const seed = new Uint16Array(1);
    crypto.getRandomValues(seed);
    this.#nextId = seed[0];
  }

  /** Attach a NIC: it gets an ARP cache. */
  attachLink(link: LinkEndpoint): void {
    const owner = {
      isLocalAddressOn: (nic: number, a: number) => this.isLocalAddressOn(nic, a),
      primaryAddressOn: (nic: number) => this.primaryAddressOn(nic),
      isBroadcastOn: (nic: number, a: number) => this.isBroadcastOn(nic, a),
    };
    const arp = new ArpCache(
      link,
      owner,
      this.#pool,
      this.#timers,
      this.#clock,
      this.#stats.arp,
      this.#arpOptions,
    );
    this.#links[link.index] = { link, arp };
  }

  /** The ARP cache of NIC `nicIndex`. */
  arp(nicIndex: number): ArpCache {
    const l = this.#links[nicIndex];
    if (l === undefined) throw new RangeError(`no NIC ${nicIndex}`);
    return l.arp;
  }

  /** The link of NIC `nicIndex`, or undefined. */
  link(nicIndex: number): LinkEndpoint | undefined {
    return this.#links[nicIndex]?.link;
  }

  /** The handler of IP protocol `protocol`, or null. */
  handlerOf(protocol: number): NetProtocolHandler | null {
    return this.#handlers[protocol];
  }

  /**
   * Register the handler of IP protocol `protocol` (1 ICMP, 6 TCP, 17 UDP). Handlers get the
   * family-neutral {@link NetRxMeta} (and, through ICMP, `NetError`s), as from IPv6.
   */
  registerProtocol(protocol: number, handler: NetProtocolHandler): void {
    this.#handlers[protocol] = handler;
  }

  /**
   * The {@link NetworkLayer} view of this layer (`Ipv4Network`), named in every delivery's
   * `meta.net` so a handler can answer through it.
   */
  attachNetwork(network: NetworkLayer): void {
    this.#meta.net = network;
  }

  /**
   * Assign `addr/prefixLen` to NIC `nicIndex` and add the connected route. Announces it with
   * a gratuitous ARP.
   */
  addAddress(nicIndex: number, addr: number, prefixLen: number): void {
    if (this.#links[nicIndex] === undefined) throw new RangeError(`no NIC ${nicIndex}`);
    const mask = prefixMask(prefixLen);
    const broadcast = prefixLen >= 31 ? 0 : ((addr & mask) | ~mask) >>> 0;
    const dest = (addr & mask) >>> 0;
    // A second address in a subnet already on this NIC is secondary (as on Linux): it
    // reuses the connected route, whose source stays the primary address.
    const secondary = this.#addrs.some((a) =>
      a.nicIndex === nicIndex && a.prefixLen === prefixLen && ((a.addr & mask) >>> 0) === dest
    );
    this.#addrs.push({ addr, prefixLen, nicIndex, broadcast });
    this.#local.add(addr);
    if (!this.#localList.includes(addr)) this.#localList.push(addr);
    if (!secondary) {
      this.routes.add({ dest, prefixLen, gateway: 0, nicIndex, source: addr, metric: 0 });
    }
    for (const l of this.#links) l?.arp.resetLast();
    this.#links[nicIndex]!.arp.announce(addr);
    for (const l of this.#addressListeners) l(addr, nicIndex, "added");
  }

  /**
   * Take `addr` off NIC `nicIndex`; throws a StackError EADDRNOTAVAIL when it is not there.
   *
   * As on Linux (`ip addr del`): routes whose preferred source it was go with it — the
   * connected route and a default route through its subnet; when a secondary address of the
   * same subnet stays on the NIC it is promoted (the routes come back with it as their
   * source, as with Linux's `promote_secondaries`). Sockets are left alone, neither closed
   * nor reset: one bound to the address keeps it (and a TCP connection its cached route, so
   * what it sends still leaves from it), but nothing to the address is delivered any more
   * (it is no longer local: ARP stops answering for it, datagrams count in InAddrErrors), so
   * a connection on it times out; a new bind, listen or connect from it fails EADDRNOTAVAIL.
   * `Ipv6Layer.removeAddress` does the same for IPv6.
   */
  removeAddress(nicIndex: number, addr: number): void {
    const i = this.#addrs.findIndex((a) => a.addr === addr && a.nicIndex === nicIndex);
    if (i < 0) {
      throw new StackError("EADDRNOTAVAIL", `${formatIpv4(addr)} is not on NIC ${nicIndex}`);
    }
    const gone = this.#addrs[i];
    this.#addrs.splice(i, 1);
    if (!this.#addrs.some((a) => a.addr === addr)) {
      this.#local.delete(addr);
      const j = this.#localList.indexOf(addr);
      if (j >= 0) this.#localList.splice(j, 1);
    }
    const mask = prefixMask(gone.prefixLen);
    const dest = (addr & mask) >>> 0;
    const heir = this.#addrs.find((a) =>
      a.nicIndex === nicIndex && a.prefixLen === gone.prefixLen && ((a.addr & mask) >>> 0) === dest
    );
    for (const r of this.routes.removeBySource(addr, nicIndex)) {
      if (heir !== undefined) this.routes.add({ ...r, source: heir.addr });
    }
    for (const l of this.#links) l?.arp.resetLast();
    for (const l of this.#addressListeners) l(addr, nicIndex, "removed");
  }

  /**
   * Call `listener` after every {@link addAddress} (`"added"`) and {@link removeAddress}
   * (`"removed"`): the runtime's kernel RX program follows.
   */
  addAddressListener(
    listener: (addr: number, nicIndex: number, event: "added" | "removed") => void,
  ): void {
    this.#addressListeners.push(listener);
  }

  /**
   * Set the default route through `gateway` (which must be on a connected subnet), replacing
   * any earlier one. Throws a StackError ENETUNREACH otherwise (ENOSPC when the routing table
   * is full).
   */
  setDefaultGateway(gateway: number): void {
    // The gateway must be on-link: reached by a connected route, not through another router.
    if (!this.routes.lookup(gateway, this.#route) || this.#route.nextHop !== gateway) {
      throw new StackError(
        "ENETUNREACH",
        `setDefaultGateway: ${formatIpv4(gateway)} is not on a connected subnet`,
      );
    }
    this.routes.remove(0, 0); // replaces an earlier default route, like `ip route replace`
    this.routes.add({
      dest: 0,
      prefixLen: 0,
      gateway,
      nicIndex: this.#route.nicIndex,
      source: this.#route.source,
      metric: 100,
    });
  }

  /** The reassembler's reused fragment-copy views (hits and misses counted). */
  get reassemblyCopyViews(): SubarrayCache {
    return this.#reasm.copyViews;
  }

  /** Every assigned address. */
  addresses(): readonly Ipv4InterfaceAddress[] {
    return this.#addrs;
  }

  /** True if `addr` is one of ours (any NIC). */
  isLocalAddress(addr: number): boolean {
    return this.#isLocal(this.#dstScratch.setV4(addr));
  }

  /** {@link isLocalAddress} of an IPv4(-mapped) record (its `w3`). */
  isLocalAddr(a: IpAddr): boolean {
    return this.#isLocal(a);
  }

  /**
   * {@link isLocalAddress} of an IPv4(-mapped) record without allocating (see `#localList`).
   * The address is read from the record here: a u32 ≥ 2**30 (64.0.0.0 and up) passed as a
   * number to a call V8 does not inline is a new heap number each time.
   */
  #isLocal(a: IpAddr): boolean {
    const addr = a.w3;
    const l = this.#localList;
    if (l.length > LOCAL_LIST_SCAN_MAX) return this.#local.has(addr);
    for (let i = 0; i < l.length; i++) if (l[i] === addr) return true;
    return false;
  }

  /** True if `addr` is assigned to NIC `nicIndex`. */
  isLocalAddressOn(nicIndex: number, addr: number): boolean {
    const a = this.#addrs;
    for (let i = 0; i < a.length; i++) {
      if (a[i].addr === addr && a[i].nicIndex === nicIndex) return true;
    }
    return false;
  }

  /** True if `addr` is the directed broadcast of a subnet on NIC `nicIndex`. */
  isBroadcastOn(nicIndex: number, addr: number): boolean {
    const a = this.#addrs;
    for (let i = 0; i < a.length; i++) {
      if (a[i].broadcast === addr && a[i].nicIndex === nicIndex) return true;
    }
    return false;
  }

  /** The first address of NIC `nicIndex`, or 0. */
  primaryAddressOn(nicIndex: number): number {
    for (const a of this.#addrs) if (a.nicIndex === nicIndex) return a.addr;
    return 0;
  }

  /**
   * Route `dst`: fills `out` (NIC, next hop, source) and returns true, or false (no route). A
   * number argument, for rare paths; per-packet callers use {@link Ipv4Layer.routeAddr}.
   */
  route(dst: number, out: RouteResult): boolean {
    const key = this.#routeKey;
    return this.routeAddr(key.setV4(dst), out);
  }

  /**
   * {@link Ipv4Layer.route} to the IPv4 address `dst` (its `w3`), read from the record: no number crosses the call, so routing a SYN-ACK or RST to a peer in
   * 198.18/15 makes no heap number.
   */
  routeAddr(dst: IpAddr, out: RouteResult): boolean {
    const a = dst.w3;
    if (a === 0xffffffff) {
      // RFC 1122 §3.3.6: limited broadcast goes out the first interface.
      for (const ad of this.#addrs) {
        out.nicIndex = ad.nicIndex;
        out.nextHop = a;
        out.source = ad.addr;
        return true;
      }
      return false;
    }
    return this.routes.lookupAddr(dst, out);
  }

  /** MTU of the link of NIC `nicIndex` (0 when there is none). */
  mtuOf(nicIndex: number): number {
    return this.#links[nicIndex]?.link.mtu ?? 0;
  }

  /** The path MTU towards `dst` leaving through a link of `linkMtu` bytes. */
  pathMtu(dst: number, linkMtu: number): number {
    return this.pmtu.mtuFor(this.#dstScratch.setV4(dst), linkMtu);
  }

  /** The error-report record for the datagram whose header (`headerBytes`) is at `buf[off]`. */
  #fillErrMeta(buf: Uint8Array, off: number, headerBytes: number): NetRxMeta {
    const m = this.#errMeta;
    m.net = this.#meta.net;
    m.buf = buf;
    m.headerOff = off;
    m.payloadOff = off + headerBytes;
    m.datagramBytes = headerBytes + 8;
    m.src.setV4(readIpv4(buf, off + 12));
    m.dst.setV4(readIpv4(buf, off + 16));
    m.toGroup = false;
    m.linkNotHost = false;
    m.hopLimit = buf[off + 8];
    m.tos = buf[off + 1];
    return m;
  }

  /**
   * Handle one received IPv4 packet `buf[off..off+len)` from NIC `nicIndex`. Never throws;
   * every drop is counted.
   */
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
    const st = this.#stats.ip;
    st.InReceives++;
    const h = this.#hdr.attach(buf, off, len);
    const bad = h.check(true, (rxFlags & RX_GSO) !== 0);
    if (bad !== null) {
      if (bad in st) st[bad]++;
      else st.InHdrErrors++;
      return;
    }
    let totalLength = h.totalLength;
    if (totalLength === 0) {
      // BIG TCP (check accepted it only so): a GSO super-frame above 64 KB, all of the bytes.
      totalLength = len;
      st.InBigTcpPkts++;
    }
    const meta = this.#meta;
    // The addresses go from the header straight into the delivery record and are read there:
    // the header's getters returned a new heap number per packet for each address ≥ 64.0.0.0.
    const src = meta.src.setV4At(buf, off + IPV4_SRC_OFFSET);
    const dst = meta.dst.setV4At(buf, off + IPV4_DST_OFFSET);
    // RFC 1122 §3.2.1.3 / RFC 1812 §5.3.7: martian sources are dropped silently; so is our
    // own address arriving from the wire (only the local path may carry it).
    if (isIpv4MartianTop(src.w3 >>> 24) || (!local && this.#isLocal(src))) {
      st.InMartianSrc++;
      return;
    }
    let toGroup = false;
    if (!this.#isLocal(dst)) {
      const d = dst.w3;
      if (isIpv4LimitedBroadcast(d) || this.isBroadcastOn(nicIndex, d)) toGroup = true;
      else if (isIpv4Multicast(d) && d === 0xe0000001) toGroup = true; // all-hosts
      else {
        st.InAddrErrors++;
        return;
      }
    }
    const headerBytes = h.headerBytes;
    if (headerBytes > IPV4_HEADER_MIN_BYTES) {
      const bad = checkIpv4Options(buf, off + IPV4_HEADER_MIN_BYTES, h.optionsLength);
      if (bad >= 0) {
        // RFC 1122 §3.2.1.8, RFC 792: a malformed option: parameter problem, pointer to it.
        st.InHdrErrors++;
        if (this.reporter !== null) {
          meta.nicIndex = nicIndex;
          meta.toGroup = toGroup;
          meta.linkNotHost = (rxFlags & RX_LINK_NOT_HOST) !== 0;
          meta.buf = buf;
          meta.headerOff = off;
          meta.payloadOff = off + headerBytes;
          meta.datagramBytes = totalLength;
          this.reporter.parameterProblem(meta, IPV4_HEADER_MIN_BYTES + bad);
        }
        return;
      }
    }
    meta.nicIndex = nicIndex;
    meta.hopLimit = h.ttl;
    meta.tos = h.tos;
    meta.toGroup = toGroup;
    meta.linkNotHost = (rxFlags & RX_LINK_NOT_HOST) !== 0;
    const protocol = h.protocol;
    if (h.isFragment()) {
      st.ReasmReqds++;
      const whole = this.#reasm.add(buf, off, totalLength, rxFlags);
      if (whole === null) return;
      // The reassembled datagram: the first fragment's header in front of the joined payload.
      const hb = whole.headerBytes;
      st.ReasmOKs++;
      this.#deliver(protocol, whole.buf, whole.off, whole.off + hb, whole.len - hb, whole.rxFlags);
      return;
    }
    this.#deliver(protocol, buf, off, off + headerBytes, totalLength - headerBytes, rxFlags);
  }

  #deliver(
    protocol: number,
    buf: Uint8Array,
    headerOff: number,
    off: number,
    len: number,
    rxFlags: number,
  ): void {
    const handler = this.#handlers[protocol];
    const m = this.#meta;
    m.routerAlert = false;
    m.buf = buf;
    m.headerOff = headerOff;
    m.datagramBytes = off + len - headerOff;
    m.payloadOff = off;
    if (handler === null) {
      this.#stats.ip.InUnknownProtos++;
      this.reporter?.protocolUnreachable(m);
      return;
    }
    this.#stats.ip.InDelivers++;
    handler.receive(m, buf, off, len, rxFlags);
  }

  /**
   * Send the transport packet in `pb` (its head is the transport header) from `src` to `dst`,
   * along a route already looked up into `route`. Prepends the IPv4 header, fragments when it
   * exceeds the MTU and `dontFragment` is false, and hands it to ARP. Takes ownership of `pb`.
   * A UFO datagram (`offload.gsoType` GSO_UDP) goes to the link whole for it to fragment,
   * unless its neighbour is unknown: then it is summed and fragmented here like any other.
   * Returns false when it was dropped (counted).
   */
  send(
    pb: PacketBuffer,
    route: RouteResult,
    src: number,
    dst: number,
    protocol: number,
    ttl: number,
    tos: number,
    dontFragment: boolean,
    offload: TxOffload | null,
  ): boolean {
    const s = this.#txSrc.setV4(src);
    const d = this.#txDst.setV4(dst);
    return this.sendAddr(pb, route, s, d, protocol, ttl, tos, dontFragment, offload);
  }

  /**
   * {@link Ipv4Layer.send} with the addresses as IPv4(-mapped) records, read where they are
   * used: the per-segment path of the transports. A u32 address ≥ 64.0.0.0 (2**30) passed as a
   * number to, or returned from, a call V8 does not inline is a new heap number each time.
   */
  sendAddr(
    pb: PacketBuffer,
    route: RouteResult,
    src: IpAddr,
    dst: IpAddr,
    protocol: number,
    ttl: number,
    tos: number,
    dontFragment: boolean,
    offload: TxOffload | null,
  ): boolean {
    const st = this.#stats.ip;
    st.OutRequests++;
    const l = this.#links[route.nicIndex];
    if (l === undefined) {
      st.OutNoRoutes++;
      this.#pool.free(pb);
      return false;
    }
    const payloadLen = pb.length;
    const total = payloadLen + IPV4_HEADER_MIN_BYTES;
    if (this.#isLocal(dst)) {
      return this.#sendLocal(pb, route.nicIndex, src, dst, protocol, ttl, tos);
    }
    let gso = offload !== null && offload.gsoType !== 0;
    if (
      gso && offload!.gsoType === GSO_UDP &&
      (total > 0xffff || l.arp.lookup(route.nextHop) === null)
    ) {
      // A UFO datagram whose neighbour is not known yet (the neighbour queue keeps no offload
      // request) or that cannot exist: summed and, below, fragmented or refused here.
      if (!pb.flatten()) return this.#discard(pb);
      if (offload!.needsCsum) {
        finishPartialChecksum(pb.data, pb.head, pb.length, offload!.csumStart, offload!.csumOffset);
      }
      offload = null;
      gso = false;
    }
    if (total > 0xffff && !gso) {
      // RFC 791: the total length field is 16 bits; nothing larger exists as one datagram.
      st.OutDiscards++;
      this.#pool.free(pb);
      return false;
    }
    const mtu = this.pmtu.mtuFor(dst, l.link.mtu);
    if (total > mtu && !gso) {
      // Quoted in an error or sliced into fragments: the bytes must be here.
      if (!pb.flatten()) return this.#discard(pb);
      if (dontFragment) {
        st.FragFails++;
        this.#refuseTooBig(pb, src, dst, protocol, ttl, tos, mtu);
        return false;
      }
      const sink = this.#fragOut;
      sink.arp = l.arp;
      sink.nextHop = route.nextHop;
      const repr = this.#txRepr(src, dst, protocol, ttl, tos);
      return fragmentIpv4(pb, mtu, repr, this.#pool, st, sink);
    }
    const o = pb.prepend(IPV4_HEADER_MIN_BYTES);
    const repr = this.#txRepr(src, dst, protocol, ttl, tos);
    if (gso && offload!.gsoType === GSO_TCPV4) {
      // The link gives the segments it cuts from a TCP super-segment the identifications id,
      // id + 1, …: the next datagram follows the last of them, as Linux's counter advances by
      // the segment count (ip_select_ident_segs). A receiver's GRO merges DF segments only
      // while each carries the first one's id plus the count merged so far.
      const segments = Math.ceil((payloadLen - offload!.hdrLen) / offload!.gsoSize);
      this.#nextId = (this.#nextId + segments - 1) & 0xffff;
    }
    repr.totalLength = total;
    repr.dontFragment = dontFragment;
    repr.emit(pb.data, o);
    if (offload !== null) {
      offload.csumStart += 14 + IPV4_HEADER_MIN_BYTES;
      offload.hdrLen += 14 + IPV4_HEADER_MIN_BYTES;
    }
    return this.#output(l, pb, route, offload);
  }

  /**
   * A datagram to one of our own addresses never touches the link: it is queued and delivered
   * at the start of the next tick (no re-entry into the sender), like Linux's loopback route.
   */
  #sendLocal(
    pb: PacketBuffer,
    nicIndex: number,
    src: IpAddr,
    dst: IpAddr,
    protocol: number,
    ttl: number,
    tos: number,
  ): boolean {
    const total = pb.length + IPV4_HEADER_MIN_BYTES;
    // The local queue keeps the packet past this call: a gathered payload comes in now.
    if (total > 0xffff || !pb.flatten()) return this.#discard(pb);
    const o = pb.prepend(IPV4_HEADER_MIN_BYTES);
    const repr = this.#txRepr(src, dst, protocol, ttl, tos);
    repr.totalLength = total;
    repr.emit(pb.data, o);
    if (this.#localQueue.push(pb, nicIndex)) return true;
    this.#stats.ip.OutDiscards++;
    return false;
  }

  /** True when datagrams to our own addresses wait for delivery. */
  get hasLocalPending(): boolean {
    return this.#localQueue.pending;
  }

  /** Deliver the datagrams queued for our own addresses; returns how many. */
  deliverLocal(): number {
    return this.#localQueue.deliver(this);
  }

  /** {@link LocalReceiver.receiveLocal}: checksums were computed by us (RX_CSUM_VALID). */
  receiveLocal(nicIndex: number, buf: Uint8Array, off: number, len: number): void {
    this.#input(nicIndex, buf, off, len, 1, true);
  }

  /** Drop `pb` (counted in OutDiscards); false. */
  #discard(pb: PacketBuffer): boolean {
    this.#stats.ip.OutDiscards++;
    this.#pool.free(pb);
    return false;
  }

  /** The layer's header record, set up for a new datagram (fresh id, no fragment fields). */
  #txRepr(src: IpAddr, dst: IpAddr, protocol: number, ttl: number, tos: number): Ipv4Repr {
    const r = this.#repr;
    r.src = src.w3;
    r.dst = dst.w3;
    r.protocol = protocol;
    r.ttl = ttl;
    r.tos = tos;
    r.id = this.#nextId = (this.#nextId + 1) & 0xffff;
    r.dontFragment = false;
    r.moreFragments = false;
    r.fragmentOffsetBytes = 0;
    return r;
  }

  #output(
    l: AttachedLink,
    pb: PacketBuffer,
    route: RouteResult,
    offload: TxOffload | null,
  ): boolean {
    // The next hop stays in the route record: see sendAddr.
    if (offload === null) return l.arp.sendVia(pb, route, ETHERTYPE_IPV4);
    // Offload metadata is not kept in the ARP queue: with the neighbour unknown a frame that
    // only asked for a checksum gets it here and waits; a GSO super-segment is dropped
    // (counted) and resolution started; the transport retransmits it.
    const mac = l.arp.lookupVia(route);
    if (mac !== null) return l.link.output(pb, mac, 0, ETHERTYPE_IPV4, offload);
    const nextHop = route.nextHop;
    if (finishOffloadInSoftware(pb, offload)) return l.arp.send(pb, nextHop, ETHERTYPE_IPV4);
    this.#stats.ip.OutDiscards++;
    this.#pool.free(pb);
    l.arp.solicit(nextHop);
    return false;
  }

  /**
   * A DF datagram larger than the path MTU is not sent: its header is written so that the
   * error can quote it, and the reporter tells the sender (RFC 1191 §3: as a router would).
   */
  #refuseTooBig(
    pb: PacketBuffer,
    src: IpAddr,
    dst: IpAddr,
    protocol: number,
    ttl: number,
    tos: number,
    mtu: number,
  ): void {
    if (this.reporter !== null) {
      const total = pb.length + IPV4_HEADER_MIN_BYTES;
      const o = pb.prepend(IPV4_HEADER_MIN_BYTES);
      const repr = this.#txRepr(src, dst, protocol, ttl, tos);
      repr.totalLength = total;
      repr.dontFragment = true;
      repr.emit(pb.data, o);
      const m = this.#fillErrMeta(pb.data, o, IPV4_HEADER_MIN_BYTES);
      this.reporter.fragmentationNeeded(m, mtu);
    }
    this.#pool.free(pb);
  }
}

/** Sends the fragments of one datagram to its next hop; one object reused by the layer. */
class FragmentSink implements FragmentOutput {
  arp: ArpCache | null = null;
  nextHop = 0;
  outputFragment(pb: PacketBuffer): boolean {
    return this.arp!.send(pb, this.nextHop, ETHERTYPE_IPV4);
  }
}
