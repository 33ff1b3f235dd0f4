/**
 * `deno run --allow-read bench/gc_after_ready.ts FILE... [--json]`: the garbage collections a
 * benchmark process met after its ready line, and what each full one cost, from its stdout with
 * `--v8-flags=--trace-gc-nvp,--trace-opt,--trace-deopt` (kept by `USTACK_BENCH_OUTPUT_DIR`;
 * V8's stdout line-buffered with `LD_PRELOAD=…/libstdbuf.so _STDBUF_O=L`, so its trace lines
 * stay in order with each other). The window is `bench/jit_after_ready.ts`'s: from the ready
 * line (or a sender's JSON `start` event) to the stack's counters or a JSON `summary`; a
 * process with neither (a `pingpong client --json`) is read whole and says so.
 *
 * Per file: the scavenges (count, summed and longest pause) and every other collection — a
 * full (mark-compact) GC — with its time since V8 started, pause, reason (`allocation
 * failure`, `finalize incremental marking via task`, `memory reducer`, `idle task`, `external
 * memory pressure`, …), V8's collector reason, whether it reduced memory, the code it marked
 * for deoptimisation because maps or other objects its code held weakly died ("embedded weak
 * objects cleared", printed during the GC, so between the collection before and this one's
 * line), and the deoptimisations (eager and lazy bailouts) and compiles that followed it:
 * V8's trace lines carry no clock, so "after" is the lines from this GC up to the first
 * collection at least 100 ms later (its `ms`), or the window's end when none is (`toEnd`).
 * For comparison the same counts over the whole window are given.
 *
 * ```
 * mkdir -p /tmp/gc && LD_PRELOAD=/usr/libexec/coreutils/libstdbuf.so _STDBUF_O=L \
 *   USTACK_BENCH_OUTPUT_DIR=/tmp/gc \
 *   USTACK_BENCH_DENO_FLAGS=--v8-flags=--trace-gc-nvp,--trace-opt,--trace-deopt \
 *   deno run --allow-all bench/e2e.ts --mtu 1500 --only rr --bulk-rounds 1 --hold 0
 * deno run --allow-read bench/gc_after_ready.ts /tmp/gc/*.txt
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseGcLine } from "./gc_nvp.ts";
import { afterReadyWindow } from "./jit_after_ready.ts";

/** One full (non-scavenge) collection in the window and what followed it. */
export interface FullGc {
  /** Milliseconds since V8 started (the trace line's time). */
  ms: number;
  /** V8's collector name (`mc`: mark-compact). */
  gc: string;
  /** Pause, ms. */
  pause: number;
  /** Why it ran (`reason`). */
  reason: string;
  /** V8's collector reason (`collector_reason`). */
  collectorReason: string;
  /** Whether it was a memory-reducing GC (`reduce_memory`). */
  reduceMemory: boolean;
  /** Old-generation bytes before and after (`start_object_size`, `end_object_size`). */
  objectBytes: [number, number];
  /** Code marked for deoptimisation because weakly held objects died, at this GC. */
  weakCleared: number;
  /** Eager and lazy bailouts after it (see the module doc for "after"). */
  deoptsAfter: number;
  /** Compiles finished after it. */
  compilesAfter: number;
  /** True when no collection came ≥ 100 ms later: "after" ran to the window's end. */
  toEnd: boolean;
}

/** What {@link gcAfterReady} finds in one process's output. */
export interface GcAfterReady {
  /** False when there was no ready line: the whole output was read. */
  ready: boolean;
  /** Scavenges in the window. */
  scavenges: number;
  /** Their pauses summed, ms. */
  scavengePauseMs: number;
  /** The longest of them, ms. */
  scavengeMaxPauseMs: number;
  /** Every other collection in the window. */
  fullGcs: FullGc[];
  /** Code marked for deoptimisation in the window because weakly held objects died. */
  weakCleared: number;
  /** Eager and lazy bailouts in the window. */
  deopts: number;
  /** Compiles finished in the window. */
  compiles: number;
  /** Milliseconds since V8 started of the first and last collection in the window (or null). */
  spanMs: [number, number] | null;
}

const WEAK = "embedded weak objects cleared";
const AFTER_MS = 100;

interface Parsed {
  gcAt: number[];
  gcMs: number[];
  gcRec: Record<string, unknown>[];
}

/**
 * Count the collections in `text` after its ready line (see the module doc), with what
 * followed each full one.
 *
 * @example
 * ```ts
 * const gc = (ms: number, kind: string) =>
 *   `[1:0x1:0] ${ms} ms: GC: {"pause":2,"gc":"${kind}","reason":"idle task"}`;
 * const r = gcAfterReady(["ready us0", gc(10, "s"), gc(20, "mc")].join("\n"));
 * r.scavenges; // 1
 * r.fullGcs[0].reason; // "idle task"
 * ```
 */
export function gcAfterReady(text: string): GcAfterReady {
  const lines = text.split("\n");
  const w = afterReadyWindow(lines);
  const from = w.ready ? w.from : 0; // without a ready line: the whole output
  const end = w.end;
  const p: Parsed = { gcAt: [], gcMs: [], gcRec: [] };
  for (let i = from; i < end; i++) {
    const g = parseGcLine(lines[i]);
    if (g === null) continue;
    p.gcRec.push(g.rec);
    p.gcAt.push(i);
    p.gcMs.push(g.ms);
  }
  const out: GcAfterReady = {
    ready: w.ready,
    scavenges: 0,
    scavengePauseMs: 0,
    scavengeMaxPauseMs: 0,
    fullGcs: [],
    weakCleared: 0,
    deopts: 0,
    compiles: 0,
    spanMs: p.gcMs.length === 0 ? null : [p.gcMs[0], p.gcMs[p.gcMs.length - 1]],
  };
  const count = (a: number, b: number) => {
    let weak = 0, deopts = 0, compiles = 0;
    for (let i = a; i < b; i++) {
      const l = lines[i];
      if (l.includes("bailout (kind: deopt-")) deopts++;
      else if (l.includes("completed compiling ")) compiles++;
      else if (l.includes("marking dependent code") && l.includes(WEAK)) weak++;
    }
    return { weak, deopts, compiles };
  };
  const all = count(from, end);
  out.weakCleared = all.weak;
  out.deopts = all.deopts;
  out.compiles = all.compiles;
  for (let k = 0; k < p.gcRec.length; k++) {
    const r = p.gcRec[k];
    const pause = Number(r.pause);
    if (r.gc === "s") {
      out.scavenges++;
      out.scavengePauseMs += pause;
      out.scavengeMaxPauseMs = Math.max(out.scavengeMaxPauseMs, pause);
      continue;
    }
    const before = k === 0 ? from : p.gcAt[k - 1] + 1;
    let stop = end;
    let toEnd = true;
    for (let j = k + 1; j < p.gcRec.length; j++) {
      if (p.gcMs[j] >= p.gcMs[k] + AFTER_MS) {
        stop = p.gcAt[j];
        toEnd = false;
        break;
      }
    }
    const after = count(p.gcAt[k] + 1, stop);
    out.fullGcs.push({
      ms: p.gcMs[k],
      gc: String(r.gc),
      pause,
      reason: String(r.reason ?? ""),
      collectorReason: String(r.collector_reason ?? ""),
      reduceMemory: r.reduce_memory === true,
      objectBytes: [Number(r.start_object_size ?? 0), Number(r.end_object_size ?? 0)],
      weakCleared: count(before, p.gcAt[k]).weak,
      deoptsAfter: after.deopts,
      compilesAfter: after.compiles,
      toEnd,
    });
  }
  out.scavengePauseMs = Math.round(out.scavengePauseMs * 1000) / 1000;
  return out;
}

/** The stack's subcommand from a kept output's first line (its command line). */
function what(text: string): string {
  const cmd = text.slice(0, text.indexOf("\n")).split(" ");
  const at = cmd.findIndex((a) => a.endsWith("ustack.ts"));
  return (at >= 0 ? cmd.slice(at + 1) : cmd).join(" ").slice(0, 90);
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { json: { type: "boolean" } },
    allowPositionals: true,
  });
  for (const file of positionals) {
    const text = await Deno.readTextFile(file);
    const r = gcAfterReady(text);
    if (values.json) {
      console.log(JSON.stringify({ file, what: what(text), ...r }));
      continue;
    }
    console.log(
      `${file}: ${what(text)}\n  ${r.ready ? "after ready" : "no ready line, whole output"}: ` +
        `${r.scavenges} scavenges (${r.scavengePauseMs.toFixed(1)} ms, longest ` +
        `${r.scavengeMaxPauseMs.toFixed(2)}), ${r.fullGcs.length} full; ${r.weakCleared} ` +
        `marked by weak objects cleared, ${r.deopts} deopts, ${r.compiles} compiles`,
    );
    for (const g of r.fullGcs) {
      console.log(
        `  ${g.gc} at ${g.ms} ms: pause ${g.pause} ms, ${g.reason} (${g.collectorReason}` +
          `${g.reduceMemory ? ", reduce memory" : ""}), old ${
            (g.objectBytes[0] / 1e6).toFixed(1)
          }` +
          ` → ${(g.objectBytes[1] / 1e6).toFixed(1)} MB; weak cleared ${g.weakCleared}, then ` +
          `${g.deoptsAfter} deopts, ${g.compilesAfter} compiles${g.toEnd ? " (to the end)" : ""}`,
      );
    }
  }
}
