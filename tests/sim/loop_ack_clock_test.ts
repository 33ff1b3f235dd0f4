// An ACK-clocked sender's loop: a TCP sender whose output pass stops on its congestion window
// with data still to send is counted (`TcpLayer.ackClock`), and the event loop, after a tick
// whose kick sent frames and saw such a stop, ticks again at once instead of turning Deno's
// event loop — on a local link the ACKs that open the window come back during the kick
// (bench/README.md, "ackclock11b"). Deno's event loop still turns at least every
// `ACK_CLOCK_TURN_MS`, and after a kick handed to a kicker thread as before.

import assert from "node:assert/strict";
import { BulkFlow, connectPair, makeSimNet } from "../harness/sim_net.ts";
import { ACK_CLOCK_TURN_MS, EventLoop } from "../../stack/event_loop.ts";
import { Stack } from "../../stack/stack.ts";
import { DriverStats, type LinkDriver, NO_OFFLOADS, type RxBatch } from "../../link/driver.ts";
import type { OutputSource } from "../../core/output_queue.ts";

Deno.test("tcp ack clock: a CUBIC sender under loss counts its passes stopped on cwnd; a receive-window-limited one none", () => {
  // 50 Mbit/s, 10 ms RTT, 1 % of the sender's frames lost: the window is cwnd's.
  const lossy = makeSimNet({
    wire: { seed: 7, delayMs: 5, rateBitsPerSec: 50e6, bottleneckQueueFrames: 4000 },
    tcp: { congestionControl: "cubic" },
  });
  {
    const { c, s } = connectPair(lossy);
    lossy.wire.setFaults({ lossRate: 0.01 }, lossy.portA);
    const flow = new BulkFlow(c, s, 1 << 30);
    const t0 = lossy.clock.nowMs();
    lossy.run(() => flow.step() || lossy.clock.nowMs() - t0 > 5_000, 10_000);
    const stops = lossy.tcpA.ackClock.cwndStops;
    assert.ok(stops > 100, `${stops} passes stopped on cwnd`);
    // The receiver sends ACKs only: no pass of its stops on a window.
    assert.equal(lossy.tcpB.ackClock.cwndStops, 0);
  }
  // A receiver that offers 16 KB, no loss: past slow start the peer's window holds the sender.
  const rwnd = makeSimNet({
    wire: { seed: 7, delayMs: 5, rateBitsPerSec: 1e9 },
    tcp: { congestionControl: "cubic" },
    tcpB: { receiveBufferBytes: 16_384, maxReceiveBufferBytes: 16_384 },
  });
  {
    const { c, s } = connectPair(rwnd);
    const flow = new BulkFlow(c, s, 1 << 30);
    const t0 = rwnd.clock.nowMs();
    rwnd.run(() => flow.step() || rwnd.clock.nowMs() - t0 > 2_000, 10_000);
    const stops0 = rwnd.tcpA.ackClock.cwndStops;
    const read0 = flow.read;
    rwnd.run(() => flow.step() || rwnd.clock.nowMs() - t0 > 4_000, 10_000);
    assert.ok(flow.read - read0 > 1_000_000, `${flow.read - read0} bytes moved`);
    assert.equal(rwnd.tcpA.ackClock.cwndStops - stops0, 0);
  }
});

/** A driver's counters with af_packet's count of kicks handed to a kicker thread. */
class KickerStats extends DriverStats {
  /** Kicks handed to a kicker thread. */
  txKickHandoffs = 0;
}

/**
 * A link that takes every frame and receives none (no fd: the loop waits on a JS timer); with
 * `handsOff` its every flush hands the kick to a kicker thread (counted as af_packet does).
 */
class SinkLink implements LinkDriver {
  /** Interface name. */
  readonly name = "ack0";
  /** Driver kind. */
  readonly kind = "sim";
  /** Our MAC. */
  readonly mac: Uint8Array = new Uint8Array([2, 0, 0, 0, 0, 1]);
  /** Link MTU. */
  readonly mtu = 1500;
  /** No offloads. */
  readonly capabilities = NO_OFFLOADS;
  /** No file descriptor. */
  readonly fd = -1;
  /** Counters. */
  readonly stats: KickerStats = new KickerStats();
  #queued = 0;
  constructor(readonly handsOff = false) {}
  /** Nothing to receive. */
  receive(batch: RxBatch, _max: number): number {
    batch.count = 0;
    return 0;
  }
  /** Nothing to give back. */
  release(_batch: RxBatch): void {}
  /** Count the frame. */
  transmit(_frame: Uint8Array, _off: number, _len: number): boolean {
    this.stats.txFrames++;
    this.#queued++;
    return true;
  }
  /** The kick: here, or handed off. */
  flush(): void {
    if (this.#queued === 0) return;
    this.#queued = 0;
    if (this.handsOff) this.stats.txKickHandoffs++;
    else this.stats.txKicks++;
  }
  /** Nothing held. */
  close(): void {}
}

/**
 * A sender stand-in: every output pass hands the link one frame and queues itself again (the
 * loop stays busy); with `cwndStops` each pass also counts a stop on the congestion window, as
 * a CUBIC sender's pass does under loss.
 */
class WindowSender implements OutputSource {
  outputQueued = false;
  readonly #frame = new Uint8Array(60);
  running = true;
  constructor(readonly stack: Stack, readonly link: SinkLink, readonly cwndStops: boolean) {}
  flushOutput(): void {
    if (!this.running) return;
    this.link.transmit(this.#frame, 0, 60);
    if (this.cwndStops) this.stack.tcp.ackClock.cwndStops++;
    this.stack.scheduleOutput(this);
  }
}

/** Ticks and turns of Deno's event loop over 300 ms of a busy loop with one sender stand-in. */
async function busyLoop(
  cwndStops: boolean,
  handsOff = false,
): Promise<{ ticks: number; yields: number }> {
  const stack = new Stack({ ipv6: { iface: { addresses: { dadTransmits: 0 } } } });
  const link = new SinkLink(handsOff);
  stack.addNic(link);
  // A turn of Deno's event loop after every busy tick otherwise (`denoTurnUs` 0).
  const loop = new EventLoop(stack, { denoTurnUs: 0 });
  const sender = new WindowSender(stack, link, cwndStops);
  const running = loop.run();
  try {
    stack.scheduleOutput(sender);
    await new Promise((r) => setTimeout(r, 50)); // optimised code
    const ticks0 = loop.stats.ticks;
    const yields0 = loop.stats.yields;
    await new Promise((r) => setTimeout(r, 300));
    return { ticks: loop.stats.ticks - ticks0, yields: loop.stats.yields - yields0 };
  } finally {
    sender.running = false;
    loop.stop();
    await running;
    stack.close();
  }
}

Deno.test({
  name:
    "sim loop ack clock: a tick that kicked frames and stopped on cwnd ticks again before Deno's turn",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // Deno's event loop still turns (its timers ran the test): at least once per 4 ms or so of
    // the 300 ms. On a loaded machine the process may get a fraction of a CPU for the whole
    // window (a full run once read 32 turns), so a miss is measured again, up to 5 times; a
    // loop that stopped turning misses at every attempt.
    const minTurns = 300 / (ACK_CLOCK_TURN_MS * 8);
    let clocked = await busyLoop(true);
    for (let i = 1; i < 5 && clocked.yields < minTurns; i++) clocked = await busyLoop(true);
    const plain = await busyLoop(false);
    // Kicks handed to a kicker thread: their ACKs are not due when the tick ends.
    const handedOff = await busyLoop(true, true);
    // The plain sender turns Deno's event loop after every busy tick; the ACK-clocked one at
    // most every ACK_CLOCK_TURN_MS — a tick is a few µs, so far fewer than one turn a tick
    // (a quarter leaves room for a loaded machine's stalls).
    assert.ok(plain.ticks > 200, `${plain.ticks} plain ticks`);
    assert.ok(
      plain.yields >= 0.5 * plain.ticks,
      `plain: ${plain.yields} turns, ${plain.ticks} ticks`,
    );
    assert.ok(clocked.ticks > 200, `${clocked.ticks} ACK-clocked ticks`);
    assert.ok(
      clocked.yields <= 0.25 * clocked.ticks,
      `ACK-clocked: ${clocked.yields} turns in ${clocked.ticks} ticks`,
    );
    assert.ok(clocked.yields >= minTurns, `${clocked.yields} turns`);
    assert.ok(handedOff.ticks > 200, `${handedOff.ticks} handed-off ticks`);
    assert.ok(
      handedOff.yields >= 0.5 * handedOff.ticks,
      `handed off: ${handedOff.yields} turns, ${handedOff.ticks} ticks`,
    );
  },
});
