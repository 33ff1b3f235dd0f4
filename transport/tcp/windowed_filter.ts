/**
 * A windowed min or max filter (Kathleen Nichols' algorithm, as used by Linux's `win_minmax`
 * and BBR): the best value seen within the last `window` units of time (ms, or rounds), kept
 * as three samples — the best, the second best after it and the third — so that when the
 * best ages out the next one is ready. O(1) per sample, no allocation.
 *
 * @module
 */

import { DOUBLE_ZERO } from "../../core/v8_shapes.ts";

/**
 * The running min (`"min"`) or max (`"max"`) of samples over a sliding window.
 *
 * @example
 * ```ts
 * const f = new WindowedFilter("max", 10); // over 10 rounds
 * f.update(100, 0);
 * f.update(80, 5);
 * f.best; // 100
 * f.update(70, 11); // the 100 from round 0 aged out
 * f.best; // 80
 * ```
 */
export class WindowedFilter {
  /** Length of the window, in the units of the `time` arguments. */
  window: number;
  readonly #max: boolean;
  // The best value, the second and the third, and their times: plain fields (a typed array
  // per filter cost a typed-array object, an array buffer and a backing store each — more
  // memory than the six numbers, and an allocation on every short connection's first sample).
  /**
   * The filter's value (0 before the first sample; 0 while empty, see clear: no merge, which
   * V8's mid tier would box). Read it, never write it. A field, not a getter: a getter V8 does
   * not inline returns a fractional value as a new heap number (RACK's min_RTT, read per ACK).
   */
  // The six numbers start as doubles (DOUBLE_ZERO): they hold fractional ms, so a filter made
  // with small-integer fields changed map at its first sample, and RACK's shared empty filter
  // (made at load, never written) kept the old, deprecated map; TurboFan then gave up every
  // compile of the per-ACK code that reads it ("Maps became deprecated during optimization")
  // and left it in the mid tier, retrying all run long (bench/README.md, `tx13e`).
  best = DOUBLE_ZERO;
  #v1 = DOUBLE_ZERO;
  #v2 = DOUBLE_ZERO;
  #t0 = DOUBLE_ZERO;
  #t1 = DOUBLE_ZERO;
  #t2 = DOUBLE_ZERO;
  #empty = true;

  /** A filter keeping the `kind` over the last `window` units. */
  constructor(kind: "min" | "max", window: number) {
    this.#max = kind === "max";
    this.window = window;
    this.best = 0; // +0 to readers (a double field keeps its representation for a small integer)
  }

  /** True before any sample (or after {@link WindowedFilter.reset} without a value). */
  get empty(): boolean {
    return this.#empty;
  }

  /** Start over with `value` at `time`. */
  reset(value: number, time: number): void {
    this.#value = value;
    this.#time = time;
    this.#resetToSample();
  }

  /** {@link WindowedFilter.reset} to the sample being taken (`#value` at `#time`). */
  #resetToSample(): void {
    const value = this.#value;
    const time = this.#time;
    this.best = this.#v1 = this.#v2 = value;
    this.#t0 = this.#t1 = this.#t2 = time;
    this.#empty = false;
  }

  /** Forget every sample. */
  clear(): void {
    this.#empty = true;
    this.best = 0;
  }

  /**
   * Take `value` measured at `time` (times never go back); the new best is {@link WindowedFilter.best}.
   * Nothing returned and the comparisons written out: V8 boxes a fractional number a call it
   * does not inline returns, and calls a helper under a branch rather than inlining it.
   */
  update(value: number, time: number): void {
    this.#value = value;
    this.#time = time;
    this.#update();
  }

  /**
   * {@link WindowedFilter.update} with a sample read from a record's fields (`ackRttNewestMs`
   * at `now`: RACK's min_RTT from the scoreboard's ACK record) — no number crosses a call: the
   * sample goes through this filter's fields (a double field is written in place).
   */
  updateFrom(r: { readonly ackRttNewestMs: number; readonly now: number }): void {
    this.#value = r.ackRttNewestMs;
    this.#time = r.now;
    this.#update();
  }

  /** The sample being taken, for {@link WindowedFilter.#update} (begun as doubles). */
  #value: number = DOUBLE_ZERO;
  #time: number = DOUBLE_ZERO;

  #update(): void {
    const value = this.#value;
    const time = this.#time;
    const max = this.#max;
    if (
      this.#empty || (max ? value >= this.best : value <= this.best) ||
      time - this.#t2 > this.window
    ) {
      this.#resetToSample(); // not `reset(value, time)`: two fractions passed, two heap numbers
      return;
    }
    if (max ? value >= this.#v1 : value <= this.#v1) {
      this.#v1 = this.#v2 = value;
      this.#t1 = this.#t2 = time;
    } else if (max ? value >= this.#v2 : value <= this.#v2) {
      this.#v2 = value;
      this.#t2 = time;
    }
    // Age the samples out as the window slides.
    const dt = time - this.#t0;
    if (dt > this.window) {
      this.best = this.#v1;
      this.#t0 = this.#t1;
      this.#v1 = this.#v2;
      this.#t1 = this.#t2;
      this.#v2 = value;
      this.#t2 = time;
      if (time - this.#t0 > this.window) {
        this.best = this.#v1;
        this.#t0 = this.#t1;
        this.#v1 = this.#v2;
        this.#t1 = this.#t2;
      }
    } else if (this.#v1 === this.best && dt > this.window / 4) {
      // A quarter of the window passed without a better value: take a fresh second best.
      this.#v1 = this.#v2 = value;
      this.#t1 = this.#t2 = time;
    } else if (this.#v2 === this.#v1 && dt > this.window / 2) {
      this.#v2 = value;
      this.#t2 = time;
    }
  }
}
