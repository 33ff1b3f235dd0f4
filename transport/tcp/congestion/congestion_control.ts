/**
 * The contract between the TCP sender and a congestion control algorithm (NewReno, CUBIC
 * RFC 9438, BBR), in the shape of Linux's `tcp_congestion_ops`.
 *
 * Division of labour: the TCP sender detects events — data delivered (cumulatively or by
 * SACK), losses (RACK-TLP, duplicate ACKs), ECN-Echo, retransmission timeouts, idle periods —
 * owns the scoreboard, `recover` and the reduction state, and reports to the algorithm. The
 * algorithm owns `cwnd`, `ssthresh` and, if it wants one, a pacing rate.
 *
 * A window reduction (fast recovery, an ECN or TLP response) goes: {@link
 * CongestionControl.onCongestionEvent} sets ssthresh; while it lasts the sender drives cwnd
 * down with PRR (RFC 6937) through {@link CongestionControl.setCwnd} — unless the algorithm
 * {@link CongestionControl.ownsRecovery} (BBR), which then sets cwnd itself on every ACK;
 * {@link CongestionControl.onRecoveryEnd} ends it (cwnd = ssthresh). Outside reductions,
 * {@link CongestionControl.onAck} grows cwnd.
 *
 * Conventions: sizes in bytes, times in ms (the stack's clock, fractional), rates in bytes
 * per ms. Methods never allocate and never throw on the per-ACK path.
 *
 * @module
 */

import { DOUBLE_ZERO } from "../../../core/v8_shapes.ts";

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
 * What one ACK told the sender, as congestion control sees it (Linux's `rate_sample` plus
 * the ACK's accounting). The sender fills one reused record per ACK.
 *
 * @example
 * ```ts
 * const s = new AckSample();
 * s.deliveredBytes = 2896;
 * s.rttMs = 10.2;
 * ```
 */
export class AckSample {
  /** When the ACK arrived (ms). */
  nowMs = DOUBLE_ZERO;
  /** Bytes SND.UNA advanced. */
  ackedBytes = 0;
  /** Bytes newly delivered: cumulatively ACKed (not SACKed before) plus newly SACKed. */
  deliveredBytes = 0;
  /** RFC 6675 pipe before the ACK. */
  priorInflight = 0;
  /** RFC 6675 pipe after the ACK (losses it revealed removed). */
  inflight = 0;
  /** RTT measured by this ACK (ms, the most recently sent delivered segment); -1: none. */
  rttMs = DOUBLE_ZERO;
  /** The connection's minimum RTT (ms); 0 before the first sample. */
  minRttMs = DOUBLE_ZERO;
  /** Smoothed RTT (ms); 0 before the first sample. */
  srttMs = DOUBLE_ZERO;
  /** Bytes newly deemed lost while processing the ACK. */
  lostBytes = 0;
  /**
   * Bytes delivered over the connection's life, this ACK included (C.delivered): a double from
   * the start, as the total it copies (past 2^31 mid-run; bench/README.md, "tx13i").
   */
  delivered: number = DOUBLE_ZERO;
  /** `delivered` when the newest segment this ACK delivered was sent; -1: no sample. */
  priorDelivered = DOUBLE_ZERO;
  /** Delivery rate of the sample (bytes/ms); -1 when the ACK gave no valid sample. */
  deliveryRate = DOUBLE_ZERO;
  /** The sample's interval (ms). */
  intervalMs = DOUBLE_ZERO;
  /** The sample was taken while the application limited the sender. */
  isAppLimited = false;
  /** cwnd limited the sender in the window this ACK covers (RFC 7661; Linux is_cwnd_limited). */
  cwndLimited = false;
  /** The sender is in a window reduction (recovery, ECN/TLP response, after an RTO). */
  inRecovery = false;

  /**
   * The times, RTTs and rate start as doubles (DOUBLE_ZERO) and are set here: the loss
   * control's one sample took its first fractional values in a sender's first ACKs, a new map
   * for the congestion controls' code that had read it (bench/README.md, `deopt11l`).
   */
  constructor() {
    this.rttMs = this.priorDelivered = this.deliveryRate = -1;
    this.nowMs =
      this.minRttMs =
      this.srttMs =
      this.intervalMs =
        0;
  }
}

/**
 * Rounds counted in delivered bytes (BBR's `next_round_delivered`, also used by HyStart++):
 * a round ends when an ACK delivers a segment sent after the previous round ended.
 *
 * @example
 * ```ts
 * const r = new RoundCounter();
 * const s = new AckSample();
 * s.priorDelivered = 0; s.delivered = 1000;
 * r.update(s); // true: round 1 starts
 * ```
 */
export class RoundCounter {
  /** Rounds completed. */
  count = 0;
  /** The last update started a round. */
  roundStart = false;
  /** A round ends once `priorDelivered` reaches this (a delivered total: a double from the start). */
  nextRoundDelivered: number = DOUBLE_ZERO;

  /** Advance with an ACK's sample; returns whether a new round started. */
  update(s: AckSample): boolean {
    this.roundStart = false;
    if (s.priorDelivered >= 0 && s.priorDelivered >= this.nextRoundDelivered) {
      this.nextRoundDelivered = s.delivered;
      this.count++;
      this.roundStart = true;
    }
    return this.roundStart;
  }

  /** Start a fresh round at the current `delivered`. */
  restart(delivered: number): void {
    this.nextRoundDelivered = delivered;
  }
}

/**
 * A congestion control algorithm. Create one per connection (see `createCongestionControl`
 * in `mod.ts`), call {@link CongestionControl.init} when the connection is established and
 * the send MSS is known, then report events.
 *
 * ```ts ignore
 * cc.onAck(sample);                       // every ACK that delivered data or revealed loss
 * cc.onCongestionEvent(pipe, now);        // loss / ECE / TLP: ssthresh set
 * cc.setCwnd(pipe + prr.sndcnt);          // each ACK of the reduction (unless ownsRecovery)
 * cc.onRecoveryEnd(now);                  // SND.UNA passed `recover`: cwnd = ssthresh
 * cc.onRetransmitTimeout(flight, now);    // RTO: cwnd = 1 MSS
 * ```
 */
export interface CongestionControl {
  /** Algorithm name as `TCP_CONGESTION` shows it ("newreno", "cubic", "bbr"). */
  readonly name: string;
  /** Congestion window in bytes. */
  readonly cwnd: number;
  /** Slow start threshold in bytes ({@link INFINITE_SSTHRESH} until the first reduction). */
  readonly ssthresh: number;
  /** The send MSS (SMSS) the algorithm counts in. */
  readonly mss: number;
  /** True while in slow start. */
  readonly inSlowStart: boolean;
  /**
   * The pacing rate the algorithm asks for (bytes/ms), or 0 to let the sender pace at its
   * default (Linux: 2× cwnd/SRTT in slow start, 1.2× after).
   */
  readonly pacingRate: number;
  /** The algorithm sets cwnd itself during reductions (BBR); the sender then runs no PRR. */
  readonly ownsRecovery: boolean;

  /**
   * (Re)start for a new connection: SMSS = `mss`, cwnd = initial window (RFC 6928),
   * ssthresh = {@link INFINITE_SSTHRESH}. `srttMs` is the handshake's RTT when measured
   * (BBR's initial pacing rate uses it).
   */
  init(mss: number, nowMs: number, srttMs?: number): void;

  /** The send MSS changed (PMTU discovery); cwnd stays in bytes, but at least one MSS. */
  setMss(mss: number): void;

  /**
   * An ACK delivered data or revealed losses. Outside a reduction (`s.inRecovery` false) the
   * algorithm grows cwnd; within one it only learns (RTT, rate), unless it owns recovery.
   */
  onAck(s: AckSample): void;

  /**
   * A window reduction starts (RFC 5681 §3.2 step 2, RFC 6675 §5, RFC 3168 §6.1.2, RFC 8985
   * §7.4.2) with `inflightBytes` in flight: set ssthresh. cwnd is left to PRR (see the module
   * doc). Called once per reduction.
   */
  onCongestionEvent(inflightBytes: number, nowMs: number): void;

  /** The sender's PRR sets cwnd during a reduction (Linux tcp_cwnd_reduction). */
  setCwnd(bytes: number): void;

  /** The reduction ended (SND.UNA reached `recover`): cwnd = ssthresh (Linux's CWR end). */
  onRecoveryEnd(nowMs: number): void;

  /**
   * The retransmission timer expired (RFC 5681 §3.1 eq. 4): ssthresh from the flight (held
   * when this data already timed out), cwnd = one MSS.
   */
  onRetransmitTimeout(inflightBytes: number, nowMs: number): void;

  /**
   * Sending resumes after an idle period longer than one RTO (the caller checks that):
   * restart window, RFC 5681 §4.1.
   */
  onIdleRestart(nowMs: number): void;

  /**
   * The last reduction was spurious (D-SACK RFC 3708, Eifel RFC 3522): restore cwnd and
   * ssthresh to at least their values before it (RFC 4015 response).
   *
   * @returns false when there is nothing to undo (CUBIC: also when cwnd has already grown
   *   back to its value before the reduction, RFC 9438 §4.9, and keeps its current state).
   */
  undoReduction(nowMs: number): boolean;
}

/** Throw for an MSS that is not a positive integer (control path only). */
export function checkMss(mss: number): void {
  if (!Number.isInteger(mss) || mss < 1) {
    throw new RangeError(`congestion control: mss must be a positive integer, got ${mss}`);
  }
}

/** RFC 5681 eq. 4 for a flight of `inflightBytes`: max(FlightSize / 2, 2*SMSS). */
export function halfFlightSsthresh(inflightBytes: number, mss: number): number {
  const half = inflightBytes > 0 ? Math.floor(inflightBytes / 2) : 0;
  return half > 2 * mss ? half : 2 * mss;
}
