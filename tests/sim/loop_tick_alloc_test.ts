// The event loop's own work per tick allocates nothing: a busy loop on a stack that receives a
// datagram every tick (the UDP receive rig's replayed frames, drained by a synchronous listener,
// the real clock) grows the heap by what the stack's receive path allocates (~0) and what Deno's
// turns cost (one per `denoTurnUs`, 5 ms here: spread thin). On `main` the loop's receive half
// handed the tick's time to `Stack.receive` — a double passed to a call V8 does not inline, a new
// heap number (16 B) every tick: 16.2–16.4 B per tick measured here, four runs of four; the
// wire's profile put ~37 B per tick in `#receiveHalf` and 16 in the clock read it made
// (bench/README.md, "heap13i"). Now the loop keeps its times in fields, the receive half reads
// no clock of its own and passes no time: 0.17–0.18.

import assert from "node:assert/strict";
import { settledGrowthPerUnit, withBusyUdpLoop } from "../harness/busy_udp_loop.ts";

/** Most heap growth per loop tick (a heap number is 16 B). */
const MAX_BYTES_PER_TICK = 4;
/** Each measured window's length (ms): tens of thousands of ticks. */
const WINDOW_MS = 30;

Deno.test({
  name: `sim loop tick alloc: a busy loop's tick allocates < ${MAX_BYTES_PER_TICK} B`,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const got = new Float64Array(1);
    // Drained inside the tick, as `uperf server --udp` drains: the loop runs without its async
    // function and turns Deno's event loop only every `denoTurnUs`.
    await withBusyUdpLoop((socket, sink, peer) => {
      while (socket.recvfrom(sink, 0, 0, peer) >= 0) got[0]++;
    }, async (loop) => {
      const stats = loop.stats;
      const perTick = await settledGrowthPerUnit(() => stats.ticks, WINDOW_MS, MAX_BYTES_PER_TICK);
      assert.ok(stats.directYields > 0, "the loop ran without its async function");
      assert.ok(got[0] >= stats.ticks / 2, `${got[0]} datagrams in ${stats.ticks} ticks`);
      assert.ok(perTick < MAX_BYTES_PER_TICK, `${perTick.toFixed(2)} B per tick`);
    });
  },
});
