/**
 * Heap growth per unit of work, measured with `Deno.memoryUsage().heapUsed` around windows of
 * a workload (the allocation tests' method): several workloads take turns, so that JIT tier-ups
 * and collections fall on all of them alike.
 *
 * @module
 */

import assert from "node:assert/strict";

/** One workload: `step()` runs a window, `units()` counts segments or round trips so far. */
export interface HeapRun {
  /** Run one measured window. */
  step: () => void;
  /** Units of work done so far (segments, round trips). */
  units: () => number;
}

/** The median of a run's windows, with at least three that ran without a scavenge. */
function medianWindow(g: number[]): number {
  assert.ok(g.length >= 3, `only ${g.length} windows ran without a scavenge`);
  g.sort((a, b) => a - b);
  return g[g.length >> 1];
}

/**
 * The median heap growth per unit of each run over `rounds` windows in which no collection
 * ran, the runs taking turns. A window in which a scavenge ran shows the heap shrinking and
 * says nothing; one that concurrent sweeping overlapped shows less than was allocated: the
 * median, not the least, steps over those.
 */
export function medianHeapGrowthPerUnit(runs: HeapRun[], rounds: number): number[] {
  const grew: number[][] = runs.map(() => []);
  for (let round = 0; round < rounds; round++) {
    runs.forEach((r, i) => {
      const u0 = r.units();
      const before = Deno.memoryUsage().heapUsed;
      r.step();
      const after = Deno.memoryUsage().heapUsed;
      if (after >= before) grew[i].push((after - before) / (r.units() - u0));
    });
  }
  return grew.map(medianWindow);
}

/**
 * A request/response workload as a {@link HeapRun}: `roundTrips(n)` makes n round trips;
 * `warm` of them first (optimised code, full pools), then `window` per measured window.
 */
export function roundTripRun(
  roundTrips: (n: number) => void,
  warm = 10_000,
  window = 500,
): HeapRun {
  roundTrips(warm);
  let done = 0;
  return {
    step: () => {
      roundTrips(window);
      done += window;
    },
    units: () => done,
  };
}

/** One asynchronous workload: {@link HeapRun} whose window awaits (promises, microtasks). */
export interface AsyncHeapRun {
  /** Run one measured window. */
  step: () => Promise<void>;
  /** Units of work done so far. */
  units: () => number;
}

/**
 * {@link medianHeapGrowthPerUnit} for workloads that await: each window's growth includes the
 * promises and microtask reactions it made (it ends when its last reaction ran).
 */
export async function medianHeapGrowthPerUnitAsync(
  runs: AsyncHeapRun[],
  rounds: number,
): Promise<number[]> {
  const grew: number[][] = runs.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < runs.length; i++) {
      const r = runs[i];
      const u0 = r.units();
      const before = Deno.memoryUsage().heapUsed;
      await r.step();
      const after = Deno.memoryUsage().heapUsed;
      if (after >= before) grew[i].push((after - before) / (r.units() - u0));
    }
  }
  return grew.map(medianWindow);
}
