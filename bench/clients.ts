/**
 * `bench/clients.ts`: many clients against one stack, measured the way the "many clients"
 * issue measured them, with the kernel's own sockets as the baseline in the same run on the
 * same veth pair (MTU 1500):
 *
 * - **HTTP, a connection per request**: `ab -c 32` from the kernel peer against
 *   `ustack serve --http` and against `Deno.serve` on the stack end's kernel sockets, in rounds
 *   of `--round` requests, so that a rate that falls as connections pile up in TIME_WAIT shows;
 * - **HTTP keep-alive**: `wrk -t2 -c64` against both;
 * - **held kernel connections**: `--hold N` connections from a Python client in the peer
 *   namespace to `serve --tcp-echo`, each echoing one byte; the server's RSS before, while
 *   held, and after every one is closed.
 *
 * ```
 * deno run --allow-all bench/clients.ts [--total N] [--round N] [--hold N] [--seconds N]
 *                                       [--cli PATH] [--skip kernel] [--out FILE]
 * ```
 *
 * `--cli` runs another checkout's `cli/ustack.ts` (a before/after comparison). Needs root,
 * `ab`, `wrk`, `python3`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { missingRequirements } from "../tests/harness/interop.ts";
import { CliProcess } from "../tests/harness/ustack_cli.ts";
import { BenchLink, ustackCommand } from "./netns.ts";

/** The HTTP port of both servers. */
const HTTP_PORT = 80;
/** The echo port of the held-connection measurement. */
const ECHO_PORT = 7;
/** The path both servers answer with 64 bytes. */
const HTTP_PATH = "/bytes/64";

/** `Deno.serve` on kernel sockets answering `/bytes/N` like `serve --http`. */
export const DENO_SERVE = `
const pattern = Uint8Array.from({ length: 251 * 64 }, (_, i) => i % 251);
const [host, port] = [Deno.args[0], Number(Deno.args[1])];
Deno.serve({ hostname: host, port, onListen: () => console.log("ready") }, (req) => {
  const m = /^\\/bytes\\/(\\d+)$/.exec(new URL(req.url).pathname);
  const n = m === null ? 0 : Math.min(Number(m[1]), pattern.length);
  return new Response(pattern.subarray(0, n));
});
`;

/**
 * Python client holding N kernel connections: connects them all (CONC at once,
 * non-blocking), sends one byte on each and reads it back, prints `held`, waits for a line on
 * stdin, half-closes all and reads each to EOF, prints a JSON summary.
 */
export const PY_HOLD = `
import json, resource, selectors, socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = n + 1024
if hard != resource.RLIM_INFINITY and hard < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
else:
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
t0 = time.monotonic()
socks = []
failed = 0
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect((host, port))
        socks.append(s)
    except OSError:
        failed += 1
        s.close()
connected = time.monotonic()
echoed = 0
for s in socks:
    try:
        s.sendall(b"x")
        if s.recv(1) == b"x":
            echoed += 1
    except OSError:
        pass
print(json.dumps({"event": "held", "connections": len(socks), "failed": failed, "echoed": echoed,
                  "connect_seconds": connected - t0}), flush=True)
sys.stdin.readline()
closed = 0
for s in socks:
    try:
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):
            pass
        closed += 1
    except OSError:
        pass
    s.close()
print(json.dumps({"event": "summary", "closed_clean": closed}), flush=True)
`;

/** Options of a run. */
export interface ClientsOptions {
  /** Requests of the connection-per-request measurement. */
  total: number;
  /** Requests per `ab` round. */
  round: number;
  /** Concurrent kernel connections held (0: skip). */
  hold: number;
  /** Seconds of the keep-alive measurement. */
  seconds: number;
  /** The ustack CLI to run. */
  cli: string;
  /** Skip the kernel baseline. */
  skipKernel: boolean;
  /** JSON record path ("" for none). */
  out: string;
}

/** One `ab` round. */
export interface AbRound {
  /** Requests completed. */
  complete: number;
  /** Failed requests. */
  failed: number;
  /** Requests (= connections) per second. */
  perSecond: number;
  /** Mean connect time (ms). */
  connectMs: number;
}

/** `ab`'s figures out of its report. */
export function parseAb(text: string): AbRound {
  const num = (re: RegExp) => {
    const m = re.exec(text);
    return m === null ? NaN : Number(m[1]);
  };
  return {
    complete: num(/Complete requests:\s+(\d+)/),
    failed: num(/Failed requests:\s+(\d+)/),
    perSecond: num(/Requests per second:\s+([\d.]+)/),
    connectMs: num(/Connect:\s+\d+\s+(\d+)/),
  };
}

/** `wrk`'s requests per second out of its report. */
export function parseWrk(text: string): number {
  const m = /Requests\/sec:\s+([\d.]+)/.exec(text);
  return m === null ? NaN : Number(m[1]);
}

/** Resident set size of `pid` in bytes (VmRSS), or NaN. */
export function rssBytes(pid: number): number {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = /VmRSS:\s+(\d+) kB/.exec(s);
    return m === null ? NaN : Number(m[1]) * 1024;
  } catch {
    return NaN;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function progress(msg: string): void {
  console.error(`bench:clients ${msg}`);
}

/** A process in one of the link's namespaces with stdin, stdout and stderr piped. */
class Proc {
  readonly cli: CliProcess;
  readonly child: Deno.ChildProcess;
  constructor(link: BenchLink, side: "stack" | "peer", cmd: string[]) {
    const opts = { stdin: "piped", stdout: "piped", stderr: "piped" } as const;
    this.child = side === "stack"
      ? link.pair.spawnInStackNs(cmd, opts)
      : link.pair.spawn(cmd, opts);
    this.cli = new CliProcess(this.child);
  }
  get pid(): number {
    return this.child.pid;
  }
  async send(line: string): Promise<void> {
    const w = this.child.stdin.getWriter();
    await w.write(new TextEncoder().encode(line + "\n"));
    w.releaseLock();
  }
  async stop(): Promise<void> {
    try {
      await this.child.stdin.close();
    } catch { /* closed */ }
    await this.cli.stop();
  }
}

/** Run a command in the peer namespace, returning its stdout (throws on failure). */
async function peerRun(link: BenchLink, cmd: string[], timeoutMs: number): Promise<string> {
  const f = await link.run("peer", cmd, timeoutMs);
  if (f.code !== 0 || f.timedOut) {
    throw new Error(
      `${cmd[0]} failed (${f.code}${f.timedOut ? ", timed out" : ""}): ${
        (f.stderr + f.stdout).slice(-800)
      }`,
    );
  }
  return f.stdout;
}

/** `ab` in rounds against `url`: one figure per round. */
async function abRounds(link: BenchLink, url: string, o: ClientsOptions): Promise<AbRound[]> {
  const rounds: AbRound[] = [];
  for (let done = 0; done < o.total; done += o.round) {
    const n = Math.min(o.round, o.total - done);
    const out = await peerRun(
      link,
      ["ab", "-r", "-q", "-s", "10", "-n", String(n), "-c", "32", url],
      300_000,
    );
    const r = parseAb(out);
    rounds.push(r);
    progress(`  ab ${done + n}/${o.total}: ${r.perSecond.toFixed(0)}/s, ${r.failed} failed`);
  }
  return rounds;
}

/** `wrk -t2 -c64` keep-alive requests/s against `url`. */
async function wrk(link: BenchLink, url: string, seconds: number): Promise<number> {
  const out = await peerRun(
    link,
    ["wrk", "-t2", "-c64", `-d${seconds}s`, url],
    (seconds + 30) * 1000,
  );
  return parseWrk(out);
}

/** Rate over all rounds (requests / total time). */
function overall(rounds: AbRound[]): number {
  let n = 0;
  let s = 0;
  for (const r of rounds) {
    n += r.complete;
    s += r.complete / r.perSecond;
  }
  return s > 0 ? n / s : NaN;
}

/** The kernel baseline: `Deno.serve` on the stack end's kernel sockets. */
async function kernelHttp(link: BenchLink, o: ClientsOptions): Promise<Record<string, unknown>> {
  await link.setKernelAddress("stack", true);
  const host = link.addr("stack");
  const p = new Proc(link, "stack", [
    Deno.execPath(),
    "eval",
    DENO_SERVE,
    host,
    String(HTTP_PORT),
  ]);
  try {
    await p.cli.waitForLine(/^ready$/);
    const url = `http://${host}${HTTP_PATH}`;
    progress("Deno.serve (kernel sockets): ab");
    const rounds = await abRounds(link, url, o);
    progress("Deno.serve (kernel sockets): wrk");
    const keepAlive = await wrk(link, url, o.seconds);
    return { connPerSecond: overall(rounds), rounds, keepAliveRps: keepAlive };
  } finally {
    await p.stop();
    await link.setKernelAddress("stack", false);
  }
}

/** `ustack serve --http --tcp-echo` on the stack end. */
async function ustackHttp(link: BenchLink, o: ClientsOptions): Promise<Record<string, unknown>> {
  const cmd = ustackCommand([
    "serve",
    "--http",
    String(HTTP_PORT),
    "--tcp-echo",
    String(ECHO_PORT),
    ...link.stackOptions("stack", "af_packet"),
    "--json",
  ]);
  cmd[cmd.indexOf(new URL("../cli/ustack.ts", import.meta.url).pathname)] = o.cli;
  const p = new Proc(link, "stack", cmd);
  const host = link.addr("stack");
  const result: Record<string, unknown> = {};
  try {
    await p.cli.waitForLine(/"event":"ready"|^ready/, 30_000);
    await sleep(200);
    result.rssStartBytes = rssBytes(p.pid);
    const url = `http://${host}${HTTP_PATH}`;
    progress("ustack serve --http: ab");
    const rounds = await abRounds(link, url, o);
    result.connPerSecond = overall(rounds);
    result.rounds = rounds;
    result.rssAfterAbBytes = rssBytes(p.pid);
    progress("ustack serve --http: wrk");
    result.keepAliveRps = await wrk(link, url, o.seconds);
    if (o.hold > 0) {
      progress(`ustack serve --tcp-echo: ${o.hold} kernel connections held`);
      result.hold = await holdKernel(link, p.pid, host, o.hold);
    }
    result.rssEndBytes = rssBytes(p.pid);
  } finally {
    await p.stop();
    const stats = p.cli.lines.find((l) => l.startsWith('{"event":"stats"'));
    if (stats !== undefined) result.tcp = JSON.parse(stats).tcp;
  }
  return result;
}

/** Hold `n` kernel connections to the echo port; RSS while held and after. */
async function holdKernel(
  link: BenchLink,
  pid: number,
  host: string,
  n: number,
): Promise<Record<string, unknown>> {
  const before = rssBytes(pid);
  const py = new Proc(link, "peer", ["python3", "-c", PY_HOLD, host, String(ECHO_PORT), String(n)]);
  try {
    const line = await py.cli.waitForLine(/"event": "held"/, 600_000);
    const held = JSON.parse(line);
    await sleep(500);
    const during = rssBytes(pid);
    await py.send("close");
    const end = JSON.parse(await py.cli.waitForLine(/"event": "summary"/, 600_000));
    await sleep(3000);
    const after = rssBytes(pid);
    // V8 gives freed heap pages back when the process has been idle a while.
    await sleep(12_000);
    const idle = rssBytes(pid);
    return {
      ...held,
      closedClean: end.closed_clean,
      rssBeforeBytes: before,
      rssHeldBytes: during,
      rssAfterBytes: after,
      rssIdleAfterBytes: idle,
      bytesPerConnection: (during - before) / Math.max(1, held.connections),
    };
  } finally {
    await py.stop();
  }
}

const USAGE = `usage: deno run --allow-all bench/clients.ts [options]
  --total N      requests of the connection-per-request measurement (20000)
  --round N      requests per ab round (5000)
  --hold N       kernel connections held against --tcp-echo (10000; 0 skips)
  --seconds N    seconds of the keep-alive measurement (5)
  --cli PATH     the ustack CLI to measure (this checkout's cli/ustack.ts)
  --skip-kernel  no Deno.serve baseline
  --out FILE     JSON record`;

/** Run the benchmark; the exit status. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      total: { type: "string" },
      round: { type: "string" },
      hold: { type: "string" },
      seconds: { type: "string" },
      cli: { type: "string" },
      "skip-kernel": { type: "boolean" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const o: ClientsOptions = {
    total: Number(values.total ?? 20_000),
    round: Number(values.round ?? 5_000),
    hold: Number(values.hold ?? 10_000),
    seconds: Number(values.seconds ?? 5),
    cli: values.cli ?? new URL("../cli/ustack.ts", import.meta.url).pathname,
    skipKernel: values["skip-kernel"] === true,
    out: values.out ?? "",
  };
  const missing = missingRequirements(["ab", "wrk", "python3"]);
  if (missing.length > 0) {
    console.error(`bench:clients: missing ${missing.join(", ")}`);
    return 1;
  }
  const link = await BenchLink.create(1500);
  const record: Record<string, unknown> = { options: o, date: new Date().toISOString() };
  try {
    if (!o.skipKernel) record.kernel = await kernelHttp(link, o);
    record.ustack = await ustackHttp(link, o);
  } finally {
    await link.destroy();
  }
  console.log(JSON.stringify(record, null, 2));
  if (o.out !== "") await Deno.writeTextFile(o.out, JSON.stringify(record, null, 2) + "\n");
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
