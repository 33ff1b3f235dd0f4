// No `subarray` view per data segment for the copy out of the TCP send ring. The driver's
// gather (the simulated wire's and the AF_PACKET TX ring's `payload.peek`) and `flatten` copy a
// segment's bytes out of the sender's ring with `Uint8Array.prototype.set`, which needs a view
// of exactly those bytes: a new ~104-byte object per segment. The sender now ends a segment
// where its ring's storage wraps (`ByteRing.runFrom`), so the segments of every lap start at the
// same places, and the ring takes their views from the TCP layer's table (`sndCopyViews`).
// Measured (bench/README.md, "heap13b"): bulk at MTU 1500 grew the heap 108–111 B per segment
// before (both stacks), 8–10 B after; at MTU 9000 132–143 B before, 13–38 after.

import assert from "node:assert/strict";
import { type HeapRun, medianHeapGrowthPerUnit } from "../harness/heap_growth.ts";
import { seqNet, SeqWorkload } from "../harness/seq_workload.ts";

/** Most heap growth per data segment of a bulk transfer, both stacks together. */
const MAX_BYTES_PER_SEGMENT = { 1500: 48, 9000: 80 } as const;
/** Measured windows per transfer, the two taking turns. */
const ROUNDS = 12;

/** A warm bulk transfer a → b at `mtu`, a window 3 MB, and the sender's view counters. */
function bulkRun(mtu: number): HeapRun & { hits: () => number; misses: () => number } {
  const net = seqNet("high", mtu);
  const w = new SeqWorkload(net, false);
  w.bulk(30e6); // warm: optimised code, full pools, grown buffers, one lap of the send ring
  const st = net.a.stats.tcp;
  return {
    step: () => w.bulk(3e6),
    units: () => st.OutSegs,
    hits: () => st.SndCopyViewHits ?? 0,
    misses: () => st.SndCopyViewMisses ?? 0,
  };
}

Deno.test(`sim tcp send copy alloc: bulk grows the heap < ${MAX_BYTES_PER_SEGMENT[1500]} B per segment at MTU 1500, < ${MAX_BYTES_PER_SEGMENT[9000]} at MTU 9000`, () => {
  // MTU 9000 first: what V8 compiles for the first transfer changes what the second allocates
  // (the other order measured 145 and 153 B here, the view reused all the same).
  const runs = [bulkRun(9000), bulkRun(1500)];
  const measure = () => {
    const hits0 = runs.map((r) => r.hits());
    const misses0 = runs.map((r) => r.misses());
    const [at9000, at1500] = medianHeapGrowthPerUnit(runs, ROUNDS);
    const msg = `${at1500.toFixed(1)} B per segment at MTU 1500, ${at9000.toFixed(1)} at 9000; ` +
      `view hits/misses (9000, 1500) ${
        runs.map((r, i) => `${r.hits() - hits0[i]}/${r.misses() - misses0[i]}`)
      }`;
    const ok = at1500 < MAX_BYTES_PER_SEGMENT[1500] && at9000 < MAX_BYTES_PER_SEGMENT[9000];
    return { ok, msg };
  };
  // A second measurement after more traffic when the first is over: on a loaded machine V8's
  // concurrent compiles may not have landed after the warm-up, and code not yet optimised boxes
  // what optimised code keeps unboxed (one run measured 59 B at MTU 1500 so, with a test suite
  // beside it). The view per segment this test is about is there in both (108–164 B).
  let m = measure();
  if (!m.ok) {
    for (const r of runs) r.step();
    m = measure();
  }
  assert.ok(m.ok, m.msg);
});
