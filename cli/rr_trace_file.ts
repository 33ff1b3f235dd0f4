/**
 * The files of `pingpong --trace BASE`: `BASE.json` (what the side is, its
 * wall-clock origin so two processes' times can be put on one line, and counts),
 * `BASE.rt.f64` (the client's start and end of every round trip, `performance.now()` ms, as
 * little-endian float64 pairs) and `BASE.loop.f64` (the event loop's {@link LoopTrace}
 * records, four float64 each). Read by `bench/rr_trace.ts`.
 *
 * @module
 */

import { type LoopTrace, TRACE_KIND_NAMES } from "../mod.ts";

/** Round trips the client keeps the times of (16 bytes each). */
export const TRACE_ROUND_TRIPS = 1 << 20;
/** Event-loop records kept per side (32 bytes each; the oldest go first). */
export const TRACE_RECORDS = 1 << 21;

/** What `BASE.json` holds. */
export interface TraceHeader {
  /** `client` or `server`. */
  role: string;
  /**
   * The wall-clock time (epoch ms) of the process's `performance.now()` zero: the loop trace's
   * measured {@link LoopTrace.timeOrigin}, else `performance.timeOrigin`.
   */
  timeOrigin: number;
  /** Round trips in `BASE.rt.f64` (0 for the server). */
  roundTrips: number;
  /** Loop records in `BASE.loop.f64` (0 without a loop). */
  records: number;
  /**
   * The loop records' clock minus `performance.now()` (ms), measured when the trace was
   * written (`EventLoop.clockOffsetMs`): a reader subtracts it from the loop's times (not
   * from an RX record's stamp, already on `performance.now()`'s line).
   */
  clockOffset: number;
  /** Loop records overwritten because the ring was full. */
  dropped: number;
  /** Names of the record kinds, by number. */
  kinds: readonly string[];
}

/**
 * Write the trace files of one side under `base`; `clockOffsetMs` is the loop's
 * `EventLoop.clockOffsetMs()` (0 without a loop).
 */
export async function writeTrace(
  base: string,
  role: string,
  roundTrips: Float64Array,
  trace: LoopTrace | null,
  clockOffsetMs = 0,
): Promise<void> {
  const records = trace === null ? new Float64Array(0) : trace.snapshot();
  const header: TraceHeader = {
    role,
    timeOrigin: trace === null ? performance.timeOrigin : trace.timeOrigin,
    roundTrips: roundTrips.length / 2,
    records: records.length / 4,
    clockOffset: clockOffsetMs,
    dropped: trace === null ? 0 : trace.recorded - trace.length,
    kinds: TRACE_KIND_NAMES,
  };
  await Deno.writeTextFile(`${base}.json`, JSON.stringify(header) + "\n");
  await Deno.writeFile(`${base}.rt.f64`, bytesOf(roundTrips));
  await Deno.writeFile(`${base}.loop.f64`, bytesOf(records));
}

/** The bytes of a float64 array (the platform's little-endian layout). */
function bytesOf(a: Float64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
