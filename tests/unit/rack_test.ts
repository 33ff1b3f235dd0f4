import assert from "node:assert/strict";
import { DeliveryRate } from "../../transport/tcp/delivery_rate.ts";
import {
  MAX_UNDESCRIBED_RANGES,
  RackTlp,
  SACK_LIST_COMPLETE,
  SACK_LIST_REFUSED,
  SACK_LIST_UNDESCRIBED,
  type SackList,
  TLP_LOSS,
  TLP_NONE,
} from "../../transport/tcp/rack.ts";
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
  rack.onAck(sb, true, { sndUna: 1000, sndMax: 11000 }); // a D-SACK: step 2, reordering seen
  assert.equal(rack.reoWndMult, 2);
  assert.ok(rack.reorderingSeen);
  assert.equal(rack.reoWndMs(100, true, 5000, MSS), 50); // 2 × 100/4, even in recovery
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

/** An ACK of `ack` listing `blocks` in `optsLen` option bytes (40: a full list). */
function ackOf(ack: number, blocks: Uint32Array, optsLen = 40): SackList {
  return { ack, optsLen, opts: { sackBlocks: blocks, sackBlockCount: blocks.length / 2 } };
}

Deno.test("RACK: an undescribed range's first record is split to one segment and judged, the rest held until SND.UNA passes the range", () => {
  const sb = new Scoreboard(new DeliveryRate());
  sb.reset(1000);
  // One super-segment [1000, 11000) at t = 0, then ten single segments from 11000 at t = 1.
  sb.onSend(1000, 11000, 0, 0);
  for (let i = 0; i < 10; i++) sb.onSend(11000 + 1000 * i, 12000 + 1000 * i, 1, 0);
  const rack = new RackTlp();
  rack.reset();
  // A full list (three blocks beside timestamps: 40 option bytes) of new blocks above 1000.
  const blocks = new Uint32Array([19000, 21000, 16000, 18000, 13000, 15000]);
  assert.equal(rack.noteSackList(ackOf(1000, blocks), 0, { fack: 1000 }), SACK_LIST_UNDESCRIBED);
  // The same list with room for a fourth block (30 option bytes) described everything.
  assert.equal(
    new RackTlp().noteSackList(ackOf(1000, blocks, 30), 0, { fack: 1000 }),
    SACK_LIST_COMPLETE,
  );
  // A repeated old block last: every new block came before it.
  const repeated = new Uint32Array([19000, 21000, 16000, 18000, 1000, 2000]);
  assert.equal(
    new RackTlp().noteSackList(ackOf(1000, repeated), 0, { fack: 2000 }),
    SACK_LIST_COMPLETE,
  );
  sb.beginAck(10, 0);
  for (let k = 0; k < 3; k++) sb.sack(blocks[2 * k], blocks[2 * k + 1]);
  rack.onAck(sb, false, { sndUna: 1000, sndMax: 21000 });
  rack.detectLoss(sb, { eventMs: 10, rtt: { srttMs: 10 } }, true, MSS);
  // Lost: one segment of the range [1000, 13000) — its first — and the described holes
  // [15000, 16000) and [18000, 19000); not [2000, 13000).
  assert.equal(rack.newlyLostBytes, 3000);
  assert.equal(sb.start(0), 1000);
  assert.equal(sb.end(0), 2000);
  assert.equal(sb.flags(0) & SB_LOST, SB_LOST);
  assert.equal(sb.flags(1) & SB_LOST, 0);
  // SND.UNA passes the range (the first segment's resend filled the only hole): it is gone.
  sb.ackTo(13000);
  rack.onAck(sb, false, { sndUna: 13000, sndMax: 21000 });
  assert.equal(rack.undescribedCount, 0);
});

Deno.test("RACK: undescribed ranges are bounded; a list that reaches the last range extends it", () => {
  const rack = new RackTlp();
  const list = (d: number): SackList =>
    ackOf(d, new Uint32Array([d + 9000, d + 9500, d + 7000, d + 8000, d + 5000, d + 6000]));
  for (let k = 0; k < MAX_UNDESCRIBED_RANGES; k++) {
    assert.equal(rack.noteSackList(list(10000 * k), 0, { fack: 10000 * k }), SACK_LIST_UNDESCRIBED);
  }
  assert.equal(rack.undescribedCount, MAX_UNDESCRIBED_RANGES);
  // Reaching into the last range [30000, 35000): extended, not a new one.
  assert.equal(rack.noteSackList(list(32000), 0, { fack: 33000 }), SACK_LIST_UNDESCRIBED);
  assert.equal(rack.undescribed![2 * MAX_UNDESCRIBED_RANGES - 1], 37000);
  assert.equal(rack.noteSackList(list(100000), 0, { fack: 100000 }), SACK_LIST_REFUSED);
  assert.equal(rack.undescribedCount, MAX_UNDESCRIBED_RANGES);
});
