// A busy-polling event loop calls `Stack.receive()` at every spin, without the time (the stack's
// clock reads it once for the tick): a spin that finds nothing must not allocate. With the real
// clock (`MonotonicClock`) its `beginTick` took `nowMs ?? performance.now()`, and the merged
// value was a new heap number per spin: 16 B measured here, the largest allocation of a bulk
// sender on AF_PACKET with TSO (bench/README.md, "heap13b"); after, under 0.2 B.

import assert from "node:assert/strict";
import { medianHeapGrowthPerUnit } from "../harness/heap_growth.ts";
import { Stack } from "../../stack/stack.ts";
import { Timer } from "../../core/timer_wheel.ts";

/** Most heap growth per idle `receive()`: a heap number is 16 B. */
const MAX_BYTES_PER_SPIN = 4;
/** Spins per measured window. */
const WINDOW = 100_000;

Deno.test(`sim poll alloc: an idle Stack.receive() with the real clock allocates < ${MAX_BYTES_PER_SPIN} B`, () => {
  const stack = new Stack();
  // A timer armed far ahead: the wheel has work to look at, as with a connection's timers.
  const timer = new Timer(() => {});
  stack.timers.schedule(timer, stack.clock.nowMs() + 3_600_000);
  let spins = 0;
  const spin = (n: number): void => {
    for (let i = 0; i < n; i++) stack.receive();
    spins += n;
  };
  spin(3 * WINDOW); // optimised code
  const [perSpin] = medianHeapGrowthPerUnit([{ step: () => spin(WINDOW), units: () => spins }], 9);
  stack.timers.cancel(timer);
  stack.close();
  assert.ok(perSpin < MAX_BYTES_PER_SPIN, `${perSpin.toFixed(2)} B per idle receive()`);
});
