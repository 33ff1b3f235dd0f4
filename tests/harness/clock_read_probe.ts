/**
 * Probe for `tests/unit/monotonic_time_test.ts`, run with `--allow-natives-syntax` (and FFI): the
 * heap growth per clock read of a stack's default clock, read from optimised code where V8 does
 * not inline `performance.now()` (`%NeverOptimizeFunction` on it: what a large caller whose
 * inlining budget is spent sees, such as the event loop's spin), next to a clock on
 * `performance.now()` read the same way. Prints one JSON line.
 *
 * @module
 */

import { MonotonicClock } from "../../core/clock.ts";
import { Stack } from "../../stack/stack.ts";
import { neverOptimize, optimizeNext, prepare } from "./v8_natives.ts";

const stack = new Stack();
const clocks = { stackDefault: stack.clock, performanceNow: new MonotonicClock() };
stack.close();

/** Where the reads go: a double field, stored in place as the event loop's `#nowMs` is. */
class Reader {
  nowMs = 0.5;
  /** `n` reads of `clock`; the last time kept. */
  read(clock: { nowMs(): number }, n: number): void {
    for (let i = 0; i < n; i++) this.nowMs = clock.nowMs();
  }
}

const READS = 100_000;
const out: Record<string, number> = {};
neverOptimize(performance.now);
for (const [name, clock] of Object.entries(clocks)) {
  const r = new Reader();
  prepare(Reader.prototype.read);
  r.read(clock, 1000);
  r.read(clock, 1000);
  optimizeNext(Reader.prototype.read);
  r.read(clock, 10);
  const grew: number[] = [];
  for (let w = 0; w < 9; w++) {
    const before = Deno.memoryUsage().heapUsed;
    r.read(clock, READS);
    const after = Deno.memoryUsage().heapUsed;
    if (after >= before) grew.push((after - before) / READS);
  }
  grew.sort((a, b) => a - b);
  out[name] = grew[grew.length >> 1];
  out[`${name}Agrees`] = Math.abs(clock.nowMs() - performance.now()) < 1 ? 1 : 0;
}
console.log(JSON.stringify(out));
