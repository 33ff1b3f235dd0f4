import assert from "node:assert/strict";
import { placeRoundTrips, type Side } from "../../bench/rr_trace.ts";
import type { TraceHeader } from "../../cli/rr_trace_file.ts";
import { TRACE_RX } from "../../stack/loop_trace.ts";

/** A side from round trips `[t0, t1]` and received batches `[stamp, pickup, frames]` (ms). */
function side(role: string, rt: number[][], rx: number[][]): Side {
  const header = { role, timeOrigin: 0, roundTrips: rt.length } as TraceHeader;
  return {
    header,
    rec: Float64Array.from(rx.flatMap(([stamp, pick, frames]) => [TRACE_RX, stamp, pick, frames])),
    rt: Float64Array.from(rt.flat()),
  };
}

// bench/rr_trace.ts splits a round trip at the kernel's stamps of its request (server's ring)
// and answer (client's ring); a batch carries the stamp of its first frame only. What cannot
// be split is counted by reason, so that the interop test can ask for none unexplained.
Deno.test("rr_trace: round trips split, or counted by why not", () => {
  const client = side("client", [
    [0, 0.1], // split
    [1, 1.1], // the request rode behind an earlier frame (a bare ACK stamped before t0)
    [2, 2.1], // the request's one-frame batch stamped before it was sent: a contradiction
    [3, 3.1], // the answer rode behind an earlier frame
    [4, 4.1], // the request behind an earlier frame …
    [4.2, 4.3], // … and this one's request too, by the same batch: only one can be
  ], [
    [0.05, 0.052, 1],
    [1.05, 1.06, 1],
    [2.05, 2.06, 1],
    [3.005, 3.06, 2],
    [4.05, 4.06, 1],
    [4.25, 4.26, 1],
  ]);
  const server = side("server", [], [
    [0.01, 0.012, 1],
    [0.99, 1.02, 2],
    [1.995, 2.02, 1],
    [3.01, 3.012, 1],
    [3.99, 4.02, 2],
  ]);
  const { splits, unplaced } = placeRoundTrips(client, server);
  assert.equal(splits.length, 1);
  const x = splits[0];
  assert.deepEqual([x.totalUs, x.aUs, x.bUs, x.cUs, x.dUs, x.eUs], [100, 10, 2, 38, 2, 48]);
  assert.deepEqual(unplaced, {
    requestBehindEarlierFrame: 2,
    answerBehindEarlierFrame: 1,
    unexplained: 2,
  });
});
