/**
 * A monotonic time source for loop tests: every read moves the time on by a fixed step, so a
 * loop's polls and yields are counted in reads, not in real time, and a loaded machine's
 * preemptions do not show.
 *
 * @module
 */

import type { MonotonicSource } from "../../core/clock.ts";

/** A time source that moves `stepMs` on at every read. */
export class SteppingSource implements MonotonicSource {
  #nowMs = performance.now();
  /** @param stepMs How far each read moves the time on (ms). */
  constructor(readonly stepMs: number) {}
  /** The time. */
  readMs(out: Float64Array): void {
    this.#nowMs += this.stepMs;
    out[0] = this.#nowMs;
  }
}
