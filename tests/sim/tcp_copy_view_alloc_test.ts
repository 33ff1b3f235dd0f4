// No `subarray` view per segment for the TCP receive copies at MTU 1500 in the pattern of the
// real path (bench/heap_wire.ts against socat), which the simulated wire does not make: its
// frames are all alike and sit in few places, so the table of views hits there on main too.
//
// The AF_PACKET ring's split receive at MTU 1500 holds a kernel sender's small frames
// in 20,960 slots of 1,600 bytes and its GRO super-frames in 240 slots of 68 KiB; socat's
// 8,192-byte writes arrive as a 7,240-byte super-frame and a 952-byte tail, so one lap of the
// small ring is ~21,000 views in the TCP layer's table of 32,768 (`rcvCopyViews`). With two
// places per key the table dropped live views and missed 5–7 % of the copies (~1.7 B per wire
// packet); two buckets of four places per key hold the lap. Main's table: 5.7 B per segment
// here (3,033 views for 72,000 copies); the buckets: 0.8–1.0 (142, the super-frames of a new
// length) (bench/README.md, "view41").

import assert from "node:assert/strict";
import { type HeapRun, medianHeapGrowthPerUnit } from "../harness/heap_growth.ts";
import { makeSimNet } from "../harness/sim_net.ts";
import { ByteRing } from "../../core/byte_ring.ts";

/** Most heap growth per segment (a view is ~100 B: one per 50 segments breaks it). */
const MAX_BYTES_PER_SEGMENT = 2;
/** Measured windows. */
const ROUNDS = 9;
const MSS = 1448;

/** A seeded generator of 31-bit numbers (xorshift). */
function rng(seed: number): () => number {
  let x = seed | 0;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x & 0x7fffffff;
  };
}

/** The receive pattern: frames of the split receive's two rings into a receive buffer. */
function receiveRun(): HeapRun & { misses: () => number; copies: () => number } {
  const net = makeSimNet({ mtu: 1500 });
  const views = net.b.tcp.rcvCopyViews;
  const small = { blocks: 32, perBlock: 655, slot: 1600 };
  const large = { blocks: 16, perBlock: 15, slot: 68 * 1024 };
  const smallBytes = small.blocks * (1 << 20);
  const mapping = new Uint8Array(smallBytes + large.blocks * (1 << 20));
  const hdr = 82; // the slot's header, the vnet header, Ethernet, IPv4 and TCP with timestamps
  const rx = new ByteRing(4 << 20);
  const out = new Uint8Array(1 << 20);
  const next = rng(7);
  let s = 0, l = 0, copies = 0;
  const smallOff = (i: number) =>
    Math.floor(i / small.perBlock) * (1 << 20) + (i % small.perBlock) * small.slot + hdr;
  const largeOff = (i: number) =>
    smallBytes + Math.floor(i / large.perBlock) * (1 << 20) + (i % large.perBlock) * large.slot +
    hdr;
  const nSmall = small.blocks * small.perBlock, nLarge = large.blocks * large.perBlock;
  const frame = (off: number, len: number) => {
    if (rx.free < len) rx.read(out, 0, out.length);
    rx.write(mapping, off, len, views);
    copies++;
  };
  const step = (writes: number) => {
    for (let i = 0; i < writes; i++) {
      // socat's 8,192 bytes: a 5-MSS super-frame and a 952-byte tail, now and then a
      // super-frame of another length (GRO's cut).
      const r = next() % 256;
      frame(largeOff(l), (r === 0 ? 1 + (next() % 45) : 5) * MSS);
      l = (l + 1) % nLarge;
      frame(smallOff(s), 952);
      s = (s + 1) % nSmall;
    }
  };
  step(3 * nSmall); // warm: three laps of the small ring
  return {
    step: () => step(4000),
    units: () => copies,
    misses: () => views.misses,
    copies: () => copies,
  };
}

Deno.test(`sim tcp copy view alloc: the receive copies' views grow the heap < ${MAX_BYTES_PER_SEGMENT} B per segment in an MTU 1500 ring's pattern`, () => {
  const runs = [receiveRun()];
  const misses0 = runs[0].misses(), copies0 = runs[0].copies();
  const [rx] = medianHeapGrowthPerUnit(runs, ROUNDS);
  const msg = `${rx.toFixed(2)} B per received segment; views made ${
    runs[0].misses() - misses0
  } of ${runs[0].copies() - copies0} copies`;
  assert.ok(rx < MAX_BYTES_PER_SEGMENT, msg);
});
