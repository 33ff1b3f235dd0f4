/**
 * `deno run --allow-all bench/gc_idle.ts [--mtu N] [--idle S] [--rounds N] [--only http|rr]
 * [--base-cli [NAME=]PATH] [--variant NAME=V8FLAGS] [--requests N] [--out FILE]`: what a quiet
 * spell costs a long-lived stack server — a burst of clients, S seconds (45) of nothing, the same
 * burst again — and which garbage collections V8 ran in each part. Two servers on the stack end of
 * one veth pair, each in its own run: `ustack serve --http` under `ab` (`--requests N`, 2,000, a
 * connection each, 32 at a time, from the kernel peer), and `ustack pingpong server` under the
 * kernel's `pingpong client --kernel` (64-B request/response, 2 s, 100 warm-up transactions). Each
 * burst's figures (`ab`'s requests/s and its 50/90/99/100 % request times in whole ms; the client's
 * p50, p99 and max in µs) are given for the first and the second burst, the server's resident set
 * before and after the idle spell, and its collections (V8's `--trace-gc-nvp`, which this passes to
 * the server, plus `--trace-opt,--trace-deopt`) by part: the warm-up (to the ready line), ready to
 * the first burst, the first burst, the idle spell, the second burst. A part's bounds are taken
 * from this process's clock since the server was spawned, so a collection within ~50 ms of a bound
 * may be counted in the part beside it. With `--base-cli [NAME=]PATH` (repeatable; NAME "base" when
 * not given) each round runs that checkout's CLI too, in turn with this one's (same round, order
 * alternating); each `--variant NAME=V8FLAGS` (comma-separated, e.g. `nomr=--no-memory-reducer`)
 * runs this checkout's server with those V8 flags too, in the same rotation.
 *
 * Needs root, `ip`, `ab`. The namespaces are deleted at the end and on errors.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { BenchLink, USTACK_CLI, ustackCommand } from "./netns.ts";
import { parseGcLine } from "./gc_nvp.ts";
import { lastJson } from "./proc_output.ts";
import { gcAfterReady } from "./gc_after_ready.ts";

/** The parts of a run, in order. */
export const PARTS = ["warmUp", "ready", "burst1", "idle", "burst2"] as const;

/** Collections of one part: scavenges, full GCs and their reasons, their longest pause. */
export interface PartGcs {
  /** Scavenges. */
  scavenges: number;
  /** Full collections, each `reason (collector reason)` with ", reduce" when memory-reducing. */
  full: string[];
  /** The longest full pause, ms (0: none). */
  fullMaxPauseMs: number;
}

/**
 * The collections in `stdout` (V8's `--trace-gc-nvp` lines) sorted into parts by their
 * time `ms` against `bounds` (the ms at which the ready line came and burst1, idle and burst2
 * began).
 *
 * @example
 * ```ts
 * const line = (ms: number, gc: string) => `[1:0x1:0] ${ms} ms: GC: {"gc":"${gc}","pause":1}`;
 * splitGcs([line(5, "s"), line(50, "mc")].join("\n"), [1, 10, 40, 60]).idle.full.length; // 1
 * ```
 */
export function splitGcs(stdout: string, bounds: number[]): Record<typeof PARTS[number], PartGcs> {
  const out = {} as Record<typeof PARTS[number], PartGcs>;
  for (const p of PARTS) out[p] = { scavenges: 0, full: [], fullMaxPauseMs: 0 };
  for (const line of stdout.split("\n")) {
    const g = parseGcLine(line);
    if (g === null) continue;
    const { ms, rec } = g;
    let k = 0;
    while (k < bounds.length && ms >= bounds[k]) k++;
    const part = out[PARTS[k]];
    if (rec.gc === "s") {
      part.scavenges++;
      continue;
    }
    part.full.push(
      `${rec.reason} (${rec.collector_reason})${
        String(rec.reduce_memory) === "true" ? ", reduce" : ""
      }`,
    );
    part.fullMaxPauseMs = Math.max(part.fullMaxPauseMs, Number(rec.pause));
  }
  return out;
}

/**
 * `ab`'s figures from its output: requests/s, failed requests, and the percentiles of a
 * request's total time (ms, whole: `ab`'s own rounding) — 50 %, 90 %, 99 % and the longest.
 *
 * @example
 * ```ts
 * abFigures("Requests per second:    100.5 [#/sec] (mean)\n  99%     12\n").p99Ms; // 12
 * ```
 */
export function abFigures(stdout: string): Record<string, number | null> {
  const num = (re: RegExp) => {
    const m = re.exec(stdout);
    return m === null ? null : Number(m[1]);
  };
  return {
    rps: num(/Requests per second:\s+([0-9.]+)/),
    failed: num(/Failed requests:\s+(\d+)/),
    p50Ms: num(/^\s+50%\s+(\d+)/m),
    p90Ms: num(/^\s+90%\s+(\d+)/m),
    p99Ms: num(/^\s+99%\s+(\d+)/m),
    maxMs: num(/^\s+100%\s+(\d+)/m),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A process's resident set (`VmRSS`, KiB), or null when it cannot be read. */
async function rss(pid: number): Promise<number | null> {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(await Deno.readTextFile(`/proc/${pid}/status`));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}
const TRACE = "--v8-flags=--trace-gc-nvp,--trace-opt,--trace-deopt";

/** One run of one server under one build: the bursts' figures and the server's collections. */
async function runOne(
  link: BenchLink,
  what: "http" | "rr",
  cli: string,
  idleS: number,
  port: number,
  v8Flags: string,
  extraArgs: string[] = [],
  requests = 2000,
): Promise<Record<string, unknown>> {
  const stackOpts = link.stackOptions("stack", "af_packet");
  const args = what === "http"
    ? ["serve", "--http", String(port), ...stackOpts, "--json", ...extraArgs]
    : ["pingpong", "server", "-p", String(port), "-l", "64", ...stackOpts, "--json", ...extraArgs];
  const t0 = performance.now();
  const srv = link.start("stack", ustackCommand(args, cli, [TRACE + v8Flags]));
  const bounds: number[] = [];
  const figures: Record<string, unknown>[] = [];
  const rssKiB: (number | null)[] = [];
  try {
    await srv.waitForLine(/"event":"ready"/, 60_000);
    bounds.push(performance.now() - t0);
    const burst = async () => {
      bounds.push(performance.now() - t0);
      if (what === "http") {
        const url = `http://${link.addr("stack")}:${port}/bytes/64`;
        const r = await link.run(
          "peer",
          ["ab", "-r", "-q", "-s", "10", "-n", String(requests), "-c", "32", url],
          120_000,
        );
        figures.push(abFigures(r.stdout));
      } else {
        const r = await link.run(
          "peer",
          ustackCommand([
            "pingpong",
            "client",
            link.addr("stack"),
            "-p",
            String(port),
            "-l",
            "64",
            "-t",
            "2",
            "-w",
            "100",
            "--kernel",
            "--json",
          ]),
          60_000,
        );
        const j = lastJson(r.stdout, "summary");
        figures.push({ p50Us: j.p50Us, p99Us: j.p99Us, p999Us: j.p999Us, maxUs: j.maxUs });
      }
    };
    await burst();
    bounds.push(performance.now() - t0);
    rssKiB.push(await rss(srv.pid));
    await sleep(idleS * 1000);
    rssKiB.push(await rss(srv.pid));
    await burst();
  } catch (e) {
    await srv.stop(10_000);
    throw e;
  }
  const f = await srv.stop(10_000);
  const r = gcAfterReady(f.stdout);
  return {
    what,
    cli,
    figures,
    boundsMs: bounds.map(Math.round),
    rssKiB,
    parts: splitGcs(f.stdout, bounds),
    weakCleared: r.weakCleared,
    fullGcs: r.fullGcs,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      mtu: { type: "string" },
      idle: { type: "string" },
      rounds: { type: "string" },
      only: { type: "string" },
      "base-cli": { type: "string", multiple: true },
      variant: { type: "string", multiple: true },
      v8: { type: "string" },
      requests: { type: "string" },
      out: { type: "string" },
    },
  });
  const idle = Number(values.idle ?? 45);
  const rounds = Number(values.rounds ?? 1);
  const requests = Number(values.requests ?? 2000);
  const whats = values.only === undefined
    ? ["http", "rr"] as const
    : [values.only as "http" | "rr"];
  const clis: [string, string, string, string[]][] = [["branch", USTACK_CLI, "", []]];
  for (const b of values["base-cli"] ?? []) {
    // `NAME=PATH`, or a path (named "base").
    const eq = b.indexOf("=");
    clis.push(
      eq > 0 && !b.slice(0, eq).includes("/") ? [b.slice(0, eq), b.slice(eq + 1), "", []] : [
        "base",
        b,
        "",
        [],
      ],
    );
  }
  for (const v of values.variant ?? []) {
    const eq = v.indexOf("=");
    const bar = v.indexOf("|", eq);
    const flags = bar < 0 ? v.slice(eq + 1) : v.slice(eq + 1, bar);
    const extra = bar < 0 ? [] : v.slice(bar + 1).split(" ").filter((a) => a !== "");
    clis.push([v.slice(0, eq), USTACK_CLI, flags === "" ? "" : "," + flags, extra]);
  }
  const link = await BenchLink.create(Number(values.mtu ?? 1500));
  const runs: Record<string, unknown>[] = [];
  let port = 17000;
  try {
    await link.setKernelAddress("stack", false);
    await link.setKernelAddress("peer", true);
    for (let round = 0; round < rounds; round++) {
      for (const what of whats) {
        const order = round % 2 === 0 ? clis : [...clis].reverse();
        for (const [name, cli, v8, extra] of order) {
          const all = values.v8 === undefined ? v8 : `,${values.v8}${v8}`;
          const r = await runOne(link, what, cli, idle, port++, all, extra, requests);
          runs.push({ round, build: name, ...r });
          const parts = r.parts as Record<string, PartGcs>;
          console.log(
            `round ${round} ${what} ${name}: ${JSON.stringify(r.figures)} RSS KiB before and ` +
              `after the idle spell ${JSON.stringify(r.rssKiB)}\n  ` +
              PARTS.map((p) =>
                `${p}: ${parts[p].scavenges} s, ${parts[p].full.length} full` +
                (parts[p].full.length > 0 ? ` [${parts[p].full.join("; ")}]` : "")
              ).join(" | ") + `\n  weak cleared after ready ${r.weakCleared}`,
          );
        }
      }
    }
  } finally {
    await link.destroy();
  }
  if (values.out !== undefined) {
    await Deno.writeTextFile(values.out, JSON.stringify({ idle, rounds, runs }, null, 1) + "\n");
  }
}
