import assert from "node:assert/strict";
import { KeyedRateLimiter } from "../../core/keyed_rate_limiter.ts";

Deno.test("KeyedRateLimiter: a burst per key, refilled at the rate; other keys unaffected", () => {
  const l = new KeyedRateLimiter({ slots: 1024, ratePerSecond: 10, burst: 3 });
  const a = 0xc6120064, b = 0xc6120001;
  for (let i = 0; i < 3; i++) assert.ok(l.take(a, 1000));
  assert.equal(l.take(a, 1000), false, "burst used up");
  assert.ok(l.take(b, 1000), "another key has its own bucket");
  assert.equal(l.take(a, 1050), false, "half a token after 50 ms");
  assert.ok(l.take(a, 1100), "one token after 100 ms at 10/s");
  assert.equal(l.take(a, 1100), false);
  assert.ok(l.take(a, 60_000) && l.take(a, 60_000) && l.take(a, 60_000));
  assert.equal(l.take(a, 60_000), false, "refill stops at the burst");
  assert.equal(l.refused, 4);
  assert.throws(() => new KeyedRateLimiter({ slots: 3, ratePerSecond: 1, burst: 1 }), RangeError);
});
