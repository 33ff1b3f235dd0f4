import assert from "node:assert/strict";
import { DeliveryRate } from "../../transport/tcp/delivery_rate.ts";
import { RackTlp, TLP_LOSS, TLP_NONE } from "../../transport/tcp/rack.ts";
import { SB_LOST, Scoreboard } from "../../transport/tcp/scoreboard.ts";

const MSS = 1000;

/** Ten segments sent 1 ms apart from t = 0: [1000 + 1000i, 2000 + 1000i). */
function setup(): { sb: Scoreboard; rack: RackTlp } {
  const sb = new Scoreboard(new DeliveryRate());
  sb.reset(1000);
  for (let i = 0; i < 10; i++) sb.onSend(1000 + 1000 * i, 2000 + 1000 * i, i, 0);
  const rack = new RackTlp();
  rack.reset();
  return { sb, rack };
}

Deno.test("RACK: a segment sent before a delivered one is lost once RTT + reo_wnd passed", () => {
  const { sb, rack } = setup();
  // At 105 the segment sent at 5 is SACKed: RACK.rtt = 100.
  sb.beginAck(105, rack.minRttMs);
  sb.sack(6000, 7000);
  rack.onAck(sb, false, { sndUna: 1000, sndMax: 11000 });
  assert.equal(rack.rttMs, 100);
  assert.equal(rack.xmitMs, 5);
  // No reordering seen, fewer than DupThresh SACKed, not recovering: min_RTT/4 = 25 ms.
  assert.equal(rack.reoWndMs(100, false, sb.sackedBytes, MSS), 25);
  let wait = rack.detectLoss(sb, { eventMs: 105, rtt: { srttMs: 100 } }, false, MSS);
  assert.equal(rack.newlyLostBytes, 0);
  // A segment sent at t is lost at t + 100 + 25; the timer waits for the last of those sent
  // before the delivered one (RFC 8985 §6.2: the longest remaining): 4 + 125 − 105 = 24.
  assert.equal(wait, 24);
  wait = rack.detectLoss(sb, { eventMs: 125, rtt: { srttMs: 100 } }, false, MSS);
  assert.equal(rack.newlyLostBytes, 1000); // only the one sent at 0
  assert.equal(sb.flags(0) & SB_LOST, SB_LOST);
  wait = rack.detectLoss(sb, { eventMs: 130, rtt: { srttMs: 100 } }, false, MSS);
  assert.equal(rack.newlyLostBytes, 4000); // sent at 1..4; not 5 (SACKed) nor later ones
  assert.equal(wait, 0);
  assert.equal(sb.lostBytes, 5000);
});

Deno.test("RACK: with DupThresh segments SACKed (or in recovery) the window is zero", () => {
  const { sb, rack } = setup();
  sb.beginAck(105, 0);
  sb.sack(7000, 10000); // three segments
  rack.onAck(sb, false, { sndUna: 1000, sndMax: 11000 });
  assert.equal(rack.reoWndMs(100, false, sb.sackedBytes, MSS), 0);
  // The newest SACKed was sent at 8 (RACK.rtt 97): everything unSACKed sent before it is
  // lost at once — the segments sent at 0..5; the one sent at 9 is after it.
  assert.equal(rack.detectLoss(sb, { eventMs: 105, rtt: { srttMs: 100 } }, false, MSS), 0);
  assert.equal(rack.newlyLostBytes, 6000);
  // In recovery too, without reordering seen.
  assert.equal(rack.reoWndMs(100, true, 0, MSS), 0);
});

Deno.test("RACK detects a lost retransmission from a later delivery (RFC 8985 §6)", () => {
  const { sb, rack } = setup();
  sb.beginAck(105, 0);
  sb.sack(4000, 11000);
  rack.onAck(sb, false, { sndUna: 1000, sndMax: 11000 });
  rack.detectLoss(sb, { eventMs: 105, rtt: { srttMs: 100 } }, true, MSS);
  assert.equal(sb.lostBytes, 3000);
  // Retransmit the three at 106, 107, 108; the last is delivered at 208, the others are not.
  for (let k = 0; k < 3; k++) sb.onRetransmit(sb.nextLost(), 1000, 106 + k);
  sb.beginAck(208, rack.minRttMs);
  sb.sack(3000, 4000);
  rack.onAck(sb, false, { sndUna: 1000, sndMax: 11000 });
  assert.equal(rack.xmitMs, 108);
  rack.detectLoss(sb, { eventMs: 210, rtt: { srttMs: 100 } }, true, MSS);
  assert.equal(rack.newlyLostBytes, 2000);
  assert.equal(sb.lostRetransmits, 2);
});

Deno.test("RACK: D-SACK widens the reordering window per round; 16 recoveries shrink it back", () => {
  const { sb, rack } = setup();
  sb.beginAck(105, 0);
  sb.sack(6000, 7000);
  rack.onAck(sb, false, { sndUna: 1000, sndMax: 11000 });
  assert.equal(rack.reoWndMult, 1);
  rack.onAck(sb, true, { sndUna: 1000, sndMax: 11000 }); // a D-SACK: a step wider
  assert.equal(rack.reoWndMult, 2);
  assert.equal(rack.reoWndMs(100, false, 1000, MSS), 50); // 2 × 100/4
  // A D-SACK is not reordering seen (§6.2 step 3 decides that): no window in recovery or
  // with DupThresh segments SACKed.
  assert.equal(rack.reorderingSeen, false);
  assert.equal(rack.reoWndMs(100, true, 1000, MSS), 0);
  assert.equal(rack.reoWndMs(100, false, 5000, MSS), 0);
  // Once reordering is seen the widened window holds there too.
  rack.reorderingSeen = true;
  assert.equal(rack.reoWndMs(100, true, 5000, MSS), 50);
  rack.onAck(sb, true, { sndUna: 2000, sndMax: 11000 }); // same round (SND.UNA before 11000): no step
  assert.equal(rack.reoWndMult, 2);
  rack.onAck(sb, true, { sndUna: 11000, sndMax: 12000 }); // the round ended: a new D-SACK steps again
  assert.equal(rack.reoWndMult, 3);
  assert.equal(rack.reoWndMs(40, false, 0, MSS), 40); // capped at SRTT
  for (let i = 0; i < 15; i++) rack.onRecoveryEnd();
  assert.equal(rack.reoWndMult, 3);
  rack.onRecoveryEnd();
  assert.equal(rack.reoWndMult, 1);
});

Deno.test("TLP: PTO is 2·SRTT (+ delayed-ACK allowance for one segment), capped by the RTO", () => {
  const rack = new RackTlp();
  assert.equal(rack.ptoMs(true, 10, 5000, MSS, 1000), 22);
  assert.equal(rack.ptoMs(true, 10, 1000, MSS, 1000), 220);
  assert.equal(rack.ptoMs(true, 10, 1000, MSS, 150), 150);
  assert.equal(rack.ptoMs(false, 0, 5000, MSS, 3000), 1000);
});

Deno.test("TLP episode: a retransmitted probe ACKed beyond it without D-SACK means a loss", () => {
  const rack = new RackTlp();
  rack.probeSent(5000, true);
  assert.equal(rack.tlpAck(4000, -1, true), TLP_NONE); // not yet
  assert.ok(rack.tlpActive);
  assert.equal(rack.tlpAck(5000, -1, true), TLP_NONE); // exactly at it: wait for more
  assert.equal(rack.tlpAck(6000, -1, true), TLP_LOSS);
  assert.ok(!rack.tlpActive);
  rack.probeSent(5000, true);
  assert.equal(rack.tlpAck(5000, 5000, false), TLP_NONE); // D-SACK: the probe was a duplicate
  assert.ok(!rack.tlpActive);
  rack.probeSent(5000, true);
  assert.equal(rack.tlpAck(5000, -1, false), TLP_NONE); // a pure duplicate ACK: both arrived
  assert.ok(!rack.tlpActive);
  rack.probeSent(5000, false);
  assert.equal(rack.tlpAck(6000, -1, true), TLP_NONE); // a new-data probe: nothing to learn
  assert.ok(!rack.tlpActive);
});

Deno.test("RACK: min_RTT's filter is built at the first sample, one per connection, none before", () => {
  const a = setup(), b = setup();
  // Before any sample both read an empty filter (shared, no object of their own: branch held9c).
  assert.equal(a.rack.minRtt, b.rack.minRtt);
  assert.equal(a.rack.minRtt.empty, true);
  a.sb.beginAck(105, a.rack.minRttMs);
  a.sb.sack(6000, 7000);
  a.rack.onAck(a.sb, false, { sndUna: 1000, sndMax: 11000 });
  assert.equal(a.rack.minRttMs, 100);
  assert.notEqual(a.rack.minRtt, b.rack.minRtt);
  // The other connection, and a new one, still see no sample.
  assert.equal(b.rack.minRttMs, 0);
  assert.equal(b.rack.minRtt.empty, true);
  assert.equal(new RackTlp().minRtt.empty, true);
  b.sb.beginAck(57, b.rack.minRttMs);
  b.sb.sack(3000, 4000); // sent at 2: 55 ms
  b.rack.onAck(b.sb, false, { sndUna: 1000, sndMax: 11000 });
  assert.equal(b.rack.minRttMs, 55);
  assert.equal(a.rack.minRttMs, 100);
  // A reset (a pooled connection reused) forgets the samples and keeps its own filter.
  const own = a.rack.minRtt;
  a.rack.reset();
  assert.equal(a.rack.minRttMs, 0);
  assert.equal(a.rack.minRtt, own);
  assert.equal(b.rack.minRttMs, 55);
});
