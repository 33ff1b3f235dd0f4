// The af_packet driver's ring sizes per MTU, without a kernel (packetRingGeometry is pure):
// with the split receive a jumbo link gets MTU-sized slots, seven times the frames of the 68 KiB
// slots in less memory; without it (a fanout group) the 68 KiB slots stay.

import assert from "node:assert/strict";
import { packetRingGeometry, packetRingSizes } from "../../drivers/af_packet_ring_setup.ts";
import { AF_PACKET_RING_V2_FRAME_BYTES } from "../../drivers/af_packet_rx_ring.ts";

Deno.test("ring geometry: MTU 9000 with the split receive has MTU-sized slots", () => {
  const g = packetRingGeometry(9000, 9000, true, packetRingSizes({ ifname: "us0" }));
  assert.equal(g.rxRing, "v2");
  assert.equal(g.rxFrameBytes, 9104, "76 + 14 + 4 + 9000, 16-aligned");
  assert.equal(g.rxBlocks, 32);
  assert.equal(g.rxFrames, 32 * 115, "3,680 frames, not 525");
  assert.equal(g.rxCopyMode, true);
  assert.equal(g.rxLargeBlocks, 16, "super-frames go to the second ring");
});

Deno.test("ring geometry: without the split receive MTU 9000 keeps 64 KiB slots", () => {
  // A fanout group's socket (rxSplit false): a super-frame must fit a slot.
  const g = packetRingGeometry(
    9000,
    9000,
    true,
    packetRingSizes({ ifname: "us0", rxSplit: false }),
  );
  assert.equal(g.rxFrameBytes, AF_PACKET_RING_V2_FRAME_BYTES);
  assert.equal(g.rxFrames, 525);
  assert.equal(g.rxCopyMode, false);
  assert.equal(g.rxLargeBlocks, 0);
  const fanout = packetRingSizes({ ifname: "us0", fanoutGroup: 7 });
  assert.equal(
    packetRingGeometry(9000, 9000, true, fanout).rxFrameBytes,
    AF_PACKET_RING_V2_FRAME_BYTES,
  );
});

Deno.test("ring geometry: MTU 1500 unchanged, above 9216 the 64 KiB slots stay", () => {
  const sizes = packetRingSizes({ ifname: "us0" });
  const g1500 = packetRingGeometry(1500, 1500, true, sizes);
  assert.equal(g1500.rxFrameBytes, 1600);
  assert.equal(g1500.rxFrames, 32 * 655);
  assert.equal(g1500.rxLargeBlocks, 16);
  const big = packetRingGeometry(16000, 16000, true, sizes);
  assert.equal(big.rxFrameBytes, AF_PACKET_RING_V2_FRAME_BYTES);
  assert.equal(big.rxLargeBlocks, 0);
  // An explicit choice still wins.
  const forced = packetRingSizes({ ifname: "us0", rxSmallSlots: false });
  assert.equal(packetRingGeometry(9000, 9000, true, forced).rxFrames, 525);
});
