/**
 * UDP sender A/B: `ustack uperf client --udp -l 8900` from this checkout and from another one
 * (`--base-cli`, e.g. a `git archive main` unpacked elsewhere), interleaved round by round on
 * one veth pair into a Python kernel-socket sink; prints sent and received Gbit/s per run and
 * writes a JSON record. Root (namespaces). Same link, same sink, back to back: the ratio of
 * the two is the figure to read, not the absolute rates.
 *
 * ```sh
 * deno run -A bench/udp_ab.ts --base-cli /tmp/base/cli/ustack.ts --mtu 1500 --rounds 3
 * deno run -A bench/udp_ab.ts --variant "sync=--tx-kick sync" --variant "thread=--tx-kick thread"
 * ```
 *
 * `--variant NAME=FLAGS` runs this checkout's CLI once per variant with FLAGS added (in place of
 * the one plain configuration `this`); `--base-cli` is then optional.
 *
 * `--direction rx` measures the receiver instead: e2e's Python kernel sender on the peer end
 * into `ustack uperf server --udp` on the stack end, each round preceded by the same sender into
 * a Python kernel sink on the stack end (kernel→kernel, the baseline of the round). It prints the
 * received Gbit/s, the share of the sent datagrams received, and where the stack lost the rest
 * (the server summary's `losses`: RX ring drops, reassembly, socket queue).
 *
 * ```sh
 * deno run -A bench/udp_ab.ts --direction rx --base-cli /tmp/base/cli/ustack.ts --mtu 9000
 * ```
 *
 * `--ipv6` sends over IPv6 (fd00::1 → fd00::2; the stack has both addresses), with the kernel's
 * IPv6 turned off on the stack's interface while a stack owns it, or left on (link-local only,
 * as on a host) with `--kernel-ipv6`.
 *
 * `--hog N` runs N busy-looping processes (in the root namespace, ended after every round) for
 * the whole of each round: the load another session's benchmark puts on a shared machine.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { lastJson, PY_SENDER, PY_SINK } from "./e2e.ts";
import { BenchLink, parseVariant, pyFamily, USTACK_CLI, ustackCommand } from "./netns.ts";

/** Run the A/B; resolves to the exit status. */
async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      "base-cli": { type: "string" },
      variant: { type: "string", multiple: true },
      mtu: { type: "string", default: "1500" },
      rounds: { type: "string", default: "3" },
      seconds: { type: "string", default: "2" },
      len: { type: "string", default: "8900" },
      out: { type: "string" },
      direction: { type: "string", default: "tx" },
      hog: { type: "string", default: "0" },
      ipv6: { type: "boolean", default: false },
      "kernel-ipv6": { type: "boolean", default: false },
    },
  });
  if (values.direction !== "tx" && values.direction !== "rx") {
    console.error("udp_ab.ts: --direction is tx or rx");
    return 2;
  }
  // rx: the kernel baseline is always measured, so this checkout alone is an experiment too.
  const variants = (values.variant ?? []).map((v) => parseVariant(v));
  if (values["base-cli"] === undefined && variants.length === 0 && values.direction === "tx") {
    console.error(
      "usage: udp_ab.ts --base-cli PATH | --variant NAME=FLAGS... [--mtu N] [--rounds N] " +
        "[--seconds S] [--out F]",
    );
    return 2;
  }
  // [name, cli, extra flags]
  const clis: [string, string, string[]][] = [];
  if (values["base-cli"] !== undefined) clis.push(["base", values["base-cli"], []]);
  if (variants.length === 0) clis.push(["this", USTACK_CLI, []]);
  for (const [name, flags] of variants) clis.push([name, USTACK_CLI, flags]);
  const mtu = Number(values.mtu);
  const link = await BenchLink.create(mtu, {
    ipv6: values.ipv6,
    stackKernelIpv6: values["kernel-ipv6"],
  });
  const runs: Record<string, unknown>[] = [];
  if (values.direction === "rx") {
    try {
      await receiveRounds(link, clis, values, runs);
    } finally {
      await link.destroy();
    }
    await writeRecord(values.out, { benchmark: "udp_ab", direction: "rx", mtu, clis, runs });
    return 0;
  }
  try {
    let port = 6000;
    for (let r = 0; r < Number(values.rounds); r++) {
      for (const [name, cli, flags] of clis) {
        port++;
        // e2e's kernel-socket sink: UDP on PORT, done 0.5 s after the last datagram (5 s for the first).
        const sink = link.start("peer", [
          "python3",
          "-c",
          PY_SINK,
          "udp",
          String(port),
          "0.5",
          "5",
        ]);
        await new Promise((res) => setTimeout(res, 400));
        const before = await link.udpCounters("peer");
        const cmd = [Deno.execPath(), "run", "-A", cli, "uperf", "client", link.addr("peer")];
        cmd.push("--udp", "-l", values.len!, "-p", String(port), "-t", values.seconds!, "--json");
        cmd.push(...link.stackOptions("stack", "af_packet"), ...flags);
        const f = await link.run("stack", cmd, 30_000);
        const got = await sink.finish(10_000);
        const after = await link.udpCounters("peer");
        const j = lastJson(f.stdout, "summary");
        const rx = lastJson(got.stdout).bytes * 8 / j.seconds / 1e9;
        // The kernel receiver's view: datagrams in, and those its socket buffer had no room for.
        const kernelInDatagrams = after.InDatagrams - before.InDatagrams;
        const kernelRcvbufErrors = after.RcvbufErrors - before.RcvbufErrors;
        runs.push({
          round: r,
          cli: name,
          sentGbps: j.gbps,
          receivedGbps: rx,
          kernelInDatagrams,
          kernelRcvbufErrors,
          client: j,
        });
        console.log(
          `mtu ${mtu} round ${r} ${name}: sent ${j.gbps.toFixed(2)} Gbit/s, ` +
            `received ${rx.toFixed(2)} Gbit/s, RcvbufErrors ${kernelRcvbufErrors}`,
        );
      }
    }
  } finally {
    await link.destroy();
  }
  await writeRecord(values.out, { benchmark: "udp_ab", mtu, clis, runs });
  return 0;
}

/** Write `record` (dated) as JSON to `out`, if given. */
async function writeRecord(
  out: string | undefined,
  record: Record<string, unknown>,
): Promise<void> {
  if (out === undefined) return;
  const dated = { ...record, date: new Date().toISOString() };
  await Deno.writeTextFile(out, JSON.stringify(dated, null, 2) + "\n");
}

/** The Python kernel sender on `from` to `to`:PORT for `seconds`; its JSON. */
async function pySend(
  link: BenchLink,
  from: "stack" | "peer",
  to: string,
  port: number,
  seconds: string,
  len: string,
): Promise<Record<string, number>> {
  const cmd = ["python3", "-c", pyFamily(PY_SENDER, link.family), "udp", to, String(port)];
  cmd.push(seconds, len);
  const f = await link.run(from, cmd, Number(seconds) * 1000 + 20_000);
  return lastJson(f.stdout);
}

/**
 * `--direction rx`: per round, kernel→kernel (peer sender, stack-end kernel sink), then each
 * CLI's `uperf server --udp` on the stack end fed by the same sender.
 */
async function receiveRounds(
  link: BenchLink,
  clis: [string, string, string[]][],
  values: { rounds?: string; seconds?: string; len?: string; hog?: string },
  runs: Record<string, unknown>[],
): Promise<void> {
  let port = 6500;
  for (let r = 0; r < Number(values.rounds); r++) {
    const hogs = startHogs(Number(values.hog ?? "0"));
    try {
      port = await receiveRound(link, clis, values, runs, r, port);
    } finally {
      await stopHogs(hogs);
    }
  }
}

/** `n` busy-looping processes (a CPU hog each); the caller kills them. */
export function startHogs(n: number): Deno.ChildProcess[] {
  const hogs: Deno.ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    hogs.push(
      new Deno.Command("sh", { args: ["-c", "while :; do :; done"], stdout: "null" }).spawn(),
    );
  }
  return hogs;
}

/** Kill the hogs {@link startHogs} started and wait for each to be gone. */
export async function stopHogs(hogs: Deno.ChildProcess[]): Promise<void> {
  for (const h of hogs) {
    try {
      h.kill("SIGKILL");
    } catch { /* already gone */ }
    await h.status;
  }
}

/** One round of {@link receiveRounds}; returns the last port used. */
async function receiveRound(
  link: BenchLink,
  clis: [string, string, string[]][],
  values: { rounds?: string; seconds?: string; len?: string },
  runs: Record<string, unknown>[],
  r: number,
  port: number,
): Promise<number> {
  const mtu = link.mtu;
  const len = values.len!;
  const datagrams = (bytes: number) => bytes / Number(len);
  port++;
  await link.setKernelAddress("stack", true);
  try {
    const sink = link.start("stack", [
      "python3",
      "-c",
      pyFamily(PY_SINK, link.family),
      "udp",
      String(port),
      "0.5",
      "5",
    ]);
    await sink.waitForLine(/^ready$/);
    const before = await link.udpCounters("stack");
    const sent = await pySend(link, "peer", link.addr("stack"), port, values.seconds!, len);
    const got = lastJson((await sink.finish(10_000)).stdout);
    const after = await link.udpCounters("stack");
    const rx = got.bytes * 8 / sent.seconds / 1e9;
    const share = got.bytes / sent.bytes;
    runs.push({
      round: r,
      cli: "kernel",
      sentGbps: sent.bytes * 8 / sent.seconds / 1e9,
      receivedGbps: rx,
      receivedShare: share,
      kernelRcvbufErrors: after.RcvbufErrors - before.RcvbufErrors,
      kernelInDatagrams: after.InDatagrams - before.InDatagrams,
      sender: sent,
    });
    console.log(
      `mtu ${mtu} round ${r} kernel: received ${rx.toFixed(2)} Gbit/s ` +
        `(${(100 * share).toFixed(1)} % of ${datagrams(sent.bytes)}), ` +
        `RcvbufErrors ${after.RcvbufErrors - before.RcvbufErrors}`,
    );
  } finally {
    await link.setKernelAddress("stack", false);
  }
  for (const [name, cli, flags] of clis) {
    port++;
    // USTACK_BENCH_DENO_FLAGS reach the server (e.g. `--v8-flags=--trace-gc`); its lines
    // that are not JSON are printed after the run's line.
    const args = ["uperf", "server", "--udp", "-p", String(port), "-t", "60", "--json"];
    args.push(...link.stackOptions("stack", "af_packet"), ...flags);
    const cmd = ustackCommand(args, cli);
    const server = link.start("stack", cmd);
    try {
      await server.waitForLine(/"event":"ready"/, 60_000);
      await link.waitReachable("stack"); // IPv6: the stack's address is past its DAD
      const ipBefore = await link.ipCounters("stack");
      const sent = await pySend(link, "peer", link.addr("stack"), port, values.seconds!, len);
      await new Promise((res) => setTimeout(res, 300));
      const ipAfter = await link.ipCounters("stack");
      // What reached the stack end's kernel during the run (its own IP receive; nstat's names).
      const kernelIp = Object.fromEntries(
        Object.keys(ipAfter).map((k) => [k, ipAfter[k] - (ipBefore[k] ?? 0)]),
      );
      const f = await server.stop(10_000);
      const j = lastJson(f.stdout, "summary");
      const intervals = f.stdout.split("\n").filter((l) =>
        l.startsWith("{") && l.includes('"interval"')
      )
        .map((l) => JSON.parse(l));
      const rx = j.bytes * 8 / sent.seconds / 1e9;
      const share = j.bytes / sent.bytes;
      const warmUp = f.stdout.includes('"warm_up"') ? lastJson(f.stdout, "warm_up") : null;
      const gc = traceGcCounts(f.stdout);
      runs.push({
        round: r,
        cli: name,
        sentGbps: sent.bytes * 8 / sent.seconds / 1e9,
        receivedGbps: rx,
        receivedShare: share,
        losses: j.losses,
        intervalLosses: intervals.map((i) => i.losses),
        warmUp,
        sender: sent,
        server: j,
        kernelIp,
        ...gc,
      });
      console.log(
        `mtu ${mtu} round ${r} ${name}: received ${rx.toFixed(2)} Gbit/s ` +
          `(${(100 * share).toFixed(1)} % of ${datagrams(sent.bytes)}), ` +
          `warm-up ${warmUp?.ms ?? 0} ms, losses ${
            JSON.stringify(j.losses)
          }, longest tick ${j.longestTickMs} ms, ` +
          `yield ${j.longestYieldMs} ms, stack end's kernel ${
            Object.entries(kernelIp).filter(([, v]) => v !== 0).map(([k, v]) => `${k} ${v}`)
              .join(" ") || "nothing"
          }, per second ${JSON.stringify(intervals.map((i) => i.losses?.rxKernelDrops))}` +
          (gc.gcScavenges === undefined ? "" : `, scavenges ${gc.gcScavenges} ` +
            `(median gap ${gc.gcScavengeMedianGapMs?.toFixed(1)} ms), ` +
            `mark-compacts ${gc.gcMarkCompacts}`),
      );
      const other = f.stdout.split("\n").filter((l) =>
        l !== "" && (Deno.env.get("UDP_AB_ALL") !== undefined || !l.startsWith("{"))
      );
      for (const l of other.slice(0, 60)) console.log(`  ${l}`);
    } finally {
      await server.stop();
    }
  }
  return port;
}

/** What {@link traceGcCounts} reads off a server's `--trace-gc` lines. */
interface TraceGcCounts {
  /** Scavenges of the whole run, warm-up included. */
  gcScavenges?: number;
  /** Mark-compacts of the whole run. */
  gcMarkCompacts?: number;
  /** Median ms between consecutive scavenges (the steady state's rhythm). */
  gcScavengeMedianGapMs?: number;
  /** Each scavenge's time (ms since the process started). */
  gcScavengeAtMs?: number[];
}

/**
 * With `USTACK_BENCH_DENO_FLAGS=--v8-flags=--trace-gc` the server prints a line per collection
 * (`[pid:isolate] 1234 ms: Scavenge …`): how many scavenges and mark-compacts its run made and
 * the median time between two scavenges; nothing without the flag.
 */
function traceGcCounts(stdout: string): TraceGcCounts {
  const at: number[] = [];
  let markCompacts = 0;
  for (const l of stdout.split("\n")) {
    const m = l.match(/\s([\d.]+) ms: (Scavenge|Mark-Compact|Mark-sweep)/i);
    if (m === null) continue;
    if (m[2] === "Scavenge") at.push(Number(m[1]));
    else markCompacts++;
  }
  if (at.length + markCompacts === 0) return {};
  const gaps = at.slice(1).map((t, i) => t - at[i]).sort((a, b) => a - b);
  return {
    gcScavenges: at.length,
    gcMarkCompacts: markCompacts,
    gcScavengeMedianGapMs: gaps.length > 0 ? gaps[gaps.length >> 1] : 0,
    gcScavengeAtMs: at,
  };
}

if (import.meta.main) Deno.exit(await main(Deno.args));
