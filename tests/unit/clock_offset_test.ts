import assert from "node:assert/strict";
import { clockOffsetMs } from "../../ffi/clock_offset.ts";
import { realtimeOriginMs } from "../../ffi/realtime_origin.ts";

/**
 * Two fake clocks 5 ms apart, read in brackets `a, b, a` whose widths and the moment of the `b`
 * read in them are given: the first brackets of a process are the widest (a first call of each
 * binding), and where in one the middle read falls is unknown.
 */
function fakeClocks(brackets: [width: number, at: number][]): [() => number, () => number] {
  let t = 1000;
  let k = 0;
  let step = 0; // 0: first a, 1: b, 2: second a
  const a = () => {
    const [width] = brackets[Math.min(k, brackets.length - 1)];
    if (step === 0) {
      step = 1;
      return t;
    }
    step = 0;
    k++;
    const end = t + width;
    t = end + 0.01;
    return end;
  };
  const b = () => {
    const [width, at] = brackets[Math.min(k, brackets.length - 1)];
    step = 2;
    return t + width * at + 5;
  };
  return [a, b];
}

// The stack's clock was placed on performance.now()'s base from the first bracket narrower than
// 20 µs: a cold first bracket 12 µs wide with performance.now() read at its end put the base
// 6 µs off — and the trace's round trips of ~100 µs lost their split (bench/README.md,
// flake13l). Every bracket is read; the closest wins.
Deno.test("clockOffsetMs: the closest bracket wins, not the first narrow enough", () => {
  const [a, b] = fakeClocks([[0.012, 1], [0.008, 0.9], [0.0002, 0.5], [0.001, 0.1]]);
  const off = clockOffsetMs(50, a, b);
  assert.ok(Math.abs(off - 5) < 0.0002, `off by ${((off - 5) * 1000).toFixed(2)} µs`);
  // One bracket: what it says, half its width off at most.
  const [a1, b1] = fakeClocks([[0.012, 1]]);
  assert.ok(Math.abs(clockOffsetMs(1, a1, b1) - 5 - 0.006) < 1e-9);
});

Deno.test("realtimeOriginMs: the wall clock's time at performance.now()'s zero", () => {
  const origin = realtimeOriginMs();
  // Deno's estimate of the same point is µs off; the wall clock read now agrees to the ms.
  assert.ok(Math.abs(origin - performance.timeOrigin) < 0.1, `${origin}`);
  const now = origin + performance.now();
  assert.ok(Math.abs(now - Date.now()) < 2, `${now} against ${Date.now()}`);
});
