// bench/tx_trace.ts's split of the gaps between a bulk sender's kicks (bench/README.md,
// "park11c"): which gaps there are, when the first ACK after the gap's kick came, how long it
// waited in the RX ring with and without a blocking slice, and the loop's time inside them.
import assert from "node:assert/strict";
import { GAP_MS, kickGaps } from "../../bench/tx_trace.ts";
import { TRACE_BLOCK, TRACE_SPIN, TRACE_TICK, TRACE_TRANSMIT } from "../../stack/loop_trace.ts";

Deno.test("tx_trace gaps: the gaps between kicks, their first ACK, its ring wait by blocking slice", () => {
  // Kicks 50 µs apart, then two gaps: 0.05 → 0.5 ms (a busy poll) and 0.55 → 1.5 ms (a blocking
  // slice that ends when its ACK is picked up).
  const kicks = [0, 0.05, 0.5, 0.55, 1.5];
  const batches = [
    { stamp: 0.02, pickup: 0.03 }, // between two close kicks: no gap
    { stamp: 0.2, pickup: 0.21 },
    { stamp: 0.7, pickup: 0.8 },
  ];
  const spans = [
    { kind: TRACE_SPIN, start: 0.06, end: 0.3 },
    { kind: TRACE_TICK, start: 0.4, end: 0.5 },
    { kind: TRACE_TRANSMIT, start: 0.45, end: 0.5 },
    { kind: TRACE_BLOCK, start: 0.6, end: 0.8 },
  ];
  const g = kickGaps(kicks, batches, spans, 2);
  assert.equal(GAP_MS, 0.15);
  assert.equal(g.count, 2);
  assert.equal(g.totalMs, 1.4);
  assert.equal(g.share, 0.7);
  assert.equal(g.withBlock, 1);
  assert.equal(g.withAck, 2);
  // Both first ACKs came 150 µs after the gap's kick.
  assert.deepEqual(g.ackAfterKickUs, { median: 150, p90: 150 });
  // The slice's ACK waited 100 µs in the ring, the busy poll's 10.
  assert.deepEqual(g.ringWaitBlockUs, { median: 100, p90: 100 });
  assert.deepEqual(g.ringWaitOtherUs, { median: 10, p90: 10 });
  // Pickup to the gap's end kick: 290 and 700 µs (the upper median of two).
  assert.equal(g.pickupToKickUs.median, 700);
  // Inside the gaps: the spin, the slice and the transmit half; a tick is not counted over it.
  assert.deepEqual(g.loopMs, { spin: 0.24, transmit: 0.05, block: 0.2 });
});

Deno.test("tx_trace gaps: none without a gap, no ACK figures without an ACK", () => {
  const none = kickGaps([0, 0.1, 0.2], [], [], 1);
  assert.equal(none.count, 0);
  assert.equal(none.totalMs, 0);
  const silent = kickGaps([0, 1], [], [], 1);
  assert.equal(silent.count, 1);
  assert.equal(silent.withAck, 0);
  assert.ok(Number.isNaN(silent.ackAfterKickUs.median));
});
