/**
 * HyStart++ (RFC 9406): leave slow start before it overshoots, on the first sign of a
 * queue — a round's minimum RTT rising above the previous round's by `RttThresh`
 * (§4.2: one eighth of it, clamped to [4, 16] ms). Slow start then continues as Conservative
 * Slow Start (CSS), growing a quarter as fast, for at most 5 rounds: if the RTT falls back
 * below the baseline the rise was noise and slow start resumes; otherwise CSS ends in
 * congestion avoidance with ssthresh = cwnd.
 *
 * Rounds are counted in delivered bytes (`RoundCounter`'s rule, congestion_control.ts); the
 * algorithm using it asks {@link HyStartPP.growth} how much of an ACK's slow-start increase to
 * apply and {@link HyStartPP.leaveSlowStart} whether to set ssthresh = cwnd now.
 *
 * Every short connection makes one (at its first slow-start ACK), so it is one small object
 * of small-integer fields: RTTs in whole microseconds (as Linux keeps them), "none" as
 * {@link NO_RTT_US} rather than Infinity, the round's end inline rather than a
 * `RoundCounter` of its own. A double field (an RTT in ms, Infinity) would be a 16-byte box
 * per object, made with it (192 B a connection with them, 96 B without).
 *
 * @module
 */

import type { AckSample } from "./congestion_control.ts";
import { DOUBLE_ZERO } from "../../../core/v8_shapes.ts";

/** §4.3 MIN_RTT_THRESH (4 ms, in µs). */
const MIN_RTT_THRESH_US = 4000;
/** §4.3 MAX_RTT_THRESH (16 ms, in µs). */
const MAX_RTT_THRESH_US = 16000;
/** "No RTT" (the RFC's infinity): above every RTT kept, a small integer (~1,074 s in µs). */
export const NO_RTT_US = 0x3fffffff;
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
  /** A round ends once an ACK's `priorDelivered` reaches this (as `RoundCounter`). */
  #nextRoundDelivered: number = DOUBLE_ZERO; // a delivered total: a double from the start (tx13i)
  /** The last round's minimum RTT (µs). */
  #lastRoundMinRttUs = NO_RTT_US;
  /** This round's minimum RTT so far (µs). */
  #currentRoundMinRttUs = NO_RTT_US;
  #samples = 0;
  /** The round's minimum RTT when CSS began (µs). */
  #cssBaselineMinRttUs = NO_RTT_US;
  #cssRounds = 0;

  /** Start over (a new connection, or slow start again after an RTO). */
  reset(delivered: number): void {
    this.inCss = false;
    this.leaveSlowStart = false;
    this.#nextRoundDelivered = delivered;
    this.#lastRoundMinRttUs = NO_RTT_US;
    this.#currentRoundMinRttUs = NO_RTT_US;
    this.#samples = 0;
    this.#cssBaselineMinRttUs = NO_RTT_US;
    this.#cssRounds = 0;
  }

  /** An ACK in slow start: track rounds and RTTs (§4.2). */
  onAck(s: AckSample): void {
    if (s.priorDelivered >= 0 && s.priorDelivered >= this.#nextRoundDelivered) {
      // A new round (RoundCounter.update's rule).
      this.#nextRoundDelivered = s.delivered;
      this.#lastRoundMinRttUs = this.#currentRoundMinRttUs;
      this.#currentRoundMinRttUs = NO_RTT_US;
      this.#samples = 0;
      if (this.inCss && ++this.#cssRounds >= CSS_ROUNDS) this.leaveSlowStart = true;
    }
    if (s.rttMs < 0) return;
    const rttUs = s.rttMs < NO_RTT_US / 1000 ? Math.round(s.rttMs * 1000) : NO_RTT_US - 1;
    if (rttUs < this.#currentRoundMinRttUs) this.#currentRoundMinRttUs = rttUs;
    this.#samples++;
    if (this.#samples < N_RTT_SAMPLE) return;
    const current = this.#currentRoundMinRttUs;
    if (!this.inCss) {
      const last = this.#lastRoundMinRttUs;
      if (last === NO_RTT_US || current === NO_RTT_US) return;
      // RttThresh = max(MIN_RTT_THRESH, min(lastRoundMinRTT / MIN_RTT_DIVISOR, MAX_RTT_THRESH))
      const eighth = Math.floor(last / MIN_RTT_DIVISOR);
      const thresh = eighth < MIN_RTT_THRESH_US
        ? MIN_RTT_THRESH_US
        : eighth > MAX_RTT_THRESH_US
        ? MAX_RTT_THRESH_US
        : eighth;
      if (current >= last + thresh) {
        this.inCss = true;
        this.exits++;
        this.#cssBaselineMinRttUs = current;
        this.#cssRounds = 0;
      }
    } else if (current < this.#cssBaselineMinRttUs) {
      // §4.2: the RTT came back down: the increase was spurious, resume slow start.
      this.inCss = false;
      this.#cssBaselineMinRttUs = NO_RTT_US;
    }
  }

  /** The share of a slow-start increase to apply: all of it, or a quarter during CSS. */
  growth(increase: number): number {
    return this.inCss ? increase / CSS_GROWTH_DIVISOR : increase;
  }
}
