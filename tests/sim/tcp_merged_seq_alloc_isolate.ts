// One measurement of `tcp_merged_seq_alloc_test.ts`, run in an isolate of its own (a worker).

import { medianHeapGrowthPerUnit } from "../harness/heap_growth.ts";
import { seqNet, SeqWorkload } from "../harness/seq_workload.ts";

/** Measured windows. */
const ROUNDS = 12;

/**
 * Median heap growth per data segment (bytes) of a bulk transfer at MTU 9000 with sequence
 * numbers ≥ 2**31, both stacks and the simulated wire, after a warm-up.
 */
export function measureMergedSeqAlloc(): number {
  const net = seqNet("high", 9000);
  const w = new SeqWorkload(net, false);
  w.bulk(30e6); // warm: optimised code, full pools, grown buffers
  const run = { step: () => w.bulk(4e6), units: () => net.a.stats.tcp.OutSegs };
  const [b] = medianHeapGrowthPerUnit([run], ROUNDS);
  return b;
}

// As a worker: one question, one answer.
// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
if (typeof scope.WorkerGlobalScope !== "undefined" && scope instanceof scope.WorkerGlobalScope) {
  scope.onmessage = () => {
    scope.postMessage(measureMergedSeqAlloc());
  };
}
