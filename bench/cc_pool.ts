/**
 * `deno run --allow-read bench/cc_pool.ts FILE...`: `bench:cc` records (`--out` JSON, run with
 * `--repeat`) pooled to settle the issue's "no algorithm more than 5 % below NewReno without
 * loss". Runs pair only within one record and one round (the same round robin, minutes apart),
 * each algorithm with the NewReno of its own build (`ALG@base` with `newreno@base`).
 *
 * Per algorithm it prints the per-round ratios to NewReno — median, a 95 % bootstrap interval of
 * the median, the range, how many rounds fell below 1.0 and below 0.95 with a two-sided sign test's
 * p for each (`bench/ab_pool.ts`'s `signTestP`) — and the medians of what limited it: the stack
 * thread's CPU-seconds per GB, mean cwnd and SRTT, the share of runs whose slow start ended
 * without loss (ssthresh set: HyStart++), the `sendLimit` shares, the pacing rate. With
 * `--loss P` it reads that phase instead, and pairs `ALG` with `ALG@base` (before/after).
 *
 * `--min-stack-share S` leaves out the rounds in which some stack sender's thread ran less than
 * S of the run (e.g. 0.35; other work on the machine then took the CPU from every sender).
 *
 * ```
 * deno run --allow-read bench/cc_pool.ts [--loss 0] [--seed 1] [--min-stack-share S] a.json b.json
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { median } from "./ab_rounds.ts";
import { signTestP } from "./ab_pool.ts";

/** One ustack or kernel run of a record's phase, with where it came from. */
export interface CcPooledRun {
  /** The sender (`newreno`, `cubic@base`, `kernel-cubic`, …). */
  sender: string;
  /** Record (set) index, from 0. */
  set: number;
  /** Round within its record. */
  round: number;
  /** Goodput, Gbit/s. */
  gbps: number;
  /**
   * The share of the run the stack's thread spent on a CPU (its CPU-seconds ÷ the run's
   * seconds); NaN for a kernel sender or without the figure.
   */
  stackShare: number;
  /** The run's details as the record has them (`client`, `sink`, …). */
  details: Record<string, any>;
}

/**
 * The runs of one `bench:cc` record's phase with `lossPercent` (failed runs left out; the i-th
 * run of each sender is round i).
 *
 * @example
 * ```ts
 * const f = { sender: "cubic", lossPercent: 0, details: { runs: [{ gbps: 9 }] } };
 * ccPooledRuns({ figures: [f] }, 0, 0);
 * // [{ sender: "cubic", set: 0, round: 0, gbps: 9, details: { gbps: 9 } }]
 * ```
 */
export function ccPooledRuns(
  record: {
    options?: { seconds?: number };
    figures: { sender: string; lossPercent: number; details: Record<string, any> }[];
  },
  lossPercent: number,
  set: number,
): CcPooledRun[] {
  const out: CcPooledRun[] = [];
  const seconds = record.options?.seconds ?? NaN;
  for (const f of record.figures) {
    if (f.lossPercent !== lossPercent) continue;
    const runs: Record<string, any>[] = f.details.runs ?? [f.details];
    runs.forEach((d, round) => {
      if (typeof d.gbps === "number") {
        const main = d.client?.threadCpu?.mainSeconds;
        const stackShare = typeof main === "number" ? main / seconds : NaN;
        out.push({ sender: f.sender, set, round, gbps: d.gbps, stackShare, details: d });
      }
    });
  }
  return out;
}

/**
 * `runs` without the rounds in which some stack sender's thread ran less than `minShare` of the
 * run (a CPU taken by other work hits every sender of that round, whatever its algorithm).
 *
 * @example
 * ```ts
 * const d = {};
 * const runs = [
 *   { sender: "newreno", set: 0, round: 0, gbps: 9, stackShare: 0.5, details: d },
 *   { sender: "cubic", set: 0, round: 1, gbps: 4, stackShare: 0.2, details: d },
 * ];
 * withoutStarvedRounds(runs, 0.35).length; // 1
 * ```
 */
export function withoutStarvedRounds(runs: CcPooledRun[], minShare: number): CcPooledRun[] {
  const starved = new Set(
    runs.filter((r) => r.stackShare < minShare).map((r) => `${r.set}/${r.round}`),
  );
  return runs.filter((r) => !starved.has(`${r.set}/${r.round}`));
}

/**
 * Per-round ratios `a ÷ b` of Gbit/s over runs of the same set and round.
 *
 * @example
 * ```ts
 * const d = {};
 * ccRatios([
 *   { sender: "cubic", set: 0, round: 0, gbps: 9, details: d },
 *   { sender: "newreno", set: 0, round: 0, gbps: 10, details: d },
 * ], "cubic", "newreno"); // [0.9]
 * ```
 */
export function ccRatios(runs: CcPooledRun[], a: string, b: string): number[] {
  const out: number[] = [];
  for (const r of runs) {
    if (r.sender !== a) continue;
    const o = runs.find((x) => x.sender === b && x.set === r.set && x.round === r.round);
    if (o !== undefined && o.gbps > 0) out.push(r.gbps / o.gbps);
  }
  return out;
}

/**
 * A 95 % percentile-bootstrap interval of the median of `xs` (`draws` resamples, a fixed-seed
 * generator so a record always gives the same interval).
 *
 * @example
 * ```ts
 * bootstrapMedian([1, 1, 1, 1]); // [1, 1]
 * ```
 */
export function bootstrapMedian(xs: number[], draws = 10_000, seed = 1): [number, number] {
  const n = xs.length;
  if (n === 0) return [NaN, NaN];
  let s = seed >>> 0 || 1;
  const rand = () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
  const meds = new Float64Array(draws);
  const pick = new Array<number>(n);
  for (let d = 0; d < draws; d++) {
    for (let i = 0; i < n; i++) pick[i] = xs[Math.floor(rand() * n)];
    meds[d] = median(pick);
  }
  meds.sort();
  return [meds[Math.floor(0.025 * (draws - 1))], meds[Math.ceil(0.975 * (draws - 1))]];
}

/**
 * One line on per-round ratios: median with its bootstrap interval, range, and the rounds below
 * 1.0 and below 0.95 with each split's two-sided sign-test p.
 *
 * @example
 * ```ts
 * ccRatioLine([0.9, 0.95, 1.02]).startsWith("n 3, median 0.950"); // true
 * ```
 */
export function ccRatioLine(ratios: number[], seed = 1): string {
  const s = [...ratios].sort((x, y) => x - y);
  const n = s.length;
  if (n === 0) return "no paired rounds";
  const [lo, hi] = bootstrapMedian(s, 10_000, seed);
  const below1 = s.filter((x) => x < 1).length;
  const below95 = s.filter((x) => x < 0.95).length;
  return `n ${n}, median ${median(s).toFixed(3)} (95 % bootstrap ${lo.toFixed(3)}–${
    hi.toFixed(3)
  }), range ${s[0].toFixed(2)}–${s[n - 1].toFixed(2)}; below 1.0: ${below1} of ${n} ` +
    `(p ${signTestP(below1, n).toFixed(3)}), below 0.95: ${below95} of ${n} ` +
    `(p ${signTestP(below95, n).toFixed(3)})`;
}

/** Median of `f` over `runs` where it is a finite number, or NaN. */
function medianOf(runs: CcPooledRun[], f: (d: Record<string, any>) => unknown): number {
  const xs = runs.map((r) => f(r.details)).filter((x): x is number =>
    typeof x === "number" && Number.isFinite(x)
  );
  return xs.length === 0 ? NaN : median(xs);
}

/** What limited one sender: medians over its runs (a line). */
export function ccLimitsLine(runs: CcPooledRun[]): string {
  const w = (d: Record<string, any>) => d.window ?? d.client?.window;
  const cpuMain = (d: Record<string, any>) => {
    const t = d.client?.threadCpu?.mainSeconds;
    const bytes = d.sink?.bytes;
    return typeof t === "number" && bytes > 0 ? t / (bytes / 1e9) : NaN;
  };
  const ss = runs.filter((r) => (w(r.details)?.ssthreshShare ?? 0) > 0).length;
  const share = (k: string) => medianOf(runs, (d) => w(d)?.limitedShare?.[k]).toFixed(2);
  const kicker = runs.filter((r) =>
    r.details.client?.threadCpu?.busiestOther === "worker-1" &&
    r.details.client.threadCpu.busiestOtherSeconds > 0.5
  ).length;
  return `${runs.length} runs, median ${medianOf(runs, (d) => d.gbps).toFixed(2)} Gbit/s; ` +
    `stack thread ${medianOf(runs, cpuMain).toFixed(3)} CPU-s/GB, all threads ` +
    `${medianOf(runs, (d) => d.senderCpuSecondsPerGB).toFixed(3)}; cwnd ` +
    `${medianOf(runs, (d) => w(d)?.cwndSegs).toFixed(0)} segs, SRTT ` +
    `${medianOf(runs, (d) => w(d)?.srttMs).toFixed(2)} ms, pacing ` +
    `${medianOf(runs, (d) => w(d)?.pacingGbps).toFixed(1)} Gbit/s; ssthresh set in ${ss}; ` +
    `limited cwnd ${share("cwnd")} pacing ${share("pacing")} sndbuf ${share("sndbuf")} ` +
    `due ${share("due")}; kicker busy (> 0.5 s) in ${kicker}`;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    options: {
      loss: { type: "string" },
      seed: { type: "string" },
      "min-stack-share": { type: "string" },
      help: { type: "boolean" },
    },
    allowPositionals: true,
  });
  if (values.help || positionals.length === 0) {
    console.log(
      `usage: deno run --allow-read bench/cc_pool.ts [--loss P] [--seed N] ` +
        `[--min-stack-share S] FILE...`,
    );
    Deno.exit(values.help ? 0 : 2);
  }
  const loss = Number(values.loss ?? "0");
  const seed = Number(values.seed ?? "1");
  const all = positionals.flatMap((file, set) =>
    ccPooledRuns(JSON.parse(Deno.readTextFileSync(file)), loss, set)
  );
  const minShare = values["min-stack-share"];
  const runs = minShare === undefined ? all : withoutStarvedRounds(all, Number(minShare));
  if (minShare !== undefined) {
    const rounds = (rs: CcPooledRun[]) => new Set(rs.map((r) => `${r.set}/${r.round}`)).size;
    console.log(`rounds kept: ${rounds(runs)} of ${rounds(all)} (stack threads >= ${minShare})`);
  }
  const senders = [...new Set(runs.map((r) => r.sender))];
  for (const s of senders) {
    console.log(`${s}: ${ccLimitsLine(runs.filter((r) => r.sender === s))}`);
  }
  for (const s of senders) {
    if (s.startsWith("kernel-")) continue;
    const at = s.indexOf("@");
    const alg = at < 0 ? s : s.slice(0, at);
    const build = at < 0 ? "" : s.slice(at);
    if (loss === 0 && alg !== "newreno") {
      console.log(
        `${s} ÷ newreno${build}: ${ccRatioLine(ccRatios(runs, s, `newreno${build}`), seed)}`,
      );
    }
    if (build === "" && senders.includes(`${s}@base`)) {
      console.log(`${s} ÷ ${s}@base: ${ccRatioLine(ccRatios(runs, s, `${s}@base`), seed)}`);
    }
  }
}
