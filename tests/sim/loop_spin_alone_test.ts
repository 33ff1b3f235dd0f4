// The busy poll keeps its compiled code at the first `sched_yield` that comes straight back
// after V8 compiled it on yields that all went to another task — a fresh client warmed up
// beside busy processes, whose first connections then meet a yield alone. With that yield's
// counters and compares reached only in its branch (and in `yieldWasAlone`'s second compare,
// behind `&&`), V8 had no type feedback for them and threw the code away there:
// `many_clients_test.ts`'s first-connections test failed so (bench/README.md, "ring33").
// The yields' lengths are made by the loop's clock (`loop_spin_alone_isolate.ts`), not by load.

import assert from "node:assert/strict";
import { deoptsFrom, tracePhases } from "../harness/deopt_trace.ts";

const NAME = "sim loop: the busy poll is not deoptimised at its first yield that came back alone";

Deno.test(NAME, async () => {
  const isolate = new URL("./loop_spin_alone_isolate.ts", import.meta.url).pathname;
  const { lines, from, to } = await tracePhases(isolate, [], "alone");
  const trained = JSON.parse(lines[from]);
  const end = JSON.parse(lines[to]);
  // The first phase's yields all went to another task, the second's came back alone.
  assert.equal(trained.spinFirstAlone, 0);
  assert.ok(end.spinFirstAlone > 0, lines[to]);
  // The loop's code at any depth: a helper it inlined (a histogram's `record`) counts too.
  const loop = deoptsFrom(lines.slice(from + 1, to), "/stack/event_loop.ts:");
  assert.deepEqual(loop, [], "the loop deoptimised at its first yields alone");
});
