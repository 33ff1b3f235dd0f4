import assert from "node:assert/strict";
import { Histogram } from "../../core/histogram.ts";

/** Exact nearest-rank percentile of a sorted array. */
function exact(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** A deterministic xorshift source in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

Deno.test("histogram: small values are exact, percentiles by nearest rank", () => {
  const h = new Histogram();
  for (let v = 1; v <= 100; v++) h.record(v);
  assert.equal(h.count, 100);
  assert.equal(h.min, 1);
  assert.equal(h.max, 100);
  assert.equal(h.mean, 50.5);
  assert.equal(h.valueAtPercentile(50), 50);
  assert.equal(h.valueAtPercentile(99), 99);
  assert.equal(h.valueAtPercentile(100), 100);
  assert.equal(h.valueAtPercentile(0), 1);
});

Deno.test("histogram: every percentile within one bucket above the exact value", () => {
  const next = rng(7);
  const h = new Histogram({ subBucketBits: 7 });
  const values: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    // Log-uniform over 1 ns .. ~1 s, like latencies with a long tail.
    const v = Math.floor(2 ** (next() * 30));
    values.push(v);
    h.record(v);
  }
  values.sort((a, b) => a - b);
  for (const p of [1, 10, 50, 90, 99, 99.9, 99.99, 100]) {
    const want = exact(values, p);
    const got = h.valueAtPercentile(p);
    assert.ok(got >= want, `p${p}: ${got} < exact ${want}`);
    assert.ok(got <= want + Math.max(1, want / 64), `p${p}: ${got} too far above ${want}`);
  }
  assert.equal(h.valueAtPercentile(100), values[values.length - 1]);
});

Deno.test("histogram: bucket edges at powers of two stay ordered and exact at the low end", () => {
  const h = new Histogram({ subBucketBits: 3 });
  // 8 sub-buckets: 0..7 exact, then 4 buckets per power of two.
  for (const v of [7, 8, 9, 15, 16, 17, 2 ** 20 - 1, 2 ** 20]) h.record(v);
  assert.equal(h.valueAtPercentile(100 / 8), 7); // rank 1: exact
  assert.equal(h.valueAtPercentile(200 / 8), 9); // 8 and 9 share the bucket [8, 9]
  assert.equal(h.valueAtPercentile(300 / 8), 9);
  assert.equal(h.valueAtPercentile(400 / 8), 15); // bucket [14, 15]
  assert.equal(h.valueAtPercentile(500 / 8), 19); // bucket [16, 19]
  assert.equal(h.valueAtPercentile(700 / 8), 2 ** 20 - 1); // bucket [7·2^17, 2^20 − 1]
  assert.equal(h.valueAtPercentile(100), 2 ** 20);
});

Deno.test("histogram: fixed memory whatever the count; big values up to 2^40", () => {
  const h = new Histogram();
  const buckets = h.bucketCount;
  assert.ok(buckets < 3000, `${buckets} buckets`);
  for (let i = 0; i < 100_000; i++) h.record(i * 1_000_003);
  assert.equal(h.bucketCount, buckets);
  h.record(2 ** 40 - 1);
  assert.equal(h.max, 2 ** 40 - 1);
  assert.equal(h.saturated, 0);
  assert.ok(h.valueAtPercentile(50) >= 50_000 * 1_000_003 * 0.98);
});

Deno.test("histogram: saturation and invalid values are counted, not recorded wrongly", () => {
  const h = new Histogram({ maxValue: 1000 });
  h.record(5000);
  h.record(-1);
  h.record(NaN);
  h.record(Infinity);
  assert.equal(h.count, 1);
  assert.equal(h.saturated, 1);
  assert.equal(h.invalid, 3);
  assert.equal(h.max, 1000);
  assert.equal(h.valueAtPercentile(50), 1000);
});

Deno.test("histogram: add merges counts, min, max and sum; reset empties", () => {
  const a = new Histogram();
  const b = new Histogram();
  for (let v = 1; v <= 50; v++) a.record(v);
  for (let v = 51; v <= 100; v++) b.record(v, 2);
  a.add(b);
  assert.equal(a.count, 150);
  assert.equal(a.min, 1);
  assert.equal(a.max, 100);
  assert.equal(a.sum, 1275 + 2 * 3775);
  assert.equal(a.valueAtPercentile(50), 63); // rank 75: 50 singles, then 51,51,52,52,…
  assert.throws(() => a.add(new Histogram({ subBucketBits: 5 })), RangeError);
  a.reset();
  assert.equal(a.count, 0);
  assert.equal(a.valueAtPercentile(99), 0);
  a.record(3);
  assert.equal(a.min, 3);
});

Deno.test("histogram: bad options are refused", () => {
  assert.throws(() => new Histogram({ subBucketBits: 1 }), RangeError);
  assert.throws(() => new Histogram({ subBucketBits: 2.5 }), RangeError);
  assert.throws(() => new Histogram({ maxValue: 0 }), RangeError);
  assert.throws(() => new Histogram({ maxValue: 2 ** 53 }), RangeError);
});

Deno.test("Histogram.state/addState: a copy that crosses threads adds like the histogram", () => {
  const a = new Histogram();
  const b = new Histogram();
  for (let v = 1; v <= 1000; v++) (v % 2 === 0 ? a : b).record(v);
  const merged = new Histogram();
  merged.addState(structuredClone(a.state()));
  merged.addState(structuredClone(b.state()));
  const direct = new Histogram();
  direct.add(a);
  direct.add(b);
  assert.equal(merged.count, 1000);
  assert.equal(merged.min, 1);
  assert.equal(merged.max, 1000);
  assert.equal(merged.valueAtPercentile(50), direct.valueAtPercentile(50));
  assert.equal(merged.valueAtPercentile(99), direct.valueAtPercentile(99));
  assert.throws(() => merged.addState({ ...a.state(), counts: new Float64Array(3) }), RangeError);
});

Deno.test("histogram: buckets exact at every power of two up to 2^53, without Math.log2", () => {
  const log2 = Math.log2;
  let calls = 0;
  Math.log2 = (x: number) => {
    calls++;
    return log2(x);
  };
  try {
    const bits = 7;
    const sub = 1 << bits, half = sub >> 1;
    // The bucket of v by a reference exponent found by doubling (no rounding anywhere).
    const reference = (v: number): number => {
      if (v < sub) return v;
      let e = 0;
      while (2 ** (e + 1) <= v) e++;
      const shift = e - (bits - 1);
      return sub + (shift - 1) * half + (Math.floor(v / 2 ** shift) - half);
    };
    for (let k = 1; k < 53; k++) {
      for (const v of [2 ** k - 1, 2 ** k, 2 ** k + 1]) {
        if (v < 1 || v >= 2 ** 53) continue;
        const h = new Histogram({ subBucketBits: bits, maxValue: 2 ** 53 - 1 });
        h.record(v);
        const counts = h.state().counts;
        assert.equal(counts.findIndex((c) => c === 1), reference(v), `value ${v}`);
      }
    }
    assert.equal(calls, 0, "Math.log2 called");
  } finally {
    Math.log2 = log2;
  }
});
