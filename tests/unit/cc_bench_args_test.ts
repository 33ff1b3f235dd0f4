import assert from "node:assert/strict";
import {
  backlogDrops,
  type CcFigure,
  machineCpuDelta,
  pairedRatios,
  parseCcBenchArgs,
  ratioSpread,
  rotated,
} from "../../bench/cc_bench.ts";
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

Deno.test("bench:cc: --rps-side picks the steered veth ends; --peer-gro turns the peer's GRO on", () => {
  const o = parseCcBenchArgs(["--rps-cpus", "1", "--rps-side", "stack", "--peer-gro"])!;
  assert.equal(o.rpsSide, "stack");
  assert.equal(o.peerGro, true);
  const plain = parseCcBenchArgs([])!;
  assert.equal(plain.rpsSide, "both");
  assert.equal(plain.peerGro, false);
  assert.throws(() => parseCcBenchArgs(["--rps-side", "sink"]), /--rps-side/);
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
    promiseYields: 0,
    inlineTurns: 0,
    writeFlushes: 0,
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
    promiseYields: 3,
    inlineTurns: 4,
    writeFlushes: 5,
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
    promiseYields: 3,
    inlineTurns: 4,
    writeFlushes: 5,
    spinMs: 200,
  });
  // Never a negative spin when the clocks disagree by a little.
  assert.equal(loopTimeDelta(zero, later, 700).spinMs, 0);
});

Deno.test("bench:cc: --pin SENDER:SINK CPU lists", () => {
  assert.deepEqual(parseCcBenchArgs(["--pin", "0:1"])!.pin, { sender: "0", sink: "1" });
  assert.deepEqual(parseCcBenchArgs(["--pin", "0-1:1"])!.pin, { sender: "0-1", sink: "1" });
  assert.equal(parseCcBenchArgs([])!.pin, undefined);
  assert.throws(() => parseCcBenchArgs(["--pin", "0"]), /SENDER_CPUS:SINK_CPUS/);
});

Deno.test("bench:cc: round-paired ratios, failed rounds left out; median [min–max]", () => {
  const fig = (gbps: (number | null)[]): CcFigure => ({
    sender: "x",
    lossPercent: 0,
    gbps: null,
    details: { runs: gbps.map((g) => ({ gbps: g })) },
  });
  const a = fig([2, 6, null, 3]);
  const b = fig([4, 3, 5, 3]);
  // Rounds: 0.5, 2, (failed), 1 — sorted.
  assert.deepEqual(pairedRatios(a, b), [0.5, 1, 2]);
  assert.equal(ratioSpread(pairedRatios(a, b)), "1.00× [0.50–2.00]");
  assert.equal(ratioSpread([0.5, 0.75, 1, 2]), "0.75× [0.50–2.00]");
  assert.equal(ratioSpread([1.5]), "1.50×");
  assert.equal(ratioSpread([]), "");
  // A single run (no `runs`): its figure.
  const one: CcFigure = { sender: "y", lossPercent: 0, gbps: 3, details: {} };
  assert.deepEqual(pairedRatios(one, { ...one, gbps: 6 }), [0.5]);
});

Deno.test("bench:cc: each round of the round robin starts one sender later", () => {
  assert.deepEqual(rotated(["k", "a", "b"], 0), ["k", "a", "b"]);
  assert.deepEqual(rotated(["k", "a", "b"], 1), ["a", "b", "k"]);
  assert.deepEqual(rotated(["k", "a", "b"], 4), ["a", "b", "k"]);
  assert.deepEqual(rotated([], 3), []);
});

Deno.test("cc bench: drops at the CPUs' input backlogs summed from softnet_stat's second column", () => {
  const text = "0181ae2c 00000000 00000000 00000000\n" +
    "04eb7dc5 000241d0 00000010 00000000\n" +
    "00000001 0000000a 00000000 00000000\n";
  assert.equal(backlogDrops(text), 0x241d0 + 10);
  assert.equal(backlogDrops(""), 0);
});

Deno.test("cc bench: the machine's busy CPU time is all but idle and iowait, over every CPU", () => {
  // user nice system idle iowait irq softirq steal guest guest_nice; per-CPU lines ignored.
  const a = "cpu  1000 10 500 8000 40 5 200 0 300 0\ncpu0 1 1 1 1 1 1 1 1 0 0\n";
  const b = "cpu  1600 10 800 8300 140 15 500 0 350 0\ncpu0 9 9 9 9 9 9 9 9 0 0\n";
  // 1,610 ticks in all, 400 idle or waiting: 1,210 busy (guest time is already in user).
  assert.deepEqual(machineCpuDelta(a, b), {
    busySeconds: 12.1,
    softirqSeconds: 3,
    busyShare: 0.75,
  });
  assert.equal(machineCpuDelta("", b), null);
  assert.equal(machineCpuDelta(b, a), null);
});

Deno.test("bench:cc: --peer-sysctl is repeatable and must say KEY=VALUE", () => {
  const o = parseCcBenchArgs([
    "--peer-sysctl",
    "net.ipv4.tcp_comp_sack_nr=0",
    "--peer-sysctl",
    "net.ipv4.tcp_sack=1",
  ])!;
  assert.deepEqual(o.peerSysctls, ["net.ipv4.tcp_comp_sack_nr=0", "net.ipv4.tcp_sack=1"]);
  assert.equal(parseCcBenchArgs([])!.peerSysctls, undefined);
  assert.throws(() => parseCcBenchArgs(["--peer-sysctl", "net.ipv4.tcp_sack"]), /KEY=VALUE/);
  assert.throws(() => parseCcBenchArgs(["--peer-sysctl", "a=b; reboot"]), /KEY=VALUE/);
});
