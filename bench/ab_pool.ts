/**
 * `deno run --allow-read bench/ab_pool.ts`: interleaved A/B records (`bench/tx_ab.ts`'s or
 * `bench/rx_ab.ts`'s `--out` JSON) pooled over several sets, to settle whether one build is
 * slower than another beyond the noise. Every record names its configurations after their
 * slot (`ustack`, `base1`, …), which differ from set to set; each file is given with the build
 * each slot ran (`FILE:ustack=head,base1=start`). Runs pair only within a set and a round.
 *
 * ```
 * deno run --allow-read bench/ab_pool.ts --pair head/start --pair head/head2 \
 *   a.json:ustack=head,base1=head2,base2=start b.json:ustack=start,base1=head,base2=head2
 * ```
 *
 * Prints per build the runs, the median Gbit/s and same-round ratio to `kernel`, and the
 * stack thread's CPU-seconds per GB (the record's `cpu.deno` over its Gbit/s), then
 * per `--pair A/B` the per-round ratios A ÷ B of the rate and of the CPU per GB: median, the
 * quartiles, the range, how many rounds came out below 1.0 and a two-sided sign test's p (the
 * chance of a split at least that uneven if neither build were faster). An A/B of a build
 * against a copy of itself (`head/head2`) in the same rounds is the noise floor to read the
 * rest against.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type AbRun, median } from "./ab_rounds.ts";

/** One run of a pooled record, with the build its slot ran and the set it came from. */
export interface PooledRun {
  /** The build (from the file's slot names; `kernel` stays `kernel`). */
  build: string;
  /** Which file (set) it came from, from 0. */
  set: number;
  /** Round within its set. */
  round: number;
  /** Gbit/s. */
  gbps: number;
  /**
   * The stack thread's CPU-seconds per GB (the `deno` thread: the sender in tx_ab's records, the
   * receiver in rx_ab's; `python3` for `kernel`), where the record has its CPU; else NaN.
   */
  cpuPerGb: number;
}

/**
 * Two-sided sign test: the chance, if each round were a fair coin, of `below` or a split at
 * least as uneven among `n` rounds (exact binomial, p = ½).
 *
 * @example
 * ```ts
 * signTestP(0, 5); // 0.0625
 * ```
 */
export function signTestP(below: number, n: number): number {
  if (n === 0) return 1;
  const k = Math.min(below, n - below);
  let coef = 1;
  let tail = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) coef = coef * (n - i + 1) / i;
    tail += coef;
  }
  return Math.min(1, 2 * tail / 2 ** n);
}

/**
 * The runs of one record (`{ runs: [...] }`), each slot renamed to its build by `slots`
 * (`{ ustack: "head", base1: "start" }`); slots not named keep their name.
 *
 * @example
 * ```ts
 * pooledRuns({ runs: [{ config: "ustack", round: 0, gbps: 20 }] }, { ustack: "head" }, 0);
 * // [{ build: "head", set: 0, round: 0, gbps: 20, cpuPerGb: NaN }]
 * ```
 */
export function pooledRuns(
  record: { runs: (AbRun & { cpu?: Record<string, number> })[] },
  slots: Record<string, string>,
  set: number,
): PooledRun[] {
  return record.runs.map((r) => {
    const thread = r.config === "kernel" ? "python3" : "deno";
    const cpu = r.cpu?.[thread];
    return {
      build: slots[r.config] ?? r.config,
      set,
      round: r.round,
      gbps: r.gbps,
      cpuPerGb: cpu === undefined || r.gbps <= 0 ? NaN : (cpu / 100) / (r.gbps / 8),
    };
  });
}

/**
 * Per-round ratios `a ÷ b` of `value` over runs of the same set and round (rounds where either
 * is missing or not finite are left out).
 *
 * @example
 * ```ts
 * const runs = [
 *   { build: "a", set: 0, round: 0, gbps: 9, cpuPerGb: NaN },
 *   { build: "b", set: 0, round: 0, gbps: 10, cpuPerGb: NaN },
 * ];
 * pairRatios(runs, "a", "b", (r) => r.gbps); // [0.9]
 * ```
 */
export function pairRatios(
  runs: PooledRun[],
  a: string,
  b: string,
  value: (r: PooledRun) => number,
): number[] {
  const out: number[] = [];
  for (const r of runs) {
    if (r.build !== a) continue;
    const o = runs.find((x) => x.build === b && x.set === r.set && x.round === r.round);
    if (o === undefined) continue;
    const x = value(r) / value(o);
    if (Number.isFinite(x)) out.push(x);
  }
  return out;
}

/**
 * One line on per-round ratios: median, quartiles, range, rounds below 1.0 and the sign
 * test's p.
 *
 * @example
 * ```ts
 * ratioLine([0.9, 0.95, 1.02]);
 * // "median 0.950, quartiles 0.950–1.020, range 0.90–1.02, below 1.0 in 2 of 3,
 * //  sign-test p 1.000"
 * ```
 */
export function ratioLine(ratios: number[]): string {
  const s = [...ratios].sort((x, y) => x - y);
  const n = s.length;
  if (n === 0) return "no paired rounds";
  const at = (p: number) => s[Math.round(p * (n - 1))];
  const below = s.filter((x) => x < 1).length;
  return `median ${median(s).toFixed(3)}, quartiles ${at(0.25).toFixed(3)}–${
    at(0.75).toFixed(3)
  }, range ${s[0].toFixed(2)}–${s[n - 1].toFixed(2)}, below 1.0 in ${below} of ${n}, ` +
    `sign-test p ${signTestP(below, n).toFixed(3)}`;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    options: { pair: { type: "string", multiple: true }, help: { type: "boolean" } },
    allowPositionals: true,
  });
  if (values.help || positionals.length === 0) {
    console.log(
      `usage: deno run --allow-read bench/ab_pool.ts [--pair A/B]... FILE:SLOT=BUILD,...`,
    );
    Deno.exit(values.help ? 0 : 2);
  }
  const runs: PooledRun[] = [];
  positionals.forEach((arg, set) => {
    const colon = arg.lastIndexOf(":");
    const file = colon < 0 ? arg : arg.slice(0, colon);
    const slots = Object.fromEntries(
      (colon < 0 ? "" : arg.slice(colon + 1)).split(",").filter((x) => x !== "")
        .map((p) => p.split("=") as [string, string]),
    );
    runs.push(...pooledRuns(JSON.parse(Deno.readTextFileSync(file)), slots, set));
  });
  const kernelOf = (r: PooledRun) =>
    runs.find((x) => x.build === "kernel" && x.set === r.set && x.round === r.round);
  for (const build of [...new Set(runs.map((r) => r.build))]) {
    const mine = runs.filter((r) => r.build === build);
    const toKernel = mine.flatMap((r) => {
      const k = kernelOf(r);
      return k === undefined || build === "kernel" ? [] : [r.gbps / k.gbps];
    });
    const cpu = mine.map((r) => r.cpuPerGb).filter((x) => Number.isFinite(x));
    console.log(
      `${build}: ${mine.length} runs, median ${median(mine.map((r) => r.gbps)).toFixed(2)} Gbit/s` +
        (toKernel.length > 0 ? `, ×kernel ${median(toKernel).toFixed(2)}` : "") +
        (cpu.length > 0 ? `, CPU-s per GB ${median(cpu).toFixed(3)}` : ""),
    );
  }
  for (const p of values.pair ?? []) {
    const [a, b] = p.split("/");
    console.log(`${a} ÷ ${b} Gbit/s: ${ratioLine(pairRatios(runs, a, b, (r) => r.gbps))}`);
    console.log(`${a} ÷ ${b} CPU-s/GB: ${ratioLine(pairRatios(runs, a, b, (r) => r.cpuPerGb))}`);
  }
}
