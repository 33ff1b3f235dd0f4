/**
 * An application's own `Clock` without `beginTickAtLast` drives the event loop: its
 * `beginTick` is asked to read the time (never handed anything but a number or nothing), so its
 * timers fire. (The loop's receive half asks for "the clock's last answer"; when that reached
 * `beginTick` as `true`, a clock written to its contract took it for the time, and the stack's
 * timers never fired.)
 */

import assert from "node:assert/strict";
import type { Clock } from "../../core/clock.ts";
import { Timer } from "../../core/timer_wheel.ts";
import { LoopbackDriver } from "../../drivers/loopback.ts";
import { EventLoop } from "../../stack/event_loop.ts";
import { Stack } from "../../stack/stack.ts";

/** A clock written to the older contract: `beginTick(nowMs?: number)`, the number or a read. */
class UserClock implements Clock {
  #tickMs = 0;
  #inTick = false;
  /** What `beginTick` was handed. */
  readonly seen: unknown[] = [];
  nowMs(): number {
    return this.#inTick ? this.#tickMs : performance.now();
  }
  beginTick(nowMs?: number): void {
    if (this.seen.length < 16) this.seen.push(nowMs);
    this.#tickMs = nowMs ?? performance.now();
    this.#inTick = true;
  }
  endTick(): void {
    this.#inTick = false;
  }
}

Deno.test({
  name:
    "event loop: an application's Clock without beginTickAtLast reads the tick's time, and its timers fire",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const clock = new UserClock();
    const stack = new Stack({ clock, poolBuffers: 32 });
    stack.addNic(new LoopbackDriver({ mtu: 1500 }));
    let fired = 0;
    stack.timers.schedule(new Timer(() => fired++), clock.nowMs() + 20);
    const loop = new EventLoop(stack, {});
    const running = loop.run();
    try {
      for (let i = 0; i < 100 && fired === 0; i++) await new Promise((r) => setTimeout(r, 10));
    } finally {
      await loop.close();
      await running;
      stack.close();
    }
    assert.equal(fired, 1, "the 20 ms timer fired");
    assert.ok(clock.seen.every((t) => t === undefined || typeof t === "number"), `${clock.seen}`);
  },
});
