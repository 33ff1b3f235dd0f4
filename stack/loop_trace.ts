/**
 * A fixed-memory record of what the event loop did and when: ticks, busy-poll spins, turns of
 * Deno's event loop, microtask waits, blocking poll slices, parks, inline ticks, and for each
 * received batch the kernel's receive time of its first frame next to the moment the stack
 * picked it up. Attached to an {@link EventLoop} (`loop.trace = new LoopTrace(n)`) it lets a
 * request/response benchmark say, for each slow round trip, where each side was when the
 * frame arrived — the question "a park in poll, a delayed ACK, a yield, GC?" answered by
 * measurement (`bench/rr_trace.ts`).
 *
 * Records are four numbers in one `Float64Array` ring (the oldest are overwritten once it is
 * full): a kind, a start and an end time in `performance.now()` milliseconds of this process,
 * and one number whose meaning depends on the kind. Recording allocates nothing.
 *
 * @module
 */

import { RecordRing } from "../core/record_ring.ts";
import { realtimeOriginMs } from "../ffi/realtime_origin.ts";

/** A tick of the loop: `aux` = frames received. */
export const TRACE_TICK = 1;
/** The synchronous busy poll: `aux` = polls made. */
export const TRACE_SPIN = 2;
/** A turn of Deno's event loop (`DenoTurn`, `stack/deno_turn.ts`). */
export const TRACE_YIELD = 3;
/** Microtask turns given to the application after a delivery: `aux` = turns. */
export const TRACE_MICROTASKS = 4;
/** A blocking `poll()` slice: `aux` = its return value. */
export const TRACE_BLOCK = 5;
/** A park in an asynchronous `poll()` (or a JS timer). */
export const TRACE_PARK = 6;
/** A tick run from an API call while the loop was parked: `aux` = frames sent. */
export const TRACE_INLINE = 7;
/**
 * A received batch: `start` = the kernel's receive time of its first frame (converted to this
 * process's `performance.now()` base; NaN when the driver does not know it), `end` = when the
 * receive that found it began (the frame waited `end - start` for the stack), `aux` = frames.
 */
export const TRACE_RX = 8;
/** Frames handed to the driver by a tick's transmit: `start` = `end` = after it, `aux` = frames. */
export const TRACE_TX = 9;
/**
 * A tick's transmit half — output produced, every driver flushed (the TX kick: with AF_PACKET
 * the kernel's transmit path and a local peer's receive) — from its start to its end; `aux` =
 * frames handed to the drivers.
 */
export const TRACE_TRANSMIT = 10;
/**
 * The drivers' flush inside a tick's transmit half (traced loops only): `start` = the output
 * produced, `end` = every driver flushed — the TX kick on this thread (with AF_PACKET the
 * kernel's transmit path and a local peer's receive), or its hand-off to a kicker thread;
 * `aux` = kicks handed to a kicker thread during it (0: any kick ran on this thread).
 */
export const TRACE_FLUSH = 11;

/** Names of the kinds, for dumps. */
export const TRACE_KIND_NAMES: readonly string[] = [
  "",
  "tick",
  "spin",
  "yield",
  "microtasks",
  "block",
  "park",
  "inline",
  "rx",
  "tx",
  "transmit",
  "flush",
];

/** Numbers per record. */
const FIELDS = 4;

/**
 * The ring of loop records.
 *
 * @example
 * ```ts
 * import { LoopTrace, TRACE_TICK } from "./loop_trace.ts";
 * const t = new LoopTrace(1024);
 * t.record(TRACE_TICK, 1.0, 1.01, 2);
 * t.length; // 1
 * ```
 */
export class LoopTrace extends RecordRing {
  /**
   * The wall-clock time (epoch ms, `CLOCK_REALTIME`) of `performance.now()`'s zero: the kernel's
   * frame stamps are put on this process's time line with it ({@link TRACE_RX}), and a reader
   * adds it to every time to put two processes' records on one line. Measured to ~0.1 µs
   * (`ffi/realtime_origin.ts`) where FFI is allowed, else `performance.timeOrigin` (0.5–6 µs
   * early: enough to misplace a round trip of ~100 µs, bench/README.md, flake13l).
   */
  readonly timeOrigin: number;

  /**
   * A ring of `capacity` records (32 bytes each); `timeOrigin` as measured here unless given.
   *
   * @throws {RangeError} if `capacity` is not a whole number ≥ 1.
   */
  constructor(capacity: number, timeOrigin: number = traceTimeOrigin()) {
    super("LoopTrace", capacity, FIELDS);
    this.timeOrigin = timeOrigin;
  }

  /** Add a record (overwrites the oldest once full). */
  record(kind: number, startMs: number, endMs: number, aux: number): void {
    const i = this.slot();
    const d = this.data;
    d[i] = kind;
    d[i + 1] = startMs;
    d[i + 2] = endMs;
    d[i + 3] = aux;
  }

  /**
   * A JSON-ready dump: {@link LoopTrace.timeOrigin} (epoch ms, so two processes'
   * records can be put on one time line), the kind names and the records flattened.
   */
  toJSON(): { timeOrigin: number; kinds: readonly string[]; dropped: number; records: number[] } {
    return {
      timeOrigin: this.timeOrigin,
      kinds: TRACE_KIND_NAMES,
      dropped: this.recorded - this.length,
      records: Array.from(this.snapshot()),
    };
  }
}

/** The measured wall-clock origin where FFI is allowed (asked, never prompted), else Deno's. */
function traceTimeOrigin(): number {
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state === "granted") return realtimeOriginMs();
  } catch {
    // No FFI (or no libc): Deno's estimate.
  }
  return performance.timeOrigin;
}
