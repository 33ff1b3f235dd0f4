/**
 * UDP (RFC 768, RFC 1122 §4.1) over IPv4 and IPv6 alike (RFC 8200 §8): endpoints with
 * bounded receive queues, binding with ephemeral ports, dual-stack sockets (an AF_INET6
 * socket bound to `::` without IPV6_V6ONLY also gets IPv4, its peers IPv4-mapped),
 * connected-peer filtering, broadcast, checksums (mandatory over IPv6), and ICMP/ICMPv6
 * errors both ways. One implementation: the family is the network layer's business.
 *
 * @module
 */

import { foldSum, transportChecksumOk } from "../net/checksum.ts";
import { GSO_UDP, TxOffload } from "../link/driver.ts";
import { ETH_HEADER_BYTES } from "../link/ethernet.ts";
import {
  type IpAddr,
  IpAddress,
  type IpFamily,
  isMulticast,
  isUnspecified,
} from "../net/ip_address.ts";
import type { IpNetworks } from "../net/ip_networks.ts";
import {
  errnoOfNetError,
  NET_ERR_PARAMETER_PROBLEM,
  NET_ERR_TIME_EXCEEDED,
  NET_ERR_TOO_BIG,
  type NetError,
  type NetProtocolHandler,
  NetRoute,
  type NetRxMeta,
} from "../net/network_layer.ts";
import type { Clock } from "../core/clock.ts";
import { StackError } from "../core/errors.ts";
import type { EventMux } from "../core/event_mux.ts";
import type { BufferPool } from "../core/packet_buffer.ts";
import { HEADROOM_BYTES } from "../core/packet_buffer.ts";
import type { Counters } from "../core/counters.ts";
import { SubarrayCache } from "../core/subarray_cache.ts";
import { DemuxTable, PortAllocator } from "./demux.ts";
import { UDP_CHECKSUM_OFFSET, UDP_HEADER_BYTES, UdpHeader, writeUdpHeader } from "./udp_header.ts";
import { UdpPeer } from "./udp_records.ts";
import { anyOf, UdpEndpoint, type UdpSocketHost } from "./udp_endpoint.ts";

export { UdpEndpoint, UdpPeer };

/** IP protocol number of UDP. */
const IP_PROTO_UDP = 17;
/**
 * Payload views kept for the copy onto sockets: about one per receive-ring slot (3,680 at MTU
 * 9000, 20,960 at MTU 1500) and reassembly buffer; ~100 bytes each once made.
 */
const UDP_COPY_VIEWS = 32768;

/** Largest UDP payload over IPv4 (65535 − 20 − 8). */
export const UDP_MAX_PAYLOAD = 65507;
/** Largest UDP payload over IPv6 (65535 − 8, no jumbograms). */
export const UDP6_MAX_PAYLOAD = 65527;

/** What UDP needs from the stack (the Stack satisfies it). */
export interface UdpContext {
  /** Time source. */
  readonly clock: Clock;
  /** Packet buffers. */
  readonly pool: BufferPool;
  /** Counters. */
  readonly stats: { readonly udp: Counters };
  /** Readiness mux. */
  readonly mux: EventMux;
  /** IPv4 and IPv6. */
  readonly networks: IpNetworks;
  /** Ask for a tick so queued frames are flushed. */
  requestTick(): void;
}

/** Tunables of UDP. */
export interface UdpOptions {
  /** Ephemeral port range, inclusive [32768, 60999] (Linux ip_local_port_range). */
  ephemeralPortRange?: [number, number];
  /** Default receive buffer (SO_RCVBUF) in bytes [212 992, Linux rmem_default]. */
  receiveBufferBytes?: number;
  /** Largest SO_RCVBUF accepted [4 MiB]. */
  maxReceiveBufferBytes?: number;
  /** Datagrams queued per socket at most, whatever their size [4096]. */
  maxQueuedDatagrams?: number;
  /** Most UDP sockets [65 536]. */
  maxSockets?: number;
  /**
   * A further condition on the ephemeral port that `connect()` or the first `sendto()` of an
   * unbound socket binds: only a local port for which `connectPortFilter(localPort,
   * remotePort)` is true is picked [none] (a stack sharing an interface by flow steering, as
   * TCP's option of the same name). Never called per packet.
   */
  connectPortFilter?: ((localPort: number, remotePort: number) => boolean) | null;
}

/**
 * UDP for one stack, over both network layers.
 *
 * @example
 * ```ts ignore
 * const udp = new UdpLayer(stack);
 * const s = udp.open(6); // dual-stack
 * s.bind(null, 7);
 * ```
 */
export class UdpLayer implements NetProtocolHandler, UdpSocketHost {
  /** Largest SO_RCVBUF accepted. */
  readonly maxReceiveBufferBytes: number;
  readonly #ctx: UdpContext;
  readonly #table: DemuxTable<UdpEndpoint>;
  readonly #ports: PortAllocator;
  readonly #hdr = new UdpHeader();
  /**
   * Views of received payloads for the copy onto a socket, reused: a receive ring's slots and
   * a reassembly buffer hold payloads at the same offsets again and again (no view per copy).
   */
  readonly #views: SubarrayCache;
  readonly #txHdr = new UdpHeader();
  readonly #offload = new TxOffload();
  readonly #route = new NetRoute();
  readonly #rcvbuf: number;
  readonly #maxDatagrams: number;
  readonly #maxSockets: number;
  readonly #connectPortFilter: ((localPort: number, remotePort: number) => boolean) | null;
  #sockets = 0;

  /** Attach to both network layers as protocol 17. */
  constructor(ctx: UdpContext, opts: UdpOptions = {}) {
    this.#ctx = ctx;
    this.#views = new SubarrayCache(UDP_COPY_VIEWS, ctx.stats.udp, "CopyView");
    const [lo, hi] = opts.ephemeralPortRange ?? [32768, 60999];
    this.#ports = new PortAllocator(lo, hi);
    this.#rcvbuf = opts.receiveBufferBytes ?? 212_992;
    this.maxReceiveBufferBytes = opts.maxReceiveBufferBytes ?? 4 << 20;
    this.#maxDatagrams = opts.maxQueuedDatagrams ?? 4096;
    this.#maxSockets = opts.maxSockets ?? 65_536;
    this.#connectPortFilter = opts.connectPortFilter ?? null;
    this.#table = new DemuxTable({ maxEntries: this.#maxSockets });
    ctx.networks.v4.registerHandler(IP_PROTO_UDP, this);
    ctx.networks.v6.registerHandler(IP_PROTO_UDP, this);
  }

  /** Open sockets. */
  get sockets(): number {
    return this.#sockets;
  }

  /**
   * A new, unbound socket of `family` (4 = AF_INET, 6 = AF_INET6). Throws ENOBUFS past
   * `maxSockets`.
   */
  open(family: IpFamily = 4): UdpEndpoint {
    if (this.#sockets >= this.#maxSockets) throw new StackError("ENOBUFS", "too many UDP sockets");
    this.#sockets++;
    return new UdpEndpoint(this, family, this.#rcvbuf, this.#maxDatagrams);
  }

  /**
   * The reused payload views of the copy onto sockets (hits, misses and replacements counted in
   * `stats.udp` as `CopyViewHits`, `CopyViewMisses`, `CopyViewReplaced`).
   */
  get copyViews(): SubarrayCache {
    return this.#views;
  }

  /** @internal The UDP counters. */
  get counters(): Counters {
    return this.#ctx.stats.udp;
  }

  /** @internal Ask for a tick so queued datagrams go out (once per batch call). */
  flushRequest(): void {
    this.#ctx.requestTick();
  }

  /** @internal Readiness change of `ep`. */
  notify(ep: UdpEndpoint, events: number): void {
    this.#ctx.mux.notify(ep.wq, events);
  }

  /** Refuse a peer the socket's family cannot reach (Linux's errors for each case). */
  #checkFamily(call: string, ep: UdpEndpoint, addr: IpAddr): void {
    if (ep.family === 4 && addr.family === 6) {
      throw new StackError("EAFNOSUPPORT", `${call}: an IPv6 address on an AF_INET socket`);
    }
    if (addr.family === 4 && ep.family === 6 && ep.v6only) {
      throw new StackError("ENETUNREACH", `${call}: IPv4-mapped peer with IPV6_V6ONLY`);
    }
    if (!isUnspecified(ep.localAddr) && ep.localAddr.family !== addr.family) {
      throw new StackError("EINVAL", `${call}: bound to an address of the other family`);
    }
  }

  /**
   * @internal Bind `ep`; port 0 picks an ephemeral one — with `remotePort` (the binding of a
   * `connect()` or first `sendto()`), one `connectPortFilter` accepts.
   */
  bind(ep: UdpEndpoint, addr: IpAddr, port: number, remotePort = 0): void {
    if (ep.localPort !== 0) throw new StackError("EINVAL", "bind: socket is already bound");
    if (ep.family === 4 && addr.family === 6) {
      throw new StackError("EAFNOSUPPORT", "bind: an IPv6 address on an AF_INET socket");
    }
    if (ep.family === 6 && ep.v6only && addr.family === 4) {
      throw new StackError("EINVAL", "bind: IPv4-mapped address with IPV6_V6ONLY");
    }
    if (!isUnspecified(addr)) {
      const net = this.#ctx.networks.of(addr);
      if (!net.isLocalAddress(addr) && !net.isBroadcast(addr, 0)) {
        throw new StackError("EADDRNOTAVAIL", "bind: address is not local");
      }
    }
    if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
      throw new StackError("EINVAL", "bind: port must be 0..65535");
    }
    const t = this.#table;
    const v6only = ep.v6only;
    if (port === 0) {
      const filter = remotePort === 0 ? null : this.#connectPortFilter;
      port = this.#ports.allocate((p) =>
        t.isPortBound(addr, p, v6only) || t.hasConnectedOnPort(p) ||
        (filter !== null && !filter(p, remotePort))
      );
      if (port < 0) throw new StackError("EADDRINUSE", "bind: no free ephemeral port");
    } else if (t.isPortBound(addr, port, v6only) || t.hasConnectedOnPort(port)) {
      throw new StackError("EADDRINUSE", `bind: port ${port} is in use`);
    }
    if (!t.insertBound(addr, port, ep, v6only)) {
      throw new StackError("EADDRINUSE", `bind: port ${port} is in use`);
    }
    ep.localAddr = IpAddress.from(addr);
    ep.localPort = port;
  }

  /** @internal */
  connect(ep: UdpEndpoint, addr: IpAddr, port: number): void {
    if (isUnspecified(addr) || port === 0) {
      throw new StackError("EINVAL", "connect: need address and port");
    }
    this.#checkFamily("connect", ep, addr);
    const r = this.#route;
    if (!this.#ctx.networks.of(addr).route(addr, r)) {
      throw new StackError("ENETUNREACH", "connect: no route");
    }
    if (ep.localPort === 0) this.bind(ep, anyOf(ep.family), 0, port);
    const t = this.#table;
    // Move from the bound table to the connected table under the route's source address.
    if (ep.remotePort !== 0) {
      t.removeConnected(ep.localAddr, ep.localPort, ep.remoteAddr, ep.remotePort, ep);
    } else t.removeBound(ep.localAddr, ep.localPort, ep);
    const local = isUnspecified(ep.localAddr) ? r.source : ep.localAddr;
    if (!t.insertConnected(local, ep.localPort, addr, port, ep)) {
      t.insertBound(ep.localAddr, ep.localPort, ep, ep.v6only);
      throw new StackError("EADDRINUSE", "connect: 4-tuple in use");
    }
    ep.localAddr = IpAddress.from(local);
    ep.remoteAddr = IpAddress.from(addr);
    ep.remotePort = port;
  }

  /** @internal IP_MTU: the path MTU towards the connected peer (ENOTCONN when unconnected). */
  pathMtu(ep: UdpEndpoint): number {
    if (ep.remotePort === 0) throw new StackError("ENOTCONN", "getsockopt: IP_MTU needs a peer");
    const net = this.#ctx.networks.of(ep.remoteAddr);
    const r = this.#route;
    if (!net.route(ep.remoteAddr, r)) throw new StackError("ENETUNREACH", "getsockopt: no route");
    return net.pathMtu(ep.remoteAddr, r);
  }

  /** @internal */
  release(ep: UdpEndpoint): void {
    if (ep.localPort !== 0) {
      if (ep.remotePort !== 0) {
        this.#table.removeConnected(ep.localAddr, ep.localPort, ep.remoteAddr, ep.remotePort, ep);
      } else this.#table.removeBound(ep.localAddr, ep.localPort, ep);
    }
    this.#sockets--;
  }

  /** @internal */
  sendto(
    ep: UdpEndpoint,
    data: Uint8Array,
    off: number,
    len: number,
    addr: IpAddr | null,
    port: number,
    requestTick = true,
  ): number {
    const ctx = this.#ctx;
    if (addr === null) {
      if (ep.remotePort === 0) throw new StackError("EDESTADDRREQ", "sendto: no destination");
      addr = ep.remoteAddr;
      port = ep.remotePort;
    } else this.#checkFamily("sendto", ep, addr);
    if (!(port > 0 && port <= 65535)) throw new StackError("EINVAL", "sendto: bad port");
    const net = ctx.networks.of(addr);
    if (len > net.maxPayloadBytes - UDP_HEADER_BYTES || len > ep.sendBufferBytes) {
      throw new StackError("EMSGSIZE", `sendto: ${len} bytes is too long`);
    }
    const r = this.#route;
    if (!net.route(addr, r)) throw new StackError("ENETUNREACH", "sendto: no route to host");
    if (!ep.broadcast && net.isBroadcast(addr, r.nicIndex)) {
      throw new StackError("EACCES", "sendto: broadcast needs SO_BROADCAST");
    }
    // Linux ip_append_data with IP_PMTUDISC_DO: no fragmenting, so no more than the path takes.
    if (ep.dontFragment && len + UDP_HEADER_BYTES + net.headerBytes > net.pathMtu(addr, r)) {
      throw new StackError("EMSGSIZE", `sendto: ${len} bytes exceed the path MTU (DF)`);
    }
    if (ep.localPort === 0) this.bind(ep, anyOf(ep.family), 0, port);
    const bound = ep.localAddr;
    const src = isUnspecified(bound) || net.isBroadcast(bound, 0) ? r.source : bound;
    const pb = ctx.pool.alloc(HEADROOM_BYTES);
    if (pb === null || pb.tailroom < len + UDP_HEADER_BYTES) {
      if (pb !== null) ctx.pool.free(pb);
      ctx.stats.udp.SndbufErrors++;
      throw new StackError("ENOBUFS", "sendto: no packet buffers");
    }
    const total = len + UDP_HEADER_BYTES;
    const o = pb.append(total);
    const b = pb.data;
    // Whole-array copies avoid making a view; a sub-range costs one short-lived view, which
    // measured ~18x cheaper than a byte loop at 1460 bytes.
    if (off === 0 && len === data.length) b.set(data, o + UDP_HEADER_BYTES);
    else b.set(data.subarray(off, off + len), o + UDP_HEADER_BYTES);
    writeUdpHeader(b, o, ep.localPort, port, total);
    const h = this.#txHdr.attach(b, o, total);
    const pseudo = net.pseudoHeaderSum(src, addr, IP_PROTO_UDP, total);
    let offload: TxOffload | null = null;
    const link = r.link;
    const pathMtu = net.pathMtu(addr, r);
    if (
      link !== null && total + net.headerBytes > pathMtu && addr.family === 4 &&
      link.capabilities.udpFragmentationOffload === true && !ep.dontFragment &&
      ETH_HEADER_BYTES + net.headerBytes + total <= link.capabilities.maxGsoBytes
    ) {
      // UFO: the datagram goes to the link as one frame and the kernel fragments it, as it
      // does its own sockets' datagrams (RFC 791 §3.2: fragments carry multiples of 8 bytes,
      // the id of the whole; the kernel sums the checksum over the whole datagram).
      offload = this.#offload;
      offload.clear();
      offload.needsCsum = true;
      offload.csumStart = 0;
      offload.csumOffset = UDP_CHECKSUM_OFFSET;
      offload.hdrLen = UDP_HEADER_BYTES;
      offload.gsoType = GSO_UDP;
      offload.gsoSize = (pathMtu - net.headerBytes) & ~7;
      h.checksum = foldSum(pseudo);
    } else if (
      link !== null && link.capabilities.txChecksumOffload && total + net.headerBytes <= pathMtu
    ) {
      // One frame: the kernel (or NIC) finishes the checksum, as for the kernel's own UDP
      // sockets; a datagram that is fragmented is summed here (fragments cannot be offloaded).
      offload = this.#offload;
      offload.clear();
      offload.needsCsum = true;
      offload.csumStart = 0; // relative to the UDP header; the IP layer adds its headers
      offload.csumOffset = UDP_CHECKSUM_OFFSET;
      offload.hdrLen = UDP_HEADER_BYTES;
      h.checksum = foldSum(pseudo);
    } else {
      // RFC 768 / RFC 8200 §8.1: a computed zero is sent as all ones (the view's writer does it).
      h.fillChecksum(pseudo);
    }
    ctx.stats.udp.OutDatagrams++;
    const hops = ep.ttl || net.defaultHopLimit;
    net.send(pb, r, src, addr, IP_PROTO_UDP, hops, 0, ep.dontFragment, offload);
    if (requestTick) ctx.requestTick();
    return len;
  }

  /** Handle a received datagram (either family). */
  receive(meta: NetRxMeta, buf: Uint8Array, off: number, len: number, rxFlags: number): void {
    const st = this.#ctx.stats.udp;
    const h = this.#hdr.attach(buf, off, len);
    if (h.check() !== null) {
      st.InErrors++;
      return;
    }
    const ulen = h.length;
    const net = meta.net!;
    // RFC 768: checksum 0 means "none" over IPv4; RFC 8200 §8.1: IPv6 receivers discard it.
    if (
      h.checksum === 0 ? !net.udpChecksumOptional : !transportChecksumOk(
        buf,
        off,
        ulen,
        6,
        net.pseudoHeaderSum(meta.src, meta.dst, IP_PROTO_UDP, ulen),
        rxFlags,
      )
    ) {
      st.InCsumErrors++;
      st.InErrors++;
      return;
    }
    const dport = h.dstPort;
    const sport = h.srcPort;
    const t = this.#table;
    let ep = meta.toGroup ? undefined : t.lookupExact(meta.dst, dport, meta.src, sport);
    if (ep === undefined) ep = t.lookupBound(meta.toGroup ? anyOf(meta.family) : meta.dst, dport);
    if (ep === undefined) {
      if (meta.toGroup || isMulticast(meta.dst)) {
        st.IgnoredMulti++;
        return;
      }
      st.NoPorts++;
      net.sendPortUnreachable(meta);
      return;
    }
    const payload = ulen - UDP_HEADER_BYTES;
    if (!ep.enqueue(buf, off + UDP_HEADER_BYTES, payload, meta.src, sport, this.#views)) {
      st.RcvbufErrors++;
      st.InErrors++;
      return;
    }
    st.InDatagrams++;
  }

  /**
   * An ICMP or ICMPv6 error about a datagram we sent: reported on the connected socket, if
   * any (RFC 1122 §4.1.3.3; Linux without IP_RECVERR reports on connected sockets only). A
   * "too big" about a datagram from one of our sockets (connected or bound, as Linux's
   * `__udp4_lib_err` looks it up) lowers the path MTU, so the next datagrams to that
   * destination are fragmented to fit (RFC 1191 §3); it is an error (EMSGSIZE) only for a
   * connected socket that does not let its datagrams be fragmented (`dontFragment`).
   */
  receiveError(err: NetError, buf: Uint8Array, off: number, _len: number): void {
    const kind = err.kind;
    if (kind === NET_ERR_TIME_EXCEEDED || kind === NET_ERR_PARAMETER_PROBLEM) return;
    const sport = buf[off] << 8 | buf[off + 1];
    const dport = buf[off + 2] << 8 | buf[off + 3];
    const t = this.#table;
    if (kind === NET_ERR_TOO_BIG) {
      const ep = t.lookup(err.src, sport, err.dst, dport);
      if (err.mtu <= 0 || ep === undefined) return;
      const net = this.#ctx.networks.of(err.dst);
      const r = this.#route;
      if (net.route(err.dst, r)) net.lowerPathMtu(err.dst, err.mtu, r.linkMtu);
      if (ep.dontFragment && ep.remotePort !== 0) ep.setError("EMSGSIZE");
      return;
    }
    const ep = t.lookupExact(err.src, sport, err.dst, dport);
    if (ep === undefined) return;
    ep.setError(errnoOfNetError(kind));
  }
}
