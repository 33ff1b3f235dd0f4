/**
 * Clocks. Every layer reads time through a {@link Clock} handed to it at construction, so
 * simulated tests can drive the whole stack with a {@link VirtualClock}.
 *
 * @module
 */

/** A source of monotonic time in milliseconds (fractional allowed). */
export interface Clock {
  /** Monotonic milliseconds since an arbitrary origin. */
  nowMs(): number;
}

/**
 * The real monotonic clock (`performance.now()`).
 *
 * @example
 * ```ts
 * const t0 = new MonotonicClock().nowMs();
 * ```
 */
export class MonotonicClock implements Clock {
  /** Milliseconds from `performance.now()`. */
  nowMs(): number {
    return performance.now();
  }
}

/**
 * A clock that only moves when told to: the heart of deterministic simulated tests.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * clock.advance(200);
 * clock.nowMs(); // 200
 * ```
 */
export class VirtualClock implements Clock {
  #now: number;
  /** Start at `startMs` (default 0). */
  constructor(startMs = 0) {
    this.#now = startMs;
  }
  /** The current virtual time. */
  nowMs(): number {
    return this.#now;
  }
  /** Move time forward by `ms` (must be ≥ 0). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError("VirtualClock.advance: ms must be >= 0");
    this.#now += ms;
  }
  /** Jump to an absolute time that is not in the past. */
  set(ms: number): void {
    if (ms < this.#now) throw new RangeError("VirtualClock.set: time cannot go backwards");
    this.#now = ms;
  }
}
