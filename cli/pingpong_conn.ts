/**
 * The connection modes of `ustack pingpong client`:
 *
 * - `--connect -C CONC -n TOTAL [-l LEN]`: TOTAL connections, CONC in flight; each sends one
 *   LEN-byte request, reads LEN bytes back and closes. Connections/s every second, then a
 *   summary (`{"event":"summary","mode":"connect","connections":N,"failed":F,"conn_per_s":X,…}`).
 * - `--hold SECS -C CONC -n TOTAL`: opens TOTAL connections (CONC connecting at once) and
 *   keeps them; once all are established prints
 *   `{"event":"held","connections":N,"failed":F,"rss_bytes":R,"heap_bytes":H,"seconds":S}`,
 *   holds them SECS, makes one round trip on 1,000 connections spread over the whole set,
 *   closes everything and prints the summary.
 *
 * On the stack the client drives endpoints directly and by readiness callbacks — no stream
 * object, promise or timer per connection, so a million held connections cost only their
 * endpoints — taking its source address from `--addr` in turn, so that a million connections
 * fit the port space. With `--kernel` it uses Deno's sockets.
 *
 * @module
 */

import process from "node:process";
import {
  EV_ERROR,
  EV_HANGUP,
  EV_READABLE,
  EV_WRITABLE,
  IpAddress,
  type Runtime,
  StackError,
  type TcpEndpoint,
  type WaitQueue,
} from "../mod.ts";
import { latencyHistogram, latencySummary } from "./latency.ts";
import { onStopSignal, sleep, yieldToEventLoop } from "./meter.ts";
import { emit, emitJson } from "./output.ts";
import { ConnectCrowd } from "./pingpong_crowd.ts";

/** What a connection-mode client is asked to do. */
export interface ConnClientOptions {
  /** Server address (IPv4 or IPv6). */
  host: string;
  /** Server port. */
  port: number;
  /** Request (and reply) bytes. */
  len: number;
  /** Connections in all. */
  total: number;
  /** Connections in flight (connecting, or talking) at once. */
  conc: number;
  /** `--hold`: seconds to hold them (connect mode: unused). */
  holdSeconds: number;
  /** Connect mode: stop after this many seconds (Infinity: none). */
  seconds: number;
  /** JSON output. */
  json: boolean;
}

/** Round trips made on the held set (spread over it). */
export const HOLD_ROUND_TRIPS = 1000;
/** How long one round trip on a held connection may take before it counts as failed. */
const ROUND_TRIP_TIMEOUT_MS = 30_000;

/** Called once when an operation ends: null, or why it failed. */
type Done = (error: string | null) => void;

/**
 * One held connection, as its opener knows it: a stack endpoint or a Deno socket itself (no
 * wrapper object per connection: a million held connections cost only their sockets).
 */
type Handle = unknown;

/** How the modes drive connections: on the stack or on kernel sockets. */
interface Opener {
  /** "ustack" or "kernel". */
  readonly stack: string;
  /**
   * Connections opened one at a time before the crowd: one per source address, so the
   * neighbours on both ends are resolved before a burst queues behind their resolution.
   */
  readonly warmup: number;
  /**
   * Connect-mode connection `i`: open, send `msg`, read as much back, close; then `done`
   * (kernel sockets; the stack's connect mode is a {@link ConnectCrowd}).
   */
  cycle?(i: number, msg: Uint8Array, done: Done): void;
  /** The stack's connect mode: a crowd of connections each sending `msg`. */
  crowd?(msg: Uint8Array): ConnectCrowd;
  /** Open connection `i`; `done(handle)` once established, `done(null, why)` if it failed. */
  open(i: number, done: (h: Handle | null, error: string | null) => void): void;
  /** On a held connection: send `msg` whole and read `reply.length` bytes back. */
  roundTrip(h: Handle, msg: Uint8Array, reply: Uint8Array): Promise<void>;
  /** Close a held connection (graceful). */
  close(h: Handle): void;
  /** Connections of this process not yet fully closed (0 for the kernel: not visible). */
  live(): number;
  /** The stack's non-zero counters and data-path counters (null for the kernel). */
  counters(): Record<string, unknown> | null;
}

/** CPU time this process used (ms, user and system), for per-connection costs. */
export function cpuMs(): { user: number; system: number } {
  const u = process.cpuUsage();
  return { user: Math.round(u.user / 1000), system: Math.round(u.system / 1000) };
}

/** CPU time this process used (µs, user + system), for per-round-trip costs. */
export function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Process memory now, after a full GC when the runtime allows one (`--v8-flags=--expose-gc`). */
export function memoryNow(): { rss: number; heap: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = Deno.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

/** The message of an error. */
function why(e: unknown): string {
  return (e as Error)?.message ?? String(e);
}

// ---- the stack ---------------------------------------------------------------------------

/** A connection being opened for `--hold`: its endpoint and whom to tell how it went. */
class Flow {
  constructor(
    readonly ep: TcpEndpoint,
    readonly done: Done,
    readonly onOpen: (h: Handle) => void,
  ) {}
}

/** Readiness of a connection being opened for `--hold`: established, or failed. */
function onOpenEvent(_events: number, wq: WaitQueue): void {
  const f = wq.owner as Flow | null;
  if (f === null) return;
  const ep = f.ep;
  const st = ep.stateName();
  let error: string | null = null;
  if (ep.error !== null) error = ep.takeError()!;
  else if (st === "SYN_SENT" || st === "SYN_RECEIVED") return;
  else if (st !== "ESTABLISHED") error = "ECONNRESET";
  wq.owner = null;
  wq.listener = null;
  if (error !== null) {
    ep.close();
    f.done(error);
  } else {
    f.onOpen(ep);
  }
}

/** A round trip on a held stack endpoint, waiting on readiness (only 1,000 of them). */
async function stackRoundTrip(ep: TcpEndpoint, msg: Uint8Array, reply: Uint8Array): Promise<void> {
  let sent = 0;
  while (sent < msg.length) {
    sent += ep.write(msg, sent, msg.length - sent);
    if (sent < msg.length) await ep.wq.wait(EV_WRITABLE | EV_ERROR | EV_HANGUP);
  }
  let got = 0;
  while (got < reply.length) {
    const n = ep.read(reply, got, reply.length - got); // throws the connection's error
    if (n > 0) {
      got += n;
      continue;
    }
    if (n === 0) throw new StackError("ECONNRESET", "the server closed the connection");
    await ep.wq.wait(EV_READABLE | EV_ERROR | EV_HANGUP);
  }
}

/** Connections on the stack, source addresses from `--addr` in turn. */
export function stackOpener(rt: Runtime, o: ConnClientOptions): Opener {
  const dst = IpAddress.parse(o.host);
  // Source addresses of the destination's family, in turn.
  const addrs = rt.addrs.map((a) => IpAddress.parse(a.split("/")[0]))
    .filter((a) => a.family === dst.family);
  const tcp = rt.stack.tcp;
  /** A new endpoint for connection `i`, or the reason there is none. */
  const connect = (i: number): TcpEndpoint | string => {
    try {
      const ep = tcp.connect(dst, o.port, {
        localAddr: addrs.length > 0 ? addrs[i % addrs.length] : undefined,
      });
      ep.setNoDelay(true);
      return ep;
    } catch (e) {
      return why(e);
    }
  };
  return {
    stack: "ustack",
    warmup: Math.max(1, addrs.length),
    crowd: (msg) => new ConnectCrowd(rt.stack, dst, o.port, addrs, msg),
    open(i, done) {
      const ep = connect(i);
      if (typeof ep === "string") {
        queueMicrotask(() => done(null, ep));
        return;
      }
      ep.wq.owner = new Flow(ep, (e) => done(null, e), (h) => done(h, null));
      ep.wq.listener = onOpenEvent;
      rt.stack.requestTick();
    },
    roundTrip: (h, msg, reply) => stackRoundTrip(h as TcpEndpoint, msg, reply),
    close: (h) => (h as TcpEndpoint).close(),
    live: () => tcp.endpoints,
    counters: () => ({
      ...rt.stack.stats.nonZero(),
      driver: { ...rt.nic.driver.stats },
      loop: { ...rt.loop.stats },
      rings: { ...rt.stack.rings.stats },
    }),
  };
}

// ---- kernel sockets ----------------------------------------------------------------------

/** A round trip on a kernel socket. */
async function kernelRoundTrip(
  conn: Deno.TcpConn,
  msg: Uint8Array,
  reply: Uint8Array,
): Promise<void> {
  let off = 0;
  while (off < msg.length) off += await conn.write(msg.subarray(off));
  let got = 0;
  while (got < reply.length) {
    const n = await conn.read(reply.subarray(got));
    if (n === null) throw new StackError("ECONNRESET", "the server closed the connection");
    got += n;
  }
}

/** Close a kernel socket (already closed is fine). */
function kernelClose(conn: Deno.TcpConn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

/** Connections on Deno's kernel sockets. */
export function kernelOpener(o: ConnClientOptions): Opener {
  const openConn = async (): Promise<Deno.TcpConn> => {
    const conn = await Deno.connect({ hostname: o.host, port: o.port });
    conn.setNoDelay(true);
    return conn;
  };
  return {
    stack: "kernel",
    warmup: 1,
    cycle(_i, msg, done) {
      (async () => {
        const conn = await openConn();
        try {
          await kernelRoundTrip(conn, msg, new Uint8Array(msg.length));
        } finally {
          kernelClose(conn);
        }
      })().then(() => done(null), (e) => done(why(e)));
    },
    open(_i, done) {
      openConn().then((h) => done(h, null), (e) => done(null, why(e)));
    },
    roundTrip: (h, msg, reply) => kernelRoundTrip(h as Deno.TcpConn, msg, reply),
    close: (h) => kernelClose(h as Deno.TcpConn),
    live: () => 0,
    counters: () => null,
  };
}

// ---- the modes ---------------------------------------------------------------------------

/**
 * Run `start(i, done)` for i = 0 … total-1 with at most `conc` in flight, starting one as
 * another ends, until all are done or `more()` says stop. Resolves when none is in flight.
 */
function inFlight(
  total: number,
  conc: number,
  more: () => boolean,
  start: (i: number, done: Done) => void,
  next: { i: number },
): Promise<void> {
  return new Promise((allDone) => {
    let running = 0;
    const pump = (): void => {
      while (running < conc && next.i < total && more()) {
        running++;
        start(next.i++, () => {
          running--;
          pump();
        });
      }
      if (running === 0) allDone();
    };
    pump();
  });
}

/** A request of `len` bytes (byte i = i mod 256). */
function message(len: number): Uint8Array {
  const m = new Uint8Array(len);
  for (let i = 0; i < len; i++) m[i] = i & 0xff;
  return m;
}

/** Rounded to `digits` after the point. */
function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Wait (at most `ms`) until the stack's connections have all finished closing. */
async function settle(opener: Opener, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (opener.live() > 0 && performance.now() < deadline) await sleep(10);
}

/** `--connect`: TOTAL connections, CONC at a time, one round trip each. */
export async function runConnect(o: ConnClientOptions, opener: Opener): Promise<number> {
  let stopped = false;
  const msg = message(o.len);
  const crowd = opener.crowd?.(msg) ?? null;
  const signals = onStopSignal(() => {
    stopped = true;
    crowd?.stop();
  });

  // On the stack the crowd counts and times the connections; on kernel sockets these do.
  const latencies = crowd !== null ? crowd.latencies : latencyHistogram(); // ns
  let kDone = 0;
  let kFailed = 0;
  let kFirstError = "";
  const doneNow = () => crowd !== null ? crowd.done : kDone;
  const failedNow = () => crowd !== null ? crowd.failed : kFailed;
  const start = performance.now();
  const end = start + o.seconds * 1000;
  let lastCount = 0;
  let second = 0;
  const ticker = setInterval(() => {
    second++;
    const done = doneNow(), failed = failedNow();
    const n = done + failed;
    const rate = n - lastCount;
    lastCount = n;
    if (o.json) {
      emitJson("interval", { second, conn_per_s: rate, connections: done, failed });
    } else {
      emit(`${String(second).padStart(4)} s: ${rate} conn/s (${done} done, ${failed} failed)`);
    }
  }, 1000);
  const one = (i: number, finished: Done): void => {
    const t0 = performance.now();
    opener.cycle!(i, msg, (error) => {
      if (error === null) {
        latencies.record((performance.now() - t0) * 1e6);
        kDone++;
      } else {
        kFailed++;
        if (kFirstError === "") kFirstError = error;
      }
      finished(null);
    });
  };
  const next = { i: 0 };
  let cpuRun = { user: 0, system: 0 }; // CPU of the crowd phase (after the neighbour warm-up)
  let firstMs = 0; // the neighbour warm-up's connections, alone (part of `seconds`)
  let crowdMs = 0;
  try {
    if (!o.json) {
      emit(
        `pingpong client: ${o.total} connections to ${o.host}:${o.port}, ${o.conc} at a time, ` +
          `one ${o.len}-byte round trip each, over ${opener.stack}`,
      );
    }
    // With --json, where the measured connections begin (a trace tool's window starts here).
    if (o.json) {
      emitJson("start", { role: "client", mode: "connect", to: `${o.host}:${o.port}` });
    }
    // A connection per source address alone first: neighbours resolved before the crowd.
    const first = Math.min(opener.warmup, o.total);
    if (crowd !== null) await crowd.run(first, 1, Infinity);
    else await inFlight(first, 1, () => true, one, next);
    const c0 = cpuMs();
    const t0 = performance.now();
    firstMs = t0 - start;
    if (crowd !== null) {
      if (!stopped) await crowd.run(o.total, o.conc, end);
    } else {
      await inFlight(o.total, o.conc, () => !stopped && performance.now() < end, one, next);
    }
    crowdMs = performance.now() - t0;
    const c1 = cpuMs();
    cpuRun = { user: c1.user - c0.user, system: c1.system - c0.system };
  } finally {
    clearInterval(ticker);
    signals.remove();
  }
  const seconds = (performance.now() - start) / 1000;
  await settle(opener, 2000); // let the last FINs leave before the stack stops
  const done = doneNow(), failed = failedNow();
  const firstError = crowd !== null ? crowd.firstError : kFirstError;
  const rate = seconds > 0 ? done / seconds : 0;
  const lat = latencySummary(latencies);
  if (o.json) {
    emitJson("summary", {
      mode: "connect",
      connections: done,
      failed,
      conn_per_s: Math.round(rate),
      seconds: round(seconds, 3),
      stack: opener.stack,
      to: `${o.host}:${o.port}`,
      len: o.len,
      conc: o.conc,
      p50Us: lat.p50Us,
      p99Us: lat.p99Us,
      maxUs: lat.maxUs,
      cpu_ms: cpuMs(),
      run_cpu_ms: cpuRun,
      first_ms: round(firstMs, 2),
      crowd_ms: round(crowdMs, 2),
      ...(firstError !== "" ? { error: firstError } : {}),
      counters: opener.counters(),
    });
  } else {
    emit(
      `summary: ${done} connections (${failed} failed) in ${seconds.toFixed(2)} s, ` +
        `${Math.round(rate)} conn/s; connection µs p50 ${lat.p50Us} p99 ${lat.p99Us} ` +
        `max ${lat.maxUs}${firstError !== "" ? `; first error: ${firstError}` : ""}`,
    );
  }
  return 0;
}

/** `--hold SECS`: open TOTAL, hold them, round trips on 1,000 of them, close them all. */
export async function runHold(o: ConnClientOptions, opener: Opener): Promise<number> {
  let stopped = false;
  const signals = onStopSignal(() => stopped = true);
  const held: (Handle | undefined)[] = new Array(o.total);
  const start = memoryNow();
  let opened = 0;
  let failed = 0;
  let firstError = "";
  const t0 = performance.now();
  const one = (i: number, finished: Done): void => {
    opener.open(i, (h, error) => {
      if (h !== null) {
        held[i] = h;
        opened++;
      } else {
        failed++;
        if (firstError === "") firstError = error ?? "failed";
      }
      finished(null);
    });
  };
  const next = { i: 0 };
  try {
    if (!o.json) {
      emit(
        `pingpong client: holding ${o.total} connections to ${o.host}:${o.port} ` +
          `(${o.conc} connecting at once) over ${opener.stack}`,
      );
    }
    await inFlight(Math.min(opener.warmup, o.total), 1, () => true, one, next); // neighbours
    await inFlight(o.total, o.conc, () => !stopped, one, next);
    const openSeconds = (performance.now() - t0) / 1000;
    const heldCounters = opener.counters();
    const m = memoryNow();
    if (o.json) {
      emitJson("held", {
        connections: opened,
        failed,
        rss_bytes: m.rss,
        heap_bytes: m.heap,
        seconds: round(openSeconds, 3),
      });
    } else {
      emit(
        `held: ${opened} connections (${failed} failed) in ${openSeconds.toFixed(2)} s; ` +
          `RSS ${(m.rss / 1048576).toFixed(1)} MiB, heap ${(m.heap / 1048576).toFixed(1)} MiB`,
      );
    }
    // Hold them (a signal ends the wait early).
    const holdEnd = performance.now() + o.holdSeconds * 1000;
    while (!stopped && performance.now() < holdEnd) {
      await sleep(Math.min(100, holdEnd - performance.now()));
    }
    const rt = await holdRoundTrips(o, opener, held, opened);
    const rtCounters = opener.counters();
    const closed = await closeAll(held, opened, o.conc, opener);
    const seconds = (performance.now() - t0) / 1000;
    const end = memoryNow();
    if (o.json) {
      emitJson("summary", {
        mode: "hold",
        connections: opened,
        failed,
        round_trips: rt.ok,
        round_trip_failed: rt.failed,
        closed,
        seconds: round(seconds, 3),
        open_seconds: round(openSeconds, 3),
        stack: opener.stack,
        rss_start_bytes: start.rss,
        heap_start_bytes: start.heap,
        rss_held_bytes: m.rss,
        heap_held_bytes: m.heap,
        rss_end_bytes: end.rss,
        heap_end_bytes: end.heap,
        cpu_ms: cpuMs(),
        ...(firstError !== "" ? { error: firstError } : {}),
        counters_held: heldCounters,
        counters_round_trips: rtCounters,
        counters: opener.counters(),
      });
    } else {
      emit(
        `summary: ${opened} connections held (${failed} failed), ${rt.ok} of ${
          rt.ok + rt.failed
        } round trips answered, ${closed} closed, ${seconds.toFixed(2)} s` +
          (firstError !== "" ? `; first error: ${firstError}` : ""),
      );
    }
  } finally {
    signals.remove();
  }
  return 0;
}

/** One round trip on each of up to 1,000 held connections spread over the set. */
async function holdRoundTrips(
  o: ConnClientOptions,
  opener: Opener,
  held: (Handle | undefined)[],
  opened: number,
): Promise<{ ok: number; failed: number }> {
  const live: number[] = [];
  for (let i = 0; i < held.length; i++) if (held[i] !== undefined) live.push(i);
  const k = Math.min(HOLD_ROUND_TRIPS, opened);
  const picks: number[] = [];
  for (let j = 0; j < k; j++) picks.push(live[Math.floor((j * live.length) / k)]);
  const msg = message(o.len);
  let ok = 0;
  let failed = 0;
  let at = 0;
  const worker = async () => {
    const reply = new Uint8Array(o.len);
    while (at < picks.length) {
      const h = held[picks[at++]];
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          opener.roundTrip(h, msg, reply),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error("timeout")), ROUND_TRIP_TIMEOUT_MS);
          }),
        ]);
        ok++;
      } catch {
        failed++;
      } finally {
        clearTimeout(timer);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.conc, k) }, worker));
  return { ok, failed };
}

/**
 * Close every held connection, at most CONC closing at once (as CONC connect at once: a
 * million FINs at a time would only overrun the peer), and wait until they are done.
 */
async function closeAll(
  held: (Handle | undefined)[],
  opened: number,
  conc: number,
  opener: Opener,
): Promise<number> {
  let closed = 0;
  for (let i = 0; i < held.length; i++) {
    const h = held[i];
    if (h === undefined) continue;
    opener.close(h);
    held[i] = undefined;
    closed++;
    // On the stack `live()` counts the connections not yet gone: the held ones still open
    // and the ones closing. (The kernel's are not visible: there, one turn per batch.)
    if (closed % conc === 0) {
      await yieldToEventLoop();
      while (opener.live() - (opened - closed) >= conc) await sleep(1);
    }
  }
  await settle(opener, 30_000 + closed / 10);
  return closed;
}
