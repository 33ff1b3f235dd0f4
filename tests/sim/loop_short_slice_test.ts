// The transmit half keeps its compiled code at its first blocking slice that ends at a
// deadline less than 1 ms away, after V8 compiled it on whole-millisecond slices only — a
// fresh client's real stack rehearses its idle sequence in the warm-up with no timer armed
// (or none due within the slice), and its first connections' timers then end slices early.
// Two ways V8 threw the loop's code away there on main: with no timer armed the bounded wait
// was 1000 (a small integer) at every slice, so its compares were compiled for small
// integers ("not int32" at the first fractional wait); with a timer further than 1 ms ahead,
// the short slice's `Math.ceil` (in `timeout < 1 ? … : 1000`) had never run ("insufficient
// type feedback") — `many_clients_test.ts`'s first-connections test failed so once
// (bench/README.md, "ring33", "flake34"). The slices are made by a real eventfd's poll and
// a stack timer (`loop_short_slice_isolate.ts`), not by load.

import assert from "node:assert/strict";
import { deoptsFrom, tracePhases } from "../harness/deopt_trace.ts";

/** Run the isolate (`mode` its argument) and return the loop's deoptimisations in phase two. */
async function shortSliceDeopts(mode: string): Promise<string[]> {
  const isolate = new URL("./loop_short_slice_isolate.ts", import.meta.url).pathname;
  const { lines, from, to } = await tracePhases(isolate, [mode], "short");
  // Each phase made its slices (a slice is ~1 ms: thousands of them in seconds).
  const short = JSON.parse(lines[from]);
  const end = JSON.parse(lines[to]);
  assert.ok(short.blocks >= 3000, lines[from]);
  assert.ok(end.blocks - short.blocks >= 300, lines[to]);
  // The loop's code at any depth: a helper it inlined (a histogram's `record`) counts too.
  return deoptsFrom(lines.slice(from + 1, to), "/stack/event_loop.ts:");
}

Deno.test("sim loop: a slice under 1 ms after whole-ms slices with no timer armed", async () => {
  assert.deepEqual(await shortSliceDeopts("none"), [], "the loop deoptimised at a short slice");
});

Deno.test("sim loop: a slice under 1 ms after whole-ms slices with a timer ahead", async () => {
  assert.deepEqual(await shortSliceDeopts("far"), [], "the loop deoptimised at a short slice");
});
