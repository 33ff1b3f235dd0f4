// The event loop's busy poll reads the clock once per poll: the poll's tick takes the clock's
// last answer (`Stack.receive(true)`), read after the `sched_yield` (or, without the yield, at
// the end of the poll before), and the spin's end is checked against that same read. Before,
// each poll read it twice — the tick's own read in `Stack.receive()` and the loop's — and four
// times with the stalled-yield guard on (a read either side of the yield).

import assert from "node:assert/strict";
import { makeUdpRxRig } from "../harness/udp_rx_rig.ts";
import { CountingClock } from "../harness/counting_clock.ts";
import { EventLoop, type EventLoopOptions } from "../../stack/event_loop.ts";

/**
 * Most reads of the real clock per poll of the spin: one, and Deno's turns read it too (a few
 * per `denoTurnUs`; on a loaded machine a yield may take most of a millisecond). Before: 2 or 4.
 */
const MAX_READS_PER_SPIN = 1.5;

const CASES: { name: string; opts: EventLoopOptions }[] = [
  { name: "yielding", opts: {} },
  { name: "yielding, stalled-yield guard on", opts: { yieldStallUs: 1_000_000 } },
  { name: "without yields", opts: { spinYield: false } },
];

for (const c of CASES) {
  Deno.test({
    name:
      `sim loop spin reads: an idle busy-polling loop reads the clock ≤ ${MAX_READS_PER_SPIN} times per poll (${c.name})`,
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
        const reads0 = clock.reads;
        await sleep(200);
        const spins = stats.spins - spins0;
        const reads = clock.reads - reads0;
        assert.ok(spins > 100, `${spins} spins`);
        assert.ok(reads / spins <= MAX_READS_PER_SPIN, `${reads} reads in ${spins} spins`);
      } finally {
        await loop.close();
        await running;
        rig.stack.close();
      }
    },
  });
}
