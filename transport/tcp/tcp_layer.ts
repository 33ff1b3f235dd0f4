/**
 * The TCP layer of a stack: IP protocol 6 over IPv4 and IPv6 alike (one implementation; the
 * family is the network layer's business). It owns the demux table, the ISN generator, the
 * ephemeral ports and the transmitter every segment leaves through; it verifies and parses
 * every received segment (one reused record) and hands it to the connection or listener it
 * belongs to — or answers with a RST (RFC 9293 §3.10.7.1) when nothing does.
 *
 * @module
 */

import { transportChecksumOk } from "../../net/checksum.ts";
import { type IpAddr, IpAddress, type IpFamily, isUnspecified } from "../../net/ip_address.ts";
import {
  type NetError,
  type NetProtocolHandler,
  NetRoute,
  type NetRxMeta,
} from "../../net/network_layer.ts";
import { StackError } from "../../core/errors.ts";
import type { Counters } from "../../core/counters.ts";
import { DemuxTable, PortAllocator } from "../demux.ts";
import {
  type ResolvedTcpOptions,
  resolveTcpOptions,
  type TcpOptions,
  type TransportContext,
} from "./context.ts";
import {
  TCP_CHECKSUM_OFFSET,
  TCP_FLAG_ACK,
  TCP_FLAG_FIN,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  TcpHeader,
} from "./header.ts";
import { IsnGenerator } from "./isn.ts";
import { CONGESTION_CONTROL_NAMES, isCongestionControlName } from "./congestion/mod.ts";
import { parseTcpOptions } from "./options.ts";
import { TcpEndpoint } from "./endpoint.ts";
import { activeOpen } from "./handshake.ts";
import { endpointInput } from "./input.ts";
import { TcpListener } from "./listener.ts";
import { RxSegment } from "./segment.ts";
import { seqAdd, seqGt, seqInWindow } from "./seq.ts";
import { TcpTransmitter } from "./transmit.ts";
import { TcpState } from "./state.ts";
import { handleIcmpError } from "./icmp_error.ts";

export type { ResolvedTcpOptions, TcpOptions, TransportContext } from "./context.ts";

/**
 * RFC 6191 / Linux `tcp_twsk_unique`: a connection reopened from TIME_WAIT starts its ISS
 * beyond anything the old one could have sent (its SND.MAX plus a maximal unscaled window
 * and the SYN and FIN).
 */
const TIME_WAIT_ISN_GAP = 65536 + 2;

/** Bytes of our header an ICMP error quotes at least (RFC 792): ports and sequence number. */
const ICMP_QUOTE_BYTES = 8;

/** A demux entry: a connection (4-tuple) or a listener (bound). */
type TcpSocket = TcpEndpoint | TcpListener;

/** IP protocol number of TCP. */
const IP_PROTO_TCP = 6;
/** The IPv4 wildcard `0.0.0.0` and the IPv6 wildcard `::`. */
const ANY4 = IpAddress.v4(0);
const ANY6 = new IpAddress(0, 0, 0, 0);

/** Options of {@link TcpLayer.listen}. */
export interface TcpListenOptions {
  /** IPV6_V6ONLY: a `::` listener takes no IPv4 [false: dual-stack]. */
  v6only?: boolean;
}

/** Options of {@link TcpLayer.connect}. */
export interface TcpConnectOptions {
  /** Local address (default: the route's source). */
  localAddr?: IpAddr;
  /** Local port (default: an ephemeral one). */
  localPort?: number;
  /** NIC of a link-local destination (its `%zone`; 0 = the first). */
  zoneNic?: number;
}

/**
 * The TCP protocol layer.
 *
 * @example
 * ```ts ignore
 * const tcp = new TcpLayer(stack);
 * const l = tcp.listen(null, 80, 128); // every address of both families
 * const c = tcp.connect(IpAddress.parse("fd00:5::1"), 80);
 * ```
 */
export class TcpLayer implements NetProtocolHandler {
  /** The stack services. */
  readonly ctx: TransportContext;
  /** Options after defaults. */
  readonly opts: ResolvedTcpOptions;
  /** The `tcp` counters (Linux names). */
  readonly stats: Counters;
  /** @internal Connections and listeners. */
  readonly demux: DemuxTable<TcpSocket> = new DemuxTable<TcpSocket>();
  /** @internal RFC 6528 ISNs and timestamp offsets. */
  readonly isn: IsnGenerator;
  /** @internal Every segment leaves through it. */
  readonly tx: TcpTransmitter;
  readonly #rxHdr = new TcpHeader();
  readonly #quoteHdr = new TcpHeader();
  readonly #seg = new RxSegment();
  readonly #ports: PortAllocator;
  #live = 0;
  #challengeTokens: number;
  #challengeAtMs: number;

  /** Build the layer and register it as protocol 6 with both network layers. */
  constructor(ctx: TransportContext, opts: TcpOptions = {}) {
    this.ctx = ctx;
    this.opts = resolveTcpOptions(opts);
    if (!isCongestionControlName(this.opts.congestionControl)) {
      throw new StackError(
        "EINVAL",
        `tcp: unknown congestion control "${this.opts.congestionControl}" ` +
          `(${CONGESTION_CONTROL_NAMES.join(", ")})`,
      );
    }
    this.stats = ctx.stats.tcp;
    this.isn = new IsnGenerator(ctx.clock, opts.isnSecret);
    this.tx = new TcpTransmitter(ctx, this.stats);
    const [lo, hi] = this.opts.ephemeralPortRange;
    this.#ports = new PortAllocator(lo, hi);
    this.#challengeTokens = this.opts.challengeAckLimit;
    this.#challengeAtMs = ctx.clock.nowMs();
    ctx.networks.v4.registerHandler(IP_PROTO_TCP, this);
    ctx.networks.v6.registerHandler(IP_PROTO_TCP, this);
  }

  /** Live connections (every state but CLOSED, TIME_WAIT included). */
  get endpoints(): number {
    return this.#live;
  }

  /**
   * Listen on (`localAddr`, `localPort`): a local address of either family, or a wildcard —
   * `0.0.0.0` for every IPv4 address, `::` (or null) for every address of both families
   * (IPv6 only with `v6only`); port 0 picks an ephemeral one.
   *
   * @throws {StackError} EADDRINUSE when the port is bound, EADDRNOTAVAIL for a foreign
   * address, EINVAL for a bad port or backlog.
   */
  listen(
    localAddr: IpAddr | null,
    localPort: number,
    backlog: number,
    opts: TcpListenOptions = {},
  ): TcpListener {
    if (!(localPort >= 0 && localPort <= 65535) || !(backlog >= 0)) {
      throw new StackError("EINVAL", "listen: bad port or backlog");
    }
    const la = localAddr === null ? ANY6 : IpAddress.from(localAddr);
    if (!isUnspecified(la) && !this.ctx.networks.of(la).isLocalAddress(la)) {
      throw new StackError("EADDRNOTAVAIL", "listen: not a local address");
    }
    const v6only = opts.v6only === true && la.family === 6;
    let port = localPort;
    if (port === 0) {
      port = this.#ports.allocate((p) => this.demux.isPortBound(la, p, v6only));
      if (port < 0) throw new StackError("EADDRINUSE", "listen: no ephemeral port left");
    }
    if (this.demux.isPortBound(la, port, v6only)) {
      throw new StackError("EADDRINUSE", `listen: port ${port} is in use`);
    }
    const l = new TcpListener(this, la, port, backlog > 0 ? backlog : 1, v6only);
    if (!this.demux.insertBound(la, port, l, v6only)) {
      throw new StackError("EADDRINUSE", `listen: port ${port} is in use`);
    }
    return l;
  }

  /** The wildcard address of `family` (`0.0.0.0` or `::`). */
  static any(family: IpFamily): IpAddress {
    return family === 4 ? ANY4 : ANY6;
  }

  /**
   * Start an active open to (`remoteAddr`, `remotePort`). Non-blocking: the endpoint is
   * returned in SYN_SENT; the SYN leaves at the end of the tick. Wait for `EV_WRITABLE`
   * (connected) or `EV_ERROR` (`error` says why).
   *
   * @throws {StackError} ENETUNREACH (no route), EADDRNOTAVAIL (foreign local address or
   * no ephemeral port), EADDRINUSE (the 4-tuple exists).
   */
  connect(remoteAddr: IpAddr, remotePort: number, opts: TcpConnectOptions = {}): TcpEndpoint {
    if (!(remotePort > 0 && remotePort <= 65535)) {
      throw new StackError("EINVAL", "connect: bad remote port");
    }
    const ra = IpAddress.from(remoteAddr);
    const net = this.ctx.networks.of(ra);
    const route = new NetRoute();
    if (isUnspecified(ra) || !net.route(ra, route, opts.zoneNic ?? 0)) {
      throw new StackError("ENETUNREACH", "connect: no route to the destination");
    }
    let la: IpAddress;
    if (opts.localAddr === undefined || isUnspecified(opts.localAddr)) {
      la = IpAddress.from(route.source);
    } else if (opts.localAddr.family !== ra.family || !net.isLocalAddress(opts.localAddr)) {
      throw new StackError("EADDRNOTAVAIL", "connect: not a local address");
    } else la = IpAddress.from(opts.localAddr);
    let lp = opts.localPort ?? 0;
    if (lp === 0) {
      lp = this.#ports.allocate((p) =>
        this.demux.isPortBound(la, p) ||
        this.demux.lookupExact(la, p, ra, remotePort) !== undefined
      );
      if (lp < 0) throw new StackError("EADDRNOTAVAIL", "connect: no ephemeral port left");
    } else if (this.demux.lookupExact(la, lp, ra, remotePort) !== undefined) {
      throw new StackError("EADDRINUSE", "connect: the 4-tuple is in use");
    }
    const ep = new TcpEndpoint(this, la, lp, ra, remotePort, route, null);
    if (!this.register(ep)) throw new StackError("ENOBUFS", "connect: demux table full");
    activeOpen(ep);
    return ep;
  }

  /** @internal Add a connection to the demux; false when the table refused it. */
  register(ep: TcpEndpoint): boolean {
    if (!this.demux.insertConnected(ep.localAddr, ep.localPort, ep.remoteAddr, ep.remotePort, ep)) {
      return false;
    }
    this.#live++;
    return true;
  }

  /** @internal Remove a connection from the demux. */
  unregister(ep: TcpEndpoint): void {
    if (this.demux.removeConnected(ep.localAddr, ep.localPort, ep.remoteAddr, ep.remotePort, ep)) {
      this.#live--;
    }
  }

  /** @internal Take `l` out of the demux (it stopped listening). */
  removeListener(l: TcpListener): void {
    this.demux.removeBound(l.localAddr, l.localPort, l);
  }

  /** @internal Take one challenge-ACK token (RFC 5961 §7 rate limit); false when none left. */
  takeChallengeToken(): boolean {
    const now = this.ctx.clock.nowMs();
    const limit = this.opts.challengeAckLimit;
    const elapsed = now - this.#challengeAtMs;
    if (elapsed > 0) {
      this.#challengeTokens += (elapsed * limit) / 1000;
      if (this.#challengeTokens > limit) this.#challengeTokens = limit;
      this.#challengeAtMs = now;
    }
    if (this.#challengeTokens < 1) return false;
    this.#challengeTokens--;
    return true;
  }

  /** Deliver one received segment (IP payload `buf[off, off + len)`). Never throws. */
  receive(meta: NetRxMeta, buf: Uint8Array, off: number, len: number, rxFlags: number): void {
    const st = this.stats;
    const h = this.#rxHdr.attach(buf, off, len);
    if (h.check() !== null) {
      st.InErrs++;
      return;
    }
    // A kernel peer leaves checksums partial or already verified: the shared rule decides.
    const net = meta.net!;
    const pseudo = net.pseudoHeaderSum(meta.src, meta.dst, IP_PROTO_TCP, len);
    if (!transportChecksumOk(buf, off, len, TCP_CHECKSUM_OFFSET, pseudo, rxFlags)) {
      st.InCsumErrors++;
      st.InErrs++;
      return;
    }
    st.InSegs++;
    // RFC 1122 §4.2.3.10: no TCP to or from broadcast/multicast.
    if (meta.toGroup) return;
    const seg = this.#seg;
    seg.src = meta.src;
    seg.dst = meta.dst;
    seg.net = net;
    seg.nicIndex = meta.nicIndex;
    seg.srcPort = h.srcPort;
    seg.dstPort = h.dstPort;
    seg.seq = h.seq;
    seg.ack = h.ack;
    seg.flags = h.flags;
    seg.window = h.window;
    seg.ecn = meta.tos & 3;
    seg.buf = buf;
    seg.dataOff = h.payloadOffset;
    seg.dataLen = h.payloadLength;
    if (parseTcpOptions(buf, h.optionsOffset, h.optionsLength, seg.opts) !== null) {
      st.InErrs++;
      return;
    }
    seg.segLen = seg.dataLen + ((seg.flags & TCP_FLAG_SYN) !== 0 ? 1 : 0) +
      ((seg.flags & TCP_FLAG_FIN) !== 0 ? 1 : 0);
    let ep = this.demux.lookupExact(seg.dst, seg.dstPort, seg.src, seg.srcPort) as
      | TcpEndpoint
      | undefined;
    if (ep !== undefined && ep.state === TcpState.TIME_WAIT && this.#timeWaitReusable(ep, seg)) {
      // RFC 6191 / RFC 1122 §4.2.2.13: a new SYN may reopen a TIME_WAIT connection.
      st.TCPTimeWaitReuse++;
      seg.reuseIsnAfter = seqAdd(ep.snd.sndMax, TIME_WAIT_ISN_GAP);
      seg.reuse = true;
      ep.destroy();
      ep = undefined;
    } else {
      seg.reuse = false;
    }
    if (ep !== undefined) {
      endpointInput(ep, seg);
      return;
    }
    const l = this.demux.lookupBound(seg.dst, seg.dstPort) as TcpListener | undefined;
    if (l !== undefined) {
      l.input(seg);
      return;
    }
    this.tx.replyRst(seg);
  }

  /** RFC 6191 §2: reuse when the SYN's timestamp (or, without them, its SEQ) is newer. */
  #timeWaitReusable(ep: TcpEndpoint, seg: RxSegment): boolean {
    if ((seg.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) !== TCP_FLAG_SYN) return false;
    if (ep.tsOk && seg.opts.hasTimestamps) return seqGt(seg.opts.tsVal, ep.rcv.tsRecent);
    return seqGt(seg.seq, ep.rcv.rcvNxt);
  }

  /** An ICMP or ICMPv6 error about a segment we sent (RFC 5927 checks, RFC 1122 §4.2.3.9). */
  receiveError(err: NetError, buf: Uint8Array, off: number, len: number): void {
    // RFC 792: the quote holds at least the first 8 bytes: ports and sequence number.
    if (len < ICMP_QUOTE_BYTES) return;
    const h = this.#quoteHdr.attach(buf, off, len);
    const sport = h.srcPort;
    const dport = h.dstPort;
    const seq = h.seq;
    const ep = this.demux.lookupExact(err.src, sport, err.dst, dport) as TcpEndpoint | undefined;
    if (ep === undefined || !(ep instanceof TcpEndpoint)) return;
    // RFC 5927 §4.1: believe it only if it quotes a sequence number in flight.
    const snd = ep.snd;
    if (!seqInWindow(seq, snd.sndUna, ((snd.sndMax - snd.sndUna) >>> 0) + 1)) return;
    handleIcmpError(ep, err);
  }
}
