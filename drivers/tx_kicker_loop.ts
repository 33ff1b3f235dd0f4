/**
 * The kicker thread's loop (run by `drivers/tx_kicker_worker.ts`; the protocol is described in
 * `drivers/tx_kicker.ts`): take a kick request from a shared word, kick, and loop — re-reading
 * the word before sleeping again, so a request made during a kick is served by the next pass.
 * Apart from the kick itself it allocates nothing and makes no call.
 *
 * @module
 */

import { EAGAIN, ENOBUFS } from "../ffi/errno.ts";
import {
  KICK_AWAKE,
  KICK_COUNT,
  KICK_ERRNO,
  KICK_ERRORS,
  KICK_REQUEST,
  KICK_SLEEPS,
  KICK_SPIN_US,
  KICK_STATE,
  KICK_STOP,
  KICKER_RUNNING,
  KICKER_STARTING,
  KICKER_STOPPED,
} from "./tx_kicker.ts";

/** Re-read the clock once per this many spins. */
const SPINS_PER_CLOCK_READ = 64;

/**
 * Serve kick requests on the shared words `w` until STOP: `kick()` returns what `sendto`
 * returned (`-errno` on failure). Returns once the last kick returned, with STATE = STOPPED;
 * returns at once if the kicker was cancelled before it started. Blocks its thread: run it in
 * a worker.
 *
 * @example
 * ```ts
 * runKicker(new Int32Array(start.words), () => sendto(start.fd, EMPTY, 0, MSG_DONTWAIT, null));
 * ```
 */
export function runKicker(w: Int32Array, kick: () => number): void {
  if (
    Atomics.compareExchange(w, KICK_STATE, KICKER_STARTING, KICKER_RUNNING) !== KICKER_STARTING
  ) {
    return; // cancelled before it started
  }
  Atomics.notify(w, KICK_STATE);
  const spinMs = Atomics.load(w, KICK_SPIN_US) / 1000;
  for (;;) {
    if (Atomics.exchange(w, KICK_REQUEST, 0) !== 0) {
      if (Atomics.load(w, KICK_STOP) !== 0) break;
      const r = kick();
      Atomics.add(w, KICK_COUNT, 1);
      if (r < 0 && r !== -EAGAIN && r !== -ENOBUFS) {
        Atomics.store(w, KICK_ERRNO, -r);
        Atomics.add(w, KICK_ERRORS, 1);
      }
      continue;
    }
    if (Atomics.load(w, KICK_STOP) !== 0) break;
    if (spinMs > 0 && spin(w, spinMs)) continue;
    // Dekker with the stack's request: clear AWAKE, then read REQUEST (both seq-cst).
    Atomics.store(w, KICK_AWAKE, 0);
    if (Atomics.load(w, KICK_REQUEST) === 0) {
      Atomics.add(w, KICK_SLEEPS, 1);
      Atomics.wait(w, KICK_REQUEST, 0);
    }
    Atomics.store(w, KICK_AWAKE, 1);
  }
  Atomics.store(w, KICK_STATE, KICKER_STOPPED);
  Atomics.notify(w, KICK_STATE);
}

/** Re-read REQUEST for up to `ms`; true when a request (or STOP) came. */
function spin(w: Int32Array, ms: number): boolean {
  const until = performance.now() + ms;
  for (;;) {
    for (let i = 0; i < SPINS_PER_CLOCK_READ; i++) {
      if (Atomics.load(w, KICK_REQUEST) !== 0) return true;
    }
    if (Atomics.load(w, KICK_STOP) !== 0) return true;
    if (performance.now() >= until) return false;
  }
}
