import assert from "node:assert/strict";
import { runNativesProbe } from "../harness/natives_probe.ts";
import { LibcMonotonicTime } from "../../ffi/monotonic_time.ts";
import { MonotonicClock } from "../../core/clock.ts";

const PROBE = new URL("../harness/clock_read_probe.ts", import.meta.url);

// A clock read left `performance.now()` as a new heap number (16 B) wherever V8 did not inline
// it into its caller — the event loop's spin and transmit half, a receiver's window update read
// by an application's `read` (bench/README.md, "heap13m"). The probe (a child with
// --allow-natives-syntax) reads each clock from optimised code with `performance.now()` kept out
// of it (`%NeverOptimizeFunction`): the stack's default clock, reading libc's `clock_gettime`
// into a typed array, allocates nothing per read.
Deno.test("monotonic time: a stack's default clock read from optimised code allocates nothing, where performance.now() did 16 B", async () => {
  const r = (await runNativesProbe(PROBE, ["--allow-read", "--allow-ffi"])) as Record<
    string,
    number
  >;
  assert.ok(r.performanceNow >= 15, `the probe's condition: performance.now() ${r.performanceNow}`);
  assert.ok(r.stackDefault < 1, `${r.stackDefault} B per read of the stack's default clock`);
  assert.equal(r.stackDefaultAgrees, 1, "the default clock is on performance.now()'s base");
});

Deno.test("monotonic time: libc's clock reads on performance.now()'s base, never backwards", () => {
  const clock = new MonotonicClock(new LibcMonotonicTime());
  let last = clock.nowMs();
  for (let i = 0; i < 10_000; i++) {
    const p0 = performance.now();
    const t = clock.nowMs();
    const p1 = performance.now();
    assert.ok(t >= last, `went back: ${last} → ${t}`);
    // Within 0.1 ms of performance.now() read around it (a preemption between may widen it).
    assert.ok(t >= p0 - 0.1 && t <= p1 + 0.1 || p1 - p0 > 0.05, `${p0} ≤ ${t} ≤ ${p1}`);
    last = t;
  }
  // In a tick the clock answers the tick's time.
  clock.beginTick();
  const tick = clock.nowMs();
  assert.equal(clock.nowMs(), tick);
  clock.endTick();
  assert.ok(clock.nowMs() >= tick);
});
