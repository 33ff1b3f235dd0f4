/**
 * The request/response client's warm-up: round trips on one connection between two private
 * stacks (`cli/warm_up.ts`'s `runPingpongWarmUp`), so that V8 has compiled a fresh
 * client's data path — the loop's receive half and spin, TCP input and output on an
 * established connection, the driver's rings, the client's own steps — before its first real
 * round trip.
 *
 * Why: without it a fresh `pingpong` client met its slowest round trips in its first ~1.2 s
 * (bench/README.md, `tail13a`: 87 % of a 3-s run's slowest 1 % fell there, the rest of the run
 * had a p99 below the kernel pair's): V8's TurboFan jobs ran on its worker threads then, and
 * the loop's busy poll handed them its CPU at each `sched_yield`.
 *
 * @module
 */

import type { Runtime } from "../mod.ts";
import type { WarmUpCrowd } from "../stack/conn_warm_up.ts";
import type { WarmUpConfig } from "./warm_up.ts";
import {
  type NonBlockingConn,
  type RoundTripStep,
  stepRoundTrip,
  WAIT_WRITABLE,
} from "./pingpong_step.ts";

/**
 * Round trips of the warm-up's main part: V8 gave
 * TurboFan code to a fresh client's per-round-trip functions over its first ~20,000–30,000
 * round trips on the wire; after a warm-up of 10,000, 69 of them were still compiled for the
 * first time in the real run (bench/README.md, `tail13a`). Then `runPingpongWarmUp`'s tail.
 */
export const RR_WARM_UP_ROUND_TRIPS = 40_000;

/** Longest the warm-up's main part may make round trips (ms). */
export const RR_WARM_UP_MS = 2_500;

/**
 * Round trips of the warm-up's tail (on a new pair of stacks, after the main part), in place
 * of `runPingpongWarmUp`'s 300. The main part's connection closing, and the tail's new pair
 * (objects of new maps), throw away the TurboFan code of ~30 per-round-trip functions (V8's
 * "insufficient type feedback" at the close's branches, "wrong map", dependent code of a
 * changed field type); with a tail of 300 round trips (~10 ms) V8 had compiled them again
 * only by Maglev at the `warm_up` line, and a fresh client compiled 40–80 functions by
 * TurboFan (75–260 ms of compile work) in the first second of its real round trips, when its
 * slowest 1 % fell (bench/README.md, `p99e35`). With 20,000 (5,000 were not enough) ~20.
 */
export const RR_WARM_UP_TAIL_ROUND_TRIPS = 20_000;

/** Longest the warm-up's tail may make round trips (ms). */
export const RR_WARM_UP_TAIL_MS = 600;

/**
 * `config` for the round-trip warm-up: unless `--prewarm-wire` chose, the whole warm-up on
 * the af_packet driver's rings in memory where that applies (the real driver's receive walker,
 * TX ring and kick are per-round-trip code here, not per-connection code run a few hundred
 * times), else the simulated wire ({@link warmUpLink}).
 */
export function rrWarmUpConfig(config: WarmUpConfig): WarmUpConfig {
  return config.warmUpWire === undefined ? { ...config, warmUpWire: "af_packet" } : config;
}

/**
 * A {@link WarmUpCrowd} whose unit is a round trip, not a connection: `run` opens one
 * connection and makes `len`-byte round trips on it with the real client's steps
 * ({@link stepRoundTrip}, one wait per step) until `upTo` have been made, `endMs` has passed
 * or {@link RrWarmUpCrowd.stop}; then closes it. `done` counts the round trips made, `started`
 * those begun, so a round trip cut short counts as failed.
 */
export class RrWarmUpCrowd implements WarmUpCrowd {
  readonly #rt: Runtime;
  readonly #host: string;
  readonly #port: number;
  readonly #msg: Uint8Array;
  readonly #reply: Uint8Array;
  #done = 0;
  #started = 0;
  #stopped = false;

  /** A crowd of the client stack `rt` against the warm-up server at `host`:`port`. */
  constructor(rt: Runtime, host: string, port: number, len: number) {
    this.#rt = rt;
    this.#host = host;
    this.#port = port;
    this.#msg = new Uint8Array(len);
    this.#reply = new Uint8Array(len);
  }

  /** Round trips made so far. */
  get done(): number {
    return this.#done;
  }

  /** Round trips begun so far. */
  get started(): number {
    return this.#started;
  }

  /** Make no more round trips. */
  stop(): void {
    this.#stopped = true;
  }

  /** One connection, round trips until `upTo`, `endMs` or {@link stop} (`conc` is not used). */
  async run(upTo: number, _conc: number, endMs: number): Promise<void> {
    let conn: NonBlockingConn | null = null;
    try {
      conn = await this.#rt.connect({ hostname: this.#host, port: this.#port }) as NonBlockingConn;
      conn.setNoDelay(true);
      const step: RoundTripStep = { sent: 0, got: 0 };
      while (!this.#stopped && this.#started < upTo && performance.now() < endMs) {
        this.#started++;
        step.sent = 0;
        step.got = 0;
        for (let wait = stepRoundTrip(conn, this.#msg, this.#reply, step); wait !== 0;) {
          await (wait === WAIT_WRITABLE ? conn.waitWritable() : conn.waitReadable());
          wait = stepRoundTrip(conn, this.#msg, this.#reply, step);
        }
        this.#done++;
      }
    } catch {
      // A warm-up that fails is counted (started − done), never thrown.
    } finally {
      conn?.close();
    }
  }
}
