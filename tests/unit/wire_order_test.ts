/**
 * `bench/wire_order.ts`: a sender's segments out of send order, and a peer's ACKs out of
 * number order, counted from a classic pcap file (here made by hand).
 */

import assert from "node:assert/strict";
import { countIdInversions, countSendOrder, countSeqInversions } from "../../bench/wire_order.ts";

/** A classic little-endian Ethernet pcap of IPv4/TCP datagrams (id, seq, payload bytes, flags). */
function pcap(datagrams: [number, number, number, number?][]): Uint8Array {
  const rec = 14 + 20 + 20;
  const out = new Uint8Array(24 + datagrams.length * (16 + rec));
  const v = new DataView(out.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, 64, true);
  v.setUint32(20, 1, true);
  let p = 24;
  for (const [id, seq, payload, flags] of datagrams) {
    v.setUint32(p + 8, rec, true);
    v.setUint32(p + 12, rec + payload, true);
    const f = p + 16;
    v.setUint16(f + 12, 0x0800);
    v.setUint8(f + 14, 0x45);
    v.setUint16(f + 16, 40 + payload);
    v.setUint16(f + 18, id);
    v.setUint8(f + 23, 6);
    v.setUint32(f + 34 + 4, seq);
    v.setUint8(f + 34 + 12, 5 << 4);
    v.setUint8(f + 34 + 13, flags ?? 0x10);
    p = f + rec;
  }
  return out;
}

Deno.test("wire order: a first transmission behind a later one counts, a resend does not", () => {
  const isn = 0xfffff000; // the flow's sequence numbers wrap
  const s = (i: number) => (isn + i * 1000) >>> 0;
  const o = countSeqInversions(pcap([
    [1, s(0), 1000],
    [2, s(2), 1000], // s1 overtaken
    [3, s(1), 1000], // reordered: counted
    [4, s(3), 1000],
    [5, s(0), 1000], // a resend: not counted
    [6, s(4), 0], // a pure ACK: not a segment
    [7, s(4), 1000],
  ]));
  assert.deepEqual(o, { segments: 6, resends: 1, inversions: 1, maxBehindBytes: 2000, events: 1 });
});

Deno.test("wire order: ACK numbers behind the highest seen count, wrapping at 2^16", () => {
  const o = countIdInversions(pcap([
    [40000, 0, 0, 0x12], // the SYN-ACK, numbered apart: left out
    [65534, 0, 0],
    [0, 0, 0],
    [65535, 0, 0], // behind 0 (wrapped): counted
    [1, 0, 0],
    [30000, 0, 0], // another sender's: skipped, not the new highest
    [2, 0, 0],
  ]));
  assert.deepEqual(o, { datagrams: 6, inversions: 1, maxBehind: 1, jumps: 1 });
});

Deno.test("wire order: a file that is not a classic pcap is refused", () => {
  assert.throws(() => countSeqInversions(new Uint8Array(24)), /not a little-endian classic pcap/);
});

Deno.test("wire order: the first two data segments swapped count one inversion", () => {
  const s = (i: number) => (1000 + i * 1000) >>> 0;
  const rows: [number, number, number][] = [[1, s(1), 1000], [2, s(0), 1000]];
  for (let i = 2; i < 100; i++) rows.push([i + 1, s(i), 1000]);
  const o = countSeqInversions(pcap(rows));
  assert.equal(o.inversions, 1);
  assert.equal(o.maxBehindBytes, 2000); // behind the first one's end
});

Deno.test("wire order: an in-order flow past 4 GB counts no inversion", () => {
  const rows: [number, number, number][] = [];
  for (let i = 0; i < 75_000; i++) rows.push([i & 0xffff, (i * 60_000) >>> 0, 60_000]);
  const o = countSeqInversions(pcap(rows));
  assert.equal(o.segments, 75_000);
  assert.equal(o.inversions, 0);
  assert.equal(o.resends, 0);
});

Deno.test("wire order: a stray first datagram does not make the sender's ACKs look behind", () => {
  const rows: [number, number, number][] = [[5000, 0, 0]];
  for (let i = 0; i < 100; i++) rows.push([100 + i, 0, 0]);
  rows.push([150, 0, 0]); // one real inversion after the re-anchoring
  const o = countIdInversions(pcap(rows));
  assert.equal(o.inversions, 1);
  assert.equal(o.maxBehind, 49);
  assert.equal(o.jumps, 3); // the first three after the stray, until the count follows them
});

Deno.test("send order: a first transmission behind a later resend counts, by frame numbers", () => {
  const s = (i: number) => (0xfffff000 + i * 1000) >>> 0;
  const o = countSendOrder(pcap([
    [10, s(0), 1000], // frame 10: s0, s1 (the kernel numbers its segments on)
    [11, s(1), 1000],
    [12, s(0), 1000], // frame 12: a resend of s0, sent after frame 11
    [11, s(2), 1000], // frame 11: s2, s3, s4, sent before the resend, here after it
    [12, s(3), 1000],
    [13, s(4), 1000],
    [13, s(5), 1000], // frame 13
  ]));
  assert.deepEqual(o, {
    frames: 4,
    behindLater: 3,
    behindResend: 3,
    resendsBehind: 0,
    resendsAhead: 1,
    maxBehindFrames: 1,
  });
  // The same frames in send order: nothing behind (and sequence order alone sees nothing either).
  const inOrder = countSendOrder(pcap([
    [10, s(0), 1000],
    [11, s(1), 1000],
    [11, s(2), 1000],
    [12, s(3), 1000],
    [13, s(4), 1000],
    [12, s(0), 1000],
    [13, s(5), 1000],
  ]));
  assert.equal(inOrder.behindLater, 0);
  // A resend behind new data sent after it: behind, but ahead of nothing.
  const late = countSendOrder(pcap([
    [10, s(0), 1000], // frame 10: s0, s1
    [11, s(1), 1000],
    [13, s(2), 1000], // frame 13 (frame 12 went elsewhere)
    [11, s(0), 1000], // frame 11: a resend of s0, sent before frame 13
  ]));
  assert.deepEqual(late, {
    frames: 3,
    behindLater: 1,
    behindResend: 0,
    resendsBehind: 1,
    resendsAhead: 0,
    maxBehindFrames: 2,
  });
  assert.equal(inOrder.frames, 4);
  assert.equal(
    countSeqInversions(pcap([
      [10, s(0), 1000],
      [11, s(1), 1000],
      [12, s(0), 1000],
      [11, s(2), 1000],
      [12, s(3), 1000],
    ])).inversions,
    0,
  );
});
