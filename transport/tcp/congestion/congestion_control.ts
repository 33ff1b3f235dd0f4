/**
 * The contract between the TCP sender and a congestion control algorithm (NewReno now;
 * CUBIC, RFC 9438, and BBR later).
 *
 * Division of labour: the TCP sender detects events — new data acknowledged, duplicate ACKs,
 * the start and end of loss recovery (it owns `recover`, the dupack counter and any SACK
 * scoreboard, RFC 6582 §3.2 / RFC 6675), retransmission timeouts, idle periods — and reports
 * them here; the algorithm owns `cwnd` and `ssthresh` and nothing else. The sender may send
 * while `inflight < min(cwnd, rwnd)`.
 *
 * Conventions for every method:
 * - Sizes are in bytes, times in milliseconds (the stack's `Clock`).
 * - `inflightBytes` is the sender's FlightSize (RFC 5681 §2: sent but not cumulatively
 *   acknowledged) *after* the sender applied the event itself — e.g. for an ACK, after
 *   `SND.UNA` moved. With SACK it may be RFC 6675's `pipe` instead.
 * - Methods never allocate and never throw on the per-ACK path.
 *
 * @module
 */

/**
 * Initial window (RFC 6928 §2): `min(10*MSS, max(2*MSS, 14600))` bytes.
 *
 * @example
 * ```ts
 * initialWindowBytes(1460); // 14600
 * initialWindowBytes(536); // 5360
 * initialWindowBytes(9000); // 18000
 * ```
 */
export function initialWindowBytes(mss: number): number {
  const twoSegments = 2 * mss;
  const upper = twoSegments > 14600 ? twoSegments : 14600;
  const tenSegments = 10 * mss;
  return tenSegments < upper ? tenSegments : upper;
}

/**
 * "Arbitrarily high" initial ssthresh (RFC 5681 §3.1), the value Linux reports for it
 * (`TCP_INFINITE_SSTHRESH`).
 */
export const INFINITE_SSTHRESH = 0x7fffffff;

/** Send MSS assumed before {@link CongestionControl.init} (RFC 9293 §3.7.1: 536 for IPv4). */
export const DEFAULT_SEND_MSS = 536;

/**
 * A congestion control algorithm. Create one per connection (see `createCongestionControl`
 * in `mod.ts`), call {@link CongestionControl.init} when the connection is established and
 * the send MSS is known, then report events.
 *
 * Typical NewReno sender (RFC 5681 §3.2, RFC 6582 §3.2):
 * ```ts ignore
 * // ACK advancing SND.UNA by `acked`:
 * if (!cc.inRecovery) cc.onAck(acked, flight, rttSample, now);
 * else if (seqGe(ack, recover)) cc.exitFastRecovery(flight, now); // full ACK
 * else cc.onPartialAck(acked, flight, now);                        // retransmit next hole
 * // duplicate ACK number 3 (outside recovery, ack > recover): retransmit, then
 * cc.enterFastRecovery(flight, now);
 * // further duplicate ACKs:
 * cc.onDupAck(flight, now);
 * // RTO fired: retransmit SND.UNA, then
 * cc.onRetransmitTimeout(flight, now);
 * ```
 */
export interface CongestionControl {
  /** Algorithm name as `TCP_CONGESTION` would show it ("newreno", …). */
  readonly name: string;
  /** Congestion window in bytes. */
  readonly cwnd: number;
  /** Slow start threshold in bytes ({@link INFINITE_SSTHRESH} until the first loss). */
  readonly ssthresh: number;
  /** The send MSS (SMSS) the algorithm counts in. */
  readonly mss: number;
  /** True while in slow start (`cwnd < ssthresh` and not in recovery). */
  readonly inSlowStart: boolean;
  /**
   * True from {@link CongestionControl.enterFastRecovery} until
   * {@link CongestionControl.exitFastRecovery} or an RTO.
   */
  readonly inRecovery: boolean;

  /**
   * (Re)start for a new connection: SMSS = `mss`, cwnd = initial window (RFC 6928),
   * ssthresh = {@link INFINITE_SSTHRESH}.
   */
  init(mss: number, nowMs: number): void;

  /** The send MSS changed (PMTU discovery); cwnd stays in bytes, but at least one MSS. */
  setMss(mss: number): void;

  /**
   * An ACK acknowledged `ackedBytes` of new data outside recovery. `rttSampleMs` is the RTT
   * measured on it, or -1 (Karn's rule: none for retransmitted data without timestamps).
   */
  onAck(ackedBytes: number, inflightBytes: number, rttSampleMs: number, nowMs: number): void;

  /**
   * Loss detected by duplicate ACKs or SACK (RFC 5681 §3.2 step 2, RFC 6675 §5 step 4.2):
   * reduce ssthresh and cwnd and enter recovery. `sackBased` selects RFC 6675 behaviour
   * (cwnd = ssthresh, no dupack inflation, sending governed by `pipe`) instead of NewReno's
   * inflate/deflate. Ignored while already in recovery.
   */
  enterFastRecovery(inflightBytes: number, nowMs: number, sackBased?: boolean): void;

  /** A further duplicate ACK during recovery (RFC 5681 §3.2 step 4). No-op outside recovery. */
  onDupAck(inflightBytes: number, nowMs: number): void;

  /** A partial ACK during recovery acknowledged `ackedBytes` (RFC 6582 §3.2 step 5). */
  onPartialAck(ackedBytes: number, inflightBytes: number, nowMs: number): void;

  /** A full ACK (at or past `recover`) ends recovery (RFC 6582 §3.2 step 6). */
  exitFastRecovery(inflightBytes: number, nowMs: number): void;

  /** The retransmission timer expired (RFC 5681 §3.1 eq. 4; cwnd = 1 MSS). Ends recovery. */
  onRetransmitTimeout(inflightBytes: number, nowMs: number): void;

  /**
   * Sending resumes after an idle period longer than one RTO (the caller checks that):
   * restart window, RFC 5681 §4.1.
   */
  onIdleRestart(nowMs: number): void;

  /**
   * The last window reduction was spurious (D-SACK RFC 3708, Eifel RFC 3522, F-RTO RFC
   * 5682): restore cwnd and ssthresh to at least their values before it (RFC 4015 response).
   *
   * @returns false when there is nothing to undo.
   */
  undoReduction(nowMs: number): boolean;
}
