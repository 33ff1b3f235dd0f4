/**
 * A token bucket: `ratePerSecond` tokens a second up to `burst`, one taken per event. The
 * rate limit of ICMP errors (Linux `icmp_msgs_per_sec` / `icmp_msgs_burst`) for both families.
 *
 * @module
 */

import type { Clock } from "./clock.ts";

/**
 * A token bucket on a clock; starts full.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "./clock.ts";
 * const bucket = new TokenBucket(new VirtualClock(), 1000, 50);
 * if (bucket.take()) console.log("send");
 * ```
 */
export class TokenBucket {
  readonly #clock: Clock;
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #atMs: number;

  /** A full bucket of `burst` tokens refilled at `ratePerSecond`. */
  constructor(clock: Clock, ratePerSecond: number, burst: number) {
    this.#clock = clock;
    this.#perMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#tokens = burst;
    this.#atMs = clock.nowMs();
  }

  /** Take one token: true when there was one. */
  take(): boolean {
    const now = this.#clock.nowMs();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#atMs) * this.#perMs);
    this.#atMs = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
