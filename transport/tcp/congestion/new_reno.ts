/**
 * NewReno congestion control: slow start and congestion avoidance (RFC 5681 §3.1) with
 * appropriate byte counting (RFC 3465), and the RFC 5681 eq. 4 reduction. The NewReno part
 * of recovery — partial ACKs (RFC 6582 §3.2) — and the pacing of the reduction (PRR, RFC
 * 6937, which replaces window inflation) are the sender's.
 *
 * Choices where the RFCs leave room:
 * - Slow start grows cwnd by `min(delivered, L)` per ACK with L = 2*SMSS by default
 *   (RFC 3465 §2.2 allows L up to 2*SMSS; RFC 5681 eq. 2 is the L = 1*SMSS case, selectable
 *   with `slowStartLimitSegments: 1`). L = 2 keeps doubling per RTT with delayed ACKs, like
 *   Linux, which also caps a stretch ACK at 2 segments in slow start. After an RTO, L = 1*SMSS
 *   (one ACK then may cover many segments that left the network long ago). Slow start stops
 *   at ssthresh: cwnd never jumps past it.
 * - Congestion avoidance counts bytes (RFC 3465 §2.1): delivered bytes accumulate, and each
 *   time they reach cwnd, cwnd grows by one SMSS.
 * - cwnd grows only while it limits the sender (RFC 7661's concern, Linux
 *   `tcp_is_cwnd_limited`): in slow start when at least half of cwnd was in flight, in
 *   congestion avoidance when less than one SMSS of cwnd was left unused — or the sender says
 *   cwnd stopped it. Turn off with `growOnlyWhenCwndLimited: false`.
 * - A restart after idle also raises ssthresh to at least 3/4 of the old cwnd (RFC 2861 §3,
 *   as Linux does), so slow start climbs back quickly.
 *
 * @module
 */

import {
  type AckSample,
  checkMss,
  type CongestionControl,
  DEFAULT_SEND_MSS,
  halfFlightSsthresh,
  INFINITE_SSTHRESH,
  initialWindowBytes,
} from "./congestion_control.ts";

/** Options of {@link NewReno}. */
export interface NewRenoOptions {
  /** Slow-start byte-counting limit L in segments, 1 or 2 (RFC 3465 §2.2). Default 2. */
  slowStartLimitSegments?: 1 | 2;
  /** Grow cwnd only when it limited the sender (see the module doc). Default true. */
  growOnlyWhenCwndLimited?: boolean;
}

/**
 * NewReno ({@link CongestionControl}). All state is a few numbers: no allocation after
 * construction.
 *
 * @example
 * ```ts
 * import { AckSample } from "./congestion_control.ts";
 * import { NewReno } from "./new_reno.ts";
 * const cc = new NewReno();
 * cc.init(1000, 0);
 * cc.cwnd; // 10000: RFC 6928 initial window
 * const s = new AckSample();
 * s.deliveredBytes = 2000; s.priorInflight = 10000;
 * cc.onAck(s); // slow start: +2000 (L = 2 segments)
 * cc.cwnd; // 12000
 * cc.onCongestionEvent(12000, 20);
 * cc.ssthresh; // 6000 = FlightSize / 2
 * ```
 */
export class NewReno implements CongestionControl {
  // The constants of the interface are getters on the prototype, not fields: three fields
  // less in every connection (bench/README.md, branch held9d).
  /** "newreno". */
  get name(): string {
    return "newreno";
  }
  /** No pacing rate of its own: the sender's default applies. */
  get pacingRate(): number {
    return 0;
  }
  /** PRR runs reductions. */
  get ownsRecovery(): boolean {
    return false;
  }
  readonly #ssLimitSegments: number;
  readonly #growOnlyWhenLimited: boolean;
  #mss = DEFAULT_SEND_MSS;
  #cwnd = 0;
  #ssthresh = INFINITE_SSTHRESH;
  /** RFC 3465 §2.1 bytes_acked accumulator for congestion avoidance. */
  #bytesAcked = 0;
  /** An RTO fired and no new data was acknowledged since (RFC 5681 §3.1: hold ssthresh). */
  #inTimeoutSeries = false;
  /** Slow start that follows an RTO: L = 1*SMSS. */
  #slowStartAfterRto = false;
  /** Values before the last reduction, for undoReduction; -1 when none. */
  #priorCwnd = -1;
  #priorSsthresh = -1;

  /** A NewReno instance, initialised for {@link DEFAULT_SEND_MSS}; call `init` per connection. */
  constructor(options: NewRenoOptions = {}) {
    const l = options.slowStartLimitSegments ?? 2;
    if (l !== 1 && l !== 2) {
      throw new RangeError(`NewReno: slowStartLimitSegments must be 1 or 2, got ${l}`);
    }
    this.#ssLimitSegments = l;
    this.#growOnlyWhenLimited = options.growOnlyWhenCwndLimited ?? true;
    this.init(DEFAULT_SEND_MSS, 0);
  }

  /** Congestion window in bytes. */
  get cwnd(): number {
    return this.#cwnd;
  }

  /** Slow start threshold in bytes. */
  get ssthresh(): number {
    return this.#ssthresh;
  }

  /** SMSS in bytes. */
  get mss(): number {
    return this.#mss;
  }

  /** True while in slow start. */
  get inSlowStart(): boolean {
    return this.#cwnd < this.#ssthresh;
  }

  /**
   * Reset for a new connection with SMSS `mss`.
   *
   * @throws {RangeError} if `mss` is not a positive integer.
   */
  init(mss: number, _nowMs: number): void {
    checkMss(mss);
    this.#mss = mss;
    // RFC 6928 §2 initial window; RFC 5681 §3.1 "arbitrarily high" initial ssthresh.
    this.#cwnd = initialWindowBytes(mss);
    this.#ssthresh = INFINITE_SSTHRESH;
    this.#bytesAcked = 0;
    this.#inTimeoutSeries = false;
    this.#slowStartAfterRto = false;
    this.#priorCwnd = -1;
    this.#priorSsthresh = -1;
  }

  /**
   * Change SMSS. cwnd keeps its byte value but is at least one SMSS; a finite ssthresh is at
   * least 2*SMSS.
   *
   * @throws {RangeError} if `mss` is not a positive integer.
   */
  setMss(mss: number): void {
    checkMss(mss);
    this.#mss = mss;
    if (this.#cwnd < mss) this.#cwnd = mss;
    if (this.#ssthresh < 2 * mss) this.#ssthresh = 2 * mss;
  }

  /** Data delivered: slow start or congestion avoidance (outside reductions). */
  onAck(s: AckSample): void {
    const delivered = s.deliveredBytes;
    if (!(delivered > 0)) return;
    // RFC 5681 §3.1: a later timeout is no longer "the same segment" once new data is acked.
    if (s.ackedBytes > 0) this.#inTimeoutSeries = false;
    // Linux tcp_may_raise_cwnd: grow only when the cumulative ACK advanced (not on SACKs of
    // a duplicate ACK, whose data may still be missing below them) and not in a reduction.
    if (s.inRecovery || !(s.ackedBytes > 0)) return;
    const mss = this.#mss;
    const cwnd = this.#cwnd;
    const flightBefore = s.priorInflight;
    if (cwnd < this.#ssthresh) {
      if (this.#growOnlyWhenLimited && !s.cwndLimited && 2 * flightBefore < cwnd) return;
      // RFC 3465 §2.2 / RFC 5681 eq. 2: cwnd += min(N, L).
      const limit = (this.#slowStartAfterRto ? 1 : this.#ssLimitSegments) * mss;
      let next = cwnd + (delivered < limit ? delivered : limit);
      if (next >= this.#ssthresh) {
        next = this.#ssthresh;
        this.#slowStartAfterRto = false;
      }
      this.#cwnd = next;
      return;
    }
    if (this.#growOnlyWhenLimited && !s.cwndLimited && flightBefore + mss <= cwnd) return;
    // RFC 3465 §2.1: when bytes_acked reaches cwnd, subtract cwnd and add one SMSS.
    this.#bytesAcked += delivered;
    if (this.#bytesAcked >= cwnd) {
      this.#bytesAcked -= cwnd;
      this.#cwnd = cwnd + mss;
    }
  }

  /** A reduction starts: ssthresh = max(FlightSize/2, 2*SMSS) (RFC 5681 eq. 4). */
  onCongestionEvent(inflightBytes: number, _nowMs: number): void {
    this.#saveForUndo();
    this.#ssthresh = halfFlightSsthresh(inflightBytes, this.#mss);
    this.#bytesAcked = 0;
    this.#slowStartAfterRto = false;
  }

  /** PRR's cwnd during a reduction (at least one SMSS). */
  setCwnd(bytes: number): void {
    this.#cwnd = bytes > this.#mss ? Math.floor(bytes) : this.#mss;
  }

  /** RFC 6937 §3: the reduction ends with cwnd = ssthresh. */
  onRecoveryEnd(_nowMs: number): void {
    if (this.#ssthresh < INFINITE_SSTHRESH) this.#cwnd = this.#ssthresh;
    this.#bytesAcked = 0;
  }

  /**
   * RFC 5681 §3.1: ssthresh = max(FlightSize/2, 2*SMSS) — unless this segment already timed
   * out (no new data acknowledged since the last RTO), when ssthresh is held — and cwnd = LW =
   * one SMSS.
   */
  onRetransmitTimeout(inflightBytes: number, _nowMs: number): void {
    if (!this.#inTimeoutSeries) {
      this.#saveForUndo();
      this.#ssthresh = halfFlightSsthresh(inflightBytes, this.#mss);
      this.#inTimeoutSeries = true;
    }
    this.#cwnd = this.#mss;
    this.#bytesAcked = 0;
    this.#slowStartAfterRto = true;
  }

  /**
   * RFC 5681 §4.1: cwnd = RW = min(IW, cwnd). First ssthresh = max(ssthresh, 3/4 cwnd)
   * (RFC 2861 §3).
   */
  onIdleRestart(_nowMs: number): void {
    const cwnd = this.#cwnd;
    const threeQuarters = Math.floor((3 * cwnd) / 4);
    if (this.#ssthresh < threeQuarters) this.#ssthresh = threeQuarters;
    const iw = initialWindowBytes(this.#mss);
    if (cwnd > iw) this.#cwnd = iw;
    this.#bytesAcked = 0;
  }

  /** Restore cwnd and ssthresh to at least their values before the last reduction. */
  undoReduction(_nowMs: number): boolean {
    if (this.#priorCwnd < 0) return false;
    if (this.#cwnd < this.#priorCwnd) this.#cwnd = this.#priorCwnd;
    if (this.#ssthresh < this.#priorSsthresh) this.#ssthresh = this.#priorSsthresh;
    this.#priorCwnd = -1;
    this.#priorSsthresh = -1;
    this.#inTimeoutSeries = false;
    this.#slowStartAfterRto = false;
    this.#bytesAcked = 0;
    return true;
  }

  /** Remember the window before a reduction (RFC 4015: the response restores it). */
  #saveForUndo(): void {
    this.#priorCwnd = this.#cwnd;
    this.#priorSsthresh = this.#ssthresh;
  }
}
