/**
 * Emptying V8's young generation before a server's ready line: a warm-up leaves its garbage
 * (and its survivors) in the new space, and the first scavenge after the ready line then
 * stopped the fresh server for 3–7 ms in the middle of its first real connections
 * (bench/README.md, "http9o"). Deno has no minor-GC call (`gc()` with `--expose-gc` runs a
 * memory-reducing full collection), so {@link settleYoungGeneration} allocates short-lived
 * arrays until V8 has scavenged, twice: the first scavenge copies the survivors, the second
 * promotes them, and the new space is left empty.
 *
 * @module
 */

import v8 from "node:v8";

/** Bytes of each short-lived array (8,192 small integers): below V8's large-object size. */
const CHUNK_ELEMENTS = 8192;

/** Bound on the bytes allocated whatever V8 does (its new space is at most 64 MiB here). */
const MAX_BYTES = 256 << 20;

/** Where the last chunk goes, so that no compiler can leave the allocation out. */
const sink: { chunk: unknown } = { chunk: null };

/** Bytes used in V8's new space now, or -1 when the runtime does not tell. */
function newSpaceUsed(): number {
  for (const s of v8.getHeapSpaceStatistics()) {
    if (s.space_name === "new_space") return s.space_used_size;
  }
  return -1;
}

/** What {@link settleYoungGeneration} did. */
export interface SettleReport {
  /** Scavenges seen (a drop of the new space's use). */
  scavenges: number;
  /** Bytes of short-lived arrays allocated to bring them about. */
  allocatedBytes: number;
  /** Time taken (ms). */
  ms: number;
}

/**
 * Allocate short-lived arrays until V8 has scavenged `scavenges` times (default 2: survivors
 * copied, then promoted), at most {@link MAX_BYTES}; for the moment before a ready line, never
 * on a hot path. Does nothing when the runtime does not report its new space.
 *
 * @example
 * ```ts
 * import { settleYoungGeneration } from "./young_gen.ts";
 * const r = settleYoungGeneration(1);
 * console.log(r.scavenges <= 1);
 * ```
 */
export function settleYoungGeneration(scavenges = 2): SettleReport {
  const t0 = performance.now();
  let last = newSpaceUsed();
  let seen = 0;
  let allocated = 0;
  while (last >= 0 && seen < scavenges && allocated < MAX_BYTES) {
    sink.chunk = new Array(CHUNK_ELEMENTS).fill(0);
    allocated += CHUNK_ELEMENTS * 8;
    const used = newSpaceUsed();
    if (used < last) seen++;
    last = used;
  }
  sink.chunk = null;
  return { scavenges: seen, allocatedBytes: allocated, ms: performance.now() - t0 };
}
