/**
 * TCP mode of `ustack uperf`: the client writes LEN-byte chunks on STREAMS connections for SECS
 * seconds, waits until everything is acknowledged and closes; the server accepts and counts.
 * "Packets" are TCP segments (the stack's OutSegs / InSegs), so pkt/s is comparable with UDP.
 *
 * @module
 */

import { LoopTrace, type Runtime, StackError, type TcpConn } from "../mod.ts";
import process from "node:process";
import { emit, emitJson } from "./output.ts";
import {
  dataPathCounters,
  dataPathDelta,
  loopTimeDelta,
  loopTimeTotals,
  Meter,
  MIN_PARTIAL_INTERVAL_MS,
  onStopSignal,
  StopLatch,
} from "./meter.ts";
import type { UperfOptions } from "./uperf_options.ts";
import { TRACE_RECORDS, writeTrace } from "./rr_trace_file.ts";
import { CC_TRACE_RECORDS, writeCcTrace } from "./cc_trace_file.ts";
import { CcTrace } from "../transport/tcp/cc_trace.ts";
import { WindowSampler } from "./uperf_window.ts";
import { threadCpuDelta, threadCpuSeconds } from "./uperf_threads.ts";
import { DSACK_COUNTER_BY_REASON } from "../transport/tcp/retrans_log.ts";

/** The server stops after this long without data once traffic has started. */
const SERVER_IDLE_MS = 2000;

/** Run the TCP client; resolves to the exit status. */
export async function runTcpClient(rt: Runtime, o: UperfOptions): Promise<number> {
  const clock = rt.stack.clock;
  const tcp = rt.stack.stats.tcp;
  const meter = new Meter("client", o.json);
  const host = o.host.toString();
  let stopped = false;
  const signals = onStopSignal(() => stopped = true);
  const conns: TcpConn[] = [];
  try {
    for (let i = 0; i < o.streams; i++) {
      conns.push(await rt.connect({ hostname: host, port: o.port }));
    }
    if (o.json) {
      emitJson("start", {
        role: "client",
        protocol: "tcp",
        from: `${rt.primaryAddress}`,
        to: `${host}:${o.port}`,
        len: o.len,
        streams: o.streams,
        seconds: o.seconds,
      });
    } else {
      emit(
        `uperf client: TCP to ${host}:${o.port}, ${o.streams} stream(s), ${o.len}-byte writes ` +
          `for ${o.seconds} s`,
      );
    }
    const chunk = new Uint8Array(o.len);
    for (let i = 0; i < chunk.length; i++) chunk[i] = i & 0xff;
    const segsBefore = tcp.OutSegs;
    const countersBefore = dataPathCounters(rt);
    const loopBefore = loopTimeTotals(rt);
    // --trace: the loop's records over the measured seconds (the oldest go once it is full).
    if (o.trace !== null) rt.loop.trace = new LoopTrace(TRACE_RECORDS);
    // --cc-trace: the first stream's window at every ACK of the measured seconds.
    const ccTrace = o.ccTrace !== null ? new CcTrace(CC_TRACE_RECORDS) : null;
    if (ccTrace !== null) conns[0].endpoint.snd.loss.ccTrace = ccTrace;
    const cpuBefore = process.cpuUsage();
    const threadsBefore = threadCpuSeconds();
    meter.start(clock.nowMs());
    const endMs = meter.startMs + o.seconds * 1000;
    const reporter = setInterval(() => {
      meter.packets = tcp.OutSegs - segsBefore;
      meter.report(Math.min(clock.nowMs(), endMs));
    }, 1000);
    const window = new WindowSampler();
    const sampler = setInterval(() => window.sample(conns[0]), SAMPLE_MS);
    try {
      await Promise.all(conns.map(async (conn) => {
        while (!stopped && clock.nowMs() < endMs) {
          await conn.write(chunk);
          meter.add(0, chunk.length);
        }
      }));
      // Everything written must be acknowledged before the run counts as done.
      await Promise.all(conns.map((c) => c.drained()));
    } finally {
      clearInterval(reporter);
      clearInterval(sampler);
    }
    const endedMs = clock.nowMs();
    // The whole process's CPU over the run, every thread (the TX kicker's sendto included).
    const cpu = process.cpuUsage(cpuBefore);
    // Per thread only where /proc/self may be read (Deno asks for --allow-all).
    const threads = threadsBefore.size > 0
      ? threadCpuDelta(threadsBefore, threadCpuSeconds(), Deno.pid)
      : {};
    const trace = rt.loop.trace;
    rt.loop.trace = null;
    if (ccTrace !== null) conns[0].endpoint.snd.loss.ccTrace = null;
    meter.packets = tcp.OutSegs - segsBefore;
    if (endedMs - meter.lastReportMs >= MIN_PARTIAL_INTERVAL_MS) meter.report(endedMs);
    const retransmits = conns.reduce((a, c) => a + c.info().retransmits, 0);
    meter.summary((endedMs - meter.startMs) / 1000, {
      len: o.len,
      streams: o.streams,
      cc: conns[0]?.congestionControl ?? "",
      retransmits,
      recovery: recoveryCounters(tcp),
      window: window.summary(),
      driver: dataPathDelta(countersBefore, dataPathCounters(rt)),
      loop: loopTimeDelta(loopBefore, loopTimeTotals(rt), endedMs - meter.startMs),
      cpu: {
        userSeconds: Math.round(cpu.user / 1000) / 1000,
        systemSeconds: Math.round(cpu.system / 1000) / 1000,
        ...threads,
      },
    });
    if (o.trace !== null) {
      await writeTrace(o.trace, "client", new Float64Array(0), trace, rt.loop.clockOffsetMs());
    }
    if (o.ccTrace !== null && ccTrace !== null) {
      await writeCcTrace(o.ccTrace, ccTrace, conns[0].info().mss);
    }
    for (const c of conns) c.close();
    // Let the FINs go out before the runtime stops.
    await new Promise((r) => setTimeout(r, 50));
  } catch (e) {
    for (const c of conns) c.abort();
    throw e;
  } finally {
    signals.remove();
  }
  return 0;
}

/** Period of the first stream's window samples (ms; `ss -tin` every 20 ms, as bench:cc does). */
const SAMPLE_MS = 20;

/** Loss-recovery counters worth a look after a run (the non-zero ones). */
const RECOVERY_COUNTERS = [
  "TCPSackRecovery",
  "TCPRenoRecovery",
  "TCPFastRetrans",
  "TCPSlowStartRetrans",
  "TCPLossProbes",
  "TCPLossProbeRecovery",
  "TCPLostRetransmit",
  "TCPDSACKRecv",
  "TCPDSACKRecvSegs",
  "TCPDSACKUndo",
  "TCPRackLostSegs",
  "TCPRackTimerLostSegs",
  "TCPRetransProbes",
  ...DSACK_COUNTER_BY_REASON,
  "TCPSpuriousRTOs",
  "TCPSACKReorder",
  "TCPRackReoWndWidened",
  "TCPRetransLogOverrun",
  "TCPTimeouts",
  "TCPECNCwr",
];

function recoveryCounters(tcp: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of RECOVERY_COUNTERS) if (tcp[k] > 0) out[k] = tcp[k];
  return out;
}

/** Run the TCP server; resolves to the exit status. */
export async function runTcpServer(rt: Runtime, o: UperfOptions): Promise<number> {
  const clock = rt.stack.clock;
  const tcp = rt.stack.stats.tcp;
  const meter = new Meter("server", o.json);
  const server = rt.listen({ port: o.port });
  let firstMs = -1;
  // The last read's tick time, in a cell: a double stored into a closure's variable is a new
  // heap number on every store (one per read in the consumer below).
  const lastMs = new Float64Array([-1]);
  let active = 0;
  let seen = 0;
  let segsBefore = 0;
  const latch = new StopLatch();
  const stop = (why: string) => latch.stop(why);
  const signals = onStopSignal(() => stop("signal"));
  const timers: ReturnType<typeof setTimeout>[] = [];
  const conns = new Set<TcpConn>();
  let countersBefore = dataPathCounters(rt);
  const onFirst = (now: number) => {
    firstMs = now;
    segsBefore = tcp.InSegs;
    countersBefore = dataPathCounters(rt);
    meter.start(now);
    timers.push(setTimeout(() => stop("time"), o.seconds * 1000));
    timers.push(setInterval(() => {
      meter.packets = tcp.InSegs - segsBefore;
      meter.report(clock.nowMs());
      if (clock.nowMs() - lastMs[0] >= SERVER_IDLE_MS) stop("idle");
    }, 1000));
  };
  (async () => {
    for await (const conn of server) {
      active++;
      seen++;
      conns.add(conn);
      // A consumer: every read counted inside the tick that brought it, with no promise or
      // wait per read; its promise settles at the peer's FIN (or rejects with the error).
      conn.consume(new Uint8Array(256 * 1024), (n) => {
        const now = clock.nowMs();
        if (firstMs < 0) onFirst(now);
        lastMs[0] = now;
        meter.add(0, n);
      }).catch(() => {}).finally(() => {
        conn.close();
        conns.delete(conn);
        if (--active === 0 && seen > 0 && firstMs >= 0) stop("done");
      });
    }
  })().catch(() => {});
  try {
    if (o.json) {
      emitJson("ready", {
        role: "server",
        protocol: "tcp",
        addrs: [...rt.addrs],
        port: o.port,
        seconds: o.seconds,
      });
    } else {
      emit(`ready: uperf server on TCP port ${o.port} ${rt.addrs.join(" ")}`.trimEnd());
    }
    await latch.finished;
  } finally {
    for (const t of timers) clearTimeout(t);
    signals.remove();
    server.close();
    for (const c of conns) c.close();
  }
  if (firstMs < 0) throw new StackError("ETIMEDOUT", "no data arrived");
  const endMs = latch.stoppedBy === "time" ? firstMs + o.seconds * 1000 : lastMs[0];
  meter.packets = tcp.InSegs - segsBefore;
  if (endMs - meter.lastReportMs >= MIN_PARTIAL_INTERVAL_MS) meter.report(endMs);
  meter.summary(Math.max(0.001, (endMs - firstMs) / 1000), {
    stoppedBy: latch.stoppedBy,
    connections: seen,
    driver: dataPathDelta(countersBefore, dataPathCounters(rt)),
  });
  return 0;
}
