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

import { libc } from "./libc.ts";

/** `CLOCK_MONOTONIC` (Linux's `clockid_t`): what `performance.now()` reads too. */
export const CLOCK_MONOTONIC = 1;

/** Reads of both clocks made to place this clock on `performance.now()`'s base, at most. */
const BASE_READS = 50;
/** A read pair this close (ms) places the base well enough: no more reads. */
const BASE_CLOSE_MS = 0.02;

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
    // The base from the read pair closest together in time: performance.now() between two
    // reads of this clock, the pair's midpoint against it; until a pair within 20 µs (a
    // preempted pair would place the base up to half its gap off), at most BASE_READS.
    let best = Infinity;
    let base = 0;
    for (let i = 0; i < BASE_READS && best > BASE_CLOSE_MS; i++) {
      const a = this.#sinceSec0();
      const p = performance.now();
      const b = this.#sinceSec0();
      if (b - a < best) {
        best = b - a;
        base = p - (a + b) / 2;
      }
    }
    this.#baseMs = base;
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
