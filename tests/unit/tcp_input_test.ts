/**
 * Segment input, one segment at a time: an endpoint in a known state, a segment from the
 * scripted peer of `tests/harness/tcp_rig.ts`, and the state and segments that result
 * (RFC 9293 §3.10.7, RFC 5961, RFC 7323 §5, RFC 5681, RFC 2018).
 */

import assert from "node:assert/strict";
import { IpAddress } from "../../net/ip_address.ts";
import {
  PEER_ADDR,
  PEER_ISS,
  PEER_PORT,
  type SentSegment,
  SERVICE_PORT,
  TcpRig,
} from "../harness/tcp_rig.ts";
import {
  TCP_FLAG_ACK,
  TCP_FLAG_FIN,
  TCP_FLAG_PSH,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
} from "../../transport/tcp/header.ts";
import { seqAdd, seqSub } from "../../transport/tcp/seq.ts";
import { TcpState } from "../../transport/tcp/state.ts";

/** The one segment sent, asserting there was exactly one. */
function only(out: SentSegment[]): SentSegment {
  assert.equal(out.length, 1, `expected one segment, got ${out.length}`);
  return out[0];
}

Deno.test("tcp input: SYN_SENT + SYN-ACK → ESTABLISHED, the ACK goes out, options are taken", () => {
  const rig = new TcpRig();
  const ep = rig.stack.tcp.connect(IpAddress.v4(PEER_ADDR), SERVICE_PORT, { localPort: PEER_PORT });
  rig.tick();
  const syn = only(rig.take());
  assert.equal(syn.flags, TCP_FLAG_SYN);
  assert.equal(syn.mss, 1460);
  assert(syn.windowScale >= 0 && syn.sackPermitted && syn.hasTimestamps);
  assert.equal(ep.state, TcpState.SYN_SENT);
  rig.inject({
    srcPort: SERVICE_PORT,
    dstPort: PEER_PORT,
    seq: PEER_ISS,
    ack: seqAdd(syn.seq, 1),
    flags: TCP_FLAG_SYN | TCP_FLAG_ACK,
    mss: 1000,
    windowScale: 2,
    ts: [777, syn.tsVal],
  });
  assert.equal(ep.state, TcpState.ESTABLISHED);
  const ack = only(rig.take());
  assert.equal(ack.flags, TCP_FLAG_ACK);
  assert.equal(ack.seq, seqAdd(syn.seq, 1));
  assert.equal(ack.ack, seqAdd(PEER_ISS, 1));
  assert.equal(ack.tsEcr, 777);
  const info = ep.info();
  assert.equal(info.mss, 1000 - 12);
  assert.equal(info.sndWscale, 2);
  assert.equal(info.sack, false);
  assert.equal(rig.stack.stats.tcp.ActiveOpens, 1);
  assert.equal(rig.stack.stats.tcp.CurrEstab, 1);
});

Deno.test("tcp input: SYN_SENT + SYN-ACK acknowledging the wrong number → <SEQ=SEG.ACK><CTL=RST>", () => {
  const rig = new TcpRig();
  const ep = rig.stack.tcp.connect(IpAddress.v4(PEER_ADDR), SERVICE_PORT, { localPort: PEER_PORT });
  rig.tick();
  const syn = only(rig.take());
  const bad = seqAdd(syn.seq, 5000);
  rig.inject({
    srcPort: SERVICE_PORT,
    dstPort: PEER_PORT,
    seq: PEER_ISS,
    ack: bad,
    flags: TCP_FLAG_SYN | TCP_FLAG_ACK,
  });
  const rst = only(rig.take());
  assert.deepEqual([rst.flags, rst.seq, rst.ack], [TCP_FLAG_RST, bad, 0]);
  assert.equal(ep.state, TcpState.SYN_SENT);
});

Deno.test("tcp input: SYN_RECEIVED + unacceptable ACK → <SEQ=SEG.ACK><CTL=RST>, still half-open", () => {
  const rig = new TcpRig();
  const l = rig.stack.tcp.listen(null, SERVICE_PORT, 8);
  rig.inject({ seq: PEER_ISS, flags: TCP_FLAG_SYN, mss: 1460 });
  const synAck = only(rig.take());
  assert.equal(synAck.flags, TCP_FLAG_SYN | TCP_FLAG_ACK);
  assert.equal(synAck.ack, seqAdd(PEER_ISS, 1));
  const bad = seqAdd(synAck.seq, 100);
  rig.inject({ seq: seqAdd(PEER_ISS, 1), ack: bad, flags: TCP_FLAG_ACK });
  const rst = only(rig.take());
  assert.deepEqual([rst.flags, rst.seq], [TCP_FLAG_RST, bad]);
  assert.equal(l.halfOpen, 1);
  assert.equal(l.pending, 0);
  // The right ACK still completes the handshake.
  rig.inject({ seq: seqAdd(PEER_ISS, 1), ack: seqAdd(synAck.seq, 1), flags: TCP_FLAG_ACK });
  assert.equal(l.pending, 1);
  assert.equal(rig.stack.stats.tcp.PassiveOpens, 1);
});

Deno.test("tcp input: an out-of-window segment draws a duplicate ACK and changes nothing", () => {
  const rig = new TcpRig();
  const c = rig.openActive();
  // Far beyond the window.
  rig.inject(c.seg({ seq: seqAdd(c.peerNxt, 10_000_000), flags: TCP_FLAG_ACK, payload: 10 }));
  let ack = only(rig.take());
  assert.deepEqual([ack.flags, ack.seq, ack.ack], [TCP_FLAG_ACK, seqAdd(c.iss, 1), c.peerNxt]);
  // Entirely old (a retransmission of what was received): the same ACK.
  rig.inject(c.seg({ seq: seqSub(c.peerNxt, 100), flags: TCP_FLAG_ACK, payload: 50 }));
  ack = only(rig.take());
  assert.equal(ack.ack, c.peerNxt);
  assert.equal(c.ep.readableBytes, 0);
  assert.equal(c.ep.state, TcpState.ESTABLISHED);
});

Deno.test("tcp input: RST at RCV.NXT resets, in the window draws a challenge ACK, outside is ignored", () => {
  const rig = new TcpRig();
  const c = rig.openActive();
  rig.inject(c.seg({ seq: seqAdd(c.peerNxt, 10_000_000), flags: TCP_FLAG_RST }));
  assert.equal(rig.take().length, 0);
  assert.equal(c.ep.state, TcpState.ESTABLISHED);
  rig.inject(c.seg({ seq: seqAdd(c.peerNxt, 100), flags: TCP_FLAG_RST }));
  const challenge = only(rig.take());
  assert.deepEqual([challenge.flags, challenge.ack], [TCP_FLAG_ACK, c.peerNxt]);
  assert.equal(rig.stack.stats.tcp.TCPChallengeACK, 1);
  assert.equal(c.ep.state, TcpState.ESTABLISHED);
  rig.inject(c.seg({ seq: c.peerNxt, flags: TCP_FLAG_RST }));
  assert.equal(rig.take().length, 0);
  assert.equal(c.ep.state, TcpState.CLOSED);
  assert.equal(c.ep.error, "ECONNRESET");
  assert.equal(rig.stack.stats.tcp.EstabResets, 1);
  assert.equal(rig.stack.stats.tcp.CurrEstab, 0);
  assert.equal(rig.stack.tcp.endpoints, 0);
});

Deno.test("tcp input: in-order data advances RCV.NXT and the ACK is delayed", () => {
  const rig = new TcpRig({ tcp: { quickAcks: 0, delayedAckMs: 40 } });
  const c = rig.openActive();
  rig.inject(c.seg({ flags: TCP_FLAG_ACK | TCP_FLAG_PSH, payload: 100 }));
  c.peerNxt = seqAdd(c.peerNxt, 100);
  assert.equal(rig.take().length, 0, "no ACK at once");
  assert.equal(c.ep.readableBytes, 100);
  assert.equal(c.ep.rcv.rcvNxt, c.peerNxt);
  assert(c.ep.rcv.ackPending && c.ep.rcv.delackTimer.armed);
  rig.advance(39);
  assert.equal(rig.take().length, 0);
  rig.advance(2);
  const ack = only(rig.take());
  assert.deepEqual([ack.flags, ack.ack], [TCP_FLAG_ACK, c.peerNxt]);
  assert.equal(rig.stack.stats.tcp.TCPDelayedAcks, 1);
  assert(!c.ep.rcv.ackPending && !c.ep.rcv.delackTimer.armed);
  // Two full-sized segments are ACKed at once (RFC 1122 §4.2.3.2).
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, payload: 1000 }));
  c.peerNxt = seqAdd(c.peerNxt, 1000);
  assert.equal(rig.take().length, 0);
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, payload: 1000 }));
  c.peerNxt = seqAdd(c.peerNxt, 1000);
  assert.equal(only(rig.take()).ack, c.peerNxt);
});

Deno.test("tcp input: out-of-order data → an immediate ACK with SACK blocks; the fill ACKs all", () => {
  const rig = new TcpRig({ tcp: { quickAcks: 0 } });
  const c = rig.openActive({ sackPermitted: true });
  const hole = c.peerNxt;
  rig.inject(c.seg({ seq: seqAdd(hole, 1000), flags: TCP_FLAG_ACK, payload: 100 }));
  let ack = only(rig.take());
  assert.equal(ack.ack, hole);
  assert.deepEqual(ack.sack, [[seqAdd(hole, 1000), seqAdd(hole, 1100)]]);
  rig.inject(c.seg({ seq: seqAdd(hole, 2000), flags: TCP_FLAG_ACK, payload: 100 }));
  ack = only(rig.take());
  // The most recent block first (RFC 2018 §4).
  assert.deepEqual(ack.sack, [
    [seqAdd(hole, 2000), seqAdd(hole, 2100)],
    [seqAdd(hole, 1000), seqAdd(hole, 1100)],
  ]);
  assert.equal(c.ep.readableBytes, 0);
  assert.equal(rig.stack.stats.tcp.TCPOFOQueue, 2);
  rig.inject(c.seg({ seq: hole, flags: TCP_FLAG_ACK, payload: 1000 }));
  ack = only(rig.take());
  assert.equal(ack.ack, seqAdd(hole, 1100));
  assert.deepEqual(ack.sack, [[seqAdd(hole, 2000), seqAdd(hole, 2100)]]);
  assert.equal(c.ep.readableBytes, 1100);
});

Deno.test("tcp input: FIN in ESTABLISHED → CLOSE_WAIT, ACKed at once, EOF after the data", () => {
  const rig = new TcpRig({ tcp: { quickAcks: 0 } });
  const c = rig.openActive();
  rig.inject(c.seg({ flags: TCP_FLAG_ACK | TCP_FLAG_FIN, payload: 5 }));
  assert.equal(c.ep.state, TcpState.CLOSE_WAIT);
  const ack = only(rig.take());
  assert.equal(ack.ack, seqAdd(c.peerNxt, 6));
  const buf = new Uint8Array(10);
  assert.equal(c.ep.read(buf, 0, 10), 5);
  assert.equal(c.ep.read(buf, 0, 10), 0);
  assert(c.ep.eof);
  // Our close: FIN, LAST_ACK; its ACK ends the connection.
  c.ep.close();
  rig.tick();
  const fin = only(rig.take());
  assert.equal(fin.flags, TCP_FLAG_ACK | TCP_FLAG_FIN);
  assert.equal(c.ep.state, TcpState.LAST_ACK);
  rig.inject(c.seg({ seq: seqAdd(c.peerNxt, 6), ack: seqAdd(fin.seq, 1), flags: TCP_FLAG_ACK }));
  assert.equal(c.ep.state, TcpState.CLOSED);
  assert.equal(c.ep.error, null);
  assert.equal(rig.stack.tcp.endpoints, 0);
});

Deno.test("tcp input: the ACK of our FIN moves FIN_WAIT_1 → FIN_WAIT_2; the peer's FIN → TIME_WAIT", () => {
  const rig = new TcpRig({ tcp: { mslMs: 1000 } });
  const c = rig.openActive();
  c.ep.shutdownWrite();
  assert.equal(c.ep.state, TcpState.FIN_WAIT_1);
  rig.tick();
  const fin = only(rig.take());
  assert.deepEqual([fin.flags, fin.seq], [TCP_FLAG_ACK | TCP_FLAG_FIN, seqAdd(c.iss, 1)]);
  // An ACK short of the FIN changes nothing.
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seqAdd(c.iss, 1) }));
  assert.equal(c.ep.state, TcpState.FIN_WAIT_1);
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seqAdd(c.iss, 2) }));
  assert.equal(c.ep.state, TcpState.FIN_WAIT_2);
  assert.equal(rig.take().length, 0);
  rig.inject(c.seg({ flags: TCP_FLAG_ACK | TCP_FLAG_FIN, ack: seqAdd(c.iss, 2) }));
  // TIME_WAIT: the connection ends and a record holds the four-tuple.
  assert.equal(c.ep.state, TcpState.CLOSED);
  assert.equal(rig.stack.tcp.endpoints, 0);
  assert.equal(rig.stack.tcp.timeWaitCount, 1);
  assert.equal(only(rig.take()).ack, seqAdd(c.peerNxt, 1));
  assert.equal(rig.stack.stats.tcp.CurrEstab, 0);
  // A retransmitted FIN is ACKed again and restarts 2·MSL.
  rig.advance(1500);
  rig.inject(c.seg({ flags: TCP_FLAG_ACK | TCP_FLAG_FIN, ack: seqAdd(c.iss, 2) }));
  const again = only(rig.take());
  assert.deepEqual([again.flags, again.seq, again.ack], [
    TCP_FLAG_ACK,
    seqAdd(c.iss, 2),
    seqAdd(c.peerNxt, 1),
  ]);
  // An acceptable empty segment is not answered (no ACK war between two TIME_WAITs).
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, seq: seqAdd(c.peerNxt, 1), ack: seqAdd(c.iss, 2) }));
  assert.equal(rig.take().length, 0);
  rig.advance(1999);
  assert.equal(rig.stack.tcp.timeWaitCount, 1);
  rig.advance(2);
  assert.equal(rig.stack.tcp.timeWaitCount, 0);
});

Deno.test("tcp input: FIN_WAIT_2 of a closed socket times out with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>", () => {
  const rig = new TcpRig({ tcp: { finWait2TimeoutMs: 5000 } });
  const c = rig.openActive();
  c.ep.close();
  rig.tick();
  const fin = only(rig.take());
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seqAdd(fin.seq, 1) }));
  assert.equal(c.ep.state, TcpState.FIN_WAIT_2);
  rig.advance(4999);
  assert.equal(rig.take().length, 0);
  rig.advance(2);
  const rst = only(rig.take());
  assert.deepEqual(
    [rst.flags, rst.seq, rst.ack],
    [TCP_FLAG_RST | TCP_FLAG_ACK, seqAdd(fin.seq, 1), c.peerNxt],
  );
  assert.equal(c.ep.state, TcpState.CLOSED);
  assert.equal(rig.stack.stats.tcp.OutRsts, 1);
});

// A FIN riding on the ACK of ours leaves FIN_WAIT_2's timeout to after it (conn9t): armed when
// the FIN is out of order, none when it takes the connection on, and a FIN whose ACK is refused
// leaves nothing behind — a later ACK of ours arms it as usual.
Deno.test("tcp input: FIN_WAIT_2 of a closed socket whose FIN-ACK carries an out-of-order FIN still times out", () => {
  const rig = new TcpRig({ tcp: { finWait2TimeoutMs: 5000 } });
  const c = rig.openActive();
  c.ep.close();
  rig.tick();
  const fin = only(rig.take());
  const ack = seqAdd(fin.seq, 1);
  rig.inject(c.seg({ flags: TCP_FLAG_ACK | TCP_FLAG_FIN, seq: seqAdd(c.peerNxt, 100), ack }));
  assert.equal(c.ep.state, TcpState.FIN_WAIT_2);
  rig.take(); // the duplicate ACK for the gap
  rig.advance(5001);
  assert.ok(
    rig.take().some((s) => s.flags === (TCP_FLAG_RST | TCP_FLAG_ACK)),
    "RST at the timeout",
  );
  assert.equal(c.ep.state, TcpState.CLOSED);
  // In order: TIME_WAIT at once, and no timeout left to fire.
  const rig2 = new TcpRig({ tcp: { finWait2TimeoutMs: 5000 } });
  const d = rig2.openActive();
  d.ep.close();
  rig2.tick();
  const fin2 = only(rig2.take());
  rig2.inject(d.seg({ flags: TCP_FLAG_ACK | TCP_FLAG_FIN, ack: seqAdd(fin2.seq, 1) }));
  assert.equal(rig2.stack.tcp.timeWaitCount, 1);
  rig2.take();
  rig2.advance(5001);
  assert.equal(rig2.take().filter((s) => (s.flags & TCP_FLAG_RST) !== 0).length, 0);
  // A FIN whose ACK is too new is refused; the ACK of ours that follows arms the timeout.
  const rig3 = new TcpRig({ tcp: { finWait2TimeoutMs: 5000 } });
  const e = rig3.openActive();
  e.ep.close();
  rig3.tick();
  const fin3 = only(rig3.take());
  rig3.inject(e.seg({ flags: TCP_FLAG_ACK | TCP_FLAG_FIN, ack: seqAdd(fin3.seq, 1000) }));
  assert.equal(e.ep.state, TcpState.FIN_WAIT_1);
  rig3.take();
  rig3.inject(e.seg({ flags: TCP_FLAG_ACK, ack: seqAdd(fin3.seq, 1) }));
  assert.equal(e.ep.state, TcpState.FIN_WAIT_2);
  rig3.advance(5001);
  assert.ok(rig3.take().some((s) => (s.flags & TCP_FLAG_RST) !== 0), "RST at the timeout");
});

Deno.test("tcp input: abort() and close() with unread data send <CTL=RST,ACK> at SND.MAX", () => {
  const rig = new TcpRig({ tcp: { quickAcks: 0 } });
  const a = rig.openActive();
  a.ep.abort();
  let rst = only(rig.take());
  assert.deepEqual(
    [rst.flags, rst.seq, rst.ack],
    [TCP_FLAG_RST | TCP_FLAG_ACK, seqAdd(a.iss, 1), a.peerNxt],
  );
  assert.equal(a.ep.state, TcpState.CLOSED);
  const rig2 = new TcpRig({ tcp: { quickAcks: 0 } });
  const b = rig2.openActive();
  rig2.inject(b.seg({ flags: TCP_FLAG_ACK, payload: 10 }));
  b.ep.close();
  rst = only(rig2.take());
  assert.deepEqual([rst.flags, rst.ack], [TCP_FLAG_RST | TCP_FLAG_ACK, seqAdd(b.peerNxt, 10)]);
  assert.equal(rig2.stack.stats.tcp.TCPAbortOnClose, 1);
});

Deno.test("tcp input: the third duplicate ACK triggers a fast retransmit of SND.UNA", () => {
  const rig = new TcpRig();
  const c = rig.openActive({ mss: 1000 });
  c.ep.setNoDelay(true);
  c.ep.write(new Uint8Array(5000).fill(7), 0, 5000);
  rig.tick();
  const sent = rig.take();
  assert.equal(sent.length, 5);
  assert.deepEqual(sent.map((s) => s.payload.length), [1000, 1000, 1000, 1000, 1000]);
  const una = seqAdd(c.iss, 1001);
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: una }));
  assert.equal(rig.take().length, 0);
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: una }));
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: una }));
  assert.equal(rig.take().length, 0, "two duplicate ACKs are not enough");
  assert.equal(c.ep.snd.dupAcks, 2);
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: una }));
  const rtx = only(rig.take());
  assert.deepEqual([rtx.seq, rtx.payload.length], [una, 1000]);
  assert.equal(rig.stack.stats.tcp.TCPFastRetrans, 1);
  assert.equal(rig.stack.stats.tcp.RetransSegs, 1);
  assert.equal(c.ep.info().retransmits, 1);
  assert(c.ep.snd.rec.repairing);
  assert.equal(c.ep.snd.recover, seqAdd(c.iss, 5001));
  // A window update is not a duplicate ACK.
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: una, window: 60000 }));
  assert.equal(rig.take().length, 0);
});

Deno.test("tcp input: PAWS drops a segment with an old timestamp and ACKs it", () => {
  const rig = new TcpRig({ tcp: { quickAcks: 0 } });
  const c = rig.openActive({ tsVal: 5000 });
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, payload: 10, ts: [4000, 0] }));
  const ack = only(rig.take());
  assert.equal(ack.ack, c.peerNxt);
  assert.equal(ack.tsEcr, 5000);
  assert.equal(c.ep.readableBytes, 0);
  assert.equal(rig.stack.stats.tcp.PAWSEstab, 1);
  // A current timestamp gets through and becomes TS.Recent.
  rig.inject(c.seg({ flags: TCP_FLAG_ACK | TCP_FLAG_PSH, payload: 10, ts: [5001, 0] }));
  assert.equal(c.ep.readableBytes, 10);
  rig.advance(100);
  assert.equal(only(rig.take()).tsEcr, 5001);
});
