/**
 * The TCP layer of a stack: IP protocol 6 over IPv4 and IPv6 alike (one implementation; the
 * family is the network layer's business). It owns the flow table (connections, TIME_WAIT
 * records and half-open syncache records by four-tuple), the listeners, the ISN generator,
 * the ephemeral ports and the transmitter every segment leaves through; it verifies and
 * parses every received segment (one reused record) and hands it to the connection, record or
 * listener it belongs to — or answers with a RST (RFC 9293 §3.10.7.1) when nothing does.
 *
 * Every operation on a connection's life — open, demultiplex, TIME_WAIT, port choice, close —
 * is O(1) amortised whatever the number of live or recently closed connections: one hash
 * lookup per segment, TIME_WAIT retired from a FIFO, ports probed by hash.
 *
 * @module
 */

import { DOUBLE_ZERO } from "../../core/v8_shapes.ts";
import {
  type IpAddr,
  IpAddress,
  ipEquals,
  type IpFamily,
  isUnspecified,
} from "../../net/ip_address.ts";
import type { NetError, NetProtocolHandler, NetRoute, NetRxMeta } from "../../net/network_layer.ts";
import { StackError } from "../../core/errors.ts";
import type { Counters } from "../../core/counters.ts";
import { type Histogram, latencyHistogram } from "../../core/histogram.ts";
import { DemuxTable, PortAllocator } from "../demux.ts";
import { FlowTable } from "../flow_table.ts";
import {
  AckClockCount,
  type ResolvedTcpOptions,
  resolveTcpOptions,
  type TcpOptions,
  type TransportContext,
} from "./context.ts";
import { TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_SYN, TcpHeader } from "./header.ts";
import { IsnGenerator } from "./isn.ts";
import { CONGESTION_CONTROL_NAMES, isCongestionControlName } from "./congestion/mod.ts";
import { EndpointOpenRecord, TcpEndpoint } from "./endpoint.ts";
import { SynCache, type SynEntry } from "./syncache.ts";
import {
  FLOW_CONNECTION,
  FLOW_SYN_RECEIVED,
  FLOW_TIME_WAIT,
  type TcpFlow,
  TIME_WAIT_ISN_GAP,
  type TimeWaitRecord,
  TimeWaitTable,
  TW_REOPEN,
} from "./time_wait.ts";
import { activeOpen } from "./handshake.ts";
import { endpointInput } from "./input.ts";
import { TcpListener } from "./listener.ts";
import { RouteCache } from "./route_cache.ts";
import { SubarrayCache } from "../../core/subarray_cache.ts";
import { admitSegment, IP_PROTO_TCP, RxSegment, SEG_UNCHECKED } from "./segment.ts";
import { seqAdd, seqInWindow } from "./seq.ts";
import { TcpTransmitter } from "./transmit.ts";
import { handleIcmpError } from "./icmp_error.ts";

export type { AckClockCount, ResolvedTcpOptions, TcpOptions, TransportContext } from "./context.ts";

/** Bytes of our header an ICMP error quotes at least (RFC 792): ports and sequence number. */
const ICMP_QUOTE_BYTES = 8;

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

/** `connect()`'s options when none are given (read only: no object per call). */
const NO_CONNECT_OPTIONS: TcpConnectOptions = Object.freeze({});

/**
 * Payload views kept for the copy into receive buffers: about one per receive-ring slot (as
 * UDP's; ~100 bytes each once made). At MTU 1500 the split receive's ring of MTU-sized slots
 * has 20,960, one lap of a kernel sender's small frames: the table's buckets hold it
 * (`core/subarray_cache.ts`).
 */
const TCP_RCV_COPY_VIEWS = 32768;

/**
 * Send-ring views kept for the copy of segments out of send buffers: a bulk sender's segments
 * take one per MSS of its send ring (2,897 for 4 MiB at MTU 1500), a few such senders fit.
 */
const TCP_SND_COPY_VIEWS = 16384;

/**
 * Receive-ring views kept for the copy of received data out to applications' buffers: a reader
 * that drains its ring leaves it empty, a pooled ring then starts again at its storage's first
 * byte, and its reads take the same few (start, length) pairs — whole MSS multiples from 0.
 */
const TCP_RCV_READ_VIEWS = 4096;

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
  /**
   * Every RTT sample of every connection (handshake and data, RFC 6298/7323 samples as the
   * RTO uses them), in nanoseconds: the stack-wide distribution behind `ustack stats --rtt`.
   */
  readonly rttNs: Histogram = latencyHistogram();
  /**
   * Output passes that stopped on a congestion window with data to send, every connection's
   * (the event loop keeps an ACK-clocked sender's loop turning by it: `EventLoop`).
   */
  readonly ackClock: AckClockCount = new AckClockCount();
  /**
   * Views of received payloads for the copy into receive buffers, reused: a receive ring's
   * slots hold segments at the same offsets again and again, and a new `subarray` per segment
   * was ~106 B of garbage at MTU 1500 (hits, misses, replacements in `stats.tcp` as
   * `RcvCopyViewHits`, `RcvCopyViewMisses`, `RcvCopyViewReplaced`).
   */
  readonly rcvCopyViews: SubarrayCache;
  /**
   * Views of send-ring storage for the copy of segments out of send buffers (the driver's gather,
   * or a flatten), reused: a sender ends a segment where its ring's storage wraps, so its
   * segments start at the same places lap after lap, and a new `subarray` per segment was ~104 B
   * of garbage at MTU 1500 (`SndCopyViewHits`, `SndCopyViewMisses`, `SndCopyViewReplaced` in
   * `stats.tcp`).
   */
  readonly sndCopyViews: SubarrayCache;
  /**
   * Views of receive-ring storage for the copy of received data out to an application's buffer
   * (`readInto`, `consume`, the `readable` stream's chunks, a `read()` of what is buffered),
   * reused: a reader that drains its receive ring leaves it empty, a pooled ring then starts
   * again at its storage's first byte, and the next read copies a whole number of segments
   * from there — the same few views again and again, where a new `subarray` per read was ~70 B
   * of garbage (`RcvReadViewHits`, `RcvReadViewMisses`, `RcvReadViewReplaced` in `stats.tcp`).
   */
  readonly rcvReadViews: SubarrayCache;
  /** @internal Connections and TIME_WAIT records by four-tuple. */
  readonly flows: FlowTable<TcpFlow>;
  /** @internal Listeners by (address, port). */
  readonly listeners: DemuxTable<TcpListener> = new DemuxTable<TcpListener>();
  /** @internal TIME_WAIT records. */
  readonly timeWait: TimeWaitTable;
  /** @internal Half-open connections (compact records) and SYN cookies. */
  readonly syncache: SynCache;
  /** @internal RFC 6528 ISNs and timestamp offsets. */
  readonly isn: IsnGenerator;
  /** @internal Every segment leaves through it. */
  readonly tx: TcpTransmitter;
  readonly #rxHdr = new TcpHeader();
  readonly #quoteHdr = new TcpHeader();
  readonly #seg = new RxSegment();
  readonly #ports: PortAllocator;
  /** @internal Routes and addresses the connections share. */
  readonly shared: RouteCache;
  /**
   * Connections the application closed whose FIN (and so the data before it) is not yet
   * acknowledged: FIN_WAIT_1, CLOSING and LAST_ACK. A runtime that stops waits for it to reach 0.
   */
  finPending = 0;
  #live = 0;
  /**
   * The four-tuple `connect()` is choosing a port for (the remote end and the local address),
   * read by {@link TcpLayer.#portTaken}: one predicate for every connect, no closure each.
   */
  #connLa: IpAddr = ANY4;
  #connRa: IpAddr = ANY4;
  #connRp = 0;
  /** The time `connect()` read once for everything it does (ms). */
  #connNowMs = DOUBLE_ZERO;
  /** The numbers a connect hands its endpoint (one record: read before the next connect). */
  readonly #open = new EndpointOpenRecord();
  /** The reusable TIME_WAIT record the last {@link TcpLayer.#tupleFree} found, or null. */
  #reusable: TimeWaitRecord | null = null;
  /**
   * The earliest time a TIME_WAIT record the port search passed over becomes reusable by
   * `connect()` (ms; Infinity: none will without leaving the table).
   */
  #searchReuseAtMs = Infinity;
  /**
   * The last port search that found no port: its destination and local address, the flow
   * table's {@link FlowTable.vacated} and the listeners removed then, and the time its first
   * TIME_WAIT record becomes reusable. Until one of those moves, a connect to the same place
   * fails at once instead of searching the whole range again (with the range used up, each
   * failed connect would cost one lookup per port: 28,232 by default).
   */
  #noPortLa: IpAddr | null = null;
  #noPortRa: IpAddr = ANY4;
  #noPortRp = 0;
  #noPortVacated = 0;
  #noPortListenersRemoved = 0;
  #noPortUntilMs = DOUBLE_ZERO;
  #listenersRemoved = 0;
  /** `connect()`'s port search: true when port `p` cannot carry the four-tuple. */
  readonly #portTaken = (p: number): boolean => {
    const la = this.#connLa;
    const filter = this.opts.connectPortFilter;
    return this.listeners.isPortBound(la, p) ||
      !this.#tupleFree(la, p, this.#connRa, this.#connRp) ||
      (filter !== null && !filter(p, this.#connRp));
  };
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
    // Two buckets of four places per key: one lap of the MTU 1500 ring's slots (bench/README.md,
    // "view41"). The send table keeps single places: a bulk sender's keys outnumber its places,
    // where replacing the least recently used of eight drops each just before its next use.
    this.rcvCopyViews = new SubarrayCache(TCP_RCV_COPY_VIEWS, this.stats, "RcvCopyView", 4);
    this.sndCopyViews = new SubarrayCache(TCP_SND_COPY_VIEWS, this.stats, "SndCopyView");
    ctx.rings?.forgetDroppedIn(this.sndCopyViews);
    this.rcvReadViews = new SubarrayCache(TCP_RCV_READ_VIEWS, this.stats, "RcvReadView");
    ctx.rings?.forgetDroppedIn(this.rcvReadViews);
    this.isn = new IsnGenerator(ctx.clock, opts.isnSecret, {
      isn: opts.pinnedIsn,
      timestampOffset: opts.pinnedTimestampOffset,
    });
    this.tx = new TcpTransmitter(ctx, this.stats);
    this.shared = new RouteCache(ctx.networks, ctx.clock);
    const o = this.opts;
    this.flows = new FlowTable<TcpFlow>({ buckets: flowBuckets(o.maxConnections) });
    this.timeWait = new TimeWaitTable(this.flows, ctx.timers, ctx.clock, this.stats, this, {
      maxRecords: o.maxTimeWait,
      durationMs: 2 * o.mslMs,
      reuseAfterMs: o.timeWaitReuseMs,
    });
    this.syncache = new SynCache(this, opts.synCookieSecret, opts.synCookieSourceSecrets);
    const [lo, hi] = this.opts.ephemeralPortRange;
    this.#ports = new PortAllocator(lo, hi);
    this.#challengeTokens = this.opts.challengeAckLimit;
    this.#challengeAtMs = ctx.clock.nowMs();
    ctx.networks.v4.registerHandler(IP_PROTO_TCP, this);
    ctx.networks.v6.registerHandler(IP_PROTO_TCP, this);
  }

  /** Live connections (every state but CLOSED; TIME_WAIT is a record, not a connection). */
  get endpoints(): number {
    return this.#live;
  }

  /** Ports the ephemeral port searches (`connect`, `listen` on port 0) have examined so far. */
  get portProbes(): number {
    return this.#ports.probes;
  }

  /** Connections in TIME_WAIT (compact records). */
  get timeWaitCount(): number {
    return this.timeWait.size;
  }

  /** The TIME_WAIT record of a four-tuple (e.g. of a connection that just closed), if any. */
  timeWaitRecord(
    localAddr: IpAddr,
    localPort: number,
    remoteAddr: IpAddr,
    remotePort: number,
  ): TimeWaitRecord | undefined {
    const f = this.flows.lookup(localAddr, localPort, remoteAddr, remotePort);
    return f !== undefined && f.flowKind === FLOW_TIME_WAIT ? f as TimeWaitRecord : undefined;
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
      port = this.#ports.allocate((p) => this.listeners.isPortBound(la, p, v6only));
      if (port < 0) throw new StackError("EADDRINUSE", "listen: no ephemeral port left");
    }
    if (this.listeners.isPortBound(la, port, v6only)) {
      throw new StackError("EADDRINUSE", `listen: port ${port} is in use`);
    }
    const l = new TcpListener(this, la, port, backlog > 0 ? backlog : 1, v6only);
    if (!this.listeners.insertBound(la, port, l, v6only)) {
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
   * A four-tuple in TIME_WAIT is taken over when timestamps make it safe (Linux
   * `tcp_tw_reuse`, counted in `TWRecycled`); an ephemeral port is chosen so that the
   * four-tuple is free or so reusable.
   *
   * @throws {StackError} ENETUNREACH (no route), EADDRNOTAVAIL (foreign local address or
   * no ephemeral port), EADDRINUSE (the 4-tuple exists), ENOBUFS (the flow table is full).
   */
  connect(
    remoteAddr: IpAddr,
    remotePort: number,
    opts: TcpConnectOptions = NO_CONNECT_OPTIONS,
  ): TcpEndpoint {
    if (!(remotePort > 0 && remotePort <= 65535)) {
      throw new StackError("EINVAL", "connect: bad remote port");
    }
    const ra = this.shared.address(remoteAddr);
    const net = this.ctx.networks.of(ra);
    // One clock read for the whole open (route, port search, ISN, endpoint, SYN): a connect
    // runs outside the tick (in a readiness listener, say), where each read is an op.
    const now = this.ctx.clock.nowMs();
    this.#connNowMs = now;
    const route = isUnspecified(ra) ? null : this.shared.routeTo(ra, opts.zoneNic ?? 0, now);
    if (route === null) {
      throw new StackError("ENETUNREACH", "connect: no route to the destination");
    }
    let la: IpAddress;
    if (opts.localAddr === undefined || isUnspecified(opts.localAddr)) {
      la = this.shared.address(route.source);
    } else if (opts.localAddr.family !== ra.family || !net.isLocalAddress(opts.localAddr)) {
      throw new StackError("EADDRNOTAVAIL", "connect: not a local address");
    } else la = this.shared.address(opts.localAddr);
    let lp = opts.localPort ?? 0;
    this.#reusable = null;
    if (lp === 0) {
      if (this.#noPortYet(la, ra, remotePort, now)) {
        throw new StackError("EADDRNOTAVAIL", "connect: no ephemeral port left");
      }
      this.#connLa = la;
      this.#connRa = ra;
      this.#connRp = remotePort;
      this.#searchReuseAtMs = Infinity;
      lp = this.#ports.allocate(this.#portTaken);
      if (lp < 0) {
        this.#noPortLa = la;
        this.#noPortRa = ra;
        this.#noPortRp = remotePort;
        this.#noPortVacated = this.flows.vacated;
        this.#noPortListenersRemoved = this.#listenersRemoved;
        // A record added after this search (a connection of the range closing into TIME_WAIT)
        // is reusable no sooner than `reuseAfterMs` from now: search again then at the latest.
        const next = now + this.timeWait.reuseAfterMs;
        this.#noPortUntilMs = next < this.#searchReuseAtMs ? next : this.#searchReuseAtMs;
        throw new StackError("EADDRNOTAVAIL", "connect: no ephemeral port left");
      }
    } else if (!this.#tupleFree(la, lp, ra, remotePort)) {
      throw new StackError("EADDRINUSE", "connect: the 4-tuple is in use");
    }
    // A TIME_WAIT record still on the tuple is reusable (#tupleFree said so, for the port
    // taken: the search's last call of it): take it over.
    const reuseFrom = this.#reusable;
    this.#reusable = null;
    // One SipHash: the ISN and (its other half) the timestamp offset, written into the
    // record the endpoint reads: returned, each would be a heap number (~21 B a connection).
    const open = this.#open;
    this.isn.nextInto(la, lp, ra, remotePort, open, now);
    open.firstSentMs = now;
    if (reuseFrom !== null) {
      // Beyond the old connection's sequence space: read before the record goes.
      open.iss = this.timeWait.reuseIss(reuseFrom, open.iss);
      this.timeWait.remove(reuseFrom);
      this.stats.TWRecycled++;
    }
    const ep = new TcpEndpoint(this, la, lp, ra, remotePort, route, null, open);
    if (!this.register(ep)) throw new StackError("ENOBUFS", "connect: demux table full");
    activeOpen(ep, open);
    return ep;
  }

  /**
   * True when the last port search found no port for this destination and nothing has
   * changed since: no four-tuple vacated, no listener gone, no TIME_WAIT record reusable yet —
   * neither one it passed over nor one added since (a connection entering TIME_WAIT keeps its
   * four-tuple, but its record may become reusable, `reuseAfterMs` after it was added at the
   * earliest). (The port filter answers the same for the same ports.)
   */
  #noPortYet(la: IpAddr, ra: IpAddr, rp: number, nowMs: number): boolean {
    const noLa = this.#noPortLa;
    return noLa !== null && rp === this.#noPortRp && nowMs < this.#noPortUntilMs &&
      this.flows.vacated === this.#noPortVacated &&
      this.#listenersRemoved === this.#noPortListenersRemoved && ipEquals(ra, this.#noPortRa) &&
      ipEquals(la, noLa);
  }

  /** True when a new connection may use the four-tuple: nothing holds it, or a reusable TIME_WAIT. */
  #tupleFree(la: IpAddr, lp: number, ra: IpAddr, rp: number): boolean {
    const f = this.flows.lookup(la, lp, ra, rp);
    if (f === undefined) {
      this.#reusable = null;
      return true;
    }
    if (f.flowKind === FLOW_TIME_WAIT) {
      const rec = f as TimeWaitRecord;
      if (this.timeWait.reusableByConnect(rec, this.#connNowMs)) {
        this.#reusable = rec;
        return true;
      }
      // Not yet: when it will be (with timestamps; without, only when it leaves the table).
      const at = rec.tsOk ? rec.tsRecentMs + this.timeWait.reuseAfterMs : Infinity;
      if (at < this.#searchReuseAtMs) this.#searchReuseAtMs = at;
    }
    return false;
  }

  /** @internal The (shared) route to `dst`, a link-local one on NIC `zoneNic`; null: none. */
  routeTo(dst: IpAddr, zoneNic: number): NetRoute | null {
    return this.shared.routeTo(dst, zoneNic);
  }

  /**
   * @internal Add a connection to the flow table; false when the table refused it (full). Its
   * four-tuple must be vacant: `connect()`'s port search has just looked it up (a reusable
   * TIME_WAIT record on it removed), and the syncache's connection takes it over from the
   * entry just removed (or, from a SYN cookie, from a lookup that just missed).
   */
  register(ep: TcpEndpoint): boolean {
    if (!this.flows.insertVacant(ep)) return false;
    this.#live++;
    return true;
  }

  /** @internal Remove a connection from the flow table. */
  unregister(ep: TcpEndpoint): void {
    if (this.flows.remove(ep)) this.#live--;
  }

  /** @internal Take `l` out of the listeners (it stopped listening). */
  removeListener(l: TcpListener): void {
    if (this.listeners.removeBound(l.localAddr, l.localPort, l)) this.#listenersRemoved++;
  }

  /** @internal A TIME_WAIT record answers: the old connection's ACK (RFC 9293 §3.10.7.4). */
  sendTimeWaitAck(rec: TimeWaitRecord): void {
    const tx = this.tx;
    const pb = tx.beginTo(rec.remoteAddr, rec.nicIndex);
    if (pb === null) return;
    const s = tx.seg;
    s.src = rec.localAddr;
    s.dst = rec.remoteAddr;
    s.srcPort = rec.localPort;
    s.dstPort = rec.remotePort;
    s.seq = rec.sndNxt;
    s.ack = rec.rcvNxt;
    s.flags = TCP_FLAG_ACK;
    s.window = rec.window;
    if (rec.tsOk) {
      const o = s.opts;
      o.hasTimestamps = true;
      o.tsVal = (Math.floor(this.ctx.clock.nowMs()) + rec.tsOffset) >>> 0;
      o.tsEcr = rec.tsRecent;
    }
    tx.write(pb, s);
    tx.send(pb, s);
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

  /**
   * Deliver one received segment (IP payload `buf[off, off + len)`). Never throws. The header
   * is checked here; the checksum and the options only when something acts on the segment
   * ({@link admitSegment}): before a connection, a record or a TIME_WAIT record takes it, and
   * in the listener — a SYN that the per-source cookie limit refuses is dropped unsummed.
   */
  receive(meta: NetRxMeta, buf: Uint8Array, off: number, len: number, rxFlags: number): void {
    const st = this.stats;
    const h = this.#rxHdr.attach(buf, off, len);
    if (h.check() !== null) {
      st.InErrs++;
      return;
    }
    // RFC 1122 §4.2.3.10: no TCP to or from broadcast/multicast — dropped uncounted, as Linux
    // drops a frame not addressed to the host before counting it.
    if (meta.toGroup) return;
    // Counted before the checksum is verified (if it ever is): Linux counts InSegs "even if
    // it's bad"; a damaged segment counts InCsumErrors as well.
    st.InSegs++;
    const seg = this.#seg;
    seg.src = meta.src;
    seg.dst = meta.dst;
    seg.net = meta.net!;
    seg.nicIndex = meta.nicIndex;
    seg.srcPort = h.srcPort;
    seg.dstPort = h.dstPort;
    h.loadSeqAck(seg);
    seg.flags = h.flags;
    seg.window = h.window;
    seg.ecn = meta.tos & 3;
    seg.buf = buf;
    seg.dataOff = h.payloadOffset;
    seg.dataLen = h.payloadLength;
    seg.admission = SEG_UNCHECKED;
    seg.headerOff = off;
    seg.tcpLen = len;
    seg.rxFlags = rxFlags;
    seg.optsOff = h.optionsOffset;
    seg.optsLen = h.optionsLength;
    seg.segLen = seg.dataLen + ((seg.flags & TCP_FLAG_SYN) !== 0 ? 1 : 0) +
      ((seg.flags & TCP_FLAG_FIN) !== 0 ? 1 : 0);
    const f = this.flows.lookup(seg.dst, seg.dstPort, seg.src, seg.srcPort);
    seg.reuse = false;
    if (f !== undefined) {
      if (!admitSegment(seg, st)) return;
      if (f.flowKind === FLOW_CONNECTION) {
        endpointInput(f as TcpEndpoint, seg);
        return;
      }
      if (f.flowKind === FLOW_SYN_RECEIVED) {
        this.syncache.input(f as SynEntry, seg);
        return;
      }
      const rec = f as TimeWaitRecord;
      if (this.timeWait.input(rec, seg) !== TW_REOPEN) return;
      // RFC 6191 / RFC 1122 §4.2.2.13: a new SYN reopens the four-tuple.
      st.TCPTimeWaitReuse++;
      seg.reuseIsnAfter = seqAdd(rec.sndNxt, TIME_WAIT_ISN_GAP);
      seg.reuse = true;
      this.timeWait.remove(rec);
    }
    const l = this.listeners.lookupBound(seg.dst, seg.dstPort);
    if (l !== undefined) {
      l.input(seg);
      return;
    }
    if (!admitSegment(seg, st)) return;
    this.tx.replyRst(seg);
  }

  /** An ICMP or ICMPv6 error about a segment we sent (RFC 5927 checks, RFC 1122 §4.2.3.9). */
  receiveError(err: NetError, buf: Uint8Array, off: number, len: number): void {
    // RFC 792: the quote holds at least the first 8 bytes: ports and sequence number.
    if (len < ICMP_QUOTE_BYTES) return;
    const h = this.#quoteHdr.attach(buf, off, len);
    const sport = h.srcPort;
    const dport = h.dstPort;
    const seq = h.seq;
    const f = this.flows.lookup(err.src, sport, err.dst, dport);
    if (f === undefined || f.flowKind !== FLOW_CONNECTION) return;
    const ep = f as TcpEndpoint;
    // RFC 5927 §4.1: believe it only if it quotes a sequence number in flight.
    const snd = ep.snd;
    if (!seqInWindow(seq, snd.sndUna, ((snd.sndMax - snd.sndUna) >>> 0) + 1)) return;
    handleIcmpError(ep, err);
  }
}

/** Buckets of a flow table sized for `maxConnections` (a power of two, at least 1024). */
function flowBuckets(maxConnections: number): number {
  let n = 1024;
  while (n < maxConnections && n < 1 << 24) n *= 2;
  return n;
}
