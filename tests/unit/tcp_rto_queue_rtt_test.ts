/**
 * The queue's round trip RACK holds a resend's delivery against (`AckResults.queueRttMs`,
 * bench/README.md, branch `bbr11n`): the newest RTT sample of never-retransmitted data, kept
 * by the loss control and handed to the scoreboard with each ACK. A retransmission timeout
 * sends everything again from SND.UNA — no queue of originals is ahead of the resends any
 * more — so the RTO clears it: the next ACK's scoreboard sees 0.
 */

import assert from "node:assert/strict";
import { CA_LOSS } from "../../transport/tcp/recovery.ts";
import { ackOf, RIG_MSS, windowInFlight } from "../harness/sender_rig.ts";

/** A window of 30 segments in flight, its first 5 acknowledged 3 ms on (a sample of 3 ms). */
function sampled() {
  const rig = windowInFlight(1 << 20);
  const { snd, clock } = rig;
  clock.advance(3);
  assert(snd.onAck(ackOf(snd.sndUna + 5 * RIG_MSS)));
  return rig;
}

Deno.test("queueRttMs: an ACK after a sample of new data hands the scoreboard that sample", () => {
  const { snd, clock } = sampled();
  clock.advance(0.1);
  snd.onAck(ackOf(snd.sndUna)); // a duplicate ACK
  assert.equal(snd.loss.sb.ackResults.queueRttMs, 3);
});

Deno.test("queueRttMs: a retransmission timeout clears it — the next ACK's scoreboard sees 0", () => {
  const { snd, clock, timers } = sampled();
  const una = snd.sndUna;
  // Nothing more comes back: the RTO fires and the sender goes again from SND.UNA.
  const deadline = timers.nextDeadlineMs();
  assert(Number.isFinite(deadline) && deadline > clock.nowMs());
  clock.advance(deadline - clock.nowMs() + 1);
  timers.advance(clock.nowMs());
  assert.equal(snd.loss.rec.state, CA_LOSS, "the RTO fired");
  clock.advance(0.1);
  snd.onAck(ackOf(una)); // a duplicate ACK: no sample, nothing delivered
  assert.equal(snd.loss.sb.ackResults.queueRttMs, 0);
});
