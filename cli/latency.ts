/**
 * Latency figures for the CLI's request/response tools (`pingpong`): a fixed-memory
 * log-linear histogram of a run's latencies in nanoseconds, summarised as nearest-rank
 * p50/p90/p99/p99.9 in microseconds, and where the stack's event loop spent its time.
 *
 * @module
 */

import { type EventLoop, latencyHistogram, type LatencySummary, latencySummary } from "../mod.ts";

export { latencyHistogram, type LatencySummary, latencySummary };

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
