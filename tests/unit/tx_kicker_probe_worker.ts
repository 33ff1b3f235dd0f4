/**
 * A stand-in kicker for `tx_kicker_test.ts`: runs the real kicker loop (`runKicker`) with a fake
 * kick instead of `sendto`. The start record's (`workerData`) `fd` is the fake kick's duration in µs (busy,
 * like a long `sendto`); with `probe` (a SharedArrayBuffer of two Int32 words) each kick copies
 * word 0 (what the test last published) into word 1 (what a kick has seen).
 *
 * @module
 */

import { isMainThread, workerData } from "node:worker_threads";
import { runKicker } from "../../drivers/tx_kicker_loop.ts";
import type { KickerStart } from "../../drivers/tx_kicker.ts";

/** Probe words. */
export const PROBE_PUBLISHED = 0;
/** Probe words. */
export const PROBE_SEEN = 1;

type ProbeStart = KickerStart & { probe?: SharedArrayBuffer };

if (!isMainThread && workerData !== null && typeof workerData === "object") {
  const start = workerData as ProbeStart;
  const busyMs = start.fd / 1000;
  const probe = start.probe === undefined ? null : new Int32Array(start.probe);
  runKicker(new Int32Array(start.words), () => {
    if (probe !== null) {
      Atomics.store(probe, PROBE_SEEN, Atomics.load(probe, PROBE_PUBLISHED));
    }
    const until = performance.now() + busyMs;
    while (performance.now() < until) { /* a long sendto */ }
    return 0;
  });
}
