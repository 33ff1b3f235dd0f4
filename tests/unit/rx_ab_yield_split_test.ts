// `bench/rx_ab.ts`'s yield split: the busy poll's yields per wire packet beside the driver's
// syscalls, per spin, and the shares at a spin's first poll, after a kick and straight back,
// from a run's `driver:` and `loop:` counters (bench/README.md, "sys13g").

import assert from "node:assert/strict";
import { yieldSplit } from "../../bench/rx_ab.ts";

Deno.test("rx_ab yield split: per wire packet, per spin and the first-poll shares", () => {
  const s = yieldSplit(
    "rxBytes=14480 txFrames=10 syscalls=10",
    "spins=40 spinYields=20 spinFirstYields=10 spinKickYields=6 spinFirstAlone=9 " +
      "spinQuietStarts=5 spinLatePolls=2",
    1448,
  );
  // 10 segments received + 10 frames sent = 20 wire packets.
  assert.equal(s.driverPerWire, 0.5);
  assert.equal(s.yieldsPerWire, 1);
  // 20 yields over 10 spins that began with a yield and 5 that began quiet.
  assert.ok(Math.abs(s.yieldsPerSpin - 20 / 15) < 1e-9);
  assert.equal(s.firstShare, 0.5);
  assert.equal(s.kickShareOfFirst, 0.6);
  assert.equal(s.aloneShareOfFirst, 0.9);
  assert.equal(s.quietStarts, 5);
  assert.equal(s.latePolls, 2);
});

Deno.test("rx_ab yield split: a CLI without the counters reads as zeros, not NaN", () => {
  const s = yieldSplit("rxBytes=14480 txFrames=10 syscalls=10", "spins=40 spinYields=20", 1448);
  assert.equal(s.yieldsPerWire, 1);
  assert.equal(s.yieldsPerSpin, 0);
  assert.equal(s.firstShare, 0);
  assert.equal(s.kickShareOfFirst, 0);
});
