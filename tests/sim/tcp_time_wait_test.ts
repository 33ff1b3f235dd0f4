import assert from "node:assert/strict";
import { ADDR_A, ADDR_B, inTimeWait, makeSimNet, type SimNet } from "../harness/sim_net.ts";
import { TcpRig } from "../harness/tcp_rig.ts";
import { TcpState } from "../../transport/tcp/state.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import type { TcpListener } from "../../transport/tcp/listener.ts";
import { TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_RST } from "../../transport/tcp/header.ts";
import { seqAdd, seqGt } from "../../transport/tcp/seq.ts";
import { TIME_WAIT_ISN_GAP } from "../../transport/tcp/time_wait.ts";

function accept(net: SimNet, l: TcpListener, c: TcpEndpoint): TcpEndpoint {
  let s: TcpEndpoint | null = null;
  assert(net.run(() => (s ??= l.accept()) !== null && c.state === TcpState.ESTABLISHED, 5000));
  return s!;
}

/** The client closes first and ends in TIME_WAIT; the server side is gone. */
function closeFromClient(net: SimNet, c: TcpEndpoint, s: TcpEndpoint): void {
  c.close();
  assert(net.run(() => s.state === TcpState.CLOSE_WAIT, 2000));
  s.close();
  assert(net.run(() => s.state === TcpState.CLOSED && inTimeWait(net.tcpA, c), 2000));
}

Deno.test("TIME_WAIT: the connection ends at once, a compact record keeps the four-tuple", () => {
  const net = makeSimNet();
  const l = net.tcpB.listen(null, 80, 8);
  const c = net.tcpA.connect(ADDR_B, 80);
  const s = accept(net, l, c);
  const data = new Uint8Array(100_000).fill(7);
  c.write(data, 0, data.length);
  assert(net.run(() => s.readableBytes === data.length && c.unacknowledgedBytes === 0, 5000));
  assert.ok(net.a.rings.stats.highWaterBytes > 0, "the send buffer took storage");
  s.read(new Uint8Array(data.length), 0, data.length);
  closeFromClient(net, c, s);
  assert.equal(c.state, TcpState.CLOSED);
  assert.equal(net.tcpA.endpoints, 0);
  assert.equal(net.tcpA.timeWaitCount, 1);
  // Every buffer went back to the pool (none is kept for TIME_WAIT).
  assert.equal(net.a.rings.stats.outstandingBytes, 0);
  assert.equal(net.b.rings.stats.outstandingBytes, 0);
  const rec = net.tcpA.timeWaitRecord(c.localAddr, c.localPort, c.remoteAddr, c.remotePort)!;
  assert.equal(rec.sndNxt, c.snd.sndMax);
  assert.equal(rec.rcvNxt, c.rcv.rcvNxt);
  assert.ok(rec.tsOk);
});

Deno.test("TIME_WAIT: connect() takes the four-tuple over once timestamps make it safe (tcp_tw_reuse)", () => {
  const net = makeSimNet();
  const l = net.tcpB.listen(null, 80, 8);
  const c = net.tcpA.connect(ADDR_B, 80, { localPort: 45000 });
  closeFromClient(net, c, accept(net, l, c));
  const oldNxt = c.snd.sndMax;
  // Within a second of the last timestamp: not yet (Linux's rule).
  assert.throws(() => net.tcpA.connect(ADDR_B, 80, { localPort: 45000 }), /EADDRINUSE/);
  net.advance(1000);
  const c2 = net.tcpA.connect(ADDR_B, 80, { localPort: 45000 });
  assert.equal(net.a.stats.tcp.TWRecycled, 1);
  assert.equal(net.tcpA.timeWaitCount, 0);
  assert.ok(seqGt(c2.snd.iss, seqAdd(oldNxt, TIME_WAIT_ISN_GAP - 1)), "ISS beyond the old one");
  const s2 = accept(net, l, c2);
  c2.write(new Uint8Array([1, 2, 3]), 0, 3);
  assert(net.run(() => s2.readableBytes === 3, 1000));
});

Deno.test("TIME_WAIT: without timestamps connect() does not reuse the four-tuple", () => {
  const net = makeSimNet({ tcp: { timestamps: false } });
  const l = net.tcpB.listen(null, 80, 8);
  const c = net.tcpA.connect(ADDR_B, 80, { localPort: 45001 });
  closeFromClient(net, c, accept(net, l, c));
  net.advance(5000);
  assert.throws(() => net.tcpA.connect(ADDR_B, 80, { localPort: 45001 }), /EADDRINUSE/);
  assert.equal(net.a.stats.tcp.TWRecycled, 0);
});

Deno.test("TIME_WAIT: an ephemeral port in TIME_WAIT is chosen again once reusable", () => {
  const net = makeSimNet({ tcpA: { ephemeralPortRange: [40000, 40001] } });
  const l = net.tcpB.listen(null, 80, 8);
  for (let i = 0; i < 2; i++) {
    const c = net.tcpA.connect(ADDR_B, 80);
    closeFromClient(net, c, accept(net, l, c));
  }
  assert.equal(net.tcpA.timeWaitCount, 2);
  assert.throws(() => net.tcpA.connect(ADDR_B, 80), /EADDRNOTAVAIL/);
  net.advance(1000);
  const c = net.tcpA.connect(ADDR_B, 80);
  assert.ok(c.localPort === 40000 || c.localPort === 40001);
  accept(net, l, c);
  assert.equal(net.a.stats.tcp.TWRecycled, 1);
});

Deno.test("TIME_WAIT: a port search that found none is not repeated until a record is reusable", () => {
  const net = makeSimNet({ tcpA: { ephemeralPortRange: [40000, 40003] } });
  const l = net.tcpB.listen(null, 80, 8);
  for (let i = 0; i < 4; i++) {
    const c = net.tcpA.connect(ADDR_B, 80);
    closeFromClient(net, c, accept(net, l, c));
  }
  // Another destination has every port free.
  const other = net.tcpA.connect(ADDR_B, 81);
  assert.equal(other.state, TcpState.SYN_SENT);
  other.abort();
  const p0 = net.tcpA.portProbes;
  assert.throws(() => net.tcpA.connect(ADDR_B, 80), /EADDRNOTAVAIL/);
  assert.equal(net.tcpA.portProbes - p0, 4, "the first failure searches the range");
  const vacated = net.tcpA.flows.vacated;
  for (let i = 0; i < 3; i++) {
    assert.throws(() => net.tcpA.connect(ADDR_B, 80), /EADDRNOTAVAIL/);
  }
  assert.equal(net.tcpA.portProbes - p0, 4, "the next ones do not search again");
  net.advance(1000); // the oldest record is reusable: only the time has changed
  assert.equal(net.tcpA.flows.vacated, vacated, "no four-tuple came free meanwhile");
  const c = net.tcpA.connect(ADDR_B, 80);
  assert.equal(net.a.stats.tcp.TWRecycled, 1);
  accept(net, l, c);
});

Deno.test("TIME_WAIT: a port search that found none is repeated once a connection or listener leaves", () => {
  const net = makeSimNet({ tcpA: { ephemeralPortRange: [40000, 40002] } });
  const l = net.tcpB.listen(null, 80, 8);
  const la = net.tcpA.listen(null, 40002, 8); // a listener holds the range's last port
  const c1 = net.tcpA.connect(ADDR_B, 80);
  accept(net, l, c1);
  const c2 = net.tcpA.connect(ADDR_B, 80);
  accept(net, l, c2);
  const p0 = net.tcpA.portProbes;
  assert.throws(() => net.tcpA.connect(ADDR_B, 80), /EADDRNOTAVAIL/);
  assert.throws(() => net.tcpA.connect(ADDR_B, 80), /EADDRNOTAVAIL/);
  assert.equal(net.tcpA.portProbes - p0, 3, "searched once");
  c1.abort(); // its four-tuple is vacated (no TIME_WAIT after a reset)
  const c3 = net.tcpA.connect(ADDR_B, 80);
  assert.equal(c3.localPort, c1.localPort);
  accept(net, l, c3);
  assert.throws(() => net.tcpA.connect(ADDR_B, 80), /EADDRNOTAVAIL/);
  const p1 = net.tcpA.portProbes;
  assert.throws(() => net.tcpA.connect(ADDR_B, 80), /EADDRNOTAVAIL/);
  assert.equal(net.tcpA.portProbes, p1, "not searched again");
  la.close(); // the listener's port comes free
  const c4 = net.tcpA.connect(ADDR_B, 80);
  assert.equal(c4.localPort, 40002);
  accept(net, l, c4);
});

Deno.test("TIME_WAIT: a port search that found none sees a record added later once it is reusable", () => {
  // Both ports held by live connections: the failure is remembered. Then one closes into
  // TIME_WAIT; a second after, its record may be taken over.
  const net = makeSimNet({ tcpA: { ephemeralPortRange: [40000, 40001] } });
  const l = net.tcpB.listen(null, 80, 8);
  const c1 = net.tcpA.connect(ADDR_B, 80);
  const s1 = accept(net, l, c1);
  const c2 = net.tcpA.connect(ADDR_B, 80);
  accept(net, l, c2);
  assert.throws(() => net.tcpA.connect(ADDR_B, 80), /EADDRNOTAVAIL/);
  closeFromClient(net, c1, s1);
  assert.throws(() => net.tcpA.connect(ADDR_B, 80), /EADDRNOTAVAIL/, "within the second");
  net.advance(1000);
  const c3 = net.tcpA.connect(ADDR_B, 80);
  assert.equal(c3.localPort, c1.localPort);
  assert.equal(net.a.stats.tcp.TWRecycled, 1);
  accept(net, l, c3);
});

Deno.test("TIME_WAIT: the port search takes over only the record of the port it picks", () => {
  // Ports 40001 and 40000 end in TIME_WAIT (reusable after 1 s), 40002 stays free; the port
  // filter decides which one a connect may take. The search goes up from where the last one
  // stopped: after 40000 it visits 40001 (a reusable record, passed over) before 40002.
  let allowed = -1;
  const net = makeSimNet({
    tcpA: {
      ephemeralPortRange: [40000, 40002],
      connectPortFilter: (lp) => lp === allowed,
    },
  });
  const l = net.tcpB.listen(null, 80, 8);
  for (const port of [40001, 40000]) {
    allowed = port;
    const c = net.tcpA.connect(ADDR_B, 80);
    assert.equal(c.localPort, port);
    closeFromClient(net, c, accept(net, l, c));
  }
  net.advance(1000);
  // The reusable record on the way is passed over: the free port is taken, no record lost.
  allowed = 40002;
  const free = net.tcpA.connect(ADDR_B, 80);
  assert.equal(free.localPort, 40002);
  assert.equal(net.a.stats.tcp.TWRecycled, 0);
  assert.equal(net.tcpA.timeWaitCount, 2);
  accept(net, l, free);
  // A port in TIME_WAIT picked: its own record is taken over, the other one stays.
  allowed = 40000;
  const reused = net.tcpA.connect(ADDR_B, 80);
  assert.equal(reused.localPort, 40000);
  assert.equal(net.a.stats.tcp.TWRecycled, 1);
  assert.equal(net.tcpA.timeWaitCount, 1);
  accept(net, l, reused);
  const kept = net.tcpA.timeWaitRecord(reused.localAddr, 40001, reused.remoteAddr, 80);
  assert.equal(kept?.localPort, 40001, "the record of port 40001 is still there");
});

Deno.test("TIME_WAIT: bounded like tcp_max_tw_buckets; beyond it a connection just ends (counted)", () => {
  const net = makeSimNet({ tcpA: { maxTimeWait: 1 } });
  const l = net.tcpB.listen(null, 80, 8);
  for (let i = 0; i < 2; i++) {
    const c = net.tcpA.connect(ADDR_B, 80);
    const s = accept(net, l, c);
    c.close();
    assert(net.run(() => s.state === TcpState.CLOSE_WAIT, 2000));
    s.close();
    assert(net.run(() => s.state === TcpState.CLOSED && c.state === TcpState.CLOSED, 2000));
  }
  assert.equal(net.tcpA.timeWaitCount, 1);
  assert.equal(net.a.stats.tcp.TCPTimeWaitOverflow, 1);
});

/** Our FIN sent and acknowledged with the peer's FIN: the connection sits in TIME_WAIT. */
function intoTimeWait(rig: TcpRig) {
  const c = rig.openActive({ tsVal: 1000 });
  c.ep.shutdownWrite();
  rig.tick();
  rig.take();
  c.peerTsVal = 1001;
  rig.inject(c.seg({ flags: TCP_FLAG_ACK | TCP_FLAG_FIN, ack: seqAdd(c.iss, 2) }));
  c.peerNxt = seqAdd(c.peerNxt, 1);
  rig.take();
  assert.equal(rig.stack.tcp.timeWaitCount, 1);
  return c;
}

Deno.test("TIME_WAIT lasts 60 s by default, as Linux's TCP_TIMEWAIT_LEN", () => {
  const rig = new TcpRig();
  intoTimeWait(rig);
  rig.advance(59_000);
  assert.equal(rig.stack.tcp.timeWaitCount, 1, "still there after 59 s");
  rig.advance(2_000);
  assert.equal(rig.stack.tcp.timeWaitCount, 0, "gone after 61 s");
});

Deno.test("TIME_WAIT record: PAWS answers an old timestamp, a RST on RCV.NXT ends it, others are challenged", () => {
  const rig = new TcpRig({ tcp: { mslMs: 1000 } });
  const c = intoTimeWait(rig);
  // An older timestamp: PAWS, answered with the old connection's ACK.
  c.peerTsVal = 900;
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seqAdd(c.iss, 2) }));
  const ack = rig.take();
  assert.equal(ack.length, 1);
  assert.deepEqual([ack[0].flags, ack[0].seq, ack[0].ack], [
    TCP_FLAG_ACK,
    seqAdd(c.iss, 2),
    c.peerNxt,
  ]);
  assert.ok(ack[0].hasTimestamps && ack[0].tsEcr === 1001);
  assert.equal(rig.stack.stats.tcp.PAWSEstab, 1);
  // A RST off RCV.NXT draws a challenge ACK; one on it ends TIME_WAIT.
  c.peerTsVal = 1002;
  rig.inject(c.seg({ flags: TCP_FLAG_RST, seq: seqAdd(c.peerNxt, 100) }));
  assert.equal(rig.take().length, 1);
  assert.equal(rig.stack.tcp.timeWaitCount, 1);
  rig.inject(c.seg({ flags: TCP_FLAG_RST }));
  assert.equal(rig.take().length, 0);
  assert.equal(rig.stack.tcp.timeWaitCount, 0);
});

Deno.test("TIME_WAIT: a record that left the table is the next one's (tcp_tw_reuse makes none per connection)", () => {
  const net = makeSimNet();
  const l = net.tcpB.listen(null, 80, 8);
  let lastIss = -1;
  for (let i = 0; i < 5; i++) {
    const c = net.tcpA.connect(ADDR_B, 80, { localPort: 45000 });
    if (i > 0) assert.ok(seqGt(c.snd.iss, seqAdd(lastIss, TIME_WAIT_ISN_GAP - 1)), "ISS beyond");
    closeFromClient(net, c, accept(net, l, c));
    lastIss = c.snd.sndMax;
    assert.ok(inTimeWait(net.tcpA, c));
    net.advance(1000);
  }
  assert.equal(net.a.stats.tcp.TWRecycled, 4);
  assert.equal(net.tcpA.timeWaitCount, 1);
  // One record made: each reuse gave its record back, the close that followed took it.
  assert.equal(net.tcpA.timeWait.recordsMade, 1);
  const rec = net.tcpA.timeWaitRecord(ADDR_A, 45000, ADDR_B, 80)!;
  assert.equal(rec.localPort, 45000);
  assert.ok(rec.live);
});
