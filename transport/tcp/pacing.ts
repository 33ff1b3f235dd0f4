/**
 * Pacing: a per-connection rate that spaces transmissions out, honoured without a timer per
 * segment. The pacer keeps the earliest time the next transmission may leave (Linux's
 * `tcp_wstamp_ns`); after each transmission it moves that time on by `bytes / rate`. When
 * output finds the release time in the future it stops, and one timer per connection — on
 * the stack's timer wheel — restarts it then.
 *
 * Bursts are sized to the rate (Linux `tcp_tso_autosize`): a TSO super-segment carries about
 * one millisecond of data at the pacing rate (at least two segments, at most what the NIC
 * takes), so a fast flow still hands the NIC large segments and a slow one is spread out.
 *
 * Timers fire late — the event loop waits in whole milliseconds when idle, a busy loop turns
 * only after its tick — so time not used is credited, up to one burst horizon
 * ({@link PACING_BURST_MS}): a link without TSO still sends a millisecond's worth of segments
 * per wake-up and the average rate is kept (the role of Linux's jitter credit and fq's
 * quantum); a burst never exceeds about two horizons of data.
 *
 * When the pacer alone was holding data back ({@link Pacer.held}: the windows would have let
 * it go), the lateness of the wake-up is the event loop's, not a pause of the sender's, and
 * is credited up to {@link PACING_HELD_CREDIT_MS}. Otherwise a loop whose tick is longer than
 * the horizon — one busy with its own transmissions (1.3–2 ms per tick in `bench:cc` without
 * loss) — sends one horizon of data per tick and paces below its rate; BBR then measures that
 * lower rate as the bottleneck's and paces at it, and the flow settles far below the path
 * (`tests/sim/tcp_pacing_slow_loop_test.ts`: 20 % of the link with a 3 ms tick). Linux needs no
 * such credit: its pacing timer is an hrtimer that fires on time whatever the sender does.
 *
 * Rates are bytes per ms; 0 means "not paced".
 *
 * @module
 */

import { DOUBLE_ZERO } from "../../core/v8_shapes.ts";

/** The pacing horizon of one TSO burst in ms (Linux: rate >> sk_pacing_shift, 2^-10 s). */
export const PACING_BURST_MS = 1;
/**
 * Most lateness credited to a pacer that was holding data back (ms): a loop that turns this
 * slowly still keeps the rate; a longer stall (a GC pause) sends at most this much at once,
 * within the congestion window.
 */
export const PACING_HELD_CREDIT_MS = 10;
/** Fewest segments in a paced burst (Linux tcp_min_tso_segs). */
const MIN_BURST_SEGMENTS = 2;

/**
 * One connection's pacer.
 *
 * @example
 * ```ts
 * const p = new Pacer();
 * p.rateBytesPerMs = 1250; // 10 Mbit/s
 * p.burstBytes(1448, 65160); // 2896: 1 ms is 1250 bytes, two segments at least
 * p.onSent(2896, 100); // first send: 1 ms of credit, 2.3 ms of data
 * p.releaseMs; // 101.3168
 * p.ready(101); // false: wait until 101.3
 * ```
 */
export class Pacer {
  /**
   * Pacing rate in bytes per ms; 0: not paced. A double from the first object (DOUBLE_ZERO,
   * then +0 in the constructor): every connection's first rate is fractional, so an idle one
   * held its heap number already, and one made first no longer has a map of its own that the
   * send path's code met mid-run (bench/README.md, `deopt11l`).
   */
  rateBytesPerMs: number = DOUBLE_ZERO;
  /**
   * Earliest time the next transmission may leave (ms). A double from the first object, as the
   * rate: the first paced send makes it fractional (`releaseMs + bytes / rate`), which gave
   * every connection's pacer a new map in its first ACKs (bench/README.md, `uu31`).
   */
  releaseMs: number = DOUBLE_ZERO;
  /**
   * The sender's last output pass stopped on this pacer alone, with data the windows would
   * let go: until the next pass, lateness is credited up to {@link PACING_HELD_CREDIT_MS}.
   */
  held = false;

  /**
   * The rate, release time and send time start as doubles holding -0 and are set to +0 here
   * (mutable from the first).
   */
  constructor() {
    this.rateBytesPerMs = 0;
    this.releaseMs = 0;
    this.sentAtMs = 0;
  }

  /** True when a transmission may leave at `nowMs`. */
  ready(nowMs: number): boolean {
    return this.rateBytesPerMs <= 0 || this.releaseMs <= nowMs;
  }

  /**
   * The time {@link Pacer.onSentAt} takes as the send's (ms). A field the sender sets, not an
   * argument: a fractional time passed to a call V8 does not inline is a new heap number per
   * segment, one stored into this (double) field is not (bench/README.md, "box40").
   */
  sentAtMs: number = DOUBLE_ZERO;

  /** `bytes` left at `nowMs`: move the release time on. */
  onSent(bytes: number, nowMs: number): void {
    this.sentAtMs = nowMs;
    this.onSentAt(bytes);
  }

  /**
   * {@link Pacer.onSent} at {@link Pacer.sentAtMs}: the per-segment form.
   *
   * @example
   * ```ts
   * const p = new Pacer();
   * p.rateBytesPerMs = 1448;
   * p.sentAtMs = 100.5;
   * p.onSentAt(2896);
   * p.releaseMs; // 101.5: 1 ms of credit taken, 2 ms of data
   * ```
   */
  onSentAt(bytes: number): void {
    const rate = this.rateBytesPerMs;
    if (rate <= 0) return;
    const floor = this.sentAtMs - (this.held ? PACING_HELD_CREDIT_MS : PACING_BURST_MS);
    // Math.max, not a ternary: V8's mid tier keeps a value merged from two branches tagged, a
    // new heap number per paced send.
    this.releaseMs = Math.max(this.releaseMs, floor) + bytes / rate;
  }

  /**
   * Largest burst (bytes, a multiple of `mss`) to hand the NIC at once: about
   * {@link PACING_BURST_MS} of data at the rate, at least two segments, at most `tsoMax`
   * (0 when the NIC does not segment: one segment). Unpaced: `tsoMax`.
   */
  burstBytes(mss: number, tsoMax: number): number {
    if (tsoMax <= 0) return mss;
    const rate = this.rateBytesPerMs;
    if (rate <= 0) return tsoMax;
    let segs = Math.floor((rate * PACING_BURST_MS) / mss);
    if (segs < MIN_BURST_SEGMENTS) segs = MIN_BURST_SEGMENTS;
    const bytes = segs * mss;
    return bytes < tsoMax ? bytes : tsoMax;
  }
}
