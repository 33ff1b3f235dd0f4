/**
 * How one output pass packs what the congestion window allows into super-segments
 * (`TcpSender.output`): the window counts whole segments, as Linux counts packets, and a
 * window that ends inside a segment lets that segment go in the same super-segment — one
 * frame for the kernel to take, not a super-segment of the whole segments and then a frame
 * of one (under 1 % loss PRR's and CUBIC's windows are rarely whole segments: measured in
 * `bench:cc`, 74 frames per MB before, 55 after; bench/README.md, branch `cc11m`).
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
 * An unpaced NewReno sender with an SRTT of 1 ms, a window of 30 segments all in flight
 * (ISS 1000), 1 MiB more to send.
 */
function windowInFlight(): { snd: TcpSender; conn: SenderStub; clock: VirtualClock } {
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
  snd.setBufferSize(1 << 21);
  snd.write(new Uint8Array(1 << 21), 0, 1 << 21);
  snd.output();
  clock.advance(1);
  assert(snd.onAck(ack(snd.sndNxt)));
  snd.cc.setCwnd(30 * MSS);
  conn.sent.length = 0;
  snd.output();
  assert.equal(snd.sndNxt - snd.sndUna, 30 * MSS, "the whole window in flight");
  conn.sent.length = 0;
  return { snd, conn, clock };
}

Deno.test("output: a window ending inside a segment leaves as one super-segment, that segment included", () => {
  const { snd, conn, clock } = windowInFlight();
  // 0.2 ms later (no TSO deferral: the next ACK is far off) ten segments are acknowledged and
  // the window is 30.5 segments: 10.5 free, which Linux counts as 11 packets.
  clock.advance(0.2);
  assert(snd.onAck(ack(snd.sndUna + 10 * MSS)));
  snd.cc.setCwnd(30 * MSS + 500);
  snd.output();
  assert.deepEqual(conn.sent.map(([, , l]) => l), [11 * MSS], "one frame of eleven segments");
});

Deno.test("output: a window of whole segments sends exactly them, in one super-segment", () => {
  const { snd, conn, clock } = windowInFlight();
  clock.advance(0.2);
  assert(snd.onAck(ack(snd.sndUna + 10 * MSS)));
  snd.cc.setCwnd(30 * MSS);
  snd.output();
  assert.deepEqual(conn.sent.map(([, , l]) => l), [10 * MSS]);
});

Deno.test("output: the peer's window still ends a super-segment on a segment boundary below it", () => {
  const { snd, conn, clock } = windowInFlight();
  clock.advance(0.2);
  const a = ack(snd.sndUna + 10 * MSS);
  // The peer's window (scale 7) is 40,960 bytes from the new SND.UNA, 20,960 of them free
  // with 20 segments in flight; cwnd (60.5 segments) would allow 41. The peer's window is
  // counted in bytes: twenty whole segments, no runt.
  a.window = 320; // 320 << 7 = 40,960
  assert(snd.onAck(a));
  snd.cc.setCwnd(60 * MSS + 500);
  snd.output();
  assert.deepEqual(conn.sent.map(([, , l]) => l), [20 * MSS], "rounded down to the peer's window");
});
