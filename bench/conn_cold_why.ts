/**
 * `bench/conn_cold_why.ts`: why one fresh `pingpong --connect` pair of 1,000 connections (the
 * `bench:e2e` row) runs at 24k/s and the next, same code, at 36k/s. Per round, a fresh veth
 * pair; per checkout, a fresh server and a fresh client straight after its ready line, as
 * `bench:e2e` runs them, with per-run evidence:
 *
 * - the client's summary: the rate, the neighbour warm-up's lone first connection
 *   (`first_ms`, inside the rate's seconds) and the crowd (`crowd_ms`);
 * - both main threads between the client's `warm_up` line and its summary line, from `/proc`
 *   (`client_sched`, `server_sched`: ms on a CPU, ms runnable but waiting for one, migrations,
 *   preemptions, the CPU at the start and the end, the process's minor page faults), the server's V8 worker threads' CPU
 *   (compilation, GC) and the machine's CPU pressure (`/proc/pressure/cpu`, ms some task
 *   waited for a CPU);
 * - with `--trace`: both processes run under V8's `--trace-gc --trace-opt` (and `stdbuf -oL`),
 *   and the collections and optimised compilations inside the window are counted per side.
 *
 * ```
 * deno run --allow-all bench/conn_cold_why.ts [-n N] [--rounds R] [--mtu M]... [--base PATH]
 *     [--variant NAME=FLAGS]... [--pairs uu,uk,kk] [--trace] [--out FILE]
 * ```
 *
 * `--base PATH` runs another checkout's `cli/ustack.ts` in the same rounds (order alternating),
 * `--variant NAME=FLAGS` this checkout with FLAGS on both stacks (e.g. `big=--rx-slots 64k`);
 * `--mtu` given more than once runs every configuration at each MTU in every round, each MTU
 * on a veth pair of its own (keys `NAME@MTU`). `--pairs` adds ustack→kernel (`uk`: a kernel
 * `pingpong server`) and kernel↔kernel (`kk`, once a round) pairs to the rounds (keys
 * `NAME:ENDS`); a kernel client's window starts at its start, not at a warm-up line.
 * The readings at the two lines lag them by the pipe's delivery (~ms): the window is a little
 * wider than the crowd (the pingpong CLI cannot read its own `/proc` files without
 * `--allow-all`). Run it under the lock.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseTaskSched, splitTaskStat } from "../cli/uperf_threads.ts";
import { threadTicks } from "./conn_warmup.ts";
import { lastJson } from "./e2e.ts";
import { BenchLink, type BenchProcess, parseVariant, ustackCommand } from "./netns.ts";

const PORT = 7312;

/** One thread's scheduling so far. */
interface Sched {
  runNs: number;
  waitNs: number;
  migrations: number;
  involuntary: number;
  cpu: number;
  minorFaults: number;
}

function schedOf(pid: number): Sched | null {
  try {
    const dir = `/proc/${pid}/task/${pid}`;
    const st = Deno.readTextFileSync(`${dir}/schedstat`).trim().split(" ");
    const c = parseTaskSched(Deno.readTextFileSync(`${dir}/sched`));
    const s = splitTaskStat(Deno.readTextFileSync(`${dir}/stat`));
    if (c === null || s === null) return null;
    return {
      runNs: Number(st[0]),
      waitNs: Number(st[1]),
      migrations: c.migrations,
      involuntary: c.involuntary,
      cpu: Number(s.rest[36]),
      minorFaults: Number(s.rest[7]),
    };
  } catch {
    return null;
  }
}

/** What a thread met between two readings (null where one is missing). */
function schedDelta(a: Sched | null, b: Sched | null): Record<string, number> | null {
  if (a === null || b === null) return null;
  return {
    run_ms: Math.round((b.runNs - a.runNs) / 1e4) / 100,
    wait_ms: Math.round((b.waitNs - a.waitNs) / 1e4) / 100,
    migrations: b.migrations - a.migrations,
    involuntary: b.involuntary - a.involuntary,
    cpu_start: a.cpu,
    cpu_end: b.cpu,
    minor_faults: b.minorFaults - a.minorFaults,
  };
}

/** µs some task waited for a CPU, machine-wide, so far (PSI); NaN without it. */
function cpuPressureUs(): number {
  try {
    const m = /^some .*total=(\d+)/m.exec(Deno.readTextFileSync("/proc/pressure/cpu"));
    return m === null ? NaN : Number(m[1]);
  } catch {
    return NaN;
  }
}

/** V8 trace lines in `lines[from, to)`: collections and optimised compilations. */
function traceCounts(lines: string[], from: number, to: number): Record<string, number> {
  let scavenges = 0, markCompacts = 0, optimized = 0, deopts = 0;
  for (let i = from; i < to; i++) {
    const l = lines[i];
    if (l.includes("Scavenge")) scavenges++;
    else if (l.includes("Mark-Compact") || l.includes("Mark-sweep")) markCompacts++;
    else if (l.includes("completed compiling") || l.includes("completed optimizing")) optimized++;
    else if (l.includes("bailout") || l.includes("deoptimiz")) deopts++;
  }
  return { scavenges, markCompacts, optimized, deopts };
}

async function pair(
  link: BenchLink,
  cli: string | undefined,
  n: number,
  trace: boolean,
  flags: string[] = [],
  ends: PairEnds = "uu",
  port = PORT,
): Promise<Record<string, unknown>> {
  const kernelClient = ends === "kk";
  const kernelServer = ends !== "uu";
  await link.setKernelAddress("stack", kernelClient);
  await link.setKernelAddress("peer", kernelServer);
  const v8 = trace ? ["--v8-flags=--trace-gc,--trace-opt,--trace-deopt"] : [];
  const wrap = (cmd: string[]) => trace ? ["stdbuf", "-oL", ...cmd] : cmd;
  const srv = link.start(
    "peer",
    wrap(ustackCommand(
      [
        ...["pingpong", "server", "-p", String(port), "-l", "64"],
        ...(kernelServer ? ["--kernel"] : [...link.stackOptions("peer", "af_packet"), ...flags]),
        "--json",
      ],
      cli,
      v8,
    )),
  );
  try {
    await srv.waitForLine(/"event":"ready"/, 60_000);
    const c = link.start(
      "stack",
      wrap(ustackCommand(
        [
          ...["pingpong", "client", link.addr("peer"), "-p", String(port), "--connect"],
          ...["-C", "32", "-n", String(n), "-l", "64", "--json"],
          ...(kernelClient ? ["--kernel"] : [...link.stackOptions("stack", "af_packet"), ...flags]),
        ],
        cli,
        v8,
      )),
    );
    const mark = async (p: BenchProcess, re: RegExp | null) => {
      if (re !== null) await p.waitForLine(re, 60_000);
      return {
        sched: schedOf(srv.pid),
        cliSched: schedOf(c.pid),
        ticks: threadTicks(srv.pid),
        psi: cpuPressureUs(),
        srvLine: srv.cli.lines.length,
        load: Deno.loadavg()[0],
      };
    };
    // A kernel client has no warm-up: its window starts at its start (the server idles until
    // its first connection).
    const a = await mark(c, kernelClient ? null : /"event":"warm_up"/);
    const b = await mark(c, /"event":"summary"/);
    const f = await c.finish(30_000);
    const j = lastJson(f.stdout, "summary");
    const s = schedDelta(a.sched, b.sched);
    const v8ms = (b.ticks.v8 - a.ticks.v8) * 10;
    const out: Record<string, unknown> = {
      conn_per_s: j.conn_per_s,
      failed: j.failed,
      seconds: j.seconds,
      first_ms: j.first_ms,
      crowd_ms: j.crowd_ms,
      client_run_cpu_ms: j.run_cpu_ms,
      client_sched: schedDelta(a.cliSched, b.cliSched),
      server_sched: s,
      server_v8_ms: v8ms,
      cpu_pressure_ms: Math.round((b.psi - a.psi) / 100) / 10,
      load: [a.load, b.load],
    };
    if (trace) {
      const lines = f.stdout.split("\n");
      const w0 = lines.findIndex((l) => l.includes('"event":"warm_up"'));
      const w1 = lines.findIndex((l) => l.includes('"event":"summary"'));
      out.client_trace = traceCounts(lines, w0, w1);
      out.server_trace = traceCounts(srv.cli.lines, a.srvLine, b.srvLine);
    }
    return out;
  } finally {
    await srv.stop(10_000);
  }
}

/**
 * Which ends of a pair are the stack: `uu` both, `uk` a stack client and a kernel server
 * (`pingpong server --kernel`), `kk` both kernel sockets.
 */
export type PairEnds = "uu" | "uk" | "kk";

/** One configuration a round runs: a checkout, with extra link flags on both stacks. */
export interface ColdConfig {
  /** Its key in a round's record. */
  name: string;
  /** `cli/ustack.ts` of another checkout, or undefined for this one. */
  cli: string | undefined;
  /** Extra flags for both `pingpong` processes. */
  flags: string[];
}

/**
 * The configurations of a run: this checkout, `--base`'s, and each `--variant NAME=FLAGS` (this
 * checkout with FLAGS on both stacks). Throws on a variant without `=` or a repeated name.
 *
 * @example
 * ```ts
 * coldConfigs(undefined, ["big=--rx-slots 64k"]).map((c) => c.name); // ["this", "big"]
 * ```
 */
export function coldConfigs(base: string | undefined, variants: string[]): ColdConfig[] {
  const out: ColdConfig[] = [{ name: "this", cli: undefined, flags: [] }];
  if (base !== undefined) out.push({ name: "base", cli: base, flags: [] });
  for (const v of variants) {
    const [name, flags] = parseVariant(v);
    if (out.some((c) => c.name === name)) throw new Error(`--variant ${name}: name taken`);
    out.push({ name, cli: undefined, flags });
  }
  return out;
}

/** A run of a round: a configuration and which ends are the stack. */
export type ColdRun = ColdConfig & { ends: PairEnds };

/**
 * The runs of a round for `--pairs` (`uu`, `uk`, `kk`): every configuration per stack pair, the
 * kernel pair once (no code or flags of ours in it, named `kernel`); with more than one pair
 * kind the names say which (`NAME:ENDS`). Throws on an unknown kind.
 *
 * @example
 * ```ts
 * coldRuns(coldConfigs(undefined, []), ["uu", "kk"]).map((r) => r.name); // ["this:uu", "kernel"]
 * ```
 */
export function coldRuns(configs: ColdConfig[], pairs: string[]): ColdRun[] {
  const out: ColdRun[] = [];
  for (const ends of pairs) {
    if (ends !== "uu" && ends !== "uk" && ends !== "kk") {
      throw new Error(`--pairs ${ends}: uu, uk or kk`);
    }
    if (ends === "kk") {
      out.push({ name: "kernel", cli: undefined, flags: [], ends });
      continue;
    }
    for (const c of configs) {
      out.push({ ...c, ends, name: pairs.length > 1 ? `${c.name}:${ends}` : c.name });
    }
  }
  return out;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      n: { type: "string", short: "n", default: "1000" },
      rounds: { type: "string", default: "4" },
      mtu: { type: "string", multiple: true },
      base: { type: "string" },
      variant: { type: "string", multiple: true },
      pairs: { type: "string", default: "uu" },
      trace: { type: "boolean" },
      out: { type: "string" },
    },
  });
  const configs = coldConfigs(values.base, values.variant ?? []);
  const pairs = values.pairs.split(",");
  const runs = coldRuns(configs, pairs);
  const mtus = (values.mtu ?? ["1500"]).map(Number);
  const rounds: Record<string, unknown>[] = [];
  for (let r = 0; r < Number(values.rounds); r++) {
    const round: Record<string, unknown> = {};
    // Each MTU on a fresh pair of its own; MTUs and configurations alternate their order.
    for (const mtu of r % 2 === 0 ? mtus : [...mtus].reverse()) {
      const link = await BenchLink.create(mtu);
      try {
        const order = r % 2 === 0 ? runs : [...runs].reverse();
        for (const [i, c] of order.entries()) {
          const j = await pair(
            link,
            c.cli,
            Number(values.n),
            values.trace === true,
            c.flags,
            c.ends,
            PORT + i,
          );
          const key = mtus.length > 1 ? `${c.name}@${mtu}` : c.name;
          round[key] = j;
          console.error(`round ${r + 1} ${key.padEnd(10)} ${JSON.stringify(j)}`);
        }
      } finally {
        await link.destroy();
      }
    }
    rounds.push(round);
  }
  const record = {
    date: new Date().toISOString(),
    mtu: mtus.length === 1 ? mtus[0] : mtus,
    configs,
    pairs,
    n: Number(values.n),
    trace: values.trace === true,
    rounds,
  };
  if (values.out !== undefined) {
    await Deno.writeTextFile(values.out, JSON.stringify(record, null, 2) + "\n");
  }
  console.log(JSON.stringify(record));
}
