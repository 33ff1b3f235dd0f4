/**
 * TSO deferral (`TcpSender`, Linux `tcp_tso_should_defer`): a cwnd-limited sender whose ACK
 * frees only a sliver of a super-segment holds it when the next ACK is due soon — the oldest
 * unacknowledged segment at least half an RTT old — and sends at once when that ACK is still
 * more than half an RTT away, or late (an RTT old).
 */

import assert from "node:assert/strict";
import { ackOf, RIG_MSS, windowInFlight } from "../harness/sender_rig.ts";

const MSS = RIG_MSS;
const ack = ackOf;

/** The rig's window in flight, sent at `sentAt` (ms). */
function inFlight() {
  const rig = windowInFlight(1 << 20);
  return { ...rig, sentAt: rig.clock.nowMs() };
}

Deno.test("tso deferral: an ACK freeing a sliver while the next ACK is far off sends at once", () => {
  const { snd, conn, clock } = inFlight();
  assert.equal(snd.rtt.srttMs, 1);
  // 0.2 ms later (the oldest unacknowledged segment is younger than SRTT/2) two segments are
  // acknowledged: less than a third of the window is free, but the next ACK is ~0.8 ms away.
  clock.advance(0.2);
  assert(snd.onAck(ack(snd.sndUna + 2 * MSS)));
  snd.output();
  const sliver = snd.cc.cwnd - 28 * MSS; // two segments acknowledged, cwnd grown meanwhile
  assert(sliver < snd.cc.cwnd / 3, "a sliver: less than a third of the window");
  assert.deepEqual(conn.sent.map(([, , l]) => l), [sliver], "the sliver goes now");
});

Deno.test("tso deferral: an ACK freeing a sliver when the next ACK is due soon waits for it", () => {
  const { snd, conn, clock, sentAt } = inFlight();
  // 0.6 ms later (older than SRTT/2): the next ACK is due within ~0.4 ms — hold the sliver.
  clock.advance(0.6);
  assert(snd.onAck(ack(snd.sndUna + 2 * MSS)));
  snd.output();
  assert.equal(conn.sent.length, 0, "deferred");
  assert(snd.pacingTimer.armed);
  assert.equal(snd.pacingTimer.deadlineMs, sentAt + snd.rtt.srttMs, "a wake-up at one SRTT");
  // The next ACK comes: together more than a third of the window is free, one super-segment.
  clock.advance(0.1);
  assert(snd.onAck(ack(snd.sndUna + 9 * MSS)));
  snd.output();
  assert.equal(conn.sent.length, 1, "one super-segment");
  assert.equal(conn.sent[0][2], snd.cc.cwnd - 19 * MSS, "all the window allows");
});

Deno.test("tso deferral: a deferred sliver leaves when its ACK is late (an RTT)", () => {
  const { snd, conn, clock, timers } = inFlight();
  clock.advance(0.6);
  assert(snd.onAck(ack(snd.sndUna + 2 * MSS)));
  snd.output();
  assert.equal(conn.sent.length, 0);
  clock.advance(0.4); // one SRTT (~0.95 ms) after the window left
  assert(clock.nowMs() >= snd.pacingTimer.deadlineMs);
  timers.advanceTo(clock);
  // The wake-up (the pacing timer) runs the connection's output: here a stub, so call it.
  snd.output();
  assert.deepEqual(conn.sent.map(([, , l]) => l), [snd.cc.cwnd - 28 * MSS], "late: sent");
});
