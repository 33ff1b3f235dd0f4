/**
 * `deno task bench:http`: HTTP/1.1 request rates of `ustack serve --http` against `Deno.serve`
 * on kernel sockets with the same handler (`cli/http_routes.ts`), on one veth pair, measured by
 * the same kernel clients in the peer namespace:
 *
 * - `wrk -t2 -c64 -d<seconds>s --latency http://ADDR/bytes/64` — keep-alive requests/s and
 *   latency percentiles;
 * - `ab -r -n <requests> -c 32 http://ADDR/bytes/64` — one connection per request, so its
 *   requests/s is connections/s.
 *
 * For each run it also records where the CPU went: the machine's user/system/softirq/idle
 * shares and the server process's CPU (all its threads, in % of one CPU, and µs per request),
 * from /proc — less sensitive to a loaded machine than the rates, and on a small machine the
 * clients and the kernel share the CPUs with the server.
 *
 * ```
 * deno run --allow-all bench/http_bench.ts [--seconds N] [--requests N] [--rounds N]
 *     [--driver NAME] [--workers LIST] [--busy-poll US] [--cli PATH] [--base PATH]
 *     [--kernel-handler routes|minimal] [--prewarm N] [--path /bytes/N] [--stack-tso off]
 *     [--out FILE]
 * ```
 *
 * The servers take turns on one veth pair, `--rounds` times (so each round's figures are a
 * same-run comparison): `Deno.serve`, then `serve --http` as one stack (workers 0) and as
 * `serve --workers N` (a stack per core) for each N of `--workers 0,1,2`. `--cli PATH` measures
 * another checkout's `cli/ustack.ts`; `--base PATH` adds a second checkout (one stack) to every
 * round (a before/after comparison). `--kernel-handler minimal` runs the `Deno.serve` of
 * `bench:e2e` and `bench/clients.ts` (`new Response(bytes)`, no fields) instead of the
 * `serve --http` routes. `--prewarm N` adds `serve --http --prewarm N` (one stack; N warm-up
 * connections on a private in-memory link before its ready line) to every round. With
 * `--base`, every N of `--workers` other than 0 also runs the base checkout's `serve --workers N`
 * (`base_workersN`). Every ustack server's final driver counters (`rxFrames`, `txFrames`,
 * `rxOutgoingSkipped`: looped-back copies of its own transmissions) are recorded. `--path` asks
 * for another body than `/bytes/64`; `--stack-tso off` turns TSO off on the stack's interface
 * (the kernel then segments the stacks' super-segments in software).
 *
 * Needs root, `ip`, `ss`, `wrk`, `ab`. Every wait is bounded; the namespaces are deleted at
 * the end, on errors, on Ctrl-C and on SIGTERM.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { threadCpuSeconds } from "../cli/uperf_threads.ts";
import { missingRequirements } from "../tests/harness/interop.ts";
import { DENO_SERVE } from "./clients.ts";
import { BenchLink, type BenchProcess, ustackCommand } from "./netns.ts";

/** Where the CPU went during one client run. */
export interface CpuShare {
  /** The machine's CPUs (all of them, 100 = every CPU busy): user, system, softirq, idle. */
  machinePct: { user: number; system: number; softirq: number; idle: number };
  /** The server process's threads together, in % of one CPU. */
  serverPctOfOneCpu: number;
  /** Server CPU time per request (µs). */
  serverUsPerRequest: number;
  /**
   * The server's main thread over the run: ms on a CPU and ms runnable but waiting for one
   * (`/proc/PID/task/PID/schedstat`; NaN when unreadable). A large wait is a round where the
   * server shared a CPU with the client (bench/README.md, "http9o").
   */
  serverMainThread: ThreadSched;
}

/** A thread's scheduling over an interval (`/proc/PID/task/TID/schedstat`). */
export interface ThreadSched {
  /** Time on a CPU (ms). */
  runMs: number;
  /** Time runnable but waiting on a run queue (ms). */
  waitMs: number;
}

/**
 * The main thread of process `pid`: [ns on a CPU, ns runnable but waiting on a run queue] so
 * far (`/proc/PID/task/PID/schedstat`), or NaNs when it cannot be read.
 *
 * @example
 * ```ts
 * const [runNs, waitNs] = mainThreadSched(Deno.pid);
 * ```
 */
export function mainThreadSched(pid: number): number[] {
  try {
    const f = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/schedstat`).trim().split(" ");
    return [Number(f[0]), Number(f[1])];
  } catch {
    return [NaN, NaN];
  }
}

/** One server's figures. */
export interface HttpFigures {
  /** wrk keep-alive requests per second. */
  wrkRequestsPerSec: number | null;
  /** wrk latency percentiles (ms). */
  wrkLatencyMs: Record<string, number>;
  /** wrk socket errors and non-2xx answers. */
  wrkErrors: number;
  /** ab requests (= connections) per second. */
  abRequestsPerSec: number | null;
  /** ab failed requests. */
  abFailed: number | null;
  /** CPU during the wrk run and the ab run (null: the server's pid could not be read). */
  cpu: { wrk: CpuShare | null; ab: CpuShare | null };
  /** The server's final driver counters (the text `driver:` line; ustack servers only). */
  driver?: Record<string, number>;
}

/**
 * The counters of the `  driver: name=1 …` line of `serve`'s final text stats.
 *
 * @example
 * ```ts
 * parseDriverLine("stats\n  driver: rxFrames=10 rxOutgoingSkipped=2\n"); // { rxFrames: 10, … }
 * ```
 */
export function parseDriverLine(out: string): Record<string, number> {
  const line = /^\s+driver: (.*)$/m.exec(out);
  const counters: Record<string, number> = {};
  for (const m of (line?.[1] ?? "").matchAll(/(\w+)=(\d+)/g)) counters[m[1]] = Number(m[2]);
  return counters;
}

/** The machine's CPU time so far (USER_HZ ticks): user+nice, system, softirq, idle+iowait, all. */
function machineTicks(): number[] {
  const f = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1)
    .map(Number);
  return [f[0] + f[1], f[2], f[6], f[3] + f[4], f.reduce((a, b) => a + b, 0)];
}

/** CPU time (ticks) of every thread of process `pid` so far, or null when it is gone. */
function processTicks(pid: number): number | null {
  const threads = threadCpuSeconds(pid);
  if (threads.size === 0) return null;
  let sum = 0;
  for (const t of threads.values()) sum += Math.round(t.seconds * 100);
  return sum;
}

/** Run `fn` (a client run of `requests(result)` requests) and say where the CPU went. */
export async function withCpu<T>(
  pid: number,
  fn: () => Promise<T>,
  requests: (r: T) => number,
): Promise<[T, CpuShare | null]> {
  const hz = 100;
  const m0 = machineTicks();
  const p0 = processTicks(pid);
  const s0 = mainThreadSched(pid);
  const t0 = performance.now();
  const r = await fn();
  const secs = (performance.now() - t0) / 1000;
  const m1 = machineTicks();
  const p1 = processTicks(pid);
  const s1 = mainThreadSched(pid);
  if (p0 === null || p1 === null) return [r, null];
  const d = m1.map((v, i) => v - m0[i]);
  const pct = (x: number) => Math.round((1000 * x) / d[4]) / 10;
  const n = requests(r);
  return [r, {
    machinePct: { user: pct(d[0]), system: pct(d[1]), softirq: pct(d[2]), idle: pct(d[3]) },
    serverPctOfOneCpu: Math.round((100 * (p1 - p0)) / hz / secs),
    serverUsPerRequest: n > 0 ? Math.round(((p1 - p0) / hz) * 1e6 / n) : NaN,
    serverMainThread: {
      runMs: Math.round((s1[0] - s0[0]) / 1e4) / 100,
      waitMs: Math.round((s1[1] - s0[1]) / 1e4) / 100,
    },
  }];
}

const PORT = 80;

/** `2.5ms` / `812.00us` / `1.2s` → ms. */
function toMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (m === null) return NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
}

/**
 * Parse wrk's report.
 *
 * @example
 * ```ts
 * parseWrk("Requests/sec:  76000.12\n"); // { requestsPerSec: 76000.12, … }
 * ```
 */
export function parseWrk(
  out: string,
): { requestsPerSec: number | null; latencyMs: Record<string, number>; errors: number } {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const latencyMs: Record<string, number> = {};
  for (const m of out.matchAll(/^\s+(50|75|90|99)%\s+(\S+)$/gm)) latencyMs[`p${m[1]}`] = toMs(m[2]);
  let errors = 0;
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (sock) errors += sock.slice(1).reduce((a, b) => a + Number(b), 0);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (non2xx) errors += Number(non2xx[1]);
  return { requestsPerSec: rps ? Number(rps[1]) : null, latencyMs, errors };
}

/**
 * Parse ab's report.
 *
 * @example
 * ```ts
 * parseAb("Failed requests:        0\nRequests per second:    1400.50 [#/sec] (mean)\n");
 * ```
 */
export function parseAb(out: string): { requestsPerSec: number | null; failed: number | null } {
  const rps = /Requests per second:\s+([\d.]+)/.exec(out);
  const failed = /Failed requests:\s+(\d+)/.exec(out);
  return { requestsPerSec: rps ? Number(rps[1]) : null, failed: failed ? Number(failed[1]) : null };
}

/**
 * `ab -c 32 -n REQUESTS` (a connection per request) from the peer against `url`, with the
 * server's CPU share over the run.
 */
export function abRun(
  link: BenchLink,
  url: string,
  requests: number,
  serverPid: number,
): Promise<[{ requestsPerSec: number | null; failed: number | null }, CpuShare | null]> {
  return withCpu(serverPid, async () => {
    const ab = await link.run(
      "peer",
      ["ab", "-r", "-q", "-s", "10", "-n", String(requests), "-c", "32", url],
      300_000,
    );
    const parsed = parseAb(ab.stdout);
    if (parsed.requestsPerSec === null) console.error(`ab: ${ab.stdout}\n${ab.stderr}`);
    return parsed;
  }, () => requests);
}

async function measure(
  link: BenchLink,
  path: string,
  seconds: number,
  requests: number,
  serverPid: number,
): Promise<HttpFigures> {
  const url = `http://${link.addr("stack")}${path}`;
  // Warm-up: JIT and ARP.
  await link.run("peer", ["wrk", "-t1", "-c4", "-d1s", url], 30_000);
  const [w, wrkCpu] = await withCpu(serverPid, async () => {
    const wrk = await link.run(
      "peer",
      ["wrk", "-t2", "-c64", `-d${seconds}s`, "--latency", url],
      (seconds + 30) * 1000,
    );
    return parseWrk(wrk.stdout);
  }, (x) => (x.requestsPerSec ?? 0) * seconds);
  const [a, abCpu] = await abRun(link, url, requests, serverPid);
  return {
    wrkRequestsPerSec: w.requestsPerSec,
    wrkLatencyMs: w.latencyMs,
    wrkErrors: w.errors,
    abRequestsPerSec: a.requestsPerSec,
    abFailed: a.failed,
    cpu: { wrk: wrkCpu, ab: abCpu },
  };
}

async function stopped(p: BenchProcess): Promise<string> {
  const f = await p.stop(10_000);
  // 143: killed by the SIGTERM that stops it (the minimal Deno.serve has no handler for it).
  if (f.code !== 0 && f.code !== 143) console.error(`server exited ${f.code}: ${f.stderr}`);
  return f.stdout;
}

/** A server under test: `Deno.serve` on kernel sockets, or a checkout's `serve --http`. */
interface Server {
  name: string;
  /** The checkout's `cli/ustack.ts`, or null for `Deno.serve`. */
  cli: string | null;
  /** `serve --workers N` (0: one stack). */
  workers: number;
  /** `serve --prewarm N` (0: none). */
  prewarm?: number;
}

async function measureServer(
  link: BenchLink,
  server: Server,
  o: {
    driver: string;
    kernelHandler: string;
    path: string;
    seconds: number;
    requests: number;
    busyPollUs: string | null;
  },
): Promise<HttpFigures> {
  await link.setKernelAddress("stack", server.cli === null);
  let cmd: string[];
  if (server.cli === null) {
    cmd = o.kernelHandler === "minimal"
      ? [Deno.execPath(), "eval", DENO_SERVE, link.addr("stack"), String(PORT)]
      : [
        Deno.execPath(),
        "run",
        "--allow-net",
        new URL("./http_kernel_server.ts", import.meta.url).pathname,
        link.addr("stack"),
        String(PORT),
      ];
  } else {
    cmd = ustackCommand([
      "serve",
      ...link.stackOptions("stack", o.driver),
      "--http",
      String(PORT),
      ...(server.workers === 0 ? [] : ["--workers", String(server.workers)]),
      ...(server.prewarm ? ["--prewarm", String(server.prewarm)] : []),
      ...(o.busyPollUs === null ? [] : ["--busy-poll", o.busyPollUs]),
    ]);
    cmd[cmd.indexOf(new URL("../cli/ustack.ts", import.meta.url).pathname)] = server.cli;
  }
  const p = link.start("stack", cmd);
  await p.waitForLine(/^ready/, 30_000);
  let figures: HttpFigures | null = null;
  try {
    figures = await measure(link, o.path, o.seconds, o.requests, p.pid);
  } finally {
    const out = await stopped(p);
    if (figures !== null && server.cli !== null) figures.driver = parseDriverLine(out);
  }
  return figures;
}

const fmt = (v: number | null) => (v === null ? "—" : v.toFixed(0));
const cpuText = (c: CpuShare | null) =>
  c === null
    ? "—"
    : `${c.serverUsPerRequest} µs (${c.serverPctOfOneCpu}%, idle ${c.machinePct.idle}%)`;

/** Run the benchmark; resolves to the exit status. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      seconds: { type: "string", default: "5" },
      requests: { type: "string", default: "20000" },
      rounds: { type: "string", default: "1" },
      driver: { type: "string", default: "af_packet" },
      workers: { type: "string", default: "0" },
      "busy-poll": { type: "string" },
      cli: { type: "string" },
      base: { type: "string" },
      "kernel-handler": { type: "string", default: "routes" },
      prewarm: { type: "string" },
      path: { type: "string", default: "/bytes/64" },
      "stack-tso": { type: "string", default: "on" },
      out: { type: "string" },
    },
  });
  const missing = missingRequirements(["ss", "wrk", "ab"]);
  if (missing.length > 0) {
    console.error(`bench:http: cannot run: missing ${missing.join(", ")}`);
    return 1;
  }
  const o = {
    driver: values.driver!,
    kernelHandler: values["kernel-handler"]!,
    path: values.path!,
    stackTso: values["stack-tso"] !== "off",
    seconds: Number(values.seconds),
    requests: Number(values.requests),
    busyPollUs: values["busy-poll"] ?? null,
  };
  const cli = values.cli ?? new URL("../cli/ustack.ts", import.meta.url).pathname;
  const servers: Server[] = [{ name: "deno_serve", cli: null, workers: 0 }];
  for (const n of values.workers!.split(",").map(Number)) {
    servers.push({ name: n === 0 ? "ustack" : `ustack_workers${n}`, cli, workers: n });
  }
  if (values.prewarm !== undefined) {
    servers.push({ name: "ustack_prewarm", cli, workers: 0, prewarm: Number(values.prewarm) });
  }
  if (values.base !== undefined) {
    servers.push({ name: "base", cli: values.base, workers: 0 });
    for (const n of values.workers!.split(",").map(Number)) {
      if (n !== 0) servers.push({ name: `base_workers${n}`, cli: values.base, workers: n });
    }
  }
  const rounds: Record<string, HttpFigures>[] = [];
  const link = await BenchLink.create(1500);
  try {
    if (!o.stackTso && link.setTso("stack", false)) throw new Error("TSO stayed on");
    for (let r = 0; r < Number(values.rounds); r++) {
      const round: Record<string, HttpFigures> = {};
      for (const s of servers) {
        const f = await measureServer(link, s, o);
        round[s.name] = f;
        console.error(
          `round ${r + 1} ${s.name.padEnd(16)} wrk ${fmt(f.wrkRequestsPerSec).padStart(6)}/s ` +
            `(CPU/request ${cpuText(f.cpu.wrk)})  ab ${fmt(f.abRequestsPerSec).padStart(6)}/s ` +
            `(CPU/connection ${cpuText(f.cpu.ab)})  load ${Deno.loadavg()[0].toFixed(2)}` +
            (f.driver === undefined
              ? ""
              : `  tx ${f.driver.txFrames ?? 0} outgoing skipped ${
                f.driver.rxOutgoingSkipped ?? 0
              }`),
        );
      }
      rounds.push(round);
    }
  } finally {
    await link.destroy();
  }
  console.log(`HTTP/1.1 GET ${o.path}, wrk -t2 -c64 -d${o.seconds}s, ab -n ${o.requests} -c 32`);
  console.log("round  server            wrk req/s  ratio   ab conn/s  ratio");
  rounds.forEach((round, i) => {
    const k = round.deno_serve;
    for (const [name, f] of Object.entries(round)) {
      const wr = (f.wrkRequestsPerSec ?? NaN) / (k.wrkRequestsPerSec ?? NaN);
      const ar = (f.abRequestsPerSec ?? NaN) / (k.abRequestsPerSec ?? NaN);
      console.log(
        `${String(i + 1).padStart(5)}  ${name.padEnd(16)} ${
          fmt(f.wrkRequestsPerSec).padStart(9)
        } ` +
          `${wr.toFixed(2).padStart(6)} ${fmt(f.abRequestsPerSec).padStart(11)} ${
            ar.toFixed(2).padStart(6)
          }`,
      );
    }
  });
  const record = { date: new Date().toISOString(), ...o, servers, rounds };
  if (values.out !== undefined) {
    await Deno.writeTextFile(values.out, JSON.stringify(record, null, 2) + "\n");
  }
  console.log(JSON.stringify(record));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
