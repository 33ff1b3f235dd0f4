/**
 * A process of its own for `loop_short_slice_test.ts` (V8's flags are per process): an idle
 * loop on the UDP rig whose driver has a pollable fd (an eventfd nobody signals), so that,
 * past its busy poll, it waits in blocking `poll()` slices. First every slice is a whole
 * millisecond, as in a warm-up's rehearsal of the idle sequence — with no timer armed (the
 * stack has nothing to time: the wait is 1000 ms, a small integer), or with the argument `far`
 * one timer kept ~0.5 s ahead (a fractional wait of more than 1 ms) — `TRAIN_SLICES` of
 * them, enough for V8 to compile the transmit half; then a timer re-armed
 * `SHORT_DEADLINE_MS` ahead at each firing makes every slice end at a deadline less than 1 ms
 * away, as a real connection's timers do. Prints a `phase` JSON line
 * at each change with the loop's slice count; run it with `--trace-deopt` to see what V8
 * threw away once the slices were short.
 *
 * @module
 */

import { MonotonicClock } from "../../core/clock.ts";
import { Timer, TimerWheel } from "../../core/timer_wheel.ts";
import { LibcMonotonicTime } from "../../ffi/monotonic_time.ts";
import { close, eventfdCreate } from "../../ffi/syscalls.ts";
import { EventLoop } from "../../stack/event_loop.ts";
import { makeUdpRxRig } from "../harness/udp_rx_rig.ts";

/** Whole-millisecond slices of the first phase: V8 compiles the transmit half in far fewer. */
const TRAIN_SLICES = 3_000;
/** Slices of the second phase, each ending at a deadline under 1 ms away. */
const SHORT_SLICES = 300;
/** How far ahead the second phase's timer is re-armed (ms). */
const SHORT_DEADLINE_MS = 0.6;
/** How far ahead the `far` first phase keeps its timer, re-armed every 10 ms (ms). */
const FAR_AHEAD_MS = 500.5;
/** Longest either phase waits for its count (ms). */
const PHASE_MAX_MS = 15_000;

const clockOf = () => new MonotonicClock(new LibcMonotonicTime());
// The timer wheel's firing path trained first on a wheel of its own (its methods' feedback is
// shared by every wheel), as a warm-up's simulated connections train it: else the loop's first
// timer to fire, not its short slice, is what V8 meets first.
{
  const clock = clockOf();
  const wheel = new TimerWheel({ startMs: clock.nowMs() });
  let fired = 0;
  // Re-armed from its own callback a few µs ahead, as the second phase's timer is.
  const t = new Timer(() => {
    fired++;
    wheel.schedule(t, clock.nowMs() + 0.002);
  });
  wheel.schedule(t, clock.nowMs() + 0.002);
  // A second timer armed and cancelled, and the next deadline asked for, as a stack's are.
  const u = new Timer(() => {});
  for (let i = 0; fired < 20_000 && i < 1e7; i++) {
    wheel.schedule(u, clock.nowMs() + (i & 7) + 0.5);
    wheel.nextDeadlineMs();
    wheel.advanceTo(clock);
    wheel.cancel(u);
    wheel.nextDeadlineMs();
  }
  wheel.cancel(t);
}
const rig = makeUdpRxRig({ mtu: 1500, clock: clockOf() });
// No frame at all: the loop is idle from its first tick.
rig.driver.limit = 0;
// A real fd the loop's poll set can hold (never readable): the loop then blocks in slices.
const fd = eventfdCreate();
(rig.driver as unknown as { fd: number }).fd = fd;
// No busy poll, blocking slices for ever: every idle tick past the first two is a slice.
// The stack's own start-up timer (~40 ms) fired before the loop runs: a slice that ends at
// its deadline would be a short one in the first phase.
while (rig.stack.timers.size > 0) {
  await new Promise<void>((r) => setTimeout(r, 5));
  rig.stack.tick();
}
const timers = rig.stack.timers;
const clock = rig.stack.clock;
const far = new Timer(() => {});
const farAhead = () => timers.schedule(far, clock.nowMs() + FAR_AHEAD_MS);
const keepFar = Deno.args[0] === "far" ? setInterval(farAhead, 10) : 0;
if (keepFar !== 0) farAhead();
const loop = new EventLoop(rig.stack, { busyPollUs: 0, blockPollUs: 1e12 });
const running = loop.run();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const phase = (name: string) => {
  console.log(JSON.stringify({ phase: name, blocks: loop.stats.blocks }));
};
/** Wait until the loop has made `n` blocking slices, at most {@link PHASE_MAX_MS}. */
async function until(n: number): Promise<void> {
  const end = performance.now() + PHASE_MAX_MS;
  while (loop.stats.blocks < n && performance.now() < end) await sleep(10);
}
await until(TRAIN_SLICES);
clearInterval(keepFar);
timers.cancel(far);
phase("short");
const timer = new Timer(() => timers.schedule(timer, clock.nowMs() + SHORT_DEADLINE_MS));
timers.schedule(timer, clock.nowMs() + SHORT_DEADLINE_MS);
await until(loop.stats.blocks + SHORT_SLICES);
phase("end");
timers.cancel(timer);
await loop.close();
await running;
rig.stack.close();
close(fd);
