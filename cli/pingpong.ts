/**
 * `ustack pingpong`: TCP request/response latency, netperf TCP_RR style.
 *
 * ```
 * ustack pingpong server [-p PORT] [-l LEN] [-n COUNT] [-t SECS] [--once] [--kernel] [link options]
 * ustack pingpong client HOST [-p PORT] [-l LEN] [-n COUNT] [-t SECS] [-w WARMUP] [--kernel]
 *                       [link options]
 * ```
 *
 * The client writes LEN bytes, waits until LEN bytes came back, and repeats; each round trip is
 * one transaction, timed on its own. The server reads exactly LEN bytes and writes them back.
 * Both set TCP_NODELAY. `--kernel` swaps the user-space stack for Deno's own kernel sockets
 * (`Deno.connect` / `Deno.listen`, needs `--allow-net`), so one tool measures kernel↔kernel,
 * ustack↔kernel and ustack↔ustack.
 *
 * @module
 */

import { type EventLoop, Histogram, Runtime, StackError, tryParseIp } from "../mod.ts";
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
import { emit, emitError, emitJson } from "./output.ts";
import { onStopSignal } from "./meter.ts";

/** Default port. */
const DEFAULT_PORT = 5300;
/** Default message size. */
const DEFAULT_LEN = 64;
/** Largest message. */
const MAX_LEN = 16 << 20;
/** Default client transaction count when neither -n nor -t is given. */
const DEFAULT_COUNT = 10_000;
/** How long the client waits for the connection to be established. */
const CONNECT_TIMEOUT_MS = 10_000;

/** Usage of `pingpong`. */
export const PINGPONG_USAGE =
  `usage: ustack pingpong server [-p PORT] [-l LEN] [-n COUNT] [-t SECS] [--once] [--kernel]
                              [link options]
       ustack pingpong client HOST [-p PORT] [-l LEN] [-n COUNT] [-t SECS] [-w N] [--kernel]
                              [link options]
TCP request/response latency. The client sends LEN bytes, waits for LEN bytes back, COUNT
times (or until SECS have passed, whichever comes first), then prints the p50/p90/p99/p99.9/max
latency of one transaction in µs (from a fixed-memory log-linear histogram, within 1/128 of
the value) and transactions/s; over ustack, also where the event loop's time went (parks in
poll, ticks, turns away from the loop). The server echoes LEN-byte messages
until SIGINT/SIGTERM, COUNT transactions, SECS seconds, or (--once) the end of its first
connection. Both set TCP_NODELAY. Exit status 0.
  -p, --port PORT     TCP port (${DEFAULT_PORT})
  -l, --len LEN       message bytes, 1..${MAX_LEN} (${DEFAULT_LEN})
  -n, --count COUNT   client: transactions (${DEFAULT_COUNT}; unlimited when only -t is given);
                      server: stop after COUNT transactions (unlimited)
  -t, --time SECS     client: stop after SECS; server: stop SECS after start
  -w, --warmup N      client: first N transactions are not counted (0)
  --once              server: stop when the first connection ends
  --kernel            use Deno's kernel sockets instead of the stack (needs --allow-net;
                      link options other than --json do not apply)
${TCP_STACK_USAGE}
${LINK_USAGE}`;

/** What `pingpong` is asked to do. */
export interface PingpongOptions {
  /** Which side. */
  role: "server" | "client";
  /** Client: server address (IPv4, or IPv6 with an optional %IF zone). */
  host: string;
  /** TCP port. */
  port: number;
  /** Bytes per message. */
  len: number;
  /** Transactions (client) or the server's limit; Infinity for none. */
  count: number;
  /** Seconds to run; Infinity for no limit. */
  seconds: number;
  /** Client: transactions before measuring starts. */
  warmup: number;
  /** Server: stop when the first connection ends. */
  once: boolean;
  /** Use kernel sockets instead of the stack. */
  kernel: boolean;
  /** JSON output. */
  json: boolean;
}

/** Latency percentiles of a run, in microseconds. */
export interface LatencySummary {
  /** Samples summarised. */
  count: number;
  /** Smallest. */
  minUs: number;
  /** Mean. */
  meanUs: number;
  /** Median (nearest rank). */
  p50Us: number;
  /** 90th percentile (nearest rank). */
  p90Us: number;
  /** 99th percentile (nearest rank). */
  p99Us: number;
  /** 99.9th percentile (nearest rank). */
  p999Us: number;
  /** Largest. */
  maxUs: number;
}

/** A kernel listener on every address: dual-stack `::`, or `0.0.0.0` where IPv6 is off. */
function listenKernel(port: number): Deno.TcpListener {
  try {
    return Deno.listen({ hostname: "::", port, transport: "tcp" });
  } catch {
    return Deno.listen({ hostname: "0.0.0.0", port, transport: "tcp" });
  }
}

/** A histogram for transaction latencies in nanoseconds (up to ~18 minutes, within 1/128). */
export function latencyHistogram(): Histogram {
  return new Histogram({ subBucketBits: 8 });
}

/**
 * Summarise a histogram of latencies in nanoseconds as µs percentiles by nearest rank (each
 * within one bucket above the exact value, rounded to 0.1 µs). All zeros when it is empty.
 *
 * @example
 * ```ts
 * const h = latencyHistogram();
 * h.record(100_000);
 * h.record(200_000);
 * h.record(300_000);
 * latencySummary(h).p50Us; // 200
 * ```
 */
export function latencySummary(h: Histogram): LatencySummary {
  const us = (ns: number) => Math.round(ns / 100) / 10;
  return {
    count: h.count,
    minUs: us(h.min),
    meanUs: us(h.mean),
    p50Us: us(h.valueAtPercentile(50)),
    p90Us: us(h.valueAtPercentile(90)),
    p99Us: us(h.valueAtPercentile(99)),
    p999Us: us(h.valueAtPercentile(99.9)),
    maxUs: us(h.max),
  };
}

/**
 * Where the stack's event loop spent its time, for the summary: counters, and p50/p99/max of
 * the parks in poll, the ticks and the turns away from the loop (µs).
 */
export function loopSummary(loop: EventLoop): Record<string, number> {
  const out: Record<string, number> = { ...loop.stats };
  for (const [name, h] of Object.entries(loop.times)) {
    const base = name.slice(0, -2); // parkUs -> park
    out[`${base}P50Us`] = h.valueAtPercentile(50);
    out[`${base}P99Us`] = h.valueAtPercentile(99);
    out[`${base}MaxUs`] = h.max;
  }
  return out;
}

/** The byte-stream operations pingpong needs; both `TcpConn` and `Deno.TcpConn` have them. */
interface StreamConn {
  read(buf: Uint8Array): Promise<number | null>;
  write(buf: Uint8Array): Promise<number>;
  setNoDelay(on?: boolean): void;
  close(): void;
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
    port: { type: "string", short: "p" },
    len: { type: "string", short: "l" },
    count: { type: "string", short: "n" },
    time: { type: "string", short: "t" },
    warmup: { type: "string", short: "w" },
    once: { type: "boolean" },
    kernel: { type: "boolean" },
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
  const kernel = values.kernel === true;
  if (kernel) {
    for (const k of [...Object.keys(LINK_OPTIONS), ...Object.keys(TCP_STACK_OPTIONS)]) {
      if (k !== "json" && k !== "help" && values[k] !== undefined) {
        throw new UsageError(`--${k} does not apply with --kernel`);
      }
    }
  }
  const seconds = numberFlag("time", values.time, Infinity, { min: 0.001, max: 86_400 });
  const countFallback = role === "server" || values.time !== undefined ? Infinity : DEFAULT_COUNT;
  const opts: PingpongOptions = {
    role,
    host: host ?? "",
    port: numberFlag("port", values.port, DEFAULT_PORT, { integer: true, min: 1, max: 65535 }),
    len: numberFlag("len", values.len, DEFAULT_LEN, { integer: true, min: 1, max: MAX_LEN }),
    count: numberFlag("count", values.count, countFallback, { integer: true, min: 1 }),
    seconds,
    warmup: numberFlag("warmup", values.warmup, 0, { integer: true, min: 0 }),
    once: values.once === true,
    kernel,
    json: values.json === true,
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
  if (opts.kernel) {
    if (Deno.permissions.querySync({ name: "net" }).state !== "granted") {
      emitError("ustack pingpong: --kernel uses Deno's sockets: run with --allow-net");
      return 1;
    }
    return opts.role === "client"
      ? await runClient(
        opts,
        "kernel",
        null,
        () => Deno.connect({ hostname: opts.host, port: opts.port }),
      )
      : await runServer(opts, "kernel", null, kernelAcceptor(opts));
  }
  const rt = await Runtime.start(tcpStackConfig(values, linkConfig(values)));
  try {
    if (opts.role === "client") {
      const code = await runClient(
        opts,
        "ustack",
        rt.loop,
        () => rt.connect({ hostname: opts.host, port: opts.port }),
      );
      // Let the FIN go out before the stack stops.
      await new Promise((r) => setTimeout(r, 50));
      return code;
    }
    const server = rt.listen({ port: opts.port });
    const addrs = rt.addrs.map((a) => a.split("/")[0]);
    return await runServer(opts, "ustack", rt.loop, {
      addrs,
      accept: () => server.accept(),
      close: () => server.close(),
    });
  } finally {
    await rt.stop();
  }
}

/** The listening side, whichever stack it is on. */
interface Acceptor {
  /** Addresses it answers on (for the ready line). */
  addrs: string[];
  /** Next connection; throws once closed. */
  accept(): Promise<StreamConn>;
  /** Stop listening. */
  close(): void;
}

function kernelAcceptor(o: PingpongOptions): Acceptor {
  const listener = listenKernel(o.port);
  return {
    addrs: ["0.0.0.0"],
    accept: () => listener.accept(),
    close: () => {
      try {
        listener.close();
      } catch { /* already closed */ }
    },
  };
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
      const hist = latencyHistogram();
      const startMs = performance.now();
      const endMs = startMs + o.seconds * 1000;
      let now = startMs;
      while (hist.count < o.count && now < endMs && !stopped) {
        const t0 = performance.now();
        await roundTrip(conn, msg, reply);
        now = performance.now();
        hist.record((now - t0) * 1e6);
      }
      const n = hist.count;
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
  await writeAll(conn, msg);
  if (!(await readExactly(conn, reply))) {
    throw new StackError("ECONNRESET", "the server closed the connection");
  }
}

/** The server: echo LEN-byte messages on every connection until told to stop. */
async function runServer(
  o: PingpongOptions,
  stack: "ustack" | "kernel",
  loop: EventLoop | null,
  acceptor: Acceptor,
): Promise<number> {
  let served = 0;
  let connections = 0;
  let stoppedBy = "";
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => finish = resolve);
  const stop = (why: string) => {
    if (stoppedBy !== "") return;
    stoppedBy = why;
    finish();
  };
  const signals = onStopSignal(() => stop("signal"));
  const timer = Number.isFinite(o.seconds)
    ? setTimeout(() => stop("time"), o.seconds * 1000)
    : undefined;
  const open = new Set<StreamConn>();
  const serve = async (conn: StreamConn) => {
    conn.setNoDelay(true);
    const buf = new Uint8Array(o.len);
    while (stoppedBy === "" && await readExactly(conn, buf)) {
      await writeAll(conn, buf);
      if (++served >= o.count) stop("count");
    }
  };
  (async () => {
    for (;;) {
      const conn = await acceptor.accept();
      connections++;
      open.add(conn);
      serve(conn).catch(() => {}).finally(() => {
        open.delete(conn);
        try {
          conn.close();
        } catch { /* already closed */ }
        if (o.once) stop("once");
      });
    }
  })().catch(() => stop("listener closed"));
  try {
    if (o.json) {
      emitJson("ready", { role: "server", stack, addrs: acceptor.addrs, port: o.port, len: o.len });
    } else {
      emit(`ready: pingpong server on TCP port ${o.port} ${acceptor.addrs.join(" ")} (${stack})`);
    }
    await finished;
  } finally {
    clearTimeout(timer);
    signals.remove();
    acceptor.close();
    for (const c of open) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
  }
  if (o.json) {
    emitJson("summary", {
      role: "server",
      stack,
      transactions: served,
      connections,
      stoppedBy,
      ...(loop === null ? {} : { loop: loopSummary(loop) }),
    });
  } else {
    emit(`summary: served ${served} transactions on ${connections} connection(s) (${stoppedBy})`);
  }
  return 0;
}
