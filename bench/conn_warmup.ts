/**
 * `bench/conn_warmup.ts`: how a server's connection rate moves over its first connections —
 * the JIT warm-up of the connection paths (handshake, accept, close, TIME_WAIT) against a
 * kernel server that is flat from the start. On one veth pair (MTU 1500 or `--mtu`), in rounds:
 *
 * - **HTTP** (`--blocks B`, `--requests N`): one server process at a time — `Deno.serve` on
 *   the stack end's kernel sockets, then `ustack serve --http` (and each `--variant`) — warmed
 *   with 1 s of keep-alive `wrk` as `bench:http` does, then B consecutive runs of
 *   `ab -n N -c 32 /bytes/64` against that same process, each with its rate and the server's
 *   CPU time per connection;
 * - **`pingpong --connect`** (`--pingpong N`): kernel↔kernel and ustack↔ustack, fresh
 *   processes, N connections of one 64-byte round trip each, 32 in flight, with the CPU time
 *   per connection of each side (the client's over its crowd phase, the server's over the
 *   client's run, from `/proc`; the server's also by thread, `server_us_by_thread`: Deno's
 *   JavaScript thread, V8's worker threads — compilation and garbage collection — and the
 *   others).
 *
 * ```
 * deno run --allow-all bench/conn_warmup.ts [--rounds R] [--blocks B] [--requests N]
 *     [--pingpong N] [--variant NAME=FLAGS]... [--base PATH] [--base-variant NAME=FLAGS]...
 *     [--checkout NAME=PATH]... [--only NAME]... [--skip-http] [--rotate] [--no-wrk]
 *     [--kernel-tw-reuse] [--server-runs K] [--mtu M] [--out FILE]
 * ```
 *
 * `--only NAME` (repeatable) keeps only the named servers and pairs (`kernel`, `ustack`, a
 * variant's name). `--base PATH` adds a server and a pingpong pair running another checkout's
 * `cli/ustack.ts` to every round (same-run A/B against it), and `--base-variant NAME=FLAGS`
 * one running it with FLAGS (a variant of the base: `--variant` and `--base-variant` with
 * the same flags compare the two checkouts with them). `--checkout NAME=PATH` (repeatable) adds
 * a server and a pair named NAME running the `cli/ustack.ts` at PATH (a file) with default
 * flags, so several older commits can run in the same rounds. `--rotate` starts round r with the
 * r-th server (or pair), so the order within a round changes from round to round. `--no-wrk`
 * leaves out the keep-alive warm-up: the first `ab` block meets the server straight after its
 * ready line, as a user's first clients do.
 *
 * `--kernel-tw-reuse` adds a second kernel↔kernel pair, `kernel-twreuse`, whose client
 * namespace runs with `net.ipv4.tcp_tw_reuse=1`: a connect may take over a TIME_WAIT
 * four-tuple whose last timestamp is a second old, the rule the stack's client follows by
 * default (`TWRecycled`); Linux's default (2) allows it on loopback only, so past ~20,000
 * connections from one address the kernel's client searches a port space full of TIME_WAIT.
 *
 * `--server-runs K` runs K `pingpong --connect` clients (fresh processes, one after the other)
 * against each pair's one server process: the pair's record is the first client's, and
 * `later_runs` holds the others' — a server past its first N real connections, so the cost of
 * the real path's compilation shows as the difference (kernel pairs run one client).
 *
 * `--mtu M` sets the veth pair's MTU (1500). A pingpong pair's record holds the time from the
 * server's start to its ready line (`server_ready_ms`) and the client's warm-up
 * (`client_warm_up_ms`, its `warm_up` line; null without one): what a user waits for.
 *
 * `--variant prewarm=--prewarm` adds a `serve --http --prewarm` server (and a
 * `pingpong --prewarm` pair) to every round. Needs root, `ab`, `wrk`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { threadCpuSeconds } from "../cli/uperf_threads.ts";
import { missingRequirements } from "../tests/harness/interop.ts";
import { DENO_SERVE } from "./clients.ts";
import { abRun, type ThreadSched, withCpu } from "./http_bench.ts";
import { lastJson } from "./e2e.ts";
import { BenchLink, type BenchProcess, parseVariant, ustackCommand } from "./netns.ts";

const PORT = 80;
const PP_PORT = 7300;

/** One `ab` block against a server process. */
export interface AbBlock {
  /** Connections per second. */
  connPerS: number | null;
  /** Failed requests. */
  failed: number | null;
  /** Server CPU time per connection (µs), all its threads. */
  serverUsPerConn: number | null;
  /** The server's main thread over the block: ms on a CPU, ms waiting for one. */
  serverMainThread: ThreadSched | null;
}

async function abBlocks(
  link: BenchLink,
  p: BenchProcess,
  blocks: number,
  requests: number,
  keepAliveFirst: boolean,
): Promise<AbBlock[]> {
  const url = `http://${link.addr("stack")}:${PORT}/bytes/64`;
  if (keepAliveFirst) await link.run("peer", ["wrk", "-t1", "-c4", "-d1s", url], 30_000);
  const out: AbBlock[] = [];
  for (let b = 0; b < blocks; b++) {
    const [a, cpu] = await abRun(link, url, requests, p.pid);
    out.push({
      connPerS: a.requestsPerSec,
      failed: a.failed,
      serverUsPerConn: cpu?.serverUsPerRequest ?? null,
      serverMainThread: cpu?.serverMainThread ?? null,
    });
  }
  return out;
}

async function httpServer(
  link: BenchLink,
  flags: string[] | null,
  blocks: number,
  requests: number,
  keepAliveFirst: boolean,
  cli?: string,
): Promise<{ startMs: number; blocks: AbBlock[] }> {
  await link.setKernelAddress("stack", flags === null);
  const cmd = flags === null
    ? [Deno.execPath(), "eval", DENO_SERVE, link.addr("stack"), String(PORT)]
    : ustackCommand([
      "serve",
      ...link.stackOptions("stack", "af_packet"),
      "--http",
      String(PORT),
      ...flags,
    ], cli);
  const t0 = performance.now();
  const p = link.start("stack", cmd);
  await p.waitForLine(/^ready/, 60_000);
  const startMs = Math.round(performance.now() - t0);
  try {
    return { startMs, blocks: await abBlocks(link, p, blocks, requests, keepAliveFirst) };
  } finally {
    await p.stop(10_000);
  }
}

/**
 * CPU time (clock ticks, user + system) of each thread of process `pid`, summed by kind:
 * `main` (Deno's JavaScript thread), `v8` (V8's worker threads: concurrent and parallel
 * compilation and garbage collection) and `other` (Tokio, the TX kicker, …).
 */
export function threadTicks(pid: number): Record<string, number> {
  const by: Record<string, number> = { main: 0, v8: 0, other: 0 };
  for (const [tid, t] of threadCpuSeconds(pid)) {
    const kind = tid === pid ? "main" : t.name.startsWith("V8 ") ? "v8" : "other";
    by[kind] += Math.round(t.seconds * 100);
  }
  return by;
}

/** `main 50 v8 30 other 1` from a pair's `server_us_by_thread`. */
function threadsText(t: unknown): string {
  if (t === null || typeof t !== "object") return "";
  return Object.entries(t as Record<string, number>).map(([k, v]) => `${k} ${v}`).join(" ");
}

/** A `pingpong --connect` pair: kernel sockets (`flags` null) or ustack with `flags`. */
interface PingpongPair {
  flags: string[] | null;
  /**
   * Kernel pair only: the client's namespace runs with `net.ipv4.tcp_tw_reuse=1` (a connect
   * may take over a TIME_WAIT four-tuple whose last timestamp is 1 s old, as the stack's
   * client does by default) instead of the default 2 (loopback only).
   */
  twReuse?: boolean;
  /** The CLI both processes run (another checkout's for `--base`). */
  cli?: string;
}

async function pingpong(
  link: BenchLink,
  pair: PingpongPair,
  n: number,
  serverRuns = 1,
): Promise<Record<string, unknown>> {
  const flags = pair.flags;
  const kernel = flags === null;
  await link.setKernelAddress("stack", kernel);
  await link.setKernelAddress("peer", kernel);
  const srvOpts = kernel ? ["--kernel"] : [...link.stackOptions("peer", "af_packet"), ...flags];
  const twReuse = kernel && pair.twReuse === true;
  await setTwReuse(link, twReuse ? 1 : 2);
  const srv = link.start(
    "peer",
    ustackCommand(
      ["pingpong", "server", "-p", String(PP_PORT), "-l", "64", ...srvOpts, "--json"],
      pair.cli,
    ),
  );
  const t0 = performance.now();
  try {
    await srv.waitForLine(/"event":"ready"/, 60_000);
    const readyMs = Math.round(performance.now() - t0);
    // Kernel pairs run once: a second kernel client would meet the first one's TIME_WAIT ports.
    const runCount = kernel ? 1 : serverRuns;
    const runs: Record<string, unknown>[] = [];
    for (let r = 0; r < runCount; r++) runs.push(await pingpongClient(link, pair, n, srv.pid));
    const first = { ...runs[0], server_ready_ms: readyMs };
    return runCount > 1 ? { ...first, later_runs: runs.slice(1) } : first;
  } finally {
    await srv.stop(10_000);
    if (twReuse) await setTwReuse(link, 2);
  }
}

/** One `pingpong --connect` client run against the server `srvPid`, with both sides' CPU. */
async function pingpongClient(
  link: BenchLink,
  pair: PingpongPair,
  n: number,
  srvPid: number,
): Promise<Record<string, unknown>> {
  const kernel = pair.flags === null;
  const peer = link.addr("peer");
  const cliOpts = kernel
    ? ["--kernel"]
    : [...link.stackOptions("stack", "af_packet"), ...pair.flags!];
  // The server's CPU over the client's whole run (its start and warm-up leave the server
  // idle, blocked in poll); the client's own over its crowd phase (`run_cpu_ms`).
  const threads0 = threadTicks(srvPid);
  const [f, cpu] = await withCpu(
    srvPid,
    () =>
      link.run(
        "stack",
        ustackCommand([
          ...["pingpong", "client", peer, "-p", String(PP_PORT), "--connect", "-C", "32"],
          ...["-n", String(n), "-l", "64", ...cliOpts, "--json"],
        ], pair.cli),
        180_000,
      ),
    () => n,
  );
  const threads1 = threadTicks(srvPid);
  const j = lastJson(f.stdout, "summary");
  const warm = f.stdout.includes('"event":"warm_up"') ? lastJson(f.stdout, "warm_up") : null;
  const run = j.run_cpu_ms as { user: number; system: number } | undefined;
  const done = Number(j.connections);
  // Clock ticks are 1/100 s: µs per connection = ticks × 10,000 / n.
  const byThread: Record<string, number> = {};
  for (const k of Object.keys(threads1)) {
    byThread[k] = Math.round(((threads1[k] - threads0[k]) * 10_000) / n);
  }
  return {
    ...j,
    client_warm_up_ms: warm === null ? null : warm.ms,
    server_us_per_conn: cpu?.serverUsPerRequest ?? null,
    server_us_by_thread: byThread,
    client_us_per_conn: run !== undefined && done > 0
      ? Math.round(((run.user + run.system) * 1000) / done)
      : null,
  };
}

/** `net.ipv4.tcp_tw_reuse` of the client's (stack end's) namespace; 2 is Linux's default. */
async function setTwReuse(link: BenchLink, value: number): Promise<void> {
  const f = await link.run("stack", ["sysctl", "-qw", `net.ipv4.tcp_tw_reuse=${value}`], 5_000);
  if (f.code !== 0) throw new Error(`sysctl tcp_tw_reuse=${value}: ${f.stderr}`);
}

/** Run the benchmark; resolves to the exit status. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      rounds: { type: "string", default: "1" },
      blocks: { type: "string", default: "3" },
      requests: { type: "string", default: "5000" },
      pingpong: { type: "string", default: "0" },
      variant: { type: "string", multiple: true, default: [] },
      "skip-http": { type: "boolean" },
      base: { type: "string" },
      "base-variant": { type: "string", multiple: true, default: [] },
      checkout: { type: "string", multiple: true, default: [] },
      only: { type: "string", multiple: true, default: [] },
      rotate: { type: "boolean" },
      "no-wrk": { type: "boolean" },
      "kernel-tw-reuse": { type: "boolean" },
      "server-runs": { type: "string", default: "1" },
      mtu: { type: "string", default: "1500" },
      out: { type: "string" },
    },
  });
  const missing = missingRequirements(["ab", "wrk"]);
  if (missing.length > 0) {
    console.error(`conn_warmup: cannot run: missing ${missing.join(", ")}`);
    return 1;
  }
  // [name, flags (null: the kernel), CLI (another checkout's for --base), tcp_tw_reuse=1]
  let servers: [string, string[] | null, string?, boolean?][] = [
    ["kernel", null],
    ["ustack", []],
  ];
  if (values["kernel-tw-reuse"] === true) servers.push(["kernel-twreuse", null, undefined, true]);
  for (const v of values.variant!) servers.push(parseVariant(v));
  if (values.base !== undefined) {
    servers.push(["base", [], values.base]);
    for (const v of values["base-variant"]!) servers.push([...parseVariant(v), values.base]);
  } else if (values["base-variant"]!.length > 0) {
    console.error("conn_warmup: --base-variant needs --base");
    return 2;
  }
  for (const c of values.checkout!) {
    const eq = c.indexOf("=");
    if (eq <= 0) {
      console.error(`conn_warmup: --checkout ${c}: say NAME=PATH`);
      return 2;
    }
    servers.push([c.slice(0, eq), [], c.slice(eq + 1)]);
  }
  const only = values.only!;
  if (only.length > 0) servers = servers.filter(([name]) => only.includes(name));
  const blocks = Number(values.blocks);
  const requests = Number(values.requests);
  const ppN = Number(values.pingpong);
  const rounds: Record<string, unknown>[] = [];
  for (let r = 0; r < Number(values.rounds); r++) {
    // A fresh pair per round: the peer's ephemeral ports of the last round are in TIME_WAIT.
    const link = await BenchLink.create(Number(values.mtu));
    try {
      const round: Record<string, unknown> = { load: Deno.loadavg()[0] };
      // --rotate: round r starts with server r (mod their number), so no server always runs
      // first or last in a round on a machine whose load drifts.
      const order = values.rotate === true
        ? [...servers.slice(r % servers.length), ...servers.slice(0, r % servers.length)]
        : [...servers];
      // The kernel pairs share the client's namespace: `kernel-twreuse` leaves its ports in
      // TIME_WAIT, which a `kernel` pair after it (no reuse) cannot take (EADDRNOTAVAIL after
      // ~8,000 connections). So it always runs after `kernel`.
      const tw = order.findIndex(([name]) => name === "kernel-twreuse");
      const k = order.findIndex(([name]) => name === "kernel");
      if (tw >= 0 && k > tw) order.splice(k, 0, ...order.splice(tw, 1));
      if (values["skip-http"] !== true) {
        for (const [name, flags, cli, twReuse] of order) {
          if (twReuse === true) continue; // a pingpong baseline only
          const keepAlive = values["no-wrk"] !== true;
          const h = await httpServer(link, flags, blocks, requests, keepAlive, cli);
          round[`http_${name}`] = h;
          console.error(
            `round ${r + 1} http ${name.padEnd(10)} start ${h.startMs} ms  ` +
              h.blocks.map((b) => `${b.connPerS?.toFixed(0)}/s ${b.serverUsPerConn}µs`).join("  ") +
              `  load ${Deno.loadavg()[0].toFixed(2)}`,
          );
        }
      }
      if (ppN > 0) {
        const pairs: [string, PingpongPair][] = order.map(([name, flags, cli, twReuse]) => [
          name,
          { flags, cli, twReuse },
        ]);
        for (const [name, pair] of pairs) {
          const j = await pingpong(link, pair, ppN, Number(values["server-runs"]));
          round[`pingpong_${name}`] = j;
          console.error(
            `round ${r + 1} pingpong ${name.padEnd(10)} ${Number(j.conn_per_s).toFixed(0)}/s ` +
              `failed ${j.failed}  CPU/conn client ${j.client_us_per_conn} µs server ` +
              `${j.server_us_per_conn} µs (${threadsText(j.server_us_by_thread)})  ` +
              `ready ${j.server_ready_ms} ms warm-up ${j.client_warm_up_ms} ms  ` +
              `load ${Deno.loadavg()[0].toFixed(2)}`,
          );
          const later = (j.later_runs ?? []) as Record<string, unknown>[];
          for (const [k, l] of later.entries()) {
            console.error(
              `round ${r + 1} pingpong ${name.padEnd(10)} same server, client ${k + 2}: ` +
                `${Number(l.conn_per_s).toFixed(0)}/s failed ${l.failed}  CPU/conn client ` +
                `${l.client_us_per_conn} µs server ${l.server_us_per_conn} µs ` +
                `(${threadsText(l.server_us_by_thread)})`,
            );
          }
        }
      }
      rounds.push(round);
    } finally {
      await link.destroy();
    }
  }
  const record = {
    date: new Date().toISOString(),
    mtu: Number(values.mtu),
    blocks,
    requests,
    pingpong: ppN,
    rounds,
  };
  if (values.out !== undefined) {
    await Deno.writeTextFile(values.out, JSON.stringify(record, null, 2) + "\n");
  }
  console.log(JSON.stringify(record));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
