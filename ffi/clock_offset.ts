/**
 * The offset between two clocks, from reads that bracket each other: `a`, then `b`, then `a`
 * again, many times; the bracket closest together in time wins, its `b` against the midpoint of
 * its two `a` reads. A bracket is off by at most half its width, so the closest one bounds the
 * error best. The first brackets of a process are the widest (the first call of each binding,
 * compiled on the spot; a preemption): taking the first one narrower than a generous bound
 * put the stack's clock up to 6 µs off `performance.now()` in one process of four
 * (`bench/README.md`, flake13l) — so every bracket is read, and the closest wins.
 *
 * Set-up only: it returns a double and calls its readers through closures.
 *
 * @module
 */

/**
 * `b − a` in the readers' unit (milliseconds for the stack's clocks), from the closest of
 * `brackets` brackets `a, b, a`.
 *
 * @example
 * ```ts
 * import { clockOffsetMs } from "./clock_offset.ts";
 * let t = 0;
 * const a = () => (t += 0.001); // a clock
 * const b = () => (t += 0.001) + 5; // the same clock, 5 ms ahead
 * Math.round(clockOffsetMs(8, a, b)); // 5
 * ```
 */
export function clockOffsetMs(brackets: number, a: () => number, b: () => number): number {
  let best = Infinity;
  let offset = 0;
  for (let i = 0; i < brackets; i++) {
    const a0 = a();
    const v = b();
    const a1 = a();
    if (a1 - a0 < best) {
      best = a1 - a0;
      offset = v - (a0 + a1) / 2;
    }
  }
  return offset;
}
