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

Deno.test("rig: a lost tail in recovery with no new data to send waits for RACK or the recovery probe, not a rescue retransmission (RFC 8985 §9.2)", () => {
  const { rig, c, seg } = tenInFlight(true, 10);
  const tcp = rig.stack.stats.tcp;
  // s0 arrived, s1 and the last segment s9 were lost: the SACK covers s2..s8.
  rig.inject(
    c.seg({ flags: TCP_FLAG_ACK, ack: seg(1), window: 1000, sack: [[seg(2), seg(9)]] }),
  );
  // RACK finds s1 (sent before the SACKed s8); s9 was sent after everything delivered, so
  // nothing shows it lost yet.
  assert.deepEqual(seqs(rig.take(), seg), [1]);
  assert.equal(c.ep.info().caState, "Recovery");
  // s1's retransmission is acknowledged at once — sooner than min_RTT, so RACK cannot tell it
  // from the original (RFC 8985 §6.2 step 2). RFC 6675's rescue (NextSeg rule 4) would resend
  // s9 now; RACK-TLP does not use RFC 6675's recovery (§9.2): nothing goes.
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(9), window: 1000 }));
  assert.deepEqual(seqs(rig.take(), seg), []);
  // The recovery probe (2·SRTT + 2 ms) resends the tail, long before the RTO.
  rig.advance(5);
  assert.deepEqual(seqs(rig.take(), seg), [9]);
  assert.equal(tcp.TCPRetransProbes, 1);
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(10), window: 1000 }));
  assert.equal(c.ep.info().caState, "Open");
  assert.equal(tcp.TCPTimeouts, 0);
});

Deno.test("rig: the newest segment in flight, held back only by a closed receive window, is not resent (no rescue retransmission under RACK-TLP, RFC 8985 §9.2)", () => {
  const { rig, c, seg } = tenInFlight(true, 20);
  const tcp = rig.stack.stats.tcp;
  // s1 lost, s2..s8 SACKed, s9 on its way; the peer's window (70 << 7 = 8,960 bytes from
  // SND.UNA) ends before SND.NXT: no new data may go, cwnd would allow it.
  rig.inject(
    c.seg({ flags: TCP_FLAG_ACK, ack: seg(1), window: 70, sack: [[seg(2), seg(9)]] }),
  );
  assert.deepEqual(seqs(rig.take(), seg), [1]);
  // s1's retransmission is acknowledged (at once: RACK cannot tell it from the original); the
  // window stays closed (128 bytes past s9). RFC 6675's rescue would resend s9 — which is not
  // lost, only not acknowledged yet.
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(9), window: 1 }));
  assert.deepEqual(seqs(rig.take(), seg), []);
  assert.equal(tcp.RetransSegs, 1);
  // s9 arrives: recovery ends with one retransmission, no D-SACK.
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(10), window: 1000 }));
  assert.equal(c.ep.info().caState, "Open");
  assert.equal(tcp.RetransSegs, 1);
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

Deno.test("rig: a D-SACK of a segment RACK deemed lost is counted as RACK's (TCPDSACKRack)", () => {
  const { rig, c, seg } = tenInFlight(true, 10);
  const tcp = rig.stack.stats.tcp;
  // s0 is late, not lost: three segments SACKed above it (DupThresh), RACK deems it lost.
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(0), window: 1000, sack: [[seg(1), seg(4)]] }));
  assert.deepEqual(seqs(rig.take(), seg), [0]);
  assert.equal(tcp.TCPRackLostSegs, 1);
  // The original arrives, then the retransmission: a D-SACK of s0.
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(4), window: 1000 }));
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(4), window: 1000, sack: [[seg(0), seg(1)]] }));
  assert.equal(tcp.TCPDSACKRecv, 1);
  assert.equal(tcp.TCPDSACKRack, 1);
  assert.equal(tcp.TCPDSACKUnknown, 0);
});

Deno.test("rig: a D-SACK of the tail loss probe is counted as the probe's (TCPDSACKLossProbe)", () => {
  const { rig, c, seg } = tenInFlight(true, 10);
  const tcp = rig.stack.stats.tcp;
  // Everything arrived, but the ACKs of s8 and s9 are lost: the probe resends s9.
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(8), window: 1000 }));
  assert.deepEqual(seqs(rig.take(), seg), []);
  rig.advance(20); // the PTO (2·SRTT + 2 ms), well before the RTO
  assert.equal(tcp.TCPLossProbes, 1);
  assert.equal(tcp.TCPTimeouts, 0);
  assert.deepEqual(seqs(rig.take(), seg), [9]);
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(10), window: 1000, sack: [[seg(9), seg(10)]] }));
  assert.equal(tcp.TCPDSACKRecv, 1);
  assert.equal(tcp.TCPDSACKLossProbe, 1);
  assert.equal(tcp.TCPDSACKUnknown, 0);
});

Deno.test("rig: a D-SACK of data never resent is counted as unknown (TCPDSACKUnknown)", () => {
  const { rig, c, seg } = tenInFlight(true, 10);
  const tcp = rig.stack.stats.tcp;
  // The network duplicated s0.
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(2), window: 1000, sack: [[seg(0), seg(1)]] }));
  assert.equal(tcp.TCPDSACKRecv, 1);
  assert.equal(tcp.TCPDSACKUnknown, 1);
});

Deno.test("rig: the late original of a segment RACK resent does not make RACK deem everything sent before the retransmission lost (RFC 8985 §6.2 step 2, the TSecr test)", () => {
  const rig = new TcpRig({ tcp: { quickAcks: 0 } });
  const c = rig.openActive({ mss: MSS, sackPermitted: true, windowScale: 7, tsVal: 500 });
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, window: 1000 }));
  c.ep.setNoDelay(true);
  const len = MSS - 12; // the timestamps option's room
  c.ep.write(new Uint8Array(10 * len).fill(9), 0, 10 * len);
  rig.tick();
  const sent = rig.take();
  assert.equal(sent.length, 10);
  const tsOrig = sent[0].tsVal;
  const una = seqAdd(c.iss, 1);
  const seg = (i: number) => seqAdd(una, i * len);
  const seqs = (out: SentSegment[]) => out.map((x) => (x.seq - una) / len);
  const tcp = rig.stack.stats.tcp;
  // 1 ms later s2..s4 are SACKed: s0 was lost, s1 is only late (a deeper queue, or
  // reordered), but RACK deems both lost and resends them.
  rig.clock.advance(1);
  rig.inject(
    c.seg({
      flags: TCP_FLAG_ACK,
      ack: seg(0),
      window: 1000,
      sack: [[seg(2), seg(5)]],
      ts: [600, tsOrig],
    }),
  );
  const resent = rig.take();
  assert.deepEqual(seqs(resent), [0, 1]);
  assert.ok(resent[0].tsVal > tsOrig);
  // 2 ms later the original s1 arrives, SACKed above the hole at s0: the ACK echoes the last
  // in-order segment's TSval (RFC 7323 §4.3), older than the retransmission's. s5..s9, sent
  // before the retransmission, are still on their way: RACK must not take this delivery for
  // the retransmission's and deem them lost.
  rig.clock.advance(2);
  rig.inject(
    c.seg({
      flags: TCP_FLAG_ACK,
      ack: seg(0),
      window: 1000,
      sack: [[seg(1), seg(5)]],
      ts: [601, tsOrig],
    }),
  );
  assert.deepEqual(seqs(rig.take()), []);
  assert.equal(tcp.RetransSegs, 2);
  assert.equal(tcp.TCPRackLostSegs, 2);
});
