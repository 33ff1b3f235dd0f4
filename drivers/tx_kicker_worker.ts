/**
 * The kicker thread's main module: a `node:worker_threads` worker started by
 * `drivers/tx_kicker.ts` with its start record (the shared words and the socket) as
 * `workerData`. It runs
 * {@link runKicker} with `sendto(fd, NULL, 0, MSG_DONTWAIT)` as the kick — on its own `dlopen`
 * of libc (this isolate imports `ffi/` afresh) — and ends when the loop does.
 *
 * @module
 */

import { isMainThread, workerData } from "node:worker_threads";
import { MSG_DONTWAIT } from "../ffi/constants.ts";
import { sendto } from "../ffi/syscalls.ts";
import type { KickerStart } from "./tx_kicker.ts";
import { runKicker } from "./tx_kicker_loop.ts";

/** The zero-length buffer of the kick. */
const EMPTY = new Uint8Array(0);

// Started by TxKicker with its start record as `workerData`; imported elsewhere, it does nothing.
if (!isMainThread && workerData !== null && typeof workerData === "object") {
  const start = workerData as KickerStart;
  const fd = start.fd;
  runKicker(new Int32Array(start.words), () => sendto(fd, EMPTY, 0, MSG_DONTWAIT, null));
}
