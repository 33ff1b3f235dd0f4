/**
 * Token buckets per key (a source address, say) in a fixed table: `rate` tokens per second up
 * to `burst` for each key, so one busy key is held back while the others are not. The table
 * never grows (a flood of keys costs nothing more than a few), so keys must share buckets;
 * two choices keep an innocent key from paying for a busy one it collides with:
 *
 * - every key maps to **two** buckets through two hashes keyed with secrets drawn at
 *   construction (so nobody outside can aim a key at someone else's buckets);
 * - a take charges **both** buckets (each one that holds a token), and is refused only when
 *   **both** are empty.
 *
 * A key alone in its buckets gets exactly `rate` and `burst`. A key is refused for somebody
 * else's traffic only if both its buckets are drained by other keys: with `b` busy keys in `n`
 * buckets about `(2b/n)²` of the time (200 flooding sources in 16,384 buckets: 0.06 %, where
 * one unkeyed bucket per key gave 1.2 %). This is the conservative-update count-min idea turned
 * into token buckets. The hash is a keyed integer mixer, not a cryptographic MAC: it hides the
 * layout from a source that cannot read our memory, at a few multiplications per take.
 * Allocation-free after construction.
 *
 * @module
 */

/** Options of a {@link KeyedRateLimiter}. */
export interface KeyedRateLimiterOptions {
  /** Buckets in the table, a power of two [1024]. */
  slots?: number;
  /** Tokens added per second, per key. */
  ratePerSecond: number;
  /** Most tokens a key can save (at least 1). */
  burst: number;
  /** The two hash secrets (tests pin them; default: drawn from `crypto.getRandomValues`). */
  secrets?: readonly [number, number];
}

/** murmur3's 32-bit finaliser: every input bit reaches every output bit. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A table of token buckets, two per key.
 *
 * @example
 * ```ts
 * import { KeyedRateLimiter } from "./keyed_rate_limiter.ts";
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
  readonly #secret0: number;
  readonly #secret1: number;

  /**
   * An empty table (every bucket full).
   *
   * @throws {RangeError} for a bad size, rate or burst.
   */
  constructor(opts: KeyedRateLimiterOptions) {
    const slots = opts.slots ?? 1024;
    if (!(slots >= 2 && slots <= 1 << 24 && (slots & (slots - 1)) === 0)) {
      throw new RangeError("KeyedRateLimiter: slots must be a power of two in 2..2^24");
    }
    if (!(opts.ratePerSecond > 0) || !(opts.burst >= 1)) {
      throw new RangeError("KeyedRateLimiter: rate must be > 0 and burst >= 1");
    }
    this.ratePerSecond = opts.ratePerSecond;
    this.burst = opts.burst;
    this.#tokens = new Float64Array(slots).fill(opts.burst);
    this.#lastMs = new Float64Array(slots).fill(-Infinity);
    this.#mask = slots - 1;
    const secrets = opts.secrets ?? crypto.getRandomValues(new Uint32Array(2));
    this.#secret0 = secrets[0] >>> 0;
    this.#secret1 = secrets[1] >>> 0;
  }

  /**
   * The bucket `which` (0 or 1) of the key (`key`, `keyHi`): the low bits of a hash keyed by
   * that secret. Both words pass through the keyed mixer: two keys that share one word (say an
   * IPv6 /64 chosen to match a client's in one half) collide only as often as any two keys.
   */
  slotOf(key: number, which: 0 | 1, keyHi = 0): number {
    const s = which === 0 ? this.#secret0 : this.#secret1;
    return fmix32(fmix32((key ^ s) >>> 0) ^ keyHi ^ s ^ 0x9e3779b9) & this.#mask;
  }

  /** Refill bucket `i` up to `nowMs`; its tokens. */
  #refill(i: number, nowMs: number): number {
    let t = this.#tokens[i];
    const last = this.#lastMs[i];
    if (nowMs > last) {
      t += ((nowMs - last) * this.ratePerSecond) / 1000;
      if (t > this.burst) t = this.burst;
      this.#tokens[i] = t;
      this.#lastMs[i] = nowMs;
    }
    return t;
  }

  /**
   * Take a token for the key (`key`, and `keyHi` for a 64-bit key; 32-bit words) at `nowMs`:
   * false (and counted in {@link refused}) when both of its buckets are empty.
   */
  take(key: number, nowMs: number, keyHi = 0): boolean {
    const i = this.slotOf(key, 0, keyHi);
    const j = this.slotOf(key, 1, keyHi);
    const ti = this.#refill(i, nowMs);
    const tj = j === i ? ti : this.#refill(j, nowMs);
    if (ti < 1 && tj < 1) {
      this.refused++;
      return false;
    }
    if (ti >= 1) this.#tokens[i] = ti - 1;
    if (j !== i && tj >= 1) this.#tokens[j] = tj - 1;
    return true;
  }
}
