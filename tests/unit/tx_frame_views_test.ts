import assert from "node:assert/strict";
import { BufferPool, HEADROOM_BYTES } from "../../core/packet_buffer.ts";
import { AfPacketRingStats } from "../../drivers/af_packet_ring.ts";
import { memoryTxRing } from "../harness/memory_tx_ring.ts";
import { VIRTIO_NET_HDR_LEN } from "../../ffi/virtio_net.ts";
import { medianHeapGrowthPerUnit } from "../harness/heap_growth.ts";

/**
 * An in-memory TX ring whose kick gives every slot back at once (the kernel's part), with
 * frames of `len` bytes put from `buffers` pool buffers in turn, each at the same offset (a
 * UDP sender's datagrams: a frame longer than a header, behind the headroom).
 */
function ringAndFrames(len: number, buffers: number) {
  const stats = new AfPacketRingStats();
  // The kernel's part of a kick: every slot sent and available again.
  const statusWords: number[] = [];
  const { tx, slots: ringBytes, geometry } = memoryTxRing(stats, {
    send: () => {
      for (const w of statusWords) words[w] = 0;
      return 0;
    },
  });
  const words = new Uint32Array(ringBytes.buffer);
  for (let b = 0; b < geometry.blocks; b++) {
    for (let f = 0; f < geometry.framesPerBlock; f++) {
      statusWords.push((b * geometry.blockBytes + f * geometry.frameBytes) >>> 2);
    }
  }
  const pool = new BufferPool({ count: 16, bufferBytes: HEADROOM_BYTES + 9100 });
  const pbs = Array.from({ length: buffers }, () => pool.alloc(HEADROOM_BYTES)!);
  const off = HEADROOM_BYTES - 42; // Ethernet + IPv4 + UDP headers prepended in place
  pbs.forEach((pb, i) => pb.data.fill(0x5a + i, off, off + len)); // each buffer its own byte
  let n = 0;
  const put = (count: number) => {
    for (let i = 0; i < count; i++) {
      const pb = pbs[n++ % buffers];
      if (!tx.put(pb.data, off, len, null)) assert.fail("refused");
      if ((n & 7) === 0) tx.flush();
    }
  };
  return { tx, stats, put, puts: () => n, ring: ringBytes, geometry };
}

/** Measurements made at most, half a second apart, while the difference is at the bound. */
const SETTLE_ATTEMPTS = 6;
/** Most heap growth per long frame beyond a short one's (a `subarray` view is ~100 B). */
const MAX_EXTRA_BYTES_PER_PUT = 48;

Deno.test("tx ring: long frames copied out of pooled buffers make no view per frame", async () => {
  const big = ringAndFrames(8942, 3);
  const small = ringAndFrames(100, 3); // copied byte by byte: never a view
  // Measured again while the bound is missed: on a loaded machine V8's optimising compiler (a
  // thread of its own) may not yet have replaced the view table's lookup, and the mid tier's
  // code makes a heap number of each hash step outside the small-integer range (~75 B per put,
  // seen once in CI). A view made per frame stays at every attempt.
  let bigB = Infinity, smallB = 0, attempts = 0;
  while (attempts < SETTLE_ATTEMPTS && bigB - smallB >= MAX_EXTRA_BYTES_PER_PUT) {
    if (attempts++ > 0) await new Promise((r) => setTimeout(r, 500));
    big.put(20_000);
    small.put(20_000);
    [bigB, smallB] = medianHeapGrowthPerUnit([
      { step: () => big.put(2_000), units: big.puts },
      { step: () => small.put(2_000), units: small.puts },
    ], 15);
  }
  // Before the frame views were kept: one `subarray` (~100 B) per 8,942-byte frame.
  assert.ok(
    bigB - smallB < MAX_EXTRA_BYTES_PER_PUT,
    `8,942-byte frames ${bigB.toFixed(2)} B per put, 100-byte ${smallB.toFixed(2)} ` +
      `(${attempts} measurements)`,
  );
  assert.equal(big.stats.txDropped, 0);
  assert.ok(big.tx.frameViewMisses <= 3, `${big.tx.frameViewMisses} views made`);
  assert.ok(big.tx.frameViewHits >= big.puts() - 3);
  // The ring's driver counters hold the table's counts.
  assert.equal(big.stats.txFrameViewMisses, big.tx.frameViewMisses);
  assert.equal(big.stats.txFrameViewHits, big.tx.frameViewHits);
  // The bytes arrive, each slot from its own buffer (a view of another buffer would copy the
  // wrong byte): slot k (status @0, data at +32 behind the vnet header) holds put k's frame.
  const frames = big.puts();
  const slots = big.geometry;
  const perRing = slots.framesPerBlock * slots.blocks;
  for (let k = 0; k < 3; k++) {
    const put = frames - perRing + k; // the last pass over the ring's slots
    const slot = put % perRing;
    const block = Math.floor(slot / slots.framesPerBlock);
    const at = block * slots.blockBytes + (slot % slots.framesPerBlock) * slots.frameBytes;
    const data = at + 32 + VIRTIO_NET_HDR_LEN;
    const want = 0x5a + (put % 3);
    assert.ok(
      big.ring.subarray(data, data + 8942).every((b) => b === want),
      `slot ${slot}: not buffer ${put % 3}'s bytes`,
    );
  }
});
