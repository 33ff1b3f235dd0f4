/**
 * A process of its own for `loop_spin_alone_test.ts` (V8's flags are per process): an idle
 * busy-polling loop on the UDP rig whose clock says every `sched_yield` of the busy poll took
 * 20 µs — another task had the CPU, as beside busy processes — for `TRAIN_YIELDS` first
 * yields, enough for V8 to compile the busy poll; then that each took 1 µs (it came straight
 * back) for `ALONE_YIELDS`. Prints a `phase` JSON line at each change with the loop's yield
 * counters; run it with `--trace-deopt` to see what V8 threw away once the yields came back
 * alone.
 *
 * @module
 */

import { MonotonicClock, type MonotonicSource } from "../../core/clock.ts";
import { EventLoop } from "../../stack/event_loop.ts";
import { makeUdpRxRig } from "../harness/udp_rx_rig.ts";

/**
 * First yields of the first phase, all taken by another task: V8 compiles the busy poll in
 * far fewer (a first yield per spin; it compiles a function after some hundreds to thousands
 * of calls, and a loop within one sooner).
 */
const TRAIN_YIELDS = 20_000;
/** First yields of the second phase, all alone. */
const ALONE_YIELDS = 2_000;
/** Longest either phase waits for its count (ms): beside busy processes a yield takes ~4 ms. */
const PHASE_MAX_MS = 8_000;

/**
 * A clock source that moves `step` ms per read from the real time at its start: each yield of
 * the busy poll (a read either side) appears to take `step`.
 */
class SteppedSource implements MonotonicSource {
  /**
   * The step (ms), in a cell: a field written mid-run changed its constness, and V8 threw
   * away every function compiled on it — the busy poll too, which then began again on fresh
   * feedback before the first yield alone, hiding what this isolate is for.
   */
  readonly step = new Float64Array([0.02]);
  #t = performance.now();
  readMs(out: Float64Array): void {
    this.#t += this.step[0];
    out[0] = this.#t;
  }
}

const source = new SteppedSource();
const rig = makeUdpRxRig({ mtu: 1500, clock: new MonotonicClock(source) });
// One datagram, then nothing: the loop busy-polls from then on (a busy poll that never ends
// in this clock's time), every spin's first poll with a yield (`spinQuietUs` 0).
rig.driver.framesPerReceive = 1;
rig.driver.limit = 1;
const loop = new EventLoop(rig.stack, { busyPollUs: 1e12, spinQuietUs: 0 });
const running = loop.run();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const phase = (name: string) => {
  const s = loop.stats;
  console.log(JSON.stringify({
    phase: name,
    spins: s.spins,
    spinFirstYields: s.spinFirstYields,
    spinFirstAlone: s.spinFirstAlone,
  }));
};
/** Wait until `field` of the loop's counters reaches `n`, at most {@link PHASE_MAX_MS}. */
async function until(field: "spinFirstYields" | "spinFirstAlone", n: number): Promise<void> {
  const end = performance.now() + PHASE_MAX_MS;
  while (loop.stats[field] < n && performance.now() < end) await sleep(10);
}
await until("spinFirstYields", TRAIN_YIELDS);
phase("alone");
source.step[0] = 0.001;
await until("spinFirstAlone", ALONE_YIELDS);
phase("end");
await loop.close();
await running;
rig.stack.close();
