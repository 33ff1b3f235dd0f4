// The busy poll's stalled-yield guard on a clock whose every read finds 5 ms more than the last
// (as if each `sched_yield` handed the CPU to a CPU-bound task for 5 ms, a scheduler tick and
// more): the "block" mode stops busy-polling and waits, the "spin" mode keeps busy-polling
// without yields — one clock read per poll instead of the guard's two — and yields again after
// the hold (a stall per hold).

import assert from "node:assert/strict";
import { makeUdpRxRig } from "../harness/udp_rx_rig.ts";
import { MonotonicClock, type MonotonicSource } from "../../core/clock.ts";
import { EventLoop, type EventLoopOptions, YIELD_STALL_HOLD_MS } from "../../stack/event_loop.ts";

/** The milliseconds every read of {@link StallingSource} adds to the real time. */
const STEP_MS = 5;

/** A time source 5 ms further at every read than the real time alone; counts its reads. */
class StallingSource implements MonotonicSource {
  /** Reads so far. */
  reads = 0;
  /** The time, `performance.now()` plus 5 ms per read. */
  readMs(out: Float64Array): void {
    this.reads++;
    out[0] = performance.now() + this.reads * STEP_MS;
  }
}

/** Run a loop that goes idle on the stalling clock for 200 ms; its counters and clock reads. */
async function idleLoop(opts: EventLoopOptions) {
  const source = new StallingSource();
  const rig = makeUdpRxRig({ mtu: 1500, clock: new MonotonicClock(source) });
  // One datagram, then nothing: the loop busy-polls for the rest of the test.
  rig.driver.framesPerReceive = 1;
  rig.driver.limit = 1;
  // A busy poll longer than the test (in the clock's time), and a Deno turn every 100 reads.
  const loop = new EventLoop(rig.stack, {
    busyPollUs: 1e12,
    denoTurnUs: 100 * STEP_MS * 1000,
    ...opts,
  });
  const s0 = { ...loop.stats };
  const reads0 = source.reads;
  const running = loop.run();
  try {
    await new Promise((r) => setTimeout(r, 200));
    const s = loop.stats;
    return {
      spins: s.spins - s0.spins,
      stalls: s.yieldStalls - s0.yieldStalls,
      waits: s.parks - s0.parks + s.blocks - s0.blocks,
      reads: source.reads - reads0,
    };
  } finally {
    await loop.close();
    await running;
    rig.stack.close();
  }
}

Deno.test({
  name: 'sim loop: after a stalled yield the "spin" mode busy-polls on without yields',
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const r = await idleLoop({ yieldStallUs: 1000, yieldStallMode: "spin" });
    assert.ok(r.spins > 50, `${r.spins} spins`);
    assert.ok(r.stalls >= 1, `${r.stalls} stalled yields`);
    assert.equal(r.waits, 0, "no park, no blocking slice: the loop kept busy-polling");
    // With a yield before every poll the guard reads the clock twice per poll; without, once.
    // A hold is YIELD_STALL_HOLD_MS / STEP_MS = 10 reads: about one stalled yield per 10 polls.
    assert.ok(r.reads < 1.5 * r.spins, `${r.reads} clock reads in ${r.spins} polls`);
    const perHold = YIELD_STALL_HOLD_MS / STEP_MS;
    assert.ok(r.stalls <= (2 * r.spins) / perHold, `${r.stalls} stalls in ${r.spins} polls`);
  },
});

Deno.test({
  name: 'sim loop: after a stalled yield the "block" mode stops busy-polling and waits',
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const r = await idleLoop({ yieldStallUs: 1000, yieldStallMode: "block" });
    assert.ok(r.stalls >= 1, `${r.stalls} stalled yields`);
    assert.ok(r.waits >= 1, `${r.waits} parks and blocking slices`);
  },
});
