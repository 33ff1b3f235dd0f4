import assert from "node:assert/strict";
import { Assembler } from "../../transport/tcp/assembler.ts";

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

function ranges(a: Assembler): [number, number][] {
  const r: [number, number][] = [];
  for (let i = 0; i < a.rangeCount; i++) r.push([a.rangeStart(i), a.rangeEnd(i)]);
  return r;
}

function sack(a: Assembler, base: number, max = 4): number[] {
  const out = new Uint32Array(2 * max);
  const n = a.sackBlocks(out, base, max);
  return [...out.subarray(0, 2 * n)];
}

Deno.test("constructor validates maxRanges", () => {
  assert.throws(() => new Assembler(0), RangeError);
  assert.throws(() => new Assembler(2.5), RangeError);
  const a = new Assembler(3);
  assert.equal(a.maxRanges, 3);
  assert.ok(a.isEmpty);
  assert.equal(a.rangeCount, 0);
  assert.equal(a.removeFront(), 0);
});

Deno.test("disjoint ranges are kept sorted; overlapping and adjacent ones merge", () => {
  const a = new Assembler(8);
  assert.ok(a.add(100, 10));
  assert.ok(a.add(20, 10));
  assert.ok(a.add(60, 5));
  assert.deepEqual(ranges(a), [[20, 30], [60, 65], [100, 110]]);
  assert.ok(a.add(30, 5)); // adjacent to [20,30)
  assert.deepEqual(ranges(a), [[20, 35], [60, 65], [100, 110]]);
  assert.ok(a.add(55, 5)); // adjacent on the other side of [60,65)
  assert.deepEqual(ranges(a), [[20, 35], [55, 65], [100, 110]]);
  assert.ok(a.add(62, 2)); // inside
  assert.deepEqual(ranges(a), [[20, 35], [55, 65], [100, 110]]);
  assert.ok(a.add(30, 80)); // spans three ranges
  assert.deepEqual(ranges(a), [[20, 110]]);
  assert.ok(a.add(10, 200)); // covers everything
  assert.deepEqual(ranges(a), [[10, 210]]);
  assert.equal(a.bufferedBytes, 200);
});

Deno.test("empty and already-received input is a no-op", () => {
  const a = new Assembler(2);
  assert.ok(a.add(5, 0));
  assert.ok(a.add(5, -3));
  assert.ok(a.add(-10, 10)); // ends at the contiguous point: old data
  assert.ok(a.isEmpty);
  assert.ok(a.add(-10, 15)); // straddles: only [0,5) is new
  assert.deepEqual(ranges(a), [[0, 5]]);
  assert.equal(a.removeFront(), 5);
});

Deno.test("removeFront collects the contiguous prefix and shifts the rest", () => {
  const a = new Assembler(4);
  a.add(10, 10);
  a.add(30, 10);
  assert.equal(a.removeFront(), 0); // hole at 0..9
  a.add(0, 10); // fills the hole: merges with [10,20)
  assert.deepEqual(ranges(a), [[0, 20], [30, 40]]);
  assert.equal(a.removeFront(), 20);
  assert.deepEqual(ranges(a), [[10, 20]]);
  assert.equal(a.removeFront(), 0);
});

Deno.test("shift moves the contiguous point for in-order data", () => {
  const a = new Assembler(4);
  a.add(10, 10);
  a.add(30, 10);
  a.shift(5);
  assert.deepEqual(ranges(a), [[5, 15], [25, 35]]);
  a.shift(8); // straddles the first range: trimmed to start at 0
  assert.deepEqual(ranges(a), [[0, 7], [17, 27]]);
  assert.equal(a.removeFront(), 7);
  a.shift(100); // everything is old now
  assert.ok(a.isEmpty);
  a.shift(0);
  a.shift(-1);
  assert.ok(a.isEmpty);
});

Deno.test("bounded: a new range beyond maxRanges is refused and counted", () => {
  const a = new Assembler(2);
  assert.ok(a.add(10, 5));
  assert.ok(a.add(30, 5));
  assert.equal(a.add(50, 5), false);
  assert.equal(a.add(20, 2), false);
  assert.equal(a.refused, 2);
  assert.deepEqual(ranges(a), [[10, 15], [30, 35]]);
  assert.ok(a.add(15, 2)); // merging needs no new slot
  assert.ok(a.add(17, 13)); // joins both into one
  assert.deepEqual(ranges(a), [[10, 35]]);
  assert.ok(a.add(50, 5));
  // In-order data is always accepted, even when full.
  assert.ok(a.add(0, 3));
  assert.equal(a.rangeCount, 3);
  assert.equal(a.removeFront(), 3);
  assert.deepEqual(ranges(a), [[7, 32], [47, 52]]);
  a.clear();
  assert.ok(a.isEmpty);
  assert.equal(a.refused, 2);
});

Deno.test("SACK blocks: most recent first, then the others most-recent-first (RFC 2018 §4)", () => {
  const a = new Assembler(8);
  const base = 0xffff_ff00; // blocks wrap past 2**32
  a.add(100, 100); // A
  a.add(300, 100); // B
  a.add(500, 100); // C
  assert.deepEqual(sack(a, base), [
    (base + 500) >>> 0,
    (base + 600) >>> 0,
    (base + 300) >>> 0,
    (base + 400) >>> 0,
    (base + 100) >>> 0,
    (base + 200) >>> 0,
  ]);
  a.add(200, 50); // extends A: A is now the most recent
  assert.deepEqual(sack(a, 0), [100, 250, 500, 600, 300, 400]);
  a.add(350, 10); // duplicate inside B: B is the block of the triggering segment
  assert.deepEqual(sack(a, 0), [300, 400, 100, 250, 500, 600]);
  assert.deepEqual(sack(a, 0, 2), [300, 400, 100, 250]); // limited by maxBlocks
  const small = new Uint32Array(3); // room for one pair only
  assert.equal(a.sackBlocks(small, 0, 4), 1);
  assert.deepEqual([...small.subarray(0, 2)], [300, 400]);
  a.add(0, 100); // in-order: joins A, A is at offset 0 — not reported
  assert.deepEqual(sack(a, 0), [300, 400, 500, 600]);
  assert.equal(a.removeFront(), 250);
  assert.deepEqual(sack(a, 250), [300, 400, 500, 600]);
  assert.deepEqual(ranges(a), [[50, 150], [250, 350]]); // B and C, shifted
  a.add(150, 100); // fills the gap between them: one block
  assert.deepEqual(sack(a, 250), [300, 600]);
});

/** Reference: a byte map of arrival indices relative to a contiguous point. */
class Model {
  /** offset (relative to the contiguous point) → index of the latest add covering it. */
  got = new Map<number, number>();

  ranges(): [number, number, number][] {
    const keys = [...this.got.keys()].sort((x, y) => x - y);
    const out: [number, number, number][] = [];
    for (const k of keys) {
      const last = out[out.length - 1];
      const st = this.got.get(k)!;
      if (last && last[1] === k) {
        last[1] = k + 1;
        if (st > last[2]) last[2] = st;
      } else out.push([k, k + 1, st]);
    }
    return out;
  }
}

Deno.test("randomised against a byte-map model (ranges, refusals, SACK order)", () => {
  const next = rng(777);
  let totalRefused = 0, sackSeen = 0;
  for (let round = 0; round < 60; round++) {
    const max = 1 + (next() % 6);
    const a = new Assembler(max);
    const m = new Model();
    let refused = 0;
    for (let step = 0; step < 300; step++) {
      const op = next() % 10;
      if (op < 7) {
        const off = (next() % 220) - 20;
        const len = next() % 30;
        // Predict: the model after the add, unless it would need too many ranges.
        const trial = new Map(m.got);
        for (let i = Math.max(0, off); i < off + len; i++) trial.set(i, step);
        const tm = new Model();
        tm.got = trial;
        const after = tm.ranges();
        const startsAtZero = after.length > 0 && after[0][0] === 0;
        const limit = max + (startsAtZero ? 1 : 0);
        const expectOk = after.length <= limit || after.length <= m.ranges().length;
        const ok = a.add(off, len);
        assert.equal(ok, expectOk, `round ${round} step ${step}`);
        if (ok) m.got = trial;
        else refused++;
      } else if (op < 9) {
        const n = a.removeFront();
        const r = m.ranges();
        const want = r.length > 0 && r[0][0] === 0 ? r[0][1] : 0;
        assert.equal(n, want);
        if (n > 0) shiftModel(m, n);
      } else {
        const n = next() % 40;
        a.shift(n);
        shiftModel(m, n);
      }
      const mr = m.ranges();
      assert.deepEqual(ranges(a), mr.map(([s, e]) => [s, e]), `round ${round} step ${step}`);
      assert.equal(a.refused, refused);
      // SACK: blocks not at 0, ordered by stamp descending.
      const base = next();
      const want = mr.filter(([s]) => s !== 0).sort((x, y) => y[2] - x[2]).slice(0, 3)
        .flatMap(([s, e]) => [(base + s) >>> 0, (base + e) >>> 0]);
      assert.deepEqual(sack(a, base, 3), want);
      if (want.length >= 4) sackSeen++;
    }
    totalRefused += refused;
  }
  assert.ok(totalRefused > 100 && sackSeen > 1000, `${totalRefused} ${sackSeen}`);
});

function shiftModel(m: Model, n: number): void {
  const next = new Map<number, number>();
  for (const [k, v] of m.got) if (k - n >= 0) next.set(k - n, v);
  m.got = next;
}
