/**
 * A busy event loop on the UDP receive rig, for allocation tests of the loop and of what a
 * listener does per datagram: the rig replays one 8,900-byte datagram per tick without end (MTU
 * 9000, the real clock), a synchronous listener drains the socket inside the tick as
 * `uperf server --udp` does, and the loop turns Deno's event loop only every 5 ms. The body runs
 * once the loop has run 1.5 s (optimised code); the loop and the stack are closed afterwards,
 * also when the body throws.
 *
 * @module
 */

import { makeUdpRxRig } from "./udp_rx_rig.ts";
import { medianHeapGrowthPerUnitAsync } from "./heap_growth.ts";
import { MonotonicClock } from "../../core/clock.ts";
import { EventLoop } from "../../stack/event_loop.ts";
import { UdpPeer } from "../../transport/udp_records.ts";
import type { UdpEndpoint } from "../../transport/udp.ts";

/** How long the loop runs before the body (ms): long enough for V8's optimised code. */
const WARM_UP_MS = 1500;

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise<void>((r) => setTimeout(r, ms));
}

/**
 * Runs `body` against a busy loop whose socket is drained by `drain` (called as the socket's
 * synchronous listener with the socket, a zero-length sink and a reused peer record).
 */
export async function withBusyUdpLoop(
  drain: (socket: UdpEndpoint, sink: Uint8Array, peer: UdpPeer) => void,
  body: (loop: EventLoop) => Promise<void>,
): Promise<void> {
  const rig = makeUdpRxRig({ mtu: 9000, clock: new MonotonicClock() });
  rig.driver.framesPerReceive = 1;
  rig.driver.limit = Number.MAX_SAFE_INTEGER;
  const sink = new Uint8Array(0);
  const peer = new UdpPeer();
  const socket = rig.socket;
  socket.wq.listener = () => drain(socket, sink, peer);
  socket.wq.listenerSync = true;
  const loop = new EventLoop(rig.stack, { denoTurnUs: 5000 });
  const running = loop.run();
  try {
    await sleep(WARM_UP_MS);
    await body(loop);
  } finally {
    await loop.close();
    await running;
    rig.stack.close();
  }
}

/** Measurements {@link settledGrowthPerUnit} makes at most, a second apart. */
const SETTLE_ATTEMPTS = 6;

/**
 * The loop's heap growth per unit (the median of 11 windows of `windowMs`), measured again a
 * second later while it is `bound` or more, up to {@link SETTLE_ATTEMPTS} times; returns the
 * last. On a loaded machine V8's optimising compiler (a thread of its own) may not have replaced
 * the loop's code 1.5 s in, and the mid tier's code makes a heap number per tick (16 B); an
 * allocation of the code itself stays at every attempt.
 */
export async function settledGrowthPerUnit(
  units: () => number,
  windowMs: number,
  bound: number,
): Promise<number> {
  let perUnit = Infinity;
  for (let attempt = 0; attempt < SETTLE_ATTEMPTS; attempt++) {
    if (attempt > 0) await sleep(1000);
    [perUnit] = await medianHeapGrowthPerUnitAsync([{ step: () => sleep(windowMs), units }], 11);
    if (perUnit < bound) break;
  }
  return perUnit;
}

/**
 * Post `ask` to a worker running `module` (a fresh V8 isolate: its own type feedback and
 * optimised code, whatever this process ran before) and resolve with the first message it
 * posts back; the worker is ended either way. The module answers one message with one.
 */
export function inFreshIsolate<Ask, Answer>(module: URL, ask: Ask): Promise<Answer> {
  const worker = new Worker(module.href, { type: "module" });
  return new Promise<Answer>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<Answer>) => resolve(e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      reject(new Error(`${module.pathname}: ${e.message}`));
    };
    worker.postMessage(ask);
  }).finally(() => worker.terminate());
}
