// A read of what a receive ring holds (`readInto`, the `readable` stream's chunks, `consume` of
// what was buffered) copies it out through a view of the ring's storage. A reader that drains
// its ring leaves it empty, and a pooled ring then starts again at its storage's first byte:
// its reads copy the same few (start, length) ranges, whose views the TCP layer keeps
// (`TcpLayer.rcvReadViews`) — no view made per read.

import assert from "node:assert/strict";
import { medianHeapGrowthPerUnit } from "../harness/heap_growth.ts";
import { connectPair } from "../harness/sim_net.ts";
import { seqNet } from "../harness/seq_workload.ts";
import { TcpConn } from "../../stack/tcp_conn.ts";

/**
 * Most heap growth per draining `readInto` at MTU 9000 (a read of one or more 8,948-byte
 * segments): a view per read is ~70 B.
 */
const MAX_BYTES_PER_READ = 40;

/**
 * A bulk stream a → b at MTU 9000, its server end a `TcpConn` drained by `readInto` (or, with
 * `skip`, by `skip`: the same reads with no copy).
 */
function drainedPair(skip = false) {
  const net = seqNet("high", 9000);
  const { c, s } = connectPair(net);
  const conn = new TcpConn(net.b, s);
  // Two segments written per round of the network: a read finds one to a few segments.
  const chunk = new Uint8Array(2 * 8948);
  // Larger than the receive buffer: every read drains the ring.
  const buf = new Uint8Array(2 << 20);
  // Bytes, reads and the target in a typed array: a closure's number variable past 2**30 is a
  // heap number per store, the test's own allocation.
  const count = new Float64Array(3);
  const until = (): boolean => {
    c.write(chunk, 0, chunk.length);
    const n = skip ? conn.skip(buf.length) : conn.readInto(buf, 0, buf.length);
    if (n > 0) {
      count[0] += n;
      count[1]++;
    }
    return count[0] >= count[2];
  };
  const bulk = (bytes: number): void => {
    count[2] = count[0] + bytes;
    assert.ok(net.run(until, 600_000), "the transfer stalled");
  };
  return { net, c, conn, count, bulk };
}

Deno.test(`sim tcp read views: a reader draining its receive ring with readInto grows the heap < ${MAX_BYTES_PER_READ} B per read more than one that skips`, () => {
  // The same stream read two ways, taking turns: what the network and the stacks allocate per
  // round is in both, the copy's view only in the first.
  const copied = drainedPair();
  const skipped = drainedPair(true);
  const runs = [copied, skipped].map((p) => {
    p.bulk(20e6); // optimised code, full pools, grown buffers
    return { step: () => p.bulk(6e6), units: () => p.count[1] };
  });
  // A second measurement after more traffic when the first is over: on a loaded machine V8's
  // concurrent compiles may not have landed after the warm-up.
  let [a, b] = medianHeapGrowthPerUnit(runs, 16);
  if (a - b >= MAX_BYTES_PER_READ) {
    copied.bulk(20e6);
    skipped.bulk(20e6);
    [a, b] = medianHeapGrowthPerUnit(runs, 16);
  }
  assert.ok(a - b < MAX_BYTES_PER_READ, `${a.toFixed(2)} B per read, ${b.toFixed(2)} skipping`);
  for (const p of [copied, skipped]) {
    p.c.close();
    p.conn.close();
  }
});

Deno.test("sim tcp read views: draining reads reuse the receive ring's views; the bytes arrive intact", () => {
  const { net, c, conn, count, bulk } = drainedPair();
  const tcp = net.b.stats.tcp;
  bulk(2e6);
  const hits0 = tcp.RcvReadViewHits;
  const misses0 = tcp.RcvReadViewMisses;
  const reads0 = count[1];
  bulk(20e6);
  const reads = count[1] - reads0;
  const hits = tcp.RcvReadViewHits - hits0;
  const misses = tcp.RcvReadViewMisses - misses0;
  assert.ok(reads > 1000, `${reads} reads`);
  assert.ok(hits >= 0.9 * reads, `${hits} views reused, ${misses} made, for ${reads} reads`);
  c.close();
  conn.close();
});
