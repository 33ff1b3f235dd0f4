import assert from "node:assert/strict";
import { ByteRing, type ByteSpan } from "../../core/byte_ring.ts";
import { RingStoragePool } from "../../core/ring_storage.ts";
import { SubarrayCache } from "../../core/subarray_cache.ts";

/** Deterministic xorshift32 in [0, 2**32). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function bytes(...v: number[]): Uint8Array {
  return new Uint8Array(v);
}

function span(): ByteSpan {
  return { buf: new Uint8Array(0), off: 0, len: 0 };
}

Deno.test("constructor validates capacity", () => {
  assert.throws(() => new ByteRing(0), RangeError);
  assert.throws(() => new ByteRing(-1), RangeError);
  assert.throws(() => new ByteRing(1.5), RangeError);
  const r = new ByteRing(5);
  assert.equal(r.capacity, 5);
  assert.equal(r.length, 0);
  assert.equal(r.free, 5);
  assert.ok(r.isEmpty && !r.isFull);
});

Deno.test("write copies what fits, read copies out and consumes", () => {
  const r = new ByteRing(4);
  assert.equal(r.write(bytes(1, 2, 3, 4, 5, 6), 0, 6), 4);
  assert.ok(r.isFull);
  assert.equal(r.write(bytes(9), 0, 1), 0);
  const out = new Uint8Array(8);
  assert.equal(r.read(out, 1, 3), 3);
  assert.deepEqual([...out.subarray(0, 5)], [0, 1, 2, 3, 0]);
  assert.equal(r.length, 1);
  // Wraps: 3 more bytes go to the front of the storage.
  assert.equal(r.write(bytes(5, 6, 7), 0, 3), 3);
  assert.equal(r.read(out, 0, 8), 4);
  assert.deepEqual([...out.subarray(0, 4)], [4, 5, 6, 7]);
  assert.equal(r.read(out, 0, 8), 0);
});

Deno.test("write and read honour source/destination offsets and clip to their arrays", () => {
  const r = new ByteRing(16);
  assert.equal(r.write(bytes(1, 2, 3, 4), 2, 10), 2); // only 2 bytes exist from offset 2
  assert.equal(r.write(bytes(1, 2), 5, 1), 0); // offset past the end
  assert.equal(r.write(bytes(1, 2), -1, 1), 0);
  assert.equal(r.write(bytes(1, 2), 0, -3), 0);
  const out = new Uint8Array(3);
  assert.equal(r.read(out, 2, 5), 1); // room for one byte
  assert.equal(out[2], 3);
  assert.equal(r.length, 1);
});

Deno.test("large copies (above the loop threshold) across the wrap", () => {
  const r = new ByteRing(1000);
  const src = new Uint8Array(1500).map((_, i) => i * 7);
  assert.equal(r.write(src, 0, 700), 700);
  const out = new Uint8Array(1500);
  assert.equal(r.read(out, 0, 600), 600);
  assert.equal(r.write(src, 700, 800), 800); // wraps: 300 at the end, 500 at the front
  assert.equal(r.length, 900);
  assert.equal(r.read(out, 600, 900), 900);
  assert.deepEqual(out, src);
});

Deno.test("peek reads from an offset without consuming", () => {
  const r = new ByteRing(8);
  r.write(bytes(0, 1, 2, 3, 4, 5), 0, 6);
  r.consume(4);
  r.write(bytes(6, 7, 8, 9), 0, 4); // storage wraps
  const out = new Uint8Array(6);
  assert.equal(r.peek(out, 0, 1, 10), 5);
  assert.deepEqual([...out.subarray(0, 5)], [5, 6, 7, 8, 9]);
  assert.equal(r.length, 6);
  assert.equal(r.peek(out, 0, 6, 1), 0); // at the end
  assert.equal(r.peek(out, 0, 100, 1), 0);
  assert.equal(r.peek(out, 0, -1, 1), 0);
  assert.equal(r.peek(out, 5, 0, 4), 1); // destination room
  assert.equal(out[5], 4);
});

Deno.test("consume clips and returns what it dropped", () => {
  const r = new ByteRing(4);
  r.write(bytes(1, 2, 3), 0, 3);
  assert.equal(r.consume(0), 0);
  assert.equal(r.consume(-2), 0);
  assert.equal(r.consume(2), 2);
  assert.equal(r.consume(5), 1);
  assert.ok(r.isEmpty);
  // Consuming a full ring returns to the same storage position and still works.
  r.write(bytes(1, 2, 3, 4), 0, 4);
  assert.equal(r.consume(4), 4);
  r.write(bytes(9, 8), 0, 2);
  const out = new Uint8Array(2);
  r.read(out, 0, 2);
  assert.deepEqual([...out], [9, 8]);
});

Deno.test("writeAt stores out of order data that commit later makes readable", () => {
  const r = new ByteRing(10);
  r.write(bytes(1, 2), 0, 2);
  r.consume(1); // storage head moves so later data wraps
  assert.equal(r.writeAt(3, bytes(6, 7), 0, 2), 2); // offsets 3,4 past the end
  assert.equal(r.length, 1); // not readable yet
  assert.equal(r.writeAt(8, bytes(1, 2, 3), 0, 3), 1); // only offset 8 fits (free = 9)
  assert.equal(r.writeAt(9, bytes(1), 0, 1), 0);
  assert.equal(r.writeAt(-1, bytes(1), 0, 1), 0);
  const out = new Uint8Array(10);
  assert.equal(r.read(out, 0, 10), 1); // reading does not disturb uncommitted data
  assert.equal(out[0], 2);
  assert.equal(r.write(bytes(3, 4, 5), 0, 3), 3); // fills the hole (offsets 0..2)
  assert.equal(r.commit(2), 2); // offsets 3,4 of the old end are the new 0,1 past the end
  assert.equal(r.length, 5);
  assert.equal(r.read(out, 0, 10), 5);
  assert.deepEqual([...out.subarray(0, 5)], [3, 4, 5, 6, 7]);
  assert.equal(r.commit(100), 10); // clipped to free
  assert.equal(r.commit(-1), 0);
});

Deno.test("readableSpan gives the two contiguous runs", () => {
  const r = new ByteRing(8);
  r.write(bytes(0, 0, 0, 0, 0, 0), 0, 6);
  r.consume(6);
  r.write(bytes(1, 2, 3, 4, 5), 0, 5); // 2 at the end of storage, 3 at the front
  const s = span();
  assert.equal(r.readableSpan(0, s), 2);
  assert.deepEqual([...s.buf.subarray(s.off, s.off + s.len)], [1, 2]);
  assert.equal(r.readableSpan(2, s), 3);
  assert.equal(s.off, 0);
  assert.deepEqual([...s.buf.subarray(s.off, s.off + s.len)], [3, 4, 5]);
  assert.equal(r.readableSpan(1, s), 1);
  assert.equal(s.buf[s.off], 2);
  assert.equal(r.readableSpan(5, s), 0);
  assert.equal(s.len, 0);
  assert.equal(r.readableSpan(-1, s), 0);
  // Collect everything with the loop from the docs.
  const got: number[] = [];
  for (let at = 0; r.readableSpan(at, s) > 0; at += s.len) {
    got.push(...s.buf.subarray(s.off, s.off + s.len));
  }
  assert.deepEqual(got, [1, 2, 3, 4, 5]);
});

Deno.test("writableSpan gives free runs past the end (in order or out of order)", () => {
  const r = new ByteRing(8);
  r.write(bytes(0, 0, 0, 0, 0), 0, 5);
  r.consume(4); // head at 4, one readable byte at storage 4; end at storage 5
  const s = span();
  assert.equal(r.writableSpan(0, s), 3); // storage 5..7
  assert.equal(s.off, 5);
  s.buf.set([7, 8, 9], s.off);
  assert.equal(r.writableSpan(3, s), 4); // storage 0..3
  assert.equal(s.off, 0);
  s.buf[0] = 10;
  assert.equal(r.writableSpan(7, s), 0);
  assert.equal(r.commit(4), 4);
  const out = new Uint8Array(5);
  r.read(out, 0, 5);
  assert.deepEqual([...out], [0, 7, 8, 9, 10]);
});

Deno.test("resize keeps readable and uncommitted data, validates bounds", () => {
  const r = new ByteRing(6);
  r.write(bytes(1, 2, 3, 4), 0, 4);
  r.consume(3);
  r.write(bytes(5, 6), 0, 2); // wraps
  r.writeAt(1, bytes(8), 0, 1); // uncommitted byte after a hole
  assert.throws(() => r.resize(2), RangeError); // below length 3
  assert.throws(() => r.resize(0), RangeError);
  r.resize(16);
  assert.equal(r.capacity, 16);
  assert.equal(r.length, 3);
  assert.equal(r.free, 13);
  r.write(bytes(7), 0, 1);
  r.commit(1);
  const out = new Uint8Array(16);
  assert.equal(r.read(out, 0, 16), 5);
  assert.deepEqual([...out.subarray(0, 5)], [4, 5, 6, 7, 8]);
  // Shrink keeps data when it fits.
  r.write(bytes(1, 2, 3), 0, 3);
  r.resize(3);
  assert.equal(r.capacity, 3);
  assert.ok(r.isFull);
  assert.equal(r.read(out, 0, 3), 3);
  assert.deepEqual([...out.subarray(0, 3)], [1, 2, 3]);
  r.resize(3); // same size: no-op
});

Deno.test("clear forgets everything", () => {
  const r = new ByteRing(4);
  r.write(bytes(1, 2, 3), 0, 3);
  r.clear();
  assert.equal(r.length, 0);
  assert.equal(r.free, 4);
  const s = span();
  assert.equal(r.writableSpan(0, s), 4);
  assert.equal(s.off, 0);
});

function randomised(seed: number, pool: RingStoragePool | null): void {
  const next = rng(seed);
  for (let round = 0; round < 40; round++) {
    let cap = 1 + (next() % 300);
    const r = new ByteRing(cap, pool);
    let cut = false;
    // Model: byte value at absolute stream position; readable = [start, end).
    const model = new Map<number, number>();
    let start = 0, end = 0;
    const src = new Uint8Array(2000);
    const out = new Uint8Array(2000);
    for (let step = 0; step < 400; step++) {
      const op = next() % 8;
      const n = next() % Math.max(1, Math.floor(cap * 1.3));
      for (let i = 0; i < n; i++) src[i] = next() & 0xff;
      if (op === 0) {
        const w = r.write(src, 0, n);
        assert.equal(w, Math.min(n, cap - (end - start)));
        for (let i = 0; i < w; i++) model.set(end + i, src[i]);
        end += w;
      } else if (op === 1) {
        const off = next() % (cap + 2);
        const w = r.writeAt(off, src, 0, n);
        assert.equal(w, Math.max(0, Math.min(n, cap - (end - start) - off)));
        for (let i = 0; i < w; i++) model.set(end + off + i, src[i]);
      } else if (op === 2) {
        const c = r.commit(n);
        assert.equal(c, Math.min(n, cap - (end - start)));
        end += c;
      } else if (op === 3) {
        const got = r.read(out, 0, n);
        assert.equal(got, Math.min(n, end - start));
        for (let i = 0; i < got; i++) {
          const want = model.get(start + i);
          if (want !== undefined) assert.equal(out[i], want, `read ${round}/${step}/${i}`);
          model.delete(start + i);
        }
        start += got;
      } else if (op === 4) {
        const from = next() % (cap + 1);
        const got = r.peek(out, 0, from, n);
        assert.equal(got, Math.max(0, Math.min(n, end - start - from)));
        for (let i = 0; i < got; i++) {
          const want = model.get(start + from + i);
          if (want !== undefined) assert.equal(out[i], want, `peek ${round}/${step}/${i}`);
        }
      } else if (op === 5) {
        const c = r.consume(n);
        for (let i = 0; i < c; i++) model.delete(start + i);
        start += c;
      } else if (op === 6) {
        const s = span();
        let at = 0;
        while (r.readableSpan(at, s) > 0) {
          for (let i = 0; i < s.len; i++) {
            const want = model.get(start + at + i);
            if (want !== undefined) assert.equal(s.buf[s.off + i], want, "span");
          }
          at += s.len;
        }
        assert.equal(at, end - start);
      } else {
        const len = end - start;
        const newCap = Math.min(1000, Math.max(1, len + (next() % 300)));
        r.resize(newCap);
        for (const k of model.keys()) {
          if (k >= start + newCap) {
            model.delete(k);
            cut = true;
          }
        }
        cap = newCap;
      }
      assert.equal(r.length, end - start);
      assert.equal(r.free, cap - (end - start));
      if (pool !== null && end === start && r.storageBytes > 0 && !cut) {
        // Empty but holding storage: only out-of-order data beyond the end may keep it (after
        // a resize cut some, the ring no longer knows how far what is left reaches).
        assert.ok([...model.keys()].some((k) => k >= end), "an empty ring keeps no storage");
      }
    }
  }
}

Deno.test("randomised against a model of absolute stream positions", () => {
  randomised(2024, null);
});

Deno.test("randomised with pooled storage: taken on demand, grown, given back when empty", () => {
  const pool = new RingStoragePool({ minChunkBytes: 64, maxChunkBytes: 1024, warmBytes: 4096 });
  randomised(7, pool);
  randomised(99, pool);
  assert.ok(pool.stats.reuses > 0, "chunks are reused");
  assert.ok(pool.freeBytes <= 4096);
});

Deno.test("a pooled ring holds no storage until written and gives it back when read empty", () => {
  const pool = new RingStoragePool({ minChunkBytes: 64, maxChunkBytes: 4096, warmBytes: 1 << 16 });
  const r = new ByteRing(10_000, pool);
  assert.equal(r.storageBytes, 0);
  assert.equal(r.free, 10_000);
  const src = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
  assert.equal(r.write(src, 0, 100), 100);
  assert.equal(r.storageBytes, 128);
  assert.equal(r.write(src, 100, 2900), 2900); // grows, keeping the contents
  assert.equal(r.storageBytes, 4096);
  const out = new Uint8Array(3000);
  assert.equal(r.read(out, 0, 3000), 3000);
  assert.deepEqual(out, src);
  assert.equal(r.storageBytes, 0);
  assert.equal(pool.stats.outstandingBytes, 0);
  // Out-of-order data keeps the storage with nothing readable.
  r.writeAt(10, src, 0, 5);
  assert.ok(r.storageBytes > 0);
  r.write(src, 0, 10);
  r.commit(5);
  assert.equal(r.read(out, 0, 100), 15);
  assert.equal(r.storageBytes, 0);
  assert.equal(pool.stats.outstandingBytes, 0);
});

Deno.test("RingStoragePool: size classes, warm bound, prewarm and trim", () => {
  const pool = new RingStoragePool({ minChunkBytes: 1024, maxChunkBytes: 8192, warmBytes: 10_000 });
  assert.equal(pool.chunkSize(1), 1024);
  assert.equal(pool.chunkSize(1025), 2048);
  const a = pool.take(5000);
  assert.equal(a.length, 8192);
  const b = pool.take(20_000); // beyond the largest class: allocated, never kept
  assert.equal(b.length, 32768);
  pool.give(b);
  assert.equal(pool.freeBytes, 0);
  pool.give(a);
  assert.equal(pool.freeBytes, 8192);
  assert.equal(pool.take(8000), a, "a free chunk of the class is reused");
  pool.give(a);
  pool.give(new Uint8Array(4096)); // over the warm bound: dropped
  assert.equal(pool.freeBytes, 8192);
  assert.equal(pool.stats.drops, 2);
  pool.trim();
  pool.prewarm(100, 1000);
  assert.equal(pool.freeBytes, 9216, "prewarm stops at the warm bound");
  assert.throws(() => new RingStoragePool({ minChunkBytes: 1000 }), RangeError);
});

Deno.test("RingStoragePool: a free list filled and emptied hands back its chunks, newest first", () => {
  const pool = new RingStoragePool({ minChunkBytes: 64, maxChunkBytes: 1024, warmBytes: 1 << 20 });
  for (let round = 0; round < 3; round++) {
    const chunks = Array.from({ length: 40 }, () => pool.take(100));
    for (const c of chunks) pool.give(c);
    assert.equal(pool.freeBytes, 40 * 128);
    for (let i = chunks.length - 1; i >= 0; i--) assert.equal(pool.take(128), chunks[i]);
    assert.equal(pool.freeBytes, 0);
    for (const c of chunks) pool.give(c);
    pool.trim();
    assert.equal(pool.freeBytes, 0);
    assert.notEqual(pool.take(128), chunks[39], "after trim a take allocates");
  }
  assert.equal(pool.stats.reuses, 120);
});

Deno.test("ByteRing.runFrom: readable bytes before the storage wraps", () => {
  const ring = new ByteRing(8);
  assert.equal(ring.runFrom(0), 0); // empty
  ring.write(bytes(1, 2, 3, 4, 5, 6), 0, 6);
  assert.equal(ring.runFrom(0), 6);
  assert.equal(ring.runFrom(4), 2);
  assert.equal(ring.runFrom(6), 0); // nothing readable there
  assert.equal(ring.runFrom(-1), 0);
  ring.consume(5); // read pointer at storage index 5
  ring.write(bytes(7, 8, 9, 10), 0, 4); // 6 7 8 | 9 10: wraps after three
  assert.equal(ring.runFrom(0), 3);
  assert.equal(ring.runFrom(2), 1);
  assert.equal(ring.runFrom(3), 2); // from the storage's first byte
});

Deno.test("ByteRing readViews: long copies out take their source views from the table", () => {
  const views = new SubarrayCache(64);
  const ring = new ByteRing(4096, null, views);
  const src = new Uint8Array(4096).map((_, i) => i & 0xff);
  ring.write(src, 0, 4096);
  const out = new Uint8Array(1000);
  for (let lap = 0; lap < 3; lap++) {
    assert.equal(ring.peek(out, 0, 1000, 1000), 1000);
    assert.deepEqual(out, src.subarray(1000, 2000));
  }
  assert.equal(views.misses, 1);
  assert.equal(views.hits, 2);
  // A copy across the wrap takes a view for each piece.
  ring.consume(3000);
  ring.write(src, 0, 2000); // storage: 1096 bytes at 3000.., then 2000 from 0
  assert.equal(ring.read(out, 0, 1000), 1000);
  assert.deepEqual(out, src.subarray(3000, 4000));
  const wrapOut = new Uint8Array(1096);
  assert.equal(ring.read(wrapOut, 0, 1096), 1096);
  assert.deepEqual(wrapOut.subarray(0, 96), src.subarray(4000, 4096));
  assert.deepEqual(wrapOut.subarray(96), src.subarray(0, 1000));
  assert.equal(views.misses, 3); // [3000, 4000), then [0, 1000): the 96-byte piece is a loop
});

Deno.test("RingStoragePool.forgetDroppedIn: a dropped chunk's views leave the table", () => {
  const pool = new RingStoragePool({ warmBytes: 4096 });
  const views = new SubarrayCache(64);
  pool.forgetDroppedIn(views);
  const a = pool.take(4096), b = pool.take(4096);
  views.view(a, 0, 1000);
  views.view(b, 0, 1000);
  pool.give(a); // kept: the views of a stay
  pool.give(b); // over the warm bound: dropped, its view forgotten
  views.view(a, 0, 1000);
  assert.equal(views.hits, 1);
  views.view(b, 0, 1000);
  assert.equal(views.misses, 3);
  pool.trim(); // a dropped too
  views.view(a, 0, 1000);
  assert.equal(views.misses, 4);
});
