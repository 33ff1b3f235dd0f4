// AF_XDP ring sides over plain memory: this test plays the kernel by reading and writing the
// producer/consumer words and entries itself, at the field offsets Linux reports.

import assert from "node:assert/strict";
import { XDP_PKT_CONTD, type XdpRingOffsets } from "../../ffi/if_xdp.ts";
import { XdpConsumerRing, XdpProducerRing, XdpRingMapping } from "../../drivers/xdp_ring.ts";

/** Offsets as `XDP_MMAP_OFFSETS` reports them on Linux 6.x (producer 0, consumer 128, desc 320). */
const OFFSETS: XdpRingOffsets = { producer: 0, consumer: 128, desc: 320, flags: 196 };
const PRODUCER = OFFSETS.producer / 4;
const CONSUMER = OFFSETS.consumer / 4;
const DESC = OFFSETS.desc / 4;

function ring(size: number, entryBytes: number): { words: Uint32Array; map: XdpRingMapping } {
  const words = new Uint32Array((OFFSETS.desc + size * entryBytes) / 4);
  return { words, map: new XdpRingMapping(words, OFFSETS, size, entryBytes) };
}

Deno.test("xdp ring: a producer writes descriptors, publishes, and waits for the consumer", () => {
  const { words, map } = ring(4, 16);
  const tx = new XdpProducerRing(map);
  assert.equal(tx.hasRoom(4), true);
  for (let i = 0; i < 4; i++) tx.setDesc(tx.head + i, 4096 * (i + 1), 100 + i, i % 2);
  tx.advance(4);
  assert.equal(words[PRODUCER], 0, "nothing is visible before publish");
  tx.publish();
  assert.equal(words[PRODUCER], 4);
  assert.deepEqual(Array.from(words.subarray(DESC, DESC + 8)), [4096, 0, 100, 0, 8192, 0, 101, 1]);
  assert.equal(tx.hasRoom(1), false, "full until the kernel consumes");
  assert.equal(tx.unconsumed(), 4);
  words[CONSUMER] = 3; // the kernel took three
  assert.equal(tx.hasRoom(3), true);
  assert.equal(tx.hasRoom(4), false);
  assert.equal(tx.unconsumed(), 1);
  // Entry 4 wraps onto slot 0.
  tx.setDesc(tx.head, 12345, 60, 0);
  assert.equal(words[DESC], 12345);
  assert.equal(words[DESC + 2], 60);
});

Deno.test("xdp ring: a consumer reads what the kernel published and releases it", () => {
  const { words, map } = ring(4, 16);
  const rx = new XdpConsumerRing(map);
  assert.equal(rx.available(), 0);
  // The kernel writes two descriptors, then moves its producer index.
  words.set([256, 0, 1514, XDP_PKT_CONTD, 4352, 0, 60, 0], DESC);
  words[PRODUCER] = 2;
  assert.equal(rx.available(), 2);
  assert.equal(rx.descAddr(rx.tail), 256);
  assert.equal(rx.descLen(rx.tail), 1514);
  assert.equal(rx.descOptions(rx.tail), XDP_PKT_CONTD);
  assert.equal(rx.descAddr(rx.tail + 1), 4352);
  assert.equal(rx.descOptions(rx.tail + 1), 0);
  rx.release(2);
  assert.equal(words[CONSUMER], 2, "the kernel may reuse both slots");
  assert.equal(rx.available(), 0);
  rx.release(0);
  assert.equal(words[CONSUMER], 2);
});

Deno.test("xdp ring: address rings and indices that wrap at 2^32", () => {
  const { words, map } = ring(8, 8);
  const fill = new XdpProducerRing(map);
  // Pretend both sides have gone round almost 2^32 entries.
  const start = 0xffff_fffe;
  fill.advance(start);
  words[CONSUMER] = start;
  assert.equal(fill.hasRoom(8), true);
  for (let i = 0; i < 4; i++) fill.setAddr((fill.head + i) >>> 0, 2048 * i);
  fill.advance(4);
  fill.publish();
  assert.equal(words[PRODUCER], 2, "the producer index wrapped");
  assert.equal(fill.unconsumed(), 4);
  // Slots 6, 7, 0, 1 (start & 7 = 6).
  assert.equal(words[DESC + 6 * 2], 0);
  assert.equal(words[DESC + 7 * 2], 2048);
  assert.equal(words[DESC + 0 * 2], 4096);
  assert.equal(words[DESC + 1 * 2], 6144);

  const cq = new XdpConsumerRing(new XdpRingMapping(words, OFFSETS, 8, 8));
  cq.release(start); // catch the consumer side up the same way
  assert.equal(cq.available(), 4);
  assert.deepEqual([0, 1, 2, 3].map((i) => cq.addrAt((cq.tail + i) >>> 0)), [0, 2048, 4096, 6144]);
  cq.release(4);
  assert.equal(words[CONSUMER], 2);
  assert.equal(cq.available(), 0);
});
