// bench/ab_pool.ts pools interleaved A/B records: runs pair only within one set and one round
// (slot names differ between sets), and the sign test is the exact two-sided binomial.

import assert from "node:assert/strict";
import { pairRatios, pooledRuns, ratioLine, signTestP } from "../../bench/ab_pool.ts";

Deno.test("bench ab_pool: the sign test's p is the exact two-sided binomial", () => {
  assert.equal(signTestP(0, 5), 0.0625);
  assert.equal(signTestP(5, 5), 0.0625);
  assert.equal(signTestP(2, 10), 2 * (1 + 10 + 45) / 1024);
  assert.equal(signTestP(5, 10), 1);
  assert.equal(signTestP(0, 0), 1);
});

Deno.test("bench ab_pool: slots renamed per set, rounds paired within a set only", () => {
  const a = pooledRuns(
    {
      runs: [
        { config: "kernel", round: 0, gbps: 10, cpu: { python3: 50 } },
        { config: "ustack", round: 0, gbps: 20, cpu: { deno: 40 } },
        { config: "base1", round: 0, gbps: 25, cpu: { deno: 40 } },
      ],
    },
    { ustack: "head", base1: "start" },
    0,
  );
  // The second set swaps the slots; its round 0 is not the first set's round 0.
  const b = pooledRuns(
    {
      runs: [
        { config: "ustack", round: 0, gbps: 30 },
        { config: "base1", round: 0, gbps: 24 },
      ],
    },
    { ustack: "start", base1: "head" },
    1,
  );
  const runs = [...a, ...b];
  assert.deepEqual(runs.map((r) => r.build), ["kernel", "head", "start", "start", "head"]);
  assert.equal(a[0].cpuPerGb, 0.5 / (10 / 8));
  assert.equal(a[1].cpuPerGb, 0.4 / (20 / 8));
  assert.ok(Number.isNaN(b[0].cpuPerGb));
  assert.deepEqual(pairRatios(runs, "head", "start", (r) => r.gbps), [20 / 25, 24 / 30]);
  // Rounds without a CPU figure are left out of the CPU ratios.
  assert.deepEqual(pairRatios(runs, "head", "start", (r) => r.cpuPerGb), [
    0.4 / 2.5 / (0.4 / (25 / 8)),
  ]);
  assert.equal(
    ratioLine([0.8, 0.8]),
    "median 0.800, quartiles 0.800–0.800, range 0.80–0.80, below 1.0 in 2 of 2, " +
      "sign-test p 0.500",
  );
});
