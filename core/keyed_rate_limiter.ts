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
 *
 * Allocation-free after construction, and all in 32-bit integers: a bucket holds thousandths
 * of a token (`Int32Array`), refilled per whole millisecond (`rate` thousandths each), its
 * last refill a millisecond count modulo 2³². The same arithmetic in doubles cost two heap
 * numbers (32 B) per take on V8 (`bench/flood_syn_cost.ts`: 35 B per flood SYN).
 *
 * @module
 */

/** Options of a {@link KeyedRateLimiter}. */
export interface KeyedRateLimiterOptions {
  /** Buckets in the table, a power of two [1024]. */
  slots?: number;
  /** Tokens added per second, per key (a whole number, 1..10⁸). */
  ratePerSecond: number;
  /** Most tokens a key can save (a whole number, 1..10⁶). */
  burst: number;
  /** The two hash secrets (tests pin them; default: drawn from `crypto.getRandomValues`). */
  secrets?: readonly [number, number];
}

/**
 * The bucket of the key (`key`, `keyHi`) under `secret` in a table of `mask + 1`: two rounds of
 * murmur3's finaliser (`fmix32`) with the secret mixed in before each, every step a 32-bit
 * integer. Both words pass through the keyed mixer: two keys that share one word (say an IPv6
 * /64 chosen to match a client's in one half) collide only as often as any two keys.
 * `KeyedRateLimiter.takeFor` has the same steps written out.
 */
export function keyedSlot(key: number, keyHi: number, secret: number, mask: number): number {
  const s = secret | 0;
  let h = key ^ s;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h = h ^ (h >>> 16) ^ keyHi ^ s ^ 0x9e3779b9;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) & mask;
}

/** A bucket's units per token (it counts thousandths of a token). */
const UNITS = 1000;

/** A key of a {@link KeyedRateLimiter} and the time of a take, as fields (see `takeFor`). */
export class RateLimitKey {
  /** The key's low 32-bit word (the whole key when it has 32 bits). */
  lo = 0;
  /** The key's high 32-bit word (0 for a 32-bit key). */
  hi = 0;
  /** The time of the take (ms). */
  nowMs = 0;
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
  /** Each bucket's thousandths of a token. */
  readonly #units: Int32Array;
  /** Each bucket's last refill: whole milliseconds, modulo 2³² (as an int32). */
  readonly #lastMs: Int32Array;
  /** Milliseconds that refill an empty bucket (a longer gap counts as this long). */
  readonly #refillMs: number;
  readonly #mask: number;
  readonly #secret0: number;
  readonly #secret1: number;
  readonly #key = new RateLimitKey();

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
    const rate = opts.ratePerSecond, burst = opts.burst;
    // With these bounds a bucket's units never pass 2³¹: burst·1000 + rate·refillMs < 2.2·10⁹.
    if (!(Number.isInteger(rate) && rate >= 1 && rate <= 1e8)) {
      throw new RangeError("KeyedRateLimiter: rate must be a whole number in 1..1e8");
    }
    if (!(Number.isInteger(burst) && burst >= 1 && burst <= 1e6)) {
      throw new RangeError("KeyedRateLimiter: burst must be a whole number in 1..1e6");
    }
    this.ratePerSecond = rate;
    this.burst = burst;
    this.#refillMs = Math.ceil((burst * UNITS) / rate);
    this.#units = new Int32Array(slots).fill(burst * UNITS);
    this.#lastMs = new Int32Array(slots);
    this.#mask = slots - 1;
    const secrets = opts.secrets ?? crypto.getRandomValues(new Uint32Array(2));
    this.#secret0 = secrets[0] >>> 0;
    this.#secret1 = secrets[1] >>> 0;
  }

  /** The bucket `which` (0 or 1) of the key (`key`, `keyHi`): {@link keyedSlot} under that secret. */
  slotOf(key: number, which: 0 | 1, keyHi = 0): number {
    return keyedSlot(key, keyHi, which === 0 ? this.#secret0 : this.#secret1, this.#mask);
  }

  /**
   * Take a token for the key (`key`, and `keyHi` for a 64-bit key; 32-bit words) at `nowMs`:
   * false (and counted in {@link refused}) when both of its buckets are empty.
   */
  take(key: number, nowMs: number, keyHi = 0): boolean {
    const k = this.#key;
    k.lo = key;
    k.hi = keyHi;
    k.nowMs = nowMs;
    return this.takeFor(k);
  }

  /**
   * {@link take} for the key and time in `k` — fields, not arguments: a 32-bit word or a time
   * handed to a call that V8 does not inline can become a new heap number (16 B), so a caller
   * on a per-packet path fills a {@link RateLimitKey} of its own. Allocation-free.
   */
  takeFor(k: RateLimitKey): boolean {
    const lo = k.lo, hi = k.hi, nowMs = k.nowMs;
    const mask = this.#mask;
    // keyedSlot for both secrets, written out (no call, no argument to box).
    let s = this.#secret0;
    let h = lo ^ s;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h = h ^ (h >>> 16) ^ hi ^ s ^ 0x9e3779b9;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    const i = (h ^ (h >>> 16)) & mask;
    s = this.#secret1;
    h = lo ^ s;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h = h ^ (h >>> 16) ^ hi ^ s ^ 0x9e3779b9;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    const j = (h ^ (h >>> 16)) & mask;
    // Thousandths of a token: `rate` of them per millisecond, UNITS a token.
    const units = this.#units;
    const lastMs = this.#lastMs;
    const rate = this.ratePerSecond;
    const full = this.burst * UNITS;
    const cap = this.#refillMs;
    const t = Math.floor(nowMs) | 0;
    // A gap past the refill time, or one that wrapped (2³¹ ms or more), refills the bucket
    // (a gap just past a multiple of 2³² ms, 49.7 days, counts short: it refills soon after).
    let gap = (t - lastMs[i]) | 0;
    if (gap < 0 || gap > cap) gap = cap;
    let ui = units[i] + gap * rate;
    if (ui > full) ui = full;
    lastMs[i] = t;
    let uj = ui;
    if (j !== i) {
      gap = (t - lastMs[j]) | 0;
      if (gap < 0 || gap > cap) gap = cap;
      uj = units[j] + gap * rate;
      if (uj > full) uj = full;
      lastMs[j] = t;
    }
    const ok = ui >= UNITS || uj >= UNITS;
    units[i] = ui >= UNITS ? ui - UNITS : ui;
    if (j !== i) units[j] = uj >= UNITS ? uj - UNITS : uj;
    if (!ok) this.refused++;
    return ok;
  }
}
