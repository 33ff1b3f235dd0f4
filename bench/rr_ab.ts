/**
 * `deno run --allow-all bench/rr_ab.ts`: 64-byte request/response latency, A/B, on one veth
 * pair. Every round runs `pingpong` kernel↔kernel, then for each variant ustack→kernel and
 * ustack↔ustack, interleaved, so a machine whose load changes (two vCPUs shared with other
 * work) weighs on every configuration alike; ratios are taken to the same round's kernel↔kernel.
 *
 * ```
 * deno run --allow-all bench/rr_ab.ts [--mtu 9000]... [--rounds 5] [--seconds 3]
 *                                     [--variant "NAME=FLAGS"]... [--base "NAME=PATH[ FLAGS]"]...
 *                                     [--pairs uk,uu] [--hog N] [--out FILE]
 * ```
 *
 * `--mtu` may be given more than once: every round then runs every MTU in turn, each on a link
 * of its own made at the start (a configuration's name gets `@MTU`), so two MTUs compare in the
 * same slot of a shared machine. `--pairs uk` runs only ustack→kernel (`uu` only ustack↔ustack).
 *
 * `--variant NAME=FLAGS` adds FLAGS (split at blanks, e.g. `--busy-poll 20`; words like
 * `VAR=VALUE` set environment variables) to both stacks of its runs; a word prefixed `c:` goes
 * to the client's stack only, `s:` to the server's (e.g. `c:--cpu c:0 s:--cpu s:1` pins the two
 * stacks apart; the kernel's server of ustack→kernel gets none); without any, one plain `ustack` variant runs. `--base NAME=PATH` runs another
 * checkout's `cli/ustack.ts` too (before/after in one run). Prints a line per round, then per
 * configuration the medians of p50/p99/p99.9 and of their same-round ratios to kernel↔kernel,
 * and of the client's and server's CPU µs per round trip (`rt_cpu_us` of their summaries).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { missingRequirements } from "../tests/harness/interop.ts";
import { lastJson, mustSucceed } from "./e2e.ts";
import { BenchLink, type BenchProcess, parseVariant, USTACK_CLI } from "./netns.ts";
import { startHogs, stopHogs } from "./udp_ab.ts";

/** One request/response run. */
export interface RrRun {
  /**
   * `kernel`, or `VARIANT:uk` (ustack→kernel) / `VARIANT:uu` (ustack↔ustack); with more than
   * one MTU each followed by `@MTU`.
   */
  config: string;
  /** Link MTU of the run. */
  mtu: number;
  /** Round number. */
  round: number;
  /** Client latency percentiles (µs) and transactions/s. */
  p50Us: number;
  p99Us: number;
  p999Us: number;
  tps: number;
  /** The client's summary (with its event loop's figures over ustack). */
  client: Record<string, unknown>;
  /** The server's summary. */
  server: Record<string, unknown>;
}

/** Options of {@link runRrAb}. */
export interface RrAbOptions {
  /** Link MTUs: every round runs each, in this order. */
  mtus: number[];
  /** Pairs of each variant: `uk` (ustack→kernel), `uu` (ustack↔ustack) [both]. */
  pairs?: ("uk" | "uu")[];
  /** Rounds. */
  rounds: number;
  /** Seconds of each measurement. */
  seconds: number;
  /** Name, `cli/ustack.ts` path and extra stack flags of each variant. */
  variants: [string, string, string[]][];
  /** Busy-looping processes (CPU hogs) running through every round [0]. */
  hog?: number;
}

/** The command running `cli` (a checkout's `cli/ustack.ts`) with `args`. */
function cliCommand(cli: string, args: string[]): string[] {
  // NAME=VALUE words are environment variables of the process.
  const env = args.filter((a) => /^[A-Z_][A-Z0-9_]*=/.test(a));
  const rest = args.filter((a) => !env.includes(a));
  return [
    ...(env.length > 0 ? ["env", ...env] : []),
    Deno.execPath(),
    "run",
    "--allow-all",
    cli,
    ...rest,
  ];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Run the rounds on a fresh link (deleted at the end); returns every run. */
export async function runRrAb(o: RrAbOptions): Promise<RrRun[]> {
  const links: BenchLink[] = [];
  const runs: RrRun[] = [];
  let port = 6500;
  const pairs = o.pairs ?? ["uk", "uu"];
  const one = async (
    link: BenchLink,
    config: string,
    round: number,
    cli: string,
    server: string[],
    client: string[],
  ): Promise<void> => {
    const p = port++;
    const peer = link.addr("peer");
    const srv: BenchProcess = link.start(
      "peer",
      cliCommand(cli, [
        "pingpong",
        "server",
        "--once",
        "-p",
        String(p),
        "-l",
        "64",
        ...server,
        "--json",
      ]),
    );
    try {
      await srv.waitForLine(/"event":"ready"/);
      const args = ["pingpong", "client", peer, "-p", String(p), "-l", "64", "-w", "100"];
      const f = await link.run(
        "stack",
        cliCommand(cli, [...args, "-t", String(o.seconds), ...client, "--json"]),
        o.seconds * 1000 + 20_000,
      );
      mustSucceed(`pingpong client (${config})`, f);
      const j = lastJson(f.stdout, "summary");
      const s = lastJson((await srv.stop()).stdout, "summary");
      runs.push({
        config: o.mtus.length > 1 ? `${config}@${link.mtu}` : config,
        mtu: link.mtu,
        round,
        p50Us: j.p50Us,
        p99Us: j.p99Us,
        p999Us: j.p999Us,
        tps: j.tps,
        client: j,
        server: s,
      });
    } finally {
      await srv.stop();
    }
  };
  try {
    for (const mtu of o.mtus) links.push(await BenchLink.create(mtu));
    for (let round = 0; round < o.rounds; round++) {
      const hogs = startHogs(o.hog ?? 0);
      try {
        for (const link of links) await oneRound(link, round);
      } finally {
        await stopHogs(hogs);
      }
    }
  } finally {
    for (const link of links) await link.destroy();
  }
  return runs;

  async function oneRound(link: BenchLink, round: number): Promise<void> {
    await link.setKernelAddress("stack", true);
    await link.setKernelAddress("peer", true);
    await one(link, "kernel", round, USTACK_CLI, ["--kernel"], ["--kernel"]);
    await link.setKernelAddress("stack", false);
    for (const [name, cli, flags] of o.variants) {
      const mine = [...link.stackOptions("stack", "af_packet"), ...sideFlags(flags, "c")];
      if (pairs.includes("uk")) {
        await link.setKernelAddress("peer", true);
        await one(link, `${name}:uk`, round, cli, ["--kernel"], mine);
      }
      if (pairs.includes("uu")) {
        await link.setKernelAddress("peer", false);
        const theirs = [...link.stackOptions("peer", "af_packet"), ...sideFlags(flags, "s")];
        await one(link, `${name}:uu`, round, cli, theirs, mine);
      }
    }
    console.error(
      `round ${round} MTU ${link.mtu}: ` +
        runs.filter((r) => r.round === round && r.mtu === link.mtu).map((r) =>
          `${r.config} p50 ${r.p50Us} p99 ${r.p99Us}`
        ).join(", "),
    );
  }
}

/** The words of a variant's `flags` for one side: unprefixed ones and those prefixed `side:`. */
export function sideFlags(flags: string[], side: "c" | "s"): string[] {
  const other = side === "c" ? "s:" : "c:";
  return flags.filter((w) => !w.startsWith(other)).map((w) =>
    w.startsWith(`${side}:`) ? w.slice(2) : w
  );
}

/** `NAME=FLAGS` of `--variant` (this checkout) or `--base NAME=PATH[ FLAGS]`. */
function configOf(v: string, base: boolean): [string, string, string[]] {
  const [name, words] = parseVariant(v, base ? "--base" : "--variant");
  if (!base) return [name, USTACK_CLI, words];
  if (words.length === 0) throw new Error(`--base ${v}: no PATH`);
  return [name, words[0], words.slice(1)];
}

/**
 * Medians of the CPU µs per round trip of the client and the server (` cpu/rt c X s Y`), where
 * their summaries have `rt_cpu_us` (checkouts older than 2026-12-04 do not: "").
 */
function cpuPerRoundTrip(runs: RrRun[]): string {
  const of = (side: "client" | "server"): string => {
    const xs = runs.map((r) => r[side].rt_cpu_us).filter((x) => typeof x === "number");
    return xs.length === 0 ? "-" : median(xs as number[]).toFixed(1);
  };
  const c = of("client");
  const s = of("server");
  return c === "-" && s === "-" ? "" : `  cpu/rt µs c ${c} s ${s}`;
}

/** Per configuration: medians of the figures and of the same-round ratios to kernel↔kernel. */
export function summarize(runs: RrRun[]): string[] {
  // The kernel↔kernel run of the same round and MTU.
  const key = (r: RrRun): string => `${r.round}/${r.mtu}`;
  const kernel = new Map(runs.filter((r) => r.config.startsWith("kernel")).map((r) => [key(r), r]));
  const lines: string[] = [];
  for (const c of [...new Set(runs.map((r) => r.config))]) {
    const mine = runs.filter((r) => r.config === c);
    const ratio = (k: "p50Us" | "p99Us" | "p999Us") => {
      if (c.startsWith("kernel")) return "";
      const rs = mine.map((r) => r[k] / (kernel.get(key(r))?.[k] ?? NaN));
      return ` (${median(rs).toFixed(2)}x)`;
    };
    lines.push(
      `${c.padEnd(14)} p50 ${median(mine.map((r) => r.p50Us)).toFixed(1)}${ratio("p50Us")}` +
        `  p99 ${median(mine.map((r) => r.p99Us)).toFixed(1)}${ratio("p99Us")}` +
        `  p99.9 ${median(mine.map((r) => r.p999Us)).toFixed(1)}${ratio("p999Us")}` +
        `  tps ${median(mine.map((r) => r.tps)).toFixed(0)}` + cpuPerRoundTrip(mine),
    );
  }
  return lines;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      mtu: { type: "string", multiple: true },
      pairs: { type: "string", default: "uk,uu" },
      rounds: { type: "string", default: "5" },
      seconds: { type: "string", default: "3" },
      variant: { type: "string", multiple: true },
      base: { type: "string", multiple: true },
      out: { type: "string" },
      hog: { type: "string", default: "0" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(`usage: deno run --allow-all bench/rr_ab.ts [options]
  --mtu N           link MTU (9000); repeatable: every round runs each MTU in turn
  --pairs LIST      uk (ustack→kernel), uu (ustack↔ustack) or both (uk,uu)
  --rounds N        rounds, every configuration once per round (5)
  --seconds N       seconds of each measurement (3)
  --variant N=FLAGS stack flags of configuration N on both stacks, e.g. "spin=--busy-poll 200"
                    (repeatable; default one plain "ustack")
  --base N=PATH[ FLAGS]  also run another checkout's cli/ustack.ts as configuration N
                    (repeatable), e.g. "main=/work/main/cli/ustack.ts"
  --hog N           N busy-looping processes run through every round (0)
  --out FILE        write every run as JSON`);
    Deno.exit(0);
  }
  const missing = missingRequirements(["ip"]);
  if (missing.length > 0) {
    console.error(`rr_ab: missing ${missing.join(", ")}`);
    Deno.exit(2);
  }
  const pairs = values.pairs.split(",").map((p) => {
    if (p !== "uk" && p !== "uu") throw new Error(`--pairs: ${p}: not uk or uu`);
    return p as "uk" | "uu";
  });
  const o: RrAbOptions = {
    mtus: (values.mtu ?? ["9000"]).map(Number),
    pairs,
    rounds: Number(values.rounds),
    seconds: Number(values.seconds),
    hog: Number(values.hog),
    variants: [
      ...(values.variant?.map((v) => configOf(v, false)) ?? [["ustack", USTACK_CLI, []]]),
      ...(values.base ?? []).map((v) => configOf(v, true)),
    ],
  };
  const runs = await runRrAb(o);
  const lines = summarize(runs);
  console.log(
    `MTU ${
      o.mtus.join(", ")
    }, ${o.rounds} rounds of ${o.seconds} s (medians; x = to kernel↔kernel)`,
  );
  for (const l of lines) console.log(l);
  if (values.out !== undefined) {
    await Deno.writeTextFile(
      values.out,
      JSON.stringify(
        { date: new Date().toISOString(), options: o, summary: lines, runs },
        null,
        2,
      ) +
        "\n",
    );
  }
}
