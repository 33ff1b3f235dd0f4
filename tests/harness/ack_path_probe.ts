/**
 * Probe for `tests/sim/tcp_ack_record_alloc_test.ts`: a bulk transfer at MTU 9000 on the
 * simulated wire with fractional times (the clock moved 0.37 ms off whole milliseconds, as a
 * real clock is), sampled by V8's heap profiler after a short warm-up (V8's mid tier: where the
 * real processes' profiles found the ACK path's heap numbers). Prints one JSON line: the
 * segments and the sampled bytes per segment of each function of the ACK path's files.
 *
 * @module
 */

import { Session } from "node:inspector";
import {
  type HeapProfileNode,
  startHeapSampling,
  stopHeapSampling,
} from "../../bench/inspector.ts";
import { seqNet, SeqWorkload } from "./seq_workload.ts";

const FILES = ["scoreboard.ts", "delivery_rate.ts", "rack.ts", "windowed_filter.ts"];

const net = seqNet("high", 9000);
net.clock.advance(0.37);
const w = new SeqWorkload(net, false);
w.bulk(60e6);
const segs0 = net.a.stats.tcp.OutSegs;
const s = new Session();
s.connect();
await startHeapSampling(s, 32);
w.bulk(60e6);
const head = await stopHeapSampling(s);
s.disconnect();
const segs = net.a.stats.tcp.OutSegs - segs0;
const by: Record<string, number> = {};
const walk = (n: HeapProfileNode): void => {
  const file = n.callFrame.url.split("/").at(-1)!;
  if (n.selfSize > 0 && FILES.includes(file)) {
    const k = `${file}:${n.callFrame.functionName}`;
    by[k] = (by[k] ?? 0) + n.selfSize / segs;
  }
  for (const c of n.children) walk(c);
};
walk(head);
console.log(JSON.stringify({ segs, perSegment: by, clockMs: net.clock.nowMs() }));
