/**
 * `deno run --allow-all bench/rr_trace.ts`: where the slow round trips of a 64-byte
 * request/response run ustack↔ustack wait. Runs `pingpong` with `--trace` on both ends of one
 * veth pair (after a kernel↔kernel run for scale), then puts the two processes' records on one
 * time line and splits every round trip at the kernel's receive times of the request (in the
 * server's ring) and of the answer (in the client's):
 *
 * ```
 *  t0 ─ A ─ request in the server's ring ─ B ─ server's receive begins ─ C ─ answer in the
 *  client's ring ─ D ─ client's receive begins ─ E ─ t1
 * ```
 *
 * A = the client's write path and the kernel's TX to the peer's ring, B = the server's wait
 * for the frame, C = the server's work, its TX and the kernel's path back, D = the client's
 * wait, E = the client's receive and the application's wake-up. For B and D it also says what
 * that side's event loop was doing when the frame arrived (spin, a turn of Deno's event loop,
 * the microtask wait, a blocking poll slice, a park, a tick). Prints the medians of all round
 * trips against the slowest 1 %, and how often each phase held a slow one up.
 *
 * ```
 * deno run --allow-all bench/rr_trace.ts [--mtu 9000] [--seconds 3] [--flags="--busy-poll 50"]
 *                                        [--gc] [--dir DIR] [--out FILE]
 * deno run --allow-all bench/rr_trace.ts --analyze DIR     # files of an earlier run
 * ```
 *
 * `--heap` runs both stacks under `bench/heap_sample.ts` and prints where they allocate.
 * `--gc` runs both ends with V8's `--trace-gc-nvp` and sums the collections each side made: how
 * many, their pauses, and the bytes allocated (÷ round trips: what a round trip allocates).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { missingRequirements } from "../tests/harness/interop.ts";
import { mustSucceed } from "./e2e.ts";
import { gcRecords } from "./gc_nvp.ts";
import { BenchLink, USTACK_CLI } from "./netns.ts";
import type { TraceHeader } from "../cli/rr_trace_file.ts";
import { TRACE_INLINE, TRACE_RX, TRACE_TICK } from "../stack/loop_trace.ts";

const HEAP_SAMPLE = new URL("./heap_sample.ts", import.meta.url).pathname;

/** One side's trace, on the epoch-ms time line. */
export interface Side {
  header: TraceHeader;
  /** Records `[kind, start, end, aux]` flattened, times in epoch ms. */
  rec: Float64Array;
  /** Round trips `[t0, t1]` flattened, epoch ms (client). */
  rt: Float64Array;
}

/** Load `BASE.json`, `BASE.rt.f64`, `BASE.loop.f64` and put every time on the epoch-ms line. */
export async function loadSide(base: string): Promise<Side> {
  const header = JSON.parse(await Deno.readTextFile(`${base}.json`)) as TraceHeader;
  const f64 = async (p: string) => {
    const b = await Deno.readFile(p);
    return new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8).slice();
  };
  const rec = await f64(`${base}.loop.f64`);
  const rt = await f64(`${base}.rt.f64`);
  const o = header.timeOrigin;
  // The loop's times are on its clock, `clockOffset` from performance.now()'s (older files: 0);
  // an RX record's start is the kernel's stamp, already on performance.now()'s line.
  const k = header.clockOffset ?? 0;
  for (let i = 0; i < rec.length; i += 4) {
    rec[i + 1] += rec[i] === TRACE_RX ? o : o - k;
    rec[i + 2] += o - k;
  }
  for (let i = 0; i < rt.length; i++) rt[i] += o;
  return { header, rec, rt };
}

/** Spans (not rx/tx) sorted by start, for "what was the loop doing at T". */
class Phases {
  readonly kind: Int8Array;
  readonly start: Float64Array;
  readonly end: Float64Array;
  constructor(rec: Float64Array) {
    const idx: number[] = [];
    for (let i = 0; i < rec.length; i += 4) {
      const k = rec[i];
      if (k >= TRACE_TICK && k <= TRACE_INLINE) idx.push(i);
    }
    idx.sort((a, b) => rec[a + 1] - rec[b + 1]);
    this.kind = new Int8Array(idx.length);
    this.start = new Float64Array(idx.length);
    this.end = new Float64Array(idx.length);
    idx.forEach((i, j) => {
      this.kind[j] = rec[i];
      this.start[j] = rec[i + 1];
      this.end[j] = rec[i + 2];
    });
  }

  /** The innermost (shortest) span holding `t`, as a kind number; 0 for none (between spans). */
  at(t: number): number {
    let lo = 0;
    let hi = this.start.length - 1;
    if (hi < 0 || t < this.start[0]) return 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.start[mid] <= t) lo = mid;
      else hi = mid - 1;
    }
    let best = 0;
    let bestLen = Infinity;
    for (let j = lo; j >= 0 && j > lo - 8; j--) {
      if (this.end[j] >= t && this.end[j] - this.start[j] < bestLen) {
        best = this.kind[j];
        bestLen = this.end[j] - this.start[j];
      }
    }
    return best;
  }
}

/** RX records sorted by the kernel's stamp: `[stamp, pickup, frames]` triples. */
function rxOf(rec: Float64Array): Float64Array {
  const rows: [number, number, number][] = [];
  for (let i = 0; i < rec.length; i += 4) {
    if (rec[i] === TRACE_RX && Number.isFinite(rec[i + 1])) {
      rows.push([rec[i + 1], rec[i + 2], rec[i + 3]]);
    }
  }
  rows.sort((a, b) => a[0] - b[0]);
  return Float64Array.from(rows.flat());
}

/** Index of the first triple whose stamp is ≥ t, or -1. */
function firstAtOrAfter(rx: Float64Array, t: number): number {
  let lo = 0;
  let hi = rx.length / 3;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rx[3 * mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo < rx.length / 3 ? lo : -1;
}

/** One round trip split in five (µs) and the two waits' phases. */
export interface Split {
  totalUs: number;
  aUs: number;
  bUs: number;
  cUs: number;
  dUs: number;
  eUs: number;
  serverPhase: string;
  clientPhase: string;
}

const PHASE_NAMES = ["gap", "tick", "spin", "yield", "microtasks", "block", "park", "inline"];

/**
 * Round trips {@link placeRoundTrips} could not split, by reason. A received batch is stamped
 * with its first frame only: a request (answer) that rode in a batch behind an earlier frame —
 * a bare ACK, say — has no stamp of its own. Anything else is a contradiction of the trace (a
 * request stamped before it was sent, an answer before the server had the request, a frame
 * missing): `unexplained`.
 */
export interface Unplaced {
  /** No server batch stamped within the round trip, and the last one before it held ≥ 2 frames. */
  requestBehindEarlierFrame: number;
  /** No client batch stamped between the server's pickup and the end, the last before ≥ 2. */
  answerBehindEarlierFrame: number;
  /** Neither: the trace contradicts itself. */
  unexplained: number;
}

/** Index of the last pair whose stamp is < t (-1 for none), in a {@link rxOf} array. */
function lastBefore(rx: Float64Array, t: number): number {
  const i = firstAtOrAfter(rx, t);
  return (i < 0 ? rx.length / 3 : i) - 1;
}

/**
 * Split every round trip of the client's trace using both sides' records; the ones that could
 * not be split are counted by reason.
 */
export function placeRoundTrips(
  client: Side,
  server: Side,
): { splits: Split[]; unplaced: Unplaced } {
  const sRx = rxOf(server.rec);
  const cRx = rxOf(client.rec);
  const sPh = new Phases(server.rec);
  const cPh = new Phases(client.rec);
  const out: Split[] = [];
  const unplaced: Unplaced = {
    requestBehindEarlierFrame: 0,
    answerBehindEarlierFrame: 0,
    unexplained: 0,
  };
  // The batch stamped last before `t` on one side held more than one frame, and explains no
  // other round trip: the request (answer) rode in it behind its first frame.
  const used = [new Set<number>(), new Set<number>()];
  const behind = (rx: Float64Array, t: number, side: number) => {
    const j = lastBefore(rx, t);
    if (j < 0 || rx[3 * j + 2] < 2 || used[side].has(j)) return false;
    used[side].add(j);
    return true;
  };
  for (let i = 0; i < client.rt.length; i += 2) {
    const t0 = client.rt[i];
    const t1 = client.rt[i + 1];
    const s = firstAtOrAfter(sRx, t0);
    if (s < 0 || sRx[3 * s] > t1) {
      // No request frame stamped in this round trip.
      if (behind(sRx, t0, 0)) unplaced.requestBehindEarlierFrame++;
      else unplaced.unexplained++;
      continue;
    }
    const sStamp = sRx[3 * s];
    const sPick = sRx[3 * s + 1];
    const c = firstAtOrAfter(cRx, sPick);
    if (c < 0 || cRx[3 * c] > t1) {
      if (behind(cRx, sPick, 1)) unplaced.answerBehindEarlierFrame++;
      else unplaced.unexplained++;
      continue;
    }
    const cStamp = cRx[3 * c];
    const cPick = cRx[3 * c + 1];
    const us = (x: number) => Math.round(x * 1000 * 10) / 10;
    out.push({
      totalUs: us(t1 - t0),
      aUs: us(sStamp - t0),
      bUs: us(sPick - sStamp),
      cUs: us(cStamp - sPick),
      dUs: us(cPick - cStamp),
      eUs: us(t1 - cPick),
      serverPhase: PHASE_NAMES[sPh.at(sStamp)],
      clientPhase: PHASE_NAMES[cPh.at(cStamp)],
    });
  }
  return { splits: out, unplaced };
}

/** Split every round trip of the client's trace using both sides' records. */
export function splitRoundTrips(client: Side, server: Side): Split[] {
  return placeRoundTrips(client, server).splits;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[s.length >> 1];
}

function mean(xs: number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** The report: medians of all against the slowest 1 %, the largest part and the phases. */
export function report(splits: Split[]): { lines: string[]; summary: Record<string, unknown> } {
  const sorted = [...splits].sort((a, b) => a.totalUs - b.totalUs);
  const cut = Math.floor(sorted.length * 0.99);
  const slow = sorted.slice(cut);
  const parts = ["aUs", "bUs", "cUs", "dUs", "eUs"] as const;
  const row = (name: string, xs: Split[], f: (xs: number[]) => number) =>
    `${name.padEnd(22)} total ${f(xs.map((s) => s.totalUs)).toFixed(1).padStart(7)}` +
    parts.map((p) => `  ${p[0].toUpperCase()} ${f(xs.map((s) => s[p])).toFixed(1).padStart(7)}`)
      .join("");
  const count = (xs: string[]) => {
    const m: Record<string, number> = {};
    for (const x of xs) m[x] = (m[x] ?? 0) + 1;
    return m;
  };
  const largest = count(slow.map((s) => {
    let best: string = parts[0];
    for (const p of parts) if (s[p] > s[best as typeof p]) best = p;
    return best[0].toUpperCase();
  }));
  const lines = [
    `${splits.length} round trips split; p50 ${sorted[sorted.length >> 1]?.totalUs} µs, ` +
    `p99 ${sorted[cut]?.totalUs} µs`,
    row("median, all", splits, median),
    row("mean, all", splits, mean),
    row("median, slowest 1 %", slow, median),
    row("mean, slowest 1 %", slow, mean),
    `slowest 1 %: largest part ${JSON.stringify(largest)}`,
    `server loop when the request arrived (all):  ${
      JSON.stringify(count(splits.map((s) => s.serverPhase)))
    }`,
    `server loop when the request arrived (slow): ${
      JSON.stringify(count(slow.map((s) => s.serverPhase)))
    }`,
    `client loop when the answer arrived (all):   ${
      JSON.stringify(count(splits.map((s) => s.clientPhase)))
    }`,
    `client loop when the answer arrived (slow):  ${
      JSON.stringify(count(slow.map((s) => s.clientPhase)))
    }`,
  ];
  // Per phase of the slow ones: the wait it cost on that side.
  for (const side of ["server", "client"] as const) {
    const by: Record<string, number[]> = {};
    for (const s of slow) {
      const ph = side === "server" ? s.serverPhase : s.clientPhase;
      (by[ph] ??= []).push(side === "server" ? s.bUs : s.dUs);
    }
    lines.push(
      `${side} wait by phase (slow, median µs): ` +
        Object.entries(by).map(([k, v]) => `${k} ${median(v).toFixed(1)} (${v.length})`).join(
          ", ",
        ),
    );
  }
  return {
    lines,
    summary: {
      roundTrips: splits.length,
      p50Us: sorted[sorted.length >> 1]?.totalUs,
      p99Us: sorted[cut]?.totalUs,
      medianAll: Object.fromEntries(parts.map((p) => [p, median(splits.map((s) => s[p]))])),
      medianSlow: Object.fromEntries(parts.map((p) => [p, median(slow.map((s) => s[p]))])),
      meanSlow: Object.fromEntries(parts.map((p) => [p, mean(slow.map((s) => s[p]))])),
      largestSlow: largest,
      serverPhaseSlow: count(slow.map((s) => s.serverPhase)),
      clientPhaseSlow: count(slow.map((s) => s.clientPhase)),
      serverPhaseAll: count(splits.map((s) => s.serverPhase)),
      clientPhaseAll: count(splits.map((s) => s.clientPhase)),
      slowest: sorted.slice(-20),
    },
  };
}

/** Garbage collections of one process, from its `--trace-gc-nvp` lines. */
export interface GcFigures {
  /** Scavenges (young generation). */
  scavenges: number;
  /** Other collections (mark-compact, minor mark-sweep). */
  others: number;
  /** Sum of the pauses (ms). */
  pauseMs: number;
  /** Longest pause (ms). */
  maxPauseMs: number;
  /** Bytes allocated, all told (the `allocated` of every collection). */
  allocatedBytes: number;
}

/** Sum the `--trace-gc-nvp` lines of a process's output. */
export function gcFigures(output: string): GcFigures {
  const g: GcFigures = { scavenges: 0, others: 0, pauseMs: 0, maxPauseMs: 0, allocatedBytes: 0 };
  for (const o of gcRecords(output)) {
    if (o.gc === "s") g.scavenges++;
    else g.others++;
    const pause = Number(o.pause);
    g.pauseMs += pause;
    if (pause > g.maxPauseMs) g.maxPauseMs = pause;
    g.allocatedBytes += Number(o.allocated);
  }
  g.pauseMs = Math.round(g.pauseMs * 1000) / 1000;
  return g;
}

/**
 * The last `{"event":NAME,…}` object in `stdout`, found even inside a line V8's GC trace cut
 * (V8 writes its own lines through its own buffer).
 */
export function eventJson(stdout: string, event: string): Record<string, number> {
  const at = stdout.lastIndexOf(`{"event":"${event}"`);
  if (at < 0) throw new Error(`no JSON ${event} in output:\n${stdout.slice(-2000)}`);
  let depth = 0;
  let inString = false;
  for (let i = at; i < stdout.length; i++) {
    const ch = stdout[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === "{") depth++;
    else if (ch === "}" && --depth === 0) return JSON.parse(stdout.slice(at, i + 1));
  }
  throw new Error(`cut-off JSON ${event} in output`);
}

/** Width of the windows of {@link slowByWindow} in the report (ms). */
const WINDOW_MS = 250;

/** Options of {@link runTrace}. */
export interface TraceRunOptions {
  mtu: number;
  seconds: number;
  /** Extra stack flags for both ends. */
  flags: string[];
  /** Run both ends with `--trace-gc-nvp`. */
  gc: boolean;
  /** Directory for the trace files. */
  dir: string;
  /** Run both stacks under `bench/heap_sample.ts` (allocation sites in DIR/*-heap.json). */
  heap?: boolean;
}

/** Run kernel↔kernel and a traced ustack↔ustack; returns the two client summaries and GC. */
export async function runTrace(o: TraceRunOptions): Promise<Record<string, unknown>> {
  const link = await BenchLink.create(o.mtu);
  const peer = link.addr("peer");
  const deno = (extra: string[], heapOut?: string) => [
    Deno.execPath(),
    "run",
    "--allow-all",
    ...(o.gc ? ["--v8-flags=--trace-gc-nvp"] : []),
    ...(heapOut === undefined ? [USTACK_CLI] : [HEAP_SAMPLE, heapOut]),
    ...extra,
  ];
  const common = ["-l", "64"];
  const result: Record<string, unknown> = {};
  try {
    let port = 6700;
    const one = async (name: string, server: string[], client: string[], heap = false) => {
      const p = String(port++);
      const srv = link.start(
        "peer",
        deno(
          ["pingpong", "server", "--once", "-p", p, ...common, ...server, "--json"],
          heap ? `${o.dir}/server-heap.json` : undefined,
        ),
      );
      try {
        await srv.waitForLine(/"event":"ready"/);
        const f = await link.run(
          "stack",
          deno([
            "pingpong",
            "client",
            peer,
            "-p",
            p,
            ...common,
            "-w",
            "200",
            "-t",
            String(o.seconds),
            ...client,
            "--json",
          ], heap ? `${o.dir}/client-heap.json` : undefined),
          o.seconds * 1000 + 30_000,
        );
        mustSucceed(`pingpong client (${name})`, f);
        // With --once the server ends by itself when the client closes (a SIGTERM now could cut
        // its trace file short).
        const s = await srv.finish(30_000);
        if (heap) {
          console.log(`client allocations:\n${f.stderr}\nserver allocations:\n${s.stderr}`);
        }
        result[name] = {
          client: eventJson(f.stdout, "summary"),
          // (A server's summary can be lost in V8's own output; the client's is what counts.)
          server: (() => {
            try {
              return eventJson(s.stdout, "summary");
            } catch {
              console.error(
                `${name} server: no summary (exit ${s.code})\n${s.stderr.slice(-1500)}`,
              );
              return null;
            }
          })(),
          ...(o.gc ? { gcClient: gcFigures(f.stdout), gcServer: gcFigures(s.stdout) } : {}),
        };
      } finally {
        await srv.stop();
      }
    };
    await link.setKernelAddress("stack", true);
    await link.setKernelAddress("peer", true);
    await one("kernel", ["--kernel"], ["--kernel"]);
    await link.setKernelAddress("stack", false);
    await link.setKernelAddress("peer", false);
    await one(
      "ustack",
      [...link.stackOptions("peer", "af_packet"), ...o.flags, "--trace", `${o.dir}/server`],
      [...link.stackOptions("stack", "af_packet"), ...o.flags, "--trace", `${o.dir}/client`],
      o.heap === true,
    );
  } finally {
    await link.destroy();
  }
  return result;
}

/** One time window of a run ({@link slowByWindow}). */
export interface RoundTripWindow {
  /** Start of the window, ms after the first round trip began. */
  fromMs: number;
  /** Round trips that began in the window. */
  roundTrips: number;
  /** Of those, round trips at or above the whole run's p99. */
  slow: number;
  /** The window's own p50 and p99 (µs). */
  p50Us: number;
  p99Us: number;
}

/**
 * The client's round trips (`[t0, t1]` pairs, ms) in windows of `windowMs` from the first one:
 * how many began in each, how many of them were among the run's slowest 1 % (at or above its
 * p99), and each window's own p50 and p99 — whether the slow ones come with the process's
 * first seconds (V8 still compiling) or are spread over the run.
 */
export function slowByWindow(rt: Float64Array, windowMs: number): RoundTripWindow[] {
  const n = rt.length >> 1;
  if (n === 0) return [];
  const us = new Float64Array(n);
  for (let i = 0; i < n; i++) us[i] = (rt[2 * i + 1] - rt[2 * i]) * 1000;
  const p99 = Float64Array.from(us).sort()[Math.floor(n * 0.99)];
  const t0 = rt[0];
  const windows: number[][] = [];
  for (let i = 0; i < n; i++) (windows[Math.floor((rt[2 * i] - t0) / windowMs)] ??= []).push(us[i]);
  const out: RoundTripWindow[] = [];
  windows.forEach((xs, w) => {
    xs.sort((a, b) => a - b);
    out.push({
      fromMs: w * windowMs,
      roundTrips: xs.length,
      slow: xs.filter((x) => x >= p99).length,
      p50Us: Math.round(xs[xs.length >> 1] * 10) / 10,
      p99Us: Math.round(xs[Math.floor(xs.length * 0.99)] * 10) / 10,
    });
  });
  return out;
}

/** Analyse the trace files in `dir`. */
export async function analyze(
  dir: string,
): Promise<{ lines: string[]; summary: Record<string, unknown> }> {
  const client = await loadSide(`${dir}/client`);
  const server = await loadSide(`${dir}/server`);
  const { splits, unplaced } = placeRoundTrips(client, server);
  const r = report(splits);
  r.lines.push(`round trips not split: ${JSON.stringify(unplaced)}`);
  r.summary.unplaced = unplaced;
  const windows = slowByWindow(client.rt, WINDOW_MS);
  r.lines.push(`by ${WINDOW_MS} ms window: from ms, round trips, slowest-1 % ones, p50 / p99 µs`);
  for (const w of windows) {
    r.lines.push(
      `  ${String(w.fromMs).padStart(5)}  ${String(w.roundTrips).padStart(6)}  ` +
        `${String(w.slow).padStart(4)}  ${w.p50Us} / ${w.p99Us}`,
    );
  }
  r.summary.windows = windows;
  if (client.header.dropped > 0 || server.header.dropped > 0) {
    r.lines.push(
      `(loop records overwritten: client ${client.header.dropped}, server ${server.header.dropped})`,
    );
  }
  return r;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      mtu: { type: "string", default: "9000" },
      seconds: { type: "string", default: "3" },
      flags: { type: "string", default: "" },
      gc: { type: "boolean", default: false },
      heap: { type: "boolean", default: false },
      dir: { type: "string" },
      analyze: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(`usage: deno run --allow-all bench/rr_trace.ts [options]
  --mtu N         link MTU (9000)
  --seconds N     seconds of each run (3)
  --flags=FLAGS   extra stack flags for both ends, e.g. --flags="--busy-poll 50"
  --gc            run both ends with V8's --trace-gc-nvp and sum their collections
  --heap          run both stacks under bench/heap_sample.ts (allocation sites)
  --dir DIR       keep the trace files in DIR (default: a temporary directory)
  --analyze DIR   only analyse the files of an earlier run in DIR
  --out FILE      write the figures as JSON`);
    Deno.exit(0);
  }
  let run: Record<string, unknown> = {};
  let dir = values.analyze;
  if (dir === undefined) {
    const missing = missingRequirements(["ip"]);
    if (missing.length > 0) {
      console.error(`rr_trace: missing ${missing.join(", ")}`);
      Deno.exit(2);
    }
    dir = values.dir ?? await Deno.makeTempDir({ prefix: "rr_trace_" });
    await Deno.mkdir(dir, { recursive: true });
    run = await runTrace({
      mtu: Number(values.mtu),
      seconds: Number(values.seconds),
      flags: values.flags.split(/\s+/).filter((w) => w !== ""),
      gc: values.gc,
      heap: values.heap,
      dir,
    });
    for (const [name, r] of Object.entries(run)) {
      const c = (r as { client: Record<string, number> }).client;
      console.log(`${name.padEnd(7)} p50 ${c.p50Us} p99 ${c.p99Us} p99.9 ${c.p999Us} tps ${c.tps}`);
      const g = r as { gcClient?: GcFigures; gcServer?: GcFigures };
      const per = (x: GcFigures) =>
        `${x.scavenges} scavenges + ${x.others} others, pauses ${x.pauseMs} ms (max ${x.maxPauseMs}), ` +
        `${Math.round(x.allocatedBytes / Math.max(1, c.transactions))} B allocated per round trip`;
      if (g.gcClient !== undefined && g.gcServer !== undefined) {
        console.log(`        GC client: ${per(g.gcClient)}`);
        console.log(`        GC server: ${per(g.gcServer)}`);
      }
    }
  }
  const { lines, summary } = await analyze(dir);
  for (const l of lines) console.log(l);
  console.log(`trace files in ${dir}`);
  if (values.out !== undefined) {
    await Deno.writeTextFile(
      values.out,
      JSON.stringify(
        { date: new Date().toISOString(), options: values, run, trace: summary },
        null,
        2,
      ) + "\n",
    );
  }
}
