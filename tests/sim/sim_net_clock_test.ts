// The simulated network's clock: SimNet.run jumps to the exact time of the next event, so a
// frame is received when it arrives — not at the next whole millisecond. Delivery-rate and
// RTT samples (BBR's BtlBw and RTprop) are only as fine as this clock.

import assert from "node:assert/strict";
import { connectPair, makeSimNet } from "../harness/sim_net.ts";

Deno.test("sim net: a segment is received at its exact arrival time, fractions of a ms included", () => {
  const rate = 10e6;
  const net = makeSimNet({ wire: { delayMs: 20, rateBitsPerSec: rate } });
  const { c, s } = connectPair(net);
  const payload = new Uint8Array(100);
  const buf = new Uint8Array(256);
  let sentAt = -1;
  let got = 0;
  assert.ok(net.run(() => {
    if (sentAt < 0) {
      assert.equal(c.write(payload, 0, payload.length), payload.length);
      sentAt = net.clock.nowMs();
    }
    got += s.read(buf, 0, buf.length) > 0 ? 1 : 0;
    return got > 0;
  }, 1000));
  // 20 ms on the wire plus the frame's serialisation: Ethernet, IPv4, TCP with timestamps.
  const frameBytes = 14 + 20 + 20 + 12 + payload.length;
  const expect = 20 + (frameBytes * 8 * 1000) / rate; // 20.1328 ms
  const took = net.clock.nowMs() - sentAt;
  assert.ok(Math.abs(took - expect) < 1e-6, `received after ${took} ms, arrived after ${expect}`);
});
