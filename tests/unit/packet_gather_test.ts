import assert from "node:assert/strict";
import { ByteRing } from "../../core/byte_ring.ts";
import { BufferPool, HEADROOM_BYTES, type PayloadSource } from "../../core/packet_buffer.ts";
import { AfPacketRingStats } from "../../drivers/af_packet_ring.ts";
import { memoryTxRing } from "../harness/memory_tx_ring.ts";
import { VIRTIO_NET_HDR_LEN } from "../../ffi/virtio_net.ts";
import {
  DriverStats,
  GSO_TCPV4,
  type LinkDriver,
  NO_OFFLOADS,
  type RxBatch,
  TxOffload,
} from "../../link/driver.ts";
import { Stack } from "../../stack/stack.ts";

/** A ring whose readable bytes run across the end of its storage: 0..n-1 of a pattern. */
function wrappedRing(capacity: number, n: number, skip: number): ByteRing {
  const ring = new ByteRing(capacity);
  ring.write(new Uint8Array(skip), 0, skip);
  ring.consume(skip); // the read pointer now sits `skip` bytes in
  const data = new Uint8Array(n).map((_, i) => (i * 13 + 5) & 0xff);
  assert.equal(ring.write(data, 0, n), n);
  return ring;
}

Deno.test("packet buffer: a gathered payload counts in the length and flattens in place", () => {
  const pool = new BufferPool({ count: 2, bufferBytes: 2048 });
  const pb = pool.alloc(HEADROOM_BYTES)!;
  pb.data[pb.append(20)] = 0x45;
  const ring = wrappedRing(1000, 900, 700); // bytes 300..899 of the data sit at the start
  pb.gather(ring, 250, 500); // straddles the ring's wrap point
  assert.equal(pb.length, 520);
  assert.equal(pb.tail - pb.head, 20);
  assert.equal(pb.flatten(), true);
  assert.deepEqual([pb.length, pb.tail - pb.head, pb.gatherLength], [520, 520, 0]);
  for (let i = 0; i < 500; i++) {
    assert.equal(pb.data[pb.head + 20 + i], ((250 + i) * 13 + 5) & 0xff);
  }
  assert.equal(pb.flatten(), true, "nothing more to do");
  // More than the tailroom cannot be gathered (a stack bug, refused at once).
  assert.throws(() => pb.gather(ring, 0, pb.tailroom + 1), RangeError);
  // A source that holds fewer bytes than promised: flatten says so.
  const pb2 = pool.alloc(HEADROOM_BYTES)!;
  pb2.gather(ring, 800, 200);
  assert.equal(pb2.flatten(), false);
  // Freed and reused: no payload, no reference kept.
  pool.free(pb);
  assert.equal(pb.gatherSource, null);
  const again = pool.alloc(HEADROOM_BYTES)!;
  assert.deepEqual([again.length, again.gatherLength, again.gatherSource], [0, 0, null]);
});

Deno.test("tx ring: a gathered payload goes from the send ring into the slot behind the headers", () => {
  const stats = new AfPacketRingStats();
  const { tx, slots, words, geometry } = memoryTxRing(stats, { frames: 4 });
  const ring = wrappedRing(40_000, 30_000, 25_000); // wraps 15,000 bytes in
  const hdr = new Uint8Array(66).map((_, i) => 200 + (i % 50));
  const offload = new TxOffload();
  offload.needsCsum = true;
  offload.csumStart = 34;
  offload.csumOffset = 16;
  offload.gsoType = GSO_TCPV4;
  offload.gsoSize = 8948;
  offload.hdrLen = 66;
  const payloadLen = 3 * 8948;
  assert.ok(tx.put(hdr, 0, 66, offload, ring, 1_000, payloadLen));
  // Slot 0: status @0, len @4, data at +32 behind the 10-byte vnet header.
  assert.equal(words[1], VIRTIO_NET_HDR_LEN + 66 + payloadLen);
  const data = 32 + VIRTIO_NET_HDR_LEN;
  assert.deepEqual(slots.subarray(data, data + 66), hdr);
  for (let i = 0; i < payloadLen; i++) {
    if (slots[data + 66 + i] !== (((1_000 + i) * 13 + 5) & 0xff)) assert.fail(`payload byte ${i}`);
  }
  assert.deepEqual([stats.txFrames, stats.txBytes], [1, 66 + payloadLen]);
  // A payload the ring does not hold is refused, counted, and the slot is not published.
  assert.equal(tx.put(hdr, 0, 66, offload, ring, 29_000, 2_000), false);
  assert.deepEqual([stats.txFrames, stats.txDropped], [1, 1]);
  assert.equal(words[geometry.frameBytes >>> 2], 0, "slot 1 still free");
});

/** A driver without `transmitGather`: what it is handed. */
class PlainDriver implements LinkDriver {
  readonly name = "plain0";
  readonly kind = "sim";
  readonly mac = new Uint8Array([2, 0, 0, 0, 0, 1]);
  readonly mtu = 1500;
  readonly capabilities = NO_OFFLOADS;
  readonly fd = -1;
  readonly stats = new DriverStats();
  readonly frames: Uint8Array[] = [];
  receive(batch: RxBatch): number {
    batch.count = 0;
    return 0;
  }
  release(): void {}
  transmit(frame: Uint8Array, off: number, len: number): boolean {
    this.frames.push(frame.slice(off, off + len));
    return true;
  }
  flush(): void {}
  close(): void {}
}

Deno.test("nic: a driver without gather gets the payload copied behind the headers", () => {
  const stack = new Stack();
  const driver = new PlainDriver();
  const nic = stack.addNic(driver);
  driver.frames.length = 0; // what the NIC sent of its own (IPv6 start-up)
  const pb = stack.pool.alloc(HEADROOM_BYTES)!;
  const payload: PayloadSource = wrappedRing(3000, 2000, 2500);
  pb.data.fill(0xab, pb.append(20), pb.tail);
  pb.gather(payload, 100, 1400);
  assert.ok(nic.output(pb, new Uint8Array(6).fill(0xff), 0, 0x0800, null));
  assert.equal(driver.frames.length, 1);
  const f = driver.frames[0];
  assert.equal(f.length, 14 + 20 + 1400);
  assert.ok(f.subarray(14, 34).every((b) => b === 0xab));
  for (let i = 0; i < 1400; i++) assert.equal(f[34 + i], ((100 + i) * 13 + 5) & 0xff);
  stack.close();
});
