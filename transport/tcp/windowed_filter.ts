/**
 * A windowed min or max filter (Kathleen Nichols' algorithm, as used by Linux's `win_minmax`
 * and BBR): the best value seen within the last `window` units of time (ms, or rounds), kept
 * as three samples — the best, the second best after it and the third — so that when the
 * best ages out the next one is ready. O(1) per sample; the samples' storage is made by the
 * first one (most connections of a crowd never take any), no allocation after that.
 *
 * @module
 */

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
  /** Values in [0, 3), their times in [3, 6); made by the first sample. */
  #vt: Float64Array | null = null;
  #empty = true;

  /** A filter keeping the `kind` over the last `window` units. */
  constructor(kind: "min" | "max", window: number) {
    this.#max = kind === "max";
    this.window = window;
  }

  /** The filter's value (0 before the first sample). */
  get best(): number {
    return this.#empty ? 0 : this.#vt![0];
  }

  /** True before any sample (or after {@link WindowedFilter.reset} without a value). */
  get empty(): boolean {
    return this.#empty;
  }

  /** Start over with `value` at `time`. */
  reset(value: number, time: number): void {
    const v = this.#vt ??= new Float64Array(6);
    v[0] = v[1] = v[2] = value;
    v[3] = v[4] = v[5] = time;
    this.#empty = false;
  }

  /** Forget every sample. */
  clear(): void {
    this.#empty = true;
  }

  /** Take `value` measured at `time` (times never go back); returns the new best. */
  update(value: number, time: number): number {
    const v = this.#vt;
    // v[0..2] are the values, v[3..5] their times.
    if (v === null || this.#empty || this.#better(value, v[0]) || time - v[5] > this.window) {
      this.reset(value, time);
      return value;
    }
    if (this.#better(value, v[1])) {
      v[1] = v[2] = value;
      v[4] = v[5] = time;
    } else if (this.#better(value, v[2])) {
      v[2] = value;
      v[5] = time;
    }
    // Age the samples out as the window slides.
    const dt = time - v[3];
    if (dt > this.window) {
      v[0] = v[1];
      v[3] = v[4];
      v[1] = v[2];
      v[4] = v[5];
      v[2] = value;
      v[5] = time;
      if (time - v[3] > this.window) {
        v[0] = v[1];
        v[3] = v[4];
        v[1] = v[2];
        v[4] = v[5];
      }
    } else if (v[1] === v[0] && dt > this.window / 4) {
      // A quarter of the window passed without a better value: take a fresh second best.
      v[1] = v[2] = value;
      v[4] = v[5] = time;
    } else if (v[2] === v[1] && dt > this.window / 2) {
      v[2] = value;
      v[5] = time;
    }
    return v[0];
  }

  #better(a: number, b: number): boolean {
    return this.#max ? a >= b : a <= b;
  }
}
