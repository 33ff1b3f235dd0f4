/**
 * Request/response and the delayed ACK: the application answers between the two halves of a
 * tick (`Stack.receive`, then its reaction, then `Stack.transmit`), as the event loop runs it.
 * An ACK of our own data that arrives with the peer's answer schedules output (nothing new may
 * go) — that must not send the delayed ACK of the answer bare ahead of the next request, and
 * the stack's "a tick was requested" flag must say only whether the application reacted.
 */
import assert from "node:assert/strict";
import { connectPair, makeSimNet, type SimNet } from "../harness/sim_net.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import { TcpConn } from "../../stack/tcp_conn.ts";

const LEN = 64;

/**
 * One round trip, each host's application reacting inside the tick that delivered the data.
 * Returns whether the client's tick that got the answer had a tick requested before its
 * application reacted (it must not: only the application's write asks for one).
 */
function roundTrip(net: SimNet, c: TcpEndpoint, s: TcpEndpoint, buf: Uint8Array): boolean {
  let requestedBeforeApp = false;
  for (let spins = 0; spins < 1000; spins++) {
    net.a.receive();
    let answered = false;
    if (c.readableBytes >= LEN) {
      requestedBeforeApp = net.a.tickRequested;
      assert.equal(c.read(buf, 0, LEN), LEN);
      answered = true;
    }
    net.a.transmit();
    net.b.receive();
    if (s.readableBytes >= LEN) {
      assert.equal(s.read(buf, 0, LEN), LEN);
      assert.equal(s.write(buf, 0, LEN), LEN);
    }
    net.b.transmit();
    if (answered) return requestedBeforeApp;
    const next = Math.ceil(
      Math.min(net.a.nextDeadlineMs(), net.b.nextDeadlineMs(), net.wire.nextEventMs()),
    );
    if (!net.a.hasPendingWork && !net.b.hasPendingWork && next > net.clock.nowMs()) {
      net.clock.set(next);
    }
  }
  throw new Error("round trip did not complete");
}

Deno.test("tcp request/response: the delayed ACK of an answer rides on the next request", () => {
  // Quick-ack mode off on both ends: the steady state of a long request/response connection.
  const net = makeSimNet({ tcp: { quickAcks: 0 }, wire: { delayMs: 0.01 } });
  const { c, s } = connectPair(net, 80);
  const ca = net.a.stats.tcp;
  const sb = net.b.stats.tcp;
  const buf = new Uint8Array(LEN);
  const rounds = 50;
  const outA = ca.OutSegs;
  const outB = sb.OutSegs;
  assert.equal(c.write(buf, 0, LEN), LEN);
  for (let i = 0; i < rounds; i++) {
    const requested = roundTrip(net, c, s, buf);
    assert.equal(requested, false, `round ${i}: a tick was requested before the application`);
    if (i < rounds - 1) assert.equal(c.write(buf, 0, LEN), LEN);
  }
  // One segment per message each way: every ACK rode on data.
  assert.equal(ca.OutSegs - outA, rounds, "client segments (bare ACKs before requests?)");
  assert.equal(sb.OutSegs - outB, rounds, "server segments");
  assert.equal(c.rcv.ackPending, true, "the last answer's ACK is still owed");
  // Nobody answers the last one: the delayed-ACK timer sends it (RFC 1122 §4.2.3.2).
  const delayed = ca.TCPDelayedAcks;
  net.advance(100);
  assert.equal(ca.TCPDelayedAcks, delayed + 1);
  assert.equal(ca.OutSegs - outA, rounds + 1);
  assert.equal(c.rcv.ackPending, false);
  assert.equal(c.unacknowledgedBytes, 0);
});

Deno.test("tcp request/response: an ACK owed at the end of the tick still goes bare", () => {
  // Quick-ack mode on (a new connection): the PSH segment's ACK is due at the end of the tick
  // and leaves bare when the application does not answer in it.
  const net = makeSimNet({ wire: { delayMs: 0.01 } });
  const { c, s } = connectPair(net, 80);
  const buf = new Uint8Array(LEN);
  const out = net.b.stats.tcp.OutSegs;
  assert.equal(c.write(buf, 0, LEN), LEN);
  assert(net.run(() => s.readableBytes === LEN, 100));
  assert.equal(net.b.stats.tcp.OutSegs, out + 1, "the quick ACK went out");
  assert.equal(s.rcv.ackPending, false);
});

Deno.test("tcp request/response: reading the answer does not ask for a tick; the write does", async () => {
  // The event loop waits (microtask turns) for the application's reaction to the data it
  // delivered and stops at the first request for a tick: a read that asked for one ended the
  // wait before the next request was written, which then waited for a turn of Deno's loop.
  const net = makeSimNet({ tcp: { quickAcks: 0 }, wire: { delayMs: 0.01 } });
  const { c, s } = connectPair(net, 80);
  const conn = new TcpConn(net.a, c);
  const buf = new Uint8Array(LEN);
  for (let i = 0; i < 3; i++) {
    assert.equal(s.write(buf, 0, LEN), LEN);
    assert.ok(net.run(() => c.readableBytes >= LEN, 1000), "the answer arrived");
    net.a.receive();
    net.a.transmit();
    assert.equal(net.a.tickRequested, false);
    if (i === 0) assert.equal(await conn.read(buf), LEN);
    else assert.equal(conn.readInto(buf, 0, LEN), LEN);
    assert.equal(net.a.tickRequested, false, `round ${i}: the read asked for a tick`);
    assert.equal(conn.writeFrom(buf, 0, LEN), LEN);
    assert.equal(net.a.tickRequested, true, "the write asks for one");
    assert.ok(net.run(() => s.readableBytes >= LEN, 1000));
    assert.equal(s.read(buf, 0, LEN), LEN);
  }
});
