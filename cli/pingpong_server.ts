/**
 * `ustack pingpong server`: echoes what every connection sends until it closes, for all three
 * client modes (round trips on one connection, `--connect`, `--hold`). Prints `ready`, then a
 * summary with the transactions served (bytes echoed / LEN), the connections, the peak number
 * open at once and the process's memory at that peak.
 *
 * On the stack the server is readiness-driven with no state of its own per connection: one
 * listener function serves every socket (it finds the socket in the wait queue's `owner`) and
 * moves bytes from the receive to the send buffer through one shared buffer — so a million
 * held connections cost the server only their sockets. With `--kernel` it runs one async loop
 * per connection over Deno's sockets.
 *
 * @module
 */

import {
  LoopTrace,
  requestClient,
  Runtime,
  type TcpEndpoint,
  type TcpListener,
  type WaitQueue,
} from "../mod.ts";
import { onStopSignal, StopLatch } from "./meter.ts";
import {
  rehearseRealLoop,
  runPingpongWarmUp,
  runWarmUp,
  type WarmUpConfig,
  warmUpMtu,
  withPrewarmedPools,
} from "./warm_up.ts";
import { emit, emitJson } from "./output.ts";
import {
  RR_WARM_UP_MS,
  RR_WARM_UP_ROUND_TRIPS,
  rrWarmUpConfig,
  RrWarmUpCrowd,
} from "./pingpong_rr_warm_up.ts";
import { loopSummary } from "./latency.ts";
import { cpuMs, cpuUs, memoryNow } from "./pingpong_conn.ts";
import { TRACE_RECORDS, writeTrace } from "./rr_trace_file.ts";

/** What the server is asked to do. */
export interface ServerOptions {
  /** TCP port. */
  port: number;
  /** Message size: transactions are bytes echoed / len. */
  len: number;
  /** Stop after this many transactions (Infinity: no limit). */
  count: number;
  /** Stop after this many seconds (Infinity: no limit). */
  seconds: number;
  /** Stop when the first connection ends. */
  once: boolean;
  /** JSON output. */
  json: boolean;
  /** `--prewarm N`: warm-up connections before the ready line (0: none). */
  prewarm: number;
  /** No `--prewarm`: the default warm-up, a count bounded in time (`runPingpongWarmUp`) [false]. */
  prewarmDefault?: boolean;
  /** `--trace BASE`: write the event loop's trace there at the end (over ustack), or null. */
  trace?: string | null;
}

/** Accept queue of the stack's listener (Linux's somaxconn default). */
const BACKLOG = 4096;
/** How often the peak's memory is sampled. */
const SAMPLE_MS = 500;
/** Echo bytes per step: one buffer for every connection, never held across an await. */
const SCRATCH = new Uint8Array(64 * 1024);

/** Counters of a server run. */
class ServerStats {
  bytes = 0;
  connections = 0;
  /** Process CPU (µs, user + system) when the first connection opened; -1 before. */
  firstCpuUs = -1;
  open = 0;
  peak = 0;
  /** RSS and V8 heap at the peak (sampled while the peak holds). */
  peakRss = 0;
  peakHeap = 0;
  #sampledAt = -1;
  #settledAt = -1;
  #lastPeak = -1;
  #sampleMs = -Infinity;

  opened(): void {
    if (this.connections === 0) this.firstCpuUs = cpuUs();
    this.connections++;
    if (++this.open > this.peak) {
      this.peak = this.open;
      // A new peak: sample now unless a sample was taken very recently (the interval
      // sampler takes the next one while the peak holds).
      if (performance.now() - this.#sampleMs > SAMPLE_MS) this.sample();
    }
  }

  /**
   * Sample memory if the peak rose since the last sample and still holds; once a peak has
   * held for a whole sampling period, sample it once more after a full GC (when the runtime
   * allows one), so the figure is what the connections keep, not garbage.
   */
  sample(): void {
    const settled = this.peak === this.#lastPeak && this.open === this.peak;
    this.#lastPeak = this.peak;
    if (settled && this.#settledAt !== this.peak) {
      const m = memoryNow();
      this.peakRss = m.rss;
      this.peakHeap = m.heap;
      this.#settledAt = this.peak;
      this.#sampledAt = this.peak;
      this.#sampleMs = performance.now();
      return;
    }
    if (this.open < this.peak || this.#sampledAt === this.peak) return;
    const m = Deno.memoryUsage();
    this.peakRss = m.rss;
    this.peakHeap = m.heapUsed;
    this.#sampledAt = this.peak;
    this.#sampleMs = performance.now();
  }
}

/** Run the server on the stack (`config`) or on kernel sockets (`config` null). */
export async function runServer(o: ServerOptions, config: WarmUpConfig | null): Promise<number> {
  const stats = new ServerStats();
  const latch = new StopLatch();
  const stop = (why: string) => latch.stop(why);
  const served = () => Math.floor(stats.bytes / o.len);
  const checkCount = () => {
    if (served() >= o.count) stop("count");
  };
  const signals = onStopSignal(() => stop("signal"));
  const timer = Number.isFinite(o.seconds)
    ? setTimeout(() => stop("time"), o.seconds * 1000)
    : undefined;
  const sampler = setInterval(() => stats.sample(), SAMPLE_MS);
  const stack = config === null ? "kernel" : "ustack";
  let close: () => Promise<void>;
  let addrs: string[];
  let counters: () => Record<string, unknown> | null = () => null;
  if (config === null) {
    const k = kernelServer(o, stats, checkCount, stop);
    close = k.close;
    addrs = ["0.0.0.0"];
  } else {
    const serve = (rt: Runtime, port: number) => warmUpServer(rt, port, o.len);
    const client = requestClient(new Uint8Array(o.len), o.len);
    if (o.prewarm > 0) {
      config = withPrewarmedPools(config);
      await runWarmUp(o.prewarm, warmUpMtu(config), o.json, serve, client);
    } else if (o.prewarmDefault === true) {
      // Nothing to wait for here: a count of connections, bounded in time.
      await runPingpongWarmUp(warmUpMtu(config), o.json, serve, client);
      // Then round trips on one connection: a client's data path on an established
      // connection, not its handshake (cli/pingpong_rr_warm_up.ts).
      const len = o.len;
      await runPingpongWarmUp(
        warmUpMtu(rrWarmUpConfig(config)),
        o.json,
        serve,
        (wrt: Runtime, host: string, port: number) => new RrWarmUpCrowd(wrt, host, port, len),
        undefined,
        { connections: RR_WARM_UP_ROUND_TRIPS, timeLimitMs: RR_WARM_UP_MS },
      );
    }
    const rt = await Runtime.start(config);
    // The real loop's idle paths (slice, park, wake-up) before the ready line, not in the
    // first connections (see rehearseRealLoop).
    if (o.prewarm === 0 && o.prewarmDefault === true) await rehearseRealLoop(rt);
    const u = new StackEchoServer(rt, o.port, o.len, o.count, o.once, stats, latch);
    const traceBase = o.trace ?? null;
    if (traceBase !== null) rt.loop.trace = new LoopTrace(TRACE_RECORDS);
    counters = () => ({
      ...rt.stack.stats.nonZero(),
      driver: { ...rt.nic.driver.stats },
      loop: loopSummary(rt.loop),
    });
    close = async () => {
      u.close();
      const trace = rt.loop.trace;
      rt.loop.trace = null;
      if (traceBase !== null) {
        const offset = rt.loop.clockOffsetMs();
        await writeTrace(traceBase, "server", new Float64Array(0), trace, offset);
      }
      await rt.stop();
    };
    addrs = rt.addrs.map((a) => a.split("/")[0]);
  }
  try {
    if (o.json) {
      emitJson("ready", { role: "server", stack, addrs, port: o.port, len: o.len });
    } else {
      emit(`ready: pingpong server on TCP port ${o.port} ${addrs.join(" ")} (${stack})`);
    }
    await latch.finished;
  } finally {
    clearTimeout(timer);
    clearInterval(sampler);
    signals.remove();
    stats.sample();
  }
  const finalCounters = counters();
  const connCpuUs = stats.firstCpuUs < 0 ? 0 : cpuUs() - stats.firstCpuUs;
  await close();
  if (o.json) {
    emitJson("summary", {
      role: "server",
      stack,
      transactions: served(),
      connections: stats.connections,
      peak_connections: stats.peak,
      rss_bytes: stats.peakRss,
      heap_bytes: stats.peakHeap,
      stoppedBy: latch.stoppedBy,
      cpu_ms: cpuMs(),
      conn_cpu_ms: Math.round(connCpuUs / 1000),
      rt_cpu_us: served() > 0 ? Math.round((connCpuUs / served()) * 100) / 100 : 0,
      counters: finalCounters,
    });
  } else {
    emit(
      `summary: served ${served()} transactions on ${stats.connections} connection(s), ` +
        `${stats.peak} at once (RSS ${mib(stats.peakRss)} MiB, heap ${
          mib(stats.peakHeap)
        } MiB at the peak) (${latch.stoppedBy})`,
    );
  }
  return 0;
}

function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(1);
}

/**
 * The stack's server for `--prewarm`'s private stacks (see `warm_up.ts`): the same code as the
 * real one — the same class, so the same functions and object shapes for V8 — with counters
 * and a stop latch of its own that nobody reads.
 */
export function warmUpServer(rt: Runtime, port: number, len: number): { close(): void } {
  return new StackEchoServer(rt, port, len, Infinity, false, new ServerStats(), new StopLatch());
}

/**
 * The stack's server: the listener's readiness accepts every waiting connection; each
 * connection's readiness moves its bytes back (one shared function for all of them). A class
 * rather than closures made per server: the warm-up's server and the real one then run the
 * same functions, and code V8 compiled on the first is not thrown away on the second ("wrong
 * feedback cell", "wrong map": bench/README.md, "conn9m").
 */
class StackEchoServer {
  readonly #rt: Runtime;
  readonly #server: { close(): void };
  readonly #len: number;
  readonly #count: number;
  readonly #once: boolean;
  readonly #stats: ServerStats;
  readonly #latch: StopLatch;
  /** Every connection's readiness listener (one function for all of them). */
  readonly #onEvents = (events: number, wq: WaitQueue): void => {
    const ep = wq.owner as TcpEndpoint | null;
    if (ep !== null && events !== 0) this.#pump(ep);
  };

  constructor(
    rt: Runtime,
    port: number,
    len: number,
    count: number,
    once: boolean,
    stats: ServerStats,
    latch: StopLatch,
  ) {
    this.#rt = rt;
    this.#len = len;
    this.#count = count;
    this.#once = once;
    this.#stats = stats;
    this.#latch = latch;
    const server = rt.listen({ port, backlog: BACKLOG });
    this.#server = server;
    const l: TcpListener = server.listener;
    l.wq.listener = () => this.#acceptAll(l);
  }

  /** Stop listening. */
  close(): void {
    this.#server.close();
  }

  #acceptAll(l: TcpListener): void {
    for (let ep = l.accept(); ep !== null; ep = l.accept()) {
      this.#stats.opened();
      ep.setNoDelay(true);
      ep.wq.owner = ep;
      ep.wq.listener = this.#onEvents;
      this.#pump(ep);
    }
  }

  #pump(ep: TcpEndpoint): void {
    let moved = 0;
    try {
      for (;;) {
        const readable = ep.readableBytes;
        const room = ep.writableBytes;
        if (readable > 0 && room > 0) {
          const n = ep.read(SCRATCH, 0, Math.min(readable, room, SCRATCH.length));
          ep.write(SCRATCH, 0, n);
          moved += n;
          continue;
        }
        if (readable > 0) break; // wait for room
        if (ep.read(SCRATCH, 0, 1) === 0) {
          this.#finished(ep);
          break;
        }
        break;
      }
    } catch {
      this.#finished(ep); // reset or failed
    }
    if (moved > 0) {
      const stats = this.#stats;
      stats.bytes += moved;
      this.#rt.stack.requestTick();
      if (Math.floor(stats.bytes / this.#len) >= this.#count) this.#latch.stop("count");
    }
  }

  #finished(ep: TcpEndpoint): void {
    if (ep.wq.owner === null) return;
    ep.wq.owner = null;
    ep.wq.listener = null;
    ep.close();
    this.#rt.stack.requestTick();
    this.#stats.open--;
    if (this.#once) this.#latch.stop("once");
  }
}

/** A kernel listener on every address: dual-stack `::`, or `0.0.0.0` where IPv6 is off. */
function listenKernel(port: number): Deno.TcpListener {
  try {
    return Deno.listen({ hostname: "::", port, transport: "tcp" });
  } catch {
    return Deno.listen({ hostname: "0.0.0.0", port, transport: "tcp" });
  }
}

/** The kernel's server: one async echo loop per connection over Deno's sockets. */
function kernelServer(
  o: ServerOptions,
  stats: ServerStats,
  checkCount: () => void,
  stop: (why: string) => void,
): { close(): Promise<void> } {
  const listener = listenKernel(o.port);
  const open = new Set<Deno.TcpConn>();
  const serve = async (conn: Deno.TcpConn) => {
    conn.setNoDelay(true);
    const buf = new Uint8Array(Math.max(o.len, 4096));
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await conn.write(buf.subarray(off, n));
      stats.bytes += n;
      checkCount();
    }
  };
  (async () => {
    for (;;) {
      const conn = await listener.accept();
      stats.opened();
      open.add(conn);
      serve(conn).catch(() => {}).finally(() => {
        open.delete(conn);
        stats.open--;
        try {
          conn.close();
        } catch { /* already closed */ }
        if (o.once) stop("once");
      });
    }
  })().catch(() => stop("listener closed"));
  return {
    close: () => {
      try {
        listener.close();
      } catch { /* already closed */ }
      for (const c of open) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      return Promise.resolve();
    },
  };
}
