// Loss recovery against a scripted peer (the rig): what a hand-made receiver reporting holes
// gets back, segment by segment — as in the issue that asked for SACK-based recovery.

import assert from "node:assert/strict";
import { TCP_FLAG_ACK } from "../../transport/tcp/header.ts";
import { seqAdd } from "../../transport/tcp/seq.ts";
import { type RigConn, type SentSegment, TcpRig } from "../harness/tcp_rig.ts";

const MSS = 1000;

/**
 * A connection with `mss` 1000, cwnd 10 segments, that has sent s0..s9 one ms ago (of
 * `written` segments queued).
 */
function tenInFlight(
  sack: boolean,
  written = 20,
): { rig: TcpRig; c: RigConn; seg: (i: number) => number } {
  const rig = new TcpRig({ tcp: { quickAcks: 0 } });
  const c = rig.openActive({ mss: MSS, sackPermitted: sack, windowScale: 7 });
  // The peer's first scaled window (1000 << 7), so that later ACKs are pure duplicates.
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, window: 1000 }));
  c.ep.setNoDelay(true);
  c.ep.write(new Uint8Array(written * MSS).fill(9), 0, written * MSS);
  rig.tick();
  const sent = rig.take();
  assert.equal(sent.length, 10);
  rig.clock.advance(1); // the ACKs come back one ms later
  const una = seqAdd(c.iss, 1);
  return { rig, c, seg: (i: number) => seqAdd(una, i * MSS) };
}

function seqs(out: SentSegment[], seg: (i: number) => number): number[] {
  return out.map((s) => (s.seq - seg(0)) / MSS);
}

Deno.test("rig: a two-segment hole under growing SACK blocks — limited transmit, then both resent at once", () => {
  const { rig, c, seg } = tenInFlight(true);
  const dup = (to: number) =>
    rig.inject(
      c.seg({ flags: TCP_FLAG_ACK, ack: seg(0), window: 1000, sack: [[seg(2), seg(to)]] }),
    );
  // First and second duplicate ACK: one new segment each (RFC 3042 via pipe, RFC 6675).
  dup(3);
  assert.deepEqual(seqs(rig.take(), seg), [10]);
  dup(4);
  assert.deepEqual(seqs(rig.take(), seg), [11]);
  // Third: 8 KB SACKed above the hole: both missing segments go at once (PRR's slow-start
  // bound allows them), then new data the window has room for.
  dup(10);
  const out = seqs(rig.take(), seg);
  assert.deepEqual(out.slice(0, 2), [0, 1]);
  assert.ok(out.length >= 2);
  const stats = rig.stack.stats.tcp;
  assert.equal(stats.TCPSackRecovery, 1);
  assert.equal(stats.RetransSegs, 2);
  assert.equal(stats.TCPTimeouts, 0);
  // Recovery ends when everything sent before it started (s0..s11) is acknowledged.
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(11), window: 1000 }));
  assert.equal(c.ep.info().caState, "Recovery");
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(12), window: 1000 }));
  assert.equal(c.ep.info().caState, "Open");
});

Deno.test("rig: without SACK, NewReno resends the next hole on each partial ACK (RFC 6582)", () => {
  const { rig, c, seg } = tenInFlight(false);
  // s0 and s3 are lost. Three duplicate ACKs: limited transmit twice, then fast retransmit.
  const dup = () => rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(0), window: 1000 }));
  dup();
  assert.deepEqual(seqs(rig.take(), seg), [10]);
  dup();
  assert.deepEqual(seqs(rig.take(), seg), [11]);
  dup();
  assert.deepEqual(seqs(rig.take(), seg).slice(0, 1), [0]);
  assert.equal(rig.stack.stats.tcp.TCPRenoRecovery, 1);
  // The retransmission fills s0: the ACK stops at the next hole, s3 — a partial ACK, which
  // resends s3 at once.
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(3), window: 1000 }));
  assert.deepEqual(seqs(rig.take(), seg).slice(0, 1), [3]);
  assert.equal(c.ep.info().caState, "Recovery");
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(12), window: 1000 }));
  assert.equal(c.ep.info().caState, "Open");
  assert.equal(rig.stack.stats.tcp.TCPTimeouts, 0);
});

Deno.test("rig: a lost tail with no new data to send goes out as the rescue retransmission once the first retransmission is acknowledged (RFC 6675 §4 rule 4, §5 (4.3))", () => {
  const { rig, c, seg } = tenInFlight(true, 10);
  // s0 arrived, s1 and the last segment s9 were lost: the SACK covers s2..s8.
  rig.inject(
    c.seg({ flags: TCP_FLAG_ACK, ack: seg(1), window: 1000, sack: [[seg(2), seg(9)]] }),
  );
  // RACK finds s1 (sent before the SACKed s8); s9 was sent after everything delivered, so
  // nothing could show it lost. RescueRxt is s1's end: no rescue until HighACK passes it.
  assert.deepEqual(seqs(rig.take(), seg), [1]);
  assert.equal(c.ep.info().caState, "Recovery");
  // s1's retransmission is acknowledged, s9 is still missing: NextSeg rule 4 resends it.
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(9), window: 1000 }));
  assert.deepEqual(seqs(rig.take(), seg), [9]);
  assert.equal(rig.stack.stats.tcp.TCPRescueRetrans, 1);
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(9), window: 1000 }));
  assert.deepEqual(seqs(rig.take(), seg), [], "no second rescue");
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(10), window: 1000 }));
  assert.equal(c.ep.info().caState, "Open");
  assert.equal(rig.stack.stats.tcp.TCPTimeouts, 0);
});

Deno.test("rig: a receive window closed by the data behind a hole sends no rescue with the first retransmission (RFC 6675 §5 (4.3))", () => {
  const { rig, c, seg } = tenInFlight(true, 20);
  // s1 lost, s2..s9 SACKed; the peer's window (70 << 7 = 8,960 bytes from SND.UNA) ends
  // before SND.NXT: no new data may go, cwnd would allow it. s9 is the newest segment in
  // flight and not lost — resending it now is the premature rescue the RFC rules out.
  rig.inject(
    c.seg({ flags: TCP_FLAG_ACK, ack: seg(1), window: 70, sack: [[seg(2), seg(9)]] }),
  );
  assert.deepEqual(seqs(rig.take(), seg), [1]);
  assert.equal(rig.stack.stats.tcp.TCPRescueRetrans, 0);
  assert.equal(rig.stack.stats.tcp.RetransSegs, 1);
});

Deno.test("rig: with TSO, several contiguous lost segments are resent as one super-segment", () => {
  const rig = new TcpRig({ tcp: { quickAcks: 0 }, tsoBytes: 65536 });
  const c = rig.openActive({ mss: MSS, sackPermitted: true, windowScale: 7 });
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, window: 1000 }));
  c.ep.setNoDelay(true);
  c.ep.write(new Uint8Array(40 * MSS).fill(9), 0, 40 * MSS);
  rig.tick();
  const first = rig.take();
  const una = seqAdd(c.iss, 1);
  const seg = (i: number) => seqAdd(una, i * MSS);
  // The initial window (10 segments) leaves as super-segments of several MSS.
  const firstBytes = first.reduce((n, s) => n + s.payload.length, 0);
  assert.equal(firstBytes, 10 * MSS);
  assert.ok(first.some((s) => s.payload.length > MSS && s.gsoSize === MSS), "TSO in use");
  rig.clock.advance(1);
  // s0..s4 are lost; the peer reports s5..s9 in one SACK block per arrival (the last ACK of a
  // GRO'd burst would carry the same).
  for (let i = 6; i <= 10; i++) {
    rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(0), window: 1000, sack: [[seg(5), seg(i)]] }));
  }
  // Deemed lost at once (five segments SACKed above them, RFC 6675 DupThresh) or after
  // RACK's reordering window; either way within a round trip.
  rig.advance(2);
  const resent = rig.take().filter((s) => s.seq === seg(0) || s.seq === seg(1));
  assert.ok(resent.length >= 1, "the hole is resent");
  const r = resent[0];
  assert.equal(r.seq, seg(0));
  assert.ok(r.payload.length >= 2 * MSS, `one frame resends ${r.payload.length / MSS} segments`);
  assert.equal(r.gsoSize, MSS);
  const stats = rig.stack.stats.tcp;
  assert.equal(stats.TCPTimeouts, 0);
  assert.ok(stats.RetransSegs >= r.payload.length / MSS);
});
