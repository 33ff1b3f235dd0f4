/**
 * The two halves of a connection on their own: a TcpReceiver and a TcpSender driven through
 * stub connections (no stack, no wire), checking the state each owns and what it asks of its
 * connection.
 */

import type { TcpHeaderOptions } from "../../transport/tcp/options.ts";
import { latencyHistogram } from "../../core/histogram.ts";
import { SenderStub } from "../harness/sender_stub.ts";
import assert from "node:assert/strict";
import { VirtualClock } from "../../core/clock.ts";
import { TimerWheel } from "../../core/timer_wheel.ts";
import { StackStats } from "../../stack/stats.ts";
import {
  resolveTcpOptions,
  type TcpOptions,
  type TcpServices,
  type TransportContext,
} from "../../transport/tcp/context.ts";
import { TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_SYN } from "../../transport/tcp/header.ts";
import { type ReceiverConnection, TcpReceiver } from "../../transport/tcp/receiver.ts";
import { RxSegment } from "../../transport/tcp/segment.ts";
import { ACK_OK, ACK_TOO_NEW, ACK_TOO_OLD, TcpSender } from "../../transport/tcp/sender.ts";
import { seqAdd, seqSub } from "../../transport/tcp/seq.ts";
import { TcpEvent, TcpState } from "../../transport/tcp/state.ts";

/** Layer services over a virtual clock and a timer wheel; nothing else is reachable. */
function services(opts: TcpOptions = {}): { svc: TcpServices; clock: VirtualClock } {
  const clock = new VirtualClock(1000);
  const timers = new TimerWheel({ startMs: clock.nowMs() });
  const ctx = { clock, timers } as unknown as TransportContext;
  const stats = new StackStats().tcp;
  return { svc: { ctx, opts: resolveTcpOptions(opts), stats, rttNs: latencyHistogram() }, clock };
}

/** A segment from the peer. */
function segment(seq: number, flags: number, data = 0, ack = 0, window = 65535): RxSegment {
  const s = new RxSegment();
  s.seq = seq >>> 0;
  s.ack = ack >>> 0;
  s.flags = flags;
  s.window = window;
  s.buf = new Uint8Array(data);
  s.dataOff = 0;
  s.dataLen = data;
  s.segLen = data + ((flags & TCP_FLAG_SYN) !== 0 ? 1 : 0) + ((flags & TCP_FLAG_FIN) !== 0 ? 1 : 0);
  return s;
}

class ReceiverStub implements ReceiverConnection {
  state: TcpState = TcpState.ESTABLISHED;
  tsOk = false;
  acks = 0;
  events: TcpEvent[] = [];
  tsNow(): number {
    return 0;
  }
  tsEchoAgeMs(opts: TcpHeaderOptions): number {
    return (0 - opts.tsEcr) >>> 0;
  }
  /** Output scheduled for the end of the tick (an ACK owed then). */
  scheduled = 0;
  sendAck(): void {
    this.acks++;
  }
  scheduleOutput(): void {
    this.scheduled++;
  }
  transition(ev: TcpEvent): void {
    this.events.push(ev);
    if (ev === TcpEvent.RCV_FIN) this.state = TcpState.CLOSE_WAIT;
  }
  updateReadiness(): void {}
}

Deno.test("tcp receiver: the advertised right edge never moves left as the buffer fills", () => {
  const { svc } = services({ receiveBufferBytes: 8192, quickAcks: 0, coalesceAcks: false });
  const conn = new ReceiverStub();
  const rcv = new TcpReceiver(conn, svc, 1460);
  rcv.init(5000);
  assert.equal(rcv.windowField(), 8192);
  const right = rcv.rcvAdvRight;
  assert.equal(right, seqAdd(5001, 8192));
  rcv.receive(segment(5001, TCP_FLAG_ACK, 3000));
  assert.equal(rcv.rcvNxt, 8001);
  assert.equal(conn.acks, 1, "3000 bytes are two full-sized segments: ACKed at once");
  // 5192 bytes free but the edge stays where it was: the window is what is left of it.
  assert.equal(rcv.windowField(), 5192);
  assert.equal(rcv.rcvAdvRight, right);
  // Reading opens it again; a window update goes out once it at least doubled.
  const n = rcv.read(new Uint8Array(3000), 0, 3000);
  assert.equal(n, 3000);
  assert.equal(conn.acks, 1, "no window update: 5192 → 8192 is not a doubling");
  // Another 3000 in and read: the window (2192 advertised) now at least doubles → update.
  rcv.receive(segment(8001, TCP_FLAG_ACK, 3000));
  rcv.ackSent();
  assert.equal(rcv.window, 5192 - 3000);
  const scheduled = conn.scheduled;
  rcv.read(new Uint8Array(3000), 0, 3000);
  // The update is owed at the end of the tick (on an answer written meanwhile, if any).
  assert.equal(conn.acks, 2);
  assert.equal(rcv.ackPending, true);
  assert.equal(conn.scheduled, scheduled + 1);
});

Deno.test("tcp receiver: a zero window still takes the ACK of a segment at RCV.NXT", () => {
  const { svc } = services({ receiveBufferBytes: 1000, quickAcks: 0 });
  const rcv = new TcpReceiver(new ReceiverStub(), svc, 1460);
  rcv.init(0);
  rcv.windowField();
  rcv.receive(segment(1, TCP_FLAG_ACK, 1000));
  assert.equal(rcv.window, 0);
  const s = segment(1001, TCP_FLAG_ACK | TCP_FLAG_FIN, 10);
  assert(rcv.acceptable(s));
  assert.deepEqual([s.dataLen, s.flags, s.segLen], [0, TCP_FLAG_ACK, 0]);
  assert(!rcv.acceptable(segment(1002, TCP_FLAG_ACK, 10)));
});

Deno.test("tcp receiver: ACK every second full-sized segment, else delay; ackSent settles it", () => {
  const { svc, clock } = services({ quickAcks: 0, delayedAckMs: 40, coalesceAcks: false });
  const conn = new ReceiverStub();
  const rcv = new TcpReceiver(conn, svc, 1460);
  rcv.init(0);
  rcv.receive(segment(1, TCP_FLAG_ACK, 1000));
  assert.equal(conn.acks, 0);
  assert(rcv.ackPending && rcv.delackTimer.armed);
  rcv.receive(segment(1001, TCP_FLAG_ACK, 1000));
  assert.equal(conn.acks, 1); // 2000 bytes ≥ 2 × rcvMss (1000)
  rcv.ackSent();
  assert(!rcv.ackPending && !rcv.delackTimer.armed);
  assert.equal(rcv.lastAckSent, 2001);
  rcv.receive(segment(2001, TCP_FLAG_ACK, 10));
  svc.ctx.timers.advance(clock.nowMs() + 40);
  assert.equal(conn.acks, 2); // the delayed-ACK timer
});

Deno.test("tcp receiver: coalesced ACKs: the ACK owed for two full-sized segments waits for the tick's end", () => {
  const { svc } = services({ quickAcks: 0, delayedAckMs: 40 }); // coalesceAcks: the default
  const conn = new ReceiverStub();
  const rcv = new TcpReceiver(conn, svc, 1460);
  rcv.init(0);
  rcv.receive(segment(1, TCP_FLAG_ACK, 1000));
  assert.equal(conn.acks, 0);
  assert(rcv.ackPending && rcv.delackTimer.armed && !rcv.ackDue);
  // The second full-sized segment makes the ACK due: at the end of the tick, not now.
  rcv.receive(segment(1001, TCP_FLAG_ACK, 1000));
  assert.equal(conn.acks, 0);
  assert(rcv.ackDue);
  const scheduled = conn.scheduled;
  assert(scheduled > 0);
  // More in-order data in the same tick joins the same ACK.
  rcv.receive(segment(2001, TCP_FLAG_ACK, 3000));
  rcv.receive(segment(5001, TCP_FLAG_ACK, 3000));
  assert.equal(conn.acks, 0);
  assert(rcv.ackDue);
  rcv.ackSent(); // the one ACK the tick's output sends
  assert(!rcv.ackPending && !rcv.ackDue && !rcv.delackTimer.armed);
  assert.equal(rcv.lastAckSent, 8001);
  // Out of order still ACKs at once (RFC 5681 §4.2: a duplicate ACK without delay).
  rcv.receive(segment(9001, TCP_FLAG_ACK, 1000));
  assert.equal(conn.acks, 1);
});

/** A receiver whose handshake ACK advertised its whole buffer, in quick-ack mode no more. */
function deferringReceiver(
  opts: TcpOptions,
): { rcv: TcpReceiver; conn: ReceiverStub; svc: TcpServices; clock: VirtualClock } {
  const { svc, clock } = services({ quickAcks: 0, ...opts });
  const conn = new ReceiverStub();
  const rcv = new TcpReceiver(conn, svc, 1460);
  rcv.init(0);
  rcv.windowField(); // the SYN-ACK's window…
  rcv.ackSent(); // …and the handshake's ACK
  return { rcv, conn, svc, clock };
}

Deno.test("tcp receiver: a deferred ACK waits until its byte bound, then goes", () => {
  const { rcv, svc } = deferringReceiver({ ackDeferUs: 100, ackDeferBytes: 8000 });
  rcv.receive(segment(1, TCP_FLAG_ACK, 3000)); // ≥ 2 full-sized segments: due
  assert(rcv.ackDue);
  assert.equal(rcv.deferAck(), true, "3000 bytes unacknowledged: it waits");
  rcv.receive(segment(3001, TCP_FLAG_ACK, 3000));
  assert.equal(rcv.deferAck(), true, "6000: still under 8000");
  rcv.receive(segment(6001, TCP_FLAG_ACK, 3000));
  assert.equal(rcv.deferAck(), false, "9000 ≥ 8000: it goes");
  assert.equal(svc.stats.TCPAckDeferred, 2);
  rcv.ackSent();
  assert(!rcv.ackDue && !rcv.delackTimer.armed, "the bound's timer is cancelled");
});

Deno.test("tcp receiver: a deferred ACK goes out by its timer at the time bound", () => {
  const { rcv, conn, svc, clock } = deferringReceiver({ ackDeferUs: 100 });
  rcv.receive(segment(1, TCP_FLAG_ACK, 3000));
  assert.equal(rcv.deferAck(), true);
  assert(rcv.delackTimer.armed);
  assert.equal(rcv.delackTimer.deadlineMs, clock.nowMs() + 0.1);
  clock.advance(0.05);
  svc.ctx.timers.advance(clock.nowMs());
  assert.equal(conn.acks, 0, "50 µs: still waiting");
  // More data meanwhile joins it; the bound still counts from the first deferral.
  clock.advance(0.06);
  rcv.receive(segment(3001, TCP_FLAG_ACK, 3000));
  assert.equal(rcv.deferAck(), false, "110 µs since the deferral began: it goes");
  clock.advance(0.001);
  rcv.ackSent();
  rcv.receive(segment(6001, TCP_FLAG_ACK, 3000));
  assert.equal(rcv.deferAck(), true);
  clock.advance(0.11);
  svc.ctx.timers.advance(clock.nowMs());
  assert.equal(conn.acks, 1, "the timer sent it");
  assert.equal(svc.stats.TCPDelayedAcks, 0, "not counted as a delayed ACK");
});

Deno.test("tcp receiver: a deferred ACK leaves the sender at least three quarters of its window", () => {
  // A 16 KiB window: 3000 bytes held back are under a quarter, 6000 are not.
  const { rcv } = deferringReceiver({ ackDeferUs: 100, receiveBufferBytes: 16384 });
  rcv.receive(segment(1, TCP_FLAG_ACK, 3000));
  assert.equal(rcv.deferAck(), true);
  rcv.receive(segment(3001, TCP_FLAG_ACK, 3000));
  assert.equal(rcv.deferAck(), false);
});

Deno.test("tcp receiver: ACKs that carry more than in-order data never wait", () => {
  // Off by default.
  let r = deferringReceiver({});
  r.rcv.receive(segment(1, TCP_FLAG_ACK, 3000));
  assert.equal(r.rcv.deferAck(), false, "ackDeferUs 0: off");
  // The peer's FIN.
  r = deferringReceiver({ ackDeferUs: 100 });
  r.rcv.receive(segment(1, TCP_FLAG_ACK, 3000));
  r.rcv.receive(segment(3001, TCP_FLAG_ACK | TCP_FLAG_FIN, 0));
  assert(r.rcv.finReceived);
  assert.equal(r.rcv.deferAck(), false, "a FIN's ACK");
  // Out-of-order data (a hole): ACKed at once, and nothing owed after it waits either.
  r = deferringReceiver({ ackDeferUs: 100 });
  r.rcv.receive(segment(1, TCP_FLAG_ACK, 3000));
  r.rcv.receive(segment(4001, TCP_FLAG_ACK, 1000));
  assert.equal(r.conn.acks, 1, "a duplicate ACK with SACK at once");
  r.rcv.receive(segment(3001, TCP_FLAG_ACK, 500)); // in order, the hole still open
  assert.equal(r.rcv.deferAck(), false, "out-of-order ranges held");
  // Quick-ack mode ACKs at once without asking.
  r = deferringReceiver({ ackDeferUs: 100, quickAcks: 2 });
  r.rcv.receive(segment(1, TCP_FLAG_ACK, 3000));
  assert.equal(r.conn.acks, 1);
});

Deno.test("tcp receiver: an out-of-order FIN waits for the hole, then RCV_FIN is reported", () => {
  const { svc } = services({ quickAcks: 0 });
  const conn = new ReceiverStub();
  const rcv = new TcpReceiver(conn, svc, 1460);
  rcv.init(0);
  rcv.receive(segment(101, TCP_FLAG_ACK | TCP_FLAG_FIN, 50));
  assert(rcv.rcvFinPending && !rcv.finReceived);
  assert.deepEqual(conn.events, []);
  rcv.receive(segment(1, TCP_FLAG_ACK, 100));
  assert(rcv.finReceived);
  assert.equal(rcv.rcvNxt, 152);
  assert.deepEqual(conn.events, [TcpEvent.RCV_FIN]);
});

/** A sender past the handshake: ISS 1000, peer window `wnd`, MSS 1000. */
function established(wnd: number): { snd: TcpSender; conn: SenderStub } {
  const { svc } = services();
  const conn = new SenderStub();
  const snd = new TcpSender(conn, svc);
  conn.una = () => snd.sndUna;
  snd.start({ iss: 1000, firstSentMs: 0 });
  snd.peerSyn(wnd, 7000, 1001);
  snd.setPeerOptions(0, 1000);
  snd.sndNxt = 1001; // the SYN went out (what sendSyn does)
  snd.sndMax = 1001;
  snd.sndUna = 1001;
  snd.established(0);
  return { snd, conn };
}

Deno.test("tcp sender: the output loop sends what the peer's window allows", () => {
  const { snd, conn } = established(2500);
  snd.setNoDelay(true);
  assert.equal(snd.write(new Uint8Array(5000), 0, 5000), 5000);
  snd.output();
  assert.deepEqual(conn.sent.map(([s, , l]) => [s, l]), [[1001, 1000], [2001, 1000]]);
  // 500 bytes of window left: sender SWS avoidance holds them (< half the largest window).
  assert.equal(snd.sndNxt, 3001);
  assert(snd.rtoTimer.armed);
});

Deno.test("tcp sender: ACK processing moves SND.UNA, frees the ring, reports the ACK of our FIN", () => {
  const { snd, conn } = established(65535);
  snd.setNoDelay(true);
  snd.write(new Uint8Array(100), 0, 100);
  snd.queueFin();
  conn.state = TcpState.FIN_WAIT_1;
  snd.output();
  assert.deepEqual(conn.sent, [[1001, TCP_FLAG_ACK | TCP_FLAG_FIN | 0x08, 100]]);
  assert.equal(snd.sndNxt, 1102);
  assert.equal(snd.checkAck({ ack: 1103 }), ACK_TOO_NEW);
  assert.equal(snd.checkAck({ ack: seqSub(1001, 70000) }), ACK_TOO_OLD);
  assert.equal(snd.checkAck({ ack: 1101 }), ACK_OK);
  assert(snd.onAck(segment(7001, TCP_FLAG_ACK, 0, 1101)));
  assert.deepEqual([snd.sndUna, snd.sndBuf.length, snd.bytesAcked], [1101, 0, 100]);
  assert.deepEqual(conn.events, []);
  assert(snd.onAck(segment(7001, TCP_FLAG_ACK, 0, 1102)));
  assert.deepEqual(conn.events, [TcpEvent.RCV_ACK_OF_FIN]);
  assert(!snd.rtoTimer.armed);
});
