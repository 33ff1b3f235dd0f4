/**
 * A small, fast, seeded pseudo-random number generator for simulations and fault injection.
 *
 * The generator is sfc32 (Chris Doty-Humphrey's "small fast chaotic" generator, 128 bits of
 * state in four 32-bit words), seeded through splitmix32 so that nearby seeds (0, 1, 2, …)
 * give unrelated streams. It is *not* cryptographically secure: never use it for TCP initial
 * sequence numbers, SYN cookies or anything an attacker could predict.
 *
 * @module
 */

/** splitmix32 constant: 2^32 / φ, the golden-ratio increment. */
const GOLDEN_GAMMA = 0x9e3779b9;
/** 2^32, to map a 32-bit word into [0, 1). */
const TWO_POW_32 = 4294967296;
/** Outputs thrown away after seeding so the state is well mixed. */
const WARMUP_ROUNDS = 12;

/**
 * A deterministic PRNG: the same seed always yields the same sequence, on every platform.
 * Every method draws exactly one 32-bit word (except {@link SeededRandom.nextInt}, which may
 * reject and redraw to stay unbiased), so the stream position depends only on the number of
 * calls, not on the arguments — changing a loss rate does not shift later jitter draws.
 *
 * @example
 * ```ts
 * const rng = new SeededRandom(42);
 * const lost = rng.chance(0.01);      // true about 1% of the time
 * const jitter = rng.nextFloat() * 5; // [0, 5) ms
 * const port = 49152 + rng.nextInt(16384);
 * ```
 */
export class SeededRandom {
  /**
   * The state words a, b, c, d, and in slot 4 the last output. The output is left there by
   * `#advance`, not returned: a number at or above 2^30 returned from a call V8 does not
   * inline is a new heap number, and the simulator draws four per frame.
   */
  readonly #s = new Int32Array(5);

  /** Seed the generator; any finite number works (it is reduced to 32 bits). */
  constructor(seed: number) {
    let s = (Number.isFinite(seed) ? Math.trunc(seed) : 0) | 0;
    // splitmix32 turns one seed word into four decorrelated state words.
    const next = (): number => {
      s = (s + GOLDEN_GAMMA) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) | 0;
    };
    const st = this.#s;
    st[0] = next();
    st[1] = next();
    st[2] = next();
    st[3] = next();
    for (let i = 0; i < WARMUP_ROUNDS; i++) this.#advance();
  }

  /** One step of sfc32: the state moves on, the output goes to slot 4. */
  #advance(): void {
    const st = this.#s;
    const a = st[0], b = st[1], c = st[2], d = st[3];
    const t = (((a + b) | 0) + d) | 0;
    st[3] = (d + 1) | 0;
    st[0] = b ^ (b >>> 9);
    st[1] = (c + (c << 3)) | 0;
    const rotated = (c << 21) | (c >>> 11);
    st[2] = (rotated + t) | 0;
    st[4] = t;
  }

  /** The next uniformly distributed unsigned 32-bit integer, in [0, 2^32). */
  nextU32(): number {
    this.#advance();
    return this.#s[4] >>> 0;
  }

  /** A uniformly distributed float in [0, 1) with 32 bits of randomness. */
  nextFloat(): number {
    this.#advance();
    return (this.#s[4] >>> 0) / TWO_POW_32;
  }

  /**
   * `count` draws of {@link SeededRandom.nextFloat} into `out[0..count)`, in order: the same
   * stream, for a per-packet caller — a float returned from a call V8 does not inline is a
   * new heap number, a float written to a `Float64Array` is not.
   */
  fillFloats(out: Float64Array, count: number): void {
    const st = this.#s;
    for (let i = 0; i < count; i++) {
      this.#advance();
      out[i] = (st[4] >>> 0) / TWO_POW_32;
    }
  }

  /**
   * A uniformly distributed integer in [0, maxExclusive), without modulo bias.
   * `maxExclusive` must be an integer in [1, 2^32]; otherwise a RangeError is thrown.
   */
  nextInt(maxExclusive: number): number {
    if (!(maxExclusive >= 1 && maxExclusive <= TWO_POW_32 && Number.isInteger(maxExclusive))) {
      throw new RangeError(`SeededRandom.nextInt: bad bound ${maxExclusive}`);
    }
    // Reject the top partial copy of [0, max) so every residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % maxExclusive);
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return x % maxExclusive;
  }

  /**
   * True with probability `p` (p ≤ 0 is never, p ≥ 1 is always). Always consumes exactly one
   * draw, whatever `p` is.
   */
  chance(p: number): boolean {
    return this.nextFloat() < p;
  }
}
