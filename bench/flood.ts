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
 * ```
 *
 * `--cpu-prof DIR` writes a V8 CPU profile of the stack process (both phases) into DIR.
 *
 * Needs root, `curl`, `nft`. The namespaces are deleted at the end.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { formatMac } from "../link/ethernet.ts";
import { createVethPair, type VethPair } from "../tests/harness/netns.ts";
import { cliCommand, CliProcess } from "../tests/harness/ustack_cli.ts";

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
}

/** What a phase measured. */
export interface PhaseResult {
  /** Downloads completed. */
  downloads: number;
  /** Downloads whose bytes were not the pattern (or that failed). */
  bad: number;
  /** Bytes per second downloaded. */
  bytesPerSecond: number;
}

/** The pattern `serve --http` sends for /bytes/N: byte i is i % 251. */
function patternOk(data: Uint8Array, n: number): boolean {
  if (data.length !== n) return false;
  for (let i = 0; i < n; i++) if (data[i] !== i % 251) return false;
  return true;
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
): Promise<PhaseResult> {
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  let done = 0;
  let bad = 0;
  const out = await Deno.makeTempFile();
  try {
    while (performance.now() < end || done + bad < atLeast) {
      const r = await pair.run(
        ["curl", "-s", "--max-time", "30", "-o", out, `http://${pair.stackAddr}/bytes/${bytes}`],
        { timeoutMs: 40_000 },
      );
      if (r.code === 0 && patternOk(await Deno.readFile(out), bytes)) done++;
      else bad++;
    }
  } finally {
    await Deno.remove(out);
  }
  const s = (performance.now() - t0) / 1000;
  return { downloads: done, bad, bytesPerSecond: (done * bytes) / s };
}

/**
 * Peer-side set-up: the spoofed addresses on the peer interface (the kernel answers ARP for
 * them), and TCP to them dropped at the interface's ingress (a netdev hook, before the
 * kernel's TCP sees it).
 */
export async function spoofedSources(pair: VethPair, n: number): Promise<[string, string]> {
  const first = 10;
  const last = first + n - 1;
  if (last > 250) throw new RangeError("at most 241 spoofed sources fit 198.18.0.10-250");
  const script = [];
  for (let k = first; k <= last; k++) {
    script.push(`address add 198.18.0.${k}/32 dev ${pair.peerIf}`);
  }
  const r = await pair.run(["ip", "-batch", "-"], { stdin: script.join("\n") + "\n" });
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
  ];
}

/** Run both phases; the record. */
export async function runFlood(o: FloodOptions): Promise<Record<string, unknown>> {
  const pair = await createVethPair({ ipv6: false });
  const serve = new CliProcess(
    pair.spawnInStackNs(
      cliCommand([
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
      ], o.cpuProfDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${o.cpuProfDir}`]),
      { stdout: "piped", stderr: "piped" },
    ),
  );
  try {
    await serve.waitForLine(/"event":"ready"/, 30_000);
    const range = await spoofedSources(pair, o.sources);
    const quiet = await downloads(pair, o.bytes, o.seconds);
    const flooder = new CliProcess(
      pair.spawn(floodCommand(pair, range, o.rate, o.seconds + 2), {
        stdout: "piped",
        stderr: "piped",
      }),
    );
    await new Promise((r) => setTimeout(r, 1000)); // the flood is on
    const flooded = await downloads(pair, o.bytes, o.seconds);
    const code = await flooder.exited();
    const flood = JSON.parse(flooder.lines.find((l) => l.startsWith("{")) ?? "{}");
    await serve.stop();
    const stats = serve.statsEvent();
    return {
      options: o,
      flood,
      floodExit: code,
      quiet,
      flooded,
      ratio: quiet.bytesPerSecond > 0 ? flooded.bytesPerSecond / quiet.bytesPerSecond : null,
      tcp: stats?.tcp,
      arp: stats?.arp,
      link: stats?.link,
    };
  } finally {
    await serve.stop().catch(() => {});
    await pair.destroy();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      rate: { type: "string" },
      seconds: { type: "string" },
      sources: { type: "string" },
      bytes: { type: "string" },
      "cpu-prof": { type: "string" },
    },
  });
  const r = await runFlood({
    rate: Number(values.rate ?? 200_000),
    seconds: Number(values.seconds ?? 10),
    sources: Number(values.sources ?? 200),
    bytes: Number(values.bytes ?? 1_000_000),
    cpuProfDir: values["cpu-prof"],
  });
  console.log(JSON.stringify(r, null, 2));
}
