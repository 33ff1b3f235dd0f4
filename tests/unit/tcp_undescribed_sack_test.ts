// A peer that acknowledges a batch of segments with one ACK (Linux's SACK compression, a
// socket backlog processed at once) lists at most three SACK blocks beside timestamps: the
// blocks it made earliest in the batch are never reported. On the veth rig under 1 % loss the
// D-SACKed resends came from such ACKs: RACK deemed lost data the peer had (bench/README.md,
// branch kick11q). Scripted here with the rig, segment by segment.

import assert from "node:assert/strict";
import { TCP_FLAG_ACK } from "../../transport/tcp/header.ts";
import { seqAdd } from "../../transport/tcp/seq.ts";
import { type SentSegment, TcpRig } from "../harness/tcp_rig.ts";

const MSS = 1000;

/** A connection with timestamps (three SACK blocks fit) that has sent s0..s9 one ms ago. */
function tenInFlight() {
  const rig = new TcpRig({ tcp: { quickAcks: 0 } });
  const c = rig.openActive({ mss: MSS, sackPermitted: true, windowScale: 7, tsVal: 100 });
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, window: 1000 }));
  c.ep.setNoDelay(true);
  c.ep.write(new Uint8Array(20 * MSS).fill(9), 0, 20 * MSS);
  rig.tick();
  const sent = rig.take();
  assert.equal(sent.length, 10);
  assert.ok(sent[0].hasTimestamps);
  rig.clock.advance(1);
  // Segments carry MSS less the timestamps option: s0..s9 by their own numbers, s10 after s9.
  const starts = sent.map((s) => s.seq);
  starts.push(seqAdd(sent[9].seq, sent[9].payload.length));
  const seg = (i: number) => starts[i];
  const seqs = (out: SentSegment[]) => out.map((s) => starts.indexOf(s.seq));
  return { rig, c, seg, seqs };
}

Deno.test("rig: an ACK whose three SACK blocks are all new leaves the range below them undescribed — only its first record is resent, the next real hole after the cumulative ACK", () => {
  const { rig, c, seg, seqs } = tenInFlight();
  const tcp = rig.stack.stats.tcp;
  // The peer lost s0, s2, s5, s7 and has s1 (block A), s3–s4 (B), s6 (C), s8–s9 (D); its one
  // ACK for the batch lists D, C, B — A does not fit.
  const ts = (): [number, number] => [c.peerTsVal, c.ep.snd.sndMax > 0 ? 1 : 0];
  rig.inject(c.seg({
    flags: TCP_FLAG_ACK,
    ack: seg(0),
    window: 1000,
    ts: ts(),
    sack: [[seg(8), seg(10)], [seg(6), seg(7)], [seg(3), seg(5)]],
  }));
  assert.equal(tcp.TCPSackUndescribed, 1);
  // RACK deems lost s0 (the undescribed range's first record) and the described holes s5, s7;
  // s1 and s2 are held. (main: s0, s1, s2, s5, s7 — s1 is a spurious resend.)
  assert.equal(tcp.TCPRackLostSegs, 3);
  const first = seqs(rig.take());
  assert.ok(!first.includes(1), `s1 resent: ${first}`);
  assert.ok(!first.includes(2), `s2 resent before the cumulative ACK: ${first}`);
  assert.ok(first.includes(0));
  // s0's resend arrives: the cumulative ACK stops at the next real hole, s2, now the range's
  // first record, which RACK deems lost (sent before the delivered s9).
  rig.clock.advance(1);
  rig.inject(c.seg({
    flags: TCP_FLAG_ACK,
    ack: seg(2),
    window: 1000,
    ts: ts(),
    sack: [[seg(3), seg(5)], [seg(8), seg(10)], [seg(6), seg(7)]],
  }));
  // s1, never resent, delivered below s9: reordering (RFC 8985 §6.2 step 3), so RACK waits its
  // reordering window (min_RTT / 4) for s2 and its timer resends it.
  rig.advance(1);
  const next = seqs(rig.take());
  const resent = [...first, ...next].filter((s) => s >= 0 && s < 10).sort((a, b) => a - b);
  assert.ok(next.includes(2), `s2 not resent after the cumulative ACK: ${next}`);
  // Everything the peer lacked was resent once, nothing it had.
  rig.clock.advance(1);
  rig.inject(c.seg({ flags: TCP_FLAG_ACK, ack: seg(10), window: 1000, ts: ts() }));
  const rest = seqs(rig.take()).filter((s) => s >= 0 && s < 10);
  assert.deepEqual([...resent, ...rest].sort((a, b) => a - b), [0, 2, 5, 7]);
  assert.equal(tcp.TCPTimeouts, 0);
});

Deno.test("rig: a full SACK list that repeats a block reported before describes every new block — RACK marks as before", () => {
  const { rig, c, seg } = tenInFlight();
  const tcp = rig.stack.stats.tcp;
  // First ACK: s1 arrived above the lost s0 (one block, reported).
  rig.inject(c.seg({
    flags: TCP_FLAG_ACK,
    ack: seg(0),
    window: 1000,
    ts: [c.peerTsVal, 1],
    sack: [[seg(1), seg(2)]],
  }));
  rig.take();
  // Then D, C and the repeated A: B (s3–s4) would have been listed before A if it were new.
  rig.inject(c.seg({
    flags: TCP_FLAG_ACK,
    ack: seg(0),
    window: 1000,
    ts: [c.peerTsVal, 1],
    sack: [[seg(8), seg(10)], [seg(6), seg(7)], [seg(1), seg(2)]],
  }));
  assert.equal(tcp.TCPSackUndescribed, 0);
});
