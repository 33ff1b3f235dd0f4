/**
 * A fixed-memory log-linear histogram in the style of HdrHistogram: values up to a bound are
 * counted in buckets whose width grows with the value, so every recorded value is known to a
 * fixed relative precision (2^-subBucketBits of the value) while memory stays a few kilobytes
 * whatever the count. Recording is a few arithmetic operations and one array increment: no
 * allocation, so it can sit on a hot path (a latency per transaction, a park time per loop turn).
 *
 * Layout (HdrHistogram's): values below `2^subBucketBits` each have their own bucket (exact);
 * above, each power-of-two range `[2^e, 2^(e+1))` is split into `2^(subBucketBits-1)` equal
 * buckets. Percentiles report the highest value of the bucket holding the rank (never below the
 * true value, at most one bucket width above it), clipped to the largest value recorded.
 *
 * @module
 */

import { DOUBLE_ZERO } from "./v8_shapes.ts";

/** Options of a {@link Histogram}. */
export interface HistogramOptions {
  /**
   * Bits of sub-bucket resolution, 2..16 [7: 128 sub-buckets, values known to within 1/64 of
   * themselves, ~1.6 %].
   */
  subBucketBits?: number;
  /**
   * Largest value kept exactly; larger values are recorded as this value and counted in
   * {@link Histogram.saturated} [2^40 − 1: 18 minutes in nanoseconds].
   */
  maxValue?: number;
}

/** Precomputed powers of two, 2^0 … 2^53. */
const POW2: Float64Array = (() => {
  const p = new Float64Array(54);
  for (let i = 0; i < 54; i++) p[i] = 2 ** i;
  return p;
})();

/**
 * floor(log2(v)) for an integer 1 ≤ v < 2^53, exact: the leading zeros of the 32-bit word
 * that holds its top bit. (`Math.log2` is a library call, rounded near powers, and a per-RTT
 * sample's cost: every connection records two or three.)
 */
function floorLog2(v: number): number {
  if (v < 4294967296) return 31 - Math.clz32(v);
  return 63 - Math.clz32(Math.floor(v / 4294967296));
}

/** Everything a {@link Histogram} recorded, as plain data ({@link Histogram.state}). */
export interface HistogramState {
  /** Bits of sub-bucket resolution. */
  subBucketBits: number;
  /** Largest value kept exactly. */
  maxValue: number;
  /** The bucket counts. */
  counts: Float64Array;
  /** Values recorded. */
  count: number;
  /** Values above `maxValue`. */
  saturated: number;
  /** Values refused. */
  invalid: number;
  /** Smallest value recorded. */
  min: number;
  /** Largest value recorded. */
  max: number;
  /** Sum of the values. */
  sum: number;
}

/**
 * A log-linear histogram of non-negative integer values (fractions are truncated).
 *
 * @example
 * ```ts
 * import { Histogram } from "./histogram.ts";
 * const h = new Histogram();
 * for (let v = 1; v <= 1000; v++) h.record(v);
 * h.valueAtPercentile(50); // 500 (within 1/64 of it, never below)
 * h.max; // 1000
 * ```
 */
export class Histogram {
  /** Bits of sub-bucket resolution. */
  readonly subBucketBits: number;
  /** Largest value kept exactly. */
  readonly maxValue: number;
  /** Values recorded (including saturated ones). */
  count = 0;
  /** Values above {@link maxValue} (recorded as it). */
  saturated = 0;
  /** Negative or non-finite values refused (not recorded). */
  invalid = 0;
  // Doubles from the start (core/v8_shapes.ts): values are fractional or large.
  /** Smallest value recorded (0 when empty). */
  min: number = DOUBLE_ZERO;
  /** Largest value recorded (0 when empty). */
  max: number = DOUBLE_ZERO;
  /** Sum of the values recorded. */
  sum: number = DOUBLE_ZERO;
  readonly #counts: Float64Array;
  readonly #subCount: number;
  readonly #halfCount: number;

  /** An empty histogram. Throws a RangeError on a bad option. */
  constructor(opts: HistogramOptions = {}) {
    const bits = opts.subBucketBits ?? 7;
    const maxValue = opts.maxValue ?? POW2[40] - 1;
    if (!Number.isInteger(bits) || bits < 2 || bits > 16) {
      throw new RangeError(`Histogram: subBucketBits ${bits} is not an integer in 2..16`);
    }
    if (!Number.isInteger(maxValue) || maxValue < 1 || maxValue >= POW2[53]) {
      throw new RangeError(`Histogram: maxValue ${maxValue} is not an integer in 1..2^53`);
    }
    this.subBucketBits = bits;
    this.maxValue = maxValue;
    this.#subCount = 1 << bits;
    this.#halfCount = this.#subCount >> 1;
    this.#counts = new Float64Array(this.#indexOf(maxValue) + 1);
  }

  /** Buckets held (memory is 8 bytes each). */
  get bucketCount(): number {
    return this.#counts.length;
  }

  /** The bucket index of the integer `v` (0 ≤ v ≤ maxValue). */
  #indexOf(v: number): number {
    if (v < this.#subCount) return v;
    const shift = floorLog2(v) - (this.subBucketBits - 1);
    const sub = Math.floor(v / POW2[shift]);
    return this.#subCount + (shift - 1) * this.#halfCount + (sub - this.#halfCount);
  }

  /** The highest value that falls into bucket `i`. */
  #highestIn(i: number): number {
    if (i < this.#subCount) return i;
    const k = i - this.#subCount;
    const shift = Math.floor(k / this.#halfCount) + 1;
    const sub = this.#halfCount + (k % this.#halfCount);
    return (sub + 1) * POW2[shift] - 1;
  }

  /** Count `value` (`times` times, default once). Bad values are counted in {@link invalid}. */
  record(value: number, times = 1): void {
    if (!(value >= 0) || value === Infinity) {
      this.invalid += times;
      return;
    }
    // The saturation, the minimum and the maximum worked out and stored on every call, not in
    // branches taken only by a value out of the ordinary: a loop's first yield faster than all
    // before (a new minimum) was the first store to `min` since V8 compiled the loop's code,
    // which it threw away there ("generic named access"; bench/README.md, "flake34").
    const floor = Math.floor(value);
    const top = this.maxValue;
    const over = floor > top;
    this.saturated += over ? times : 0;
    const v = over ? top : floor;
    this.#counts[this.#indexOf(v)] += times;
    const min = this.min;
    const max = this.max;
    this.min = this.count === 0 || v < min ? v : min;
    this.max = v > max ? v : max;
    this.count += times;
    this.sum += v * times;
  }

  /** Mean of the values recorded (0 when empty). */
  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /**
   * The value at percentile `p` (0..100) by nearest rank: the highest value of the bucket that
   * holds the ⌈p/100 · count⌉-th smallest value, clipped to {@link max}; 0 when empty.
   */
  valueAtPercentile(p: number): number {
    if (this.count === 0) return 0;
    const pc = Math.min(100, Math.max(0, p));
    const rank = Math.max(1, Math.ceil((pc / 100) * this.count));
    const counts = this.#counts;
    let seen = 0;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i];
      if (seen >= rank) return Math.max(this.min, Math.min(this.max, this.#highestIn(i)));
    }
    return this.max;
  }

  /** Add every count of `other` (same `subBucketBits` and `maxValue`, else a RangeError). */
  add(other: Histogram): void {
    if (other.subBucketBits !== this.subBucketBits || other.maxValue !== this.maxValue) {
      throw new RangeError("Histogram.add: the histograms have different layouts");
    }
    if (other.count === 0) {
      this.invalid += other.invalid;
      return;
    }
    const a = this.#counts;
    const b = other.#counts;
    for (let i = 0; i < a.length; i++) a[i] += b[i];
    if (this.count === 0 || other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
    this.count += other.count;
    this.sum += other.sum;
    this.saturated += other.saturated;
    this.invalid += other.invalid;
  }

  /**
   * A plain copy of everything recorded (structured-cloneable: it can cross to another
   * thread), for {@link Histogram.addState} there.
   */
  state(): HistogramState {
    return {
      subBucketBits: this.subBucketBits,
      maxValue: this.maxValue,
      counts: this.#counts.slice(),
      count: this.count,
      saturated: this.saturated,
      invalid: this.invalid,
      min: this.min,
      max: this.max,
      sum: this.sum,
    };
  }

  /** Add a {@link Histogram.state} of a histogram of the same layout (else a RangeError). */
  addState(s: HistogramState): void {
    const other = new Histogram({ subBucketBits: s.subBucketBits, maxValue: s.maxValue });
    if (s.counts.length !== other.#counts.length) {
      throw new RangeError("Histogram.addState: the counts do not fit the layout");
    }
    other.#counts.set(s.counts);
    other.count = s.count;
    other.saturated = s.saturated;
    other.invalid = s.invalid;
    other.min = s.min;
    other.max = s.max;
    other.sum = s.sum;
    this.add(other);
  }

  /** Forget everything recorded. */
  reset(): void {
    this.#counts.fill(0);
    this.count =
      this.saturated =
      this.invalid =
      this.min =
      this.max =
      this.sum =
        0;
  }
}

/** Percentiles of a histogram of nanosecond latencies, in microseconds. */
export interface LatencySummary {
  /** Samples summarised. */
  count: number;
  /** Smallest. */
  minUs: number;
  /** Mean. */
  meanUs: number;
  /** Median (nearest rank). */
  p50Us: number;
  /** 90th percentile (nearest rank). */
  p90Us: number;
  /** 99th percentile (nearest rank). */
  p99Us: number;
  /** 99.9th percentile (nearest rank). */
  p999Us: number;
  /** Largest. */
  maxUs: number;
}

/** A histogram for latencies in nanoseconds (up to ~18 minutes, within 1/128 of the value). */
export function latencyHistogram(): Histogram {
  return new Histogram({ subBucketBits: 8 });
}

/** Nanoseconds to microseconds rounded to 0.1 µs. */
function nsToUs(ns: number): number {
  return Math.round(ns / 100) / 10;
}

/**
 * Summarise a histogram of latencies in nanoseconds as µs percentiles by nearest rank (each
 * within one bucket above the exact value, rounded to 0.1 µs). All zeros when it is empty.
 *
 * @example
 * ```ts
 * import { latencyHistogram, latencySummary } from "./histogram.ts";
 * const h = latencyHistogram();
 * h.record(100_000);
 * h.record(200_000);
 * h.record(300_000);
 * latencySummary(h).p50Us; // 200
 * ```
 */
export function latencySummary(h: Histogram): LatencySummary {
  return {
    count: h.count,
    minUs: nsToUs(h.min),
    meanUs: nsToUs(h.mean),
    p50Us: nsToUs(h.valueAtPercentile(50)),
    p90Us: nsToUs(h.valueAtPercentile(90)),
    p99Us: nsToUs(h.valueAtPercentile(99)),
    p999Us: nsToUs(h.valueAtPercentile(99.9)),
    maxUs: nsToUs(h.max),
  };
}
