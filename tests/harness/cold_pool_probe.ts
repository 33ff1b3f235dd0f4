/**
 * Run by `tests/unit/ring_storage_cold_alloc_test.ts` in a child `deno run
 * --v8-flags=--max-opt=0`: V8's interpreter and baseline code only, where `RingStoragePool`'s
 * `take` and `give` run in the stack (about once per ring emptying: never hot enough to be
 * optimised). Fills and empties a pool's free list over and over and prints one JSON line: the
 * median heap growth per fill and empty (`heapUsed` windows without a scavenge).
 *
 * @module
 */

import { RingStoragePool } from "../../core/ring_storage.ts";
import { medianHeapGrowthPerUnit } from "./heap_growth.ts";

/** Chunks taken and given back per cycle: past the 16 slots V8 gives a new array. */
const CHUNKS = 20;
/** Cycles per measured window. */
const CYCLES = 20;

const pool = new RingStoragePool({ minChunkBytes: 2048, warmBytes: 1 << 20 });
// Indexed, never push/pop: the probe's own array keeps its backing store (see above).
const held: Uint8Array[] = new Array(CHUNKS).fill(new Uint8Array(0));
let cycles = 0;
const cycle = (): void => {
  for (let i = 0; i < CHUNKS; i++) held[i] = pool.take(3000);
  for (let i = CHUNKS - 1; i >= 0; i--) pool.give(held[i]);
  cycles++;
};
for (let i = 0; i < 50; i++) cycle();
const [bytes] = medianHeapGrowthPerUnit([{
  step: () => {
    for (let i = 0; i < CYCLES; i++) cycle();
  },
  units: () => cycles,
}], 15);
console.log(JSON.stringify({ bytesPerCycle: bytes, reuses: pool.stats.reuses }));
