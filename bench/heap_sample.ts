/**
 * `deno run --allow-all bench/heap_sample.ts OUT.json ARGS…`: run `ustack ARGS…` in this process
 * under V8's sampling heap profiler (`node:inspector`'s `HeapProfiler.startSampling`, objects
 * collected by scavenges and full collections included, so short-lived garbage counts too) and
 * print where the bytes were allocated: the top functions by bytes, with their callers. Writes
 * the aggregated sites to OUT.json. With `pingpong client … --json` it also prints the bytes per
 * round trip (sampled bytes ÷ transactions, so the warm-up counts a little too).
 *
 * ```
 * deno run --allow-all bench/heap_sample.ts /tmp/client-heap.json pingpong client 198.18.0.2 \
 *   -t 3 --if veth0 --addr 198.18.0.1/24 --json
 * ```
 *
 * @module
 */

import { Session } from "node:inspector";
import {
  type CallFrame,
  frameWhere,
  type HeapProfileNode,
  startHeapSampling,
  stopHeapSampling,
} from "./inspector.ts";
import { main } from "../cli/ustack.ts";

if (import.meta.main) {
  const [out, ...args] = Deno.args;
  if (out === undefined || args.length === 0) {
    console.error("usage: deno run --allow-all bench/heap_sample.ts OUT.json USTACK-ARGS...");
    Deno.exit(2);
  }
  const s = new Session();
  s.connect();
  await startHeapSampling(s, 512);
  // Capture the summary line to divide by the transactions.
  const log = console.log;
  let transactions = 0;
  console.log = (...a: unknown[]) => {
    const line = a.map(String).join(" ");
    const m = line.match(/"transactions":(\d+)/);
    if (m !== null) transactions = Number(m[1]);
    log(...a);
  };
  const code = await main(args);
  console.log = log;
  const head = await stopHeapSampling(s);
  // Self bytes by function, and for each the bytes by caller chain (two frames up).
  const bySite = new Map<string, { bytes: number; callers: Map<string, number> }>();
  let total = 0;
  const walk = (n: HeapProfileNode, path: CallFrame[]) => {
    if (n.selfSize > 0) {
      total += n.selfSize;
      const k = frameWhere(n.callFrame);
      const e = bySite.get(k) ?? { bytes: 0, callers: new Map<string, number>() };
      e.bytes += n.selfSize;
      const caller = path.slice(-3).reverse().map(frameWhere).join(" < ");
      e.callers.set(caller, (e.callers.get(caller) ?? 0) + n.selfSize);
      bySite.set(k, e);
    }
    for (const c of n.children) walk(c, [...path, n.callFrame]);
  };
  walk(head, []);
  const sites = [...bySite.entries()].sort((a, b) => b[1].bytes - a[1].bytes);
  console.error(
    `sampled ${total} bytes` +
      (transactions > 0 ? `, ${(total / transactions).toFixed(0)} B per transaction` : ""),
  );
  for (const [k, e] of sites.slice(0, 25)) {
    console.error(`${String(e.bytes).padStart(10)}  ${k}`);
    const callers = [...e.callers.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3);
    for (const [c, b] of callers) console.error(`${"".padStart(14)}${b} < ${c}`);
  }
  await Deno.writeTextFile(
    out,
    JSON.stringify(
      {
        total,
        transactions,
        sites: sites.map(([k, e]) => ({
          site: k,
          bytes: e.bytes,
          callers: Object.fromEntries(e.callers),
        })),
      },
      null,
      1,
    ) + "\n",
  );
  Deno.exit(code);
}
