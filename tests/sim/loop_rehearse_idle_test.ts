// `EventLoop.rehearseIdle`: a parked loop woken by it goes through the idle sequence that follows
// a burst of work (here, without a pollable driver: the busy poll, then the park), where a loop
// woken with nothing to do goes straight back to its park. `pingpong`'s warm-up calls it once
// after its main part, so that the real loop's idle paths have V8's type feedback before the
// first real connection (bench/README.md, "warm13j"). And `syncAfterQuietTicks`: 0 drives the
// loop without its async function from its first turn of Deno's event loop (the warm-up's
// paced part), a bound never reached keeps it in the async function.

import assert from "node:assert/strict";
import { makeUdpRxRig } from "../harness/udp_rx_rig.ts";
import type { Clock } from "../../core/clock.ts";
import { EventLoop, type EventLoopOptions } from "../../stack/event_loop.ts";
import type { Stack } from "../../stack/stack.ts";
import { until } from "../harness/until.ts";

/**
 * Wait until the loop has begun `n` more parks (each ≤ 5 ms here: no pollable driver) — a
 * span of the loop's own turns, not of real time, which a loaded machine can spend with the
 * loop never running (then a check over it could not fail).
 */
async function parks(loop: EventLoop, n: number): Promise<void> {
  const s = loop.stats;
  const target = s.parks + n;
  assert.ok(await until(() => s.parks >= target && loop.parked, 5_000), `${n} more parks`);
}

/**
 * A clock that moves 1 µs per read. The idle sequence's steps are timed by the loop's clock —
 * the busy poll only within `busyPollUs` of the wake-up, and only from a tick within
 * `denoTurnUs` of the last turn of Deno's event loop — so on the real clock a loaded machine
 * (a turn that takes milliseconds) skipped the rehearsal's busy poll: 4 of 16 runs failed
 * "spun, then parked again" beside CPU load (bench/README.md, flake13l). Counted in reads,
 * the sequence is the same on any machine; the parks still wait in real timers.
 */
class SteppingClock implements Clock {
  #nowMs = 0;
  nowMs(): number {
    this.#nowMs += 0.001;
    return this.#nowMs;
  }
}

/** A loop on a stack that receives nothing, parked after its start's idle sequence. */
async function parkedLoop(opts: EventLoopOptions = {}): Promise<{ loop: EventLoop; stack: Stack }> {
  const rig = makeUdpRxRig({ mtu: 1500, clock: new SteppingClock() });
  rig.driver.limit = 0; // no frame ever arrives
  const loop = new EventLoop(rig.stack, opts);
  void loop.run();
  assert.ok(await until(() => loop.parked, 2_000), "the loop parked");
  await parks(loop, 2); // the start's idle sequence is over: only parks from here
  return { loop, stack: rig.stack };
}

Deno.test("rehearseIdle: a parked loop busy-polls once more and parks again; a tick asked for does not", async () => {
  const { loop, stack } = await parkedLoop();
  try {
    const s = loop.stats;
    const spins0 = s.spins;
    await parks(loop, 4);
    assert.equal(s.spins, spins0, "an idle loop parks without spinning");
    // Woken with nothing to do: a tick, then straight back to its park.
    const ticks0 = s.ticks;
    stack.requestTick();
    assert.ok(
      await until(() => s.ticks > ticks0 && loop.parked, 2_000),
      "ticked, then parked again",
    );
    await parks(loop, 2);
    assert.equal(s.spins, spins0, "a tick asked for: no busy poll");
    const wakes0 = s.wakes;
    loop.rehearseIdle();
    assert.equal(s.wakes, wakes0 + 1, "the rehearsal wakes the park");
    assert.ok(await until(() => s.spins > spins0 && loop.parked, 2_000), "spun, then parked again");
    const spins1 = s.spins;
    await parks(loop, 4);
    assert.equal(s.spins, spins1, "one idle sequence, then parks only");
  } finally {
    await loop.close();
  }
});

Deno.test("syncAfterQuietTicks: 0 drives an idle sequence's turns without the async function, an unreached bound never", async () => {
  for (const [after, direct] of [[0, true], [1e9, false]] as const) {
    const { loop } = await parkedLoop({ syncAfterQuietTicks: after });
    try {
      const s = loop.stats;
      const spins0 = s.spins;
      const direct0 = s.directYields;
      loop.rehearseIdle();
      assert.ok(
        await until(() => s.spins > spins0 && loop.parked, 2_000),
        "spun, then parked again",
      );
      assert.equal(s.directYields > direct0, direct, `syncAfterQuietTicks ${after}`);
    } finally {
      await loop.close();
    }
  }
});
