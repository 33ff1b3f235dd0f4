// The busy poll's stalled-yield guard on a clock on which each `sched_yield` takes 5 ms (a
// CPU-bound task took the CPU for a scheduler tick and more): the "block" mode stops
// busy-polling and waits, the "spin" mode keeps busy-polling without yields — one clock read per
// poll instead of the guard's two — and yields again after the hold (a stall per hold). On a
// clock on which every poll takes 2 ms too (the loop loses its CPU whether it yields or not),
// a "spin" hold ends after a few polls and the guard rests.

import assert from "node:assert/strict";
import { makeUdpRxRig } from "../harness/udp_rx_rig.ts";
import { MonotonicClock, type MonotonicSource } from "../../core/clock.ts";
import { EventLoop, type EventLoopOptions } from "../../stack/event_loop.ts";

/** The milliseconds a yield takes on {@link StallingSource}. */
const STEP_MS = 5;
/** The milliseconds every other read takes with `always` (above the guard's 1 ms). */
const ALWAYS_STEP_MS = 2;

/**
 * A time source of its own (the real time plays no part: a loaded machine's preemptions do not
 * show): 1 µs later at every read (2 ms with `always`), 5 ms at a read that follows another
 * with no poll of the driver in between (the busy poll's reads either side of a
 * `sched_yield`); counts its reads.
 */
class StallingSource implements MonotonicSource {
  /** Reads so far. */
  reads = 0;
  /** The driver was polled since the last read. */
  polled = false;
  /** Reads after a poll that took {@link ALWAYS_STEP_MS}. */
  slow = 0;
  #afterPolls = 0;
  #nowMs = performance.now();
  /** `slowEvery` > 0: only every such read after a poll takes 2 ms (one slow poll at times). */
  constructor(readonly always: boolean, readonly slowEvery = 0) {}
  /** The time. */
  readMs(out: Float64Array): void {
    this.reads++;
    let step = STEP_MS;
    if (this.polled) {
      const slow = this.always ||
        (this.slowEvery > 0 && ++this.#afterPolls % this.slowEvery === 0);
      if (slow) this.slow++;
      step = slow ? ALWAYS_STEP_MS : 0.001;
    }
    this.#nowMs += step;
    this.polled = false;
    out[0] = this.#nowMs;
  }
}

/**
 * Run a loop that goes idle on the stalling clock for 200 ms — longer, up to 5 s, until the
 * clock has made `minSlow` slow reads (a loaded machine polls fewer times in 200 ms); its
 * counters and clock reads.
 */
async function idleLoop(opts: EventLoopOptions, always = false, slowEvery = 0, minSlow = 0) {
  const source = new StallingSource(always, slowEvery);
  const rig = makeUdpRxRig({ mtu: 1500, clock: new MonotonicClock(source) });
  // One datagram, then nothing: the loop busy-polls for the rest of the test.
  rig.driver.framesPerReceive = 1;
  rig.driver.limit = 1;
  const receive = rig.driver.receive.bind(rig.driver);
  rig.driver.receive = (b, m) => {
    source.polled = true;
    return receive(b, m);
  };
  // A busy poll longer than the test (in the clock's time), and a Deno turn every 2 ms of it.
  const loop = new EventLoop(rig.stack, {
    busyPollUs: 1e12,
    denoTurnUs: 2000,
    ...opts,
  });
  const s0 = { ...loop.stats };
  const reads0 = source.reads;
  const running = loop.run();
  try {
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < 96 && source.slow < minSlow; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const s = loop.stats;
    return {
      spins: s.spins - s0.spins,
      stalls: s.yieldStalls - s0.yieldStalls,
      preempted: s.yieldStallsPreempted - s0.yieldStallsPreempted,
      waits: s.parks - s0.parks + s.blocks - s0.blocks,
      reads: source.reads - reads0,
      slow: source.slow,
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
    assert.equal(r.preempted, 0, "a poll without a yield takes no 5 ms");
    assert.equal(r.waits, 0, "no park, no blocking slice: the loop kept busy-polling");
    // With a yield before every poll the guard reads the clock twice per poll; without, once.
    // A hold (YIELD_STALL_HOLD_MS) is thousands of polls here: one stalled yield each, where
    // a spin that kept yielding would stall at every poll.
    assert.ok(r.reads < 1.5 * r.spins, `${r.reads} clock reads in ${r.spins} polls`);
    assert.ok(r.stalls * 1000 < r.spins, `${r.stalls} stalls in ${r.spins} polls`);
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

Deno.test({
  name: 'sim loop: a "spin" hold that loses the CPU without yielding ends, and the guard rests',
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const r = await idleLoop({ yieldStallUs: 1000, yieldStallMode: "spin" }, true);
    assert.ok(r.spins > 50, `${r.spins} spins`);
    assert.ok(r.preempted >= 1, `${r.preempted} holds preempted`);
    // A rest of YIELD_STALL_REST_MS is tens of polls here (a clock read and a Deno turn or so
    // each): a stall per tens of polls, where a guard that did not rest would stall at every
    // few polls (a stall, a hold, HOLD_PREEMPTS polls preempted, a yield that stalls).
    assert.ok(r.stalls * 10 < r.spins, `${r.stalls} stalls in ${r.spins} polls`);
    assert.equal(r.waits, 0);
  },
});

Deno.test({
  name: 'sim loop: one slow poll now and then does not end a "spin" hold',
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // Every 20,000th poll takes 2 ms: about two in a 50 ms hold of 1 µs polls, fewer than
    // HOLD_PREEMPTS (a niced task of the loop's own session gets its rare slice too).
    // Until four slow polls: beside CPU hogs 200 ms were too few polls for two.
    const r = await idleLoop({ yieldStallUs: 1000, yieldStallMode: "spin" }, false, 20_000, 4);
    assert.ok(r.slow >= 2, `${r.slow} slow polls (the test needs some)`);
    assert.ok(r.stalls >= 1, `${r.stalls} stalled yields`);
    assert.equal(r.preempted, 0, `${r.slow} slow polls ended a hold`);
  },
});
