// Fewer `Clock.nowMs()` calls per segment on the bulk paths: the TSval in `emit`, the ACK's time
// in the loss control and the neighbour entry's use go through `readClockMs`, which writes the
// time into a cell. Where V8 does not inline `nowMs` into a large caller its fractional answer is
// a new heap number per call (bench/README.md, "heap13r": `nowMs < emit` ~1.4 B per wire packet
// on a receiver). The receiver's own reads (arrival, TSecr age, delayed-ACK arm: ~2 per segment)
// keep `nowMs()`: read into a cell there they cost the real receive path more (the same
// section). On main a bulk transfer called it 5.2 times per segment.

import assert from "node:assert/strict";
import { seqNet, SeqWorkload } from "../harness/seq_workload.ts";

/** Most `nowMs()` calls per data segment, both stacks (the receiver's ~2, and per tick). */
const MAX_CALLS_PER_SEGMENT = 2.5;

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
