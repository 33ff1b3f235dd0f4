/**
 * HyStart++ (RFC 9406): leave slow start before it overshoots, on the first sign of a
 * queue — a round's minimum RTT rising above the previous round's by `RttThresh`
 * (§4.2: one eighth of it, clamped to [4, 16] ms). Slow start then continues as Conservative
 * Slow Start (CSS), growing a quarter as fast, for at most 5 rounds: if the RTT falls back
 * below the baseline the rise was noise and slow start resumes; otherwise CSS ends in
 * congestion avoidance with ssthresh = cwnd.
 *
 * Rounds are counted in delivered bytes ({@link RoundCounter}); the algorithm using it asks
 * {@link HyStartPP.growth} how much of an ACK's slow-start increase to apply and
 * {@link HyStartPP.leaveSlowStart} whether to set ssthresh = cwnd now.
 *
 * @module
 */

import { type AckSample, RoundCounter } from "./congestion_control.ts";

/** §4.3 MIN_RTT_THRESH (ms). */
const MIN_RTT_THRESH_MS = 4;
/** §4.3 MAX_RTT_THRESH (ms). */
const MAX_RTT_THRESH_MS = 16;
/** §4.3 MIN_RTT_DIVISOR. */
const MIN_RTT_DIVISOR = 8;
/** §4.3 N_RTT_SAMPLE: RTT samples per round before deciding. */
const N_RTT_SAMPLE = 8;
/** §4.3 CSS_GROWTH_DIVISOR. */
export const CSS_GROWTH_DIVISOR = 4;
/** §4.3 CSS_ROUNDS. */
const CSS_ROUNDS = 5;

/**
 * HyStart++ state of one connection (slow start only).
 *
 * @example
 * ```ts ignore
 * hystart.onAck(sample);                 // every ACK while in slow start
 * cwnd += hystart.growth(increase);      // a quarter of it during CSS
 * if (hystart.leaveSlowStart) ssthresh = cwnd;
 * ```
 */
export class HyStartPP {
  /** In Conservative Slow Start. */
  inCss = false;
  /** Set when CSS completed its rounds: the caller sets ssthresh = cwnd. */
  leaveSlowStart = false;
  /** Times slow start was left early by HyStart++ (statistics). */
  exits = 0;
  readonly #rounds = new RoundCounter();
  #lastRoundMinRtt = Infinity;
  #currentRoundMinRtt = Infinity;
  #samples = 0;
  #cssBaselineMinRtt = Infinity;
  #cssRounds = 0;

  /** Start over (a new connection, or slow start again after an RTO). */
  reset(delivered: number): void {
    this.inCss = false;
    this.leaveSlowStart = false;
    this.#rounds.restart(delivered);
    this.#lastRoundMinRtt = Infinity;
    this.#currentRoundMinRtt = Infinity;
    this.#samples = 0;
    this.#cssBaselineMinRtt = Infinity;
    this.#cssRounds = 0;
  }

  /** An ACK in slow start: track rounds and RTTs (§4.2). */
  onAck(s: AckSample): void {
    if (this.#rounds.update(s)) {
      this.#lastRoundMinRtt = this.#currentRoundMinRtt;
      this.#currentRoundMinRtt = Infinity;
      this.#samples = 0;
      if (this.inCss && ++this.#cssRounds >= CSS_ROUNDS) this.leaveSlowStart = true;
    }
    if (s.rttMs < 0) return;
    if (s.rttMs < this.#currentRoundMinRtt) this.#currentRoundMinRtt = s.rttMs;
    this.#samples++;
    if (this.#samples < N_RTT_SAMPLE) return;
    if (!this.inCss) {
      const last = this.#lastRoundMinRtt;
      if (last === Infinity || this.#currentRoundMinRtt === Infinity) return;
      let thresh = last / MIN_RTT_DIVISOR;
      if (thresh < MIN_RTT_THRESH_MS) thresh = MIN_RTT_THRESH_MS;
      if (thresh > MAX_RTT_THRESH_MS) thresh = MAX_RTT_THRESH_MS;
      if (this.#currentRoundMinRtt >= last + thresh) {
        this.inCss = true;
        this.exits++;
        this.#cssBaselineMinRtt = this.#currentRoundMinRtt;
        this.#cssRounds = 0;
      }
    } else if (this.#currentRoundMinRtt < this.#cssBaselineMinRtt) {
      // §4.2: the RTT came back down: the increase was spurious, resume slow start.
      this.inCss = false;
      this.#cssBaselineMinRtt = Infinity;
    }
  }

  /** The share of a slow-start increase to apply: all of it, or a quarter during CSS. */
  growth(increase: number): number {
    return this.inCss ? increase / CSS_GROWTH_DIVISOR : increase;
  }
}
