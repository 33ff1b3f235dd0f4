import assert from "node:assert/strict";
import { KnownKeySet } from "../../core/known_key_set.ts";
import { RateLimitKey } from "../../core/keyed_rate_limiter.ts";

function key(lo: number, hi = 0): RateLimitKey {
  const k = new RateLimitKey();
  k.lo = lo;
  k.hi = hi;
  return k;
}

Deno.test("KnownKeySet: holds what was added, both words compared", () => {
  const s = new KnownKeySet({ sets: 64, secret: 7 });
  assert.equal(s.has(key(0xc6120001)), false);
  s.add(key(0xc6120001));
  assert.ok(s.has(key(0xc6120001)));
  assert.equal(s.has(key(0xc6120001, 1)), false, "another high word is another key");
  assert.equal(s.has(key(0xc6120002)), false);
  s.add(key(0xc6120001));
  assert.equal(s.size, 1, "adding again does not duplicate");
  assert.throws(() => new KnownKeySet({ sets: 3 }), RangeError);
  assert.throws(() => new KnownKeySet({ ways: 0 }), RangeError);
});

Deno.test("KnownKeySet: bounded; a full set gives up its least recently added key", () => {
  const s = new KnownKeySet({ sets: 1, ways: 4, secret: 7 });
  for (let i = 1; i <= 4; i++) s.add(key(i));
  s.add(key(1)); // 1 is the most recent now, 2 the least
  s.add(key(5));
  assert.equal(s.size, 4);
  assert.equal(s.evicted, 1);
  assert.ok(s.has(key(1)) && s.has(key(3)) && s.has(key(4)) && s.has(key(5)));
  assert.equal(s.has(key(2)), false);
  // A flood of new keys never grows it.
  const big = new KnownKeySet({ sets: 64, ways: 4, secret: 9 });
  for (let i = 0; i < 100_000; i++) big.add(key(0x0a000000 + i));
  assert.equal(big.size, big.capacity);
  assert.equal(big.capacity, 256);
  assert.equal(big.evicted, 100_000 - 256);
});

Deno.test("KnownKeySet: the layout depends on the secret", () => {
  // Fill one set of a table keyed with secret 1 with keys that share it there: under another
  // secret they spread, and a key added before them survives.
  const probe = new KnownKeySet({ sets: 1024, ways: 4, secret: 1 });
  const victim = key(0xc6120001);
  const aimed: number[] = [];
  // Keys that share the victim's set under secret 1: found by adding them one by one to a
  // fresh table holding only the victim and checking whether it was evicted is too slow;
  // instead, find keys that evict the victim from a 1-way table with that secret.
  for (let lo = 1; aimed.length < 8 && lo < 5_000_000; lo++) {
    const t = new KnownKeySet({ sets: 1024, ways: 1, secret: 1 });
    t.add(victim);
    t.add(key(lo));
    if (!t.has(victim)) aimed.push(lo);
  }
  assert.equal(aimed.length, 8);
  probe.add(victim);
  for (const lo of aimed) probe.add(key(lo));
  assert.equal(probe.has(victim), false, "aimed keys push it out when the secret is known");
  const other = new KnownKeySet({ sets: 1024, ways: 4, secret: 2 });
  other.add(victim);
  for (const lo of aimed) other.add(key(lo));
  assert.ok(other.has(victim), "under another secret the same keys do not");
});

Deno.test("known key set: past 2^31 − 1 additions the least recently added entry still goes first", () => {
  // One set of 4 ways: every key shares it.
  const set = new KnownKeySet({ sets: 1, ways: 4, secret: 7, addedBefore: 0x7fffffff - 2 });
  const k = new RateLimitKey();
  const add = (lo: number) => {
    k.lo = lo;
    set.add(k);
  };
  const has = (lo: number) => {
    k.lo = lo;
    return set.has(k);
  };
  for (const lo of [1, 2, 3, 4]) add(lo); // the counter wraps at the fourth
  add(5); // pushes out 1, the least recent
  assert.deepEqual([1, 2, 3, 4, 5].map(has), [false, true, true, true, true]);
  add(6); // then 2
  add(7); // then 3
  assert.deepEqual([2, 3, 4, 5, 6, 7].map(has), [false, false, true, true, true, true]);
  assert.equal(set.evicted, 3);
  assert.throws(() => new KnownKeySet({ addedBefore: -1 }), RangeError);
});
