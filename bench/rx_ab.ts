/**
 * `deno run --allow-all bench/rx_ab.ts`: the receive path, kernel→ustack TCP, A/B. A Python
 * sender on the peer end of a veth pair sends bulk TCP (128 KiB `send` calls) for `--seconds`
 * into `ustack serve --discard` on the stack end, once per CLI given (this checkout's first,
 * then each `--base-cli`), and into a Python sink on the stack end's kernel (kernel→kernel),
 * round after round, interleaved (the stack configurations' order rotating from round to round),
 * so a loaded machine weighs on every configuration alike.
 *
 * Half-way through every run it samples `ss -tin` of the kernel sender (the kernel's view of
 * the receiver: smoothed RTT, minimum RTT, cwnd, bytes in flight, delivery rate, the window
 * we advertise, time limited by it), and after each stack run it keeps the stack's driver and
 * TCP counters (ACKs sent, TX kicks, frames received).
 *
 * ```
 * deno run --allow-all bench/rx_ab.ts [--mtu 9000] [--rounds 5] [--seconds 4] [--sender-cc cubic]
 *                                     [--base-cli /other/checkout/cli/ustack.ts]... [--out FILE]
 *                                     [--variant "v3=--rx-ring v3"]...
 * ```
 *
 * `--variant NAME=FLAGS` runs this checkout's CLI once per variant, with FLAGS (split at
 * blanks) added to `serve`, in place of the one plain `ustack` configuration: e.g.
 * `--variant "v2=--rx-ring v2" --variant "v3=--rx-ring v3"` compares the two RX rings.
 *
 * Prints one line per run, then the median and every run per configuration (Gbit/s of goodput:
 * bytes sent over the sender's time, which runs until the receiver's last ACK).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { missingRequirements } from "../tests/harness/interop.ts";
import { AB_OPTIONS, abSummary, abUsage, median, writeAbRecord } from "./ab_rounds.ts";
import { lastJson, mustSucceed } from "./e2e.ts";
import { BenchLink, parseVariant, pyFamily, USTACK_CLI } from "./netns.ts";
import { PY_TCP_SENDER, PY_TCP_SINK } from "./py_tcp.ts";
import { threadCpu, threadTicks } from "./run_contention.ts";
import { counterIn, countersFromServeStats, syscallsPerWirePacket } from "./rx_syscalls.ts";
import { setBigTcp } from "../tests/harness/big_tcp.ts";
import { AF_PACKET_RING_MAX_RX_LARGE_FRAME_BYTES } from "../mod.ts";

/** What `ss -tin` said of the sender's socket half-way through a run. */
interface SenderView {
  rtt?: string;
  minrtt?: string;
  cwnd?: number;
  unacked?: number;
  deliveryRate?: string;
  sndWnd?: number;
  rwndLimited?: string;
  /**
   * Segments the sender sent and received so far (`segs_out`, `segs_in`): from the receiver,
   * segments are its ACKs, so `segsIn / segsOut` is the receiver's ACKs per data segment.
   */
  segsOut?: number;
  segsIn?: number;
}

/** One run of one configuration. */
interface Run {
  config: string;
  round: number;
  gbps: number;
  sender: SenderView;
  /** The stack's counters line by line (`driver: …`, `tcp: …`), stack runs only. */
  counters?: Record<string, string>;
  /**
   * CPU of the receiving stack's threads over the middle half of the run (% of one CPU, by
   * thread name: `deno` is the stack's thread), and of the kernel's softirq threads
   * (`ksoftirqd/N`: the network work the kernel deferred out of our kicks), stack runs only.
   */
  cpu?: Record<string, number>;
  /**
   * Softirqs raised per second over the same window, all CPUs (`/proc/softirqs`: `HRTIMER` —
   * a paced kernel sender's timer, `NET_RX`, `TASKLET`, …), stack runs only.
   */
  softirqs?: Record<string, number>;
}

function pick(text: string, re: RegExp): string | undefined {
  return re.exec(text)?.[1];
}

function senderView(ssOut: string): SenderView {
  const t = ssOut.replace(/\s+/g, " ");
  const num = (re: RegExp) => {
    const v = pick(t, re);
    return v === undefined ? undefined : Number(v);
  };
  return {
    rtt: pick(t, / rtt:([\d./]+)/),
    minrtt: pick(t, /minrtt:([\d.]+)/),
    cwnd: num(/cwnd:(\d+)/),
    unacked: num(/unacked:(\d+)/),
    deliveryRate: pick(t, /delivery_rate (\S+)/),
    sndWnd: num(/snd_wnd:(\d+)/),
    rwndLimited: pick(t, /rwnd_limited:(\S+)/),
    segsOut: num(/segs_out:(\d+)/),
    segsIn: num(/segs_in:(\d+)/),
  };
}

/** Options of {@link runRxAb}. */
export interface RxAbOptions {
  /** Link MTU. */
  mtu: number;
  /** Rounds (each runs every configuration once). */
  rounds: number;
  /** Seconds each sender sends. */
  seconds: number;
  /** Other checkouts' `cli/ustack.ts`, run after this checkout's in every round. */
  baseClis: string[];
  /**
   * This checkout's configurations: name and extra `serve` flags each; default one, `ustack`,
   * without extra flags.
   */
  variants?: [string, string[]][];
  /** Leave kernel→kernel out. */
  noKernel: boolean;
  /** The kernel sender's congestion control ("" = the host's default). */
  senderCc: string;
  /** Extra `deno run` flags for this checkout's runs (e.g. `--v8-flags=--perf-basic-prof`). */
  denoFlags?: string[];
  /**
   * Receive packet steering on the sender's (peer) end, a hex CPU mask: the sender's receive of
   * our ACKs — and the transmit it starts — then runs on those CPUs' backlog instead of inside
   * the stack's TX kick, as with a NIC between them. Unset: none (veth's default).
   */
  peerRpsCpus?: string;
  /** Send over IPv6 (`BenchLink.create`'s `ipv6`). */
  ipv6?: boolean;
  /** With `ipv6`: the kernel's IPv6 stays on on the stack's interface (`stackKernelIpv6`). */
  kernelIpv6?: boolean;
  /**
   * BIG TCP: GSO and GRO limits of both ends set to this many bytes (above 65,536), so the
   * kernel sender's super-frames — to the kernel receiver and to the stack alike — grow past
   * 64 KB; this checkout's `serve` gets `--rx-large-frame` to hold them. Unset: Linux's 64 KB.
   */
  bigTcp?: number;
  /**
   * With `bigTcp`: every round runs twice, the link at Linux's 64 KB and at `bigTcp` (which
   * first alternates), each with its own kernel→kernel run; the BIG TCP runs' configurations
   * are named with `+big` (`kernel+big`, `ustack+big`, …).
   */
  bigTcpAb?: boolean;
  /** Bytes per `send` call of the kernel sender [131,072]. */
  writeBytes?: number;
}

/**
 * Run the rounds; returns every run. Configurations: `kernel` (kernel→kernel), `ustack` (this
 * checkout; or one per {@link RxAbOptions.variants}), `base1`, `base2`, … (the `--base-cli`
 * checkouts in order).
 */
export async function runRxAb(o: RxAbOptions): Promise<Run[]> {
  const softirqThreads = await ksoftirqdPids();
  const link = await BenchLink.create(o.mtu, { ipv6: o.ipv6, stackKernelIpv6: o.kernelIpv6 });
  const runs: Run[] = [];
  if (o.peerRpsCpus !== undefined) await link.setRpsCpus("peer", o.peerRpsCpus);
  // The link's GSO/GRO limit per phase of a round: Linux's 64 KB ("") and BIG TCP ("+big").
  const phases: [string, number][] = o.bigTcp === undefined
    ? [["", 0]]
    : o.bigTcpAb
    ? [["", 65_536], ["+big", o.bigTcp]]
    : [["", o.bigTcp]];
  const bigFlags = (bytes: number): string[] =>
    bytes <= 65_536
      ? []
      : ["--rx-large-frame", String(Math.min(bytes + 18, AF_PACKET_RING_MAX_RX_LARGE_FRAME_BYTES))];
  let port = 6400;
  const send = async (p: number): Promise<{ gbps: number; sender: SenderView }> => {
    const sample = (async () => {
      await new Promise((r) => setTimeout(r, o.seconds * 500));
      const r = await new Deno.Command("ip", {
        args: ["netns", "exec", link.ns("peer"), "ss", "-tin", `dport = :${p}`],
        stdout: "piped",
        stderr: "null",
      }).output();
      return senderView(new TextDecoder().decode(r.stdout));
    })();
    const f = await link.run(
      "peer",
      [
        "python3",
        "-c",
        pyFamily(PY_TCP_SENDER, link.family),
        link.addr("stack"),
        String(p),
        String(o.seconds),
        o.senderCc,
        ...(o.writeBytes !== undefined ? [String(o.writeBytes)] : []),
      ],
      o.seconds * 1000 + 40_000,
    );
    mustSucceed("python sender", f);
    const j = lastJson(f.stdout);
    return { gbps: (j.bytes * 8) / j.seconds / 1e9, sender: await sample };
  };
  const clis: [string, string, string[]][] = (o.variants ?? [["ustack", []]]).map((
    [name, flags],
  ) => [name, USTACK_CLI, flags]);
  o.baseClis.forEach((c, i) => clis.push([`base${i + 1}`, c, []]));
  try {
    for (let round = 0; round < o.rounds; round++) {
      for (let ph = 0; ph < phases.length; ph++) {
        const [suffix, gso] = phases[(ph + round) % phases.length];
        if (gso > 0) {
          for (const side of ["stack", "peer"] as const) {
            await setBigTcp(link.ns(side), link.ifname(side), gso);
          }
        }
        if (!o.noKernel) {
          await link.setKernelAddress("stack", true);
          const p = port++;
          const sink = link.start("stack", [
            "python3",
            "-c",
            pyFamily(PY_TCP_SINK, link.family),
            String(p),
          ]);
          try {
            await sink.waitForLine(/^ready/);
            runs.push({ config: `kernel${suffix}`, round, ...await send(p) });
            await sink.finish(30_000);
          } finally {
            await sink.stop();
          }
          await link.setKernelAddress("stack", false);
        }
        // The stack configurations take turns at running first after the kernel's run: a run's
        // place in the round may weigh on it (two A/Bs with the order swapped each favoured the
        // configuration that ran second, 4 rounds of 5 and of 6; bench/README.md, slow13).
        const order = clis.map((_, i) => clis[(i + round) % clis.length]);
        for (const [config, cli, flags] of order) {
          const p = port++;
          const server = link.start("stack", [
            Deno.execPath(),
            "run",
            ...(cli === USTACK_CLI ? o.denoFlags ?? [] : []),
            "--allow-all",
            cli,
            "serve",
            "--discard",
            String(p),
            ...link.stackOptions("stack", "af_packet"),
            ...(cli === USTACK_CLI ? bigFlags(gso) : []),
            ...flags,
          ]);
          try {
            await server.waitForLine(/^ready /);
            await link.waitReachable("stack"); // IPv6: the stack's address is past its DAD
            const cpu = (async () => {
              const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
              await sleep(o.seconds * 250);
              const sender = await senderPid(p, o.seconds);
              const t0 = performance.now();
              const a = await threadTicks(server.pid);
              const ka = await Promise.all(softirqThreads.map((k) => threadTicks(k)));
              const sa = sender === null ? null : await threadTicks(sender);
              const qa = await softirqCounts();
              const ta = await mainThreadSysTicks(server.pid, sender);
              const wa = await runQueueWaitNs(server.pid, server.pid);
              const swa = sender === null ? NaN : await runQueueWaitNs(sender, sender);
              await sleep(o.seconds * 500);
              const qb = await softirqCounts();
              const tb = await mainThreadSysTicks(server.pid, sender);
              const wb = await runQueueWaitNs(server.pid, server.pid);
              const swb = sender === null ? NaN : await runQueueWaitNs(sender, sender);
              const b = await threadTicks(server.pid);
              const kb = await Promise.all(softirqThreads.map((k) => threadTicks(k)));
              const sec = (performance.now() - t0) / 1000;
              // io_uring's polling thread (`--tx-kick uring`) comes as `iou-sqp`.
              const out = threadCpu(a, b, sec);
              ka.forEach((k, i) => Object.assign(out, threadCpu(k, kb[i], sec)));
              if (sender !== null) {
                Object.assign(out, threadCpu(sa!, await threadTicks(sender), sec, "sender "));
              }
              // Time runnable but not running (waiting for a CPU), % of the window.
              const waitPct = (x: number) => Math.round(x / 1e7 / sec);
              if (!Number.isNaN(wb - wa)) out["deno runq-wait"] = waitPct(wb - wa);
              if (!Number.isNaN(swb - swa)) out["sender runq-wait"] = waitPct(swb - swa);
              // Of which in the kernel (system time, softirqs run on the thread included).
              const sysPct = (x: number) => Math.round(x / 100 / sec * 100);
              if (!Number.isNaN(tb[0] - ta[0])) out["deno sys"] = sysPct(tb[0] - ta[0]);
              if (!Number.isNaN(tb[1] - ta[1])) out["sender sys"] = sysPct(tb[1] - ta[1]);
              const softirqs: Record<string, number> = {};
              for (const k of Object.keys(qb)) {
                softirqs[k] = Math.round((qb[k] - (qa[k] ?? 0)) / sec);
              }
              return { out, softirqs };
            })();
            const r = await send(p);
            const f = await server.stop(10_000);
            const counters: Record<string, string> = {};
            for (const m of f.stdout.matchAll(/^\s*(driver|tcp|loop): (.*)$/gm)) {
              counters[m[1]] = m[2];
            }
            const { out: cpuPct, softirqs } = await cpu;
            runs.push({ config: config + suffix, round, ...r, counters, cpu: cpuPct, softirqs });
          } finally {
            await server.stop();
          }
        }
      }
      const last = runs.filter((r) => r.round === round);
      console.error(
        `round ${round}: ` +
          last.map((r) =>
            `${r.config} ${r.gbps.toFixed(2)} (cwnd ${r.sender.cwnd}, rtt ${r.sender.rtt})`
          ).join(", "),
      );
    }
  } finally {
    await link.destroy();
  }
  return runs;
}

/**
 * The pid of the Python sender sending to `port` for `seconds` (argv: python3 -c SCRIPT HOST
 * PORT SECONDS …), or null. Matched on `/proc/PID/cmdline`: the script spans lines, which
 * `pgrep -f` patterns do not match across.
 */
async function senderPid(port: number, seconds: number): Promise<number | null> {
  const r = await new Deno.Command("pgrep", {
    args: ["-x", "python3"],
    stdout: "piped",
    stderr: "null",
  }).output();
  for (const line of new TextDecoder().decode(r.stdout).trim().split("\n")) {
    if (line === "") continue;
    try {
      const argv = (await Deno.readTextFile(`/proc/${line}/cmdline`)).split("\0");
      if (argv[1] === "-c" && argv[4] === String(port) && argv[5] === String(seconds)) {
        return Number(line);
      }
    } catch { /* gone */ }
  }
  return null;
}

/**
 * Nanoseconds a thread has waited on a run queue so far (`/proc/PID/task/TID/schedstat`, second
 * field), or NaN.
 */
async function runQueueWaitNs(pid: number, tid: number): Promise<number> {
  try {
    return Number((await Deno.readTextFile(`/proc/${pid}/task/${tid}/schedstat`)).split(" ")[1]);
  } catch {
    return NaN;
  }
}

/**
 * System-time ticks (USER_HZ) of the stack's main thread (`pid`) and of the sender's (NaN
 * where gone or unknown): `/proc/PID/task/PID/stat` field 15.
 */
async function mainThreadSysTicks(pid: number, sender: number | null): Promise<[number, number]> {
  const sys = async (p: number | null) => {
    if (p === null) return NaN;
    try {
      const st = await Deno.readTextFile(`/proc/${p}/task/${p}/stat`);
      return Number(st.slice(st.lastIndexOf(")") + 2).split(" ")[12]);
    } catch {
      return NaN;
    }
  };
  return [await sys(pid), await sys(sender)];
}

/** Softirqs raised so far by type, summed over the CPUs (`/proc/softirqs`). */
async function softirqCounts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await Deno.readTextFile("/proc/softirqs")).split("\n").slice(1)) {
    const [name, ...cols] = line.trim().split(/\s+/);
    if (name === undefined || name === "") continue;
    out[name.replace(":", "")] = cols.reduce((a, c) => a + Number(c), 0);
  }
  return out;
}

/** The pids of the kernel's per-CPU softirq threads (`ksoftirqd/N`). */
async function ksoftirqdPids(): Promise<number[]> {
  const pids: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const comm = await Deno.readTextFile(`/proc/${e.name}/comm`);
      if (comm.startsWith("ksoftirqd/")) pids.push(Number(e.name));
    } catch { /* gone */ }
  }
  return pids;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      ...AB_OPTIONS,
      rounds: { type: "string", default: "5" },
      "sender-cc": { type: "string", default: "" },
      "deno-flags": { type: "string" },
      "peer-rps-cpus": { type: "string" },
      ipv6: { type: "boolean", default: false },
      "kernel-ipv6": { type: "boolean", default: false },
      "big-tcp": { type: "string" },
      "big-tcp-ab": { type: "boolean", default: false },
      "write-bytes": { type: "string" },
    },
  });
  if (values.help) {
    console.log(`usage: deno run --allow-all bench/rx_ab.ts [options]
${abUsage(5, "serve", "v3=--rx-ring v3")}
  --sender-cc NAME  the kernel sender's congestion control (the host's default: sysctl)
  --deno-flags=F    extra deno run flags (blank-separated) for this checkout's runs, e.g.
                    "--deno-flags=--v8-flags=--perf-basic-prof"
  --peer-rps-cpus M receive packet steering on the sender's end (hex CPU mask): its receive of
                    the ACKs, and the sending it starts, leave the stack's TX kick
  --ipv6            send over IPv6 (fd00::1 → fd00::2); the kernel's IPv6 is off on the
                    stack's interface while a stack owns it, unless
  --kernel-ipv6     (with --ipv6) it stays on there (link-local only, RAs ignored)
  --big-tcp BYTES   BIG TCP: both ends' GSO/GRO limits (IPv4 and IPv6) at BYTES (65536..524280),
                    this checkout's serve with --rx-large-frame to match; --base-cli
                    checkouts run without it
  --big-tcp-ab      (with --big-tcp) each round twice, at 64 KB and at BYTES, each with its
                    own kernel→kernel run; the BIG TCP runs are named NAME+big
  --write-bytes N   the kernel sender's bytes per send call (131072)`);
    Deno.exit(0);
  }
  const missing = missingRequirements(["python3", "ss"]);
  if (missing.length > 0) {
    console.error(`rx_ab: missing ${missing.join(", ")}`);
    Deno.exit(2);
  }
  const runs = await runRxAb({
    mtu: Number(values.mtu),
    rounds: Number(values.rounds),
    seconds: Number(values.seconds),
    baseClis: values["base-cli"] ?? [],
    variants: values.variant?.map((v) => parseVariant(v)),
    noKernel: values["no-kernel"],
    senderCc: values["sender-cc"],
    denoFlags: values["deno-flags"]?.split(/\s+/).filter((f) => f !== ""),
    peerRpsCpus: values["peer-rps-cpus"],
    ipv6: values.ipv6,
    kernelIpv6: values["kernel-ipv6"],
    bigTcp: values["big-tcp"] === undefined ? undefined : Number(values["big-tcp"]),
    bigTcpAb: values["big-tcp-ab"],
    writeBytes: values["write-bytes"] === undefined ? undefined : Number(values["write-bytes"]),
  });
  for (const c of [...new Set(runs.map((r) => r.config))]) {
    console.log(abSummary(runs, c, c.endsWith("+big") ? "kernel+big" : "kernel"));
    // CPU-seconds of the receiving stack's thread per GB received.
    const perGb = runs.filter((r) => r.config === c && r.cpu?.deno !== undefined && r.gbps > 0)
      .map((r) => (r.cpu!.deno / 100) / (r.gbps / 8));
    if (perGb.length > 0) {
      console.log(
        `  deno thread CPU-s per GB: median ${median(perGb).toFixed(3)} (` +
          perGb.map((x) => x.toFixed(3)).join(" ") + ")",
      );
    }
    // With `--tx-kick uring`: the kernel's SQ polling thread, and both threads together.
    const sqGb = runs.filter((r) => r.config === c && r.cpu?.["iou-sqp"] !== undefined)
      .map((
        r,
      ) => [r.cpu!["iou-sqp"] / 100 / (r.gbps / 8), (r.cpu!.deno ?? 0) / 100 / (r.gbps / 8)]);
    if (sqGb.length > 0) {
      console.log(
        `  iou-sqp thread CPU-s per GB: median ${median(sqGb.map((x) => x[0])).toFixed(3)} (` +
          sqGb.map((x) => x[0].toFixed(3)).join(" ") + "); both threads: median " +
          median(sqGb.map((x) => x[0] + x[1])).toFixed(3),
      );
    }
    // The kernel's timer and network softirqs per second (a paced sender's HRTIMER).
    const sq = runs.filter((r) => r.config === c && r.softirqs !== undefined);
    if (sq.length > 0) {
      const m = (k: string) => median(sq.map((r) => r.softirqs![k] ?? 0)).toFixed(0);
      console.log(
        `  softirqs/s: median HRTIMER ${m("HRTIMER")}, NET_RX ${m("NET_RX")}, ` +
          `TASKLET ${m("TASKLET")}, TIMER ${m("TIMER")}`,
      );
    }
    // The receiver's syscalls per wire packet (issue 13's target: ≤ 0.05), and ACKs per tick.
    const sys = runs.filter((r) => r.config === c && r.counters?.driver !== undefined)
      .map((r) => {
        const text = Object.entries(r.counters!).map(([k, v]) => `${k}: ${v}`).join("\n");
        const k = countersFromServeStats(text);
        return k === null ? NaN : syscallsPerWirePacket(k, Number(values.mtu) - 52);
      }).filter((x) => !Number.isNaN(x));
    if (sys.length > 0) {
      console.log(
        `  syscalls per wire packet: median ${median(sys).toFixed(4)} (` +
          sys.map((x) => x.toFixed(4)).join(" ") + ")",
      );
    }
    // The busy poll's yields, split: per wire packet (the driver's syscalls, mostly the ACK
    // kicks, beside them), and how many came at a spin's first poll, after a tick that sent
    // frames, and straight back (the `loop:` counters; 0 before "sys13g").
    const ys = runs.filter((r) => r.config === c && r.counters?.driver !== undefined)
      .map((r) => yieldSplit(r.counters!.driver, r.counters!.loop ?? "", Number(values.mtu) - 52));
    if (ys.length > 0) {
      const med = (f: (x: YieldSplit) => number) => median(ys.map(f));
      const f4 = (x: number) => x.toFixed(4);
      console.log(
        `  per wire packet: median driver syscalls ${f4(med((x) => x.driverPerWire))}, ` +
          `yields ${f4(med((x) => x.yieldsPerWire))} (` +
          ys.map((x) => f4(x.yieldsPerWire)).join(" ") + `); yields per spin ` +
          `${med((x) => x.yieldsPerSpin).toFixed(2)}, first-poll ` +
          `${(med((x) => x.firstShare) * 100).toFixed(0)} % of yields, after a kick ` +
          `${(med((x) => x.kickShareOfFirst) * 100).toFixed(0)} % of those, straight back ` +
          `${(med((x) => x.aloneShareOfFirst) * 100).toFixed(0)} %; quiet starts ${
            med((x) => x.quietStarts).toFixed(0)
          }, late polls ${med((x) => x.latePolls).toFixed(0)}`,
      );
    }
    // What the ring held: the kernel's super-frames reach us at either MTU (MSS: timestamps on).
    const rings = runs.filter((r) => r.config === c && r.counters?.driver !== undefined)
      .map((r) => ringFrames(r.counters!.driver, Number(values.mtu) - 52))
      .filter((x) => x !== null);
    if (rings.length > 0) {
      const med = (f: (x: (typeof rings)[0]) => number) => median(rings.map(f));
      const pct = (x: number) => `${(x * 100).toFixed(0)} %`;
      console.log(
        `  ring frames: median ${med((x) => x.bytesPerFrame).toFixed(0)} B, ` +
          `${med((x) => x.segmentsPerFrame).toFixed(1)} wire segments each; ` +
          `csum partial ${pct(med((x) => x.csumPartial))}, valid ${
            pct(med((x) => x.csumValid))
          }, ` +
          `GSO ${pct(med((x) => x.gso))}, MTU-sized slots ${pct(med((x) => x.small))}`,
      );
    }
  }
  if (values.out !== undefined) await writeAbRecord(values.out, Number(values.mtu), runs);
}

/** The busy poll's yields in one run (see {@link yieldSplit}). */
export interface YieldSplit {
  /** The driver's syscalls (the ACK kicks, mostly) per wire packet. */
  driverPerWire: number;
  /** `sched_yield`s of the busy poll per wire packet. */
  yieldsPerWire: number;
  /** Yields per spin (a spin: one busy-poll loop between ticks; polls ÷ yields inverted). */
  yieldsPerSpin: number;
  /** Share of the yields made at a spin's first poll. */
  firstShare: number;
  /** Share of the first-poll yields made after a busy tick that sent frames. */
  kickShareOfFirst: number;
  /** Share of the first-poll yields that came straight back. */
  aloneShareOfFirst: number;
  /** Spins that began without a yield. */
  quietStarts: number;
  /** Polls without a yield that came late. */
  latePolls: number;
}

/**
 * The busy poll's yields in one run, from its `driver:` and `loop:` counters lines: per wire
 * packet (segments received, `rxBytes ÷ mss`, plus frames sent) beside the driver's syscalls,
 * and split by where they came (`spinFirstYields`, `spinKickYields`, `spinFirstAlone`; absent
 * counters read as 0). `yieldsPerSpin` is yields ÷ (first-poll yields + quiet starts): per spin.
 *
 * @example
 * ```ts
 * yieldSplit(
 *   "rxBytes=14480 txFrames=10 syscalls=10",
 *   "spins=40 spinYields=20 spinFirstYields=10 spinKickYields=10 spinFirstAlone=9",
 *   1448,
 * );
 * // { driverPerWire: 0.5, yieldsPerWire: 1, yieldsPerSpin: 2, firstShare: 0.5,
 * //   kickShareOfFirst: 1, aloneShareOfFirst: 0.9, quietStarts: 0, latePolls: 0 }
 * ```
 */
export function yieldSplit(driverLine: string, loopLine: string, mss: number): YieldSplit {
  const get = counterIn;
  const wire = get(driverLine, "rxBytes") / mss + get(driverLine, "txFrames");
  const yields = get(loopLine, "spinYields");
  const first = get(loopLine, "spinFirstYields");
  const quietStarts = get(loopLine, "spinQuietStarts");
  const ratio = (a: number, b: number) => b > 0 ? a / b : 0;
  return {
    driverPerWire: ratio(get(driverLine, "syscalls"), wire),
    yieldsPerWire: ratio(yields, wire),
    yieldsPerSpin: ratio(yields, first + quietStarts),
    firstShare: ratio(first, yields),
    kickShareOfFirst: ratio(get(loopLine, "spinKickYields"), first),
    aloneShareOfFirst: ratio(get(loopLine, "spinFirstAlone"), first),
    quietStarts,
    latePolls: get(loopLine, "spinLatePolls"),
  };
}

/**
 * What the stack's RX ring held in one run, from its `driver:` counters line: bytes per ring
 * frame, wire segments per ring frame (bytes ÷ `mss`, headers included), and the shares of frames
 * the kernel flagged TP_STATUS_CSUMNOTREADY / TP_STATUS_CSUM_VALID, flagged RX_GSO (longer than
 * an MTU-sized frame) and taken from the split receive's MTU-sized slots. Null without the line.
 *
 * @example
 * ```ts
 * ringFrames("rxFrames=4 rxBytes=120000 rxCsumPartialFrames=4 rxGsoFrames=2", 1448);
 * // { bytesPerFrame: 30000, segmentsPerFrame: 20.7…, csumPartial: 1, csumValid: 0, gso: 0.5, small: 0 }
 * ```
 */
export function ringFrames(driverLine: string, mss: number): {
  bytesPerFrame: number;
  segmentsPerFrame: number;
  csumPartial: number;
  csumValid: number;
  gso: number;
  small: number;
} | null {
  const get = (name: string) => counterIn(driverLine, name);
  const frames = get("rxFrames");
  if (frames === 0) return null;
  const bytesPerFrame = get("rxBytes") / frames;
  return {
    bytesPerFrame,
    segmentsPerFrame: bytesPerFrame / mss,
    csumPartial: get("rxCsumPartialFrames") / frames,
    csumValid: get("rxCsumValidFrames") / frames,
    gso: get("rxGsoFrames") / frames,
    small: get("rxSmallRingFrames") / frames,
  };
}
