// bench/udp_ab.ts: what limited a UDP sender run (its sink overrun, or the sender), and sender and
// sink put on one CPU or on two.

import assert from "node:assert/strict";
import { OVERRUN_SHARE, pinned, sendLimit } from "../../bench/udp_ab.ts";

Deno.test("udp_ab: a run is 'overrun' only when the sink's socket lost more than 5 %", () => {
  assert.equal(OVERRUN_SHARE, 0.05);
  // The twentieth session's slow ustack→kernel row at MTU 9000: 8.98 Gbit/s sent, 317 lost.
  assert.equal(sendLimit(251_908, 317), "sender");
  // udp13b's start: more than half of what reached the sink lost in its socket buffer.
  assert.equal(sendLimit(367_938, 295_423), "overrun");
  assert.equal(sendLimit(95_000, 5_000), "sender"); // exactly 5 %: not more
  assert.equal(sendLimit(94_000, 6_000), "overrun");
  assert.equal(sendLimit(0, 0), "sender");
});

Deno.test("udp_ab: pinned runs a command on one CPU with taskset, or leaves it", () => {
  assert.deepEqual(pinned(0, ["python3", "-c", "pass"]), [
    "taskset",
    "-c",
    "0",
    "python3",
    "-c",
    "pass",
  ]);
  assert.deepEqual(pinned(null, ["deno", "run"]), ["deno", "run"]);
});
