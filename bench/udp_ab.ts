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
 * Each round starts with kernel→kernel (the Python kernel sender on the stack end's kernel into
 * the same sink; `--no-kernel`: not). Every run records what tells an underrun (the sender sent
 * less) from an overrun (the sink lost what it was sent): both ends' datagrams/s, the sink's
 * `RcvbufErrors`/`InErrors`, the veth's drops, the sender's rate per second, and the CPU of
 * every busy thread, of the machine, and how often sender and sink shared a CPU. `--pin same`
 * / `--pin other` (repeatable: each round runs every one) put sender and sink on one CPU or on
 * two (`taskset`).
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
 * the whole of each round, both directions: the load another session's benchmark puts on a
 * shared machine.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { lastJson, PY_SENDER, PY_SINK } from "./e2e.ts";
import { BenchLink, parseVariant, pyFamily, USTACK_CLI, ustackCommand } from "./netns.ts";
import { type RunContention, watchRun } from "./run_contention.ts";

/** A stack sender's start-up before its first datagram (as `bench/e2e.ts` allows for it). */
const STACK_START_MS = 500;

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
      "no-kernel": { type: "boolean", default: false },
      pin: { type: "string", multiple: true },
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
  const pins = (values.pin ?? ["none"]) as Pin[];
  if (pins.some((p) => !["none", "same", "other"].includes(p))) {
    console.error("udp_ab.ts: --pin is none, same or other");
    return 2;
  }
  try {
    let port = 6000;
    for (let r = 0; r < Number(values.rounds); r++) {
      const hogs = startHogs(Number(values.hog ?? "0"));
      try {
        for (const pin of pins) {
          const o = { ...values, pin };
          if (!values["no-kernel"]) {
            port++;
            runs.push(await sendRun(link, "kernel", null, [], r, port, o));
          }
          for (const [name, cli, flags] of clis) {
            port++;
            runs.push(await sendRun(link, name, cli, flags, r, port, o));
          }
        }
      } finally {
        await stopHogs(hogs);
      }
    }
  } finally {
    await link.destroy();
  }
  await writeRecord(values.out, { benchmark: "udp_ab", mtu, clis, runs });
  return 0;
}

/**
 * Where `--direction tx` puts sender and sink: wherever the scheduler likes (`none`), both on
 * CPU 0 (`same`), or the sender on CPU 0 and the sink on CPU 1 (`other`) — every thread of
 * each process, with `taskset`.
 */
type Pin = "none" | "same" | "other";

/**
 * `cmd` run on `cpu` only (`taskset -c`), or as it is when `cpu` is null.
 *
 * @example
 * ```ts
 * pinned(1, ["python3", "-c", "pass"]); // ["taskset", "-c", "1", "python3", "-c", "pass"]
 * ```
 */
export function pinned(cpu: number | null, cmd: string[]): string[] {
  return cpu === null ? cmd : ["taskset", "-c", String(cpu), ...cmd];
}

/** A sink that lost more than this share of what reached it was overrun. */
export const OVERRUN_SHARE = 0.05;

/**
 * What limited a `--direction tx` run: `"overrun"` when the sink's socket dropped more than
 * {@link OVERRUN_SHARE} of the datagrams that reached it (the sender outran the reader: what
 * was received is the reader's rate), `"sender"` otherwise (what was received is what was
 * sent: the sender's rate, or sender and sink sharing a CPU).
 *
 * @example
 * ```ts
 * sendLimit(180_000, 3_000); // "sender"
 * sendLimit(120_000, 60_000); // "overrun"
 * ```
 */
export function sendLimit(inDatagrams: number, rcvbufErrors: number): "overrun" | "sender" {
  const reached = inDatagrams + rcvbufErrors;
  return reached > 0 && rcvbufErrors / reached > OVERRUN_SHARE ? "overrun" : "sender";
}

/** Options of {@link sendRun}. */
interface SendOptions {
  seconds?: string;
  len?: string;
  pin?: Pin;
}

/**
 * One `--direction tx` run into e2e's kernel-socket sink on the peer end: `cli`'s
 * `uperf client --udp` on the stack end, or with `cli` null the Python kernel sender from the
 * stack end's kernel (kernel→kernel, the round's baseline). What it records, so that a slow run
 * can be told apart — **underrun** (the sender sent less) from **overrun** (it sent more than
 * the sink took, lost at the sink): the sender's and the sink's datagrams/s, the sink
 * namespace's `RcvbufErrors`/`InErrors`, both veth ends' drops, the sender's per-second rates,
 * and over the middle half of the run every busy thread's CPU (the sender's, the sink's), the
 * machine's and how often they shared a CPU ({@link watchRun}).
 */
async function sendRun(
  link: BenchLink,
  name: string,
  cli: string | null,
  flags: string[],
  r: number,
  port: number,
  values: SendOptions,
): Promise<Record<string, unknown>> {
  const mtu = link.mtu;
  const len = Number(values.len);
  const ms = Number(values.seconds) * 1000;
  // e2e's kernel-socket sink: UDP on PORT, done 0.5 s after the last datagram (5 s for the first).
  const pin = values.pin ?? "none";
  const senderCpu = pin === "none" ? null : 0;
  const sink = link.start(
    "peer",
    pinned(pin === "none" ? null : pin === "same" ? 0 : 1, udpSinkCommand(link, port)),
  );
  await sink.waitForLine(/^ready$/);
  if (cli === null) await link.setKernelAddress("stack", true);
  let sent: { bytes: number; seconds: number; packets: number };
  let client: Record<string, unknown> | null = null;
  let intervals: number[] = [];
  let watching: Promise<RunContention | null>;
  const before = await link.udpCounters("peer");
  const peerBefore = await link.counters("peer");
  const stackBefore = await link.counters("stack");
  try {
    if (cli === null) {
      watching = watchRun(() => link.pidsBySide(), ms / 4, ms / 2).catch(() => null);
      const j = await pySend(
        link,
        "stack",
        link.addr("peer"),
        port,
        values.seconds!,
        values.len!,
        senderCpu,
      );
      sent = { bytes: j.bytes, seconds: j.seconds, packets: j.bytes / len };
    } else {
      watching = watchRun(() => link.pidsBySide(), STACK_START_MS + ms / 4, ms / 2)
        .catch(() => null);
      const cmd = ustackCommand(
        ["uperf", "client", link.addr("peer"), "--udp", "-l", values.len!, "-p", String(port)],
        cli,
      );
      cmd.push("-t", values.seconds!, "--json", ...link.stackOptions("stack", "af_packet"));
      cmd.push(...flags);
      const f = await link.run("stack", pinned(senderCpu, cmd), 30_000);
      const j = lastJson(f.stdout, "summary");
      client = j;
      sent = { bytes: j.bytes, seconds: j.seconds, packets: j.packets };
      intervals = f.stdout.split("\n").filter((l) => l.startsWith("{") && l.includes('"interval"'))
        .map((l) => Math.round(JSON.parse(l).gbps * 100) / 100);
    }
  } catch (e) {
    // The sender failed: the sink would wait out its 5 s first-datagram limit; stop it now.
    await sink.stop();
    throw e;
  } finally {
    if (cli === null) await link.setKernelAddress("stack", false);
  }
  const got = lastJson((await sink.finish(10_000)).stdout);
  const after = await link.udpCounters("peer");
  const peerAfter = await link.counters("peer");
  const stackAfter = await link.counters("stack");
  const contention = await watching;
  const rx = got.bytes * 8 / sent.seconds / 1e9;
  const run = {
    round: r,
    cli: name,
    pin,
    sentGbps: sent.bytes * 8 / sent.seconds / 1e9,
    sentPps: Math.round(sent.packets / sent.seconds),
    receivedGbps: rx,
    receivedPps: Math.round(got.bytes / len / sent.seconds),
    sentIntervalsGbps: intervals,
    kernelInDatagrams: after.InDatagrams - before.InDatagrams,
    kernelRcvbufErrors: after.RcvbufErrors - before.RcvbufErrors,
    kernelInErrors: after.InErrors - before.InErrors,
    limit: sendLimit(
      after.InDatagrams - before.InDatagrams,
      after.RcvbufErrors - before.RcvbufErrors,
    ),
    peerRxDropped: peerAfter.rxDropped - peerBefore.rxDropped,
    stackTxDropped: stackAfter.txDropped - stackBefore.txDropped,
    contention,
    client,
    sink: got,
  };
  const cpu = contention === null
    ? ""
    : `, cpu ${
      Object.entries(contention.cpu).filter(([, v]) => v >= 5).map(([k, v]) => `${k} ${v}`)
        .join(", ")
    }; machine idle ${contention.machine.idle} nice ${contention.machine.nice}, busy on one CPU ${
      contention.allOnOne ?? "—"
    }`;
  console.log(
    `mtu ${mtu} round ${r} ${name}${pin === "none" ? "" : ` (${pin} CPU)`}: sent ${
      run.sentGbps.toFixed(2)
    } Gbit/s ` +
      `(${run.sentPps}/s), received ${rx.toFixed(2)} (${run.receivedPps}/s; ${run.limit}), ` +
      `RcvbufErrors ${run.kernelRcvbufErrors}, InErrors ${run.kernelInErrors}, sink sleeps ` +
      `per datagram ${(got.sleeps / Math.max(1, got.reads)).toFixed(2)}, veth drops ` +
      `${run.peerRxDropped}/${run.stackTxDropped}` +
      (intervals.length > 0 ? `, per second ${intervals.join(" ")}` : "") + cpu,
  );
  return run;
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

/** The Python kernel sender on `from` to `to`:PORT for `seconds` (on `cpu` only); its JSON. */
async function pySend(
  link: BenchLink,
  from: "stack" | "peer",
  to: string,
  port: number,
  seconds: string,
  len: string,
  cpu: number | null = null,
): Promise<Record<string, number>> {
  const cmd = ["python3", "-c", pyFamily(PY_SENDER, link.family), "udp", to, String(port)];
  cmd.push(seconds, len);
  const f = await link.run(from, pinned(cpu, cmd), Number(seconds) * 1000 + 20_000);
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
    const sink = link.start("stack", udpSinkCommand(link, port));
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

/**
 * e2e's kernel-socket UDP sink on `port` in `link`'s family: done 0.5 s after the last datagram
 * (5 s for the first).
 */
function udpSinkCommand(link: BenchLink, port: number): string[] {
  return ["python3", "-c", pyFamily(PY_SINK, link.family), "udp", String(port), "0.5", "5"];
}
