import assert from "node:assert/strict";
import { LoopbackDriver } from "../../drivers/loopback.ts";
import { NO_OFFLOADS, RxBatch, TxOffload } from "../../link/driver.ts";
import { SeededRandom } from "../../core/random.ts";

/** A frame of `len` bytes whose content is derived from `id`. */
function frame(id: number, len: number): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = (id * 31 + i) & 0xff;
  return f;
}

function frameAt(batch: RxBatch, i: number): Uint8Array {
  return batch.buf[i].subarray(batch.off[i], batch.off[i] + batch.len[i]);
}

Deno.test("loopback: defaults", () => {
  const lo = new LoopbackDriver();
  assert.equal(lo.kind, "loopback");
  assert.equal(lo.name, "lo");
  assert.equal(lo.fd, -1);
  assert.equal(lo.mtu, 65536);
  assert.deepEqual(lo.mac, new Uint8Array(6));
  assert.equal(lo.capabilities, NO_OFFLOADS);
  const custom = new LoopbackDriver({
    name: "lo1",
    mtu: 1500,
    mac: new Uint8Array([2, 0, 0, 0, 0, 1]),
  });
  assert.equal(custom.mtu, 1500);
  assert.equal(custom.mac[5], 1);
  assert.throws(() => new LoopbackDriver({ mtu: 9000, queueBytes: 9000 }), RangeError);
});

Deno.test("loopback: frames come back after flush, in order, intact", () => {
  const lo = new LoopbackDriver();
  const batch = new RxBatch(16);
  const a = frame(1, 60);
  const b = frame(2, 65536 + 14); // a full-MTU frame
  assert(lo.transmit(a, 0, a.length, null));
  assert(lo.transmit(b, 0, b.length, null));
  assert.equal(lo.pendingFrames, 2);
  assert.equal(lo.receive(batch, 16), 0); // not flushed
  lo.flush();
  assert.equal(lo.readyFrames, 2);
  a.fill(0); // the driver owns copies
  assert.equal(lo.receive(batch, 16), 2);
  assert.equal(batch.count, 2);
  assert.deepEqual(frameAt(batch, 0), frame(1, 60));
  assert.deepEqual(frameAt(batch, 1), b);
  assert.equal(batch.flags[0], 0);
  lo.release(batch);
  assert.equal(lo.receive(batch, 16), 0);
  assert.equal(lo.stats.txFrames, 2);
  assert.equal(lo.stats.rxFrames, 2);
  assert.equal(lo.stats.rxBytes, 60 + 65550);
  assert.equal(lo.stats.txKicks, 1);
});

Deno.test("loopback: transmit from an offset; receive honours max and batch capacity", () => {
  const lo = new LoopbackDriver({ mtu: 1500 });
  const big = new Uint8Array(4000);
  for (let id = 0; id < 5; id++) {
    big.set(frame(id, 100), 1000);
    assert(lo.transmit(big, 1000, 100, null));
  }
  lo.flush();
  const small = new RxBatch(2);
  assert.equal(lo.receive(small, 10), 2);
  assert.deepEqual(frameAt(small, 1), frame(1, 100));
  assert.equal(lo.receive(small, 1), 1); // releases the previous batch first
  assert.deepEqual(frameAt(small, 0), frame(2, 100));
  lo.release(small);
  // pending frames transmitted while a batch is lent are kept behind it
  assert.equal(lo.receive(small, 2), 2);
  const extra = frame(9, 80);
  assert(lo.transmit(extra, 0, 80, null));
  lo.release(small);
  lo.flush();
  assert.equal(lo.receive(small, 2), 1);
  assert.deepEqual(frameAt(small, 0), extra);
});

Deno.test("loopback: bounded by frames and bytes, drops counted", () => {
  const lo = new LoopbackDriver({ mtu: 1500, queueFrames: 3, queueBytes: 4000 });
  const f = frame(1, 1514);
  assert(lo.transmit(f, 0, 1514, null));
  assert(lo.transmit(f, 0, 1514, null));
  assert.equal(lo.transmit(f, 0, 1514, null), false); // 4000 bytes hold two
  assert(lo.transmit(f, 0, 500, null));
  assert.equal(lo.transmit(f, 0, 60, null), false); // three frames max
  assert.equal(lo.stats.txRingFull, 2);
  assert.equal(lo.stats.txDropped, 2);
  assert.equal(lo.transmit(new Uint8Array(1515), 0, 1515, null), false); // > mtu + 14
  assert.equal(lo.transmit(f, 0, 13, null), false); // runt
  assert.equal(lo.transmit(f, 1000, 600, null), false); // outside the frame
  const offload = new TxOffload();
  offload.needsCsum = true;
  assert.equal(lo.transmit(f, 0, 60, offload), false);
  assert.equal(lo.stats.txDropped, 6);
  assert.equal(lo.stats.txRingFull, 2);
});

Deno.test("loopback: the byte ring wraps without corrupting frames (random sizes)", () => {
  const rng = new SeededRandom(4);
  const lo = new LoopbackDriver({ mtu: 1500, queueFrames: 16, queueBytes: 5000 });
  const batch = new RxBatch(8);
  const expected: Uint8Array[] = [];
  let sent = 0;
  let received = 0;
  let refused = 0;
  for (let round = 0; round < 3000; round++) {
    const burst = rng.nextInt(6);
    for (let i = 0; i < burst; i++) {
      const f = frame(sent, 14 + rng.nextInt(1501));
      if (lo.transmit(f, 0, f.length, null)) {
        expected.push(f);
        sent++;
      } else refused++;
    }
    if (rng.chance(0.7)) lo.flush();
    if (rng.chance(0.6)) {
      const n = lo.receive(batch, 1 + rng.nextInt(8));
      for (let i = 0; i < n; i++) assert.deepEqual(frameAt(batch, i), expected[received++]);
      if (rng.chance(0.5)) lo.release(batch); // else receive() releases it
    }
  }
  lo.flush();
  let n: number;
  while ((n = lo.receive(batch, 8)) > 0) {
    for (let i = 0; i < n; i++) assert.deepEqual(frameAt(batch, i), expected[received++]);
  }
  lo.release(batch);
  assert.equal(received, sent);
  assert(refused > 0 && sent > 1000, `sent ${sent} refused ${refused}`);
  assert.equal(lo.stats.txRingFull, refused);
});

Deno.test("loopback: close drops everything and further calls throw", () => {
  const lo = new LoopbackDriver();
  const f = frame(1, 60);
  lo.transmit(f, 0, 60, null);
  lo.close();
  assert.throws(() => lo.transmit(f, 0, 60, null), /closed/);
  assert.throws(() => lo.receive(new RxBatch(1), 1), /closed/);
  assert.throws(() => lo.flush(), /closed/);
});
