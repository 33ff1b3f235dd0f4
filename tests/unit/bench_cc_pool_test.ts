// bench/cc_pool.ts pools bench:cc records: each algorithm pairs with the NewReno of its own
// record and round, failed runs are left out, and the interval is a bootstrap of the median.

import assert from "node:assert/strict";
import {
  bootstrapMedian,
  ccPooledRuns,
  ccRatioLine,
  ccRatios,
  ccTargetLine,
  ccTargetRounds,
  withoutStarvedRounds,
} from "../../bench/cc_pool.ts";

/** A record of one phase: `gbps[sender]` is its runs in round order (null: failed). */
function record(loss: number, gbps: Record<string, (number | null)[]>) {
  return {
    figures: Object.entries(gbps).map(([sender, runs]) => ({
      sender,
      lossPercent: loss,
      details: { runs: runs.map((g) => ({ gbps: g })) },
    })),
  };
}

Deno.test("bench cc_pool: ratios pair within one record and one round", () => {
  const a = record(0, { newreno: [10, 8, 6], cubic: [9, null, 6] });
  const b = record(0, { newreno: [5], cubic: [6] });
  const runs = [...ccPooledRuns(a, 0, 0), ...ccPooledRuns(b, 0, 1)];
  // The failed round 1 is left out; set 1's round 0 pairs with set 1's NewReno, not set 0's.
  assert.deepEqual(ccRatios(runs, "cubic", "newreno"), [0.9, 1, 1.2]);
  // Another phase of the same record is not read.
  const lossy = record(1, { newreno: [1], cubic: [2] });
  assert.deepEqual(ccPooledRuns(lossy, 0, 0), []);
  assert.equal(ccPooledRuns(lossy, 1, 0).length, 2);
});

Deno.test("bench cc_pool: the bootstrap interval holds the median and narrows with rounds", () => {
  const few = [0.8, 0.9, 1.0, 1.1, 1.2];
  const many = Array.from({ length: 60 }, (_, i) => few[i % 5]);
  const [lo1, hi1] = bootstrapMedian(few);
  const [lo2, hi2] = bootstrapMedian(many);
  assert.ok(lo1 <= 1 && hi1 >= 1);
  assert.ok(lo2 <= 1 && hi2 >= 1);
  assert.ok(hi2 - lo2 < hi1 - lo1, `${lo2}–${hi2} not narrower than ${lo1}–${hi1}`);
  // The same seed gives the same interval.
  assert.deepEqual(bootstrapMedian(few, 1000, 7), bootstrapMedian(few, 1000, 7));
  assert.equal(
    ccRatioLine([0.9, 0.9, 0.9, 0.9]),
    "n 4, median 0.900 (95 % bootstrap 0.900–0.900), range 0.90–0.90; below 1.0: 4 of 4 " +
      "(p 0.125), below 0.95: 4 of 4 (p 0.125)",
  );
});

Deno.test("bench cc_pool: a starved stack thread leaves out its round for every sender", () => {
  const run = (main: number | null) => ({
    gbps: 5,
    client: main === null ? undefined : { threadCpu: { mainSeconds: main } },
  });
  const rec = (runs: Record<string, ReturnType<typeof run>[]>) => ({
    options: { seconds: 5 },
    figures: Object.entries(runs).map(([sender, r]) => ({
      sender,
      lossPercent: 0,
      details: { runs: r },
    })),
  });
  // Set 0: BBR's thread got 1 s of 5 in round 1; the kernel sender has no thread figure.
  const a = ccPooledRuns(
    rec({
      "kernel-cubic": [run(null), run(null)],
      newreno: [run(2.5), run(2.4)],
      bbr: [run(2.2), run(1)],
    }),
    0,
    0,
  );
  const b = ccPooledRuns(rec({ newreno: [run(2.5), run(2.5)] }), 0, 1);
  assert.equal(a[2].stackShare, 0.5);
  assert.ok(Number.isNaN(a[0].stackShare));
  const kept = withoutStarvedRounds([...a, ...b], 0.35);
  // Set 0's round 1 goes for all three senders; set 1's round 1 stays.
  assert.deepEqual(kept.map((r) => `${r.set}/${r.round}/${r.sender}`), [
    "0/0/kernel-cubic",
    "0/0/newreno",
    "0/0/bbr",
    "1/0/newreno",
    "1/1/newreno",
  ]);
});

Deno.test("bench cc_pool: the targets pair each round's phases and read the ceiling", () => {
  const fig = (sender: string, loss: number, runs: Record<string, unknown>[]) => ({
    sender,
    lossPercent: loss,
    details: { runs },
  });
  const w = (gbps: number, cwndSegs: number, srttMs: number, rtUs: number) => ({
    gbps,
    window: { cwndSegs, srttMs, inflightSegs: cwndSegs },
    windowRoundTripUs: rtUs,
    machineCpu: { busyShare: 0.97 },
    machineCpuSecondsPerGB: 3.5,
  });
  const rec = {
    options: { lossPercent: 1 },
    figures: [
      fig("kernel-cubic", 0, [{ gbps: 7 }, { gbps: 6 }]),
      fig("newreno", 0, [{ gbps: 8 }, { gbps: 5 }]),
      fig("cubic", 0, [{ gbps: 8 }, { gbps: 6 }]),
      fig("bbr", 0, [{ gbps: 6 }, { gbps: 5.5 }]),
      fig("kernel-cubic", 1, [w(5, 20, 0.2, 30), w(4, 20, 0.2, 40)]),
      fig("kernel-bbr", 1, [{ gbps: 3 }, { gbps: 2 }]),
      // The stack's window sits in its client summary.
      fig("cubic", 1, [
        { gbps: 2.5, client: { window: { cwndSegs: 22, srttMs: 0.4 } }, windowRoundTripUs: 90 },
        { gbps: null },
      ]),
      fig("bbr", 1, [{ gbps: 4.5 }, { gbps: 4.4 }]),
    ],
  };
  const [a, b] = ccTargetRounds(rec, 3);
  assert.equal(a.set, 3);
  assert.equal(a.cubicOverKernel, 0.5);
  assert.equal(a.bbrOverKernel, 0.9);
  assert.equal(a.kernelBbrOverKernel, 0.6);
  assert.deepEqual(a.overNewReno, { cubic: 1, bbr: 0.75 });
  // BBR's target is twice kernel CUBIC under loss; the ceiling is the round's best no-loss run.
  assert.equal(a.bbrTargetGbps, 10);
  assert.equal(a.maxNoLossGbps, 8);
  assert.equal(a.ceilingOverTarget, 0.8);
  assert.equal(a.bbrLossOverNoLoss, 0.75);
  assert.equal(a.cubicCwndRatio, 1.1);
  assert.equal(a.windows["kernel-cubic"].machineBusyShare, 0.97);
  assert.equal(a.windows["kernel-cubic"].machineCpuSecondsPerGB, 3.5);
  assert.ok(Number.isNaN(a.windows.cubic.machineBusyShare));
  assert.ok(Math.abs(a.cubicCwndPerSrttRatio - 0.55) < 1e-12);
  // The round trip of one cwnd (cwnd × 1448 B ÷ goodput), not the records' flight figures.
  assert.ok(Math.abs(a.windows.cubic.cwndRoundTripUs - (22 * 1448 * 8) / 2.5e3) < 1e-9);
  assert.ok(Math.abs(a.cubicRoundTripRatio - (20 / 5) / (22 / 2.5)) < 1e-12);
  // Round 1 pairs with round 1 of both phases; its failed CUBIC run gives NaN, not round 0's.
  assert.ok(Number.isNaN(b.cubicOverKernel));
  assert.equal(b.bbrOverKernel, 1.1);
  assert.equal(b.maxNoLossGbps, 6);
  assert.equal(b.ceilingOverTarget, 0.75);
  assert.equal(b.bbrLossOverNoLoss, 0.8);
  assert.match(ccTargetLine(a), /CUBIC÷kCUBIC 0\.50 BBR÷kCUBIC 0\.90/);
});
