/**
 * The warm-up of `bench:e2e`'s bulk rows: every sender runs `--warmup` seconds before the
 * measured ones, and a row's Gbit/s counts only the bytes after that mark over the time after
 * it. A fresh receiver (`serve --discard`, `uperf server`) still compiles its hot path for ~0.4
 * s of V8's time after its ready line (bench/README.md, `rx13b`: ~175–190 compiles, 42–46
 * deopts), and a fresh stack sender its own; a 2-s run that counts its first second pays that
 * as if it were the stack's steady rate, and a kernel pair does not.
 *
 * Where the mark comes from: the Python sender takes it itself (TCP: bytes acknowledged then,
 * written less `SIOCOUTQ`; UDP: bytes sent), `uperf` from its per-second `interval` lines (the
 * lines ending by the mark; a TCP client's lines count bytes written, so its mark is early by
 * at most its send buffer), the Python UDP sink at its first datagram past the mark.
 *
 * @module
 */

import { flatEvents } from "./proc_output.ts";

/** Bytes and seconds before the mark, and after it. */
export interface WarmSplit {
  /** Bytes counted by the mark. */
  warmBytes: number;
  /** Seconds from the run's start to the mark (0: no warm-up taken off). */
  warmSeconds: number;
  /** Bytes after the mark. */
  bytes: number;
  /** Seconds after the mark. */
  seconds: number;
  /** Gbit/s before the mark (null when there was none). */
  warmGbps: number | null;
  /** Gbit/s after the mark: the row's figure (null when no time passed). */
  gbps: number | null;
}

/** One `interval` line of `uperf` (`--json`): seconds from the meter's start, bytes in it. */
export interface IntervalLine {
  /** Start, seconds from the meter's start. */
  start: number;
  /** End, seconds from the meter's start. */
  end: number;
  /** Payload bytes in the interval. */
  bytes: number;
}

/** How far past the mark an interval may end and still count as the warm-up's (timer lateness). */
const INTERVAL_SLACK_S = 0.25;

/** Gbit/s of `bytes` over `seconds` (null when no time passed). */
export function gbitPerS(bytes: number, seconds: number): number | null {
  return seconds > 0 ? (bytes * 8) / seconds / 1e9 : null;
}

/**
 * Split a run of `totalBytes` over `totalSeconds` at a mark of `warmBytes` at `warmSeconds`
 * from its start. A mark at or past the end (a run too short for its warm-up) is no mark: the
 * whole run counts.
 */
export function splitAt(
  totalBytes: number,
  totalSeconds: number,
  warmBytes: number,
  warmSeconds: number,
): WarmSplit {
  if (!(warmSeconds > 0 && warmSeconds < totalSeconds && warmBytes <= totalBytes)) {
    return {
      warmBytes: 0,
      warmSeconds: 0,
      bytes: totalBytes,
      seconds: totalSeconds,
      warmGbps: null,
      gbps: gbitPerS(totalBytes, totalSeconds),
    };
  }
  const bytes = totalBytes - warmBytes;
  const seconds = totalSeconds - warmSeconds;
  return {
    warmBytes,
    warmSeconds,
    bytes,
    seconds,
    warmGbps: gbitPerS(warmBytes, warmSeconds),
    gbps: gbitPerS(bytes, seconds),
  };
}

/**
 * The mark in `uperf`'s interval lines: the bytes of the lines that end by `warmSeconds` (with
 * {@link INTERVAL_SLACK_S} for a late timer) and the last such line's end. None (0, 0) when
 * `warmSeconds` is 0 or no line ends by then.
 */
export function markFromIntervals(
  intervals: readonly IntervalLine[],
  warmSeconds: number,
): { warmBytes: number; warmSeconds: number } {
  let warmBytes = 0;
  let at = 0;
  if (warmSeconds <= 0) return { warmBytes, warmSeconds: at };
  for (const i of intervals) {
    if (i.end > warmSeconds + INTERVAL_SLACK_S) break;
    warmBytes += i.bytes;
    at = i.end;
  }
  return at === 0 ? { warmBytes: 0, warmSeconds: 0 } : { warmBytes, warmSeconds: at };
}

/**
 * The `interval` lines of a `uperf --json` stdout, in order ({@link flatEvents}: a V8 trace line
 * cut into one does not lose it).
 */
export function intervalLines(stdout: string): IntervalLine[] {
  const out: IntervalLine[] = [];
  for (const o of flatEvents(stdout, "interval")) {
    if (typeof o.end === "number" && typeof o.bytes === "number") {
      out.push({ start: o.start, end: o.end, bytes: o.bytes });
    }
  }
  return out;
}

/**
 * A `uperf --json` summary's bytes and seconds after the warm-up mark in its interval lines
 * (`stdout` holds both).
 */
export function uperfSplit(
  summary: { bytes: number; seconds: number },
  stdout: string,
  warmSeconds: number,
): WarmSplit {
  const m = markFromIntervals(intervalLines(stdout), warmSeconds);
  return splitAt(summary.bytes, summary.seconds, m.warmBytes, m.warmSeconds);
}
