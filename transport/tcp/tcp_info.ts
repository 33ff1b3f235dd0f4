/**
 * A `TCP_INFO`-like record of one connection (Linux `struct tcp_info`, the fields a user
 * asks for most), and how it is read off the connection's two halves.
 *
 * @module
 */

import type { TcpReceiver } from "./receiver.ts";
import { CA_STATE_NAMES } from "./recovery.ts";
import { LIMIT_NAMES } from "./send_limit.ts";
import type { TcpSender } from "./sender.ts";

/** Snapshot of a connection's state, timers and windows (`getsockopt(TCP_INFO)`). */
export interface TcpInfo {
  /** State name (`ESTABLISHED`, …). */
  state: string;
  /** Smoothed RTT in ms (0 before the first sample). */
  srttMs: number;
  /** RTT variation in ms. */
  rttvarMs: number;
  /** Current retransmission timeout in ms (backed off). */
  rtoMs: number;
  /** Congestion window in bytes. */
  cwnd: number;
  /** Slow start threshold in bytes. */
  ssthresh: number;
  /** Send MSS in bytes (payload per segment, options excluded). */
  mss: number;
  /** Receive MSS estimate in bytes. */
  rcvMss: number;
  /** Segments retransmitted over the connection's life. */
  retransmits: number;
  /** Consecutive RTOs without progress (backoff count). */
  backoff: number;
  /** Bytes of our data the peer acknowledged. */
  bytesAcked: number;
  /** Bytes of the peer's data received in order. */
  bytesReceived: number;
  /** Peer's window in bytes (scaled). */
  sndWnd: number;
  /** Window we advertise in bytes. */
  rcvWnd: number;
  /** Send buffer capacity and bytes in it (unacknowledged + unsent). */
  sndBufBytes: number;
  /** Bytes queued in the send buffer. */
  sndQueued: number;
  /** Receive buffer capacity. */
  rcvBufBytes: number;
  /** Unread bytes in the receive buffer. */
  rcvQueued: number;
  /** Our window shift and the peer's (-1 when scaling is off). */
  rcvWscale: number;
  /** The peer's window shift (-1 when scaling is off). */
  sndWscale: number;
  /** Timestamps negotiated. */
  timestamps: boolean;
  /** SACK negotiated. */
  sack: boolean;
  /** ECN negotiated (RFC 3168). */
  ecn: boolean;
  /** Congestion control algorithm name (TCP_CONGESTION). */
  congestionControl: string;
  /** Loss-recovery state: "Open", "Disorder", "CWR", "Recovery" or "Loss". */
  caState: string;
  /** Pacing rate in bytes per second (0: not paced). */
  pacingRate: number;
  /**
   * Latest valid delivery-rate sample in bytes per second (0 before one), an
   * application-limited one only when it is higher (Linux `tcpi_delivery_rate`).
   */
  deliveryRate: number;
  /** The delivery-rate sample was application-limited. */
  deliveryRateAppLimited: boolean;
  /** Bytes delivered (cumulatively ACKed or SACKed) over the connection's life. */
  delivered: number;
  /** Minimum RTT in ms (RACK's windowed minimum; 0 before a sample). */
  minRttMs: number;
  /** Segments deemed lost over the connection's life (RACK, NewReno, RTO). */
  lost: number;
  /** Bytes deemed lost now, not yet retransmitted or repaired. */
  lostBytes: number;
  /** Bytes retransmitted and still in flight. */
  retransBytes: number;
  /** Bytes SACKed now. */
  sackedBytes: number;
  /** Bytes in flight (RFC 6675 pipe). */
  inflight: number;
  /** RACK saw reordering on this connection. */
  reorderingSeen: boolean;
  /** ACKs that showed reordering (Linux `tcpi_reord_seen`). */
  reorderings: number;
  /** RACK's reordering window in units of min RTT / 4. */
  reorderingWindowSteps: number;
  /** Records in the SACK scoreboard (transmissions in flight). */
  scoreboardRecords: number;
  /**
   * What holds the sender's output back now, as its next output pass would find it: `cwnd`,
   * `pacing`, `rwnd` (the peer's window), `sndbuf` (all of a full send buffer sent: Linux's
   * `tcpi_sndbuf_limited`), `app` (nothing to send, room in the buffer), `idle`, `due` (nothing
   * holds it: a pass is due) — `send_limit.ts`. Sampled over a run, the shares say where a
   * flow's time went.
   */
  sendLimit: string;
}

/**
 * The {@link TcpInfo} of a connection in state `state` with send side `snd` and receive side
 * `rcv`, and the options negotiated (window scaling, timestamps, SACK, ECN).
 */
export function tcpInfo(
  state: string,
  snd: TcpSender,
  rcv: TcpReceiver,
  windowScaling: boolean,
  timestamps: boolean,
  sack: boolean,
  ecn: boolean,
): TcpInfo {
  const sb = snd.sb;
  return {
    state,
    srttMs: snd.rtt.srttMs,
    rttvarMs: snd.rtt.rttvarMs,
    rtoMs: snd.rtt.rtoMs,
    cwnd: snd.cc.cwnd,
    ssthresh: snd.cc.ssthresh,
    mss: snd.mss,
    rcvMss: rcv.rcvMss,
    retransmits: snd.retransmits,
    backoff: snd.retries,
    bytesAcked: snd.bytesAcked,
    bytesReceived: rcv.bytesReceived,
    sndWnd: snd.sndWnd,
    rcvWnd: rcv.window,
    sndBufBytes: snd.sndBuf.capacity,
    sndQueued: snd.sndBuf.length,
    rcvBufBytes: rcv.rcvBuf.capacity,
    rcvQueued: rcv.unreadBytes,
    rcvWscale: windowScaling ? rcv.rcvShift : -1,
    sndWscale: windowScaling ? snd.sndShift : -1,
    timestamps,
    sack,
    ecn,
    congestionControl: snd.cc.name,
    caState: CA_STATE_NAMES[snd.rec.state],
    pacingRate: Math.round(snd.pacer.rateBytesPerMs * 1000),
    deliveryRate: Math.round(snd.rate.reportedBytesPerMs * 1000),
    deliveryRateAppLimited: snd.rate.reportedAppLimited,
    delivered: snd.rate.delivered,
    minRttMs: snd.rack.minRttMs,
    lost: snd.lostSegments,
    lostBytes: sb.lostBytes,
    retransBytes: sb.retransBytes,
    sackedBytes: sb.sackedBytes,
    inflight: snd.pipe,
    reorderingSeen: snd.rack.reorderingSeen,
    reorderings: snd.rack.reorderEvents,
    reorderingWindowSteps: snd.rack.reoWndMult,
    scoreboardRecords: sb.count,
    sendLimit: LIMIT_NAMES[snd.sendLimitNow()],
  };
}
