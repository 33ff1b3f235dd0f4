/**
 * What building one TCP connection costs, part by part: N endpoints constructed as
 * `TcpLayer.connect` and the syncache do (`new TcpEndpoint(…)` on a stack of the simulated
 * wire), and each part the endpoint builds (sender, receiver, loss control and its parts,
 * congestion control, RTT estimator, rings, wait queue) constructed alone, N at a time. Prints
 * per part the nanoseconds per construction (the median of `--rounds` rounds, after
 * `--warm` rounds so V8 has optimised the constructors) and the heap bytes each one keeps
 * (after a full collection, held in a preallocated array).
 *
 * ```
 * deno run --allow-all --v8-flags=--expose-gc bench/conn_construct.ts -n 20000 --json
 * ```
 *
 * Not a timed test: CPU figures move with the machine's load (run it under the lock).
 *
 * @module
 */

import { Session } from "node:inspector";
import { parseArgs } from "node:util";
import { type CpuProfile, inspectorPost, selfTimes } from "./inspector.ts";
import { ByteRing } from "../core/byte_ring.ts";
import { WaitQueue } from "../core/event_mux.ts";
import { makeSimNet } from "../tests/harness/sim_net.ts";
import { createCongestionControl } from "../transport/tcp/congestion/mod.ts";
import { DeliveryRate } from "../transport/tcp/delivery_rate.ts";
import { TcpEndpoint } from "../transport/tcp/endpoint.ts";
import { LossControl } from "../transport/tcp/loss_control.ts";
import { MssControl } from "../transport/tcp/mss_control.ts";
import { Pacer } from "../transport/tcp/pacing.ts";
import { RackTlp } from "../transport/tcp/rack.ts";
import { TcpReceiver } from "../transport/tcp/receiver.ts";
import { LossRecovery } from "../transport/tcp/recovery.ts";
import { RttEstimator } from "../transport/tcp/rtt_estimator.ts";
import { Scoreboard } from "../transport/tcp/scoreboard.ts";
import { TcpSender } from "../transport/tcp/sender.ts";
import { TcpState } from "../transport/tcp/state.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    n: { type: "string", short: "n", default: "20000" },
    rounds: { type: "string", default: "9" },
    warm: { type: "string", default: "5" },
    json: { type: "boolean", default: false },
    "warm-conns": { type: "string", default: "300" },
    profile: { type: "boolean", default: false },
    only: { type: "string" },
  },
});

const N = Number(args.values.n);
const ROUNDS = Number(args.values.rounds);
const WARM = Number(args.values.warm);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) console.error("conn_construct: run with --v8-flags=--expose-gc for bytes");

const net = makeSimNet();
const layer = net.tcpA;
const l = net.tcpB.listen(null, 80, 64);
const REQ = new Uint8Array(64).fill(0x41);
const buf = new Uint8Array(256);
/**
 * One short connection with a request and an answer, the server closing first: what every
 * object's fields hold in a live process (V8's field representations, doubles included, are
 * the ones the constructors below then build).
 */
function shortConnection(): void {
  const c = layer.connect(net.addrB, 80);
  let s: TcpEndpoint | null = null;
  const up = () => (s ??= l.accept()) !== null && c.state === TcpState.ESTABLISHED;
  if (!net.run(up, 5000)) throw new Error("conn_construct: no connection");
  c.write(REQ, 0, REQ.length);
  if (!net.run(() => s!.read(buf, 0, buf.length) > 0, 5000)) throw new Error("no request");
  s!.write(REQ, 0, REQ.length);
  s!.close();
  if (!net.run(() => c.read(buf, 0, buf.length) === 0, 5000)) throw new Error("no answer");
  c.close();
  if (!net.run(() => c.state === TcpState.CLOSED, 500_000)) throw new Error("no close");
}
for (let i = 0; i < Number(args.values["warm-conns"]); i++) shortConnection();
// A connection gives the route and the addresses every endpoint below is built with.
const c0 = layer.connect(net.addrB, 80);
net.run(() => l.accept() !== null, 5000);
const route = c0.route;
const la = c0.localAddr, ra = c0.remoteAddr;
const svc = layer as unknown as ConstructorParameters<typeof TcpSender>[1];
const o = svc.opts;

/** One part: how to build it (the i-th of a round). */
interface Part {
  name: string;
  make: (i: number) => unknown;
}

/** The numbers an active open hands its endpoint (one record, as `connect` keeps). */
const open = { iss: 0, firstSentMs: 1000, tsOffset: 0 };

const parts: Part[] = [
  {
    name: "endpoint (active open)",
    make: (i) => {
      open.tsOffset = i;
      return new TcpEndpoint(layer, la, 40000 + (i & 0x3fff), ra, 80, route, null, open);
    },
  },
  { name: "TcpSender", make: () => new TcpSender(c0, svc) },
  { name: "TcpReceiver", make: () => new TcpReceiver(c0, svc, 1460, c0.snd.rtt) },
  {
    name: "LossControl (with its parts)",
    make: () => new LossControl(c0.snd, c0, svc, c0.snd.rtt),
  },
  { name: "Scoreboard", make: () => new Scoreboard(c0.snd.rate) },
  { name: "DeliveryRate", make: () => new DeliveryRate() },
  { name: "RackTlp", make: () => new RackTlp() },
  { name: "LossRecovery", make: () => new LossRecovery() },
  { name: "Pacer", make: () => new Pacer() },
  {
    name: "RttEstimator",
    make: () =>
      new RttEstimator({
        initialRtoMs: o.initialRtoMs,
        minRtoMs: o.minRtoMs,
        maxRtoMs: o.maxRtoMs,
        samplesNs: svc.rttNs,
      }),
  },
  { name: "congestion control", make: () => createCongestionControl(o.congestionControl) },
  { name: "MssControl", make: () => new MssControl() },
  {
    name: "ByteRing (pooled)",
    make: () => new ByteRing(o.sendBufferBytes, svc.ctx.rings ?? null, svc.sndCopyViews ?? null),
  },
  { name: "WaitQueue", make: () => new WaitQueue() },
];

const keep: unknown[] = new Array(N).fill(null);
/** The timed rounds keep the last 256 objects only. */
const RING_MASK = 255;

function heapUsed(): number {
  gc?.();
  gc?.();
  return Deno.memoryUsage().heapUsed;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

const session = args.values.profile ? new Session() : null;
if (session !== null) {
  session.connect();
  await inspectorPost(session, "Profiler.enable");
  await inspectorPost(session, "Profiler.setSamplingInterval", { interval: 50 });
  await inspectorPost(session, "Profiler.start");
}

const rows: { part: string; ns: number; bytes: number }[] = [];
for (const p of parts) {
  if (args.values.only !== undefined && !p.name.includes(args.values.only)) continue;
  const make = p.make;
  const times: number[] = [];
  for (let r = 0; r < WARM + ROUNDS; r++) {
    keep.fill(null);
    const t0 = performance.now();
    // Kept in a small ring: the objects die young, as a short connection's do (retaining all N
    // would time the scavenger's copying of them instead).
    for (let i = 0; i < N; i++) keep[i & RING_MASK] = make(i);
    const t1 = performance.now();
    if (r >= WARM) times.push((t1 - t0) * 1e6 / N);
  }
  keep.fill(null);
  const h0 = heapUsed();
  for (let i = 0; i < N; i++) keep[i] = make(i);
  const h1 = heapUsed();
  keep.fill(null);
  rows.push({ part: p.name, ns: Math.round(median(times)), bytes: Math.round((h1 - h0) / N) });
}

if (session !== null) {
  const { profile } = await inspectorPost<{ profile: CpuProfile }>(session, "Profiler.stop");
  const { total, by } = selfTimes(profile);
  const top = [...by].sort((a, b) => b[1] - a[1]).slice(0, 25);
  for (const [k, us] of top) console.log(`${(100 * us / total).toFixed(1).padStart(5)} %  ${k}`);
}

if (args.values.json) {
  console.log(JSON.stringify({ event: "construct", n: N, rounds: ROUNDS, rows }));
} else {
  for (const r of rows) {
    console.log(
      `${r.part.padEnd(32)} ${String(r.ns).padStart(6)} ns ${String(r.bytes).padStart(6)} B`,
    );
  }
}
