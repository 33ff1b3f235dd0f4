/**
 * A process of its own for `loop_drive_park_test.ts` (V8's flags are per process): a loop on
 * the UDP rig whose driver has a pollable fd (an eventfd nobody signals), first busy with a
 * datagram per tick drained by a synchronous listener — the loop runs without its async
 * function (`#drive`, a turn of Deno's event loop every `denoTurnUs`) for `TRAIN_MS` (the
 * argument, ms), long enough for V8 to compile it — then with no frame at all: the loop's idle
 * sequence (busy poll, blocking slices) runs driven so, and its park hands it back to the async
 * function. Prints a `phase` JSON line at each change with the loop's counts; run it with
 * `--trace-deopt` to see what V8 threw away at the hand-over.
 *
 * @module
 */

import { MonotonicClock } from "../../core/clock.ts";
import { LibcMonotonicTime } from "../../ffi/monotonic_time.ts";
import { close, eventfdCreate } from "../../ffi/syscalls.ts";
import { EventLoop } from "../../stack/event_loop.ts";
import { UdpPeer } from "../../transport/udp_records.ts";
import { makeUdpRxRig } from "../harness/udp_rx_rig.ts";

/** How long the loop is busy, driven without its async function (ms). */
const TRAIN_MS = Number(Deno.args[0] ?? 2000);
/** Longest the idle phase waits for its parks (ms). */
const PHASE_MAX_MS = 10_000;
/** Parks the idle phase waits for. */
const PARKS = 3;
/** Ticks of the first loop's rehearsals of the idle sequence. */
const REHEARSAL_TICKS = 300;

const rig = makeUdpRxRig({ mtu: 1500, clock: new MonotonicClock(new LibcMonotonicTime()) });
rig.driver.framesPerReceive = 1;
// A real fd the loop's poll set can hold (never readable): the idle loop blocks in slices and
// parks in poll().
const fd = eventfdCreate();
(rig.driver as unknown as { fd: number }).fd = fd;
const sink = new Uint8Array(0);
const peer = new UdpPeer();
const socket = rig.socket;
let got = 0;
socket.wq.listener = () => {
  while (socket.recvfrom(sink, 0, 0, peer) >= 0) got++;
};
socket.wq.listenerSync = true;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
// The idle sequence rehearsed first by a loop never driven without its async function (as a
// real stack rehearses it before its ready line): then the park's hand-over, not the idle
// paths of the tick, is what the second phase meets first.
// Woken from its park again and again (as `wakeParked` in cli/warm_up.ts does), until it has
// ticked `REHEARSAL_TICKS` times: under load an idle sequence is a few ticks, and V8 keeps
// feedback only from a function's 8th call on.
{
  rig.driver.limit = 0;
  const rehearsal = new EventLoop(rig.stack, { syncAfterQuietTicks: 1e9 });
  const running = rehearsal.run();
  const end = performance.now() + PHASE_MAX_MS;
  while (rehearsal.stats.ticks < REHEARSAL_TICKS && performance.now() < end) {
    const parks = rehearsal.stats.parks;
    while (!rehearsal.parked && performance.now() < end) await sleep(1);
    rehearsal.rehearseIdle();
    while (rehearsal.stats.parks === parks && performance.now() < end) await sleep(1);
  }
  await rehearsal.close();
  await running;
  rig.driver.limit = Number.MAX_SAFE_INTEGER;
}
const loop = new EventLoop(rig.stack, {});
const running = loop.run();
const phase = (name: string) => {
  const s = loop.stats;
  console.log(JSON.stringify({
    phase: name,
    ticks: s.ticks,
    directYields: s.directYields,
    blocks: s.blocks,
    parks: s.parks,
    datagrams: got,
  }));
};
await sleep(TRAIN_MS);
phase("idle");
rig.driver.limit = rig.driver.handedOut;
const parks = loop.stats.parks;
const end = performance.now() + PHASE_MAX_MS;
while (loop.stats.parks < parks + PARKS && performance.now() < end) await sleep(10);
phase("end");
await loop.close();
await running;
rig.stack.close();
close(fd);
