/**
 * `deno run --allow-read bench/jit_after_ready.ts FILE... [--top N] [--json]`: how much of V8's
 * compiling and deoptimising a benchmark process did after its ready line, from its stdout
 * with `--v8-flags=--trace-opt,--trace-deopt` (kept by `USTACK_BENCH_OUTPUT_DIR`, e.g.
 * `bench/rx_ab.ts --deno-flags=--v8-flags=--trace-opt,--trace-deopt`). Work after the ready
 * line is work the warm-up did not take out of the measured seconds: per file, the compiles
 * finished and their time (V8's three phases summed), the eager deoptimisations by reason, and
 * the functions whose compiles took longest. A sender (`uperf client --json`) has no ready
 * line: its window starts at its `start` event. The window ends at the first line of the
 * stack's counters (`  tcp: `), which the CLI prints after it stopped, at a JSON `summary`
 * event, or at the end of the file. Interleaved trace lines need V8's stdout line-buffered
 * (`LD_PRELOAD=…/libstdbuf.so _STDBUF_O=L` in the bench's environment).
 *
 * ```
 * USTACK_BENCH_OUTPUT_DIR=/tmp/tr deno run --allow-all bench/rx_ab.ts --rounds 1 --seconds 2 \
 *   --deno-flags=--v8-flags=--trace-opt,--trace-deopt
 * deno run --allow-read bench/jit_after_ready.ts /tmp/tr/*.txt
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";

/** What V8 did in a process after its ready line ({@link jitAfterReady}). */
export interface JitAfterReady {
  /** False when the text has no ready line (nothing counted). */
  ready: boolean;
  /** Compiles finished (`completed compiling`), Maglev and TurboFan. */
  compiles: number;
  /** Their time, the three phases V8 prints summed (ms). */
  compileMs: number;
  /** Eager deoptimisations (`bailout (kind: deopt-eager`), by reason. */
  deoptsByReason: Record<string, number>;
  /** Code marked for deoptimisation by a changed dependency (`marking dependent code`). */
  dependentDeopts: number;
  /** Compile time by function and tier (`name TIER`), longest first (ms). */
  compileMsByFunction: [string, number][];
}

const READY = /^ready |"event":"ready"|"event":"start","role":"client"/;
const END = /^ {2}tcp: |"event":"summary"/;

/**
 * The lines of a benchmark process's output after its ready line (a line starting `ready `, a
 * JSON `ready` event, or a client's JSON `start` event) up to the stack's counters (`  tcp: `)
 * or a JSON `summary` event: `[from, end)` line indexes, `ready` false (and `from` -1) when
 * there is no ready line.
 */
export function afterReadyWindow(lines: string[]): { ready: boolean; from: number; end: number } {
  const at = lines.findIndex((l) => READY.test(l));
  let end = lines.length;
  for (let i = at + 1; at >= 0 && i < lines.length; i++) {
    if (END.test(lines[i])) {
      end = i;
      break;
    }
  }
  return { ready: at >= 0, from: at < 0 ? -1 : at + 1, end };
}
const COMPILED =
  /completed compiling 0x[0-9a-f]+ <JSFunction (?:(\S+) )?\(sfi = 0x[0-9a-f]+\)> \(target (\w+)\) - took ([0-9.]+), ([0-9.]+), ([0-9.]+) ms/;
const DEOPT = /bailout \(kind: deopt-eager, reason: ([^)]*)\)/;

/**
 * Count V8's `--trace-opt`/`--trace-deopt` lines in `text` between the ready line (a line
 * starting `ready `, a JSON `ready` event, or a `uperf client --json`'s `start` event: a
 * sender has no ready line) and the counters' `  tcp: ` line or a JSON `summary` event.
 *
 * @example
 * ```ts
 * const r = jitAfterReady("ready us0\n[completed compiling 0x1 <JSFunction f (sfi = 0x2)> (target MAGLEV) - took 0.1, 1.0, 0.1 ms]\n");
 * r.compiles; // 1
 * ```
 */
export function jitAfterReady(text: string): JitAfterReady {
  const lines = text.split("\n");
  const w = afterReadyWindow(lines);
  const out: JitAfterReady = {
    ready: w.ready,
    compiles: 0,
    compileMs: 0,
    deoptsByReason: {},
    dependentDeopts: 0,
    compileMsByFunction: [],
  };
  if (!w.ready) return out;
  const byFn = new Map<string, number>();
  for (let i = w.from; i < w.end; i++) {
    const l = lines[i];
    const c = COMPILED.exec(l);
    if (c !== null) {
      const ms = Number(c[3]) + Number(c[4]) + Number(c[5]);
      out.compiles++;
      out.compileMs += ms;
      const key = `${c[1] ?? "(anonymous)"} ${c[2]}`;
      byFn.set(key, (byFn.get(key) ?? 0) + ms);
      continue;
    }
    const d = DEOPT.exec(l);
    if (d !== null) {
      out.deoptsByReason[d[1]] = (out.deoptsByReason[d[1]] ?? 0) + 1;
      continue;
    }
    if (l.includes("marking dependent code")) out.dependentDeopts++;
  }
  out.compileMs = Math.round(out.compileMs * 10) / 10;
  out.compileMsByFunction = [...byFn].sort((a, b) => b[1] - a[1]).map((
    [k, v],
  ) => [k, Math.round(v * 100) / 100]);
  return out;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { top: { type: "string" }, json: { type: "boolean" } },
    allowPositionals: true,
  });
  const top = values.top === undefined ? 10 : Number(values.top);
  for (const file of positionals) {
    const r = jitAfterReady(await Deno.readTextFile(file));
    if (values.json) {
      console.log(
        JSON.stringify({ file, ...r, compileMsByFunction: r.compileMsByFunction.slice(0, top) }),
      );
      continue;
    }
    if (!r.ready) {
      console.log(`${file}: no ready line`);
      continue;
    }
    const deopts = Object.entries(r.deoptsByReason).sort((a, b) => b[1] - a[1]);
    const eager = deopts.reduce((s, [, n]) => s + n, 0);
    console.log(
      `${file}: ${r.compiles} compiles after ready, ${r.compileMs} ms; ${eager} eager deopts, ` +
        `${r.dependentDeopts} marked by a changed dependency`,
    );
    for (const [reason, n] of deopts) console.log(`  deopt ${n} ${reason}`);
    for (const [fn, ms] of r.compileMsByFunction.slice(0, top)) {
      console.log(`  compile ${ms} ms ${fn}`);
    }
  }
}
