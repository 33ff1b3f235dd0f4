/**
 * Helpers for the tests of the event loop's microtask turns: a sender that writes from turns
 * of Deno's event loop (never as a reaction to readiness), and the turns a trace recorded.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import type { TcpConn } from "../../mod.ts";
import { type LoopTrace, TRACE_MICROTASKS } from "../../stack/loop_trace.ts";

/**
 * Write `chunk` to `conn` once per turn of Deno's event loop (a `setImmediate` chain), so the
 * receiver's ticks are woken by data, never by the sender reacting to them. Returns the stop.
 */
export function writeEveryTurn(conn: TcpConn, chunk: Uint8Array): () => void {
  let stopped = false;
  const send = (): void => {
    if (stopped) return;
    conn.writeFrom(chunk, 0, chunk.length);
    setImmediate(send);
  };
  send();
  return () => {
    stopped = true;
  };
}

/** The ticks that gave microtask turns in a trace, the most turns one gave, and the mean. */
export interface MicrotaskTurns {
  /** Ticks with a microtask-turns record (they delivered readiness). */
  ticks: number;
  /** The most turns one tick gave. */
  maxTurns: number;
  /** Turns per such tick. */
  meanTurns: number;
}

/** Count the microtask-turns records of `trace` (records of 4 numbers: kind, from, to, n). */
export function microtaskTurns(trace: LoopTrace): MicrotaskTurns {
  const rec = trace.snapshot();
  let ticks = 0;
  let maxTurns = 0;
  let sumTurns = 0;
  for (let i = 0; i < rec.length; i += 4) {
    if (rec[i] !== TRACE_MICROTASKS) continue;
    ticks++;
    sumTurns += rec[i + 3];
    if (rec[i + 3] > maxTurns) maxTurns = rec[i + 3];
  }
  return { ticks, maxTurns, meanTurns: ticks === 0 ? 0 : sumTurns / ticks };
}

/** Bytes counted as a reader gets them, and a wait for the count to grow by a given amount. */
export interface ByteTarget {
  /** Count `n` bytes (a `consume` callback, or after each `read`); ends a reached wait. */
  count(n: number): void;
  /** Resolves once `bytes` more than counted so far have been counted; one wait at a time. */
  until(bytes: number): Promise<void>;
}

/**
 * A {@link ByteTarget}. The total lives in a `Float64Array`, so counting boxes no number and
 * allocates nothing: a test that measures the loop's allocation may count inside its window.
 */
export function byteTarget(): ByteTarget {
  const got = new Float64Array(1);
  let reached: (() => void) | null = null;
  let target = 0;
  return {
    count: (n: number): void => {
      got[0] += n;
      if (reached !== null && got[0] >= target) {
        reached();
        reached = null;
      }
    },
    until: (bytes: number): Promise<void> => {
      target = got[0] + bytes;
      return new Promise((r) => reached = r);
    },
  };
}
