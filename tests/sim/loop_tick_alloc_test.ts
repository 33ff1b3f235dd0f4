// The event loop's own work per tick allocates nothing: a busy loop on a stack that receives a
// datagram every tick (the UDP receive rig's replayed frames, drained by a synchronous listener,
// the real clock) grows the heap by what the stack's receive path allocates (~0) and what Deno's
// turns cost (one per `denoTurnUs`, 5 ms here: spread thin). On `main` the loop's receive half
// handed the tick's time to `Stack.receive` — a double passed to a call V8 does not inline, a new
// heap number (16 B) every tick: 16.2–16.4 B per tick measured here, four runs of four; the
// wire's profile put ~37 B per tick in `#receiveHalf` and 16 in the clock read it made
// (bench/README.md, "heap13i"). Now the loop keeps its times in fields, the receive half reads
// no clock of its own and passes no time: 0.17–0.18.

// The measurements run in an isolate of their own (a worker): V8's type feedback is per isolate,
// and what ran before in the process shaped the code the loop runs. After other sim files in one
// `deno test` (as `deno task test` runs them) main's code measured 16.1 B per tick and passed
// alone: `TimerWheel.advanceTo`'s `clock.nowMs()`, inlined into `Stack.receive` for two clock
// classes (any stack ticked on a `VirtualClock` before), merged the results into a heap number.
// The wheel now has the clock write the time into a cell; the second test checks that in an
// isolate that ticked a `VirtualClock` stack first (main: 16 B per tick), the first measures the
// loop as a process that runs one clock has it, whatever ran before (bench/README.md, "loop13z").

import assert from "node:assert/strict";
import type { TickAlloc, TickAllocAsk } from "./loop_tick_alloc_isolate.ts";
import { inFreshIsolate } from "../harness/busy_udp_loop.ts";

/** Most heap growth per loop tick (a heap number is 16 B). */
const MAX_BYTES_PER_TICK = 4;
/** Each measured window's length (ms): tens of thousands of ticks. */
const WINDOW_MS = 30;

for (const virtualTicksFirst of [0, 100_000]) {
  const after = virtualTicksFirst === 0 ? "" : " after a stack ticked on a VirtualClock";
  Deno.test({
    name: `sim loop tick alloc: a busy loop's tick allocates < ${MAX_BYTES_PER_TICK} B${after}`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const got = await inFreshIsolate<TickAllocAsk, TickAlloc>(
        new URL("./loop_tick_alloc_isolate.ts", import.meta.url),
        { windowMs: WINDOW_MS, bound: MAX_BYTES_PER_TICK, virtualTicksFirst },
      );
      assert.ok(got.directYields > 0, "the loop ran without its async function");
      assert.ok(got.datagrams >= got.ticks / 2, `${got.datagrams} datagrams in ${got.ticks} ticks`);
      assert.ok(got.perTick < MAX_BYTES_PER_TICK, `${got.perTick.toFixed(2)} B per tick`);
    },
  });
}
