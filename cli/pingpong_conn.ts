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
 * On the stack the client drives endpoints directly (no stream objects), taking its source
 * address from `--addr` in turn, so that a million connections fit the port space; with
 * `--kernel` it uses Deno's sockets.
 *
 * @module
 */

import {
  EV_ERROR,
  EV_HANGUP,
  EV_READABLE,
  EV_WRITABLE,
  parseIpv4,
  type Runtime,
  StackError,
  type TcpEndpoint,
  type WaitQueue,
} from "../mod.ts";
import { onStopSignal, sleep, yieldToEventLoop } from "./meter.ts";
import { emit, emitJson } from "./output.ts";
import { latencySummary } from "./latency.ts";
import process from "node:process";

/** What a connection-mode client is asked to do. */
export interface ConnClientOptions {
  /** Server address (dotted quad). */
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
/** How long one connection or round trip may take before it counts as failed. */
const OP_TIMEOUT_MS = 30_000;
/** Closes issued per turn of the event loop when a held set is closed. */
const CLOSE_BATCH = 4096;

/** One connection as the modes use it, on either stack. */
interface Handle {
  /** Send `msg` whole and read `reply.length` bytes back. */
  roundTrip(msg: Uint8Array, reply: Uint8Array): Promise<void>;
  /** Close (graceful). */
  close(): void;
}

/** How the modes open connections: on the stack or on kernel sockets. */
interface Opener {
  /** "ustack" or "kernel". */
  readonly stack: string;
  /** Open connection number `i` and wait until it is established. */
  open(i: number): Promise<Handle>;
  /** Connections of this process not yet fully closed (0 for the kernel: not visible). */
  live(): number;
  /** The stack's non-zero counters and driver counters (null for the kernel). */
  counters(): Record<string, unknown> | null;
  /**
   * A connect-mode connection driven by readiness callbacks, no promise per step: open
   * connection `i`, send `msg`, read as many bytes back, close, then `done(null)` or
   * `done(error)`. Null when the opener has no such form (kernel sockets).
   */
  cycle: ((i: number, msg: Uint8Array, done: (error: string | null) => void) => void) | null;
}

/** State of one connection of {@link Opener.cycle} on the stack. */
class Cycle {
  got = 0;
  constructor(
    readonly ep: TcpEndpoint,
    readonly len: number,
    readonly done: (error: string | null) => void,
  ) {}
}

/** Reply bytes are read here and dropped: one buffer, used in synchronous steps only. */
const CYCLE_SCRATCH = new Uint8Array(64 * 1024);

/** CPU time this process used (ms, user and system), for per-connection costs. */
export function cpuMs(): { user: number; system: number } {
  const u = process.cpuUsage();
  return { user: Math.round(u.user / 1000), system: Math.round(u.system / 1000) };
}

/** Reject after `ms` unless `p` settles first. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
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

/** A handle over a stack endpoint. */
class StackHandle implements Handle {
  constructor(readonly ep: TcpEndpoint, readonly rt: Runtime) {}

  async roundTrip(msg: Uint8Array, reply: Uint8Array): Promise<void> {
    const ep = this.ep;
    let sent = 0;
    while (sent < msg.length) {
      sent += ep.write(msg, sent, msg.length - sent);
      this.rt.stack.requestTick();
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
    this.rt.stack.requestTick(); // a window update may be due
  }

  close(): void {
    this.ep.close();
    this.rt.stack.requestTick();
  }
}

/** Connections on the stack, source addresses from `--addr` in turn. */
export function stackOpener(rt: Runtime, o: ConnClientOptions): Opener {
  const dst = parseIpv4(o.host);
  const addrs = rt.addrs.map((a) => parseIpv4(a.split("/")[0]));
  const tcp = rt.stack.tcp;
  return {
    stack: "ustack",
    async open(i: number): Promise<Handle> {
      const localAddr = addrs.length > 0 ? addrs[i % addrs.length] : undefined;
      const ep = tcp.connect(dst, o.port, { localAddr });
      ep.setNoDelay(true);
      rt.stack.requestTick();
      for (;;) {
        if (ep.error !== null) {
          const e = ep.takeError()!;
          ep.close();
          throw new StackError(e, "connect");
        }
        const st = ep.stateName();
        if (st === "ESTABLISHED") return new StackHandle(ep, rt);
        if (st !== "SYN_SENT" && st !== "SYN_RECEIVED") {
          ep.close();
          throw new StackError("ECONNRESET", "connect");
        }
        await ep.wq.wait(EV_WRITABLE | EV_ERROR | EV_HANGUP);
      }
    },
    live: () => tcp.endpoints,
    cycle: (i, msg, done) => {
      let ep: TcpEndpoint;
      try {
        ep = tcp.connect(dst, o.port, {
          localAddr: addrs.length > 0 ? addrs[i % addrs.length] : undefined,
        });
      } catch (e) {
        const why = (e as Error).message ?? String(e);
        queueMicrotask(() => done(why)); // never re-enter the caller
        return;
      }
      ep.setNoDelay(true);
      ep.write(msg, 0, msg.length); // sent with the handshake's ACK
      const c = new Cycle(ep, msg.length, done);
      ep.wq.owner = c;
      ep.wq.listener = onCycleEvent;
      rt.stack.requestTick();
    },
    counters: () => ({
      ...rt.stack.stats.nonZero(),
      driver: { ...rt.nic.driver.stats },
      loop: { ...rt.loop.stats },
      rings: { ...rt.stack.rings.stats },
    }),
  };
}

/** Readiness of a {@link Cycle}'s connection: read the reply; once whole (or failed), close. */
function onCycleEvent(_events: number, wq: WaitQueue): void {
  const c = wq.owner as Cycle | null;
  if (c === null) return;
  const ep = c.ep;
  let error: string | null = null;
  try {
    for (;;) {
      const n = ep.read(CYCLE_SCRATCH, 0, Math.min(c.len - c.got, CYCLE_SCRATCH.length));
      if (n > 0) {
        c.got += n;
        if (c.got < c.len) continue;
      } else if (n === 0) {
        error = "the server closed the connection";
      } else {
        return; // nothing yet
      }
      break;
    }
  } catch (e) {
    error = (e as Error).message ?? String(e);
  }
  wq.owner = null;
  wq.listener = null;
  ep.close();
  c.done(error);
}

/** A handle over a kernel socket. */
class KernelHandle implements Handle {
  constructor(readonly conn: Deno.TcpConn) {}

  async roundTrip(msg: Uint8Array, reply: Uint8Array): Promise<void> {
    let off = 0;
    while (off < msg.length) off += await this.conn.write(msg.subarray(off));
    let got = 0;
    while (got < reply.length) {
      const n = await this.conn.read(reply.subarray(got));
      if (n === null) throw new StackError("ECONNRESET", "the server closed the connection");
      got += n;
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

/** Connections on Deno's kernel sockets. */
export function kernelOpener(o: ConnClientOptions): Opener {
  return {
    stack: "kernel",
    async open(): Promise<Handle> {
      const conn = await Deno.connect({ hostname: o.host, port: o.port });
      conn.setNoDelay(true);
      return new KernelHandle(conn);
    },
    live: () => 0,
    counters: () => null,
    cycle: null,
  };
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

/** `--connect`: TOTAL connections, CONC at a time, one round trip each. */
export async function runConnect(o: ConnClientOptions, opener: Opener): Promise<number> {
  let stopped = false;
  const signals = onStopSignal(() => stopped = true);
  const msg = message(o.len);
  const latencies = new Float64Array(o.total);
  let next = 0;
  let done = 0;
  let failed = 0;
  let firstError = "";
  const start = performance.now();
  const end = start + o.seconds * 1000;
  let lastDone = 0;
  let second = 0;
  const ticker = setInterval(() => {
    second++;
    const n = done + failed;
    const rate = n - lastDone;
    lastDone = n;
    if (o.json) {
      emitJson("interval", { second, conn_per_s: rate, connections: done, failed });
    } else {
      emit(`${String(second).padStart(4)} s: ${rate} conn/s (${done} done, ${failed} failed)`);
    }
  }, 1000);
  const one = async (i: number, reply: Uint8Array) => {
    const t0 = performance.now();
    let h: Handle | null = null;
    try {
      h = await opener.open(i);
      await h.roundTrip(msg, reply);
      latencies[done++] = performance.now() - t0;
    } catch (e) {
      failed++;
      if (firstError === "") firstError = (e as Error).message ?? String(e);
    } finally {
      h?.close();
    }
  };
  const worker = async () => {
    const reply = new Uint8Array(o.len);
    while (next < o.total && !stopped && performance.now() < end) await one(next++, reply);
  };
  /** The callback form: CONC connections in flight, each started as another ends. */
  const callbacks = (cycle: NonNullable<Opener["cycle"]>) =>
    new Promise<void>((allDone) => {
      let inFlight = 0;
      const more = () => next < o.total && !stopped && performance.now() < end;
      const start = (): void => {
        while (inFlight < o.conc && more()) {
          const t0 = performance.now();
          inFlight++;
          cycle(next++, msg, (error) => {
            inFlight--;
            if (error === null) latencies[done++] = performance.now() - t0;
            else {
              failed++;
              if (firstError === "") firstError = error;
            }
            start();
          });
        }
        if (inFlight === 0) allDone();
      };
      start();
    });
  try {
    if (!o.json) {
      emit(
        `pingpong client: ${o.total} connections to ${o.host}:${o.port}, ${o.conc} at a time, ` +
          `one ${o.len}-byte round trip each, over ${opener.stack}`,
      );
    }
    // One connection alone first: the neighbour is resolved before the crowd arrives.
    await one(next++, new Uint8Array(o.len));
    if (opener.cycle !== null) await callbacks(opener.cycle);
    else await Promise.all(Array.from({ length: Math.min(o.conc, o.total) }, worker));
  } finally {
    clearInterval(ticker);
    signals.remove();
  }
  const seconds = (performance.now() - start) / 1000;
  // Let the last FINs leave before the stack stops.
  await settle(opener, 2000);
  const rate = seconds > 0 ? done / seconds : 0;
  const lat = latencySummary(latencies, done);
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

/** Wait (at most `ms`) until the stack's connections have all finished closing. */
async function settle(opener: Opener, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (opener.live() > 0 && performance.now() < deadline) await sleep(10);
}

/** `--hold SECS`: open TOTAL, hold them, round trips on 1,000 of them, close them all. */
export async function runHold(o: ConnClientOptions, opener: Opener): Promise<number> {
  let stopped = false;
  const signals = onStopSignal(() => stopped = true);
  const held: (Handle | undefined)[] = new Array(o.total);
  const rssStart = Deno.memoryUsage().rss;
  let next = 0;
  let opened = 0;
  let failed = 0;
  let firstError = "";
  const t0 = performance.now();
  const one = async (i: number) => {
    try {
      held[i] = await within(opener.open(i), OP_TIMEOUT_MS, "connect");
      opened++;
    } catch (e) {
      failed++;
      if (firstError === "") firstError = (e as Error).message ?? String(e);
    }
  };
  const worker = async () => {
    while (next < o.total && !stopped) await one(next++);
  };
  try {
    if (!o.json) {
      emit(
        `pingpong client: holding ${o.total} connections to ${o.host}:${o.port} ` +
          `(${o.conc} connecting at once) over ${opener.stack}`,
      );
    }
    await one(next++); // the neighbour is resolved before the crowd arrives
    await Promise.all(Array.from({ length: Math.min(o.conc, o.total) }, worker));
    const openSeconds = (performance.now() - t0) / 1000;
    const m = Deno.memoryUsage();
    if (o.json) {
      emitJson("held", {
        connections: opened,
        failed,
        rss_bytes: m.rss,
        heap_bytes: m.heapUsed,
        seconds: round(openSeconds, 3),
      });
    } else {
      emit(
        `held: ${opened} connections (${failed} failed) in ${openSeconds.toFixed(2)} s; ` +
          `RSS ${(m.rss / 1048576).toFixed(1)} MiB, heap ${(m.heapUsed / 1048576).toFixed(1)} MiB`,
      );
    }
    // Hold them (a signal ends the wait early).
    const holdEnd = performance.now() + o.holdSeconds * 1000;
    while (!stopped && performance.now() < holdEnd) {
      await sleep(Math.min(100, holdEnd - performance.now()));
    }
    const rt = await holdRoundTrips(o, held, opened);
    const closed = await closeAll(held, opener);
    const seconds = (performance.now() - t0) / 1000;
    const end = Deno.memoryUsage();
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
        rss_start_bytes: rssStart,
        rss_held_bytes: m.rss,
        rss_end_bytes: end.rss,
        heap_end_bytes: end.heapUsed,
        cpu_ms: cpuMs(),
        ...(firstError !== "" ? { error: firstError } : {}),
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
      const h = held[picks[at++]]!;
      try {
        await within(h.roundTrip(msg, reply), OP_TIMEOUT_MS, "round trip");
        ok++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.conc, k) }, worker));
  return { ok, failed };
}

/** Close every held connection, a batch per turn of the event loop; wait until they are done. */
async function closeAll(held: (Handle | undefined)[], opener: Opener): Promise<number> {
  let closed = 0;
  for (let i = 0; i < held.length; i++) {
    const h = held[i];
    if (h === undefined) continue;
    h.close();
    held[i] = undefined;
    if (++closed % CLOSE_BATCH === 0) await yieldToEventLoop();
  }
  await settle(opener, 30_000 + closed / 10);
  return closed;
}
