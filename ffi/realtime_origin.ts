/**
 * Where `performance.now()`'s zero lies on the wall clock (`CLOCK_REALTIME`, epoch
 * milliseconds), measured here by bracketing `performance.now()` between two reads of libc's
 * `clock_gettime` (`ffi/clock_offset.ts`): to ~0.1 µs. The kernel stamps a received frame with
 * that wall clock (AF_PACKET's `tp_sec`/`tp_nsec`), so a trace that puts those stamps and its
 * own `performance.now()` times on one line needs the two clocks' offset exactly.
 * `performance.timeOrigin` is Deno's estimate of the same point, from one wall-clock read and
 * one monotonic read taken one after the other: 0.5–1.5 µs early in most processes, 5.6 µs in
 * one of sixty beside CPU load (bench/README.md, flake13l).
 *
 * @module
 */

import { clockOffsetMs } from "./clock_offset.ts";
import { libc } from "./libc.ts";

/** `CLOCK_REALTIME` (Linux's `clockid_t`): the wall clock the kernel's frame stamps use. */
export const CLOCK_REALTIME = 0;

/** Brackets read; the closest wins. */
const ORIGIN_BRACKETS = 50;

/**
 * The wall-clock time (epoch ms, `CLOCK_REALTIME`) at which `performance.now()` reads 0, so
 * that `realtimeOriginMs() + performance.now()` is the wall-clock time now. Needs
 * `--allow-ffi`; set-up only (~10 µs).
 *
 * @example
 * ```ts ignore
 * const origin = realtimeOriginMs();
 * Math.abs(origin - performance.timeOrigin) < 0.1; // true: within 100 µs of Deno's estimate
 * ```
 */
export function realtimeOriginMs(): number {
  const gettime = libc().clock_gettime;
  const ts = new Uint8Array(16);
  const words = new Int32Array(ts.buffer);
  if (gettime(CLOCK_REALTIME, ts) !== 0) throw new Error("clock_gettime(CLOCK_REALTIME) failed");
  // Seconds from a fixed second on: the offset is computed on small numbers, the epoch added
  // at the end.
  const sec0 = words[0];
  const read = () => {
    gettime(CLOCK_REALTIME, ts);
    return (words[0] - sec0) * 1000 + words[2] / 1e6;
  };
  return sec0 * 1000 - clockOffsetMs(ORIGIN_BRACKETS, read, () => performance.now());
}
