/**
 * A `TCP_INFO`-like record of one connection (Linux `struct tcp_info`, the fields a user
 * asks for most).
 *
 * @module
 */

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
  /** Congestion control algorithm name. */
  congestionControl: string;
}
