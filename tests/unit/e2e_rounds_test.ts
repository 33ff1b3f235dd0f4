// `bench:e2e`'s connection rows run kernel and stack pairs interleaved over rounds and report the
// median (bench/e2e_rounds.ts): before, each cell was one run of each pair, the kernel's first,
// so one slow slot (a fresh pair's crowd waiting for a CPU) decided a ratio.

import assert from "node:assert/strict";
import {
  median,
  medianRound,
  pairedRatios,
  RoundFigures,
  roundSchedule,
  spreadOf,
} from "../../bench/e2e_rounds.ts";
import {
  emptyValues,
  type MtuResult,
  parseE2eArgs,
  ROUND_ROWS,
  roundLines,
  RR_ROUNDS,
  RR_STEPS,
  toRecord,
} from "../../bench/e2e.ts";

Deno.test("e2e rounds: every step runs once per round, each in every slot over as many rounds", () => {
  const steps = ["kernel_kernel", "ustack_kernel", "ustack_ustack"];
  const plan = roundSchedule(steps, 3);
  assert.equal(plan.length, 9);
  for (let round = 0; round < 3; round++) {
    const inRound = plan.filter((s) => s.round === round);
    assert.deepEqual(inRound.map((s) => s.slot), [0, 1, 2]);
    assert.deepEqual(inRound.map((s) => s.step).sort(), [...steps].sort());
  }
  for (const step of steps) {
    const slots = plan.filter((s) => s.step === step).map((s) => s.slot).sort();
    assert.deepEqual(slots, [0, 1, 2], `${step} runs first, middle and last once each`);
  }
  // Rounds run in order: all of round 0's steps before round 1's.
  assert.deepEqual(plan.map((s) => s.round), [0, 0, 0, 1, 1, 1, 2, 2, 2]);
  assert.deepEqual(roundSchedule(["a", "b"], 3).map((s) => s.step), [
    "a",
    "b",
    "b",
    "a",
    "a",
    "b",
  ]);
});

Deno.test("e2e rounds: the median, its round and the spread skip failed rounds", () => {
  assert.equal(median([7000, 2100, 7300, null, 6900]), 6950);
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([null, Number.NaN]), null);
  assert.equal(medianRound([7000, 2100, 7300, null, 6900]), 4, "6,900 is the lower middle");
  assert.equal(medianRound([3, 1, 2]), 2);
  assert.equal(medianRound([null]), -1);
  const s = spreadOf([24_000, null, 9_000, 21_000]);
  assert.deepEqual(s, {
    perRound: [24_000, null, 9_000, 21_000],
    n: 3,
    median: 21_000,
    min: 9_000,
    max: 24_000,
  });
  assert.deepEqual(spreadOf([null, null]), {
    perRound: [null, null],
    n: 0,
    median: null,
    min: null,
    max: null,
  });
});

Deno.test("e2e rounds: one slow slot moves one round's ratio, not the cell's", () => {
  // The kernel pair at ~7k/s, the stacks' pair at ~24k/s; round 2's stack pair waited for a
  // CPU (8k/s), round 4's kernel pair did (3k/s).
  const figs = new RoundFigures<"kernel_kernel" | "ustack_ustack">(5);
  const kernel = [7_000, 7_200, 6_900, 3_000, 7_100];
  const stack = [24_000, 8_000, 23_000, 25_000, 22_000];
  for (let r = 0; r < 5; r++) {
    figs.set("connPerS", "kernel_kernel", r, kernel[r]);
    figs.set("connPerS", "ustack_ustack", r, stack[r]);
  }
  figs.set("connPerS", "ustack_ustack", 0, "not a number");
  assert.deepEqual(figs.perRound("connPerS", "ustack_ustack"), [
    null,
    8_000,
    23_000,
    25_000,
    22_000,
  ]);
  assert.equal(figs.spread("connPerS", "kernel_kernel").median, 7_000);
  assert.equal(figs.spread("connPerS", "ustack_ustack").median, 22_500);
  const q = figs.ratioSpread("connPerS", "ustack_ustack", "kernel_kernel");
  assert.equal(q.n, 4);
  assert.ok(q.median! > 3, `median of paired ratios ${q.median}`);
  assert.ok(q.min! < 1.2 && q.max! > 8, "the slow slots stay visible in the range");
  assert.deepEqual(pairedRatios([10, null, 6], [5, 2, 0]), [2, null, null]);
  assert.deepEqual(figs.keys(), ["connPerS"]);
  assert.deepEqual(figs.columns("connPerS"), ["kernel_kernel", "ustack_ustack"]);
  assert.deepEqual(figs.perRound("httpConnPerS", "kernel_kernel"), [null, null, null, null, null]);
});

Deno.test("e2e rounds: --rounds, the JSON keeps its fields and adds the rounds, lines under the table", () => {
  assert.equal(parseE2eArgs(["--quick"])!.rounds, 5);
  assert.equal(parseE2eArgs([])!.rounds, 3);
  assert.equal(parseE2eArgs(["--rounds", "7"])!.rounds, 7);
  assert.throws(() => parseE2eArgs(["--rounds", "0"]), /--rounds/);
  const o = parseE2eArgs(["--quick", "--mtu", "1500", "--only", "connect"])!;
  const values = emptyValues();
  const kernel = spreadOf([7_000, 6_000, 8_000]);
  const stack = spreadOf([21_000, 24_000, 18_000]);
  values.connPerS.kernel_kernel = kernel.median;
  values.connPerS.ustack_ustack = stack.median;
  const r: MtuResult = {
    mtu: 1500,
    values,
    details: { kernel_kernel: {}, ustack_kernel: {}, kernel_ustack: {}, ustack_ustack: {} },
    errors: [],
    rounds: { connPerS: { kernel_kernel: kernel, ustack_ustack: stack } },
    roundRatios: { connPerS: { ustack_ustack: spreadOf([3, 4, 2.25]) } },
  };
  const rec = toRecord(o, [r], new Date(0), {}) as any;
  const m = rec.mtus[0];
  assert.equal(m.results.ustack_ustack.connPerS, 21_000);
  assert.equal(m.ratioToKernel.ustack_ustack.connPerS, 3);
  assert.equal(m.rounds.connPerS.kernel_kernel.median, 7_000);
  assert.deepEqual(m.rounds.connPerS.ustack_ustack.perRound, [21_000, 24_000, 18_000]);
  assert.equal(m.roundRatioToKernel.ustack_ustack.connPerS.median, 3);
  assert.equal(rec.options.rounds, 5);
  const lines = roundLines(r);
  assert.equal(lines.length, 2);
  assert.match(lines[1], /kernel↔kernel 7000 \(6000–8000, 3\)/);
  assert.match(lines[1], /ustack↔ustack 21000 \(18000–24000, 3\), ×3\.00 \(2\.25–4\.00\)/);
  assert.deepEqual(roundLines({ ...r, rounds: {}, roundRatios: {} }), []);
});

Deno.test("e2e rounds: the request/response rows run in interleaved rounds too (--rr-rounds)", () => {
  // One 2-s run of each pair made a request/response cell before; the kernel pair's own p50
  // moved 33–57 µs between runs in one slot (bench/README.md, branch `rr13c`).
  assert.equal(RR_ROUNDS, 3);
  assert.equal(parseE2eArgs(["--quick"])!.rrRounds, 3);
  assert.equal(parseE2eArgs(["--rr-rounds", "5"])!.rrRounds, 5);
  assert.throws(() => parseE2eArgs(["--rr-rounds", "0"]), /--rr-rounds/);
  assert.deepEqual(RR_STEPS, ["kernel_kernel", "ustack_kernel", "ustack_ustack"]);
  for (const key of ["rrP50Us", "rrP99Us", "rrTps"]) {
    assert.ok((ROUND_ROWS as readonly string[]).includes(key), `${key} is a round row`);
  }
  const o = parseE2eArgs(["--quick", "--mtu", "9000", "--only", "rr"])!;
  const values = emptyValues();
  const kernel = spreadOf([40, 57, 33]);
  const stack = spreadOf([30, 34, 36]);
  values.rrP50Us.kernel_kernel = kernel.median;
  values.rrP50Us.ustack_kernel = stack.median;
  const r: MtuResult = {
    mtu: 9000,
    values,
    details: { kernel_kernel: {}, ustack_kernel: {}, kernel_ustack: {}, ustack_ustack: {} },
    errors: [],
    rounds: { rrP50Us: { kernel_kernel: kernel, ustack_kernel: stack } },
    roundRatios: { rrP50Us: { ustack_kernel: spreadOf([0.75, 34 / 57, 36 / 33]) } },
  };
  const rec = toRecord(o, [r], new Date(0), {}) as any;
  assert.equal(rec.options.rrRounds, 3);
  assert.deepEqual(rec.mtus[0].rounds.rrP50Us.ustack_kernel.perRound, [30, 34, 36]);
  const lines = roundLines(r);
  assert.match(lines[0], /^Request\/response and connection rows/);
  assert.match(lines[1], /req\/resp 64 B, p50: kernel↔kernel 40\.0 \(33\.0–57\.0, 3\); /);
  assert.match(lines[1], /ustack→kernel 34\.0 \(30\.0–36\.0, 3\), ×0\.75 \(0\.60–1\.09\)/);
});
