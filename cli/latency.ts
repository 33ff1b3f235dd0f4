/**
 * Latency percentiles for the CLI's request/response tools (`pingpong`): nearest-rank p50,
 * p90 and p99 of a run's samples, in microseconds.
 *
 * @module
 */

/** Latency percentiles of a run, in microseconds. */
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
  /** Largest. */
  maxUs: number;
}

/**
 * Summarise the first `n` latency samples (milliseconds) as µs percentiles by nearest rank.
 * All zeros when `n` is 0. Sorts a copy; `samples` is not changed.
 *
 * @example
 * ```ts
 * latencySummary(new Float64Array([0.1, 0.2, 0.3]), 3).p50Us; // 200
 * ```
 */
export function latencySummary(samples: Float64Array, n: number): LatencySummary {
  if (n <= 0) return { count: 0, minUs: 0, meanUs: 0, p50Us: 0, p90Us: 0, p99Us: 0, maxUs: 0 };
  const sorted = samples.slice(0, n).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  const rank = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
  const us = (ms: number) => Math.round(ms * 1e4) / 10;
  return {
    count: n,
    minUs: us(sorted[0]),
    meanUs: us(sum / n),
    p50Us: us(rank(50)),
    p90Us: us(rank(90)),
    p99Us: us(rank(99)),
    maxUs: us(sorted[n - 1]),
  };
}
