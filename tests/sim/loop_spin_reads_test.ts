// The event loop's busy poll reads the clock once per poll: the poll's tick takes the clock's
// last answer (`Stack.receive(true)`), read after the `sched_yield` (or, without the yield, at
// the end of the poll before), and the spin's end is checked against that same read. Before,
// each poll read it twice — the tick's own read in `Stack.receive()` and the loop's — and four
// times with the stalled-yield guard on; the guard now takes one read more than the plain spin
// (it times the yield alone).

import assert from "node:assert/strict";
import { makeUdpRxRig } from "../harness/udp_rx_rig.ts";
import { CountingClock } from "../harness/counting_clock.ts";
import { EventLoop, type EventLoopOptions } from "../../stack/event_loop.ts";

/**
 * Reads of the real clock allowed per Deno turn the loop took meanwhile (the turn's tick and
 * the loop's own reads around it): on a loaded machine a yield may take a scheduler tick, the
 * spins are few and the turns (every `denoTurnUs`) weigh more.
 */
const READS_PER_TURN = 4;

const CASES: { name: string; opts: EventLoopOptions; perSpin: number }[] = [
  // One read per poll; before, 2.
  { name: "yielding", opts: {}, perSpin: 1 },
  // The guard times the yield alone: a read either side of it; before, 4.
  { name: "yielding, stalled-yield guard on", opts: { yieldStallUs: 1_000_000 }, perSpin: 2 },
  // One read per poll; before, 2.
  { name: "without yields", opts: { spinYield: false }, perSpin: 1 },
];

for (const c of CASES) {
  Deno.test({
    name:
      `sim loop spin reads: an idle busy-polling loop reads the clock ${c.perSpin} time(s) per poll (${c.name})`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const clock = new CountingClock();
      const rig = makeUdpRxRig({ mtu: 1500, clock });
      // One datagram, then nothing: the loop spins for the rest of the test (a busy poll of
      // 60 s), turning Deno's event loop every `denoTurnUs`.
      rig.driver.framesPerReceive = 1;
      rig.driver.limit = 1;
      const loop = new EventLoop(rig.stack, { denoTurnUs: 5000, busyPollUs: 60e6, ...c.opts });
      const running = loop.run();
      const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
      try {
        await sleep(100);
        const stats = loop.stats;
        const spins0 = stats.spins;
        const turns0 = stats.yields;
        const reads0 = clock.reads;
        // 200 ms, longer (up to 2 s) while the polls are few: beside busy processes a yield
        // can hand the CPU away for a scheduler slice each time.
        for (let waited = 0; waited < 2000 && (waited < 200 || stats.spins - spins0 <= 20);) {
          await sleep(100);
          waited += 100;
        }
        const spins = stats.spins - spins0;
        const turns = stats.yields - turns0;
        const reads = clock.reads - reads0;
        assert.ok(spins > 20, `${spins} spins`);
        // Half a read per poll to spare: a loop reading one more per poll fails.
        const allowed = (c.perSpin + 0.5) * spins + READS_PER_TURN * turns;
        assert.ok(reads <= allowed, `${reads} reads in ${spins} spins and ${turns} turns`);
      } finally {
        await loop.close();
        await running;
        rig.stack.close();
      }
    },
  });
}

Deno.test({
  name:
    "sim loop spin reads: with the stalled-yield guard on, a slow empty poll is no stalled yield",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const rig = makeUdpRxRig({ mtu: 1500, clock: new CountingClock() });
    rig.driver.framesPerReceive = 1;
    rig.driver.limit = 1;
    // Every 200th poll of the driver takes 60 ms and finds nothing (a slow driver, a timer
    // sweep); the guard stops spinning after a yield that took more than 50 ms, which no
    // scheduler slice makes here.
    const receive = rig.driver.receive.bind(rig.driver);
    let polls = 0;
    let slow = 0;
    rig.driver.receive = (b, m) => {
      if (++polls % 200 === 0) {
        slow++;
        const t = performance.now();
        while (performance.now() - t < 60) { /* a slow poll */ }
      }
      return receive(b, m);
    };
    const loop = new EventLoop(rig.stack, {
      denoTurnUs: 5000,
      busyPollUs: 60e6,
      yieldStallUs: 50_000,
    });
    const running = loop.run();
    try {
      await new Promise((r) => setTimeout(r, 400));
      assert.ok(slow >= 1, `${slow} slow polls`);
      assert.equal(loop.stats.yieldStalls, 0, `${slow} slow polls counted as stalled yields`);
    } finally {
      await loop.close();
      await running;
      rig.stack.close();
    }
  },
});
