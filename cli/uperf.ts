/**
 * `ustack uperf`: UDP throughput between the stack and anything that speaks UDP.
 *
 * ```
 * ustack uperf server --udp [-p PORT] [-t SECS] [--prewarm N] [link options]
 * ustack uperf client HOST --udp [-l LEN] [-t SECS] [-p PORT] [link options]
 * ```
 *
 * The client sends datagrams of exactly LEN bytes to HOST:PORT for SECS seconds, as fast as the
 * stack takes them; the server counts what arrives on PORT. Neither needs anything from the
 * other — no greeting, no reply — so any plain UDP sink (`socat -u UDP-RECV:PORT -`, `nc -lu`)
 * can be the server and any plain sender can feed `uperf server`.
 *
 * Both print one line per second and a summary; rates are of UDP payload bytes
 * (1 Gbit/s = 10⁹ bit/s, 1 GB = 10⁹ bytes). The server's clock starts at its first datagram;
 * it stops SECS seconds after that, or earlier once no datagram has arrived for 2 s (the
 * sender is done), or on SIGINT/SIGTERM — whichever comes first — and then measures up to the
 * last datagram (or SECS). Before the first datagram it waits indefinitely. Exit status 0.
 *
 * @module
 */

import {
  IpAddress,
  prepareUdpReceive,
  Runtime,
  StackError,
  tryParseIp,
  UDP_MAX_PAYLOAD,
  type UdpEndpoint,
  UdpPeer,
  warmUpUdpReceive,
} from "../mod.ts";
import {
  LINK_OPTIONS,
  LINK_USAGE,
  linkConfig,
  numberFlag,
  parseStrict,
  TCP_STACK_OPTIONS,
  TCP_STACK_USAGE,
  tcpStackConfig,
  UsageError,
} from "./args.ts";
import {
  dataPathCounters,
  dataPathDelta,
  Meter,
  MIN_PARTIAL_INTERVAL_MS,
  onStopSignal,
  sleep,
  StopLatch,
  yieldToEventLoop,
} from "./meter.ts";
import { emit, emitJson } from "./output.ts";
import { runTcpClient, runTcpServer } from "./uperf_tcp.ts";
import {
  PREWARM_OPTIONS,
  prewarmCount,
  prewarmDefault,
  type WarmUpConfig,
  warmUpLink,
  withWarmUpWire,
} from "./warm_up.ts";
import type { UperfOptions } from "./uperf_options.ts";

/** Usage of `uperf`. */
export const UPERF_USAGE =
  `usage: ustack uperf server [--udp] [-p PORT] [-t SECS] [--prewarm N] [link options]
       ustack uperf client HOST [--udp] [-l LEN] [-t SECS] [-p PORT] [-P STREAMS] [link options]
Throughput, TCP by default. The client sends LEN-byte chunks (TCP writes, or UDP datagrams)
to HOST:PORT for SECS seconds as fast as it can; the server counts what arrives. Neither needs
anything from the other: any sink (a kernel socket that just reads) can be the server, any
sender can feed the server. Both print Gbit/s and packets/s every second and a summary, then
exit 0. TCP: the client waits until everything is acknowledged, then closes; packets are TCP
segments. The server's time starts at its first byte; it stops SECS seconds later, when every
connection has ended (TCP), after 2 s without data, or on SIGINT/SIGTERM.
  --udp              UDP mode
  -P, --parallel N   TCP client: N parallel connections (1)
  -l, --len LEN      bytes per datagram, 0..${UDP_MAX_PAYLOAD} (1472), or per TCP write (131072)
  -t, --time SECS    seconds to send / to count (10)
  -p, --port PORT    port (5201)
  --prewarm N        UDP server: before the ready line, N datagrams between two private
                     in-memory stacks through this server's receive code (JIT warm-up;
                     nothing reaches the interface) (3000; 0: none)
  --prewarm-wire KIND  what joins them: sim (default) or af_packet (see serve --help)
  --trace BASE       TCP client: the event loop's trace of the measured seconds in BASE.json
                     and BASE.loop.f64 (where each received ACK batch waited and what the
                     loop did meanwhile: bench/tx_trace.ts)
  --cc-trace BASE    TCP client: the first stream's window at every ACK of the measured
                     seconds in BASE.json and BASE.cc.f64 (cwnd, ssthresh, flight, recovery
                     state: bench/cc_trace.ts)
${TCP_STACK_USAGE}
${LINK_USAGE}`;

/** Datagrams handed to the stack between two yields to the event loop. */
const SEND_BURST = 64;
/** How long the client waits for the first hop's ARP answer before giving up. */
const RESOLVE_TIMEOUT_MS = 3500;
/** The server stops after this long without a datagram once traffic has started. */
const SERVER_IDLE_MS = 2000;
/**
 * Datagrams of the UDP server's default receive warm-up (`--prewarm`): ~0.1–0.3 s of a fresh
 * process's start, 8,900- and 1,472-byte datagrams in turn (bench/README.md, "UDP both ways,
 * branch udp13b": without it a fresh server lost up to ~10 % of a 2 s line-rate run at MTU 1500
 * in its first fraction of a second).
 */
const UDP_PREWARM_DATAGRAMS = 3000;
/** Receive buffer of the server socket: several RX batches of 64 KB datagrams. */
const SERVER_RECEIVE_BUFFER_BYTES = 4 << 20;

/** Parse `uperf` arguments; throws UsageError. Returns null for `--help`. */
function parseUperf(
  args: string[],
): { opts: UperfOptions; values: Record<string, unknown> } | null {
  const { values, positionals } = parseStrict(args, {
    ...LINK_OPTIONS,
    ...TCP_STACK_OPTIONS,
    ...PREWARM_OPTIONS,
    udp: { type: "boolean" },
    parallel: { type: "string", short: "P" },
    len: { type: "string", short: "l" },
    time: { type: "string", short: "t" },
    port: { type: "string", short: "p" },
    trace: { type: "string" },
    "cc-trace": { type: "string" },
  });
  if (values.help) return null;
  const [role, host, ...rest] = positionals;
  if (role !== "server" && role !== "client") {
    throw new UsageError(
      role === undefined ? "say 'server' or 'client'" : `unknown mode '${role}'`,
    );
  }
  const protocol = values.udp === true ? "udp" : "tcp";
  if (protocol === "udp" && values.parallel !== undefined) {
    throw new UsageError("-P applies to TCP mode only");
  }
  let dst = IpAddress.v4(0);
  if (role === "client") {
    if (host === undefined) throw new UsageError("uperf client needs a HOST");
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    const parsed = tryParseIp(host);
    if (parsed === null) throw new UsageError(`${host}: not an IPv4 or IPv6 address`);
    dst = parsed;
  } else if (host !== undefined) {
    throw new UsageError(`uperf server takes no HOST (got ${host})`);
  }
  if (role === "server" && values.len !== undefined) {
    throw new UsageError("-l applies to the client only");
  }
  if (
    (values.prewarm !== undefined || values["prewarm-wire"] !== undefined) &&
    (role !== "server" || protocol !== "udp")
  ) {
    throw new UsageError("--prewarm applies to uperf server --udp only");
  }
  if (values.trace !== undefined && (role !== "client" || protocol !== "tcp")) {
    throw new UsageError("--trace applies to uperf client (TCP) only");
  }
  if (values["cc-trace"] !== undefined && (role !== "client" || protocol !== "tcp")) {
    throw new UsageError("--cc-trace applies to uperf client (TCP) only");
  }
  const opts: UperfOptions = {
    role,
    protocol,
    host: dst,
    len: protocol === "udp"
      ? numberFlag("len", values.len, 1472, { integer: true, min: 0, max: UDP_MAX_PAYLOAD })
      : numberFlag("len", values.len, 131072, { integer: true, min: 1, max: 16 << 20 }),
    streams: numberFlag("parallel", values.parallel, 1, { integer: true, min: 1, max: 128 }),
    seconds: numberFlag("time", values.time, 10, { min: 0.001, max: 86_400 }),
    port: numberFlag("port", values.port, 5201, { integer: true, min: 1, max: 65535 }),
    json: values.json === true,
    trace: (values.trace as string | undefined) ?? null,
    ccTrace: (values["cc-trace"] as string | undefined) ?? null,
  };
  return { opts, values };
}

/** Run `uperf` with `args`; resolves to the exit status. */
export async function uperfCommand(args: string[]): Promise<number> {
  const parsed = parseUperf(args);
  if (parsed === null) {
    emit(UPERF_USAGE);
    return 0;
  }
  const { opts, values } = parsed;
  const config = withWarmUpWire(tcpStackConfig(values, linkConfig(values)), values);
  const rt = await Runtime.start(config);
  try {
    if (opts.protocol === "tcp") {
      return opts.role === "client" ? await runTcpClient(rt, opts) : await runTcpServer(rt, opts);
    }
    if (opts.role === "client") return await runClient(rt, opts);
    const datagrams = prewarmDefault(values) ? UDP_PREWARM_DATAGRAMS : prewarmCount(values);
    return await runServer(rt, opts, () => warmUp(config, opts, datagrams));
  } finally {
    await rt.stop();
  }
}

/** Wait until the first hop towards `dst` is resolved (ARP or NDP); false after the timeout. */
async function resolveNextHop(rt: Runtime, dst: IpAddress): Promise<boolean> {
  const deadline = rt.stack.clock.nowMs() + RESOLVE_TIMEOUT_MS;
  while (!rt.nextHopResolved(dst)) {
    if (rt.stack.clock.nowMs() > deadline) return false;
    await sleep(1);
  }
  return true;
}

/**
 * The client: one unconnected socket, bursts of `SEND_BURST` datagrams with a yield between
 * bursts (each yield lets the stack's loop tick and flush the driver), a yield and a retry
 * when the stack is out of packet buffers (ENOBUFS).
 */
async function runClient(rt: Runtime, o: UperfOptions): Promise<number> {
  const clock = rt.stack.clock;
  const dst = o.host;
  const ep: UdpEndpoint = rt.stack.udp.open(dst.family);
  ep.bind(null, 0);
  if (dst.family === 6) await rt.addressesReady();
  const payload = new Uint8Array(o.len);
  for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
  const meter = new Meter("client", o.json);
  const host = dst.family === 6 ? `[${dst}]` : `${dst}`;
  let stopped = false;
  const signals = onStopSignal(() => stopped = true);
  const driver = rt.nic.driver.stats;
  const droppedBefore = driver.txDropped + rt.stack.stats.arp.QueueDrops;
  const countersBefore = dataPathCounters(rt);
  let backoffs = 0;
  try {
    if (o.json) {
      emitJson("start", {
        role: "client",
        protocol: "udp",
        from: `${rt.primaryAddress}:${ep.localPort}`,
        to: `${host}:${o.port}`,
        len: o.len,
        seconds: o.seconds,
      });
    } else {
      emit(
        `uperf client: ${o.len}-byte UDP datagrams from ${rt.primaryAddress}:${ep.localPort} ` +
          `to ${host}:${o.port} for ${o.seconds} s`,
      );
    }
    // The first datagram also starts ARP resolution; the clock runs from here.
    meter.start(clock.nowMs());
    ep.sendto(payload, 0, o.len, dst, o.port);
    meter.packets++;
    meter.bytes += o.len;
    if (!(await resolveNextHop(rt, dst))) {
      throw new StackError("EHOSTUNREACH", `no neighbour answer for the first hop to ${host}`);
    }
    const endMs = meter.startMs + o.seconds * 1000;
    let nextReportMs = meter.startMs + 1000;
    for (;;) {
      const now = clock.nowMs();
      if (now >= nextReportMs) {
        meter.report(Math.min(now, endMs));
        nextReportMs += 1000;
      }
      if (now >= endMs || stopped) break;
      let sent = 0;
      for (; sent < SEND_BURST; sent++) {
        try {
          ep.sendto(payload, 0, o.len, dst, o.port);
        } catch (e) {
          if ((e as StackError).code !== "ENOBUFS") throw e;
          backoffs++;
          break;
        }
      }
      meter.add(sent, sent * o.len);
      await yieldToEventLoop();
    }
    // Every datagram handed over so far is flushed by the tick that clears the request.
    while (rt.stack.tickRequested) await yieldToEventLoop();
    const endedMs = Math.min(clock.nowMs(), endMs);
    if (endedMs - meter.lastReportMs >= MIN_PARTIAL_INTERVAL_MS) meter.report(endedMs);
    meter.summary((endedMs - meter.startMs) / 1000, {
      len: o.len,
      backoffs,
      localDrops: driver.txDropped + rt.stack.stats.arp.QueueDrops - droppedBefore,
      driver: dataPathDelta(countersBefore, dataPathCounters(rt)),
    });
  } finally {
    signals.remove();
    ep.close();
  }
  return 0;
}

/** What one {@link drain} took: datagrams and their bytes. */
class DrainCounts {
  packets = 0;
  bytes = 0;
  readonly peer = new UdpPeer();
  readonly sink = new Uint8Array(0);
}

/**
 * Take every datagram queued on `ep` into `c` (its counts restart at 0); returns how many.
 * Length 0: nothing is copied; `peer.length` still says how long the datagram was. The server
 * and its warm-up both drain through here, so the warm-up compiles the server's own code.
 */
function drain(ep: UdpEndpoint, c: DrainCounts): number {
  let packets = 0;
  let bytes = 0;
  while (!ep.closed && ep.recvfrom(c.sink, 0, 0, c.peer) >= 0) {
    packets++;
    bytes += c.peer.length;
  }
  c.packets = packets;
  c.bytes = bytes;
  return packets;
}

/**
 * The receive warm-up of `uperf server --udp` (`--prewarm N` datagrams, default
 * {@link UDP_PREWARM_DATAGRAMS}): a private receiver draining as the server does.
 */
async function warmUp(config: WarmUpConfig, o: UperfOptions, datagrams: number): Promise<void> {
  if (datagrams <= 0) return;
  const r = await warmUpUdpReceive({
    datagrams,
    stack: config.stack,
    ...warmUpLink(config),
    serve: (rt, port) => {
      const ep = rt.stack.udp.open(6);
      ep.bind(null, port);
      ep.receiveBufferBytes = SERVER_RECEIVE_BUFFER_BYTES;
      const c = new DrainCounts();
      ep.wq.listener = () => void drain(ep, c);
      return { close: () => ep.close() };
    },
  });
  if (o.json) emitJson("warm_up", { datagrams: r.datagrams, ms: r.ms });
  else emit(`warm-up: ${r.datagrams} datagrams in ${r.ms} ms`);
}

/**
 * Where a receiver loses datagrams, as running totals: the kernel's drops on the driver's RX
 * ring(s) (a full ring), fragments cut short, datagrams given up by IPv4/IPv6 reassembly, and
 * datagrams the socket's receive queue had no room for. Keys absent from a driver read as 0.
 */
function receiveLosses(rt: Runtime, ep: UdpEndpoint): Record<string, number> {
  const d = rt.nic.driver.stats as unknown as Record<string, number | undefined>;
  const ip = rt.stack.stats.ip;
  const ip6 = rt.stack.stats.ip6;
  return {
    rxDropped: d.rxDropped ?? 0,
    rxKernelDrops: d.rxKernelDrops ?? 0,
    rxLargeRingKernelDrops: d.rxLargeRingKernelDrops ?? 0,
    rxTruncated: d.rxTruncated ?? 0,
    reasmFails: ip.ReasmFails + ip6.ReasmFails,
    reasmTimeouts: ip.ReasmTimeout + ip6.ReasmTimeout,
    reasmEvictions: ip.ReasmEvictions + ip.ReasmSourceEvictions + ip6.ReasmEvictions +
      ip6.ReasmSourceEvictions,
    rcvbufErrors: ep.drops,
  };
}

/**
 * The reused copy views' counters (`core/subarray_cache.ts`), as running totals: the copies
 * onto sockets (`stats.udp.CopyView*`) and the fragment copies of IPv4 and IPv6 reassembly
 * (`stats.ip.ReasmCopyView*` + `stats.ip6.ReasmCopyView*`). A miss allocates a view; `replaced`
 * counts the misses that dropped a view still held (the table at its bound).
 */
function copyViewCounters(rt: Runtime): Record<string, number> {
  const u = rt.stack.stats.udp;
  const ip = rt.stack.stats.ip;
  const ip6 = rt.stack.stats.ip6;
  return {
    socketHits: u.CopyViewHits,
    socketMisses: u.CopyViewMisses,
    socketReplaced: u.CopyViewReplaced,
    reasmHits: ip.ReasmCopyViewHits + ip6.ReasmCopyViewHits,
    reasmMisses: ip.ReasmCopyViewMisses + ip6.ReasmCopyViewMisses,
    reasmReplaced: ip.ReasmCopyViewReplaced + ip6.ReasmCopyViewReplaced,
  };
}

/** `after - before`, key by key. */
function lossDelta(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(after)) out[k] = after[k] - (before[k] ?? 0);
  return out;
}

/**
 * The server: one socket bound to PORT; its wait-queue listener drains every queued datagram
 * at the end of each tick that brought some (counting bytes from the datagram length, copying
 * nothing). Timers only report each second and decide when to stop.
 */
async function runServer(
  rt: Runtime,
  o: UperfOptions,
  warm: () => Promise<void>,
): Promise<number> {
  const clock = rt.stack.clock;
  // Dual-stack: datagrams to any address of either family are counted.
  const ep: UdpEndpoint = rt.stack.udp.open(6);
  ep.bind(null, o.port);
  ep.receiveBufferBytes = SERVER_RECEIVE_BUFFER_BYTES;
  const meter = new Meter("server", o.json);
  const counts = new DrainCounts();
  let firstMs = -1;
  // The last datagram's tick time, in a cell: a double stored into a closure's variable is a
  // new heap number on every store (~20 B per datagram in the listener below).
  const lastMs = new Float64Array([-1]);
  const latch = new StopLatch();
  const stop = (why: string) => latch.stop(why);
  const timers: ReturnType<typeof setTimeout>[] = [];
  const signals = onStopSignal(() => stop("signal"));

  const scheduleReport = (k: number) => {
    const at = firstMs + k * 1000;
    if (at > firstMs + o.seconds * 1000) return;
    timers.push(setTimeout(() => {
      if (latch.stoppedBy !== "") return;
      reportInterval(clock.nowMs());
      scheduleReport(k + 1);
    }, Math.max(0, at - clock.nowMs())));
  };
  const armIdle = (delayMs: number) => {
    timers.push(setTimeout(() => {
      const idle = clock.nowMs() - lastMs[0];
      if (idle >= SERVER_IDLE_MS) stop("idle");
      else armIdle(SERVER_IDLE_MS - idle);
    }, delayMs));
  };
  let countersBefore = dataPathCounters(rt);
  let lossesBefore = receiveLosses(rt, ep);
  let lossesLast = lossesBefore;
  let viewsBefore = copyViewCounters(rt);
  // Each interval line carries the losses of its second: drops come in episodes.
  const reportInterval = (now: number) => {
    const losses = receiveLosses(rt, ep);
    meter.report(now, { losses: lossDelta(lossesLast, losses) });
    lossesLast = losses;
  };
  const onFirst = (now: number) => {
    firstMs = now;
    countersBefore = dataPathCounters(rt);
    lossesBefore = receiveLosses(rt, ep);
    lossesLast = lossesBefore;
    viewsBefore = copyViewCounters(rt);
    meter.start(now);
    timers.push(setTimeout(() => stop("time"), o.seconds * 1000));
    scheduleReport(1);
    armIdle(SERVER_IDLE_MS);
  };

  // Synchronous (the drain and its counts): the event loop gives its ticks no microtask turns.
  ep.wq.listenerSync = true;
  ep.wq.listener = () => {
    if (drain(ep, counts) === 0) return;
    const now = clock.nowMs();
    if (firstMs < 0) onFirst(now);
    lastMs[0] = now;
    meter.add(counts.packets, counts.bytes);
  };

  try {
    await warm();
    prepareUdpReceive(rt.stack);
    if (o.json) {
      emitJson("ready", {
        role: "server",
        protocol: "udp",
        addrs: [...rt.addrs],
        port: o.port,
        seconds: o.seconds,
      });
    } else {
      emit(`ready: uperf server on UDP port ${o.port} ${rt.addrs.join(" ")}`.trimEnd());
    }
    await latch.finished;
  } finally {
    for (const t of timers) clearTimeout(t);
    signals.remove();
    ep.wq.listener = null;
    ep.wq.listenerSync = false;
    ep.close();
  }
  // The kernel's ring drops are read when a frame says some happened: read them now too.
  (rt.nic.driver as { refreshStats?: () => void }).refreshStats?.();
  let endMs = firstMs;
  if (firstMs >= 0) {
    endMs = latch.stoppedBy === "time" ? firstMs + o.seconds * 1000 : lastMs[0];
    if (endMs - meter.lastReportMs >= MIN_PARTIAL_INTERVAL_MS) reportInterval(endMs);
  }
  meter.summary(firstMs < 0 ? 0 : (endMs - firstMs) / 1000, {
    stoppedBy: latch.stoppedBy,
    rcvbufErrors: ep.drops,
    losses: lossDelta(lossesBefore, receiveLosses(rt, ep)),
    // The longest tick and turn of Deno's event loop since the start (ms): a receiver that
    // stops taking frames for longer than its ring holds loses frames.
    longestTickMs: rt.loop.times.tickUs.valueAtPercentile(100) / 1000,
    longestYieldMs: rt.loop.times.yieldUs.valueAtPercentile(100) / 1000,
    driver: dataPathDelta(countersBefore, dataPathCounters(rt)),
    copyViews: lossDelta(viewsBefore, copyViewCounters(rt)),
    // af_packet: which frames a tcx program kept from the host kernel ("own": those to the
    // stack's addresses; "all"; "none") — the kernel sender's cost per frame depends on it.
    kernelRxDrop: (rt.nic.driver as { kernelRxDrop?: string }).kernelRxDrop ?? "none",
  });
  return 0;
}
