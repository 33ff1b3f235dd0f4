/**
 * The kicker thread's main module: a Deno Worker started by `drivers/tx_kicker.ts`. It waits for
 * its one start message (the shared words and the socket), then runs
 * {@link runKicker} with `sendto(fd, NULL, 0, MSG_DONTWAIT)` as the kick — on its own `dlopen`
 * of libc (this isolate imports `ffi/` afresh) — and closes itself when the loop ends.
 *
 * @module
 */

import { MSG_DONTWAIT } from "../ffi/constants.ts";
import { sendto } from "../ffi/syscalls.ts";
import type { KickerStart } from "./tx_kicker.ts";
import { runKicker } from "./tx_kicker_loop.ts";

/** The zero-length buffer of the kick. */
const EMPTY = new Uint8Array(0);

/** The worker side of `onmessage`/`close` (the global scope of a worker). */
interface KickerScope {
  postMessage?: unknown;
  onmessage: ((e: MessageEvent<KickerStart>) => void) | null;
  close(): void;
}
const scope = globalThis as unknown as KickerScope;

if (typeof scope.postMessage === "function") {
  scope.onmessage = (e: MessageEvent<KickerStart>) => {
    scope.onmessage = null;
    const fd = e.data.fd;
    runKicker(new Int32Array(e.data.words), () => sendto(fd, EMPTY, 0, MSG_DONTWAIT, null));
    scope.close();
  };
}
