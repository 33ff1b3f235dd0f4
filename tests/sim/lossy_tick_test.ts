// bench/lossy_tick.ts: the lossy CUBIC sender's tick in isolation on the af_packet rings in
// memory, against the bench's own lossy peer. The figures it reports are only worth reading
// when the run is the pattern it claims: a sender in congestion avoidance under ~1 % loss whose
// every loss is repaired through SACK, and whose every ACK the peer wrote arrived. No times
// here; no pacing (its release times are real time's: what a tick may send would depend on the
// machine).

import assert from "node:assert/strict";
import { lossyTick } from "../../bench/lossy_tick.ts";

const MSS = 1448;

Deno.test("lossy_tick: CUBIC under 1 % loss, every loss repaired, every ACK in", async () => {
  const { report: r } = await lossyTick({
    ticks: 6000,
    warm: 3000,
    lossPercent: 1,
    ackEvery: 2,
    pacing: false,
    mtu: 1500,
    cc: "cubic",
    profile: false,
  });
  // Enough traffic to mean anything, and the peer's seeded 1 % dropped.
  assert.ok(r.segmentsSent > 20_000, `segments sent: ${r.segmentsSent}`);
  const share = r.segmentsDropped / r.segmentsSent;
  assert.ok(share > 0.005 && share < 0.02, `dropped share: ${share}`);
  // The window is the loss rate's (~15–25 segments), not slow start's.
  assert.ok(r.meanCwnd >= 6 && r.meanCwnd <= 60, `mean cwnd: ${r.meanCwnd}`);
  // Every loss was resent, and SACK said which.
  assert.ok(r.retransmits >= r.segmentsDropped * 0.8, `${r.retransmits} / ${r.segmentsDropped}`);
  assert.ok(r.sackAcks > r.segmentsDropped, `SACK ACKs: ${r.sackAcks}`);
  // The first transmissions were acknowledged, less what was in flight at either end.
  const originals = r.segmentsSent - r.retransmits;
  const acked = r.bytesAcked / MSS;
  assert.ok(Math.abs(acked - originals) <= 200, `acked ${acked} of ${originals} sent`);
  // An ACK for at least every second segment, and each reached the sender.
  assert.ok(r.acksSent >= r.segmentsSent / 2 * 0.9, `ACKs sent: ${r.acksSent}`);
  assert.ok(Math.abs(r.acksIn - r.acksSent) <= 64, `ACKs in ${r.acksIn}, sent ${r.acksSent}`);
});

Deno.test("lossy_tick: without loss the window grows past the lossy run's", async () => {
  const { report: r } = await lossyTick({
    ticks: 3000,
    warm: 3000,
    lossPercent: 0,
    ackEvery: 2,
    pacing: false,
    mtu: 1500,
    cc: "cubic",
    profile: false,
  });
  assert.equal(r.segmentsDropped, 0);
  assert.equal(r.retransmits, 0);
  assert.ok(r.meanCwnd > 60, `mean cwnd: ${r.meanCwnd}`);
});
