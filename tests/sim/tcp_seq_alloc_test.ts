// TCP allocates no more per segment when its sequence numbers and timestamps are above 2**30
// than when they are below. V8's small integers are 31-bit: a uint32 at or above 2**30 passed
// to, or returned from, a function V8 does not inline is a new heap number each time, and random
// ISNs put three connections in four up there. The same simulated transfer (bulk one way and
// both ways at MTU 1500 and 9000, and a 64-byte request/response) runs with the ISN and the
// timestamp offset pinned low, high and across the 2**32 wrap; the heap growth per data segment
// (per round trip) of the high runs may exceed the low run's by a few bytes only. Before the
// sequence numbers crossed calls as distances (`emit`, the scoreboard), were stored in place
// (`loadSeqAck`, `writeTcpSeqAck`) and read as fields (RACK), high minus low measured here
// +96 to +98 B per segment in bulk and +256 B per round trip; after, 0–1. (The request/response
// test runs first: after the bulk tests in the same process the high run still measured
// +288 B per round trip — some call the bulk transfer had V8 compile differently still boxes;
// bench/README.md, "TCP sequence numbers above 2**30".)

import assert from "node:assert/strict";
import { type HeapRun, medianHeapGrowthPerUnit, roundTripRun } from "../harness/heap_growth.ts";
import { ISN_PLACES, seqNet, SeqWorkload } from "../harness/seq_workload.ts";

/**
 * Most extra heap growth per data segment above 2**30 than below (bulk). The old code measured
 * +96 to +98 B here, this code 0–1.
 */
const MAX_EXTRA_BYTES_PER_SEGMENT = 24;
/**
 * Most extra heap growth per round trip above 2**30 than below. The old code measured +256 to
 * +276 B here; this code −16 to +14 (the request/response windows vary more from run to run).
 */
const MAX_EXTRA_BYTES_PER_ROUND_TRIP = 80;
/** Measured windows per placement, the placements taking turns. */
const ROUNDS = 14;
const PLACES = ["low", "high", "wrap"];

/** A warm bulk transfer with sequence numbers at `place`, a window 3 MB. */
function bulkRun(place: string, mtu: number, both: boolean): HeapRun {
  const net = seqNet(place, mtu);
  const w = new SeqWorkload(net, both);
  assert.equal(w.c.snd.iss, ISN_PLACES[place].isn, "the ISN is the pinned one");
  w.bulk(30e6); // warm: optimised code, full pools, grown buffers
  return {
    step: () => w.bulk(3e6),
    units: () => net.a.stats.tcp.OutSegs + (both ? net.b.stats.tcp.OutSegs : 0),
  };
}

/** A warm 64-byte request/response with sequence numbers at `place`, a window 500 of them. */
function rrRun(place: string): HeapRun {
  const w = new SeqWorkload(seqNet(place, 1500), false, 64);
  assert.equal(w.c.snd.iss, ISN_PLACES[place].isn, "the ISN is the pinned one");
  return roundTripRun((n) => w.roundTrips(n));
}

/** Assert that the high and wrap placements allocate at most a few bytes more than low. */
function assertFlat(runs: HeapRun[], unit: string, maxExtra: number): void {
  const [low, ...others] = medianHeapGrowthPerUnit(runs, ROUNDS);
  others.forEach((b, i) => {
    assert.ok(
      b - low < maxExtra,
      `${PLACES[i + 1]}: ${b.toFixed(1)} B per ${unit} against ${low.toFixed(1)} low`,
    );
  });
}

Deno.test(`sim tcp seq alloc: a 64-byte round trip allocates < ${MAX_EXTRA_BYTES_PER_ROUND_TRIP} B more with sequence numbers ≥ 2**31 and across the wrap`, () => {
  assertFlat(PLACES.map(rrRun), "round trip", MAX_EXTRA_BYTES_PER_ROUND_TRIP);
});

for (const [mtu, both] of [[1500, false], [9000, false], [1500, true]] as const) {
  const what = `bulk ${both ? "both ways" : "one way"} at MTU ${mtu}`;
  Deno.test(`sim tcp seq alloc: ${what} allocates < ${MAX_EXTRA_BYTES_PER_SEGMENT} B more per segment with sequence numbers ≥ 2**31 and across the wrap`, () => {
    assertFlat(PLACES.map((p) => bulkRun(p, mtu, both)), "segment", MAX_EXTRA_BYTES_PER_SEGMENT);
  });
}
