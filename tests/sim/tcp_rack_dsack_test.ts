// RACK's reordering window after a D-SACK that shows no reordering (RFC 8985 §6.2 step 4):
// the D-SACK widens the window (one more step of min_RTT/4), but only reordering the ACKs
// show sets RACK.reordering_seen — until then a sender in recovery, or with DupThresh
// segments SACKed above a hole, waits no window before it resends.

import assert from "node:assert/strict";
import { SIM_DROP } from "../../link/sim_wire.ts";
import { BulkFlow, connectPair, makeSimNet, tcpOfFrame } from "../harness/sim_net.ts";

Deno.test("tcp RACK: a D-SACK of a duplicate the network made widens the window but is not reordering: a later loss is resent on the ACK that shows it", () => {
  // 20 ms RTT, no bottleneck: the only losses are the one this test makes.
  const net = makeSimNet({ wire: { delayMs: 10, queueFrames: 8192 } });
  const { c, s } = connectPair(net);
  const flow = new BulkFlow(c, s, 4_000_000);
  const stats = net.a.stats.tcp;
  // Phase 1 (after 500 KB): the wire duplicates the sender's frames for 25 ms; the receiver
  // reports the copies of in-order data it already had as D-SACKs (RFC 2883), of data the
  // sender never resent. Phase 2 (after 2 MB): one data segment is dropped; its resend is
  // timed from the original's send.
  let phase = 0;
  let dupUntil = 0;
  let lostSeq = -1;
  let lostAtMs = -1;
  let resentAtMs = -1;
  net.wire.setFrameHook(net.portA, (frame, len) => {
    const t = tcpOfFrame(frame, len);
    if (t === null || t.dataLen === 0) return 0;
    if (phase === 2 && lostSeq < 0) {
      lostSeq = t.seq;
      lostAtMs = net.clock.nowMs();
      phase = 3;
      return SIM_DROP;
    }
    if (phase === 3 && t.seq === lostSeq && resentAtMs < 0) resentAtMs = net.clock.nowMs();
    return 0;
  });
  let timerMarksBefore = -1;
  assert.ok(
    net.run(() => {
      if (phase === 0 && flow.read >= 500_000) {
        phase = 1;
        dupUntil = net.clock.nowMs() + 25;
        net.wire.setFaults({ duplicateRate: 1 }, net.portA);
      } else if (phase === 1 && net.clock.nowMs() >= dupUntil) {
        net.wire.setFaults({ duplicateRate: 0 }, net.portA);
        if (flow.read >= 2_000_000) {
          timerMarksBefore = stats.TCPRackTimerLostSegs;
          phase = 2;
        }
      }
      return flow.step();
    }, 60_000),
  );
  const got = JSON.stringify({
    dsack: stats.TCPDSACKRecv,
    unknown: stats.TCPDSACKUnknown,
    reorder: stats.TCPSACKReorder,
    rackLost: stats.TCPRackLostSegs,
    timerLost: stats.TCPRackTimerLostSegs,
    copies: net.wire.stats.framesDuplicated,
    dsackSent: net.b.stats.tcp.TCPDSACKOldSent,
    lostAtMs,
    resentAtMs,
  });
  assert.ok(stats.TCPDSACKRecv >= 1 && stats.TCPDSACKUnknown >= 1, `D-SACKs of copies: ${got}`);
  assert.equal(stats.TCPSACKReorder, 0, `no ACK showed reordering: ${got}`);
  assert.ok(c.snd.rack.reoWndMult >= 2, "the D-SACK widened the window a step");
  assert.equal(c.snd.rack.reorderingSeen, false, "but reordering was not seen");
  assert.ok(resentAtMs > 0, `the dropped segment was resent: ${got}`);
  // It is resent on the first ACKs that SACK DupThresh segments above it: one round trip
  // (20 ms) after it was sent, plus the segments' time in flight — not after a reordering
  // window (min_RTT/4 per step: 10 ms with two) on RACK's timer.
  assert.equal(stats.TCPRackTimerLostSegs, timerMarksBefore, `marked on an ACK: ${got}`);
  const rtt = c.snd.rack.minRttMs;
  assert.ok(resentAtMs - lostAtMs < rtt + 3, `resent after ${resentAtMs - lostAtMs} ms: ${got}`);
});
