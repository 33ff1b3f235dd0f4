// bench/rx_ab.ts `ringFrames`: what the stack's RX ring held in a run, read from its `driver:`
// counters line (the summary line says how many wire segments each ring frame carried).

import assert from "node:assert/strict";
import { ringFrames } from "../../bench/rx_ab.ts";

Deno.test("rx_ab ringFrames: bytes and wire segments per frame, flag shares", () => {
  const r = ringFrames(
    "rxFrames=4 rxBytes=120000 txFrames=9 rxCsumPartialFrames=3 rxCsumValidFrames=1 " +
      "rxGsoFrames=2 rxSmallRingFrames=2 rxLargeRingFrames=2",
    1448,
  );
  assert.ok(r !== null);
  assert.equal(r.bytesPerFrame, 30000);
  assert.ok(Math.abs(r.segmentsPerFrame - 30000 / 1448) < 1e-9);
  assert.equal(r.csumPartial, 0.75);
  assert.equal(r.csumValid, 0.25);
  assert.equal(r.gso, 0.5);
  assert.equal(r.small, 0.5);
});

Deno.test("rx_ab ringFrames: a line without frames, or an older stack's line without the flags", () => {
  assert.equal(ringFrames("txFrames=3 txKicks=3", 1448), null);
  const old = ringFrames("rxFrames=2 rxBytes=3000 rxSmallRingFrames=2", 1448);
  assert.ok(old !== null);
  assert.equal(old.csumPartial, 0);
  assert.equal(old.gso, 0);
  assert.equal(old.small, 1);
});
