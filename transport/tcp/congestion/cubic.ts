/**
 * CUBIC (RFC 9438): the window grows as a cubic function of the time since the last
 * reduction, `W_cubic(t) = C·(t − K)³ + W_max` (§4.2, in segments and seconds), so it climbs
 * fast far from the last loss point `W_max`, flattens out near it (the plateau at t = K), and
 * probes beyond it; a reduction multiplies the window by β = 0.7 (§4.6).
 *
 * - Congestion avoidance (§4.4): cwnd grows toward `target = W_cubic(t + RTT)`, clamped to
 *   [cwnd, 1.5·cwnd], by `(target − cwnd)/cwnd` per segment delivered. RTT is the
 *   connection's minimum RTT (Linux `delay_min`), else the smoothed one.
 * - TCP-friendly (Reno-friendly) region (§4.3): a Reno estimate `W_est` grows by one whole
 *   segment per `cwnd/α` segments delivered (α = 3(1 − β)/(1 + β), 1 once `W_est` reached
 *   the window before the reduction); while `W_est` is ahead, cwnd catches up with it
 *   within one window, so CUBIC is never slower than Reno on short-RTT paths.
 * - The arithmetic is Linux's (`bictcp_update`, `tcp_cong_avoid_ai`): the growth rate is
 *   recomputed from the cubic curve at most once per clock tick ({@link CUBIC_RATE_TICK_MS});
 *   within a tick the Reno estimate can only raise it, and the raised rate holds to the
 *   tick's end; the target is counted in whole segments, rounded toward the plateau, and
 *   looks at least one tick ahead. On a path whose RTT is far below the tick (veth, a LAN:
 *   0.05–0.5 ms) a congestion-avoidance epoch between two losses often lasts less than one
 *   tick, and its first rate (a target one segment above cwnd) grows cwnd one segment per
 *   window from the epoch's first ACK to the tick's end: AIMD(1, β) rather
 *   than RFC 9438's AIMD(α, β), with a mean window ~1.4× larger at the same loss rate — what
 *   the Linux sender does on the same path (measured: mean cwnd 19–21 segments against 13
 *   with α per ACK, 1 % loss, bench:cc). Where the RTT spans several ticks the rate is
 *   recomputed often enough that the curve of §4.2 holds.
 * - ssthresh after a reduction is β·cwnd in whole segments (Linux's integer window: 21
 *   segments leave 14, not 14.7).
 * - Fast convergence (§4.7): a reduction below the previous `W_max` lowers `W_max` further
 *   to `cwnd·(1 + β)/2`, releasing bandwidth to newer flows.
 * - Timeout (§4.8): the first congestion-avoidance epoch after a retransmission timeout
 *   starts its curve at cwnd with K = 0, W_max and W_est set to the epoch's first cwnd (the
 *   window before the timeout no longer says where the path saturates; Linux resets its
 *   cubic state on entering Loss the same way).
 * - Spurious reductions (§4.9): an undo restores cwnd, cwnd_prior, ssthresh, W_max, K, the
 *   epoch's start and W_est as they were before the reduction — only while cwnd is still
 *   below the window before it; once cwnd has grown back, the current values stay.
 * - Slow start (§4.10) is RFC 5681's with HyStart++ (RFC 9406, `hystart.ts`); like Linux, an
 *   ACK adds everything it delivered (no byte-counting cap), a quarter of it in CSS.
 * - cwnd grows only while it limits the sender (§5.8).
 *
 * cwnd is kept in bytes (fractional inside, whole bytes outside).
 *
 * @module
 */

import {
  type AckSample,
  checkMss,
  type CongestionControl,
  DEFAULT_SEND_MSS,
  INFINITE_SSTHRESH,
  initialWindowBytes,
} from "./congestion_control.ts";
import { HyStartPP } from "./hystart.ts";

/** §5.1 C: 0.4 (segments / s³). */
export const CUBIC_C = 0.4;
/** §4.6 β_cubic: the multiplicative decrease factor. */
export const CUBIC_BETA = 0.7;
/** §4.3 α_cubic: Reno-friendly additive increase matching Reno's average rate. */
const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);
/**
 * How often (ms) the growth rate is recomputed from the cubic curve: Linux's clock tick,
 * 1/HZ — `bictcp_update` runs its cubic arithmetic at most once per jiffy. HZ = 250 (a
 * 4 ms jiffy) is the common distribution default and the benchmark rig's kernel.
 */
export const CUBIC_RATE_TICK_MS = 4;
/** Fastest growth: one segment per two delivered, 1.5·cwnd per RTT (§4.4; Linux `cnt` ≥ 2). */
const MAX_RATE = 0.5;

/**
 * CUBIC ({@link CongestionControl}).
 *
 * @example
 * ```ts
 * import { Cubic } from "./cubic.ts";
 * const cc = new Cubic();
 * cc.init(1000, 0);
 * cc.cwnd; // 10000
 * cc.onCongestionEvent(100_000, 5);
 * cc.ssthresh; // 7000 = 0.7 × cwnd
 * cc.wMaxSegments; // 10: the window the reduction started from
 * ```
 */
export class Cubic implements CongestionControl {
  // The constants of the interface are getters on the prototype, not fields: three fields
  // less in every connection (bench/README.md, branch held9d).
  /** "cubic". */
  get name(): string {
    return "cubic";
  }
  /** No pacing rate of its own: the sender's default applies. */
  get pacingRate(): number {
    return 0;
  }
  /** PRR runs reductions. */
  get ownsRecovery(): boolean {
    return false;
  }
  /** HyStart++ (slow start). */
  /** HyStart++ state, made by the first slow-start ACK (an idle connection never has one). */
  #hystart: HyStartPP | null = null;
  #mss = DEFAULT_SEND_MSS;
  #cwnd = 0;
  #ssthresh = INFINITE_SSTHRESH;
  /** W_max in segments: the window at the last reduction, lowered by fast convergence. */
  #wMax = 0;
  /** The plateau of this epoch's curve (segments): W_max, or cwnd when it started above. */
  #origin = 0;
  /** cwnd (segments) just before the last reduction: where α_cubic becomes 1. */
  #cwndPrior = 0;
  /** Start of the current congestion-avoidance epoch (ms); -1: none yet. */
  #epochStartMs = -1;
  /** K in seconds. */
  #k = 0;
  /** W_est in segments (whole segments, as Linux's `tcp_cwnd`). */
  #wEst = 0;
  /** Segments delivered toward W_est's next step. */
  #renoAcked = 0;
  /** Growth of cwnd per byte delivered in this tick of the epoch. */
  #rate = 0;
  /** The clock tick (`now / CUBIC_RATE_TICK_MS`) `#rate` was computed in; -1: none yet. */
  #rateTick = -1;
  #inTimeoutSeries = false;
  /** A timeout reduced the window and no epoch has started since (§4.8). */
  #afterTimeout = false;
  /** The state before the last reduction (for undo), made by the first reduction. */
  #prior: Float64Array | null = null;
  #hasPrior = false;

  /** A CUBIC instance, initialised for {@link DEFAULT_SEND_MSS}; call `init` per connection. */
  constructor() {
    this.init(DEFAULT_SEND_MSS, 0);
  }

  /** Congestion window in bytes. */
  get cwnd(): number {
    return Math.floor(this.#cwnd);
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

  /** W_max in segments (0 before the first reduction). */
  get wMaxSegments(): number {
    return this.#wMax;
  }

  /** K in seconds of the current epoch. */
  get kSeconds(): number {
    return this.#k;
  }

  /** Start of the current congestion-avoidance epoch (ms), -1 before it begins. */
  get epochStartMs(): number {
    return this.#epochStartMs;
  }

  /** W_cubic(t) in segments, `t` seconds into the epoch (RFC 9438 eq. 1). */
  cubicWindow(tSeconds: number): number {
    const d = tSeconds - this.#k;
    return CUBIC_C * d * d * d + this.#origin;
  }

  /**
   * Reset for a new connection with SMSS `mss`.
   *
   * @throws {RangeError} if `mss` is not a positive integer.
   */
  init(mss: number, _nowMs: number): void {
    checkMss(mss);
    this.#mss = mss;
    this.#cwnd = initialWindowBytes(mss);
    this.#ssthresh = INFINITE_SSTHRESH;
    this.#wMax = 0;
    this.#origin = 0;
    this.#cwndPrior = 0;
    this.#epochStartMs = -1;
    this.#k = 0;
    this.#wEst = 0;
    this.#inTimeoutSeries = false;
    this.#afterTimeout = false;
    this.#hasPrior = false;
    this.#hystart?.reset(0);
  }

  /** HyStart++ (RFC 9406) of this connection's slow start. */
  get hystart(): HyStartPP {
    return this.#hystart ??= new HyStartPP();
  }

  /** Change SMSS (cwnd keeps its bytes, at least one SMSS). */
  setMss(mss: number): void {
    checkMss(mss);
    this.#mss = mss;
    if (this.#cwnd < mss) this.#cwnd = mss;
    if (this.#ssthresh < 2 * mss) this.#ssthresh = 2 * mss;
    this.#epochStartMs = -1;
  }

  /** Data delivered: slow start with HyStart++, or cubic / Reno-friendly growth. */
  onAck(s: AckSample): void {
    if (s.ackedBytes > 0) this.#inTimeoutSeries = false;
    if (s.inRecovery) return;
    const delivered = s.deliveredBytes;
    if (this.#cwnd < this.#ssthresh) {
      const hy = this.hystart;
      hy.onAck(s);
      if (hy.leaveSlowStart) {
        hy.leaveSlowStart = false;
        this.#ssthresh = Math.floor(this.#cwnd);
        return;
      }
      if (!(delivered > 0) || !(s.ackedBytes > 0) || !this.#limited(s)) return;
      let next = this.#cwnd + hy.growth(delivered);
      if (next > this.#ssthresh) next = this.#ssthresh;
      this.#cwnd = next;
      return;
    }
    // Linux tcp_may_raise_cwnd: only when the cumulative ACK advanced.
    if (!(delivered > 0) || !(s.ackedBytes > 0) || !this.#limited(s)) return;
    this.#avoid(delivered, s);
  }

  /**
   * §4.2–4.4: congestion avoidance for `delivered` bytes, with Linux's arithmetic (see the
   * module doc): a growth rate per segment delivered, recomputed from the cubic curve once
   * per {@link CUBIC_RATE_TICK_MS}, raised in between by the whole-segment Reno estimate.
   */
  #avoid(delivered: number, s: AckSample): void {
    const mss = this.#mss;
    const now = s.nowMs;
    const cwndSeg = this.#cwnd / mss;
    if (this.#epochStartMs < 0) {
      // §4.2: a new epoch; K from the distance to W_max.
      this.#epochStartMs = now;
      if (this.#afterTimeout) {
        // §4.8: the first epoch after a timeout: K = 0, W_max = the epoch's first cwnd.
        this.#afterTimeout = false;
        this.#wMax = cwndSeg;
      }
      // Above W_max (after an undo, or the first epoch) the curve starts at cwnd with K = 0;
      // W_max itself stays, for the next reduction's fast convergence (§4.7).
      if (cwndSeg < this.#wMax) {
        this.#k = Math.cbrt((this.#wMax - cwndSeg) / CUBIC_C);
        this.#origin = this.#wMax;
      } else {
        this.#k = 0;
        this.#origin = cwndSeg;
      }
      this.#wEst = cwndSeg;
      this.#renoAcked = 0;
      this.#rateTick = -1;
    }
    const ackedSeg = delivered / mss;
    // The clock's tick, not the epoch's: Linux's jiffies run on whatever the epoch does, so
    // an epoch shorter than a tick still crosses a tick boundary now and then.
    const tick = Math.floor(now / CUBIC_RATE_TICK_MS);
    if (tick !== this.#rateTick) {
      // §4.4: toward W_cubic(t + RTT) within the next RTT, at most 1.5·cwnd. As Linux: the
      // RTT rounded up to whole ticks (`usecs_to_jiffies`), the target and cwnd in whole
      // segments, the target rounded toward the plateau (the curve's offset from it is
      // truncated) — so on the first ACK of an epoch below W_max the target is at least one
      // segment above cwnd and cwnd grows one segment per window from there.
      this.#rateTick = tick;
      // Both RTTs rounded, then the choice made between whole numbers (small integers): V8's
      // mid tier keeps a number merged from two branches tagged, a fraction a new heap number.
      const aheadMinMs = Math.ceil(s.minRttMs / CUBIC_RATE_TICK_MS) * CUBIC_RATE_TICK_MS;
      const aheadSrttMs = Math.ceil(s.srttMs / CUBIC_RATE_TICK_MS) * CUBIC_RATE_TICK_MS;
      const aheadMs = s.minRttMs > 0 ? aheadMinMs : aheadSrttMs;
      const t = (now - this.#epochStartMs) / 1000;
      const w = this.cubicWindow(t + aheadMs / 1000);
      const target = w < this.#origin ? Math.ceil(w) : Math.floor(w);
      // (cwnd is fractional here: a window grown to 15 segments may hold 14.99999.)
      const whole = cwndSeg >= 1 ? Math.floor(cwndSeg + 1e-6) : 1;
      this.#rate = Math.max(target - whole, 0) / whole; // no merge (see above)
    }
    // §4.3 Reno-friendly estimate, in whole segments: one more per cwnd/α delivered.
    const alpha = this.#wEst >= this.#cwndPrior ? 1 : CUBIC_ALPHA;
    const per = cwndSeg / alpha;
    this.#renoAcked += ackedSeg;
    if (this.#renoAcked >= per) {
      const steps = Math.floor(this.#renoAcked / per);
      this.#renoAcked -= steps * per;
      this.#wEst += steps;
    }
    if (this.#wEst > cwndSeg) {
      // Reno would be ahead: catch it up within one window (and keep that pace this tick).
      const reno = (this.#wEst - cwndSeg) / cwndSeg;
      if (reno > this.#rate) this.#rate = reno;
    }
    this.#cwnd += Math.min(this.#rate, MAX_RATE) * delivered; // no merge (see above)
  }

  /** cwnd limited the sender (or nearly all of it was in flight). */
  #limited(s: AckSample): boolean {
    if (s.cwndLimited) return true;
    return this.#cwnd < this.#ssthresh
      ? 2 * s.priorInflight >= this.#cwnd
      : s.priorInflight + this.#mss > this.#cwnd;
  }

  /** §4.6–4.7: W_max (with fast convergence), ssthresh = β·cwnd; the epoch ends. */
  onCongestionEvent(_inflightBytes: number, _nowMs: number): void {
    this.#saveForUndo();
    this.#reduce();
  }

  #reduce(): void {
    const mss = this.#mss;
    const cwndSeg = this.#cwnd / mss;
    this.#epochStartMs = -1;
    this.#afterTimeout = false;
    this.#cwndPrior = cwndSeg;
    // §4.7 fast convergence: below the W_max in force (itself perhaps lowered by the last
    // reduction's fast convergence, as in Linux's `last_max_cwnd`), lower it further.
    this.#wMax = cwndSeg < this.#wMax ? (cwndSeg * (1 + CUBIC_BETA)) / 2 : cwndSeg;
    // §4.6 ssthresh = β·cwnd, in whole segments of the whole window as Linux counts them.
    const ss = Math.floor(Math.floor(cwndSeg + 1e-6) * CUBIC_BETA) * mss;
    this.#ssthresh = ss > 2 * mss ? ss : 2 * mss;
  }

  /** PRR's cwnd during a reduction (at least one SMSS). */
  setCwnd(bytes: number): void {
    this.#cwnd = bytes > this.#mss ? bytes : this.#mss;
  }

  /** The reduction ends with cwnd = ssthresh. */
  onRecoveryEnd(_nowMs: number): void {
    if (this.#ssthresh < INFINITE_SSTHRESH) this.#cwnd = this.#ssthresh;
  }

  /** §4.8: a timeout reduces like a loss (once per series), then cwnd = one SMSS. */
  onRetransmitTimeout(_inflightBytes: number, _nowMs: number): void {
    if (!this.#inTimeoutSeries) {
      this.#saveForUndo();
      this.#reduce();
      this.#inTimeoutSeries = true;
    }
    this.#cwnd = this.#mss;
    this.#epochStartMs = -1;
    this.#afterTimeout = true;
    this.#hystart?.reset(0);
  }

  /** RFC 5681 §4.1 restart window; the epoch starts over (RFC 9438 §5.8). */
  onIdleRestart(_nowMs: number): void {
    const three = Math.floor((3 * this.#cwnd) / 4);
    if (this.#ssthresh < three) this.#ssthresh = three;
    const iw = initialWindowBytes(this.#mss);
    if (this.#cwnd > iw) this.#cwnd = iw;
    this.#epochStartMs = -1;
  }

  /**
   * §4.9: restore the window and the cubic state from before the last reduction — cwnd,
   * cwnd_prior, ssthresh, W_max, K, the epoch (its start, plateau, W_est) — if cwnd is still
   * below the window before it. Once cwnd has grown back to it (a late detection), the
   * current values stay and this returns false.
   */
  undoReduction(_nowMs: number): boolean {
    if (!this.#hasPrior) return false;
    this.#hasPrior = false;
    const p = this.#prior!;
    if (!(this.#cwnd < p[0])) return false;
    this.#cwnd = p[0];
    if (this.#ssthresh < p[1]) this.#ssthresh = p[1];
    this.#wMax = p[2];
    this.#cwndPrior = p[3];
    this.#epochStartMs = p[4];
    this.#k = p[5];
    this.#origin = p[6];
    this.#wEst = p[7];
    this.#renoAcked = p[8];
    this.#rateTick = -1; // the growth rate is recomputed from the restored curve
    this.#inTimeoutSeries = false;
    this.#afterTimeout = false;
    return true;
  }

  /** §4.9: what an undo restores, saved before a reduction changes it. */
  #saveForUndo(): void {
    const p = this.#prior ??= new Float64Array(9);
    p[0] = this.#cwnd;
    p[1] = this.#ssthresh;
    p[2] = this.#wMax;
    p[3] = this.#cwndPrior;
    p[4] = this.#epochStartMs;
    p[5] = this.#k;
    p[6] = this.#origin;
    p[7] = this.#wEst;
    p[8] = this.#renoAcked;
    this.#hasPrior = true;
  }
}
