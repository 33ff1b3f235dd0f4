/**
 * `deno run --allow-all bench/ack_trace.ts`: what a kernel TCP sender does, millisecond by
 * millisecond, while `ustack serve --discard` receives from it on a veth pair — e.g. while an
 * adaptive ACK deferral probe (`--ack-defer-auto`) tries deferring. The Python sender reads its
 * own socket's `TCP_INFO` and `TCP_CC_INFO` (BBR's bandwidth estimate, minimum RTT and gains)
 * between its `send` calls, every `--sample-us`, and the samples are binned by `--bin-ms`: the
 * goodput (bytes acknowledged), the ACKs per data segment sent (ACKs the sender received ÷ data
 * segments it sent: a deferring receiver sends fewer), the pacing rate, BBR's bandwidth and
 * pacing gain, cwnd, packets in flight, the smoothed RTT and the delivery rate.
 *
 * ```
 * deno run --allow-all bench/ack_trace.ts [--mtu 9000] [--seconds 3] [--sender-cc bbr]
 *   [--config "auto=--ack-defer-auto"]... [--base-cli /other/cli/ustack.ts] [--bin-ms 5]
 *   [--sample-us 250] [--repeat 1] [--quiet] [--out FILE]
 * ```
 *
 * Each `--config NAME=FLAGS` runs this checkout's `serve` once with FLAGS (default one
 * configuration, `default`, without flags); `--base-cli` adds the other checkout's as `base`.
 * Configurations run one after another on one link (`--repeat` times, rotating). Per run it
 * prints the rate, the adaptive deferral's decisions, the bins whose smoothed RTT is above
 * 100 µs (a standing queue in the stack's ring: the sender's slow state, bench/README.md,
 * defer40) and, unless `--quiet`, every bin; `--out` writes every run's bins as JSON. Not a
 * timed comparison: no lock is taken and nothing is interleaved with the kernel's own run.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { lastJson, mustSucceed } from "./e2e.ts";
import { BenchLink, parseVariant, USTACK_CLI } from "./netns.ts";

/**
 * Python TCP sender that samples its own socket: `HOST PORT SECONDS CC SAMPLE_US`. Prints one
 * JSON line: `{"bytes", "seconds", "cc", "samples": [[t_us, bytes_acked, segs_in,
 * data_segs_out, pacing_Bps, delivery_Bps, cwnd, unacked, rtt_us, bbr_bw_Bps, bbr_min_rtt_us,
 * pacing_gain_x256, cwnd_gain_x256, busy_us, rwnd_limited_us, sndbuf_limited_us], …]}`.
 */
export const PY_TCP_TRACE_SENDER = `
import json, socket, struct, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
cc = sys.argv[4]
every = float(sys.argv[5]) / 1e6
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
if cc:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
s.connect((host, port))
b = memoryview(bytes(128 * 1024))
TCP_INFO = 11
TCP_CC_INFO = 26
samples = []
def sample(t):
    i = s.getsockopt(socket.IPPROTO_TCP, TCP_INFO, 232)
    unacked, = struct.unpack_from("I", i, 24)
    rtt, = struct.unpack_from("I", i, 68)
    cwnd, = struct.unpack_from("I", i, 80)
    pacing, = struct.unpack_from("Q", i, 104)
    acked, = struct.unpack_from("Q", i, 120)
    segs_in, = struct.unpack_from("I", i, 140)
    dsegs_out, = struct.unpack_from("I", i, 156)
    delivery, = struct.unpack_from("Q", i, 160)
    busy, rwnd_l, sndbuf_l = struct.unpack_from("QQQ", i, 168)
    try:
        c = s.getsockopt(socket.IPPROTO_TCP, TCP_CC_INFO, 20)
        lo, hi, mrtt, pg, cg = struct.unpack_from("IIIII", c, 0) if len(c) >= 20 else (0, 0, 0, 0, 0)
    except OSError:
        lo, hi, mrtt, pg, cg = 0, 0, 0, 0, 0
    samples.append([round(t * 1e6), acked, segs_in, dsegs_out, pacing, delivery, cwnd, unacked,
                    rtt, (hi << 32) | lo, mrtt, pg, cg, busy, rwnd_l, sndbuf_l])
sent = 0
start = time.monotonic()
end = start + seconds
now = start
nxt = start
while now < end:
    sent += s.send(b)
    now = time.monotonic()
    if now >= nxt:
        sample(now - start)
        nxt = now + every
s.shutdown(socket.SHUT_WR)
s.settimeout(60)
s.recv(1)
now = time.monotonic()
cc_used = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).split(b"\\0")[0].decode()
print(json.dumps({"bytes": sent, "seconds": now - start, "cc": cc_used, "samples": samples}),
      flush=True)
`;

/** One sample of the sender's socket (see {@link PY_TCP_TRACE_SENDER}). */
export type TraceSample = number[];

/** One bin of a trace: rates over the bin, state at its last sample. */
export interface TraceBin {
  /** Start of the bin (ms since the connection). */
  ms: number;
  /** Goodput over the bin: bytes acknowledged (Gbit/s). */
  gbps: number;
  /** ACKs the sender received per data segment it sent, over the bin. */
  acksPerSeg: number;
  /** Pacing rate (Gbit/s), BBR's bandwidth estimate (Gbit/s), its pacing gain. */
  pacingGbps: number;
  bbrBwGbps: number;
  pacingGain: number;
  /** cwnd and packets in flight (segments), smoothed RTT (µs), BBR's min RTT (µs). */
  cwnd: number;
  unacked: number;
  rttUs: number;
  minRttUs: number;
  /** Share of the bin the sender was limited by the receive window, by its send buffer. */
  rwndLimited: number;
  sndbufLimited: number;
}

/**
 * Bin a trace's samples by `binMs`: each bin's rates from the first sample at or after its
 * start to the first at or after its end; bins with fewer than two samples are left out.
 *
 * @example
 * ```ts
 * const s = (t: number, acked: number) => [t, acked, t / 100, t / 10, 0, 0, 10, 5, 50, 0, 0, 256, 512, t, 0, 0];
 * binTrace([s(0, 0), s(1000, 1e6), s(2000, 2e6)], 2)[0].gbps; // 8
 * ```
 */
export function binTrace(samples: TraceSample[], binMs: number): TraceBin[] {
  const out: TraceBin[] = [];
  let i = 0;
  for (let start = 0; i < samples.length; start += binMs) {
    const a = samples[i];
    let j = i;
    while (j + 1 < samples.length && samples[j][0] < (start + binMs) * 1000) j++;
    const b = samples[j];
    if (j > i && b[0] > a[0]) {
      const us = b[0] - a[0];
      out.push({
        ms: start,
        gbps: ((b[1] - a[1]) * 8) / us / 1000,
        acksPerSeg: (b[2] - a[2]) / Math.max(1, b[3] - a[3]),
        pacingGbps: (b[4] * 8) / 1e9,
        bbrBwGbps: (b[9] * 8) / 1e9,
        pacingGain: b[11] / 256,
        cwnd: b[6],
        unacked: b[7],
        rttUs: b[8],
        minRttUs: b[10],
        rwndLimited: (b[14] - a[14]) / Math.max(1, b[13] - a[13]),
        sndbufLimited: (b[15] - a[15]) / Math.max(1, b[13] - a[13]),
      });
    }
    i = j;
    if (j === samples.length - 1) break;
  }
  return out;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      mtu: { type: "string", default: "9000" },
      seconds: { type: "string", default: "3" },
      "sender-cc": { type: "string", default: "" },
      config: { type: "string", multiple: true },
      "base-cli": { type: "string" },
      "bin-ms": { type: "string", default: "5" },
      "sample-us": { type: "string", default: "250" },
      repeat: { type: "string", default: "1" },
      out: { type: "string" },
      quiet: { type: "boolean", default: false },
    },
  });
  const mtu = Number(values.mtu);
  const seconds = Number(values.seconds);
  const binMs = Number(values["bin-ms"]);
  const configs: [string, string, string[]][] = (values.config ?? ["default="]).map((c) => {
    const [name, flags] = parseVariant(c, "--config");
    return [name, USTACK_CLI, flags];
  });
  if (values["base-cli"] !== undefined) configs.push(["base", values["base-cli"], []]);
  const link = await BenchLink.create(mtu);
  const record: Record<string, unknown>[] = [];
  let port = 7400;
  try {
    for (let rep = 0; rep < Number(values.repeat); rep++) {
      for (let k = 0; k < configs.length; k++) {
        const [name, cli, flags] = configs[(k + rep) % configs.length];
        const p = port++;
        const server = link.start("stack", [
          Deno.execPath(),
          "run",
          "--allow-all",
          cli,
          "serve",
          "--discard",
          String(p),
          ...link.stackOptions("stack", "af_packet"),
          ...flags,
        ]);
        try {
          await server.waitForLine(/^ready /);
          await link.waitReachable("stack");
          const f = await link.run("peer", [
            "python3",
            "-c",
            PY_TCP_TRACE_SENDER,
            link.addr("stack"),
            String(p),
            String(seconds),
            values["sender-cc"],
            values["sample-us"],
          ], seconds * 1000 + 40_000);
          mustSucceed("python sender", f);
          const j = lastJson(f.stdout);
          const fin = await server.stop(10_000);
          const tcp = /^\s*tcp: (.*)$/m.exec(fin.stdout)?.[1] ?? "";
          const bins = binTrace(j.samples, binMs);
          const gbps = (j.bytes * 8) / j.seconds / 1e9;
          console.log(
            `== ${name} (rep ${rep}): ${gbps.toFixed(2)} Gbit/s, cc ${j.cc}, ` +
              `auto on/off ${/TCPAckDeferAutoOn=(\d+)/.exec(tcp)?.[1] ?? "-"}/` +
              `${/TCPAckDeferAutoOff=(\d+)/.exec(tcp)?.[1] ?? "-"}, deferred ${
                /TCPAckDeferred=(\d+)/.exec(tcp)?.[1] ?? "-"
              }`,
          );
          // Bins with a standing queue: the sender's smoothed RTT above 100 µs (ping-pong: ~20).
          const queued = bins.filter((b) => b.rttUs > 100);
          const med = (xs: number[]) =>
            xs.length === 0 ? NaN : xs.sort((a, b) => a - b)[xs.length >> 1];
          console.log(
            `   queued (srtt > 100 µs) ${queued.length} of ${bins.length} bins, Gbit/s median ` +
              `${med(queued.map((b) => b.gbps)).toFixed(2)} queued, ${
                med(bins.filter((b) => b.rttUs <= 100).map((b) => b.gbps)).toFixed(2)
              } not`,
          );
          if (!values.quiet) {
            console.log(
              "   ms  Gbit/s acks/seg pacingG bbrBwG gain  cwnd unack rtt_us mrtt rwndL sbufL",
            );
            for (const b of bins) {
              console.log(
                `${String(b.ms).padStart(5)} ${b.gbps.toFixed(2).padStart(6)} ${
                  b.acksPerSeg.toFixed(3).padStart(8)
                } ${b.pacingGbps.toFixed(2).padStart(7)} ${b.bbrBwGbps.toFixed(2).padStart(6)} ${
                  b.pacingGain.toFixed(2).padStart(4)
                } ${String(b.cwnd).padStart(5)} ${String(b.unacked).padStart(5)} ${
                  String(b.rttUs).padStart(6)
                } ${String(b.minRttUs).padStart(4)} ${b.rwndLimited.toFixed(2)} ${
                  b.sndbufLimited.toFixed(2)
                }`,
              );
            }
          }
          record.push({ name, rep, gbps, cc: j.cc, tcp, bins });
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    await link.destroy();
  }
  if (values.out !== undefined) {
    await Deno.writeTextFile(values.out, JSON.stringify({ mtu, seconds, binMs, runs: record }));
  }
}
