/**
 * Deferred ACKs (`TcpOptions.ackDeferUs`): a bulk receiver lets the ACK owed for in-order data
 * wait a little, so one ACK covers the GRO super-segments of several ticks (on veth each ACK's
 * TX kick runs the kernel sender inside our `sendto`: bench/README.md, ack13). Bounded by
 * bytes, a quarter of the window, and time (the delayed-ACK timer fires at the bound); what
 * is more than the ACK of in-order data still goes at once.
 */
import assert from "node:assert/strict";
import {
  ADDR_A,
  ADDR_B,
  BulkFlow,
  connectPair,
  makeSimNet,
  type SimNet,
} from "../harness/sim_net.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import type { TcpOptions } from "../../transport/tcp/context.ts";
import { rxMeta } from "../harness/net_meta.ts";
import { RX_CSUM_PARTIAL } from "../../link/driver.ts";
import {
  TCP_FLAG_ACK,
  TCP_FLAG_FIN,
  TcpHeader,
  writeTcpHeader,
} from "../../transport/tcp/header.ts";
import { pseudoHeaderSumV4 } from "../../net/checksum.ts";

/** Hand `s` one segment of `len` bytes at RCV.NXT straight from "the driver". */
function inject(net: SimNet, c: TcpEndpoint, s: TcpEndpoint, len: number, flags = TCP_FLAG_ACK) {
  const buf = new Uint8Array(20 + len);
  writeTcpHeader(buf, 0, c.localPort, s.localPort, s.rcv.rcvNxt, s.snd.sndNxt, 20, flags, 1000);
  new TcpHeader().attach(buf, 0, buf.length).checksum =
    pseudoHeaderSumV4(ADDR_A.v4, ADDR_B.v4, 6, buf.length) & 0xffff;
  net.tcpB.receive(rxMeta(net.b, ADDR_A, ADDR_B), buf, 0, buf.length, RX_CSUM_PARTIAL);
}

/** A connection whose server side (b) is in the steady state of a bulk receive. */
function bulkReceiver(tcpB: TcpOptions): { net: SimNet; c: TcpEndpoint; s: TcpEndpoint } {
  const net = makeSimNet({
    tcpB: { quickAcks: 0, timestamps: false, receiveBufferBytes: 1 << 20, ...tcpB },
  });
  const { c, s } = connectPair(net);
  // The SYN-ACK's window is unscaled (≤ 64 KiB): an ACK announces the whole buffer.
  s.sendAck();
  net.b.transmit();
  return { net, c, s };
}

/** One tick of b in which `frames` 7-segment GRO frames arrive; returns the segments b sent. */
function grotick(net: SimNet, c: TcpEndpoint, s: TcpEndpoint, frames: number): number {
  const before = net.b.stats.tcp.OutSegs;
  net.clock.advance(0.01); // 10 µs per tick
  for (let i = 0; i < frames; i++) inject(net, c, s, 7 * s.rcv.advMss);
  net.b.tick();
  return net.b.stats.tcp.OutSegs - before;
}

Deno.test("tcp deferred ACKs: GRO frames over consecutive ticks share one ACK, sent at the byte bound", () => {
  const mss = 1460;
  // Four frames of 7 segments reach the bound; the window (1 MiB) is not what limits.
  const bound = 4 * 7 * mss;
  const { net, c, s } = bulkReceiver({ ackDeferUs: 1000, ackDeferBytes: bound });
  assert.equal(s.rcv.advMss, mss);
  const sent = [1, 2, 3, 4, 5, 6, 7, 8].map(() => grotick(net, c, s, 1));
  assert.deepEqual(sent, [0, 0, 0, 1, 0, 0, 0, 1], "one ACK per four ticks' super-segments");
  assert.equal(s.rcv.lastAckSent, s.rcv.rcvNxt);
  assert.equal(net.b.stats.tcp.TCPAckDeferred, 6);
  // The same without deferral: an ACK every tick.
  const off = bulkReceiver({ ackDeferUs: 0 });
  assert.deepEqual([1, 2, 3, 4].map(() => grotick(off.net, off.c, off.s, 1)), [1, 1, 1, 1]);
});

Deno.test("tcp deferred ACKs: the time bound sends the ACK when no more data comes", () => {
  const { net, c, s } = bulkReceiver({ ackDeferUs: 50 });
  assert.equal(grotick(net, c, s, 2), 0, "deferred");
  assert(s.rcv.ackDue);
  const before = net.b.stats.tcp.OutSegs;
  net.clock.advance(0.03);
  net.b.tick();
  assert.equal(net.b.stats.tcp.OutSegs, before, "30 µs: still waiting");
  net.clock.advance(0.03);
  net.b.tick();
  assert.equal(net.b.stats.tcp.OutSegs, before + 1, "60 µs: the timer sent it");
  assert.equal(s.rcv.lastAckSent, s.rcv.rcvNxt);
  assert.equal(s.rcv.ackPending, false);
});

Deno.test("tcp deferred ACKs: out-of-order data and the FIN are ACKed at once", () => {
  const { net, c, s } = bulkReceiver({ ackDeferUs: 1000 });
  assert.equal(grotick(net, c, s, 1), 0, "deferred");
  // A segment past a hole: a duplicate ACK with a SACK block, in the receive half.
  const before = net.b.stats.tcp.OutSegs;
  const nxt = s.rcv.rcvNxt;
  const buf = new Uint8Array(20 + 1000);
  writeTcpHeader(
    buf,
    0,
    c.localPort,
    s.localPort,
    nxt + 5000,
    s.snd.sndNxt,
    20,
    TCP_FLAG_ACK,
    1000,
  );
  new TcpHeader().attach(buf, 0, buf.length).checksum =
    pseudoHeaderSumV4(ADDR_A.v4, ADDR_B.v4, 6, buf.length) & 0xffff;
  net.tcpB.receive(rxMeta(net.b, ADDR_A, ADDR_B), buf, 0, buf.length, RX_CSUM_PARTIAL);
  assert.equal(net.b.stats.tcp.OutSegs, before + 1, "at once");
  assert.equal(s.rcv.lastAckSent, nxt, "covering the deferred data");
  // Fill the hole: ACK at once (RFC 5681 §4.2).
  inject(net, c, s, 5000);
  assert.equal(net.b.stats.tcp.OutSegs, before + 2);
  // The FIN after more data: its ACK goes in this tick's transmit.
  assert.equal(grotick(net, c, s, 1), 0, "deferred again");
  const b2 = net.b.stats.tcp.OutSegs;
  net.clock.advance(0.01);
  inject(net, c, s, 0, TCP_FLAG_ACK | TCP_FLAG_FIN);
  net.b.tick();
  assert.equal(net.b.stats.tcp.OutSegs, b2 + 1, "the FIN's ACK does not wait");
  assert(s.rcv.finReceived);
  assert.equal(s.rcv.lastAckSent, s.rcv.rcvNxt);
});

Deno.test("tcp deferred ACKs: a bulk transfer between two stacks arrives whole with fewer ACKs", () => {
  const acks = (deferUs: number): { acks: number; deferred: number } => {
    // 1 Gbit/s, 100 µs each way: frames arrive one by one, a tick each.
    const net = makeSimNet({
      wire: { rateBitsPerSec: 1e9, delayMs: 0.1 },
      tcpB: { ackDeferUs: deferUs, receiveBufferBytes: 1 << 20 },
    });
    const { c, s } = connectPair(net);
    const flow = new BulkFlow(c, s, 4 << 20);
    assert(net.run(() => flow.step(), 60_000), "the transfer completes");
    return { acks: net.b.stats.tcp.OutSegs, deferred: net.b.stats.tcp.TCPAckDeferred };
  };
  const on = acks(200);
  const off = acks(0);
  assert(on.deferred > 0);
  // Measured: 580 against 1683, the transfer as fast (40.1 against 39.8 virtual ms).
  assert(2 * on.acks < off.acks, `${on.acks} ACKs deferred, ${off.acks} not`);
});

/**
 * `ticks` ticks of 10 µs of a bulk receive with the adaptive deferral on, from a scripted
 * sender: `kickDriven`, it releases a 7-segment GRO frame in each tick after one in which b
 * sent an ACK, and otherwise only every fourth tick (its pacing timer: the paced Linux sender
 * on veth, bench/README.md ack13b); else two frames every tick whatever b sends (an unpaced
 * sender's own thread). The application reads everything at once.
 */
function adaptiveRun(kickDriven: boolean, ticks: number, tcpB: TcpOptions = {}) {
  const { net, c, s } = bulkReceiver({ ackDeferAuto: true, ...tcpB });
  let acked = true;
  let acks = 0;
  let lastAcks = 0; // in the last quarter
  for (let i = 0; i < ticks; i++) {
    const frames = kickDriven ? (acked || i % 4 === 0 ? 1 : 0) : 2;
    const sent = grotick(net, c, s, frames);
    acked = sent > 0;
    acks += sent;
    if (4 * i >= 3 * ticks) lastAcks += sent;
    s.rcv.skip(1 << 30);
  }
  return { net, s, acks, lastAcks, bytes: s.rcv.bytesReceived, stats: net.b.stats.tcp };
}

Deno.test("tcp adaptive ACK deferral: an unpaced sender's ACKs are deferred, a kick-driven one's are not", () => {
  // 400 ms of virtual time: the probe's first decision comes after ~190 ms, its second ~0.5 s
  // later.
  const ticks = 40_000;
  const free = adaptiveRun(false, ticks);
  assert.equal(free.stats.TCPAckDeferAutoOn, 1, "deferral costs this sender nothing");
  assert.equal(free.stats.TCPAckDeferAutoOff, 0);
  assert(free.s.rcv.ackDeferProbe!.on);
  // Without deferral an ACK every tick; deferred, one per several ticks once decided.
  assert(3 * free.lastAcks < ticks / 4, `${free.lastAcks} ACKs in the last ${ticks / 4} ticks`);
  const paced = adaptiveRun(true, ticks);
  assert.equal(paced.stats.TCPAckDeferAutoOff, 1, "deferral costs this sender rate");
  assert.equal(paced.stats.TCPAckDeferAutoOn, 0);
  assert(!paced.s.rcv.ackDeferProbe!.on);
  // The same sender with deferral always on (150 µs) gets far fewer bytes through; the probe
  // costs it only the two epochs that tried deferral.
  const always = adaptiveRun(true, ticks, { ackDeferAuto: false, ackDeferUs: 150 });
  const none = adaptiveRun(true, ticks, { ackDeferAuto: false });
  assert(always.bytes < 0.6 * none.bytes, `${always.bytes} against ${none.bytes}`);
  assert(paced.bytes > 0.85 * none.bytes, `${paced.bytes} against ${none.bytes}`);
});

Deno.test("tcp adaptive ACK deferral: a sender that turns kick-driven stops the deferral within epochs", () => {
  const { net, c, s } = bulkReceiver({ ackDeferAuto: true });
  let acked = true;
  const perTick = (kickDriven: boolean, i: number) =>
    kickDriven ? (acked || i % 4 === 0 ? 1 : 0) : 2;
  // 200 ms unpaced: decided to defer.
  for (let i = 0; i < 20_000; i++) {
    acked = grotick(net, c, s, perTick(false, i)) > 0;
    s.rcv.skip(1 << 30);
  }
  const p = s.rcv.ackDeferProbe!;
  assert(p.on && p.decided);
  // Kick-driven from here: the guard finds the rate down and the probe, run again, decides
  // not to defer — well before the 500 ms hold would have ended.
  let offAt = -1;
  for (let i = 0; i < 20_000 && offAt < 0; i++) {
    acked = grotick(net, c, s, perTick(true, i)) > 0;
    s.rcv.skip(1 << 30);
    if (p.decisions > 1 && !p.decided) offAt = i;
  }
  assert(offAt > 0 && offAt < 25_000, `decided not to defer after ${offAt} ticks`);
  assert.equal(net.b.stats.tcp.TCPAckDeferAutoOff, 1);
});
