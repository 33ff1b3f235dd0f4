/**
 * What a connection costs the heap: N short connections between two stacks on the simulated
 * wire (`tests/harness/sim_net.ts`), `-C` in flight, each one a request/response like an HTTP/1.0
 * exchange (the client sends 64 bytes, the server answers 64 and closes first, so the server's
 * side ends in TIME_WAIT as behind `ab`). Prints the wall time per connection and the heap
 * still used per connection after a full collection (with and without the TIME_WAIT records).
 *
 * Run with `--v8-flags=--expose-gc,--trace-gc-nvp` and pipe through `--sum-gc` parsing to see
 * the bytes promoted out of the young generation per connection:
 *
 * ```
 * deno run --allow-all --v8-flags=--expose-gc,--trace-gc-nvp bench/conn_alloc.ts -n 20000 -C 32 \
 *   | deno run bench/conn_alloc.ts --sum-gc
 * ```
 *
 * `--heap-sample` runs the N connections under V8's sampling heap profiler instead (objects
 * scavenges took back included) and prints the bytes allocated per connection (both sides),
 * by allocating function with `--depth` frames of callers, the top `--top` sites:
 *
 * ```
 * deno run --allow-all bench/conn_alloc.ts -n 20000 --heap-sample --depth 2 --json
 * ```
 *
 * @module
 */

import { Session } from "node:inspector";
import { parseArgs } from "node:util";
import { gcRecords } from "./gc_nvp.ts";
import { sitesByDepth, startHeapSampling, stopHeapSampling } from "./inspector.ts";
import { ADDR_B, makeSimNet } from "../tests/harness/sim_net.ts";
import type { TcpEndpoint } from "../transport/tcp/endpoint.ts";
import { TcpState } from "../transport/tcp/state.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    n: { type: "string", short: "n", default: "20000" },
    conc: { type: "string", short: "C", default: "32" },
    warm: { type: "string", default: "2000" },
    msl: { type: "string", default: "60000" },
    "sum-gc": { type: "boolean", default: false },
    "heap-sample": { type: "boolean", default: false },
    depth: { type: "string", default: "1" },
    top: { type: "string", default: "20" },
    json: { type: "boolean", default: false },
  },
});

if (args.values["sum-gc"]) {
  // Sum the --trace-gc-nvp lines between the "start" and "end" markers.
  const text = await new Response(Deno.stdin.readable).text();
  let n = 0;
  let promoted = 0, copied = 0, scavenges = 0, marks = 0, allocated = 0;
  // The markers may land inside a trace line (V8 buffers its own output): cut them out first.
  const marks0 = /\{"event":"(start|end|summary)"[^}]*\}\n?/g;
  const parts: string[] = [];
  for (const m of text.matchAll(marks0)) parts.push(m[0].trim());
  const start = text.indexOf('{"event":"start"}');
  const end = text.indexOf('{"event":"end"');
  n = JSON.parse(parts.find((p) => p.includes('"end"'))!).connections;
  for (const p of parts) console.log(p);
  for (const o of gcRecords(text.slice(start, end).replace(marks0, ""))) {
    if (o.gc === "s") scavenges++;
    else marks++;
    promoted += Number(o.promoted);
    copied += Number(o.new_space_survived);
    allocated += Number(o.allocated);
  }
  console.log(JSON.stringify({
    event: "gc",
    scavenges,
    markCompacts: marks,
    allocatedPerConn: Math.round(allocated / n),
    promotedPerConn: Math.round(promoted / n),
    survivedScavengePerConn: Math.round(copied / n),
  }));
  Deno.exit(0);
}

const total = Number(args.values.n);
const conc = Number(args.values.conc);
const warm = Number(args.values.warm);
const gc = (globalThis as { gc?: () => void }).gc;

const net = makeSimNet({
  wire: { seed: 7, delayMs: 0.05 },
  tcp: { maxTimeWait: 1 << 20, mslMs: Number(args.values.msl) },
});
const listener = net.tcpB.listen(null, 80, 1024);
const REQ = new Uint8Array(64).fill(0x41);
const buf = new Uint8Array(256);

interface Pair {
  c: TcpEndpoint;
  s: TcpEndpoint | null;
  phase: number;
}

/** Run `n` connections, `conc` at once. */
function runConnections(n: number): void {
  let started = 0, done = 0;
  const live: Pair[] = [];
  const accepted: TcpEndpoint[] = [];
  const step = (): boolean => {
    while (started < n && live.length < conc) {
      live.push({ c: net.tcpA.connect(ADDR_B, 80), s: null, phase: 0 });
      started++;
    }
    for (let ep = listener.accept(); ep !== null; ep = listener.accept()) accepted.push(ep);
    // Server side: read the request, answer, close.
    for (let i = accepted.length - 1; i >= 0; i--) {
      const s = accepted[i];
      const r = s.read(buf, 0, buf.length);
      if (r > 0) {
        s.write(REQ, 0, 64);
        s.close();
        accepted[i] = accepted[accepted.length - 1];
        accepted.pop();
      }
    }
    // Client side: send once established, read the answer and EOF, close.
    for (let i = live.length - 1; i >= 0; i--) {
      const p = live[i];
      if (p.phase === 0 && p.c.state === TcpState.ESTABLISHED) {
        p.c.write(REQ, 0, 64);
        p.phase = 1;
      }
      if (p.phase === 1) {
        const r = p.c.read(buf, 0, buf.length);
        if (r === 0) {
          p.c.close();
          p.phase = 2;
        }
      }
      if (p.phase === 2 && p.c.state === TcpState.CLOSED) {
        live[i] = live[live.length - 1];
        live.pop();
        done++;
      }
    }
    return done === n;
  };
  if (!net.run(step, 10_000_000)) throw new Error(`stalled at ${done}/${n}`);
}

function heap(): number {
  gc?.();
  gc?.();
  return Deno.memoryUsage().heapUsed;
}

runConnections(warm);
if (args.values["heap-sample"]) {
  const s = new Session();
  s.connect();
  await startHeapSampling(s, 256);
  runConnections(total);
  const head = await stopHeapSampling(s);
  // A site is the allocating function and its callers, `--depth` frames in all.
  const { sites: by, total: sampled } = sitesByDepth(head, Number(args.values.depth));
  const top = [...by.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(args.values.top));
  const perConn = (b: number): number => Math.round(b / total * 10) / 10;
  if (args.values.json) {
    console.log(JSON.stringify({
      event: "heap-sample",
      connections: total,
      concurrency: conc,
      bytesPerConn: perConn(sampled),
      sites: top.map(([site, b]) => ({ site, bytesPerConn: perConn(b) })),
    }));
  } else {
    console.log(`${total} connections, sampled ${sampled} B: ${perConn(sampled)} B per connection`);
    for (const [k, b] of top) console.log(`${perConn(b).toFixed(1).padStart(8)}  ${k}`);
  }
  Deno.exit(0);
}
const h0 = heap();
const tw0 = net.b.stats.tcp.TW;
console.log(JSON.stringify({ event: "start" }));
const t0 = performance.now();
runConnections(total);
const t1 = performance.now();
console.log(JSON.stringify({ event: "end", connections: total }));
const h1 = heap();
// Let TIME_WAIT end (2·MSL of virtual time): what is left is what a closed connection keeps.
net.advance(130_000);
const h2 = heap();
console.log(JSON.stringify({
  event: "summary",
  connections: total,
  concurrency: conc,
  usPerConn: Math.round((t1 - t0) * 1000 / total * 10) / 10,
  timeWaitRecords: net.tcpB.timeWaitCount,
  heldPerConnBytes: Math.round((h1 - h0) / total),
  keptAfterTimeWaitPerConnBytes: Math.round((h2 - h0) / total),
  twRetired: net.b.stats.tcp.TW - tw0,
}));
