// Pacing when the sender's event loop turns slower than the pacing horizon: a loop busy with
// its own transmissions (bench:cc without loss: 1.3–2 ms per tick) serves the pacer late,
// and a pacer that forgets that lateness paces below its own rate — BBR then measures the
// lower rate as the bottleneck's and settles there (bench/README.md, branch bbr11).

import assert from "node:assert/strict";
import { BulkFlow, connectPair, makeSimNet } from "../harness/sim_net.ts";
import { type Bbr, BBR_PROBE_BW } from "../../transport/tcp/congestion/bbr.ts";

const FRAME_OVERHEAD = 14 + 20 + 20 + 12; // Ethernet, IPv4, TCP with timestamps
const MSS = 1448;
/** The sender's loop turns every this many ms (its receiver's, and the wire, run exactly). */
const SENDER_TICK_MS = 3;
/** Host b's and the wire's time step (ms) between events. */
const STEP_MS = 0.05;

for (const cc of ["bbr"]) {
  Deno.test(`tcp pacing: ${cc} fills a 20 Mbit/s bottleneck (≥ 90 %) though its loop turns only every ${SENDER_TICK_MS} ms`, () => {
    // 20 Mbit/s, 20 ms RTT; the link has no TSO, so a paced burst is one segment and what a
    // late wake-up may send is the pacer's credit alone.
    const rate = 20e6;
    const net = makeSimNet({
      wire: { delayMs: 10, rateBitsPerSec: rate, bottleneckQueueFrames: 200, queueFrames: 4096 },
      tcp: { congestionControl: cc },
    });
    const { c, s } = connectPair(net);
    const flow = new BulkFlow(c, s, 1 << 30);
    const { a, b, clock, wire } = net;
    // Host a (the sender) ticks on a fixed SENDER_TICK_MS grid; host b and the wire every
    // STEP_MS (frames waiting for a's next turn would stall an event-driven clock).
    let nextA = Math.ceil(clock.nowMs() / SENDER_TICK_MS) * SENDER_TICK_MS;
    const runFor = (ms: number): void => {
      const end = clock.nowMs() + ms;
      while (clock.nowMs() < end) {
        const next = Math.min(b.nextDeadlineMs(), wire.nextEventMs(), nextA);
        const step = clock.nowMs() + STEP_MS;
        clock.set(next > clock.nowMs() && next < step ? next : step);
        if (clock.nowMs() >= nextA) {
          flow.step();
          a.tick();
          nextA += SENDER_TICK_MS;
        }
        b.tick();
        flow.step();
      }
    };
    runFor(2000);
    const t0 = clock.nowMs();
    const r0 = flow.read;
    runFor(3000);
    const got = (flow.read - r0) / (clock.nowMs() - t0);
    const link = (rate / 8000) * (MSS / (MSS + FRAME_OVERHEAD));
    const util = got / link;
    assert.ok(util >= 0.9, `${cc}: ${(util * 100).toFixed(1)} % of the link`);
    if (cc === "bbr") {
      const bbr = c.snd.cc as Bbr;
      assert.equal(bbr.state, BBR_PROBE_BW);
      assert.ok(
        bbr.btlBw >= 0.9 * link,
        `BtlBw ${bbr.btlBw.toFixed(0)} of ${link.toFixed(0)} B/ms`,
      );
    }
    assert.equal(a.stats.tcp.TCPTimeouts, 0);
  });
}
