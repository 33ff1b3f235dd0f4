/**
 * `deno run --allow-all bench/tx_ab.ts`: the send path, ustack→kernel TCP, A/B. `ustack uperf
 * client` on the stack end of a veth pair sends bulk TCP for `--seconds` into a Python sink on
 * the peer end, once per CLI given (this checkout's first, then each `--base-cli`, or once per
 * `--variant`; the stack configurations' order rotating round by round), and a Python sender on the stack end's kernel sends into the same sink
 * (kernel→kernel), round after round, interleaved, so a loaded machine weighs on every
 * configuration alike. This is the TCP row of `bench:e2e`'s ustack→kernel column, repeatable
 * against other checkouts (a bisection: `git worktree add --detach DIR COMMIT`, then
 * `--base-cli DIR/cli/ustack.ts`).
 *
 * With `--streams N` every stack run writes on N connections at once (`uperf client -P N`, each
 * connection its own writer task, all on the one stack thread) and the sink reads all N (the
 * Python sink from one thread, `uperf server` as it always does); the rate is their sum.
 * kernel→kernel stays one connection — the ratio to it is then of N stack streams to one
 * kernel stream, so compare stack configurations with each other there.
 *
 * With `--pair uu` each stack configuration sends into a stack instead: `uperf server` of the
 * same checkout (and flags) on the peer end, the kernel's address taken off both ends, as
 * `bench:e2e`'s ustack↔ustack TCP row; kernel→kernel still runs in every round for the ratio.
 * The sink's bytes are then the server's summary's, its CPU `sink deno`, and there is no kernel
 * receiver to sample with `ss` (`receiver` is empty); the server's summary is kept too.
 *
 * Over the middle half of every run it takes the CPU of each sender thread (the stack's, its
 * TX kicker's, or the Python sender's) and of the sink, the whole machine's CPU by `/proc/stat`
 * column (`nice` is other sessions' niced test runs, `steal` the host's), and how often the busy
 * threads were last on the same CPU (sampled every 20 ms); for stack runs it keeps uperf's
 * one-second interval rates too. Half-way through every run it samples
 * `ss -tmi` of the kernel receiver (its view of the
 * sender: what it advertises and holds — `rcv_space`, `rcv_ssthresh`, `skmem` receive queue
 * and buffer, `rcv_rtt`) and, for kernel→kernel, of the kernel sender (`cwnd`, `unacked`,
 * `snd_wnd`, `rtt`); for stack runs it keeps uperf's summary (its TCP_INFO window samples and
 * driver counters, where the CLI has them).
 *
 * ```
 * deno run --allow-all bench/tx_ab.ts [--mtu 9000] [--rounds 3] [--seconds 4]
 *                                     [--base-cli /other/checkout/cli/ustack.ts]... [--out FILE]
 *                                     [--variant "sync=--tx-kick sync"]... [--no-kernel]
 *                                     [--pair uk|uu] [--streams N]
 * ```
 *
 * Prints one line per round, then per configuration the median Gbit/s (bytes the sink read
 * over the sender's time, which runs until the last byte was acknowledged) and the median of
 * same-round ratios to kernel→kernel.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { missingRequirements } from "../tests/harness/interop.ts";
import { AB_OPTIONS, abSummary, abUsage, median, writeAbRecord } from "./ab_rounds.ts";
import { lastJson, mustSucceed } from "./e2e.ts";
import { flatEvents } from "./proc_output.ts";
import { uperfSplit } from "./e2e_warmup.ts";
import { BenchLink, type Finished, parseVariant, USTACK_CLI, ustackCommand } from "./netns.ts";
import { PY_TCP_SENDER, PY_TCP_SINK } from "./py_tcp.ts";
import { machineCpu, machineTicks, threadCpu, threadCpus, threadTicks } from "./run_contention.ts";
import { copyCostLines, type CopySecond, copySeconds, recordThread } from "./copy_split.ts";

/** What `ss -tmi` said of one socket half-way through a run (the fields present). */
export type SsView = Record<string, string | number>;

/**
 * uperf's one-second interval rates (Gbit/s) from its stdout ({@link flatEvents}: a V8 trace
 * line cut into one does not lose it).
 */
export function intervalRates(stdout: string): number[] {
  return flatEvents(stdout, "interval").map((o) => o.gbps as number);
}

/** One run of one configuration. */
export interface TxRun {
  /** `kernel`, `ustack` (or a variant's name), `base1`, … */
  config: string;
  /** Round number, from 0. */
  round: number;
  /** Goodput: bytes the sink read over the sender's time. */
  gbps: number;
  /** The kernel receiver's socket, half-way. */
  receiver: SsView;
  /** The kernel sender's socket, half-way (kernel→kernel only). */
  sender?: SsView;
  /** uperf's JSON summary (stack runs). */
  uperf?: Record<string, unknown>;
  /** The receiving `uperf server`'s JSON summary (`--pair uu` stack runs). */
  server?: Record<string, unknown>;
  /**
   * Goodput after the sender's first second (stack runs: from uperf's interval lines, as
   * `bench:e2e` leaves a fresh sender's first second out).
   */
  gbpsAfterFirst?: number;
  /**
   * CPU of the sender's threads (% of one CPU, by thread name: `deno` is the stack's thread,
   * `worker-1` its TX kicker, `python3` the kernel sender) and of the sink, over the middle
   * half of the run.
   */
  cpu?: Record<string, number>;
  /**
   * The whole machine over the same middle half, % of one CPU summed over CPUs, by
   * `/proc/stat` column: `user`, `nice` (niced processes: other sessions' test runs), `system`,
   * `irq`, `softirq`, `idle` (with iowait), `steal` (time the host ran something else).
   */
  machine?: Record<string, number>;
  /**
   * CPU placement over the same middle half, sampled every {@link PLACEMENT_MS} ms: for each
   * pair of busy threads (sender threads by name, `sink` for the sink), the share of samples
   * in which both were last on the same CPU.
   */
  placement?: Record<string, number>;
  /**
   * With `--perf-copies`: the stack thread's profile split by second into the send path's two
   * copies (`bench/copy_split.ts`), counted from the process's first sample (its start: up to a
   * second before uperf's first interval).
   */
  copies?: CopySecond[];
}

/** How often {@link TxRun.placement} is sampled. */
const PLACEMENT_MS = 20;

const NUMERIC = [
  "cwnd",
  "unacked",
  "snd_wnd",
  "rcv_space",
  "rcv_ssthresh",
  "rcv_wnd",
  "mss",
  "rcvmss",
  "advmss",
];

/** Pull the fields worth comparing out of one socket's `ss -tmi` text. */
export function parseSs(out: string): SsView {
  const t = out.replace(/\s+/g, " ");
  const v: SsView = {};
  for (const k of NUMERIC) {
    const m = new RegExp(`\\b${k}:(\\d+)`).exec(t);
    if (m !== null) v[k] = Number(m[1]);
  }
  for (const k of ["rtt", "rcv_rtt", "minrtt", "rwnd_limited", "busy"]) {
    const m = new RegExp(`\\b${k}:(\\S+)`).exec(t);
    if (m !== null) v[k] = m[1];
  }
  const sk = /skmem:\(([^)]*)\)/.exec(t);
  if (sk !== null) {
    for (const part of sk[1].split(",")) {
      const m = /^([a-z]+)(\d+)$/.exec(part);
      if (m !== null && (m[1] === "r" || m[1] === "rb" || m[1] === "d")) {
        v[`skmem_${m[1]}`] = Number(m[2]);
      }
    }
  }
  return v;
}

/** Options of {@link runTxAb}. */
export interface TxAbOptions {
  /** Link MTU. */
  mtu: number;
  /** Rounds (each runs every configuration once). */
  rounds: number;
  /** Seconds each sender sends. */
  seconds: number;
  /** Other checkouts' `cli/ustack.ts`, run after this checkout's in every round. */
  baseClis: string[];
  /** This checkout's configurations: name and extra `uperf` flags; default one plain `ustack`. */
  variants?: [string, string[]][];
  /** Leave kernel→kernel out. */
  noKernel: boolean;
  /**
   * What the stack configurations send into: `uk` (default) the Python sink on the peer's
   * kernel, `uu` a `uperf server` of the same checkout on the peer end (ustack↔ustack).
   */
  pair?: "uk" | "uu";
  /** Extra `deno run` flags for this checkout's runs (e.g. `--v8-flags=--prof,…` to profile). */
  denoFlags?: string[];
  /**
   * Profile the stack thread of this checkout's runs with `perf record -g` into this directory
   * and split it by second into the two copies ({@link TxRun.copies}); adds V8's perf map.
   */
  perfCopies?: string;
  /** Connections each stack run writes on at once (`uperf client -P`); default 1. */
  streams?: number;
}

/** Most connections `--streams` takes. */
export const MAX_STREAMS = 64;

/**
 * `--streams`' value: a whole number of connections from 1 to {@link MAX_STREAMS}; 1 when not
 * given. Throws on anything else.
 *
 * @example
 * ```ts
 * streamsOption("16"); // 16
 * streamsOption(undefined); // 1
 * ```
 */
export function streamsOption(v: string | undefined): number {
  if (v === undefined) return 1;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n < 1 || n > MAX_STREAMS) {
    throw new Error(`--streams ${v}: say a whole number of connections, 1 to ${MAX_STREAMS}`);
  }
  return n;
}

/**
 * The `uperf client` flags of {@link TxAbOptions.streams} connections: none for one (the
 * client's default, so other checkouts' command lines stay as they were), else `-P N`.
 *
 * @example
 * ```ts
 * streamFlags(4); // ["-P", "4"]
 * streamFlags(1); // []
 * ```
 */
export function streamFlags(streams: number): string[] {
  return streams > 1 ? ["-P", String(streams)] : [];
}

/** Run the rounds; returns every run. */
export async function runTxAb(o: TxAbOptions): Promise<TxRun[]> {
  const link = await BenchLink.create(o.mtu);
  const runs: TxRun[] = [];
  let port = 6600;
  const ss = async (side: "stack" | "peer", filter: string): Promise<SsView> => {
    const r = await new Deno.Command("ip", {
      args: ["netns", "exec", link.ns(side), "ss", "-tmi", ...filter.split(" ")],
      stdout: "piped",
      stderr: "null",
    }).output();
    return parseSs(new TextDecoder().decode(r.stdout));
  };
  /**
   * Start the sink on the peer (the Python sink, or with `server` a stack's `uperf server`
   * from that CLI with those flags), run `send`, sample half-way; the sink's byte count.
   */
  const withSink = async <T>(
    p: number,
    cmd: string[],
    parse: (f: Finished) => T,
    sampleSender: boolean,
    perfFile?: string,
    server?: { cli: string; flags: string[] },
    streams = 1,
  ): Promise<
    {
      got: number;
      result: T;
      sinkSummary?: Record<string, unknown>;
      receiver: SsView;
      sender?: SsView;
      cpu: Record<string, number>;
      machine: Record<string, number>;
      placement: Record<string, number>;
      copies?: CopySecond[];
    }
  > => {
    const sink = link.start(
      "peer",
      server === undefined
        ? ["python3", "-c", PY_TCP_SINK, String(p), String(streams)]
        : ustackCommand(
          [
            ...["uperf", "server", "-p", String(p), "-t", String(o.seconds + 30)],
            ...link.stackOptions("peer", "af_packet"),
            ...server.flags,
            "--json",
          ],
          server.cli,
        ),
    );
    try {
      await sink.waitForLine(server === undefined ? /^ready/ : /"event":"ready"/);
      const proc = link.start("stack", cmd);
      const perf = perfFile === undefined
        ? Promise.resolve(false)
        : recordThread(proc.pid, o.seconds + 1, perfFile);
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      const sample = (async () => {
        await sleep(o.seconds * 250);
        const t0 = performance.now();
        const s0 = await threadTicks(proc.pid);
        const k0 = await threadTicks(sink.pid);
        const m0 = await machineTicks();
        const together = new Map<string, number>();
        let samples = 0;
        const busy = ["deno", "worker-1", "python3", "sink python3", "sink deno"];
        const timer = setInterval(async () => {
          const cpus = new Map([
            ...await threadCpus(proc.pid),
            ...await threadCpus(sink.pid, "sink "),
          ]);
          samples++;
          const names = busy.filter((n) => cpus.has(n));
          for (let i = 0; i < names.length; i++) {
            for (let j = i + 1; j < names.length; j++) {
              const k = `${names[i]}=${names[j]}`;
              const same = cpus.get(names[i]) === cpus.get(names[j]) ? 1 : 0;
              together.set(k, (together.get(k) ?? 0) + same);
            }
          }
        }, PLACEMENT_MS);
        await sleep(o.seconds * 250);
        const receiver = server === undefined ? await ss("peer", `sport = :${p}`) : {};
        const sender = sampleSender ? await ss("stack", `dport = :${p}`) : undefined;
        await sleep(o.seconds * 250);
        const sec = (performance.now() - t0) / 1000;
        const cpu = {
          ...threadCpu(s0, await threadTicks(proc.pid), sec),
          ...threadCpu(k0, await threadTicks(sink.pid), sec, "sink "),
        };
        const machine = machineCpu(m0, await machineTicks(), sec);
        clearInterval(timer);
        const placement: Record<string, number> = {};
        for (const [k, v] of together) placement[k] = Math.round(v / samples * 100) / 100;
        return { receiver, sender, cpu, machine, placement };
      })();
      const result = parse(await proc.finish(o.seconds * 1000 + 40_000));
      const f = await sink.finish(30_000);
      mustSucceed(server === undefined ? "python sink" : "uperf server", f);
      const copies = (await perf) ? await copySeconds(perfFile!) : undefined;
      const sunk = server === undefined ? lastJson(f.stdout) : lastJson(f.stdout, "summary");
      return {
        got: sunk.bytes,
        result,
        sinkSummary: server === undefined ? undefined : sunk,
        ...await sample,
        copies,
      };
    } finally {
      await sink.stop();
    }
  };
  const clis: [string, string, string[]][] = (o.variants ?? [["ustack", []]]).map((
    [name, flags],
  ) => [name, USTACK_CLI, flags]);
  o.baseClis.forEach((c, i) => clis.push([`base${i + 1}`, c, []]));
  const uu = o.pair === "uu";
  try {
    for (let round = 0; round < o.rounds; round++) {
      if (!o.noKernel) {
        await link.setKernelAddress("stack", true);
        if (uu) await link.setKernelAddress("peer", true);
        const p = port++;
        const r = await withSink(
          p,
          ["python3", "-c", PY_TCP_SENDER, link.addr("peer"), String(p), String(o.seconds)],
          (f) => {
            mustSucceed("python sender", f);
            return lastJson(f.stdout);
          },
          true,
        );
        runs.push({
          config: "kernel",
          round,
          gbps: (r.got * 8) / r.result.seconds / 1e9,
          receiver: r.receiver,
          sender: r.sender,
          cpu: r.cpu,
          machine: r.machine,
          placement: r.placement,
        });
        await link.setKernelAddress("stack", false);
      }
      if (uu) await link.setKernelAddress("peer", false);
      // The stack configurations' order rotates round by round: none always runs first.
      for (let k = 0; k < clis.length; k++) {
        const [config, cli, flags] = clis[(k + round) % clis.length];
        const p = port++;
        const r = await withSink(
          p,
          ustackCommand(
            [
              "uperf",
              "client",
              link.addr("peer"),
              "-p",
              String(p),
              "-t",
              String(o.seconds),
              ...link.stackOptions("stack", "af_packet"),
              ...streamFlags(o.streams ?? 1),
              ...flags,
              "--json",
            ],
            cli,
            cli === USTACK_CLI
              ? [
                ...o.denoFlags ?? [],
                ...(o.perfCopies !== undefined ? ["--v8-flags=--perf-basic-prof"] : []),
              ]
              : [],
          ),
          (f) => {
            mustSucceed(`uperf client (${config})`, f);
            // Keep the one-second interval rates too: a run slow throughout, or one slow second.
            const intervals = intervalRates(f.stdout);
            const summary = lastJson(f.stdout, "summary");
            summary.intervals = intervals;
            const s = summary as { bytes: number; seconds: number };
            summary.afterFirst = uperfSplit(s, f.stdout, 1).gbps ?? undefined;
            return summary;
          },
          false,
          o.perfCopies !== undefined && cli === USTACK_CLI
            ? `${o.perfCopies}/r${round}-${config}.data`
            : undefined,
          uu ? { cli, flags } : undefined,
          o.streams ?? 1,
        );
        if (r.got !== r.result.bytes) {
          throw new Error(`${config}: the sink got ${r.got} bytes, uperf says ${r.result.bytes}`);
        }
        runs.push({
          config,
          round,
          gbps: (r.got * 8) / r.result.seconds / 1e9,
          receiver: r.receiver,
          uperf: r.result,
          server: r.sinkSummary,
          gbpsAfterFirst: r.result.afterFirst as number | undefined,
          cpu: r.cpu,
          machine: r.machine,
          placement: r.placement,
          copies: r.copies,
        });
        if (r.copies !== undefined) {
          console.error(`round ${round} ${config}, the two copies by second:`);
          for (const l of copyCostLines(r.copies, r.result.intervals as number[], 999)) {
            console.error(`  ${l}`);
          }
        }
      }
      const last = runs.filter((r) => r.round === round);
      console.error(
        `round ${round}: ` +
          last.map((r) =>
            `${r.config} ${r.gbps.toFixed(2)} (cpu ${JSON.stringify(r.cpu)}, machine ${
              JSON.stringify(r.machine)
            }, same CPU ${JSON.stringify(r.placement)})`
          ).join(
            ", ",
          ),
      );
    }
  } finally {
    await link.destroy();
  }
  return runs;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      ...AB_OPTIONS,
      rounds: { type: "string", default: "3" },
      "deno-flags": { type: "string" },
      "perf-copies": { type: "string" },
      pair: { type: "string", default: "uk" },
      streams: { type: "string" },
    },
  });
  if (values.help) {
    console.log(`usage: deno run --allow-all bench/tx_ab.ts [options]
${abUsage(3, "uperf", "sync=--tx-kick sync")}
  --deno-flags=F    extra deno run flags (blank-separated) for this checkout's stack runs, e.g.
                    "--deno-flags=--v8-flags=--prof,--logfile=/tmp/tx.log,--no-logfile-per-isolate"
  --perf-copies=DIR perf-record this checkout's stack threads into DIR and print, second by
                    second, ms per GB of the TX copy and of the application copy
  --pair uk|uu      the stack runs send into the peer's kernel (uk, a Python sink) or into a
                    uperf server of the same checkout on the peer end (uu: ustack↔ustack)
  --streams N       every stack run writes on N connections at once (uperf client -P N), the
                    sink reads them all; the rate is their sum (1; up to ${MAX_STREAMS}).
                    kernel→kernel stays one connection`);
    Deno.exit(0);
  }
  if (values.pair !== "uk" && values.pair !== "uu") {
    console.error(`tx_ab: --pair ${values.pair}: say uk or uu`);
    Deno.exit(2);
  }
  let streams = 1;
  try {
    streams = streamsOption(values.streams);
  } catch (e) {
    console.error(`tx_ab: ${(e as Error).message}`);
    Deno.exit(2);
  }
  const missing = missingRequirements(["python3", "ss"]);
  if (missing.length > 0) {
    console.error(`tx_ab: missing ${missing.join(", ")}`);
    Deno.exit(2);
  }
  const runs = await runTxAb({
    mtu: Number(values.mtu),
    rounds: Number(values.rounds),
    seconds: Number(values.seconds),
    baseClis: values["base-cli"] ?? [],
    variants: values.variant?.map((v) => parseVariant(v)),
    noKernel: values["no-kernel"],
    denoFlags: values["deno-flags"]?.split(/\s+/).filter((f) => f !== ""),
    perfCopies: values["perf-copies"],
    pair: values.pair,
    streams,
  });
  for (const c of [...new Set(runs.map((r) => r.config))]) {
    console.log(abSummary(runs, c));
    const mine = runs.filter((r) => r.config === c);
    // The sender's own threads (the sink's are prefixed "sink "), median % of one CPU each.
    const names = [...new Set(mine.flatMap((r) => Object.keys(r.cpu ?? {})))].sort();
    console.log(
      `  cpu (median % of one CPU): ` +
        names.map((n) => `${n} ${median(mine.map((r) => r.cpu?.[n] ?? 0))}`).join(", "),
    );
    // CPU-seconds of the sender's main thread (the stack's `deno`, or `python3`) per GB sent.
    const main = c === "kernel" ? "python3" : "deno";
    const perGb = mine.filter((r) => r.cpu?.[main] !== undefined && r.gbps > 0)
      .map((r) => (r.cpu![main] / 100) / (r.gbps / 8));
    if (perGb.length > 0) {
      console.log(
        `  ${main} thread CPU-s per GB: median ${median(perGb).toFixed(3)} (` +
          perGb.map((x) => x.toFixed(3)).join(" ") + ")",
      );
    }
    // The receiving stack's thread (`--pair uu`), the same way.
    const sinkGb = mine.filter((r) => r.cpu?.["sink deno"] !== undefined && r.gbps > 0)
      .map((r) => (r.cpu!["sink deno"] / 100) / (r.gbps / 8));
    if (sinkGb.length > 0) {
      console.log(
        `  receiver (sink deno) thread CPU-s per GB: median ${median(sinkGb).toFixed(3)} (` +
          sinkGb.map((x) => x.toFixed(3)).join(" ") + ")",
      );
    }
    const after = mine.flatMap((r) => r.gbpsAfterFirst === undefined ? [] : [r.gbpsAfterFirst]);
    if (after.length > 0) {
      console.log(
        `  after the first second: median ${median(after).toFixed(2)} Gbit/s (` +
          after.map((x) => x.toFixed(2)).join(" ") + ")",
      );
    }
  }
  // This checkout's first configuration against every other, round by round.
  const first = runs.find((r) => r.config !== "kernel")?.config;
  for (const c of [...new Set(runs.map((r) => r.config))]) {
    if (c === "kernel" || c === first) continue;
    const per = runs.filter((r) => r.config === first).map((r) => {
      const b = runs.find((x) => x.config === c && x.round === r.round);
      return b === undefined ? NaN : r.gbps / b.gbps;
    });
    console.log(
      `${first} ÷ ${c} per round: median ${median(per).toFixed(2)} (` +
        per.map((x) => x.toFixed(2)).join(" ") + ")",
    );
  }
  if (values.out !== undefined) await writeAbRecord(values.out, Number(values.mtu), runs);
}
