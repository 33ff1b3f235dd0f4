/**
 * Measuring for the CLI tools: the per-second meter of `uperf`, the data-path counters of a
 * runtime (driver, loop, mux) and their deltas, a cheap yield to the event loop, and the
 * SIGINT/SIGTERM hook every long-running command uses.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import type { Runtime } from "../mod.ts";
import { emit, emitJson } from "./output.ts";

/** A last partial interval shorter than this is folded into the summary only. */
export const MIN_PARTIAL_INTERVAL_MS = 50;
/** Let Deno's event loop (and so the stack's loop) run: ~3 µs, unlike a clamped timer. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Resolve after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Gbit/s of `bytes` over `seconds` (0 when no time passed). */
function gbps(bytes: number, seconds: number): number {
  return seconds > 0 ? (bytes * 8) / seconds / 1e9 : 0;
}

/** Packets per second (0 when no time passed). */
function pps(packets: number, seconds: number): number {
  return seconds > 0 ? packets / seconds : 0;
}

function formatGbps(g: number): string {
  return g === 0 || g >= 0.1 ? g.toFixed(2) : g.toPrecision(2);
}

/** `1.23 GB`, `45.60 MB`, `7.00 kB`, `12 B` (decimal units). */
function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(2)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(2)} kB`;
  return `${bytes} B`;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Running totals and the per-second report of one side. */
export class Meter {
  /**
   * Packets and payload bytes so far, in a typed array: as class fields the byte count (a small
   * integer at first, past 2^31 within a second) was a new heap number on every `+=` — 16 B per
   * datagram in `uperf server --udp`'s listener, also with the field begun as a double
   * (bench/README.md, "heap13q").
   */
  readonly #totals = new Float64Array(2);
  #startMs = 0;
  #lastMs = 0;
  #lastPackets = 0;
  #lastBytes = 0;

  /** A meter for `role`, printing text or JSON lines. */
  constructor(readonly role: "server" | "client", readonly json: boolean) {}

  /** Packets (datagrams, or TCP segments) so far. */
  get packets(): number {
    return this.#totals[0];
  }
  set packets(n: number) {
    this.#totals[0] = n;
  }

  /** Payload bytes so far. */
  get bytes(): number {
    return this.#totals[1];
  }
  set bytes(n: number) {
    this.#totals[1] = n;
  }

  /** Count `packets` more packets and `bytes` more bytes (no number returned or boxed). */
  add(packets: number, bytes: number): void {
    const t = this.#totals;
    t[0] += packets;
    t[1] += bytes;
  }

  /** Start the clock at `nowMs`. */
  start(nowMs: number): void {
    this.#startMs = nowMs;
    this.#lastMs = nowMs;
  }

  /** When the clock started. */
  get startMs(): number {
    return this.#startMs;
  }

  /** When the last interval line ended. */
  get lastReportMs(): number {
    return this.#lastMs;
  }

  /** Print the interval since the last report, ending at `nowMs`, with extra JSON fields. */
  report(nowMs: number, extra?: Record<string, unknown>): void {
    const seconds = (nowMs - this.#lastMs) / 1000;
    const packets = this.packets - this.#lastPackets;
    const bytes = this.bytes - this.#lastBytes;
    const end = (nowMs - this.#startMs) / 1000;
    const g = gbps(bytes, seconds);
    const p = pps(packets, seconds);
    if (this.json) {
      emitJson("interval", {
        role: this.role,
        start: round((this.#lastMs - this.#startMs) / 1000, 3),
        end: round(end, 3),
        bytes,
        packets,
        seconds: round(seconds, 3),
        gbps: round(g, 6),
        pps: Math.round(p),
        ...extra,
      });
    } else {
      emit(`[${end.toFixed(2).padStart(6)}s] ${formatGbps(g)} Gbit/s ${Math.round(p)} pkt/s`);
    }
    this.#lastMs = nowMs;
    this.#lastPackets = this.packets;
    this.#lastBytes = this.bytes;
  }

  /** Print the summary over `seconds`, with extra JSON fields. */
  summary(seconds: number, extra: Record<string, unknown>): void {
    const g = gbps(this.bytes, seconds);
    const p = pps(this.packets, seconds);
    if (this.json) {
      emitJson("summary", {
        role: this.role,
        bytes: this.bytes,
        packets: this.packets,
        seconds: round(seconds, 3),
        gbps: round(g, 6),
        pps: Math.round(p),
        ...extra,
      });
    } else {
      const verb = this.role === "client" ? "sent" : "received";
      emit(
        `summary: ${verb} ${this.packets} packets, ${formatBytes(this.bytes)} in ` +
          `${seconds.toFixed(2)} s, ${formatGbps(g)} Gbit/s, ${Math.round(p)} pkt/s`,
      );
    }
  }
}

/** Data-path counters of a runtime at one moment: its driver, event loop and mux. */
export interface DataPathCounters {
  /** Driver kind (`af_packet`, `af_xdp`, …). */
  driver: string;
  /** Frames queued for transmit (a GSO super-frame counts once). */
  txFrames: number;
  /** Bytes queued for transmit. */
  txBytes: number;
  /** Frames received. */
  rxFrames: number;
  /** Bytes received. */
  rxBytes: number;
  /** Frames refused on transmit. */
  txDropped: number;
  /** Frames dropped on receive. */
  rxDropped: number;
  /** Times the TX ring or queue was found full. */
  txRingFull: number;
  /** Transmit kicks. */
  txKicks: number;
  /** Kicks handed to the kicker thread (af_packet `--tx-kick thread|auto`; else 0). */
  txKickHandoffs: number;
  /** Handoffs that woke the sleeping kicker. */
  txKickWakes: number;
  /** Syscalls the driver made (receive and transmit). */
  driverSyscalls: number;
  /** Times the loop parked in poll() (each park is a poll plus an eventfd read). */
  loopParks: number;
  /** Blocking poll() slices the idle loop waited in (one syscall each). */
  loopBlocks: number;
  /** Eventfd writes that woke the parked loop. */
  loopWakes: number;
  /** Eventfd writes of the readiness mux. */
  muxSignals: number;
  /** `sched_yield` calls of the loop's busy poll (one syscall each). */
  loopSpinYields: number;
}

/** Read the data-path counters of `rt` now. */
export function dataPathCounters(rt: Runtime): DataPathCounters {
  const d = rt.nic.driver;
  return {
    driver: d.kind,
    txFrames: d.stats.txFrames,
    txBytes: d.stats.txBytes,
    rxFrames: d.stats.rxFrames,
    rxBytes: d.stats.rxBytes,
    txDropped: d.stats.txDropped,
    rxDropped: d.stats.rxDropped,
    txRingFull: d.stats.txRingFull,
    txKicks: d.stats.txKicks,
    txKickHandoffs: (d.stats as { txKickHandoffs?: number }).txKickHandoffs ?? 0,
    txKickWakes: (d.stats as { txKickWakes?: number }).txKickWakes ?? 0,
    driverSyscalls: d.stats.syscalls,
    loopParks: rt.loop.stats.parks,
    loopBlocks: rt.loop.stats.blocks,
    loopWakes: rt.loop.stats.wakes,
    muxSignals: rt.loop.stats.muxSignals,
    loopSpinYields: rt.loop.stats.spinYields,
  };
}

/**
 * Where the event loop's wall time went, as totals (ms) and counts of its ticks, turns of
 * Deno's event loop (yields), blocking poll slices and parks (`rt.loop.times`). What is left of
 * the wall time is the idle busy poll (spins between ticks).
 */
export interface LoopTimeTotals {
  /** Ticks. */
  ticks: number;
  /** Time in ticks: receive, protocol work, transmit (the TX kick included), ms. */
  tickMs: number;
  /** Turns of Deno's event loop. */
  yields: number;
  /** Time away in them (application code, timers, GC), ms. */
  yieldMs: number;
  /** Blocking poll() slices. */
  blocks: number;
  /** Time in them, ms. */
  blockMs: number;
  /** Parks in poll() on a helper thread. */
  parks: number;
  /** Time parked, ms. */
  parkMs: number;
  /** Of the turns of Deno's event loop, those the async function awaited (a promise each). */
  promiseYields: number;
  /** Ticks whose microtask turns ran from a turn's callback (no `await`). */
  inlineTurns: number;
  /** Output flushes inside those turns (`Stack.writeFlushes`). */
  writeFlushes: number;
}

/** The loop time totals of `rt` now. */
export function loopTimeTotals(rt: Runtime): LoopTimeTotals {
  const t = rt.loop.times;
  return {
    ticks: t.tickUs.count,
    tickMs: t.tickUs.sum / 1000,
    yields: t.yieldUs.count,
    yieldMs: t.yieldUs.sum / 1000,
    blocks: t.blockUs.count,
    blockMs: t.blockUs.sum / 1000,
    parks: t.parkUs.count,
    parkMs: t.parkUs.sum / 1000,
    promiseYields: rt.loop.stats.promiseYields,
    inlineTurns: rt.loop.stats.inlineTurns,
    writeFlushes: rt.stack.writeFlushes,
  };
}

/**
 * The loop time totals between two snapshots over `wallMs` of wall time, rounded, with
 * `spinMs`: the rest of the wall time (the idle busy poll between ticks).
 */
export function loopTimeDelta(
  before: LoopTimeTotals,
  after: LoopTimeTotals,
  wallMs: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  let accounted = 0;
  for (const k of Object.keys(after) as (keyof LoopTimeTotals)[]) {
    const d = after[k] - before[k];
    out[k] = k.endsWith("Ms") ? round(d, 1) : d;
    if (k.endsWith("Ms")) accounted += d;
  }
  out.spinMs = round(Math.max(0, wallMs - accounted), 1);
  return out;
}

/**
 * The counters between two snapshots, plus `syscalls` (driver syscalls, two per park — the
 * poll and the eventfd read — one per blocking poll slice, every eventfd write and every
 * `sched_yield` of the busy poll) and syscalls per frame moved in either
 * direction: the `driver` field of a summary.
 */
export function dataPathDelta(
  before: DataPathCounters,
  after: DataPathCounters,
): Record<string, number | string> {
  const out: Record<string, number | string> = { kind: after.driver };
  for (const k of Object.keys(after) as (keyof DataPathCounters)[]) {
    if (k !== "driver") out[k] = (after[k] as number) - (before[k] as number);
  }
  const frames = (out.txFrames as number) + (out.rxFrames as number);
  const syscalls = (out.driverSyscalls as number) + 2 * (out.loopParks as number) +
    (out.loopBlocks as number) + (out.loopWakes as number) + (out.muxSignals as number) +
    (out.loopSpinYields as number);
  out.syscalls = syscalls;
  out.driverSyscallsPerFrame = frames > 0 ? round((out.driverSyscalls as number) / frames, 4) : 0;
  out.syscallsPerFrame = frames > 0 ? round(syscalls / frames, 4) : 0;
  return out;
}

/**
 * A run that ends once, for the first reason given (a signal, a timer, a count, …):
 * `finished` resolves then and `stoppedBy` names the reason ("" while running).
 *
 * @example
 * ```ts
 * import { StopLatch } from "./meter.ts";
 * const latch = new StopLatch();
 * latch.stop("time");
 * latch.stop("signal"); // too late: the first reason stays
 * latch.stoppedBy; // "time"
 * ```
 */
export class StopLatch {
  /** Why the run ended ("" while it runs). */
  stoppedBy = "";
  /** Resolves when the run ends. */
  readonly finished: Promise<void>;
  #resolve: () => void = () => {};

  /** A running latch. */
  constructor() {
    this.finished = new Promise<void>((resolve) => this.#resolve = resolve);
  }

  /** End the run for `why`; later calls change nothing. */
  stop(why: string): void {
    if (this.stoppedBy !== "") return;
    this.stoppedBy = why;
    this.#resolve();
  }
}

/** Call `stop` on SIGINT/SIGTERM; `remove()` uninstalls the listeners. */
export function onStopSignal(stop: () => void): { remove(): void } {
  const handler = () => stop();
  Deno.addSignalListener("SIGINT", handler);
  Deno.addSignalListener("SIGTERM", handler);
  return {
    remove() {
      Deno.removeSignalListener("SIGINT", handler);
      Deno.removeSignalListener("SIGTERM", handler);
    },
  };
}
