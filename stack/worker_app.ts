/**
 * What the application module of a stack per core exports (`RuntimeWorkersConfig.workerModule`):
 * a function run once in every worker with that worker's {@link Runtime}, and what it hands back.
 *
 * @module
 */

import type { Counters } from "../core/counters.ts";
import type { Runtime } from "./runtime.ts";

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
 * The default export of a worker module (`RuntimeWorkersConfig.workerModule`): called once in
 * every worker with that worker's runtime, right after the steering started to send the worker
 * its flows (so the answers to connections it opens here find it) — the place to listen; until
 * it does, a connection the hash gives this worker is refused. `Runtime.start` resolves once
 * every worker's module returned.
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
