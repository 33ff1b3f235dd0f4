/**
 * Doing early, without a thread, what the process's first `node:worker_threads` Worker start
 * does to V8's view of this isolate — so that a worker started later (the af_packet TX kicker,
 * `drivers/tx_kicker.ts`, started by the first bulk batch) does not throw away the hot path's
 * optimised code.
 *
 * The first Worker's constructor sends its start record through Deno's message serialiser
 * (`postMessage`'s path) and sets up Node's message-port machinery. The first of each, once per
 * process, changes objects V8's optimised code depends on: code that touched `Uint8Array`
 * methods or getters (`subarray`, `set`, `buffer`, …) or `Promise.prototype.then` is marked
 * "dependent prototype chain changed" and dropped, 40–60 functions of the receive and send path
 * in a bulk sender (`bench/README.md`, branch `kick11k`). Later Workers drop nothing. A Node
 * `MessageChannel` that carries one message of the start record's shape and is closed at once
 * does the same once-per-process part, in a few milliseconds and without a thread: done before
 * the hot code exists (a {@link import("../stack/runtime.ts").Runtime}'s start, an af_packet
 * ring driver's open), the Worker's start later drops nothing.
 *
 * @module
 */

import { MessageChannel as NodeMessageChannel } from "node:worker_threads";

let primed = false;

/**
 * Once per process: pass one message shaped like a worker's start record (a SharedArrayBuffer,
 * numbers, a Map, undefined, a boolean) through a Node `MessageChannel` and close both ports.
 * Returns true when this call did it, false when an earlier one had (or it failed: a failure
 * is not retried — nothing depends on it but a later Worker start's cost).
 *
 * @example
 * ```ts
 * import { primeNodeWorkerStart } from "./node_worker_prime.ts";
 * primeNodeWorkerStart(); // before the hot code; a kicker Worker started later drops nothing
 * ```
 */
export function primeNodeWorkerStart(): boolean {
  if (primed) return false;
  primed = true;
  try {
    const { port1, port2 } = new NodeMessageChannel();
    port1.postMessage({
      workerData: { words: new SharedArrayBuffer(4), fd: -1 },
      environmentData: new Map(),
      env: undefined,
      isWorkerThread: true,
    });
    port1.close();
    port2.close();
    return true;
  } catch {
    return false;
  }
}

/** True once {@link primeNodeWorkerStart} ran in this process (for tests). */
export function nodeWorkerStartPrimed(): boolean {
  return primed;
}
