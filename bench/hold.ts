/**
 * `bench/hold.ts`: how many connections two stacks hold and what each costs in process memory.
 * `pingpong server` on the peer end, `pingpong client --hold` on the stack end (one process
 * each, one veth pair), source addresses from several `--addr` so the four-tuples fit the
 * port space (28,232 ephemeral ports per address). Two runs: a small one (`--base`
 * connections) and the real one; the bytes per connection of each side are the difference of
 * their RSS at the peak over the difference of connections, so start-up memory (code, the
 * packet pool) does not count.
 *
 * ```
 * deno run --allow-all bench/hold.ts [-n 100000] [--base 1000] [-C 512] [--out FILE]
 * ```
 *
 * Needs root. The namespaces are deleted at the end.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { lastJson } from "./proc_output.ts";
import { BenchLink, ustackCommand } from "./netns.ts";

/** Ephemeral ports per source address (Linux's default range, 32768–60999). */
const PORTS_PER_ADDR = 28_232;
/** The echo port. */
const PORT = 5400;

/** What one run measured. */
export interface HoldRun {
  /** Connections asked for. */
  connections: number;
  /** The client's `held` event. */
  held: Record<string, any>;
  /** The client's summary. */
  client: Record<string, any>;
  /** The server's summary (its peak connections and memory). */
  server: Record<string, any>;
}

/**
 * One run: `pingpong server` on the peer end with `serverOpts` (its link options), then
 * `pingpong client --hold 1` of `n` connections, `conc` connecting at once, from the stack end
 * with `clientOpts` (its link options, one address) and one more source address in the same
 * /24 per 28,000 connections beyond the first address's ports. Fresh processes; the server is
 * stopped at the end (its summary read).
 */
export async function holdRun(
  link: BenchLink,
  n: number,
  conc: number,
  serverOpts: string[],
  clientOpts: string[],
): Promise<HoldRun> {
  const addrs: string[] = [];
  const prefix = link.addr("stack").split(".").slice(0, 3).join(".");
  const more = Math.ceil(n / (PORTS_PER_ADDR - 200)) - 1;
  for (let i = 0; i < more; i++) addrs.push("--addr", `${prefix}.${100 + i}/24`);
  const server = link.start(
    "peer",
    ustackCommand(["pingpong", "server", "-p", String(PORT), ...serverOpts, "--json"]),
  );
  try {
    await server.waitForLine(/"event":"ready"/, 30_000);
    const args = [
      "pingpong",
      "client",
      link.addr("peer"),
      "-p",
      String(PORT),
      "--hold",
      "1",
      "-C",
      String(conc),
      "-n",
      String(n),
      "--json",
      ...clientOpts,
      ...addrs,
    ];
    const f = await link.run("stack", ustackCommand(args), 1_800_000);
    if (f.code !== 0) throw new Error(`client failed (${f.code}): ${f.stderr.slice(-800)}`);
    const held = lastJson(f.stdout, "held");
    const client = lastJson(f.stdout, "summary");
    const sf = await server.stop(60_000);
    return { connections: n, held, client, server: lastJson(sf.stdout, "summary") };
  } finally {
    await server.stop(10_000);
  }
}

/** Run the benchmark; the exit status. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      n: { type: "string", short: "n" },
      base: { type: "string" },
      conc: { type: "string", short: "C" },
      out: { type: "string" },
    },
  });
  const n = Number(values.n ?? 100_000);
  const base = Number(values.base ?? 1_000);
  const conc = Number(values.conc ?? 512);
  const link = await BenchLink.create(1500);
  try {
    await link.setKernelAddress("peer", false);
    const server = link.stackOptions("peer", "af_packet");
    const client = link.stackOptions("stack", "af_packet");
    const small = await holdRun(link, base, conc, server, client);
    const big = await holdRun(link, n, conc, server, client);
    const dn = big.connections - small.connections;
    const record = {
      date: new Date().toISOString(),
      connections: n,
      held: big.held.connections,
      failed: big.held.failed,
      connectSeconds: big.held.seconds,
      roundTrips: big.client.round_trips,
      roundTripsFailed: big.client.round_trip_failed,
      clientBytesPerConnection: (big.held.rss_bytes - small.held.rss_bytes) / dn,
      clientHeapBytesPerConnection: (big.held.heap_bytes - small.held.heap_bytes) / dn,
      serverBytesPerConnection: (big.server.rss_bytes - small.server.rss_bytes) / dn,
      serverHeapBytesPerConnection: (big.server.heap_bytes - small.server.heap_bytes) / dn,
      small,
      big,
    };
    console.log(JSON.stringify(record, null, 2));
    if (values.out !== undefined) {
      await Deno.writeTextFile(values.out, JSON.stringify(record, null, 2) + "\n");
    }
    return big.held.failed === 0 ? 0 : 1;
  } finally {
    await link.destroy();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
