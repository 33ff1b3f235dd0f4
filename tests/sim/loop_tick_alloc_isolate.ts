/**
 * The measurement of `loop_tick_alloc_test.ts`, run in an isolate of its own (a worker, see
 * {@link inFreshIsolate}): a busy loop on the UDP receive rig, drained inside the tick, and its
 * heap growth per tick. Posts one {@link TickAlloc} back and ends.
 *
 * @module
 */

import { settledGrowthPerUnit, withBusyUdpLoop } from "../harness/busy_udp_loop.ts";
import { VirtualClock } from "../../core/clock.ts";
import { LoopbackDriver } from "../../drivers/loopback.ts";
import { Stack } from "../../stack/stack.ts";

/** What the isolate measured. */
export interface TickAlloc {
  /** Heap growth per loop tick (B), settled (see `settledGrowthPerUnit`). */
  perTick: number;
  /** The loop's ticks when it was measured. */
  ticks: number;
  /** Turns of Deno's event loop the loop took without its async function. */
  directYields: number;
  /** Datagrams the listener drained. */
  datagrams: number;
}

/** The question posted to the isolate: the window's length and the bound. */
export interface TickAllocAsk {
  /** Each measured window's length (ms). */
  windowMs: number;
  /** Measured again while the growth is this or more (see `settledGrowthPerUnit`). */
  bound: number;
  /**
   * Ticks of a stack on a {@link VirtualClock} before the loop starts, as the sim tests that
   * ran before in one process left it: the stack's clock reads have met two clock classes.
   */
  virtualTicksFirst: number;
}

/** Measure a busy loop's heap growth per tick in this isolate. */
export async function measureTickAlloc(ask: TickAllocAsk): Promise<TickAlloc> {
  if (ask.virtualTicksFirst > 0) {
    const stack = new Stack({ clock: new VirtualClock(1.5), poolBuffers: 32 });
    stack.addNic(new LoopbackDriver({ mtu: 1500 }));
    for (let i = 0; i < ask.virtualTicksFirst; i++) stack.tick();
    stack.close();
  }
  const got = new Float64Array(1);
  let result: TickAlloc | null = null;
  // Drained inside the tick, as `uperf server --udp` drains: the loop runs without its async
  // function and turns Deno's event loop only every `denoTurnUs`.
  await withBusyUdpLoop((socket, sink, peer) => {
    while (socket.recvfrom(sink, 0, 0, peer) >= 0) got[0]++;
  }, async (loop) => {
    const stats = loop.stats;
    const perTick = await settledGrowthPerUnit(() => stats.ticks, ask.windowMs, ask.bound);
    result = { perTick, ticks: stats.ticks, directYields: stats.directYields, datagrams: got[0] };
  });
  return result!;
}

// As a worker: one question, one answer.
// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
if (typeof scope.WorkerGlobalScope !== "undefined" && scope instanceof scope.WorkerGlobalScope) {
  scope.onmessage = async (e: MessageEvent<TickAllocAsk>) => {
    scope.postMessage(await measureTickAlloc(e.data));
  };
}
