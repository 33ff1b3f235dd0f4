import assert from "node:assert/strict";
import { DatagramRing } from "../../core/datagram_ring.ts";

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seed + i) & 0xff;
  return b;
}

function recordOf(r: DatagramRing, slot: number): Uint8Array {
  const o = r.offsetOf(slot);
  return r.data.slice(o, o + r.lengthOf(slot));
}

Deno.test("datagram ring: FIFO records, each contiguous, copied out with take", () => {
  const r = new DatagramRing(100, 8);
  assert.ok(r.push(bytes(40, 1), 0, 40) >= 0);
  assert.ok(r.push(bytes(30, 2), 0, 30) >= 0);
  assert.equal(r.push(bytes(40, 3), 0, 40), -1, "no contiguous room: 30 left at the end");
  assert.equal(r.queued, 2);
  assert.equal(r.bytes, 70);
  let s = r.take();
  assert.deepEqual(recordOf(r, s), bytes(40, 1));
  // The first 40 bytes are free again: a 40-byte record wraps to offset 0.
  const w = r.push(bytes(40, 3), 0, 40);
  assert.equal(r.offsetOf(w), 0);
  s = r.take();
  assert.deepEqual(recordOf(r, s), bytes(30, 2));
  s = r.take();
  assert.deepEqual(recordOf(r, s), bytes(40, 3));
  assert.equal(r.take(), -1);
  assert.equal(r.held, 0);
  assert.equal(r.bytes, 0);
});

Deno.test("datagram ring: lend in place, give back in any order, space reclaimed in order", () => {
  const r = new DatagramRing(90, 8);
  for (let i = 0; i < 3; i++) r.push(bytes(30, i), 0, 30);
  const a = r.lend();
  const b = r.lend();
  const c = r.lend();
  assert.equal(r.lent, 3);
  assert.equal(r.queued, 0);
  assert.deepEqual(recordOf(r, b), bytes(30, 1), "a lent record is read where it lies");
  const gb = r.generationOf(b);
  assert.ok(r.giveBack(b, gb));
  assert.equal(r.giveBack(b, gb), false, "a second give-back is refused");
  assert.equal(r.push(bytes(10, 9), 0, 10), -1, "b's space waits for a (older) to be done");
  assert.ok(r.giveBack(a, r.generationOf(a)));
  assert.equal(r.held, 1, "a and b reclaimed, c still lent");
  assert.ok(r.push(bytes(50, 7), 0, 50) >= 0);
  assert.ok(r.giveBack(c, r.generationOf(c)));
  assert.equal(r.lent, 0);
  assert.deepEqual(recordOf(r, r.take()), bytes(50, 7));
});

Deno.test("datagram ring: take skips nothing lent; stale and bogus give-backs refused", () => {
  const r = new DatagramRing(64, 4);
  r.push(bytes(8, 1), 0, 8);
  r.push(bytes(8, 2), 0, 8);
  const lent = r.lend();
  const gen = r.generationOf(lent);
  const taken = r.take();
  assert.deepEqual(recordOf(r, taken), bytes(8, 2), "take copies the oldest queued record");
  assert.equal(r.held, 2, "held behind the lent one");
  assert.equal(r.giveBack(lent, gen + 1), false);
  assert.equal(r.giveBack(-1, gen), false);
  assert.equal(r.giveBack(99, gen), false);
  assert.ok(r.giveBack(lent, gen));
  assert.equal(r.held, 0);
  // The slot is reused with a new generation: the old lease no longer names it.
  const again = r.push(bytes(4, 3), 0, 4);
  assert.equal(r.lend(), again);
  assert.equal(r.giveBack(again, gen), false, "the old generation names no record");
  assert.ok(r.giveBack(again, r.generationOf(again)));
});

Deno.test("datagram ring: record and slot limits; empty records queue", () => {
  const r = new DatagramRing(16, 3);
  assert.ok(r.push(new Uint8Array(0), 0, 0) >= 0);
  assert.ok(r.push(new Uint8Array(0), 0, 0) >= 0);
  assert.ok(r.push(bytes(2, 0), 0, 2) >= 0);
  assert.equal(r.push(bytes(1, 0), 0, 1), -1, "3 slots");
  assert.equal(r.lengthOf(r.take()), 0);
  assert.equal(r.push(bytes(17, 0), 0, 17), -1, "larger than the ring");
  const big = new DatagramRing(16, 4);
  assert.ok(big.push(bytes(16, 0), 0, 16) >= 0, "a record may fill the ring when it is empty");
});

Deno.test("datagram ring: grow keeps records in order, refused while lent; clear drops all", () => {
  const r = new DatagramRing(40, 8);
  r.push(bytes(20, 1), 0, 20);
  r.push(bytes(15, 2), 0, 15);
  r.take();
  r.push(bytes(20, 3), 0, 20); // wraps to 0
  assert.ok(r.grow(200));
  assert.equal(r.capacity, 200);
  assert.deepEqual(recordOf(r, r.take()), bytes(15, 2));
  const l = r.lend();
  assert.equal(r.grow(400), false);
  assert.deepEqual(recordOf(r, l), bytes(20, 3));
  r.push(bytes(100, 4), 0, 100);
  r.clear();
  assert.equal(r.held, 0);
  assert.equal(r.lent, 0);
  assert.equal(r.giveBack(l, 1), false);
  assert.ok(r.grow(400));
});

Deno.test("datagram ring: a long random run keeps contents and accounting exact", () => {
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const r = new DatagramRing(4096, 64);
  const queue: Uint8Array[] = []; // queued, oldest first
  const lent: { slot: number; gen: number; want: Uint8Array }[] = [];
  let pushed = 0;
  for (let step = 0; step < 20_000; step++) {
    const x = next();
    if (x < 0.45) {
      const d = bytes(Math.floor(next() * 700), step);
      if (r.push(d, 0, d.length) >= 0) {
        queue.push(d);
        pushed++;
      }
    } else if (x < 0.65) {
      const s = r.take();
      if (s >= 0) assert.deepEqual(recordOf(r, s), queue.shift());
    } else if (x < 0.85) {
      const s = r.lend();
      if (s >= 0) lent.push({ slot: s, gen: r.generationOf(s), want: queue.shift()! });
    } else if (lent.length > 0) {
      const i = Math.floor(next() * lent.length);
      const l = lent.splice(i, 1)[0];
      assert.deepEqual(recordOf(r, l.slot), l.want, "a lent record is not overwritten");
      assert.ok(r.giveBack(l.slot, l.gen));
    }
    assert.equal(r.queued, queue.length);
    assert.equal(r.lent, lent.length);
  }
  assert.ok(pushed > 2000, `${pushed} pushed`);
});
