/**
 * Run by `tests/unit/timer_wheel_paths_test.ts` in a child `deno run
 * --v8-flags=--allow-natives-syntax`: the process's first timer wheel (as a real stack's) is
 * used as a connection uses it — a timer armed a few ms ahead, cancelled, the wheel advanced
 * within its block — until V8 has optimised `arm`, `cancel` and `advance`; then a timer goes
 * beyond the block (level 1), beyond the super-block (the overflow list), and the wheel moves
 * into the next block and super-block. Prints one JSON object: whether each function's
 * optimised code was still in place after each step.
 *
 * @module
 */

import { Timer, TimerWheel } from "../../core/timer_wheel.ts";
import { type Fn, isOptimized, optimizeNext, prepare } from "./v8_natives.ts";

const wheel = new TimerWheel({ startMs: 0.25 });
const t = new Timer(() => {});
const arm = TimerWheel.prototype.arm as Fn;
const cancel = TimerWheel.prototype.cancel as Fn;
const advance = TimerWheel.prototype.advance as Fn;
for (const f of [arm, cancel, advance]) prepare(f);

let now = 0.25;
/** One connection-like use: arm `ms` ahead, cancel, arm again, advance by 1 ms (fires it). */
function use(ms: number): void {
  t.armAtMs = now + ms;
  wheel.arm(t);
  wheel.cancel(t);
  t.armAtMs = now + 0.5;
  wheel.arm(t);
  now += 1;
  wheel.advance(now);
}

for (let i = 0; i < 60; i++) use(2.5);
for (const f of [arm, cancel, advance]) optimizeNext(f);
use(2.5);
const optimized = isOptimized(arm) && isOptimized(cancel) && isOptimized(advance);

/** The three functions still optimised. */
const kept = (): boolean => isOptimized(arm) && isOptimized(cancel) && isOptimized(advance);

// Beyond the current 4,096-ms block: level 1.
use(5000);
const level1 = kept();
// Beyond the super-block (~4.66 h): the overflow list.
use(2 ** 24 + 10);
const overflow = kept();
// Into the next block with a timer waiting on level 1: the cascade.
t.armAtMs = 4096 * 2 + 7.5;
wheel.arm(t);
now = 4096 * 2 + 8.25;
wheel.advance(now);
const cascade = kept();

console.log(JSON.stringify({ optimized, level1, overflow, cascade }));
