// A loop driven without its async function (`#drive`, a bulk stream whose ticks need no
// microtask turns) hands back to the async function when it goes to park. That hand-over's
// store and call were reached only then, and V8 allocates a function's feedback vector at its
// 8th call only: a server's warm-up and its rehearsal of the idle sequence did not always
// reach it after that, V8 compiled `#drive` without feedback for it, and threw the code away
// (inlined in `#onDriveTurn`: "insufficient type feedback for generic keyed access" at
// `this.#direct = false`) at the first such park after its ready line — 1 run in ~30 of
// `many_clients_test.ts`' server test (bench/README.md, "flake34", "drive35"). Every loop now
// rehearses the hand-over at its start. The park is made by a real eventfd's poll, after a
// stream on the UDP rig (`loop_drive_park_isolate.ts`), not by load.

import assert from "node:assert/strict";
import { deoptsFrom, tracePhases } from "../harness/deopt_trace.ts";

Deno.test("sim loop: a loop driven without its async function parks without a deopt", async () => {
  const isolate = new URL("./loop_drive_park_isolate.ts", import.meta.url).pathname;
  const { lines, from, to } = await tracePhases(isolate, ["2000"], "idle");
  const idle = JSON.parse(lines[from]);
  const end = JSON.parse(lines[to]);
  // The stream was driven so (thousands of turns), and the idle phase parked.
  assert.ok(idle.directYields >= 1000, lines[from]);
  assert.ok(end.parks >= 3, lines[to]);
  // `#drive`'s code at any depth (inlined in `#onDriveTurn` too). The idle tick's own paths met
  // in a loop driven so (`#transmitHalf` at the next deadline, `#receiveHalf` at the spin) are
  // not this test's: this isolate's first loop rehearses them without being driven so, and
  // under load some were still thrown away (2 runs in ~12 beside busy loops, both builds;
  // bench/README.md, "drive35").
  const deopts = deoptsFrom(lines.slice(from + 1, to), "/stack/event_loop.ts:").filter((d) =>
    /^(#drive|#onDriveTurn) /.test(d)
  );
  assert.deepEqual(deopts, [], "the loop deoptimised at its hand-over to park");
});
