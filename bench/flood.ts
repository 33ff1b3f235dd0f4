/**
 * `bench/flood.ts`: serving through a spoofed SYN flood. `ustack serve --http` on the stack
 * end; on the peer end, hundreds of spoofed source addresses that answer ARP (added to the
 * peer's interface; the SYN-ACKs sent to them are dropped as they arrive, before the peer's
 * TCP would answer them with RSTs, so every SYN stays half-open as with a real spoofer) send
 * SYNs at `--rate` (bench/syn_flood.ts) while curl downloads a file again
 * and again; the same downloads run first without the flood. Reports the download rates, their
 * ratio, whether every download was byte-exact, and the stack's SYN-cookie counters.
 *
 * ```
 * deno run --allow-all bench/flood.ts [--rate 200000] [--seconds 10] [--sources 200]
 *                                     [--bytes 1000000] [--cpu-prof DIR]
 *                                     [--servers ustack,kernel] [--base-cli PATH]...
 *                                     [--variant NAME=FLAGS]... [--rotate K]
 *                                     [--alternate MS] [--out FILE]
 * ```
 *
 * `--cpu-prof DIR` writes a V8 CPU profile of the stack process (both phases) into DIR.
 *
 * `--servers` names the servers run one after the other, each on a fresh veth pair with both
 * phases: `ustack` (this checkout's `serve --http`), `kernel` (`Deno.serve` with the same
 * handler on the kernel's sockets, the address on the stack end's interface: the reference
 * ratio under the same flood, same run), each `--base-cli` checkout's `serve` (named `base1`,
 * …) and each `--variant` (this checkout with extra `serve` flags). `--rotate K` starts the
 * list at its K-th entry (rounds run by a shell loop rotate who goes first). Each phase
 * records what ran on the machine (`/proc/stat` by column, % of one CPU), the server's,
 * flooder's and ksoftirqd's CPU and run-queue wait (`schedstat`, ms per second), the curl
 * processes' CPU and the NET_RX softirqs per second.
 *
 * `--alternate MS` runs one phase of twice `--seconds` instead, the flooder on for the first
 * half of every MS and off for the second (`bench/syn_flood.ts --period-ms`): each download is
 * counted for the half it ran in (those that cross a switch, or start within 20 ms after one,
 * are left out), so load from elsewhere that comes and goes over seconds falls on both rates
 * alike. The rates are bytes over the counted downloads' own time.
 *
 * Needs root, `curl`, `nft`. The namespaces are deleted at the end.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { formatMac } from "../link/ethernet.ts";
import { createVethPair, runCommand, type VethPair } from "../tests/harness/netns.ts";
import { cliCommand, CliProcess } from "../tests/harness/ustack_cli.ts";
import { PhaseWatch } from "./flood_watch.ts";
import { parseVariant } from "./netns.ts";

/** Options of a flood run. */
export interface FloodOptions {
  /** Spoofed SYNs per second. */
  rate: number;
  /** Seconds of each phase (without, then with the flood). */
  seconds: number;
  /** Spoofed source addresses (198.18.0.10 onwards). */
  sources: number;
  /** Bytes per download. */
  bytes: number;
  /** Write a V8 CPU profile of the stack process into this directory (default: none). */
  cpuProfDir?: string;
  /** Alternate the flood on and off in halves of this period (ms) in one phase (default: two phases). */
  alternateMs?: number;
}

/** A server a flood run measures. */
export interface FloodServer {
  /** Its name in the record. */
  name: string;
  /** `ustack` (a `serve --http` of `cli`, with `flags`) or `kernel` (`Deno.serve`). */
  kind: "ustack" | "kernel";
  /** The CLI entry point of a `ustack` server (default: this checkout's). */
  cli?: string;
  /** Extra `serve` flags of a `ustack` server. */
  flags?: string[];
}

/** What a phase measured. */
export interface PhaseResult {
  /** Downloads completed. */
  downloads: number;
  /** Downloads whose bytes were not the pattern (or that failed). */
  bad: number;
  /** Bytes per second downloaded. */
  bytesPerSecond: number;
  /** What ran on the machine meanwhile (see {@link PhaseWatch}). */
  watch?: Record<string, unknown>;
}

/** The pattern `serve --http` sends for /bytes/N: byte i is i % 251. */
function patternOk(data: Uint8Array, n: number): boolean {
  if (data.length !== n) return false;
  for (let i = 0; i < n; i++) if (data[i] !== i % 251) return false;
  return true;
}

/** One curl download of /bytes/`bytes` from the peer end into `out`: complete and byte-exact. */
async function downloadOnce(pair: VethPair, bytes: number, out: string): Promise<boolean> {
  const url = `http://${pair.stackAddr}/bytes/${bytes}`;
  const r = await pair.run(["curl", "-s", "--max-time", "30", "-o", out, url], {
    timeoutMs: 40_000,
  });
  return r.code === 0 && patternOk(await Deno.readFile(out), bytes);
}

/**
 * curl downloads of /bytes/N from the peer end for `seconds` (and, however long that takes, at
 * least `atLeast` of them), each checked.
 */
export async function downloads(
  pair: VethPair,
  bytes: number,
  seconds: number,
  atLeast = 0,
  watch?: PhaseWatch,
): Promise<PhaseResult> {
  await watch?.start();
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  let done = 0;
  let bad = 0;
  const out = await Deno.makeTempFile();
  try {
    while (performance.now() < end || done + bad < atLeast) {
      if (await downloadOnce(pair, bytes, out)) done++;
      else bad++;
    }
  } finally {
    await Deno.remove(out);
  }
  const s = (performance.now() - t0) / 1000;
  const w = await watch?.stop();
  return { downloads: done, bad, bytesPerSecond: (done * bytes) / s, watch: w };
}

/** Downloads counted by the half of the flood's period they ran in. */
export interface AlternatingResult {
  /** Downloads in the flood's off halves. */
  quiet: PhaseResult;
  /** Downloads in its on halves. */
  flooded: PhaseResult;
  /** Downloads left out (across a switch or just after one). */
  straddled: number;
}

/**
 * curl downloads for `seconds` while the flooder alternates (on in the first half of each
 * `periodMs` from `startEpochMs`), each counted for its half.
 */
export async function alternatingDownloads(
  pair: VethPair,
  bytes: number,
  seconds: number,
  periodMs: number,
  startEpochMs: number,
  watch?: PhaseWatch,
): Promise<AlternatingResult> {
  await watch?.start();
  const half = periodMs / 2;
  const windowOf = (t: number) => Math.floor((t - startEpochMs) / half);
  const sums = [{ done: 0, bad: 0, ms: 0 }, { done: 0, bad: 0, ms: 0 }]; // [off, on]
  let straddled = 0;
  const end = performance.now() + seconds * 1000;
  const out = await Deno.makeTempFile();
  try {
    while (performance.now() < end) {
      const a = Date.now();
      const ok = await downloadOnce(pair, bytes, out);
      const b = Date.now();
      const w = windowOf(a);
      if (w !== windowOf(b) || a - startEpochMs - w * half < 20) {
        straddled++;
        continue;
      }
      const s = sums[w % 2 === 0 ? 1 : 0];
      if (ok) s.done++;
      else s.bad++;
      s.ms += b - a;
    }
  } finally {
    await Deno.remove(out);
  }
  const w = await watch?.stop();
  const result = (
    s: { done: number; bad: number; ms: number },
  ): PhaseResult => ({
    downloads: s.done,
    bad: s.bad,
    bytesPerSecond: s.ms > 0 ? (s.done * bytes) / (s.ms / 1000) : 0,
  });
  return {
    quiet: result(sums[0]),
    flooded: { ...result(sums[1]), watch: w },
    straddled,
  };
}

/**
 * Peer-side set-up: the spoofed addresses on the peer interface (the kernel answers ARP for
 * them), and TCP to them dropped at the interface's ingress (a netdev hook, before the
 * kernel's TCP sees it).
 */
export async function spoofedSources(
  pair: VethPair,
  n: number,
): Promise<[string, string]> {
  const first = 10;
  const last = first + n - 1;
  if (last > 250) {
    throw new RangeError("at most 241 spoofed sources fit 198.18.0.10-250");
  }
  const script = [];
  for (let k = first; k <= last; k++) {
    script.push(`address add 198.18.0.${k}/32 dev ${pair.peerIf}`);
  }
  const r = await pair.run(["ip", "-batch", "-"], {
    stdin: script.join("\n") + "\n",
  });
  if (r.code !== 0) throw new Error(`ip -batch: ${r.stderr}`);
  const nft = `table netdev ustack_flood {
  chain in {
    type filter hook ingress device ${pair.peerIf} priority 0; policy accept;
    ip daddr 198.18.0.${first}-198.18.0.${last} ip protocol tcp drop
  }
}`;
  const f = await pair.run(["nft", "-f", "-"], { stdin: nft });
  if (f.code !== 0) throw new Error(`nft: ${f.stderr}`);
  return [`198.18.0.${first}`, `198.18.0.${last}`];
}

/** The flood command on the peer end (bench/syn_flood.ts). */
export function floodCommand(
  pair: VethPair,
  range: [string, string],
  rate: number,
  seconds: number,
  periodMs?: number,
): string[] {
  const tool = new URL("./syn_flood.ts", import.meta.url).pathname;
  return [
    Deno.execPath(),
    "run",
    "--allow-ffi",
    "--allow-read",
    tool,
    "--if",
    pair.peerIf,
    "--src-mac",
    formatMac(pair.peerMac),
    "--dst-mac",
    formatMac(pair.stackMac),
    "--src",
    `${range[0]}-${range[1]}`,
    "--dst",
    pair.stackAddr,
    "--port",
    "80",
    "--rate",
    String(rate),
    "--seconds",
    String(seconds),
    ...(periodMs === undefined ? [] : ["--period-ms", String(periodMs)]),
  ];
}

/** The kernel reference's server: `Deno.serve` with `serve --http`'s handler. */
const KERNEL_SERVER = new URL("./http_kernel_server.ts", import.meta.url).pathname;

/** Start `server` in the pair's stack namespace; resolves once it listens. */
async function startServer(
  pair: VethPair,
  server: FloodServer,
  o: FloodOptions,
): Promise<CliProcess> {
  if (server.kind === "kernel") {
    const s = pair.stackNs;
    const add = await runCommand([
      "ip",
      "-n",
      s,
      "addr",
      "add",
      `${pair.stackAddr}/${pair.prefixLen}`,
      "dev",
      pair.stackIf,
    ]);
    if (add.code !== 0) throw new Error(`ip addr add: ${add.stderr}`);
    const p = new CliProcess(
      pair.spawnInStackNs(
        [
          Deno.execPath(),
          "run",
          "--allow-net",
          "--allow-read",
          KERNEL_SERVER,
          pair.stackAddr,
          "80",
        ],
        { stdout: "piped", stderr: "piped" },
      ),
    );
    await p.waitForLine(/ready/, 30_000);
    return p;
  }
  const args = [
    "serve",
    "--http",
    "80",
    "--if",
    pair.stackIf,
    "--addr",
    `${pair.stackAddr}/${pair.prefixLen}`,
    "--rx-ring",
    "v3",
    "--json",
    ...(server.flags ?? []),
  ];
  const flags = o.cpuProfDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${o.cpuProfDir}`];
  const cmd = cliCommand(args, flags, server.cli);
  const p = new CliProcess(
    pair.spawnInStackNs(cmd, { stdout: "piped", stderr: "piped" }),
  );
  await p.waitForLine(/"event":"ready"/, 30_000);
  return p;
}

/** {@link runFlood}'s `--alternate` phase; the record. */
async function alternatingRun(
  pair: VethPair,
  serve: CliProcess,
  server: FloodServer,
  o: FloodOptions,
  range: [string, string],
  pids: Record<string, number | undefined>,
  watch: PhaseWatch,
  step: (name: string) => void,
  steps: Record<string, number>,
): Promise<Record<string, unknown>> {
  const period = o.alternateMs!;
  const flooder = new CliProcess(
    pair.spawn(floodCommand(pair, range, o.rate, 2 * o.seconds + 2, period), {
      stdout: "piped",
      stderr: "piped",
    }),
  );
  pids.flooder = flooder.pid;
  await flooder.waitForLine(/"event":"start"/, 30_000);
  const start = JSON.parse(flooder.lines.find((l) => l.includes('"event":"start"'))!)
    .epochMs;
  const r = await alternatingDownloads(
    pair,
    o.bytes,
    2 * o.seconds,
    period,
    start,
    watch,
  );
  step("alternated");
  const code = await flooder.exited();
  const flood = JSON.parse(
    flooder.lines.find((l) => l.startsWith('{"sent"')) ?? "{}",
  );
  await serve.stop();
  step("stopped");
  const stats = server.kind === "ustack" ? serve.statsEvent() : undefined;
  const q = r.quiet.bytesPerSecond;
  return {
    server: server.name,
    options: o,
    flood: { ...flood, rateOn: (flood.rate ?? 0) * 2 },
    floodExit: code,
    quiet: r.quiet,
    flooded: r.flooded,
    straddled: r.straddled,
    ratio: q > 0 ? r.flooded.bytesPerSecond / q : null,
    tcp: stats?.tcp,
    arp: stats?.arp,
    link: stats?.link,
    stepsMs: steps,
  };
}

/** Both phases against one server on a fresh veth pair; the record. */
export async function runFlood(
  o: FloodOptions,
  server: FloodServer = { name: "ustack", kind: "ustack" },
): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const steps: Record<string, number> = {};
  const step = (name: string) => steps[name] = Math.round(performance.now() - t0);
  const pair = await createVethPair({ ipv6: false });
  let serve: CliProcess | undefined;
  try {
    step("pair");
    serve = await startServer(pair, server, o);
    step("ready");
    const range = await spoofedSources(pair, o.sources);
    const pids: Record<string, number | undefined> = { server: serve.pid };
    const watch = new PhaseWatch(() => pids);
    if (o.alternateMs !== undefined) {
      return await alternatingRun(
        pair,
        serve,
        server,
        o,
        range,
        pids,
        watch,
        step,
        steps,
      );
    }
    const quiet = await downloads(pair, o.bytes, o.seconds, 0, watch);
    step("quiet");
    const flooder = new CliProcess(
      pair.spawn(floodCommand(pair, range, o.rate, o.seconds + 2), {
        stdout: "piped",
        stderr: "piped",
      }),
    );
    pids.flooder = flooder.pid;
    await new Promise((r) => setTimeout(r, 1000)); // the flood is on
    const flooded = await downloads(pair, o.bytes, o.seconds, 0, watch);
    step("flooded");
    const code = await flooder.exited();
    step("flooderExit");
    const flood = JSON.parse(
      flooder.lines.find((l) => l.startsWith('{"sent"')) ?? "{}",
    );
    await serve.stop();
    step("stopped");
    const stats = server.kind === "ustack" ? serve.statsEvent() : undefined;
    return {
      server: server.name,
      options: o,
      flood,
      floodExit: code,
      quiet,
      flooded,
      ratio: quiet.bytesPerSecond > 0 ? flooded.bytesPerSecond / quiet.bytesPerSecond : null,
      tcp: stats?.tcp,
      arp: stats?.arp,
      link: stats?.link,
      stepsMs: steps,
    };
  } finally {
    await serve?.stop().catch(() => {});
    await pair.destroy();
    console.error(
      `${server.name}: ${JSON.stringify(steps)}, destroyed at ${
        Math.round(performance.now() - t0)
      } ms`,
    );
  }
}

/** One line per server: the ratio, the rates, the flood's rate and the flooded phase's CPU. */
export function floodLine(r: Record<string, unknown>): string {
  const q = r.quiet as PhaseResult;
  const f = r.flooded as PhaseResult;
  const fl = r.flood as { rate?: number; rateOn?: number };
  const w = (f.watch ?? {}) as {
    cpu?: Record<string, number>;
    machine?: Record<string, number>;
  };
  const mb = (x: number) => (x / 1e6).toFixed(1);
  return `${r.server}: ratio ${(r.ratio as number ?? 0).toFixed(2)}, ${mb(q.bytesPerSecond)} → ${
    mb(f.bytesPerSecond)
  } MB/s, bad ${q.bad + f.bad}, flood ${Math.round(fl.rateOn ?? fl.rate ?? 0)}/s, quiet nice ${
    ((q.watch ?? {}) as { machine?: Record<string, number> }).machine?.nice ??
      "-"
  }; flooded cpu ${JSON.stringify(w.cpu ?? {})} machine ${JSON.stringify(w.machine ?? {})}`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      rate: { type: "string" },
      seconds: { type: "string" },
      sources: { type: "string" },
      bytes: { type: "string" },
      "cpu-prof": { type: "string" },
      servers: { type: "string" },
      "base-cli": { type: "string", multiple: true },
      variant: { type: "string", multiple: true },
      rotate: { type: "string" },
      alternate: { type: "string" },
      out: { type: "string" },
    },
  });
  const o: FloodOptions = {
    rate: Number(values.rate ?? 200_000),
    seconds: Number(values.seconds ?? 10),
    sources: Number(values.sources ?? 200),
    bytes: Number(values.bytes ?? 1_000_000),
    cpuProfDir: values["cpu-prof"],
    alternateMs: values.alternate === undefined ? undefined : Number(values.alternate),
  };
  const servers: FloodServer[] = [];
  for (const name of (values.servers ?? "ustack,kernel").split(",")) {
    if (name === "ustack" || name === "kernel") {
      servers.push({ name, kind: name });
    } else throw new Error(`--servers: ${name} is neither ustack nor kernel`);
  }
  (values["base-cli"] ?? []).forEach((cli, i) =>
    servers.push({ name: `base${i + 1}`, kind: "ustack", cli })
  );
  for (const v of values.variant ?? []) {
    const [name, flags] = parseVariant(v);
    servers.push({ name, kind: "ustack", flags });
  }
  const k = Number(values.rotate ?? 0) % servers.length;
  const order = [...servers.slice(k), ...servers.slice(0, k)];
  const records = [];
  for (const server of order) {
    const r = await runFlood(o, server);
    records.push(r);
    console.error(floodLine(r));
  }
  const text = JSON.stringify(
    records.length === 1 ? records[0] : records,
    null,
    2,
  );
  if (values.out !== undefined) {
    await Deno.writeTextFile(values.out, text + "\n");
  }
  console.log(text);
}
