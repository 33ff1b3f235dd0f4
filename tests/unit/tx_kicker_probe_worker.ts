/**
 * A stand-in kicker for `tx_kicker_test.ts`: runs the real kicker loop (`runKicker`) with a fake
 * kick instead of `sendto`. The start message's `fd` is the fake kick's duration in µs (busy,
 * like a long `sendto`); with `probe` (a SharedArrayBuffer of two Int32 words) each kick copies
 * word 0 (what the test last published) into word 1 (what a kick has seen).
 *
 * @module
 */

import { runKicker } from "../../drivers/tx_kicker_loop.ts";
import type { KickerStart } from "../../drivers/tx_kicker.ts";

/** Probe words. */
export const PROBE_PUBLISHED = 0;
/** Probe words. */
export const PROBE_SEEN = 1;

interface Scope {
  postMessage?: unknown;
  onmessage: ((e: MessageEvent<KickerStart & { probe?: SharedArrayBuffer }>) => void) | null;
  close(): void;
}
const scope = globalThis as unknown as Scope;

if (typeof scope.postMessage === "function") {
  scope.onmessage = (e) => {
    scope.onmessage = null;
    const busyMs = e.data.fd / 1000;
    const probe = e.data.probe === undefined ? null : new Int32Array(e.data.probe);
    runKicker(new Int32Array(e.data.words), () => {
      if (probe !== null) {
        Atomics.store(probe, PROBE_SEEN, Atomics.load(probe, PROBE_PUBLISHED));
      }
      const until = performance.now() + busyMs;
      while (performance.now() < until) { /* a long sendto */ }
      return 0;
    });
    scope.close();
  };
}
