/**
 * The contract between a stack per core's parent (`stack/workers.ts`) and its workers
 * (`stack/worker_main.ts`): the messages they exchange, and what an application module run in
 * every worker exports.
 *
 * @module
 */

import type { Counters } from "../core/counters.ts";
import type { SocketEntry } from "./control.ts";
import type { NeighbourBatch } from "./neighbour_share.ts";
import type { Runtime, RuntimeConfig } from "./runtime.ts";

/** What a worker's application is told about its place. */
export interface WorkerContext {
  /** This worker's number, 0..count-1. */
  index: number;
  /** Workers in the group. */
  count: number;
  /** `RuntimeConfig.workerData`, structured-cloned. */
  data: unknown;
}

/** What a worker's application hands back: its counters and how to stop it. */
export interface WorkerApp {
  /** Counter groups of the application (summed over the workers for `stats`). */
  counters?(): Record<string, Counters>;
  /** Stop serving (close listeners and connections); the runtime stops afterwards. */
  close?(): void | Promise<void>;
}

/**
 * The default export of a worker module (`RuntimeConfig.workerModule`): called once in every
 * worker with that worker's runtime, before its flows are steered to it — the place to listen.
 *
 * @example
 * ```ts ignore
 * // app.ts
 * export default function (rt: Runtime): WorkerApp {
 *   const server = rt.serve({ port: 80 }, () => new Response("hello\n"));
 *   return { close: () => server.shutdown() };
 * }
 * ```
 */
export type WorkerMain = (
  rt: Runtime,
  ctx: WorkerContext,
) => WorkerApp | void | Promise<WorkerApp | void>;

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
  | { t: "neighbours"; batch: NeighbourBatch; primary: boolean }
  | { t: "counters"; id: number }
  | { t: "sockets"; id: number }
  | { t: "stop" };

/** Worker → parent. */
export type FromWorker =
  | { t: "ready"; mac: string; ifname: string }
  | { t: "failed"; message: string }
  | { t: "addresses"; addrs: string[] }
  | { t: "neighbours"; batch: NeighbourBatch }
  | { t: "counters"; id: number; counters: WorkerCounters }
  | { t: "sockets"; id: number; sockets: SocketEntry[] }
  | { t: "stopped"; counters: WorkerCounters };
