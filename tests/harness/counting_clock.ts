/**
 * The real clock, counting the times it is read: `nowMs()` outside a tick and `beginTick()`
 * without a time (each a read of the real time), not the tick's answers nor
 * `beginTickAtLast()`.
 *
 * @module
 */

import { MonotonicClock } from "../../core/clock.ts";

/** A {@link MonotonicClock} that counts its reads of the real time in {@link CountingClock.reads}. */
export class CountingClock extends MonotonicClock {
  /** Reads of the real time so far. */
  reads = 0;
  #inTick = false;
  /** The time; a read when outside a tick. */
  override nowMs(): number {
    if (!this.#inTick) this.reads++;
    return super.nowMs();
  }
  /** The time into `out[0]`; a read when outside a tick. */
  override readMs(out: Float64Array): void {
    if (!this.#inTick) this.reads++;
    super.readMs(out);
  }
  /** A tick begins; a read when no time is given. */
  override beginTick(nowMs?: number): void {
    if (nowMs === undefined) this.reads++;
    this.#inTick = true;
    super.beginTick(nowMs);
  }
  /** A tick begins at the last answer: no read. */
  override beginTickAtLast(): void {
    this.#inTick = true;
    super.beginTickAtLast();
  }
  /** The tick ended. */
  override endTick(): void {
    this.#inTick = false;
    super.endTick();
  }
}
