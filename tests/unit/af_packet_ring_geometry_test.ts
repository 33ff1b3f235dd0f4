// The af_packet driver's ring sizes per MTU, without a kernel (packetRingGeometry is pure):
// with the split receive a jumbo link gets MTU-sized slots, seven times the frames of the 68 KiB
// slots in less memory; without it (a fanout group) the 68 KiB slots stay.

import assert from "node:assert/strict";
import {
  AF_PACKET_RING_MAX_RX_LARGE_FRAME_BYTES,
  AF_PACKET_RING_MIN_RX_LARGE_FRAME_BYTES,
  packetRingGeometry,
  packetRingSizes,
  rxLargeSlotBytes,
} from "../../drivers/af_packet_ring_setup.ts";
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

Deno.test("ring geometry: rxLargeFrameBytes sizes the large slots for BIG TCP, memory unchanged", () => {
  // The default: a 64 KB super-frame, 15 slots of 68 KiB per 1 MiB block.
  assert.equal(
    rxLargeSlotBytes(AF_PACKET_RING_MIN_RX_LARGE_FRAME_BYTES),
    AF_PACKET_RING_V2_FRAME_BYTES,
  );
  const def = packetRingGeometry(9000, 9000, true, packetRingSizes({ ifname: "us0" }));
  assert.equal(def.rxLargeSlotBytes, AF_PACKET_RING_V2_FRAME_BYTES);
  // A kernel peer with gso_ipv4_max_size 185000: slots of 185,104 bytes, five per block.
  const big = packetRingSizes({ ifname: "us0", rxLargeFrameBytes: 185_018 });
  const split = packetRingGeometry(9000, 9000, true, big);
  assert.equal(split.rxLargeSlotBytes, 185_104, "76 + 185,018, 16-aligned");
  assert.equal(split.rxLargeBlocks, 16, "the second ring keeps its 16 MiB");
  assert.equal(split.rxFrameBytes, 9104, "the MTU-sized slots are untouched");
  // One ring of large slots (no split): the 35 MiB of the default, in fewer, larger slots.
  const one = packetRingGeometry(
    9000,
    9000,
    true,
    packetRingSizes({ ifname: "us0", rxSplit: false, rxLargeFrameBytes: 185_018 }),
  );
  assert.equal(one.rxFrameBytes, 185_104);
  assert.equal(one.rxBlocks, 35);
  assert.equal(one.rxFrames, 35 * 5);
  // The bounds: 69,828 (a 64 KB super-frame) .. 512 KiB; v2 only.
  assert.throws(() => packetRingSizes({ ifname: "us0", rxLargeFrameBytes: 65_536 }), RangeError);
  assert.throws(
    () =>
      packetRingSizes({
        ifname: "us0",
        rxLargeFrameBytes: AF_PACKET_RING_MAX_RX_LARGE_FRAME_BYTES + 1,
      }),
    RangeError,
  );
  assert.throws(
    () => packetRingSizes({ ifname: "us0", rxRing: "v3", rxLargeFrameBytes: 100_000 }),
    RangeError,
  );
  const max = packetRingGeometry(
    9000,
    9000,
    true,
    packetRingSizes({ ifname: "us0", rxLargeFrameBytes: AF_PACKET_RING_MAX_RX_LARGE_FRAME_BYTES }),
  );
  assert.ok(max.rxLargeSlotBytes <= 1 << 20, "one slot still fits a 1 MiB block");
  assert.equal(max.rxLargeBlocks, 64, "at least 64 slots in the second ring");
  const third = packetRingGeometry(
    9000,
    9000,
    true,
    packetRingSizes({ ifname: "us0", rxLargeFrameBytes: 262_162 }),
  );
  assert.equal(third.rxLargeBlocks, 22, "three 256 KiB slots per block: 22 blocks, 66 slots");
});
