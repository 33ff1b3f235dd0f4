// SubarrayCache: copies are byte-exact whichever path they take, a repeated (buffer, offset,
// length) reuses its view, a table full of keys replaces the older of a key's two places, and
// forget() lets a buffer go.

import assert from "node:assert/strict";
import { makeCounters } from "../../core/counters.ts";
import { SubarrayCache } from "../../core/subarray_cache.ts";

function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + 3) & 0xff;
  return b;
}

Deno.test("SubarrayCache: copies short, whole and long ranges byte-exact", () => {
  const c = new SubarrayCache(16);
  const src = pattern(4096);
  for (const [off, len] of [[5, 100], [0, 4096], [100, 1480], [2000, 2096]]) {
    const dst = new Uint8Array(5000);
    c.copy(src, off, dst, 7, len);
    assert.deepEqual(dst.subarray(7, 7 + len), src.subarray(off, off + len));
    assert.equal(dst[6], 0);
    assert.equal(dst[7 + len], 0);
  }
  // Only the two long sub-ranges needed a view.
  assert.equal(c.misses, 2);
  assert.equal(c.hits, 0);
});

Deno.test("SubarrayCache: the same buffer, offset and length find the same view", () => {
  const c = new SubarrayCache(64);
  const a = pattern(8192);
  const b = pattern(8192);
  const v = c.view(a, 1000, 1480);
  assert.equal(c.view(a, 1000, 1480), v);
  assert.notEqual(c.view(a, 1000, 1479), v, "another length");
  assert.notEqual(c.view(b, 1000, 1480), v, "another buffer");
  assert.equal(c.view(a, 1000, 1480), v, "still there");
  assert.equal(c.hits, 2);
  assert.equal(c.misses, 3);
});

Deno.test("SubarrayCache: a ring's slots are found again (a table seven times their number)", () => {
  const c = new SubarrayCache(4096);
  const ring = new Uint8Array(1 << 20);
  // 600 slots of 1,600 bytes in blocks of 64 KiB, as a TPACKET_V2 ring lays them out.
  const offs: number[] = [];
  for (let i = 0; i < 600; i++) offs.push(Math.floor(i / 40) * 65536 + (i % 40) * 1600 + 82);
  for (let lap = 0; lap < 3; lap++) for (const o of offs) c.view(ring, o, 1480);
  // The first lap makes 600 views; the next two find (nearly) all of them.
  assert.ok(c.misses - 600 < 1200 * 0.05, `${c.misses - 600} of 1200 missed after the first lap`);
  assert.equal(c.hits + c.misses, 1800);
});

Deno.test("SubarrayCache: more keys than places replace, bounded; forget drops a buffer", () => {
  const c = new SubarrayCache(16);
  assert.equal(c.entries, 16);
  const src = pattern(1 << 16);
  for (let i = 0; i < 1000; i++) {
    const v = c.view(src, i * 37, 200 + (i % 5));
    assert.equal(v.byteOffset, i * 37);
    assert.equal(v.length, 200 + (i % 5));
  }
  assert.equal(c.hits + c.misses, 1000);
  c.forget(src);
  const before = c.misses;
  c.view(src, 999 * 37, 200 + (999 % 5));
  assert.equal(c.misses, before + 1, "forgotten: made again");
});

Deno.test("SubarrayCache: counts hits, misses and replacements in a stats group it is given", () => {
  // The group must list the names (a group grown by keyed stores becomes a V8 dictionary).
  assert.throws(() => new SubarrayCache(16, { Other: 5 }, "CopyView"), RangeError);
  const group = makeCounters(["Other", "CopyViewHits", "CopyViewMisses", "CopyViewReplaced"]);
  group.Other = 5;
  const c = new SubarrayCache(16, group, "CopyView");
  assert.deepEqual(group, { Other: 5, CopyViewHits: 0, CopyViewMisses: 0, CopyViewReplaced: 0 });
  const src = pattern(65536);
  const dst = new Uint8Array(4096);
  c.copy(src, 0, dst, 0, 1000);
  c.copy(src, 0, dst, 0, 1000);
  assert.equal(group.CopyViewMisses, 1);
  assert.equal(group.CopyViewHits, 1);
  assert.equal(group.CopyViewReplaced, 0, "an empty place was filled");
  assert.equal(c.hits, group.CopyViewHits);
  assert.equal(c.misses, group.CopyViewMisses);
  // 200 distinct keys into 16 places: every miss past the 16th had to drop a view still held.
  for (let k = 1; k <= 200; k++) c.copy(src, k * 200, dst, 0, 1000);
  assert.equal(group.CopyViewMisses, 201);
  assert.ok(group.CopyViewReplaced >= 201 - 16, `replaced ${group.CopyViewReplaced}`);
  assert.ok(group.CopyViewReplaced <= 201 - 1, `replaced ${group.CopyViewReplaced}`);
  assert.equal(c.replaced, group.CopyViewReplaced);
  assert.equal(group.Other, 5);
  // A forgotten buffer's places are empty again: filling them replaces nothing.
  c.forget(src);
  const before = group.CopyViewReplaced;
  c.copy(src, 0, dst, 0, 1000);
  assert.equal(group.CopyViewReplaced, before);
});

Deno.test("SubarrayCache: without a group the counters are the table's own, from zero", () => {
  const c = new SubarrayCache(16);
  assert.equal(c.hits, 0);
  assert.equal(c.misses, 0);
  assert.equal(c.replaced, 0);
});

Deno.test("SubarrayCache: prepare() makes the table before the first lookup, once", () => {
  const c = new SubarrayCache(1024);
  assert.equal(c.prepared, false);
  c.prepare();
  assert.equal(c.prepared, true);
  const src = pattern(8192);
  const dst = new Uint8Array(8192);
  c.copy(src, 100, dst, 0, 1480);
  c.prepare(); // a second call keeps the views
  c.copy(src, 100, dst, 0, 1480);
  assert.deepEqual([c.misses, c.hits], [1, 1]);
});

Deno.test("SubarrayCache: buckets of four hold a lap of keys two thirds the table's size", () => {
  // The split receive's ring of MTU-sized slots at MTU 1500 in small: 1,600-byte slots in
  // blocks of 655, one lap of them two thirds of the places, each key met once a lap.
  const ring = new Uint8Array(8 << 20);
  const offs: number[] = [];
  for (let i = 0; i < 2730; i++) offs.push(Math.floor(i / 655) * (1 << 20) + (i % 655) * 1600 + 82);
  const missedAfterFirstLap = (bucket: number) => {
    const c = new SubarrayCache(4096, null, "", bucket);
    for (const o of offs) c.view(ring, o, 952);
    const first = c.misses;
    for (let lap = 0; lap < 4; lap++) for (const o of offs) c.view(ring, o, 952);
    return c.misses - first;
  };
  const four = missedAfterFirstLap(4), single = missedAfterFirstLap(1);
  assert.ok(four < 4 * 2730 * 0.01, `buckets of 4: ${four} of ${4 * 2730} missed`);
  assert.ok(single > four, `single places ${single}, buckets of 4 ${four}`);
  assert.throws(() => new SubarrayCache(64, null, "", 3), RangeError);
});

Deno.test("SubarrayCache: places emptied by forget() are taken before live views", () => {
  // A full table of two buckets of eight: B's views, then A's (newer) at the same keys; A's
  // buffer forgotten. The next misses go to A's emptied places, not to B's older live ones.
  const a = new Uint8Array(4096), b = new Uint8Array(4096), other = new Uint8Array(4096);
  const c = new SubarrayCache(16, null, "", 8);
  for (let k = 0; k < 8; k++) c.view(b, k * 16, 8);
  for (let k = 0; k < 8; k++) c.view(a, k * 16, 8);
  assert.deepEqual([c.misses, c.replaced], [16, 0]);
  c.forget(a);
  for (let k = 0; k < 8; k++) c.view(other, 1000 + k * 16, 8);
  assert.equal(c.replaced, 0, "a live view was dropped while emptied places were free");
  const hits = c.hits;
  for (let k = 0; k < 8; k++) c.view(b, k * 16, 8);
  assert.equal(c.hits - hits, 8);
});
