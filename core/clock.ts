/**
 * Clocks. Every layer reads time through a {@link Clock} handed to it at construction, so
 * simulated tests can drive the whole stack with a {@link VirtualClock}.
 *
 * @module
 */

import process from "node:process";

/** A source of monotonic time in milliseconds (fractional allowed). */
export interface Clock {
  /** Monotonic milliseconds since an arbitrary origin. */
  nowMs(): number;
  /**
   * A tick begins: the clock may read the time once and answer `nowMs()` with it until
   * {@link Clock.endTick} (a tick lasts microseconds; reading the real clock costs an op).
   * `nowMs`, when given, is what this clock's `nowMs()` answered just before: taken as the
   * tick's time instead of reading the clock again.
   */
  beginTick?(nowMs?: number): void;
  /**
   * A tick begins at this clock's last answer (what `nowMs()` returned last), with no read and
   * no number passed (a double passed to a call V8 does not inline is a new heap number).
   * Absent: `Stack.receive` asks {@link Clock.beginTick} to read the time instead.
   */
  beginTickAtLast?(): void;
  /** The tick ended: `nowMs()` reads the real time again. */
  endTick?(): void;
  /**
   * Write what {@link Clock.nowMs} would answer into `out[0]`. A double returned by a call V8
   * does not inline is a new heap number; one stored into a typed array is not (the per-segment
   * paths read the time so: {@link readClockMs}). Absent: `readClockMs` calls `nowMs()`.
   */
  readMs?(out: Float64Array): void;
  /**
   * CPU time this process has used so far, user and system (ms). A syscall and an object
   * each: for measurements over many ticks, not per packet. Absent: not known.
   */
  cpuMs?(): number;
}

/**
 * `out[0] = clock.nowMs()`, through {@link Clock.readMs} where the clock has it: no double
 * crosses a call, so a caller that V8 compiled without inlining the clock (a large function, a
 * spent inlining budget: the TCP receive and output paths in real processes, bench/README.md,
 * "heap13r") allocates nothing for the read. Read `out[0]` at once: the cell is the caller's,
 * often one per module.
 *
 * @example
 * ```ts
 * const cell = new Float64Array(1);
 * readClockMs(new VirtualClock(5), cell);
 * cell[0]; // 5
 * ```
 */
export function readClockMs(clock: Clock, out: Float64Array): void {
  if (clock.readMs !== undefined) clock.readMs(out);
  else out[0] = clock.nowMs();
}

/**
 * A reader of the real monotonic time that writes it (milliseconds, on `performance.now()`'s
 * base) into `out[0]` instead of returning it: a double returned by a call V8 does not inline
 * is a new heap number, one stored into a typed array is not (`ffi/monotonic_time.ts`).
 */
export interface MonotonicSource {
  /** Write the time in milliseconds into `out[0]`. */
  readMs(out: Float64Array): void;
}

/**
 * The real monotonic clock (`performance.now()`, or a {@link MonotonicSource} read into a cell),
 * read once per tick while one runs.
 *
 * @example
 * ```ts
 * const t0 = new MonotonicClock().nowMs();
 * ```
 */
export class MonotonicClock implements Clock {
  #tickMs = 0;
  #inTick = false;
  readonly #source: MonotonicSource | null;
  /** Where {@link MonotonicClock.#source} writes the time. */
  readonly #cell = new Float64Array(1);

  /**
   * A clock reading `source` (`stack/stack.ts` hands it libc's `clock_gettime`), or
   * `performance.now()` without one.
   */
  constructor(source: MonotonicSource | null = null) {
    this.#source = source;
  }

  /**
   * Read the real time into `#tickMs`. Two stores, one per source: a merge of the two doubles
   * (`s === null ? performance.now() : cell[0]`) would be kept tagged, a heap number per read.
   */
  #read(): void {
    const s = this.#source;
    if (s === null) this.#tickMs = performance.now();
    else {
      s.readMs(this.#cell);
      this.#tickMs = this.#cell[0];
    }
  }

  /** Milliseconds from `performance.now()` (the tick's time during a tick). */
  nowMs(): number {
    // One source for the result, the field: `#inTick ? #tickMs : performance.now()` merged a
    // double field with a call's result, and V8's mid tier keeps such a merge tagged — the
    // tick's time boxed into a new heap number on every read during a tick, where the caller
    // (the timer wheel's advance, say) stores it in a field of its own (bench/README.md,
    // "heap13i"). Outside a tick the field keeps the last read, which nothing else uses.
    if (!this.#inTick) this.#read();
    return this.#tickMs;
  }

  /** {@link MonotonicClock.nowMs} written into `out[0]` (the tick's time during a tick). */
  readMs(out: Float64Array): void {
    if (!this.#inTick) this.#read();
    out[0] = this.#tickMs;
  }

  /** Read the time once for the tick that begins (or take `nowMs`, just read from this clock). */
  beginTick(nowMs?: number): void {
    // Two stores, not `nowMs ?? performance.now()`: the merged value of the two would be a new
    // heap number per call in optimised code (16 B per busy-poll spin, measured), the tick's
    // time stored in place in the field would not.
    if (nowMs === undefined) this.#read();
    else this.#tickMs = nowMs;
    this.#inTick = true;
  }

  /** The tick that begins takes this clock's last answer, which `nowMs()` keeps in the field. */
  beginTickAtLast(): void {
    this.#inTick = true;
  }

  /** Back to reading the real time. */
  endTick(): void {
    this.#inTick = false;
  }

  /** The process's CPU time, user and system (`getrusage`), in ms. */
  cpuMs(): number {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
}

/**
 * A clock that only moves when told to: the heart of deterministic simulated tests.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * clock.advance(200);
 * clock.nowMs(); // 200
 * ```
 */
export class VirtualClock implements Clock {
  #now: number;
  /** What {@link VirtualClock.cpuMs} answers: the simulated CPU time, set by tests (ms). */
  cpuTimeMs = 0;
  /** Start at `startMs` (default 0). */
  constructor(startMs = 0) {
    this.#now = startMs;
  }
  /** The current virtual time. */
  nowMs(): number {
    return this.#now;
  }
  /** The virtual time written into `out[0]`. */
  readMs(out: Float64Array): void {
    out[0] = this.#now;
  }
  /** The simulated CPU time ({@link VirtualClock.cpuTimeMs}). */
  cpuMs(): number {
    return this.cpuTimeMs;
  }
  /** Move time forward by `ms` (must be ≥ 0). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError("VirtualClock.advance: ms must be >= 0");
    this.#now += ms;
  }
  /** Jump to an absolute time that is not in the past. */
  set(ms: number): void {
    if (ms < this.#now) throw new RangeError("VirtualClock.set: time cannot go backwards");
    this.#now = ms;
  }
}
