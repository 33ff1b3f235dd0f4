/**
 * Latency figures for the CLI's request/response tools (`pingpong`): a fixed-memory
 * log-linear histogram of a run's latencies in nanoseconds, summarised as nearest-rank
 * p50/p90/p99/p99.9 in microseconds, and where the stack's event loop spent its time.
 *
 * @module
 */

import { type EventLoop, Histogram } from "../mod.ts";

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
  /** 99.9th percentile (nearest rank). */
  p999Us: number;
  /** Largest. */
  maxUs: number;
}

/** A histogram for latencies in nanoseconds (up to ~18 minutes, within 1/128 of the value). */
export function latencyHistogram(): Histogram {
  return new Histogram({ subBucketBits: 8 });
}

/**
 * Summarise a histogram of latencies in nanoseconds as µs percentiles by nearest rank (each
 * within one bucket above the exact value, rounded to 0.1 µs). All zeros when it is empty.
 *
 * @example
 * ```ts
 * const h = latencyHistogram();
 * h.record(100_000);
 * h.record(200_000);
 * h.record(300_000);
 * latencySummary(h).p50Us; // 200
 * ```
 */
export function latencySummary(h: Histogram): LatencySummary {
  const us = (ns: number) => Math.round(ns / 100) / 10;
  return {
    count: h.count,
    minUs: us(h.min),
    meanUs: us(h.mean),
    p50Us: us(h.valueAtPercentile(50)),
    p90Us: us(h.valueAtPercentile(90)),
    p99Us: us(h.valueAtPercentile(99)),
    p999Us: us(h.valueAtPercentile(99.9)),
    maxUs: us(h.max),
  };
}

/**
 * Where the stack's event loop spent its time, for a summary: its counters, and p50/p99/max
 * of the parks in poll, the blocking poll slices, the ticks and the turns away from the loop
 * (µs).
 */
export function loopSummary(loop: EventLoop): Record<string, number> {
  const out: Record<string, number> = { ...loop.stats };
  for (const [name, h] of Object.entries(loop.times)) {
    const base = name.slice(0, -2); // parkUs -> park
    out[`${base}P50Us`] = h.valueAtPercentile(50);
    out[`${base}P99Us`] = h.valueAtPercentile(99);
    out[`${base}MaxUs`] = h.max;
  }
  return out;
}
