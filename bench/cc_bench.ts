/**
 * `deno run --allow-all bench/cc_bench.ts`: congestion control and loss recovery against the
 * Linux kernel, in one run on one veth pair (MTU 1500, one stream):
 *
 * - **no loss**: kernel→kernel (a Python sender into a Python sink) and ustack→kernel
 *   (`ustack uperf client --cc ALG` into the same sink) for each algorithm;
 * - **with loss**: the same with nftables on the peer dropping `--loss` % (default 1 %) of
 *   the packets that arrive from the sender (its input hook), the same rule for every sender.
 *
 * What a "packet" is (`--loss-on`):
 *
 * - `wire` (default): TSO is turned off on the sender's veth end (GSO stays on), so the
 *   kernel cuts every sender's super-segments — the kernel's and the stack's through its
 *   ring alike — into MTU-sized packets before the veth, and the rule drops 1 % of wire
 *   packets, as a lossy link would: one loss event every ~100 packets.
 * - `frame`: veth keeps TSO, a super-segment (~50 KB on average, for both senders) crosses
 *   it whole and the rule drops 1 % of super-segments: the same bytes lost (~1 %) but ~35
 *   times fewer loss events, each losing a whole super-segment.
 *
 * Either way both senders face the same rule on the same packets. The kernel sender runs CUBIC (with RACK and
 * SACK), chosen per socket with TCP_CONGESTION — the host's default may be another (BBR on
 * some distributions) — and, for reference, the other kernel algorithms asked for with
 * `--kernel-cc` (ratios are always to the first, CUBIC).
 *
 * Each figure is goodput (bytes the sink received over the sender's time, which runs until
 * the last byte was acknowledged), with its ratio to kernel→kernel of the same phase, and the
 * ratio of each algorithm to NewReno without loss.
 *
 * ```
 * deno run --allow-all bench/cc_bench.ts [--seconds 20] [--loss 1] [--loss-on wire|frame]
 *                                        [--cc newreno,cubic,bbr] [--kernel-cc cubic,bbr] [--repeat N]
 *                                        [--driver af_packet] [--out FILE]
 * ```
 *
 * `--cc default` runs ustack without a `--cc` flag (its built-in default), which is how the
 * figures before `--cc` existed were taken.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { missingRequirements } from "../tests/harness/interop.ts";
import { lastJson, mustSucceed } from "./e2e.ts";
import { BenchLink, parseVariant, USTACK_CLI, ustackCommand } from "./netns.ts";
import { PY_TCP_SENDER, PY_TCP_SINK } from "./py_tcp.ts";
import { countIdInversions, countSendOrder, countSeqInversions } from "./wire_order.ts";
import { netdevFeatures, setNetdevFeatures } from "../ffi/ethtool.ts";
import { withNetns } from "../ffi/netns.ts";
import { close, socket } from "../ffi/syscalls.ts";
import {
  threadCpuDelta,
  threadCpuSeconds,
  threadSchedCounts,
  threadSchedDelta,
} from "../cli/uperf_threads.ts";

/** Options of a run. */
export interface CcBenchOptions {
  /** Kernel algorithms to measure; the first is the baseline of the ratios. */
  kernelAlgorithms: string[];
  /** Seconds per measurement. */
  seconds: number;
  /** Loss of the lossy phase, percent of the sender's packets. */
  lossPercent: number;
  /**
   * What the drop rule sees: "wire" packets (TSO off on the sender's veth end: super-segments
   * are segmented in software before the veth) or whole TSO "frame"s.
   */
  lossOn: "wire" | "frame";
  /** Algorithms (`default` = no `--cc` flag). */
  algorithms: string[];
  /** The stack's driver. */
  driver: string;
  /** MTU of the pair. */
  mtu: number;
  /** JSON record path. */
  out: string;
  /** Skip the phase without loss. */
  lossOnly: boolean;
  /**
   * Receive packet steering (`rps_cpus`, a hex CPU mask) on both veth ends, or none (the
   * default): with it the receiving end's protocol work (the peer's IP/TCP receive and
   * nftables; the stack side's AF_PACKET delivery) runs on the CPUs of the mask instead of
   * inside the sender's transmit call — as on two hosts, where the receiver's work is not the
   * sender's.
   */
  rpsCpus?: string;
  /**
   * Which veth ends {@link rpsCpus} steers (default both): `stack`, the sender's end (the peer's
   * ACKs then reach a kernel sender's TCP on those CPUs instead of inside the sink's own
   * system call), or `peer`.
   */
  rpsSide?: "stack" | "peer" | "both";
  /**
   * Sysctls set in the peer's (the kernel receiver's) namespace before any run (`--peer-sysctl
   * KEY=VALUE`), e.g. `net.ipv4.tcp_comp_sack_nr=0`: the receiver's SACK compression off, so
   * it acknowledges every out-of-order segment with the block it extended listed first.
   */
  peerSysctls?: string[];
  /**
   * Capture the sender's datagrams on the peer's interface (`dumpcap`, 64-byte snaps) during
   * each run and count those that arrived behind a later-sent one (`bench/wire_order.ts`):
   * the path's reordering of the sender's own frames, which loss does not add to.
   */
  orderTap?: boolean;
  /**
   * GRO on the peer's veth end (`rx-gro`, off by default on veth): the end then receives
   * through its NAPI instances, which merge a sender's consecutive segments into one skb before
   * the peer's IP and TCP (every sender alike: the sending end has TSO off). The drop rule then
   * sees merged skbs, not wire packets: a diagnostic of what GRO does with each sender's
   * segments, not a lossy link.
   */
  peerGro?: boolean;
  /**
   * Named stack configurations (`--variant NAME=FLAGS`): sender NAME runs `uperf client` with
   * FLAGS (e.g. `cubic-nopace=--cc cubic --no-pacing`), interleaved with the others.
   */
  variants: Map<string, string[]>;
  /** Runs per sender and phase (round robin); the figure is the median. */
  repeat: number;
  /**
   * CPU pinning (`--pin SENDER:SINK`, `taskset -c` CPU lists), the same for every sender: the
   * sending process (the kernel's Python sender, or the stack with all its threads) runs on
   * `sender`, the sink on `sink`. Undefined: no pinning (the default).
   */
  pin?: { sender: string; sink: string };
  /**
   * Another checkout's `cli/ustack.ts`: every algorithm is also measured with it, interleaved,
   * as sender `ALG@base` (a before/after comparison in one sitting).
   */
  baseCli?: string;
}

/** One measurement. */
export interface CcFigure {
  /** "kernel" or the algorithm. */
  sender: string;
  /** Loss percent of the phase. */
  lossPercent: number;
  /** Goodput in Gbit/s, null when it failed. */
  gbps: number | null;
  /** Sender and sink details. */
  details: Record<string, unknown>;
}

const GRACE_MS = 60_000;

function progress(msg: string): void {
  console.error(`bench:cc ${msg}`);
}

/** Install (loss > 0) or remove the peer's drop rule for packets from the sender. */
async function setLoss(link: BenchLink, percent: number): Promise<void> {
  await link.pair.run(["nft", "delete", "table", "inet", "ccbench"]);
  if (percent <= 0) return;
  const perMille = Math.round(percent * 10);
  const r = await link.pair.run(["nft", "-f", "-"], {
    stdin: `table inet ccbench {
  chain in { type filter hook input priority 0; ip saddr ${link.addr("stack")} ` +
      `numgen random mod 1000 < ${perMille} counter drop; }
}\n`,
  });
  if (r.code !== 0) throw new Error(`nft: ${r.stderr}`);
}

/** Packets the peer's rule dropped so far (0 without the table). */
async function droppedPackets(link: BenchLink): Promise<number> {
  const r = await link.pair.run(["nft", "list", "table", "inet", "ccbench"]);
  const m = /counter packets (\d+)/.exec(r.stdout);
  return m === null ? 0 : Number(m[1]);
}

/**
 * Packets the kernel dropped at a CPU's input backlog so far, all CPUs (`/proc/net/softnet_stat`,
 * the second column; machine-wide, not per namespace): with `--rps-cpus` the receiving end's
 * packets wait in the steered CPU's backlog (`net.core.netdev_max_backlog`), and a burst that
 * overflows it is a loss the drop rule does not count. Null when the file cannot be read.
 */
export function backlogDrops(text?: string): number | null {
  let t = text;
  if (t === undefined) {
    try {
      t = Deno.readTextFileSync("/proc/net/softnet_stat");
    } catch {
      return null;
    }
  }
  let n = 0;
  for (const line of t.split("\n")) {
    const cols = line.trim().split(/\s+/);
    if (cols.length >= 2) n += parseInt(cols[1], 16);
  }
  return n;
}

/** The machine's CPU time over a run (`/proc/stat`'s `cpu` line; every CPU, every namespace). */
export interface MachineCpu {
  /** CPU-seconds busy (all but idle and iowait), summed over the CPUs. */
  busySeconds: number;
  /** Of which in softirq (the kernel's packet receive and transmit work outside a process). */
  softirqSeconds: number;
  /** Busy share of all the CPUs' time (1 = every CPU busy the whole run). */
  busyShare: number;
}

/**
 * The machine's CPU time between two readings of `/proc/stat` (its `cpu` line, in USER_HZ
 * ticks of 10 ms): what every sender, sink and kernel path — and anything else on the machine
 * — used over a run. Null when either text has no `cpu` line or no time passed.
 *
 * @example
 * ```ts
 * const a = "cpu  100 0 50 800 0 0 10 0 0 0\n";
 * const b = "cpu  200 0 150 850 0 0 60 0 0 0\n";
 * machineCpuDelta(a, b); // { busySeconds: 2.5, softirqSeconds: 0.5, busyShare: 0.83 }
 * ```
 */
export function machineCpuDelta(before: string, after: string): MachineCpu | null {
  const read = (t: string) => {
    const line = t.split("\n").find((l) => l.startsWith("cpu "));
    if (line === undefined) return null;
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = v.reduce((x, y) => x + y, 0);
    return { total, idle: v[3] + v[4], softirq: v[6] };
  };
  const a = read(before);
  const b = read(after);
  if (a === null || b === null || !(b.total > a.total)) return null;
  const total = b.total - a.total;
  const busy = total - (b.idle - a.idle);
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    busySeconds: r(busy / 100),
    softirqSeconds: r((b.softirq - a.softirq) / 100),
    busyShare: r(busy / total),
  };
}

/** `/proc/stat`'s text, or "" when it cannot be read. */
function procStat(): string {
  try {
    return Deno.readTextFileSync("/proc/stat");
  } catch {
    return "";
  }
}

/** `cmd` under `taskset -c cpus`, or `cmd` itself without a CPU list. */
function pinned(cpus: string | undefined, cmd: string[]): string[] {
  return cpus === undefined ? cmd : ["taskset", "-c", cpus, ...cmd];
}

/** `list` rotated left by `by` (round `by` of a round robin starts with element `by`). */
export function rotated<T>(list: readonly T[], by: number): T[] {
  const n = list.length;
  if (n === 0) return [];
  const k = ((by % n) + n) % n;
  return [...list.slice(k), ...list.slice(0, k)];
}

/** One bulk transfer into a Python sink on the peer: `send` runs on the stack end. */
async function intoSink(
  link: BenchLink,
  port: number,
  pin: CcBenchOptions["pin"],
  send: () => Promise<Record<string, any>>,
): Promise<[Record<string, any>, Record<string, any>]> {
  const sink = link.start(
    "peer",
    pinned(pin?.sink, ["python3", "-c", PY_TCP_SINK, String(port)]),
  );
  try {
    await sink.waitForLine(/^ready$/);
    const sent = await send();
    const f = await sink.finish(GRACE_MS);
    mustSucceed("python sink", f);
    return [sent, lastJson(f.stdout)];
  } finally {
    sink.signal("SIGKILL");
  }
}

/**
 * `dumpcap` on the peer's interface, keeping 64 bytes of each IPv4 TCP datagram from the
 * sender's address to or from `port`; `finish` stops it and counts the datagrams that arrived out of send order
 * (with dumpcap's own drop count), deleting the capture.
 */
async function startOrderTap(
  link: BenchLink,
  port: number,
): Promise<{ finish(): Promise<Record<string, number>> }> {
  // The sender's segments at the peer; the peer's ACKs at the sender's end.
  const taps = (["peer", "stack"] as const).map((side) => {
    const from = link.addr(side === "peer" ? "stack" : "peer");
    const file = Deno.makeTempFileSync({ prefix: `cc-order-${side}-${port}-`, suffix: ".pcap" });
    const cap = link.start(side, [
      "dumpcap",
      "-P",
      "-i",
      link.ifname(side),
      "-s",
      "64",
      "-B",
      "64",
      "-f",
      // This connection only: an earlier connection's leftovers from the same address would
      // start the count from another flow's numbers.
      `ip src ${from} and tcp port ${port}`,
      "-w",
      file,
    ]);
    return { side, file, cap };
  });
  await new Promise((r) => setTimeout(r, 700));
  let done: Promise<Record<string, number>> | null = null;
  return {
    finish() {
      done ??= (async () => {
        const out: Record<string, number> = {};
        for (const t of taps) {
          t.cap.signal("SIGINT");
          const f = await t.cap.finish(5_000);
          try {
            const bytes = await Deno.readFile(t.file);
            const seen = /received\/dropped on interface '[^']*': (\d+)\/(\d+)/.exec(f.stderr);
            const pre = t.side === "peer" ? "" : "ack";
            const o: Record<string, number> = t.side === "peer"
              ? { ...countSeqInversions(bytes), ...countSendOrder(bytes) }
              : { ...countIdInversions(bytes) };
            for (const [k, v] of Object.entries(o)) {
              out[pre === "" ? k : pre + k[0].toUpperCase() + k.slice(1)] = v;
            }
            out[pre === "" ? "tapDropped" : "ackTapDropped"] = seen === null ? -1 : Number(seen[2]);
          } finally {
            await Deno.remove(t.file).catch(() => {});
          }
        }
        return out;
      })();
      return done;
    },
  };
}

/** The kernel's loss-recovery counters recorded per run (TcpExt names, as nstat shows them). */
const KERNEL_RECOVERY_COUNTERS =
  /^(TCP(Sack|Reno)Recovery|TCP\w*Undo|TCPFastRetrans|TCPSlowStartRetrans|TCPLossProbe\w*|TCPLostRetransmit|TCPDSACK\w*|TCPSpuriousRTOs|TCPTimeouts|TCPSACKReorder|TCPSackShifted|TCPSackMerged|TCPRenoReorder|TCPTSReorder)$/;

/**
 * The kernel sender's ACK path (TcpExt): pure ACKs it processed (`TCPPureAcks`, fast path
 * `TCPHPAcks`) and those merged into an earlier one in its socket's backlog while its process
 * held the socket (`TCPBacklogCoalesce`) — why its congestion control sees fewer ACKs than
 * the peer sends.
 */
const KERNEL_ACK_COUNTERS = /^(TCPPureAcks|TCPHPAcks|TCPBacklogCoalesce|TCPBacklogDrop)$/;

/**
 * The sink's receive queue under loss (TcpExt of the peer's namespace, every sender): segments
 * put on its out-of-order queue, merged there, dropped from it, pruned for memory; the
 * D-SACKs it sent; in-order skbs merged into the receive queue's last one
 * (`TCPRcvCoalesce`) or — while the sink's process held the socket, so that the segment
 * waited in the socket's backlog for the sink's own CPU — into the backlog's last one
 * (`TCPBacklogCoalesce`); segments taken on the fast path (`TCPHPHits`); ACKs it delayed
 * (`DelayedACKs`) or compressed (`TCPAckCompressed`).
 */
const PEER_RECEIVE_COUNTERS =
  /^(TCPOFOQueue|TCPOFOMerge|TCPOFODrop|TCPRcvQDrop|PruneCalled|RcvPruned|OfoPruned|TCPDSACKOldSent|TCPDSACKOfoSent|TCPRcvCoalesce|TCPZeroWindowDrop|TCPBacklogCoalesce|TCPHPHits|DelayedACKs|TCPAckCompressed)$/;

/** The features that decide how a veth end's receive path batches what crosses the pair. */
const RECEIVE_FEATURES = [
  "rx-gro",
  "rx-gro-list",
  "rx-udp-gro-forwarding",
  "tx-tcp-segmentation",
  "tx-generic-segmentation",
] as const;

/**
 * How `side`'s veth end batches what it receives: the features of {@link RECEIVE_FEATURES}
 * (on veth, GRO on the receiving end turns on its NAPI instances — GRO merges a sender's
 * consecutive segments only then, and only while the sending end has TSO off) and the sysfs
 * settings that hold a NAPI poll open (`gro_flush_timeout`, `napi_defer_hard_irqs`).
 */
async function receiveOffloads(
  link: BenchLink,
  side: "stack" | "peer",
): Promise<Record<string, boolean | number | null>> {
  const ifname = link.ifname(side);
  const features = withNetns(link.ns(side), () => {
    const fd = socket(2, /* AF_INET */ 2, /* SOCK_DGRAM */ 0);
    try {
      return netdevFeatures(fd, ifname);
    } finally {
      close(fd);
    }
  });
  const out: Record<string, boolean | number | null> = {};
  for (const f of RECEIVE_FEATURES) out[f] = features.get(f)?.active ?? null;
  for (const f of ["gro_flush_timeout", "napi_defer_hard_irqs"]) {
    const r = await link.run(side, ["cat", `/sys/class/net/${ifname}/${f}`], 5_000);
    out[f] = r.code === 0 ? Number(r.stdout.trim()) : null;
  }
  return out;
}

/** Turn GRO on on the peer's veth end (its NAPI instances with it); whether it is on after. */
function setPeerGro(link: BenchLink): boolean {
  const after = withNetns(link.ns("peer"), () => {
    const fd = socket(2, /* AF_INET */ 2, /* SOCK_DGRAM */ 0);
    try {
      return setNetdevFeatures(fd, link.ifname("peer"), { "rx-gro": true });
    } finally {
      close(fd);
    }
  });
  return after.get("rx-gro")?.active === true;
}

/** The TcpExt counters of `side`'s namespace (the stack side's: the kernel sender's). */
async function tcpExt(
  link: BenchLink,
  side: "stack" | "peer" = "stack",
): Promise<Map<string, number>> {
  const r = await link.run(side, ["cat", "/proc/net/netstat"], 5_000);
  const lines = r.stdout.split("\n").filter((l) => l.startsWith("TcpExt:"));
  const out = new Map<string, number>();
  if (lines.length < 2) return out;
  const names = lines[0].trim().split(/\s+/);
  const values = lines[1].trim().split(/\s+/);
  for (let i = 1; i < names.length; i++) out.set(names[i], Number(values[i]));
  return out;
}

/** Counter `name` of the `proto` line ("Tcp", "Ip") of /proc/net/snmp in `side`'s namespace. */
async function snmpCounter(
  link: BenchLink,
  side: "stack" | "peer",
  proto: string,
  name: string,
): Promise<number> {
  const r = await link.run(side, ["cat", "/proc/net/snmp"], 5_000);
  const lines = r.stdout.split("\n").filter((l) => l.startsWith(`${proto}:`));
  if (lines.length < 2) return NaN;
  const names = lines[0].trim().split(/\s+/);
  const values = lines[1].trim().split(/\s+/);
  return Number(values[names.indexOf(name)]);
}

/** Segments the peer's kernel sent so far (Tcp OutSegs of its namespace: the sink's ACKs). */
function peerOutSegs(link: BenchLink): Promise<number> {
  return snmpCounter(link, "peer", "Tcp", "OutSegs");
}

/**
 * The time one window of the run's mean flight takes to be delivered at its goodput (Little's
 * law: flight = rate × time), in µs: `inflightSegs` segments of `mssBytes` over `gbps`. It is
 * the round trip the window actually made, which a smoothed RTT need not show — the kernel
 * sender's SRTT under loss is several times this (its RTT samples favour late ACKs) — and so
 * it compares the senders' ACK clocks at equal windows. Null when either figure is missing or
 * not positive.
 */
export function windowRoundTripUs(
  inflightSegs: number | null | undefined,
  mssBytes: number,
  gbps: number | null | undefined,
): number | null {
  if (typeof inflightSegs !== "number" || typeof gbps !== "number") return null;
  if (!(inflightSegs > 0) || !(gbps > 0) || !(mssBytes > 0)) return null;
  return Math.round(((inflightSegs * mssBytes * 8) / (gbps * 1e3)) * 10) / 10;
}

/** A shell loop printing `ss -tin` of the connection to `peer`:`port` every 20 ms. */
function ssLoop(peer: string, port: number): string {
  return `while :; do ss -tinH dst ${peer} and dport = :${port}; sleep 0.02; done`;
}

/**
 * Means of the kernel sender's window over `ss -tin` samples (the same fields as the stack's
 * `window` in its uperf summary): cwnd, ssthresh and unacked in segments, SRTT, pacing rate;
 * null without samples.
 */
export function ssWindowMeans(text: string): Record<string, number | null> | null {
  let n = 0;
  let cwnd = 0;
  let unacked = 0;
  let srtt = 0;
  let pacing = 0;
  let ssthresh = 0;
  let ssthreshN = 0;
  for (const line of text.split("\n")) {
    const c = /\bcwnd:(\d+)/.exec(line);
    const r = /\brtt:([\d.]+)\//.exec(line);
    if (c === null || r === null) continue;
    n++;
    cwnd += Number(c[1]);
    srtt += Number(r[1]);
    const u = /\bunacked:(\d+)/.exec(line);
    if (u !== null) unacked += Number(u[1]);
    const t = /\bssthresh:(\d+)/.exec(line);
    if (t !== null) {
      ssthresh += Number(t[1]);
      ssthreshN++;
    }
    const p = /\bpacing_rate ([\d.]+)([KMG]?)bps/.exec(line);
    if (p !== null) pacing += Number(p[1]) * ({ "": 1, K: 1e3, M: 1e6, G: 1e9 }[p[2]] ?? 1);
  }
  if (n === 0) return null;
  const m = (x: number, d = 100) => Math.round((x / n) * d) / d;
  return {
    samples: n,
    cwndSegs: m(cwnd),
    // Over the samples that show one (`ss` prints none before the first reduction), as the
    // stack's uperf summary does.
    ssthreshSegs: ssthreshN > 0 ? Math.round((ssthresh / ssthreshN) * 100) / 100 : null,
    ssthreshShare: m(ssthreshN),
    inflightSegs: m(unacked),
    srttMs: m(srtt, 1000),
    pacingGbps: m(pacing / 1e9),
  };
}

async function kernelRun(
  link: BenchLink,
  o: CcBenchOptions,
  port: number,
  alg: string,
): Promise<Record<string, any>> {
  await link.setKernelAddress("stack", true);
  try {
    let window: Record<string, number | null> | null = null;
    const before = await tcpExt(link);
    const [sent, got] = await intoSink(link, port, o.pin, async () => {
      const ss = link.start("stack", ["sh", "-c", ssLoop(link.addr("peer"), port)]);
      try {
        const f = await link.run(
          "stack",
          pinned(o.pin?.sender, [
            "python3",
            "-c",
            PY_TCP_SENDER,
            link.addr("peer"),
            String(port),
            String(o.seconds),
            alg,
          ]),
          o.seconds * 1000 + GRACE_MS,
        );
        mustSucceed("python sender", f);
        return lastJson(f.stdout);
      } finally {
        ss.signal("SIGKILL");
        window = ssWindowMeans((await ss.finish(5_000)).stdout);
      }
    });
    if (got.bytes !== sent.bytes) throw new Error(`sink got ${got.bytes} of ${sent.bytes}`);
    const after = await tcpExt(link);
    const recovery: Record<string, number> = {};
    const ackPath: Record<string, number> = {};
    for (const [k, v] of after) {
      const d = v - (before.get(k) ?? 0);
      if (d !== 0 && KERNEL_RECOVERY_COUNTERS.test(k)) recovery[k] = d;
      if (KERNEL_ACK_COUNTERS.test(k)) ackPath[k] = d;
    }
    return {
      gbps: (sent.bytes * 8) / sent.seconds / 1e9,
      sender: sent,
      sink: got,
      window,
      recovery,
      ackPath,
    };
  } finally {
    await link.setKernelAddress("stack", false);
  }
}

async function ustackRun(
  link: BenchLink,
  o: CcBenchOptions,
  port: number,
  sender: string,
): Promise<Record<string, any>> {
  const at = sender.indexOf("@");
  const name = at < 0 ? sender : sender.slice(0, at);
  const cli = at < 0 ? USTACK_CLI : o.baseCli!;
  // "cubic+thread": CUBIC with `--tx-kick thread` (where the TX ring's kicks run);
  // "cubic+thread:20" also `--tx-kick-spin 20`.
  const plus = name.indexOf("+");
  const alg = plus < 0 ? name : name.slice(0, plus);
  const variant = o.variants.get(name);
  const cc = variant !== undefined ? [...variant] : alg === "default" ? [] : ["--cc", alg];
  if (plus >= 0 && variant === undefined) {
    const [kick, spin] = name.slice(plus + 1).split(":");
    cc.push("--tx-kick", kick);
    if (spin !== undefined) cc.push("--tx-kick-spin", spin);
  }
  const [j, got] = await intoSink(link, port, o.pin, async () => {
    const cmd = pinned(
      o.pin?.sender,
      ustackCommand([
        "uperf",
        "client",
        link.addr("peer"),
        "-p",
        String(port),
        "-t",
        String(o.seconds),
        ...cc,
        ...link.stackOptions("stack", o.driver),
        "--json",
      ]).map((a) => a === USTACK_CLI ? cli : a),
    );
    // The sender's CPU per thread, read from outside (a stack without --allow-all may not
    // read its own /proc/self): the first and the last reading, every 250 ms while it runs.
    const proc = link.start("stack", cmd);
    let first: ReturnType<typeof threadCpuSeconds> | null = null;
    let last: ReturnType<typeof threadCpuSeconds> | null = null;
    let firstSched: ReturnType<typeof threadSchedCounts> | null = null;
    let lastSched: ReturnType<typeof threadSchedCounts> | null = null;
    const poll = setInterval(() => {
      const m = threadCpuSeconds(proc.pid);
      if (m.size === 0) return;
      first ??= m;
      last = m;
      const s = threadSchedCounts(proc.pid);
      firstSched ??= s;
      lastSched = s;
    }, 250);
    let f;
    try {
      f = await proc.finish(o.seconds * 1000 + GRACE_MS);
    } finally {
      clearInterval(poll);
    }
    mustSucceed("ustack uperf client", f);
    const summary = lastJson(f.stdout, "summary");
    if (first !== null && last !== null) {
      summary.threadCpu = threadCpuDelta(first, last, proc.pid);
      // Context switches and migrations of the stack's thread and of the busiest other (the
      // TX kicker when it runs): a hand-off whose woken kicker preempts the stack's thread on
      // its own CPU shows as involuntary switches of the stack's thread.
      const cpu0 = first as ReturnType<typeof threadCpuSeconds>;
      const cpu1 = last as ReturnType<typeof threadCpuSeconds>;
      if (firstSched !== null && lastSched !== null) {
        let busiest = -1;
        let busiestS = -1;
        for (const [tid, a] of cpu1) {
          if (tid === proc.pid) continue;
          const d = a.seconds - (cpu0.get(tid)?.seconds ?? 0);
          if (d > busiestS) {
            busiestS = d;
            busiest = tid;
          }
        }
        summary.threadSched = {
          main: threadSchedDelta(firstSched, lastSched, proc.pid),
          busiestOther: threadSchedDelta(firstSched, lastSched, busiest),
        };
      }
    }
    return summary;
  });
  if (got.bytes !== j.bytes) throw new Error(`sink got ${got.bytes}, uperf says ${j.bytes}`);
  return { gbps: j.gbps, client: j, sink: got };
}

/** A thread's scheduler counts as `voluntary/involuntary/migrations`. */
function schedText(c: { voluntary: number; involuntary: number; migrations: number }): string {
  return `${c.voluntary}/${c.involuntary}/${c.migrations}`;
}

/** Run every measurement; figures in order (kernel first in each phase). */
export async function runCcBench(o: CcBenchOptions): Promise<CcFigure[]> {
  const link = await BenchLink.create(o.mtu);
  const figures: CcFigure[] = [];
  let port = 5400;
  try {
    await link.setKernelAddress("peer", true);
    if (o.lossOn === "wire" && link.setTso("stack", false)) {
      throw new Error("could not turn TSO off on the sender's veth end");
    }
    if (o.rpsCpus !== undefined) {
      const sides = o.rpsSide === undefined || o.rpsSide === "both"
        ? (["stack", "peer"] as const)
        : [o.rpsSide];
      for (const side of sides) await link.setRpsCpus(side, o.rpsCpus);
    }
    for (const kv of o.peerSysctls ?? []) {
      const r = await link.pair.run(["sysctl", "-w", kv]);
      if (r.code !== 0) throw new Error(`sysctl -w ${kv} in the peer's namespace: ${r.stderr}`);
    }
    if (o.peerGro && !setPeerGro(link)) throw new Error("could not turn GRO on on the peer's veth");
    const offloads = {
      stack: await receiveOffloads(link, "stack"),
      peer: await receiveOffloads(link, "peer"),
    };
    progress(`veth ends' receive batching: ${JSON.stringify(offloads)}`);
    for (const loss of o.lossOnly ? [o.lossPercent] : [0, o.lossPercent]) {
      // (--loss 0 --loss-only: the phase without loss alone)
      await setLoss(link, loss);
      const senders = [...o.kernelAlgorithms.map((a) => `kernel-${a}`)];
      for (const a of [...o.algorithms, ...o.variants.keys()]) {
        senders.push(a);
        if (o.baseCli !== undefined) senders.push(`${a}@base`);
      }
      const runs = new Map<string, Record<string, any>[]>(senders.map((s) => [s, []]));
      // Round robin, so that a slow stretch of the machine does not fall on one sender; each
      // round starts one sender later (rotated), so a machine getting slower or faster over a
      // run does not always favour the senders early in the round.
      for (let r = 0; r < o.repeat; r++) {
        for (const sender of rotated(senders, r)) {
          progress(`loss ${loss} %: ${sender}${o.repeat > 1 ? ` (${r + 1}/${o.repeat})` : ""}`);
          const before = await droppedPackets(link);
          const backlogBefore = backlogDrops();
          const statBefore = procStat();
          const acksBefore = await peerOutSegs(link);
          // The kernel sender's skbs as its TCP built them (before GSO cuts them for the wire).
          const skbsBefore = await snmpCounter(link, "stack", "Ip", "OutRequests");
          const peerBefore = await tcpExt(link, "peer");
          const tap = o.orderTap ? await startOrderTap(link, port) : null;
          try {
            const d = sender.startsWith("kernel-")
              ? await kernelRun(link, o, port++, sender.slice(7))
              : await ustackRun(link, o, port++, sender);
            d.droppedPackets = (await droppedPackets(link)) - before;
            const backlogAfter = backlogDrops();
            // Machine-wide (other work on the machine counts too): with both CPUs busy the run
            // was bound by the CPU time its sender, sink and kernel paths took per byte.
            d.machineCpu = machineCpuDelta(statBefore, procStat());
            d.backlogDrops = backlogBefore !== null && backlogAfter !== null
              ? backlogAfter - backlogBefore
              : null;
            if (tap !== null) d.wireOrder = await tap.finish();
            const peerAfter = await tcpExt(link, "peer");
            d.peerReceive = {} as Record<string, number>;
            for (const [k, v] of peerAfter) {
              if (PEER_RECEIVE_COUNTERS.test(k)) d.peerReceive[k] = v - (peerBefore.get(k) ?? 0);
            }
            // The sink's ACKs (and its handshake/FIN segments) per MB received.
            const acks = (await peerOutSegs(link)) - acksBefore;
            const mb = (d.sink?.bytes ?? 0) / 1e6;
            d.peerAcksPerMB = mb > 0 ? Math.round((acks / mb) * 10) / 10 : null;
            // What the sink did per MB: reads that returned data, and sleeps (voluntary context
            // switches); and the sender's super-segments per MB (the kernel's skbs from its
            // namespace's Ip OutRequests, the stack's TX frames from its driver counters).
            const per = (n: unknown) =>
              typeof n === "number" && mb > 0 ? Math.round((n / mb) * 10) / 10 : null;
            d.sinkReadsPerMB = per(d.sink?.reads);
            d.sinkSleepsPerMB = per(d.sink?.nvcsw);
            d.sinkCpuShare = typeof d.sink?.cpuSeconds === "number" && d.sink.seconds > 0
              ? Math.round((d.sink.cpuSeconds / d.sink.seconds) * 100) / 100
              : null;
            d.senderFramesPerMB = sender.startsWith("kernel-")
              ? per((await snmpCounter(link, "stack", "Ip", "OutRequests")) - skbsBefore)
              : per(d.client?.driver?.txFrames);
            // The stack's CPU (every thread of the process) per GB sent.
            const cpu = d.client?.cpu;
            const tc = d.client?.threadCpu;
            d.senderCpuSecondsPerGB = cpu !== undefined && d.sink?.bytes > 0
              ? Math.round(((cpu.userSeconds + cpu.systemSeconds) / (d.sink.bytes / 1e9)) * 1000) /
                1000
              : null;
            const w = d.window ?? d.client?.window;
            // MSS with timestamps (both senders use them): the MTU less 52 bytes of headers.
            d.windowRoundTripUs = windowRoundTripUs(w?.inflightSegs, o.mtu - 52, d.gbps);
            const m = d.machineCpu as MachineCpu | null;
            d.machineCpuSecondsPerGB = m !== null && d.sink?.bytes > 0
              ? Math.round((m.busySeconds / (d.sink.bytes / 1e9)) * 1000) / 1000
              : null;
            runs.get(sender)!.push(d);
            progress(
              `  ${d.gbps.toFixed(3)} Gbit/s` +
                (w
                  ? `, mean cwnd ${w.cwndSegs} inflight ${w.inflightSegs} srtt ${w.srttMs} ms` +
                    ` (the flight's round trip at this goodput ${d.windowRoundTripUs} µs)`
                  : "") +
                `; per MB: sender frames ${d.senderFramesPerMB}, peer ACKs ${d.peerAcksPerMB},` +
                ` sink reads ${d.sinkReadsPerMB}, sink sleeps ${d.sinkSleepsPerMB},` +
                ` sink CPU ${d.sinkCpuShare}` +
                (d.senderCpuSecondsPerGB !== null
                  ? `; sender CPU ${d.senderCpuSecondsPerGB} s/GB` +
                    (tc !== undefined
                      ? ` (while it ran: stack thread ${tc.mainSeconds} s, busiest other` +
                        ` ${tc.busiestOther} ${tc.busiestOtherSeconds} s, all others ${tc.otherSeconds} s)`
                      : "")
                  : "") +
                (w?.limitedShare ? `; limited ${JSON.stringify(w.limitedShare)}` : "") +
                (d.client?.threadSched
                  ? `; switches (voluntary/involuntary/migrations): stack thread ` +
                    schedText(d.client.threadSched.main) + `, busiest other ` +
                    schedText(d.client.threadSched.busiestOther)
                  : "") +
                `; sink OFO queued ${d.peerReceive.TCPOFOQueue ?? 0}` +
                `; per MB: merged into the sink's receive queue ` +
                `${per(d.peerReceive.TCPRcvCoalesce)}, into its backlog ` +
                `${per(d.peerReceive.TCPBacklogCoalesce)}` +
                `; dropped by the rule ${d.droppedPackets}, at a backlog ${d.backlogDrops}` +
                (m !== null
                  ? `; machine CPU busy ${m.busyShare} (softirq ${m.softirqSeconds} s), ` +
                    `${d.machineCpuSecondsPerGB} CPU-s/GB`
                  : "") +
                (typeof d.client?.retransmits === "number"
                  ? `, resent ${d.client.retransmits}`
                  : "") +
                (d.wireOrder ? `; wire order ${JSON.stringify(d.wireOrder)}` : "") +
                (d.ackPath ? `; sender ACK path ${JSON.stringify(d.ackPath)}` : ""),
            );
          } catch (e) {
            await tap?.finish().catch(() => {});
            progress(`FAILED ${sender}: ${(e as Error).message}`);
            runs.get(sender)!.push({ gbps: null, error: String(e) });
          }
        }
      }
      for (const sender of senders) {
        const all = runs.get(sender)!;
        const ok = all.map((d) => d.gbps).filter((g): g is number => typeof g === "number");
        ok.sort((a, b) => a - b);
        const median = ok.length === 0 ? null : ok[(ok.length - 1) >> 1];
        const details = all.length === 1 ? all[0] : { runs: all, gbpsAll: ok };
        if (all.length > 1) {
          details.droppedPackets = all.reduce((n, d) => n + (d.droppedPackets ?? 0), 0);
        }
        figures.push({
          sender,
          lossPercent: loss,
          gbps: median,
          details: { ...details, offloads },
        });
      }
    }
    await setLoss(link, 0);
  } finally {
    await link.destroy();
  }
  return figures;
}

/** Gbit/s of each run of a figure, in round order (null for a failed run). */
function runGbps(f: CcFigure): (number | null)[] {
  const runs = f.details.runs as { gbps: number | null }[] | undefined;
  return runs === undefined ? [f.gbps] : runs.map((r) => r.gbps ?? null);
}

/**
 * Round-paired ratios `a ÷ b`: run i of `a` over run i of `b` (the same round, minutes apart),
 * sorted; rounds where either failed are left out. With rounds interleaved this cancels most of
 * what the machine's load does to both.
 */
export function pairedRatios(a: CcFigure, b: CcFigure): number[] {
  const x = runGbps(a);
  const y = runGbps(b);
  const out: number[] = [];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    if (p !== null && q !== null && q > 0) out.push(p / q);
  }
  return out.sort((m, n) => m - n);
}

/** "median [min–max]" of sorted ratios (the lower median for an even count), or "". */
export function ratioSpread(sorted: number[]): string {
  if (sorted.length === 0) return "";
  const med = sorted[(sorted.length - 1) >> 1];
  if (sorted.length === 1) return `${med.toFixed(2)}×`;
  return `${med.toFixed(2)}× [${sorted[0].toFixed(2)}–${sorted[sorted.length - 1].toFixed(2)}]`;
}

/**
 * The table: Gbit/s, ratio to the first kernel algorithm (CUBIC) in the same phase, ratio to
 * NewReno without loss; with several rounds also the round-paired ratios (median [min–max]).
 */
export function formatCcTable(figures: CcFigure[]): string {
  const lines: string[] = [];
  const kernelBase = figures.find((f) => f.sender.startsWith("kernel-"))?.sender ?? "";
  const base = (loss: number) =>
    figures.find((f) => f.sender === kernelBase && f.lossPercent === loss);
  // Each build's NewReno: "newreno" for this checkout, "newreno@base" for --base-cli.
  const reno = (sender: string) => {
    const at = sender.indexOf("@");
    const name = at < 0 ? "newreno" : `newreno${sender.slice(at)}`;
    return figures.find((f) => f.lossPercent === 0 && f.sender === name);
  };
  for (const f of figures) {
    const r = reno(f.sender)?.gbps;
    const k = base(f.lossPercent)?.gbps ?? null;
    const g = f.gbps;
    let text = `loss ${String(f.lossPercent).padStart(3)} %  ${f.sender.padEnd(13)} ` +
      `${g === null ? "failed" : g.toFixed(3).padStart(7)} Gbit/s`;
    if (f.sender !== kernelBase && g !== null && k !== null && k > 0) {
      text += `  ${(g / k).toFixed(2)}× ${kernelBase}`;
    }
    if (
      f.lossPercent === 0 && !f.sender.startsWith("kernel-") && g !== null && r
    ) text += `  ${(g / r).toFixed(2)}× newreno`;
    const dropped = f.details.droppedPackets;
    if (typeof dropped === "number" && f.lossPercent > 0) text += `  (${dropped} dropped)`;
    lines.push(text);
    if (f.details.runs === undefined) continue;
    const paired: string[] = [];
    const kf = base(f.lossPercent);
    if (f.sender !== kernelBase && kf !== undefined) {
      paired.push(`${ratioSpread(pairedRatios(f, kf))} ${kernelBase}`);
    }
    const rf = reno(f.sender);
    if (f.lossPercent === 0 && !f.sender.startsWith("kernel-") && rf !== undefined && rf !== f) {
      paired.push(`${ratioSpread(pairedRatios(f, rf))} newreno`);
    }
    if (paired.length > 0) lines.push(`${" ".repeat(22)}per round: ${paired.join(", ")}`);
  }
  return lines.join("\n");
}

const USAGE = `usage: deno run --allow-all bench/cc_bench.ts [options]
  --seconds N     seconds per measurement (20)
  --loss P        loss of the lossy phase, percent of the sender's packets (1)
  --loss-on WHAT  wire: TSO off on the sender's veth, the rule drops MTU-sized packets
                  (default); frame: TSO on, it drops whole super-segments
  --cc LIST       algorithms, comma-separated (newreno,cubic,bbr; "default": no --cc flag);
                  ALG+KICK adds --tx-kick KICK (cubic+thread: CUBIC, kicks on a thread),
                  ALG+KICK:US also --tx-kick-spin US
  --variant NAME=FLAGS  also a sender NAME running uperf client with FLAGS (repeatable), e.g.
                  "cubic-nopace=--cc cubic --no-pacing"
  --kernel-cc LIST  kernel algorithms (cubic,bbr); the first is the ratios' baseline
  --driver NAME   the stack's driver (af_packet)
  --mtu N         MTU (1500)
  --repeat N      runs per sender and phase, round robin; the figure is the (lower) median (1),
                  with the round-paired ratios (median [min–max]) under it
  --pin S:K       pin every sender (the Python sender, or the stack with all its threads) to
                  the CPU list S and the sink to K (taskset -c), e.g. 0:1
  --base-cli PATH  also run every algorithm with this checkout's cli/ustack.ts, interleaved,
                  as ALG@base (before/after in one sitting)
  --rps-cpus MASK  receive packet steering on both veth ends (hex CPU mask, e.g. 2): the
                  receiving end's work leaves the sender's transmit call
  --rps-side SIDE  the ends --rps-cpus steers: stack (the sender's end: the peer's ACKs reach
                  a kernel sender on those CPUs, not inside the sink's system call), peer, both
  --peer-sysctl KEY=VALUE  a sysctl set in the kernel receiver's namespace (repeatable), e.g.
                  net.ipv4.tcp_comp_sack_nr=0 (the receiver's SACK compression off)
  --order-tap     capture the sender's datagrams on the peer (dumpcap) and count those that
                  arrived behind a later-sent one (first transmissions below the highest byte
                  seen): the path's reordering of the sender's frames; resends not counted;
                  in send order (frames by IPv4 id): segments behind a later-sent frame, first
                  transmissions behind a later resend (behindResend, resendsAhead);
                  and the peer's ACKs at the sender's end behind a later one (IPv4 ids)
  --peer-gro      GRO on the peer's veth end (merges every sender's consecutive segments before
                  the peer's TCP; the rule then drops merged skbs: a diagnostic)
  --loss-only     only the lossy phase (with --loss 0: only the phase without loss)
  --out FILE      JSON record (bench/results/cc-<date>.json)`;

/** Parse the command line; null for --help. */
export function parseCcBenchArgs(args: string[], now = new Date()): CcBenchOptions | null {
  const { values } = parseArgs({
    args,
    options: {
      seconds: { type: "string" },
      loss: { type: "string" },
      "loss-on": { type: "string" },
      cc: { type: "string" },
      "kernel-cc": { type: "string" },
      driver: { type: "string" },
      mtu: { type: "string" },
      repeat: { type: "string" },
      out: { type: "string" },
      "base-cli": { type: "string" },
      "rps-cpus": { type: "string" },
      "rps-side": { type: "string" },
      "peer-sysctl": { type: "string", multiple: true },
      pin: { type: "string" },
      variant: { type: "string", multiple: true },
      "loss-only": { type: "boolean" },
      "order-tap": { type: "boolean" },
      "peer-gro": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return null;
  const seconds = Number(values.seconds ?? 20);
  const loss = Number(values.loss ?? 1);
  const mtu = Number(values.mtu ?? 1500);
  if (!(seconds > 0 && seconds <= 600)) throw new Error(`--seconds: 0 < N <= 600`);
  // --loss 0 --loss-only: the phase without loss alone.
  if (!(loss >= 0 && loss < 100) || (loss === 0 && !values["loss-only"])) {
    throw new Error(`--loss: 0 < P < 100 (0 with --loss-only: only the phase without loss)`);
  }
  if (!(Number.isInteger(mtu) && mtu >= 1280)) throw new Error(`--mtu: an integer >= 1280`);
  const repeat = Number(values.repeat ?? 1);
  if (!(Number.isInteger(repeat) && repeat >= 1 && repeat <= 20)) {
    throw new Error(`--repeat: an integer 1..20`);
  }
  for (const kv of values["peer-sysctl"] ?? []) {
    if (!/^[a-z0-9_.\/-]+=\S+$/i.test(kv)) {
      throw new Error(`--peer-sysctl ${kv}: say KEY=VALUE, e.g. net.ipv4.tcp_comp_sack_nr=0`);
    }
  }
  const rpsSide = values["rps-side"] ?? "both";
  if (rpsSide !== "stack" && rpsSide !== "peer" && rpsSide !== "both") {
    throw new Error(`--rps-side: stack, peer or both`);
  }
  const lossOn = values["loss-on"] ?? "wire";
  if (lossOn !== "wire" && lossOn !== "frame") throw new Error(`--loss-on: wire or frame`);
  const date = now.toISOString().slice(0, 10);
  let pin: CcBenchOptions["pin"];
  if (values.pin !== undefined) {
    const m = /^([\d,-]+):([\d,-]+)$/.exec(values.pin);
    if (m === null) throw new Error(`--pin ${values.pin}: say SENDER_CPUS:SINK_CPUS, e.g. 0:1`);
    pin = { sender: m[1], sink: m[2] };
  }
  return {
    pin,
    seconds,
    lossPercent: loss,
    lossOn,
    algorithms: (values.cc ?? "newreno,cubic,bbr").split(",").filter((s) => s !== ""),
    kernelAlgorithms: (values["kernel-cc"] ?? "cubic,bbr").split(",").filter((s) => s !== ""),
    driver: values.driver ?? "af_packet",
    mtu,
    repeat,
    lossOnly: values["loss-only"] === true,
    baseCli: values["base-cli"],
    rpsCpus: values["rps-cpus"],
    rpsSide: rpsSide as CcBenchOptions["rpsSide"],
    peerSysctls: values["peer-sysctl"],
    orderTap: values["order-tap"] === true,
    peerGro: values["peer-gro"] === true,
    variants: new Map((values.variant ?? []).map((v) => parseVariant(v))),
    out: values.out ?? new URL(`./results/cc-${date}.json`, import.meta.url).pathname,
  };
}

/** Run the benchmark; resolves to the exit status. */
export async function main(args: string[]): Promise<number> {
  let o: CcBenchOptions | null;
  try {
    o = parseCcBenchArgs(args);
  } catch (e) {
    console.error(`bench:cc: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (o === null) {
    console.log(USAGE);
    return 0;
  }
  const missing = missingRequirements(["ss", "python3", "nft"]);
  if (missing.length > 0) {
    console.error(`bench:cc: cannot run: missing ${missing.join(", ")}`);
    return 1;
  }
  const startedAt = new Date();
  const figures = await runCcBench(o);
  console.log(
    `ustack bench:cc — MTU ${o.mtu}, one stream, ${o.seconds} s each, driver ${o.driver}; ` +
      `loss: nftables on the peer drops ${o.lossPercent} % of the sender's ` +
      `${o.lossOn === "wire" ? "wire packets (TSO off, GSO on)" : "TSO super-segments"}; ` +
      `ratios to kernel ${o.kernelAlgorithms[0]}`,
  );
  console.log(formatCcTable(figures));
  const dir = o.out.slice(0, o.out.lastIndexOf("/"));
  if (dir !== "") await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    o.out,
    JSON.stringify(
      {
        benchmark: "ustack bench:cc",
        date: startedAt.toISOString(),
        host: { kernel: Deno.osRelease(), cpus: navigator.hardwareConcurrency },
        options: o,
        figures,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(`wrote ${o.out}`);
  return figures.some((f) => f.gbps === null) ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
