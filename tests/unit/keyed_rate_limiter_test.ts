import assert from "node:assert/strict";
import { KeyedRateLimiter } from "../../core/keyed_rate_limiter.ts";

const SECRETS = [0x1234567, 0x89abcdef] as const;

Deno.test("KeyedRateLimiter: a burst per key, refilled at the rate; other keys unaffected", () => {
  const l = new KeyedRateLimiter({ slots: 1024, ratePerSecond: 10, burst: 3, secrets: SECRETS });
  const a = 0xc6120064, b = 0xc6120001;
  for (let i = 0; i < 3; i++) assert.ok(l.take(a, 1000));
  assert.equal(l.take(a, 1000), false, "burst used up");
  assert.ok(l.take(b, 1000), "another key has its own buckets");
  assert.equal(l.take(a, 1050), false, "half a token after 50 ms");
  assert.ok(l.take(a, 1100), "one token after 100 ms at 10/s");
  assert.equal(l.take(a, 1100), false);
  assert.ok(l.take(a, 60_000) && l.take(a, 60_000) && l.take(a, 60_000));
  assert.equal(l.take(a, 60_000), false, "refill stops at the burst");
  assert.equal(l.refused, 4);
  assert.throws(() => new KeyedRateLimiter({ slots: 3, ratePerSecond: 1, burst: 1 }), RangeError);
  assert.throws(() => new KeyedRateLimiter({ ratePerSecond: 0, burst: 1 }), RangeError);
});

/** The first key from `from` whose two buckets satisfy `want`. */
function findKey(l: KeyedRateLimiter, from: number, want: (s0: number, s1: number) => boolean) {
  for (let k = from; k < from + 1_000_000; k++) {
    if (want(l.slotOf(k, 0), l.slotOf(k, 1))) return k;
  }
  throw new Error("no such key in a million");
}

Deno.test("KeyedRateLimiter: a key sharing one bucket with a drained key keeps its rate", () => {
  const l = new KeyedRateLimiter({ slots: 64, ratePerSecond: 10, burst: 5, secrets: SECRETS });
  const flood = 0xc6130001;
  const f0 = l.slotOf(flood, 0), f1 = l.slotOf(flood, 1);
  // An innocent key whose first bucket is one of the flood's and whose second is not.
  const innocent = findKey(l, 0xc6120000, (s0, s1) => s0 === f0 && s1 !== f0 && s1 !== f1);
  for (let i = 0; i < 100; i++) l.take(flood, 1000);
  assert.equal(l.refused, 95, "the flooding key got its burst of 5, no more");
  for (let i = 0; i < 5; i++) assert.ok(l.take(innocent, 1000), `innocent take ${i}`);
  assert.equal(l.take(innocent, 1000), false, "and then its own burst is spent");
});

Deno.test("KeyedRateLimiter: only a key with both buckets drained by others pays for them", () => {
  const l = new KeyedRateLimiter({ slots: 64, ratePerSecond: 10, burst: 5, secrets: SECRETS });
  const a = 0xc6130001;
  const b = findKey(l, 0xc6130100, (s0, s1) => s0 !== l.slotOf(a, 0) && s1 !== l.slotOf(a, 1));
  const drained = new Set([l.slotOf(a, 0), l.slotOf(a, 1), l.slotOf(b, 0), l.slotOf(b, 1)]);
  const victim = findKey(l, 0xc6120000, (s0, s1) => drained.has(s0) && drained.has(s1));
  for (let i = 0; i < 20; i++) l.take(a, 1000), l.take(b, 1000);
  assert.equal(l.take(victim, 1000), false);
});

Deno.test("KeyedRateLimiter: the layout depends on the secrets (nobody outside can aim a key)", () => {
  const one = new KeyedRateLimiter({ slots: 16384, ratePerSecond: 1, burst: 1, secrets: [1, 2] });
  const two = new KeyedRateLimiter({ slots: 16384, ratePerSecond: 1, burst: 1, secrets: [3, 4] });
  let same = 0;
  for (let k = 0; k < 1000; k++) if (one.slotOf(k, 0) === two.slotOf(k, 0)) same++;
  assert.ok(same < 5, `${same} of 1000 keys kept their bucket`);
  // The two choices of one key are independent: rarely the same bucket.
  let twin = 0;
  for (let k = 0; k < 1000; k++) if (one.slotOf(k, 0) === one.slotOf(k, 1)) twin++;
  assert.ok(twin < 5, `${twin} of 1000 keys have one bucket twice`);
  // Drawn secrets differ between tables.
  const r1 = new KeyedRateLimiter({ slots: 16384, ratePerSecond: 1, burst: 1 });
  const r2 = new KeyedRateLimiter({ slots: 16384, ratePerSecond: 1, burst: 1 });
  let eq = 0;
  for (let k = 0; k < 100; k++) if (r1.slotOf(k, 0) === r2.slotOf(k, 0)) eq++;
  assert.ok(eq < 5);
});

Deno.test("KeyedRateLimiter: a 64-bit key's both words are keyed (no aimed match in one word)", () => {
  const l = new KeyedRateLimiter({ slots: 16384, ratePerSecond: 1, burst: 1, secrets: SECRETS });
  assert.equal(l.slotOf(7, 0), l.slotOf(7, 0, 0), "a 32-bit key is the 64-bit key with hi = 0");
  // Keys that share the low word (or fold to the same 32 bits) spread like any others.
  let same = 0;
  for (let hi = 1; hi <= 1000; hi++) {
    if (l.slotOf(0xfd000005, 0, hi) === l.slotOf(0xfd000005, 0)) same++;
  }
  assert.ok(same < 5, `${same} of 1000 high words kept the bucket`);
  for (let i = 0; i < 3; i++) l.take(0xfd000005, 0, 0x100);
  assert.ok(l.take(0xfd000005, 0, 0x200), "a key differing in its high word has its own token");
});
