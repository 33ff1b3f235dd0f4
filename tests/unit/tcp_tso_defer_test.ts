/**
 * TSO deferral (`TcpSender`, Linux `tcp_tso_should_defer`): a cwnd-limited sender whose ACK
 * frees only a sliver of a super-segment holds it when the next ACK is due soon — the oldest
 * unacknowledged segment at least half an RTT old — and sends at once when that ACK is still
 * more than half an RTT away, or late (an RTT old).
 */

import { SenderStub } from "../harness/sender_stub.ts";
import assert from "node:assert/strict";
import { VirtualClock } from "../../core/clock.ts";
import { TimerWheel } from "../../core/timer_wheel.ts";
import { latencyHistogram } from "../../core/histogram.ts";
import { StackStats } from "../../stack/stats.ts";
import { resolveTcpOptions, type TransportContext } from "../../transport/tcp/context.ts";
import { TCP_FLAG_ACK } from "../../transport/tcp/header.ts";
import { RxSegment } from "../../transport/tcp/segment.ts";
import { TcpSender } from "../../transport/tcp/sender.ts";

const MSS = 1000;

function ack(n: number): RxSegment {
  const s = new RxSegment();
  s.seq = 7001;
  s.ack = n >>> 0;
  s.flags = TCP_FLAG_ACK;
  s.window = 65535;
  s.buf = new Uint8Array(0);
  return s;
}

/**
 * A NewReno sender (unpaced), cwnd 30 segments, with an SRTT of 1 ms
 * from a first round trip, 30 segments in flight sent at `sentAt` (ms): ISS 1000, data from
 * 1001.
 */
function inFlight(): {
  snd: TcpSender;
  conn: SenderStub;
  clock: VirtualClock;
  timers: TimerWheel;
  sentAt: number;
} {
  const clock = new VirtualClock(1000);
  const timers = new TimerWheel({ startMs: clock.nowMs() });
  const ctx = { clock, timers } as unknown as TransportContext;
  const opts = resolveTcpOptions({ congestionControl: "newreno", pacing: false });
  const svc = { ctx, opts, stats: new StackStats().tcp, rttNs: latencyHistogram() };
  const conn = new SenderStub(64_000);
  const snd = new TcpSender(conn, svc);
  conn.una = () => snd.sndUna;
  snd.start(1000, clock.nowMs());
  snd.peerSyn(1 << 20, 7000, 1001);
  snd.setPeerOptions(7, MSS);
  snd.sndNxt = 1001;
  snd.sndMax = 1001;
  snd.sndUna = 1001;
  snd.established(clock.nowMs());
  snd.setNoDelay(true);
  snd.setBufferSize(1 << 20);
  snd.write(new Uint8Array(1 << 20), 0, 1 << 20);
  // A first round trip: the initial window out, acknowledged 1 ms later (SRTT 1 ms).
  snd.output();
  clock.advance(1);
  assert(snd.onAck(ack(snd.sndNxt)));
  // A window of 30 segments, filled.
  snd.cc.setCwnd(30 * MSS);
  conn.sent.length = 0;
  snd.output();
  assert.equal(snd.sndNxt - snd.sndUna, 30 * MSS, "the whole window in flight");
  conn.sent.length = 0;
  return { snd, conn, clock, timers, sentAt: clock.nowMs() };
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
