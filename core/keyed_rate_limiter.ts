/**
 * Token buckets per key (a source address, say) in a fixed table: `rate` tokens per second up
 * to `burst` for each key, so one busy key is held back while the others are not. Keys share
 * a bucket when they hash to the same slot (the table never grows: a flood of keys costs
 * nothing more than a few). Allocation-free after construction.
 *
 * @module
 */

/**
 * A table of token buckets indexed by a hash of the key.
 *
 * @example
 * ```ts
 * const perSource = new KeyedRateLimiter({ slots: 1024, ratePerSecond: 100, burst: 10 });
 * perSource.take(0xc6120001, 0); // true (the burst allows 10 at once)
 * ```
 */
export class KeyedRateLimiter {
  /** Tokens added per second, per key. */
  readonly ratePerSecond: number;
  /** Most tokens a key can save. */
  readonly burst: number;
  /** Requests refused. */
  refused = 0;
  readonly #tokens: Float64Array;
  readonly #lastMs: Float64Array;
  readonly #mask: number;

  /**
   * A table of `slots` buckets (a power of two [1024]).
   *
   * @throws {RangeError} for a bad size, rate or burst.
   */
  constructor(opts: { slots?: number; ratePerSecond: number; burst: number }) {
    const slots = opts.slots ?? 1024;
    if (!(slots >= 1 && slots <= 1 << 24 && (slots & (slots - 1)) === 0)) {
      throw new RangeError("KeyedRateLimiter: slots must be a power of two");
    }
    if (!(opts.ratePerSecond > 0) || !(opts.burst >= 1)) {
      throw new RangeError("KeyedRateLimiter: rate must be > 0 and burst >= 1");
    }
    this.ratePerSecond = opts.ratePerSecond;
    this.burst = opts.burst;
    this.#tokens = new Float64Array(slots).fill(opts.burst);
    this.#lastMs = new Float64Array(slots).fill(-Infinity);
    this.#mask = slots - 1;
  }

  /** Take a token for `key` (a 32-bit number) at `nowMs`; false when its bucket is empty. */
  take(key: number, nowMs: number): boolean {
    let h = Math.imul(key ^ (key >>> 16), 0x45d9f3b);
    h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
    const i = (h ^ (h >>> 16)) & this.#mask;
    const last = this.#lastMs[i];
    let t = this.#tokens[i];
    if (nowMs > last) {
      t += ((nowMs - last) * this.ratePerSecond) / 1000;
      if (t > this.burst) t = this.burst;
      this.#lastMs[i] = nowMs;
    }
    if (t < 1) {
      this.#tokens[i] = t;
      this.refused++;
      return false;
    }
    this.#tokens[i] = t - 1;
    return true;
  }
}
