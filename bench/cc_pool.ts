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
 * `--targets` reads every record's two phases against issue 11's three targets instead, round by
 * round (the i-th no-loss run and the i-th lossy run of each sender are round i): each sender's
 * goodput, our CUBIC and BBR ÷ kernel CUBIC under loss, kernel BBR ÷ kernel CUBIC, each
 * algorithm ÷ NewReno without loss, the ceiling (the round's best no-loss goodput ÷ BBR's target
 * of twice kernel CUBIC under loss), our BBR under loss ÷ without, and our lossy CUBIC's window
 * against the kernel's (cwnd, cwnd ÷ SRTT, cwnd × MSS ÷ goodput); then the median and range
 * of each ratio over the rounds.
 *
 * ```
 * deno run --allow-read bench/cc_pool.ts [--loss 0] [--seed 1] [--min-stack-share S] a.json b.json
 * deno run --allow-read bench/cc_pool.ts --targets a.json b.json
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

/** One sender's window under loss (segments, ms, µs), as its record has it. */
export interface CcLossyWindow {
  /** Goodput, Gbit/s. */
  gbps: number;
  /** Mean cwnd over the 20-ms samples (segments). */
  cwndSegs: number;
  /** Mean SRTT over the samples (ms). */
  srttMs: number;
  /**
   * Mean flight (segments): `ss`'s `unacked` for a kernel sender (SACKed segments included),
   * the RFC 6675 pipe for the stack (SACKed segments left out) — not the same quantity.
   */
  inflightSegs: number;
  /** The flight's round trip at the run's goodput (Little's law, µs; `bench:cc`'s figure). */
  windowRoundTripUs: number;
  /**
   * The round trip of one cwnd at the run's goodput (µs): cwnd × MSS ÷ goodput, the same
   * quantity for both senders (a cwnd-limited sender delivers a window a round).
   */
  cwndRoundTripUs: number;
  /** The machine's busy share of its CPUs over the run (`bench:cc`'s `machineCpu`; NaN without). */
  machineBusyShare: number;
  /** The machine's busy CPU-seconds per GB the sink received (NaN without). */
  machineCpuSecondsPerGB: number;
}

/** One round of a `bench:cc` record read against issue 11's three targets. */
export interface CcTargetRound {
  /** Record (set) index, from 0. */
  set: number;
  /** Round within its record (the no-loss and the lossy phase's round of that number). */
  round: number;
  /** Goodput per sender without loss (Gbit/s). */
  noLoss: Record<string, number>;
  /** Goodput per sender under loss (Gbit/s). */
  lossy: Record<string, number>;
  /** Under loss: our CUBIC ÷ kernel CUBIC (target ≥ 1.0). */
  cubicOverKernel: number;
  /** Under loss: our BBR ÷ kernel CUBIC (target ≥ 2.0). */
  bbrOverKernel: number;
  /** Under loss: kernel BBR ÷ kernel CUBIC. */
  kernelBbrOverKernel: number;
  /** Without loss: each of our algorithms ÷ our NewReno (target ≥ 0.95). */
  overNewReno: Record<string, number>;
  /** BBR's target under loss: 2 × kernel CUBIC's lossy goodput (Gbit/s). */
  bbrTargetGbps: number;
  /** The highest goodput any sender reached without loss in this round (Gbit/s). */
  maxNoLossGbps: number;
  /**
   * {@link maxNoLossGbps} ÷ {@link bbrTargetGbps}: below 1, no sender reached BBR's target in
   * this round even without loss.
   */
  ceilingOverTarget: number;
  /** Our BBR under loss ÷ our BBR without loss. */
  bbrLossOverNoLoss: number;
  /** Each sender's window under loss. */
  windows: Record<string, CcLossyWindow>;
  /** Our CUBIC ÷ kernel CUBIC under loss: mean cwnd. */
  cubicCwndRatio: number;
  /** Our CUBIC ÷ kernel CUBIC under loss: cwnd ÷ SRTT (the rate a window per SRTT makes). */
  cubicCwndPerSrttRatio: number;
  /** Kernel CUBIC ÷ our CUBIC under loss: the round trip of one cwnd (cwnd × MSS ÷ goodput). */
  cubicRoundTripRatio: number;
}

/**
 * Issue 11's targets per round of one `bench:cc` record (run with both phases): the goodputs,
 * the three target ratios, the ceiling (the round's best no-loss goodput against BBR's target
 * of twice kernel CUBIC under loss), and the lossy senders' windows. The i-th run of each
 * sender in each phase is round i; a ratio whose two runs are not both there is NaN.
 *
 * @example
 * ```ts
 * const fig = (sender: string, lossPercent: number, gbps: number) =>
 *   ({ sender, lossPercent, details: { runs: [{ gbps }] } });
 * const [r] = ccTargetRounds({
 *   options: { lossPercent: 1 },
 *   figures: [fig("kernel-cubic", 0, 8), fig("newreno", 0, 7), fig("kernel-cubic", 1, 5),
 *     fig("cubic", 1, 2.5)],
 * }, 0);
 * r.cubicOverKernel; // 0.5
 * r.ceilingOverTarget; // 0.8 (8 Gbit/s at best against a target of 10)
 * ```
 */
export function ccTargetRounds(
  record: {
    options?: { seconds?: number; lossPercent?: number; mtu?: number };
    figures: { sender: string; lossPercent: number; details: Record<string, any> }[];
  },
  set: number,
): CcTargetRound[] {
  const loss = record.options?.lossPercent ?? 1;
  // IPv4 and TCP headers with the timestamp option.
  const mssBytes = (record.options?.mtu ?? 1500) - 52;
  const quiet = ccPooledRuns(record, 0, set);
  const lossyRuns = ccPooledRuns(record, loss, set);
  const rounds = new Set([...quiet, ...lossyRuns].map((r) => r.round));
  const out: CcTargetRound[] = [];
  const num = (x: unknown) => (typeof x === "number" && Number.isFinite(x) ? x : NaN);
  for (const round of [...rounds].sort((a, b) => a - b)) {
    const noLoss: Record<string, number> = {};
    const lossy: Record<string, number> = {};
    const windows: Record<string, CcLossyWindow> = {};
    for (const r of quiet) if (r.round === round) noLoss[r.sender] = r.gbps;
    for (const r of lossyRuns) {
      if (r.round !== round) continue;
      lossy[r.sender] = r.gbps;
      const w = r.details.window ?? r.details.client?.window ?? {};
      windows[r.sender] = {
        gbps: r.gbps,
        cwndSegs: num(w.cwndSegs),
        srttMs: num(w.srttMs),
        inflightSegs: num(w.inflightSegs),
        windowRoundTripUs: num(r.details.windowRoundTripUs),
        cwndRoundTripUs: (num(w.cwndSegs) * mssBytes * 8) / (r.gbps * 1e3),
        machineBusyShare: num(r.details.machineCpu?.busyShare),
        machineCpuSecondsPerGB: num(r.details.machineCpuSecondsPerGB),
      };
    }
    const ratio = (a: number | undefined, b: number | undefined) =>
      a === undefined || b === undefined || !(b > 0) ? NaN : a / b;
    const overNewReno: Record<string, number> = {};
    for (const s of Object.keys(noLoss)) {
      if (s !== "newreno" && !s.startsWith("kernel-") && !s.includes("@")) {
        overNewReno[s] = ratio(noLoss[s], noLoss.newreno);
      }
    }
    const kernel = lossy["kernel-cubic"];
    const bbrTargetGbps = kernel === undefined ? NaN : 2 * kernel;
    const noLossValues = Object.values(noLoss);
    const maxNoLossGbps = noLossValues.length === 0 ? NaN : Math.max(...noLossValues);
    const ours = windows.cubic;
    const theirs = windows["kernel-cubic"];
    out.push({
      set,
      round,
      noLoss,
      lossy,
      cubicOverKernel: ratio(lossy.cubic, kernel),
      bbrOverKernel: ratio(lossy.bbr, kernel),
      kernelBbrOverKernel: ratio(lossy["kernel-bbr"], kernel),
      overNewReno,
      bbrTargetGbps,
      maxNoLossGbps,
      ceilingOverTarget: ratio(maxNoLossGbps, bbrTargetGbps),
      bbrLossOverNoLoss: ratio(lossy.bbr, noLoss.bbr),
      windows,
      cubicCwndRatio: ratio(ours?.cwndSegs, theirs?.cwndSegs),
      cubicCwndPerSrttRatio: ratio(
        ours === undefined ? undefined : ours.cwndSegs / ours.srttMs,
        theirs === undefined ? undefined : theirs.cwndSegs / theirs.srttMs,
      ),
      cubicRoundTripRatio: ratio(theirs?.cwndRoundTripUs, ours?.cwndRoundTripUs),
    });
  }
  return out;
}

/** One line of a {@link CcTargetRound} (the figures `--targets` prints per round). */
export function ccTargetLine(t: CcTargetRound): string {
  const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "–");
  const g = (m: Record<string, number>) =>
    Object.entries(m).map(([k, v]) => `${k} ${f(v)}`).join(", ");
  const w = Object.entries(t.windows).map(([k, v]) =>
    `${k} cwnd ${f(v.cwndSegs, 1)} SRTT ${f(v.srttMs, 3)} ms cwnd RT ${
      f(v.cwndRoundTripUs, 0)
    } µs, machine busy ` +
    `${f(v.machineBusyShare)} ${f(v.machineCpuSecondsPerGB)} CPU-s/GB`
  ).join("; ");
  return `set ${t.set} round ${t.round}: no loss [${g(t.noLoss)}]; loss [${g(t.lossy)}]; ` +
    `CUBIC÷kCUBIC ${f(t.cubicOverKernel)} BBR÷kCUBIC ${f(t.bbrOverKernel)} ` +
    `kBBR÷kCUBIC ${f(t.kernelBbrOverKernel)}; ÷NewReno ` +
    `${Object.entries(t.overNewReno).map(([k, v]) => `${k} ${f(v)}`).join(" ")}; ` +
    `BBR target ${f(t.bbrTargetGbps)} vs best no-loss ${f(t.maxNoLossGbps)} ` +
    `(${f(t.ceilingOverTarget)}); BBR loss÷no-loss ${f(t.bbrLossOverNoLoss)}; ` +
    `CUBIC cwnd ratio ${f(t.cubicCwndRatio)}, cwnd/SRTT ratio ${f(t.cubicCwndPerSrttRatio)}, ` +
    `kernel÷ours cwnd RT ${f(t.cubicRoundTripRatio)}; windows: ${w}`;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    options: {
      loss: { type: "string" },
      seed: { type: "string" },
      "min-stack-share": { type: "string" },
      targets: { type: "boolean" },
      help: { type: "boolean" },
    },
    allowPositionals: true,
  });
  if (values.help || positionals.length === 0) {
    console.log(
      `usage: deno run --allow-read bench/cc_pool.ts [--loss P] [--seed N] ` +
        `[--min-stack-share S] [--targets] FILE...`,
    );
    Deno.exit(values.help ? 0 : 2);
  }
  const seed = Number(values.seed ?? "1");
  if (values.targets) {
    const rows = positionals.flatMap((file, set) =>
      ccTargetRounds(JSON.parse(Deno.readTextFileSync(file)), set)
    );
    for (const t of rows) console.log(ccTargetLine(t));
    const line = (name: string, xs: (number | undefined)[]) => {
      const v = xs.filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) =>
        a - b
      );
      if (v.length === 0) return;
      console.log(
        `${name}: median ${median(v).toFixed(3)}, range ${v[0].toFixed(3)}–` +
          `${v[v.length - 1].toFixed(3)}, ${v.length} rounds`,
      );
    };
    line("CUBIC ÷ kernel CUBIC under loss (target ≥ 1)", rows.map((t) => t.cubicOverKernel));
    line("BBR ÷ kernel CUBIC under loss (target ≥ 2)", rows.map((t) => t.bbrOverKernel));
    line("kernel BBR ÷ kernel CUBIC under loss", rows.map((t) => t.kernelBbrOverKernel));
    for (const alg of new Set(rows.flatMap((t) => Object.keys(t.overNewReno)))) {
      line(`${alg} ÷ NewReno without loss (target ≥ 0.95)`, rows.map((t) => t.overNewReno[alg]));
    }
    line("best no-loss goodput ÷ BBR's target", rows.map((t) => t.ceilingOverTarget));
    line("our BBR under loss ÷ without", rows.map((t) => t.bbrLossOverNoLoss));
    line("our CUBIC ÷ kernel CUBIC under loss: cwnd", rows.map((t) => t.cubicCwndRatio));
    line(
      "our CUBIC ÷ kernel CUBIC under loss: cwnd/SRTT",
      rows.map((t) => t.cubicCwndPerSrttRatio),
    );
    line("kernel ÷ our CUBIC's cwnd round trip", rows.map((t) => t.cubicRoundTripRatio));
    for (const s of ["kernel-cubic", "cubic", "kernel-bbr", "bbr"]) {
      line(`machine busy share, ${s} under loss`, rows.map((t) => t.windows[s]?.machineBusyShare));
      line(
        `machine CPU-s per GB, ${s} under loss`,
        rows.map((t) => t.windows[s]?.machineCpuSecondsPerGB),
      );
    }
    Deno.exit(0);
  }
  const loss = Number(values.loss ?? "0");
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
