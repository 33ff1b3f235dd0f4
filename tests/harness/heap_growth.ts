/**
 * Heap growth per unit of work, measured around windows of a workload (the allocation tests'
 * method): several workloads take turns, so that JIT tier-ups and collections fall on all of
 * them alike. What is measured is the growth of the spaces JavaScript objects live in (new,
 * old and their large-object spaces), not `heapUsed`: that also counts the code and trusted
 * spaces, where each compile that lands puts its machine code and deoptimisation data (5–25 B
 * per segment of a window of `tcp_merged_seq_alloc_test`, in 4–7 of its 12 windows beside
 * load; bench/README.md, "flake31").
 *
 * @module
 */

import assert from "node:assert/strict";
import v8 from "node:v8";

/** Bytes in use in the young (new) and old object spaces, large objects included. */
export interface ObjectSpaces {
  /** New space and new large-object space. */
  young: number;
  /** Old space and large-object space. */
  old: number;
}

/** Read the object spaces' use into `into` (one reading allocates ~4 KB, after it is taken). */
export function readObjectSpaces(into: ObjectSpaces): void {
  let young = 0;
  let old = 0;
  for (const s of v8.getHeapSpaceStatistics()) {
    const n = s.space_name;
    if (n === "new_space" || n === "new_large_object_space") young += s.space_used_size;
    else if (n === "old_space" || n === "large_object_space") old += s.space_used_size;
  }
  into.young = young;
  into.old = old;
}

/**
 * Measures one window at a time: {@link start}, the work, then {@link grown} — the bytes
 * allocated in between, less what a reading itself allocates, or -1 when a collection ran
 * (the young space shrank: a scavenge; the old one shrank: a sweep).
 */
export class ObjectSpaceWindow {
  readonly #before: ObjectSpaces = { young: 0, old: 0 };
  readonly #after: ObjectSpaces = { young: 0, old: 0 };
  /** What one reading allocates (the median of five back-to-back readings). */
  readonly readingBytes: number;

  constructor() {
    const d: number[] = [];
    readObjectSpaces(this.#before);
    for (let i = 0; i < 5; i++) {
      readObjectSpaces(this.#after);
      d.push(this.#after.young - this.#before.young + this.#after.old - this.#before.old);
      readObjectSpaces(this.#before);
    }
    d.sort((a, b) => a - b);
    this.readingBytes = Math.max(0, d[2]);
  }

  /** Take the reading before the work. */
  start(): void {
    readObjectSpaces(this.#before);
  }

  /** Bytes allocated since {@link start}, or -1 when a collection ran in between. */
  grown(): number {
    readObjectSpaces(this.#after);
    const b = this.#before;
    const a = this.#after;
    if (a.young < b.young || a.old < b.old) return -1;
    return Math.max(0, a.young - b.young + a.old - b.old - this.readingBytes);
  }
}

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
  const m = g[g.length >> 1];
  logMeasurement(m, g);
  return m;
}

/**
 * The environment variable naming a file that every measurement is appended to, one JSON line
 * each (`median`, the sorted `windows`): the surveys' way to see each allocation test's value
 * against its bound (bench/README.md, "box32"). Unset: nothing is written.
 */
export const HEAP_GROWTH_LOG_ENV = "USTACK_HEAP_GROWTH_LOG";

function logMeasurement(median: number, windows: number[]): void {
  let path: string | undefined;
  try {
    path = Deno.env.get(HEAP_GROWTH_LOG_ENV);
  } catch {
    return; // no --allow-env: no survey
  }
  if (path === undefined || path === "") return;
  const line = JSON.stringify({ median, windows: windows.map((x) => Math.round(x * 10) / 10) });
  Deno.writeTextFileSync(path, line + "\n", { append: true });
}

/**
 * The median heap growth per unit of each run over `rounds` windows in which no collection
 * ran, the runs taking turns. A window in which a scavenge or a sweep ran shows a space
 * shrinking and says nothing (it is left out); the median, not the least, steps over windows
 * in which code ran unoptimised for a while (a tier-up that had not landed yet).
 */
export function medianHeapGrowthPerUnit(runs: HeapRun[], rounds: number): number[] {
  const grew: number[][] = runs.map(() => []);
  const w = new ObjectSpaceWindow();
  for (let round = 0; round < rounds; round++) {
    runs.forEach((r, i) => {
      const u0 = r.units();
      w.start();
      r.step();
      const bytes = w.grown();
      if (bytes >= 0) grew[i].push(bytes / (r.units() - u0));
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
  const w = new ObjectSpaceWindow();
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < runs.length; i++) {
      const r = runs[i];
      const u0 = r.units();
      w.start();
      await r.step();
      const bytes = w.grown();
      if (bytes >= 0) grew[i].push(bytes / (r.units() - u0));
    }
  }
  return grew.map(medianWindow);
}
