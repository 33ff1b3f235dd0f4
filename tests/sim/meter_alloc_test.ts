// `uperf`'s meter counts without a heap number per count: a busy loop on the UDP receive rig
// (one 8,900-byte datagram per tick, the real clock) drained by a synchronous listener that
// counts into a `Meter` as `uperf server --udp`'s does. With the counts as class fields the byte
// count (past 2^31 within a second) was a new heap number on every `+=`: 16.2 B per datagram
// here, also with the field begun as a double, where the same listener without the meter grew
// 0.2 (bench/README.md, "heap13q"). Now the counts live in a typed array: ~0.2.

import assert from "node:assert/strict";
import { settledGrowthPerUnit, withBusyUdpLoop } from "../harness/busy_udp_loop.ts";
import { Meter } from "../../cli/meter.ts";

/** Most heap growth per datagram (a heap number is 16 B). */
const MAX_BYTES_PER_DATAGRAM = 4;

Deno.test({
  name:
    `sim meter alloc: a listener counting into a Meter allocates < ${MAX_BYTES_PER_DATAGRAM} B per datagram`,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const meter = new Meter("server", true);
    await withBusyUdpLoop((socket, sink, peer) => {
      let packets = 0;
      let bytes = 0;
      while (socket.recvfrom(sink, 0, 0, peer) >= 0) {
        packets++;
        bytes += peer.length;
      }
      meter.packets += packets;
      meter.bytes += bytes;
    }, async () => {
      // The loop has run 1.5 s: optimised code, and the byte count well past 2^31.
      const perDatagram = await settledGrowthPerUnit(
        () => meter.packets,
        30,
        MAX_BYTES_PER_DATAGRAM,
      );
      assert.ok(meter.bytes > 2 ** 31, `${meter.bytes} bytes counted`);
      assert.equal(meter.bytes, meter.packets * 8900);
      assert.ok(
        perDatagram < MAX_BYTES_PER_DATAGRAM,
        `${perDatagram.toFixed(2)} B per datagram`,
      );
    });
  },
});
