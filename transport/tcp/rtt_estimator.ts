/**
 * Retransmission timeout computation (RFC 6298).
 *
 * Karn's algorithm (RFC 6298 §3, Karn & Partridge 1987) is the caller's job: never feed a
 * sample measured on a segment that was retransmitted, because its ACK is ambiguous. With the
 * TCP Timestamps option (RFC 7323 §4) every ACK that acknowledges new data gives an unambiguous
 * sample, retransmitted or not. The caller also chooses when to sample (RFC 6298 §3: at least
 * once per RTT), arms the timer (§5) and, per §5.7, reinitialises the RTO to 3 s with
 * {@link RttEstimator.reset} when the SYN or SYN-ACK was retransmitted and no sample exists.
 *
 * @module
 */

import type { Histogram } from "../../core/histogram.ts";
import { DOUBLE_ZERO } from "../../core/v8_shapes.ts";

/** Options of {@link RttEstimator}; all in milliseconds. */
export interface RttEstimatorOptions {
  /**
   * RTO before any sample (RFC 6298 §2.1: 1 s). Default 1000.
   */
  initialRtoMs?: number;
  /**
   * Lower bound of the RTO. RFC 6298 §2.4 says 1 s; Linux uses 200 ms (`TCP_RTO_MIN`), as here.
   * Default 200.
   */
  minRtoMs?: number;
  /**
   * Upper bound of the RTO, also for backoff (RFC 6298 §2.5: at least 60 s). Linux: 120 s
   * (`TCP_RTO_MAX`). Default 120000.
   */
  maxRtoMs?: number;
  /** Clock granularity G (RFC 6298 §2): the RTO is at least SRTT + G. Default 1. */
  clockGranularityMs?: number;
  /**
   * Where every sample is also recorded, in nanoseconds (e.g. the stack-wide TCP RTT
   * histogram that `ustack stats --rtt` prints). Shared, so a connection costs one reference.
   */
  samplesNs?: Histogram;
}

/** Throw a RangeError unless `v` is a positive finite number. */
function checkPositive(name: string, v: number): void {
  if (!(v > 0) || !Number.isFinite(v)) {
    throw new RangeError(`RttEstimator: ${name} must be a positive number, got ${v}`);
  }
}

/** RFC 6298 §2: alpha = 1/8, the SRTT gain. */
const ALPHA = 1 / 8;
/** RFC 6298 §2: beta = 1/4, the RTTVAR gain. */
const BETA = 1 / 4;
/** RFC 6298 §2: K = 4, the RTTVAR multiplier. */
const K = 4;
/** RFC 6298 §5.7: RTO after a handshake retransmission, when data transfer starts. */
export const HANDSHAKE_RETRY_RTO_MS = 3000;

/**
 * An estimator's bounds and histogram: the same for every connection of a stack, so the
 * estimators made with the same options share one record ({@link boundsOf}) instead of keeping
 * five fields each (bench/README.md, branch held9d).
 */
class RttBounds {
  constructor(
    readonly initialRtoMs: number,
    readonly minRtoMs: number,
    readonly maxRtoMs: number,
    readonly clockGranularityMs: number,
    readonly samplesNs: Histogram | null,
  ) {}
}

/**
 * The bounds records made last (a process has a few stacks, each with its options and its own
 * RTT histogram, so a record each).
 */
const BOUNDS: RttBounds[] = [];
/**
 * Most records {@link BOUNDS} keeps; the oldest is replaced past it. A `pingpong` process makes
 * nine stacks before its first real connection — its own, then the warm-up's four pairs — and at
 * eight the real stack's record, the oldest, was replaced: its first connection made a new one,
 * and V8 threw away the code of the estimator's constructor, which had never taken that path
 * (bench/README.md, "warm13j").
 */
const BOUNDS_MAX = 16;
/** Where the next record past {@link BOUNDS_MAX} goes. */
let boundsNext = 0;
/** Records {@link BOUNDS} gave up for a newer one (see {@link rttBoundsReplaced}). */
let boundsReplaced = 0;

/**
 * How many shared bounds records were replaced because {@link BOUNDS_MAX} other option sets came
 * after them in this process. A replaced record stays with the estimators that hold it; a later
 * estimator with its options gets a record of its own, so a non-zero count means some
 * connections keep one more small object, never other bounds.
 */
export function rttBoundsReplaced(): number {
  return boundsReplaced;
}

/** The shared bounds record for these options: one found in {@link BOUNDS}, or a new one. */
function boundsOf(
  initialRtoMs: number,
  minRtoMs: number,
  maxRtoMs: number,
  clockGranularityMs: number,
  samplesNs: Histogram | null,
): RttBounds {
  for (let i = 0; i < BOUNDS.length; i++) {
    const b = BOUNDS[i];
    if (
      b.initialRtoMs === initialRtoMs && b.minRtoMs === minRtoMs && b.maxRtoMs === maxRtoMs &&
      b.clockGranularityMs === clockGranularityMs && b.samplesNs === samplesNs
    ) return b;
  }
  const b = new RttBounds(initialRtoMs, minRtoMs, maxRtoMs, clockGranularityMs, samplesNs);
  if (BOUNDS.length < BOUNDS_MAX) BOUNDS.push(b);
  else {
    BOUNDS[boundsNext] = b;
    boundsNext = (boundsNext + 1) % BOUNDS_MAX;
    boundsReplaced++;
  }
  return b;
}

/**
 * The RTT measurement {@link RttEstimator.samplePending} reads (ms): a caller holding a
 * fractional RTT stores it in `ms` and calls that rather than passing it to
 * {@link RttEstimator.sample}, whose argument V8 boxes when it does not inline the call (a heap
 * number per ACK). One record for every estimator (one thread; written just before the call):
 * a field in each was a heap number in every connection (bench/README.md, branch held9d).
 *
 * @example
 * ```ts
 * import { PENDING_RTT, RttEstimator } from "./rtt_estimator.ts";
 * const rtt = new RttEstimator();
 * PENDING_RTT.ms = 0.37;
 * rtt.samplePending();
 * rtt.srttMs; // 0.37
 * ```
 */
export const PENDING_RTT: { ms: number } = { ms: DOUBLE_ZERO };

/**
 * Smoothed RTT, RTT variance and the (backed-off, clamped) retransmission timeout of one
 * connection. Allocation-free after construction.
 *
 * @example
 * ```ts
 * import { RttEstimator } from "./rtt_estimator.ts";
 * const rtt = new RttEstimator();
 * rtt.rtoMs; // 1000: no sample yet
 * rtt.sample(100); // SRTT 100, RTTVAR 50
 * rtt.rtoMs; // 300 = 100 + 4 * 50
 * rtt.backoff();
 * rtt.rtoMs; // 600
 * ```
 */
export class RttEstimator {
  /** The bounds and histogram, shared with the stack's other estimators. */
  readonly #bounds: RttBounds;
  /** Lower bound of the RTO in ms. */
  get minRtoMs(): number {
    return this.#bounds.minRtoMs;
  }
  /** Upper bound of the RTO in ms. */
  get maxRtoMs(): number {
    return this.#bounds.maxRtoMs;
  }
  /** Clock granularity G in ms. */
  get clockGranularityMs(): number {
    return this.#bounds.clockGranularityMs;
  }
  /** RTO before the first sample in ms. */
  get initialRtoMs(): number {
    return this.#bounds.initialRtoMs;
  }
  /**
   * Smoothed round-trip time SRTT in ms (0 before the first sample); written only by the
   * estimator. A field, not a getter: a getter V8 does not inline returns the fractional time
   * as a new heap number, and the loss control reads it on ACKs and timer arms.
   */
  srttMs = 0;
  #rttvar = 0;
  #hasSample = false;
  /**
   * Un-backed-off RTO, unclamped. A double from the start (set in the constructor): a field
   * declared without a value starts as `undefined`, and V8 then stores every fractional value
   * in it as a new heap number (one per RTT sample).
   */
  #baseRto = DOUBLE_ZERO;
  /** Number of doublings since the last sample or reset. */
  #backoffs = 0;
  /** The RTO to use, clamped and backed off (cached). */
  #rto = 0;

  /**
   * A fresh estimator (no samples, RTO = `initialRtoMs`).
   *
   * @throws {RangeError} if a bound is not a positive finite number or min > max.
   */
  constructor(options: RttEstimatorOptions = {}) {
    const {
      initialRtoMs = 1000,
      minRtoMs = 200,
      maxRtoMs = 120_000,
      clockGranularityMs = 1,
      samplesNs = null,
    } = options;
    // One per connection: checked without allocating.
    checkPositive("initialRtoMs", initialRtoMs);
    checkPositive("minRtoMs", minRtoMs);
    checkPositive("maxRtoMs", maxRtoMs);
    if (!(clockGranularityMs >= 0) || !Number.isFinite(clockGranularityMs)) {
      throw new RangeError(
        `RttEstimator: clockGranularityMs must be >= 0, got ${clockGranularityMs}`,
      );
    }
    if (minRtoMs > maxRtoMs) {
      throw new RangeError(`RttEstimator: minRtoMs ${minRtoMs} > maxRtoMs ${maxRtoMs}`);
    }
    this.#bounds = boundsOf(initialRtoMs, minRtoMs, maxRtoMs, clockGranularityMs, samplesNs);
    this.#baseRto = initialRtoMs;
    this.#update();
  }

  /** True once a sample has been taken. */
  get hasSample(): boolean {
    return this.#hasSample;
  }

  /** Round-trip time variation RTTVAR in ms (0 before the first sample). */
  get rttvarMs(): number {
    return this.#rttvar;
  }

  /** The retransmission timeout to arm, in ms: backed off and clamped to [min, max]. */
  get rtoMs(): number {
    return this.#rto;
  }

  /** Doublings applied by {@link RttEstimator.backoff} since the last sample or reset. */
  get backoffCount(): number {
    return this.#backoffs;
  }

  /**
   * Feed one RTT measurement `rttMs` (≥ 0; anything else is ignored). Recomputes the RTO and,
   * as the new measurement supersedes it, clears the backoff (RFC 6298 §5 and Karn: the
   * backed-off RTO is kept only until a valid sample arrives).
   */
  sample(rttMs: number): void {
    PENDING_RTT.ms = rttMs;
    this.samplePending();
  }

  /**
   * {@link RttEstimator.sample} of {@link PENDING_RTT}'s `ms`, read here from the record (a
   * double field), not passed: nothing is boxed however V8 compiles the call.
   */
  samplePending(): void {
    const rttMs = PENDING_RTT.ms;
    // Comparisons, not Number.isFinite: V8's mid tier calls that as a function, and the
    // sample passed to it (fractional) is a new heap number per ACK.
    if (!(rttMs >= 0 && rttMs < Infinity)) return;
    // Whole nanoseconds (what the histogram keeps): below 2**30 a small integer, where the
    // fraction would make the argument a new heap number when `record` is not inlined.
    const samplesNs = this.#bounds.samplesNs;
    if (samplesNs !== null) samplesNs.record(Math.floor(rttMs * 1e6));
    if (!this.#hasSample) {
      // RFC 6298 §2.2: the first measurement R gives SRTT = R, RTTVAR = R/2.
      this.srttMs = rttMs;
      this.#rttvar = rttMs / 2;
      this.#hasSample = true;
    } else {
      // RFC 6298 §2.3: RTTVAR is updated first, with the *old* SRTT.
      const err = this.srttMs - rttMs;
      // Math.abs and Math.max below, not `?:`: a merged fraction is boxed in V8's mid tier.
      this.#rttvar = (1 - BETA) * this.#rttvar + BETA * Math.abs(err);
      this.srttMs = (1 - ALPHA) * this.srttMs + ALPHA * rttMs;
    }
    // RFC 6298 §2.2/§2.3: RTO = SRTT + max(G, K*RTTVAR).
    const v = K * this.#rttvar;
    this.#baseRto = this.srttMs + Math.max(v, this.#bounds.clockGranularityMs);
    this.#backoffs = 0;
    this.#update();
  }

  /**
   * The retransmission timer expired: double the RTO (RFC 6298 §5.5), up to `maxRtoMs`.
   */
  backoff(): void {
    if (this.#rto < this.maxRtoMs) this.#backoffs++;
    this.#update();
  }

  /**
   * Drop the backoff without a new sample (e.g. an ACK of new data arrived for a
   * retransmitted segment, which Karn's rule forbids sampling; Linux also resets here).
   */
  resetBackoff(): void {
    this.#backoffs = 0;
    this.#update();
  }

  /**
   * Forget all samples and start over with RTO = `rtoMs` (default `initialRtoMs`). RFC 6298
   * §5.7: pass {@link HANDSHAKE_RETRY_RTO_MS} when the handshake needed a retransmission
   * and no sample was taken.
   */
  reset(rtoMs: number = this.initialRtoMs): void {
    this.srttMs = 0;
    this.#rttvar = 0;
    this.#hasSample = false;
    this.#baseRto = rtoMs > 0 ? rtoMs : this.initialRtoMs;
    this.#backoffs = 0;
    this.#update();
  }

  /** Recompute the cached RTO: base × 2^backoffs, clamped (RFC 6298 §2.4, §2.5, §5.5). */
  #update(): void {
    // Math.max and Math.min, not `?:`: the RTO (fractional after a sample) merged from two
    // branches was a new heap number per RTT sample — per ACK — in V8's mid tier ("dbl34").
    const b = this.#bounds;
    const rto = Math.max(this.#baseRto, b.minRtoMs) * 2 ** this.#backoffs;
    this.#rto = Math.min(rto, b.maxRtoMs);
  }
}
