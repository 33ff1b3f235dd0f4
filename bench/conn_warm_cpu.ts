/**
 * `bench/conn_warm_cpu.ts`: a WARM `pingpong --connect` pair's steady cost per connection, on
 * both sides. One veth pair (MTU 1500 or `--mtu`); per round and checkout, a fresh
 * `pingpong server` and one long `pingpong client --connect -C 32 -n N` (default warm-ups),
 * and a window of the client's per-second lines (`--from S` to `--to S`, well after its first
 * connections): the connections made in the window, each process's CPU over it (user +
 * system, clock ticks, by thread kind: `main` JavaScript, `v8` workers, `other`), so µs of CPU
 * per connection of a warm pair on each side. Each pair's record also holds the summaries'
 * counters (frames, kicks, polls, ticks over the whole run).
 *
 * ```
 * deno run --allow-all bench/conn_warm_cpu.ts [-n N] [--from S] [--to S] [--mtu M]
 *     [--rounds R] [--addrs K] [--base-cli PATH] [--deno-flags FLAGS] [--out FILE]
 * ```
 *
 * `--addrs K` (2) gives the client K source addresses, used in turn: from one address to one
 * server port the ephemeral range (28,232 ports) reused after `timeWaitReuseMs` (1 s, Linux's
 * `tcp_tw_reuse_delay`) caps a client at ~28,000 connections/s, and a warm pair reaches it.
 *
 * `--base-cli PATH` (also `--base`) adds a pair running another checkout's `cli/ustack.ts`
 * to every round (the order alternates per round). `--deno-flags "--cpu-prof --cpu-prof-dir=D"` passes deno flags
 * to both processes of every pair (profiling). Run it under the measurement lock.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { BenchLink, type BenchProcess, ustackCommand } from "./netns.ts";
import { threadTicks } from "./conn_warmup.ts";
import { lastJson } from "./e2e.ts";

const PORT = 7311;

interface Window {
  conns: number;
  seconds: number;
  client: Record<string, number>;
  server: Record<string, number>;
}

/** The process's last `event` JSON line, or null when it printed none. */
function summaryOf(text: string, event: string): Record<string, unknown> | null {
  try {
    return lastJson(text, event);
  } catch {
    return null;
  }
}

async function intervalAt(p: BenchProcess, second: number): Promise<number> {
  const line = await p.waitForLine(new RegExp(`"event":"interval","second":${second},`), 120_000);
  return Number(JSON.parse(line).connections);
}

/** {@link intervalAt} of the client; a client that ended first fails with its output. */
async function clientIntervalAt(c: BenchProcess, second: number): Promise<number> {
  try {
    return await intervalAt(c, second);
  } catch (e) {
    const f = await c.finish(10_000);
    throw new Error(`client: ${f.code} ${f.stdout.slice(-1500)} ${f.stderr.slice(-1500)}`, {
      cause: e,
    });
  }
}

/** `--addr` options for `k - 1` more client addresses (.102, .103, … of the link's /24). */
function extraAddrs(link: BenchLink, k: number): string[] {
  const base = link.addr("stack").split(".").slice(0, 3).join(".");
  const out: string[] = [];
  for (let i = 1; i < k; i++) out.push("--addr", `${base}.${101 + i}/24`);
  return out;
}

async function pair(
  link: BenchLink,
  addrs: number,
  cli: string | undefined,
  n: number,
  from: number,
  to: number,
  denoFlags: string[],
): Promise<Record<string, unknown>> {
  const srv = link.start(
    "peer",
    ustackCommand(
      [
        "pingpong",
        "server",
        "-p",
        String(PORT),
        "-l",
        "64",
        ...link.stackOptions("peer", "af_packet"),
        "--json",
      ],
      cli,
      denoFlags,
    ),
  );
  try {
    await srv.waitForLine(/"event":"ready"/, 60_000);
    const c = link.start(
      "stack",
      ustackCommand(
        [
          ...["pingpong", "client", link.addr("peer"), "-p", String(PORT), "--connect"],
          ...["-C", "32", "-n", String(n), "-l", "64", "--json"],
          ...link.stackOptions("stack", "af_packet"),
          ...extraAddrs(link, addrs),
        ],
        cli,
        denoFlags,
      ),
    );
    const n0 = await clientIntervalAt(c, from);
    const t0 = performance.now();
    const c0 = threadTicks(c.pid), s0 = threadTicks(srv.pid);
    const n1 = await clientIntervalAt(c, to);
    const t1 = performance.now();
    const c1 = threadTicks(c.pid), s1 = threadTicks(srv.pid);
    const f = await c.finish(180_000);
    const conns = n1 - n0;
    const us = (a: Record<string, number>, b: Record<string, number>) => {
      const o: Record<string, number> = {};
      let all = 0;
      for (const k of Object.keys(b)) {
        o[k] = Math.round(((b[k] - a[k]) * 10_000 / conns) * 10) / 10;
        all += b[k] - a[k];
      }
      o.all = Math.round((all * 10_000 / conns) * 10) / 10;
      return o;
    };
    const w: Window = {
      conns,
      seconds: Math.round(t1 - t0) / 1000,
      client: us(c0, c1),
      server: us(s0, s1),
    };
    const cs = summaryOf(f.stdout, "summary");
    const sf = await srv.stop(10_000);
    const ss = summaryOf(sf.stdout, "summary");
    return {
      window: w,
      conn_per_s_window: Math.round(conns / w.seconds),
      client_summary: cs,
      server_summary: ss,
      client_stderr: f.stderr.slice(-2000),
    };
  } finally {
    await srv.stop(10_000);
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      n: { type: "string", short: "n", default: "200000" },
      from: { type: "string", default: "3" },
      to: { type: "string", default: "7" },
      mtu: { type: "string", default: "1500" },
      rounds: { type: "string", default: "1" },
      addrs: { type: "string", default: "2" },
      base: { type: "string" },
      "base-cli": { type: "string" },
      "deno-flags": { type: "string", default: "" },
      out: { type: "string" },
    },
  });
  const denoFlags = values["deno-flags"]!.split(" ").filter((s) => s !== "");
  const checkouts: [string, string | undefined][] = [["this", undefined]];
  const baseCli = values["base-cli"] ?? values.base;
  if (baseCli !== undefined) {
    // A checkout's directory given for its CLI file made a server that never started (60 s).
    let isFile = false;
    try {
      isFile = Deno.statSync(baseCli).isFile;
    } catch { /* reported below */ }
    if (!isFile) {
      throw new Error(`--base-cli ${baseCli}: not a file (give the checkout's cli/ustack.ts)`);
    }
    checkouts.push(["base", baseCli]);
  }
  const rounds: Record<string, unknown>[] = [];
  for (let r = 0; r < Number(values.rounds); r++) {
    const link = await BenchLink.create(Number(values.mtu));
    try {
      await link.setKernelAddress("stack", false);
      await link.setKernelAddress("peer", false);
      const round: Record<string, unknown> = { load: Deno.loadavg() };
      const order = r % 2 === 0 ? checkouts : [...checkouts].reverse();
      for (const [name, cli] of order) {
        const j = await pair(
          link,
          Number(values.addrs),
          cli,
          Number(values.n),
          Number(values.from),
          Number(values.to),
          denoFlags,
        );
        round[name] = j;
        const w = j.window as Window;
        console.error(
          `round ${r + 1} ${name.padEnd(5)} ${j.conn_per_s_window}/s in window  ` +
            `client µs/conn ${JSON.stringify(w.client)} server ${JSON.stringify(w.server)}  ` +
            `load ${Deno.loadavg()[0].toFixed(2)}`,
        );
      }
      rounds.push(round);
    } finally {
      await link.destroy();
    }
  }
  const record = { date: new Date().toISOString(), mtu: Number(values.mtu), rounds };
  if (values.out !== undefined) {
    await Deno.writeTextFile(values.out, JSON.stringify(record, null, 2) + "\n");
  }
  console.log(JSON.stringify(record));
}
