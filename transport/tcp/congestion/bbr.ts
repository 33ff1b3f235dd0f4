/**
 * BBR v1 (draft-cardwell-iccrg-bbr-congestion-control-00): a model-based algorithm. It
 * estimates the bottleneck bandwidth (BtlBw: the maximum delivery rate over the last 10
 * rounds, application-limited samples excepted unless they raise it) and the round-trip
 * propagation time (RTprop: the minimum RTT over the last 10 s), paces at
 * `pacing_gain · BtlBw` and caps what is in flight at `cwnd_gain · BDP` (+ 3 send quanta).
 * Loss is not a congestion signal — only packet conservation during recovery (§4.2.3.4).
 *
 * ACK aggregation (Linux `tcp_bbr.c`, `bbr_update_ack_aggregation`, in BBR v1 since Linux
 * 4.20; draft-cardwell-iccrg-bbr-congestion-control-02 §4.6.4.3): when ACKs come in bursts —
 * a receiver that acknowledges only as its application reads, a wake-up that delivers a
 * queue at once — the data ACKed in a burst beyond what BtlBw explains ("extra acked", the
 * windowed maximum over 10 rounds) is added to the cwnd target once the pipe is full, so the
 * sender keeps sending through the receiver's silences instead of stalling at 2 BDP.
 *
 * States (§4.3):
 * - Startup: gain 2/ln 2 until BtlBw stops growing by 25 % for 3 rounds (the pipe is full);
 * - Drain: pacing gain ln 2/2 until in-flight falls to one BDP;
 * - ProbeBW: pacing gain cycling over 8 phases, [1.25, 0.75, 1, 1, 1, 1, 1, 1], each about
 *   one RTprop long, starting at a random phase other than 0.75; cwnd gain 2;
 * - ProbeRTT: when RTprop was not refreshed for 10 s, cwnd drops to 4 segments for 200 ms
 *   and a round, to measure the empty-queue RTT.
 *
 * Units: bytes, ms, and bytes/ms for rates. The delivery-rate samples come from the sender
 * (`delivery_rate.ts`) through {@link AckSample}.
 *
 * @module
 */

import { SeededRandom } from "../../../core/random.ts";
import { WindowedFilter } from "../windowed_filter.ts";
import {
  type AckSample,
  checkMss,
  type CongestionControl,
  DEFAULT_SEND_MSS,
  INFINITE_SSTHRESH,
  initialWindowBytes,
  RoundCounter,
} from "./congestion_control.ts";

/** §4.3.2.1 BBRHighGain = 2/ln(2): Startup's pacing and cwnd gain. */
export const BBR_HIGH_GAIN = 2 / Math.LN2;
/** §4.3.4.4 pacing-gain cycle of ProbeBW. */
export const BBR_PACING_GAIN_CYCLE: readonly number[] = Object.freeze([
  1.25,
  0.75,
  1,
  1,
  1,
  1,
  1,
  1,
]);
/** §4.1.1 BtlBwFilterLen (rounds). */
const BTLBW_FILTER_ROUNDS = 10;
/** §4.1.2 RTpropFilterLen (ms). */
const RTPROP_FILTER_MS = 10_000;
/** §4.3.5 ProbeRTTDuration (ms). */
const PROBE_RTT_DURATION_MS = 200;
/** §4.2.3.3 BBRMinPipeCwnd (segments). */
const MIN_PIPE_CWND_SEGMENTS = 4;
/** §4.3.2.2: BtlBw must grow by this factor per round to keep Startup going ... */
const FULL_BW_GROWTH = 1.25;
/** ... for this many rounds. */
const FULL_BW_ROUNDS = 3;
/** ProbeBW's cwnd gain. */
const PROBE_BW_CWND_GAIN = 2;
/** Rounds per half of the extra-acked max filter (Linux `bbr_extra_acked_win_rtts`). */
const EXTRA_ACKED_WINDOW_ROUNDS = 5;
/** The aggregation allowance is at most this long at BtlBw (ms; `bbr_extra_acked_max_us`). */
const EXTRA_ACKED_MAX_MS = 100;
/** An aggregation epoch restarts after this many segments ACKed in it (Linux: 2^20). */
const ACK_EPOCH_RESET_SEGMENTS = 1 << 20;

/** BBR state: Startup. */
export const BBR_STARTUP = 0;
/** BBR state: Drain. */
export const BBR_DRAIN = 1;
/** BBR state: ProbeBW. */
export const BBR_PROBE_BW = 2;
/** BBR state: ProbeRTT. */
export const BBR_PROBE_RTT = 3;
/** State names, indexed by state. */
export const BBR_STATE_NAMES: readonly string[] = Object.freeze([
  "Startup",
  "Drain",
  "ProbeBW",
  "ProbeRTT",
]);

/**
 * BBR v1 ({@link CongestionControl}).
 *
 * @example
 * ```ts
 * import { Bbr } from "./bbr.ts";
 * const bbr = new Bbr();
 * bbr.init(1448, 0);
 * bbr.state; // 0: Startup
 * bbr.cwnd;  // 14480
 * ```
 */
export class Bbr implements CongestionControl {
  // The constants of the interface are getters on the prototype, not fields: two fields less
  // in every connection (bench/README.md, branch held9d).
  /** "bbr". */
  get name(): string {
    return "bbr";
  }
  /** BBR sets cwnd itself in recovery (packet conservation), no PRR. */
  get ownsRecovery(): boolean {
    return true;
  }
  /** Rounds counted in delivered bytes. */
  readonly rounds: RoundCounter = new RoundCounter();
  /** BtlBw filter (bytes/ms over rounds). */
  readonly btlBwFilter: WindowedFilter = new WindowedFilter("max", BTLBW_FILTER_ROUNDS);
  #rng: SeededRandom;
  #mss = DEFAULT_SEND_MSS;
  #cwnd = 0;
  #pacingRate = 0;
  #state = BBR_STARTUP;
  #pacingGain = BBR_HIGH_GAIN;
  #cwndGain = BBR_HIGH_GAIN;
  #rtProp = Infinity;
  #rtPropStamp = 0;
  #rtPropExpired = false;
  #filledPipe = false;
  #fullBw = 0;
  #fullBwCount = 0;
  #cycleIndex = 0;
  #cycleStamp = 0;
  #priorCwnd = 0;
  #idleRestart = false;
  #conservation = false;
  #conservationRound = 0;
  #inRecovery = false;
  #probeRttDoneStamp = 0;
  #probeRttRoundDone = false;
  /** Extra-acked maxima of the current and the previous half window (bytes). */
  #extraAcked0 = 0;
  #extraAcked1 = 0;
  /** Which of the two is current (0 or 1). */
  #extraAckedIdx = 0;
  /** Rounds into the current half window. */
  #extraAckedRounds = 0;
  /** Start of the ACK aggregation epoch (ms) and bytes ACKed since. */
  #ackEpochStamp = 0;
  #ackEpochAcked = 0;

  /** A BBR instance (`seed` picks the first ProbeBW phase); call `init` per connection. */
  constructor(seed = 1) {
    this.#rng = new SeededRandom(seed);
    this.init(DEFAULT_SEND_MSS, 0);
  }

  /** Congestion window in bytes. */
  get cwnd(): number {
    return Math.floor(this.#cwnd);
  }

  /** BBR keeps no ssthresh: always {@link INFINITE_SSTHRESH}. */
  get ssthresh(): number {
    return INFINITE_SSTHRESH;
  }

  /** SMSS in bytes. */
  get mss(): number {
    return this.#mss;
  }

  /** Startup is BBR's slow start. */
  get inSlowStart(): boolean {
    return this.#state === BBR_STARTUP;
  }

  /** Pacing rate (bytes/ms). */
  get pacingRate(): number {
    return this.#pacingRate;
  }

  /** One of the `BBR_*` states. */
  get state(): number {
    return this.#state;
  }

  /** The bottleneck bandwidth estimate (bytes/ms; 0 before a sample). */
  get btlBw(): number {
    return this.btlBwFilter.best;
  }

  /** The round-trip propagation estimate (ms; Infinity before a sample). */
  get rtProp(): number {
    return this.#rtProp;
  }

  /** The pacing gain in use. */
  get pacingGain(): number {
    return this.#pacingGain;
  }

  /** Startup found the pipe full. */
  get filledPipe(): boolean {
    return this.#filledPipe;
  }

  /** The ACK-aggregation estimate: the most data ACKed beyond BtlBw's share, 10 rounds (bytes). */
  get extraAcked(): number {
    return this.#extraAcked0 > this.#extraAcked1 ? this.#extraAcked0 : this.#extraAcked1;
  }

  /**
   * §4.3.1 initialisation: Startup, cwnd = initial window, pacing at the high gain over the
   * handshake's RTT (`srttMs`), or a nominal 1 ms without one.
   *
   * @throws {RangeError} if `mss` is not a positive integer.
   */
  init(mss: number, nowMs: number, srttMs = 0): void {
    checkMss(mss);
    this.#mss = mss;
    this.#cwnd = initialWindowBytes(mss);
    this.btlBwFilter.clear();
    this.rounds.count = 0;
    this.rounds.restart(0);
    this.#rtProp = Infinity;
    this.#rtPropStamp = nowMs;
    this.#rtPropExpired = false;
    this.#filledPipe = false;
    this.#fullBw = 0;
    this.#fullBwCount = 0;
    this.#priorCwnd = 0;
    this.#idleRestart = false;
    this.#conservation = false;
    this.#inRecovery = false;
    this.#probeRttDoneStamp = 0;
    this.#probeRttRoundDone = false;
    this.#extraAcked0 = 0;
    this.#extraAcked1 = 0;
    this.#extraAckedIdx = 0;
    this.#extraAckedRounds = 0;
    this.#ackEpochStamp = nowMs;
    this.#ackEpochAcked = 0;
    this.#enterStartup();
    // BBRInitPacingRate: nominal bandwidth = initial window over SRTT (or 1 ms).
    this.#pacingRate = (BBR_HIGH_GAIN * this.#cwnd) / (srttMs > 0 ? srttMs : 1);
  }

  /** Change SMSS. */
  setMss(mss: number): void {
    checkMss(mss);
    this.#mss = mss;
    if (this.#cwnd < mss) this.#cwnd = mss;
  }

  /** §4.1/§4.2 BBRUpdateOnACK: the model, the state machine, then rate and window. */
  onAck(s: AckSample): void {
    this.#updateBtlBw(s);
    this.#updateAckAggregation(s);
    this.#checkCyclePhase(s);
    this.#checkFullPipe(s);
    this.#checkDrain(s);
    this.#updateRtProp(s);
    this.#checkProbeRtt(s);
    this.#setPacingRate(this.#pacingGain);
    this.#setCwnd(s);
  }

  // ---- the model ---------------------------------------------------------------------------

  #updateBtlBw(s: AckSample): void {
    this.rounds.update(s);
    if (this.#conservation && this.rounds.count > this.#conservationRound) {
      this.#conservation = false; // §4.2.3.4: conservation lasts one round
    }
    const rate = s.deliveryRate;
    if (rate < 0) return;
    if (rate >= this.btlBw || !s.isAppLimited) this.btlBwFilter.update(rate, this.rounds.count);
  }

  /**
   * The windowed maximum of data ACKed beyond what BtlBw delivers over the ACK epoch (Linux
   * `bbr_update_ack_aggregation`): an epoch restarts whenever ACKs fall behind BtlBw's pace.
   */
  #updateAckAggregation(s: AckSample): void {
    const acked = s.deliveredBytes;
    if (acked <= 0 || s.deliveryRate < 0 || s.intervalMs <= 0) return;
    if (this.rounds.roundStart && ++this.#extraAckedRounds >= EXTRA_ACKED_WINDOW_ROUNDS) {
      this.#extraAckedRounds = 0;
      this.#extraAckedIdx ^= 1;
      if (this.#extraAckedIdx === 0) this.#extraAcked0 = 0;
      else this.#extraAcked1 = 0;
    }
    let expected = this.btlBw * (s.nowMs - this.#ackEpochStamp);
    if (
      this.#ackEpochAcked <= expected ||
      this.#ackEpochAcked + acked >= ACK_EPOCH_RESET_SEGMENTS * this.#mss
    ) {
      this.#ackEpochAcked = 0;
      this.#ackEpochStamp = s.nowMs;
      expected = 0;
    }
    this.#ackEpochAcked += acked;
    let extra = this.#ackEpochAcked - expected;
    if (extra > this.#cwnd) extra = this.#cwnd;
    if (this.#extraAckedIdx === 0) {
      if (extra > this.#extraAcked0) this.#extraAcked0 = extra;
    } else if (extra > this.#extraAcked1) this.#extraAcked1 = extra;
  }

  /** The cwnd allowance for ACK aggregation once the pipe is full (Linux `bbr_ack_aggregation_cwnd`). */
  #aggregationCwnd(): number {
    if (!this.#filledPipe) return 0;
    const extra = this.extraAcked;
    const cap = this.btlBw * EXTRA_ACKED_MAX_MS;
    return extra < cap ? extra : cap;
  }

  #updateRtProp(s: AckSample): void {
    const now = s.nowMs;
    this.#rtPropExpired = now > this.#rtPropStamp + RTPROP_FILTER_MS;
    if (s.rttMs >= 0 && (s.rttMs <= this.#rtProp || this.#rtPropExpired)) {
      this.#rtProp = s.rttMs;
      this.#rtPropStamp = now;
    }
  }

  /** §4.2.3.2 BBRInflight: `gain` × BDP plus three send quanta. */
  #inflight(gain: number): number {
    if (this.#rtProp === Infinity) return initialWindowBytes(this.#mss);
    const bdp = this.btlBw * this.#rtProp;
    return gain * bdp + 3 * this.#sendQuantum();
  }

  /** §4.2.2 send quantum: 1 ms at the pacing rate, 1–2 segments when slow, at most 64 KB. */
  #sendQuantum(): number {
    const rate = this.#pacingRate;
    if (rate < 150) return this.#mss; // 1.2 Mbit/s
    if (rate < 3000) return 2 * this.#mss; // 24 Mbit/s
    const q = rate * 1;
    return q < 65536 ? q : 65536;
  }

  // ---- the state machine -------------------------------------------------------------------

  #enterStartup(): void {
    this.#state = BBR_STARTUP;
    this.#pacingGain = BBR_HIGH_GAIN;
    this.#cwndGain = BBR_HIGH_GAIN;
  }

  #checkFullPipe(s: AckSample): void {
    if (this.#filledPipe || !this.rounds.roundStart || s.isAppLimited) return;
    const bw = this.btlBw;
    if (bw >= this.#fullBw * FULL_BW_GROWTH) {
      this.#fullBw = bw;
      this.#fullBwCount = 0;
      return;
    }
    if (++this.#fullBwCount >= FULL_BW_ROUNDS) this.#filledPipe = true;
  }

  #checkDrain(s: AckSample): void {
    if (this.#state === BBR_STARTUP && this.#filledPipe) {
      this.#state = BBR_DRAIN;
      this.#pacingGain = 1 / BBR_HIGH_GAIN;
      this.#cwndGain = BBR_HIGH_GAIN;
    }
    if (this.#state === BBR_DRAIN && s.inflight <= this.#inflight(1)) {
      this.#enterProbeBw(s.nowMs);
    }
  }

  #enterProbeBw(nowMs: number): void {
    this.#state = BBR_PROBE_BW;
    this.#pacingGain = 1;
    this.#cwndGain = PROBE_BW_CWND_GAIN;
    // §4.3.4.4: a random phase, but not the 0.75 one.
    this.#cycleIndex = BBR_PACING_GAIN_CYCLE.length - 1 - this.#rng.nextInt(7);
    this.#advanceCyclePhase(nowMs);
  }

  #advanceCyclePhase(nowMs: number): void {
    this.#cycleStamp = nowMs;
    this.#cycleIndex = (this.#cycleIndex + 1) % BBR_PACING_GAIN_CYCLE.length;
    this.#pacingGain = BBR_PACING_GAIN_CYCLE[this.#cycleIndex];
  }

  #checkCyclePhase(s: AckSample): void {
    if (this.#state !== BBR_PROBE_BW) return;
    const full = s.nowMs - this.#cycleStamp > this.#rtProp;
    const gain = this.#pacingGain;
    let next: boolean;
    if (gain === 1) next = full;
    else if (gain > 1) next = full && (s.lostBytes > 0 || s.priorInflight >= this.#inflight(gain));
    else next = full || s.priorInflight <= this.#inflight(1);
    if (next) this.#advanceCyclePhase(s.nowMs);
  }

  #checkProbeRtt(s: AckSample): void {
    const now = s.nowMs;
    if (this.#state !== BBR_PROBE_RTT && this.#rtPropExpired && !this.#idleRestart) {
      this.#state = BBR_PROBE_RTT;
      this.#pacingGain = 1;
      this.#cwndGain = 1;
      this.#saveCwnd();
      this.#probeRttDoneStamp = 0;
    }
    if (this.#state === BBR_PROBE_RTT) {
      const minPipe = MIN_PIPE_CWND_SEGMENTS * this.#mss;
      if (this.#probeRttDoneStamp === 0 && s.inflight <= minPipe) {
        this.#probeRttDoneStamp = now + PROBE_RTT_DURATION_MS;
        this.#probeRttRoundDone = false;
        this.rounds.restart(s.delivered);
      } else if (this.#probeRttDoneStamp !== 0) {
        if (this.rounds.roundStart) this.#probeRttRoundDone = true;
        if (this.#probeRttRoundDone && now > this.#probeRttDoneStamp) {
          this.#rtPropStamp = now;
          this.#restoreCwnd();
          if (this.#filledPipe) this.#enterProbeBw(now);
          else this.#enterStartup();
        }
      }
    }
    this.#idleRestart = false;
  }

  // ---- rate and window ---------------------------------------------------------------------

  /** §4.2.1: pace at gain × BtlBw (never below the initial rate before the pipe fills). */
  #setPacingRate(gain: number): void {
    const bw = this.btlBw;
    if (bw <= 0) return;
    const rate = gain * bw;
    if (this.#filledPipe || rate > this.#pacingRate) this.#pacingRate = rate;
  }

  /** §4.2.3: cwnd toward `cwnd_gain × BDP`, with recovery and ProbeRTT modulation. */
  #setCwnd(s: AckSample): void {
    const mss = this.#mss;
    const acked = s.deliveredBytes;
    const target = this.#inflight(this.#cwndGain) + this.#aggregationCwnd();
    let cwnd = this.#cwnd;
    if (this.#inRecovery) {
      // §4.2.3.4 BBRModulateCwndForRecovery.
      if (s.lostBytes > 0) cwnd = cwnd - s.lostBytes > mss ? cwnd - s.lostBytes : mss;
      if (this.#conservation) {
        const c = s.inflight + acked;
        if (cwnd < c) cwnd = c;
      }
    }
    if (!this.#conservation) {
      if (this.#filledPipe) {
        cwnd = cwnd + acked < target ? cwnd + acked : target;
      } else if (cwnd < target || s.delivered < initialWindowBytes(mss)) {
        cwnd += acked;
      }
      const minPipe = MIN_PIPE_CWND_SEGMENTS * mss;
      if (cwnd < minPipe) cwnd = minPipe;
    }
    if (this.#state === BBR_PROBE_RTT) {
      const minPipe = MIN_PIPE_CWND_SEGMENTS * mss;
      if (cwnd > minPipe) cwnd = minPipe;
    }
    this.#cwnd = cwnd;
  }

  #saveCwnd(): void {
    const c = this.#cwnd;
    if (!this.#inRecovery && this.#state !== BBR_PROBE_RTT) this.#priorCwnd = c;
    else if (c > this.#priorCwnd) this.#priorCwnd = c;
  }

  #restoreCwnd(): void {
    if (this.#cwnd < this.#priorCwnd) this.#cwnd = this.#priorCwnd;
  }

  // ---- sender events -----------------------------------------------------------------------

  /** §4.2.3.4: recovery starts: cwnd = what is in flight plus one segment, conservation. */
  onCongestionEvent(inflightBytes: number, _nowMs: number): void {
    this.#saveCwnd();
    this.#inRecovery = true;
    this.#cwnd = inflightBytes + this.#mss;
    this.#conservation = true;
    this.#conservationRound = this.rounds.count;
  }

  /** BBR sets cwnd itself: ignored. */
  setCwnd(_bytes: number): void {}

  /** Recovery ended: conservation off, cwnd restored. */
  onRecoveryEnd(_nowMs: number): void {
    this.#inRecovery = false;
    this.#conservation = false;
    this.#restoreCwnd();
  }

  /** RTO: cwnd = one segment (restored at the end of recovery); Startup's count restarts. */
  onRetransmitTimeout(_inflightBytes: number, _nowMs: number): void {
    this.#saveCwnd();
    this.#inRecovery = true;
    this.#conservation = false;
    this.#cwnd = this.#mss;
    this.#fullBw = 0;
    this.#fullBwCount = 0;
  }

  /** §4.2.4 restart from idle: pace at BtlBw in ProbeBW; ProbeRTT is not entered now. */
  onIdleRestart(_nowMs: number): void {
    this.#idleRestart = true;
    if (this.#state === BBR_PROBE_BW) this.#setPacingRate(1);
  }

  /** A spurious recovery: cwnd back to what it was. */
  undoReduction(_nowMs: number): boolean {
    if (!this.#inRecovery && this.#priorCwnd === 0) return false;
    this.#inRecovery = false;
    this.#conservation = false;
    this.#restoreCwnd();
    return true;
  }
}
