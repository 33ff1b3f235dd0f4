import assert from "node:assert/strict";
import {
  HANDSHAKE_RETRY_RTO_MS,
  rttBoundsReplaced,
  RttEstimator,
} from "../../transport/tcp/rtt_estimator.ts";

Deno.test("before any sample: RTO = initial (RFC 6298 §2.1)", () => {
  const r = new RttEstimator();
  assert.equal(r.hasSample, false);
  assert.equal(r.rtoMs, 1000);
  assert.equal(r.srttMs, 0);
  assert.equal(r.rttvarMs, 0);
  assert.equal(r.minRtoMs, 200);
  assert.equal(r.maxRtoMs, 120_000);
});

Deno.test("first sample: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4*RTTVAR (§2.2)", () => {
  const r = new RttEstimator();
  r.sample(100);
  assert.ok(r.hasSample);
  assert.equal(r.srttMs, 100);
  assert.equal(r.rttvarMs, 50);
  assert.equal(r.rtoMs, 300);
});

Deno.test("later samples: RTTVAR with old SRTT, then SRTT; alpha 1/8, beta 1/4 (§2.3)", () => {
  const r = new RttEstimator();
  r.sample(100);
  r.sample(200);
  // RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5; SRTT = 7/8*100 + 1/8*200 = 112.5
  assert.equal(r.rttvarMs, 62.5);
  assert.equal(r.srttMs, 112.5);
  assert.equal(r.rtoMs, 112.5 + 4 * 62.5); // 362.5
  r.sample(112.5); // no error: RTTVAR decays by 3/4, SRTT unchanged
  assert.equal(r.srttMs, 112.5);
  assert.equal(r.rttvarMs, 46.875);
  assert.equal(r.rtoMs, 300);
  r.sample(40);
  // RTTVAR = 3/4*46.875 + 1/4*72.5 = 53.28125; SRTT = 7/8*112.5 + 1/8*40 = 103.4375
  assert.equal(r.rttvarMs, 53.28125);
  assert.equal(r.srttMs, 103.4375);
  assert.equal(r.rtoMs, 103.4375 + 4 * 53.28125);
});

Deno.test("steady RTT converges: RTTVAR shrinks, RTO is floored at minRto (§2.4)", () => {
  const r = new RttEstimator();
  for (let i = 0; i < 200; i++) r.sample(10);
  assert.equal(r.srttMs, 10);
  assert.ok(r.rttvarMs < 1e-6);
  assert.equal(r.rtoMs, 200); // 10 + max(G, ~0) = 11, clamped up to 200
  const fast = new RttEstimator({ minRtoMs: 1, clockGranularityMs: 4 });
  for (let i = 0; i < 200; i++) fast.sample(10);
  assert.equal(fast.rtoMs, 14); // SRTT + G: the granularity term dominates
});

Deno.test("RTO is clamped at maxRto (§2.5)", () => {
  const r = new RttEstimator({ maxRtoMs: 60_000 });
  r.sample(30_000);
  assert.equal(r.rtoMs, 60_000); // 30000 + 4*15000 = 90000 → 60000
});

Deno.test("backoff doubles up to the max; a new sample and resetBackoff clear it (§5.5, Karn)", () => {
  const r = new RttEstimator();
  r.sample(100); // 300
  r.backoff();
  assert.equal(r.rtoMs, 600);
  r.backoff();
  assert.equal(r.rtoMs, 1200);
  assert.equal(r.backoffCount, 2);
  for (let i = 0; i < 30; i++) r.backoff();
  assert.equal(r.rtoMs, 120_000);
  assert.ok(r.backoffCount < 20); // stops counting at the cap
  r.resetBackoff();
  assert.equal(r.rtoMs, 300);
  r.backoff();
  r.sample(100); // RTTVAR = 37.5 → RTO = 100 + 150
  assert.equal(r.backoffCount, 0);
  assert.equal(r.rtoMs, 250);
});

Deno.test("backoff before any sample doubles the initial RTO", () => {
  const r = new RttEstimator();
  r.backoff();
  r.backoff();
  assert.equal(r.rtoMs, 4000);
});

Deno.test("backoff applies to the floored RTO", () => {
  const r = new RttEstimator();
  for (let i = 0; i < 100; i++) r.sample(1);
  assert.equal(r.rtoMs, 200);
  r.backoff();
  assert.equal(r.rtoMs, 400);
});

Deno.test("reset starts over, optionally with the 3 s handshake RTO (§5.7)", () => {
  const r = new RttEstimator();
  r.sample(50);
  r.backoff();
  r.reset(HANDSHAKE_RETRY_RTO_MS);
  assert.equal(r.hasSample, false);
  assert.equal(r.rtoMs, 3000);
  assert.equal(r.backoffCount, 0);
  r.sample(100);
  assert.equal(r.srttMs, 100); // treated as a first sample again
  r.reset();
  assert.equal(r.rtoMs, 1000);
});

Deno.test("invalid samples are ignored; invalid options throw", () => {
  const r = new RttEstimator();
  r.sample(-1);
  r.sample(NaN);
  r.sample(Infinity);
  assert.equal(r.hasSample, false);
  r.sample(0); // a zero RTT is legal (fast LAN, coarse clock)
  assert.equal(r.rtoMs, 200);
  assert.throws(() => new RttEstimator({ minRtoMs: 0 }), RangeError);
  assert.throws(() => new RttEstimator({ minRtoMs: 500, maxRtoMs: 100 }), RangeError);
  assert.throws(() => new RttEstimator({ clockGranularityMs: -1 }), RangeError);
  assert.throws(() => new RttEstimator({ initialRtoMs: NaN }), RangeError);
});

Deno.test("shared bounds: one record per option set, the 16 newest kept, each replacement counted", () => {
  // Option sets no other test in this process uses (minRto 1,001–1,020 ms).
  const made = (i: number) => new RttEstimator({ minRtoMs: 1000 + i });
  const before = rttBoundsReplaced();
  for (let i = 1; i <= 20; i++) made(i);
  // Twenty new option sets against at most 16 records: at least 4 replaced (the table may
  // already have held others' records, which are replaced first).
  const replaced = rttBoundsReplaced() - before;
  assert.ok(replaced >= 4 && replaced <= 20, `${replaced} replaced`);
  // The newest option sets are shared again: no more replacements for them.
  const after = rttBoundsReplaced();
  for (let i = 5; i <= 20; i++) made(i);
  assert.equal(rttBoundsReplaced(), after);
  // Bounds are the estimator's own options, whatever record it got.
  assert.equal(made(1).minRtoMs, 1001);
  assert.equal(made(20).minRtoMs, 1020);
});
