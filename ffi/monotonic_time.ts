/**
 * The monotonic time read with `clock_gettime(CLOCK_MONOTONIC)` (the vDSO: no syscall), on
 * `performance.now()`'s base, written into a caller's `Float64Array` cell rather than returned.
 *
 * Why not `performance.now()`: it returns a double, and where V8 does not inline it into its
 * caller (a large function such as the event loop's spin or transmit half, its inlining budget
 * spent) the double leaves the call as a new 16-byte heap number — on every read, each busy-poll
 * spin and each tick (bench/README.md, "heap13m"). Here the call returns an integer, the seconds
 * and nanoseconds are read from a typed array, and the sum is stored in the caller's cell: no
 * double crosses a call. It is also cheaper: ~37 ns against ~90 ns per read (Deno 2.9.6).
 *
 * @module
 */

import { clockOffsetMs } from "./clock_offset.ts";
import { libc } from "./libc.ts";

/** `CLOCK_MONOTONIC` (Linux's `clockid_t`): what `performance.now()` reads too. */
export const CLOCK_MONOTONIC = 1;

/**
 * Brackets of this clock's reads around `performance.now()` made to place it on that base; the
 * closest of all of them wins (`ffi/clock_offset.ts`): ~10 µs, once per clock.
 */
const BASE_BRACKETS = 50;

/**
 * A reader of `CLOCK_MONOTONIC` in milliseconds on `performance.now()`'s base (a `MonotonicSource`
 * for `core/clock.ts`'s `MonotonicClock`).
 *
 * @example
 * ```ts ignore
 * const time = new LibcMonotonicTime();
 * const cell = new Float64Array(1);
 * time.readMs(cell); // cell[0] ≈ performance.now()
 * ```
 */
export class LibcMonotonicTime {
  /** `struct timespec`: `tv_sec` (i64) and `tv_nsec` (long), read as 32-bit words. */
  readonly #ts = new Uint8Array(16);
  readonly #words = new Int32Array(this.#ts.buffer);
  readonly #gettime = libc().clock_gettime;
  /** The seconds at construction: the sum below stays small. */
  readonly #sec0: number;
  /** `performance.now()` minus this clock's milliseconds since `#sec0`. */
  readonly #baseMs: number;

  /** Open the clock (libc, needs `--allow-ffi`) and put it on `performance.now()`'s base. */
  constructor() {
    if (this.#gettime(CLOCK_MONOTONIC, this.#ts) !== 0) {
      throw new Error("clock_gettime(CLOCK_MONOTONIC) failed");
    }
    this.#sec0 = this.#words[0];
    this.#baseMs = clockOffsetMs(BASE_BRACKETS, () => this.#sinceSec0(), () => performance.now());
  }

  /** Milliseconds since `#sec0` (set-up only: returns a double). */
  #sinceSec0(): number {
    this.#gettime(CLOCK_MONOTONIC, this.#ts);
    const w = this.#words;
    return (w[0] - this.#sec0) * 1000 + w[2] / 1e6;
  }

  /** Write the time (ms, `performance.now()`'s base) into `out[0]`. */
  readMs(out: Float64Array): void {
    this.#gettime(CLOCK_MONOTONIC, this.#ts);
    const w = this.#words;
    out[0] = (w[0] - this.#sec0) * 1000 + w[2] / 1e6 + this.#baseMs;
  }
}
