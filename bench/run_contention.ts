/**
 * What else the machine did while a benchmark run ran, so that a contended run can be told from
 * a regression: the whole machine's CPU by `/proc/stat` column (`nice` is other sessions' niced
 * test runs, `steal` the host's), each of the run's threads' CPU, and how often the busy ones
 * were last on the same CPU (the scheduler packing a sender's threads onto one CPU while niced
 * work keeps the other: `tx13`'s slow kind 1 in `bench/README.md`). `bench/tx_ab.ts` and the TCP
 * rows of `bench/e2e.ts` record it beside every run.
 *
 * @module
 */

import { clockTicksPerSecond, splitTaskStat } from "../cli/uperf_threads.ts";

/** `/proc/stat` columns of the `cpu` line, in its order (see proc(5)). */
const STAT_COLUMNS = [
  "user",
  "nice",
  "system",
  "idle",
  "iowait",
  "irq",
  "softirq",
  "steal",
] as const;

/** Clock ticks per second of `/proc` (USER_HZ: `AT_CLKTCK`, as `uperf`'s thread CPU reads it). */
const HZ = clockTicksPerSecond();

/**
 * The machine's `cpu` line of `/proc/stat`: clock ticks per column.
 *
 * @example
 * ```ts ignore
 * const t0 = await machineTicks();
 * ```
 */
export async function machineTicks(): Promise<number[]> {
  const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0];
  return line.trim().split(/\s+/).slice(1, 1 + STAT_COLUMNS.length).map(Number);
}

/**
 * Percent of one CPU per `/proc/stat` column between two {@link machineTicks} samples `sec`
 * apart (iowait folded into idle).
 *
 * @example
 * ```ts
 * machineCpu([0, 0, 0, 0, 0, 0, 0, 0], [0, 90, 0, 110, 0, 0, 0, 0], 1).nice; // 90
 * ```
 */
export function machineCpu(a: number[], b: number[], sec: number): Record<string, number> {
  const out: Record<string, number> = {};
  STAT_COLUMNS.forEach((name, i) => {
    const key = name === "iowait" ? "idle" : name;
    out[key] = Math.round((out[key] ?? 0) + (b[i] - a[i]) / HZ / sec * 100);
  });
  return out;
}

/**
 * The CPU each thread of `pid` last ran on, by thread name (the first of a name wins).
 *
 * @example
 * ```ts ignore
 * const cpus = await threadCpus(proc.pid, "sink ");
 * ```
 */
export async function threadCpus(pid: number, prefix = ""): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for (const [key, cpu] of await threadCpusById(pid, prefix)) {
    const name = threadKind(key.slice(0, key.lastIndexOf("#")));
    if (!m.has(name)) m.set(name, cpu);
  }
  return m;
}

/**
 * A thread's name without what makes it one of a kind: io_uring's polling thread
 * (`--tx-kick uring`) is named `iou-sqp-<pid>`, reported as `iou-sqp` so that rounds of
 * different processes share one column.
 */
function threadKind(name: string): string {
  return name.replace(/iou-sqp-\d+$/, "iou-sqp");
}

/** The CPU each thread of `pid` last ran on, by `prefix + name#tid`. */
async function threadCpusById(pid: number, prefix: string): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  try {
    for await (const e of Deno.readDir(`/proc/${pid}/task`)) {
      try {
        const st = splitTaskStat(await Deno.readTextFile(`/proc/${pid}/task/${e.name}/stat`));
        // Field 39 (processor) is the 37th after the command's closing parenthesis.
        if (st !== null) m.set(`${prefix}${st.name}#${e.name}`, Number(st.rest[36]));
      } catch { /* the thread ended */ }
    }
  } catch { /* the process ended */ }
  return m;
}

/**
 * User + system clock ticks of each thread of `pid`, by `prefix + name#tid`.
 *
 * @example
 * ```ts ignore
 * const t0 = await threadTicks(proc.pid);
 * ```
 */
export async function threadTicks(pid: number, prefix = ""): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  try {
    for await (const e of Deno.readDir(`/proc/${pid}/task`)) {
      try {
        const st = splitTaskStat(await Deno.readTextFile(`/proc/${pid}/task/${e.name}/stat`));
        // utime and stime: fields 14 and 15.
        if (st !== null) {
          m.set(`${prefix}${st.name}#${e.name}`, Number(st.rest[11]) + Number(st.rest[12]));
        }
      } catch { /* the thread ended */ }
    }
  } catch { /* the process ended */ }
  return m;
}

/**
 * Percent of one CPU per thread name between two {@link threadTicks} samples `sec` apart
 * (threads of one name summed).
 *
 * @example
 * ```ts
 * threadCpu(new Map([["deno#7", 10]]), new Map([["deno#7", 60]]), 1); // { deno: 50 }
 * ```
 */
export function threadCpu(
  a: Map<string, number>,
  b: Map<string, number>,
  sec: number,
  prefix = "",
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of b) {
    const name = prefix + threadKind(k.slice(0, k.lastIndexOf("#")));
    const d = (v - (a.get(k) ?? v)) / HZ / sec * 100;
    if (d > 0) out[name] = Math.round((out[name] ?? 0) + d);
  }
  return out;
}

/** What {@link watchRun} saw over its window. */
export interface RunContention {
  /** Seconds watched. */
  seconds: number;
  /** The machine, % of one CPU summed over CPUs, by `/proc/stat` column ({@link machineCpu}). */
  machine: Record<string, number>;
  /** Each thread of the watched processes that used CPU, % of one CPU, by `label name`. */
  cpu: Record<string, number>;
  /**
   * For each pair of busy threads (at least {@link BUSY_PERCENT} % of one CPU; a name that
   * several busy threads share gets `#2`, `#3`…), the share of samples in which both were last
   * on the same CPU, keyed `a=b`.
   */
  placement: Record<string, number>;
  /** Share of samples in which every busy thread was last on one and the same CPU. */
  allOnOne: number | null;
}

/** A thread is busy at this % of one CPU or more over the window. */
export const BUSY_PERCENT = 20;

/**
 * Summarise per-sample CPU placements: `samples` holds, per sample, the CPU of each thread by
 * `label name#tid`; `busy` the threads counted busy, by the same keys. Pairwise same-CPU shares
 * and the share of samples with every busy thread on one CPU (null below two busy threads).
 *
 * @example
 * ```ts
 * const s = [new Map([["a#1", 0], ["b#2", 0]]), new Map([["a#1", 0], ["b#2", 1]])];
 * placementShares(s, ["a#1", "b#2"]); // { placement: { "a=b": 0.5 }, allOnOne: 0.5 }
 * ```
 */
export function placementShares(
  samples: Map<string, number>[],
  busy: string[],
): { placement: Record<string, number>; allOnOne: number | null } {
  const names = displayNames(busy);
  const placement: Record<string, number> = {};
  const share = (n: number, of: number) => Math.round(n / of * 100) / 100;
  for (let i = 0; i < busy.length; i++) {
    for (let j = i + 1; j < busy.length; j++) {
      let both = 0;
      let same = 0;
      for (const s of samples) {
        const a = s.get(busy[i]);
        const b = s.get(busy[j]);
        if (a === undefined || b === undefined) continue;
        both++;
        if (a === b) same++;
      }
      if (both > 0) placement[`${names[i]}=${names[j]}`] = share(same, both);
    }
  }
  if (busy.length < 2) return { placement, allOnOne: null };
  let full = 0;
  let one = 0;
  for (const s of samples) {
    const cpus = busy.map((k) => s.get(k));
    if (cpus.some((c) => c === undefined)) continue;
    full++;
    if (cpus.every((c) => c === cpus[0])) one++;
  }
  return { placement, allOnOne: full > 0 ? share(one, full) : null };
}

/** `label name#tid` keys as `label name`, a repeated name numbered from its second on. */
function displayNames(keys: string[]): string[] {
  const seen = new Map<string, number>();
  return keys.map((k) => {
    const name = k.slice(0, k.lastIndexOf("#"));
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    return n === 1 ? name : `${name}#${n}`;
  });
}

/**
 * Watch a run for `windowMs` starting `delayMs` from now: the processes `pids()` names (by
 * label, e.g. `stack`, `peer`; asked once, when the window opens), sampled every `everyMs` for
 * placement, and the machine. Resolves after the window; a process that ended meanwhile just
 * stops counting.
 *
 * @example
 * ```ts ignore
 * const watching = watchRun(() => link.pidsByNamespace(), 500, 1000);
 * await runTheSender();
 * const contention = await watching;
 * ```
 */
export async function watchRun(
  pids: () => Promise<Map<string, number[]>>,
  delayMs: number,
  windowMs: number,
  everyMs = 20,
): Promise<RunContention> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await sleep(delayMs);
  const procs: [string, number][] = [];
  for (const [label, list] of await pids()) for (const p of list) procs.push([label, p]);
  const ticks = async () => {
    const all = new Map<string, number>();
    for (const [label, p] of procs) {
      for (const [k, v] of await threadTicks(p, `${label} `)) all.set(k, v);
    }
    return all;
  };
  const t0 = performance.now();
  const k0 = await ticks();
  const m0 = await machineTicks();
  const samples: Map<string, number>[] = [];
  while (performance.now() - t0 < windowMs) {
    const s = new Map<string, number>();
    for (const [label, p] of procs) {
      for (const [k, v] of await threadCpusById(p, `${label} `)) s.set(k, v);
    }
    samples.push(s);
    await sleep(everyMs);
  }
  const sec = (performance.now() - t0) / 1000;
  const k1 = await ticks();
  const machine = machineCpu(m0, await machineTicks(), sec);
  const cpu = threadCpu(k0, k1, sec);
  const busy = [...k1.keys()].filter((k) =>
    (k1.get(k)! - (k0.get(k) ?? k1.get(k)!)) / HZ / sec * 100 >= BUSY_PERCENT
  ).sort();
  return { seconds: Math.round(sec * 100) / 100, machine, cpu, ...placementShares(samples, busy) };
}

/**
 * One line of what a {@link RunContention} says: others' niced CPU and the idle share (% of
 * one CPU), and how often every busy thread sat on one CPU.
 *
 * @example
 * ```ts
 * contentionText({ seconds: 1, machine: { nice: 80, idle: 3 }, cpu: {}, placement: {},
 *   allOnOne: 0.62 }); // "nice 80, idle 3, busy threads on one CPU 62%"
 * ```
 */
export function contentionText(c: RunContention): string {
  const one = c.allOnOne === null ? "—" : `${Math.round(c.allOnOne * 100)}%`;
  return `nice ${c.machine.nice ?? "?"}, idle ${
    c.machine.idle ?? "?"
  }, busy threads on one CPU ${one}`;
}
