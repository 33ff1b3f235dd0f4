/**
 * What a TCP layer is given: the stack services it runs on ({@link TransportContext}), its
 * tunables ({@link TcpOptions}, resolved with Linux-like defaults), and the part of the layer
 * every piece of a connection uses ({@link TcpServices}).
 *
 * @module
 */

import type { Clock } from "../../core/clock.ts";
import type { Counters } from "../../core/counters.ts";
import type { Histogram } from "../../core/histogram.ts";
import type { EventMux } from "../../core/event_mux.ts";
import type { OutputScheduler } from "../../core/output_queue.ts";
import type { BufferPool } from "../../core/packet_buffer.ts";
import type { RingStoragePool } from "../../core/ring_storage.ts";
import type { SubarrayCache } from "../../core/subarray_cache.ts";
import type { TimerWheel } from "../../core/timer_wheel.ts";
import type { IpNetworks } from "../../net/ip_networks.ts";
import { DEFAULT_CONGESTION_CONTROL } from "./congestion/mod.ts";

/** What the TCP layer needs from its stack; `Stack` satisfies it structurally. */
export interface TransportContext extends OutputScheduler {
  /** Time source. */
  readonly clock: Clock;
  /** Protocol timers. */
  readonly timers: TimerWheel;
  /** Packet buffers for output. */
  readonly pool: BufferPool;
  /** Counters (`stats.tcp` is used). */
  readonly stats: { readonly tcp: Counters };
  /** Readiness multiplexer. */
  readonly mux: EventMux;
  /**
   * Where socket buffers take their storage on demand and give it back when empty; without
   * one each buffer allocates its whole capacity up front.
   */
  readonly rings?: RingStoragePool;
  /** IPv4 and IPv6 (routes, send; errors arrive through `receiveError`). */
  readonly networks: IpNetworks;
}

/** Tunables of the TCP layer; every field has a Linux-like default. */
export interface TcpOptions {
  /**
   * Maximum segment lifetime; TIME_WAIT lasts 2·MSL [30000 ms: TIME_WAIT 60 s, Linux's
   * `TCP_TIMEWAIT_LEN`].
   */
  mslMs?: number;
  /** Lower bound of the RTO [200 ms, Linux TCP_RTO_MIN]. */
  minRtoMs?: number;
  /** Upper bound of the RTO [120000 ms, Linux TCP_RTO_MAX]. */
  maxRtoMs?: number;
  /** RTO before the first RTT sample [1000 ms, RFC 6298 §2.1]. */
  initialRtoMs?: number;
  /** Retransmissions of one segment before giving up with ETIMEDOUT [15, tcp_retries2]. */
  maxRetries?: number;
  /** SYN (and SYN-ACK) retransmissions before giving up [6, tcp_syn_retries]. */
  synRetries?: number;
  /** SYN-ACK retransmissions of a half-open syncache record [5, tcp_synack_retries]. */
  synAckRetries?: number;
  /**
   * SYN cookies (Linux tcp_syncookies): 1 when a listener's syncache or accept queue is full,
   * 2 always, 0 never (such SYNs are dropped) [1].
   */
  syncookies?: 0 | 1 | 2;
  /**
   * SYN cookies answered per second per source address, a whole number (two token buckets
   * per source through keyed hashes, a burst of as many; a source that completed a handshake
   * before has buckets of its own); SYNs beyond are dropped and counted in
   * `SyncookiesRateLimited`. A flood from a few hundred sources that answer ARP then costs the
   * receive path only, not a SYN-ACK each, while other sources are answered as before. 0 turns
   * it off [100].
   */
  synCookieSourceRate?: number;
  /** FIN_WAIT_2 timeout of a closed (orphaned) connection [60000 ms, tcp_fin_timeout]. */
  finWait2TimeoutMs?: number;
  /** Delayed-ACK bound [40 ms, Linux TCP_DELACK_MIN]. */
  delayedAckMs?: number;
  /** Initial send buffer bytes [524288]. */
  sendBufferBytes?: number;
  /** Send-buffer auto-tuning cap [4194304, Linux tcp_wmem max]. */
  maxSendBufferBytes?: number;
  /** Initial receive buffer bytes [131072, tcp_rmem default]. */
  receiveBufferBytes?: number;
  /** Receive auto-tuning cap; also sizes the window scale [4194304]. */
  maxReceiveBufferBytes?: number;
  /**
   * Congestion control algorithm: "cubic", "bbr" or "newreno" (also "reno") ["cubic", as
   * Linux]. A connection can change it with `TCP_CONGESTION`.
   */
  congestionControl?: string;
  /**
   * Pace transmissions at Linux's default rate (2× cwnd/SRTT in slow start, 1.2× after) when
   * the algorithm sets none [true]. BBR always paces at its own rate.
   */
  pacing?: boolean;
  /**
   * ECN (RFC 3168): "on" asks for it on connections we open and accepts it on those we
   * accept, "passive" only accepts it (Linux's default, tcp_ecn = 2), "off" never uses it
   * ["passive"].
   */
  ecn?: "on" | "passive" | "off";
  /** Ephemeral ports [[32768, 60999], ip_local_port_range]. */
  ephemeralPortRange?: [number, number];
  /**
   * A further condition on the ephemeral port of an active open: only a local port for which
   * `connectPortFilter(localPort, remotePort)` is true is picked [none]. A stack that shares
   * an interface with others by flow steering uses it so that the connection's frames come
   * back to it. Called per candidate port while connecting, never per packet. It must answer
   * the same for the same ports: a search that found none is remembered until a four-tuple
   * comes free.
   */
  connectPortFilter?: ((localPort: number, remotePort: number) => boolean) | null;
  /**
   * Most out-of-order ranges held per connection [64]; more are dropped (TCPOFODrop). A
   * sender repairing scattered drop-tail losses leaves many holes at once: too few ranges
   * make the receiver drop what the sender will then have to send again.
   */
  ooqMaxRanges?: number;
  /** Keepalive idle time before the first probe [7200000 ms, tcp_keepalive_time]. */
  keepaliveIdleMs?: number;
  /** Interval between keepalive probes [75000 ms, tcp_keepalive_intvl]. */
  keepaliveIntervalMs?: number;
  /** Unanswered probes before the connection is dropped [9, tcp_keepalive_probes]. */
  keepaliveCount?: number;
  /** Challenge ACKs per second, layer-wide (RFC 5961 §7) [1000]. */
  challengeAckLimit?: number;
  /** Offer timestamps (RFC 7323) [true]. */
  timestamps?: boolean;
  /** Offer SACK-permitted (RFC 2018) [true]. */
  sack?: boolean;
  /** Offer window scaling (RFC 7323) [true]. */
  windowScaling?: boolean;
  /** ACK the first segments at once (Linux quick-ack mode) [16]. */
  quickAcks?: number;
  /**
   * One ACK per tick for in-order data: the ACK owed for every second full-sized segment (or a
   * GRO super-segment) goes out with the tick's transmit, covering all the tick received,
   * instead of one ACK frame per super-segment (they leave in the same TX kick either way;
   * Linux's `tcp_backlog_ack_defer` does the same for a socket backlog) [true].
   */
  coalesceAcks?: boolean;
  /**
   * End a segment where the send buffer's storage wraps, so that the next starts at its first
   * byte: the segments of every lap through the storage then start at the same places, and
   * their copies out of the buffer reuse views instead of making one per segment (one segment
   * shorter than the MSS per lap; see `TcpLayer.sndCopyViews`) [true].
   */
  segmentsEndAtWrap?: boolean;
  /**
   * With {@link TcpOptions.coalesceAcks}: the ACK owed for in-order data may wait this long
   * (µs) for more data to cover, so that one ACK covers several GRO super-segments (bounded
   * by {@link TcpOptions.ackDeferBytes} and a quarter of the window; see
   * `TcpReceiver.deferAck`; 0: off) [0].
   */
  ackDeferUs?: number;
  /** Most bytes a deferred ACK leaves unacknowledged (see {@link TcpOptions.ackDeferUs}) [196608]. */
  ackDeferBytes?: number;
  /**
   * Adaptive deferral: each bulk receiver tries deferring its ACKs (held up to `ackDeferUs`,
   * or 150 µs when that is 0) in measurement epochs against epochs without, and defers only
   * while that costs no receive rate (`AckDeferProbe`: a paced sender loses rate, an unpaced
   * one does not); counters `TCPAckDeferAutoOn`/`TCPAckDeferAutoOff` [false].
   */
  ackDeferAuto?: boolean;
  /**
   * Black-hole detection (RFC 4821 §7.7, Linux `tcp_mtu_probing = 1`): after repeated
   * timeouts of full-sized segments, fall back to a smaller MSS [true].
   */
  mtuProbing?: boolean;
  /**
   * Connections expected at once: sizes the flow table up front so it need not grow under
   * load [1024]. Not a limit.
   */
  maxConnections?: number;
  /**
   * Most connections in TIME_WAIT [262144, Linux tcp_max_tw_buckets]; more close without it
   * and are counted in `TCPTimeWaitOverflow`.
   */
  maxTimeWait?: number;
  /**
   * `connect()` takes over a four-tuple in TIME_WAIT once the last timestamp seen there is
   * this old (Linux tcp_tw_reuse; needs timestamps) [1000 ms].
   */
  timeWaitReuseMs?: number;
  /** Key of the ISN generator (4 uint32 words; tests pin it) [random]. */
  isnSecret?: Uint32Array;
  /**
   * The two hash secrets of the SYN-cookie per-source limiter (`synCookieSourceRate`; tests
   * pin them to know which sources share buckets) [random].
   */
  synCookieSourceSecrets?: readonly [number, number];
  /** Key of the SYN cookies' time-counted hash (4 uint32 words; tests pin it) [random]. */
  synCookieSecret?: Uint32Array;
  /**
   * Test and benchmark hook: the ISN of every connection, instead of RFC 6528's keyed one
   * (e.g. `0xffff_f000` to cross the 2**32 wrap at once). Never in production [none].
   */
  pinnedIsn?: number;
  /**
   * Test and benchmark hook: the TSval offset of every connection, instead of the keyed one
   * (RFC 7323 §7). Never in production [none].
   */
  pinnedTimestampOffset?: number;
}

/** Options after defaults, as the layer uses them. */
export type ResolvedTcpOptions = Required<
  Omit<
    TcpOptions,
    | "isnSecret"
    | "synCookieSourceSecrets"
    | "synCookieSecret"
    | "pinnedIsn"
    | "pinnedTimestampOffset"
  >
>;

/**
 * `o` with every default filled in.
 *
 * @example
 * ```ts
 * resolveTcpOptions({ mslMs: 1000 }).delayedAckMs; // 40
 * ```
 */
export function resolveTcpOptions(o: TcpOptions): ResolvedTcpOptions {
  return {
    mslMs: o.mslMs ?? 30_000,
    minRtoMs: o.minRtoMs ?? 200,
    maxRtoMs: o.maxRtoMs ?? 120_000,
    initialRtoMs: o.initialRtoMs ?? 1000,
    maxRetries: o.maxRetries ?? 15,
    synRetries: o.synRetries ?? 6,
    synAckRetries: o.synAckRetries ?? 5,
    syncookies: o.syncookies ?? 1,
    synCookieSourceRate: o.synCookieSourceRate ?? 100,
    finWait2TimeoutMs: o.finWait2TimeoutMs ?? 60_000,
    delayedAckMs: o.delayedAckMs ?? 40,
    sendBufferBytes: o.sendBufferBytes ?? 512 * 1024,
    maxSendBufferBytes: o.maxSendBufferBytes ?? 4 * 1024 * 1024,
    receiveBufferBytes: o.receiveBufferBytes ?? 128 * 1024,
    maxReceiveBufferBytes: o.maxReceiveBufferBytes ?? 4 * 1024 * 1024,
    congestionControl: o.congestionControl ?? DEFAULT_CONGESTION_CONTROL,
    pacing: o.pacing ?? true,
    ecn: o.ecn ?? "passive",
    ephemeralPortRange: o.ephemeralPortRange ?? [32768, 60999],
    connectPortFilter: o.connectPortFilter ?? null,
    ooqMaxRanges: o.ooqMaxRanges ?? 64,
    keepaliveIdleMs: o.keepaliveIdleMs ?? 7_200_000,
    keepaliveIntervalMs: o.keepaliveIntervalMs ?? 75_000,
    keepaliveCount: o.keepaliveCount ?? 9,
    challengeAckLimit: o.challengeAckLimit ?? 1000,
    timestamps: o.timestamps ?? true,
    sack: o.sack ?? true,
    windowScaling: o.windowScaling ?? true,
    quickAcks: o.quickAcks ?? 16,
    coalesceAcks: o.coalesceAcks ?? true,
    segmentsEndAtWrap: o.segmentsEndAtWrap ?? true,
    ackDeferUs: o.ackDeferUs ?? 0,
    ackDeferBytes: o.ackDeferBytes ?? 196_608,
    ackDeferAuto: o.ackDeferAuto ?? false,
    mtuProbing: o.mtuProbing ?? true,
    maxConnections: o.maxConnections ?? 1024,
    maxTimeWait: o.maxTimeWait ?? 262_144,
    timeWaitReuseMs: o.timeWaitReuseMs ?? 1000,
  };
}

/**
 * The layer-wide services a connection's parts (sender, receiver, keepalive) use: the stack,
 * the tunables, the `tcp` counters. `TcpLayer` provides them; the parts never see the layer.
 */
export interface TcpServices {
  /** The stack services. */
  readonly ctx: TransportContext;
  /** Tunables after defaults. */
  readonly opts: ResolvedTcpOptions;
  /** The `tcp` counters (Linux names). */
  readonly stats: Counters;
  /** Every RTT sample of every connection, in nanoseconds (fixed memory). */
  readonly rttNs: Histogram;
  /**
   * Reused views of received payloads for the copy into receive buffers (none: a view per long
   * copy).
   */
  readonly rcvCopyViews?: SubarrayCache;
  /**
   * Reused views of receive-ring storage for the copy of received data out to an application's
   * buffer (none: a view per long copy).
   */
  readonly rcvReadViews?: SubarrayCache;
  /**
   * Reused views of send-ring storage for the copy of segments out of send buffers (none: a
   * view per long copy).
   */
  readonly sndCopyViews?: SubarrayCache;
  /**
   * Where output passes that stopped on a congestion window are counted (none: not counted).
   * The event loop reads it to keep an ACK-clocked sender's loop turning without a pause.
   */
  readonly ackClock?: AckClockCount;
}

/**
 * Output passes of every connection of a layer that stopped on the congestion window with data
 * still to send (new or deemed lost): each such sender waits for ACKs, which on a local link
 * arrive during the TX kick that sent its window. The event loop compares the count across a
 * tick's transmit half (see `EventLoop`: it ticks again at once instead of turning Deno's event
 * loop), so a wrap at 2^53 does not matter.
 *
 * @example
 * ```ts
 * import { AckClockCount } from "./context.ts";
 * const c = new AckClockCount();
 * c.cwndStops++; // a sender's pass stopped on its window
 * ```
 */
export class AckClockCount {
  /** Output passes that stopped on the congestion window with data to send. */
  cwndStops = 0;
}
