import assert from "node:assert/strict";
import { parseCcBenchArgs } from "../../bench/cc_bench.ts";
import { loopTimeDelta, type LoopTimeTotals } from "../../cli/meter.ts";

Deno.test("bench:cc: --variant adds named uperf configurations; --rps-cpus takes a hex mask", () => {
  const o = parseCcBenchArgs([
    "--cc",
    "cubic",
    "--variant",
    "cubic-nopace=--cc cubic --no-pacing",
    "--variant",
    "bbr-sync=--cc bbr --tx-kick sync",
    "--rps-cpus",
    "2",
  ])!;
  assert.deepEqual(o.algorithms, ["cubic"]);
  assert.deepEqual([...o.variants], [
    ["cubic-nopace", ["--cc", "cubic", "--no-pacing"]],
    ["bbr-sync", ["--cc", "bbr", "--tx-kick", "sync"]],
  ]);
  assert.equal(o.rpsCpus, "2");
  const plain = parseCcBenchArgs([])!;
  assert.equal(plain.variants.size, 0);
  assert.equal(plain.rpsCpus, undefined);
  assert.throws(() => parseCcBenchArgs(["--variant", "no-equals-sign"]));
});

Deno.test("uperf: loop time totals between snapshots; the rest of the wall time is the spin", () => {
  const zero: LoopTimeTotals = {
    ticks: 0,
    tickMs: 0,
    yields: 0,
    yieldMs: 0,
    blocks: 0,
    blockMs: 0,
    parks: 0,
    parkMs: 0,
  };
  const later: LoopTimeTotals = {
    ticks: 10,
    tickMs: 600.04,
    yields: 8,
    yieldMs: 100,
    blocks: 2,
    blockMs: 50,
    parks: 1,
    parkMs: 49.96,
  };
  assert.deepEqual(loopTimeDelta(zero, later, 1000), {
    ticks: 10,
    tickMs: 600,
    yields: 8,
    yieldMs: 100,
    blocks: 2,
    blockMs: 50,
    parks: 1,
    parkMs: 50,
    spinMs: 200,
  });
  // Never a negative spin when the clocks disagree by a little.
  assert.equal(loopTimeDelta(zero, later, 700).spinMs, 0);
});
