/**
 * The messages between a stack per core's parent (`stack/workers.ts`) and its workers
 * (`stack/worker_main.ts`). What the application module of a worker exports is in
 * `stack/worker_app.ts`.
 *
 * @module
 */

import type { Counters } from "../core/counters.ts";
import type { HistogramState } from "../core/histogram.ts";
import type { SocketEntry } from "./control.ts";
import type { NeighbourBatch } from "./neighbour_share.ts";
import type { RuntimeConfig } from "./runtime_config.ts";

/** One worker's counters: its stack's, its driver's, its application's. */
export interface WorkerCounters {
  /** `StackStats.snapshot()`. */
  stack: Record<string, Counters>;
  /** The driver's counters. */
  driver: Counters;
  /** The application's counter groups. */
  app: Record<string, Counters>;
}

/** Parent → worker. */
export type ToWorker =
  | {
    t: "start";
    index: number;
    count: number;
    fanoutGroup: number;
    config: RuntimeConfig;
    module: string;
    data: unknown;
  }
  | { t: "run" }
  | { t: "neighbours"; batch: NeighbourBatch; primary: boolean }
  | { t: "counters"; id: number }
  | { t: "sockets"; id: number }
  | { t: "rtt"; id: number; reset: boolean }
  | { t: "stop" };

/** Worker → parent. */
export type FromWorker =
  | { t: "joined" }
  | { t: "ready"; mac: string; ifname: string }
  | { t: "failed"; message: string }
  | { t: "addresses"; addrs: string[] }
  | { t: "neighbours"; batch: NeighbourBatch }
  | { t: "counters"; id: number; counters: WorkerCounters }
  | { t: "sockets"; id: number; sockets: SocketEntry[] }
  | { t: "rtt"; id: number; state: HistogramState }
  | { t: "stopped"; counters: WorkerCounters };
