/**
 * Reading V8's `--trace-deopt-verbose` output in tests.
 *
 * @module
 */

/**
 * The deoptimisations in `lines` (V8's `--trace-deopt-verbose` output) as
 * "function (reason) at file:line:col", the position being the first one V8 names after the
 * bailout line (the innermost inlined function's).
 */
export function deoptsAt(lines: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /deoptimizing \S+ <JSFunction ([^ >]*)/.exec(lines[i]);
    if (m === null || !lines[i].includes("bailout")) continue;
    const reason = /reason: ([^)]*)\)/.exec(lines[i])?.[1] ?? "?";
    let at = "";
    for (let j = i + 1; j < Math.min(lines.length, i + 6); j++) {
      const p = /deoptimize at <([^>]+)>/.exec(lines[j]);
      if (p !== null) {
        at = p[1];
        break;
      }
    }
    out.push(`${m[1]} (${reason}) at ${at}`);
  }
  return out;
}

/**
 * The deoptimisations in `lines` (as {@link deoptsAt}) whose code came from `file` at any
 * depth: positioned in it, or at a function inlined into code of it (V8's
 * "deoptimize at <a> inlined at <b>" chain) — a loop method thrown away at a helper it
 * inlined (a histogram's `record`, say) is the loop's code thrown away too.
 */
export function deoptsFrom(lines: string[], file: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /deoptimizing \S+ <JSFunction ([^ >]*)/.exec(lines[i]);
    if (m === null || !lines[i].includes("bailout")) continue;
    const reason = /reason: ([^)]*)\)/.exec(lines[i])?.[1] ?? "?";
    for (let j = i + 1; j < Math.min(lines.length, i + 6); j++) {
      if (!lines[j].includes("deoptimize at <")) continue;
      if (lines[j].includes(file)) {
        out.push(`${m[1]} (${reason}) at ${lines[j].trim().replace(/^;;; deoptimize at /, "")}`);
      }
      break;
    }
  }
  return out;
}

/** An isolate's run under `--trace-deopt-verbose`, cut at two of its phase lines. */
export interface TracedPhases {
  /** Its whole stdout, split in lines (V8's trace lines and its own, in order). */
  lines: string[];
  /** The index of the line `{"phase":"<from>"…` in {@link TracedPhases.lines}. */
  from: number;
  /** The index of the line `{"phase":"<to>"…`, after `from`. */
  to: number;
}

/**
 * Run `isolate` (a Deno program printing `{"phase":…}` JSON lines) with `args` under
 * `--trace-deopt-verbose`, line-buffered so V8's trace lines and the phase lines keep their
 * order; throw if it fails or the two phase lines are not there in order.
 */
export async function tracePhases(
  isolate: string,
  args: string[],
  fromPhase: string,
  toPhase = "end",
): Promise<TracedPhases> {
  const r = await new Deno.Command("stdbuf", {
    args: [
      "-oL",
      Deno.execPath(),
      "run",
      "-A",
      "--v8-flags=--trace-deopt-verbose",
      isolate,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(r.stdout);
  if (r.code !== 0) throw new Error(new TextDecoder().decode(r.stderr));
  const lines = text.split("\n");
  const from = lines.findIndex((l) => l.startsWith(`{"phase":"${fromPhase}"`));
  const to = lines.findIndex((l) => l.startsWith(`{"phase":"${toPhase}"`));
  if (from < 0 || to <= from) throw new Error(`phases not found: ${text.slice(-2000)}`);
  return { lines, from, to };
}
