/**
 * `ustack pingpong`: TCP request/response latency (netperf TCP_RR style) and the connection
 * modes — a new connection per round trip (`--connect`) and a crowd of held connections
 * (`--hold`).
 *
 * ```
 * ustack pingpong server [-p PORT] [-l LEN] [-n COUNT] [-t SECS] [--once] [--kernel] [link options]
 * ustack pingpong client HOST [-p PORT] [-l LEN] [-n COUNT] [-t SECS] [-w WARMUP] [--kernel]
 *                       [link options]
 * ustack pingpong client HOST --connect -C CONC -n TOTAL [-l LEN] [--kernel] [link options]
 * ustack pingpong client HOST --hold SECS -C CONC -n TOTAL [--kernel] [link options]
 * ```
 *
 * The client writes LEN bytes, waits until LEN bytes came back, and repeats; each round trip is
 * one transaction, timed on its own. The server echoes every connection's bytes until it
 * closes (`cli/pingpong_server.ts`). Both set TCP_NODELAY. `--kernel` swaps the user-space stack
 * for Deno's own kernel sockets (`Deno.connect` / `Deno.listen`, needs `--allow-net`), so one
 * tool measures kernel↔kernel, ustack↔kernel and ustack↔ustack. The connection modes are in
 * `cli/pingpong_conn.ts`.
 *
 * @module
 */

import {
  type EventLoop,
  LoopTrace,
  Runtime,
  StackError,
  tryParseIp,
  type WarmUpCrowd,
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
  isNonBlocking,
  type NonBlockingConn,
  type RoundTripStep,
  stepRoundTrip,
  type StreamConn,
  WAIT_WRITABLE,
} from "./pingpong_step.ts";
import { emit, emitError, emitJson } from "./output.ts";
import { onStopSignal } from "./meter.ts";
import { latencyHistogram, latencySummary, loopSummary } from "./latency.ts";
import {
  type ConnClientOptions,
  cpuUs,
  kernelOpener,
  runConnect,
  runHold,
  stackOpener,
} from "./pingpong_conn.ts";
import { connectCrowd } from "./pingpong_crowd.ts";
import {
  RR_WARM_UP_MS,
  RR_WARM_UP_ROUND_TRIPS,
  RR_WARM_UP_TAIL_MS,
  RR_WARM_UP_TAIL_ROUND_TRIPS,
  rrWarmUpConfig,
  RrWarmUpCrowd,
} from "./pingpong_rr_warm_up.ts";
import { runServer, warmUpServer } from "./pingpong_server.ts";
import { TRACE_RECORDS, TRACE_ROUND_TRIPS, writeTrace } from "./rr_trace_file.ts";
import {
  PREWARM_OPTIONS,
  PREWARM_USAGE,
  prewarmCount,
  prewarmDefault,
  runPingpongWarmUp,
  runWarmUp,
  type WarmUpConfig,
  warmUpMtu,
  withPrewarmedPools,
  withWarmUpWire,
} from "./warm_up.ts";

export { latencyHistogram, type LatencySummary, latencySummary, loopSummary } from "./latency.ts";

/** Default port. */
const DEFAULT_PORT = 5300;
/** Default message size. */
const DEFAULT_LEN = 64;
/** Largest message. */
const MAX_LEN = 16 << 20;
/** Default client transaction count when neither -n nor -t is given. */
const DEFAULT_COUNT = 10_000;
/** Default connections in flight in the connection modes. */
const DEFAULT_CONC = 32;
/** How long the client waits for the connection to be established. */
const CONNECT_TIMEOUT_MS = 10_000;

/** Usage of `pingpong`. */
export const PINGPONG_USAGE =
  `usage: ustack pingpong server [-p PORT] [-l LEN] [-n COUNT] [-t SECS] [--once] [--kernel]
                              [link options]
       ustack pingpong client HOST [-p PORT] [-l LEN] [-n COUNT] [-t SECS] [-w N] [--kernel]
                              [link options]
       ustack pingpong client HOST --connect [-C CONC] [-n TOTAL] [-l LEN] [-t SECS] [--kernel]
                              [link options]
       ustack pingpong client HOST --hold SECS [-C CONC] [-n TOTAL] [-l LEN] [--kernel]
                              [link options]
TCP request/response. The client sends LEN bytes, waits for LEN bytes back, COUNT times (or
until SECS have passed, whichever comes first), then prints the p50/p90/p99/p99.9/max latency
of one transaction in µs (a fixed-memory log-linear histogram, within 1/128 of the value) and
transactions/s; over ustack also where the event loop's time went (parks, ticks, yields).
--connect: TOTAL connections, CONC in flight; each sends one LEN-byte request, reads LEN
back and closes; prints connections/s every second and a summary.
--hold SECS: opens TOTAL connections (CONC connecting at once) and keeps them; once all are
established prints a "held" line with the process's memory, holds them SECS, makes one
round trip on 1,000 connections spread over the set, closes everything, prints a summary.
The server echoes what every connection sends until SIGINT/SIGTERM, COUNT transactions,
SECS seconds, or (--once) the end of its first connection, and reports the peak number of
connections and its memory then. Both set TCP_NODELAY. Exit status 0.
  -p, --port PORT     TCP port (${DEFAULT_PORT})
  -l, --len LEN       message bytes, 1..${MAX_LEN} (${DEFAULT_LEN})
  -n, --count COUNT   client: transactions (${DEFAULT_COUNT}; unlimited when only -t is given),
                      or connections with --connect/--hold (${DEFAULT_COUNT});
                      server: stop after COUNT transactions (unlimited)
  -t, --time SECS     client: stop after SECS; server: stop SECS after start
  -w, --warmup N      client: first N transactions are not counted (0)
  -C, --conc CONC     --connect/--hold: connections in flight at once (${DEFAULT_CONC})
  --connect           client: a new connection per round trip
  --hold SECS         client: hold the connections SECS seconds
  --once              server: stop when the first connection ends
  --kernel            use Deno's kernel sockets instead of the stack (needs --allow-net;
                      link options other than --json do not apply)
  --addr CIDR         (repeatable) the client uses the addresses in turn as source
  --trace FILE        round trips on one connection: write FILE.json (+ .f64 files) with the
                      client's start/end of every round trip and, over ustack, every phase of
                      the event loop with the kernel's receive time of each frame (for
                      bench/rr_trace.ts)
${PREWARM_USAGE}
                       (server, --connect, --hold; not with --kernel). Without it, the
                       same warm-up runs up to 10,000 connections in at most 1 s (a
                       round-trip client: up to 40,000 round trips on one connection
                       in at most 2.5 s);
                       --prewarm 0 turns it off
${TCP_STACK_USAGE}
${LINK_USAGE}`;

/** What `pingpong` is asked to do. */
export interface PingpongOptions {
  /** Which side. */
  role: "server" | "client";
  /** Client mode: round trips on one connection, a connection per round trip, or held. */
  mode: "rr" | "connect" | "hold";
  /** Client: server address (IPv4, or IPv6 with an optional %IF zone). */
  host: string;
  /** TCP port. */
  port: number;
  /** Bytes per message. */
  len: number;
  /** Transactions (client) or the server's limit; Infinity for none. Connections with --connect/--hold. */
  count: number;
  /** Seconds to run; Infinity for no limit. */
  seconds: number;
  /** Client: transactions before measuring starts. */
  warmup: number;
  /** --connect/--hold: connections in flight. */
  conc: number;
  /** --hold: seconds to hold. */
  holdSeconds: number;
  /** Server: stop when the first connection ends. */
  once: boolean;
  /** Use kernel sockets instead of the stack. */
  kernel: boolean;
  /** JSON output. */
  json: boolean;
  /** `--prewarm N`: warm-up connections before the ready line (server) or the first one. */
  prewarm: number;
  /** No `--prewarm`: the default warm-up (`runPingpongWarmUp`), where one applies. */
  prewarmDefault: boolean;
  /** `--trace FILE`: where to write the round-trip and event-loop trace, or null. */
  trace: string | null;
}

/** Read exactly `buf.length` bytes; false on EOF before the first byte, throws on a short one. */
async function readExactly(conn: StreamConn, buf: Uint8Array): Promise<boolean> {
  let off = 0;
  while (off < buf.length) {
    // The buffer is exactly one message long: a read can never take bytes of the next one.
    const n = await conn.read(off === 0 ? buf : buf.subarray(off));
    if (n === null) {
      if (off === 0) return false;
      throw new StackError("ECONNRESET", `connection ended inside a message (${off} bytes)`);
    }
    off += n;
  }
  return true;
}

/** Write all of `buf` (a kernel socket may take part of it). */
async function writeAll(conn: StreamConn, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) off += await conn.write(off === 0 ? buf : buf.subarray(off));
}

/** Reject after `ms` unless `p` settles first. */
async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StackError("ETIMEDOUT", what)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Parse `pingpong` arguments; throws UsageError. Returns null for `--help`. */
function parsePingpong(
  args: string[],
): { opts: PingpongOptions; values: Record<string, unknown> } | null {
  const { values, positionals } = parseStrict(args, {
    ...LINK_OPTIONS,
    ...TCP_STACK_OPTIONS,
    ...PREWARM_OPTIONS,
    port: { type: "string", short: "p" },
    len: { type: "string", short: "l" },
    count: { type: "string", short: "n" },
    time: { type: "string", short: "t" },
    warmup: { type: "string", short: "w" },
    conc: { type: "string", short: "C" },
    connect: { type: "boolean" },
    hold: { type: "string" },
    once: { type: "boolean" },
    kernel: { type: "boolean" },
    trace: { type: "string" },
  });
  if (values.help) return null;
  const [role, host, ...rest] = positionals;
  if (role !== "server" && role !== "client") {
    throw new UsageError(
      role === undefined ? "say 'server' or 'client'" : `unknown mode '${role}'`,
    );
  }
  if (role === "client") {
    if (host === undefined) throw new UsageError("pingpong client needs a HOST");
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    if (tryParseIp(host) === null) throw new UsageError(`${host}: not an IPv4 or IPv6 address`);
  } else if (host !== undefined) {
    throw new UsageError(`pingpong server takes no HOST (got ${host})`);
  }
  if (role === "server" && values.warmup !== undefined) {
    throw new UsageError("-w applies to the client only");
  }
  if (role === "client" && values.once === true) {
    throw new UsageError("--once applies to the server only");
  }
  const connect = values.connect === true;
  const hold = values.hold !== undefined;
  if (role === "server" && (connect || hold || values.conc !== undefined)) {
    throw new UsageError("--connect, --hold and -C apply to the client only");
  }
  if (connect && hold) throw new UsageError("say --connect or --hold, not both");
  const mode = connect ? "connect" : hold ? "hold" : "rr";
  if (mode !== "rr" && values.warmup !== undefined) {
    throw new UsageError("-w applies to round trips on one connection only");
  }
  if (mode === "hold" && values.time !== undefined) {
    throw new UsageError("-t does not apply with --hold (it holds SECS)");
  }
  if (mode === "rr" && values.conc !== undefined) {
    throw new UsageError("-C applies with --connect or --hold");
  }
  const kernel = values.kernel === true;
  if (kernel) {
    for (const k of [...Object.keys(LINK_OPTIONS), ...Object.keys(TCP_STACK_OPTIONS)]) {
      if (k !== "json" && k !== "help" && values[k] !== undefined) {
        throw new UsageError(`--${k} does not apply with --kernel`);
      }
    }
  }
  const prewarm = prewarmCount(values);
  if (prewarm > 0 && kernel) throw new UsageError("--prewarm does not apply with --kernel");
  if (prewarm > 0 && role === "client" && mode === "rr") {
    throw new UsageError("--prewarm applies to the server and to --connect/--hold clients");
  }
  const trace = (values.trace as string | undefined) ?? null;
  if (trace !== null && mode !== "rr") {
    throw new UsageError("--trace applies to round trips on one connection only");
  }
  const seconds = numberFlag("time", values.time, Infinity, { min: 0.001, max: 86_400 });
  const countFallback = mode !== "rr"
    ? DEFAULT_COUNT
    : role === "server" || values.time !== undefined
    ? Infinity
    : DEFAULT_COUNT;
  const opts: PingpongOptions = {
    role,
    mode,
    host: host ?? "",
    port: numberFlag("port", values.port, DEFAULT_PORT, { integer: true, min: 1, max: 65535 }),
    len: numberFlag("len", values.len, DEFAULT_LEN, { integer: true, min: 1, max: MAX_LEN }),
    count: numberFlag("count", values.count, countFallback, { integer: true, min: 1 }),
    seconds,
    warmup: numberFlag("warmup", values.warmup, 0, { integer: true, min: 0 }),
    conc: numberFlag("conc", values.conc, DEFAULT_CONC, { integer: true, min: 1, max: 1 << 20 }),
    holdSeconds: numberFlag("hold", values.hold, 0, { min: 0, max: 86_400 }),
    once: values.once === true,
    kernel,
    json: values.json === true,
    prewarm,
    prewarmDefault: prewarmDefault(values) && !kernel,
    trace,
  };
  return { opts, values };
}

/** Run `pingpong` with `args`; resolves to the exit status. */
export async function pingpongCommand(args: string[]): Promise<number> {
  const parsed = parsePingpong(args);
  if (parsed === null) {
    emit(PINGPONG_USAGE);
    return 0;
  }
  const { opts, values } = parsed;
  if (opts.kernel && Deno.permissions.querySync({ name: "net" }).state !== "granted") {
    emitError("ustack pingpong: --kernel uses Deno's sockets: run with --allow-net");
    return 1;
  }
  if (opts.role === "server") {
    return await runServer(
      {
        port: opts.port,
        len: opts.len,
        count: opts.count,
        seconds: opts.seconds,
        once: opts.once,
        json: opts.json,
        prewarm: opts.prewarm,
        prewarmDefault: opts.prewarmDefault,
        trace: opts.trace,
      },
      opts.kernel ? null : withWarmUpWire(linkConfig(values), values),
    );
  }
  if (opts.mode !== "rr") return await runConnClient(opts, values);
  if (opts.kernel) {
    return await runClient(
      opts,
      "kernel",
      null,
      () => Deno.connect({ hostname: opts.host, port: opts.port }),
    );
  }
  const config: WarmUpConfig = withWarmUpWire(tcpStackConfig(values, linkConfig(values)), values);
  const rt = await Runtime.start(config);
  try {
    if (opts.prewarmDefault) {
      // Round trips on one connection between two private stacks: the data path compiled
      // before the first real round trip (cli/pingpong_rr_warm_up.ts).
      const len = opts.len;
      await runPingpongWarmUp(
        warmUpMtu(rrWarmUpConfig(config)),
        opts.json,
        (wrt: Runtime, port: number) => warmUpServer(wrt, port, len),
        (wrt: Runtime, host: string, port: number) => new RrWarmUpCrowd(wrt, host, port, len),
        rt,
        { connections: RR_WARM_UP_ROUND_TRIPS, timeLimitMs: RR_WARM_UP_MS },
        false,
        { connections: RR_WARM_UP_TAIL_ROUND_TRIPS, timeLimitMs: RR_WARM_UP_TAIL_MS },
      );
    }
    const code = await runClient(
      opts,
      "ustack",
      rt.loop,
      () => rt.connect({ hostname: opts.host, port: opts.port }),
    );
    // Let the FIN go out before the stack stops.
    await new Promise((r) => setTimeout(r, 50));
    return code;
  } finally {
    await rt.stop();
  }
}

/** `--connect` / `--hold` on the stack (sized for TOTAL connections) or on kernel sockets. */
async function runConnClient(o: PingpongOptions, values: Record<string, unknown>): Promise<number> {
  const co: ConnClientOptions = {
    host: o.host,
    port: o.port,
    len: o.len,
    total: o.count,
    conc: o.conc,
    holdSeconds: o.holdSeconds,
    seconds: o.seconds,
    json: o.json,
  };
  const run = o.mode === "connect" ? runConnect : runHold;
  if (o.kernel) return await run(co, kernelOpener(co));
  let config: WarmUpConfig = {
    ...withWarmUpWire(linkConfig(values), values),
    stack: { maxConnections: o.mode === "hold" ? o.count : o.conc },
  };
  const msg = new Uint8Array(o.len);
  const serve = (rt: Runtime, port: number) => warmUpServer(rt, port, o.len);
  // The warm-up's client is the real run's class (no closure of its own per connection).
  const client = (rt: Runtime, host: string, port: number): WarmUpCrowd =>
    connectCrowd(rt.stack, host, port, rt.addrs, msg);
  if (o.prewarm > 0) config = withPrewarmedPools(config);
  // The real stack first, then the warm-up: V8 counts the real stack's ring memory (~100 MB of
  // ArrayBuffers at MTU 1500) towards the heap's global limit before and during the warm-up,
  // so the mark-compact that frees the warm-up's garbage runs during the warm-up. Started
  // after it, the real stack's rings pushed the heap over a limit computed without them, and a
  // mark-compact ran in the first real connections (bench/README.md, "conn9n").
  const rt = await Runtime.start(config);
  try {
    if (o.prewarm > 0) {
      await runWarmUp(o.prewarm, warmUpMtu(config), o.json, serve, client);
    } else if (o.prewarmDefault) {
      // Nothing to wait for here: a count of connections, bounded in time. The paced part for
      // --connect only: with it a --hold client's held connections cost ~190 B more heap each
      // in 2 of 3 runs (bench/README.md, end of the twenty-ninth session).
      const paced = o.mode === "connect";
      await runPingpongWarmUp(warmUpMtu(config), o.json, serve, client, rt, undefined, paced);
    }
    return await run(co, stackOpener(rt, co));
  } finally {
    await rt.stop();
  }
}

/** The client: one connection, COUNT (or SECS of) timed round trips. */
async function runClient(
  o: PingpongOptions,
  stack: "ustack" | "kernel",
  loop: EventLoop | null,
  open: () => Promise<StreamConn>,
): Promise<number> {
  let stopped = false;
  const signals = onStopSignal(() => stopped = true);
  try {
    const conn = await withTimeout(open(), CONNECT_TIMEOUT_MS, `connect to ${o.host}:${o.port}`);
    try {
      conn.setNoDelay(true);
      if (!o.json) {
        emit(
          `pingpong client: ${o.len}-byte requests to ${o.host}:${o.port} over ${stack} ` +
            `(TCP_NODELAY)`,
        );
      }
      const msg = new Uint8Array(o.len);
      for (let i = 0; i < msg.length; i++) msg[i] = i & 0xff;
      const reply = new Uint8Array(o.len);
      for (let i = 0; i < o.warmup && !stopped; i++) await roundTrip(conn, msg, reply);
      // With --json, where the measured round trips begin (a trace tool's window starts here).
      if (o.json) {
        emitJson("start", { role: "client", stack, to: `${o.host}:${o.port}`, len: o.len });
      }
      const hist = latencyHistogram();
      // --trace: start and end of each round trip (the first TRACE_ROUND_TRIPS), and the loop's.
      const rts = o.trace === null ? null : new Float64Array(2 * TRACE_ROUND_TRIPS);
      if (o.trace !== null && loop !== null) loop.trace = new LoopTrace(TRACE_RECORDS);
      const fast = isNonBlocking(conn) ? conn : null;
      const step: RoundTripStep = { sent: 0, got: 0 };
      const cpu0 = cpuUs();
      const startMs = performance.now();
      const endMs = startMs + o.seconds * 1000;
      let now = startMs;
      while (hist.count < o.count && now < endMs && !stopped) {
        const t0 = performance.now();
        if (fast !== null) {
          // The steps inline, no async function per round trip: its promise and frame were
          // a quarter of what a warm round trip allocated on the client.
          step.sent = 0;
          step.got = 0;
          for (let wait = stepRoundTrip(fast, msg, reply, step); wait !== 0;) {
            await (wait === WAIT_WRITABLE ? fast.waitWritable() : fast.waitReadable());
            wait = stepRoundTrip(fast, msg, reply, step);
          }
        } else await roundTrip(conn, msg, reply);
        now = performance.now();
        const i = hist.count;
        if (rts !== null && i < TRACE_ROUND_TRIPS) {
          rts[2 * i] = t0;
          rts[2 * i + 1] = now;
        }
        hist.record((now - t0) * 1e6);
      }
      if (o.trace !== null) {
        const n = Math.min(hist.count, TRACE_ROUND_TRIPS);
        await writeTrace(
          o.trace,
          "client",
          rts!.subarray(0, 2 * n),
          loop?.trace ?? null,
          loop?.clockOffsetMs() ?? 0,
        );
        if (loop !== null) loop.trace = null;
      }
      const n = hist.count;
      const rtCpuUs = n > 0 ? Math.round(((cpuUs() - cpu0) / n) * 100) / 100 : 0;
      const seconds = (now - startMs) / 1000;
      const lat = latencySummary(hist);
      const tps = seconds > 0 ? n / seconds : 0;
      if (o.json) {
        emitJson("summary", {
          role: "client",
          stack,
          to: `${o.host}:${o.port}`,
          len: o.len,
          transactions: n,
          seconds: Math.round(seconds * 1000) / 1000,
          tps: Math.round(tps),
          minUs: lat.minUs,
          meanUs: lat.meanUs,
          p50Us: lat.p50Us,
          p90Us: lat.p90Us,
          p99Us: lat.p99Us,
          p999Us: lat.p999Us,
          maxUs: lat.maxUs,
          rt_cpu_us: rtCpuUs,
          ...(loop === null ? {} : { loop: loopSummary(loop) }),
        });
      } else {
        emit(
          `summary: ${n} transactions in ${seconds.toFixed(2)} s, ${Math.round(tps)} trans/s; ` +
            `latency µs p50 ${lat.p50Us} p90 ${lat.p90Us} p99 ${lat.p99Us} p99.9 ${lat.p999Us} ` +
            `max ${lat.maxUs}`,
        );
      }
    } finally {
      conn.close();
    }
  } finally {
    signals.remove();
  }
  return 0;
}

/** One transaction: send `msg`, wait for as many bytes back. */
async function roundTrip(conn: StreamConn, msg: Uint8Array, reply: Uint8Array): Promise<void> {
  if (isNonBlocking(conn)) return await roundTripNonBlocking(conn, msg, reply);
  await writeAll(conn, msg);
  if (!(await readExactly(conn, reply))) {
    throw new StackError("ECONNRESET", "the server closed the connection");
  }
}

/** One transaction over the stack's non-blocking calls (the warm-up's). */
async function roundTripNonBlocking(
  conn: NonBlockingConn,
  msg: Uint8Array,
  reply: Uint8Array,
): Promise<void> {
  const step: RoundTripStep = { sent: 0, got: 0 };
  for (let wait = stepRoundTrip(conn, msg, reply, step); wait !== 0;) {
    await (wait === WAIT_WRITABLE ? conn.waitWritable() : conn.waitReadable());
    wait = stepRoundTrip(conn, msg, reply, step);
  }
}
