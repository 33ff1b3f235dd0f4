// No `Clock.nowMs()` call per segment on the bulk paths, sender and receiver: the per-segment
// and per-ACK reads of the time (the receiver's arrival note, its TSecr age and delayed-ACK arm,
// the TSval in `emit`, the ACK's time in the loss control, the neighbour entry's use) go through
// `readClockMs`, which writes the time into a cell. Where V8 does not inline `nowMs` into a large
// caller — the receive and output paths of a real process — its fractional answer is a new heap
// number per call (bench/README.md, "heap13r": ~3 B per wire packet in the receiver, ~1.7 in
// `emit`). On main a bulk transfer called it ~5 times per segment.

import assert from "node:assert/strict";
import { seqNet, SeqWorkload } from "../harness/seq_workload.ts";

/** Most `nowMs()` calls per data segment, both stacks (what is left is per tick). */
const MAX_CALLS_PER_SEGMENT = 0.5;

for (const mtu of [1500, 9000]) {
  Deno.test(`sim tcp clock reads: bulk at MTU ${mtu} calls nowMs() < ${MAX_CALLS_PER_SEGMENT} times per segment`, () => {
    const net = seqNet("high", mtu);
    const w = new SeqWorkload(net, false);
    w.bulk(5e6);
    const clock = net.clock;
    const nowMs = clock.nowMs;
    let calls = 0;
    // Counted on the instance: every layer holds this clock.
    clock.nowMs = function (this: typeof clock): number {
      calls++;
      return nowMs.call(this);
    };
    const segs0 = net.a.stats.tcp.OutSegs;
    const in0 = net.b.stats.tcp.InSegs;
    w.bulk(10e6);
    const segs = net.a.stats.tcp.OutSegs - segs0;
    assert.ok(net.b.stats.tcp.InSegs - in0 >= segs * 0.9, "the receiver saw the segments");
    const perSeg = calls / segs;
    assert.ok(perSeg < MAX_CALLS_PER_SEGMENT, `${perSeg.toFixed(2)} calls per segment (${segs})`);
  });
}
